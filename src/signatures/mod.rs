//! Signatures: detections over the events, as Tracee's users write them (`types/detect`:
//! metadata, selected events, `OnEvent`), compiled in. A signature sees only the events it
//! selects — the pipeline decides them even when they are not printed — with the same
//! decoded values the encoders see, keeps bounded state, and returns findings, which are
//! written as events in Tracee's `FindingToEvent` shape.

mod beaconing;
mod dns_e2e;
mod dns_tunnel;
mod ioc;
mod nxdomain_burst;
mod port_scan;
mod rego;
mod yaml;

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

use netcore_core::finding::{FindingEvent, FindingValue, Trigger};
use netcore_core::json::{self, Schema};
use netcore_core::{EventKind, EventSet, PacketEvents};

/// What a signature is: Tracee's `SignatureMetadata`, with the properties Tracee's
/// findings always carry.
#[derive(Debug)]
pub struct Metadata {
    /// Its id (`signatureID`).
    pub id: &'static str,
    /// Its version.
    pub version: &'static str,
    /// Its name (`signatureName`).
    pub name: &'static str,
    /// The name of its finding events.
    pub event_name: &'static str,
    /// The id of its finding events, in Tracee's signature range (6000–6999).
    pub event_id: &'static str,
    /// What it detects.
    pub description: &'static str,
    /// Tags.
    pub tags: &'static [&'static str],
    /// Severity, 0 (info) to 4 (critical), as Tracee's signatures grade it.
    pub severity: i64,
    /// MITRE ATT&CK tactic, technique name and id ("" when none).
    pub category: &'static str,
    /// See `category`.
    pub technique: &'static str,
    /// See `category`.
    pub external_id: &'static str,
}

/// A value of a finding's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Data {
    /// Text.
    Text(String),
    /// An integer.
    Number(i64),
    /// A list of strings.
    List(Vec<String>),
}

/// What a signature found: its data, by name.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The data, in the order given (written sorted by name, as Go iterates a map).
    pub data: Vec<(Cow<'static, str>, Data)>,
}

/// A finding and where it came from: what [`Engine::on_events`] returns.
#[derive(Debug)]
pub struct Fired {
    /// The signature that found it.
    pub metadata: &'static Metadata,
    /// The event it fired on.
    pub trigger: EventKind,
    /// What it found.
    pub finding: Finding,
}

/// A signal to the signatures (Tracee's `OnSignal`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGHUP: read configuration again (the indicator list).
    Reload,
}

/// A detection, fed the events it selects.
pub trait Signature {
    /// What it is.
    fn metadata(&self) -> &'static Metadata;
    /// The events it wants.
    fn selected_events(&self) -> EventSet;
    /// Looks at event `kind` of `events` (one it selected); a finding when it fires.
    fn on_event(&mut self, kind: EventKind, events: &PacketEvents<'_, '_>) -> Option<Finding>;
    /// Handles a signal; most signatures have nothing to do.
    fn on_signal(&mut self, _signal: Signal) {}
}

/// Owners tracked at most by a signature that counts per owner; full, it forgets them all.
pub const MAX_TRACKED: usize = 4096;

/// The built-in signature called `name`; `None` for `ioc` without `--ioc-file`.
fn builtin(name: &str, config: &Config) -> Result<Option<Box<dyn Signature>>, String> {
    Ok(Some(match name {
        "beaconing" => Box::new(beaconing::Beaconing::default()),
        "dns_e2e" => Box::new(dns_e2e::DnsE2e::new(&config.e2e_dns_domain)),
        "dns_tunnel" => Box::new(dns_tunnel::DnsTunnel::default()),
        "ioc" => match &config.ioc_file {
            Some(path) => Box::new(ioc::Ioc::load(path.clone())?),
            None => return Ok(None),
        },
        "nxdomain_burst" => Box::new(nxdomain_burst::NxdomainBurst::default()),
        "port_scan" => Box::new(port_scan::PortScan::default()),
        _ => return Ok(None),
    }))
}

/// Run-time errors after which a Rego signature or a YAML detector is disabled.
const MAX_ERRORS: u32 = 10;

/// `text` for the rest of the run: signatures are loaded once and their metadata kept.
fn leak(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

/// The first event id of Rego signatures' and YAML detectors' findings (built-in ones use
/// 6000–6099).
const REGO_FIRST_ID: u32 = 6100;

/// Every built-in signature's name, in id order.
pub const BUILTIN: [&str; 6] = [
    "dns_e2e",
    "nxdomain_burst",
    "port_scan",
    "dns_tunnel",
    "beaconing",
    "ioc",
];

/// Settings of the built-in signatures.
#[derive(Debug, Clone)]
pub struct Config {
    /// The domain the e2e DNS signature expects answers for (the reference's: uol.com.br).
    pub e2e_dns_domain: String,
    /// The indicator list of the `ioc` signature (`--ioc-file`).
    pub ioc_file: Option<std::path::PathBuf>,
}

/// The signatures of a run, and what they found.
pub struct Engine {
    signatures: Vec<Box<dyn Signature>>,
    selected: EventSet,
    /// Renders a triggering event's arguments, which its finding quotes.
    trigger_json: json::Encoder,
    /// Room to render them in.
    scratch: Vec<u8>,
    /// Findings, by signature id.
    pub findings: HashMap<&'static str, u64>,
    /// The finding events printed (`--events` names); all when empty.
    printed: Vec<String>,
}

impl Engine {
    /// The signatures `--signatures LIST` names: built-in ones by name (`builtin`: all of
    /// them) and directories of Rego signatures and YAML detectors.
    pub fn load(
        list: &[String],
        config: &Config,
        schema: &'static Schema,
    ) -> Result<Engine, String> {
        let mut names: Vec<&str> = Vec::new();
        // The Rego signatures and YAML detectors of the directories named.
        let mut loaded: Vec<Box<dyn Signature>> = Vec::new();
        for name in list.iter().flat_map(|l| l.split(',')).map(str::trim) {
            match name {
                "builtin" => names.extend(BUILTIN),
                name if BUILTIN.contains(&name) => names.push(name),
                dir if Path::new(dir).is_dir() => {
                    let before = loaded.len();
                    let first_id = REGO_FIRST_ID + loaded.len() as u32;
                    loaded.extend(rego::load(Path::new(dir), schema, first_id)?);
                    let first_id = REGO_FIRST_ID + loaded.len() as u32;
                    loaded.extend(yaml::load(Path::new(dir), schema, first_id)?);
                    if loaded.len() == before {
                        return Err(format!(
                            "{dir}: no .rego signature or .yaml detector (type: detector) in it"
                        ));
                    }
                }
                unknown => {
                    return Err(format!(
                        "unknown signature '{unknown}' (not a directory of Rego signatures or \
                         YAML detectors either); built in: {} (or builtin for all)",
                        BUILTIN.join(", ")
                    ));
                }
            }
        }
        names.sort_unstable();
        names.dedup();
        if names.contains(&"ioc")
            && config.ioc_file.is_none()
            && !list.iter().any(|l| l.contains("builtin"))
        {
            return Err("the ioc signature needs --ioc-file".to_owned());
        }
        let mut signatures: Vec<Box<dyn Signature>> = Vec::new();
        for name in names {
            signatures.extend(builtin(name, config)?);
        }
        signatures.extend(loaded);
        let selected = signatures
            .iter()
            .fold(EventSet::NONE, |all, s| all.union(s.selected_events()));
        Ok(Engine {
            signatures,
            selected,
            trigger_json: json::Encoder::new(schema),
            scratch: Vec::new(),
            findings: HashMap::new(),
            printed: Vec::new(),
        })
    }

    /// The names of the signatures' finding events.
    pub fn event_names(&self) -> Vec<&'static str> {
        self.signatures
            .iter()
            .map(|s| s.metadata().event_name)
            .collect()
    }

    /// Prints only the findings named in `events` (all when empty); the other signatures
    /// still run.
    pub fn printing(self, events: Vec<String>) -> Engine {
        Engine {
            printed: events,
            ..self
        }
    }

    /// Hands `signal` to every signature.
    pub fn signal(&mut self, signal: Signal) {
        for signature in &mut self.signatures {
            signature.on_signal(signal);
        }
    }

    /// The events the signatures select (decided even when not printed).
    pub fn selected(&self) -> EventSet {
        self.selected
    }

    /// Feeds `events` to the signatures that select them; pushes each finding to print
    /// (`--events` names it, or names none) onto `fired`, and counts every finding.
    pub fn on_events(&mut self, events: &PacketEvents<'_, '_>, fired: &mut Vec<Fired>) {
        for kind in events.kinds().filter(|&k| self.selected.contains(k)) {
            for signature in &mut self.signatures {
                if !signature.selected_events().contains(kind) {
                    continue;
                }
                let Some(finding) = signature.on_event(kind, events) else {
                    continue;
                };
                let metadata = signature.metadata();
                *self.findings.entry(metadata.id).or_default() += 1;
                if self.printed.is_empty() || self.printed.iter().any(|p| p == metadata.event_name)
                {
                    fired.push(Fired {
                        metadata,
                        trigger: kind,
                        finding,
                    });
                }
            }
        }
    }

    /// The event `fired` is written as (Tracee's `FindingToEvent`), its trigger among
    /// `events`, with the evidence file `evidence` started for it (`--evidence`), if
    /// any: handed to `write`.
    pub fn finding_event(
        &mut self,
        fired: &Fired,
        events: &PacketEvents<'_, '_>,
        evidence: Option<&str>,
        write: impl FnOnce(&FindingEvent<'_>),
    ) {
        let metadata = fired.metadata;
        let mut data: Vec<(&str, FindingValue<'_>)> = fired
            .finding
            .data
            .iter()
            .map(|(name, value)| (name.as_ref(), value_of(value)))
            .collect();
        if let Some(path) = evidence {
            data.push(("evidence", FindingValue::Text(path)));
        }
        data.sort_by_key(|(name, _)| *name);
        let properties = properties(metadata);
        let args_json = self
            .trigger_json
            .args(events, fired.trigger, &mut self.scratch);
        write(&FindingEvent {
            event_id: metadata.event_id,
            event_name: metadata.event_name,
            data: &data,
            version: metadata.version,
            description: metadata.description,
            tags: metadata.tags,
            properties: &properties,
            trigger: Trigger {
                id: self.trigger_json.schema().id(fired.trigger),
                name: fired.trigger.name(),
                args_json,
            },
        });
    }

    /// One line per signature: name, event, severity, MITRE technique, description.
    pub fn list(config: &Config) -> String {
        BUILTIN
            .iter()
            .filter_map(|name| builtin(name, config).ok().flatten())
            .map(|s| {
                let m = s.metadata();
                let mitre = match m.external_id {
                    "" => String::new(),
                    id => format!(" [{} {}]", id, m.technique),
                };
                format!(
                    "{:<16} {:<20} severity {}{mitre}: {}\n",
                    m.id, m.event_name, m.severity, m.description
                )
            })
            .collect()
    }
}

fn value_of(data: &Data) -> FindingValue<'_> {
    match data {
        Data::Text(t) => FindingValue::Text(t),
        Data::Number(n) => FindingValue::Number(*n),
        Data::List(l) => FindingValue::List(l),
    }
}

/// The properties Tracee's findings carry, sorted by name as Go writes a map: the MITRE
/// fields and Severity (null when the signature has none), signatureID, signatureName.
fn properties(m: &'static Metadata) -> Vec<(&'static str, FindingValue<'static>)> {
    let text = |t: &'static str| match t {
        "" => FindingValue::Null,
        t => FindingValue::Text(t),
    };
    vec![
        ("Category", text(m.category)),
        ("Severity", FindingValue::Number(m.severity)),
        ("Technique", text(m.technique)),
        ("external_id", text(m.external_id)),
        ("id", FindingValue::Null),
        ("signatureID", FindingValue::Text(m.id)),
        ("signatureName", FindingValue::Text(m.name)),
    ]
}

/// Who a counting signature counts for: a process, or an address when the packet has no
/// owning process (capture files, kernel-sent packets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Actor {
    Process(u32),
    Address(std::net::IpAddr),
}

impl Actor {
    /// The owner of `ctx`, or `address` without one.
    pub(crate) fn of(ctx: &netcore_core::EventContext<'_>, address: std::net::IpAddr) -> Actor {
        match ctx.host_process_id {
            0 => Actor::Address(address),
            pid => Actor::Process(pid),
        }
    }
}

/// The network layer and TCP header of a connection attempt (a SYN without ACK).
pub(crate) fn connection_attempt<'a>(
    events: &PacketEvents<'_, 'a>,
) -> Option<(netcore_core::Network<'a>, netcore_core::tcp::TcpView<'a>)> {
    use netcore_core::tcp::flag;
    let (Some(network), Some(netcore_core::Transport::Tcp(tcp))) =
        (events.packet.network, events.packet.transport)
    else {
        return None;
    };
    (tcp.flags() & (flag::SYN | flag::ACK) == flag::SYN).then_some((network, tcp))
}

/// A bounded map of per-owner state: full, it forgets everything (counted).
pub(crate) fn bounded_entry<'m, K: std::hash::Hash + Eq, V: Default>(
    map: &'m mut HashMap<K, V>,
    key: K,
    forgotten: &mut u64,
) -> &'m mut V {
    if map.len() >= MAX_TRACKED && !map.contains_key(&key) {
        *forgotten += map.len() as u64;
        map.clear();
    }
    map.entry(key).or_default()
}
