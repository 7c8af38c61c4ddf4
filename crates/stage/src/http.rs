//! Blocking HTTP over wasi:http/outgoing-handler (WASI 0.2), for stages.
//!
//! The host checks every request against the stage's `grants.http` origins and adds
//! injected credentials; a refused request comes back as a [`Category::Capability`] error
//! naming the URL. Natively (unit tests) there is no transport: [`send`] returns an internal
//! error, so stage logic that needs HTTP takes a transport trait its tests can implement
//! (with [`Request::body_reader`] to stream the same body a component would send).
//!
//! - **Streaming, bounded memory**: a request body is `body` followed by [`Request::stream`]
//!   parts; a [`Part::File`] is opened at send time and read in 64 KiB chunks, so a 200 MiB
//!   wheel is never in memory, and every send (every retry) rebuilds the body from the file.
//!   A response body is read up to [`Request::max_response_bytes`] (default 64 MiB).
//! - **Timeouts** ([`Timeouts`]): connect, response (time to the answer's first byte after
//!   the body went out; wasi:http's `first-byte-timeout` runs from the start of the request,
//!   so the body's allowance `len / min_rate` is added), and between body bytes.
//! - **Failure kinds** ([`exchange`] → [`HttpError::kind`]): a request that never reached
//!   the server ([`FailureKind::Connect`]: refused, DNS, connect timeout) is told apart from
//!   one whose exchange broke after it was sent ([`FailureKind::Broken`]: reset, EOF before
//!   the answer was complete) and from a timeout waiting for the answer
//!   ([`FailureKind::Timeout`]); a server may have acted on the last two.
//!
//! Error codes: wasi:http `types.error-code` (WASI 0.2), as wasmtime-wasi-http maps them
//! (connect failure → `connection-refused`/`connection-timeout`, a reset or early EOF →
//! `connection-terminated`/`http-protocol-error`/`http-response-incomplete`, the
//! first-byte and between-bytes timeouts → `connection-read-timeout`/`http-response-timeout`).

use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use crate::{Category, StageError};

/// The bytes [`encode_component`] encodes: everything but the RFC 3986 unreserved
/// characters (`A-Z a-z 0-9 - . _ ~`).
pub const COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `s` percent-encoded for a URL query value or an `application/x-www-form-urlencoded`
/// field (RFC 3986 §2.3: unreserved characters kept, every other UTF-8 byte as `%XX`, upper
/// case; a space is `%20`). `encode_component("a b/c=d")` is `"a%20b%2Fc%3Dd"`.
pub fn encode_component(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, COMPONENT).to_string()
}

/// A part of a streamed request body (see [`Request::stream`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Bytes held in memory.
    Bytes(Vec<u8>),
    /// A file read at send time: exactly `len` bytes from its start. A file of another
    /// length at send time is a [`FailureKind::LocalIo`] error (it changed).
    File {
        /// The path, in the stage's sandbox (project-relative).
        path: PathBuf,
        /// Its length in bytes when the request was built.
        len: u64,
    },
}

impl Part {
    /// Length in bytes.
    pub fn len(&self) -> u64 {
        match self {
            Part::Bytes(b) => b.len() as u64,
            Part::File { len, .. } => *len,
        }
    }
    /// True when the part has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Per-request timeouts. Defaults: connect 30 s, response 120 s, between bytes 60 s,
/// minimum upload rate 16 KiB/s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Establishing the connection (TCP, and TLS for https).
    pub connect: Duration,
    /// Waiting for the first byte of the answer once the body is sent.
    pub response: Duration,
    /// Waiting for each further chunk of the answer's body.
    pub between_bytes: Duration,
    /// The slowest upload rate allowed, bytes per second: a body of `len` bytes gets
    /// `len / min_upload_rate` seconds on top of [`Timeouts::response`] (0 = no limit on
    /// sending the body).
    pub min_upload_rate: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(30),
            response: Duration::from_secs(120),
            between_bytes: Duration::from_secs(60),
            min_upload_rate: 16 * 1024,
        }
    }
}

impl Timeouts {
    /// The wasi:http `first-byte-timeout` for a body of `body_len` bytes: `response +
    /// body_len / min_upload_rate` (wasi:http counts it from the start of the request).
    pub fn first_byte(&self, body_len: u64) -> Duration {
        if self.min_upload_rate == 0 {
            return Duration::from_secs(u64::MAX / 4_000_000_000);
        }
        self.response + Duration::from_secs_f64(body_len as f64 / self.min_upload_rate as f64)
    }
}

/// The default largest response body kept in memory: 64 MiB.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 64 * 1024 * 1024;

/// An HTTP request. Header names are case-insensitive on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// An absolute `http://` or `https://` URL.
    pub url: String,
    /// Header (name, value) pairs, sent in order. `content-length` is added from the body
    /// when there is one.
    pub headers: Vec<(String, String)>,
    /// The body's first bytes (all of it when [`Request::stream`] is empty); empty for none.
    pub body: Vec<u8>,
    /// Parts streamed after `body`, read at send time (files are reopened on each send).
    pub stream: Vec<Part>,
    /// Timeouts for this request.
    pub timeouts: Timeouts,
    /// A longer response body fails with [`FailureKind::TooLarge`].
    pub max_response_bytes: u64,
}

impl Default for Request {
    fn default() -> Self {
        Request {
            method: "GET".into(),
            url: String::new(),
            headers: Vec::new(),
            body: Vec::new(),
            stream: Vec::new(),
            timeouts: Timeouts::default(),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }
}

impl Request {
    /// A GET of `url` with no headers.
    pub fn get(url: &str) -> Self {
        Request {
            method: "GET".into(),
            url: url.into(),
            ..Default::default()
        }
    }
    /// A POST of `body` to `url` with the given content type.
    pub fn post(url: &str, content_type: &str, body: Vec<u8>) -> Self {
        Request {
            method: "POST".into(),
            url: url.into(),
            headers: vec![("content-type".into(), content_type.into())],
            body,
            ..Default::default()
        }
    }
    /// Adds a header (builder style).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
    /// Appends a streamed part to the body (builder style).
    pub fn part(mut self, part: Part) -> Self {
        self.stream.push(part);
        self
    }
    /// Replaces the timeouts (builder style).
    pub fn with_timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }
    /// The body's length in bytes: `body` plus every streamed part.
    pub fn body_len(&self) -> u64 {
        self.body.len() as u64 + self.stream.iter().map(Part::len).sum::<u64>()
    }
    /// A reader over the whole body (`body`, then each part; files opened now and checked
    /// to have their recorded length). Errors: a file that cannot be opened, or whose length
    /// changed.
    pub fn body_reader(&self) -> std::io::Result<BodyReader<'_>> {
        for p in &self.stream {
            if let Part::File { path, len } = p {
                let actual = std::fs::metadata(path)?.len();
                if actual != *len {
                    return Err(std::io::Error::other(format!(
                        "{} changed: {actual} bytes instead of {len}",
                        path.display()
                    )));
                }
            }
        }
        Ok(BodyReader {
            req: self,
            index: 0,
            offset: 0,
            file: None,
        })
    }
}

/// Reads a [`Request`]'s body part by part (see [`Request::body_reader`]).
pub struct BodyReader<'a> {
    req: &'a Request,
    /// 0 = `body`, i = `stream[i - 1]`.
    index: usize,
    offset: u64,
    file: Option<std::io::Take<std::fs::File>>,
}

impl Read for BodyReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let bytes: &[u8] = match self.index {
                0 => &self.req.body,
                i => match self.req.stream.get(i - 1) {
                    None => return Ok(0),
                    Some(Part::Bytes(b)) => b,
                    Some(Part::File { path, len }) => {
                        if self.file.is_none() {
                            self.file = Some(std::fs::File::open(path)?.take(*len));
                        }
                        let n = self.file.as_mut().unwrap().read(buf)?;
                        self.offset += n as u64;
                        if n == 0 || buf.is_empty() {
                            if self.offset != *len {
                                return Err(std::io::Error::other(format!(
                                    "{} became shorter while it was sent",
                                    path.display()
                                )));
                            }
                            self.file = None;
                            self.index += 1;
                            self.offset = 0;
                            if buf.is_empty() {
                                return Ok(0);
                            }
                            continue;
                        }
                        return Ok(n);
                    }
                },
            };
            let rest = &bytes[(self.offset as usize).min(bytes.len())..];
            if rest.is_empty() {
                self.index += 1;
                self.offset = 0;
                continue;
            }
            let n = rest.len().min(buf.len());
            buf[..n].copy_from_slice(&rest[..n]);
            self.offset += n as u64;
            return Ok(n);
        }
    }
}

/// An HTTP response with its whole body.
#[derive(Debug, Clone, Default)]
pub struct Response {
    /// The status code, e.g. 200.
    pub status: u16,
    /// Header (lowercase name, value) pairs.
    pub headers: Vec<(String, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
}

impl Response {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// The body as UTF-8 text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Why a request failed without an HTTP answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The sandbox refused it: the origin is not granted. Nothing was sent.
    Denied,
    /// No connection: refused, DNS failure, connect timeout, TLS failure. Nothing reached
    /// the server.
    Connect,
    /// The exchange broke after the request went out (reset, EOF before a complete answer):
    /// the server may have acted on it.
    Broken,
    /// No (complete) answer in time after the request went out: the server may have acted
    /// on it.
    Timeout,
    /// The answer's body exceeded [`Request::max_response_bytes`].
    TooLarge,
    /// Reading a [`Part::File`] failed or the file changed.
    LocalIo,
    /// The request itself is malformed (URL, method, header).
    Invalid,
    /// The host could not supply the credential it injects into this request (a secret
    /// stored with `store-secret-until` that expired and could not be renewed). Nothing was
    /// sent.
    Credential,
}

/// A failed exchange (no HTTP answer, or an unreadable one). Converts into a
/// [`StageError`]: `Denied` → [`Category::Capability`]; `Connect`, `Broken`, `Timeout` →
/// retryable [`Category::Network`]; `TooLarge` → [`Category::Network`], not retryable;
/// `LocalIo` → [`Category::Validation`]; `Invalid` → [`Category::Configuration`];
/// `Credential` → [`Category::Authentication`], not retryable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError {
    /// What kind of failure.
    pub kind: FailureKind,
    /// The URL (without its query).
    pub url: String,
    /// What happened, for a person (e.g. "connection refused (nothing was sent)").
    pub message: String,
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "request to {} failed: {}", self.url, self.message)
    }
}

impl std::error::Error for HttpError {}

impl From<HttpError> for StageError {
    fn from(e: HttpError) -> Self {
        let text = e.to_string();
        match e.kind {
            FailureKind::Denied => StageError::new(
                Category::Capability,
                format!(
                    "request to {} was refused by the sandbox: its origin is not granted",
                    e.url
                ),
            )
            .with_hint("add the origin (scheme://host[:port]) to the stage's grants.http"),
            FailureKind::Connect | FailureKind::Broken | FailureKind::Timeout => {
                StageError::new(Category::Network, text).retryable(true)
            }
            FailureKind::TooLarge => StageError::new(Category::Network, text),
            FailureKind::LocalIo => StageError::validation(text),
            FailureKind::Invalid => StageError::config(text),
            FailureKind::Credential => StageError::new(Category::Authentication, text)
                .with_hint("the host ran the stage that produced the credential again and it did not give a fresh one: see that stage's log lines above"),
        }
    }
}

/// Sends `req` and waits for the whole response. `progress(sent, total)` is called with the
/// bytes of the body sent (at the start, about every 1 MiB, and at the end). Errors: see
/// [`exchange`] and the conversion from [`HttpError`]; any HTTP status is an `Ok` answer.
pub fn send(req: &Request, progress: &mut dyn FnMut(u64, u64)) -> Result<Response, StageError> {
    exchange(req, progress).map_err(StageError::from)
}

/// [`send`] with the failure's [`FailureKind`] kept, for callers that retry.
pub fn exchange(req: &Request, progress: &mut dyn FnMut(u64, u64)) -> Result<Response, HttpError> {
    #[cfg(target_arch = "wasm32")]
    {
        wasm::send(req, progress)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = progress;
        Err(HttpError {
            kind: FailureKind::Invalid,
            url: strip_query(&req.url),
            message: format!(
                "HTTP is only available inside a component (tried {})",
                req.method
            ),
        })
    }
}

/// Sends one HTTP request and returns the whole answer: the one seam between a stage's
/// logic and the network. Stages use [`SdkTransport`] (wasi:http); their native tests
/// implement it over a real client or a script. Errors: transport failures (connection
/// refused or reset, timeout) as [`Category::Network`] errors, retryable where the SDK can
/// tell it is safe; a refusal by the sandbox as [`Category::Capability`]. Any HTTP status
/// is an `Ok` answer. [`crate::retry::send_retrying`] adds the retry policy.
pub trait Transport {
    /// Sends `req`; `progress(sent, total)` reports body bytes sent.
    fn send(
        &mut self,
        req: &Request,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<Response, StageError>;
}

/// [`Transport`] over [`send`]: wasi:http in a component; natively it always fails.
pub struct SdkTransport;

impl Transport for SdkTransport {
    fn send(
        &mut self,
        req: &Request,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<Response, StageError> {
        send(req, progress)
    }
}

/// A server's message from an answer body, for error messages: HTML tags stripped,
/// whitespace collapsed, at most 300 characters (then `…`).
pub fn server_message(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out = String::new();
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    let collapsed = out.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.chars().count() > 300 {
        let cut: String = collapsed.chars().take(300).collect();
        format!("{cut}…")
    } else {
        collapsed
    }
}

/// `url` without its query and fragment (queries can carry tokens).
pub fn strip_query(url: &str) -> String {
    url.split(['?', '#']).next().unwrap_or(url).to_string()
}

/// Splits an absolute URL into (scheme, authority, path-with-query). `None` for anything
/// but `http://` / `https://` with a host.
pub fn split_url(url: &str) -> Option<(&str, &str, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return None;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    if authority.is_empty() {
        return None;
    }
    let path = path.split('#').next().unwrap_or("");
    Some((scheme, authority, if path.is_empty() { "/" } else { path }))
}

#[cfg(target_arch = "wasm32")]
mod wasm {
    use super::*;
    // The raw WASI 0.2 bindings, as wstd carries them.
    use wasip2::http::outgoing_handler;
    use wasip2::http::types::{
        self as t, ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest,
        RequestOptions, Scheme,
    };
    use wasip2::io::streams::{OutputStream, StreamError};

    const CHUNK: usize = 64 * 1024;
    const PROGRESS_EVERY: u64 = 1024 * 1024;

    fn fail(req: &Request, kind: FailureKind, message: impl Into<String>) -> HttpError {
        HttpError {
            kind,
            url: strip_query(&req.url),
            message: message.into(),
        }
    }

    /// Classifies a wasi:http error code; `sent` tells whether the request head went out.
    fn classify(req: &Request, code: &ErrorCode) -> HttpError {
        use ErrorCode as E;
        let (kind, what) = match code {
            E::HttpRequestDenied => (FailureKind::Denied, "denied".to_string()),
            E::ConnectionRefused => (
                FailureKind::Connect,
                "connection refused (nothing was sent)".into(),
            ),
            E::ConnectionTimeout => (
                FailureKind::Connect,
                format!(
                    "no connection within {} s (nothing was sent)",
                    req.timeouts.connect.as_secs()
                ),
            ),
            E::DnsTimeout | E::DnsError(_) | E::DestinationNotFound => (
                FailureKind::Connect,
                "the host name does not resolve (nothing was sent)".into(),
            ),
            E::DestinationUnavailable
            | E::DestinationIpProhibited
            | E::DestinationIpUnroutable
            | E::ConnectionLimitReached => (
                FailureKind::Connect,
                format!("cannot reach the host: {code:?} (nothing was sent)"),
            ),
            E::TlsProtocolError | E::TlsCertificateError | E::TlsAlertReceived(_) => (
                FailureKind::Connect,
                format!("TLS failed: {code:?} (nothing was sent)"),
            ),
            E::ConnectionReadTimeout | E::HttpResponseTimeout | E::ConnectionWriteTimeout => (
                FailureKind::Timeout,
                format!(
                    "no answer in time (response timeout {} s after the body, {} s between bytes); the server may have processed the request",
                    req.timeouts.response.as_secs(),
                    req.timeouts.between_bytes.as_secs()
                ),
            ),
            E::ConnectionTerminated | E::HttpResponseIncomplete | E::HttpProtocolError => (
                FailureKind::Broken,
                "the connection was reset or closed before a complete answer; the server may have processed the request".into(),
            ),
            E::HttpResponseBodySize(_) => (FailureKind::TooLarge, format!("{code:?}")),
            // The host's refusal to send without a fresh credential (crates/stage/wit/stage.wit,
            // store-secret-until): internal-error("credential …").
            E::InternalError(Some(m)) if m.starts_with("credential ") => {
                (FailureKind::Credential, m.clone())
            }
            E::HttpRequestUriInvalid
            | E::HttpRequestMethodInvalid
            | E::HttpRequestHeaderSize(_)
            | E::HttpRequestHeaderSectionSize(_)
            | E::HttpRequestUriTooLong => (FailureKind::Invalid, format!("{code:?}")),
            other => (FailureKind::Broken, format!("{other:?}")),
        };
        fail(req, kind, what)
    }

    /// Writes all of `buf`, waiting for the stream to accept more.
    fn write_all(out: &OutputStream, mut buf: &[u8]) -> Result<(), StreamError> {
        while !buf.is_empty() {
            let permit = loop {
                let n = out.check_write()?;
                if n > 0 {
                    break n as usize;
                }
                out.subscribe().block();
            };
            let k = permit.min(buf.len());
            out.write(&buf[..k])?;
            buf = &buf[k..];
        }
        Ok(())
    }

    fn flush(out: &OutputStream) -> Result<(), StreamError> {
        out.flush()?;
        loop {
            if out.check_write()? > 0 {
                return Ok(());
            }
            out.subscribe().block();
        }
    }

    fn nanos(d: Duration) -> u64 {
        u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
    }

    pub(super) fn send(
        req: &Request,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<Response, HttpError> {
        let (scheme, authority, path) = split_url(&req.url).ok_or_else(|| {
            fail(
                req,
                FailureKind::Invalid,
                "not an absolute http:// or https:// URL",
            )
        })?;
        let method = match req.method.to_ascii_uppercase().as_str() {
            "GET" => Method::Get,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "HEAD" => Method::Head,
            "DELETE" => Method::Delete,
            "PATCH" => Method::Patch,
            "OPTIONS" => Method::Options,
            other => Method::Other(other.to_string()),
        };
        let total = req.body_len();
        let mut list: Vec<(String, Vec<u8>)> = req
            .headers
            .iter()
            .filter(|(n, _)| !n.eq_ignore_ascii_case("content-length"))
            .map(|(n, v)| (n.to_ascii_lowercase(), v.as_bytes().to_vec()))
            .collect();
        if total > 0 || matches!(method, Method::Post | Method::Put) {
            list.push(("content-length".into(), total.to_string().into_bytes()));
        }
        let headers = Fields::from_list(&list)
            .map_err(|e| fail(req, FailureKind::Invalid, format!("bad header: {e:?}")))?;
        let request = OutgoingRequest::new(headers);
        let scheme = if scheme.eq_ignore_ascii_case("https") {
            Scheme::Https
        } else {
            Scheme::Http
        };
        let ok = request.set_method(&method).is_ok()
            && request.set_scheme(Some(&scheme)).is_ok()
            && request.set_authority(Some(authority)).is_ok()
            && request.set_path_with_query(Some(path)).is_ok();
        if !ok {
            return Err(fail(
                req,
                FailureKind::Invalid,
                "the method or URL is not valid HTTP",
            ));
        }
        let options = RequestOptions::new();
        let _ = options.set_connect_timeout(Some(nanos(req.timeouts.connect)));
        let _ = options.set_first_byte_timeout(Some(nanos(req.timeouts.first_byte(total))));
        let _ = options.set_between_bytes_timeout(Some(nanos(req.timeouts.between_bytes)));
        // Open the body (and its files) before anything goes out.
        let mut reader = req
            .body_reader()
            .map_err(|e| fail(req, FailureKind::LocalIo, e.to_string()))?;
        let body = request
            .body()
            .map_err(|_| fail(req, FailureKind::Invalid, "no request body handle"))?;
        let future =
            outgoing_handler::handle(request, Some(options)).map_err(|c| classify(req, &c))?;
        progress(0, total);
        {
            let out = body
                .write()
                .map_err(|_| fail(req, FailureKind::Invalid, "no body stream"))?;
            let mut buf = vec![0u8; CHUNK];
            let mut sent = 0u64;
            let mut reported = 0u64;
            loop {
                let n = match reader.read(&mut buf) {
                    Ok(n) => n,
                    Err(e) => {
                        // Dropping the body without finishing it aborts the request.
                        drop(out);
                        drop(body);
                        drop(future);
                        return Err(fail(req, FailureKind::LocalIo, e.to_string()));
                    }
                };
                if n == 0 {
                    let _ = flush(&out);
                    break;
                }
                if write_all(&out, &buf[..n]).is_err() {
                    // The server closed or answered early: its answer (or the error code)
                    // is in the response future.
                    break;
                }
                sent += n as u64;
                if sent - reported >= PROGRESS_EVERY {
                    progress(sent, total);
                    reported = sent;
                }
            }
        }
        let _ = OutgoingBody::finish(body, None);
        let incoming = loop {
            match future.get() {
                Some(Ok(Ok(resp))) => break resp,
                Some(Ok(Err(code))) => return Err(classify(req, &code)),
                Some(Err(())) => {
                    return Err(fail(
                        req,
                        FailureKind::Broken,
                        "the answer was already taken",
                    ));
                }
                None => future.subscribe().block(),
            }
        };
        progress(total, total);
        let status = incoming.status();
        let headers = incoming
            .headers()
            .entries()
            .into_iter()
            .map(|(n, v)| {
                (
                    n.to_ascii_lowercase(),
                    String::from_utf8_lossy(&v).into_owned(),
                )
            })
            .collect();
        let mut data = Vec::new();
        {
            let body: IncomingBody = incoming
                .consume()
                .map_err(|_| fail(req, FailureKind::Broken, "no response body"))?;
            {
                let input = body
                    .stream()
                    .map_err(|_| fail(req, FailureKind::Broken, "no response body stream"))?;
                loop {
                    match input.blocking_read(CHUNK as u64) {
                        Ok(chunk) => {
                            if data.len() as u64 + chunk.len() as u64 > req.max_response_bytes {
                                return Err(fail(
                                    req,
                                    FailureKind::TooLarge,
                                    format!(
                                        "the answer's body is longer than {} bytes",
                                        req.max_response_bytes
                                    ),
                                ));
                            }
                            data.extend_from_slice(&chunk);
                        }
                        Err(StreamError::Closed) => break,
                        Err(StreamError::LastOperationFailed(e)) => {
                            return Err(match t::http_error_code(&e) {
                                Some(code) => classify(req, &code),
                                None => fail(req, FailureKind::Broken, e.to_debug_string()),
                            });
                        }
                    }
                }
            }
            let _ = IncomingBody::finish(body);
        }
        Ok(Response {
            status,
            headers,
            body: data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_reader_streams_bytes_then_files_and_checks_lengths() {
        let dir = std::env::temp_dir().join(format!("airlock-sdk-http-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("f.bin");
        let content: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&file, &content).unwrap();
        let req = Request::post("http://127.0.0.1:1/", "x", b"HEAD".to_vec())
            .part(Part::File {
                path: file.clone(),
                len: content.len() as u64,
            })
            .part(Part::Bytes(b"TAIL".to_vec()));
        assert_eq!(req.body_len(), 200_008);
        let mut all = Vec::new();
        req.body_reader().unwrap().read_to_end(&mut all).unwrap();
        assert_eq!(&all[..4], b"HEAD");
        assert_eq!(&all[4..200_004], &content[..]);
        assert_eq!(&all[200_004..], b"TAIL");
        // Read again: every send rebuilds the body.
        let mut again = Vec::new();
        req.body_reader().unwrap().read_to_end(&mut again).unwrap();
        assert_eq!(all, again);
        // A file whose length changed is refused.
        std::fs::write(&file, b"short").unwrap();
        assert!(req.body_reader().is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn urls_split_and_timeouts_scale_with_the_body() {
        assert_eq!(
            split_url("http://127.0.0.1:8080/a/b?x=1#f"),
            Some(("http", "127.0.0.1:8080", "/a/b?x=1"))
        );
        assert_eq!(
            split_url("https://pypi.org"),
            Some(("https", "pypi.org", "/"))
        );
        assert_eq!(split_url("file:///x"), None);
        assert_eq!(strip_query("https://h/p?token=s"), "https://h/p");
        let t = Timeouts::default();
        assert_eq!(t.first_byte(0), Duration::from_secs(120));
        assert_eq!(t.first_byte(16 * 1024 * 100), Duration::from_secs(220));
    }

    #[test]
    fn failure_kinds_map_to_categories() {
        let e = |kind| {
            StageError::from(HttpError {
                kind,
                url: "http://h/".into(),
                message: "m".into(),
            })
        };
        assert_eq!(e(FailureKind::Denied).category, Category::Capability);
        for k in [
            FailureKind::Connect,
            FailureKind::Broken,
            FailureKind::Timeout,
        ] {
            assert!(e(k).retryable && e(k).category == Category::Network);
        }
        assert!(!e(FailureKind::TooLarge).retryable);
        assert_eq!(e(FailureKind::LocalIo).category, Category::Validation);
    }
}
