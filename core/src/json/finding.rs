//! A finding as Tracee's `FindingToEvent` writes it: the triggering event's envelope, the
//! finding's data as arguments (typed as Tracee's `getCType` names Go types, in name
//! order: Go iterates a map), then `triggeredBy` (`detectedFrom` in v0.24) holding the
//! triggering event's `args`, `id`, `name` and `returnValue`, then `metadata`.

use alloc::vec::Vec;

use super::{Encoder, Event, Head, push_str, push_u64};
use crate::event::EventContext;
use crate::finding::{FindingEvent, FindingValue};

impl Encoder {
    /// Appends one JSON line for `finding`, with the envelope of its triggering event.
    pub fn encode_finding(
        &mut self,
        finding: &FindingEvent<'_>,
        ctx: &EventContext<'_>,
        out: &mut Vec<u8>,
    ) {
        let trigger_name = if self.schema.nested_envelope {
            "detectedFrom"
        } else {
            "triggeredBy"
        };
        let args = (finding.data.len() + 1) as u8;
        let head = Head::Finding(finding.event_id, finding.event_name, args);
        let mut event = Event::begin(self, ctx, &mut None, out, head);
        for (name, value) in finding.data {
            let parts = [
                "{\"name\":\"",
                name,
                "\",\"type\":\"",
                c_type(value),
                "\",\"value\":",
            ];
            event.arg_parts(&parts, |o| push_value(o, value));
        }
        let parts = [
            "{\"name\":\"",
            trigger_name,
            "\",\"type\":\"unknown\",\"value\":",
        ];
        event.arg_parts(&parts, |o| {
            // A Go map: keys sorted.
            o.extend_from_slice(b"{\"args\":");
            o.extend_from_slice(finding.trigger.args_json);
            o.extend_from_slice(b",\"id\":");
            o.extend_from_slice(finding.trigger.id.as_bytes());
            o.extend_from_slice(b",\"name\":");
            push_str(o, finding.trigger.name.as_bytes());
            o.extend_from_slice(b",\"returnValue\":0}");
        });
        event.end_with(|o| {
            o.extend_from_slice(b",\"metadata\":{\"Version\":");
            push_str(o, finding.version.as_bytes());
            o.extend_from_slice(b",\"Description\":");
            push_str(o, finding.description.as_bytes());
            o.extend_from_slice(b",\"Tags\":[");
            for (i, tag) in finding.tags.iter().enumerate() {
                if i > 0 {
                    o.push(b',');
                }
                push_str(o, tag.as_bytes());
            }
            o.extend_from_slice(b"],\"Properties\":{");
            for (i, (name, value)) in finding.properties.iter().enumerate() {
                if i > 0 {
                    o.push(b',');
                }
                push_str(o, name.as_bytes());
                o.push(b':');
                push_value(o, value);
            }
            o.extend_from_slice(b"}}");
        });
    }
}

/// Tracee's `getCType` of a finding value's Go type.
fn c_type(value: &FindingValue<'_>) -> &'static str {
    match value {
        FindingValue::Text(_) => "const char *",
        FindingValue::Number(_) => "long",
        FindingValue::Bool(_) => "bool",
        FindingValue::List(_) => "const char**",
        FindingValue::Null => "unknown",
    }
}

fn push_value(out: &mut Vec<u8>, value: &FindingValue<'_>) {
    match value {
        FindingValue::Text(t) => push_str(out, t.as_bytes()),
        FindingValue::Number(n) => {
            if *n < 0 {
                out.push(b'-');
            }
            push_u64(out, n.unsigned_abs());
        }
        FindingValue::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        FindingValue::List(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                push_str(out, item.as_bytes());
            }
            out.push(b']');
        }
        FindingValue::Null => out.extend_from_slice(b"null"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;

    #[test]
    fn each_value_with_its_c_type() {
        let hostile = "a\"b\\c\n";
        let list = [String::from("x"), String::from(hostile)];
        let cases = [
            (
                FindingValue::Text(hostile),
                "const char *",
                r#""a\"b\\c\n""#,
            ),
            (FindingValue::Number(-42), "long", "-42"),
            (
                FindingValue::Number(i64::MIN),
                "long",
                "-9223372036854775808",
            ),
            (FindingValue::Bool(true), "bool", "true"),
            (
                FindingValue::List(&list),
                "const char**",
                r#"["x","a\"b\\c\n"]"#,
            ),
            (FindingValue::Null, "unknown", "null"),
        ];
        for (value, ctype, json) in cases {
            let mut out = Vec::new();
            push_value(&mut out, &value);
            assert_eq!((c_type(&value), out.as_slice()), (ctype, json.as_bytes()));
        }
    }
}
