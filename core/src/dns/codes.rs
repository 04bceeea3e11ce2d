//! The names Tracee prints for DNS code points: gopacket's `String()` of each, with opcode
//! and rcode lower-cased as Tracee does.

/// Record type name (`type`), or "Unknown".
pub fn type_name(rtype: u16) -> &'static str {
    match rtype {
        1 => "A",
        2 => "NS",
        3 => "MD",
        4 => "MF",
        5 => "CNAME",
        6 => "SOA",
        7 => "MB",
        8 => "MG",
        9 => "MR",
        10 => "NULL",
        11 => "WKS",
        12 => "PTR",
        13 => "HINFO",
        14 => "MINFO",
        15 => "MX",
        16 => "TXT",
        28 => "AAAA",
        33 => "SRV",
        41 => "OPT",
        256 => "URI",
        _ => "Unknown",
    }
}

/// Class name (`class`), or "Unknown".
pub fn class_name(class: u16) -> &'static str {
    match class {
        1 => "IN",
        2 => "CS",
        3 => "CH",
        4 => "HS",
        255 => "Any",
        _ => "Unknown",
    }
}

/// Opcode name (`opCode`).
pub fn opcode_name(opcode: u8) -> &'static str {
    match opcode {
        0 => "query",
        1 => "inverse query",
        2 => "status",
        4 => "notify",
        5 => "update",
        _ => "unknown",
    }
}

/// Response code name (`responseCode`). Code 2 keeps gopacket's trailing space.
pub fn rcode_name(rcode: u8) -> &'static str {
    match rcode {
        0 => "no error",
        1 => "format error",
        2 => "server failure ",
        3 => "non-existent domain",
        4 => "not implemented",
        5 => "query refused",
        6 => "name exists when it should not",
        7 => "rr set exists when it should not",
        8 => "rr set that should exist does not",
        9 => "server not authoritative for zone",
        10 => "name not contained in zone",
        16 => "bad opt version",
        17 => "key not recognized",
        18 => "signature out of time window",
        19 => "bad tkey mode",
        20 => "duplicate key name",
        21 => "algorithm not supported",
        22 => "bad truncation",
        23 => "bad cookie",
        _ => "unknown",
    }
}

/// EDNS0 option code name (`OPT[].code`), or "Unknown".
pub fn option_code_name(code: u16) -> &'static str {
    match code {
        3 => "NSID",
        5 => "DAU",
        6 => "DHU",
        7 => "N3U",
        8 => "EDNSClientSubnet",
        9 => "EDNSExpire",
        10 => "Cookie",
        11 => "EDNSKeepAlive",
        12 => "CodePadding",
        13 => "CodeChain",
        14 => "CodeEDNSKeyTag",
        16 => "EDNSClientTag",
        17 => "EDNSServerTag",
        26946 => "DeviceID",
        _ => "Unknown",
    }
}
