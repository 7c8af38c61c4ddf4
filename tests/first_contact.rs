//! What a new user meets first, tried as one would with the real binary: the first run
//! loads the built-in stages precompiled (nothing to compile, nothing printed about it), a
//! component that is compiled says so, a component that cannot be loaded is a manifest
//! error (exit 2, what to build, no byte dumps, no state folder made), a missing
//! pyproject.toml is named as missing with a grant hint the manifest accepts, a state
//! folder or compile cache that cannot be written is said plainly, `audit` speaks the
//! manifest's language, and the README's mypylogger steps work as written.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{airlock, copy_tree, report, stage};

const BIN: &str = env!("CARGO_BIN_EXE_airlock");

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A manifest with one stage running `component` (TOML) on the demo project copy `project`.
fn one_stage(dir: &Path, component: &str) -> PathBuf {
    let m = dir.join("one.toml");
    std::fs::write(
        &m,
        format!(
            "[pipeline]\nname = \"first\"\nproject = \"project\"\n\n[[stage]]\nid = \"one\"\ncomponent = {component}\n"
        ),
    )
    .unwrap();
    m
}

fn demo_copy(dir: &Path) -> PathBuf {
    let p = dir.join("project");
    copy_tree(&airlock_test_support::workspace().join("examples/demo"), &p);
    let _ = std::fs::remove_dir_all(p.join(".airlock"));
    p
}

#[test]
fn the_built_in_stages_start_precompiled_on_an_empty_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let project = demo_copy(tmp.path());
    let cache = tmp.path().join("empty-cache");
    let m = project.join("release.toml");
    let out = Command::new(BIN)
        .args(["run", m.to_str().unwrap(), "--format", "json"])
        .env("AIRLOCK_CACHE_DIR", &cache)
        .env_remove("GITHUB_ACTIONS")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let r = report(&out);
    for s in r["stages"].as_array().unwrap() {
        assert_eq!(
            s["cache"], "embedded",
            "stage {} was not loaded precompiled: {s}",
            s["id"]
        );
    }
    assert!(
        !text(&out).contains("compiling"),
        "nothing should be compiled: {}",
        text(&out)
    );
}

#[test]
fn components_that_cannot_be_loaded_are_manifest_errors_that_say_what_to_build() {
    let tmp = tempfile::tempdir().unwrap();
    let project = demo_copy(tmp.path());
    let d = tmp.path();
    std::fs::write(d.join("notes.wasm"), "these are not WebAssembly bytes").unwrap();
    std::fs::write(d.join("core.wasm"), b"\0asm\x01\0\0\0").unwrap();
    let foreign = wat::parse_str(
        r#"(component (import "example:nope/thing" (instance (export "f" (func)))))"#,
    )
    .expect("a component importing an interface airlock does not provide");
    std::fs::write(d.join("foreign.wasm"), &foreign).unwrap();
    std::fs::write(d.join("empty.wasm"), wat::parse_str("(component)").unwrap()).unwrap();
    let zeros = "0".repeat(64);
    let cases = [
        (
            "missing",
            r#"{ path = "missing.wasm" }"#.to_string(),
            vec![
                "cannot read component",
                "cargo build --release --target wasm32-wasip2",
            ],
        ),
        (
            "not-wasm",
            r#"{ path = "notes.wasm" }"#.into(),
            vec!["is not WebAssembly", "target/wasm32-wasip2/release"],
        ),
        (
            "core-module",
            r#"{ path = "core.wasm" }"#.into(),
            vec!["core WebAssembly module, not a component", "wasm32-wasip2"],
        ),
        (
            "pin-mismatch",
            format!(r#"{{ path = "core.wasm", sha256 = "{zeros}" }}"#),
            vec!["but the manifest pins", "rebuild it or update the pin"],
        ),
        (
            "foreign-import",
            r#"{ path = "foreign.wasm" }"#.into(),
            vec!["example:nope/thing", "airlock-stage SDK"],
        ),
        (
            "no-run-export",
            r#"{ path = "empty.wasm" }"#.into(),
            vec![
                "is not an airlock stage",
                "export `run`",
                "airlock-stage SDK",
            ],
        ),
    ];
    for (name, component, says) in cases {
        let m = one_stage(d, &component);
        let out = airlock(&["run", m.to_str().unwrap()], &[]);
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{name}: {t}");
        assert!(t.contains("stage \"one\""), "{name} names no stage: {t}");
        for s in says {
            assert!(t.contains(s), "{name}: {s:?} not in {t}");
        }
        assert!(
            !t.contains("0x") && !t.contains("[0, 97"),
            "{name}: bytes dumped: {t}"
        );
        assert!(
            !project.join(".airlock").exists(),
            "{name}: a state folder was made for a run that never started"
        );
        // `audit` refuses it the same way.
        let out = airlock(&["audit", m.to_str().unwrap()], &[]);
        assert_eq!(out.status.code(), Some(2), "audit {name}: {}", text(&out));
    }
}

/// The `{ path = "…", access = "…" }` a hint proposes, which the manifest must accept.
fn proposed_grant(hint: &str) -> String {
    let start = hint.find("{ path").expect("a grant in the hint");
    let end = start + hint[start..].find('}').unwrap() + 1;
    hint[start..end].to_string()
}

#[test]
fn a_missing_pyproject_is_named_and_the_grant_hint_is_one_the_manifest_accepts() {
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("project");
    std::fs::create_dir_all(project.join("src")).unwrap();
    let manifest = |grants: &str| {
        format!(
            "[pipeline]\nname = \"p\"\nproject = \".\"\n\n[[stage]]\nid = \"build\"\ncomponent = \"builtin:build\"\n[stage.grants]\nfiles = [{grants}]\n"
        )
    };
    // The project folder is granted, the file is simply not there.
    let r = common::run(
        &project,
        &manifest(r#"{ path = ".", access = "read" }, { path = "dist", access = "write" }"#),
        &[],
    );
    assert_eq!(r.code, Some(1));
    let said = r.said("build");
    assert!(
        said.contains("'pyproject.toml' does not exist") && said.contains("project folder"),
        "{said}"
    );
    // Nothing granted that holds it: the hint names a folder grant, and that grant parses.
    let r = common::run(
        &project,
        &manifest(r#"{ path = "dist", access = "write" }"#),
        &[],
    );
    let said = r.said("build");
    let grant = proposed_grant(&said);
    assert_eq!(grant, r#"{ path = ".", access = "read" }"#, "{said}");
    // With the file there, the hinted grant is all the build needs.
    std::fs::write(
        project.join("pyproject.toml"),
        "[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n\n[project]\nname = \"p\"\nversion = \"1.0\"\nreadme = \"README.md\"\n",
    )
    .unwrap();
    std::fs::write(project.join("README.md"), "# p\n").unwrap();
    std::fs::create_dir_all(project.join("src/p")).unwrap();
    std::fs::write(project.join("src/p/__init__.py"), "").unwrap();
    let r = common::run(
        &project,
        &manifest(&format!(
            r#"{grant}, {{ path = "dist", access = "write" }}"#
        )),
        &[],
    );
    assert_eq!(
        r.code,
        Some(0),
        "the hinted grant does not let the build run: {}",
        r.stderr
    );
    let built = stage(&r.report, "build")["output"]["artifacts"].to_string();
    assert!(built.contains("dist/p-1.0-py2.py3-none-any.whl"), "{built}");
}

/// Runs `airlock ARGS` as a user who owns nothing here: as is when not root, else as
/// `nobody` (setpriv), since root writes anywhere.
fn unprivileged(args: &[&str], cache: &Path) -> Output {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout == b"0\n");
    let mut cmd = if root {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--",
            BIN,
        ]);
        c
    } else {
        Command::new(BIN)
    };
    cmd.args(args)
        .env("AIRLOCK_CACHE_DIR", cache)
        .env("HOME", "/nonexistent")
        .env_remove("GITHUB_ACTIONS");
    cmd.output().expect("cannot run airlock (setpriv missing?)")
}

/// A temp folder anyone may read and no one but its owner may write.
fn shared_tempdir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let t = tempfile::tempdir().unwrap();
    std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    t
}

#[test]
fn a_state_folder_or_cache_that_cannot_be_written_is_said_plainly() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = shared_tempdir();
    let project = demo_copy(tmp.path());
    let ro = tmp.path().join("read-only");
    std::fs::create_dir_all(&ro).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    let m = project.join("release.toml");
    let state = ro.join("state");
    let out = unprivileged(
        &[
            "run",
            m.to_str().unwrap(),
            "--state",
            state.to_str().unwrap(),
        ],
        &tmp.path().join("cache-unused"),
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains(&state.display().to_string()) && t.contains("--state DIR"),
        "{t}"
    );
    assert!(!t.contains("internal"), "{t}");

    // A compile cache this user cannot write: said once per run, and the run goes on.
    // A copy in the shared folder: the checkout may be one that `nobody` cannot enter
    // (a 0700 home or temp folder).
    let wasm = tmp.path().join("hostile.wasm");
    std::fs::copy(env!("AIRLOCK_TEST_HOSTILE_WASM"), &wasm).unwrap();
    std::fs::set_permissions(&wasm, std::fs::Permissions::from_mode(0o644)).unwrap();
    let wasm = wasm.display();
    let m = one_stage(
        tmp.path(),
        &format!(
            r#"{{ path = "{wasm}" }}
config = {{ attempt = "read", target = "nothing/here" }}"#
        ),
    );
    let writable = tmp.path().join("state-w");
    std::fs::create_dir_all(&writable).unwrap();
    std::os::unix::fs::chown(&writable, Some(65534), Some(65534)).unwrap_or(());
    std::fs::set_permissions(&writable, std::fs::Permissions::from_mode(0o777)).unwrap();
    for _ in 0..2 {
        let out = unprivileged(
            &[
                "run",
                m.to_str().unwrap(),
                "--state",
                writable.to_str().unwrap(),
            ],
            &ro,
        );
        let t = text(&out);
        assert!(
            t.contains("compiling") && t.contains("MB of WebAssembly"),
            "no progress while compiling: {t}"
        );
        let warning = format!("warning: the compile cache {} cannot be used", ro.display());
        assert_eq!(t.matches(&warning).count(), 1, "{t}");
        assert!(t.contains("--cache-dir DIR"), "{t}");
        assert_ne!(out.status.code(), Some(2), "{t}");
    }
}

#[test]
fn audit_speaks_the_manifest_language() {
    let m = airlock_test_support::workspace().join("examples/mypylogger/release.toml");
    let project = airlock_test_support::workspace().join("examples/demo");
    let out = airlock(
        &[
            "audit",
            m.to_str().unwrap(),
            "--project",
            project.to_str().unwrap(),
        ],
        &[],
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("as basic:__token__"), "{t}");
    for debug in ["Basic {", "user:", "Read)", "Write)", "Bearer"] {
        assert!(!t.contains(debug), "Rust debug text {debug:?} in: {t}");
    }
}

/// The README's mypylogger block, between `<!-- readme: mypylogger -->` and the end of the
/// next fenced block.
fn readme_mypylogger_block() -> String {
    let readme =
        std::fs::read_to_string(airlock_test_support::workspace().join("README.md")).unwrap();
    let start = readme
        .find("<!-- readme: mypylogger -->")
        .expect("README marks its mypylogger steps");
    let body = &readme[start..];
    let open = body.find("```sh\n").unwrap() + 6;
    let close = open + body[open..].find("```").unwrap();
    body[open..close].replace("\\\n", " ")
}

#[test]
fn the_readme_mypylogger_steps_work_as_written() {
    let block = readme_mypylogger_block();
    // An index to publish to, and the token authenticate reads, are part of the steps.
    assert!(block.contains("pypi-server run"), "{block}");
    let run = block
        .lines()
        .find(|l| l.contains(" run examples/mypylogger/release.toml"))
        .expect("an airlock run line");
    let words: Vec<&str> = run.split_whitespace().collect();
    let token = words
        .iter()
        .find_map(|w| w.strip_prefix("PYPI_TOKEN="))
        .expect("the run line sets PYPI_TOKEN");
    let airlock_at = words
        .iter()
        .position(|w| w.ends_with("/airlock"))
        .expect("the binary");
    let server = airlock_test_support::PypiServer::start(None);
    let tmp = tempfile::tempdir().unwrap();
    let project = airlock_test_support::unpack_mypylogger(tmp.path());
    let url_in_readme = words
        .iter()
        .find_map(|w| w.strip_prefix("upload.repository="))
        .expect("the index URL");
    let args: Vec<String> = words[airlock_at + 1..]
        .iter()
        .map(|w| match *w {
            "mypylogger-0.2.8" => project.display().to_string(),
            w if w.ends_with(url_in_readme) => format!("upload.repository={}", server.url()),
            w => w.to_string(),
        })
        .collect();
    let out = Command::new(BIN)
        .current_dir(airlock_test_support::workspace())
        .args(&args)
        .args(["--format", "json"])
        .env("PYPI_TOKEN", token)
        .env("AIRLOCK_CACHE_DIR", common::cache_dir())
        .env_remove("GITHUB_ACTIONS")
        .env_remove("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    let r = report(&out);
    assert_eq!(stage(&r, "upload")["status"], "succeeded", "{t}");
    assert_eq!(common::on_server(&server).len(), 2, "{t}");
}

/// The host's own diagnostics go through `tracing`, filtered by `AIRLOCK_LOG`: by default
/// only warnings and compile progress; with `AIRLOCK_LOG=debug`, how each component was
/// loaded, each stage's start and end, and each outgoing request's method, origin and the
/// *names* of the secrets injected into it, never a secret's value or a request's path.
/// A filter that does not parse is a warning and the run goes on.
#[test]
fn diagnostics_follow_airlock_log_and_never_show_a_secret() {
    const TOKEN: &str = "pypi-AgEIcHlwaS5vcmcDiagnosticsNeverShowThis42";
    let tmp = tempfile::tempdir().unwrap();
    let project = demo_copy(tmp.path());
    let server = airlock_test_support::PypiServer::start(Some(("__token__", TOKEN)));
    let m = tmp.path().join("upload.toml");
    std::fs::write(
        &m,
        r#"[pipeline]
name = "diagnostics"
project = "project"

[[stage]]
id = "build"
component = "builtin:build"
config = { out = "dist" }
[stage.grants]
files = [{ path = ".", access = "read" }, { path = "dist", access = "write" }]
env = ["SOURCE_DATE_EPOCH"]

[[stage]]
id = "authenticate"
component = "builtin:authenticate"
config = { mode = "token", env = "PYPI_TOKEN" }
[stage.grants]
env = ["PYPI_TOKEN"]
secrets = { produce = ["pypi-token"] }

[[stage]]
id = "upload"
component = "builtin:upload"
needs = ["build", "authenticate"]
config = { repository = "http://127.0.0.1:1/" }
[stage.grants]
files = [{ path = "dist", access = "read" }]
http = ["{config.repository}"]
secrets = { inject = [{ secret = "pypi-token", into = "{config.repository}", as = "basic:__token__" }] }
"#,
    )
    .unwrap();
    let run = |filter: Option<&str>| {
        let mut cmd = Command::new(BIN);
        cmd.args(["run", m.to_str().unwrap(), "--set"])
            .arg(format!("upload.repository={}", server.url()))
            .env("PYPI_TOKEN", TOKEN)
            .env("AIRLOCK_CACHE_DIR", tmp.path().join("cache"))
            .env_remove("GITHUB_ACTIONS")
            .env_remove("AIRLOCK_LOG");
        if let Some(f) = filter {
            cmd.env("AIRLOCK_LOG", f);
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let _ = std::fs::remove_dir_all(project.join(".airlock"));
        out
    };

    let out = run(Some("debug"));
    let debug = String::from_utf8_lossy(&out.stderr).into_owned();
    let origin = server.url().trim_end_matches('/').to_string();
    for want in [
        "debug airlock::runtime: loaded: embedded, precompiled component=builtin:build".to_string(),
        "debug airlock::pipeline: stage started stage=upload component=builtin:upload".to_string(),
        "debug airlock::pipeline: stage ended stage=upload".to_string(),
        format!(
            "outgoing request stage=upload method=POST origin={origin} inject=[\"pypi-token\"]"
        ),
    ] {
        assert!(debug.contains(&want), "no {want:?} in:\n{debug}");
    }
    let all = text(&out);
    assert!(
        !all.contains(TOKEN),
        "the token's value was printed:\n{all}"
    );
    for line in debug.lines().filter(|l| l.starts_with("debug ")) {
        assert!(
            !line.contains("/simple") && !line.contains("/legacy") && !line.contains(".whl"),
            "a request path in a diagnostic: {line}"
        );
    }

    // Later runs skip the identical files already on the index (GET only).
    let quiet = String::from_utf8_lossy(&run(None).stderr).into_owned();
    assert!(
        !quiet.contains("debug "),
        "debug lines without AIRLOCK_LOG:\n{quiet}"
    );

    let bad = String::from_utf8_lossy(&run(Some("airlock=[loud")).stderr).into_owned();
    assert!(
        bad.starts_with("warning: AIRLOCK_LOG=\"airlock=[loud\" is not a filter"),
        "{bad}"
    );
}
