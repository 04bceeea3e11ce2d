//! What the kernel copies and what the filters, -i and pcap expressions keep.

use super::*;

/// A running `netcore --json`: its events arrive on a channel, one parsed line each.
#[test]
fn v024_schema_carries_each_packets_direction() {
    if !root_or_skip("v024_schema_carries_each_packets_direction") {
        return;
    }
    let net = TestNet::new();
    let netcore = Netcore::start(&["--schema", "tracee-0.24", "--events", "net_packet_tcp"]);
    let (client_pid, server_pid) = tcp_exchange(&net, "7003", None, b"which way");
    let events = netcore.events_for(&net.server, Duration::from_secs(10), |events| {
        both_ends_closed(events, client_pid, server_pid)
    });
    let mut checked = 0;
    for event in named(&events, "net_packet_tcp") {
        assert_eq!(event["eventId"], "2002");
        let local = if event["hostProcessId"] == client_pid {
            &net.client
        } else if event["hostProcessId"] == server_pid {
            &net.server
        } else {
            continue;
        };
        // Sent by the owner's socket: egress (2); received by it: ingress (1).
        let expected = if arg(event, "src") == local.as_str() {
            2
        } else {
            1
        };
        assert_eq!(arg(event, "metadata")["direction"], expected, "{event}");
        checked += 1;
    }
    assert!(checked >= 8, "both ends' segments, both ways: {events:#?}");
}

#[test]
fn the_kernel_copies_headers_only_when_no_selected_event_reads_payload() {
    if !root_or_skip("the_kernel_copies_headers_only_when_no_selected_event_reads_payload") {
        return;
    }
    let with_dns = Netcore::start(&["--events", "net_packet_tcp,net_packet_dns"]);
    assert!(
        with_dns.started.contains("(snaplen 1024 bytes"),
        "{}",
        with_dns.started
    );
    drop(with_dns);
    let net = TestNet::new();
    let netcore = Netcore::start(&["--events", "net_packet_ipv4,net_packet_tcp"]);
    assert!(
        netcore.started.contains("(snaplen 128 bytes"),
        "{}",
        netcore.started
    );
    // A segment of 1,400 bytes: its events still have every header field.
    let (client_pid, _) = tcp_exchange(&net, "7008", None, &[b'x'; 1400]);
    let events = netcore.events_for(&net.server, Duration::from_secs(10), |events| {
        named(events, "net_packet_tcp")
            .any(|e| e["hostProcessId"] == client_pid && arg(e, "proto_tcp")["FIN"] == 1)
    });
    let data = named(&events, "net_packet_ipv4")
        .find(|e| e["hostProcessId"] == client_pid && arg(e, "proto_ipv4")["length"] == 1452)
        .unwrap_or_else(|| panic!("no 1,452-byte packet from the client: {events:#?}"));
    assert_eq!(arg(data, "dst"), net.server.as_str());
    let (status, summary) = netcore.interrupt();
    assert!(status.success());
    assert!(summary.unwrap_or_default().contains(" 0 decode errors"));
}

#[test]
fn packets_of_every_record_size_class_arrive_whole() {
    if !root_or_skip("packets_of_every_record_size_class_arrive_whole") {
        return;
    }
    // The kernel writes a record in place in the smallest size class that holds it (64,
    // 128, 256 … bytes of packet), from the 128-byte head it read first and the rest
    // straight from the packet: each of these pings lands in another class, and those past
    // 128 bytes cross from the head to the rest. The pattern's period is 15 bytes, so bytes
    // copied from a word off would break the checksums.
    let payloads = [20, 90, 150, 400, 1000, 1400];
    let net = TestNet::new();
    let file = std::env::temp_dir().join(format!("netcore-classes-{}.pcap", std::process::id()));
    let netcore = Netcore::start(&[
        "--events",
        "net_packet_icmp",
        "--snaplen",
        "4096",
        "-w",
        file.to_str().unwrap(),
    ]);
    for size in payloads {
        let size = size.to_string();
        let argv = [
            "ping",
            "-c",
            "1",
            "-s",
            &size,
            "-p",
            "0123456789abcdeffedcba98765432",
            &net.server,
        ];
        wait_ok(
            &mut net.command(&net.b, None, &argv).spawn().unwrap(),
            "ping",
        );
    }
    netcore.events_for(&net.server, Duration::from_secs(10), |events| {
        named(events, "net_packet_icmp").count() >= 2 * payloads.len()
    });
    let (status, summary) = netcore.interrupt();
    assert!(status.success());
    assert!(summary.unwrap_or_default().contains(" 0 decode errors"));
    let out = Command::new("tshark")
        .arg("-r")
        .arg(&file)
        .args(["-o", "ip.check_checksum:TRUE", "-Y", "icmp", "-T", "fields"])
        .args(["-e", "frame.len", "-e", "frame.cap_len"])
        .args(["-e", "ip.checksum.status", "-e", "icmp.checksum.status"])
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&file);
    let packets = String::from_utf8(out.stdout).unwrap();
    // Whole (captured = length) and intact (both checksums good: "1").
    for size in payloads {
        let length = (size + 28).to_string();
        let whole = packets
            .lines()
            .filter(|line| line.split('\t').collect::<Vec<_>>() == [&length, &length, "1", "1"])
            .count();
        assert!(
            whole >= 2,
            "the {length}-byte echo request, sent and received: {packets}"
        );
    }
}

#[test]
fn a_pcap_expression_selects_host_mode_packets() {
    if !root_or_skip("a_pcap_expression_selects_host_mode_packets") {
        return;
    }
    let net = TestNet::new();
    // Host mode hands out raw IP packets: libpcap compiles the expression for those.
    let netcore = Netcore::start(&["udp", "and", "dst", "port", "7005"]);
    let mut server = net
        .command(&net.a, None, &["nc", "-u", "-l", &net.server, "7005"])
        .spawn()
        .unwrap();
    wait_until("the UDP listener", Duration::from_secs(5), || {
        listening_udp(Some(&net.a), 7005)
    });
    let (client_pid, _) = tcp_exchange(&net, "7006", None, b"not selected");
    let mut client = net
        .command(&net.b, None, &["nc", "-u", "-w", "1", &net.server, "7005"])
        .stdin(stdin_with(b"selected"))
        .spawn()
        .unwrap();
    wait_ok(&mut client, "nc -u client");
    let events = netcore.events_for(&net.server, Duration::from_secs(10), |events| {
        named(events, "net_packet_udp").count() >= 1
    });
    let _ = (server.kill(), server.wait());
    assert!(named(&events, "net_packet_udp").any(|e| arg(e, "dst_port") == 7005));
    assert!(
        events.iter().all(|e| e["hostProcessId"] != client_pid),
        "the TCP exchange on 7006 is not selected: {events:#?}"
    );
    assert!(
        named(&events, "net_packet_tcp").next().is_none(),
        "{events:#?}"
    );
}

#[test]
fn dash_i_keeps_one_interface_of_netcores_namespace() {
    if !root_or_skip("dash_i_keeps_one_interface_of_netcores_namespace") {
        return;
    }
    let net = TestNet::new();
    let netcore = Netcore::start(&["-i", "lo", "--events", "net_packet_udp,net_packet_icmp"]);
    // Loopback traffic in netcore's namespace, and ping between the test namespaces.
    let mut ping = net
        .command(&net.b, None, &["ping", "-c", "3", "-i", "0.2", &net.server])
        .spawn()
        .unwrap();
    let mut server = Command::new("nc")
        .args(["-u", "-l", "127.0.0.1", "7007"])
        .spawn()
        .unwrap();
    wait_until("the UDP listener", Duration::from_secs(5), || {
        listening_udp(None, 7007)
    });
    let mut client = Command::new("nc")
        .args(["-u", "-w", "1", "127.0.0.1", "7007"])
        .stdin(stdin_with(b"on lo"))
        .spawn()
        .unwrap();
    wait_ok(&mut client, "nc -u client on lo");
    wait_ok(&mut ping, "ping between the test namespaces");
    let on_lo = netcore.events_for("127.0.0.1", Duration::from_secs(10), |events| {
        named(events, "net_packet_udp").any(|e| arg(e, "dst_port") == 7007)
    });
    let _ = (server.kill(), server.wait());
    assert!(named(&on_lo, "net_packet_udp").any(|e| arg(e, "dst_port") == 7007));
    let elsewhere = netcore.events_for(&net.server, Duration::from_secs(1), |_| false);
    assert!(
        elsewhere.is_empty(),
        "the test namespaces' packets cross no lo of netcore's: {elsewhere:#?}"
    );
    let (status, summary) = netcore.interrupt();
    assert!(status.success());
    assert!(
        summary.is_some_and(|s| s.contains("on other interfaces (-i)")),
        "the ping packets are counted as left out"
    );
}

#[test]
fn comm_and_pid_filters_pass_only_that_process_and_drop_the_rest_in_the_kernel() {
    if !root_or_skip("comm_and_pid_filters_pass_only_that_process_and_drop_the_rest_in_the_kernel")
    {
        return;
    }
    let net = TestNet::new();
    // The server's pid is known now; its socket is created while netcore runs.
    let listen = format!("sleep 2; exec nc -u -l {} 7003", net.server);
    let mut server = net
        .command(&net.a, None, &["sh", "-c", &listen])
        .spawn()
        .unwrap();
    let server_pid = server.id();
    let by_comm = Netcore::start(&["--filter", "comm=ping"]);
    let by_pid = Netcore::start(&["--filter", &format!("pid={server_pid}")]);
    wait_until(
        "the UDP server did not start",
        Duration::from_secs(10),
        || listening_udp(Some(&net.a), 7003),
    );

    let mut ping = net
        .command(&net.b, None, &["ping", "-c", "2", "-i", "0.2", &net.server])
        .spawn()
        .unwrap();
    let mut client = net
        .command(&net.b, None, &["nc", "-u", "-w", "1", &net.server, "7003"])
        .stdin(stdin_with(b"for the server"))
        .spawn()
        .unwrap();
    let ping_pid = ping.id();
    wait_ok(&mut ping, "ping");
    wait_ok(&mut client, "nc -u client");
    let _ = (server.kill(), server.wait());

    let pings = by_comm.events_for(&net.server, Duration::from_secs(3), |_| false);
    assert!(
        pings.len() >= 8,
        "2 requests + 2 replies, IPv4 + ICMP each: {pings:#?}"
    );
    assert!(
        pings
            .iter()
            .all(|e| e["hostProcessId"] == ping_pid && e["processName"] == "ping")
    );
    let served = by_pid.events_for(&net.server, Duration::from_secs(1), |_| false);
    assert!(!served.is_empty(), "the datagram the server received");
    assert!(served.iter().all(|e| e["hostProcessId"] == server_pid));
    assert!(named(&served, "net_packet_udp").any(|e| arg(e, "dst_port") == 7003));
    // What the filters rejected never reached user space.
    for netcore in [by_comm, by_pid] {
        let (status, summary) = netcore.interrupt();
        assert!(status.success());
        let summary = summary.unwrap();
        assert!(number_before(&summary, " filtered out") > 0, "{summary}");
    }
}
