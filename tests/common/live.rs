//! Helpers of the live tests (`tests/live.rs`, `tests/containers.rs`): the root check, a
//! running `netcore --json` with its events and stderr, and readers of events.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Whether this process may run the live tests; panics under CI when it may not.
pub fn root_or_skip(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{test}: live capture tests must run as root under CI=true");
    }
    eprintln!("\n*** SKIPPED {test}: live capture tests need root (they run in CI) ***\n");
    false
}

/// A running `netcore --json`.
pub struct Netcore {
    /// The process.
    pub child: Child,
    /// Its events, as they are printed.
    pub events: mpsc::Receiver<Value>,
    /// Its stderr, line by line.
    pub stderr: mpsc::Receiver<String>,
    /// The line saying it captures (snaplen, ring size, sockets attributed).
    pub started: String,
}

impl Netcore {
    /// Starts `netcore --json` with `extra` arguments; returns once it captures.
    pub fn start(extra: &[&str]) -> Netcore {
        let mut child = Command::new(env!("CARGO_BIN_EXE_netcore"))
            .arg("--json")
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting netcore");
        let (event_tx, events) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let event: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("netcore printed invalid JSON ({e}): {line}"));
                if event_tx.send(event).is_err() {
                    break;
                }
            }
        });
        let (err_tx, stderr) = mpsc::channel();
        let err = child.stderr.take().unwrap();
        thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if err_tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut netcore = Netcore {
            child,
            events,
            stderr,
            started: String::new(),
        };
        let ready = netcore.wait_stderr("capturing on", Duration::from_secs(20));
        netcore.started = ready.expect("netcore did not start capturing");
        netcore
    }

    /// Waits for a stderr line containing `needle`.
    pub fn wait_stderr(&self, needle: &str, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        while let Ok(line) = self
            .stderr
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            eprintln!("[netcore] {line}");
            if line.contains(needle) {
                return Some(line);
            }
        }
        None
    }

    /// Collects events touching `address` until `done` holds for them or `timeout` passes.
    pub fn events_for(
        &self,
        address: &str,
        timeout: Duration,
        done: impl Fn(&[Value]) -> bool,
    ) -> Vec<Value> {
        let deadline = Instant::now() + timeout;
        let mut mine = Vec::new();
        while !done(&mine) {
            let Ok(event) = self
                .events
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            else {
                break;
            };
            if touches(&event, address) {
                mine.push(event);
            }
        }
        mine
    }

    /// Sends SIGINT and returns the exit status and the summary line.
    pub fn interrupt(mut self) -> (std::process::ExitStatus, Option<String>) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let summary = self.wait_stderr(" capture: ", Duration::from_secs(10));
        (self.child.wait().unwrap(), summary)
    }
}

impl Drop for Netcore {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of argument `name` of an event (Null when absent).
pub fn arg<'a>(event: &'a Value, name: &str) -> &'a Value {
    event["args"]
        .as_array()
        .and_then(|args| args.iter().find(|a| a["name"] == name))
        .map_or(&Value::Null, |a| &a["value"])
}

/// Whether `event` is from or to `address` (DNS request/response events carry their
/// addresses in `metadata`).
pub fn touches(event: &Value, address: &str) -> bool {
    let metadata = arg(event, "metadata");
    [
        arg(event, "src"),
        arg(event, "dst"),
        &metadata["src_ip"],
        &metadata["dst_ip"],
    ]
    .iter()
    .any(|a| a.as_str() == Some(address))
}

pub fn named<'a>(events: &'a [Value], name: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    events.iter().filter(move |e| e["eventName"] == name)
}
