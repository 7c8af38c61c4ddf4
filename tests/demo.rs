//! End to end: the bundled demo pipeline, run twice by the real binary, then pip installs
//! the demo package from the file index it published.

mod common;

use common::{airlock, copy_tree, report, stage};

#[test]
fn demo_pipeline_publishes_an_installable_package_and_reruns_from_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("demo");
    copy_tree(
        &airlock_test_support::workspace().join("examples/demo"),
        &project,
    );
    let manifest = project.join("release.toml");
    let manifest = manifest.to_str().unwrap();

    let out = airlock(
        &["run", manifest, "--format", "json"],
        &[("PYPI_TOKEN", "")],
    );
    let first = report(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(first["success"], true);
    common::assert_succeeded(&first, &common::RELEASE_STAGES);
    // The demo's scans resolve two advisories: a security-driven release.
    let decide = &stage(&first, "decide")["output"];
    assert_eq!(decide["release"], true);
    assert_eq!(decide["trigger"], "security_auto");
    assert_eq!(decide["version"], "0.1.0");
    let detect = &stage(&first, "detect")["output"];
    assert_eq!(detect["changes"]["resolved"].as_array().unwrap().len(), 2);
    assert_eq!(stage(&first, "status")["output"]["grade"], "B");

    // Artifacts are in dist/ with the digests the build stage reported.
    let artifacts = stage(&first, "build")["output"]["artifacts"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(artifacts.len(), 2);
    for a in &artifacts {
        let bytes = std::fs::read(project.join(a["path"].as_str().unwrap())).unwrap();
        let sha = sha256_hex(&bytes);
        assert_eq!(a["sha256"].as_str().unwrap(), sha);
    }
    // The state folder holds each output with its sha256.
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(project.join(".airlock/state/state.json")).unwrap())
            .unwrap();
    let build_state = &state["stages"]["build"];
    let text = std::fs::read(
        project
            .join(".airlock/state")
            .join(build_state["output"].as_str().unwrap()),
    )
    .unwrap();
    assert_eq!(build_state["sha256"].as_str().unwrap(), sha256_hex(&text));
    // Status files are there.
    for f in [
        "index.json",
        "index.html",
        "history.json",
        "badges/grade.json",
    ] {
        assert!(
            project.join(".airlock/status").join(f).is_file(),
            "missing status file {f}"
        );
    }

    // pip installs the published package from the file index.
    let index = format!("file://{}/.airlock/index/simple", project.display());
    let target = airlock_test_support::pip_install(&index, "airlock-demo==0.1.0", "airlock_demo");
    assert!(target.path().join("airlock_demo/__init__.py").is_file());

    // Second run: every component is loaded precompiled (never compiled), the rebuilt files are
    // byte-identical, and the upload skips them as already published.
    let out = airlock(
        &["run", manifest, "--format", "json"],
        &[("PYPI_TOKEN", "")],
    );
    let second = report(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for s in second["stages"].as_array().unwrap() {
        assert_eq!(s["cache"], "embedded", "stage {} was compiled", s["id"]);
    }
    assert_eq!(
        stage(&second, "build")["output"]["artifacts"]
            .as_array()
            .unwrap(),
        &artifacts
    );
    for f in stage(&second, "upload")["output"]["files"]
        .as_array()
        .unwrap()
    {
        assert_eq!(f["status"], "skipped-identical", "{f}");
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
