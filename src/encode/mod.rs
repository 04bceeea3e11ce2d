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

    /// The lines [`Encoder::encode`] wrote for `events` events of one packet: one per
    /// event, unless the format writes a line per packet.
    fn lines(&self, events: usize) -> usize {
        events
    }

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

/// Encoded events of one format, on their way to the outputs that use that format: whole
/// lines (one event, or one packet in the text format, a line), and the partition key of
/// each run of lines (a hash of the flow they belong to, see
/// [`netcore_core::flow::partition_key`]).
#[derive(Debug, Default, Clone)]
pub struct Batch {
    /// The lines, each ending in `\n`.
    pub bytes: Vec<u8>,
    /// How many lines `bytes` holds (counted as they are encoded, not by scanning).
    pub lines: usize,
    /// `(end, key)`: the lines before byte `end` (and after the previous run) have `key`.
    pub keys: Vec<(usize, u64)>,
}

impl Batch {
    /// An empty batch with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        Batch {
            bytes: Vec::with_capacity(capacity),
            lines: 0,
            keys: Vec::new(),
        }
    }

    /// Gives the lines written since the last call `key`.
    pub fn mark(&mut self, key: u64) {
        let start = self.keys.last().map_or(0, |&(end, _)| end);
        if self.bytes.len() > start {
            self.keys.push((self.bytes.len(), key));
        }
    }

    /// The lines with their keys, in order (lines after the last mark have key 0).
    pub fn lines(&self) -> impl Iterator<Item = (&[u8], u64)> {
        let mut start = 0;
        let unmarked = (self.keys.last().map_or(0, |&(end, _)| end) < self.bytes.len())
            .then_some((self.bytes.len(), 0));
        self.keys
            .iter()
            .copied()
            .chain(unmarked)
            .flat_map(move |(end, key)| {
                let run = &self.bytes[start..end];
                start = end;
                run.split_inclusive(|&b| b == b'\n')
                    .map(move |line| (line, key))
            })
    }

    /// How many lines the batch holds.
    pub fn len(&self) -> usize {
        debug_assert_eq!(
            self.lines,
            self.bytes.iter().filter(|&&b| b == b'\n').count(),
            "a batch's line count differs from its lines"
        );
        self.lines
    }

    /// Whether the batch holds no line.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

/// Bytes a batch gathers before it is handed to the outputs.
pub const BATCH_BYTES: usize = 64 << 10;

/// The encoder of each format the outputs use, each appending to a batch of its own. The
/// first format's count of events is the one reported (every format encodes the same
/// events).
pub struct Encoders {
    formats: Vec<(Box<dyn Encoder>, Batch)>,
    /// Whether an output reads the lines' partition keys (Kafka's message keys); when
    /// none does, lines are not marked and keys need not be computed.
    keyed: bool,
}

impl Encoders {
    /// One encoder for each of `formats` (at least one: the events are counted even when
    /// no output takes them); `keyed` when an output reads partition keys.
    pub fn new(formats: &[Format], keyed: bool) -> Self {
        Encoders {
            formats: formats
                .iter()
                .map(|f| (f.encoder(), Batch::with_capacity(BATCH_BYTES * 2)))
                .collect(),
            keyed,
        }
    }

    /// Whether an output reads the lines' partition keys.
    pub fn keyed(&self) -> bool {
        self.keyed
    }

    /// Encodes the events of one packet in every format; returns how many.
    pub fn encode(&mut self, events: &PacketEvents<'_, '_>) -> usize {
        let mut counts = self
            .formats
            .iter_mut()
            .map(|(encoder, batch)| {
                let events = encoder.encode(events, &mut batch.bytes);
                batch.lines += encoder.lines(events);
                events
            });
        let first = counts.next().unwrap_or(0);
        counts.for_each(drop);
        first
    }

    /// Encodes a flow event in every format.
    pub fn encode_flow(
        &mut self,
        kind: FlowKind,
        flow: &Flow<'_>,
        ctx: &EventContext<'_>,
        responder: Option<&EventContext<'_>>,
    ) {
        for (encoder, batch) in &mut self.formats {
            encoder.encode_flow(kind, flow, ctx, responder, &mut batch.bytes);
            batch.lines += 1;
        }
    }

    /// Encodes a finding in every format.
    pub fn encode_finding(&mut self, finding: &FindingEvent<'_>, ctx: &EventContext<'_>) {
        for (encoder, batch) in &mut self.formats {
            encoder.encode_finding(finding, ctx, &mut batch.bytes);
            batch.lines += 1;
        }
    }

    /// Gives the lines encoded since the last call partition key `key` (nothing when no
    /// output reads keys).
    pub fn mark(&mut self, key: u64) {
        if !self.keyed {
            return;
        }
        for (_, batch) in &mut self.formats {
            batch.mark(key);
        }
    }

    /// Whether a batch holds a block's worth.
    pub fn due(&self) -> bool {
        self.formats
            .iter()
            .any(|(_, b)| b.bytes.len() >= BATCH_BYTES)
    }

    /// Takes the batches, one per format in the order given to [`Encoders::new`], leaving
    /// empty ones (an empty batch stays, and an empty one is handed out: nothing is
    /// allocated when nothing was encoded).
    pub fn take(&mut self) -> Vec<Batch> {
        self.formats
            .iter_mut()
            .map(|(_, batch)| match batch.is_empty() {
                true => Batch::default(),
                false => std::mem::replace(batch, Batch::with_capacity(BATCH_BYTES * 2)),
            })
            .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_give_each_line_the_key_of_its_run() {
        let mut batch = Batch::default();
        batch.bytes.extend_from_slice(b"a\nb\n");
        batch.lines = 2;
        batch.mark(7);
        batch.mark(8); // nothing new: no run
        batch.bytes.extend_from_slice(b"c\n");
        batch.mark(9);
        batch.bytes.extend_from_slice(b"d\n");
        batch.lines = 4;
        let lines: Vec<(&[u8], u64)> = batch.lines().collect();
        assert_eq!(
            lines,
            [(&b"a\n"[..], 7), (b"b\n", 7), (b"c\n", 9), (b"d\n", 0)]
        );
        assert_eq!(batch.len(), 4);
    }
}
