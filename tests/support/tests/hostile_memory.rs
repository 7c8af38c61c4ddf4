//! [`hostile_memory_component`] run by the real host binary (`target/debug/airlock`, made
//! by `cargo build -p airlock`): a small claim succeeds, so the component's shape is the
//! stage world's; the over-limit claims (many or large memories, a huge table) must end
//! in a report, succeeded or failed, never a crash of the host.

use std::path::{Path, PathBuf};
use std::process::Command;

use airlock_test_support::{hostile_memory_component, workspace};

/// The host binary; panics with the command that makes it when it is missing.
fn airlock_bin() -> PathBuf {
    let bin = std::env::var_os("AIRLOCK_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/debug/airlock"));
    assert!(
        bin.is_file(),
        "{} is missing: run `cargo build -p airlock` first (or set AIRLOCK_BIN)",
        bin.display()
    );
    bin
}

/// Runs a one-stage pipeline of `wasm` with `memory_mib`; returns the exit code and the
/// JSON report.
fn run_stage(dir: &Path, wasm: &[u8], memory_mib: u32) -> (i32, serde_json::Value) {
    let path = dir.join("mem.wasm");
    std::fs::write(&path, wasm).unwrap();
    let manifest = dir.join("manifest.toml");
    std::fs::write(
        &manifest,
        format!(
            "[pipeline]\nname = \"mem\"\n[[stage]]\nid = \"mem\"\ncomponent = {{ path = {:?} }}\n[stage.grants]\nlimits = {{ memory_mib = {memory_mib} }}\n",
            path.to_str().unwrap()
        ),
    )
    .unwrap();
    let out = Command::new(airlock_bin())
        .args(["run", manifest.to_str().unwrap(), "--format", "json"])
        .current_dir(dir)
        .env("AIRLOCK_CACHE_DIR", dir.join("cache"))
        .env_remove("GITHUB_ACTIONS")
        .output()
        .expect("cannot run the airlock binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let code = out.status.code().unwrap_or(-1);
    assert!(
        code == 0 || code == 1,
        "airlock exited {code}\nstdout: {stdout}\nstderr: {stderr}"
    );
    let report: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("no JSON report ({e})\nstdout: {stdout}\nstderr: {stderr}"));
    eprintln!("exit {code}: {report}");
    (code, report)
}

fn stage_status(report: &serde_json::Value) -> &str {
    report["stages"][0]["status"].as_str().unwrap_or_default()
}

/// One 1-MiB memory under a 32-MiB limit: the host instantiates it and `run` succeeds.
#[test]
fn a_small_claim_runs_and_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let (code, report) = run_stage(dir.path(), &hostile_memory_component(1, 16, 0), 32);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(stage_status(&report), "succeeded", "{report:#}");
}

/// Claims over the limits end in a report (the host's verdict is checked in its own tests).
#[test]
fn large_claims_end_in_a_report() {
    for (memories, pages, table, mib) in [(8, 64, 0, 16), (1, 1, 10_000_000, 32), (100, 1, 0, 32)] {
        let dir = tempfile::tempdir().unwrap();
        let wasm = hostile_memory_component(memories, pages, table);
        let (_, report) = run_stage(dir.path(), &wasm, mib);
        assert!(!stage_status(&report).is_empty(), "{report:#}");
    }
}
