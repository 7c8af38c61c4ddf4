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

// One module per format, each with `parse(name, value, policy)`.
mod bandit;
mod gitleaks;
mod osv;
mod pip_audit;
mod sarif;

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
        Tool::PipAudit => pip_audit::parse(name, value, policy)?,
        Tool::Bandit => bandit::parse(name, value, policy)?,
        Tool::Gitleaks => gitleaks::parse(name, value, policy)?,
        Tool::OsvScanner => osv::parse(name, value, policy)?,
        Tool::Sarif => sarif::parse(name, value, policy)?,
    };
    policy.apply_overrides(&mut parsed.findings);
    Ok(parsed)
}

// ---------------------------------------------------------------------------------------
// Helpers the format modules share.

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
