//! Any bytes as a DNS message over UDP: decoding never panics; a message that parses walks
//! to its last announced entry, every name presents, and every event written is valid JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netcore_core::dns::name::MAX_PRESENTATION_LEN;
use netcore_core::dns::{DnsMessage, Entry, RData};
use netcore_core::json::{Encoder, SCHEMAS};
use netcore_core::{Direction, EventContext, EventSet, LinkType, PacketEvents, decode};

/// The message in an IPv4/UDP packet from port 53.
fn packet(message: &[u8]) -> Vec<u8> {
    let udp_len = (8 + message.len()) as u16;
    let mut p = vec![0x45, 0];
    p.extend_from_slice(&(20u16.wrapping_add(udp_len)).to_be_bytes());
    p.extend_from_slice(&[0, 1, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 0, 53, 0x9c, 0x40]);
    p.extend_from_slice(&udp_len.to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(message);
    p
}

fuzz_target!(|message: &[u8]| {
    if message.len() > 65_000 {
        return;
    }
    let Ok(parsed) = DnsMessage::parse(message) else { return };
    let mut buf = [0; MAX_PRESENTATION_LEN];
    let announced = [parsed.qd_count(), parsed.an_count(), parsed.ns_count(), parsed.ar_count()];
    assert_eq!(parsed.entries().count(), announced.iter().map(|&n| usize::from(n)).sum::<usize>());
    for entry in parsed.entries() {
        let names = match entry {
            Entry::Question(q) => [Some(q.name), None],
            Entry::Record(_, r) => match r.data() {
                RData::Cname(n) | RData::Ns(n) | RData::Ptr(n) => [Some(r.name), Some(n)],
                RData::Mx { exchange, .. } => [Some(r.name), Some(exchange)],
                RData::Srv { target, .. } => [Some(r.name), Some(target)],
                RData::Soa { mname, .. } => [Some(r.name), Some(mname)],
                _ => [Some(r.name), None],
            },
        };
        for name in names.into_iter().flatten() {
            let text = name.presentation(&mut buf).expect("a parsed name presents");
            assert!(text.bytes().all(|b| (0x21..0x7f).contains(&b)), "{text:?}");
        }
    }
    let bytes = packet(message);
    let decoded = decode(LinkType::Ipv4, &bytes);
    let mut out = Vec::new();
    let ctx = EventContext { host_name: "fuzz", ..Default::default() };
    assert!(matches!(decoded.dns_over_udp(), Some(Ok(_))));
    let mut events = 0;
    for schema in SCHEMAS {
        events += PacketEvents::decide(&ctx, &decoded, Direction::Ingress, EventSet::ALL, |e| {
            Encoder::new(schema).encode(e, &mut out)
        });
    }
    let lines: Vec<&[u8]> = out.split_inclusive(|&b| b == b'\n').collect();
    assert_eq!(lines.len(), events);
    for line in lines {
        if let Err(e) = serde_json::from_slice::<serde_json::Value>(line) {
            panic!("invalid JSON ({e}): {}", String::from_utf8_lossy(line));
        }
    }
});
