//! Tracee's YAML detectors (`--signatures DIR` with `type: detector` files): each fires
//! once per event that passes its filters and conditions, with its output fields and its
//! threat as the finding's metadata; nested fields of the network events are readable
//! (netcore's superset); the owner is `workload`; lists are shared; a file that does not
//! load is named with its problem.

use std::path::{Path, PathBuf};

use serde_json::Value;

mod common;
use common::live::arg;
use common::{events_of, ipv4_tcp, netcore, root, temp_file};

fn detectors() -> String {
    root().join("tests/data/detectors").display().to_string()
}

#[test]
fn a_dns_detector_reads_nested_fields_and_fires_once_per_matching_event() {
    let capture = root().join("tests/golden/ethernet.pcap");
    let capture = capture.to_str().unwrap();
    // What the detector should find, read from the events themselves: queries to port 53
    // for a name under alias.
    let expected: Vec<Value> = events_of(&["--json", "--events", "net_packet_dns", "-r", capture])
        .into_iter()
        .filter(|e| arg(e, "dst_port") == 53)
        .filter(|e| {
            arg(e, "proto_dns")["questions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|q| q["name"].as_str().unwrap().starts_with("alias."))
        })
        .collect();
    assert!(!expected.is_empty());
    let findings = events_of(&[
        "--json",
        "-r",
        capture,
        "--signatures",
        &detectors(),
        "--findings-only",
    ]);
    let alias: Vec<&Value> = findings
        .iter()
        .filter(|f| f["eventName"] == "alias_lookup")
        .collect();
    assert_eq!(alias.len(), expected.len(), "{findings:#?}");
    for (finding, event) in alias.iter().zip(&expected) {
        assert_eq!(finding["timestamp"], event["timestamp"]);
        let question = arg(event, "proto_dns")["questions"][0]["name"].clone();
        assert_eq!(arg(finding, "query"), &question);
        assert_eq!(arg(finding, "port"), 53);
        let labels: Vec<&str> = question.as_str().unwrap().split('.').collect();
        assert_eq!(arg(finding, "labels"), &serde_json::json!(labels));
        // The threat as Tracee's legacy findings carry it.
        let properties = &finding["metadata"]["Properties"];
        assert_eq!(properties["Severity"], 2, "{finding:#}");
        assert_eq!(properties["external_id"], "T1018");
        assert_eq!(properties["Category"], "Discovery");
        assert_eq!(properties["signatureID"], "yaml-dns-001");
        assert_eq!(arg(finding, "triggeredBy")["name"], "net_packet_dns");
    }
}

/// A pcapng of SYNs from `comm` (pid 4242, pod web) to ports 1000..1000+count, and one
/// SYN without an owner.
fn client_syns(name: &str, comm: &str, count: u16) -> PathBuf {
    let owner = [
        "PID: 4242\nCmd: /usr/bin/x\nArgs: ".to_owned(),
        format!("ThreadId: 4242\nThreadName: {comm}"),
        "PodName: web-1\nPodNamespace: shop\nPodUID: 2a0e\nPodLabels: \nPodAnnotations: "
            .to_owned(),
    ];
    let owner: Vec<&str> = owner.iter().map(String::as_str).collect();
    let mut file = common::owned_syns(count, &owner);
    let unowned = ipv4_tcp(([10, 0, 0, 3], 50001), ([10, 0, 0, 9], 2000), 1, 0x02, b"");
    file.packet(0, 1_700_000_001_000_000_000, &unowned);
    temp_file(name, &file.bytes)
}

#[test]
fn owners_lists_and_filters_select_what_a_detector_sees() {
    let run = |capture: &Path| {
        events_of(&[
            "--json",
            "-r",
            capture.to_str().unwrap(),
            "--signatures",
            &detectors(),
            "--events",
            "client_high_port",
        ])
    };
    let curl = run(&client_syns("detector-curl.pcapng", "curl", 12));
    assert_eq!(curl.len(), 12, "{curl:#?}");
    for (i, finding) in curl.iter().enumerate() {
        assert_eq!(arg(finding, "client"), "curl");
        assert_eq!(arg(finding, "pod"), "web-1");
        assert_eq!(arg(finding, "port"), 1000 + i as u64);
        // An optional field that does not evaluate is left out.
        assert!(arg(finding, "missing").is_null(), "{finding:#}");
        assert_eq!(finding["metadata"]["Properties"]["Severity"], 1);
    }
    // Another process (out of the scope filter and the list): nothing.
    assert!(run(&client_syns("detector-nc.pcapng", "nc", 12)).is_empty());
}

#[test]
fn detector_files_that_do_not_load_are_named_with_their_problem() {
    let dir = std::env::temp_dir().join(format!("netcore-detectors-{}", std::process::id()));
    let capture = root().join("tests/golden/ethernet.pcap");
    let detector = |requirements: &str, conditions: &str| {
        format!(
            "type: detector\nid: bad-1\nproduced_event:\n  name: bad\nrequirements:\n  events:\n{requirements}\nconditions:\n{conditions}\n"
        )
    };
    let dns = "    - name: net_packet_dns";
    for (file, text, says) in [
        (
            "syntax.yaml",
            "type: detector\nid: [unclosed\n".to_owned(),
            "syntax.yaml: ",
        ),
        ("notype.yaml", "id: x\n".to_owned(), "missing field `type`"),
        (
            "typo.yaml",
            detector(dns, "  - \"true\"").replace("conditions:", "conditons:"),
            "unknown field `conditons`",
        ),
        (
            "event.yaml",
            detector("    - name: sched_process_exec", "  - \"true\""),
            "sched_process_exec is not a packet event",
        ),
        (
            "filter.yaml",
            detector(
                &format!("{dns}\n      data_filters: [\"no_such_arg=1\"]"),
                "  - \"true\"",
            ),
            "no_such_arg",
        ),
        (
            "cel.yaml",
            detector(dns, "  - getEventData(\"dst_port\") ==== 53"),
            "condition `getEventData(\"dst_port\") ==== 53`",
        ),
        (
            "deep.yaml",
            detector(
                dns,
                "  - 'getEventData(\"proto_dns\").answers.all(a, getEventData(\"proto_dns\").answers.all(b, getEventData(\"proto_dns\").answers.exists(c, c == b)))'",
            ),
            "comprehensions nest 3 deep",
        ),
    ] {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(file), text).unwrap();
        let out = netcore(&[
            "-r",
            capture.to_str().unwrap(),
            "--signatures",
            dir.to_str().unwrap(),
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{file}: {stderr}");
        assert!(stderr.contains(says), "{file}: {stderr}");
        assert!(stderr.contains(file), "{file} not named: {stderr}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
