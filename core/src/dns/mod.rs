//! DNS messages (RFC 1035 §4): header, question and the three record sections, read as
//! iterators over the original bytes. [`DnsMessage::parse`] checks the whole message in one
//! pass (every name, every record's RDATA) and keeps where its entries lie; afterwards
//! walking it cannot fail and skips no names again.

mod codes;
pub mod name;
pub mod rdata;
#[cfg(feature = "alloc")]
pub mod tcp;

use core::fmt;
use core::ops::Range;

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

impl DnsHeader {
    /// The four section counts, in wire order.
    fn counts(&self) -> [u16; 4] {
        [
            self.qd_count.get(),
            self.an_count.get(),
            self.ns_count.get(),
            self.ar_count.get(),
        ]
    }
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
    /// Where the RDATA starts in the message (which names in RDATA may point into).
    rdata_start: usize,
}

impl<'a> Record<'a> {
    /// The decoded RDATA. Decoded when asked, so that walking a message stays cheap; the
    /// message was checked, so this cannot fail.
    #[inline]
    pub fn data(&self) -> RData<'a> {
        let end = self.rdata_start + self.raw_data.len();
        let data = rdata::parse(self.name.message(), self.rtype, self.rdata_start..end, None);
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

/// Entries (questions and records) whose positions a [`DnsMessage`] keeps; later entries
/// of a larger message are found again by skipping over the ones before them.
pub const RECORDED_ENTRIES: usize = 16;

/// A checked DNS message.
#[derive(Debug, Clone, Copy)]
pub struct DnsMessage<'a> {
    bytes: &'a [u8],
    header: &'a DnsHeader,
    /// The upper 8 bits of the response code, from the OPT record's TTL (RFC 6891 §6.1.3);
    /// 0 without one.
    extended_rcode: u8,
    /// How many of `fixed_at` are set.
    recorded: u8,
    /// Where the fixed fields (after the name) of each of the first entries start, as the
    /// check found them: walking the message again reads them without skipping names.
    fixed_at: [u16; RECORDED_ENTRIES],
    /// The entries of each section that are whole: the header's counts, or fewer in a
    /// message cut short.
    counts: [u16; 4],
    /// Why the message ends before the entries its header announces, if it does.
    cut_short: Option<DnsError>,
}

impl<'a> DnsMessage<'a> {
    /// Checks `bytes` as one DNS message in one pass: header, every question and record,
    /// every name and RDATA. Bytes after the last record (padding) are ignored, as gopacket
    /// and hickory-proto ignore them. A message cut short or malformed after its header is
    /// an error here; [`DnsMessage::parse_partial`] keeps what comes before the fault.
    #[inline(always)]
    pub fn parse(bytes: &'a [u8]) -> Result<Self, DnsError> {
        let (header, _) = header_prefix::<DnsHeader>(bytes).map_err(DnsError::Truncated)?;
        let mut fixed_at = [0; RECORDED_ENTRIES];
        let mut recorded = 0;
        let mut extended_rcode = 0;
        let mut suffixes = name::SuffixCache::default();
        let mut offset = HEADER_LEN;
        for (section, count) in SECTIONS.into_iter().zip(header.counts()) {
            for _ in 0..count {
                let (fixed, next) =
                    check_entry(bytes, section, offset, &mut suffixes, &mut extended_rcode)?;
                if let (Some(slot), Ok(at)) = (
                    fixed_at.get_mut(usize::from(recorded)),
                    u16::try_from(fixed),
                ) {
                    *slot = at;
                    recorded += 1;
                }
                offset = next;
            }
        }
        Ok(DnsMessage {
            bytes,
            header,
            extended_rcode,
            recorded,
            fixed_at,
            counts: header.counts(),
            cut_short: None,
        })
    }

    /// [`DnsMessage::parse`], keeping a message whose entries end early (a reply cut by
    /// the snap length, a malformed OPT record): its header and the whole entries before
    /// the fault, as tshark shows them, with the fault in [`DnsMessage::cut_short`]. Fails
    /// only when the header itself is cut short.
    #[inline(always)]
    pub fn parse_partial(bytes: &'a [u8]) -> Result<Self, DnsError> {
        match Self::parse(bytes) {
            Err(DnsError::Truncated(header)) => Err(DnsError::Truncated(header)),
            Err(_) => {
                let (header, _) = header_prefix::<DnsHeader>(bytes).map_err(DnsError::Truncated)?;
                Ok(Self::cut_short_at_fault(bytes, header))
            }
            whole => whole,
        }
    }

    /// The message of `bytes` whose entries end at a fault: walked again (out of the
    /// whole messages' way) up to it, counting the whole entries of each section.
    #[cold]
    #[inline(never)]
    fn cut_short_at_fault(bytes: &'a [u8], header: &'a DnsHeader) -> Self {
        let mut message = DnsMessage {
            bytes,
            header,
            extended_rcode: 0,
            recorded: 0,
            fixed_at: [0; RECORDED_ENTRIES],
            counts: [0; 4],
            cut_short: None,
        };
        let mut suffixes = name::SuffixCache::default();
        let mut offset = HEADER_LEN;
        for (i, (section, count)) in SECTIONS.into_iter().zip(header.counts()).enumerate() {
            for _ in 0..count {
                let entry = check_entry(
                    bytes,
                    section,
                    offset,
                    &mut suffixes,
                    &mut message.extended_rcode,
                );
                let (fixed, next) = match entry {
                    Ok(entry) => entry,
                    Err(e) => {
                        message.cut_short = Some(e);
                        return message;
                    }
                };
                if let (Some(slot), Ok(at)) = (
                    message.fixed_at.get_mut(usize::from(message.recorded)),
                    u16::try_from(fixed),
                ) {
                    *slot = at;
                    message.recorded += 1;
                }
                message.counts[i] += 1;
                offset = next;
            }
        }
        message
    }

    /// Why the message ends before the entries its header announces (only a message of
    /// [`DnsMessage::parse_partial`] can).
    pub fn cut_short(&self) -> Option<DnsError> {
        self.cut_short
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
    pub fn entries(&self) -> Entries<'_, 'a> {
        Entries {
            message: self,
            offset: HEADER_LEN,
            index: 0,
            section: 0,
            remaining: self.counts,
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

/// Checks the entry of `section` at `offset` of `message` (an OPT record's extended
/// response code goes to `extended_rcode`); returns where its fixed fields start and the
/// offset after it.
#[inline(always)]
fn check_entry(
    message: &[u8],
    section: Section,
    offset: usize,
    suffixes: &mut name::SuffixCache,
    extended_rcode: &mut u8,
) -> Result<(usize, usize), DnsError> {
    let fixed = name::check(message, offset, suffixes).map_err(DnsError::Name)?;
    if section == Section::Question {
        if fixed + 4 > message.len() {
            return Err(DnsError::TruncatedRecord);
        }
        return Ok((fixed, fixed + 4));
    }
    let (fields, rdata) = record_fields(message, fixed)?;
    let rtype = RecordType(fields.rtype.get());
    rdata::parse(message, rtype, rdata.clone(), Some(suffixes))?;
    if section == Section::Additional && rtype == RecordType::OPT {
        *extended_rcode = (fields.ttl.get() >> 24) as u8;
    }
    Ok((fixed, rdata.end))
}

/// A record's fixed fields at `fixed`, and where its RDATA lies; checks that they and the
/// RDATA fit in `message`.
fn record_fields(message: &[u8], fixed: usize) -> Result<(&RecordFixed, Range<usize>), DnsError> {
    let (fields, _) = RecordFixed::ref_from_prefix(message.get(fixed..).unwrap_or_default())
        .map_err(|_| DnsError::TruncatedRecord)?;
    let start = fixed + size_of::<RecordFixed>();
    let end = start + usize::from(fields.rdlength.get());
    if end > message.len() {
        return Err(DnsError::RdataTooLong);
    }
    Ok((fields, start..end))
}

/// Iterator over the entries of a checked message.
#[derive(Debug, Clone)]
pub struct Entries<'m, 'a> {
    message: &'m DnsMessage<'a>,
    /// Where the next entry's name starts.
    offset: usize,
    /// The next entry's number.
    index: usize,
    /// The section of the next entry, as an index into [`SECTIONS`].
    section: usize,
    /// Entries not yet read, per section.
    remaining: [u16; 4],
}

impl<'a> Iterator for Entries<'_, 'a> {
    type Item = Entry<'a>;

    #[inline]
    fn next(&mut self) -> Option<Entry<'a>> {
        while *self.remaining.get(self.section)? == 0 {
            self.section += 1;
        }
        self.remaining[self.section] -= 1;
        let message = self.message;
        let m = message.bytes;
        // The message was checked: each read below succeeds. Should one fail, the walk ends
        // there (and debug builds, the fuzzers', stop).
        let fixed = match message.fixed_at.get(self.index) {
            Some(&at) if self.index < usize::from(message.recorded) => usize::from(at),
            _ => name::skip(m, self.offset)?,
        };
        let name = Name::checked_at(m, self.offset);
        self.index += 1;
        let section = SECTIONS[self.section];
        if section == Section::Question {
            let fields = m.get(fixed..fixed + 4);
            debug_assert!(fields.is_some(), "a question of a checked message reads");
            let &[t0, t1, c0, c1] = fields? else {
                return None;
            };
            self.offset = fixed + 4;
            return Some(Entry::Question(Question {
                name,
                qtype: RecordType(u16::from_be_bytes([t0, t1])),
                qclass: Class(u16::from_be_bytes([c0, c1])),
            }));
        }
        let read = record_fields(m, fixed);
        debug_assert!(read.is_ok(), "a record of a checked message reads");
        let (fields, rdata) = read.ok()?;
        let raw_data = m.get(rdata.clone())?;
        self.offset = rdata.end;
        Some(Entry::Record(
            section,
            Record {
                name,
                rtype: RecordType(fields.rtype.get()),
                class: Class(fields.class.get()),
                ttl: fields.ttl.get(),
                raw_data,
                rdata_start: rdata.start,
            },
        ))
    }
}

/// The data of a DNS answer as the text encoders and `net_dns_transaction` write it: the address, the name (with
/// `:port` for SRV), the quoted TXT strings, else its size.
#[cfg(feature = "alloc")]
pub struct AnswerText<'r, 'a>(pub &'r Record<'a>);

#[cfg(feature = "alloc")]
impl fmt::Display for AnswerText<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut name = [0; name::MAX_PRESENTATION_LEN];
        match self.0.data() {
            RData::A(a) => write!(f, "{}", core::net::Ipv4Addr::from(a)),
            RData::Aaaa(a) => write!(f, "{}", core::net::Ipv6Addr::from(a)),
            RData::Cname(n) | RData::Ns(n) | RData::Ptr(n) | RData::Mx { exchange: n, .. } => {
                f.write_str(n.presentation(&mut name).unwrap_or("?"))
            }
            RData::Srv { port, target, .. } => {
                write!(
                    f,
                    "{}:{port}",
                    target.presentation(&mut name).unwrap_or("?")
                )
            }
            RData::Txt(strings) => {
                for (i, s) in strings.enumerate() {
                    let sep = if i == 0 { "" } else { " " };
                    write!(
                        f,
                        "{sep}\"{}\"",
                        alloc::string::String::from_utf8_lossy(s).escape_debug()
                    )?;
                }
                Ok(())
            }
            _ => write!(f, "({} bytes)", self.0.raw_data.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;
    use alloc::vec::Vec;

    /// A response to an A query for "a.test" with `answers` A records, each named by a
    /// pointer to the question, with TTL i and address 10.0.0.i.
    fn response_with_answers(answers: u8) -> Vec<u8> {
        let mut m = alloc::vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, answers, 0, 0, 0, 0];
        m.extend_from_slice(b"\x01a\x04test\x00\x00\x01\x00\x01");
        for i in 0..answers {
            m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, i, 0, 4, 10, 0, 0, i]);
        }
        m
    }

    fn name_text(name: &Name<'_>) -> String {
        let mut buf = [0; name::MAX_PRESENTATION_LEN];
        String::from(name.presentation(&mut buf).unwrap())
    }

    #[test]
    fn entries_past_the_recorded_ones_read_alike() {
        let answers = RECORDED_ENTRIES as u8 * 2 + 3;
        let m = response_with_answers(answers);
        let message = DnsMessage::parse(&m).unwrap();
        let mut entries = message.entries();
        assert!(
            matches!(entries.next(), Some(Entry::Question(q)) if name_text(&q.name) == "a.test")
        );
        for i in 0..answers {
            let Some(Entry::Record(Section::Answer, r)) = entries.next() else {
                panic!("answer {i} is missing");
            };
            assert_eq!(
                (name_text(&r.name).as_str(), r.ttl),
                ("a.test", u32::from(i))
            );
            assert!(matches!(r.data(), RData::A([10, 0, 0, a]) if a == i));
        }
        assert!(entries.next().is_none());
    }

    #[test]
    fn a_name_pointed_at_forwards_is_read_from_its_own_bytes() {
        // Two answers: the first named by a pointer forwards to the second's name,
        // "b" + a pointer to the question. Checking the first teaches the suffix cache
        // where the second starts; the second must still end after its own pointer.
        let mut m = alloc::vec![0, 1, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0];
        m.extend_from_slice(b"\x01a\x04test\x00\x00\x01\x00\x01");
        let second = m.len() + 16;
        m.extend_from_slice(&[
            0xc0,
            second as u8,
            0,
            1,
            0,
            1,
            0,
            0,
            0,
            7,
            0,
            4,
            10,
            0,
            0,
            1,
        ]);
        m.extend_from_slice(b"\x01b\xc0\x0c");
        m.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 9, 0, 4, 10, 0, 0, 2]);
        let message = DnsMessage::parse(&m).unwrap();
        let read: Vec<(String, u32, RData<'_>)> = message
            .entries()
            .filter_map(|e| match e {
                Entry::Record(_, r) => Some((name_text(&r.name), r.ttl, r.data())),
                Entry::Question(_) => None,
            })
            .collect();
        assert_eq!(read.len(), 2);
        assert_eq!((read[0].0.as_str(), read[0].1), ("b.a.test", 7));
        assert_eq!((read[1].0.as_str(), read[1].1), ("b.a.test", 9));
        assert!(matches!(read[1].2, RData::A([10, 0, 0, 2])));
    }

    #[test]
    fn a_name_in_rdata_may_point_to_a_later_record() {
        // A CNAME whose target points forwards to the third answer's name, which the first
        // answer's name pointed at before: the target reads from the message, not only
        // from the bytes up to the end of its RDATA.
        let mut m = alloc::vec![0, 1, 0x81, 0x80, 0, 1, 0, 3, 0, 0, 0, 0];
        m.extend_from_slice(b"\x01a\x04test\x00\x00\x01\x00\x01");
        let third = m.len() + 16 + 14;
        m.extend_from_slice(&[0xc0, third as u8, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 10, 0, 0, 1]);
        m.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 2, 0, 2, 0xc0, third as u8]);
        m.extend_from_slice(b"\x01x\xc0\x0c");
        m.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 3, 0, 4, 10, 0, 0, 3]);
        let message = DnsMessage::parse(&m).unwrap();
        let cname = message.entries().find_map(|e| match e {
            Entry::Record(_, r) => match r.data() {
                RData::Cname(target) => Some(name_text(&target)),
                _ => None,
            },
            Entry::Question(_) => None,
        });
        assert_eq!(cname.as_deref(), Some("x.a.test"));
    }

    #[test]
    fn a_name_in_rdata_ends_inside_it() {
        // A CNAME of RDATA length 2 whose name's labels run on past it.
        let mut m = alloc::vec![0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
        m.extend_from_slice(b"\x01a\x04test\x00\x00\x01\x00\x01");
        m.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 2, 0, 2]);
        m.extend_from_slice(b"\x01x\x00");
        assert_eq!(
            DnsMessage::parse(&m).err(),
            Some(DnsError::BadRdata(RecordType::CNAME))
        );
    }

    #[test]
    fn a_fault_after_many_good_entries_is_reported() {
        let mut m = response_with_answers(20);
        m.truncate(m.len() - 1);
        assert_eq!(DnsMessage::parse(&m).err(), Some(DnsError::RdataTooLong));
    }

    #[test]
    fn a_message_cut_short_keeps_its_whole_entries() {
        // A snapped reply: 20 answers announced, the last one's RDATA cut off.
        let mut m = response_with_answers(20);
        m.truncate(m.len() - 1);
        let message = DnsMessage::parse_partial(&m).expect("the header is whole");
        assert_eq!(message.cut_short(), Some(DnsError::RdataTooLong));
        assert_eq!(message.an_count(), 20, "the header says what it says");
        let answers = message
            .entries()
            .filter(|e| matches!(e, Entry::Record(Section::Answer, _)))
            .count();
        assert_eq!((message.entries().count(), answers), (20, 19));
        // A malformed OPT record in the additional section: question and answer stay.
        let mut m = alloc::vec![0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 1];
        m.extend_from_slice(b"\x01a\x04test\x00\x00\x01\x00\x01");
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 7, 0, 4, 10, 0, 0, 1]);
        // OPT with an option whose length runs past its RDATA.
        m.extend_from_slice(&[0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 5, 0, 10, 0, 9, 1]);
        assert!(DnsMessage::parse(&m).is_err());
        let message = DnsMessage::parse_partial(&m).unwrap();
        assert_eq!(
            message.cut_short(),
            Some(DnsError::BadRdata(RecordType::OPT))
        );
        let kinds: Vec<Option<Section>> = message
            .entries()
            .map(|e| match e {
                Entry::Question(_) => None,
                Entry::Record(section, _) => Some(section),
            })
            .collect();
        assert_eq!(kinds, [None, Some(Section::Answer)]);
        // Only a cut header is an error.
        assert!(DnsMessage::parse_partial(&m[..11]).is_err());
    }
}
