//! Monorepo: one manifest naming 50 generated packages (`[pipeline] projects =
//! ["packages/*"]`), run as 50 concurrent pipelines (bounded by `--jobs`), all published to
//! one real pypiserver; then the same 50 as sequential single-project runs to a second
//! server. Both must publish everything; the wall-time ratio is printed (not asserted:
//! machines are noisy).

mod common;

use std::time::Instant;

use airlock_test_support::PypiServer;
use common::airlock;

const PACKAGES: usize = 50;

const MANIFEST: &str = r#"[pipeline]
name = "mono"
projects = ["packages/*"]

[[stage]]
id = "build"
component = "builtin:build"
[stage.grants]
files = [{ path = ".", access = "read" }, { path = "dist", access = "write" }]

[[stage]]
id = "upload"
component = "builtin:upload"
needs = ["build"]
config = { repository = "http://127.0.0.1:9/" }
[stage.grants]
files = [{ path = "dist", access = "read" }]
http = ["{config.repository}"]
"#;

#[test]
fn fifty_packages_publish_concurrently_from_one_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    for i in 0..PACKAGES {
        let dir = root.join(format!("packages/pkg{i:02}"));
        std::fs::create_dir_all(dir.join(format!("src/airlock_mono_{i:02}"))).unwrap();
        std::fs::write(
            dir.join("pyproject.toml"),
            format!(
                "[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n\n[project]\nname = \"airlock-mono-{i:02}\"\nversion = \"1.0.{i}\"\ndescription = \"Generated package {i}\"\nreadme = \"README.md\"\nrequires-python = \">=3.8\"\n"
            ),
        )
        .unwrap();
        std::fs::write(
            dir.join(format!("src/airlock_mono_{i:02}/__init__.py")),
            format!("VALUE = {i}\n"),
        )
        .unwrap();
        std::fs::write(
            dir.join("README.md"),
            format!("# airlock-mono-{i:02}\n\nA generated package.\n"),
        )
        .unwrap();
    }
    let manifest = root.join("release.toml");
    std::fs::write(&manifest, MANIFEST).unwrap();
    let manifest = manifest.to_str().unwrap();
    // Warm the compile cache so both timings measure runs, not compilation.
    let warm = root.join("packages/pkg00");
    let server0 = PypiServer::start(None);
    let out = airlock(
        &[
            "run",
            manifest,
            "--project",
            warm.to_str().unwrap(),
            "--set",
            &format!("upload.repository={}", server0.url()),
        ],
        &[],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for i in 0..PACKAGES {
        let _ = std::fs::remove_dir_all(root.join(format!("packages/pkg{i:02}/dist")));
        let _ = std::fs::remove_dir_all(root.join(format!("packages/pkg{i:02}/.airlock")));
    }

    // One run, all packages, concurrently.
    let server = PypiServer::start(None);
    let t = Instant::now();
    let out = airlock(
        &[
            "run",
            manifest,
            "--jobs",
            "4",
            "--set",
            &format!("upload.repository={}", server.url()),
            "--format",
            "json",
        ],
        &[],
    );
    let concurrent = t.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let projects = r["projects"].as_array().unwrap();
    assert_eq!(projects.len(), PACKAGES);
    assert!(projects.iter().all(|p| p["success"] == true));
    let published = std::fs::read_dir(&server.packages).unwrap().count();
    assert_eq!(
        published,
        2 * PACKAGES,
        "every sdist and wheel is on the index"
    );
    assert!(
        stderr.contains("[pkg07]"),
        "lines of each project carry its name"
    );

    // The same 50 as sequential single-project runs, to a second server.
    for i in 0..PACKAGES {
        let _ = std::fs::remove_dir_all(root.join(format!("packages/pkg{i:02}/dist")));
    }
    let server2 = PypiServer::start(None);
    let t = Instant::now();
    for i in 0..PACKAGES {
        let dir = root.join(format!("packages/pkg{i:02}"));
        let out = airlock(
            &[
                "run",
                manifest,
                "--project",
                dir.to_str().unwrap(),
                "--set",
                &format!("upload.repository={}", server2.url()),
            ],
            &[],
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let sequential = t.elapsed();
    assert_eq!(
        std::fs::read_dir(&server2.packages).unwrap().count(),
        2 * PACKAGES
    );
    eprintln!(
        "monorepo: {PACKAGES} packages in one run (4 at a time) {:.2} s vs {PACKAGES} sequential runs {:.2} s: ratio {:.2}x",
        concurrent.as_secs_f64(),
        sequential.as_secs_f64(),
        sequential.as_secs_f64() / concurrent.as_secs_f64()
    );
    airlock_test_support::pip_install(
        &server.simple(),
        "airlock-mono-07==1.0.7",
        "airlock_mono_07",
    );
}
