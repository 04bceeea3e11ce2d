//! The TLS ClientHello, as far as a flow record needs it: the server name (SNI) and the
//! application protocols offered (ALPN). Zero-copy and best-effort: a ClientHello is read
//! from one segment's payload, and a ClientHello longer than the segment (post-quantum key
//! shares make them ~1.8 KB) gives what its first bytes hold.

/// A TLS ClientHello's SNI and ALPN, borrowed from the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClientHello<'a> {
    /// The `server_name` extension's host name, if present.
    pub server_name: Option<&'a [u8]>,
    /// The `application_layer_protocol_negotiation` extension's protocol name list
    /// (length-prefixed names), empty when absent; read it with [`ClientHello::alpn`].
    alpn_list: &'a [u8],
}

impl<'a> ClientHello<'a> {
    /// The protocols the client offers, in its order (`h2`, `http/1.1`, …).
    pub fn alpn(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let mut rest = self.alpn_list;
        core::iter::from_fn(move || {
            let (&len, tail) = rest.split_first()?;
            let (name, tail) = tail.split_at_checked(usize::from(len))?;
            rest = tail;
            Some(name)
        })
    }
}

/// Reads `n` bytes off the front of `bytes`.
fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    let (head, tail) = bytes.split_at_checked(n)?;
    *bytes = tail;
    Some(head)
}

fn u8_at(bytes: &mut &[u8]) -> Option<usize> {
    take(bytes, 1).map(|b| usize::from(b[0]))
}

fn u16_at(bytes: &mut &[u8]) -> Option<usize> {
    take(bytes, 2).map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
}

/// The ClientHello at the start of a TCP payload, if it begins with one (a TLS handshake
/// record holding a ClientHello). Extensions cut off by the end of `payload` are left out.
pub fn client_hello(payload: &[u8]) -> Option<ClientHello<'_>> {
    let mut p = payload;
    // Record header: handshake (22), version 3.x, length.
    let record = take(&mut p, 5)?;
    if record[0] != 22 || record[1] != 3 {
        return None;
    }
    // Handshake header: ClientHello (1), 24-bit length.
    let handshake = take(&mut p, 4)?;
    if handshake[0] != 1 {
        return None;
    }
    take(&mut p, 2 + 32)?; // client_version, random
    let session_id = u8_at(&mut p)?;
    take(&mut p, session_id)?;
    let suites = u16_at(&mut p)?;
    take(&mut p, suites)?;
    let compression = u8_at(&mut p)?;
    take(&mut p, compression)?;
    let mut hello = ClientHello::default();
    let declared = u16_at(&mut p).unwrap_or(0);
    let mut extensions = &p[..declared.min(p.len())];
    while let (Some(kind), Some(len)) = (u16_at(&mut extensions), u16_at(&mut extensions)) {
        let Some(mut data) = take(&mut extensions, len) else {
            break; // Cut off by the segment's end.
        };
        match kind {
            0 => {
                // server_name_list: (type, length-prefixed name)*; type 0 is host_name.
                let mut list = u16_at(&mut data).and_then(|n| take(&mut data, n));
                while let Some(entries) = list.as_mut() {
                    let (Some(name_type), Some(n)) = (u8_at(entries), u16_at(entries)) else {
                        break;
                    };
                    let Some(name) = take(entries, n) else {
                        break;
                    };
                    if name_type == 0 {
                        hello.server_name = Some(name);
                        break;
                    }
                }
            }
            16 => {
                if let Some(list) = u16_at(&mut data).and_then(|n| take(&mut data, n)) {
                    hello.alpn_list = list;
                }
            }
            _ => {}
        }
    }
    Some(hello)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    /// A ClientHello with `extensions` (type, data) after a 2-suite, no-session header.
    fn hello(extensions: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut ext = Vec::new();
        for (kind, data) in extensions {
            ext.extend_from_slice(&kind.to_be_bytes());
            ext.extend_from_slice(&(data.len() as u16).to_be_bytes());
            ext.extend_from_slice(data);
        }
        let mut body = vec![3, 3];
        body.extend_from_slice(&[7; 32]);
        body.extend_from_slice(&[0, 0, 4, 0x13, 1, 0x13, 2, 1, 0]);
        body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        body.extend_from_slice(&ext);
        let mut handshake = vec![1, 0, (body.len() >> 8) as u8, body.len() as u8];
        handshake.extend_from_slice(&body);
        let mut record = vec![
            22,
            3,
            1,
            (handshake.len() >> 8) as u8,
            handshake.len() as u8,
        ];
        record.extend_from_slice(&handshake);
        record
    }

    fn sni(name: &[u8]) -> (u16, Vec<u8>) {
        let mut entry = vec![0, (name.len() >> 8) as u8, name.len() as u8];
        entry.extend_from_slice(name);
        let mut data = (entry.len() as u16).to_be_bytes().to_vec();
        data.extend_from_slice(&entry);
        (0, data)
    }

    fn alpn(names: &[&[u8]]) -> (u16, Vec<u8>) {
        let mut list = Vec::new();
        for name in names {
            list.push(name.len() as u8);
            list.extend_from_slice(name);
        }
        let mut data = (list.len() as u16).to_be_bytes().to_vec();
        data.extend_from_slice(&list);
        (16, data)
    }

    #[test]
    fn server_name_and_protocols() {
        let bytes = hello(&[
            (11, vec![1, 0]),
            sni(b"www.example.com"),
            alpn(&[b"h2", b"http/1.1"]),
        ]);
        let parsed = client_hello(&bytes).unwrap();
        assert_eq!(parsed.server_name, Some(&b"www.example.com"[..]));
        assert_eq!(parsed.alpn().collect::<Vec<_>>(), [&b"h2"[..], b"http/1.1"]);
    }

    #[test]
    fn a_cut_off_hello_keeps_what_came_before_the_cut() {
        let bytes = hello(&[sni(b"api.example.net"), (51, vec![0; 1200]), alpn(&[b"h2"])]);
        let cut = &bytes[..bytes.len() - 600];
        let parsed = client_hello(cut).unwrap();
        assert_eq!(parsed.server_name, Some(&b"api.example.net"[..]));
        assert_eq!(parsed.alpn().count(), 0);
        // Any prefix parses without panicking.
        for n in 0..bytes.len() {
            let _ = client_hello(&bytes[..n]);
        }
    }

    #[test]
    fn not_a_client_hello() {
        assert_eq!(client_hello(b"GET / HTTP/1.1\r\n"), None);
        let mut server_hello = hello(&[]);
        server_hello[5] = 2;
        assert_eq!(client_hello(&server_hello), None);
    }
}
