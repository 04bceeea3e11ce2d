//! State kept across packets: who owns what ([`tasks`]), which container a cgroup is
//! ([`containers`], its path read by [`cgroup_path`], new ones noticed by
//! [`cgroup_watch`]) and what its runtime says of it ([`runtimes`]), what interfaces are
//! called ([`interfaces`]), the flows ([`flows`], reading packets by [`flow_packet`]) and the names DNS gave their addresses
//! ([`dns_names`]).
//! DNS-over-TCP reassembly lives in `netcore_core::dns::tcp`; the pipeline holds one.

pub mod cgroup_path;
pub mod cgroup_watch;
pub mod containers;
pub mod dns_names;
pub mod dns_transactions;
pub mod flow_packet;
pub mod flows;
pub mod interfaces;
pub mod runtimes;
pub mod tasks;
