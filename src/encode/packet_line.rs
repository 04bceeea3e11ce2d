//! The default text output: one line per packet, as tcpdump prints it, with the owner
//! appended:
//!
//! ```text
//! 02:32:55.096052 In IP 10.99.0.1.53 > 10.99.0.2.48648: UDP, length 74, DNS response id 18941 NOERROR MX example.test: MX mail.example.test — dig[1234]
//! ```
//!
//! Time of day in UTC with microseconds; the interface and `In`/`Out` when the source knows
//! them;
//! lengths as on the wire (from the IP header), not as captured. A pure formatter over
//! decided events: a packet with no selected event prints nothing.

use std::fmt::Write as _;

use netcore_core::dns::{DnsMessage, Entry, Section};
use netcore_core::event::ANY_INTERFACE;
use netcore_core::ip;
use netcore_core::packet::{Network, Transport};
use netcore_core::tcp::{TcpView, flag};
use netcore_core::{Direction, EventSet, PacketEvents};

use super::Encoder;
use netcore_core::dns::AnswerText;

/// The one-line-per-packet encoder.
pub struct PacketLineEncoder {
    /// Reused for each line (a `String`, so `write!` needs no UTF-8 check).
    line: String,
}

impl PacketLineEncoder {
    /// A new encoder.
    pub fn new() -> Self {
        PacketLineEncoder {
            line: String::with_capacity(256),
        }
    }
}

impl Encoder for PacketLineEncoder {
    fn encode(&mut self, events: &PacketEvents<'_, '_>, out: &mut Vec<u8>) -> usize {
        let count = events.kinds().count();
        let Some(network) = events.packet.network else {
            return 0;
        };
        if count == 0 {
            return 0;
        }
        let line = &mut self.line;
        line.clear();
        let ns = events.ctx.timestamp % 86_400_000_000_000;
        let secs = ns / 1_000_000_000;
        let _ = write!(
            line,
            "{:02}:{:02}:{:02}.{:06} ",
            secs / 3600,
            secs / 60 % 60,
            secs % 60,
            ns % 1_000_000_000 / 1000
        );
        if events.interface != ANY_INTERFACE {
            line.push_str(events.interface);
            line.push(' ');
        }
        match events.direction {
            Direction::Ingress => line.push_str("In "),
            Direction::Egress => line.push_str("Out "),
            Direction::Unknown => {}
        }
        let dns_only = events.events.without(EventSet::DNS) == EventSet::NONE;
        addresses(line, &network, events.packet.transport.as_ref());
        // A message reassembled from TCP gets a line of its own: its segments had theirs.
        let over_tcp = dns_only && matches!(events.packet.transport, Some(Transport::Tcp(_)));
        if !over_tcp {
            transport(line, &network, events.packet.transport.as_ref());
        }
        if let Some(message) = events.dns
            && events.events.intersect(EventSet::DNS) != EventSet::NONE
        {
            line.push_str(if over_tcp { "DNS over TCP " } else { ", DNS " });
            dns(line, message);
        }
        owner(line, events);
        line.push('\n');
        out.extend_from_slice(line.as_bytes());
        count
    }

    fn lines(&self, events: usize) -> usize {
        usize::from(events > 0)
    }
}

/// `IP 10.0.0.1.41000 > 10.0.0.2.53: ` (IPv6: `IP6 …`).
fn addresses(line: &mut String, network: &Network<'_>, transport: Option<&Transport<'_>>) {
    let family = match network {
        Network::Ipv4(_) => "IP",
        Network::Ipv6(_) => "IP6",
    };
    let _ = match transport.and_then(Transport::ports) {
        Some((sport, dport)) => write!(
            line,
            "{family} {}.{sport} > {}.{dport}: ",
            network.src(),
            network.dst()
        ),
        None => write!(line, "{family} {} > {}: ", network.src(), network.dst()),
    };
}

/// The bytes of the layer above IP on the wire: the IP length field less the headers
/// between it and `captured` (the captured bytes from that layer on).
fn wire_len_from(network: &Network<'_>, captured: usize) -> usize {
    let (ip_payload_field, ip_payload_captured) = match network {
        // TSO/GSO: no length on the wire yet; the captured bytes are the packet.
        Network::Ipv4(v) if v.is_segmentation_offload() => (v.payload().len(), v.payload().len()),
        Network::Ipv4(v) => (
            usize::from(v.total_len()).saturating_sub(usize::from(v.ihl()) * 4),
            v.payload().len(),
        ),
        Network::Ipv6(v) => (usize::from(v.payload_len()), v.payload().len()),
    };
    ip_payload_field.saturating_sub(ip_payload_captured.saturating_sub(captured))
}

/// The transport part: flags, numbers and lengths, tcpdump's way.
fn transport(line: &mut String, network: &Network<'_>, transport: Option<&Transport<'_>>) {
    let Some(transport) = transport else {
        // No transport layer: a later fragment, or a protocol netcore does not decode.
        match network {
            Network::Ipv4(v) if v.is_later_fragment() => {
                let _ = write!(
                    line,
                    "fragment id {}, offset {}{}, length {}",
                    v.id(),
                    usize::from(v.frag_offset()) * 8,
                    if v.flags() & 1 == 1 { ", MF" } else { "" },
                    wire_len_from(network, v.payload().len())
                );
            }
            Network::Ipv4(v) => {
                let _ = write!(
                    line,
                    "{}, length {}",
                    ip::protocol_name(v.protocol()),
                    wire_len_from(network, v.payload().len())
                );
            }
            Network::Ipv6(v) => {
                let _ = write!(
                    line,
                    "{}, length {}",
                    ip::protocol_name(v.next_header()),
                    v.payload_len()
                );
            }
        }
        return;
    };
    let _ = match transport {
        Transport::Tcp(t) => tcp(line, network, t),
        Transport::Udp(u) => write!(
            line,
            "UDP, length {}",
            usize::from(u.length()).saturating_sub(8)
        ),
        Transport::Icmp(i) => {
            let _ = write!(line, "ICMP {}", i.type_code());
            if matches!(i.icmp_type(), 0 | 8) {
                let _ = write!(line, ", id {}, seq {}", i.id(), i.seq());
            }
            write!(
                line,
                ", length {}",
                wire_len_from(network, i.payload().len() + 8)
            )
        }
        Transport::Icmpv6(i) => {
            // Types Tracee has no name for (it prints "143(0)").
            let _ = match i.icmp_type() {
                130 => write!(line, "ICMP6 MulticastListenerQuery"),
                131 => write!(line, "ICMP6 MulticastListenerReport"),
                132 => write!(line, "ICMP6 MulticastListenerDone"),
                143 => write!(line, "ICMP6 MulticastListenerReportV2"),
                _ => write!(line, "ICMP6 {}", i.type_code()),
            };
            if let (128 | 129, [a, b, c, d, ..]) = (i.icmp_type(), i.body()) {
                let _ = write!(
                    line,
                    ", id {}, seq {}",
                    u16::from_be_bytes([*a, *b]),
                    u16::from_be_bytes([*c, *d])
                );
            }
            write!(
                line,
                ", length {}",
                wire_len_from(network, i.body().len() + 4)
            )
        }
    };
}

fn tcp(line: &mut String, network: &Network<'_>, t: &TcpView<'_>) -> std::fmt::Result {
    line.push_str("Flags [");
    for (bit, _, letter) in flag::ALL {
        if t.has(bit) {
            line.push(char::from(letter));
        }
    }
    let header_len = usize::from(t.data_offset()) * 4;
    let segment = wire_len_from(network, header_len + t.payload().len());
    write!(line, "], seq {}", t.seq())?;
    if t.has(flag::ACK) {
        write!(line, ", ack {}", t.ack())?;
    }
    write!(
        line,
        ", win {}, length {}",
        t.window(),
        segment.saturating_sub(header_len)
    )
}

/// `query id 4711 A example.com` or `response id 4711 NOERROR A example.com: A
/// 93.184.216.34, CNAME …`.
fn dns(line: &mut String, message: &DnsMessage<'_>) {
    let mut name = [0; netcore_core::dns::name::MAX_PRESENTATION_LEN];
    let _ = write!(
        line,
        "{} id {}",
        if message.qr() == 0 {
            "query"
        } else {
            "response"
        },
        message.id()
    );
    if message.qr() == 1 {
        let rcode = message.response_code();
        let _ = write!(line, " {}", rcode.mnemonic().unwrap_or("RCODE"));
        if rcode.mnemonic().is_none() {
            let _ = write!(line, "{}", rcode.0);
        }
    }
    let mut answers = 0;
    for entry in message.entries() {
        match entry {
            Entry::Question(q) => {
                let _ = write!(
                    line,
                    " {} {}",
                    q.qtype.name(),
                    q.name.presentation(&mut name).unwrap_or("?")
                );
            }
            Entry::Record(Section::Answer, r) => {
                line.push_str(if answers == 0 { ":" } else { "," });
                answers += 1;
                let _ = write!(line, " {} {}", r.rtype.name(), AnswerText(&r));
            }
            Entry::Record(..) => {}
        }
    }
}

/// ` — comm[pid] container ID` when the packet has an owner.
fn owner(line: &mut String, events: &PacketEvents<'_, '_>) {
    let ctx = events.ctx;
    if ctx.host_process_id == 0 {
        return;
    }
    let _ = write!(
        line,
        " — {}[{}]",
        String::from_utf8_lossy(ctx.process_name).escape_debug(),
        ctx.host_process_id
    );
    if !ctx.container_name.is_empty() {
        let _ = write!(line, " container {}", ctx.container_name.escape_debug());
    } else if !ctx.container_id.is_empty() {
        let _ = write!(
            line,
            " container {}",
            &ctx.container_id[..ctx.container_id.len().min(12)]
        );
    }
}
