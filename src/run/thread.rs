//! A decoding thread's pieces, whatever made it: how it builds its pipeline
//! ([`Builder`]), what it reports as it goes ([`ThreadCounts`]) and at its end
//! ([`ThreadEnd`]), and the run's [`Ending`] that sums them.

use std::io;

use crate::pipeline::{ContainerReport, Pipeline, Summary};
use crate::sink::{OutputQueues, OutputReport};

/// Builds a pipeline on the thread it will run on (where it stays), handing its events to
/// the output given (none: its caller takes them).
pub type Builder = Box<dyn FnOnce(Option<OutputQueues>) -> Pipeline + Send>;

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

/// A pipeline's counts, as a thread of its own reports them (with each block's lines,
/// or as it goes in live modes).
#[derive(Debug, Clone, Default)]
pub struct ThreadCounts {
    /// The pipeline's summary.
    pub summary: Summary,
    /// Frames without a known owning task.
    pub unowned: u64,
    /// Task- and container-table entries evicted.
    pub evicted: u64,
}

impl ThreadCounts {
    /// `pipeline`'s counts now.
    pub fn of(pipeline: &Pipeline) -> Self {
        ThreadCounts {
            summary: pipeline.summary.clone(),
            unowned: pipeline.unowned(),
            evicted: pipeline.tables_evicted(),
        }
    }
}

/// What a pipeline's thread returns when it ends.
#[derive(Default)]
pub struct ThreadEnd {
    /// Its last counts.
    pub counts: ThreadCounts,
    /// Its containers' runtime lookups.
    pub containers: ContainerReport,
}

impl ThreadEnd {
    /// Ends `pipeline`'s flows as of `now_ns`, writes out its taps (so that what they
    /// lost is counted) and takes its counts; with the taps' error, if any.
    pub fn of(pipeline: &mut Pipeline, now_ns: u64) -> (Self, io::Result<()>) {
        pipeline.finish(now_ns);
        let tapped = pipeline.flush_taps();
        let end = ThreadEnd {
            counts: ThreadCounts::of(pipeline),
            containers: pipeline.containers(),
        };
        (end, tapped)
    }
}

impl Ending {
    /// What one pipeline ended with, nothing written yet.
    pub fn of(end: ThreadEnd) -> Self {
        Ending {
            summary: end.counts.summary,
            containers: end.containers,
            unowned: end.counts.unowned,
            evicted: end.counts.evicted,
            outputs: OutputReport::default(),
            written: Ok(()),
        }
    }

    /// Adds what another pipeline's thread counted.
    pub fn absorb(&mut self, end: ThreadEnd) {
        self.summary.absorb(end.counts.summary);
        self.unowned += end.counts.unowned;
        self.evicted += end.counts.evicted;
        self.containers.absorb(end.containers);
    }
}
