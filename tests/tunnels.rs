//! Tunnels: the golden capture's frames wrapped in each encapsulation decode, with
//! `--tunnel inner`, to exactly the events of the frames themselves; `outer` and `both`
//! add or keep the carrier's events. MPLS and PPPoE, below IP, need no option.

mod common;

use common::{Pcap, read_pcap, temp_file, write_pcap};
use serde_json::Value;

fn golden() -> Pcap {
    read_pcap(&common::root().join("tests/golden/ethernet.pcap"))
}

fn events_of(pcap: &Pcap, name: &str, extra: &[&str]) -> Vec<Value> {
    let path = temp_file(name, &write_pcap(pcap, false));
    let mut args = vec!["--json", "-r", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    common::events_of(&args)
}

/// An IPv4 header (protocol `protocol`) in front of `payload`.
fn ipv4(protocol: u8, payload: &[u8]) -> Vec<u8> {
    let total = (20 + payload.len()) as u16;
    let mut p = vec![0x45, 0];
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&[
        0, 7, 0x40, 0, 64, protocol, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2,
    ]);
    p.extend_from_slice(payload);
    p
}

/// UDP from port 50000 to `port` carrying `payload`.
fn udp(port: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = 50000u16.to_be_bytes().to_vec();
    u.extend_from_slice(&port.to_be_bytes());
    u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    u
}

/// An Ethernet frame of `ethertype` around `payload`.
fn ethernet(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 0xaa, 2, 0, 0, 0, 0, 0xbb];
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// Every frame of the golden capture, rewritten by `wrap`.
fn wrapped(wrap: impl Fn(&[u8]) -> Option<Vec<u8>>) -> Pcap {
    let mut pcap = golden();
    pcap.records.retain_mut(|r| match wrap(&r.data) {
        Some(data) => {
            r.data = data;
            true
        }
        None => false,
    });
    pcap
}

/// Puts an Ethernet frame inside a carrier.
type Wrap = Box<dyn Fn(&[u8]) -> Vec<u8>>;

fn names(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["eventName"].as_str().unwrap())
        .collect()
}

#[test]
fn every_encapsulation_gives_the_inner_packets_events() {
    let original = events_of(&golden(), "original.pcap", &[]);
    let ethernet_carriers: [(&str, Wrap); 5] = [
        (
            "vxlan",
            Box::new(|f| {
                ethernet(
                    0x0800,
                    &ipv4(
                        17,
                        &udp(4789, &[&[0x08, 0, 0, 0, 0, 0, 42, 0][..], f].concat()),
                    ),
                )
            }),
        ),
        // Geneve with 8 bytes of options, carrying Ethernet.
        (
            "geneve",
            Box::new(|f| {
                let header = [0x02, 0, 0x65, 0x58, 0, 0, 7, 0, 1, 2, 3, 4, 5, 6, 7, 8];
                ethernet(0x0800, &ipv4(17, &udp(6081, &[&header[..], f].concat())))
            }),
        ),
        // GRE with a key, transparent Ethernet bridging.
        (
            "gre",
            Box::new(|f| {
                let header = [0x20, 0, 0x65, 0x58, 0, 0, 0, 9];
                ethernet(0x0800, &ipv4(47, &[&header[..], f].concat()))
            }),
        ),
        // ERSPAN type II: GRE with a sequence number, then ERSPAN's 8 bytes.
        (
            "erspan2",
            Box::new(|f| {
                let header = [
                    0x10, 0, 0x88, 0xbe, 0, 0, 0, 1, 0x10, 0x01, 0, 0, 0, 0, 0, 0,
                ];
                ethernet(0x0800, &ipv4(47, &[&header[..], f].concat()))
            }),
        ),
        // ERSPAN type III: GRE with a sequence number, then ERSPAN's 12 bytes (no O flag).
        (
            "erspan3",
            Box::new(|f| {
                let mut header = vec![0x10, 0, 0x22, 0xeb, 0, 0, 0, 1];
                header.extend_from_slice(&[0x20, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
                ethernet(0x0800, &ipv4(47, &[&header[..], f].concat()))
            }),
        ),
    ];
    for (name, wrap) in &ethernet_carriers {
        let pcap = wrapped(|f| Some(wrap(f)));
        let file = format!("{name}.pcap");
        let inner = events_of(&pcap, &file, &["--tunnel", "inner"]);
        assert_eq!(
            inner, original,
            "{name}: the inner packets' events, exactly"
        );
        let outer = events_of(&pcap, &file, &["--tunnel", "outer"]);
        assert!(
            names(&outer)
                .iter()
                .all(|n| *n == "net_packet_ipv4" || *n == "net_packet_udp"),
            "{name}: only the carrier's events"
        );
        assert_eq!(outer.len() % pcap.records.len(), 0, "{name}");
        let both = events_of(&pcap, &file, &[]);
        assert_eq!(
            both.len(),
            outer.len() + original.len(),
            "{name}: file mode shows both"
        );
    }
}

#[test]
fn ip_in_ip_mpls_and_pppoe_carry_ip_packets() {
    // The golden capture's IP packets, without their Ethernet header.
    let ip_only = |f: &[u8]| match f[12..14] {
        [0x08, 0x00] | [0x86, 0xdd] => Some(f[14..].to_vec()),
        _ => None,
    };
    let plain = wrapped(|f| {
        ip_only(f).map(|ip| ethernet(if ip[0] >> 4 == 4 { 0x0800 } else { 0x86dd }, &ip))
    });
    let original = events_of(&plain, "plain.pcap", &[]);
    let ip_in_ip = wrapped(|f| {
        ip_only(f).map(|ip| ethernet(0x0800, &ipv4(if ip[0] >> 4 == 4 { 4 } else { 41 }, &ip)))
    });
    assert_eq!(
        events_of(&ip_in_ip, "ipip.pcap", &["--tunnel", "inner"]),
        original
    );
    // Two MPLS labels, the second the bottom of the stack.
    let mpls = wrapped(|f| {
        ip_only(f).map(|ip| {
            ethernet(
                0x8847,
                &[&[0, 0x10, 0x00, 64, 0, 0x20, 0x01, 64][..], &ip].concat(),
            )
        })
    });
    assert_eq!(events_of(&mpls, "mpls.pcap", &[]), original);
    // A PPPoE session: version/type, code, session id, length, then PPP's protocol.
    let pppoe = wrapped(|f| {
        ip_only(f).map(|ip| {
            let proto: [u8; 2] = if ip[0] >> 4 == 4 {
                [0, 0x21]
            } else {
                [0, 0x57]
            };
            let len = ((ip.len() + 2) as u16).to_be_bytes();
            ethernet(
                0x8864,
                &[
                    &[0x11, 0, 0, 7, len[0], len[1], proto[0], proto[1]][..],
                    &ip,
                ]
                .concat(),
            )
        })
    });
    assert_eq!(events_of(&pppoe, "pppoe.pcap", &[]), original);
}

#[test]
fn nesting_is_bounded_and_counted() {
    // A VXLAN frame inside VXLAN inside … six deep.
    let mut frame = golden().records[30].data.clone();
    for _ in 0..6 {
        frame = ethernet(
            0x0800,
            &ipv4(
                17,
                &udp(4789, &[&[0x08, 0, 0, 0, 0, 0, 1, 0][..], &frame].concat()),
            ),
        );
    }
    let mut pcap = golden();
    pcap.records.truncate(1);
    pcap.records[0].data = frame;
    let path = temp_file("nested.pcap", &write_pcap(&pcap, false));
    let out = common::netcore(&["--json", "-r", path.to_str().unwrap()]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("4 decapsulated, 1 nested too deep to decapsulate"),
        "{stderr}"
    );
}
