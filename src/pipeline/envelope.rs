//! The envelope stage: a frame's owner, as the kernel saw it, becomes the
//! [`EventContext`] of its events, completed from the task table. Built once per owner:
//! every context of one task-table entry carries that entry's generation as its
//! `owner_key`, so the JSON encoder renders the owner's fields once and copies them after.

use std::time::Instant;

use netcore_core::EventContext;

use std::path::PathBuf;

use crate::source::Frame;
use crate::state::containers::{Container, Containers};
use crate::state::runtimes::Lookups;
use crate::state::tasks::TaskTable;

/// The owner key of a frame without an owning task or socket (every file-mode frame):
/// its owner fields are all empty.
const NO_OWNER_KEY: u64 = 1;

/// Builds envelopes.
pub struct Envelopes {
    tasks: TaskTable,
    /// The containers, with what their runtimes said of them.
    pub containers: Containers,
    host_name: String,
    /// Frames without a known owning task.
    pub unowned: u64,
    /// Frames of a container whose runtime had not answered yet (they carry its id only).
    pub before_description: u64,
    /// Frames of a container its runtime had described.
    pub described: u64,
}

impl Envelopes {
    /// Envelopes naming `host_name`, with containers found below the cgroup v2 mount
    /// `cgroup_root` (none in file mode) and described through `lookups`.
    pub fn new(host_name: String, cgroup_root: Option<PathBuf>, lookups: Option<Lookups>) -> Self {
        Envelopes {
            tasks: TaskTable::default(),
            containers: Containers::new(cgroup_root, lookups),
            host_name,
            unowned: 0,
            before_description: 0,
            described: 0,
        }
    }

    /// The host name events carry.
    pub fn host_name(&self) -> &str {
        &self.host_name
    }

    /// Entries the task and container tables evicted because they were full.
    pub fn evicted(&self) -> u64 {
        self.tasks.evicted + self.containers.evicted
    }

    /// The envelope of `frame`'s events.
    pub fn context<'s>(&'s mut self, frame: &'s Frame<'_>) -> EventContext<'s> {
        self.context_counted(frame, true)
    }

    /// The envelope of a frame another pipeline handles and this one only learns from
    /// (host mode's copies of DNS answers): as [`Envelopes::context`], but the frame is
    /// not counted (as unowned, described or not yet).
    pub fn context_uncounted<'s>(&'s mut self, frame: &'s Frame<'_>) -> EventContext<'s> {
        self.context_counted(frame, false)
    }

    fn context_counted<'s>(&'s mut self, frame: &'s Frame<'_>, counted: bool) -> EventContext<'s> {
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
        if let Some(recorded) = &frame.recorded {
            return recorded.context(ctx);
        }
        let task = &frame.owner;
        if !task.is_known() {
            // Live: sent by the kernel itself (ICMP replies, RSTs) or by a socket older
            // than the hooks; its socket's cgroup still names the container. Files: always
            // (only the live summary reports it).
            self.unowned += u64::from(counted);
            self.containers.apply_answers();
            if let Some(container) = self.containers.lookup(frame.socket_cgroup_id) {
                if counted {
                    count_description(container, &mut self.described, &mut self.before_description);
                }
                with_container(&mut ctx, container);
            }
            return ctx;
        }
        let revision = self.containers.apply_answers();
        let info = self.tasks.lookup(task, Instant::now());
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
            executable: &info.executable,
            arguments: &info.arguments,
            ..ctx
        };
        // The container of the task's cgroup, from the kernel's view; /proc's only when the
        // cgroup is outside the hierarchy netcore walks.
        match self.containers.lookup(task.cgroup_id) {
            Some(container) => {
                if counted {
                    count_description(container, &mut self.described, &mut self.before_description);
                }
                with_container(&mut ctx, container);
            }
            None => {
                ctx.container_id = &info.container_id;
                ctx.container_started = !info.container_id.is_empty();
            }
        }
        // A runtime's answer changes what the owner's envelope says.
        ctx.owner_key = info.generation ^ (revision << 40);
        ctx
    }
}

/// Counts a frame of `container` as described by its runtime or not yet.
fn count_description(container: &Container, described: &mut u64, before: &mut u64) {
    *(if container.answered {
        described
    } else {
        before
    }) += 1;
}

/// `ctx` with `container`'s fields.
fn with_container<'s>(ctx: &mut EventContext<'s>, container: &'s Container) {
    let description = &container.description;
    ctx.container_id = &container.id;
    ctx.container_name = &description.name;
    ctx.container_image = &description.image;
    ctx.container_image_digest = &description.image_digest;
    ctx.pod_name = &description.pod_name;
    ctx.pod_namespace = &description.pod_namespace;
    ctx.pod_uid = &description.pod_uid;
    // Tracee: set for containers that existed before it or started since.
    ctx.container_started = true;
    ctx.container_new = container.is_new;
}
