//! The path every frame takes, whatever its source: decode, filter, DNS-over-TCP
//! reassembly, encoding into the sink, counting.

use std::io::{self, Write};

use netcore_core::dns::tcp::{FlowKey, Reassembler};
use netcore_core::dns::{self, DnsMessage};
use netcore_core::filter::Filter;
use netcore_core::packet::{Decoded, Network, Transport};
use netcore_core::tcp::flag;
use netcore_core::{DecodeError, EventContext, EventSet, LinkType, decode};

use crate::output::{EventWriter, Summary};

/// Decodes frames, filters them, and writes their events.
pub struct Pipeline<W: Write> {
    writer: EventWriter<W>,
    /// Events asked for (`--events` and the filters' selection).
    selected: EventSet,
    filter: Filter,
    reassembler: Reassembler,
    /// Counts so far.
    pub summary: Summary,
}

impl<W: Write> Pipeline<W> {
    /// A pipeline writing the `selected` events that pass `filter` through `writer`.
    pub fn new(writer: EventWriter<W>, selected: EventSet, filter: Filter) -> Self {
        Pipeline {
            writer,
            selected: selected.intersect(filter.events()),
            filter,
            reassembler: Reassembler::new(Default::default()),
            summary: Summary::default(),
        }
    }

    /// Decodes one frame seen at `ctx.timestamp` and writes its events.
    pub fn handle(
        &mut self,
        ctx: &EventContext<'_>,
        link_type: LinkType,
        frame: &[u8],
    ) -> io::Result<()> {
        let decoded = decode(link_type, frame);
        self.summary.count(&decoded);
        let wanted = self.filter.packet_events(ctx, &decoded, self.selected);
        let mut events = 0;
        if self.filter.inspects_dns() && wanted.any_dns() {
            // DNS filters read the message: decode it here and write its events here.
            let encoded = self
                .writer
                .write(ctx, &decoded, wanted.without(EventSet::DNS))?;
            events += encoded.events;
            match decoded.dns_over_udp() {
                Some(Ok(message)) => {
                    let dns = self.filter.dns_events(&message, wanted);
                    events += self.writer.write_dns(ctx, &decoded, &message, dns)?;
                }
                Some(Err(e)) => self.summary.count_error(DecodeError::Dns(e)),
                None => {}
            }
        } else {
            let encoded = self.writer.write(ctx, &decoded, wanted)?;
            events += encoded.events;
            if let Some(e) = encoded.dns_error {
                self.summary.count_error(DecodeError::Dns(e));
            }
        }
        // DNS costs nothing unless a DNS event is wanted.
        if wanted.any_dns() {
            events += self.dns_over_tcp(ctx, &decoded, wanted)?;
        }
        self.summary.events += events as u64;
        Ok(())
    }

    /// Writes the events of the DNS messages a TCP segment to or from port 53 completes.
    fn dns_over_tcp(
        &mut self,
        ctx: &EventContext<'_>,
        decoded: &Decoded<'_>,
        wanted: EventSet,
    ) -> io::Result<usize> {
        let (Some(network), Some(Transport::Tcp(tcp))) = (decoded.network, decoded.transport)
        else {
            return Ok(0);
        };
        if tcp.src_port() != dns::PORT && tcp.dst_port() != dns::PORT {
            return Ok(0);
        }
        let key = flow_key(&network, tcp.src_port(), tcp.dst_port());
        let closing = tcp.has(flag::FIN) || tcp.has(flag::RST);
        let (writer, summary, filter) = (&mut self.writer, &mut self.summary, &self.filter);
        let mut result = Ok(0);
        self.reassembler.push(
            key,
            tcp.seq(),
            tcp.payload(),
            closing,
            ctx.timestamp,
            |bytes| match DnsMessage::parse(bytes) {
                Ok(message) => {
                    if let Ok(count) = &mut result {
                        let dns = filter.dns_events(&message, wanted);
                        match writer.write_dns(ctx, decoded, &message, dns) {
                            Ok(n) => *count += n,
                            Err(e) => result = Err(e),
                        }
                    }
                }
                Err(e) => summary.count_error(DecodeError::Dns(e)),
            },
        );
        self.summary.dns_tcp = self.reassembler.stats();
        result
    }

    /// Writes out everything buffered.
    pub fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }
}

fn flow_key(network: &Network<'_>, src_port: u16, dst_port: u16) -> FlowKey {
    let (src, dst) = match network {
        Network::Ipv4(v4) => (
            std::net::Ipv4Addr::from(v4.src()).to_ipv6_mapped().octets(),
            std::net::Ipv4Addr::from(v4.dst()).to_ipv6_mapped().octets(),
        ),
        Network::Ipv6(v6) => (v6.src(), v6.dst()),
    };
    FlowKey {
        src,
        dst,
        src_port,
        dst_port,
    }
}
