//! Blocking HTTP over wasi:http/outgoing-handler, for stages.
//!
//! The host checks every request against the stage's `grants.http` origins and adds
//! injected credentials; a refused request comes back as a [`Category::Capability`] error
//! naming the URL. Natively (unit tests) there is no transport: [`send`] returns an internal
//! error, so stage logic that needs HTTP takes a transport trait its tests can implement.

use crate::{Category, StageError};

/// An HTTP request. Header names are case-insensitive on the wire.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// An absolute `http://` or `https://` URL.
    pub url: String,
    /// Header (name, value) pairs, sent in order.
    pub headers: Vec<(String, String)>,
    /// The body; empty for none.
    pub body: Vec<u8>,
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
        }
    }
    /// Adds a header (builder style).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
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

/// Sends `req` and waits for the whole response. `progress(sent, total)` is called with the
/// bytes of the body sent (before and after the transfer). Errors: a request the sandbox refused is
/// [`Category::Capability`]; connection, DNS and timeout failures are [`Category::Network`]
/// and retryable.
pub fn send(req: &Request, progress: &mut dyn FnMut(u64, u64)) -> Result<Response, StageError> {
    #[cfg(target_arch = "wasm32")]
    {
        wasm::send(req, progress)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = (progress, Category::Network);
        Err(StageError::internal(format!(
            "HTTP is only available inside a component (tried {} {})",
            req.method, req.url
        )))
    }
}

#[cfg(target_arch = "wasm32")]
mod wasm {
    use super::*;
    use wstd::http::{Body, Client, Method};

    fn classify(url: &str, e: &wstd::http::Error) -> StageError {
        // A refusal by the host's send hook arrives as ErrorCode::HttpRequestDenied (when
        // the request has a body, the body stream may fail first; the host then reports
        // the refused URL itself).
        let denied = e.chain().any(|c| {
            matches!(
                c.downcast_ref::<wstd::http::ErrorCode>(),
                Some(wstd::http::ErrorCode::HttpRequestDenied)
            )
        });
        if denied {
            StageError::new(
                Category::Capability,
                format!("request to {url} was refused by the sandbox: its origin is not granted"),
            )
            .with_hint("add the origin (scheme://host[:port]) to the stage's grants.http")
        } else {
            StageError::new(Category::Network, format!("request to {url} failed: {e}"))
                .retryable(true)
        }
    }

    pub(super) fn send(
        req: &Request,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<Response, StageError> {
        let method = Method::from_bytes(req.method.as_bytes())
            .map_err(|e| StageError::internal(format!("bad method {}: {e}", req.method)))?;
        let mut builder = wstd::http::Request::builder().method(method).uri(&req.url);
        for (n, v) in &req.headers {
            builder = builder.header(n.as_str(), v.as_str());
        }
        let total = req.body.len() as u64;
        progress(0, total);
        let body = if total == 0 {
            Body::empty()
        } else {
            Body::from(req.body.clone())
        };
        let request = builder.body(body).map_err(|e| {
            StageError::internal(format!("cannot build request to {}: {e}", req.url))
        })?;
        wstd::runtime::block_on(async {
            let client = Client::new();
            let mut resp = client
                .send(request)
                .await
                .map_err(|e| classify(&req.url, &e))?;
            let status = resp.status().as_u16();
            let headers = resp
                .headers()
                .iter()
                .map(|(n, v)| {
                    (
                        n.as_str().to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let body = resp
                .body_mut()
                .contents()
                .await
                .map_err(|e| classify(&req.url, &e))?
                .to_vec();
            progress(total, total);
            Ok(Response {
                status,
                headers,
                body,
            })
        })
    }
}
