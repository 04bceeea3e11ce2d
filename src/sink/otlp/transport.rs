//! One OTLP export request and its answer, over gRPC (tonic, the request sent as the
//! bytes the encoder made) or HTTP/protobuf (hyper, rustls): what was accepted, what
//! the receiver rejected (partial success), and whether a failure is worth retrying
//! (OTLP's rules: gRPC `UNAVAILABLE` and its kin, HTTP 429, 502, 503, 504).

use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use prost::Message;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::{self, Uri};
use tonic::metadata::{MetadataKey, MetadataValue};
use tonic::transport::{Certificate, Channel, ClientTlsConfig};
use tonic::{Code, Status};

use super::endpoint::{Endpoint, Protocol};

/// How long one request may take, connecting included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// An `ExportLogsServiceRequest`.
    Logs,
    /// An `ExportMetricsServiceRequest`.
    Metrics,
}

impl Signal {
    fn grpc_path(self) -> &'static str {
        match self {
            Signal::Logs => "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
            Signal::Metrics => "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
        }
    }

    fn http_path(self) -> &'static str {
        match self {
            Signal::Logs => "/v1/logs",
            Signal::Metrics => "/v1/metrics",
        }
    }

    /// The records (log records, data points) the receiver says it rejected, and why.
    fn rejected(self, answer: &[u8]) -> Result<(u64, String), String> {
        let bad = |e: prost::DecodeError| format!("an answer that is no OTLP response: {e}");
        Ok(match self {
            Signal::Logs => ExportLogsServiceResponse::decode(answer)
                .map_err(bad)?
                .partial_success
                .map(|p| (p.rejected_log_records.max(0) as u64, p.error_message)),
            Signal::Metrics => ExportMetricsServiceResponse::decode(answer)
                .map_err(bad)?
                .partial_success
                .map(|p| (p.rejected_data_points.max(0) as u64, p.error_message)),
        }
        .unwrap_or_default())
    }
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Worth trying again (after the server's `Retry-After`, when it gave one).
    Retry {
        /// What happened.
        why: String,
        /// How long the server asked to wait.
        after: Option<Duration>,
    },
    /// Refused for good (a malformed request, no such path, bad credentials): counted lost.
    Refused(String),
}

/// An answer: how many of the request's records the receiver rejected, and its message.
pub type Accepted = (u64, String);

/// A connection to one endpoint.
pub enum Client {
    /// OTLP/gRPC.
    Grpc {
        /// tonic's client on a lazily connected channel.
        grpc: tonic::client::Grpc<Channel>,
        /// Metadata sent with each request.
        headers: Vec<(
            MetadataKey<tonic::metadata::Ascii>,
            MetadataValue<tonic::metadata::Ascii>,
        )>,
    },
    /// OTLP/HTTP.
    Http {
        /// hyper's pooled client.
        client: HttpClient<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
        /// `http(s)://HOST:PORT/PREFIX`.
        base: String,
        /// Sent with each request.
        headers: Vec<(http::HeaderName, http::HeaderValue)>,
        gzip: bool,
    },
}

impl Client {
    /// A client for `endpoint`; nothing is connected yet (the first request connects).
    /// Must run inside a Tokio runtime.
    pub fn new(endpoint: &Endpoint) -> Result<Client, String> {
        match endpoint.protocol {
            Protocol::Grpc => {
                let mut channel = Channel::from_shared(endpoint.origin())
                    .map_err(|e| e.to_string())?
                    .connect_timeout(REQUEST_TIMEOUT)
                    .timeout(REQUEST_TIMEOUT);
                if let Some(ca) = &endpoint.tls {
                    let tls = match ca {
                        Some(pem) => {
                            ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pem))
                        }
                        None => ClientTlsConfig::new().with_native_roots(),
                    };
                    channel = channel.tls_config(tls).map_err(|e| format!("TLS: {e}"))?;
                }
                let mut grpc = tonic::client::Grpc::new(channel.connect_lazy());
                if endpoint.gzip {
                    grpc = grpc
                        .send_compressed(tonic::codec::CompressionEncoding::Gzip)
                        .accept_compressed(tonic::codec::CompressionEncoding::Gzip);
                }
                let headers = endpoint
                    .headers
                    .iter()
                    .map(|(name, value)| {
                        let key =
                            MetadataKey::from_bytes(name.as_bytes()).map_err(|e| e.to_string())?;
                        let value =
                            MetadataValue::try_from(value.as_str()).map_err(|e| e.to_string())?;
                        Ok((key, value))
                    })
                    .collect::<Result<_, String>>()?;
                Ok(Client::Grpc { grpc, headers })
            }
            Protocol::HttpProtobuf => {
                let tls = tls_config(endpoint.tls.as_ref().and_then(|ca| ca.as_deref()))?;
                let connector = hyper_rustls::HttpsConnectorBuilder::new()
                    .with_tls_config(tls)
                    .https_or_http()
                    .enable_http1()
                    .build();
                let headers = endpoint
                    .headers
                    .iter()
                    .map(|(name, value)| {
                        let name = http::HeaderName::from_bytes(name.as_bytes())
                            .map_err(|e| e.to_string())?;
                        let value =
                            http::HeaderValue::from_str(value).map_err(|e| e.to_string())?;
                        Ok((name, value))
                    })
                    .collect::<Result<_, String>>()?;
                Ok(Client::Http {
                    client: HttpClient::builder(TokioExecutor::new()).build(connector),
                    base: format!("{}{}", endpoint.origin(), endpoint.path_prefix),
                    headers,
                    gzip: endpoint.gzip,
                })
            }
        }
    }

    /// Sends one request of `signal`; the records rejected when it was answered.
    pub async fn export(&mut self, signal: Signal, request: Bytes) -> Result<Accepted, Failure> {
        let answer = match self {
            Client::Grpc { grpc, headers } => grpc_export(grpc, headers, signal, request).await?,
            Client::Http {
                client,
                base,
                headers,
                gzip,
            } => {
                let url = format!("{base}{}", signal.http_path());
                http_export(client, &url, headers, *gzip, request).await?
            }
        };
        signal.rejected(&answer).map_err(Failure::Refused)
    }
}

/// rustls' client settings: the system's roots, or the CA certificates in `ca_pem`.
fn tls_config(ca_pem: Option<&[u8]>) -> Result<rustls::ClientConfig, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    match ca_pem {
        Some(pem) => {
            for certificate in CertificateDer::pem_slice_iter(pem) {
                let certificate = certificate.map_err(|e| e.to_string())?;
                roots.add(certificate).map_err(|e| e.to_string())?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

async fn grpc_export(
    grpc: &mut tonic::client::Grpc<Channel>,
    headers: &[(
        MetadataKey<tonic::metadata::Ascii>,
        MetadataValue<tonic::metadata::Ascii>,
    )],
    signal: Signal,
    request: Bytes,
) -> Result<Bytes, Failure> {
    grpc.ready().await.map_err(|e| Failure::Retry {
        why: e.to_string(),
        after: None,
    })?;
    let mut request = tonic::Request::new(request);
    for (key, value) in headers {
        request.metadata_mut().insert(key.clone(), value.clone());
    }
    let path = http::uri::PathAndQuery::from_static(signal.grpc_path());
    match grpc.unary(request, path, RawCodec).await {
        Ok(answer) => Ok(answer.into_inner()),
        Err(status) => Err(grpc_failure(&status)),
    }
}

/// OTLP/gRPC's retryable codes; the status named with its causes.
fn grpc_failure(status: &Status) -> Failure {
    let why = with_causes(format!("{:?}: {}", status.code(), status.message()), status);
    match status.code() {
        Code::Unavailable
        | Code::Cancelled
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::OutOfRange
        | Code::DataLoss
        | Code::ResourceExhausted => Failure::Retry { why, after: None },
        _ => Failure::Refused(why),
    }
}

async fn http_export(
    client: &HttpClient<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
    url: &str,
    headers: &[(http::HeaderName, http::HeaderValue)],
    gzip: bool,
    request: Bytes,
) -> Result<Bytes, Failure> {
    let uri: Uri = url
        .parse()
        .map_err(|e| Failure::Refused(format!("{url}: {e}")))?;
    let mut builder = http::Request::post(uri).header("content-type", "application/x-protobuf");
    for (name, value) in headers {
        builder = builder.header(name, value);
    }
    let body = match gzip {
        true => {
            builder = builder.header("content-encoding", "gzip");
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            let _ = encoder.write_all(&request);
            Bytes::from(encoder.finish().unwrap_or_default())
        }
        false => request,
    };
    let request = builder
        .body(Full::new(body))
        .map_err(|e| Failure::Refused(e.to_string()))?;
    let retry = |why: String| Failure::Retry { why, after: None };
    let response = tokio::time::timeout(REQUEST_TIMEOUT, client.request(request))
        .await
        .map_err(|_| retry(format!("no answer within {REQUEST_TIMEOUT:?}")))?
        .map_err(|e| retry(connection_error(&e)))?;
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let body = tokio::time::timeout(REQUEST_TIMEOUT, response.into_body().collect())
        .await
        .map_err(|_| retry("the answer's body did not come".into()))?
        .map_err(|e| retry(e.to_string()))?
        .to_bytes();
    match status.as_u16() {
        200..=299 => Ok(body),
        429 | 502 | 503 | 504 => Err(Failure::Retry {
            why: format!("HTTP {status}"),
            after: retry_after,
        }),
        _ => Err(Failure::Refused(format!(
            "HTTP {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(200)]).escape_debug()
        ))),
    }
}

/// hyper's error and its causes (`connection refused`, a TLS failure).
fn connection_error(error: &hyper_util::client::legacy::Error) -> String {
    with_causes(error.to_string(), error)
}

/// `text` followed by the causes of `error` it does not already say.
fn with_causes(mut text: String, error: &dyn std::error::Error) -> String {
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// A gRPC codec that sends the request as the bytes given and hands the answer back as
/// bytes (the encoder built the request; [`Signal::rejected`] reads the answer).
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }

    /// Room for a whole request at once (not grown from tonic's 8 KiB, a copy a doubling).
    fn buffer_settings(&self) -> BufferSettings {
        BufferSettings::new(REQUEST_ROOM, REQUEST_ROOM)
    }
}

/// The most a logs request takes: its records ([`super::REQUEST_BYTES`], plus one batch
/// over) and envelope.
const REQUEST_ROOM: usize = super::REQUEST_BYTES + (256 << 10);

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}
