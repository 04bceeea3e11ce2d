//! Encoders: pure formatters from decided events ([`PacketEvents`]) to bytes. Tracee
//! JSON in either schema (`netcore_core::json`), or one readable line per event
//! ([`text`]).

pub mod text;

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
    /// One human-readable line per event.
    Text,
}

impl Format {
    /// An encoder for this format.
    pub fn encoder(self) -> Box<dyn Encoder> {
        match self {
            Format::Json(schema) => Box::new(json::Encoder::new(schema)),
            Format::Text => Box::new(text::TextEncoder),
        }
    }
}
