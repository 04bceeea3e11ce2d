//! `--threads` where the source is one stream (a file, one AF_XDP queue): pipelines on
//! threads of their own, each handling a share of the flows. The source's thread copies
//! frames into blocks, marking each with the thread of its flow from its raw headers
//! ([`netcore_core::flow::spread::thread_of`]), so every frame is decoded once, by its
//! thread. It then interleaves the threads' lines of each block back into the frames'
//! order (without copying them, [`Lines::interleave`]) before the outputs get them: what
//! the outputs receive is what one pipeline would have written, in the same order.

use std::collections::VecDeque;
use std::io;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::thread::JoinHandle;

use netcore_core::flow::spread::thread_of;

use super::block::FrameBlock;
use super::thread::{Builder, Ending, ThreadCounts, ThreadEnd};
use crate::encode::{Batch, Lines};
use crate::pipeline::{EventOutput, Pipeline, Summary};
use crate::sink::OutputQueues;
use crate::source::Frame;

/// Blocks handed out whose lines are not all written yet: bounds the frames and lines
/// held (a block is ≤ 1 MiB of frames, see [`FrameBlock`]).
const BLOCKS_IN_FLIGHT: usize = 4;

/// Pipelines on threads of their own, fed blocks of frames by the source's thread.
pub struct Sharded {
    workers: Vec<Worker>,
    queues: OutputQueues,
    /// The block being filled.
    filling: Block,
    /// Blocks handed out, oldest first, with the lines each pipeline gave back so far.
    in_flight: VecDeque<(Arc<Block>, Vec<Option<ThreadLines>>)>,
    /// Blocks written, emptied for reuse.
    spare: Vec<Block>,
    /// Each pipeline's counts, as of the last block it gave back.
    counts: Vec<ThreadCounts>,
    /// Per format, lines written back but not yet handed to the outputs: they get pieces
    /// of about a batch's size, as from one pipeline.
    gathered: Vec<Lines>,
}

/// Frames for the threads, and the live modes' tick to pass on after them.
#[derive(Default)]
struct Block {
    frames: FrameBlock,
    tick_ns: Option<u64>,
}

/// One pipeline's lines of a block: a batch per format.
type ThreadLines = Vec<Batch>;

/// One pipeline's thread and its queues: blocks to it, each block's lines back (in order).
struct Worker {
    blocks: SyncSender<Arc<Block>>,
    lines: Receiver<(ThreadLines, ThreadCounts)>,
    thread: JoinHandle<io::Result<ThreadEnd>>,
}

impl Sharded {
    /// Starts one thread per pipeline `builders` build (without an output), the i-th
    /// handling the frames [`thread_of`] gives it, their lines for `queues`.
    pub fn start(builders: Vec<Builder>, queues: OutputQueues) -> io::Result<Self> {
        let workers = builders
            .into_iter()
            .enumerate()
            .map(|(index, build)| {
                let (blocks, blocks_in) = sync_channel(BLOCKS_IN_FLIGHT);
                let (lines_out, lines) = sync_channel(BLOCKS_IN_FLIGHT);
                let thread = std::thread::Builder::new()
                    .name(format!("netcore-decode{index}"))
                    .spawn(move || {
                        handle_blocks(build(None), index as u32, blocks_in, lines_out)
                    })?;
                Ok(Worker {
                    blocks,
                    lines,
                    thread,
                })
            })
            .collect::<io::Result<Vec<_>>>()?;
        Ok(Sharded {
            counts: vec![ThreadCounts::default(); workers.len()],
            workers,
            queues,
            filling: Block::default(),
            in_flight: VecDeque::new(),
            spare: Vec::new(),
            gathered: Vec::new(),
        })
    }

    /// How many threads decode.
    pub fn threads(&self) -> usize {
        self.workers.len()
    }

    /// Copies `frame` into the block being filled, for the thread of its flow.
    pub fn handle(&mut self, frame: &Frame<'_>) -> io::Result<()> {
        let thread = thread_of(frame.link_type, frame.data, self.workers.len() as u32);
        self.filling.frames.push(frame, thread);
        if self.filling.frames.is_full() {
            self.dispatch()?;
        }
        Ok(())
    }

    /// Hands out the frames read so far and writes the blocks the threads are done with.
    pub fn flush(&mut self) -> io::Result<()> {
        self.dispatch()?;
        while self.write_oldest(false)? {}
        self.send_gathered()
    }

    /// The live modes' tick: every thread gets it after the frames read so far.
    pub fn tick(&mut self, now_ns: u64) {
        self.filling.tick_ns = Some(now_ns);
    }

    /// Hands the outputs what is gathered, however little.
    fn send_gathered(&mut self) -> io::Result<()> {
        for (format, lines) in self.gathered.iter_mut().enumerate() {
            if !lines.is_empty() {
                self.queues.hand(format, std::mem::take(lines))?;
            }
        }
        Ok(())
    }

    /// Hands the block being filled to every pipeline; waits for the oldest blocks' lines
    /// while [`BLOCKS_IN_FLIGHT`] are out.
    fn dispatch(&mut self) -> io::Result<()> {
        if self.filling.frames.is_empty() && self.filling.tick_ns.is_none() {
            return Ok(());
        }
        let next = self.spare.pop().unwrap_or_default();
        let block = Arc::new(std::mem::replace(&mut self.filling, next));
        for worker in &self.workers {
            worker.blocks.send(block.clone()).map_err(|_| stopped())?;
        }
        let lines = self.workers.iter().map(|_| None).collect();
        self.in_flight.push_back((block, lines));
        while self.in_flight.len() >= BLOCKS_IN_FLIGHT {
            self.write_oldest(true)?;
        }
        Ok(())
    }

    /// Writes the oldest block's lines, interleaved, once every pipeline gave them back
    /// (waiting for them when `wait`); returns whether it did.
    fn write_oldest(&mut self, wait: bool) -> io::Result<bool> {
        let Some((_, lines)) = self.in_flight.front_mut() else {
            return Ok(false);
        };
        for ((worker, slot), counts) in self.workers.iter().zip(lines).zip(&mut self.counts) {
            if slot.is_some() {
                continue;
            }
            let received = match wait {
                true => worker.lines.recv().map_err(|_| stopped())?,
                false => match worker.lines.try_recv() {
                    Ok(received) => received,
                    Err(TryRecvError::Empty) => return Ok(false),
                    Err(TryRecvError::Disconnected) => return Err(stopped()),
                },
            };
            (*slot, *counts) = (Some(received.0), received.1);
        }
        let Some((block, lines)) = self.in_flight.pop_front() else {
            return Ok(false);
        };
        let mut by_thread: Vec<ThreadLines> = lines.into_iter().flatten().collect();
        let formats = by_thread.first().map_or(0, Vec::len);
        if self.gathered.len() < formats {
            self.gathered.resize_with(formats, Lines::default);
        }
        for format in 0..formats {
            let parts: Vec<Batch> = by_thread
                .iter_mut()
                .map(|batches| std::mem::take(&mut batches[format]))
                .collect();
            let queues = &mut self.queues;
            let mut sent = Ok(());
            self.gathered[format].interleave(parts, |piece| {
                if sent.is_ok() {
                    sent = queues.hand(format, piece);
                }
            });
            sent?;
        }
        if let Ok(mut block) = Arc::try_unwrap(block) {
            block.frames.clear();
            block.tick_ns = None;
            self.spare.push(block);
        }
        Ok(true)
    }

    /// The pipelines' counts summed, as of the last block each gave back.
    pub fn summary(&self) -> Summary {
        let mut summary = Summary::default();
        for counts in &self.counts {
            summary.absorb(counts.summary.clone());
        }
        summary
    }

    /// Frames without a known owning task, as of the last block each pipeline gave back.
    pub fn unowned(&self) -> u64 {
        self.counts.iter().map(|c| c.unowned).sum()
    }

    /// Hands out the last frames, writes every block, ends the threads; returns what they
    /// counted and the first failure to write.
    pub fn close(mut self) -> Ending {
        let mut written = self.dispatch().and_then(|()| {
            while self.write_oldest(true)? {}
            self.send_gathered()
        });
        let mut ending = Ending::of(ThreadEnd::default());
        for Worker {
            blocks,
            lines,
            thread,
        } in self.workers
        {
            // Closing its queues ends the thread.
            drop((blocks, lines));
            match thread.join() {
                Ok(Ok(end)) => ending.absorb(end),
                Ok(Err(e)) => written = written.and(Err(e)),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        ending.written = written;
        ending
    }
}

/// A pipeline's thread (the `thread`-th): handles its frames of each block, then the
/// block's tick, and gives back the block's lines (one batch per format) and its counts;
/// returns at the end of the blocks, its flows ended as of the last frame of any thread.
fn handle_blocks(
    mut pipeline: Pipeline,
    thread: u32,
    blocks: Receiver<Arc<Block>>,
    lines: SyncSender<(ThreadLines, ThreadCounts)>,
) -> io::Result<ThreadEnd> {
    let mut last_ns = 0;
    for block in blocks {
        for (at, frame) in block.frames.frames_of(thread) {
            pipeline.handle(&frame)?;
            pipeline.end_frame(at);
        }
        last_ns = last_ns.max(block.frames.last_timestamp_ns());
        if let Some(now_ns) = block.tick_ns {
            pipeline.tick(now_ns);
            // The tick's lines come after every frame's of the block.
            pipeline.end_frame(u32::MAX);
        }
        // Let go of the block first: the source's thread reuses it once every pipeline has.
        drop(block);
        if lines
            .send((pipeline.take_batches(), ThreadCounts::of(&pipeline)))
            .is_err()
        {
            break;
        }
    }
    let (end, tapped) = ThreadEnd::of(&mut pipeline, last_ns);
    tapped.map(|()| end)
}

/// A pipeline's thread ended early: its own error is reported when it is joined.
fn stopped() -> io::Error {
    io::Error::other("a decoding thread stopped")
}
