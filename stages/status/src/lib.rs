//! The status stage: writes the live security status folder from detect's output.
//!
//! Config:
//! - `out` (string, default `.airlock/security-status`, which no airlock build packs into an
//!   sdist): the folder to write (needs a write
//!   grant);
//! - `previous` (string, optional, default `out`): the previous status folder whose
//!   `history.json` (or original `index.json`) carries discovery dates; read before writing;
//! - `now` (RFC 3339 string, optional): the time of the run; default the wall clock;
//! - `overdue_days` (integer, default 30): remediation is `overdue` when a finding with a
//!   fix available was discovered more than this many days ago;
//! - `resolved_days` (integer, default 90): how long resolved findings stay in `resolved`;
//! - `title` (string, default `Security status`): the page's heading;
//! - `base_url` (string, optional): where the folder is published (e.g.
//!   `https://OWNER.github.io/REPO/security-status/`), for the README badge snippet;
//! - `report` (string, optional): an airlock run report (`airlock run … --format json`)
//!   to record in `metrics.json` (outcome, duration per stage, decision, files published);
//!   needs a read grant. Without it the record has this run's decision (a `decide` input)
//!   and upload (an `upload` input) and outcome `unknown`.
//!
//! Input: the output of the upstream stage `detect` (or the first upstream whose output is
//! a detect report).
//!
//! Output: [`airlock_findings::StatusOutput`] as JSON (`grade`, `summary`, `remediation`,
//! `out`, `files`, `tracked`, `resolved`, `runs`, `badge_markdown`). Files: see
//! [`airlock_findings::status`]. The stage also logs the README badge snippet.

use std::path::Path;

use airlock_findings::status::metrics::RunRecord;
use airlock_findings::status::{
    DEFAULT_OVERDUE_DAYS, DEFAULT_RESOLVED_DAYS, StatusSettings, write_status_with,
};
use airlock_findings::{DetectReport, Error, StatusOptions, StatusOutput};
use airlock_stage::{Request, StageError, host};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default = "default_out")]
    out: String,
    #[serde(default)]
    previous: Option<String>,
    #[serde(default)]
    now: Option<String>,
    #[serde(default = "default_overdue")]
    overdue_days: u32,
    #[serde(default = "default_resolved")]
    resolved_days: u32,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    base_url: Option<String>,
    #[serde(default)]
    report: Option<String>,
}

fn default_overdue() -> u32 {
    DEFAULT_OVERDUE_DAYS as u32
}

fn default_resolved() -> u32 {
    DEFAULT_RESOLVED_DAYS as u32
}

fn default_out() -> String {
    ".airlock/security-status".to_string()
}

/// The stage function (exported as the component's `run`; public so native builds and
/// tests can call it).
pub fn run(req: &Request) -> Result<StatusOutput, StageError> {
    let config: Config = req.config()?;
    let report: DetectReport = match req.input("detect")? {
        Some(r) => r,
        None => req
            .find_input::<DetectReport>()
            .map(|(_, r)| r)
            .ok_or_else(|| {
                StageError::config(format!(
                    "stage '{}' has no detect output as input",
                    req.stage_id
                ))
                .with_hint("add needs = [\"detect\"] to the status stage in the manifest")
            })?,
    };
    let now = match &config.now {
        Some(s) => airlock_findings::parse_now(s).map_err(|e| match e {
            Error::Invalid { message, hint } => {
                let err = StageError::config(format!("config.now: {message}"));
                match hint {
                    Some(h) => err.with_hint(h),
                    None => err,
                }
            }
            other => StageError::from(other),
        })?,
        None => airlock_findings::status::now(),
    };
    let run_report: Option<serde_json::Value> = match &config.report {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| StageError::io(p, &e))?;
            Some(serde_json::from_str(&text).map_err(|e| {
                StageError::validation(format!("config.report: {p} is not JSON: {e}"))
                    .with_hint("write it with `airlock run MANIFEST --format json > FILE`")
            })?)
        }
        None => None,
    };
    let settings = StatusSettings {
        overdue_days: config.overdue_days.into(),
        resolved_days: config.resolved_days.into(),
        title: config
            .title
            .clone()
            .unwrap_or_else(|| "Security status".into()),
        base_url: config.base_url.clone(),
        run: Some(RunRecord::from_sources(run_report.as_ref(), &req.inputs)),
    };
    let previous = config.previous.as_deref().unwrap_or(&config.out);
    let out = write_status_with(
        &report,
        &StatusOptions {
            out: Path::new(&config.out),
            previous: Some(Path::new(previous)),
            now,
        },
        &settings,
    )
    .map_err(StageError::from)?;
    host::info(&format!(
        "security grade {} ({} open finding(s), remediation {}); wrote {} into {}",
        out.grade,
        out.summary.total,
        out.remediation,
        out.files.join(", "),
        out.out
    ));
    host::info(&format!(
        "README badges (shields.io endpoint badges):\n{}",
        out.badge_markdown
    ));
    Ok(out)
}

airlock_stage::export_stage!(run);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_now_is_a_configuration_error() {
        let req = Request::new("status", serde_json::json!({"now": "tomorrow"})).with_input(
            "detect",
            serde_json::json!({"findings": [], "summary": {"total": 0, "critical": 0, "high": 0, "medium": 0, "low": 0, "info": 0},
                "changes": {"new": [], "resolved": [], "severity_changed": []}, "baseline": false}),
        );
        let err = run(&req).unwrap_err();
        assert_eq!(err.category, airlock_stage::Category::Configuration);
        assert!(err.message.contains("config.now"), "{}", err.message);
    }

    #[test]
    fn writes_the_folder_logs_the_badge_snippet_and_records_the_decision() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("status");
        let detect = serde_json::json!({"findings": [], "summary": {"total": 0, "critical": 0, "high": 0, "medium": 0, "low": 0, "info": 0},
            "changes": {"new": [], "resolved": [], "severity_changed": []}, "baseline": true});
        let req = Request::new(
            "status",
            serde_json::json!({"out": out.to_str().unwrap(), "now": "2025-11-01T00:00:00Z",
                "base_url": "https://example.github.io/p/security-status/"}),
        )
        .with_input("detect", detect)
        .with_input(
            "decide",
            serde_json::json!({"release": false, "trigger": "none"}),
        );
        let _ = host::take_records();
        let v = serde_json::to_value(run(&req).unwrap()).unwrap();
        assert_eq!(v["grade"], "A");
        assert_eq!(v["remediation"], "current");
        assert!(out.join("badges/last-scan.json").is_file());
        let logs: Vec<String> = host::take_records()
            .into_iter()
            .map(|r| format!("{r:?}"))
            .collect();
        assert!(
            logs.iter()
                .any(|l| l.contains("img.shields.io/endpoint?url=https%3A%2F%2Fexample.github.io")),
            "{logs:?}"
        );
        let m: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("metrics.json")).unwrap())
                .unwrap();
        assert_eq!(m["runs"][0]["decision"], "no_release");
        assert_eq!(m["runs"][0]["outcome"], "unknown");
    }

    #[test]
    fn a_missing_report_is_an_error() {
        let req = Request::new("status", serde_json::json!({"out": "/nonexistent-out", "report": "/nonexistent/report.json"})).with_input(
            "detect",
            serde_json::json!({"findings": [], "summary": {"total": 0, "critical": 0, "high": 0, "medium": 0, "low": 0, "info": 0},
                "changes": {"new": [], "resolved": [], "severity_changed": []}, "baseline": false}),
        );
        let err = run(&req).unwrap_err();
        assert!(
            err.message.contains("/nonexistent/report.json"),
            "{}",
            err.message
        );
    }
}
