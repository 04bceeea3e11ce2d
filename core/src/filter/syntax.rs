//! The parts of a filter expression: operators, string patterns, CIDR prefixes, typed
//! value lists, and how a test compares one value.

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::net::IpAddr;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}

impl Op {
    /// Splits `expr` at its operator: `(left, op, right)`; `None` when it has none.
    pub(super) fn split(expr: &str) -> Option<(&str, Op, &str)> {
        let at = expr.find(['=', '!', '<', '>'])?;
        let (left, rest) = expr.split_at(at);
        let (op, len) = match rest.as_bytes() {
            [b'!', b'=', ..] => (Op::Ne, 2),
            [b'<', b'=', ..] => (Op::Le, 2),
            [b'>', b'=', ..] => (Op::Ge, 2),
            [b'=', ..] => (Op::Eq, 1),
            [b'<', ..] => (Op::Lt, 1),
            [b'>', ..] => (Op::Gt, 1),
            _ => return None,
        };
        Some((left, op, &rest[len..]))
    }

    pub(super) fn orders(self) -> bool {
        matches!(self, Op::Lt | Op::Gt | Op::Le | Op::Ge)
    }
}

/// A string pattern: exact, `prefix*` or `*suffix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Pattern {
    Exact(String),
    Prefix(String),
    Suffix(String),
}

impl Pattern {
    pub(super) fn parse(text: &str) -> Pattern {
        if let Some(prefix) = text.strip_suffix('*') {
            Pattern::Prefix(prefix.to_owned())
        } else if let Some(suffix) = text.strip_prefix('*') {
            Pattern::Suffix(suffix.to_owned())
        } else {
            Pattern::Exact(text.to_owned())
        }
    }

    pub(super) fn matches(&self, s: &[u8]) -> bool {
        match self {
            Pattern::Exact(p) => s == p.as_bytes(),
            Pattern::Prefix(p) => s.starts_with(p.as_bytes()),
            Pattern::Suffix(p) => s.ends_with(p.as_bytes()),
        }
    }
}

/// An address or CIDR prefix (`10.1.2.3`, `10.0.0.0/8`, `fd00::/8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub(super) network: IpAddr,
    pub(super) prefix: u8,
}

impl Cidr {
    /// Parses an address or an `address/prefix`.
    pub fn parse(text: &str) -> Option<Cidr> {
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a.parse::<IpAddr>().ok()?, Some(p.parse::<u8>().ok()?)),
            None => (text.parse::<IpAddr>().ok()?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Cidr {
            network: addr,
            prefix,
        })
    }

    /// Whether `addr` is in the prefix.
    pub fn contains(&self, addr: IpAddr) -> bool {
        let mask = |bits: u8, width: u32| match bits {
            0 => 0u128,
            b => u128::MAX << (width - u32::from(b)),
        };
        match (self.network, addr) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let m = mask(self.prefix, 32) as u32;
                u32::from(n) & m == u32::from(a) & m
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let m = mask(self.prefix, 128);
                u128::from(n) & m == u128::from(a) & m
            }
            _ => false,
        }
    }
}

/// The values a test compares against, typed by the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Values {
    Numbers(Vec<u64>),
    Strings(Vec<Pattern>),
    Addresses(Vec<Cidr>),
}

/// A field's value on one packet.
pub(super) enum Value<'a> {
    Number(u64),
    Text(&'a [u8]),
    Address(IpAddr),
}

/// `field op values`, with the field resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Test<F> {
    pub(super) field: F,
    pub(super) op: Op,
    pub(super) values: Values,
}

impl<F> Test<F> {
    /// Whether one value of the field passes: any listed value matches (`=` and
    /// orderings), or none does (`!=`).
    pub(super) fn accepts(&self, value: &Value<'_>) -> bool {
        let matches_any = match (&self.values, value) {
            (Values::Numbers(ns), Value::Number(v)) => ns.iter().any(|n| match self.op {
                Op::Eq | Op::Ne => v == n,
                Op::Lt => v < n,
                Op::Gt => v > n,
                Op::Le => v <= n,
                Op::Ge => v >= n,
            }),
            (Values::Strings(ps), Value::Text(s)) => ps.iter().any(|p| p.matches(s)),
            (Values::Addresses(cs), Value::Address(a)) => cs.iter().any(|c| c.contains(*a)),
            _ => false,
        };
        matches_any != (self.op == Op::Ne)
    }

    /// Whether a field with several values (DNS names) passes: `!=` needs every value to
    /// pass, the others need one.
    pub(super) fn accepts_all_or_any<'v>(
        &self,
        mut values: impl Iterator<Item = Value<'v>>,
    ) -> bool {
        if self.op == Op::Ne {
            values.all(|v| self.accepts(&v))
        } else {
            values.any(|v| self.accepts(&v))
        }
    }
}

/// What a field holds, which decides how its values are parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Number,
    Text,
    Address,
    /// A bare word meaning "is set" (`container`).
    Flag,
}

/// Parses a comma list of values for a field of `kind`.
pub(super) fn parse_values(kind: Kind, op: Op, list: &str) -> Result<Values, String> {
    let items = list.split(',').map(str::trim);
    if op.orders() && kind != Kind::Number {
        return Err(format!(
            "'{list}': < > <= >= compare numbers only; use = or !="
        ));
    }
    match kind {
        Kind::Number => items
            .map(|v| {
                v.parse::<u64>()
                    .map_err(|_| format!("'{v}' is not a number (this field is numeric)"))
            })
            .collect::<Result<_, _>>()
            .map(Values::Numbers),
        Kind::Text | Kind::Flag => Ok(Values::Strings(items.map(Pattern::parse).collect())),
        Kind::Address => items
            .map(|v| {
                Cidr::parse(v).ok_or_else(|| {
                    format!("'{v}' is not an IP address or CIDR prefix (e.g. 10.0.0.1, 10.0.0.0/8, fd00::/8)")
                })
            })
            .collect::<Result<_, _>>()
            .map(Values::Addresses),
    }
}
