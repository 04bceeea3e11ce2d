//! Host capture: `cgroup_skb` ingress and egress copy each packet, its metadata and its
//! owner into a ring buffer: `EVENTS0`, or with several decoding threads the one of
//! `EVENTS0`…`EVENTS15` its flow hashes to ([`ring_of`]). They always let the packet
//! through.

use aya_ebpf::EbpfContext;
use aya_ebpf::bindings::{__sk_buff, BPF_RB_FORCE_WAKEUP, BPF_RB_NO_WAKEUP};
use aya_ebpf::helpers::generated::{
    bpf_get_netns_cookie, bpf_get_smp_processor_id, bpf_get_socket_cookie, bpf_ktime_get_boot_ns,
    bpf_skb_cgroup_id, bpf_skb_load_bytes,
};
use aya_ebpf::macros::{cgroup_skb, map};
use aya_ebpf::maps::{PerCpuArray, RingBuf};
use aya_ebpf::programs::SkBuffContext;
use netcore_core::abi::rings::ring_of;
use netcore_core::abi::{MAX_SNAPLEN, PACKET_RECORD_LEN, PacketRecord, counter, direction};

use crate::attribution::owner_of;
use crate::filter::{keeps_owner, keeps_packet};

/// Packet bytes copied per record; user space sets it from `--snaplen` at load time.
#[unsafe(no_mangle)]
static SNAPLEN: u32 = 1024;

/// A CPU wakes user space once per this many records it writes (a power of two).
const WAKEUP_EVERY: u64 = 512;

/// How many ring buffers packets are spread over (one per decoding thread, at most
/// `MAX_RINGS`); user space sets it at load time.
#[unsafe(no_mangle)]
static RINGS: u32 = 1;

/// Defines the ring buffers (captured packets for user space, read in place) and
/// [`output`], which writes a record into one of them.
macro_rules! ring_buffers {
    ($($index:literal => $name:ident),+) => {
        $(
            #[map]
            static $name: RingBuf = RingBuf::with_byte_size(8 << 20, 0);
        )+

        /// Writes `record` into ring buffer `ring` with `flags`; whether it fit.
        #[inline(always)]
        fn output(ring: u32, record: &[u8], flags: u64) -> bool {
            match ring {
                $($index => $name.output(record, flags).is_ok(),)+
                _ => false,
            }
        }
    };
}

ring_buffers!(
    0 => EVENTS0, 1 => EVENTS1, 2 => EVENTS2, 3 => EVENTS3, 4 => EVENTS4, 5 => EVENTS5,
    6 => EVENTS6, 7 => EVENTS7, 8 => EVENTS8, 9 => EVENTS9, 10 => EVENTS10, 11 => EVENTS11,
    12 => EVENTS12, 13 => EVENTS13, 14 => EVENTS14, 15 => EVENTS15
);

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

fn count(index: u32) {
    if let Some(n) = COUNTERS.get_ptr_mut(index) {
        // SAFETY: this CPU's slot of a per-CPU array of u64 (8-byte aligned); no other
        // writer runs on this CPU while the program does.
        unsafe { *n += 1 };
    }
}

/// Copies the packet, its metadata and its owner into the ring buffer. Returns 1 (allow)
/// whatever happens.
#[inline(always)]
fn capture(ctx: &SkBuffContext, dir: u8) -> i32 {
    let Some(scratch) = SCRATCH.get_ptr_mut(0) else {
        return 1;
    };
    // SAFETY: the map's value for this CPU, valid and aligned for `Scratch` for the
    // program's run; no other program on this CPU uses it meanwhile.
    let scratch = unsafe { &mut *scratch };
    let skb = ctx.as_ptr().cast::<__sk_buff>();
    // SAFETY: `skb` is this program's context, valid for its run.
    let len = unsafe { (*skb).len };
    // 64-bit arithmetic keeps the verifier's bounds on `n` (a 32-bit copy loses them,
    // and bpf_skb_load_bytes must see 0 < n <= MAX_SNAPLEN).
    let mut n = len as u64;
    // SAFETY: a read of a static set at load time.
    let snaplen = unsafe { core::ptr::read_volatile(&SNAPLEN) } as u64;
    if n > snaplen {
        n = snaplen;
    }
    if n > MAX_SNAPLEN as u64 {
        n = MAX_SNAPLEN as u64;
    }
    // SAFETY: copies 0 < n <= MAX_SNAPLEN bytes into `data`, which holds MAX_SNAPLEN
    // (a byte array: no alignment to keep).
    if n > 0
        && unsafe { bpf_skb_load_bytes(skb.cast(), 0, scratch.data.as_mut_ptr().cast(), n as u32) }
            != 0
    {
        n = 0;
    }
    // SAFETY (the helpers below): each takes this program's skb context.
    let cookie = unsafe { bpf_get_socket_cookie(skb.cast()) };
    let task = owner_of(cookie).unwrap_or_default();
    if !keeps_owner(&task) || !keeps_packet(&scratch.data, n as usize) {
        count(counter::FILTERED);
        return 1;
    }
    scratch.header = PacketRecord {
        boot_ns: unsafe { bpf_ktime_get_boot_ns() },
        socket_cgroup_id: unsafe { bpf_skb_cgroup_id(skb) },
        task,
        length: len,
        captured: n as u32,
        cpu: unsafe { bpf_get_smp_processor_id() },
        // SAFETY: `skb` is this program's context, valid for its run.
        ifindex: unsafe { (*skb).ifindex },
        netns_cookie: unsafe { bpf_get_netns_cookie(skb.cast()) },
        direction: dir,
        _pad: [0; 7],
    };
    // SAFETY: `Scratch` is repr(C) with the header first and no padding before `data`
    // (PacketRecord is a multiple of 8 bytes), so the header and the first n ≤
    // MAX_SNAPLEN data bytes are PACKET_RECORD_LEN + n initialised, contiguous bytes.
    let record = unsafe {
        core::slice::from_raw_parts(
            (scratch as *const Scratch).cast::<u8>(),
            PACKET_RECORD_LEN + n as usize,
        )
    };
    // SAFETY: a read of a static set at load time.
    let rings = unsafe { core::ptr::read_volatile(&RINGS) };
    let Some(captured) = COUNTERS.get_ptr_mut(counter::CAPTURED) else {
        return 1;
    };
    // SAFETY: as in `count`.
    let captured = unsafe { &mut *captured };
    // Wake user space once per WAKEUP_EVERY records of this CPU, not per record: a
    // wake-up costs more than the capture (an inter-processor interrupt, a VM exit in a
    // guest), and user space, once woken, reads until the ring is empty. The CPUs' counts
    // are out of step, so with N CPUs a wake-up comes about every WAKEUP_EVERY / N records
    // of each; user space's 10 ms poll timeout drains what a quiet ring holds. Counting on
    // this CPU, unlike asking the ring how full it is, touches no memory other CPUs write.
    let wakeup = match *captured & (WAKEUP_EVERY - 1) {
        0 => BPF_RB_FORCE_WAKEUP,
        _ => BPF_RB_NO_WAKEUP,
    };
    if output(
        ring_of(&scratch.data, n as usize, rings),
        record,
        wakeup as u64,
    ) {
        *captured += 1;
    } else {
        count(counter::RING_FULL);
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
