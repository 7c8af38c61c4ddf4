//! The status stage's logic: the live security status page of a project.
//!
//! Files written into the output folder:
//! - `index.json`: the original system's schema (`last_updated`, `scan_date`,
//!   `vulnerability_summary`, `findings[{finding_id, package, version, severity,
//!   discovered_date, days_since_discovery, description, fix_available, fix_version,
//!   reference_url}]`, `security_grade`, `days_since_last_vulnerability`,
//!   `remediation_status`) plus `schema_version` ([`SCHEMA_VERSION`]);
//! - `history.json`: per finding, the first and last day it was seen and the day it was
//!   resolved ([`History`]), carried from run to run so discovery dates are real;
//! - `index.html`: a self-contained page (no script, no external resource);
//! - `badge-grade.json`, `badge-vulnerabilities.json`: shields.io endpoint badges
//!   (`{"schemaVersion": 1, "label", "message", "color"}`, see
//!   <https://shields.io/badges/endpoint-badge>).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime};

use crate::decide::short_description;
use crate::error::{Error, Result};
use crate::model::{DetectReport, Finding, Severity, Summary};

/// The `schema_version` of `index.json` and `history.json` written by this library.
pub const SCHEMA_VERSION: u32 = 1;

/// The files [`write_status`] writes, in order.
pub const STATUS_FILES: [&str; 5] = [
    "index.json",
    "history.json",
    "index.html",
    "badge-grade.json",
    "badge-vulnerabilities.json",
];

/// The security grade, as the original system computes it: any critical → F; more than two
/// high → D; any high or more than five medium → C; any medium or more than ten low → B;
/// else A.
pub fn grade(s: &Summary) -> &'static str {
    if s.critical > 0 {
        "F"
    } else if s.high > 2 {
        "D"
    } else if s.high > 0 || s.medium > 5 {
        "C"
    } else if s.medium > 0 || s.low > 10 {
        "B"
    } else {
        "A"
    }
}

/// The shields.io color of a grade.
fn grade_color(g: &str) -> &'static str {
    match g {
        "A" => "brightgreen",
        "B" => "green",
        "C" => "yellow",
        "D" => "orange",
        _ => "red",
    }
}

/// One finding's life across runs. Dates are `YYYY-MM-DD` (UTC).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// Other ids of the finding, to recognise it under a new id.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// The affected package or file.
    #[serde(default)]
    pub package: Option<String>,
    /// Severity when last seen.
    pub severity: Severity,
    /// The first day it was seen.
    pub first_seen: String,
    /// The last day it was seen.
    pub last_seen: String,
    /// The day it was first missing from a scan; `null` while open.
    #[serde(default)]
    pub resolved: Option<String>,
}

/// `history.json`: `{"schema_version": 1, "findings": {"<finding id>": HistoryEntry}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// [`SCHEMA_VERSION`].
    #[serde(default)]
    pub schema_version: u32,
    /// Entries by finding id.
    #[serde(default)]
    pub findings: BTreeMap<String, HistoryEntry>,
}

/// The wall clock as UTC (std::time::SystemTime, which WASI provides through
/// wasi:clocks/wall-clock).
pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// Parses `YYYY-MM-DD` (the date part of an RFC 3339 timestamp is accepted too).
pub fn parse_date(s: &str) -> Option<Date> {
    let d = s.get(..10)?;
    let mut it = d.split('-');
    let y: i32 = it.next()?.parse().ok()?;
    let m: u8 = it.next()?.parse().ok()?;
    let day: u8 = it.next()?.parse().ok()?;
    Date::from_calendar_date(y, Month::try_from(m).ok()?, day).ok()
}

/// Parses an RFC 3339 timestamp (config `now`). Errors: [`Error::Invalid`] naming the value.
pub fn parse_now(s: &str) -> Result<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).map_err(|e| {
        Error::invalid(
            format!("now = {s:?} is not an RFC 3339 timestamp: {e}"),
            "use a timestamp like 2025-10-31T16:37:53Z, or leave `now` out to use the clock",
        )
    })
}

/// Loads the history kept in a previous status folder `dir`: its `history.json`; failing
/// that, its `index.json` (a page written by the original system or without history), whose
/// findings' `discovered_date` seed `first_seen`; failing that (no folder, no file), an
/// empty history. Errors: [`Error::Invalid`] for a malformed file, [`Error::Io`] for other
/// read errors.
pub fn load_history(dir: &Path) -> Result<History> {
    let read = |name: &str| -> Result<Option<String>> {
        let p = dir.join(name);
        match std::fs::read_to_string(&p) {
            Ok(t) => Ok(Some(t)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(p, e)),
        }
    };
    let bad = |name: &str, e: serde_json::Error| {
        Error::invalid(
            format!("{} is malformed: {e}", dir.join(name).display()),
            "delete it to start the history afresh, or point `previous` at a status folder written by airlock",
        )
    };
    if let Some(text) = read("history.json")? {
        return serde_json::from_str(&text).map_err(|e| bad("history.json", e));
    }
    let Some(text) = read("index.json")? else {
        return Ok(History::default());
    };
    #[derive(Deserialize)]
    struct OldIndex {
        #[serde(default)]
        findings: Vec<OldFinding>,
    }
    #[derive(Deserialize)]
    struct OldFinding {
        finding_id: String,
        #[serde(default)]
        package: Option<String>,
        severity: Severity,
        discovered_date: String,
    }
    let old: OldIndex = serde_json::from_str(&text).map_err(|e| bad("index.json", e))?;
    let mut h = History {
        schema_version: SCHEMA_VERSION,
        ..Default::default()
    };
    for f in old.findings {
        let day = parse_date(&f.discovered_date)
            .map(|d| d.to_string())
            .unwrap_or(f.discovered_date);
        h.findings.insert(
            f.finding_id,
            HistoryEntry {
                aliases: Vec::new(),
                package: f.package,
                severity: f.severity,
                first_seen: day.clone(),
                last_seen: day,
                resolved: None,
            },
        );
    }
    Ok(h)
}

/// Brings `history` up to `today` with the current `findings`: a known finding (by id or
/// alias, re-keyed to its current id) keeps its `first_seen` and is reopened if it was
/// resolved; an unknown one starts today; an open entry missing from `findings` is resolved
/// today.
pub fn update_history(mut history: History, findings: &[Finding], today: Date) -> History {
    let day = today.to_string();
    let mut next = BTreeMap::new();
    for f in findings {
        let key = history
            .findings
            .iter()
            .find(|(k, e)| {
                f.ids().any(|id| {
                    id.eq_ignore_ascii_case(k)
                        || e.aliases.iter().any(|a| a.eq_ignore_ascii_case(id))
                })
            })
            .map(|(k, _)| k.clone());
        let first_seen = key
            .and_then(|k| history.findings.remove(&k))
            .map(|e| e.first_seen)
            .unwrap_or_else(|| day.clone());
        next.insert(
            f.id.clone(),
            HistoryEntry {
                aliases: f.aliases.clone(),
                package: f.package.clone().or_else(|| f.file.clone()),
                severity: f.severity,
                first_seen,
                last_seen: day.clone(),
                resolved: None,
            },
        );
    }
    for (k, mut e) in std::mem::take(&mut history.findings) {
        if next.contains_key(&k) {
            continue;
        }
        if e.resolved.is_none() {
            e.resolved = Some(day.clone());
        }
        next.insert(k, e);
    }
    History {
        schema_version: SCHEMA_VERSION,
        findings: next,
    }
}

/// One finding of `index.json`, in the original schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusFinding {
    /// The finding id.
    pub finding_id: String,
    /// The affected package (or file, for code and secret findings).
    pub package: Option<String>,
    /// The installed version of the package.
    pub version: Option<String>,
    /// Severity.
    pub severity: Severity,
    /// First day seen (`YYYY-MM-DD`), from the history.
    pub discovered_date: String,
    /// Whole days from `discovered_date` to today.
    pub days_since_discovery: i64,
    /// The description, on one line, at most 500 characters.
    pub description: String,
    /// True when a fixed version is known.
    pub fix_available: bool,
    /// The first fixed version.
    pub fix_version: Option<String>,
    /// Advisory or rule page.
    pub reference_url: Option<String>,
}

/// `index.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusIndex {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// When this page was written (RFC 3339).
    pub last_updated: String,
    /// When the scan ran (from the reports), else `last_updated`.
    pub scan_date: String,
    /// Counts per severity.
    pub vulnerability_summary: Summary,
    /// Current findings, most severe first.
    pub findings: Vec<StatusFinding>,
    /// [`grade`].
    pub security_grade: String,
    /// Days since the most recent discovery among current findings; with none open, days
    /// since the last one was resolved (0 when there never was one).
    pub days_since_last_vulnerability: i64,
    /// `"pending"` while a critical, high or medium finding is open, else `"current"`.
    pub remediation_status: String,
}

/// Options of [`write_status`].
#[derive(Debug, Clone)]
pub struct StatusOptions<'a> {
    /// The folder to write into (created if missing).
    pub out: &'a Path,
    /// The previous status folder to carry the history from (usually `out` itself).
    pub previous: Option<&'a Path>,
    /// The time of this run.
    pub now: OffsetDateTime,
}

/// What [`write_status`] did. JSON: `{"grade": "B", "summary": Summary, "out": "<folder>",
/// "files": ["index.json", …], "tracked": n, "resolved": n}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusOutput {
    /// The security grade.
    pub grade: String,
    /// Counts of current findings.
    pub summary: Summary,
    /// The folder written.
    pub out: String,
    /// Files written into `out`.
    pub files: Vec<String>,
    /// Findings in the history (open and resolved).
    pub tracked: usize,
    /// Resolved findings in the history.
    pub resolved: usize,
}

/// Builds `index.json`'s content from a detect report and the updated history.
pub fn build_index(report: &DetectReport, history: &History, now: OffsetDateTime) -> StatusIndex {
    let today = now.date();
    let now_s = now.format(&Rfc3339).unwrap_or_else(|_| today.to_string());
    let days = |d: &str| parse_date(d).map(|d| (today - d).whole_days()).unwrap_or(0);
    let findings: Vec<StatusFinding> = report
        .findings
        .iter()
        .map(|f| {
            let discovered = history
                .findings
                .get(&f.id)
                .map(|e| e.first_seen.clone())
                .unwrap_or_else(|| today.to_string());
            StatusFinding {
                finding_id: f.id.clone(),
                package: f.package.clone().or_else(|| f.file.clone()),
                version: f.version.clone(),
                severity: f.severity,
                days_since_discovery: days(&discovered),
                discovered_date: discovered,
                description: short_description(&f.description, 500),
                fix_available: !f.fix_versions.is_empty(),
                fix_version: f.fix_versions.first().cloned(),
                reference_url: f.reference_url.clone(),
            }
        })
        .collect();
    let since_last = if let Some(latest) = findings.iter().map(|f| &f.discovered_date).max() {
        days(latest)
    } else {
        history
            .findings
            .values()
            .filter_map(|e| e.resolved.as_deref())
            .max()
            .map(days)
            .unwrap_or(0)
    };
    let s = report.summary;
    StatusIndex {
        schema_version: SCHEMA_VERSION,
        last_updated: now_s.clone(),
        scan_date: report.scan_date.clone().unwrap_or(now_s),
        vulnerability_summary: s,
        findings,
        security_grade: grade(&s).to_string(),
        days_since_last_vulnerability: since_last,
        remediation_status: if s.critical + s.high + s.medium > 0 {
            "pending"
        } else {
            "current"
        }
        .to_string(),
    }
}

/// Writes the status folder (see the module docs) for `report`.
///
/// The history is read from `opts.previous` before anything is written, so `previous` may
/// be `out`. Errors: [`Error::Io`] when a file cannot be read or written, [`Error::Invalid`]
/// for a malformed previous history.
pub fn write_status(report: &DetectReport, opts: &StatusOptions) -> Result<StatusOutput> {
    let previous = match opts.previous {
        Some(p) => load_history(p)?,
        None => History::default(),
    };
    let history = update_history(previous, &report.findings, opts.now.date());
    let index = build_index(report, &history, opts.now);
    let html = render_html(&index);
    let badge = |label: &str, message: &str, color: &str| serde_json::json!({"schemaVersion": 1, "label": label, "message": message, "color": color});
    let s = &index.vulnerability_summary;
    let (vuln_msg, vuln_color) = if s.total == 0 {
        ("none".to_string(), "brightgreen")
    } else {
        let parts: Vec<String> = Severity::ALL
            .iter()
            .filter(|sev| s.count(**sev) > 0)
            .map(|sev| format!("{} {sev}", s.count(*sev)))
            .collect();
        let color = if s.critical > 0 {
            "red"
        } else if s.high > 0 {
            "orange"
        } else if s.medium > 0 {
            "yellow"
        } else {
            "yellowgreen"
        };
        (parts.join(", "), color)
    };
    let contents: [(&str, String); 5] = [
        ("index.json", pretty(&index)),
        ("history.json", pretty(&history)),
        ("index.html", html),
        (
            "badge-grade.json",
            pretty(&badge(
                "security",
                &format!("grade {}", index.security_grade),
                grade_color(&index.security_grade),
            )),
        ),
        (
            "badge-vulnerabilities.json",
            pretty(&badge("vulnerabilities", &vuln_msg, vuln_color)),
        ),
    ];
    std::fs::create_dir_all(opts.out).map_err(|e| Error::io(opts.out, e))?;
    for (name, text) in &contents {
        let p = opts.out.join(name);
        std::fs::write(&p, text).map_err(|e| Error::io(p, e))?;
    }
    Ok(StatusOutput {
        grade: index.security_grade.clone(),
        summary: index.vulnerability_summary,
        out: opts.out.display().to_string(),
        files: STATUS_FILES.iter().map(|s| s.to_string()).collect(),
        tracked: history.findings.len(),
        resolved: history
            .findings
            .values()
            .filter(|e| e.resolved.is_some())
            .count(),
    })
}

/// Pretty JSON with a final newline.
fn pretty<T: Serialize>(v: &T) -> String {
    let mut s = serde_json::to_string_pretty(v).expect("plain data serializes to JSON");
    s.push('\n');
    s
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Only http(s) links are rendered as links (no `javascript:`).
fn safe_url(u: &str) -> Option<&str> {
    (u.starts_with("https://") || u.starts_with("http://")).then_some(u)
}

fn render_html(ix: &StatusIndex) -> String {
    let e = html_escape;
    let s = &ix.vulnerability_summary;
    let color = match ix.security_grade.as_str() {
        "A" => "#2e7d32",
        "B" => "#558b2f",
        "C" => "#f9a825",
        "D" => "#ef6c00",
        _ => "#c62828",
    };
    let mut rows = String::new();
    for f in &ix.findings {
        let id = match f.reference_url.as_deref().and_then(safe_url) {
            Some(u) => format!("<a href=\"{}\">{}</a>", e(u), e(&f.finding_id)),
            None => e(&f.finding_id),
        };
        rows.push_str(&format!(
            "<tr><td>{id}</td><td class=\"sev-{sev}\">{sev}</td><td>{pkg}</td><td>{ver}</td><td>{fix}</td><td>{disc} ({days} d)</td><td>{desc}</td></tr>\n",
            sev = f.severity,
            pkg = e(f.package.as_deref().unwrap_or("")),
            ver = e(f.version.as_deref().unwrap_or("")),
            fix = e(f.fix_version.as_deref().unwrap_or("none known")),
            disc = e(&f.discovered_date),
            days = f.days_since_discovery,
            desc = e(&f.description),
        ));
    }
    let table = if ix.findings.is_empty() {
        "<p>No open findings.</p>".to_string()
    } else {
        format!(
            "<table>\n<thead><tr><th>Finding</th><th>Severity</th><th>Package / file</th><th>Version</th><th>Fixed in</th><th>Discovered</th><th>Description</th></tr></thead>\n<tbody>\n{rows}</tbody>\n</table>"
        )
    };
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Security status: grade {grade}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; color: #222; }}
.grade {{ display: inline-block; font-size: 3rem; font-weight: bold; color: #fff; background: {color}; border-radius: .5rem; padding: .2rem 1.2rem; }}
.counts span {{ display: inline-block; margin-right: 1.5rem; }}
table {{ border-collapse: collapse; width: 100%; margin-top: 1rem; }}
th, td {{ border: 1px solid #ddd; padding: .4rem; text-align: left; vertical-align: top; }}
th {{ background: #f4f4f4; }}
.sev-critical {{ color: #c62828; font-weight: bold; }} .sev-high {{ color: #ef6c00; font-weight: bold; }}
.sev-medium {{ color: #f9a825; }} .sev-low, .sev-info {{ color: #555; }}
</style>
</head>
<body>
<h1>Security status</h1>
<p><span class="grade">{grade}</span></p>
<p class="counts"><span>Total: {total}</span><span>Critical: {critical}</span><span>High: {high}</span><span>Medium: {medium}</span><span>Low: {low}</span><span>Info: {info}</span></p>
<p>Remediation: {remediation}. Days since last vulnerability: {since}.</p>
<p>Last scan: <time datetime="{scan}">{scan}</time>. Page updated: <time datetime="{updated}">{updated}</time>.</p>
{table}
<p><a href="index.json">index.json</a> · <a href="history.json">history.json</a></p>
</body>
</html>
"#,
        grade = e(&ix.security_grade),
        total = s.total,
        critical = s.critical,
        high = s.high,
        medium = s.medium,
        low = s.low,
        info = s.info,
        remediation = e(&ix.remediation_status),
        since = ix.days_since_last_vulnerability,
        scan = e(&ix.scan_date),
        updated = e(&ix.last_updated),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Changes, Tool};

    fn sum(critical: u64, high: u64, medium: u64, low: u64) -> Summary {
        Summary {
            total: critical + high + medium + low,
            critical,
            high,
            medium,
            low,
            info: 0,
        }
    }

    #[test]
    fn grade_thresholds() {
        assert_eq!(grade(&sum(0, 0, 0, 0)), "A");
        assert_eq!(grade(&sum(0, 0, 0, 10)), "A");
        assert_eq!(grade(&sum(0, 0, 0, 11)), "B");
        assert_eq!(grade(&sum(0, 0, 1, 0)), "B");
        assert_eq!(grade(&sum(0, 0, 5, 0)), "B");
        assert_eq!(grade(&sum(0, 0, 6, 0)), "C");
        assert_eq!(grade(&sum(0, 1, 0, 0)), "C");
        assert_eq!(grade(&sum(0, 2, 0, 0)), "C");
        assert_eq!(grade(&sum(0, 3, 0, 0)), "D");
        assert_eq!(grade(&sum(1, 0, 0, 0)), "F");
    }

    fn finding(id: &str, aliases: &[&str]) -> Finding {
        Finding {
            id: id.into(),
            tool: Tool::PipAudit,
            severity: Severity::Medium,
            severity_source: "policy:default".into(),
            package: Some("pip".into()),
            version: Some("25.2".into()),
            file: None,
            line: None,
            aliases: aliases.iter().map(|s| s.to_string()).collect(),
            fix_versions: vec!["25.3".into()],
            description: "<script>alert(1)</script> tar links".into(),
            reference_url: Some(crate::model::advisory_url(id)),
        }
    }

    fn report(findings: Vec<Finding>) -> DetectReport {
        DetectReport {
            summary: Summary::of(&findings),
            findings,
            changes: Changes::default(),
            baseline: true,
            previous: "none".into(),
            current: "cur".into(),
            scanned: vec![],
            previous_scanned: vec![],
            scan_date: None,
            warnings: vec![],
        }
    }

    fn at(s: &str) -> OffsetDateTime {
        parse_now(s).unwrap()
    }

    #[test]
    fn history_carries_discovery_dates_and_resolves() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("status");
        let run = |r: &DetectReport, now: &str| {
            write_status(
                r,
                &StatusOptions {
                    out: &out,
                    previous: Some(&out),
                    now: at(now),
                },
            )
            .unwrap()
        };
        let a = finding("GHSA-4xh5-x5gv-qwph", &["CVE-2025-8869"]);
        let b = finding("PYSEC-2025-49", &[]);
        run(&report(vec![a.clone()]), "2025-10-27T02:58:37Z");
        // Three days later, the same advisory under its CVE id, plus a new one.
        let a2 = finding("CVE-2025-8869", &["GHSA-4xh5-x5gv-qwph"]);
        let o = run(&report(vec![a2, b.clone()]), "2025-10-30T10:00:00Z");
        assert_eq!(o.grade, "B");
        let ix: StatusIndex =
            serde_json::from_str(&std::fs::read_to_string(out.join("index.json")).unwrap())
                .unwrap();
        let by_id = |id: &str| ix.findings.iter().find(|f| f.finding_id == id).unwrap();
        assert_eq!(by_id("CVE-2025-8869").discovered_date, "2025-10-27");
        assert_eq!(by_id("CVE-2025-8869").days_since_discovery, 3);
        assert_eq!(by_id("PYSEC-2025-49").discovered_date, "2025-10-30");
        assert_eq!(ix.days_since_last_vulnerability, 0);
        assert_eq!(ix.remediation_status, "pending");

        // Everything fixed on Nov 2; two days later the page counts days since.
        let o = run(&report(vec![]), "2025-11-02T00:00:00Z");
        assert_eq!((o.grade.as_str(), o.resolved), ("A", 2));
        run(&report(vec![]), "2025-11-04T00:00:00Z");
        let ix: StatusIndex =
            serde_json::from_str(&std::fs::read_to_string(out.join("index.json")).unwrap())
                .unwrap();
        assert_eq!(ix.days_since_last_vulnerability, 2);
        assert_eq!(ix.remediation_status, "current");
        let h: History =
            serde_json::from_str(&std::fs::read_to_string(out.join("history.json")).unwrap())
                .unwrap();
        assert_eq!(
            h.findings["CVE-2025-8869"].resolved.as_deref(),
            Some("2025-11-02")
        );
    }

    #[test]
    fn files_are_written_escaped_and_badges_follow_shields_format() {
        let dir = tempfile::tempdir().unwrap();
        let o = write_status(
            &report(vec![finding("PYSEC-2022-42969", &[])]),
            &StatusOptions {
                out: dir.path(),
                previous: None,
                now: at("2025-10-27T00:00:00Z"),
            },
        )
        .unwrap();
        for f in &o.files {
            assert!(dir.path().join(f).is_file(), "{f}");
        }
        let html = std::fs::read_to_string(dir.path().join("index.html")).unwrap();
        assert!(!html.contains("<script"), "unescaped description");
        assert!(html.contains("&lt;script&gt;"));
        assert!(html.contains("href=\"https://osv.dev/vulnerability/PYSEC-2022-42969\""));
        assert!(!html.contains("src=\"http"), "external resource");
        let badge: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join("badge-grade.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(
            badge,
            serde_json::json!({"schemaVersion": 1, "label": "security", "message": "grade B", "color": "green"})
        );
        let badge: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join("badge-vulnerabilities.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(badge["message"], "1 medium");
    }

    #[test]
    fn history_seeds_from_an_original_index_json() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("index.json"),
            r#"{"findings": [{"finding_id": "PYSEC-2025-49", "package": "setuptools", "version": "75.3.2",
                "severity": "medium", "discovered_date": "2025-10-27", "days_since_discovery": 0}]}"#,
        )
        .unwrap();
        let h = load_history(dir.path()).unwrap();
        assert_eq!(h.findings["PYSEC-2025-49"].first_seen, "2025-10-27");
        let empty = load_history(&dir.path().join("absent")).unwrap();
        assert!(empty.findings.is_empty());
    }

    #[test]
    fn bad_now_is_rejected() {
        assert!(parse_now("yesterday").is_err());
        assert_eq!(
            parse_date("2025-10-27T02:58:37Z").unwrap().to_string(),
            "2025-10-27"
        );
    }
}
