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
fn a_bad_dns_message_keeps_its_udp_events_and_is_counted() {
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
    // Only that query's two DNS events (net_packet_dns and _dns_request) are missing.
    assert_eq!(all.lines().count() + 2, golden.lines().count());
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
