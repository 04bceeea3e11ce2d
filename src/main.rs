//! `netcore`: prints one Tracee-compatible event per decoded layer of every packet.
//!
//! The stages, in the order data flows: [`source`] → [`pipeline`] (decode, [`state`],
//! filter) → [`encode`] → [`sink`]. [`kernel`] loads the programs the live sources read;
//! [`run`] drives one mode end to end.

/// Writes a line to stderr, ignoring failure: a closed stderr (`netcore 2>&1 | head`) must
/// not end the run or panic, as `eprintln!` would.
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod cli;
mod encode;
mod kernel;
mod pipeline;
mod plan;
mod run;
mod signatures;
mod sink;
mod source;
mod state;

use std::io;
use std::process::ExitCode;

use clap::Parser;

use cli::Cli;
use kernel::preflight;
use plan::Plan;

/// Parses the flags; answers the commands that need no run (`--version`, `--generate`,
/// `--list-signatures`); plans the run (refusing bad flags with exit code 2) and runs it.
fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.version {
        println!(
            "netcore {} (commit {})\nschemas: {}\n{}",
            env!("CARGO_PKG_VERSION"),
            env!("NETCORE_COMMIT"),
            netcore_core::json::SCHEMAS.map(|s| s.name).join(", "),
            preflight::kernel_features()
        );
        return ExitCode::SUCCESS;
    }
    if let Some(what) = cli.generate {
        return match cli::generate(what, &mut io::stdout()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            Err(e) => {
                note!("netcore: --generate: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if cli.list_signatures {
        print!("{}", signatures::Engine::list(&cli.signature_config()));
        return ExitCode::SUCCESS;
    }
    match Plan::from_cli(cli) {
        Ok(plan) => run::start(plan),
        Err(refusal) => {
            note!("netcore: {refusal}");
            ExitCode::from(2)
        }
    }
}
