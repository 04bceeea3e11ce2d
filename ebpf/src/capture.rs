//! Host capture: `cgroup_skb` ingress and egress copy each packet, its metadata and its
//! owner into a ring buffer: `EVENTS0`, or with several decoding threads the one of
//! `EVENTS0`…`EVENTS15` its flow hashes to ([`ring_of`]), unless flow accounting keeps it
//! ([`crate::flow_counts`]). They always let the packet through.

use core::mem::{MaybeUninit, offset_of};
use core::ptr::addr_of_mut;

use aya_ebpf::EbpfContext;
use aya_ebpf::bindings::{__sk_buff, BPF_RB_AVAIL_DATA, BPF_RB_FORCE_WAKEUP, BPF_RB_NO_WAKEUP};
use aya_ebpf::helpers::generated::{
    bpf_get_netns_cookie, bpf_get_smp_processor_id, bpf_get_socket_cookie, bpf_ktime_get_boot_ns,
    bpf_ktime_get_coarse_ns, bpf_skb_cgroup_id, bpf_skb_load_bytes,
};
use aya_ebpf::macros::{cgroup_skb, map};
use aya_ebpf::maps::ring_buf::RingBufBytes;
use aya_ebpf::maps::{PerCpuArray, RingBuf};
use aya_ebpf::programs::SkBuffContext;
use netcore_core::abi::rings::{MAX_RINGS, is_dns, is_dns_over_udp, ring_of};
use netcore_core::abi::{
    HEADERS_LEN, MAX_SNAPLEN, PACKET_RECORD_LEN, PacketRecord, TaskContext, counter, direction,
    record_flag,
};

use crate::attribution::owner_in_map;
use crate::filter::{filters_owners, keeps_owner, keeps_packet};
use crate::flow_counts::{Accounted, account, tracks_flows};
use crate::shedding::{sample_every, sampled};

/// Packet bytes copied per record; user space sets it from `--snaplen` at load time.
#[unsafe(no_mangle)]
static SNAPLEN: u32 = 1024;

/// User space is woken when the unread bytes of a ring cross a multiple of 2^WAKEUP_SHIFT
/// (an eighth of the ring); user space sets it at load time.
#[unsafe(no_mangle)]
static WAKEUP_SHIFT: u32 = 20;

/// How many ring buffers packets are spread over (one per decoding thread, at most
/// `MAX_RINGS`); user space sets it at load time.
#[unsafe(no_mangle)]
static RINGS: u32 = 1;

/// How many rings the run uses.
#[inline(always)]
pub(crate) fn rings() -> u32 {
    // SAFETY: a read of a static set at load time.
    unsafe { core::ptr::read_volatile(&RINGS) }
}

/// Non-zero: a DNS message over UDP is also copied, marked [`record_flag::NAMES_ONLY`], to
/// every other ring, whose thread learns its names for the flows it tracks; user space sets
/// it at load time when flow events are selected.
#[unsafe(no_mangle)]
static SHARE_DNS_ANSWERS: u32 = 0;

/// Defines the ring buffers (captured packets for user space, read in place), [`reserve`],
/// which makes room for a record in one of them, and [`unread`].
macro_rules! ring_buffers {
    ($($index:literal => $name:ident),+) => {
        $(
            #[map]
            static $name: RingBuf = RingBuf::with_byte_size(8 << 20, 0);
        )+

        /// Room for a record of `size` bytes (a constant) in ring buffer `ring`, to be
        /// written in place and submitted; `None` when the ring is full.
        #[inline(always)]
        pub(crate) fn reserve(ring: u32, size: usize) -> Option<RingBufBytes<'static>> {
            match ring {
                $($index => $name.reserve_bytes(size, 0),)+
                _ => None,
            }
        }

        /// Bytes of ring buffer `ring` user space has not read yet (records being written
        /// included).
        #[inline(always)]
        fn unread(ring: u32) -> u64 {
            match ring {
                $($index => $name.query(u64::from(BPF_RB_AVAIL_DATA)),)+
                _ => 0,
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

/// Adds one to this CPU's slot of counter `index` (`netcore_core::abi::counter`).
pub(crate) fn count(index: u32) {
    if let Some(n) = COUNTERS.get_ptr_mut(index) {
        // SAFETY: this CPU's slot of a per-CPU array of u64 (8-byte aligned); no other
        // writer runs on this CPU while the program does.
        unsafe { *n += 1 };
    }
}

/// The owner of a packet whose socket no task has been seen using: all zero.
// SAFETY: `TaskContext` is plain integers, for which all zero is a value.
pub(crate) static UNKNOWN_OWNER: TaskContext = unsafe { core::mem::zeroed() };

/// Copies `words` 8-byte words from `from` to `to`, both 8-byte aligned. Volatile stores,
/// so the copy is not turned into a call of a byte-at-a-time `memcpy` (the BPF target has
/// no faster one).
///
/// # Safety
/// `from` must be valid for reads and `to` for writes of `words` words.
#[inline(always)]
pub(crate) unsafe fn copy_words(from: *const u64, to: *mut u64, words: usize) {
    for word in 0..words {
        // SAFETY: within both ranges, by the caller's promise.
        unsafe { to.add(word).write_volatile(from.add(word).read()) };
    }
}

/// Copies the packet, its metadata and its owner into the ring buffer of its flow.
/// Returns 1 (allow) whatever happens.
///
/// The packet's head ([`HEADERS_LEN`] bytes) is read onto the stack first: the filter and
/// the ring choice look at it. The record is then written in place in the ring, in the
/// smallest size class that holds it (64, 128, 256 … 4096 packet bytes: the verifier wants
/// a reservation of constant size): the header, the head, and the rest of the packet
/// straight from the skb.
#[inline(always)]
fn capture(ctx: &SkBuffContext, dir: u8) -> i32 {
    let skb = ctx.as_ptr().cast::<__sk_buff>();
    // SAFETY: `skb` is this program's context, valid for its run.
    let len = unsafe { (*skb).len };
    // 64-bit arithmetic keeps the verifier's bounds on `n` (a 32-bit copy loses them,
    // and bpf_skb_load_bytes must see 0 < n <= the room it copies into).
    let mut n = len as u64;
    // SAFETY: a read of a static set at load time.
    let snaplen = unsafe { core::ptr::read_volatile(&SNAPLEN) } as u64;
    if n > snaplen {
        n = snaplen;
    }
    if n > MAX_SNAPLEN as u64 {
        n = MAX_SNAPLEN as u64;
    }
    let mut head = MaybeUninit::uninit();
    let head = Head::zero(&mut head);
    let mut head_n = n;
    if head_n > HEADERS_LEN as u64 {
        head_n = HEADERS_LEN as u64;
    }
    // SAFETY: copies 0 < head_n <= HEADERS_LEN bytes into `head`, a byte array that long.
    if head_n > 0
        && unsafe { bpf_skb_load_bytes(skb.cast(), 0, head.0.as_mut_ptr().cast(), head_n as u32) }
            != 0
    {
        (n, head_n) = (0, 0);
    }
    // The owner is looked up first only when the filter decides on it: a packet the flow
    // accounting keeps needs none.
    let owner_of = || {
        // SAFETY: the helper takes this program's skb context.
        let cookie = unsafe { bpf_get_socket_cookie(skb.cast()) };
        owner_in_map(cookie).unwrap_or(&UNKNOWN_OWNER)
    };
    let mut owner = None;
    if filters_owners() {
        let found = owner_of();
        if !keeps_owner(found) {
            count(counter::FILTERED);
            return 1;
        }
        owner = Some(found);
    }
    if !keeps_packet(&head.0, head_n as usize) {
        count(counter::FILTERED);
        return 1;
    }
    let rings = rings();
    // The helpers run before the reservation: while a record is reserved and not yet
    // submitted, user space finds it busy and cannot read past it.
    // SAFETY (the helpers below): each takes this program's skb context.
    // The flows' times on the coarse clock (jiffies), ~25 ns a packet cheaper than the
    // boot-time clock; only records sent up read that one.
    let coarse_ns = unsafe { bpf_ktime_get_coarse_ns() };
    let netns_cookie = unsafe { bpf_get_netns_cookie(skb.cast()) };
    let every = sample_every();
    let accounted = account(
        skb,
        (&head.0, head_n as usize),
        dir,
        (coarse_ns, netns_cookie),
        every > 1,
    );
    let Some((flags, sampled_one_in)) = what_goes_up(accounted, every, &head.0, head_n as usize)
    else {
        return 1;
    };
    let boot_ns = unsafe { bpf_ktime_get_boot_ns() };
    let owner = owner.unwrap_or_else(owner_of);
    let mut record = Record {
        ring: ring_of(&head.0, head_n as usize, rings),
        skb,
        boot_ns,
        socket_cgroup_id: unsafe { bpf_skb_cgroup_id(skb) },
        owner,
        length: len,
        captured: n,
        cpu: unsafe { bpf_get_smp_processor_id() },
        // SAFETY: `skb` is this program's context, valid for its run.
        ifindex: unsafe { (*skb).ifindex },
        netns_cookie,
        direction: dir,
        flags,
        sampled_one_in,
        head,
    };
    count(match record.write() {
        true => counter::CAPTURED,
        false => counter::RING_FULL,
    });
    // SAFETY: a read of a static set at load time.
    let share = unsafe { core::ptr::read_volatile(&SHARE_DNS_ANSWERS) } != 0;
    if share && rings > 1 && is_dns_over_udp(&head.0, head_n as usize) {
        let own_ring = record.ring;
        record.flags = record_flag::NAMES_ONLY;
        for ring in 0..MAX_RINGS {
            if ring >= rings {
                break;
            }
            if ring != own_ring {
                record.ring = ring;
                if !record.write() {
                    count(counter::COPY_RING_FULL);
                }
            }
        }
    }
    1
}

/// The record's flags and sample rate (0: not sampled) for a packet the flow accounting
/// decided on (`accounted`), while netcore writes the packet events of one in `every`
/// packets (0: of all); `None` when the packet stays here. Counted ones stay when no flow
/// event needs them; while shedding, the others not sampled stay too, but for DNS (never
/// shed) and, when flows are tracked, those the kernel did not count (user space counts
/// them).
#[inline(always)]
fn what_goes_up(
    accounted: Accounted,
    every: u32,
    head: &[u8; HEADERS_LEN],
    n: usize,
) -> Option<(u8, u32)> {
    let counted = match accounted {
        Accounted::Uncounted => 0,
        Accounted::SentUp | Accounted::Kept => record_flag::COUNTED,
    };
    if every <= 1 {
        if let Accounted::Kept = accounted {
            count(counter::FLOW_COUNTED);
            return None;
        }
        return Some((counted, 0));
    }
    if sampled(every) {
        return Some((counted, every));
    }
    match accounted {
        Accounted::SentUp => Some((counted | record_flag::FLOWS_ONLY, 0)),
        Accounted::Uncounted if is_dns(head, n) => Some((0, 0)),
        Accounted::Uncounted if tracks_flows() => Some((record_flag::FLOWS_ONLY, 0)),
        _ => {
            count(counter::SHED);
            None
        }
    }
}

/// The first [`HEADERS_LEN`] bytes of a packet, aligned to be copied a word at a time.
#[repr(C, align(8))]
pub(crate) struct Head(pub(crate) [u8; HEADERS_LEN]);

impl Head {
    /// Zeroes `slot` in place, a word at a time: a zeroed array (or one moved out of a
    /// `MaybeUninit`) would compile to a call of a byte-at-a-time `memset` (the BPF target
    /// has no faster one).
    #[inline(always)]
    pub(crate) fn zero(slot: &mut MaybeUninit<Head>) -> &mut Head {
        let words = slot.as_mut_ptr().cast::<u64>();
        for word in 0..HEADERS_LEN / 8 {
            // SAFETY: word < HEADERS_LEN / 8, within the aligned array; volatile, so the
            // stores are not turned back into a `memset` call.
            unsafe { words.add(word).write_volatile(0) };
        }
        // SAFETY: every byte was written above.
        unsafe { slot.assume_init_mut() }
    }

    /// Word `word` (< HEADERS_LEN / 8), in memory order.
    #[inline(always)]
    pub(crate) fn word(&self, word: usize) -> u64 {
        // SAFETY: the array is 8-byte aligned and holds HEADERS_LEN / 8 words.
        unsafe { self.0.as_ptr().cast::<u64>().add(word).read() }
    }
}

/// One packet's record, ready to be written into its ring buffer.
struct Record<'a> {
    /// The ring buffer of the packet's flow.
    ring: u32,
    /// The packet.
    skb: *mut __sk_buff,
    /// The [`PacketRecord`] fields, but for the owner, in their order there.
    boot_ns: u64,
    socket_cgroup_id: u64,
    /// The packet socket's owner (all zero when unknown), in the `OWNERS` map.
    owner: &'a TaskContext,
    length: u32,
    /// Packet bytes to copy (a u64, so the verifier keeps its bounds).
    captured: u64,
    cpu: u32,
    ifindex: u32,
    netns_cookie: u64,
    direction: u8,
    flags: u8,
    sampled_one_in: u32,
    /// Its first bytes, as far as the packet and [`HEADERS_LEN`] go.
    head: &'a Head,
}

// The header ends with `direction`, `flags`, `error` and padding, one word (written as one
// below).
const _: () = assert!(
    offset_of!(PacketRecord, direction).is_multiple_of(8)
        && offset_of!(PacketRecord, flags) == offset_of!(PacketRecord, direction) + 1
        && offset_of!(PacketRecord, error) == offset_of!(PacketRecord, direction) + 2
        && offset_of!(PacketRecord, sampled_one_in) == offset_of!(PacketRecord, direction) + 4
        && PACKET_RECORD_LEN == offset_of!(PacketRecord, direction) + 8
        && offset_of!(PacketRecord, task).is_multiple_of(8)
        && size_of::<TaskContext>().is_multiple_of(8)
);

impl Record<'_> {
    /// Writes the record into its ring buffer in the smallest size class that holds its
    /// packet bytes; whether it fit.
    #[inline(always)]
    fn write(&self) -> bool {
        match self.captured {
            0..=64 => self.write_sized::<64>(),
            65..=128 => self.write_sized::<128>(),
            129..=256 => self.write_sized::<256>(),
            257..=512 => self.write_sized::<512>(),
            513..=1024 => self.write_sized::<1024>(),
            1025..=2048 => self.write_sized::<2048>(),
            _ => self.write_sized::<MAX_SNAPLEN>(),
        }
    }

    /// Writes the record in place, with room for `DATA` ≥ `captured` packet bytes, into
    /// its ring buffer; whether it fit. Nothing but stores, the copy of the packet's rest
    /// and the wake-up decision runs between the reservation and the submission.
    #[inline(always)]
    fn write_sized<const DATA: usize>(&self) -> bool {
        let Some(mut entry) = reserve(self.ring, PACKET_RECORD_LEN + DATA) else {
            return false;
        };
        let record = entry.as_mut_ptr();
        let header = record.cast::<PacketRecord>();
        let mut n = self.captured;
        if n > DATA as u64 {
            n = DATA as u64; // Never so (the size class holds it), but the verifier sees it.
        }
        // SAFETY (the writes below): the reservation is PACKET_RECORD_LEN + DATA bytes,
        // 8-byte aligned: each field and word written lies within it, aligned (the
        // assertion above, PACKET_RECORD_LEN a multiple of 8).
        unsafe {
            addr_of_mut!((*header).boot_ns).write(self.boot_ns);
            addr_of_mut!((*header).socket_cgroup_id).write(self.socket_cgroup_id);
            copy_words(
                (self.owner as *const TaskContext).cast(),
                addr_of_mut!((*header).task).cast(),
                size_of::<TaskContext>() / 8,
            );
            addr_of_mut!((*header).length).write(self.length);
            addr_of_mut!((*header).captured).write(n as u32);
            addr_of_mut!((*header).cpu).write(self.cpu);
            addr_of_mut!((*header).ifindex).write(self.ifindex);
            addr_of_mut!((*header).netns_cookie).write(self.netns_cookie);
            addr_of_mut!((*header).direction).cast::<u64>().write(
                u64::from(self.direction)
                    | u64::from(self.flags) << 8
                    | u64::from(self.sampled_one_in) << 32,
            );
        }
        let data = unsafe { record.add(PACKET_RECORD_LEN) }.cast::<u64>();
        // The head, a word at a time, as far as the packet goes: bytes past `captured`
        // would be written for nothing (each line written is one user space must fetch).
        for word in 0..HEADERS_LEN.min(DATA) / 8 {
            if (word * 8) as u64 >= n {
                break;
            }
            unsafe { data.add(word).write(self.head.word(word)) };
        }
        if DATA > HEADERS_LEN && n > HEADERS_LEN as u64 {
            let rest = n - HEADERS_LEN as u64;
            // SAFETY: copies 0 < rest ≤ DATA - HEADERS_LEN bytes from this program's skb to
            // the reservation past the head.
            let copied = unsafe {
                bpf_skb_load_bytes(
                    self.skb.cast(),
                    HEADERS_LEN as u32,
                    data.add(HEADERS_LEN / 8).cast(),
                    rest as u32,
                )
            };
            if copied != 0 {
                // SAFETY: the header's field, within the reservation.
                unsafe { addr_of_mut!((*header).captured).write(HEADERS_LEN as u32) };
            }
        }
        entry.submit(wakeup_flag(self.ring, PACKET_RECORD_LEN + DATA));
        true
    }
}

/// The wake-up flag of a record of `size` bytes just written into ring `ring`: user space
/// is woken only when the ring's unread bytes cross a multiple of 2^[`WAKEUP_SHIFT`] (an
/// eighth of the ring), not per record, nor per batch of records. A wake-up costs more than
/// a capture: an inter-processor interrupt, a VM exit in a guest (on the 2-vCPU test VM,
/// waking once per 512 records cost 40 of 340 ns per record). User space's 10 ms poll
/// timeout drains what a quieter ring holds. The reservation has just read the positions
/// this asks about, so they are in this CPU's cache.
#[inline(always)]
pub(crate) fn wakeup_flag(ring: u32, size: usize) -> u64 {
    // The ring's own header, 8 bytes, precedes each record.
    let size = size as u64 + 8;
    let unread = unread(ring);
    // SAFETY: a read of a static set at load time.
    let shift = unsafe { core::ptr::read_volatile(&WAKEUP_SHIFT) } & 63;
    u64::from(
        match unread >> shift != unread.saturating_sub(size) >> shift {
            true => BPF_RB_FORCE_WAKEUP,
            false => BPF_RB_NO_WAKEUP,
        },
    )
}

#[cgroup_skb(ingress)]
pub fn netcore_ingress(ctx: SkBuffContext) -> i32 {
    capture(&ctx, direction::INGRESS)
}

#[cgroup_skb(egress)]
pub fn netcore_egress(ctx: SkBuffContext) -> i32 {
    capture(&ctx, direction::EGRESS)
}
