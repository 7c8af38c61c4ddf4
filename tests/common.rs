//! Helpers shared by the end-to-end tests: running the real `airlock` binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The compile cache shared by the end-to-end tests (so each component compiles once).
pub fn cache_dir() -> PathBuf {
    airlock_test_support::workspace().join("target/test-component-cache")
}

/// `airlock ARGS` with the test cache and `envs`; returns the process output.
pub fn airlock(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_airlock"));
    cmd.args(args)
        .env("AIRLOCK_CACHE_DIR", cache_dir())
        .env_remove("GITHUB_ACTIONS");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("cannot run the airlock binary")
}

/// As [`airlock`], with `cache` as the compile cache, returning also the child's peak
/// resident set size in KiB (`ru_maxrss` of that one process, from `wait4`).
#[allow(dead_code)]
pub fn airlock_measured(
    args: &[&str],
    envs: &[(&str, &str)],
    cache: Option<&std::path::Path>,
) -> (Output, u64) {
    use std::io::Read;
    use std::process::Stdio;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_airlock"));
    cmd.args(args)
        .env(
            "AIRLOCK_CACHE_DIR",
            cache.map(|c| c.to_path_buf()).unwrap_or_else(cache_dir),
        )
        .env_remove("GITHUB_ACTIONS")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("cannot run the airlock binary");
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let t1 = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = so.read_to_end(&mut b);
        b
    });
    let t2 = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = se.read_to_end(&mut b);
        b
    });
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: wait4 on our own child with valid out-pointers; `child` is not waited again.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid, "wait4 failed");
    let stdout = t1.join().unwrap();
    let stderr = t2.join().unwrap();
    use std::os::unix::process::ExitStatusExt;
    let out = Output {
        status: std::process::ExitStatus::from_raw(status),
        stdout,
        stderr,
    };
    std::mem::forget(child);
    (out, usage.ru_maxrss as u64)
}

/// Stdout parsed as the JSON run report; panics with both streams when it is not JSON.
pub fn report(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not a JSON report ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// The record of stage `id` in a run report.
pub fn stage<'a>(report: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    report["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no stage {id} in report"))
}

/// The stages of the bundled demo's and mypylogger's release pipelines, in order.
pub const RELEASE_STAGES: [&str; 6] = [
    "detect",
    "decide",
    "build",
    "authenticate",
    "upload",
    "status",
];

/// Asserts that each of `ids` has status `succeeded` in `report`, naming the first that has
/// not (with its record).
pub fn assert_succeeded(report: &serde_json::Value, ids: &[&str]) {
    for id in ids {
        assert_eq!(
            stage(report, id)["status"],
            "succeeded",
            "{id}: {}",
            stage(report, id)
        );
    }
}

/// Copies a folder tree (files and folders only).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == ".airlock" || name == "dist" {
            continue;
        }
        let ty = entry.file_type().unwrap();
        if ty.is_dir() {
            copy_tree(&entry.path(), &to.join(&name));
        } else if ty.is_file() {
            std::fs::copy(entry.path(), to.join(&name)).unwrap();
        }
    }
}

/// Every file under `dir`, recursively, as (path, bytes).
pub fn all_files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(all_files(&p));
            } else if let Ok(b) = std::fs::read(&p) {
                out.push((p, b));
            }
        }
    }
    out
}

/// A project folder holding `dist/` with the real mypylogger 0.2.8 wheel and sdist (what
/// an upload stage publishes).
pub fn dist_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let fx = airlock_test_support::fixtures();
    std::fs::create_dir_all(dir.path().join("dist")).unwrap();
    for f in [
        airlock_test_support::MYPYLOGGER_WHEEL,
        airlock_test_support::MYPYLOGGER_SDIST,
    ] {
        std::fs::copy(fx.join(f), dir.path().join("dist").join(f)).unwrap();
    }
    dir
}

/// One `airlock run --format json`: exit code, report, both streams, wall time.
pub struct Run {
    pub code: Option<i32>,
    pub report: serde_json::Value,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: std::time::Duration,
}

impl Run {
    /// The failure record of stage `id` (null when it did not fail).
    pub fn failure(&self, id: &str) -> &serde_json::Value {
        &stage(&self.report, id)["failure"]
    }

    /// The failure's message and hint, as the user sees them: `MESSAGE | hint: HINT`.
    pub fn said(&self, id: &str) -> String {
        let f = self.failure(id);
        format!(
            "{} | hint: {}",
            f["message"].as_str().unwrap_or(""),
            f["hint"].as_str().unwrap_or("")
        )
    }

    /// The output of stage `id`.
    pub fn output(&self, id: &str) -> &serde_json::Value {
        &stage(&self.report, id)["output"]
    }
}

/// Writes `manifest` to `PROJECT/release.toml` and runs it with `envs` (state in the
/// default `PROJECT/.airlock/state`).
pub fn run(project: &Path, manifest: &str, envs: &[(&str, &str)]) -> Run {
    let path = project.join("release.toml");
    std::fs::write(&path, manifest).unwrap();
    let start = std::time::Instant::now();
    let out = airlock(&["run", path.to_str().unwrap(), "--format", "json"], envs);
    let elapsed = start.elapsed();
    // On GitHub Actions (GITHUB_ACTIONS=true) the host prints workflow commands
    // (`::error …`, `::add-mask::…`) on stdout before the JSON report.
    let mut json = out.clone();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let start = text
        .find("\n{")
        .map(|i| i + 1)
        .filter(|_| !text.starts_with('{'))
        .unwrap_or(0);
    json.stdout = text.as_bytes()[start..].to_vec();
    Run {
        code: out.status.code(),
        report: report(&json),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed,
    }
}

/// `(name, value)` pairs borrowed as [`airlock`] takes them.
pub fn envs<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    v.iter().map(|(k, x)| (*k, x.as_str())).collect()
}

/// No secret in stdout, stderr or any file under `project` (the state folder, outputs,
/// anything else written there; the wheel and sdist are skipped).
pub fn assert_no_secret(r: &Run, project: &Path, secrets: &[&str]) {
    // `::add-mask::VALUE` is the one place a secret may appear: it is how the host asks the
    // GitHub Actions runner to mask the value in every later log line.
    let visible = |text: &str| -> String {
        text.lines()
            .filter(|l| !l.starts_with("::add-mask::"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let (stdout, stderr) = (visible(&r.stdout), visible(&r.stderr));
    let files = all_files(project);
    for s in secrets {
        assert!(!s.is_empty(), "an empty secret proves nothing");
        assert!(!stdout.contains(s), "a secret leaked into stdout");
        assert!(!stderr.contains(s), "a secret leaked into stderr");
        for (path, bytes) in &files {
            if path.extension().is_some_and(|e| e == "whl" || e == "gz") {
                continue;
            }
            assert!(
                !String::from_utf8_lossy(bytes).contains(s),
                "a secret leaked into {}",
                path.display()
            );
        }
    }
}

/// The upload stage's `files` as (filename, status).
pub fn upload_files(r: &Run) -> Vec<(String, String)> {
    upload_files_of(&r.report)
}

/// The upload stage's `files` in a JSON run report, as (filename, status).
pub fn upload_files_of(report: &serde_json::Value) -> Vec<(String, String)> {
    stage(report, "upload")["output"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["filename"].as_str().unwrap().to_string(),
                f["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The files pypiserver holds, sorted.
pub fn on_server(server: &airlock_test_support::PypiServer) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(&server.packages)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    v.sort();
    v
}

/// A manifest `[[stage]]` table for the upload stage (needs `authenticate`): `repository`
/// granted as its one origin, the host injecting secret `pypi-token` there as
/// `basic:__token__`; `extra` is appended to the config table (e.g. `, dry_run = true`)
/// and `limits` is a whole `limits = {…}` line or empty.
pub fn upload_stage(repository: &str, extra: &str, limits: &str) -> String {
    format!(
        r#"
[[stage]]
id = "upload"
component = "builtin:upload"
needs = ["authenticate"]
config = {{ repository = "{repository}"{extra} }}
[stage.grants]
files = [{{ path = "dist", access = "read" }}]
http = ["{{config.repository}}"]
secrets = {{ inject = [{{ secret = "pypi-token", into = "{{config.repository}}", as = "basic:__token__" }}] }}
{limits}
"#
    )
}
