//! NXDOMAIN bursts: a process (or, without one, a destination address) receiving many
//! "no such domain" answers in a short time, as malware probing generated domains (DGA)
//! does. Fires at [`THRESHOLD`] NXDOMAIN answers within [`WINDOW_NS`], then starts
//! counting again.

use std::collections::HashMap;

use netcore_core::dns::Rcode;
use netcore_core::dns::name::MAX_PRESENTATION_LEN;
use netcore_core::{EventKind, EventSet, PacketEvents};

use super::{Actor, Data, Finding, Metadata, Signature, bounded_entry};

static METADATA: Metadata = Metadata {
    id: "NET-NXDOMAIN-BURST",
    version: "1.0.0",
    name: "Burst of non-existent domain answers",
    event_name: "nxdomain_burst",
    event_id: "6001",
    description: "A process received many NXDOMAIN answers in a short time, as a domain \
                  generation algorithm (DGA) looking for its command server does",
    tags: &["network", "dns", "dga"],
    severity: 2,
    category: "command-and-control",
    technique: "Dynamic Resolution: Domain Generation Algorithms",
    external_id: "T1568.002",
};

/// NXDOMAIN answers that make a burst.
const THRESHOLD: usize = 20;
/// The window they must fall in, ns.
const WINDOW_NS: u64 = 60_000_000_000;
/// Names kept to show in the finding.
const NAMES_SHOWN: usize = 10;

/// One receiver's answers in the current window.
#[derive(Default)]
struct Window {
    start_ns: u64,
    count: usize,
    names: Vec<String>,
}

/// Counts per receiver (at most [`super::MAX_TRACKED`]).
#[derive(Default)]
pub struct NxdomainBurst {
    /// By receiver of the answers.
    windows: HashMap<Actor, Window>,
    forgotten: u64,
}

impl Signature for NxdomainBurst {
    fn metadata(&self) -> &'static Metadata {
        &METADATA
    }

    fn selected_events(&self) -> EventSet {
        EventSet::NONE.with(EventKind::Dns)
    }

    fn on_event(&mut self, _kind: EventKind, events: &PacketEvents<'_, '_>) -> Option<Finding> {
        let message = events.dns?;
        if message.qr() != 1 || message.response_code() != Rcode::NXDOMAIN {
            return None;
        }
        let now = events.ctx.timestamp;
        let receiver = Actor::of(events.ctx, events.packet.network?.dst());
        let window = bounded_entry(&mut self.windows, receiver, &mut self.forgotten);
        if window.count == 0 || now.saturating_sub(window.start_ns) > WINDOW_NS {
            *window = Window {
                start_ns: now,
                ..Window::default()
            };
        }
        window.count += 1;
        let mut buf = [0u8; MAX_PRESENTATION_LEN];
        if let Some(question) = message.single_question()
            && window.names.len() < NAMES_SHOWN
            && let Ok(name) = question.name.presentation(&mut buf)
        {
            let name = name.trim_end_matches('.').to_owned();
            if !window.names.contains(&name) {
                window.names.push(name);
            }
        }
        if window.count < THRESHOLD {
            return None;
        }
        let finding = Finding {
            data: vec![
                ("nxdomain_count".into(), Data::Number(window.count as i64)),
                (
                    "window_seconds".into(),
                    Data::Number(((now - window.start_ns) / 1_000_000_000) as i64),
                ),
                (
                    "names".into(),
                    Data::List(std::mem::take(&mut window.names)),
                ),
            ],
        };
        window.count = 0;
        Some(finding)
    }
}
