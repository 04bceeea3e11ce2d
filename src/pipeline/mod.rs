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
mod ports;
mod shard;
mod sharded;
mod summary;

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use netcore_core::dns::DnsMessage;
use netcore_core::dns::tcp::{FlowKey, Reassembler};
use netcore_core::event::ANY_INTERFACE;
use netcore_core::filter::Filter;
use netcore_core::packet::{Decoded, Network, Transport};
use netcore_core::tcp::flag;
use netcore_core::{
    DecodeError, Direction, EventContext, EventSet, PacketEvents, decode, dns, tunnel,
};

use crate::encode::{Batch, Encoders, Lines};
use crate::signatures::{Engine, Signal};
use crate::sink::{OutputQueues, OutputReport, Outputs};
use crate::source::{Frame, Interface};
use crate::state::flows::{FlowConfig, FlowTable};
use crate::state::interfaces::InterfaceNames;
use crate::state::runtimes::Lookups;
use envelope::Envelopes;
pub use expression::Expression;
use netcore_core::flow::{Flow, FlowKind, partition_key_of, partition_key_of_flow};
pub use ports::{EvidenceStats, PacketTap};
pub use shard::Shard;
pub use sharded::{Builder, Pipelines, ShardCounts, ShardEnd, Sharded};
pub use summary::Summary;

/// The host the pipeline runs on.
pub struct Host {
    /// Its name, as events carry it (`hostName`).
    pub name: String,
    /// The cookie of netcore's network namespace: its interfaces are the ones named.
    pub netns_cookie: u64,
    /// The cgroup v2 mount, where containers are found (live modes).
    pub cgroup_root: Option<std::path::PathBuf>,
    /// Where containers are described (live modes).
    pub runtimes: Option<Lookups>,
}

/// What the pipeline keeps of its input before decoding, from the command line.
#[derive(Debug, Clone, Default)]
pub struct Limits {
    /// Only frames going this way (`-Q`); frames of unknown direction are kept.
    pub direction: Option<Direction>,
    /// Stop after this many packets with events (`-c`), counted over every pipeline that
    /// shares it.
    pub count: Option<Arc<PacketCount>>,
    /// Only frames that crossed this interface (`-i`); frames of unknown interface are
    /// kept.
    pub interface: Option<Interface>,
    /// Which packets of a tunnel give events (`--tunnel`).
    pub tunnels: Tunnels,
}

/// `-c COUNT`: the packets with events the pipelines of a run have written, over all of
/// their threads. A pipeline reserves room for a packet before writing its events and
/// settles it after, so exactly COUNT packets with events are written however many threads
/// write them (a thread that finds every room taken while another's packet is still being
/// written leaves its own packet out).
#[derive(Debug)]
pub struct PacketCount {
    limit: u64,
    reserved: AtomicU64,
    written: AtomicU64,
}

impl PacketCount {
    /// A count that ends the run at `limit` packets with events.
    pub fn new(limit: u64) -> Arc<Self> {
        Arc::new(PacketCount {
            limit,
            reserved: AtomicU64::new(0),
            written: AtomicU64::new(0),
        })
    }

    /// Room for one more packet's events; false once COUNT are written or being written.
    fn reserve(&self) -> bool {
        if self.reserved.fetch_add(1, Relaxed) < self.limit {
            return true;
        }
        self.reserved.fetch_sub(1, Relaxed);
        false
    }

    /// Settles a reserved packet: it gave events (`wrote`), or its room is given back.
    fn settle(&self, wrote: bool) {
        match wrote {
            true => self.written.fetch_add(1, Relaxed),
            false => self.reserved.fetch_sub(1, Relaxed),
        };
    }

    /// Whether COUNT packets with events are written.
    fn reached(&self) -> bool {
        self.written.load(Relaxed) >= self.limit
    }
}

/// Which packets of a tunnel give events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Tunnels {
    /// The outer packet only, as Tracee reports it.
    #[default]
    Outer,
    /// The packet inside only (what a mirror interface's user wants).
    Inner,
    /// Both, outer first (tshark's view).
    Both,
}

/// What the pipeline keeps of its input before decoding: `-Q`, `-c`, and a pcap filter
/// expression; and how flows are tracked when a flow event is selected.
#[derive(Clone)]
pub struct Selection {
    /// `-Q` and `-c`.
    pub limits: Limits,
    /// The pcap filter expression, if one was given.
    pub expression: Option<Expression>,
    /// `--max-flows`, `--community-id-seed`, `--flow-report`.
    pub flows: FlowOptions,
}

/// The flow table's settings from the command line.
#[derive(Debug, Clone, Copy)]
pub struct FlowOptions {
    /// Most flows tracked at once.
    pub max_flows: usize,
    /// The Community ID seed.
    pub community_id_seed: u16,
    /// Write a record of each open flow this often (ns).
    pub report_every_ns: Option<u64>,
}

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
    /// `--output`: where the encoded events go; none for a shard, whose caller takes its
    /// batches ([`Pipeline::take_batches`]).
    outputs: Option<Outputs>,
    /// The flows this pipeline handles, when several share the frames (`--threads`).
    shard: Option<Shard>,
    /// Counts so far.
    pub summary: Summary,
    /// The time of the last frame handled, ns since the epoch.
    last_timestamp_ns: u64,
}

impl Pipeline {
    /// A pipeline writing the `selected` events that pass `filter`, encoded by
    /// `encoders`, to `outputs` (none: [`Pipeline::take_batches`] hands them out);
    /// envelopes name `host_name`.
    pub fn new(
        selected: EventSet,
        selection: Selection,
        filter: Filter,
        encoders: Encoders,
        outputs: Option<Outputs>,
        host: Host,
    ) -> Self {
        let selected = selected.intersect(filter.events());
        let flows = selected.any_flow().then(|| {
            FlowTable::new(FlowConfig {
                record: selected.contains_flow(FlowKind::Record),
                tcp_begin: selected.contains_flow(FlowKind::TcpBegin),
                tcp_end: selected.contains_flow(FlowKind::TcpEnd),
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
            outputs,
            shard: None,
            summary: Summary::default(),
            last_timestamp_ns: 0,
        }
    }

    /// Handles only the frames of `shard`'s flows, leaving the others to its siblings.
    pub fn sharded(self, shard: Shard) -> Self {
        Pipeline {
            shard: Some(shard),
            ..self
        }
    }

    /// Decodes one frame and writes its events; ignores it once [`Pipeline::done`].
    pub fn handle(&mut self, frame: &Frame<'_>) -> io::Result<()> {
        if self.done() {
            return Ok(());
        }
        // A shard decodes first: the frames of other shards' flows are not its to count.
        let decoded = match self.shard {
            Some(shard) => {
                let decoded = decode(frame.link_type, frame.data);
                if !shard.owns(&decoded) {
                    return Ok(());
                }
                Some(decoded)
            }
            None => None,
        };
        self.last_timestamp_ns = self.last_timestamp_ns.max(frame.timestamp_ns);
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
            outputs,
            shard: _,
            summary,
            last_timestamp_ns: _,
        } = self;
        let mut decoded = decoded.unwrap_or_else(|| decode(frame.link_type, frame.data));
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
            selected: *selected,
            filter,
            encoders,
            summary,
            reassembler,
            flows: flows
                .as_mut()
                .map(|table| (table, frame.timestamp_ns, frame.interface.netns_cookie)),
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
                    Some(true) => summary.packets_saved += 1,
                    Some(false) => summary.packets_not_saved += 1,
                    None => {}
                }
            }
        }
        encoders.mark(partition_key);
        if let Some(outputs) = outputs
            && encoders.due()
        {
            outputs.send(encoders.take().into_iter().map(Lines::from))?;
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

    /// Learns the names a DNS answer gives addresses, for this pipeline's flows, from a copy
    /// of a packet whose flow another pipeline handles (host mode on several threads,
    /// [`netcore_core::abi::record_flag::NAMES_ONLY`]): as [`Pipeline::handle`] would from
    /// the packet itself, through the same limits and filter; counts and writes nothing.
    pub fn learn_names(&mut self, frame: &Frame<'_>) {
        if self.flows.is_none() || self.done() || self.left_out(frame).is_some() {
            return;
        }
        let decoded = decode(frame.link_type, frame.data);
        let ctx = self.envelopes.context_uncounted(frame);
        if self.filter.packet_events(&ctx, &decoded, EventSet::FLOWS) == EventSet::NONE {
            return;
        }
        if let (Some(flows), Some(Ok(message))) = (&mut self.flows, decoded.dns_over_udp()) {
            flows.learn_names(frame.timestamp_ns, frame.interface.netns_cookie, &message);
        }
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

    /// Whether the batches are big enough to hand over (for a caller that takes them).
    pub fn batches_due(&self) -> bool {
        self.encoders.due()
    }

    /// The queues of this pipeline's outputs, for other pipelines to write into (host
    /// mode on several threads); none without outputs.
    pub fn output_queues(&self) -> Option<OutputQueues> {
        self.outputs.as_ref().map(Outputs::queues)
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

    /// The time of the last frame handled, ns since the epoch (0 before the first).
    pub fn last_timestamp_ns(&self) -> u64 {
        self.last_timestamp_ns
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
            self.summary.flows = flows.stats;
        }
    }

    /// Writes out everything buffered (events, and packets for `-w`).
    pub fn flush(&mut self) -> io::Result<()> {
        for tap in &mut self.taps {
            tap.flush()?;
        }
        match &mut self.outputs {
            Some(outputs) => outputs.send(self.encoders.take().into_iter().map(Lines::from)),
            None => Ok(()),
        }
    }

    /// SIGHUP: file outputs reopen their files.
    pub fn reopen_outputs(&self) {
        if let Some(outputs) = &self.outputs {
            outputs.reopen();
        }
    }

    /// The outputs' counters as they are now, for `--stats` and `--metrics`.
    pub fn outputs_now(&self) -> OutputReport {
        self.outputs
            .as_ref()
            .map_or_else(OutputReport::default, Outputs::report)
    }

    /// Ends the outputs once everything is flushed: waits for them to deliver what they
    /// hold (bounded). Returns the pipeline's counts, what became of each output's events,
    /// and standard output's error, if it failed.
    pub fn close(self) -> (Summary, OutputReport, io::Result<()>) {
        let (report, result) = self
            .outputs
            .map_or_else(|| (OutputReport::default(), Ok(())), Outputs::close);
        (self.summary, report, result)
    }
}

/// What became of the containers' runtime lookups in a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerReport {
    /// Containers the runtimes were asked about.
    pub asked: u64,
    /// … that a runtime described.
    pub described: u64,
    /// … that no runtime knew.
    pub unknown: u64,
    /// … not asked because the lookup queue was full.
    pub dropped: u64,
    /// The median time from question to answer.
    pub median_latency: Option<std::time::Duration>,
    /// Frames of containers already described.
    pub frames_described: u64,
    /// Frames of containers whose description was not in yet (they carry the id only).
    pub frames_before_description: u64,
}

impl ContainerReport {
    /// Adds `other`'s counts (another pipeline's of the same run); the median lookup time
    /// becomes the slower of the two.
    pub fn absorb(&mut self, other: ContainerReport) {
        self.asked += other.asked;
        self.described += other.described;
        self.unknown += other.unknown;
        self.dropped += other.dropped;
        self.median_latency = self.median_latency.max(other.median_latency);
        self.frames_described += other.frames_described;
        self.frames_before_description += other.frames_before_description;
    }
}

impl std::fmt::Display for ContainerReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "containers: {} described by their runtimes, {} unknown to them, {} asked at \
             their first packet (the others as their cgroup appeared), {} not asked (queue full)",
            self.described, self.unknown, self.asked, self.dropped
        )?;
        if let Some(median) = self.median_latency {
            write!(f, ", median lookup {:.1} ms", median.as_secs_f64() * 1e3)?;
        }
        write!(
            f,
            "; their packets: {} described, {} before the runtime answered",
            self.frames_described, self.frames_before_description
        )
    }
}

/// Writes the flow events the flow table hands out that pass the filters.
struct FlowWriter<'p> {
    filter: &'p Filter,
    encoders: &'p mut Encoders,
    /// Events written, by [`FlowKind::index`].
    written: [u64; FlowKind::ALL.len()],
}

impl<'p> FlowWriter<'p> {
    fn new(filter: &'p Filter, encoders: &'p mut Encoders) -> Self {
        FlowWriter {
            filter,
            encoders,
            written: [0; FlowKind::ALL.len()],
        }
    }

    /// Adds the events written by kind to `by_kind`; returns how many there were.
    fn count_into(&self, by_kind: &mut [u64; FlowKind::ALL.len()]) -> usize {
        for (total, written) in by_kind.iter_mut().zip(self.written) {
            *total += written;
        }
        self.written.iter().sum::<u64>() as usize
    }

    fn write(
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

/// Most packets inside packets decapsulated (a tunnel in a tunnel …); deeper ones are
/// counted and left encapsulated.
pub const MAX_TUNNEL_DEPTH: usize = 4;

/// Writes the events of one decoded layer: the stages after the decoder, borrowed from
/// the pipeline for one frame.
struct LayerWriter<'p> {
    selected: EventSet,
    filter: &'p Filter,
    encoders: &'p mut Encoders,
    summary: &'p mut Summary,
    reassembler: &'p mut Reassembler,
    /// The flow table, the frame's time and network namespace, when flows are tracked.
    flows: Option<(&'p mut FlowTable, u64, u64)>,
    /// Whether the flows counted a layer of the frame (it passed the filters).
    counted_by_flows: bool,
    /// The signatures and `--findings-only`.
    signatures: Option<&'p mut (Engine, bool)>,
    /// The packet taps, the frame's flow key and time.
    taps: (&'p mut [Box<dyn PacketTap>], u64, u64),
}

impl LayerWriter<'_> {
    /// Filters, decodes the DNS message (once, when a DNS event is wanted), encodes; returns
    /// how many events were written.
    fn write(
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
                Some(Ok(message)) => Some(message),
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
        if printed_dns != EventSet::NONE {
            written += self.dns_over_tcp(&events, printed_dns);
        }
        if let Some((flows, now_ns, netns)) = &mut self.flows
            && self.filter.packet_events(ctx, decoded, EventSet::FLOWS) != EventSet::NONE
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
                ctx,
                &mut |kind, flow, ctx, peer| writer.write(kind, flow, ctx, peer),
            );
            written += writer.count_into(&mut self.summary.flow_events);
        }
        written
    }

    /// Writes the events of the DNS messages a TCP segment to or from port 53 completes;
    /// `packet` is the segment's (with no DNS message), `wanted` the DNS events wanted.
    fn dns_over_tcp(&mut self, packet: &PacketEvents<'_, '_>, wanted: EventSet) -> usize {
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
            ..
        } = self;
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
