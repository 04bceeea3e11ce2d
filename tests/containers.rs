//! Containers of real runtimes, live, as root: Podman, containerd and Docker (Debian's
//! packages), each started by its test with its own state directories and API socket,
//! running a busybox image built offline. In each container a listener and a client that
//! lives for one connection talk over the container's loopback; every event of that
//! traffic must carry the container's full id, name, image and Kubernetes pod (from its
//! labels), the process ids of the container's own pid namespace, and pass the container
//! scope filter the test sets.
//!
//! These tests need root. Outside CI they skip with a loud message when not root; under
//! `CI=true` they fail instead.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
use common::live::{Netcore, arg, named, root_or_skip};

/// The workload every test runs in its container: a listener on `port` and a client
/// that connects once, sends a line and exits.
fn workload(port: u16) -> String {
    format!("nc -l -p {port} & sleep 0.3; echo hi | nc 127.0.0.1 {port}; sleep 0.5")
}

/// What the events of a container must say.
struct Expected<'a> {
    id: &'a str,
    name: &'a str,
    /// The image as the runtime names it (a prefix: runtimes add a tag or registry).
    image: &'a str,
    pod_name: &'a str,
    pod_namespace: &'a str,
    pod_uid: &'a str,
}

/// A unique name for this test process: `netcore-test-WHAT-PID`.
fn unique(what: &str) -> String {
    format!("netcore-test-{what}-{}", std::process::id())
}

/// Labels that make a container a Kubernetes pod's, as the kubelet sets them.
fn pod_labels(expected: &Expected<'_>) -> Vec<String> {
    [
        ("io.kubernetes.pod.name", expected.pod_name),
        ("io.kubernetes.pod.namespace", expected.pod_namespace),
        ("io.kubernetes.pod.uid", expected.pod_uid),
    ]
    .iter()
    .flat_map(|(k, v)| ["--label".to_owned(), format!("{k}={v}")])
    .collect()
}

/// A busybox root file system as a tar stream on disk, made without a registry.
struct BusyboxTar(PathBuf);

impl BusyboxTar {
    fn new() -> BusyboxTar {
        // One per test: the tests of this process run in parallel.
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(unique(&format!("busybox{seq}")));
        let root = dir.join("root");
        std::fs::create_dir_all(root.join("bin")).unwrap();
        std::fs::copy("/bin/busybox", root.join("bin/busybox")).unwrap();
        for applet in ["sh", "nc", "sleep", "echo"] {
            let _ = std::os::unix::fs::symlink("busybox", root.join("bin").join(applet));
        }
        let tar = dir.join("root.tar");
        run_ok(
            Command::new("tar")
                .arg("-C")
                .arg(&root)
                .arg("-cf")
                .arg(&tar)
                .arg("."),
        );
        BusyboxTar(dir)
    }

    fn tar(&self) -> PathBuf {
        self.0.join("root.tar")
    }
}

impl Drop for BusyboxTar {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `command` to completion; fails the test with its stderr when it fails.
fn run_ok(command: &mut Command) -> String {
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A daemon started for one test, with its state below `dir`; killed and removed on drop.
struct Daemon {
    child: Child,
    dir: PathBuf,
    socket: PathBuf,
}

impl Daemon {
    /// Starts `command` and waits for its API socket `socket` to appear.
    fn start(mut command: Command, dir: PathBuf, socket: PathBuf) -> Daemon {
        let log = std::fs::File::create(dir.join("daemon.log")).unwrap();
        let child = command
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {command:?}: {e}"));
        let daemon = Daemon { child, dir, socket };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !daemon.socket.exists() {
            let log = std::fs::read_to_string(daemon.dir.join("daemon.log")).unwrap_or_default();
            assert!(
                Instant::now() < deadline,
                "{command:?} did not start: {log}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        daemon
    }

    fn socket(&self) -> &str {
        self.socket.to_str().unwrap()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // SAFETY: signalling our own child; SIGTERM lets the daemon unmount what it mounted.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = Command::new("umount")
            .args(["-R", "-l"])
            .arg(&self.dir)
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A fresh directory for one daemon's state.
fn state_dir(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(unique(what));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The TCP events of the container's exchange on `port`, once both connection ends have
/// been seen (at least six segments).
fn exchange_events(netcore: &Netcore, port: u16) -> Vec<Value> {
    let on_port = |e: &&Value| arg(e, "dst_port") == port || arg(e, "src_port") == port;
    let events = netcore.events_for("127.0.0.1", Duration::from_secs(15), |events| {
        named(events, "net_packet_tcp").filter(on_port).count() >= 6
    });
    let ours: Vec<Value> = named(&events, "net_packet_tcp")
        .filter(on_port)
        .cloned()
        .collect();
    assert!(ours.len() >= 6, "the connection's segments: {events:#?}");
    ours
}

/// Checks every event of the exchange against `expected`; `v024` for Tracee v0.24's
/// nested envelope.
fn assert_described(events: &[Value], expected: &Expected<'_>, port: u16, v024: bool) {
    for event in events {
        let (container, pod) = if v024 {
            let c = &event["container"];
            let k = &event["kubernetes"];
            assert!(
                c["imageDigest"]
                    .as_str()
                    .is_some_and(|d| d.starts_with("sha256:")),
                "{event}"
            );
            (
                (&c["id"], &c["name"], &c["image"]),
                (&k["podName"], &k["podNamespace"], &k["podUID"]),
            )
        } else {
            (
                (
                    &event["containerId"],
                    &event["containerName"],
                    &event["containerImage"],
                ),
                (&event["podName"], &event["podNamespace"], &event["podUID"]),
            )
        };
        assert_eq!(container.0, expected.id, "{event}");
        assert_eq!(container.1, expected.name, "{event}");
        assert!(
            container
                .2
                .as_str()
                .is_some_and(|i| i.contains(expected.image)),
            "image {}: {event}",
            expected.image
        );
        assert_eq!(pod.0, expected.pod_name, "{event}");
        assert_eq!(pod.1, expected.pod_namespace, "{event}");
        assert_eq!(pod.2, expected.pod_uid, "{event}");
        assert_eq!(event["contextFlags"]["containerStarted"], true, "{event}");
        // Ids of the container's pid namespace, where the shell is 1 and the two nc are
        // its children.
        let (pid, host_pid) = (&event["processId"], &event["hostProcessId"]);
        assert!(pid.as_u64().is_some_and(|p| p > 1 && p < 100), "{event}");
        assert_ne!(pid, host_pid, "{event}");
        assert_eq!(event["parentProcessId"], 1, "{event}");
        assert_eq!(event["processName"], "nc", "{event}");
    }
    // The client (it sent the SYN) lived only for that connection, and is attributed too.
    let syn = events
        .iter()
        .find(|e| arg(e, "proto_tcp")["SYN"] == 1 && arg(e, "dst_port") == port);
    assert!(syn.is_some(), "the client's SYN: {events:#?}");
}

/// The summary's line on containers, after SIGINT.
fn containers_summary(netcore: Netcore) -> String {
    let (status, summary) = netcore.interrupt();
    assert!(status.success());
    let summary = summary.expect("a summary");
    assert!(summary.contains("described by their runtimes"), "{summary}");
    summary
}

/// Podman's command line as this machine's kernel needs it (hybrid cgroups, sandboxed
/// rlimits), with the state of this test's own store.
fn podman(dir: &Path) -> Command {
    let mut command = Command::new("podman");
    command
        .arg("--root")
        .arg(dir.join("storage"))
        .arg("--runroot")
        .arg(dir.join("run"))
        .args(["--runtime", "runc", "--cgroup-manager=cgroupfs"])
        .args(["--storage-driver", "vfs"]);
    command
}

#[test]
fn podman_containers_are_named_and_the_name_filter_selects_one() {
    if !root_or_skip("podman_containers_are_named_and_the_name_filter_selects_one") {
        return;
    }
    let dir = state_dir("podman");
    let image = "localhost/netcore-test-busybox:1";
    let busybox = BusyboxTar::new();
    run_ok(podman(&dir).args(["import", busybox.tar().to_str().unwrap(), image]));
    let socket = dir.join("podman.sock");
    let mut service = podman(&dir);
    service.args(["system", "service", "--time=0"]);
    service.arg(format!("unix://{}", socket.display()));
    let daemon = Daemon::start(service, dir.clone(), socket);

    let name = unique("web");
    // Two decoding threads share one lookup thread: each container is asked about once.
    let netcore = Netcore::start(&[
        "--threads",
        "2",
        "--events",
        "net_packet_tcp",
        "--podman-socket",
        daemon.socket(),
        "--filter",
        &format!("containerName={name}"),
    ]);
    let expected = Expected {
        id: "",
        name: &name,
        image,
        pod_name: "web-6c9f7",
        pod_namespace: "shop",
        pod_uid: "2a0e5a4b-8d7c-4e1f-9b3a-6c5d4e3f2a1b",
    };
    let run = |name: &str, port: u16, labels: &[String]| {
        run_ok(
            podman(&dir)
                .args(["run", "--rm", "--network=none", "--name", name])
                .args([
                    "--ulimit",
                    "nofile=1024:1024",
                    "--ulimit",
                    "nproc=1024:1024",
                ])
                .args(labels)
                .args([image, "sh", "-c", &workload(port)]),
        );
    };
    // Another container first: the name filter must leave its traffic out.
    run(&unique("other"), 7020, &[]);
    let cidfile = dir.join("cid");
    let labels = pod_labels(&expected);
    let mut with_cid = labels.clone();
    with_cid.extend(["--cidfile".to_owned(), cidfile.display().to_string()]);
    run(&name, 7021, &with_cid);
    let id = std::fs::read_to_string(&cidfile).unwrap().trim().to_owned();
    assert_eq!(id.len(), 64, "{id}");
    let events = exchange_events(&netcore, 7021);
    assert_described(
        &events,
        &Expected {
            id: &id,
            ..expected
        },
        7021,
        false,
    );
    let summary = containers_summary(netcore);
    assert!(
        !events.iter().any(|e| arg(e, "dst_port") == 7020),
        "the other container is filtered out"
    );
    // Two containers, each described once (a lookup thread per decoding thread said 4).
    assert!(
        summary.contains("containers: 2 described by their runtimes"),
        "{summary}"
    );
    eprintln!("podman: {summary}");
    drop(daemon);
}

#[test]
fn containerd_containers_carry_their_pod_and_image_digest() {
    if !root_or_skip("containerd_containers_carry_their_pod_and_image_digest") {
        return;
    }
    let dir = state_dir("containerd");
    let socket = dir.join("containerd.sock");
    let config = format!(
        "version = 2\nroot = \"{0}/root\"\nstate = \"{0}/state\"\n\
         disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
         [grpc]\n  address = \"{1}\"\n[ttrpc]\n  address = \"{1}.ttrpc\"\n",
        dir.display(),
        socket.display()
    );
    std::fs::write(dir.join("config.toml"), config).unwrap();
    let mut containerd = Command::new("containerd");
    containerd.arg("--config").arg(dir.join("config.toml"));
    let daemon = Daemon::start(containerd, dir.clone(), socket);
    let ctr = || {
        let mut command = Command::new("ctr");
        command.args(["-a", daemon.socket(), "-n", "netcore-test"]);
        command
    };
    // An OCI archive of the busybox image, made by Podman in a store of its own.
    let podman_dir = dir.join("podman");
    let image = "localhost/netcore-test-busybox:1";
    let busybox = BusyboxTar::new();
    run_ok(podman(&podman_dir).args(["import", busybox.tar().to_str().unwrap(), image]));
    let archive = dir.join("busybox-oci.tar");
    run_ok(
        podman(&podman_dir)
            .args(["save", "--format", "oci-archive", "-o"])
            .arg(&archive)
            .arg(image),
    );
    run_ok(
        ctr()
            .args(["images", "import", "--snapshotter", "native", "--base-name"])
            .arg("localhost/netcore-test-busybox")
            .arg(&archive),
    );

    let namespace = unique("data");
    let netcore = Netcore::start(&[
        "--events",
        "net_packet_tcp",
        "--schema",
        "tracee-0.24",
        "--containerd-socket",
        daemon.socket(),
        "--filter",
        &format!("podNamespace={namespace}"),
    ]);
    // Kubernetes names containers with 64 hex digits; so does this test.
    let id: String = format!("{:016x}", std::process::id() as u64 * 0x9e37_79b9)
        .repeat(4)
        .chars()
        .take(64)
        .collect();
    let expected = Expected {
        id: &id,
        name: "postgres",
        image,
        pod_name: "db-0",
        pod_namespace: &namespace,
        pod_uid: "11111111-2222-3333-4444-555555555555",
    };
    run_ok(
        ctr()
            .args(["run", "--rm", "--snapshotter", "native"])
            .args(pod_labels(&expected))
            .args(["--label", "io.kubernetes.container.name=postgres"])
            .args([image, &id, "sh", "-c", &workload(7022)]),
    );
    let events = exchange_events(&netcore, 7022);
    assert_described(&events, &expected, 7022, true);
    eprintln!("containerd: {}", containers_summary(netcore));
    drop(daemon);
}

#[test]
fn docker_containers_started_after_netcore_are_new() {
    if !root_or_skip("docker_containers_started_after_netcore_are_new") {
        return;
    }
    let dir = state_dir("docker");
    let socket = dir.join("docker.sock");
    let mut dockerd = Command::new("dockerd");
    dockerd
        .arg("--data-root")
        .arg(dir.join("data"))
        .arg("--exec-root")
        .arg(dir.join("exec"))
        .arg("--pidfile")
        .arg(dir.join("docker.pid"))
        .arg("-H")
        .arg(format!("unix://{}", socket.display()))
        .args(["--iptables=false", "--ip6tables=false", "--bridge=none"])
        .args(["--exec-opt", "native.cgroupdriver=cgroupfs"])
        .args(["--default-ulimit", "nofile=1024:1024"])
        .args(["--default-ulimit", "nproc=1024:1024"]);
    let daemon = Daemon::start(dockerd, dir.clone(), socket);
    let docker = || {
        let mut command = Command::new("/usr/bin/docker");
        command.args(["-H", &format!("unix://{}", daemon.socket())]);
        command
    };
    let image = "netcore-test-busybox:1";
    let busybox = BusyboxTar::new();
    run_ok(docker().args(["import", busybox.tar().to_str().unwrap(), image]));

    let netcore = Netcore::start(&[
        "--events",
        "net_packet_tcp",
        "--docker-socket",
        daemon.socket(),
        "--filter",
        "container=new",
    ]);
    let name = unique("api");
    let expected = Expected {
        id: "",
        name: &name,
        image,
        pod_name: "api-0",
        pod_namespace: "edge",
        pod_uid: "99999999-8888-7777-6666-555555555555",
    };
    let id = run_ok(
        docker()
            .args(["run", "-d", "--network", "none", "--name", &name])
            .args(pod_labels(&expected))
            .args([image, "sh", "-c", &workload(7023)]),
    );
    let events = exchange_events(&netcore, 7023);
    let _ = docker().args(["rm", "-f", &name]).output();
    assert_described(
        &events,
        &Expected {
            id: &id,
            ..expected
        },
        7023,
        false,
    );
    eprintln!("docker: {}", containers_summary(netcore));
    drop(daemon);
}
