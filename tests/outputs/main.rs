//! `--output`: several outputs and formats at once, file rotation, refused URLs, and
//! delivery to real brokers started by the tests themselves — a NATS server (Debian's
//! `nats-server -js`) and a Kafka-protocol broker (tansu, SQLite storage), read back with
//! independent clients (async-nats; rskafka). Live tests (as root) stop each
//! broker mid-run and restart it: netcore must survive, count what it lost, and deliver
//! again.
//!
//! OTLP ([`otlp`]) goes to receivers the tests start too: Python's grpcio with the
//! `opentelemetry-proto` package, and receivers of this crate's own from
//! `opentelemetry-proto`'s generated types.
//!
//! Without a broker installed the broker tests skip loudly; under `CI=true` they fail
//! (scripts/setup.sh installs them).

use std::collections::{HashMap, HashSet};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

#[path = "../common/mod.rs"]
mod common;
mod otlp;
use common::live::{Netcore, root_or_skip};
use common::{netcore, root};

fn golden(name: &str) -> String {
    root().join("tests/golden").join(name).display().to_string()
}

fn test_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("netcore-outputs-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn outputs_in_several_formats_at_once() {
    let dir = test_dir("formats");
    let (json, text) = (dir.join("events.json"), dir.join("events.txt"));
    let reference = netcore(&["-r", &golden("ethernet.pcap"), "--json"]);
    let out = netcore(&[
        "-r",
        &golden("ethernet.pcap"),
        "--output",
        "stdout?format=text",
        "--output",
        &format!("file:{}", json.display()),
        "--output",
        &format!("file:{}?format=text-events", text.display()),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The JSON file holds what --json prints; the text file one line per event; stdout
    // one line per packet.
    let want = String::from_utf8(reference.stdout).unwrap();
    assert_eq!(std::fs::read_to_string(&json).unwrap(), want);
    assert_eq!(lines(&text).len(), want.lines().count());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.lines().count() < want.lines().count());
    assert!(stdout.lines().all(|l| l.contains(" > ")), "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "file:{}: {} events delivered, 0 dropped",
            json.display(),
            want.lines().count()
        )),
        "{stderr}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn file_outputs_rotate_by_size_and_keep_the_newest() {
    // 6,000 TCP segments: about 10 MB of JSON.
    let packets = (0..6000u32)
        .map(|i| common::ipv4_tcp(([10, 0, 0, 1], 40000), ([10, 0, 0, 2], 80), i, 0x10, b""))
        .collect();
    let capture = common::capture("rotate.pcap", 1_700_000_000, packets);
    let dir = test_dir("rotate");
    let path = dir.join("events.json");
    let reference = netcore(&["-r", capture.to_str().unwrap(), "--json"]);
    let out = netcore(&[
        "-r",
        capture.to_str().unwrap(),
        "--output",
        &format!("file:{}?max-size=1&max-files=2", path.display()),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        common::file_names(&dir),
        ["events.json", "events.json.1", "events.json.2"]
    );
    // Each file within the limit and made of whole events; together the newest events,
    // in order.
    let mut kept = Vec::new();
    for name in ["events.json.2", "events.json.1", "events.json"] {
        let file = dir.join(name);
        assert!(
            std::fs::metadata(&file).unwrap().len() <= 1 << 20,
            "{name} too big"
        );
        for line in lines(&file) {
            serde_json::from_str::<Value>(&line).unwrap();
            kept.push(line);
        }
    }
    let all: Vec<String> = String::from_utf8(reference.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert!(kept.len() > 1000 && kept.len() < all.len());
    assert_eq!(kept, all[all.len() - kept.len()..]);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn bad_outputs_are_refused_with_the_problem_named() {
    for (output, says) in [
        ("kafka://broker/events", "`broker`: expected HOST:PORT"),
        ("nats://127.0.0.1:4222", "no topic or subject"),
        (
            "kafka://127.0.0.1:9092/t?no.such.setting=1",
            "No such configuration property",
        ),
        (
            "file:/nonexistent-dir/events.json",
            "file:/nonexistent-dir/events.json: No such file",
        ),
        ("syslog://x", "unknown output"),
        ("otlp://", "expected HOST[:PORT]"),
        ("otlp://collector:70000", "the port is no number"),
        (
            "otlp+http://c:4318?compression=brotli",
            "compression=brotli",
        ),
        (
            "otlp://c:4317?ca=/nonexistent/ca.pem",
            "ca=/nonexistent/ca.pem",
        ),
        (
            "otlp://c:4317?headers=x-token",
            "header `x-token`: expected NAME=VALUE",
        ),
        ("otlp://c:4317?format=text", "format=json only"),
        ("otlp://c:4317?timeout=5", "unknown option `timeout`"),
        (
            "stdout?format=yaml",
            "format=yaml: expected json, text or text-events",
        ),
    ] {
        let out = netcore(&["-r", &golden("ethernet.pcap"), "--output", output]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{output}: {stderr}");
        assert!(stderr.contains(says), "{output}: {stderr}");
    }
}

/// Whether `program` is installed; a test without it skips loudly, and fails under CI.
fn installed(program: &str, test: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{test}: {program} is not installed (scripts/setup.sh installs it)");
        }
        eprintln!("\n*** SKIPPED {test}: {program} is not installed ***\n");
    }
    found
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on port {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A broker process started by a test; killed on drop.
struct Broker {
    child: Child,
    port: u16,
    start: Box<dyn Fn() -> Child>,
}

impl Broker {
    fn start(port: u16, start: impl Fn() -> Child + 'static) -> Broker {
        let child = start();
        wait_for_port(port);
        Broker {
            child,
            port,
            start: Box::new(start),
        }
    }

    /// Kills the broker (as a crash would).
    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again, on the same port and storage.
    fn restart(&mut self) {
        self.child = (self.start)();
        wait_for_port(self.port);
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `nats-server -js` on a free port, its JetStream store in `dir`.
fn nats_server(dir: &Path) -> Broker {
    let port = free_port();
    let store = dir.join("jetstream");
    Broker::start(port, move || {
        Command::new("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(&store)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting nats-server")
    })
}

/// tansu, the Kafka-protocol broker, on a free port, its SQLite storage in `dir`.
fn kafka_broker(dir: &Path) -> Broker {
    let port = free_port();
    let dir = dir.to_owned();
    Broker::start(port, move || {
        let url = format!("tcp://127.0.0.1:{port}");
        // tansu reads the SQLite path relative to its working directory.
        Command::new("tansu")
            .current_dir(&dir)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "sqlite://tansu.db"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting tansu")
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Creates a JetStream stream `NETCORE` binding `subject`.
fn create_stream(port: u16, subject: &str) {
    runtime().block_on(async {
        let client = async_nats::connect(format!("127.0.0.1:{port}"))
            .await
            .unwrap();
        let jetstream = async_nats::jetstream::new(client);
        jetstream
            .create_stream(async_nats::jetstream::stream::Config {
                name: "NETCORE".into(),
                subjects: vec![subject.into()],
                ..Default::default()
            })
            .await
            .unwrap();
    });
}

/// Deletes stream `NETCORE`.
fn delete_stream(port: u16) {
    runtime().block_on(async {
        let client = async_nats::connect(format!("127.0.0.1:{port}"))
            .await
            .unwrap();
        let jetstream = async_nats::jetstream::new(client);
        jetstream.delete_stream("NETCORE").await.unwrap();
    });
}

/// Every message of stream `NETCORE`, in stream order.
fn stream_messages(port: u16) -> Vec<String> {
    runtime().block_on(async {
        let client = async_nats::connect(format!("127.0.0.1:{port}"))
            .await
            .unwrap();
        let jetstream = async_nats::jetstream::new(client);
        let mut stream = jetstream.get_stream("NETCORE").await.unwrap();
        let last = stream.info().await.unwrap().state.last_sequence;
        let mut messages = Vec::new();
        for sequence in 1..=last {
            if let Ok(message) = stream.get_raw_message(sequence).await {
                messages.push(String::from_utf8(message.payload.to_vec()).unwrap());
            }
        }
        messages
    })
}

/// Asserts `delivered` holds each line of `written` at most once, in `written`'s order.
fn assert_once_in_order(delivered: &[String], written: &[String]) {
    let mut position: HashMap<&str, usize> = HashMap::new();
    for (i, line) in written.iter().enumerate() {
        assert!(
            position.insert(line, i).is_none(),
            "an event written twice: {line}"
        );
    }
    let mut last = None;
    for line in delivered {
        let at = position.get(line.as_str()).copied();
        let at = at.unwrap_or_else(|| panic!("delivered but never written: {line}"));
        assert!(last < Some(at), "delivered twice or out of order: {line}");
        last = Some(at);
    }
}

/// Reads the golden capture into `output` and into a file in `dir`; returns netcore's
/// stderr and the events the file got, in order.
fn deliver_golden(output: &str, dir: &Path) -> (String, Vec<String>) {
    let written = dir.join("written.json");
    let file = format!("file:{}", written.display());
    let capture = golden("ethernet.pcap");
    let out = netcore(&["-r", &capture, "--output", output, "--output", &file]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    (stderr, lines(&written))
}

#[test]
fn events_reach_nats_jetstream_exactly_once_in_order() {
    if !installed(
        "nats-server",
        "events_reach_nats_jetstream_exactly_once_in_order",
    ) {
        return;
    }
    let dir = test_dir("nats");
    let nats = nats_server(&dir);
    create_stream(nats.port, "netcore.events");
    let output = format!("nats://127.0.0.1:{}/netcore.events", nats.port);
    let (stderr, written) = deliver_golden(&output, &dir);
    assert!(
        stderr.contains("JetStream stream NETCORE binds netcore.events"),
        "{stderr}"
    );
    assert_eq!(written.len(), 204);
    assert_eq!(stream_messages(nats.port), written);
    assert!(
        stderr.contains(": 204 events delivered, 0 dropped (queue full), 0 lost"),
        "{stderr}"
    );
    drop(nats);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn events_reach_core_nats_subscribers() {
    if !installed("nats-server", "events_reach_core_nats_subscribers") {
        return;
    }
    let dir = test_dir("nats-core");
    let nats = nats_server(&dir);
    let runtime = runtime();
    let received = runtime.block_on(async {
        use futures_util::StreamExt as _;
        let client = async_nats::connect(format!("127.0.0.1:{}", nats.port))
            .await
            .unwrap();
        let mut subscriber = client.subscribe("netcore.core").await.unwrap();
        client.flush().await.unwrap();
        let out = tokio::task::spawn_blocking(move || {
            netcore(&[
                "-r",
                &golden("sll.pcap"),
                "--output",
                &format!("nats://127.0.0.1:{}/netcore.core", nats.port),
            ])
        })
        .await
        .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{stderr}");
        assert!(
            stderr.contains("no JetStream stream binds netcore.core"),
            "{stderr}"
        );
        let mut received = Vec::new();
        while let Ok(Some(message)) =
            tokio::time::timeout(Duration::from_secs(2), subscriber.next()).await
        {
            received.push(String::from_utf8(message.payload.to_vec()).unwrap());
        }
        received
    });
    let reference = netcore(&["-r", &golden("sll.pcap"), "--json"]);
    let want: Vec<String> = String::from_utf8(reference.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(received, want);
    std::fs::remove_dir_all(dir).unwrap();
}

/// Creates `topic` with `partitions` partitions on the broker at `port`.
fn create_topic(port: u16, topic: &str, partitions: u32) {
    let status = Command::new("tansu")
        .args([
            "topic",
            "create",
            "--broker",
            &format!("tcp://127.0.0.1:{port}"),
        ])
        .args(["--partitions", &partitions.to_string(), topic])
        .status()
        .unwrap();
    assert!(status.success(), "tansu topic create {topic}");
}

/// Every message of `topic`'s `partitions`, as (partition, key, payload), each partition
/// in offset order, read with rskafka (a Kafka client of its own, not librdkafka).
fn topic_messages(port: u16, topic: &str, partitions: i32) -> Vec<(i32, String, String)> {
    use rskafka::client::ClientBuilder;
    use rskafka::client::partition::UnknownTopicHandling;
    runtime().block_on(async {
        let client = ClientBuilder::new(vec![format!("127.0.0.1:{port}")])
            .build()
            .await
            .expect("connecting to the Kafka broker");
        let mut messages = Vec::new();
        for partition in 0..partitions {
            let reader = client
                .partition_client(topic, partition, UnknownTopicHandling::Retry)
                .await
                .unwrap();
            let mut offset = 0;
            loop {
                let (records, high_watermark) = reader
                    .fetch_records(offset, 1..10_000_000, 100)
                    .await
                    .unwrap();
                for record in records {
                    offset = record.offset + 1;
                    let text =
                        |b: Option<Vec<u8>>| String::from_utf8(b.unwrap_or_default()).unwrap();
                    let (key, value) = (text(record.record.key), text(record.record.value));
                    messages.push((partition, key, value));
                }
                if offset >= high_watermark {
                    break;
                }
            }
        }
        messages
    })
}

/// An address and a port.
type Endpoint = (String, u64);

/// The TCP or UDP connection of a transport event: its protocol and its endpoints, the
/// lower first.
fn connection(event: &Value) -> Option<(String, Endpoint, Endpoint)> {
    let name = event["eventName"].as_str()?;
    if name != "net_packet_tcp" && name != "net_packet_udp" {
        return None;
    }
    let arg = |n: &str| {
        event["args"]
            .as_array()?
            .iter()
            .find(|a| a["name"] == n)
            .map(|a| a["value"].clone())
    };
    let a = (arg("src")?.as_str()?.to_owned(), arg("src_port")?.as_u64()?);
    let b = (arg("dst")?.as_str()?.to_owned(), arg("dst_port")?.as_u64()?);
    Some((name.to_owned(), a.clone().min(b.clone()), a.max(b)))
}

#[test]
fn events_reach_kafka_exactly_once_in_order_per_flow() {
    if !installed("tansu", "events_reach_kafka_exactly_once_in_order_per_flow") {
        return;
    }
    let dir = test_dir("kafka");
    let kafka = kafka_broker(&dir);
    create_topic(kafka.port, "netcore", 3);
    let output = format!("kafka://127.0.0.1:{}/netcore", kafka.port);
    let (stderr, written) = deliver_golden(&output, &dir);
    assert!(
        stderr.contains(": 204 events delivered, 0 dropped (queue full), 0 lost"),
        "{stderr}"
    );
    let messages = topic_messages(kafka.port, "netcore", 3);
    // Every event once; within each partition in the order written.
    assert_eq!(messages.len(), written.len());
    let mut partitions: HashMap<i32, Vec<String>> = HashMap::new();
    let mut partition_of_key: HashMap<String, i32> = HashMap::new();
    let mut partition_of_connection = HashMap::new();
    for (partition, key, payload) in &messages {
        partitions
            .entry(*partition)
            .or_default()
            .push(payload.clone());
        assert_eq!(
            *partition_of_key.entry(key.clone()).or_insert(*partition),
            *partition
        );
        let event: Value = serde_json::from_str(payload).unwrap();
        if let Some(connection) = connection(&event) {
            let first = *partition_of_connection
                .entry(connection.clone())
                .or_insert(*partition);
            assert_eq!(first, *partition, "{connection:?} in two partitions");
        }
    }
    assert!(partitions.len() > 1, "every flow in one partition");
    for delivered in partitions.values() {
        assert_once_in_order(delivered, &written);
    }
    let all: HashSet<&String> = messages.iter().map(|(_, _, p)| p).collect();
    assert_eq!(all.len(), written.len());
    drop(kafka);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_missing_kafka_topic_is_named_at_once_and_its_events_counted() {
    let test = "a_missing_kafka_topic_is_named_at_once_and_its_events_counted";
    if !installed("tansu", test) {
        return;
    }
    let dir = test_dir("kafka-missing");
    let kafka = kafka_broker(&dir);
    let output = format!("kafka://127.0.0.1:{}/absent", kafka.port);
    let (stderr, written) = deliver_golden(&output, &dir);
    let named = format!("output {output}: the brokers refuse topic \"absent\" (");
    assert_eq!(stderr.matches(&named).count(), 1, "named once: {stderr}");
    let outputs = stderr.lines().find(|l| l.starts_with("netcore: outputs:"));
    assert_eq!(
        output_counts(outputs.expect("the outputs line"), &output),
        (0, 0, written.len() as u64),
        "{stderr}"
    );
    drop(kafka);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_jetstream_stream_deleted_mid_run_is_named_and_its_events_counted() {
    let test = "a_jetstream_stream_deleted_mid_run_is_named_and_its_events_counted";
    if !root_or_skip(test) || !installed("nats-server", test) {
        return;
    }
    let dir = test_dir(test);
    let nats = nats_server(&dir);
    create_stream(nats.port, "netcore.gone");
    let output = format!("nats://127.0.0.1:{}/netcore.gone", nats.port);
    let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
    let filter = format!("port={}", receiver.local_addr().unwrap().port());
    let netcore = Netcore::start(&[
        "--events",
        "net_packet_udp",
        "--filter",
        &filter,
        "--output",
        &output,
    ]);
    send_datagrams(&receiver, 10);
    let deadline = Instant::now() + Duration::from_secs(20);
    while stream_messages(nats.port).len() < 20 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(stream_messages(nats.port).len(), 20, "delivered before");
    delete_stream(nats.port);
    send_datagrams(&receiver, 10);
    let named = netcore.wait_stderr(
        "no JetStream stream binds netcore.gone any more (no responders)",
        Duration::from_secs(15),
    );
    assert!(named.is_some(), "the stream's end named");
    // SAFETY: signalling our own child.
    unsafe { libc::kill(netcore.child.id() as i32, libc::SIGINT) };
    let outputs = netcore.wait_stderr("netcore: outputs:", Duration::from_secs(30));
    let outputs = outputs.expect("the outputs line");
    assert_eq!(output_counts(&outputs, &output), (20, 0, 20), "{outputs}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// Sends `count` UDP datagrams from loopback to `port`, where `receiver` listens.
fn send_datagrams(receiver: &UdpSocket, count: usize) {
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = receiver.local_addr().unwrap();
    for i in 0..count {
        sender
            .send_to(format!("datagram {i}").as_bytes(), to)
            .unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// What the summary line says of output `name`: (delivered, dropped, lost).
fn output_counts(summary: &str, name: &str) -> (u64, u64, u64) {
    let at = summary
        .rfind(&format!("{name}: "))
        .unwrap_or_else(|| panic!("{name} in {summary}"));
    let numbers: Vec<u64> = summary[at + name.len() + 2..]
        .split(' ')
        .take(9)
        .filter_map(|w| w.parse().ok())
        .collect();
    (numbers[0], numbers[1], numbers[2])
}

/// A live run through a broker that is killed and restarted mid-run: `delivered()` reads
/// what reached the broker. Asserts netcore survived, delivered what it did exactly once
/// in order, counted every event it did not deliver, and delivered again after the
/// restart. With `queue` batches of queue, events are dropped while the broker is away,
/// and the traffic starts once netcore says `ready` (its outputs connect after the capture
/// has started, when it holds no privileges any more).
fn survives_a_broker_restart(
    test: &str,
    output: &str,
    (queue, ready): (Option<&str>, Option<&str>),
    broker: &mut Broker,
    delivered: &dyn Fn() -> Vec<String>,
) -> (u64, u64) {
    let dir = test_dir(&format!("{test}-live"));
    let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = receiver.local_addr().unwrap().port().to_string();
    let written = dir.join("written.json");
    let filter = format!("port={port}");
    let file = format!("file:{}", written.display());
    let mut args = vec!["--events", "net_packet_udp", "--filter", &filter];
    args.extend(["--output", output, "--output", &file]);
    if let Some(batches) = queue {
        args.extend(["--output-queue", batches]);
    }
    let mut netcore = Netcore::start(&args);
    if let Some(ready) = ready {
        let said = netcore.wait_stderr(ready, Duration::from_secs(20));
        assert!(said.is_some(), "{test}: no '{ready}'");
    }
    let wait_for = |count: usize| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while delivered().len() < count && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
        }
        delivered().len()
    };
    send_datagrams(&receiver, 50);
    // Each datagram is seen leaving and arriving: two events.
    assert_eq!(wait_for(100), 100, "{test}: before the restart");
    broker.stop();
    send_datagrams(&receiver, 50);
    std::thread::sleep(Duration::from_secs(2));
    broker.restart();
    send_datagrams(&receiver, 50);
    let after = wait_for(200);
    assert!(after > 100, "{test}: nothing delivered after the restart");
    // SAFETY: signalling our own child.
    unsafe { libc::kill(netcore.child.id() as i32, libc::SIGINT) };
    let outputs = netcore.wait_stderr("netcore: outputs:", Duration::from_secs(30));
    let outputs = outputs.unwrap_or_else(|| panic!("{test}: no outputs line"));
    let status = netcore.child.wait().unwrap();
    assert!(status.success(), "{test}: {status}");
    let written = lines(&written);
    assert_eq!(written.len(), 300, "{test}: events written to the file");
    let delivered = delivered();
    assert_once_in_order(&delivered, &written);
    let (counted_delivered, dropped, lost) = output_counts(&outputs, output);
    assert_eq!(counted_delivered as usize, delivered.len(), "{outputs}");
    assert_eq!(counted_delivered + dropped + lost, 300, "{outputs}");
    std::fs::remove_dir_all(dir).unwrap();
    (dropped, lost)
}

/// [`survives_a_broker_restart`] through a JetStream stream binding `subject`, with
/// `queue` batches of queue; returns what was dropped and lost. None when skipped.
fn nats_restart(test: &str, subject: &str, queue: Option<&str>) -> Option<(u64, u64)> {
    if !root_or_skip(test) || !installed("nats-server", test) {
        return None;
    }
    let dir = test_dir(test);
    let mut nats = nats_server(&dir);
    create_stream(nats.port, subject);
    let port = nats.port;
    let output = format!("nats://127.0.0.1:{port}/{subject}");
    let ready = format!("binds {subject}: events are acknowledged");
    let ready = Some(ready.as_str());
    let counted = survives_a_broker_restart(test, &output, (queue, ready), &mut nats, &|| {
        stream_messages(port)
    });
    std::fs::remove_dir_all(dir).unwrap();
    Some(counted)
}

#[test]
fn nats_restart_mid_run_is_survived_and_counted() {
    // A queue long enough for the outage: everything arrives, once (JetStream drops the
    // copies of what is published again).
    let test = "nats_restart_mid_run_is_survived_and_counted";
    if let Some(counted) = nats_restart(test, "netcore.live", None) {
        assert_eq!(counted, (0, 0));
    }
}

#[test]
fn a_full_queue_drops_and_counts_while_the_broker_is_away() {
    let test = "a_full_queue_drops_and_counts_while_the_broker_is_away";
    if let Some((dropped, _)) = nats_restart(test, "netcore.small", Some("1")) {
        assert!(dropped > 0, "nothing dropped with a queue of one batch");
    }
}

#[test]
fn kafka_restart_mid_run_is_survived_and_counted() {
    let test = "kafka_restart_mid_run_is_survived_and_counted";
    if !root_or_skip(test) || !installed("tansu", test) {
        return;
    }
    let dir = test_dir("kafka-restart");
    let mut kafka = kafka_broker(&dir);
    create_topic(kafka.port, "live", 1);
    let port = kafka.port;
    let output = format!("kafka://127.0.0.1:{port}/live");
    let (dropped, lost) =
        survives_a_broker_restart(test, &output, (None, None), &mut kafka, &|| {
            topic_messages(port, "live", 1)
                .into_iter()
                .map(|(_, _, m)| m)
                .collect()
        });
    // librdkafka holds the events and retries: none lost to a short outage.
    assert_eq!((dropped, lost), (0, 0));
    std::fs::remove_dir_all(dir).unwrap();
}

/// `GET path` on the metrics server at `addr`: the status line and the body.
fn scrape(addr: &str, path: &str) -> (String, String) {
    use std::io::{Read, Write};
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_owned(), body.to_owned())
}

#[test]
fn metrics_are_served_in_prometheus_text_format_with_the_kernel_time() {
    let test = "metrics_are_served_in_prometheus_text_format_with_the_kernel_time";
    if !root_or_skip(test) {
        return;
    }
    let dir = test_dir("metrics");
    let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
    let filter = format!("port={}", receiver.local_addr().unwrap().port());
    // A port alone: served on loopback.
    let port = free_port().to_string();
    let addr = format!("127.0.0.1:{port}");
    let file = format!("file:{}", dir.join("events.json").display());
    let netcore = Netcore::start(&[
        "--events",
        "net_packet_udp",
        "--filter",
        &filter,
        "--metrics",
        &port,
        "--output",
        &file,
        "--stats",
        "1",
    ]);
    send_datagrams(&receiver, 20);
    std::thread::sleep(Duration::from_millis(2500));
    let (status, page) = scrape(&addr, "/metrics");
    assert_eq!(status, "HTTP/1.1 200 OK");
    // Every sample: a declared family, labels in braces, a number.
    let mut samples = HashMap::new();
    for line in page.lines().filter(|l| !l.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').unwrap();
        let name = series.split('{').next().unwrap();
        assert!(
            page.contains(&format!("# TYPE {name} ")),
            "{name} undeclared"
        );
        assert!(!series.contains('{') || series.ends_with('}'), "{line}");
        samples.insert(series.to_owned(), value.parse::<u64>().unwrap());
    }
    assert_eq!(
        samples[r#"netcore_events_total{event="net_packet_udp"}"#], 40,
        "{page}"
    );
    assert_eq!(
        samples[r#"netcore_events_total{event="net_packet_tcp"}"#],
        0
    );
    assert!(samples["netcore_packets_total"] >= 40);
    let delivered =
        format!(r#"netcore_output_events_total{{output="{file}",outcome="delivered"}}"#);
    assert_eq!(samples[&delivered], 40, "{page}");
    assert_eq!(
        samples[&format!(r#"netcore_output_up{{output="{file}"}}"#)],
        1
    );
    assert!(samples.contains_key(r#"netcore_dropped_total{stage="ring_buffer"}"#));
    // --stats has the kernel time netcore's programs: the capture program ran for each
    // packet (and for the other traffic of the host, which the filter dropped).
    let runs = samples[r#"netcore_kernel_program_runs_total{role="capture"}"#];
    assert!(runs >= 40, "{page}");
    assert!(samples[r#"netcore_kernel_program_nanoseconds_total{role="capture"}"#] > runs);
    assert_eq!(scrape(&addr, "/other").0, "HTTP/1.1 404 Not Found");
    let (status, summary) = netcore.interrupt();
    assert!(status.success());
    let summary = summary.unwrap_or_default();
    assert!(summary.contains("kernel time: "), "{summary}");
    assert!(summary.contains(" capture "), "{summary}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_broker_that_never_answers_is_named_and_its_events_counted_lost() {
    let port = free_port(); // nothing listens there
    for output in [
        format!("nats://127.0.0.1:{port}/netcore.events"),
        format!("kafka://127.0.0.1:{port}/netcore"),
    ] {
        let started = Instant::now();
        let out = netcore(&["-r", &golden("ethernet.pcap"), "--output", &output]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{output}: {stderr}");
        assert!(stderr.contains("not answer yet"), "{output}: {stderr}");
        let summary = stderr
            .lines()
            .find(|l| l.starts_with("netcore: outputs:"))
            .unwrap();
        assert_eq!(output_counts(summary, &output), (0, 0, 204), "{summary}");
        // The run ends once the drain time (10 s) is up, not at the delivery timeout.
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{output}: {:?}",
            started.elapsed()
        );
    }
}
