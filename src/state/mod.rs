//! State kept across packets: who owns what ([`tasks`]). DNS-over-TCP reassembly lives
//! in `netcore_core::dns::tcp`; the pipeline holds one.

pub mod tasks;
