//! The failure report: what the host prints in a failed run's report (`failure`) and hands a
//! `when = "failed"` stage as its input with id `failure`. One type for both sides, so the
//! host and a stage that reads the report cannot disagree on its fields.

use serde::{Deserialize, Serialize};

/// A failed run, as the original system's FailureReport described it. The host redacts
/// every text before it is written. JSON: `{ pipeline, run_id, event, repository, run_url,
/// stage, category, message, hint, exit_code, timestamp, log_excerpt, rerun? }`; the
/// optional fields are `null` when unknown (a run that failed outside any stage has no
/// `stage`, `category` or `message`), `rerun` is left out when there is none, and unknown
/// fields are ignored when reading (a newer host may add some).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureReport {
    /// The pipeline's name (`[pipeline] name` in the manifest).
    pub pipeline: String,
    /// The CI run id (`GITHUB_RUN_ID`), if any.
    #[serde(default)]
    pub run_id: Option<String>,
    /// The event that triggered the run (`GITHUB_EVENT_NAME`: push, workflow_dispatch, …).
    #[serde(default)]
    pub event: Option<String>,
    /// `owner/name` of the repository the run belongs to (`GITHUB_REPOSITORY`), if any.
    #[serde(default)]
    pub repository: Option<String>,
    /// The run's web page (`{GITHUB_SERVER_URL}/{repository}/actions/runs/{id}`), if any.
    #[serde(default)]
    pub run_url: Option<String>,
    /// The first stage that failed (manifest order); none when the run failed outside any.
    #[serde(default)]
    pub stage: Option<String>,
    /// Its error category (`authentication`, `network`, …).
    #[serde(default)]
    pub category: Option<String>,
    /// Its error message.
    #[serde(default)]
    pub message: Option<String>,
    /// Its remediation, if the stage gave one.
    #[serde(default)]
    pub hint: Option<String>,
    /// The run's exit code (1 when a stage failed).
    pub exit_code: i32,
    /// When the report was made, RFC 3339 UTC (e.g. `2026-11-22T05:00:00Z`).
    pub timestamp: String,
    /// The last lines the failed stage logged, oldest first (the host keeps at most 20).
    #[serde(default)]
    pub log_excerpt: Vec<String>,
    /// The command that runs the failed stage again on this run's state folder, with the
    /// stages that produce the secrets it injects (e.g. the command that finishes a release
    /// whose upload failed after its first file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rerun: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_without_a_failed_stage_reads_back() {
        let r: FailureReport = serde_json::from_value(serde_json::json!({
            "pipeline": "p", "run_id": null, "event": null, "repository": null,
            "run_url": null, "stage": null, "category": null, "message": null, "hint": null,
            "exit_code": 1, "timestamp": "2026-12-01T00:00:00Z", "log_excerpt": [],
            "from_a_newer_host": 1
        }))
        .unwrap();
        assert_eq!(r.stage, None);
        let back = serde_json::to_value(&r).unwrap();
        assert_eq!(back["stage"], serde_json::Value::Null);
        assert!(back.get("rerun").is_none(), "{back}");
    }
}
