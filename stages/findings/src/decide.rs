//! The decide stage's logic: the release decision matrix, the project version from
//! pyproject.toml and the version checks.
//!
//! Decision matrix (DESIGN.md): release automatically (`security_auto`) on any new
//! high/critical finding, any resolved finding, or a severity raised to high/critical; a
//! manual trigger always releases (`manual`, which takes precedence as the trigger and still
//! lists the security changes); otherwise no release (`none`). Without a baseline (detect's
//! `baseline: false`) new findings are not news and do not trigger.

use std::path::Path;
use std::str::FromStr;

use pep440_rs::Version;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{DetectReport, Finding, Severity};

/// Why a release happens. JSON: `"security_auto"`, `"manual"`, `"none"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// The security changes call for a release.
    SecurityAuto,
    /// A person asked for it (config `manual = true`, e.g. a workflow_dispatch).
    Manual,
    /// No release.
    None,
}

/// One version check. JSON: `{"name": "pep440"|"tag_matches", "ok": bool, "detail": "…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// `pep440`: the version is valid PEP 440; `tag_matches`: the tag names that version.
    pub name: String,
    /// Whether it passed.
    pub ok: bool,
    /// What was found, and what to fix when it failed.
    pub detail: String,
}

/// The project as pyproject.toml declares it (PEP 621 `[project]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Project {
    /// `[project].name`.
    pub name: Option<String>,
    /// The version as written (not yet validated), when it could be found.
    pub version: Option<String>,
    /// Where the version came from: `pyproject.toml [project].version` or the hatch file.
    pub version_source: String,
    /// Why the version could not be found, when it could not.
    pub version_error: Option<String>,
}

/// Reads `[project].name` and the version from `pyproject` with the build library
/// (`airlock_pypkg`), so decide checks exactly the version the build stage will write:
/// `[project].version`, or, when `"version"` is in `[project].dynamic`, hatch's default
/// `__version__ = "…"` pattern in `[tool.hatch.version] path` (parsed, never executed).
///
/// Errors: [`Error::Io`] when a file cannot be read. A version that cannot be found or is
/// not PEP 440 is not an error here: it is reported in `version_error` and fails the
/// `pep440` check.
pub fn read_project(pyproject: &Path) -> Result<Project> {
    let root = pyproject.parent().unwrap_or_else(|| Path::new(""));
    let root = if root.as_os_str().is_empty() {
        Path::new(".")
    } else {
        root
    };
    let io = |e: airlock_pypkg::Error| match e {
        airlock_pypkg::Error::Io { path, source } => Err(Error::io(path, source)),
        other => Ok(other.to_string()),
    };
    let name = match airlock_pypkg::project_name(root) {
        Ok(n) => Some(n),
        Err(e) => {
            io(e)?;
            None
        }
    };
    let mut out = Project {
        name,
        version: None,
        version_source: format!("{} [project].version", pyproject.display()),
        version_error: None,
    };
    match airlock_pypkg::project_version_source(root) {
        Ok((version, source)) => {
            if !source.starts_with("pyproject.toml") {
                out.version_source = root.join(source).display().to_string();
            }
            out.version = Some(version);
        }
        Err(e) => out.version_error = Some(io(e)?),
    }
    Ok(out)
}

/// Options of one decision (the stage's config).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecideOptions {
    /// Release regardless of the security changes.
    pub manual: bool,
    /// The tag being released (`v0.2.8` or `0.2.8`), checked against the version.
    pub tag: Option<String>,
}

/// The decide stage's output.
///
/// JSON: `{"release": bool, "trigger": "security_auto"|"manual"|"none", "justification":
/// "…", "release_notes": "<Markdown>", "version": "0.2.8"|null, "name": "…"|null,
/// "tag": "v0.2.8"|null, "checks": [Check]}`. `version` is the PEP 440 normalized form when
/// valid, else the version as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// Whether to release.
    pub release: bool,
    /// Why.
    pub trigger: Trigger,
    /// One or more sentences saying why (or why not).
    pub justification: String,
    /// Markdown release notes: the new, resolved and changed findings with links.
    pub release_notes: String,
    /// The project version (normalized when valid PEP 440).
    pub version: Option<String>,
    /// The project name.
    pub name: Option<String>,
    /// The tag checked, as given.
    pub tag: Option<String>,
    /// The version checks.
    pub checks: Vec<Check>,
}

/// The security reasons for an automatic release, one sentence each; empty when the
/// changes do not call for one. Without a baseline, new findings are not reasons.
pub fn security_reasons(report: &DetectReport) -> Vec<String> {
    let mut reasons = Vec::new();
    let c = &report.changes;
    if report.baseline {
        let new_high: Vec<&Finding> = c
            .new
            .iter()
            .filter(|f| f.severity.is_high_or_critical())
            .collect();
        if !new_high.is_empty() {
            reasons.push(format!(
                "{} new high/critical finding{}: {}",
                new_high.len(),
                plural(new_high.len()),
                labels(new_high.iter().copied())
            ));
        }
    }
    if !c.resolved.is_empty() {
        reasons.push(format!(
            "{} finding{} resolved: {}",
            c.resolved.len(),
            plural(c.resolved.len()),
            labels(c.resolved.iter())
        ));
    }
    let raised: Vec<_> = c
        .severity_changed
        .iter()
        .filter(|s| s.to.is_high_or_critical() && s.to > s.from)
        .collect();
    if !raised.is_empty() {
        reasons.push(format!(
            "severity raised to high/critical: {}",
            raised
                .iter()
                .map(|s| format!("{} ({} → {})", s.finding.label(), s.from, s.to))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    reasons
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn labels<'a>(fs: impl Iterator<Item = &'a Finding>) -> String {
    fs.map(Finding::label).collect::<Vec<_>>().join(", ")
}

/// Strips one leading `v`/`V` from a tag (`v0.2.8` → `0.2.8`).
pub fn tag_version(tag: &str) -> &str {
    let t = tag.trim();
    t.strip_prefix('v')
        .or_else(|| t.strip_prefix('V'))
        .unwrap_or(t)
}

/// Makes the decision and runs the checks.
///
/// Checks: `pep440` (the version parses as PEP 440; the detail gives the normalized form)
/// and, when a tag is given, `tag_matches` (the tag without its leading `v` parses and
/// equals the version under PEP 440 comparison, so `v1.0` matches `1.0.0`).
///
/// Errors: when the decision is to release and a check fails, [`Error::Invalid`] listing
/// the failed checks, with a hint saying what to fix. Without a release, failed checks are
/// only reported.
pub fn decide(report: &DetectReport, project: &Project, opts: &DecideOptions) -> Result<Decision> {
    let reasons = security_reasons(report);
    let (release, trigger) = if opts.manual {
        (true, Trigger::Manual)
    } else if !reasons.is_empty() {
        (true, Trigger::SecurityAuto)
    } else {
        (false, Trigger::None)
    };
    let justification = justify(report, trigger, &reasons);

    let parsed = project
        .version
        .as_deref()
        .map(|v| Version::from_str(v.trim()).map_err(|e| e.to_string()));
    let mut checks = Vec::new();
    let mut hints = Vec::new();
    let version_out = match (&project.version, &parsed) {
        (Some(raw), Some(Ok(v))) => {
            let norm = v.to_string();
            checks.push(Check {
                name: "pep440".into(),
                ok: true,
                detail: if norm == raw.trim() {
                    format!(
                        "version {norm} (from {}) is valid PEP 440",
                        project.version_source
                    )
                } else {
                    format!(
                        "version {raw} (from {}) is valid PEP 440, normalized {norm}",
                        project.version_source
                    )
                },
            });
            Some(norm)
        }
        (Some(raw), Some(Err(e))) => {
            checks.push(Check {
                name: "pep440".into(),
                ok: false,
                detail: format!(
                    "version {raw:?} (from {}) is not valid PEP 440: {e}",
                    project.version_source
                ),
            });
            hints.push(format!(
                "set a PEP 440 version such as 1.2.3 in {}",
                project.version_source
            ));
            Some(raw.clone())
        }
        _ => {
            let why = project
                .version_error
                .clone()
                .unwrap_or_else(|| "no version found".into());
            checks.push(Check {
                name: "pep440".into(),
                ok: false,
                detail: why,
            });
            hints.push(
                "declare [project].version in pyproject.toml (or a [tool.hatch.version] path)"
                    .into(),
            );
            None
        }
    };
    if let Some(tag) = &opts.tag {
        let tv = tag_version(tag);
        let check = match (Version::from_str(tv), &parsed) {
            (Err(e), _) => Check {
                name: "tag_matches".into(),
                ok: false,
                detail: format!("tag {tag:?} does not name a PEP 440 version: {e}"),
            },
            (Ok(t), Some(Ok(v))) if t == *v => Check {
                name: "tag_matches".into(),
                ok: true,
                detail: format!("tag {tag} matches version {v}"),
            },
            (Ok(t), Some(Ok(v))) => Check {
                name: "tag_matches".into(),
                ok: false,
                detail: format!("tag {tag} names version {t} but the project version is {v}"),
            },
            (Ok(t), _) => Check {
                name: "tag_matches".into(),
                ok: false,
                detail: format!(
                    "tag {tag} names version {t} but the project has no valid version to compare"
                ),
            },
        };
        if !check.ok {
            hints.push(format!(
                "bump the version in {} to match the tag, or retag as v{}",
                project.version_source,
                version_out.as_deref().unwrap_or("<version>")
            ));
        }
        checks.push(check);
    }

    if release {
        let failed: Vec<&Check> = checks.iter().filter(|c| !c.ok).collect();
        if !failed.is_empty() {
            return Err(Error::invalid(
                format!(
                    "release ({}) blocked by failed check{}: {}",
                    trigger_name(trigger),
                    plural(failed.len()),
                    failed
                        .iter()
                        .map(|c| format!("{}: {}", c.name, c.detail))
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
                hints.join("; "),
            ));
        }
    }

    let release_notes = release_notes(report, project, version_out.as_deref(), &justification);
    Ok(Decision {
        release,
        trigger,
        justification,
        release_notes,
        version: version_out,
        name: project.name.clone(),
        tag: opts.tag.clone(),
        checks,
    })
}

fn trigger_name(t: Trigger) -> &'static str {
    match t {
        Trigger::SecurityAuto => "security_auto",
        Trigger::Manual => "manual",
        Trigger::None => "none",
    }
}

fn justify(report: &DetectReport, trigger: Trigger, reasons: &[String]) -> String {
    let mut s = match trigger {
        Trigger::Manual => "Manual release requested.".to_string(),
        Trigger::SecurityAuto => "Security release.".to_string(),
        Trigger::None => {
            "No release: no new high/critical finding, no resolved finding and no severity raised to high/critical.".to_string()
        }
    };
    for r in reasons {
        s.push(' ');
        s.push_str(&capitalize(r));
        s.push('.');
    }
    if !report.baseline {
        s.push_str(&format!(
            " No previous scan to compare with: the {} current finding{} {} not treated as new.",
            report.findings.len(),
            plural(report.findings.len()),
            if report.findings.len() == 1 {
                "is"
            } else {
                "are"
            }
        ));
    } else if trigger == Trigger::None {
        s.push_str(&format!(
            " {} finding{} unchanged since the previous scan.",
            report.findings.len(),
            plural(report.findings.len())
        ));
    }
    s
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// One Markdown list item for a finding: linked id, where, severity, fix.
fn note_line(f: &Finding, extra: &str) -> String {
    let id = match &f.reference_url {
        Some(u) => format!("[{}]({u})", md_escape(&f.id)),
        None => format!("`{}`", f.id.replace('`', "'")),
    };
    let mut where_ = String::new();
    if let Some(p) = &f.package {
        where_ = format!(" in {}", md_escape(p));
        if let Some(v) = &f.version {
            where_.push_str(&format!(" {}", md_escape(v)));
        }
    } else if let Some(file) = &f.file {
        where_ = format!(" in `{}`", file.replace('`', "'"));
        if let Some(l) = f.line {
            where_.push_str(&format!(" line {l}"));
        }
    }
    let mut line = format!("- {id}{where_} ({}, {})", f.severity, f.tool.as_str());
    line.push_str(extra);
    if !f.fix_versions.is_empty() {
        line.push_str(&format!("; fixed in {}", f.fix_versions.join(", ")));
    }
    let desc = short_description(&f.description, 160);
    if !desc.is_empty() {
        line.push_str(&format!(": {}", md_escape(&desc)));
    }
    line
}

/// The description on one line, cut at `max` characters with an ellipsis.
pub(crate) fn short_description(d: &str, max: usize) -> String {
    let one: String = d.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() <= max {
        one
    } else {
        let cut: String = one.chars().take(max).collect();
        format!("{}…", cut.trim_end())
    }
}

fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn release_notes(
    report: &DetectReport,
    project: &Project,
    version: Option<&str>,
    justification: &str,
) -> String {
    let mut md = format!(
        "# {} {}\n\n{justification}\n",
        project.name.as_deref().unwrap_or("Release"),
        version.unwrap_or("")
    )
    .replace(" \n", "\n");
    let c = &report.changes;
    if !c.resolved.is_empty() {
        md.push_str("\n## Resolved security findings\n\n");
        for f in &c.resolved {
            md.push_str(&note_line(f, ""));
            md.push('\n');
        }
    }
    if report.baseline && !c.new.is_empty() {
        md.push_str("\n## New security findings\n\n");
        for f in &c.new {
            md.push_str(&note_line(f, ""));
            md.push('\n');
        }
    }
    if !c.severity_changed.is_empty() {
        md.push_str("\n## Severity changes\n\n");
        for s in &c.severity_changed {
            md.push_str(&note_line(&s.finding, &format!(", was {}", s.from)));
            md.push('\n');
        }
    }
    let s = &report.summary;
    md.push_str("\n## Current security status\n\n");
    if s.total == 0 {
        md.push_str("No open findings.\n");
    } else {
        let parts: Vec<String> = Severity::ALL
            .iter()
            .filter(|sev| s.count(**sev) > 0)
            .map(|sev| format!("{} {sev}", s.count(*sev)))
            .collect();
        md.push_str(&format!(
            "{} open finding{}: {}.\n",
            s.total,
            plural(s.total as usize),
            parts.join(", ")
        ));
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Changes, SeverityChange, Summary, Tool};

    fn finding(id: &str, sev: Severity) -> Finding {
        Finding {
            id: id.into(),
            tool: Tool::PipAudit,
            severity: sev,
            severity_source: "policy:default".into(),
            package: Some("pkg".into()),
            version: Some("1.0".into()),
            file: None,
            line: None,
            aliases: vec![],
            fix_versions: vec![],
            description: "something bad".into(),
            reference_url: Some(crate::model::advisory_url(id)),
        }
    }

    fn report(current: Vec<Finding>, changes: Changes, baseline: bool) -> DetectReport {
        DetectReport {
            summary: Summary::of(&current),
            findings: current,
            changes,
            baseline,
            previous: "prev".into(),
            current: "cur".into(),
            scanned: vec!["pip-audit.json".into()],
            previous_scanned: vec![],
            scan_date: None,
            warnings: vec![],
        }
    }

    fn project(v: &str) -> Project {
        Project {
            name: Some("demo".into()),
            version: Some(v.into()),
            version_source: "pyproject.toml [project].version".into(),
            version_error: None,
        }
    }

    fn run(r: &DetectReport, manual: bool) -> Decision {
        decide(r, &project("0.1.0"), &DecideOptions { manual, tag: None }).unwrap()
    }

    #[test]
    fn new_high_or_critical_releases() {
        for sev in [Severity::High, Severity::Critical] {
            let f = finding("GHSA-aaaa-bbbb-cccc", sev);
            let r = report(
                vec![f.clone()],
                Changes {
                    new: vec![f],
                    ..Default::default()
                },
                true,
            );
            let d = run(&r, false);
            assert!(d.release);
            assert_eq!(d.trigger, Trigger::SecurityAuto);
            assert!(d.release_notes.contains("## New security findings"));
            assert!(
                d.release_notes
                    .contains("(https://github.com/advisories/GHSA-aaaa-bbbb-cccc)")
            );
        }
    }

    #[test]
    fn new_medium_does_not_release() {
        let f = finding("PYSEC-2025-1", Severity::Medium);
        let r = report(
            vec![f.clone()],
            Changes {
                new: vec![f],
                ..Default::default()
            },
            true,
        );
        let d = run(&r, false);
        assert!(!d.release);
        assert_eq!(d.trigger, Trigger::None);
    }

    #[test]
    fn resolved_finding_releases() {
        let f = finding("PYSEC-2025-49", Severity::Low);
        let r = report(
            vec![],
            Changes {
                resolved: vec![f],
                ..Default::default()
            },
            true,
        );
        let d = run(&r, false);
        assert!(d.release);
        assert_eq!(d.trigger, Trigger::SecurityAuto);
        assert!(
            d.justification.contains("PYSEC-2025-49"),
            "{}",
            d.justification
        );
        assert!(d.release_notes.contains("## Resolved security findings"));
    }

    #[test]
    fn severity_raised_to_high_releases_but_lowered_does_not() {
        let up = SeverityChange {
            finding: finding("GHSA-x", Severity::High),
            from: Severity::Medium,
            to: Severity::High,
        };
        let r = report(
            vec![up.finding.clone()],
            Changes {
                severity_changed: vec![up],
                ..Default::default()
            },
            true,
        );
        assert_eq!(run(&r, false).trigger, Trigger::SecurityAuto);

        for (from, to) in [
            (Severity::Critical, Severity::High),
            (Severity::Low, Severity::Medium),
        ] {
            let ch = SeverityChange {
                finding: finding("GHSA-x", to),
                from,
                to,
            };
            let r = report(
                vec![ch.finding.clone()],
                Changes {
                    severity_changed: vec![ch],
                    ..Default::default()
                },
                true,
            );
            assert!(!run(&r, false).release, "{from} → {to}");
        }
    }

    #[test]
    fn manual_always_releases() {
        let r = report(vec![], Changes::default(), true);
        let d = run(&r, true);
        assert!(d.release);
        assert_eq!(d.trigger, Trigger::Manual);
        assert!(!run(&r, false).release);
    }

    #[test]
    fn without_baseline_new_findings_do_not_trigger() {
        let f = finding("GHSA-crit", Severity::Critical);
        let r = report(
            vec![f.clone()],
            Changes {
                new: vec![f],
                ..Default::default()
            },
            false,
        );
        let d = run(&r, false);
        assert!(!d.release);
        assert!(
            d.justification.contains("No previous scan"),
            "{}",
            d.justification
        );
    }

    #[test]
    fn tag_must_match_the_version_when_releasing() {
        let r = report(vec![], Changes::default(), true);
        let ok = decide(
            &r,
            &project("1.0"),
            &DecideOptions {
                manual: true,
                tag: Some("v1.0.0".into()),
            },
        )
        .unwrap();
        assert!(ok.checks.iter().all(|c| c.ok), "{:?}", ok.checks);
        assert_eq!(ok.version.as_deref(), Some("1.0"));

        let err = decide(
            &r,
            &project("0.2.7"),
            &DecideOptions {
                manual: true,
                tag: Some("v0.2.8".into()),
            },
        )
        .unwrap_err();
        let Error::Invalid { message, hint } = err else {
            panic!("expected Invalid")
        };
        assert!(message.contains("tag_matches"), "{message}");
        assert!(hint.unwrap().contains("retag as v0.2.7"));

        // Without a release the failed check is only reported.
        let d = decide(
            &r,
            &project("0.2.7"),
            &DecideOptions {
                manual: false,
                tag: Some("v0.2.8".into()),
            },
        )
        .unwrap();
        assert!(!d.release);
        assert!(
            !d.checks
                .iter()
                .find(|c| c.name == "tag_matches")
                .unwrap()
                .ok
        );
    }

    #[test]
    fn invalid_pep440_blocks_a_release_and_normalizes_valid_ones() {
        let r = report(vec![], Changes::default(), true);
        let opts = DecideOptions {
            manual: true,
            tag: None,
        };
        let err = decide(&r, &project("1.0-final-beta"), &opts).unwrap_err();
        assert!(err.to_string().contains("pep440"), "{err}");
        let d = decide(&r, &project("1.0.0-Alpha1"), &opts).unwrap();
        assert_eq!(d.version.as_deref(), Some("1.0.0a1"));
    }

    #[test]
    fn reads_static_and_hatch_dynamic_versions() {
        let dir = tempfile::tempdir().unwrap();
        let py = dir.path().join("pyproject.toml");
        std::fs::write(&py, "[project]\nname = \"demo\"\nversion = \"0.1.0\"\n").unwrap();
        let p = read_project(&py).unwrap();
        assert_eq!(
            (p.name.as_deref(), p.version.as_deref()),
            (Some("demo"), Some("0.1.0"))
        );

        std::fs::create_dir_all(dir.path().join("src/demo")).unwrap();
        std::fs::write(
            dir.path().join("src/demo/__init__.py"),
            "\"\"\"Demo.\"\"\"\n\n__version__ = 'v0.2.8'\n",
        )
        .unwrap();
        std::fs::write(
            &py,
            "[project]\nname = \"demo\"\ndynamic = [\"version\"]\n[tool.hatch.version]\npath = \"src/demo/__init__.py\"\n",
        )
        .unwrap();
        let p = read_project(&py).unwrap();
        assert_eq!(p.version.as_deref(), Some("0.2.8"));
        assert!(p.version_source.ends_with("src/demo/__init__.py"));

        std::fs::write(&py, "[project]\nname = \"demo\"\n").unwrap();
        let p = read_project(&py).unwrap();
        assert!(p.version.is_none());
        assert!(p.version_error.unwrap().contains("dynamic"));
    }
}
