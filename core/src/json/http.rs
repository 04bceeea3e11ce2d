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

/// Header lines sorted on the stack; a head with more is sorted on the heap.
const SORTED_ON_THE_STACK: usize = 32;

/// One header line and where it was in the head, so that a name's values keep their order.
type Line<'h> = (&'h [u8], &'h [u8], usize);

/// Go's `http.Header` as JSON: `{"Name":["value",…],…}`, names canonical and sorted,
/// each name's values in the order of the head, `skip` (Go moves a request's `Host` out
/// of its headers) left out. Without allocating up to [`SORTED_ON_THE_STACK`] lines.
fn headers(out: &mut Vec<u8>, headers: &Headers<'_>, skip: Option<&str>) {
    // Sorted by canonical name, then by place: O(n log n) in the lines however many a
    // hostile head holds (a selection of the next name each time was O(n²)).
    let wanted =
        |(name, _): &(&[u8], &[u8])| skip.is_none_or(|s| !name.eq_ignore_ascii_case(s.as_bytes()));
    let by_name_then_place =
        |a: &Line<'_>, b: &Line<'_>| compare_canonical(a.0, b.0).then(a.2.cmp(&b.2));
    let mut on_the_stack: [Line<'_>; SORTED_ON_THE_STACK] = [(&[], &[], 0); SORTED_ON_THE_STACK];
    let mut on_the_heap = Vec::new();
    let mut count = 0;
    for (place, line) in headers.iter().filter(wanted).enumerate() {
        match on_the_stack.get_mut(place) {
            Some(slot) => *slot = (line.0, line.1, place),
            None => {
                if on_the_heap.is_empty() {
                    on_the_heap.extend_from_slice(&on_the_stack);
                }
                on_the_heap.push((line.0, line.1, place));
            }
        }
        count = place + 1;
    }
    let lines: &mut [Line<'_>] = match on_the_heap.is_empty() {
        true => &mut on_the_stack[..count],
        false => &mut on_the_heap,
    };
    lines.sort_unstable_by(by_name_then_place);
    out.push(b'{');
    for (i, &(name, value, _)) in lines.iter().enumerate() {
        let previous = i.checked_sub(1).map(|j| lines[j].0);
        let same_name = previous.is_some_and(|p| compare_canonical(p, name) == Ordering::Equal);
        if same_name {
            out.push(b',');
        } else {
            if i > 0 {
                out.extend_from_slice(b"],");
            }
            push_canonical(out, name);
            out.extend_from_slice(b":[");
        }
        push_str(out, value);
    }
    if !lines.is_empty() {
        out.push(b']');
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
    fn many_header_lines_sort_by_name_and_keep_each_names_values_in_order() {
        // 40 lines (past the stack's 32), three names in turn, in two spellings.
        let mut head = alloc::string::String::from("HTTP/1.1 200 OK\r\n");
        let names = ["x-b", "X-A", "x-c"];
        for i in 0..40 {
            head.push_str(&alloc::format!("{}: {i}\r\n", names[i % 3]));
        }
        head.push_str("\r\n");
        let Some(Message::Response(response)) = http::parse(head.as_bytes()) else {
            panic!("a response");
        };
        let mut out = Vec::new();
        headers(&mut out, &response.headers, None);
        let values = |first: usize| {
            (first..40)
                .step_by(3)
                .map(|i| alloc::format!("\"{i}\""))
                .collect::<Vec<_>>()
                .join(",")
        };
        let expected = alloc::format!(
            "{{\"X-A\":[{}],\"X-B\":[{}],\"X-C\":[{}]}}",
            values(1),
            values(0),
            values(2)
        );
        assert_eq!(text(out), expected);
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
