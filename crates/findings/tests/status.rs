//! The status folder over successive runs, on mypylogger's real reports, against the
//! shipped JSON Schema (validated by Python's `jsonschema`, tests/requirements.txt), and
//! escaped against HTML injection.

use std::path::Path;
use std::process::Command;

use airlock_findings::status::{StatusSettings, write_status_with};
use airlock_findings::{
    DetectReport, SeverityPolicy, StatusOptions, detect, parse_now, write_status,
};
use airlock_test_support::{mypylogger_project, workspace};
use serde_json::{Value, json};

/// A pip-audit finding as detect reports it.
fn finding(id: &str, package: &str, severity: &str, fix: Option<&str>, description: &str) -> Value {
    json!({
        "id": id, "tool": "pip-audit", "severity": severity, "severity_source": "report",
        "package": package, "version": "1.0", "aliases": [],
        "fix_versions": fix.into_iter().collect::<Vec<_>>(),
        "description": description,
        "reference_url": format!("https://osv.dev/vulnerability/{id}"),
    })
}

/// A detect report with these findings (summary computed by the library's own type).
fn report(findings: Vec<Value>) -> DetectReport {
    let mut summary =
        json!({"total": 0, "critical": 0, "high": 0, "medium": 0, "low": 0, "info": 0});
    for f in &findings {
        let sev = f["severity"].as_str().unwrap();
        summary[sev] = json!(summary[sev].as_u64().unwrap() + 1);
        summary["total"] = json!(summary["total"].as_u64().unwrap() + 1);
    }
    serde_json::from_value(json!({
        "findings": findings, "summary": summary,
        "changes": {"new": [], "resolved": [], "severity_changed": []}, "baseline": true,
    }))
    .unwrap()
}

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Validates `instance` against schemas/security-status.schema.json with Python's
/// jsonschema (Draft 2020-12, formats checked); returns the error message when invalid.
fn validate(instance: &Value) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("index.json");
    std::fs::write(&file, instance.to_string()).unwrap();
    let schema = workspace().join("schemas/security-status.schema.json");
    let out = Command::new("python3")
        .args([
            "-c",
            "import json, sys, jsonschema\n\
             schema = json.load(open(sys.argv[1]))\n\
             jsonschema.Draft202012Validator.check_schema(schema)\n\
             v = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)\n\
             errors = [f'{list(e.absolute_path)}: {e.message}' for e in v.iter_errors(json.load(open(sys.argv[2])))]\n\
             print('\\n'.join(errors)); sys.exit(1 if errors else 0)",
        ])
        .arg(&schema)
        .arg(&file)
        .output()
        .expect("python3 runs");
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

#[test]
fn history_across_three_runs_a_finding_appears_persists_and_is_resolved() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("site");
    let run = |r: &DetectReport, now: &str| {
        write_status(
            r,
            &StatusOptions {
                out: &out,
                previous: Some(&out),
                now: parse_now(now).unwrap(),
            },
        )
        .unwrap()
    };
    let old = finding(
        "PYSEC-2025-49",
        "setuptools",
        "medium",
        Some("78.1.1"),
        "path traversal",
    );
    let new = finding("GHSA-4xh5-x5gv-qwph", "pip", "high", None, "tar links");

    // Run 1 (Oct 27): one medium finding, first seen today.
    let o = run(&report(vec![old.clone()]), "2025-10-27T09:00:00Z");
    assert_eq!((o.grade.as_str(), o.remediation.as_str()), ("B", "pending"));
    let ix = read(&out.join("index.json"));
    assert_eq!(ix["findings"][0]["discovered_date"], "2025-10-27");
    assert_eq!(ix["findings"][0]["days_since_discovery"], 0);
    assert_eq!(ix["days_since_last_vulnerability"], 0);
    validate(&ix).unwrap();

    // Run 2 (Nov 3): it persists (discovery date from history, 7 days old) and a high one
    // appears; the high one sorts first.
    let o = run(
        &report(vec![old.clone(), new.clone()]),
        "2025-11-03T09:00:00Z",
    );
    assert_eq!(o.grade, "C");
    let ix = read(&out.join("index.json"));
    let rows: Vec<(&str, &str, i64)> = ix["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["finding_id"].as_str().unwrap(),
                f["discovered_date"].as_str().unwrap(),
                f["days_since_discovery"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("GHSA-4xh5-x5gv-qwph", "2025-11-03", 0),
            ("PYSEC-2025-49", "2025-10-27", 7)
        ]
    );
    assert_eq!(ix["days_since_last_vulnerability"], 0);
    assert_eq!(ix["resolved"], json!([]));
    validate(&ix).unwrap();

    // Run 3 (Nov 10): the medium one is fixed; resolved on Nov 10 after 14 days open. The
    // high one is now 7 days old, which the history knows and the clock alone could not.
    let o = run(&report(vec![new.clone()]), "2025-11-10T09:00:00Z");
    assert_eq!(
        (o.grade.as_str(), o.resolved, o.tracked, o.runs),
        ("C", 1, 2, 3)
    );
    let ix = read(&out.join("index.json"));
    assert_eq!(ix["findings"][0]["discovered_date"], "2025-11-03");
    assert_eq!(ix["findings"][0]["days_since_discovery"], 7);
    assert_eq!(ix["days_since_last_vulnerability"], 7);
    assert_eq!(
        ix["resolved"],
        json!([{"finding_id": "PYSEC-2025-49", "package": "setuptools", "severity": "medium",
            "discovered_date": "2025-10-27", "resolved_date": "2025-11-10", "days_open": 14,
            "days_since_resolution": 0, "reference_url": "https://osv.dev/vulnerability/PYSEC-2025-49"}])
    );
    validate(&ix).unwrap();
    let h = read(&out.join("history.json"));
    assert_eq!(
        h["findings"]["PYSEC-2025-49"],
        json!({"aliases": [], "package": "setuptools", "severity": "medium",
            "first_seen": "2025-10-27", "last_seen": "2025-11-03", "resolved": "2025-11-10"})
    );
    assert_eq!(
        h["findings"]["GHSA-4xh5-x5gv-qwph"]["resolved"],
        Value::Null
    );
    let m = read(&out.join("metrics.json"));
    let dates: Vec<&str> = m["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["date"].as_str().unwrap())
        .collect();
    assert_eq!(
        dates,
        [
            "2025-10-27T09:00:00Z",
            "2025-11-03T09:00:00Z",
            "2025-11-10T09:00:00Z"
        ]
    );
    assert_eq!(m["runs"][2]["grade"], "C");
    assert_eq!(m["runs"][2]["open"]["high"], 1);
    // The page lists the resolved finding and draws the trend.
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(
        html.contains("<tr data-finding-id=\"PYSEC-2025-49\">"),
        "resolved row"
    );
    assert!(
        html.contains("<title>2025-11-05: 1 high, 1 medium</title>"),
        "trend bar for Nov 5"
    );
    assert!(
        html.contains("<title>2025-11-10: 1 high</title>"),
        "trend bar for Nov 10"
    );
}

#[test]
fn mypylogger_latest_grades_b_with_three_medium_findings_pending() {
    let root = mypylogger_project();
    let reports = root.join("security/reports");
    let report = detect(
        Some(&reports.join("archived/2025-10-31")),
        &reports.join("latest"),
        &SeverityPolicy::default(),
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let o = write_status_with(
        &report,
        &StatusOptions {
            out: out.path(),
            previous: Some(&root.join("docs/security-status")),
            now: parse_now("2025-10-31T16:37:53Z").unwrap(),
        },
        &StatusSettings::default(),
    )
    .unwrap();
    assert_eq!(o.grade, "B");
    assert_eq!((o.summary.total, o.summary.medium), (3, 3));
    assert_eq!(o.remediation, "pending");
    let ix = read(&out.path().join("index.json"));
    validate(&ix).unwrap();
    let ids: Vec<&str> = ix["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["finding_id"].as_str().unwrap())
        .collect();
    // All medium and all first seen on Oct 27 (the original page): ordered by id.
    assert_eq!(
        ids,
        ["GHSA-4xh5-x5gv-qwph", "PYSEC-2022-42969", "PYSEC-2025-49"]
    );
    for f in ix["findings"].as_array().unwrap() {
        assert_eq!(f["discovered_date"], "2025-10-27");
        assert_eq!(f["days_since_discovery"], 4);
    }
    // setuptools has a fix (78.1.1): past the overdue threshold, remediation is overdue.
    let late = write_status_with(
        &report,
        &StatusOptions {
            out: out.path(),
            previous: Some(&root.join("docs/security-status")),
            now: parse_now("2025-12-01T00:00:00Z").unwrap(),
        },
        &StatusSettings::default(),
    )
    .unwrap();
    assert_eq!(late.remediation, "overdue");
    let ix = read(&out.path().join("index.json"));
    assert_eq!(ix["overdue_after_days"], 30);
    validate(&ix).unwrap();
    let badge = read(&out.path().join("badges/grade.json"));
    assert_eq!(
        badge,
        json!({"schemaVersion": 1, "label": "security", "message": "grade B", "color": "green"})
    );
    assert_eq!(
        read(&out.path().join("badges/vulnerabilities.json"))["message"],
        "3 medium"
    );
}

#[test]
fn the_schema_rejects_what_the_original_got_wrong_or_omitted() {
    let dir = tempfile::tempdir().unwrap();
    write_status(
        &report(vec![finding("PYSEC-1", "py", "low", None, "x")]),
        &StatusOptions {
            out: dir.path(),
            previous: None,
            now: parse_now("2025-10-27T00:00:00Z").unwrap(),
        },
    )
    .unwrap();
    let good = read(&dir.path().join("index.json"));
    validate(&good).unwrap();
    let bad = |f: &dyn Fn(&mut Value)| {
        let mut v = good.clone();
        f(&mut v);
        validate(&v).expect_err(&format!("accepted {v}"))
    };
    assert!(bad(&|v| v["security_grade"] = json!("E")).contains("security_grade"));
    assert!(bad(&|v| v["remediation_status"] = json!("late")).contains("remediation_status"));
    bad(&|v| {
        v.as_object_mut().unwrap().remove("resolved");
    });
    bad(&|v| v["findings"][0]["discovered_date"] = json!("today"));
    bad(&|v| v["findings"][0]["severity"] = json!("moderate"));
    bad(&|v| v["findings"][0]["reference_url"] = json!("javascript:alert(1)"));
    bad(&|v| v["schema_version"] = json!(2));
}

#[test]
fn html_injection_in_advisory_text_is_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let evil = r#"</td></tr></table><script>alert(document.cookie)</script><img src=x onerror="alert(1)"><a href="javascript:alert(2)">x</a>"#;
    let mut f = finding(
        "PYSEC-2024-1",
        "<b>pkg</b>",
        "high",
        Some("2.0\"><script>"),
        evil,
    );
    f["reference_url"] = json!("javascript:alert(3)");
    let mut g = finding("GHSA-xxxx-yyyy-zzzz", "ok", "low", None, "plain");
    g["reference_url"] =
        json!("https://github.com/advisories/GHSA-xxxx-yyyy-zzzz?a=1&b=\"><script>");
    write_status(
        &report(vec![f, g]),
        &StatusOptions {
            out: dir.path(),
            previous: None,
            now: parse_now("2025-10-27T00:00:00Z").unwrap(),
        },
    )
    .unwrap();
    let html = std::fs::read_to_string(dir.path().join("index.html")).unwrap();
    for tag in ["<script", "<img", "<b>", "href=\"javascript:", "onerror=\""] {
        assert!(!html.contains(tag), "{tag} reached the page unescaped");
    }
    assert!(html.contains("&lt;script&gt;alert(document.cookie)&lt;/script&gt;&lt;img src=x onerror=&quot;alert(1)&quot;&gt;"));
    assert!(html.contains("&lt;b&gt;pkg&lt;/b&gt;"));
    assert!(html.contains("2.0&quot;&gt;&lt;script&gt;"));
    // The finding with a javascript: reference is plain text; the https one is a link with
    // its attribute escaped.
    assert!(html.contains("<th scope=\"row\" data-label=\"Finding\">PYSEC-2024-1</th>"));
    assert!(html.contains("href=\"https://github.com/advisories/GHSA-xxxx-yyyy-zzzz?a=1&amp;b=&quot;&gt;&lt;script&gt;\""));
    // Self-contained: no script, stylesheet, font or image is fetched.
    for ext in ["src=\"", "<link", "@import", "url("] {
        assert!(!html.contains(ext), "{ext} in the page");
    }
}
