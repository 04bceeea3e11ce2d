//! The counts of one run, printed to stderr at the end (and by `--stats`).

use std::collections::BTreeMap;

use netcore_core::dns::tcp::Stats as DnsTcpStats;
use netcore_core::flow::FlowKind;
use netcore_core::packet::{Decoded, Network};
use netcore_core::{DecodeError, EventKind};

use super::ports::EvidenceStats;
use crate::state::flows::FlowStats;

/// Counts of one run, printed to stderr at the end.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    /// Frames read from the source.
    pub packets: u64,
    /// Their bytes on the wire.
    pub bytes: u64,
    /// Events written.
    pub events: u64,
    /// Packet events written, by [`EventKind`] (its position in [`EventKind::ALL`]).
    pub packet_events: [u64; EventKind::ALL.len()],
    /// Flow events written, by [`FlowKind::index`].
    pub flow_events: [u64; FlowKind::ALL.len()],
    /// Frames that gave at least one event (what `-c` counts).
    pub packets_with_events: u64,
    /// Frames left out by `-Q` for their direction.
    pub other_direction: u64,
    /// Packets found inside other packets and decoded (VXLAN, GRE, IP-in-IP, …).
    pub decapsulated: u64,
    /// Packets nested deeper than the pipeline decapsulates, left as they were.
    pub tunnels_too_deep: u64,
    /// Frames left out by `-i` for their interface.
    pub other_interface: u64,
    /// Frames the pcap filter expression rejected.
    pub expression_rejected: u64,
    /// Frames that carried no IP packet (ARP, LLDP, …).
    pub not_ip: u64,
    /// IPv4 packets with total length 0 (TSO/GSO super-packets), read as captured.
    pub segmentation_offload: u64,
    /// Decode errors, by [`netcore_core::DecodeError::kind`].
    pub errors: BTreeMap<&'static str, u64>,
    /// DNS-over-TCP reassembly counters.
    pub dns_tcp: DnsTcpStats,
    /// The flow table's counters (when flows were tracked).
    pub flows: FlowStats,
    /// Packets written to the `-w` file.
    pub packets_saved: u64,
    /// Packets a classic pcap `-w` file could not hold (a second link type).
    pub packets_not_saved: u64,
    /// Packets lost because the `-w` file could not be written (a full disk).
    pub packets_write_failed: u64,
    /// Findings by signature id (`--signatures`).
    pub findings: Vec<(&'static str, u64)>,
    /// What `--evidence` wrote and lost.
    pub evidence: Option<EvidenceStats>,
}

impl Summary {
    /// Counts one decoded frame, `wire_len` bytes long on the wire.
    pub fn count(&mut self, decoded: &Decoded<'_>, wire_len: u32) {
        self.packets += 1;
        self.bytes += u64::from(wire_len);
        if let Some(Network::Ipv4(v4)) = decoded.network {
            self.segmentation_offload += u64::from(v4.is_segmentation_offload());
        }
        match decoded.error {
            Some(e) => self.count_error(e),
            None if decoded.network.is_none() => self.not_ip += 1,
            None => {}
        }
    }

    /// Counts a frame left out before decoding, under `counter`.
    pub fn skip(&mut self, wire_len: u32, counter: impl FnOnce(&mut Summary) -> &mut u64) {
        self.packets += 1;
        self.bytes += u64::from(wire_len);
        *counter(self) += 1;
    }

    /// Adds the counts of `other`, a pipeline that handled other flows of the same input
    /// (`--threads`). Findings and evidence are single-thread features: a pipeline that has
    /// them runs alone.
    pub fn absorb(&mut self, other: Summary) {
        let Summary {
            packets,
            bytes,
            events,
            packet_events,
            flow_events,
            packets_with_events,
            other_direction,
            decapsulated,
            tunnels_too_deep,
            other_interface,
            expression_rejected,
            not_ip,
            segmentation_offload,
            errors,
            dns_tcp,
            flows,
            packets_saved,
            packets_not_saved,
            packets_write_failed,
            findings,
            evidence,
        } = other;
        debug_assert!(
            findings.is_empty() && evidence.is_none(),
            "signatures and evidence run on one thread"
        );
        self.flows.add(&flows);
        self.packets += packets;
        self.bytes += bytes;
        self.events += events;
        for (total, n) in self.packet_events.iter_mut().zip(packet_events) {
            *total += n;
        }
        for (total, n) in self.flow_events.iter_mut().zip(flow_events) {
            *total += n;
        }
        self.packets_with_events += packets_with_events;
        self.other_direction += other_direction;
        self.decapsulated += decapsulated;
        self.tunnels_too_deep += tunnels_too_deep;
        self.other_interface += other_interface;
        self.expression_rejected += expression_rejected;
        self.not_ip += not_ip;
        self.segmentation_offload += segmentation_offload;
        for (kind, n) in errors {
            *self.errors.entry(kind).or_default() += n;
        }
        self.dns_tcp.add(&dns_tcp);
        self.packets_saved += packets_saved;
        self.packets_not_saved += packets_not_saved;
        self.packets_write_failed += packets_write_failed;
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
            "{} packets ({} bytes) read, {} events written, {} not IP, {} decode errors",
            self.packets, self.bytes, self.events, self.not_ip, errors
        )?;
        // Counts that only matter when they are not zero.
        for (count, what) in [
            (
                self.segmentation_offload,
                "with IPv4 total length 0 (TSO/GSO, read as captured)",
            ),
            (self.decapsulated, "decapsulated"),
            (self.tunnels_too_deep, "nested too deep to decapsulate"),
            (self.other_direction, "of the other direction (-Q)"),
            (self.other_interface, "on other interfaces (-i)"),
            (self.expression_rejected, "not matching the pcap filter"),
            (self.packets_saved, "written to the -w file"),
            (
                self.packets_not_saved,
                "not written (a pcap file holds one link type; use pcapng)",
            ),
            (
                self.packets_write_failed,
                "lost: the -w file could not be written (named above)",
            ),
        ] {
            if count > 0 {
                write!(f, ", {count} {what}")?;
            }
        }
        if !self.errors.is_empty() {
            let kinds: Vec<String> = self
                .errors
                .iter()
                .map(|(k, n)| format!("{k}={n}"))
                .collect();
            write!(f, " ({})", kinds.join(", "))?;
        }
        if !self.findings.is_empty() {
            let findings: Vec<String> = self
                .findings
                .iter()
                .map(|(id, n)| format!("{id}={n}"))
                .collect();
            write!(f, "; findings: {}", findings.join(", "))?;
        }
        if let Some(evidence) = &self.evidence {
            write!(f, "; {evidence}")?;
        }
        let flows = &self.flows;
        if flows.created > 0 {
            write!(
                f,
                "; flows: {} tracked, {} ended idle, {} not tracked (table full), {} DNS-name \
                 cache entries forgotten (full)",
                flows.created, flows.idle, flows.untracked, flows.names_evicted
            )?;
        }
        let dns = &flows.transactions;
        if dns.answered + dns.unanswered + dns.untracked > 0 {
            write!(
                f,
                "; DNS queries: {} answered, {} unanswered, {} not tracked (table full)",
                dns.answered, dns.unanswered, dns.untracked
            )?;
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
