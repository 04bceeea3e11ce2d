//! Host-mode source: the capture programs' BPF ring buffer, read in place.
//!
//! One mio loop waits on the ring buffer and on SIGINT/SIGTERM. The kernel wakes it once a
//! batch of records has queued, and it wakes itself every 10 ms; each wake-up drains every
//! record the ring holds (no syscall per record: the ring is memory-mapped), then lets the
//! caller flush. A timer tick drives periodic work such as `--stats`.

use std::io;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use aya::maps::{MapData, RingBuf};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use netcore_core::record::PacketRecord;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;
use zerocopy::FromBytes;

/// The longest a record waits in the ring: the kernel wakes us only once a batch has
/// queued (see `WAKEUP_BYTES` in ebpf/), so we also drain on this timer.
const DRAIN_EVERY: Duration = Duration::from_millis(10);

const RING: Token = Token(0);
const SIGNALS: Token = Token(1);

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
}

/// What the loop tells its caller after each wake-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// A poll round ended (at least every 10 ms): time to flush what is due.
    Polled,
    /// The tick interval passed.
    Tick,
}

/// What the loop calls: once per record, then after each drain and each tick.
pub trait RecordHandler {
    /// Handles one record, in place.
    fn record(&mut self, record: Record<'_>) -> io::Result<()>;
    /// Runs after each poll round and on each tick.
    fn wake(&mut self, wake: Wake) -> io::Result<()>;
}

/// The ring buffer, the signals that stop capture, and the poller over both.
pub struct RingSource {
    ring: RingBuf<MapData>,
    poll: Poll,
    signals: Signals,
    /// Entries too short to hold a header: a kernel/user layout mismatch if ever non-zero.
    pub malformed: u64,
}

impl RingSource {
    /// Registers `ring` and SIGINT/SIGTERM with a new poller.
    pub fn new(ring: RingBuf<MapData>) -> io::Result<Self> {
        let poll = Poll::new()?;
        let mut signals = Signals::new([SIGINT, SIGTERM])?;
        poll.registry()
            .register(&mut SourceFd(&ring.as_raw_fd()), RING, Interest::READABLE)?;
        poll.registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)?;
        Ok(RingSource {
            ring,
            poll,
            signals,
            malformed: 0,
        })
    }

    /// Hands every record to `handler` until SIGINT or SIGTERM arrives, which it returns;
    /// the handler also wakes after each drain and every `tick`. A handler error stops
    /// the loop.
    pub fn run(&mut self, tick: Duration, handler: &mut impl RecordHandler) -> io::Result<i32> {
        let mut events = Events::with_capacity(8);
        let mut next_tick = Instant::now() + tick;
        loop {
            let timeout = next_tick
                .saturating_duration_since(Instant::now())
                .min(DRAIN_EVERY);
            match self.poll.poll(&mut events, Some(timeout)) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                result => result?,
            }
            // Drain on every wake-up, not only on ring readiness: the fd is edge-triggered
            // and a record can land between the last read and the next poll.
            while let Some(entry) = self.ring.next() {
                match Record::parse(&entry) {
                    Some(record) => handler.record(record)?,
                    None => self.malformed += 1,
                }
            }
            handler.wake(Wake::Polled)?;
            if Instant::now() >= next_tick {
                next_tick += tick;
                handler.wake(Wake::Tick)?;
            }
            if let Some(signal) = self.signals.pending().next() {
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

    /// The wall-clock time, ns since the Unix epoch, of boot time `boot_ns`.
    pub fn wall_ns(&self, boot_ns: u64) -> u64 {
        (boot_ns as i128 + self.offset_ns).clamp(0, u64::MAX as i128) as u64
    }
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
    use netcore_core::record::PACKET_RECORD_LEN;
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
