//! DNS as real servers send it, beyond the common case: the extended response code of
//! EDNS, HINFO presented like TXT (as gopacket, Tracee's decoder, does), names for modern
//! record types, and the request event for queries only.

mod common;

use common::dns_builder::{Data, Flags, MessageBuilder, ipv4_udp};
use netcore_core::json::{Encoder, TRACEE_0_22};
use netcore_core::{Direction, EventContext, EventSet, LinkType, PacketEvents, decode};
use serde_json::Value;

/// The JSON events of `message` sent from port 53 (`from_server`) or to it.
fn events(message: &[u8], from_server: bool) -> Vec<Value> {
    let (sport, dport) = if from_server {
        (53, 40000)
    } else {
        (40000, 53)
    };
    let packet = ipv4_udp([10, 0, 0, 1], [10, 0, 0, 2], sport, dport, message);
    let decoded = decode(LinkType::Ipv4, &packet);
    assert!(
        matches!(decoded.dns_over_udp(), Some(Ok(_))),
        "{:?}",
        decoded.dns_over_udp()
    );
    let mut out = Vec::new();
    PacketEvents::decide(
        &EventContext::default(),
        &decoded,
        Direction::Unknown,
        EventSet::DNS,
        |e| Encoder::new(&TRACEE_0_22).encode(e, &mut out),
    );
    out.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect()
}

fn named<'e>(events: &'e [Value], name: &str) -> Option<&'e Value> {
    events.iter().find(|e| e["eventName"] == name)
}

fn response(rcode: u16, counts: [u16; 4]) -> MessageBuilder {
    let flags = Flags {
        qr: 1,
        rd: 1,
        ra: 1,
        rcode,
        ..Flags::default()
    };
    MessageBuilder::new(0x4242, flags.word(), counts, true)
}

#[test]
fn the_opt_record_extends_the_response_code() {
    for (header, extended, want) in [
        (0u16, 1u8, "bad opt version"), // 16: BADVERS
        (7, 1, "bad cookie"),           // 23: BADCOOKIE
        (3, 0, "non-existent domain"),  // no extension: the header's own
    ] {
        let mut m = response(header, [1, 0, 0, 1]);
        m.question("example.test", 1, 1);
        // OPT: owner root, class = UDP size, TTL = extended rcode, version, flags.
        m.record("", 41, 1232, u32::from(extended) << 24, &Data::Opt(vec![]));
        let events = events(&m.bytes, true);
        let dns = &named(&events, "net_packet_dns").unwrap()["args"][4]["value"];
        assert_eq!(
            dns["responseCode"], want,
            "header {header}, extended {extended}"
        );
    }
}

#[test]
fn hinfo_is_presented_like_txt() {
    let mut m = response(0, [1, 1, 0, 0]);
    m.question("host.example.test", 13, 1);
    m.record(
        "host.example.test",
        13,
        1,
        60,
        &Data::Txt(vec![b"ARM64", b"Linux"]),
    );
    let events = events(&m.bytes, true);
    let answer = &named(&events, "net_packet_dns").unwrap()["args"][4]["value"]["answers"][0];
    assert_eq!(answer["type"], "HINFO");
    assert_eq!(answer["TXTs"], serde_json::json!(["ARM64", "Linux"]));
    assert_eq!(answer["TXT"], "\u{5}ARM64\u{5}Linux");
    // The simplified response event has no HINFO rendering in Tracee.
    let response = named(&events, "net_packet_dns_response").unwrap();
    assert_eq!(
        response["args"][1]["value"][0]["dns_answer"][0]["answer"],
        "not implemented"
    );
}

#[test]
fn modern_record_types_are_named() {
    for (rtype, name) in [
        (257, "CAA"),
        (65, "HTTPS"),
        (64, "SVCB"),
        (52, "TLSA"),
        (43, "DS"),
    ] {
        let mut m = response(0, [1, 1, 0, 0]);
        m.question("example.test", rtype, 1);
        m.record(
            "example.test",
            rtype,
            1,
            60,
            &Data::Raw(&[0, 5, b'i', b's', b's', b'u', b'e']),
        );
        let events = events(&m.bytes, true);
        let dns = &named(&events, "net_packet_dns").unwrap()["args"][4]["value"];
        assert_eq!(dns["questions"][0]["type"], name);
        assert_eq!(dns["answers"][0]["type"], name);
        let response = named(&events, "net_packet_dns_response").unwrap();
        assert_eq!(
            response["args"][1]["value"][0]["dns_answer"][0]["answer_type"],
            name
        );
    }
}

#[test]
fn the_request_event_is_for_queries_only() {
    let query = MessageBuilder::query(7, "example.test", 1);
    let of_query = events(&query.bytes, false);
    assert!(named(&of_query, "net_packet_dns_request").is_some());
    assert!(named(&of_query, "net_packet_dns_response").is_none());
    let mut reply = response(0, [1, 0, 0, 0]);
    reply.question("example.test", 1, 1);
    let of_reply = events(&reply.bytes, true);
    assert!(named(&of_reply, "net_packet_dns_request").is_none());
    assert!(named(&of_reply, "net_packet_dns_response").is_some());
}
