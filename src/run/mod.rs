//! The drivers: each connects a source to the pipeline for one mode and reports the run.
//! File mode ([`file`]); host and AF_XDP mode ([`live`]), host mode's decoding threads
//! beyond the first ([`ring_threads`]).

pub mod file;
pub mod live;
mod ring_threads;
