//! Tracee's own network end-to-end signatures (v0.24.1, `tests/e2e-net-signatures/`) as
//! YAML detectors (`examples/detectors/`), fired by the traffic Tracee's scripts make,
//! reproduced locally: its two namespaces' addresses (172.16.17.1 and .2,
//! fd6e:a63d:71f:2f4::1 and ::2), ping both ways of IP, nc over TCP and UDP port 8090, and
//! curl asking `google.com` — answered here by a server on 172.16.17.1 that redirects to
//! www.google.com as Google does. Each detector must fire, and exactly as often as Tracee's
//! Go version's tests (re-stated below over the same run's events) say it would.

use super::*;

/// The Go signatures' tests, over one event's JSON: which of them it fires.
fn tracees_verdicts(event: &Value) -> Vec<&'static str> {
    let name = event["eventName"].as_str().unwrap_or("");
    let (src, dst) = (arg(event, "src"), arg(event, "dst"));
    let mut fired = Vec::new();
    if event["hostName"] == "" {
        return fired;
    }
    match name {
        "net_packet_icmp" => {
            if src == "172.16.17.1"
                && dst == "172.16.17.2"
                && arg(event, "proto_icmp")["typeCode"] == "EchoReply"
            {
                fired.push("ICMP");
            }
        }
        "net_packet_icmpv6" => {
            if src == "fd6e:a63d:71f:2f4::1"
                && dst == "fd6e:a63d:71f:2f4::2"
                && arg(event, "proto_icmpv6")["typeCode"] == "EchoReply"
            {
                fired.push("ICMPv6");
            }
        }
        "net_packet_ipv4" => {
            let ip = arg(event, "proto_ipv4");
            if src == "172.16.17.2"
                && dst == "172.16.17.1"
                && ip["version"] == 4
                && ip["IHL"] == 5
                && ip["srcIP"] == "172.16.17.2"
                && ip["dstIP"] == "172.16.17.1"
            {
                fired.push("IPv4");
            }
        }
        "net_packet_ipv6" => {
            let ip = arg(event, "proto_ipv6");
            let (a, b) = ("fd6e:a63d:71f:2f4::2", "fd6e:a63d:71f:2f4::1");
            if src == a
                && dst == b
                && ip["version"] == 6
                && ip["hopLimit"] == 64
                && ip["srcIP"] == a
                && ip["dstIP"] == b
            {
                fired.push("IPv6");
            }
        }
        "net_packet_tcp" => {
            let tcp = arg(event, "proto_tcp");
            if src == "172.16.17.1"
                && dst == "172.16.17.2"
                && tcp["srcPort"] == 8090
                && tcp["ACK"] == 1
                && tcp["RST"] == 0
                && tcp["URG"] == 0
                && tcp["SYN"] == 0
                && tcp["FIN"] == 0
            {
                fired.push("TCP");
            }
        }
        "net_packet_udp" => {
            if src == "172.16.17.2"
                && dst == "172.16.17.1"
                && arg(event, "proto_udp")["dstPort"] == 8090
            {
                fired.push("UDP");
            }
        }
        "net_packet_http" if event["processName"] == "curl" => {
            let http = arg(event, "proto_http");
            let direction = arg(event, "metadata")["direction"].as_u64();
            let matches = (http["direction"] == "request" && direction == Some(2))
                || (http["direction"] == "response" && direction == Some(1));
            if matches && http["protocol"].as_str().unwrap_or("").starts_with("HTTP/") {
                fired.push("HTTP");
            }
        }
        "net_packet_http_request" if event["processName"] == "curl" => {
            let request = arg(event, "http_request");
            if request["protocol"]
                .as_str()
                .unwrap_or("")
                .starts_with("HTTP/")
                && request["host"]
                    .as_str()
                    .unwrap_or("")
                    .ends_with("google.com")
            {
                fired.push("HTTPRequest");
            }
        }
        "net_packet_http_response" => {
            let response = arg(event, "http_response");
            let location = response["headers"]["Location"][0].as_str().unwrap_or("");
            if response["protocol"]
                .as_str()
                .unwrap_or("")
                .starts_with("HTTP/")
                && location.contains("google.com")
            {
                fired.push("HTTPResponse");
            }
        }
        _ => {}
    }
    fired
}

/// Tracee's scripts' namespace pair (`scripts/setup.sh`), under names of this test's own.
struct TraceeNet {
    outside: String,
    inside: String,
}

impl TraceeNet {
    fn new() -> TraceeNet {
        let (id, _) = unique_net(150);
        let net = TraceeNet {
            outside: format!("nce2e-o{id}"),
            inside: format!("nce2e-i{id}"),
        };
        let (vo, vi) = (format!("nceo{id}"), format!("ncei{id}"));
        for args in [
            format!("netns add {}", net.outside),
            format!("netns add {}", net.inside),
            format!(
                "link add {vo} netns {} type veth peer name {vi} netns {}",
                net.outside, net.inside
            ),
            format!("-n {} addr add 172.16.17.1/24 dev {vo}", net.outside),
            format!(
                "-n {} addr add fd6e:a63d:71f:2f4::1/64 dev {vo} nodad",
                net.outside
            ),
            format!("-n {} addr add 172.16.17.2/24 dev {vi}", net.inside),
            format!(
                "-n {} addr add fd6e:a63d:71f:2f4::2/64 dev {vi} nodad",
                net.inside
            ),
            format!("-n {} link set {vo} up", net.outside),
            format!("-n {} link set {vi} up", net.inside),
            format!("-n {} link set lo up", net.outside),
            format!("-n {} link set lo up", net.inside),
        ] {
            run("ip", &args);
        }
        net
    }

    fn run_in(&self, ns: &str, shell: &str) -> std::process::ExitStatus {
        Command::new("ip")
            .args(["netns", "exec", ns, "sh", "-c", shell])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap()
    }

    fn spawn_in(&self, ns: &str, shell: &str) -> Child {
        Command::new("ip")
            .args(["netns", "exec", ns, "sh", "-c", shell])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }
}

impl Drop for TraceeNet {
    fn drop(&mut self) {
        for ns in [&self.outside, &self.inside] {
            let _ = Command::new("ip").args(["netns", "delete", ns]).status();
        }
    }
}

/// Google's answer to `curl google.com`, from a server of the test's own.
const REDIRECTOR: &str = r#"
import http.server
class Redirect(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(301)
        self.send_header("Location", "http://www.google.com/")
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("172.16.17.1", 80), Redirect).serve_forever()
"#;

#[test]
fn tracees_network_e2e_signatures_fire_as_yaml_detectors() {
    let test = "tracees_network_e2e_signatures_fire_as_yaml_detectors";
    if !root_or_skip(test) {
        return;
    }
    let net = TraceeNet::new();
    let detectors = common::root().join("examples/detectors");
    let names = [
        "ICMP",
        "ICMPv6",
        "IPv4",
        "IPv6",
        "TCP",
        "UDP",
        "HTTP",
        "HTTPRequest",
        "HTTPResponse",
    ];
    let mut events = vec![
        "net_packet_ipv4",
        "net_packet_ipv6",
        "net_packet_tcp",
        "net_packet_udp",
        "net_packet_icmp",
        "net_packet_icmpv6",
        "net_packet_http",
        "net_packet_http_request",
        "net_packet_http_response",
    ];
    events.extend(names);
    let events = events.join(",");
    let netcore = Netcore::start(&[
        "--signatures",
        detectors.to_str().unwrap(),
        "--events",
        &events,
    ]);
    // scripts/icmp.sh, ipv4.sh; icmpv6.sh, ipv6.sh.
    assert!(
        net.run_in(&net.inside, "ping -W 5 -c 3 172.16.17.1")
            .success()
    );
    assert!(
        net.run_in(&net.inside, "ping -6 -W 5 -c 3 fd6e:a63d:71f:2f4::1")
            .success()
    );
    // scripts/tcp.sh.
    let mut tcp = net.spawn_in(&net.outside, "nc -k -l 8090");
    thread::sleep(Duration::from_millis(300));
    for n in 1..=3 {
        net.run_in(
            &net.inside,
            &format!("echo tcp0{n} | nc -w 1 172.16.17.1 8090"),
        );
    }
    let _ = tcp.kill();
    let _ = tcp.wait();
    // scripts/udp.sh.
    for n in 1..=3 {
        let mut udp = net.spawn_in(&net.outside, "timeout 3 nc -u -l 8090");
        thread::sleep(Duration::from_millis(300));
        net.run_in(
            &net.inside,
            &format!("echo udpmsg0{n} | nc -w 1 -u 172.16.17.1 8090"),
        );
        let _ = udp.kill();
        let _ = udp.wait();
    }
    // scripts/http.sh, httprequest.sh, httpresponse.sh: `curl google.com`.
    let mut server = net.spawn_in(&net.outside, &format!("exec python3 -c '{REDIRECTOR}'"));
    thread::sleep(Duration::from_millis(500));
    let curl = "curl -s -o /dev/null --resolve google.com:80:172.16.17.1 http://google.com/";
    assert!(net.run_in(&net.inside, curl).success(), "curl google.com");
    let _ = server.kill();
    let _ = server.wait();
    // Every event until each detector has fired (bounded), then all the run wrote: a
    // finding and the event it fired on are counted alike.
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline && !names.iter().all(|n| named(&seen, n).next().is_some()) {
        if let Ok(event) = netcore.events.recv_timeout(Duration::from_millis(200)) {
            seen.push(event);
        }
    }
    let mut netcore = netcore;
    let rest = std::mem::replace(&mut netcore.events, std::sync::mpsc::channel().1);
    let (status, _) = netcore.interrupt();
    assert!(status.success());
    seen.extend(rest.try_iter());
    for name in names {
        let fired = named(&seen, name).count();
        let expected = seen
            .iter()
            .filter(|e| tracees_verdicts(e).contains(&name))
            .count();
        eprintln!("{name}: {fired} findings, Tracee's tests say {expected}");
        assert!(fired > 0, "{name} never fired");
        assert_eq!(fired, expected, "{name}: findings against Tracee's tests");
    }
}
