//! The stages after the source, as a run drives them: one pipeline on the source's
//! thread, or several on threads of their own sharing the flows ([`Sharded`]); and the
//! outputs every pipeline of the run hands its events to.

use netcore_core::flow::failure::SocketReport;
use std::borrow::Cow;
use std::io;
use std::sync::Arc;

use super::sharded::Sharded;
use super::thread::{Builder, Ending, ThreadEnd};
use crate::pipeline::{PacketCount, Pipeline, Summary};
use crate::sink::{OutputQueues, OutputReport, Outputs, metrics};
use crate::source::Frame;

/// The pipelines of a run on the source's thread, and the run's outputs.
pub struct Pipelines {
    decoding: Decoding,
    outputs: Outputs,
    /// `-c COUNT`, shared by every pipeline of the run.
    count: Option<Arc<PacketCount>>,
}

/// Where the frames the source's thread reads are decoded.
enum Decoding {
    /// On the source's thread.
    One(Box<Pipeline>),
    /// On threads of their own, each handling its share of the flows.
    Sharded(Box<Sharded>),
}

impl Pipelines {
    /// `pipeline` on the source's thread, handing its events to `outputs` (through its
    /// own clone of their queues); `count` is the run's `-c`.
    pub fn one(pipeline: Pipeline, outputs: Outputs, count: Option<Arc<PacketCount>>) -> Self {
        Pipelines {
            decoding: Decoding::One(Box::new(pipeline)),
            outputs,
            count,
        }
    }

    /// The pipelines `builders` build (without an output), each on a thread of its own
    /// with its share of the flows, their events put back in the frames' order for
    /// `outputs`; `count` is the run's `-c`.
    pub fn sharded(
        builders: Vec<Builder>,
        outputs: Outputs,
        count: Option<Arc<PacketCount>>,
    ) -> io::Result<Self> {
        let sharded = Sharded::start(builders, outputs.queues())?;
        Ok(Pipelines {
            decoding: Decoding::Sharded(Box::new(sharded)),
            outputs,
            count,
        })
    }

    /// How many threads decode the frames this thread reads.
    pub fn threads(&self) -> usize {
        match &self.decoding {
            Decoding::One(_) => 1,
            Decoding::Sharded(sharded) => sharded.threads(),
        }
    }

    /// The outputs' queues, for the pipelines of other threads to hand their events to.
    pub fn output_queues(&self) -> OutputQueues {
        self.outputs.queues()
    }

    /// Handles one frame.
    pub fn handle(&mut self, frame: &Frame<'_>) -> io::Result<()> {
        match &mut self.decoding {
            Decoding::One(pipeline) => pipeline.handle(frame),
            Decoding::Sharded(sharded) => sharded.handle(frame),
        }
    }

    /// Learns the names of a DNS answer another thread handles. Only host mode's rings
    /// carry such copies, and host mode never shards by blocks: its threads each drain a
    /// ring of their own.
    pub fn learn_names(&mut self, frame: &Frame<'_>) {
        if let Decoding::One(pipeline) = &mut self.decoding {
            pipeline.learn_names(frame);
        }
    }

    /// A local socket's report (host mode, whose threads each drain a ring of their own,
    /// as for [`Pipelines::learn_names`]).
    pub fn socket_report(&mut self, frame: &Frame<'_>, report: SocketReport) -> io::Result<()> {
        match &mut self.decoding {
            Decoding::One(pipeline) => pipeline.socket_report(frame, report),
            Decoding::Sharded(_) => Ok(()),
        }
    }

    /// Whether `-c COUNT` packets with events have been written, by every pipeline of the
    /// run.
    pub fn done(&self) -> bool {
        self.count.as_ref().is_some_and(|count| count.reached())
    }

    /// Writes out what is ready: everything with one pipeline; with several, the frames
    /// read so far go to the threads and the blocks they are done with are written.
    pub fn flush(&mut self) -> io::Result<()> {
        match &mut self.decoding {
            Decoding::One(pipeline) => pipeline.flush(),
            Decoding::Sharded(sharded) => sharded.flush(),
        }
    }

    /// The live modes' tick (flow records, evidence), at `now_ns`: see [`Pipeline::tick`].
    /// Sharded pipelines get it with the next block.
    pub fn tick(&mut self, now_ns: u64) {
        match &mut self.decoding {
            Decoding::One(pipeline) => pipeline.tick(now_ns),
            Decoding::Sharded(sharded) => sharded.tick(now_ns),
        }
    }

    /// The counts so far (with several pipelines: as of the last block each handed back).
    pub fn summary(&self) -> Cow<'_, Summary> {
        match &self.decoding {
            Decoding::One(pipeline) => Cow::Borrowed(&pipeline.summary),
            Decoding::Sharded(sharded) => Cow::Owned(sharded.summary()),
        }
    }

    /// Frames without a known owning task so far.
    pub fn unowned(&self) -> u64 {
        match &self.decoding {
            Decoding::One(pipeline) => pipeline.unowned(),
            Decoding::Sharded(sharded) => sharded.unowned(),
        }
    }

    /// The outputs' counters as they are now.
    pub fn outputs_now(&self) -> OutputReport {
        self.outputs.report()
    }

    /// Whether an output takes the run's counters (OTLP).
    pub fn want_metrics(&self) -> bool {
        self.outputs.want_metrics()
    }

    /// Hands the run's counters to the outputs that take them.
    pub fn publish_metrics(&self, sources: &metrics::Sources<'_>) {
        self.outputs.publish_metrics(sources);
    }

    /// SIGHUP: signatures read their configuration again, file outputs reopen.
    pub fn hang_up(&mut self) {
        if let Decoding::One(pipeline) = &mut self.decoding {
            // Sharded pipelines run no signatures: they need every flow in one place.
            pipeline.reload_signatures();
        }
        self.outputs.reopen();
    }

    /// Ends the run as of `now_ns` (flow records, the last packet's time in file mode):
    /// writes everything out, waits for the outputs (bounded), and says what happened.
    /// The pipelines of other threads must have handed over their last events by then.
    /// With `final_metrics` (file mode: these pipelines counted everything, and there
    /// are no kernel counters), the outputs that take the counters get the final ones.
    pub fn close(self, now_ns: u64, final_metrics: bool) -> Ending {
        let mut ending = match self.decoding {
            Decoding::One(mut pipeline) => {
                let (end, tapped) = ThreadEnd::of(&mut pipeline, now_ns);
                let mut ending = Ending::of(end);
                ending.written = tapped.and_then(|()| pipeline.flush());
                ending
            }
            Decoding::Sharded(sharded) => sharded.close(),
        };
        if final_metrics {
            self.outputs.publish_metrics(&metrics::Sources {
                summary: &ending.summary,
                kernel: None,
                kernel_costs: &[],
                unowned: ending.unowned,
                outputs: &self.outputs.report(),
                source_drops: &[],
            });
        }
        let (report, closed) = self.outputs.close();
        ending.outputs = report;
        ending.written = std::mem::replace(&mut ending.written, Ok(())).and(closed);
        ending
    }
}
