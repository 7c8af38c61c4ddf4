//! The bundled demo (examples/demo/security): a security-driven release. The previous scan
//! has three pip-audit advisories; the current one, after upgrading pip and setuptools,
//! still has one (py), and gitleaks reports `[]`.

use std::path::Path;

use airlock_findings::{
    DecideOptions, SeverityPolicy, StatusOptions, Trigger, decide, detect, parse_now, read_project,
    write_status,
};

#[test]
fn demo_reports_trigger_a_security_release() {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/demo");
    let sec = demo.join("security");
    let report = detect(
        Some(&sec.join("previous")),
        &sec.join("current"),
        &SeverityPolicy::default(),
    )
    .unwrap();
    assert!(report.baseline);
    assert_eq!(
        report.scanned,
        vec!["pip-audit.json", "bandit.json", "gitleaks.json"]
    );
    let mut resolved: Vec<&str> = report
        .changes
        .resolved
        .iter()
        .map(|f| f.id.as_str())
        .collect();
    resolved.sort();
    assert_eq!(resolved, ["GHSA-4xh5-x5gv-qwph", "PYSEC-2025-49"]);
    assert!(report.changes.new.is_empty());
    assert_eq!(report.findings.len(), 1);
    assert_eq!(report.findings[0].id, "PYSEC-2022-42969");

    // The demo's own pyproject (committed; it declares 0.1.0).
    let project = read_project(&demo.join("pyproject.toml")).unwrap();
    let d = decide(
        &report,
        &project,
        &DecideOptions {
            manual: false,
            tag: Some("v0.1.0".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(d.release);
    assert_eq!(d.trigger, Trigger::SecurityAuto);
    assert_eq!(d.version.as_deref(), Some("0.1.0"));
    assert!(
        d.release_notes
            .contains("[PYSEC-2025-49](https://osv.dev/vulnerability/PYSEC-2025-49)"),
        "{}",
        d.release_notes
    );

    let out = tempfile::tempdir().unwrap();
    let o = write_status(
        &report,
        &StatusOptions {
            out: out.path(),
            previous: Some(out.path()),
            now: parse_now("2025-11-03T09:20:00Z").unwrap(),
        },
    )
    .unwrap();
    assert_eq!(o.grade, "B");
    assert_eq!(
        o.resolved, 0,
        "no previous status folder: nothing to resolve"
    );
}
