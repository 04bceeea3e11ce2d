//! File mode: every frame of a capture file through the pipeline, then the summary.

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use crate::pipeline::Pipeline;
use crate::source::file::read_capture;

/// Decodes every frame of the capture at `path`.
pub fn run<W: Write>(path: &Path, mut pipeline: Pipeline<W>) -> ExitCode {
    let mut write_error = None;
    let result = read_capture(path, |frame| {
        if write_error.is_none()
            && let Err(e) = pipeline.handle(&frame)
        {
            write_error = Some(e);
        }
    });
    let flushed = pipeline.flush();
    match write_error.map_or(flushed, Err) {
        Ok(()) => {}
        // A closed pipe (`netcore … | head`) is the reader's choice, not a failure.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("netcore: writing events: {e}");
            return ExitCode::FAILURE;
        }
    }
    let _ = writeln!(
        io::stderr(),
        "netcore: {}: {}",
        path.display(),
        pipeline.summary
    );
    match result {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("netcore: error: {e}");
            ExitCode::FAILURE
        }
    }
}
