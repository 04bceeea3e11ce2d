//! Tracee's `--filter` language, compiled once into a predicate that runs on the decoded
//! views before any JSON is built: a rejected packet costs its decode and nothing more.
//!
//! ```text
//! --filter event=net_packet_tcp,net_packet_udp       which events (event!= excludes)
//! --filter net_packet_tcp.args.dst_port=80            an argument of one event (data. = args.)
//! --filter net_packet_tcp.args.proto_tcp.SYN=1        a field inside proto_*
//! --filter net_packet_dns.args.proto_dns.questions.name=*.example.com
//! --filter comm=curl,wget   pid=42   uid!=0   container   container=ab12*   cgroupId=…
//! ```
//!
//! Operators: `=`, `!=`, `<`, `>`, `<=`, `>=` (ordering on numbers only). A value list
//! (`a,b`) matches if any value does; `!=` with a list matches if none does. Strings take
//! `prefix*` and `*suffix`; addresses take CIDR prefixes (`10.0.0.0/8`). Filters AND
//! together; an argument filter constrains its own event only and selects it. See
//! docs/filters.md. [`Filter::kernel_filter`] derives what the capture programs can
//! apply before the ring buffer.

mod eval;
mod fields;
mod kernel;
mod syntax;
#[cfg(test)]
mod tests;

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use crate::flow::{Flow, FlowKind};
use crate::{EventKind, EventSet};

use fields::*;
use syntax::*;

pub use syntax::Cidr;

/// Why a `--filter` was rejected; names the filter and the bad part, and what is valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    filter: String,
    problem: String,
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.filter, self.problem)
    }
}

impl core::error::Error for FilterError {}

/// The compiled filters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// Events kept by `event=`/`event!=` filters; `None` when there are none.
    events: Option<EventSet>,
    /// Events named by argument filters (selected even without `event=`).
    arg_events: EventSet,
    scope: Vec<Test<Scope>>,
    /// Tests on the packet as a whole (`host=`, `port=`, …): every event of a packet that
    /// fails one is dropped.
    packet: Vec<Test<PacketWide>>,
    args: Vec<(EventKind, Test<ArgField>)>,
    /// Tests on flow events' arguments.
    flow_args: Vec<(FlowKind, Test<FlowField>)>,
    /// Events named by `event=` lists.
    named: EventSet,
}

impl Filter {
    /// Compiles `--filter` expressions; an empty list keeps everything.
    pub fn parse<S: AsRef<str>>(filters: &[S]) -> Result<Filter, FilterError> {
        let mut filter = Filter {
            events: None,
            arg_events: EventSet::NONE,
            scope: Vec::new(),
            packet: Vec::new(),
            args: Vec::new(),
            flow_args: Vec::new(),
            named: EventSet::NONE,
        };
        for expr in filters {
            let expr = expr.as_ref();
            let error = |problem: String| FilterError {
                filter: expr.to_owned(),
                problem,
            };
            filter.add(expr).map_err(error)?;
        }
        Ok(filter)
    }

    fn add(&mut self, expr: &str) -> Result<(), String> {
        if expr == "container" {
            self.scope.push(Test {
                field: Scope::Container,
                op: Op::Ne,
                values: Values::Strings(vec![Pattern::Exact(String::new())]),
            });
            return Ok(());
        }
        if expr == "container=new" {
            self.scope.push(Test {
                field: Scope::NewContainer,
                op: Op::Eq,
                values: Values::Numbers(vec![1]),
            });
            return Ok(());
        }
        let Some((left, op, right)) = Op::split(expr) else {
            return Err("expected FIELD OP VALUE with OP one of = != < > <= >=".to_owned());
        };
        if right.is_empty() {
            return Err(format!("no value after the operator in '{expr}'"));
        }
        if left == "event" {
            return self.add_events(op, right);
        }
        if let Some(&(_, field, kind)) = PACKET_WIDE.iter().find(|(name, ..)| *name == left) {
            let values = parse_values(kind, op, right)?;
            self.packet.push(Test { field, op, values });
            return Ok(());
        }
        if let Some(&(_, scope, kind)) = SCOPES.iter().find(|(name, ..)| *name == left) {
            let values = parse_values(kind, op, right)?;
            self.scope.push(Test {
                field: scope,
                op,
                values,
            });
            return Ok(());
        }
        let Some((event, path)) = left
            .split_once(".args.")
            .or_else(|| left.split_once(".data."))
        else {
            let scopes: Vec<&str> = (SCOPES.iter().map(|(name, ..)| *name))
                .chain(PACKET_WIDE.iter().map(|(name, ..)| *name))
                .collect();
            return Err(format!(
                "unknown field '{left}'; expected event, EVENT.args.FIELD, or one of {}",
                scopes.join(", ")
            ));
        };
        if let Some(flow) = FlowKind::from_name(event) {
            return self.add_flow_arg(flow, path, op, right);
        }
        let event = EventKind::from_name(event)
            .ok_or_else(|| crate::event::UnknownEvent(event).to_string())?;
        let (field, kind) = arg_field(event, path).map_err(|valid| {
            format!(
                "{} has no argument '{path}'; valid: {}",
                event.name(),
                valid.join(", ")
            )
        })?;
        let values = parse_values(kind, op, right)?;
        self.arg_events = self.arg_events.with(event);
        self.args.push((event, Test { field, op, values }));
        Ok(())
    }

    fn add_flow_arg(
        &mut self,
        flow: FlowKind,
        path: &str,
        op: Op,
        right: &str,
    ) -> Result<(), String> {
        let fields = flow_fields(flow);
        let Some(&(_, field, kind)) = fields.iter().find(|(name, ..)| *name == path) else {
            let valid: Vec<&str> = fields.iter().map(|(name, ..)| *name).collect();
            return Err(format!(
                "{} has no argument '{path}'; valid: {}",
                flow.name(),
                valid.join(", ")
            ));
        };
        let values = parse_values(kind, op, right)?;
        self.arg_events = self.arg_events.with_flow(flow);
        self.flow_args.push((flow, Test { field, op, values }));
        Ok(())
    }

    /// The events these filters name: in `event=` lists or argument filters (what they
    /// select beyond `--events`' default, the packet events).
    pub fn named_events(&self) -> EventSet {
        self.named.union(self.arg_events)
    }

    /// Whether flow event `kind` of `flow` passes the argument filters on that event.
    pub fn flow_passes(&self, kind: FlowKind, flow: &Flow<'_>) -> bool {
        self.flow_args
            .iter()
            .filter(|(k, _)| *k == kind)
            .all(|(_, t)| t.accepts_all_or_any(t.field.values(flow).into_iter()))
    }

    fn add_events(&mut self, op: Op, list: &str) -> Result<(), String> {
        let set = EventSet::parse(list).map_err(|e| e.to_string())?;
        let set = match op {
            Op::Eq => {
                self.named = self.named.union(set);
                set
            }
            Op::Ne => EventSet::ALL.without(set),
            _ => return Err("events take = or != only".to_owned()),
        };
        self.events = Some(self.events.unwrap_or(EventSet::ALL).intersect(set));
        Ok(())
    }

    /// Every argument path filters accept for `event` (`EVENT.args.PATH`).
    pub fn argument_paths(event: EventKind) -> Vec<String> {
        arg_fields(event)
            .into_iter()
            .map(|(path, ..)| path)
            .collect()
    }

    /// The events these filters can let through: the `event=` selection plus the events
    /// of argument filters, or all when neither is given.
    pub fn events(&self) -> EventSet {
        match self.events {
            None if self.arg_events == EventSet::NONE => EventSet::ALL,
            None => self.arg_events,
            Some(set) => set.union(self.arg_events),
        }
    }
}
