//! State kept across packets: who owns what ([`tasks`]), which container a cgroup is
//! ([`containers`]), what interfaces are called ([`interfaces`]). DNS-over-TCP reassembly lives in `netcore_core::dns::tcp`; the
//! pipeline holds one.

pub mod containers;
pub mod interfaces;
pub mod tasks;
