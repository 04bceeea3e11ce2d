//! The three HTTP events as Tracee writes them: `net_packet_http` (`trace.ProtoHTTP`,
//! request or response), `net_packet_http_request` and `net_packet_http_response` (with
//! `trace.PktMeta`). Values as Go's `net/http` reads them: header names canonical
//! (`Content-Type`), one list of values per name, names sorted (a Go map), a request's
//! `Host` header in `host` and not among the headers, the path percent-decoded.

use alloc::vec::Vec;
use core::cmp::Ordering;

use super::{Event, Object, dns::packet_meta, push_str};
use crate::event::{EventKind, PacketEvents};
use crate::http::{self, Headers, Message};

/// Writes the arguments of HTTP event `kind` of `events`; false if the packet lacks what
/// the event needs. `scratch` holds the decoded path.
pub(super) fn args(
    event: &mut Event<'_>,
    events: &PacketEvents<'_, '_>,
    kind: EventKind,
    scratch: &mut Vec<u8>,
) -> bool {
    let (Some(message), Some(network), Some((src_port, dst_port))) = (
        events.http,
        events.packet.network,
        events.packet.transport.and_then(|t| t.ports()),
    ) else {
        return false;
    };
    match (kind, &message) {
        (EventKind::Http, _) => {
            event.addresses(&network);
            event.ports(src_port, dst_port);
            event.arg(arg_head!("metadata", "trace.PacketMetadata"), |o| {
                let mut m = Object::open(o);
                m.num("direction", events.direction as u64);
                m.close();
            });
            event.arg(arg_head!("proto_http", "trace.ProtoHTTP"), |o| {
                proto_http(o, &message, scratch)
            });
        }
        (EventKind::HttpRequest, Message::Request(request)) => {
            event.arg(arg_head!("metadata", "trace.PktMeta"), |o| {
                packet_meta(o, events, &network, src_port, dst_port)
            });
            event.arg(arg_head!("http_request", "trace.ProtoHTTPRequest"), |o| {
                let mut r = Object::open(o);
                request_fields(&mut r, request, scratch);
                r.close();
            });
        }
        (EventKind::HttpResponse, Message::Response(response)) => {
            event.arg(arg_head!("metadata", "trace.PktMeta"), |o| {
                packet_meta(o, events, &network, src_port, dst_port)
            });
            event.arg(arg_head!("http_response", "trace.ProtoHTTPResponse"), |o| {
                let mut r = Object::open(o);
                r.str("status", response.status);
                r.num_signed("status_code", response.status_code.into());
                r.str("protocol", response.protocol);
                r.key("headers");
                headers(r.out, &response.headers, None);
                r.num_signed("content_length", response.content_length().unwrap_or(-1));
                r.close();
            });
        }
        _ => return false,
    }
    true
}

/// `trace.ProtoHTTP`: every field, the other direction's empty.
fn proto_http(out: &mut Vec<u8>, message: &Message<'_>, scratch: &mut Vec<u8>) {
    let mut o = Object::open(out);
    match message {
        Message::Request(r) => {
            o.str("direction", b"request");
            o.str("method", r.method);
            o.str("protocol", r.protocol);
            o.str("host", r.host());
            http::decode_path(r.raw_path(), scratch);
            o.str("uri_path", scratch);
            o.str("status", b"");
            o.num_signed("status_code", 0);
            o.key("headers");
            headers(o.out, &r.headers, Some("Host"));
            o.num_signed("content_length", r.content_length().unwrap_or(-1));
        }
        Message::Response(r) => {
            o.str("direction", b"response");
            o.str("method", b"");
            o.str("protocol", r.protocol);
            o.str("host", b"");
            o.str("uri_path", b"");
            o.str("status", r.status);
            o.num_signed("status_code", r.status_code.into());
            o.key("headers");
            headers(o.out, &r.headers, None);
            o.num_signed("content_length", r.content_length().unwrap_or(-1));
        }
    }
    o.close();
}

/// `trace.ProtoHTTPRequest`'s fields.
fn request_fields(o: &mut Object<'_>, r: &http::Request<'_>, scratch: &mut Vec<u8>) {
    o.str("method", r.method);
    o.str("protocol", r.protocol);
    o.str("host", r.host());
    http::decode_path(r.raw_path(), scratch);
    o.str("uri_path", scratch);
    o.key("headers");
    headers(o.out, &r.headers, Some("Host"));
    o.num_signed("content_length", r.content_length().unwrap_or(-1));
}

/// Go's `http.Header` as JSON: `{"Name":["value",…],…}`, names canonical and sorted,
/// `skip` (Go moves a request's `Host` out of its headers) left out. Without allocating:
/// each round writes the smallest name not written yet, with all its values.
fn headers(out: &mut Vec<u8>, headers: &Headers<'_>, skip: Option<&str>) {
    out.push(b'{');
    let mut last: Option<&[u8]> = None;
    let mut first = true;
    loop {
        let next = headers
            .iter()
            .map(|(name, _)| name)
            .filter(|name| skip.is_none_or(|s| !name.eq_ignore_ascii_case(s.as_bytes())))
            .filter(|name| last.is_none_or(|l| compare_canonical(name, l) == Ordering::Greater))
            .min_by(|a, b| compare_canonical(a, b));
        let Some(name) = next else {
            break;
        };
        if !first {
            out.push(b',');
        }
        first = false;
        push_canonical(out, name);
        out.extend_from_slice(b":[");
        let same = |(n, _): &(&[u8], &[u8])| compare_canonical(n, name) == Ordering::Equal;
        for (i, (_, value)) in headers.iter().filter(same).enumerate() {
            if i > 0 {
                out.push(b',');
            }
            push_str(out, value);
        }
        out.push(b']');
        last = Some(name);
    }
    out.push(b'}');
}

/// The canonical form of header name `name`, byte by byte.
fn canonical(name: &[u8]) -> impl Iterator<Item = u8> + '_ {
    let canonicalize = http::is_canonicalizable(name);
    name.iter()
        .enumerate()
        .map(move |(i, &b)| match canonicalize {
            true => http::canonical_byte(i.checked_sub(1).map(|j| name[j]), b),
            false => b,
        })
}

fn compare_canonical(a: &[u8], b: &[u8]) -> Ordering {
    canonical(a).cmp(canonical(b))
}

/// Writes `name` in canonical form as a JSON string (names are tokens: nothing to
/// escape, but a non-token name goes through the escaper).
fn push_canonical(out: &mut Vec<u8>, name: &[u8]) {
    if http::is_canonicalizable(name) {
        out.push(b'"');
        out.extend(canonical(name));
        out.push(b'"');
    } else {
        push_str(out, name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(out: Vec<u8>) -> alloc::string::String {
        alloc::string::String::from_utf8(out).expect("UTF-8")
    }

    /// A request with a repeated header in two spellings, a lower-case name, a name Go
    /// leaves as it is (it has a space), a percent-encoded path and a hostile value.
    const REQUEST: &[u8] = b"GET /a%20b?q=1 HTTP/1.1\r\nHost: example.test\r\n\
        x-trace: 1\r\nAccept: */*\r\nX-TRACE: 2\r\nbad name: v\r\nUser-Agent: \"q\\\r\n\r\n";

    #[test]
    fn a_request_as_gos_net_http_reads_it() {
        let message = http::parse(REQUEST).expect("a request");
        let mut out = Vec::new();
        proto_http(&mut out, &message, &mut Vec::new());
        assert_eq!(
            text(out),
            concat!(
                r#"{"direction":"request","method":"GET","protocol":"HTTP/1.1","host":"example.test","#,
                r#""uri_path":"/a b","status":"","status_code":0,"#,
                r#""headers":{"Accept":["*/*"],"User-Agent":["\"q\\"],"X-Trace":["1","2"],"bad name":["v"]},"#,
                // Go's server side: a request without Content-Length has none (0).
                r#""content_length":0}"#
            )
        );
    }

    #[test]
    fn a_response_keeps_its_headers_and_length() {
        let message = http::parse(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nserver: x\r\n\r\nnot found",
        )
        .expect("a response");
        let mut out = Vec::new();
        proto_http(&mut out, &message, &mut Vec::new());
        assert_eq!(
            text(out),
            concat!(
                r#"{"direction":"response","method":"","protocol":"HTTP/1.1","host":"","uri_path":"","#,
                r#""status":"404 Not Found","status_code":404,"#,
                r#""headers":{"Content-Length":["9"],"Server":["x"]},"content_length":9}"#
            )
        );
    }
}
