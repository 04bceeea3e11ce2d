//! Blocks of frames copied out of a source's buffer (a file's, an AF_XDP queue's UMEM),
//! so several decoding threads can read them (`--threads`): one arena of bytes and the
//! frames' metadata, each frame marked with the thread that handles it, reused block
//! after block.

use std::ops::Range;

use netcore_core::abi::TaskContext;
use netcore_core::{Direction, LinkType};

use crate::source::{Frame, Interface, OWNER_TEXTS, RecordedOwner};

/// Frames a block holds at most.
pub const BLOCK_FRAMES: usize = 1024;
/// Bytes of frames (and recorded owners) a block holds before it counts as full.
pub const BLOCK_BYTES: usize = 1 << 20;

/// Copies of consecutive frames, in order, each with its decoding thread.
#[derive(Default)]
pub struct FrameBlock {
    /// The frames' bytes and recorded owners' strings, back to back.
    arena: Vec<u8>,
    frames: Vec<StoredFrame>,
    /// The owners of the frames that have one (files seldom do): kept apart so that a
    /// frame's copy stays small.
    owners: Vec<StoredOwners>,
    /// The time of its latest frame (ns since the epoch; 0 when empty).
    latest_ns: u64,
}

/// A frame's metadata, its bytes in the block's arena.
struct StoredFrame {
    link_type: LinkType,
    direction: Direction,
    wire_len: u32,
    cpu: u32,
    timestamp_ns: u64,
    socket_cgroup_id: u64,
    interface: Interface,
    kernel_counted: bool,
    flows_only: bool,
    sampled_one_in: u32,
    data: Range<usize>,
    /// Its owners' position in `owners`, when it has any.
    owners: Option<usize>,
    /// The decoding thread that handles it.
    thread: u32,
}

/// A frame's owning task, and the owner its capture file recorded: the numbers as they
/// were (strings empty), the strings' places in the arena.
struct StoredOwners {
    owner: TaskContext,
    recorded: Option<(RecordedOwner<'static>, [Range<usize>; OWNER_TEXTS])>,
}

impl FrameBlock {
    /// Copies `frame` in at the end, for decoding thread `thread`.
    pub fn push(&mut self, frame: &Frame<'_>, thread: u32) {
        let data = self.copy(frame.data);
        self.latest_ns = self.latest_ns.max(frame.timestamp_ns);
        let owners =
            (frame.owner != TaskContext::default() || frame.recorded.is_some()).then(|| {
                let recorded = frame.recorded.map(|owner| {
                    let mut texts: [Range<usize>; OWNER_TEXTS] = Default::default();
                    let mut next = texts.iter_mut();
                    let numbers = owner.map_texts(|text| {
                        if let Some(range) = next.next() {
                            *range = self.copy(text.as_bytes());
                        }
                        ""
                    });
                    (numbers, texts)
                });
                self.owners.push(StoredOwners {
                    owner: frame.owner,
                    recorded,
                });
                self.owners.len() - 1
            });
        self.frames.push(StoredFrame {
            link_type: frame.link_type,
            direction: frame.direction,
            wire_len: frame.wire_len,
            cpu: frame.cpu,
            timestamp_ns: frame.timestamp_ns,
            socket_cgroup_id: frame.socket_cgroup_id,
            interface: frame.interface,
            kernel_counted: frame.kernel_counted,
            flows_only: frame.flows_only,
            sampled_one_in: frame.sampled_one_in,
            data,
            owners,
            thread,
        });
    }

    fn copy(&mut self, bytes: &[u8]) -> Range<usize> {
        let start = self.arena.len();
        self.arena.extend_from_slice(bytes);
        start..self.arena.len()
    }

    /// Whether the block holds [`BLOCK_FRAMES`] frames or [`BLOCK_BYTES`] bytes.
    pub fn is_full(&self) -> bool {
        self.frames.len() >= BLOCK_FRAMES || self.arena.len() >= BLOCK_BYTES
    }

    /// Whether it holds no frame.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Empties it, keeping its memory for the next frames.
    pub fn clear(&mut self) {
        self.arena.clear();
        self.frames.clear();
        self.owners.clear();
        self.latest_ns = 0;
    }

    /// The frames for decoding thread `thread`, in the order they were pushed, each with
    /// its position in the block.
    pub fn frames_of(&self, thread: u32) -> impl Iterator<Item = (u32, Frame<'_>)> {
        self.frames
            .iter()
            .enumerate()
            .filter(move |(_, stored)| stored.thread == thread)
            .map(|(at, stored)| (at as u32, self.frame(stored)))
    }

    /// The time of its latest frame (ns since the epoch; 0 when empty).
    pub fn last_timestamp_ns(&self) -> u64 {
        self.latest_ns
    }

    /// `stored` as a frame, its bytes in the arena.
    fn frame<'b>(&'b self, stored: &StoredFrame) -> Frame<'b> {
        let owners = stored.owners.map(|at| &self.owners[at]);
        Frame {
            link_type: stored.link_type,
            timestamp_ns: stored.timestamp_ns,
            data: &self.arena[stored.data.clone()],
            wire_len: stored.wire_len,
            direction: stored.direction,
            interface: stored.interface,
            cpu: stored.cpu,
            owner: owners.map_or_else(TaskContext::default, |o| o.owner),
            socket_cgroup_id: stored.socket_cgroup_id,
            kernel_counted: stored.kernel_counted,
            flows_only: stored.flows_only,
            sampled_one_in: stored.sampled_one_in,
            recorded: owners
                .and_then(|o| o.recorded.as_ref())
                .map(|(owner, texts)| {
                    let mut next = texts.iter();
                    owner.map_texts(|_| {
                        // Copied from a &str: still UTF-8.
                        next.next()
                            .and_then(|at| std::str::from_utf8(&self.arena[at.clone()]).ok())
                            .unwrap_or_default()
                    })
                }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_come_back_as_they_were_pushed() {
        let owner = RecordedOwner {
            pid: 7,
            command: "curl",
            container_id: "abc",
            pod_uid: "u-1",
            ..RecordedOwner::default()
        };
        let first = Frame {
            direction: Direction::Egress,
            owner: TaskContext {
                host_pid: 42,
                ..TaskContext::default()
            },
            recorded: Some(owner),
            wire_len: 60,
            ..Frame::bare(LinkType::Ethernet, 5, b"first frame")
        };
        let second = Frame::bare(LinkType::Raw, 6, b"second");
        let mut block = FrameBlock::default();
        block.push(&first, 0);
        block.push(&second, 1);
        block.push(&second, 0);
        let (at, frames): (Vec<u32>, Vec<Frame<'_>>) = block.frames_of(0).unzip();
        assert_eq!(
            at,
            [0, 2],
            "thread 0's frames, with their places in the block"
        );
        assert_eq!(
            block.frames_of(1).map(|(at, _)| at).collect::<Vec<_>>(),
            [1]
        );
        assert_eq!(block.last_timestamp_ns(), 6);
        assert_eq!(frames[0].data, b"first frame");
        assert_eq!(frames[0].recorded, Some(owner));
        assert_eq!(frames[0].owner.host_pid, 42);
        assert_eq!(
            (
                frames[0].direction,
                frames[0].wire_len,
                frames[0].timestamp_ns
            ),
            (Direction::Egress, 60, 5)
        );
        assert_eq!(frames[1].data, b"second");
        assert_eq!(frames[1].link_type, LinkType::Raw);
        assert_eq!(frames[1].recorded, None);
        assert_eq!(frames[1].owner, TaskContext::default());
        block.clear();
        assert!(block.is_empty());
        assert_eq!(block.last_timestamp_ns(), 0);
    }
}
