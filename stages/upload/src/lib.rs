//! The upload stage: publishes distributions to an index (legacy upload API) or a `file:`
//! folder index, then verifies them through the simple API. The logic is in
//! `airlock-publish`; this is the adapter to the stage world. See docs/publishing.md.
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
//! - `check_existing` (default `true`): before each upload, look the file up on the simple
//!   index (PEP 691 JSON, else PEP 503 HTML): the same sha256 is skipped without sending
//!   it, another sha256 fails without sending it. When the lookup itself fails, the upload
//!   goes ahead and the index's duplicate answer (409, or 400 "already exists") decides.
//! - `dry_run` (default `false`): everything (read, digest, check the index) but the POST;
//!   files that would be sent get status `would-upload`; nothing is verified.
//! - `retry`: `{ retries = 3, base_s = 1.0, factor = 2.0, cap_s = 60.0, max_retry_after_s = 300.0 }`:
//!   transport failures (reset, timeout, EOF) and 408/429/500/502/503/504 are retried with
//!   exponential backoff and jitter, honouring `Retry-After`; never 400/401/403.
//! - `timeouts`: `{ connect_s = 30, response_s = 120, between_bytes_s = 60, min_rate_kib_s = 16 }`
//!   per request; a body of N KiB gets N / `min_rate_kib_s` seconds more to be sent.
//!
//! The credential is not the stage's business: the host injects it into requests to the
//! repository's origin (`grants.secrets.inject`). An expiring credential (a
//! trusted-publishing token lives 15 minutes) is the host's business too: it renews the
//! secret by running the authenticate stage again before a request would carry it stale
//! (`store-secret-until` in wit/stage.wit), so a long upload needs nothing here.
//!
//! Output: `{ "repository": "<as configured>", "files": [{ "filename", "sha256", "size",
//! "status": "uploaded"|"skipped-identical"|"would-upload" }], "verified": bool,
//! "dry_run": bool, "index_url": "<simple index URL>" }`. When a file fails, the stage
//! fails; its message lists every file's state (uploaded, skipped-identical, failed, not
//! attempted).
//! For a `file:` repository `index_url` is `file:///<folder>/simple/` in the sandbox's terms
//! (project root = `/`) and `index_path` is the project-relative `<folder>/simple`; the host
//! knows the project's absolute path to make a URL pip can use outside the sandbox.

// Natively `export_stage!` expands to nothing, so `run` is used only by the tests.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use std::path::{Path, PathBuf};
use std::time::Duration;

use airlock_publish::index::{Index, SdkTransport};
use airlock_publish::retry::RetryPolicy;
use airlock_publish::{DistKind, Distribution, FileReport, FileStatus, Repository, folder};
use airlock_stage::http::Timeouts;
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
    #[serde(default = "yes")]
    check_existing: bool,
    #[serde(default)]
    dry_run: bool,
    #[serde(default)]
    timeouts: TimeoutConfig,
}

/// `timeouts` in the config (seconds; KiB/s).
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct TimeoutConfig {
    connect_s: u64,
    response_s: u64,
    between_bytes_s: u64,
    min_rate_kib_s: u64,
}

impl Default for TimeoutConfig {
    fn default() -> Self {
        let t = Timeouts::default();
        TimeoutConfig {
            connect_s: t.connect.as_secs(),
            response_s: t.response.as_secs(),
            between_bytes_s: t.between_bytes.as_secs(),
            min_rate_kib_s: t.min_upload_rate / 1024,
        }
    }
}

impl TimeoutConfig {
    fn timeouts(&self) -> Timeouts {
        Timeouts {
            connect: Duration::from_secs(self.connect_s),
            response: Duration::from_secs(self.response_s),
            between_bytes: Duration::from_secs(self.between_bytes_s),
            min_upload_rate: self.min_rate_kib_s * 1024,
        }
    }
}

/// "a.whl: uploaded; b.tar.gz: failed; c.whl: not attempted".
fn summary(done: &[FileReport], failed: &str, rest: &[&str]) -> String {
    let mut parts: Vec<String> = done
        .iter()
        .map(|r| {
            format!(
                "{}: {}",
                r.filename,
                match r.status {
                    FileStatus::Uploaded => "uploaded",
                    FileStatus::Skipped => "skipped-identical",
                    FileStatus::WouldUpload => "would-upload",
                }
            )
        })
        .collect();
    parts.push(format!("{failed}: failed"));
    parts.extend(rest.iter().map(|f| format!("{f}: not attempted")));
    parts.join("; ")
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
    let names: Vec<&str> = dists.iter().map(|(_, d)| d.filename.as_str()).collect();
    let mut reports: Vec<(String, FileReport)> = Vec::new();
    let fail = |reports: &[(String, FileReport)], i: usize, e: StageError| -> StageError {
        let done: Vec<FileReport> = reports.iter().map(|(_, r)| r.clone()).collect();
        StageError {
            message: format!(
                "{} [{}]",
                e.message,
                summary(&done, names[i], &names[i + 1..])
            ),
            ..e
        }
    };
    let (verified, index_url, index_path) = match &repository {
        Repository::Folder { path } => {
            for (i, (src, dist)) in dists.iter().enumerate() {
                host::progress(
                    i as u64,
                    Some(total),
                    &format!("publishing {}", dist.filename),
                );
                let r = if config.dry_run {
                    folder::check(path, dist)
                } else {
                    folder::publish(path, src, dist)
                }
                .map_err(|e| fail(&reports, i, e))?;
                host::info(&match r.status {
                    FileStatus::Uploaded => {
                        format!("{}: published to {}", dist.filename, path.display())
                    }
                    FileStatus::Skipped => format!(
                        "{}: already in {} with the same sha256, skipped",
                        dist.filename,
                        path.display()
                    ),
                    FileStatus::WouldUpload => format!(
                        "{}: dry run, would publish to {}",
                        dist.filename,
                        path.display()
                    ),
                });
                reports.push((dist.metadata.name().to_string(), r));
            }
            let verified = if config.verify && !config.dry_run {
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
                .with_policy(config.retry.clone())
                .with_timeouts(config.timeouts.timeouts());
            for (i, (src, dist)) in dists.iter().enumerate() {
                let existing = if config.check_existing {
                    match index.lookup_cached(dist) {
                        Ok(Some(listed)) => {
                            index
                                .compare(dist, &listed, "")
                                .map_err(|e| fail(&reports, i, e))?;
                            Some(FileReport::of(dist, FileStatus::Skipped))
                        }
                        Ok(None) => None,
                        Err(e) => {
                            host::warn(&format!(
                                "cannot check whether {} is already on the index ({}); uploading, the index's answer decides",
                                dist.filename, e.message
                            ));
                            None
                        }
                    }
                } else {
                    None
                };
                let r = match existing {
                    Some(r) => r,
                    None if config.dry_run => FileReport::of(dist, FileStatus::WouldUpload),
                    None => {
                        let message = format!("uploading {}", dist.filename);
                        index
                            .upload(dist, src, &mut |sent, len| {
                                host::progress(sent, Some(len), &message)
                            })
                            .map_err(|e| fail(&reports, i, e))?
                    }
                };
                host::info(&match r.status {
                    FileStatus::Uploaded => format!("{}: uploaded to {upload_url}", dist.filename),
                    FileStatus::Skipped => format!(
                        "{}: already on the index with the same sha256 {}, skipped",
                        dist.filename, dist.digests.sha256
                    ),
                    FileStatus::WouldUpload => format!(
                        "{}: dry run, would upload {} bytes to {upload_url}",
                        dist.filename, dist.digests.size
                    ),
                });
                reports.push((dist.metadata.name().to_string(), r));
            }
            let verified = if config.verify && !config.dry_run {
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
        "dry_run": config.dry_run,
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

        // A dry run checks everything and writes nothing.
        let req = Request::new(
            "upload",
            serde_json::json!({ "repository": "file:.airlock/index", "dry_run": true }),
        );
        let out = run(&req).unwrap();
        assert_eq!(out["dry_run"], true);
        assert_eq!(out["verified"], false);
        let files = out["files"].as_array().unwrap();
        assert!(
            files.iter().all(|f| f["status"] == "would-upload"),
            "{files:?}"
        );
        assert!(!project.path().join(".airlock/index").exists());

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
        assert_eq!(out["files"][0]["status"], "skipped-identical");

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
