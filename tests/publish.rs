//! Publishing under real-world conditions, end to end (the real binary, the real stage
//! components, a real pypiserver on 127.0.0.1 with an htpasswd password, pip):
//! - trusted publishing against stand-ins that follow the documented protocol field by
//!   field: GitHub's ID token endpoint (`GET …&audience=X` with `Authorization: bearer
//!   ACTIONS_ID_TOKEN_REQUEST_TOKEN` → `{"count", "value": JWT}`; the stand-in shared with
//!   tests/aws.rs, `airlock_test_support::github`) and PyPI's
//!   `/_/oidc/audience` (`{"audience"}`) and `/_/oidc/mint-token` (`{"token"}` →
//!   `{"success", "token", "expires"}` or `422 {"message", "errors": [{code, description}]}`);
//!   every failure mode checked by the message the user sees;
//! - a fault-injecting proxy in front of pypiserver: 503 twice, 429 with Retry-After, a
//!   reset mid-body, a stalled answer, a success whose answer is dropped, and retries
//!   exhausted; each ends with one copy on the index and the right report;
//! - a trusted-publishing token that expires mid-upload, renewed by the host (the index in
//!   front of pypiserver refuses expired tokens), and a renewal that fails;
//! - wrong credentials (no retry), duplicates (identical: skipped; different: an error),
//!   a dry run, pip install of what was uploaded;
//! - no token (API token, request token, ID token, minted token) in any output or state.

mod common;

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use airlock_test_support::github::now_s;
use airlock_test_support::http::{
    HttpReq, forward, parse_head, read_head, read_request, respond, serve,
};
use airlock_test_support::{
    ACTIONS_REQUEST_TOKEN, GithubOidc, IdTokenSpec, MYPYLOGGER_SDIST as SDIST,
    MYPYLOGGER_WHEEL as WHEEL, PypiServer, pip_install,
};
use common::{assert_no_secret, dist_project, envs, on_server, run, upload_files, upload_stage};

const API_TOKEN: &str = "pypi-AgEIcHlwaS5vcmcPublishTestApiToken42";
const MINTED: &str = "pypi-AgEIcHlwaS5vcmcMintedByTrustedPublishing77";

// ---------------------------------------------------------------------------------------
// Trusted publishing stand-ins: GitHub's ID-token endpoint is the shared one
// (airlock_test_support::github); PyPI's OIDC endpoints are here.

/// What the index stand-in does.
#[derive(Clone, Copy, PartialEq, Debug)]
enum IndexMode {
    /// Audience `pypi`, mints [`MINTED`] for an ID token it issued.
    Ok,
    /// `403` at the audience endpoint (trusted publishing disabled).
    Disabled,
    /// `404` at the audience endpoint (not supported).
    Unsupported,
    /// `422 invalid-publisher` at mint-token.
    NoPublisher,
    /// `503` HTML at mint-token.
    NotJson,
    /// Mints a new token each time (see [`Oidc::minted`]), living `lifetime_s` seconds;
    /// mints after the first `mints_ok` answer `503` HTML.
    Expiring { lifetime_s: u64, mints_ok: usize },
}

/// GitHub's token endpoint (the shared stand-in) and the index's OIDC endpoints.
struct Oidc {
    github: GithubOidc,
    index: u16,
    /// Requests the index stand-in saw, as `METHOD target authorization?`.
    index_log: Arc<Mutex<Vec<String>>>,
    /// Tokens minted in [`IndexMode::Expiring`], with their `expires` (unix seconds).
    minted: Arc<Mutex<Vec<(String, u64)>>>,
    /// Tokens posted to `/_/oidc/burn-token`, in order.
    burned: Arc<Mutex<Vec<String>>>,
}

impl Oidc {
    /// The ID tokens issued (to check they never leak).
    fn issued(&self) -> Vec<String> {
        self.github.issued()
    }

    /// Requests seen by both stand-ins, as `METHOD target authorization?`.
    fn log(&self) -> Vec<String> {
        let mut log = self.github.log.lock().unwrap().clone();
        log.extend(self.index_log.lock().unwrap().iter().cloned());
        log
    }
}

/// The stand-ins: tokens for `octo/mypylogger`'s release workflow at `v0.2.8` in
/// environment `pypi` (with `reusable`, its job runs `octo/shared`'s publish workflow);
/// the index in `mode`.
fn start_oidc(mode: IndexMode, reusable: bool) -> Oidc {
    let github = GithubOidc::start(IdTokenSpec {
        reusable_workflow_ref: reusable
            .then(|| "octo/shared/.github/workflows/publish.yml@refs/heads/main".to_string()),
        ..IdTokenSpec::default()
    });
    let log: Arc<Mutex<Vec<String>>> = Arc::default();
    let minted: Arc<Mutex<Vec<(String, u64)>>> = Arc::default();
    let burned: Arc<Mutex<Vec<String>>> = Arc::default();
    let (iss, lg, mn, bn) = (
        github.issued.clone(),
        log.clone(),
        minted.clone(),
        burned.clone(),
    );
    let index = serve(move |mut s| {
        let Ok(req) = read_request(&mut s, true) else {
            return;
        };
        lg.lock().unwrap().push(format!(
            "{} {} {}",
            req.method,
            req.target,
            req.header("authorization").is_some()
        ));
        let json = [("content-type", "application/json")];
        match (req.method.as_str(), req.target.as_str(), mode) {
            ("GET", "/_/oidc/audience", IndexMode::Disabled) => respond(
                &mut s,
                403,
                &json,
                br#"{"message":"Trusted publishing functionality not enabled"}"#,
            ),
            ("GET", "/_/oidc/audience", IndexMode::Unsupported) => {
                respond(&mut s, 404, &[], b"Not Found")
            }
            ("GET", "/_/oidc/audience", _) => {
                respond(&mut s, 200, &json, br#"{"audience":"pypi"}"#)
            }
            ("POST", "/_/oidc/mint-token", IndexMode::NotJson) => respond(
                &mut s,
                503,
                &[("content-type", "text/html")],
                b"<html><body><h1>503 Service Unavailable</h1></body></html>",
            ),
            ("POST", "/_/oidc/mint-token", _) => {
                let token = serde_json::from_slice::<serde_json::Value>(&req.body)
                    .ok()
                    .and_then(|v| v["token"].as_str().map(String::from));
                let known = token.is_some_and(|t| iss.lock().unwrap().contains(&t));
                if !known {
                    return respond(&mut s, 422, &json, br#"{"message":"Token request failed","errors":[{"code":"invalid-payload","description":"malformed or unknown token"}]}"#);
                }
                if mode == IndexMode::NoPublisher {
                    return respond(&mut s, 422, &json, br#"{"message":"Token request failed","errors":[{"code":"invalid-publisher","description":"valid token, but no corresponding publisher (All lookup strategies exhausted)"}]}"#);
                }
                if let IndexMode::Expiring {
                    lifetime_s,
                    mints_ok,
                } = mode
                {
                    let mut minted = mn.lock().unwrap();
                    if minted.len() >= mints_ok {
                        return respond(
                            &mut s,
                            503,
                            &[("content-type", "text/html")],
                            b"<h1>503 Service Unavailable</h1>",
                        );
                    }
                    let token = format!("pypi-AgEIcHlwaS5vcmcShortLived{:02}x", minted.len());
                    let expires = now_s() + lifetime_s;
                    minted.push((token.clone(), expires));
                    let body =
                        serde_json::json!({ "success": true, "token": token, "expires": expires });
                    return respond(&mut s, 200, &json, body.to_string().as_bytes());
                }
                let body = serde_json::json!({ "success": true, "token": MINTED, "expires": now_s() + 900 }).to_string();
                respond(&mut s, 200, &json, body.as_bytes());
            }
            // warehouse's burn_token: always 202, whatever the payload.
            ("POST", "/_/oidc/burn-token", _) => {
                if let Some(t) = serde_json::from_slice::<serde_json::Value>(&req.body)
                    .ok()
                    .and_then(|v| v["token"].as_str().map(String::from))
                {
                    bn.lock().unwrap().push(t);
                }
                respond(&mut s, 202, &json, br#"{"message":"Accepted","errors":[]}"#)
            }
            _ => respond(&mut s, 404, &[], b"Not Found"),
        }
    });
    Oidc {
        github,
        index,
        index_log: log,
        minted,
        burned,
    }
}

/// What an index does with an expired token: a gate in front of pypiserver (which runs
/// without auth) that lets an upload POST through only with a token minted by `oidc` and
/// not yet past its `expires`; otherwise `403`. Returns its port and, per POST, the index
/// of the minted token it carried (or `None` when refused).
fn start_token_gate(upstream: u16, oidc: &Oidc) -> (u16, Arc<Mutex<Vec<Option<usize>>>>) {
    use base64::Engine as _;
    let seen: Arc<Mutex<Vec<Option<usize>>>> = Arc::default();
    let (minted, sn) = (oidc.minted.clone(), seen.clone());
    let port = serve(move |mut s| {
        let Ok(req) = read_request(&mut s, true) else {
            return;
        };
        if req.method == "POST" {
            let password = req
                .header("authorization")
                .and_then(|a| a.strip_prefix("Basic "))
                .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .and_then(|up| up.strip_prefix("__token__:").map(String::from));
            let valid = minted
                .lock()
                .unwrap()
                .iter()
                .position(|(t, exp)| Some(t) == password.as_ref() && now_s() < *exp);
            sn.lock().unwrap().push(valid);
            if valid.is_none() {
                return respond(
                    &mut s,
                    403,
                    &[],
                    b"Invalid or non-existent authentication information: the token has expired",
                );
            }
        }
        let answer = forward(upstream, &req);
        let _ = s.write_all(&answer);
    });
    (port, seen)
}

// ---------------------------------------------------------------------------------------
// The fault-injecting proxy.

/// What the proxy does to one upload POST (GETs always pass).
#[derive(Clone, Debug)]
enum Fault {
    /// Forwards, as if no fault were planned for this POST.
    Pass,
    /// Answers this status (with these headers) without forwarding.
    Status(u16, Vec<(&'static str, &'static str)>),
    /// Reads the head and a little of the body, then closes with unread data (a reset).
    ResetMidBody,
    /// Reads the request, answers nothing for this long, then closes.
    Stall(Duration),
    /// Forwards (the index stores the file), then waits this long before answering.
    SlowAnswer(Duration),
    /// Forwards (the index stores the file), then closes without answering.
    DropAnswer,
}

struct Proxy {
    port: u16,
    /// Upload POSTs received / forwarded to the index.
    posts: Arc<AtomicUsize>,
    forwarded: Arc<AtomicUsize>,
}

fn start_proxy(upstream: u16, faults: Vec<Fault>) -> Proxy {
    let faults = Arc::new(Mutex::new(VecDeque::from(faults)));
    let posts = Arc::new(AtomicUsize::new(0));
    let forwarded = Arc::new(AtomicUsize::new(0));
    let (p, f) = (posts.clone(), forwarded.clone());
    let port = serve(move |mut s| {
        let Ok((head, rest)) = read_head(&mut s) else {
            return;
        };
        let (method, _, _) = parse_head(&head);
        let fault = if method == "POST" {
            p.fetch_add(1, Ordering::SeqCst);
            faults.lock().unwrap().pop_front()
        } else {
            None
        };
        if let Some(Fault::ResetMidBody) = fault {
            let mut some = [0u8; 2048];
            let _ = s.read(&mut some);
            // Closing with unread data makes the kernel send RST.
            drop(s);
            return;
        }
        // Read the rest of the body.
        let (m, t, h) = parse_head(&head);
        let mut req = HttpReq {
            head,
            method: m,
            target: t,
            headers: h,
            body: rest,
        };
        let len: usize = req
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut chunk = vec![0u8; 64 * 1024];
        while req.body.len() < len {
            match s.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => req.body.extend_from_slice(&chunk[..n]),
            }
        }
        match fault {
            Some(Fault::Status(code, headers)) => {
                respond(&mut s, code, &headers, b"<h1>injected</h1>")
            }
            Some(Fault::Stall(d)) => {
                std::thread::sleep(d);
                let _ = s.shutdown(Shutdown::Both);
            }
            Some(Fault::DropAnswer) => {
                f.fetch_add(1, Ordering::SeqCst);
                let _ = forward(upstream, &req);
                let _ = s.shutdown(Shutdown::Both);
            }
            Some(Fault::SlowAnswer(d)) => {
                f.fetch_add(1, Ordering::SeqCst);
                let answer = forward(upstream, &req);
                std::thread::sleep(d);
                let _ = s.write_all(&answer);
            }
            Some(Fault::ResetMidBody) => unreachable!(),
            Some(Fault::Pass) | None => {
                if req.method == "POST" {
                    f.fetch_add(1, Ordering::SeqCst);
                }
                let answer = forward(upstream, &req);
                let _ = s.write_all(&answer);
            }
        }
    });
    Proxy {
        port,
        posts,
        forwarded,
    }
}

// ---------------------------------------------------------------------------------------
// Running pipelines.

/// An upload-only pipeline: the API token from PYPI_TOKEN, injected by the host into the
/// repository's origin. `extra` is appended to the upload config table.
fn upload_manifest(repository: &str, extra: &str) -> String {
    let mut m = r#"
[pipeline]
name = "publish-test"

[[stage]]
id = "authenticate"
component = "builtin:authenticate"
config = { mode = "token", env = "PYPI_TOKEN" }
[stage.grants]
env = ["PYPI_TOKEN"]
secrets = { produce = ["pypi-token"] }
"#
    .to_string();
    let extra = format!(
        ", retry = {{ retries = 3, base_s = 0.05, cap_s = 0.2 }}, timeouts = {{ response_s = 3 }}{extra}"
    );
    m.push_str(&upload_stage(repository, &extra, ""));
    m
}

/// Trusted publishing: the host reads ACTIONS_ID_TOKEN_REQUEST_TOKEN from its environment
/// (`[secrets]`) and injects it as bearer into the token endpoint's origin; the trusted
/// stage mints; the upload gets the minted token injected.
fn trusted_manifest(oidc: &Oidc, repository: Option<&str>) -> String {
    let mut m = format!(
        r#"
[pipeline]
name = "trusted-test"

[secrets]
actions-request-token = {{ env = "ACTIONS_ID_TOKEN_REQUEST_TOKEN" }}

[[stage]]
id = "authenticate"
component = "builtin:authenticate"
config = {{ mode = "trusted", index = "http://127.0.0.1:{index}" }}
[stage.grants]
http = ["{{config.index}}", "http://127.0.0.1:{github}"]
env = ["ACTIONS_ID_TOKEN_REQUEST_URL", "GITHUB_ACTIONS", "GITHUB_EVENT_NAME", "GITHUB_REPOSITORY", "GITHUB_HEAD_REF"]
secrets = {{ produce = ["pypi-token"], inject = [{{ secret = "actions-request-token", into = "http://127.0.0.1:{github}", as = "bearer" }}] }}
"#,
        index = oidc.index,
        github = oidc.github.port
    );
    if let Some(repo) = repository {
        m.push_str(&upload_stage(repo, "", ""));
    }
    m
}

// ---------------------------------------------------------------------------------------

#[test]
fn trusted_publishing_mints_a_token_the_upload_uses_and_pip_installs() {
    let oidc = start_oidc(IndexMode::Ok, false);
    let server = PypiServer::start(Some(("__token__", MINTED)));
    let dir = dist_project();
    let env = oidc.github.actions_env();
    let r = run(
        dir.path(),
        &trusted_manifest(&oidc, Some(&server.url())),
        &envs(&env),
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let auth = r.output("authenticate");
    assert_eq!(auth["mode"], "trusted");
    assert_eq!(auth["audience"], "pypi");
    assert_eq!(auth["claims"]["repository"], "octo/mypylogger");
    assert!(auth["expires_at"].as_u64().unwrap() > now_s() + 800);
    let mut names: Vec<String> = upload_files(&r).into_iter().map(|(f, _)| f).collect();
    names.sort();
    assert_eq!(names, [WHEEL, SDIST]);
    assert!(
        upload_files(&r).iter().all(|(_, s)| s == "uploaded"),
        "{:?}",
        upload_files(&r)
    );
    assert_eq!(r.output("upload")["verified"], true);
    // The protocol as the stand-ins saw it: the bearer only on the GitHub endpoint.
    let log = oidc.log();
    assert!(
        log.contains(&"GET /_/oidc/audience false".to_string()),
        "{log:?}"
    );
    assert!(
        log.contains(&"GET /token?api-version=2.0&audience=pypi true".to_string()),
        "{log:?}"
    );
    assert!(
        log.contains(&"POST /_/oidc/mint-token false".to_string()),
        "{log:?}"
    );
    // The minted token is revoked (burned) once, when the run ends: after the upload.
    assert_eq!(*oidc.burned.lock().unwrap(), vec![MINTED.to_string()]);
    assert_eq!(log.last().unwrap(), "POST /_/oidc/burn-token false");
    let (uploaded, revoked) = (
        r.stderr.find("upload succeeded").unwrap(),
        r.stderr.find("revoked secret \"pypi-token\"").unwrap(),
    );
    assert!(uploaded < revoked, "{}", r.stderr);
    pip_install(&server.simple(), "mypylogger==0.2.8", "mypylogger");
    let jwt = oidc.issued()[0].clone();
    assert_no_secret(&r, dir.path(), &[MINTED, ACTIONS_REQUEST_TOKEN, &jwt]);
}

/// A trusted-publishing token that expires during a multi-file upload: the host runs the
/// authenticate stage again (a fresh ID token, a fresh mint) before the next request would
/// carry the stale token. The index refuses expired tokens, so without the renewal the
/// second file would be refused. When the renewal fails, the upload stops with an
/// authentication error naming the credential, and nothing stale is sent.
#[test]
fn an_expiring_trusted_publishing_token_is_renewed_mid_upload() {
    // Tokens live 4 s (renewed in their last 2 s); the index holds the first file's answer
    // 4.5 s, so the second file starts after the first token expired.
    let expiring = |mints_ok| IndexMode::Expiring {
        lifetime_s: 4,
        mints_ok,
    };
    for mints_ok in [10, 1] {
        let oidc = start_oidc(expiring(mints_ok), false);
        let server = PypiServer::start(None);
        let (gate, seen) = start_token_gate(server.port, &oidc);
        let proxy = start_proxy(gate, vec![Fault::SlowAnswer(Duration::from_millis(4500))]);
        let dir = dist_project();
        let repo = format!("http://127.0.0.1:{}/", proxy.port);
        let env = oidc.github.actions_env();
        let r = run(
            dir.path(),
            &trusted_manifest(&oidc, Some(&repo)),
            &envs(&env),
        );
        let minted: Vec<String> = oidc
            .minted
            .lock()
            .unwrap()
            .iter()
            .map(|(t, _)| t.clone())
            .collect();
        let seen = seen.lock().unwrap().clone();
        if mints_ok > 1 {
            assert_eq!(r.code, Some(0), "{}", r.stderr);
            assert!(
                upload_files(&r).iter().all(|(_, s)| s == "uploaded"),
                "{:?}",
                upload_files(&r)
            );
            assert_eq!(r.output("upload")["verified"], true);
            assert_eq!(on_server(&server).len(), 2);
            // Each POST carried a live token; the second a newer one than the first.
            assert_eq!(seen.len(), 2, "{seen:?}");
            assert!(
                seen.iter().all(Option::is_some),
                "an expired token was sent: {seen:?}"
            );
            assert!(
                seen[1] > seen[0],
                "the second file went out with the first token: {seen:?}"
            );
            assert!(minted.len() >= 2, "{minted:?}");
            assert_eq!(
                oidc.issued().len(),
                minted.len(),
                "one fresh ID token per mint"
            );
            // Every token minted in the run is revoked at its end, the renewed ones too.
            let mut burned = oidc.burned.lock().unwrap().clone();
            burned.sort();
            let mut all = minted.clone();
            all.sort();
            assert_eq!(burned, all);
            assert!(
                r.stderr.contains("renewing secret \"pypi-token\"")
                    && r.stderr.contains("running stage \"authenticate\" again"),
                "{}",
                r.stderr
            );
        } else {
            // The renewal's mint fails: the second file is not sent with a stale token.
            assert_eq!(r.code, Some(1), "{}", r.stderr);
            let f = r.failure("upload");
            assert_eq!(f["category"], "authentication", "{f}");
            let said = r.said("upload");
            assert!(
                said.contains("credential \"pypi-token\" expires and could not be renewed")
                    && said.contains("stage \"authenticate\" failed"),
                "{said}"
            );
            assert!(
                said.contains("not attempted") || said.contains(": failed"),
                "{said}"
            );
            assert_eq!(seen.len(), 1, "only the first file went out: {seen:?}");
            assert_eq!(on_server(&server).len(), 1);
        }
        let jwts = oidc.issued();
        let mut secrets: Vec<&str> = minted.iter().map(String::as_str).collect();
        secrets.push(ACTIONS_REQUEST_TOKEN);
        secrets.extend(jwts.iter().map(String::as_str));
        assert_no_secret(&r, dir.path(), &secrets);
    }
}

#[test]
fn trusted_publishing_failures_say_what_to_fix() {
    let dir = dist_project();
    // (index mode, reusable workflow, env changes, what the user must read)
    type Case = (
        IndexMode,
        bool,
        fn(&mut Vec<(&'static str, String)>),
        &'static [&'static str],
    );
    let cases: Vec<Case> = vec![
        (
            IndexMode::Ok,
            false,
            |e| e.retain(|(k, _)| !k.starts_with("ACTIONS_")),
            &["id-token: write"],
        ),
        (
            IndexMode::Ok,
            false,
            |e| {
                e.retain(|(k, _)| !k.starts_with("ACTIONS_"));
                e.push(("GITHUB_EVENT_NAME", "pull_request".into()));
            },
            &["pull request from a fork", "workflow_dispatch"],
        ),
        (
            IndexMode::Disabled,
            false,
            |_| {},
            &["403", "trusted publishing disabled", "mode = \"token\""],
        ),
        (
            IndexMode::Unsupported,
            false,
            |_| {},
            &["404", "does not support trusted publishing"],
        ),
        (
            IndexMode::NoPublisher,
            false,
            |_| {},
            &[
                "invalid-publisher",
                "sub: repo:octo/mypylogger:environment:pypi",
                "repository: octo/mypylogger",
                "workflow_ref: octo/mypylogger/.github/workflows/release.yml@refs/tags/v0.2.8",
                "job_workflow_ref: octo/mypylogger/.github/workflows/release.yml@refs/tags/v0.2.8",
                "ref: refs/tags/v0.2.8",
                "environment: pypi",
                "add (or fix) a GitHub publisher",
            ],
        ),
        (
            IndexMode::NoPublisher,
            true,
            |_| {},
            &[
                "reusable workflow",
                "octo/shared/.github/workflows/publish.yml",
            ],
        ),
        (
            IndexMode::NotJson,
            false,
            |_| {},
            &["503", "not JSON", "wait a few minutes"],
        ),
        (
            IndexMode::Ok,
            false,
            |e| {
                e.retain(|(k, _)| *k != "ACTIONS_ID_TOKEN_REQUEST_TOKEN");
                e.push((
                    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
                    "ghs-wrong-request-token".into(),
                ));
            },
            &["refused the request: 401", "ACTIONS_ID_TOKEN_REQUEST_TOKEN"],
        ),
    ];
    for (mode, reusable, change, expected) in cases {
        let oidc = start_oidc(mode, reusable);
        let mut env = oidc.github.actions_env();
        change(&mut env);
        let r = run(dir.path(), &trusted_manifest(&oidc, None), &envs(&env));
        assert_eq!(r.code, Some(1), "{mode:?}: {}", r.stderr);
        let f = r.failure("authenticate");
        assert!(
            ["authentication", "network"].contains(&f["category"].as_str().unwrap()),
            "{f}"
        );
        let said = r.said("authenticate");
        for e in expected {
            assert!(
                said.contains(e),
                "{mode:?} reusable={reusable}: {e:?} not in: {said}"
            );
        }
        let jwts = oidc.issued();
        let mut secrets = vec![ACTIONS_REQUEST_TOKEN, MINTED];
        secrets.extend(jwts.iter().map(String::as_str));
        assert_no_secret(&r, dir.path(), &secrets);
    }
}

#[test]
fn faults_are_retried_and_end_with_one_copy_on_the_index() {
    let s503 = || Fault::Status(503, vec![]);
    let cases: Vec<(&str, Vec<Fault>)> = vec![
        ("503 twice", vec![s503(), s503()]),
        (
            "429 Retry-After",
            vec![Fault::Status(429, vec![("Retry-After", "1")])],
        ),
        ("reset mid-body", vec![Fault::ResetMidBody]),
        (
            "stalled answer",
            vec![Fault::Stall(Duration::from_secs(10))],
        ),
        ("dropped answer", vec![Fault::DropAnswer]),
    ];
    for (name, faults) in cases {
        let server = PypiServer::start(Some(("__token__", API_TOKEN)));
        let n_faults = faults.len();
        let dropped = matches!(faults[0], Fault::DropAnswer);
        let proxy = start_proxy(server.port, faults);
        let dir = dist_project();
        let repo = format!("http://127.0.0.1:{}/", proxy.port);
        let r = run(
            dir.path(),
            &upload_manifest(&repo, ""),
            &[("PYPI_TOKEN", API_TOKEN)],
        );
        assert_eq!(r.code, Some(0), "{name}: {}", r.stderr);
        let fs = upload_files(&r);
        assert_eq!(fs.len(), 2, "{name}");
        assert!(fs.iter().all(|(_, s)| s == "uploaded"), "{name}: {fs:?}");
        assert_eq!(r.output("upload")["verified"], true, "{name}");
        // Exactly one copy of each file, sent to the index exactly once.
        assert_eq!(on_server(&server).len(), 2, "{name}");
        assert_eq!(proxy.forwarded.load(Ordering::SeqCst), 2, "{name}");
        let posts = proxy.posts.load(Ordering::SeqCst);
        let expected_posts = if dropped { 2 } else { 2 + n_faults };
        assert_eq!(posts, expected_posts, "{name}: POSTs received");
        assert!(r.stderr.contains("retrying in"), "{name}: {}", r.stderr);
        let said = match name {
            "503 twice" => "answered 503",
            "429 Retry-After" => "answered 429",
            "reset mid-body" => "reset or closed before a complete answer",
            "stalled answer" => "no answer in time",
            _ => "reset or closed before a complete answer",
        };
        assert!(
            r.stderr.contains(said),
            "{name}: {said:?} not in {}",
            r.stderr
        );
        if name == "429 Retry-After" {
            assert!(r.stderr.contains("retrying in 1.0 s"), "{}", r.stderr);
            assert!(r.elapsed >= Duration::from_secs(1));
        }
        assert_no_secret(&r, dir.path(), &[API_TOKEN]);
    }

    // Nothing listening: "connection refused (nothing was sent)", retried, then a network
    // error.
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = dist_project();
    let repo = format!("http://127.0.0.1:{closed}/");
    let r = run(
        dir.path(),
        &upload_manifest(&repo, ", verify = false"),
        &[("PYPI_TOKEN", API_TOKEN)],
    );
    assert_eq!(r.code, Some(1));
    assert_eq!(r.failure("upload")["category"], "network");
    let said = r.said("upload");
    assert!(
        said.contains("connection refused (nothing was sent)"),
        "{said}"
    );
    assert!(said.contains("gave up after 4 attempts"), "{said}");

    // Retries exhausted: a network error, a non-zero exit, nothing on the index.
    let server = PypiServer::start(Some(("__token__", API_TOKEN)));
    let proxy = start_proxy(server.port, vec![Fault::Status(503, vec![]); 10]);
    let dir = dist_project();
    let repo = format!("http://127.0.0.1:{}/", proxy.port);
    let r = run(
        dir.path(),
        &upload_manifest(&repo, ""),
        &[("PYPI_TOKEN", API_TOKEN)],
    );
    assert_eq!(r.code, Some(1));
    let f = r.failure("upload");
    assert_eq!(f["category"], "network", "{f}");
    let said = r.said("upload");
    assert!(said.contains("gave up after 4 attempts"), "{said}");
    assert!(
        said.contains(&format!("{SDIST}: failed")) || said.contains(&format!("{WHEEL}: failed")),
        "{said}"
    );
    assert!(said.contains("not attempted"), "{said}");
    assert_eq!(proxy.posts.load(Ordering::SeqCst), 4);
    assert!(on_server(&server).is_empty());
}

#[test]
fn a_release_that_fails_halfway_says_where_it_stands_and_its_rerun_finishes_it() {
    // The fault plan: the index takes the first of three files, then fails the second
    // until retries are spent (503 on all four attempts).
    let server = PypiServer::start(Some(("__token__", API_TOKEN)));
    let mut faults = vec![Fault::Pass];
    faults.extend(vec![Fault::Status(503, vec![]); 4]);
    let proxy = start_proxy(server.port, faults);
    let dir = dist_project();
    let build_tagged = "mypylogger-0.2.8-1-py3-none-any.whl";
    std::fs::copy(
        dir.path().join("dist").join(WHEEL),
        dir.path().join("dist").join(build_tagged),
    )
    .unwrap();
    let repo = format!("http://127.0.0.1:{}/", proxy.port);
    let env = [("PYPI_TOKEN", API_TOKEN)];
    let r = run(dir.path(), &upload_manifest(&repo, ""), &env);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    let said = r.said("upload");
    assert!(
        said.contains(&format!(
            "on the index: {build_tagged}; not on the index: {WHEEL}, {SDIST}"
        )),
        "{said}"
    );
    assert_eq!(on_server(&server).len(), 1);
    // The report carries the command that finishes the release; it is also printed.
    let rerun = r.report["failure"]["rerun"].as_str().unwrap().to_string();
    assert!(r.stderr.contains(&rerun), "{}", r.stderr);
    let words = shlex::split(&rerun).unwrap();
    assert_eq!(&words[..2], ["airlock", "run"]);
    assert!(words.ends_with(&["--only".to_string(), "authenticate,upload".to_string()]));
    let mut args: Vec<&str> = words[1..].iter().map(String::as_str).collect();
    args.extend(["--format", "json"]);
    let out = common::airlock(&args, &env);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = common::report(&out);
    let files = common::upload_files_of(&report);
    assert_eq!(
        files,
        vec![
            (build_tagged.to_string(), "skipped-identical".to_string()),
            (WHEEL.to_string(), "uploaded".to_string()),
            (SDIST.to_string(), "uploaded".to_string()),
        ]
    );
    assert_eq!(on_server(&server).len(), 3);
    assert_no_secret(&r, dir.path(), &[API_TOKEN]);
    pip_install(&server.simple(), "mypylogger==0.2.8", "mypylogger");
}

#[test]
fn credentials_duplicates_dry_run_and_install() {
    let server = PypiServer::start(Some(("__token__", API_TOKEN)));
    let proxy = start_proxy(server.port, vec![]);
    let repo = format!("http://127.0.0.1:{}/", proxy.port);
    let dir = dist_project();

    // Wrong credentials: an authentication error with a hint, never retried.
    let r = run(
        dir.path(),
        &upload_manifest(&repo, ""),
        &[("PYPI_TOKEN", "pypi-wrong-token")],
    );
    assert_eq!(r.code, Some(1));
    assert_eq!(r.failure("upload")["category"], "authentication");
    assert!(r.said("upload").contains("403"), "{}", r.said("upload"));
    assert_eq!(proxy.posts.load(Ordering::SeqCst), 1, "no retry on 403");
    assert!(!r.stderr.contains("retrying"));

    // Dry run: everything but the POST.
    let r = run(
        dir.path(),
        &upload_manifest(&repo, ", dry_run = true"),
        &[("PYPI_TOKEN", API_TOKEN)],
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(
        upload_files(&r).iter().all(|(_, s)| s == "would-upload"),
        "{:?}",
        upload_files(&r)
    );
    assert_eq!(r.output("upload")["dry_run"], true);
    assert_eq!(proxy.posts.load(Ordering::SeqCst), 1);
    assert!(on_server(&server).is_empty());

    // The upload, then the same again: skipped as identical without sending.
    let r = run(
        dir.path(),
        &upload_manifest(&repo, ""),
        &[("PYPI_TOKEN", API_TOKEN)],
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(upload_files(&r).iter().all(|(_, s)| s == "uploaded"));
    assert_eq!(proxy.posts.load(Ordering::SeqCst), 3);
    let r = run(
        dir.path(),
        &upload_manifest(&repo, ""),
        &[("PYPI_TOKEN", API_TOKEN)],
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(
        upload_files(&r)
            .iter()
            .all(|(_, s)| s == "skipped-identical"),
        "{:?}",
        upload_files(&r)
    );
    assert_eq!(proxy.posts.load(Ordering::SeqCst), 3, "nothing sent");
    // Without the pre-check, the index's duplicate answer (409) is resolved the same way.
    let r = run(
        dir.path(),
        &upload_manifest(&repo, ", check_existing = false"),
        &[("PYPI_TOKEN", API_TOKEN)],
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(
        upload_files(&r)
            .iter()
            .all(|(_, s)| s == "skipped-identical"),
        "{:?}",
        upload_files(&r)
    );
    assert_eq!(proxy.posts.load(Ordering::SeqCst), 5);

    // Same name, other bytes: an upload error that says so; the index keeps the original.
    let sdist = dir.path().join("dist").join(SDIST);
    let original = std::fs::read(&sdist).unwrap();
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(&original[..])
        .read_to_end(&mut raw)
        .unwrap();
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(1));
    enc.write_all(&raw).unwrap();
    std::fs::write(&sdist, enc.finish().unwrap()).unwrap();
    for extra in ["", ", check_existing = false"] {
        let r = run(
            dir.path(),
            &upload_manifest(&repo, extra),
            &[("PYPI_TOKEN", API_TOKEN)],
        );
        assert_eq!(r.code, Some(1));
        assert_eq!(r.failure("upload")["category"], "upload");
        assert!(
            r.said("upload").contains("different content"),
            "{}",
            r.said("upload")
        );
        assert!(
            r.said("upload").contains("bump the version"),
            "{}",
            r.said("upload")
        );
        assert_no_secret(&r, dir.path(), &[API_TOKEN]);
    }
    assert_eq!(
        std::fs::read(server.packages.join(SDIST)).unwrap(),
        original
    );
    pip_install(&server.simple(), "mypylogger==0.2.8", "mypylogger");
}
