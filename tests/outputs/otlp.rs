//! `--output otlp…` against receivers the tests start: the independent one
//! (`tests/data/otlp/receiver.py`: grpcio and PyPI's `opentelemetry-proto`) over gRPC and
//! over HTTP with gzip and a path prefix, and this crate's own, from
//! `opentelemetry-proto`'s generated types (a tonic gRPC server; an HTTP/1.1 one that
//! decodes the bodies with prost). Every event of the captures arrives once, in order,
//! its body the JSON line a file output got and its attributes equal to what that JSON
//! says; a receiver that refuses, rejects part of a request or is not there is counted;
//! live (as root), a receiver killed and restarted mid-run is survived.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point};
use prost::Message;
use serde_json::{Value, json};

use super::*;
use common::{owned_syns, temp_file};

/// Whether python3 with grpcio and opentelemetry-proto is there; skips loudly, and fails
/// under `CI=true` (scripts/setup.sh installs them).
fn python_receiver_available(test: &str) -> bool {
    let found = Command::new("python3")
        .args([
            "-c",
            "import grpc, opentelemetry.proto.collector.logs.v1.logs_service_pb2_grpc",
        ])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!(
                "{test}: python3 lacks grpcio or opentelemetry-proto (scripts/setup.sh installs them)"
            );
        }
        eprintln!("\n*** SKIPPED {test}: python3 lacks grpcio or opentelemetry-proto ***\n");
    }
    found
}

/// The Python receiver on a free port (`transport` `grpc` or `http`, HTTP under
/// `prefix`), appending what it gets to `records` (so that a restart keeps the earlier).
fn python_receiver(transport: &str, prefix: &str, records: &Path) -> Broker {
    python_receiver_with(transport, prefix, records, &[])
}

/// [`python_receiver`] with more of its options (`--tls CERT KEY`, `--unavailable N`).
fn python_receiver_with(transport: &str, prefix: &str, records: &Path, options: &[&str]) -> Broker {
    let port = free_port();
    let script = root().join("tests/data/otlp/receiver.py");
    let (transport, prefix, records) =
        (transport.to_owned(), prefix.to_owned(), records.to_owned());
    let options: Vec<String> = options.iter().map(|o| o.to_string()).collect();
    Broker::start(port, move || {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&records)
            .unwrap();
        Command::new("python3")
            .arg(&script)
            .args([&transport, &port.to_string(), &prefix])
            .args(&options)
            .stdout(out)
            .stderr(Stdio::null())
            .spawn()
            .expect("starting the OTLP receiver")
    })
}

/// What the Python receiver printed: the log records (`metrics`: the data points).
fn python_received(path: &Path, metrics: bool) -> Vec<Value> {
    lines(path)
        .iter()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|r| r.get("metric").is_some() == metrics)
        .collect()
}

/// The log records the Python receiver got.
fn python_records(path: &Path) -> Vec<Value> {
    python_received(path, false)
}

/// An `AnyValue` as the Python receiver prints it.
fn any_value_json(value: &Option<AnyValue>) -> Value {
    match value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => json!(s),
        Some(any_value::Value::IntValue(n)) => json!(n),
        Some(any_value::Value::BoolValue(b)) => json!(b),
        Some(any_value::Value::DoubleValue(d)) => json!(d),
        Some(any_value::Value::ArrayValue(a)) => Value::Array(
            a.values
                .iter()
                .map(|v| any_value_json(&Some(v.clone())))
                .collect(),
        ),
        other => panic!("an attribute of an unexpected kind: {other:?}"),
    }
}

fn attributes_json(attributes: &[KeyValue]) -> Value {
    let map: serde_json::Map<String, Value> = attributes
        .iter()
        .map(|kv| (kv.key.clone(), any_value_json(&kv.value)))
        .collect();
    Value::Object(map)
}

/// A request's log records as the Python receiver prints them.
fn records_json(request: &ExportLogsServiceRequest) -> Vec<Value> {
    let mut records = Vec::new();
    for resource_logs in &request.resource_logs {
        let resource = attributes_json(
            &resource_logs
                .resource
                .clone()
                .unwrap_or_default()
                .attributes,
        );
        for scope_logs in &resource_logs.scope_logs {
            for record in &scope_logs.log_records {
                records.push(json!({
                    "time": record.time_unix_nano,
                    "severity": record.severity_number,
                    "severity_text": record.severity_text,
                    "event_name": record.event_name,
                    "body": any_value_json(&record.body),
                    "attributes": attributes_json(&record.attributes),
                    "resource": resource,
                    "scope": scope_logs.scope.clone().unwrap_or_default().name,
                }));
            }
        }
    }
    records
}

/// A request's data points as the Python receiver prints them.
fn points_json(request: &ExportMetricsServiceRequest) -> Vec<Value> {
    let mut points = Vec::new();
    for metric in request
        .resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
    {
        let (kind, monotonic, data) = match &metric.data {
            Some(metric::Data::Sum(sum)) => ("sum", json!(sum.is_monotonic), &sum.data_points),
            Some(metric::Data::Gauge(gauge)) => ("gauge", Value::Null, &gauge.data_points),
            other => panic!("{}: unexpected data {other:?}", metric.name),
        };
        for point in data {
            let value = match point.value {
                Some(number_data_point::Value::AsInt(n)) => json!(n),
                Some(number_data_point::Value::AsDouble(d)) => json!(d),
                None => Value::Null,
            };
            points.push(json!({
                "metric": metric.name, "kind": kind, "monotonic": monotonic,
                "value": value, "attributes": attributes_json(&point.attributes),
            }));
        }
    }
    points
}

/// What this crate's receivers got, and what they answer.
#[derive(Default)]
struct Received {
    records: Mutex<Vec<Value>>,
    points: Mutex<Vec<Value>>,
    /// Log records to reject (partial success) in each answer.
    reject: i64,
    /// Log requests answered.
    requests: std::sync::atomic::AtomicU64,
    /// The `x-tenant` header (gRPC metadata) of the last log request.
    tenant: Mutex<Option<String>>,
}

struct Logs(Arc<Received>);
struct Metrics(Arc<Received>);

#[tonic::async_trait]
impl LogsService for Logs {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        let tenant = request
            .metadata()
            .get("x-tenant")
            .and_then(|v| v.to_str().ok());
        *self.0.tenant.lock().unwrap() = tenant.map(str::to_owned);
        let records = records_json(request.get_ref());
        let rejected = self.0.reject.min(records.len() as i64);
        self.0
            .requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.0.records.lock().unwrap().extend(records);
        Ok(tonic::Response::new(ExportLogsServiceResponse {
            partial_success: (rejected > 0).then(|| ExportLogsPartialSuccess {
                rejected_log_records: rejected,
                error_message: "too many attributes".into(),
            }),
        }))
    }
}

#[tonic::async_trait]
impl MetricsService for Metrics {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        self.0
            .points
            .lock()
            .unwrap()
            .extend(points_json(request.get_ref()));
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

/// This crate's gRPC receiver (opentelemetry-proto's generated services on tonic) on a
/// free port, answering with partial success for `reject` records a request.
fn rust_grpc_receiver(reject: i64) -> (u16, Arc<Received>) {
    let received = Arc::new(Received {
        reject,
        ..Received::default()
    });
    let port = free_port();
    let (logs, metrics) = (Logs(received.clone()), Metrics(received.clone()));
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            tonic::transport::Server::builder()
                .add_service(
                    LogsServiceServer::new(logs)
                        .accept_compressed(tonic::codec::CompressionEncoding::Gzip),
                )
                .add_service(MetricsServiceServer::new(metrics))
                .serve(([127, 0, 0, 1], port).into())
                .await
                .unwrap()
        })
    });
    wait_for_port(port);
    (port, received)
}

/// This crate's OTLP/HTTP receiver: HTTP/1.1 (keep-alive) on a free port, `POST
/// /v1/logs` and `/v1/metrics` bodies decoded with opentelemetry-proto's types.
fn rust_http_receiver() -> (u16, Arc<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = Arc::new(Received::default());
    let shared = received.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let received = shared.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut writer = stream;
                loop {
                    let mut request_line = String::new();
                    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut length = 0;
                    loop {
                        let mut header = String::new();
                        reader.read_line(&mut header).unwrap();
                        let header = header.trim_end();
                        if header.is_empty() {
                            break;
                        }
                        if let Some((name, value)) = header.split_once(':')
                            && name.eq_ignore_ascii_case("content-length")
                        {
                            length = value.trim().parse().unwrap();
                        }
                    }
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).unwrap();
                    let answer = match request_line.split(' ').nth(1) {
                        Some("/v1/logs") => {
                            let request = ExportLogsServiceRequest::decode(&body[..]).unwrap();
                            received
                                .records
                                .lock()
                                .unwrap()
                                .extend(records_json(&request));
                            ExportLogsServiceResponse::default().encode_to_vec()
                        }
                        Some("/v1/metrics") => {
                            let request = ExportMetricsServiceRequest::decode(&body[..]).unwrap();
                            received
                                .points
                                .lock()
                                .unwrap()
                                .extend(points_json(&request));
                            ExportMetricsServiceResponse::default().encode_to_vec()
                        }
                        path => panic!("POST to {path:?}"),
                    };
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: {}\r\n\r\n",
                        answer.len()
                    );
                    writer.write_all(head.as_bytes()).unwrap();
                    writer.write_all(&answer).unwrap();
                }
            });
        }
    });
    (port, received)
}

/// The owner in ptcpdump's comments, with bytes that must not break anything.
const OWNER: [&str; 5] = [
    "PID: 4242\nCmd: /usr/bin/cu\"rl\nArgs: -s http://shop.example.test/\u{7}",
    "ThreadId: 4243\nThreadName: cu\"rl\\\u{1b}[31m",
    "UserId: 1000",
    "ContainerName: web\nContainerId: 4f6d2b0a41a1\nContainerImage: registry:5000/shop/web:1.27\nContainerLabels: ",
    "PodName: web-6c9f7\nPodNamespace: shop\nPodUID: 2a0e5a4b-8d7c-4e1f-9b3a-6c5d4e3f2a1b\nPodLabels: \nPodAnnotations: ",
];

/// A port scan by an owned process: 30 SYNs to 30 ports of one host, each with its owner
/// (flows, a `port_scan` finding, packet events with every owner attribute).
fn owned_port_scan() -> PathBuf {
    temp_file("otlp-owned-scan.pcapng", &owned_syns(30, &OWNER).bytes)
}

/// Reads each capture into `output` and a file output; returns, per capture, the file's
/// lines, with netcore's stderr.
fn deliver_captures(output: &str, dir: &Path) -> Vec<(Vec<String>, String)> {
    let scan = owned_port_scan();
    let captures = [
        golden("ethernet.pcap"),
        golden("sll2.pcap"),
        scan.display().to_string(),
    ];
    captures
        .iter()
        .enumerate()
        .map(|(i, capture)| {
            let written = dir.join(format!("written-{i}.json"));
            // A file output appends: each receiver's run starts afresh.
            let _ = std::fs::remove_file(&written);
            let file = format!("file:{}", written.display());
            let out = netcore(&[
                "-r",
                capture,
                "--events",
                "all,net_flow,net_dns_transaction,port_scan",
                "--signatures",
                "builtin",
                "--output",
                output,
                "--output",
                &file,
            ]);
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            assert!(out.status.success(), "{capture}: {stderr}");
            (lines(&written), stderr)
        })
        .collect()
}

/// Asserts that `records` are the events of `written`, once and in order, each with the
/// attributes its JSON implies; and that the run counted them all delivered.
fn assert_records_match(records: &[Value], written: &[String], stderr: &str, output: &str) {
    let bodies: Vec<String> = records
        .iter()
        .map(|r| r["body"].as_str().unwrap().to_owned())
        .collect();
    // Once each and in order: the file's lines exactly (a capture may repeat a packet).
    assert_eq!(
        bodies.len(),
        written.len(),
        "{output}: records vs events written"
    );
    for (i, (body, line)) in bodies.iter().zip(written).enumerate() {
        assert_eq!(body, line, "{output}: record {i}");
    }
    assert_eq!(
        output_counts(stderr, output),
        (written.len() as u64, 0, 0),
        "{stderr}"
    );
    for record in records {
        let event: Value = serde_json::from_str(record["body"].as_str().unwrap()).unwrap();
        let attributes = &record["attributes"];
        let context = format!("{output}: {record:#}");
        assert_eq!(record["event_name"], event["eventName"], "{context}");
        assert_eq!(attributes["event.name"], event["eventName"], "{context}");
        assert_eq!(record["time"], event["timestamp"], "{context}");
        assert_eq!(record["resource"]["service.name"], "netcore", "{context}");
        assert!(
            !record["resource"]["host.name"]
                .as_str()
                .unwrap_or("")
                .is_empty(),
            "{context}"
        );
        assert_eq!(record["scope"], "netcore", "{context}");
        let is_finding = event["eventId"].as_str().unwrap().parse::<u32>().unwrap() >= 6000;
        // Events are INFO; findings as severe as the signature says.
        let severity = match event["metadata"]["Properties"]["Severity"].as_i64() {
            _ if !is_finding => "INFO",
            Some(0) => "INFO",
            Some(1) => "WARN",
            Some(2) => "ERROR",
            _ => "FATAL",
        };
        assert_eq!(record["severity_text"], severity, "{context}");
        // The owner, when there is one, as the envelope says.
        if event["hostProcessId"] != 0 {
            for (attribute, key) in [
                ("process.pid", "hostProcessId"),
                ("process.parent_pid", "hostParentProcessId"),
                ("thread.id", "hostThreadId"),
                ("user.id", "userId"),
                ("process.executable.name", "processName"),
                ("netcore.process.namespace_pid", "processId"),
                ("netcore.cgroup.id", "cgroupId"),
                ("container.id", "containerId"),
                ("container.name", "containerName"),
                ("k8s.pod.name", "podName"),
                ("k8s.pod.uid", "podUID"),
                ("k8s.namespace.name", "podNamespace"),
            ] {
                assert_eq!(attributes[attribute], event[key], "{attribute} {context}");
            }
            let image = format!(
                "{}:{}",
                attributes["container.image.name"].as_str().unwrap(),
                attributes["container.image.tags"][0].as_str().unwrap()
            );
            assert_eq!(
                image,
                event["containerImage"].as_str().unwrap(),
                "{context}"
            );
        } else {
            assert!(attributes.get("process.pid").is_none(), "{context}");
        }
        // The endpoints, as the arguments (or a DNS event's metadata) say.
        let arg = |name: &str| {
            event["args"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["name"] == name)
                .map(|a| a["value"].clone())
        };
        let metadata = arg("metadata").unwrap_or(Value::Null);
        for (attribute, names) in [
            ("source.address", ["src", "src_ip"]),
            ("destination.address", ["dst", "dst_ip"]),
            ("source.port", ["src_port", "src_port"]),
            ("destination.port", ["dst_port", "dst_port"]),
        ] {
            // ICMP's "ports" (type and code) are no ports.
            let ported = matches!(
                attributes["network.transport"].as_str(),
                Some("tcp" | "udp")
            );
            if attribute.ends_with(".port") && !ported {
                assert!(attributes.get(attribute).is_none(), "{attribute} {context}");
                continue;
            }
            let expected = match (arg(names[0]), metadata.get(names[1])) {
                (Some(value), _) if !is_finding => value,
                (_, Some(value)) => value.clone(),
                _ => continue,
            };
            assert_eq!(attributes[attribute], expected, "{attribute} {context}");
        }
        if let Some(protocol) = arg("proto") {
            let transport = protocol.as_str().unwrap().to_ascii_lowercase();
            assert!(
                transport.starts_with(attributes["network.transport"].as_str().unwrap()),
                "{context}"
            );
        }
        if is_finding {
            assert_eq!(
                attributes["netcore.signature.id"], event["eventId"],
                "{context}"
            );
        }
    }
}

#[test]
fn captures_reach_otlp_receivers_once_with_their_attributes() {
    let test = "captures_reach_otlp_receivers_once_with_their_attributes";
    let dir = test_dir(test);
    // Each receiver: the output URL, what it received so far, and its process.
    type Receiver = (String, Box<dyn Fn() -> Vec<Value>>, Option<Broker>);
    let mut receivers: Vec<Receiver> = Vec::new();
    // This crate's receivers, from opentelemetry-proto's generated types.
    let (port, grpc) = rust_grpc_receiver(0);
    receivers.push((
        format!("otlp://127.0.0.1:{port}?compression=gzip"),
        Box::new(move || grpc.records.lock().unwrap().clone()),
        None,
    ));
    let (port, http) = rust_http_receiver();
    receivers.push((
        format!("otlp+http://127.0.0.1:{port}"),
        Box::new(move || http.records.lock().unwrap().clone()),
        None,
    ));
    // The independent one, when it can run.
    if python_receiver_available(test) {
        for (transport, prefix, options) in
            [("grpc", "", ""), ("http", "/otlp", "?compression=gzip")]
        {
            let records = dir.join(format!("python-{transport}.jsonl"));
            let receiver = python_receiver(transport, prefix, &records);
            let scheme = if transport == "grpc" {
                "otlp"
            } else {
                "otlp+http"
            };
            let output = format!("{scheme}://127.0.0.1:{}{prefix}{options}", receiver.port);
            receivers.push((
                output,
                Box::new(move || python_records(&records)),
                Some(receiver),
            ));
        }
    }
    for (output, received, _receiver) in &receivers {
        let runs = deliver_captures(output, &dir);
        let records = received();
        let mut taken = 0;
        for (written, stderr) in &runs {
            assert_records_match(
                &records[taken..taken + written.len()],
                written,
                stderr,
                output,
            );
            taken += written.len();
        }
        assert_eq!(taken, records.len(), "{output}: more records than events");
        let names: std::collections::HashSet<&str> = records
            .iter()
            .map(|r| r["event_name"].as_str().unwrap())
            .collect();
        for name in [
            "net_packet_tcp",
            "net_packet_dns_response",
            "net_flow",
            "net_dns_transaction",
            "port_scan",
        ] {
            assert!(names.contains(name), "{output}: no {name} record");
        }
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn rejected_refused_and_unreachable_receivers_are_counted_and_named() {
    let test = "rejected_refused_and_unreachable_receivers_are_counted_and_named";
    let dir = test_dir(test);
    let capture = golden("ethernet.pcap");
    let events = |stderr: &str, output: &str| {
        let (delivered, dropped, lost) = output_counts(stderr, output);
        assert_eq!(dropped, 0, "{stderr}");
        (delivered, lost)
    };
    // Two records of each request rejected (partial success): counted lost, named once.
    let (port, received) = rust_grpc_receiver(2);
    let output = format!("otlp://127.0.0.1:{port}");
    let out = netcore(&["-r", &capture, "--output", &output]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let got = received.records.lock().unwrap().len() as u64;
    let requests = received.requests.load(std::sync::atomic::Ordering::Relaxed);
    let (delivered, lost) = events(&stderr, &output);
    assert_eq!((delivered + lost, lost), (got, 2 * requests), "{stderr}");
    assert_eq!(
        stderr
            .matches("the receiver rejected 2 records: too many attributes")
            .count(),
        1,
        "{stderr}"
    );
    // A path the receiver does not serve: refused, every event counted lost, named.
    let records = dir.join("refused.jsonl");
    if python_receiver_available(test) {
        let receiver = python_receiver("http", "/otlp", &records);
        let output = format!("otlp+http://127.0.0.1:{}/elsewhere", receiver.port);
        let out = netcore(&["-r", &capture, "--output", &output]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert_eq!(events(&stderr, &output).0, 0, "{stderr}");
        assert!(stderr.contains("HTTP 404"), "{stderr}");
    }
    // A receiver of logs only: the events delivered, the counters' refusal named once.
    if python_receiver_available(test) {
        let records = dir.join("logs-only.jsonl");
        let receiver = python_receiver_with("http", "", &records, &["--logs-only"]);
        let output = format!("otlp+http://127.0.0.1:{}", receiver.port);
        let out = netcore(&["-r", &capture, "--output", &output]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let (delivered, lost) = events(&stderr, &output);
        assert_eq!(
            (delivered, lost),
            (python_records(&records).len() as u64, 0),
            "{stderr}"
        );
        assert!(stderr.contains("metrics: HTTP 404"), "{stderr}");
        assert!(
            stderr.contains("the counters are not sent there any more"),
            "{stderr}"
        );
    }
    // Nothing listening: retried until the run's end, then counted; the run ends in
    // bounded time (the 10 s drain).
    let closed = free_port();
    for output in [
        format!("otlp://127.0.0.1:{closed}"),
        format!("otlp+http://127.0.0.1:{closed}"),
    ] {
        let started = Instant::now();
        let out = netcore(&["-r", &capture, "--output", &output]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{output}: {:?}",
            started.elapsed()
        );
        let written = stderr
            .split(" events written")
            .next()
            .unwrap()
            .rsplit(' ')
            .next()
            .unwrap();
        assert_eq!(
            events(&stderr, &output),
            (0, written.parse().unwrap()),
            "{stderr}"
        );
        assert!(
            stderr.contains("Connection refused"),
            "{output}: the failure named: {stderr}"
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// A CA and a certificate it signed for localhost and 127.0.0.1, made with openssl in
/// `dir`: (the CA's PEM, the certificate's, its key's).
fn test_certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "1",
        "-subj",
        "/CN=netcore test CA",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "leaf.key",
        "-out",
        "leaf.csr",
        "-subj",
        "/CN=localhost",
    ]);
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "leaf.pem",
        "-days",
        "1",
        "-extfile",
        "leaf.ext",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("leaf.pem"),
        dir.join("leaf.key"),
    )
}

#[test]
fn tls_with_a_given_ca_and_a_receivers_retry_after() {
    let test = "tls_with_a_given_ca_and_a_receivers_retry_after";
    if !python_receiver_available(test) || !installed("openssl", test) {
        return;
    }
    let dir = test_dir(test);
    let (ca, cert, key) = test_certificates(&dir);
    let (ca, cert, key) = (
        ca.to_str().unwrap(),
        cert.to_str().unwrap(),
        key.to_str().unwrap(),
    );
    let capture = golden("ethernet.pcap");
    // gRPC over TLS, the server's certificate checked against the CA given.
    let records = dir.join("grpc.jsonl");
    let grpc = python_receiver_with("grpc", "", &records, &["--tls", cert, key]);
    let output = format!("otlp://localhost:{}?ca={ca}", grpc.port);
    let out = netcore(&["-r", &capture, "--output", &output]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let (delivered, dropped, lost) = output_counts(&stderr, &output);
    assert_eq!((dropped, lost), (0, 0), "{stderr}");
    assert_eq!(python_records(&records).len() as u64, delivered, "{stderr}");
    // HTTPS refusing the first two requests with 503 and Retry-After: 1: waited, sent
    // again, all delivered.
    let records = dir.join("https.jsonl");
    let https = python_receiver_with(
        "http",
        "",
        &records,
        &["--tls", cert, key, "--unavailable", "2"],
    );
    let output = format!("otlp+https://127.0.0.1:{}?ca={ca}", https.port);
    let started = Instant::now();
    let out = netcore(&["-r", &capture, "--output", &output]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "Retry-After not waited: {stderr}"
    );
    let (delivered, dropped, lost) = output_counts(&stderr, &output);
    assert_eq!((dropped, lost), (0, 0), "{stderr}");
    assert_eq!(python_records(&records).len() as u64, delivered, "{stderr}");
    assert_eq!(
        stderr
            .matches("HTTP 503 Service Unavailable; trying again")
            .count(),
        1,
        "{stderr}"
    );
    assert!(stderr.contains("the receiver answers again"), "{stderr}");
    // The system's roots do not know the test CA: named, every event counted lost.
    let output = format!("otlp+https://127.0.0.1:{}", https.port);
    let out = netcore(&["-r", &capture, "--output", &output]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(output_counts(&stderr, &output).0, 0, "{stderr}");
    assert!(
        stderr.contains("invalid peer certificate: UnknownIssuer"),
        "{stderr}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn otlp_alone_reads_the_opentelemetry_environment() {
    let (port, received) = rust_grpc_receiver(0);
    let out = Command::new(env!("CARGO_BIN_EXE_netcore"))
        .args(["-r", &golden("ethernet.pcap"), "--output", "otlp"])
        .env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{port}"),
        )
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        .env("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=blue%20team")
        .env("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let delivered = output_counts(&stderr, "otlp").0;
    assert!(delivered > 0, "{stderr}");
    assert_eq!(received.records.lock().unwrap().len() as u64, delivered);
    assert_eq!(
        received.tenant.lock().unwrap().as_deref(),
        Some("blue team")
    );
    // A protocol OpenTelemetry has but netcore does not speak is named.
    let out = Command::new(env!("CARGO_BIN_EXE_netcore"))
        .args(["-r", &golden("ethernet.pcap"), "--output", "otlp"])
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("OTEL_EXPORTER_OTLP_PROTOCOL=http/json"));
}

#[test]
fn otlp_restart_mid_run_is_survived_and_counted() {
    let test = "otlp_restart_mid_run_is_survived_and_counted";
    if !root_or_skip(test) || !python_receiver_available(test) {
        return;
    }
    let dir = test_dir(test);
    let records = dir.join("records.jsonl");
    let mut receiver = python_receiver("grpc", "", &records);
    let output = format!("otlp://127.0.0.1:{}", receiver.port);
    let (dropped, lost) =
        survives_a_broker_restart(test, &output, (None, None), &mut receiver, &|| {
            python_records(&records)
                .iter()
                .filter_map(|r| r["body"].as_str().map(str::to_owned))
                .collect()
        });
    // Retried through a short outage, with room in the queue: nothing lost.
    assert_eq!((dropped, lost), (0, 0));
    std::fs::remove_dir_all(dir).unwrap();
}

/// `BTreeMap` of metric name → value of the points with no attributes (the totals).
fn totals(points: &[Value]) -> BTreeMap<String, Value> {
    points
        .iter()
        .filter(|p| p["attributes"].as_object().is_none_or(|a| a.is_empty()))
        .map(|p| (p["metric"].as_str().unwrap().to_owned(), p["value"].clone()))
        .collect()
}

#[test]
fn the_counters_arrive_as_otlp_metrics() {
    let test = "the_counters_arrive_as_otlp_metrics";
    if !python_receiver_available(test) {
        return;
    }
    let dir = test_dir(test);
    let records = dir.join("received.jsonl");
    let receiver = python_receiver("http", "", &records);
    let output = format!("otlp+http://127.0.0.1:{}", receiver.port);
    let written = dir.join("written.json");
    let file = format!("file:{}", written.display());
    let capture = golden("ethernet.pcap");
    let out = netcore(&["-r", &capture, "--output", &output, "--output", &file]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let points = python_received(&records, true);
    // A file-mode run sends its final counters once.
    let totals = totals(&points);
    assert_eq!(totals["netcore_packets_total"], 88, "{points:#?}");
    let packets = points
        .iter()
        .find(|p| p["metric"] == "netcore_packets_total")
        .unwrap();
    assert_eq!(
        (&packets["kind"], &packets["monotonic"]),
        (&json!("sum"), &json!(true))
    );
    let written = lines(&written);
    let tcp = written
        .iter()
        .filter(|l| l.contains("\"eventName\":\"net_packet_tcp\""))
        .count();
    let by_event = points
        .iter()
        .find(|p| {
            p["metric"] == "netcore_events_total" && p["attributes"]["event"] == "net_packet_tcp"
        })
        .unwrap();
    assert_eq!(by_event["value"], tcp as u64, "{by_event}");
    let queue = points
        .iter()
        .find(|p| p["metric"] == "netcore_output_queue_batches")
        .unwrap();
    assert_eq!(queue["kind"], "gauge");
    // No kernel in file mode: no kernel series.
    assert!(
        points
            .iter()
            .all(|p| p["metric"] != "netcore_kernel_packets_total")
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn live_runs_send_their_counters_each_stats_interval() {
    let test = "live_runs_send_their_counters_each_stats_interval";
    if !root_or_skip(test) {
        return;
    }
    let (port, received) = rust_grpc_receiver(0);
    let output = format!("otlp://127.0.0.1:{port}");
    let netcore = Netcore::start(&[
        "--events",
        "net_packet_udp",
        "--output",
        &output,
        "--stats",
        "1",
    ]);
    // Three intervals: three exports, each with the kernel's series.
    let deadline = Instant::now() + Duration::from_secs(20);
    let exports = || {
        let points = received.points.lock().unwrap();
        points
            .iter()
            .filter(|p| p["metric"] == "netcore_packets_total")
            .count()
    };
    while exports() < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    let (status, _) = netcore.interrupt();
    assert!(status.success());
    let points = received.points.lock().unwrap().clone();
    assert!(exports() >= 3, "{} exports in 20 s", exports());
    let kernel: Vec<&Value> = points
        .iter()
        .filter(|p| p["metric"] == "netcore_kernel_packets_total")
        .collect();
    assert!(!kernel.is_empty(), "no kernel series in a live run");
    assert!(
        kernel
            .iter()
            .all(|p| p["kind"] == "sum" && p["monotonic"] == true)
    );
    // Cumulative: a later export never counts fewer packets.
    let totals: Vec<u64> = points
        .iter()
        .filter(|p| p["metric"] == "netcore_packets_total")
        .map(|p| p["value"].as_u64().unwrap())
        .collect();
    assert!(totals.windows(2).all(|w| w[0] <= w[1]), "{totals:?}");
}
