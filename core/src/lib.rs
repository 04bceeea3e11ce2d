//! netcore's decoder library: allocation-free views over link, network and transport
//! headers, the event model, and its Tracee-exact JSON encoding.
//!
//! The wire modules go `link` → `ipv4`/`ipv6` → `tcp`/`udp`/`icmp`/`icmpv6` (and `dns`),
//! driven by [`packet::decode`]; they import nothing of the event model. [`event`] decides
//! which events a decoded packet yields ([`event::PacketEvents`]), [`filter`] which of
//! them pass, and [`json::Encoder`] renders each as one Tracee JSON line.
//! [`abi`] holds the layouts shared with the kernel programs; without the default
//! `alloc` feature (as the eBPF build uses it) the crate is pure `core`.
//! Every view is built by a checked constructor: after it returns `Ok`, no accessor can
//! read out of bounds, and no input can make the decoder panic.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;

pub mod abi;
pub mod dns;
pub mod error;
pub mod event;
#[cfg(feature = "alloc")]
pub mod filter;
#[cfg(feature = "alloc")]
pub mod finding;
#[cfg(feature = "alloc")]
pub mod flow;
pub mod http;
pub mod icmp;
pub mod icmpv6;
pub mod ip;
pub mod ipv4;
pub mod ipv6;
#[cfg(feature = "alloc")]
pub mod json;
pub mod link;
#[cfg(feature = "alloc")]
pub mod owner;
#[cfg(feature = "alloc")]
pub mod owner_comment;
pub mod packet;
pub mod tcp;
pub mod tls;
pub mod truncated;
pub mod tunnel;
pub mod udp;

pub use error::DecodeError;
pub use event::{Direction, EventContext, EventKind, EventSet, PacketEvents};
pub use link::LinkType;
pub use packet::{Decoded, Network, Transport, decode};
pub use truncated::Truncated;
