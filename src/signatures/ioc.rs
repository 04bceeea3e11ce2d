//! Indicators of compromise: connections to, and DNS lookups of, the addresses and
//! domains of a user's list (`--ioc-file`: one per line, a domain — matching itself and
//! its subdomains — or an address or CIDR prefix; `#` starts a comment). The list is read
//! again on SIGHUP. One finding per source and indicator every [`QUIET_NS`].

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;

use netcore_core::dns::Entry;
use netcore_core::dns::name::MAX_PRESENTATION_LEN;
use netcore_core::filter::Cidr;
use netcore_core::{EventKind, EventSet, PacketEvents};

use super::{Actor, Data, Finding, Metadata, Signal, Signature, bounded_entry, connection_attempt};

static METADATA: Metadata = Metadata {
    id: "NET-IOC",
    version: "1.0.0",
    name: "Indicator of compromise",
    event_name: "ioc_match",
    event_id: "6005",
    description: "A process connected to, or looked up, an address or domain of the \
                  indicator list",
    tags: &["network", "ioc"],
    severity: 3,
    category: "command-and-control",
    technique: "Application Layer Protocol",
    external_id: "T1071",
};

/// How long a source's match of one indicator stays quiet after its finding, ns.
const QUIET_NS: u64 = 600_000_000_000;

/// The indicators of one list.
#[derive(Debug, Default)]
struct Indicators {
    domains: Vec<String>,
    prefixes: Vec<(Cidr, String)>,
}

impl Indicators {
    /// Reads the list at `path`; names the line that is neither a domain nor an address.
    fn read(path: &PathBuf) -> Result<Indicators, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut list = Indicators::default();
        for (n, line) in text.lines().enumerate() {
            let entry = line.split('#').next().unwrap_or("").trim();
            if entry.is_empty() {
                continue;
            }
            if let Some(cidr) = Cidr::parse(entry) {
                list.prefixes.push((cidr, entry.to_owned()));
            } else if entry.contains('.')
                && entry
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
            {
                list.domains
                    .push(entry.trim_end_matches('.').to_ascii_lowercase());
            } else {
                return Err(format!(
                    "{}:{}: '{entry}' is neither a domain nor an address or CIDR prefix",
                    path.display(),
                    n + 1
                ));
            }
        }
        Ok(list)
    }

    /// The domain of the list `name` is or is under.
    fn domain_of(&self, name: &str) -> Option<&str> {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        self.domains
            .iter()
            .find(|d| name == **d || name.ends_with(&format!(".{d}")))
            .map(String::as_str)
    }

    /// The prefix of the list `addr` is in.
    fn prefix_of(&self, addr: IpAddr) -> Option<&str> {
        self.prefixes
            .iter()
            .find(|(cidr, _)| cidr.contains(addr))
            .map(|(_, text)| text.as_str())
    }
}

/// Matches against the list, quiet per source and indicator.
pub struct Ioc {
    path: PathBuf,
    list: Indicators,
    /// When each source last matched each indicator (at most [`super::MAX_TRACKED`]).
    last: HashMap<(Actor, String), u64>,
    forgotten: u64,
}

impl Ioc {
    /// Reads the list at `path`.
    pub fn load(path: PathBuf) -> Result<Ioc, String> {
        let list = Indicators::read(&path)?;
        Ok(Ioc {
            path,
            list,
            last: HashMap::new(),
            forgotten: 0,
        })
    }

    /// A finding for `indicator`, unless the source matched it lately.
    fn fire(
        &mut self,
        actor: Actor,
        now: u64,
        indicator: &str,
        matched: String,
        kind: &str,
    ) -> Option<Finding> {
        let last = bounded_entry(
            &mut self.last,
            (actor, indicator.to_owned()),
            &mut self.forgotten,
        );
        if *last != 0 && now.saturating_sub(*last) < QUIET_NS {
            return None;
        }
        *last = now;
        Some(Finding {
            data: vec![
                ("indicator".into(), Data::Text(indicator.to_owned())),
                ("matched".into(), Data::Text(matched)),
                ("kind".into(), Data::Text(kind.to_owned())),
            ],
        })
    }
}

impl Signature for Ioc {
    fn metadata(&self) -> &'static Metadata {
        &METADATA
    }

    fn selected_events(&self) -> EventSet {
        EventSet::NONE
            .with(EventKind::Dns)
            .with(EventKind::Tcp)
            .with(EventKind::Udp)
    }

    fn on_signal(&mut self, signal: Signal) {
        let Signal::Reload = signal;
        match Indicators::read(&self.path) {
            Ok(list) => {
                eprintln!(
                    "netcore: SIGHUP: {} domains and {} prefixes read from {}",
                    list.domains.len(),
                    list.prefixes.len(),
                    self.path.display()
                );
                self.list = list;
            }
            Err(e) => eprintln!("netcore: SIGHUP: the indicator list stays as it was: {e}"),
        }
    }

    fn on_event(&mut self, kind: EventKind, events: &PacketEvents<'_, '_>) -> Option<Finding> {
        let network = events.packet.network?;
        let now = events.ctx.timestamp;
        if kind == EventKind::Dns {
            let message = events.dns?;
            let actor = Actor::of(events.ctx, network.src());
            let mut buf = [0u8; MAX_PRESENTATION_LEN];
            let asked = message.entries().find_map(|e| match e {
                Entry::Question(q) => q.name.presentation(&mut buf).ok().map(str::to_owned),
                _ => None,
            })?;
            let domain = self.list.domain_of(&asked)?.to_owned();
            return self.fire(actor, now, &domain, asked, "domain");
        }
        // The first packet of a connection, or any datagram.
        if kind == EventKind::Tcp && connection_attempt(events).is_none() {
            return None;
        }
        let (src, dst) = (network.src(), network.dst());
        let (peer, actor) = match (self.list.prefix_of(dst), self.list.prefix_of(src)) {
            (Some(p), _) => (p.to_owned(), Actor::of(events.ctx, src)),
            (None, Some(p)) => (p.to_owned(), Actor::of(events.ctx, dst)),
            (None, None) => return None,
        };
        let matched = if self.list.prefix_of(dst).is_some() {
            dst
        } else {
            src
        };
        self.fire(actor, now, &peer, matched.to_string(), "address")
    }
}
