//! The ports the pipeline hands its results to. Later stages implement them, so the
//! pipeline names no sink: the outputs' queues are an [`EventOutput`]; `-w`'s file and
//! `--evidence`'s recordings are [`PacketTap`]s. (Signatures' findings come back to the
//! pipeline as values, [`crate::signatures::Fired`], and are encoded as events.)

use std::io;

use netcore_core::EventContext;

use crate::encode::Lines;
use crate::source::Frame;

/// Where a pipeline hands its encoded events, a batch of lines per format at a time.
pub trait EventOutput: Send {
    /// Hands over `lines` of format `format` (an index into the encoders' formats). Errs
    /// when an output can take no more (standard output's reader left: `BrokenPipe`).
    fn hand(&mut self, format: usize, lines: Lines) -> io::Result<()>;

    /// Hands over one batch per format, in the encoders' order.
    fn hand_all(&mut self, batches: Vec<Lines>) -> io::Result<()> {
        batches
            .into_iter()
            .enumerate()
            .try_for_each(|(format, lines)| self.hand(format, lines))
    }
}

/// What a tap that keeps frames (`-w`) did with one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saved {
    /// Written.
    Written,
    /// Left out: a classic pcap file holds one link type.
    OtherLinkType,
    /// Lost: the file could not be written (the tap named the error); so were `earlier`
    /// packets reported [`Saved::Written`] before, cut off with the file's unfinished end.
    WriteFailed {
        /// Packets reported written before and lost with this one.
        earlier: u64,
    },
}

/// A sink of packets, fed by the pipeline at two points of each frame's way.
pub trait PacketTap: Send {
    /// Every frame the limits (`-Q`, `-i`, the pcap expression, `-c`) keep, before its
    /// events are decided, with the key of its flow (computed only when
    /// [`PacketTap::needs_flows`]).
    fn offer(&mut self, _flow: u64, _frame: &Frame<'_>, _ctx: &EventContext<'_>, _iface: &str) {}
    /// A frame that gave events, or that the selected flows counted, once they are
    /// written; `Some(what became of it)` when the tap keeps such frames (`-w`).
    fn keep(
        &mut self,
        _frame: &Frame<'_>,
        _ctx: &EventContext<'_>,
        _iface: &str,
    ) -> io::Result<Option<Saved>> {
        Ok(None)
    }
    /// A signature's finding event `finding` on flow `flow` at `now_ns`: the file the
    /// tap records it in, if it does.
    fn finding(&mut self, _flow: u64, _finding: &str, _now_ns: u64) -> Option<String> {
        None
    }
    /// The live runs' tick, about once a second (a file's frames bring their own time to
    /// [`PacketTap::offer`]).
    fn tick(&mut self, _now_ns: u64) {}
    /// Writes out what is buffered; returns how many frames [`PacketTap::keep`] reported
    /// written were lost with what could not be written out.
    fn flush(&mut self) -> io::Result<u64>;
    /// Whether [`PacketTap::offer`] needs each frame's flow key.
    fn needs_flows(&self) -> bool {
        false
    }
    /// What `--evidence` wrote and lost, for the summary; `None` for other taps.
    fn evidence(&self) -> Option<EvidenceStats> {
        None
    }
}

/// What evidence cost and lost, for the summary.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct EvidenceStats {
    /// Evidence files written.
    pub files: u64,
    /// Packets written into them.
    pub packets: u64,
    /// Packets no longer kept because their flow had more, or the store was full.
    pub evicted: u64,
    /// Findings that got no file: too many being written, or the file failed.
    pub refused: u64,
    /// Packets an evidence file failed to take.
    pub write_errors: u64,
}

impl std::fmt::Display for EvidenceStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "evidence: {} files, {} packets written, {} packets no longer kept (limits), {} \
             findings without a file, {} packets not written (errors)",
            self.files, self.packets, self.evicted, self.refused, self.write_errors
        )
    }
}
