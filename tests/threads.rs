//! `--threads`: file mode decodes on several threads, each a share of the flows, and
//! writes exactly what one thread writes, in the capture's order.

mod common;

use common::{Pcap, Record, netcore, read_pcap, root, temp_file, write_pcap};

/// The golden Ethernet capture (TCP, UDP, DNS over UDP and TCP, HTTP, ICMP, ICMPv6,
/// fragments, ARP) repeated `copies` times, each copy's IPv4 and IPv6 addresses changed
/// alike in both directions: distinct flows, interleaved as on a busy host, several blocks
/// of frames long.
fn many_flows(copies: u32) -> std::path::PathBuf {
    let golden = read_pcap(&root().join("tests/golden/ethernet.pcap"));
    let mut records = Vec::new();
    for copy in 0..copies {
        for record in &golden.records {
            let mut data = record.data.clone();
            let ethertype = u16::from_be_bytes([data[12], data[13]]);
            let addresses: &[usize] = match ethertype {
                0x0800 => &[27, 31],
                0x86dd => &[24, 40],
                _ => &[],
            };
            for &at in addresses {
                data[at] ^= copy as u8;
            }
            if ethertype == 0x0800 {
                fix_ipv4_checksum(&mut data[14..]);
            }
            records.push(Record {
                ts_sec: record.ts_sec + copy * 100,
                ts_frac: record.ts_frac,
                data,
            });
        }
    }
    let pcap = Pcap { records, ..golden };
    temp_file(&format!("flows-{copies}.pcap"), &write_pcap(&pcap, false))
}

fn fix_ipv4_checksum(header: &mut [u8]) {
    let len = usize::from(header[0] & 15) * 4;
    header[10..12].fill(0);
    let mut sum: u32 = header[..len]
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    header[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
}

#[test]
fn several_threads_write_what_one_thread_writes_in_every_format() {
    // 40 copies of 88 frames: 3,520 frames, four blocks.
    let capture = many_flows(40);
    let capture = capture.to_str().unwrap();
    for format in [
        &["--json"][..],
        &["--json", "--schema", "tracee-0.24", "--community-id"],
        &[],
        &["--text-events"],
    ] {
        let run = |threads: &str| {
            let mut args = vec!["--threads", threads, "-r", capture];
            args.extend_from_slice(format);
            let output = netcore(&args);
            assert!(
                output.status.success(),
                "{format:?} on {threads}: {output:?}"
            );
            (
                String::from_utf8(output.stdout).unwrap(),
                String::from_utf8(output.stderr).unwrap(),
            )
        };
        let (one, one_summary) = run("1");
        let (three, three_summary) = run("3");
        assert!(one.lines().count() > 3_000, "{format:?}: {one_summary}");
        assert!(
            one == three,
            "{format:?}: three threads wrote other lines than one"
        );
        assert!(
            !one_summary.contains("threads"),
            "one thread is not worth a word: {one_summary}"
        );
        assert_eq!(
            three_summary.trim_end(),
            format!("{}; decoded on 3 threads", one_summary.trim_end()),
            "{format:?}: the counts add up to one thread's"
        );
    }
}

#[test]
fn a_pcap_expression_and_filters_apply_on_every_thread() {
    let capture = many_flows(12);
    let capture = capture.to_str().unwrap();
    let run = |threads: &str| {
        netcore(&[
            "--json",
            "--threads",
            threads,
            "--filter",
            "event=net_packet_dns",
            "--filter",
            "net_packet_dns.args.src=10.99.0.1",
            "-r",
            capture,
            "udp or tcp port 53",
        ])
    };
    let (one, two) = (run("1"), run("2"));
    assert!(one.status.success() && two.status.success(), "{two:?}");
    assert!(!one.stdout.is_empty());
    assert_eq!(one.stdout, two.stdout);
}

#[test]
fn features_that_see_every_flow_decode_on_one_thread_and_say_so() {
    let capture = many_flows(2);
    let capture = capture.to_str().unwrap();
    let pcapng =
        std::env::temp_dir().join(format!("netcore-threads-{}.pcapng", std::process::id()));
    for (args, why) in [
        (
            &["-c", "5"][..],
            "-c counts the packets in the order they came",
        ),
        (
            &["--events", "net_flow"],
            "flow events outside host mode must see every flow",
        ),
        (
            &["--signatures", "builtin"],
            "--signatures must see every flow",
        ),
        (
            &["-w", pcapng.to_str().unwrap()],
            "-w writes the packets in the order they came",
        ),
    ] {
        let mut all = vec!["--json", "--threads", "2", "-r", capture];
        all.extend_from_slice(args);
        let output = netcore(&all);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&format!("decoding on one thread, since {why}")),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("decoded on 2 threads"), "{stderr}");
    }
    let _ = std::fs::remove_file(&pcapng);
}

#[test]
fn owners_recorded_in_a_pcapng_reach_the_events_of_every_thread() {
    let mut file = common::PcapNg::default();
    file.section();
    file.interface(101, None); // raw IP
    for port in 0..3_000u16 {
        let segment = common::ipv4_tcp(
            ([10, 0, 0, 1], 40_000 + port),
            ([10, 0, 0, 2], 443),
            1,
            0x02,
            b"",
        );
        let owner = format!("PID: {port}\nThreadName: curl-{port}\nContainerName: web \"{port}\"");
        file.packet_with_comments(
            0,
            1_700_000_000_000_000 + u64::from(port),
            &segment,
            &[&owner],
        );
    }
    let capture = temp_file("owners.pcapng", &file.bytes);
    let capture = capture.to_str().unwrap();
    let run = |threads: &str| netcore(&["--json", "--threads", threads, "-r", capture]);
    let (one, three) = (run("1"), run("3"));
    assert!(one.status.success() && three.status.success(), "{three:?}");
    assert_eq!(one.stdout, three.stdout);
    let last = String::from_utf8(three.stdout).unwrap();
    let last: serde_json::Value = serde_json::from_str(last.lines().last().unwrap()).unwrap();
    assert_eq!(last["processName"], "curl-2999");
    assert_eq!(last["processId"], 2999);
    assert_eq!(last["containerName"], "web \"2999\"");
}
