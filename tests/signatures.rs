//! Signatures over capture files: the reference's e2e DNS signature, NXDOMAIN bursts and
//! port scans, their findings in Tracee's `FindingToEvent` shape (both schemas), and the
//! command line around them.

mod common;

use common::dns_builder::{Data, Flags, MessageBuilder, ipv4_udp};
use common::{capture, events_of, ipv4_tcp, netcore};
use serde_json::{Value, json};

const RESOLVER: [u8; 4] = [10, 0, 0, 53];
const CLIENT: [u8; 4] = [10, 0, 0, 2];

/// A DNS response to `name`/`qtype` with one answer.
fn answer(id: u16, name: &str, qtype: u16, data: &Data<'_>) -> Vec<u8> {
    let flags = Flags {
        qr: 1,
        rd: 1,
        ra: 1,
        ..Flags::default()
    }
    .word();
    let mut m = MessageBuilder::new(id, flags, [1, 1, 0, 0], true);
    m.question(name, qtype, 1);
    m.record(name, qtype, 1, 300, data);
    ipv4_udp(RESOLVER, CLIENT, 53, 40000 + id, &m.bytes)
}

/// The four answers the reference's signature waits for, for uol.com.br.
fn uol_answers(first_id: u16) -> Vec<Vec<u8>> {
    vec![
        answer(first_id, "uol.com.br", 15, &Data::Mx(10, "mx.uol.com.br")),
        answer(
            first_id + 1,
            "uol.com.br",
            2,
            &Data::Name("eliot.uol.com.br"),
        ),
        answer(
            first_id + 2,
            "uol.com.br",
            6,
            &Data::Soa("eliot.uol.com.br", "root.uol.com.br", [1, 2, 3, 4, 5]),
        ),
        answer(
            first_id + 3,
            "uol.com.br",
            16,
            &Data::Txt(vec![b"v=spf1 include:spf.uol.com.br ~all"]),
        ),
    ]
}

fn run(name: &str, packets: Vec<Vec<u8>>, args: &[&str]) -> Vec<Value> {
    let path = capture(name, 1_700_000_000, packets);
    let mut all = vec!["--json", "-r", path.to_str().unwrap()];
    all.extend(args);
    events_of(&all)
}

#[test]
fn the_reference_dns_signature_fires_once_per_complete_set() {
    let mut packets = uol_answers(1);
    packets.extend(uol_answers(11)); // a second complete set: fires again
    packets.extend(uol_answers(21).into_iter().take(3)); // incomplete: no finding
    let events = run(
        "sig-e2e.pcap",
        packets,
        &["--signatures", "dns_e2e", "--findings-only"],
    );
    assert_eq!(events.len(), 2, "{events:#?}");
    let finding = &events[0];
    assert_eq!(
        (&finding["eventId"], &finding["eventName"]),
        (&json!("6000"), &json!("dns_e2e"))
    );
    // The envelope is the triggering event's (the TXT answer, the 4th packet).
    assert_eq!(finding["timestamp"], 1_700_000_000_003_000_000u64);
    assert_eq!(finding["argsNum"], 1);
    let trigger = &finding["args"][0];
    assert_eq!(
        (&trigger["name"], &trigger["type"]),
        (&json!("triggeredBy"), &json!("unknown"))
    );
    assert_eq!(trigger["value"]["id"], 2013);
    assert_eq!(trigger["value"]["name"], "net_packet_dns");
    assert_eq!(trigger["value"]["returnValue"], 0);
    let dns = &trigger["value"]["args"][4];
    assert_eq!(dns["name"], "proto_dns");
    assert_eq!(
        dns["value"]["answers"][0]["TXTs"][0],
        "v=spf1 include:spf.uol.com.br ~all"
    );
    assert_eq!(
        finding["metadata"],
        json!({
            "Version": "0.1.0",
            "Description": "Network E2E Tests: DNS",
            "Tags": ["e2e", "network"],
            "Properties": {
                "Category": null, "Severity": 0, "Technique": null, "external_id": null,
                "id": null, "signatureID": "DNS", "signatureName": "Network DNS Test"
            }
        })
    );
    // v0.24 calls the trigger detectedFrom, with its own ids.
    let v024 = run(
        "sig-e2e-v024.pcap",
        uol_answers(1),
        &[
            "--signatures",
            "builtin",
            "--findings-only",
            "--schema",
            "tracee-0.24",
        ],
    );
    assert_eq!(v024[0]["args"][0]["name"], "detectedFrom");
    assert_eq!(v024[0]["args"][0]["value"]["id"], 2006);
    // Another domain: nothing.
    let other = run(
        "sig-e2e-other.pcap",
        uol_answers(1),
        &[
            "--signatures",
            "dns_e2e",
            "--findings-only",
            "--e2e-dns-domain",
            "example.com",
        ],
    );
    assert!(other.is_empty());
}

#[test]
fn findings_come_with_the_printed_events_unless_findings_only() {
    let events = run(
        "sig-mixed.pcap",
        uol_answers(1),
        &["--signatures", "builtin"],
    );
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["eventName"].as_str().unwrap())
        .collect();
    assert_eq!(names.iter().filter(|n| **n == "net_packet_dns").count(), 4);
    assert_eq!(names.iter().filter(|n| **n == "dns_e2e").count(), 1);
    // The finding follows its triggering packet's events.
    let at = names.iter().position(|n| *n == "dns_e2e").unwrap();
    assert_eq!(at, names.len() - 1);
    assert!(names[at - 1].starts_with("net_packet_dns"));
    // Signatures see their events even when --events prints others.
    let tcp_only = run(
        "sig-tcp-only.pcap",
        uol_answers(1),
        &["--signatures", "dns_e2e", "--events", "net_packet_tcp"],
    );
    let names: Vec<&str> = tcp_only
        .iter()
        .map(|e| e["eventName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["dns_e2e"]);
}

#[test]
fn a_port_scan_and_an_nxdomain_burst_are_found() {
    // 30 SYNs to 30 ports of one host, then 22 NXDOMAIN answers.
    let mut packets: Vec<Vec<u8>> = (0..30u16)
        .map(|p| ipv4_tcp((CLIENT, 50000), ([10, 0, 0, 9], 1000 + p), 1, 0x02, b""))
        .collect();
    let nx = Flags {
        qr: 1,
        rd: 1,
        ra: 1,
        rcode: 3,
        ..Flags::default()
    }
    .word();
    for i in 0..22u16 {
        let mut m = MessageBuilder::new(i, nx, [1, 0, 0, 0], true);
        m.question(&format!("x{i}qz7.example.test"), 1, 1);
        packets.push(ipv4_udp(RESOLVER, CLIENT, 53, 41000 + i, &m.bytes));
    }
    let events = run(
        "sig-scan.pcap",
        packets,
        &["--signatures", "builtin", "--findings-only"],
    );
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["eventName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["port_scan", "nxdomain_burst"], "{events:#?}");
    let scan = &events[0];
    assert_eq!(data(scan, "host"), "10.0.0.9");
    assert_eq!(data(scan, "ports").as_array().unwrap().len(), 25);
    assert_eq!(scan["metadata"]["Properties"]["external_id"], "T1046");
    let burst = &events[1];
    assert_eq!(data(burst, "nxdomain_count"), 20);
    assert_eq!(data(burst, "names").as_array().unwrap().len(), 10);
    // Data arguments are sorted by name and typed as Tracee's getCType names Go types.
    let arg_names: Vec<&str> = burst["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        arg_names,
        ["names", "nxdomain_count", "window_seconds", "triggeredBy"]
    );
    assert_eq!(burst["args"][1]["type"], "long");
    assert_eq!(burst["args"][0]["type"], "const char**");
}

#[test]
fn the_command_line_around_signatures() {
    let out = netcore(&["--list-signatures"]);
    let listed = String::from_utf8(out.stdout).unwrap();
    for id in ["DNS", "NET-NXDOMAIN-BURST", "NET-PORT-SCAN"] {
        assert!(listed.contains(id), "{listed}");
    }
    let golden = common::root().join("tests/golden/ethernet.pcap");
    let out = netcore(&["--signatures", "nope", "-r", golden.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown signature 'nope'"));
    // Text mode: one line per finding.
    let path = capture("sig-text.pcap", 1_700_000_000, uol_answers(1));
    let out = netcore(&[
        "--text-events",
        "--signatures",
        "dns_e2e",
        "--findings-only",
        "-r",
        path.to_str().unwrap(),
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.contains("dns_e2e signature=DNS severity=0 on net_packet_dns"),
        "{text}"
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("findings: DNS=1"), "{stderr}");
}

#[test]
fn rego_signatures_in_tracees_abi() {
    let dir = common::root().join("tests/data/rego");
    let events = run(
        "sig-rego.pcap",
        uol_answers(1),
        &["--signatures", dir.to_str().unwrap(), "--findings-only"],
    );
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["eventName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["mx_lookup", "spf_record"], "{events:#?}");
    let mx = &events[0];
    assert_eq!(mx["eventId"], "6100");
    // An object verdict is the finding's data; true is a finding without data.
    assert_eq!(
        mx["args"][0],
        json!({"name": "exchange", "type": "const char *", "value": "mx.uol.com.br"})
    );
    assert_eq!(
        mx["args"][1],
        json!({"name": "preference", "type": "long", "value": 10})
    );
    assert_eq!(mx["args"][2]["name"], "triggeredBy");
    assert_eq!(mx["metadata"]["Properties"]["external_id"], "T1018");
    assert_eq!(mx["metadata"]["Properties"]["signatureID"], "TRC-NET-MX");
    assert_eq!(events[1]["argsNum"], 1);
    // Combined with the built-in ones.
    let both = run(
        "sig-rego-builtin.pcap",
        uol_answers(1),
        &[
            "--signatures",
            &format!("builtin,{}", dir.display()),
            "--findings-only",
        ],
    );
    assert_eq!(both.len(), 3);
    // A file that does not parse is named, with its line.
    let broken = common::root().join("tests/data/rego-broken");
    let golden = common::root().join("tests/golden/ethernet.pcap");
    let out = netcore(&[
        "--signatures",
        broken.to_str().unwrap(),
        "-r",
        golden.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("broken.rego:"), "{stderr}");
}

/// A capture of `packets` at the given seconds.
fn timed_capture(name: &str, packets: Vec<(u32, Vec<u8>)>) -> std::path::PathBuf {
    let records = packets
        .into_iter()
        .map(|(t, data)| common::Record {
            ts_sec: 1_700_000_000 + t,
            ts_frac: 0,
            data,
        })
        .collect();
    let pcap = common::Pcap {
        linktype: 101,
        nanos: false,
        records,
    };
    common::temp_file(name, &common::write_pcap(&pcap, false))
}

fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let m = MessageBuilder::query(id, name, qtype);
    ipv4_udp(CLIENT, RESOLVER, 40000 + id, 53, &m.bytes)
}

fn findings(path: &std::path::Path, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["--json", "--findings-only", "-r", path.to_str().unwrap()];
    args.extend(extra);
    events_of(&args)
}

fn data(event: &Value, name: &str) -> Value {
    event["args"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == name)
        .unwrap()["value"]
        .clone()
}

#[test]
fn dns_tunnelling_beaconing_and_indicators() {
    // A 60-byte label, then an ordinary query.
    let long = format!("{}.t.evil.example", "a".repeat(60));
    let path = timed_capture(
        "sig-tunnel.pcap",
        vec![
            (0, query(1, &long, 16)),
            (1, query(2, "www.example.test", 1)),
        ],
    );
    let found = findings(&path, &["--signatures", "dns_tunnel"]);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(data(&found[0], "reason"), "long label");
    assert_eq!(data(&found[0], "domain"), "evil.example");
    // Eight SYNs to one service every 30 s: a beacon; jittered ones are not.
    let syn = |port| ipv4_tcp((CLIENT, 50000), ([198, 51, 100, 7], port), 1, 0x02, b"");
    let mut packets: Vec<(u32, Vec<u8>)> = (0..8).map(|i| (i * 30, syn(443))).collect();
    packets.extend([0, 13, 41, 47, 90, 101, 160, 171].map(|t| (t, syn(8443))));
    packets.sort_by_key(|(t, _)| *t);
    let path = timed_capture("sig-beacon.pcap", packets);
    let found = findings(&path, &["--signatures", "beaconing"]);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(
        (data(&found[0], "port"), data(&found[0], "interval_ms")),
        (json!(443), json!(30000))
    );
    // Indicators: a domain (and its subdomains) and a prefix; one finding each per source.
    let list = common::temp_file(
        "iocs.txt",
        b"# indicators\nevil.example\n203.0.113.0/24  # c2\n",
    );
    let to_c2 = |port| ipv4_tcp((CLIENT, port), ([203, 0, 113, 9], 443), 1, 0x02, b"");
    let path = timed_capture(
        "sig-ioc.pcap",
        vec![
            (0, query(1, "cdn.evil.example", 1)),
            (1, to_c2(50001)),
            (2, to_c2(50002)),
        ],
    );
    let ioc = ["--signatures", "ioc", "--ioc-file", list.to_str().unwrap()];
    let found = findings(&path, &ioc);
    let matched: Vec<(Value, Value)> = found
        .iter()
        .map(|f| (data(f, "kind"), data(f, "matched")))
        .collect();
    assert_eq!(
        matched,
        [
            (json!("domain"), json!("cdn.evil.example")),
            (json!("address"), json!("203.0.113.9"))
        ]
    );
    // A bad list is named with its line; ioc without a list is refused.
    let bad = common::temp_file("iocs-bad.txt", b"evil.example\nnot an indicator\n");
    let out = netcore(&[
        "--signatures",
        "ioc",
        "--ioc-file",
        bad.to_str().unwrap(),
        "-r",
        path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("iocs-bad.txt:2: 'not an indicator'"));
    let out = netcore(&["--signatures", "ioc", "-r", path.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("the ioc signature needs --ioc-file"));
}

#[test]
fn events_selects_findings_by_their_event_name() {
    let mut packets = uol_answers(1);
    packets.extend(
        (0..30u16).map(|p| ipv4_tcp((CLIENT, 50000), ([10, 0, 0, 9], 1000 + p), 1, 0x02, b"")),
    );
    let names = |events: Vec<Value>| -> Vec<String> {
        events
            .iter()
            .map(|e| e["eventName"].as_str().unwrap().to_owned())
            .collect()
    };
    // Only the port scan's findings (the other signatures still run), and DNS responses.
    let picked = run(
        "sig-select.pcap",
        packets.clone(),
        &[
            "--signatures",
            "builtin",
            "--events",
            "port_scan,net_packet_dns_response",
        ],
    );
    let picked = names(picked);
    assert_eq!(picked.iter().filter(|n| *n == "port_scan").count(), 1);
    assert_eq!(
        picked
            .iter()
            .filter(|n| *n == "net_packet_dns_response")
            .count(),
        4
    );
    assert_eq!(picked.len(), 5, "{picked:?}");
    let out = netcore(&[
        "--signatures",
        "builtin",
        "--events",
        "portscan",
        "-r",
        "x.pcap",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unknown event 'portscan'"), "{stderr}");
    assert!(
        stderr.contains("; findings: beaconing dns_e2e dns_tunnel"),
        "{stderr}"
    );
}

/// netcore with the Rego signatures of `tests/data/DIR` over four rounds of the uol.com.br
/// answers (16 DNS events).
fn rego_over_answers(dir: &str) -> std::process::Output {
    let signatures = common::root().join("tests/data").join(dir);
    let packets: Vec<Vec<u8>> = (0..4).flat_map(uol_answers).collect();
    let path = capture(&format!("sig-{dir}.pcap"), 1_700_000_000, packets);
    netcore(&[
        "--json",
        "--signatures",
        signatures.to_str().unwrap(),
        "-r",
        path.to_str().unwrap(),
    ])
}

#[test]
fn a_rego_signature_failing_at_run_time_is_disabled() {
    let out = rego_over_answers("rego-failing");
    assert!(
        out.status.success(),
        "a failing signature never stops netcore"
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout
            .lines()
            .filter(|l| l.contains("\"net_packet_dns\""))
            .count(),
        16
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        stderr
            .matches("signature TRC-FAILING disabled after 10 errors")
            .count(),
        1,
        "{stderr}"
    );
}

#[test]
fn hostile_rego_signatures_are_stopped_by_a_limit_and_the_run_goes_on() {
    // One signature builds a 50-million-element set on every DNS event, one walks 25
    // million pairs; a third fires on every DNS event.
    let out = rego_over_answers("rego-hostile");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{stderr}");
    for (id, limit) in [
        ("TRC-MEMORY", "exceeded memory limit"),
        ("TRC-TIME", "exceeded time limit"),
    ] {
        let line = format!("signature {id} disabled: execution {limit}");
        assert_eq!(stderr.matches(&line).count(), 1, "{stderr}");
    }
    let stdout = String::from_utf8(out.stdout).unwrap();
    let count = |name: &str| stdout.lines().filter(|l| l.contains(name)).count();
    assert_eq!(count("\"eventName\":\"net_packet_dns\""), 16, "every event");
    assert_eq!(
        count("\"eventName\":\"dns_answer_seen\""),
        16,
        "the other signature"
    );
    assert_eq!(count("memory_hog") + count("time_hog"), 0);
    // The set was never built: the largest child this test process waited for (netcore,
    // and the other tests' smaller runs) stayed far below its 1.2 GB.
    // SAFETY: getrusage fills the struct it is given.
    let max_rss_kib = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage.ru_maxrss
    };
    assert!(max_rss_kib < 512 << 10, "peak RSS {max_rss_kib} KiB");
}

#[test]
fn rego_signatures_over_the_golden_captures() {
    let dir = common::root().join("tests/data/rego");
    for (capture, schema, trigger) in [
        ("ethernet", "tracee-0.22", "triggeredBy"),
        ("sll2", "tracee-0.24", "detectedFrom"),
    ] {
        let golden = common::root().join(format!("tests/golden/{capture}.pcap"));
        let findings = events_of(&[
            "--json",
            "--schema",
            schema,
            "--signatures",
            dir.to_str().unwrap(),
            "--findings-only",
            "-r",
            golden.to_str().unwrap(),
        ]);
        let names: Vec<&str> = findings
            .iter()
            .map(|e| e["eventName"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["mx_lookup", "spf_record"], "{capture}");
        assert_eq!(data(&findings[0], "exchange"), "mail.example.test");
        assert_eq!(findings[0]["args"][2]["name"], trigger);
    }
}

#[test]
fn a_finding_writes_its_flows_packets_as_evidence() {
    // One flow (client port 40005 ↔ resolver): an ordinary query at 0 s, a tunnelling one
    // at 1 s (the finding), an answer at 2 s, another query at 30 s (after the 5 s kept
    // after the finding); another flow at 1 s.
    let long = format!("{}.t.evil.example", "b".repeat(60));
    let answer = {
        let m = MessageBuilder::query(5, "www.example.test", 1);
        ipv4_udp(RESOLVER, CLIENT, 53, 40005, &m.bytes)
    };
    let path = timed_capture(
        "sig-evidence.pcap",
        vec![
            (0, query(5, "www.example.test", 1)),
            (1, query(6, "other.example.test", 1)),
            (1, query(5, &long, 16)),
            (2, answer),
            (30, query(5, "late.example.test", 1)),
        ],
    );
    let dir = std::env::temp_dir().join(format!("netcore-evidence-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let args = [
        "--signatures",
        "dns_tunnel",
        "--evidence",
        dir.to_str().unwrap(),
        "--evidence-seconds",
        "5",
    ];
    let found = findings(&path, &args);
    assert_eq!(found.len(), 1, "{found:#?}");
    let file = data(&found[0], "evidence");
    let file = std::path::Path::new(file.as_str().unwrap());
    assert_eq!(file.parent(), Some(dir.as_path()));
    let name = file.file_name().unwrap().to_str().unwrap();
    assert!(
        name.starts_with("dns_tunnel-1700000001000000000-"),
        "{name}"
    );
    // The file holds the flow's packets from before, at and after the finding, no other.
    let events = events_of(&[
        "--json",
        "--events",
        "net_packet_udp",
        "-r",
        file.to_str().unwrap(),
    ]);
    let seen: Vec<(u64, u64)> = events
        .iter()
        .map(|e| {
            let second = e["timestamp"].as_u64().unwrap() / 1_000_000_000 - 1_700_000_000;
            (second, data(e, "dst_port").as_u64().unwrap())
        })
        .collect();
    assert_eq!(seen, [(0, 53), (1, 53), (2, 40005)]);
    // A directory that cannot be written is refused at start.
    let out = netcore(&[
        "--signatures",
        "dns_tunnel",
        "--evidence",
        "/nonexistent-evidence",
        "-r",
        path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--evidence /nonexistent-evidence: "));
    std::fs::remove_dir_all(&dir).unwrap();
}
