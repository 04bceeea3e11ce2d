//! `-w FILE`: the packets behind the events as pcapng (with their owners as ptcpdump's
//! comments and their direction) or pcap, read by tshark and by netcore again; and
//! ptcpdump's comments read back by `-r`.

mod common;

use std::process::Command;

use common::{PcapNg, events_of, ipv4_tcp, netcore, root, temp_file};
use serde_json::Value;

/// tshark's view of a capture file: one line per packet with `fields`.
fn tshark(path: &std::path::Path, fields: &[&str]) -> Vec<String> {
    let mut command = Command::new("tshark");
    command
        .arg("-r")
        .arg(path)
        .args(["-T", "fields", "-E", "occurrence=a"]);
    for field in fields {
        command.args(["-e", field]);
    }
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

const OWNER: [&str; 5] = [
    "PID: 4242\nCmd: /usr/bin/curl\nArgs: -s http://shop.example.test/",
    "ThreadId: 4243\nThreadName: curl",
    "UserId: 1000",
    "ContainerName: web\nContainerId: 4f6d2b0a41a1\nContainerImage: docker.io/library/nginx:1.27\nContainerLabels: ",
    "PodName: web-6c9f7\nPodNamespace: shop\nPodUID: 2a0e5a4b-8d7c-4e1f-9b3a-6c5d4e3f2a1b\nPodLabels: \nPodAnnotations: ",
];

/// A pcapng of two TCP segments, the first with ptcpdump's comments naming its owner.
fn annotated_capture(name: &str) -> std::path::PathBuf {
    let mut file = PcapNg::default();
    file.section();
    file.interface(101, Some(9));
    let syn = ipv4_tcp(([10, 0, 0, 2], 40000), ([10, 0, 0, 80], 80), 1, 0x02, b"");
    let ack = ipv4_tcp(([10, 0, 0, 80], 80), ([10, 0, 0, 2], 40000), 9, 0x12, b"");
    file.packet_with_comments(0, 1_700_000_000_000_000_000, &syn, &OWNER);
    file.packet(0, 1_700_000_000_001_000_000, &ack);
    temp_file(name, &file.bytes)
}

fn owner_fields(event: &Value) -> (u64, u64, &str, u64, &str, &str, &str) {
    (
        event["hostProcessId"].as_u64().unwrap(),
        event["threadId"].as_u64().unwrap(),
        event["processName"].as_str().unwrap(),
        event["userId"].as_u64().unwrap(),
        event["containerId"].as_str().unwrap(),
        event["containerImage"].as_str().unwrap(),
        event["podNamespace"].as_str().unwrap(),
    )
}

#[test]
fn ptcpdump_comments_name_the_owner_when_read_back() {
    let path = annotated_capture("annotated.pcapng");
    let events = events_of(&[
        "--json",
        "--events",
        "net_packet_tcp",
        "-r",
        path.to_str().unwrap(),
    ]);
    assert_eq!(events.len(), 2);
    assert_eq!(
        owner_fields(&events[0]),
        (
            4242,
            4243,
            "curl",
            1000,
            "4f6d2b0a41a1",
            "docker.io/library/nginx:1.27",
            "shop"
        )
    );
    assert_eq!(events[0]["containerName"], "web");
    assert_eq!(events[0]["contextFlags"]["containerStarted"], true);
    // The packet without comments has no owner.
    assert_eq!(events[1]["hostProcessId"], 0);
    // v0.24 names the executable.
    let v024 = events_of(&[
        "--json",
        "--schema",
        "tracee-0.24",
        "--events",
        "net_packet_tcp",
        "-r",
        path.to_str().unwrap(),
    ]);
    assert_eq!(v024[0]["executable"]["path"], "/usr/bin/curl");
    assert_eq!(v024[0]["kubernetes"]["podName"], "web-6c9f7");
}

#[test]
fn written_pcapng_keeps_owners_and_direction_through_a_round_trip() {
    if !common::tshark_available("-w tests") {
        return;
    }
    let input = annotated_capture("round-trip-in.pcapng");
    let output = std::env::temp_dir().join(format!("netcore-rt-{}.pcapng", std::process::id()));
    let out = netcore(&[
        "--json",
        "--events",
        "net_packet_tcp",
        "-r",
        input.to_str().unwrap(),
        "-w",
        output.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let first_run: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Wireshark sees both packets, the owner in the first one's comments.
    let packets = tshark(
        &output,
        &["frame.comment", "frame.time_epoch", "frame.interface_name"],
    );
    assert_eq!(packets.len(), 2, "{packets:?}");
    assert!(packets[0].contains("PID: 4242") && packets[0].contains("PodNamespace: shop"));
    assert!(
        packets[0].contains("1700000000.000000000"),
        "{}",
        packets[0]
    );
    assert!(
        packets[0].ends_with("\tany"),
        "the interface is named: {}",
        packets[0]
    );
    // netcore reads its own file back to the same events.
    let second_run = events_of(&[
        "--json",
        "--events",
        "net_packet_tcp",
        "-r",
        output.to_str().unwrap(),
    ]);
    assert_eq!(second_run, first_run);
    let _ = std::fs::remove_file(&output);
}

#[test]
fn filters_decide_what_is_written_and_pcap_is_written_on_request() {
    if !common::tshark_available("-w tests") {
        return;
    }
    let golden = root().join("tests/golden/ethernet.pcap");
    let output = std::env::temp_dir().join(format!("netcore-w-{}.pcap", std::process::id()));
    let out = netcore(&[
        "--json",
        "--filter",
        "net_packet_tcp.args.dst_port=8080",
        "-r",
        golden.to_str().unwrap(),
        "-w",
        output.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let events = String::from_utf8(out.stdout).unwrap().lines().count();
    let packets = tshark(&output, &["tcp.dstport", "frame.time_epoch"]);
    assert_eq!(
        packets.len(),
        events,
        "one packet per event here: {packets:?}"
    );
    assert!(
        packets.iter().all(|p| p.starts_with("8080\t")),
        "{packets:?}"
    );
    // A classic pcap file, with nanosecond timestamps as read.
    let header = std::fs::read(&output).unwrap();
    assert_eq!(&header[..4], &0xa1b2_3c4du32.to_le_bytes());
    let _ = std::fs::remove_file(&output);
    // A file that cannot be created is named.
    let out = netcore(&[
        "-r",
        golden.to_str().unwrap(),
        "-w",
        "/nonexistent/dir/x.pcapng",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("-w /nonexistent/dir/x.pcapng: "));
}

#[test]
fn dash_w_dash_writes_packets_to_standard_output() {
    let golden = root().join("tests/golden/ethernet.pcap");
    let out = netcore(&[
        "--json",
        "--events",
        "net_packet_udp",
        "-r",
        golden.to_str().unwrap(),
        "-w",
        "-",
    ]);
    assert!(out.status.success());
    // A pcapng section header, not JSON.
    assert_eq!(&out.stdout[..4], &0x0a0d_0d0au32.to_le_bytes());
    let path = temp_file("from-stdout.pcapng", &out.stdout);
    let events = events_of(&[
        "--json",
        "-r",
        path.to_str().unwrap(),
        "--events",
        "net_packet_udp",
    ]);
    let original = events_of(&[
        "--json",
        "-r",
        golden.to_str().unwrap(),
        "--events",
        "net_packet_udp",
    ]);
    assert_eq!(events.len(), original.len());
}

#[test]
fn dash_c_starts_new_files_and_dash_w_reuses_them_in_turn() {
    // 9,000 segments of 200 bytes: about 2.5 MB of pcapng.
    let packets = (0..9000u32)
        .map(|i| {
            ipv4_tcp(
                ([10, 0, 0, 1], 40000),
                ([10, 0, 0, 2], 80),
                i,
                0x18,
                &[b'x'; 160],
            )
        })
        .collect();
    let capture = common::capture("rotate-w.pcap", 1_700_000_000, packets);
    let dir = std::env::temp_dir().join(format!("netcore-rotate-w-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let base = dir.join("out.pcapng");
    let packets_in = |name: &str| {
        let path = dir.join(name);
        let events = events_of(&[
            "--json",
            "-r",
            path.to_str().unwrap(),
            "--events",
            "net_packet_tcp",
        ]);
        events.len()
    };
    // -C alone: out.pcapng, out.pcapng1, out.pcapng2, every packet once, each file whole.
    let args = |extra: &[&str]| {
        let mut args = vec![
            "-r",
            capture.to_str().unwrap(),
            "--events",
            "net_packet_tcp",
        ];
        args.extend_from_slice(&["-w", base.to_str().unwrap(), "-C", "1"]);
        args.extend_from_slice(extra);
        args.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let run = |extra: &[&str]| {
        let args = args(extra);
        let out = netcore(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[]);
    assert_eq!(
        common::file_names(&dir),
        ["out.pcapng", "out.pcapng1", "out.pcapng2"]
    );
    let counts: Vec<usize> = common::file_names(&dir)
        .iter()
        .map(|n| packets_in(n))
        .collect();
    assert_eq!(counts.iter().sum::<usize>(), 9000, "{counts:?}");
    for name in common::file_names(&dir) {
        let size = std::fs::metadata(dir.join(&name)).unwrap().len();
        assert!(size <= 1_000_000 + 300, "{name}: {size} bytes");
    }
    // -W 2: two files, out.pcapng0 reused for the third part.
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::create_dir_all(&dir).unwrap();
    run(&["-W", "2"]);
    assert_eq!(common::file_names(&dir), ["out.pcapng0", "out.pcapng1"]);
    assert_eq!(packets_in("out.pcapng0"), counts[2]);
    assert_eq!(packets_in("out.pcapng1"), counts[1]);
    std::fs::remove_dir_all(&dir).unwrap();
}
