//! HTTP/1.x messages at the start of a TCP payload, zero-copy: the request or status line
//! and the header block, read as Go's `net/http` reads them (Tracee parses with
//! `http.ReadRequest`/`http.ReadResponse`), so that the values are Tracee's. Like Tracee,
//! a message counts only when its whole header block (up to the blank line) is in the
//! segment; the body is never read.

/// An HTTP/1.x request or response head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message<'a> {
    /// A request.
    Request(Request<'a>),
    /// A response.
    Response(Response<'a>),
}

/// A request head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    /// `GET`, `POST`, ….
    pub method: &'a [u8],
    /// The request target as sent (`/a%20b?q=1`, `http://host/path`, `*`).
    pub target: &'a [u8],
    /// `HTTP/1.1` or `HTTP/1.0`.
    pub protocol: &'a [u8],
    /// The header lines.
    pub headers: Headers<'a>,
}

/// A response head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response<'a> {
    /// `HTTP/1.1` or `HTTP/1.0`.
    pub protocol: &'a [u8],
    /// The status: code and reason phrase (`200 OK`).
    pub status: &'a [u8],
    /// The status code.
    pub status_code: u16,
    /// The header lines.
    pub headers: Headers<'a>,
}

/// A header block: `Name: value` lines, each ending in CRLF (or LF).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Headers<'a>(&'a [u8]);

impl<'a> Headers<'a> {
    /// Each header's name and value (trimmed), in order.
    pub fn iter(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + 'a {
        self.0
            .split(|&b| b == b'\n')
            .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
            .filter_map(|line| {
                let colon = line.iter().position(|&b| b == b':')?;
                Some((&line[..colon], line[colon + 1..].trim_ascii()))
            })
    }

    /// The first value of header `name` (any case).
    pub fn get(&self, name: &str) -> Option<&'a [u8]> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v)
    }

    /// The body's length as Go reports it (`ContentLength`): `-1` when chunked or, for
    /// a response that may have a body, when no `Content-Length` says; `None` when the
    /// `Content-Length` is not a number (Go rejects the message).
    fn content_length(&self, unknown: i64) -> Option<i64> {
        let chunked = self
            .get("Transfer-Encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case(b"chunked"));
        if chunked {
            return Some(-1);
        }
        match self.get("Content-Length") {
            Some(v) => core::str::from_utf8(v)
                .ok()?
                .parse::<u64>()
                .ok()
                .map(|n| n as i64),
            None => Some(unknown),
        }
    }
}

impl Request<'_> {
    /// Whether the target is a CONNECT's authority (`host:port`), which Go reads as
    /// `http://` + the target: its host, and no path.
    fn is_authority(&self) -> bool {
        self.method == b"CONNECT" && !self.target.starts_with(b"/")
    }

    /// Go's `Request.Host`: the absolute target's host (a CONNECT's authority), else the
    /// `Host` header.
    pub fn host(&self) -> &[u8] {
        let absolute = match self.is_authority() {
            true => Some(self.target),
            false => strip_scheme(self.target),
        };
        if let Some(rest) = absolute {
            let end = rest
                .iter()
                .position(|&b| b == b'/' || b == b'?')
                .unwrap_or(rest.len());
            return &rest[..end];
        }
        self.headers.get("Host").unwrap_or_default()
    }

    /// The target's path, still percent-encoded (`/a%20b` of `http://h/a%20b?q`; none for
    /// a CONNECT's authority).
    pub fn raw_path(&self) -> &[u8] {
        if self.is_authority() {
            return b"";
        }
        let target = match strip_scheme(self.target) {
            Some(rest) => &rest[rest.iter().position(|&b| b == b'/').unwrap_or(rest.len())..],
            None => self.target,
        };
        let end = target
            .iter()
            .position(|&b| b == b'?' || b == b'#')
            .unwrap_or(target.len());
        &target[..end]
    }

    /// Go's `Request.ContentLength`: 0 without a body, -1 when chunked.
    pub fn content_length(&self) -> Option<i64> {
        self.headers.content_length(0)
    }
}

impl Response<'_> {
    /// Go's `Response.ContentLength`: -1 when unknown (read until close) or chunked.
    pub fn content_length(&self) -> Option<i64> {
        let bodiless = self.status_code < 200 || self.status_code == 204 || self.status_code == 304;
        match self.headers.content_length(-1)? {
            _ if bodiless => Some(0),
            n => Some(n),
        }
    }
}

/// `http://` or `https://` cut off `target`.
fn strip_scheme(target: &[u8]) -> Option<&[u8]> {
    let lower = |b: &u8| b.to_ascii_lowercase();
    let scheme_end = target.windows(3).position(|w| w == b"://")?;
    let scheme: &[u8] = &target[..scheme_end];
    (scheme.iter().map(lower).eq(b"http".iter().copied())
        || scheme.iter().map(lower).eq(b"https".iter().copied()))
    .then(|| &target[scheme_end + 3..])
}

/// Methods a request may start with (Go accepts any token; a packet is only tried when
/// it starts with one of these, as Tracee's kernel side decides).
const METHODS: [&[u8]; 9] = [
    b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"CONNECT", b"OPTIONS", b"TRACE", b"PATCH",
];

/// The HTTP/1.x message head at the start of `payload`, if it holds a whole one.
pub fn parse(payload: &[u8]) -> Option<Message<'_>> {
    let head_end = payload.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = &payload[..head_end + 2];
    let line_end = head.iter().position(|&b| b == b'\n')?;
    let line = head[..line_end]
        .strip_suffix(b"\r")
        .unwrap_or(&head[..line_end]);
    let headers = Headers(&head[line_end + 1..]);
    if line.starts_with(b"HTTP/") {
        let space = line.iter().position(|&b| b == b' ')?;
        let (protocol, rest) = (&line[..space], &line[space + 1..]);
        let status = rest.trim_ascii_start();
        let code = status.get(..3)?;
        if !(protocol == b"HTTP/1.1" || protocol == b"HTTP/1.0")
            || !code.iter().all(u8::is_ascii_digit)
            || status.get(3).is_some_and(|&b| b != b' ')
        {
            return None;
        }
        let status_code = code.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
        return Some(Message::Response(Response {
            protocol,
            status,
            status_code,
            headers,
        }));
    }
    request(line, headers).map(Message::Request)
}

/// The request whose line starts `payload`, with the header lines that follow it in
/// `payload` (up to the blank line, or all of them when the head is cut off by the
/// segment's end): what a flow reads its `Host` from, where the HTTP events need the whole
/// head ([`parse`]).
pub fn request_start(payload: &[u8]) -> Option<Request<'_>> {
    let line_end = payload.windows(2).position(|w| w == b"\r\n")?;
    let rest = &payload[line_end + 2..];
    let header_lines = match rest.windows(4).position(|w| w == b"\r\n\r\n") {
        _ if rest.starts_with(b"\r\n") => &rest[..0],
        Some(at) => &rest[..at + 2],
        None => rest,
    };
    request(&payload[..line_end], Headers(header_lines))
}

/// A request with this request line (no line end) and `headers`, if the line is one.
fn request<'a>(line: &'a [u8], headers: Headers<'a>) -> Option<Request<'a>> {
    let mut parts = line.splitn(3, |&b| b == b' ');
    let (method, target, protocol) = (parts.next()?, parts.next()?, parts.next()?);
    let valid_version = protocol == b"HTTP/1.1" || protocol == b"HTTP/1.0";
    if !METHODS.contains(&method) || target.is_empty() || !valid_version {
        return None;
    }
    Some(Request {
        method,
        target,
        protocol,
        headers,
    })
}

/// `raw` with its `%XX` escapes decoded into `out` (cleared first), as Go's `url.URL.Path`
/// holds it; an invalid escape is kept as it is.
#[cfg(feature = "alloc")]
pub fn decode_path(raw: &[u8], out: &mut alloc::vec::Vec<u8>) {
    out.clear();
    let hex = |b: u8| (b as char).to_digit(16);
    let mut i = 0;
    while i < raw.len() {
        let escaped = (raw[i] == b'%')
            .then(|| Some(hex(*raw.get(i + 1)?)? * 16 + hex(*raw.get(i + 2)?)?))
            .flatten();
        match escaped {
            Some(byte) => {
                out.push(byte as u8);
                i += 3;
            }
            None => {
                out.push(raw[i]);
                i += 1;
            }
        }
    }
}

/// Go's `textproto.CanonicalMIMEHeaderKey` of one byte of a header name: upper case at
/// the start and after `-`, lower case elsewhere.
pub fn canonical_byte(previous: Option<u8>, byte: u8) -> u8 {
    match previous {
        None | Some(b'-') => byte.to_ascii_uppercase(),
        _ => byte.to_ascii_lowercase(),
    }
}

/// Whether `name` is a token Go canonicalizes (letters, digits, `-`; Go leaves names with
/// other bytes as they are).
pub fn is_canonicalizable(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn a_request() {
        let payload = b"POST http://api.example.test/v1/a%20b?x=1 HTTP/1.1\r\nhost: ignored\r\n\
                        content-type: application/json\r\nContent-Length: 12\r\n\r\n{\"a\":true}";
        let Some(Message::Request(r)) = parse(payload) else {
            panic!("not a request");
        };
        assert_eq!((r.method, r.protocol), (&b"POST"[..], &b"HTTP/1.1"[..]));
        assert_eq!(r.host(), b"api.example.test");
        assert_eq!(r.raw_path(), b"/v1/a%20b");
        assert_eq!(r.content_length(), Some(12));
        let names: Vec<&[u8]> = r.headers.iter().map(|(n, _)| n).collect();
        assert_eq!(names, [&b"host"[..], b"content-type", b"Content-Length"]);
        let origin = parse(b"GET /index.html?q HTTP/1.0\r\nHost: h:8080\r\n\r\n").unwrap();
        let Message::Request(r) = origin else {
            panic!()
        };
        assert_eq!(
            (r.host(), r.raw_path()),
            (&b"h:8080"[..], &b"/index.html"[..])
        );
        assert_eq!(r.content_length(), Some(0));
    }

    #[test]
    fn a_connect_target_is_its_host_as_go_reads_it() {
        // Go's ReadRequest reads a CONNECT's authority as `http://` + it: URL.Host
        // `abc:443`, an empty path, the Host header ignored.
        let Some(Message::Request(r)) = parse(b"CONNECT abc:443 HTTP/1.1\r\nHost: x\r\n\r\n")
        else {
            panic!("not a request");
        };
        assert_eq!((r.host(), r.raw_path()), (&b"abc:443"[..], &b""[..]));
        // A CONNECT with a path-shaped target is an ordinary one.
        let Some(Message::Request(r)) = parse(b"CONNECT /tunnel HTTP/1.1\r\nHost: h\r\n\r\n")
        else {
            panic!("not a request");
        };
        assert_eq!((r.host(), r.raw_path()), (&b"h"[..], &b"/tunnel"[..]));
    }

    #[test]
    fn the_start_of_a_request_gives_its_host() {
        let host = |payload: &[u8]| request_start(payload).map(|r| r.host().to_vec());
        let request = b"GET /index.html HTTP/1.1\r\nUser-Agent: x\r\nhOsT:  example.com \r\n\r\n";
        assert_eq!(host(request), Some(b"example.com".to_vec()));
        // Cut off by the segment's end: the header lines that came still count.
        assert_eq!(
            host(b"GET / HTTP/1.1\r\nHost: a.test\r\nCookie: xx"),
            Some(b"a.test".to_vec())
        );
        assert_eq!(host(b"HTTP/1.1 200 OK\r\nHost: x\r\n\r\n"), None);
        let late = b"GET / HTTP/1.1\r\nAccept: */*\r\n\r\nHost: late\r\n";
        assert_eq!(host(late), Some(Vec::new()), "the body is not the head");
        assert_eq!(
            host(b"GET / HTTP/1.1\r\n\r\nHost: late\r\n"),
            Some(Vec::new())
        );
        assert_eq!(host(b"GET / HTTP/1.1"), None);
    }

    #[test]
    fn a_response() {
        let Some(Message::Response(r)) =
            parse(b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n")
        else {
            panic!("not a response");
        };
        assert_eq!((r.status, r.status_code), (&b"404 Not Found"[..], 404));
        assert_eq!(r.content_length(), Some(-1));
        let Some(Message::Response(r)) = parse(b"HTTP/1.0 204 No Content\r\n\r\n") else {
            panic!()
        };
        assert_eq!(r.content_length(), Some(0));
        let Some(Message::Response(r)) = parse(b"HTTP/1.1 200 OK\r\nServer: x\r\n\r\n") else {
            panic!()
        };
        assert_eq!(r.content_length(), Some(-1), "read until close");
    }

    #[test]
    fn not_messages() {
        for payload in [
            &b"GET / HTTP/1.1\r\nHost: cut off"[..],
            b"HELLO / HTTP/1.1\r\n\r\n",
            b"GET / HTTP/2.0\r\n\r\n",
            b"HTTP/1.1 2x0 OK\r\n\r\n",
            b"HTTP/1.1 2000\r\n\r\n",
            b"\x16\x03\x01\x00",
            b"",
        ] {
            assert_eq!(parse(payload), None, "{payload:?}");
        }
        let bad_length = parse(b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n").unwrap();
        let Message::Request(r) = bad_length else {
            panic!()
        };
        assert_eq!(r.content_length(), None);
    }

    #[test]
    fn canonical_names() {
        let canonical = |name: &[u8]| -> Vec<u8> {
            let mut previous = None;
            name.iter()
                .map(|&b| {
                    let c = canonical_byte(previous, b);
                    previous = Some(b);
                    c
                })
                .collect()
        };
        assert_eq!(canonical(b"content-TYPE"), b"Content-Type");
        assert_eq!(canonical(b"x-forwarded-for"), b"X-Forwarded-For");
        assert!(is_canonicalizable(b"X-Request-Id") && !is_canonicalizable(b"bad name"));
    }
}
