//! Port scans: one source (a process, or an address when no process is known) opening
//! connections to many ports of one host, or to one port of many hosts, in a short time.
//! Counts TCP SYNs without ACK; fires at [`THRESHOLD`] distinct ports (or hosts) within
//! [`WINDOW_NS`], then starts counting again.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;

use netcore_core::{EventKind, EventSet, PacketEvents};

use super::{Actor, Data, Finding, Metadata, Signature, bounded_entry, connection_attempt};

static METADATA: Metadata = Metadata {
    id: "NET-PORT-SCAN",
    version: "1.0.0",
    name: "Port scan",
    event_name: "port_scan",
    event_id: "6002",
    description: "One source opened connections to many ports of a host, or to one port of \
                  many hosts, in a short time",
    tags: &["network", "discovery"],
    severity: 2,
    category: "discovery",
    technique: "Network Service Discovery",
    external_id: "T1046",
};

/// Distinct ports (or hosts) that make a scan.
const THRESHOLD: usize = 25;
/// The window they must fall in, ns.
const WINDOW_NS: u64 = 10_000_000_000;

/// What one source tried in the current window: ports by host, hosts by port (each set
/// stops growing at the threshold).
#[derive(Default)]
struct Window {
    start_ns: u64,
    ports: HashMap<IpAddr, BTreeSet<u16>>,
    hosts: HashMap<u16, BTreeSet<IpAddr>>,
}

/// Connection attempts per source (at most [`super::MAX_TRACKED`] sources, each at most
/// 64 hosts and 64 ports).
#[derive(Default)]
pub struct PortScan {
    /// By source of the SYNs.
    windows: HashMap<Actor, Window>,
    forgotten: u64,
}

/// Hosts and ports one window remembers at most.
const PER_WINDOW: usize = 64;

impl Signature for PortScan {
    fn metadata(&self) -> &'static Metadata {
        &METADATA
    }

    fn selected_events(&self) -> EventSet {
        EventSet::NONE.with(EventKind::Tcp)
    }

    fn on_event(&mut self, _kind: EventKind, events: &PacketEvents<'_, '_>) -> Option<Finding> {
        let (network, tcp) = connection_attempt(events)?;
        let now = events.ctx.timestamp;
        let source = Actor::of(events.ctx, network.src());
        let window = bounded_entry(&mut self.windows, source, &mut self.forgotten);
        if now.saturating_sub(window.start_ns) > WINDOW_NS {
            *window = Window {
                start_ns: now,
                ..Window::default()
            };
        }
        let (host, port) = (network.dst(), tcp.dst_port());
        if window.ports.len() < PER_WINDOW || window.ports.contains_key(&host) {
            let ports = window.ports.entry(host).or_default();
            if ports.len() < PER_WINDOW {
                ports.insert(port);
            }
        }
        if window.hosts.len() < PER_WINDOW || window.hosts.contains_key(&port) {
            let hosts = window.hosts.entry(port).or_default();
            if hosts.len() < PER_WINDOW {
                hosts.insert(host);
            }
        }
        let vertical = window
            .ports
            .get(&host)
            .is_some_and(|p| p.len() >= THRESHOLD);
        let horizontal = window
            .hosts
            .get(&port)
            .is_some_and(|h| h.len() >= THRESHOLD);
        if !vertical && !horizontal {
            return None;
        }
        let finding = if vertical {
            let ports = &window.ports[&host];
            Finding {
                data: vec![
                    ("kind".into(), Data::Text("ports of one host".into())),
                    ("host".into(), Data::Text(host.to_string())),
                    (
                        "ports".into(),
                        Data::List(ports.iter().map(u16::to_string).collect()),
                    ),
                ],
            }
        } else {
            let hosts = &window.hosts[&port];
            Finding {
                data: vec![
                    ("kind".into(), Data::Text("one port of many hosts".into())),
                    ("port".into(), Data::Number(port.into())),
                    (
                        "hosts".into(),
                        Data::List(hosts.iter().map(IpAddr::to_string).collect()),
                    ),
                ],
            }
        };
        *window = Window::default();
        Some(finding)
    }
}
