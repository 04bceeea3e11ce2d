//! What netcore's DNS decoder and hickory-proto must agree on, shared by the
//! differential test (core/tests/dns_differential.rs) and the `dns_differential` fuzz target.

use hickory_proto::op::Message;
use hickory_proto::rr::RData as HRData;
use netcore_core::dns::{DnsMessage, Entry, RData, RecordType, Section};

fn labels_ours(name: &netcore_core::dns::Name<'_>) -> Vec<Vec<u8>> {
    name.labels().map(<[u8]>::to_vec).collect()
}

fn labels_hickory(name: &hickory_proto::rr::Name) -> Vec<Vec<u8>> {
    name.iter().map(<[u8]>::to_vec).collect()
}

/// The values both parsers must agree on, as lines of text.
pub fn ours(m: &DnsMessage<'_>) -> Vec<String> {
    let mut lines = vec![format!(
        "id={} qr={} op={} aa={} tc={} rd={} ra={} rcode={}",
        m.id(),
        m.qr(),
        m.opcode().0,
        m.aa(),
        m.tc(),
        m.rd(),
        m.ra(),
        m.rcode().0
    )];
    let mut opt = None;
    for entry in m.entries() {
        match entry {
            Entry::Question(q) => lines.push(format!(
                "Q {:?} {} {}",
                labels_ours(&q.name),
                q.qtype.0,
                q.qclass.0
            )),
            // hickory-proto raises an advertised UDP size below 512 to 512 (RFC 6891 §6.2.3),
            // and keeps the OPT record apart from the other additional records: it is
            // compared last, wherever it was in the message.
            Entry::Record(Section::Additional, r) if r.rtype == RecordType::OPT => {
                opt = Some(format!("OPT {}", r.class.0.max(512)))
            }
            Entry::Record(section, r) => {
                let data = match r.data() {
                    RData::A(a) => std::net::Ipv4Addr::from(a).to_string(),
                    RData::Aaaa(a) => std::net::Ipv6Addr::from(a).to_string(),
                    RData::Cname(n) | RData::Ns(n) | RData::Ptr(n) => {
                        format!("{:?}", labels_ours(&n))
                    }
                    RData::Mx {
                        preference,
                        exchange,
                    } => format!("{preference} {:?}", labels_ours(&exchange)),
                    RData::Soa {
                        mname,
                        rname,
                        serial,
                        refresh,
                        retry,
                        expire,
                        minimum,
                    } => format!(
                        "{:?} {:?} {serial} {refresh} {retry} {expire} {minimum}",
                        labels_ours(&mname),
                        labels_ours(&rname)
                    ),
                    RData::Txt(strings) => format!("{:?}", strings.collect::<Vec<_>>()),
                    RData::Srv {
                        priority,
                        weight,
                        port,
                        target,
                    } => {
                        format!("{priority} {weight} {port} {:?}", labels_ours(&target))
                    }
                    _ => "(not compared)".into(),
                };
                let section = match section {
                    Section::Answer => "AN",
                    Section::Authority => "NS",
                    _ => "AR",
                };
                lines.push(format!(
                    "{section} {:?} {} {} {} {data}",
                    labels_ours(&r.name),
                    r.rtype.0,
                    r.class.0,
                    r.ttl
                ));
            }
        }
    }
    lines.extend(opt);
    lines
}

pub fn hickory(m: &Message) -> Vec<String> {
    let md = &m.metadata;
    let mut lines = vec![format!(
        "id={} qr={} op={} aa={} tc={} rd={} ra={} rcode={}",
        md.id,
        md.message_type as u8,
        u8::from(md.op_code),
        u8::from(md.authoritative),
        u8::from(md.truncation),
        u8::from(md.recursion_desired),
        u8::from(md.recursion_available),
        md.response_code.low()
    )];
    for q in &m.queries {
        lines.push(format!(
            "Q {:?} {} {}",
            labels_hickory(&q.name),
            u16::from(q.query_type),
            u16::from(q.query_class)
        ));
    }
    let sections = [
        ("AN", &m.answers),
        ("NS", &m.authorities),
        ("AR", &m.additionals),
    ];
    for (section, records) in sections {
        for r in records.iter() {
            let data = match &r.data {
                HRData::A(a) => a.0.to_string(),
                HRData::AAAA(a) => a.0.to_string(),
                HRData::CNAME(n) => format!("{:?}", labels_hickory(&n.0)),
                HRData::NS(n) => format!("{:?}", labels_hickory(&n.0)),
                HRData::PTR(n) => format!("{:?}", labels_hickory(&n.0)),
                HRData::MX(mx) => format!("{} {:?}", mx.preference, labels_hickory(&mx.exchange)),
                HRData::SOA(s) => format!(
                    "{:?} {:?} {} {} {} {} {}",
                    labels_hickory(&s.mname),
                    labels_hickory(&s.rname),
                    s.serial,
                    // hickory-proto keeps these three as i32.
                    s.refresh as u32,
                    s.retry as u32,
                    s.expire as u32,
                    s.minimum
                ),
                HRData::TXT(t) => format!(
                    "{:?}",
                    t.txt_data.iter().map(|s| &s[..]).collect::<Vec<_>>()
                ),
                // Ours reads HINFO's two character-strings as TXT's, as gopacket does.
                HRData::HINFO(h) => format!("{:?}", [&h.cpu[..], &h.os[..]]),
                HRData::SRV(s) => format!(
                    "{} {} {} {:?}",
                    s.priority,
                    s.weight,
                    s.port,
                    labels_hickory(&s.target)
                ),
                _ => "(not compared)".into(),
            };
            lines.push(format!(
                "{section} {:?} {} {} {} {data}",
                labels_hickory(&r.name),
                u16::from(r.record_type()),
                u16::from(r.dns_class),
                r.ttl
            ));
        }
    }
    if let Some(edns) = &m.edns {
        lines.push(format!("OPT {}", edns.max_payload()));
    }
    lines
}

/// Why hickory-proto accepted a message that ours rejected, by class (docs/dns.md); a
/// new class fails the test.
pub fn classify(bytes: &[u8], error: netcore_core::dns::DnsError) -> &'static str {
    match error {
        // An OPT record whose last option is cut short inside its RDATA: hickory-proto
        // ignores the partial option; ours rejects it, as gopacket (and so Tracee) does.
        netcore_core::dns::DnsError::BadRdata(RecordType::OPT) => "OPT RDATA ends inside an option",
        // hickory-proto does not decode URI (type 256) and keeps any RDATA; ours needs
        // its 4-byte priority and weight.
        netcore_core::dns::DnsError::BadRdata(RecordType::URI) => "URI RDATA shorter than 4 bytes",
        _ => panic!("hickory-proto accepts, ours rejects with {error:?}: {bytes:02x?}"),
    }
}
