//! Owners with hostile names written as ptcpdump's pcapng comments and read back (what
//! `-w` writes and `-r` reads): the ids come back exactly, every text as it was written
//! (UTF-8, line breaks turned to spaces, trimmed), and no text forges another field.
//! Comments of any bytes read without panicking.
//!
//! Input layout: 16 bytes of ids (pid, tid, ppid, uid), then the texts separated by 0
//! bytes: process name, executable, arguments, container name, image, pod name, pod
//! namespace; the whole input is also read as comments.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netcore_core::EventContext;
use netcore_core::owner_comment::{emit, parse};

/// A text as a comment carries it.
fn written(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).replace(['\n', '\r'], " ").trim().to_owned()
}

fuzz_target!(|input: &[u8]| {
    let comments = String::from_utf8_lossy(input);
    let _ = parse(comments.split('\0'));
    let Some((ids, texts)) = input.split_at_checked(16) else { return };
    let id = |i: usize| u32::from_le_bytes(ids[4 * i..4 * i + 4].try_into().unwrap()) % 1_000_000;
    let mut fields = texts.split(|&b| b == 0);
    let mut next = || fields.next().unwrap_or_default();
    let (process_name, executable, arguments) = (next(), next(), next());
    let container_name = String::from_utf8_lossy(next()).into_owned();
    let container_image = String::from_utf8_lossy(next()).into_owned();
    let pod_name = String::from_utf8_lossy(next()).into_owned();
    let pod_namespace = String::from_utf8_lossy(next()).into_owned();
    let ctx = EventContext {
        host_process_id: id(0).max(1),
        host_thread_id: id(1).max(1),
        host_parent_process_id: id(2).max(1),
        user_id: id(3),
        process_name,
        executable,
        arguments,
        container_id: "4f6d2b0a41a1",
        container_name: &container_name,
        container_image: &container_image,
        pod_name: &pod_name,
        pod_namespace: &pod_namespace,
        pod_uid: "2a0e5a4b-8d7c-4e1f-9b3a-6c5d4e3f2a1b",
        ..Default::default()
    };
    let comments = emit(&ctx);
    let owner = parse(comments.iter().map(String::as_str)).expect("an owner is written");
    assert_eq!(
        (owner.pid, owner.tid, owner.ppid, owner.uid),
        (ctx.host_process_id, ctx.host_thread_id, ctx.host_parent_process_id, ctx.user_id)
    );
    let command = if executable.is_empty() { process_name } else { executable };
    assert_eq!(owner.command, written(command));
    assert_eq!(owner.arguments, written(arguments));
    assert_eq!(owner.thread_name, written(process_name));
    assert_eq!(owner.container_name, written(container_name.as_bytes()));
    assert_eq!(owner.container_image, written(container_image.as_bytes()));
    assert_eq!(owner.container_id, ctx.container_id);
    // The pod's comment is written for a pod with a name.
    let pod = match pod_name.is_empty() {
        true => (String::new(), String::new(), ""),
        false => (written(pod_name.as_bytes()), written(pod_namespace.as_bytes()), ctx.pod_uid),
    };
    assert_eq!((owner.pod_name, owner.pod_namespace, owner.pod_uid), (pod.0.as_str(), pod.1.as_str(), pod.2));
});
