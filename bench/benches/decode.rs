//! L2–L4 decoding and Tracee JSON encoding of a realistic packet mix, with etherparse's
//! `SlicedPacket` on the same packets in the same run. `bench/report.py` turns the
//! medians into ns/packet and ratios.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use netcore_core::json::{Encoder, TRACEE_0_22};
use netcore_core::packet::Transport;
use netcore_core::{Direction, EventContext, EventSet, LinkType, PacketEvents, decode};

/// Sums what a consumer of each parse would read (ports, or the IP payload length), so
/// that neither parser can skip work.
fn netcore_decode(frames: &[Vec<u8>]) -> u64 {
    frames.iter().fold(0, |acc, f| {
        let d = decode(LinkType::Ethernet, f);
        acc + match d.transport {
            Some(Transport::Tcp(t)) => u64::from(t.src_port() ^ t.dst_port()),
            Some(Transport::Udp(u)) => u64::from(u.src_port() ^ u.dst_port()),
            Some(Transport::Icmp(i)) => u64::from(i.icmp_type()),
            Some(Transport::Icmpv6(i)) => u64::from(i.icmp_type()),
            None => u64::from(d.network.is_some()),
        }
    })
}

fn etherparse_decode(frames: &[Vec<u8>]) -> u64 {
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};
    frames.iter().fold(0, |acc, f| {
        let Ok(p) = SlicedPacket::from_ethernet(f) else {
            return acc;
        };
        acc + match p.transport {
            Some(TransportSlice::Tcp(t)) => u64::from(t.source_port() ^ t.destination_port()),
            Some(TransportSlice::Udp(u)) => u64::from(u.source_port() ^ u.destination_port()),
            Some(TransportSlice::Icmpv4(i)) => u64::from(i.type_u8()),
            Some(TransportSlice::Icmpv6(i)) => u64::from(i.type_u8()),
            _ => u64::from(matches!(p.net, Some(NetSlice::Ipv4(_) | NetSlice::Ipv6(_)))),
        }
    })
}

fn benches(c: &mut Criterion) {
    let frames = netcore_bench::ethernet_mix();
    assert_eq!(
        netcore_decode(&frames),
        etherparse_decode(&frames),
        "both parsers read the same values"
    );

    let mut group = c.benchmark_group("l2_l4_decode");
    group.throughput(Throughput::Elements(frames.len() as u64));
    group.bench_function("netcore", |b| b.iter(|| netcore_decode(black_box(&frames))));
    group.bench_function("etherparse", |b| {
        b.iter(|| etherparse_decode(black_box(&frames)))
    });
    group.finish();

    let ctx = EventContext {
        timestamp: 1_795_916_539_225_760_979,
        host_name: "bench-host",
        ..Default::default()
    };
    let mut out = Vec::with_capacity(1 << 20);
    let mut encoder = Encoder::new(&TRACEE_0_22);
    let mut group = c.benchmark_group("decode_encode");
    group.throughput(Throughput::Elements(frames.len() as u64));
    group.bench_function("netcore", |b| {
        b.iter(|| {
            out.clear();
            for f in black_box(&frames) {
                let d = decode(LinkType::Ethernet, f);
                PacketEvents::decide(&ctx, &d, Direction::Egress, EventSet::ALL, |events| {
                    encoder.encode(events, &mut out)
                });
            }
            out.len()
        })
    });
    group.finish();
}

criterion_group!(decode_benches, benches);
criterion_main!(decode_benches);
