//! Beaconing: a source opening connections to one destination at regular intervals, as an
//! implant calling home does. Keeps each (source, destination, port)'s last
//! [`ATTEMPTS`] connection times; fires when their intervals are at least
//! [`MIN_INTERVAL_NS`] and vary by less than [`MAX_JITTER`] of their mean.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use netcore_core::{EventKind, EventSet, PacketEvents};

use super::{Actor, Data, Finding, Metadata, Signature, bounded_entry, connection_attempt};

static METADATA: Metadata = Metadata {
    id: "NET-BEACONING",
    version: "1.0.0",
    name: "Beaconing",
    event_name: "beaconing",
    event_id: "6004",
    description: "Connections to one destination at regular intervals, as an implant \
                  calling its command server does",
    tags: &["network", "c2"],
    severity: 2,
    category: "command-and-control",
    technique: "Application Layer Protocol",
    external_id: "T1071",
};

/// Connections whose intervals are compared.
const ATTEMPTS: usize = 8;
/// The shortest mean interval of a beacon, ns.
const MIN_INTERVAL_NS: u64 = 1_000_000_000;
/// Standard deviation over mean of the intervals.
const MAX_JITTER: f64 = 0.1;

/// Connection times per (source, destination, port) (at most [`super::MAX_TRACKED`]).
#[derive(Default)]
pub struct Beaconing {
    times: HashMap<(Actor, IpAddr, u16), VecDeque<u64>>,
    forgotten: u64,
}

impl Signature for Beaconing {
    fn metadata(&self) -> &'static Metadata {
        &METADATA
    }

    fn selected_events(&self) -> EventSet {
        EventSet::NONE.with(EventKind::Tcp)
    }

    fn on_event(&mut self, _kind: EventKind, events: &PacketEvents<'_, '_>) -> Option<Finding> {
        let (network, tcp) = connection_attempt(events)?;
        let key = (
            Actor::of(events.ctx, network.src()),
            network.dst(),
            tcp.dst_port(),
        );
        let times = bounded_entry(&mut self.times, key, &mut self.forgotten);
        let now = events.ctx.timestamp;
        if times
            .back()
            .is_some_and(|&t| now.saturating_sub(t) < MIN_INTERVAL_NS / 2)
        {
            return None; // A retransmitted SYN, or a burst: not a new beat.
        }
        times.push_back(now);
        if times.len() > ATTEMPTS {
            times.pop_front();
        }
        if times.len() < ATTEMPTS {
            return None;
        }
        let intervals: Vec<f64> = times
            .iter()
            .zip(times.iter().skip(1))
            .map(|(a, b)| (b - a) as f64)
            .collect();
        let mean = intervals.iter().sum::<f64>() / intervals.len() as f64;
        let variance =
            intervals.iter().map(|i| (i - mean).powi(2)).sum::<f64>() / intervals.len() as f64;
        if mean < MIN_INTERVAL_NS as f64 || variance.sqrt() / mean > MAX_JITTER {
            return None;
        }
        times.clear();
        Some(Finding {
            data: vec![
                ("destination".into(), Data::Text(network.dst().to_string())),
                ("port".into(), Data::Number(tcp.dst_port().into())),
                (
                    "interval_ms".into(),
                    Data::Number((mean / 1e6).round() as i64),
                ),
                ("connections".into(), Data::Number(ATTEMPTS as i64)),
            ],
        })
    }
}
