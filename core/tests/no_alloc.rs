//! Decoding a packet and encoding its events into a reused buffer performs no heap
//! allocation once the buffer has grown (after one warm-up pass over the same packets).
//! A counting global allocator counts this thread's allocations. The packets are the golden
//! captures: every L3/L4 event and DNS over UDP with all three DNS events.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use netcore_core::json::{Encoder, TRACEE_0_22};
use netcore_core::{Direction, EventContext, EventSet, LinkType, PacketEvents, decode};

struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|a| a.set(a.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|a| a.set(a.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

#[test]
fn decode_and_encode_allocate_nothing_after_warm_up() {
    let mut packets = Vec::new();
    for name in ["ethernet", "sll", "sll2"] {
        let pcap =
            common::pcap::read_pcap(&common::root().join(format!("tests/golden/{name}.pcap")));
        let link = LinkType::from_linktype(pcap.linktype).unwrap();
        packets.extend(pcap.records.into_iter().map(|r| (link, r.data)));
    }
    let ctx = EventContext {
        timestamp: 1_671_040_290_192_938_971,
        process_name: b"nc \"quoted\" \xff",
        host_name: "host<&>",
        owner_key: 7, // Rendered once, then copied: the cache allocates nothing either.
        ..Default::default()
    };
    let mut out = Vec::new();
    let mut encoder = Encoder::new(&TRACEE_0_22);
    let mut run = |out: &mut Vec<u8>| {
        let (mut events, mut dns) = (0, 0);
        for (link, data) in &packets {
            out.clear();
            let decoded = decode(*link, data);
            assert!(!matches!(decoded.dns_over_udp(), Some(Err(_))));
            dns += usize::from(decoded.dns_over_udp().is_some());
            events += PacketEvents::decide(
                &ctx,
                &decoded,
                Direction::Unknown,
                EventSet::ALL,
                |events| encoder.encode(events, out),
            );
        }
        (events, dns)
    };
    let warm_up_events = run(&mut out);
    let before = allocations();
    let (events, dns_messages) = run(&mut out);
    let after = allocations();
    assert!(
        dns_messages >= 40,
        "only {dns_messages} DNS messages in the mix"
    );
    assert!(
        events > 400,
        "only {events} events: the packet mix is too small"
    );
    assert_eq!((events, dns_messages), warm_up_events);
    assert_eq!(
        after - before,
        0,
        "{} allocations for {events} events",
        after - before
    );
}

#[test]
fn the_counter_sees_allocations() {
    let before = allocations();
    let v: Vec<u8> = Vec::with_capacity(std::hint::black_box(64));
    std::hint::black_box(&v);
    assert_eq!(allocations() - before, 1);
}
