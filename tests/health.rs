//! Connection health against Wireshark: on every capture under `tests/` with TCP
//! connections — tests/data/health/lossy.pcap (random loss and a slow reader, recorded by
//! its record.sh), the golden captures and tcpdump's public test captures — each
//! connection's retransmissions, out-of-order segments and zero windows per direction in
//! netcore's `net_flow` equal the packets tshark's TCP analysis marks, and `initial_rtt`
//! is within 1 µs of tshark's, on one decoding thread and on two.
//!
//! tshark is installed by `scripts/setup.sh`; without it this test skips loudly, and under
//! `CI=true` it fails instead.

mod common;

use std::path::PathBuf;

use common::health::{assert_health_agrees, netcore_health, tshark_health};

/// Captures whose connections netcore and tshark split differently, and why.
const DIFFERENT_CONNECTIONS: &[(&str, &str)] = &[];

fn captures() -> Vec<PathBuf> {
    let root = common::root();
    let mut captures = vec![root.join("tests/data/health/lossy.pcap")];
    for folder in ["tests/golden", "tests/data/tcpdump"] {
        let folder = root.join(folder);
        for name in common::file_names(&folder) {
            if name.ends_with(".pcap") || name.ends_with(".pcapng") {
                captures.push(folder.join(name));
            }
        }
    }
    captures
}

#[test]
fn tcp_health_equals_tsharks_analysis() {
    if !common::tshark_available("tcp_health_equals_tsharks_analysis") {
        return;
    }
    let mut compared = 0;
    for capture in captures() {
        let name = capture.file_name().unwrap().to_string_lossy().into_owned();
        if DIFFERENT_CONNECTIONS.iter().any(|(n, _)| *n == name) {
            continue;
        }
        let tshark = tshark_health(&capture);
        if tshark.is_empty() {
            continue;
        }
        let path = capture.to_str().unwrap();
        for threads in ["1", "2"] {
            let events = common::events_of(&[
                "--json",
                "--events",
                "net_flow",
                "--threads",
                threads,
                "-r",
                path,
            ]);
            eprintln!("{name}, {threads} thread(s): {} connections", tshark.len());
            compared += assert_health_agrees(&netcore_health(&events), &tshark);
        }
    }
    assert!(compared >= 8, "only {compared} connections compared");
}

#[test]
fn the_lossy_capture_has_what_it_is_for() {
    if !common::tshark_available("the_lossy_capture_has_what_it_is_for") {
        return;
    }
    let health = tshark_health(&common::root().join("tests/data/health/lossy.pcap"));
    assert_eq!(health.len(), 4, "{health:#?}");
    let total = |index: usize| health.values().map(|h| h.counts[index]).sum::<u64>();
    // Retransmissions by the client, zero windows from the slow reader.
    assert!(total(0) >= 10 && total(5) >= 10, "{health:#?}");
    assert!(health.values().all(|h| h.initial_rtt > 0), "{health:#?}");
}
