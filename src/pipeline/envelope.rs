//! The envelope stage: a frame's owner, as the kernel saw it, becomes the
//! [`EventContext`] of its events, completed from the task table. Built once per owner:
//! every context of one task-table entry carries that entry's generation as its
//! `owner_key`, so the JSON encoder renders the owner's fields once and copies them after.

use std::time::Instant;

use netcore_core::EventContext;

use std::path::PathBuf;

use crate::source::Frame;
use crate::state::containers::Containers;
use crate::state::tasks::TaskTable;

/// The owner key of a frame without an owning task or socket (every file-mode frame):
/// its owner fields are all empty.
const NO_OWNER_KEY: u64 = 1;

/// Builds envelopes.
pub struct Envelopes {
    tasks: TaskTable,
    containers: Containers,
    host_name: String,
    /// Frames without a known owning task.
    pub unowned: u64,
}

impl Envelopes {
    /// Envelopes naming `host_name`, with containers found below the cgroup v2 mount
    /// `cgroup_root` (none in file mode).
    pub fn new(host_name: String, cgroup_root: Option<PathBuf>) -> Self {
        Envelopes {
            tasks: TaskTable::default(),
            containers: Containers::new(cgroup_root),
            host_name,
            unowned: 0,
        }
    }

    /// Entries the task and container tables evicted because they were full.
    pub fn evicted(&self) -> u64 {
        self.tasks.evicted + self.containers.evicted
    }

    /// The envelope of `frame`'s events.
    pub fn context<'s>(&'s mut self, frame: &'s Frame<'_>) -> EventContext<'s> {
        let mut ctx = EventContext {
            timestamp: frame.timestamp_ns,
            processor_id: frame.cpu,
            cgroup_id: frame.socket_cgroup_id,
            host_name: &self.host_name,
            owner_key: if frame.socket_cgroup_id == 0 {
                NO_OWNER_KEY
            } else {
                0
            },
            ..Default::default()
        };
        let task = &frame.owner;
        if !task.is_known() {
            // Live: sent by the kernel itself (ICMP replies, RSTs) or by a socket older
            // than the hooks; its socket's cgroup still names the container. Files: always
            // (only the live summary reports it).
            self.unowned += 1;
            if let Some(container) = self.containers.lookup(frame.socket_cgroup_id) {
                ctx.container_id = &container.id;
                ctx.pod_uid = &container.pod_uid;
                ctx.container_started = true;
            }
            return ctx;
        }
        let info = self.tasks.lookup(task, Instant::now());
        // The container of the task's cgroup, from the kernel's view; /proc's only when the
        // cgroup is outside the hierarchy netcore walks.
        let (container_id, pod_uid) = match self.containers.lookup(task.cgroup_id) {
            Some(container) => (container.id.as_str(), container.pod_uid.as_str()),
            None => (info.container_id.as_str(), ""),
        };
        // The AF_XDP path records no thread name: take /proc's.
        let comm = match task.comm() {
            [] => &info.comm[..],
            comm => comm,
        };
        ctx = EventContext {
            thread_start_time: info.start_time_ns,
            process_id: info.pid,
            cgroup_id: task.cgroup_id,
            thread_id: info.tid,
            parent_process_id: info.ppid,
            host_process_id: task.host_pid,
            host_thread_id: task.host_tid,
            host_parent_process_id: info.host_ppid,
            user_id: task.uid,
            mount_namespace: info.mount_ns,
            pid_namespace: info.pid_ns,
            process_name: comm,
            container_id,
            pod_uid,
            container_started: !container_id.is_empty(),
            owner_key: info.generation,
            ..ctx
        };
        ctx
    }
}
