//! Sinks: Tracee JSON lines or one readable line per event, written to stdout in large
//! blocks, and the run summary printed to stderr.

use std::collections::BTreeMap;
use std::io::{self, Write};

use netcore_core::dns::tcp::Stats as DnsTcpStats;
use netcore_core::dns::{DnsMessage, Entry, RData, Section};
use netcore_core::event::dns_events;
use netcore_core::json::{Encoded, encode_dns_events, encode_packet};
use netcore_core::packet::{Decoded, Network, Transport};
use netcore_core::tcp::flag;
use netcore_core::{DecodeError, EventContext, EventKind, EventSet};

/// Bytes gathered before they are written out.
const FLUSH_AT: usize = 64 << 10;

/// How events are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Tracee-compatible JSON, one event per line.
    Json,
    /// One human-readable line per event.
    Text,
}

/// Encodes events into a reused buffer and writes it out in blocks.
pub struct EventWriter<W: Write> {
    format: Format,
    buffer: Vec<u8>,
    sink: W,
}

impl<W: Write> EventWriter<W> {
    /// A writer of `format` events into `sink`.
    pub fn new(format: Format, sink: W) -> Self {
        EventWriter {
            format,
            buffer: Vec::with_capacity(FLUSH_AT * 2),
            sink,
        }
    }

    /// Writes the `selected` events of one decoded packet: network, transport, DNS over UDP.
    pub fn write(
        &mut self,
        ctx: &EventContext<'_>,
        decoded: &Decoded<'_>,
        selected: EventSet,
    ) -> io::Result<Encoded> {
        let encoded = match self.format {
            Format::Json => encode_packet(ctx, decoded, selected, &mut self.buffer),
            Format::Text => {
                let mut encoded = Encoded {
                    events: write_text(ctx, decoded, selected, &mut self.buffer),
                    dns_error: None,
                };
                match selected.any_dns().then(|| decoded.dns_over_udp()).flatten() {
                    Some(Ok(message)) => {
                        encoded.events +=
                            write_text_dns(ctx, decoded, &message, selected, &mut self.buffer)
                    }
                    Some(Err(e)) => encoded.dns_error = Some(e),
                    None => {}
                }
                encoded
            }
        };
        if self.buffer.len() >= FLUSH_AT {
            self.flush()?;
        }
        Ok(encoded)
    }

    /// Writes the `selected` events of a DNS message carried by `decoded`.
    pub fn write_dns(
        &mut self,
        ctx: &EventContext<'_>,
        decoded: &Decoded<'_>,
        message: &DnsMessage<'_>,
        selected: EventSet,
    ) -> io::Result<usize> {
        let count = match self.format {
            Format::Json => encode_dns_events(ctx, decoded, message, selected, &mut self.buffer),
            Format::Text => write_text_dns(ctx, decoded, message, selected, &mut self.buffer),
        };
        if self.buffer.len() >= FLUSH_AT {
            self.flush()?;
        }
        Ok(count)
    }

    /// Writes out everything buffered.
    pub fn flush(&mut self) -> io::Result<()> {
        self.sink.write_all(&self.buffer)?;
        self.buffer.clear();
        self.sink.flush()
    }
}

/// The readable form: `TIME EVENT SRC -> DST DETAILS [COMM PID]`.
fn write_text(
    ctx: &EventContext<'_>,
    decoded: &Decoded<'_>,
    selected: EventSet,
    out: &mut Vec<u8>,
) -> usize {
    let Some(network) = decoded.network else {
        return 0;
    };
    let mut count = 0;
    if selected.contains(network.event()) {
        text_prefix(out, ctx, network.event());
        let _ = write!(out, "{} -> {}", network.src(), network.dst());
        let _ = match network {
            Network::Ipv4(v) => write!(
                out,
                " proto={} ttl={} id={} len={}",
                netcore_core::ip::protocol_name(v.protocol()),
                v.ttl(),
                v.id(),
                v.total_len()
            ),
            Network::Ipv6(v) => write!(
                out,
                " next={} hlim={} flow={} len={}",
                netcore_core::ip::protocol_name(v.next_header()),
                v.hop_limit(),
                v.flow_label(),
                v.payload_len()
            ),
        };
        text_suffix(out, ctx);
        count += 1;
    }
    let Some(transport) = decoded.transport else {
        return count;
    };
    if !selected.contains(transport.event()) {
        return count;
    }
    text_prefix(out, ctx, transport.event());
    let (src, dst) = (network.src(), network.dst());
    let _ = match transport {
        Transport::Tcp(t) => {
            let _ = write!(
                out,
                "{} -> {} ",
                std::net::SocketAddr::new(src, t.src_port()),
                std::net::SocketAddr::new(dst, t.dst_port())
            );
            for (bit, _, letter) in flag::ALL {
                if t.has(bit) {
                    out.push(letter);
                }
            }
            write!(
                out,
                " seq={} ack={} win={} len={}",
                t.seq(),
                t.ack(),
                t.window(),
                t.payload().len()
            )
        }
        Transport::Udp(u) => write!(
            out,
            "{} -> {} len={}",
            std::net::SocketAddr::new(src, u.src_port()),
            std::net::SocketAddr::new(dst, u.dst_port()),
            u.payload().len()
        ),
        Transport::Icmp(i) => write!(
            out,
            "{src} -> {dst} {} id={} seq={}",
            i.type_code(),
            i.id(),
            i.seq()
        ),
        Transport::Icmpv6(i) => write!(out, "{src} -> {dst} {}", i.type_code()),
    };
    text_suffix(out, ctx);
    count + 1
}

/// `net_packet_dns SRC:PORT -> DST:PORT query|response id=… rcode=… QUESTION -> ANSWERS`,
/// and the request/response events in the same form.
fn write_text_dns(
    ctx: &EventContext<'_>,
    decoded: &Decoded<'_>,
    message: &DnsMessage<'_>,
    selected: EventSet,
    out: &mut Vec<u8>,
) -> usize {
    let (Some(network), Some((src_port, dst_port))) =
        (decoded.network, decoded.transport.and_then(|t| t.ports()))
    else {
        return 0;
    };
    let mut count = 0;
    for kind in dns_events(message).filter(|&k| selected.contains(k)) {
        text_prefix(out, ctx, kind);
        let _ = write!(
            out,
            "{} -> {} {} id={} rcode={}",
            std::net::SocketAddr::new(network.src(), src_port),
            std::net::SocketAddr::new(network.dst(), dst_port),
            if message.qr() == 0 {
                "query"
            } else {
                "response"
            },
            message.id(),
            netcore_core::dns::rcode_name(message.rcode()).trim_end()
        );
        let mut name = [0; netcore_core::dns::name::MAX_PRESENTATION_LEN];
        for entry in message.entries() {
            match entry {
                Entry::Question(q) => {
                    let _ = write!(
                        out,
                        " {} {}",
                        q.name.presentation(&mut name).unwrap_or("?"),
                        netcore_core::dns::type_name(q.qtype)
                    );
                }
                Entry::Record(Section::Answer, r) => {
                    let _ = match r.data() {
                        RData::A(a) => write!(out, " {}", std::net::Ipv4Addr::from(a)),
                        RData::Aaaa(a) => write!(out, " {}", std::net::Ipv6Addr::from(a)),
                        RData::Cname(n)
                        | RData::Ns(n)
                        | RData::Ptr(n)
                        | RData::Mx { exchange: n, .. } => {
                            write!(out, " {}", n.presentation(&mut name).unwrap_or("?"))
                        }
                        RData::Srv { port, target, .. } => {
                            write!(
                                out,
                                " {}:{port}",
                                target.presentation(&mut name).unwrap_or("?")
                            )
                        }
                        RData::Txt(mut strings) => strings.try_for_each(|s| {
                            write!(out, " \"{}\"", String::from_utf8_lossy(s).escape_debug())
                        }),
                        _ => write!(out, " {}", netcore_core::dns::type_name(r.rtype)),
                    };
                }
                Entry::Record(..) => {}
            }
        }
        text_suffix(out, ctx);
        count += 1;
    }
    count
}

fn text_prefix(out: &mut Vec<u8>, ctx: &EventContext<'_>, kind: EventKind) {
    let _ = write!(out, "{} {} ", utc_timestamp(ctx.timestamp), kind.name());
}

fn text_suffix(out: &mut Vec<u8>, ctx: &EventContext<'_>) {
    if ctx.host_process_id != 0 {
        let _ = write!(
            out,
            " [{} {}]",
            String::from_utf8_lossy(ctx.process_name).escape_debug(),
            ctx.host_process_id
        );
    }
    out.push(b'\n');
}

/// `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ` for ns since the epoch.
fn utc_timestamp(ns: u64) -> String {
    let secs = ns / 1_000_000_000;
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        ns % 1_000_000_000
    )
}

/// Counts of one run, printed to stderr at the end.
#[derive(Debug, Default)]
pub struct Summary {
    /// Frames read from the source.
    pub packets: u64,
    /// Events written.
    pub events: u64,
    /// Frames that carried no IP packet (ARP, LLDP, …).
    pub not_ip: u64,
    /// Decode errors, by [`netcore_core::DecodeError::kind`].
    pub errors: BTreeMap<&'static str, u64>,
    /// DNS-over-TCP reassembly counters.
    pub dns_tcp: DnsTcpStats,
}

impl Summary {
    /// Counts one decoded frame.
    pub fn count(&mut self, decoded: &Decoded<'_>) {
        self.packets += 1;
        match decoded.error {
            Some(e) => self.count_error(e),
            None if decoded.network.is_none() => self.not_ip += 1,
            None => {}
        }
    }

    /// Counts one decode error.
    pub fn count_error(&mut self, error: DecodeError) {
        *self.errors.entry(error.kind()).or_default() += 1;
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let errors: u64 = self.errors.values().sum();
        write!(
            f,
            "{} packets read, {} events written, {} not IP, {} decode errors",
            self.packets, self.events, self.not_ip, errors
        )?;
        if !self.errors.is_empty() {
            let kinds: Vec<String> = self
                .errors
                .iter()
                .map(|(k, n)| format!("{k}={n}"))
                .collect();
            write!(f, " ({})", kinds.join(", "))?;
        }
        let t = &self.dns_tcp;
        let dropped = t.dropped_gap
            + t.dropped_memory
            + t.dropped_evicted
            + t.dropped_idle
            + t.dropped_closed;
        if t.reassembled + dropped + t.skipped_unsynced > 0 {
            write!(
                f,
                "; DNS over TCP: {} reassembled, {dropped} partial messages dropped \
                 (gap={} memory={} evicted={} idle={} closed={}), {} segments skipped after a loss",
                t.reassembled,
                t.dropped_gap,
                t.dropped_memory,
                t.dropped_evicted,
                t.dropped_idle,
                t.dropped_closed,
                t.skipped_unsynced
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_timestamps() {
        assert_eq!(utc_timestamp(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            utc_timestamp(1_671_040_290_192_938_971),
            "2022-12-14T17:51:30.192938971Z"
        );
        assert_eq!(
            utc_timestamp(951_782_400_000_000_001),
            "2000-02-29T00:00:00.000000001Z"
        );
    }
}
