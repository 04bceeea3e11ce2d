//! ptcpdump's comment format: a packet's owner as pcapng packet comments, each field a
//! `Key: value` line, fields grouped into comments (`PID:`, `Cmd:`, `Args:`;
//! `ThreadId:`, `ThreadName:`; `UserId:`; `ParentPID:`; `ContainerName:`, `ContainerId:`,
//! `ContainerImage:`; `PodName:`, `PodNamespace:`, `PodUID:`). Written by [`emit`] (for
//! `-w` and `--evidence`) and read by [`parse`] (for `-r`), here side by side so that
//! the two cannot drift apart: what netcore writes, it reads back, and so do ptcpdump and
//! Wireshark.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;

use crate::EventContext;

/// A packet's owner as a pcapng file recorded it in ptcpdump's comment format: `Key:
/// value` lines (`PID`, `Cmd`, `Args`, `ThreadId`, `ThreadName`, `UserId`, `ParentPID`,
/// `ContainerName`, `ContainerId`, `ContainerImage`, `PodName`, `PodNamespace`,
/// `PodUID`), in one comment or several.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordedOwner<'a> {
    /// Host process id.
    pub pid: u32,
    /// Host thread id.
    pub tid: u32,
    /// Parent's host process id.
    pub ppid: u32,
    /// User id.
    pub uid: u32,
    /// The process's command (its executable).
    pub command: &'a str,
    /// Its arguments, space-separated.
    pub arguments: &'a str,
    /// The thread's name.
    pub thread_name: &'a str,
    /// Container id, name and image.
    pub container_id: &'a str,
    /// See `container_id`.
    pub container_name: &'a str,
    /// See `container_id`.
    pub container_image: &'a str,
    /// Kubernetes pod name, namespace and UID.
    pub pod_name: &'a str,
    /// See `pod_name`.
    pub pod_namespace: &'a str,
    /// See `pod_name`.
    pub pod_uid: &'a str,
}

/// How many strings a [`RecordedOwner`] holds.
pub const OWNER_TEXTS: usize = 9;

impl<'a> RecordedOwner<'a> {
    /// `base` (the packet's time, CPU and host) with this owner's fields: the host's ids
    /// stand for the namespace's too, which the comments do not record.
    pub fn context(&self, base: EventContext<'a>) -> EventContext<'a> {
        EventContext {
            process_id: self.pid,
            thread_id: self.tid,
            parent_process_id: self.ppid,
            host_process_id: self.pid,
            host_thread_id: self.tid,
            host_parent_process_id: self.ppid,
            user_id: self.uid,
            process_name: self.thread_name.as_bytes(),
            executable: self.command.as_bytes(),
            arguments: self.arguments.as_bytes(),
            container_id: self.container_id,
            container_name: self.container_name,
            container_image: self.container_image,
            pod_name: self.pod_name,
            pod_namespace: self.pod_namespace,
            pod_uid: self.pod_uid,
            container_started: !self.container_id.is_empty(),
            // Each packet's comments are read apart: never reuse a rendering.
            owner_key: 0,
            ..base
        }
    }

    /// This owner's numbers with each of its [`OWNER_TEXTS`] strings replaced by `f` of
    /// it, called in the same order every time.
    pub fn map_texts<'b>(&self, mut f: impl FnMut(&'a str) -> &'b str) -> RecordedOwner<'b> {
        RecordedOwner {
            pid: self.pid,
            tid: self.tid,
            ppid: self.ppid,
            uid: self.uid,
            command: f(self.command),
            arguments: f(self.arguments),
            thread_name: f(self.thread_name),
            container_id: f(self.container_id),
            container_name: f(self.container_name),
            container_image: f(self.container_image),
            pod_name: f(self.pod_name),
            pod_namespace: f(self.pod_namespace),
            pod_uid: f(self.pod_uid),
        }
    }

    /// Reads one comment's `Key: value` lines into this owner ([`parse`] for a packet's
    /// comments); unknown keys are skipped.
    pub fn read_comment(&mut self, comment: &'a str) {
        for line in comment.lines() {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            let number = || value.parse().unwrap_or(0);
            match key.trim() {
                "PID" => self.pid = number(),
                "ThreadId" | "TID" => self.tid = number(),
                "ParentPID" => self.ppid = number(),
                "UserId" => self.uid = number(),
                "Cmd" | "Command" => self.command = value,
                "Args" => self.arguments = value,
                "ThreadName" => self.thread_name = value,
                "ContainerId" => self.container_id = value,
                "ContainerName" => self.container_name = value,
                "ContainerImage" => self.container_image = value,
                "PodName" => self.pod_name = value,
                "PodNamespace" => self.pod_namespace = value,
                "PodUID" => self.pod_uid = value,
                _ => {}
            }
        }
    }
}

/// The owner recorded in a packet's `comments`; `None` when they name none.
pub fn parse<'a>(comments: impl IntoIterator<Item = &'a str>) -> Option<RecordedOwner<'a>> {
    let mut owner = RecordedOwner::default();
    for comment in comments {
        owner.read_comment(comment);
    }
    (owner != RecordedOwner::default()).then_some(owner)
}

/// The owner of a packet as ptcpdump writes it: one comment per group of fields, each
/// field `Key: value` on its own line; nothing for a packet without an owner.
pub fn emit(ctx: &EventContext<'_>) -> Vec<String> {
    let mut comments = Vec::new();
    // A line break would end the field (a lone CR too, where a reader takes CRLF for one).
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).replace(['\n', '\r'], " ");
    if ctx.host_process_id > 0 {
        let command = if ctx.executable.is_empty() {
            ctx.process_name
        } else {
            ctx.executable
        };
        let mut c = format!(
            "PID: {}\nCmd: {}\nArgs: ",
            ctx.host_process_id,
            text(command)
        );
        let _ = write!(c, "{}", text(ctx.arguments));
        comments.push(c);
        if ctx.host_thread_id > 0 {
            comments.push(format!(
                "ThreadId: {}\nThreadName: {}",
                ctx.host_thread_id,
                text(ctx.process_name)
            ));
        }
        comments.push(format!("UserId: {}", ctx.user_id));
        if ctx.host_parent_process_id > 0 {
            comments.push(format!(
                "ParentPID: {}\nParentCmd: \nParentArgs: ",
                ctx.host_parent_process_id
            ));
        }
    }
    if !ctx.container_id.is_empty() {
        comments.push(format!(
            "ContainerName: {}\nContainerId: {}\nContainerImage: {}\nContainerLabels: ",
            text(ctx.container_name.as_bytes()),
            ctx.container_id,
            text(ctx.container_image.as_bytes())
        ));
    }
    if !ctx.pod_name.is_empty() {
        comments.push(format!(
            "PodName: {}\nPodNamespace: {}\nPodUID: {}\nPodLabels: \nPodAnnotations: ",
            text(ctx.pod_name.as_bytes()),
            text(ctx.pod_namespace.as_bytes()),
            ctx.pod_uid
        ));
    }
    comments
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ptcpdump's comments for a process in a pod's container, as netcore writes them.
    const COMMENTS: [&str; 6] = [
        "PID: 4242\nCmd: /usr/bin/curl\nArgs: curl -s http://example.test/",
        "ThreadId: 4243\nThreadName: curl",
        "UserId: 1000",
        "ParentPID: 4200\nParentCmd: \nParentArgs: ",
        "ContainerName: web\nContainerId: 4f6d2b0a41a1\nContainerImage: docker.io/library/nginx:1.27\nContainerLabels: ",
        "PodName: web-7d4b9\nPodNamespace: shop\nPodUID: 2a0e5a4b-8d7c-4e1f-9b3a-6c5d4e3f2a1b\nPodLabels: \nPodAnnotations: ",
    ];

    fn context() -> EventContext<'static> {
        EventContext {
            host_process_id: 4242,
            host_thread_id: 4243,
            host_parent_process_id: 4200,
            user_id: 1000,
            process_name: b"curl",
            executable: b"/usr/bin/curl",
            arguments: b"curl -s http://example.test/",
            container_id: "4f6d2b0a41a1",
            container_name: "web",
            container_image: "docker.io/library/nginx:1.27",
            pod_name: "web-7d4b9",
            pod_namespace: "shop",
            pod_uid: "2a0e5a4b-8d7c-4e1f-9b3a-6c5d4e3f2a1b",
            ..EventContext::default()
        }
    }

    #[test]
    fn emits_ptcpdumps_comments() {
        assert_eq!(emit(&context()), COMMENTS);
    }

    #[test]
    fn parses_ptcpdumps_comments() {
        let owner = parse(COMMENTS).expect("an owner");
        assert_eq!(
            owner,
            RecordedOwner {
                pid: 4242,
                tid: 4243,
                ppid: 4200,
                uid: 1000,
                command: "/usr/bin/curl",
                arguments: "curl -s http://example.test/",
                thread_name: "curl",
                container_id: "4f6d2b0a41a1",
                container_name: "web",
                container_image: "docker.io/library/nginx:1.27",
                pod_name: "web-7d4b9",
                pod_namespace: "shop",
                pod_uid: "2a0e5a4b-8d7c-4e1f-9b3a-6c5d4e3f2a1b",
            }
        );
    }

    #[test]
    fn what_is_emitted_parses_back() {
        let comments = emit(&context());
        let owner = parse(comments.iter().map(String::as_str)).expect("an owner");
        // The envelope read back is the one written, the namespace's ids being the host's
        // (the comments record no other) and the container started.
        let ctx = context();
        let expected = EventContext {
            process_id: ctx.host_process_id,
            thread_id: ctx.host_thread_id,
            parent_process_id: ctx.host_parent_process_id,
            container_started: true,
            ..ctx
        };
        let read = owner.context(EventContext::default());
        assert_eq!(format!("{read:?}"), format!("{expected:?}"));
    }

    #[test]
    fn no_owner_no_comments_and_hostile_text_stays_on_its_line() {
        assert!(emit(&EventContext::default()).is_empty());
        assert_eq!(parse(["", "Nonsense", "Key: value"]), None);
        // A newline in a command line must not forge another field.
        let ctx = EventContext {
            arguments: b"sh -c 'x\nPID: 1'",
            ..context()
        };
        let comments = emit(&ctx);
        assert_eq!(
            comments[0],
            "PID: 4242\nCmd: /usr/bin/curl\nArgs: sh -c 'x PID: 1'"
        );
        assert_eq!(
            parse(comments.iter().map(String::as_str)).unwrap().pid,
            4242
        );
        // Numbers that are not numbers read as 0, as an unknown owner.
        assert_eq!(parse(["PID: x", "UserId: 7"]).unwrap().pid, 0);
    }
}
