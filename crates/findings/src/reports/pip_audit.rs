//! pip-audit `-f json` reports (pip-audit ≥ 2, and the bare list of older releases).
//!
//! The format, the fields read and the errors: see [`super`].

use super::*;

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

pub(super) fn parse(
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
