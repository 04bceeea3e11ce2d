//! File mode: pcap (µs or ns, either byte order, and the Kuznetsov variant) and pcapng
//! (several sections and interfaces, mixed link types, any `if_tsresol`), read through
//! pcap-parser's streaming reader so frames are handed out in place.

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use netcore_core::owner_comment;
use netcore_core::{Direction, LinkType};
use pcap_parser::pcapng::{Block, PcapNGOption};
use pcap_parser::{PcapBlockOwned, PcapError, create_reader};

use super::{Frame, RecordedOwner};

/// A classic pcap file header, the shortest a capture can start with (a pcapng section
/// header block is longer).
const PCAP_HEADER_LEN: usize = 24;
/// Read buffer to start with; grown for larger records.
const INITIAL_BUFFER: usize = 1 << 20;
/// The largest record the reader will grow its buffer for.
const MAX_BUFFER: usize = 64 << 20;

/// What went wrong with a capture file, with the file's name.
#[derive(Debug)]
pub struct FileError {
    /// The capture file.
    pub path: PathBuf,
    /// What is wrong with it.
    pub problem: Problem,
}

/// The kinds of capture-file failure.
#[derive(Debug)]
pub enum Problem {
    /// The file could not be opened or read.
    Io(std::io::Error),
    /// The file is empty.
    Empty,
    /// A directory was named.
    Directory,
    /// The file is gzip-compressed.
    Gzip,
    /// The file ends inside the capture's file header.
    ShortHeader(usize),
    /// The file starts with neither a pcap nor a pcapng header.
    NotACapture,
    /// The file ends inside a record, after `packets` complete packets.
    Truncated {
        /// Complete packets read before the cut.
        packets: u64,
        /// Bytes of the incomplete record.
        leftover: usize,
    },
    /// A block or record could not be parsed.
    Malformed {
        /// Complete packets read before it.
        packets: u64,
        /// The parser's description.
        detail: String,
    },
    /// Packets of a link type the decoder does not support.
    UnsupportedLinkType {
        /// The `LINKTYPE_*` number.
        linktype: u32,
        /// The pcapng interface (0 for pcap).
        interface: u32,
    },
    /// A pcapng packet names an interface no IDB declared.
    UnknownInterface(u32),
    /// A record larger than the reader will buffer.
    RecordTooLarge,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        match &self.problem {
            Problem::Io(e) => write!(f, "{path}: {e}"),
            Problem::Empty => write!(f, "{path}: the file is empty"),
            Problem::Directory => write!(f, "{path}: is a directory, not a capture file"),
            Problem::Gzip => write!(
                f,
                "{path}: the file is gzip-compressed; decompress it first: \
                 `zcat {path} | netcore -r -`"
            ),
            Problem::ShortHeader(len) => write!(
                f,
                "{path}: too short for a capture: {len} bytes, less than a pcap or pcapng \
                 file header"
            ),
            Problem::NotACapture => write!(f, "{path}: not a pcap or pcapng capture file"),
            Problem::Truncated { packets, leftover } => write!(
                f,
                "{path}: capture is truncated: the file ends {leftover} bytes into a record, \
                 after {packets} complete packets"
            ),
            Problem::Malformed { packets, detail } => {
                write!(
                    f,
                    "{path}: malformed record after {packets} packets: {detail}"
                )
            }
            Problem::UnsupportedLinkType {
                linktype,
                interface,
            } => {
                write!(
                    f,
                    "{path}: unsupported link type {linktype} on interface {interface}; supported:"
                )?;
                for t in LinkType::ALL {
                    write!(f, " {}({})", t.name(), t.linktype())?;
                }
                Ok(())
            }
            Problem::UnknownInterface(i) => {
                write!(
                    f,
                    "{path}: a packet names interface {i}, which no interface block declared"
                )
            }
            Problem::RecordTooLarge => {
                write!(
                    f,
                    "{path}: a record is larger than {} MiB",
                    MAX_BUFFER >> 20
                )
            }
        }
    }
}

impl std::error::Error for FileError {}

/// How to read one capture interface: its link type and time base.
#[derive(Debug, Clone, Copy)]
struct Interface {
    /// The `LINKTYPE_*` number (the low 16 bits of a pcap header's field).
    linktype: u32,
    /// Bytes of frame check sequence at the end of each frame, to leave out.
    fcs_len: u32,
    /// Timestamp units per second.
    units_per_second: u64,
    /// Seconds added to every timestamp (pcapng `if_tsoffset`).
    offset_seconds: i64,
}

impl Interface {
    fn link_type(&self, interface: u32) -> Result<LinkType, Problem> {
        LinkType::from_linktype(self.linktype).ok_or(Problem::UnsupportedLinkType {
            linktype: self.linktype,
            interface,
        })
    }

    /// A captured frame without its frame check sequence, and its length on the wire
    /// without it: the FCS is the last `fcs_len` bytes on the wire, so a frame cut short
    /// may hold part of it, or none.
    fn without_fcs<'a>(&self, data: &'a [u8], wire_len: u32) -> (&'a [u8], u32) {
        let wire_len = wire_len.saturating_sub(self.fcs_len);
        let keep = data.len().min(wire_len as usize);
        (&data[..keep], wire_len)
    }

    fn timestamp_ns(&self, units: u64) -> u64 {
        let ns = u128::from(units) * 1_000_000_000 / u128::from(self.units_per_second.max(1));
        let offset = i128::from(self.offset_seconds) * 1_000_000_000;
        (ns as i128 + offset).clamp(0, i128::from(u64::MAX)) as u64
    }
}

/// Reads every packet of the capture at `path` (`-`: standard input), calling `on_frame`
/// for each, in order, until it breaks. Returns the number of packets; on a fault,
/// everything before it has been handed out.
pub fn read_capture(
    path: &Path,
    mut on_frame: impl FnMut(Frame<'_>) -> ControlFlow<()>,
) -> Result<u64, FileError> {
    let fail = |problem| FileError {
        path: path.to_owned(),
        problem,
    };
    let mut input: Box<dyn Read + Send> = if path == Path::new("-") {
        Box::new(std::io::stdin())
    } else {
        if path.is_dir() {
            return Err(fail(Problem::Directory));
        }
        Box::new(File::open(path).map_err(|e| fail(Problem::Io(e)))?)
    };
    // Look at the start first: what is not a capture gets a precise word.
    let mut start = Vec::with_capacity(PCAP_HEADER_LEN);
    (&mut input)
        .take(PCAP_HEADER_LEN as u64)
        .read_to_end(&mut start)
        .map_err(|e| fail(Problem::Io(e)))?;
    match start.as_slice() {
        [] => return Err(fail(Problem::Empty)),
        [0x1f, 0x8b, ..] => return Err(fail(Problem::Gzip)),
        short if short.len() < PCAP_HEADER_LEN => {
            return Err(fail(Problem::ShortHeader(short.len())));
        }
        _ => {}
    }
    let input = Rejoined {
        start,
        taken: 0,
        rest: input,
    };
    let mut reader = create_reader(INITIAL_BUFFER, input).map_err(|e| {
        fail(match e {
            PcapError::ReadError => Problem::Io(std::io::Error::other("read failed")),
            _ => Problem::NotACapture,
        })
    })?;
    let mut interfaces: Vec<Interface> = Vec::new();
    let mut big_endian = false;
    let mut packets = 0u64;
    let mut capacity = INITIAL_BUFFER;
    loop {
        match reader.next() {
            Ok((offset, block)) => {
                let frame = match block {
                    PcapBlockOwned::LegacyHeader(header) => {
                        let (linktype, fcs_len) = pcap_linktype(header.network.0 as u32);
                        interfaces = vec![Interface {
                            linktype,
                            fcs_len,
                            units_per_second: if header.is_nanosecond_precision() {
                                1_000_000_000
                            } else {
                                1_000_000
                            },
                            offset_seconds: 0,
                        }];
                        None
                    }
                    PcapBlockOwned::Legacy(record) => {
                        let iface = interfaces[0];
                        let units = u64::from(record.ts_sec) * iface.units_per_second
                            + u64::from(record.ts_usec);
                        let link_type = iface.link_type(0).map_err(fail)?;
                        let (data, wire_len) = iface.without_fcs(record.data, record.origlen);
                        Some(Frame {
                            wire_len,
                            ..Frame::bare(link_type, iface.timestamp_ns(units), data)
                        })
                    }
                    PcapBlockOwned::NG(Block::SectionHeader(shb)) => {
                        interfaces.clear();
                        big_endian = shb.big_endian();
                        None
                    }
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                        interfaces.push(Interface {
                            linktype: u32::from(idb.linktype.0 as u16),
                            fcs_len: if_fcslen(&idb.options),
                            units_per_second: idb.ts_resolution().unwrap_or(1_000_000),
                            offset_seconds: idb.ts_offset(),
                        });
                        None
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        let iface = *interfaces
                            .get(epb.if_id as usize)
                            .ok_or(fail(Problem::UnknownInterface(epb.if_id)))?;
                        let link_type = iface.link_type(epb.if_id).map_err(fail)?;
                        let units = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                        let caplen = (epb.caplen as usize).min(epb.data.len());
                        let (data, wire_len) = iface.without_fcs(&epb.data[..caplen], epb.origlen);
                        Some(Frame {
                            wire_len,
                            direction: epb_direction(&epb.options, big_endian),
                            recorded: recorded_owner(&epb.options),
                            ..Frame::bare(link_type, iface.timestamp_ns(units), data)
                        })
                    }
                    PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                        let iface = *interfaces
                            .first()
                            .ok_or(fail(Problem::UnknownInterface(0)))?;
                        let link_type = iface.link_type(0).map_err(fail)?;
                        let (data, wire_len) = iface.without_fcs(spb.data, spb.origlen);
                        Some(Frame {
                            wire_len,
                            ..Frame::bare(link_type, 0, data)
                        })
                    }
                    PcapBlockOwned::NG(_) => None,
                };
                if let Some(frame) = frame {
                    packets += 1;
                    if on_frame(frame).is_break() {
                        return Ok(packets);
                    }
                }
                reader.consume(offset);
            }
            Err(PcapError::Eof) => return Ok(packets),
            Err(PcapError::Incomplete(_)) => reader
                .refill()
                .map_err(|_| fail(Problem::Io(std::io::Error::other("read failed"))))?,
            Err(PcapError::UnexpectedEof) => {
                let leftover = reader.data().len();
                if leftover == 0 {
                    return Ok(packets);
                }
                return Err(fail(Problem::Truncated { packets, leftover }));
            }
            Err(PcapError::BufferTooSmall) => {
                if capacity >= MAX_BUFFER {
                    return Err(fail(Problem::RecordTooLarge));
                }
                capacity *= 4;
                reader.grow(capacity);
                reader
                    .refill()
                    .map_err(|_| fail(Problem::Io(std::io::Error::other("read failed"))))?
            }
            Err(e) => {
                let detail = e.to_string();
                return Err(fail(Problem::Malformed { packets, detail }));
            }
        }
    }
}

/// The direction an enhanced packet block's `epb_flags` option records (bits 0–1:
/// 1 inbound, 2 outbound), in the section's byte order.
fn epb_direction(options: &[PcapNGOption<'_>], big_endian: bool) -> Direction {
    const EPB_FLAGS: u16 = 2;
    let flags = options
        .iter()
        .find(|o| o.code.0 == EPB_FLAGS)
        .and_then(|o| <[u8; 4]>::try_from(o.value()).ok())
        .map_or(0, |b| {
            if big_endian {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        });
    Direction::from_number((flags & 3) as u8)
}

/// The owner an enhanced packet block's comments record (ptcpdump's format, which
/// netcore writes too), if they name one.
fn recorded_owner<'a>(options: &[PcapNGOption<'a>]) -> Option<RecordedOwner<'a>> {
    const OPT_COMMENT: u16 = 1;
    let comments = options
        .iter()
        .filter(|o| o.code.0 == OPT_COMMENT)
        .filter_map(|option| {
            // The reader hands out options borrowed from its buffer, as the frame's bytes.
            let std::borrow::Cow::Borrowed(value) = option.value else {
                return None;
            };
            std::str::from_utf8(&value[..usize::from(option.len).min(value.len())]).ok()
        });
    owner_comment::parse(comments)
}

/// The bytes looked at first, then the rest of the input, handed out together: one read
/// gives both (pcap-parser reads a file's first block from one read).
struct Rejoined<R> {
    start: Vec<u8>,
    taken: usize,
    rest: R,
}

impl<R: Read> Read for Rejoined<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let pending = &self.start[self.taken..];
        let n = pending.len().min(buf.len());
        buf[..n].copy_from_slice(&pending[..n]);
        self.taken += n;
        if n == 0 {
            return self.rest.read(buf);
        }
        // An error of the rest comes back on the next call, with nothing pending.
        Ok(n + self.rest.read(&mut buf[n..]).unwrap_or(0))
    }
}

/// The link type and the FCS length (bytes) a pcap header's link-type field gives: the
/// link type is the low 16 bits; when the P bit (0x04000000) is set, the top 4 bits are
/// the FCS length in 16-bit words (pcap-savefile(5)). Other upper bits are ignored, so a
/// capture is never refused for them.
fn pcap_linktype(field: u32) -> (u32, u32) {
    const FCS_PRESENT: u32 = 0x0400_0000;
    let fcs_len = if field & FCS_PRESENT != 0 {
        (field >> 28) * 2
    } else {
        0
    };
    (field & 0xffff, fcs_len)
}

/// The pcapng `if_fcslen` option (code 13): bytes of FCS each frame of the interface ends
/// with.
fn if_fcslen(options: &[PcapNGOption<'_>]) -> u32 {
    const IF_FCSLEN: u16 = 13;
    options
        .iter()
        .find(|o| o.code.0 == IF_FCSLEN)
        .and_then(|o| o.value().first().copied())
        .map_or(0, u32::from)
}
