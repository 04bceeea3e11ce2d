//! The one path every frame takes, whatever its source:
//!
//! ```text
//! Frame ─▶ decode (once) ─▶ envelope (once per owner) ─▶ filter decides the events
//!       ─▶ DNS decoded once, only when a DNS event is wanted (UDP, or TCP reassembled)
//!       ─▶ encoders format the decided events (once per format) ─▶ batches ─▶ outputs
//! ```
//!
//! Counting happens here too ([`Summary`]).

mod envelope;
mod expression;
mod layers;
mod options;
mod ports;
mod summary;

use std::io;
use std::sync::Arc;
use std::time::Instant;

use netcore_core::dns::tcp::Reassembler;
use netcore_core::event::ANY_INTERFACE;
use netcore_core::filter::Filter;
use netcore_core::flow::failure::SocketReport;
use netcore_core::flow::{FlowKind, partition_key_of};
use netcore_core::packet::Decoded;
use netcore_core::{Direction, EventSet, decode, tunnel};

use crate::encode::{Batch, Encoders, Lines};
use crate::signatures::{Engine, Signal};
use crate::source::{Frame, Interface};
use crate::state::flows::{FlowConfig, FlowTable, KernelFlowCounts};
use crate::state::interfaces::InterfaceNames;
use envelope::Envelopes;
pub use expression::Expression;
use layers::{FlowWriter, LayerWriter};
pub use options::{FlowOptions, Host, Limits, PacketCount, Selection, Tunnels};
pub use ports::{EventOutput, EvidenceStats, PacketTap, Saved};
pub use summary::{ContainerReport, Summary};

/// Most packets inside packets decapsulated (a tunnel in a tunnel …); deeper ones are
/// counted and left encapsulated.
pub const MAX_TUNNEL_DEPTH: usize = 4;

/// Decodes frames, decides their events, and writes them.
pub struct Pipeline {
    /// Events asked for (`--events` and the filters' selection).
    selected: EventSet,
    limits: Limits,
    expression: Option<Expression>,
    interfaces: InterfaceNames,
    filter: Filter,
    envelopes: Envelopes,
    reassembler: Reassembler,
    /// Tracked when a flow event is selected.
    flows: Option<FlowTable>,
    /// Where packets go: `-w FILE` (the packets that gave events, one file for every
    /// decoding thread), `--evidence DIR` (recent packets per flow, written when a
    /// signature fires).
    taps: Vec<Box<dyn PacketTap>>,
    /// `--signatures`: detections over the events, and `--findings-only`.
    signatures: Option<(Engine, bool)>,
    /// One per format the outputs use.
    encoders: Encoders,
    /// Where the encoded events go; none when the caller takes the batches
    /// ([`Pipeline::take_batches`]).
    output: Option<Box<dyn EventOutput>>,
    /// Counts so far.
    pub summary: Summary,
}

impl Pipeline {
    /// A pipeline writing the `selected` events that pass `filter`, encoded by
    /// `encoders`, to `output` (none: [`Pipeline::take_batches`] hands them out);
    /// envelopes name `host`.
    pub fn new(
        selected: EventSet,
        selection: Selection,
        filter: Filter,
        encoders: Encoders,
        output: Option<Box<dyn EventOutput>>,
        host: Host,
    ) -> Self {
        let selected = selected.intersect(filter.events());
        let flows = selected.any_flow().then(|| {
            FlowTable::new(FlowConfig {
                record: selected.contains_flow(FlowKind::Record),
                tcp_begin: selected.contains_flow(FlowKind::TcpBegin),
                tcp_end: selected.contains_flow(FlowKind::TcpEnd),
                connect_failure: selected.contains_flow(FlowKind::ConnectFailure),
                dns_transaction: selected.contains_flow(FlowKind::DnsTransaction),
                tcp_connect: selected.contains_flow(FlowKind::TcpConnect),
                dns_timeout_ns: selection.flows.dns_timeout_ns,
                max_flows: selection.flows.max_flows,
                community_id_seed: selection.flows.community_id_seed,
                report_every_ns: selection.flows.report_every_ns,
            })
        });
        Pipeline {
            selected,
            limits: selection.limits,
            expression: selection.expression,
            interfaces: InterfaceNames::new(host.netns_cookie),
            filter,
            envelopes: Envelopes::new(host.name, host.cgroup_root, host.runtimes),
            reassembler: Reassembler::new(Default::default()),
            flows,
            taps: Vec::new(),
            signatures: None,
            encoders,
            output,
            summary: Summary::default(),
        }
    }

    /// Decodes one frame and writes its events; ignores it once [`Pipeline::done`].
    pub fn handle(&mut self, frame: &Frame<'_>) -> io::Result<()> {
        if self.done() {
            return Ok(());
        }
        if let Some(counter) = self.left_out(frame) {
            self.summary.skip(frame.wire_len, counter);
            return Ok(());
        }
        // -c: room for this packet's events among the COUNT, settled below.
        if let Some(count) = &self.limits.count
            && !count.reserve()
        {
            return Ok(());
        }
        let Pipeline {
            selected,
            limits,
            expression: _,
            interfaces,
            filter,
            envelopes,
            reassembler,
            flows,
            taps,
            signatures,
            encoders,
            output,
            summary,
        } = self;
        let mut decoded = decode(frame.link_type, frame.data);
        summary.count(&decoded, frame.wire_len);
        // Only Kafka's message keys and --evidence need each frame's flow.
        let partition_key = match encoders.keyed() || taps.iter().any(|t| t.needs_flows()) {
            true => partition_key_of(&decoded),
            false => 0,
        };
        let ctx = envelopes.context(frame);
        let interface = interfaces
            .name(frame.interface, Instant::now())
            .unwrap_or(ANY_INTERFACE);
        for tap in taps.iter_mut() {
            tap.offer(partition_key, frame, &ctx, interface);
        }
        let mut layers = LayerWriter {
            // Sent up for the flows alone while netcore sheds work: no packet events.
            selected: match frame.flows_only {
                true => selected.intersect(EventSet::FLOWS),
                false => *selected,
            },
            sampled_one_in: frame.sampled_one_in,
            filter,
            encoders,
            summary,
            reassembler,
            flows: flows.as_mut().map(|table| {
                let (time, netns) = (frame.timestamp_ns, frame.interface.netns_cookie);
                (table, time, netns, frame.kernel_counted)
            }),
            counted_by_flows: false,
            signatures: signatures.as_mut(),
            taps: (taps, partition_key, frame.timestamp_ns),
        };
        let mut written = 0;
        // The packet, then the packets it carries (VXLAN, GRE, …), as `--tunnel` says.
        for depth in 0..=MAX_TUNNEL_DEPTH {
            let inner = match limits.tunnels {
                Tunnels::Outer => None,
                _ => tunnel::inner(&decoded),
            };
            if !(limits.tunnels == Tunnels::Inner && inner.is_some()) {
                written += layers.write(&ctx, &decoded, frame.direction, interface);
            }
            let Some(inner) = inner else {
                break;
            };
            if depth == MAX_TUNNEL_DEPTH {
                layers.summary.tunnels_too_deep += 1;
                break;
            }
            layers.summary.decapsulated += 1;
            decoded = decode(inner.link_type, inner.frame);
            if let Some(error) = decoded.error {
                layers.summary.count_error(error);
            }
        }
        let (summary, counted_by_flows, (taps, _, _)) =
            (layers.summary, layers.counted_by_flows, layers.taps);
        if let Some(count) = &limits.count {
            count.settle(written > 0);
        }
        summary.events += written as u64;
        summary.packets_with_events += u64::from(written > 0);
        // -w: the packets behind the events (and those the selected flows counted).
        if written > 0 || counted_by_flows {
            for tap in taps.iter_mut() {
                match tap.keep(frame, &ctx, interface)? {
                    Some(Saved::Written) => summary.packets_saved += 1,
                    Some(Saved::OtherLinkType) => summary.packets_not_saved += 1,
                    Some(Saved::WriteFailed { earlier }) => {
                        summary.packets_write_failed += 1 + earlier;
                        // As in `flush_taps`.
                        summary.packets_saved = summary.packets_saved.wrapping_sub(earlier);
                    }
                    None => {}
                }
            }
        }
        encoders.mark(partition_key);
        if let Some(output) = output
            && encoders.due()
        {
            hand_batches(output.as_mut(), encoders)?;
        }
        Ok(())
    }

    /// Which summary counter a frame `-i`, the direction or the pcap expression leaves out
    /// counts under; `None` when they keep it.
    fn left_out(&mut self, frame: &Frame<'_>) -> Option<fn(&mut Summary) -> &mut u64> {
        if let Some(wanted) = self.limits.direction
            && frame.direction != Direction::Unknown
            && frame.direction != wanted
        {
            return Some(|s| &mut s.other_direction);
        }
        if let Some(only) = self.limits.interface
            && frame.interface != Interface::UNKNOWN
            && frame.interface != only
        {
            return Some(|s| &mut s.other_interface);
        }
        if let Some(expression) = &mut self.expression
            && !expression.accepts(frame.link_type, frame.data)
        {
            return Some(|s| &mut s.expression_rejected);
        }
        None
    }

    /// `frame` decoded, when it is one the flow table alone reads (a copy of another
    /// thread's DNS message, a socket's report) and passes what its packets would: flows
    /// tracked, `-c` not reached, the limits and the filter (the frame not counted).
    fn for_flows_only<'f>(&mut self, frame: &Frame<'f>) -> Option<Decoded<'f>> {
        if self.flows.is_none() || self.done() || self.left_out(frame).is_some() {
            return None;
        }
        let decoded = decode(frame.link_type, frame.data);
        let ctx = self.envelopes.context_uncounted(frame);
        let kept = self.filter.packet_events(&ctx, &decoded, EventSet::FLOWS) != EventSet::NONE;
        kept.then_some(decoded)
    }

    /// Learns the names a DNS answer gives addresses, and the lookup's round trip from its
    /// query, for this pipeline's flows, from a copy of a packet whose flow another
    /// pipeline handles (host mode on several threads,
    /// [`netcore_core::abi::record_flag::NAMES_ONLY`]): as [`Pipeline::handle`] would from
    /// the packet itself, through the same limits and filter; counts and writes nothing.
    pub fn learn_names(&mut self, frame: &Frame<'_>) {
        let Some(decoded) = self.for_flows_only(frame) else {
            return;
        };
        if let (Some(flows), Some(Ok(message))) = (&mut self.flows, decoded.dns_over_udp()) {
            let netns = frame.interface.netns_cookie;
            flows.learn_names(frame.timestamp_ns, netns, &decoded, &message);
        }
    }

    /// Reports the failed connect (or UDP error) a local socket's kernel `report` tells of,
    /// `frame` a header of its packets (local to remote), for the flow the socket's packets
    /// made; through the same limits and filter as they.
    pub fn socket_report(&mut self, frame: &Frame<'_>, report: SocketReport) -> io::Result<()> {
        let Some(decoded) = self.for_flows_only(frame) else {
            return Ok(());
        };
        let Some(flows) = &mut self.flows else {
            return Ok(());
        };
        let mut writer = FlowWriter::new(&self.filter, &mut self.encoders);
        flows.socket_report(
            frame.timestamp_ns,
            frame.interface.netns_cookie,
            &decoded,
            report,
            self.envelopes.host_name(),
            &mut |kind, flow, ctx, peer| writer.write(kind, flow, ctx, peer),
        );
        let written = writer.count_into(&mut self.summary.flow_events);
        self.summary.events += written as u64;
        if let Some(output) = &mut self.output
            && written > 0
        {
            hand_batches(output.as_mut(), &mut self.encoders)?;
        }
        Ok(())
    }

    /// Notes that the lines encoded since the last frame are frame `frame`'s of a block
    /// (for [`crate::encode::Lines::interleave`]).
    pub fn end_frame(&mut self, frame: u32) {
        self.encoders.end_frame(frame);
    }

    /// Takes the batches encoded so far (a shard's caller, which has the outputs).
    pub fn take_batches(&mut self) -> Vec<Batch> {
        self.encoders.take()
    }

    /// Runs `engine`'s signatures over the events (their selection decided too, printed
    /// only if asked for), writing their findings; with `findings_only`, nothing else.
    pub fn with_signatures(self, engine: Option<Engine>, findings_only: bool) -> Self {
        Pipeline {
            signatures: engine.map(|e| (e, findings_only)),
            ..self
        }
    }

    /// SIGHUP: the signatures read their configuration again.
    pub fn reload_signatures(&mut self) {
        if let Some((engine, _)) = &mut self.signatures {
            engine.signal(Signal::Reload);
        }
    }

    /// Findings by signature id, for the summary.
    fn findings(&self) -> Vec<(&'static str, u64)> {
        let mut findings: Vec<_> = self
            .signatures
            .iter()
            .flat_map(|(engine, _)| engine.findings.iter().map(|(id, n)| (*id, *n)))
            .collect();
        findings.sort_unstable();
        findings
    }

    /// Adds the capture programs' flow counters to the flow table's (host mode's flow
    /// accounting).
    pub fn with_kernel_flow_counts(mut self, kernel: Arc<dyn KernelFlowCounts>) -> Self {
        if let Some(flows) = &mut self.flows {
            flows.count_with(kernel);
        }
        self
    }

    /// Also hands packets to `tap` (`-w`, `--evidence`).
    pub fn with_tap(mut self, tap: Box<dyn PacketTap>) -> Self {
        self.taps.push(tap);
        self
    }

    /// Whether `-c COUNT` packets with events have been written (by every pipeline that
    /// shares the count).
    pub fn done(&self) -> bool {
        self.limits
            .count
            .as_ref()
            .is_some_and(|count| count.reached())
    }

    /// Frames without a known owning task.
    pub fn unowned(&self) -> u64 {
        self.envelopes.unowned
    }

    /// Task- and container-table entries evicted because a table was full.
    pub fn tables_evicted(&self) -> u64 {
        self.envelopes.evicted()
    }

    /// What became of the containers' runtime lookups, for the summary.
    pub fn containers(&mut self) -> ContainerReport {
        self.envelopes.containers.apply_answers();
        let envelopes = &self.envelopes;
        let containers = &envelopes.containers;
        let mut latencies = containers.counts.latencies.clone();
        latencies.sort_unstable();
        ContainerReport {
            asked: containers.counts.asked,
            described: containers.counts.described,
            unknown: containers.counts.unknown,
            dropped: containers.lookups_dropped(),
            median_latency: latencies.get(latencies.len() / 2).copied(),
            frames_described: envelopes.described,
            frames_before_description: envelopes.before_description,
        }
    }

    /// Writes the flow records due at `now_ns` (idle flows, periodic reports): live
    /// capture calls it every second.
    pub fn tick(&mut self, now_ns: u64) {
        for tap in &mut self.taps {
            tap.tick(now_ns);
        }
        self.summary.evidence = self.taps.iter().find_map(|t| t.evidence());
        if let Some(flows) = &mut self.flows {
            let mut writer = FlowWriter::new(&self.filter, &mut self.encoders);
            flows.sweep(
                now_ns,
                self.envelopes.host_name(),
                &mut |kind, flow, ctx, peer| writer.write(kind, flow, ctx, peer),
            );
            self.summary.events += writer.count_into(&mut self.summary.flow_events) as u64;
        }
    }

    /// Ends the run's flows: writes the record of every flow still tracked, as of
    /// `now_ns` (the last packet's time in file mode, the clock's in live modes).
    pub fn finish(&mut self, now_ns: u64) {
        self.summary.findings = self.findings();
        self.summary.evidence = self.taps.iter().find_map(|t| t.evidence());
        if let Some(flows) = &mut self.flows {
            let mut writer = FlowWriter::new(&self.filter, &mut self.encoders);
            flows.finish(
                now_ns,
                self.envelopes.host_name(),
                &mut |kind, flow, ctx, peer| writer.write(kind, flow, ctx, peer),
            );
            self.summary.events += writer.count_into(&mut self.summary.flow_events) as u64;
            self.summary.flows = flows.stats();
        }
    }

    /// Writes out the packets the taps hold (`-w`, `--evidence`), counting what they lost.
    pub fn flush_taps(&mut self) -> io::Result<()> {
        for tap in &mut self.taps {
            let lost = tap.flush()?;
            self.summary.packets_write_failed += lost;
            // Counted as saved, maybe by another thread's pipeline: the totals, the sums
            // of every thread's counts, come out exact.
            self.summary.packets_saved = self.summary.packets_saved.wrapping_sub(lost);
        }
        Ok(())
    }

    /// Writes out everything buffered (events, and packets for `-w`).
    pub fn flush(&mut self) -> io::Result<()> {
        self.flush_taps()?;
        match &mut self.output {
            Some(output) => hand_batches(output.as_mut(), &mut self.encoders),
            None => Ok(()),
        }
    }
}

/// Hands `output` the batches `encoders` hold.
fn hand_batches(output: &mut dyn EventOutput, encoders: &mut Encoders) -> io::Result<()> {
    output.hand_all(encoders.take().into_iter().map(Lines::from).collect())
}
