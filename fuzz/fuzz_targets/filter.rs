//! Any text as `--filter` expressions (one per line, up to eight): compiling never panics
//! and refuses with a message; a filter that compiles decides on packets of the golden
//! kinds (TCP, UDP with DNS, ICMP) and pushes its kernel part down without panicking, and
//! the kernel part never drops a packet the filter keeps (checked on the packet's
//! protocol and ports, what the kernel filter reads).
#![no_main]

use libfuzzer_sys::fuzz_target;
use netcore_core::abi::{KernelFilter, l4};
use netcore_core::filter::Filter;
use netcore_core::{EventContext, EventSet, LinkType, decode};

/// An IPv4 packet of `protocol` with `l4` after the header.
fn ipv4(protocol: u8, l4: &[u8]) -> Vec<u8> {
    let total = (20 + l4.len()) as u16;
    let mut p = vec![0x45, 0];
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&[0, 1, 0x40, 0, 64, protocol, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
    p.extend_from_slice(l4);
    p
}

fuzz_target!(|input: &[u8]| {
    let text = String::from_utf8_lossy(input);
    let lines: Vec<&str> = text.lines().take(8).collect();
    let filter = match Filter::parse(&lines) {
        Ok(filter) => filter,
        Err(e) => {
            assert!(!e.to_string().is_empty(), "a refusal says why");
            return;
        }
    };
    let dns_query = [0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, b'a', 0, 0, 1, 0, 1];
    let mut udp = vec![0x9c, 0x40, 0, 53, 0, 27, 0, 0];
    udp.extend_from_slice(&dns_query);
    let tcp = [
        0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0,
    ];
    let icmp = [8, 0, 0, 0, 0, 1, 0, 1];
    let ctx = EventContext { process_name: b"curl", host_process_id: 42, ..Default::default() };
    let kernel = filter.kernel_filter(EventSet::ALL);
    for (protocol, packet) in [(17, ipv4(17, &udp)), (6, ipv4(6, &tcp)), (1, ipv4(1, &icmp))] {
        let decoded = decode(LinkType::Ipv4, &packet);
        let kept = filter.packet_events(&ctx, &decoded, EventSet::ALL);
        if let Some(Ok(message)) = decoded.dns_over_udp() {
            let _ = filter.dns_events(&message, EventSet::ALL);
        }
        let ports = decoded.transport.and_then(|t| t.ports());
        if kept != EventSet::NONE {
            assert!(
                kernel_keeps(&kernel, protocol, ports, &ctx),
                "{lines:?} keep the {protocol} packet, the kernel part drops it: {kernel:?}"
            );
        }
    }
    let _ = (filter.named_events(), filter.events(), filter.inspects_dns());
});

/// Whether the capture programs keep a packet of IPv4 `protocol` with `ports`, owned by
/// `ctx`'s task, under `kernel` (what `ebpf/src/capture.rs` tests, in the same order).
fn kernel_keeps(kernel: &KernelFilter, protocol: u8, ports: Option<(u16, u16)>, ctx: &EventContext<'_>) -> bool {
    let listed = |count: u32| usize::try_from(count).unwrap_or(usize::MAX);
    let listed_ports = &kernel.ports[..listed(kernel.port_count).min(kernel.ports.len())];
    // With ports listed, a packet without ports (ICMP) is dropped.
    let ports_kept = listed_ports.is_empty()
        || ports.is_some_and(|(src, dst)| listed_ports.contains(&src) || listed_ports.contains(&dst));
    let pids = &kernel.pids[..listed(kernel.pid_count).min(kernel.pids.len())];
    let cgroups = &kernel.cgroups[..listed(kernel.cgroup_count).min(kernel.cgroups.len())];
    let comms = &kernel.comms[..listed(kernel.comm_count).min(kernel.comms.len())];
    let comm_kept = comms.is_empty()
        || comms.iter().any(|c| c.split(|&b| b == 0).next() == Some(ctx.process_name));
    kernel.protocols & l4::ipv4(protocol, false) != 0
        && ports_kept
        && (pids.is_empty() || pids.contains(&ctx.host_process_id))
        && (cgroups.is_empty() || cgroups.contains(&ctx.cgroup_id))
        && comm_kept
}
