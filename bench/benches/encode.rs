//! One Tracee `net_packet_tcp` event with a full envelope (a containerised process in a
//! pod), written by netcore's encoder — with the owner's fields rendered once and copied
//! (as on live traffic, where the pipeline gives each owner a key), and rendered every
//! time — against serde_json writing an equivalent derived struct into a reused buffer, in
//! the same run. `bench/report.py` prints ns/event and the ratios.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use netcore_core::json::{Encoder, Schema, TRACEE_0_22, TRACEE_0_24};
use netcore_core::packet::{Network, Transport};
use netcore_core::tcp::flag;
use netcore_core::{Direction, EventContext, EventSet, LinkType, PacketEvents, decode};
use serde::Serialize;

const CONTAINER_ID: &str = "3f4c2a9e8b7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a3928170615243";

fn context() -> EventContext<'static> {
    EventContext {
        timestamp: 1_795_916_539_225_760_979,
        thread_start_time: 1_795_916_000_000_000_000,
        processor_id: 1,
        process_id: 7,
        cgroup_id: 10_542,
        thread_id: 7,
        parent_process_id: 1,
        host_process_id: 981_233,
        host_thread_id: 981_233,
        host_parent_process_id: 981_200,
        user_id: 1000,
        mount_namespace: 4_026_532_880,
        pid_namespace: 4_026_532_883,
        process_name: b"curl",
        host_name: "worker-7.prod.example",
        container_id: CONTAINER_ID,
        container_image: "registry.example/team/web:1.24.3",
        container_image_digest: "sha256:9b2a6c1e0f3d4b5a6c7d8e9f0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3",
        container_name: "web",
        pod_name: "web-6c9f7d5b8-x2k4q",
        pod_namespace: "shop",
        pod_uid: "2a0e5a4b-8d7c-4e1f-9b3a-6c5d4e3f2a1b",
        container_started: true,
        container_new: false,
        executable: b"/usr/bin/curl",
        arguments: b"-s https://shop.example/",
        owner_key: 0,
    }
}

/// A TCP segment: 10.42.0.17:41234 → 10.43.12.5:443, ACK|PSH, 517 bytes of payload.
fn tcp_packet() -> Vec<u8> {
    let mut p = vec![
        0x45, 0, 0x02, 0x39, 0x1c, 0x46, 0x40, 0, 64, 6, 0x7d, 0x2e, 10, 42, 0, 17, 10, 43, 12, 5,
    ];
    p.extend_from_slice(&[
        0xa1, 0x12, 0x01, 0xbb, 0x8e, 0x4f, 0x11, 0x03, 0x2c, 0x1a, 0x9e, 0x77, 0x50, 0x18, 0x01,
        0xf6, 0x5a, 0x3c, 0, 0,
    ]);
    p.resize(0x239, 0x17);
    p
}

#[derive(Serialize)]
struct Arg<V: Serialize> {
    name: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    value: V,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ContextFlags {
    container_started: bool,
    is_compat: bool,
}

#[derive(Serialize)]
#[allow(non_snake_case)]
struct ProtoTcp {
    srcPort: u16,
    dstPort: u16,
    seq: u32,
    ack: u32,
    dataOffset: u8,
    FIN: u8,
    SYN: u8,
    RST: u8,
    PSH: u8,
    ACK: u8,
    URG: u8,
    ECE: u8,
    CWR: u8,
    NS: u8,
    window: u16,
    checksum: u16,
    urgent: u16,
}

/// `src`, `dst`, `src_port`, `dst_port`, `proto_tcp`.
type TcpArgs = (
    Arg<std::net::IpAddr>,
    Arg<std::net::IpAddr>,
    Arg<u16>,
    Arg<u16>,
    Arg<ProtoTcp>,
);

/// The seed's event, as a serde_json user would declare it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TcpEvent<'a> {
    timestamp: u64,
    thread_start_time: u64,
    processor_id: u32,
    process_id: u32,
    cgroup_id: u64,
    thread_id: u32,
    parent_process_id: u32,
    host_process_id: u32,
    host_thread_id: u32,
    host_parent_process_id: u32,
    user_id: u32,
    mount_namespace: u32,
    pid_namespace: u32,
    process_name: &'a str,
    host_name: &'a str,
    container_id: &'a str,
    container_image: &'a str,
    container_name: &'a str,
    pod_name: &'a str,
    pod_namespace: &'a str,
    #[serde(rename = "podUID")]
    pod_uid: &'a str,
    event_id: &'static str,
    event_name: &'static str,
    args_num: u8,
    return_value: i32,
    stack_addresses: [u64; 1],
    context_flags: ContextFlags,
    args: TcpArgs,
}

/// What a serde_json user does per packet: fill the struct from the decoded packet, then
/// serialise it (addresses through serde's own `IpAddr` support: no allocation).
fn serde_event(ctx: &EventContext<'_>, packet: &[u8], out: &mut Vec<u8>) {
    let decoded = decode(LinkType::Ipv4, packet);
    let (Some(network @ Network::Ipv4(_)), Some(Transport::Tcp(t))) =
        (decoded.network, decoded.transport)
    else {
        unreachable!("the bench packet is IPv4 TCP")
    };
    let bit = |b| u8::from(t.has(b));
    let event = TcpEvent {
        timestamp: ctx.timestamp,
        thread_start_time: ctx.thread_start_time,
        processor_id: ctx.processor_id,
        process_id: ctx.process_id,
        cgroup_id: ctx.cgroup_id,
        thread_id: ctx.thread_id,
        parent_process_id: ctx.parent_process_id,
        host_process_id: ctx.host_process_id,
        host_thread_id: ctx.host_thread_id,
        host_parent_process_id: ctx.host_parent_process_id,
        user_id: ctx.user_id,
        mount_namespace: ctx.mount_namespace,
        pid_namespace: ctx.pid_namespace,
        process_name: std::str::from_utf8(ctx.process_name).unwrap_or_default(),
        host_name: ctx.host_name,
        container_id: ctx.container_id,
        container_image: ctx.container_image,
        container_name: ctx.container_name,
        pod_name: ctx.pod_name,
        pod_namespace: ctx.pod_namespace,
        pod_uid: ctx.pod_uid,
        event_id: "2009",
        event_name: "net_packet_tcp",
        args_num: 5,
        return_value: 0,
        stack_addresses: [0],
        context_flags: ContextFlags {
            container_started: ctx.container_started,
            is_compat: false,
        },
        args: (
            Arg {
                name: "src",
                kind: "const char*",
                value: network.src(),
            },
            Arg {
                name: "dst",
                kind: "const char*",
                value: network.dst(),
            },
            Arg {
                name: "src_port",
                kind: "u16",
                value: t.src_port(),
            },
            Arg {
                name: "dst_port",
                kind: "u16",
                value: t.dst_port(),
            },
            Arg {
                name: "proto_tcp",
                kind: "trace.ProtoTCP",
                value: ProtoTcp {
                    srcPort: t.src_port(),
                    dstPort: t.dst_port(),
                    seq: t.seq(),
                    ack: t.ack(),
                    dataOffset: t.data_offset(),
                    FIN: bit(flag::FIN),
                    SYN: bit(flag::SYN),
                    RST: bit(flag::RST),
                    PSH: bit(flag::PSH),
                    ACK: bit(flag::ACK),
                    URG: bit(flag::URG),
                    ECE: bit(flag::ECE),
                    CWR: bit(flag::CWR),
                    NS: u8::from(t.ns()),
                    window: t.window(),
                    checksum: t.checksum(),
                    urgent: t.urgent(),
                },
            },
        ),
    };
    serde_json::to_writer(&mut *out, &event).expect("writing to a Vec");
    out.push(b'\n');
}

fn netcore_event(encoder: &mut Encoder, ctx: &EventContext<'_>, packet: &[u8], out: &mut Vec<u8>) {
    let decoded = decode(LinkType::Ipv4, packet);
    let tcp = EventSet::NONE.with(netcore_core::EventKind::Tcp);
    PacketEvents::decide(ctx, &decoded, Direction::Egress, tcp, |events| {
        encoder.encode(events, out)
    });
}

fn benches(c: &mut Criterion) {
    let packet = tcp_packet();
    let uncached = context();
    let cached = EventContext {
        owner_key: 2,
        ..context()
    };
    // Both write the same event: the seed schema, byte for byte.
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    netcore_event(
        &mut Encoder::new(&TRACEE_0_22),
        &uncached,
        &packet,
        &mut ours,
    );
    serde_event(&uncached, &packet, &mut theirs);
    assert_eq!(
        String::from_utf8(ours).unwrap(),
        String::from_utf8(theirs).unwrap()
    );

    let mut out = Vec::with_capacity(1 << 16);
    let mut group = c.benchmark_group("encode_tcp_event");
    group.throughput(Throughput::Elements(1));
    let runs: [(&str, &Schema, &EventContext<'_>); 3] = [
        ("netcore", &TRACEE_0_22, &cached),
        ("netcore_uncached", &TRACEE_0_22, &uncached),
        ("netcore_v024", &TRACEE_0_24, &cached),
    ];
    for (name, schema, ctx) in runs {
        let mut encoder = Encoder::new(schema);
        group.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                netcore_event(&mut encoder, black_box(ctx), black_box(&packet), &mut out);
                out.len()
            })
        });
    }
    group.bench_function("serde_json", |b| {
        b.iter(|| {
            out.clear();
            serde_event(black_box(&uncached), black_box(&packet), &mut out);
            out.len()
        })
    });
    group.finish();
}

criterion_group!(encode_benches, benches);
criterion_main!(encode_benches);
