//! Ground truth: mypylogger 0.2.8's own security reports (shipped in its sdist under
//! security/reports/). The original system decided no release on every consecutive pair of
//! archived scans and graded the project B with three medium pip-audit advisories.
//!
//! The fixture is the unpacked sdist at target/fixtures/mypylogger-0.2.8, downloaded from
//! PyPI and unpacked by `airlock_test_support::mypylogger_project` when absent.

use std::path::{Path, PathBuf};

use airlock_test_support::mypylogger_project;

use airlock_findings::{
    DecideOptions, Severity, SeverityPolicy, StatusOptions, Trigger, decide, detect, parse_now,
    read_project, write_status,
};

/// archived/<date>/ folders in date order, then latest/.
fn scans(root: &Path) -> Vec<PathBuf> {
    let archived = root.join("security/reports/archived");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&archived)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs.push(root.join("security/reports/latest"));
    dirs
}

#[test]
fn every_consecutive_pair_decides_no_release() {
    let root = mypylogger_project();
    let project = read_project(&root.join("pyproject.toml")).unwrap();
    assert_eq!(project.name.as_deref(), Some("mypylogger"));
    let scans = scans(&root);
    assert!(scans.len() >= 5, "{scans:?}");
    for pair in scans.windows(2) {
        let report = detect(Some(&pair[0]), &pair[1], &SeverityPolicy::default()).unwrap();
        assert!(report.baseline);
        assert!(
            report.changes.new.is_empty()
                && report.changes.resolved.is_empty()
                && report.changes.severity_changed.is_empty(),
            "{pair:?}: {:?}",
            report.changes
        );
        let d = decide(
            &report,
            &project,
            &DecideOptions {
                manual: false,
                tag: Some("v0.2.8".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert!(!d.release, "{pair:?}: {}", d.justification);
        assert_eq!(d.trigger, Trigger::None);
        assert_eq!(d.version.as_deref(), Some("0.2.8"));
        assert!(d.checks.iter().all(|c| c.ok), "{:?}", d.checks);
    }
}

#[test]
fn latest_grades_b_with_three_medium_advisories() {
    let root = mypylogger_project();
    let reports = root.join("security/reports");
    let report = detect(
        Some(&reports.join("archived/2025-10-31")),
        &reports.join("latest"),
        &SeverityPolicy::default(),
    )
    .unwrap();
    let mut got: Vec<(String, String, String, Severity)> = report
        .findings
        .iter()
        .map(|f| {
            (
                f.id.clone(),
                f.package.clone().unwrap(),
                f.version.clone().unwrap(),
                f.severity,
            )
        })
        .collect();
    got.sort();
    let want = [
        ("GHSA-4xh5-x5gv-qwph", "pip", "25.2"),
        ("PYSEC-2022-42969", "py", "1.11.0"),
        ("PYSEC-2025-49", "setuptools", "75.3.2"),
    ]
    .map(|(i, p, v)| {
        (
            i.to_string(),
            p.to_string(),
            v.to_string(),
            Severity::Medium,
        )
    });
    assert_eq!(got, want);
    assert_eq!(report.scanned, vec!["pip-audit.json", "bandit.json"]);

    // The original page, as previous status, seeds the discovery dates.
    let out = tempfile::tempdir().unwrap();
    let original = root.join("docs/security-status");
    let o = write_status(
        &report,
        &StatusOptions {
            out: out.path(),
            previous: Some(&original),
            now: parse_now("2025-10-31T16:37:53Z").unwrap(),
        },
    )
    .unwrap();
    assert_eq!(o.grade, "B");
    assert_eq!((o.summary.total, o.summary.medium), (3, 3));
    let ix: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("index.json")).unwrap())
            .unwrap();
    let orig: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(original.join("index.json")).unwrap())
            .unwrap();
    assert_eq!(ix["vulnerability_summary"], orig["vulnerability_summary"]);
    assert_eq!(ix["security_grade"], orig["security_grade"]);
    assert_eq!(ix["remediation_status"], orig["remediation_status"]);
    // Every key of the original schema is there.
    for key in orig.as_object().unwrap().keys() {
        assert!(ix.get(key).is_some(), "index.json lacks {key}");
    }
    for key in orig["findings"][0].as_object().unwrap().keys() {
        assert!(ix["findings"][0].get(key).is_some(), "finding lacks {key}");
    }
    let setuptools = ix["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["finding_id"] == "PYSEC-2025-49")
        .unwrap();
    assert_eq!(setuptools["discovered_date"], "2025-10-27");
    assert_eq!(setuptools["days_since_discovery"], 4);
    assert_eq!(setuptools["fix_version"], "78.1.1");
    assert_eq!(
        setuptools["reference_url"],
        "https://osv.dev/vulnerability/PYSEC-2025-49"
    );
}
