//! Link layers: Ethernet II with stacked 802.1Q / 802.1ad tags, Linux cooked capture v1
//! and v2 (what `tcpdump -i any` writes), and raw IPv4/IPv6 link types.

use core::fmt;

use zerocopy::network_endian::{U16, U32};
use zerocopy::{FromBytes, Immutable, KnownLayout, Unaligned};

use crate::truncated::{Truncated, header_prefix};

/// EtherType of IPv4.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// EtherType of IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
/// EtherType of an 802.1Q customer VLAN tag.
pub const ETHERTYPE_VLAN: u16 = 0x8100;
/// EtherType of an 802.1ad service VLAN tag (QinQ).
pub const ETHERTYPE_QINQ: u16 = 0x88a8;
/// Pre-standard QinQ EtherType still seen on some switches.
pub const ETHERTYPE_QINQ_OLD: u16 = 0x9100;
/// EtherType of an MPLS unicast label stack.
pub const ETHERTYPE_MPLS: u16 = 0x8847;
/// EtherType of an MPLS multicast label stack.
pub const ETHERTYPE_MPLS_MULTICAST: u16 = 0x8848;
/// EtherType of a PPPoE session.
pub const ETHERTYPE_PPPOE_SESSION: u16 = 0x8864;
/// EtherType of a Network Service Header (RFC 8300).
pub const ETHERTYPE_NSH: u16 = 0x894f;
/// Most Network Service Headers in a row (each may carry an Ethernet frame with another)
/// before the frame counts as not IP.
const MAX_NSH_DEPTH: usize = 4;
/// Most MPLS labels walked before the stack is given up on.
pub const MAX_MPLS_LABELS: usize = 16;

/// The link-layer framing of a captured frame, named after its pcap `LINKTYPE_*` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkType {
    /// `LINKTYPE_NULL` (0): BSD loopback, a 4-byte address family in the writer's byte
    /// order (macOS `lo0`, Tracee's `--capture network`).
    Null,
    /// `LINKTYPE_ETHERNET` (1).
    Ethernet,
    /// `LINKTYPE_RAW` (101): an IPv4 or IPv6 packet, told apart by its version nibble.
    Raw,
    /// `LINKTYPE_LOOP` (108): OpenBSD loopback, the family in network byte order.
    Loop,
    /// `LINKTYPE_PPP` (9): a PPP protocol field (after an optional 0xff 0x03).
    Ppp,
    /// `LINKTYPE_PPP_HDLC` (50): PPP in HDLC-like framing (0xff 0x03, then the protocol).
    PppHdlc,
    /// `LINKTYPE_IEEE802_11` (105): 802.11 frames; data frames carry LLC/SNAP.
    Ieee80211,
    /// `LINKTYPE_IEEE802_11_RADIOTAP` (127): a radiotap header, then an 802.11 frame.
    Radiotap,
    /// `LINKTYPE_NFLOG` (239): Linux netfilter log messages (`tcpdump -i nflog`).
    Nflog,
    /// `LINKTYPE_LINUX_SLL` (113): Linux cooked capture v1.
    LinuxSll,
    /// `LINKTYPE_IPV4` (228).
    Ipv4,
    /// `LINKTYPE_IPV6` (229).
    Ipv6,
    /// `LINKTYPE_LINUX_SLL2` (276): Linux cooked capture v2.
    LinuxSll2,
    /// `LINKTYPE_C_HDLC` (104): Cisco HDLC — address, control, then an EtherType.
    CiscoHdlc,
}

impl LinkType {
    /// Every link type the decoder supports.
    /// (Newer ones last: the fuzzers' seed corpora pick link types by position.)
    pub const ALL: [LinkType; 14] = [
        LinkType::Ethernet,
        LinkType::Raw,
        LinkType::LinuxSll,
        LinkType::Ipv4,
        LinkType::Ipv6,
        LinkType::LinuxSll2,
        LinkType::Null,
        LinkType::Loop,
        LinkType::Ppp,
        LinkType::PppHdlc,
        LinkType::Ieee80211,
        LinkType::Radiotap,
        LinkType::Nflog,
        LinkType::CiscoHdlc,
    ];

    /// The link type for a pcap/pcapng `LINKTYPE_*` number, if supported.
    pub fn from_linktype(value: u32) -> Option<LinkType> {
        LinkType::ALL.into_iter().find(|t| t.linktype() == value)
    }

    /// The pcap `LINKTYPE_*` number.
    pub fn linktype(self) -> u32 {
        match self {
            LinkType::Null => 0,
            LinkType::Ethernet => 1,
            LinkType::Raw => 101,
            LinkType::Loop => 108,
            LinkType::Ppp => 9,
            LinkType::PppHdlc => 50,
            LinkType::Ieee80211 => 105,
            LinkType::Radiotap => 127,
            LinkType::Nflog => 239,
            LinkType::LinuxSll => 113,
            LinkType::Ipv4 => 228,
            LinkType::Ipv6 => 229,
            LinkType::LinuxSll2 => 276,
            LinkType::CiscoHdlc => 104,
        }
    }

    /// The `LINKTYPE_*` name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            LinkType::Null => "NULL",
            LinkType::Ethernet => "ETHERNET",
            LinkType::Raw => "RAW",
            LinkType::Loop => "LOOP",
            LinkType::Ppp => "PPP",
            LinkType::PppHdlc => "PPP_HDLC",
            LinkType::Ieee80211 => "IEEE802_11",
            LinkType::Radiotap => "IEEE802_11_RADIOTAP",
            LinkType::Nflog => "NFLOG",
            LinkType::LinuxSll => "LINUX_SLL",
            LinkType::Ipv4 => "IPV4",
            LinkType::Ipv6 => "IPV6",
            LinkType::LinuxSll2 => "LINUX_SLL2",
            LinkType::CiscoHdlc => "C_HDLC",
        }
    }
}

/// Ethernet II header.
#[derive(Debug, FromBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct EthernetHeader {
    /// Destination MAC address.
    pub dst: [u8; 6],
    /// Source MAC address.
    pub src: [u8; 6],
    /// EtherType (or an 802.3 length when below 0x0600).
    pub ethertype: U16,
}

/// One 802.1Q / 802.1ad tag, as it follows the tag's EtherType.
#[derive(Debug, FromBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct VlanTag {
    /// Priority (3 bits), drop eligible (1 bit), VLAN id (12 bits).
    pub tci: U16,
    /// EtherType of what follows the tag.
    pub ethertype: U16,
}

impl VlanTag {
    /// The 12-bit VLAN identifier.
    pub fn vlan_id(&self) -> u16 {
        self.tci.get() & 0x0fff
    }
}

/// Linux cooked capture v1 header (`LINKTYPE_LINUX_SLL`).
#[derive(Debug, FromBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct SllHeader {
    /// Packet type: 0 to us, 1 broadcast, 2 multicast, 3 to another host, 4 outgoing.
    pub packet_type: U16,
    /// ARPHRD_* device type.
    pub arphrd_type: U16,
    /// Length of the link-layer address.
    pub addr_len: U16,
    /// Link-layer address, zero padded.
    pub addr: [u8; 8],
    /// EtherType of the payload.
    pub protocol: U16,
}

/// Linux cooked capture v2 header (`LINKTYPE_LINUX_SLL2`).
#[derive(Debug, FromBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct Sll2Header {
    /// EtherType of the payload.
    pub protocol: U16,
    /// Reserved, zero.
    pub reserved: U16,
    /// Interface index the packet was seen on.
    pub ifindex: U32,
    /// ARPHRD_* device type.
    pub arphrd_type: U16,
    /// Packet type, as in v1.
    pub packet_type: u8,
    /// Length of the link-layer address.
    pub addr_len: u8,
    /// Link-layer address, zero padded.
    pub addr: [u8; 8],
}

/// What the link layer carries: the EtherType after all VLAN tags, and its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkFrame<'a> {
    /// EtherType of `payload` (0 for an 802.3 frame with a length field).
    pub ethertype: u16,
    /// Number of VLAN tags that were stripped.
    pub vlan_tags: u8,
    /// VLAN id of the outermost tag, if any.
    pub outer_vlan_id: Option<u16>,
    /// The network-layer bytes.
    pub payload: &'a [u8],
}

/// Why a link-layer header could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkError {
    /// The frame is shorter than the link-layer header.
    Truncated(Truncated),
    /// A VLAN tag was cut off.
    TruncatedVlan(Truncated),
    /// A raw-IP frame whose first nibble is neither 4 nor 6.
    UnknownRawVersion(u8),
    /// An MPLS label stack with no bottom within [`MAX_MPLS_LABELS`] labels.
    TooManyMplsLabels,
}

impl LinkError {
    /// Stable short name, see [`crate::DecodeError::kind`].
    pub fn kind(&self) -> &'static str {
        match self {
            LinkError::Truncated(_) => "link.truncated",
            LinkError::TruncatedVlan(_) => "link.truncated_vlan",
            LinkError::UnknownRawVersion(_) => "link.unknown_raw_version",
            LinkError::TooManyMplsLabels => "link.too_many_mpls_labels",
        }
    }
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkError::Truncated(t) => write!(f, "header {t}"),
            LinkError::TruncatedVlan(t) => write!(f, "VLAN tag {t}"),
            LinkError::UnknownRawVersion(v) => write!(f, "raw IP frame with version {v}"),
            LinkError::TooManyMplsLabels => {
                write!(f, "MPLS label stack deeper than {MAX_MPLS_LABELS} labels")
            }
        }
    }
}

/// Strips the link-layer header of `frame` (and any VLAN tags behind it).
///
/// Inline for the frames nearly every capture holds (IP right behind an Ethernet header,
/// or raw IP as host mode captures it); every other link layer and tag stack is walked
/// out of line.
#[inline(always)]
pub fn decode_link(link_type: LinkType, frame: &[u8]) -> Result<LinkFrame<'_>, LinkError> {
    let ip = |ethertype, payload| LinkFrame {
        ethertype,
        vlan_tags: 0,
        outer_vlan_id: None,
        payload,
    };
    match link_type {
        LinkType::Ethernet => {
            if let Ok((eth, rest)) = header_prefix::<EthernetHeader>(frame)
                && matches!(eth.ethertype.get(), ETHERTYPE_IPV4 | ETHERTYPE_IPV6)
            {
                return Ok(ip(eth.ethertype.get(), rest));
            }
        }
        LinkType::Raw => match frame.first().map(|b| b >> 4) {
            Some(4) => return Ok(ip(ETHERTYPE_IPV4, frame)),
            Some(6) => return Ok(ip(ETHERTYPE_IPV6, frame)),
            _ => {}
        },
        _ => {}
    }
    decode_any_link(link_type, frame)
}

/// [`decode_link`] for every link type and tag stack.
#[inline(never)]
fn decode_any_link(link_type: LinkType, frame: &[u8]) -> Result<LinkFrame<'_>, LinkError> {
    let (ethertype, rest) = match link_type {
        LinkType::Ethernet => {
            let (eth, rest) =
                header_prefix::<EthernetHeader>(frame).map_err(LinkError::Truncated)?;
            let ethertype = eth.ethertype.get();
            // Below 0x0600 the field is an 802.3 length: LLC follows, not an EtherType.
            (if ethertype < 0x0600 { 0 } else { ethertype }, rest)
        }
        LinkType::LinuxSll => {
            let (sll, rest) = header_prefix::<SllHeader>(frame).map_err(LinkError::Truncated)?;
            (sll.protocol.get(), rest)
        }
        LinkType::LinuxSll2 => {
            let (sll, rest) = header_prefix::<Sll2Header>(frame).map_err(LinkError::Truncated)?;
            (sll.protocol.get(), rest)
        }
        LinkType::Ipv4 => (ETHERTYPE_IPV4, frame),
        LinkType::Ipv6 => (ETHERTYPE_IPV6, frame),
        LinkType::Null | LinkType::Loop => {
            let (family, rest) = header_prefix::<[u8; 4]>(frame).map_err(LinkError::Truncated)?;
            let big = u32::from_be_bytes(*family);
            // NULL is in the writer's byte order: whichever order names a family.
            let family = match (link_type, address_family_ethertype(big)) {
                (LinkType::Loop, _) | (_, Some(_)) => big,
                _ => u32::from_le_bytes(*family),
            };
            (address_family_ethertype(family).unwrap_or(0), rest)
        }
        LinkType::Ppp | LinkType::PppHdlc => {
            let framed = match frame {
                [0xff, 0x03, rest @ ..] => rest,
                _ => frame,
            };
            ppp_protocol(framed)?
        }
        LinkType::Ieee80211 => ieee80211(frame)?,
        LinkType::Radiotap => {
            // The radiotap header's length is a little-endian u16 at offset 2.
            let (header, _) = header_prefix::<[u8; 4]>(frame).map_err(LinkError::Truncated)?;
            let len = usize::from(u16::from_le_bytes([header[2], header[3]]));
            let rest = frame.get(len..).ok_or(LinkError::Truncated(Truncated {
                need: len,
                have: frame.len(),
            }))?;
            ieee80211(rest)?
        }
        LinkType::Nflog => nflog(frame)?,
        LinkType::CiscoHdlc => {
            let (header, rest) = header_prefix::<[u8; 4]>(frame).map_err(LinkError::Truncated)?;
            (u16::from_be_bytes([header[2], header[3]]), rest)
        }
        LinkType::Raw => {
            let first = *frame
                .first()
                .ok_or(LinkError::Truncated(Truncated { need: 1, have: 0 }))?;
            match first >> 4 {
                4 => (ETHERTYPE_IPV4, frame),
                6 => (ETHERTYPE_IPV6, frame),
                v => return Err(LinkError::UnknownRawVersion(v)),
            }
        }
    };
    strip_vlan_tags(ethertype, rest)
}

/// The EtherType a PPP protocol field at the start of `frame` names, and what follows it.
/// The field is one byte when its first is odd (RFC 1661's protocol-field compression:
/// the high byte, always even, 0x00 left out), else two.
fn ppp_protocol(frame: &[u8]) -> Result<(u16, &[u8]), LinkError> {
    match frame {
        [low, rest @ ..] if low & 1 == 1 => Ok((ppp_ethertype(u16::from(*low)), rest)),
        _ => {
            let (protocol, rest) = header_prefix::<[u8; 2]>(frame).map_err(LinkError::Truncated)?;
            Ok((ppp_ethertype(u16::from_be_bytes(*protocol)), rest))
        }
    }
}

/// The EtherType of a PPP protocol field: IPv4 (0x0021), IPv6 (0x0057) and MPLS (0x0281
/// unicast, 0x0283 multicast) are carried on; the rest (LCP, IPCP, …) is not IP.
fn ppp_ethertype(protocol: u16) -> u16 {
    match protocol {
        0x0021 => ETHERTYPE_IPV4,
        0x0057 => ETHERTYPE_IPV6,
        0x0281 => ETHERTYPE_MPLS,
        0x0283 => ETHERTYPE_MPLS_MULTICAST,
        _ => 0,
    }
}

/// An 802.11 frame: data frames (type 2) carry an LLC/SNAP header whose EtherType names
/// the payload; management and control frames, and protected (encrypted) data, are not
/// IP.
fn ieee80211(frame: &[u8]) -> Result<(u16, &[u8]), LinkError> {
    let (control, _) = header_prefix::<[u8; 2]>(frame).map_err(LinkError::Truncated)?;
    let (frame_type, subtype, flags) = ((control[0] >> 2) & 3, control[0] >> 4, control[1]);
    if frame_type != 2 || flags & 0x40 != 0 || subtype & 0x04 != 0 {
        return Ok((0, &[]));
    }
    // 24 bytes; a fourth address when both DS bits are set; QoS control for QoS data
    // subtypes; HT control when a QoS frame has the order bit.
    let qos = subtype & 0x08 != 0;
    let header_len = 24
        + if flags & 0x03 == 0x03 { 6 } else { 0 }
        + if qos { 2 } else { 0 }
        + if qos && flags & 0x80 != 0 { 4 } else { 0 };
    let body = frame
        .get(header_len..)
        .ok_or(LinkError::Truncated(Truncated {
            need: header_len,
            have: frame.len(),
        }))?;
    match body {
        [0xaa, 0xaa, 0x03, _, _, _, e0, e1, rest @ ..] => {
            Ok((u16::from_be_bytes([*e0, *e1]), rest))
        }
        _ => Ok((0, body)),
    }
}

/// A Linux NFLOG message: a 4-byte header (address family, version, resource id), then
/// TLVs (little-endian length and type, padded to 4 bytes); the packet is the payload TLV
/// (type 9), IPv4 or IPv6 by the family.
fn nflog(frame: &[u8]) -> Result<(u16, &[u8]), LinkError> {
    const NFULA_PAYLOAD: u16 = 9;
    let (header, mut tlvs) = header_prefix::<[u8; 4]>(frame).map_err(LinkError::Truncated)?;
    let ethertype = match header[0] {
        2 => ETHERTYPE_IPV4,
        10 => ETHERTYPE_IPV6,
        _ => 0,
    };
    while let [l0, l1, t0, t1, ..] = *tlvs {
        let len = usize::from(u16::from_le_bytes([l0, l1]));
        if len < 4 {
            break; // A malformed TLV: no payload found.
        }
        let value = tlvs.get(4..len).ok_or(LinkError::Truncated(Truncated {
            need: len,
            have: tlvs.len(),
        }))?;
        if u16::from_le_bytes([t0, t1]) & 0x7fff == NFULA_PAYLOAD {
            return Ok((ethertype, value));
        }
        tlvs = tlvs.get(len.next_multiple_of(4)..).unwrap_or_default();
    }
    Ok((0, &[]))
}

/// Strips an MPLS label stack (4 bytes a label, up to the bottom-of-stack bit); what follows
/// is IP by its version nibble (anything else, a pseudowire say, is not IP: EtherType 0).
pub(crate) fn strip_mpls(mut payload: &[u8]) -> Result<(u16, &[u8]), LinkError> {
    for _ in 0..MAX_MPLS_LABELS {
        let (label, rest) = header_prefix::<[u8; 4]>(payload).map_err(LinkError::Truncated)?;
        payload = rest;
        if label[2] & 0x01 != 0 {
            let ethertype = match payload.first().map(|b| b >> 4) {
                Some(4) => ETHERTYPE_IPV4,
                Some(6) => ETHERTYPE_IPV6,
                _ => 0,
            };
            return Ok((ethertype, payload));
        }
    }
    Err(LinkError::TooManyMplsLabels)
}

/// Strips a Network Service Header (RFC 8300: its length, in 4-byte words, in the low 6
/// bits of its second byte; the next protocol in its fourth): IPv4, IPv6 and MPLS are
/// carried on, an Ethernet frame gives its own EtherType; the rest is not IP.
pub(crate) fn strip_nsh(payload: &[u8]) -> Result<(u16, &[u8]), LinkError> {
    let (base, _) = header_prefix::<[u8; 4]>(payload).map_err(LinkError::Truncated)?;
    let len = usize::from(base[1] & 0x3f) * 4;
    let rest = payload
        .get(len.max(4)..)
        .ok_or(LinkError::Truncated(Truncated {
            need: len,
            have: payload.len(),
        }))?;
    Ok(match base[3] {
        1 => (ETHERTYPE_IPV4, rest),
        2 => (ETHERTYPE_IPV6, rest),
        5 => (ETHERTYPE_MPLS, rest),
        3 => {
            let (header, inner) = header_prefix::<[u8; 14]>(rest).map_err(LinkError::Truncated)?;
            (u16::from_be_bytes([header[12], header[13]]), inner)
        }
        _ => (0, rest),
    })
}

/// Strips a PPPoE session header (6 bytes) and the PPP protocol field (see
/// [`ppp_protocol`]).
fn strip_pppoe(payload: &[u8]) -> Result<(u16, &[u8]), LinkError> {
    let (_, rest) = header_prefix::<[u8; 6]>(payload).map_err(LinkError::Truncated)?;
    ppp_protocol(rest)
}

/// The EtherType of a BSD address family: `AF_INET` (2) is IPv4, and `AF_INET6` is 24
/// (NetBSD, OpenBSD), 28 (FreeBSD), 30 (macOS) or 10 (Linux); others are not IP.
fn address_family_ethertype(family: u32) -> Option<u16> {
    match family {
        2 => Some(ETHERTYPE_IPV4),
        10 | 24 | 28 | 30 => Some(ETHERTYPE_IPV6),
        _ => None,
    }
}

fn strip_vlan_tags(mut ethertype: u16, mut payload: &[u8]) -> Result<LinkFrame<'_>, LinkError> {
    let mut vlan_tags = 0u8;
    let mut outer_vlan_id = None;
    for depth in 0..=MAX_NSH_DEPTH {
        while matches!(
            ethertype,
            ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD
        ) {
            let (tag, rest) =
                header_prefix::<VlanTag>(payload).map_err(LinkError::TruncatedVlan)?;
            outer_vlan_id.get_or_insert(tag.vlan_id());
            vlan_tags = vlan_tags.saturating_add(1);
            ethertype = tag.ethertype.get();
            payload = rest;
        }
        if ethertype != ETHERTYPE_NSH {
            break;
        }
        (ethertype, payload) = match depth {
            MAX_NSH_DEPTH => (0, payload),
            _ => strip_nsh(payload)?,
        };
    }
    // PPP (a PPPoE session, or the PPP link types) may carry MPLS, so PPPoE comes first.
    let (ethertype, payload) = match ethertype {
        ETHERTYPE_PPPOE_SESSION => strip_pppoe(payload)?,
        other => (other, payload),
    };
    let (ethertype, payload) = match ethertype {
        ETHERTYPE_MPLS | ETHERTYPE_MPLS_MULTICAST => strip_mpls(payload)?,
        other => (other, payload),
    };
    Ok(LinkFrame {
        ethertype,
        vlan_tags,
        outer_vlan_id,
        payload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MACS: [u8; 12] = [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];

    #[test]
    fn ethernet_ipv4() {
        let mut f = MACS.to_vec();
        f.extend_from_slice(&[0x08, 0x00, 0x45]);
        let l = decode_link(LinkType::Ethernet, &f).unwrap();
        assert_eq!(
            (l.ethertype, l.vlan_tags, l.payload),
            (ETHERTYPE_IPV4, 0, &[0x45u8][..])
        );
    }

    #[test]
    fn network_service_headers_carry_ip_or_an_ethernet_frame() {
        // Base header: version 0, TTL 63, length 2 words (MD type 2, no context), next
        // protocol; then the service path header.
        let nsh = |next: u8| [0x0f, 0xc2, 0x02, next, 0, 0, 1, 0xff];
        let mut ip = MACS.to_vec();
        ip.extend_from_slice(&[0x89, 0x4f]);
        ip.extend_from_slice(&nsh(1));
        ip.push(0x45);
        let l = decode_link(LinkType::Ethernet, &ip).unwrap();
        assert_eq!((l.ethertype, l.payload), (ETHERTYPE_IPV4, &[0x45u8][..]));
        // An Ethernet frame inside, itself tagged.
        let mut ethernet = MACS.to_vec();
        ethernet.extend_from_slice(&[0x89, 0x4f]);
        ethernet.extend_from_slice(&nsh(3));
        ethernet.extend_from_slice(&MACS);
        ethernet.extend_from_slice(&[0x81, 0x00, 0x00, 0x07, 0x86, 0xdd, 0x60]);
        let l = decode_link(LinkType::Ethernet, &ethernet).unwrap();
        assert_eq!(
            (l.ethertype, l.payload, l.vlan_tags),
            (ETHERTYPE_IPV6, &[0x60u8][..], 1)
        );
        // NSH in NSH … beyond the bound: not IP, no error.
        let mut deep = MACS.to_vec();
        deep.extend_from_slice(&[0x89, 0x4f]);
        for _ in 0..8 {
            deep.extend_from_slice(&nsh(3));
            deep.extend_from_slice(&MACS);
            deep.extend_from_slice(&[0x89, 0x4f]);
        }
        assert_eq!(decode_link(LinkType::Ethernet, &deep).unwrap().ethertype, 0);
        // Cut inside the header: an error naming the need.
        assert!(decode_link(LinkType::Ethernet, &ip[..15]).is_err());
    }

    #[test]
    fn cisco_hdlc_carries_an_ethertype() {
        // Unicast address 0x0f, control 0, then the EtherType.
        let l = decode_link(LinkType::CiscoHdlc, &[0x0f, 0x00, 0x86, 0xdd, 0x60]).unwrap();
        assert_eq!((l.ethertype, l.payload), (ETHERTYPE_IPV6, &[0x60u8][..]));
        assert_eq!(LinkType::from_linktype(104), Some(LinkType::CiscoHdlc));
        assert!(decode_link(LinkType::CiscoHdlc, &[0x8f, 0x00, 0x08]).is_err());
    }

    #[test]
    fn ppp_protocol_fields_of_two_bytes_and_compressed_to_one() {
        // A PPPoE session (version/type, code, session id, length), then the protocol:
        // 0x0021 in full, or 0x21 alone (RFC 1661 protocol-field compression).
        for (protocol, ethertype) in [
            (&[0x00, 0x21][..], ETHERTYPE_IPV4),
            (&[0x21][..], ETHERTYPE_IPV4),
            (&[0x57][..], ETHERTYPE_IPV6),
            (&[0xc0, 0x21][..], 0), // LCP: not IP
        ] {
            let mut f = MACS.to_vec();
            f.extend_from_slice(&[0x88, 0x64, 0x11, 0x00, 0x00, 0x01, 0x00, 0x10]);
            f.extend_from_slice(protocol);
            f.push(0x45);
            let l = decode_link(LinkType::Ethernet, &f).unwrap();
            assert_eq!(l.ethertype, ethertype, "{protocol:02x?}");
            if ethertype != 0 {
                assert_eq!(l.payload, &[0x45u8][..], "{protocol:02x?}");
            }
            let mut ppp = alloc::vec![0xff, 0x03];
            ppp.extend_from_slice(protocol);
            ppp.push(0x45);
            assert_eq!(
                decode_link(LinkType::PppHdlc, &ppp).unwrap().ethertype,
                ethertype
            );
        }
    }

    #[test]
    fn bsd_loopback_families_in_either_byte_order() {
        for (link, header, ethertype) in [
            (LinkType::Null, [2, 0, 0, 0], ETHERTYPE_IPV4), // little-endian writer
            (LinkType::Null, [0, 0, 0, 2], ETHERTYPE_IPV4), // big-endian writer
            (LinkType::Null, [30, 0, 0, 0], ETHERTYPE_IPV6), // macOS
            (LinkType::Null, [0, 0, 0, 24], ETHERTYPE_IPV6), // OpenBSD
            (LinkType::Null, [28, 0, 0, 0], ETHERTYPE_IPV6), // FreeBSD
            (LinkType::Loop, [0, 0, 0, 2], ETHERTYPE_IPV4),
            (LinkType::Loop, [0, 0, 0, 24], ETHERTYPE_IPV6),
            (LinkType::Null, [7, 0, 0, 0], 0), // not IP
        ] {
            let mut f = header.to_vec();
            f.push(0x45);
            let l = decode_link(link, &f).unwrap();
            assert_eq!(
                (l.ethertype, l.payload),
                (ethertype, &[0x45u8][..]),
                "{header:?}"
            );
        }
        // LOOP is network byte order only: a little-endian 2 is no family.
        assert_eq!(
            decode_link(LinkType::Loop, &[2, 0, 0, 0])
                .unwrap()
                .ethertype,
            0
        );
        assert!(matches!(
            decode_link(LinkType::Null, &[2, 0]),
            Err(LinkError::Truncated(_))
        ));
        assert_eq!(LinkType::from_linktype(0), Some(LinkType::Null));
        assert_eq!(LinkType::from_linktype(108), Some(LinkType::Loop));
    }

    #[test]
    fn wifi_frames_that_are_not_ip_and_odd_nflog_messages() {
        let mut beacon = alloc::vec![0x80, 0x00];
        beacon.extend_from_slice(&[0; 40]);
        assert_eq!(
            decode_link(LinkType::Ieee80211, &beacon).unwrap().ethertype,
            0
        );
        let mut protected = alloc::vec![0x08, 0x41];
        protected.extend_from_slice(&[0; 40]);
        assert_eq!(
            decode_link(LinkType::Ieee80211, &protected)
                .unwrap()
                .ethertype,
            0
        );
        assert!(matches!(
            decode_link(LinkType::Ieee80211, &[0x08, 0x01, 0, 0]),
            Err(LinkError::Truncated(_))
        ));
        // NFLOG: no payload TLV, a TLV shorter than its own header, a TLV cut short.
        assert_eq!(
            decode_link(LinkType::Nflog, &[2, 0, 0, 0, 8, 0, 10, 0, 1, 2, 3, 4])
                .unwrap()
                .ethertype,
            0
        );
        assert_eq!(
            decode_link(LinkType::Nflog, &[2, 0, 0, 0, 2, 0, 9, 0])
                .unwrap()
                .ethertype,
            0
        );
        assert!(matches!(
            decode_link(LinkType::Nflog, &[2, 0, 0, 0, 40, 0, 9, 0, 0x45]),
            Err(LinkError::Truncated(_))
        ));
        // PPP control protocols are not IP.
        assert_eq!(
            decode_link(LinkType::Ppp, &[0xc0, 0x21, 1])
                .unwrap()
                .ethertype,
            0
        );
        // MPLS over PPP (0x0281), as in tcpdump's mpls-traceroute capture: IPv4 under
        // one label.
        let mpls = [0xff, 0x03, 0x02, 0x81, 0x18, 0x96, 0x01, 0x01, 0x45, 0];
        let frame = decode_link(LinkType::PppHdlc, &mpls).unwrap();
        assert_eq!(
            (frame.ethertype, frame.payload),
            (ETHERTYPE_IPV4, &mpls[8..])
        );
    }

    #[test]
    fn stacked_qinq_and_dot1q() {
        let mut f = MACS.to_vec();
        f.extend_from_slice(&[
            0x88, 0xa8, 0x00, 0x64, 0x81, 0x00, 0x20, 0x0a, 0x86, 0xdd, 0x60,
        ]);
        let l = decode_link(LinkType::Ethernet, &f).unwrap();
        assert_eq!(l.ethertype, ETHERTYPE_IPV6);
        assert_eq!(l.vlan_tags, 2);
        assert_eq!(l.outer_vlan_id, Some(100));
        assert_eq!(l.payload, &[0x60]);
    }

    #[test]
    fn truncated_vlan_tag_is_an_error() {
        let mut f = MACS.to_vec();
        f.extend_from_slice(&[0x81, 0x00, 0x00]);
        assert_eq!(
            decode_link(LinkType::Ethernet, &f),
            Err(LinkError::TruncatedVlan(Truncated { need: 4, have: 1 }))
        );
    }

    #[test]
    fn linux_cooked_v1_and_v2() {
        let mut v1 = [0u8; 17];
        v1[14..16].copy_from_slice(&[0x08, 0x00]);
        assert_eq!(
            decode_link(LinkType::LinuxSll, &v1).unwrap().payload.len(),
            1
        );
        let mut v2 = [0u8; 21];
        v2[0..2].copy_from_slice(&[0x86, 0xdd]);
        let l = decode_link(LinkType::LinuxSll2, &v2).unwrap();
        assert_eq!((l.ethertype, l.payload.len()), (ETHERTYPE_IPV6, 1));
        assert!(matches!(
            decode_link(LinkType::LinuxSll2, &v2[..19]),
            Err(LinkError::Truncated(_))
        ));
    }

    #[test]
    fn raw_ip_by_version_nibble() {
        assert_eq!(
            decode_link(LinkType::Raw, &[0x45]).unwrap().ethertype,
            ETHERTYPE_IPV4
        );
        assert_eq!(
            decode_link(LinkType::Raw, &[0x60]).unwrap().ethertype,
            ETHERTYPE_IPV6
        );
        assert_eq!(
            decode_link(LinkType::Raw, &[0x50]),
            Err(LinkError::UnknownRawVersion(5))
        );
        assert!(decode_link(LinkType::Raw, &[]).is_err());
    }

    #[test]
    fn linktype_numbers_round_trip() {
        for t in LinkType::ALL {
            assert_eq!(LinkType::from_linktype(t.linktype()), Some(t));
        }
        assert_eq!(LinkType::from_linktype(189), None); // USB: not supported
    }

    #[test]
    fn ieee_802_3_length_is_not_an_ethertype() {
        let mut f = MACS.to_vec();
        f.extend_from_slice(&[0x00, 0x26, 0xaa]);
        assert_eq!(decode_link(LinkType::Ethernet, &f).unwrap().ethertype, 0);
    }
}
