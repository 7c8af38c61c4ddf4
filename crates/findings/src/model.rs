//! The findings model shared by detect, decide and status: [`Finding`], [`Severity`],
//! [`Summary`], [`Changes`] and the detect stage's output, [`DetectReport`].
//!
//! Every type here is part of a stage's documented JSON output, so the serde names are the
//! schema: lowercase severities, `snake_case` fields, absent optional values as `null`.

use serde::{Deserialize, Serialize};

/// Severity of a finding, ordered `info < low < medium < high < critical`.
///
/// JSON: the lowercase name (`"critical"`, `"high"`, `"medium"`, `"low"`, `"info"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Informational; no action needed.
    Info,
    /// Low impact or hard to exploit.
    Low,
    /// Medium: the documented default for advisories that carry no severity.
    Medium,
    /// High: a new one triggers an automatic release.
    High,
    /// Critical: a new one triggers an automatic release and grades the project F.
    Critical,
}

impl Severity {
    /// All severities, most severe first (the order of tables and summaries).
    pub const ALL: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ];

    /// The lowercase name used in JSON and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
            Severity::Info => "info",
        }
    }

    /// Parses a tool's severity word case-insensitively (`"HIGH"`, `"Medium"`, `"moderate"`,
    /// `"informational"`); `None` for words that carry no severity (`"UNDEFINED"`, `""`).
    pub fn parse_loose(word: &str) -> Option<Severity> {
        match word.trim().to_ascii_lowercase().as_str() {
            "critical" => Some(Severity::Critical),
            "high" => Some(Severity::High),
            "medium" | "moderate" => Some(Severity::Medium),
            "low" => Some(Severity::Low),
            "info" | "informational" | "note" | "none" => Some(Severity::Info),
            _ => None,
        }
    }

    /// True for high and critical, the severities that trigger an automatic release.
    pub fn is_high_or_critical(self) -> bool {
        self >= Severity::High
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The report format a finding came from. JSON: `"pip-audit"`, `"bandit"`, `"gitleaks"`,
/// `"osv-scanner"`, `"sarif"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Tool {
    /// pip-audit (`pip-audit -f json`): vulnerable dependencies.
    #[serde(rename = "pip-audit")]
    PipAudit,
    /// bandit (`bandit -f json`): insecure code patterns.
    #[serde(rename = "bandit")]
    Bandit,
    /// gitleaks (`gitleaks detect --report-format json`): committed secrets.
    #[serde(rename = "gitleaks")]
    Gitleaks,
    /// OSV-Scanner (`osv-scanner scan --format json`): vulnerable dependencies.
    #[serde(rename = "osv-scanner")]
    OsvScanner,
    /// Any SARIF 2.1.0 producer (CodeQL, `bandit -f sarif`, Semgrep, …); the producer's
    /// name is in the finding's description.
    #[serde(rename = "sarif")]
    Sarif,
}

impl Tool {
    /// The tool's name as used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Tool::PipAudit => "pip-audit",
            Tool::Bandit => "bandit",
            Tool::Gitleaks => "gitleaks",
            Tool::OsvScanner => "osv-scanner",
            Tool::Sarif => "sarif",
        }
    }

    /// True for the dependency scanners (pip-audit, OSV-Scanner), whose findings are
    /// advisories against a package and match across the two tools.
    pub fn is_dependency_scanner(self) -> bool {
        matches!(self, Tool::PipAudit | Tool::OsvScanner)
    }
}

/// One security finding of one scan.
///
/// `id` is stable across scans of the same problem:
/// - pip-audit: the advisory id (`GHSA-…`, `PYSEC-…`, `CVE-…`), with the other ids of the
///   same advisory in `aliases`;
/// - bandit: `<test_id>:<file>:<fingerprint>`, where the fingerprint is the first 12 hex
///   digits of the SHA-256 of the flagged code with bandit's line-number prefixes removed,
///   so the id survives lines moving up or down;
/// - gitleaks: the report's `Fingerprint` (`[commit:]file:rule:line`), else
///   `<RuleID>:<File>:<StartLine>`. The secret itself is never copied into a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable identifier (see above).
    pub id: String,
    /// The scanner that reported it.
    pub tool: Tool,
    /// Severity after policy.
    pub severity: Severity,
    /// The rule that set `severity` (see [`crate::reports::SeverityPolicy`]):
    /// - `"report:<field> <value>"`: the report carried it, e.g. `"report:issue_severity
    ///   HIGH"` (bandit), `"report:security-severity 8.8"` or `"report:level error"` (SARIF),
    ///   `"report:max_severity 7.5"`, `"report:CVSS_V3 CVSS:3.1/…"` or
    ///   `"report:database_specific.severity MODERATE"` (OSV);
    /// - `"policy:default"`: the report carries none; the configured default applied;
    /// - `"policy:secret"`: a leaked secret (gitleaks); the configured secret severity;
    /// - `"override:<id> (<file>)[: reason]"`: the overrides file mapped this id or alias.
    pub severity_source: String,
    /// Affected distribution (pip-audit), as named in the report.
    #[serde(default)]
    pub package: Option<String>,
    /// Installed version of `package` (pip-audit).
    #[serde(default)]
    pub version: Option<String>,
    /// Affected file, project-relative (bandit, gitleaks).
    #[serde(default)]
    pub file: Option<String>,
    /// 1-based line in `file` (bandit, gitleaks).
    #[serde(default)]
    pub line: Option<u64>,
    /// Other identifiers of the same problem (CVE, GHSA, PYSEC ids).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Versions of `package` that fix it (pip-audit `fix_versions`); empty when none is known.
    #[serde(default)]
    pub fix_versions: Vec<String>,
    /// Human description from the tool.
    #[serde(default)]
    pub description: String,
    /// Where to read more: the advisory page, or the tool's rule documentation.
    #[serde(default)]
    pub reference_url: Option<String>,
}

impl Finding {
    /// The identifiers this finding is known by: its `id` and its `aliases`.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.id.as_str()).chain(self.aliases.iter().map(String::as_str))
    }

    /// True when `other` reports the same problem: the same tool (pip-audit and OSV-Scanner
    /// count as one: both report advisories against packages), the same package (compared
    /// as PEP 503 normalized names, for dependency advisories) and a shared id or alias
    /// (case-insensitive), so `GHSA-…` in one scan matches `CVE-…` in the next when either
    /// lists the other as an alias.
    pub fn same_problem(&self, other: &Finding) -> bool {
        let both_deps = self.tool.is_dependency_scanner() && other.tool.is_dependency_scanner();
        if self.tool != other.tool && !both_deps {
            return false;
        }
        let pkg = |f: &Finding| f.package.as_deref().map(normalize_package_name);
        if pkg(self) != pkg(other) {
            return false;
        }
        self.ids()
            .any(|a| other.ids().any(|b| a.eq_ignore_ascii_case(b)))
    }

    /// A one-line label for reports: `GHSA-… in pip 25.2` or `B602 in src/x.py:12`.
    pub fn label(&self) -> String {
        match (&self.package, &self.file) {
            (Some(p), _) => match &self.version {
                Some(v) => format!("{} in {p} {v}", self.id),
                None => format!("{} in {p}", self.id),
            },
            (None, Some(f)) => match self.line {
                Some(l) => format!("{} in {f}:{l}", self.id),
                None => format!("{} in {f}", self.id),
            },
            (None, None) => self.id.clone(),
        }
    }
}

/// PEP 503 name normalisation of a package name as a scanner reports it (surrounding
/// whitespace dropped), with the foundation's [`airlock_pypkg::normalize_name`].
pub fn normalize_package_name(name: &str) -> String {
    airlock_pypkg::normalize_name(name.trim())
}

/// Counts of findings per severity. JSON:
/// `{"total": n, "critical": n, "high": n, "medium": n, "low": n, "info": n}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// All findings.
    pub total: u64,
    /// Critical findings.
    pub critical: u64,
    /// High findings.
    pub high: u64,
    /// Medium findings.
    pub medium: u64,
    /// Low findings.
    pub low: u64,
    /// Informational findings.
    pub info: u64,
}

impl Summary {
    /// Counts `findings` by severity.
    pub fn of(findings: &[Finding]) -> Summary {
        let mut s = Summary::default();
        for f in findings {
            s.total += 1;
            match f.severity {
                Severity::Critical => s.critical += 1,
                Severity::High => s.high += 1,
                Severity::Medium => s.medium += 1,
                Severity::Low => s.low += 1,
                Severity::Info => s.info += 1,
            }
        }
        s
    }

    /// The count for one severity.
    pub fn count(&self, severity: Severity) -> u64 {
        match severity {
            Severity::Critical => self.critical,
            Severity::High => self.high,
            Severity::Medium => self.medium,
            Severity::Low => self.low,
            Severity::Info => self.info,
        }
    }
}

/// A finding present in both scans whose severity differs.
/// JSON: `{"finding": {…current…}, "from": "medium", "to": "high"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeverityChange {
    /// The finding as reported by the current scan.
    pub finding: Finding,
    /// Severity in the previous scan.
    pub from: Severity,
    /// Severity in the current scan.
    pub to: Severity,
}

/// What changed from the previous scan to the current one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changes {
    /// In the current scan, not in the previous one (every finding when there is no baseline).
    pub new: Vec<Finding>,
    /// In the previous scan, not in the current one (as the previous scan reported them).
    pub resolved: Vec<Finding>,
    /// In both, with a different severity.
    pub severity_changed: Vec<SeverityChange>,
}

/// The detect stage's output.
///
/// JSON: `{"findings": [Finding], "summary": Summary, "changes": Changes, "baseline": bool,
/// "previous": "<folder>"|"none", "current": "<folder>", "scanned": ["pip-audit.json", …],
/// "previous_scanned": […], "scan_date": "<RFC 3339>"|null, "warnings": ["…"]}`.
///
/// `baseline` is false when there was no previous scan to compare with: then every current
/// finding is in `changes.new`, and decide must not treat that as news.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DetectReport {
    /// Findings of the current scan, sorted by severity (most severe first), then id.
    pub findings: Vec<Finding>,
    /// Counts of `findings`.
    pub summary: Summary,
    /// Changes against the previous scan.
    pub changes: Changes,
    /// True when a previous scan was read and `changes` are real changes.
    pub baseline: bool,
    /// The previous scan folder as configured, or `"none"`.
    #[serde(default = "none_string")]
    pub previous: String,
    /// The current scan folder as configured.
    #[serde(default)]
    pub current: String,
    /// Report files read from the current folder.
    #[serde(default)]
    pub scanned: Vec<String>,
    /// Report files read from the previous folder.
    #[serde(default)]
    pub previous_scanned: Vec<String>,
    /// When the current scan ran, when a report says so (bandit's `generated_at`).
    #[serde(default)]
    pub scan_date: Option<String>,
    /// Things a person should know that did not stop the stage (e.g. missing previous folder).
    #[serde(default)]
    pub warnings: Vec<String>,
}

fn none_string() -> String {
    "none".to_string()
}

/// The advisory page for an advisory id: GitHub for `GHSA-…`, NVD for `CVE-…`, OSV for the
/// rest (`PYSEC-…`, `OSV-…`, …) since osv.dev serves every OSV id.
pub fn advisory_url(id: &str) -> String {
    let upper = id.to_ascii_uppercase();
    if upper.starts_with("GHSA-") {
        format!("https://github.com/advisories/{id}")
    } else if upper.starts_with("CVE-") {
        format!("https://nvd.nist.gov/vuln/detail/{id}")
    } else {
        format!("https://osv.dev/vulnerability/{id}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_order_and_parse() {
        assert!(Severity::Critical > Severity::High);
        assert!(Severity::Info < Severity::Low);
        assert_eq!(Severity::parse_loose("HIGH"), Some(Severity::High));
        assert_eq!(Severity::parse_loose("moderate"), Some(Severity::Medium));
        assert_eq!(Severity::parse_loose("UNDEFINED"), None);
        assert_eq!(
            serde_json::to_string(&Severity::Medium).unwrap(),
            "\"medium\""
        );
    }

    #[test]
    fn package_names_normalize_per_pep_503() {
        assert_eq!(normalize_package_name("Foo__Bar.baz"), "foo-bar-baz");
        assert_eq!(normalize_package_name("setuptools"), "setuptools");
    }

    #[test]
    fn advisory_urls_follow_the_id_scheme() {
        assert_eq!(
            advisory_url("GHSA-4xh5-x5gv-qwph"),
            "https://github.com/advisories/GHSA-4xh5-x5gv-qwph"
        );
        assert_eq!(
            advisory_url("PYSEC-2025-49"),
            "https://osv.dev/vulnerability/PYSEC-2025-49"
        );
        assert_eq!(
            advisory_url("CVE-2025-8869"),
            "https://nvd.nist.gov/vuln/detail/CVE-2025-8869"
        );
    }
}
