//! TCP (RFC 9293): header, flags and options.

use core::fmt;

use zerocopy::network_endian::{U16, U32};
use zerocopy::{FromBytes, Immutable, KnownLayout, Unaligned};

use crate::truncated::{Truncated, header_prefix};

/// The fixed 20-byte TCP header.
#[derive(Debug, FromBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct TcpHeader {
    /// Source port.
    pub src_port: U16,
    /// Destination port.
    pub dst_port: U16,
    /// Sequence number.
    pub seq: U32,
    /// Acknowledgment number.
    pub ack: U32,
    /// Data offset (4 bits), reserved (3 bits), NS (1 bit).
    pub offset_ns: u8,
    /// CWR ECE URG ACK PSH RST SYN FIN.
    pub flags: u8,
    /// Receive window (unscaled).
    pub window: U16,
    /// Checksum.
    pub checksum: U16,
    /// Urgent pointer.
    pub urgent: U16,
}

/// Length of the fixed TCP header.
pub const HEADER_LEN: usize = size_of::<TcpHeader>();

/// The flag bits of [`TcpHeader::flags`].
pub mod flag {
    /// No more data from sender.
    pub const FIN: u8 = 0x01;
    /// Synchronize sequence numbers.
    pub const SYN: u8 = 0x02;
    /// Reset the connection.
    pub const RST: u8 = 0x04;
    /// Push.
    pub const PSH: u8 = 0x08;
    /// Acknowledgment field is significant.
    pub const ACK: u8 = 0x10;
    /// Urgent pointer is significant.
    pub const URG: u8 = 0x20;
    /// ECN echo.
    pub const ECE: u8 = 0x40;
    /// Congestion window reduced.
    pub const CWR: u8 = 0x80;

    /// Every flag in bit order: the bit, Tracee's key, tcpdump's letter.
    pub const ALL: [(u8, &str, u8); 8] = [
        (FIN, "FIN", b'F'),
        (SYN, "SYN", b'S'),
        (RST, "RST", b'R'),
        (PSH, "PSH", b'P'),
        (ACK, "ACK", b'.'),
        (URG, "URG", b'U'),
        (ECE, "ECE", b'E'),
        (CWR, "CWR", b'W'),
    ];
}

/// A checked view of a TCP segment.
#[derive(Debug, Clone, Copy)]
pub struct TcpView<'a> {
    header: &'a TcpHeader,
    options: &'a [u8],
    payload: &'a [u8],
}

/// Why a TCP header could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpError {
    /// Fewer bytes than the header, or its options, need.
    Truncated(Truncated),
    /// Data offset below 5 words.
    BadDataOffset(u8),
}

impl TcpError {
    /// Stable short name, see [`crate::DecodeError::kind`].
    pub fn kind(&self) -> &'static str {
        match self {
            TcpError::Truncated(_) => "tcp.truncated",
            TcpError::BadDataOffset(_) => "tcp.bad_data_offset",
        }
    }
}

impl fmt::Display for TcpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TcpError::Truncated(t) => write!(f, "header {t}"),
            TcpError::BadDataOffset(o) => write!(f, "data offset {o} is below the minimum of 5"),
        }
    }
}

impl<'a> TcpView<'a> {
    /// Checks `bytes` as a TCP segment: the fixed header and all its options must be there.
    #[inline]
    pub fn parse(bytes: &'a [u8]) -> Result<Self, TcpError> {
        let (header, _) = header_prefix::<TcpHeader>(bytes).map_err(TcpError::Truncated)?;
        let data_offset = header.offset_ns >> 4;
        if data_offset < 5 {
            return Err(TcpError::BadDataOffset(data_offset));
        }
        let header_len = usize::from(data_offset) * 4;
        Truncated::check(header_len, bytes.len()).map_err(TcpError::Truncated)?;
        Ok(TcpView {
            header,
            options: &bytes[HEADER_LEN..header_len],
            payload: &bytes[header_len..],
        })
    }

    /// The fixed header.
    pub fn header(&self) -> &'a TcpHeader {
        self.header
    }
    /// Source port.
    #[inline]
    pub fn src_port(&self) -> u16 {
        self.header.src_port.get()
    }
    /// Destination port.
    #[inline]
    pub fn dst_port(&self) -> u16 {
        self.header.dst_port.get()
    }
    /// Sequence number (raw, not relative).
    pub fn seq(&self) -> u32 {
        self.header.seq.get()
    }
    /// Acknowledgment number (raw).
    pub fn ack(&self) -> u32 {
        self.header.ack.get()
    }
    /// Data offset in 32-bit words.
    pub fn data_offset(&self) -> u8 {
        self.header.offset_ns >> 4
    }
    /// The eight flag bits, see [`flag`].
    pub fn flags(&self) -> u8 {
        self.header.flags
    }
    /// True if `bit` (one of [`flag`]) is set.
    pub fn has(&self, bit: u8) -> bool {
        self.header.flags & bit != 0
    }
    /// The ECN-nonce bit (RFC 3540, historic).
    pub fn ns(&self) -> bool {
        self.header.offset_ns & 1 != 0
    }
    /// Receive window (unscaled).
    pub fn window(&self) -> u16 {
        self.header.window.get()
    }
    /// Checksum as carried.
    pub fn checksum(&self) -> u16 {
        self.header.checksum.get()
    }
    /// Urgent pointer.
    pub fn urgent(&self) -> u16 {
        self.header.urgent.get()
    }
    /// The segment's data, as captured.
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }
    /// The options, decoded one by one.
    pub fn options(&self) -> TcpOptions<'a> {
        TcpOptions { rest: self.options }
    }
}

/// One TCP option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpOption<'a> {
    /// Maximum segment size (kind 2).
    Mss(u16),
    /// Window scale shift (kind 3).
    WindowScale(u8),
    /// SACK permitted (kind 4).
    SackPermitted,
    /// SACK blocks (kind 5): pairs of 32-bit edges.
    Sack(&'a [u8]),
    /// Timestamps (kind 8).
    Timestamp {
        /// TSval.
        value: u32,
        /// TSecr.
        echo: u32,
    },
    /// Any other kind, with its data.
    Other {
        /// Option kind.
        kind: u8,
        /// Option data after kind and length.
        data: &'a [u8],
    },
}

/// A malformed TCP option: its length byte is missing, below 2, past the options area,
/// or wrong for its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpOptionError {
    /// The option kind.
    pub kind: u8,
}

impl fmt::Display for TcpOptionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed TCP option of kind {}", self.kind)
    }
}

/// Iterator over TCP options; padding (NOP) is skipped and end-of-list stops it. After a
/// malformed option it yields that error once and stops.
#[derive(Debug, Clone)]
pub struct TcpOptions<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for TcpOptions<'a> {
    type Item = Result<TcpOption<'a>, TcpOptionError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (&kind, after_kind) = self.rest.split_first()?;
            match kind {
                0 => {
                    self.rest = &[];
                    return None;
                }
                1 => {
                    self.rest = after_kind;
                    continue;
                }
                _ => {}
            }
            let error = TcpOptionError { kind };
            let len = match after_kind.first() {
                Some(&len) if len >= 2 && usize::from(len) <= self.rest.len() => usize::from(len),
                _ => {
                    self.rest = &[];
                    return Some(Err(error));
                }
            };
            let data = &self.rest[2..len];
            self.rest = &self.rest[len..];
            let option = match (kind, data.len()) {
                (2, 2) => TcpOption::Mss(u16::from_be_bytes([data[0], data[1]])),
                (3, 1) => TcpOption::WindowScale(data[0]),
                (4, 0) => TcpOption::SackPermitted,
                (5, n) if n % 8 == 0 && n > 0 => TcpOption::Sack(data),
                (8, 8) => TcpOption::Timestamp {
                    value: u32::from_be_bytes([data[0], data[1], data[2], data[3]]),
                    echo: u32::from_be_bytes([data[4], data[5], data[6], data[7]]),
                },
                (2..=5 | 8, _) => {
                    self.rest = &[];
                    return Some(Err(error));
                }
                _ => TcpOption::Other { kind, data },
            };
            return Some(Ok(option));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    // 51594 -> 8090 SYN, data offset 10, with the options Linux sends on a SYN.
    const SYN: [u8; 40] = [
        0xc9, 0x8a, 0x1f, 0x9a, 0x46, 0xd3, 0x5d, 0x1d, 0, 0, 0, 0, 0xa0, 0x02, 0xfa, 0xf0, 0x12,
        0x2c, 0, 0, // fixed header
        2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7,
    ];

    #[test]
    fn fields() {
        let t = TcpView::parse(&SYN).unwrap();
        assert_eq!(
            (t.src_port(), t.dst_port(), t.seq(), t.ack()),
            (51594, 8090, 1188257053, 0)
        );
        assert_eq!(
            (t.data_offset(), t.window(), t.checksum(), t.urgent()),
            (10, 64240, 4652, 0)
        );
        assert!(t.has(flag::SYN) && !t.has(flag::ACK) && !t.ns());
        assert!(t.payload().is_empty());
    }

    #[test]
    fn options() {
        let t = TcpView::parse(&SYN).unwrap();
        let opts: Vec<_> = t.options().collect();
        assert_eq!(
            opts,
            [
                Ok(TcpOption::Mss(1460)),
                Ok(TcpOption::SackPermitted),
                Ok(TcpOption::Timestamp { value: 1, echo: 0 }),
                Ok(TcpOption::WindowScale(7)),
            ]
        );
    }

    #[test]
    fn malformed_options_end_the_walk() {
        let bad = TcpOptions {
            rest: &[2, 9, 0, 0],
        };
        assert_eq!(bad.collect::<Vec<_>>(), [Err(TcpOptionError { kind: 2 })]);
        let zero_len = TcpOptions {
            rest: &[30, 0, 1, 1],
        };
        assert_eq!(
            zero_len.collect::<Vec<_>>(),
            [Err(TcpOptionError { kind: 30 })]
        );
        let wrong_size = TcpOptions {
            rest: &[3, 4, 1, 1, 30, 2],
        };
        assert_eq!(
            wrong_size.collect::<Vec<_>>(),
            [Err(TcpOptionError { kind: 3 })]
        );
        let unknown = TcpOptions {
            rest: &[30, 3, 7, 0, 2],
        };
        assert_eq!(
            unknown.collect::<Vec<_>>(),
            [Ok(TcpOption::Other {
                kind: 30,
                data: &[7]
            })]
        );
    }

    #[test]
    fn impossible_headers() {
        assert_eq!(
            TcpView::parse(&SYN[..30]).unwrap_err(),
            TcpError::Truncated(Truncated { need: 40, have: 30 })
        );
        assert!(matches!(
            TcpView::parse(&SYN[..19]),
            Err(TcpError::Truncated(_))
        ));
        let mut s = SYN;
        s[12] = 0x40;
        assert_eq!(TcpView::parse(&s).unwrap_err(), TcpError::BadDataOffset(4));
    }

    #[test]
    fn ns_and_cwr_bits() {
        let mut s = SYN;
        s[12] |= 1;
        s[13] = flag::CWR | flag::ECE | flag::ACK;
        let t = TcpView::parse(&s).unwrap();
        assert!(t.ns() && t.has(flag::CWR) && t.has(flag::ECE) && !t.has(flag::SYN));
    }
}
