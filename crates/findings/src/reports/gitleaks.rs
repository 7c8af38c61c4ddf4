//! gitleaks `--report-format json` reports (`Secret` and `Match` are never read).
//!
//! The format, the fields read and the errors: see [`super`].

use super::*;

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

pub(super) fn parse(
    name: &str,
    value: serde_json::Value,
    policy: &SeverityPolicy,
) -> Result<Parsed> {
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
