//! Classic pcap files read with pcap-parser, a reader independent of netcore's.

use std::path::Path;

/// One record of a classic pcap file.
#[derive(Debug, Clone)]
pub struct Record {
    /// Seconds.
    pub ts_sec: u32,
    /// Microseconds or nanoseconds, per the file.
    pub ts_frac: u32,
    /// Captured bytes.
    pub data: Vec<u8>,
}

/// A classic pcap file, decoded.
#[derive(Debug, Clone)]
pub struct Pcap {
    /// LINKTYPE_* number.
    pub linktype: u32,
    /// True if `ts_frac` is in nanoseconds.
    pub nanos: bool,
    /// The records.
    pub records: Vec<Record>,
}

/// Reads a classic pcap file with pcap-parser (an independent reader).
pub fn read_pcap(path: &Path) -> Pcap {
    use pcap_parser::PcapCapture;
    let bytes = std::fs::read(path).unwrap();
    let capture = PcapCapture::from_file(&bytes).unwrap();
    let records = capture
        .blocks
        .iter()
        .map(|r| Record {
            ts_sec: r.ts_sec,
            ts_frac: r.ts_usec,
            data: r.data[..r.caplen as usize].to_vec(),
        })
        .collect();
    Pcap {
        linktype: capture.header.network.0 as u32,
        nanos: capture.header.is_nanosecond_precision(),
        records,
    }
}
