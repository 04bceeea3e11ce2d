//! `--filter` on real captures: what it lets through must be exactly what the unfiltered
//! output holds that matches, checked against the golden events with serde_json.

mod common;

use common::{netcore, root};
use serde_json::Value;

fn golden() -> String {
    root()
        .join("tests/golden/ethernet.pcap")
        .display()
        .to_string()
}

/// The JSON events netcore prints for the golden capture with these extra arguments.
fn events(extra: &[&str]) -> Vec<Value> {
    let capture = golden();
    let mut args = vec!["--json", "-r", &capture];
    args.extend_from_slice(extra);
    common::events_of(&args)
}

fn arg<'a>(event: &'a Value, name: &str) -> &'a Value {
    event["args"]
        .as_array()
        .and_then(|args| args.iter().find(|a| a["name"] == name))
        .map_or(&Value::Null, |a| &a["value"])
}

#[test]
fn reference_example_tcp_to_a_port() {
    let all = events(&[]);
    let filtered = events(&[
        "--filter",
        "event=net_packet_tcp",
        "--filter",
        "net_packet_tcp.args.dst_port=8090",
    ]);
    let expected: Vec<&Value> = all
        .iter()
        .filter(|e| e["eventName"] == "net_packet_tcp" && arg(e, "dst_port") == 8090)
        .collect();
    assert!(
        expected.len() >= 5,
        "the golden capture has a TCP connection to 8090"
    );
    assert_eq!(filtered.iter().collect::<Vec<_>>(), expected);
}

#[test]
fn reference_example_dns_from_a_server() {
    let all = events(&[]);
    let filtered = events(&[
        "--filter",
        "event=net_packet_dns",
        "--filter",
        "net_packet_dns.args.src=10.99.0.1",
    ]);
    let expected: Vec<&Value> = all
        .iter()
        .filter(|e| e["eventName"] == "net_packet_dns" && arg(e, "src") == "10.99.0.1")
        .collect();
    assert!(
        expected.len() >= 4,
        "the golden capture has DNS answers from 10.99.0.1"
    );
    assert_eq!(filtered.iter().collect::<Vec<_>>(), expected);
}

#[test]
fn dns_name_filter_reaches_into_the_message_over_udp_and_tcp() {
    let all = events(&[]);
    let filtered = events(&[
        "--filter",
        "net_packet_dns.args.proto_dns.questions.name=*.example.test",
    ]);
    let expected: Vec<&Value> = all
        .iter()
        .filter(|e| {
            e["eventName"] == "net_packet_dns"
                && arg(e, "proto_dns")["questions"]
                    .as_array()
                    .is_some_and(|qs| {
                        qs.iter().any(|q| {
                            q["name"]
                                .as_str()
                                .is_some_and(|n| n.ends_with(".example.test"))
                        })
                    })
        })
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(filtered.iter().collect::<Vec<_>>(), expected);
    // And its negation keeps the other DNS events only.
    let negated = events(&[
        "--filter",
        "net_packet_dns.args.proto_dns.questions.name!=*.example.test",
    ]);
    let total_dns = all
        .iter()
        .filter(|e| e["eventName"] == "net_packet_dns")
        .count();
    assert_eq!(negated.len() + expected.len(), total_dns);
}

#[test]
fn filters_and_events_intersect() {
    // --events narrows, --filter narrows further; nothing outside both appears.
    let filtered = events(&[
        "--events",
        "net_packet_tcp,net_packet_udp",
        "--filter",
        "event=net_packet_udp,net_packet_icmp",
    ]);
    assert!(!filtered.is_empty());
    assert!(filtered.iter().all(|e| e["eventName"] == "net_packet_udp"));
}

#[test]
fn bad_filters_exit_2_with_the_reason() {
    let capture = golden();
    for (filter, message) in [
        ("event=net_packet_smtp", "unknown event 'net_packet_smtp'"),
        (
            "net_packet_tcp.args.port=80",
            "net_packet_tcp has no argument 'port'; valid: src, dst, src_port, dst_port",
        ),
        (
            "net_packet_tcp.args.dst_port=eighty",
            "'eighty' is not a number",
        ),
        ("net_packet_tcp.args.dst_port~80", "expected FIELD OP VALUE"),
        ("comm>=nc", "compare numbers only"),
    ] {
        let out = netcore(&["--json", "-r", &capture, "--filter", filter]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{filter}: {stderr}");
        assert!(
            stderr.contains(&format!("--filter {filter}: ")) && stderr.contains(message),
            "{filter}: {stderr}"
        );
        assert!(
            out.stdout.is_empty(),
            "nothing is decoded after a bad filter"
        );
    }
}

/// The paths of every leaf of `value` below `prefix`: object keys joined with `.`, list
/// elements under their list's path.
fn leaf_paths(value: &Value, prefix: &str, out: &mut std::collections::BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                leaf_paths(v, &path, out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            items.iter().for_each(|v| leaf_paths(v, prefix, out));
        }
        _ => {
            out.insert(prefix.to_owned());
        }
    }
}

#[test]
fn filter_fields_and_json_keys_agree() {
    // The JSON encoder and the filter each list Tracee's argument keys; this keeps the
    // two lists one: every filterable path is written, and every scalar argument of the
    // packet events is filterable (DNS events: the commonly filtered fields only).
    use std::collections::{BTreeMap, BTreeSet};
    let mut written: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let http = "net_packet_http,net_packet_http_request,net_packet_http_response,net_packet_raw";
    for event in events(&["--events", "all", "--events", http]) {
        let paths = written
            .entry(event["eventName"].as_str().unwrap().to_owned())
            .or_default();
        for arg in event["args"].as_array().unwrap() {
            leaf_paths(&arg["value"], arg["name"].as_str().unwrap(), paths);
        }
    }
    assert_eq!(
        written.len(),
        13,
        "every packet event appears in the golden capture"
    );
    for kind in netcore_core::EventKind::ALL {
        let json = &written[kind.name()];
        let filter: BTreeSet<String> = netcore_core::filter::Filter::argument_paths(kind)
            .into_iter()
            .collect();
        let not_written: Vec<_> = filter.difference(json).collect();
        assert!(
            not_written.is_empty(),
            "{}: filter paths the JSON lacks: {not_written:?}",
            kind.name()
        );
        // DNS lists, HTTP headers and metadata, and the raw bytes are written, not
        // filtered on.
        let written_only = netcore_core::EventSet::DNS
            .union(netcore_core::EventSet::HTTP)
            .with(netcore_core::EventKind::Raw);
        if !written_only.contains(kind) {
            let not_filterable: Vec<_> = json.difference(&filter).collect();
            assert!(
                not_filterable.is_empty(),
                "{}: JSON keys no filter reaches: {not_filterable:?}",
                kind.name()
            );
        }
    }
}

#[test]
fn dns_answer_filter_matches_the_answer_as_written() {
    let answers = |e: &Value| -> Vec<String> {
        arg(e, "dns_response")[0]["dns_answer"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["answer"].as_str().unwrap().to_owned())
            .collect()
    };
    let all: Vec<Value> = events(&["--events", "net_packet_dns_response"]);
    for wanted in ["mail.example.test", "10.99.0.*", "fd99::80"] {
        let filter =
            format!("net_packet_dns_response.args.dns_response.dns_answer.answer={wanted}");
        let got = events(&["--events", "net_packet_dns_response", "--filter", &filter]);
        let pattern = wanted.trim_end_matches('*');
        let expected: Vec<&Value> = all
            .iter()
            .filter(|e| {
                answers(e)
                    .iter()
                    .any(|a| a == wanted || (wanted.ends_with('*') && a.starts_with(pattern)))
            })
            .collect();
        assert!(
            !expected.is_empty(),
            "{wanted}: the capture has such an answer"
        );
        assert_eq!(got.iter().collect::<Vec<_>>(), expected, "{wanted}");
    }
}

#[test]
fn pcap_expressions_select_packets_before_decoding() {
    let all = events(&[]);
    // Only the packets to or from UDP port 53: every transport event is UDP with port 53.
    for args in [&["udp", "port", "53"][..], &["--bpf", "udp port 53"]] {
        let selected = events(args);
        assert!(
            !selected.is_empty() && selected.len() < all.len(),
            "{args:?}"
        );
        for event in &selected {
            match event["eventName"].as_str().unwrap() {
                "net_packet_udp" | "net_packet_dns" => assert!(
                    arg(event, "src_port") == 53 || arg(event, "dst_port") == 53,
                    "{event}"
                ),
                "net_packet_ipv4"
                | "net_packet_ipv6"
                | "net_packet_dns_request"
                | "net_packet_dns_response" => {}
                other => panic!("{args:?} let a {other} event through"),
            }
        }
        // And no UDP event on port 53 of the unfiltered output is missing.
        let port_53 = |list: &[Value]| -> Vec<Value> {
            list.iter()
                .filter(|e| e["eventName"] == "net_packet_udp")
                .filter(|e| arg(e, "src_port") == 53 || arg(e, "dst_port") == 53)
                .cloned()
                .collect()
        };
        assert_eq!(port_53(&selected), port_53(&all), "{args:?}");
    }
    // A bad expression: libpcap's own message, exit 2.
    let out = netcore(&["-r", &golden(), "port", "foo"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("pcap filter expression 'port foo'") && err.contains("unknown port"),
        "{err}"
    );
}
