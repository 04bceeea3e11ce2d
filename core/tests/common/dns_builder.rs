//! Builds DNS messages for tests: header, questions and records, names compressed by
//! suffix the way servers compress them.

use std::collections::HashMap;

/// Record data to build.
pub enum Data<'a> {
    /// IPv4 or IPv6 address.
    Ip(std::net::IpAddr),
    /// A single name (CNAME, NS, PTR).
    Name(&'a str),
    /// MX.
    Mx(u16, &'a str),
    /// SOA: mname, rname, then serial, refresh, retry, expire, minimum.
    Soa(&'a str, &'a str, [u32; 5]),
    /// SRV: priority, weight, port, target.
    Srv(u16, u16, u16, &'a str),
    /// TXT strings.
    Txt(Vec<&'a [u8]>),
    /// OPT options (code, data).
    Opt(Vec<(u16, &'a [u8])>),
    /// URI: priority, weight, target.
    Uri(u16, u16, &'a [u8]),
    /// Raw RDATA.
    Raw(&'a [u8]),
}

/// A DNS message being written.
pub struct MessageBuilder {
    /// The bytes so far.
    pub bytes: Vec<u8>,
    names: HashMap<String, u16>,
    compress: bool,
}

impl MessageBuilder {
    /// A message with this header; `flags` is the 16-bit flags word.
    pub fn new(id: u16, flags: u16, counts: [u16; 4], compress: bool) -> Self {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&id.to_be_bytes());
        bytes.extend_from_slice(&flags.to_be_bytes());
        for c in counts {
            bytes.extend_from_slice(&c.to_be_bytes());
        }
        MessageBuilder {
            bytes,
            names: HashMap::new(),
            compress,
        }
    }

    /// A recursive query (RD set) for `name` of `qtype`, class IN.
    pub fn query(id: u16, name: &str, qtype: u16) -> Self {
        let flags = Flags {
            rd: 1,
            ..Flags::default()
        };
        let mut query = MessageBuilder::new(id, flags.word(), [1, 0, 0, 0], true);
        query.question(name, qtype, 1);
        query
    }

    /// Writes a dotted name, reusing an earlier suffix through a pointer.
    pub fn name(&mut self, name: &str) {
        let labels: Vec<&str> = if name.is_empty() {
            vec![]
        } else {
            name.split('.').collect()
        };
        for i in 0..labels.len() {
            let suffix = labels[i..].join(".");
            if self.compress {
                if let Some(&at) = self.names.get(&suffix) {
                    self.bytes.extend_from_slice(&(0xc000 | at).to_be_bytes());
                    return;
                }
                if self.bytes.len() < 0x3fff {
                    self.names.insert(suffix, self.bytes.len() as u16);
                }
            }
            self.bytes.push(labels[i].len() as u8);
            self.bytes.extend_from_slice(labels[i].as_bytes());
        }
        self.bytes.push(0);
    }

    /// Writes a question.
    pub fn question(&mut self, name: &str, qtype: u16, qclass: u16) {
        self.name(name);
        self.bytes.extend_from_slice(&qtype.to_be_bytes());
        self.bytes.extend_from_slice(&qclass.to_be_bytes());
    }

    /// Writes a record.
    pub fn record(&mut self, name: &str, rtype: u16, class: u16, ttl: u32, data: &Data<'_>) {
        self.name(name);
        self.bytes.extend_from_slice(&rtype.to_be_bytes());
        self.bytes.extend_from_slice(&class.to_be_bytes());
        self.bytes.extend_from_slice(&ttl.to_be_bytes());
        let len_at = self.bytes.len();
        self.bytes.extend_from_slice(&[0, 0]);
        match data {
            Data::Ip(std::net::IpAddr::V4(a)) => self.bytes.extend_from_slice(&a.octets()),
            Data::Ip(std::net::IpAddr::V6(a)) => self.bytes.extend_from_slice(&a.octets()),
            Data::Name(n) => self.name(n),
            Data::Mx(pref, n) => {
                self.bytes.extend_from_slice(&pref.to_be_bytes());
                self.name(n);
            }
            Data::Soa(m, r, numbers) => {
                self.name(m);
                self.name(r);
                for n in numbers {
                    self.bytes.extend_from_slice(&n.to_be_bytes());
                }
            }
            Data::Srv(p, w, port, target) => {
                for v in [p, w, port] {
                    self.bytes.extend_from_slice(&v.to_be_bytes());
                }
                self.name(target);
            }
            Data::Txt(strings) => {
                for s in strings {
                    self.bytes.push(s.len() as u8);
                    self.bytes.extend_from_slice(s);
                }
            }
            Data::Opt(options) => {
                for (code, d) in options {
                    self.bytes.extend_from_slice(&code.to_be_bytes());
                    self.bytes
                        .extend_from_slice(&(d.len() as u16).to_be_bytes());
                    self.bytes.extend_from_slice(d);
                }
            }
            Data::Uri(p, w, target) => {
                self.bytes.extend_from_slice(&p.to_be_bytes());
                self.bytes.extend_from_slice(&w.to_be_bytes());
                self.bytes.extend_from_slice(target);
            }
            Data::Raw(r) => self.bytes.extend_from_slice(r),
        }
        let len = (self.bytes.len() - len_at - 2) as u16;
        self.bytes[len_at..len_at + 2].copy_from_slice(&len.to_be_bytes());
    }
}

/// The header flags, field by field.
#[derive(Default, Clone, Copy)]
pub struct Flags {
    /// Response.
    pub qr: u16,
    /// Opcode.
    pub opcode: u16,
    /// Authoritative answer.
    pub aa: u16,
    /// Truncated.
    pub tc: u16,
    /// Recursion desired.
    pub rd: u16,
    /// Recursion available.
    pub ra: u16,
    /// The three Z bits.
    pub z: u16,
    /// Response code.
    pub rcode: u16,
}

impl Flags {
    /// The 16-bit flags word.
    pub fn word(self) -> u16 {
        (self.qr << 15)
            | (self.opcode << 11)
            | (self.aa << 10)
            | (self.tc << 9)
            | (self.rd << 8)
            | (self.ra << 7)
            | (self.z << 4)
            | self.rcode
    }
}

/// An IPv4 packet carrying a UDP datagram with `payload`.
pub fn ipv4_udp(
    src: [u8; 4],
    dst: [u8; 4],
    src_port: u16,
    dst_port: u16,
    payload: &[u8],
) -> Vec<u8> {
    let udp_len = (8 + payload.len()) as u16;
    let mut p = vec![0x45, 0];
    p.extend_from_slice(&(20 + udp_len).to_be_bytes());
    p.extend_from_slice(&[0, 1, 0x40, 0, 64, 17, 0, 0]);
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    p.extend_from_slice(&src_port.to_be_bytes());
    p.extend_from_slice(&dst_port.to_be_bytes());
    p.extend_from_slice(&udp_len.to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(payload);
    p
}
