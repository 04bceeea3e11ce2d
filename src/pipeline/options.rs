//! What a pipeline is made with: its host, the limits on what it keeps, the pcap
//! expression, the flow table's settings. The plan decides them once from the flags.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use netcore_core::Direction;

use super::Expression;
use crate::source::Interface;
use crate::state::runtimes::Lookups;

/// The host the pipeline runs on.
pub struct Host {
    /// Its name, as events carry it (`hostName`).
    pub name: String,
    /// The cookie of netcore's network namespace: its interfaces are the ones named.
    pub netns_cookie: u64,
    /// The cgroup v2 mount, where containers are found (live modes).
    pub cgroup_root: Option<std::path::PathBuf>,
    /// Where containers are described (live modes).
    pub runtimes: Option<Lookups>,
}

/// What the pipeline keeps of its input before decoding, from the command line.
#[derive(Debug, Clone, Default)]
pub struct Limits {
    /// Only frames going this way (`-Q`); frames of unknown direction are kept.
    pub direction: Option<Direction>,
    /// Stop after this many packets with events (`-c`), counted over every pipeline that
    /// shares it.
    pub count: Option<Arc<PacketCount>>,
    /// Only frames that crossed this interface (`-i`); frames of unknown interface are
    /// kept.
    pub interface: Option<Interface>,
    /// Which packets of a tunnel give events (`--tunnel`).
    pub tunnels: Tunnels,
}

/// `-c COUNT`: the packets with events the pipelines of a run have written, over all of
/// their threads. A pipeline reserves room for a packet before writing its events and
/// settles it after, so exactly COUNT packets with events are written however many threads
/// write them (a thread that finds every room taken while another's packet is still being
/// written leaves its own packet out).
#[derive(Debug)]
pub struct PacketCount {
    limit: u64,
    reserved: AtomicU64,
    written: AtomicU64,
}

impl PacketCount {
    /// A count that ends the run at `limit` packets with events.
    pub fn new(limit: u64) -> Arc<Self> {
        Arc::new(PacketCount {
            limit,
            reserved: AtomicU64::new(0),
            written: AtomicU64::new(0),
        })
    }

    /// Room for one more packet's events; false once COUNT are written or being written.
    pub(super) fn reserve(&self) -> bool {
        if self.reserved.fetch_add(1, Relaxed) < self.limit {
            return true;
        }
        self.reserved.fetch_sub(1, Relaxed);
        false
    }

    /// Settles a reserved packet: it gave events (`wrote`), or its room is given back.
    pub(super) fn settle(&self, wrote: bool) {
        match wrote {
            true => self.written.fetch_add(1, Relaxed),
            false => self.reserved.fetch_sub(1, Relaxed),
        };
    }

    /// Whether COUNT packets with events are written.
    pub fn reached(&self) -> bool {
        self.written.load(Relaxed) >= self.limit
    }
}

/// Which packets of a tunnel give events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Tunnels {
    /// The outer packet only, as Tracee reports it.
    #[default]
    Outer,
    /// The packet inside only (what a mirror interface's user wants).
    Inner,
    /// Both, outer first (tshark's view).
    Both,
}

/// What the pipeline keeps of its input before decoding: `-Q`, `-c`, and a pcap filter
/// expression; and how flows are tracked when a flow event is selected.
#[derive(Clone)]
pub struct Selection {
    /// `-Q` and `-c`.
    pub limits: Limits,
    /// The pcap filter expression, if one was given.
    pub expression: Option<Expression>,
    /// `--max-flows`, `--community-id-seed`, `--flow-report`.
    pub flows: FlowOptions,
}

/// The flow table's settings from the command line.
#[derive(Debug, Clone, Copy)]
pub struct FlowOptions {
    /// Most flows tracked at once.
    pub max_flows: usize,
    /// The Community ID seed.
    pub community_id_seed: u16,
    /// Write a record of each open flow this often (ns).
    pub report_every_ns: Option<u64>,
    /// How long a DNS query waits for its response (ns).
    pub dns_timeout_ns: u64,
}
