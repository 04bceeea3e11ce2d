//! Tracee's HTTP events (`net_packet_http`, `_request`, `_response`) from capture files:
//! the values Go's `net/http` reads (Tracee parses with it), the filters on them, and JSON
//! that stays valid whatever the headers hold.

mod common;

use common::{capture, events_of, ipv4_tcp};
use serde_json::{Value, json};

const CLIENT: ([u8; 4], u16) = ([10, 0, 0, 2], 41000);
const SERVER: ([u8; 4], u16) = ([10, 0, 0, 80], 80);
const PSH_ACK: u8 = 0x18;

/// The value of argument `name`.
fn arg<'a>(event: &'a Value, name: &str) -> &'a Value {
    event["args"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == name)
        .map_or(&Value::Null, |a| &a["value"])
}

/// The HTTP events of a capture of `payloads` (client to server, then server to client,
/// alternating), with `extra` arguments.
fn http_events(name: &str, payloads: &[&[u8]], extra: &[&str]) -> Vec<Value> {
    let packets = payloads
        .iter()
        .enumerate()
        .map(|(i, p)| match i % 2 {
            0 => ipv4_tcp(CLIENT, SERVER, 1, PSH_ACK, p),
            _ => ipv4_tcp(SERVER, CLIENT, 1, PSH_ACK, p),
        })
        .collect();
    let path = capture(name, 1_700_000_000, packets);
    let mut args = vec![
        "--json",
        "--events",
        "net_packet_http,net_packet_http_request,net_packet_http_response",
    ];
    args.extend(extra);
    args.extend(["-r", path.to_str().unwrap()]);
    events_of(&args)
}

const REQUEST: &[u8] = b"POST /api/v1/items%20new?draft=1 HTTP/1.1\r\nHost: shop.example.test\r\n\
    content-type: application/json\r\nX-Trace: a\r\nx-trace: b\r\nContent-Length: 17\r\n\r\n\
    {\"name\":\"widget\"}";
const RESPONSE: &[u8] = b"HTTP/1.1 201 Created\r\nLocation: /api/v1/items/7\r\n\
    Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n";

#[test]
fn request_and_response_as_go_reads_them() {
    let events = http_events("http-basic.pcap", &[REQUEST, RESPONSE], &[]);
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["eventName"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "net_packet_http",
            "net_packet_http_request",
            "net_packet_http",
            "net_packet_http_response"
        ]
    );
    let ids: Vec<&str> = events
        .iter()
        .map(|e| e["eventId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["2016", "2017", "2016", "2018"]);
    let request = json!({
        "method": "POST",
        "protocol": "HTTP/1.1",
        "host": "shop.example.test",
        "uri_path": "/api/v1/items new",
        // Canonical names, sorted, values of one name together, Host moved out.
        "headers": {
            "Content-Length": ["17"],
            "Content-Type": ["application/json"],
            "X-Trace": ["a", "b"]
        },
        "content_length": 17
    });
    assert_eq!(arg(&events[1], "http_request"), &request);
    assert_eq!(
        arg(&events[1], "metadata"),
        &json!({"src_ip": "10.0.0.2", "dst_ip": "10.0.0.80", "src_port": 41000,
                "dst_port": 80, "protocol": 6, "packet_len": 40 + REQUEST.len(), "iface": "any"})
    );
    let proto = arg(&events[0], "proto_http");
    assert_eq!(proto["direction"], "request");
    assert_eq!(
        (&proto["status"], &proto["status_code"]),
        (&json!(""), &json!(0))
    );
    assert_eq!(proto["headers"], request["headers"]);
    assert_eq!(arg(&events[0], "dst_port"), 80);
    let response = json!({
        "status": "201 Created",
        "status_code": 201,
        "protocol": "HTTP/1.1",
        "headers": {"Location": ["/api/v1/items/7"], "Transfer-Encoding": ["chunked"]},
        "content_length": -1
    });
    assert_eq!(arg(&events[3], "http_response"), &response);
    assert_eq!(arg(&events[2], "proto_http")["direction"], "response");
}

#[test]
fn what_is_not_an_http_head_gives_no_event() {
    let events = http_events(
        "http-none.pcap",
        &[
            // Headers cut off by the segment's end (Tracee's http.ReadRequest fails too).
            b"GET /big HTTP/1.1\r\nHost: a\r\nCookie: xxxxxxxx",
            // Not HTTP/1.x.
            b"HTTP/2.0 200 OK\r\n\r\n",
            b"SSH-2.0-OpenSSH_9.2\r\n\r\n",
        ],
        &[],
    );
    assert!(events.is_empty(), "{events:#?}");
}

#[test]
fn filters_on_http_arguments() {
    let get: &[u8] = b"GET /health HTTP/1.1\r\nHost: a.test\r\n\r\n";
    let ok: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    let payloads = [REQUEST, RESPONSE, get, ok];
    let run = |filter: &str| -> Vec<String> {
        http_events("http-filter.pcap", &payloads, &["--filter", filter])
            .iter()
            .map(|e| e["eventName"].as_str().unwrap().to_owned())
            .collect()
    };
    // An argument filter selects its own event, as Tracee's do.
    assert_eq!(
        run("net_packet_http_request.args.http_request.method=POST"),
        ["net_packet_http_request"]
    );
    assert_eq!(
        run("net_packet_http.args.proto_http.status_code>=200"),
        ["net_packet_http", "net_packet_http"],
        "the two responses (a request's status_code is 0)"
    );
    assert_eq!(
        run("net_packet_http_request.args.http_request.uri_path=*new"),
        ["net_packet_http_request"],
        "the decoded path"
    );
    assert_eq!(
        http_events(
            "http-filter.pcap",
            &payloads,
            &["--filter", "event=net_packet_http", "--filter", "port=80"]
        )
        .len(),
        4
    );
    let out = common::netcore(&["--filter", "net_packet_http.args.proto_http.verb=GET"]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("net_packet_http has no argument 'proto_http.verb'"),
        "{stderr}"
    );
}

#[test]
fn hostile_headers_stay_valid_json() {
    let hostile: &[u8] = b"GET /\"</script>\x01%ff HTTP/1.1\r\nHost: \"evil\\\r\n\
        X-\xff\xfe: \x1b[31m\"\r\nbad name: \xe2\x80\xa8\r\n\r\n";
    // events_of parses each line as JSON.
    let events = http_events("http-hostile.pcap", &[hostile], &[]);
    assert_eq!(events.len(), 2);
    let request = arg(&events[1], "http_request");
    assert_eq!(request["host"], "\"evil\\");
    assert_eq!(request["headers"]["bad name"], json!(["\u{2028}"]));
}

#[test]
fn a_connect_request_names_its_authority_as_host() {
    // Go's ReadRequest: `CONNECT abc:443` is host `abc:443` with no path.
    let connect: &[u8] = b"CONNECT abc:443 HTTP/1.1\r\nHost: other\r\n\r\n";
    let events = http_events("http-connect.pcap", &[connect], &[]);
    let request = events
        .iter()
        .find(|e| e["eventName"] == "net_packet_http_request")
        .expect("a request event");
    let fields = &arg(request, "http_request");
    assert_eq!(
        (&fields["method"], &fields["host"], &fields["uri_path"]),
        (&"CONNECT".into(), &"abc:443".into(), &"".into()),
        "{request}"
    );
}
