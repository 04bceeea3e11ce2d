//! Where an OTLP output sends, from its URL (`otlp://HOST:PORT`, `otlp+http://…`,
//! `otlp+https://…`) or, for `otlp` alone, from the environment as OpenTelemetry's SDKs
//! read it (`OTEL_EXPORTER_OTLP_ENDPOINT`, `_PROTOCOL`, `_HEADERS`, `_COMPRESSION`,
//! `_CERTIFICATE`). Everything is checked here, at start: a malformed URL, option,
//! header or CA file is refused with a message naming it.

use tonic::codegen::http::{HeaderName, HeaderValue};

/// OTLP's two protobuf transports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// OTLP/gRPC (default port 4317).
    Grpc,
    /// OTLP/HTTP with protobuf bodies (default port 4318), `POST PREFIX/v1/logs`.
    HttpProtobuf,
}

impl Protocol {
    fn default_port(self) -> u16 {
        match self {
            Protocol::Grpc => 4317,
            Protocol::HttpProtobuf => 4318,
        }
    }
}

/// An OTLP endpoint and how to talk to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The transport.
    pub protocol: Protocol,
    /// `HOST:PORT`.
    pub authority: String,
    /// OTLP/HTTP: the path before `/v1/logs` (`/otlp` for Loki, `/_otlp` for
    /// Elasticsearch); empty by default.
    pub path_prefix: String,
    /// TLS, when used: `Some(None)` with the system's roots, `Some(Some(pem))` trusting
    /// the CA certificates in `pem` (read at start).
    pub tls: Option<Option<Vec<u8>>>,
    /// Request bodies gzip-compressed.
    pub gzip: bool,
    /// Headers (gRPC: metadata) sent with every request, e.g. for authentication.
    pub headers: Vec<(String, String)>,
}

/// The URL forms, for messages.
pub const FORMS: &str = "otlp://HOST[:PORT] (gRPC), otlp+http://HOST[:PORT][/PREFIX] or \
                         otlp+https://… (HTTP/protobuf), or otlp (from OTEL_EXPORTER_OTLP_*)";

impl Endpoint {
    /// The endpoint of `url` (without its query) with its `options`: `compression=gzip|none`,
    /// `tls=true|false`, `ca=FILE`, `headers=NAME=VALUE,…` (values percent-encoded as in
    /// `OTEL_EXPORTER_OTLP_HEADERS`). `env` reads the environment for `otlp` alone.
    pub fn parse(
        url: &str,
        options: &[(String, String)],
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Endpoint, String> {
        let mut endpoint = if url == "otlp" {
            Endpoint::from_env(&env)?
        } else if let Some(rest) = url.strip_prefix("otlp://") {
            Endpoint::at(Protocol::Grpc, rest, false)?
        } else if let Some(rest) = url.strip_prefix("otlp+http://") {
            Endpoint::at(Protocol::HttpProtobuf, rest, false)?
        } else if let Some(rest) = url.strip_prefix("otlp+https://") {
            Endpoint::at(Protocol::HttpProtobuf, rest, true)?
        } else {
            return Err(format!("`{url}`: expected {FORMS}"));
        };
        for (key, value) in options {
            match key.as_str() {
                "compression" => endpoint.gzip = compression(value)?,
                "tls" => {
                    endpoint.tls = match value.as_str() {
                        "true" | "1" => endpoint.tls.take().or(Some(None)),
                        "false" | "0" if matches!(endpoint.tls, Some(Some(_))) => {
                            return Err("tls=false contradicts ca=".into());
                        }
                        "false" | "0" => None,
                        _ => return Err(format!("tls={value}: expected true or false")),
                    }
                }
                "ca" => endpoint.tls = Some(Some(ca_file(value)?)),
                "headers" => endpoint.headers.extend(headers(value)?),
                _ => {
                    return Err(format!(
                        "otlp: unknown option `{key}` (compression=gzip, tls=true, ca=FILE, \
                         headers=NAME=VALUE,…)"
                    ));
                }
            }
        }
        Ok(endpoint)
    }

    /// `HOST[:PORT][/PREFIX]` over `protocol`.
    fn at(protocol: Protocol, rest: &str, tls: bool) -> Result<Endpoint, String> {
        let (authority, prefix) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        if protocol == Protocol::Grpc && !prefix.is_empty() {
            return Err(format!("otlp://{rest}: gRPC takes no path"));
        }
        Ok(Endpoint {
            protocol,
            authority: authority_with_port(authority, protocol.default_port())?,
            path_prefix: prefix.to_owned(),
            tls: tls.then_some(None),
            gzip: false,
            headers: Vec::new(),
        })
    }

    /// `otlp` alone: the endpoint the OpenTelemetry environment variables name.
    fn from_env(env: &impl Fn(&str) -> Option<String>) -> Result<Endpoint, String> {
        let protocol = match env("OTEL_EXPORTER_OTLP_PROTOCOL").as_deref() {
            None | Some("http/protobuf") => Protocol::HttpProtobuf,
            Some("grpc") => Protocol::Grpc,
            Some(other) => {
                return Err(format!(
                    "OTEL_EXPORTER_OTLP_PROTOCOL={other}: expected grpc or http/protobuf"
                ));
            }
        };
        let url = env("OTEL_EXPORTER_OTLP_ENDPOINT")
            .unwrap_or_else(|| format!("http://localhost:{}", protocol.default_port()));
        let (tls, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(format!(
                "OTEL_EXPORTER_OTLP_ENDPOINT={url}: expected http://HOST:PORT or https://…"
            ));
        };
        let mut endpoint = match protocol {
            // A gRPC endpoint's path, if any, means nothing.
            Protocol::Grpc => Endpoint::at(protocol, rest.split('/').next().unwrap_or(""), tls),
            Protocol::HttpProtobuf => Endpoint::at(protocol, rest, tls),
        }
        .map_err(|e| format!("OTEL_EXPORTER_OTLP_ENDPOINT: {e}"))?;
        if let Some(value) = env("OTEL_EXPORTER_OTLP_HEADERS") {
            endpoint.headers =
                headers(&value).map_err(|e| format!("OTEL_EXPORTER_OTLP_HEADERS: {e}"))?;
        }
        if let Some(value) = env("OTEL_EXPORTER_OTLP_COMPRESSION") {
            endpoint.gzip =
                compression(&value).map_err(|e| format!("OTEL_EXPORTER_OTLP_COMPRESSION: {e}"))?;
        }
        if let Some(path) = env("OTEL_EXPORTER_OTLP_CERTIFICATE") {
            endpoint.tls =
                Some(Some(ca_file(&path).map_err(|e| {
                    format!("OTEL_EXPORTER_OTLP_CERTIFICATE: {e}")
                })?));
        }
        Ok(endpoint)
    }

    /// The URL of the endpoint's server (`http://HOST:PORT` or `https://…`).
    pub fn origin(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.authority)
    }
}

/// `HOST` or `HOST:PORT` (an IPv6 host in brackets) with a port.
fn authority_with_port(authority: &str, default_port: u16) -> Result<String, String> {
    let bad = || format!("`{authority}`: expected HOST[:PORT]");
    if authority.is_empty() || authority.contains(['@', '?', '#', ' ']) {
        return Err(bad());
    }
    let host_end = match authority.strip_prefix('[') {
        Some(v6) => v6.find(']').map(|i| i + 2).ok_or_else(bad)?,
        None => authority.find(':').unwrap_or(authority.len()),
    };
    let (host, port) = authority.split_at(host_end);
    if host.is_empty() {
        return Err(bad());
    }
    match port.strip_prefix(':') {
        None if port.is_empty() => Ok(format!("{host}:{default_port}")),
        Some(port) if port.parse::<u16>().is_ok_and(|p| p > 0) => Ok(authority.to_owned()),
        _ => Err(format!(
            "`{authority}`: the port is no number from 1 to 65535"
        )),
    }
}

fn compression(value: &str) -> Result<bool, String> {
    match value {
        "gzip" => Ok(true),
        "none" => Ok(false),
        _ => Err(format!("compression={value}: expected gzip or none")),
    }
}

/// The CA certificates of PEM file `path`: refused when it holds none.
fn ca_file(path: &str) -> Result<Vec<u8>, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let pem = std::fs::read(path).map_err(|e| format!("ca={path}: {e}"))?;
    let certificates = CertificateDer::pem_slice_iter(&pem).collect::<Result<Vec<_>, _>>();
    match certificates {
        Ok(c) if !c.is_empty() => Ok(pem),
        Ok(_) => Err(format!("ca={path}: no PEM certificate in it")),
        Err(e) => Err(format!("ca={path}: {e}")),
    }
}

/// `NAME=VALUE,NAME=VALUE` (values percent-decoded), each a valid HTTP header.
fn headers(list: &str) -> Result<Vec<(String, String)>, String> {
    let mut headers = Vec::new();
    for pair in list.split(',').filter(|p| !p.trim().is_empty()) {
        let (name, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("header `{pair}`: expected NAME=VALUE"))?;
        let name = name.trim().to_ascii_lowercase();
        let value = percent_decode(value.trim())
            .ok_or_else(|| format!("header {name}: bad percent-encoding"))?;
        HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("header `{name}`: not a valid header name"))?;
        HeaderValue::from_str(&value)
            .map_err(|_| format!("header {name}: its value is not a valid header value"))?;
        headers.push((name, value));
    }
    Ok(headers)
}

/// `%XX` escapes decoded; None when one is malformed or the result is not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str, options: &[(&str, &str)]) -> Result<Endpoint, String> {
        let options: Vec<(String, String)> = options
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Endpoint::parse(url, &options, |_| None)
    }

    #[test]
    fn urls_give_the_transport_port_and_prefix() {
        let grpc = parse("otlp://collector", &[]).unwrap();
        assert_eq!(
            (grpc.protocol, grpc.authority.as_str()),
            (Protocol::Grpc, "collector:4317")
        );
        assert_eq!(grpc.origin(), "http://collector:4317");
        let http = parse("otlp+http://[::1]:9000/otlp/", &[("compression", "gzip")]).unwrap();
        assert_eq!(
            (
                http.protocol,
                http.authority.as_str(),
                http.path_prefix.as_str(),
                http.gzip
            ),
            (Protocol::HttpProtobuf, "[::1]:9000", "/otlp", true)
        );
        let https = parse("otlp+https://es.example:443/_otlp", &[]).unwrap();
        assert_eq!(
            (&https.tls, https.origin().as_str()),
            (&Some(None), "https://es.example:443")
        );
        let headers = parse(
            "otlp://c:1",
            &[("headers", "Authorization=Bearer%20x,x-tenant=a")],
        )
        .unwrap();
        assert_eq!(
            headers.headers,
            [
                ("authorization".into(), "Bearer x".into()),
                ("x-tenant".into(), "a".into())
            ]
        );
    }

    #[test]
    fn malformed_urls_options_and_headers_are_named() {
        for (url, options, message) in [
            ("otlp://", vec![], "expected HOST[:PORT]"),
            ("otlp://c:99999", vec![], "port"),
            ("otlp://c:4317/x", vec![], "gRPC takes no path"),
            ("otlp+ftp://c", vec![], "expected otlp://"),
            (
                "otlp://c",
                vec![("compression", "zstd")],
                "compression=zstd",
            ),
            ("otlp://c", vec![("tls", "maybe")], "tls=maybe"),
            (
                "otlp://c",
                vec![("ca", "/nonexistent.pem")],
                "ca=/nonexistent.pem",
            ),
            ("otlp://c", vec![("headers", "novalue")], "NAME=VALUE"),
            (
                "otlp://c",
                vec![("headers", "bad name=1")],
                "not a valid header name",
            ),
            ("otlp://c", vec![("headers", "a=%zz")], "percent"),
            (
                "otlp://c",
                vec![("headers", "a=x%0Ay")],
                "not a valid header value",
            ),
            ("otlp://c", vec![("batch", "1")], "unknown option `batch`"),
        ] {
            let error = parse(url, &options).unwrap_err();
            assert!(error.contains(message), "{url} {options:?}: {error}");
        }
    }

    #[test]
    fn otlp_alone_reads_the_sdk_environment() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        let default = Endpoint::parse("otlp", &[], env(&[])).unwrap();
        assert_eq!(
            (default.protocol, default.authority.as_str()),
            (Protocol::HttpProtobuf, "localhost:4318")
        );
        let grpc = Endpoint::parse(
            "otlp",
            &[],
            env(&[
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://otel.example"),
                ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=s3cr%3Dt"),
                ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
            ]),
        )
        .unwrap();
        assert_eq!(grpc.protocol, Protocol::Grpc);
        assert_eq!(grpc.origin(), "https://otel.example:4317");
        assert_eq!(grpc.headers, [("api-key".into(), "s3cr=t".into())]);
        assert!(grpc.gzip);
        let error = Endpoint::parse(
            "otlp",
            &[],
            env(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")]),
        )
        .unwrap_err();
        assert!(error.contains("http/json"), "{error}");
    }
}
