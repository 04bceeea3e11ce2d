//! Any bytes as the payload of a TCP segment to or from port 80: the HTTP head parsers
//! never panic, a request's host, path and length read, and every event written (the HTTP
//! events included) is valid JSON in either schema, one line per event.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netcore_core::http::{self, Message};
use netcore_core::json::{Encoder, SCHEMAS};
use netcore_core::{Direction, EventContext, EventSet, LinkType, PacketEvents, decode};

/// `payload` in an IPv4/TCP segment from `src` to `dst` port.
fn segment(payload: &[u8], src: u16, dst: u16) -> Vec<u8> {
    let total = (40 + payload.len()) as u16;
    let mut p = vec![0x45, 0];
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&[0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
    p.extend_from_slice(&src.to_be_bytes());
    p.extend_from_slice(&dst.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
    p.extend_from_slice(payload);
    p
}

fuzz_target!(|input: &[u8]| {
    // Byte 0: bit 0 the direction (to or from port 80), bit 1 the schema; the rest, the
    // payload.
    let Some((&selector, payload)) = input.split_first() else { return };
    if payload.len() > 60_000 {
        return;
    }
    match http::parse(payload) {
        Some(Message::Request(request)) => {
            let _ = request.headers.iter().count();
            let _ = (request.host(), request.content_length());
            let mut path = Vec::new();
            http::decode_path(request.raw_path(), &mut path);
        }
        Some(Message::Response(response)) => {
            let _ = (response.headers.iter().count(), response.content_length());
        }
        None => {}
    }
    if let Some(start) = http::request_start(payload) {
        let _ = (start.host(), start.headers.iter().count());
    }
    let ctx = EventContext { host_name: "fuzz", ..Default::default() };
    let (src, dst) = if selector & 1 == 0 { (40000, 80) } else { (80, 40000) };
    let schema = SCHEMAS[usize::from(selector >> 1) % SCHEMAS.len()];
    let packet = segment(payload, src, dst);
    let decoded = decode(LinkType::Ipv4, &packet);
    let mut out = Vec::new();
    let events = PacketEvents::decide(&ctx, &decoded, Direction::Egress, EventSet::ALL, |e| {
        Encoder::new(schema).encode(e, &mut out)
    });
    let lines: Vec<&[u8]> = out.split_inclusive(|&b| b == b'\n').collect();
    assert_eq!(lines.len(), events);
    for line in lines {
        if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(line) {
            panic!("invalid JSON ({e}): {}", String::from_utf8_lossy(line));
        }
    }
});
