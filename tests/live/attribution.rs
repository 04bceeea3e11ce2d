//! Each packet attributed to the process, thread and cgroup owning its socket.

use super::*;

/// A child cgroup of the cgroup v2 root, removed on drop.
struct ChildCgroup(PathBuf);

impl ChildCgroup {
    fn new(name: &str) -> ChildCgroup {
        let path = cgroup2_root().join(format!("{name}-{}", std::process::id()));
        std::fs::create_dir_all(&path).expect("creating a child cgroup");
        ChildCgroup(path)
    }

    /// The cgroup v2 id: the directory's inode number.
    fn id(&self) -> u64 {
        std::fs::metadata(&self.0).unwrap().ino()
    }
}

impl Drop for ChildCgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// Where the cgroup v2 hierarchy is mounted (`/sys/fs/cgroup/unified` on hybrid hosts).
fn cgroup2_root() -> PathBuf {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mounts: Vec<&str> = mountinfo
        .lines()
        .filter(|l| {
            l.split(" - ")
                .nth(1)
                .is_some_and(|fs| fs.starts_with("cgroup2 "))
        })
        .filter_map(|l| l.split(' ').nth(4))
        .collect();
    ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
        .into_iter()
        .find(|p| mounts.contains(p))
        .or(mounts.first().copied())
        .expect("a cgroup v2 mount")
        .into()
}

#[test]
fn tcp_client_in_a_child_cgroup_and_accepting_server_are_attributed() {
    if !root_or_skip("tcp_client_in_a_child_cgroup_and_accepting_server_are_attributed") {
        return;
    }
    let net = TestNet::new();
    let cgroup = ChildCgroup::new("netcore-test-tcp");
    let netcore = Netcore::start(&[]);
    let (client_pid, server_pid) = tcp_exchange(&net, "7001", Some(&cgroup.0), b"hello");
    let events = netcore.events_for(&net.server, Duration::from_secs(10), |events| {
        both_ends_closed(events, client_pid, server_pid)
    });
    let tcp: Vec<&Value> = named(&events, "net_packet_tcp").collect();
    let from_client: Vec<&&Value> = tcp
        .iter()
        .filter(|e| arg(e, "src") == net.client.as_str())
        .collect();
    // Client side: its SYN and its data, from nc, in the child cgroup.
    let syn = from_client
        .iter()
        .find(|e| arg(e, "proto_tcp")["SYN"] == 1 && e["hostProcessId"] == client_pid)
        .unwrap_or_else(|| panic!("no SYN attributed to the client: {tcp:#?}"));
    assert_eq!(syn["processName"], "nc");
    assert_eq!(syn["cgroupId"], cgroup.id());
    assert_eq!(arg(syn, "dst_port"), 7001);
    assert_eq!(
        syn["processId"], client_pid,
        "the init pid namespace: processId == host pid"
    );
    // Server side: the data segment arrives on the accept()ed socket, owned by the server.
    let data_at_server = tcp
        .iter()
        .find(|e| {
            e["hostProcessId"] == server_pid
                && arg(e, "proto_tcp")["PSH"] == 1
                && arg(e, "dst") == net.server.as_str()
        })
        .unwrap_or_else(|| panic!("no data segment attributed to the server: {tcp:#?}"));
    assert_eq!(data_at_server["processName"], "nc");
    assert_eq!(arg(data_at_server, "dst_port"), 7001);
    assert_eq!(arg(data_at_server, "src"), net.client.as_str());
    // Each TCP event comes with its IPv4 event, same envelope.
    assert!(named(&events, "net_packet_ipv4").any(|e| e["hostProcessId"] == server_pid));
    let (status, summary) = netcore.interrupt();
    assert!(status.success(), "netcore exited with {status}");
    assert!(summary.is_some_and(|s| s.contains("lost to a full ring buffer")));
}

#[test]
fn udp_ping_and_dns_are_attributed_to_client_and_server() {
    if !root_or_skip("udp_ping_and_dns_are_attributed_to_client_and_server") {
        return;
    }
    let net = TestNet::new();
    let netcore = Netcore::start(&[]);
    let mut udp_server = net
        .command(&net.a, None, &["nc", "-u", "-l", &net.server, "7002"])
        .spawn()
        .unwrap();
    let mut dns_server = net.dns_server(&["--address=/netcore.test/192.0.2.53"]);
    thread::sleep(Duration::from_millis(500));

    let mut udp_client = net
        .command(&net.b, None, &["nc", "-u", "-w", "1", &net.server, "7002"])
        .stdin(stdin_with(b"datagram"))
        .spawn()
        .unwrap();
    let mut ping = net
        .command(&net.b, None, &["ping", "-c", "2", "-i", "0.2", &net.server])
        .spawn()
        .unwrap();
    let mut dig = net
        .command(
            &net.b,
            None,
            &[
                "dig",
                &format!("@{}", net.server),
                "+tries=1",
                "+time=3",
                "netcore.test",
                "A",
            ],
        )
        .spawn()
        .unwrap();
    let (udp_client_pid, ping_pid, dig_pid) = (udp_client.id(), ping.id(), dig.id());
    let (udp_server_pid, dns_server_pid) = (udp_server.id(), dns_server.id());
    wait_ok(&mut ping, "ping");
    wait_ok(&mut dig, "dig");
    wait_ok(&mut udp_client, "nc -u client");

    let owned_by = |e: &Value, pid: u32| e["hostProcessId"] == pid && e["processId"] == pid;
    let events = netcore.events_for(&net.server, Duration::from_secs(10), |events| {
        named(events, "net_packet_dns_response").any(|e| owned_by(e, dig_pid))
            && named(events, "net_packet_icmp")
                .filter(|e| owned_by(e, ping_pid))
                .count()
                >= 4
            && named(events, "net_packet_udp").any(|e| owned_by(e, udp_server_pid))
    });
    let _ = (
        udp_server.kill(),
        dns_server.kill(),
        udp_server.wait(),
        dns_server.wait(),
    );

    // UDP: the client's datagram leaves from nc in namespace b and arrives at the server's nc.
    let udp: Vec<&Value> = named(&events, "net_packet_udp")
        .filter(|e| arg(e, "dst_port") == 7002)
        .collect();
    let sent = udp
        .iter()
        .find(|e| owned_by(e, udp_client_pid))
        .unwrap_or_else(|| panic!("{udp:#?}"));
    assert_eq!(
        (arg(sent, "src"), arg(sent, "dst")),
        (
            &Value::from(net.client.as_str()),
            &Value::from(net.server.as_str())
        )
    );
    assert_eq!(sent["processName"], "nc");
    let received = udp
        .iter()
        .find(|e| owned_by(e, udp_server_pid))
        .unwrap_or_else(|| panic!("{udp:#?}"));
    assert_eq!(
        arg(received, "proto_udp")["length"],
        16,
        "8-byte header + \"datagram\""
    );

    // ping: two echo requests sent and two replies received by ping's socket.
    let icmp: Vec<&Value> = named(&events, "net_packet_icmp")
        .filter(|e| owned_by(e, ping_pid))
        .collect();
    let type_codes: Vec<&str> = icmp
        .iter()
        .map(|e| arg(e, "proto_icmp")["typeCode"].as_str().unwrap())
        .collect();
    assert_eq!(
        type_codes.iter().filter(|t| **t == "EchoRequest").count(),
        2,
        "{type_codes:?}"
    );
    assert_eq!(
        type_codes.iter().filter(|t| **t == "EchoReply").count(),
        2,
        "{type_codes:?}"
    );
    assert!(icmp.iter().all(|e| e["processName"] == "ping"));
    // The replies themselves are sent by the kernel: reported, with no task.
    let kernel_reply = named(&events, "net_packet_icmp").find(|e| {
        arg(e, "proto_icmp")["typeCode"] == "EchoReply"
            && arg(e, "src") == net.server.as_str()
            && e["hostProcessId"] == 0
    });
    assert!(
        kernel_reply.is_some_and(|e| e["processName"] == ""),
        "kernel-sent reply not reported"
    );

    // DNS: dig's query and the answer it receives; dnsmasq's side attributed to dnsmasq.
    let response = named(&events, "net_packet_dns_response")
        .find(|e| owned_by(e, dig_pid))
        .unwrap_or_else(|| {
            let dns: Vec<&Value> = named(&events, "net_packet_dns").collect();
            panic!("no DNS response for dig (pid {dig_pid}): {dns:#?}")
        });
    let response = &arg(response, "dns_response")[0];
    assert_eq!(
        response["query_data"]["query"], "netcore.test",
        "{response}"
    );
    assert_eq!(
        response["dns_answer"][0]["answer"], "192.0.2.53",
        "{response}"
    );
    assert!(
        named(&events, "net_packet_dns").any(|e| owned_by(e, dns_server_pid)),
        "dnsmasq's side not attributed"
    );
    let query = named(&events, "net_packet_dns_request")
        .find(|e| owned_by(e, dig_pid))
        .expect("dig's query");
    assert_eq!(arg(query, "metadata")["dst_port"], 53);
}

#[test]
fn sockets_older_than_netcore_are_attributed_from_the_first_packet() {
    if !root_or_skip("sockets_older_than_netcore_are_attributed_from_the_first_packet") {
        return;
    }
    let net = TestNet::new();
    let mut udp_server = net
        .command(&net.a, None, &["nc", "-u", "-l", &net.server, "7004"])
        .spawn()
        .unwrap();
    let mut tcp_server = net
        .command(&net.a, None, &["nc", "-l", &net.server, "7005"])
        .spawn()
        .unwrap();
    wait_until(
        "the UDP server did not start",
        Duration::from_secs(10),
        || listening_udp(Some(&net.a), 7004),
    );
    thread::sleep(Duration::from_millis(200));
    let netcore = Netcore::start(&[]);
    let mut udp_client = net
        .command(&net.b, None, &["nc", "-u", "-w", "1", &net.server, "7004"])
        .stdin(stdin_with(b"one datagram"))
        .spawn()
        .unwrap();
    let mut tcp_client = net
        .command(&net.b, None, &["nc", "-N", &net.server, "7005"])
        .stdin(stdin_with(b"hello"))
        .spawn()
        .unwrap();
    wait_ok(&mut udp_client, "nc -u client");
    wait_ok(&mut tcp_client, "nc client");
    let (udp_pid, tcp_pid) = (udp_server.id(), tcp_server.id());
    let events = netcore.events_for(&net.server, Duration::from_secs(10), |events| {
        named(events, "net_packet_udp").any(|e| e["hostProcessId"] == udp_pid)
            && named(events, "net_packet_tcp")
                .any(|e| e["hostProcessId"] == tcp_pid && arg(e, "proto_tcp")["PSH"] == 1)
    });
    let _ = (
        udp_server.kill(),
        tcp_server.kill(),
        udp_server.wait(),
        tcp_server.wait(),
    );
    // The one datagram: received by a socket bound before netcore started.
    let datagrams: Vec<&Value> = named(&events, "net_packet_udp")
        .filter(|e| arg(e, "dst_port") == 7004)
        .collect();
    assert!(
        datagrams
            .iter()
            .any(|e| e["hostProcessId"] == udp_pid && e["processName"] == "nc"),
        "{datagrams:#?}"
    );
    // The accepted connection inherits the owner of a listener older than netcore, from
    // the handshake on.
    let handshake_ack = named(&events, "net_packet_tcp").find(|e| {
        arg(e, "dst_port") == 7005
            && arg(e, "proto_tcp")["ACK"] == 1
            && arg(e, "proto_tcp")["SYN"] == 0
            && e["hostProcessId"] == tcp_pid
    });
    assert!(
        handshake_ack.is_some(),
        "accepted socket not attributed to the old listener"
    );
}
