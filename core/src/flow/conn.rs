//! A connection's state as Zeek's `conn.log` reports it: `conn_state` (S0, S1, SF, REJ,
//! S2, S3, RSTO, RSTR, RSTOS0, RSTRH, SH, SHR, OTH) from the two endpoints' TCP states,
//! and `history`, one letter per thing each side did — uppercase for the originator,
//! lowercase for the responder, in the order first seen:
//!
//! | letter | the side sent |
//! |---|---|
//! | `S` | a SYN without ACK |
//! | `H` | a SYN+ACK |
//! | `A` | a pure ACK (no payload, no SYN/FIN/RST) |
//! | `D` | payload |
//! | `F` | a FIN |
//! | `R` | a RST |
//! | `T` | a retransmission (as Wireshark marks it, see [`health`](super::health)) |
//! | `W` | a zero window |
//! | `^` | (first) the first packet was a SYN+ACK: the originator is its receiver |
//!
//! `T` and `W` repeat as in Zeek, at the 1st, 10th, 100th, … occurrence; the other letters
//! are recorded once per side. Zeek's `C`, `G`, `I`, `Q` (bad checksums, gaps,
//! inconsistencies, multi-flag packets) are not.

use crate::tcp::flag;

/// Which end of a connection sent a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The end that opened the connection (or sent its first packet seen).
    Orig,
    /// The other end.
    Resp,
}

impl Side {
    /// 0 for the originator, 1 for the responder: where a side's half of a pair is kept.
    pub fn index(self) -> usize {
        match self {
            Side::Orig => 0,
            Side::Resp => 1,
        }
    }
}

/// One endpoint's TCP state, as Zeek's TCP analyzer tracks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Endpoint {
    /// Nothing sent yet.
    #[default]
    Inactive,
    /// Sent a SYN.
    SynSent,
    /// Sent a SYN+ACK.
    SynAckSent,
    /// Sent packets without a handshake seen (the capture began mid-connection).
    Partial,
    /// The handshake completed.
    Established,
    /// Sent a FIN.
    Closed,
    /// Sent a RST.
    Reset,
}

/// The transport of a connection, for [`Conn::state`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// TCP: the endpoint states decide.
    Tcp,
    /// UDP: which sides sent anything.
    Udp,
    /// Anything else (ICMP): always `OTH`, as in Zeek.
    Other,
}

/// Most letters a history holds: `^`, six once per side, `T` and `W` up to four times each
/// per side (a billion retransmissions would add a fifth).
const HISTORY_LEN: usize = 31;

/// What a connection's packets have shown so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conn {
    transport: Transport,
    orig: Endpoint,
    resp: Endpoint,
    /// Whether each side sent anything (UDP's state).
    orig_active: bool,
    resp_active: bool,
    history: [u8; HISTORY_LEN],
    history_len: u8,
}

impl Conn {
    /// A connection over `transport` whose first packet was a SYN+ACK when `flipped`
    /// (its receiver is then the originator).
    pub fn new(transport: Transport, flipped: bool) -> Conn {
        let mut conn = Conn {
            transport,
            orig: Endpoint::Inactive,
            resp: Endpoint::Inactive,
            orig_active: false,
            resp_active: false,
            history: [0; HISTORY_LEN],
            history_len: 0,
        };
        if flipped {
            conn.note(b'^');
        }
        conn
    }

    /// Accounts one packet from `side`: its TCP `flags` (0 for other transports) and
    /// whether it carried payload.
    pub fn packet(&mut self, side: Side, flags: u8, payload: bool) {
        match side {
            Side::Orig => self.orig_active = true,
            Side::Resp => self.resp_active = true,
        }
        if self.transport != Transport::Tcp {
            if payload {
                self.letter(side, b'D');
            }
            return;
        }
        let has = |bit| flags & bit != 0;
        let (syn, ack, fin, rst) = (
            has(flag::SYN),
            has(flag::ACK),
            has(flag::FIN),
            has(flag::RST),
        );
        if syn {
            self.letter(side, if ack { b'H' } else { b'S' });
        }
        if payload {
            self.letter(side, b'D');
        }
        if fin {
            self.letter(side, b'F');
        }
        if rst {
            self.letter(side, b'R');
        }
        if ack && !(syn || fin || rst || payload) {
            self.letter(side, b'A');
        }
        let (own, peer) = match side {
            Side::Orig => (&mut self.orig, &mut self.resp),
            Side::Resp => (&mut self.resp, &mut self.orig),
        };
        *own = match *own {
            _ if rst => Endpoint::Reset,
            Endpoint::Inactive if syn && !ack => Endpoint::SynSent,
            Endpoint::Inactive | Endpoint::Partial if syn => Endpoint::SynAckSent,
            Endpoint::Reset => Endpoint::Reset,
            _ if fin => Endpoint::Closed,
            // The ACK that completes the handshake establishes both ends.
            Endpoint::SynSent if ack && *peer == Endpoint::SynAckSent => {
                *peer = Endpoint::Established;
                Endpoint::Established
            }
            Endpoint::SynAckSent if ack && *peer == Endpoint::Established => Endpoint::Established,
            Endpoint::Inactive => Endpoint::Partial,
            state => state,
        };
    }

    /// Records Zeek's scaled-history `letter` (`T`, `W`) for `side`, which has now done it
    /// `count` times: the letter is written at the 1st, 10th, 100th, … time.
    pub fn repeated(&mut self, side: Side, letter: u8, count: u32) {
        let mut threshold = 1;
        while threshold < count {
            threshold = threshold.saturating_mul(10);
        }
        if threshold == count {
            self.note(side_letter(side, letter));
        }
    }

    /// Zeek's `conn_state`; `orig_bytes`/`resp_bytes` are the payload bytes each side sent.
    pub fn state(&self, orig_bytes: u64, resp_bytes: u64) -> &'static str {
        use Endpoint::*;
        let (os, rs) = (self.orig, self.resp);
        let o_inactive = matches!(os, Inactive | Partial);
        let r_inactive = matches!(rs, Inactive | Partial);
        match self.transport {
            Transport::Tcp => match (os, rs) {
                (_, Reset)
                    if matches!(os, SynSent | SynAckSent)
                        || (os == Reset && orig_bytes == 0 && resp_bytes == 0) =>
                {
                    "REJ"
                }
                (_, Reset) if o_inactive => "RSTRH",
                (_, Reset) => "RSTR",
                (Reset, _) if r_inactive && self.syn_then_rst() => "RSTOS0",
                (Reset, _) if r_inactive => "OTH",
                (Reset, _) => "RSTO",
                (Closed, Closed) => "SF",
                (Closed, _) if r_inactive => "SH",
                (Closed, _) => "S2",
                (_, Closed) if o_inactive => "SHR",
                (_, Closed) => "S3",
                (SynSent, Inactive) => "S0",
                (Established, Established) => "S1",
                _ => "OTH",
            },
            Transport::Udp => match (self.orig_active, self.resp_active) {
                (true, true) => "SF",
                (true, false) => "S0",
                (false, true) => "SHR",
                (false, false) => "OTH",
            },
            Transport::Other => "OTH",
        }
    }

    /// The history letters.
    pub fn history(&self) -> &str {
        core::str::from_utf8(&self.history[..usize::from(self.history_len)]).unwrap_or("")
    }

    /// Whether the connection ended (both sides closed, or either reset): its record is
    /// due.
    pub fn is_over(&self) -> bool {
        use Endpoint::*;
        matches!(
            (self.orig, self.resp),
            (Closed, Closed) | (Reset, _) | (_, Reset)
        )
    }

    /// Zeek's `/\^?S[^HAFGIQ]*R.*/`: the originator sent a SYN, then a RST, with no
    /// handshake, ACK or FIN in between.
    fn syn_then_rst(&self) -> bool {
        let history = self.history().strip_prefix('^').unwrap_or(self.history());
        let Some(rest) = history.strip_prefix('S') else {
            return false;
        };
        match rest.find('R') {
            Some(at) => !rest[..at].contains(['H', 'A', 'F', 'G', 'I', 'Q']),
            None => false,
        }
    }

    /// Records `letter` for `side` the first time that side does it.
    fn letter(&mut self, side: Side, letter: u8) {
        let letter = side_letter(side, letter);
        if !self.history().as_bytes().contains(&letter) {
            self.note(letter);
        }
    }

    fn note(&mut self, letter: u8) {
        if let Some(slot) = self.history.get_mut(usize::from(self.history_len)) {
            *slot = letter;
            self.history_len += 1;
        }
    }
}

/// `letter` as `side` writes it: uppercase for the originator, lowercase for the responder.
fn side_letter(side: Side, letter: u8) -> u8 {
    match side {
        Side::Orig => letter,
        Side::Resp => letter.to_ascii_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flag::{ACK, FIN, RST, SYN};

    /// Runs `packets` (side, flags, payload) through a TCP connection.
    fn tcp(flipped: bool, packets: &[(Side, u8, bool)]) -> Conn {
        let mut conn = Conn::new(Transport::Tcp, flipped);
        for &(side, flags, payload) in packets {
            conn.packet(side, flags, payload);
        }
        conn
    }

    use Side::{Orig as O, Resp as R};

    #[test]
    fn a_whole_connection_is_sf() {
        let conn = tcp(
            false,
            &[
                (O, SYN, false),
                (R, SYN | ACK, false),
                (O, ACK, false),
                (O, ACK, true),
                (R, ACK, false),
                (R, ACK, true),
                (O, FIN | ACK, false),
                (R, FIN | ACK, false),
                (O, ACK, false),
            ],
        );
        assert_eq!((conn.state(5, 5), conn.history()), ("SF", "ShADadFf"));
        assert!(conn.is_over());
    }

    #[test]
    fn zeeks_other_states() {
        let syn = (O, SYN, false);
        let syn_ack = (R, SYN | ACK, false);
        let ack = (O, ACK, false);
        for (packets, state, history) in [
            (&[syn][..], "S0", "S"),
            (&[syn, (R, RST | ACK, false)][..], "REJ", "Sr"),
            (&[syn, syn_ack, ack][..], "S1", "ShA"),
            (
                &[syn, syn_ack, ack, (O, FIN | ACK, false)][..],
                "S2",
                "ShAF",
            ),
            (
                &[syn, syn_ack, ack, (R, FIN | ACK, false)][..],
                "S3",
                "ShAf",
            ),
            (&[syn, syn_ack, ack, (O, RST, false)][..], "RSTO", "ShAR"),
            (&[syn, syn_ack, ack, (R, RST, false)][..], "RSTR", "ShAr"),
            (&[syn, (O, RST, false)][..], "RSTOS0", "SR"),
            (&[syn, (O, FIN, false)][..], "SH", "SF"),
            (&[(O, ACK, true), (R, ACK, true)][..], "OTH", "Dd"),
        ] {
            let conn = tcp(false, packets);
            assert_eq!((conn.state(0, 0), conn.history()), (state, history));
        }
        // A SYN+ACK first: its receiver is the originator.
        let conn = tcp(true, &[(R, SYN | ACK, false), (R, RST, false)]);
        assert_eq!((conn.state(0, 0), conn.history()), ("RSTRH", "^hr"));
    }

    #[test]
    fn retransmissions_and_zero_windows_repeat_at_powers_of_ten() {
        let mut conn = tcp(false, &[(O, SYN, false)]);
        for count in 1..=120 {
            conn.repeated(O, b'T', count);
            if count <= 10 {
                conn.repeated(R, b'W', count);
            }
        }
        assert_eq!(conn.history(), "STwTwT");
    }

    #[test]
    fn udp_and_icmp() {
        let mut udp = Conn::new(Transport::Udp, false);
        udp.packet(O, 0, true);
        assert_eq!((udp.state(10, 0), udp.history()), ("S0", "D"));
        udp.packet(R, 0, true);
        assert_eq!((udp.state(10, 40), udp.history()), ("SF", "Dd"));
        let mut icmp = Conn::new(Transport::Other, false);
        icmp.packet(O, 0, true);
        assert_eq!(icmp.state(8, 0), "OTH");
        assert!(!udp.is_over() && !icmp.is_over());
    }
}
