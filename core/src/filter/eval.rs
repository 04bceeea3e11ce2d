//! Evaluation: which events of a decoded packet or DNS message pass.

use super::Filter;
use super::fields::*;
use super::syntax::*;
use crate::dns::name::MAX_PRESENTATION_LEN;
use core::fmt::Write as _;

use crate::dns::{DnsMessage, Entry, RData, Record, Section};
use crate::http::Message;
use crate::packet::{Decoded, Transport};
use crate::{EventContext, EventSet};
use alloc::vec::Vec;

impl Filter {
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
        if !self
            .packet
            .iter()
            .all(|t| t.accepts_all_or_any(t.field.values(decoded)))
        {
            return EventSet::NONE;
        }
        let mut buf = TextBuf {
            bytes: [0; 64],
            len: 0,
        };
        let mut set = wanted;
        // The HTTP head, read once if an HTTP argument filter needs it.
        let mut http: Option<Option<Message<'_>>> = None;
        let mut scratch = Vec::new();
        for (event, test) in &self.args {
            if !set.contains(*event) {
                continue;
            }
            if let ArgField::Http(field) = test.field {
                let message = http.get_or_insert_with(|| match decoded.transport {
                    Some(Transport::Tcp(tcp)) => crate::http::parse(tcp.payload()),
                    _ => None,
                });
                let pass = message
                    .as_ref()
                    .and_then(|m| field.value(m, &mut scratch))
                    .is_some_and(|v| test.accepts(&v));
                if !pass {
                    set = set.without(EventSet::NONE.with(*event));
                }
                continue;
            }
            let ArgField::Packet(read) = test.field else {
                continue;
            };
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
        DnsField::OpCode => test.accepts(&Value::Text(message.opcode().name().as_bytes())),
        DnsField::ResponseCode => {
            test.accepts(&Value::Text(message.response_code().name().as_bytes()))
        }
        DnsField::QuestionType | DnsField::AnswerType => {
            let types = message.entries().filter_map(|entry| match (field, entry) {
                (DnsField::QuestionType, Entry::Question(q)) => Some(q.qtype),
                (DnsField::AnswerType, Entry::Record(Section::Answer, r)) => Some(r.rtype),
                _ => None,
            });
            test.accepts_all_or_any(types.map(|t| Value::Text(t.name().as_bytes())))
        }
        DnsField::Answer => {
            let mut answers = message.entries().filter_map(|entry| match entry {
                Entry::Record(Section::Answer, r) => Some(r),
                _ => None,
            });
            let mut check = |r: Record<'_>| {
                let mut text = TextBuf {
                    bytes: [0; 64],
                    len: 0,
                };
                let answer: &[u8] = match r.data() {
                    RData::A(a) => {
                        let _ = write!(text, "{}", core::net::Ipv4Addr::from(a));
                        &text.bytes[..text.len]
                    }
                    RData::Aaaa(a) => {
                        let _ = write!(text, "{}", core::net::Ipv6Addr::from(a));
                        &text.bytes[..text.len]
                    }
                    RData::Ns(n)
                    | RData::Cname(n)
                    | RData::Ptr(n)
                    | RData::Mx { exchange: n, .. } => {
                        n.presentation(&mut name_buf).unwrap_or_default().as_bytes()
                    }
                    // As the JSON writes it: the whole RDATA, length prefixes included.
                    RData::Txt(_) => r.raw_data,
                    _ => b"not implemented",
                };
                test.accepts(&Value::Text(answer))
            };
            if test.op == Op::Ne {
                answers.all(&mut check)
            } else {
                answers.any(&mut check)
            }
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
