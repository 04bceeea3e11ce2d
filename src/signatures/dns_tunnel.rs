//! DNS tunnelling: data smuggled in query names. Fires for a source and parent domain
//! (the name's last two labels) when a query carries a long label (≥ [`LONG_LABEL`]
//! bytes) or a high-entropy one (≥ [`HIGH_ENTROPY`] bits per byte over ≥
//! [`ENTROPY_MIN_LEN`] bytes), or when the source asks for [`UNIQUE_SUBDOMAINS`] distinct
//! subdomains, or [`TXT_QUERIES`] TXT records, of one parent within [`WINDOW_NS`].

use std::collections::{BTreeSet, HashMap};

use netcore_core::dns::name::MAX_PRESENTATION_LEN;
use netcore_core::dns::{Entry, RecordType};
use netcore_core::{EventKind, EventSet, PacketEvents};

use super::{Actor, Data, Finding, Metadata, Signature, bounded_entry};

static METADATA: Metadata = Metadata {
    id: "NET-DNS-TUNNEL",
    version: "1.0.0",
    name: "DNS tunnelling",
    event_name: "dns_tunnel",
    event_id: "6003",
    description: "Query names that carry data: long or random-looking labels, or many \
                  distinct subdomains or TXT queries of one domain",
    tags: &["network", "dns", "exfiltration"],
    severity: 3,
    category: "exfiltration",
    technique: "Exfiltration Over Alternative Protocol",
    external_id: "T1048",
};

/// A label at least this long carries data.
const LONG_LABEL: usize = 52;
/// Bits of entropy per byte above which a label looks random …
const HIGH_ENTROPY: f64 = 4.0;
/// … when it has at least this many bytes.
const ENTROPY_MIN_LEN: usize = 24;
/// Distinct subdomains of one parent that make a tunnel.
const UNIQUE_SUBDOMAINS: usize = 50;
/// TXT queries of one parent that make a tunnel.
const TXT_QUERIES: usize = 30;
/// The window those counts must fall in, ns.
const WINDOW_NS: u64 = 60_000_000_000;

/// One source's queries of one parent domain in the current window.
#[derive(Default)]
struct Window {
    start_ns: u64,
    subdomains: BTreeSet<String>,
    txt: usize,
}

/// Queries per source and parent domain (at most [`super::MAX_TRACKED`] pairs).
#[derive(Default)]
pub struct DnsTunnel {
    windows: HashMap<(Actor, String), Window>,
    forgotten: u64,
}

/// Shannon entropy of `bytes`, bits per byte.
fn entropy(bytes: &[u8]) -> f64 {
    let mut counts = [0u32; 256];
    for &b in bytes {
        counts[usize::from(b)] += 1;
    }
    let n = bytes.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

impl Signature for DnsTunnel {
    fn metadata(&self) -> &'static Metadata {
        &METADATA
    }

    fn selected_events(&self) -> EventSet {
        EventSet::NONE.with(EventKind::Dns)
    }

    fn on_event(&mut self, _kind: EventKind, events: &PacketEvents<'_, '_>) -> Option<Finding> {
        let message = events.dns?;
        if message.qr() != 0 {
            return None;
        }
        let (name, qtype) = message.entries().find_map(|e| match e {
            Entry::Question(q) => Some((q.name, q.qtype)),
            _ => None,
        })?;
        let mut buf = [0u8; MAX_PRESENTATION_LEN];
        let name = name
            .presentation(&mut buf)
            .ok()?
            .trim_end_matches('.')
            .to_owned();
        let labels: Vec<&str> = name.split('.').collect();
        if labels.len() < 3 {
            return None;
        }
        let parent = labels[labels.len() - 2..].join(".");
        let subdomain = labels[..labels.len() - 2].join(".");
        let now = events.ctx.timestamp;
        let actor = Actor::of(events.ctx, events.packet.network?.src());
        let window = bounded_entry(
            &mut self.windows,
            (actor, parent.clone()),
            &mut self.forgotten,
        );
        if now.saturating_sub(window.start_ns) > WINDOW_NS {
            *window = Window {
                start_ns: now,
                ..Window::default()
            };
        }
        let first = labels[0].as_bytes();
        let reason = if labels.iter().any(|l| l.len() >= LONG_LABEL) {
            Some("long label")
        } else if first.len() >= ENTROPY_MIN_LEN && entropy(first) >= HIGH_ENTROPY {
            Some("high-entropy label")
        } else {
            if window.subdomains.len() < UNIQUE_SUBDOMAINS {
                window.subdomains.insert(subdomain);
            }
            window.txt += usize::from(qtype == RecordType::TXT);
            if window.subdomains.len() >= UNIQUE_SUBDOMAINS {
                Some("many distinct subdomains")
            } else if window.txt >= TXT_QUERIES {
                Some("many TXT queries")
            } else {
                None
            }
        }?;
        let finding = Finding {
            data: vec![
                ("reason".into(), Data::Text(reason.to_owned())),
                ("domain".into(), Data::Text(parent)),
                ("query".into(), Data::Text(name)),
                (
                    "subdomains".into(),
                    Data::Number(window.subdomains.len() as i64),
                ),
            ],
        };
        *window = Window::default();
        Some(finding)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn entropy_of_random_and_plain_labels() {
        assert!(super::entropy(b"x7f3k9q2m8w1z5v4b6n0c3d8e2r7t1y9") > 4.0);
        assert!(super::entropy(b"wwwwwwwwwwwwwwwwwwwwwwwwww") < 0.1);
        assert!(super::entropy(b"mail-server-frontend-cluster") < 4.0);
    }
}
