//! Any bytes as a DNS message, decoded by netcore and by hickory-proto: whenever
//! hickory-proto accepts it, netcore accepts it too (except for the disagreements listed in
//! docs/dns.md) and reads the same values.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netcore_core::dns::DnsMessage;

#[path = "../../core/tests/common/dns_compare.rs"]
mod dns_compare;

fuzz_target!(|message: &[u8]| {
    let theirs = hickory_proto::op::Message::from_vec(message);
    let ours = DnsMessage::parse(message);
    match (theirs, ours) {
        (Ok(h), Ok(m)) => assert_eq!(dns_compare::ours(&m), dns_compare::hickory(&h)),
        (Ok(_), Err(e)) => {
            dns_compare::classify(message, e);
        }
        _ => {}
    }
});
