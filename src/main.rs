//! `netcore`: prints one Tracee-compatible event per decoded layer of every packet.

mod cli;
mod output;
mod pipeline;
mod source;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;
use netcore_core::EventContext;

use cli::Cli;
use output::{EventWriter, Format};
use pipeline::Pipeline;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let Some(path) = cli.read.as_deref() else {
        eprintln!("netcore: live capture is not available yet; decode a capture with -r FILE");
        return ExitCode::from(2);
    };
    let format = if cli.json { Format::Json } else { Format::Text };
    let host_name = host_name();
    let stdout = io::stdout().lock();
    let mut pipeline = Pipeline::new(EventWriter::new(format, cli.events, stdout));
    let mut write_error = None;
    let result = source::file::read_capture(path, |frame| {
        if write_error.is_some() {
            return;
        }
        let ctx = EventContext {
            timestamp: frame.timestamp_ns,
            host_name: &host_name,
            ..Default::default()
        };
        if let Err(e) = pipeline.handle(&ctx, frame.link_type, frame.data) {
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

/// This host's name, as Tracee reports it in `hostName`.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}
