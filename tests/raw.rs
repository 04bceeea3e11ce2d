//! `net_packet_raw`: each IP packet's bytes, base64 as Go writes a byte slice, in both
//! schemas' types.

mod common;

use base64::Engine;
use common::live::arg;

#[test]
fn raw_events_carry_each_ip_packet_as_captured() {
    for (capture, link_len) in [("ethernet", 14), ("sll", 16)] {
        let path = common::root().join(format!("tests/golden/{capture}.pcap"));
        // The IP frames (their EtherType, or SLL's protocol, ends the link header).
        let frames: Vec<_> = common::read_pcap(&path)
            .records
            .into_iter()
            .filter(|f| matches!(f.data[link_len - 2..link_len], [0x08, 0x00] | [0x86, 0xdd]))
            .collect();
        for (schema, bytes_type) in [("tracee-0.22", "bytes"), ("tracee-0.24", "[]byte")] {
            let events = common::events_of(&[
                "--json",
                "--schema",
                schema,
                "--events",
                "net_packet_raw",
                "-r",
                path.to_str().unwrap(),
            ]);
            // One event per IP frame, in order.
            assert_eq!(events.len(), frames.len(), "{capture}");
            for (event, frame) in events.iter().zip(&frames) {
                assert_eq!(event["eventId"], "701");
                assert_eq!(event["args"][0]["type"], bytes_type);
                let data = base64::engine::general_purpose::STANDARD
                    .decode(arg(event, "data").as_str().unwrap())
                    .unwrap();
                // The frame after its link header, up to the IP length (no padding).
                let ip = &frame.data[link_len..];
                let total = match ip[0] >> 4 {
                    4 => usize::from(u16::from_be_bytes([ip[2], ip[3]])),
                    _ => 40 + usize::from(u16::from_be_bytes([ip[4], ip[5]])),
                };
                assert_eq!(data, ip[..total.min(ip.len())], "{capture}");
            }
        }
    }
}
