//! Connection health live: TCP connections with random loss (nftables `numgen random`
//! drops 3 % of the server's segments each way) and one to a slow reader (zero windows),
//! each seen by both ends' sockets. Each namespace's `net_flow` record carries its local
//! process and equals tshark's analysis of the packets netcore wrote to its `-w` file for
//! that process (by their owner comments), and netcore reading that file back gives the
//! same: what the host sees and what it records agree, packet for packet.

use super::*;
use common::health::{Health, assert_health_agrees, netcore_health, tshark_health};

#[test]
fn lossy_connections_report_tsharks_health_with_their_processes() {
    if !root_or_skip("lossy_connections_report_tsharks_health_with_their_processes")
        || !common::tshark_available("lossy_connections_report_tsharks_health_with_their_processes")
    {
        return;
    }
    let net = TestNet::new();
    let port = "9000";
    net.lose_segments(port);
    let dir = std::env::temp_dir().join(format!("netcore-health-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let capture = dir.join("live.pcapng");
    let netcore = Netcore::start(&["--events", "net_flow", "-w", capture.to_str().unwrap()]);
    let (client_pid, server_pid) = net.traffic(port, "f400000,s60000,f200000");
    // Three connections, a record in each end's namespace, once the closes have lingered.
    let events = netcore.events_for(&net.server, Duration::from_secs(20), |events| {
        named(events, "net_flow").count() >= 6
    });
    let (status, _) = netcore.interrupt();
    assert!(status.success());
    let records: Vec<Value> = named(&events, "net_flow").cloned().collect();
    assert_eq!(records.len(), 6, "{records:#?}");
    let mut compared = 0;
    for (direction, pid) in [("outgoing", client_pid), ("incoming", server_pid)] {
        let mine: Vec<Value> = records
            .iter()
            .filter(|e| arg(e, "conn_direction") == direction)
            .cloned()
            .collect();
        assert_eq!(mine.len(), 3, "{direction}: {records:#?}");
        assert!(
            mine.iter().all(|e| e["hostProcessId"] == pid),
            "{direction} not by {pid}: {mine:#?}"
        );
        // The packets netcore wrote for this end: those its comments give to the process.
        let part = dir.join(format!("{direction}.pcapng"));
        let status = Command::new("tshark")
            .arg("-r")
            .arg(&capture)
            .args([
                "-Y",
                &format!("frame.comment matches \"^PID: {pid}\\n\""),
                "-w",
            ])
            .arg(&part)
            .status()
            .unwrap();
        assert!(status.success());
        let tshark = tshark_health(&part);
        let netcore = netcore_health(&mine);
        compared += assert_health_agrees(&netcore, &tshark);
        // Read back from the file, the same packets give the same health.
        let part = part.to_str().unwrap();
        let from_file = common::events_of(&["--json", "--events", "net_flow", "-r", part]);
        assert_eq!(
            netcore_health(&from_file),
            netcore,
            "{direction}: live and file differ"
        );
        let total = |index: usize| {
            tshark
                .values()
                .map(|h: &Health| h.counts[index])
                .sum::<u64>()
        };
        eprintln!(
            "{direction}: {} retransmissions, {} out of order, {} zero windows (both ways) as tshark's",
            total(0) + total(1),
            total(2) + total(3),
            total(4) + total(5)
        );
    }
    assert_eq!(compared, 6);
    // Loss and the slow reader showed: the client resent, the slow server closed its window.
    let client_records: Vec<Value> = records
        .iter()
        .filter(|e| arg(e, "conn_direction") == "outgoing")
        .cloned()
        .collect();
    let health = netcore_health(&client_records);
    assert!(
        health.values().map(|h| h.counts[0]).sum::<u64>() > 0,
        "{health:#?}"
    );
    assert!(
        health.values().map(|h| h.counts[5]).sum::<u64>() > 0,
        "{health:#?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
