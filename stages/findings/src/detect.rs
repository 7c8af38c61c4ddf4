//! The detect stage's logic: read a previous and a current scan folder and report the
//! current findings and what changed.

use std::path::Path;

use crate::error::{Error, Result};
use crate::model::{Changes, DetectReport, Finding, SeverityChange, Summary};
use crate::reports::{REPORT_FILES, SeverityPolicy, parse_report};

/// The findings of one scan folder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scan {
    /// Findings of every report read, sorted most severe first, then by id.
    pub findings: Vec<Finding>,
    /// The report file names read (of [`REPORT_FILES`]), in that order.
    pub scanned: Vec<String>,
    /// The latest `generated_at` of the reports that carry one.
    pub generated_at: Option<String>,
}

/// Reads whichever of `pip-audit.json`, `bandit.json` and `gitleaks.json` exist in `dir`.
///
/// A folder with none of them gives an empty [`Scan`] with nothing in `scanned`; the caller
/// decides whether that is an error. Errors: [`Error::Io`] when `dir` or a file cannot be
/// read (a missing `dir` is `NotFound`), [`Error::Invalid`] for a malformed report.
pub fn read_scan(dir: &Path, policy: &SeverityPolicy) -> Result<Scan> {
    std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut scan = Scan::default();
    for (name, tool) in REPORT_FILES {
        let path = dir.join(name);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(path, e)),
        };
        let label = path.display().to_string();
        let parsed = parse_report(tool, &label, &text, policy)?;
        scan.findings.extend(parsed.findings);
        scan.scanned.push(name.to_string());
        if let Some(g) = parsed.generated_at
            && scan.generated_at.as_ref().is_none_or(|cur| g > *cur)
        {
            scan.generated_at = Some(g);
        }
    }
    sort_findings(&mut scan.findings);
    Ok(scan)
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
    let mut matched_prev = vec![false; previous.len()];
    for cur in current {
        match previous.iter().position(|p| p.same_problem(cur)) {
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
        if !matched && !current.iter().any(|c| c.same_problem(prev)) {
            changes.resolved.push(prev.clone());
        }
    }
    changes
}

/// Runs detect: reads `current` (required) and `previous` (optional) and compares them.
///
/// - `current` must hold at least one of the report files, else [`Error::Invalid`] naming
///   the folder and the file names looked for.
/// - No `previous`, a `previous` folder that does not exist, or one with no report file
///   means no baseline: `baseline` is false, `previous` is `"none"` (or the folder, with a
///   warning), every current finding is in `changes.new`, and decide does not treat that as
///   news.
pub fn detect(
    previous: Option<&Path>,
    current: &Path,
    policy: &SeverityPolicy,
) -> Result<DetectReport> {
    let cur = read_scan(current, policy)?;
    if cur.scanned.is_empty() {
        let names: Vec<&str> = REPORT_FILES.iter().map(|(n, _)| *n).collect();
        return Err(Error::invalid(
            format!(
                "no scan report in '{}': looked for {}",
                current.display(),
                names.join(", ")
            ),
            "run the scanners with JSON output into that folder (e.g. `pip-audit -f json -o pip-audit.json`), or point `current` at the folder that holds them",
        ));
    }
    let mut warnings = Vec::new();
    let mut prev_scan = None;
    if let Some(dir) = previous {
        match read_scan(dir, policy) {
            Ok(s) if s.scanned.is_empty() => warnings.push(format!(
                "previous scan folder '{}' holds no report; no baseline to compare with",
                dir.display()
            )),
            Ok(s) => prev_scan = Some(s),
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                warnings.push(format!(
                    "previous scan folder '{}' does not exist (or is not granted); no baseline to compare with",
                    dir.display()
                ))
            }
            Err(e) => return Err(e),
        }
    }
    let baseline = prev_scan.is_some();
    let (changes, previous_scanned) = match &prev_scan {
        Some(p) => (compare(&p.findings, &cur.findings), p.scanned.clone()),
        None => (compare(&[], &cur.findings), Vec::new()),
    };
    Ok(DetectReport {
        summary: Summary::of(&cur.findings),
        findings: cur.findings,
        changes,
        baseline,
        previous: match previous {
            Some(p) => p.display().to_string(),
            None => "none".to_string(),
        },
        current: current.display().to_string(),
        scanned: cur.scanned,
        previous_scanned,
        scan_date: cur.generated_at,
        warnings,
    })
}

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
            msg.contains("pip-audit.json, bandit.json, gitleaks.json"),
            "{msg}"
        );
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
