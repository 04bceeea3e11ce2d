//! Capture sources. Each hands the decoder packets in place: capture files ([`file`]),
//! the host-mode ring buffer ([`ring`]) and AF_XDP sockets ([`xsk`]).

pub mod event_loop;
pub mod file;
pub mod ring;
pub mod xsk;

use netcore_core::LinkType;

/// One captured frame, borrowed from the source's buffer.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// Link-layer framing of `data`.
    pub link_type: LinkType,
    /// Capture time, ns since the Unix epoch.
    pub timestamp_ns: u64,
    /// The captured bytes (possibly cut to the snap length).
    pub data: &'a [u8],
}
