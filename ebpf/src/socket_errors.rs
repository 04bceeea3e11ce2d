//! Socket reports: what a failed connect looks like from the socket, for
//! `net_connect_failure` in host mode, where the capture programs cannot see it (an ICMP
//! error for a local socket is never delivered through the socket path they hook; a SYN
//! nobody answers sends nothing back). `inet_sock_set_state` (tp_btf) gives a connecting
//! TCP socket's close with its error — refused, unreachable, timed out — or none when the
//! process gave up first or took the error already (`SO_ERROR` clears it);
//! `inet_sk_error_report` gives an ICMP error answering a connecting TCP socket (reported
//! while it still connects; the kernel reports the other TCP errors after the close) and
//! a UDP socket's error (a connected one learns of ICMP errors). Each is written, like a
//! packet, to the ring of the socket's flow, flagged [`record_flag::SOCKET_ERROR`] or
//! [`record_flag::SOCKET_CLOSED`]: an IP and TCP (a SYN) or UDP header from the socket's
//! addresses, local to remote, with the socket's owner, network namespace and error.

use core::mem::MaybeUninit;
use core::ptr::addr_of_mut;

use aya_ebpf::helpers::generated::{
    bpf_get_smp_processor_id, bpf_get_socket_cookie, bpf_ktime_get_boot_ns,
};
use aya_ebpf::macros::btf_tracepoint;
use aya_ebpf::programs::BtfTracePointContext;
use netcore_core::abi::rings::ring_of;
use netcore_core::abi::{
    PACKET_RECORD_LEN, PacketRecord, TaskContext, counter, direction, record_flag, task_offset,
};

use crate::attribution::{field, owner_in_map};
use crate::capture::{Head, UNKNOWN_OWNER, copy_words, count, reserve, rings, wakeup_flag};

/// The kernel's TCP states and address families, and the protocols reported.
const TCP_SYN_SENT: u64 = 2;
const TCP_CLOSE: u64 = 7;
const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;
const IPPROTO_TCP: u16 = 6;
const IPPROTO_UDP: u16 = 17;

/// Bytes written after the record's header: an IPv6 and a TCP header fit.
const REPORT_LEN: usize = 64;

/// `inet_sk_error_report(const struct sock *sk)`: a socket's error was set: a UDP
/// socket's, or an ICMP error's for a TCP socket still connecting.
#[btf_tracepoint(function = "inet_sk_error_report")]
pub fn netcore_sk_error(ctx: BtfTracePointContext) -> i32 {
    let sk: *mut core::ffi::c_void = ctx.arg(0);
    let protocol: u16 = field(sk as u64, task_offset::SOCK_PROTOCOL);
    let connecting = u64::from(field::<u8>(sk as u64, task_offset::SKC_STATE)) == TCP_SYN_SENT;
    if protocol == IPPROTO_UDP || (protocol == IPPROTO_TCP && connecting) {
        report(sk, protocol, record_flag::SOCKET_ERROR);
    }
    0
}

/// `inet_sock_set_state(const struct sock *sk, int oldstate, int newstate)`: a connecting
/// TCP socket closed (it failed, or its process gave up).
#[btf_tracepoint(function = "inet_sock_set_state")]
pub fn netcore_sk_state(ctx: BtfTracePointContext) -> i32 {
    let sk: *mut core::ffi::c_void = ctx.arg(0);
    let (old, new): (u64, u64) = (ctx.arg(1), ctx.arg(2));
    if old == TCP_SYN_SENT
        && new == TCP_CLOSE
        && field::<u16>(sk as u64, task_offset::SOCK_PROTOCOL) == IPPROTO_TCP
    {
        report(sk, IPPROTO_TCP, record_flag::SOCKET_CLOSED);
    }
    0
}

/// Writes the report of socket `sk` (TCP or UDP) into the ring of its flow, flagged
/// `kind` ([`record_flag::SOCKET_ERROR`] or [`record_flag::SOCKET_CLOSED`]).
#[inline(always)]
fn report(sk: *mut core::ffi::c_void, protocol: u16, kind: u8) {
    let base = sk as u64;
    let mut slot = MaybeUninit::<Head>::uninit();
    let head = Head::zero(&mut slot);
    let Some(len) = write_headers(&mut head.0, base, protocol) else {
        return;
    };
    // A connect failed while its process held the socket (an ICMP error answering the
    // SYN at once, on a fast path) leaves the error soft.
    let mut error = field::<i32>(base, task_offset::SOCK_ERR);
    if error == 0 {
        error = field(base, task_offset::SOCK_ERR_SOFT);
    }
    let error = error.clamp(0, i32::from(u16::MAX)) as u16;
    let net: u64 = field(base, task_offset::SKC_NET);
    let netns_cookie: u64 = field(net, task_offset::NET_COOKIE);
    // SAFETY: `sk` is the BTF-typed socket the tracepoint passes; the helper reads it
    // through the kernel's own accessor.
    let cookie = unsafe { bpf_get_socket_cookie(sk) };
    let owner = owner_in_map(cookie).unwrap_or(&UNKNOWN_OWNER);
    let ring = ring_of(&head.0, len, rings());
    let Some(mut entry) = reserve(ring, PACKET_RECORD_LEN + REPORT_LEN) else {
        count(counter::RING_FULL);
        return;
    };
    let record = entry.as_mut_ptr();
    let header = record.cast::<PacketRecord>();
    let [error_low, error_high] = error.to_ne_bytes();
    // SAFETY (the writes below): the reservation is PACKET_RECORD_LEN + REPORT_LEN bytes,
    // 8-byte aligned; each field and word written lies within it, aligned.
    unsafe {
        addr_of_mut!((*header).boot_ns).write(bpf_ktime_get_boot_ns());
        addr_of_mut!((*header).socket_cgroup_id).write(0);
        copy_words(
            (owner as *const TaskContext).cast(),
            addr_of_mut!((*header).task).cast(),
            size_of::<TaskContext>() / 8,
        );
        addr_of_mut!((*header).length).write(len as u32);
        addr_of_mut!((*header).captured).write(len as u32);
        addr_of_mut!((*header).cpu).write(bpf_get_smp_processor_id());
        addr_of_mut!((*header).ifindex).write(0);
        addr_of_mut!((*header).netns_cookie).write(netns_cookie);
        addr_of_mut!((*header).direction)
            .cast::<u64>()
            .write(u64::from_ne_bytes([
                direction::EGRESS,
                kind,
                error_low,
                error_high,
                0,
                0,
                0,
                0,
            ]));
        let data = record.add(PACKET_RECORD_LEN).cast::<u64>();
        for word in 0..REPORT_LEN / 8 {
            data.add(word).write(head.word(word));
        }
    }
    entry.submit(wakeup_flag(ring, PACKET_RECORD_LEN + REPORT_LEN));
}

/// Writes into `out` the IP and transport header of a packet of socket `sk` from its local
/// to its remote end (an IPv4-mapped IPv6 socket's as IPv4); their length, `None` for a
/// family other than IPv4 and IPv6.
#[inline(always)]
fn write_headers(
    out: &mut [u8; netcore_core::abi::HEADERS_LEN],
    sk: u64,
    protocol: u16,
) -> Option<usize> {
    let family: u16 = field(sk, task_offset::SKC_FAMILY);
    let remote_port: u16 = field(sk, task_offset::SKC_DPORT);
    // Network order both; `skc_num` (the local port in host order) may be released already.
    let local_port: u16 = field(sk, task_offset::INET_SPORT);
    let transport_len = if protocol == IPPROTO_TCP { 20 } else { 8 };
    let mut v4 = match family {
        AF_INET => Some((
            field::<u32>(sk, task_offset::SKC_RCV_SADDR).to_ne_bytes(),
            field::<u32>(sk, task_offset::SKC_DADDR).to_ne_bytes(),
        )),
        AF_INET6 => None,
        _ => return None,
    };
    let (mut local6, mut remote6) = ([0u8; 16], [0u8; 16]);
    if v4.is_none() {
        local6 = field(sk, task_offset::SKC_V6_RCV_SADDR);
        remote6 = field(sk, task_offset::SKC_V6_DADDR);
        let mapped = |a: &[u8; 16]| a[..10] == [0; 10] && a[10] == 0xff && a[11] == 0xff;
        if mapped(&remote6) {
            v4 = Some((
                [local6[12], local6[13], local6[14], local6[15]],
                [remote6[12], remote6[13], remote6[14], remote6[15]],
            ));
        }
    }
    let ip_len = match v4 {
        Some((local, remote)) => {
            let total = (20 + transport_len) as u16;
            out[0] = 0x45;
            out[2..4].copy_from_slice(&total.to_be_bytes());
            out[8] = 64;
            out[9] = protocol as u8;
            out[12..16].copy_from_slice(&local);
            out[16..20].copy_from_slice(&remote);
            20
        }
        None => {
            out[0] = 0x60;
            out[4..6].copy_from_slice(&(transport_len as u16).to_be_bytes());
            out[6] = protocol as u8;
            out[7] = 64;
            out[8..24].copy_from_slice(&local6);
            out[24..40].copy_from_slice(&remote6);
            40
        }
    };
    let transport = &mut out[ip_len..ip_len + transport_len];
    transport[0..2].copy_from_slice(&local_port.to_ne_bytes());
    transport[2..4].copy_from_slice(&remote_port.to_ne_bytes());
    if protocol == IPPROTO_TCP {
        transport[12] = 0x50; // data offset: 5 words
        transport[13] = 0x02; // SYN
    } else {
        transport[4..6].copy_from_slice(&8u16.to_be_bytes());
    }
    Some(ip_len + transport_len)
}
