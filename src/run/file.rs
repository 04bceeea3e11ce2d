//! File mode: every frame of a capture file through the pipelines, then the summary.

use std::io;
use std::ops::ControlFlow;
use std::path::Path;
use std::process::ExitCode;

use super::pipelines::Pipelines;
use crate::source::file::read_capture;

/// Decodes every frame of the capture at `path` (`-`: standard input).
pub fn run(path: &Path, mut pipelines: Pipelines) -> ExitCode {
    let threads = pipelines.threads();
    let mut write_error = None;
    let mut last_ns = 0;
    let result = read_capture(path, |frame| {
        last_ns = last_ns.max(frame.timestamp_ns);
        if let Err(e) = pipelines.handle(&frame) {
            write_error = Some(e);
            return ControlFlow::Break(());
        }
        if pipelines.done() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    let ending = pipelines.close(last_ns, true);
    match write_error.map_or(ending.written, Err) {
        Ok(()) => {}
        // A closed pipe (`netcore … | head`) is the reader's choice, not a failure.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return ExitCode::SUCCESS,
        Err(e) => {
            note!("netcore: writing events: {e}");
            return ExitCode::FAILURE;
        }
    }
    // A file that is no capture at all gets its error alone, no "0 packets read".
    let summary = &ending.summary;
    if result.is_ok() || summary.packets > 0 {
        let on = match threads {
            1 => String::new(),
            n => format!("; decoded on {n} threads"),
        };
        note!("netcore: {}: {summary}{on}", path.display());
    }
    if ending.outputs.worth_reporting() {
        note!("netcore: outputs: {}", ending.outputs);
    }
    match result {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            note!("netcore: error: {e}");
            ExitCode::FAILURE
        }
    }
}
