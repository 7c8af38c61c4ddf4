//! The status stage's logic: the live security status of a project, as a folder ready for
//! GitHub Pages.
//!
//! Files written into the output folder ([`STATUS_FILES`]):
//! - `index.json` ([`StatusIndex`]): the original system's schema (`last_updated`,
//!   `scan_date`, `vulnerability_summary`, `findings[{finding_id, package, version, severity,
//!   discovered_date, days_since_discovery, description, fix_available, fix_version,
//!   reference_url}]`, `security_grade`, `days_since_last_vulnerability`,
//!   `remediation_status`) plus `schema_version` ([`SCHEMA_VERSION`]), `resolved` (recently
//!   resolved findings with their resolution dates) and `overdue_after_days`. Its JSON
//!   Schema is `schemas/security-status.schema.json` in the airlock repository;
//! - `history.json` ([`History`]): per finding, the first and last day it was seen and the
//!   day it was resolved, carried from run to run so discovery dates and "days since" are
//!   real (they come from this file, not from the clock of the run);
//! - `metrics.json` ([`metrics::Metrics`]): one record per run (date, trigger, decision,
//!   files published, retries, duration per stage, outcome);
//! - `index.html`: one self-contained page ([`html`]): no script, no external resource;
//! - `badges/grade.json`, `badges/vulnerabilities.json`, `badges/last-scan.json`: shields.io
//!   endpoint badges (`{"schemaVersion": 1, "label", "message", "color"}`, see
//!   <https://shields.io/badges/endpoint-badge>).
//!
//! Dates are UTC calendar days (`YYYY-MM-DD`); timestamps are RFC 3339.

pub mod html;
pub mod metrics;

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime};

use crate::error::{Error, Result};
use crate::model::{DetectReport, Finding, Severity, Summary};

/// The `schema_version` of `index.json`, `history.json` and `metrics.json` written by this
/// library.
pub const SCHEMA_VERSION: u32 = 1;

/// The files [`write_status`] writes, relative to the output folder, in order.
pub const STATUS_FILES: [&str; 7] = [
    "index.json",
    "history.json",
    "metrics.json",
    "index.html",
    "badges/grade.json",
    "badges/vulnerabilities.json",
    "badges/last-scan.json",
];

/// Default of [`StatusSettings::overdue_days`]: a finding with a fix available that was
/// discovered more than 30 days ago makes the remediation status `overdue`.
pub const DEFAULT_OVERDUE_DAYS: i64 = 30;

/// Default of [`StatusSettings::resolved_days`]: findings resolved in the last 90 days are
/// listed in `resolved`.
pub const DEFAULT_RESOLVED_DAYS: i64 = 90;

/// The security grade, as the original system computes it from the open findings: any
/// critical → F; more than two high → D; any high or more than five medium → C; any medium
/// or more than ten low → B; else A. Informational findings do not count.
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

/// The shields.io colour of a grade, as the original used them: A brightgreen, B green,
/// C yellow, D orange, F red.
pub fn grade_color(g: &str) -> &'static str {
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

/// Reads `dir/name`; `Ok(None)` when it does not exist.
fn read_optional(dir: &Path, name: &str) -> Result<Option<String>> {
    let p = dir.join(name);
    match std::fs::read_to_string(&p) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(p, e)),
    }
}

/// The error for a malformed file of a previous status folder.
fn malformed(dir: &Path, name: &str, e: serde_json::Error) -> Error {
    Error::invalid(
        format!("{} is malformed: {e}", dir.join(name).display()),
        "delete it to start afresh, or point `previous` at a status folder written by airlock",
    )
}

/// Loads the history kept in a previous status folder `dir`: its `history.json`; failing
/// that, its `index.json` (a page written by the original system or without history), whose
/// findings' `discovered_date` seed `first_seen`; failing that (no folder, no file), an
/// empty history. Errors: [`Error::Invalid`] for a malformed file, [`Error::Io`] for other
/// read errors.
pub fn load_history(dir: &Path) -> Result<History> {
    if let Some(text) = read_optional(dir, "history.json")? {
        return serde_json::from_str(&text).map_err(|e| malformed(dir, "history.json", e));
    }
    let Some(text) = read_optional(dir, "index.json")? else {
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
    let old: OldIndex = serde_json::from_str(&text).map_err(|e| malformed(dir, "index.json", e))?;
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
/// today; a resolved entry keeps its resolution date.
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

/// One open finding of `index.json`, in the original schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusFinding {
    /// The finding id (advisory id for dependencies, rule-based id for code and secrets).
    pub finding_id: String,
    /// The affected package (or file, for code and secret findings).
    pub package: Option<String>,
    /// The installed version of the package.
    pub version: Option<String>,
    /// Severity.
    pub severity: Severity,
    /// First day seen (`YYYY-MM-DD`), from the history.
    pub discovered_date: String,
    /// Whole days from `discovered_date` to the day of this run.
    pub days_since_discovery: i64,
    /// The description, on one line, at most 500 characters (then cut with `…`).
    pub description: String,
    /// True when a fixed version is known.
    pub fix_available: bool,
    /// The first fixed version.
    pub fix_version: Option<String>,
    /// Advisory or rule page.
    pub reference_url: Option<String>,
}

/// One recently resolved finding of `index.json` (`resolved`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolvedFinding {
    /// The finding id.
    pub finding_id: String,
    /// The affected package or file.
    pub package: Option<String>,
    /// Severity when last seen.
    pub severity: Severity,
    /// First day seen (`YYYY-MM-DD`).
    pub discovered_date: String,
    /// The first day it was missing from a scan (`YYYY-MM-DD`).
    pub resolved_date: String,
    /// Whole days from `discovered_date` to `resolved_date`.
    pub days_open: i64,
    /// Whole days from `resolved_date` to the day of this run.
    pub days_since_resolution: i64,
    /// Advisory page (for advisory ids), else `null`.
    pub reference_url: Option<String>,
}

/// `index.json`. JSON Schema: `schemas/security-status.schema.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusIndex {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// When this page was written (RFC 3339, UTC).
    pub last_updated: String,
    /// When the scan ran (from the reports), else `last_updated`.
    pub scan_date: String,
    /// Counts of open findings per severity.
    pub vulnerability_summary: Summary,
    /// Open findings, most severe first, then oldest first, then by id.
    pub findings: Vec<StatusFinding>,
    /// Findings resolved in the last [`StatusSettings::resolved_days`] days, most recently
    /// resolved first.
    pub resolved: Vec<ResolvedFinding>,
    /// [`grade`] of `vulnerability_summary`.
    pub security_grade: String,
    /// Days since the most recent discovery among open findings; with none open, days
    /// since the last one was resolved (0 when there never was one).
    pub days_since_last_vulnerability: i64,
    /// `"overdue"` when an open finding (not info) with a fix available was discovered more
    /// than `overdue_after_days` days ago; else `"pending"` while a critical, high or medium
    /// finding is open; else `"current"`.
    pub remediation_status: String,
    /// The overdue threshold used ([`StatusSettings::overdue_days`]).
    pub overdue_after_days: i64,
}

/// Options of [`write_status`]: where to write, where the history comes from, and when.
#[derive(Debug, Clone)]
pub struct StatusOptions<'a> {
    /// The folder to write into (created if missing).
    pub out: &'a Path,
    /// The previous status folder to carry the history and metrics from (usually `out`).
    pub previous: Option<&'a Path>,
    /// The time of this run.
    pub now: OffsetDateTime,
}

/// Settings of [`write_status_with`] beyond [`StatusOptions`]; `Default` gives the
/// documented defaults.
#[derive(Debug, Clone)]
pub struct StatusSettings {
    /// Remediation becomes `overdue` when a finding with a fix available is older than this
    /// many days (default [`DEFAULT_OVERDUE_DAYS`]).
    pub overdue_days: i64,
    /// How many days a resolved finding stays in `resolved` (default
    /// [`DEFAULT_RESOLVED_DAYS`]).
    pub resolved_days: i64,
    /// The page's title (default `"Security status"`).
    pub title: String,
    /// Where the folder is published (e.g. `https://OWNER.github.io/REPO/security-status/`),
    /// for the README badge snippet; `None` puts a placeholder there.
    pub base_url: Option<String>,
    /// This run's record for `metrics.json` (without `open`/`grade`, which are filled in);
    /// `None` records the date and the findings only.
    pub run: Option<metrics::RunRecord>,
}

impl Default for StatusSettings {
    fn default() -> Self {
        StatusSettings {
            overdue_days: DEFAULT_OVERDUE_DAYS,
            resolved_days: DEFAULT_RESOLVED_DAYS,
            title: "Security status".to_string(),
            base_url: None,
            run: None,
        }
    }
}

/// What [`write_status`] did. JSON: `{"grade": "B", "summary": Summary, "remediation":
/// "pending", "out": "<folder>", "files": ["index.json", …], "tracked": n, "resolved": n,
/// "runs": n, "badge_markdown": "…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusOutput {
    /// The security grade.
    pub grade: String,
    /// Counts of open findings.
    pub summary: Summary,
    /// `current`, `pending` or `overdue`.
    pub remediation: String,
    /// The folder written.
    pub out: String,
    /// Files written into `out` ([`STATUS_FILES`]).
    pub files: Vec<String>,
    /// Findings in the history (open and resolved).
    pub tracked: usize,
    /// Resolved findings in the history.
    pub resolved: usize,
    /// Run records in `metrics.json`.
    pub runs: usize,
    /// The README snippet showing the three badges ([`badge_markdown`]).
    pub badge_markdown: String,
}

/// The status stage's output.
impl airlock_stage::Output for StatusOutput {}

/// Days from `from` to `to`, at least 0 (a date in the future, from a skewed clock, counts
/// as today).
fn days_between(from: &str, to: Date) -> i64 {
    parse_date(from)
        .map(|d| (to - d).whole_days().max(0))
        .unwrap_or(0)
}

/// The description on one line, cut at `max` characters with `…`.
fn one_line(d: &str, max: usize) -> String {
    let one: String = d.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() <= max {
        one
    } else {
        let cut: String = one.chars().take(max).collect();
        format!("{}…", cut.trim_end())
    }
}

/// An advisory page for ids that name an advisory (GHSA, CVE, PYSEC, OSV…), else `None`.
fn advisory_link(id: &str) -> Option<String> {
    let upper = id.to_ascii_uppercase();
    ["GHSA-", "CVE-", "PYSEC-", "OSV-", "GO-", "RUSTSEC-"]
        .iter()
        .any(|p| upper.starts_with(p))
        .then(|| crate::model::advisory_url(id))
}

/// Builds `index.json`'s content from a detect report and the history already updated for
/// this run ([`update_history`]).
pub fn build_index(
    report: &DetectReport,
    history: &History,
    now: OffsetDateTime,
    settings: &StatusSettings,
) -> StatusIndex {
    let today = now.date();
    let now_s = rfc3339(now);
    let mut findings: Vec<StatusFinding> = report
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
                days_since_discovery: days_between(&discovered, today),
                discovered_date: discovered,
                description: one_line(&f.description, 500),
                fix_available: !f.fix_versions.is_empty(),
                fix_version: f.fix_versions.first().cloned(),
                reference_url: f.reference_url.clone(),
            }
        })
        .collect();
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(b.days_since_discovery.cmp(&a.days_since_discovery))
            .then(a.finding_id.cmp(&b.finding_id))
    });
    let mut resolved: Vec<ResolvedFinding> = history
        .findings
        .iter()
        .filter_map(|(id, e)| {
            let r = e.resolved.as_deref()?;
            let since = days_between(r, today);
            (since <= settings.resolved_days).then(|| ResolvedFinding {
                finding_id: id.clone(),
                package: e.package.clone(),
                severity: e.severity,
                discovered_date: e.first_seen.clone(),
                resolved_date: r.to_string(),
                days_open: parse_date(&e.first_seen)
                    .zip(parse_date(r))
                    .map(|(a, b)| (b - a).whole_days().max(0))
                    .unwrap_or(0),
                days_since_resolution: since,
                reference_url: advisory_link(id),
            })
        })
        .collect();
    resolved.sort_by(|a, b| {
        b.resolved_date
            .cmp(&a.resolved_date)
            .then(b.severity.cmp(&a.severity))
            .then(a.finding_id.cmp(&b.finding_id))
    });
    let since_last = if let Some(latest) = findings.iter().map(|f| &f.discovered_date).max() {
        days_between(latest, today)
    } else {
        history
            .findings
            .values()
            .filter_map(|e| e.resolved.as_deref())
            .max()
            .map(|d| days_between(d, today))
            .unwrap_or(0)
    };
    let s = report.summary;
    let overdue = findings.iter().any(|f| {
        f.fix_available
            && f.severity > Severity::Info
            && f.days_since_discovery > settings.overdue_days
    });
    let remediation = if overdue {
        "overdue"
    } else if s.critical + s.high + s.medium > 0 {
        "pending"
    } else {
        "current"
    };
    StatusIndex {
        schema_version: SCHEMA_VERSION,
        last_updated: now_s.clone(),
        scan_date: report.scan_date.clone().unwrap_or(now_s),
        vulnerability_summary: s,
        findings,
        resolved,
        security_grade: grade(&s).to_string(),
        days_since_last_vulnerability: since_last,
        remediation_status: remediation.to_string(),
        overdue_after_days: settings.overdue_days,
    }
}

/// RFC 3339 of a time, in UTC.
fn rfc3339(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_else(|_| t.date().to_string())
}

/// A shields.io endpoint badge: `{"schemaVersion": 1, "label", "message", "color"}`.
fn badge(label: &str, message: &str, color: &str) -> serde_json::Value {
    serde_json::json!({"schemaVersion": 1, "label": label, "message": message, "color": color})
}

/// The three badges, by file name under `badges/`:
/// - `grade.json`: `security | grade B`, coloured by [`grade_color`];
/// - `vulnerabilities.json`: `vulnerabilities | 3 medium` (or `none`, brightgreen), red with
///   a critical, orange with a high, yellow with a medium, yellowgreen with low/info only;
/// - `last-scan.json`: `last scan | today` / `1 day ago` / `N days ago`, as of `now`
///   (brightgreen up to 1 day, green up to 7, yellow up to 30, red beyond).
pub fn badges(index: &StatusIndex, now: OffsetDateTime) -> Vec<(&'static str, serde_json::Value)> {
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
    let age = days_between(&index.scan_date, now.date()).max(0);
    let age_msg = match age {
        0 => "today".to_string(),
        1 => "1 day ago".to_string(),
        n => format!("{n} days ago"),
    };
    let age_color = match age {
        0..=1 => "brightgreen",
        2..=7 => "green",
        8..=30 => "yellow",
        _ => "red",
    };
    vec![
        (
            "grade.json",
            badge(
                "security",
                &format!("grade {}", index.security_grade),
                grade_color(&index.security_grade),
            ),
        ),
        (
            "vulnerabilities.json",
            badge("vulnerabilities", &vuln_msg, vuln_color),
        ),
        ("last-scan.json", badge("last scan", &age_msg, age_color)),
    ]
}

/// The README snippet (Markdown) showing the three badges through shields.io's endpoint
/// badge (`https://img.shields.io/endpoint?url=<badge JSON URL>`), each linking to the page.
/// `base_url` is where the status folder is published; `None` writes the placeholder
/// `https://OWNER.github.io/REPO/security-status/`.
pub fn badge_markdown(base_url: Option<&str>) -> String {
    let base = base_url.unwrap_or("https://OWNER.github.io/REPO/security-status/");
    let base = if base.ends_with('/') {
        base.to_string()
    } else {
        format!("{base}/")
    };
    [
        ("security grade", "grade"),
        ("open vulnerabilities", "vulnerabilities"),
        ("last security scan", "last-scan"),
    ]
    .iter()
    .map(|(alt, name)| {
        format!(
            "[![{alt}](https://img.shields.io/endpoint?url={})]({base})",
            airlock_stage::http::encode_component(&format!("{base}badges/{name}.json"))
        )
    })
    .collect::<Vec<_>>()
    .join("\n")
}

/// Writes the status folder (see the module docs) for `report` with the default
/// [`StatusSettings`].
pub fn write_status(report: &DetectReport, opts: &StatusOptions) -> Result<StatusOutput> {
    write_status_with(report, opts, &StatusSettings::default())
}

/// Writes the status folder (see the module docs) for `report`.
///
/// The history and metrics are read from `opts.previous` before anything is written, so
/// `previous` may be `out`. Errors: [`Error::Io`] when a file cannot be read or written,
/// [`Error::Invalid`] for a malformed previous `history.json`, `index.json` or
/// `metrics.json`.
pub fn write_status_with(
    report: &DetectReport,
    opts: &StatusOptions,
    settings: &StatusSettings,
) -> Result<StatusOutput> {
    let (previous, mut runs) = match opts.previous {
        Some(p) => (load_history(p)?, metrics::load_metrics(p)?),
        None => (History::default(), metrics::Metrics::default()),
    };
    let history = update_history(previous, &report.findings, opts.now.date());
    let index = build_index(report, &history, opts.now, settings);
    let mut record = settings.run.clone().unwrap_or_default();
    record.date = rfc3339(opts.now);
    record.open = index.vulnerability_summary;
    record.grade = index.security_grade.clone();
    runs.push(record);
    let page = html::render(
        &index,
        &history,
        &runs,
        &html::PageOptions {
            title: &settings.title,
            today: opts.now.date(),
        },
    );
    let mut contents: Vec<(String, String)> = vec![
        ("index.json".into(), pretty(&index)),
        ("history.json".into(), pretty(&history)),
        ("metrics.json".into(), pretty(&runs)),
        ("index.html".into(), page),
    ];
    for (name, b) in badges(&index, opts.now) {
        contents.push((format!("badges/{name}"), pretty(&b)));
    }
    let badge_dir = opts.out.join("badges");
    std::fs::create_dir_all(&badge_dir).map_err(|e| Error::io(&badge_dir, e))?;
    for (name, text) in &contents {
        let p = opts.out.join(name);
        std::fs::write(&p, text).map_err(|e| Error::io(p, e))?;
    }
    Ok(StatusOutput {
        grade: index.security_grade.clone(),
        summary: index.vulnerability_summary,
        remediation: index.remediation_status.clone(),
        out: opts.out.display().to_string(),
        files: contents.into_iter().map(|(n, _)| n).collect(),
        tracked: history.findings.len(),
        resolved: history
            .findings
            .values()
            .filter(|e| e.resolved.is_some())
            .count(),
        runs: runs.runs.len(),
        badge_markdown: badge_markdown(settings.base_url.as_deref()),
    })
}

/// Pretty JSON with a final newline.
fn pretty<T: Serialize>(v: &T) -> String {
    let mut s = serde_json::to_string_pretty(v).expect("plain data serializes to JSON");
    s.push('\n');
    s
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
    fn grade_boundaries() {
        // The issue's boundaries: critical 1 → F, high 3 → D, high 2 → C, medium 6 → C,
        // medium 5 → B, low 11 → B, low 10 → A.
        assert_eq!(grade(&sum(1, 0, 0, 0)), "F");
        assert_eq!(grade(&sum(0, 3, 0, 0)), "D");
        assert_eq!(grade(&sum(0, 2, 0, 0)), "C");
        assert_eq!(grade(&sum(0, 1, 0, 0)), "C");
        assert_eq!(grade(&sum(0, 0, 6, 0)), "C");
        assert_eq!(grade(&sum(0, 0, 5, 0)), "B");
        assert_eq!(grade(&sum(0, 0, 1, 0)), "B");
        assert_eq!(grade(&sum(0, 0, 0, 11)), "B");
        assert_eq!(grade(&sum(0, 0, 0, 10)), "A");
        assert_eq!(grade(&sum(0, 0, 0, 0)), "A");
        // The worst rule wins.
        assert_eq!(grade(&sum(1, 3, 6, 11)), "F");
        assert_eq!(grade(&sum(0, 3, 6, 11)), "D");
        let mut info_only = sum(0, 0, 0, 0);
        info_only.info = 50;
        assert_eq!(grade(&info_only), "A");
        assert_eq!(
            ["A", "B", "C", "D", "F"].map(grade_color),
            ["brightgreen", "green", "yellow", "orange", "red"]
        );
    }

    fn finding(id: &str, sev: Severity, fix: bool) -> Finding {
        Finding {
            id: id.into(),
            tool: Tool::PipAudit,
            severity: sev,
            severity_source: "report".into(),
            package: Some("pkg".into()),
            version: Some("1.0".into()),
            file: None,
            line: None,
            aliases: vec![],
            fix_versions: if fix { vec!["2.0".into()] } else { vec![] },
            description: "d".into(),
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
    fn remediation_is_overdue_only_past_the_threshold_with_a_fix() {
        let first = at("2025-01-01T00:00:00Z");
        let r = report(vec![
            finding("GHSA-aaaa-bbbb-cccc", Severity::Low, true),
            finding("PYSEC-2025-1", Severity::Medium, false),
        ]);
        let h = update_history(History::default(), &r.findings, first.date());
        let s = StatusSettings {
            overdue_days: 10,
            ..Default::default()
        };
        let status = |day: &str| build_index(&r, &h, at(day), &s).remediation_status;
        assert_eq!(status("2025-01-11T00:00:00Z"), "pending"); // 10 days: not past it
        assert_eq!(status("2025-01-12T00:00:00Z"), "overdue"); // 11 days, low with a fix
        // Without a fix, age alone is not overdue.
        let r2 = report(vec![finding("PYSEC-2025-1", Severity::Medium, false)]);
        let ix = build_index(&r2, &h, at("2026-01-01T00:00:00Z"), &s);
        assert_eq!(ix.remediation_status, "pending");
        assert_eq!(ix.overdue_after_days, 10);
        let ix = build_index(&report(vec![]), &h, at("2026-01-01T00:00:00Z"), &s);
        assert_eq!(ix.remediation_status, "current");
    }

    #[test]
    fn findings_sort_by_severity_then_age() {
        let r = report(vec![
            finding("PYSEC-1", Severity::Medium, false),
            finding("PYSEC-2", Severity::High, false),
            finding("PYSEC-3", Severity::Medium, false),
        ]);
        let mut h = update_history(
            History::default(),
            &r.findings[..1],
            at("2025-01-01T00:00:00Z").date(),
        );
        h = update_history(h, &r.findings, at("2025-01-05T00:00:00Z").date());
        let ix = build_index(
            &r,
            &h,
            at("2025-01-06T00:00:00Z"),
            &StatusSettings::default(),
        );
        let order: Vec<_> = ix
            .findings
            .iter()
            .map(|f| (f.finding_id.as_str(), f.days_since_discovery))
            .collect();
        assert_eq!(order, [("PYSEC-2", 1), ("PYSEC-1", 5), ("PYSEC-3", 1)]);
    }

    #[test]
    fn badges_follow_the_shields_endpoint_format() {
        let r = report(vec![finding("PYSEC-2022-42969", Severity::Medium, false)]);
        let mut r = r;
        r.scan_date = Some("2025-10-20T08:00:00Z".into());
        let h = update_history(
            History::default(),
            &r.findings,
            at("2025-10-27T00:00:00Z").date(),
        );
        let ix = build_index(
            &r,
            &h,
            at("2025-10-27T00:00:00Z"),
            &StatusSettings::default(),
        );
        let b: BTreeMap<_, _> = badges(&ix, at("2025-10-27T00:00:00Z"))
            .into_iter()
            .collect();
        assert_eq!(
            b["grade.json"],
            serde_json::json!({"schemaVersion": 1, "label": "security", "message": "grade B", "color": "green"})
        );
        assert_eq!(b["vulnerabilities.json"]["message"], "1 medium");
        assert_eq!(b["vulnerabilities.json"]["color"], "yellow");
        assert_eq!(
            b["last-scan.json"],
            serde_json::json!({"schemaVersion": 1, "label": "last scan", "message": "7 days ago", "color": "green"})
        );
        let md = badge_markdown(Some("https://example.github.io/proj/security-status"));
        assert!(md.contains("(https://img.shields.io/endpoint?url=https%3A%2F%2Fexample.github.io%2Fproj%2Fsecurity-status%2Fbadges%2Fgrade.json)](https://example.github.io/proj/security-status/)"), "{md}");
        assert_eq!(md.lines().count(), 3);
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
        std::fs::write(dir.path().join("history.json"), "{not json").unwrap();
        assert!(matches!(
            load_history(dir.path()),
            Err(Error::Invalid { .. })
        ));
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
