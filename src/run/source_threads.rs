//! Live modes on several threads, where the source itself is split by flow. Host mode:
//! the capture programs spread packets over one ring buffer per decoding thread, by a hash
//! of their flow that is the same both ways ([`netcore_core::abi::rings::ring_of`]).
//! AF_XDP mode with several rx queues: the NIC spreads frames over its queues (RSS), and
//! each thread reads the sockets of some queues. Each thread drains its part in place with
//! a pipeline of its own (reassembly included) and hands its batches straight to the
//! outputs' queues. No thread copies frames for another and nothing is locked per frame;
//! a flow's events keep their order, and the flows of different threads interleave in the
//! order their batches reach the outputs.
//!
//! The run's own thread drains the first part ([`super::live`]); [`SourceThreads`] are
//! the others.

use netcore_core::flow::failure::SocketReport;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use super::FLUSH_EVERY;
use super::thread::{Builder, ThreadCounts, ThreadEnd};
use crate::pipeline::Pipeline;
use crate::sink::OutputQueues;
use crate::source::{Frame, FrameHandler, LiveSource, SourceStats, Wake, wall_clock_ns};

/// The decoding threads of the parts of a source after the first, running until told to
/// stop (or SIGINT/SIGTERM, which each sees too).
pub struct SourceThreads<S> {
    threads: Vec<SourceThread<S>>,
    stop: Arc<AtomicBool>,
}

/// One part's thread, and its counts as of its last flush.
struct SourceThread<S> {
    handle: JoinHandle<io::Result<(ThreadEnd, S)>>,
    counts: Arc<Mutex<ThreadCounts>>,
}

impl<S: LiveSource> SourceThreads<S> {
    /// Starts a thread per source of `sources`, with the pipeline the builder of the same
    /// index builds, handing batches to `queues`.
    pub fn start(
        builders: Vec<Builder>,
        sources: Vec<S>,
        queues: &OutputQueues,
    ) -> io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = builders
            .into_iter()
            .zip(sources)
            .enumerate()
            .map(|(index, (build, source))| {
                let counts = Arc::new(Mutex::new(ThreadCounts::default()));
                let (queues, stop, published) = (queues.clone(), stop.clone(), counts.clone());
                let handle = std::thread::Builder::new()
                    .name(format!("netcore-part{}", index + 1))
                    .spawn(move || {
                        let drain = Drain {
                            pipeline: build(Some(queues)),
                            counts: published,
                            stop,
                            last_flush: Instant::now(),
                        };
                        drain.run(source)
                    })?;
                Ok(SourceThread { handle, counts })
            })
            .collect::<io::Result<_>>()?;
        Ok(SourceThreads { threads, stop })
    }

    /// How many threads there are.
    pub fn len(&self) -> usize {
        self.threads.len()
    }

    /// Each thread's counts, as of its last flush (at most [`FLUSH_EVERY`] old while it
    /// polls).
    pub fn counts(&self) -> Vec<ThreadCounts> {
        self.threads
            .iter()
            .map(|t| t.counts.lock().map(|c| c.clone()).unwrap_or_default())
            .collect()
    }

    /// Whether a thread has ended on its own (an output failed, its reader left, a
    /// signal): then the run ends; the cause comes with [`SourceThreads::stop`].
    pub fn any_ended(&self) -> bool {
        self.threads.iter().any(|t| t.handle.is_finished())
    }

    /// Stops every thread once it has handed over what it holds; returns what each
    /// counted and its source (for the source's own counts), or why it failed.
    pub fn stop(self) -> Vec<io::Result<(ThreadEnd, S)>> {
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

/// What a part's thread runs: its pipeline (which hands its batches to the outputs'
/// queues), and where it publishes its counts.
struct Drain {
    pipeline: Pipeline,
    counts: Arc<Mutex<ThreadCounts>>,
    stop: Arc<AtomicBool>,
    last_flush: Instant,
}

impl Drain {
    /// Drains `source` until told to stop, then ends the pipeline's flows and hands over
    /// the last batches.
    fn run<S: LiveSource>(mut self, mut source: S) -> io::Result<(ThreadEnd, S)> {
        let outcome = source.run(&mut self);
        let (end, tapped) = ThreadEnd::of(&mut self.pipeline, wall_clock_ns());
        let handed = self.pipeline.flush();
        outcome?;
        tapped?;
        handed?;
        Ok((end, source))
    }

    /// Hands over what is encoded and publishes the counts: at most every
    /// [`FLUSH_EVERY`], not per batch, since copying the counts is not free.
    fn flush(&mut self) -> io::Result<()> {
        let sent = self.pipeline.flush();
        if let Ok(mut counts) = self.counts.lock() {
            *counts = ThreadCounts::of(&self.pipeline);
        }
        self.last_flush = Instant::now();
        sent
    }
}

impl FrameHandler for Drain {
    fn frame(&mut self, frame: &Frame<'_>) -> io::Result<()> {
        self.pipeline.handle(frame)
    }

    fn learn_names(&mut self, frame: &Frame<'_>) {
        self.pipeline.learn_names(frame);
    }

    fn socket_report(&mut self, frame: &Frame<'_>, report: SocketReport) -> io::Result<()> {
        self.pipeline.socket_report(frame, report)
    }

    fn wake(&mut self, wake: Wake, _: &dyn SourceStats) -> io::Result<()> {
        match wake {
            Wake::Polled if self.last_flush.elapsed() < FLUSH_EVERY => Ok(()),
            Wake::Polled | Wake::Hangup => self.flush(),
            Wake::Tick => {
                self.pipeline.tick(wall_clock_ns());
                Ok(())
            }
        }
    }

    fn finished(&self) -> bool {
        self.stop.load(Relaxed) || self.pipeline.done()
    }
}
