//! ICMP for IPv4 (RFC 792), and the type/code naming shared with ICMPv6.

use zerocopy::network_endian::U16;
use zerocopy::{FromBytes, Immutable, KnownLayout, Unaligned};

use crate::truncated::{Truncated, header_prefix};

/// The 8-byte ICMP header.
#[derive(Debug, FromBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct IcmpHeader {
    /// Message type.
    pub icmp_type: u8,
    /// Message code.
    pub code: u8,
    /// Checksum.
    pub checksum: U16,
    /// Bytes 4–5: the identifier of echo messages.
    pub id: U16,
    /// Bytes 6–7: the sequence number of echo messages.
    pub seq: U16,
}

/// Length of the ICMP header.
pub const HEADER_LEN: usize = size_of::<IcmpHeader>();

/// A checked view of an ICMP message.
#[derive(Debug, Clone, Copy)]
pub struct IcmpView<'a> {
    header: &'a IcmpHeader,
    payload: &'a [u8],
}

impl<'a> IcmpView<'a> {
    /// Checks `bytes` as an ICMP message.
    #[inline]
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Truncated> {
        let (header, payload) = header_prefix::<IcmpHeader>(bytes)?;
        Ok(IcmpView { header, payload })
    }
    /// Message type.
    #[inline]
    pub fn icmp_type(&self) -> u8 {
        self.header.icmp_type
    }
    /// Message code.
    pub fn code(&self) -> u8 {
        self.header.code
    }
    /// Checksum as carried.
    pub fn checksum(&self) -> u16 {
        self.header.checksum.get()
    }
    /// Bytes 4–5, the echo identifier (whatever the type).
    pub fn id(&self) -> u16 {
        self.header.id.get()
    }
    /// Bytes 6–7, the echo sequence number (whatever the type).
    pub fn seq(&self) -> u16 {
        self.header.seq.get()
    }
    /// What follows the header.
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }
    /// The Tracee `typeCode` name.
    pub fn type_code(&self) -> TypeCodeName {
        type_code_name(self.icmp_type(), self.code())
    }
}

/// How Tracee (gopacket's `ICMPv4TypeCode.String()`) names a type and code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeCodeName {
    /// A known type whose code is 0 and has no names: `EchoReply`.
    Type(&'static str),
    /// A known type and code: `DestinationUnreachable(Port)`.
    TypeCode(&'static str, &'static str),
    /// A known type with a code it has no name for: `EchoReply(Code: 3)`.
    TypeUnknownCode(&'static str, u8),
    /// An unknown type: `143(0)`.
    Unknown(u8, u8),
}

impl core::fmt::Display for TypeCodeName {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            TypeCodeName::Type(t) => f.write_str(t),
            TypeCodeName::TypeCode(t, c) => write!(f, "{t}({c})"),
            TypeCodeName::TypeUnknownCode(t, c) => write!(f, "{t}(Code: {c})"),
            TypeCodeName::Unknown(t, c) => write!(f, "{t}({c})"),
        }
    }
}

/// A type's name and the names of its codes (index = code), as a table row.
pub(crate) type TypeInfo = (&'static str, &'static [&'static str]);

/// Names a type and code from a type table, the gopacket way.
pub(crate) fn name_from(info: Option<TypeInfo>, icmp_type: u8, code: u8) -> TypeCodeName {
    match info {
        None => TypeCodeName::Unknown(icmp_type, code),
        Some((name, [])) if code == 0 => TypeCodeName::Type(name),
        Some((name, codes)) => match codes.get(usize::from(code)) {
            Some(code_name) => TypeCodeName::TypeCode(name, code_name),
            None => TypeCodeName::TypeUnknownCode(name, code),
        },
    }
}

fn type_info(icmp_type: u8) -> Option<TypeInfo> {
    Some(match icmp_type {
        0 => ("EchoReply", &[]),
        3 => (
            "DestinationUnreachable",
            &[
                "Net",
                "Host",
                "Protocol",
                "Port",
                "FragmentationNeeded",
                "SourceRoutingFailed",
                "NetUnknown",
                "HostUnknown",
                "SourceIsolated",
                "NetAdminProhibited",
                "HostAdminProhibited",
                "NetTOS",
                "HostTOS",
                "CommAdminProhibited",
                "HostPrecedence",
                "PrecedenceCutoff",
            ],
        ),
        4 => ("SourceQuench", &[]),
        5 => ("Redirect", &["Net", "Host", "TOS+Net", "TOS+Host"]),
        8 => ("EchoRequest", &[]),
        9 => ("RouterAdvertisement", &[]),
        10 => ("RouterSolicitation", &[]),
        11 => (
            "TimeExceeded",
            &["TTLExceeded", "FragmentReassemblyTimeExceeded"],
        ),
        12 => (
            "ParameterProblem",
            &["PointerIndicatesError", "MissingOption", "BadLength"],
        ),
        13 => ("TimestampRequest", &[]),
        14 => ("TimestampReply", &[]),
        15 => ("InfoRequest", &[]),
        16 => ("InfoReply", &[]),
        17 => ("AddressMaskRequest", &[]),
        18 => ("AddressMaskReply", &[]),
        _ => return None,
    })
}

/// The Tracee `typeCode` name of an ICMPv4 type and code.
pub fn type_code_name(icmp_type: u8, code: u8) -> TypeCodeName {
    name_from(type_info(icmp_type), icmp_type, code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn echo_fields() {
        let m = [8, 0, 0x06, 0x38, 0x6b, 0xfe, 0, 1, 0xaa];
        let v = IcmpView::parse(&m).unwrap();
        assert_eq!(
            (v.icmp_type(), v.code(), v.checksum(), v.id(), v.seq()),
            (8, 0, 1592, 27646, 1)
        );
        assert_eq!(v.type_code(), TypeCodeName::Type("EchoRequest"));
        assert_eq!(v.payload(), &[0xaa]);
        assert_eq!(
            IcmpView::parse(&m[..7]).unwrap_err(),
            Truncated { need: 8, have: 7 }
        );
    }

    #[test]
    fn names_follow_gopacket() {
        let name = |t, c| type_code_name(t, c).to_string();
        assert_eq!(name(0, 0), "EchoReply");
        assert_eq!(name(0, 3), "EchoReply(Code: 3)");
        assert_eq!(name(3, 3), "DestinationUnreachable(Port)");
        assert_eq!(name(3, 15), "DestinationUnreachable(PrecedenceCutoff)");
        assert_eq!(name(3, 16), "DestinationUnreachable(Code: 16)");
        assert_eq!(name(5, 2), "Redirect(TOS+Net)");
        assert_eq!(name(11, 0), "TimeExceeded(TTLExceeded)");
        assert_eq!(name(42, 7), "42(7)");
    }
}
