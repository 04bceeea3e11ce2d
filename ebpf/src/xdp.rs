//! AF_XDP capture: frames the selected events can use go to the AF_XDP socket of their
//! rx queue, with the owner of their local port; everything else passes to the kernel.
//!
//! The owner travels with the frame one of two ways (`netcore_core::abi::OwnerHandoff`),
//! one program each, of which user space loads the one the kernel accepts: in the XDP
//! metadata area before the frame (`netcore_xdp_meta`), or prepended to the frame itself
//! with `bpf_xdp_adjust_head` (`netcore_xdp_head`), for kernels and drivers that offer
//! XDP programs no metadata.

use core::mem::{offset_of, size_of};

use aya_ebpf::bindings::xdp_action::{XDP_ABORTED, XDP_PASS};
use aya_ebpf::helpers::generated::{bpf_xdp_adjust_head, bpf_xdp_adjust_meta};
use aya_ebpf::macros::{map, xdp};
use aya_ebpf::maps::XskMap;
use aya_ebpf::programs::XdpContext;
use netcore_core::abi::{FRAME_OWNER_LEN, FrameOwner, ListenerKey, counter, l4};
use netcore_core::icmpv6::NEIGHBOR_DISCOVERY;
use netcore_core::ip;
use netcore_core::ipv4::{self, FRAG_OFFSET_MASK, Ipv4Header};
use netcore_core::ipv6::{self, Ipv6Header};
use netcore_core::link::{
    ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_QINQ, ETHERTYPE_VLAN, EthernetHeader, VlanTag,
};

use crate::attribution::listener;
use crate::capture::count;
use crate::filter::kfilter;

/// AF_XDP sockets by rx queue; user space inserts one per queue it reads.
#[map]
static XSKS: XskMap = XskMap::with_max_entries(64, 0);

/// Cookie of the network namespace of the capture interface, set by user space.
#[unsafe(no_mangle)]
static XDP_NETNS_COOKIE: u64 = 0;

/// Reads a `T` at `offset` in the frame, after checking it lies before `data_end`.
#[inline(always)]
fn read_at<T: Copy>(ctx: &XdpContext, offset: usize) -> Option<T> {
    let start = ctx.data() + offset;
    if start + size_of::<T>() > ctx.data_end() {
        return None;
    }
    // SAFETY: the `size_of::<T>()` bytes at `start` lie inside the frame (checked above,
    // as the verifier requires); frame bytes have no alignment, hence read_unaligned.
    Some(unsafe { (start as *const T).read_unaligned() })
}

/// A big-endian u16 at `offset` in the frame.
#[inline(always)]
fn u16_at(ctx: &XdpContext, offset: usize) -> Option<u16> {
    read_at::<u16>(ctx, offset).map(u16::from_be)
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
    let mut ethertype = u16_at(ctx, offset_of!(EthernetHeader, ethertype))?;
    let mut l3 = size_of::<EthernetHeader>();
    if ethertype == ETHERTYPE_VLAN || ethertype == ETHERTYPE_QINQ {
        ethertype = u16_at(ctx, l3 + offset_of!(VlanTag, ethertype))?;
        l3 += size_of::<VlanTag>();
    }
    let (class, l4_offset) = match ethertype {
        ETHERTYPE_IPV4 => {
            let version_ihl = read_at::<u8>(ctx, l3)?;
            let flags_frag = u16_at(ctx, l3 + offset_of!(Ipv4Header, flags_frag))?;
            let protocol = read_at::<u8>(ctx, l3 + offset_of!(Ipv4Header, protocol))?;
            let class = l4::ipv4(protocol, flags_frag & FRAG_OFFSET_MASK != 0);
            (class, l3 + ipv4::header_len_of(version_ihl))
        }
        ETHERTYPE_IPV6 => {
            let next = read_at::<u8>(ctx, l3 + offset_of!(Ipv6Header, next_header))?;
            if next == ip::ICMPV6 {
                // Neighbour discovery must reach the kernel, or the link stops working.
                let icmp_type = read_at::<u8>(ctx, l3 + ipv6::HEADER_LEN)?;
                if NEIGHBOR_DISCOVERY.contains(&icmp_type) {
                    return Some(XdpVerdict::Pass);
                }
            }
            (l4::ipv6(next), l3 + ipv6::HEADER_LEN)
        }
        _ => return Some(XdpVerdict::Pass), // ARP and everything not IP.
    };
    if kfilter!(protocols) & class == 0 {
        return Some(XdpVerdict::Pass);
    }
    let local_port = if l4::has_ports(class) {
        // The destination port follows the source port; the mask bounds the offset for
        // the verifier (it is at most 18 + 60).
        u16_at(ctx, (l4_offset & 0x7f) + 2)?
    } else {
        0
    };
    Some(XdpVerdict::Capture { local_port })
}

/// The owner of the local socket `local_port` belongs to in the capture interface's
/// network namespace; all zeroes when there is none.
#[inline(always)]
fn owner_of(local_port: u16) -> FrameOwner {
    if local_port == 0 {
        return FrameOwner::default();
    }
    let key = ListenerKey {
        // SAFETY: a read of a static set at load time.
        netns_cookie: unsafe { core::ptr::read_volatile(&XDP_NETNS_COOKIE) },
        port: local_port,
        _pad: [0; 6],
    };
    match listener(&key) {
        Some(task) => FrameOwner {
            cgroup_id: task.cgroup_id,
            host_pid: task.host_pid,
            host_tid: task.host_tid,
            uid: task.uid,
            _pad: 0,
        },
        None => FrameOwner::default(),
    }
}

/// The owner of a frame to capture, or `None` for a frame the kernel keeps.
#[inline(always)]
fn frame_owner(ctx: &XdpContext) -> Option<FrameOwner> {
    match classify(ctx) {
        Some(XdpVerdict::Capture { local_port }) => Some(owner_of(local_port)),
        Some(XdpVerdict::Pass) | None => None,
    }
}

/// AF_XDP capture with the owner in the XDP metadata area just before the frame
/// (`OwnerHandoff::Metadata`). A driver that has no room for metadata makes
/// `bpf_xdp_adjust_meta` fail at run time: such a frame passes to the kernel, counted
/// (`counter::XDP_NO_METADATA`), so user space can name the problem.
#[xdp]
pub fn netcore_xdp_meta(ctx: XdpContext) -> u32 {
    let Some(owner) = frame_owner(&ctx) else {
        return XDP_PASS;
    };
    // SAFETY: the context is this program's own.
    if unsafe { bpf_xdp_adjust_meta(ctx.ctx, -(FRAME_OWNER_LEN as i32)) } != 0 {
        count(counter::XDP_NO_METADATA);
        return XDP_PASS;
    }
    let meta = ctx.metadata();
    if meta + FRAME_OWNER_LEN > ctx.metadata_end() {
        return XDP_ABORTED;
    }
    // SAFETY: FRAME_OWNER_LEN bytes from `meta` lie inside the metadata area (checked
    // above); the area is only 4-byte aligned, hence write_unaligned.
    unsafe { (meta as *mut FrameOwner).write_unaligned(owner) };
    XSKS.redirect(ctx.rx_queue_index(), u64::from(XDP_PASS))
        .unwrap_or(XDP_PASS)
}

/// AF_XDP capture with the owner prepended to the frame (`OwnerHandoff::Prepended`):
/// the frame grows by `FRAME_OWNER_LEN` bytes at its head, which user space strips. A
/// frame that cannot go to a socket gets its head back before it passes to the kernel.
#[xdp]
pub fn netcore_xdp_head(ctx: XdpContext) -> u32 {
    let Some(owner) = frame_owner(&ctx) else {
        return XDP_PASS;
    };
    let grow = FRAME_OWNER_LEN as i32;
    // SAFETY: the context is this program's own.
    if unsafe { bpf_xdp_adjust_head(ctx.ctx, -grow) } != 0 {
        return XDP_PASS; // No headroom: the frame is untouched.
    }
    let head = ctx.data();
    if head + FRAME_OWNER_LEN > ctx.data_end() {
        return XDP_ABORTED;
    }
    // SAFETY: FRAME_OWNER_LEN bytes from `head` lie inside the frame (checked above);
    // frame bytes have no alignment, hence write_unaligned.
    unsafe { (head as *mut FrameOwner).write_unaligned(owner) };
    match XSKS.redirect(ctx.rx_queue_index(), u64::from(XDP_PASS)) {
        Ok(action) => action,
        Err(_) => {
            // SAFETY: as above; this undoes the growth, so the kernel sees the frame as
            // it came.
            unsafe { bpf_xdp_adjust_head(ctx.ctx, grow) };
            XDP_PASS
        }
    }
}
