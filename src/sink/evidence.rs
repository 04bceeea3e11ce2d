//! `--evidence DIR`: capture on detection. The last packets of every flow are kept (at
//! most [`EvidenceConfig::per_flow`] per flow, [`EvidenceConfig::total_bytes`] and
//! [`MAX_FLOWS`] flows in all; the flows kept longest give way first, their packets
//! counted). When a signature fires, the packets kept of the triggering flow and those
//! of the next [`EvidenceConfig::follow_ns`] go to `DIR/<finding>-<ns>-<flow>.pcapng`,
//! each with its owner as comments, and the finding names the file. At most
//! [`MAX_RECORDINGS`] files are written at once; a finding beyond that gets none
//! (counted).

use std::collections::{HashMap, VecDeque};
use std::io;
use std::path::PathBuf;

use netcore_core::{Direction, EventContext, LinkType};

use netcore_core::owner_comment;

use super::capture::{PacketWriter, Rotation};
use crate::pipeline::{EvidenceStats, PacketTap};
use crate::source::{Frame, Interface};

/// Most flows whose packets are kept at once.
pub const MAX_FLOWS: usize = 65_536;

/// Most evidence files written at once.
pub const MAX_RECORDINGS: usize = 64;

/// `--evidence` and its limits.
#[derive(Debug, Clone)]
pub struct EvidenceConfig {
    /// Where the files go.
    pub dir: PathBuf,
    /// How long after a finding its flow's packets are still written (ns).
    pub follow_ns: u64,
    /// Packets kept per flow.
    pub per_flow: usize,
    /// Bytes of packets kept in all.
    pub total_bytes: usize,
}

/// A packet kept, with what its file needs.
struct Kept {
    link_type: LinkType,
    timestamp_ns: u64,
    data: Vec<u8>,
    wire_len: u32,
    direction: Direction,
    interface: Interface,
    interface_name: String,
    comments: Vec<String>,
}

impl Kept {
    fn frame(&self) -> Frame<'_> {
        Frame {
            wire_len: self.wire_len,
            direction: self.direction,
            interface: self.interface,
            ..Frame::bare(self.link_type, self.timestamp_ns, &self.data)
        }
    }
}

/// An evidence file being written.
struct Recording {
    writer: PacketWriter,
    path: String,
    until_ns: u64,
}

/// The packets kept per flow, and the evidence files being written.
pub struct Evidence {
    config: EvidenceConfig,
    kept: HashMap<u64, VecDeque<Kept>>,
    /// Flow keys in the order their first packet was kept: who gives way first.
    age: VecDeque<u64>,
    bytes: usize,
    recordings: HashMap<u64, Recording>,
    /// Counts so far.
    pub stats: EvidenceStats,
}

impl Evidence {
    /// Evidence into `config.dir`, which must be a directory netcore can write to.
    pub fn new(config: EvidenceConfig) -> io::Result<Self> {
        let probe = config.dir.join(format!(".netcore-{}", std::process::id()));
        std::fs::write(&probe, b"")?;
        std::fs::remove_file(&probe)?;
        Ok(Evidence {
            config,
            kept: HashMap::new(),
            age: VecDeque::new(),
            bytes: 0,
            recordings: HashMap::new(),
            stats: EvidenceStats::default(),
        })
    }

    /// Takes one frame of the flow `key`: written at once when the flow is being
    /// recorded, kept otherwise. Ends the recordings whose time is up.
    pub fn packet(&mut self, key: u64, frame: &Frame<'_>, ctx: &EventContext<'_>, interface: &str) {
        self.expire(frame.timestamp_ns);
        if let Some(recording) = self.recordings.get_mut(&key) {
            match recording
                .writer
                .write_commented(frame, &owner_comment::emit(ctx), interface)
            {
                Ok(_) => self.stats.packets += 1,
                Err(_) => self.stats.write_errors += 1,
            }
            return;
        }
        let kept = Kept {
            link_type: frame.link_type,
            timestamp_ns: frame.timestamp_ns,
            data: frame.data.to_vec(),
            wire_len: frame.wire_len,
            direction: frame.direction,
            interface: frame.interface,
            interface_name: interface.to_owned(),
            comments: owner_comment::emit(ctx),
        };
        self.bytes += kept.data.len();
        let packets = match self.kept.get_mut(&key) {
            Some(packets) => packets,
            None => {
                self.age.push_back(key);
                self.kept.entry(key).or_default()
            }
        };
        packets.push_back(kept);
        if packets.len() > self.config.per_flow
            && let Some(oldest) = packets.pop_front()
        {
            self.bytes -= oldest.data.len();
            self.stats.evicted += 1;
        }
        while self.bytes > self.config.total_bytes || self.kept.len() > MAX_FLOWS {
            let Some(flow) = self.age.pop_front() else {
                break;
            };
            for gone in self.kept.remove(&flow).unwrap_or_default() {
                self.bytes -= gone.data.len();
                self.stats.evicted += 1;
            }
        }
    }

    /// A finding `finding` on flow `key` at `now_ns`: starts (or extends) the flow's
    /// recording, writing the packets kept of it. Returns the file's path, None when no
    /// file could be started.
    pub fn start(&mut self, key: u64, finding: &str, now_ns: u64) -> Option<String> {
        let until_ns = now_ns.saturating_add(self.config.follow_ns);
        if let Some(recording) = self.recordings.get_mut(&key) {
            recording.until_ns = recording.until_ns.max(until_ns);
            return Some(recording.path.clone());
        }
        if self.recordings.len() >= MAX_RECORDINGS {
            self.stats.refused += 1;
            return None;
        }
        // Rego signatures name their own events: keep the file name a plain name.
        let finding: String = finding
            .chars()
            .map(|c| match c {
                'a'..='z' | 'A'..='Z' | '0'..='9' | '_' | '-' => c,
                _ => '_',
            })
            .collect();
        let name = format!("{finding}-{now_ns}-{key:016x}.pcapng");
        let path = self.config.dir.join(name);
        let Ok(mut writer) = PacketWriter::create(&path, 0, Rotation::default()) else {
            self.stats.refused += 1;
            return None;
        };
        if let Some(packets) = self.kept.remove(&key) {
            self.age.retain(|&flow| flow != key);
            for kept in packets {
                self.bytes -= kept.data.len();
                let written =
                    writer.write_commented(&kept.frame(), &kept.comments, &kept.interface_name);
                match written {
                    // pcapng holds every link type: always written.
                    Ok(_) => self.stats.packets += 1,
                    Err(_) => self.stats.write_errors += 1,
                }
            }
        }
        self.stats.files += 1;
        let path = path.display().to_string();
        let recording = Recording {
            writer,
            path: path.clone(),
            until_ns,
        };
        self.recordings.insert(key, recording);
        Some(path)
    }

    /// Ends the recordings whose time is up at `now_ns` (the last packet's time, or the
    /// clock's in live modes).
    pub fn expire(&mut self, now_ns: u64) {
        self.recordings.retain(|_, recording| {
            let going_on = recording.until_ns > now_ns;
            if !going_on {
                let _ = recording.writer.flush();
            }
            going_on
        });
    }

    /// Writes out what the open recordings hold (SIGHUP, the end of the run).
    pub fn flush(&mut self) -> io::Result<()> {
        for recording in self.recordings.values_mut() {
            recording.writer.flush()?;
        }
        Ok(())
    }
}

/// `--evidence` as the pipeline's tap: every frame offered is kept per flow; a finding
/// starts its flow's file.
impl PacketTap for Evidence {
    fn offer(&mut self, flow: u64, frame: &Frame<'_>, ctx: &EventContext<'_>, iface: &str) {
        self.packet(flow, frame, ctx, iface);
    }

    fn finding(&mut self, flow: u64, finding: &str, now_ns: u64) -> Option<String> {
        self.start(flow, finding, now_ns)
    }

    fn tick(&mut self, now_ns: u64) {
        self.expire(now_ns);
    }

    fn flush(&mut self) -> io::Result<u64> {
        Evidence::flush(self).map(|()| 0)
    }

    fn needs_flows(&self) -> bool {
        true
    }

    fn evidence(&self) -> Option<EvidenceStats> {
        Some(self.stats)
    }
}
