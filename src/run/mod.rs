//! The drivers: each connects a source to the pipeline for one mode and reports the run.
//! File mode ([`file`]); host and AF_XDP mode ([`live`]), and their decoding threads
//! beyond the first when the source itself is split by flow ([`source_threads`]).

pub mod file;
pub mod live;
mod source_threads;

use std::time::Duration;

/// How long events may wait in the output buffer of a live run.
const FLUSH_EVERY: Duration = Duration::from_millis(10);
