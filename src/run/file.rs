//! File mode: every frame of a capture file through the pipeline, then the summary.

use std::io;
use std::ops::ControlFlow;
use std::path::Path;
use std::process::ExitCode;

use crate::pipeline::Pipeline;
use crate::source::file::read_capture;

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
    match write_error.map_or(flushed.and(closed), Err) {
        Ok(()) => {}
        // A closed pipe (`netcore … | head`) is the reader's choice, not a failure.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return ExitCode::SUCCESS,
        Err(e) => {
            note!("netcore: writing events: {e}");
            return ExitCode::FAILURE;
        }
    }
    // A file that is no capture at all gets its error alone, no "0 packets read".
    if result.is_ok() || summary.packets > 0 {
        note!("netcore: {}: {summary}", path.display());
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
