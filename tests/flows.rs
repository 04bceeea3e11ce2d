//! Flow events from capture files: netcore's `net_flow` records (counters, Zeek's
//! conn_state and history, names from DNS answers, TLS server name and ALPN, HTTP host,
//! the reasons records are written) and Tracee's `net_flow_tcp_begin`/`_end`. Their
//! Community IDs are checked against Wireshark's in tests/tshark_differential.rs.

mod common;

use std::collections::BTreeMap;

use common::dns_builder::{Data, Flags, MessageBuilder, ipv4_udp};
use common::{capture, events_of, ipv4_tcp};
use serde_json::Value;

/// The arguments of an event by name.
fn args(event: &Value) -> BTreeMap<&str, &Value> {
    event["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["name"].as_str().unwrap(), &a["value"]))
        .collect()
}

/// A TLS 1.3-style ClientHello naming `server` and offering h2 and http/1.1.
fn client_hello(server: &str) -> Vec<u8> {
    let n = server.len() as u16;
    // server_name: extension type 0, its length, the list's length, host_name (0), the name.
    let mut sni = vec![0, 0];
    for length in [n + 5, n + 3] {
        sni.extend_from_slice(&length.to_be_bytes());
    }
    sni.push(0);
    sni.extend_from_slice(&n.to_be_bytes());
    sni.extend_from_slice(server.as_bytes());
    let alpn = [
        0, 16, 0, 14, 0, 12, 2, b'h', b'2', 8, b'h', b't', b't', b'p', b'/', b'1', b'.', b'1',
    ];
    let mut extensions = sni;
    extensions.extend_from_slice(&alpn);
    let mut body = vec![3, 3];
    body.extend_from_slice(&[0x11; 32]);
    body.extend_from_slice(&[0, 0, 2, 0x13, 1, 1, 0]);
    body.extend_from_slice(&(extensions.len() as u16).to_be_bytes());
    body.extend_from_slice(&extensions);
    let mut record = vec![
        22,
        3,
        1,
        0,
        (body.len() + 4) as u8,
        1,
        0,
        0,
        body.len() as u8,
    ];
    record.extend_from_slice(&body);
    record
}

const CLIENT: [u8; 4] = [10, 0, 0, 2];
const SERVER: [u8; 4] = [203, 0, 113, 7];
const RESOLVER: [u8; 4] = [10, 0, 0, 53];

/// A DNS answer `api.example.test → 203.0.113.7` (TTL 300), then a TLS connection to it:
/// handshake, ClientHello, a reply, and both FINs.
fn tls_session() -> Vec<Vec<u8>> {
    let mut answer = MessageBuilder::new(
        7,
        Flags {
            qr: 1,
            rd: 1,
            ra: 1,
            ..Flags::default()
        }
        .word(),
        [1, 1, 0, 0],
        true,
    );
    answer.question("api.example.test", 1, 1);
    answer.record("api.example.test", 1, 1, 300, &Data::Ip(SERVER.into()));
    let (c, s) = ((CLIENT, 40000), (SERVER, 443));
    const SYN: u8 = 0x02;
    const ACK: u8 = 0x10;
    const FIN: u8 = 0x01;
    const PSH: u8 = 0x08;
    vec![
        ipv4_udp(RESOLVER, CLIENT, 53, 5353, &answer.bytes),
        ipv4_tcp(c, s, 1, SYN, b""),
        ipv4_tcp(s, c, 9, SYN | ACK, b""),
        ipv4_tcp(c, s, 2, ACK, b""),
        ipv4_tcp(c, s, 2, PSH | ACK, &client_hello("api.example.test")),
        ipv4_tcp(s, c, 10, PSH | ACK, &[0x16; 100]),
        ipv4_tcp(c, s, 300, FIN | ACK, b""),
        ipv4_tcp(s, c, 110, FIN | ACK, b""),
        ipv4_tcp(c, s, 301, ACK, b""),
    ]
}

/// The `events` netcore writes for [`tls_session`], captured into `name`.
fn session_events(name: &str, events: &str) -> Vec<Value> {
    let path = capture(name, 1_700_000_000, tls_session());
    events_of(&["--json", "--events", events, "-r", path.to_str().unwrap()])
}

#[test]
fn a_tls_connection_is_one_record_with_its_names() {
    let events = session_events("flows-tls.pcap", "net_flow");
    let tcp: Vec<&Value> = events
        .iter()
        .filter(|e| args(e)["proto"] == "TCP")
        .collect();
    assert_eq!(
        tcp.len(),
        1,
        "one record, the trailing ACK included: {events:#?}"
    );
    let flow = args(tcp[0]);
    assert_eq!(tcp[0]["eventName"], "net_flow");
    assert_eq!(tcp[0]["eventId"], "2100");
    for (name, value) in [
        ("src", Value::from("10.0.0.2")),
        ("dst", "203.0.113.7".into()),
        ("src_port", 40000.into()),
        ("dst_port", 443.into()),
        ("conn_state", "SF".into()),
        ("history", "ShADdFf".into()),
        ("orig_packets", 5.into()),
        ("resp_packets", 3.into()),
        ("resp_bytes", 100.into()),
        (
            "orig_ip_bytes",
            (40 * 5 + client_hello("api.example.test").len()).into(),
        ),
        ("sni", "api.example.test".into()),
        ("alpn", serde_json::json!(["h2", "http/1.1"])),
        ("dst_dns", serde_json::json!(["api.example.test"])),
        ("src_dns", serde_json::json!([])),
        ("conn_direction", "unknown".into()),
        ("reason", "closed".into()),
        ("duration", 7_000_000.into()),
    ] {
        assert_eq!(flow[name], &value, "{name}: {}", tcp[0]);
    }
    assert!(flow["community_id"].as_str().unwrap().starts_with("1:"));
    // The DNS answer is a flow of its own, answered by the resolver: one packet, S0.
    let udp = events.iter().find(|e| args(e)["proto"] == "UDP").unwrap();
    assert_eq!(args(udp)["conn_state"], "S0");
}

#[test]
fn tracee_flow_events_at_the_syn_ack_and_the_end() {
    let events = session_events("flows-tracee.pcap", "net_flow_tcp_begin,net_flow_tcp_end");
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["eventName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["net_flow_tcp_begin", "net_flow_tcp_end"]);
    for event in &events {
        let a = args(event);
        assert_eq!(event["argsNum"], 7);
        // Oriented as the connection, whichever packet made the event.
        assert_eq!(
            (a["src"], a["dst"]),
            (&Value::from("10.0.0.2"), &Value::from("203.0.113.7"))
        );
        assert_eq!(
            (a["src_port"], a["dst_port"]),
            (&Value::from(40000), &Value::from(443))
        );
        assert_eq!(a["dst_dns"], &serde_json::json!(["api.example.test"]));
    }
    // The begin event comes with the SYN+ACK (the 3rd packet), the end with the second FIN.
    assert_eq!(events[0]["timestamp"], 1_700_000_000_002_000_000u64);
    assert_eq!(events[1]["timestamp"], 1_700_000_000_007_000_000u64);
}

#[test]
fn idle_flows_end_and_long_ones_are_reported() {
    // A datagram every 20 s for 100 s (to 10.0.0.9), and one that stays alone (to
    // 10.0.0.8): the latter ends idle after 60 s; both are reported every 30 s while open,
    // and the former ends with the capture.
    let mut packets = Vec::new();
    let mut times = Vec::new();
    for i in 0..=5u32 {
        packets.push(ipv4_udp(CLIENT, [10, 0, 0, 9], 7000, 9000, b"ping"));
        times.push(i * 20);
    }
    packets.insert(1, ipv4_udp(CLIENT, [10, 0, 0, 8], 7001, 9001, b"lonely"));
    times.insert(1, 1);
    let timed = times.into_iter().map(|t| t * 1000).zip(packets).collect();
    let path = common::capture_timed("flows-idle.pcap", 1_700_000_000, timed);
    let events = events_of(&[
        "--json",
        "--events",
        "net_flow",
        "--flow-report",
        "30",
        "-r",
        path.to_str().unwrap(),
    ]);
    let summary: Vec<(String, String, u64)> = events
        .iter()
        .map(|e| {
            let a = args(e);
            (
                a["dst"].as_str().unwrap().to_owned(),
                a["reason"].as_str().unwrap().to_owned(),
                a["orig_packets"].as_u64().unwrap(),
            )
        })
        .collect();
    // Each sweep writes in the order the flows began.
    let expected = [
        ("10.0.0.9", "report", 2), // at 40 s: the packets at 0 and 20 s
        ("10.0.0.8", "report", 1), // at 40 s: open for 39 s
        ("10.0.0.9", "report", 4), // at 80 s
        ("10.0.0.8", "idle", 1),   // at 80 s: nothing since 1 s
        ("10.0.0.9", "end", 6),
    ];
    let expected: Vec<(String, String, u64)> = expected
        .iter()
        .map(|(d, r, n)| (d.to_string(), r.to_string(), *n))
        .collect();
    assert_eq!(summary, expected, "{events:#?}");
}

#[test]
fn a_full_table_counts_what_it_cannot_track() {
    let packets = (0..10u16)
        .map(|port| ipv4_udp(CLIENT, SERVER, 10_000 + port, 53, b"q"))
        .collect();
    let path = capture("flows-full.pcap", 1_700_000_000, packets);
    let out = common::netcore(&[
        "--json",
        "--events",
        "net_flow",
        "--max-flows",
        "4",
        "-r",
        path.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 4);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("flows: 4 tracked, 0 ended idle, 6 not tracked (table full)"),
        "{stderr}"
    );
}

#[test]
fn hostile_names_and_server_names_stay_valid_json() {
    let hostile = "a\"b\\c<\u{1}>.example.test";
    let mut packets = tls_session();
    packets[4] = ipv4_tcp(
        (CLIENT, 40000),
        (SERVER, 443),
        2,
        0x18,
        &client_hello(hostile),
    );
    let path = capture("flows-hostile.pcap", 1_700_000_000, packets);
    // events_of parses every line as JSON.
    let events = events_of(&[
        "--json",
        "--events",
        "net_flow",
        "-r",
        path.to_str().unwrap(),
    ]);
    let tcp = events.iter().find(|e| args(e)["proto"] == "TCP").unwrap();
    assert_eq!(args(tcp)["sni"], hostile);
}

#[test]
fn flow_filters_select_records() {
    let path = capture("flows-filter.pcap", 1_700_000_000, tls_session());
    let path = path.to_str().unwrap();
    let run = |filters: &[&str]| -> Vec<String> {
        let mut args = vec!["--json", "-r", path];
        for filter in filters {
            args.extend(["--filter", filter]);
        }
        events_of(&args)
            .iter()
            .map(|e| format!("{} {}", e["eventName"].as_str().unwrap(), args_of(e)))
            .collect()
    };
    fn args_of(event: &Value) -> String {
        let a = args(event);
        format!("{}:{}", a["dst"].as_str().unwrap(), a["dst_port"])
    }
    // An argument filter selects its event, as Tracee's do.
    assert_eq!(
        run(&["net_flow.args.sni=*.example.test"]),
        ["net_flow 203.0.113.7:443"]
    );
    assert_eq!(run(&["net_flow.args.dst_port=53"]), Vec::<String>::new());
    assert_eq!(
        run(&["event=net_flow", "net_flow.args.proto=UDP"]),
        ["net_flow 10.0.0.2:5353"]
    );
    // Scope and packet-wide filters decide which packets flows see.
    assert_eq!(
        run(&["event=net_flow", "port=443"]),
        ["net_flow 203.0.113.7:443"]
    );
}

#[test]
fn packet_events_carry_their_flows_community_id_on_request() {
    let path = capture("flows-cid.pcap", 1_700_000_000, tls_session());
    let path = path.to_str().unwrap();
    let record = events_of(&["--json", "--events", "net_flow", "-r", path])
        .into_iter()
        .find(|e| args(e)["proto"] == "TCP")
        .unwrap();
    let flow_id = args(&record)["community_id"].clone();
    let tcp = events_of(&[
        "--json",
        "--community-id",
        "--events",
        "net_packet_tcp",
        "-r",
        path,
    ]);
    assert_eq!(tcp.len(), 8);
    for event in &tcp {
        assert_eq!(args(event)["community_id"], &flow_id, "{event}");
        assert_eq!(event["argsNum"], 6);
    }
    // Without the flag the events are Tracee's, unchanged.
    let plain = events_of(&["--json", "--events", "net_packet_tcp", "-r", path]);
    assert!(plain.iter().all(|e| e["argsNum"] == 5));
}

#[test]
fn a_flood_of_distinct_flows_stays_within_the_bound() {
    // 20,000 flows, one datagram each, within 20 s: nothing ends idle, the table holds 500.
    let packets = (0..20_000u32)
        .map(|i| {
            let dst = [10, 200, (i >> 8) as u8, i as u8];
            ipv4_udp(CLIENT, dst, 5000, 6000, b"x")
        })
        .collect();
    let path = capture("flows-flood.pcap", 1_700_000_000, packets);
    let out = common::netcore(&[
        "--json",
        "--events",
        "net_flow",
        "--max-flows",
        "500",
        "-r",
        path.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 500);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("flows: 500 tracked, 0 ended idle, 19500 not tracked (table full)"),
        "{stderr}"
    );
}

#[test]
fn echo_exchanges_started_from_either_side_are_two_flows() {
    // A pings B, then B pings A: as tshark's and the packets' own Community IDs see them,
    // two exchanges, each opened by its asker.
    let (a, b) = ([10, 0, 0, 1], [10, 0, 0, 2]);
    let echo = |src: [u8; 4], dst: [u8; 4], kind: u8| {
        let mut p = vec![0x45, 0, 0, 28, 0, 1, 0, 0, 64, 1, 0, 0];
        p.extend_from_slice(&src);
        p.extend_from_slice(&dst);
        p.extend_from_slice(&[kind, 0, 0, 0, 0x12, 0x34, 0, 1]);
        p
    };
    let capture = common::capture(
        "echo-both-ways.pcap",
        1_700_000_000,
        vec![echo(a, b, 8), echo(b, a, 0), echo(b, a, 8), echo(a, b, 0)],
    );
    let path = capture.to_str().unwrap();
    let records = common::events_of(&["--json", "--events", "net_flow", "-r", path]);
    assert_eq!(records.len(), 2, "{records:#?}");
    let packets = common::events_of(&[
        "--json",
        "--community-id",
        "--events",
        "net_packet_icmp",
        "-r",
        path,
    ]);
    for (record, request) in records.iter().zip([&packets[0], &packets[2]]) {
        let args = args(record);
        assert_eq!(args["src"], &args_of(request, "src"), "{record}");
        assert_eq!(
            (args["orig_packets"], args["resp_packets"]),
            (&1.into(), &1.into())
        );
        assert_eq!(args["community_id"], &args_of(request, "community_id"));
    }
    assert_ne!(
        args(&records[0])["community_id"],
        args(&records[1])["community_id"]
    );
}

/// Argument `name` of `event`, owned.
fn args_of(event: &Value, name: &str) -> Value {
    args(event)[name].clone()
}
