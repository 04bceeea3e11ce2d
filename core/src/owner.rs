//! The owned form of an event's owner: what state keeps of a packet's owner beyond the
//! packet (a flow's local ends), and gives back as an [`EventContext`] for its events.
//! The borrowed form is the [`EventContext`] itself; the fields are defined there.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;

use crate::EventContext;

/// The owner fields of an [`EventContext`] (everything but the time, the CPU, the host
/// name and the owner key), owned: what state keeps of an owner beyond one packet (a
/// flow's local ends).
#[derive(Debug, Clone, Default)]
pub struct Owner {
    thread_start_time: u64,
    process_id: u32,
    cgroup_id: u64,
    thread_id: u32,
    parent_process_id: u32,
    host_process_id: u32,
    host_thread_id: u32,
    host_parent_process_id: u32,
    user_id: u32,
    mount_namespace: u32,
    pid_namespace: u32,
    process_name: Vec<u8>,
    executable: Vec<u8>,
    arguments: Vec<u8>,
    container_id: String,
    container_image: String,
    container_image_digest: String,
    container_name: String,
    pod_name: String,
    pod_namespace: String,
    pod_uid: String,
    container_started: bool,
    container_new: bool,
}

impl Owner {
    /// The owner fields of `ctx`, copied.
    pub fn of(ctx: &EventContext<'_>) -> Owner {
        Owner {
            thread_start_time: ctx.thread_start_time,
            process_id: ctx.process_id,
            cgroup_id: ctx.cgroup_id,
            thread_id: ctx.thread_id,
            parent_process_id: ctx.parent_process_id,
            host_process_id: ctx.host_process_id,
            host_thread_id: ctx.host_thread_id,
            host_parent_process_id: ctx.host_parent_process_id,
            user_id: ctx.user_id,
            mount_namespace: ctx.mount_namespace,
            pid_namespace: ctx.pid_namespace,
            process_name: ctx.process_name.to_vec(),
            executable: ctx.executable.to_vec(),
            arguments: ctx.arguments.to_vec(),
            container_id: ctx.container_id.to_owned(),
            container_image: ctx.container_image.to_owned(),
            container_image_digest: ctx.container_image_digest.to_owned(),
            container_name: ctx.container_name.to_owned(),
            pod_name: ctx.pod_name.to_owned(),
            pod_namespace: ctx.pod_namespace.to_owned(),
            pod_uid: ctx.pod_uid.to_owned(),
            container_started: ctx.container_started,
            container_new: ctx.container_new,
        }
    }

    /// The envelope of an event about this owner at `timestamp` on `host_name`.
    pub fn context<'s>(&'s self, timestamp: u64, host_name: &'s str) -> EventContext<'s> {
        EventContext {
            timestamp,
            thread_start_time: self.thread_start_time,
            process_id: self.process_id,
            cgroup_id: self.cgroup_id,
            thread_id: self.thread_id,
            parent_process_id: self.parent_process_id,
            host_process_id: self.host_process_id,
            host_thread_id: self.host_thread_id,
            host_parent_process_id: self.host_parent_process_id,
            user_id: self.user_id,
            mount_namespace: self.mount_namespace,
            pid_namespace: self.pid_namespace,
            process_name: &self.process_name,
            executable: &self.executable,
            arguments: &self.arguments,
            host_name,
            container_id: &self.container_id,
            container_image: &self.container_image,
            container_image_digest: &self.container_image_digest,
            container_name: &self.container_name,
            pod_name: &self.pod_name,
            pod_namespace: &self.pod_namespace,
            pod_uid: &self.pod_uid,
            container_started: self.container_started,
            container_new: self.container_new,
            ..EventContext::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    #[test]
    fn an_owner_kept_gives_its_envelope_back() {
        let ctx = EventContext {
            timestamp: 7,
            thread_start_time: 11,
            process_id: 2,
            cgroup_id: 9,
            thread_id: 3,
            parent_process_id: 1,
            host_process_id: 4242,
            host_thread_id: 4243,
            host_parent_process_id: 4200,
            user_id: 1000,
            mount_namespace: 4026531841,
            pid_namespace: 4026531836,
            process_name: b"curl",
            host_name: "node-1",
            container_id: "4f6d2b0a41a1",
            container_image: "nginx:1.27",
            container_image_digest: "sha256:00",
            container_name: "web",
            pod_name: "web-7d4b9",
            pod_namespace: "shop",
            pod_uid: "2a0e5a4b",
            container_started: true,
            container_new: true,
            executable: b"/usr/bin/curl",
            arguments: b"curl -s http://example.test/",
            ..EventContext::default()
        };
        let kept = Owner::of(&ctx);
        // Every owner field comes back; the time and host are the caller's.
        assert_eq!(
            format!("{:?}", kept.context(7, "node-1")),
            format!("{ctx:?}")
        );
        let later = kept.context(99, "node-2");
        assert_eq!((later.timestamp, later.host_name), (99, "node-2"));
    }
}
