//! The path every frame takes, whatever its source: decode, DNS-over-TCP reassembly,
//! encoding into the sink, counting.

use std::io::{self, Write};

use netcore_core::dns::tcp::{FlowKey, Reassembler};
use netcore_core::dns::{self, DnsMessage};
use netcore_core::packet::{Network, Transport};
use netcore_core::tcp::flag;
use netcore_core::{DecodeError, EventContext, LinkType, decode};

use crate::output::{EventWriter, Summary};

/// Decodes frames and writes their events.
pub struct Pipeline<W: Write> {
    writer: EventWriter<W>,
    reassembler: Reassembler,
    /// Counts so far.
    pub summary: Summary,
}

impl<W: Write> Pipeline<W> {
    /// A pipeline writing through `writer`.
    pub fn new(writer: EventWriter<W>) -> Self {
        Pipeline {
            writer,
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
        let mut events = self.writer.write(ctx, &decoded)?;
        self.summary.count(&decoded);
        if let (Some(network), Some(Transport::Tcp(tcp))) = (decoded.network, decoded.transport)
            && (tcp.src_port() == dns::PORT || tcp.dst_port() == dns::PORT)
        {
            let key = flow_key(&network, tcp.src_port(), tcp.dst_port());
            let closing = tcp.has(flag::FIN) || tcp.has(flag::RST);
            let (writer, summary) = (&mut self.writer, &mut self.summary);
            let mut result = Ok(());
            self.reassembler.push(
                key,
                tcp.seq(),
                tcp.payload(),
                closing,
                ctx.timestamp,
                |bytes| match DnsMessage::parse(bytes) {
                    Ok(message) => match writer.write_dns(ctx, &decoded, &message) {
                        Ok(n) => events += n,
                        Err(e) => result = Err(e),
                    },
                    Err(e) => summary.count_error(DecodeError::Dns(e)),
                },
            );
            result?;
            self.summary.dns_tcp = self.reassembler.stats();
        }
        self.summary.events += events as u64;
        Ok(())
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
