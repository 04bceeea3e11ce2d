//! Connection health as tshark's TCP analysis counts it and as netcore's `net_flow`
//! records report it, keyed alike, so that a test can compare the two on one capture.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use super::live::arg;

/// A TCP connection by its originator's and responder's address and port.
pub type Endpoints = ((String, u64), (String, u64));

/// One connection's health: `initial_rtt` (ns) and, originator then responder, the
/// retransmissions, out-of-order segments and zero windows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Health {
    /// `tcp.analysis.initial_rtt`, ns; 0 when absent.
    pub initial_rtt: u64,
    /// The six counts, in `net_flow`'s argument order without the `orig_`/`resp_`
    /// prefixes: retransmits, out_of_order, zero_windows, each originator then responder.
    pub counts: [u64; 6],
}

/// The counts' argument names, in [`Health::counts`] order.
pub const COUNT_ARGS: [&str; 6] = [
    "orig_retransmits",
    "resp_retransmits",
    "orig_out_of_order",
    "resp_out_of_order",
    "orig_zero_windows",
    "resp_zero_windows",
];

/// tshark's analysis of every TCP connection in `capture`; the originator sent its first
/// packet, or received it when it is a SYN+ACK (as netcore decides).
pub fn tshark_health(capture: &Path) -> BTreeMap<Endpoints, Health> {
    let out = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(capture)
        .args(["-T", "fields", "-E", "separator=|", "-Y", "tcp"])
        .args([
            "-e",
            "tcp.stream",
            "-e",
            "ip.src",
            "-e",
            "ipv6.src",
            "-e",
            "tcp.srcport",
        ])
        .args([
            "-e",
            "ip.dst",
            "-e",
            "ipv6.dst",
            "-e",
            "tcp.dstport",
            "-e",
            "tcp.flags",
        ])
        .args([
            "-e",
            "tcp.analysis.retransmission",
            "-e",
            "tcp.analysis.out_of_order",
        ])
        .args([
            "-e",
            "tcp.analysis.zero_window",
            "-e",
            "tcp.analysis.initial_rtt",
        ])
        .output()
        .expect("running tshark");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut streams: BTreeMap<u64, (Option<Endpoints>, Health)> = BTreeMap::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let f: Vec<&str> = line.split('|').collect();
        let stream: u64 = f[0].parse().unwrap();
        // The innermost addresses of a tunnelled packet.
        let address = |v4: &str, v6: &str| [v4, v6].concat().rsplit(',').next().unwrap().to_owned();
        let src = (address(f[1], f[2]), f[3].parse().unwrap());
        let dst = (address(f[4], f[5]), f[6].parse().unwrap());
        let flags = u16::from_str_radix(f[7].trim_start_matches("0x"), 16).unwrap();
        let (endpoints, health) = streams.entry(stream).or_default();
        if endpoints.is_none() {
            // The originator sent the first packet, unless it is a SYN+ACK.
            *endpoints = Some(match flags & 0x12 == 0x12 {
                true => (dst, src.clone()),
                false => (src.clone(), dst),
            });
        }
        let Some((orig, _)) = endpoints else { continue };
        let side = usize::from(*orig != src);
        for (kind, field) in [f[8], f[9], f[10]].into_iter().enumerate() {
            health.counts[kind * 2 + side] += u64::from(!field.is_empty());
        }
        if !f[11].is_empty() {
            health.initial_rtt = seconds_to_ns(f[11]);
        }
    }
    streams
        .into_values()
        .filter_map(|(endpoints, health)| Some((endpoints?, health)))
        .collect()
}

/// netcore's health of each TCP connection among `events` (its `net_flow` records).
pub fn netcore_health(events: &[Value]) -> BTreeMap<Endpoints, Health> {
    events
        .iter()
        .filter(|e| e["eventName"] == "net_flow" && arg(e, "proto") == "TCP")
        .map(|e| {
            let endpoint = |address: &str, port: &str| {
                let address = arg(e, address).as_str().unwrap().to_owned();
                (address, arg(e, port).as_u64().unwrap())
            };
            let health = Health {
                initial_rtt: arg(e, "initial_rtt").as_u64().unwrap(),
                counts: COUNT_ARGS.map(|name| arg(e, name).as_u64().unwrap()),
            };
            (
                (endpoint("src", "src_port"), endpoint("dst", "dst_port")),
                health,
            )
        })
        .collect()
}

/// `0.000040123` (tshark's seconds) in ns.
fn seconds_to_ns(seconds: &str) -> u64 {
    let (whole, fraction) = seconds.split_once('.').unwrap_or((seconds, ""));
    let fraction = format!("{fraction:0<9}");
    whole.parse::<u64>().unwrap() * 1_000_000_000 + fraction[..9].parse::<u64>().unwrap()
}

/// Asserts that netcore's health of every connection tshark analysed equals tshark's:
/// the counts exactly, the initial RTT within 1 µs. Returns how many were compared.
pub fn assert_health_agrees(
    netcore: &BTreeMap<Endpoints, Health>,
    tshark: &BTreeMap<Endpoints, Health>,
) -> usize {
    assert!(!tshark.is_empty(), "tshark analysed no connection");
    for (endpoints, expected) in tshark {
        let got = netcore
            .get(endpoints)
            .unwrap_or_else(|| panic!("no net_flow for {endpoints:?}: {netcore:#?}"));
        assert_eq!(
            got.counts, expected.counts,
            "{endpoints:?} ({COUNT_ARGS:?})"
        );
        assert!(
            got.initial_rtt.abs_diff(expected.initial_rtt) <= 1_000,
            "{endpoints:?}: initial_rtt {} ns, tshark {} ns",
            got.initial_rtt,
            expected.initial_rtt
        );
    }
    tshark.len()
}
