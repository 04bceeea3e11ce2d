//! Several decoding threads: one ring buffer each, each flow in order, one -c count.

use super::*;

#[test]
fn connections_keep_their_order_when_several_threads_decode() {
    if !root_or_skip("connections_keep_their_order_when_several_threads_decode") {
        return;
    }
    let net = TestNet::new();
    let netcore = start_on_two_threads(&["--events", "net_packet_tcp"]);
    // Six connections, 64 KiB each way in many segments: their flows spread over both
    // threads.
    let clients: Vec<u32> = (0..6)
        .map(|i| tcp_exchange(&net, &(7020 + i).to_string(), None, &[b'y'; 65_536]).0)
        .collect();
    let events = netcore.events_for(&net.server, Duration::from_secs(15), |events| {
        clients.iter().all(|&pid| {
            named(events, "net_packet_tcp")
                .any(|e| e["hostProcessId"] == pid && arg(e, "proto_tcp")["FIN"] == 1)
        })
    });
    // Per direction of each connection, in the order printed.
    let segments = named(&events, "net_packet_tcp").map(|event| {
        let tcp = arg(event, "proto_tcp");
        let port = |name: &str| tcp[name].as_u64().unwrap() as u16;
        let seq = tcp["seq"].as_u64().unwrap();
        ((port("srcPort"), port("dstPort")), seq, tcp["SYN"] == 1)
    });
    assert_six_connections_in_order(segments);
    // Host mode spreads flows over one ring buffer per thread in the kernel: 32 more
    // connection attempts (SYN, RST) to a closed loopback port, from as many ports, make
    // it all but certain that each thread drains some.
    for _ in 0..32 {
        let refused = std::net::TcpStream::connect(("127.0.0.1", 1));
        assert!(refused.is_err(), "nothing listens on 127.0.0.1:1");
    }
    thread::sleep(Duration::from_millis(500));
    let (status, summary) = netcore.interrupt();
    assert!(status.success());
    let summary = summary.unwrap_or_default();
    assert!(summary.contains(" 0 decode errors"), "{summary}");
    assert_each_of_two_threads_decoded(&summary);
}

#[test]
fn every_record_is_read_once_through_small_rings_that_wrap() {
    if !root_or_skip("every_record_is_read_once_through_small_rings_that_wrap") {
        return;
    }
    // Only this test's sending thread passes the kernel filter (comm is the thread name).
    let netcore = Netcore::start(&[
        "--ring-size",
        "1",
        "--threads",
        "2",
        "--events",
        "net_packet_udp",
        "--filter",
        "comm=ncwrap-sender",
    ]);
    // 40,000 datagrams over 8 loopback flows, each seen leaving and arriving: 80,000
    // records of ~180 bytes, ~14 MB through two 1-MiB rings, each wrapping many times.
    thread::Builder::new()
        .name("ncwrap-sender".into())
        .spawn(|| {
            let receiver = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            let to = receiver.local_addr().unwrap();
            let senders: Vec<_> = (0..8)
                .map(|_| std::net::UdpSocket::bind("127.0.0.1:0").unwrap())
                .collect();
            for i in 0..40_000 {
                senders[i % 8].send_to(b"ring wrap test", to).unwrap();
            }
        })
        .unwrap()
        .join()
        .unwrap();
    thread::sleep(Duration::from_secs(1));
    let (status, summary) = netcore.interrupt();
    assert!(status.success());
    let summary = summary.unwrap();
    let read = number_before(&summary, " packets (");
    let captured = number_before(&summary, " packets captured");
    let lost = number_before(&summary, " lost to a full ring buffer");
    assert_eq!(read, captured, "every record written is read: {summary}");
    assert_eq!(captured + lost, 80_000, "{summary}");
    assert!(summary.contains(" 0 decode errors"), "{summary}");
    assert!(!summary.contains("malformed"), "{summary}");
    assert_each_of_two_threads_decoded(&summary);
}

#[test]
fn dash_c_counts_the_packets_of_every_thread() {
    if !root_or_skip("dash_c_counts_the_packets_of_every_thread") {
        return;
    }
    let net = TestNet::new();
    let mut netcore = start_on_two_threads(&[
        "--events",
        "net_packet_tcp",
        "--filter",
        "port=7080,7081,7082",
        "-c",
        "25",
    ]);
    // Three short connections, each ~18 packets as both namespaces see them, from client
    // ports that put the first on one thread and the second on the other: the first
    // falls short of 25, the second reaches it.
    for (i, port) in [7080u16, 7081, 7082].into_iter().enumerate() {
        let source = net.port_on_ring(i as u32 % 2, port, 41300 + 100 * i as u16);
        tcp_exchange_from(&net, Some(source), &port.to_string(), None, b"count");
    }
    wait_until(
        "netcore to stop by itself after -c 25",
        Duration::from_secs(10),
        || netcore.child.try_wait().unwrap().is_some(),
    );
    let events = netcore.events_for(&net.server, Duration::from_secs(2), |e| e.len() > 25);
    assert_eq!(named(&events, "net_packet_tcp").count(), 25, "{events:#?}");
    let (status, summary) = netcore.interrupt();
    assert!(status.success());
    assert_each_of_two_threads_decoded(&summary.unwrap_or_default());
}
