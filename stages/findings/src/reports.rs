//! Parsers for the scanners' JSON reports, turning each into [`Finding`]s.
//!
//! Formats followed (fields not listed are ignored):
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

use std::collections::HashMap;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::model::{Finding, Severity, Tool, advisory_url};

/// The policy for severities a report does not give.
///
/// Documented defaults: an advisory without severity (every pip-audit advisory, a bandit
/// `UNDEFINED`) gets `default` (medium unless configured), marked
/// `severity_source = "policy:default"`; a leaked secret (gitleaks) is `secret` (high),
/// marked `"policy:secret"`, because a committed credential must be rotated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeverityPolicy {
    /// Severity of findings whose report carries none.
    pub default: Severity,
    /// Severity of every gitleaks finding.
    pub secret: Severity,
}

impl Default for SeverityPolicy {
    fn default() -> Self {
        SeverityPolicy {
            default: Severity::Medium,
            secret: Severity::High,
        }
    }
}

/// The report file names detect looks for in a scan folder, with their tool.
pub const REPORT_FILES: [(&str, Tool); 3] = [
    ("pip-audit.json", Tool::PipAudit),
    ("bandit.json", Tool::Bandit),
    ("gitleaks.json", Tool::Gitleaks),
];

/// What one report file yielded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    /// The findings, in report order.
    pub findings: Vec<Finding>,
    /// When the scan ran, if the report says (bandit's `generated_at`).
    pub generated_at: Option<String>,
}

/// Parses the JSON text of a `tool` report; `name` (the file) is used in error messages.
///
/// Errors: [`Error::Invalid`] naming the file, the line and column and the tool's format
/// when the text is not such a report (an empty file is not a report: a scan with no
/// findings writes `[]` or an empty `results` list).
pub fn parse_report(tool: Tool, name: &str, text: &str, policy: &SeverityPolicy) -> Result<Parsed> {
    if text.trim().is_empty() {
        return Err(Error::invalid(
            format!("{name} is empty: not a {} JSON report", tool.as_str()),
            "re-run the scanner with JSON output; a scan with no findings still writes a JSON document (e.g. [] for gitleaks)",
        ));
    }
    let bad = |e: serde_json::Error| {
        Error::invalid(
            format!("{name} is not a valid {} JSON report: {e}", tool.as_str()),
            format!(
                "produce it with {}",
                match tool {
                    Tool::PipAudit => "`pip-audit -f json -o pip-audit.json`",
                    Tool::Bandit => "`bandit -r SRC -f json -o bandit.json`",
                    Tool::Gitleaks =>
                        "`gitleaks detect --report-format json --report-path gitleaks.json`",
                }
            ),
        )
    };
    match tool {
        Tool::PipAudit => parse_pip_audit(serde_json::from_str(text).map_err(bad)?, policy),
        Tool::Bandit => parse_bandit(serde_json::from_str(text).map_err(bad)?, policy),
        Tool::Gitleaks => parse_gitleaks(serde_json::from_str(text).map_err(bad)?, policy),
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum PipAuditReport {
    Object { dependencies: Vec<PipAuditDep> },
    List(Vec<PipAuditDep>),
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

fn parse_pip_audit(report: PipAuditReport, policy: &SeverityPolicy) -> Result<Parsed> {
    let deps = match report {
        PipAuditReport::Object { dependencies } => dependencies,
        PipAuditReport::List(deps) => deps,
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
                tool: Tool::PipAudit,
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

fn short_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest[..6].iter().map(|b| format!("{b:02x}")).collect()
}

fn clean_path(p: &str) -> String {
    p.strip_prefix("./").unwrap_or(p).replace('\\', "/")
}

fn parse_bandit(report: BanditReport, policy: &SeverityPolicy) -> Result<Parsed> {
    let mut seen: HashMap<String, u32> = HashMap::new();
    let mut findings = Vec::new();
    for r in report.results {
        let file = clean_path(&r.filename);
        let lines = if r.line_range.is_empty() {
            vec![r.line_number]
        } else {
            r.line_range.clone()
        };
        let base = format!(
            "{}:{}:{}",
            r.test_id,
            file,
            short_hash(&bandit_flagged_code(&r.code, &lines))
        );
        let n = seen.entry(base.clone()).or_insert(0);
        *n += 1;
        let id = if *n == 1 { base } else { format!("{base}#{n}") };
        let (severity, source) = match Severity::parse_loose(&r.issue_severity) {
            Some(s) => (s, "report".to_string()),
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
    Ok(Parsed {
        findings,
        generated_at: report.generated_at,
    })
}

#[derive(Deserialize)]
#[serde(untagged)]
enum GitleaksReport {
    List(Vec<GitleaksFinding>),
    Object {
        #[serde(default)]
        findings: Vec<GitleaksFinding>,
    },
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

fn parse_gitleaks(report: GitleaksReport, policy: &SeverityPolicy) -> Result<Parsed> {
    let list = match report {
        GitleaksReport::List(l) => l,
        GitleaksReport::Object { findings } => findings,
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
                tool: Tool::Gitleaks,
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
    fn empty_gitleaks_reports_yield_no_finding() {
        for text in ["[]", " [ ]\n", r#"{"findings": []}"#, "{}"] {
            let p = parse_report(Tool::Gitleaks, "gitleaks.json", text, &policy()).unwrap();
            assert!(p.findings.is_empty(), "{text}");
        }
    }

    #[test]
    fn an_empty_file_is_not_a_report() {
        let err = parse_report(Tool::Gitleaks, "gitleaks.json", "  \n", &policy()).unwrap_err();
        assert!(err.to_string().contains("gitleaks.json is empty"), "{err}");
    }

    #[test]
    fn malformed_reports_name_the_file() {
        let err =
            parse_report(Tool::Bandit, "bandit.json", r#"{"results": 3}"#, &policy()).unwrap_err();
        assert!(
            err.to_string()
                .contains("bandit.json is not a valid bandit JSON report"),
            "{err}"
        );
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
        assert_eq!(fa.severity_source, "report");
        assert_eq!(fa.line, Some(12));
        assert_eq!(pa.generated_at.as_deref(), Some("2025-10-31T16:37:53Z"));
    }
}
