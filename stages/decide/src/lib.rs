//! The decide stage: the release decision from detect's output, and the version checks.
//!
//! Config:
//! - `manual` (bool, default false): release regardless of the security changes;
//! - `tag` (string, optional, e.g. `v0.2.8`): must name the project version; an empty
//!   string counts as absent;
//! - `pyproject` (string, default `pyproject.toml`): the project's pyproject.toml.
//!
//! Input: the output of the upstream stage `detect` (or the first upstream whose output is
//! a detect report).
//!
//! Output: [`airlock_findings::Decision`] as JSON (`release`, `trigger`
//! `security_auto|manual|none`, `justification`, `release_notes`, `version`, `name`, `tag`,
//! `checks` [{`name` `pep440|tag_matches`, `ok`, `detail`}]). A release blocked by a failed
//! check is a validation error with a hint.

use std::path::Path;

use airlock_findings::{DecideOptions, DetectReport};
use airlock_stage::{Request, StageError, host};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    manual: bool,
    #[serde(default)]
    tag: Option<String>,
    #[serde(default = "default_pyproject")]
    pyproject: String,
}

fn default_pyproject() -> String {
    "pyproject.toml".to_string()
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
                .with_hint("add needs = [\"detect\"] to the decide stage in the manifest")
            })?,
    };
    let project =
        airlock_findings::read_project(Path::new(&config.pyproject)).map_err(StageError::from)?;
    let opts = DecideOptions {
        manual: config.manual,
        tag: config.tag.filter(|t| !t.trim().is_empty()),
    };
    let decision = airlock_findings::decide(&report, &project, &opts).map_err(StageError::from)?;
    for c in decision.checks.iter().filter(|c| !c.ok) {
        host::warn(&format!("check {} failed: {}", c.name, c.detail));
    }
    host::info(&decision.justification);
    serde_json::to_value(&decision)
        .map_err(|e| StageError::internal(format!("cannot encode the decision: {e}")))
}

airlock_stage::export_stage!(run);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_detect_input_the_hint_names_needs() {
        let err = run(&Request::new("decide", serde_json::json!({}))).unwrap_err();
        assert_eq!(err.category, airlock_stage::Category::Configuration);
        assert!(err.hint.unwrap().contains("needs"));
    }
}
