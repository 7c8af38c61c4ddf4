//! The notify stage against a local stand-in of GitHub's issues API on 127.0.0.1.
//!
//! The stand-in implements, field by field, the three endpoints the stage uses, as the
//! GitHub REST API docs (version 2022-11-28) describe them:
//! - `GET /repos/{owner}/{repo}/issues` with `state`, `labels` (comma-separated, all must
//!   match, case-insensitive) and `per_page`; pull requests are listed too, with a
//!   `pull_request` key (<https://docs.github.com/en/rest/issues/issues#list-repository-issues>);
//! - `POST /repos/{owner}/{repo}/issues` with `title` (required), `body`, `labels`; 201 with
//!   the issue and a `Location` header (<https://docs.github.com/en/rest/issues/issues#create-an-issue>);
//! - `POST /repos/{owner}/{repo}/issues/{number}/comments` with `body` (required); 201 with
//!   the comment (<https://docs.github.com/en/rest/issues/comments#create-an-issue-comment>).
//!
//! It answers like GitHub when a request is wrong: 401 "Bad credentials" without the right
//! bearer token, 403 without a User-Agent, 400 for an unsupported `X-GitHub-Api-Version`,
//! 415 without a JSON `Accept`, 404 for another repository or issue, 422 "Validation Failed"
//! for a missing required field. It records every request for the assertions.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use airlock_stage::http::Transport;
use airlock_stage::http::{Request, Response};
use airlock_stage::{Category, StageError};
use serde_json::{Value, json};

const TOKEN: &str = "ghs_standin_token";
const REPO: &str = "owner/name";

/// One request as the stand-in received it.
#[derive(Debug, Clone)]
struct Recorded {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Recorded {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct State {
    /// Issues and pull requests, by number (GitHub numbers them together).
    issues: Vec<Value>,
    comments: Vec<Value>,
    requests: Vec<Recorded>,
}

struct StandIn {
    port: u16,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl StandIn {
    /// Starts the stand-in with `issues` already in the repository.
    fn start(issues: Vec<Value>) -> StandIn {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State {
            issues,
            ..State::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (state.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            // Bounded: the test stops it on drop; a lost test ends it after 60 s.
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            while !st.load(Ordering::SeqCst) && std::time::Instant::now() < deadline {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let _ = serve(conn, &s);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        StandIn {
            port,
            state,
            stop,
            thread: Some(thread),
        }
    }

    fn api(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(conn: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    conn.set_nonblocking(false)?;
    conn.set_read_timeout(Some(Duration::from_secs(5)))?;
    conn.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((n, v)) = h.split_once(':') {
            headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let len: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut raw = vec![0; len.min(1 << 20)];
    reader.read_exact(&mut raw)?;
    let body = if raw.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&raw).unwrap_or(Value::String("<not JSON>".into()))
    };
    let rec = Recorded {
        method,
        target,
        headers,
        body,
    };
    let (status, extra, answer) = {
        let mut s = state.lock().unwrap();
        s.requests.push(rec.clone());
        route(&rec, &mut s)
    };
    let text = answer.to_string();
    let mut out = conn;
    write!(
        out,
        "HTTP/1.1 {status} X\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n{extra}\r\n{text}",
        text.len()
    )?;
    out.flush()
}

fn gh_error(status: u16, message: &str) -> (u16, String, Value) {
    (
        status,
        String::new(),
        json!({ "message": message, "documentation_url": "https://docs.github.com/rest", "status": status.to_string() }),
    )
}

fn missing(resource: &str, field: &str) -> (u16, String, Value) {
    (
        422,
        String::new(),
        json!({
            "message": "Validation Failed",
            "errors": [{ "resource": resource, "code": "missing_field", "field": field }],
            "documentation_url": "https://docs.github.com/rest/issues/issues#create-an-issue",
            "status": "422"
        }),
    )
}

fn route(r: &Recorded, s: &mut State) -> (u16, String, Value) {
    if r.header("user-agent").is_none_or(str::is_empty) {
        return gh_error(
            403,
            "Request forbidden by administrative rules. Please make sure your request has a User-Agent header",
        );
    }
    if r.header("authorization") != Some(&format!("Bearer {TOKEN}")) {
        return gh_error(401, "Bad credentials");
    }
    if let Some(v) = r.header("x-github-api-version")
        && v != "2022-11-28"
    {
        return gh_error(400, &format!("API version '{v}' is not supported."));
    }
    if r.header("accept") != Some("application/vnd.github+json") {
        return gh_error(415, "Unsupported 'Accept' header");
    }
    let (path, query) = r.target.split_once('?').unwrap_or((&r.target, ""));
    let Some(rest) = path.strip_prefix(&format!("/repos/{REPO}/issues")) else {
        return gh_error(404, "Not Found");
    };
    let html = |n: u64| format!("https://github.com/{REPO}/issues/{n}");
    match (r.method.as_str(), rest) {
        ("GET", "") => {
            let q: Vec<(String, String)> = query
                .split('&')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_string(), percent_decode(v)))
                .collect();
            let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
            let state = get("state").unwrap_or("open");
            let wanted: Vec<String> = get("labels")
                .map(|l| l.split(',').map(|x| x.trim().to_lowercase()).collect())
                .unwrap_or_default();
            let per_page: usize = get("per_page").and_then(|p| p.parse().ok()).unwrap_or(30);
            let mut list: Vec<Value> = s
                .issues
                .iter()
                .filter(|i| state == "all" || i["state"] == state)
                .filter(|i| {
                    wanted.iter().all(|w| {
                        i["labels"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|l| l["name"].as_str().unwrap().to_lowercase() == *w)
                    })
                })
                .cloned()
                .collect();
            // Default sort: created, descending.
            list.reverse();
            list.truncate(per_page.min(100));
            (200, String::new(), Value::Array(list))
        }
        ("POST", "") => {
            let title = match &r.body["title"] {
                Value::String(t) if !t.is_empty() => t.clone(),
                Value::Number(n) => n.to_string(),
                _ => return missing("Issue", "title"),
            };
            let n = s.issues.len() as u64 + 1;
            let labels: Vec<Value> = r.body["labels"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|l| l.as_str())
                        .map(|l| json!({ "id": 100 + n, "name": l, "color": "ededed", "default": false }))
                        .collect()
                })
                .unwrap_or_default();
            let issue = json!({
                "id": 1000 + n,
                "number": n,
                "url": format!("http://127.0.0.1/repos/{REPO}/issues/{n}"),
                "html_url": html(n),
                "state": "open",
                "title": title,
                "body": r.body.get("body").cloned().unwrap_or(Value::Null),
                "labels": labels,
                "comments": 0,
                "user": { "login": "github-actions[bot]", "type": "Bot" },
                "created_at": "2026-11-22T05:00:01Z"
            });
            s.issues.push(issue.clone());
            let loc = format!("location: http://127.0.0.1/repos/{REPO}/issues/{n}\r\n");
            (201, loc, issue)
        }
        ("POST", sub) => {
            let Some(n) = sub
                .strip_prefix('/')
                .and_then(|x| x.strip_suffix("/comments"))
                .and_then(|x| x.parse::<u64>().ok())
            else {
                return gh_error(404, "Not Found");
            };
            if !s.issues.iter().any(|i| i["number"] == n) {
                return gh_error(404, "Not Found");
            }
            let Some(body) = r.body["body"].as_str() else {
                return missing("IssueComment", "body");
            };
            let id = 5000 + s.comments.len() as u64;
            let comment = json!({
                "id": id,
                "html_url": format!("{}#issuecomment-{id}", html(n)),
                "issue_url": format!("http://127.0.0.1/repos/{REPO}/issues/{n}"),
                "body": body,
                "user": { "login": "github-actions[bot]", "type": "Bot" },
                "created_at": "2026-11-22T06:00:01Z"
            });
            s.comments.push(comment.clone());
            (201, String::new(), comment)
        }
        _ => gh_error(404, "Not Found"),
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(if b[i] == b'+' { b' ' } else { b[i] });
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// A native transport (ureq) standing in for wasi:http; adds `Authorization: Bearer
/// <token>` the way the host's inject rule does.
struct Native {
    agent: ureq::Agent,
    token: Option<&'static str>,
}

impl Native {
    fn new(token: Option<&'static str>) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .into();
        Native { agent, token }
    }
}

impl Transport for Native {
    fn send(&mut self, req: &Request, _: &mut dyn FnMut(u64, u64)) -> Result<Response, StageError> {
        let mut b = ureq::http::Request::builder()
            .method(req.method.as_str())
            .uri(&req.url);
        for (n, v) in &req.headers {
            b = b.header(n, v);
        }
        if let Some(t) = self.token {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        let r = b
            .body(req.body.clone())
            .map_err(|e| StageError::internal(e.to_string()))?;
        let mut resp = self.agent.run(r).map_err(|e| {
            StageError::new(Category::Network, format!("{}: {e}", req.url)).retryable(true)
        })?;
        let headers = resp
            .headers()
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let body = resp
            .body_mut()
            .with_config()
            .limit(req.max_response_bytes)
            .read_to_vec()
            .map_err(|e| StageError::new(Category::Network, e.to_string()).retryable(true))?;
        Ok(Response {
            status: resp.status().as_u16(),
            headers,
            body,
        })
    }
}

fn failure(pipeline: &str, run: &str, stage: &str, message: &str) -> Value {
    json!({
        "pipeline": pipeline,
        "run_id": run,
        "event": "push",
        "stage": stage,
        "category": "network",
        "message": message,
        "hint": "check https://status.python.org and run the workflow again",
        "exit_code": 1,
        "timestamp": "2026-11-22T05:00:00Z",
        "log_excerpt": [format!("{stage}: attempt 5 of 5 failed"), "giving up after 5 attempts".to_string()],
        "repository": REPO,
        "run_url": format!("https://github.com/{REPO}/actions/runs/{run}")
    })
}

fn stage(api: &str, report: Value, t: &mut Native) -> Result<Value, StageError> {
    let req =
        airlock_stage::Request::new("notify", json!({ "api": api })).with_input("failure", report);
    airlock_notify::run(&req, t).map(|o| serde_json::to_value(o).unwrap())
}

/// What GitHub already holds: a pull request with the label (the list endpoint returns pull
/// requests too), an issue a person labelled, and a closed issue opened by an earlier run.
fn preexisting() -> Vec<Value> {
    let label = json!([{ "id": 1, "name": "Release-Failure" }]);
    let marker = airlock_notify::report::marker("mypylogger-release");
    vec![
        json!({ "number": 1, "html_url": format!("https://github.com/{REPO}/pull/1"), "state": "open",
                "title": "fix release", "body": marker.clone(), "labels": label,
                "pull_request": { "url": "x" } }),
        json!({ "number": 2, "html_url": format!("https://github.com/{REPO}/issues/2"), "state": "open",
                "title": "releases are flaky", "body": "filed by a person", "labels": label }),
        json!({ "number": 3, "html_url": format!("https://github.com/{REPO}/issues/3"), "state": "closed",
                "title": "old failure", "body": marker, "labels": label }),
    ]
}

#[test]
fn first_failure_opens_an_issue_and_the_next_comments_on_it() {
    let server = StandIn::start(preexisting());
    let mut t = Native::new(Some(TOKEN));

    let out = stage(
        &server.api(),
        failure(
            "mypylogger-release",
            "12345",
            "upload",
            "upload to https://upload.pypi.org/legacy/ failed: connection reset",
        ),
        &mut t,
    )
    .unwrap();
    assert_eq!(
        out,
        json!({ "action": "opened", "issue": 4, "url": format!("https://github.com/{REPO}/issues/4") })
    );
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2, "{reqs:#?}");
    assert_eq!(reqs[0].method, "GET");
    assert_eq!(
        reqs[0].target,
        format!("/repos/{REPO}/issues?state=open&labels=release-failure&per_page=100")
    );
    let open = &reqs[1];
    assert_eq!(
        (open.method.as_str(), open.target.as_str()),
        ("POST", "/repos/owner/name/issues")
    );
    assert_eq!(open.header("content-type"), Some("application/json"));
    assert!(
        open.header("user-agent")
            .unwrap()
            .starts_with("airlock-notify/")
    );
    assert_eq!(open.body["labels"], json!(["release-failure"]));
    assert_eq!(
        open.body["title"],
        "Release failed: mypylogger-release at stage upload (network)"
    );
    let body = open.body["body"].as_str().unwrap();
    for needle in [
        "failed at stage `upload`",
        "- **Stage:** `upload`",
        "- **Category:** `network`",
        "upload to https://upload.pypi.org/legacy/ failed: connection reset",
        "check https://status.python.org and run the workflow again",
        "[run 12345](https://github.com/owner/name/actions/runs/12345)",
        "upload: attempt 5 of 5 failed\ngiving up after 5 attempts",
    ] {
        assert!(body.contains(needle), "{needle:?} not in\n{body}");
    }

    // The second failure (another run, another stage) comments on issue 4.
    let out = stage(
        &server.api(),
        failure(
            "mypylogger-release",
            "12346",
            "build",
            "the wheel is not reproducible",
        ),
        &mut t,
    )
    .unwrap();
    assert_eq!(
        out,
        json!({ "action": "commented", "issue": 4, "url": format!("https://github.com/{REPO}/issues/4#issuecomment-5000") })
    );
    let reqs = server.requests();
    assert_eq!(reqs.len(), 4);
    assert_eq!(
        (reqs[3].method.as_str(), reqs[3].target.as_str()),
        ("POST", "/repos/owner/name/issues/4/comments")
    );
    let c = reqs[3].body["body"].as_str().unwrap();
    assert!(
        c.starts_with("## Failed again at stage `build` (run `12346`)"),
        "{c}"
    );
    assert!(c.contains("the wheel is not reproducible") && c.contains("actions/runs/12346"));
    assert!(c.contains("build: attempt 5 of 5 failed"));
    let st = server.state.lock().unwrap();
    assert_eq!(st.issues.len(), 4, "no second issue");
    assert_eq!(st.comments.len(), 1);
    drop(st);

    // Another pipeline with the same label gets its own issue.
    let out = stage(&server.api(), failure("other", "1", "upload", "m"), &mut t).unwrap();
    assert_eq!(
        (out["action"].as_str(), out["issue"].as_u64()),
        (Some("opened"), Some(5))
    );
}

#[test]
fn rejected_token_is_an_authentication_error_with_the_hint() {
    let server = StandIn::start(Vec::new());
    let mut t = Native::new(None);
    let e = stage(&server.api(), failure("p", "1", "upload", "m"), &mut t).unwrap_err();
    assert_eq!(e.category, Category::Authentication);
    assert!(!e.retryable);
    assert!(
        e.message.contains("401") && e.message.contains("Bad credentials"),
        "{}",
        e.message
    );
    assert!(
        e.hint.as_deref().unwrap().contains("issues: write"),
        "{e:?}"
    );
    assert_eq!(
        server.requests().len(),
        1,
        "nothing is posted after a refusal"
    );
}

#[test]
fn wrong_repository_and_unreachable_api() {
    let server = StandIn::start(Vec::new());
    let mut t = Native::new(Some(TOKEN));
    let req = airlock_stage::Request::new(
        "notify",
        json!({ "api": server.api(), "repository": "owner/other" }),
    )
    .with_input("failure", failure("p", "1", "upload", "m"));
    let e = airlock_notify::run(&req, &mut t).unwrap_err();
    assert_eq!(e.category, Category::Configuration);
    assert!(
        e.message.contains("404") && e.message.contains("owner/other"),
        "{}",
        e.message
    );

    // A port nobody listens on: a retryable network error.
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let e = stage(
        &format!("http://127.0.0.1:{closed}"),
        failure("p", "1", "upload", "m"),
        &mut t,
    )
    .unwrap_err();
    assert_eq!((e.category, e.retryable), (Category::Network, true));
}
