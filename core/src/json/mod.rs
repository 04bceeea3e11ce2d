//! Tracee-exact JSON: one line per event, keys in Tracee's order, written straight into
//! a caller-owned buffer. Nothing here allocates once the buffer has grown to fit.
//!
//! Strings are escaped as Go's `encoding/json` escapes them (Tracee is written in Go):
//! `"` `\` and control bytes, plus `<` `>` `&` U+2028 U+2029 as `\uXXXX`; a byte that is
//! not part of valid UTF-8 becomes `\ufffd`. Any input bytes give valid JSON.

/// Writes `{"name":"NAME","type":"TYPE","value":` for an argument whose type is the same
/// in every schema: one constant.
macro_rules! arg_head {
    ($name:literal, $type:literal) => {
        concat!(
            "{\"name\":\"",
            $name,
            "\",\"type\":\"",
            $type,
            "\",\"value\":"
        )
        .as_bytes()
    };
}

mod dns;
mod finding;
mod flow;
mod http;
mod schema;

pub use schema::{SCHEMAS, Schema, TRACEE_0_22, TRACEE_0_24};

use alloc::vec::Vec;
use core::net::IpAddr;

use crate::event::{EventContext, EventKind, PacketEvents};
use crate::flow::FlowKind;
use crate::flow::community_id::community_id;
use crate::icmp::{IcmpView, TypeCodeName};
use crate::icmpv6::Icmpv6View;
use crate::ip;
use crate::ipv4::Ipv4View;
use crate::ipv6::Ipv6View;
use crate::packet::{Network, Transport};
use crate::tcp::{TcpView, flag};
use crate::udp::UdpView;

/// Room reserved before each event so that encoding does not reallocate mid-event.
const EVENT_RESERVE: usize = 2048;

/// Writes decided events as Tracee JSON lines in one [`Schema`]. Formats only: what to
/// write was decided before ([`PacketEvents`]). Keeps the rendered owner part of the
/// envelope of recent owners ([`EventContext::owner_key`]) to copy instead of re-render.
pub struct Encoder {
    schema: &'static Schema,
    prepared: Prepared,
    owners: OwnerCache,
    /// Room for a decoded HTTP path, reused.
    scratch: Vec<u8>,
    /// The seed of the Community ID written on transport events, if any.
    community_id: Option<u16>,
}

/// The parts of every event that depend on the schema only, rendered once per encoder so
/// that writing each is one copy.
struct Prepared {
    /// `,"eventId":"…","eventName":"…","argsNum":`, by [`EventKind::index`].
    event_heads: [Vec<u8>; EventKind::ALL.len()],
    /// The same for the flow events, by [`FlowKind::index`].
    flow_heads: [Vec<u8>; FlowKind::ALL.len()],
    /// From after the `argsNum` digit to `"containerStarted":`.
    flags_head: &'static [u8],
    /// From after `containerStarted`'s value to `"args":[`.
    args_head: &'static [u8],
    /// The heads of the `src`, `dst`, `src_port` and `dst_port` arguments.
    src: Vec<u8>,
    dst: Vec<u8>,
    src_port: Vec<u8>,
    dst_port: Vec<u8>,
    /// Whether the packet events carry the `metadata` (direction) argument.
    packet_metadata: bool,
    /// The type of text arguments (`const char*` or `string`).
    address_type: &'static str,
}

impl Prepared {
    fn new(schema: &Schema) -> Self {
        let concat = |parts: &[&str]| parts.concat().into_bytes();
        let arg = |name: &str, type_name: &str| {
            concat(&[
                "{\"name\":\"",
                name,
                "\",\"type\":\"",
                type_name,
                "\",\"value\":",
            ])
        };
        let (flags_head, args_head): (&[u8], &[u8]) = if schema.nested_envelope {
            (
                b"0,\"returnValue\":0,\"syscall\":\"\",\"stackAddresses\":[0],\"contextFlags\":{\"containerStarted\":",
                b",\"isCompat\":false},\"threadEntityId\":0,\"processEntityId\":0,\"parentEntityId\":0,\"args\":[",
            )
        } else {
            (
                b"0,\"returnValue\":0,\"stackAddresses\":[0],\"contextFlags\":{\"containerStarted\":",
                b",\"isCompat\":false},\"args\":[",
            )
        };
        Prepared {
            event_heads: EventKind::ALL.map(|kind| {
                concat(&[
                    ",\"eventId\":\"",
                    schema.id(kind),
                    "\",\"eventName\":\"",
                    kind.name(),
                    "\",\"argsNum\":",
                ])
            }),
            flow_heads: FlowKind::ALL.map(|kind| {
                concat(&[
                    ",\"eventId\":\"",
                    schema.flow_id(kind),
                    "\",\"eventName\":\"",
                    kind.name(),
                    "\",\"argsNum\":",
                ])
            }),
            flags_head,
            args_head,
            src: arg("src", schema.address_type),
            dst: arg("dst", schema.address_type),
            src_port: arg("src_port", schema.port_type),
            dst_port: arg("dst_port", schema.port_type),
            packet_metadata: schema.packet_metadata,
            address_type: schema.address_type,
        }
    }
}

impl Encoder {
    /// An encoder writing `schema`.
    pub fn new(schema: &'static Schema) -> Self {
        Encoder {
            schema,
            prepared: Prepared::new(schema),
            owners: OwnerCache::default(),
            scratch: Vec::new(),
            community_id: None,
        }
    }

    /// This encoder, adding a `community_id` argument (Community ID v1 with `seed`) to
    /// every TCP, UDP, ICMP and ICMPv6 event when `seed` is given.
    pub fn with_community_id(self, seed: Option<u16>) -> Self {
        Encoder {
            community_id: seed,
            ..self
        }
    }

    /// The schema written.
    pub fn schema(&self) -> &'static Schema {
        self.schema
    }

    /// Appends one JSON line per event of `events` to `out`; returns how many.
    pub fn encode(&mut self, events: &PacketEvents<'_, '_>, out: &mut Vec<u8>) -> usize {
        let mut head = None;
        let mut count = 0;
        for kind in events.kinds() {
            self.write_event(events, kind, &mut head, out);
            count += 1;
        }
        count
    }

    /// The `args` array (`[…]`) of event `kind` of `events` (decided or not), as
    /// [`Encoder::encode`] writes it: what a finding quotes of its triggering event.
    /// `line` is room to render the event in.
    pub fn args<'l>(
        &mut self,
        events: &PacketEvents<'_, '_>,
        kind: EventKind,
        line: &'l mut Vec<u8>,
    ) -> &'l [u8] {
        line.clear();
        let start = self.write_event(events, kind, &mut None, line);
        // The line ends in `]}` and a newline after the arguments.
        let end = line.len().saturating_sub(2);
        line.get(start - 1..end).unwrap_or(b"[]")
    }

    /// Appends event `kind` of `events` to `out` as one line, its envelope copied from
    /// `head` when another event of the frame wrote it (else written, and `head` set);
    /// returns where its arguments start in `out`.
    fn write_event(
        &mut self,
        events: &PacketEvents<'_, '_>,
        kind: EventKind,
        head: &mut Option<(usize, usize)>,
        out: &mut Vec<u8>,
    ) -> usize {
        let mut scratch = core::mem::take(&mut self.scratch);
        let (community_id, bytes_type) = (self.community_id, self.schema.bytes_type);
        let mut event = Event::begin(self, events.ctx, head, out, Head::Packet(kind));
        let args_start = event.out.len();
        let written = match kind {
            EventKind::Dns | EventKind::DnsRequest | EventKind::DnsResponse => {
                dns::args(&mut event, events, kind)
            }
            EventKind::Http | EventKind::HttpRequest | EventKind::HttpResponse => {
                http::args(&mut event, events, kind, &mut scratch)
            }
            EventKind::Raw => raw_args(&mut event, events, bytes_type),
            _ => packet_args(&mut event, events, kind),
        };
        if let (Some(seed), true) = (community_id, kind.is_transport()) {
            community_id_arg(&mut event, events, seed);
        }
        debug_assert!(written, "{kind:?} was decided but its layer is missing");
        // netcore's own key, after Tracee's: one packet in N had its events written.
        match events.sampled_one_in {
            0 | 1 => event.end(),
            n => event.end_with(|out| {
                out.extend_from_slice(b",\"sampled\":");
                push_u64(out, n.into());
            }),
        }
        self.scratch = scratch;
        args_start
    }
}

/// The `community_id` argument of a transport event: its flow's Community ID v1.
fn community_id_arg(event: &mut Event<'_>, events: &PacketEvents<'_, '_>, seed: u16) {
    let (Some(network), Some(transport)) = (events.packet.network, events.packet.transport) else {
        return;
    };
    let (protocol, (src_port, dst_port)) = match transport {
        Transport::Tcp(t) => (ip::TCP, (t.src_port(), t.dst_port())),
        Transport::Udp(u) => (ip::UDP, (u.src_port(), u.dst_port())),
        Transport::Icmp(i) => (ip::ICMP, (i.icmp_type().into(), i.code().into())),
        Transport::Icmpv6(i) => (ip::ICMPV6, (i.icmp_type().into(), i.code().into())),
    };
    let src = (network.src(), src_port);
    let dst = (network.dst(), dst_port);
    if let Some(id) = community_id(seed, protocol, src, dst) {
        let head = [
            "{\"name\":\"community_id\",\"type\":\"",
            event.prepared.address_type,
            "\",\"value\":",
        ];
        event.arg_parts(&head, |o| push_str(o, id.as_str().as_bytes()));
    }
}

/// `net_packet_raw`'s one argument: the IP packet as captured, base64 as Go's
/// `encoding/json` writes a byte slice.
fn raw_args(event: &mut Event<'_>, events: &PacketEvents<'_, '_>, bytes_type: &str) -> bool {
    let Some(network) = events.packet.network else {
        return false;
    };
    event.arg_named(&["data"], bytes_type, |o| {
        use base64::Engine as _;
        let bytes = network.bytes();
        let start = o.len();
        o.push(b'"');
        o.resize(start + 1 + bytes.len().div_ceil(3) * 4, 0);
        let written = base64::engine::general_purpose::STANDARD
            .encode_slice(bytes, &mut o[start + 1..])
            .unwrap_or(0);
        o.truncate(start + 1 + written);
        o.push(b'"');
    });
    true
}

/// The arguments of a network- or transport-layer event.
fn packet_args(event: &mut Event<'_>, events: &PacketEvents<'_, '_>, kind: EventKind) -> bool {
    let Some(network) = events.packet.network else {
        return false;
    };
    event.addresses(&network);
    if matches!(kind, EventKind::Ipv4 | EventKind::Ipv6) {
        event.packet_metadata(events);
        match network {
            Network::Ipv4(v4) => {
                event.arg(arg_head!("proto_ipv4", "trace.ProtoIPv4"), |o| ipv4(o, &v4))
            }
            Network::Ipv6(v6) => {
                event.arg(arg_head!("proto_ipv6", "trace.ProtoIPv6"), |o| ipv6(o, &v6))
            }
        }
        return true;
    }
    let Some(transport) = events.packet.transport else {
        return false;
    };
    if let Some((src, dst)) = transport.ports() {
        event.ports(src, dst);
    }
    event.packet_metadata(events);
    match transport {
        Transport::Tcp(t) => event.arg(arg_head!("proto_tcp", "trace.ProtoTCP"), |o| tcp(o, &t)),
        Transport::Udp(u) => event.arg(arg_head!("proto_udp", "trace.ProtoUDP"), |o| udp(o, &u)),
        Transport::Icmp(i) => {
            event.arg(arg_head!("proto_icmp", "trace.ProtoICMP"), |o| icmp(o, &i))
        }
        Transport::Icmpv6(i) => event.arg(arg_head!("proto_icmpv6", "trace.ProtoICMPv6"), |o| {
            icmpv6(o, &i)
        }),
    }
    true
}

/// Which event's head an [`Event`] begins with.
#[derive(Clone, Copy)]
enum Head<'h> {
    /// A packet event.
    Packet(EventKind),
    /// A flow event with this many arguments.
    Flow(FlowKind, u8),
    /// A finding: its event id, name and number of arguments.
    Finding(&'h str, &'h str, u8),
}

/// One event being written. The envelope up to the owner fields is the same for every
/// event of a packet: the first event writes it and records where, later ones copy it.
/// `argsNum` is patched in at the end from the arguments actually written.
struct Event<'o> {
    out: &'o mut Vec<u8>,
    prepared: &'o Prepared,
    args: u8,
    /// Where the one-digit `argsNum` placeholder is.
    args_num_at: usize,
}

impl<'o> Event<'o> {
    fn begin(
        encoder: &'o mut Encoder,
        ctx: &EventContext<'_>,
        head: &mut Option<(usize, usize)>,
        out: &'o mut Vec<u8>,
        kind: Head<'_>,
    ) -> Self {
        out.reserve(EVENT_RESERVE);
        match *head {
            Some((start, end)) => out.extend_from_within(start..end),
            None => {
                let start = out.len();
                out.extend_from_slice(b"{\"timestamp\":");
                push_u64(out, ctx.timestamp);
                encoder.owners.write(encoder.schema, ctx, out);
                *head = Some((start, out.len()));
            }
        }
        let prepared = &encoder.prepared;
        let args_num = match kind {
            Head::Packet(kind) => {
                out.extend_from_slice(&prepared.event_heads[kind.index()]);
                None
            }
            Head::Flow(kind, args) => {
                out.extend_from_slice(&prepared.flow_heads[kind.index()]);
                Some(args)
            }
            Head::Finding(id, name, args) => {
                out.extend_from_slice(b",\"eventId\":\"");
                out.extend_from_slice(id.as_bytes());
                out.extend_from_slice(b"\",\"eventName\":");
                push_str(out, name.as_bytes());
                out.extend_from_slice(b",\"argsNum\":");
                Some(args)
            }
        };
        // A packet event's count is patched in at the end (one digit); a flow event's,
        // which may need two, is known and written now.
        let args_num_at = match args_num {
            None => out.len(),
            Some(n) => {
                push_u64(out, u64::from(n));
                usize::MAX
            }
        };
        out.extend_from_slice(&prepared.flags_head[usize::from(args_num.is_some())..]);
        out.extend_from_slice(if ctx.container_started {
            b"true"
        } else {
            b"false"
        });
        out.extend_from_slice(prepared.args_head);
        Event {
            out,
            prepared,
            args: 0,
            args_num_at,
        }
    }

    /// Writes one argument whose head comes in `parts`.
    fn arg_parts(&mut self, parts: &[&str], value: impl FnOnce(&mut Vec<u8>)) {
        if self.args > 0 {
            self.out.push(b',');
        }
        self.args += 1;
        for part in parts {
            self.out.extend_from_slice(part.as_bytes());
        }
        value(self.out);
        self.out.push(b'}');
    }

    /// Writes one argument: `head` is its `{"name":…,"type":…,"value":`, the value is
    /// written by `value`.
    #[inline(always)]
    fn arg(&mut self, head: &[u8], value: impl FnOnce(&mut Vec<u8>)) {
        if self.args > 0 {
            self.out.push(b',');
        }
        self.args += 1;
        self.out.extend_from_slice(head);
        value(self.out);
        self.out.push(b'}');
    }

    /// [`Event::arg`] with a head of `name` (written from its parts, without allocating)
    /// and `type_name`.
    fn arg_named(&mut self, name: &[&str], type_name: &str, value: impl FnOnce(&mut Vec<u8>)) {
        if self.args > 0 {
            self.out.push(b',');
        }
        self.args += 1;
        let out = &mut *self.out;
        out.extend_from_slice(b"{\"name\":\"");
        for part in name {
            out.extend_from_slice(part.as_bytes());
        }
        out.extend_from_slice(b"\",\"type\":\"");
        out.extend_from_slice(type_name.as_bytes());
        out.extend_from_slice(b"\",\"value\":");
        value(out);
        out.push(b'}');
    }

    fn addresses(&mut self, network: &Network<'_>) {
        let p = self.prepared;
        self.arg(&p.src, |o| push_ip(o, network.src()));
        self.arg(&p.dst, |o| push_ip(o, network.dst()));
    }

    fn ports(&mut self, src: u16, dst: u16) {
        let p = self.prepared;
        self.arg(&p.src_port, |o| push_u64(o, src.into()));
        self.arg(&p.dst_port, |o| push_u64(o, dst.into()));
    }

    /// v0.24's `metadata` argument of the packet events: the direction.
    fn packet_metadata(&mut self, events: &PacketEvents<'_, '_>) {
        if self.prepared.packet_metadata {
            self.arg(arg_head!("metadata", "trace.PacketMetadata"), |o| {
                let mut m = Object::open(o);
                m.num("direction", events.direction as u64);
                m.close();
            });
        }
    }

    fn end(self) {
        self.end_with(|_| {});
    }

    /// Ends the event, `tail` writing what follows the arguments (a finding's
    /// `metadata`).
    fn end_with(self, tail: impl FnOnce(&mut Vec<u8>)) {
        if let Some(digit) = self.out.get_mut(self.args_num_at) {
            debug_assert!(self.args < 10, "argsNum has one digit");
            *digit = b'0' + self.args;
        }
        self.out.push(b']');
        tail(self.out);
        self.out.extend_from_slice(b"}\n");
    }
}

/// Slots of rendered owner fields, indexed by [`EventContext::owner_key`].
const OWNER_SLOTS: usize = 64;

/// The owner parts of the envelope (`threadStartTime`, and `processId` … `podUID`, or
/// v0.24's … `kubernetes`) of recent owners, rendered once and copied after. Direct-mapped
/// by owner key: 64 slots, each with buffers that are reused, so a steady state allocates
/// nothing.
struct OwnerCache {
    slots: [OwnerSlot; OWNER_SLOTS],
}

impl Default for OwnerCache {
    fn default() -> Self {
        OwnerCache {
            slots: core::array::from_fn(|_| OwnerSlot::default()),
        }
    }
}

/// One owner's rendered parts: what comes before `processorId`'s value, and after it.
#[derive(Default)]
struct OwnerSlot {
    key: u64,
    before_cpu: Vec<u8>,
    after_cpu: Vec<u8>,
}

impl OwnerCache {
    /// Appends the envelope of `ctx` after its `timestamp` to `out`: the owner's parts
    /// around `processorId`.
    fn write(&mut self, schema: &Schema, ctx: &EventContext<'_>, out: &mut Vec<u8>) {
        if ctx.owner_key == 0 {
            before_cpu(ctx, out);
            push_u64(out, ctx.processor_id.into());
            after_cpu(schema, ctx, out);
            return;
        }
        let slot = &mut self.slots[(ctx.owner_key % OWNER_SLOTS as u64) as usize];
        if slot.key != ctx.owner_key {
            slot.before_cpu.clear();
            before_cpu(ctx, &mut slot.before_cpu);
            slot.after_cpu.clear();
            after_cpu(schema, ctx, &mut slot.after_cpu);
            slot.key = ctx.owner_key;
        }
        out.extend_from_slice(&slot.before_cpu);
        push_u64(out, ctx.processor_id.into());
        out.extend_from_slice(&slot.after_cpu);
    }
}

/// `,"threadStartTime":…,"processorId":`.
fn before_cpu(ctx: &EventContext<'_>, out: &mut Vec<u8>) {
    out.extend_from_slice(b",\"threadStartTime\":");
    push_u64(out, ctx.thread_start_time);
    out.extend_from_slice(b",\"processorId\":");
}

/// `,` and the owner fields.
fn after_cpu(schema: &Schema, ctx: &EventContext<'_>, out: &mut Vec<u8>) {
    out.push(b',');
    owner_fields(schema, ctx, out);
}

/// `"processId":…` through `"podUID":"…"` (v0.24: through `"kubernetes":{…}`).
fn owner_fields(schema: &Schema, ctx: &EventContext<'_>, out: &mut Vec<u8>) {
    let mut o = Object { out, first: true };
    o.num("processId", ctx.process_id.into());
    o.num("cgroupId", ctx.cgroup_id);
    o.num("threadId", ctx.thread_id.into());
    o.num("parentProcessId", ctx.parent_process_id.into());
    o.num("hostProcessId", ctx.host_process_id.into());
    o.num("hostThreadId", ctx.host_thread_id.into());
    o.num("hostParentProcessId", ctx.host_parent_process_id.into());
    o.num("userId", ctx.user_id.into());
    o.num("mountNamespace", ctx.mount_namespace.into());
    o.num("pidNamespace", ctx.pid_namespace.into());
    o.str("processName", ctx.process_name);
    if !schema.nested_envelope {
        o.str("hostName", ctx.host_name.as_bytes());
        o.str("containerId", ctx.container_id.as_bytes());
        o.str("containerImage", ctx.container_image.as_bytes());
        o.str("containerName", ctx.container_name.as_bytes());
        o.str("podName", ctx.pod_name.as_bytes());
        o.str("podNamespace", ctx.pod_namespace.as_bytes());
        o.str("podUID", ctx.pod_uid.as_bytes());
        return;
    }
    // v0.24's trace.Event: Go's `omitempty` drops empty strings inside the objects.
    o.key("executable");
    let mut executable = Object::open(o.out);
    executable.str("path", ctx.executable);
    executable.close();
    o.str("hostName", ctx.host_name.as_bytes());
    o.str("containerId", ctx.container_id.as_bytes());
    let container = [
        ("id", ctx.container_id),
        ("name", ctx.container_name),
        ("image", ctx.container_image),
        ("imageDigest", ctx.container_image_digest),
    ];
    omit_empty_object(&mut o, "container", &container);
    let kubernetes = [
        ("podName", ctx.pod_name),
        ("podNamespace", ctx.pod_namespace),
        ("podUID", ctx.pod_uid),
    ];
    omit_empty_object(&mut o, "kubernetes", &kubernetes);
}

/// `"key":{…}` with the non-empty `fields` only, as Go's `omitempty` writes a struct of
/// strings.
fn omit_empty_object(o: &mut Object<'_>, key: &str, fields: &[(&str, &str)]) {
    o.key(key);
    let mut object = Object::open(o.out);
    for &(name, value) in fields {
        if !value.is_empty() {
            object.str(name, value.as_bytes());
        }
    }
    object.close();
}

fn ipv4(out: &mut Vec<u8>, v: &Ipv4View<'_>) {
    let mut o = Object::open(out);
    o.num("version", 4);
    o.num("IHL", v.ihl().into());
    o.num("TOS", v.tos().into());
    o.num("length", v.total_len().into());
    o.num("id", v.id().into());
    o.num("flags", v.flags().into());
    o.num("fragOffset", v.frag_offset().into());
    o.num("TTL", v.ttl().into());
    o.str("protocol", ip::protocol_name(v.protocol()).as_bytes());
    o.num("checksum", v.checksum().into());
    o.key("srcIP");
    push_ipv4(o.out, v.src());
    o.key("dstIP");
    push_ipv4(o.out, v.dst());
    o.close();
}

fn ipv6(out: &mut Vec<u8>, v: &Ipv6View<'_>) {
    let mut o = Object::open(out);
    o.num("version", 6);
    o.num("trafficClass", v.traffic_class().into());
    o.num("flowLabel", v.flow_label().into());
    o.num("length", v.payload_len().into());
    o.str("nextHeader", ip::protocol_name(v.next_header()).as_bytes());
    o.num("hopLimit", v.hop_limit().into());
    o.key("srcIP");
    push_ipv6(o.out, v.src());
    o.key("dstIP");
    push_ipv6(o.out, v.dst());
    o.close();
}

fn tcp(out: &mut Vec<u8>, t: &TcpView<'_>) {
    let mut o = Object::open(out);
    o.num("srcPort", t.src_port().into());
    o.num("dstPort", t.dst_port().into());
    o.num("seq", t.seq().into());
    o.num("ack", t.ack().into());
    o.num("dataOffset", t.data_offset().into());
    for (bit, name, _) in flag::ALL {
        // Every flag key is three letters: one fixed-size write for `,"KEY":0`.
        let &[a, b, c] = name.as_bytes() else {
            debug_assert!(false, "flag keys are three bytes");
            continue;
        };
        let value = b'0' + u8::from(t.has(bit));
        o.out
            .extend_from_slice(&[b',', b'"', a, b, c, b'"', b':', value]);
    }
    o.num("NS", t.ns().into());
    o.num("window", t.window().into());
    o.num("checksum", t.checksum().into());
    o.num("urgent", t.urgent().into());
    o.close();
}

fn udp(out: &mut Vec<u8>, u: &UdpView<'_>) {
    let mut o = Object::open(out);
    o.num("srcPort", u.src_port().into());
    o.num("dstPort", u.dst_port().into());
    o.num("length", u.length().into());
    o.num("checksum", u.checksum().into());
    o.close();
}

fn icmp(out: &mut Vec<u8>, i: &IcmpView<'_>) {
    let mut o = Object::open(out);
    o.key("typeCode");
    push_type_code(o.out, i.type_code());
    o.num("checksum", i.checksum().into());
    o.num("id", i.id().into());
    o.num("seq", i.seq().into());
    o.close();
}

fn icmpv6(out: &mut Vec<u8>, i: &Icmpv6View<'_>) {
    let mut o = Object::open(out);
    o.key("typeCode");
    push_type_code(o.out, i.type_code());
    o.num("checksum", i.checksum().into());
    o.close();
}

/// A JSON object being written key by key.
struct Object<'o> {
    out: &'o mut Vec<u8>,
    first: bool,
}

// The writers below are inlined so that each key's length is a constant at its call
// site: the copies become a few moves instead of calls to memmove.
impl<'o> Object<'o> {
    #[inline(always)]
    fn open(out: &'o mut Vec<u8>) -> Self {
        out.push(b'{');
        Object { out, first: true }
    }
    #[inline(always)]
    fn key(&mut self, key: &str) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
    }
    #[inline(always)]
    fn num(&mut self, key: &str, value: u64) {
        self.key(key);
        push_u64(self.out, value);
    }
    fn num_signed(&mut self, key: &str, value: i64) {
        self.key(key);
        if value < 0 {
            self.out.push(b'-');
        }
        push_u64(self.out, value.unsigned_abs());
    }
    #[inline(always)]
    fn str(&mut self, key: &str, value: &[u8]) {
        self.key(key);
        push_str(self.out, value);
    }
    #[inline(always)]
    fn close(self) {
        self.out.push(b'}');
    }
    /// The buffer, with the object left open for more keys.
    fn into_inner(self) -> &'o mut Vec<u8> {
        self.out
    }
}

/// Writes a decimal number.
#[inline]
pub fn push_u64(out: &mut Vec<u8>, value: u64) {
    // Flags and small counts are most numbers of an event.
    if value < 10 {
        out.push(b'0' + value as u8);
        return;
    }
    // Byte by byte: a copy this short costs less than a call to memmove.
    out.extend(itoa::Buffer::new().format(value).bytes());
}

/// Writes `bytes` as a quoted JSON string, escaped as described in the module docs.
pub fn push_str(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    if all_plain(bytes) {
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    for chunk in bytes.utf8_chunks() {
        push_escaped_utf8(out, chunk.valid());
        for _ in chunk.invalid() {
            out.extend_from_slice(b"\\ufffd");
        }
    }
    out.push(b'"');
}

/// Printable ASCII that JSON (the Go way) writes as it is.
#[inline(always)]
fn is_plain(b: u8) -> bool {
    (0x20..0x7f).contains(&b) && !matches!(b, b'"' | b'\\' | b'<' | b'>' | b'&')
}

/// Whether every byte [`is_plain`], eight at a time: the strings of an envelope are
/// mostly plain, and this check is most of their cost.
#[inline]
fn all_plain(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // Each is non-zero where a byte is below 0x20, above 0x7e, or one to escape.
    let below = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x & HIGHS;
    let above = |x: u64, n: u8| (x.wrapping_add(ONES * u64::from(127 - n)) | x) & HIGHS;
    let equal = |x: u64, b: u8| below(x ^ (ONES * u64::from(b)), 1);
    let (words, rest) = bytes.as_chunks::<8>();
    for &word in words {
        let x = u64::from_ne_bytes(word);
        let special = below(x, 0x20)
            | above(x, 0x7e)
            | equal(x, b'"')
            | equal(x, b'\\')
            | equal(x, b'<')
            | equal(x, b'>')
            | equal(x, b'&');
        if special != 0 {
            return false;
        }
    }
    rest.iter().all(|&b| is_plain(b))
}

fn push_escaped_utf8(out: &mut Vec<u8>, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = text.as_bytes();
    let mut clean_from = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..0x20 | b'<' | b'>' | b'&' => &[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 15)],
            ],
            // U+2028 and U+2029 (E2 80 A8/A9): the last byte decides.
            0xa8 | 0xa9 if i >= 2 && bytes[i - 2] == 0xe2 && bytes[i - 1] == 0x80 => {
                out.extend_from_slice(&bytes[clean_from..i - 2]);
                out.extend_from_slice(if b == 0xa8 { b"\\u2028" } else { b"\\u2029" });
                clean_from = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[clean_from..i]);
        out.extend_from_slice(escape);
        clean_from = i + 1;
    }
    out.extend_from_slice(&bytes[clean_from..]);
}

/// Writes an IPv4 address as a quoted dotted quad.
pub fn push_ipv4(out: &mut Vec<u8>, addr: [u8; 4]) {
    out.push(b'"');
    push_dotted(out, addr);
    out.push(b'"');
}

fn push_dotted(out: &mut Vec<u8>, addr: [u8; 4]) {
    for (i, octet) in addr.into_iter().enumerate() {
        if i > 0 {
            out.push(b'.');
        }
        push_u64(out, octet.into());
    }
}

/// Writes an IPv4 or IPv6 address, quoted.
pub fn push_ip(out: &mut Vec<u8>, addr: IpAddr) {
    match addr {
        IpAddr::V4(a) => push_ipv4(out, a.octets()),
        IpAddr::V6(a) => push_ipv6(out, a.octets()),
    }
}

/// Writes an IPv6 address, quoted, as Go's `net.IP.String()` does: RFC 5952 form, and an
/// IPv4-mapped address (`::ffff:a.b.c.d`) as a plain dotted quad.
pub fn push_ipv6(out: &mut Vec<u8>, addr: [u8; 16]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    if addr[..10] == [0; 10] && addr[10..12] == [0xff, 0xff] {
        push_dotted(out, [addr[12], addr[13], addr[14], addr[15]]);
        out.push(b'"');
        return;
    }
    let groups: [u16; 8] =
        core::array::from_fn(|i| u16::from_be_bytes([addr[2 * i], addr[2 * i + 1]]));
    // The longest run of two or more zero groups (the first of equals) becomes "::".
    let (mut best_start, mut best_len, mut run_start, mut run_len) = (0, 0, 0, 0);
    for (i, &g) in groups.iter().enumerate() {
        if g == 0 {
            if run_len == 0 {
                run_start = i;
            }
            run_len += 1;
            if run_len > best_len {
                (best_start, best_len) = (run_start, run_len);
            }
        } else {
            run_len = 0;
        }
    }
    if best_len < 2 {
        best_len = 0;
    }
    let mut i = 0;
    while i < 8 {
        if best_len > 0 && i == best_start {
            out.extend_from_slice(b"::");
            i += best_len;
            continue;
        }
        if i > 0 && !(best_len > 0 && i == best_start + best_len) {
            out.push(b':');
        }
        let g = groups[i];
        let digits = if g >= 0x1000 {
            4
        } else if g >= 0x100 {
            3
        } else if g >= 0x10 {
            2
        } else {
            1
        };
        for d in (0..digits).rev() {
            out.push(HEX[usize::from((g >> (4 * d)) & 15)]);
        }
        i += 1;
    }
    out.push(b'"');
}

fn push_type_code(out: &mut Vec<u8>, name: TypeCodeName) {
    out.push(b'"');
    match name {
        TypeCodeName::Type(t) => out.extend_from_slice(t.as_bytes()),
        TypeCodeName::TypeCode(t, c) => {
            out.extend_from_slice(t.as_bytes());
            out.push(b'(');
            out.extend_from_slice(c.as_bytes());
            out.push(b')');
        }
        TypeCodeName::TypeUnknownCode(t, c) => {
            out.extend_from_slice(t.as_bytes());
            out.extend_from_slice(b"(Code: ");
            push_u64(out, c.into());
            out.push(b')');
        }
        TypeCodeName::Unknown(t, c) => {
            push_u64(out, t.into());
            out.push(b'(');
            push_u64(out, c.into());
            out.push(b')');
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;

    fn ipv6_string(s: &str) -> String {
        let addr: core::net::Ipv6Addr = s.parse().unwrap();
        let mut out = Vec::new();
        push_ipv6(&mut out, addr.octets());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn ipv6_text_matches_rfc_5952_and_go() {
        for (input, want) in [
            ("fd6e:a63d:71f:2000::1", "fd6e:a63d:71f:2000::1"),
            ("::", "::"),
            ("::1", "::1"),
            ("1::", "1::"),
            ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
            ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
            ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),
            ("2620:1ec:21::16", "2620:1ec:21::16"),
            ("::ffff:10.1.2.3", "10.1.2.3"),
            ("fe80::abcd:ef01", "fe80::abcd:ef01"),
        ] {
            assert_eq!(ipv6_string(input), alloc::format!("\"{want}\""), "{input}");
        }
    }

    #[test]
    fn ipv6_text_agrees_with_std_outside_mapped_addresses() {
        let mut x: u128 = 0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c834;
        for _ in 0..2000 {
            x = x.wrapping_mul(0x2545_f491_4f6c_dd1d).wrapping_add(1);
            // Zero random groups so that runs of zeros of every length appear.
            let mask = (0..8).fold(0u128, |m, g| {
                if (x >> (g + 100)) & 1 == 1 {
                    m | (0xffff << (16 * g))
                } else {
                    m
                }
            });
            let addr = core::net::Ipv6Addr::from(x & !mask);
            if addr.to_ipv4_mapped().is_some() {
                continue;
            }
            assert_eq!(
                ipv6_string(&alloc::format!("{addr}")),
                alloc::format!("\"{addr}\"")
            );
        }
    }

    #[test]
    fn dns_packet_metadata_names_the_interface() {
        // A DNS query for `a` over IPv4/UDP, port 4096 → 53.
        let mut packet = alloc::vec![
            0x45, 0, 0, 47, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 0x10, 0, 0, 53, 0,
            27, 0, 0,
        ];
        packet.extend_from_slice(&[
            0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, b'a', 0, 0, 1, 0, 1,
        ]);
        let decoded = crate::decode(crate::LinkType::Ipv4, &packet);
        let ctx = EventContext::default();
        let request = crate::EventSet::NONE.with(EventKind::DnsRequest);
        for (interface, want) in [("eth0", "\"iface\":\"eth0\""), ("any", "\"iface\":\"any\"")] {
            let mut out = Vec::new();
            PacketEvents::decide(
                &ctx,
                &decoded,
                crate::Direction::Egress,
                request,
                |events| {
                    let events = PacketEvents {
                        interface,
                        ..*events
                    };
                    Encoder::new(&TRACEE_0_22).encode(&events, &mut out)
                },
            );
            let text = String::from_utf8(out).unwrap();
            assert!(text.contains(want), "{text}");
        }
    }

    #[test]
    fn the_word_at_a_time_check_agrees_with_the_byte_one() {
        for b in 0..=255u8 {
            for at in 0..9 {
                let mut bytes = *b"plain-text-abc12";
                bytes[at] = b;
                assert_eq!(all_plain(&bytes), is_plain(b), "byte {b:#x} at {at}");
            }
        }
    }

    #[test]
    fn strings_are_escaped_like_go() {
        let mut out = Vec::new();
        push_str(&mut out, b"a\"b\\c\n\x01<&>\xe2\x80\xa8 \xff\xc3\xa9");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"a\\\"b\\\\c\\n\\u0001\\u003c\\u0026\\u003e\\u2028 \\ufffdé\""
        );
    }
}
