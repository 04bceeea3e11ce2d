//! Flow records of real traffic, their owners and names, and a signature on live DNS.

use super::*;

#[test]
fn a_tcp_connection_is_a_flow_in_each_namespace_with_its_owner() {
    if !root_or_skip("a_tcp_connection_is_a_flow_in_each_namespace_with_its_owner") {
        return;
    }
    let net = TestNet::new();
    let netcore = Netcore::start(&["--events", "net_flow,net_flow_tcp_begin,net_flow_tcp_end"]);
    let (client_pid, server_pid) = tcp_exchange(&net, "7003", None, b"hello");
    // Each end's namespace sees the connection: two flows, each with its local owner,
    // written once the closed connection has lingered (the next ticks).
    let events = netcore.events_for(&net.server, Duration::from_secs(15), |events| {
        named(events, "net_flow").count() >= 2
    });
    let records: Vec<&Value> = named(&events, "net_flow").collect();
    assert_eq!(records.len(), 2, "{events:#?}");
    for (direction, owner) in [("outgoing", client_pid), ("incoming", server_pid)] {
        let record = records
            .iter()
            .find(|e| arg(e, "conn_direction") == direction)
            .unwrap_or_else(|| panic!("no {direction} flow: {records:#?}"));
        assert_eq!(record["hostProcessId"], owner, "{record}");
        assert_eq!(record["processName"], "nc");
        assert_eq!(arg(record, "src"), net.client.as_str());
        assert_eq!(arg(record, "dst"), net.server.as_str());
        assert_eq!(arg(record, "dst_port"), 7003);
        assert_eq!(arg(record, "conn_state"), "SF", "{record}");
        assert_eq!(arg(record, "orig_bytes"), 5, "hello: {record}");
        assert_eq!(arg(record, "reason"), "closed");
    }
    assert_eq!(
        arg(records[0], "community_id"),
        arg(records[1], "community_id"),
        "one connection, one Community ID"
    );
    // Tracee's begin event at the SYN+ACK, in each namespace, owned by that side.
    let begins: Vec<(String, u64)> = named(&events, "net_flow_tcp_begin")
        .map(|e| {
            let direction = arg(e, "conn_direction").as_str().unwrap().to_owned();
            (direction, e["hostProcessId"].as_u64().unwrap())
        })
        .collect();
    assert!(
        begins.contains(&("incoming".to_owned(), u64::from(server_pid)))
            && begins.contains(&("outgoing".to_owned(), u64::from(client_pid))),
        "{begins:?}"
    );
    assert_eq!(named(&events, "net_flow_tcp_end").count(), 2, "{events:#?}");
    let (status, summary) = netcore.interrupt();
    assert!(status.success());
    assert!(summary.is_some_and(|s| s.contains("flows: ")));
}

#[test]
fn flow_records_name_their_servers_whichever_thread_decodes_them() {
    if !root_or_skip("flow_records_name_their_servers_whichever_thread_decodes_them") {
        return;
    }
    let net = TestNet::new();
    let netcore = start_on_two_threads(&["--events", "net_flow"]);
    let mut dns_server =
        net.dns_server(&[&format!("--address=/named.netcore.test/{}", net.server)]);
    thread::sleep(Duration::from_millis(500));
    // dig from a fixed port: the answer's ring is known.
    let dig_port = 40053;
    let answer_ring = net.ring(dig_port, 53, ip::UDP);
    let mut dig = net
        .command(
            &net.b,
            None,
            &[
                "dig",
                "-b",
                &format!("{}#{dig_port}", net.client),
                &format!("@{}", net.server),
            ],
        )
        .args(["+tries=1", "+time=3", "named.netcore.test", "A"])
        .spawn()
        .unwrap();
    wait_ok(&mut dig, "dig");
    // Then a connection to the answer's address whose flow that ring takes, and one whose
    // flow the other ring takes.
    let same = net.port_on_ring(answer_ring, 7060, 41000);
    let other = net.port_on_ring(1 - answer_ring, 7060, 41100);
    for source_port in [same, other] {
        tcp_exchange_from(&net, Some(source_port), "7060", None, b"named");
    }
    let connection =
        |e: &&Value, port: u16| arg(e, "src_port") == port && arg(e, "dst_port") == 7060;
    let events = netcore.events_for(&net.server, Duration::from_secs(15), |events| {
        [same, other].iter().all(|&port| {
            named(events, "net_flow")
                .filter(|e| connection(e, port))
                .count()
                >= 2
        })
    });
    let _ = (dns_server.kill(), dns_server.wait());
    // Each connection is a flow in both namespaces; the client's end was told the server's
    // name by the answer, and the server's end saw it too (both namespaces' packets); the
    // lookup's round trip is the same whichever thread timed it (from copies of the query
    // and the answer on the other).
    let mut round_trips = Vec::new();
    for port in [same, other] {
        let client_end = named(&events, "net_flow")
            .find(|e| connection(e, port) && arg(e, "conn_direction") == "outgoing")
            .unwrap_or_else(|| panic!("no outgoing flow from port {port}: {events:#?}"));
        assert_eq!(
            arg(client_end, "dst_dns"),
            &serde_json::json!(["named.netcore.test"]),
            "port {port} (ring {} of the answer's {answer_ring}): {client_end}",
            net.ring(port, 7060, ip::TCP)
        );
        round_trips.push(arg(client_end, "dns_rtt").as_u64().unwrap());
    }
    assert!(round_trips[0] > 0, "{round_trips:?}");
    assert_eq!(round_trips[0], round_trips[1]);
    let (status, summary) = netcore.interrupt();
    assert!(status.success());
    let summary = summary.unwrap_or_default();
    assert_each_of_two_threads_decoded(&summary);
    assert!(
        !summary.contains("copies of DNS messages"),
        "none lost: {summary}"
    );
}

#[test]
fn the_reference_dns_signature_fires_on_a_local_authoritative_server() {
    if !root_or_skip("the_reference_dns_signature_fires_on_a_local_authoritative_server") {
        return;
    }
    // The seed's HOWTO: nslookup -type=mx|ns|soa|txt uol.com.br, here answered by a
    // dnsmasq authoritative for the zone in the server's namespace.
    let net = TestNet::new();
    let netcore = Netcore::start(&["--signatures", "dns_e2e", "--findings-only"]);
    let auth_server = format!("--auth-server=eliot.uol.com.br,{}", net.server);
    let mut dns_server = net.dns_server(&[
        &auth_server,
        "--auth-zone=uol.com.br",
        "--auth-soa=1,root.uol.com.br",
        "--mx-host=uol.com.br,mx.uol.com.br,10",
        "--txt-record=uol.com.br,v=spf1 include:spf.uol.com.br ~all",
    ]);
    thread::sleep(Duration::from_millis(500));
    for kind in ["mx", "ns", "soa", "txt"] {
        let mut lookup = net
            .command(
                &net.b,
                None,
                &[
                    "nslookup",
                    &format!("-type={kind}"),
                    "uol.com.br",
                    &net.server,
                ],
            )
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        wait_ok(&mut lookup, "nslookup");
    }
    let mut findings = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while findings.is_empty() && Instant::now() < deadline {
        if let Ok(event) = netcore.events.recv_timeout(Duration::from_millis(200)) {
            findings.push(event);
        }
    }
    let _ = dns_server.kill();
    let _ = dns_server.wait();
    let (status, summary) = netcore.interrupt();
    assert!(status.success());
    assert_eq!(findings.len(), 1, "{findings:#?}");
    let finding = &findings[0];
    assert_eq!(finding["eventName"], "dns_e2e");
    assert_eq!(finding["args"][0]["value"]["name"], "net_packet_dns");
    assert!(
        finding["hostProcessId"].as_u64().is_some_and(|p| p > 0),
        "{finding}"
    );
    // Each answer crosses two namespaces: the second copies complete no new set.
    assert!(summary.is_some_and(|s| s.contains("findings: DNS=1")));
}

#[test]
fn flows_of_real_traffic_agree_with_tshark() {
    if !root_or_skip("flows_of_real_traffic_agree_with_tshark") {
        return;
    }
    let net = TestNet::new();
    let dir = std::env::temp_dir().join(format!("netcore-flows-live-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key, file) = (
        dir.join("cert.pem"),
        dir.join("key.pem"),
        dir.join("flows.pcapng"),
    );
    let openssl_req = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=netcore",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(openssl_req.status.success());
    let netcore = Netcore::start(&[
        "--events",
        "net_flow",
        "--filter",
        &format!("host={}", net.server),
        "-w",
        file.to_str().unwrap(),
    ]);
    let spawn = |ns: &str, argv: &[&str]| net.command(ns, None, argv).spawn().unwrap();
    let mut web = spawn(
        &net.a,
        &[
            "python3",
            "-m",
            "http.server",
            "--bind",
            &net.server,
            "8080",
        ],
    );
    let mut tls = net
        .command(
            &net.a,
            None,
            &["openssl", "s_server", "-quiet", "-accept", "8443"],
        )
        .args([
            "-cert",
            cert.to_str().unwrap(),
            "-key",
            key.to_str().unwrap(),
        ])
        .spawn()
        .unwrap();
    let mut udp_server = spawn(&net.a, &["nc", "-u", "-l", &net.server, "7005"]);
    thread::sleep(Duration::from_millis(800));
    let url = format!("http://{}:8080/", net.server);
    let runs: [&[&str]; 5] = [
        &["curl", "-s", "-o", "/dev/null", &url],
        &[
            "sh",
            "-c",
            &format!(
                "openssl s_client -connect {}:8443 -servername tls.netcore.test </dev/null",
                net.server
            ),
        ],
        &[
            "sh",
            "-c",
            &format!("echo hi | nc -u -w 1 {} 7005", net.server),
        ],
        &["ping", "-c", "2", "-i", "0.2", &net.server],
        // A refused connection: nothing listens on 7006.
        &["nc", "-z", "-w", "1", &net.server, "7006"],
    ];
    for argv in runs {
        let _ = net.command(&net.b, None, argv).status();
    }
    thread::sleep(Duration::from_millis(300));
    for child in [&mut web, &mut tls, &mut udp_server] {
        let _ = child.kill();
        let _ = child.wait();
    }
    // Closed connections are written 2 s after they end; the rest at SIGINT: read every
    // record until netcore's output closes.
    thread::sleep(Duration::from_millis(2500));
    let mut netcore = netcore;
    // SAFETY: signalling our own child.
    unsafe { libc::kill(netcore.child.id() as i32, libc::SIGINT) };
    let records: Vec<Value> = netcore.events.iter().collect();
    assert!(netcore.child.wait().unwrap().success());
    // The client's namespace: its flows are the ones it opened; tshark sees the same packets
    // in the file as the client's sent (outbound) and received (inbound) copies.
    let client_view = format!(
        "(ip.src=={c} && frame.packet_flags_direction==2) || (ip.dst=={c} && frame.packet_flags_direction==1)",
        c = net.client
    );
    let out = Command::new("tshark")
        .arg("-r")
        .arg(&file)
        .args(["-n", "--enable-protocol", "communityid", "-Y", &client_view])
        .args([
            "-T",
            "fields",
            "-e",
            "communityid",
            "-e",
            "ip.src",
            "-e",
            "frame.len",
        ])
        .args(["-e", "tls.handshake.extensions_server_name"])
        .output()
        .unwrap();
    let mut tshark: std::collections::BTreeMap<String, [(u64, u64); 2]> = Default::default();
    let mut sni: std::collections::BTreeMap<String, String> = Default::default();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let side = usize::from(f[1] != net.client);
        let counts = &mut tshark.entry(f[0].to_owned()).or_default()[side];
        counts.0 += 1;
        counts.1 += f[2].parse::<u64>().unwrap();
        if f.len() > 3 && !f[3].is_empty() {
            sni.insert(f[0].to_owned(), f[3].to_owned());
        }
    }
    // (The server's namespace sees ping's replies, sent by the kernel, as an outgoing
    // flow of its own: only the client opened these.)
    let outgoing: Vec<&Value> = records
        .iter()
        .filter(|r| arg(r, "conn_direction") == "outgoing" && arg(r, "src") == net.client.as_str())
        .collect();
    let states: Vec<(String, String)> = outgoing
        .iter()
        .map(|r| {
            (
                arg(r, "proto").as_str().unwrap().to_owned(),
                arg(r, "conn_state").as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for expected in [
        ("TCP", "SF"),
        ("TCP", "REJ"),
        ("UDP", "S0"),
        ("ICMPv4", "OTH"),
    ] {
        assert!(
            states
                .iter()
                .any(|(p, s)| (p.as_str(), s.as_str()) == expected),
            "{expected:?} in {states:?}"
        );
    }
    for record in &outgoing {
        let id = arg(record, "community_id").as_str().unwrap();
        let theirs = tshark
            .get(id)
            .unwrap_or_else(|| panic!("tshark has no flow {id}: {tshark:?}"));
        let ours = [
            (
                arg(record, "orig_packets").as_u64().unwrap(),
                arg(record, "orig_ip_bytes").as_u64().unwrap(),
            ),
            (
                arg(record, "resp_packets").as_u64().unwrap(),
                arg(record, "resp_ip_bytes").as_u64().unwrap(),
            ),
        ];
        assert_eq!(&ours, theirs, "packets and IP bytes each way: {record}");
        if let Some(name) = sni.get(id) {
            assert_eq!(arg(record, "sni"), name.as_str());
        }
    }
    assert_eq!(
        sni.values().next().map(String::as_str),
        Some("tls.netcore.test")
    );
    let http = outgoing
        .iter()
        .find(|r| arg(r, "dst_port") == 8080)
        .unwrap();
    assert_eq!(
        arg(http, "http_host"),
        format!("{}:8080", net.server).as_str()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_refused_connect_is_reported_once_with_the_connecting_process() {
    if !root_or_skip("a_refused_connect_is_reported_once_with_the_connecting_process") {
        return;
    }
    let net = TestNet::new();
    let netcore = Netcore::start(&["--events", "net_connect_failure"]);
    // Nothing listens on the port: the server's kernel answers the SYN with a RST.
    let mut client = net
        .command(&net.b, None, &["nc", "-N", &net.server, "7999"])
        .stdin(stdin_with(b"hello"))
        .spawn()
        .unwrap();
    let client_pid = client.id();
    let _ = client.wait();
    let events = netcore.events_for(&net.server, Duration::from_secs(10), |events| {
        !events.is_empty()
    });
    // Anything more would come with the next packets: give them a moment.
    let more = netcore.events_for(&net.server, Duration::from_secs(2), |_| false);
    let failures: Vec<&Value> = events.iter().chain(&more).collect();
    assert_eq!(failures.len(), 1, "{failures:#?}");
    let failure = failures[0];
    assert_eq!(failure["eventName"], "net_connect_failure");
    assert_eq!(failure["hostProcessId"], client_pid, "{failure}");
    assert_eq!(failure["processName"], "nc");
    assert_eq!(arg(failure, "cause"), "refused");
    assert_eq!(arg(failure, "src"), net.client.as_str());
    assert_eq!(arg(failure, "dst"), net.server.as_str());
    assert_eq!(arg(failure, "dst_port"), 7999);
    assert_eq!(arg(failure, "attempts"), 1);
    let (status, _) = netcore.interrupt();
    assert!(status.success());
}

#[test]
fn each_failure_cause_is_reported_once_with_the_connecting_process() {
    if !root_or_skip("each_failure_cause_is_reported_once_with_the_connecting_process") {
        return;
    }
    let net = TestNet::new();
    // The server's namespace drops the SYNs to 7201 and 7205 and answers those to 7202
    // with an ICMP host unreachable; nothing listens on UDP 7204 (port unreachable).
    let rules = std::env::temp_dir().join(format!("netcore-fail-{}.nft", std::process::id()));
    std::fs::write(
        &rules,
        "table inet netcore_fail {\n\
         chain in { type filter hook input priority 0; \
         tcp dport { 7201, 7205 } drop; \
         tcp dport 7202 reject with icmpx type host-unreachable; }\n}\n",
    )
    .unwrap();
    run(
        "ip",
        &format!("netns exec {} nft -f {}", net.a, rules.display()),
    );
    let _ = std::fs::remove_file(&rules);
    // The client's kernel gives up after one SYN retransmission (~3 s).
    run(
        "ip",
        &format!("netns exec {} sysctl -qw net.ipv4.tcp_syn_retries=1", net.b),
    );
    let netcore = Netcore::start(&["--events", "net_connect_failure"]);
    let nc = |argv: &[&str]| {
        net.command(&net.b, None, argv)
            .stdin(stdin_with(b"hello"))
            .spawn()
            .unwrap()
    };
    let mut clients = [
        nc(&["nc", "-N", &net.server, "7201"]), // the kernel gives up
        nc(&["nc", "-w", "1", &net.server, "7205"]), // the process gives up first
        nc(&["nc", "-N", &net.server, "7202"]), // host unreachable
        nc(&["nc", "-u", "-w", "1", &net.server, "7204"]), // port unreachable
    ];
    let pids: Vec<u32> = clients.iter().map(|c| c.id()).collect();
    for client in &mut clients {
        let _ = client.wait();
    }
    let mut failures = netcore.events_for(&net.server, Duration::from_secs(10), |events| {
        events.len() >= 4
    });
    // Anything more would come with the next reports: give them a moment.
    failures.extend(netcore.events_for(&net.server, Duration::from_secs(2), |_| false));
    let (status, _) = netcore.interrupt();
    assert!(status.success());
    assert_eq!(failures.len(), 4, "{failures:#?}");
    let of = |port: u64| {
        failures
            .iter()
            .find(|e| arg(e, "dst_port") == port)
            .unwrap_or_else(|| panic!("no failure for port {port}: {failures:#?}"))
    };
    for (i, (port, cause, error, proto)) in [
        (7201, "timeout", "ETIMEDOUT", "TCP"),
        (7205, "timeout", "", "TCP"),
        (7202, "unreachable", "EHOSTUNREACH", "TCP"),
        (7204, "unreachable", "ECONNREFUSED", "UDP"),
    ]
    .into_iter()
    .enumerate()
    {
        let failure = of(port);
        assert_eq!(failure["hostProcessId"], pids[i], "{failure}");
        assert_eq!(failure["processName"], "nc", "{failure}");
        assert_eq!(arg(failure, "cause"), cause, "{failure}");
        assert_eq!(arg(failure, "error"), error, "{failure}");
        assert_eq!(arg(failure, "proto"), proto, "{failure}");
        assert_eq!(arg(failure, "src"), net.client.as_str());
        // The kernel does not say which ICMP error it got.
        assert_eq!(arg(failure, "icmp_type"), -1, "{failure}");
    }
    // The SYN and the retransmissions the kernel sends before it gives up: one with
    // exponential backoff, two where the first ones come a second apart
    // (`tcp_syn_linear_timeouts`, 6.x); one SYN, answered at once; a datagram.
    let attempts = arg(of(7201), "attempts").as_u64().unwrap();
    assert!((2..=3).contains(&attempts), "{attempts}");
    assert_eq!(arg(of(7202), "attempts"), 1);
    assert_eq!(arg(of(7204), "attempts"), 1);
}
