//! Command-line interface.

use std::path::PathBuf;

use clap::Parser;
use netcore_core::EventSet;

/// netcore: every packet a host sends and receives, as Tracee-compatible network events.
#[derive(Debug, Parser)]
#[command(name = "netcore", version, about, long_about = None)]
pub struct Cli {
    /// Print one Tracee-compatible JSON event per line (default: one readable line per event).
    #[arg(long)]
    pub json: bool,

    /// Decode a pcap or pcapng capture file instead of capturing live.
    #[arg(short = 'r', long = "read", value_name = "FILE")]
    pub read: Option<PathBuf>,

    /// Comma-separated events to print, e.g. net_packet_tcp,net_packet_udp.
    #[arg(long, value_name = "LIST", value_parser = parse_events, default_value = "all")]
    pub events: EventSet,
}

fn parse_events(list: &str) -> Result<EventSet, String> {
    if list == "all" {
        return Ok(EventSet::ALL);
    }
    EventSet::parse(list).map_err(|e| e.to_string())
}
