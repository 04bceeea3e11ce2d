//! Hostile bytes in DNS names and strings: labels with dots, quotes, backslashes, control
//! bytes and non-UTF-8 bytes render with the one documented escaping (docs/dns.md), and
//! every event stays valid JSON.

mod common;

use common::dns_builder::{Flags, MessageBuilder, ipv4_udp};
use netcore_core::json::{Encoder, TRACEE_0_22};
use netcore_core::{Direction, EventContext, EventSet, LinkType, PacketEvents, decode};
use serde_json::Value;

/// A name given as raw labels.
fn raw_name(labels: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for l in labels {
        out.push(l.len() as u8);
        out.extend_from_slice(l);
    }
    out.push(0);
    out
}

/// A response whose question and answer name is `labels`, answered by a TXT record with
/// `txt`, carried in UDP from port 53.
fn events_for(labels: &[&[u8]], txt: &[u8]) -> Vec<Value> {
    let flags = Flags {
        qr: 1,
        ..Flags::default()
    }
    .word();
    let mut b = MessageBuilder::new(1, flags, [1, 1, 0, 0], false);
    b.bytes.extend_from_slice(&raw_name(labels));
    b.bytes.extend_from_slice(&[0, 16, 0, 1]);
    b.bytes.extend_from_slice(&raw_name(labels));
    b.bytes.extend_from_slice(&[0, 16, 0, 1, 0, 0, 0, 60]);
    b.bytes
        .extend_from_slice(&(txt.len() as u16 + 1).to_be_bytes());
    b.bytes.push(txt.len() as u8);
    b.bytes.extend_from_slice(txt);
    let packet = ipv4_udp([10, 0, 0, 1], [10, 0, 0, 2], 53, 40000, &b.bytes);
    let decoded = decode(LinkType::Ipv4, &packet);
    assert!(
        matches!(decoded.dns_over_udp(), Some(Ok(_))),
        "{:?}",
        decoded.dns_over_udp()
    );
    let ctx = EventContext {
        process_name: b"evil\"\n\xff",
        host_name: "h",
        ..Default::default()
    };
    let mut out = Vec::new();
    let n = PacketEvents::decide(
        &ctx,
        &decoded,
        Direction::Unknown,
        EventSet::ALL,
        |events| Encoder::new(&TRACEE_0_22).encode(events, &mut out),
    );
    let lines: Vec<Value> = out
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            serde_json::from_slice(l)
                .unwrap_or_else(|e| panic!("invalid JSON ({e}): {}", String::from_utf8_lossy(l)))
        })
        .collect();
    assert_eq!(lines.len(), n);
    lines
}

fn dns_event(events: &[Value]) -> &Value {
    let e = events
        .iter()
        .find(|e| e["eventName"] == "net_packet_dns")
        .unwrap();
    &e["args"][4]["value"]
}

#[test]
fn hostile_labels_use_master_file_escapes() {
    let events = events_for(
        &[
            b"a.b",
            b"q\"uote",
            b"back\\slash",
            b"ctl\x00\x1f\x7f",
            b"\xff\xfe\xc3\xa9",
            b" sp",
        ],
        b"t",
    );
    let want = "a\\.b.q\\\"uote.back\\\\slash.ctl\\000\\031\\127.\\255\\254\\195\\169.\\032sp";
    let dns = dns_event(&events);
    assert_eq!(dns["questions"][0]["name"], want);
    assert_eq!(dns["answers"][0]["name"], want);
    // A response: its query is in the response event (requests are queries only).
    assert!(
        events
            .iter()
            .all(|e| e["eventName"] != "net_packet_dns_request")
    );
    let response = events
        .iter()
        .find(|e| e["eventName"] == "net_packet_dns_response")
        .unwrap();
    assert_eq!(response["args"][1]["value"][0]["query_data"]["query"], want);
    assert_eq!(events[0]["processName"], "evil\"\n\u{fffd}");
}

#[test]
fn ordinary_names_are_unchanged() {
    let events = events_for(&[b"www", b"Example-1", b"_sip", b"test"], b"t");
    assert_eq!(
        dns_event(&events)["questions"][0]["name"],
        "www.Example-1._sip.test"
    );
}

#[test]
fn txt_strings_keep_their_bytes_with_json_escapes() {
    let events = events_for(&[b"t"], b"<script>\"x\"\x01\xff&");
    let answer = &dns_event(&events)["answers"][0];
    assert_eq!(answer["TXTs"][0], "<script>\"x\"\u{1}\u{fffd}&");
    let response = events
        .iter()
        .find(|e| e["eventName"] == "net_packet_dns_response")
        .unwrap();
    assert_eq!(
        response["args"][1]["value"][0]["dns_answer"][0]["answer"],
        "\u{e}<script>\"x\"\u{1}\u{fffd}&"
    );
}

#[test]
fn every_single_byte_label_keeps_the_json_valid() {
    for b in 0..=255u8 {
        let label = [b'a', b, b'z'];
        let events = events_for(&[&label], &[b, b, b]);
        let name = dns_event(&events)["questions"][0]["name"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(
            name.is_ascii() && name.starts_with('a') && name.ends_with('z'),
            "{b}: {name}"
        );
    }
}

#[test]
fn a_findings_quote_of_its_trigger_is_exactly_the_events_args() {
    // What a finding quotes of its triggering event (`Encoder::args`) is that event's
    // `args` array as its own line has it, hostile bytes included.
    let flags = Flags {
        qr: 1,
        ..Flags::default()
    }
    .word();
    let mut b = MessageBuilder::new(7, flags, [1, 0, 0, 0], false);
    b.bytes.extend_from_slice(&raw_name(&[b"q\"]}\n", b"x"]));
    b.bytes.extend_from_slice(&[0, 1, 0, 1]);
    let packet = ipv4_udp([10, 0, 0, 1], [10, 0, 0, 2], 53, 40000, &b.bytes);
    let decoded = decode(LinkType::Ipv4, &packet);
    let ctx = EventContext::default();
    let mut checked = 0;
    PacketEvents::decide(
        &ctx,
        &decoded,
        Direction::Unknown,
        EventSet::ALL,
        |events| {
            let mut encoder = Encoder::new(&TRACEE_0_22);
            for kind in events.kinds() {
                let mut line = Vec::new();
                let alone = PacketEvents {
                    events: EventSet::NONE.with(kind),
                    ..*events
                };
                encoder.encode(&alone, &mut line);
                let whole: Value = serde_json::from_slice(&line).unwrap();
                let mut room = Vec::new();
                let args: Value = serde_json::from_slice(encoder.args(events, kind, &mut room))
                    .unwrap_or_else(|e| panic!("{kind:?}: args are not JSON: {e}"));
                assert_eq!(args, whole["args"], "{kind:?}");
                checked += 1;
            }
        },
    );
    assert!(
        checked >= 4,
        "IPv4, UDP, DNS and the DNS response: {checked}"
    );
}
