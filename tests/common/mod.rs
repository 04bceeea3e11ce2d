//! Helpers shared by the integration tests: running the binary, reading and writing
//! small captures, and building packets from header values.
#![allow(dead_code)] // each test binary uses a different part of this module

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the netcore binary with `args`.
pub fn netcore(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netcore"))
        .args(args)
        .output()
        .expect("run netcore")
}

/// Replaces the value of every `"hostName"` with "" (the only host-dependent field of
/// file mode).
pub fn without_host_name(jsonl: &str) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let mut escaped = Vec::new();
    netcore_core::json::push_str(&mut escaped, host.trim().as_bytes());
    let from = format!("\"hostName\":{}", String::from_utf8(escaped).unwrap());
    jsonl.replace(&from, "\"hostName\":\"\"")
}

/// Writes `pcap` as a classic pcap file in the given byte order.
pub fn write_pcap(pcap: &Pcap, big_endian: bool) -> Vec<u8> {
    let u16b = |v: u16| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let u32b = |v: u32| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let mut out = Vec::new();
    out.extend_from_slice(&u32b(if pcap.nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 }));
    out.extend_from_slice(&u16b(2));
    out.extend_from_slice(&u16b(4));
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&u32b(262_144));
    out.extend_from_slice(&u32b(pcap.linktype));
    for r in &pcap.records {
        for v in [
            r.ts_sec,
            r.ts_frac,
            r.data.len() as u32,
            r.data.len() as u32,
        ] {
            out.extend_from_slice(&u32b(v));
        }
        out.extend_from_slice(&r.data);
    }
    out
}

/// A pcapng file being written, little-endian.
#[derive(Default)]
pub struct PcapNg {
    /// The bytes so far.
    pub bytes: Vec<u8>,
}

impl PcapNg {
    fn block(&mut self, block_type: u32, body: &[u8]) {
        let padded = body.len().div_ceil(4) * 4;
        let total = (12 + padded) as u32;
        self.bytes.extend_from_slice(&block_type.to_le_bytes());
        self.bytes.extend_from_slice(&total.to_le_bytes());
        self.bytes.extend_from_slice(body);
        self.bytes.resize(self.bytes.len() + padded - body.len(), 0);
        self.bytes.extend_from_slice(&total.to_le_bytes());
    }

    /// Starts a section.
    pub fn section(&mut self) {
        let mut body = 0x1a2b_3c4du32.to_le_bytes().to_vec();
        body.extend_from_slice(&[1, 0, 0, 0]);
        body.extend_from_slice(&u64::MAX.to_le_bytes());
        self.block(0x0a0d_0d0a, &body);
    }

    /// Declares an interface with a link type and an `if_tsresol` (None: the default µs).
    pub fn interface(&mut self, linktype: u16, tsresol: Option<u8>) {
        let mut body = Vec::new();
        body.extend_from_slice(&linktype.to_le_bytes());
        body.extend_from_slice(&[0, 0]);
        body.extend_from_slice(&262_144u32.to_le_bytes());
        if let Some(r) = tsresol {
            body.extend_from_slice(&[9, 0, 1, 0, r, 0, 0, 0]);
            body.extend_from_slice(&[0, 0, 0, 0]);
        }
        self.block(1, &body);
    }

    /// Adds an enhanced packet block with a timestamp in the interface's units.
    pub fn packet(&mut self, interface: u32, units: u64, data: &[u8]) {
        self.packet_with_flags(interface, units, data, None);
    }

    /// Adds an enhanced packet block with `opt_comment` options, one per comment.
    pub fn packet_with_comments(
        &mut self,
        interface: u32,
        units: u64,
        data: &[u8],
        comments: &[&str],
    ) {
        let mut body = Vec::new();
        body.extend_from_slice(&interface.to_le_bytes());
        body.extend_from_slice(&((units >> 32) as u32).to_le_bytes());
        body.extend_from_slice(&(units as u32).to_le_bytes());
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(data);
        for comment in comments {
            body.resize(body.len().div_ceil(4) * 4, 0);
            body.extend_from_slice(&[1, 0]);
            body.extend_from_slice(&(comment.len() as u16).to_le_bytes());
            body.extend_from_slice(comment.as_bytes());
        }
        body.resize(body.len().div_ceil(4) * 4, 0);
        body.extend_from_slice(&[0, 0, 0, 0]);
        self.block(6, &body);
    }

    /// Adds an enhanced packet block with an `epb_flags` option (bits 0–1: 1 inbound,
    /// 2 outbound) when `flags` is given.
    pub fn packet_with_flags(
        &mut self,
        interface: u32,
        units: u64,
        data: &[u8],
        flags: Option<u32>,
    ) {
        let mut body = Vec::new();
        body.extend_from_slice(&interface.to_le_bytes());
        body.extend_from_slice(&((units >> 32) as u32).to_le_bytes());
        body.extend_from_slice(&(units as u32).to_le_bytes());
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(data);
        if let Some(flags) = flags {
            body.resize(body.len().div_ceil(4) * 4, 0);
            body.extend_from_slice(&[2, 0, 4, 0]);
            body.extend_from_slice(&flags.to_le_bytes());
            body.extend_from_slice(&[0, 0, 0, 0]);
        }
        self.block(6, &body);
    }
}

/// The JSON events netcore prints with `args`, which must succeed, one value each.
#[allow(dead_code)] // Not every test binary reads events.
pub fn events_of(args: &[&str]) -> Vec<serde_json::Value> {
    let out = netcore(args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A file under the test's own temporary folder, removed with the folder at exit.
pub fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("netcore-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// An IPv4 TCP segment with `flags` and `payload`.
pub fn ipv4_tcp(
    src: ([u8; 4], u16),
    dst: ([u8; 4], u16),
    seq: u32,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    let total = (40 + payload.len()) as u16;
    let mut p = vec![0x45, 0];
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&[0, 1, 0x40, 0, 64, 6, 0, 0]);
    p.extend_from_slice(&src.0);
    p.extend_from_slice(&dst.0);
    p.extend_from_slice(&src.1.to_be_bytes());
    p.extend_from_slice(&dst.1.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    p.extend_from_slice(payload);
    p
}

/// A pcapng (raw IP, ns) of `count` TCP SYNs from 10.0.0.2:50000 to ports 1000… of
/// 10.0.0.9, one a millisecond from 1,700,000,000 s, each with `owner`'s ptcpdump comments
/// (a port scan by one process).
#[allow(dead_code)] // as events_of: not every test binary reads owned captures
pub fn owned_syns(count: u16, owner: &[&str]) -> PcapNg {
    let mut file = PcapNg::default();
    file.section();
    file.interface(101, Some(9));
    for port in 0..count {
        let syn = ipv4_tcp(
            ([10, 0, 0, 2], 50000),
            ([10, 0, 0, 9], 1000 + port),
            1,
            0x02,
            b"",
        );
        let time = 1_700_000_000_000_000_000 + u64::from(port) * 1_000_000;
        file.packet_with_comments(0, time, &syn, owner);
    }
    file
}

/// A raw-IP capture of `packets`, one per millisecond from `start_sec`.
pub fn capture(name: &str, start_sec: u32, packets: Vec<Vec<u8>>) -> std::path::PathBuf {
    let timed = (0..).zip(packets).collect();
    capture_timed(name, start_sec, timed)
}

/// A raw-IP capture of `(milliseconds after start_sec, packet)`.
#[allow(dead_code)] // as events_of: not every test binary times its packets
pub fn capture_timed(
    name: &str,
    start_sec: u32,
    packets: Vec<(u32, Vec<u8>)>,
) -> std::path::PathBuf {
    let records = packets
        .into_iter()
        .map(|(ms, data)| Record {
            ts_sec: start_sec + ms / 1000,
            ts_frac: (ms % 1000) * 1000,
            data,
        })
        .collect();
    let pcap = Pcap {
        linktype: 101, // LINKTYPE_RAW
        nanos: false,
        records,
    };
    temp_file(name, &write_pcap(&pcap, false))
}

/// Whether tshark is installed; a test without it skips loudly (under `CI=true` it fails:
/// scripts/setup.sh installs it).
pub fn tshark_available(test: &str) -> bool {
    let found = Command::new("tshark").arg("--version").output().is_ok();
    if !found {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{test}: tshark is missing under CI=true: scripts/setup.sh installs it");
        }
        eprintln!("\n*** SKIPPED {test}: tshark is not installed ***\n");
    }
    found
}

// Shared with the decoder's own tests (core/tests/).
#[path = "../../core/tests/common/dns_builder.rs"]
pub mod dns_builder;
#[path = "../../core/tests/common/pcap.rs"]
mod pcap;
#[allow(unused_imports)] // as dead_code above: each test binary uses a different part
pub use pcap::{Pcap, Record, read_pcap};
pub mod health;
pub mod live;

/// The names of the files in `dir`, sorted.
pub fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}
