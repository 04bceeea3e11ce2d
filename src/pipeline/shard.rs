//! Sharding by flow (`--threads`): every pipeline of a run sees every frame and handles
//! those of its share of the flows, so a flow's events stay in order and its state (DNS
//! over TCP reassembly) lives in one place.

use netcore_core::packet::{Decoded, Network, Transport};

/// One pipeline's share of the flows: those whose hash is `index` modulo `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This pipeline's share, below `count`.
    pub index: usize,
    /// How many pipelines share the frames.
    pub count: usize,
}

impl Shard {
    /// Whether the frame decoded as `decoded` is this shard's: both directions of a
    /// connection (and the addresses alone for ICMP) hash alike; frames without IP are
    /// the first shard's.
    pub fn owns(&self, decoded: &Decoded<'_>) -> bool {
        flow_hash(decoded) % self.count as u64 == self.index as u64
    }
}

/// A cheap hash of a frame's flow that does not depend on its direction (a multiply per
/// eight address bytes, where the partition key's FNV-1a costs one per byte).
fn flow_hash(decoded: &Decoded<'_>) -> u64 {
    let Some(network) = &decoded.network else {
        return 0;
    };
    let (src_port, dst_port) = decoded
        .transport
        .as_ref()
        .and_then(Transport::ports)
        .unwrap_or((0, 0));
    let sum = match network {
        Network::Ipv4(v4) => {
            endpoint(&v4.src(), src_port).wrapping_add(endpoint(&v4.dst(), dst_port))
        }
        Network::Ipv6(v6) => {
            endpoint(&v6.src(), src_port).wrapping_add(endpoint(&v6.dst(), dst_port))
        }
    };
    // The high bits are the well-mixed ones.
    (sum ^ (sum >> 31)).wrapping_mul(MIX) >> 32
}

/// An odd constant with well-spread bits (from the golden ratio).
const MIX: u64 = 0x9e37_79b9_7f4a_7c15;

fn endpoint(address: &[u8], port: u16) -> u64 {
    address.chunks(8).fold(u64::from(port), |hash, chunk| {
        let mut word = [0; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        (hash ^ u64::from_le_bytes(word)).wrapping_mul(MIX)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use netcore_core::{LinkType, decode};

    /// An IPv4 UDP packet from `src:sport` to `dst:dport`.
    fn udp(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16) -> Vec<u8> {
        let mut packet = vec![0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, 17, 0, 0];
        packet.extend_from_slice(&src);
        packet.extend_from_slice(&dst);
        packet.extend_from_slice(&sport.to_be_bytes());
        packet.extend_from_slice(&dport.to_be_bytes());
        packet.extend_from_slice(&[0, 8, 0, 0]);
        packet
    }

    #[test]
    fn both_directions_of_a_flow_are_one_shards_and_flows_spread() {
        let shards = 2;
        let owner = |packet: &[u8]| {
            let decoded = decode(LinkType::Raw, packet);
            (0..shards)
                .filter(|&index| {
                    Shard {
                        index,
                        count: shards,
                    }
                    .owns(&decoded)
                })
                .collect::<Vec<_>>()
        };
        let mut per_shard = [0; 2];
        for port in 40_000..41_000 {
            let out = owner(&udp([10, 0, 0, 1], port, [10, 0, 0, 2], 53));
            let back = owner(&udp([10, 0, 0, 2], 53, [10, 0, 0, 1], port));
            assert_eq!(out.len(), 1, "exactly one shard owns a frame");
            assert_eq!(out, back, "both directions of port {port} in one shard");
            per_shard[out[0]] += 1;
        }
        // 1,000 flows: each shard gets close to half.
        assert!(
            per_shard.iter().all(|&n| (400..=600).contains(&n)),
            "{per_shard:?}"
        );
        assert_eq!(
            owner(b"not an IP packet"),
            [0],
            "frames without IP are shard 0's"
        );
    }
}
