//! The status stage: writes the live security status folder from detect's output.
//!
//! Config:
//! - `out` (string, default `public/security-status`): the folder to write (needs a write
//!   grant);
//! - `previous` (string, optional, default `out`): the previous status folder whose
//!   `history.json` (or original `index.json`) carries discovery dates; read before writing;
//! - `now` (RFC 3339 string, optional): the time of the run; default the wall clock.
//!
//! Input: the output of the upstream stage `detect` (or the first upstream whose output is
//! a detect report).
//!
//! Output: [`airlock_findings::StatusOutput`] as JSON (`grade`, `summary`, `out`, `files`,
//! `tracked`, `resolved`). Files: see [`airlock_findings::status`].

use std::path::Path;

use airlock_findings::{DetectReport, Error, StatusOptions};
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
}

fn default_out() -> String {
    "public/security-status".to_string()
}

/// The stage function (exported as the component's `run`; public so native builds and
/// tests can call it).
pub fn run(req: &Request) -> Result<serde_json::Value, StageError> {
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
    let previous = config.previous.as_deref().unwrap_or(&config.out);
    let out = airlock_findings::write_status(
        &report,
        &StatusOptions {
            out: Path::new(&config.out),
            previous: Some(Path::new(previous)),
            now,
        },
    )
    .map_err(StageError::from)?;
    host::info(&format!(
        "security grade {} ({} open finding(s)); wrote {} into {}",
        out.grade,
        out.summary.total,
        out.files.join(", "),
        out.out
    ));
    serde_json::to_value(&out)
        .map_err(|e| StageError::internal(format!("cannot encode the output: {e}")))
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
}
