//! Loads the kernel programs built from `ebpf/` and attaches them for host capture.
//!
//! Every attachment is a bpf_link owned by this process and nothing is pinned, so when
//! netcore exits — cleanly or killed — the kernel detaches everything.

use std::fs::File;
use std::path::Path;

use anyhow::{Context, Result, anyhow};
use aya::maps::{MapData, PerCpuArray, RingBuf};
use aya::programs::{
    BtfTracePoint, CgroupAttachMode, CgroupSkb, CgroupSkbAttachType, CgroupSock, CgroupSockAddr,
    SockOps,
};
use aya::{Btf, Ebpf, EbpfLoader};
use netcore_core::record::{KernelFilter, MAX_SNAPLEN, counter};
use zerocopy::IntoBytes;

/// The kernel programs' object file, built by `build.rs`.
static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/netcore-bpf"));

/// Programs attached to a cgroup, by name in `ebpf/src/main.rs`.
const CGROUP_SOCK: [&str; 3] = [
    "netcore_sock_create",
    "netcore_post_bind4",
    "netcore_post_bind6",
];
const CGROUP_SOCK_ADDR: [&str; 6] = [
    "netcore_connect4",
    "netcore_connect6",
    "netcore_sendmsg4",
    "netcore_sendmsg6",
    "netcore_recvmsg4",
    "netcore_recvmsg6",
];
/// tp_btf programs and the tracepoints they attach to.
const TRACEPOINTS: [(&str, &str); 2] = [
    ("netcore_sock_send", "sock_send_length"),
    ("netcore_sock_recv", "sock_recv_length"),
];

/// Settings of the capture programs.
#[derive(Debug, Clone, Copy)]
pub struct CaptureConfig {
    /// Packet bytes copied per record, from the network header on.
    pub snaplen: u32,
    /// Ring buffer size in bytes: a power of two, a multiple of the page size.
    pub ring_bytes: u32,
    /// What the programs drop before the ring buffer (from `--filter`).
    pub kernel_filter: KernelFilter,
}

/// The loaded and attached host-capture programs.
pub struct HostPrograms {
    ebpf: Ebpf,
    counters: PerCpuArray<MapData, u64>,
}

impl HostPrograms {
    /// Loads every program and attaches them to `cgroup` (and the tracepoints).
    pub fn attach(cgroup: &Path, config: CaptureConfig) -> Result<Self> {
        let snaplen = config.snaplen.min(MAX_SNAPLEN as u32);
        let btf = Btf::from_sys_fs().context("reading the kernel's BTF")?;
        let mut ebpf = EbpfLoader::new()
            .btf(&btf)
            .override_global("SNAPLEN", &snaplen, true)
            .override_global("KFILTER", config.kernel_filter.as_bytes(), true)
            .map_max_entries("EVENTS", config.ring_bytes)
            .load(OBJECT)
            .context("loading the eBPF programs")?;
        let cgroup_fd =
            File::open(cgroup).with_context(|| format!("opening cgroup {}", cgroup.display()))?;
        let on_cgroup = |what: &str| format!("attaching {what} to cgroup {}", cgroup.display());

        for (name, attach_type) in [
            ("netcore_ingress", CgroupSkbAttachType::Ingress),
            ("netcore_egress", CgroupSkbAttachType::Egress),
        ] {
            let program: &mut CgroupSkb = program(&mut ebpf, name)?;
            program.load().with_context(|| format!("loading {name}"))?;
            program
                .attach(&cgroup_fd, attach_type, CgroupAttachMode::Single)
                .with_context(|| on_cgroup(name))?;
        }
        for name in CGROUP_SOCK {
            let program: &mut CgroupSock = program(&mut ebpf, name)?;
            program.load().with_context(|| format!("loading {name}"))?;
            program
                .attach(&cgroup_fd, CgroupAttachMode::Single)
                .with_context(|| on_cgroup(name))?;
        }
        for name in CGROUP_SOCK_ADDR {
            let program: &mut CgroupSockAddr = program(&mut ebpf, name)?;
            program.load().with_context(|| format!("loading {name}"))?;
            program
                .attach(&cgroup_fd, CgroupAttachMode::Single)
                .with_context(|| on_cgroup(name))?;
        }
        let sockops: &mut SockOps = program(&mut ebpf, "netcore_sockops")?;
        sockops.load().context("loading netcore_sockops")?;
        sockops
            .attach(&cgroup_fd, CgroupAttachMode::Single)
            .with_context(|| on_cgroup("netcore_sockops"))?;
        for (name, tracepoint) in TRACEPOINTS {
            let program: &mut BtfTracePoint = program(&mut ebpf, name)?;
            program
                .load(tracepoint, &btf)
                .with_context(|| format!("loading {name}"))?;
            program
                .attach()
                .with_context(|| format!("attaching {name} to tracepoint {tracepoint}"))?;
        }
        let counters = PerCpuArray::try_from(take_map(&mut ebpf, "COUNTERS")?)?;
        Ok(HostPrograms { ebpf, counters })
    }

    /// The ring buffer the capture programs write; can be taken once.
    pub fn take_ring(&mut self) -> Result<RingBuf<MapData>> {
        Ok(RingBuf::try_from(take_map(&mut self.ebpf, "EVENTS")?)?)
    }

    /// Kernel-side totals over all CPUs.
    pub fn counters(&self) -> Result<KernelCounters> {
        let total = |index: u32| -> Result<u64> { Ok(self.counters.get(&index, 0)?.iter().sum()) };
        Ok(KernelCounters {
            captured: total(counter::CAPTURED)?,
            ring_full: total(counter::RING_FULL)?,
            filtered: total(counter::FILTERED)?,
        })
    }
}

/// Totals of the kernel programs' counters.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct KernelCounters {
    /// Packets written to the ring buffer.
    pub captured: u64,
    /// Packets lost because the ring buffer was full.
    pub ring_full: u64,
    /// Packets the kernel-side filter kept out of the ring buffer.
    pub filtered: u64,
}

fn program<'a, T>(ebpf: &'a mut Ebpf, name: &str) -> Result<&'a mut T>
where
    &'a mut T: TryFrom<&'a mut aya::programs::Program, Error = aya::programs::ProgramError>,
{
    let program = ebpf
        .program_mut(name)
        .ok_or_else(|| anyhow!("the eBPF object has no program {name}"))?;
    program
        .try_into()
        .with_context(|| format!("program {name} has an unexpected type"))
}

fn take_map(ebpf: &mut Ebpf, name: &str) -> Result<aya::maps::Map> {
    ebpf.take_map(name)
        .ok_or_else(|| anyhow!("the eBPF object has no map {name}"))
}
