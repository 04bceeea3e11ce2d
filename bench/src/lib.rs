//! Inputs shared by netcore's benchmarks.

use std::path::Path;

use netcore_core::ip;
use netcore_core::packet::{Network, Transport};
use netcore_core::{LinkType, decode};

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

/// The realistic L2–L4 mix: the frames of the golden Ethernet capture (ping, ping6,
/// neighbour discovery, TCP over IPv4 and IPv6, UDP, HTTP, DNS over UDP and TCP) except IP
/// fragments, whose first fragment netcore decodes to its transport header (as Tracee does)
/// and etherparse does not, so the two would not do the same work.
pub fn ethernet_mix() -> Vec<Vec<u8>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/golden/ethernet.pcap");
    let (link, frames) = read_frames(&path);
    assert_eq!(link, LinkType::Ethernet);
    frames
        .into_iter()
        .filter(|f| !is_fragment(link, f))
        .collect()
}

fn is_fragment(link: LinkType, frame: &[u8]) -> bool {
    match decode(link, frame).network {
        Some(Network::Ipv4(v4)) => v4.flags() & 1 == 1 || v4.frag_offset() != 0,
        Some(Network::Ipv6(v6)) => v6.next_header() == ip::IPV6_FRAG,
        None => false,
    }
}

/// The typical DNS responses: every response of the golden captures over UDP (A, AAAA,
/// CNAME chain, MX, TXT, SRV, PTR, REFUSED, each with EDNS).
pub fn dns_typical_responses() -> Vec<Vec<u8>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/golden/ethernet.pcap");
    let (link, frames) = read_frames(&path);
    let mut mix: Vec<Vec<u8>> = frames
        .iter()
        .filter_map(|f| match decode(link, f).transport {
            Some(Transport::Udp(u)) if u.src_port() == 53 => Some(u.payload().to_vec()),
            _ => None,
        })
        .collect();
    mix.sort_unstable();
    mix.dedup();
    mix
}

/// A large response: 48 PTR answers (1,000+ bytes), the large case of the field notes.
pub fn dns_large_response() -> Vec<Vec<u8>> {
    vec![many_ptr_response(48)]
}

/// A response to a PTR query for 80.0.99.10.in-addr.arpa with `answers` PTR records,
/// `host-NNN.99.10.in-addr.arpa`, names compressed.
fn many_ptr_response(answers: u16) -> Vec<u8> {
    let mut m = vec![0x12, 0x34, 0x81, 0x80, 0, 1];
    m.extend_from_slice(&answers.to_be_bytes());
    m.extend_from_slice(&[0, 0, 0, 0]);
    m.extend_from_slice(b"\x0280\x010\x0299\x0210\x07in-addr\x04arpa\x00\x00\x0c\x00\x01");
    for i in 0..answers {
        let host = format!("host-{i:03}");
        m.extend_from_slice(&[0xc0, 12, 0, 12, 0, 1, 0, 0, 0x0e, 0x10]);
        m.extend_from_slice(&((1 + host.len() + 2) as u16).to_be_bytes());
        m.push(host.len() as u8);
        m.extend_from_slice(host.as_bytes());
        m.extend_from_slice(&[0xc0, 17]); // "99.10.in-addr.arpa" inside the question
    }
    m
}

/// Whether an Ethernet frame carries IPv6 whose fixed header is followed by extension
/// headers (hop-by-hop for MLD, say): parsers that stop at the fixed header read those
/// differently.
pub fn has_ipv6_extension_headers(frame: &[u8]) -> bool {
    matches!(
        decode(LinkType::Ethernet, frame).network,
        Some(Network::Ipv6(v6)) if !matches!(v6.next_header(), ip::TCP | ip::UDP | ip::ICMPV6)
    )
}
