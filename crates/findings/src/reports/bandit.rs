//! bandit `-f json` reports.
//!
//! The format, the fields read and the errors: see [`super`].

use super::*;

/// A bandit report's JSON `value` (file `name`), as [`super::parse_report`] takes it.
pub(super) fn parse(
    name: &str,
    value: serde_json::Value,
    policy: &SeverityPolicy,
) -> Result<Parsed> {
    Ok(parse_bandit(typed(Tool::Bandit, name, "", value)?, policy))
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
