//! The names DNS answers gave addresses, for flow records to name their ends with.
//!
//! Bounds: at most [`MAX_ADDRESSES`] addresses of [`MAX_NAMES`] names each, each name until
//! its record's TTL runs out; a new address finding the cache full empties it (counted).

use std::collections::HashMap;
use std::net::IpAddr;

use netcore_core::dns::name::MAX_PRESENTATION_LEN;
use netcore_core::dns::{self, DnsMessage, RData, Section};

/// Addresses the cache holds at most.
pub const MAX_ADDRESSES: usize = 65_536;
/// Names kept per address at most.
pub const MAX_NAMES: usize = 8;

/// The names DNS answers gave each address, per network namespace, until their TTL
/// runs out: at most [`MAX_ADDRESSES`] addresses of [`MAX_NAMES`] names each; full, it
/// forgets them all (counted).
#[derive(Default)]
pub struct DnsNames {
    by_address: HashMap<(u64, IpAddr), Resolved>,
}

/// What the answers said of one address.
#[derive(Default)]
struct Resolved {
    /// Each name and when its TTL runs out, ns.
    names: Vec<(String, u64)>,
    /// The round trip of the last lookup that gave the address, ns (0: not seen).
    rtt_ns: u64,
}

impl DnsNames {
    /// Learns the A and AAAA answers of `message` (a response) seen at `now_ns`, `rtt_ns`
    /// after its query (0: the query was not seen): each address gets the record's owner
    /// name and the name the client asked for. Returns how many addresses were forgotten
    /// to make room.
    pub fn learn(&mut self, netns: u64, message: &DnsMessage<'_>, now_ns: u64, rtt_ns: u64) -> u64 {
        if message.qr() != 1 {
            return 0;
        }
        let mut buf = [0u8; MAX_PRESENTATION_LEN];
        let asked = message
            .single_question()
            .and_then(|q| q.name.presentation(&mut buf).ok().map(str::to_owned));
        let mut forgotten = 0;
        for entry in message.entries() {
            let dns::Entry::Record(Section::Answer, record) = entry else {
                continue;
            };
            let address = match record.data() {
                RData::A(a) => IpAddr::from(a),
                RData::Aaaa(a) => IpAddr::from(a),
                _ => continue,
            };
            let Ok(owner) = record.name.presentation(&mut buf) else {
                continue;
            };
            let expires = now_ns + u64::from(record.ttl.max(1)) * 1_000_000_000;
            if self.by_address.len() >= MAX_ADDRESSES
                && !self.by_address.contains_key(&(netns, address))
            {
                forgotten += self.by_address.len() as u64;
                self.by_address.clear();
            }
            let resolved = self.by_address.entry((netns, address)).or_default();
            if rtt_ns > 0 {
                resolved.rtt_ns = rtt_ns;
            }
            let names = &mut resolved.names;
            for name in [Some(owner), asked.as_deref()].into_iter().flatten() {
                let name = name.trim_end_matches('.');
                if let Some((_, at)) = names.iter_mut().find(|(n, _)| n == name) {
                    *at = (*at).max(expires);
                } else if names.len() < MAX_NAMES {
                    names.push((name.to_owned(), expires));
                }
            }
        }
        forgotten
    }

    /// The names of `address` whose TTL has not run out at `now_ns`, and the round trip
    /// of the lookup that gave it (0 when none of them is left, or it was not seen).
    pub fn lookup(&self, netns: u64, address: IpAddr, now_ns: u64) -> (Vec<String>, u64) {
        let Some(resolved) = self.by_address.get(&(netns, address)) else {
            return (Vec::new(), 0);
        };
        let names: Vec<String> = resolved
            .names
            .iter()
            .filter(|(_, expires)| *expires > now_ns)
            .map(|(name, _)| name.clone())
            .collect();
        let rtt_ns = if names.is_empty() { 0 } else { resolved.rtt_ns };
        (names, rtt_ns)
    }
}
