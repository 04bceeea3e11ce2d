//! DNS over TCP end to end: the golden capture's `dig +tcp` response, split into several
//! TCP segments, is reassembled by `netcore -r` into the same DNS events.

mod common;

use common::{Pcap, netcore, read_pcap, temp_file, write_pcap};
use serde_json::Value;

/// IPv4 + TCP offsets in the Ethernet capture.
const IP: usize = 14;

fn tcp_payload_range(frame: &[u8]) -> (usize, usize) {
    let ihl = usize::from(frame[IP] & 15) * 4;
    let tcp = IP + ihl;
    let start = tcp + usize::from(frame[tcp + 12] >> 4) * 4;
    let total = usize::from(u16::from_be_bytes([frame[IP + 2], frame[IP + 3]]));
    (start, IP + total)
}

/// The capture with the DNS response over TCP cut into segments at `cuts` (payload offsets).
fn split_response(pcap: &Pcap, cuts: &[usize]) -> Pcap {
    let at = pcap
        .records
        .iter()
        .position(|r| {
            r.data.len() > 60 && r.data[IP + 9] == 6 && {
                let (s, e) = tcp_payload_range(&r.data);
                let tcp = IP + usize::from(r.data[IP] & 15) * 4;
                r.data[tcp..tcp + 2] == [0, 53] && e > s
            }
        })
        .expect("a DNS response over TCP in the golden capture");
    let original = &pcap.records[at];
    let (start, end) = tcp_payload_range(&original.data);
    let tcp = IP + usize::from(original.data[IP] & 15) * 4;
    let seq = u32::from_be_bytes(original.data[tcp + 4..tcp + 8].try_into().unwrap());
    let mut bounds = vec![0];
    bounds.extend_from_slice(cuts);
    bounds.push(end - start);
    let segments = bounds.windows(2).map(|w| {
        let mut frame = original.data[..start].to_vec();
        frame.extend_from_slice(&original.data[start + w[0]..start + w[1]]);
        let total = (frame.len() - IP) as u16;
        frame[IP + 2..IP + 4].copy_from_slice(&total.to_be_bytes());
        frame[tcp + 4..tcp + 8].copy_from_slice(&(seq.wrapping_add(w[0] as u32)).to_be_bytes());
        common::Record {
            data: frame,
            ..original.clone()
        }
    });
    let mut records = pcap.records[..at].to_vec();
    records.extend(segments);
    records.extend_from_slice(&pcap.records[at + 1..]);
    Pcap {
        records,
        ..pcap.clone()
    }
}

/// The last arg (`proto_dns`, `dns_response`) of every DNS event, and the summary.
fn dns_values(path: &std::path::Path) -> (Vec<Value>, String) {
    let out = netcore(&[
        "--json",
        "--events",
        "net_packet_dns,net_packet_dns_response",
        "-r",
        path.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let values = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["args"]
                .as_array()
                .unwrap()
                .last()
                .unwrap()["value"]
                .clone()
        })
        .collect();
    (values, String::from_utf8(out.stderr).unwrap())
}

#[test]
fn a_response_split_over_segments_is_reassembled() {
    let pcap = read_pcap(&common::root().join("tests/golden/ethernet.pcap"));
    let whole = temp_file("tcp-whole.pcap", &write_pcap(&pcap, false));
    let (want, _) = dns_values(&whole);
    assert!(want.len() > 20);
    // Inside the length prefix, then twice inside the message.
    for cuts in [vec![1], vec![2, 30], vec![7, 8, 40]] {
        let split = temp_file(
            "tcp-split.pcap",
            &write_pcap(&split_response(&pcap, &cuts), false),
        );
        let (got, stderr) = dns_values(&split);
        assert_eq!(got, want, "cut at {cuts:?}");
        assert!(
            stderr.contains("DNS over TCP: 1 reassembled, 0 partial messages dropped"),
            "{stderr}"
        );
        assert!(stderr.contains("0 decode errors"), "{stderr}");
    }
}

#[test]
fn a_lost_segment_drops_the_message_and_is_counted() {
    let pcap = read_pcap(&common::root().join("tests/golden/ethernet.pcap"));
    let mut split = split_response(&pcap, &[10, 20]);
    let middle = split
        .records
        .iter()
        .position(|r| r.data.len() == tcp_payload_range(&r.data).0 + 10)
        .unwrap();
    split.records.remove(middle + 1);
    let path = temp_file("tcp-lost.pcap", &write_pcap(&split, false));
    let out = netcore(&[
        "--json",
        "--events",
        "net_packet_dns",
        "-r",
        path.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success());
    assert!(
        stderr.contains("1 partial messages dropped (gap=1"),
        "{stderr}"
    );
}
