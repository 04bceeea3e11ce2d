//! `--threads`: several pipelines on threads of their own, each handling a share of the
//! flows ([`Shard`]). The source's thread copies frames into blocks that every pipeline
//! reads, and interleaves the pipelines' lines of each block back into the frames' order
//! (without copying them, [`Lines::interleave`]) before the outputs get them: what the
//! outputs receive is what one pipeline would have written, in the same order.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::io;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::thread::JoinHandle;

use super::{ContainerReport, Pipeline, Shard, Summary};
use crate::encode::{Batch, Lines};
use crate::sink::{OutputQueues, OutputReport, Outputs};
use crate::source::Frame;
use crate::source::block::FrameBlock;

/// Blocks handed out whose lines are not all written yet: bounds the frames and lines
/// held (a block is ≤ 1 MiB of frames, see [`FrameBlock`]).
const BLOCKS_IN_FLIGHT: usize = 4;

/// The stages after the source: one pipeline, or several sharing the flows.
pub enum Pipelines {
    /// Everything on the source's thread.
    One(Box<Pipeline>),
    /// Decoding on threads of their own.
    Sharded(Box<Sharded>),
}

/// What a run's pipelines counted and wrote, at its end.
pub struct Ending {
    /// The counts.
    pub summary: Summary,
    /// The containers' runtime lookups (summed over the pipelines).
    pub containers: ContainerReport,
    /// Frames without a known owning task.
    pub unowned: u64,
    /// Task- and container-table entries evicted because a table was full.
    pub evicted: u64,
    /// What became of each output's events.
    pub outputs: OutputReport,
    /// The first failure to write, if any.
    pub written: io::Result<()>,
}

impl Pipelines {
    /// How many threads decode.
    pub fn threads(&self) -> usize {
        match self {
            Pipelines::One(_) => 1,
            Pipelines::Sharded(sharded) => sharded.workers.len(),
        }
    }

    /// The queues of the outputs, for other threads to write into (host mode on several
    /// threads: only with one pipeline here).
    pub fn output_queues(&self) -> Option<OutputQueues> {
        match self {
            Pipelines::One(pipeline) => pipeline.output_queues(),
            Pipelines::Sharded(_) => None,
        }
    }

    /// Handles one frame.
    pub fn handle(&mut self, frame: &Frame<'_>) -> io::Result<()> {
        match self {
            Pipelines::One(pipeline) => pipeline.handle(frame),
            Pipelines::Sharded(sharded) => sharded.handle(frame),
        }
    }

    /// Learns the names of a DNS answer another thread handles (host mode's copies, which
    /// only a live run's one pipeline here gets).
    pub fn learn_names(&mut self, frame: &Frame<'_>) {
        match self {
            Pipelines::One(pipeline) => pipeline.learn_names(frame),
            // Sharded pipelines read files and single-queue AF_XDP: no copies there (flow
            // events keep one pipeline in those modes).
            Pipelines::Sharded(_) => {}
        }
    }

    /// Whether `-c COUNT` packets with events have been written (one pipeline only: a
    /// count needs every flow in one place).
    pub fn done(&self) -> bool {
        match self {
            Pipelines::One(pipeline) => pipeline.done(),
            Pipelines::Sharded(_) => false,
        }
    }

    /// Writes out what is ready: everything with one pipeline; with several, the frames
    /// read so far go to the threads and the blocks they are done with are written.
    pub fn flush(&mut self) -> io::Result<()> {
        match self {
            Pipelines::One(pipeline) => pipeline.flush(),
            Pipelines::Sharded(sharded) => sharded.flush(),
        }
    }

    /// The live modes' tick (flow records, evidence): see [`Pipeline::tick`]. Sharded
    /// pipelines have neither.
    pub fn tick(&mut self, now_ns: u64) {
        if let Pipelines::One(pipeline) = self {
            pipeline.tick(now_ns);
        }
    }

    /// The counts so far (with several pipelines: as of the last block each handed back).
    pub fn summary(&self) -> Cow<'_, Summary> {
        match self {
            Pipelines::One(pipeline) => Cow::Borrowed(&pipeline.summary),
            Pipelines::Sharded(sharded) => Cow::Owned(sharded.summary()),
        }
    }

    /// Frames without a known owning task so far.
    pub fn unowned(&self) -> u64 {
        match self {
            Pipelines::One(pipeline) => pipeline.unowned(),
            Pipelines::Sharded(sharded) => sharded.counts.iter().map(|c| c.unowned).sum(),
        }
    }

    /// The outputs' counters as they are now.
    pub fn outputs_now(&self) -> OutputReport {
        match self {
            Pipelines::One(pipeline) => pipeline.outputs_now(),
            Pipelines::Sharded(sharded) => sharded.outputs.report(),
        }
    }

    /// SIGHUP: signatures read their configuration again, file outputs reopen.
    pub fn hang_up(&mut self) {
        match self {
            Pipelines::One(pipeline) => {
                pipeline.reload_signatures();
                pipeline.reopen_outputs();
            }
            Pipelines::Sharded(sharded) => sharded.outputs.reopen(),
        }
    }

    /// Ends the run as of `now_ns` (flow records, the last packet's time in file mode):
    /// writes everything out, waits for the outputs (bounded), and says what happened.
    pub fn close(self, now_ns: u64) -> Ending {
        match self {
            Pipelines::One(mut pipeline) => {
                pipeline.finish(now_ns);
                let containers = pipeline.containers();
                let (unowned, evicted) = (pipeline.unowned(), pipeline.tables_evicted());
                let flushed = pipeline.flush();
                let (summary, outputs, closed) = pipeline.close();
                Ending {
                    summary,
                    containers,
                    unowned,
                    evicted,
                    outputs,
                    written: flushed.and(closed),
                }
            }
            Pipelines::Sharded(sharded) => sharded.close(),
        }
    }
}

/// Pipelines on threads of their own, fed blocks of frames by the source's thread.
pub struct Sharded {
    workers: Vec<Worker>,
    outputs: Outputs,
    /// The block being filled.
    filling: FrameBlock,
    /// Blocks handed out, oldest first, with the lines each pipeline gave back so far.
    in_flight: VecDeque<(Arc<FrameBlock>, Vec<Option<ShardLines>>)>,
    /// Blocks written, emptied for reuse.
    spare: Vec<FrameBlock>,
    /// Each pipeline's counts, as of the last block it gave back.
    counts: Vec<ShardCounts>,
    /// Per format, lines written back but not yet handed to the outputs: they get pieces
    /// of about a batch's size, as from one pipeline.
    gathered: Vec<Lines>,
}

/// One pipeline's lines of a block: a batch per format.
type ShardLines = Vec<Batch>;

/// One pipeline's thread and its queues: blocks to it, each block's lines back (in order).
struct Worker {
    blocks: SyncSender<Arc<FrameBlock>>,
    lines: Receiver<(ShardLines, ShardCounts)>,
    thread: JoinHandle<io::Result<ShardEnd>>,
}

/// A pipeline's counts, as a thread of its own reports them (with each block's lines,
/// or as it goes in host mode).
#[derive(Debug, Clone, Default)]
pub struct ShardCounts {
    /// The pipeline's summary.
    pub summary: Summary,
    /// Frames without a known owning task.
    pub unowned: u64,
    /// Task- and container-table entries evicted.
    pub evicted: u64,
}

impl ShardCounts {
    /// `pipeline`'s counts now.
    pub fn of(pipeline: &Pipeline) -> Self {
        ShardCounts {
            summary: pipeline.summary.clone(),
            unowned: pipeline.unowned(),
            evicted: pipeline.tables_evicted(),
        }
    }
}

/// What a pipeline's thread returns when it ends.
pub struct ShardEnd {
    /// Its last counts.
    pub counts: ShardCounts,
    /// Its containers' runtime lookups.
    pub containers: ContainerReport,
}

impl ShardEnd {
    /// Ends `pipeline`'s flows as of `now_ns` and takes its counts.
    pub fn of(pipeline: &mut Pipeline, now_ns: u64) -> Self {
        pipeline.finish(now_ns);
        ShardEnd {
            counts: ShardCounts::of(pipeline),
            containers: pipeline.containers(),
        }
    }
}

impl Ending {
    /// Adds what a pipeline's thread counted.
    pub fn absorb(&mut self, end: ShardEnd) {
        self.summary.absorb(end.counts.summary);
        self.unowned += end.counts.unowned;
        self.evicted += end.counts.evicted;
        self.containers.absorb(end.containers);
    }
}

/// Builds a pipeline on the thread it will run on (where it stays).
pub type Builder = Box<dyn FnOnce() -> Pipeline + Send>;

impl Sharded {
    /// Starts one thread per pipeline `builders` build (without outputs), each
    /// [`Pipeline::sharded`] to its share of the flows, writing to `outputs`.
    pub fn start(builders: Vec<Builder>, outputs: Outputs) -> io::Result<Self> {
        let count = builders.len();
        let workers = builders
            .into_iter()
            .enumerate()
            .map(|(index, build)| {
                let (blocks, blocks_in) = sync_channel(BLOCKS_IN_FLIGHT);
                let (lines_out, lines) = sync_channel(BLOCKS_IN_FLIGHT);
                let shard = Shard { index, count };
                let thread = std::thread::Builder::new()
                    .name(format!("netcore-shard{index}"))
                    .spawn(move || handle_blocks(build().sharded(shard), blocks_in, lines_out))?;
                Ok(Worker {
                    blocks,
                    lines,
                    thread,
                })
            })
            .collect::<io::Result<Vec<_>>>()?;
        Ok(Sharded {
            counts: vec![ShardCounts::default(); workers.len()],
            workers,
            outputs,
            filling: FrameBlock::default(),
            in_flight: VecDeque::new(),
            spare: Vec::new(),
            gathered: Vec::new(),
        })
    }

    fn handle(&mut self, frame: &Frame<'_>) -> io::Result<()> {
        self.filling.push(frame);
        if self.filling.is_full() {
            self.dispatch()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.dispatch()?;
        while self.write_oldest(false)? {}
        self.send_gathered()
    }

    /// Hands the outputs what is gathered, however little.
    fn send_gathered(&mut self) -> io::Result<()> {
        for (format, lines) in self.gathered.iter_mut().enumerate() {
            if !lines.is_empty() {
                self.outputs.send_format(format, std::mem::take(lines))?;
            }
        }
        Ok(())
    }

    /// Hands the block being filled to every pipeline; waits for the oldest blocks' lines
    /// while [`BLOCKS_IN_FLIGHT`] are out.
    fn dispatch(&mut self) -> io::Result<()> {
        if self.filling.is_empty() {
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
        let mut by_shard: Vec<ShardLines> = lines.into_iter().flatten().collect();
        let formats = by_shard.first().map_or(0, Vec::len);
        if self.gathered.len() < formats {
            self.gathered.resize_with(formats, Lines::default);
        }
        for format in 0..formats {
            let parts: Vec<Batch> = by_shard
                .iter_mut()
                .map(|batches| std::mem::take(&mut batches[format]))
                .collect();
            let outputs = &mut self.outputs;
            let mut sent = Ok(());
            self.gathered[format].interleave(parts, |piece| {
                if sent.is_ok() {
                    sent = outputs.send_format(format, piece);
                }
            });
            sent?;
        }
        if let Ok(mut block) = Arc::try_unwrap(block) {
            block.clear();
            self.spare.push(block);
        }
        Ok(true)
    }

    /// The pipelines' counts summed.
    fn summary(&self) -> Summary {
        let mut summary = Summary::default();
        for counts in &self.counts {
            summary.absorb(counts.summary.clone());
        }
        summary
    }

    /// Hands out the last frames, writes every block, ends the threads and the outputs.
    fn close(mut self) -> Ending {
        let mut written = self.dispatch().and_then(|()| {
            while self.write_oldest(true)? {}
            self.send_gathered()
        });
        let Sharded {
            workers, outputs, ..
        } = self;
        let mut ending = Ending {
            summary: Summary::default(),
            containers: ContainerReport::default(),
            unowned: 0,
            evicted: 0,
            outputs: OutputReport::default(),
            written: Ok(()),
        };
        for Worker {
            blocks,
            lines,
            thread,
        } in workers
        {
            // Closing its queues ends the thread.
            drop((blocks, lines));
            match thread.join() {
                Ok(Ok(end)) => ending.absorb(end),
                Ok(Err(e)) => written = written.and(Err(e)),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        let (report, closed) = outputs.close();
        ending.outputs = report;
        ending.written = written.and(closed);
        ending
    }
}

/// A pipeline's thread: handles its flows' frames of each block, gives back the block's
/// lines (one batch per format) and its counts; returns at the end of the blocks.
fn handle_blocks(
    mut pipeline: Pipeline,
    blocks: Receiver<Arc<FrameBlock>>,
    lines: SyncSender<(ShardLines, ShardCounts)>,
) -> io::Result<ShardEnd> {
    for block in blocks {
        for (index, frame) in block.frames().enumerate() {
            pipeline.handle(&frame)?;
            pipeline.end_frame(index as u32);
        }
        // Let go of the block first: the source's thread reuses it once every pipeline has.
        drop(block);
        if lines
            .send((pipeline.take_batches(), ShardCounts::of(&pipeline)))
            .is_err()
        {
            break;
        }
    }
    let last = pipeline.last_timestamp_ns();
    Ok(ShardEnd::of(&mut pipeline, last))
}

/// A pipeline's thread ended early: its own error is reported when it is joined.
fn stopped() -> io::Error {
    io::Error::other("a decoding thread stopped")
}
