//! Encoders: pure formatters from decided events ([`PacketEvents`]) to bytes. Tracee
//! JSON in either schema (`netcore_core::json`), one tcpdump-like line per packet
//! ([`packet_line`], the default), one line per event ([`event_lines`]), or one OTLP log
//! record per event ([`otlp`]).

pub mod event_lines;
pub mod otlp;
pub mod packet_line;

use std::ops::Range;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

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
    /// One OTLP `LogRecord` per event, its body the event in Tracee JSON (this schema and
    /// Community ID seed): binary records, not lines ([`otlp`]).
    Otlp(&'static Schema, Option<u16>),
}

impl Format {
    /// An encoder for this format.
    pub fn encoder(self) -> Box<dyn Encoder + Send> {
        match self {
            Format::Json(schema, community_id) => {
                Box::new(json::Encoder::new(schema).with_community_id(community_id))
            }
            Format::PacketLines => Box::new(packet_line::PacketLineEncoder::new()),
            Format::EventLines => Box::new(event_lines::EventLineEncoder),
            Format::Otlp(schema, community_id) => Box::new(otlp::OtlpEncoder::new(
                json::Encoder::new(schema).with_community_id(community_id),
                community_id,
            )),
        }
    }

    /// Whether the format writes lines (each ending in `\n`), not binary records.
    pub fn writes_lines(self) -> bool {
        !matches!(self, Format::Otlp(..))
    }
}

/// Encoded events of one format, on their way to the outputs that use that format: whole
/// lines (one event, or one packet in the text format, a line; or, for OTLP, one binary
/// record an event, called lines here too), and the partition key of each run of lines (a hash of the flow they belong to, see
/// [`netcore_core::flow::partition_key`]).
#[derive(Debug, Default)]
pub struct Batch {
    /// The lines, each ending in `\n`.
    pub bytes: Vec<u8>,
    /// How many lines `bytes` holds (counted as they are encoded, not by scanning).
    pub lines: usize,
    /// `(end, key)`: the lines before byte `end` (and after the previous run) have `key`.
    pub keys: Vec<(usize, u64)>,
    /// Where each frame's lines end, when a shard of a block of frames encoded them
    /// (`--threads`): frames without lines are left out.
    pub frames: Vec<FrameEnd>,
    /// Where the memory of `bytes` goes when the batch is dropped (its encoders' pool).
    home: Option<SyncSender<Vec<u8>>>,
}

impl Drop for Batch {
    fn drop(&mut self) {
        if let Some(home) = self.home.take() {
            let mut bytes = std::mem::take(&mut self.bytes);
            bytes.clear();
            // A full pool (or encoders gone): the memory is freed instead.
            let _ = home.try_send(bytes);
        }
    }
}

/// The end of one frame's lines in a [`Batch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameEnd {
    /// The frame's position in its block.
    pub frame: u32,
    /// The byte after its last line.
    pub end: usize,
    /// The batch's lines up to here.
    pub lines: usize,
}

impl Batch {
    /// Notes that the lines written since the last frame's are frame `frame`'s.
    pub fn end_frame(&mut self, frame: u32) {
        let start = self.frames.last().map_or(0, |f| f.end);
        if self.bytes.len() > start {
            self.frames.push(FrameEnd {
                frame,
                end: self.bytes.len(),
                lines: self.lines,
            });
        }
    }

    /// Gives the lines written since the last call `key`.
    pub fn mark(&mut self, key: u64) {
        let start = self.keys.last().map_or(0, |&(end, _)| end);
        if self.bytes.len() > start {
            self.keys.push((self.bytes.len(), key));
        }
    }

    /// The lines of bytes `range` (whole lines) with their keys, in order (lines after
    /// the last mark have key 0).
    fn lines_in(&self, range: Range<usize>) -> impl Iterator<Item = (&[u8], u64)> {
        let first = self.keys.partition_point(|&(end, _)| end <= range.start);
        let unmarked = (self.keys.last().map_or(0, |&(end, _)| end) < self.bytes.len())
            .then_some((self.bytes.len(), 0));
        self.keys[first..]
            .iter()
            .copied()
            .chain(unmarked)
            .scan(range.start, move |start, (end, key)| {
                if *start >= range.end {
                    return None;
                }
                let end = end.min(range.end);
                let run = &self.bytes[*start..end];
                *start = end;
                Some(
                    run.split_inclusive(|&b| b == b'\n')
                        .map(move |line| (line, key)),
                )
            })
            .flatten()
    }

    /// How many lines the batch holds.
    pub fn len(&self) -> usize {
        self.lines
    }

    /// Whether the batch holds no line.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

/// Encoded lines on their way to the outputs (what their queues carry): a batch as its
/// encoder wrote it, or up to about [`BATCH_BYTES`] of the lines several shards wrote for
/// blocks of frames (`--threads`), read in the frames' order where the shards wrote them.
#[derive(Debug, Default)]
pub struct Lines {
    /// The batches read, a set per block (shared with the next piece of that block).
    blocks: Vec<Arc<[Batch]>>,
    /// In order; consecutive frames of one shard make one run.
    runs: Vec<Run>,
    lines: usize,
    bytes: usize,
}

/// Bytes of one batch of [`Lines`].
#[derive(Debug)]
struct Run {
    block: usize,
    batch: usize,
    bytes: Range<usize>,
}

impl From<Batch> for Lines {
    fn from(batch: Batch) -> Self {
        let bytes = batch.bytes.len();
        let runs = match bytes {
            0 => vec![],
            len => vec![Run {
                block: 0,
                batch: 0,
                bytes: 0..len,
            }],
        };
        Lines {
            lines: batch.len(),
            blocks: vec![Arc::new([batch])],
            runs,
            bytes,
        }
    }
}

impl Lines {
    /// Appends the lines of `shards` (each the lines of some frames of one block, their
    /// ends noted with [`Batch::end_frame`]) in the frames' order, without copying them;
    /// hands each [`BATCH_BYTES`] gathered, cut between frames, to `full`.
    pub fn interleave(&mut self, shards: Vec<Batch>, mut full: impl FnMut(Lines)) {
        let shards: Arc<[Batch]> = shards.into();
        self.blocks.push(shards.clone());
        // Per shard: its next frame.
        let mut next = vec![0; shards.len()];
        while let Some(shard) = (0..shards.len())
            .filter(|&s| next[s] < shards[s].frames.len())
            .min_by_key(|&s| shards[s].frames[next[s]].frame)
        {
            let frames = &shards[shard].frames;
            let (start, lines_before) = match next[shard].checked_sub(1) {
                Some(previous) => (frames[previous].end, frames[previous].lines),
                None => (0, 0),
            };
            let end = frames[next[shard]];
            next[shard] += 1;
            self.lines += end.lines - lines_before;
            self.bytes += end.end - start;
            let block = self.blocks.len() - 1;
            match self.runs.last_mut() {
                Some(run) if (run.block, run.batch) == (block, shard) && run.bytes.end == start => {
                    run.bytes.end = end.end
                }
                _ => self.runs.push(Run {
                    block,
                    batch: shard,
                    bytes: start..end.end,
                }),
            }
            if self.bytes >= BATCH_BYTES {
                let rest = Lines {
                    blocks: vec![shards.clone()],
                    ..Lines::default()
                };
                full(std::mem::replace(self, rest));
            }
        }
    }

    /// How many lines there are.
    pub fn len(&self) -> usize {
        self.lines
    }

    /// Whether there is no line.
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// How many bytes the lines take.
    pub fn bytes_len(&self) -> usize {
        self.bytes
    }

    /// The bytes, in order, in pieces of whole lines.
    pub fn pieces(&self) -> impl Iterator<Item = &[u8]> {
        self.runs
            .iter()
            .map(|run| &self.blocks[run.block][run.batch].bytes[run.bytes.clone()])
    }

    /// The lines with their partition keys, in order.
    pub fn lines(&self) -> impl Iterator<Item = (&[u8], u64)> {
        self.runs
            .iter()
            .flat_map(|run| self.blocks[run.block][run.batch].lines_in(run.bytes.clone()))
    }
}

/// Bytes a batch gathers before it is handed to the outputs.
pub const BATCH_BYTES: usize = 64 << 10;

/// The encoder of each format the outputs use, each appending to a batch of its own. The
/// first format's count of events is the one reported (every format encodes the same
/// events).
pub struct Encoders {
    /// The formats, as given.
    kinds: Vec<Format>,
    formats: Vec<(Box<dyn Encoder + Send>, Batch)>,
    /// Whether an output reads the lines' partition keys (Kafka's message keys); when
    /// none does, lines are not marked and keys need not be computed.
    keyed: bool,
    pool: Pool,
}

/// The memory of batches the outputs are done with, for the encoders to fill again:
/// page faults on fresh memory cost more than encoding into warm memory (a 1 M-packet
/// capture faulted 135,000 pages on two threads without it). Holds at most
/// [`POOLED_BATCHES`] buffers; more are freed.
struct Pool {
    home: SyncSender<Vec<u8>>,
    returned: Receiver<Vec<u8>>,
}

/// Most batch buffers a pool keeps.
const POOLED_BATCHES: usize = 8;

impl Pool {
    fn new() -> Self {
        let (home, returned) = sync_channel(POOLED_BATCHES);
        Pool { home, returned }
    }

    /// An empty batch whose memory comes back here when it is dropped.
    fn batch(&self) -> Batch {
        let bytes = self
            .returned
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(BATCH_BYTES * 2));
        Batch {
            bytes,
            lines: 0,
            keys: Vec::new(),
            frames: Vec::new(),
            home: Some(self.home.clone()),
        }
    }
}

impl Encoders {
    /// One encoder for each of `formats` (at least one: the events are counted even when
    /// no output takes them); `keyed` when an output reads partition keys.
    pub fn new(formats: &[Format], keyed: bool) -> Self {
        let pool = Pool::new();
        Encoders {
            kinds: formats.to_vec(),
            formats: formats
                .iter()
                .map(|f| (f.encoder(), pool.batch()))
                .collect(),
            keyed,
            pool,
        }
    }

    /// New encoders of the same formats, as keyed (for another thread's pipeline).
    pub fn like(&self) -> Encoders {
        Encoders::new(&self.kinds, self.keyed)
    }

    /// Whether an output reads the lines' partition keys.
    pub fn keyed(&self) -> bool {
        self.keyed
    }

    /// Encodes the events of one packet in every format; returns how many.
    pub fn encode(&mut self, events: &PacketEvents<'_, '_>) -> usize {
        let kinds = &self.kinds;
        let mut counts = self
            .formats
            .iter_mut()
            .zip(kinds)
            .map(|((encoder, batch), kind)| {
                let start = batch.bytes.len();
                let events = encoder.encode(events, &mut batch.bytes);
                batch.lines += encoder.lines(events);
                debug_assert!(
                    !kind.writes_lines()
                        || batch.bytes[start..].iter().filter(|&&b| b == b'\n').count()
                            == encoder.lines(events),
                    "{kind:?}: the lines written differ from those counted"
                );
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

    /// Notes in every batch that the lines since the last frame's are frame `frame`'s (of
    /// a block, see [`Lines::interleave`]).
    pub fn end_frame(&mut self, frame: u32) {
        for (_, batch) in &mut self.formats {
            batch.end_frame(frame);
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
                false => std::mem::replace(batch, self.pool.batch()),
            })
            .collect()
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
        assert_eq!(batch.len(), 4);
        let all = Lines::from(batch);
        let lines: Vec<(&[u8], u64)> = all.lines().collect();
        assert_eq!(
            lines,
            [(&b"a\n"[..], 7), (b"b\n", 7), (b"c\n", 9), (b"d\n", 0)]
        );
        assert_eq!((all.len(), all.bytes_len()), (4, 8));
    }

    #[test]
    fn a_dropped_batch_gives_its_memory_back_to_its_encoders() {
        let pool = Pool::new();
        let mut batch = pool.batch();
        batch.bytes.extend_from_slice(b"x\n");
        batch.lines = 1;
        let memory = batch.bytes.as_ptr();
        drop(Lines::from(batch));
        let again = pool.batch();
        assert_eq!(
            again.bytes.as_ptr(),
            memory,
            "the same memory, filled again"
        );
        assert!(again.bytes.is_empty());
    }

    #[test]
    fn merged_shards_keep_the_frames_order_and_their_keys() {
        // Frames 0 and 3 went to one shard, 1 and 2 to the other; frame 2 wrote nothing.
        let shard = |frames: &[(u32, &str, u64)]| {
            let mut batch = Batch::default();
            for &(frame, text, key) in frames {
                batch.bytes.extend_from_slice(text.as_bytes());
                batch.lines += text.matches('\n').count();
                batch.mark(key);
                batch.end_frame(frame);
            }
            batch
        };
        let even = shard(&[(0, "a\nb\n", 10), (3, "d\n", 13)]);
        let odd = shard(&[(1, "c\n", 11), (2, "", 12)]);
        let mut merged = Lines::default();
        merged.interleave(vec![even, odd], |_| panic!("small enough for one piece"));
        let merged = &merged;
        assert_eq!(
            merged.pieces().collect::<Vec<_>>(),
            [&b"a\nb\n"[..], b"c\n", b"d\n"]
        );
        assert_eq!(merged.len(), 4);
        let lines: Vec<(&[u8], u64)> = merged.lines().collect();
        assert_eq!(
            lines,
            [(&b"a\n"[..], 10), (b"b\n", 10), (b"c\n", 11), (b"d\n", 13)]
        );
    }
}
