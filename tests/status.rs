//! End to end: the status stage run by the real binary, three times over the bundled demo
//! project (a separate status pipeline, the full release pipeline, then the status
//! pipeline again with the release run's report), checking the history carried between
//! runs, metrics.json, the badges and index.json against the shipped JSON Schema.

mod common;

use std::path::Path;
use std::process::Command;

use common::{airlock, copy_tree, report, stage};
use serde_json::{Value, json};

/// The status job's manifest: scan, decide, status (with a read grant for run reports).
const STATUS_TOML: &str = r#"
[pipeline]
name = "demo-status"
project = "."

[[stage]]
id = "detect"
component = "builtin:detect"
config = { current = "security/previous" }
[stage.grants]
files = [{ path = "security", access = "read" }]

[[stage]]
id = "decide"
component = "builtin:decide"
needs = ["detect"]
config = { tag = "v0.1.0" }
[stage.grants]
files = [{ path = ".", access = "read" }]

[[stage]]
id = "status"
component = "builtin:status"
needs = ["detect", "decide"]
config = { out = ".airlock/status", title = "airlock-demo security status", base_url = "https://example.github.io/airlock-demo/security-status/" }
[stage.grants]
files = [{ path = ".airlock/status", access = "write" }, { path = ".airlock/reports", access = "read" }]
"#;

fn read(p: &Path) -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
    )
    .unwrap()
}

/// Validates index.json against schemas/security-status.schema.json (Python jsonschema).
fn validate(index: &Path) {
    let schema = airlock_test_support::workspace().join("schemas/security-status.schema.json");
    let out = Command::new("python3")
        .args([
            "-c",
            "import json, sys, jsonschema\n\
             s = json.load(open(sys.argv[1]))\n\
             jsonschema.validate(json.load(open(sys.argv[2])), s, cls=jsonschema.Draft202012Validator, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)",
        ])
        .arg(&schema)
        .arg(index)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{} does not follow the schema:\n{}",
        index.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn ok(out: &std::process::Output) -> Value {
    let r = report(out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    r
}

#[test]
fn status_history_metrics_and_badges_across_three_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("demo");
    copy_tree(
        &airlock_test_support::workspace().join("examples/demo"),
        &project,
    );
    let status_toml = project.join("status.toml");
    std::fs::write(&status_toml, STATUS_TOML).unwrap();
    let status_toml = status_toml.to_str().unwrap();
    let release_toml = project.join("release.toml");
    let site = project.join(".airlock/status");

    // Run 1, Jan 1: the old scan (three medium advisories), status job only.
    let out = airlock(
        &[
            "run",
            status_toml,
            "--set",
            "status.now=\"2026-01-01T12:00:00Z\"",
            "--format",
            "json",
        ],
        &[],
    );
    let r = ok(&out);
    let st = &stage(&r, "status")["output"];
    assert_eq!(st["grade"], "B");
    assert_eq!(st["remediation"], "pending");
    assert_eq!(st["summary"]["medium"], 3);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("[![security grade](https://img.shields.io/endpoint?url=https%3A%2F%2Fexample.github.io%2Fairlock-demo%2Fsecurity-status%2Fbadges%2Fgrade.json)](https://example.github.io/airlock-demo/security-status/)"),
        "no badge snippet in the log:\n{stderr}"
    );
    let ix = read(&site.join("index.json"));
    assert!(
        ix["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["discovered_date"] == "2026-01-01")
    );
    validate(&site.join("index.json"));

    // Run 2, Jan 8: the full release pipeline on the new scan (two advisories resolved: a
    // security release). Its JSON report is what a CI release job leaves for the status job.
    let out = airlock(
        &[
            "run",
            release_toml.to_str().unwrap(),
            "--set",
            "status.now=\"2026-01-08T12:00:00Z\"",
            "--format",
            "json",
        ],
        &[("PYPI_TOKEN", "")],
    );
    let release = ok(&out);
    assert_eq!(stage(&release, "decide")["output"]["release"], true);
    std::fs::create_dir_all(project.join(".airlock/reports")).unwrap();
    std::fs::write(project.join(".airlock/reports/release.json"), &out.stdout).unwrap();
    let ix = read(&site.join("index.json"));
    assert_eq!(ix["security_grade"], "B");
    assert_eq!(ix["findings"].as_array().unwrap().len(), 1);
    // The persisting finding keeps its discovery date from the history: 7 days old.
    assert_eq!(ix["findings"][0]["finding_id"], "PYSEC-2022-42969");
    assert_eq!(ix["findings"][0]["discovered_date"], "2026-01-01");
    assert_eq!(ix["findings"][0]["days_since_discovery"], 7);
    let resolved: Vec<(&str, &str)> = ix["resolved"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["finding_id"].as_str().unwrap(),
                f["resolved_date"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        resolved,
        [
            ("GHSA-4xh5-x5gv-qwph", "2026-01-08"),
            ("PYSEC-2025-49", "2026-01-08")
        ]
    );
    validate(&site.join("index.json"));

    // Run 3, Jan 10: the status job on the new scan, recording the release run's report.
    let out = airlock(
        &[
            "run",
            status_toml,
            "--set",
            "detect.current=security/current",
            "--set",
            "status.now=\"2026-01-10T12:00:00Z\"",
            "--set",
            "status.report=.airlock/reports/release.json",
            "--format",
            "json",
        ],
        &[],
    );
    let r = ok(&out);
    assert_eq!(stage(&r, "status")["output"]["runs"], 3);
    let ix = read(&site.join("index.json"));
    assert_eq!(ix["findings"][0]["days_since_discovery"], 9);
    assert_eq!(ix["days_since_last_vulnerability"], 9);
    assert_eq!(ix["resolved"][0]["days_since_resolution"], 2);
    validate(&site.join("index.json"));
    let h = read(&site.join("history.json"));
    assert_eq!(h["findings"]["PYSEC-2025-49"]["first_seen"], "2026-01-01");
    assert_eq!(h["findings"]["PYSEC-2025-49"]["resolved"], "2026-01-08");
    assert_eq!(h["findings"]["PYSEC-2022-42969"]["last_seen"], "2026-01-10");

    let m = read(&site.join("metrics.json"));
    let runs = m["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3);
    // Run 1 saw decide's no-release decision (no baseline) but not the end of its run.
    assert_eq!(
        (
            &runs[0]["decision"],
            &runs[0]["trigger"],
            &runs[0]["outcome"]
        ),
        (&json!("no_release"), &json!("none"), &json!("unknown"))
    );
    // Run 3 recorded the release run from its report: outcome, files, a duration per stage.
    let last = &runs[2];
    assert_eq!(last["outcome"], "success");
    assert_eq!(last["decision"], "release");
    assert_eq!(last["trigger"], "security_auto");
    assert_eq!(last["files_published"], 2, "{last}");
    let ids: Vec<&str> = last["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "detect",
            "decide",
            "build",
            "authenticate",
            "upload",
            "status"
        ]
    );
    assert!(
        last["stages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["duration_ms"].as_f64().is_some_and(|d| d > 0.0)),
        "{last}"
    );
    assert!(last["duration_ms"].as_f64().unwrap() > 0.0);

    // Badges in shields.io's endpoint format, as of Jan 10.
    let grade = read(&site.join("badges/grade.json"));
    assert_eq!(
        grade,
        json!({"schemaVersion": 1, "label": "security", "message": "grade B", "color": "green"})
    );
    assert_eq!(
        read(&site.join("badges/vulnerabilities.json"))["message"],
        "1 medium"
    );
    assert_eq!(
        read(&site.join("badges/last-scan.json"))["label"],
        "last scan"
    );
    let html = std::fs::read_to_string(site.join("index.html")).unwrap();
    assert!(html.contains("<h1>airlock-demo security status</h1>"));
    assert!(html.contains("href=\"https://osv.dev/vulnerability/PYSEC-2022-42969\""));
    assert_eq!(html.matches("class=\"run run-").count(), 3);
}
