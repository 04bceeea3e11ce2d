//! `--schema tracee-0.24` against Tracee v0.24's decoding rules.
//!
//! A v0.24 consumer reads events with `trace.Event` (`types/trace/trace.go` at tag v0.24.1
//! of github:aquasecurity/tracee): Go's `encoding/json` for the envelope, then
//! `Argument.UnmarshalJSON` for each argument. That function's type switch is restated
//! here rule by rule (a number is accepted only under a type it knows, each `trace.*`
//! struct is converted key by key: a missing key or a value of the wrong JSON type is an
//! error, `null` is allowed, extra keys are ignored). Every event netcore writes for the
//! golden captures must pass; the seed-format output must fail where v0.24 rejects it.

mod common;

use serde_json::Value;

/// How v0.24 reads a value.
#[derive(Debug)]
enum Shape {
    /// `jsonConvertTo{String}Types`: a string or null.
    Str,
    /// `jsonConvertTo{Uint8,Uint16,Uint32,Int64}Types`: an integer (`json.Number.Int64`)
    /// or null.
    Int,
    /// A `map[string]interface{}` converted field by field; every field must be present.
    Obj(&'static [(&'static str, Shape)]),
    /// A `[]interface{}` of elements of one shape, or null.
    List(&'static Shape),
    /// `jsonConvertToStringSlice`: a list (its elements are not checked), or null.
    AnyList,
    /// A Go `bool` field.
    Bool,
    /// A Go struct decoded by `encoding/json`: the fields may be missing (they stay
    /// zero) but must have their type when present.
    Struct(&'static [(&'static str, Shape)]),
    /// `jsonConvertToHttpHeaderTypes`: an object of lists of strings (a Go type
    /// assertion: any other element panics), or null.
    Headers,
}

use Shape::{AnyList, Bool, Headers, Int, List, Obj, Str, Struct};

const PROTO_IPV4: Shape = Obj(&[
    ("protocol", Str),
    ("srcIP", Str),
    ("dstIP", Str),
    ("version", Int),
    ("IHL", Int),
    ("TOS", Int),
    ("flags", Int),
    ("TTL", Int),
    ("length", Int),
    ("id", Int),
    ("fragOffset", Int),
    ("checksum", Int),
]);
const PROTO_IPV6: Shape = Obj(&[
    ("nextHeader", Str),
    ("srcIP", Str),
    ("dstIP", Str),
    ("version", Int),
    ("trafficClass", Int),
    ("hopLimit", Int),
    ("length", Int),
    ("flowLabel", Int),
]);
const PROTO_TCP: Shape = Obj(&[
    ("dataOffset", Int),
    ("FIN", Int),
    ("SYN", Int),
    ("RST", Int),
    ("PSH", Int),
    ("ACK", Int),
    ("URG", Int),
    ("ECE", Int),
    ("CWR", Int),
    ("NS", Int),
    ("srcPort", Int),
    ("dstPort", Int),
    ("window", Int),
    ("checksum", Int),
    ("urgent", Int),
    ("seq", Int),
    ("ack", Int),
]);
const PROTO_UDP: Shape = Obj(&[
    ("srcPort", Int),
    ("dstPort", Int),
    ("length", Int),
    ("checksum", Int),
]);
const PROTO_ICMP: Shape = Obj(&[
    ("typeCode", Str),
    ("checksum", Int),
    ("id", Int),
    ("seq", Int),
]);
const PROTO_ICMPV6: Shape = Obj(&[("typeCode", Str), ("checksum", Int)]);
const DNS_QUESTION: Shape = Obj(&[("name", Str), ("type", Str), ("class", Str)]);
const DNS_RECORD: Shape = Obj(&[
    ("name", Str),
    ("type", Str),
    ("class", Str),
    ("IP", Str),
    ("NS", Str),
    ("CNAME", Str),
    ("PTR", Str),
    ("TXT", Str),
    ("TTL", Int),
    ("TXTs", AnyList),
    (
        "SOA",
        Obj(&[
            ("MName", Str),
            ("RName", Str),
            ("serial", Int),
            ("refresh", Int),
            ("retry", Int),
            ("expire", Int),
            ("minimum", Int),
        ]),
    ),
    (
        "SRV",
        Obj(&[
            ("name", Str),
            ("priority", Int),
            ("weight", Int),
            ("port", Int),
        ]),
    ),
    ("MX", Obj(&[("name", Str), ("preference", Int)])),
    ("OPT", List(&Obj(&[("code", Str), ("data", Str)]))),
    (
        "URI",
        Obj(&[("target", Str), ("priority", Int), ("weight", Int)]),
    ),
]);
const PROTO_DNS: Shape = Obj(&[
    ("QR", Int),
    ("AA", Int),
    ("TC", Int),
    ("RD", Int),
    ("RA", Int),
    ("Z", Int),
    ("ID", Int),
    ("QDCount", Int),
    ("ANCount", Int),
    ("NSCount", Int),
    ("ARCount", Int),
    ("opCode", Str),
    ("responseCode", Str),
    ("questions", List(&DNS_QUESTION)),
    ("answers", List(&DNS_RECORD)),
    ("authorities", List(&DNS_RECORD)),
    ("additionals", List(&DNS_RECORD)),
]);
const PKT_META: Shape = Obj(&[
    ("src_ip", Str),
    ("dst_ip", Str),
    ("iface", Str),
    ("src_port", Int),
    ("dst_port", Int),
    ("protocol", Int),
    ("packet_len", Int),
]);
const DNS_QUERY_DATA: Shape = Obj(&[("query", Str), ("query_type", Str), ("query_class", Str)]);
const DNS_RESPONSE_DATA: Shape = Obj(&[
    ("query_data", DNS_QUERY_DATA),
    (
        "dns_answer",
        List(&Obj(&[("answer_type", Str), ("answer", Str), ("ttl", Int)])),
    ),
]);
const PACKET_METADATA: Shape = Obj(&[("direction", Int)]);
const PROTO_HTTP: Shape = Obj(&[
    ("direction", Str),
    ("method", Str),
    ("protocol", Str),
    ("host", Str),
    ("uri_path", Str),
    ("status", Str),
    ("status_code", Int),
    ("content_length", Int),
    ("headers", Headers),
]);
const PROTO_HTTP_REQUEST: Shape = Obj(&[
    ("method", Str),
    ("protocol", Str),
    ("host", Str),
    ("uri_path", Str),
    ("content_length", Int),
    ("headers", Headers),
]);
const PROTO_HTTP_RESPONSE: Shape = Obj(&[
    ("status", Str),
    ("protocol", Str),
    ("status_code", Int),
    ("content_length", Int),
    ("headers", Headers),
]);

/// The struct types of `Argument.UnmarshalJSON`'s second switch that netcore writes.
const STRUCT_TYPES: &[(&str, &Shape)] = &[
    ("trace.ProtoIPv4", &PROTO_IPV4),
    ("trace.ProtoIPv6", &PROTO_IPV6),
    ("trace.ProtoTCP", &PROTO_TCP),
    ("trace.ProtoUDP", &PROTO_UDP),
    ("trace.ProtoICMP", &PROTO_ICMP),
    ("trace.ProtoICMPv6", &PROTO_ICMPV6),
    ("trace.PktMeta", &PKT_META),
    ("trace.ProtoDNS", &PROTO_DNS),
    ("[]trace.DnsQueryData", &List(&DNS_QUERY_DATA)),
    ("[]trace.DnsResponseData", &List(&DNS_RESPONSE_DATA)),
    ("trace.PacketMetadata", &PACKET_METADATA),
    ("trace.ProtoHTTP", &PROTO_HTTP),
    ("trace.ProtoHTTPRequest", &PROTO_HTTP_REQUEST),
    ("trace.ProtoHTTPResponse", &PROTO_HTTP_RESPONSE),
];

/// The argument types under which the first switch accepts a JSON number.
const NUMBER_TYPES: &[&str] = &[
    "trace.Pointer",
    "int32",
    "int64",
    "uint32",
    "uint64",
    "float",
    "float64",
    "uint16",
    "int8",
    "uint8",
];

fn check(shape: &Shape, value: &Value, path: &str) -> Result<(), String> {
    if value.is_null() {
        return Ok(());
    }
    let wrong = || Err(format!("{path}: {value} is not {shape:?}"));
    match shape {
        Str if value.is_string() => Ok(()),
        Int if value.is_i64() || value.is_u64() => Ok(()),
        AnyList if value.is_array() => Ok(()),
        Bool if value.is_boolean() => Ok(()),
        Headers => match value.as_object() {
            Some(map)
                if map
                    .values()
                    .all(|v| v.as_array().is_some_and(|l| l.iter().all(Value::is_string))) =>
            {
                Ok(())
            }
            _ => wrong(),
        },
        Struct(fields) => check_fields(fields, value, path, |_| Ok(())),
        List(element) => match value.as_array() {
            Some(items) => items
                .iter()
                .enumerate()
                .try_for_each(|(i, v)| check(element, v, &format!("{path}[{i}]"))),
            None => wrong(),
        },
        Obj(fields) => check_fields(fields, value, path, |key| {
            Err(format!("{path}: key not found in argMap {key}"))
        }),
        _ => wrong(),
    }
}

/// Checks the `fields` of the object `value`; `missing` says what a missing key means.
fn check_fields(
    fields: &[(&str, Shape)],
    value: &Value,
    path: &str,
    missing: impl Fn(&str) -> Result<(), String>,
) -> Result<(), String> {
    let Some(map) = value.as_object() else {
        return Err(format!("{path}: {value} is not an object"));
    };
    fields
        .iter()
        .try_for_each(|(key, field)| match map.get(*key) {
            Some(v) => check(field, v, &format!("{path}.{key}")),
            None => missing(key),
        })
}

/// `Argument.UnmarshalJSON` of v0.24.1.
fn unmarshal_argument(arg: &Value) -> Result<(), String> {
    let (name, kind, value) = (
        &arg["name"],
        arg["type"].as_str().unwrap_or(""),
        &arg["value"],
    );
    if value.is_number() {
        return if kind.ends_with('*') || NUMBER_TYPES.contains(&kind) {
            Ok(())
        } else {
            Err(format!(
                "unrecognized argument type {kind} of argument {name}"
            ))
        };
    }
    match STRUCT_TYPES.iter().find(|(t, _)| *t == kind) {
        Some((_, shape)) => check(shape, value, name.as_str().unwrap_or("?")),
        None => Ok(()),
    }
}

/// Go's `encoding/json` into v0.24's `trace.Event`, then every argument.
fn unmarshal_event(event: &Value) -> Result<(), String> {
    const ENVELOPE: Shape = Struct(&[
        ("timestamp", Int),
        ("threadStartTime", Int),
        ("processorId", Int),
        ("processId", Int),
        ("cgroupId", Int),
        ("threadId", Int),
        ("parentProcessId", Int),
        ("hostProcessId", Int),
        ("hostThreadId", Int),
        ("hostParentProcessId", Int),
        ("userId", Int),
        ("mountNamespace", Int),
        ("pidNamespace", Int),
        ("processName", Str),
        ("executable", Struct(&[("path", Str)])),
        ("hostName", Str),
        ("containerId", Str),
        (
            "container",
            Struct(&[
                ("id", Str),
                ("name", Str),
                ("image", Str),
                ("imageDigest", Str),
            ]),
        ),
        (
            "kubernetes",
            Struct(&[
                ("podName", Str),
                ("podNamespace", Str),
                ("podUID", Str),
                ("podSandbox", Bool),
            ]),
        ),
        ("eventName", Str),
        ("argsNum", Int),
        ("returnValue", Int),
        ("syscall", Str),
        (
            "contextFlags",
            Struct(&[("containerStarted", Bool), ("isCompat", Bool)]),
        ),
        ("threadEntityId", Int),
        ("processEntityId", Int),
        ("parentEntityId", Int),
        ("stackAddresses", List(&Int)),
    ]);
    // `eventId` is `int` with the `,string` option: a string holding a number.
    event["eventId"]
        .as_str()
        .and_then(|id| id.parse::<i64>().ok())
        .ok_or("eventId is not a quoted number")?;
    let args = event["args"].as_array().ok_or("args is not a list")?;
    if event["argsNum"] != args.len() {
        return Err(format!(
            "argsNum {} with {} args",
            event["argsNum"],
            args.len()
        ));
    }
    check(&ENVELOPE, event, "event")?;
    args.iter().try_for_each(unmarshal_argument)
}

/// The events netcore writes for a golden capture in `schema`, one JSON value each: the
/// nine packet events, the HTTP ones, `net_packet_raw`, and the flow events.
fn events(capture: &str, schema: &str) -> Vec<Value> {
    let path = common::root().join(format!("tests/golden/{capture}.pcap"));
    let more = "net_packet_http,net_packet_http_request,net_packet_http_response,\
                net_packet_raw,net_flow,net_flow_tcp_begin,net_flow_tcp_end,\
                net_tcp_connect,net_dns_transaction";
    let args = [
        "--json", "--schema", schema, "--events", "all", "--events", more,
    ];
    common::events_of(&[&args[..], &["-r", path.to_str().unwrap()]].concat())
}

const CAPTURES: [&str; 4] = ["ethernet", "ethernet-ns", "sll", "sll2"];

#[test]
fn v024_accepts_every_event_of_the_v024_schema() {
    let mut checked = std::collections::BTreeMap::<String, usize>::new();
    for capture in CAPTURES {
        for event in events(capture, "tracee-0.24") {
            if let Err(e) = unmarshal_event(&event) {
                panic!(
                    "{capture}: v0.24 rejects {}: {e}\n{event}",
                    event["eventName"]
                );
            }
            *checked
                .entry(event["eventName"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
    }
    // Every one of the nine packet events, the three HTTP ones, `net_packet_raw`, the
    // three flow events, `net_tcp_connect` and `net_dns_transaction`.
    assert_eq!(checked.len(), 18, "{checked:?}");
}

#[test]
fn v024_rejects_the_seed_schema_where_tracee_said_it_does() {
    // The measurement that motivated the v0.24 schema: u16 ports are unknown to v0.24.
    let mut rejected = std::collections::BTreeSet::new();
    let mut accepted = std::collections::BTreeSet::new();
    for event in events("ethernet", "tracee-0.22") {
        let name = event["eventName"].as_str().unwrap().to_owned();
        match unmarshal_event_args(&event) {
            Ok(()) => accepted.insert(name),
            Err(_) => rejected.insert(name),
        };
    }
    let names = |list: &[&str]| list.iter().map(|s| s.to_string()).collect();
    // The flow events and net_packet_http carry `u16` ports in the seed-era schema too,
    // as Tracee wrote them, and net_tcp_connect's port is v0.23's `int`.
    assert_eq!(
        rejected,
        names(&[
            "net_dns_transaction",
            "net_flow",
            "net_flow_tcp_begin",
            "net_flow_tcp_end",
            "net_packet_dns",
            "net_packet_http",
            "net_packet_tcp",
            "net_packet_udp",
            "net_tcp_connect"
        ])
    );
    assert!(accepted.contains("net_packet_ipv4") && accepted.contains("net_packet_dns_response"));
}

/// Only the argument rules (the seed envelope lacks v0.24's `syscall` and entity ids,
/// which Go would leave at zero).
fn unmarshal_event_args(event: &Value) -> Result<(), String> {
    event["args"]
        .as_array()
        .unwrap()
        .iter()
        .try_for_each(unmarshal_argument)
}

#[test]
fn v024_ids_argument_order_and_envelope_keys() {
    let events = events("ethernet", "tracee-0.24");
    let tcp = events
        .iter()
        .find(|e| e["eventName"] == "net_packet_tcp")
        .unwrap();
    assert_eq!(tcp["eventId"], "2002");
    let arg_names: Vec<&str> = tcp["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        arg_names,
        [
            "src",
            "dst",
            "src_port",
            "dst_port",
            "metadata",
            "proto_tcp"
        ]
    );
    assert_eq!(tcp["args"][0]["type"], "string");
    assert_eq!(tcp["args"][2]["type"], "uint16");
    assert_eq!(tcp["args"][4]["type"], "trace.PacketMetadata");
    // A classic pcap says nothing of direction: Tracee's InvalidPacketDirection (0).
    assert_eq!(tcp["args"][4]["value"], serde_json::json!({"direction": 0}));
    // The key order of v0.24's trace.Event (matchedPolicies and metadata are omitempty).
    let keys: Vec<&str> = tcp
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "timestamp",
            "threadStartTime",
            "processorId",
            "processId",
            "cgroupId",
            "threadId",
            "parentProcessId",
            "hostProcessId",
            "hostThreadId",
            "hostParentProcessId",
            "userId",
            "mountNamespace",
            "pidNamespace",
            "processName",
            "executable",
            "hostName",
            "containerId",
            "container",
            "kubernetes",
            "eventId",
            "eventName",
            "argsNum",
            "returnValue",
            "syscall",
            "stackAddresses",
            "contextFlags",
            "threadEntityId",
            "processEntityId",
            "parentEntityId",
            "args",
        ]
    );
    for (name, id, metadata) in [
        ("net_packet_ipv4", "2000", true),
        ("net_packet_ipv6", "2001", true),
        ("net_packet_udp", "2003", true),
        ("net_packet_icmp", "2004", true),
        ("net_packet_icmpv6", "2005", true),
        ("net_packet_dns", "2006", true),
        ("net_packet_dns_request", "2007", false),
        ("net_packet_dns_response", "2008", false),
    ] {
        let event = events.iter().find(|e| e["eventName"] == name).unwrap();
        assert_eq!(event["eventId"], id, "{name}");
        let has_direction = event["args"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["type"] == "trace.PacketMetadata");
        assert_eq!(has_direction, metadata, "{name}");
    }
}

#[test]
fn pcapng_direction_flags_reach_the_metadata_argument() {
    let pcap = common::read_pcap(&common::root().join("tests/golden/ethernet.pcap"));
    let udp = pcap
        .records
        .iter()
        .find(|r| r.data.len() > 42 && r.data[23] == 17)
        .unwrap();
    let mut file = common::PcapNg::default();
    file.section();
    file.interface(1, None);
    for flags in [Some(1), Some(2), None] {
        file.packet_with_flags(0, 1, &udp.data, flags);
    }
    let path = common::temp_file("direction.pcapng", &file.bytes);
    let out = common::netcore(&[
        "--json",
        "--schema",
        "tracee-0.24",
        "--events",
        "net_packet_udp,net_packet_dns",
        "-r",
        path.to_str().unwrap(),
    ]);
    let directions: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["eventName"] == "net_packet_udp")
        .map(|e| e["args"][4]["value"]["direction"].clone())
        .collect();
    assert_eq!(directions, [1, 2, 0]);
}
