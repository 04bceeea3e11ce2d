//! AF_XDP mode: frames from a veth peer, attributed, each way the kernel offers.

use super::*;

/// A veth pair for AF_XDP: `capture` (10.N.M.1) in this network namespace, its peer
/// (10.N.M.2) in a namespace of its own, each with `queues` rx and tx queues; both
/// deleted on drop.
struct CapturePair {
    peer_ns: String,
    capture: String,
    peer: String,
    local: String,
    remote: String,
}

impl CapturePair {
    fn new(queues: u32) -> CapturePair {
        let (id, subnet) = unique_net(150);
        let pair = CapturePair {
            peer_ns: format!("ncx-p{id}"),
            capture: format!("ncxc{id}"),
            peer: format!("ncxp{id}"),
            local: format!("{subnet}.1"),
            remote: format!("{subnet}.2"),
        };
        for args in [
            format!("netns add {}", pair.peer_ns),
            format!(
                "link add {} numtxqueues {queues} numrxqueues {queues} type veth peer name {} \
                 numtxqueues {queues} numrxqueues {queues} netns {}",
                pair.capture, pair.peer, pair.peer_ns
            ),
            format!("addr add {}/24 dev {}", pair.local, pair.capture),
            format!("link set {} up", pair.capture),
            format!(
                "-n {} addr add {}/24 dev {}",
                pair.peer_ns, pair.remote, pair.peer
            ),
            format!("-n {} link set {} up", pair.peer_ns, pair.peer),
        ] {
            run("ip", &args);
        }
        pair
    }

    /// Whether an XDP program is attached to the capture interface.
    fn has_xdp(&self) -> bool {
        let out = Command::new("ip")
            .args(["-d", "link", "show", &self.capture])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).contains("xdp")
    }

    /// Sends `frames` from the peer's interface with an AF_PACKET socket, from a thread
    /// that enters the peer namespace (namespaces are per thread).
    fn send_from_peer(&self, frames: Vec<Vec<u8>>) {
        let (ns, ifname) = (self.peer_ns.clone(), self.peer.clone());
        thread::spawn(move || {
            let netns = std::fs::File::open(format!("/var/run/netns/{ns}")).unwrap();
            // SAFETY: plain syscalls on valid fds and buffers; this thread only.
            unsafe {
                use std::os::fd::AsRawFd;
                assert_eq!(
                    libc::setns(netns.as_raw_fd(), libc::CLONE_NEWNET),
                    0,
                    "setns"
                );
                let name = std::ffi::CString::new(ifname).unwrap();
                let ifindex = libc::if_nametoindex(name.as_ptr());
                let fd = libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0);
                assert!(fd >= 0 && ifindex > 0);
                let mut addr: libc::sockaddr_ll = std::mem::zeroed();
                addr.sll_family = libc::AF_PACKET as u16;
                addr.sll_ifindex = ifindex as i32;
                addr.sll_halen = 6;
                for frame in &frames {
                    let sent = libc::sendto(
                        fd,
                        frame.as_ptr().cast(),
                        frame.len(),
                        0,
                        (&raw const addr).cast(),
                        std::mem::size_of::<libc::sockaddr_ll>() as u32,
                    );
                    assert_eq!(sent, frame.len() as isize, "sendto");
                    thread::sleep(Duration::from_micros(200));
                }
                libc::close(fd);
            }
        })
        .join()
        .unwrap();
    }

    /// An Ethernet + IPv4 frame from the peer to the capture interface.
    fn frame(&self, protocol: u8, l4: &[u8]) -> Vec<u8> {
        let mac = |ns: Option<&str>, ifname: &str| {
            let mut cmd = Command::new("ip");
            if let Some(ns) = ns {
                cmd.args(["-n", ns]);
            }
            let out = cmd.args(["-br", "link", "show", ifname]).output().unwrap();
            let text = String::from_utf8(out.stdout).unwrap();
            let mac = text.split_whitespace().nth(2).unwrap().to_owned();
            mac.split(':')
                .map(|h| u8::from_str_radix(h, 16).unwrap())
                .collect::<Vec<u8>>()
        };
        let ip = |a: &str| a.parse::<std::net::Ipv4Addr>().unwrap().octets();
        let mut f = mac(None, &self.capture);
        f.extend(mac(Some(&self.peer_ns), &self.peer));
        f.extend([0x08, 0x00]);
        let total = (20 + l4.len()) as u16;
        f.extend([
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            1,
            0x40,
            0,
            64,
            protocol,
            0,
            0,
        ]);
        f.extend(ip(&self.remote));
        f.extend(ip(&self.local));
        f.extend_from_slice(l4);
        f
    }
}

impl Drop for CapturePair {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.capture])
            .status();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.peer_ns])
            .status();
    }
}

/// A TCP SYN.
fn tcp_syn(src: u16, dst: u16) -> Vec<u8> {
    let mut t = [src.to_be_bytes(), dst.to_be_bytes()].concat();
    t.extend([0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]);
    t
}

/// A DNS query for `name` A.
fn dns_query(id: u16, name: &str) -> Vec<u8> {
    let mut q = [id.to_be_bytes(), [1, 0], [0, 1], [0, 0], [0, 0], [0, 0]].concat();
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend([0, 0, 1, 0, 1]);
    q
}

#[test]
fn af_xdp_burst_arrives_as_events_attributed_to_the_server_each_way_the_kernel_offers() {
    let test = "af_xdp_burst_arrives_as_events_attributed_to_the_server_each_way_the_kernel_offers";
    if !root_or_skip(test) {
        return;
    }
    let metadata_offered = xdp_metadata_offered();
    if !metadata_offered {
        eprintln!(
            "\n*** NOT RUN {test}, way `metadata`: this kernel offers XDP programs no \
             metadata (the verifier refuses bpf_xdp_adjust_meta) ***\n"
        );
    }
    let ways: &[(&str, &str)] = if metadata_offered {
        &[
            ("metadata", "owners in XDP metadata"),
            ("prepended", "owners prepended to each frame"),
        ]
    } else {
        &[("prepended", "owners prepended to each frame")]
    };
    for (port, (way, phrase)) in (7100..).zip(ways) {
        let pair = CapturePair::new(1);
        let (started, _) = af_xdp_burst(&pair, port, &["--xdp-owner", way]);
        assert!(started.contains(phrase), "--xdp-owner {way}: {started}");
    }
}

#[test]
fn af_xdp_without_metadata_says_so_in_one_line_and_chooses_the_prepended_way() {
    if !root_or_skip("af_xdp_without_metadata_says_so_in_one_line_and_chooses_the_prepended_way") {
        return;
    }
    let pair = CapturePair::new(1);
    let netcore = Netcore::start(&["--xdp", &pair.capture]);
    let metadata_offered = xdp_metadata_offered();
    let way = if metadata_offered {
        "owners in XDP metadata"
    } else {
        "owners prepended to each frame"
    };
    assert!(netcore.started.contains(way), "{}", netcore.started);
    let (status, _) = netcore.interrupt();
    assert!(status.success());
    if metadata_offered {
        eprintln!(
            "\n*** NOT RUN: refusal of --xdp-owner metadata (this kernel offers XDP metadata) ***\n"
        );
        return;
    }
    // Forcing the way the kernel refuses is refused at start, in words, not a verifier log.
    let out = Command::new(env!("CARGO_BIN_EXE_netcore"))
        .args(["--json", "--xdp", &pair.capture, "--xdp-owner", "metadata"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--xdp-owner metadata")
            && stderr.contains("bpf_xdp_adjust_meta")
            && !stderr.contains("processed"),
        "{stderr}"
    );
    assert!(!pair.has_xdp(), "nothing attached after a refusal");
}

/// Whether this kernel offers XDP programs metadata, as `netcore --version` reports it.
fn xdp_metadata_offered() -> bool {
    let out = Command::new(env!("CARGO_BIN_EXE_netcore"))
        .arg("--version")
        .output()
        .unwrap();
    let version = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = version
        .lines()
        .find_map(|l| l.strip_prefix("AF_XDP frame owners: "))
        .unwrap_or_else(|| panic!("no AF_XDP line in --version: {version}"));
    assert!(!line.starts_with("unknown"), "{line}");
    line == "in XDP metadata"
}

#[test]
fn af_xdp_reads_each_rx_queue_on_a_thread_of_its_own() {
    if !root_or_skip("af_xdp_reads_each_rx_queue_on_a_thread_of_its_own") {
        return;
    }
    let pair = CapturePair::new(2);
    let (started, summary) = af_xdp_burst(&pair, 7110, &["--threads", "2"]);
    assert!(
        started.contains("queues [0, 1]")
            && started.contains("decoding on 2 threads, each reading its own queues"),
        "{started}"
    );
    // The peer's transmit queue follows each flow's hash, and veth delivers on the rx
    // queue of the same number: 150 flows reach both queues, so both threads.
    assert_each_of_two_threads_decoded(&summary);
}

/// Sends 50 UDP datagrams to a server on the capture address and `port` (one per test:
/// the owner of a port is per network namespace), 50 TCP SYNs to a closed port and 50 DNS
/// queries, each from a port of its own, through netcore in AF_XDP mode on `pair` (with
/// `args`); checks each arrives once as its events, attributed, and that nothing was
/// dropped. Returns netcore's start-up line and summary.
fn af_xdp_burst(pair: &CapturePair, port: u16, args: &[&str]) -> (String, String) {
    let netcore = Netcore::start(&[&["--xdp", &pair.capture], args].concat());
    assert!(pair.has_xdp());
    // A UDP server on the capture address, started after netcore: frames to its port are
    // attributed to it (AF_XDP takes them, so it never receives them).
    let mut server = Command::new("nc")
        .args(["-u", "-l", &pair.local, &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let server_pid = server.id();
    wait_until("nc did not start", Duration::from_secs(10), || {
        listening_udp(None, port)
    });
    const N: u16 = 50;
    let mut frames = Vec::new();
    for i in 0..N {
        frames.push(pair.frame(17, &udp(40000 + i, port, b"burst")));
        frames.push(pair.frame(6, &tcp_syn(41000 + i, 7200)));
        frames.push(pair.frame(17, &udp(42000 + i, 53, &dns_query(i, "xdp.netcore.test"))));
    }
    pair.send_from_peer(frames);

    let counts = |events: &[Value], name: &str, port: u16| {
        named(events, name)
            .filter(|e| arg(e, "dst_port") == port)
            .count()
    };
    let events = netcore.events_for(&pair.remote, Duration::from_secs(10), |events| {
        counts(events, "net_packet_udp", port) >= N as usize
            && counts(events, "net_packet_tcp", 7200) >= N as usize
            && counts(events, "net_packet_dns", 53) >= N as usize
    });
    let _ = (server.kill(), server.wait());
    assert_eq!(counts(&events, "net_packet_udp", port), N as usize);
    assert_eq!(counts(&events, "net_packet_tcp", 7200), N as usize);
    assert_eq!(counts(&events, "net_packet_udp", 53), N as usize);
    assert_eq!(counts(&events, "net_packet_dns", 53), N as usize);
    assert_eq!(named(&events, "net_packet_ipv4").count(), 3 * N as usize);
    for e in named(&events, "net_packet_udp").filter(|e| arg(e, "dst_port") == port) {
        assert_eq!(e["hostProcessId"], server_pid, "{e}");
        assert_eq!(e["processName"], "nc");
        assert_eq!(arg(e, "src"), pair.remote.as_str());
        assert_eq!(arg(e, "proto_udp")["length"], 13);
    }
    let dns = named(&events, "net_packet_dns").next().unwrap();
    assert_eq!(
        arg(dns, "proto_dns")["questions"][0]["name"],
        "xdp.netcore.test"
    );
    // Nothing listens on 7200: those frames have no owner.
    assert!(named(&events, "net_packet_tcp").all(|e| e["hostProcessId"] == 0));

    let started = netcore.started.clone();
    let (status, summary) = netcore.interrupt();
    assert!(status.success());
    let summary = summary.unwrap();
    assert!(
        summary.contains("0 rx ring full, 0 fill ring empty"),
        "{summary}"
    );
    assert!(!pair.has_xdp(), "XDP left attached after SIGINT");
    (started, summary)
}

#[test]
fn af_xdp_sigkill_leaves_no_xdp_and_default_route_interfaces_are_refused() {
    if !root_or_skip("af_xdp_sigkill_leaves_no_xdp_and_default_route_interfaces_are_refused") {
        return;
    }
    let pair = CapturePair::new(1);
    let mut netcore = Netcore::start(&["--xdp", &pair.capture]);
    assert!(pair.has_xdp());
    netcore.child.kill().unwrap();
    netcore.child.wait().unwrap();
    wait_until(
        "XDP left attached after SIGKILL",
        Duration::from_secs(5),
        || !pair.has_xdp(),
    );
    // An interface with a default route is refused, with the reason.
    run(
        "ip",
        &format!(
            "route add default via {} dev {} metric 4242",
            pair.remote, pair.capture
        ),
    );
    let out = Command::new(env!("CARGO_BIN_EXE_netcore"))
        .args(["--json", "--xdp", &pair.capture])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("carries a default route") && stderr.contains("--force"),
        "{stderr}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_netcore"))
        .args(["--json", "--xdp", "no-such-if0"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such network interface"));
}
