//! Parsers for the scanners' JSON reports, turning each into [`Finding`]s, and the
//! [`SeverityPolicy`] that gives a severity to findings whose report carries none.
//!
//! Formats followed (fields not listed are ignored; tools add fields over time):
//! - **pip-audit** `-f json` (pip-audit ≥ 2): `{"dependencies": [{"name", "version",
//!   "vulns": [{"id", "fix_versions", "aliases", "description"}]} | {"name",
//!   "skip_reason"}], "fixes": [...]}`; the bare list of dependencies of older releases is
//!   accepted too. Entries with `skip_reason` were not audited and are not findings.
//!   pip-audit carries no severity: the [`SeverityPolicy`] default applies.
//! - **bandit** `-f json`: `{"errors": [...], "generated_at", "metrics", "results":
//!   [{"code", "filename", "issue_severity", "issue_confidence", "issue_text",
//!   "line_number", "line_range", "more_info", "test_id", "test_name"}]}`.
//! - **gitleaks** `--report-format json`: a list of `{"RuleID", "Description", "File",
//!   "StartLine", "Fingerprint", "Secret", …}` (`[]` when nothing leaked); an object with a
//!   `findings` list is accepted too. `Secret` and `Match` are never read.
//! - **OSV-Scanner** `--format json` (v1 and v2,
//!   <https://google.github.io/osv-scanner/output/#json>): `{"results": [{"source",
//!   "packages": [{"package": {"name", "version", "ecosystem"}, "vulnerabilities": [OSV
//!   record], "groups": [{"ids", "aliases", "max_severity"}]}]}]}`; `{"results": []}` when
//!   nothing is vulnerable. One finding per group (the ids of one advisory under its
//!   databases), with fix versions from the OSV record's `affected[].ranges[].events[].fixed`
//!   (OSV schema, <https://ossf.github.io/osv-schema/>).
//! - **SARIF 2.1.0** (OASIS, <https://docs.oasis-open.org/sarif/sarif/v2.1.0/>): `{"version":
//!   "2.1.0", "runs": [{"tool": {"driver": {"name", "rules": [{"id", "helpUri",
//!   "shortDescription", "defaultConfiguration": {"level"}, "properties":
//!   {"security-severity"}}]}}, "results": [{"ruleId", "ruleIndex", "level", "kind",
//!   "message": {"text"}, "locations": [{"physicalLocation": {"artifactLocation": {"uri"},
//!   "region": {"startLine", "snippet": {"text"}}}}], "fingerprints", "partialFingerprints",
//!   "suppressions", "properties": {"security-severity"}}]}]}`. Results of kind `pass` or
//!   `notApplicable`, and suppressed results (a suppression whose `status` is absent or
//!   `accepted`), are not findings.
//!
//! Errors: every parser fails with [`Error::Invalid`] naming the file, the JSON path
//! (`.results[3].line_number`) and the format expected. Nothing is skipped silently.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::model::{Finding, Severity, Tool, advisory_url, normalize_package_name};

/// One entry of the overrides file: findings whose id or alias is `key` get `severity`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    /// An advisory id or alias (`GHSA-…`, `CVE-…`, `PYSEC-…`) or a code finding id,
    /// compared case-insensitively.
    pub key: String,
    /// The severity to give.
    pub severity: Severity,
    /// Why (shown in `severity_source`).
    pub reason: Option<String>,
    /// The file it came from (shown in `severity_source`).
    pub file: String,
}

/// The policy for severities.
///
/// Order, first match wins (the winner is named in each finding's `severity_source`):
/// 1. an **override** whose key is the finding's id or one of its aliases
///    (`override:<key> (<file>)`), so a person can lower an advisory that does not apply or
///    raise one that does, whatever the tool said;
/// 2. the **report's** own severity (`report:<field> <value>`): bandit `issue_severity`,
///    SARIF `security-severity` then `level`, OSV `max_severity`, CVSS vectors, then
///    `database_specific.severity`;
/// 3. **policy**: a leaked secret (gitleaks) is `secret` (default high: a committed
///    credential must be rotated), marked `policy:secret`; anything else without a severity
///    (every pip-audit advisory, a bandit `UNDEFINED`, a SARIF result without level) gets
///    `default` (default medium), marked `policy:default`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeverityPolicy {
    /// Severity of findings whose report carries none.
    pub default: Severity,
    /// Severity of every gitleaks finding.
    pub secret: Severity,
    /// Per-id overrides (see [`load_overrides`]).
    pub overrides: Vec<Override>,
}

impl Default for SeverityPolicy {
    fn default() -> Self {
        SeverityPolicy {
            default: Severity::Medium,
            secret: Severity::High,
            overrides: Vec::new(),
        }
    }
}

impl SeverityPolicy {
    /// Applies the overrides to `findings` (see the type's documentation for the order).
    pub fn apply_overrides(&self, findings: &mut [Finding]) {
        for f in findings {
            if let Some(o) = self
                .overrides
                .iter()
                .find(|o| f.ids().any(|id| id.eq_ignore_ascii_case(&o.key)))
            {
                f.severity = o.severity;
                f.severity_source = match &o.reason {
                    Some(r) => format!("override:{} ({}): {r}", o.key, o.file),
                    None => format!("override:{} ({})", o.key, o.file),
                };
            }
        }
    }
}

/// Reads an overrides file (TOML):
///
/// ```toml
/// [overrides]
/// "PYSEC-2022-42969" = "low"                      # id or alias = severity
/// "CVE-2025-8869" = { severity = "high", reason = "we extract untrusted sdists" }
/// ```
///
/// Errors: [`Error::Io`] when it cannot be read; [`Error::Invalid`] naming the file and key
/// for bad TOML, an unknown severity or a missing `[overrides]` table.
pub fn load_overrides(path: &Path) -> Result<Vec<Override>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    parse_overrides(&path.display().to_string(), &text)
}

/// Parses the text of an overrides file (see [`load_overrides`]); `name` is used in errors
/// and in `severity_source`.
pub fn parse_overrides(name: &str, text: &str) -> Result<Vec<Override>> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Entry {
        Plain(Severity),
        Full {
            severity: Severity,
            #[serde(default)]
            reason: Option<String>,
        },
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        overrides: std::collections::BTreeMap<String, Entry>,
    }
    let hint = "write `[overrides]` then one `\"ID\" = \"critical|high|medium|low|info\"` (or `{ severity = \"…\", reason = \"…\" }`) per line";
    let file: File = toml::from_str(text).map_err(|e| {
        Error::invalid(
            format!("{name} is not a valid severity overrides file: {e}"),
            hint,
        )
    })?;
    Ok(file
        .overrides
        .into_iter()
        .map(|(key, e)| {
            let (severity, reason) = match e {
                Entry::Plain(s) => (s, None),
                Entry::Full { severity, reason } => (severity, reason),
            };
            Override {
                key,
                severity,
                reason,
                file: name.to_string(),
            }
        })
        .collect())
}

/// The default report globs per format, matched against file names in a scan folder.
/// A file matching none of them is ignored (and listed as ignored). SARIF comes first so
/// `osv.sarif.json` is read as SARIF.
pub const DEFAULT_GLOBS: [(Tool, &[&str]); 5] = [
    (Tool::Sarif, &["*.sarif", "*.sarif.json"]),
    (Tool::PipAudit, &["pip-audit*.json"]),
    (Tool::Bandit, &["bandit*.json"]),
    (Tool::Gitleaks, &["gitleaks*.json"]),
    (Tool::OsvScanner, &["osv*.json"]),
];

/// Which file names are which report: an ordered list of (format, globs); the first format
/// whose glob matches a file name wins.
#[derive(Debug, Clone)]
pub struct ReportGlobs {
    entries: Vec<(Tool, Vec<String>, globset::GlobSet)>,
}

impl Default for ReportGlobs {
    fn default() -> Self {
        Self::new(&[]).expect("the default globs are valid")
    }
}

impl ReportGlobs {
    /// The defaults of [`DEFAULT_GLOBS`], with the globs of each format in `custom` replacing
    /// that format's defaults (an empty list disables the format).
    ///
    /// Errors: [`Error::Invalid`] naming a glob that does not parse.
    pub fn new(custom: &[(Tool, Vec<String>)]) -> Result<Self> {
        let mut entries = Vec::new();
        for (tool, defaults) in DEFAULT_GLOBS {
            let globs: Vec<String> = match custom.iter().find(|(t, _)| *t == tool) {
                Some((_, g)) => g.clone(),
                None => defaults.iter().map(|s| s.to_string()).collect(),
            };
            let mut b = globset::GlobSetBuilder::new();
            for g in &globs {
                b.add(globset::Glob::new(g).map_err(|e| {
                    Error::invalid(
                        format!("bad report glob {g:?} for {}: {e}", tool.as_str()),
                        "use shell-style globs such as \"pip-audit*.json\"",
                    )
                })?);
            }
            let set = b.build().map_err(|e| {
                Error::invalid(format!("bad report globs: {e}"), "fix the report globs")
            })?;
            entries.push((tool, globs, set));
        }
        Ok(ReportGlobs { entries })
    }

    /// The format of the file named `name`, if any glob matches it.
    pub fn classify(&self, name: &str) -> Option<Tool> {
        self.entries
            .iter()
            .find(|(_, _, set)| set.is_match(name))
            .map(|(t, _, _)| *t)
    }

    /// Every glob, in order (for messages).
    pub fn all(&self) -> Vec<String> {
        self.entries
            .iter()
            .flat_map(|(_, g, _)| g.iter().cloned())
            .collect()
    }
}

/// What one report file yielded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    /// The findings, in report order.
    pub findings: Vec<Finding>,
    /// When the scan ran, if the report says (bandit's `generated_at`, SARIF's
    /// `invocations[].startTimeUtc`).
    pub generated_at: Option<String>,
}

fn expected(tool: Tool) -> &'static str {
    match tool {
        Tool::PipAudit => {
            "a pip-audit JSON report ({\"dependencies\": [...]}, from `pip-audit -f json -o pip-audit.json`)"
        }
        Tool::Bandit => {
            "a bandit JSON report ({\"results\": [...]}, from `bandit -r SRC -f json -o bandit.json`)"
        }
        Tool::Gitleaks => {
            "a gitleaks JSON report ([...] or {\"findings\": [...]}, from `gitleaks detect --report-format json --report-path gitleaks.json`)"
        }
        Tool::OsvScanner => {
            "an OSV-Scanner JSON report ({\"results\": [...]}, from `osv-scanner scan --format json --output osv.json`)"
        }
        Tool::Sarif => {
            "a SARIF 2.1.0 log ({\"version\": \"2.1.0\", \"runs\": [...]}, e.g. from CodeQL or `bandit -f sarif`)"
        }
    }
}

fn invalid_at(tool: Tool, name: &str, path: &str, what: impl std::fmt::Display) -> Error {
    Error::invalid(
        format!(
            "{name} is not {}: at {path}: {what}",
            expected(tool).split(" (").next().unwrap_or("")
        ),
        format!(
            "the file was picked as {} by its name; expected {}. Re-run the scanner, or change the report globs if the name misleads",
            tool.as_str(),
            expected(tool)
        ),
    )
}

/// Decodes `value` into `T`, naming the JSON path of the first mismatch.
fn typed<T: DeserializeOwned>(
    tool: Tool,
    name: &str,
    prefix: &str,
    value: serde_json::Value,
) -> Result<T> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let p = e.path().to_string();
        let path = if p == "." {
            if prefix.is_empty() {
                ".".to_string()
            } else {
                prefix.to_string()
            }
        } else {
            format!("{prefix}.{p}")
        };
        invalid_at(tool, name, &path, e.inner())
    })
}

/// Parses the JSON text of a `tool` report; `name` (the file) is used in error messages.
///
/// Errors: [`Error::Invalid`] naming the file, the JSON path (or line and column for a
/// syntax error) and the format expected, when the text is not such a report (an empty file
/// is not a report: a scan with no findings writes `[]` or an empty `results` list).
pub fn parse_report(tool: Tool, name: &str, text: &str, policy: &SeverityPolicy) -> Result<Parsed> {
    if text.trim().is_empty() {
        return Err(Error::invalid(
            format!("{name} is empty: not {}", expected(tool)),
            "re-run the scanner with JSON output; a scan with no findings still writes a JSON document (e.g. [] for gitleaks)",
        ));
    }
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        invalid_at(
            tool,
            name,
            &format!("line {} column {}", e.line(), e.column()),
            e,
        )
    })?;
    let mut parsed = match tool {
        Tool::PipAudit => parse_pip_audit(name, value, policy)?,
        Tool::Bandit => parse_bandit(typed(tool, name, "", value)?, policy),
        Tool::Gitleaks => parse_gitleaks(name, value, policy)?,
        Tool::OsvScanner => parse_osv(typed(tool, name, "", value)?, policy),
        Tool::Sarif => parse_sarif(name, value, policy)?,
    };
    policy.apply_overrides(&mut parsed.findings);
    Ok(parsed)
}

#[derive(Deserialize)]
struct PipAuditObject {
    dependencies: Vec<PipAuditDep>,
}

#[derive(Deserialize)]
struct PipAuditDep {
    name: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    vulns: Vec<PipAuditVuln>,
    #[serde(default)]
    skip_reason: Option<String>,
}

#[derive(Deserialize)]
struct PipAuditVuln {
    id: String,
    #[serde(default)]
    fix_versions: Vec<String>,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    description: Option<String>,
}

fn parse_pip_audit(
    name: &str,
    value: serde_json::Value,
    policy: &SeverityPolicy,
) -> Result<Parsed> {
    let tool = Tool::PipAudit;
    let deps: Vec<PipAuditDep> = match value {
        serde_json::Value::Array(_) => typed(tool, name, "", value)?,
        serde_json::Value::Object(_) => {
            typed::<PipAuditObject>(tool, name, "", value)?.dependencies
        }
        other => {
            return Err(invalid_at(
                tool,
                name,
                ".",
                format!("found {}, expected an object or a list", kind(&other)),
            ));
        }
    };
    let mut findings = Vec::new();
    for dep in deps.into_iter().filter(|d| d.skip_reason.is_none()) {
        for v in dep.vulns {
            let mut aliases = v.aliases;
            aliases.sort();
            aliases.dedup();
            findings.push(Finding {
                reference_url: Some(advisory_url(&v.id)),
                id: v.id,
                tool,
                severity: policy.default,
                severity_source: "policy:default".to_string(),
                package: Some(dep.name.clone()),
                version: dep.version.clone(),
                file: None,
                line: None,
                aliases,
                fix_versions: v.fix_versions,
                description: v.description.unwrap_or_default(),
            });
        }
    }
    Ok(Parsed {
        findings,
        generated_at: None,
    })
}

fn kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "an object",
    }
}

#[derive(Deserialize)]
struct BanditReport {
    #[serde(default)]
    generated_at: Option<String>,
    results: Vec<BanditResult>,
}

#[derive(Deserialize)]
struct BanditResult {
    #[serde(default)]
    code: String,
    filename: String,
    issue_severity: String,
    #[serde(default)]
    issue_confidence: Option<String>,
    #[serde(default)]
    issue_text: String,
    line_number: u64,
    #[serde(default)]
    line_range: Vec<u64>,
    #[serde(default)]
    more_info: Option<String>,
    test_id: String,
    #[serde(default)]
    test_name: Option<String>,
}

/// The flagged lines of a bandit `code` snippet, without bandit's `"<n> "` line prefixes,
/// trimmed and joined by `\n`: the part of a bandit finding that survives line shifts.
fn bandit_flagged_code(code: &str, lines: &[u64]) -> String {
    let mut all = Vec::new();
    let mut flagged = Vec::new();
    for raw in code.lines() {
        let digits = raw.len() - raw.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let (num, rest) = raw.split_at(digits);
        let text = rest.strip_prefix(' ').unwrap_or(rest).trim();
        all.push(text);
        if num.parse::<u64>().is_ok_and(|n| lines.contains(&n)) {
            flagged.push(text);
        }
    }
    if flagged.is_empty() { all } else { flagged }.join("\n")
}

/// The first 12 hex digits of the SHA-256 of `text`.
pub fn short_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest[..6].iter().map(|b| format!("{b:02x}")).collect()
}

fn clean_path(p: &str) -> String {
    p.strip_prefix("./").unwrap_or(p).replace('\\', "/")
}

/// Gives `#2`, `#3`, … suffixes to repeated ids within one report.
fn number_repeats(findings: &mut [Finding]) {
    let mut seen: HashMap<String, u32> = HashMap::new();
    for f in findings {
        let n = seen.entry(f.id.clone()).or_insert(0);
        *n += 1;
        if *n > 1 {
            f.id = format!("{}#{n}", f.id);
        }
    }
}

fn parse_bandit(report: BanditReport, policy: &SeverityPolicy) -> Parsed {
    let mut findings = Vec::new();
    for r in report.results {
        let file = clean_path(&r.filename);
        let lines = if r.line_range.is_empty() {
            vec![r.line_number]
        } else {
            r.line_range.clone()
        };
        let id = format!(
            "{}:{}:{}",
            r.test_id,
            file,
            short_hash(&bandit_flagged_code(&r.code, &lines))
        );
        let (severity, source) = match Severity::parse_loose(&r.issue_severity) {
            Some(s) => (s, format!("report:issue_severity {}", r.issue_severity)),
            None => (policy.default, "policy:default".to_string()),
        };
        let mut description = r.issue_text;
        if let Some(name) = r.test_name.filter(|n| !n.is_empty()) {
            description = format!("{description} ({} {name}", r.test_id);
            if let Some(c) = r.issue_confidence.filter(|c| !c.is_empty()) {
                description.push_str(&format!(", confidence {}", c.to_ascii_lowercase()));
            }
            description.push(')');
        }
        findings.push(Finding {
            id,
            tool: Tool::Bandit,
            severity,
            severity_source: source,
            package: None,
            version: None,
            file: Some(file),
            line: Some(r.line_number),
            aliases: Vec::new(),
            fix_versions: Vec::new(),
            description,
            reference_url: r.more_info.filter(|u| !u.is_empty()),
        });
    }
    number_repeats(&mut findings);
    Parsed {
        findings,
        generated_at: report.generated_at,
    }
}

#[derive(Deserialize)]
struct GitleaksObject {
    findings: Vec<GitleaksFinding>,
}

#[derive(Deserialize)]
struct GitleaksFinding {
    #[serde(rename = "RuleID")]
    rule_id: String,
    #[serde(rename = "Description", default)]
    description: String,
    #[serde(rename = "File", default)]
    file: String,
    #[serde(rename = "StartLine", default)]
    start_line: Option<u64>,
    #[serde(rename = "Fingerprint", default)]
    fingerprint: Option<String>,
}

fn parse_gitleaks(name: &str, value: serde_json::Value, policy: &SeverityPolicy) -> Result<Parsed> {
    let tool = Tool::Gitleaks;
    let list: Vec<GitleaksFinding> = match value {
        serde_json::Value::Array(_) => typed(tool, name, "", value)?,
        serde_json::Value::Object(_) => typed::<GitleaksObject>(tool, name, "", value)?.findings,
        other => {
            return Err(invalid_at(
                tool,
                name,
                ".",
                format!("found {}, expected a list or an object", kind(&other)),
            ));
        }
    };
    let findings = list
        .into_iter()
        .map(|g| {
            let file = clean_path(&g.file);
            let id = match g.fingerprint.filter(|f| !f.is_empty()) {
                Some(fp) => fp,
                None => format!("{}:{}:{}", g.rule_id, file, g.start_line.unwrap_or(0)),
            };
            let what = if g.description.is_empty() {
                "Secret detected".to_string()
            } else {
                g.description
            };
            Finding {
                id,
                tool,
                severity: policy.secret,
                severity_source: "policy:secret".to_string(),
                package: None,
                version: None,
                file: (!file.is_empty()).then_some(file),
                line: g.start_line,
                aliases: Vec::new(),
                fix_versions: Vec::new(),
                description: format!(
                    "{what} (gitleaks rule {}); rotate the credential and remove it from history",
                    g.rule_id
                ),
                reference_url: None,
            }
        })
        .collect();
    Ok(Parsed {
        findings,
        generated_at: None,
    })
}

/// The qualitative band of a CVSS-style score in 0.0–10.0 (CVSS v3.1 specification §5,
/// the bands GitHub also uses for SARIF `security-severity`): 9.0+ critical, 7.0+ high,
/// 4.0+ medium, above 0 low, 0 info. `None` outside 0–10 or for NaN.
pub fn severity_of_score(score: f64) -> Option<Severity> {
    if !(0.0..=10.0).contains(&score) {
        return None;
    }
    Some(if score >= 9.0 {
        Severity::Critical
    } else if score >= 7.0 {
        Severity::High
    } else if score >= 4.0 {
        Severity::Medium
    } else if score > 0.0 {
        Severity::Low
    } else {
        Severity::Info
    })
}

#[derive(Deserialize)]
struct OsvReport {
    results: Vec<OsvResult>,
}

#[derive(Deserialize)]
struct OsvResult {
    #[serde(default)]
    packages: Vec<OsvPackageResult>,
}

#[derive(Deserialize)]
struct OsvPackageResult {
    package: OsvPackage,
    #[serde(default)]
    vulnerabilities: Vec<OsvVuln>,
    #[serde(default)]
    groups: Vec<OsvGroup>,
}

#[derive(Deserialize, Clone)]
struct OsvPackage {
    name: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    ecosystem: Option<String>,
}

#[derive(Deserialize)]
struct OsvVuln {
    id: String,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    details: Option<String>,
    #[serde(default)]
    severity: Vec<OsvSeverity>,
    #[serde(default)]
    affected: Vec<OsvAffected>,
    #[serde(default)]
    database_specific: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct OsvSeverity {
    #[serde(rename = "type")]
    kind: String,
    score: String,
}

#[derive(Deserialize)]
struct OsvAffected {
    #[serde(default)]
    package: Option<OsvPackage>,
    #[serde(default)]
    ranges: Vec<OsvRange>,
}

#[derive(Deserialize)]
struct OsvRange {
    #[serde(default)]
    events: Vec<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Deserialize)]
struct OsvGroup {
    ids: Vec<String>,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    max_severity: Option<String>,
}

/// The severity an OSV record carries: the highest CVSS vector score, else
/// `database_specific.severity` (GitHub's `LOW|MODERATE|HIGH|CRITICAL`).
fn osv_record_severity(v: &OsvVuln) -> Option<(Severity, String)> {
    let best = v
        .severity
        .iter()
        .filter_map(|s| {
            let score = s.score.parse::<cvss::Cvss>().ok()?.score();
            Some((severity_of_score(score)?, s))
        })
        .max_by_key(|(sev, _)| *sev);
    if let Some((sev, s)) = best {
        return Some((sev, format!("report:{} {}", s.kind, s.score)));
    }
    let word = v.database_specific.as_ref()?.get("severity")?.as_str()?;
    Severity::parse_loose(word).map(|s| (s, format!("report:database_specific.severity {word}")))
}

fn parse_osv(report: OsvReport, policy: &SeverityPolicy) -> Parsed {
    let mut findings = Vec::new();
    for pr in report.results.into_iter().flat_map(|r| r.packages) {
        let groups: Vec<OsvGroup> = if pr.groups.is_empty() {
            pr.vulnerabilities
                .iter()
                .map(|v| OsvGroup {
                    ids: vec![v.id.clone()],
                    aliases: Vec::new(),
                    max_severity: None,
                })
                .collect()
        } else {
            pr.groups
        };
        let pkg_norm = normalize_package_name(&pr.package.name);
        for g in groups {
            let Some(id) = g.ids.first().cloned() else {
                continue;
            };
            let vulns: Vec<&OsvVuln> = pr
                .vulnerabilities
                .iter()
                .filter(|v| g.ids.iter().any(|i| i.eq_ignore_ascii_case(&v.id)))
                .collect();
            let mut aliases: Vec<String> = g
                .ids
                .iter()
                .chain(g.aliases.iter())
                .chain(vulns.iter().flat_map(|v| v.aliases.iter()))
                .filter(|a| !a.eq_ignore_ascii_case(&id))
                .cloned()
                .collect();
            aliases.sort();
            aliases.dedup();
            let from_group = g
                .max_severity
                .as_deref()
                .filter(|s| !s.trim().is_empty())
                .and_then(|s| {
                    let sev = severity_of_score(s.trim().parse::<f64>().ok()?)?;
                    Some((sev, format!("report:max_severity {s}")))
                });
            let (severity, severity_source) = from_group
                .or_else(|| vulns.iter().filter_map(|v| osv_record_severity(v)).max())
                .unwrap_or((policy.default, "policy:default".to_string()));
            let mut fix_versions: Vec<String> = vulns
                .iter()
                .flat_map(|v| v.affected.iter())
                .filter(|a| {
                    a.package.as_ref().is_none_or(|p| {
                        normalize_package_name(&p.name) == pkg_norm
                            && p.ecosystem == pr.package.ecosystem
                    })
                })
                .flat_map(|a| a.ranges.iter())
                .flat_map(|r| r.events.iter())
                .filter_map(|e| e.get("fixed")?.as_str().map(str::to_string))
                .collect();
            fix_versions.sort();
            fix_versions.dedup();
            let description = vulns
                .iter()
                .find_map(|v| v.summary.clone().filter(|s| !s.is_empty()))
                .or_else(|| {
                    vulns.iter().find_map(|v| {
                        v.details
                            .as_deref()
                            .and_then(|d| d.lines().find(|l| !l.trim().is_empty()))
                            .map(str::to_string)
                    })
                })
                .unwrap_or_default();
            findings.push(Finding {
                reference_url: Some(advisory_url(&id)),
                id,
                tool: Tool::OsvScanner,
                severity,
                severity_source,
                package: Some(pr.package.name.clone()),
                version: pr.package.version.clone(),
                file: None,
                line: None,
                aliases,
                fix_versions,
                description,
            });
        }
    }
    Parsed {
        findings,
        generated_at: None,
    }
}

#[derive(Deserialize)]
struct SarifLog {
    version: String,
    runs: Vec<SarifRun>,
}

#[derive(Deserialize)]
struct SarifRun {
    tool: SarifTool,
    #[serde(default)]
    results: Option<Vec<SarifResult>>,
    #[serde(default)]
    invocations: Vec<SarifInvocation>,
}

#[derive(Deserialize)]
struct SarifInvocation {
    #[serde(rename = "startTimeUtc", default)]
    start_time_utc: Option<String>,
}

#[derive(Deserialize)]
struct SarifTool {
    driver: SarifDriver,
}

#[derive(Deserialize)]
struct SarifDriver {
    name: String,
    #[serde(default)]
    rules: Vec<SarifRule>,
}

#[derive(Deserialize)]
struct SarifRule {
    id: String,
    #[serde(rename = "helpUri", default)]
    help_uri: Option<String>,
    #[serde(rename = "shortDescription", default)]
    short_description: Option<SarifMessage>,
    #[serde(rename = "defaultConfiguration", default)]
    default_configuration: Option<SarifConfiguration>,
    #[serde(default)]
    properties: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Deserialize)]
struct SarifConfiguration {
    #[serde(default)]
    level: Option<String>,
}

#[derive(Deserialize)]
struct SarifMessage {
    #[serde(default)]
    text: Option<String>,
}

#[derive(Deserialize)]
struct SarifResult {
    #[serde(rename = "ruleId", default)]
    rule_id: Option<String>,
    #[serde(rename = "ruleIndex", default)]
    rule_index: Option<usize>,
    #[serde(default)]
    rule: Option<SarifRuleRef>,
    #[serde(default)]
    level: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    message: Option<SarifMessage>,
    #[serde(default)]
    locations: Vec<SarifLocation>,
    #[serde(default)]
    fingerprints: std::collections::BTreeMap<String, String>,
    #[serde(rename = "partialFingerprints", default)]
    partial_fingerprints: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    suppressions: Vec<SarifSuppression>,
    #[serde(default)]
    properties: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Deserialize)]
struct SarifRuleRef {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    index: Option<usize>,
}

#[derive(Deserialize)]
struct SarifSuppression {
    #[serde(default)]
    status: Option<String>,
}

#[derive(Deserialize)]
struct SarifLocation {
    #[serde(rename = "physicalLocation", default)]
    physical_location: Option<SarifPhysical>,
}

#[derive(Deserialize)]
struct SarifPhysical {
    #[serde(rename = "artifactLocation", default)]
    artifact_location: Option<SarifArtifact>,
    #[serde(default)]
    region: Option<SarifRegion>,
}

#[derive(Deserialize)]
struct SarifArtifact {
    #[serde(default)]
    uri: Option<String>,
}

#[derive(Deserialize)]
struct SarifRegion {
    #[serde(rename = "startLine", default)]
    start_line: Option<u64>,
    #[serde(default)]
    snippet: Option<SarifMessage>,
}

/// `security-severity` (a CVSS-like score, string or number) in a properties bag.
fn security_severity(
    props: Option<&serde_json::Map<String, serde_json::Value>>,
) -> Option<(Severity, String)> {
    let v = props?.get("security-severity")?;
    let score = match v {
        serde_json::Value::String(s) => s.trim().parse::<f64>().ok()?,
        serde_json::Value::Number(n) => n.as_f64()?,
        _ => return None,
    };
    Some((
        severity_of_score(score)?,
        format!("report:security-severity {score}"),
    ))
}

/// SARIF `level` (§3.27.10) as a severity: error → high, warning → medium, note → low,
/// none → info.
fn level_severity(level: &str) -> Option<Severity> {
    match level {
        "error" => Some(Severity::High),
        "warning" => Some(Severity::Medium),
        "note" => Some(Severity::Low),
        "none" => Some(Severity::Info),
        _ => None,
    }
}

fn sarif_uri(uri: &str) -> String {
    let u = uri.strip_prefix("file://").unwrap_or(uri);
    clean_path(&u.replace("%20", " "))
}

fn parse_sarif(name: &str, value: serde_json::Value, policy: &SeverityPolicy) -> Result<Parsed> {
    let tool = Tool::Sarif;
    let log: SarifLog = typed(tool, name, "", value)?;
    if log.version != "2.1.0" {
        return Err(invalid_at(
            tool,
            name,
            ".version",
            format!("found {:?}, expected \"2.1.0\"", log.version),
        ));
    }
    let mut findings = Vec::new();
    let mut generated_at: Option<String> = None;
    for run in log.runs {
        for inv in &run.invocations {
            if let Some(t) = &inv.start_time_utc
                && generated_at.as_ref().is_none_or(|g| t > g)
            {
                generated_at = Some(t.clone());
            }
        }
        let driver = &run.tool.driver;
        let mut run_findings = Vec::new();
        for r in run.results.unwrap_or_default() {
            if matches!(r.kind.as_deref(), Some("pass" | "notApplicable")) {
                continue;
            }
            if r.suppressions
                .iter()
                .any(|s| s.status.as_deref().is_none_or(|st| st == "accepted"))
            {
                continue;
            }
            let index = r.rule_index.or(r.rule.as_ref().and_then(|x| x.index));
            let rule_id = r
                .rule_id
                .clone()
                .or_else(|| r.rule.as_ref().and_then(|x| x.id.clone()))
                .or_else(|| {
                    index
                        .and_then(|i| driver.rules.get(i))
                        .map(|x| x.id.clone())
                })
                .unwrap_or_else(|| "unknown-rule".to_string());
            let rule = index
                .and_then(|i| driver.rules.get(i))
                .filter(|x| x.id == rule_id)
                .or_else(|| driver.rules.iter().find(|x| x.id == rule_id));
            let phys = r
                .locations
                .iter()
                .find_map(|l| l.physical_location.as_ref());
            let file = phys
                .and_then(|p| p.artifact_location.as_ref())
                .and_then(|a| a.uri.as_deref())
                .map(sarif_uri);
            let region = phys.and_then(|p| p.region.as_ref());
            let line = region.and_then(|g| g.start_line);
            let snippet = region
                .and_then(|g| g.snippet.as_ref())
                .and_then(|s| s.text.as_deref())
                .map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "))
                .filter(|t| !t.is_empty());
            // The location fingerprint: the producer's own (stable across line shifts by
            // design), else the flagged code, else (last resort) the line.
            let fp_source = if let Some((k, v)) = r.fingerprints.iter().next() {
                format!("{k}={v}")
            } else if !r.partial_fingerprints.is_empty() {
                r.partial_fingerprints
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(";")
            } else if let Some(s) = &snippet {
                s.clone()
            } else {
                format!("line {}", line.unwrap_or(0))
            };
            let id = format!(
                "{rule_id}:{}:{}",
                file.as_deref().unwrap_or("-"),
                short_hash(&fp_source)
            );
            let level = r.level.clone().or_else(|| {
                rule.and_then(|x| x.default_configuration.as_ref())
                    .and_then(|c| c.level.clone())
            });
            let (severity, severity_source) = security_severity(r.properties.as_ref())
                .or_else(|| security_severity(rule.and_then(|x| x.properties.as_ref())))
                .or_else(|| {
                    let l = level.as_deref()?;
                    Some((level_severity(l)?, format!("report:level {l}")))
                })
                .unwrap_or((policy.default, "policy:default".to_string()));
            let text = r
                .message
                .as_ref()
                .and_then(|m| m.text.clone())
                .or_else(|| {
                    rule.and_then(|x| x.short_description.as_ref())
                        .and_then(|m| m.text.clone())
                })
                .unwrap_or_default();
            run_findings.push(Finding {
                id,
                tool,
                severity,
                severity_source,
                package: None,
                version: None,
                file,
                line,
                aliases: Vec::new(),
                fix_versions: Vec::new(),
                description: format!("{text} ({} rule {rule_id})", driver.name),
                reference_url: rule
                    .and_then(|x| x.help_uri.clone())
                    .filter(|u| !u.is_empty()),
            });
        }
        number_repeats(&mut run_findings);
        findings.extend(run_findings);
    }
    Ok(Parsed {
        findings,
        generated_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> SeverityPolicy {
        SeverityPolicy::default()
    }

    #[test]
    fn pip_audit_skipped_dependencies_are_not_findings() {
        let text = r#"{"dependencies": [
            {"name": "mypylogger", "skip_reason": "Dependency not found on PyPI and could not be audited: mypylogger (0.2.0)"},
            {"name": "requests", "version": "2.31.0", "vulns": []},
            {"name": "pip", "version": "25.2", "vulns": [{"id": "GHSA-4xh5-x5gv-qwph", "fix_versions": ["25.3"], "aliases": ["CVE-2025-8869"], "description": "tar links"}]}
        ], "fixes": []}"#;
        let p = parse_report(Tool::PipAudit, "pip-audit.json", text, &policy()).unwrap();
        assert_eq!(p.findings.len(), 1);
        let f = &p.findings[0];
        assert_eq!(f.id, "GHSA-4xh5-x5gv-qwph");
        assert_eq!(f.package.as_deref(), Some("pip"));
        assert_eq!(f.severity, Severity::Medium);
        assert_eq!(f.severity_source, "policy:default");
        assert_eq!(f.fix_versions, vec!["25.3"]);
        assert_eq!(
            f.reference_url.as_deref(),
            Some("https://github.com/advisories/GHSA-4xh5-x5gv-qwph")
        );
    }

    #[test]
    fn pip_audit_default_severity_follows_the_policy() {
        let text = r#"[{"name": "py", "version": "1.11.0", "vulns": [{"id": "PYSEC-2022-42969", "fix_versions": [], "aliases": [], "description": "ReDoS"}]}]"#;
        let strict = SeverityPolicy {
            default: Severity::High,
            ..policy()
        };
        let p = parse_report(Tool::PipAudit, "pip-audit.json", text, &strict).unwrap();
        assert_eq!(p.findings[0].severity, Severity::High);
    }

    #[test]
    fn overrides_match_ids_and_aliases_and_name_their_rule() {
        let text = r#"{"dependencies": [{"name": "pip", "version": "25.2", "vulns": [{"id": "GHSA-4xh5-x5gv-qwph", "fix_versions": ["25.3"], "aliases": ["CVE-2025-8869"], "description": "d"}]},
            {"name": "py", "version": "1.11.0", "vulns": [{"id": "PYSEC-2022-42969", "fix_versions": [], "aliases": [], "description": "d"}]}]}"#;
        let overrides = parse_overrides(
            "severity-overrides.toml",
            "[overrides]\n\"cve-2025-8869\" = { severity = \"critical\", reason = \"we unpack untrusted sdists\" }\n\"PYSEC-2022-42969\" = \"low\"\n",
        )
        .unwrap();
        let pol = SeverityPolicy {
            overrides,
            ..policy()
        };
        let p = parse_report(Tool::PipAudit, "pip-audit.json", text, &pol).unwrap();
        assert_eq!(p.findings[0].severity, Severity::Critical);
        assert_eq!(
            p.findings[0].severity_source,
            "override:cve-2025-8869 (severity-overrides.toml): we unpack untrusted sdists"
        );
        assert_eq!(p.findings[1].severity, Severity::Low);
        assert_eq!(
            p.findings[1].severity_source,
            "override:PYSEC-2022-42969 (severity-overrides.toml)"
        );
        let err = parse_overrides("o.toml", "[overrides]\nX = \"severe\"\n").unwrap_err();
        assert!(err.to_string().contains("o.toml"), "{err}");
        assert!(parse_overrides("o.toml", "X = \"high\"\n").is_err());
    }

    #[test]
    fn empty_gitleaks_reports_yield_no_finding() {
        for text in ["[]", " [ ]\n", r#"{"findings": []}"#] {
            let p = parse_report(Tool::Gitleaks, "gitleaks.json", text, &policy()).unwrap();
            assert!(p.findings.is_empty(), "{text}");
        }
        // An object without `findings` is not a gitleaks report (it would hide leaks).
        let err = parse_report(Tool::Gitleaks, "gitleaks.json", "{}", &policy()).unwrap_err();
        assert!(err.to_string().contains("findings"), "{err}");
    }

    #[test]
    fn an_empty_file_is_not_a_report() {
        let err = parse_report(Tool::Gitleaks, "gitleaks.json", "  \n", &policy()).unwrap_err();
        assert!(err.to_string().contains("gitleaks.json is empty"), "{err}");
    }

    #[test]
    fn malformed_reports_name_the_file_the_path_and_the_format() {
        let err =
            parse_report(Tool::Bandit, "bandit.json", r#"{"results": 3}"#, &policy()).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("bandit.json is not a bandit JSON report: at .results:"),
            "{msg}"
        );
        let text = r#"{"results": [{"filename": "a.py", "issue_severity": "LOW", "line_number": "x", "test_id": "B101"}]}"#;
        let msg = parse_report(Tool::Bandit, "b.json", text, &policy())
            .unwrap_err()
            .to_string();
        assert!(msg.contains("at .results[0].line_number"), "{msg}");
        // A bandit report picked as pip-audit by its name.
        let msg = parse_report(
            Tool::PipAudit,
            "pip-audit.json",
            r#"{"errors": [], "results": []}"#,
            &policy(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            msg.contains("not a pip-audit JSON report") && msg.contains("dependencies"),
            "{msg}"
        );
        let msg = parse_report(Tool::Sarif, "x.sarif", "{\"version\": ", &policy())
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("x.sarif") && msg.contains("line 1 column"),
            "{msg}"
        );
        let Error::Invalid { hint, .. } =
            parse_report(Tool::OsvScanner, "osv.json", "[]", &policy()).unwrap_err()
        else {
            panic!()
        };
        assert!(hint.unwrap().contains("osv-scanner scan --format json"));
    }

    #[test]
    fn gitleaks_findings_never_carry_the_secret() {
        let text = r#"[{"RuleID": "generic-api-key", "Description": "Detected a Generic API Key", "StartLine": 3, "EndLine": 3,
            "StartColumn": 5, "EndColumn": 40, "Match": "api_key = \"s3cr3tvalue0123456789\"", "Secret": "s3cr3tvalue0123456789",
            "File": "src/app/settings.py", "SymlinkFile": "", "Commit": "", "Entropy": 4.1, "Author": "", "Email": "", "Date": "",
            "Message": "", "Tags": [], "Fingerprint": "src/app/settings.py:generic-api-key:3"}]"#;
        let p = parse_report(Tool::Gitleaks, "gitleaks.json", text, &policy()).unwrap();
        assert_eq!(p.findings.len(), 1);
        let f = &p.findings[0];
        assert_eq!(f.id, "src/app/settings.py:generic-api-key:3");
        assert_eq!(f.severity, Severity::High);
        assert_eq!(f.severity_source, "policy:secret");
        let json = serde_json::to_string(f).unwrap();
        assert!(!json.contains("s3cr3tvalue"), "{json}");
    }

    fn bandit_result(line: u64, code: &str) -> String {
        serde_json::json!({
            "errors": [], "generated_at": "2025-10-31T16:37:53Z", "metrics": {},
            "results": [{
                "code": code, "col_offset": 4, "end_col_offset": 40, "filename": "./src/app/run.py",
                "issue_confidence": "HIGH", "issue_cwe": {"id": 78, "link": "https://cwe.mitre.org/data/definitions/78.html"},
                "issue_severity": "HIGH", "issue_text": "subprocess call with shell=True identified, security issue.",
                "line_number": line, "line_range": [line],
                "more_info": "https://bandit.readthedocs.io/en/1.8.6/plugins/b602_subprocess_popen_with_shell_equals_true.html",
                "test_id": "B602", "test_name": "subprocess_popen_with_shell_equals_true"
            }]
        })
        .to_string()
    }

    #[test]
    fn bandit_ids_survive_line_shifts_but_not_code_changes() {
        let a = bandit_result(
            12,
            "11 def run(cmd):\n12     subprocess.call(cmd, shell=True)\n13 \n",
        );
        let b = bandit_result(
            20,
            "19 def run(cmd):  # moved\n20     subprocess.call(cmd, shell=True)\n21     return 0\n",
        );
        let c = bandit_result(
            20,
            "19 def run(cmd):\n20     subprocess.call(cmd + '', shell=True)\n21 \n",
        );
        let pa = parse_report(Tool::Bandit, "bandit.json", &a, &policy()).unwrap();
        let pb = parse_report(Tool::Bandit, "bandit.json", &b, &policy()).unwrap();
        let pc = parse_report(Tool::Bandit, "bandit.json", &c, &policy()).unwrap();
        let fa = &pa.findings[0];
        assert!(fa.id.starts_with("B602:src/app/run.py:"), "{}", fa.id);
        assert_eq!(fa.id, pb.findings[0].id);
        assert_ne!(fa.id, pc.findings[0].id);
        assert_eq!(fa.severity, Severity::High);
        assert_eq!(fa.severity_source, "report:issue_severity HIGH");
        assert_eq!(fa.line, Some(12));
        assert_eq!(pa.generated_at.as_deref(), Some("2025-10-31T16:37:53Z"));
    }

    #[test]
    fn cvss_bands() {
        assert_eq!(severity_of_score(9.8), Some(Severity::Critical));
        assert_eq!(severity_of_score(7.0), Some(Severity::High));
        assert_eq!(severity_of_score(6.9), Some(Severity::Medium));
        assert_eq!(severity_of_score(0.1), Some(Severity::Low));
        assert_eq!(severity_of_score(0.0), Some(Severity::Info));
        assert_eq!(severity_of_score(11.0), None);
        assert_eq!(severity_of_score(f64::NAN), None);
    }

    fn osv(
        groups: serde_json::Value,
        severity: serde_json::Value,
        dbs: serde_json::Value,
    ) -> String {
        serde_json::json!({"results": [{"source": {"path": "/src/requirements.txt", "type": "lockfile"},
            "packages": [{"package": {"name": "Jinja2", "version": "3.1.2", "ecosystem": "PyPI"},
              "vulnerabilities": [{"id": "GHSA-h5c8-rqwp-cp95", "aliases": ["CVE-2024-22195"],
                "summary": "Jinja vulnerable to HTML attribute injection", "severity": severity,
                "database_specific": dbs,
                "affected": [{"package": {"name": "jinja2", "ecosystem": "PyPI"},
                   "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.1.3"}]}]},
                   {"package": {"name": "jinja2", "ecosystem": "npm"},
                   "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "9.9"}]}]}]},
                {"id": "PYSEC-2024-1", "aliases": ["CVE-2024-22195"], "summary": "",
                 "affected": [{"package": {"name": "jinja2", "ecosystem": "PyPI"},
                   "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.1.3"}]}]}]}],
              "groups": groups}]}]})
        .to_string()
    }

    #[test]
    fn osv_groups_become_one_finding_with_the_reported_severity() {
        let text = osv(
            serde_json::json!([{"ids": ["GHSA-h5c8-rqwp-cp95", "PYSEC-2024-1"], "aliases": ["CVE-2024-22195"], "max_severity": "5.4"}]),
            serde_json::json!([{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]),
            serde_json::json!({"severity": "MODERATE"}),
        );
        let p = parse_report(Tool::OsvScanner, "osv.json", &text, &policy()).unwrap();
        assert_eq!(p.findings.len(), 1);
        let f = &p.findings[0];
        assert_eq!(f.id, "GHSA-h5c8-rqwp-cp95");
        assert_eq!(f.aliases, vec!["CVE-2024-22195", "PYSEC-2024-1"]);
        assert_eq!(
            (f.severity, f.severity_source.as_str()),
            (Severity::Medium, "report:max_severity 5.4")
        );
        assert_eq!(f.fix_versions, vec!["3.1.3"]);
        assert_eq!(f.package.as_deref(), Some("Jinja2"));
        assert_eq!(
            f.description,
            "Jinja vulnerable to HTML attribute injection"
        );
    }

    #[test]
    fn osv_without_max_severity_scores_the_cvss_vector_then_the_database_word() {
        let vec98 = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H";
        let text = osv(
            serde_json::json!([]),
            serde_json::json!([{"type": "CVSS_V3", "score": vec98}]),
            serde_json::json!({"severity": "LOW"}),
        );
        let p = parse_report(Tool::OsvScanner, "osv.json", &text, &policy()).unwrap();
        // No groups: one finding per record.
        assert_eq!(p.findings.len(), 2);
        assert_eq!(p.findings[0].severity, Severity::Critical);
        assert_eq!(
            p.findings[0].severity_source,
            format!("report:CVSS_V3 {vec98}")
        );
        assert_eq!(p.findings[1].severity_source, "policy:default");

        let text = osv(
            serde_json::json!([{"ids": ["GHSA-h5c8-rqwp-cp95"], "max_severity": ""}]),
            serde_json::json!([]),
            serde_json::json!({"severity": "HIGH"}),
        );
        let p = parse_report(Tool::OsvScanner, "osv.json", &text, &policy()).unwrap();
        assert_eq!(p.findings[0].severity, Severity::High);
        assert_eq!(
            p.findings[0].severity_source,
            "report:database_specific.severity HIGH"
        );
        let empty = parse_report(
            Tool::OsvScanner,
            "osv.json",
            r#"{"results": []}"#,
            &policy(),
        )
        .unwrap();
        assert!(empty.findings.is_empty());
    }

    fn sarif(results: serde_json::Value) -> String {
        serde_json::json!({"$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0",
          "runs": [{"tool": {"driver": {"name": "CodeQL", "rules": [
              {"id": "py/sql-injection", "helpUri": "https://codeql.github.com/codeql-query-help/python/py-sql-injection/",
               "shortDescription": {"text": "SQL query built from user-controlled sources"},
               "defaultConfiguration": {"level": "error"}, "properties": {"security-severity": "8.8"}},
              {"id": "py/unused-import", "defaultConfiguration": {"level": "note"}}]}},
            "invocations": [{"executionSuccessful": true, "startTimeUtc": "2025-10-31T10:00:00Z"}],
            "results": results}]})
        .to_string()
    }

    #[test]
    fn sarif_severity_fingerprint_and_suppression() {
        let r = |line: u64, hash: &str| {
            serde_json::json!({"ruleId": "py/sql-injection", "ruleIndex": 0, "message": {"text": "This query depends on a user-provided value."},
              "locations": [{"physicalLocation": {"artifactLocation": {"uri": "src/app/db.py", "uriBaseId": "%SRCROOT%"}, "region": {"startLine": line}}}],
              "partialFingerprints": {"primaryLocationLineHash": hash}})
        };
        let a = sarif(serde_json::json!([
            r(10, "39fa2ee980eb94b0:1"),
            {"ruleId": "py/unused-import", "ruleIndex": 1, "message": {"text": "Import of 'os' is not used."},
             "locations": [{"physicalLocation": {"artifactLocation": {"uri": "src/app/db.py"}, "region": {"startLine": 1, "snippet": {"text": "import os"}}}}]},
            {"ruleId": "py/unused-import", "level": "warning", "kind": "pass", "message": {"text": "ok"}},
            {"ruleId": "py/unused-import", "message": {"text": "suppressed"}, "suppressions": [{"kind": "inSource"}]},
        ]));
        let b = sarif(serde_json::json!([r(42, "39fa2ee980eb94b0:1")]));
        let pa = parse_report(Tool::Sarif, "codeql.sarif", &a, &policy()).unwrap();
        let pb = parse_report(Tool::Sarif, "codeql.sarif", &b, &policy()).unwrap();
        assert_eq!(pa.findings.len(), 2, "{:?}", pa.findings);
        let f = &pa.findings[0];
        assert!(
            f.id.starts_with("py/sql-injection:src/app/db.py:"),
            "{}",
            f.id
        );
        assert_eq!(f.id, pb.findings[0].id, "the id survives the line shift");
        assert_eq!(pb.findings[0].line, Some(42));
        assert_eq!(
            (f.severity, f.severity_source.as_str()),
            (Severity::High, "report:security-severity 8.8")
        );
        assert!(
            f.description.contains("CodeQL rule py/sql-injection"),
            "{}",
            f.description
        );
        assert_eq!(
            f.reference_url.as_deref(),
            Some("https://codeql.github.com/codeql-query-help/python/py-sql-injection/")
        );
        let g = &pa.findings[1];
        assert_eq!(
            (g.severity, g.severity_source.as_str()),
            (Severity::Low, "report:level note")
        );
        assert_eq!(pa.generated_at.as_deref(), Some("2025-10-31T10:00:00Z"));

        let c = sarif(serde_json::json!([r(10, "0000000000000000:1")]));
        let pc = parse_report(Tool::Sarif, "codeql.sarif", &c, &policy()).unwrap();
        assert_ne!(
            pc.findings[0].id, f.id,
            "another fingerprint is another finding"
        );

        let wrong = a.replace("\"2.1.0\"", "\"2.0.0\"");
        let msg = parse_report(Tool::Sarif, "codeql.sarif", &wrong, &policy())
            .unwrap_err()
            .to_string();
        assert!(msg.contains("at .version"), "{msg}");
    }

    #[test]
    fn sarif_without_level_uses_the_policy() {
        let text = serde_json::json!({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}},
            "results": [{"ruleId": "R1", "message": {"text": "m"}}]}, {"tool": {"driver": {"name": "y"}}}]})
        .to_string();
        let p = parse_report(Tool::Sarif, "x.sarif", &text, &policy()).unwrap();
        assert_eq!(p.findings.len(), 1);
        assert_eq!(p.findings[0].severity_source, "policy:default");
        assert_eq!(p.findings[0].id, format!("R1:-:{}", short_hash("line 0")));
    }

    #[test]
    fn globs_pick_reports_by_name() {
        let g = ReportGlobs::default();
        assert_eq!(g.classify("pip-audit.json"), Some(Tool::PipAudit));
        assert_eq!(
            g.classify("pip-audit-2025-10-31T12-00-00.json"),
            Some(Tool::PipAudit)
        );
        assert_eq!(g.classify("bandit.sarif"), Some(Tool::Sarif));
        assert_eq!(g.classify("osv.sarif.json"), Some(Tool::Sarif));
        assert_eq!(g.classify("osv-scanner.json"), Some(Tool::OsvScanner));
        assert_eq!(g.classify("gitleaks.json"), Some(Tool::Gitleaks));
        assert_eq!(g.classify(".gitkeep"), None);
        assert_eq!(g.classify("summary.md"), None);
        assert_eq!(g.classify("dependency-tree.json"), None);
        let c = ReportGlobs::new(&[(Tool::PipAudit, vec!["deps-*.json".into()])]).unwrap();
        assert_eq!(c.classify("deps-audit.json"), Some(Tool::PipAudit));
        assert_eq!(c.classify("pip-audit.json"), None);
        assert!(ReportGlobs::new(&[(Tool::Bandit, vec!["a[".into()])]).is_err());
    }
}
