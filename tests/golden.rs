//! Golden captures recorded with real clients (tests/golden/record.sh): `netcore --json -r`
//! must reproduce the committed events byte for byte, with hostName blanked. The same
//! packets rewritten as big-endian pcap and as multi-interface pcapng must decode to the
//! same events.

mod common;

use common::{PcapNg, netcore, read_pcap, temp_file, without_host_name, write_pcap};

const CAPTURES: [&str; 4] = ["ethernet", "ethernet-ns", "sll", "sll2"];

fn expected(name: &str) -> String {
    std::fs::read_to_string(common::root().join(format!("tests/golden/{name}.jsonl"))).unwrap()
}

fn events_of(path: &std::path::Path) -> String {
    let out = netcore(&["--json", "-r", path.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    without_host_name(&String::from_utf8(out.stdout).unwrap())
}

#[test]
fn golden_captures_decode_to_the_committed_events() {
    for name in CAPTURES {
        let path = common::root().join(format!("tests/golden/{name}.pcap"));
        let ours = events_of(&path);
        let want = expected(name);
        assert!(want.lines().count() > 100, "{name}: golden file too small");
        for (i, (a, b)) in ours.lines().zip(want.lines()).enumerate() {
            assert_eq!(a, b, "{name}.pcap, event {}", i + 1);
        }
        assert_eq!(
            ours.lines().count(),
            want.lines().count(),
            "{name}: event count"
        );
    }
}

#[test]
fn golden_captures_cover_every_event() {
    for name in CAPTURES {
        let events = expected(name);
        for event in [
            "ipv4",
            "ipv6",
            "tcp",
            "udp",
            "icmp",
            "icmpv6",
            "dns",
            "dns_request",
            "dns_response",
        ] {
            let needle = format!("\"eventName\":\"net_packet_{event}\"");
            assert!(events.contains(&needle), "{name} has no {event} event");
        }
        // TCP over IPv6, which Tracee does not report.
        assert!(
            events
                .lines()
                .any(|l| l.contains("net_packet_tcp") && l.contains("fd99::"))
        );
    }
}

#[test]
fn big_endian_pcap_decodes_like_little_endian() {
    for name in ["ethernet", "ethernet-ns", "sll2"] {
        let pcap = read_pcap(&common::root().join(format!("tests/golden/{name}.pcap")));
        let path = temp_file(&format!("{name}-be.pcap"), &write_pcap(&pcap, true));
        assert_eq!(events_of(&path), expected(name), "{name} big-endian");
    }
}

#[test]
fn pcapng_with_two_interfaces_of_different_link_types_and_resolutions() {
    // Interface 0: Ethernet in µs (the default resolution); interface 1: Linux cooked v2
    // in ns. Packets interleaved in time order.
    let eth = read_pcap(&common::root().join("tests/golden/ethernet.pcap"));
    let sll2 = read_pcap(&common::root().join("tests/golden/sll2.pcap"));
    assert!(!eth.nanos && !sll2.nanos);
    let mut packets: Vec<(u64, u32, u64, &[u8])> = Vec::new();
    for r in &eth.records {
        let us = u64::from(r.ts_sec) * 1_000_000 + u64::from(r.ts_frac);
        packets.push((us * 1000, 0, us, &r.data));
    }
    for r in &sll2.records {
        let ns = (u64::from(r.ts_sec) * 1_000_000 + u64::from(r.ts_frac)) * 1000;
        packets.push((ns, 1, ns, &r.data));
    }
    packets.sort_by_key(|p| (p.0, p.1));
    let mut ng = PcapNg::default();
    ng.section();
    ng.interface(1, None);
    ng.interface(276, Some(9));
    for (_, iface, units, data) in &packets {
        ng.packet(*iface, *units, data);
    }
    let ours = events_of(&temp_file("mixed.pcapng", &ng.bytes));
    let mut ours: Vec<&str> = ours.lines().collect();
    let (a, b) = (expected("ethernet"), expected("sll2"));
    let mut want: Vec<&str> = a.lines().chain(b.lines()).collect();
    assert_eq!(ours.len(), want.len());
    ours.sort_unstable();
    want.sort_unstable();
    assert_eq!(ours, want);
}

#[test]
fn events_filter_selects_event_names() {
    let path = common::root().join("tests/golden/ethernet.pcap");
    let out = netcore(&[
        "--json",
        "--events",
        "net_packet_udp,net_packet_icmp",
        "-r",
        path.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let all = expected("ethernet");
    let want: Vec<&str> = all
        .lines()
        .filter(|l| l.contains("\"net_packet_udp\"") || l.contains("\"net_packet_icmp\""))
        .collect();
    assert!(!want.is_empty());
    assert_eq!(without_host_name(&stdout).lines().collect::<Vec<_>>(), want);
}

#[test]
fn text_mode_prints_one_tcpdump_like_line_per_packet() {
    let path = common::root().join("tests/golden/ethernet.pcap");
    let out = netcore(&["-r", path.to_str().unwrap()]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // Every IP packet (the capture's 88 frames less 2 ARP), plus one line for each of the
    // two DNS messages reassembled from TCP.
    assert_eq!(lines.len(), 86 + 2, "{text}");
    for want in [
        "02:32:51.840086 IP 10.99.0.2.48930 > 10.99.0.1.8090: Flags [S], seq 3433480423, win 64240, length 0",
        "02:32:51.840205 IP 10.99.0.2.48930 > 10.99.0.1.8090: Flags [P.], seq 3433480424, ack 4120036793, win 63, length 15",
        "02:32:51.407631 IP 10.99.0.2 > 10.99.0.1: ICMP EchoRequest, id 5840, seq 1, length 64",
        "02:32:51.615727 IP6 fd99::2 > fd99::1: ICMP6 EchoRequest, id 5841, seq 1, length 64",
        "02:32:51.827297 IP 10.99.0.2 > 10.99.0.1: fragment id 35696, offset 1480, length 528",
        "02:32:49.789798 IP6 :: > ff02::16: ICMP6 MulticastListenerReportV2, length 48",
        "02:32:55.096052 IP 10.99.0.1.53 > 10.99.0.2.48648: UDP, length 74, DNS response id 18941 NOERROR MX example.test: MX mail.example.test",
        "02:32:55.211388 IP 10.99.0.1.53 > 10.99.0.2.53647: UDP, length 55, DNS response id 5552 REFUSED A nothere.example.test",
        "02:32:55.234998 IP 10.99.0.2.43889 > 10.99.0.1.53: DNS over TCP query id 26203 MX example.test",
    ] {
        assert!(lines.contains(&want), "missing: {want}\n{text}");
    }
    // Response codes are one word (awk-friendly), as tcpdump writes them.
    assert!(!text.contains("no error"));
}

#[test]
fn text_events_prints_one_readable_line_per_event() {
    let path = common::root().join("tests/golden/ethernet.pcap");
    let out = netcore(&["--text-events", "-r", path.to_str().unwrap()]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), expected("ethernet").lines().count());
    let syn = text
        .lines()
        .find(|l| l.contains("net_packet_tcp") && l.contains(":8090 S "))
        .unwrap();
    assert!(
        syn.starts_with("20") && syn.contains("Z net_packet_tcp 10.99.0.2:"),
        "{syn}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("net_packet_icmp ") && l.contains("EchoRequest"))
    );
}

#[test]
fn summary_counts_packets_events_and_non_ip_frames() {
    let path = common::root().join("tests/golden/ethernet.pcap");
    let out = netcore(&["--json", "-r", path.to_str().unwrap()]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    let records = read_pcap(&path).records;
    let bytes: usize = records.iter().map(|r| r.data.len()).sum();
    let events = expected("ethernet").lines().count();
    assert!(
        stderr.contains(&format!(
            "{} packets ({bytes} bytes) read, {events} events written",
            records.len()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("0 decode errors"), "{stderr}");
}

#[test]
fn vlan_tagged_frames_decode_like_untagged_ones() {
    // This project's kernels have no 802.1Q support, so the tags are added here: one
    // 802.1Q tag, then an 802.1ad tag stacked over an 802.1Q tag, after the MAC addresses.
    let pcap = read_pcap(&common::root().join("tests/golden/ethernet.pcap"));
    let tags: [&[u8]; 2] = [
        &[0x81, 0x00, 0x00, 0x64],
        &[0x88, 0xa8, 0x00, 0xc8, 0x81, 0x00, 0x20, 0xe6],
    ];
    for (i, tag) in tags.into_iter().enumerate() {
        let mut tagged = pcap.clone();
        for r in &mut tagged.records {
            r.data.splice(12..12, tag.iter().copied());
        }
        let path = temp_file(&format!("vlan{i}.pcap"), &write_pcap(&tagged, false));
        assert_eq!(events_of(&path), expected("ethernet"), "tag {tag:02x?}");
    }
}

#[test]
fn fcs_bits_of_the_pcap_link_type_are_read_and_the_fcs_left_out() {
    let path = common::root().join("tests/golden/ethernet.pcap");
    let original = common::events_of(&["--json", "-r", path.to_str().unwrap()]);
    let mut pcap = read_pcap(&path);
    // Ethernet with a 4-byte FCS announced: P bit set, FCS length 2 (16-bit words).
    pcap.linktype = 0x2400_0001;
    for r in &mut pcap.records {
        r.data.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
    }
    let with_fcs = common::temp_file("fcs.pcap", &write_pcap(&pcap, false));
    assert_eq!(
        common::events_of(&["--json", "-r", with_fcs.to_str().unwrap()]),
        original
    );
    // Upper bits without the P bit: still Ethernet (the low 16 bits), nothing refused.
    pcap.linktype = 0x3000_0001;
    let flagged = common::temp_file("flagged.pcap", &write_pcap(&pcap, false));
    let events = common::events_of(&["--json", "-r", flagged.to_str().unwrap()]);
    assert_eq!(events.len(), original.len());
}

/// Rewrites each IP frame of the Ethernet golden capture into `linktype` (`rewrite` gets
/// the IP version and the IP packet; ARP, which has no such form, is left out) and
/// asserts that the result decodes to the original's events.
fn assert_decodes_like_the_ethernet_original(
    linktype: u32,
    case: &str,
    rewrite: impl Fn(u8, &[u8]) -> Vec<u8>,
) {
    let path = common::root().join("tests/golden/ethernet.pcap");
    let original = common::events_of(&["--json", "-r", path.to_str().unwrap()]);
    let mut framed = read_pcap(&path);
    framed.linktype = linktype;
    framed.records = std::mem::take(&mut framed.records)
        .into_iter()
        .filter_map(|mut record| {
            let v = match record.data[12..14] {
                [0x08, 0x00] => 4,
                [0x86, 0xdd] => 6,
                _ => return None,
            };
            record.data = rewrite(v, &record.data[14..]);
            Some(record)
        })
        .collect();
    let file = common::temp_file(&format!("{case}.pcap"), &write_pcap(&framed, false));
    let events = common::events_of(&["--json", "-r", file.to_str().unwrap()]);
    assert_eq!(events, original, "{case} (link type {linktype})");
}

#[test]
fn bsd_loopback_captures_decode_like_their_ethernet_originals() {
    for (linktype, case, v4, v6) in [
        (0, "null-macos", 2u32.to_le_bytes(), 30u32.to_le_bytes()),
        (
            0,
            "null-big-endian-bsd",
            2u32.to_be_bytes(),
            24u32.to_be_bytes(),
        ),
        (108, "loop", 2u32.to_be_bytes(), 24u32.to_be_bytes()),
    ] {
        assert_decodes_like_the_ethernet_original(linktype, case, |v, ip| {
            [&(if v == 4 { v4 } else { v6 })[..], ip].concat()
        });
    }
}

#[test]
fn ppp_wifi_and_nflog_captures_decode_like_their_ethernet_originals() {
    // Each rewrites an Ethernet frame's IP packet (`ip`, version `v`) into the link type.
    type Frame = fn(u8, &[u8]) -> Vec<u8>;
    let cases: [(u32, Frame); 6] = [
        (9, |v, ip| {
            [&(if v == 4 { [0, 0x21] } else { [0, 0x57] })[..], ip].concat()
        }),
        (50, |v, ip| {
            [
                &[0xff, 0x03][..],
                &(if v == 4 { [0, 0x21] } else { [0, 0x57] }),
                ip,
            ]
            .concat()
        }),
        (105, |v, ip| wifi_frame(false, ip, v)),
        (105, |v, ip| wifi_frame(true, ip, v)),
        (127, |v, ip| {
            [&[0, 0, 8, 0, 0, 0, 0, 0][..], &wifi_frame(true, ip, v)].concat()
        }),
        (239, |v, ip| {
            // Header (family, version, resource id), a prefix TLV, then the payload TLV.
            let mut f = vec![if v == 4 { 2 } else { 10 }, 0, 0, 0];
            f.extend_from_slice(&[8, 0, 10, 0, b'n', b'c', 0, 0]);
            f.extend_from_slice(&((4 + ip.len()) as u16).to_le_bytes());
            f.extend_from_slice(&[9, 0]);
            f.extend_from_slice(ip);
            f.resize(f.len().next_multiple_of(4), 0);
            f
        }),
    ];
    for (linktype, rewrite) in cases {
        assert_decodes_like_the_ethernet_original(linktype, &format!("link{linktype}"), rewrite);
    }
}

/// An 802.11 data frame to the AP (ToDS: three addresses, sequence control; QoS data adds
/// its 2-byte QoS control) carrying IP packet `ip` (version `v`) behind LLC/SNAP.
fn wifi_frame(qos: bool, ip: &[u8], v: u8) -> Vec<u8> {
    let mut f = vec![if qos { 0x88 } else { 0x08 }, 0x01, 0, 0];
    f.extend_from_slice(&[2; 18]);
    f.extend_from_slice(&[0x10, 0]);
    if qos {
        f.extend_from_slice(&[0, 0]);
    }
    f.extend_from_slice(&[0xaa, 0xaa, 0x03, 0, 0, 0]);
    f.extend_from_slice(if v == 4 { &[0x08, 0x00] } else { &[0x86, 0xdd] });
    f.extend_from_slice(ip);
    f
}
