//! Security intelligence, end to end through the library: the decision table for every
//! pair of mypylogger 0.2.8's archived scans, and synthetic cases for every matrix row,
//! alias matching, baselines and severity rules, written as real report files.
//!
//! `cargo test -p airlock-findings --test intel -- --nocapture` prints both decision tables.

use std::path::{Path, PathBuf};

use airlock_findings::{
    Baseline, DecideOptions, DetectOptions, ReportGlobs, Severity, SeverityPolicy, Trigger, decide,
    detect, detect_with, read_project,
};
use airlock_test_support::mypylogger_project;
use serde_json::json;

fn mypylogger_scans(root: &Path) -> Vec<(String, PathBuf)> {
    let reports = root.join("security/reports");
    let mut out: Vec<(String, PathBuf)> = ["2025-10-27", "2025-10-28", "2025-10-30", "2025-10-31"]
        .iter()
        .map(|d| (d.to_string(), reports.join("archived").join(d)))
        .collect();
    out.push(("latest".into(), reports.join("latest")));
    out
}

#[test]
fn every_pair_of_mypylogger_scans_decides_no_release() {
    let root = mypylogger_project();
    let project = read_project(&root.join("pyproject.toml")).unwrap();
    let scans = mypylogger_scans(&root);
    let three = ["GHSA-4xh5-x5gv-qwph", "PYSEC-2022-42969", "PYSEC-2025-49"];
    println!("| previous | current | new | resolved | changed | findings | release | trigger |");
    println!("|---|---|---|---|---|---|---|---|");
    let mut pairs = 0;
    for (i, (pname, prev)) in scans.iter().enumerate() {
        for (j, (cname, cur)) in scans.iter().enumerate() {
            if i == j {
                continue;
            }
            let r = detect(Some(prev), cur, &SeverityPolicy::default()).unwrap();
            assert!(r.baseline);
            let c = &r.changes;
            assert!(
                c.new.is_empty() && c.resolved.is_empty() && c.severity_changed.is_empty(),
                "{pname} → {cname}: {c:?}"
            );
            let mut ids: Vec<&str> = r.findings.iter().map(|f| f.id.as_str()).collect();
            ids.sort();
            assert_eq!(ids, three, "{pname} → {cname}");
            assert!(
                r.findings.iter().all(
                    |f| f.severity == Severity::Medium && f.severity_source == "policy:default"
                )
            );
            let d = decide(
                &r,
                &project,
                &DecideOptions {
                    tag: Some("v0.2.8".into()),
                    ..Default::default()
                },
            )
            .unwrap();
            assert!(!d.release, "{pname} → {cname}: {}", d.justification);
            assert_eq!(d.trigger, Trigger::None);
            assert!(d.rules.is_empty());
            assert!(
                d.justification.contains("3 findings unchanged"),
                "{}",
                d.justification
            );
            println!(
                "| {pname} | {cname} | {} | {} | {} | {} | {} | {:?} |",
                c.new.len(),
                c.resolved.len(),
                c.severity_changed.len(),
                r.summary.total,
                d.release,
                d.trigger
            );
            pairs += 1;
        }
    }
    assert_eq!(pairs, 20);
}

/// Writes `files` (name, content) into a fresh folder.
fn folder(files: &[(&str, String)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

fn pip_audit(vulns: &[(&str, &str, &str, &[&str])]) -> String {
    let deps: Vec<_> = vulns
        .iter()
        .map(|(pkg, ver, id, aliases)| {
            json!({"name": pkg, "version": ver, "vulns": [
                {"id": id, "fix_versions": ["99.0"], "aliases": aliases, "description": "an advisory"}]})
        })
        .collect();
    let mut deps = deps;
    deps.push(json!({"name": "mypylogger", "skip_reason": "Dependency not found on PyPI and could not be audited: mypylogger (0.2.8)"}));
    json!({"dependencies": deps, "fixes": []}).to_string()
}

fn osv(pkg: &str, ver: &str, id: &str, aliases: &[&str], max: &str) -> String {
    json!({"results": [{"source": {"path": "/src/requirements.txt", "type": "lockfile"}, "packages": [{
        "package": {"name": pkg, "version": ver, "ecosystem": "PyPI"},
        "vulnerabilities": [{"id": id, "aliases": aliases, "summary": "an OSV advisory",
            "affected": [{"package": {"name": pkg, "ecosystem": "PyPI"}, "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0"}]}]}]}],
        "groups": [{"ids": [id], "aliases": aliases, "max_severity": max}]}]}]})
    .to_string()
}

fn bandit(sev: &str, line: u64) -> String {
    json!({"errors": [], "generated_at": "2025-11-01T00:00:00Z", "metrics": {}, "results": [{
        "code": format!("{line} yaml.load(data)\n"), "filename": "./src/app.py", "issue_severity": sev,
        "issue_confidence": "HIGH", "issue_text": "Use of unsafe yaml load.", "line_number": line,
        "line_range": [line], "more_info": "https://bandit.readthedocs.io/en/1.8.6/plugins/b506_yaml_load.html",
        "test_id": "B506", "test_name": "yaml_load"}]})
    .to_string()
}

fn sarif(level: &str, line: u64) -> String {
    json!({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "CodeQL", "rules": [
        {"id": "py/command-line-injection", "helpUri": "https://codeql.github.com/codeql-query-help/python/py-command-line-injection/",
         "properties": {"security-severity": "9.8"}}]}},
      "results": [{"ruleId": "py/command-line-injection", "ruleIndex": 0, "level": level,
        "message": {"text": "This command line depends on a user-provided value."},
        "locations": [{"physicalLocation": {"artifactLocation": {"uri": "src/app.py"}, "region": {"startLine": line}}}],
        "partialFingerprints": {"primaryLocationLineHash": "5ab1e3a0c0ffee00:1"}}]}]})
    .to_string()
}

const GITLEAK: &str = r#"[{"RuleID": "aws-access-token", "Description": "AWS access key", "File": "deploy/settings.py", "StartLine": 7, "Secret": "AKIAXXXXXXXXXXXXXXXX", "Match": "AKIAXXXXXXXXXXXXXXXX", "Fingerprint": "deploy/settings.py:aws-access-token:7"}]"#;

struct Case {
    name: &'static str,
    previous: Option<Vec<(&'static str, String)>>,
    current: Vec<(&'static str, String)>,
    opts: DecideOptions,
    policy: SeverityPolicy,
    want: (bool, Trigger),
}

fn case(
    name: &'static str,
    previous: Option<Vec<(&'static str, String)>>,
    current: Vec<(&'static str, String)>,
    want: (bool, Trigger),
) -> Case {
    Case {
        name,
        previous,
        current,
        opts: DecideOptions::default(),
        policy: SeverityPolicy::default(),
        want,
    }
}

#[test]
fn synthetic_cases_cover_every_matrix_row() {
    let py = ("py", "1.11.0", "PYSEC-2022-42969", &["CVE-2022-42969"][..]);
    let base = || vec![("pip-audit.json", pip_audit(&[py]))];
    let mut cases = vec![
        case(
            "new high (OSV CVSS max_severity 7.5)",
            Some(base()),
            vec![
                ("pip-audit.json", pip_audit(&[py])),
                (
                    "osv.json",
                    osv(
                        "jinja2",
                        "3.1.2",
                        "GHSA-h75v-3vvj-5mfj",
                        &["CVE-2024-56326"],
                        "7.5",
                    ),
                ),
            ],
            (true, Trigger::SecurityAuto),
        ),
        case(
            "new critical (SARIF security-severity 9.8)",
            Some(vec![("pip-audit.json", pip_audit(&[py]))]),
            vec![
                ("pip-audit.json", pip_audit(&[py])),
                ("codeql.sarif", sarif("error", 12)),
            ],
            (true, Trigger::SecurityAuto),
        ),
        case(
            "new medium (pip-audit, policy default)",
            Some(vec![("pip-audit.json", pip_audit(&[]))]),
            base(),
            (false, Trigger::None),
        ),
        case(
            "new leaked secret (gitleaks, policy secret high)",
            Some(vec![
                ("gitleaks.json", "[]".into()),
                ("pip-audit.json", pip_audit(&[])),
            ]),
            vec![
                ("gitleaks.json", GITLEAK.into()),
                ("pip-audit.json", pip_audit(&[])),
            ],
            (true, Trigger::SecurityAuto),
        ),
        case(
            "empty gitleaks report stays empty",
            Some(vec![("gitleaks.json", "[]".into())]),
            vec![("gitleaks.json", r#"{"findings": []}"#.into())],
            (false, Trigger::None),
        ),
        case(
            "resolved (py advisory gone)",
            Some(base()),
            vec![("pip-audit.json", pip_audit(&[]))],
            (true, Trigger::SecurityAuto),
        ),
        case(
            "severity raised medium → high (bandit)",
            Some(vec![("bandit.json", bandit("MEDIUM", 5))]),
            vec![("bandit.json", bandit("HIGH", 9))],
            (true, Trigger::SecurityAuto),
        ),
        case(
            "severity lowered high → medium (bandit)",
            Some(vec![("bandit.json", bandit("HIGH", 5))]),
            vec![("bandit.json", bandit("MEDIUM", 5))],
            (false, Trigger::None),
        ),
        case(
            "SARIF finding moved 40 lines (same fingerprint)",
            Some(vec![("codeql.sarif", sarif("error", 12))]),
            vec![("codeql.sarif", sarif("error", 52))],
            (false, Trigger::None),
        ),
        case(
            "alias: PYSEC id → GHSA id listing it",
            Some(base()),
            vec![(
                "pip-audit.json",
                pip_audit(&[("py", "1.11.0", "GHSA-w596-4wvx-j9j6", &["PYSEC-2022-42969"])]),
            )],
            (false, Trigger::None),
        ),
        case(
            "alias: GHSA id → CVE id sharing the CVE alias",
            Some(vec![(
                "pip-audit.json",
                pip_audit(&[("pip", "25.2", "GHSA-4xh5-x5gv-qwph", &["CVE-2025-8869"])]),
            )]),
            vec![(
                "pip-audit.json",
                pip_audit(&[("pip", "25.2", "CVE-2025-8869", &["GHSA-4xh5-x5gv-qwph"])]),
            )],
            (false, Trigger::None),
        ),
        case(
            "alias across tools: pip-audit → OSV-Scanner",
            Some(base()),
            vec![(
                "osv-scanner.json",
                osv(
                    "py",
                    "1.11.0",
                    "GHSA-w596-4wvx-j9j6",
                    &["CVE-2022-42969"],
                    "5.3",
                ),
            )],
            (false, Trigger::None),
        ),
        case(
            "first run, no baseline, critical present",
            None,
            vec![("codeql.sarif", sarif("error", 12))],
            (false, Trigger::None),
        ),
        case(
            "empty baseline folder (.gitkeep only), new high",
            Some(vec![
                (".gitkeep", String::new()),
                ("summary.md", "# scans".into()),
            ]),
            vec![("codeql.sarif", sarif("error", 12))],
            (true, Trigger::SecurityAuto),
        ),
        case(
            "timestamped copies deduplicate",
            Some(base()),
            vec![
                ("pip-audit.json", pip_audit(&[py])),
                ("pip-audit-2025-11-01T06-00-00.json", pip_audit(&[py])),
                ("dependency-tree.json", "{\"not\": \"a report\"}".into()),
            ],
            (false, Trigger::None),
        ),
    ];
    let mut manual = case(
        "manual trigger, nothing changed",
        Some(base()),
        base(),
        (true, Trigger::Manual),
    );
    manual.opts.manual = true;
    cases.push(manual);
    let mut lowered = case(
        "override lowers a new critical to low",
        Some(vec![("pip-audit.json", pip_audit(&[]))]),
        vec![
            ("pip-audit.json", pip_audit(&[])),
            ("codeql.sarif", sarif("error", 12)),
        ],
        (false, Trigger::None),
    );
    lowered.policy.overrides = airlock_findings::reports::parse_overrides(
        "overrides.toml",
        "[overrides]\n\"py/command-line-injection:src/app.py:\" = \"low\"\n",
    )
    .unwrap();
    // The override key must be the finding's full id: fill it in from a first parse.
    let sarif_id = {
        let d = folder(&[("codeql.sarif", sarif("error", 12))]);
        detect(None, d.path(), &SeverityPolicy::default())
            .unwrap()
            .findings[0]
            .id
            .clone()
    };
    lowered.policy.overrides[0].key = sarif_id;
    cases.push(lowered);
    let mut strict = case(
        "threshold new = medium, new medium",
        Some(vec![("pip-audit.json", pip_audit(&[]))]),
        base(),
        (true, Trigger::SecurityAuto),
    );
    strict.opts.thresholds.new = Some(Severity::Medium);
    cases.push(strict);

    let project = airlock_findings::Project {
        name: Some("demo".into()),
        version: Some("1.0.0".into()),
        version_source: "pyproject.toml [project].version".into(),
        version_error: None,
    };
    println!("| case | baseline | new | resolved | changed | release | trigger | rules |");
    println!("|---|---|---|---|---|---|---|---|");
    for c in &cases {
        let prev = c.previous.as_ref().map(|p| folder(p));
        let cur = folder(&c.current);
        let out = detect_with(&DetectOptions {
            baseline: prev
                .as_ref()
                .map_or(Baseline::None, |p| Baseline::Folder(p.path())),
            current: cur.path(),
            policy: &c.policy,
            globs: &ReportGlobs::default(),
        })
        .unwrap_or_else(|e| panic!("{}: {e}", c.name));
        let r = &out.report;
        let d = decide(r, &project, &c.opts).unwrap_or_else(|e| panic!("{}: {e}", c.name));
        println!(
            "| {} | {} | {} | {} | {} | {} | {:?} | {} |",
            c.name,
            r.baseline,
            r.changes.new.len(),
            r.changes.resolved.len(),
            r.changes.severity_changed.len(),
            d.release,
            d.trigger,
            d.rules.join(", ")
        );
        assert_eq!(
            (d.release, d.trigger),
            c.want,
            "{}: {}",
            c.name,
            d.justification
        );
        if c.name.starts_with("alias") || c.name.contains("moved") {
            assert!(
                r.changes.new.is_empty() && r.changes.resolved.is_empty(),
                "{}",
                c.name
            );
        }
        if c.name.starts_with("timestamped") {
            assert_eq!(r.findings.len(), 1);
            assert_eq!(r.scanned.len(), 2);
            assert_eq!(out.ignored, vec!["dependency-tree.json"]);
        }
        if c.name.starts_with("override") {
            assert!(r.findings[0].severity_source.starts_with("override:"));
        }
        if d.release && d.trigger == Trigger::SecurityAuto {
            for f in r.changes.new.iter().chain(&r.changes.resolved) {
                if let Some(u) = &f.reference_url {
                    assert!(
                        d.release_notes.contains(&format!("]({u})")),
                        "{}",
                        d.release_notes
                    );
                }
                assert!(
                    d.release_notes.contains(f.severity.as_str()),
                    "{}",
                    d.release_notes
                );
            }
        }
    }
}

#[test]
fn a_malformed_picked_report_stops_detect_and_names_file_path_and_format() {
    let prev = folder(&[("pip-audit.json", pip_audit(&[]))]);
    let cur = folder(&[
        ("pip-audit.json", pip_audit(&[])),
        (
            "bandit.json",
            json!({"results": [{"filename": "a.py", "issue_severity": "LOW", "line_number": 1}]})
                .to_string(),
        ),
    ]);
    let msg = detect(Some(prev.path()), cur.path(), &SeverityPolicy::default())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("bandit.json"), "{msg}");
    assert!(
        msg.contains(".results[0]") && msg.contains("test_id"),
        "{msg}"
    );
    assert!(msg.contains("bandit JSON report"), "{msg}");
}

#[test]
fn previous_scan_from_the_last_runs_state() {
    use sha2::{Digest, Sha256};
    let cur = folder(&[("pip-audit.json", pip_audit(&[]))]);
    let first = folder(&[(
        "pip-audit.json",
        pip_audit(&[("pip", "25.2", "GHSA-4xh5-x5gv-qwph", &["CVE-2025-8869"])]),
    )]);
    let state = tempfile::tempdir().unwrap();
    let (policy, globs) = (SeverityPolicy::default(), ReportGlobs::default());
    let opts = |b| DetectOptions {
        baseline: b,
        current: cur.path(),
        policy: &policy,
        globs: &globs,
    };
    let b = Baseline::State {
        dir: state.path(),
        stage: "detect",
    };
    // First run: no state yet → no baseline.
    let r = detect_with(&opts(b)).unwrap().report;
    assert!(!r.baseline);
    assert!(r.warnings[0].contains("first run"), "{:?}", r.warnings);
    // The last run's output, as the host writes it.
    let last = detect(None, first.path(), &SeverityPolicy::default()).unwrap();
    let text = serde_json::to_string_pretty(&last).unwrap();
    std::fs::create_dir_all(state.path().join("outputs")).unwrap();
    std::fs::write(state.path().join("outputs/detect.json"), &text).unwrap();
    let digest = hex(&Sha256::digest(text.as_bytes()));
    let st = json!({"version": 1, "pipeline": "p", "stages": {"detect": {"status": "succeeded", "output": "outputs/detect.json", "sha256": digest}}});
    std::fs::write(state.path().join("state.json"), st.to_string()).unwrap();
    let r = detect_with(&opts(b)).unwrap().report;
    assert!(r.baseline);
    assert_eq!(r.changes.resolved.len(), 1);
    assert_eq!(r.previous_scanned, vec!["outputs/detect.json"]);
    // A tampered output is refused.
    std::fs::write(
        state.path().join("outputs/detect.json"),
        text.replace("25.2", "25.1"),
    )
    .unwrap();
    let msg = detect_with(&opts(b)).unwrap_err().to_string();
    assert!(msg.contains("state.json records"), "{msg}");
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
