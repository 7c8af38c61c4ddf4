//! End to end: the real `airlock` binary runs the build stage component on real projects
//! from PyPI (a flit_core one and mypylogger's hatchling one), in a manifest written to a
//! temp dir and pointed at the project with `--project`:
//! - builds are byte-identical across project folders, umasks and file mtimes;
//! - prebuilt mode validates files built elsewhere (the published mypylogger files) and
//!   reports them with their digests; a file PyPI would refuse fails the stage with a
//!   validation error naming the file and the rule;
//! - a setuptools project gets an error naming what is unsupported and pointing to
//!   prebuilt mode, which then publishes its files.

mod common;

use std::path::{Path, PathBuf};

use airlock_test_support::{
    MYPYLOGGER_SDIST, MYPYLOGGER_WHEEL, fixtures, pypi_sdist, unpack_sdist,
};
use common::{airlock, report, stage};
use sha2::{Digest, Sha256};

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// The one-stage manifest of `examples/build/release.toml`: builds and validates the project
/// given with `--project` into `<project>/dist`.
const BUILD_MANIFEST: &str = r#"
[pipeline]
name = "build"
project = "."

[[stage]]
id = "build"
component = "builtin:build"
config = { out = "dist" }
[stage.grants]
files = [{ path = ".", access = "read" }, { path = "dist", access = "write" }]
env = ["SOURCE_DATE_EPOCH"]
"#;

fn manifest(dir: &Path) -> String {
    let p = dir.join("release.toml");
    std::fs::write(&p, BUILD_MANIFEST).unwrap();
    p.to_str().unwrap().to_string()
}

fn run(manifest: &str, project: &Path, extra: &[&str]) -> (Option<i32>, serde_json::Value) {
    let mut args = vec![
        "run",
        manifest,
        "--project",
        project.to_str().unwrap(),
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let out = airlock(&args, &[("SOURCE_DATE_EPOCH", "1700000000")]);
    let r = report(&out);
    (out.status.code(), r)
}

fn set_mtimes_and_modes(dir: &Path, mtime: std::time::SystemTime, extra_mode: u32) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            set_mtimes_and_modes(&p, mtime, extra_mode);
        } else {
            let f = std::fs::File::options().append(true).open(&p).unwrap();
            f.set_modified(mtime).unwrap();
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(&p).unwrap().permissions().mode();
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode | extra_mode))
                    .unwrap();
            }
        }
    }
}

fn dist_files(project: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(project.join("dist"))
        .unwrap()
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn flit_project_builds_reproducibly_across_folders_umasks_and_mtimes() {
    let tmp = tempfile::tempdir().unwrap();
    let m = manifest(tmp.path());
    let sdist = pypi_sdist("typing_extensions", "4.16.0");
    let mut builds = Vec::new();
    for (i, (mtime, mode)) in [
        (
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000),
            0o000,
        ),
        (std::time::SystemTime::now(), 0o022),
    ]
    .into_iter()
    .enumerate()
    {
        let parent = tmp
            .path()
            .join(format!("copy-{i}/nested{}", "/deeper".repeat(i)));
        std::fs::create_dir_all(&parent).unwrap();
        let project: PathBuf = unpack_sdist(&sdist, &parent);
        set_mtimes_and_modes(&project, mtime, mode);
        let (code, r) = run(&m, &project, &[]);
        assert_eq!(code, Some(0), "{r}");
        let out = &stage(&r, "build")["output"];
        assert_eq!(out["backend"], "flit_core", "{out}");
        assert_eq!(out["name"], "typing_extensions");
        assert_eq!(out["version"], "4.16.0");
        let arts = out["artifacts"].as_array().unwrap();
        assert_eq!(arts[0]["filename"], "typing_extensions-4.16.0.tar.gz");
        assert_eq!(
            arts[1]["filename"],
            "typing_extensions-4.16.0-py3-none-any.whl"
        );
        for a in arts {
            let bytes = std::fs::read(project.join(a["path"].as_str().unwrap())).unwrap();
            assert_eq!(a["sha256"], sha256_hex(&bytes));
            assert_eq!(a["findings"], serde_json::json!([]), "{a}");
        }
        builds.push(dist_files(&project));
    }
    assert_eq!(builds[0].len(), 2);
    assert!(
        builds[0] == builds[1],
        "a second build in another folder, with other modes and mtimes, is not byte-identical"
    );
}

#[test]
fn prebuilt_files_are_validated_and_published_unbuilt() {
    let tmp = tempfile::tempdir().unwrap();
    let m = manifest(tmp.path());
    // A setuptools project (setup.py only): the builder names what it cannot do.
    let project = tmp.path().join("legacy");
    std::fs::create_dir_all(project.join("dist")).unwrap();
    std::fs::write(
        project.join("setup.py"),
        "from setuptools import setup\nsetup(name='mypylogger')\n",
    )
    .unwrap();
    let (code, r) = run(&m, &project, &[]);
    assert_eq!(code, Some(1), "{r}");
    let f = &stage(&r, "build")["failure"];
    assert_eq!(f["category"], "build", "{f}");
    assert!(f["message"].as_str().unwrap().contains("setup.py"), "{f}");
    assert!(f["hint"].as_str().unwrap().contains("prebuilt"), "{f}");

    // Its distributions were built by another CI step (here: the published mypylogger
    // files, built by hatchling): prebuilt mode validates and reports them.
    let fx = fixtures();
    for f in [MYPYLOGGER_SDIST, MYPYLOGGER_WHEEL] {
        std::fs::copy(fx.join(f), project.join("dist").join(f)).unwrap();
    }
    let (code, r) = run(&m, &project, &["--set", "build.mode=prebuilt"]);
    assert_eq!(code, Some(0), "{r}");
    let out = &stage(&r, "build")["output"];
    assert_eq!(out["mode"], "prebuilt");
    assert_eq!(out["name"], "mypylogger");
    assert_eq!(out["version"], "0.2.8");
    let arts = out["artifacts"].as_array().unwrap();
    assert_eq!(arts.len(), 2);
    assert_eq!(arts[0]["filename"], MYPYLOGGER_SDIST);
    assert_eq!(arts[1]["filename"], MYPYLOGGER_WHEEL);
    for a in arts {
        let bytes = std::fs::read(fx.join(a["filename"].as_str().unwrap())).unwrap();
        assert_eq!(a["sha256"], sha256_hex(&bytes));
        assert_eq!(a["size"], bytes.len());
    }

    // A wheel changed after it was built: refused before anything is uploaded.
    let wheel = project.join("dist").join(MYPYLOGGER_WHEEL);
    let mut bytes = std::fs::read(&wheel).unwrap();
    let pos = bytes
        .windows(4)
        .position(|w| w == [0x50, 0x4b, 3, 4])
        .unwrap();
    bytes[pos + 6] |= 0x08; // data descriptor flag
    std::fs::write(&wheel, &bytes).unwrap();
    let (code, r) = run(&m, &project, &["--set", "build.mode=prebuilt"]);
    assert_eq!(code, Some(1), "{r}");
    let f = &stage(&r, "build")["failure"];
    assert_eq!(f["category"], "validation", "{f}");
    let msg = f["message"].as_str().unwrap();
    assert!(
        msg.contains(&format!("dist/{MYPYLOGGER_WHEEL}")) && msg.contains("[zip]"),
        "{msg}"
    );
    assert!(f["hint"].as_str().is_some_and(|h| !h.is_empty()), "{f}");
}
