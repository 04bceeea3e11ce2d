//! Record data (RDATA) of the types netcore presents field by field: A, AAAA, CNAME, NS,
//! PTR, MX, SOA, TXT, SRV, OPT (EDNS0, RFC 6891) and URI (RFC 7553). Any other type is kept
//! as its raw bytes.

use core::ops::Range;

use super::DnsError;
use super::codes::{OptionCode, RecordType};
use super::name::{self, Name};

/// Decoded record data.
#[derive(Debug, Clone, Copy)]
pub enum RData<'a> {
    /// An IPv4 address.
    A([u8; 4]),
    /// An IPv6 address.
    Aaaa([u8; 16]),
    /// A canonical name.
    Cname(Name<'a>),
    /// A name server.
    Ns(Name<'a>),
    /// A pointer.
    Ptr(Name<'a>),
    /// A mail exchange.
    Mx {
        /// Lower is preferred.
        preference: u16,
        /// The exchange host.
        exchange: Name<'a>,
    },
    /// A start of authority.
    Soa {
        /// Primary name server.
        mname: Name<'a>,
        /// Responsible mailbox.
        rname: Name<'a>,
        /// Zone serial.
        serial: u32,
        /// Refresh interval.
        refresh: u32,
        /// Retry interval.
        retry: u32,
        /// Expiry.
        expire: u32,
        /// Negative-caching TTL.
        minimum: u32,
    },
    /// Character strings; iterate with [`TxtStrings`].
    Txt(TxtStrings<'a>),
    /// A service location.
    Srv {
        /// Lower is preferred.
        priority: u16,
        /// Load-balancing weight.
        weight: u16,
        /// Port.
        port: u16,
        /// Target host.
        target: Name<'a>,
    },
    /// EDNS0 options; iterate with [`OptOptions`].
    Opt(OptOptions<'a>),
    /// A URI.
    Uri {
        /// Lower is preferred.
        priority: u16,
        /// Load-balancing weight.
        weight: u16,
        /// The URI, raw.
        target: &'a [u8],
    },
    /// Any other type, raw; also empty RDATA of any type (dynamic-update messages,
    /// RFC 2136, delete records with no data).
    Other(&'a [u8]),
}

/// The `<character-string>`s of a TXT record (or of HINFO's CPU and OS, which gopacket,
/// and so Tracee, presents the same way).
#[derive(Debug, Clone, Copy)]
pub struct TxtStrings<'a> {
    rest: &'a [u8],
}

impl<'a> TxtStrings<'a> {
    fn check(rdata: &'a [u8], rtype: RecordType) -> Result<Self, DnsError> {
        let strings = TxtStrings { rest: rdata };
        let mut walk = strings;
        while !walk.rest.is_empty() {
            walk.next_string().ok_or(DnsError::BadRdata(rtype))?;
        }
        Ok(strings)
    }

    fn next_string(&mut self) -> Option<&'a [u8]> {
        let (&len, rest) = self.rest.split_first()?;
        let s = rest.get(..usize::from(len))?;
        self.rest = &rest[usize::from(len)..];
        Some(s)
    }
}

impl<'a> Iterator for TxtStrings<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        self.next_string()
    }
}

/// One EDNS0 option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptOption<'a> {
    /// Option code.
    pub code: OptionCode,
    /// Option data.
    pub data: &'a [u8],
}

/// The options of an OPT record.
#[derive(Debug, Clone, Copy)]
pub struct OptOptions<'a> {
    rest: &'a [u8],
}

impl<'a> OptOptions<'a> {
    fn check(rdata: &'a [u8]) -> Result<Self, DnsError> {
        let options = OptOptions { rest: rdata };
        let mut walk = options;
        while !walk.rest.is_empty() {
            walk.next_option()
                .ok_or(DnsError::BadRdata(RecordType::OPT))?;
        }
        Ok(options)
    }

    fn next_option(&mut self) -> Option<OptOption<'a>> {
        let [c0, c1, l0, l1, rest @ ..] = self.rest else {
            return None;
        };
        let len = usize::from(u16::from_be_bytes([*l0, *l1]));
        let data = rest.get(..len)?;
        self.rest = &rest[len..];
        Some(OptOption {
            code: OptionCode(u16::from_be_bytes([*c0, *c1])),
            data,
        })
    }
}

impl<'a> Iterator for OptOptions<'a> {
    type Item = OptOption<'a>;
    fn next(&mut self) -> Option<OptOption<'a>> {
        self.next_option()
    }
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Decodes the RDATA of a record of type `rtype` found at `message[rdata]`, checking it
/// (with the message's suffix cache) when `checking` is given; without it, the message was
/// checked already and names are taken as they are. A name inside RDATA may point anywhere
/// in the message, as any name may; its own bytes lie inside the RDATA.
#[inline(always)]
pub(super) fn parse<'a>(
    message: &'a [u8],
    rtype: RecordType,
    rdata: Range<usize>,
    mut checking: Option<&mut name::SuffixCache>,
) -> Result<RData<'a>, DnsError> {
    let (start, end) = (rdata.start, rdata.end);
    let rdata = &message[start..end];
    if rdata.is_empty() {
        return Ok(RData::Other(rdata));
    }
    let bad = DnsError::BadRdata(rtype);
    let checked = checking.is_none();
    // The name at `at`, and the offset after its own bytes.
    let mut name_at = |at: usize| -> Result<(Name<'a>, usize), DnsError> {
        let after = match checking.as_deref_mut() {
            Some(cache) => name::check(message, at, cache).map_err(DnsError::Name)?,
            None => name::skip(message, at).ok_or(bad)?,
        };
        if after > end {
            return Err(bad);
        }
        Ok((Name::checked_at(message, at), after))
    };
    // A name that must end exactly at the end of RDATA (a checked message's does).
    let mut whole_name = |at: usize| -> Result<Name<'a>, DnsError> {
        if checked {
            return Ok(Name::checked_at(message, start + at));
        }
        match name_at(start + at)? {
            (name, after) if after == end => Ok(name),
            _ => Err(bad),
        }
    };
    Ok(match rtype {
        RecordType::A => RData::A(rdata.try_into().map_err(|_| bad)?),
        RecordType::AAAA => RData::Aaaa(rdata.try_into().map_err(|_| bad)?),
        RecordType::CNAME => RData::Cname(whole_name(0)?),
        RecordType::NS => RData::Ns(whole_name(0)?),
        RecordType::PTR => RData::Ptr(whole_name(0)?),
        RecordType::MX => RData::Mx {
            preference: u16_at(rdata, 0).ok_or(bad)?,
            exchange: whole_name(2)?,
        },
        RecordType::SOA => {
            let (mname, after_m) = name_at(start)?;
            let (rname, after_r) = name_at(after_m)?;
            let numbers = &message[after_r..end];
            if numbers.len() != 20 {
                return Err(bad);
            }
            // Five numbers in exactly 20 bytes: each read is in bounds.
            let n = |i: usize| {
                let number = u32_at(numbers, 4 * i);
                debug_assert!(number.is_some());
                number.unwrap_or(0)
            };
            RData::Soa {
                mname,
                rname,
                serial: n(0),
                refresh: n(1),
                retry: n(2),
                expire: n(3),
                minimum: n(4),
            }
        }
        RecordType::TXT | RecordType::HINFO => RData::Txt(TxtStrings::check(rdata, rtype)?),
        RecordType::SRV => RData::Srv {
            priority: u16_at(rdata, 0).ok_or(bad)?,
            weight: u16_at(rdata, 2).ok_or(bad)?,
            port: u16_at(rdata, 4).ok_or(bad)?,
            target: whole_name(6)?,
        },
        RecordType::OPT => RData::Opt(OptOptions::check(rdata)?),
        RecordType::URI => RData::Uri {
            priority: u16_at(rdata, 0).ok_or(bad)?,
            weight: u16_at(rdata, 2).ok_or(bad)?,
            target: rdata.get(4..).ok_or(bad)?,
        },
        _ => RData::Other(rdata),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    /// `example.test` at offset 0, for RDATA to point at (0xc000).
    const NAME: &[u8] = b"\x07example\x04test\x00";

    /// Parses `rdata` of type `rtype` placed after [`NAME`], checking it.
    fn parse_after_name(rtype: RecordType, rdata: &[u8]) -> Result<RData<'static>, DnsError> {
        let message: &'static [u8] = [NAME, rdata].concat().leak();
        let range = NAME.len()..message.len();
        parse(
            message,
            rtype,
            range,
            Some(&mut name::SuffixCache::default()),
        )
    }

    fn text(name: Name<'_>) -> Vec<u8> {
        name.labels().collect::<Vec<_>>().join(&b'.')
    }

    #[test]
    fn addresses_have_exact_lengths() {
        assert!(matches!(
            parse_after_name(RecordType::A, &[192, 0, 2, 1]),
            Ok(RData::A([192, 0, 2, 1]))
        ));
        let v6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        assert!(matches!(parse_after_name(RecordType::AAAA, &v6), Ok(RData::Aaaa(a)) if a == v6));
        assert_eq!(
            parse_after_name(RecordType::A, &[192, 0, 2]).err(),
            Some(DnsError::BadRdata(RecordType::A))
        );
    }

    #[test]
    fn names_in_rdata_may_point_back() {
        let Ok(RData::Mx {
            preference,
            exchange,
        }) = parse_after_name(RecordType::MX, &[0, 10, 4, b'm', b'a', b'i', b'l', 0xc0, 0])
        else {
            panic!("MX");
        };
        assert_eq!(
            (preference, text(exchange)),
            (10, b"mail.example.test".to_vec())
        );
        let Ok(RData::Srv {
            priority,
            weight,
            port,
            target,
        }) = parse_after_name(RecordType::SRV, &[0, 1, 0, 2, 0x13, 0xc4, 0xc0, 0])
        else {
            panic!("SRV");
        };
        assert_eq!((priority, weight, port), (1, 2, 5060));
        assert_eq!(text(target), b"example.test");
        // A CNAME whose name runs past the RDATA's end is refused.
        assert_eq!(
            parse_after_name(RecordType::CNAME, &[0xc0, 0, 0]).err(),
            Some(DnsError::BadRdata(RecordType::CNAME))
        );
    }

    #[test]
    fn soa_has_two_names_and_twenty_bytes_of_numbers() {
        let mut rdata = vec![2, b'n', b's', 0xc0, 0, 0xc0, 0];
        for n in [2026_u32, 7200, 3600, 1_209_600, 300] {
            rdata.extend(n.to_be_bytes());
        }
        let Ok(RData::Soa {
            mname,
            rname,
            serial,
            refresh,
            retry,
            expire,
            minimum,
        }) = parse_after_name(RecordType::SOA, &rdata)
        else {
            panic!("SOA");
        };
        assert_eq!(text(mname), b"ns.example.test");
        assert_eq!(text(rname), b"example.test");
        assert_eq!(
            (serial, refresh, retry, expire, minimum),
            (2026, 7200, 3600, 1_209_600, 300)
        );
        rdata.pop();
        assert!(
            parse_after_name(RecordType::SOA, &rdata).is_err(),
            "19 bytes of numbers"
        );
    }

    #[test]
    fn txt_and_opt_are_walked_whole() {
        let Ok(RData::Txt(strings)) = parse_after_name(RecordType::TXT, b"\x02ab\x00\x01c") else {
            panic!("TXT");
        };
        assert_eq!(strings.collect::<Vec<_>>(), [&b"ab"[..], b"", b"c"]);
        assert!(
            parse_after_name(RecordType::TXT, b"\x03ab").is_err(),
            "a string past the end"
        );
        // EDNS: a cookie option (10) of 8 bytes, then padding (12) of none.
        let opt = [0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 12, 0, 0];
        let Ok(RData::Opt(options)) = parse_after_name(RecordType::OPT, &opt) else {
            panic!("OPT");
        };
        let options: Vec<_> = options.collect();
        assert_eq!(options.len(), 2);
        assert_eq!(
            (options[0].code, options[0].data),
            (OptionCode(10), &opt[4..12])
        );
        assert_eq!(
            (options[1].code, options[1].data.len()),
            (OptionCode(12), 0)
        );
        assert!(
            parse_after_name(RecordType::OPT, &opt[..15]).is_err(),
            "a cut option"
        );
    }

    #[test]
    fn uri_unknown_and_empty_rdata_are_kept_raw() {
        let Ok(RData::Uri {
            priority,
            weight,
            target,
        }) = parse_after_name(RecordType::URI, b"\x00\x01\x00\x02ftp://x/")
        else {
            panic!("URI");
        };
        assert_eq!((priority, weight, target), (1, 2, &b"ftp://x/"[..]));
        assert!(matches!(
            parse_after_name(RecordType(65280), &[1, 2, 3]),
            Ok(RData::Other([1, 2, 3]))
        ));
        assert!(matches!(
            parse_after_name(RecordType::MX, &[]),
            Ok(RData::Other([]))
        ));
    }
}
