//! ICMPv6 (RFC 4443) and neighbour discovery type names.

use zerocopy::network_endian::U16;
use zerocopy::{FromBytes, Immutable, KnownLayout, Unaligned};

use crate::icmp::{TypeCodeName, TypeInfo, name_from};
use crate::truncated::{Truncated, header_prefix};

/// The 4-byte ICMPv6 header.
#[derive(Debug, FromBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct Icmpv6Header {
    /// Message type.
    pub icmp_type: u8,
    /// Message code.
    pub code: u8,
    /// Checksum.
    pub checksum: U16,
}

/// Length of the ICMPv6 header.
pub const HEADER_LEN: usize = size_of::<Icmpv6Header>();

/// The neighbour-discovery message types (router solicitation to redirect, RFC 4861):
/// a link stops working without them.
pub const NEIGHBOR_DISCOVERY: core::ops::RangeInclusive<u8> = 133..=137;

/// A checked view of an ICMPv6 message.
#[derive(Debug, Clone, Copy)]
pub struct Icmpv6View<'a> {
    header: &'a Icmpv6Header,
    body: &'a [u8],
}

impl<'a> Icmpv6View<'a> {
    /// Checks `bytes` as an ICMPv6 message.
    #[inline]
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Truncated> {
        let (header, body) = header_prefix::<Icmpv6Header>(bytes)?;
        Ok(Icmpv6View { header, body })
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
    /// The message body after type, code and checksum.
    pub fn body(&self) -> &'a [u8] {
        self.body
    }
    /// The Tracee `typeCode` name.
    pub fn type_code(&self) -> TypeCodeName {
        type_code_name(self.icmp_type(), self.code())
    }
}

fn type_info(icmp_type: u8) -> Option<TypeInfo> {
    Some(match icmp_type {
        1 => (
            "DestinationUnreachable",
            &[
                "NoRouteToDst",
                "AdminProhibited",
                "BeyondScopeOfSrc",
                "AddressUnreachable",
                "PortUnreachable",
                "SrcAddressFailedPolicy",
                "RejectRouteToDst",
            ],
        ),
        2 => ("PacketTooBig", &[]),
        3 => (
            "TimeExceeded",
            &["HopLimitExceeded", "FragmentReassemblyTimeExceeded"],
        ),
        4 => (
            "ParameterProblem",
            &[
                "ErroneousHeaderField",
                "UnrecognizedNextHeader",
                "UnrecognizedIPv6Option",
            ],
        ),
        128 => ("EchoRequest", &[]),
        129 => ("EchoReply", &[]),
        133 => ("RouterSolicitation", &[]),
        134 => ("RouterAdvertisement", &[]),
        135 => ("NeighborSolicitation", &[]),
        136 => ("NeighborAdvertisement", &[]),
        137 => ("Redirect", &[]),
        _ => return None,
    })
}

/// The Tracee `typeCode` name of an ICMPv6 type and code.
pub fn type_code_name(icmp_type: u8, code: u8) -> TypeCodeName {
    name_from(type_info(icmp_type), icmp_type, code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn fields_and_names() {
        let v = Icmpv6View::parse(&[128, 0, 0x62, 0x0b, 1]).unwrap();
        assert_eq!(
            (v.icmp_type(), v.code(), v.checksum(), v.body()),
            (128, 0, 25099, &[1u8][..])
        );
        assert_eq!(v.type_code().to_string(), "EchoRequest");
        assert_eq!(
            type_code_name(1, 4).to_string(),
            "DestinationUnreachable(PortUnreachable)"
        );
        assert_eq!(type_code_name(143, 0).to_string(), "143(0)");
        assert_eq!(type_code_name(2, 1).to_string(), "PacketTooBig(Code: 1)");
        assert!(Icmpv6View::parse(&[128, 0, 0]).is_err());
    }
}
