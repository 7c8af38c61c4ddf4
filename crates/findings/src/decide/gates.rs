//! The quality gates a release must pass: a JUnit XML report (pytest `--junitxml`) with
//! tests and no failure, and a Cobertura XML report (coverage.py `coverage xml`) at or above
//! the minimum line coverage.

use super::*;

/// Quality gates: files produced by the test job, checked before a release.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Gates {
    /// A JUnit XML report (pytest `--junitxml`): passes when it has at least one test case
    /// and none failed or errored.
    pub junit: Option<std::path::PathBuf>,
    /// A Cobertura XML report (coverage.py `coverage xml`) and the minimum line coverage in
    /// percent: passes when the root's `line-rate` × 100 is at or above it.
    pub coverage: Option<(std::path::PathBuf, f64)>,
}

/// The quality gate checks (`gate_junit`, `gate_coverage`), with hints for failures.
pub(super) fn gate_checks(gates: &Gates, hints: &mut Vec<String>) -> Vec<Check> {
    let mut out = Vec::new();
    if let Some(path) = &gates.junit {
        let (ok, detail) = match junit_counts(path) {
            Err(e) => (false, e),
            Ok((0, _, _)) => (
                false,
                format!("{} has no test case: nothing was tested", path.display()),
            ),
            Ok((n, 0, 0)) => (true, format!("{}: {n} tests, no failure", path.display())),
            Ok((n, f, e)) => (
                false,
                format!("{}: {n} tests, {f} failed, {e} errors", path.display()),
            ),
        };
        if !ok {
            hints.push("fix the failing tests (quality gate junit)".into());
        }
        out.push(Check {
            name: "gate_junit".into(),
            ok,
            detail,
        });
    }
    if let Some((path, min)) = &gates.coverage {
        let (ok, detail) = match cobertura_line_rate(path) {
            Err(e) => (false, e),
            Ok(rate) => {
                let pct = rate * 100.0;
                (
                    pct + 1e-9 >= *min,
                    format!(
                        "{}: line coverage {pct:.2}% (minimum {min}%)",
                        path.display()
                    ),
                )
            }
        };
        if !ok {
            hints.push(format!(
                "raise line coverage to {min}% or lower the gate (quality gate coverage)"
            ));
        }
        out.push(Check {
            name: "gate_coverage".into(),
            ok,
            detail,
        });
    }
    out
}

fn read_xml(path: &Path) -> std::result::Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// (test cases, failed, errored) of a JUnit XML report: `<testsuites>` or `<testsuite>`
/// root, counting `<testcase>` elements and those with a `<failure>` or `<error>` child
/// (the JUnit schema as pytest, Maven Surefire and Ant write it).
pub fn junit_counts(path: &Path) -> std::result::Result<(u64, u64, u64), String> {
    let text = read_xml(path)?;
    let doc = roxmltree::Document::parse(&text)
        .map_err(|e| format!("{} is not XML: {e}", path.display()))?;
    let root = doc.root_element().tag_name().name();
    if root != "testsuites" && root != "testsuite" {
        return Err(format!(
            "{} is not a JUnit XML report: root <{root}>, expected <testsuites> or <testsuite>",
            path.display()
        ));
    }
    let (mut n, mut failed, mut errors) = (0, 0, 0);
    for case in doc.descendants().filter(|x| x.has_tag_name("testcase")) {
        n += 1;
        if case.children().any(|c| c.has_tag_name("failure")) {
            failed += 1;
        } else if case.children().any(|c| c.has_tag_name("error")) {
            errors += 1;
        }
    }
    Ok((n, failed, errors))
}

/// The root `line-rate` (0.0–1.0) of a Cobertura XML report (coverage.py `coverage xml`).
pub fn cobertura_line_rate(path: &Path) -> std::result::Result<f64, String> {
    let text = read_xml(path)?;
    let doc = roxmltree::Document::parse(&text)
        .map_err(|e| format!("{} is not XML: {e}", path.display()))?;
    let root = doc.root_element();
    if !root.has_tag_name("coverage") {
        return Err(format!(
            "{} is not a Cobertura XML report: root <{}>, expected <coverage>",
            path.display(),
            root.tag_name().name()
        ));
    }
    root.attribute("line-rate")
        .and_then(|r| r.parse::<f64>().ok())
        .filter(|r| (0.0..=1.0).contains(r))
        .ok_or_else(|| format!("{} has no valid line-rate on <coverage>", path.display()))
}
