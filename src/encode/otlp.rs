//! OTLP log records (`--output otlp…`): each event one protobuf `LogRecord` of
//! OpenTelemetry's logs data model, its body the event's Tracee JSON line, its attributes
//! the event's owner and endpoints under OpenTelemetry's semantic-convention names
//! ([`owner_attributes`] and [`Attributes::endpoints`]; docs/outputs.md has the table).
//!
//! A batch of this format holds length-delimited `LogRecord`s, each framed as field 2
//! (`log_records`) of a `ScopeLogs` message, back to back: the OTLP output wraps a batch
//! in its scope, resource and request envelopes ([`crate::sink`]) without reading it.
//! Records are written here, allocation-free, with prost's wire primitives and the
//! field numbers of `opentelemetry/proto/logs/v1/logs.proto` (`opentelemetry-proto`'s
//! types decode them in the tests); the envelopes, built once a batch, use the types.

use std::borrow::Cow;
use std::net::IpAddr;

use netcore_core::finding::{FindingEvent, FindingValue};
use netcore_core::flow::community_id::community_id;
use netcore_core::flow::{Flow, FlowKind};
use netcore_core::json;
use netcore_core::packet::{Network, Transport};
use netcore_core::{Direction, EventContext, PacketEvents, ip};
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::encoding::{encode_varint, encoded_len_varint};

use super::Encoder;

/// `LogRecord` fields.
mod field {
    pub const TIME_UNIX_NANO: u32 = 1;
    pub const SEVERITY_NUMBER: u32 = 2;
    pub const SEVERITY_TEXT: u32 = 3;
    pub const BODY: u32 = 5;
    pub const ATTRIBUTES: u32 = 6;
    pub const EVENT_NAME: u32 = 12;
    /// `ScopeLogs.log_records`: how each record is framed in a batch.
    pub const SCOPE_LOG_RECORDS: u32 = 2;
    /// `KeyValue.key`, `KeyValue.value`.
    pub const KEY: u32 = 1;
    pub const VALUE: u32 = 2;
    /// `AnyValue`'s `string_value`, `int_value`, `array_value`; `ArrayValue.values`.
    pub const STRING_VALUE: u32 = 1;
    pub const INT_VALUE: u32 = 3;
    pub const ARRAY_VALUE: u32 = 5;
    pub const ARRAY_VALUES: u32 = 1;
}

/// Protobuf wire types.
const VARINT: u32 = 0;
const FIXED64: u32 = 1;
const LEN: u32 = 2;

/// A record's severity: `INFO` for events, from the signature's `Severity` for findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Severity(u8);

impl Severity {
    const INFO: Severity = Severity(9);

    /// Tracee's finding severity 0, 1, 2, 3 and above: `INFO`, `WARN`, `ERROR`, `FATAL`.
    fn of_finding(severity: i64) -> Severity {
        Severity(9 + 4 * severity.clamp(0, 3) as u8)
    }

    fn text(self) -> &'static str {
        match self.0 {
            13 => "WARN",
            17 => "ERROR",
            21 => "FATAL",
            _ => "INFO",
        }
    }
}

/// An attribute's value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value<'a> {
    /// A string; the attribute is left out when it is empty.
    Text(Cow<'a, str>),
    /// An integer.
    Int(i64),
    /// A list of one string (left out when empty): an image's tag.
    Tag(&'a str),
}

impl Value<'_> {
    fn is_empty(&self) -> bool {
        match self {
            Value::Text(t) => t.is_empty(),
            Value::Tag(t) => t.is_empty(),
            Value::Int(_) => false,
        }
    }
}

/// Raw bytes as a string value: as they are when UTF-8, else with U+FFFD in place of what
/// is not (protobuf strings must be UTF-8).
fn text(bytes: &[u8]) -> Value<'_> {
    Value::Text(String::from_utf8_lossy(bytes))
}

fn borrowed(text: &str) -> Value<'_> {
    Value::Text(Cow::Borrowed(text))
}

/// The owner attributes of `ctx` in the order written: OpenTelemetry's name and the value
/// (Tracee's JSON key in the comments). The one table of the owner's mapping; with
/// [`Attributes::endpoints`] and [`Attributes::event`], the whole mapping, which
/// docs/outputs.md shows. Written only when the owner is known (a host pid).
fn owner_attributes<'a>(ctx: &EventContext<'a>) -> [(&'static str, Value<'a>); 16] {
    let (image, tag) = split_image(ctx.container_image);
    [
        // hostProcessId, hostParentProcessId, hostThreadId
        ("process.pid", Value::Int(ctx.host_process_id.into())),
        (
            "process.parent_pid",
            Value::Int(ctx.host_parent_process_id.into()),
        ),
        ("thread.id", Value::Int(ctx.host_thread_id.into())),
        // processName
        ("process.executable.name", text(ctx.process_name)),
        // The executable's path and arguments, when known (not in Tracee's JSON).
        ("process.executable.path", text(ctx.executable)),
        ("process.command_line", text(ctx.arguments)),
        // userId
        ("user.id", Value::Int(ctx.user_id.into())),
        // processId: the pid in the process's own pid namespace
        (
            "netcore.process.namespace_pid",
            Value::Int(ctx.process_id.into()),
        ),
        // cgroupId
        ("netcore.cgroup.id", Value::Int(ctx.cgroup_id as i64)),
        // container.id, container.name; container.image split at its tag
        ("container.id", borrowed(ctx.container_id)),
        ("container.name", borrowed(ctx.container_name)),
        ("container.image.name", borrowed(image)),
        ("container.image.tags", Value::Tag(tag)),
        // kubernetes.podName, podUID, podNamespace
        ("k8s.pod.name", borrowed(ctx.pod_name)),
        ("k8s.pod.uid", borrowed(ctx.pod_uid)),
        ("k8s.namespace.name", borrowed(ctx.pod_namespace)),
    ]
}

/// An image reference's name and tag: `registry:5000/app:1.2` → (`registry:5000/app`,
/// `1.2`); a digest reference (`app@sha256:…`) has no tag.
fn split_image(image: &str) -> (&str, &str) {
    let name = image.split('@').next().unwrap_or(image);
    match name.rsplit_once(':') {
        Some((base, tag)) if !tag.contains('/') => (base, tag),
        _ => (name, ""),
    }
}

/// The attributes of one or more records being written: framed `KeyValue`s (field 6 of
/// `LogRecord`), in a buffer reused from record to record.
#[derive(Default)]
struct Attributes {
    attributes: Vec<u8>,
    /// Room to write an address in.
    address: Vec<u8>,
}

impl Attributes {
    /// Appends attribute `key` = `value`, unless the value is empty.
    fn push(&mut self, key: &str, value: &Value<'_>) {
        push_attribute(&mut self.attributes, key, value);
    }

    /// Forgets the attributes written.
    fn clear(&mut self) {
        self.attributes.clear();
    }

    /// The owner's attributes, when it is known.
    fn owner(&mut self, ctx: &EventContext<'_>) {
        if ctx.host_process_id == 0 {
            return;
        }
        for (key, value) in &owner_attributes(ctx) {
            self.push(key, value);
        }
    }

    /// The endpoints: `source.address`, `source.port`, `destination.address`,
    /// `destination.port` (no ports for ICMP), `network.transport` (`tcp`, `udp`,
    /// `icmp`; none for other protocols), `network.type` (`ipv4`, `ipv6`). Addresses are
    /// written as the JSON writes them (Go's forms).
    fn endpoints(&mut self, protocol: u8, src: (IpAddr, u16), dst: (IpAddr, u16)) {
        let ports = matches!(protocol, ip::TCP | ip::UDP);
        for ((address, port), (address_key, port_key)) in [
            (src, ("source.address", "source.port")),
            (dst, ("destination.address", "destination.port")),
        ] {
            self.address.clear();
            json::push_ip(&mut self.address, address);
            // Without its quotes; the JSON writer's digits and colons are UTF-8.
            let text = self
                .address
                .get(1..self.address.len() - 1)
                .unwrap_or_default();
            let text = std::str::from_utf8(text).unwrap_or_default();
            push_attribute(&mut self.attributes, address_key, &borrowed(text));
            if ports {
                push_attribute(&mut self.attributes, port_key, &Value::Int(port.into()));
            }
        }
        let transport = match protocol {
            ip::TCP => "tcp",
            ip::UDP => "udp",
            ip::ICMP | ip::ICMPV6 => "icmp",
            _ => "",
        };
        self.push("network.transport", &borrowed(transport));
        let network = if src.0.is_ipv4() { "ipv4" } else { "ipv6" };
        self.push("network.type", &borrowed(network));
    }
}

/// The sizes of attribute `key` = `value`: its `KeyValue` and the `AnyValue` in it.
fn attribute_sizes(key: &str, value: &Value<'_>) -> (usize, usize) {
    let any_value = match value {
        Value::Text(t) => len_field_size(field::STRING_VALUE, t.len()),
        Value::Int(n) => 1 + encoded_len_varint(*n as u64),
        Value::Tag(t) => {
            let one = len_field_size(field::STRING_VALUE, t.len());
            len_field_size(field::ARRAY_VALUE, len_field_size(field::ARRAY_VALUES, one))
        }
    };
    let key_value = len_field_size(field::KEY, key.len()) + len_field_size(field::VALUE, any_value);
    (key_value, any_value)
}

/// Appends attribute `key` = `value` (a `KeyValue` as `LogRecord.attributes`), unless the
/// value is empty.
fn push_attribute(out: &mut Vec<u8>, key: &str, value: &Value<'_>) {
    if value.is_empty() {
        return;
    }
    let (key_value, any_value) = attribute_sizes(key, value);
    len_header(out, field::ATTRIBUTES, key_value);
    len_header(out, field::KEY, key.len());
    out.extend_from_slice(key.as_bytes());
    len_header(out, field::VALUE, any_value);
    match value {
        Value::Text(t) => {
            len_header(out, field::STRING_VALUE, t.len());
            out.extend_from_slice(t.as_bytes());
        }
        Value::Int(n) => {
            tag(out, field::INT_VALUE, VARINT);
            encode_varint(*n as u64, out);
        }
        Value::Tag(t) => {
            let one = len_field_size(field::STRING_VALUE, t.len());
            len_header(
                out,
                field::ARRAY_VALUE,
                len_field_size(field::ARRAY_VALUES, one),
            );
            len_header(out, field::ARRAY_VALUES, one);
            len_header(out, field::STRING_VALUE, t.len());
            out.extend_from_slice(t.as_bytes());
        }
    }
}

/// Size of a length-delimited field of `len` bytes with its header.
fn len_field_size(number: u32, len: usize) -> usize {
    encoded_len_varint(u64::from(number << 3)) + encoded_len_varint(len as u64) + len
}

fn tag(out: &mut Vec<u8>, number: u32, wire: u32) {
    encode_varint(u64::from(number << 3 | wire), out);
}

/// The header of a length-delimited field of `len` bytes.
fn len_header(out: &mut Vec<u8>, number: u32, len: usize) {
    tag(out, number, LEN);
    encode_varint(len as u64, out);
}

/// Appends one record framed as `ScopeLogs.log_records`: `time`, `severity`, `name` (the
/// `event_name` field and the `event.name` attribute), `body` (the event's JSON, without
/// its newline) and the attributes in `attributes`.
fn write_record(
    out: &mut Vec<u8>,
    time_ns: u64,
    severity: Severity,
    name: &str,
    body: &[u8],
    attributes: &[u8],
) {
    let name_value = borrowed(name);
    let name_attribute = len_field_size(
        field::ATTRIBUTES,
        attribute_sizes("event.name", &name_value).0,
    );
    let body_value = len_field_size(field::STRING_VALUE, body.len());
    let record = 1 + 8 // time_unix_nano
        + 1 + encoded_len_varint(severity.0.into())
        + len_field_size(field::SEVERITY_TEXT, severity.text().len())
        + len_field_size(field::BODY, body_value)
        + name_attribute
        + attributes.len()
        + len_field_size(field::EVENT_NAME, name.len());
    len_header(out, field::SCOPE_LOG_RECORDS, record);
    let start = out.len();
    tag(out, field::TIME_UNIX_NANO, FIXED64);
    out.extend_from_slice(&time_ns.to_le_bytes());
    tag(out, field::SEVERITY_NUMBER, VARINT);
    encode_varint(severity.0.into(), out);
    len_header(out, field::SEVERITY_TEXT, severity.text().len());
    out.extend_from_slice(severity.text().as_bytes());
    len_header(out, field::BODY, body_value);
    len_header(out, field::STRING_VALUE, body.len());
    out.extend_from_slice(body);
    push_attribute(out, "event.name", &name_value);
    out.extend_from_slice(attributes);
    len_header(out, field::EVENT_NAME, name.len());
    out.extend_from_slice(name.as_bytes());
    debug_assert_eq!(
        out.len() - start,
        record,
        "a record's length differs from its size"
    );
}

/// The OTLP record encoder: the JSON encoder for the bodies, and room for the lines and
/// the attributes of the record being written.
pub struct OtlpEncoder {
    json: json::Encoder,
    lines: Vec<u8>,
    attributes: Attributes,
    community_id: Option<u16>,
}

impl OtlpEncoder {
    /// Records whose bodies `json` writes; with `netcore.community_id` when `community_id`
    /// (the seed) is given.
    pub fn new(json: json::Encoder, community_id: Option<u16>) -> Self {
        OtlpEncoder {
            json,
            lines: Vec::new(),
            attributes: Attributes::default(),
            community_id,
        }
    }
}

impl Encoder for OtlpEncoder {
    fn encode(&mut self, events: &PacketEvents<'_, '_>, out: &mut Vec<u8>) -> usize {
        self.lines.clear();
        let count = self.json.encode(events, &mut self.lines);
        let attributes = &mut self.attributes;
        attributes.clear();
        attributes.owner(events.ctx);
        let packet = events.packet;
        if let Some(network) = packet.network {
            let (protocol, ports) = match packet.transport {
                Some(Transport::Tcp(t)) => (ip::TCP, (t.src_port(), t.dst_port())),
                Some(Transport::Udp(u)) => (ip::UDP, (u.src_port(), u.dst_port())),
                Some(Transport::Icmp(i)) => (ip::ICMP, (i.icmp_type().into(), i.code().into())),
                Some(Transport::Icmpv6(i)) => (ip::ICMPV6, (i.icmp_type().into(), i.code().into())),
                None => (
                    match network {
                        Network::Ipv4(v) => v.protocol(),
                        Network::Ipv6(v) => v.next_header(),
                    },
                    (0, 0),
                ),
            };
            let (src, dst) = ((network.src(), ports.0), (network.dst(), ports.1));
            attributes.endpoints(protocol, src, dst);
            if let (Some(seed), Some(_)) = (self.community_id, packet.transport)
                && let Some(id) = community_id(seed, protocol, src, dst)
            {
                attributes.push("netcore.community_id", &borrowed(id.as_str()));
            }
        }
        let direction = match events.direction {
            Direction::Ingress => "receive",
            Direction::Egress => "transmit",
            Direction::Unknown => "",
        };
        attributes.push("network.io.direction", &borrowed(direction));
        // Each event's line: the JSON writer ends each with its one newline.
        let ends = memchr::memchr_iter(b'\n', &self.lines);
        let starts = std::iter::once(0).chain(ends.clone().map(|end| end + 1));
        for ((start, end), kind) in starts.zip(ends).zip(events.kinds()) {
            let body = &self.lines[start..end];
            write_record(
                out,
                events.ctx.timestamp,
                Severity::INFO,
                kind.name(),
                body,
                &attributes.attributes,
            );
        }
        count
    }

    fn encode_flow(
        &mut self,
        kind: FlowKind,
        flow: &Flow<'_>,
        ctx: &EventContext<'_>,
        responder: Option<&EventContext<'_>>,
        out: &mut Vec<u8>,
    ) {
        self.lines.clear();
        self.json
            .encode_flow(kind, flow, ctx, responder, &mut self.lines);
        let attributes = &mut self.attributes;
        attributes.clear();
        attributes.owner(ctx);
        attributes.endpoints(flow.protocol, flow.orig, flow.resp);
        attributes.push("netcore.community_id", &borrowed(flow.community_id));
        attributes.push("netcore.conn_direction", &borrowed(flow.direction.name()));
        attributes.push("netcore.conn_state", &borrowed(flow.conn_state));
        let body = self.lines.strip_suffix(b"\n").unwrap_or(&self.lines);
        write_record(
            out,
            ctx.timestamp,
            Severity::INFO,
            kind.name(),
            body,
            &attributes.attributes,
        );
    }

    fn encode_finding(
        &mut self,
        finding: &FindingEvent<'_>,
        ctx: &EventContext<'_>,
        out: &mut Vec<u8>,
    ) {
        self.lines.clear();
        self.json.encode_finding(finding, ctx, &mut self.lines);
        let severity = finding
            .properties
            .iter()
            .find_map(|(name, value)| match (name, value) {
                (&"Severity", FindingValue::Number(n)) => Some(*n),
                _ => None,
            })
            .unwrap_or(0);
        let attributes = &mut self.attributes;
        attributes.clear();
        attributes.owner(ctx);
        attributes.push("netcore.signature.id", &borrowed(finding.event_id));
        attributes.push("netcore.finding.severity", &Value::Int(severity));
        attributes.push("netcore.finding.trigger", &borrowed(finding.trigger.name));
        let body = self.lines.strip_suffix(b"\n").unwrap_or(&self.lines);
        let severity = Severity::of_finding(severity);
        write_record(
            out,
            ctx.timestamp,
            severity,
            finding.event_name,
            body,
            &attributes.attributes,
        );
    }
}

/// What wraps every batch of records: the resource (`service.name` = `netcore`,
/// `service.version`, `host.name`) and the instrumentation scope, encoded once.
#[derive(Debug, Clone)]
pub struct Envelope {
    resource: Resource,
    scope: InstrumentationScope,
    resource_bytes: Vec<u8>,
    scope_bytes: Vec<u8>,
}

impl Envelope {
    /// The envelope of this run on host `host_name`.
    pub fn new(host_name: &str) -> Self {
        use prost::Message;
        let text = |key: &str, value: &str| KeyValue {
            key: key.into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(value.into())),
            }),
        };
        let resource = Resource {
            attributes: vec![
                text("service.name", "netcore"),
                text("service.version", env!("CARGO_PKG_VERSION")),
                text("host.name", host_name),
            ],
            ..Default::default()
        };
        let scope = InstrumentationScope {
            name: "netcore".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            ..Default::default()
        };
        Envelope {
            resource_bytes: resource.encode_to_vec(),
            scope_bytes: scope.encode_to_vec(),
            resource,
            scope,
        }
    }

    /// The resource (metrics requests carry it too).
    pub fn resource(&self) -> &Resource {
        &self.resource
    }

    /// The instrumentation scope.
    pub fn scope(&self) -> &InstrumentationScope {
        &self.scope
    }

    /// Writes into `out` (emptied first) an `ExportLogsServiceRequest` of the records in
    /// `pieces` (batches of this format, `len` bytes in all): one `ResourceLogs` of one
    /// `ScopeLogs`.
    pub fn logs_request<'p>(
        &self,
        pieces: impl Iterator<Item = &'p [u8]>,
        len: usize,
        out: &mut Vec<u8>,
    ) {
        // ScopeLogs { scope = 1, log_records = 2 (the pieces) }
        let scope_logs = len_field_size(1, self.scope_bytes.len()) + len;
        // ResourceLogs { resource = 1, scope_logs = 2 }
        let resource_logs =
            len_field_size(1, self.resource_bytes.len()) + len_field_size(2, scope_logs);
        // ExportLogsServiceRequest { resource_logs = 1 }
        out.clear();
        out.reserve(len_field_size(1, resource_logs));
        len_header(out, 1, resource_logs);
        len_header(out, 1, self.resource_bytes.len());
        out.extend_from_slice(&self.resource_bytes);
        len_header(out, 2, scope_logs);
        len_header(out, 1, self.scope_bytes.len());
        out.extend_from_slice(&self.scope_bytes);
        for piece in pieces {
            out.extend_from_slice(piece);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::logs::v1::ScopeLogs;
    use prost::Message;

    /// The attributes of `record`: key → the value as text.
    fn attributes_of(
        record: &opentelemetry_proto::tonic::logs::v1::LogRecord,
    ) -> std::collections::HashMap<String, String> {
        record
            .attributes
            .iter()
            .map(|kv| {
                let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                    Some(any_value::Value::StringValue(s)) => s.clone(),
                    Some(any_value::Value::IntValue(n)) => n.to_string(),
                    Some(any_value::Value::ArrayValue(a)) => format!("{:?}", a.values),
                    other => format!("{other:?}"),
                };
                (kv.key.clone(), value)
            })
            .collect()
    }

    #[test]
    fn records_decode_with_opentelemetrys_types_and_hostile_bytes_stay_utf8() {
        let ctx = EventContext {
            timestamp: 1_700_000_000_123_456_789,
            host_process_id: 4242,
            host_thread_id: 4243,
            user_id: 1000,
            // Not UTF-8, with a quote and an escape: still one valid string.
            process_name: b"cu\xffrl\"\x1b",
            container_image: "registry:5000/shop/web:1.27",
            container_id: "4f6d2b0a41a1",
            ..EventContext::default()
        };
        let mut attributes = Attributes::default();
        attributes.owner(&ctx);
        let mut out = Vec::new();
        let body = br#"{"eventName":"net_packet_tcp"}"#;
        write_record(
            &mut out,
            ctx.timestamp,
            Severity::INFO,
            "net_packet_tcp",
            body,
            &attributes.attributes,
        );
        write_record(
            &mut out,
            ctx.timestamp,
            Severity::of_finding(2),
            "port_scan",
            b"{}",
            &[],
        );
        // A batch is the log_records of a ScopeLogs.
        let scope = ScopeLogs::decode(&out[..]).unwrap();
        let [packet, finding] = &scope.log_records[..] else {
            panic!("{scope:?}")
        };
        assert_eq!(packet.time_unix_nano, ctx.timestamp);
        assert_eq!(
            (packet.severity_number, packet.severity_text.as_str()),
            (9, "INFO")
        );
        assert_eq!(packet.event_name, "net_packet_tcp");
        let body_text = match packet.body.as_ref().and_then(|b| b.value.as_ref()) {
            Some(any_value::Value::StringValue(s)) => s.as_str(),
            other => panic!("{other:?}"),
        };
        assert_eq!(body_text.as_bytes(), body);
        let found = attributes_of(packet);
        assert_eq!(found["event.name"], "net_packet_tcp");
        assert_eq!(found["process.pid"], "4242");
        assert_eq!(found["process.executable.name"], "cu\u{fffd}rl\"\u{1b}");
        assert_eq!(found["container.image.name"], "registry:5000/shop/web");
        assert!(found["container.image.tags"].contains("1.27"));
        // Empty strings are left out.
        assert!(!found.contains_key("k8s.pod.name"));
        assert_eq!(
            (finding.severity_number, finding.severity_text.as_str()),
            (17, "ERROR")
        );
    }

    #[test]
    fn image_references_split_at_their_tag() {
        assert_eq!(split_image("nginx:1.27"), ("nginx", "1.27"));
        assert_eq!(split_image("registry:5000/app"), ("registry:5000/app", ""));
        assert_eq!(split_image("app@sha256:abc"), ("app", ""));
        assert_eq!(split_image(""), ("", ""));
    }
}
