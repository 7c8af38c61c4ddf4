//! The decide stage's logic: the release decision matrix, the project version from
//! pyproject.toml and the version checks. The quality gates (JUnit, Cobertura) are in the
//! `gates` module and the release notes in `notes`.
//!
//! Decision matrix (DESIGN.md, issue 10), each row a named rule with a configurable
//! threshold ([`Thresholds`]):
//!
//! | rule       | releases (`security_auto`) when                         | default threshold |
//! |------------|----------------------------------------------------------|-------------------|
//! | `new`      | a new finding at or above the threshold                  | high              |
//! | `resolved` | a resolved finding at or above the threshold             | info (any)        |
//! | `raised`   | a severity raised to a level at or above the threshold   | high              |
//! | `manual`   | a person asked (config or the GitHub event)              | —                 |
//! | otherwise  | no release (`none`)                                      | —                 |
//!
//! A manual trigger takes precedence as the trigger and still lists the security changes.
//! Without a baseline (detect's `baseline: false`) new findings are not news and do not
//! trigger. Quality gates (JUnit, Cobertura) and version checks (PEP 440, tag, not already
//! on the index) block a release that would otherwise happen.

mod gates;
mod notes;

use gates::gate_checks;
pub use gates::{Gates, cobertura_line_rate, junit_counts};
use notes::{capitalize, release_notes};

use std::path::Path;
use std::str::FromStr;

use airlock_pypkg::filename::DistFilename;
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

/// One check. JSON: `{"name": "pep440"|"tag_matches"|"not_on_index"|"gate_junit"|
/// "gate_coverage", "ok": bool, "detail": "…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// `pep440`: the version is valid PEP 440; `tag_matches`: the tag names that version;
    /// `not_on_index`: no file of that version is on the index yet; `gate_junit`: the JUnit
    /// XML has tests and no failure or error; `gate_coverage`: Cobertura line coverage is at
    /// or above the threshold.
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

/// The minimum severity at which each matrix rule triggers; `None` disables the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// Rule `new`: a new finding at or above this severity (default high).
    pub new: Option<Severity>,
    /// Rule `resolved`: a resolved finding at or above this severity (default info: any).
    pub resolved: Option<Severity>,
    /// Rule `raised`: a severity raised to at least this (default high).
    pub raised: Option<Severity>,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            new: Some(Severity::High),
            resolved: Some(Severity::Info),
            raised: Some(Severity::High),
        }
    }
}

/// Parses a threshold word: a severity (`critical|high|medium|low|info`) or `never`
/// (`Some(None)`); `None` for anything else.
pub fn parse_threshold(word: &str) -> Option<Option<Severity>> {
    if word.trim().eq_ignore_ascii_case("never") {
        Some(None)
    } else {
        Severity::parse_loose(word).map(Some)
    }
}

/// What the package index answered for the project's simple API page (PEP 503/691), as
/// fetched by the stage: `url` and either `(status, content type, body)` or the transport
/// error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexAnswer {
    /// The page fetched, `<index>/<normalized name>/`.
    pub url: String,
    /// The response, or why there was none.
    pub response: std::result::Result<(u16, String, String), String>,
}

/// Options of one decision (the stage's config).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DecideOptions {
    /// Release regardless of the security changes.
    pub manual: bool,
    /// The tag being released (`v0.2.8` or `0.2.8`), checked against the version.
    pub tag: Option<String>,
    /// The matrix thresholds.
    pub thresholds: Thresholds,
    /// Quality gates to pass before a release.
    pub gates: Gates,
    /// The index's answer for the project page; `None` skips the `not_on_index` check.
    pub index: Option<IndexAnswer>,
}

/// The next patch version: the release segment padded to three parts, the third plus one
/// (`0.2.8` → `0.2.9`, `1.0` → `1.0.1`, `1.0.0rc1` → `1.0.1`).
pub fn next_patch(v: &Version) -> String {
    let r = v.release();
    let get = |i: usize| r.get(i).copied().unwrap_or(0);
    format!("{}.{}.{}", get(0), get(1), get(2) + 1)
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
    /// The version checks and quality gates.
    pub checks: Vec<Check>,
    /// For a release whose version is already on the index: the next patch version to bump
    /// to (`airlock version --bump patch`).
    #[serde(default)]
    pub suggested_version: Option<String>,
    /// The matrix rules that fired (`new`, `resolved`, `raised`, `manual`); empty for none.
    #[serde(default)]
    pub rules: Vec<String>,
}

/// The decide stage's output is the decision itself.
impl airlock_stage::Output for Decision {}

/// The security reasons for an automatic release, as (rule, sentence); empty when the
/// changes do not call for one. Without a baseline, new findings are not reasons. Each
/// sentence names at most [`MAX_LISTED`] findings ("… and N more"): the detect output has
/// them all.
pub fn security_reasons(report: &DetectReport, t: &Thresholds) -> Vec<(&'static str, String)> {
    let mut reasons = Vec::new();
    let c = &report.changes;
    let mut push = |rule: &'static str, head: String, items: Vec<String>| {
        if !items.is_empty() {
            reasons.push((rule, format!("{head}: {}", listed(items))));
        }
    };
    if let (true, Some(min)) = (report.baseline, t.new) {
        let new: Vec<String> = c
            .new
            .iter()
            .filter(|f| f.severity >= min)
            .map(label)
            .collect();
        let n = new.len();
        push(
            "new",
            format!("{n} new finding{} at or above {min} (rule new)", plural(n)),
            new,
        );
    }
    if let Some(min) = t.resolved {
        let resolved: Vec<String> = c
            .resolved
            .iter()
            .filter(|f| f.severity >= min)
            .map(label)
            .collect();
        let n = resolved.len();
        push(
            "resolved",
            format!(
                "{n} finding{} resolved (rule resolved, at or above {min})",
                plural(n)
            ),
            resolved,
        );
    }
    if let Some(min) = t.raised {
        let raised: Vec<String> = c
            .severity_changed
            .iter()
            .filter(|s| s.to >= min && s.to > s.from)
            .map(|s| {
                format!(
                    "{} ({} → {}, set by {})",
                    s.finding.label(),
                    s.from,
                    s.to,
                    s.finding.severity_source
                )
            })
            .collect();
        push(
            "raised",
            format!("severity raised to {min} or above (rule raised)"),
            raised,
        );
    }
    reasons
}

/// How many findings a reason sentence names before "… and N more".
pub const MAX_LISTED: usize = 10;

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn label(f: &Finding) -> String {
    format!("{} ({}, {})", f.label(), f.severity, f.severity_source)
}

/// `items` joined with ", ", the first [`MAX_LISTED`] of them and "… and N more".
fn listed(items: Vec<String>) -> String {
    let more = items.len().saturating_sub(MAX_LISTED);
    let mut text = items
        .into_iter()
        .take(MAX_LISTED)
        .collect::<Vec<_>>()
        .join(", ");
    if more > 0 {
        text.push_str(&format!(
            ", … and {more} more (the detect output lists all)"
        ));
    }
    text
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
    let reasons = security_reasons(report, &opts.thresholds);
    let (release, trigger) = if opts.manual {
        (true, Trigger::Manual)
    } else if !reasons.is_empty() {
        (true, Trigger::SecurityAuto)
    } else {
        (false, Trigger::None)
    };
    let mut rules: Vec<String> = reasons.iter().map(|(r, _)| r.to_string()).collect();
    if opts.manual {
        rules.insert(0, "manual".into());
    }
    let reasons: Vec<String> = reasons.into_iter().map(|(_, s)| s).collect();
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
    let mut suggested_version = None;
    if let Some(answer) = &opts.index {
        let (check, on_index) = index_check(answer, parsed.as_ref().and_then(|p| p.as_ref().ok()));
        if on_index && let Some(Ok(v)) = &parsed {
            let next = next_patch(v);
            hints.push(format!(
                "this version is already published: bump it (e.g. `airlock version --bump patch` → {next}) and tag v{next}"
            ));
            if release {
                suggested_version = Some(next);
            }
        } else if !check.ok {
            hints.push(format!(
                "make sure {} answers (the stage needs an http grant for its origin)",
                answer.url
            ));
        }
        checks.push(check);
    }
    checks.extend(gate_checks(&opts.gates, &mut hints));

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
        suggested_version,
        rules,
    })
}

/// The `not_on_index` check, and whether the version is on the index.
fn index_check(answer: &IndexAnswer, version: Option<&Version>) -> (Check, bool) {
    let fail = |detail: String| Check {
        name: "not_on_index".into(),
        ok: false,
        detail,
    };
    let Some(v) = version else {
        return (
            fail(format!("no valid version to look up on {}", answer.url)),
            false,
        );
    };
    match &answer.response {
        Err(e) => (fail(format!("could not query {}: {e}", answer.url)), false),
        Ok((404, _, _)) => (
            Check {
                name: "not_on_index".into(),
                ok: true,
                detail: format!("{} answers 404: the project has no release yet", answer.url),
            },
            false,
        ),
        Ok((200, ctype, body)) => {
            let listed = airlock_pypkg::simple::parse_project_page(ctype, body.as_bytes())
                .map(|p| p.files)
                .unwrap_or_default();
            let same: Vec<String> = listed
                .into_iter()
                .map(|f| f.filename)
                .filter(|f| {
                    DistFilename::parse(f)
                        .and_then(|d| Version::from_str(d.version).ok())
                        .is_some_and(|fv| fv == *v)
                })
                .collect();
            if same.is_empty() {
                (
                    Check {
                        name: "not_on_index".into(),
                        ok: true,
                        detail: format!("version {v} is not on {} yet", answer.url),
                    },
                    false,
                )
            } else {
                (
                    fail(format!(
                        "version {v} is already on {}: {}",
                        answer.url,
                        same.join(", ")
                    )),
                    true,
                )
            }
        }
        Ok((status, _, _)) => (
            fail(format!("{} answered HTTP {status}", answer.url)),
            false,
        ),
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Changes, SeverityChange, Summary, Tool};

    #[test]
    fn long_reason_lists_name_ten_findings_and_count_the_rest() {
        let items: Vec<String> = (0..12).map(|i| format!("F-{i}")).collect();
        let text = listed(items);
        assert!(text.starts_with("F-0, F-1,"), "{text}");
        assert!(text.contains("F-9, … and 2 more"), "{text}");
        assert!(!text.contains("F-10"), "{text}");
        assert_eq!(listed(vec!["A".into(), "B".into()]), "A, B");
    }

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
        decide(
            r,
            &project("0.1.0"),
            &DecideOptions {
                manual,
                ..Default::default()
            },
        )
        .unwrap()
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
                ..Default::default()
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
                ..Default::default()
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
                ..Default::default()
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
            ..Default::default()
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

    #[test]
    fn thresholds_are_configurable() {
        let f = finding("GHSA-med", Severity::Medium);
        let r = report(
            vec![f.clone()],
            Changes {
                new: vec![f.clone()],
                ..Default::default()
            },
            true,
        );
        assert!(!run(&r, false).release);
        let opts = DecideOptions {
            thresholds: Thresholds {
                new: Some(Severity::Medium),
                ..Default::default()
            },
            ..Default::default()
        };
        let d = decide(&r, &project("0.1.0"), &opts).unwrap();
        assert!(d.release);
        assert_eq!(d.rules, vec!["new"]);
        assert!(d.justification.contains("rule new"), "{}", d.justification);
        assert!(
            d.justification.contains("policy:default"),
            "{}",
            d.justification
        );

        let gone = report(
            vec![],
            Changes {
                resolved: vec![finding("PYSEC-low", Severity::Low)],
                ..Default::default()
            },
            true,
        );
        assert!(run(&gone, false).release);
        let opts = DecideOptions {
            thresholds: Thresholds {
                resolved: Some(Severity::Medium),
                ..Default::default()
            },
            ..Default::default()
        };
        assert!(!decide(&gone, &project("0.1.0"), &opts).unwrap().release);
        assert_eq!(parse_threshold("never"), Some(None));
        assert_eq!(parse_threshold("HIGH"), Some(Some(Severity::High)));
        assert_eq!(parse_threshold("severe"), None);
    }

    fn answer(status: u16, ctype: &str, body: &str) -> IndexAnswer {
        IndexAnswer {
            url: airlock_pypkg::simple::project_url("http://127.0.0.1:1/simple/", "Demo_Pkg"),
            response: Ok((status, ctype.into(), body.into())),
        }
    }

    #[test]
    fn next_patch_versions() {
        let v = |s: &str| Version::from_str(s).unwrap();
        assert_eq!(next_patch(&v("0.2.8")), "0.2.9");
        assert_eq!(next_patch(&v("1")), "1.0.1");
        assert_eq!(next_patch(&v("1.0.0rc1")), "1.0.1");
    }

    #[test]
    fn a_version_already_on_the_index_blocks_a_release_and_suggests_the_next_patch() {
        let f = finding("PYSEC-2025-49", Severity::Medium);
        let r = report(
            vec![],
            Changes {
                resolved: vec![f],
                ..Default::default()
            },
            true,
        );
        let html = "<a href=\"a\">demo-0.1.0.tar.gz</a><a href=\"b\">demo-0.0.9.tar.gz</a>";
        let opts = |a: IndexAnswer| DecideOptions {
            index: Some(a),
            ..Default::default()
        };
        let err = decide(&r, &project("0.1.0"), &opts(answer(200, "text/html", html))).unwrap_err();
        let Error::Invalid { message, hint } = err else {
            panic!()
        };
        assert!(
            message.contains("not_on_index") && message.contains("demo-0.1.0.tar.gz"),
            "{message}"
        );
        assert!(hint.unwrap().contains("→ 0.1.1"));
        // Not releasing: only reported (no suggestion).
        let quiet = report(vec![], Changes::default(), true);
        let d = decide(
            &quiet,
            &project("0.1.0"),
            &opts(answer(200, "text/html", html)),
        )
        .unwrap();
        assert!(!d.release && d.suggested_version.is_none());
        assert!(
            !d.checks
                .iter()
                .find(|c| c.name == "not_on_index")
                .unwrap()
                .ok
        );
        // A new version, a project not there yet: the check passes.
        for a in [
            answer(200, "text/html", html),
            answer(404, "text/html", "Not Found"),
        ] {
            let d = decide(&r, &project("0.1.1"), &opts(a)).unwrap();
            assert!(d.release);
            assert!(d.checks.iter().all(|c| c.ok), "{:?}", d.checks);
        }
        // An unreachable index or a server error blocks a release.
        let down = IndexAnswer {
            url: "http://127.0.0.1:1/simple/demo/".into(),
            response: Err("connection refused".into()),
        };
        let msg = decide(&r, &project("0.1.1"), &opts(down))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("could not query"), "{msg}");
        assert!(decide(&r, &project("0.1.1"), &opts(answer(500, "text/plain", ""))).is_err());
        // 1.0 on the index equals 1.0.0 under PEP 440.
        let one = "<a href=\"a\">demo-1.0-py3-none-any.whl</a>";
        assert!(decide(&r, &project("1.0.0"), &opts(answer(200, "text/html", one))).is_err());
    }

    #[test]
    fn quality_gates_block_a_release_and_name_the_gate() {
        let dir = tempfile::tempdir().unwrap();
        let junit = dir.path().join("junit.xml");
        let cov = dir.path().join("coverage.xml");
        std::fs::write(&junit, r#"<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="0" failures="1" skipped="0" tests="3"><testcase classname="t" name="a"/><testcase classname="t" name="b"><failure message="assert 1 == 2">x</failure></testcase><testcase classname="t" name="c"><skipped/></testcase></testsuite></testsuites>"#).unwrap();
        std::fs::write(&cov, r#"<?xml version="1.0" ?><coverage version="7.6.1" timestamp="1" lines-valid="200" lines-covered="150" line-rate="0.75" branches-covered="0" branches-valid="0" branch-rate="0" complexity="0"><packages/></coverage>"#).unwrap();
        let r = report(vec![], Changes::default(), true);
        let opts = |min: f64| DecideOptions {
            manual: true,
            gates: Gates {
                junit: Some(junit.clone()),
                coverage: Some((cov.clone(), min)),
            },
            ..Default::default()
        };
        let msg = decide(&r, &project("0.1.0"), &opts(70.0))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("gate_junit") && msg.contains("1 failed"),
            "{msg}"
        );
        assert!(!msg.contains("gate_coverage"), "{msg}");
        std::fs::write(
            &junit,
            r#"<testsuite tests="1"><testcase name="a"/></testsuite>"#,
        )
        .unwrap();
        let d = decide(&r, &project("0.1.0"), &opts(75.0)).unwrap();
        assert!(d.checks.iter().all(|c| c.ok), "{:?}", d.checks);
        let msg = decide(&r, &project("0.1.0"), &opts(80.0))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("gate_coverage") && msg.contains("75.00%"),
            "{msg}"
        );
        std::fs::write(&junit, r#"<testsuite tests="0"></testsuite>"#).unwrap();
        let msg = decide(&r, &project("0.1.0"), &opts(10.0))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("no test case"), "{msg}");
        std::fs::write(&cov, "<report/>").unwrap();
        assert!(
            cobertura_line_rate(&cov)
                .unwrap_err()
                .contains("not a Cobertura")
        );
        assert!(
            junit_counts(&dir.path().join("missing.xml"))
                .unwrap_err()
                .contains("cannot read")
        );
    }
}
