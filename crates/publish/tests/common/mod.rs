//! Test support specific to publish: a native (ureq) transport standing in for wasi:http,
//! Basic credentials, an altered sdist. Fixtures, pypiserver and pip come from
//! `airlock-test-support`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use airlock_stage::http::Transport;
use airlock_stage::http::{Request, Response};
use airlock_stage::{Category, StageError};
use airlock_test_support::MYPYLOGGER_SDIST as SDIST;

/// `pip install --no-deps mypylogger==0.2.8` from `index_url` into a temp dir; panics
/// unless it installs and imports.
pub fn pip_install(index_url: &str) {
    airlock_test_support::pip_install(index_url, "mypylogger==0.2.8", "mypylogger");
}

/// A blocking native transport (ureq), adding `auth` (an `Authorization` value) to every
/// request the way the host's inject rule does. Counts the requests it sends.
pub struct Native {
    agent: ureq::Agent,
    pub auth: Option<String>,
    pub sent: Vec<(String, String)>,
}

impl Native {
    pub fn new(auth: Option<String>) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        Native {
            agent,
            auth,
            sent: Vec::new(),
        }
    }
}

pub fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

impl Transport for Native {
    fn send(
        &mut self,
        req: &Request,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<Response, StageError> {
        self.sent.push((req.method.clone(), req.url.clone()));
        let mut b = ureq::http::Request::builder()
            .method(req.method.as_str())
            .uri(&req.url);
        for (n, v) in &req.headers {
            b = b.header(n, v);
        }
        if let Some(a) = &self.auth {
            b = b.header("authorization", a);
        }
        let total = req.body_len();
        progress(0, total);
        // The same bytes a component streams (files read at send time).
        let mut body = Vec::new();
        std::io::Read::read_to_end(
            &mut req
                .body_reader()
                .map_err(|e| StageError::validation(e.to_string()))?,
            &mut body,
        )
        .map_err(|e| StageError::validation(e.to_string()))?;
        let r = b
            .body(body)
            .map_err(|e| StageError::internal(e.to_string()))?;
        let mut resp = self.agent.run(r).map_err(|e| {
            StageError::new(
                Category::Network,
                format!("request to {} failed: {e}", req.url),
            )
            .retryable(true)
        })?;
        progress(total, total);
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
            .with_config()
            .limit(u64::MAX)
            .read_to_vec()
            .map_err(|e| StageError::new(Category::Network, e.to_string()).retryable(true))?;
        Ok(Response {
            status: resp.status().as_u16(),
            headers,
            body,
        })
    }
}

/// A copy of the sdist with the same name but other bytes (recompressed at another level).
pub fn altered_sdist(fixtures: &Path, into: &Path) -> PathBuf {
    use std::io::{Read, Write};
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(fixtures.join(SDIST)).unwrap())
        .read_to_end(&mut raw)
        .unwrap();
    let dest = into.join(SDIST);
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&dest).unwrap(),
        flate2::Compression::new(1),
    );
    enc.write_all(&raw).unwrap();
    enc.finish().unwrap();
    dest
}
