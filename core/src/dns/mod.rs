//! DNS messages (RFC 1035 §4): header, question and the three record sections, read as
//! iterators over the original bytes. [`DnsMessage::parse`] checks the whole message
//! once (every name, every record's RDATA); afterwards walking it cannot fail.

mod codes;
pub mod name;
pub mod rdata;
#[cfg(feature = "alloc")]
pub mod tcp;

use core::fmt;

use zerocopy::network_endian::{U16, U32};
use zerocopy::{FromBytes, Immutable, KnownLayout, Unaligned};

pub use codes::{Class, Opcode, OptionCode, Rcode, RecordType};
pub use name::{Name, NameError};
pub use rdata::RData;

use crate::truncated::{Truncated, header_prefix};

/// The DNS port.
pub const PORT: u16 = 53;

/// The 12-byte DNS header.
#[derive(Debug, FromBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct DnsHeader {
    /// Query identifier.
    pub id: U16,
    /// QR, opcode, AA, TC, RD, RA, Z, rcode.
    pub flags: U16,
    /// Number of questions.
    pub qd_count: U16,
    /// Number of answer records.
    pub an_count: U16,
    /// Number of authority records.
    pub ns_count: U16,
    /// Number of additional records.
    pub ar_count: U16,
}

/// Length of the DNS header.
pub const HEADER_LEN: usize = size_of::<DnsHeader>();

/// The fixed part of a resource record after its name.
#[derive(Debug, FromBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
struct RecordFixed {
    rtype: U16,
    class: U16,
    ttl: U32,
    rdlength: U16,
}

/// Why a DNS message could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsError {
    /// Shorter than the header.
    Truncated(Truncated),
    /// A name is malformed.
    Name(NameError),
    /// A question or record's fixed fields run past the end.
    TruncatedRecord,
    /// A record's RDATA length runs past the end.
    RdataTooLong,
    /// The RDATA does not fit its type (the type number).
    BadRdata(RecordType),
}

impl DnsError {
    /// Stable short name, see [`crate::DecodeError::kind`].
    pub fn kind(&self) -> &'static str {
        match self {
            DnsError::Truncated(_) => "dns.truncated",
            DnsError::Name(_) => "dns.bad_name",
            DnsError::TruncatedRecord => "dns.truncated_record",
            DnsError::RdataTooLong => "dns.rdata_too_long",
            DnsError::BadRdata(_) => "dns.bad_rdata",
        }
    }
}

impl fmt::Display for DnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DnsError::Truncated(t) => write!(f, "header {t}"),
            DnsError::Name(e) => write!(f, "{e}"),
            DnsError::TruncatedRecord => f.write_str("question or record cut short"),
            DnsError::RdataTooLong => f.write_str("record data runs past the end of the message"),
            DnsError::BadRdata(t) => write!(f, "malformed data for record type {}", t.name()),
        }
    }
}

/// The sections in wire order.
const SECTIONS: [Section; 4] = [
    Section::Question,
    Section::Answer,
    Section::Authority,
    Section::Additional,
];

/// A section of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Section {
    /// The question section.
    Question,
    /// Answers.
    Answer,
    /// Authority records.
    Authority,
    /// Additional records.
    Additional,
}

/// A question.
#[derive(Debug, Clone, Copy)]
pub struct Question<'a> {
    /// The name asked about.
    pub name: Name<'a>,
    /// QTYPE.
    pub qtype: RecordType,
    /// QCLASS.
    pub qclass: Class,
}

/// A resource record.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// Owner name.
    pub name: Name<'a>,
    /// TYPE.
    pub rtype: RecordType,
    /// CLASS (the UDP payload size for OPT).
    pub class: Class,
    /// TTL (extended rcode and flags for OPT).
    pub ttl: u32,
    /// The raw RDATA.
    pub raw_data: &'a [u8],
    /// The message, and where the RDATA starts in it (names in RDATA may point back).
    message: &'a [u8],
    rdata_start: usize,
}

impl<'a> Record<'a> {
    /// The decoded RDATA. Decoded when asked, so that walking a message stays cheap; the
    /// message was checked, so this cannot fail.
    pub fn data(&self) -> RData<'a> {
        let len = self.raw_data.len();
        let data = rdata::parse(self.message, self.rtype, self.rdata_start, len, None);
        debug_assert!(data.is_ok(), "the RDATA of a checked message decodes");
        data.unwrap_or(RData::Other(self.raw_data))
    }
}

/// An entry of a message, in wire order.
#[derive(Debug, Clone, Copy)]
pub enum Entry<'a> {
    /// A question.
    Question(Question<'a>),
    /// A record and the section it is in.
    Record(Section, Record<'a>),
}

/// A checked DNS message.
#[derive(Debug, Clone, Copy)]
pub struct DnsMessage<'a> {
    bytes: &'a [u8],
    header: &'a DnsHeader,
    /// The upper 8 bits of the response code, from the OPT record's TTL (RFC 6891 §6.1.3);
    /// 0 without one.
    extended_rcode: u8,
}

impl<'a> DnsMessage<'a> {
    /// Checks `bytes` as one DNS message: header, every question and record, every name
    /// and RDATA. Bytes after the last record (padding) are ignored, as gopacket and
    /// hickory-proto ignore them.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, DnsError> {
        let (header, _) = header_prefix::<DnsHeader>(bytes).map_err(DnsError::Truncated)?;
        let mut message = DnsMessage {
            bytes,
            header,
            extended_rcode: 0,
        };
        let mut check = message.entries();
        check.checked = false;
        while check.advance() {
            if let Entry::Record(Section::Additional, r) = check.read()?
                && r.rtype == RecordType::OPT
            {
                message.extended_rcode = (r.ttl >> 24) as u8;
            }
        }
        Ok(message)
    }

    /// Query identifier.
    pub fn id(&self) -> u16 {
        self.header.id.get()
    }
    fn flag(&self, shift: u16, mask: u16) -> u16 {
        (self.header.flags.get() >> shift) & mask
    }
    /// QR: 0 for a query, 1 for a response.
    pub fn qr(&self) -> u8 {
        self.flag(15, 1) as u8
    }
    /// Opcode.
    pub fn opcode(&self) -> Opcode {
        Opcode(self.flag(11, 0xf) as u8)
    }
    /// Authoritative answer.
    pub fn aa(&self) -> u8 {
        self.flag(10, 1) as u8
    }
    /// Truncated.
    pub fn tc(&self) -> u8 {
        self.flag(9, 1) as u8
    }
    /// Recursion desired.
    pub fn rd(&self) -> u8 {
        self.flag(8, 1) as u8
    }
    /// Recursion available.
    pub fn ra(&self) -> u8 {
        self.flag(7, 1) as u8
    }
    /// The three Z bits (AD and CD included, as gopacket reports them).
    pub fn z(&self) -> u8 {
        self.flag(4, 7) as u8
    }
    /// Response code (the header's 4 bits).
    pub fn rcode(&self) -> Rcode {
        Rcode(self.flag(0, 0xf))
    }
    /// The response code: the header's 4 bits, extended by the OPT record's 8 when the
    /// message has one (BADVERS = 16 and up exist only so).
    pub fn response_code(&self) -> Rcode {
        Rcode(u16::from(self.extended_rcode) << 4 | self.flag(0, 0xf))
    }
    /// Number of questions.
    pub fn qd_count(&self) -> u16 {
        self.header.qd_count.get()
    }
    /// Number of answers.
    pub fn an_count(&self) -> u16 {
        self.header.an_count.get()
    }
    /// Number of authority records.
    pub fn ns_count(&self) -> u16 {
        self.header.ns_count.get()
    }
    /// Number of additional records.
    pub fn ar_count(&self) -> u16 {
        self.header.ar_count.get()
    }

    /// Every question and record, in wire order.
    pub fn entries(&self) -> Entries<'a> {
        Entries {
            message: self.bytes,
            offset: HEADER_LEN,
            section: Section::Question,
            remaining: [
                self.qd_count(),
                self.an_count(),
                self.ns_count(),
                self.ar_count(),
            ],
            checked: true,
            suffixes: name::SuffixCache::default(),
        }
    }

    /// The first question, if there is exactly one.
    pub fn single_question(&self) -> Option<Question<'a>> {
        if self.qd_count() != 1 {
            return None;
        }
        match self.entries().next() {
            Some(Entry::Question(q)) => Some(q),
            _ => None,
        }
    }
}

/// Iterator over the entries of a checked message.
#[derive(Debug, Clone)]
pub struct Entries<'a> {
    message: &'a [u8],
    offset: usize,
    section: Section,
    remaining: [u16; 4],
    /// The message was checked by [`DnsMessage::parse`]: names need no second check.
    checked: bool,
    /// Name suffixes checked so far, while checking.
    suffixes: name::SuffixCache,
}

impl<'a> Entries<'a> {
    /// Moves to the section of the next entry; false when there is none.
    fn advance(&mut self) -> bool {
        let Some(next) = (self.section as usize..4).find(|&i| self.remaining[i] > 0) else {
            return false;
        };
        self.section = SECTIONS[next];
        self.remaining[next] -= 1;
        true
    }

    fn read(&mut self) -> Result<Entry<'a>, DnsError> {
        let m = self.message;
        let (name, after_name) = if self.checked {
            let end = name::skip(m, self.offset).ok_or(DnsError::Name(NameError::Truncated))?;
            (Name::checked_at(m, self.offset), end)
        } else {
            Name::parse_with(m, self.offset, &mut self.suffixes).map_err(DnsError::Name)?
        };
        if self.section == Section::Question {
            let fixed = m
                .get(after_name..after_name + 4)
                .ok_or(DnsError::TruncatedRecord)?;
            self.offset = after_name + 4;
            return Ok(Entry::Question(Question {
                name,
                qtype: RecordType(u16::from_be_bytes([fixed[0], fixed[1]])),
                qclass: Class(u16::from_be_bytes([fixed[2], fixed[3]])),
            }));
        }
        let (fixed, _) = RecordFixed::ref_from_prefix(&m[after_name..])
            .map_err(|_| DnsError::TruncatedRecord)?;
        let start = after_name + size_of::<RecordFixed>();
        let len = usize::from(fixed.rdlength.get());
        if start + len > m.len() {
            return Err(DnsError::RdataTooLong);
        }
        let rtype = RecordType(fixed.rtype.get());
        if !self.checked {
            rdata::parse(m, rtype, start, len, Some(&mut self.suffixes))?;
        }
        self.offset = start + len;
        Ok(Entry::Record(
            self.section,
            Record {
                name,
                rtype,
                class: Class(fixed.class.get()),
                ttl: fixed.ttl.get(),
                raw_data: &m[start..start + len],
                message: m,
                rdata_start: start,
            },
        ))
    }
}

impl<'a> Iterator for Entries<'a> {
    type Item = Entry<'a>;

    fn next(&mut self) -> Option<Entry<'a>> {
        // The message was checked: reading cannot fail. Should it, the walk ends there
        // (and debug builds, the fuzzers', stop).
        if self.advance() {
            let entry = self.read();
            debug_assert!(entry.is_ok(), "an entry of a checked message reads");
            entry.ok()
        } else {
            None
        }
    }
}
