//! DNS transactions live: `dig` asks a dnsmasq in the server's namespace for a name it
//! answers, and for one whose answers nftables drops before they leave (unanswered after
//! `--dns-timeout`); then `nc` connects to the address the answer gave. Each transaction
//! carries the querying `dig`, `net_tcp_connect` the connecting `nc` with the name the
//! answer gave, and the connection's `net_flow` the lookup's round trip.

use super::*;

/// The processes' own events, by their host pid.
fn of_pid(events: &[Value], name: &str, pid: u32) -> Vec<Value> {
    named(events, name)
        .filter(|e| e["hostProcessId"] == pid)
        .cloned()
        .collect()
}

#[test]
fn dns_transactions_and_connects_carry_the_processes_that_made_them() {
    if !root_or_skip("dns_transactions_and_connects_carry_the_processes_that_made_them") {
        return;
    }
    let net = TestNet::new();
    let answered_by = format!("--address=/svc.test/{}", net.server);
    // A TTL (dnsmasq's default for these is 0): the name lasts until the connect.
    let mut dns_server = net.dns_server(&[
        &answered_by,
        "--address=/lost.test/192.0.2.1",
        "--local-ttl=60",
    ]);
    let rules = std::env::temp_dir().join(format!("netcore-dns-{}.nft", std::process::id()));
    std::fs::write(
        &rules,
        "table inet netcore_lose_dns {\n\
         chain out { type filter hook output priority 0; \
         udp sport 53 @th,160,40 0x046c6f7374 drop; }\n}\n",
    )
    .unwrap();
    run(
        "ip",
        &format!("netns exec {} nft -f {}", net.a, rules.display()),
    );
    let _ = std::fs::remove_file(&rules);
    // One decoding thread: the lookup and the connection it names are then decoded by
    // the same flow table (on several, `dns_rtt` is 0 when another thread had the lookup).
    let netcore = Netcore::start(&[
        "--events",
        "net_dns_transaction,net_tcp_connect,net_flow",
        "--dns-timeout",
        "1",
        "--threads",
        "1",
    ]);
    thread::sleep(Duration::from_millis(300));
    // The answers whose question starts with the label `lost` (bytes 20– of the UDP
    // datagram: after its header and the DNS header) are dropped.
    let dig = |name: &str| {
        let server = format!("@{}", net.server);
        let argv = ["dig", &server, "+tries=1", "+time=2", name, "A"];
        net.command(&net.b, None, &argv).spawn().unwrap()
    };
    let mut lookup = dig("svc.test");
    let lookup_pid = lookup.id();
    wait_ok(&mut lookup, "dig svc.test");
    let mut lost = dig("lost.test");
    let lost_pid = lost.id();
    let _ = lost.wait(); // dig fails: no answer came
    let mut listener = net
        .command(&net.a, None, &["nc", "-l", "-p", "7100", "-q", "1"])
        .spawn()
        .unwrap();
    thread::sleep(Duration::from_millis(200));
    let mut connect = net
        .command(&net.b, None, &["nc", "-N", &net.server, "7100"])
        .stdin(stdin_with(b"hello"))
        .spawn()
        .unwrap();
    let connect_pid = connect.id();
    wait_ok(&mut connect, "nc");
    let _ = listener.wait();
    let events = netcore.events_for(&net.server, Duration::from_secs(20), |events| {
        !of_pid(events, "net_flow", connect_pid).is_empty()
    });
    let _ = dns_server.kill();
    let _ = dns_server.wait();
    let (status, summary) = netcore.interrupt();
    assert!(status.success());

    let answered = of_pid(&events, "net_dns_transaction", lookup_pid);
    assert_eq!(answered.len(), 1, "{events:#?}");
    let answered = &answered[0];
    assert_eq!(arg(answered, "query"), "svc.test");
    assert_eq!(arg(answered, "qtype"), "A");
    assert_eq!(arg(answered, "outcome"), "answered");
    assert_eq!(arg(answered, "rcode"), "NOERROR");
    assert_eq!(arg(answered, "answers"), &serde_json::json!([net.server]));
    assert_eq!(arg(answered, "src"), net.client.as_str());
    assert_eq!(arg(answered, "dst_port"), 53);
    let rtt = arg(answered, "rtt").as_u64().unwrap();
    assert!(rtt > 0 && rtt < 1_000_000_000, "{answered}");

    let unanswered = of_pid(&events, "net_dns_transaction", lost_pid);
    assert_eq!(unanswered.len(), 1, "reported once: {events:#?}");
    let unanswered = &unanswered[0];
    assert_eq!(arg(unanswered, "query"), "lost.test");
    assert_eq!(arg(unanswered, "outcome"), "unanswered");
    assert_eq!(arg(unanswered, "rcode"), "");
    assert_eq!(arg(unanswered, "dst_port"), 53);

    let connects = of_pid(&events, "net_tcp_connect", connect_pid);
    assert_eq!(connects.len(), 1, "{events:#?}");
    let connect = &connects[0];
    assert_eq!(connect["processName"], "nc");
    assert_eq!(arg(connect, "dst"), net.server.as_str());
    assert_eq!(arg(connect, "dst_port"), 7100);
    assert_eq!(arg(connect, "dst_dns"), &serde_json::json!(["svc.test"]));
    // The server's namespace sees the connection arrive: no connect of its own.
    assert_eq!(named(&events, "net_tcp_connect").count(), 1, "{events:#?}");

    let flow = &of_pid(&events, "net_flow", connect_pid)[0];
    assert_eq!(arg(flow, "dns_rtt"), rtt, "{flow}");
    assert!(
        summary.as_deref().is_some_and(|s| s.contains("unanswered")),
        "{summary:?}"
    );
}
