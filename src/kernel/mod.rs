//! Kernel plumbing for the live modes: what capture needs ([`preflight`]), loading and
//! attaching the programs built from `ebpf/` ([`loader`]), and seeding their socket-owner
//! map with the sockets that existed before netcore ([`seed`]), with the `task_struct`
//! offsets the kernel's BTF gives ([`task_offsets`]).

pub mod loader;
pub mod preflight;
pub mod seed;
pub mod task_offsets;
