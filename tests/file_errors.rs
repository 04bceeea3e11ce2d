//! Bad input files and arguments: a clear message naming the file and the problem, a
//! non-zero exit, and everything decoded before the fault already printed.

mod common;

use common::{Pcap, netcore, read_pcap, temp_file, without_host_name, write_pcap};

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn missing_file() {
    let out = netcore(&["--json", "-r", "/nonexistent/capture.pcap"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(
        err.contains("/nonexistent/capture.pcap: No such file or directory"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn not_a_capture_file() {
    let path = common::root().join("Cargo.toml");
    let out = netcore(&["--json", "-r", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(
        err.contains("Cargo.toml: not a pcap or pcapng capture file"),
        "{err}"
    );
}

#[test]
fn empty_file() {
    let path = temp_file("empty.pcap", b"");
    let out = netcore(&["-r", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("empty.pcap: the file is empty"));
}

#[test]
fn truncated_capture_prints_what_came_before() {
    let golden = common::root().join("tests/golden/ethernet.pcap");
    let pcap = read_pcap(&golden);
    let complete = 10;
    let mut bytes = write_pcap(
        &Pcap {
            records: pcap.records[..complete].to_vec(),
            ..pcap.clone()
        },
        false,
    );
    let full = bytes.len();
    bytes.extend_from_slice(&write_pcap(&pcap, false)[full..full + 30]); // half a record
    let path = temp_file("truncated.pcap", &bytes);

    let out = netcore(&["--json", "-r", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(
        err.contains("truncated.pcap: capture is truncated"),
        "{err}"
    );
    assert!(
        err.contains(&format!("after {complete} complete packets")),
        "{err}"
    );

    let first = write_pcap(
        &Pcap {
            records: pcap.records[..complete].to_vec(),
            ..pcap
        },
        false,
    );
    let reference = netcore(&[
        "--json",
        "-r",
        temp_file("first.pcap", &first).to_str().unwrap(),
    ]);
    assert!(reference.status.success());
    assert!(!reference.stdout.is_empty());
    assert_eq!(
        without_host_name(&String::from_utf8(out.stdout).unwrap()),
        without_host_name(&String::from_utf8(reference.stdout).unwrap())
    );
}

#[test]
fn unsupported_link_type() {
    let pcap = read_pcap(&common::root().join("tests/golden/ethernet.pcap"));
    let path = temp_file(
        "usb.pcap",
        &write_pcap(
            &Pcap {
                linktype: 189,
                ..pcap
            },
            false,
        ),
    );
    let out = netcore(&["--json", "-r", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(
        err.contains("usb.pcap: unsupported link type 189 on interface 0"),
        "{err}"
    );
    assert!(
        err.contains("ETHERNET(1)") && err.contains("LINUX_SLL2(276)"),
        "{err}"
    );
}

#[test]
fn unknown_event_name_is_rejected_with_the_valid_ones() {
    let out = netcore(&[
        "--json",
        "--events",
        "net_packet_tcp,net_packet_sctp",
        "-r",
        "x.pcap",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr_of(&out);
    assert!(err.contains("unknown event 'net_packet_sctp'"), "{err}");
    assert!(err.contains("net_packet_icmpv6"), "{err}");
}

#[test]
fn malformed_packets_are_counted_not_fatal() {
    let mut pcap = read_pcap(&common::root().join("tests/golden/ethernet.pcap"));
    let tcp = pcap
        .records
        .iter()
        .position(|r| r.data.len() > 54 && r.data[23] == 6)
        .unwrap();
    // Cut one TCP segment inside its header and give one IPv4 packet an IHL of 3.
    pcap.records[tcp].data.truncate(14 + 20 + 10);
    let ipv4 = pcap
        .records
        .iter()
        .position(|r| r.data[12..14] == [8, 0])
        .unwrap();
    pcap.records[ipv4].data[14] = 0x43;
    let path = temp_file("malformed.pcap", &write_pcap(&pcap, false));
    let out = netcore(&["--json", "-r", path.to_str().unwrap()]);
    assert!(out.status.success());
    let err = stderr_of(&out);
    assert!(
        err.contains("2 decode errors (ipv4.bad_header_length=1, tcp.truncated=1)"),
        "{err}"
    );
}

#[test]
fn a_bad_dns_message_keeps_its_udp_events_gives_what_it_holds_and_is_counted() {
    let mut pcap = read_pcap(&common::root().join("tests/golden/ethernet.pcap"));
    // The first DNS query over UDP: claim 200 answers it does not have.
    let query = pcap
        .records
        .iter()
        .position(|r| r.data.len() > 50 && r.data[23] == 17 && r.data[36..38] == [0, 53])
        .unwrap();
    pcap.records[query].data[42 + 6..42 + 8].copy_from_slice(&200u16.to_be_bytes());
    let path = temp_file("bad-dns.pcap", &write_pcap(&pcap, false));
    let out = netcore(&["--json", "-r", path.to_str().unwrap()]);
    assert!(out.status.success());
    let err = stderr_of(&out);
    assert!(err.contains("1 decode errors (dns.bad_name=1)"), "{err}");
    let all = without_host_name(&String::from_utf8(out.stdout).unwrap());
    let golden =
        std::fs::read_to_string(common::root().join("tests/golden/ethernet.jsonl")).unwrap();
    // That query's two DNS events (net_packet_dns and _dns_request) stay, read as far as
    // the message goes: its header as sent, its question (and its OPT record, read as the
    // first of the answers claimed); the fault is counted above.
    assert_eq!(all.lines().count(), golden.lines().count());
    let cut = all
        .lines()
        .filter(|l| l.contains("\"ANCount\":200"))
        .collect::<Vec<_>>();
    assert_eq!(
        cut.len(),
        1,
        "the net_packet_dns event says what the header claims"
    );
    assert!(
        cut.iter()
            .all(|l| l.contains("\"questions\":[{\"name\":\"www.example.test\"")),
        "{cut:?}"
    );
    // With DNS events not selected, the message is not even decoded.
    let out = netcore(&[
        "--json",
        "--events",
        "net_packet_udp",
        "-r",
        path.to_str().unwrap(),
    ]);
    assert!(
        stderr_of(&out).contains("0 decode errors"),
        "{}",
        stderr_of(&out)
    );
}

/// A file that is no capture gets its error alone, never a "0 packets read" summary first.
fn assert_error_alone(out: &std::process::Output, message: &str) {
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(out);
    assert!(err.contains(message), "{err}");
    assert!(
        !err.contains("packets ("),
        "no summary before the error: {err}"
    );
}

#[test]
fn directories_short_headers_and_gzip_are_named() {
    let dir = std::env::temp_dir();
    assert_error_alone(
        &netcore(&["-r", dir.to_str().unwrap()]),
        "is a directory, not a capture file",
    );
    let golden = std::fs::read(common::root().join("tests/golden/ethernet.pcap")).unwrap();
    let short = temp_file("short.pcap", &golden[..20]);
    assert_error_alone(
        &netcore(&["-r", short.to_str().unwrap()]),
        "short.pcap: too short for a capture: 20 bytes",
    );
    let gzip = std::process::Command::new("gzip")
        .args([
            "-c",
            common::root()
                .join("tests/golden/ethernet.pcap")
                .to_str()
                .unwrap(),
        ])
        .output()
        .unwrap();
    let gz = temp_file("capture.pcap.gz", &gzip.stdout);
    assert_error_alone(
        &netcore(&["-r", gz.to_str().unwrap()]),
        "capture.pcap.gz: the file is gzip-compressed; decompress it first",
    );
    assert_error_alone(
        &netcore(&["-r", "/nonexistent/capture.pcap"]),
        "No such file or directory",
    );
}

#[test]
fn dash_reads_standard_input() {
    let path = common::root().join("tests/golden/ethernet.pcap");
    let from_file = netcore(&["--json", "-r", path.to_str().unwrap()]);
    let from_stdin = std::process::Command::new(env!("CARGO_BIN_EXE_netcore"))
        .args(["--json", "-r", "-"])
        .stdin(std::fs::File::open(&path).unwrap())
        .output()
        .unwrap();
    assert!(from_stdin.status.success(), "{}", stderr_of(&from_stdin));
    assert!(!from_stdin.stdout.is_empty());
    assert_eq!(from_stdin.stdout, from_file.stdout);
    assert!(stderr_of(&from_stdin).contains("netcore: -: 88 packets"));
}

#[test]
fn live_only_flags_are_refused_in_file_mode() {
    let path = common::root().join("tests/golden/ethernet.pcap");
    let path = path.to_str().unwrap();
    for flags in [
        &["--stats"][..],
        &["--snaplen", "128"],
        &["--ring-size", "4"],
        &["--cgroup", "/sys/fs/cgroup"],
        &["--xdp", "lo"],
        &["--xdp", "lo", "--queue", "0"],
    ] {
        let mut args = vec!["-r", path];
        args.extend_from_slice(flags);
        let out = netcore(&args);
        assert_eq!(out.status.code(), Some(2), "{flags:?}");
        assert!(
            stderr_of(&out).contains("cannot be used with"),
            "{flags:?}: {}",
            stderr_of(&out)
        );
    }
    let out = netcore(&["-r", path, "--cpu-budget", "0.1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr_of(&out).contains("--cpu-budget: host mode only"),
        "{}",
        stderr_of(&out)
    );
    for fraction in ["0", "65", "a tenth"] {
        let out = netcore(&["--cpu-budget", fraction]);
        assert_eq!(out.status.code(), Some(2));
        assert!(
            stderr_of(&out).contains("a fraction of one core from 0.01 to 64"),
            "{fraction}: {}",
            stderr_of(&out)
        );
    }
    let out = netcore(&["--stats", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("a whole number of seconds, at least 1"));
    let out = netcore(&["--metrics", "localhost"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("--metrics"), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("or a port alone"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn events_repeat_count_stops_and_direction_selects() {
    let path = common::root().join("tests/golden/ethernet.pcap");
    let path = path.to_str().unwrap();
    let names = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["--json", "-r", path];
        all.extend_from_slice(args);
        common::events_of(&all)
            .iter()
            .map(|e| e["eventName"].as_str().unwrap().to_owned())
            .collect()
    };
    let repeated = names(&["--events", "net_packet_tcp", "--events", "net_packet_udp"]);
    let listed = names(&["--events", "net_packet_tcp,net_packet_udp"]);
    assert_eq!(repeated, listed);
    assert!(repeated.contains(&"net_packet_udp".to_owned()));
    // -c counts packets with events: three TCP packets, one event each.
    assert_eq!(
        names(&["--events", "net_packet_tcp", "-c", "3", "-n"]).len(),
        3
    );
    // -Q: a classic pcap has no direction, so nothing is left out.
    assert_eq!(names(&["-Q", "in"]).len(), names(&[]).len());
    // A pcapng with epb_flags: two packets in, one out.
    let pcap = read_pcap(&common::root().join("tests/golden/ethernet.pcap"));
    let mut file = common::PcapNg::default();
    file.section();
    file.interface(1, None);
    for (flags, r) in [1, 1, 2].into_iter().zip(&pcap.records[30..]) {
        file.packet_with_flags(0, 1, &r.data, Some(flags));
    }
    let ng = temp_file("directions.pcapng", &file.bytes);
    let count = |q: &str| {
        netcore(&["-Q", q, "-r", ng.to_str().unwrap()])
            .stderr
            .iter()
            .map(|&b| b as char)
            .collect::<String>()
    };
    assert!(
        count("in").contains("1 of the other direction (-Q)"),
        "{}",
        count("in")
    );
    assert!(
        count("out").contains("2 of the other direction (-Q)"),
        "{}",
        count("out")
    );
    assert!(!count("inout").contains("other direction"));
}
