//! Tracee's `--filter` language, compiled once into a predicate that runs on the decoded
//! views before any JSON is built: a rejected packet costs its decode and nothing more.
//!
//! ```text
//! --filter event=net_packet_tcp,net_packet_udp       which events (event!= excludes)
//! --filter net_packet_tcp.args.dst_port=80            an argument of one event (data. = args.)
//! --filter net_packet_tcp.args.proto_tcp.SYN=1        a field inside proto_*
//! --filter net_packet_dns.args.proto_dns.questions.name=*.example.com
//! --filter comm=curl,wget   pid=42   uid!=0   container   container=ab12*   cgroupId=…
//! ```
//!
//! Operators: `=`, `!=`, `<`, `>`, `<=`, `>=` (ordering on numbers only). A value list
//! (`a,b`) matches if any value does; `!=` with a list matches if none does. Strings take
//! `prefix*` and `*suffix`; addresses take CIDR prefixes (`10.0.0.0/8`). Filters AND
//! together; an argument filter constrains its own event only and selects it. See
//! docs/filters.md. [`Filter::kernel_filter`] derives what the capture programs can
//! apply before the ring buffer.

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::fmt::{self, Write as _};
use core::net::IpAddr;

use crate::dns::name::MAX_PRESENTATION_LEN;
use crate::dns::{DnsMessage, Entry, Section, opcode_name, rcode_name, type_name};
use crate::packet::{Decoded, Network, Transport};
use crate::record::{COMM_LEN, KERNEL_FILTER_SLOTS, KernelFilter, l4};
use crate::tcp::flag;
use crate::{EventContext, EventKind, EventSet, ip};

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}

impl Op {
    /// Splits `expr` at its operator: `(left, op, right)`; `None` when it has none.
    fn split(expr: &str) -> Option<(&str, Op, &str)> {
        let at = expr.find(['=', '!', '<', '>'])?;
        let (left, rest) = expr.split_at(at);
        let (op, len) = match rest.as_bytes() {
            [b'!', b'=', ..] => (Op::Ne, 2),
            [b'<', b'=', ..] => (Op::Le, 2),
            [b'>', b'=', ..] => (Op::Ge, 2),
            [b'=', ..] => (Op::Eq, 1),
            [b'<', ..] => (Op::Lt, 1),
            [b'>', ..] => (Op::Gt, 1),
            _ => return None,
        };
        Some((left, op, &rest[len..]))
    }

    fn orders(self) -> bool {
        matches!(self, Op::Lt | Op::Gt | Op::Le | Op::Ge)
    }
}

/// A string pattern: exact, `prefix*` or `*suffix`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    Exact(String),
    Prefix(String),
    Suffix(String),
}

impl Pattern {
    fn parse(text: &str) -> Pattern {
        if let Some(prefix) = text.strip_suffix('*') {
            Pattern::Prefix(prefix.to_owned())
        } else if let Some(suffix) = text.strip_prefix('*') {
            Pattern::Suffix(suffix.to_owned())
        } else {
            Pattern::Exact(text.to_owned())
        }
    }

    fn matches(&self, s: &[u8]) -> bool {
        match self {
            Pattern::Exact(p) => s == p.as_bytes(),
            Pattern::Prefix(p) => s.starts_with(p.as_bytes()),
            Pattern::Suffix(p) => s.ends_with(p.as_bytes()),
        }
    }
}

/// An address or CIDR prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    fn parse(text: &str) -> Option<Cidr> {
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a.parse::<IpAddr>().ok()?, Some(p.parse::<u8>().ok()?)),
            None => (text.parse::<IpAddr>().ok()?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Cidr {
            network: addr,
            prefix,
        })
    }

    fn contains(&self, addr: IpAddr) -> bool {
        let mask = |bits: u8, width: u32| match bits {
            0 => 0u128,
            b => u128::MAX << (width - u32::from(b)),
        };
        match (self.network, addr) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let m = mask(self.prefix, 32) as u32;
                u32::from(n) & m == u32::from(a) & m
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let m = mask(self.prefix, 128);
                u128::from(n) & m == u128::from(a) & m
            }
            _ => false,
        }
    }
}

/// The values a test compares against, typed by the field.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Values {
    Numbers(Vec<u64>),
    Strings(Vec<Pattern>),
    Addresses(Vec<Cidr>),
}

/// A field's value on one packet.
enum Value<'a> {
    Number(u64),
    Text(&'a [u8]),
    Address(IpAddr),
}

/// `field op values`, with the field resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Test<F> {
    field: F,
    op: Op,
    values: Values,
}

impl<F> Test<F> {
    /// Whether one value of the field passes: any listed value matches (`=` and
    /// orderings), or none does (`!=`).
    fn accepts(&self, value: &Value<'_>) -> bool {
        let matches_any = match (&self.values, value) {
            (Values::Numbers(ns), Value::Number(v)) => ns.iter().any(|n| match self.op {
                Op::Eq | Op::Ne => v == n,
                Op::Lt => v < n,
                Op::Gt => v > n,
                Op::Le => v <= n,
                Op::Ge => v >= n,
            }),
            (Values::Strings(ps), Value::Text(s)) => ps.iter().any(|p| p.matches(s)),
            (Values::Addresses(cs), Value::Address(a)) => cs.iter().any(|c| c.contains(*a)),
            _ => false,
        };
        matches_any != (self.op == Op::Ne)
    }

    /// Whether a field with several values (DNS names) passes: `!=` needs every value to
    /// pass, the others need one.
    fn accepts_all_or_any<'v>(&self, mut values: impl Iterator<Item = Value<'v>>) -> bool {
        if self.op == Op::Ne {
            values.all(|v| self.accepts(&v))
        } else {
            values.any(|v| self.accepts(&v))
        }
    }
}

/// What a field holds, which decides how its values are parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Number,
    Text,
    Address,
    /// A bare word meaning "is set" (`container`).
    Flag,
}

/// The envelope fields scope filters test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Comm,
    Pid,
    Tid,
    Uid,
    CgroupId,
    Container,
    MountNs,
    PidNs,
}

const SCOPES: [(&str, Scope, Kind); 8] = [
    ("comm", Scope::Comm, Kind::Text),
    ("pid", Scope::Pid, Kind::Number),
    ("tid", Scope::Tid, Kind::Number),
    ("uid", Scope::Uid, Kind::Number),
    ("cgroupId", Scope::CgroupId, Kind::Number),
    ("container", Scope::Container, Kind::Flag),
    ("mntns", Scope::MountNs, Kind::Number),
    ("pidns", Scope::PidNs, Kind::Number),
];

impl Scope {
    fn value<'a>(self, ctx: &EventContext<'a>) -> Value<'a> {
        match self {
            Scope::Comm => Value::Text(ctx.process_name),
            Scope::Pid => Value::Number(ctx.host_process_id.into()),
            Scope::Tid => Value::Number(ctx.host_thread_id.into()),
            Scope::Uid => Value::Number(ctx.user_id.into()),
            Scope::CgroupId => Value::Number(ctx.cgroup_id),
            Scope::Container => Value::Text(ctx.container_id.as_bytes()),
            Scope::MountNs => Value::Number(ctx.mount_namespace.into()),
            Scope::PidNs => Value::Number(ctx.pid_namespace.into()),
        }
    }
}

/// A field of a network-layer or transport-layer event, read from the decoded views.
type PacketField = fn(&Decoded<'_>, &mut TextBuf) -> Option<PacketValue>;

/// A packet field's value (text goes into the caller's buffer).
enum PacketValue {
    Number(u64),
    Text,
    Address(IpAddr),
}

/// A small text buffer for names rendered on demand (ICMP type codes, protocol names).
struct TextBuf {
    bytes: [u8; 64],
    len: usize,
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

fn text(buf: &mut TextBuf, s: impl fmt::Display) -> Option<PacketValue> {
    buf.len = 0;
    write!(buf, "{s}").ok()?;
    Some(PacketValue::Text)
}

fn num(n: impl Into<u64>) -> Option<PacketValue> {
    Some(PacketValue::Number(n.into()))
}

fn ipv4<'a>(d: &Decoded<'a>) -> Option<crate::ipv4::Ipv4View<'a>> {
    match d.network? {
        Network::Ipv4(v) => Some(v),
        Network::Ipv6(_) => None,
    }
}

fn ipv6<'a>(d: &Decoded<'a>) -> Option<crate::ipv6::Ipv6View<'a>> {
    match d.network? {
        Network::Ipv6(v) => Some(v),
        Network::Ipv4(_) => None,
    }
}

fn tcp<'a>(d: &Decoded<'a>) -> Option<crate::tcp::TcpView<'a>> {
    match d.transport? {
        Transport::Tcp(t) => Some(t),
        _ => None,
    }
}

fn udp<'a>(d: &Decoded<'a>) -> Option<crate::udp::UdpView<'a>> {
    match d.transport? {
        Transport::Udp(u) => Some(u),
        _ => None,
    }
}

fn icmp<'a>(d: &Decoded<'a>) -> Option<crate::icmp::IcmpView<'a>> {
    match d.transport? {
        Transport::Icmp(i) => Some(i),
        _ => None,
    }
}

fn icmpv6<'a>(d: &Decoded<'a>) -> Option<crate::icmpv6::Icmpv6View<'a>> {
    match d.transport? {
        Transport::Icmpv6(i) => Some(i),
        _ => None,
    }
}

fn tcp_flag(d: &Decoded<'_>, bit: u8) -> Option<PacketValue> {
    num(tcp(d)?.has(bit) as u8)
}

/// `src`, `dst`, of every event but the DNS request/response ones.
const ADDRESSES: [(&str, Kind, PacketField); 2] = [
    ("src", Kind::Address, |d, _| {
        Some(PacketValue::Address(d.network?.src()))
    }),
    ("dst", Kind::Address, |d, _| {
        Some(PacketValue::Address(d.network?.dst()))
    }),
];

/// `src_port`, `dst_port` of the TCP, UDP and DNS events.
const PORTS: [(&str, Kind, PacketField); 2] = [
    ("src_port", Kind::Number, |d, _| {
        num(d.transport?.ports()?.0)
    }),
    ("dst_port", Kind::Number, |d, _| {
        num(d.transport?.ports()?.1)
    }),
];

const PROTO_IPV4: &[(&str, Kind, PacketField)] = &[
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

const PROTO_IPV6: &[(&str, Kind, PacketField)] = &[
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

const PROTO_TCP: &[(&str, Kind, PacketField)] = &[
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

const PROTO_UDP: &[(&str, Kind, PacketField)] = &[
    ("srcPort", Kind::Number, |d, _| num(udp(d)?.src_port())),
    ("dstPort", Kind::Number, |d, _| num(udp(d)?.dst_port())),
    ("length", Kind::Number, |d, _| num(udp(d)?.length())),
    ("checksum", Kind::Number, |d, _| num(udp(d)?.checksum())),
];

const PROTO_ICMP: &[(&str, Kind, PacketField)] = &[
    ("typeCode", Kind::Text, |d, b| text(b, icmp(d)?.type_code())),
    ("checksum", Kind::Number, |d, _| num(icmp(d)?.checksum())),
    ("id", Kind::Number, |d, _| num(icmp(d)?.id())),
    ("seq", Kind::Number, |d, _| num(icmp(d)?.seq())),
];

const PROTO_ICMPV6: &[(&str, Kind, PacketField)] = &[
    ("typeCode", Kind::Text, |d, b| {
        text(b, icmpv6(d)?.type_code())
    }),
    ("checksum", Kind::Number, |d, _| num(icmpv6(d)?.checksum())),
];

/// The fields of a DNS message (`proto_dns.…` of net_packet_dns, and the request and
/// response events' questions and answers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DnsField {
    Id,
    Qr,
    OpCode,
    ResponseCode,
    QuestionName,
    QuestionType,
    AnswerName,
    AnswerType,
}

const PROTO_DNS: [(&str, DnsField, Kind); 8] = [
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
const DNS_REQUEST_ARGS: [(&str, DnsField, Kind); 2] = [
    ("dns_questions.query", DnsField::QuestionName, Kind::Text),
    (
        "dns_questions.query_type",
        DnsField::QuestionType,
        Kind::Text,
    ),
];
const DNS_RESPONSE_ARGS: [(&str, DnsField, Kind); 4] = [
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
        "dns_response.dns_answer.name",
        DnsField::AnswerName,
        Kind::Text,
    ),
];

/// An argument field of some event.
#[derive(Clone, Copy)]
enum ArgField {
    Packet(PacketField),
    Dns(DnsField),
}

impl fmt::Debug for ArgField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgField::Packet(_) => f.write_str("Packet"),
            ArgField::Dns(d) => write!(f, "Dns({d:?})"),
        }
    }
}

impl PartialEq for ArgField {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (ArgField::Packet(a), ArgField::Packet(b)) => core::ptr::fn_addr_eq(*a, *b),
            (ArgField::Dns(a), ArgField::Dns(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for ArgField {}

/// Resolves `path` (after `EVENT.args.`) for `event`, or lists the valid paths.
fn arg_field(event: EventKind, path: &str) -> Result<(ArgField, Kind), Vec<String>> {
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
    let mut fields = Vec::new();
    if !matches!(event, EventKind::DnsRequest | EventKind::DnsResponse) {
        fields.extend(packet(&ADDRESSES, ""));
    }
    if matches!(event, EventKind::Tcp | EventKind::Udp | EventKind::Dns) {
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
    }
    match fields.iter().find(|(name, ..)| name == path) {
        Some(&(_, field, kind)) => Ok((field, kind)),
        None => Err(fields.into_iter().map(|(name, ..)| name).collect()),
    }
}

/// Why a `--filter` was rejected; names the filter and the bad part, and what is valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    filter: String,
    problem: String,
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "--filter {}: {}", self.filter, self.problem)
    }
}

impl core::error::Error for FilterError {}

/// The compiled filters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// Events kept by `event=`/`event!=` filters; `None` when there are none.
    events: Option<EventSet>,
    /// Events named by argument filters (selected even without `event=`).
    arg_events: EventSet,
    scope: Vec<Test<Scope>>,
    args: Vec<(EventKind, Test<ArgField>)>,
}

impl Filter {
    /// Compiles `--filter` expressions; an empty list keeps everything.
    pub fn parse<S: AsRef<str>>(filters: &[S]) -> Result<Filter, FilterError> {
        let mut filter = Filter {
            events: None,
            arg_events: EventSet::NONE,
            scope: Vec::new(),
            args: Vec::new(),
        };
        for expr in filters {
            let expr = expr.as_ref();
            let error = |problem: String| FilterError {
                filter: expr.to_owned(),
                problem,
            };
            filter.add(expr).map_err(error)?;
        }
        Ok(filter)
    }

    fn add(&mut self, expr: &str) -> Result<(), String> {
        if expr == "container" {
            self.scope.push(Test {
                field: Scope::Container,
                op: Op::Ne,
                values: Values::Strings(vec![Pattern::Exact(String::new())]),
            });
            return Ok(());
        }
        let Some((left, op, right)) = Op::split(expr) else {
            return Err("expected FIELD OP VALUE with OP one of = != < > <= >=".to_owned());
        };
        if right.is_empty() {
            return Err(format!("no value after the operator in '{expr}'"));
        }
        if left == "event" {
            return self.add_events(op, right);
        }
        if let Some(&(_, scope, kind)) = SCOPES.iter().find(|(name, ..)| *name == left) {
            let values = parse_values(kind, op, right)?;
            self.scope.push(Test {
                field: scope,
                op,
                values,
            });
            return Ok(());
        }
        let Some((event, path)) = left
            .split_once(".args.")
            .or_else(|| left.split_once(".data."))
        else {
            let scopes: Vec<&str> = SCOPES.iter().map(|(name, ..)| *name).collect();
            return Err(format!(
                "unknown field '{left}'; expected event, EVENT.args.FIELD, or one of {}",
                scopes.join(", ")
            ));
        };
        let event = EventKind::from_name(event)
            .ok_or_else(|| crate::event::UnknownEvent(event).to_string())?;
        let (field, kind) = arg_field(event, path).map_err(|valid| {
            format!(
                "{} has no argument '{path}'; valid: {}",
                event.name(),
                valid.join(", ")
            )
        })?;
        let values = parse_values(kind, op, right)?;
        self.arg_events = self.arg_events.with(event);
        self.args.push((event, Test { field, op, values }));
        Ok(())
    }

    fn add_events(&mut self, op: Op, list: &str) -> Result<(), String> {
        let set = EventSet::parse(list).map_err(|e| e.to_string())?;
        let set = match op {
            Op::Eq => set,
            Op::Ne => EventSet::ALL.without(set),
            _ => return Err("events take = or != only".to_owned()),
        };
        self.events = Some(self.events.unwrap_or(EventSet::ALL).intersect(set));
        Ok(())
    }

    /// The events these filters can let through: the `event=` selection plus the events
    /// of argument filters, or all when neither is given.
    pub fn events(&self) -> EventSet {
        match self.events {
            None if self.arg_events == EventSet::NONE => EventSet::ALL,
            None => self.arg_events,
            Some(set) => set.union(self.arg_events),
        }
    }

    /// The part of these filters the capture programs can apply before the ring buffer,
    /// for the `selected` events: packet classes, ports, and the owner's pid, cgroup and
    /// comm. Never stricter than [`Filter::packet_events`].
    pub fn kernel_filter(&self, selected: EventSet) -> KernelFilter {
        let mut k = KernelFilter::KEEP_ALL;
        k.protocols = EventKind::ALL
            .into_iter()
            .filter(|&e| selected.contains(e))
            .map(|e| match e {
                EventKind::Ipv4 => l4::IPV4_OTHER | l4::IPV4_TCP | l4::IPV4_UDP | l4::IPV4_ICMP,
                EventKind::Ipv6 => l4::IPV6_OTHER | l4::IPV6_TCP | l4::IPV6_UDP | l4::IPV6_ICMPV6,
                // Over IPv6, extension headers may come first: keep those for user space.
                EventKind::Tcp => l4::IPV4_TCP | l4::IPV6_TCP | l4::IPV6_OTHER,
                EventKind::Udp => l4::IPV4_UDP | l4::IPV6_UDP | l4::IPV6_OTHER,
                EventKind::Icmp => l4::IPV4_ICMP,
                EventKind::Icmpv6 => l4::IPV6_ICMPV6 | l4::IPV6_OTHER,
                EventKind::Dns | EventKind::DnsRequest | EventKind::DnsResponse => {
                    l4::IPV4_TCP | l4::IPV4_UDP | l4::IPV6_TCP | l4::IPV6_UDP | l4::IPV6_OTHER
                }
            })
            .fold(0, |all, class| all | class);
        if let Some(ports) = self.port_list(selected) {
            k.port_count = ports.len() as u32;
            k.ports[..ports.len()].copy_from_slice(&ports);
        }
        let listed = |scope: Scope| {
            self.scope.iter().find_map(|t| match (&t.values, t.op) {
                (Values::Numbers(ns), Op::Eq)
                    if t.field == scope && ns.len() <= KERNEL_FILTER_SLOTS =>
                {
                    Some(ns.clone())
                }
                _ => None,
            })
        };
        if let Some(pids) =
            listed(Scope::Pid).filter(|p| p.iter().all(|&n| n <= u64::from(u32::MAX)))
        {
            k.pid_count = pids.len() as u32;
            for (slot, pid) in k.pids.iter_mut().zip(pids) {
                *slot = pid as u32;
            }
        }
        if let Some(cgroups) = listed(Scope::CgroupId) {
            k.cgroup_count = cgroups.len() as u32;
            k.cgroups[..cgroups.len()].copy_from_slice(&cgroups);
        }
        let comms = self.scope.iter().find_map(|t| match (&t.values, t.op) {
            (Values::Strings(ps), Op::Eq)
                if t.field == Scope::Comm && ps.len() <= KERNEL_FILTER_SLOTS =>
            {
                ps.iter()
                    .map(|p| match p {
                        Pattern::Exact(s) if s.len() < COMM_LEN => Some(s.as_bytes()),
                        _ => None,
                    })
                    .collect::<Option<Vec<_>>>()
            }
            _ => None,
        });
        if let Some(comms) = comms {
            k.comm_count = comms.len() as u32;
            for (slot, comm) in k.comms.iter_mut().zip(comms) {
                slot[..comm.len()].copy_from_slice(comm);
            }
        }
        k
    }

    /// Ports one of which every selected packet must carry as source or destination:
    /// when only TCP, UDP and DNS events are selected and each has an `=` port filter
    /// (DNS events are only decoded on port 53).
    fn port_list(&self, selected: EventSet) -> Option<Vec<u16>> {
        let port_events = EventSet::DNS.with(EventKind::Tcp).with(EventKind::Udp);
        if selected == EventSet::NONE || selected.without(port_events) != EventSet::NONE {
            return None;
        }
        let mut ports = Vec::new();
        for event in EventKind::ALL.into_iter().filter(|&e| selected.contains(e)) {
            let port_filter = self.args.iter().find_map(|(e, t)| match (&t.values, t.op) {
                (Values::Numbers(ns), Op::Eq)
                    if *e == event
                        && PORTS
                            .iter()
                            .any(|&(_, _, f)| ArgField::Packet(f) == t.field) =>
                {
                    Some(ns.clone())
                }
                _ => None,
            });
            match port_filter {
                Some(ns) => ports.extend(
                    ns.into_iter()
                        .map(|n| u16::try_from(n).ok())
                        .collect::<Option<Vec<_>>>()?,
                ),
                None if EventSet::DNS.contains(event) => ports.push(crate::dns::PORT),
                None => return None,
            }
        }
        ports.sort_unstable();
        ports.dedup();
        (ports.len() <= KERNEL_FILTER_SLOTS).then_some(ports)
    }

    /// Whether any argument filter reads a DNS message.
    pub fn inspects_dns(&self) -> bool {
        self.args
            .iter()
            .any(|(_, t)| matches!(t.field, ArgField::Dns(_)))
    }

    /// Of `wanted`, the network and transport events of this packet that pass (every
    /// DNS event in `wanted` is kept: see [`Filter::dns_events`]); NONE when a scope
    /// filter rejects the packet's task.
    pub fn packet_events(
        &self,
        ctx: &EventContext<'_>,
        decoded: &Decoded<'_>,
        wanted: EventSet,
    ) -> EventSet {
        if !self.scope.iter().all(|t| t.accepts(&t.field.value(ctx))) {
            return EventSet::NONE;
        }
        let mut buf = TextBuf {
            bytes: [0; 64],
            len: 0,
        };
        let mut set = wanted;
        for (event, test) in &self.args {
            let ArgField::Packet(read) = test.field else {
                continue;
            };
            if !set.contains(*event) {
                continue;
            }
            let pass = match read(decoded, &mut buf) {
                Some(PacketValue::Number(n)) => test.accepts(&Value::Number(n)),
                Some(PacketValue::Address(a)) => test.accepts(&Value::Address(a)),
                Some(PacketValue::Text) => test.accepts(&Value::Text(&buf.bytes[..buf.len])),
                None => false,
            };
            if !pass {
                set = set.without(EventSet::NONE.with(*event));
            }
        }
        set
    }

    /// Of `wanted`, the DNS events of `message` that pass the DNS argument filters.
    pub fn dns_events(&self, message: &DnsMessage<'_>, wanted: EventSet) -> EventSet {
        let mut set = wanted;
        for (event, test) in &self.args {
            let ArgField::Dns(field) = test.field else {
                continue;
            };
            if set.contains(*event) && !dns_passes(test, field, message) {
                set = set.without(EventSet::NONE.with(*event));
            }
        }
        set
    }
}

/// Evaluates one DNS test on a message.
fn dns_passes(test: &Test<ArgField>, field: DnsField, message: &DnsMessage<'_>) -> bool {
    let mut name_buf = [0u8; MAX_PRESENTATION_LEN];
    match field {
        DnsField::Id => test.accepts(&Value::Number(message.id().into())),
        DnsField::Qr => test.accepts(&Value::Number(message.qr().into())),
        DnsField::OpCode => test.accepts(&Value::Text(opcode_name(message.opcode()).as_bytes())),
        DnsField::ResponseCode => {
            test.accepts(&Value::Text(rcode_name(message.rcode()).as_bytes()))
        }
        DnsField::QuestionType | DnsField::AnswerType => {
            let types = message.entries().filter_map(|entry| match (field, entry) {
                (DnsField::QuestionType, Entry::Question(q)) => Some(q.qtype),
                (DnsField::AnswerType, Entry::Record(Section::Answer, r)) => Some(r.rtype),
                _ => None,
            });
            test.accepts_all_or_any(types.map(|t| Value::Text(type_name(t).as_bytes())))
        }
        DnsField::QuestionName | DnsField::AnswerName => {
            // Each name is rendered into the one buffer in turn, so test them one by one.
            let mut names = message.entries().filter_map(|entry| match (field, entry) {
                (DnsField::QuestionName, Entry::Question(q)) => Some(q.name),
                (DnsField::AnswerName, Entry::Record(Section::Answer, r)) => Some(r.name),
                _ => None,
            });
            let mut check = |name: crate::dns::name::Name<'_>| {
                let text = name.presentation(&mut name_buf).unwrap_or_default();
                test.accepts(&Value::Text(text.as_bytes()))
            };
            if test.op == Op::Ne {
                names.all(&mut check)
            } else {
                names.any(&mut check)
            }
        }
    }
}

/// Parses a comma list of values for a field of `kind`.
fn parse_values(kind: Kind, op: Op, list: &str) -> Result<Values, String> {
    let items = list.split(',').map(str::trim);
    if op.orders() && kind != Kind::Number {
        return Err(format!(
            "'{list}': < > <= >= compare numbers only; use = or !="
        ));
    }
    match kind {
        Kind::Number => items
            .map(|v| {
                v.parse::<u64>()
                    .map_err(|_| format!("'{v}' is not a number (this field is numeric)"))
            })
            .collect::<Result<_, _>>()
            .map(Values::Numbers),
        Kind::Text | Kind::Flag => Ok(Values::Strings(items.map(Pattern::parse).collect())),
        Kind::Address => items
            .map(|v| {
                Cidr::parse(v).ok_or_else(|| {
                    format!("'{v}' is not an IP address or CIDR prefix (e.g. 10.0.0.1, 10.0.0.0/8, fd00::/8)")
                })
            })
            .collect::<Result<_, _>>()
            .map(Values::Addresses),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LinkType;

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
            decoded.network.map(|n| n.event()),
            decoded.transport.map(|t| t.event()),
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
        let boxed = ctx(
            b"nginx",
            9,
            "4f6d2b0a41a1c1a7e2e8f9b3c5d7e9f1a3b5c7d9e1f3a5b7c9d1e3f5a7b9c1d3",
        );
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
            "--filter event=net_packet_tcpp: unknown event 'net_packet_tcpp'; valid events are: \
             net_packet_ipv4 net_packet_ipv6 net_packet_tcp net_packet_udp net_packet_icmp \
             net_packet_icmpv6 net_packet_dns net_packet_dns_request net_packet_dns_response"
        );
        let unknown_arg = error("net_packet_udp.args.dport=53");
        assert!(unknown_arg.starts_with("--filter net_packet_udp.args.dport=53: net_packet_udp has no argument 'dport'; valid: src, dst, src_port, dst_port, proto_udp.srcPort"), "{unknown_arg}");
        assert_eq!(
            error("net_packet_tcp.args.dst_port=http"),
            "--filter net_packet_tcp.args.dst_port=http: 'http' is not a number (this field is numeric)"
        );
        assert!(
            error("net_packet_tcp.args.src=10.0.0.300")
                .contains("'10.0.0.300' is not an IP address or CIDR prefix")
        );
        assert!(
            error("net_packet_tcp.args.src=10.0.0.0/33")
                .contains("not an IP address or CIDR prefix")
        );
        assert!(error("comm<curl").contains("< > <= >= compare numbers only"));
        assert!(error("event>net_packet_tcp").contains("events take = or != only"));
        assert!(error("pid").contains("expected FIELD OP VALUE"));
        assert!(error("pid=").contains("no value after the operator"));
        assert!(error("user=root").contains("unknown field 'user'; expected event, EVENT.args.FIELD, or one of comm, pid, tid, uid, cgroupId, container, mntns, pidns"));
        assert!(
            error("net_packet_tcpx.args.dst_port=1").contains("unknown event 'net_packet_tcpx'")
        );
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
    }
}
