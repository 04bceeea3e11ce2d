//! The event model: which Tracee network events exist, which ones a user selected, and
//! the envelope (time, task, host) every event carries.

use core::fmt;

use crate::dns::DnsMessage;

/// A Tracee network event, with its id and name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// `net_packet_ipv4` (2007).
    Ipv4,
    /// `net_packet_ipv6` (2008).
    Ipv6,
    /// `net_packet_tcp` (2009).
    Tcp,
    /// `net_packet_udp` (2010).
    Udp,
    /// `net_packet_icmp` (2011).
    Icmp,
    /// `net_packet_icmpv6` (2012).
    Icmpv6,
    /// `net_packet_dns` (2013).
    Dns,
    /// `net_packet_dns_request` (2014).
    DnsRequest,
    /// `net_packet_dns_response` (2015).
    DnsResponse,
}

impl EventKind {
    /// Every event, in id order.
    pub const ALL: [EventKind; 9] = [
        EventKind::Ipv4,
        EventKind::Ipv6,
        EventKind::Tcp,
        EventKind::Udp,
        EventKind::Icmp,
        EventKind::Icmpv6,
        EventKind::Dns,
        EventKind::DnsRequest,
        EventKind::DnsResponse,
    ];

    /// Tracee's event name.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Ipv4 => "net_packet_ipv4",
            EventKind::Ipv6 => "net_packet_ipv6",
            EventKind::Tcp => "net_packet_tcp",
            EventKind::Udp => "net_packet_udp",
            EventKind::Icmp => "net_packet_icmp",
            EventKind::Icmpv6 => "net_packet_icmpv6",
            EventKind::Dns => "net_packet_dns",
            EventKind::DnsRequest => "net_packet_dns_request",
            EventKind::DnsResponse => "net_packet_dns_response",
        }
    }

    /// Tracee's event id, as the string the JSON carries.
    pub fn id(self) -> &'static str {
        match self {
            EventKind::Ipv4 => "2007",
            EventKind::Ipv6 => "2008",
            EventKind::Tcp => "2009",
            EventKind::Udp => "2010",
            EventKind::Icmp => "2011",
            EventKind::Icmpv6 => "2012",
            EventKind::Dns => "2013",
            EventKind::DnsRequest => "2014",
            EventKind::DnsResponse => "2015",
        }
    }

    /// The event with this Tracee name.
    pub fn from_name(name: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.name() == name)
    }

    const fn bit(self) -> u16 {
        1 << self as u16
    }
}

/// The DNS events a message yields, in order: `net_packet_dns` always; with exactly one
/// question, `net_packet_dns_request` (replies included, as in the reference's examples;
/// newer Tracee limits it to QR = 0) and, for a response, `net_packet_dns_response`.
pub fn dns_events(message: &DnsMessage<'_>) -> impl Iterator<Item = EventKind> {
    let one_question = message.single_question().is_some();
    [
        (EventKind::Dns, true),
        (EventKind::DnsRequest, one_question),
        (EventKind::DnsResponse, one_question && message.qr() == 1),
    ]
    .into_iter()
    .filter_map(|(kind, applies)| applies.then_some(kind))
}

/// A set of selected events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventSet(u16);

/// An event name that is not one of [`EventKind::ALL`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownEvent<'a>(pub &'a str);

impl fmt::Display for UnknownEvent<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown event '{}'; valid events are:", self.0)?;
        for kind in EventKind::ALL {
            write!(f, " {}", kind.name())?;
        }
        Ok(())
    }
}

impl EventSet {
    /// Every event.
    pub const ALL: EventSet = EventSet((1 << EventKind::ALL.len()) - 1);
    /// No event.
    pub const NONE: EventSet = EventSet(0);

    /// True if `kind` is selected.
    pub fn contains(self, kind: EventKind) -> bool {
        self.0 & kind.bit() != 0
    }

    /// True if any of the three DNS events is selected.
    pub fn any_dns(self) -> bool {
        [
            EventKind::Dns,
            EventKind::DnsRequest,
            EventKind::DnsResponse,
        ]
        .into_iter()
        .any(|k| self.contains(k))
    }

    /// This set with `kind` added.
    pub fn with(self, kind: EventKind) -> EventSet {
        EventSet(self.0 | kind.bit())
    }

    /// The events in either set.
    pub fn union(self, other: EventSet) -> EventSet {
        EventSet(self.0 | other.0)
    }

    /// The events in both sets.
    pub fn intersect(self, other: EventSet) -> EventSet {
        EventSet(self.0 & other.0)
    }

    /// The events of this set that are not in `other`.
    pub fn without(self, other: EventSet) -> EventSet {
        EventSet(self.0 & !other.0)
    }

    /// The three DNS events.
    pub const DNS: EventSet =
        EventSet(EventKind::Dns.bit() | EventKind::DnsRequest.bit() | EventKind::DnsResponse.bit());

    /// Parses a comma-separated list of event names, e.g. `net_packet_tcp,net_packet_udp`.
    pub fn parse(list: &str) -> Result<EventSet, UnknownEvent<'_>> {
        list.split(',')
            .map(str::trim)
            .try_fold(EventSet::NONE, |set, name| {
                EventKind::from_name(name)
                    .map(|k| set.with(k))
                    .ok_or(UnknownEvent(name))
            })
    }
}

/// The envelope of an event: when, on which CPU, which task and which host. Fields a
/// source cannot know stay zero or empty, as in Tracee.
#[derive(Debug, Clone, Copy, Default)]
pub struct EventContext<'a> {
    /// Wall-clock time of the packet, ns since the Unix epoch.
    pub timestamp: u64,
    /// Start time of the owning thread, ns.
    pub thread_start_time: u64,
    /// CPU the packet was seen on.
    pub processor_id: u32,
    /// Process id in the task's pid namespace.
    pub process_id: u32,
    /// cgroup v2 id of the task.
    pub cgroup_id: u64,
    /// Thread id in the task's pid namespace.
    pub thread_id: u32,
    /// Parent process id in the task's pid namespace.
    pub parent_process_id: u32,
    /// Process id in the initial pid namespace.
    pub host_process_id: u32,
    /// Thread id in the initial pid namespace.
    pub host_thread_id: u32,
    /// Parent process id in the initial pid namespace.
    pub host_parent_process_id: u32,
    /// User id.
    pub user_id: u32,
    /// Mount namespace inode.
    pub mount_namespace: u32,
    /// Pid namespace inode.
    pub pid_namespace: u32,
    /// Thread name (comm), raw bytes: escaped when written.
    pub process_name: &'a [u8],
    /// Host name.
    pub host_name: &'a str,
    /// Container id, "" when none.
    pub container_id: &'a str,
    /// Container image.
    pub container_image: &'a str,
    /// Container name.
    pub container_name: &'a str,
    /// Kubernetes pod name.
    pub pod_name: &'a str,
    /// Kubernetes pod namespace.
    pub pod_namespace: &'a str,
    /// Kubernetes pod UID.
    pub pod_uid: &'a str,
    /// Whether the container had started when the task was seen.
    pub container_started: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn parse_lists() {
        let set = EventSet::parse("net_packet_tcp, net_packet_udp").unwrap();
        assert!(set.contains(EventKind::Tcp) && set.contains(EventKind::Udp));
        assert!(!set.contains(EventKind::Ipv4));
        for kind in EventKind::ALL {
            assert!(EventSet::ALL.contains(kind));
            assert_eq!(EventKind::from_name(kind.name()), Some(kind));
        }
    }

    #[test]
    fn unknown_names_list_the_valid_ones() {
        let err = EventSet::parse("net_packet_tcp,net_packet_sctp").unwrap_err();
        assert_eq!(err, UnknownEvent("net_packet_sctp"));
        assert!(
            err.to_string()
                .contains("valid events are: net_packet_ipv4")
        );
        assert!(EventSet::parse("").is_err());
    }
}
