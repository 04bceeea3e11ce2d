//! The per-event text encoder (`--text-events`): one line per event, `TIME EVENT SRC ->
//! DST DETAILS [COMM PID]`. A pure formatter over decided events, like the JSON one.

use std::io::Write;

use netcore_core::dns::{DnsMessage, Entry, Section};
use netcore_core::finding::{FindingEvent, FindingValue};
use netcore_core::flow::{Flow, FlowKind};
use netcore_core::packet::{Network, Transport};
use netcore_core::tcp::flag;
use netcore_core::{EventContext, EventKind, PacketEvents, http};
use std::net::SocketAddr;

use super::Encoder;
use netcore_core::dns::AnswerText;

/// The per-event text encoder.
pub struct EventLineEncoder;

impl Encoder for EventLineEncoder {
    fn encode(&mut self, events: &PacketEvents<'_, '_>, out: &mut Vec<u8>) -> usize {
        let mut count = 0;
        for kind in events.kinds() {
            let written = match kind {
                EventKind::Dns | EventKind::DnsRequest | EventKind::DnsResponse => {
                    events.dns.is_some_and(|m| write_dns(events, m, kind, out))
                }
                EventKind::Http | EventKind::HttpRequest | EventKind::HttpResponse => events
                    .http
                    .is_some_and(|m| write_http(events, &m, kind, out)),
                _ => write_packet(events, kind, out),
            };
            debug_assert!(written, "{kind:?} was decided but its layer is missing");
            count += usize::from(written);
        }
        count
    }
}

/// An HTTP event: `SRC -> DST METHOD HOST PATH PROTOCOL` or `PROTOCOL STATUS`.
fn write_http(
    events: &PacketEvents<'_, '_>,
    message: &http::Message<'_>,
    kind: EventKind,
    out: &mut Vec<u8>,
) -> bool {
    let (Some(network), Some((src_port, dst_port))) = (
        events.packet.network,
        events.packet.transport.and_then(|t| t.ports()),
    ) else {
        return false;
    };
    text_prefix(out, events.ctx, kind.name());
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).escape_debug().to_string();
    let _ = write!(
        out,
        "{} -> {} ",
        SocketAddr::new(network.src(), src_port),
        SocketAddr::new(network.dst(), dst_port)
    );
    let _ = match message {
        http::Message::Request(r) => write!(
            out,
            "{} {} {} {}",
            text(r.method),
            text(r.host()),
            text(r.target),
            text(r.protocol)
        ),
        http::Message::Response(r) => write!(out, "{} {}", text(r.protocol), text(r.status)),
    };
    text_suffix(out, events.ctx);
    true
}

/// A network- or transport-layer event; false if the packet lacks the layer.
fn write_packet(events: &PacketEvents<'_, '_>, kind: EventKind, out: &mut Vec<u8>) -> bool {
    let (ctx, packet) = (events.ctx, events.packet);
    let Some(network) = packet.network else {
        return false;
    };
    if matches!(kind, EventKind::Ipv4 | EventKind::Ipv6) {
        text_prefix(out, ctx, kind.name());
        let _ = write!(out, "{} -> {}", network.src(), network.dst());
        let _ = match network {
            Network::Ipv4(v) => write!(
                out,
                " proto={} ttl={} id={} len={}",
                netcore_core::ip::protocol_name(v.protocol()),
                v.ttl(),
                v.id(),
                v.total_len()
            ),
            Network::Ipv6(v) => write!(
                out,
                " next={} hlim={} flow={} len={}",
                netcore_core::ip::protocol_name(v.next_header()),
                v.hop_limit(),
                v.flow_label(),
                v.payload_len()
            ),
        };
        text_suffix(out, ctx);
        return true;
    }
    let Some(transport) = packet.transport else {
        return false;
    };
    text_prefix(out, ctx, kind.name());
    let (src, dst) = (network.src(), network.dst());
    let _ = match transport {
        Transport::Tcp(t) => {
            let _ = write!(
                out,
                "{} -> {} ",
                std::net::SocketAddr::new(src, t.src_port()),
                std::net::SocketAddr::new(dst, t.dst_port())
            );
            for (bit, _, letter) in flag::ALL {
                if t.has(bit) {
                    out.push(letter);
                }
            }
            write!(
                out,
                " seq={} ack={} win={} len={}",
                t.seq(),
                t.ack(),
                t.window(),
                t.payload().len()
            )
        }
        Transport::Udp(u) => write!(
            out,
            "{} -> {} len={}",
            std::net::SocketAddr::new(src, u.src_port()),
            std::net::SocketAddr::new(dst, u.dst_port()),
            u.payload().len()
        ),
        Transport::Icmp(i) => write!(
            out,
            "{src} -> {dst} {} id={} seq={}",
            i.type_code(),
            i.id(),
            i.seq()
        ),
        Transport::Icmpv6(i) => write!(out, "{src} -> {dst} {}", i.type_code()),
    };
    text_suffix(out, ctx);
    true
}

/// `net_packet_dns SRC:PORT -> DST:PORT query|response id=… rcode=… QUESTION -> ANSWERS`,
/// and the request/response events in the same form.
fn write_dns(
    events: &PacketEvents<'_, '_>,
    message: &DnsMessage<'_>,
    kind: EventKind,
    out: &mut Vec<u8>,
) -> bool {
    let packet = events.packet;
    let (Some(network), Some((src_port, dst_port))) =
        (packet.network, packet.transport.and_then(|t| t.ports()))
    else {
        return false;
    };
    text_prefix(out, events.ctx, kind.name());
    let _ = write!(
        out,
        "{} -> {} {} id={} rcode={}",
        std::net::SocketAddr::new(network.src(), src_port),
        std::net::SocketAddr::new(network.dst(), dst_port),
        if message.qr() == 0 {
            "query"
        } else {
            "response"
        },
        message.id(),
        message.response_code().name().trim_end()
    );
    let mut name = [0; netcore_core::dns::name::MAX_PRESENTATION_LEN];
    for entry in message.entries() {
        match entry {
            Entry::Question(q) => {
                let _ = write!(
                    out,
                    " {} {}",
                    q.name.presentation(&mut name).unwrap_or("?"),
                    q.qtype.name()
                );
            }
            Entry::Record(Section::Answer, r) => {
                let _ = write!(out, " {}", AnswerText(&r));
            }
            Entry::Record(..) => {}
        }
    }
    text_suffix(out, events.ctx);
    true
}

fn text_prefix(out: &mut Vec<u8>, ctx: &EventContext<'_>, name: &str) {
    let _ = write!(out, "{} {name} ", utc_timestamp(ctx.timestamp));
}

/// One line for a finding: `TIME EVENT signature=ID severity=N on EVENT key=value… [COMM PID]`.
pub fn write_finding(finding: &FindingEvent<'_>, ctx: &EventContext<'_>, out: &mut Vec<u8>) {
    text_prefix(out, ctx, finding.event_name);
    let property = |name: &str| {
        finding
            .properties
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    };
    if let Some(FindingValue::Text(id)) = property("signatureID") {
        let _ = write!(out, "signature={}", id.escape_debug());
    }
    if let Some(FindingValue::Number(severity)) = property("Severity") {
        let _ = write!(out, " severity={severity}");
    }
    let _ = write!(out, " on {}", finding.trigger.name);
    for (name, value) in finding.data {
        let _ = match value {
            FindingValue::Text(t) => write!(out, " {name}={}", t.escape_debug()),
            FindingValue::Number(n) => write!(out, " {name}={n}"),
            FindingValue::Bool(b) => write!(out, " {name}={b}"),
            FindingValue::List(items) => write!(out, " {name}={}", items.join(",").escape_debug()),
            FindingValue::Null => Ok(()),
        };
    }
    text_suffix(out, ctx);
}

/// One line for a flow event: `TIME EVENT SRC:PORT -> DST:PORT PROTO DETAILS [COMM PID]`,
/// with the counters, state and names for `net_flow`.
pub fn write_flow(
    kind: FlowKind,
    flow: &Flow<'_>,
    ctx: &EventContext<'_>,
    responder: Option<&EventContext<'_>>,
    out: &mut Vec<u8>,
) {
    text_prefix(out, ctx, kind.name());
    let (orig, resp) = (flow.orig, flow.resp);
    let _ = write!(
        out,
        "{} -> {} {} {}",
        SocketAddr::from(orig),
        SocketAddr::from(resp),
        netcore_core::ip::protocol_name(flow.protocol),
        flow.direction.name()
    );
    if let Some(failure) = flow.failure {
        let _ = write!(
            out,
            " {} attempts={}",
            failure.cause.name(),
            failure.attempts
        );
        if let Some((icmp_type, icmp_code)) = failure.icmp {
            let _ = write!(out, " icmp={icmp_type}/{icmp_code}");
        }
    }
    if let Some(t) = &flow.transaction {
        let _ = write!(
            out,
            " {} {} {} rtt={:.6}s {} answers={}",
            t.query.escape_debug(),
            t.qtype.name(),
            t.outcome(),
            t.rtt_ns as f64 / 1e9,
            t.rcode_name(),
            t.answers.join(",").escape_debug()
        );
    }
    if kind == FlowKind::TcpConnect && !flow.resp_names.is_empty() {
        let _ = write!(out, " dst_dns={}", flow.resp_names.join(",").escape_debug());
    }
    if kind == FlowKind::Record {
        let (o, r) = (flow.orig_counts, flow.resp_counts);
        let _ = write!(
            out,
            " {} {} {:.3}s pkts={}/{} bytes={}/{} {} {}",
            flow.conn_state,
            flow.history,
            flow.duration_ns() as f64 / 1e9,
            o.packets,
            r.packets,
            o.bytes,
            r.bytes,
            flow.community_id,
            flow.reason.name()
        );
        for (label, names) in [("src_dns", flow.orig_names), ("dst_dns", flow.resp_names)] {
            if !names.is_empty() {
                let _ = write!(out, " {label}={}", names.join(",").escape_debug());
            }
        }
        if !flow.server_name.is_empty() {
            let _ = write!(
                out,
                " sni={}",
                String::from_utf8_lossy(flow.server_name).escape_debug()
            );
        }
        if !flow.http_host.is_empty() {
            let _ = write!(
                out,
                " host={}",
                String::from_utf8_lossy(flow.http_host).escape_debug()
            );
        }
        if let Some(peer) = responder.filter(|p| p.host_process_id != 0) {
            let _ = write!(
                out,
                " responder=[{} {}]",
                String::from_utf8_lossy(peer.process_name).escape_debug(),
                peer.host_process_id
            );
        }
    }
    text_suffix(out, ctx);
}

fn text_suffix(out: &mut Vec<u8>, ctx: &EventContext<'_>) {
    if ctx.host_process_id != 0 {
        let _ = write!(
            out,
            " [{} {}]",
            String::from_utf8_lossy(ctx.process_name).escape_debug(),
            ctx.host_process_id
        );
    }
    out.push(b'\n');
}

/// `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ` for ns since the epoch.
fn utc_timestamp(ns: u64) -> String {
    let secs = ns / 1_000_000_000;
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        ns % 1_000_000_000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_timestamps() {
        assert_eq!(utc_timestamp(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            utc_timestamp(1_671_040_290_192_938_971),
            "2022-12-14T17:51:30.192938971Z"
        );
        assert_eq!(
            utc_timestamp(951_782_400_000_000_001),
            "2000-02-29T00:00:00.000000001Z"
        );
    }
}
