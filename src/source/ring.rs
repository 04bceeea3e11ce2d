//! Host-mode source: the capture programs' BPF ring buffer, read in place.
//!
//! The [`EventLoop`] waits on the ring buffer (the kernel wakes it when an eighth of the
//! ring has queued; the loop polls every 10 ms anyway) and on SIGINT/SIGTERM; each round
//! drains every record the ring holds (no syscall per record: the ring is memory-mapped,
//! [`BpfRing`]), hands each as a [`Frame`], then lets the handler flush.

use netcore_core::flow::failure::SocketReport;
use std::io;
use std::os::fd::AsRawFd;
use std::time::Duration;

use aya::maps::MapData;
use netcore_core::abi::{PacketRecord, record_flag};
use netcore_core::{Direction, LinkType};
use zerocopy::FromBytes;

use super::bpf_ring::BpfRing;
use super::event_loop::EventLoop;
use super::{Frame, FrameHandler, Interface, LiveSource, NoSourceStats};

/// One captured packet, borrowed from the ring buffer.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// Metadata and owner the kernel recorded.
    pub header: &'a PacketRecord,
    /// The packet from its network header on, cut to the snap length.
    pub data: &'a [u8],
}

impl<'a> Record<'a> {
    /// Views a ring-buffer entry; `None` if it is shorter than a header (never written so).
    pub fn parse(entry: &'a [u8]) -> Option<Self> {
        let (header, rest) = PacketRecord::ref_from_prefix(entry).ok()?;
        let data = &rest[..(header.captured as usize).min(rest.len())];
        Some(Record { header, data })
    }

    /// The record as a frame; `clock` turns its boot time into wall-clock time.
    pub fn frame(&self, clock: &WallClock) -> Frame<'a> {
        let header = self.header;
        Frame {
            link_type: LinkType::Raw,
            timestamp_ns: clock.wall_ns(header.boot_ns),
            data: self.data,
            wire_len: header.length,
            direction: Direction::from_number(header.direction),
            interface: Interface {
                ifindex: header.ifindex,
                netns_cookie: header.netns_cookie,
            },
            cpu: header.cpu,
            owner: header.task,
            socket_cgroup_id: header.socket_cgroup_id,
            recorded: None,
            kernel_counted: header.flags & record_flag::COUNTED != 0,
            flows_only: header.flags & record_flag::FLOWS_ONLY != 0,
            sampled_one_in: header.sampled_one_in,
        }
    }
}

/// The ring buffer and the loop that waits on it.
pub struct RingSource {
    ring: BpfRing,
    events: EventLoop,
    clock: WallClock,
    /// Entries too short to hold a header: a kernel/user layout mismatch if ever non-zero.
    pub malformed: u64,
}

impl RingSource {
    /// Maps the ring buffer `map` and waits on it, ticking every `tick`.
    pub fn new(map: MapData, tick: Duration) -> io::Result<Self> {
        let ring = BpfRing::new(map)?;
        let events = EventLoop::new(tick)?;
        events.register(ring.as_raw_fd(), 0)?;
        Ok(RingSource {
            ring,
            events,
            clock: WallClock::now(),
            malformed: 0,
        })
    }
}

impl LiveSource for RingSource {
    fn run<H: FrameHandler>(&mut self, handler: &mut H) -> io::Result<i32> {
        loop {
            self.events.wait()?;
            let (clock, malformed) = (&self.clock, &mut self.malformed);
            self.ring.drain(|entry| match Record::parse(entry) {
                Some(record) if record.header.flags & record_flag::NAMES_ONLY != 0 => {
                    handler.learn_names(&record.frame(clock));
                    Ok(())
                }
                Some(record) if record.header.flags & record_flag::SOCKET_ERROR != 0 => {
                    let report = SocketReport::Error(record.header.error);
                    handler.socket_report(&record.frame(clock), report)
                }
                Some(record) if record.header.flags & record_flag::SOCKET_CLOSED != 0 => {
                    let report = SocketReport::Closed(record.header.error);
                    handler.socket_report(&record.frame(clock), report)
                }
                Some(record) => handler.frame(&record.frame(clock)),
                None => {
                    *malformed += 1;
                    Ok(())
                }
            })?;
            self.clock = WallClock::now(); // Follow steps of the wall clock.
            if let Some(signal) = self.events.end_round(handler, &NoSourceStats)? {
                return Ok(signal);
            }
        }
    }
}

/// Converts the kernel's boot-time clock into wall-clock time.
#[derive(Debug, Clone, Copy)]
pub struct WallClock {
    offset_ns: i128,
}

impl WallClock {
    /// Measures the current offset between `CLOCK_REALTIME` and `CLOCK_BOOTTIME`.
    pub fn now() -> Self {
        WallClock {
            offset_ns: clock_ns(libc::CLOCK_REALTIME) - clock_ns(libc::CLOCK_BOOTTIME),
        }
    }

    /// The same for `CLOCK_MONOTONIC` (the kernel's flow counters' times).
    pub fn of_monotonic() -> Self {
        WallClock {
            offset_ns: clock_ns(libc::CLOCK_REALTIME) - clock_ns(libc::CLOCK_MONOTONIC),
        }
    }

    /// The wall-clock time, ns since the Unix epoch, of `ns` on the clock measured.
    pub fn wall_ns(&self, ns: u64) -> u64 {
        (ns as i128 + self.offset_ns).clamp(0, u64::MAX as i128) as u64
    }
}

/// Now on `CLOCK_MONOTONIC` (the kernel's flow counters' clock), ns.
pub fn monotonic_ns() -> u64 {
    clock_ns(libc::CLOCK_MONOTONIC) as u64
}

fn clock_ns(clock: libc::clockid_t) -> i128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid clock id and a timespec to fill.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as i128 * 1_000_000_000 + ts.tv_nsec as i128
}

#[cfg(test)]
mod tests {
    use super::*;
    use netcore_core::abi::PACKET_RECORD_LEN;
    use zerocopy::IntoBytes;

    #[test]
    fn records_are_viewed_in_place_and_cut_to_what_is_there() {
        let header = PacketRecord {
            captured: 4,
            length: 60,
            ..PacketRecord::default()
        };
        // Ring entries are 8-byte aligned; so is this buffer.
        let mut words = [0u64; PACKET_RECORD_LEN / 8 + 1];
        let entry = &mut words.as_mut_bytes()[..PACKET_RECORD_LEN + 5];
        entry[..PACKET_RECORD_LEN].copy_from_slice(header.as_bytes());
        entry[PACKET_RECORD_LEN..].copy_from_slice(&[0x45, 0, 0, 60, 0xee]);
        let entry = &*entry;
        let record = Record::parse(entry).unwrap();
        assert_eq!(record.data, &[0x45, 0, 0, 60]);
        assert_eq!(record.header.length, 60);
        // A header claiming more bytes than the entry holds is cut, not trusted.
        let record = Record::parse(&entry[..PACKET_RECORD_LEN + 2]).unwrap();
        assert_eq!(record.data, &[0x45, 0]);
        assert!(Record::parse(&entry[..PACKET_RECORD_LEN - 1]).is_none());
    }

    #[test]
    fn boot_time_converts_to_wall_time() {
        let clock = WallClock::now();
        let boot = clock_ns(libc::CLOCK_BOOTTIME) as u64;
        let wall = clock_ns(libc::CLOCK_REALTIME) as u64;
        let converted = clock.wall_ns(boot);
        assert!(
            converted.abs_diff(wall) < 1_000_000_000,
            "{converted} vs {wall}"
        );
    }
}
