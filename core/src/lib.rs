//! netcore's decoder library: allocation-free views over link, network and transport
//! headers, the event model, and its Tracee-exact JSON encoding.
//!
//! The pipeline is `link` → `ipv4`/`ipv6` → `tcp`/`udp`/`icmp`/`icmpv6`, driven by
//! [`packet::decode`], then [`json::encode_events`] renders one JSON line per decoded layer.
//! [`record`] holds the layouts shared with the kernel programs; without the default
//! `alloc` feature (as the eBPF build uses it) the crate is pure `core`.
//! Every view is built by a checked constructor: after it returns `Ok`, no accessor can
//! read out of bounds, and no input can make the decoder panic.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;

pub mod dns;
pub mod error;
pub mod event;
#[cfg(feature = "alloc")]
pub mod filter;
pub mod icmp;
pub mod icmpv6;
pub mod ip;
pub mod ipv4;
pub mod ipv6;
#[cfg(feature = "alloc")]
pub mod json;
pub mod link;
pub mod packet;
pub mod record;
pub mod tcp;
pub mod udp;

pub use error::{DecodeError, Truncated};
pub use event::{EventContext, EventKind, EventSet};
pub use link::LinkType;
pub use packet::{Decoded, Network, Transport, decode};
