//! A contributor's path, for real: `airlock new-stage` writes a crate that builds for
//! wasm32-wasip2, passes its own tests (the native unit tests and the component test that
//! runs it under this airlock binary) and runs with `airlock run` on its `stage.toml`; the
//! worked example in examples/custom-stage builds from its own workspace and, in the demo
//! pipeline, passes when CHANGELOG.md has an entry for the version decide releases and fails
//! with a validation error (and no build) when it has none.
//!
//! The nested cargo builds use their own target folder, `target/scaffold-test` (shared by
//! both crates and kept between runs, so reruns take seconds), so they never wait for the
//! lock of the build running this test.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{airlock, cache_dir, copy_tree, report, stage};

/// The target folder of the nested cargo builds.
fn target_dir() -> PathBuf {
    airlock_test_support::workspace().join("target/scaffold-test")
}

/// `cargo ARGS` in `dir` with the shared target folder; panics with its output on failure.
fn cargo(dir: &Path, args: &[&str], envs: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target_dir())
        .env("AIRLOCK_CACHE_DIR", cache_dir())
        .env_remove("GITHUB_ACTIONS");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("cannot run cargo");
    assert!(
        out.status.success(),
        "cargo {} in {} failed:\n{}\n{}",
        args.join(" "),
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The component cargo built for `lib`, copied to where a manifest next to `crate_dir`
/// expects it with cargo's default target folder (`target/wasm32-wasip2/release/`).
fn place_component(lib: &str, crate_dir: &Path) -> PathBuf {
    let built = target_dir().join(format!("wasm32-wasip2/release/{lib}.wasm"));
    let dest = crate_dir.join("target/wasm32-wasip2/release");
    std::fs::create_dir_all(&dest).unwrap();
    let dest = dest.join(format!("{lib}.wasm"));
    std::fs::copy(&built, &dest)
        .unwrap_or_else(|e| panic!("{} was not built: {e}", built.display()));
    dest
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn a_new_stage_builds_passes_its_tests_and_runs_in_a_pipeline() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_str().unwrap();

    // Refused before anything is written: a bad name, and later an existing folder.
    let out = airlock(&["new-stage", "Bad_Name", "--dir", dir], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("'B' is not allowed"), "{}", text(&out));
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);

    let out = airlock(&["new-stage", "release-note", "--dir", dir], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let root = tmp.path().join("release-note");
    for f in [
        "Cargo.toml",
        "src/lib.rs",
        "tests/component.rs",
        "stage.toml",
        "README.md",
    ] {
        assert!(root.join(f).is_file(), "new-stage wrote no {f}");
    }
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    assert!(readme.contains("cargo build --release --target wasm32-wasip2"));
    let stage_toml = std::fs::read_to_string(root.join("stage.toml")).unwrap();
    assert!(stage_toml.contains("files = []"), "{stage_toml}");

    std::fs::write(root.join("README.md"), "mine").unwrap();
    let out = airlock(&["new-stage", "release-note", "--dir", dir], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("already exists"), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(root.join("README.md")).unwrap(),
        "mine"
    );

    // The crate's own tests: the native unit tests and the component test, which builds
    // the component (the README's command) and runs it with this airlock binary.
    let bin = Path::new(env!("CARGO_BIN_EXE_airlock"));
    let out = cargo(&root, &["test"], &[("AIRLOCK_BIN", bin)]);
    let log = text(&out);
    assert!(
        log.contains("greets_and_logs_through_the_host ... ok"),
        "{log}"
    );
    assert!(
        log.contains("runs_as_a_component_under_the_real_host ... ok"),
        "{log}"
    );

    // Without AIRLOCK_BIN the component test fails with the instruction; it never skips.
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    let out = cmd
        .args(["test", "--test", "component"])
        .current_dir(&root)
        .env("CARGO_TARGET_DIR", target_dir())
        .env_remove("AIRLOCK_BIN")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out).contains("AIRLOCK_BIN is not set"),
        "{}",
        text(&out)
    );

    // stage.toml runs as written, and audit shows that nothing is granted.
    place_component("release_note", &root);
    let manifest = root.join("stage.toml");
    let manifest = manifest.to_str().unwrap();
    let out = airlock(&["run", manifest, "--format", "json"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let r = report(&out);
    assert_eq!(
        stage(&r, "release-note")["output"],
        serde_json::json!({ "message": "Hello, world!" })
    );
    let out = airlock(&["audit", manifest, "--format", "json"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let audit: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = &audit["stages"][0];
    assert_eq!(s["id"], "release-note", "{s}");
    assert_eq!(s["grants"]["files"], serde_json::json!([]), "{s}");
    assert_eq!(s["grants"]["http"], serde_json::json!([]), "{s}");
}

#[test]
fn the_custom_stage_example_gates_the_build_on_the_changelog() {
    let example = airlock_test_support::workspace().join("examples/custom-stage");
    // Its native unit tests, then the component, as its README says (with the lockfile
    // as committed).
    let out = cargo(&example, &["test", "--locked"], &[]);
    assert!(
        text(&out).contains("test result: ok. 4 passed"),
        "{}",
        text(&out)
    );
    cargo(
        &example,
        &[
            "build",
            "--locked",
            "--release",
            "--target",
            "wasm32-wasip2",
        ],
        &[],
    );

    // examples/custom-stage/release.toml as it is, beside a copy of examples/demo.
    let tmp = tempfile::tempdir().unwrap();
    let here = tmp.path().join("custom-stage");
    std::fs::create_dir_all(&here).unwrap();
    std::fs::copy(example.join("release.toml"), here.join("release.toml")).unwrap();
    place_component("changelog_check", &here);
    let demo = tmp.path().join("demo");
    copy_tree(
        &airlock_test_support::workspace().join("examples/demo"),
        &demo,
    );
    let manifest = here.join("release.toml");
    let manifest = manifest.to_str().unwrap();
    let state = tmp.path().join("state");
    let state = state.to_str().unwrap();

    let out = airlock(
        &["run", manifest, "--state", state, "--format", "json"],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let r = report(&out);
    let c = stage(&r, "changelog");
    assert_eq!(c["status"], "succeeded", "{c}");
    assert_eq!(c["output"]["version"], "0.1.0", "{c}");
    assert!(
        c["output"]["heading"]
            .as_str()
            .unwrap()
            .starts_with("## [0.1.0]"),
        "{c}"
    );
    assert_eq!(stage(&r, "build")["status"], "succeeded");
    assert!(
        text(&out).contains("changelog: CHANGELOG.md:"),
        "{}",
        text(&out)
    );

    // No entry for 0.1.0: a validation error with a hint, and nothing is built.
    std::fs::write(
        demo.join("CHANGELOG.md"),
        "# Changelog\n\n## [Unreleased]\n- greet\n\n## [0.0.9] - 2026-01-01\n- first\n",
    )
    .unwrap();
    std::fs::remove_dir_all(demo.join("dist")).unwrap();
    let out = airlock(
        &["run", manifest, "--state", state, "--format", "json"],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let r = report(&out);
    let f = &stage(&r, "changelog")["failure"];
    assert_eq!(f["category"], "validation", "{f}");
    assert_eq!(
        f["message"], "CHANGELOG.md has no entry for version 0.1.0",
        "{f}"
    );
    assert!(
        f["hint"]
            .as_str()
            .unwrap()
            .contains("rename the Unreleased section (CHANGELOG.md:3"),
        "{f}"
    );
    assert_eq!(stage(&r, "build")["status"], "not_run");
    assert!(
        !demo.join("dist").exists(),
        "built without a changelog entry"
    );
}

/// The SDK as a contributor gets it from a registry: `cargo package -p airlock-stage`
/// (which builds the packaged crate on its own, as `cargo publish` does), then
/// examples/custom-stage built for wasm32-wasip2 against that package, with the WIT world
/// the package carries, not against this checkout.
#[test]
fn the_custom_stage_builds_against_the_packaged_sdk() {
    let ws = airlock_test_support::workspace();
    let version = env!("CARGO_PKG_VERSION");
    cargo(
        &ws,
        &[
            "package",
            "-p",
            "airlock-stage",
            "--allow-dirty",
            "--offline",
        ],
        &[],
    );
    let packaged = target_dir().join(format!("package/airlock-stage-{version}.crate"));
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new("tar")
        .arg("-xzf")
        .arg(&packaged)
        .arg("-C")
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let sdk = tmp.path().join(format!("airlock-stage-{version}"));
    assert!(
        sdk.join("wit/stage.wit").is_file(),
        "the package lacks its WIT world"
    );

    // The example's sources and lockfile, its SDK dependency pointed at the package.
    let example = ws.join("examples/custom-stage");
    let here = tmp.path().join("custom-stage");
    std::fs::create_dir_all(&here).unwrap();
    copy_tree(&example.join("src"), &here.join("src"));
    std::fs::copy(example.join("Cargo.lock"), here.join("Cargo.lock")).unwrap();
    let manifest = std::fs::read_to_string(example.join("Cargo.toml")).unwrap();
    let from = r#"airlock-stage = { path = "../../crates/stage" }"#;
    assert!(manifest.contains(from), "{manifest}");
    let to = format!("airlock-stage = {{ path = {:?} }}", sdk.to_str().unwrap());
    std::fs::write(here.join("Cargo.toml"), manifest.replace(from, &to)).unwrap();
    cargo(
        &here,
        &[
            "build",
            "--locked",
            "--offline",
            "--release",
            "--target",
            "wasm32-wasip2",
        ],
        &[],
    );
    let wasm =
        std::fs::read(target_dir().join("wasm32-wasip2/release/changelog_check.wasm")).unwrap();
    // A component (layer 1), not a core module: `\0asm`, version 0x0d, layer 0x01.
    assert_eq!(&wasm[..8], b"\0asm\x0d\x00\x01\x00");
}
