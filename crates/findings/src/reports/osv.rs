//! OSV-Scanner `--format json` reports (v1 and v2), one finding per advisory group.
//!
//! The format, the fields read and the errors: see [`super`].

use super::*;

/// An OSV-Scanner report's JSON `value` (file `name`), as [`super::parse_report`] takes it.
pub(super) fn parse(
    name: &str,
    value: serde_json::Value,
    policy: &SeverityPolicy,
) -> Result<Parsed> {
    Ok(parse_osv(typed(Tool::OsvScanner, name, "", value)?, policy))
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
