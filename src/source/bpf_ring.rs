//! A BPF ring buffer mapped into this process and read in place, with the consumer
//! position published once per batch of records instead of once per record.
//!
//! The capture programs read the consumer position on every reserve, to know whether the
//! record fits. aya's reader (`aya::maps::RingBuf`) stores it after each record, so while
//! user space drains, that cache line moves to the producing CPU on almost every packet.
//! This reader stores it when a round of reading ends, and every [`RELEASE_BYTES`] within
//! a long round so the producers get the room back. The layout is the kernel's
//! (`kernel/bpf/ringbuf.c`): a consumer page (read-write), then a producer page and the
//! data pages mapped twice in a row, so a record that wraps around the end reads as one
//! slice.

use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use aya::maps::MapData;

/// Set in a record's length word while its producer is still writing it.
const BUSY_BIT: u32 = 1 << 31;
/// Set in a record's length word when its producer discarded it.
const DISCARD_BIT: u32 = 1 << 30;
/// The length word and the page offset word in front of each record.
const HEADER_BYTES: usize = 8;
/// Bytes read between two stores of the consumer position within one round.
const RELEASE_BYTES: usize = 256 << 10;

/// One mapping of the ring buffer's pages.
struct Mapping {
    start: NonNull<u8>,
    len: usize,
}

impl Mapping {
    /// Maps `len` bytes of `fd` at `offset` with protection `prot`.
    fn new(fd: RawFd, len: usize, prot: libc::c_int, offset: usize) -> io::Result<Self> {
        // SAFETY: a fresh shared mapping of a ring buffer map's pages; the kernel checks
        // the offset, length and protection against the map.
        let start = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                prot,
                libc::MAP_SHARED,
                fd,
                offset as libc::off_t,
            )
        };
        if start == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let start = NonNull::new(start.cast()).ok_or_else(|| io::Error::other("mmap gave NULL"))?;
        Ok(Mapping { start, len })
    }

    /// The word at the start of the mapping (the consumer or the producer position).
    fn position(&self) -> &AtomicUsize {
        // SAFETY: the mapping starts page-aligned with the kernel's `unsigned long`
        // position, which the kernel and this process only access atomically.
        unsafe { self.start.cast::<AtomicUsize>().as_ref() }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly what `new` mapped; no reference into it outlives `self`.
        unsafe { libc::munmap(self.start.as_ptr().cast(), self.len) };
    }
}

/// A ring buffer map, mapped for reading.
pub struct BpfRing {
    consumer: Mapping,
    producer: Mapping,
    /// Where the data pages start in `producer`.
    data_offset: usize,
    /// The data size minus one (a power of two minus one).
    mask: usize,
    /// How far this reader has read (published or not).
    pos: usize,
    /// Keeps the map, and so the ring, alive.
    map: MapData,
}

// SAFETY: the mappings belong to this value alone; it is moved to the thread that reads
// it before it is read, and never shared.
unsafe impl Send for BpfRing {}

impl BpfRing {
    /// Maps the ring buffer `map`.
    pub fn new(map: MapData) -> io::Result<Self> {
        let size = map.info().map_err(io::Error::other)?.max_entries() as usize;
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
        if !size.is_power_of_two() || size < page {
            return Err(io::Error::other(format!("ring buffer of {size} bytes")));
        }
        let fd = map.fd().as_fd().as_raw_fd();
        let consumer = Mapping::new(fd, page, libc::PROT_READ | libc::PROT_WRITE, 0)?;
        let producer = Mapping::new(fd, page + 2 * size, libc::PROT_READ, page)?;
        let pos = consumer.position().load(Ordering::Acquire);
        Ok(BpfRing {
            consumer,
            producer,
            data_offset: page,
            mask: size - 1,
            pos,
            map,
        })
    }

    /// Hands each committed record to `each`, in order, until the ring is empty or the
    /// next record is still being written; then publishes how far it read. A record
    /// `each` fails on ends the round (it counts as read); the error is returned.
    pub fn drain(&mut self, mut each: impl FnMut(&[u8]) -> io::Result<()>) -> io::Result<()> {
        let mut published = self.pos;
        let mut result = Ok(());
        'rounds: loop {
            let end = self.producer.position().load(Ordering::Acquire);
            if end == self.pos {
                break;
            }
            while self.pos != end {
                let offset = self.data_offset + (self.pos & self.mask);
                // SAFETY: `offset` is in the first copy of the data pages and 8-aligned
                // (records are), so the length word is in the mapping; the kernel writes
                // it with an atomic exchange.
                let header =
                    unsafe { self.producer.start.add(offset).cast::<AtomicU32>().as_ref() };
                let word = header.load(Ordering::Acquire);
                if word & BUSY_BIT != 0 {
                    break 'rounds; // Still being written: the next round reads it.
                }
                // Less than the data size, so the double mapping keeps the record inside
                // `producer` (the kernel never writes a longer one).
                let len =
                    ((word & !(BUSY_BIT | DISCARD_BIT)) as usize).min(self.mask + 1 - HEADER_BYTES);
                if word & DISCARD_BIT == 0 {
                    // SAFETY: `len` committed bytes after the header, inside the mapping
                    // (see above); the kernel does not reuse them before the consumer
                    // position passes them, which happens below, after `each` returns.
                    let record = unsafe {
                        std::slice::from_raw_parts(
                            self.producer.start.add(offset + HEADER_BYTES).as_ptr(),
                            len,
                        )
                    };
                    result = each(record);
                }
                self.pos += (len + HEADER_BYTES).next_multiple_of(8);
                if result.is_err() {
                    break 'rounds;
                }
                if self.pos.wrapping_sub(published) >= RELEASE_BYTES {
                    self.publish();
                    published = self.pos;
                }
            }
        }
        self.publish();
        result
    }

    /// Lets the producers reuse everything read so far.
    fn publish(&self) {
        self.consumer.position().store(self.pos, Ordering::Release);
    }
}

impl AsRawFd for BpfRing {
    fn as_raw_fd(&self) -> RawFd {
        self.map.fd().as_fd().as_raw_fd()
    }
}
