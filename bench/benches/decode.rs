//! L2–L4 decoding and Tracee JSON encoding of a realistic packet mix, with etherparse's
//! `SlicedPacket` on the same packets in the same run, and pnet_packet and smoltcp's
//! `wire` (the fastest Rust parsers; neither walks IPv6 extension headers) on the frames
//! of the mix without extension headers. `bench/report.py` turns the
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

/// pnet_packet: Ethernet → IPv4/IPv6 (fixed header) → TCP/UDP/ICMP/ICMPv6.
fn pnet_decode(frames: &[Vec<u8>]) -> u64 {
    use pnet_packet::Packet;
    use pnet_packet::ethernet::{EtherTypes, EthernetPacket};
    use pnet_packet::icmp::IcmpPacket;
    use pnet_packet::icmpv6::Icmpv6Packet;
    use pnet_packet::ip::{IpNextHeaderProtocol, IpNextHeaderProtocols as P};
    use pnet_packet::ipv4::Ipv4Packet;
    use pnet_packet::ipv6::Ipv6Packet;
    use pnet_packet::tcp::TcpPacket;
    use pnet_packet::udp::UdpPacket;
    fn l4(protocol: IpNextHeaderProtocol, payload: &[u8]) -> u64 {
        match protocol {
            P::Tcp => TcpPacket::new(payload)
                .map_or(1, |t| u64::from(t.get_source() ^ t.get_destination())),
            P::Udp => UdpPacket::new(payload)
                .map_or(1, |u| u64::from(u.get_source() ^ u.get_destination())),
            P::Icmp => IcmpPacket::new(payload).map_or(1, |i| u64::from(i.get_icmp_type().0)),
            P::Icmpv6 => Icmpv6Packet::new(payload).map_or(1, |i| u64::from(i.get_icmpv6_type().0)),
            _ => 1,
        }
    }
    frames.iter().fold(0, |acc, f| {
        let Some(eth) = EthernetPacket::new(f) else {
            return acc;
        };
        acc + match eth.get_ethertype() {
            EtherTypes::Ipv4 => Ipv4Packet::new(eth.payload()).map_or(0, |ip| {
                let end = usize::from(ip.get_total_length()).min(ip.packet().len());
                let start = usize::from(ip.get_header_length()) * 4;
                l4(
                    ip.get_next_level_protocol(),
                    ip.packet().get(start..end).unwrap_or_default(),
                )
            }),
            EtherTypes::Ipv6 => Ipv6Packet::new(eth.payload())
                .map_or(0, |ip| l4(ip.get_next_header(), ip.payload())),
            _ => 0,
        }
    })
}

/// smoltcp's `wire`: the same walk over its checked views.
fn smoltcp_decode(frames: &[Vec<u8>]) -> u64 {
    use smoltcp::wire::{
        EthernetFrame, EthernetProtocol, Icmpv4Packet, Icmpv6Packet, IpProtocol, Ipv4Packet,
        Ipv6Packet, TcpPacket, UdpPacket,
    };
    fn l4(protocol: IpProtocol, payload: &[u8]) -> u64 {
        match protocol {
            IpProtocol::Tcp => TcpPacket::new_checked(payload)
                .map_or(1, |t| u64::from(t.src_port() ^ t.dst_port())),
            IpProtocol::Udp => UdpPacket::new_checked(payload)
                .map_or(1, |u| u64::from(u.src_port() ^ u.dst_port())),
            IpProtocol::Icmp => {
                Icmpv4Packet::new_checked(payload).map_or(1, |i| u64::from(u8::from(i.msg_type())))
            }
            IpProtocol::Icmpv6 => {
                Icmpv6Packet::new_checked(payload).map_or(1, |i| u64::from(u8::from(i.msg_type())))
            }
            _ => 1,
        }
    }
    frames.iter().fold(0, |acc, f| {
        let Ok(eth) = EthernetFrame::new_checked(f.as_slice()) else {
            return acc;
        };
        acc + match eth.ethertype() {
            EthernetProtocol::Ipv4 => Ipv4Packet::new_checked(eth.payload())
                .map_or(0, |ip| l4(ip.next_header(), ip.payload())),
            EthernetProtocol::Ipv6 => Ipv6Packet::new_checked(eth.payload())
                .map_or(0, |ip| l4(ip.next_header(), ip.payload())),
            _ => 0,
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

    // The frames every parser walks the same way: no IPv6 extension headers.
    let simple: Vec<Vec<u8>> = frames
        .iter()
        .filter(|f| !netcore_bench::has_ipv6_extension_headers(f))
        .cloned()
        .collect();
    let expected = netcore_decode(&simple);
    assert_eq!(pnet_decode(&simple), expected, "pnet reads the same values");
    assert_eq!(
        smoltcp_decode(&simple),
        expected,
        "smoltcp reads the same values"
    );
    let mut group = c.benchmark_group("l2_l4_decode_no_extension_headers");
    group.throughput(Throughput::Elements(simple.len() as u64));
    group.bench_function("netcore", |b| b.iter(|| netcore_decode(black_box(&simple))));
    group.bench_function("pnet", |b| b.iter(|| pnet_decode(black_box(&simple))));
    group.bench_function("smoltcp", |b| b.iter(|| smoltcp_decode(black_box(&simple))));
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
