//! SARIF 2.1.0 logs (OASIS), e.g. from CodeQL or `bandit -f sarif`.
//!
//! The format, the fields read and the errors: see [`super`].

use super::*;

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

pub(super) fn parse(
    name: &str,
    value: serde_json::Value,
    policy: &SeverityPolicy,
) -> Result<Parsed> {
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
