//! The reference's end-to-end DNS signature: fires once it has seen, for one domain, an MX
//! answer `mx.DOMAIN` with preference 10, an NS answer `eliot.DOMAIN`, an SOA answer whose
//! RName is `root.DOMAIN` and a TXT answer containing `spf.DOMAIN` (`nslookup -type=mx|ns|
//! soa|txt uol.com.br`), then starts over.

use netcore_core::dns::name::MAX_PRESENTATION_LEN;
use netcore_core::dns::{Entry, Name, RData, Section};
use netcore_core::{EventKind, EventSet, PacketEvents};

use super::{Finding, Metadata, Signature};

static METADATA: Metadata = Metadata {
    id: "DNS",
    version: "0.1.0",
    name: "Network DNS Test",
    event_name: "dns_e2e",
    event_id: "6000",
    description: "Network E2E Tests: DNS",
    tags: &["e2e", "network"],
    severity: 0,
    category: "",
    technique: "",
    external_id: "",
};

/// The answers expected, and which have been seen.
pub struct DnsE2e {
    mx: String,
    ns: String,
    soa_rname: String,
    txt: String,
    /// MX, NS, SOA, TXT seen.
    found: [bool; 4],
}

impl DnsE2e {
    /// Expects the answers of `domain`.
    pub fn new(domain: &str) -> Self {
        DnsE2e {
            mx: format!("mx.{domain}"),
            ns: format!("eliot.{domain}"),
            soa_rname: format!("root.{domain}"),
            txt: format!("spf.{domain}"),
            found: [false; 4],
        }
    }
}

/// `name` as text, without the root's dot.
fn text<'b>(name: &Name<'_>, buf: &'b mut [u8; MAX_PRESENTATION_LEN]) -> &'b str {
    name.presentation(buf).unwrap_or("").trim_end_matches('.')
}

impl Signature for DnsE2e {
    fn metadata(&self) -> &'static Metadata {
        &METADATA
    }

    fn selected_events(&self) -> EventSet {
        EventSet::NONE.with(EventKind::Dns)
    }

    fn on_event(&mut self, _kind: EventKind, events: &PacketEvents<'_, '_>) -> Option<Finding> {
        let message = events.dns?;
        let mut buf = [0u8; MAX_PRESENTATION_LEN];
        for entry in message.entries() {
            let Entry::Record(Section::Answer, record) = entry else {
                continue;
            };
            match record.data() {
                RData::Mx {
                    preference: 10,
                    exchange,
                } if text(&exchange, &mut buf) == self.mx => self.found[0] = true,
                RData::Ns(name) if text(&name, &mut buf) == self.ns => self.found[1] = true,
                RData::Soa { rname, .. } if text(&rname, &mut buf) == self.soa_rname => {
                    self.found[2] = true
                }
                RData::Txt(strings) => {
                    let needle = self.txt.as_bytes();
                    if strings
                        .into_iter()
                        .any(|s| s.windows(needle.len()).any(|w| w == needle))
                    {
                        self.found[3] = true;
                    }
                }
                _ => {}
            }
        }
        if self.found != [true; 4] {
            return None;
        }
        self.found = [false; 4];
        Some(Finding::default())
    }
}
