//! `-w FILE`: the packets behind the events, written as pcapng (classic pcap when the name
//! ends in `.pcap`; `-` is standard output). Each pcapng packet carries its direction in
//! the EPB flags and its owner as comments in ptcpdump's format (`PID:`, `Cmd:`,
//! `Args:`; `ThreadId:`, `ThreadName:`; `UserId:`; `ParentPID:`; `ContainerName:`,
//! `ContainerId:`, `ContainerImage:`; `PodName:`, `PodNamespace:`, `PodUID:`), so that
//! Wireshark shows them and ptcpdump and netcore read them back. One interface block per
//! interface name and link type, with the interface's name. `-C MB` starts a new file
//! when one reaches that size (`FILE`, `FILE1`, `FILE2`, … as tcpdump names them) and
//! `-W N` keeps N files, reused in turn (`FILE0` … `FILE<N-1>`); each file is complete
//! on its own (its own header and interface blocks).

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use netcore_core::{Direction, EventContext, LinkType};
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::pcapng::blocks::enhanced_packet::{EnhancedPacketBlock, EnhancedPacketOption};
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::{DataLink, Endianness, PcapError, TsResolution};

use crate::source::Frame;

/// Where packets go.
type Sink = BufWriter<CountingWrite>;

/// A writer that counts the bytes through it (for `-C`).
struct CountingWrite {
    inner: Box<dyn Write>,
    written: Rc<Cell<u64>>,
}

impl Write for CountingWrite {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(bytes)?;
        self.written.set(self.written.get() + n as u64);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The classic pcap writer keeps its writer to itself: it writes through this handle,
/// and the other one flushes.
#[derive(Clone)]
struct SharedSink(Rc<RefCell<Sink>>);

impl Write for SharedSink {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().write(bytes)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.borrow_mut().flush()
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

/// A capture file being written.
pub struct PacketWriter {
    format: Format,
    /// `-w`'s path.
    path: PathBuf,
    rotation: Rotation,
    /// Bytes in the current file, and its number.
    bytes: Rc<Cell<u64>>,
    file_number: u32,
    snaplen: u32,
    /// Packets written.
    pub written: u64,
    /// Packets of a second link type, which a classic pcap file cannot hold.
    pub other_link_type: u64,
}

impl PacketWriter {
    /// Creates `path` (`-`: standard output); pcapng unless the name ends in `.pcap`.
    /// `snaplen` is what the file says was kept of each packet (0: all).
    pub fn create(path: &Path, snaplen: u32, rotation: Rotation) -> io::Result<PacketWriter> {
        let bytes = Rc::new(Cell::new(0));
        let first = file_name(path, &rotation, 0);
        Ok(PacketWriter {
            format: open(&first, is_classic(path), bytes.clone())?,
            path: path.to_owned(),
            rotation,
            bytes,
            file_number: 0,
            snaplen,
            written: 0,
            other_link_type: 0,
        })
    }

    /// Closes the current file and opens the next one (`-C`).
    fn rotate(&mut self) -> io::Result<()> {
        self.flush()?;
        self.file_number = match self.rotation.files {
            Some(files) => (self.file_number + 1) % files.max(1),
            None => self.file_number + 1,
        };
        self.bytes.set(0);
        let next = file_name(&self.path, &self.rotation, self.file_number);
        self.format = open(&next, is_classic(&self.path), self.bytes.clone())?;
        Ok(())
    }

    /// Writes `frame`, seen on interface `interface` and owned by `ctx`.
    pub fn write(
        &mut self,
        frame: &Frame<'_>,
        ctx: &EventContext<'_>,
        interface: &str,
    ) -> io::Result<()> {
        self.write_commented(frame, &comments(ctx), interface)
    }

    /// Writes `frame`, seen on interface `interface`, with its owner's `comments` (see
    /// [`comments`]).
    pub fn write_commented(
        &mut self,
        frame: &Frame<'_>,
        comments: &[String],
        interface: &str,
    ) -> io::Result<()> {
        let timestamp = Duration::from_nanos(frame.timestamp_ns);
        if self.rotation.max_bytes > 0
            && self.bytes.get() + buffered(&self.format) >= self.rotation.max_bytes
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
                    return Ok(());
                };
                if *link_type != frame.link_type {
                    self.other_link_type += 1;
                    return Ok(());
                }
                let packet = PcapPacket::new(timestamp, frame.wire_len, frame.data);
                pcap.write_packet(&packet).map_err(into_io)?;
            }
        }
        self.written += 1;
        Ok(())
    }

    /// Writes out what is buffered.
    pub fn flush(&mut self) -> io::Result<()> {
        match &mut self.format {
            Format::PcapNg { writer, .. } => writer.get_mut().flush(),
            Format::Pcap { sink, .. } => sink.flush(),
        }
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
/// bytes into `bytes`.
fn open(path: &Path, classic: bool, bytes: Rc<Cell<u64>>) -> io::Result<Format> {
    let inner: Box<dyn Write> = if path == Path::new("-") {
        Box::new(io::stdout())
    } else {
        Box::new(File::create(path)?)
    };
    let counted = CountingWrite {
        inner,
        written: bytes,
    };
    let sink = BufWriter::with_capacity(256 << 10, counted);
    Ok(if classic {
        Format::Pcap {
            sink: SharedSink(Rc::new(RefCell::new(sink))),
            writer: None,
        }
    } else {
        Format::PcapNg {
            writer: PcapNgWriter::new(sink).map_err(into_io)?,
            interfaces: HashMap::new(),
        }
    })
}

/// Bytes written but still in the buffer.
fn buffered(format: &Format) -> u64 {
    let len = match format {
        Format::PcapNg { writer, .. } => writer.get_ref().buffer().len(),
        Format::Pcap { sink, .. } => sink.0.borrow().buffer().len(),
    };
    len as u64
}

fn into_io(error: PcapError) -> io::Error {
    match error {
        PcapError::IoError(e) => e,
        other => io::Error::other(other.to_string()),
    }
}

/// The owner of a packet as ptcpdump writes it: one comment per group of fields, each
/// field `Key: value` on its own line; nothing for a packet without an owner.
pub fn comments(ctx: &EventContext<'_>) -> Vec<String> {
    let mut comments = Vec::new();
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).replace('\n', " ");
    if ctx.host_process_id > 0 {
        let command = if ctx.executable.is_empty() {
            ctx.process_name
        } else {
            ctx.executable
        };
        let mut c = format!(
            "PID: {}\nCmd: {}\nArgs: ",
            ctx.host_process_id,
            text(command)
        );
        let _ = write!(c, "{}", text(ctx.arguments));
        comments.push(c);
        if ctx.host_thread_id > 0 {
            comments.push(format!(
                "ThreadId: {}\nThreadName: {}",
                ctx.host_thread_id,
                text(ctx.process_name)
            ));
        }
        comments.push(format!("UserId: {}", ctx.user_id));
        if ctx.host_parent_process_id > 0 {
            comments.push(format!(
                "ParentPID: {}\nParentCmd: \nParentArgs: ",
                ctx.host_parent_process_id
            ));
        }
    }
    if !ctx.container_id.is_empty() {
        comments.push(format!(
            "ContainerName: {}\nContainerId: {}\nContainerImage: {}\nContainerLabels: ",
            text(ctx.container_name.as_bytes()),
            ctx.container_id,
            text(ctx.container_image.as_bytes())
        ));
    }
    if !ctx.pod_name.is_empty() {
        comments.push(format!(
            "PodName: {}\nPodNamespace: {}\nPodUID: {}\nPodLabels: \nPodAnnotations: ",
            text(ctx.pod_name.as_bytes()),
            text(ctx.pod_namespace.as_bytes()),
            ctx.pod_uid
        ));
    }
    comments
}
