//! Flow accounting (host mode, only flow and DNS events selected): the capture programs
//! count each TCP and UDP flow in `FLOW_COUNTS` and send up only the packets the flow
//! events read (`netcore_core::abi::flow_counts`).

use core::ptr::addr_of_mut;

use aya_ebpf::bindings::{__sk_buff, BPF_NOEXIST};
use aya_ebpf::helpers::generated::{bpf_sk_fullsock, bpf_tcp_sock};
use aya_ebpf::macros::map;
use aya_ebpf::maps::HashMap;
use netcore_core::abi::flow_counts::{FlowCountKey, FlowCounters, observe, sends_up};
use netcore_core::abi::{HEADERS_LEN, counter, direction};
use netcore_core::ip;

use crate::capture::count;

/// When flows are counted here: 0 never, 1 always (only flow and DNS events selected), 2
/// while netcore sheds work (`--cpu-budget`, flow events selected); user space sets it at
/// load time.
#[unsafe(no_mangle)]
static ACCOUNT_FLOWS: u32 = 0;

/// Whether user space tracks flows, which may be counted here.
#[inline(always)]
pub(crate) fn tracks_flows() -> bool {
    // SAFETY: a read of a static set at load time.
    unsafe { core::ptr::read_volatile(&ACCOUNT_FLOWS) != 0 }
}

/// The flows counted, until user space writes their records and removes them. User space
/// sizes it at load time (`--max-flows`; one entry when flows are not counted here).
#[map]
static FLOW_COUNTS: HashMap<FlowCountKey, FlowCounters> = HashMap::with_max_entries(1, 0);

/// What flow accounting decided for a packet.
pub(crate) enum Accounted {
    /// Not counted here (accounting off, not TCP or UDP, DNS, the table full): sent up,
    /// for user space to count.
    Uncounted,
    /// Counted, and to be sent up: a flow event reads it.
    SentUp,
    /// Counted, and no flow event reads it.
    Kept,
}

/// Counts the packet `skb`, whose first `n` bytes are `head`, seen at `now_ns` going `dir`
/// in network namespace `netns_cookie`, in its flow's entry when flows are counted here
/// now (`shedding`: netcore sheds work); says whether a flow event reads it.
#[inline(always)]
pub(crate) fn account(
    skb: *mut __sk_buff,
    (head, n): (&[u8; HEADERS_LEN], usize),
    dir: u8,
    (now_ns, netns_cookie): (u64, u64),
    shedding: bool,
) -> Accounted {
    // SAFETY: a read of a static set at load time.
    match unsafe { core::ptr::read_volatile(&ACCOUNT_FLOWS) } {
        1 => {}
        2 if shedding => {}
        _ => return Accounted::Uncounted,
    }
    let Some(mut seen) = observe(head, n) else {
        return Accounted::Uncounted;
    };
    seen.key.netns_cookie = netns_cookie;
    let entry = match FLOW_COUNTS.get_ptr_mut(&seen.key) {
        Some(entry) => entry,
        None => {
            let fresh = FlowCounters {
                first_ns: now_ns,
                ..FlowCounters::default()
            };
            // Another CPU may have inserted it meanwhile: then the lookup finds it.
            let _ = FLOW_COUNTS.insert(&seen.key, &fresh, u64::from(BPF_NOEXIST));
            match FLOW_COUNTS.get_ptr_mut(&seen.key) {
                Some(entry) => entry,
                None => {
                    count(counter::FLOW_TABLE_FULL);
                    return Accounted::Uncounted;
                }
            }
        }
    };
    let way = seen.way & 1;
    // SAFETY: `entry` points into the map's value, valid while this program runs; the
    // counters other CPUs may add to at once are added to atomically.
    // The packet's number is read after the add: with another CPU counting the flow at
    // the same moment it may skip one, and a head packet stay here (the counts stay exact).
    let nth = unsafe {
        add(
            addr_of_mut!((*entry).ip_bytes).cast::<u64>().add(way),
            seen.ip_bytes,
        );
        add(
            addr_of_mut!((*entry).payload_bytes).cast::<u64>().add(way),
            seen.payload_bytes,
        );
        addr_of_mut!((*entry).last_ns).write_volatile(now_ns);
        let packets = addr_of_mut!((*entry).packets).cast::<u64>().add(way);
        add(packets, 1);
        packets.read_volatile()
    };
    if seen.key.protocol == ip::TCP {
        // The local socket sent this way on egress, the other way on ingress.
        let sent = match dir {
            direction::EGRESS => way,
            _ => 1 - way,
        };
        if let Some(retransmits) = socket_retransmits(skb) {
            // SAFETY: as above; `sent` is 0 or 1.
            unsafe {
                addr_of_mut!((*entry).socket_retransmits)
                    .cast::<u32>()
                    .add(sent)
                    .write_volatile(retransmits)
            };
        }
    }
    match sends_up(seen.tcp_flags, nth) {
        true => Accounted::SentUp,
        false => Accounted::Kept,
    }
}

/// Adds `value` to the u64 at `at` atomically: BPF's atomic add (the target offers Rust
/// no atomic read-modify-write type; the objects are built for BPF v1, whose atomic add
/// returns nothing).
///
/// # Safety
/// `at` must be valid for reads and writes and 8-byte aligned.
#[inline(always)]
unsafe fn add(at: *mut u64, value: u64) {
    #[cfg(target_arch = "bpf")]
    // SAFETY: by the caller's promise.
    unsafe {
        use core::intrinsics::{AtomicOrdering, atomic_xadd};
        atomic_xadd::<u64, u64, { AtomicOrdering::Relaxed }>(at, value);
    }
    // The host build (clippy, tests) has the stable type.
    #[cfg(not(target_arch = "bpf"))]
    // SAFETY: by the caller's promise.
    unsafe { core::sync::atomic::AtomicU64::from_ptr(at) }
        .fetch_add(value, core::sync::atomic::Ordering::Relaxed);
}

/// The `total_retrans` of the TCP socket `skb` belongs to, if it is a full TCP socket.
#[inline(always)]
fn socket_retransmits(skb: *mut __sk_buff) -> Option<u32> {
    // SAFETY: `skb` is the program's context; the helpers take the socket it points to and
    // return null when it is not what they look for.
    unsafe {
        let sk = (*skb).__bindgen_anon_2.sk;
        if sk.is_null() {
            return None;
        }
        let full = bpf_sk_fullsock(sk);
        if full.is_null() {
            return None;
        }
        let tcp = bpf_tcp_sock(full);
        if tcp.is_null() {
            return None;
        }
        Some((*tcp).total_retrans)
    }
}
