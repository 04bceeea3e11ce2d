//! The three DNS events: `net_packet_dns` (every field of the message), and the simplified
//! `net_packet_dns_request` / `net_packet_dns_response` with packet metadata.

use alloc::vec::Vec;

use super::{Event, Object, push_ip, push_ipv4, push_ipv6, push_str};
use crate::dns::name::MAX_PRESENTATION_LEN;
use crate::dns::rdata::RData;
use crate::dns::{DnsMessage, Entry, Name, Question, Record, RecordType, Section};
use crate::event::{EventKind, PacketEvents};
use crate::ip;
use crate::packet::{Network, Transport};

/// Writes the arguments of DNS event `kind` of `events`; false if the packet lacks what
/// the event needs (the decision said it has it).
pub(super) fn args(event: &mut Event<'_>, events: &PacketEvents<'_, '_>, kind: EventKind) -> bool {
    let (Some(message), Some(network), Some((src_port, dst_port))) = (
        events.dns,
        events.packet.network,
        events.packet.transport.and_then(|t| t.ports()),
    ) else {
        return false;
    };
    if kind == EventKind::Dns {
        event.addresses(&network);
        event.ports(src_port, dst_port);
        event.packet_metadata(events);
        event.arg(arg_head!("proto_dns", "trace.ProtoDNS"), |o| {
            proto_dns(o, message)
        });
        return true;
    }
    let Some(question) = message.single_question() else {
        return false;
    };
    event.arg(arg_head!("metadata", "trace.PktMeta"), |o| {
        packet_meta(o, events, &network, src_port, dst_port)
    });
    if kind == EventKind::DnsRequest {
        event.arg(arg_head!("dns_questions", "[]trace.DnsQueryData"), |o| {
            o.push(b'[');
            query_data(o, &question);
            o.push(b']');
        });
    } else {
        event.arg(arg_head!("dns_response", "[]trace.DnsResponseData"), |o| {
            response_data(o, message, &question)
        });
    }
    true
}

fn proto_dns(out: &mut Vec<u8>, m: &DnsMessage<'_>) {
    let mut o = Object::open(out);
    o.num("ID", m.id().into());
    o.num("QR", m.qr().into());
    o.str("opCode", m.opcode().name().as_bytes());
    o.num("AA", m.aa().into());
    o.num("TC", m.tc().into());
    o.num("RD", m.rd().into());
    o.num("RA", m.ra().into());
    o.num("Z", m.z().into());
    o.str("responseCode", m.response_code().name().as_bytes());
    o.num("QDCount", m.qd_count().into());
    o.num("ANCount", m.an_count().into());
    o.num("NSCount", m.ns_count().into());
    o.num("ARCount", m.ar_count().into());
    let out = o.into_inner();
    // Sections in wire order; each list is opened when reached, so empty ones print [].
    let names = [
        ",\"questions\":[",
        "],\"answers\":[",
        "],\"authorities\":[",
        "],\"additionals\":[",
    ];
    let mut open = 0;
    let mut first = true;
    let mut reach = |out: &mut Vec<u8>, section: Section, first: &mut bool| {
        while open <= section as usize {
            out.extend_from_slice(names[open].as_bytes());
            open += 1;
            *first = true;
        }
    };
    // A checked message walks without error; should one appear, the lists end there.
    for entry in m.entries() {
        let section = match entry {
            Entry::Question(_) => Section::Question,
            Entry::Record(section, _) => section,
        };
        reach(out, section, &mut first);
        if !first {
            out.push(b',');
        }
        first = false;
        match entry {
            Entry::Question(q) => question(out, &q),
            Entry::Record(_, r) => record(out, &r),
        }
    }
    reach(out, Section::Additional, &mut first);
    out.extend_from_slice(b"]}");
}

fn question(out: &mut Vec<u8>, q: &Question<'_>) {
    let mut o = Object::open(out);
    o.key("name");
    push_name(o.out, &q.name);
    o.str("type", q.qtype.name().as_bytes());
    o.str("class", q.qclass.name().as_bytes());
    o.close();
}

/// A resource record with every key Tracee has, empty when not of the record's type.
fn record(out: &mut Vec<u8>, r: &Record<'_>) {
    let data = r.data();
    let mut o = Object::open(out);
    o.key("name");
    push_name(o.out, &r.name);
    o.str("type", r.rtype.name().as_bytes());
    o.str("class", r.class.name().as_bytes());
    o.num("TTL", r.ttl.into());
    o.key("IP");
    match data {
        RData::A(a) => push_ipv4(o.out, a),
        RData::Aaaa(a) => push_ipv6(o.out, a),
        _ => o.out.extend_from_slice(b"\"\""),
    }
    for (key, wanted) in [("NS", 0), ("CNAME", 1), ("PTR", 2)] {
        o.key(key);
        match (data, wanted) {
            (RData::Ns(n), 0) | (RData::Cname(n), 1) | (RData::Ptr(n), 2) => push_name(o.out, &n),
            _ => o.out.extend_from_slice(b"\"\""),
        }
    }
    o.key("TXTs");
    match data {
        RData::Txt(strings) => {
            o.out.push(b'[');
            for (i, s) in strings.enumerate() {
                if i > 0 {
                    o.out.push(b',');
                }
                push_str(o.out, s);
            }
            o.out.push(b']');
        }
        _ => o.out.extend_from_slice(b"null"),
    }
    o.key("SOA");
    soa(o.out, &data);
    o.key("SRV");
    let mut srv = Object::open(o.out);
    let (priority, weight, port, target) = match data {
        RData::Srv {
            priority,
            weight,
            port,
            target,
        } => (priority, weight, port, Some(target)),
        _ => (0, 0, 0, None),
    };
    srv.num("priority", priority.into());
    srv.num("weight", weight.into());
    srv.num("port", port.into());
    srv.key("name");
    push_optional_name(srv.out, target);
    srv.close();
    o.key("MX");
    let mut mx = Object::open(o.out);
    let (preference, exchange) = match data {
        RData::Mx {
            preference,
            exchange,
        } => (preference, Some(exchange)),
        _ => (0, None),
    };
    mx.num("preference", preference.into());
    mx.key("name");
    push_optional_name(mx.out, exchange);
    mx.close();
    o.key("OPT");
    o.out.push(b'[');
    if let RData::Opt(options) = data {
        for (i, option) in options.enumerate() {
            if i > 0 {
                o.out.push(b',');
            }
            let mut opt = Object::open(o.out);
            opt.str("code", option.code.name().as_bytes());
            opt.str("data", option.data);
            opt.close();
        }
    }
    o.out.push(b']');
    o.key("URI");
    let mut uri = Object::open(o.out);
    let (priority, weight, target) = match data {
        RData::Uri {
            priority,
            weight,
            target,
        } => (priority, weight, target),
        _ => (0, 0, &[][..]),
    };
    uri.num("priority", priority.into());
    uri.num("weight", weight.into());
    uri.str("target", target);
    uri.close();
    // gopacket keeps a TXT (or HINFO) record's whole RDATA, length prefixes included.
    let txt = if matches!(data, RData::Txt(_)) {
        r.raw_data
    } else {
        &[]
    };
    o.str("TXT", txt);
    o.close();
}

fn soa(out: &mut Vec<u8>, data: &RData<'_>) {
    let mut o = Object::open(out);
    let (mname, rname, numbers) = match *data {
        RData::Soa {
            mname,
            rname,
            serial,
            refresh,
            retry,
            expire,
            minimum,
        } => (
            Some(mname),
            Some(rname),
            [serial, refresh, retry, expire, minimum],
        ),
        _ => (None, None, [0; 5]),
    };
    o.key("MName");
    push_optional_name(o.out, mname);
    o.key("RName");
    push_optional_name(o.out, rname);
    for (key, value) in ["serial", "refresh", "retry", "expire", "minimum"]
        .into_iter()
        .zip(numbers)
    {
        o.num(key, value.into());
    }
    o.close();
}

pub(super) fn packet_meta(
    out: &mut Vec<u8>,
    events: &PacketEvents<'_, '_>,
    network: &Network<'_>,
    src_port: u16,
    dst_port: u16,
) {
    // Tracee's `packet_len`: the IPv4 total length, or the IPv6 payload length.
    let protocol = match events.packet.transport {
        Some(Transport::Tcp(_)) => ip::TCP,
        _ => ip::UDP,
    };
    let length = match network {
        Network::Ipv4(v4) => v4.total_len(),
        Network::Ipv6(v6) => v6.payload_len(),
    };
    let mut o = Object::open(out);
    o.key("src_ip");
    push_ip(o.out, network.src());
    o.key("dst_ip");
    push_ip(o.out, network.dst());
    o.num("src_port", src_port.into());
    o.num("dst_port", dst_port.into());
    o.num("protocol", protocol.into());
    o.num("packet_len", length.into());
    o.str("iface", events.interface.as_bytes());
    o.close();
}

fn query_data(out: &mut Vec<u8>, q: &Question<'_>) {
    let mut o = Object::open(out);
    o.key("query");
    push_name(o.out, &q.name);
    o.str("query_type", q.qtype.name().as_bytes());
    o.str("query_class", q.qclass.name().as_bytes());
    o.close();
}

fn response_data(out: &mut Vec<u8>, m: &DnsMessage<'_>, q: &Question<'_>) {
    out.extend_from_slice(b"[{\"query_data\":");
    query_data(out, q);
    out.extend_from_slice(b",\"dns_answer\":[");
    let answers = m.entries().filter_map(|e| match e {
        Entry::Record(Section::Answer, r) => Some(r),
        _ => None,
    });
    for (i, r) in answers.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let mut o = Object::open(out);
        o.str("answer_type", r.rtype.name().as_bytes());
        o.num("ttl", r.ttl.into());
        o.key("answer");
        match r.data() {
            RData::A(a) => push_ipv4(o.out, a),
            RData::Aaaa(a) => push_ipv6(o.out, a),
            RData::Ns(n) | RData::Cname(n) | RData::Ptr(n) | RData::Mx { exchange: n, .. } => {
                push_name(o.out, &n)
            }
            RData::Txt(_) if r.rtype == RecordType::TXT => push_str(o.out, r.raw_data),
            _ => o.out.extend_from_slice(b"\"not implemented\""),
        }
        o.close();
    }
    out.extend_from_slice(b"]}]");
}

/// Writes a name's presentation form as a JSON string.
fn push_name(out: &mut Vec<u8>, name: &Name<'_>) {
    let mut buf = [0; MAX_PRESENTATION_LEN];
    let text = name.presentation(&mut buf);
    debug_assert!(text.is_ok(), "a name of a checked message presents");
    push_str(out, text.unwrap_or_default().as_bytes());
}

fn push_optional_name(out: &mut Vec<u8>, name: Option<Name<'_>>) {
    match name {
        Some(n) => push_name(out, &n),
        None => out.extend_from_slice(b"\"\""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A response to `a.example A IN`: a CNAME to `b.example` (its target compressed
    /// against the question) and b's address.
    const RESPONSE: &[u8] = &[
        0x12, 0x34, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0,
        0, // header: QR RD RA, 1 question, 2 answers
        1, b'a', 7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 0, 0, 1, 0, 1, // a.example A IN
        0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 4, 1, b'b', 0xc0, 14, // CNAME b.example, TTL 60
        0xc0, 28, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 93, 184, 216, 34, // b.example A, TTL 300
    ];

    fn text(out: Vec<u8>) -> alloc::string::String {
        alloc::string::String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn a_response_as_tracees_simplified_event_has_it() {
        let message = DnsMessage::parse(RESPONSE).expect("a message");
        let question = message.single_question().expect("one question");
        let mut out = Vec::new();
        response_data(&mut out, &message, &question);
        assert_eq!(
            text(out),
            r#"[{"query_data":{"query":"a.example","query_type":"A","query_class":"IN"},"dns_answer":[{"answer_type":"CNAME","ttl":60,"answer":"b.example"},{"answer_type":"A","ttl":300,"answer":"93.184.216.34"}]}]"#
        );
    }

    #[test]
    fn a_record_carries_every_key_tracee_has() {
        let message = DnsMessage::parse(RESPONSE).expect("a message");
        let cname = message
            .entries()
            .find_map(|e| match e {
                Entry::Record(Section::Answer, r) => Some(r),
                _ => None,
            })
            .expect("an answer");
        let mut out = Vec::new();
        record(&mut out, &cname);
        assert_eq!(
            text(out),
            concat!(
                r#"{"name":"a.example","type":"CNAME","class":"IN","TTL":60,"IP":"","NS":"","#,
                r#""CNAME":"b.example","PTR":"","TXTs":null,"#,
                r#""SOA":{"MName":"","RName":"","serial":0,"refresh":0,"retry":0,"expire":0,"minimum":0},"#,
                r#""SRV":{"priority":0,"weight":0,"port":0,"name":""},"MX":{"preference":0,"name":""},"#,
                r#""OPT":[],"URI":{"priority":0,"weight":0,"target":""},"TXT":""}"#
            )
        );
    }

    #[test]
    fn the_whole_message_with_its_header() {
        let message = DnsMessage::parse(RESPONSE).expect("a message");
        let mut out = Vec::new();
        proto_dns(&mut out, &message);
        let out = text(out);
        assert!(
            out.starts_with(concat!(
                r#"{"ID":4660,"QR":1,"opCode":"query","AA":0,"TC":0,"RD":1,"RA":1,"Z":0,"#,
                r#""responseCode":"no error","QDCount":1,"ANCount":2,"NSCount":0,"ARCount":0,"#,
                r#""questions":[{"name":"a.example","type":"A","class":"IN"}],"answers":[{"#
            )),
            "{out}"
        );
        assert!(
            out.ends_with(r#""TXT":""}],"authorities":[],"additionals":[]}"#),
            "{out}"
        );
    }
}
