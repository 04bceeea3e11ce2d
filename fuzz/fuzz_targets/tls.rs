//! Any bytes as the first payload of a TLS connection: reading the ClientHello never
//! panics, its server name and protocols stay inside the payload, and each writes as a
//! JSON string that parses back to its bytes (invalid UTF-8 as U+FFFD, byte by byte).
#![no_main]

use libfuzzer_sys::fuzz_target;
use netcore_core::json::push_str;
use netcore_core::tls;

/// Whether `part` lies inside `whole`.
fn inside(part: &[u8], whole: &[u8]) -> bool {
    let (start, end) = (whole.as_ptr() as usize, whole.as_ptr() as usize + whole.len());
    let at = part.as_ptr() as usize;
    part.is_empty() || (at >= start && at + part.len() <= end)
}

/// `bytes` written as a JSON string reads back as their text, each byte that is not part
/// of valid UTF-8 a U+FFFD (as Go's encoder, and so Tracee, writes them).
fn writes_as_json(bytes: &[u8]) {
    let mut out = Vec::new();
    push_str(&mut out, bytes);
    let text: String = serde_json::from_slice(&out)
        .unwrap_or_else(|e| panic!("invalid JSON string ({e}): {}", String::from_utf8_lossy(&out)));
    let mut expected = String::new();
    for chunk in bytes.utf8_chunks() {
        expected.push_str(chunk.valid());
        expected.extend(std::iter::repeat_n('\u{fffd}', chunk.invalid().len()));
    }
    assert_eq!(text, expected);
}

fuzz_target!(|payload: &[u8]| {
    let Some(hello) = tls::client_hello(payload) else { return };
    if let Some(name) = hello.server_name {
        assert!(inside(name, payload));
        writes_as_json(name);
    }
    for protocol in hello.alpn() {
        assert!(inside(protocol, payload));
        writes_as_json(protocol);
    }
});
