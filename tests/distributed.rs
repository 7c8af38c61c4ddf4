//! Distributed runs: the demo pipeline split into jobs (`--only … --state DIR`), each in its
//! own process and its own fresh copy of the project, with the state folder copied between
//! them as a CI artifact would be. The split run must give the same result as one
//! `airlock run`; a state folder changed between jobs must be refused, naming the file;
//! on-failure stages get the failure report; GitHub Actions files are written.

mod common;

use std::path::{Path, PathBuf};

use common::{airlock, copy_tree, report, stage};

/// A fresh checkout of the demo project in `dir`.
fn checkout(dir: &Path) -> PathBuf {
    copy_tree(
        &airlock_test_support::workspace().join("examples/demo"),
        dir,
    );
    dir.join("release.toml")
}

/// `cp -r from to` for a state folder (what upload-artifact + download-artifact do).
fn hand_over(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    copy_tree_all(from, to);
}

fn copy_tree_all(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_tree_all(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

fn job(
    tmp: &Path,
    name: &str,
    only: &str,
    state: &Path,
) -> (std::process::Output, serde_json::Value) {
    let manifest = checkout(&tmp.join(name));
    let out = airlock(
        &[
            "run",
            manifest.to_str().unwrap(),
            "--only",
            only,
            "--state",
            state.to_str().unwrap(),
            "--format",
            "json",
        ],
        &[("PYPI_TOKEN", "")],
    );
    let r = report(&out);
    (out, r)
}

#[test]
fn a_split_run_equals_one_run_and_tampering_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();

    // The reference: one run.
    let whole = checkout(&t.join("whole"));
    let out = airlock(
        &["run", whole.to_str().unwrap(), "--format", "json"],
        &[("PYPI_TOKEN", "")],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let one = report(&out);

    // Four jobs, each a new process in a new checkout, the state handed over in between.
    let s1 = t.join("state-1");
    let (o, r1) = job(t, "job-scan", "detect,decide", &s1);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(r1["stages"].as_array().unwrap().len(), 2);
    let s2 = t.join("state-2");
    hand_over(&s1, &s2);
    let (o, r2) = job(t, "job-build", "build", &s2);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let s3 = t.join("state-3");
    hand_over(&s2, &s3);
    let (o, r3) = job(t, "job-publish", "authenticate,upload", &s3);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let s4 = t.join("state-4");
    hand_over(&s3, &s4);
    let (o, r4) = job(t, "job-status", "status", &s4);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // The same decision, the same artifacts, the same uploads, the same grade.
    assert_eq!(
        stage(&r1, "decide")["output"],
        stage(&one, "decide")["output"]
    );
    assert_eq!(
        stage(&r2, "build")["output"],
        stage(&one, "build")["output"]
    );
    assert_eq!(
        stage(&r3, "upload")["output"]["files"],
        stage(&one, "upload")["output"]["files"]
    );
    assert_eq!(
        stage(&r4, "status")["output"]["grade"],
        stage(&one, "status")["output"]["grade"]
    );
    // The publish job's checkout got the wheel from the state folder, verified.
    let wheel = "dist/airlock_demo-0.1.0-py3-none-any.whl";
    assert_eq!(
        std::fs::read(t.join("job-publish").join(wheel)).unwrap(),
        std::fs::read(t.join("whole").join(wheel)).unwrap()
    );
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(s4.join("state.json")).unwrap()).unwrap();
    for id in common::RELEASE_STAGES {
        assert_eq!(
            state["stages"][id]["status"], "succeeded",
            "{id} missing from the final state"
        );
    }

    // Tampering between the build job and the publish job is refused, naming the file.
    let tamper = |name: &str, change: &dyn Fn(&Path), needle: &str| {
        let s = t.join(format!("state-{name}"));
        hand_over(&s2, &s);
        change(&s);
        let (o, _) = job(t, &format!("job-{name}"), "authenticate,upload", &s);
        let stderr = String::from_utf8_lossy(&o.stderr).to_string();
        assert_eq!(
            o.status.code(),
            Some(1),
            "{name}: the run was not refused:\n{stderr}"
        );
        assert!(
            stderr.contains(needle),
            "{name}: the error does not name {needle}:\n{stderr}"
        );
        assert!(
            !t.join(format!("job-{name}/.airlock/index/packages"))
                .exists(),
            "{name}: something was published"
        );
    };
    tamper(
        "swapped-wheel",
        &|s| std::fs::write(s.join("artifacts").join(wheel), b"not the wheel").unwrap(),
        "airlock_demo-0.1.0-py3-none-any.whl",
    );
    tamper(
        "edited-decision",
        &|s| {
            let p = s.join("outputs/decide.json");
            let text = std::fs::read_to_string(&p)
                .unwrap()
                .replace("\"release\": true", "\"release\": true ");
            std::fs::write(p, text).unwrap();
        },
        "outputs/decide.json",
    );
    tamper(
        "removed-output",
        &|s| std::fs::remove_file(s.join("outputs/build.json")).unwrap(),
        "outputs/build.json",
    );
    tamper(
        "added-file",
        &|s| std::fs::write(s.join("artifacts/dist/extra-9.9-py3-none-any.whl"), b"x").unwrap(),
        "extra-9.9-py3-none-any.whl",
    );
    // A needed stage that never ran is named.
    let (o, _) = job(t, "job-early", "upload", &t.join("state-empty"));
    assert_eq!(o.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("is needed but its result is not in the state folder")
            && stderr.contains("--only authenticate"),
        "{stderr}"
    );
}

#[test]
fn on_failure_stages_get_the_failure_report_and_github_files_are_written() {
    let wasm = env!("AIRLOCK_TEST_HOSTILE_WASM");
    let tmp = tempfile::tempdir().unwrap();
    let manifest = checkout(&tmp.path().join("p"));
    let text = format!(
        r#"[pipeline]
name = "failing"

[[stage]]
id = "detect"
component = "builtin:detect"
config = {{ current = "security/current" }}
[stage.grants]
files = [{{ path = "security", access = "read" }}]

[[stage]]
id = "decide"
component = "builtin:decide"
needs = ["detect"]
config = {{ manual = true, tag = "v9.9.9" }}
[stage.grants]
files = [{{ path = ".", access = "read" }}]

[[stage]]
id = "notify"
component = {{ path = "{wasm}" }}
when = "failed"
config = {{ attempt = "inputs" }}
"#
    );
    std::fs::write(&manifest, text).unwrap();
    let summary = tmp.path().join("summary.md");
    let outputs = tmp.path().join("outputs.txt");
    let out = airlock(
        &["run", manifest.to_str().unwrap(), "--format", "json"],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
            ("GITHUB_OUTPUT", outputs.to_str().unwrap()),
            ("GITHUB_RUN_ID", "4242"),
            ("GITHUB_EVENT_NAME", "workflow_dispatch"),
            ("GITHUB_REPOSITORY", "octo/demo"),
            ("GITHUB_SERVER_URL", "https://github.com"),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The tag does not match the version: decide fails, with an ::error annotation.
    // With --format json the workflow commands go to stderr: stdout stays one JSON document.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("::error title=airlock stage decide failed (validation)::"),
        "{stderr}"
    );
    let r: serde_json::Value = serde_json::from_str(&stdout).expect("stdout is one JSON document");
    let f = &r["failure"];
    assert_eq!(f["stage"], "decide");
    assert_eq!(f["category"], "validation");
    assert_eq!(f["run_id"], "4242");
    assert_eq!(f["event"], "workflow_dispatch");
    assert_eq!(
        f["run_url"],
        "https://github.com/octo/demo/actions/runs/4242"
    );
    assert!(f["hint"].is_string() && f["timestamp"].as_str().unwrap().ends_with('Z'));
    assert!(!f["log_excerpt"].as_array().unwrap().is_empty());
    // The on-failure stage ran with the failure report as its input.
    let n = stage(&r, "notify");
    assert_eq!(n["status"], "succeeded", "{n}");
    assert_eq!(n["output"]["inputs"]["failure"]["stage"], "decide");
    // GitHub Actions files.
    let summary = std::fs::read_to_string(&summary).unwrap();
    assert!(
        summary.contains("| decide | **failed** (validation)") && summary.contains("Hint:"),
        "{summary}"
    );
    let outputs = std::fs::read_to_string(&outputs).unwrap();
    let entries = airlock::encode::parse_github_output(&outputs).unwrap();
    assert!(
        entries.contains(&("success".into(), "false".into())),
        "{outputs}"
    );
}

#[test]
fn a_successful_run_writes_key_outputs_for_github() {
    let tmp = tempfile::tempdir().unwrap();
    let manifest = checkout(&tmp.path().join("p"));
    let outputs = tmp.path().join("outputs.txt");
    let summary = tmp.path().join("summary.md");
    let out = airlock(
        &["run", manifest.to_str().unwrap()],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_OUTPUT", outputs.to_str().unwrap()),
            ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
            ("PYPI_TOKEN", ""),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let outputs = std::fs::read_to_string(&outputs).unwrap();
    let entries = airlock::encode::parse_github_output(&outputs).unwrap();
    for (k, v) in [
        ("release", "true"),
        ("trigger", "security_auto"),
        ("version", "0.1.0"),
        ("grade", "B"),
        ("success", "true"),
    ] {
        assert!(
            entries.contains(&(k.to_string(), v.to_string())),
            "missing {k}={v} in:\n{outputs}"
        );
    }
    let summary = std::fs::read_to_string(&summary).unwrap();
    let md = airlock::encode::markdown;
    assert!(
        summary.contains("| release | true |")
            && summary.contains("**Decision:**")
            && summary.contains(&md("dist/airlock_demo-0.1.0-py3-none-any.whl"))
            && summary.contains("| grade | B |"),
        "{summary}"
    );
}

/// A stand-in of GitHub's issues API on 127.0.0.1 (the two endpoints a first failure uses):
/// `GET /repos/{o}/{r}/issues?...` answers `[]`; `POST /repos/{o}/{r}/issues` answers 201
/// with `number` and `html_url`. Records (request line, authorization, body). At most 8
/// connections, 10 s read timeout each.
/// Requests the stand-in saw: (request line, authorization, body).
type Seen = std::sync::Arc<std::sync::Mutex<Vec<(String, String, String)>>>;

fn issues_standin() -> (u16, Seen) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().take(8) {
            let Ok(mut c) = conn else { continue };
            let _ = c.set_read_timeout(Some(std::time::Duration::from_secs(10)));
            let mut data = Vec::new();
            let mut buf = [0u8; 16384];
            // Read the head, then the body by Content-Length.
            loop {
                let n = c.read(&mut buf).unwrap_or(0);
                if n == 0 {
                    break;
                }
                data.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&data).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let len = text[..end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if data.len() >= end + 4 + len {
                        break;
                    }
                }
            }
            let text = String::from_utf8_lossy(&data).to_string();
            let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
            let line = head.lines().next().unwrap_or("").to_string();
            let auth = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .starts_with("authorization:")
                        .then(|| l[14..].trim().to_string())
                })
                .unwrap_or_default();
            seen2
                .lock()
                .unwrap()
                .push((line.clone(), auth, body.to_string()));
            let (status, reply) = if line.starts_with("GET ") {
                ("200 OK", "[]".to_string())
            } else {
                (
                    "201 Created",
                    r#"{"number":7,"html_url":"https://github.com/octo/demo/issues/7","labels":[{"name":"release-failure"}]}"#.to_string(),
                )
            };
            let _ = write!(
                c,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                reply.len()
            );
        }
    });
    (port, seen)
}

#[test]
fn the_notify_stage_opens_an_issue_with_the_failure_and_an_injected_token() {
    let tmp = tempfile::tempdir().unwrap();
    let manifest = checkout(&tmp.path().join("p"));
    let (port, seen) = issues_standin();
    let text = format!(
        r#"[pipeline]
name = "failing"

[secrets]
github-token = {{ env = "GH_TOKEN" }}

[[stage]]
id = "decide"
component = "builtin:decide"
config = {{ manual = true, tag = "v9.9.9" }}
[stage.grants]
files = [{{ path = ".", access = "read" }}]

[[stage]]
id = "notify"
component = "builtin:notify"
when = "failed"
config = {{ repository = "octo/demo", api = "http://127.0.0.1:{port}" }}
[stage.grants]
http = ["http://127.0.0.1:{port}"]
secrets = {{ inject = [{{ secret = "github-token", into = "http://127.0.0.1:{port}", as = "bearer" }}] }}
"#
    );
    std::fs::write(&manifest, text).unwrap();
    let token = "ghs_notifyTestToken0123456789abcdef";
    let out = airlock(
        &["run", manifest.to_str().unwrap(), "--format", "json"],
        &[("GH_TOKEN", token)],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = report(&out);
    let n = stage(&r, "notify");
    assert_eq!(n["status"], "succeeded", "{n}");
    assert_eq!(n["output"]["action"], "opened");
    assert_eq!(n["output"]["issue"], 7);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(
        seen[0]
            .0
            .starts_with("GET /repos/octo/demo/issues?state=open&labels=release-failure"),
        "{seen:?}"
    );
    assert!(
        seen[1].0.starts_with("POST /repos/octo/demo/issues"),
        "{seen:?}"
    );
    for (_, auth, _) in &seen {
        assert_eq!(
            auth,
            &format!("Bearer {token}"),
            "the host injects the token"
        );
    }
    let body: serde_json::Value = serde_json::from_str(&seen[1].2).unwrap();
    let text = body["body"].as_str().unwrap();
    assert!(
        text.contains("decide")
            && text.contains("configuration")
            && text.contains("no detect output"),
        "{text}"
    );
    assert_eq!(body["labels"][0], "release-failure");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains(token), "the token leaked into the run output");
}
