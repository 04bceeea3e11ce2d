//! The task table: what the envelope needs about a task beyond what the kernel programs
//! record (pid-namespace ids, parent, namespaces, start time, container).
//!
//! The socket hooks record the owner's ids, names, parent, namespaces and start time from
//! its `task_struct` when the kernel's BTF gives the offsets (every kernel netcore runs
//! on in host mode), so a process that exits right after its packet is described as well
//! as a long-lived one. Otherwise (the AF_XDP path, sockets older than netcore) the rest
//! comes from `/proc`, read once per thread and cached, so the per-packet cost is one hash
//! lookup; a thread that exits before netcore reads it keeps the host ids (documented in
//! docs/live.md).

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use netcore_core::abi::TaskContext;

use super::cgroup_path::container_in;

/// How long a cached entry is trusted before `/proc` is read again (a tid can be reused).
const TTL: Duration = Duration::from_secs(30);
/// Entries kept at most; older ones are swept first (then all, counted as evictions).
const CAPACITY: usize = 65536;

/// What `/proc` says about one thread.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskInfo {
    /// Process id in the task's own pid namespace.
    pub pid: u32,
    /// Thread id in the task's own pid namespace.
    pub tid: u32,
    /// Parent process id in the task's pid namespace (0 when the parent is outside it).
    pub ppid: u32,
    /// Parent process id in the initial pid namespace.
    pub host_ppid: u32,
    /// Mount namespace inode.
    pub mount_ns: u32,
    /// Pid namespace inode.
    pub pid_ns: u32,
    /// Thread start time, ns since boot.
    pub start_time_ns: u64,
    /// Container id from the cgroup path, "" when none.
    pub container_id: String,
    /// The thread name from `/proc` (the AF_XDP path has no kernel-recorded one).
    pub comm: Vec<u8>,
    /// The process's executable (`/proc/PID/exe`), empty once the process is gone.
    pub executable: Vec<u8>,
    /// Its arguments after the program (`/proc/PID/cmdline`), space-separated, at most
    /// [`MAX_ARGUMENTS`] bytes; empty once the process is gone.
    pub arguments: Vec<u8>,
    /// Unique to this entry (never 0 or 1): the same generation means the same kernel
    /// view of the task and the same `/proc` reading, so the same envelope.
    pub generation: u64,
}

struct Entry {
    info: TaskInfo,
    /// The kernel's view of the task the entry was read for.
    task: TaskContext,
    read_at: Instant,
}

/// Cache of [`TaskInfo`] by host thread id, at most [`CAPACITY`] entries.
pub struct TaskTable {
    entries: HashMap<u32, Entry>,
    ns_per_tick: u64,
    next_generation: u64,
    /// Entries dropped because the table was full of fresh ones.
    pub evicted: u64,
}

impl Default for TaskTable {
    fn default() -> Self {
        // SAFETY: sysconf has no memory-safety preconditions.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        TaskTable {
            entries: HashMap::new(),
            ns_per_tick: 1_000_000_000 / (if ticks > 0 { ticks as u64 } else { 100 }),
            next_generation: 2,
            evicted: 0,
        }
    }
}

impl TaskTable {
    /// The information on `task`, from the cache or `/proc`: read again when the kernel's
    /// view of the thread changed (name, cgroup, …) or the entry is older than [`TTL`].
    pub fn lookup(&mut self, task: &TaskContext, now: Instant) -> &TaskInfo {
        let fresh = |e: &Entry| e.task == *task && now.duration_since(e.read_at) < TTL;
        if !self.entries.get(&task.host_tid).is_some_and(fresh) {
            if self.entries.len() >= CAPACITY {
                self.entries
                    .retain(|_, e| now.duration_since(e.read_at) < TTL);
                if self.entries.len() >= CAPACITY {
                    self.evicted += self.entries.len() as u64;
                    self.entries.clear();
                }
            }
            let mut info = read_task(task, self.ns_per_tick);
            info.generation = self.next_generation;
            self.next_generation += 1;
            let entry = Entry {
                info,
                task: *task,
                read_at: now,
            };
            self.entries.insert(task.host_tid, entry);
        }
        &self.entries[&task.host_tid].info
    }
}

/// What the kernel recorded of `task`, or, when it could not read the `task_struct`
/// (no BTF offsets; the AF_XDP path), what `/proc` says.
fn read_task(task: &TaskContext, ns_per_tick: u64) -> TaskInfo {
    if task.pid_ns != 0 {
        return TaskInfo {
            executable: executable(task.host_pid),
            arguments: arguments(task.host_pid),
            pid: task.ns_pid,
            tid: task.ns_tid,
            ppid: task.ns_ppid,
            host_ppid: task.host_ppid,
            mount_ns: task.mount_ns,
            pid_ns: task.pid_ns,
            start_time_ns: task.start_time_ns,
            ..TaskInfo::default()
        };
    }
    read_proc(task, ns_per_tick)
}

/// Reads `/proc` for `task`; fields it cannot read fall back to the host view. The
/// process-level fields (parent, namespaces, container) come from the process's
/// directory, so that threads of one process agree even when one has exited.
fn read_proc(task: &TaskContext, ns_per_tick: u64) -> TaskInfo {
    let proc_process = format!("/proc/{}", task.host_pid);
    let proc_task = format!("{proc_process}/task/{}", task.host_tid);
    let mut info = TaskInfo {
        pid: task.host_pid,
        tid: task.host_tid,
        ..TaskInfo::default()
    };
    if let Ok(status) = std::fs::read_to_string(format!("{proc_process}/status")) {
        let status = Status::parse(&status);
        info.pid = status.innermost_tgid.unwrap_or(task.host_pid);
        info.host_ppid = status.ppid;
        info.ppid = parent_in_namespace(status.ppid, status.ns_depth);
    }
    if let Ok(status) = std::fs::read_to_string(format!("{proc_task}/status")) {
        info.tid = Status::parse(&status)
            .innermost_pid
            .unwrap_or(task.host_tid);
    }
    let ns_inode = |ns: &str| {
        std::fs::metadata(format!("{proc_process}/ns/{ns}"))
            .map(|m| m.ino() as u32)
            .unwrap_or(0)
    };
    info.mount_ns = ns_inode("mnt");
    info.pid_ns = ns_inode("pid");
    if let Ok(stat) = std::fs::read_to_string(format!("{proc_task}/stat")) {
        info.start_time_ns = start_time_ticks(&stat).unwrap_or(0) * ns_per_tick;
    }
    if let Ok(comm) = std::fs::read(format!("{proc_task}/comm")) {
        info.comm = comm.strip_suffix(b"\n").unwrap_or(&comm).to_vec();
    }
    if let Ok(cgroup) = std::fs::read_to_string(format!("{proc_process}/cgroup")) {
        info.container_id = cgroup.lines().find_map(container_id).unwrap_or_default();
    }
    info.executable = executable(task.host_pid);
    info.arguments = arguments(task.host_pid);
    info
}

/// Longest argument list kept (ptcpdump's comments are as long).
const MAX_ARGUMENTS: usize = 256;

/// The arguments of process `pid` after its program, space-separated; empty when gone.
fn arguments(pid: u32) -> Vec<u8> {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return Vec::new();
    };
    let mut args: Vec<u8> = cmdline
        .split(|&b| b == 0)
        .skip(1)
        .filter(|a| !a.is_empty())
        .collect::<Vec<_>>()
        .join(&b' ');
    args.truncate(MAX_ARGUMENTS);
    args
}

/// The path of process `pid`'s executable; empty when it is gone (or a kernel thread).
fn executable(pid: u32) -> Vec<u8> {
    std::fs::read_link(format!("/proc/{pid}/exe"))
        .map(|path| path.into_os_string().into_encoded_bytes())
        .unwrap_or_default()
}

/// The fields of `/proc/PID/task/TID/status` the envelope needs.
#[derive(Debug, Default, PartialEq, Eq)]
struct Status {
    ppid: u32,
    /// Thread id in the innermost pid namespace (last `NSpid` entry).
    innermost_pid: Option<u32>,
    /// Process id in the innermost pid namespace (last `NStgid` entry).
    innermost_tgid: Option<u32>,
    /// How many pid namespaces deep the task is (0 = the initial one).
    ns_depth: usize,
}

impl Status {
    fn parse(text: &str) -> Status {
        let mut status = Status::default();
        for line in text.lines() {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let ids = || {
                value
                    .split_whitespace()
                    .filter_map(|v| v.parse::<u32>().ok())
            };
            match key {
                "PPid" => status.ppid = ids().next().unwrap_or(0),
                "NSpid" => {
                    status.innermost_pid = ids().next_back();
                    status.ns_depth = ids().count().saturating_sub(1);
                }
                "NStgid" => status.innermost_tgid = ids().next_back(),
                _ => {}
            }
        }
        status
    }
}

/// The parent's pid as seen from a child `depth` pid namespaces deep: 0 when the parent
/// lives outside the child's namespace (Tracee's convention).
fn parent_in_namespace(host_ppid: u32, depth: usize) -> u32 {
    if depth == 0 || host_ppid == 0 {
        return host_ppid;
    }
    let Ok(status) = std::fs::read_to_string(format!("/proc/{host_ppid}/status")) else {
        return 0;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("NStgid:"))
        .and_then(|ids| ids.split_whitespace().nth(depth))
        .and_then(|id| id.parse().ok())
        .unwrap_or(0)
}

/// Field 22 of `/proc/…/stat` (start time in clock ticks since boot). The command name
/// (field 2) may hold spaces and parentheses, so fields are counted after its last `)`.
fn start_time_ticks(stat: &str) -> Option<u64> {
    let after_comm = &stat[stat.rfind(')')? + 1..];
    after_comm.split_whitespace().nth(19)?.parse().ok()
}

/// The container id a `/proc/PID/cgroup` line names (see [`container_in`]).
fn container_id(line: &str) -> Option<String> {
    let path = line.splitn(3, ':').nth(2)?;
    container_in(path).map(|c| c.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "4f6d2b0a41a1c1a7e2e8f9b3c5d7e9f1a3b5c7d9e1f3a5b7c9d1e3f5a7b9c1d3";

    #[test]
    fn container_ids_from_cgroup_paths() {
        for line in [
            format!("0::/system.slice/docker-{ID}.scope"),
            format!("0::/docker/{ID}"),
            format!("0::/kubepods.slice/kubepods-pod1.slice/cri-containerd-{ID}.scope"),
            format!("0::/machine.slice/libpod-{ID}.scope/container"),
            format!("12:pids:/kubepods/burstable/pod1/crio-{ID}"),
        ] {
            assert_eq!(container_id(&line).as_deref(), Some(ID), "{line}");
        }
        assert_eq!(
            container_id("0::/user.slice/user-1000.slice/session-2.scope"),
            None
        );
        assert_eq!(container_id("0::/"), None);
        assert_eq!(container_id("garbage"), None);
    }

    #[test]
    fn status_of_a_task_in_a_child_pid_namespace() {
        let text =
            "Name:\tsh\nTgid:\t4242\nPid:\t4243\nPPid:\t4200\nNStgid:\t4242\t1\nNSpid:\t4243\t2\n";
        assert_eq!(
            Status::parse(text),
            Status {
                ppid: 4200,
                innermost_pid: Some(2),
                innermost_tgid: Some(1),
                ns_depth: 1,
            }
        );
    }

    #[test]
    fn start_time_skips_a_hostile_comm() {
        let mut stat = String::from("77 (a) b) c) S");
        for field in 4..=21 {
            stat.push_str(&format!(" {field}"));
        }
        stat.push_str(" 123456 99 100");
        assert_eq!(start_time_ticks(&stat), Some(123456));
        assert_eq!(start_time_ticks("no parenthesis"), None);
    }

    #[test]
    fn this_process_is_read_from_proc_and_cached() {
        let pid = std::process::id();
        let task = TaskContext {
            host_pid: pid,
            host_tid: pid,
            comm: *b"netcore-test\0\0\0\0",
            ..TaskContext::default()
        };
        let mut table = TaskTable::default();
        let now = Instant::now();
        let info = table.lookup(&task, now).clone();
        assert_eq!((info.pid, info.tid), (pid, pid));
        let ppid = std::os::unix::process::parent_id();
        assert_eq!((info.ppid, info.host_ppid), (ppid, ppid));
        let own_ns = std::fs::metadata("/proc/self/ns/mnt").unwrap().ino() as u32;
        assert_eq!(info.mount_ns, own_ns);
        assert!(info.pid_ns != 0 && info.start_time_ns != 0);
        let comm = std::fs::read("/proc/self/comm").unwrap();
        assert_eq!(info.comm, comm.trim_ascii_end());
        let exe = std::env::current_exe().unwrap();
        assert_eq!(info.executable, exe.into_os_string().into_encoded_bytes());
        // Cached: the same entry comes back without reading /proc.
        assert_eq!(table.entries.len(), 1);
        assert_eq!(table.lookup(&task, now), &info);
    }

    #[test]
    fn the_kernels_view_needs_no_proc() {
        // A task that no longer exists: everything comes from what the hooks recorded.
        let task = TaskContext {
            host_pid: u32::MAX - 1,
            host_tid: u32::MAX - 2,
            ns_pid: 7,
            ns_tid: 8,
            ns_ppid: 1,
            host_ppid: 4200,
            mount_ns: 4026532001,
            pid_ns: 4026532002,
            start_time_ns: 123_456_789,
            ..TaskContext::default()
        };
        let info = TaskTable::default().lookup(&task, Instant::now()).clone();
        assert_eq!(
            (info.pid, info.tid, info.ppid, info.host_ppid),
            (7, 8, 1, 4200)
        );
        assert_eq!(
            (info.mount_ns, info.pid_ns, info.start_time_ns),
            (4026532001, 4026532002, 123_456_789)
        );
    }

    #[test]
    fn a_vanished_task_keeps_its_host_ids() {
        let task = TaskContext {
            host_pid: u32::MAX - 1,
            host_tid: u32::MAX - 2,
            ..TaskContext::default()
        };
        let info = TaskTable::default().lookup(&task, Instant::now()).clone();
        assert_eq!(
            (info.pid, info.tid, info.ppid),
            (u32::MAX - 1, u32::MAX - 2, 0)
        );
        assert_eq!((info.mount_ns, info.start_time_ns), (0, 0));
    }
}
