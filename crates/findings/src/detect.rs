//! The detect stage's logic: read a previous and a current scan folder and report the
//! current findings and what changed.
//!
//! Report files are picked by name ([`ReportGlobs`]); other files (summaries, dependency
//! trees, `.gitkeep`) and subfolders are listed in `ignored`. Timestamped copies of the same
//! scan in one folder (`pip-audit.json` and `pip-audit-2025-10-31.json`) deduplicate by
//! finding id. The previous scan comes from a folder or from the state folder of the last
//! run ([`Baseline`]).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::model::{
    Changes, DetectReport, Finding, SeverityChange, Summary, normalize_package_name,
};
use crate::reports::{DEFAULT_GLOBS, ReportGlobs, SeverityPolicy, parse_report};

/// The findings of one scan folder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scan {
    /// Findings of every report read, deduplicated, sorted most severe first, then by id.
    pub findings: Vec<Finding>,
    /// The report file names read, in format order (SARIF, pip-audit, bandit, gitleaks,
    /// OSV-Scanner), then by name.
    pub scanned: Vec<String>,
    /// Entries of the folder that are not reports (sorted; subfolders end in `/`).
    pub ignored: Vec<String>,
    /// The latest `generated_at` of the reports that carry one.
    pub generated_at: Option<String>,
}

/// Reads the reports in `dir` picked by the default globs (see [`read_scan_with`]).
pub fn read_scan(dir: &Path, policy: &SeverityPolicy) -> Result<Scan> {
    read_scan_with(dir, &ReportGlobs::default(), policy)
}

/// Reads every file of `dir` (not its subfolders) whose name matches one of `globs`, as the
/// format of that glob.
///
/// A folder with no report gives an empty [`Scan`] with nothing in `scanned`; the caller
/// decides whether that is an error. Duplicates (the same tool family, id and package, e.g.
/// from timestamped copies of one scan) are kept once, at their highest severity. Errors:
/// [`Error::Io`] when `dir` or a file cannot be read (a missing `dir` is `NotFound`),
/// [`Error::Invalid`] for a malformed report (nothing of the folder is used then).
pub fn read_scan_with(dir: &Path, globs: &ReportGlobs, policy: &SeverityPolicy) -> Result<Scan> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut picked = Vec::new();
    let mut scan = Scan::default();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
        match (is_dir, globs.classify(&name)) {
            (false, Some(tool)) => picked.push((tool, name)),
            (true, _) => scan.ignored.push(format!("{name}/")),
            (false, None) => scan.ignored.push(name),
        }
    }
    scan.ignored.sort();
    let order = |t| DEFAULT_GLOBS.iter().position(|(d, _)| *d == t);
    picked.sort_by(|a, b| order(a.0).cmp(&order(b.0)).then(a.1.cmp(&b.1)));
    for (tool, name) in picked {
        let path = dir.join(&name);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let label = path.display().to_string();
        let parsed = parse_report(tool, &label, &text, policy)?;
        scan.findings.extend(parsed.findings);
        scan.scanned.push(name);
        if let Some(g) = parsed.generated_at
            && scan.generated_at.as_ref().is_none_or(|cur| g > *cur)
        {
            scan.generated_at = Some(g);
        }
    }
    scan.findings = dedup(std::mem::take(&mut scan.findings));
    sort_findings(&mut scan.findings);
    Ok(scan)
}

/// Keeps one finding per (tool family, id, package), the most severe, in first-seen order.
/// Linear: one hash lookup per finding.
fn dedup(findings: Vec<Finding>) -> Vec<Finding> {
    let key = |f: &Finding| {
        (
            if f.tool.is_dependency_scanner() {
                "deps"
            } else {
                f.tool.as_str()
            },
            f.id.to_ascii_lowercase(),
            f.package.as_deref().map(normalize_package_name),
        )
    };
    let mut out: Vec<Finding> = Vec::with_capacity(findings.len());
    let mut seen: std::collections::HashMap<_, usize> =
        std::collections::HashMap::with_capacity(findings.len());
    for f in findings {
        match seen.entry(key(&f)) {
            std::collections::hash_map::Entry::Occupied(e) => {
                let o = &mut out[*e.get()];
                if f.severity > o.severity {
                    *o = f;
                }
            }
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(out.len());
                out.push(f);
            }
        }
    }
    out
}

/// Sorts most severe first, then by tool, id and package.
pub fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.tool.cmp(&b.tool))
            .then(a.id.cmp(&b.id))
            .then(a.package.cmp(&b.package))
    });
}

/// Compares two scans. A current finding matches a previous one when
/// [`Finding::same_problem`] holds (same tool and package, a shared id or alias), so an
/// advisory renamed from `PYSEC-…` to `GHSA-…` between scans is neither new nor resolved.
pub fn compare(previous: &[Finding], current: &[Finding]) -> Changes {
    let mut changes = Changes::default();
    let prev_index = id_index(previous);
    let cur_index = id_index(current);
    let mut matched_prev = vec![false; previous.len()];
    for cur in current {
        match first_match(previous, &prev_index, cur) {
            Some(i) => {
                matched_prev[i] = true;
                let prev = &previous[i];
                if prev.severity != cur.severity {
                    changes.severity_changed.push(SeverityChange {
                        finding: cur.clone(),
                        from: prev.severity,
                        to: cur.severity,
                    });
                }
            }
            None => changes.new.push(cur.clone()),
        }
    }
    for (prev, matched) in previous.iter().zip(matched_prev) {
        if !matched && first_match(current, &cur_index, prev).is_none() {
            changes.resolved.push(prev.clone());
        }
    }
    changes
}

/// Positions of the findings in `list` by each of their ids and aliases (lowercase), so
/// matching is linear in the scan sizes: [`Finding::same_problem`] needs a shared id.
fn id_index(list: &[Finding]) -> std::collections::HashMap<String, Vec<usize>> {
    let mut index: std::collections::HashMap<String, Vec<usize>> = std::collections::HashMap::new();
    for (i, f) in list.iter().enumerate() {
        for id in f.ids() {
            index.entry(id.to_ascii_lowercase()).or_default().push(i);
        }
    }
    index
}

/// The first finding of `list` (in list order) that is the same problem as `f`.
fn first_match(
    list: &[Finding],
    index: &std::collections::HashMap<String, Vec<usize>>,
    f: &Finding,
) -> Option<usize> {
    let mut candidates: Vec<usize> = f
        .ids()
        .filter_map(|id| index.get(&id.to_ascii_lowercase()))
        .flatten()
        .copied()
        .collect();
    candidates.sort_unstable();
    candidates.dedup();
    candidates.into_iter().find(|&i| list[i].same_problem(f))
}

/// Where the previous scan comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Baseline<'a> {
    /// None: a first run. No baseline; current findings are not news.
    #[default]
    None,
    /// A folder of reports. Missing → no baseline (with a warning); present with no
    /// report → an empty baseline (every current finding is new).
    Folder(&'a Path),
    /// The run state folder of the last run (`airlock run --state DIR`, default
    /// `.airlock/state`): `state.json` names this stage's output file
    /// (`stages.<stage>.output`) and its `sha256`; its `findings` are the previous scan.
    /// No `state.json`, or no succeeded output of `stage` in it → no baseline (with a
    /// warning). An output whose digest does not match is an [`Error::Invalid`].
    State {
        /// The state folder.
        dir: &'a Path,
        /// The detect stage's id in the manifest.
        stage: &'a str,
    },
}

/// Everything detect needs.
#[derive(Debug, Clone)]
pub struct DetectOptions<'a> {
    /// The previous scan.
    pub baseline: Baseline<'a>,
    /// The current scan folder (required, must hold a report).
    pub current: &'a Path,
    /// Severity policy.
    pub policy: &'a SeverityPolicy,
    /// Which files are reports.
    pub globs: &'a ReportGlobs,
}

/// Runs detect with the default globs and a previous folder (see [`detect_with`]).
pub fn detect(
    previous: Option<&Path>,
    current: &Path,
    policy: &SeverityPolicy,
) -> Result<DetectReport> {
    detect_with(&DetectOptions {
        baseline: previous.map_or(Baseline::None, Baseline::Folder),
        current,
        policy,
        globs: &ReportGlobs::default(),
    })
    .map(|o| o.report)
}

fn not_found(e: &Error) -> bool {
    matches!(e, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
}

/// The previous findings from a state folder, or a warning saying why there are none.
fn state_baseline(
    dir: &Path,
    stage: &str,
) -> Result<std::result::Result<(Vec<Finding>, String), String>> {
    let state_path = dir.join("state.json");
    let text = match std::fs::read_to_string(&state_path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Err(format!(
                "no previous run state at '{}' (first run?); no baseline to compare with",
                state_path.display()
            )));
        }
        Err(e) => return Err(Error::io(state_path, e)),
    };
    let bad = |what: String| {
        Error::invalid(
            format!("run state '{}': {what}", state_path.display()),
            "restore the state folder of the last run unchanged (e.g. the CI artifact), or delete it to start without a baseline",
        )
    };
    let state: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
    let entry = &state["stages"][stage];
    let (Some(rel), Some(want)) = (entry["output"].as_str(), entry["sha256"].as_str()) else {
        return Ok(Err(format!(
            "the last run (state '{}') has no output of stage '{stage}' (status {}); no baseline to compare with",
            state_path.display(),
            entry["status"].as_str().unwrap_or("absent")
        )));
    };
    let out_path: PathBuf = dir.join(rel);
    let out = std::fs::read_to_string(&out_path).map_err(|e| Error::io(&out_path, e))?;
    let got: String = Sha256::digest(out.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if got != want {
        return Err(bad(format!(
            "{} has sha256 {got}, but state.json records {want}",
            out_path.display()
        )));
    }
    let report: DetectReport = serde_json::from_str(&out).map_err(|e| {
        bad(format!(
            "{} is not a detect report: {e}",
            out_path.display()
        ))
    })?;
    Ok(Ok((report.findings, rel.to_string())))
}

/// Runs detect: reads `current` (required) and the baseline, and compares them.
///
/// - `current` must hold at least one report, else [`Error::Invalid`] naming the folder,
///   the globs and what was there.
/// - The baseline: see [`Baseline`]. Without one, `baseline` is false, every current
///   finding is in `changes.new`, and decide does not treat that as news.
/// - A malformed report in either folder is an [`Error::Invalid`]: nothing downstream runs
///   on partial data.
pub fn detect_with(opts: &DetectOptions<'_>) -> Result<DetectOutput> {
    let current = opts.current;
    let cur = read_scan_with(current, opts.globs, opts.policy)?;
    if cur.scanned.is_empty() {
        return Err(Error::invalid(
            format!(
                "no scan report in '{}': looked for {}; found {}",
                current.display(),
                opts.globs.all().join(", "),
                if cur.ignored.is_empty() {
                    "nothing".to_string()
                } else {
                    cur.ignored.join(", ")
                }
            ),
            "nothing was scanned: run the scanners with JSON output into that folder (e.g. `pip-audit -f json -o pip-audit.json`), point `current` at the folder that holds them, or set `reports` globs that match their names",
        ));
    }
    let mut warnings = Vec::new();
    let mut prev: Option<Vec<Finding>> = None;
    let mut previous_scanned = Vec::new();
    let mut previous_ignored = Vec::new();
    let previous_label = match opts.baseline {
        Baseline::None => "none".to_string(),
        Baseline::Folder(dir) => {
            match read_scan_with(dir, opts.globs, opts.policy) {
                Ok(s) => {
                    if s.scanned.is_empty() {
                        warnings.push(format!(
                            "previous scan folder '{}' holds no report: an empty baseline (every current finding is new)",
                            dir.display()
                        ));
                    }
                    previous_scanned = s.scanned;
                    previous_ignored = s.ignored;
                    prev = Some(s.findings);
                }
                Err(e) if not_found(&e) => warnings.push(format!(
                    "previous scan folder '{}' does not exist (or is not granted); no baseline to compare with",
                    dir.display()
                )),
                Err(e) => return Err(e),
            }
            dir.display().to_string()
        }
        Baseline::State { dir, stage } => {
            match state_baseline(dir, stage)? {
                Ok((findings, file)) => {
                    previous_scanned = vec![file];
                    prev = Some(findings);
                }
                Err(w) => warnings.push(w),
            }
            format!("state:{}", dir.display())
        }
    };
    let baseline = prev.is_some();
    let changes = compare(prev.as_deref().unwrap_or(&[]), &cur.findings);
    Ok(DetectOutput {
        report: DetectReport {
            summary: Summary::of(&cur.findings),
            findings: cur.findings,
            changes,
            baseline,
            previous: previous_label,
            current: current.display().to_string(),
            scanned: cur.scanned,
            previous_scanned,
            scan_date: cur.generated_at,
            warnings,
        },
        ignored: cur.ignored,
        previous_ignored,
    })
}

/// The detect stage's output: the [`DetectReport`] fields (flattened) plus the folder
/// entries that were not reports.
///
/// JSON: the [`DetectReport`] object with `"ignored": ["…"]` (entries of the current folder
/// that no report glob matched; subfolders end in `/`) and `"previous_ignored": ["…"]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DetectOutput {
    /// The findings, changes and baseline.
    #[serde(flatten)]
    pub report: DetectReport,
    /// Entries of the current folder that are not reports.
    #[serde(default)]
    pub ignored: Vec<String>,
    /// Entries of the previous folder that are not reports.
    #[serde(default)]
    pub previous_ignored: Vec<String>,
}

/// The detect stage's output.
impl airlock_stage::Output for DetectOutput {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Severity;
    use std::fs;

    fn pip_audit(vulns: &[(&str, &str, &str, &[&str])]) -> String {
        let deps: Vec<_> = vulns
            .iter()
            .map(|(pkg, ver, id, aliases)| {
                serde_json::json!({"name": pkg, "version": ver, "vulns": [
                    {"id": id, "fix_versions": [], "aliases": aliases, "description": "d"}]})
            })
            .collect();
        serde_json::json!({"dependencies": deps, "fixes": []}).to_string()
    }

    #[test]
    fn current_without_reports_names_folder_and_files() {
        let dir = tempfile::tempdir().unwrap();
        let err = detect(None, dir.path(), &SeverityPolicy::default()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(&dir.path().display().to_string()), "{msg}");
        assert!(
            msg.contains(
                "*.sarif, *.sarif.json, pip-audit*.json, bandit*.json, gitleaks*.json, osv*.json"
            ),
            "{msg}"
        );
        fs::write(dir.path().join(".gitkeep"), "").unwrap();
        fs::write(dir.path().join("summary.md"), "# nothing").unwrap();
        let msg = detect(None, dir.path(), &SeverityPolicy::default())
            .unwrap_err()
            .to_string();
        assert!(msg.contains("found .gitkeep, summary.md"), "{msg}");
    }

    #[test]
    fn no_previous_means_no_baseline() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("pip-audit.json"),
            pip_audit(&[("pip", "25.2", "GHSA-4xh5-x5gv-qwph", &[])]),
        )
        .unwrap();
        fs::write(dir.path().join("gitleaks.json"), "[]").unwrap();
        let r = detect(None, dir.path(), &SeverityPolicy::default()).unwrap();
        assert!(!r.baseline);
        assert_eq!(r.previous, "none");
        assert_eq!(r.changes.new.len(), 1);
        assert_eq!(r.scanned, vec!["pip-audit.json", "gitleaks.json"]);
        assert_eq!(r.summary.total, 1);
        assert_eq!(r.summary.medium, 1);

        let missing = dir.path().join("nope");
        let r = detect(Some(&missing), dir.path(), &SeverityPolicy::default()).unwrap();
        assert!(!r.baseline);
        assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
    }

    #[test]
    fn alias_matching_keeps_renamed_advisories() {
        let prev = tempfile::tempdir().unwrap();
        let cur = tempfile::tempdir().unwrap();
        fs::write(
            prev.path().join("pip-audit.json"),
            pip_audit(&[
                ("py", "1.11.0", "PYSEC-2022-42969", &["CVE-2022-42969"]),
                ("jinja2", "3.1.2", "GHSA-h5c8-rqwp-cp95", &[]),
            ]),
        )
        .unwrap();
        fs::write(
            cur.path().join("pip-audit.json"),
            pip_audit(&[(
                "py",
                "1.11.0",
                "GHSA-w596-4wvx-j9j6",
                &["CVE-2022-42969", "PYSEC-2022-42969"],
            )]),
        )
        .unwrap();
        let r = detect(Some(prev.path()), cur.path(), &SeverityPolicy::default()).unwrap();
        assert!(r.baseline);
        assert!(r.changes.new.is_empty(), "{:?}", r.changes.new);
        assert_eq!(r.changes.resolved.len(), 1);
        assert_eq!(r.changes.resolved[0].id, "GHSA-h5c8-rqwp-cp95");
    }

    #[test]
    fn same_advisory_in_another_package_is_a_different_finding() {
        let a = crate::model::Finding {
            id: "GHSA-x".into(),
            tool: crate::model::Tool::PipAudit,
            severity: Severity::Medium,
            severity_source: "policy:default".into(),
            package: Some("Foo_Bar".into()),
            version: None,
            file: None,
            line: None,
            aliases: vec![],
            fix_versions: vec![],
            description: String::new(),
            reference_url: None,
        };
        let same = crate::model::Finding {
            package: Some("foo-bar".into()),
            ..a.clone()
        };
        let other = crate::model::Finding {
            package: Some("baz".into()),
            ..a.clone()
        };
        let ch = compare(&[a], &[same, other]);
        assert_eq!(ch.new.len(), 1);
        assert_eq!(ch.new[0].package.as_deref(), Some("baz"));
        assert!(ch.resolved.is_empty());
    }

    #[test]
    fn severity_changes_are_reported() {
        let prev = tempfile::tempdir().unwrap();
        let cur = tempfile::tempdir().unwrap();
        let bandit = |sev: &str| {
            serde_json::json!({"errors": [], "results": [{
                "code": "5 yaml.load(data)\n", "filename": "./app.py", "issue_severity": sev,
                "issue_confidence": "HIGH", "issue_text": "Use of unsafe yaml load.", "line_number": 5,
                "line_range": [5], "more_info": "https://bandit.readthedocs.io/", "test_id": "B506", "test_name": "yaml_load"}]})
            .to_string()
        };
        fs::write(prev.path().join("bandit.json"), bandit("MEDIUM")).unwrap();
        fs::write(cur.path().join("bandit.json"), bandit("HIGH")).unwrap();
        let r = detect(Some(prev.path()), cur.path(), &SeverityPolicy::default()).unwrap();
        assert!(r.changes.new.is_empty());
        assert_eq!(r.changes.severity_changed.len(), 1);
        let c = &r.changes.severity_changed[0];
        assert_eq!((c.from, c.to), (Severity::Medium, Severity::High));
    }
}
