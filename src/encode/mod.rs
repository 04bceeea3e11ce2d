//! Encoders: pure formatters from decided events ([`PacketEvents`]) to bytes. Tracee
//! JSON in either schema (`netcore_core::json`), one tcpdump-like line per packet
//! ([`packet_line`], the default), or one line per event ([`event_lines`]).

pub mod event_lines;
pub mod packet_line;

use netcore_core::PacketEvents;
use netcore_core::json::{self, Schema};

/// Formats decided events.
pub trait Encoder {
    /// Appends the encoding of every event of `events` to `out`; returns how many.
    fn encode(&mut self, events: &PacketEvents<'_, '_>, out: &mut Vec<u8>) -> usize;
}

impl Encoder for json::Encoder {
    fn encode(&mut self, events: &PacketEvents<'_, '_>, out: &mut Vec<u8>) -> usize {
        json::Encoder::encode(self, events, out)
    }
}

/// How events are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Tracee-compatible JSON, one event per line, in this schema.
    Json(&'static Schema),
    /// One tcpdump-like line per packet, with its owner.
    PacketLines,
    /// One readable line per event (`--text-events`).
    EventLines,
}

impl Format {
    /// An encoder for this format.
    pub fn encoder(self) -> Box<dyn Encoder> {
        match self {
            Format::Json(schema) => Box::new(json::Encoder::new(schema)),
            Format::PacketLines => Box::new(packet_line::PacketLineEncoder::new()),
            Format::EventLines => Box::new(event_lines::EventLineEncoder),
        }
    }
}
