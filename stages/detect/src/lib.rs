//! The detect stage: reads the current security scan folder and a baseline (a previous
//! folder, or the last run's state) and reports the current findings and what changed.
//!
//! Config:
//! - `current` (string, required): project-relative folder with the current reports;
//! - `previous` (string, optional): folder with the previous reports;
//! - `previous_state` (string, optional, e.g. `.airlock/state`): the run state folder of
//!   the last run; this stage's output there is the previous scan (needs a read grant; see
//!   `airlock_findings::Baseline::State`). At most one of `previous` and `previous_state`;
//!   with neither there is no baseline (a first run);
//! - `default_severity` (`critical|high|medium|low|info`, default `medium`): the severity
//!   of findings whose report carries none;
//! - `secret_severity` (default `high`): the severity of every gitleaks finding;
//! - `severity_overrides` (string, optional): a TOML file mapping ids or aliases to
//!   severities (`airlock_findings::reports::load_overrides`);
//! - `reports` (table, optional): report globs per format, replacing that format's
//!   defaults, e.g. `{ "pip-audit" = ["deps-*.json"] }`. Formats: `pip-audit`, `bandit`,
//!   `gitleaks`, `osv-scanner`, `sarif`.
//!
//! Output: [`airlock_findings::DetectOutput`] as JSON (`findings`, `summary`, `changes`
//! {`new`, `resolved`, `severity_changed`}, `baseline`, `previous`, `current`, `scanned`,
//! `previous_scanned`, `ignored`, `previous_ignored`, `scan_date`, `warnings`).

use std::collections::BTreeMap;
use std::path::Path;

use airlock_findings::{
    Baseline, DetectOptions, DetectOutput, ReportGlobs, Severity, SeverityPolicy, Tool,
    load_overrides,
};
use airlock_stage::{Request, StageError, host};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    current: String,
    #[serde(default)]
    previous: Option<String>,
    #[serde(default)]
    previous_state: Option<String>,
    #[serde(default)]
    default_severity: Option<Severity>,
    #[serde(default)]
    secret_severity: Option<Severity>,
    #[serde(default)]
    severity_overrides: Option<String>,
    #[serde(default)]
    reports: BTreeMap<Tool, Vec<String>>,
}

/// The stage function (exported as the component's `run`; public so native builds and
/// tests can call it).
pub fn run(req: &Request) -> Result<DetectOutput, StageError> {
    let config: Config = req.config()?;
    if config.previous.is_some() && config.previous_state.is_some() {
        return Err(StageError::config(format!(
            "stage '{}': config.previous and config.previous_state are both set",
            req.stage_id
        ))
        .with_hint("keep one: `previous` (a folder of reports) or `previous_state` (the last run's state folder)"));
    }
    let mut policy = SeverityPolicy {
        default: config.default_severity.unwrap_or(Severity::Medium),
        secret: config.secret_severity.unwrap_or(Severity::High),
        ..SeverityPolicy::default()
    };
    if let Some(file) = &config.severity_overrides {
        policy.overrides = load_overrides(Path::new(file)).map_err(StageError::from)?;
    }
    let custom: Vec<(Tool, Vec<String>)> = config.reports.into_iter().collect();
    let globs = ReportGlobs::new(&custom).map_err(|e| {
        let e: StageError = e.into();
        StageError::config(format!(
            "stage '{}': config.reports: {}",
            req.stage_id, e.message
        ))
        .with_hint(e.hint.unwrap_or_default())
    })?;
    let baseline = match (&config.previous, &config.previous_state) {
        (Some(p), _) => Baseline::Folder(Path::new(p)),
        (None, Some(s)) => Baseline::State {
            dir: Path::new(s),
            stage: &req.stage_id,
        },
        (None, None) => Baseline::None,
    };
    let out = airlock_findings::detect_with(&DetectOptions {
        baseline,
        current: Path::new(&config.current),
        policy: &policy,
        globs: &globs,
    })
    .map_err(StageError::from)?;
    let report = &out.report;
    for w in &report.warnings {
        host::warn(w);
    }
    if !out.ignored.is_empty() {
        host::info(&format!(
            "ignored in {} (not reports): {}",
            report.current,
            out.ignored.join(", ")
        ));
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
    Ok(out)
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
    fn previous_and_previous_state_exclude_each_other() {
        let err = run(&Request::new(
            "detect",
            serde_json::json!({"current": "x", "previous": "a", "previous_state": "b"}),
        ))
        .unwrap_err();
        assert_eq!(err.category, airlock_stage::Category::Configuration);
        let err = run(&Request::new(
            "detect",
            serde_json::json!({"current": "x", "reports": {"trivy": ["*.json"]}}),
        ))
        .unwrap_err();
        assert!(err.message.contains("config.reports"), "{}", err.message);
        let err = run(&Request::new(
            "detect",
            serde_json::json!({"current": "x", "reports": {"bandit": ["a["]}}),
        ))
        .unwrap_err();
        assert_eq!(err.category, airlock_stage::Category::Configuration);
        assert!(err.message.contains("a["), "{}", err.message);
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
