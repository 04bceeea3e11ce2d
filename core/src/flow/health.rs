//! A TCP connection's health from its packets, with Wireshark's semantics so that a
//! capture is its own oracle: the packets Wireshark's TCP analysis
//! (`epan/dissectors/packet-tcp.c`, `tcp_analyze_sequence_number`) marks
//! `tcp.analysis.retransmission` (fast and spurious retransmissions included),
//! `tcp.analysis.out_of_order` and `tcp.analysis.zero_window`, counted per direction, and
//! `tcp.analysis.initial_rtt` — the most recent SYN to the first packet with ACK and
//! without SYN after it, as seen at the capture point.
//!
//! The rules were read in a 3.x-era `packet-tcp.c`; `tests/health.rs` holds them to the
//! output of tshark 4.0.17 on every TCP connection of the test captures.
//!
//! The analysis keeps, per direction, the next sequence number expected and when it was
//! reached, the last ACK number and when it was sent, the last window, the duplicate-ACK
//! run and whether the last segment was a keep-alive, with the direction's counts: 48
//! bytes a direction, 112 a connection. Sequence numbers compare modulo 2³² as
//! Wireshark's `LT_SEQ`/`GT_SEQ`; like Wireshark, a next sequence number of 0 means none
//! seen yet.
//!
//! Deliberate differences: windows are compared as sent (Wireshark scales them by the
//! handshake's window-scale options first; the two differ only when a SYN's window is
//! compared with a later segment's, i.e. for a duplicate ACK right after the SYN+ACK,
//! which can only turn a fast retransmission into an out-of-order segment or back); and
//! Wireshark's limit of 1,000 unacknowledged segments a direction, past which it stops
//! counting a SYN or FIN as a sequence number, is not kept.

use super::conn::Side;
use crate::tcp::flag;

/// Wireshark's out-of-order threshold before the initial RTT is known, ns.
const OUT_OF_ORDER_DEFAULT_NS: u64 = 3_000_000;
/// How soon after a duplicate ACK a retransmission of the acknowledged byte is fast, ns.
const FAST_RETRANSMISSION_NS: u64 = 20_000_000;

/// What the analysis needs of one TCP segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number.
    pub ack: u32,
    /// Payload length, from the IP header (not the bytes captured).
    pub len: u32,
    /// TCP flags.
    pub flags: u8,
    /// The window field as sent.
    pub window: u16,
    /// When it was seen, ns.
    pub time_ns: u64,
}

/// What the analysis found a segment to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Marks {
    /// `tcp.analysis.retransmission` (also fast and spurious ones).
    pub retransmission: bool,
    /// `tcp.analysis.out_of_order`.
    pub out_of_order: bool,
    /// `tcp.analysis.zero_window`.
    pub zero_window: bool,
    keep_alive: bool,
    zero_window_probe: bool,
}

/// One direction's counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HealthCounts {
    /// Segments marked retransmissions.
    pub retransmits: u32,
    /// Segments marked out of order.
    pub out_of_order: u32,
    /// Segments advertising a zero window.
    pub zero_windows: u32,
}

/// The analysis state of the segments one side sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sender {
    /// The highest sequence number reached plus one; 0 before any.
    next_seq: u32,
    last_ack: u32,
    /// The last window sent; `u32::MAX` before any, so the first is never a repeat.
    window: u32,
    dup_acks: u32,
    next_seq_ns: u64,
    last_ack_ns: u64,
    /// Whether its last segment was a keep-alive.
    last_keep_alive: bool,
    counts: HealthCounts,
}

impl Default for Sender {
    fn default() -> Self {
        Sender {
            next_seq: 0,
            last_ack: 0,
            window: u32::MAX,
            dup_acks: 0,
            next_seq_ns: 0,
            last_ack_ns: 0,
            last_keep_alive: false,
            counts: HealthCounts::default(),
        }
    }
}

/// A TCP connection's analysis: both directions and the handshake's timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Health {
    senders: [Sender; 2],
    /// When the most recent SYN (without ACK) was seen, 0 before any.
    syn_ns: u64,
    /// `tcp.analysis.initial_rtt`, 0 until known.
    initial_rtt_ns: u64,
}

/// Wireshark's `LT_SEQ`: `a` before `b`, modulo 2³².
fn before(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

impl Health {
    /// The initial RTT, ns; 0 when the handshake was not seen.
    pub fn initial_rtt_ns(&self) -> u64 {
        self.initial_rtt_ns
    }

    /// What `side` sent that was marked.
    pub fn counts(&self, side: Side) -> HealthCounts {
        self.senders[side.index()].counts
    }

    /// Analyses one segment `side` sent and counts what it is.
    pub fn segment(&mut self, side: Side, s: &Segment) -> Marks {
        let has = |bits: u8| s.flags & bits != 0;
        if has(flag::SYN) && !has(flag::ACK) {
            self.syn_ns = s.time_ns;
        } else if has(flag::ACK) && !has(flag::SYN) && self.syn_ns != 0 && self.initial_rtt_ns == 0
        {
            self.initial_rtt_ns = s.time_ns.wrapping_sub(self.syn_ns);
        }
        let out_of_order_after = match self.initial_rtt_ns {
            0 => OUT_OF_ORDER_DEFAULT_NS,
            rtt => rtt,
        };
        let [orig, resp] = &mut self.senders;
        let (fwd, rev) = match side {
            Side::Orig => (orig, resp),
            Side::Resp => (resp, orig),
        };
        let marks = mark(fwd, rev, s, out_of_order_after);
        let counts = &mut fwd.counts;
        counts.retransmits += u32::from(marks.retransmission);
        counts.out_of_order += u32::from(marks.out_of_order);
        counts.zero_windows += u32::from(marks.zero_window);
        marks
    }
}

/// Wireshark's `tcp_analyze_sequence_number` for segment `s` of sender `fwd`, whose peer
/// is `rev`: the marks that feed the counts, and the state they leave.
fn mark(fwd: &mut Sender, rev: &Sender, s: &Segment, out_of_order_after: u64) -> Marks {
    let has = |bits: u8| s.flags & bits != 0;
    let control = has(flag::SYN | flag::FIN | flag::RST);
    let window = u32::from(s.window);
    let repeats_last = s.len == 0
        && window == fwd.window
        && s.seq == fwd.next_seq
        && s.ack == fwd.last_ack
        && !control;
    let mut marks = Marks::default();
    if s.len == 1 && s.seq == fwd.next_seq && rev.window == 0 {
        marks.zero_window_probe = true;
    } else {
        marks.zero_window = window == 0 && !control;
        marks.keep_alive = s.len <= 1 && s.seq == fwd.next_seq.wrapping_sub(1) && !control;
        // A repeat of the last ACK is a duplicate unless it answers a keep-alive.
        if repeats_last && window != 0 && !rev.last_keep_alive {
            fwd.dup_acks += 1;
        }
    }
    if s.ack != fwd.last_ack {
        fwd.dup_acks = 0;
    }
    if (s.len > 0 || has(flag::SYN | flag::FIN)) && !marks.keep_alive {
        let mut not_advanced = fwd.next_seq != 0 && before(s.seq, fwd.next_seq);
        // More than one byte from just before the next one: new data after a probe.
        if s.len > 1 && fwd.next_seq.wrapping_sub(1) == s.seq {
            not_advanced = false;
        }
        let fast = not_advanced
            && rev.dup_acks >= 2
            && rev.last_ack == s.seq
            && s.time_ns.wrapping_sub(rev.last_ack_ns) < FAST_RETRANSMISSION_NS;
        let spurious =
            s.len > 0 && rev.last_ack != 0 && !before(rev.last_ack, s.seq.wrapping_add(s.len));
        if fast {
            marks.retransmission = true;
        } else if not_advanced
            // Only a segment with payload is out of order; a SYN or FIN sent again is not.
            && s.len > 0
            && s.time_ns.wrapping_sub(fwd.next_seq_ns) < out_of_order_after
            && fwd.next_seq != s.seq.wrapping_add(s.len)
        {
            marks.out_of_order = true;
        } else {
            marks.retransmission = spurious || not_advanced;
        }
    }
    let next = s
        .seq
        .wrapping_add(s.len)
        .wrapping_add(u32::from(has(flag::SYN | flag::FIN)));
    if (before(fwd.next_seq, next) || fwd.next_seq == 0) && !marks.zero_window_probe {
        fwd.next_seq = next;
        fwd.next_seq_ns = s.time_ns;
    }
    fwd.window = window;
    fwd.last_ack = s.ack;
    fwd.last_ack_ns = s.time_ns;
    fwd.last_keep_alive = marks.keep_alive;
    marks
}

#[cfg(test)]
mod tests {
    use super::*;
    use Side::{Orig as O, Resp as R};
    use flag::{ACK, FIN, PSH, SYN};

    const MS: u64 = 1_000_000;

    /// Runs `segments` (side, seq, ack, len, flags, window, ms) through one connection and
    /// returns each one's marks as `r`, `o`, `z` or `.`.
    fn marks(segments: &[(Side, u32, u32, u32, u8, u16, u64)]) -> (Health, alloc::string::String) {
        let mut health = Health::default();
        let mut letters = alloc::string::String::new();
        for &(side, seq, ack, len, flags, window, ms) in segments {
            let m = health.segment(
                side,
                &Segment {
                    seq,
                    ack,
                    len,
                    flags,
                    window,
                    // From a second on: a time of 0 means none.
                    time_ns: (1000 + ms) * MS,
                },
            );
            letters.push(match (m.retransmission, m.out_of_order, m.zero_window) {
                (true, _, _) => 'r',
                (_, true, _) => 'o',
                (_, _, true) => 'z',
                _ => '.',
            });
        }
        (health, letters)
    }

    /// A handshake at 0, 10 and 20 ms: client ISN 100, server ISN 500, RTT 20 ms.
    const HANDSHAKE: [(Side, u32, u32, u32, u8, u16, u64); 3] = [
        (O, 100, 0, 0, SYN, 1000, 0),
        (R, 500, 101, 0, SYN | ACK, 1000, 10),
        (O, 101, 501, 0, ACK, 1000, 20),
    ];

    fn after_handshake(
        rest: &[(Side, u32, u32, u32, u8, u16, u64)],
    ) -> (Health, alloc::string::String) {
        let mut all = HANDSHAKE.to_vec();
        all.extend_from_slice(rest);
        marks(&all)
    }

    #[test]
    fn the_initial_rtt_runs_from_the_latest_syn_to_the_first_ack() {
        let (health, _) = after_handshake(&[]);
        assert_eq!(health.initial_rtt_ns(), 20 * MS);
        // A SYN sent again: the RTT counts from the last one.
        let (health, letters) = marks(&[
            (O, 100, 0, 0, SYN, 1000, 0),
            (O, 100, 0, 0, SYN, 1000, 1000),
            (R, 500, 101, 0, SYN | ACK, 1000, 1010),
            (O, 101, 501, 0, ACK, 1000, 1020),
        ]);
        assert_eq!(
            (health.initial_rtt_ns(), letters.as_str()),
            (20 * MS, ".r..")
        );
        assert_eq!(health.counts(O).retransmits, 1);
    }

    #[test]
    fn a_syn_ack_sent_again_within_the_rtt_is_a_retransmission() {
        // As a live test caught it: the client's SYN sent again, both SYN+ACKs arriving
        // 38 µs apart, inside the 78 µs RTT (here 15 ms, inside 20). Without payload,
        // never out of order.
        let (health, letters) = marks(&[
            (O, 100, 0, 0, SYN, 1000, 0),
            (O, 100, 0, 0, SYN, 1000, 1000),
            (R, 500, 101, 0, SYN | ACK, 1000, 1010),
            (O, 101, 501, 0, ACK, 1000, 1020),
            (R, 500, 101, 0, SYN | ACK, 1000, 1025),
        ]);
        assert_eq!(letters, ".r..r");
        assert_eq!(health.counts(R).retransmits, 1);
        assert_eq!(health.counts(R).out_of_order, 0);
    }

    #[test]
    fn a_segment_sent_again_later_is_a_retransmission() {
        let (health, letters) = after_handshake(&[
            (O, 101, 501, 100, ACK | PSH, 1000, 30),
            (O, 201, 501, 100, ACK | PSH, 1000, 31),
            // Sent again long after (more than the 20 ms RTT): a retransmission.
            (O, 101, 501, 100, ACK | PSH, 1000, 300),
        ]);
        assert_eq!(letters, ".....r");
        assert_eq!(health.counts(O).retransmits, 1);
        assert_eq!(health.counts(R), HealthCounts::default());
    }

    #[test]
    fn a_segment_late_by_less_than_the_rtt_is_out_of_order() {
        let (health, letters) = after_handshake(&[
            (O, 201, 501, 100, ACK | PSH, 1000, 30),
            (O, 101, 501, 100, ACK | PSH, 1000, 31),
        ]);
        assert_eq!(letters, "....o");
        assert_eq!(health.counts(O).out_of_order, 1);
    }

    #[test]
    fn two_duplicate_acks_make_the_next_resend_fast() {
        let (health, letters) = after_handshake(&[
            (O, 101, 501, 100, ACK, 1000, 30),
            (O, 201, 501, 100, ACK, 1000, 30),
            (O, 301, 501, 100, ACK, 1000, 30),
            // The first was lost: the server acknowledges 101 three times.
            (R, 501, 101, 0, ACK, 1000, 31),
            (R, 501, 101, 0, ACK, 1000, 31),
            (R, 501, 101, 0, ACK, 1000, 31),
            // Within the RTT of the highest segment, but a fast retransmission first.
            (O, 101, 501, 100, ACK, 1000, 32),
        ]);
        assert_eq!(&letters[3..], "......r");
        assert_eq!(health.counts(O).retransmits, 1);
        assert_eq!(health.counts(O).out_of_order, 0);
    }

    #[test]
    fn data_already_acknowledged_is_a_spurious_retransmission() {
        let (health, letters) = after_handshake(&[
            (O, 101, 501, 100, ACK, 1000, 30),
            (R, 501, 201, 0, ACK, 1000, 40),
            // The peer had it: spurious, counted as a retransmission.
            (O, 101, 501, 100, ACK, 1000, 45),
        ]);
        assert_eq!(&letters[3..], "..r");
        assert_eq!(health.counts(O).retransmits, 1);
    }

    #[test]
    fn zero_windows_probes_and_keep_alives() {
        let (health, letters) = after_handshake(&[
            (O, 101, 501, 100, ACK, 1000, 30),
            // The server's buffer is full.
            (R, 501, 201, 0, ACK, 0, 31),
            // A one-byte probe is neither a retransmission nor a window mark.
            (O, 201, 501, 1, ACK, 1000, 200),
            // The probe's ACK repeats the zero window: counted again, as Wireshark does.
            (R, 501, 201, 0, ACK, 0, 201),
            (R, 501, 201, 0, ACK, 1000, 400),
            // A keep-alive: one byte before the next sequence number, not a retransmission.
            (O, 200, 501, 0, ACK, 1000, 5000),
            // SYN, FIN and RST never mark a zero window.
            (R, 501, 201, 0, ACK | FIN, 0, 6000),
        ]);
        assert_eq!(&letters[3..], ".z.z...");
        assert_eq!(health.counts(R).zero_windows, 2);
        assert_eq!(health.counts(O), HealthCounts::default());
    }

    #[test]
    fn sequence_numbers_wrap() {
        let (health, letters) = marks(&[
            (O, u32::MAX - 50, 0, 0, SYN, 1000, 0),
            (R, 500, u32::MAX - 49, 0, SYN | ACK, 1000, 10),
            (O, u32::MAX - 49, 501, 100, ACK, 1000, 20),
            (O, 50, 501, 100, ACK, 1000, 21),
            (O, u32::MAX - 49, 501, 100, ACK, 1000, 500),
        ]);
        assert_eq!(letters, "....r");
        assert_eq!(health.counts(O).retransmits, 1);
    }
}
