//! Inputs shared by netcore's benchmarks.

use std::path::Path;

use netcore_core::LinkType;

/// The frames of a classic pcap file, with its link type.
pub fn read_frames(path: &Path) -> (LinkType, Vec<Vec<u8>>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let capture = pcap_parser::PcapCapture::from_file(&bytes)
        .unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
    let link =
        LinkType::from_linktype(capture.header.network.0 as u32).expect("supported link type");
    let frames = capture
        .blocks
        .iter()
        .map(|b| b.data[..b.caplen as usize].to_vec())
        .collect();
    (link, frames)
}

/// The realistic L2–L4 mix: every frame of the golden Ethernet capture (ping, ping6,
/// neighbour discovery, TCP over IPv4 and IPv6, UDP, HTTP, DNS over UDP and TCP).
pub fn ethernet_mix() -> Vec<Vec<u8>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/golden/ethernet.pcap");
    let (link, frames) = read_frames(&path);
    assert_eq!(link, LinkType::Ethernet);
    frames
}
