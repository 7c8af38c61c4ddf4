//! Security intelligence end to end: the real `airlock` binary runs the real detect and
//! decide components against a real pypiserver on 127.0.0.1.
//!
//! - detect's previous scan comes from the last run's state (`previous_state`): the first
//!   run has no baseline; the second compares with the first;
//! - decide checks the version against the index's simple API through the sandbox's http
//!   grant: a security release of a version already on the index is blocked and the next
//!   patch is suggested; a new version passes; without the grant the request is refused;
//! - a busy index (503 with `Retry-After`, then a reset connection) is asked again, as the
//!   SDK's retry policy says, and the check still sees what pypiserver lists.

mod common;

use common::{airlock, report, stage};

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use airlock_test_support::PypiServer;
use airlock_test_support::http::{forward, read_request, respond, serve};
use serde_json::json;

fn pip_audit(with_py: bool) -> String {
    let vulns = if with_py {
        json!([{"id": "PYSEC-2022-42969", "fix_versions": [], "aliases": ["CVE-2022-42969"], "description": "ReDoS in py"}])
    } else {
        json!([])
    };
    json!({"dependencies": [{"name": "py", "version": "1.11.0", "vulns": vulns}], "fixes": []})
        .to_string()
}

fn manifest(index: &str, grant: &str) -> String {
    format!(
        r#"[pipeline]
name = "intel"
project = "."

[[stage]]
id = "detect"
component = "builtin:detect"
config = {{ current = "scans", previous_state = ".airlock/state" }}
[stage.grants]
files = [{{ path = "scans", access = "read" }}, {{ path = ".airlock/state", access = "read" }}]

[[stage]]
id = "decide"
component = "builtin:decide"
needs = ["detect"]
config = {{ index = "{index}", tag = "" }}
[stage.grants]
files = [{{ path = ".", access = "read" }}]
http = [{grant}]
"#
    )
}

#[test]
fn baseline_from_state_and_the_index_check() {
    let server = PypiServer::start(None);
    // intel-demo 0.1.0 is already published.
    std::fs::write(
        server.packages.join("intel_demo-0.1.0.tar.gz"),
        b"not really a tarball",
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let write_version = |v: &str| {
        std::fs::write(
            root.join("pyproject.toml"),
            format!("[project]\nname = \"intel-demo\"\nversion = \"{v}\"\n"),
        )
        .unwrap()
    };
    write_version("0.1.0");
    std::fs::create_dir_all(root.join("scans")).unwrap();
    std::fs::write(root.join("scans/pip-audit.json"), pip_audit(true)).unwrap();
    std::fs::write(root.join("scans/.gitkeep"), "").unwrap();
    let origin = format!("http://127.0.0.1:{}", server.port);
    std::fs::write(
        root.join("release.toml"),
        manifest(&server.simple(), &format!("\"{origin}\"")),
    )
    .unwrap();
    let m = root.join("release.toml");
    let m = m.to_str().unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec!["run", m, "--format", "json"];
        args.extend_from_slice(extra);
        let out = airlock(&args, &[]);
        (out.status.code(), report(&out))
    };

    // Run 1: no state yet → no baseline → no release; the index check is only reported.
    let (code, r) = run(&[]);
    assert_eq!(code, Some(0), "{r}");
    let det = &stage(&r, "detect")["output"];
    assert_eq!(det["baseline"], false);
    assert_eq!(det["ignored"], json!([".gitkeep"]));
    let dec = &stage(&r, "decide")["output"];
    assert_eq!(dec["release"], false, "{dec}");
    let check = dec["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "not_on_index")
        .unwrap();
    assert_eq!(check["ok"], false, "{check}");
    assert!(
        check["detail"]
            .as_str()
            .unwrap()
            .contains("intel_demo-0.1.0.tar.gz"),
        "{check}"
    );

    // Run 2: the advisory is gone. The baseline is run 1's state → resolved → a security
    // release, blocked because 0.1.0 is on the index; the hint suggests 0.1.1.
    std::fs::write(root.join("scans/pip-audit.json"), pip_audit(false)).unwrap();
    let (code, r) = run(&[]);
    assert_eq!(code, Some(1), "{r}");
    let det = &stage(&r, "detect")["output"];
    assert_eq!(det["baseline"], true, "{det}");
    assert_eq!(det["changes"]["resolved"][0]["id"], "PYSEC-2022-42969");
    let d = stage(&r, "decide");
    assert_eq!(d["status"], "failed", "{d}");
    let text = d["failure"].to_string();
    assert!(text.contains("not_on_index"), "{text}");
    assert!(text.contains("0.1.1"), "{text}");

    // Run 3: version bumped, manual release: the index has no 0.1.1 → released.
    write_version("0.1.1");
    let (code, r) = run(&["--set", "decide.manual=true"]);
    assert_eq!(code, Some(0), "{r}");
    let dec = &stage(&r, "decide")["output"];
    assert_eq!(dec["release"], true);
    assert_eq!(dec["trigger"], "manual");
    assert!(
        dec["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["ok"] == true),
        "{dec}"
    );

    // Without the http grant the sandbox refuses the request: a capability error.
    std::fs::write(root.join("release.toml"), manifest(&server.simple(), "")).unwrap();
    let (code, r) = run(&["--set", "decide.manual=true"]);
    assert_eq!(code, Some(1), "{r}");
    let d = stage(&r, "decide");
    assert_eq!(d["failure"]["category"], "capability", "{d}");
    assert!(d["failure"].to_string().contains(&origin), "{d}");
}

#[test]
fn a_busy_index_is_asked_again() {
    let server = PypiServer::start(None);
    std::fs::write(
        server.packages.join("intel_demo-0.1.0.tar.gz"),
        b"not really a tarball",
    )
    .unwrap();
    // In front of pypiserver: the first GET is answered 503 (Retry-After: 0), the second
    // has its connection closed unanswered, the rest pass through.
    let asked = Arc::new(AtomicUsize::new(0));
    let upstream = server.port;
    let seen = asked.clone();
    let port = serve(move |mut s| {
        let Ok(req) = read_request(&mut s, true) else {
            return;
        };
        match seen.fetch_add(1, Ordering::SeqCst) {
            0 => respond(&mut s, 503, &[("Retry-After", "0")], b"<h1>busy</h1>"),
            1 => drop(s),
            _ => {
                let _ = s.write_all(&forward(upstream, &req));
            }
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(
        root.join("pyproject.toml"),
        "[project]\nname = \"intel-demo\"\nversion = \"0.1.0\"\n",
    )
    .unwrap();
    std::fs::create_dir_all(root.join("scans")).unwrap();
    std::fs::write(root.join("scans/pip-audit.json"), pip_audit(false)).unwrap();
    let front = format!("http://127.0.0.1:{port}");
    std::fs::write(
        root.join("release.toml"),
        manifest(&format!("{front}/simple/"), &format!("\"{front}\"")),
    )
    .unwrap();
    let m = root.join("release.toml");
    let out = airlock(
        &[
            "run",
            m.to_str().unwrap(),
            "--format",
            "json",
            "--set",
            "decide.manual=true",
        ],
        &[],
    );
    let r = report(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // 0.1.0 is on the index: the check ran to the end and found it, after two retries.
    assert_eq!(asked.load(Ordering::SeqCst), 3, "{stderr}");
    let d = stage(&r, "decide");
    assert_eq!(d["status"], "failed", "{d}");
    assert!(
        d["failure"].to_string().contains("intel_demo-0.1.0.tar.gz"),
        "{d}"
    );
    assert!(
        stderr.contains("answered 503: busy (attempt 1); retrying in 0.0 s"),
        "{stderr}"
    );
    assert!(stderr.contains("(attempt 2); retrying in"), "{stderr}");
}
