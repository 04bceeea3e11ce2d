//! AF_XDP source: one AF_XDP socket per rx queue of the capture interface, frames read in
//! place in the UMEM and handed back to the fill ring once handled.
//!
//! The XDP program (`netcore_xdp_meta` or `netcore_xdp_head` in ebpf/) owns the interface
//! and the XSKMAP; libxdp's own program is inhibited. Each frame arrives with a
//! [`FrameOwner`], in the XDP metadata just before it or prepended to it
//! ([`OwnerHandoff`]).

use std::io;
use std::num::NonZeroU32;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use netcore_core::abi::{FRAME_OWNER_LEN, FrameOwner, OwnerHandoff, TaskContext};
use netcore_core::{Direction, LinkType};
use xsk_rs::config::{BindFlags, LibxdpFlags, QueueSize, SocketConfig, UmemConfig};
use xsk_rs::{CompQueue, FillQueue, FrameDesc, RxQueue, Socket, TxQueue, Umem};
use zerocopy::FromBytes;

use super::event_loop::EventLoop;
use super::{Frame, FrameHandler, Interface, LiveSource, SourceStats, wall_clock_ns};

/// UMEM frames per queue (2 KiB each).
const FRAMES: u32 = 4096;
/// Descriptors taken from the rx ring at a time.
const BATCH: usize = 64;

/// How the sockets are bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindMode {
    /// The driver DMAs into the UMEM.
    ZeroCopy,
    /// The kernel copies each frame into the UMEM (veth, drivers without AF_XDP support).
    Copy,
}

/// One queue's socket, UMEM and rings.
struct Queue {
    umem: Umem,
    rx: RxQueue,
    fill: FillQueue,
    _tx: TxQueue,
    _completion: CompQueue,
    descs: Vec<FrameDesc>,
}

/// Per-socket kernel counters, summed over queues.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct XskStats {
    /// Frames dropped for reasons other than the two below.
    pub rx_dropped: u64,
    /// Frames dropped because the rx ring was full (user space too slow).
    pub rx_ring_full: u64,
    /// Frames dropped because the fill ring had no free frame.
    pub fill_ring_empty: u64,
    /// Invalid descriptors.
    pub invalid_descs: u64,
}

impl std::fmt::Display for XskStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "dropped: {} rx ring full, {} fill ring empty, {} other",
            self.rx_ring_full, self.fill_ring_empty, self.rx_dropped
        )
    }
}

/// The AF_XDP sockets of one interface (or of some of its rx queues, see
/// [`XskSource::split`]).
pub struct XskSource {
    queues: Vec<Queue>,
    events: EventLoop,
    /// Duplicates of the descriptors of every socket of the run, the other parts' too,
    /// for their kernel counters (`--stats`, the metrics, the summary).
    counted: Arc<[OwnedFd]>,
    /// How the sockets are bound.
    pub mode: BindMode,
    /// Frames read.
    pub frames: u64,
    /// The capture interface.
    interface: Interface,
    /// Count frames without handing them out (the benchmark's raw receive loop).
    discard: bool,
    /// Where each frame's owner is.
    handoff: OwnerHandoff,
    /// Frames too short to hold the owner they should carry (none unless the XDP program
    /// and this source disagree on the way).
    pub malformed: u64,
}

impl XskSource {
    /// Opens a socket on each of `queues` of `interface` (`index`), zero-copy if the driver can,
    /// with every frame on the fill ring, ticking every `tick`; frames carry their owner
    /// the way `handoff` says. `register` inserts each socket into the XSKMAP.
    pub fn open(
        interface: &str,
        index: Interface,
        queues: &[u32],
        discard: bool,
        handoff: OwnerHandoff,
        tick: Duration,
        mut register: impl FnMut(u32, i32) -> Result<()>,
    ) -> Result<Self> {
        let events = EventLoop::new(tick)?;
        let mut opened = Vec::new();
        let mut counted = Vec::new();
        let mut mode = BindMode::ZeroCopy;
        for &id in queues {
            let queue = match open_queue(interface, id, BindMode::ZeroCopy) {
                Ok(queue) if mode == BindMode::ZeroCopy => queue,
                _ => {
                    mode = BindMode::Copy;
                    open_queue(interface, id, BindMode::Copy)?
                }
            };
            let fd = queue.rx.fd().as_raw_fd();
            // SAFETY: the socket's descriptor, open while `queue` lives (it is duplicated
            // here, not kept).
            counted.push(unsafe { BorrowedFd::borrow_raw(fd) }.try_clone_to_owned()?);
            register(id, fd)?;
            events.register(fd, opened.len())?;
            opened.push(queue);
        }
        Ok(XskSource {
            queues: opened,
            events,
            counted: counted.into(),
            mode,
            frames: 0,
            interface: index,
            discard,
            handoff,
            malformed: 0,
        })
    }

    /// Deals the queues out to `parts` sources (round-robin; fewer when there are fewer
    /// queues), each with an event loop of its own ticking every `tick`: one per decoding
    /// thread. Each part counts its own frames; each reports every socket's counters.
    pub fn split(self, parts: usize, tick: Duration) -> io::Result<Vec<XskSource>> {
        let parts = parts.clamp(1, self.queues.len().max(1));
        if parts == 1 {
            return Ok(vec![self]); // Its event loop already waits on every queue.
        }
        let mut split: Vec<XskSource> = (0..parts)
            .map(|_| {
                Ok(XskSource {
                    queues: Vec::new(),
                    events: EventLoop::new(tick)?,
                    counted: self.counted.clone(),
                    mode: self.mode,
                    frames: 0,
                    interface: self.interface,
                    discard: self.discard,
                    handoff: self.handoff,
                    malformed: 0,
                })
            })
            .collect::<io::Result<_>>()?;
        for (index, queue) in self.queues.into_iter().enumerate() {
            let part = &mut split[index % parts];
            part.events
                .register(queue.rx.fd().as_raw_fd(), part.queues.len())?;
            part.queues.push(queue);
        }
        Ok(split)
    }

    /// The sockets' kernel counters, summed over every part of the run.
    pub fn stats(&self) -> XskStats {
        QueueStats(&self.counted).read()
    }
}

impl LiveSource for XskSource {
    fn run<H: FrameHandler>(&mut self, handler: &mut H) -> io::Result<i32> {
        loop {
            self.events.wait()?;
            for queue in &mut self.queues {
                loop {
                    // SAFETY: the descriptors belong to this queue's UMEM and are not
                    // on any ring while we hold them.
                    let n = unsafe { queue.rx.consume(&mut queue.descs[..BATCH]) };
                    if n == 0 {
                        break;
                    }
                    self.frames += n as u64;
                    let mut result = Ok(());
                    // One time and CPU per batch: the descriptors carry no timestamp.
                    let timestamp_ns = wall_clock_ns();
                    // SAFETY: sched_getcpu has no preconditions.
                    let cpu = unsafe { libc::sched_getcpu() }.max(0) as u32;
                    for desc in &queue.descs[..n] {
                        if self.discard {
                            break;
                        }
                        // SAFETY: the kernel filled this frame and handed it to us; no one
                        // writes it until we return it to the fill ring below.
                        let Some((owner, data)) =
                            (unsafe { frame_with_owner(&queue.umem, desc, self.handoff) })
                        else {
                            self.malformed += 1;
                            continue;
                        };
                        let frame = Frame {
                            link_type: LinkType::Ethernet,
                            timestamp_ns,
                            data,
                            wire_len: data.len() as u32,
                            direction: Direction::Ingress,
                            interface: self.interface,
                            cpu,
                            owner: TaskContext {
                                cgroup_id: owner.cgroup_id,
                                host_pid: owner.host_pid,
                                host_tid: owner.host_tid,
                                uid: owner.uid,
                                ..TaskContext::default()
                            },
                            socket_cgroup_id: owner.cgroup_id,
                            recorded: None,
                            kernel_counted: false,
                            flows_only: false,
                            sampled_one_in: 0,
                        };
                        if let Err(e) = handler.frame(&frame) {
                            result = Err(e);
                            break;
                        }
                    }
                    // SAFETY: the frames are ours and handled; the fill ring takes them back.
                    unsafe {
                        queue
                            .fill
                            .produce_and_wakeup(&queue.descs[..n], queue.rx.fd_mut(), 0)?;
                    }
                    result?;
                }
            }
            // The counters are read only when a `--stats` line prints them.
            if let Some(signal) = self.events.end_round(handler, &QueueStats(&self.counted))? {
                return Ok(signal);
            }
        }
    }
}

/// The kernel counters of some AF_XDP sockets, read when displayed.
struct QueueStats<'q>(&'q [OwnedFd]);

impl QueueStats<'_> {
    fn read(&self) -> XskStats {
        let mut total = XskStats::default();
        for fd in self.0 {
            // SAFETY: plain integers, for which all zeroes are valid.
            let mut s: libc::xdp_statistics = unsafe { std::mem::zeroed() };
            let mut len = std::mem::size_of::<libc::xdp_statistics>() as libc::socklen_t;
            // SAFETY: an AF_XDP socket's descriptor, and a buffer of the length given.
            let rc = unsafe {
                libc::getsockopt(
                    fd.as_raw_fd(),
                    libc::SOL_XDP,
                    libc::XDP_STATISTICS,
                    (&raw mut s).cast(),
                    &mut len,
                )
            };
            if rc == 0 {
                total.rx_dropped += s.rx_dropped;
                total.rx_ring_full += s.rx_ring_full;
                total.fill_ring_empty += s.rx_fill_ring_empty_descs;
                total.invalid_descs += s.rx_invalid_descs;
            }
        }
        total
    }
}

impl std::fmt::Display for QueueStats<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.read().fmt(f)
    }
}

impl SourceStats for QueueStats<'_> {
    fn drops(&self) -> Vec<(&'static str, u64)> {
        let stats = self.read();
        vec![
            ("xdp_rx_ring_full", stats.rx_ring_full),
            ("xdp_fill_ring_empty", stats.fill_ring_empty),
            ("xdp_other", stats.rx_dropped),
        ]
    }
}

/// The frame `desc` describes and the owner the XDP program handed over with it the way
/// `handoff` says; `None` for a frame too short to carry one.
///
/// # Safety
/// `desc` must describe a received frame of `umem` that no one else accesses.
unsafe fn frame_with_owner<'u>(
    umem: &'u Umem,
    desc: &FrameDesc,
    handoff: OwnerHandoff,
) -> Option<(FrameOwner, &'u [u8])> {
    // SAFETY: per the contract.
    let frame = unsafe { umem.data(desc) }.contents();
    match handoff {
        OwnerHandoff::Metadata => {
            // SAFETY: the XDP program reserved FRAME_OWNER_LEN bytes of metadata right
            // before the frame (within the 256-byte XDP headroom, inside the same UMEM
            // frame).
            let meta = unsafe {
                std::slice::from_raw_parts(frame.as_ptr().sub(FRAME_OWNER_LEN), FRAME_OWNER_LEN)
            };
            Some((FrameOwner::read_from_bytes(meta).unwrap_or_default(), frame))
        }
        OwnerHandoff::Prepended => FrameOwner::split_prepended(frame),
    }
}

fn open_queue(interface: &str, id: u32, mode: BindMode) -> Result<Queue> {
    let ring = QueueSize::new(FRAMES).map_err(|e| anyhow!("{e}"))?;
    let umem_config = UmemConfig::builder()
        .fill_queue_size(ring)
        .build()
        .map_err(|e| anyhow!("UMEM settings: {e}"))?;
    let frames = NonZeroU32::new(FRAMES).expect("non-zero");
    let (umem, descs) = Umem::new(umem_config, frames, false)
        .map_err(|e| anyhow!("creating the UMEM of queue {id}: {e}"))?;
    let bind = match mode {
        BindMode::ZeroCopy => BindFlags::XDP_ZEROCOPY,
        BindMode::Copy => BindFlags::XDP_COPY,
    } | BindFlags::XDP_USE_NEED_WAKEUP;
    let config = SocketConfig::builder()
        .rx_queue_size(ring)
        .libxdp_flags(LibxdpFlags::XSK_LIBXDP_FLAGS_INHIBIT_PROG_LOAD)
        .bind_flags(bind)
        .build();
    let name = interface
        .parse()
        .map_err(|e| anyhow!("interface name {interface}: {e}"))?;
    // SAFETY: the UMEM is used by this socket only.
    let (tx, rx, rings) = unsafe { Socket::new(config, &umem, &name, id) }.with_context(|| {
        format!("opening an AF_XDP socket on {interface} queue {id} ({mode:?})")
    })?;
    let (mut fill, completion) = rings.ok_or_else(|| anyhow!("queue {id}: no fill ring"))?;
    // SAFETY: every descriptor is a free frame of this UMEM.
    let produced = unsafe { fill.produce(&descs) };
    if produced != descs.len() {
        return Err(anyhow!(
            "queue {id}: fill ring took {produced} of {} frames",
            descs.len()
        ));
    }
    Ok(Queue {
        umem,
        rx,
        fill,
        _tx: tx,
        _completion: completion,
        descs,
    })
}
