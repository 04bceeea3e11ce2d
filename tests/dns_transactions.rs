//! `net_dns_transaction` and what DNS lookups add to connections: each query paired with
//! its response (a retransmitted query keeps the first one's time), a query left without
//! one reported `unanswered` once — after `--dns-timeout` or at the end of the run —,
//! `net_tcp_connect` naming the destination from the answers and `net_flow` carrying the
//! lookup's round trip. Against tshark's `dns.time` on public captures.

mod common;

use std::process::Command;

use common::dns_builder::{Data, Flags, MessageBuilder, ipv4_udp};
use common::live::arg;
use serde_json::Value;

const CLIENT: [u8; 4] = [10, 0, 0, 2];
const SERVER: [u8; 4] = [10, 0, 0, 1];
const START: u32 = 1_700_000_000;

/// A response to `query` (its first question copied) with `rcode` and A answers.
fn response(id: u16, name: &str, qtype: u16, rcode: u16, answers: &[[u8; 4]]) -> Vec<u8> {
    let flags = Flags {
        qr: 1,
        rd: 1,
        ra: 1,
        rcode,
        ..Flags::default()
    };
    let mut m = MessageBuilder::new(id, flags.word(), [1, answers.len() as u16, 0, 0], true);
    m.question(name, qtype, 1);
    for a in answers {
        m.record(name, qtype, 1, 300, &Data::Ip((*a).into()));
    }
    m.bytes
}

fn query(port: u16, id: u16, name: &str, qtype: u16) -> Vec<u8> {
    ipv4_udp(
        CLIENT,
        SERVER,
        port,
        53,
        &MessageBuilder::query(id, name, qtype).bytes,
    )
}

fn answer(port: u16, message: Vec<u8>) -> Vec<u8> {
    ipv4_udp(SERVER, CLIENT, 53, port, &message)
}

#[test]
fn queries_pair_with_responses_and_the_unanswered_are_reported_once() {
    const A: u16 = 1;
    const AAAA: u16 = 28;
    const NXDOMAIN: u16 = 3;
    let web = [192, 0, 2, 1];
    let capture = common::capture_timed(
        "dns-transactions.pcap",
        START,
        vec![
            (0, query(40000, 1, "a.test", A)),
            (10, answer(40000, response(1, "a.test", A, 0, &[web]))),
            // Retransmitted, answered once: the round trip from the first query; the
            // answer's name in another case is the same question.
            (20, query(40001, 2, "B.test", AAAA)),
            (500, query(40001, 2, "B.test", AAAA)),
            (530, answer(40001, response(2, "b.TEST", AAAA, 0, &[]))),
            // Never answered: reported once the 2 s timeout has passed (packets move
            // the clock in a file).
            (1000, query(40002, 3, "lost.test", A)),
            (4000, query(40003, 4, "nx.test", A)),
            (
                4002,
                answer(40003, response(4, "nx.test", A, NXDOMAIN, &[])),
            ),
            // A response to no query seen pairs with nothing.
            (4003, answer(40009, response(9, "stray.test", A, 0, &[web]))),
            // Waiting when the capture ends: reported at the end.
            (4100, query(40004, 5, "end.test", A)),
            (
                4200,
                common::ipv4_tcp((CLIENT, 50000), (web, 443), 7, 0x02, b""),
            ),
        ],
    );
    let events = common::events_of(&[
        "--json",
        "--events",
        "net_dns_transaction,net_tcp_connect,net_flow",
        "--dns-timeout",
        "2",
        "-r",
        capture.to_str().unwrap(),
    ]);
    // The DNS exchanges' own flow records aside.
    let events: Vec<Value> = events
        .into_iter()
        .filter(|e| e["eventName"] != "net_flow" || arg(e, "proto") == "TCP")
        .collect();
    let summary: Vec<String> = events
        .iter()
        .map(|e| match e["eventName"].as_str().unwrap() {
            "net_dns_transaction" => format!(
                "{} {} {} {} {} {} {}",
                arg(e, "query").as_str().unwrap(),
                arg(e, "qtype").as_str().unwrap(),
                arg(e, "outcome").as_str().unwrap(),
                arg(e, "rcode").as_str().unwrap(),
                arg(e, "rtt"),
                arg(e, "answers"),
                arg(e, "src_port"),
            ),
            "net_tcp_connect" => format!(
                "connect {}:{} {}",
                arg(e, "dst").as_str().unwrap(),
                arg(e, "dst_port"),
                arg(e, "dst_dns")
            ),
            name => format!("{name} dns_rtt={}", arg(e, "dns_rtt")),
        })
        .collect();
    assert_eq!(
        summary,
        [
            "a.test A answered NOERROR 10000000 [\"192.0.2.1\"] 40000",
            "B.test AAAA answered NOERROR 510000000 [] 40001",
            "lost.test A unanswered  0 [] 40002",
            "nx.test A answered NXDOMAIN 2000000 [] 40003",
            // The stray response named the address too (any answer does).
            "connect 192.0.2.1:443 [\"a.test\",\"stray.test\"]",
            "end.test A unanswered  0 [] 40004",
            "net_flow dns_rtt=10000000",
        ],
        "{events:#?}"
    );
    // The unanswered query is reported when the clock passed its timeout (the packet at
    // 4 s), stamped then; the one still waiting at the end, at the last packet's time.
    let ms = |e: &Value| {
        (e["timestamp"].as_u64().unwrap() - u64::from(START) * 1_000_000_000) / 1_000_000
    };
    assert_eq!((ms(&events[2]), ms(&events[5])), (4000, 4200));
    for e in &events {
        let kind = e["eventName"].as_str().unwrap();
        let id = e["eventId"].as_str().unwrap();
        assert_eq!(
            id,
            match kind {
                "net_dns_transaction" => "2101",
                "net_tcp_connect" => "2023",
                _ => "2100",
            }
        );
    }
    // Filterable by outcome, and counted in the summary.
    let out = common::netcore(&[
        "--json",
        "--events",
        "net_dns_transaction",
        "--filter",
        "net_dns_transaction.args.outcome=unanswered",
        "--dns-timeout",
        "2",
        "-r",
        capture.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("DNS queries: 3 answered, 2 unanswered"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_bad_dns_timeout_is_refused() {
    for bad in ["0", "soon", "3601"] {
        let out = common::netcore(&["--dns-timeout", bad, "-r", "/dev/null"]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("--dns-timeout"), "{bad}: {stderr}");
    }
}

/// Every answered query's name and round trip (µs) in `capture`, and the queries left
/// unanswered, as tshark's two-pass DNS analysis pairs them (`dns.time`,
/// `dns.response_in`).
fn tshark_transactions(capture: &str) -> (Vec<(String, u64)>, Vec<String>) {
    let out = Command::new("tshark")
        .args([
            "-2",
            "-r",
            capture,
            "-Y",
            "dns",
            "-T",
            "fields",
            "-E",
            "separator=|",
        ])
        .args([
            "-e",
            "dns.flags.response",
            "-e",
            "dns.qry.name",
            "-e",
            "dns.time",
        ])
        .args(["-e", "dns.response_in", "-e", "dns.count.queries"])
        .output()
        .unwrap();
    let (mut answered, mut unanswered) = (Vec::new(), Vec::new());
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let f: Vec<&str> = line.split('|').collect();
        if f.len() < 5 || f[4] != "1" {
            continue;
        }
        let name = if f[1] == "<Root>" { "." } else { f[1] }.to_owned();
        match (f[0], f[2], f[3]) {
            ("1", time, _) if !time.is_empty() => {
                let secs: f64 = time.parse().unwrap();
                answered.push((name, (secs * 1e6).round() as u64));
            }
            ("0", _, "") => unanswered.push(name),
            _ => {}
        }
    }
    (answered, unanswered)
}

/// Replies cut by the snap length, by capture: tshark pairs them with their queries but
/// gives no round-trip time (it cannot dissect the reply whole); netcore reads the
/// reply's whole header and times the pair (docs/dns.md).
const CUT_REPLIES: &[(&str, &str)] = &[("dns_udp_2.pcap", "www.tcpdump.org")];

#[test]
fn round_trips_and_unanswered_queries_agree_with_tshark() {
    if !common::tshark_available("round_trips_and_unanswered_queries_agree_with_tshark") {
        return;
    }
    let root = common::root();
    let mut captures: Vec<_> = ["tests/data/tcpdump", "tests/golden"]
        .iter()
        .flat_map(|dir| std::fs::read_dir(root.join(dir)).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .collect();
    captures.sort();
    let mut compared = 0;
    for capture in &captures {
        let path = capture.to_str().unwrap();
        let (mut answered, mut unanswered) = tshark_transactions(path);
        let events = common::events_of(&["--json", "--events", "net_dns_transaction", "-r", path]);
        let mut ours_answered = Vec::new();
        let mut ours_unanswered = Vec::new();
        for e in &events {
            let name = arg(e, "query").as_str().unwrap().to_owned();
            match arg(e, "outcome").as_str().unwrap() {
                "answered" => {
                    let rtt = arg(e, "rtt").as_u64().unwrap();
                    ours_answered.push((name, (rtt as f64 / 1e3).round() as u64));
                }
                _ => ours_unanswered.push(name),
            }
        }
        // A reply tshark cannot dissect whole is paired with its query there without a
        // round-trip time; netcore reads the reply's header and times the pair.
        let file = capture.file_name().unwrap().to_str().unwrap();
        for (_, query) in CUT_REPLIES.iter().filter(|(f, _)| *f == file) {
            let paired_untimed =
                !answered.iter().any(|(n, _)| n == query) && !unanswered.iter().any(|n| n == query);
            assert!(paired_untimed, "{path}: tshark times or leaves {query} now");
            let ours = ours_answered.iter().position(|(n, _)| n == query);
            let ours = ours.unwrap_or_else(|| panic!("{path}: netcore left {query} unanswered"));
            ours_answered.remove(ours);
        }
        for list in [&mut answered, &mut ours_answered] {
            list.sort();
        }
        for list in [&mut unanswered, &mut ours_unanswered] {
            list.sort();
        }
        assert_eq!(ours_answered, answered, "{path}: answered");
        assert_eq!(ours_unanswered, unanswered, "{path}: unanswered");
        compared += answered.len() + unanswered.len();
    }
    assert!(compared >= 20, "only {compared} DNS transactions compared");
    eprintln!(
        "{compared} DNS transactions equal to tshark's in {} captures",
        captures.len()
    );
}
