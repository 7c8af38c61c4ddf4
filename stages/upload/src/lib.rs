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
//! - `check_existing` (default `true`): the pre-flight reads the index's page of each project
//!   (PEP 691 JSON, else PEP 503 HTML, retried like uploads); with `false` it leaves the
//!   index checks to the index's answers (a `file:` repository is always checked).
//! - `dry_run` (default `false`): the whole pre-flight (with the credential check) but no
//!   upload; files that would be sent get status `would-upload`; nothing is verified.
//! - `validate` (default `true`): the pre-flight validates each file as PyPI would
//!   (`airlock_pypkg::validate`; reads each file whole).
//! - `index_rules` (`"pypi"` for upload.pypi.org and test.pypi.org, else `"none"`): PyPI's
//!   server rules in the pre-flight: 100 MiB per file (`max_file_mib` overrides, for a project
//!   whose limit PyPI raised) and no new file on a release first uploaded more than 14 days
//!   ago (`window_days` overrides; from PEP 700 `upload-time`).
//! - `credential` (`"required"` for https repositories, else `"optional"`): with
//!   `"required"` the pre-flight refuses the release when the host would send no credential
//!   to the repository (WIT `credential-for`).
//! - `retry`: `{ retries = 3, base_s = 1.0, factor = 2.0, cap_s = 60.0, max_retry_after_s = 300.0 }`:
//!   transport failures (reset, timeout, EOF) and 408/429/500/502/503/504 are retried with
//!   exponential backoff and jitter, honouring `Retry-After`; never 400/401/403.
//! - `timeouts`: `{ connect_s = 30, response_s = 120, between_bytes_s = 60, min_rate_kib_s = 16 }`
//!   per request; a body of N KiB gets N / `min_rate_kib_s` seconds more to be sent.
//! - `attestations` (default `"auto"`): PEP 740 attestations. Each distribution `dist/X` is
//!   sent with the attestation files beside it named `X.<type>.attestation` (uv's
//!   convention; the attest stage writes `X.publish.attestation`), each one attestation
//!   object, as the upload form's `attestations` field (a JSON array). The pre-flight checks
//!   them first (rule `attestations`: JSON object, `version` 1, the statement's one subject
//!   is X with X's sha256, a predicate type an index takes, at most 2 and one per type).
//!   `"require"`: the pre-flight also refuses a file to upload that has no publish
//!   attestation. `"off"`: none are read or sent. `.attestation` files are never
//!   distributions, neither in `dist/` nor among an upstream stage's artifacts.
//!
//! The credential is not the stage's business: the host injects it into requests to the
//! repository's origin (`grants.secrets.inject`). An expiring credential (a
//! trusted-publishing token lives 15 minutes) is the host's business too: it renews the
//! secret by running the authenticate stage again before a request would carry it stale
//! (`store-secret-until` in crates/stage/wit/stage.wit), so a long upload needs nothing here.
//!
//! The pre-flight (`airlock_publish::preflight`) plans the whole release before the first
//! byte: validation, each file against the index by sha256 (identical: skipped; different:
//! refused), the project's PEP 792 status, one sdist per release, the index's rules and the
//! credential. Any refusal fails the stage with every rule and file named and nothing sent.
//! Then the files go out wheels first, the sdist last, through an
//! `airlock_publish::session::UploadSession` (the legacy API; a `file:` folder publishes
//! all files at once). A file that fails after others were sent fails the stage with where
//! each file stands (on the index or not); running the stage again finishes the release.
//!
//! Output: `{ "repository": "<as configured>", "files": [{ "filename", "sha256", "size",
//! "status": "uploaded"|"skipped-identical"|"would-upload", "attestations": <how many were
//! sent (would be, in a dry run)>, "provenance"?: { "url", "publisher", "publishers" } }],
//! "sha256": { "<filename>":
//! "<hex>" }, "hashes": "<the same map as one line of JSON>", "verified": bool, "dry_run":
//! bool, "index_url": "<simple index URL>" }`. The built-in pipelines publish `hashes` as
//! the step output `hashes` (for hash-pinned installs; a step output holds 1 KiB, about
//! nine files).
//! For a `file:` repository `index_url` is `file:///<folder>/simple/` in the sandbox's terms
//! (project root = `/`) and `index_path` is the project-relative `<folder>/simple`; the host
//! knows the project's absolute path to make a URL pip can use outside the sandbox.
//!
//! `files[*].provenance` is present for a file sent with attestations when, at
//! verification, the index's simple page lists a PEP 740 provenance URL for it and the
//! provenance there holds exactly the attestations sent (else the stage fails, category
//! upload); `publisher` is its first bundle's publisher (PyPI: the Trusted Publisher, e.g.
//! `{"kind": "GitHub", "repository", "workflow", "environment"}`; a `file:` repository
//! writes `null`), `publishers` every bundle's. An index that lists no provenance (it
//! ignores the field, as pypiserver does) gets a warning in the log instead.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use airlock_publish::attestation;
use airlock_publish::folder::FolderSession;
use airlock_publish::index::Index;
use airlock_publish::preflight::{self, Action, Rules};
use airlock_publish::retry::RetryPolicy;
use airlock_publish::session::{LegacySession, UploadSession};
use airlock_publish::{DistKind, Distribution, FileReport, FileStatus, Repository};
use airlock_stage::http::SdkTransport;
use airlock_stage::http::Timeouts;
use airlock_stage::{Artifact, Output, Request, StageError, host};
use serde::{Deserialize, Serialize};

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
    #[serde(default = "yes")]
    validate: bool,
    #[serde(default)]
    index_rules: Option<IndexRules>,
    #[serde(default)]
    max_file_mib: Option<u64>,
    #[serde(default)]
    window_days: Option<u64>,
    #[serde(default)]
    credential: Option<Need>,
    #[serde(default)]
    attestations: Attestations,
}

/// `attestations`: what happens to the PEP 740 attestation files beside each distribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Attestations {
    /// Check and send those found.
    #[default]
    Auto,
    /// As `auto`, and refuse a file to upload that has no publish attestation.
    Require,
    /// Read and send none.
    Off,
}

/// `index_rules`: whose server rules the pre-flight applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum IndexRules {
    /// PyPI's: 100 MiB per file, no new files on a release older than 14 days.
    Pypi,
    /// None beyond what every index does.
    None,
}

/// `credential`: whether the pre-flight requires one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Need {
    Required,
    Optional,
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

/// The stage's output (the module docs give its JSON).
#[derive(Debug, Serialize)]
struct Published {
    /// The `repository` config value.
    repository: String,
    /// One report per file, in upload order.
    files: Vec<FileReport>,
    /// File name → sha256 (lowercase hex).
    sha256: BTreeMap<String, String>,
    /// `sha256` as one JSON string (for a CI output variable).
    hashes: String,
    /// Whether the index was read back after publishing.
    verified: bool,
    dry_run: bool,
    /// The simple index URL checked (`file:///…/simple/` for a folder).
    index_url: String,
    /// A folder repository's simple index, project-relative.
    #[serde(skip_serializing_if = "Option::is_none")]
    index_path: Option<String>,
}

impl Output for Published {}

/// The files to publish (project-relative paths) with the sha256 an upstream stage promised:
/// the artifacts of the first upstream output that lists some other than attestations (an
/// attest stage's output lists its `.attestation` files: those go with the distributions,
/// not as ones), else every distribution in `dist`.
///
/// Errors: an upstream output whose `artifacts` are not a list of [`Artifact`]s (`path`,
/// `sha256`, `size`) is an [`Category::Internal`](airlock_stage::Category) error naming the
/// stage, rather than a silent fall back to the whole `dist` folder.
fn select_files(
    req: &Request,
    config: &Config,
) -> Result<Vec<(PathBuf, Option<String>)>, StageError> {
    #[derive(Deserialize)]
    struct Upstream {
        artifacts: Vec<Artifact>,
    }
    for (id, output) in &req.inputs {
        if output.get("artifacts").is_none() {
            continue;
        }
        let Some(Upstream { artifacts }) = req.input::<Upstream>(id)? else {
            continue;
        };
        let artifacts: Vec<Artifact> = artifacts
            .into_iter()
            .filter(|a| !is_attestation(&a.path))
            .collect();
        if artifacts.is_empty() {
            continue;
        }
        host::info(&format!(
            "publishing the {} artifacts of stage '{id}'",
            artifacts.len()
        ));
        return Ok(artifacts
            .into_iter()
            .map(|a| {
                (
                    PathBuf::from(a.path.trim_start_matches('/')),
                    Some(a.sha256),
                )
            })
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

/// True for a path whose file name is a PEP 740 attestation file (`X.<type>.attestation`).
fn is_attestation(path: &str) -> bool {
    Path::new(path)
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(attestation::SUFFIX))
}

/// The index's rules the pre-flight applies (see [`preflight::Rules`]).
fn rules(config: &Config, repository: &Repository) -> Rules {
    let pypi = repository.is_pypi();
    let which = config.index_rules.unwrap_or(if pypi {
        IndexRules::Pypi
    } else {
        IndexRules::None
    });
    let base = if which == IndexRules::Pypi {
        Rules::PYPI
    } else {
        Rules::default()
    };
    Rules {
        max_file_size: config
            .max_file_mib
            .map(|m| m * 1024 * 1024)
            .or(base.max_file_size),
        release_window_s: config
            .window_days
            .map(|d| d as i64 * 86_400)
            .or(base.release_window_s),
    }
}

/// The message of a failure after the first file: the error, where each file stands, and
/// what finishes the release.
fn halfway(
    e: StageError,
    done: &[FileReport],
    failed: &str,
    rest: &[&str],
    public: bool,
) -> StageError {
    let on_index: Vec<&str> = done
        .iter()
        .filter(|r| public || r.status == FileStatus::Skipped)
        .map(|r| r.filename.as_str())
        .collect();
    let mut missing: Vec<&str> = done
        .iter()
        .filter(|r| !(public || r.status == FileStatus::Skipped))
        .map(|r| r.filename.as_str())
        .collect();
    missing.push(failed);
    missing.extend(rest);
    let state = if on_index.is_empty() {
        "nothing of this release was published".to_string()
    } else {
        format!(
            "on the index: {}; not on the index: {}. Run the stage again once the cause is fixed: files already there are skipped as identical",
            on_index.join(", "),
            missing.join(", ")
        )
    };
    StageError {
        message: format!("{} [{}] ({state})", e.message, summary(done, failed, rest)),
        ..e
    }
}

fn run(req: &Request) -> Result<Published, StageError> {
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
    let (paths, dists): (Vec<PathBuf>, Vec<Distribution>) = dists.into_iter().unzip();

    // The session's backend, and what the index is called in messages.
    let mut transport = SdkTransport;
    let (mut session, target, index_url, index_path): (
        Box<dyn UploadSession + '_>,
        String,
        String,
        Option<String>,
    ) = match &repository {
        Repository::Folder { path } => {
            let rel = format!("{}/simple", path.display());
            (
                Box::new(FolderSession::begin(path)),
                path.display().to_string(),
                format!("file:///{rel}/"),
                Some(rel),
            )
        }
        Repository::Http {
            upload_url,
            simple_url,
        } => (
            Box::new(LegacySession {
                index: Index::new(upload_url, simple_url, &mut transport)
                    .with_policy(config.retry.clone())
                    .with_timeouts(config.timeouts.timeouts()),
            }),
            upload_url.clone(),
            simple_url.clone(),
            None,
        ),
    };

    // The pre-flight: every file checked before the first byte is sent.
    let missing_credential = match &repository {
        Repository::Http { upload_url, .. } => {
            let required = config
                .credential
                .map(|c| c == Need::Required)
                .unwrap_or(upload_url.starts_with("https://"));
            (required && host::credential_for(upload_url).is_none()).then(|| upload_url.clone())
        }
        Repository::Folder { .. } => None,
    };
    let checks = preflight::Checks {
        validate: config.validate,
        read_index: config.check_existing || matches!(repository, Repository::Folder { .. }),
        missing_credential,
        rules: rules(&config, &repository),
        attestations: match config.attestations {
            Attestations::Off => None,
            Attestations::Auto => Some(false),
            Attestations::Require => Some(true),
        },
        now_s: i64::try_from(airlock_stage::unix_now_s()).unwrap_or(i64::MAX),
    };
    let preflight::Checked { plan, attestations } =
        preflight::check(&mut *session, &paths, &dists, &checks)?;
    if let Some(e) = plan.error(config.dry_run) {
        session.abandon();
        return Err(e);
    }
    host::info(&format!("pre-flight passed: {}", plan.summary()));

    let total = plan.files.len() as u64;
    let mut reports: Vec<(String, FileReport)> = Vec::new();
    let public = session.public_on_add();
    for (n, planned) in plan.files.iter().enumerate() {
        let (src, dist) = (&paths[planned.index], &dists[planned.index]);
        host::progress(
            n as u64,
            Some(total),
            &format!("publishing {}", dist.filename),
        );
        let r = match planned.action {
            Action::SkipIdentical => FileReport::of(dist, FileStatus::Skipped),
            Action::Upload if config.dry_run => FileReport {
                attestations: attestations[planned.index].len(),
                ..FileReport::of(dist, FileStatus::WouldUpload)
            },
            Action::Upload => {
                let message = format!("uploading {}", dist.filename);
                match session.add(dist, src, &attestations[planned.index], &mut |sent, len| {
                    host::progress(sent, Some(len), &message)
                }) {
                    Ok(r) => r,
                    Err(e) => {
                        let done: Vec<FileReport> =
                            reports.iter().map(|(_, r)| r.clone()).collect();
                        let rest: Vec<&str> = plan.files[n + 1..]
                            .iter()
                            .map(|f| f.filename.as_str())
                            .collect();
                        session.abandon();
                        return Err(halfway(e, &done, &dist.filename, &rest, public));
                    }
                }
            }
            Action::Conflict => unreachable!("a plan with a conflict is refused above"),
        };
        host::info(&match r.status {
            FileStatus::Uploaded if r.attestations > 0 => format!(
                "{}: uploaded to {target} with {} attestation(s)",
                dist.filename, r.attestations
            ),
            FileStatus::Uploaded => format!("{}: uploaded to {target}", dist.filename),
            FileStatus::Skipped => format!(
                "{}: already on the index with the same sha256 {}, skipped",
                dist.filename, dist.digests.sha256
            ),
            FileStatus::WouldUpload => format!(
                "{}: dry run, would upload {} bytes to {target}",
                dist.filename, dist.digests.size
            ),
        });
        reports.push((dist.metadata.name().to_string(), r));
    }
    let (verified, provenances) = if config.dry_run {
        session.abandon();
        (false, Vec::new())
    } else {
        let p = session.publish(&reports, config.verify)?;
        (config.verify, p)
    };
    host::progress(total, Some(total), "done");
    let mut files: Vec<FileReport> = reports.into_iter().map(|(_, r)| r).collect();
    for (filename, served) in provenances {
        if let Some(f) = files.iter_mut().find(|f| f.filename == filename) {
            if let Some(p) = &served {
                host::info(&format!(
                    "{filename}: the index serves its {} attestation(s) at {}",
                    f.attestations, p.url
                ));
            }
            f.provenance = served;
        }
    }
    let sha256: BTreeMap<String, String> = files
        .iter()
        .map(|f| (f.filename.clone(), f.sha256.clone()))
        .collect();
    let hashes = serde_json::to_string(&sha256)
        .map_err(|e| StageError::internal(format!("the sha256 map is not JSON: {e}")))?;
    Ok(Published {
        repository: config.repository,
        files,
        sha256,
        hashes,
        verified,
        dry_run: config.dry_run,
        index_url,
        index_path,
    })
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
        let out = serde_json::to_value(run(&req).unwrap()).unwrap();
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
        let out = serde_json::to_value(run(&req).unwrap()).unwrap();
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
        let out = serde_json::to_value(run(&req).unwrap()).unwrap();
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
