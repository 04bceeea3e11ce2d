//! DNS transactions: each query waiting for its response, for `net_dns_transaction` and
//! for the lookup round trip a `net_flow` carries. A query is keyed by network namespace,
//! protocol, both endpoints, id and question (name, case-insensitive, and type): a
//! retransmitted query keeps the first one's time, as tshark's `dns.time` does.
//!
//! Bounds: at most [`MAX_PENDING`] queries wait at once; a query that finds the table
//! full is not tracked (counted). A query unanswered after the timeout (`--dns-timeout`,
//! default 5 s) or at the end of the run leaves the table once, as unanswered.

use std::collections::HashMap;
use std::net::IpAddr;

use netcore_core::dns::name::MAX_PRESENTATION_LEN;
use netcore_core::dns::{AnswerText, DnsMessage, Entry, RecordType, Section};
use netcore_core::flow::Rcode;
use netcore_core::owner::Owner;

/// Queries waiting for a response at most.
pub const MAX_PENDING: usize = 16_384;

/// What identifies a query and its response.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    netns: u64,
    protocol: u8,
    client: (IpAddr, u16),
    server: (IpAddr, u16),
    id: u16,
    qtype: u16,
    /// The question's name, lower-cased.
    name: String,
}

/// A query waiting for its response.
#[derive(Debug)]
pub struct Query {
    /// IP protocol (UDP or TCP).
    pub protocol: u8,
    /// The querying end.
    pub client: (IpAddr, u16),
    /// The server asked.
    pub server: (IpAddr, u16),
    /// When it was sent, ns since the Unix epoch.
    pub sent_ns: u64,
    /// The question's name, as asked, without the final dot (the root: `.`).
    pub name: String,
    /// The question's type.
    pub qtype: RecordType,
    /// The owner of the query's local socket, when known.
    pub owner: Option<Box<Owner>>,
    /// Whether this table reports it: false for a copy of a query whose flow another
    /// thread's table tracks (and reports), kept for the round trip alone.
    pub reported: bool,
}

/// A query and its response.
#[derive(Debug)]
pub struct Answered {
    /// The query.
    pub query: Query,
    /// The response's code.
    pub rcode: Rcode,
    /// The answer section's data as presentation text.
    pub answers: Vec<String>,
    /// Query to response, ns.
    pub rtt_ns: u64,
}

/// What the transactions came to, for the summary.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TransactionStats {
    /// Queries paired with their response.
    pub answered: u64,
    /// Queries that timed out or were still waiting at the end.
    pub unanswered: u64,
    /// Queries not tracked because [`MAX_PENDING`] were waiting.
    pub untracked: u64,
}

impl TransactionStats {
    /// Adds the counts of `other` (another thread's table).
    pub fn add(&mut self, other: &TransactionStats) {
        self.answered += other.answered;
        self.unanswered += other.unanswered;
        self.untracked += other.untracked;
    }
}

/// The queries waiting for their responses.
pub struct DnsTransactions {
    pending: HashMap<Key, Query>,
    timeout_ns: u64,
    /// Counts so far.
    pub stats: TransactionStats,
}

impl DnsTransactions {
    /// An empty table whose queries wait `timeout_ns` for their responses.
    pub fn new(timeout_ns: u64) -> Self {
        DnsTransactions {
            pending: HashMap::new(),
            timeout_ns,
            stats: TransactionStats::default(),
        }
    }

    /// Takes DNS message `message`, seen at `now_ns` on `seen` (network namespace,
    /// protocol, source, destination): a query waits (owned by `owner`); a response returns
    /// the query it answers, if one waits. Messages without exactly one question pair with
    /// nothing. `reported` is false for a copy of a message whose flow another table
    /// tracks and reports: its queries only time the lookup, uncounted here.
    pub fn message(
        &mut self,
        now_ns: u64,
        seen: (u64, u8, (IpAddr, u16), (IpAddr, u16)),
        message: &DnsMessage<'_>,
        owner: impl FnOnce() -> Option<Box<Owner>>,
        reported: bool,
    ) -> Option<Answered> {
        let (netns, protocol, src, dst) = seen;
        let question = message.single_question()?;
        let mut buf = [0u8; MAX_PRESENTATION_LEN];
        let asked = question.name.presentation(&mut buf).ok()?;
        // `example.com`, and the root as `.`.
        let asked = match asked.trim_end_matches('.') {
            "" => ".",
            name => name,
        };
        let response = message.qr() == 1;
        let (client, server) = if response { (dst, src) } else { (src, dst) };
        let key = Key {
            netns,
            protocol,
            client,
            server,
            id: message.id(),
            qtype: question.qtype.0,
            name: asked.to_ascii_lowercase(),
        };
        if !response {
            if !self.pending.contains_key(&key) {
                if self.pending.len() >= MAX_PENDING {
                    self.stats.untracked += 1;
                    return None;
                }
                let query = Query {
                    protocol,
                    client,
                    server,
                    sent_ns: now_ns,
                    name: asked.to_owned(),
                    qtype: question.qtype,
                    owner: owner(),
                    reported,
                };
                self.pending.insert(key, query);
            }
            return None;
        }
        let query = self.pending.remove(&key)?;
        self.stats.answered += u64::from(query.reported);
        let answers = message
            .entries()
            .filter_map(|entry| match entry {
                Entry::Record(Section::Answer, record) => Some(AnswerText(&record).to_string()),
                _ => None,
            })
            .collect();
        Some(Answered {
            rtt_ns: now_ns.saturating_sub(query.sent_ns),
            query,
            rcode: message.response_code(),
            answers,
        })
    }

    /// Takes out the queries unanswered at `now_ns` (sent more than the timeout before),
    /// in the order they were sent.
    pub fn expired(&mut self, now_ns: u64) -> Vec<Query> {
        let timeout_ns = self.timeout_ns;
        let expired = self
            .pending
            .extract_if(|_, query| now_ns >= query.sent_ns.saturating_add(timeout_ns))
            .map(|(_, query)| query)
            .collect();
        self.finish_unanswered(expired)
    }

    /// Takes out every query still waiting (the run ended), in the order they were sent.
    pub fn drain(&mut self) -> Vec<Query> {
        let waiting = self.pending.drain().map(|(_, query)| query).collect();
        self.finish_unanswered(waiting)
    }

    fn finish_unanswered(&mut self, mut queries: Vec<Query>) -> Vec<Query> {
        self.stats.unanswered += queries.iter().filter(|q| q.reported).count() as u64;
        queries.sort_by(|a, b| (a.sent_ns, &a.name).cmp(&(b.sent_ns, &b.name)));
        queries
    }
}
