//! The fields filters name: the scope (envelope) fields, and each event's argument
//! fields with how to read them from the decoded views or the DNS message.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::{self, Write as _};
use core::net::IpAddr;

use super::syntax::*;
use crate::flow::{Flow, FlowKind};
use crate::http::Message;
use crate::packet::{Decoded, Network, Transport};
use crate::tcp::flag;
use crate::{EventContext, EventKind, ip};

/// The envelope fields scope filters test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scope {
    Comm,
    Executable,
    Pid,
    Tid,
    Uid,
    CgroupId,
    Container,
    /// 1 when the container started after netcore (`container=new`), else 0.
    NewContainer,
    ContainerName,
    ContainerImage,
    PodName,
    PodNamespace,
    PodUid,
    MountNs,
    PidNs,
}

pub(super) const SCOPES: [(&str, Scope, Kind); 15] = [
    ("comm", Scope::Comm, Kind::Text),
    ("executable", Scope::Executable, Kind::Text),
    ("exe", Scope::Executable, Kind::Text),
    ("pid", Scope::Pid, Kind::Number),
    ("tid", Scope::Tid, Kind::Number),
    ("uid", Scope::Uid, Kind::Number),
    ("cgroupId", Scope::CgroupId, Kind::Number),
    ("container", Scope::Container, Kind::Flag),
    ("containerName", Scope::ContainerName, Kind::Text),
    ("containerImage", Scope::ContainerImage, Kind::Text),
    ("podName", Scope::PodName, Kind::Text),
    ("podNamespace", Scope::PodNamespace, Kind::Text),
    ("podUID", Scope::PodUid, Kind::Text),
    ("mntns", Scope::MountNs, Kind::Number),
    ("pidns", Scope::PidNs, Kind::Number),
];

impl Scope {
    pub(super) fn value<'a>(self, ctx: &EventContext<'a>) -> Value<'a> {
        match self {
            Scope::Comm => Value::Text(ctx.process_name),
            Scope::Executable => Value::Text(ctx.executable),
            Scope::Pid => Value::Number(ctx.host_process_id.into()),
            Scope::Tid => Value::Number(ctx.host_thread_id.into()),
            Scope::Uid => Value::Number(ctx.user_id.into()),
            Scope::CgroupId => Value::Number(ctx.cgroup_id),
            Scope::Container => Value::Text(ctx.container_id.as_bytes()),
            Scope::NewContainer => Value::Number(ctx.container_new.into()),
            Scope::ContainerName => Value::Text(ctx.container_name.as_bytes()),
            Scope::ContainerImage => Value::Text(ctx.container_image.as_bytes()),
            Scope::PodName => Value::Text(ctx.pod_name.as_bytes()),
            Scope::PodNamespace => Value::Text(ctx.pod_namespace.as_bytes()),
            Scope::PodUid => Value::Text(ctx.pod_uid.as_bytes()),
            Scope::MountNs => Value::Number(ctx.mount_namespace.into()),
            Scope::PidNs => Value::Number(ctx.pid_namespace.into()),
        }
    }
}

/// The packet fields that select every event of a packet (`host=`, `port=`, `src=`,
/// `dst=`), where an argument filter selects one event's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PacketWide {
    /// The source or the destination address.
    Host,
    /// The source address.
    Src,
    /// The destination address.
    Dst,
    /// The source or the destination port (TCP, UDP).
    Port,
}

pub(super) const PACKET_WIDE: [(&str, PacketWide, Kind); 4] = [
    ("host", PacketWide::Host, Kind::Address),
    ("src", PacketWide::Src, Kind::Address),
    ("dst", PacketWide::Dst, Kind::Address),
    ("port", PacketWide::Port, Kind::Number),
];

impl PacketWide {
    /// The values of this field in `decoded`: none when it has no such layer.
    pub(super) fn values<'a>(self, decoded: &Decoded<'_>) -> impl Iterator<Item = Value<'a>> {
        let network = decoded.network;
        let ports = decoded.transport.and_then(|t| t.ports());
        let (first, second) = match self {
            PacketWide::Host => (
                network.map(|n| Value::Address(n.src())),
                network.map(|n| Value::Address(n.dst())),
            ),
            PacketWide::Src => (network.map(|n| Value::Address(n.src())), None),
            PacketWide::Dst => (network.map(|n| Value::Address(n.dst())), None),
            PacketWide::Port => (
                ports.map(|(s, _)| Value::Number(s.into())),
                ports.map(|(_, d)| Value::Number(d.into())),
            ),
        };
        first.into_iter().chain(second)
    }
}

/// A field of a network-layer or transport-layer event, read from the decoded views.
pub(super) type PacketField = fn(&Decoded<'_>, &mut TextBuf) -> Option<PacketValue>;

/// A packet field's value (text goes into the caller's buffer).
pub(super) enum PacketValue {
    Number(u64),
    Text,
    Address(IpAddr),
}

/// A small text buffer for names rendered on demand (ICMP type codes, protocol names).
pub(super) struct TextBuf {
    pub(super) bytes: [u8; 64],
    pub(super) len: usize,
}

impl fmt::Write for TextBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        self.bytes
            .get_mut(self.len..end)
            .ok_or(fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

pub(super) fn text(buf: &mut TextBuf, s: impl fmt::Display) -> Option<PacketValue> {
    buf.len = 0;
    write!(buf, "{s}").ok()?;
    Some(PacketValue::Text)
}

pub(super) fn num(n: impl Into<u64>) -> Option<PacketValue> {
    Some(PacketValue::Number(n.into()))
}

pub(super) fn ipv4<'a>(d: &Decoded<'a>) -> Option<crate::ipv4::Ipv4View<'a>> {
    match d.network? {
        Network::Ipv4(v) => Some(v),
        Network::Ipv6(_) => None,
    }
}

pub(super) fn ipv6<'a>(d: &Decoded<'a>) -> Option<crate::ipv6::Ipv6View<'a>> {
    match d.network? {
        Network::Ipv6(v) => Some(v),
        Network::Ipv4(_) => None,
    }
}

pub(super) fn tcp<'a>(d: &Decoded<'a>) -> Option<crate::tcp::TcpView<'a>> {
    match d.transport? {
        Transport::Tcp(t) => Some(t),
        _ => None,
    }
}

pub(super) fn udp<'a>(d: &Decoded<'a>) -> Option<crate::udp::UdpView<'a>> {
    match d.transport? {
        Transport::Udp(u) => Some(u),
        _ => None,
    }
}

pub(super) fn icmp<'a>(d: &Decoded<'a>) -> Option<crate::icmp::IcmpView<'a>> {
    match d.transport? {
        Transport::Icmp(i) => Some(i),
        _ => None,
    }
}

pub(super) fn icmpv6<'a>(d: &Decoded<'a>) -> Option<crate::icmpv6::Icmpv6View<'a>> {
    match d.transport? {
        Transport::Icmpv6(i) => Some(i),
        _ => None,
    }
}

pub(super) fn tcp_flag(d: &Decoded<'_>, bit: u8) -> Option<PacketValue> {
    num(tcp(d)?.has(bit) as u8)
}

/// `src`, `dst`, of every event but the DNS request/response ones.
pub(super) const ADDRESSES: [(&str, Kind, PacketField); 2] = [
    ("src", Kind::Address, |d, _| {
        Some(PacketValue::Address(d.network?.src()))
    }),
    ("dst", Kind::Address, |d, _| {
        Some(PacketValue::Address(d.network?.dst()))
    }),
];

/// `src_port`, `dst_port` of the TCP, UDP and DNS events.
pub(super) const PORTS: [(&str, Kind, PacketField); 2] = [
    ("src_port", Kind::Number, |d, _| {
        num(d.transport?.ports()?.0)
    }),
    ("dst_port", Kind::Number, |d, _| {
        num(d.transport?.ports()?.1)
    }),
];

pub(super) const PROTO_IPV4: &[(&str, Kind, PacketField)] = &[
    ("version", Kind::Number, |d, _| ipv4(d).and(num(4u8))),
    ("IHL", Kind::Number, |d, _| num(ipv4(d)?.ihl())),
    ("TOS", Kind::Number, |d, _| num(ipv4(d)?.tos())),
    ("length", Kind::Number, |d, _| num(ipv4(d)?.total_len())),
    ("id", Kind::Number, |d, _| num(ipv4(d)?.id())),
    ("flags", Kind::Number, |d, _| num(ipv4(d)?.flags())),
    ("fragOffset", Kind::Number, |d, _| {
        num(ipv4(d)?.frag_offset())
    }),
    ("TTL", Kind::Number, |d, _| num(ipv4(d)?.ttl())),
    ("protocol", Kind::Text, |d, b| {
        text(b, ip::protocol_name(ipv4(d)?.protocol()))
    }),
    ("checksum", Kind::Number, |d, _| num(ipv4(d)?.checksum())),
    ("srcIP", Kind::Address, |d, _| {
        Some(PacketValue::Address(ipv4(d)?.src().into()))
    }),
    ("dstIP", Kind::Address, |d, _| {
        Some(PacketValue::Address(ipv4(d)?.dst().into()))
    }),
];

pub(super) const PROTO_IPV6: &[(&str, Kind, PacketField)] = &[
    ("version", Kind::Number, |d, _| ipv6(d).and(num(6u8))),
    ("trafficClass", Kind::Number, |d, _| {
        num(ipv6(d)?.traffic_class())
    }),
    ("flowLabel", Kind::Number, |d, _| num(ipv6(d)?.flow_label())),
    ("length", Kind::Number, |d, _| num(ipv6(d)?.payload_len())),
    ("nextHeader", Kind::Text, |d, b| {
        text(b, ip::protocol_name(ipv6(d)?.next_header()))
    }),
    ("hopLimit", Kind::Number, |d, _| num(ipv6(d)?.hop_limit())),
    ("srcIP", Kind::Address, |d, _| {
        Some(PacketValue::Address(ipv6(d)?.src().into()))
    }),
    ("dstIP", Kind::Address, |d, _| {
        Some(PacketValue::Address(ipv6(d)?.dst().into()))
    }),
];

pub(super) const PROTO_TCP: &[(&str, Kind, PacketField)] = &[
    ("srcPort", Kind::Number, |d, _| num(tcp(d)?.src_port())),
    ("dstPort", Kind::Number, |d, _| num(tcp(d)?.dst_port())),
    ("seq", Kind::Number, |d, _| num(tcp(d)?.seq())),
    ("ack", Kind::Number, |d, _| num(tcp(d)?.ack())),
    (
        "dataOffset",
        Kind::Number,
        |d, _| num(tcp(d)?.data_offset()),
    ),
    ("FIN", Kind::Number, |d, _| tcp_flag(d, flag::FIN)),
    ("SYN", Kind::Number, |d, _| tcp_flag(d, flag::SYN)),
    ("RST", Kind::Number, |d, _| tcp_flag(d, flag::RST)),
    ("PSH", Kind::Number, |d, _| tcp_flag(d, flag::PSH)),
    ("ACK", Kind::Number, |d, _| tcp_flag(d, flag::ACK)),
    ("URG", Kind::Number, |d, _| tcp_flag(d, flag::URG)),
    ("ECE", Kind::Number, |d, _| tcp_flag(d, flag::ECE)),
    ("CWR", Kind::Number, |d, _| tcp_flag(d, flag::CWR)),
    ("NS", Kind::Number, |d, _| num(tcp(d)?.ns() as u8)),
    ("window", Kind::Number, |d, _| num(tcp(d)?.window())),
    ("checksum", Kind::Number, |d, _| num(tcp(d)?.checksum())),
    ("urgent", Kind::Number, |d, _| num(tcp(d)?.urgent())),
];

pub(super) const PROTO_UDP: &[(&str, Kind, PacketField)] = &[
    ("srcPort", Kind::Number, |d, _| num(udp(d)?.src_port())),
    ("dstPort", Kind::Number, |d, _| num(udp(d)?.dst_port())),
    ("length", Kind::Number, |d, _| num(udp(d)?.length())),
    ("checksum", Kind::Number, |d, _| num(udp(d)?.checksum())),
];

pub(super) const PROTO_ICMP: &[(&str, Kind, PacketField)] = &[
    ("typeCode", Kind::Text, |d, b| text(b, icmp(d)?.type_code())),
    ("checksum", Kind::Number, |d, _| num(icmp(d)?.checksum())),
    ("id", Kind::Number, |d, _| num(icmp(d)?.id())),
    ("seq", Kind::Number, |d, _| num(icmp(d)?.seq())),
];

pub(super) const PROTO_ICMPV6: &[(&str, Kind, PacketField)] = &[
    ("typeCode", Kind::Text, |d, b| {
        text(b, icmpv6(d)?.type_code())
    }),
    ("checksum", Kind::Number, |d, _| num(icmpv6(d)?.checksum())),
];

/// The fields of a DNS message (`proto_dns.…` of net_packet_dns, and the request and
/// response events' questions and answers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DnsField {
    Id,
    Qr,
    OpCode,
    ResponseCode,
    QuestionName,
    QuestionType,
    AnswerName,
    AnswerType,
    /// `dns_answer[].answer` of the response event: the address, name or TXT data.
    Answer,
}

pub(super) const PROTO_DNS: [(&str, DnsField, Kind); 8] = [
    ("ID", DnsField::Id, Kind::Number),
    ("QR", DnsField::Qr, Kind::Number),
    ("opCode", DnsField::OpCode, Kind::Text),
    ("responseCode", DnsField::ResponseCode, Kind::Text),
    ("questions.name", DnsField::QuestionName, Kind::Text),
    ("questions.type", DnsField::QuestionType, Kind::Text),
    ("answers.name", DnsField::AnswerName, Kind::Text),
    ("answers.type", DnsField::AnswerType, Kind::Text),
];

/// Argument fields of the DNS request and response events, by their JSON path.
pub(super) const DNS_REQUEST_ARGS: [(&str, DnsField, Kind); 2] = [
    ("dns_questions.query", DnsField::QuestionName, Kind::Text),
    (
        "dns_questions.query_type",
        DnsField::QuestionType,
        Kind::Text,
    ),
];
pub(super) const DNS_RESPONSE_ARGS: [(&str, DnsField, Kind); 4] = [
    (
        "dns_response.query_data.query",
        DnsField::QuestionName,
        Kind::Text,
    ),
    (
        "dns_response.query_data.query_type",
        DnsField::QuestionType,
        Kind::Text,
    ),
    (
        "dns_response.dns_answer.answer_type",
        DnsField::AnswerType,
        Kind::Text,
    ),
    (
        "dns_response.dns_answer.answer",
        DnsField::Answer,
        Kind::Text,
    ),
];

/// An argument field of some event.
#[derive(Clone, Copy)]
pub(super) enum ArgField {
    Packet(PacketField),
    Dns(DnsField),
    Http(HttpField),
}

/// A field of an HTTP message head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum HttpField {
    Direction,
    Method,
    Protocol,
    Host,
    UriPath,
    Status,
    StatusCode,
    ContentLength,
}

impl HttpField {
    /// The field's value in `message`, percent-decoded paths written into `scratch`;
    /// `None` when the message has no such field (a request's status).
    pub(super) fn value<'a>(
        self,
        message: &'a Message<'a>,
        scratch: &'a mut Vec<u8>,
    ) -> Option<Value<'a>> {
        let text = |t: &'a [u8]| Some(Value::Text(t));
        match (self, message) {
            (HttpField::Direction, Message::Request(_)) => text(b"request"),
            (HttpField::Direction, Message::Response(_)) => text(b"response"),
            (HttpField::Method, Message::Request(r)) => text(r.method),
            (HttpField::Protocol, Message::Request(r)) => text(r.protocol),
            (HttpField::Protocol, Message::Response(r)) => text(r.protocol),
            (HttpField::Host, Message::Request(r)) => text(r.host()),
            (HttpField::UriPath, Message::Request(r)) => {
                crate::http::decode_path(r.raw_path(), scratch);
                text(scratch)
            }
            (HttpField::Status, Message::Response(r)) => text(r.status),
            (HttpField::StatusCode, Message::Response(r)) => {
                Some(Value::Number(r.status_code.into()))
            }
            (HttpField::ContentLength, Message::Request(r)) => {
                Some(Value::Number(r.content_length()? as u64))
            }
            (HttpField::ContentLength, Message::Response(r)) => {
                Some(Value::Number(r.content_length()? as u64))
            }
            _ => None,
        }
    }
}

/// `net_packet_http`'s `proto_http` fields (`headers` is not filterable).
const PROTO_HTTP: [(&str, HttpField, Kind); 8] = [
    ("direction", HttpField::Direction, Kind::Text),
    ("method", HttpField::Method, Kind::Text),
    ("protocol", HttpField::Protocol, Kind::Text),
    ("host", HttpField::Host, Kind::Text),
    ("uri_path", HttpField::UriPath, Kind::Text),
    ("status", HttpField::Status, Kind::Text),
    ("status_code", HttpField::StatusCode, Kind::Number),
    ("content_length", HttpField::ContentLength, Kind::Number),
];
/// `net_packet_http_request`'s `http_request` fields.
const HTTP_REQUEST: [(&str, HttpField, Kind); 5] = [
    ("method", HttpField::Method, Kind::Text),
    ("protocol", HttpField::Protocol, Kind::Text),
    ("host", HttpField::Host, Kind::Text),
    ("uri_path", HttpField::UriPath, Kind::Text),
    ("content_length", HttpField::ContentLength, Kind::Number),
];
/// `net_packet_http_response`'s `http_response` fields.
const HTTP_RESPONSE: [(&str, HttpField, Kind); 4] = [
    ("status", HttpField::Status, Kind::Text),
    ("status_code", HttpField::StatusCode, Kind::Number),
    ("protocol", HttpField::Protocol, Kind::Text),
    ("content_length", HttpField::ContentLength, Kind::Number),
];

impl fmt::Debug for ArgField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgField::Packet(_) => f.write_str("Packet"),
            ArgField::Dns(d) => write!(f, "Dns({d:?})"),
            ArgField::Http(h) => write!(f, "Http({h:?})"),
        }
    }
}

impl PartialEq for ArgField {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (ArgField::Packet(a), ArgField::Packet(b)) => core::ptr::fn_addr_eq(*a, *b),
            (ArgField::Dns(a), ArgField::Dns(b)) => a == b,
            (ArgField::Http(a), ArgField::Http(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for ArgField {}

/// Resolves `path` (after `EVENT.args.`) for `event`, or lists the valid paths.
pub(super) fn arg_field(event: EventKind, path: &str) -> Result<(ArgField, Kind), Vec<String>> {
    let fields = arg_fields(event);
    match fields.iter().find(|(name, ..)| name == path) {
        Some(&(_, field, kind)) => Ok((field, kind)),
        None => Err(fields.into_iter().map(|(name, ..)| name).collect()),
    }
}

/// Every argument field of `event`: its path after `EVENT.args.`, how to read it, what
/// it holds.
pub(super) fn arg_fields(event: EventKind) -> Vec<(String, ArgField, Kind)> {
    let packet = |table: &[(&str, Kind, PacketField)], prefix: &str| {
        table
            .iter()
            .map(move |&(name, kind, f)| (format!("{prefix}{name}"), ArgField::Packet(f), kind))
            .collect::<Vec<_>>()
    };
    let dns = |table: &[(&str, DnsField, Kind)], prefix: &str| {
        table
            .iter()
            .map(move |&(name, f, kind)| (format!("{prefix}{name}"), ArgField::Dns(f), kind))
            .collect::<Vec<_>>()
    };
    let http = |table: &[(&str, HttpField, Kind)], prefix: &str| {
        table
            .iter()
            .map(move |&(name, f, kind)| (format!("{prefix}{name}"), ArgField::Http(f), kind))
            .collect::<Vec<_>>()
    };
    let mut fields = Vec::new();
    // `net_packet_raw`'s one argument is bytes: nothing to filter on.
    if event == EventKind::Raw {
        return fields;
    }
    let metadata_first = matches!(
        event,
        EventKind::DnsRequest
            | EventKind::DnsResponse
            | EventKind::HttpRequest
            | EventKind::HttpResponse
    );
    if !metadata_first {
        fields.extend(packet(&ADDRESSES, ""));
    }
    if matches!(
        event,
        EventKind::Tcp | EventKind::Udp | EventKind::Dns | EventKind::Http
    ) {
        fields.extend(packet(&PORTS, ""));
    }
    match event {
        EventKind::Ipv4 => fields.extend(packet(PROTO_IPV4, "proto_ipv4.")),
        EventKind::Ipv6 => fields.extend(packet(PROTO_IPV6, "proto_ipv6.")),
        EventKind::Tcp => fields.extend(packet(PROTO_TCP, "proto_tcp.")),
        EventKind::Udp => fields.extend(packet(PROTO_UDP, "proto_udp.")),
        EventKind::Icmp => fields.extend(packet(PROTO_ICMP, "proto_icmp.")),
        EventKind::Icmpv6 => fields.extend(packet(PROTO_ICMPV6, "proto_icmpv6.")),
        EventKind::Dns => fields.extend(dns(&PROTO_DNS, "proto_dns.")),
        EventKind::DnsRequest => fields.extend(dns(&DNS_REQUEST_ARGS, "")),
        EventKind::DnsResponse => fields.extend(dns(&DNS_RESPONSE_ARGS, "")),
        EventKind::Http => fields.extend(http(&PROTO_HTTP, "proto_http.")),
        EventKind::HttpRequest => fields.extend(http(&HTTP_REQUEST, "http_request.")),
        EventKind::HttpResponse => fields.extend(http(&HTTP_RESPONSE, "http_response.")),
        EventKind::Raw => {}
    }
    fields
}

/// A field of a flow event, read from its [`Flow`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FlowField {
    Src,
    Dst,
    SrcPort,
    DstPort,
    ConnDirection,
    SrcDns,
    DstDns,
    Proto,
    ConnState,
    History,
    CommunityId,
    Sni,
    Alpn,
    HttpHost,
    Reason,
    Duration,
    OrigPackets,
    OrigBytes,
    RespPackets,
    RespBytes,
    InitialRtt,
    OrigRetransmits,
    RespRetransmits,
    OrigOutOfOrder,
    RespOutOfOrder,
    OrigZeroWindows,
    RespZeroWindows,
    DnsRtt,
    Query,
    Qtype,
    Rcode,
    Answers,
    Rtt,
    Outcome,
}

/// The arguments of Tracee's TCP flow events (and the first of `net_flow`'s).
const TRACEE_FLOW_FIELDS: [(&str, FlowField, Kind); 7] = [
    ("conn_direction", FlowField::ConnDirection, Kind::Text),
    ("src", FlowField::Src, Kind::Address),
    ("dst", FlowField::Dst, Kind::Address),
    ("src_port", FlowField::SrcPort, Kind::Number),
    ("dst_port", FlowField::DstPort, Kind::Number),
    ("src_dns", FlowField::SrcDns, Kind::Text),
    ("dst_dns", FlowField::DstDns, Kind::Text),
];

/// `net_flow`'s arguments beyond Tracee's.
const RECORD_FIELDS: [(&str, FlowField, Kind); 21] = [
    ("proto", FlowField::Proto, Kind::Text),
    ("conn_state", FlowField::ConnState, Kind::Text),
    ("history", FlowField::History, Kind::Text),
    ("community_id", FlowField::CommunityId, Kind::Text),
    ("sni", FlowField::Sni, Kind::Text),
    ("alpn", FlowField::Alpn, Kind::Text),
    ("http_host", FlowField::HttpHost, Kind::Text),
    ("reason", FlowField::Reason, Kind::Text),
    ("duration", FlowField::Duration, Kind::Number),
    ("orig_packets", FlowField::OrigPackets, Kind::Number),
    ("orig_bytes", FlowField::OrigBytes, Kind::Number),
    ("resp_packets", FlowField::RespPackets, Kind::Number),
    ("resp_bytes", FlowField::RespBytes, Kind::Number),
    ("initial_rtt", FlowField::InitialRtt, Kind::Number),
    ("dns_rtt", FlowField::DnsRtt, Kind::Number),
    ("orig_retransmits", FlowField::OrigRetransmits, Kind::Number),
    ("resp_retransmits", FlowField::RespRetransmits, Kind::Number),
    ("orig_out_of_order", FlowField::OrigOutOfOrder, Kind::Number),
    ("resp_out_of_order", FlowField::RespOutOfOrder, Kind::Number),
    (
        "orig_zero_windows",
        FlowField::OrigZeroWindows,
        Kind::Number,
    ),
    (
        "resp_zero_windows",
        FlowField::RespZeroWindows,
        Kind::Number,
    ),
];

/// `net_dns_transaction`'s arguments besides the endpoints and `proto`.
const TRANSACTION_FIELDS: [(&str, FlowField, Kind); 6] = [
    ("query", FlowField::Query, Kind::Text),
    ("qtype", FlowField::Qtype, Kind::Text),
    ("rcode", FlowField::Rcode, Kind::Text),
    ("answers", FlowField::Answers, Kind::Text),
    ("rtt", FlowField::Rtt, Kind::Number),
    ("outcome", FlowField::Outcome, Kind::Text),
];

/// The filterable arguments of flow event `kind`.
pub(super) fn flow_fields(kind: FlowKind) -> Vec<(&'static str, FlowField, Kind)> {
    let endpoints = &TRACEE_FLOW_FIELDS[1..5];
    let proto = RECORD_FIELDS[0];
    match kind {
        FlowKind::Record => [&TRACEE_FLOW_FIELDS[..], &RECORD_FIELDS].concat(),
        FlowKind::TcpBegin | FlowKind::TcpEnd => TRACEE_FLOW_FIELDS.to_vec(),
        FlowKind::ConnectFailure => [endpoints, &[proto]].concat(),
        FlowKind::DnsTransaction => [endpoints, &[proto], &TRANSACTION_FIELDS].concat(),
        // `dst`, `dst_port`, `dst_dns`.
        FlowKind::TcpConnect => [
            &TRACEE_FLOW_FIELDS[2..3],
            &TRACEE_FLOW_FIELDS[4..5],
            &TRACEE_FLOW_FIELDS[6..],
        ]
        .concat(),
    }
}

impl FlowField {
    /// The values of this field in `flow` (several for the name lists).
    pub(super) fn values<'a>(self, flow: &'a Flow<'a>) -> Vec<Value<'a>> {
        let text = |s: &'a str| alloc::vec![Value::Text(s.as_bytes())];
        let number = |n: u64| alloc::vec![Value::Number(n)];
        match self {
            FlowField::Src => alloc::vec![Value::Address(flow.orig.0)],
            FlowField::Dst => alloc::vec![Value::Address(flow.resp.0)],
            FlowField::SrcPort => number(flow.orig.1.into()),
            FlowField::DstPort => number(flow.resp.1.into()),
            FlowField::ConnDirection => text(flow.direction.name()),
            FlowField::SrcDns => flow
                .orig_names
                .iter()
                .map(|n| Value::Text(n.as_bytes()))
                .collect(),
            FlowField::DstDns => flow
                .resp_names
                .iter()
                .map(|n| Value::Text(n.as_bytes()))
                .collect(),
            FlowField::Proto => text(ip::protocol_name(flow.protocol)),
            FlowField::ConnState => text(flow.conn_state),
            FlowField::History => text(flow.history),
            FlowField::CommunityId => text(flow.community_id),
            FlowField::Sni => alloc::vec![Value::Text(flow.server_name)],
            FlowField::Alpn => flow.alpn.iter().map(|p| Value::Text(p)).collect(),
            FlowField::HttpHost => alloc::vec![Value::Text(flow.http_host)],
            FlowField::Reason => text(flow.reason.name()),
            FlowField::Duration => number(flow.duration_ns()),
            FlowField::OrigPackets => number(flow.orig_counts.packets),
            FlowField::OrigBytes => number(flow.orig_counts.bytes),
            FlowField::RespPackets => number(flow.resp_counts.packets),
            FlowField::RespBytes => number(flow.resp_counts.bytes),
            FlowField::InitialRtt => number(flow.initial_rtt_ns),
            FlowField::OrigRetransmits => number(flow.orig_health.retransmits.into()),
            FlowField::RespRetransmits => number(flow.resp_health.retransmits.into()),
            FlowField::OrigOutOfOrder => number(flow.orig_health.out_of_order.into()),
            FlowField::RespOutOfOrder => number(flow.resp_health.out_of_order.into()),
            FlowField::OrigZeroWindows => number(flow.orig_health.zero_windows.into()),
            FlowField::RespZeroWindows => number(flow.resp_health.zero_windows.into()),
            FlowField::DnsRtt => number(flow.dns_rtt_ns),
            FlowField::Query
            | FlowField::Qtype
            | FlowField::Rcode
            | FlowField::Answers
            | FlowField::Rtt
            | FlowField::Outcome => {
                let Some(t) = &flow.transaction else {
                    return Vec::new();
                };
                match self {
                    FlowField::Query => text(t.query),
                    FlowField::Qtype => text(t.qtype.name()),
                    FlowField::Rcode => text(t.rcode_name()),
                    FlowField::Answers => t
                        .answers
                        .iter()
                        .map(|a| Value::Text(a.as_bytes()))
                        .collect(),
                    FlowField::Rtt => number(t.rtt_ns),
                    _ => text(t.outcome()),
                }
            }
        }
    }
}
