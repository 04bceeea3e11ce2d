//! The flow events as JSON lines: Tracee's `net_flow_tcp_begin`/`net_flow_tcp_end` and
//! netcore's `net_flow` record, with the envelope of the flow's local end.

use alloc::vec::Vec;

use super::{Encoder, Event, Head, Object, push_ip, push_str, push_u64};
use crate::event::EventContext;
use crate::flow::failure::errno;
use crate::flow::{Flow, FlowKind};
use crate::ip;

/// Arguments of Tracee's TCP flow events.
const TCP_FLOW_ARGS: u8 = 7;
/// Arguments of `net_flow`, without `responder`.
const RECORD_ARGS: u8 = 31;
/// Arguments of `net_connect_failure`.
const FAILURE_ARGS: u8 = 10;
/// Arguments of `net_dns_transaction`.
const TRANSACTION_ARGS: u8 = 11;
/// Arguments of `net_tcp_connect`.
const CONNECT_ARGS: u8 = 3;

impl Encoder {
    /// Appends one JSON line for flow event `kind` of `flow` to `out`. `ctx` is the
    /// envelope: the owner of the flow's local end (the originator's when both are
    /// local). `responder` is the responder's owner when it is local too (`net_flow`
    /// names it in its `responder` argument).
    pub fn encode_flow(
        &mut self,
        kind: FlowKind,
        flow: &Flow<'_>,
        ctx: &EventContext<'_>,
        responder: Option<&EventContext<'_>>,
        out: &mut Vec<u8>,
    ) {
        let schema = self.schema;
        let args = match kind {
            FlowKind::Record => RECORD_ARGS + u8::from(responder.is_some()),
            FlowKind::TcpBegin | FlowKind::TcpEnd => TCP_FLOW_ARGS,
            FlowKind::ConnectFailure => FAILURE_ARGS,
            FlowKind::DnsTransaction => TRANSACTION_ARGS,
            FlowKind::TcpConnect => CONNECT_ARGS,
        };
        let mut event = Event::begin(self, ctx, &mut None, out, Head::Flow(kind, args));
        let text = |event: &mut Event<'_>, name: &str, value: &[u8]| {
            event.arg_named(&[name], schema.address_type, |o| push_str(o, value))
        };
        let names = |event: &mut Event<'_>, name: &str, names: &mut dyn Iterator<Item = &[u8]>| {
            event.arg_named(&[name], schema.names_type, |o| {
                o.push(b'[');
                for (i, name) in names.enumerate() {
                    if i > 0 {
                        o.push(b',');
                    }
                    push_str(o, name);
                }
                o.push(b']');
            })
        };
        // `src_dns` and `dst_dns`.
        let dns_names = |event: &mut Event<'_>| {
            names(
                event,
                "src_dns",
                &mut flow.orig_names.iter().map(|n| n.as_bytes()),
            );
            names(
                event,
                "dst_dns",
                &mut flow.resp_names.iter().map(|n| n.as_bytes()),
            );
        };
        let number = |event: &mut Event<'_>, name: &[&str], value: u64| {
            event.arg_named(name, schema.u64_type, |o| push_u64(o, value))
        };
        let proto = |event: &mut Event<'_>| {
            text(event, "proto", ip::protocol_name(flow.protocol).as_bytes())
        };
        match kind {
            FlowKind::TcpConnect => {
                event.arg(&event.prepared.dst, |o| push_ip(o, flow.resp.0));
                event.arg_named(&["dst_port"], schema.int_type, |o| {
                    push_u64(o, flow.resp.1.into())
                });
                names(
                    &mut event,
                    "dst_dns",
                    &mut flow.resp_names.iter().map(|n| n.as_bytes()),
                );
            }
            FlowKind::DnsTransaction => {
                endpoints(&mut event, flow);
                proto(&mut event);
                let Some(t) = &flow.transaction else {
                    debug_assert!(false, "a net_dns_transaction without its transaction");
                    event.end();
                    return;
                };
                text(&mut event, "query", t.query.as_bytes());
                text(&mut event, "qtype", t.qtype.name().as_bytes());
                text(&mut event, "rcode", t.rcode_name().as_bytes());
                names(
                    &mut event,
                    "answers",
                    &mut t.answers.iter().map(|a| a.as_bytes()),
                );
                number(&mut event, &["rtt"], t.rtt_ns);
                text(&mut event, "outcome", t.outcome().as_bytes());
            }
            FlowKind::TcpBegin | FlowKind::TcpEnd => {
                text(
                    &mut event,
                    "conn_direction",
                    flow.direction.name().as_bytes(),
                );
                endpoints(&mut event, flow);
                dns_names(&mut event);
            }
            FlowKind::ConnectFailure => {
                let Some(failure) = flow.failure else {
                    debug_assert!(false, "a net_connect_failure without its failure");
                    event.end();
                    return;
                };
                text(&mut event, "cause", failure.cause.name().as_bytes());
                endpoints(&mut event, flow);
                proto(&mut event);
                event.arg_named(&["attempts"], schema.u64_type, |o| {
                    push_u64(o, failure.attempts)
                });
                // -1 when no ICMP error answered.
                let (icmp_type, icmp_code) = failure
                    .icmp
                    .map_or((-1, -1), |(t, c)| (i32::from(t), i32::from(c)));
                for (name, value) in [("icmp_type", icmp_type), ("icmp_code", icmp_code)] {
                    event.arg_named(&[name], schema.int_type, |o| {
                        if value < 0 {
                            o.extend_from_slice(b"-1");
                        } else {
                            push_u64(o, value as u64);
                        }
                    });
                }
                text(&mut event, "error", errno::name(failure.error).as_bytes());
            }
            FlowKind::Record => {
                proto(&mut event);
                endpoints(&mut event, flow);
                text(
                    &mut event,
                    "conn_direction",
                    flow.direction.name().as_bytes(),
                );
                number(&mut event, &["start_time"], flow.start_ns);
                number(&mut event, &["duration"], flow.duration_ns());
                for (side, counts) in [("orig", flow.orig_counts), ("resp", flow.resp_counts)] {
                    number(&mut event, &[side, "_packets"], counts.packets);
                    number(&mut event, &[side, "_ip_bytes"], counts.ip_bytes);
                    number(&mut event, &[side, "_bytes"], counts.bytes);
                }
                text(&mut event, "conn_state", flow.conn_state.as_bytes());
                text(&mut event, "history", flow.history.as_bytes());
                number(&mut event, &["initial_rtt"], flow.initial_rtt_ns);
                number(&mut event, &["dns_rtt"], flow.dns_rtt_ns);
                let (orig, resp) = (flow.orig_health, flow.resp_health);
                for (name, orig, resp) in [
                    ("retransmits", orig.retransmits, resp.retransmits),
                    ("out_of_order", orig.out_of_order, resp.out_of_order),
                    ("zero_windows", orig.zero_windows, resp.zero_windows),
                ] {
                    number(&mut event, &["orig_", name], orig.into());
                    number(&mut event, &["resp_", name], resp.into());
                }
                text(&mut event, "community_id", flow.community_id.as_bytes());
                dns_names(&mut event);
                text(&mut event, "sni", flow.server_name);
                names(&mut event, "alpn", &mut flow.alpn.iter().map(|p| &p[..]));
                text(&mut event, "http_host", flow.http_host);
                text(&mut event, "reason", flow.reason.name().as_bytes());
                if let Some(peer) = responder {
                    event.arg(arg_head!("responder", "netcore.Process"), |o| {
                        let mut p = Object::open(o);
                        p.num("processId", peer.process_id.into());
                        p.num("threadId", peer.thread_id.into());
                        p.num("hostProcessId", peer.host_process_id.into());
                        p.num("hostThreadId", peer.host_thread_id.into());
                        p.num("userId", peer.user_id.into());
                        p.str("processName", peer.process_name);
                        p.str("containerId", peer.container_id.as_bytes());
                        p.str("containerName", peer.container_name.as_bytes());
                        p.str("podName", peer.pod_name.as_bytes());
                        p.str("podNamespace", peer.pod_namespace.as_bytes());
                        p.close();
                    });
                }
            }
        }
        event.end();
    }
}

/// `src`, `dst`, `src_port`, `dst_port`: originator to responder.
fn endpoints(event: &mut Event<'_>, flow: &Flow<'_>) {
    let p = event.prepared;
    event.arg(&p.src, |o| push_ip(o, flow.orig.0));
    event.arg(&p.dst, |o| push_ip(o, flow.resp.0));
    event.ports(flow.orig.1, flow.resp.1);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{ConnDirection, Reason};
    use crate::json::Schema;
    use core::net::{IpAddr, Ipv4Addr};

    fn flow() -> Flow<'static> {
        let orig = (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 40000);
        let resp = (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), 443);
        Flow {
            start_ns: 1_700_000_000_000_000_000,
            last_ns: 1_700_000_001_500_000_000,
            conn_state: "S1",
            history: "ShAD",
            direction: ConnDirection::Outgoing,
            reason: Reason::Closed,
            ..Flow::between(ip::TCP, orig, resp)
        }
    }

    fn encode(kind: FlowKind, schema: &str) -> alloc::string::String {
        let schema = Schema::by_name(schema).expect("a schema");
        let ctx = EventContext {
            timestamp: 1_700_000_001_500_000_000,
            host_name: "node-1",
            ..EventContext::default()
        };
        let mut out = Vec::new();
        Encoder::new(schema).encode_flow(kind, &flow(), &ctx, None, &mut out);
        alloc::string::String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn a_connect_failure_names_its_cause_and_icmp_error() {
        let schema = Schema::by_name("tracee-0.22").unwrap();
        let ctx = EventContext::default();
        let mut out = Vec::new();
        let mut failed = flow();
        failed.protocol = ip::UDP;
        failed.failure = Some(crate::flow::Failure {
            cause: crate::flow::Cause::Unreachable,
            attempts: 2,
            icmp: Some((3, 3)),
            error: 0,
        });
        Encoder::new(schema).encode_flow(FlowKind::ConnectFailure, &failed, &ctx, None, &mut out);
        let line = alloc::string::String::from_utf8(out).unwrap();
        assert!(
            line.contains(r#""eventId":"2102","eventName":"net_connect_failure""#),
            "{line}"
        );
        let args = line.split_once(r#""args":"#).expect("args").1;
        assert_eq!(
            args,
            concat!(
                r#"[{"name":"cause","type":"const char*","value":"unreachable"},"#,
                r#"{"name":"src","type":"const char*","value":"10.0.0.1"},"#,
                r#"{"name":"dst","type":"const char*","value":"10.0.0.2"},"#,
                r#"{"name":"src_port","type":"u16","value":40000},"#,
                r#"{"name":"dst_port","type":"u16","value":443},"#,
                r#"{"name":"proto","type":"const char*","value":"UDP"},"#,
                r#"{"name":"attempts","type":"u64","value":2},"#,
                r#"{"name":"icmp_type","type":"int","value":3},"#,
                r#"{"name":"icmp_code","type":"int","value":3},"#,
                r#"{"name":"error","type":"const char*","value":""}]}"#,
                "\n"
            )
        );
    }

    #[test]
    fn tracees_tcp_flow_event_has_its_seven_arguments() {
        let line = encode(FlowKind::TcpBegin, "tracee-0.22");
        let args = line.split_once(r#""args":"#).expect("args").1;
        assert_eq!(
            args,
            concat!(
                r#"[{"name":"conn_direction","type":"const char*","value":"outgoing"},"#,
                r#"{"name":"src","type":"const char*","value":"10.0.0.1"},"#,
                r#"{"name":"dst","type":"const char*","value":"10.0.0.2"},"#,
                r#"{"name":"src_port","type":"u16","value":40000},"#,
                r#"{"name":"dst_port","type":"u16","value":443},"#,
                r#"{"name":"src_dns","type":"const char **","value":[]},"#,
                r#"{"name":"dst_dns","type":"const char **","value":[]}]}"#,
                "\n"
            )
        );
        // Tracee v0.24 types the addresses and names as its protobuf does.
        let record = encode(FlowKind::Record, "tracee-0.22");
        assert!(
            record.contains(concat!(
                r#"{"name":"history","type":"const char*","value":"ShAD"},"#,
                r#"{"name":"initial_rtt","type":"u64","value":0},"#,
                r#"{"name":"dns_rtt","type":"u64","value":0},"#,
                r#"{"name":"orig_retransmits","type":"u64","value":0},"#,
                r#"{"name":"resp_retransmits","type":"u64","value":0},"#
            )),
            "{record}"
        );
        let v024 = encode(FlowKind::TcpBegin, "tracee-0.24");
        assert!(
            v024.contains(r#"{"name":"src","type":"string","value":"10.0.0.1"}"#),
            "{v024}"
        );
    }
}
