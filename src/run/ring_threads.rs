//! Host mode on several threads. The capture programs spread packets over one ring buffer
//! per decoding thread, by a hash of their flow that is the same both ways
//! ([`netcore_core::abi::rings::ring_of`]), so each thread owns whole flows: it drains its
//! ring in place with a pipeline of its own (flow table and reassembly included) and hands
//! its batches straight to the outputs' queues. No thread copies frames for another and
//! nothing is locked per frame; a flow's events keep their order, and the flows of
//! different threads interleave in the order their batches reach the outputs.
//!
//! The run's own thread drains ring 0 ([`super::live`]); [`RingThreads`] are the others.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use aya::maps::{MapData, RingBuf};

use super::live::{FLUSH_EVERY, wall_clock_ns};
use crate::encode::Lines;
use crate::pipeline::{Builder, Pipeline, ShardCounts, ShardEnd};
use crate::sink::OutputQueues;
use crate::source::ring::RingSource;
use crate::source::{Frame, FrameHandler, SourceStats, Wake};

/// The decoding threads of rings 1 and up, running until told to stop (or SIGINT/SIGTERM,
/// which each sees too).
pub struct RingThreads {
    threads: Vec<RingThread>,
    stop: Arc<AtomicBool>,
}

/// One ring's thread, and its counts as of its last hand-over.
struct RingThread {
    handle: JoinHandle<io::Result<ShardEnd>>,
    counts: Arc<Mutex<ShardCounts>>,
}

impl RingThreads {
    /// Starts a thread per ring of `rings`, with the pipeline the builder of the same
    /// index builds, handing batches to `queues`; their stats tick every `tick`.
    pub fn start(
        builders: Vec<Builder>,
        rings: Vec<RingBuf<MapData>>,
        queues: &OutputQueues,
        tick: Duration,
    ) -> io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = builders
            .into_iter()
            .zip(rings)
            .enumerate()
            .map(|(index, (build, ring))| {
                let counts = Arc::new(Mutex::new(ShardCounts::default()));
                let (queues, stop, published) = (queues.clone(), stop.clone(), counts.clone());
                let handle = std::thread::Builder::new()
                    .name(format!("netcore-ring{}", index + 1))
                    .spawn(move || {
                        let source = RingSource::new(ring, tick)?;
                        let drain = RingDrain {
                            pipeline: build(),
                            queues,
                            counts: published,
                            stop,
                            last_flush: Instant::now(),
                        };
                        drain.run(source)
                    })?;
                Ok(RingThread { handle, counts })
            })
            .collect::<io::Result<_>>()?;
        Ok(RingThreads { threads, stop })
    }

    /// How many threads there are.
    pub fn len(&self) -> usize {
        self.threads.len()
    }

    /// Each thread's counts, as of its last hand-over (at most [`FLUSH_EVERY`] old).
    pub fn counts(&self) -> Vec<ShardCounts> {
        self.threads
            .iter()
            .map(|t| t.counts.lock().map(|c| c.clone()).unwrap_or_default())
            .collect()
    }

    /// Whether a thread has ended on its own (an output failed, its reader left, a
    /// signal): then the run ends; the cause comes with [`RingThreads::stop`].
    pub fn any_ended(&self) -> bool {
        self.threads.iter().any(|t| t.handle.is_finished())
    }

    /// Stops every thread once it has handed over what it holds; returns what each
    /// counted, or why it failed.
    pub fn stop(self) -> Vec<io::Result<ShardEnd>> {
        self.stop.store(true, Relaxed);
        self.threads
            .into_iter()
            .map(|t| match t.handle.join() {
                Ok(end) => end,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    }
}

/// What a ring's thread runs: its pipeline, and the outputs' queues it hands batches to.
struct RingDrain {
    pipeline: Pipeline,
    queues: OutputQueues,
    counts: Arc<Mutex<ShardCounts>>,
    stop: Arc<AtomicBool>,
    last_flush: Instant,
}

impl RingDrain {
    /// Drains `source` until told to stop, then ends the pipeline's flows and hands over
    /// the last batches.
    fn run(mut self, mut source: RingSource) -> io::Result<ShardEnd> {
        let outcome = source.run(&mut self);
        let end = ShardEnd::of(&mut self.pipeline, wall_clock_ns());
        let handed = self.hand_over();
        outcome?;
        handed?;
        if source.malformed > 0 {
            note!(
                "netcore: {} malformed ring entries on {}",
                source.malformed,
                std::thread::current().name().unwrap_or("a decoding thread")
            );
        }
        Ok(end)
    }

    /// Hands the batches encoded so far to the outputs and publishes the counts.
    fn hand_over(&mut self) -> io::Result<()> {
        let batches = self.pipeline.take_batches().into_iter().map(Lines::from);
        let sent = self.queues.send(batches);
        if let Ok(mut counts) = self.counts.lock() {
            *counts = ShardCounts::of(&self.pipeline);
        }
        self.last_flush = Instant::now();
        sent
    }
}

impl FrameHandler for RingDrain {
    fn frame(&mut self, frame: &Frame<'_>) -> io::Result<()> {
        self.pipeline.handle(frame)?;
        match self.pipeline.batches_due() {
            true => self.hand_over(),
            false => Ok(()),
        }
    }

    fn wake(&mut self, wake: Wake, _: &dyn SourceStats) -> io::Result<()> {
        match wake {
            Wake::Polled if self.last_flush.elapsed() < FLUSH_EVERY => Ok(()),
            Wake::Polled | Wake::Hangup => self.hand_over(),
            Wake::Tick => {
                self.pipeline.tick(wall_clock_ns());
                Ok(())
            }
        }
    }

    fn finished(&self) -> bool {
        self.stop.load(Relaxed)
    }
}
