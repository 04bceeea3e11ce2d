//! Helpers shared by the decoder's integration tests: the repository's captures and
//! data, and DNS messages built or compared field by field. The binary's tests
//! (`tests/common`) include `dns_builder` and `pcap` from here too.
#![allow(dead_code)] // each test binary uses a different part of this module

use std::path::PathBuf;

pub mod dns_builder;
pub mod dns_compare;
pub mod pcap;

/// The repository root (the golden captures and test data live under its `tests/`).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("core/ sits in the repository")
        .to_path_buf()
}
