//! The load-time filter: what capture may drop before the ring buffer, derived from
//! `--filter` by user space (`KernelFilter`). Decides on the owner and on the packet's
//! class and ports; anything it cannot decide is kept for user space.

use core::mem::offset_of;

use netcore_core::abi::{HEADERS_LEN, KERNEL_FILTER_SLOTS, KernelFilter, TaskContext, l4};
use netcore_core::ipv4::{self, FRAG_OFFSET_MASK, Ipv4Header};
use netcore_core::ipv6::{self, Ipv6Header};

/// What capture may drop before the ring buffer; user space sets it at load time.
#[unsafe(no_mangle)]
pub(crate) static KFILTER: KernelFilter = KernelFilter::KEEP_ALL;

/// Reads a field of the load-time filter. Volatile, so the value set at load time is used
/// (the verifier then sees a constant and prunes the checks that cannot apply).
macro_rules! kfilter {
    ($field:ident) => {
        // SAFETY: a read of a field of a static, aligned as its type.
        unsafe { core::ptr::read_volatile(&$crate::filter::KFILTER.$field) }
    };
}
pub(crate) use kfilter;

/// Whether the filter decides on owners at all.
#[inline(always)]
pub fn filters_owners() -> bool {
    kfilter!(pid_count) | kfilter!(cgroup_count) | kfilter!(comm_count) != 0
}

/// Whether the filter keeps packets owned by `task`.
#[inline(always)]
pub fn keeps_owner(task: &TaskContext) -> bool {
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

/// Whether the filter keeps the packet whose first `n` bytes (from its IP header on, at
/// most [`HEADERS_LEN`]) are `data`. Undecidable packets (too short, not IP) are kept:
/// user space decides.
#[inline(always)]
pub fn keeps_packet(data: &[u8; HEADERS_LEN], n: usize) -> bool {
    let protocols = kfilter!(protocols);
    let ports = kfilter!(port_count) as usize;
    if protocols == l4::ALL && ports == 0 {
        return true;
    }
    let (class, l4_offset) = match data[0] >> 4 {
        4 if n >= ipv4::HEADER_LEN => {
            let at = offset_of!(Ipv4Header, flags_frag);
            let flags_frag = u16::from_be_bytes([data[at], data[at + 1]]);
            let protocol = data[offset_of!(Ipv4Header, protocol)];
            (
                l4::ipv4(protocol, flags_frag & FRAG_OFFSET_MASK != 0),
                ipv4::header_len_of(data[0]),
            )
        }
        6 if n >= ipv6::HEADER_LEN => (
            l4::ipv6(data[offset_of!(Ipv6Header, next_header)]),
            ipv6::HEADER_LEN,
        ),
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
