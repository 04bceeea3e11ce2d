//! Whole-frame decode and JSON encode (both schemas, DNS over UDP included) of arbitrary
//! bytes, and of the packets tunnels carry inside them (as deep as the pipeline goes):
//! never panics, and every line written is valid JSON; one line per reported event.
//!
//! Input layout: byte 0 picks the link type, byte 1 the length (mod 16) of a hostile
//! process name that follows, the rest is the frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netcore_core::json::{Encoder, SCHEMAS};
use netcore_core::{Direction, EventContext, EventSet, LinkType, PacketEvents, decode, tunnel};

fuzz_target!(|input: &[u8]| {
    let [selector, name_len, rest @ ..] = input else { return };
    let link = LinkType::ALL[usize::from(*selector) % LinkType::ALL.len()];
    let (process_name, frame) = rest.split_at(usize::from(name_len % 16).min(rest.len()));
    let ctx = EventContext { process_name, host_name: "fuzz", ..Default::default() };
    let mut decoded = decode(link, frame);
    for _ in 0..=4 {
        check(&ctx, &decoded);
        match tunnel::inner(&decoded) {
            Some(inner) => decoded = decode(inner.link_type, inner.frame),
            None => break,
        }
    }
});

/// Encodes every event of `decoded` in both schemas and checks the lines.
fn check(ctx: &EventContext<'_>, decoded: &netcore_core::Decoded<'_>) {
    for schema in SCHEMAS {
        let mut out = Vec::new();
        let events = PacketEvents::decide(ctx, decoded, Direction::Egress, EventSet::ALL, |e| {
            Encoder::new(schema).encode(e, &mut out)
        });
        let lines: Vec<&[u8]> = out.split_inclusive(|&b| b == b'\n').collect();
        assert_eq!(lines.len(), events);
        for line in lines {
            assert_eq!(line.last(), Some(&b'\n'));
            if let Err(e) = serde_json::from_slice::<serde_json::Value>(line) {
                panic!("invalid JSON ({e}): {}", String::from_utf8_lossy(line));
            }
        }
    }
}
