//! Security intelligence end to end: the real `airlock` binary runs the real detect and
//! decide components against a real pypiserver on 127.0.0.1.
//!
//! - detect's previous scan comes from the last run's state (`previous_state`): the first
//!   run has no baseline; the second compares with the first;
//! - decide checks the version against the index's simple API through the sandbox's http
//!   grant: a security release of a version already on the index is blocked and the next
//!   patch is suggested; a new version passes; without the grant the request is refused.

mod common;

use common::{airlock, report, stage};

use airlock_test_support::PypiServer;
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
