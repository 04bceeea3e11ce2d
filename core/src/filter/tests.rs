use super::*;
use crate::LinkType;
use crate::abi::{KernelFilter, l4};
use crate::{EventContext, EventKind};
use alloc::vec;

/// An IPv4 TCP SYN from 10.0.0.1:40000 to 93.184.216.34:80.
fn tcp_syn() -> Vec<u8> {
    let mut p = vec![
        0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 93, 184, 216, 34,
    ];
    p.extend_from_slice(&[
        0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0,
    ]);
    p
}

/// An IPv4 UDP DNS query for `www.example.com` A from 10.0.0.1:5353 to 8.8.8.8:53.
fn dns_query() -> Vec<u8> {
    let mut dns = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in ["www", "example", "com"] {
        dns.push(label.len() as u8);
        dns.extend_from_slice(label.as_bytes());
    }
    dns.extend_from_slice(&[0, 0, 1, 0, 1]);
    let udp_len = 8 + dns.len() as u16;
    let total = 20 + udp_len;
    let mut p = vec![
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        2,
        0,
        0,
        64,
        17,
        0,
        0,
        10,
        0,
        0,
        1,
        8,
        8,
        8,
        8,
    ];
    p.extend_from_slice(&[0x14, 0xe9, 0, 53, (udp_len >> 8) as u8, udp_len as u8, 0, 0]);
    p.extend_from_slice(&dns);
    p
}

fn ctx<'a>(comm: &'a [u8], pid: u32, container: &'a str) -> EventContext<'a> {
    EventContext {
        process_name: comm,
        host_process_id: pid,
        host_thread_id: pid + 1,
        user_id: 1000,
        cgroup_id: 77,
        container_id: container,
        mount_namespace: 4026531841,
        pid_namespace: 4026531836,
        ..Default::default()
    }
}

fn set(names: &str) -> EventSet {
    EventSet::parse(names).unwrap()
}

/// The events of `packet` that `filters` let through, DNS filters included.
fn admitted(filters: &[&str], packet: &[u8], ctx: &EventContext<'_>) -> EventSet {
    let filter = Filter::parse(filters).unwrap();
    let decoded = crate::decode(LinkType::Raw, packet);
    let mut present = EventSet::NONE;
    for kind in [
        decoded.network.as_ref().map(EventKind::of_network),
        decoded.transport.as_ref().map(EventKind::of_transport),
    ] {
        present = kind.map_or(present, |k| present.with(k));
    }
    let packet_set = filter.packet_events(ctx, &decoded, filter.events());
    let admitted = match decoded.dns_over_udp() {
        Some(Ok(message)) => {
            present = crate::event::dns_events(&message).fold(present, EventSet::with);
            packet_set
                .without(EventSet::DNS)
                .union(filter.dns_events(&message, packet_set))
        }
        _ => packet_set,
    };
    admitted.intersect(present)
}

#[test]
fn the_reference_examples() {
    let c = ctx(b"curl", 42, "");
    let tcp = ["event=net_packet_tcp", "net_packet_tcp.args.dst_port=80"];
    assert_eq!(admitted(&tcp, &tcp_syn(), &c), set("net_packet_tcp"));
    let other_port = ["event=net_packet_tcp", "net_packet_tcp.args.dst_port=443"];
    assert_eq!(admitted(&other_port, &tcp_syn(), &c), EventSet::NONE);
    let dns = ["event=net_packet_dns", "net_packet_dns.args.dst=8.8.8.8"];
    assert_eq!(admitted(&dns, &dns_query(), &c), set("net_packet_dns"));
    assert_eq!(admitted(&dns, &tcp_syn(), &c), EventSet::NONE);
    let src = ["event=net_packet_dns", "net_packet_dns.args.src=8.8.8.8"];
    assert_eq!(admitted(&src, &dns_query(), &c), EventSet::NONE);
}

#[test]
fn data_is_an_alias_of_args_and_arg_filters_select_their_event() {
    let c = ctx(b"curl", 42, "");
    assert_eq!(
        admitted(&["net_packet_tcp.data.dst_port=80"], &tcp_syn(), &c),
        set("net_packet_tcp")
    );
    // No event= at all: everything else passes untouched.
    assert_eq!(
        admitted(&[], &tcp_syn(), &c),
        set("net_packet_ipv4,net_packet_tcp")
    );
    // event= plus an argument filter of another event: both selected.
    let both = ["event=net_packet_ipv4", "net_packet_tcp.args.dst_port=80"];
    assert_eq!(
        admitted(&both, &tcp_syn(), &c),
        set("net_packet_ipv4,net_packet_tcp")
    );
    assert_eq!(
        admitted(&["event!=net_packet_ipv4"], &tcp_syn(), &c),
        set("net_packet_tcp")
    );
}

#[test]
fn every_operator_on_numbers() {
    let c = ctx(b"curl", 42, "");
    for (expr, pass) in [
        ("net_packet_tcp.args.dst_port=80", true),
        ("net_packet_tcp.args.dst_port=443,80", true),
        ("net_packet_tcp.args.dst_port!=80", false),
        ("net_packet_tcp.args.dst_port!=443,22", true),
        ("net_packet_tcp.args.dst_port<81", true),
        ("net_packet_tcp.args.dst_port<80", false),
        ("net_packet_tcp.args.dst_port<=80", true),
        ("net_packet_tcp.args.dst_port>79", true),
        ("net_packet_tcp.args.dst_port>80", false),
        ("net_packet_tcp.args.dst_port>=80", true),
        ("net_packet_tcp.args.src_port>=40000", true),
        ("net_packet_tcp.args.proto_tcp.SYN=1", true),
        ("net_packet_tcp.args.proto_tcp.ACK=1", false),
        ("net_packet_tcp.args.proto_tcp.window=65535", true),
        ("net_packet_ipv4.args.proto_ipv4.TTL<=64", true),
        ("net_packet_ipv4.args.proto_ipv4.flags=2", true),
    ] {
        let event = if expr.contains("ipv4") {
            "net_packet_ipv4"
        } else {
            "net_packet_tcp"
        };
        let got = admitted(&[&format!("event={event}"), expr], &tcp_syn(), &c);
        assert_eq!(
            got.contains(EventKind::from_name(event).unwrap()),
            pass,
            "{expr}"
        );
    }
}

#[test]
fn strings_patterns_and_addresses() {
    let c = ctx(b"curl", 42, "");
    for (expr, pass) in [
        ("net_packet_ipv4.args.proto_ipv4.protocol=TCP", true),
        ("net_packet_ipv4.args.proto_ipv4.protocol!=TCP", false),
        ("net_packet_ipv4.args.proto_ipv4.protocol=UDP,TCP", true),
        ("net_packet_ipv4.args.src=10.0.0.0/8", true),
        ("net_packet_ipv4.args.src=10.0.0.2", false),
        ("net_packet_ipv4.args.dst!=10.0.0.0/8,192.168.0.0/16", true),
        ("net_packet_ipv4.args.dst=0.0.0.0/0", true),
        ("net_packet_ipv4.args.dst=::/0", false),
        ("net_packet_ipv4.args.proto_ipv4.dstIP=93.184.216.34", true),
    ] {
        let got = admitted(&[expr], &tcp_syn(), &c);
        assert_eq!(got.contains(EventKind::Ipv4), pass, "{expr}");
    }
}

#[test]
fn dns_fields_inside_the_message() {
    let c = ctx(b"dig", 7, "");
    for (expr, pass) in [
        (
            "net_packet_dns.args.proto_dns.questions.name=www.example.com",
            true,
        ),
        (
            "net_packet_dns.args.proto_dns.questions.name=*.example.com",
            true,
        ),
        (
            "net_packet_dns.args.proto_dns.questions.name=*.example.org",
            false,
        ),
        ("net_packet_dns.args.proto_dns.questions.name=www.*", true),
        (
            "net_packet_dns.args.proto_dns.questions.name!=*.example.com",
            false,
        ),
        ("net_packet_dns.args.proto_dns.questions.type=A", true),
        ("net_packet_dns.args.proto_dns.questions.type=AAAA", false),
        ("net_packet_dns.args.proto_dns.QR=0", true),
        ("net_packet_dns.args.proto_dns.ID=4660", true),
        ("net_packet_dns.args.proto_dns.opCode=query", true),
        ("net_packet_dns.args.proto_dns.answers.name=*", false),
        ("net_packet_dns.args.dst_port=53", true),
    ] {
        let got = admitted(&[expr], &dns_query(), &c);
        assert_eq!(got.contains(EventKind::Dns), pass, "{expr}");
    }
    let request = ["net_packet_dns_request.args.dns_questions.query=*.example.com"];
    assert_eq!(
        admitted(&request, &dns_query(), &c),
        set("net_packet_dns_request")
    );
    let filter = Filter::parse(&request).unwrap();
    assert!(filter.inspects_dns());
    assert!(
        !Filter::parse(&["net_packet_dns.args.dst_port=53"])
            .unwrap()
            .inspects_dns()
    );
}

#[test]
fn scope_filters_on_the_task() {
    let packet = tcp_syn();
    let all = set("net_packet_ipv4,net_packet_tcp");
    let curl = ctx(b"curl", 42, "");
    let curl = EventContext {
        executable: b"/usr/bin/curl",
        ..curl
    };
    let boxed = EventContext {
        container_name: "web",
        container_image: "docker.io/library/nginx:1.27",
        pod_name: "web-7d4b9",
        pod_namespace: "shop",
        pod_uid: "2a0e5a4b-8d7c-4e1f-9b3a-6c5d4e3f2a1b",
        container_new: true,
        executable: b"/usr/sbin/nginx",
        ..ctx(
            b"nginx",
            9,
            "4f6d2b0a41a1c1a7e2e8f9b3c5d7e9f1a3b5c7d9e1f3a5b7c9d1e3f5a7b9c1d3",
        )
    };
    for (expr, on_curl, in_container) in [
        ("comm=curl", true, false),
        ("comm=curl,nginx", true, true),
        ("comm!=curl", false, true),
        ("comm=ngi*", false, true),
        ("pid=42", true, false),
        ("pid>10", true, false),
        ("tid=43", true, false),
        ("uid=1000", true, true),
        ("uid!=0", true, true),
        ("cgroupId=77", true, true),
        ("container", false, true),
        ("container=4f6d*", false, true),
        ("container=new", false, true),
        ("containerName=web", false, true),
        ("containerName!=web", true, false),
        ("containerImage=*nginx:1.27", false, true),
        ("podName=web-*", false, true),
        ("podNamespace=shop,default", false, true),
        ("podUID=2a0e5a4b-8d7c-4e1f-9b3a-6c5d4e3f2a1b", false, true),
        ("executable=/usr/bin/curl", true, false),
        ("exe=*/nginx", false, true),
        ("mntns=4026531841", true, true),
        ("pidns=1", false, false),
    ] {
        assert_eq!(
            admitted(&[expr], &packet, &curl) == all,
            on_curl,
            "{expr} on curl"
        );
        assert_eq!(
            admitted(&[expr], &packet, &boxed) == all,
            in_container,
            "{expr} in container"
        );
    }
    // Filters AND together.
    assert_eq!(
        admitted(&["comm=curl", "pid=9"], &packet, &curl),
        EventSet::NONE
    );
}

#[test]
fn bad_filters_name_the_problem() {
    let error = |expr: &str| Filter::parse(&[expr]).unwrap_err().to_string();
    assert_eq!(
        error("event=net_packet_tcpp"),
        "event=net_packet_tcpp: unknown event 'net_packet_tcpp'; valid events are: \
         net_packet_ipv4 net_packet_ipv6 net_packet_tcp net_packet_udp net_packet_icmp \
         net_packet_icmpv6 net_packet_dns net_packet_dns_request net_packet_dns_response \
         net_packet_http net_packet_http_request net_packet_http_response net_packet_raw \
         net_flow net_flow_tcp_begin net_flow_tcp_end net_connect_failure \
         net_dns_transaction net_tcp_connect"
    );
    assert_eq!(
        error("net_flow.args.port=443"),
        "net_flow.args.port=443: net_flow has no argument 'port'; valid: conn_direction, src, \
         dst, src_port, dst_port, src_dns, dst_dns, proto, conn_state, history, community_id, \
         sni, alpn, http_host, reason, duration, orig_packets, orig_bytes, resp_packets, \
         resp_bytes, initial_rtt, dns_rtt, orig_retransmits, resp_retransmits, orig_out_of_order, \
         resp_out_of_order, orig_zero_windows, resp_zero_windows"
    );
    let unknown_arg = error("net_packet_udp.args.dport=53");
    assert!(unknown_arg.starts_with("net_packet_udp.args.dport=53: net_packet_udp has no argument 'dport'; valid: src, dst, src_port, dst_port, proto_udp.srcPort"), "{unknown_arg}");
    assert_eq!(
        error("net_packet_tcp.args.dst_port=http"),
        "net_packet_tcp.args.dst_port=http: 'http' is not a number (this field is numeric)"
    );
    assert!(
        error("net_packet_tcp.args.src=10.0.0.300")
            .contains("'10.0.0.300' is not an IP address or CIDR prefix")
    );
    assert!(
        error("net_packet_tcp.args.src=10.0.0.0/33").contains("not an IP address or CIDR prefix")
    );
    assert!(error("comm<curl").contains("< > <= >= compare numbers only"));
    assert!(error("event>net_packet_tcp").contains("events take = or != only"));
    assert!(error("pid").contains("expected FIELD OP VALUE"));
    assert!(error("pid=").contains("no value after the operator"));
    assert!(error("user=root").contains("unknown field 'user'; expected event, EVENT.args.FIELD, or one of comm, executable, exe, pid, tid, uid, cgroupId, container, containerName, containerImage, podName, podNamespace, podUID, mntns, pidns"));
    assert!(error("net_packet_tcpx.args.dst_port=1").contains("unknown event 'net_packet_tcpx'"));
}

#[test]
fn kernel_filter_takes_only_what_is_safe_to_drop_early() {
    let kernel = |filters: &[&str]| {
        let filter = Filter::parse(filters).unwrap();
        filter.kernel_filter(filter.events())
    };
    assert_eq!(kernel(&[]), KernelFilter::KEEP_ALL);
    // Event families become packet classes.
    let tcp = kernel(&["event=net_packet_tcp"]);
    assert_eq!(tcp.protocols, l4::IPV4_TCP | l4::IPV6_TCP | l4::IPV6_OTHER);
    assert_eq!(tcp.port_count, 0);
    assert_eq!(kernel(&["event=net_packet_icmp"]).protocols, l4::IPV4_ICMP);
    // Ports only when every selected event is pinned to ports.
    let web = kernel(&[
        "event=net_packet_tcp",
        "net_packet_tcp.args.dst_port=80,443",
    ]);
    assert_eq!((web.port_count, &web.ports[..2]), (2, &[80, 443][..]));
    let mixed = kernel(&[
        "event=net_packet_tcp,net_packet_ipv4",
        "net_packet_tcp.args.dst_port=80",
    ]);
    assert_eq!(mixed.port_count, 0);
    let ranged = kernel(&["event=net_packet_tcp", "net_packet_tcp.args.dst_port>80"]);
    assert_eq!(ranged.port_count, 0);
    // DNS events exist on port 53 only.
    let dns = kernel(&[
        "event=net_packet_dns,net_packet_udp",
        "net_packet_udp.args.src_port=5353",
    ]);
    assert_eq!((dns.port_count, &dns.ports[..2]), (2, &[53, 5353][..]));
    // Owner lists: exact values only.
    let owner = kernel(&["pid=42,43", "comm=curl", "cgroupId=77"]);
    assert_eq!((owner.pid_count, owner.pids[0], owner.pids[1]), (2, 42, 43));
    assert_eq!(
        (owner.comm_count, &owner.comms[0][..5]),
        (1, &b"curl\0"[..])
    );
    assert_eq!((owner.cgroup_count, owner.cgroups[0]), (1, 77));
    let loose = kernel(&["pid!=42", "comm=cu*", "cgroupId>1"]);
    assert_eq!(
        (loose.pid_count, loose.comm_count, loose.cgroup_count),
        (0, 0, 0)
    );
    let too_long = kernel(&["comm=a-name-longer-than-15"]);
    assert_eq!(too_long.comm_count, 0);
    // A packet-wide port= holds for every event: its ports go to the kernel.
    let any_event = kernel(&["port=53,853"]);
    assert_eq!(
        (any_event.port_count, &any_event.ports[..2]),
        (2, &[53, 853][..])
    );
    assert_eq!(kernel(&["port!=22"]).port_count, 0);
}

#[test]
fn packet_wide_filters_select_every_event_of_a_packet() {
    let c = ctx(b"curl", 42, "");
    let everything = set("net_packet_ipv4,net_packet_tcp");
    assert_eq!(admitted(&["port=80"], &tcp_syn(), &c), everything);
    assert_eq!(admitted(&["port=443"], &tcp_syn(), &c), EventSet::NONE);
    assert_eq!(admitted(&["port!=443"], &tcp_syn(), &c), everything);
    assert_eq!(
        admitted(&["host=93.184.216.0/24"], &tcp_syn(), &c),
        everything
    );
    assert_eq!(admitted(&["host=10.0.0.1"], &tcp_syn(), &c), everything);
    assert_eq!(
        admitted(&["host!=10.0.0.1"], &tcp_syn(), &c),
        EventSet::NONE
    );
    assert_eq!(
        admitted(&["src=10.0.0.1", "dst=93.184.216.34"], &tcp_syn(), &c),
        everything
    );
    assert_eq!(admitted(&["dst=10.0.0.1"], &tcp_syn(), &c), EventSet::NONE);
    // DNS events of a matching packet come too.
    let dns = set("net_packet_ipv4,net_packet_udp,net_packet_dns,net_packet_dns_request");
    assert_eq!(admitted(&["port=53"], &dns_query(), &c), dns);
    // With event=, the packet filter narrows the selected events.
    assert_eq!(
        admitted(&["event=net_packet_tcp", "host=10.0.0.1"], &tcp_syn(), &c),
        set("net_packet_tcp")
    );
    let err = Filter::parse(&["port=http"]).unwrap_err().to_string();
    assert!(err.contains("'http' is not a number"), "{err}");
    let err = Filter::parse(&["hots=1.2.3.4"]).unwrap_err().to_string();
    assert!(err.contains("host, src, dst, port"), "{err}");
}

#[test]
fn flow_argument_filters() {
    use crate::flow::{ConnDirection, Counts, Flow, Reason};
    use alloc::string::String;
    let names = [String::from("api.example.test")];
    let flow = Flow {
        protocol: crate::ip::TCP,
        orig: ("10.0.0.2".parse().unwrap(), 40000),
        resp: ("203.0.113.7".parse().unwrap(), 443),
        start_ns: 0,
        last_ns: 2_000_000_000,
        orig_counts: Counts::default(),
        resp_counts: Counts {
            packets: 3,
            ip_bytes: 220,
            bytes: 100,
        },
        conn_state: "SF",
        history: "ShADdFfT",
        initial_rtt_ns: 250_000,
        dns_rtt_ns: 0,
        orig_health: crate::flow::HealthCounts {
            retransmits: 1,
            ..Default::default()
        },
        resp_health: Default::default(),
        community_id: "1:x",
        orig_names: &[],
        resp_names: &names,
        server_name: b"api.example.test",
        alpn: &[],
        http_host: b"",
        direction: ConnDirection::Outgoing,
        reason: Reason::Closed,
        failure: None,
        transaction: None,
    };
    let passes =
        |expr: &str, kind: FlowKind| Filter::parse(&[expr]).unwrap().flow_passes(kind, &flow);
    for (expr, expected) in [
        ("net_flow.args.dst_port=443", true),
        ("net_flow.args.dst_port=80", false),
        ("net_flow.args.sni=*.example.test", true),
        ("net_flow.args.dst_dns=api.*", true),
        ("net_flow.args.src_dns=api.*", false),
        ("net_flow.args.dst=203.0.113.0/24", true),
        ("net_flow.args.resp_bytes>99", true),
        ("net_flow.args.duration<1000", false),
        ("net_flow.args.conn_state!=SF,S1", false),
        ("net_flow.args.orig_retransmits>0", true),
        ("net_flow.args.resp_retransmits>0", false),
        ("net_flow.args.initial_rtt>1000000", false),
        ("net_flow.args.conn_direction=outgoing", true),
    ] {
        assert_eq!(passes(expr, FlowKind::Record), expected, "{expr}");
    }
    // A filter on one flow event leaves the others alone, and selects its event.
    assert!(passes("net_flow.args.dst_port=80", FlowKind::TcpBegin));
    let filter = Filter::parse(&["net_flow_tcp_end.args.dst_port=443"]).unwrap();
    assert!(filter.events().contains_flow(FlowKind::TcpEnd));
    assert!(!filter.events().contains_flow(FlowKind::Record));
}
