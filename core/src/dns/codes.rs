//! DNS code points (IANA's record types, classes, opcodes, response codes and EDNS0
//! option codes) as newtypes over the wire integer, so an unknown value is representable.
//! Each is defined once, in one table: its constant, its number and the name Tracee
//! prints for it (gopacket's `String()`, with opcode and rcode lower-cased as Tracee does).

/// Defines a code-point newtype from a table of `CONSTANT = number => "name"`.
macro_rules! code_points {
    (
        $(#[$doc:meta])*
        $type:ident($int:ty), unknown $unknown:literal {
            $($(#[$const_doc:meta])* $constant:ident = $value:literal => $name:literal,)*
        }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $type(pub $int);

        impl $type {
            $($(#[$const_doc])* pub const $constant: $type = $type($value);)*

            /// The name Tracee prints for this code point.
            pub fn name(self) -> &'static str {
                match self.0 {
                    $($value => $name,)*
                    _ => $unknown,
                }
            }

            /// The IANA mnemonic (`NXDOMAIN`, `AAAA`), if the value is known.
            pub fn mnemonic(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some(stringify!($constant)),)*
                    _ => None,
                }
            }
        }
    };
}

code_points! {
    /// A record type (`type`, `query_type`, `answer_type`).
    RecordType(u16), unknown "Unknown" {
        /// IPv4 address.
        A = 1 => "A",
        /// Name server.
        NS = 2 => "NS",
        /// Mail destination (obsolete).
        MD = 3 => "MD",
        /// Mail forwarder (obsolete).
        MF = 4 => "MF",
        /// Canonical name.
        CNAME = 5 => "CNAME",
        /// Start of authority.
        SOA = 6 => "SOA",
        /// Mailbox domain name.
        MB = 7 => "MB",
        /// Mail group member.
        MG = 8 => "MG",
        /// Mail rename domain name.
        MR = 9 => "MR",
        /// Null record.
        NULL = 10 => "NULL",
        /// Well-known service.
        WKS = 11 => "WKS",
        /// Domain name pointer.
        PTR = 12 => "PTR",
        /// Host information.
        HINFO = 13 => "HINFO",
        /// Mailbox information.
        MINFO = 14 => "MINFO",
        /// Mail exchange.
        MX = 15 => "MX",
        /// Text strings.
        TXT = 16 => "TXT",
        /// IPv6 address.
        AAAA = 28 => "AAAA",
        /// Service locator.
        SRV = 33 => "SRV",
        /// Naming authority pointer (names beyond gopacket's from here on, so that
        /// modern records are not all "Unknown").
        NAPTR = 35 => "NAPTR",
        /// EDNS0 pseudo-record.
        OPT = 41 => "OPT",
        /// Delegation signer.
        DS = 43 => "DS",
        /// SSH key fingerprint.
        SSHFP = 44 => "SSHFP",
        /// DNSSEC signature.
        RRSIG = 46 => "RRSIG",
        /// Next secure record.
        NSEC = 47 => "NSEC",
        /// DNSSEC public key.
        DNSKEY = 48 => "DNSKEY",
        /// Hashed next secure record.
        NSEC3 = 50 => "NSEC3",
        /// TLS certificate association.
        TLSA = 52 => "TLSA",
        /// Service binding.
        SVCB = 64 => "SVCB",
        /// HTTPS service binding.
        HTTPS = 65 => "HTTPS",
        /// Uniform resource identifier.
        URI = 256 => "URI",
        /// Certification authority authorisation.
        CAA = 257 => "CAA",
    }
}

code_points! {
    /// A record class (`class`, `query_class`).
    Class(u16), unknown "Unknown" {
        /// Internet.
        IN = 1 => "IN",
        /// CSNET (obsolete).
        CS = 2 => "CS",
        /// Chaos.
        CH = 3 => "CH",
        /// Hesiod.
        HS = 4 => "HS",
        /// Any class (queries).
        ANY = 255 => "Any",
    }
}

code_points! {
    /// A message opcode (`opCode`).
    Opcode(u8), unknown "unknown" {
        /// Standard query.
        QUERY = 0 => "query",
        /// Inverse query (obsolete).
        IQUERY = 1 => "inverse query",
        /// Server status request.
        STATUS = 2 => "status",
        /// Zone change notification.
        NOTIFY = 4 => "notify",
        /// Dynamic update.
        UPDATE = 5 => "update",
    }
}

code_points! {
    /// A response code (`responseCode`). Code 2 keeps gopacket's trailing space.
    Rcode(u16), unknown "unknown" {
        /// No error.
        NOERROR = 0 => "no error",
        /// Format error.
        FORMERR = 1 => "format error",
        /// Server failure.
        SERVFAIL = 2 => "server failure ",
        /// Non-existent domain.
        NXDOMAIN = 3 => "non-existent domain",
        /// Not implemented.
        NOTIMP = 4 => "not implemented",
        /// Query refused.
        REFUSED = 5 => "query refused",
        /// Name exists when it should not.
        YXDOMAIN = 6 => "name exists when it should not",
        /// RR set exists when it should not.
        YXRRSET = 7 => "rr set exists when it should not",
        /// RR set that should exist does not.
        NXRRSET = 8 => "rr set that should exist does not",
        /// Server not authoritative for zone.
        NOTAUTH = 9 => "server not authoritative for zone",
        /// Name not contained in zone.
        NOTZONE = 10 => "name not contained in zone",
        /// Bad OPT version (extended rcode).
        BADVERS = 16 => "bad opt version",
        /// Key not recognised.
        BADKEY = 17 => "key not recognized",
        /// Signature out of time window.
        BADTIME = 18 => "signature out of time window",
        /// Bad TKEY mode.
        BADMODE = 19 => "bad tkey mode",
        /// Duplicate key name.
        BADNAME = 20 => "duplicate key name",
        /// Algorithm not supported.
        BADALG = 21 => "algorithm not supported",
        /// Bad truncation.
        BADTRUNC = 22 => "bad truncation",
        /// Bad or missing server cookie.
        BADCOOKIE = 23 => "bad cookie",
    }
}

code_points! {
    /// An EDNS0 option code (`OPT[].code`).
    OptionCode(u16), unknown "Unknown" {
        /// Name server identifier.
        NSID = 3 => "NSID",
        /// DNSSEC algorithm understood.
        DAU = 5 => "DAU",
        /// DS hash understood.
        DHU = 6 => "DHU",
        /// NSEC3 hash understood.
        N3U = 7 => "N3U",
        /// Client subnet.
        CLIENT_SUBNET = 8 => "EDNSClientSubnet",
        /// Zone expiry.
        EXPIRE = 9 => "EDNSExpire",
        /// Cookie.
        COOKIE = 10 => "Cookie",
        /// TCP keepalive.
        KEEPALIVE = 11 => "EDNSKeepAlive",
        /// Padding.
        PADDING = 12 => "CodePadding",
        /// CHAIN query.
        CHAIN = 13 => "CodeChain",
        /// Key tag.
        KEY_TAG = 14 => "CodeEDNSKeyTag",
        /// Client tag.
        CLIENT_TAG = 16 => "EDNSClientTag",
        /// Server tag.
        SERVER_TAG = 17 => "EDNSServerTag",
        /// Device id.
        DEVICE_ID = 26946 => "DeviceID",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_unknown_values() {
        assert_eq!(RecordType::AAAA, RecordType(28));
        assert_eq!(RecordType::URI.name(), "URI");
        assert_eq!(RecordType(65280).name(), "Unknown");
        assert_eq!(Class::ANY.name(), "Any");
        assert_eq!(Class(1232).name(), "Unknown");
        assert_eq!(Opcode(3).name(), "unknown");
        assert_eq!(Rcode::SERVFAIL.name(), "server failure ");
        assert_eq!(Rcode(11).name(), "unknown");
        assert_eq!(OptionCode::CLIENT_SUBNET.name(), "EDNSClientSubnet");
        assert_eq!(Rcode::NXDOMAIN.mnemonic(), Some("NXDOMAIN"));
        assert_eq!(Rcode(11).mnemonic(), None);
    }
}
