//! Capture sources: capture files ([`file`]), the host-mode ring buffer ([`ring`]) and
//! AF_XDP sockets ([`xsk`]). Each hands the pipeline the same currency, a [`Frame`]
//! borrowed from its own buffer, and knows nothing of what comes after.

mod bpf_ring;
pub mod event_loop;
pub mod file;
pub mod ring;
pub mod xsk;

use netcore_core::flow::failure::SocketReport;
use std::fmt::Display;
use std::io;

use netcore_core::abi::TaskContext;
use netcore_core::{Direction, LinkType};

pub use event_loop::Wake;
pub use netcore_core::owner_comment::{OWNER_TEXTS, RecordedOwner};

/// The wall clock, ns since the epoch (the time events carry).
pub fn wall_clock_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// One captured frame, borrowed from the source's buffer, with what the source knows
/// about it.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// Link-layer framing of `data`.
    pub link_type: LinkType,
    /// Capture time, ns since the Unix epoch.
    pub timestamp_ns: u64,
    /// The captured bytes (possibly cut to the snap length).
    pub data: &'a [u8],
    /// The frame's length on the wire (≥ `data.len()`).
    pub wire_len: u32,
    /// Which way it went, when the source knows.
    pub direction: Direction,
    /// The interface it crossed, when the source knows.
    pub interface: Interface,
    /// The CPU it was captured on; 0 when unknown (files).
    pub cpu: u32,
    /// The task owning the local socket it belongs to, as the kernel saw it; zeroed
    /// ([`TaskContext::is_known`] false) when there is none or the source cannot know.
    pub owner: TaskContext,
    /// The cgroup of that socket, known even when its task is not; 0 when unknown.
    pub socket_cgroup_id: u64,
    /// The owner a capture file recorded for the packet (netcore's or ptcpdump's pcapng
    /// comments); `None` elsewhere.
    pub recorded: Option<RecordedOwner<'a>>,
    /// Whether the kernel's flow counters already hold the packet (host mode's flow
    /// accounting, [`netcore_core::abi::record_flag::COUNTED`]): the flow table reads it
    /// for all but its counts.
    pub kernel_counted: bool,
    /// Sent up for the flow table only while netcore sheds work (`--cpu-budget`,
    /// [`netcore_core::abi::record_flag::FLOWS_ONLY`]): no packet events.
    pub flows_only: bool,
    /// While netcore sheds work: the packet is one of every `sampled_one_in` whose packet
    /// events are written; 0 when every packet's are.
    pub sampled_one_in: u32,
}

impl<'a> Frame<'a> {
    /// A frame with nothing known but its bytes, framing and time.
    pub fn bare(link_type: LinkType, timestamp_ns: u64, data: &'a [u8]) -> Self {
        Frame {
            link_type,
            timestamp_ns,
            data,
            wire_len: data.len() as u32,
            direction: Direction::Unknown,
            interface: Interface::UNKNOWN,
            cpu: 0,
            owner: TaskContext::default(),
            socket_cgroup_id: 0,
            recorded: None,
            kernel_counted: false,
            flows_only: false,
            sampled_one_in: 0,
        }
    }
}

/// A network interface: its index within a network namespace, named by the namespace's
/// cookie (indexes repeat across namespaces).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Interface {
    /// The interface index; 0 when unknown.
    pub ifindex: u32,
    /// The cookie of its network namespace.
    pub netns_cookie: u64,
}

impl Interface {
    /// What a source that cannot tell hands out.
    pub const UNKNOWN: Interface = Interface {
        ifindex: 0,
        netns_cookie: 0,
    };
}

/// What a source counts of its own losses: a phrase for the `--stats` line, and each
/// counter by name for the metrics.
pub trait SourceStats: Display {
    /// Frames the source lost, by where (`xdp_rx_ring_full`, …).
    fn drops(&self) -> Vec<(&'static str, u64)>;
}

/// A source without counters of its own (the ring buffer's are the kernel programs').
pub struct NoSourceStats;

impl Display for NoSourceStats {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        Ok(())
    }
}

impl SourceStats for NoSourceStats {
    fn drops(&self) -> Vec<(&'static str, u64)> {
        Vec::new()
    }
}

/// A live source: drains its buffers into a [`FrameHandler`] until SIGINT or SIGTERM
/// (returned), or until the handler is finished (0). Sent to a thread of its own when a
/// run decodes on several ([`ring::RingSource`] per ring buffer, [`xsk::XskSource`] per
/// group of rx queues).
pub trait LiveSource: Send + 'static {
    /// Hands every frame to `handler` until a stop signal or the handler is finished; the
    /// handler also wakes after each round, every tick and on SIGHUP. A handler error
    /// stops the loop.
    fn run<H: FrameHandler>(&mut self, handler: &mut H) -> io::Result<i32>;
}

/// What a live source drives: once per frame, then after each poll round and each tick.
pub trait FrameHandler {
    /// Handles one frame, in place.
    fn frame(&mut self, frame: &Frame<'_>) -> io::Result<()>;
    /// Learns the names a DNS answer gives, for the flows the handler tracks, from a copy
    /// of a packet another thread handles (host mode,
    /// [`netcore_core::abi::record_flag::NAMES_ONLY`]): no frame of this handler's.
    fn learn_names(&mut self, frame: &Frame<'_>);
    /// What the kernel reported of a local socket (host mode,
    /// [`netcore_core::abi::record_flag::SOCKET_ERROR`] and `SOCKET_CLOSED`): `frame` holds
    /// a header of the socket's packets, local to remote.
    fn socket_report(&mut self, frame: &Frame<'_>, report: SocketReport) -> io::Result<()>;
    /// Runs after each poll round, on each tick and on SIGHUP; `source_stats` are the
    /// source's own drop counters (for the `--stats` line and the metrics).
    fn wake(&mut self, wake: Wake, source_stats: &dyn SourceStats) -> io::Result<()>;
    /// Whether the handler wants no more frames (`-c COUNT` reached).
    fn finished(&self) -> bool;
}
