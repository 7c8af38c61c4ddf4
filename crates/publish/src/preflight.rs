//! The pre-flight: the whole release planned and checked before its first byte is sent.
//!
//! PyPI's legacy upload API takes one file per request, so a release that fails after its
//! first file is half-published (and PyPI refuses new files on a release older than its
//! window, so the rest may never follow). Until an index offers PEP 694 sessions, the most
//! a publisher can do is refuse to start what would fail halfway. [`plan`] decides, for
//! every file, from the files themselves and the index's project pages (PEP 691 JSON, else
//! PEP 503 HTML), whether it would be uploaded, skipped as identical or refused, and names
//! every rule that refuses the release:
//!
//! | rule | refused when | source |
//! |---|---|---|
//! | `validation` | the file fails [`airlock_pypkg::validate`] (an error finding) | twine check, forklift |
//! | `exists-different` | the index lists the file name with another sha256 | forklift: "File already exists" |
//! | `exists-unverifiable` | the index lists the file name with no sha256 | |
//! | `project-status` | the project is `archived` or `quarantined` | PEP 792 |
//! | `one-sdist` | a second sdist of one release (on the index or in the upload) | forklift: "Only one sdist may be uploaded per release." |
//! | `release-window` | a new file for a release whose first file is older than the window | the index's rule, from PEP 700 `upload-time` |
//! | `file-size` | a file over the index's size limit | forklift `MAX_FILESIZE` (100 MiB unless raised) |
//! | `credential` | no credential would be sent to the upload URL | the stage's `inject` grant |
//! | `attestations` | an attestation beside the file is malformed, is about another file (subject name or sha256), has an unknown predicate type, or the file has more than 2 or two of one type; with `require`, a file to upload has no publish attestation | PEP 740, warehouse's `attestations` checks ([`crate::attestation`]) |
//!
//! [`check`] runs them all for an upload session; the upload stage only says which.
//!
//! Files are uploaded in [`upload_order`]: wheels first, the sdist last (as uv does), so a
//! release whose sdist is on the index is complete.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use airlock_pypkg::filename::{DistFilename, FileKind};
use airlock_stage::{Category, StageError};
use serde::Serialize;

use crate::attestation::{self, Attestation};
use crate::dist::{DistKind, Distribution};
use crate::session::UploadSession;
use crate::simple::ProjectPage;

/// The index's server-side rules the pre-flight applies beyond what any index enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rules {
    /// Refuse a file larger than this many bytes (PyPI: 100 MiB, unless the project's
    /// limit was raised). `None`: no limit known.
    pub max_file_size: Option<u64>,
    /// Refuse a new file for a release whose earliest listed file (PEP 700 `upload-time`)
    /// is more than this many seconds old. `None`: no window.
    pub release_window_s: Option<i64>,
}

impl Rules {
    /// PyPI's and TestPyPI's: 100 MiB per file and a 14-day window for new files.
    pub const PYPI: Rules = Rules {
        max_file_size: Some(100 * 1024 * 1024),
        release_window_s: Some(14 * 24 * 3600),
    };
}

/// What the pre-flight plans for one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Not on the index: upload it.
    Upload,
    /// On the index with the same sha256: nothing to send.
    SkipIdentical,
    /// Refused by a rule (see [`Plan::refusals`]).
    Conflict,
}

impl Action {
    /// How a dry run words it: `would upload`, `would skip (identical)`, `would conflict`.
    pub fn would(self) -> &'static str {
        match self {
            Action::Upload => "would upload",
            Action::SkipIdentical => "would skip (identical on the index)",
            Action::Conflict => "would conflict",
        }
    }
}

/// One file of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedFile {
    /// Its position in the `dists` given to [`plan`].
    #[serde(skip)]
    pub index: usize,
    /// File name.
    pub filename: String,
    /// sha256, lowercase hex.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// What would happen to it.
    pub action: Action,
}

/// Why the release is refused: one rule, one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// The rule's name (see the module's table), e.g. `one-sdist`.
    pub rule: &'static str,
    /// The file it concerns.
    pub file: String,
    /// What is wrong, in a sentence.
    pub message: String,
    /// What to do about it.
    pub fix: String,
}

impl Refusal {
    /// A refusal of `file` by `rule`.
    pub fn new(rule: &'static str, file: &str, message: String, fix: &str) -> Self {
        Refusal {
            rule,
            file: file.to_string(),
            message,
            fix: fix.to_string(),
        }
    }
}

/// The release, planned: every file in upload order, and what refuses it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// Every file, in [`upload_order`].
    pub files: Vec<PlannedFile>,
    /// Every rule that refuses the release; empty when it may start.
    pub refusals: Vec<Refusal>,
}

impl Plan {
    /// Adds refusals found elsewhere (validation, the credential), marking their files
    /// [`Action::Conflict`].
    pub fn refuse(&mut self, refusals: impl IntoIterator<Item = Refusal>) {
        for r in refusals {
            if let Some(f) = self.files.iter_mut().find(|f| f.filename == r.file) {
                f.action = Action::Conflict;
            }
            self.refusals.push(r);
        }
    }

    /// "a.whl: would upload; b.tar.gz: would conflict".
    pub fn summary(&self) -> String {
        self.files
            .iter()
            .map(|f| format!("{}: {}", f.filename, f.action.would()))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The error that refuses the release, or `None` when nothing refuses it. Its message
    /// names every refusal (`[rule] file: message`) and the plan; its hint, each fix once;
    /// its category is [`Category::Validation`] when every refusal is `validation` or
    /// `attestations`, else
    /// [`Category::Upload`] ([`Category::Authentication`] for a missing credential alone).
    pub fn error(&self, dry_run: bool) -> Option<StageError> {
        if self.refusals.is_empty() {
            return None;
        }
        let problems: Vec<String> = self
            .refusals
            .iter()
            .map(|r| format!("[{}] {}: {}", r.rule, r.file, r.message))
            .collect();
        let mut fixes: Vec<&str> = Vec::new();
        for r in &self.refusals {
            if !fixes.contains(&r.fix.as_str()) {
                fixes.push(&r.fix);
            }
        }
        let category = if self
            .refusals
            .iter()
            .all(|r| r.rule == "validation" || r.rule == "attestations")
        {
            Category::Validation
        } else if self.refusals.iter().all(|r| r.rule == "credential") {
            Category::Authentication
        } else {
            Category::Upload
        };
        Some(
            StageError::new(
                category,
                format!(
                    "{}the pre-flight refused the release, so nothing was uploaded: {}. Plan: {}",
                    if dry_run { "dry run: " } else { "" },
                    problems.join("; "),
                    self.summary()
                ),
            )
            .with_hint(fixes.join("; ")),
        )
    }
}

/// Upload order: wheels first (by file name), then sdists, so the sdist is last, as uv
/// orders them. Returns indices into `dists`.
pub fn upload_order(dists: &[Distribution]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..dists.len()).collect();
    order.sort_by(|&a, &b| {
        let key = |d: &Distribution| (d.kind == DistKind::Sdist, d.filename.clone());
        key(&dists[a]).cmp(&key(&dists[b]))
    });
    order
}

/// Plans uploading `dists` to an index whose project pages are `pages` (by PEP 503
/// normalised name; a project missing from it has no files there), under `rules`, at
/// `now_s` (unix seconds). Pure: reads nothing, sends nothing.
pub fn plan(
    dists: &[Distribution],
    pages: &HashMap<String, ProjectPage>,
    rules: &Rules,
    now_s: i64,
) -> Plan {
    let empty = ProjectPage::default();
    let mut out = Plan::default();
    // (project, version) of the sdists planned so far, for `one-sdist` within the upload.
    let mut sdists: Vec<(String, String, String)> = Vec::new();
    for i in upload_order(dists) {
        let d = &dists[i];
        let (name, version) = (d.normalized_name(), d.metadata.version().to_string());
        let page = pages.get(&name).unwrap_or(&empty);
        let mut refuse = |rule, message: String, fix: &str| {
            out.refusals
                .push(Refusal::new(rule, &d.filename, message, fix))
        };
        let mut action = Action::Upload;
        if let Some(listed) = page.files.iter().find(|f| f.filename == d.filename) {
            match &listed.sha256 {
                Some(h) if *h == d.digests.sha256 => action = Action::SkipIdentical,
                Some(h) => {
                    action = Action::Conflict;
                    refuse(
                        "exists-different",
                        format!(
                            "already on the index with different content (index sha256 {h}, local {})",
                            d.digests.sha256
                        ),
                        "a published file is never replaced: bump the version and build again",
                    );
                }
                None => {
                    action = Action::Conflict;
                    refuse(
                        "exists-unverifiable",
                        "already on the index, which gives no sha256 to compare with".into(),
                        "check the file on the index by hand; its simple pages should carry sha256 digests",
                    );
                }
            }
        }
        if action == Action::Upload {
            if let Some(status) = page.status.as_ref().filter(|s| !s.takes_uploads()) {
                action = Action::Conflict;
                refuse(
                    "project-status",
                    format!(
                        "project {name} is {} on the index{}, which takes no uploads (PEP 792)",
                        status.status,
                        status
                            .reason
                            .as_deref()
                            .map(|r| format!(" ({r})"))
                            .unwrap_or_default()
                    ),
                    "ask the project's owners (or the index's admins) to set it active again",
                );
            }
            if d.kind == DistKind::Sdist {
                let on_index = page.files.iter().find(|f| {
                    f.filename != d.filename
                        && DistFilename::parse(&f.filename).is_some_and(|p| {
                            p.kind == FileKind::Sdist
                                && p.project() == name
                                && p.is_version(&version)
                        })
                });
                let in_upload = sdists.iter().find(|(n, v, _)| {
                    *n == name && airlock_pypkg::filename::same_version(v, &version)
                });
                if let Some(other) = on_index
                    .map(|f| f.filename.as_str())
                    .or(in_upload.map(|s| s.2.as_str()))
                {
                    action = Action::Conflict;
                    refuse(
                        "one-sdist",
                        format!(
                            "release {name} {version} already has the sdist {other}; an index takes one sdist per release"
                        ),
                        "publish one sdist per release: remove the extra one from the upload, or bump the version",
                    );
                }
                sdists.push((name.clone(), version.clone(), d.filename.clone()));
            }
            if let Some(window) = rules.release_window_s {
                let first = page
                    .files
                    .iter()
                    .filter(|f| {
                        DistFilename::parse(&f.filename).is_some_and(|p| p.is_version(&version))
                    })
                    .filter_map(|f| f.upload_time)
                    .min();
                if let Some(first) = first.filter(|t| now_s - t > window) {
                    action = Action::Conflict;
                    refuse(
                        "release-window",
                        format!(
                            "release {name} {version} was first uploaded {} days ago; the index takes no new files after {} days",
                            (now_s - first) / 86_400,
                            window / 86_400
                        ),
                        "publish the files as a new version (a post-release, e.g. 1.0.post1)",
                    );
                }
            }
            if let Some(max) = rules.max_file_size.filter(|m| d.digests.size > *m) {
                action = Action::Conflict;
                refuse(
                    "file-size",
                    format!(
                        "{} bytes is over the index's limit of {max} bytes",
                        d.digests.size
                    ),
                    "make the distribution smaller, or raise `max_file_mib` if the index raised your project's limit",
                );
            }
        }
        out.files.push(PlannedFile {
            index: i,
            filename: d.filename.clone(),
            sha256: d.digests.sha256.clone(),
            size: d.digests.size,
            action,
        });
    }
    out
}

/// What [`check`] is asked to check, from the upload stage's config.
#[derive(Debug, Clone, PartialEq)]
pub struct Checks {
    /// Validate each file ([`validate`]: rule `validation`).
    pub validate: bool,
    /// Read the index's project pages (rules `exists-*`, `project-status`, `one-sdist`,
    /// `release-window`); without them every file is planned as an upload.
    pub read_index: bool,
    /// The upload URL, when a credential is required there and none would be sent (rule
    /// `credential`); the caller knows it from the host (`host::credential_for`).
    pub missing_credential: Option<String>,
    /// The index's own rules (size limit, release window).
    pub rules: Rules,
    /// The attestations beside each file: `None` not read; `Some(require)` read and checked
    /// ([`attestations`]), with `require` refusing a file to upload that has none.
    pub attestations: Option<bool>,
    /// Now, in unix seconds (for the release window).
    pub now_s: i64,
}

/// What [`check`] found: the plan, with every refusal, and by index into the checked
/// distributions the attestation objects to send with each file.
#[derive(Debug, Clone, Default)]
pub struct Checked {
    /// What happens to each file, and what refuses the release.
    pub plan: Plan,
    /// The PEP 740 attestation objects to send with `dists[i]` (empty for none).
    pub attestations: Vec<Vec<serde_json::Value>>,
}

/// The whole pre-flight of `dists` (read from `paths`, same order) for `session`'s index:
/// validation, the index's project pages, the [`plan`], the credential and the
/// attestations, every refusal gathered in the plan (see [`Plan::error`]). Nothing is sent.
/// Errors: a file or an attestation cannot be read, or the index cannot (then the message
/// says nothing was uploaded).
pub fn check(
    session: &mut dyn UploadSession,
    paths: &[PathBuf],
    dists: &[Distribution],
    checks: &Checks,
) -> Result<Checked, StageError> {
    let mut refusals = Vec::new();
    if checks.validate {
        for path in paths {
            refusals.extend(validate(path)?);
        }
    }
    let mut pages = HashMap::new();
    if checks.read_index {
        let mut names: Vec<String> = dists.iter().map(|d| d.normalized_name()).collect();
        names.sort();
        names.dedup();
        for name in names {
            let page = session.project_page(&name).map_err(|e| StageError {
                message: format!(
                    "the pre-flight cannot read what the index has of {name}, so nothing was uploaded: {}",
                    e.message
                ),
                hint: Some(e.hint.clone().unwrap_or_else(|| "run the stage again later, or set check_existing = false to leave the check to the index's answers".into())),
                ..e
            })?;
            pages.insert(name, page);
        }
    }
    if let Some(upload_url) = &checks.missing_credential {
        refusals.push(Refusal::new(
            "credential",
            upload_url,
            "no credential would be sent with the uploads: no secret of this stage's grants.secrets.inject covers this origin, or none has a value".into(),
            "run an authenticate stage first (in `needs`) and inject its secret into the repository's origin; set credential = \"optional\" for an index that takes anonymous uploads",
        ));
    }
    let mut plan = plan(dists, &pages, &checks.rules, checks.now_s);
    let mut sent: Vec<Vec<serde_json::Value>> = vec![Vec::new(); dists.len()];
    if let Some(require) = checks.attestations {
        for planned in &plan.files {
            let (path, dist) = (&paths[planned.index], &dists[planned.index]);
            let found = attestation::read_files(path)?;
            let (good, refused) =
                attestations(dist, &found, require && planned.action == Action::Upload);
            refusals.extend(refused);
            if !good.is_empty() {
                airlock_stage::host::info(&format!(
                    "{}: {} attestation(s) to send ({})",
                    dist.filename,
                    good.len(),
                    good.iter()
                        .map(|a| a.source.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            sent[planned.index] = good.into_iter().map(|a| a.object).collect();
        }
    }
    plan.refuse(refusals);
    Ok(Checked {
        plan,
        attestations: sent,
    })
}

/// Validates the file at `path` with [`airlock_pypkg::validate`], as PyPI's upload endpoint
/// would: one [`Refusal`] (`validation`) per error finding. The `size` finding is left to
/// [`Rules::max_file_size`], which the upload config can raise; the `readme` finding
/// (`twine check --strict`'s, not the index's: PyPI takes a release without a long
/// description) is the build stage's to report, not a reason to refuse an upload. Reads the
/// whole file.
pub fn validate(path: &Path) -> Result<Vec<Refusal>, StageError> {
    let report = airlock_pypkg::validate::validate_path(path)
        .map_err(|e| StageError::validation(format!("cannot validate {}: {e}", path.display())))?;
    Ok(report
        .errors()
        .filter(|f| f.rule != "size" && f.rule != "readme")
        .map(|f| {
            Refusal::new(
                "validation",
                &report.filename,
                format!("{} ({})", f.message, f.rule),
                &f.fix,
            )
        })
        .collect())
}

/// Checks the attestations of `dist` before anything is sent (rule `attestations`):
/// `files` are its attestation files as `(file name, contents)` (see
/// [`attestation::read_files`]). Each must pass [`attestation::check`] against `dist`'s
/// file name and the sha256 the pre-flight computed, and the set
/// [`attestation::check_set`] (at most 2, one per predicate type, as warehouse). With
/// `require`, a file without a publish attestation ([`attestation::PUBLISH_V1`]) is refused
/// too (the caller asks it only for files it will upload).
///
/// Returns the attestations to send (empty when any is refused) and one [`Refusal`] per
/// problem, naming the attestation file and what did not match.
pub fn attestations(
    dist: &Distribution,
    files: &[(String, Vec<u8>)],
    require: bool,
) -> (Vec<Attestation>, Vec<Refusal>) {
    const FIX: &str = "an attestation must be made for this very file: attest the files again after the last build (nothing may change dist/ between attest and upload), or remove the stale .attestation file";
    let mut good = Vec::new();
    let mut refusals = Vec::new();
    for (source, bytes) in files {
        match attestation::check(source, bytes, &dist.filename, &dist.digests.sha256) {
            Ok(a) => good.push(a),
            Err(why) => refusals.push(Refusal::new(
                "attestations",
                &dist.filename,
                format!("{source}: {why}"),
                FIX,
            )),
        }
    }
    if refusals.is_empty()
        && let Err(why) = attestation::check_set(&good)
    {
        refusals.push(Refusal::new(
            "attestations",
            &dist.filename,
            why,
            "keep at most one attestation per predicate type (publish, SLSA provenance) beside each file",
        ));
    }
    if require
        && refusals.is_empty()
        && !good
            .iter()
            .any(|a| a.predicate_type == attestation::PUBLISH_V1)
    {
        refusals.push(Refusal::new(
            "attestations",
            &dist.filename,
            format!(
                "no publish attestation beside it ({}.publish.attestation with predicate type {}), and attestations = \"require\"",
                dist.filename,
                attestation::PUBLISH_V1
            ),
            "run the attest stage before the upload (in `needs`), or set attestations = \"auto\"",
        ));
    }
    if !refusals.is_empty() {
        good.clear();
    }
    (good, refusals)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simple::{ListedFile, ProjectStatus};

    const NOW: i64 = 1_800_000_000;

    fn fixtures() -> (Distribution, Distribution) {
        let dir = airlock_test_support::fixtures();
        (
            Distribution::read(&dir.join(airlock_test_support::MYPYLOGGER_WHEEL)).unwrap(),
            Distribution::read(&dir.join(airlock_test_support::MYPYLOGGER_SDIST)).unwrap(),
        )
    }

    fn listed(filename: &str, sha256: Option<&str>, upload_time: Option<i64>) -> ListedFile {
        ListedFile {
            filename: filename.into(),
            url: format!("../../packages/{filename}"),
            sha256: sha256.map(str::to_string),
            upload_time,
            provenance: None,
        }
    }

    fn pages(page: ProjectPage) -> HashMap<String, ProjectPage> {
        [("mypylogger".to_string(), page)].into_iter().collect()
    }

    #[test]
    fn wheels_first_then_the_sdist_and_identical_files_are_skipped() {
        let (wheel, sdist) = fixtures();
        let dists = vec![sdist.clone(), wheel.clone()];
        assert_eq!(upload_order(&dists), vec![1, 0]);
        let page = ProjectPage {
            files: vec![listed(
                &wheel.filename,
                Some(&wheel.digests.sha256),
                Some(NOW - 60),
            )],
            status: None,
        };
        let plan = plan(&dists, &pages(page), &Rules::PYPI, NOW);
        assert!(plan.refusals.is_empty(), "{plan:?}");
        assert_eq!(
            plan.files
                .iter()
                .map(|f| (f.filename.as_str(), f.action))
                .collect::<Vec<_>>(),
            vec![
                (wheel.filename.as_str(), Action::SkipIdentical),
                (sdist.filename.as_str(), Action::Upload)
            ]
        );
        assert_eq!(plan.files[1].index, 0);
        assert!(plan.error(false).is_none());
    }

    #[test]
    fn every_rule_refuses_with_its_name_and_a_fix() {
        let (wheel, sdist) = fixtures();
        let dists = vec![wheel.clone(), sdist.clone()];
        let other = "0".repeat(64);
        let cases: Vec<(&str, ProjectPage, Rules)> = vec![
            (
                "exists-different",
                ProjectPage {
                    files: vec![listed(&wheel.filename, Some(&other), None)],
                    status: None,
                },
                Rules::default(),
            ),
            (
                "exists-unverifiable",
                ProjectPage {
                    files: vec![listed(&wheel.filename, None, None)],
                    status: None,
                },
                Rules::default(),
            ),
            (
                "project-status",
                ProjectPage {
                    files: vec![],
                    status: Some(ProjectStatus {
                        status: "archived".into(),
                        reason: Some("done".into()),
                    }),
                },
                Rules::default(),
            ),
            (
                "one-sdist",
                ProjectPage {
                    files: vec![listed("MyPyLogger-0.2.8.zip", Some(&other), None)],
                    status: None,
                },
                Rules::default(),
            ),
            (
                "release-window",
                ProjectPage {
                    files: vec![listed(
                        "mypylogger-0.2.8-py2-none-any.whl",
                        Some(&other),
                        Some(NOW - 15 * 86_400),
                    )],
                    status: None,
                },
                Rules::PYPI,
            ),
            (
                "file-size",
                ProjectPage::default(),
                Rules {
                    max_file_size: Some(1000),
                    release_window_s: None,
                },
            ),
        ];
        for (rule, page, rules) in cases {
            let plan = plan(&dists, &pages(page), &rules, NOW);
            assert!(!plan.refusals.is_empty(), "{rule}: {plan:?}");
            assert!(
                plan.refusals.iter().all(|r| r.rule == rule),
                "{rule}: {plan:?}"
            );
            assert!(
                plan.files.iter().any(|f| f.action == Action::Conflict),
                "{rule}"
            );
            let e = plan.error(true).unwrap();
            assert!(
                e.message.starts_with("dry run: the pre-flight refused"),
                "{}",
                e.message
            );
            assert!(e.message.contains(&format!("[{rule}]")), "{}", e.message);
            assert!(e.message.contains("would conflict"), "{}", e.message);
            assert!(e.hint.as_deref().is_some_and(|h| !h.is_empty()));
            assert_eq!(e.category, Category::Upload);
        }
        // Inside the window, and for another version, the window does not apply.
        for files in [
            vec![listed(
                "mypylogger-0.2.8-py2-none-any.whl",
                None,
                Some(NOW - 13 * 86_400),
            )],
            vec![listed(
                "mypylogger-0.2.7.tar.gz",
                None,
                Some(NOW - 400 * 86_400),
            )],
        ] {
            let plan = plan(
                &dists,
                &pages(ProjectPage {
                    files,
                    status: None,
                }),
                &Rules::PYPI,
                NOW,
            );
            assert!(plan.refusals.is_empty(), "{plan:?}");
        }
        // A deprecated project takes uploads; identical files of an archived one are fine.
        let page = ProjectPage {
            files: vec![],
            status: Some(ProjectStatus {
                status: "deprecated".into(),
                reason: None,
            }),
        };
        assert!(
            plan(&dists, &pages(page), &Rules::PYPI, NOW)
                .refusals
                .is_empty()
        );
        let page = ProjectPage {
            files: vec![
                listed(&wheel.filename, Some(&wheel.digests.sha256), None),
                listed(&sdist.filename, Some(&sdist.digests.sha256), None),
            ],
            status: Some(ProjectStatus {
                status: "archived".into(),
                reason: None,
            }),
        };
        assert!(
            plan(&dists, &pages(page), &Rules::PYPI, NOW)
                .refusals
                .is_empty()
        );
        // Two sdists of one release in the upload itself.
        let plan = plan(
            &[sdist.clone(), sdist.clone()],
            &HashMap::new(),
            &Rules::default(),
            NOW,
        );
        assert_eq!(plan.refusals.len(), 1);
        assert_eq!(plan.refusals[0].rule, "one-sdist");
    }

    #[test]
    fn validation_and_credential_refusals_set_the_category() {
        let (wheel, _) = fixtures();
        let mut p = plan(
            std::slice::from_ref(&wheel),
            &HashMap::new(),
            &Rules::default(),
            NOW,
        );
        p.refuse([Refusal::new(
            "validation",
            &wheel.filename,
            "bad".into(),
            "fix it",
        )]);
        assert_eq!(p.files[0].action, Action::Conflict);
        assert_eq!(p.error(false).unwrap().category, Category::Validation);
        let mut p = plan(
            std::slice::from_ref(&wheel),
            &HashMap::new(),
            &Rules::default(),
            NOW,
        );
        p.refuse([Refusal::new(
            "credential",
            &wheel.filename,
            "none".into(),
            "grant it",
        )]);
        assert_eq!(p.error(false).unwrap().category, Category::Authentication);
        let fixtures = airlock_test_support::fixtures();
        assert!(
            validate(&fixtures.join(airlock_test_support::MYPYLOGGER_WHEEL))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn attestations_rule_checks_each_against_its_file() {
        use crate::attestation::tests::attestation;
        use crate::attestation::{PUBLISH_V1, SLSA_PROVENANCE_V1};
        let (wheel, _) = fixtures();
        let (name, sha) = (wheel.filename.clone(), wheel.digests.sha256.clone());
        let file = |kind: &str, v: &serde_json::Value| {
            (
                format!("{name}.{kind}.attestation"),
                v.to_string().into_bytes(),
            )
        };
        let publish = attestation(&name, &sha, PUBLISH_V1);
        let slsa = attestation(&name, &sha, SLSA_PROVENANCE_V1);

        // Good: one of each type; nothing at all is fine unless required.
        let (good, refused) = attestations(
            &wheel,
            &[file("publish", &publish), file("slsa", &slsa)],
            true,
        );
        assert!(refused.is_empty(), "{refused:?}");
        assert_eq!(good.len(), 2);
        assert_eq!(good[0].object, publish);
        let (good, refused) = attestations(&wheel, &[], false);
        assert!(good.is_empty() && refused.is_empty());

        let wrong_name = attestation("mypylogger-0.2.8.tar.gz", &sha, PUBLISH_V1);
        let wrong_digest = attestation(&name, &"00".repeat(32), PUBLISH_V1);
        let mut not_base64 = publish.clone();
        not_base64["envelope"]["statement"] = "not base64!".into();
        type Files = Vec<(String, Vec<u8>)>;
        let cases: Vec<(&str, Files, bool, &str)> = vec![
            (
                "wrong subject name",
                vec![file("publish", &wrong_name)],
                false,
                "mypylogger-0.2.8.tar.gz",
            ),
            (
                "wrong digest",
                vec![file("publish", &wrong_digest)],
                false,
                &sha,
            ),
            (
                "three attestations",
                vec![file("a", &publish), file("b", &slsa), file("c", &publish)],
                false,
                "at most 2",
            ),
            (
                "two of one predicate type",
                vec![file("a", &publish), file("b", &publish)],
                false,
                "same predicate type",
            ),
            (
                "not base64",
                vec![file("publish", &not_base64)],
                false,
                "not base64",
            ),
            (
                "not JSON",
                vec![(format!("{name}.publish.attestation"), b"{nope".to_vec())],
                false,
                "not JSON",
            ),
            (
                "required but only SLSA",
                vec![file("slsa", &slsa)],
                true,
                "no publish attestation",
            ),
        ];
        for (case, files, require, says) in cases {
            let (good, refused) = attestations(&wheel, &files, require);
            assert!(
                good.is_empty(),
                "{case}: nothing is sent when any is refused"
            );
            assert_eq!(refused.len(), 1, "{case}: {refused:?}");
            let r = &refused[0];
            assert_eq!(r.rule, "attestations", "{case}");
            assert_eq!(r.file, name, "{case}");
            assert!(r.message.contains(says), "{case}: {}", r.message);
            // The plan is refused before any byte, naming the file and the rule.
            let mut p = plan(
                std::slice::from_ref(&wheel),
                &HashMap::new(),
                &Rules::default(),
                NOW,
            );
            p.refuse(refused);
            let e = p.error(false).unwrap();
            assert!(
                e.message.contains(&format!("[attestations] {name}")),
                "{}",
                e.message
            );
            assert!(e.message.contains("nothing was uploaded"), "{}", e.message);
            assert_eq!(e.category, Category::Validation);
        }
        // The refusal names the attestation file that did not match.
        let (_, refused) = attestations(&wheel, &[file("publish", &wrong_digest)], false);
        assert!(
            refused[0]
                .message
                .starts_with(&format!("{name}.publish.attestation: ")),
            "{}",
            refused[0].message
        );
    }
}
