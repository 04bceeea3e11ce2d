//! The stages after the decoder for one frame: the events of each decoded layer
//! (filters, DNS over UDP and TCP, signatures' findings, flow events), encoded.

use netcore_core::dns::DnsMessage;
use netcore_core::dns::tcp::{FlowKey, Reassembler};
use netcore_core::filter::Filter;
use netcore_core::flow::{Flow, FlowKind, partition_key_of_flow};
use netcore_core::packet::{Decoded, Network, Transport};
use netcore_core::tcp::flag;
use netcore_core::{DecodeError, Direction, EventContext, EventSet, PacketEvents, dns};

use super::{PacketTap, Summary};
use crate::encode::Encoders;
use crate::signatures::Engine;
use crate::state::flows::FlowTable;

/// Writes the flow events the flow table hands out that pass the filters.
pub(super) struct FlowWriter<'p> {
    filter: &'p Filter,
    encoders: &'p mut Encoders,
    /// Events written, by [`FlowKind::index`].
    written: [u64; FlowKind::ALL.len()],
}

impl<'p> FlowWriter<'p> {
    pub(super) fn new(filter: &'p Filter, encoders: &'p mut Encoders) -> Self {
        FlowWriter {
            filter,
            encoders,
            written: [0; FlowKind::ALL.len()],
        }
    }

    /// Adds the events written by kind to `by_kind`; returns how many there were.
    pub(super) fn count_into(&self, by_kind: &mut [u64; FlowKind::ALL.len()]) -> usize {
        for (total, written) in by_kind.iter_mut().zip(self.written) {
            *total += written;
        }
        self.written.iter().sum::<u64>() as usize
    }

    pub(super) fn write(
        &mut self,
        kind: FlowKind,
        flow: &Flow<'_>,
        ctx: &EventContext<'_>,
        responder: Option<&EventContext<'_>>,
    ) {
        if self.filter.flow_passes(kind, flow) {
            self.encoders.encode_flow(kind, flow, ctx, responder);
            if self.encoders.keyed() {
                self.encoders.mark(partition_key_of_flow(flow));
            }
            self.written[kind.index()] += 1;
        }
    }
}

/// Writes the events of one decoded layer: the stages after the decoder, borrowed from
/// the pipeline for one frame.
pub(super) struct LayerWriter<'p> {
    pub(super) selected: EventSet,
    /// The frame's [`crate::source::Frame::sampled_one_in`].
    pub(super) sampled_one_in: u32,
    pub(super) filter: &'p Filter,
    pub(super) encoders: &'p mut Encoders,
    pub(super) summary: &'p mut Summary,
    pub(super) reassembler: &'p mut Reassembler,
    /// The flow table, the frame's time and network namespace, and whether the kernel
    /// counted it (host mode's flow accounting), when flows are tracked.
    pub(super) flows: Option<(&'p mut FlowTable, u64, u64, bool)>,
    /// Whether the flows counted a layer of the frame (it passed the filters).
    pub(super) counted_by_flows: bool,
    /// The signatures and `--findings-only`.
    pub(super) signatures: Option<&'p mut (Engine, bool)>,
    /// The packet taps, the frame's flow key and time.
    pub(super) taps: (&'p mut [Box<dyn PacketTap>], u64, u64),
}

impl LayerWriter<'_> {
    /// Filters, decodes the DNS message (once, when a DNS event is wanted), encodes; returns
    /// how many events were written.
    pub(super) fn write(
        &mut self,
        ctx: &EventContext<'_>,
        decoded: &Decoded<'_>,
        direction: Direction,
        interface: &str,
    ) -> usize {
        // The signatures' events are decided too, printed only when selected.
        let (decided, printed) = match &self.signatures {
            Some((engine, findings_only)) => (
                self.selected.union(engine.selected()),
                if *findings_only {
                    EventSet::NONE
                } else {
                    self.selected
                },
            ),
            None => (self.selected, self.selected),
        };
        let mut wanted = self.filter.packet_events(ctx, decoded, decided);
        // DNS costs nothing unless a DNS event is wanted.
        let dns = if wanted.any_dns() {
            match decoded.dns_over_udp() {
                Some(Ok(message)) => {
                    // A message cut short gives its events and counts its fault.
                    if let Some(e) = message.cut_short() {
                        self.summary.count_error(DecodeError::Dns(e));
                    }
                    Some(message)
                }
                Some(Err(e)) => {
                    self.summary.count_error(DecodeError::Dns(e));
                    None
                }
                None => None,
            }
        } else {
            None
        };
        if let Some(message) = &dns {
            wanted = self.filter.dns_events(message, wanted);
        }
        let all = PacketEvents {
            interface,
            sampled_one_in: self.sampled_one_in,
            ..PacketEvents::new(ctx, decoded, dns.as_ref(), direction, wanted)
        };
        let events = PacketEvents {
            events: all.events.intersect(printed),
            ..all
        };
        let mut written = self.encoders.encode(&events);
        for kind in events.kinds() {
            self.summary.packet_events[kind as usize] += 1;
        }
        if let Some((engine, _)) = &mut self.signatures {
            let mut fired = Vec::new(); // allocates only when a signature fires
            engine.on_events(&all, &mut fired);
            for fired in &fired {
                let (taps, flow, now_ns) = &mut self.taps;
                let evidence = taps
                    .iter_mut()
                    .find_map(|tap| tap.finding(*flow, fired.metadata.event_name, *now_ns));
                let encoders = &mut *self.encoders;
                engine.finding_event(fired, &all, evidence.as_deref(), |event| {
                    encoders.encode_finding(event, all.ctx);
                });
            }
            written += fired.len();
        }
        let printed_dns = wanted.intersect(EventSet::DNS).intersect(printed);
        // The flows count the packet, and pair the DNS messages it completes.
        let flows_see = self.flows.is_some()
            && self.filter.packet_events(ctx, decoded, EventSet::FLOWS) != EventSet::NONE;
        if printed_dns != EventSet::NONE || flows_see {
            written += self.dns_over_tcp(&events, printed_dns, flows_see);
        }
        if let Some((flows, now_ns, netns, kernel_counted)) = &mut self.flows
            && flows_see
        {
            // Flows learn names from DNS answers: decode the message if no event did.
            let names_from = match dns {
                Some(message) => Some(message),
                None => decoded.dns_over_udp().and_then(Result::ok),
            };
            self.counted_by_flows = true;
            let mut writer = FlowWriter::new(self.filter, self.encoders);
            flows.packet(
                *now_ns,
                *netns,
                decoded,
                names_from.as_ref(),
                direction,
                *kernel_counted,
                ctx,
                &mut |kind, flow, ctx, peer| writer.write(kind, flow, ctx, peer),
            );
            written += writer.count_into(&mut self.summary.flow_events);
        }
        written
    }

    /// Writes the events of the DNS messages a TCP segment to or from port 53 completes;
    /// `packet` is the segment's (with no DNS message), `wanted` the DNS events wanted;
    /// with `to_flows`, the flow table pairs the messages too (`net_dns_transaction`).
    fn dns_over_tcp(
        &mut self,
        packet: &PacketEvents<'_, '_>,
        wanted: EventSet,
        to_flows: bool,
    ) -> usize {
        let decoded = packet.packet;
        let (Some(network), Some(Transport::Tcp(tcp))) = (decoded.network, decoded.transport)
        else {
            return 0;
        };
        if tcp.src_port() != dns::PORT && tcp.dst_port() != dns::PORT {
            return 0;
        }
        let key = flow_key(&network, tcp.src_port(), tcp.dst_port());
        let closing = tcp.has(flag::FIN) || tcp.has(flag::RST);
        let mut written = 0;
        let LayerWriter {
            filter,
            encoders,
            summary,
            reassembler,
            flows,
            ..
        } = self;
        let endpoints = (
            (network.src(), tcp.src_port()),
            (network.dst(), tcp.dst_port()),
        );
        reassembler.push(
            key,
            tcp.seq(),
            tcp.payload(),
            closing,
            packet.ctx.timestamp,
            |bytes| match DnsMessage::parse(bytes) {
                Ok(message) => {
                    let wanted = filter.dns_events(&message, wanted);
                    let events = PacketEvents {
                        interface: packet.interface,
                        ..PacketEvents::new(
                            packet.ctx,
                            decoded,
                            Some(&message),
                            packet.direction,
                            wanted,
                        )
                    };
                    written += encoders.encode(&events);
                    for kind in events.kinds() {
                        summary.packet_events[kind as usize] += 1;
                    }
                    if let (Some((flows, now_ns, netns, _)), true) = (flows.as_mut(), to_flows) {
                        let mut writer = FlowWriter::new(filter, encoders);
                        flows.dns_message(
                            *now_ns,
                            *netns,
                            netcore_core::ip::TCP,
                            endpoints,
                            &message,
                            packet.ctx,
                            &mut |kind, flow, ctx, peer| writer.write(kind, flow, ctx, peer),
                        );
                        written += writer.count_into(&mut summary.flow_events);
                    }
                }
                Err(e) => summary.count_error(DecodeError::Dns(e)),
            },
        );
        summary.dns_tcp = reassembler.stats();
        written
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
