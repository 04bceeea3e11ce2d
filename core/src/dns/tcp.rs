//! DNS over TCP (RFC 7766): each message is preceded by a 2-byte length. A segment may
//! carry several messages, and a message may be split over segments. Messages wholly
//! inside one segment are handed out in place; only the unfinished tail of a segment is
//! copied into a per-flow buffer, bounded in size, count and idle time. Everything
//! dropped is counted.

use alloc::vec::Vec;

/// Limits of the reassembly state.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Flows with a partial message held at once; the least recently seen is evicted.
    pub max_flows: usize,
    /// Bytes held across all flows.
    pub max_bytes: usize,
    /// A flow idle this long (capture time, ns) is dropped.
    pub idle_timeout_ns: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_flows: 1024,
            max_bytes: 16 << 20,
            idle_timeout_ns: 30_000_000_000,
        }
    }
}

/// What reassembly dropped or did, for the run summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Messages handed out whole from one segment.
    pub in_place: u64,
    /// Messages put together from several segments.
    pub reassembled: u64,
    /// Segments repeating data already seen (retransmissions), ignored.
    pub duplicates: u64,
    /// Partial messages dropped because a segment was missing.
    pub dropped_gap: u64,
    /// Partial messages dropped to stay within `max_bytes`.
    pub dropped_memory: u64,
    /// Partial messages dropped to stay within `max_flows`.
    pub dropped_evicted: u64,
    /// Partial messages dropped after `idle_timeout_ns`.
    pub dropped_idle: u64,
    /// Partial messages dropped because the connection closed.
    pub dropped_closed: u64,
    /// Segments skipped on a flow that lost data, whose message boundaries are unknown.
    pub skipped_unsynced: u64,
}

impl Stats {
    /// Adds `other`'s counts (another reassembler's, of the same run).
    pub fn add(&mut self, other: &Stats) {
        let Stats {
            in_place,
            reassembled,
            duplicates,
            dropped_gap,
            dropped_memory,
            dropped_evicted,
            dropped_idle,
            dropped_closed,
            skipped_unsynced,
        } = other;
        self.in_place += in_place;
        self.reassembled += reassembled;
        self.duplicates += duplicates;
        self.dropped_gap += dropped_gap;
        self.dropped_memory += dropped_memory;
        self.dropped_evicted += dropped_evicted;
        self.dropped_idle += dropped_idle;
        self.dropped_closed += dropped_closed;
        self.skipped_unsynced += skipped_unsynced;
    }
}

/// One direction of a TCP connection: addresses (IPv4 mapped into IPv6) and ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowKey {
    /// Source address.
    pub src: [u8; 16],
    /// Destination address.
    pub dst: [u8; 16],
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
}

#[derive(Debug)]
struct Flow {
    key: FlowKey,
    next_seq: u32,
    last_seen_ns: u64,
    pending: Vec<u8>,
    /// Data was lost: message boundaries are unknown until the connection closes.
    lost_sync: bool,
}

/// Reassembles DNS messages from TCP segments of many flows.
#[derive(Debug, Default)]
pub struct Reassembler {
    limits: Limits,
    flows: Vec<Flow>,
    held_bytes: usize,
    stats: Stats,
}

/// Hands every complete length-prefixed message at the start of `bytes` to `on_message`;
/// returns how many bytes were consumed.
fn split_messages(bytes: &[u8], on_message: &mut impl FnMut(&[u8])) -> (usize, u64) {
    let (mut at, mut count) = (0, 0);
    while let Some(len) = bytes
        .get(at..at + 2)
        .map(|l| usize::from(u16::from_be_bytes([l[0], l[1]])))
    {
        let Some(message) = bytes.get(at + 2..at + 2 + len) else {
            break;
        };
        on_message(message);
        at += 2 + len;
        count += 1;
    }
    (at, count)
}

impl Reassembler {
    /// A reassembler with these limits.
    pub fn new(limits: Limits) -> Self {
        Reassembler {
            limits,
            ..Default::default()
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Flows tracked: holding a partial message, or waiting to close after lost data.
    pub fn pending_flows(&self) -> usize {
        self.flows.len()
    }

    /// Feeds one segment of the flow `key`: sequence number `seq`, data `payload`, seen at
    /// `now_ns`; `closing` when it carries FIN or RST. Calls `on_message` with each DNS
    /// message (without its length prefix) that this segment completes.
    pub fn push(
        &mut self,
        key: FlowKey,
        seq: u32,
        payload: &[u8],
        closing: bool,
        now_ns: u64,
        mut on_message: impl FnMut(&[u8]),
    ) {
        self.expire(now_ns);
        let index = self.flows.iter().position(|f| f.key == key);
        let Some(i) = index else {
            let (used, count) = split_messages(payload, &mut on_message);
            self.stats.in_place += count;
            if used < payload.len() {
                if closing {
                    self.stats.dropped_closed += 1;
                } else {
                    self.hold(
                        key,
                        seq.wrapping_add(payload.len() as u32),
                        &payload[used..],
                        now_ns,
                    );
                }
            }
            return;
        };
        let flow = &mut self.flows[i];
        if closing && flow.lost_sync {
            self.remove(i);
            return;
        }
        if payload.is_empty() && !closing {
            return;
        }
        if flow.lost_sync {
            self.stats.skipped_unsynced += 1;
            flow.last_seen_ns = now_ns;
            return;
        }
        let end = seq.wrapping_add(payload.len() as u32);
        // Everything up to `end` was seen before: a retransmission.
        if !payload.is_empty() && (flow.next_seq.wrapping_sub(end) as i32) >= 0 {
            self.stats.duplicates += 1;
            return;
        }
        if seq != flow.next_seq {
            self.stats.dropped_gap += 1;
            self.lose_sync(i, now_ns);
            return;
        }
        if self.held_bytes + payload.len() > self.limits.max_bytes {
            self.stats.dropped_memory += 1;
            self.lose_sync(i, now_ns);
            return;
        }
        let flow = &mut self.flows[i];
        flow.pending.extend_from_slice(payload);
        flow.next_seq = end;
        flow.last_seen_ns = now_ns;
        self.held_bytes += payload.len();
        let (used, count) = split_messages(&flow.pending, &mut on_message);
        self.stats.reassembled += count;
        flow.pending.drain(..used);
        self.held_bytes -= used;
        if flow.pending.is_empty() {
            self.remove(i);
        } else if closing {
            self.stats.dropped_closed += 1;
            self.remove(i);
        }
    }

    fn hold(&mut self, key: FlowKey, next_seq: u32, tail: &[u8], now_ns: u64) {
        if self.flows.len() >= self.limits.max_flows {
            let oldest = (0..self.flows.len()).min_by_key(|&i| self.flows[i].last_seen_ns);
            if let Some(i) = oldest {
                self.stats.dropped_evicted += 1;
                self.remove(i);
            }
        }
        if self.held_bytes + tail.len() > self.limits.max_bytes || self.limits.max_flows == 0 {
            self.stats.dropped_memory += 1;
            return;
        }
        self.held_bytes += tail.len();
        self.flows.push(Flow {
            key,
            next_seq,
            last_seen_ns: now_ns,
            pending: tail.to_vec(),
            lost_sync: false,
        });
    }

    /// Drops the flow's partial message but remembers the flow, so that its next segments,
    /// which start mid-message, are not read as new messages.
    fn lose_sync(&mut self, i: usize, now_ns: u64) {
        let flow = &mut self.flows[i];
        self.held_bytes -= flow.pending.len();
        flow.pending = Vec::new();
        flow.lost_sync = true;
        flow.last_seen_ns = now_ns;
    }

    fn remove(&mut self, i: usize) {
        let flow = self.flows.swap_remove(i);
        self.held_bytes -= flow.pending.len();
    }

    fn expire(&mut self, now_ns: u64) {
        let timeout = self.limits.idle_timeout_ns;
        let mut i = 0;
        while i < self.flows.len() {
            if now_ns.saturating_sub(self.flows[i].last_seen_ns) > timeout {
                self.stats.dropped_idle += 1;
                self.remove(i);
            } else {
                i += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: FlowKey = FlowKey {
        src: [1; 16],
        dst: [2; 16],
        src_port: 5353,
        dst_port: 53,
    };

    fn framed(messages: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for m in messages {
            out.extend_from_slice(&(m.len() as u16).to_be_bytes());
            out.extend_from_slice(m);
        }
        out
    }

    fn push(
        r: &mut Reassembler,
        key: FlowKey,
        seq: u32,
        payload: &[u8],
        closing: bool,
        now: u64,
    ) -> Vec<Vec<u8>> {
        let mut got = Vec::new();
        r.push(key, seq, payload, closing, now, |m| got.push(m.to_vec()));
        got
    }

    #[test]
    fn several_messages_in_one_segment_are_handed_out_in_place() {
        let mut r = Reassembler::new(Limits::default());
        let got = push(&mut r, KEY, 100, &framed(&[b"first", b"second"]), false, 0);
        assert_eq!(got, [b"first".to_vec(), b"second".to_vec()]);
        assert_eq!((r.stats().in_place, r.pending_flows()), (2, 0));
    }

    #[test]
    fn a_message_split_over_three_segments() {
        let mut r = Reassembler::new(Limits::default());
        let bytes = framed(&[b"one", b"split-message"]);
        let (a, rest) = bytes.split_at(7);
        let (b, c) = rest.split_at(6);
        assert_eq!(push(&mut r, KEY, 1000, a, false, 0), [b"one".to_vec()]);
        assert_eq!(r.pending_flows(), 1);
        assert!(push(&mut r, KEY, 1007, b, false, 1).is_empty());
        assert_eq!(
            push(&mut r, KEY, 1013, c, false, 2),
            [b"split-message".to_vec()]
        );
        assert_eq!(r.pending_flows(), 0);
        assert_eq!(
            r.stats(),
            Stats {
                in_place: 1,
                reassembled: 1,
                ..Default::default()
            }
        );
    }

    #[test]
    fn the_length_prefix_itself_can_be_split() {
        let mut r = Reassembler::new(Limits::default());
        let bytes = framed(&[b"abc"]);
        assert!(push(&mut r, KEY, u32::MAX, &bytes[..1], false, 0).is_empty());
        assert_eq!(
            push(&mut r, KEY, 0, &bytes[1..], false, 0),
            [b"abc".to_vec()]
        );
    }

    #[test]
    fn retransmission_is_ignored_and_a_gap_drops_the_flow() {
        let mut r = Reassembler::new(Limits::default());
        let bytes = framed(&[b"0123456789"]);
        push(&mut r, KEY, 0, &bytes[..4], false, 0);
        assert!(push(&mut r, KEY, 0, &bytes[..4], false, 0).is_empty());
        assert_eq!(r.stats().duplicates, 1);
        assert!(push(&mut r, KEY, 6, &bytes[6..], false, 0).is_empty());
        assert_eq!(r.stats().dropped_gap, 1);
        // The flow's later segments start mid-message: skipped, not misread, until it closes.
        assert!(push(&mut r, KEY, 12, &framed(&[b"next"]), false, 0).is_empty());
        assert_eq!(r.stats().skipped_unsynced, 1);
        push(&mut r, KEY, 18, &[], true, 0);
        assert_eq!(r.pending_flows(), 0);
        assert_eq!(
            push(&mut r, KEY, 0, &framed(&[b"new"]), false, 0),
            [b"new".to_vec()]
        );
    }

    fn key(port: u16) -> FlowKey {
        FlowKey {
            src_port: port,
            ..KEY
        }
    }

    #[test]
    fn the_least_recently_seen_flow_is_evicted() {
        let partial = framed(&[&[7u8; 100]]);
        let mut r = Reassembler::new(Limits {
            max_flows: 2,
            ..Limits::default()
        });
        for port in 1..=3 {
            push(&mut r, key(port), 0, &partial[..50], false, u64::from(port));
        }
        assert_eq!((r.stats().dropped_evicted, r.pending_flows()), (1, 2));
        assert_eq!(push(&mut r, key(2), 50, &partial[50..], false, 5).len(), 1);
        assert_eq!(push(&mut r, key(3), 50, &partial[50..], false, 5).len(), 1);
    }

    #[test]
    fn held_bytes_stay_within_the_memory_cap() {
        let partial = framed(&[&[7u8; 100]]);
        let mut r = Reassembler::new(Limits {
            max_bytes: 100,
            ..Limits::default()
        });
        push(&mut r, key(1), 0, &partial[..60], false, 0);
        push(&mut r, key(2), 0, &partial[..60], false, 0);
        assert_eq!((r.stats().dropped_memory, r.pending_flows()), (1, 1));
        push(&mut r, key(1), 60, &partial[60..], false, 0);
        assert_eq!(r.stats().dropped_memory, 2);
        assert!(push(&mut r, key(1), 102, &framed(&[b"x"]), false, 0).is_empty());
    }

    #[test]
    fn idle_and_closed_flows_are_dropped() {
        let partial = framed(&[&[7u8; 100]]);
        let mut r = Reassembler::new(Limits {
            idle_timeout_ns: 10,
            ..Limits::default()
        });
        push(&mut r, key(1), 0, &partial[..10], false, 0);
        push(&mut r, key(2), 0, &partial[..10], false, 100);
        assert_eq!((r.stats().dropped_idle, r.pending_flows()), (1, 1));
        push(&mut r, key(2), 10, &partial[10..20], true, 101);
        push(&mut r, key(3), 0, &partial[..10], true, 102);
        assert_eq!((r.stats().dropped_closed, r.pending_flows()), (2, 0));
    }
}
