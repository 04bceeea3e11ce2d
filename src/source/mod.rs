//! Capture sources. Each hands the decoder frames in place, with their link type and
//! wall-clock time; only the file source exists so far.

pub mod file;

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
