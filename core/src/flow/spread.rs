//! Spreading flows over decoding threads from a frame's raw headers, with the hash the
//! capture programs spread host mode's packets over ring buffers by
//! ([`crate::abi::rings::ring_of`]): the thread that reads a source (a file, an AF_XDP
//! queue) hands each frame to the thread of its flow without decoding it.

use crate::abi::HEADERS_LEN;
use crate::abi::rings::ring_of;
use crate::link::{self, LinkType};

/// Which of `threads` decoding threads handles `frame`'s flow: both directions of a
/// connection (and every fragment of a datagram) go to one thread, as
/// [`ring_of`] spreads them. Frames without IP go to thread 0. Reads the link header and
/// the first [`HEADERS_LEN`] bytes after it; nothing else.
pub fn thread_of(link_type: LinkType, frame: &[u8], threads: u32) -> u32 {
    let Ok(link) = link::decode_link(link_type, frame) else {
        return 0;
    };
    if link.ethertype != link::ETHERTYPE_IPV4 && link.ethertype != link::ETHERTYPE_IPV6 {
        return 0;
    }
    let n = link.payload.len().min(HEADERS_LEN);
    let mut head = [0; HEADERS_LEN];
    head[..n].copy_from_slice(&link.payload[..n]);
    ring_of(&head, n, threads)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ip;
    use alloc::vec::Vec;

    /// An IPv4 packet of `protocol` from `src:sport` to `dst:dport` (the ports as a UDP
    /// or TCP segment's first four bytes).
    fn ipv4(protocol: u8, src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16) -> Vec<u8> {
        let mut packet = alloc::vec![0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, protocol, 0, 0];
        packet.extend_from_slice(&src);
        packet.extend_from_slice(&dst);
        packet.extend_from_slice(&sport.to_be_bytes());
        packet.extend_from_slice(&dport.to_be_bytes());
        packet.extend_from_slice(&[0, 8, 0, 0]);
        packet
    }

    /// `packet` behind an Ethernet header of EtherType `ethertype`.
    fn ethernet(ethertype: u16, packet: &[u8]) -> Vec<u8> {
        let mut frame = alloc::vec![0; 12];
        frame.extend_from_slice(&ethertype.to_be_bytes());
        frame.extend_from_slice(packet);
        frame
    }

    #[test]
    fn both_directions_go_to_one_thread_and_flows_spread() {
        let mut per_thread = [0; 2];
        for port in 40_000..41_000 {
            let out = ipv4(ip::UDP, [10, 0, 0, 1], port, [10, 0, 0, 2], 53);
            let back = ipv4(ip::UDP, [10, 0, 0, 2], 53, [10, 0, 0, 1], port);
            let thread = thread_of(LinkType::Raw, &out, 2);
            assert_eq!(thread, thread_of(LinkType::Raw, &back, 2), "port {port}");
            // Behind a link header, as in the capture programs: the same thread.
            assert_eq!(
                thread,
                thread_of(LinkType::Ethernet, &ethernet(0x0800, &out), 2)
            );
            per_thread[thread as usize] += 1;
        }
        // 1,000 flows over two threads: each gets close to half.
        assert!(
            per_thread.iter().all(|&n| (400..=600).contains(&n)),
            "{per_thread:?}"
        );
    }

    #[test]
    fn frames_without_ip_and_one_thread_go_to_thread_0() {
        let udp = ipv4(ip::UDP, [10, 0, 0, 1], 1000, [10, 0, 0, 2], 53);
        let spread: Vec<u32> = (0..64)
            .map(|i| {
                thread_of(
                    LinkType::Raw,
                    &ipv4(ip::UDP, [10, 0, 0, i], 1, [10, 0, 0, 2], 2),
                    4,
                )
            })
            .collect();
        assert!(spread.iter().any(|&t| t != 0), "{spread:?}");
        assert_eq!(thread_of(LinkType::Raw, &udp, 1), 0);
        assert_eq!(
            thread_of(LinkType::Ethernet, &ethernet(0x0806, &[0; 28]), 4),
            0
        );
        assert_eq!(thread_of(LinkType::Ethernet, &[0; 5], 4), 0);
        assert_eq!(thread_of(LinkType::Raw, &[0x45, 0, 0], 4), 0);
    }
}
