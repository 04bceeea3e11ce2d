//! The Rego input builder: what a Rego signature gets for an event of arbitrary bytes is
//! the event's JSON line handed to regorus' JSON reader (`set_input_json`). Every event of
//! any frame, in both schemas, must be read by regorus, and mean what serde_json reads in
//! it (regorus' value written back as JSON equals serde_json's reading of the line).
//!
//! Input layout as the `packet` target's: byte 0 picks the link type, byte 1 the length
//! (mod 16) of a hostile process name that follows, the rest is the frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netcore_core::json::{Encoder, SCHEMAS};
use netcore_core::{Direction, EventContext, EventSet, LinkType, PacketEvents, decode};

fuzz_target!(|input: &[u8]| {
    let [selector, name_len, rest @ ..] = input else { return };
    let link = LinkType::ALL[usize::from(*selector) % LinkType::ALL.len()];
    let (process_name, frame) = rest.split_at(usize::from(name_len % 16).min(rest.len()));
    let ctx = EventContext { process_name, host_name: "fuzz", ..Default::default() };
    let decoded = decode(link, frame);
    for schema in SCHEMAS {
        let mut out = Vec::new();
        PacketEvents::decide(&ctx, &decoded, Direction::Egress, EventSet::ALL, |e| {
            Encoder::new(schema).encode(e, &mut out)
        });
        for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let text = std::str::from_utf8(line).expect("JSON lines are UTF-8");
            let value = regorus::Value::from_json_str(text)
                .unwrap_or_else(|e| panic!("regorus refused the input ({e}): {text}"));
            let back: serde_json::Value =
                serde_json::from_str(&value.to_json_str().expect("regorus writes it back")).unwrap();
            let read: serde_json::Value = serde_json::from_str(text).unwrap();
            assert_eq!(back, read, "regorus reads another value: {text}");
        }
    }
});
