//! Attribution: which task owns each socket. The socket hooks run in the context of the
//! task using the socket and record it under the socket's cookie; `capture` and `xdp`
//! look owners up.

use aya_ebpf::EbpfContext;
use aya_ebpf::bindings::{BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB, BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB};
use aya_ebpf::helpers::generated::{
    bpf_get_current_cgroup_id, bpf_get_current_task, bpf_get_netns_cookie, bpf_get_socket_cookie,
};
use aya_ebpf::helpers::{
    bpf_get_current_comm, bpf_get_current_pid_tgid, bpf_get_current_uid_gid, bpf_probe_read_kernel,
};
use aya_ebpf::macros::{btf_tracepoint, cgroup_sock, cgroup_sock_addr, map, sock_ops};
use aya_ebpf::maps::LruHashMap;
use aya_ebpf::programs::{BtfTracePointContext, SockAddrContext, SockContext, SockOpsContext};
use netcore_core::abi::{ListenerKey, TaskContext, task_offset};

/// Byte offsets into `task_struct` and the structures it points to, indexed by
/// [`task_offset`]; user space sets them from the kernel's BTF at load time.
#[unsafe(no_mangle)]
static TASK_OFFSETS: [u32; task_offset::COUNT] = [0; task_offset::COUNT];

/// Deepest pid-namespace level read (the kernel's `MAX_PID_NS_LEVEL`).
const MAX_PID_NS_LEVEL: u64 = 32;

/// Socket cookie → the task that last used the socket.
#[map]
pub static OWNERS: LruHashMap<u64, TaskContext> = LruHashMap::with_max_entries(65536, 0);

/// Local ports by network namespace, with the owner of the socket using them: bound
/// sockets (for accepted sockets to inherit) and established TCP connections (for the
/// AF_XDP path to attribute frames addressed to them).
#[map]
pub static LISTENERS: LruHashMap<ListenerKey, TaskContext> = LruHashMap::with_max_entries(16384, 0);

/// The owner recorded for the socket with `cookie`, if any.
#[inline(always)]
pub fn owner_of(cookie: u64) -> Option<TaskContext> {
    owner_in_map(cookie).copied()
}

/// The owner recorded for the socket with `cookie`, if any, where the map keeps it: read
/// it before the program ends (the map may replace it afterwards).
#[inline(always)]
pub fn owner_in_map(cookie: u64) -> Option<&'static TaskContext> {
    let owner = OWNERS.get_ptr(&cookie)?;
    // SAFETY: the map returned a valid pointer to one value of this type, 8-byte aligned,
    // which stays valid for the program's run (the kernel frees map values after an RCU
    // grace period); the socket hooks replace values whole.
    Some(unsafe { &*owner })
}

/// The owner of the socket bound to `key`, if any.
#[inline(always)]
pub fn listener(key: &ListenerKey) -> Option<TaskContext> {
    let owner = LISTENERS.get_ptr(key)?;
    // SAFETY: as in `owner_of`.
    Some(unsafe { *owner })
}

/// The task running this program, as a [`TaskContext`].
#[inline(always)]
fn current_task() -> TaskContext {
    let pid_tgid = bpf_get_current_pid_tgid();
    let uid_gid = bpf_get_current_uid_gid();
    let mut task = TaskContext {
        // SAFETY: a helper without arguments.
        cgroup_id: unsafe { bpf_get_current_cgroup_id() },
        host_pid: (pid_tgid >> 32) as u32,
        host_tid: pid_tgid as u32,
        uid: uid_gid as u32,
        gid: (uid_gid >> 32) as u32,
        comm: bpf_get_current_comm().unwrap_or_default(),
        ..TaskContext::default()
    };
    if offset(task_offset::READY) != 0 {
        read_namespaces(&mut task);
    }
    task
}

/// The byte offset at `index` of [`TASK_OFFSETS`].
#[inline(always)]
fn offset(index: usize) -> u64 {
    // SAFETY: a read of a static set at load time; `index` < COUNT at every call site.
    u64::from(unsafe { core::ptr::read_volatile(&TASK_OFFSETS[index]) })
}

/// A `T` at kernel address `address`, zero when it cannot be read.
#[inline(always)]
fn kernel_read<T: Default>(address: u64) -> T {
    // SAFETY: the helper checks the address and fails instead of faulting.
    unsafe { bpf_probe_read_kernel(address as *const T) }.unwrap_or_default()
}

/// The field at `TASK_OFFSETS[field]` of the structure at `base`.
#[inline(always)]
pub(crate) fn field<T: Default>(base: u64, field: usize) -> T {
    if base == 0 {
        return T::default();
    }
    kernel_read(base + offset(field))
}

/// The address of entry `level` of a `struct pid`'s `numbers` array.
#[inline(always)]
fn upid_at(pid: u64, level: u64) -> u64 {
    pid + offset(task_offset::PID_NUMBERS) + level * offset(task_offset::UPID_SIZE)
}

/// Completes `task` from the current `task_struct`: ids in its own pid namespace, its
/// parent, its namespaces and start time, the way `/proc/PID/status` and `ns/` show them.
#[inline(always)]
fn read_namespaces(task: &mut TaskContext) {
    // SAFETY: a helper without arguments; the address is only ever read through
    // bpf_probe_read_kernel.
    let current = unsafe { bpf_get_current_task() };
    let thread_pid: u64 = field(current, task_offset::TASK_THREAD_PID);
    let level = u64::from(field::<u32>(thread_pid, task_offset::PID_LEVEL));
    if thread_pid == 0 || level > MAX_PID_NS_LEVEL {
        return;
    }
    let own_upid = upid_at(thread_pid, level);
    let pid_ns: u64 = field(own_upid, task_offset::UPID_NS);
    task.ns_tid = field(own_upid, task_offset::UPID_NR);
    let leader: u64 = field(current, task_offset::TASK_GROUP_LEADER);
    let leader_pid: u64 = field(leader, task_offset::TASK_THREAD_PID);
    task.ns_pid = field(upid_at(leader_pid, level), task_offset::UPID_NR);
    // The parent's process id as the task's namespace numbers it, if the parent is in it.
    let parent: u64 = field(current, task_offset::TASK_REAL_PARENT);
    task.host_ppid = field(parent, task_offset::TASK_TGID);
    let parent_leader: u64 = field(parent, task_offset::TASK_GROUP_LEADER);
    let parent_pid: u64 = field(parent_leader, task_offset::TASK_THREAD_PID);
    let parent_level = u64::from(field::<u32>(parent_pid, task_offset::PID_LEVEL));
    if parent_pid != 0 && parent_level >= level {
        let parent_upid = upid_at(parent_pid, level);
        if field::<u64>(parent_upid, task_offset::UPID_NS) == pid_ns {
            task.ns_ppid = field(parent_upid, task_offset::UPID_NR);
        }
    }
    let nsproxy: u64 = field(current, task_offset::TASK_NSPROXY);
    let mount_ns: u64 = field(nsproxy, task_offset::NSPROXY_MNT_NS);
    task.mount_ns = field(mount_ns, task_offset::MNT_NS_INUM);
    task.start_time_ns = field(current, task_offset::TASK_START_BOOTTIME);
    task.pid_ns = field(pid_ns, task_offset::PID_NS_INUM);
}

/// Records the current task as the owner of the socket with `cookie`, unless it already is.
#[inline(always)]
fn own(cookie: u64) {
    if cookie == 0 {
        return;
    }
    let host_tid = bpf_get_current_pid_tgid() as u32;
    if host_tid == 0 {
        return; // Kernel threads own nothing.
    }
    if owner_of(cookie).is_some_and(|known| known.host_tid == host_tid) {
        return;
    }
    let _ = OWNERS.insert(&cookie, &current_task(), 0);
}

/// The cookie of the socket of a program context the helper accepts.
#[inline(always)]
fn socket_cookie(ctx: &impl EbpfContext) -> u64 {
    // SAFETY: every context passed here (sock, sock_addr, sock_ops) is one the helper
    // takes; the pointer is the program's own context.
    unsafe { bpf_get_socket_cookie(ctx.as_ptr()) }
}

/// The cookie of the network namespace of a program context the helper accepts.
#[inline(always)]
fn netns_cookie(ctx: &impl EbpfContext) -> u64 {
    // SAFETY: as in `socket_cookie`.
    unsafe { bpf_get_netns_cookie(ctx.as_ptr()) }
}

#[cgroup_sock(sock_create)]
pub fn netcore_sock_create(ctx: SockContext) -> i32 {
    own(socket_cookie(&ctx));
    1
}

/// Records the owner of a bound socket and makes it the listener for its port.
#[inline(always)]
fn post_bind(ctx: &SockContext) -> i32 {
    own(socket_cookie(ctx));
    // SAFETY: `sock` is the program's context, valid for the program's run.
    let port = unsafe { (*ctx.sock).src_port } as u16;
    let key = ListenerKey {
        netns_cookie: netns_cookie(ctx),
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

#[cgroup_sock_addr(connect4)]
pub fn netcore_connect4(ctx: SockAddrContext) -> i32 {
    own(socket_cookie(&ctx));
    1
}

#[cgroup_sock_addr(connect6)]
pub fn netcore_connect6(ctx: SockAddrContext) -> i32 {
    own(socket_cookie(&ctx));
    1
}

#[cgroup_sock_addr(sendmsg4)]
pub fn netcore_sendmsg4(ctx: SockAddrContext) -> i32 {
    own(socket_cookie(&ctx));
    1
}

#[cgroup_sock_addr(sendmsg6)]
pub fn netcore_sendmsg6(ctx: SockAddrContext) -> i32 {
    own(socket_cookie(&ctx));
    1
}

#[cgroup_sock_addr(recvmsg4)]
pub fn netcore_recvmsg4(ctx: SockAddrContext) -> i32 {
    own(socket_cookie(&ctx));
    1
}

#[cgroup_sock_addr(recvmsg6)]
pub fn netcore_recvmsg6(ctx: SockAddrContext) -> i32 {
    own(socket_cookie(&ctx));
    1
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
    let cookie = socket_cookie(&ctx);
    let key = ListenerKey {
        netns_cookie: netns_cookie(&ctx),
        port: ctx.local_port() as u16,
        _pad: [0; 6],
    };
    if op == BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB {
        if let Some(owner) = listener(&key) {
            let _ = OWNERS.insert(&cookie, &owner, 0);
        }
    } else if let Some(owner) = owner_of(cookie) {
        // A connect()ed socket's local port is known only now: the AF_XDP path finds
        // its owner by that port.
        let _ = LISTENERS.insert(&key, &owner, 0);
    }
    1
}

/// `sock_send_length`/`sock_recv_length(struct sock *sk, int ret, int flags)`.
#[inline(always)]
fn own_traced_sock(ctx: &BtfTracePointContext) -> i32 {
    let sk: *mut core::ffi::c_void = ctx.arg(0);
    // SAFETY: `sk` is the BTF-typed socket the tracepoint passes; the helper reads it
    // through the kernel's own accessor.
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
