//! netcore's kernel programs.
//!
//! * **Attribution**: the socket-lifecycle hooks run in the context of the task using a
//!   socket and record it in `OWNERS` (socket cookie → [`TaskContext`]). `sock_create`,
//!   `connect`, `sendmsg`, `recvmsg` and `post_bind` see sockets a task creates or uses;
//!   `sock_send_length`/`sock_recv_length` (tp_btf) keep the owner current when another task
//!   uses the socket; `sockops` gives an accept()ed TCP socket the owner of its listener
//!   until a task reads from it. `LISTENERS` maps (netns, local port) to an owner. User
//!   space seeds both maps with the sockets that existed before it started.
//! * **Host capture**: `cgroup_skb` ingress and egress on the cgroup v2 root copy up to
//!   `SNAPLEN` bytes of every packet, its metadata and its owner into the `EVENTS` ring
//!   buffer, unless `KFILTER` rules it out. They always let the packet through: capture
//!   never drops host traffic.
//! * **AF_XDP capture**: `netcore_xdp` hands frames the selected events can use to the
//!   AF_XDP socket of their rx queue (`XSKS`), with the owner of their destination port as
//!   metadata; everything else, ARP and neighbour discovery included, goes to the kernel.
#![cfg_attr(target_arch = "bpf", no_std)]
#![cfg_attr(target_arch = "bpf", no_main)]
#![allow(
    clippy::not_unsafe_ptr_arg_deref,
    reason = "aya's program macros generate the entry points that take the context pointer"
)]

use aya_ebpf::EbpfContext;
use aya_ebpf::bindings::xdp_action::{XDP_ABORTED, XDP_PASS};
use aya_ebpf::bindings::{
    __sk_buff, BPF_RB_AVAIL_DATA, BPF_RB_FORCE_WAKEUP, BPF_RB_NO_WAKEUP,
    BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB, BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB,
};
use aya_ebpf::helpers::generated::{
    bpf_get_current_cgroup_id, bpf_get_netns_cookie, bpf_get_smp_processor_id,
    bpf_get_socket_cookie, bpf_ktime_get_boot_ns, bpf_skb_cgroup_id, bpf_skb_load_bytes,
    bpf_xdp_adjust_meta,
};
use aya_ebpf::helpers::{bpf_get_current_comm, bpf_get_current_pid_tgid, bpf_get_current_uid_gid};
use aya_ebpf::macros::{
    btf_tracepoint, cgroup_skb, cgroup_sock, cgroup_sock_addr, map, sock_ops, xdp,
};
use aya_ebpf::maps::{LruHashMap, PerCpuArray, RingBuf, XskMap};
use aya_ebpf::programs::{
    BtfTracePointContext, SkBuffContext, SockAddrContext, SockContext, SockOpsContext, XdpContext,
};
use netcore_core::abi::{
    FRAME_OWNER_LEN, FrameOwner, KERNEL_FILTER_SLOTS, KernelFilter, ListenerKey, MAX_SNAPLEN,
    PACKET_RECORD_LEN, PacketRecord, TaskContext, counter, direction, l4,
};

/// Packet bytes copied per record; user space sets it from `--snaplen` at load time.
#[unsafe(no_mangle)]
static SNAPLEN: u32 = 1024;

/// What capture may drop before the ring buffer; user space derives it from `--filter`.
#[unsafe(no_mangle)]
static KFILTER: KernelFilter = KernelFilter::KEEP_ALL;

/// Bytes of queued records that make the capture programs wake user space.
const WAKEUP_BYTES: u64 = 256 << 10;

/// Captured packets for user space, in place.
#[map]
static EVENTS: RingBuf = RingBuf::with_byte_size(8 << 20, 0);

/// Socket cookie → the task that last used the socket.
#[map]
static OWNERS: LruHashMap<u64, TaskContext> = LruHashMap::with_max_entries(65536, 0);

/// Local ports by network namespace, with the owner of the socket using them: bound
/// sockets (for accepted sockets to inherit) and established TCP connections (for the
/// AF_XDP path to attribute frames addressed to them).
#[map]
static LISTENERS: LruHashMap<ListenerKey, TaskContext> = LruHashMap::with_max_entries(16384, 0);

/// Per-CPU counters, indexed by [`counter`].
#[map]
static COUNTERS: PerCpuArray<u64> = PerCpuArray::with_max_entries(counter::COUNT, 0);

/// One packet record being assembled; too large for the 512-byte BPF stack.
#[repr(C)]
struct Scratch {
    header: PacketRecord,
    data: [u8; MAX_SNAPLEN],
}

#[map]
static SCRATCH: PerCpuArray<Scratch> = PerCpuArray::with_max_entries(1, 0);

/// The task running this program, as a [`TaskContext`].
#[inline(always)]
fn current_task() -> TaskContext {
    let pid_tgid = bpf_get_current_pid_tgid();
    let uid_gid = bpf_get_current_uid_gid();
    TaskContext {
        // SAFETY: helper without arguments.
        cgroup_id: unsafe { bpf_get_current_cgroup_id() },
        host_pid: (pid_tgid >> 32) as u32,
        host_tid: pid_tgid as u32,
        uid: uid_gid as u32,
        gid: (uid_gid >> 32) as u32,
        comm: bpf_get_current_comm().unwrap_or_default(),
    }
}

/// Records the current task as the owner of the socket with `cookie`, unless it already is.
#[inline(always)]
fn own(cookie: u64) {
    if cookie == 0 {
        return;
    }
    let task = current_task();
    if task.host_tid == 0 {
        return; // Kernel threads own nothing.
    }
    if let Some(known) = OWNERS.get_ptr(&cookie) {
        // SAFETY: the map returned a valid pointer to a value of this type.
        if unsafe { (*known).host_tid } == task.host_tid {
            return;
        }
    }
    let _ = OWNERS.insert(&cookie, &task, 0);
}

fn count(index: u32) {
    if let Some(n) = COUNTERS.get_ptr_mut(index) {
        // SAFETY: per-CPU slot, no concurrent writer on this CPU.
        unsafe { *n += 1 };
    }
}

#[cgroup_sock(sock_create)]
pub fn netcore_sock_create(ctx: SockContext) -> i32 {
    // SAFETY: the helper accepts this context type.
    own(unsafe { bpf_get_socket_cookie(ctx.as_ptr()) });
    1
}

/// Records the owner of a bound socket and makes it the listener for its port.
#[inline(always)]
fn post_bind(ctx: &SockContext) -> i32 {
    // SAFETY: the helpers accept this context type; the context pointer is valid.
    let (cookie, netns, port) = unsafe {
        (
            bpf_get_socket_cookie(ctx.as_ptr()),
            bpf_get_netns_cookie(ctx.as_ptr()),
            (*ctx.sock).src_port as u16,
        )
    };
    own(cookie);
    let key = ListenerKey {
        netns_cookie: netns,
        port,
        _pad: [0; 6],
    };
    let _ = LISTENERS.insert(&key, &current_task(), 0);
    1
}

#[cgroup_sock(post_bind4)]
pub fn netcore_post_bind4(ctx: SockContext) -> i32 {
    post_bind(&ctx)
}

#[cgroup_sock(post_bind6)]
pub fn netcore_post_bind6(ctx: SockContext) -> i32 {
    post_bind(&ctx)
}

/// Records the current task as the owner of a socket it connects, sends or receives on.
#[inline(always)]
fn own_sock_addr(ctx: &SockAddrContext) -> i32 {
    // SAFETY: the helper accepts this context type.
    own(unsafe { bpf_get_socket_cookie(ctx.as_ptr()) });
    1
}

#[cgroup_sock_addr(connect4)]
pub fn netcore_connect4(ctx: SockAddrContext) -> i32 {
    own_sock_addr(&ctx)
}

#[cgroup_sock_addr(connect6)]
pub fn netcore_connect6(ctx: SockAddrContext) -> i32 {
    own_sock_addr(&ctx)
}

#[cgroup_sock_addr(sendmsg4)]
pub fn netcore_sendmsg4(ctx: SockAddrContext) -> i32 {
    own_sock_addr(&ctx)
}

#[cgroup_sock_addr(sendmsg6)]
pub fn netcore_sendmsg6(ctx: SockAddrContext) -> i32 {
    own_sock_addr(&ctx)
}

#[cgroup_sock_addr(recvmsg4)]
pub fn netcore_recvmsg4(ctx: SockAddrContext) -> i32 {
    own_sock_addr(&ctx)
}

#[cgroup_sock_addr(recvmsg6)]
pub fn netcore_recvmsg6(ctx: SockAddrContext) -> i32 {
    own_sock_addr(&ctx)
}

/// An accepted TCP socket has no task yet (the handshake completes in softirq): give it the
/// owner of the socket bound to its local port, until a task reads or writes it. An
/// actively opened one registers its local port.
#[sock_ops]
pub fn netcore_sockops(ctx: SockOpsContext) -> u32 {
    let op = ctx.op();
    if op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB && op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB {
        return 1;
    }
    // SAFETY: the helpers accept this context type.
    let (cookie, netns) = unsafe {
        (
            bpf_get_socket_cookie(ctx.as_ptr()),
            bpf_get_netns_cookie(ctx.as_ptr()),
        )
    };
    let key = ListenerKey {
        netns_cookie: netns,
        port: ctx.local_port() as u16,
        _pad: [0; 6],
    };
    if op == BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB {
        if let Some(listener) = LISTENERS.get_ptr(&key) {
            // SAFETY: the map returned a valid pointer to a value of this type.
            let _ = OWNERS.insert(&cookie, unsafe { &*listener }, 0);
        }
    } else if let Some(owner) = OWNERS.get_ptr(&cookie) {
        // A connect()ed socket's local port is known only now: the AF_XDP path finds
        // its owner by that port.
        // SAFETY: the map returned a valid pointer to a value of this type.
        let _ = LISTENERS.insert(&key, unsafe { &*owner }, 0);
    }
    1
}

/// `sock_send_length`/`sock_recv_length(struct sock *sk, int ret, int flags)`.
#[inline(always)]
fn own_traced_sock(ctx: &BtfTracePointContext) -> i32 {
    let sk: *mut core::ffi::c_void = ctx.arg(0);
    // SAFETY: `sk` is the BTF-typed socket the tracepoint passes.
    own(unsafe { bpf_get_socket_cookie(sk) });
    0
}

#[btf_tracepoint(function = "sock_send_length")]
pub fn netcore_sock_send(ctx: BtfTracePointContext) -> i32 {
    own_traced_sock(&ctx)
}

#[btf_tracepoint(function = "sock_recv_length")]
pub fn netcore_sock_recv(ctx: BtfTracePointContext) -> i32 {
    own_traced_sock(&ctx)
}

/// Reads a field of the load-time filter. Volatile, so the value set at load time is used
/// (the verifier then sees a constant and prunes the checks that cannot apply).
macro_rules! kfilter {
    ($field:ident) => {
        // SAFETY: a read of a static.
        unsafe { core::ptr::read_volatile(&KFILTER.$field) }
    };
}

/// Whether the filter keeps packets owned by `task`.
#[inline(always)]
fn keeps_owner(task: &TaskContext) -> bool {
    let pids = kfilter!(pid_count) as usize;
    if pids > 0 && !(0..KERNEL_FILTER_SLOTS).any(|i| i < pids && kfilter!(pids)[i] == task.host_pid)
    {
        return false;
    }
    let cgroups = kfilter!(cgroup_count) as usize;
    if cgroups > 0
        && !(0..KERNEL_FILTER_SLOTS).any(|i| i < cgroups && kfilter!(cgroups)[i] == task.cgroup_id)
    {
        return false;
    }
    let comms = kfilter!(comm_count) as usize;
    if comms > 0 {
        let halves = |c: &[u8; 16]| {
            let (a, b) = c.split_at(8);
            (
                u64::from_ne_bytes(a.try_into().unwrap_or_default()),
                u64::from_ne_bytes(b.try_into().unwrap_or_default()),
            )
        };
        let own = halves(&task.comm);
        let listed = kfilter!(comms);
        if !(0..KERNEL_FILTER_SLOTS).any(|i| i < comms && halves(&listed[i]) == own) {
            return false;
        }
    }
    true
}

/// Whether the filter keeps the packet whose first `n` bytes are `data`. Undecidable
/// packets (too short, not IP) are kept: user space decides.
#[inline(always)]
fn keeps_packet(data: &[u8; MAX_SNAPLEN], n: usize) -> bool {
    let protocols = kfilter!(protocols);
    let ports = kfilter!(port_count) as usize;
    if protocols == l4::ALL && ports == 0 {
        return true;
    }
    let (class, l4_offset) = match data[0] >> 4 {
        4 if n >= 20 => {
            let later_fragment = (u16::from(data[6] & 0x1f) << 8 | u16::from(data[7])) != 0;
            (
                l4::ipv4(data[9], later_fragment),
                usize::from(data[0] & 0xf) * 4,
            )
        }
        6 if n >= 40 => (l4::ipv6(data[6]), 40),
        _ => return true,
    };
    if protocols & class == 0 {
        return false;
    }
    if ports == 0 {
        return true;
    }
    if !l4::has_ports(class) {
        return class == l4::IPV6_OTHER; // Extension headers: user space walks them.
    }
    let at = l4_offset & 0x7c; // ≤ 124 (it is 20–60 or 40): keeps the reads in bounds.
    if at + 4 > n {
        return true;
    }
    let src = u16::from_be_bytes([data[at], data[at + 1]]);
    let dst = u16::from_be_bytes([data[at + 2], data[at + 3]]);
    let listed = kfilter!(ports);
    (0..KERNEL_FILTER_SLOTS).any(|i| i < ports && (listed[i] == src || listed[i] == dst))
}

/// Copies the packet, its metadata and its owner into the ring buffer. Returns 1 (allow)
/// whatever happens.
#[inline(always)]
fn capture(ctx: &SkBuffContext, dir: u8) -> i32 {
    let Some(scratch) = SCRATCH.get_ptr_mut(0) else {
        return 1;
    };
    let skb = ctx.as_ptr().cast::<__sk_buff>();
    // SAFETY: `skb` is this program's context; `scratch` is this CPU's slot.
    unsafe {
        let len = (*skb).len;
        // 64-bit arithmetic keeps the verifier's bounds on `n` (a 32-bit copy loses them,
        // and bpf_skb_load_bytes must see 0 < n <= MAX_SNAPLEN).
        let mut n = len as u64;
        let snaplen = core::ptr::read_volatile(&SNAPLEN) as u64;
        if n > snaplen {
            n = snaplen;
        }
        if n > MAX_SNAPLEN as u64 {
            n = MAX_SNAPLEN as u64;
        }
        if n > 0
            && bpf_skb_load_bytes(skb.cast(), 0, (&raw mut (*scratch).data).cast(), n as u32) != 0
        {
            n = 0;
        }
        let cookie = bpf_get_socket_cookie(skb.cast());
        let header = &mut (*scratch).header;
        header.boot_ns = bpf_ktime_get_boot_ns();
        header.socket_cookie = cookie;
        header.socket_cgroup_id = bpf_skb_cgroup_id(skb);
        header.task = match OWNERS.get_ptr(&cookie) {
            Some(task) => *task,
            None => TaskContext::default(),
        };
        if !keeps_owner(&header.task) || !keeps_packet(&(*scratch).data, n as usize) {
            count(counter::FILTERED);
            return 1;
        }
        header.length = len;
        header.captured = n as u32;
        header.cpu = bpf_get_smp_processor_id();
        header.direction = dir;
        header._pad = [0; 3];
        let record =
            core::slice::from_raw_parts(scratch.cast::<u8>(), PACKET_RECORD_LEN + n as usize);
        // Wake user space once per WAKEUP_BYTES of records, not per record: a wake-up per
        // packet costs more than the capture. User space also drains on a short timer.
        let wakeup = if EVENTS.query(BPF_RB_AVAIL_DATA as u64) >= WAKEUP_BYTES {
            BPF_RB_FORCE_WAKEUP
        } else {
            BPF_RB_NO_WAKEUP
        };
        if EVENTS.output(record, wakeup as u64).is_ok() {
            count(counter::CAPTURED);
        } else {
            count(counter::RING_FULL);
        }
    }
    1
}

#[cgroup_skb(ingress)]
pub fn netcore_ingress(ctx: SkBuffContext) -> i32 {
    capture(&ctx, direction::INGRESS)
}

#[cgroup_skb(egress)]
pub fn netcore_egress(ctx: SkBuffContext) -> i32 {
    capture(&ctx, direction::EGRESS)
}

/// AF_XDP sockets by rx queue; user space inserts one per queue it reads.
#[map]
static XSKS: XskMap = XskMap::with_max_entries(64, 0);

/// Cookie of the network namespace of the capture interface, set by user space.
#[unsafe(no_mangle)]
static XDP_NETNS_COOKIE: u64 = 0;

/// A bounds-checked pointer to a `T` at `offset` in the frame.
#[inline(always)]
fn frame_at<T>(ctx: &XdpContext, offset: usize) -> Option<*const T> {
    let start = ctx.data() + offset;
    if start + core::mem::size_of::<T>() > ctx.data_end() {
        return None;
    }
    Some(start as *const T)
}

/// What the XDP program does with a frame.
enum XdpVerdict {
    /// Leave it to the kernel (ARP, ND, frames the selected events cannot use).
    Pass,
    /// Hand it to AF_XDP, owned by the socket bound to this local port (0: unknown).
    Capture { local_port: u16 },
}

/// Parses Ethernet (one VLAN tag at most), IPv4/IPv6 and the TCP/UDP ports.
#[inline(always)]
fn classify(ctx: &XdpContext) -> Option<XdpVerdict> {
    // SAFETY (every read below): `frame_at` checked it against data_end.
    let mut ethertype = u16::from_be(unsafe { *frame_at::<u16>(ctx, 12)? });
    let mut l3 = 14;
    if ethertype == 0x8100 || ethertype == 0x88a8 {
        ethertype = u16::from_be(unsafe { *frame_at::<u16>(ctx, 16)? });
        l3 = 18;
    }
    let (class, l4_offset) = unsafe {
        match ethertype {
            0x0800 => {
                let ver_ihl = *frame_at::<u8>(ctx, l3)?;
                let fragment = u16::from_be(*frame_at::<u16>(ctx, l3 + 6)?);
                let protocol = *frame_at::<u8>(ctx, l3 + 9)?;
                let class = l4::ipv4(protocol, fragment & 0x1fff != 0);
                (class, l3 + usize::from(ver_ihl & 0xf) * 4)
            }
            0x86dd => {
                let next = *frame_at::<u8>(ctx, l3 + 6)?;
                if next == 58 {
                    // Neighbour discovery must reach the kernel, or the link stops working.
                    let icmp_type = *frame_at::<u8>(ctx, l3 + 40)?;
                    if (133..=137).contains(&icmp_type) {
                        return Some(XdpVerdict::Pass);
                    }
                }
                (l4::ipv6(next), l3 + 40)
            }
            _ => return Some(XdpVerdict::Pass), // ARP and everything not IP.
        }
    };
    if kfilter!(protocols) & class == 0 {
        return Some(XdpVerdict::Pass);
    }
    let local_port = if l4::has_ports(class) {
        // SAFETY: checked read, as above.
        u16::from_be(unsafe { *frame_at::<u16>(ctx, (l4_offset & 0x7f) + 2)? })
    } else {
        0
    };
    Some(XdpVerdict::Capture { local_port })
}

/// AF_XDP capture: frames for the selected events go to the queue's AF_XDP socket, with
/// the owner of their local port as metadata; everything else passes to the kernel.
#[xdp]
pub fn netcore_xdp(ctx: XdpContext) -> u32 {
    let local_port = match classify(&ctx) {
        Some(XdpVerdict::Capture { local_port }) => local_port,
        Some(XdpVerdict::Pass) | None => return XDP_PASS,
    };
    let mut owner = FrameOwner::default();
    if local_port != 0 {
        let key = ListenerKey {
            // SAFETY: a read of a static set at load time.
            netns_cookie: unsafe { core::ptr::read_volatile(&XDP_NETNS_COOKIE) },
            port: local_port,
            _pad: [0; 6],
        };
        if let Some(task) = LISTENERS.get_ptr(&key) {
            // SAFETY: the map returned a valid pointer to a value of this type.
            let task = unsafe { &*task };
            owner = FrameOwner {
                cgroup_id: task.cgroup_id,
                host_pid: task.host_pid,
                host_tid: task.host_tid,
                uid: task.uid,
                _pad: 0,
            };
        }
    }
    // SAFETY: the context is this program's; the metadata area is checked before writing.
    unsafe {
        if bpf_xdp_adjust_meta(ctx.ctx, -(FRAME_OWNER_LEN as i32)) != 0 {
            return XDP_PASS;
        }
        let meta = ctx.metadata();
        if meta + FRAME_OWNER_LEN > ctx.metadata_end() {
            return XDP_ABORTED;
        }
        *(meta as *mut FrameOwner) = owner;
    }
    XSKS.redirect(ctx.rx_queue_index(), u64::from(XDP_PASS))
        .unwrap_or(XDP_PASS)
}

#[cfg(not(target_arch = "bpf"))]
fn main() {}

#[cfg(target_arch = "bpf")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {}
}
