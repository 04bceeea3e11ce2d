//! The `#[repr(C)]` records the kernel programs (`ebpf/`) share with user space.
//!
//! Both sides compile this one definition, so the layouts cannot drift. Every field is
//! plain data with explicit padding, which is what lets user space view a record in place
//! in the ring buffer with [`zerocopy`] instead of copying it.

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

pub mod flow_counts;

/// Length of a task's `comm` (thread name), as the kernel stores it.
pub const COMM_LEN: usize = 16;

/// Largest number of packet bytes a [`PacketRecord`] can carry (`--snaplen` at most).
pub const MAX_SNAPLEN: usize = 4096;

/// Bytes that hold a packet's longest IPv4 header and longest TCP header (60 + 60, rounded
/// up): what the kernel copies when no selected event reads past the headers, and the head
/// of each packet the capture programs choose its ring and apply the load-time filter by.
pub const HEADERS_LEN: usize = 128;

/// The task that owns a socket, as the socket hooks saw it in process context. The fields
/// after `comm` come from the task's `task_struct`, read at the offsets in
/// [`task_offset`]; all zero when the kernel's BTF did not give those offsets (user space
/// then reads `/proc`).
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
    /// When the thread started, ns since boot (`task_struct.start_boottime`).
    pub start_time_ns: u64,
    /// Process id in the task's own pid namespace.
    pub ns_pid: u32,
    /// Thread id in the task's own pid namespace.
    pub ns_tid: u32,
    /// Parent process id in the task's own pid namespace; 0 when the parent is outside it.
    pub ns_ppid: u32,
    /// Parent process id in the initial pid namespace.
    pub host_ppid: u32,
    /// Inode of the task's mount namespace.
    pub mount_ns: u32,
    /// Inode of the task's pid namespace; 0 when the kernel side could not read it.
    pub pid_ns: u32,
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

/// Indexes of the byte offsets the socket hooks read a `task_struct` with, and the socket
/// reports a `struct sock` (the kernel programs' `TASK_OFFSETS`). User space finds them in the running kernel's BTF at load
/// time, which is what makes one object work on every kernel; [`task_offset::READY`] is 0
/// when it could not, and then the hooks read nothing.
pub mod task_offset {
    /// 1 when the offsets below are set.
    pub const READY: usize = 0;
    /// `task_struct.real_parent`.
    pub const TASK_REAL_PARENT: usize = 1;
    /// `task_struct.group_leader`.
    pub const TASK_GROUP_LEADER: usize = 2;
    /// `task_struct.thread_pid`.
    pub const TASK_THREAD_PID: usize = 3;
    /// `task_struct.tgid`.
    pub const TASK_TGID: usize = 4;
    /// `task_struct.start_boottime`.
    pub const TASK_START_BOOTTIME: usize = 5;
    /// `task_struct.nsproxy`.
    pub const TASK_NSPROXY: usize = 6;
    /// `nsproxy.mnt_ns`.
    pub const NSPROXY_MNT_NS: usize = 7;
    /// `mnt_namespace.ns.inum`.
    pub const MNT_NS_INUM: usize = 8;
    /// `pid.level`.
    pub const PID_LEVEL: usize = 9;
    /// `pid.numbers` (an array of `upid`, one per pid-namespace level).
    pub const PID_NUMBERS: usize = 10;
    /// `sizeof(struct upid)`.
    pub const UPID_SIZE: usize = 11;
    /// `upid.nr`.
    pub const UPID_NR: usize = 12;
    /// `upid.ns`.
    pub const UPID_NS: usize = 13;
    /// `pid_namespace.ns.inum`.
    pub const PID_NS_INUM: usize = 14;
    /// `sock.sk_err`.
    pub const SOCK_ERR: usize = 15;
    /// `sock.sk_protocol`.
    pub const SOCK_PROTOCOL: usize = 16;
    /// `sock.__sk_common.skc_family`.
    pub const SKC_FAMILY: usize = 17;
    /// `sock.sk_err_soft`.
    pub const SOCK_ERR_SOFT: usize = 18;
    /// `sock.__sk_common.skc_state`.
    pub const SKC_STATE: usize = 27;
    /// `sock.__sk_common.skc_daddr`.
    pub const SKC_DADDR: usize = 19;
    /// `sock.__sk_common.skc_rcv_saddr`.
    pub const SKC_RCV_SADDR: usize = 20;
    /// `sock.__sk_common.skc_dport`.
    pub const SKC_DPORT: usize = 21;
    /// `inet_sock.inet_sport` (`struct sock` leads `struct inet_sock`).
    pub const INET_SPORT: usize = 22;
    /// `sock.__sk_common.skc_v6_daddr`.
    pub const SKC_V6_DADDR: usize = 23;
    /// `sock.__sk_common.skc_v6_rcv_saddr`.
    pub const SKC_V6_RCV_SADDR: usize = 24;
    /// `sock.__sk_common.skc_net.net`.
    pub const SKC_NET: usize = 25;
    /// `net.net_cookie`.
    pub const NET_COOKIE: usize = 26;
    /// Number of entries.
    pub const COUNT: usize = 28;
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
    /// cgroup v2 id of that socket.
    pub socket_cgroup_id: u64,
    /// The socket's owner when the packet was captured; zeroed when unknown.
    pub task: TaskContext,
    /// Length of the packet from its network header on.
    pub length: u32,
    /// Number of packet bytes that follow this header (≤ `length`, ≤ the snap length).
    pub captured: u32,
    /// CPU the program ran on.
    pub cpu: u32,
    /// Index of the interface the packet arrived on or leaves by, in `netns_cookie`'s
    /// namespace.
    pub ifindex: u32,
    /// Cookie of the network namespace the packet is in.
    pub netns_cookie: u64,
    /// One of [`direction`].
    pub direction: u8,
    /// [`record_flag`] bits.
    pub flags: u8,
    /// [`record_flag::SOCKET_ERROR`], [`record_flag::SOCKET_CLOSED`]: the socket's error
    /// (an errno; 0 none); else 0.
    pub error: u16,
    /// While netcore sheds work (`--cpu-budget`): the packet is one of every
    /// `sampled_one_in` its packet events were written for; 0 when every packet is.
    pub sampled_one_in: u32,
}

/// Bits of [`PacketRecord::flags`].
pub mod record_flag {
    /// A copy of a DNS message over UDP whose flow another ring's thread decodes, written
    /// to every other ring when flow events are selected (host mode on several threads):
    /// the thread reading it learns the names an answer gives addresses, and the lookup's
    /// round trip from its query, for its own flows, as one thread seeing every packet
    /// would, and writes no event for it.
    pub const NAMES_ONLY: u8 = 1 << 0;
    /// Not a packet: the kernel reported an error on a local socket — an ICMP error
    /// answering a connecting TCP socket, or any error of a UDP socket. The bytes are an
    /// IP and TCP or UDP header the program writes from the socket's addresses, local to
    /// remote (a SYN for TCP), so that the report reaches the ring and the flow of the
    /// socket's packets; `error` is the socket's error (0 when the kernel set it after
    /// reporting it).
    pub const SOCKET_ERROR: u8 = 1 << 1;
    /// Not a packet: a connecting TCP socket closed (it failed, or its process gave up);
    /// bytes as for [`SOCKET_ERROR`], `error` its error (0 when none was left).
    pub const SOCKET_CLOSED: u8 = 1 << 2;
    /// The kernel's flow counters ([`super::flow_counts`]) hold this packet: user space
    /// reads it for what else it tells and does not count it again.
    pub const COUNTED: u8 = 1 << 3;
    /// Sent up for the flow table only while netcore sheds work (`--cpu-budget`): a
    /// packet whose packet events were not sampled.
    pub const FLOWS_ONLY: u8 = 1 << 4;
}

/// Size of a [`PacketRecord`] header in bytes.
pub const PACKET_RECORD_LEN: usize = core::mem::size_of::<PacketRecord>();

/// Indexes of the kernel's per-CPU counters (`COUNTERS`).
pub mod counter {
    /// Packets written to the ring buffer.
    pub const CAPTURED: u32 = 0;
    /// Packets lost because the ring buffer was full.
    pub const RING_FULL: u32 = 1;
    /// Packets the [`super::KernelFilter`] kept out of the ring buffer.
    pub const FILTERED: u32 = 2;
    /// Copies of DNS answers ([`super::record_flag::NAMES_ONLY`]) lost because a ring
    /// buffer was full.
    pub const COPY_RING_FULL: u32 = 3;
    /// Frames the metadata way of AF_XDP ([`super::OwnerHandoff::Metadata`]) passed to
    /// the kernel uncaptured because the driver had no room for metadata.
    pub const XDP_NO_METADATA: u32 = 4;
    /// Packets the kernel's flow accounting counted and did not send up
    /// ([`super::flow_counts`]).
    pub const FLOW_COUNTED: u32 = 5;
    /// Packets sent up uncounted because the kernel's flow table was full.
    pub const FLOW_TABLE_FULL: u32 = 6;
    /// Packets not sent up while netcore shed work (`--cpu-budget`): their packet events
    /// were not sampled and no flow needed them.
    pub const SHED: u32 = 7;
    /// Number of counters.
    pub const COUNT: u32 = 8;
}

/// Classes of packets by family and transport, for [`KernelFilter::protocols`].
pub mod l4 {
    /// IPv4 carrying anything but TCP, UDP or ICMP (or a later fragment).
    pub const IPV4_OTHER: u32 = 1 << 0;
    /// IPv4 TCP.
    pub const IPV4_TCP: u32 = 1 << 1;
    /// IPv4 UDP.
    pub const IPV4_UDP: u32 = 1 << 2;
    /// IPv4 ICMP.
    pub const IPV4_ICMP: u32 = 1 << 3;
    /// IPv6 whose first next-header is not TCP, UDP or ICMPv6 (extension headers).
    pub const IPV6_OTHER: u32 = 1 << 4;
    /// IPv6 TCP.
    pub const IPV6_TCP: u32 = 1 << 5;
    /// IPv6 UDP.
    pub const IPV6_UDP: u32 = 1 << 6;
    /// IPv6 ICMPv6.
    pub const IPV6_ICMPV6: u32 = 1 << 7;
    /// Every class.
    pub const ALL: u32 = (1 << 8) - 1;

    use crate::ip;

    /// The class of an IPv4 packet carrying `protocol`; a later fragment carries no
    /// transport header, so it is [`IPV4_OTHER`].
    pub const fn ipv4(protocol: u8, later_fragment: bool) -> u32 {
        match protocol {
            _ if later_fragment => IPV4_OTHER,
            ip::TCP => IPV4_TCP,
            ip::UDP => IPV4_UDP,
            ip::ICMP => IPV4_ICMP,
            _ => IPV4_OTHER,
        }
    }

    /// The class of an IPv6 packet whose fixed header names `next_header`.
    pub const fn ipv6(next_header: u8) -> u32 {
        match next_header {
            ip::TCP => IPV6_TCP,
            ip::UDP => IPV6_UDP,
            ip::ICMPV6 => IPV6_ICMPV6,
            _ => IPV6_OTHER,
        }
    }

    /// Whether packets of `class` carry TCP or UDP ports right after the IP header.
    pub const fn has_ports(class: u32) -> bool {
        class & (IPV4_TCP | IPV4_UDP | IPV6_TCP | IPV6_UDP) != 0
    }
}

/// Entries per list of a [`KernelFilter`].
pub const KERNEL_FILTER_SLOTS: usize = 8;

/// What the capture programs may drop before the ring buffer, derived from `--filter`.
/// It only ever drops packets user space would reject too; user space still applies the
/// whole filter. A list with a count of 0 does not constrain.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct KernelFilter {
    /// The [`l4`] classes to keep.
    pub protocols: u32,
    /// Keep a TCP or UDP packet only if its source or destination port is one of these.
    pub port_count: u32,
    /// Keep a packet only if its owner's host pid is one of these.
    pub pid_count: u32,
    /// Keep a packet only if its owner's cgroup id is one of these.
    pub cgroup_count: u32,
    /// Keep a packet only if its owner's comm is one of these.
    pub comm_count: u32,
    /// Explicit padding, always 0.
    pub _pad: u32,
    /// Ports, host byte order.
    pub ports: [u16; KERNEL_FILTER_SLOTS],
    /// Host pids.
    pub pids: [u32; KERNEL_FILTER_SLOTS],
    /// cgroup v2 ids.
    pub cgroups: [u64; KERNEL_FILTER_SLOTS],
    /// comms, NUL-padded.
    pub comms: [[u8; COMM_LEN]; KERNEL_FILTER_SLOTS],
}

impl KernelFilter {
    /// Keeps every packet.
    pub const KEEP_ALL: KernelFilter = KernelFilter {
        protocols: l4::ALL,
        port_count: 0,
        pid_count: 0,
        cgroup_count: 0,
        comm_count: 0,
        _pad: 0,
        ports: [0; KERNEL_FILTER_SLOTS],
        pids: [0; KERNEL_FILTER_SLOTS],
        cgroups: [0; KERNEL_FILTER_SLOTS],
        comms: [[0; COMM_LEN]; KERNEL_FILTER_SLOTS],
    };
}

/// What the XDP program writes in front of each frame it hands to AF_XDP (XDP metadata
/// holds at most 32 bytes): the owner of the local socket the frame is addressed to.
/// The thread name is not here; user space reads it with the rest from `/proc`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct FrameOwner {
    /// cgroup v2 id of the task.
    pub cgroup_id: u64,
    /// Process id in the initial pid namespace; 0 when no local socket owns the frame.
    pub host_pid: u32,
    /// Thread id in the initial pid namespace.
    pub host_tid: u32,
    /// Real user id.
    pub uid: u32,
    /// Explicit padding, always 0.
    pub _pad: u32,
}

impl FrameOwner {
    /// Splits a frame of the prepended way ([`OwnerHandoff::Prepended`]) into the owner
    /// and the frame as it came; `None` when it is shorter than an owner.
    pub fn split_prepended(frame: &[u8]) -> Option<(FrameOwner, &[u8])> {
        FrameOwner::read_from_prefix(frame).ok()
    }
}

/// Size of a [`FrameOwner`] in bytes.
pub const FRAME_OWNER_LEN: usize = core::mem::size_of::<FrameOwner>();

/// How the XDP program hands each frame's [`FrameOwner`] to user space: one XDP program
/// each, of which user space loads the one the kernel offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OwnerHandoff {
    /// In the XDP metadata area just before the frame (`bpf_xdp_adjust_meta`).
    Metadata,
    /// Prepended to the frame itself (`bpf_xdp_adjust_head`); user space strips it.
    /// For kernels and drivers that give XDP programs no metadata.
    Prepended,
}

impl OwnerHandoff {
    /// The name of the XDP program that hands the owner over this way.
    pub const fn program(self) -> &'static str {
        match self {
            OwnerHandoff::Metadata => "netcore_xdp_meta",
            OwnerHandoff::Prepended => "netcore_xdp_head",
        }
    }

    /// Where the owner is, as the start-up line and `--version` say it.
    pub const fn phrase(self) -> &'static str {
        match self {
            OwnerHandoff::Metadata => "in XDP metadata",
            OwnerHandoff::Prepended => "prepended to each frame",
        }
    }
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

/// Host mode on several threads: the capture programs spread packets over one ring buffer
/// per decoding thread, by flow.
pub mod rings {
    use super::HEADERS_LEN;
    use crate::{dns, ip};

    /// The most ring buffers the capture programs can spread packets over (the kernel
    /// object defines this many; those beyond the run's count are left one page long).
    pub const MAX_RINGS: u32 = 16;

    /// Which of `rings` ring buffers takes the packet whose first `n` bytes (from its IP
    /// header on, at most [`HEADERS_LEN`]) are `data`. A hash of the addresses, and of the
    /// ports of TCP and UDP, that does not depend on the direction: both directions of a
    /// connection land in one ring, so one thread sees all of a flow, in order. Ports
    /// count only in unfragmented IPv4 and when TCP or UDP follows the IPv6 header
    /// directly, so every fragment of a datagram lands in one ring. Packets that are not
    /// IP go to ring 0.
    ///
    /// Written for the eBPF verifier too: every index is a constant or masked below 64.
    #[inline(always)]
    pub fn ring_of(data: &[u8; HEADERS_LEN], n: usize, rings: u32) -> u32 {
        if rings <= 1 {
            return 0;
        }
        let (a, b) = match data[0] >> 4 {
            4 if n >= 20 => (u64::from(word32(data, 12)), u64::from(word32(data, 16))),
            6 if n >= 40 => (
                word64(data, 8).wrapping_mul(MIX) ^ word64(data, 16),
                word64(data, 24).wrapping_mul(MIX) ^ word64(data, 32),
            ),
            _ => return 0,
        };
        let (src_port, dst_port) = match transport(data, n) {
            Some((_, at)) if at + 4 <= n => (port(data, at), port(data, at + 2)),
            _ => (0, 0),
        };
        // Each endpoint mixed on its own, then added: swapping them changes nothing.
        let sum = endpoint(a, src_port).wrapping_add(endpoint(b, dst_port));
        let hash = (sum ^ (sum >> 29)).wrapping_mul(MIX) >> 32;
        ((hash * u64::from(rings)) >> 32) as u32
    }

    /// Whether the packet whose first `n` bytes are `data` (as for [`ring_of`]) is a DNS
    /// message over UDP: to or from port 53, its header's flags captured. The capture
    /// programs copy these to every ring when flow events are selected
    /// ([`super::record_flag`]): answers name addresses, and with their queries time the
    /// lookups, for every thread's flows.
    #[inline(always)]
    pub fn is_dns_over_udp(data: &[u8; HEADERS_LEN], n: usize) -> bool {
        // The UDP header's 8 bytes, then the DNS header's id and flags.
        match transport(data, n) {
            Some((ip::UDP, at)) if at + 12 <= n => {
                port(data, at) == dns::PORT || port(data, at + 2) == dns::PORT
            }
            _ => false,
        }
    }

    /// Whether the packet whose first `n` bytes are `data` (as for [`ring_of`]) is TCP or
    /// UDP to or from port 53: DNS, which netcore never sheds (`--cpu-budget`).
    #[inline(always)]
    pub fn is_dns(data: &[u8; HEADERS_LEN], n: usize) -> bool {
        match transport(data, n) {
            Some((_, at)) if at + 4 <= n => {
                port(data, at) == dns::PORT || port(data, at + 2) == dns::PORT
            }
            _ => false,
        }
    }

    /// The transport protocol and the offset of its header, when it is TCP or UDP and its
    /// ports are in every packet of the datagram: in unfragmented IPv4, or right after the
    /// IPv6 header. The offset is 20 to 60.
    #[inline(always)]
    fn transport(data: &[u8; HEADERS_LEN], n: usize) -> Option<(u8, usize)> {
        let (protocol, at) = match data[0] >> 4 {
            4 if n >= 20 && (data[6] & 0x3f) | data[7] == 0 => {
                (data[9], (data[0] & 0x0f) as usize * 4) // MF and offset clear; at ≤ 60
            }
            6 if n >= 40 => (data[6], 40),
            _ => return None,
        };
        (matches!(protocol, ip::TCP | ip::UDP) && at >= 20).then_some((protocol, at))
    }

    /// An odd constant with well-spread bits (from the golden ratio).
    const MIX: u64 = 0x9e37_79b9_7f4a_7c15;

    #[inline(always)]
    fn port(data: &[u8; HEADERS_LEN], at: usize) -> u16 {
        u16::from_be_bytes([data[at], data[at + 1]])
    }

    #[inline(always)]
    fn endpoint(address: u64, port: u16) -> u64 {
        (address ^ (u64::from(port) << 48)).wrapping_mul(MIX)
    }

    #[inline(always)]
    fn word32(data: &[u8; HEADERS_LEN], at: usize) -> u32 {
        u32::from_le_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]])
    }

    #[inline(always)]
    fn word64(data: &[u8; HEADERS_LEN], at: usize) -> u64 {
        u64::from(word32(data, at)) | u64::from(word32(data, at + 4)) << 32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ip;

    #[test]
    fn layouts_have_no_implicit_padding() {
        // IntoBytes would not derive with implicit padding; these pin the sizes the kernel
        // programs were verified with.
        assert_eq!(core::mem::size_of::<TaskContext>(), 72);
        assert_eq!(PACKET_RECORD_LEN, 120);
        assert_eq!(core::mem::size_of::<ListenerKey>(), 16);
        assert_eq!(core::mem::size_of::<flow_counts::FlowCountKey>(), 48);
        assert_eq!(core::mem::size_of::<flow_counts::FlowCounters>(), 72);
        assert_eq!(
            FRAME_OWNER_LEN, 24,
            "XDP metadata: at most 32 bytes, a multiple of 4"
        );
    }

    #[test]
    fn a_prepended_owner_splits_off_its_frame() {
        let bytes = [
            0x2a, 0, 0, 0, 0, 0, 0, 0, // cgroup id 42
            0xe8, 0x03, 0, 0, // pid 1000
            0xe9, 0x03, 0, 0, // tid 1001
            0xf4, 0x01, 0, 0, // uid 500
            0, 0, 0, 0, // padding
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // the frame: a broadcast MAC
        ];
        let (owner, frame) = FrameOwner::split_prepended(&bytes).expect("long enough");
        assert_eq!(
            owner,
            FrameOwner {
                cgroup_id: 42,
                host_pid: 1000,
                host_tid: 1001,
                uid: 500,
                _pad: 0
            }
        );
        assert_eq!(frame, &[0xff; 6]);
        assert_eq!(owner.as_bytes(), &bytes[..FRAME_OWNER_LEN], "and back");
        assert_eq!(
            FrameOwner::split_prepended(&bytes[..FRAME_OWNER_LEN - 1]),
            None
        );
    }

    #[test]
    fn packet_classes() {
        assert_eq!(l4::ipv4(6, false), l4::IPV4_TCP);
        assert_eq!(
            l4::ipv4(6, true),
            l4::IPV4_OTHER,
            "a later fragment has no TCP header"
        );
        assert_eq!(l4::ipv4(1, false), l4::IPV4_ICMP);
        assert_eq!(l4::ipv6(17), l4::IPV6_UDP);
        assert_eq!(
            l4::ipv6(0),
            l4::IPV6_OTHER,
            "hop-by-hop first: user space walks it"
        );
        assert!(l4::has_ports(l4::IPV6_TCP) && !l4::has_ports(l4::IPV4_ICMP));
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

    /// An IPv4 packet of `protocol` between two endpoints, in a capture buffer.
    fn ipv4_packet(src: ([u8; 4], u16), dst: ([u8; 4], u16), protocol: u8) -> [u8; HEADERS_LEN] {
        let mut data = [0; HEADERS_LEN];
        data[0] = 0x45;
        data[9] = protocol;
        data[12..16].copy_from_slice(&src.0);
        data[16..20].copy_from_slice(&dst.0);
        data[20..22].copy_from_slice(&src.1.to_be_bytes());
        data[22..24].copy_from_slice(&dst.1.to_be_bytes());
        data
    }

    #[test]
    fn both_directions_of_a_flow_share_a_ring_and_flows_spread() {
        use rings::ring_of;
        let mut used = [0u32; 4];
        for port in 1000..1400u16 {
            let client = ([10, 0, 0, 2], port);
            let server = ([10, 0, 0, 1], 53);
            let out = ipv4_packet(client, server, ip::UDP);
            let back = ipv4_packet(server, client, ip::UDP);
            let ring = ring_of(&out, 28, 4);
            assert_eq!(ring, ring_of(&back, 28, 4), "port {port}");
            used[ring as usize] += 1;
        }
        // 400 flows over 4 rings: each ring gets a fair share.
        assert!(used.iter().all(|&n| (60..=140).contains(&n)), "{used:?}");
        // One ring: everything in ring 0; not IP, too short: ring 0.
        let packet = ipv4_packet(([1, 2, 3, 4], 5), ([5, 6, 7, 8], 9), ip::TCP);
        assert_eq!(ring_of(&packet, 40, 1), 0);
        assert_eq!(ring_of(&[0; HEADERS_LEN], 40, 4), 0);
        assert!((0..8).all(|rings| ring_of(&packet, 40, rings) < rings.max(1)));
    }

    #[test]
    fn fragments_and_uncaptured_ports_hash_by_addresses_alone() {
        use rings::ring_of;
        let a = ([192, 168, 1, 1], 4000);
        let b = ([192, 168, 1, 2], 5000);
        let mut first = ipv4_packet(a, b, ip::UDP);
        first[6] = 0x20; // more fragments
        let mut later = ipv4_packet(a, b, ip::UDP);
        later[6..8].copy_from_slice(&[0, 0xb9]); // offset 185 × 8, no ports there
        later[20..24].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        let icmp = ipv4_packet(a, b, ip::ICMP);
        // Some ring count tells them apart from the unfragmented flow, whose ports count.
        let whole = ipv4_packet(a, b, ip::UDP);
        assert!((2..=16).any(|rings| ring_of(&whole, 28, rings) != ring_of(&icmp, 28, rings)));
        for rings in 2..=16 {
            let by_addresses = ring_of(&icmp, 28, rings);
            assert_eq!(ring_of(&first, 28, rings), by_addresses);
            assert_eq!(ring_of(&later, 28, rings), by_addresses);
            // Ports not captured: addresses alone too.
            assert_eq!(ring_of(&whole, 21, rings), by_addresses);
        }
    }

    #[test]
    fn ipv6_flows_are_symmetric_too() {
        use rings::ring_of;
        let packet = |src: u8, dst: u8, sport: u16, dport: u16| {
            let mut data = [0; HEADERS_LEN];
            data[0] = 0x60;
            data[6] = ip::TCP;
            data[8..24]
                .copy_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, src]);
            data[24..40]
                .copy_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, dst]);
            data[40..42].copy_from_slice(&sport.to_be_bytes());
            data[42..44].copy_from_slice(&dport.to_be_bytes());
            data
        };
        let mut used = [0; 2];
        for port in 40000..40064 {
            let ring = ring_of(&packet(1, 2, port, 443), 60, 2);
            assert_eq!(ring, ring_of(&packet(2, 1, 443, port), 60, 2));
            used[ring as usize] += 1;
        }
        assert!(used.iter().all(|&n| n > 10), "{used:?}");
    }

    #[test]
    fn dns_messages_over_udp_are_told_from_other_packets() {
        use rings::is_dns_over_udp;
        let client = ([10, 0, 0, 2], 40000);
        let server = ([10, 0, 0, 1], 53);
        let mut answer = ipv4_packet(server, client, ip::UDP);
        answer[30] = 0x81; // QR, RD
        let mut question = ipv4_packet(client, server, ip::UDP);
        question[30] = 0x01;
        assert!(is_dns_over_udp(&answer, 40));
        assert!(is_dns_over_udp(&question, 40));
        // Cut before the flags; over TCP; fragmented; another port.
        assert!(!is_dns_over_udp(&answer, 30));
        let mut over_tcp = answer;
        over_tcp[9] = ip::TCP;
        assert!(!is_dns_over_udp(&over_tcp, 40));
        let mut fragment = answer;
        fragment[6] = 0x20; // MF
        assert!(!is_dns_over_udp(&fragment, 40));
        let mut elsewhere = ipv4_packet(([10, 0, 0, 1], 5353), client, ip::UDP);
        elsewhere[30] = 0x81;
        assert!(!is_dns_over_udp(&elsewhere, 40));
        // IPv6, the answer sent to port 53 (resolver to resolver).
        let mut v6 = [0; HEADERS_LEN];
        v6[0] = 0x60;
        v6[6] = ip::UDP;
        v6[42..44].copy_from_slice(&53u16.to_be_bytes());
        v6[50] = 0x84;
        assert!(is_dns_over_udp(&v6, 60));
        assert!(!is_dns_over_udp(&v6, 50));
    }
}
