//! The sandbox holds from the start: a stage that reads a file or reaches a host it was not
//! granted fails with a capability error naming the stage and the path or URL; secrets and
//! variables are deny-by-default; manifest errors name the file, line and field (exit 2).

mod common;

use std::path::Path;

use common::{airlock, copy_tree, report, stage};

/// A copy of the demo project with `manifest` as release.toml; returns the manifest path.
fn project_with(dir: &Path, manifest: &str) -> String {
    copy_tree(
        &airlock_test_support::workspace().join("examples/demo"),
        dir,
    );
    let path = dir.join("release.toml");
    std::fs::write(&path, manifest).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn reading_an_ungranted_folder_is_a_capability_error_naming_the_path() {
    let tmp = tempfile::tempdir().unwrap();
    let m = project_with(
        tmp.path(),
        r#"
[pipeline]
name = "t"
[[stage]]
id = "detect"
component = "builtin:detect"
config = { current = "security/current" }
[stage.grants]
files = [{ path = "src", access = "read" }]
"#,
    );
    let out = airlock(&["run", &m, "--format", "json"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let r = report(&out);
    let f = &stage(&r, "detect")["failure"];
    assert_eq!(f["category"], "capability", "{f}");
    assert!(
        f["message"].as_str().unwrap().contains("security/current"),
        "{f}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("detect failed: capability error"),
        "{stderr}"
    );
}

#[test]
fn writing_into_a_read_only_grant_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let m = project_with(
        tmp.path(),
        r#"
[pipeline]
name = "t"
[[stage]]
id = "build"
component = "builtin:build"
config = { out = "dist" }
[stage.grants]
files = [{ path = ".", access = "read" }]
"#,
    );
    let out = airlock(&["run", &m, "--format", "json"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let r = report(&out);
    let f = &stage(&r, "build")["failure"];
    assert_eq!(f["category"], "capability", "{f}");
    assert!(f["message"].as_str().unwrap().contains("dist"), "{f}");
    assert!(
        !tmp.path().join("dist").exists(),
        "a read-only grant let the stage create dist/"
    );
}

#[test]
fn a_request_to_an_ungranted_origin_is_refused_and_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let port = airlock_test_support::free_port();
    let m = project_with(
        tmp.path(),
        r#"
[pipeline]
name = "t"
[[stage]]
id = "build"
component = "builtin:build"
[stage.grants]
files = [{ path = ".", access = "read" }, { path = "dist", access = "write" }]
[[stage]]
id = "upload"
component = "builtin:upload"
needs = ["build"]
config = { repository = "http://127.0.0.1:1/" }
[stage.grants]
files = [{ path = "dist", access = "read" }]
http = ["http://127.0.0.1:9"]
"#,
    );
    let repo = format!("upload.repository=http://127.0.0.1:{port}/");
    let out = airlock(&["run", &m, "--set", &repo, "--format", "json"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let r = report(&out);
    let up = stage(&r, "upload");
    assert_eq!(up["failure"]["category"], "capability", "{up}");
    let denied = up["denied"].as_array().unwrap();
    assert!(
        denied.iter().any(|u| u
            .as_str()
            .unwrap()
            .starts_with(&format!("http://127.0.0.1:{port}/"))),
        "{up}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "upload: sandbox refused a request to http://127.0.0.1:{port}/"
        )),
        "{stderr}"
    );
}

#[test]
fn variables_and_secrets_are_deny_by_default() {
    let tmp = tempfile::tempdir().unwrap();
    // The variable is set for the host but not granted: the stage cannot see it.
    let m = project_with(
        tmp.path(),
        r#"
[pipeline]
name = "t"
[[stage]]
id = "authenticate"
component = "builtin:authenticate"
config = { env = "PYPI_TOKEN" }
[stage.grants]
secrets = { produce = ["pypi-token"] }
"#,
    );
    let out = airlock(
        &["run", &m, "--format", "json"],
        &[("PYPI_TOKEN", "pypi-not-granted-value")],
    );
    assert_eq!(out.status.code(), Some(1));
    let r = report(&out);
    let f = &stage(&r, "authenticate")["failure"];
    assert_eq!(f["category"], "authentication", "{f}");
    assert!(
        f["hint"]
            .as_str()
            .unwrap()
            .contains("env = [\"PYPI_TOKEN\"]"),
        "{f}"
    );

    // The variable is granted but the secret name is not in produce: store-secret refused.
    let m = project_with(
        &tmp.path().join("b"),
        r#"
[pipeline]
name = "t"
[[stage]]
id = "authenticate"
component = "builtin:authenticate"
config = { env = "PYPI_TOKEN", secret = "other" }
[stage.grants]
env = ["PYPI_TOKEN"]
secrets = { produce = ["pypi-token"] }
"#,
    );
    let out = airlock(
        &["run", &m, "--format", "json"],
        &[("PYPI_TOKEN", "pypi-granted-value-1234")],
    );
    assert_eq!(out.status.code(), Some(1));
    let r = report(&out);
    let f = &stage(&r, "authenticate")["failure"];
    assert_eq!(f["category"], "capability", "{f}");
    assert!(f["message"].as_str().unwrap().contains("\"other\""), "{f}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("pypi-granted-value-1234"));
}

#[test]
fn manifest_errors_name_file_line_and_field_and_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        (
            "[pipeline]\nname = \"t\"\n[[stage]]\nid = \"detect\"\ncomponent = \"builtin:detect\"\n[stage.grants]\nfiles = [{ path = \"../outside\", access = \"read\" }]\n",
            ":7: stage \"detect\": grants.files[0].path",
            "escapes the project",
        ),
        (
            "[pipeline]\nname = \"t\"\n[[stage]]\nid = \"u\"\ncomponent = \"builtin:upload\"\n[stage.grants]\nhttp = [\"http://example.com\"]\n",
            ":7: stage \"u\": grants.http[0]",
            "only for loopback",
        ),
        (
            "[pipeline]\nname = \"t\"\n[[stage]]\nid = \"a\"\ncomponent = \"builtin:detect\"\nneeds = [\"b\"]\n",
            ":6: stage \"a\": needs",
            "unknown stage \"b\"",
        ),
        (
            "[pipeline]\nname = \"t\"\n[[stage]]\nid = \"a\"\ncomponent = \"builtin:nope\"\n",
            ":5: stage \"a\": component",
            "builtin:detect",
        ),
        (
            "[pipeline]\nname = \"t\"\n[[stage]]\nid = \"a\"\ncomponent = \"builtin:detect\"\ngrant = {}\n",
            ":6",
            "unknown field `grant`",
        ),
    ];
    for (i, (text, place, what)) in cases.iter().enumerate() {
        let path = tmp.path().join(format!("m{i}.toml"));
        std::fs::write(&path, text).unwrap();
        let out = airlock(&["run", path.to_str().unwrap()], &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "case {i}: {stderr}");
        assert!(
            stderr.contains(&format!("m{i}.toml{place}")),
            "case {i}: {stderr}"
        );
        assert!(stderr.contains(what), "case {i}: {stderr}");
    }
    let out = airlock(&["run", "/nonexistent/release.toml"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let out = airlock(
        &[
            "run",
            tmp.path().join("m0.toml").to_str().unwrap(),
            "--set",
            "nosuch.key=1",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn audit_lists_digests_imports_and_grants() {
    let m = airlock_test_support::workspace().join("examples/demo/release.toml");
    let out = airlock(&["audit", m.to_str().unwrap(), "--format", "json"], &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let stages = a["stages"].as_array().unwrap();
    assert_eq!(stages.len(), 6);
    let upload = stages.iter().find(|s| s["id"] == "upload").unwrap();
    assert_eq!(upload["sha256"].as_str().unwrap().len(), 64);
    let imports: Vec<&str> = upload["imports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_str().unwrap())
        .collect();
    assert!(
        imports
            .iter()
            .any(|i| i.starts_with("wasi:http/outgoing-handler")),
        "{imports:?}"
    );
    assert!(
        imports.iter().any(|i| i.starts_with("airlock:stage/host")),
        "{imports:?}"
    );
    // The demo's upload writes a file index: http is imported but nothing is granted.
    let findings = upload["findings"].to_string();
    assert!(
        findings.contains("imported-not-granted") && findings.contains("wasi:http"),
        "{findings}"
    );
    let human = airlock(&["audit", m.to_str().unwrap()], &[]);
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains("stage upload") && text.contains("files  .airlock/index (write)"),
        "{text}"
    );
}
