//! Push-down: the part of the filters the capture programs apply before the ring
//! buffer.

use alloc::vec::Vec;

use super::Filter;
use super::fields::*;
use super::syntax::*;
use crate::abi::{COMM_LEN, KERNEL_FILTER_SLOTS, KernelFilter, l4};
use crate::{EventKind, EventSet};

impl Filter {
    /// The part of these filters the capture programs can apply before the ring buffer,
    /// for the `selected` events: packet classes, ports, and the owner's pid, cgroup and
    /// comm. Never stricter than [`Filter::packet_events`].
    pub fn kernel_filter(&self, selected: EventSet) -> KernelFilter {
        let mut k = KernelFilter::KEEP_ALL;
        k.protocols = EventKind::ALL
            .into_iter()
            .filter(|&e| selected.contains(e))
            .map(|e| match e {
                EventKind::Raw => l4::ALL,
                EventKind::Ipv4 => l4::IPV4_OTHER | l4::IPV4_TCP | l4::IPV4_UDP | l4::IPV4_ICMP,
                EventKind::Ipv6 => l4::IPV6_OTHER | l4::IPV6_TCP | l4::IPV6_UDP | l4::IPV6_ICMPV6,
                // Over IPv6, extension headers may come first: keep those for user space.
                EventKind::Tcp
                | EventKind::Http
                | EventKind::HttpRequest
                | EventKind::HttpResponse => l4::IPV4_TCP | l4::IPV6_TCP | l4::IPV6_OTHER,
                EventKind::Udp => l4::IPV4_UDP | l4::IPV6_UDP | l4::IPV6_OTHER,
                EventKind::Icmp => l4::IPV4_ICMP,
                EventKind::Icmpv6 => l4::IPV6_ICMPV6 | l4::IPV6_OTHER,
                EventKind::Dns | EventKind::DnsRequest | EventKind::DnsResponse => {
                    l4::IPV4_TCP | l4::IPV4_UDP | l4::IPV6_TCP | l4::IPV6_UDP | l4::IPV6_OTHER
                }
            })
            .fold(0, |all, class| all | class);
        // Flows count every TCP, UDP and ICMP packet (and learn names from DNS answers).
        if selected.any_flow() {
            k.protocols = l4::ALL;
        }
        if let Some(ports) = self.port_list(selected) {
            k.port_count = ports.len() as u32;
            k.ports[..ports.len()].copy_from_slice(&ports);
        }
        let listed = |scope: Scope| {
            self.scope.iter().find_map(|t| match (&t.values, t.op) {
                (Values::Numbers(ns), Op::Eq)
                    if t.field == scope && ns.len() <= KERNEL_FILTER_SLOTS =>
                {
                    Some(ns.clone())
                }
                _ => None,
            })
        };
        if let Some(pids) =
            listed(Scope::Pid).filter(|p| p.iter().all(|&n| n <= u64::from(u32::MAX)))
        {
            k.pid_count = pids.len() as u32;
            for (slot, pid) in k.pids.iter_mut().zip(pids) {
                *slot = pid as u32;
            }
        }
        if let Some(cgroups) = listed(Scope::CgroupId) {
            k.cgroup_count = cgroups.len() as u32;
            k.cgroups[..cgroups.len()].copy_from_slice(&cgroups);
        }
        let comms = self.scope.iter().find_map(|t| match (&t.values, t.op) {
            (Values::Strings(ps), Op::Eq)
                if t.field == Scope::Comm && ps.len() <= KERNEL_FILTER_SLOTS =>
            {
                ps.iter()
                    .map(|p| match p {
                        Pattern::Exact(s) if s.len() < COMM_LEN => Some(s.as_bytes()),
                        _ => None,
                    })
                    .collect::<Option<Vec<_>>>()
            }
            _ => None,
        });
        if let Some(comms) = comms {
            k.comm_count = comms.len() as u32;
            for (slot, comm) in k.comms.iter_mut().zip(comms) {
                slot[..comm.len()].copy_from_slice(comm);
            }
        }
        k
    }

    /// Ports one of which every selected packet must carry as source or destination: a
    /// `port=` filter's, or, when only TCP, UDP and DNS events are selected and each has
    /// an `=` port filter, theirs (DNS events are only decoded on port 53).
    fn port_list(&self, selected: EventSet) -> Option<Vec<u16>> {
        let packet_wide = self.packet.iter().find_map(|t| match (&t.values, t.op) {
            (Values::Numbers(ns), Op::Eq) if t.field == PacketWide::Port => ns
                .iter()
                .map(|&n| u16::try_from(n).ok())
                .collect::<Option<Vec<u16>>>(),
            _ => None,
        });
        if let Some(ports) = packet_wide {
            return (ports.len() <= KERNEL_FILTER_SLOTS).then_some(ports);
        }
        let port_events = EventSet::DNS.with(EventKind::Tcp).with(EventKind::Udp);
        if selected == EventSet::NONE || selected.without(port_events) != EventSet::NONE {
            return None;
        }
        let mut ports = Vec::new();
        for event in EventKind::ALL.into_iter().filter(|&e| selected.contains(e)) {
            let port_filter = self.args.iter().find_map(|(e, t)| match (&t.values, t.op) {
                (Values::Numbers(ns), Op::Eq)
                    if *e == event
                        && PORTS
                            .iter()
                            .any(|&(_, _, f)| ArgField::Packet(f) == t.field) =>
                {
                    Some(ns.clone())
                }
                _ => None,
            });
            match port_filter {
                Some(ns) => ports.extend(
                    ns.into_iter()
                        .map(|n| u16::try_from(n).ok())
                        .collect::<Option<Vec<_>>>()?,
                ),
                None if EventSet::DNS.contains(event) => ports.push(crate::dns::PORT),
                None => return None,
            }
        }
        ports.sort_unstable();
        ports.dedup();
        (ports.len() <= KERNEL_FILTER_SLOTS).then_some(ports)
    }
}
