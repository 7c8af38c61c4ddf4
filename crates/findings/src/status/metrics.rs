//! `metrics.json`: the run history of the pipeline, one record per run of the status stage,
//! so the page can show the trend of runs (outcome, duration) at a glance.
//!
//! JSON: `{"schema_version": 1, "runs": [RunRecord, …]}`, oldest first, at most
//! [`MAX_RUNS`] records (the oldest are dropped).
//!
//! A record is built by [`RunRecord::from_sources`] from what the status stage can see:
//! - an airlock run report (`airlock run … --format json`, the host's `RunReport`: `success`,
//!   `elapsed_ms`, `stages[{id, status, run_ms, output}]`), when the status stage is given
//!   one (config `report`): outcome, duration per stage, and the decide and upload outputs;
//! - the stage's inputs (outputs of the stages it needs), by shape: decide's output
//!   (`release`, `trigger`) and upload's output (`files[{filename, status}]`).
//!
//! Without a run report the outcome is `"unknown"` and `stages` is empty: a stage cannot
//! see the end of the run it is part of.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::Result;
use crate::model::Summary;

/// The most records `metrics.json` keeps.
pub const MAX_RUNS: usize = 400;

/// One stage of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageTiming {
    /// Stage id.
    pub id: String,
    /// `succeeded`, `failed`, `skipped` or `not_run` (the host's run report).
    pub status: String,
    /// Milliseconds the stage ran (the report's `run_ms`); `null` when it did not run.
    pub duration_ms: Option<f64>,
}

/// One run. Missing knowledge is `null` (or empty), never guessed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// When the status stage ran (RFC 3339, UTC).
    #[serde(default)]
    pub date: String,
    /// decide's trigger: `security_auto`, `manual` or `none`; `null` without decide.
    #[serde(default)]
    pub trigger: Option<String>,
    /// decide's decision: `release` or `no_release`; `null` without decide.
    #[serde(default)]
    pub decision: Option<String>,
    /// Files the upload stage uploaded in this run (`status: "uploaded"`, not `skipped`).
    #[serde(default)]
    pub files_published: u64,
    /// Their file names.
    #[serde(default)]
    pub files: Vec<String>,
    /// Retries the upload stage reported (its output's `retries`, or the sum of
    /// `files[].retries`); `null` when it reports none.
    #[serde(default)]
    pub retries: Option<u64>,
    /// Each stage of the run report, in the report's order.
    #[serde(default)]
    pub stages: Vec<StageTiming>,
    /// The run's wall-clock duration (the report's `elapsed_ms`).
    #[serde(default)]
    pub duration_ms: Option<f64>,
    /// `success`, `failure` (the report's `success`), or `unknown` without a report.
    #[serde(default = "unknown")]
    pub outcome: String,
    /// Open findings after this run.
    #[serde(default)]
    pub open: Summary,
    /// The security grade after this run.
    #[serde(default)]
    pub grade: String,
}

fn unknown() -> String {
    "unknown".to_string()
}

/// `metrics.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// [`super::SCHEMA_VERSION`].
    #[serde(default)]
    pub schema_version: u32,
    /// Runs, oldest first.
    #[serde(default)]
    pub runs: Vec<RunRecord>,
}

impl Metrics {
    /// Appends a record, dropping the oldest beyond [`MAX_RUNS`].
    pub fn push(&mut self, record: RunRecord) {
        self.schema_version = super::SCHEMA_VERSION;
        self.runs.push(record);
        if self.runs.len() > MAX_RUNS {
            let extra = self.runs.len() - MAX_RUNS;
            self.runs.drain(..extra);
        }
    }
}

/// Loads `metrics.json` from a previous status folder; an empty history when absent.
/// Errors: [`crate::Error::Invalid`] when malformed, [`crate::Error::Io`] on read errors.
pub fn load_metrics(dir: &Path) -> Result<Metrics> {
    match super::read_optional(dir, "metrics.json")? {
        Some(text) => {
            serde_json::from_str(&text).map_err(|e| super::malformed(dir, "metrics.json", e))
        }
        None => Ok(Metrics::default()),
    }
}

/// decide's output shape: a boolean `release` and a string `trigger`.
fn is_decide(v: &Value) -> bool {
    v.get("release").is_some_and(Value::is_boolean)
        && v.get("trigger").is_some_and(Value::is_string)
}

/// upload's output shape: `repository` and `files[{filename, status}]`.
fn is_upload(v: &Value) -> bool {
    v.get("repository").is_some()
        && v.get("files").and_then(Value::as_array).is_some_and(|f| {
            f.iter()
                .all(|x| x.get("filename").is_some() && x.get("status").is_some())
        })
}

impl RunRecord {
    /// Builds the record of this run from an optional airlock run report and the stage's
    /// inputs (stage id → output); see the module docs. `date`, `open` and `grade` are left
    /// for the caller.
    pub fn from_sources(report: Option<&Value>, inputs: &BTreeMap<String, Value>) -> RunRecord {
        let mut outputs: Vec<&Value> = Vec::new();
        let mut rec = RunRecord {
            outcome: unknown(),
            ..Default::default()
        };
        if let Some(r) = report {
            for st in r["stages"].as_array().into_iter().flatten() {
                rec.stages.push(StageTiming {
                    id: st["id"].as_str().unwrap_or_default().to_string(),
                    status: st["status"].as_str().unwrap_or("unknown").to_string(),
                    duration_ms: st["run_ms"].as_f64(),
                });
                if let Some(o) = st.get("output") {
                    outputs.push(o);
                }
            }
            rec.duration_ms = r["elapsed_ms"].as_f64();
            rec.outcome = match r["success"].as_bool() {
                Some(true) => "success".into(),
                Some(false) => "failure".into(),
                None => unknown(),
            };
        }
        outputs.extend(inputs.values());
        if let Some(d) = outputs.iter().find(|v| is_decide(v)) {
            rec.trigger = d["trigger"].as_str().map(str::to_string);
            rec.decision = d["release"]
                .as_bool()
                .map(|r| if r { "release" } else { "no_release" }.to_string());
        }
        if let Some(u) = outputs.iter().find(|v| is_upload(v)) {
            let files = u["files"].as_array().cloned().unwrap_or_default();
            rec.files = files
                .iter()
                .filter(|f| f["status"] == "uploaded")
                .filter_map(|f| f["filename"].as_str().map(str::to_string))
                .collect();
            rec.files_published = rec.files.len() as u64;
            rec.retries = u["retries"].as_u64().or_else(|| {
                let per: Vec<u64> = files.iter().filter_map(|f| f["retries"].as_u64()).collect();
                (!per.is_empty()).then(|| per.iter().sum())
            });
        }
        rec
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_run_report_gives_outcome_durations_decision_and_files() {
        let report = json!({
            "pipeline": "p", "success": false, "elapsed_ms": 812.5,
            "stages": [
                {"id": "detect", "status": "succeeded", "run_ms": 3.5, "output": {"findings": []}},
                {"id": "decide", "status": "succeeded", "run_ms": 2.0,
                 "output": {"release": true, "trigger": "security_auto"}},
                {"id": "upload", "status": "failed", "run_ms": 700.0},
                {"id": "status", "status": "not_run"}
            ]
        });
        let r = RunRecord::from_sources(Some(&report), &BTreeMap::new());
        assert_eq!(r.outcome, "failure");
        assert_eq!(r.decision.as_deref(), Some("release"));
        assert_eq!(r.trigger.as_deref(), Some("security_auto"));
        assert_eq!(r.files_published, 0);
        assert_eq!(r.duration_ms, Some(812.5));
        assert_eq!(r.stages.len(), 4);
        assert_eq!(r.stages[2].duration_ms, Some(700.0));
        assert_eq!(r.stages[3].duration_ms, None);
    }

    #[test]
    fn inputs_give_decision_and_uploaded_files_without_a_report() {
        let mut inputs = BTreeMap::new();
        inputs.insert(
            "decide".to_string(),
            json!({"release": false, "trigger": "none"}),
        );
        inputs.insert(
            "publish".to_string(),
            json!({"repository": "file:x", "retries": 2, "files": [
                {"filename": "a-1.tar.gz", "status": "uploaded"},
                {"filename": "a-1-py3-none-any.whl", "status": "skipped"}]}),
        );
        let r = RunRecord::from_sources(None, &inputs);
        assert_eq!(r.outcome, "unknown");
        assert_eq!(r.decision.as_deref(), Some("no_release"));
        assert_eq!(r.files, ["a-1.tar.gz"]);
        assert_eq!((r.files_published, r.retries), (1, Some(2)));
        assert!(r.stages.is_empty());
    }

    #[test]
    fn metrics_keep_the_newest_runs() {
        let mut m = Metrics::default();
        for i in 0..MAX_RUNS + 5 {
            m.push(RunRecord {
                date: format!("{i}"),
                ..Default::default()
            });
        }
        assert_eq!(m.runs.len(), MAX_RUNS);
        assert_eq!(m.runs[0].date, "5");
    }
}
