//! Host mode's flow accounting: with only flow events selected the kernel counts the
//! flows and sends up only the packets the events read; the records stay exact.

use super::*;

/// The JSON object `key` a `tests/live/udp_flood.py` run printed: datagrams by source port.
fn flood_counts(output: std::process::Output, key: &str) -> HashMap<u16, u64> {
    assert!(output.status.success(), "udp_flood.py failed: {output:?}");
    let printed: Value = serde_json::from_slice(&output.stdout).expect("udp_flood.py's JSON");
    printed[key]
        .as_object()
        .unwrap_or_else(|| panic!("no {key} in {printed}"))
        .iter()
        .map(|(port, n)| (port.parse().unwrap(), n.as_u64().unwrap()))
        .collect()
}

/// Stops `netcore` and returns its `net_flow` records touching `address`, all of them
/// (the flows end with the capture), and its summary line.
fn records_at_the_end(netcore: Netcore, address: &str) -> (Vec<Value>, String) {
    // SAFETY: signalling our own child.
    unsafe { libc::kill(netcore.child.id() as i32, libc::SIGINT) };
    let events = netcore.events_for(address, Duration::from_secs(20), |_| false);
    let (status, summary) = netcore.interrupt();
    assert!(status.success());
    let records = named(&events, "net_flow").cloned().collect();
    (records, summary.expect("a summary line"))
}

#[test]
fn a_udp_flood_is_counted_exactly_in_the_kernel() {
    if !root_or_skip("a_udp_flood_is_counted_exactly_in_the_kernel") {
        return;
    }
    let net = TestNet::new();
    let netcore = Netcore::start(&["--events", "net_flow"]);
    let flood = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/live/udp_flood.py");
    let receiver = net
        .command(&net.a, None, &["python3", flood, "receive", "9000", "3"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("the receiver listens", Duration::from_secs(10), || {
        listening_udp(Some(&net.a), 9000)
    });
    // 16 flows, 5,000 datagrams of 100 bytes in half a second.
    let sender = net
        .command(
            &net.b,
            None,
            &[
                "python3",
                flood,
                "send",
                &net.server,
                "9000",
                "16",
                "10000",
                "0.5",
            ],
        )
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    let sent = flood_counts(sender, "sent");
    let received = flood_counts(receiver.wait_with_output().unwrap(), "received");
    assert_eq!(sent.len(), 16);
    let (records, summary) = records_at_the_end(netcore, &net.server);
    // Each flow is a record in each namespace: the sender's (outgoing) counts what its
    // socket sent, the receiver's (incoming) what reached its host.
    for (direction, truth) in [("outgoing", &sent), ("incoming", &received)] {
        for (&port, &datagrams) in truth {
            let record = records
                .iter()
                .find(|r| arg(r, "conn_direction") == direction && arg(r, "src_port") == port)
                .unwrap_or_else(|| panic!("no {direction} flow from port {port}: {records:#?}"));
            assert_eq!(arg(record, "orig_packets"), datagrams, "{record}");
            assert_eq!(arg(record, "orig_bytes"), datagrams * 100, "{record}");
            assert_eq!(arg(record, "orig_ip_bytes"), datagrams * 128, "{record}");
            assert_eq!(arg(record, "resp_packets"), 0, "{record}");
            assert_eq!(record["processName"], "python3", "{record}");
        }
    }
    // The kernel kept all but each flow's first packets: at most 4 a flow in each
    // namespace went up (other tests' traffic may add to what it kept).
    let total: u64 = sent.values().sum::<u64>() + received.values().sum::<u64>();
    let kept = number_before(&summary, " counted in their flows only");
    assert!(
        kept + 2 * 16 * 4 >= total,
        "{total} sent and received: {summary}"
    );
}

#[test]
fn a_tcp_transfer_counted_in_the_kernel_keeps_its_bytes_and_names() {
    if !root_or_skip("a_tcp_transfer_counted_in_the_kernel_keeps_its_bytes_and_names") {
        return;
    }
    let net = TestNet::new();
    let netcore = Netcore::start(&["--events", "net_flow"]);
    // An HTTP request's head, then 300 kB: the head names the flow's host.
    let mut payload = b"POST /upload HTTP/1.1\r\nHost: upload.test\r\n\r\n".to_vec();
    payload.resize(300_000, b'x');
    let (client_pid, server_pid) = tcp_exchange(&net, "7011", None, &payload);
    let (records, summary) = records_at_the_end(netcore, &net.server);
    for (direction, pid) in [("outgoing", client_pid), ("incoming", server_pid)] {
        let record = records
            .iter()
            .find(|r| arg(r, "conn_direction") == direction && arg(r, "dst_port") == 7011)
            .unwrap_or_else(|| panic!("no {direction} flow: {records:#?}"));
        assert_eq!(arg(record, "orig_bytes"), 300_000, "{record}");
        assert_eq!(arg(record, "resp_bytes"), 0, "{record}");
        assert_eq!(arg(record, "conn_state"), "SF", "{record}");
        assert_eq!(arg(record, "http_host"), "upload.test", "{record}");
        assert_eq!(record["hostProcessId"], pid, "{record}");
    }
    assert!(
        number_before(&summary, " counted in their flows only") > 20,
        "most segments stay in the kernel: {summary}"
    );
}

#[test]
fn packet_events_turn_flow_accounting_off() {
    if !root_or_skip("packet_events_turn_flow_accounting_off") {
        return;
    }
    let net = TestNet::new();
    // A packet event other tests' traffic does not give (their floods would fill the
    // output queue).
    let netcore = Netcore::start(&["--events", "net_flow,net_packet_icmp"]);
    let flood = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/live/udp_flood.py");
    let sender = net
        .command(
            &net.b,
            None,
            &[
                "python3",
                flood,
                "send",
                &net.server,
                "9001",
                "1",
                "1000",
                "0.1",
            ],
        )
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    let sent = flood_counts(sender, "sent");
    let (records, summary) = records_at_the_end(netcore, &net.server);
    let record = records
        .iter()
        .find(|r| arg(r, "conn_direction") == "outgoing")
        .unwrap_or_else(|| panic!("{records:#?}"));
    assert_eq!(arg(record, "orig_packets"), sent.values().sum::<u64>());
    assert!(
        !summary.contains(" counted in their flows only"),
        "every packet went up: {summary}"
    );
}
