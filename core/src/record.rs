//! The `#[repr(C)]` records the kernel programs (`ebpf/`) share with user space.
//!
//! Both sides compile this one definition, so the layouts cannot drift. Every field is
//! plain data with explicit padding, which is what lets user space view a record in place
//! in the ring buffer with [`zerocopy`] instead of copying it.

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// Length of a task's `comm` (thread name), as the kernel stores it.
pub const COMM_LEN: usize = 16;

/// Largest number of packet bytes a [`PacketRecord`] can carry (`--snaplen` at most).
pub const MAX_SNAPLEN: usize = 4096;

/// The task that owns a socket, as the socket hooks saw it in process context.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct TaskContext {
    /// cgroup v2 id of the task.
    pub cgroup_id: u64,
    /// Thread-group id (the process id) in the initial pid namespace; 0 when no task is known.
    pub host_pid: u32,
    /// Thread id in the initial pid namespace.
    pub host_tid: u32,
    /// Real user id.
    pub uid: u32,
    /// Real group id.
    pub gid: u32,
    /// The thread's name, NUL-padded.
    pub comm: [u8; COMM_LEN],
}

impl TaskContext {
    /// Whether a task is recorded (kernel-generated packets have none).
    pub fn is_known(&self) -> bool {
        self.host_tid != 0
    }

    /// The thread name without its NUL padding.
    pub fn comm(&self) -> &[u8] {
        let end = self.comm.iter().position(|&b| b == 0).unwrap_or(COMM_LEN);
        &self.comm[..end]
    }
}

/// The direction a captured packet travelled, relative to the host.
pub mod direction {
    /// Received by a local socket (cgroup_skb ingress).
    pub const INGRESS: u8 = 1;
    /// Sent by a local socket (cgroup_skb egress).
    pub const EGRESS: u8 = 2;
}

/// Header of one captured packet in the ring buffer; `captured` packet bytes follow it,
/// starting at the network (IP) header.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct PacketRecord {
    /// Time the program saw the packet, ns since boot (`CLOCK_BOOTTIME`).
    pub boot_ns: u64,
    /// Cookie of the socket the packet belongs to.
    pub socket_cookie: u64,
    /// cgroup v2 id of that socket.
    pub socket_cgroup_id: u64,
    /// The socket's owner when the packet was captured; zeroed when unknown.
    pub task: TaskContext,
    /// Length of the packet from its network header on.
    pub length: u32,
    /// Number of packet bytes that follow this header (≤ `length`, ≤ the snap length).
    pub captured: u32,
    /// Interface index the packet arrived on or leaves by.
    pub ifindex: u32,
    /// CPU the program ran on.
    pub cpu: u32,
    /// One of [`direction`].
    pub direction: u8,
    /// Explicit padding, always 0.
    pub _pad: [u8; 7],
}

/// Size of a [`PacketRecord`] header in bytes.
pub const PACKET_RECORD_LEN: usize = core::mem::size_of::<PacketRecord>();

/// Indexes of the kernel's per-CPU counters (`COUNTERS`).
pub mod counter {
    /// Packets written to the ring buffer.
    pub const CAPTURED: u32 = 0;
    /// Packets lost because the ring buffer was full.
    pub const RING_FULL: u32 = 1;
    /// Number of counters.
    pub const COUNT: u32 = 2;
}

/// Key of the listening-socket table: accepted TCP sockets inherit the owner of the
/// socket listening on their local port in their network namespace.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct ListenerKey {
    /// Network-namespace cookie.
    pub netns_cookie: u64,
    /// Local port, host byte order.
    pub port: u16,
    /// Explicit padding, always 0.
    pub _pad: [u8; 6],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_have_no_implicit_padding() {
        // IntoBytes would not derive with implicit padding; these pin the sizes the kernel
        // programs were verified with.
        assert_eq!(core::mem::size_of::<TaskContext>(), 40);
        assert_eq!(PACKET_RECORD_LEN, 88);
        assert_eq!(core::mem::size_of::<ListenerKey>(), 16);
    }

    #[test]
    fn comm_stops_at_nul() {
        let mut task = TaskContext::default();
        assert!(!task.is_known());
        task.comm[..2].copy_from_slice(b"nc");
        task.host_tid = 7;
        assert_eq!(task.comm(), b"nc");
        assert!(task.is_known());
        task.comm = [b'x'; COMM_LEN];
        assert_eq!(task.comm().len(), COMM_LEN);
    }
}
