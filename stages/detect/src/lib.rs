//! The detect stage: reads the previous and current security scan folders (pip-audit,
//! bandit and gitleaks JSON) and reports the current findings and what changed.
//!
//! Config:
//! - `current` (string, required): project-relative folder with the current reports;
//! - `previous` (string, optional): folder with the previous reports; absent → no baseline;
//! - `default_severity` (`critical|high|medium|low|info`, default `medium`): the severity
//!   policy for advisories whose report carries none.
//!
//! Output: [`airlock_findings::DetectReport`] as JSON (`findings`, `summary`, `changes`
//! {`new`, `resolved`, `severity_changed`}, `baseline`, `previous`, `current`, `scanned`,
//! `previous_scanned`, `scan_date`, `warnings`).

use std::path::Path;

use airlock_findings::{Severity, SeverityPolicy};
use airlock_stage::{Request, StageError, host};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    current: String,
    #[serde(default)]
    previous: Option<String>,
    #[serde(default)]
    default_severity: Option<Severity>,
}

/// The stage function (exported as the component's `run`; public so native builds and
/// tests can call it).
pub fn run(req: &Request) -> Result<serde_json::Value, StageError> {
    let config: Config = req.config()?;
    let policy = SeverityPolicy {
        default: config.default_severity.unwrap_or(Severity::Medium),
        ..SeverityPolicy::default()
    };
    let report = airlock_findings::detect(
        config.previous.as_deref().map(Path::new),
        Path::new(&config.current),
        &policy,
    )
    .map_err(StageError::from)?;
    for w in &report.warnings {
        host::warn(w);
    }
    let c = &report.changes;
    host::info(&format!(
        "{} finding(s) in {} ({} critical, {} high, {} medium, {} low, {} info); {}",
        report.summary.total,
        report.scanned.join(", "),
        report.summary.critical,
        report.summary.high,
        report.summary.medium,
        report.summary.low,
        report.summary.info,
        if report.baseline {
            format!(
                "since the previous scan: {} new, {} resolved, {} severity changed",
                c.new.len(),
                c.resolved.len(),
                c.severity_changed.len()
            )
        } else {
            "no previous scan to compare with".to_string()
        }
    ));
    serde_json::to_value(&report)
        .map_err(|e| StageError::internal(format!("cannot encode the report: {e}")))
}

airlock_stage::export_stage!(run);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_config_keys_and_bad_severity_are_configuration_errors() {
        let err = run(&Request::new(
            "detect",
            serde_json::json!({"current": "x", "default_severity": "severe"}),
        ))
        .unwrap_err();
        assert_eq!(err.category, airlock_stage::Category::Configuration);
        assert!(err.message.contains("default_severity"), "{}", err.message);
    }

    #[test]
    fn missing_current_folder_is_reported_with_its_path() {
        let err = run(&Request::new(
            "detect",
            serde_json::json!({"current": "/nonexistent/airlock/scan"}),
        ))
        .unwrap_err();
        assert!(
            err.message.contains("/nonexistent/airlock/scan"),
            "{}",
            err.message
        );
    }
}
