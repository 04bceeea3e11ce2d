//! `net_connect_failure` from a capture: a SYN answered by a RST is refused, a UDP
//! datagram answered by an ICMP port unreachable (traced back through the datagram the
//! error quotes) is unreachable, SYNs nobody answered by the end are a timeout; each
//! reported once, with the attempts the originator made.

mod common;

use common::live::arg;
use serde_json::Value;

const CLIENT: [u8; 4] = [10, 0, 0, 2];
const SERVER: [u8; 4] = [10, 0, 0, 1];

/// An ICMP destination-unreachable (code 3, port) from the server quoting `datagram`.
fn port_unreachable(datagram: &[u8]) -> Vec<u8> {
    let mut icmp = vec![3, 3, 0, 0, 0, 0, 0, 0];
    icmp.extend_from_slice(&datagram[..28]);
    let total = (20 + icmp.len()) as u16;
    let mut p = vec![0x45, 0];
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&[0, 2, 0, 0, 64, 1, 0, 0]);
    p.extend_from_slice(&SERVER);
    p.extend_from_slice(&CLIENT);
    p.extend_from_slice(&icmp);
    p
}

#[test]
fn refused_and_unreachable_connects_are_reported_once_with_their_attempts() {
    const SYN: u8 = 0x02;
    const RST_ACK: u8 = 0x14;
    let syn = common::ipv4_tcp((CLIENT, 40000), (SERVER, 81), 1000, SYN, b"");
    let rst = common::ipv4_tcp((SERVER, 81), (CLIENT, 40000), 0, RST_ACK, b"");
    let datagram = common::dns_builder::ipv4_udp(CLIENT, SERVER, 40001, 9, b"ping");
    let capture = common::capture(
        "connect-failures.pcap",
        1_700_000_000,
        vec![
            syn.clone(),
            syn,
            rst.clone(),
            rst,
            datagram.clone(),
            port_unreachable(&datagram),
            datagram.clone(),
            port_unreachable(&datagram),
            common::ipv4_tcp((CLIENT, 40002), (SERVER, 82), 5000, SYN, b""),
            common::ipv4_tcp((CLIENT, 40002), (SERVER, 82), 5000, SYN, b""),
        ],
    );
    let events = common::events_of(&[
        "--json",
        "--events",
        "net_connect_failure",
        "-r",
        capture.to_str().unwrap(),
    ]);
    assert_eq!(events.len(), 3, "{events:#?}");
    assert!(
        events
            .iter()
            .all(|e| e["eventName"] == "net_connect_failure")
    );
    let (refused, unreachable, timeout) = (&events[0], &events[1], &events[2]);
    assert_eq!(arg(timeout, "cause"), "timeout");
    assert_eq!(arg(timeout, "dst_port"), 82);
    assert_eq!(arg(timeout, "attempts"), 2);
    // Errors are the kernel's word on a local socket: none in a capture.
    assert!(events.iter().all(|e| arg(e, "error") == ""));
    assert_eq!(arg(refused, "cause"), "refused");
    assert_eq!(arg(refused, "proto"), "TCP");
    assert_eq!(arg(refused, "dst"), "10.0.0.1");
    assert_eq!(arg(refused, "dst_port"), 81);
    assert_eq!(arg(refused, "attempts"), 2);
    assert_eq!(arg(refused, "icmp_type"), -1);
    assert_eq!(arg(unreachable, "cause"), "unreachable");
    assert_eq!(arg(unreachable, "proto"), "UDP");
    assert_eq!(arg(unreachable, "src_port"), 40001);
    assert_eq!(arg(unreachable, "dst_port"), 9);
    assert_eq!(arg(unreachable, "attempts"), 1);
    assert_eq!(
        (arg(unreachable, "icmp_type"), arg(unreachable, "icmp_code")),
        (&Value::from(3), &Value::from(3))
    );
    // Filtered like the flow events.
    let only_udp = common::events_of(&[
        "--json",
        "--events",
        "net_connect_failure",
        "--filter",
        "net_connect_failure.args.proto=UDP",
        "-r",
        capture.to_str().unwrap(),
    ]);
    assert_eq!(only_udp.len(), 1, "{only_udp:#?}");
}
