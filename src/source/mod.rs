//! Capture sources: capture files ([`file`]), the host-mode ring buffer ([`ring`]) and
//! AF_XDP sockets ([`xsk`]). Each hands the pipeline the same currency, a [`Frame`]
//! borrowed from its own buffer, and knows nothing of what comes after.

pub mod block;
mod bpf_ring;
pub mod event_loop;
pub mod file;
pub mod ring;
pub mod xsk;

use std::fmt::Display;
use std::io;

use netcore_core::abi::TaskContext;
use netcore_core::{Direction, LinkType};

pub use event_loop::Wake;

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
}

/// A packet's owner as a pcapng file recorded it in ptcpdump's comment format: `Key:
/// value` lines (`PID`, `Cmd`, `Args`, `ThreadId`, `ThreadName`, `UserId`, `ParentPID`,
/// `ContainerName`, `ContainerId`, `ContainerImage`, `PodName`, `PodNamespace`,
/// `PodUID`), in one comment or several.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordedOwner<'a> {
    /// Host process id.
    pub pid: u32,
    /// Host thread id.
    pub tid: u32,
    /// Parent's host process id.
    pub ppid: u32,
    /// User id.
    pub uid: u32,
    /// The process's command (its executable).
    pub command: &'a str,
    /// Its arguments, space-separated.
    pub arguments: &'a str,
    /// The thread's name.
    pub thread_name: &'a str,
    /// Container id, name and image.
    pub container_id: &'a str,
    /// See `container_id`.
    pub container_name: &'a str,
    /// See `container_id`.
    pub container_image: &'a str,
    /// Kubernetes pod name, namespace and UID.
    pub pod_name: &'a str,
    /// See `pod_name`.
    pub pod_namespace: &'a str,
    /// See `pod_name`.
    pub pod_uid: &'a str,
}

/// How many strings a [`RecordedOwner`] holds.
pub const OWNER_TEXTS: usize = 9;

impl<'a> RecordedOwner<'a> {
    /// This owner's numbers with each of its [`OWNER_TEXTS`] strings replaced by `f` of
    /// it, called in the same order every time.
    pub fn map_texts<'b>(&self, mut f: impl FnMut(&'a str) -> &'b str) -> RecordedOwner<'b> {
        RecordedOwner {
            pid: self.pid,
            tid: self.tid,
            ppid: self.ppid,
            uid: self.uid,
            command: f(self.command),
            arguments: f(self.arguments),
            thread_name: f(self.thread_name),
            container_id: f(self.container_id),
            container_name: f(self.container_name),
            container_image: f(self.container_image),
            pod_name: f(self.pod_name),
            pod_namespace: f(self.pod_namespace),
            pod_uid: f(self.pod_uid),
        }
    }

    /// Reads one comment's `Key: value` lines into this owner; unknown keys are skipped.
    pub fn read_comment(&mut self, comment: &'a str) {
        for line in comment.lines() {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            let number = || value.parse().unwrap_or(0);
            match key.trim() {
                "PID" => self.pid = number(),
                "ThreadId" | "TID" => self.tid = number(),
                "ParentPID" => self.ppid = number(),
                "UserId" => self.uid = number(),
                "Cmd" | "Command" => self.command = value,
                "Args" => self.arguments = value,
                "ThreadName" => self.thread_name = value,
                "ContainerId" => self.container_id = value,
                "ContainerName" => self.container_name = value,
                "ContainerImage" => self.container_image = value,
                "PodName" => self.pod_name = value,
                "PodNamespace" => self.pod_namespace = value,
                "PodUID" => self.pod_uid = value,
                _ => {}
            }
        }
    }
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
    /// Runs after each poll round, on each tick and on SIGHUP; `source_stats` are the
    /// source's own drop counters (for the `--stats` line and the metrics).
    fn wake(&mut self, wake: Wake, source_stats: &dyn SourceStats) -> io::Result<()>;
    /// Whether the handler wants no more frames (`-c COUNT` reached).
    fn finished(&self) -> bool;
}
