//! The upload stage: publishes distributions to an index (legacy upload API) or a `file:`
//! folder index, then verifies them through the simple API. The logic is in
//! `airlock-publish`; this is the adapter to the stage world.
//!
//! Config:
//! - `repository` (default `"file:///.airlock/index"`): `https://…` (e.g.
//!   `https://upload.pypi.org/legacy/`), `http://` to a loopback host (e.g. a pypiserver's
//!   root `http://127.0.0.1:8080/`), or a `file:` URL naming a project folder
//!   (`file:///.airlock/index` = `file://.airlock/index` = `file:.airlock/index` =
//!   `<project>/.airlock/index`).
//! - `simple`: the simple index URL for checks and verification; default: PyPI's
//!   `https://pypi.org/simple/` for upload.pypi.org, TestPyPI's for test.pypi.org, else the
//!   repository URL without a trailing `legacy/` plus `simple/`. Its origin must be granted
//!   too.
//! - `dist` (default `"dist"`): the folder whose `.whl` and `.tar.gz` files are published
//!   when no upstream build stage output (`{ "artifacts": [{ "path", "sha256", … }] }`) is an
//!   input.
//! - `verify` (default `true`): after publishing, check that the simple index lists each file
//!   with its sha256.
//! - `retry`: `{ retries = 3, base_s = 1.0, factor = 2.0, cap_s = 60.0, max_retry_after_s = 300.0 }`.
//!
//! The credential is not the stage's business: the host injects it into requests to the
//! repository's origin (`grants.secrets.inject`).
//!
//! Output: `{ "repository": "<as configured>", "files": [{ "filename", "sha256", "size",
//! "status": "uploaded"|"skipped" }], "verified": bool, "index_url": "<simple index URL>" }`.
//! For a `file:` repository `index_url` is `file:///<folder>/simple/` in the sandbox's terms
//! (project root = `/`) and `index_path` is the project-relative `<folder>/simple`; the host
//! knows the project's absolute path to make a URL pip can use outside the sandbox.

// Natively `export_stage!` expands to nothing, so `run` is used only by the tests.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use std::path::{Path, PathBuf};

use airlock_publish::index::{Index, SdkTransport};
use airlock_publish::retry::RetryPolicy;
use airlock_publish::{DistKind, Distribution, FileReport, FileStatus, Repository, folder};
use airlock_stage::{Request, StageError, host};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default = "default_repository")]
    repository: String,
    #[serde(default)]
    simple: Option<String>,
    #[serde(default = "default_dist")]
    dist: String,
    #[serde(default = "yes")]
    verify: bool,
    #[serde(default)]
    retry: RetryPolicy,
}

fn default_repository() -> String {
    "file:///.airlock/index".into()
}
fn default_dist() -> String {
    "dist".into()
}
fn yes() -> bool {
    true
}

/// The build stage's output, as far as the upload needs it.
#[derive(Debug, Deserialize)]
struct BuildOutput {
    artifacts: Vec<Artifact>,
}

#[derive(Debug, Deserialize)]
struct Artifact {
    path: String,
    #[serde(default)]
    sha256: Option<String>,
}

/// The files to publish (project-relative paths) with the sha256 an upstream stage promised.
fn select_files(
    req: &Request,
    config: &Config,
) -> Result<Vec<(PathBuf, Option<String>)>, StageError> {
    if let Some((id, build)) = req.find_input::<BuildOutput>() {
        host::info(&format!(
            "publishing the {} artifacts of stage '{id}'",
            build.artifacts.len()
        ));
        return Ok(build
            .artifacts
            .into_iter()
            .map(|a| (PathBuf::from(a.path.trim_start_matches('/')), a.sha256))
            .collect());
    }
    let dir = Path::new(config.dist.trim_start_matches('/'));
    let entries = std::fs::read_dir(dir).map_err(|e| StageError::io(&config.dist, &e))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| DistKind::from_filename(n).is_some())
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(StageError::validation(format!(
            "no .whl or .tar.gz distribution in '{}'",
            config.dist
        ))
        .with_hint("build first (a build stage in `needs`), or point `dist` to the folder holding the distributions"));
    }
    Ok(files.into_iter().map(|p| (p, None)).collect())
}

fn run(req: &Request) -> Result<serde_json::Value, StageError> {
    let config: Config = req.config()?;
    let repository = Repository::parse(&config.repository, config.simple.as_deref())?;
    let files = select_files(req, &config)?;
    let mut dists = Vec::new();
    for (path, promised) in files {
        let dist = Distribution::read(&path)?;
        if let Some(p) = promised.filter(|p| !p.eq_ignore_ascii_case(&dist.digests.sha256)) {
            return Err(StageError::validation(format!(
                "{} changed since it was built: sha256 {} instead of {p}",
                path.display(),
                dist.digests.sha256
            ))
            .with_hint("rebuild; nothing should modify dist/ between build and upload"));
        }
        dists.push((path, dist));
    }
    let total = dists.len() as u64;
    let mut reports: Vec<(String, FileReport)> = Vec::new();
    let (verified, index_url, index_path) = match &repository {
        Repository::Folder { path } => {
            for (i, (src, dist)) in dists.iter().enumerate() {
                host::progress(
                    i as u64,
                    Some(total),
                    &format!("publishing {}", dist.filename),
                );
                let r = folder::publish(path, src, dist)?;
                host::info(&match r.status {
                    FileStatus::Uploaded => {
                        format!("{}: published to {}", dist.filename, path.display())
                    }
                    FileStatus::Skipped => format!(
                        "{}: already in {} with the same sha256, skipped",
                        dist.filename,
                        path.display()
                    ),
                });
                reports.push((dist.metadata.name().to_string(), r));
            }
            let verified = if config.verify {
                folder::verify(path, &reports)?;
                true
            } else {
                false
            };
            let rel = format!("{}/simple", path.display());
            (verified, format!("file:///{rel}/"), Some(rel))
        }
        Repository::Http {
            upload_url,
            simple_url,
        } => {
            let mut transport = SdkTransport;
            let mut index = Index::new(upload_url, simple_url, &mut transport)
                .with_policy(config.retry.clone());
            for (i, (src, dist)) in dists.iter().enumerate() {
                host::progress(
                    i as u64,
                    Some(total),
                    &format!("uploading {}", dist.filename),
                );
                let r = index.upload(dist, src, &mut |_, _| {})?;
                host::info(&format!(
                    "{}: {:?} to {upload_url}",
                    dist.filename, r.status
                ));
                reports.push((dist.metadata.name().to_string(), r));
            }
            let verified = if config.verify {
                index.verify(&reports)?;
                true
            } else {
                false
            };
            (verified, simple_url.clone(), None)
        }
    };
    host::progress(total, Some(total), "done");
    let files: Vec<FileReport> = reports.into_iter().map(|(_, r)| r).collect();
    let mut out = serde_json::json!({
        "repository": config.repository,
        "files": files,
        "verified": verified,
        "index_url": index_url,
    });
    if let Some(p) = index_path {
        out["index_path"] = p.into();
    }
    Ok(out)
}

airlock_stage::export_stage!(run);

#[cfg(test)]
mod tests {
    use super::*;
    use airlock_stage::Category;

    /// The only test in this crate: it changes the process's current directory to a temp
    /// project, as the sandbox makes the project root the current directory.
    #[test]
    fn publishes_dist_to_a_project_folder_index() {
        let fixtures = airlock_test_support::fixtures();
        let (wheel, sdist) = (
            airlock_test_support::MYPYLOGGER_WHEEL,
            airlock_test_support::MYPYLOGGER_SDIST,
        );
        let project = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(project.path().join("dist")).unwrap();
        for f in [wheel, sdist] {
            std::fs::copy(fixtures.join(f), project.path().join("dist").join(f)).unwrap();
        }
        std::env::set_current_dir(project.path()).unwrap();

        let req = Request::new(
            "upload",
            serde_json::json!({ "repository": "file:.airlock/index" }),
        );
        let out = run(&req).unwrap();
        assert_eq!(out["verified"], true);
        assert_eq!(out["index_url"], "file:///.airlock/index/simple/");
        assert_eq!(out["index_path"], ".airlock/index/simple");
        let files = out["files"].as_array().unwrap();
        assert_eq!(files.len(), 2);
        assert!(files.iter().all(|f| f["status"] == "uploaded"));
        assert!(
            project
                .path()
                .join(".airlock/index/simple/mypylogger/index.html")
                .is_file()
        );

        // From a build stage's artifacts: the same files again are skipped.
        let sha = files[0]["sha256"].as_str().unwrap().to_string();
        let name = files[0]["filename"].as_str().unwrap().to_string();
        let build = serde_json::json!({ "artifacts": [{ "kind": "wheel", "path": format!("dist/{name}"), "filename": name, "sha256": sha, "size": 1 }] });
        let req = Request::new(
            "upload",
            serde_json::json!({ "repository": "file:///.airlock/index" }),
        )
        .with_input("build", build.clone());
        let out = run(&req).unwrap();
        assert_eq!(out["files"].as_array().unwrap().len(), 1);
        assert_eq!(out["files"][0]["status"], "skipped");

        // An artifact whose digest changed since the build is refused.
        let mut bad = build;
        bad["artifacts"][0]["sha256"] = "00".repeat(32).into();
        let req = Request::new("upload", serde_json::Value::Null).with_input("build", bad);
        assert_eq!(run(&req).unwrap_err().category, Category::Validation);

        // Natively there is no HTTP: an http repository fails cleanly, it does not panic.
        let req = Request::new(
            "upload",
            serde_json::json!({ "repository": "http://127.0.0.1:9/" }),
        );
        assert!(run(&req).is_err());
        let req = Request::new(
            "upload",
            serde_json::json!({ "repository": "http://example.com/" }),
        );
        assert_eq!(run(&req).unwrap_err().category, Category::Configuration);
    }
}
