//! What `--filter` saves: a packet a filter rejects against a packet that is encoded, on
//! the same packet mix in the same run. Both pay the decode; the rejected one pays the
//! predicate instead of the JSON. `bench/report.py` prints each rejection's cost as a
//! fraction of the encoded packet's (target ≤ 0.20). Also a pcap filter expression
//! rejecting every packet in libpcap's BPF interpreter, as `netcore EXPRESSION` runs it
//! before decoding.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use netcore_core::filter::Filter;
use netcore_core::json::{Encoder, TRACEE_0_22};
use netcore_core::{Direction, EventContext, EventSet, LinkType, PacketEvents, decode};

fn benches(c: &mut Criterion) {
    let frames = netcore_bench::ethernet_mix();
    let ctx = EventContext {
        timestamp: 1_795_916_539_225_760_979,
        process_name: b"curl",
        host_process_id: 4242,
        host_name: "bench-host",
        ..Default::default()
    };
    // A scope filter (rejects on the task, before looking at the packet) and argument
    // filters (read addresses, ports and a TCP flag of every packet).
    let by_task = Filter::parse(&["comm=nginx"]).unwrap();
    let by_args = Filter::parse(&[
        "net_packet_ipv4.args.dst=192.0.2.0/24",
        "net_packet_ipv6.args.dst=2001:db8::/32",
        "net_packet_tcp.args.dst_port=8443",
        "net_packet_tcp.args.proto_tcp.SYN=1",
        "net_packet_udp.args.dst_port=4789",
        "net_packet_icmp.args.proto_icmp.typeCode=TimestampRequest",
        "net_packet_icmpv6.args.proto_icmpv6.typeCode=RouterAdvertisement",
    ])
    .unwrap();
    let mut out = Vec::with_capacity(1 << 20);
    let mut encoder = Encoder::new(&TRACEE_0_22);
    let mut group = c.benchmark_group("filter_cost");
    group.throughput(Throughput::Elements(frames.len() as u64));
    group.bench_function("encoded", |b| {
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
    for (name, filter) in [
        ("rejected_by_task", &by_task),
        ("rejected_by_args", &by_args),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                for f in black_box(&frames) {
                    let d = decode(LinkType::Ethernet, f);
                    let wanted = filter.packet_events(&ctx, &d, filter.events());
                    PacketEvents::decide(&ctx, &d, Direction::Egress, wanted, |events| {
                        encoder.encode(events, &mut out)
                    });
                }
                assert!(out.is_empty(), "{name} rejects every packet of the mix");
            })
        });
    }
    // libpcap compiles the expression for Ethernet frames, as netcore does, and runs it
    // before any decoding.
    let expression = pcap::Capture::dead(pcap::Linktype::ETHERNET)
        .unwrap()
        .compile("udp port 4789 or tcp port 8443", true)
        .unwrap();
    group.bench_function("rejected_by_pcap_expression", |b| {
        b.iter(|| {
            let kept = black_box(&frames)
                .iter()
                .filter(|f| expression.filter(f))
                .count();
            assert_eq!(kept, 0, "the expression rejects every packet of the mix");
        })
    });
    group.finish();
}

criterion_group!(filter_benches, benches);
criterion_main!(filter_benches);
