//! File mode: every frame of a capture file through the pipeline, then the summary. With
//! `--threads N`, N pipelines each handle a share of the flows and their lines are put
//! back in the capture's order.

use std::collections::VecDeque;
use std::io;
use std::ops::ControlFlow;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use crate::encode::{Batch, Lines};
use crate::pipeline::{Pipeline, Summary};
use crate::sink::{OutputReport, Outputs};
use crate::source::block::FrameBlock;
use crate::source::file::{FileError, read_capture};

/// Decodes every frame of the capture at `path` (`-`: standard input).
pub fn run(path: &Path, mut pipeline: Pipeline) -> ExitCode {
    let mut write_error = None;
    let result = read_capture(path, |frame| {
        if let Err(e) = pipeline.handle(&frame) {
            write_error = Some(e);
            return ControlFlow::Break(());
        }
        if pipeline.done() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    if write_error.is_none() {
        pipeline.finish(pipeline.last_timestamp_ns());
    }
    let flushed = pipeline.flush();
    let (summary, outputs, closed) = pipeline.close();
    let written = write_error.map_or(flushed.and(closed), Err);
    report(path, result, written, &summary, &outputs, 1)
}

/// Blocks of frames read ahead of the oldest one whose lines are not written yet: bounds
/// the frames and lines held (a block is ≤ 1 MiB of frames, see [`FrameBlock`]).
const BLOCKS_IN_FLIGHT: usize = 4;

/// Decodes every frame of the capture at `path` on one thread per pipeline `shards`
/// build (each [`Pipeline::sharded`], without outputs; built on its thread), and writes
/// their lines to `outputs` in the capture's order: this thread reads blocks of frames,
/// every shard reads every block and handles its flows' frames, and the shards' lines of
/// a block are interleaved frame by frame ([`Lines::interleave`]).
pub fn run_sharded<B>(path: &Path, shards: Vec<B>, mut outputs: Outputs) -> ExitCode
where
    B: FnOnce() -> Pipeline + Send,
{
    let mut summary = Summary::default();
    let threads = shards.len();
    let (result, written) = std::thread::scope(|scope| {
        let mut workers = Vec::new();
        let threads: Vec<_> = shards
            .into_iter()
            .enumerate()
            .map(|(index, build)| {
                let (blocks, blocks_in) = sync_channel(BLOCKS_IN_FLIGHT);
                let (lines_out, lines) = sync_channel(BLOCKS_IN_FLIGHT);
                workers.push(Worker { blocks, lines });
                std::thread::Builder::new()
                    .name(format!("netcore-shard{index}"))
                    .spawn_scoped(scope, move || handle_blocks(build(), blocks_in, lines_out))
                    .expect("spawning a decoding thread")
            })
            .collect();
        let mut reader = BlockReader {
            workers,
            outputs: &mut outputs,
            in_flight: VecDeque::new(),
            spare: Vec::new(),
        };
        let mut block = FrameBlock::default();
        let mut write_error = None;
        let result = read_capture(path, |frame| {
            block.push(&frame);
            if block.is_full() {
                let next = reader.spare.pop().unwrap_or_default();
                if let Err(e) = reader.dispatch(std::mem::replace(&mut block, next)) {
                    write_error = Some(e);
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        });
        let mut written = match write_error {
            Some(e) => Err(e),
            None => reader.dispatch(block).and_then(|()| reader.drain()),
        };
        // Closing the block queues ends the threads.
        drop(reader);
        for thread in threads {
            match thread.join() {
                Ok(Ok(shard)) => summary.absorb(shard),
                Ok(Err(e)) => written = written.and(Err(e)),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        (result, written)
    });
    let (report_of_outputs, closed) = outputs.close();
    report(
        path,
        result,
        written.and(closed),
        &summary,
        &report_of_outputs,
        threads,
    )
}

/// One decoding thread's queues: blocks to it, each block's lines from it (in order).
struct Worker {
    blocks: SyncSender<Arc<FrameBlock>>,
    lines: Receiver<Vec<Batch>>,
}

/// A shard's thread: handles its flows' frames of each block, hands back the block's
/// lines (one batch per format); returns its counts when the blocks end.
fn handle_blocks(
    mut pipeline: Pipeline,
    blocks: Receiver<Arc<FrameBlock>>,
    lines: SyncSender<Vec<Batch>>,
) -> io::Result<Summary> {
    for block in blocks {
        for (index, frame) in block.frames().enumerate() {
            pipeline.handle(&frame)?;
            pipeline.end_frame(index as u32);
        }
        // Let go of the block first: the reader reuses it once every shard has.
        drop(block);
        if lines.send(pipeline.take_batches()).is_err() {
            break;
        }
    }
    pipeline.finish(pipeline.last_timestamp_ns());
    Ok(pipeline.close().0)
}

/// The reading thread's side: hands each block to every shard and writes the
/// interleaved lines of the oldest block once [`BLOCKS_IN_FLIGHT`] are out.
struct BlockReader<'o> {
    workers: Vec<Worker>,
    outputs: &'o mut Outputs,
    /// Blocks handed out whose lines are not written yet, oldest first.
    in_flight: VecDeque<Arc<FrameBlock>>,
    /// Blocks written, emptied for reuse.
    spare: Vec<FrameBlock>,
}

impl BlockReader<'_> {
    fn dispatch(&mut self, block: FrameBlock) -> io::Result<()> {
        if block.is_empty() {
            return Ok(());
        }
        let block = Arc::new(block);
        for worker in &self.workers {
            worker.blocks.send(block.clone()).map_err(|_| stopped())?;
        }
        self.in_flight.push_back(block);
        while self.in_flight.len() >= BLOCKS_IN_FLIGHT {
            self.write_oldest()?;
        }
        Ok(())
    }

    /// Waits for the oldest block's lines from every shard and writes them interleaved.
    fn write_oldest(&mut self) -> io::Result<()> {
        let Some(block) = self.in_flight.pop_front() else {
            return Ok(());
        };
        let mut by_shard = Vec::with_capacity(self.workers.len());
        for worker in &self.workers {
            by_shard.push(worker.lines.recv().map_err(|_| stopped())?);
        }
        let formats = by_shard.first().map_or(0, Vec::len);
        for format in 0..formats {
            let parts: Vec<Batch> = by_shard
                .iter_mut()
                .map(|batches| std::mem::take(&mut batches[format]))
                .collect();
            for piece in Lines::interleave(parts) {
                self.outputs.send_format(format, piece)?;
            }
        }
        if let Ok(mut block) = Arc::try_unwrap(block) {
            block.clear();
            self.spare.push(block);
        }
        Ok(())
    }

    fn drain(&mut self) -> io::Result<()> {
        while !self.in_flight.is_empty() {
            self.write_oldest()?;
        }
        Ok(())
    }
}

/// A decoding thread ended early: its own error is reported when it is joined.
fn stopped() -> io::Error {
    io::Error::other("a decoding thread stopped")
}

/// Reports the end of a run on `threads` threads: the summary (unless the file was no
/// capture at all), the outputs' counts, the first failure. A closed pipe (`netcore … |
/// head`) is the reader's choice, not a failure.
fn report(
    path: &Path,
    result: Result<u64, FileError>,
    written: io::Result<()>,
    summary: &Summary,
    outputs: &OutputReport,
    threads: usize,
) -> ExitCode {
    match written {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return ExitCode::SUCCESS,
        Err(e) => {
            note!("netcore: writing events: {e}");
            return ExitCode::FAILURE;
        }
    }
    // A file that is no capture at all gets its error alone, no "0 packets read".
    if result.is_ok() || summary.packets > 0 {
        let on = match threads {
            1 => String::new(),
            n => format!("; decoded on {n} threads"),
        };
        note!("netcore: {}: {summary}{on}", path.display());
    }
    if outputs.worth_reporting() {
        note!("netcore: outputs: {outputs}");
    }
    match result {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            note!("netcore: error: {e}");
            ExitCode::FAILURE
        }
    }
}
