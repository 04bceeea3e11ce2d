//! `-w FILE`: the packets behind the events, written as pcapng (classic pcap when the name
//! ends in `.pcap`; `-` is standard output). Each pcapng packet carries its direction in
//! the EPB flags and its owner as comments in ptcpdump's format (`PID:`, `Cmd:`,
//! `Args:`; `ThreadId:`, `ThreadName:`; `UserId:`; `ParentPID:`; `ContainerName:`,
//! `ContainerId:`, `ContainerImage:`; `PodName:`, `PodNamespace:`, `PodUID:`), so that
//! Wireshark shows them and ptcpdump and netcore read them back. One interface block per
//! interface name and link type, with the interface's name. `-C MB` starts a new file
//! when one reaches that size (`FILE`, `FILE1`, `FILE2`, … as tcpdump names them) and
//! `-W N` keeps N files, reused in turn (`FILE0` … `FILE<N-1>`); each file is complete
//! on its own (its own header and interface blocks). Several decoding threads write into
//! one file through a [`SharedPacketWriter`], a packet at a time.
//!
//! A file that cannot be written (a full disk) is named once with its error and cut back
//! to its last whole packet; the packets after are counted as lost. With `-C`, a new file
//! is tried a second (of packet time) later, and each second after while that fails; a
//! file without `-C` stays as it was cut. `-w -` (standard output) ends the run instead,
//! as a closed event output does.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use netcore_core::owner_comment;
use netcore_core::{Direction, EventContext, LinkType};
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::pcapng::blocks::enhanced_packet::{EnhancedPacketBlock, EnhancedPacketOption};
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::{DataLink, Endianness, PcapError, TsResolution};

use crate::pipeline::{PacketTap, Saved};
use crate::source::Frame;

/// Where packets go.
type Sink = BufWriter<CountingWrite>;

/// A writer that counts the bytes through it (for `-C`, and for where its last whole
/// packet ends). Once `closed`, it writes nothing more: what its buffer still holds after
/// a failed write is dropped, not written after the cut.
struct CountingWrite {
    inner: Box<dyn Write + Send>,
    written: Arc<AtomicU64>,
    closed: Arc<AtomicBool>,
}

impl Write for CountingWrite {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if self.closed.load(Relaxed) {
            return Err(io::Error::other("closed after a failed write"));
        }
        let n = self.inner.write(bytes)?;
        self.written.fetch_add(n as u64, Relaxed);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The classic pcap writer keeps its writer to itself: it writes through this handle,
/// and the other one flushes.
#[derive(Clone)]
struct SharedSink(Arc<Mutex<Sink>>);

impl SharedSink {
    fn lock(&self) -> MutexGuard<'_, Sink> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Write for SharedSink {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.lock().write(bytes)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.lock().flush()
    }
}

/// The file's format.
enum Format {
    /// pcapng: interfaces added as they appear.
    PcapNg {
        writer: PcapNgWriter<Sink>,
        interfaces: HashMap<(String, u32), u32>,
    },
    /// Classic pcap: one link type, the first packet's; its header written at the first
    /// packet.
    Pcap {
        sink: SharedSink,
        writer: Option<(PcapWriter<SharedSink>, LinkType)>,
    },
}

/// `-C` and `-W`: when to start a new file, and how many to keep.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rotation {
    /// Start a new file once one holds this many bytes (0: never).
    pub max_bytes: u64,
    /// Keep this many files, reused in turn (None: number them on).
    pub files: Option<u32>,
}

/// How long after a failed write a new file is tried (`-C`), in packet time.
const RETRY_AFTER_NS: u64 = 1_000_000_000;

/// A capture file being written.
pub struct PacketWriter {
    format: Format,
    /// `-w`'s path.
    path: PathBuf,
    rotation: Rotation,
    /// Bytes in the current file, and its number.
    bytes: Arc<AtomicU64>,
    file_number: u32,
    snaplen: u32,
    /// The current file (none for standard output), to cut back when a write fails.
    file: Option<File>,
    /// Set when a write to the current file failed: it takes nothing more.
    closed: Arc<AtomicBool>,
    /// Where the last packet known to be whole in the file ends.
    whole: u64,
    /// Where each packet written after it ends (in the buffer, or partly in the file):
    /// at most the buffer's size over the smallest record's.
    unfinished: VecDeque<u64>,
    /// The packet time of the failed write, while writing fails.
    failed_at: Option<u64>,
    /// The time of the latest packet.
    last_ns: u64,
}

impl PacketWriter {
    /// Creates `path` (`-`: standard output); pcapng unless the name ends in `.pcap`.
    /// `snaplen` is what the file says was kept of each packet (0: all).
    pub fn create(path: &Path, snaplen: u32, rotation: Rotation) -> io::Result<PacketWriter> {
        let bytes = Arc::new(AtomicU64::new(0));
        let closed = Arc::new(AtomicBool::new(false));
        let first = file_name(path, &rotation, 0);
        let (format, file) = open(&first, is_classic(path), bytes.clone(), closed.clone())?;
        let whole = bytes.load(Relaxed);
        Ok(PacketWriter {
            format,
            path: path.to_owned(),
            rotation,
            bytes,
            file_number: 0,
            snaplen,
            file,
            closed,
            whole,
            unfinished: VecDeque::new(),
            failed_at: None,
            last_ns: 0,
        })
    }

    /// Closes the current file and opens the next one (`-C`).
    fn rotate(&mut self) -> io::Result<()> {
        if self.failed_at.is_none() {
            self.flush()?;
        }
        self.file_number = match self.rotation.files {
            Some(files) => (self.file_number + 1) % files.max(1),
            None => self.file_number + 1,
        };
        let next = file_name(&self.path, &self.rotation, self.file_number);
        let (bytes, closed) = (
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let (format, file) = open(&next, is_classic(&self.path), bytes.clone(), closed.clone())?;
        (self.format, self.file, self.bytes, self.closed) = (format, file, bytes, closed);
        self.whole = self.bytes.load(Relaxed);
        self.unfinished.clear();
        Ok(())
    }

    /// Writes `frame` (see [`PacketWriter::write_commented`]), surviving a file that
    /// cannot be written: the first failure is named and the file cut back to its last
    /// whole packet; the packets lost are counted ([`Saved::WriteFailed`]). Errs only for
    /// standard output.
    fn save(
        &mut self,
        frame: &Frame<'_>,
        comments: &[String],
        interface: &str,
    ) -> io::Result<Saved> {
        self.last_ns = self.last_ns.max(frame.timestamp_ns);
        if let Some(failed_at) = self.failed_at {
            let retry = self.rotation.max_bytes > 0
                && frame.timestamp_ns >= failed_at.saturating_add(RETRY_AFTER_NS);
            if !retry {
                return Ok(Saved::WriteFailed { earlier: 0 });
            }
            if self.rotate().is_err() {
                self.failed_at = Some(frame.timestamp_ns);
                return Ok(Saved::WriteFailed { earlier: 0 });
            }
            self.failed_at = None;
            note!(
                "netcore: -w: writing again, to {}",
                self.current().display()
            );
        }
        match self.write_commented(frame, comments, interface) {
            Ok(true) => {
                let end = self.bytes.load(Relaxed) + buffered(&self.format);
                self.unfinished.push_back(end);
                self.settle();
                Ok(Saved::Written)
            }
            Ok(false) => Ok(Saved::OtherLinkType),
            Err(e) => self
                .failed(e, frame.timestamp_ns)
                .map(|earlier| Saved::WriteFailed { earlier }),
        }
    }

    /// A write or flush failed with `error` at packet time `now_ns`: names it (the first
    /// time) and cuts the file back to its last whole packet; returns how many packets
    /// written before were cut off with it. Standard output's errors end the run instead.
    fn failed(&mut self, error: io::Error, now_ns: u64) -> io::Result<u64> {
        let Some(file) = self.file.take() else {
            return Err(error);
        };
        self.closed.store(true, Relaxed);
        self.settle();
        let lost = self.unfinished.len() as u64;
        self.unfinished.clear();
        let cut = file.set_len(self.whole);
        if self.failed_at.is_none() {
            note!(
                "netcore: -w {}: {error}; the file is cut back to its last whole packet{}; \
                 packets are not written (counted){}",
                self.current().display(),
                match cut {
                    Ok(()) => String::new(),
                    Err(e) => format!(" (could not: {e})"),
                },
                match self.rotation.max_bytes {
                    0 => " from here on",
                    _ => " until a new file can be written (-C, tried every second)",
                },
            );
        }
        self.failed_at = Some(now_ns);
        Ok(lost)
    }

    /// Moves `whole` past the packets that reached the file whole.
    fn settle(&mut self) {
        let on_disk = self.bytes.load(Relaxed);
        while let Some(&end) = self.unfinished.front()
            && end <= on_disk
        {
            self.whole = end;
            self.unfinished.pop_front();
        }
    }

    /// The file being written.
    fn current(&self) -> PathBuf {
        file_name(&self.path, &self.rotation, self.file_number)
    }

    /// Writes `frame`, seen on interface `interface`, with its owner's `comments` (see
    /// [`comments`]). Whether it was written: a classic pcap file holds one link type, the
    /// first packet's, and leaves out packets of others.
    pub fn write_commented(
        &mut self,
        frame: &Frame<'_>,
        comments: &[String],
        interface: &str,
    ) -> io::Result<bool> {
        let timestamp = Duration::from_nanos(frame.timestamp_ns);
        if self.rotation.max_bytes > 0
            && self.bytes.load(Relaxed) + buffered(&self.format) >= self.rotation.max_bytes
        {
            self.rotate()?;
        }
        match &mut self.format {
            Format::PcapNg { writer, interfaces } => {
                let linktype = frame.link_type.linktype();
                let next = interfaces.len() as u32;
                let id = match interfaces.get(&(interface.to_owned(), linktype)) {
                    Some(&id) => id,
                    None => {
                        let block = InterfaceDescriptionBlock {
                            linktype: DataLink::from(linktype),
                            snaplen: self.snaplen,
                            options: vec![
                                InterfaceDescriptionOption::IfName(Cow::Borrowed(interface)),
                                InterfaceDescriptionOption::IfTsResol(9),
                            ],
                        };
                        writer.write_pcapng_block(block).map_err(into_io)?;
                        interfaces.insert((interface.to_owned(), linktype), next);
                        next
                    }
                };
                let mut options: Vec<EnhancedPacketOption<'_>> = comments
                    .iter()
                    .map(|c| EnhancedPacketOption::Comment(Cow::Borrowed(c.as_str())))
                    .collect();
                // epb_flags bits 0-1: 1 inbound, 2 outbound.
                match frame.direction {
                    Direction::Ingress => options.push(EnhancedPacketOption::Flags(1)),
                    Direction::Egress => options.push(EnhancedPacketOption::Flags(2)),
                    Direction::Unknown => {}
                }
                let block = EnhancedPacketBlock {
                    interface_id: id,
                    timestamp,
                    original_len: frame.wire_len,
                    data: Cow::Borrowed(frame.data),
                    options,
                };
                writer.write_pcapng_block(block).map_err(into_io)?;
            }
            Format::Pcap { sink, writer } => {
                if writer.is_none() {
                    let header = PcapHeader {
                        datalink: DataLink::from(frame.link_type.linktype()),
                        snaplen: if self.snaplen == 0 {
                            262_144
                        } else {
                            self.snaplen
                        },
                        ts_resolution: TsResolution::NanoSecond,
                        endianness: Endianness::native(),
                        ..PcapHeader::default()
                    };
                    let pcap = PcapWriter::with_header(sink.clone(), header).map_err(into_io)?;
                    *writer = Some((pcap, frame.link_type));
                }
                let Some((pcap, link_type)) = writer else {
                    return Ok(false);
                };
                if *link_type != frame.link_type {
                    return Ok(false);
                }
                let packet = PcapPacket::new(timestamp, frame.wire_len, frame.data);
                pcap.write_packet(&packet).map_err(into_io)?;
            }
        }
        Ok(true)
    }

    /// Writes out what is buffered.
    pub fn flush(&mut self) -> io::Result<()> {
        match &mut self.format {
            Format::PcapNg { writer, .. } => writer.get_mut().flush(),
            Format::Pcap { sink, .. } => sink.flush(),
        }
    }

    /// Writes out what is buffered, surviving a file that cannot be written (as
    /// [`PacketWriter::save`] does); returns how many packets reported written were cut
    /// off with the file's unfinished end.
    fn flush_surviving(&mut self) -> io::Result<u64> {
        if self.failed_at.is_some() {
            return Ok(0);
        }
        match self.flush() {
            Ok(()) => {
                self.settle();
                Ok(0)
            }
            Err(e) => self.failed(e, self.last_ns),
        }
    }
}

/// `-w`: one capture file that the pipelines of every decoding thread write into, a packet
/// at a time under a lock, so each flow's packets (one thread's) keep their order.
#[derive(Clone)]
pub struct SharedPacketWriter(Arc<Mutex<PacketWriter>>);

impl SharedPacketWriter {
    /// Shares `writer`.
    pub fn new(writer: PacketWriter) -> Self {
        SharedPacketWriter(Arc::new(Mutex::new(writer)))
    }

    fn lock(&self) -> MutexGuard<'_, PacketWriter> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes `frame`, seen on interface `interface` and owned by `ctx` (see
    /// [`PacketWriter::save`]).
    pub fn write(
        &self,
        frame: &Frame<'_>,
        ctx: &EventContext<'_>,
        interface: &str,
    ) -> io::Result<Saved> {
        let comments = owner_comment::emit(ctx);
        self.lock().save(frame, &comments, interface)
    }

    /// Writes out what is buffered; how many packets reported written were cut off (see
    /// [`PacketWriter::flush_surviving`]).
    pub fn flush(&self) -> io::Result<u64> {
        self.lock().flush_surviving()
    }
}

/// `-w` as the pipeline's tap: the frames that gave events, one file for every thread.
impl PacketTap for SharedPacketWriter {
    fn keep(
        &mut self,
        frame: &Frame<'_>,
        ctx: &EventContext<'_>,
        iface: &str,
    ) -> io::Result<Option<Saved>> {
        self.write(frame, ctx, iface).map(Some)
    }

    fn flush(&mut self) -> io::Result<u64> {
        SharedPacketWriter::flush(self)
    }
}

/// The file `-w PATH` writes as its `number`th: PATH itself, then PATH1, PATH2 … as
/// tcpdump names them; with `-W N`, PATH0 … PATH<N-1>, zero-padded to one width.
fn file_name(path: &Path, rotation: &Rotation, number: u32) -> PathBuf {
    if path == Path::new("-") || rotation.max_bytes == 0 {
        return path.to_owned();
    }
    let mut name = path.as_os_str().to_owned();
    match rotation.files {
        Some(files) => {
            let width = (files.max(2) - 1).to_string().len();
            name.push(format!("{number:0width$}"));
        }
        None if number == 0 => {}
        None => name.push(number.to_string()),
    }
    PathBuf::from(name)
}

/// Whether `-w PATH` asks for classic pcap (the name ends in `.pcap`).
fn is_classic(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "pcap")
}

/// Opens a capture file at `path` (`-`: standard output), pcap or pcapng, counting its
/// bytes into `bytes` and writing nothing once `closed`; also returns the file, to cut it
/// back should a write fail.
fn open(
    path: &Path,
    classic: bool,
    bytes: Arc<AtomicU64>,
    closed: Arc<AtomicBool>,
) -> io::Result<(Format, Option<File>)> {
    let (inner, file): (Box<dyn Write + Send>, _) = if path == Path::new("-") {
        (Box::new(io::stdout()), None)
    } else {
        let file = File::create(path)?;
        let handle = file.try_clone()?;
        (Box::new(file), Some(handle))
    };
    let counted = CountingWrite {
        inner,
        written: bytes,
        closed,
    };
    let sink = BufWriter::with_capacity(256 << 10, counted);
    let format = if classic {
        Format::Pcap {
            sink: SharedSink(Arc::new(Mutex::new(sink))),
            writer: None,
        }
    } else {
        // The section header goes out at once: a file cut back keeps it.
        let mut writer = PcapNgWriter::new(sink).map_err(into_io)?;
        writer.get_mut().flush()?;
        Format::PcapNg {
            writer,
            interfaces: HashMap::new(),
        }
    };
    Ok((format, file))
}

/// Bytes written but still in the buffer.
fn buffered(format: &Format) -> u64 {
    let len = match format {
        Format::PcapNg { writer, .. } => writer.get_ref().buffer().len(),
        Format::Pcap { sink, .. } => sink.lock().buffer().len(),
    };
    len as u64
}

fn into_io(error: PcapError) -> io::Error {
    match error {
        PcapError::IoError(e) => e,
        other => io::Error::other(other.to_string()),
    }
}
