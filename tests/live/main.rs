//! Host capture, live, as root: real traffic between two network namespaces joined by a
//! veth pair, captured by `netcore --json` and checked event by event — addresses, ports,
//! and the process, thread name and cgroup that own each packet's socket.
//!
//! These tests need root (eBPF, cgroups, netns). Outside CI they skip with a loud message
//! when not root; under `CI=true` they fail instead. One module per feature; the test
//! networks and helpers they share are here.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use netcore_core::abi::{HEADERS_LEN, rings::ring_of};
use netcore_core::ip;
use serde_json::Value;

mod accounting;
mod af_xdp;
mod attribution;
#[path = "../common/mod.rs"]
mod common;
mod dns;
mod e2e_detectors;
mod flows;
mod health;
mod lifecycle;
mod preflight;
mod selection;
mod threads;
mod writes;

use common::live::{Netcore, arg, named, root_or_skip};

/// A suffix for interface and namespace names, and a /24 prefix (`10.X.Y`, X from
/// `first..first + 50`), both unique to one test network of this process.
fn unique_net(first: u32) -> (String, String) {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id();
    (
        format!("{}{seq}", pid % 100_000),
        format!("10.{}.{}", first + seq % 50, pid % 250),
    )
}

/// Two network namespaces, `a` (server, 10.N.M.1) and `b` (client, 10.N.M.2), joined by a
/// veth pair; deleted on drop. Names and addresses are unique per test and process.
struct TestNet {
    a: String,
    b: String,
    server: String,
    client: String,
}

impl TestNet {
    fn new() -> TestNet {
        let (id, subnet) = unique_net(200);
        let net = TestNet {
            a: format!("nct-a{id}"),
            b: format!("nct-b{id}"),
            server: format!("{subnet}.1"),
            client: format!("{subnet}.2"),
        };
        let (va, vb) = (format!("nca{id}"), format!("ncb{id}"));
        for args in [
            format!("netns add {}", net.a),
            format!("netns add {}", net.b),
            format!(
                "link add {va} netns {} type veth peer name {vb} netns {}",
                net.a, net.b
            ),
            format!("-n {} addr add {}/24 dev {va}", net.a, net.server),
            format!("-n {} addr add {}/24 dev {vb}", net.b, net.client),
            format!("-n {} link set {va} up", net.a),
            format!("-n {} link set {vb} up", net.b),
            format!("-n {} link set lo up", net.a),
            format!("-n {} link set lo up", net.b),
        ] {
            run("ip", &args);
        }
        net
    }

    /// A command run in namespace `ns` (by `ip netns exec`, which execs in place, so the
    /// child's pid is the command's), optionally moved into `cgroup` first.
    /// dnsmasq on the server address, in the foreground, answering from `records` only
    /// (no upstream, no hosts file).
    fn dns_server(&self, records: &[&str]) -> Child {
        let listen = format!("--listen-address={}", self.server);
        let mut argv = vec![
            "dnsmasq",
            "--keep-in-foreground",
            "--no-resolv",
            "--no-hosts",
            "--bind-interfaces",
            "--user=root",
            "--pid-file",
            &listen,
        ];
        argv.extend(records);
        self.command(&self.a, None, &argv).spawn().unwrap()
    }

    /// Which of two ring buffers the capture programs put a packet of `protocol` (TCP or
    /// UDP) between the client's `client_port` and the server's `server_port` in, either
    /// way.
    fn ring(&self, client_port: u16, server_port: u16, protocol: u8) -> u32 {
        let address = |dotted: &str| dotted.parse::<std::net::Ipv4Addr>().unwrap().octets();
        let (client, server) = (address(&self.client), address(&self.server));
        let packet = match protocol {
            ip::UDP => common::dns_builder::ipv4_udp(client, server, client_port, server_port, &[]),
            _ => common::ipv4_tcp((client, client_port), (server, server_port), 0, 2, &[]),
        };
        let mut head = [0; HEADERS_LEN];
        head[..packet.len()].copy_from_slice(&packet);
        ring_of(&head, packet.len(), 2)
    }

    /// A client port (from `first` on) whose TCP connection to the server's `port` ring
    /// `ring` of two takes.
    fn port_on_ring(&self, ring: u32, port: u16, first: u16) -> u16 {
        (first..)
            .find(|&p| self.ring(p, port, ip::TCP) == ring)
            .unwrap()
    }

    /// Has the server's namespace drop 3 % of the TCP segments to and from `port`, at
    /// random, each way (nftables `numgen random`).
    fn lose_segments(&self, port: &str) {
        let rules =
            std::env::temp_dir().join(format!("netcore-loss-{}-{port}.nft", std::process::id()));
        std::fs::write(
            &rules,
            format!(
                "table inet loss {{\n\
                 chain in {{ type filter hook input priority 0; tcp dport {port} numgen random mod 100 < 3 drop; }}\n\
                 chain out {{ type filter hook output priority 0; tcp sport {port} numgen random mod 100 < 3 drop; }}\n\
                 }}\n"
            ),
        )
        .unwrap();
        run(
            "ip",
            &format!("netns exec {} nft -f {}", self.a, rules.display()),
        );
        let _ = std::fs::remove_file(&rules);
    }

    /// `tests/data/health/traffic.py`: a server on the server's `port` and a client that
    /// opens the connections `plan` names (e.g. `f400000,s60000`); returns the client's
    /// and the server's pids once both have exited.
    fn traffic(&self, port: &str, plan: &str) -> (u32, u32) {
        let script = common::root().join("tests/data/health/traffic.py");
        let script = script.to_str().unwrap();
        let connections = plan.split(',').count().to_string();
        let mut server = self
            .command(
                &self.a,
                None,
                &[
                    "python3",
                    script,
                    "server",
                    &self.server,
                    port,
                    &connections,
                ],
            )
            .spawn()
            .unwrap();
        thread::sleep(Duration::from_millis(500));
        let mut client = self
            .command(
                &self.b,
                None,
                &["python3", script, "client", &self.server, port, plan],
            )
            .spawn()
            .unwrap();
        let pids = (client.id(), server.id());
        // Retransmission timeouts stretch a lossy transfer, more so beside other tests.
        wait_ok_within(&mut client, "traffic client", Duration::from_secs(60));
        wait_ok_within(&mut server, "traffic server", Duration::from_secs(10));
        pids
    }

    fn command(&self, ns: &str, cgroup: Option<&Path>, argv: &[&str]) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns]).args(argv);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(cgroup) = cgroup {
            let procs =
                std::ffi::CString::new(format!("{}/cgroup.procs", cgroup.display())).unwrap();
            // SAFETY: only async-signal-safe calls (open, write, close) between fork and exec.
            unsafe {
                cmd.pre_exec(move || {
                    let fd = libc::open(procs.as_ptr(), libc::O_WRONLY);
                    if fd < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    let written = libc::write(fd, b"0\n".as_ptr().cast(), 2);
                    libc::close(fd);
                    if written != 2 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        cmd
    }
}

impl Drop for TestNet {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

fn run(program: &str, args: &str) {
    let status = Command::new(program)
        .args(args.split(' '))
        .status()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(status.success(), "{program} {args} failed");
}

/// Asserts that `segments` (ports, sequence number, SYN), in the order netcore gave them,
/// are both directions of six TCP connections, each starting with its SYN, its sequence
/// numbers never going back (no loss or retransmission on a veth pair).
fn assert_six_connections_in_order(segments: impl Iterator<Item = ((u16, u16), u64, bool)>) {
    let mut directions: HashMap<(u16, u16), Vec<(u64, bool)>> = HashMap::new();
    for (ports, seq, syn) in segments {
        directions.entry(ports).or_default().push((seq, syn));
    }
    assert_eq!(directions.len(), 12, "both directions of six connections");
    for (ports, segments) in &directions {
        assert!(segments[0].1, "{ports:?} starts with its SYN");
        assert!(
            segments
                .windows(2)
                .all(|w| w[1].0.wrapping_sub(w[0].0) < 1 << 31),
            "{ports:?}: sequence numbers in order: {segments:?}"
        );
    }
}

/// netcore with `args` on two decoding threads (host mode: a ring buffer each), checked.
fn start_on_two_threads(args: &[&str]) -> Netcore {
    let netcore = Netcore::start(&[&["--threads", "2"], args].concat());
    assert!(
        netcore.started.contains("decoding on 2 threads"),
        "{}",
        netcore.started
    );
    netcore
}

/// The number right before the first `text` in the summary line `summary`.
fn number_before(summary: &str, text: &str) -> u64 {
    summary
        .split(text)
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number before {text:?} in {summary}"))
}

/// Asserts that the summary's "packets per decoding thread" names two threads, each of
/// which decoded some packets.
fn assert_each_of_two_threads_decoded(summary: &str) {
    let per_thread: Vec<u64> = summary
        .split("packets per decoding thread: ")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .unwrap_or_else(|| panic!("no packets per thread in {summary}"))
        .split(", ")
        .map(|n| n.trim().parse().unwrap())
        .collect();
    assert_eq!(per_thread.len(), 2, "{summary}");
    assert!(per_thread.iter().all(|&n| n > 0), "{summary}");
}

/// A TCP exchange between the test hosts: `nc -l` on the server address and `port` in
/// namespace a, and a client in namespace b (in `cgroup` when given) that sends `payload`
/// and closes. Returns the client's and the server's pids once both have exited.
fn tcp_exchange(net: &TestNet, port: &str, cgroup: Option<&Path>, payload: &[u8]) -> (u32, u32) {
    tcp_exchange_from(net, None, port, cgroup, payload)
}

/// [`tcp_exchange`] with the client's source port chosen (`source_port`).
fn tcp_exchange_from(
    net: &TestNet,
    source_port: Option<u16>,
    port: &str,
    cgroup: Option<&Path>,
    payload: &[u8],
) -> (u32, u32) {
    tcp_exchange_run_by(net, &[], source_port, port, cgroup, payload)
}

/// [`tcp_exchange_from`] with the client run by `runner` (a command and its arguments
/// before `nc`'s, e.g. `setpriv` to change its user; none: `nc` itself).
fn tcp_exchange_run_by(
    net: &TestNet,
    runner: &[&str],
    source_port: Option<u16>,
    port: &str,
    cgroup: Option<&Path>,
    payload: &[u8],
) -> (u32, u32) {
    let mut server = net
        .command(&net.a, None, &["nc", "-l", &net.server, port])
        .spawn()
        .unwrap();
    thread::sleep(Duration::from_millis(300));
    let source_port = source_port.map(|p| p.to_string());
    let source = match &source_port {
        Some(p) => vec!["-p", p.as_str()],
        None => vec![],
    };
    let mut client = net
        .command(
            &net.b,
            cgroup,
            &[runner, &["nc", "-N"], &source[..], &[&net.server, port]].concat(),
        )
        .stdin(stdin_with(payload))
        .spawn()
        .unwrap();
    let pids = (client.id(), server.id());
    wait_ok(&mut client, "nc client");
    let _ = server.wait();
    pids
}

/// Whether `events` hold a FIN attributed to each end of a TCP exchange.
fn both_ends_closed(events: &[Value], client_pid: u32, server_pid: u32) -> bool {
    [client_pid, server_pid].iter().all(|&pid| {
        named(events, "net_packet_tcp")
            .any(|e| e["hostProcessId"] == pid && arg(e, "proto_tcp")["FIN"] == 1)
    })
}

/// Whether a UDP socket listens on `port` in namespace `ns` (`None`: this one).
fn listening_udp(ns: Option<&str>, port: u16) -> bool {
    let mut ss = match ns {
        Some(ns) => {
            let mut cmd = Command::new("ip");
            cmd.args(["netns", "exec", ns, "ss"]);
            cmd
        }
        None => Command::new("ss"),
    };
    let out = ss.arg("-Hlun").output().unwrap();
    String::from_utf8_lossy(&out.stdout).contains(&format!(":{port} "))
}

/// Checks `done` every 50 ms until it holds; fails saying `what` after `timeout`.
fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "{what}");
        thread::sleep(Duration::from_millis(50));
    }
}

/// A stdin that yields `bytes`, then end of file.
fn stdin_with(bytes: &[u8]) -> Stdio {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let path = std::env::temp_dir().join(format!(
        "netcore-live-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&path, bytes).unwrap();
    let file = std::fs::File::open(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    Stdio::from(file)
}

fn wait_ok(child: &mut Child, what: &str) {
    wait_ok_within(child, what, Duration::from_secs(10));
}

/// [`wait_ok`] with its own `timeout`.
fn wait_ok_within(child: &mut Child, what: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{what} failed: {status}");
            return;
        }
        assert!(Instant::now() < deadline, "{what} did not finish");
        thread::sleep(Duration::from_millis(20));
    }
}

/// UDP header + payload.
fn udp(src: u16, dst: u16, payload: &[u8]) -> Vec<u8> {
    let len = (8 + payload.len()) as u16;
    let mut d = [
        src.to_be_bytes(),
        dst.to_be_bytes(),
        len.to_be_bytes(),
        [0, 0],
    ]
    .concat();
    d.extend_from_slice(payload);
    d
}
