//! `netcore`: prints one Tracee-compatible event per decoded layer of every packet.

mod attribution;
mod cli;
mod live;
mod loader;
mod output;
mod pipeline;
mod preflight;
mod seed;
mod source;

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use netcore_core::EventContext;
use netcore_core::record::KernelFilter;

use cli::Cli;
use netcore_core::filter::Filter;
use output::{EventWriter, Format};
use pipeline::Pipeline;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let format = if cli.json { Format::Json } else { Format::Text };
    let host_name = host_name();
    let stdout = io::stdout().lock();
    let filter = match Filter::parse(&cli.filters) {
        Ok(filter) => filter,
        Err(e) => {
            eprintln!("netcore: {e}");
            return ExitCode::from(2);
        }
    };
    let kernel_filter = filter.kernel_filter(cli.events.intersect(filter.events()));
    let pipeline = Pipeline::new(EventWriter::new(format, stdout), cli.events, filter);
    match cli.read.as_deref() {
        Some(path) => read_file(path, pipeline, &host_name),
        None => capture_host(&cli, kernel_filter, pipeline, &host_name),
    }
}

/// Live capture (host mode, or AF_XDP with --xdp): checks what capture needs, then
/// captures until SIGINT/SIGTERM.
fn capture_host<W: Write>(
    cli: &Cli,
    kernel_filter: KernelFilter,
    pipeline: Pipeline<W>,
    host_name: &str,
) -> ExitCode {
    let cgroup = match preflight::check_host_capture(cli.cgroup.as_deref()) {
        Ok(cgroup) => cgroup,
        Err(missing) => {
            eprint!("netcore: {missing}");
            return ExitCode::from(2);
        }
    };
    let config = loader::CaptureConfig {
        snaplen: cli.snaplen,
        ring_bytes: cli.ring_size << 20,
        kernel_filter,
    };
    let stats_every = cli.stats.map(std::time::Duration::from_secs);
    if let Some(interface) = &cli.xdp {
        let (ifindex, queues) =
            match preflight::check_xdp_interface(interface, cli.queue, cli.force) {
                Ok(found) => found,
                Err(missing) => {
                    eprint!("netcore: {missing}");
                    return ExitCode::from(2);
                }
            };
        let capture = live::XdpCapture {
            interface: interface.clone(),
            ifindex,
            queues,
            cgroup,
            config,
            stats_every,
            discard: cli.xdp_discard,
        };
        return match live::run_xdp(&capture, pipeline, host_name) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("netcore: error: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    let capture = live::HostCapture {
        cgroup,
        config,
        stats_every,
    };
    match live::run(&capture, pipeline, host_name) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("netcore: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// File mode: decodes every frame of a capture file.
fn read_file<W: Write>(path: &Path, mut pipeline: Pipeline<W>, host_name: &str) -> ExitCode {
    let mut write_error = None;
    let result = source::file::read_capture(path, |frame| {
        if write_error.is_some() {
            return;
        }
        let ctx = EventContext {
            timestamp: frame.timestamp_ns,
            host_name,
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
