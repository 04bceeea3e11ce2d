//! Loads the kernel programs built from `ebpf/` and attaches them: the attribution
//! programs always, then the cgroup_skb capture (host mode) or XDP (AF_XDP mode).
//!
//! Every attachment is a bpf_link owned by this process and nothing is pinned, so when
//! netcore exits — cleanly or killed — the kernel detaches everything.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

use anyhow::{Context, Result, anyhow};
use aya::maps::{Array, HashMap, Map, MapData, PerCpuArray, XskMap};
use aya::programs::{
    BtfTracePoint, CgroupAttachMode, CgroupSkb, CgroupSkbAttachType, CgroupSock, CgroupSockAddr,
    SockOps, Xdp, XdpMode,
};
use aya::{Btf, Ebpf, EbpfLoader};
use netcore_core::abi::flow_counts::{FlowCountKey, FlowCounters};
use netcore_core::abi::{
    KernelFilter, ListenerKey, MAX_SNAPLEN, OwnerHandoff, TaskContext, counter, rings::MAX_RINGS,
    task_offset,
};

use super::seed::{self, Seed};
use super::task_offsets;
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
/// tp_btf programs and the tracepoints they attach to: attribution's.
const TRACEPOINTS: [(&str, &str); 2] = [
    ("netcore_sock_send", "sock_send_length"),
    ("netcore_sock_recv", "sock_recv_length"),
];
/// The same for the socket reports (host mode, `net_connect_failure`).
const SOCKET_REPORTS: [(&str, &str); 2] = [
    ("netcore_sk_error", "inet_sk_error_report"),
    ("netcore_sk_state", "inet_sock_set_state"),
];

/// Settings of the capture programs.
#[derive(Debug, Clone, Copy)]
pub struct CaptureConfig {
    /// Packet bytes copied per record, from the network header on.
    pub snaplen: u32,
    /// Size of each ring buffer in bytes: a power of two, a multiple of the page size.
    pub ring_bytes: u32,
    /// How many ring buffers the packets are spread over by flow, one per decoding
    /// thread: 1 to [`MAX_RINGS`].
    pub rings: u32,
    /// What the programs drop before the ring buffer (from `--filter`).
    pub kernel_filter: KernelFilter,
    /// Copy each DNS answer over UDP to every ring, for each thread's flows to learn its
    /// names from (flow events selected).
    pub share_dns_answers: bool,
    /// Attach the socket reports, which write failing connects and UDP errors to the
    /// rings (`net_connect_failure` in host mode).
    pub report_socket_errors: bool,
    /// When the capture programs count flows themselves (`netcore_core::abi::flow_counts`),
    /// and at most how many.
    pub kernel_flows: KernelFlowCounting,
    /// Whether user space may have the programs shed packet events (`--cpu-budget`,
    /// [`Programs::shed`]).
    pub sheddable: bool,
}

/// When the capture programs count flows themselves (host mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelFlowCounting {
    /// Never: user space counts every packet.
    Never,
    /// Always (only flow and DNS events selected), at most this many flows.
    Always(u32),
    /// While netcore sheds work (`--cpu-budget` with flow events), at most this many.
    WhileShedding(u32),
}

impl KernelFlowCounting {
    /// The value of the programs' `ACCOUNT_FLOWS`, and the size of their flow table.
    fn setting(self) -> (u32, u32) {
        match self {
            KernelFlowCounting::Never => (0, 1),
            KernelFlowCounting::Always(flows) => (1, flows.max(1)),
            KernelFlowCounting::WhileShedding(flows) => (2, flows.max(1)),
        }
    }
}

/// The loaded kernel programs; each `attach_*` attaches one group of them.
pub struct Programs {
    ebpf: Ebpf,
    btf: Btf,
    counters: PerCpuArray<MapData, u64>,
    /// Held while the kernel times every eBPF program's runs (`--stats`).
    run_time_stats: Option<OwnedFd>,
}

/// How the XDP program ended up attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XdpAttachMode {
    /// In the driver (native XDP).
    Driver,
    /// In the generic network stack (any interface, slower).
    Generic,
}

impl Programs {
    /// Loads the object with the capture settings; attaches nothing yet.
    pub fn load(config: CaptureConfig) -> Result<Self> {
        let snaplen = config.snaplen.min(MAX_SNAPLEN as u32);
        let btf = Btf::from_sys_fs().context("reading the kernel's BTF")?;
        // The XDP program finds local sockets by this namespace's cookie.
        let netns_cookie = seed::netns_cookie()?;
        // Without the offsets the hooks record ids only, and user space reads `/proc`.
        let task_offsets = task_offsets::from_btf(Path::new("/sys/kernel/btf/vmlinux"))
            .unwrap_or_else(|e| {
                eprintln!(
                    "netcore: namespace ids will come from /proc (racy for short-lived \
                     processes): {e:#}"
                );
                [0; task_offset::COUNT]
            });
        let rings = config.rings.clamp(1, MAX_RINGS);
        let ring_names: Vec<String> = (0..MAX_RINGS).map(ring_name).collect();
        let page_bytes = page_bytes();
        let mut loader = EbpfLoader::new();
        for (ring, name) in (0..).zip(&ring_names) {
            // Rings beyond the run's count are never written: one page each.
            let bytes = if ring < rings {
                config.ring_bytes
            } else {
                page_bytes
            };
            loader.map_max_entries(name, bytes);
        }
        let (account_flows, kernel_flows) = config.kernel_flows.setting();
        loader.map_max_entries("FLOW_COUNTS", kernel_flows);
        let mut ebpf = loader
            .btf(&btf)
            .override_global("ACCOUNT_FLOWS", &account_flows, true)
            .override_global("SHEDDABLE", &u32::from(config.sheddable), true)
            .override_global("SNAPLEN", &snaplen, true)
            .override_global("RINGS", &rings, true)
            // Woken at each eighth of a ring filled (ring_bytes is a power of two).
            .override_global(
                "WAKEUP_SHIFT",
                &config.ring_bytes.ilog2().saturating_sub(3),
                true,
            )
            .override_global(
                "SHARE_DNS_ANSWERS",
                &u32::from(config.share_dns_answers),
                true,
            )
            .override_global("KFILTER", config.kernel_filter.as_bytes(), true)
            .override_global("XDP_NETNS_COOKIE", &netns_cookie, true)
            .override_global("TASK_OFFSETS", &task_offsets, true)
            .load(OBJECT)
            .context(
                "creating the eBPF maps (BPF ring buffers need Linux ≥ 5.8, BPF_MAP_TYPE_XSKMAP \
                 4.18)",
            )?;
        let counters = PerCpuArray::try_from(take_map(&mut ebpf, "COUNTERS")?)?;
        Ok(Programs {
            ebpf,
            btf,
            counters,
            run_time_stats: None,
        })
    }

    /// Has the kernel time every eBPF program's runs (BPF_ENABLE_STATS; host-wide, a few
    /// ns per run, until netcore ends); says so when it cannot.
    pub fn time_programs(&mut self) {
        match aya::sys::enable_stats(aya::sys::Stats::RunTime) {
            Ok(fd) => self.run_time_stats = Some(fd),
            Err(e) => note!("netcore: warning: the kernel does not time eBPF programs: {e}"),
        }
    }

    /// What netcore's programs cost the kernel so far, by role; None unless
    /// [`Programs::time_programs`] took effect.
    pub fn costs(&self) -> Option<Vec<ProgramCost>> {
        self.run_time_stats.as_ref()?;
        let mut costs: Vec<ProgramCost> = Vec::new();
        for (name, program) in self.ebpf.programs() {
            let Ok(info) = program.info() else {
                continue; // not loaded in this mode
            };
            let role = match name {
                "netcore_ingress" | "netcore_egress" => "capture",
                name if name.starts_with("netcore_xdp") => "xdp",
                _ => "attribution",
            };
            let cost = match costs.iter_mut().find(|c| c.role == role) {
                Some(cost) => cost,
                None => {
                    costs.push(ProgramCost {
                        role,
                        runs: 0,
                        run_time_ns: 0,
                    });
                    costs.last_mut().expect("just pushed")
                }
            };
            cost.runs += info.run_count();
            cost.run_time_ns += info.run_time().as_nanos() as u64;
        }
        Some(costs)
    }

    /// Host mode: the attribution programs and the cgroup_skb capture on `cgroup`.
    pub fn attach_host_capture(config: CaptureConfig, cgroup: &Path) -> Result<Self> {
        let mut programs = Programs::load(config)?;
        programs.attach_attribution(cgroup)?;
        if config.report_socket_errors {
            programs.attach_tracepoints(&SOCKET_REPORTS)?;
        }
        let cgroup_fd = open_cgroup(cgroup)?;
        for (name, attach_type) in [
            ("netcore_ingress", CgroupSkbAttachType::Ingress),
            ("netcore_egress", CgroupSkbAttachType::Egress),
        ] {
            let program: &mut CgroupSkb = program(&mut programs.ebpf, name)?;
            program.load().with_context(|| loading(name))?;
            program
                .attach(&cgroup_fd, attach_type, CgroupAttachMode::Single)
                .with_context(|| on_cgroup(name, cgroup))?;
        }
        Ok(programs)
    }

    /// The socket-lifecycle programs that keep the owner of every socket under `cgroup`.
    pub fn attach_attribution(&mut self, cgroup: &Path) -> Result<()> {
        let ebpf = &mut self.ebpf;
        let cgroup_fd = open_cgroup(cgroup)?;
        for name in CGROUP_SOCK {
            let program: &mut CgroupSock = program(ebpf, name)?;
            program.load().with_context(|| loading(name))?;
            program
                .attach(&cgroup_fd, CgroupAttachMode::Single)
                .with_context(|| on_cgroup(name, cgroup))?;
        }
        for name in CGROUP_SOCK_ADDR {
            let program: &mut CgroupSockAddr = program(ebpf, name)?;
            program.load().with_context(|| loading(name))?;
            program
                .attach(&cgroup_fd, CgroupAttachMode::Single)
                .with_context(|| on_cgroup(name, cgroup))?;
        }
        let sockops: &mut SockOps = program(ebpf, "netcore_sockops")?;
        sockops.load().with_context(|| loading("netcore_sockops"))?;
        sockops
            .attach(&cgroup_fd, CgroupAttachMode::Single)
            .with_context(|| on_cgroup("netcore_sockops", cgroup))?;
        self.attach_tracepoints(&TRACEPOINTS)
    }

    /// Loads and attaches tp_btf `programs`, each to its tracepoint.
    fn attach_tracepoints(&mut self, programs: &[(&str, &str)]) -> Result<()> {
        for &(name, tracepoint) in programs {
            let program: &mut BtfTracePoint = program(&mut self.ebpf, name)?;
            program
                .load(tracepoint, &self.btf)
                .with_context(|| loading(name))?;
            program
                .attach()
                .with_context(|| format!("attaching {name} to tracepoint {tracepoint}"))?;
        }
        Ok(())
    }

    /// The XDP program that hands owners over the way `handoff` says, on interface
    /// `ifindex`: in the driver if it supports XDP, else in the generic path.
    pub fn attach_xdp(
        &mut self,
        ifindex: u32,
        interface: &str,
        handoff: OwnerHandoff,
    ) -> Result<XdpAttachMode> {
        let name = handoff.program();
        let xdp: &mut Xdp = program(&mut self.ebpf, name)?;
        xdp.load().with_context(|| loading(name))?;
        if xdp.attach(ifindex, XdpMode::Driver).is_ok() {
            return Ok(XdpAttachMode::Driver);
        }
        xdp.attach(ifindex, XdpMode::Skb)
            .with_context(|| format!("attaching XDP to {interface}"))?;
        Ok(XdpAttachMode::Generic)
    }

    /// Records the owners of sockets that existed before the programs were attached;
    /// never replaces an owner the programs already recorded. Returns how many were added.
    pub fn seed(&mut self, seed: &Seed) -> Result<usize> {
        const BPF_NOEXIST: u64 = 1;
        let mut added = 0;
        let mut owners: HashMap<_, u64, PodTask> = HashMap::try_from(
            self.ebpf
                .map_mut("OWNERS")
                .ok_or_else(|| anyhow!("no map OWNERS"))?,
        )?;
        for (cookie, task) in &seed.owners {
            added += usize::from(owners.insert(cookie, &PodTask(*task), BPF_NOEXIST).is_ok());
        }
        let mut ports: HashMap<_, PodListenerKey, PodTask> = HashMap::try_from(
            self.ebpf
                .map_mut("LISTENERS")
                .ok_or_else(|| anyhow!("no map LISTENERS"))?,
        )?;
        for (key, task) in &seed.ports {
            let _ = ports.insert(&PodListenerKey(*key), &PodTask(*task), BPF_NOEXIST);
        }
        Ok(added)
    }

    /// Routes frames of rx queue `queue` to the AF_XDP socket `fd`.
    pub fn set_xsk(&mut self, queue: u32, fd: std::os::fd::RawFd) -> Result<()> {
        let map = self
            .ebpf
            .map_mut("XSKS")
            .ok_or_else(|| anyhow!("the eBPF object has no map XSKS"))?;
        XskMap::try_from(map)?
            .set(queue, fd, 0)
            .with_context(|| format!("inserting the AF_XDP socket of queue {queue}"))
    }

    /// The ring buffers the capture programs write, as many as [`CaptureConfig::rings`];
    /// can be taken once.
    pub fn take_rings(&mut self, rings: u32) -> Result<Vec<MapData>> {
        (0..rings.clamp(1, MAX_RINGS))
            .map(|ring| match take_map(&mut self.ebpf, &ring_name(ring))? {
                Map::RingBuf(data) => Ok(data),
                _ => Err(anyhow!(
                    "the eBPF object's {} is not a ring buffer",
                    ring_name(ring)
                )),
            })
            .collect()
    }

    /// The capture programs' flow counters ([`CaptureConfig::kernel_flows`]); can be
    /// taken once.
    pub fn take_flow_counts(&mut self) -> Result<FlowCountTable> {
        match take_map(&mut self.ebpf, "FLOW_COUNTS")? {
            Map::HashMap(map) => Ok(FlowCountTable { map }),
            _ => Err(anyhow!("the eBPF object's FLOW_COUNTS is not a hash map")),
        }
    }

    /// Has the capture programs write the packet events of one in `every` packets (1: of
    /// all), with what the flows and DNS need (`--cpu-budget`).
    pub fn shed(&mut self, every: u32) -> Result<()> {
        let map = self
            .ebpf
            .map_mut("SHEDDING")
            .ok_or_else(|| anyhow!("the eBPF object has no map SHEDDING"))?;
        let mut shedding: Array<_, u32> = Array::try_from(map)?;
        shedding
            .set(0, &every, 0)
            .context("setting the programs' sample rate")
    }

    /// Kernel-side totals over all CPUs.
    pub fn counters(&self) -> Result<KernelCounters> {
        let total = |index: u32| -> Result<u64> { Ok(self.counters.get(&index, 0)?.iter().sum()) };
        Ok(KernelCounters {
            captured: total(counter::CAPTURED)?,
            ring_full: total(counter::RING_FULL)?,
            filtered: total(counter::FILTERED)?,
            copies_lost: total(counter::COPY_RING_FULL)?,
            xdp_no_metadata: total(counter::XDP_NO_METADATA)?,
            flow_counted: total(counter::FLOW_COUNTED)?,
            flow_table_full: total(counter::FLOW_TABLE_FULL)?,
            flows_stale: 0,
            shed: total(counter::SHED)?,
            shedding: Shedding::default(),
        })
    }
}

/// The name of ring buffer `ring` in the eBPF object.
fn ring_name(ring: u32) -> String {
    format!("EVENTS{ring}")
}

/// The smallest ring buffer: one page (4 KiB on x86-64, up to 64 KiB elsewhere).
fn page_bytes() -> u32 {
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u32::try_from(page).unwrap_or(4096)
}

/// The kernel time of netcore's programs of one role, as the kernel counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProgramCost {
    /// `capture` (cgroup_skb, per packet), `attribution` (socket hooks and tracepoints,
    /// per socket event) or `xdp` (per frame).
    pub role: &'static str,
    /// Runs.
    pub runs: u64,
    /// Time in them, ns.
    pub run_time_ns: u64,
}

/// A line of [`ProgramCost`]s: ns per run of each role.
pub struct Costs<'c>(pub &'c [ProgramCost]);

impl std::fmt::Display for Costs<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("kernel time")?;
        for (i, cost) in self.0.iter().enumerate() {
            let per_run = cost.run_time_ns.checked_div(cost.runs).unwrap_or(0);
            let sep = if i == 0 { ":" } else { "," };
            write!(
                f,
                "{sep} {} {per_run} ns/run ({} runs)",
                cost.role, cost.runs
            )?;
        }
        Ok(())
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
    /// Copies of DNS answers for other rings' threads lost because a ring buffer was full.
    pub copies_lost: u64,
    /// Frames AF_XDP's metadata way passed to the kernel uncaptured: the driver had no
    /// room for metadata.
    pub xdp_no_metadata: u64,
    /// Packets the flow accounting counted and kept in the kernel.
    pub flow_counted: u64,
    /// Packets sent up uncounted because the kernel's flow table was full.
    pub flow_table_full: u64,
    /// Flows the kernel counted that no flow table tracked, removed when stale (their
    /// first packets were lost, or found the user-space table full).
    pub flows_stale: u64,
    /// Packets not sent up while netcore shed work (`--cpu-budget`).
    pub shed: u64,
    /// What `--cpu-budget` had the programs do.
    pub shedding: Shedding,
}

/// What `--cpu-budget` had the capture programs do.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Shedding {
    /// One in how many packets has its packet events written now (0: no budget; 1: all).
    pub sample_every: u32,
    /// How many times shedding started.
    pub sheds: u64,
    /// How many times it ended.
    pub recoveries: u64,
}

impl KernelCounters {
    /// What flow accounting and shedding did, for the summary and the `--stats` line:
    /// empty when they did nothing.
    pub fn accounting_and_shedding(&self) -> String {
        let mut phrase = String::new();
        if self.flow_counted > 0 {
            phrase += &format!(", {} counted in their flows only", self.flow_counted);
        }
        if self.flow_table_full > 0 {
            phrase += &format!(
                ", {} sent up uncounted (kernel flow table full)",
                self.flow_table_full
            );
        }
        if self.flows_stale > 0 {
            phrase += &format!(
                ", {} kernel-counted flows no flow table tracked removed",
                self.flows_stale
            );
        }
        let Shedding {
            sample_every,
            sheds,
            recoveries,
        } = self.shedding;
        if sample_every > 1 || sheds > 0 {
            phrase += &format!(
                ", packet events of one packet in {sample_every} now (--cpu-budget: shed {sheds} \
                 times, recovered {recoveries}; {} packets not sent up)",
                self.shed
            );
        }
        phrase
    }
}

/// The capture programs' flow counters (`FLOW_COUNTS`), read and removed one flow at a
/// time by the threads whose flow tables track the flows.
#[derive(Debug)]
pub struct FlowCountTable {
    map: MapData,
}

impl FlowCountTable {
    /// The counters of flow `key`; `take`: removed from the table in the same step, so
    /// that no packet counted meanwhile is lost. `None` when the kernel counts no such
    /// flow.
    pub fn read(&self, key: &FlowCountKey, take: bool) -> Option<FlowCounters> {
        let mut value = FlowCounters::default();
        let command = if take {
            bpf_command::LOOKUP_AND_DELETE
        } else {
            bpf_command::LOOKUP
        };
        let key = key as *const FlowCountKey as u64;
        self.element(command, key, &mut value as *mut FlowCounters as u64)
            .then_some(value)
    }

    /// Removes the flows whose last packet the kernel counted before `stale(key)`
    /// (`CLOCK_MONOTONIC`, ns): flows no flow table tracks (it would have written their records and
    /// removed them), whose first packets were lost or found the user-space table full.
    /// Returns how many it removed.
    pub fn remove_stale(&self, stale: impl Fn(&FlowCountKey) -> u64) -> u64 {
        let mut keys: Vec<FlowCountKey> = Vec::new();
        let mut next = FlowCountKey::default();
        // The first key (after none), then each next one, until the kernel has no more.
        loop {
            let previous = keys.last().map_or(0, |k| k as *const FlowCountKey as u64);
            let next_at = &mut next as *mut FlowCountKey as u64;
            if !self.element(bpf_command::GET_NEXT_KEY, previous, next_at) {
                break;
            }
            keys.push(next);
        }
        let mut removed = 0;
        for key in keys {
            let mut value = FlowCounters::default();
            let value_at = &mut value as *mut FlowCounters as u64;
            if self.element(bpf_command::LOOKUP, &key as *const _ as u64, value_at)
                && value.last_ns < stale(&key)
                && self.element(bpf_command::DELETE, &key as *const _ as u64, 0)
            {
                removed += 1;
            }
        }
        removed
    }

    /// Runs map command `command` on this map with a key and a value (or next key) at
    /// those addresses (0: none); whether it succeeded.
    fn element(&self, command: libc::c_long, key: u64, value: u64) -> bool {
        /// The map-element part of `union bpf_attr`.
        #[repr(C)]
        struct ElementAttr {
            map_fd: u32,
            _pad: u32,
            key: u64,
            value: u64,
            flags: u64,
        }
        let attr = ElementAttr {
            map_fd: self.map.fd().as_fd().as_raw_fd() as u32,
            _pad: 0,
            key,
            value,
            flags: 0,
        };
        // SAFETY: the callers pass addresses of a key and a value (or a next key) of the
        // map's sizes (the kernel checked them when the object was loaded with these
        // types), valid for the call, or 0 where the command takes none.
        let status = unsafe {
            libc::syscall(
                libc::SYS_bpf,
                command,
                &attr as *const ElementAttr,
                size_of::<ElementAttr>(),
            )
        };
        status == 0
    }
}

/// The `bpf(2)` commands a run makes once its programs are loaded: [`FlowCountTable`]'s
/// (aya's HashMap has no taking lookup), aya's map updates and program statistics. The
/// seccomp filter allows these and no others.
pub mod bpf_command {
    /// Look a map entry up.
    pub const LOOKUP: libc::c_long = 1;
    /// Update a map entry.
    pub const UPDATE: libc::c_long = 2;
    /// Delete a map entry.
    pub const DELETE: libc::c_long = 3;
    /// The key after a key.
    pub const GET_NEXT_KEY: libc::c_long = 4;
    /// A program's or map's information (run time, run count).
    pub const OBJ_GET_INFO_BY_FD: libc::c_long = 15;
    /// Look a map entry up and delete it; hash maps: Linux ≥ 5.14.
    pub const LOOKUP_AND_DELETE: libc::c_long = 21;
    /// Every command above.
    pub const AFTER_START_UP: [libc::c_long; 6] = [
        LOOKUP,
        UPDATE,
        DELETE,
        GET_NEXT_KEY,
        OBJ_GET_INFO_BY_FD,
        LOOKUP_AND_DELETE,
    ];
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

/// The map values shared with the kernel programs, as aya map types.
#[repr(transparent)]
#[derive(Clone, Copy)]
struct PodTask(TaskContext);
#[repr(transparent)]
#[derive(Clone, Copy)]
struct PodListenerKey(ListenerKey);
// SAFETY: both wrap `#[repr(C)]` plain-data records without implicit padding (zerocopy's
// IntoBytes derive checks that in core/src/record.rs): any bit pattern is valid.
unsafe impl aya::Pod for PodTask {}
// SAFETY: as above.
unsafe impl aya::Pod for PodListenerKey {}

/// "loading PROGRAM, which needs FEATURE": the first words of a load error, so that a
/// kernel without a feature is named before the verifier's log.
fn loading(program: &str) -> String {
    let feature = match program {
        "netcore_ingress" | "netcore_egress" => "cgroup_skb programs writing BPF ring buffers",
        "netcore_sock_create" => "cgroup/sock_create programs",
        "netcore_post_bind4" | "netcore_post_bind6" => "cgroup/post_bind programs (Linux ≥ 4.17)",
        "netcore_connect4" | "netcore_connect6" => "cgroup/connect programs (Linux ≥ 4.17)",
        "netcore_sendmsg4" | "netcore_sendmsg6" => "cgroup/sendmsg programs (Linux ≥ 4.18)",
        "netcore_recvmsg4" | "netcore_recvmsg6" => "cgroup/recvmsg programs (Linux ≥ 5.2)",
        "netcore_sockops" => "sockops programs",
        "netcore_sock_send" | "netcore_sock_recv" => {
            "tp_btf programs on the sock_send_length/sock_recv_length tracepoints"
        }
        "netcore_sk_error" | "netcore_sk_state" => {
            "tp_btf programs on the inet_sk_error_report (Linux ≥ 5.15) and \
             inet_sock_set_state tracepoints"
        }
        "netcore_xdp_meta" => "XDP programs with metadata (bpf_xdp_adjust_meta)",
        "netcore_xdp_head" => "XDP programs that redirect to AF_XDP sockets",
        _ => "a kernel feature netcore uses",
    };
    format!("loading {program}, which needs {feature}")
}

fn open_cgroup(cgroup: &Path) -> Result<File> {
    File::open(cgroup).with_context(|| format!("opening cgroup {}", cgroup.display()))
}

fn on_cgroup(what: &str, cgroup: &Path) -> String {
    format!("attaching {what} to cgroup {}", cgroup.display())
}

fn take_map(ebpf: &mut Ebpf, name: &str) -> Result<Map> {
    ebpf.take_map(name)
        .ok_or_else(|| anyhow!("the eBPF object has no map {name}"))
}
