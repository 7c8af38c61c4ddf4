//! A hostile stage: each run tries one escape from the sandbox, named by config `attempt`,
//! with `target` (a path, URL, address, variable or secret name). When the attempt is
//! refused it fails with the error it got; when it succeeds it returns
//! `{ "escaped": true, ... }` — which the hostile suite (tests/hostile.rs) treats as a
//! sandbox failure. Test-only: built beside the built-in stages, never embedded.
//!
//! Attempts: `read`, `write`, `list`, `http`, `redirect`, `tcp`, `udp`, `dns`, `env`,
//! `env-dump`, `store-secret`, `loop`, `sleep`, `memory`, `output`, `recursion`, `panic`;
//! and `inputs`, which echoes the inputs it was given.

#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use airlock_stage::{Category, Request, StageError, host, http};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    attempt: String,
    #[serde(default)]
    target: String,
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
pub fn run(req: &Request) -> Result<serde_json::Value, StageError> {
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
        // Not an escape: echoes the inputs the host passed (on-failure stages get `failure`).
        "inputs" => Ok(json!({ "inputs": req.inputs })),
        other => Err(StageError::config(format!("unknown attempt {other}"))),
    }
}

airlock_stage::export_stage!(run);
