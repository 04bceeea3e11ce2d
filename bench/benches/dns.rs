//! DNS decoding of typical responses and of a large one (48 PTR answers): netcore (check the
//! message, then walk every record and read every RDATA field; names as views, like
//! hickory-proto's `Name`) against NLnet Labs' `domain` (the same walk over its lazy
//! message: every record's RDATA parsed, names as views), hickory-proto's and
//! dns-parser's message decoding, in the same run. Also netcore with
//! every name rendered to text, and netcore's full Tracee JSON of the same messages.
//! `bench/report.py` turns the medians into ns/message and ratios.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use netcore_core::dns::name::MAX_PRESENTATION_LEN;
use netcore_core::dns::{DnsMessage, Entry, Name, RData};
use netcore_core::json::{Encoder, TRACEE_0_22};
use netcore_core::{Direction, EventContext, EventSet, LinkType, PacketEvents, decode};

/// Reads a name: as text when rendering, else only where it starts (a view, like
/// hickory-proto's decoded `Name`).
fn name_len<const RENDER: bool>(name: &Name<'_>, buf: &mut [u8; MAX_PRESENTATION_LEN]) -> usize {
    if RENDER {
        name.presentation(buf).map_or(0, str::len)
    } else {
        black_box(name) as *const _ as usize & 1
    }
}

/// Everything a consumer reads: header, each name, each RDATA value.
fn netcore<const RENDER: bool>(messages: &[Vec<u8>]) -> usize {
    let mut buf = [0; MAX_PRESENTATION_LEN];
    let mut total = 0;
    for bytes in messages {
        let Ok(m) = DnsMessage::parse(bytes) else {
            continue;
        };
        total += usize::from(m.id());
        for entry in m.entries() {
            total += match entry {
                Entry::Question(q) => {
                    name_len::<RENDER>(&q.name, &mut buf) + usize::from(q.qtype.0)
                }
                Entry::Record(_, r) => {
                    name_len::<RENDER>(&r.name, &mut buf)
                        + r.ttl as usize
                        + match r.data() {
                            RData::A(a) => usize::from(a[3]),
                            RData::Aaaa(a) => usize::from(a[15]),
                            RData::Cname(n) | RData::Ns(n) | RData::Ptr(n) => {
                                name_len::<RENDER>(&n, &mut buf)
                            }
                            RData::Mx {
                                preference,
                                exchange,
                            } => usize::from(preference) + name_len::<RENDER>(&exchange, &mut buf),
                            RData::Srv { port, target, .. } => {
                                usize::from(port) + name_len::<RENDER>(&target, &mut buf)
                            }
                            RData::Soa {
                                mname,
                                rname,
                                serial,
                                ..
                            } => {
                                name_len::<RENDER>(&mname, &mut buf)
                                    + name_len::<RENDER>(&rname, &mut buf)
                                    + serial as usize
                            }
                            RData::Txt(strings) => strings.map(<[u8]>::len).sum(),
                            RData::Opt(options) => options.count(),
                            RData::Uri { target, .. } | RData::Other(target) => target.len(),
                        }
                }
            };
        }
    }
    total
}

/// `domain` 0.12: every question, then every record of every section with its RDATA
/// parsed (`AllRecordData`, names as `ParsedName` views), reading what `netcore` reads.
fn domain(messages: &[Vec<u8>]) -> usize {
    domain_walk(messages).0
}

/// What [`domain`] reads, and how many records it parsed.
fn domain_walk(messages: &[Vec<u8>]) -> (usize, usize) {
    use domain::base::iana::Rtype;
    use domain::base::name::ParsedName;
    use domain::base::{Message, ParsedRecord, RecordData};
    use domain::rdata::AllRecordData;
    type Data<'a> = AllRecordData<&'a [u8], ParsedName<&'a [u8]>>;
    let (mut total, mut records) = (0, 0);
    for bytes in messages {
        let Ok(m) = Message::from_octets(bytes.as_slice()) else {
            continue;
        };
        total += usize::from(m.header().id());
        let mut questions = m.question();
        for q in &mut questions {
            let Ok(q) = q else { break };
            total +=
                usize::from(q.qtype().to_int()) + (black_box(q.qname()) as *const _ as usize & 1);
        }
        let Ok(mut section) = questions.answer() else {
            continue;
        };
        loop {
            for record in section {
                let Ok(record): Result<ParsedRecord<'_, &[u8]>, _> = record else {
                    break;
                };
                let Ok(record) = record.into_any_record::<Data<'_>>() else {
                    continue;
                };
                records += 1;
                total += black_box(record.owner()) as *const _ as usize & 1;
                total += record.ttl().as_secs() as usize;
                total += match record.data() {
                    AllRecordData::A(a) => usize::from(a.addr().octets()[3]),
                    AllRecordData::Aaaa(a) => usize::from(a.addr().octets()[15]),
                    AllRecordData::Cname(_) | AllRecordData::Ns(_) | AllRecordData::Ptr(_) => 1,
                    AllRecordData::Mx(mx) => usize::from(mx.preference()),
                    AllRecordData::Srv(srv) => usize::from(srv.port()),
                    AllRecordData::Soa(soa) => soa.serial().into_int() as usize,
                    AllRecordData::Txt(txt) => txt.iter().map(<[u8]>::len).sum(),
                    AllRecordData::Opt(opt) => {
                        opt.iter::<domain::base::opt::AllOptData<_, _>>().count()
                    }
                    other => usize::from(other.rtype() == Rtype::NULL),
                };
            }
            match section.next_section() {
                Ok(Some(next)) => section = next,
                _ => break,
            }
        }
    }
    (total, records)
}

fn hickory(messages: &[Vec<u8>]) -> usize {
    messages
        .iter()
        .filter_map(|m| hickory_proto::op::Message::from_vec(m).ok())
        .map(|m| m.answers.len() + m.additionals.len())
        .sum()
}

fn dns_parser(messages: &[Vec<u8>]) -> usize {
    messages
        .iter()
        .filter_map(|m| dns_parser::Packet::parse(m).ok())
        .map(|p| p.answers.len())
        .sum()
}

fn benches(c: &mut Criterion) {
    let mixes = [
        ("typical", netcore_bench::dns_typical_responses()),
        ("ptr48", netcore_bench::dns_large_response()),
    ];
    for (name, messages) in &mixes {
        for m in messages {
            assert!(
                DnsMessage::parse(m).is_ok(),
                "every message of the mix decodes"
            );
            assert!(
                hickory_proto::op::Message::from_vec(m).is_ok(),
                "and hickory-proto decodes it too"
            );
            let records = DnsMessage::parse(m)
                .unwrap()
                .entries()
                .filter(|e| matches!(e, Entry::Record(..)))
                .count();
            assert_eq!(
                domain_walk(std::slice::from_ref(m)).1,
                records,
                "domain parses every record's RDATA too"
            );
        }
        let mut group = c.benchmark_group(format!("dns_decode_{name}"));
        group.throughput(Throughput::Elements(messages.len() as u64));
        group.bench_function("netcore", |b| {
            b.iter(|| netcore::<false>(black_box(messages)))
        });
        group.bench_function("netcore+names", |b| {
            b.iter(|| netcore::<true>(black_box(messages)))
        });
        group.bench_function("domain", |b| b.iter(|| domain(black_box(messages))));
        group.bench_function("hickory-proto", |b| b.iter(|| hickory(black_box(messages))));
        group.bench_function("dns-parser", |b| b.iter(|| dns_parser(black_box(messages))));
        group.finish();

        // The same messages as UDP packets from port 53, encoded as Tracee JSON
        // (net_packet_dns, _dns_request and _dns_response; no IP/UDP events).
        let packets: Vec<Vec<u8>> = messages.iter().map(|m| udp_from_port_53(m)).collect();
        let selected = EventSet::NONE
            .with(netcore_core::EventKind::Dns)
            .with(netcore_core::EventKind::DnsRequest)
            .with(netcore_core::EventKind::DnsResponse);
        let ctx = EventContext {
            timestamp: 1_795_916_539_225_760_979,
            host_name: "bench-host",
            ..Default::default()
        };
        let mut out = Vec::with_capacity(1 << 20);
        let mut encoder = Encoder::new(&TRACEE_0_22);
        let mut group = c.benchmark_group(format!("dns_decode_encode_{name}"));
        group.throughput(Throughput::Elements(messages.len() as u64));
        group.bench_function("netcore", |b| {
            b.iter(|| {
                out.clear();
                for p in black_box(&packets) {
                    let d = decode(LinkType::Ipv4, p);
                    PacketEvents::decide(&ctx, &d, Direction::Ingress, selected, |events| {
                        encoder.encode(events, &mut out)
                    });
                }
                out.len()
            })
        });
        group.finish();
    }
}

fn udp_from_port_53(message: &[u8]) -> Vec<u8> {
    let udp_len = (8 + message.len()) as u16;
    let mut p = vec![0x45, 0];
    p.extend_from_slice(&(20 + udp_len).to_be_bytes());
    p.extend_from_slice(&[
        0, 1, 0x40, 0, 64, 17, 0, 0, 10, 99, 0, 1, 10, 99, 0, 2, 0, 53, 0x9c, 0x40,
    ]);
    p.extend_from_slice(&udp_len.to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(message);
    p
}

criterion_group!(dns_benches, benches);
criterion_main!(dns_benches);
