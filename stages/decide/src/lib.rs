//! The decide stage: the release decision from detect's output, the quality gates and the
//! version checks.
//!
//! Config:
//! - `manual` (bool, default false): release regardless of the security changes;
//! - `manual_events` (list of strings, default `["workflow_dispatch"]`): GitHub event
//!   names that count as a manual trigger, read from `GITHUB_EVENT_NAME` when the stage is
//!   granted that variable (`env = ["GITHUB_EVENT_NAME"]`);
//! - `tag` (string, optional, e.g. `v0.2.8`): must name the project version; an empty
//!   string counts as absent;
//! - `pyproject` (string, default `pyproject.toml`): the project's pyproject.toml;
//! - `index` (string, optional, e.g. `https://pypi.org/simple/`): a simple API root; when
//!   set, the stage GETs `<index>/<normalized name>/` (PEP 503/691) and checks that the
//!   version is not there yet (`not_on_index`); needs `http = ["<origin of index>"]`.
//!   Absent: the check is skipped;
//! - `release_on` (table, optional): matrix thresholds `new` (default `high`), `resolved`
//!   (default `info`: any) and `raised` (default `high`); each a severity or `never`;
//! - `gates` (table, optional): `junit` (a JUnit XML path), `coverage` (a Cobertura XML
//!   path) and `min_line_coverage` (percent, default 80 when `coverage` is set).
//!
//! Input: the output of the upstream stage `detect` (or the first upstream whose output is
//! a detect report).
//!
//! Output: [`airlock_findings::Decision`] as JSON (`release`, `trigger`
//! `security_auto|manual|none`, `rules`, `justification`, `release_notes`, `version`,
//! `name`, `tag`, `checks` [{`name`, `ok`, `detail`}], `suggested_version`). A release
//! blocked by a failed check or gate is a validation error with a hint; an index that
//! cannot be reached while releasing is a retryable network error.

use std::path::{Path, PathBuf};

use airlock_findings::decide::parse_threshold;
use airlock_findings::{DecideOptions, Decision, DetectReport, Gates, IndexAnswer, Thresholds};
use airlock_pypkg::simple::{ACCEPT, project_url};
use airlock_stage::retry::{RetryPolicy, send_retrying, sleep};
use airlock_stage::{Category, Request, StageError, host, http};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    manual: bool,
    #[serde(default = "default_events")]
    manual_events: Vec<String>,
    #[serde(default)]
    tag: Option<String>,
    #[serde(default = "default_pyproject")]
    pyproject: String,
    #[serde(default)]
    index: Option<String>,
    #[serde(default)]
    release_on: ReleaseOn,
    #[serde(default)]
    gates: GatesConfig,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ReleaseOn {
    new: Option<String>,
    resolved: Option<String>,
    raised: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct GatesConfig {
    junit: Option<String>,
    coverage: Option<String>,
    min_line_coverage: Option<f64>,
}

fn default_pyproject() -> String {
    "pyproject.toml".to_string()
}

fn default_events() -> Vec<String> {
    vec!["workflow_dispatch".to_string()]
}

fn thresholds(stage: &str, r: &ReleaseOn) -> Result<Thresholds, StageError> {
    let mut t = Thresholds::default();
    for (name, value, slot) in [
        ("new", &r.new, &mut t.new),
        ("resolved", &r.resolved, &mut t.resolved),
        ("raised", &r.raised, &mut t.raised),
    ] {
        if let Some(v) = value {
            *slot = parse_threshold(v).ok_or_else(|| {
                StageError::config(format!(
                    "stage '{stage}': config.release_on.{name}: {v:?} is not a threshold"
                ))
                .with_hint("use critical, high, medium, low, info or never")
            })?;
        }
    }
    Ok(t)
}

/// GETs the project's simple API page, retrying transport failures and 408/429/5xx as the
/// SDK's [`RetryPolicy`] says (a GET is safe to repeat).
fn fetch_index(index: &str, name: &str) -> (IndexAnswer, Option<StageError>) {
    let url = project_url(index, name);
    let req = http::Request::get(&url).header("accept", ACCEPT);
    let what = format!("the index ({url})");
    match send_retrying(
        &mut http::SdkTransport,
        &req,
        &RetryPolicy::default(),
        &what,
        &mut sleep,
    ) {
        Ok(resp) => {
            let ctype = resp.header("content-type").unwrap_or("").to_string();
            let body = resp.text();
            (
                IndexAnswer {
                    url,
                    response: Ok((resp.status, ctype, body)),
                },
                None,
            )
        }
        Err(e) => (
            IndexAnswer {
                url,
                response: Err(e.message.clone()),
            },
            Some(e),
        ),
    }
}

/// The stage function (exported as the component's `run`; public so native builds and
/// tests can call it).
pub fn run(req: &Request) -> Result<Decision, StageError> {
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
    let thresholds = thresholds(&req.stage_id, &config.release_on)?;
    if config.gates.min_line_coverage.is_some() && config.gates.coverage.is_none() {
        return Err(StageError::config(format!(
            "stage '{}': config.gates.min_line_coverage is set without config.gates.coverage",
            req.stage_id
        ))
        .with_hint("set gates.coverage to the Cobertura XML file (coverage.py: `coverage xml`)"));
    }
    let gates = Gates {
        junit: config.gates.junit.map(PathBuf::from),
        coverage: config.gates.coverage.map(|c| {
            (
                PathBuf::from(c),
                config.gates.min_line_coverage.unwrap_or(80.0),
            )
        }),
    };
    let event = std::env::var("GITHUB_EVENT_NAME").ok();
    let by_event = event
        .as_deref()
        .is_some_and(|e| config.manual_events.iter().any(|m| m == e));
    if by_event {
        host::info(&format!(
            "GITHUB_EVENT_NAME={} counts as a manual trigger",
            event.as_deref().unwrap_or("")
        ));
    }
    let project =
        airlock_findings::read_project(Path::new(&config.pyproject)).map_err(StageError::from)?;
    let mut transport_error = None;
    let index = match (&config.index, &project.name) {
        (Some(ix), Some(name)) if !ix.trim().is_empty() => {
            let (answer, err) = fetch_index(ix, name);
            transport_error = err;
            Some(answer)
        }
        _ => None,
    };
    let opts = DecideOptions {
        manual: config.manual || by_event,
        tag: config.tag.filter(|t| !t.trim().is_empty()),
        thresholds,
        gates,
        index,
    };
    let decision = match airlock_findings::decide(&report, &project, &opts) {
        Ok(d) => d,
        Err(e) => {
            // A release blocked only because the index could not be asked is retryable
            // (network), or a capability error when the sandbox refused the request.
            if let Some(t) = transport_error {
                let e: StageError = e.into();
                let mut out = StageError::new(t.category, format!("{}; {}", t.message, e.message))
                    .retryable(t.category == Category::Network);
                if let Some(h) = t.hint.or(e.hint) {
                    out = out.with_hint(h);
                }
                return Err(out);
            }
            return Err(e.into());
        }
    };
    for c in decision.checks.iter().filter(|c| !c.ok) {
        host::warn(&format!("check {} failed: {}", c.name, c.detail));
    }
    host::info(&decision.justification);
    Ok(decision)
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

    #[test]
    fn bad_thresholds_and_gates_are_configuration_errors() {
        let detect = serde_json::json!({"findings": [], "summary": {"total": 0, "critical": 0, "high": 0, "medium": 0, "low": 0, "info": 0},
            "changes": {"new": [], "resolved": [], "severity_changed": []}, "baseline": true});
        let err = run(&Request::new(
            "decide",
            serde_json::json!({"release_on": {"new": "severe"}}),
        )
        .with_input("detect", detect.clone()))
        .unwrap_err();
        assert_eq!(err.category, Category::Configuration);
        assert!(err.message.contains("release_on.new"), "{}", err.message);
        let err = run(&Request::new(
            "decide",
            serde_json::json!({"gates": {"min_line_coverage": 90}}),
        )
        .with_input("detect", detect))
        .unwrap_err();
        assert!(err.message.contains("gates.coverage"), "{}", err.message);
    }
}
