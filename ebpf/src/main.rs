//! netcore's kernel programs.
//!
//! * **Attribution** ([`attribution`]): the socket-lifecycle hooks run in the context of
//!   the task using a socket and record it in `OWNERS` (socket cookie → `TaskContext`).
//!   `sock_create`, `connect`, `sendmsg`, `recvmsg` and `post_bind` see sockets a task
//!   creates or uses; `sock_send_length`/`sock_recv_length` (tp_btf) keep the owner current
//!   when another task uses the socket; `sockops` gives an accept()ed TCP socket the owner
//!   of its listener until a task reads from it. `LISTENERS` maps (netns, local port) to an
//!   owner. User space seeds both maps with the sockets that existed before it started.
//! * **Host capture** ([`capture`]): `cgroup_skb` ingress and egress on the cgroup v2 root
//!   copy up to `SNAPLEN` bytes of every packet, its metadata and its owner into the
//!   ring buffer of their flow (`EVENTS0`…, one per decoding thread), unless the
//!   load-time filter ([`filter`]) rules it out. When only flow and DNS events are
//!   selected, [`flow_counts`] counts each TCP and UDP flow in `FLOW_COUNTS` and sends up
//!   only the packets the flow events read; while netcore sheds work (`--cpu-budget`),
//!   [`shedding`] samples the packet events one in N. They always let the packet through:
//!   capture never drops host traffic.
//! * **Socket reports** ([`socket_errors`]): `inet_sk_error_report` and
//!   `inet_sock_set_state` (tp_btf) write a failing socket's error — a TCP connect
//!   refused, unreachable or timed out, or given up; a UDP socket's ICMP error — to the
//!   ring of its flow, for `net_connect_failure` (host mode sees no ICMP error arrive).
//! * **AF_XDP capture** ([`xdp`]): `netcore_xdp_meta` or `netcore_xdp_head` (whichever
//!   way of handing over the owner the kernel offers) hands frames the selected events
//!   can use to the AF_XDP socket of their rx queue (`XSKS`), with the owner of their
//!   destination port in the XDP metadata or prepended to the frame; everything else, ARP
//!   and neighbour discovery included, goes to the kernel.
//!
//! Header layouts and numbers come from `netcore-core` (the same crate user space decodes
//! with), so the two sides cannot disagree on an offset.
#![cfg_attr(target_arch = "bpf", no_std)]
#![cfg_attr(target_arch = "bpf", no_main)]
#![cfg_attr(target_arch = "bpf", feature(core_intrinsics))]
#![cfg_attr(target_arch = "bpf", allow(internal_features))]
#![allow(
    clippy::not_unsafe_ptr_arg_deref,
    reason = "aya's program macros generate the entry points that take the context pointer"
)]

mod attribution;
mod capture;
mod filter;
mod flow_counts;
mod shedding;
mod socket_errors;
mod xdp;

#[cfg(not(target_arch = "bpf"))]
fn main() {}

#[cfg(target_arch = "bpf")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {}
}
