//! The two Tracee JSON schemas netcore writes, as data: one encoder, two tables.
//!
//! - [`TRACEE_0_22`] is the reference page's format (Tracee up to v0.23): ids 2007–2015,
//!   C-style argument types (`const char*`, `u16`), a flat envelope.
//! - [`TRACEE_0_24`] is Tracee v0.24's (`pkg/events/core.go` and `types/trace` at tag
//!   v0.24.1): ids from 2000, Go-style types (`string`, `uint16`), a `metadata`
//!   (`trace.PacketMetadata{direction}`) argument on the seven packet events, and the
//!   envelope of v0.24's `trace.Event` (`executable`, `container`, `kubernetes`,
//!   `syscall`, entity ids).

use crate::event::EventKind;
use crate::flow::FlowKind;

/// One Tracee JSON schema: what differs between versions, nothing else.
#[derive(Debug, PartialEq, Eq)]
pub struct Schema {
    /// The name `--schema` takes.
    pub name: &'static str,
    /// Event ids, by [`EventKind::index`].
    ids: [&'static str; EventKind::ALL.len()],
    /// Flow event ids, by [`FlowKind::index`]; `net_flow` (2100), `net_dns_transaction`
    /// (2101) and `net_connect_failure` (2102) are netcore's own.
    flow_ids: [&'static str; FlowKind::ALL.len()],
    /// Type of 64-bit counters and times (`net_flow`).
    pub u64_type: &'static str,
    /// Type of lists of names (`src_dns`, `dst_dns`).
    pub names_type: &'static str,
    /// Type of signed 32-bit numbers (`net_connect_failure`'s ICMP type and code).
    pub int_type: &'static str,
    /// Type of byte strings (`net_packet_raw`'s `data`).
    pub bytes_type: &'static str,
    /// Type of the `src`/`dst` address arguments.
    pub address_type: &'static str,
    /// Type of the `src_port`/`dst_port` arguments.
    pub port_type: &'static str,
    /// Whether the packet events (all but the DNS request/response ones) carry the
    /// `metadata` argument with the packet's direction, before their `proto_*` argument.
    pub packet_metadata: bool,
    /// Whether the envelope is v0.24's `trace.Event`: `executable`, `container` and
    /// `kubernetes` objects in place of the flat container and pod strings, `syscall`,
    /// and the three entity ids.
    pub nested_envelope: bool,
}

impl Schema {
    /// The id of `kind`, as the string the JSON carries.
    pub fn id(&self, kind: EventKind) -> &'static str {
        self.ids[kind.index()]
    }

    /// The id of flow event `kind`.
    pub fn flow_id(&self, kind: FlowKind) -> &'static str {
        self.flow_ids[kind.index()]
    }

    /// The schema called `name`.
    pub fn by_name(name: &str) -> Option<&'static Schema> {
        SCHEMAS.into_iter().find(|s| s.name == name)
    }
}

/// Tracee ≤ v0.23, the reference page's format; the default.
pub const TRACEE_0_22: Schema = Schema {
    name: "tracee-0.22",
    ids: [
        "2007", "2008", "2009", "2010", "2011", "2012", "2013", "2014", "2015", "2016", "2017",
        "2018", "701",
    ],
    // The reference's numbering puts net_packet_ipv4 at 2007, seven after Tracee's
    // `iota + 2000` of v0.19–v0.23; the flow events keep that offset (2013 + 7, 2014 + 7).
    // net_tcp_connect: 2016 + 7.
    flow_ids: ["2100", "2020", "2021", "2102", "2101", "2023"],
    u64_type: "u64",
    names_type: "const char **",
    int_type: "int",
    // v0.23's core.go types net_packet_raw's data so.
    bytes_type: "bytes",
    address_type: "const char*",
    port_type: "u16",
    packet_metadata: false,
    nested_envelope: false,
};

/// Tracee v0.24.
pub const TRACEE_0_24: Schema = Schema {
    name: "tracee-0.24",
    ids: [
        "2000", "2001", "2002", "2003", "2004", "2005", "2006", "2007", "2008", "2009", "2010",
        "2011", "701",
    ],
    // v0.24.1's core.go: NetFlowTCPBegin 2013, NetFlowTCPEnd 2014, NetTCPConnect 2016;
    // NetPacketRaw is 701 in both (a common event, numbered from 700).
    flow_ids: ["2100", "2013", "2014", "2102", "2101", "2016"],
    u64_type: "uint64",
    names_type: "[]string",
    int_type: "int32",
    bytes_type: "[]byte",
    address_type: "string",
    port_type: "uint16",
    packet_metadata: true,
    nested_envelope: true,
};

/// Every schema, the default first.
pub const SCHEMAS: [&Schema; 2] = [&TRACEE_0_22, &TRACEE_0_24];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_the_event_order_of_each_version() {
        // v0.24 numbers the user-space events from 2000 in this order (core.go), and the
        // older versions from 2007.
        for (i, kind) in EventKind::ALL.into_iter().enumerate() {
            if kind == EventKind::Raw {
                assert_eq!((TRACEE_0_22.id(kind), TRACEE_0_24.id(kind)), ("701", "701"));
                continue;
            }
            assert_eq!(TRACEE_0_22.id(kind), alloc::format!("{}", 2007 + i));
            assert_eq!(TRACEE_0_24.id(kind), alloc::format!("{}", 2000 + i));
        }
        assert_eq!(Schema::by_name("tracee-0.24"), Some(&TRACEE_0_24));
        assert_eq!(Schema::by_name("tracee-0.25"), None);
    }
}
