//! Encoders: pure formatters from decided events ([`PacketEvents`]) to bytes. Tracee
//! JSON in either schema (`netcore_core::json`), one tcpdump-like line per packet
//! ([`packet_line`], the default), or one line per event ([`event_lines`]).

pub mod event_lines;
pub mod packet_line;

use std::fmt;

use netcore_core::dns::name::MAX_PRESENTATION_LEN;
use netcore_core::dns::{RData, Record};
use netcore_core::finding::FindingEvent;
use netcore_core::flow::{Flow, FlowKind};
use netcore_core::json::{self, Schema};
use netcore_core::{EventContext, PacketEvents};

/// Formats decided events.
pub trait Encoder {
    /// Appends the encoding of every event of `events` to `out`; returns how many.
    fn encode(&mut self, events: &PacketEvents<'_, '_>, out: &mut Vec<u8>) -> usize;

    /// Appends flow event `kind` of `flow`, with the envelope `ctx` (the local end's
    /// owner) and the responder's owner when it is local too. The text encoders write one
    /// readable line.
    fn encode_flow(
        &mut self,
        kind: FlowKind,
        flow: &Flow<'_>,
        ctx: &EventContext<'_>,
        responder: Option<&EventContext<'_>>,
        out: &mut Vec<u8>,
    ) {
        event_lines::write_flow(kind, flow, ctx, responder, out);
    }

    /// Appends a signature's finding, with the envelope of its triggering event. The text
    /// encoders write one readable line.
    fn encode_finding(
        &mut self,
        finding: &FindingEvent<'_>,
        ctx: &EventContext<'_>,
        out: &mut Vec<u8>,
    ) {
        event_lines::write_finding(finding, ctx, out);
    }
}

impl Encoder for json::Encoder {
    fn encode(&mut self, events: &PacketEvents<'_, '_>, out: &mut Vec<u8>) -> usize {
        json::Encoder::encode(self, events, out)
    }

    fn encode_flow(
        &mut self,
        kind: FlowKind,
        flow: &Flow<'_>,
        ctx: &EventContext<'_>,
        responder: Option<&EventContext<'_>>,
        out: &mut Vec<u8>,
    ) {
        json::Encoder::encode_flow(self, kind, flow, ctx, responder, out);
    }

    fn encode_finding(
        &mut self,
        finding: &FindingEvent<'_>,
        ctx: &EventContext<'_>,
        out: &mut Vec<u8>,
    ) {
        json::Encoder::encode_finding(self, finding, ctx, out);
    }
}

/// How events are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Tracee-compatible JSON, one event per line, in this schema; with the Community ID
    /// (this seed) on the transport events when given (`--community-id`).
    Json(&'static Schema, Option<u16>),
    /// One tcpdump-like line per packet, with its owner.
    PacketLines,
    /// One readable line per event (`--text-events`).
    EventLines,
}

impl Format {
    /// An encoder for this format.
    pub fn encoder(self) -> Box<dyn Encoder> {
        match self {
            Format::Json(schema, community_id) => {
                Box::new(json::Encoder::new(schema).with_community_id(community_id))
            }
            Format::PacketLines => Box::new(packet_line::PacketLineEncoder::new()),
            Format::EventLines => Box::new(event_lines::EventLineEncoder),
        }
    }
}

/// The data of a DNS answer as the text encoders print it: the address, the name (with
/// `:port` for SRV), the quoted TXT strings, else its size.
pub struct AnswerText<'r, 'a>(pub &'r Record<'a>);

impl fmt::Display for AnswerText<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut name = [0; MAX_PRESENTATION_LEN];
        match self.0.data() {
            RData::A(a) => write!(f, "{}", std::net::Ipv4Addr::from(a)),
            RData::Aaaa(a) => write!(f, "{}", std::net::Ipv6Addr::from(a)),
            RData::Cname(n) | RData::Ns(n) | RData::Ptr(n) | RData::Mx { exchange: n, .. } => {
                f.write_str(n.presentation(&mut name).unwrap_or("?"))
            }
            RData::Srv { port, target, .. } => {
                write!(
                    f,
                    "{}:{port}",
                    target.presentation(&mut name).unwrap_or("?")
                )
            }
            RData::Txt(strings) => {
                for (i, s) in strings.enumerate() {
                    let sep = if i == 0 { "" } else { " " };
                    write!(f, "{sep}\"{}\"", String::from_utf8_lossy(s).escape_debug())?;
                }
                Ok(())
            }
            _ => write!(f, "({} bytes)", self.0.raw_data.len()),
        }
    }
}
