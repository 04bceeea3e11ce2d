//! -w: the packets behind the events, with their owners, from every thread.

use super::*;

#[test]
fn dash_w_records_each_packets_owner_and_direction() {
    if !root_or_skip("dash_w_records_each_packets_owner_and_direction") {
        return;
    }
    let net = TestNet::new();
    let file = std::env::temp_dir().join(format!("netcore-live-{}.pcapng", std::process::id()));
    let netcore = Netcore::start(&[
        "--events",
        "net_packet_tcp",
        "--filter",
        "port=7004",
        "-w",
        file.to_str().unwrap(),
    ]);
    let (client_pid, server_pid) = tcp_exchange(&net, "7004", None, b"hello");
    let events = netcore.events_for(&net.server, Duration::from_secs(10), |events| {
        both_ends_closed(events, client_pid, server_pid)
    });
    let (status, summary) = netcore.interrupt();
    assert!(status.success());
    assert!(summary.is_some_and(|s| s.contains("written to the -w file")));
    // Every event's packet is in the file, with its owner and direction for Wireshark.
    let out = Command::new("tshark")
        .arg("-r")
        .arg(&file)
        .args([
            "-T",
            "fields",
            "-e",
            "frame.packet_flags_direction",
            "-e",
            "frame.comment",
        ])
        .output()
        .unwrap();
    let packets = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = packets.lines().collect();
    assert!(lines.len() >= events.len(), "{packets}");
    let client_sent = lines
        .iter()
        .filter(|l| l.starts_with("0x00000002\t") && l.contains(&format!("PID: {client_pid}\\n")))
        .count();
    let server_received = lines
        .iter()
        .filter(|l| l.starts_with("0x00000001\t") && l.contains(&format!("PID: {server_pid}\\n")))
        .count();
    assert!(client_sent >= 2 && server_received >= 2, "{packets}");
    // Read back, the file gives the same owners.
    let replay = common::events_of(&[
        "--json",
        "--events",
        "net_packet_tcp",
        "-r",
        file.to_str().unwrap(),
    ]);
    let pids = |events: &[Value]| -> std::collections::BTreeSet<u64> {
        events
            .iter()
            .filter_map(|e| e["hostProcessId"].as_u64())
            .collect()
    };
    assert_eq!(pids(&replay), pids(&events));
    let _ = std::fs::remove_file(&file);
}

#[test]
fn dash_w_takes_every_threads_packets_each_flow_in_order() {
    if !root_or_skip("dash_w_takes_every_threads_packets_each_flow_in_order") {
        return;
    }
    let net = TestNet::new();
    let file = std::env::temp_dir().join(format!("netcore-threads-{}.pcapng", std::process::id()));
    let netcore = start_on_two_threads(&[
        "--events",
        "net_packet_tcp",
        "--filter",
        "port=7070,7071,7072,7073,7074,7075",
        "-w",
        file.to_str().unwrap(),
    ]);
    // Six connections, 32 KiB each way in many segments, from client ports that put three
    // on each thread.
    let clients: Vec<u32> = (0..6)
        .map(|i| {
            let port = 7070 + i;
            // Each its own (the last may still hold its port in TIME_WAIT).
            let source = net.port_on_ring(u32::from(i % 2), port, 41000 + 100 * i);
            tcp_exchange_from(&net, Some(source), &port.to_string(), None, &[b'w'; 32_768]).0
        })
        .collect();
    netcore.events_for(&net.server, Duration::from_secs(15), |events| {
        clients.iter().all(|&pid| {
            named(events, "net_packet_tcp")
                .any(|e| e["hostProcessId"] == pid && arg(e, "proto_tcp")["FIN"] == 1)
        })
    });
    let (status, summary) = netcore.interrupt();
    assert!(status.success());
    let summary = summary.unwrap_or_default();
    assert_each_of_two_threads_decoded(&summary);
    // One file holds both threads' packets: as many as the summary says were written, and
    // in each direction of each connection (one thread's) the SYN first, then sequence
    // numbers that never go back.
    let out = Command::new("tshark")
        .arg("-r")
        .arg(&file)
        .args(["-T", "fields", "-e", "tcp.srcport", "-e", "tcp.dstport"])
        .args(["-e", "tcp.seq_raw", "-e", "tcp.flags.syn"])
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&file);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let packets = String::from_utf8(out.stdout).unwrap();
    let written = number_before(&summary, " written to the -w file");
    assert_eq!(packets.lines().count() as u64, written, "{summary}");
    let segments = packets.lines().map(|line| {
        let f: Vec<&str> = line.split('\t').collect();
        let ports = (f[0].parse().unwrap(), f[1].parse().unwrap());
        (ports, f[2].parse().unwrap(), matches!(f[3], "1" | "True"))
    });
    assert_six_connections_in_order(segments);
}
