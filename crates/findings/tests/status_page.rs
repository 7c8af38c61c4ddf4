//! The status page as a person sees it: index.html rendered by headless Chromium (Debian's
//! `chromium` package; CI installs it). The test adds a probe script to a copy of the page
//! (the page itself has none), reads the DOM through `--dump-dom`, and checks the grade,
//! the table rows in order, the advisory links, headings, table headers, colour contrast
//! (WCAG AA, computed styles), the phone layout and that nothing external is loaded.
//! Screenshots (phone and desktop width) are kept in `target/status-artifacts/` for CI.
//!
//! `AIRLOCK_CHROMIUM` names another Chromium binary (default `chromium`). `scripts/test`
//! sets it to `skip` only when there is no Chromium and the user cannot install one; the
//! test then prints that it did not run (and the script says so again at its end).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use airlock_findings::status::metrics::RunRecord;
use airlock_findings::status::{StatusSettings, write_status_with};
use airlock_findings::{DetectReport, StatusOptions, parse_now};
use airlock_test_support::workspace;
use serde_json::{Value, json};

fn chromium() -> String {
    std::env::var("AIRLOCK_CHROMIUM").unwrap_or_else(|_| "chromium".into())
}

/// Runs headless Chromium with `args`, killed after 60 s; returns stdout.
fn run_chromium(args: &[&str]) -> String {
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {}: {e} (install Debian's chromium package: apt-get install chromium)",
                chromium()
            )
        });
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("chromium did not finish in 60 s: {args:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn finding(id: &str, package: &str, severity: &str, fix: Option<&str>, description: &str) -> Value {
    let url = if id.starts_with("GHSA-") {
        format!("https://github.com/advisories/{id}")
    } else {
        format!("https://osv.dev/vulnerability/{id}")
    };
    json!({
        "id": id, "tool": "pip-audit", "severity": severity, "severity_source": "report",
        "package": package, "version": "1.0", "aliases": [],
        "fix_versions": fix.into_iter().collect::<Vec<_>>(),
        "description": description, "reference_url": url,
    })
}

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
        "scan_date": "2025-11-10T08:00:00Z",
    }))
    .unwrap()
}

/// A status folder after four runs: findings of every kind, one resolved, runs that
/// succeeded and failed, and an advisory whose text tries to inject markup.
fn build_site(out: &Path) {
    let low = finding(
        "PYSEC-2025-10",
        "requests",
        "low",
        Some("2.32.4"),
        "Low one.",
    );
    let med_old = finding(
        "PYSEC-2025-49",
        "setuptools",
        "medium",
        Some("78.1.1"),
        "A path traversal in PackageIndex: https://example.invalid/a/very/long/unbreakable/path/that/must/not/widen/the/page/on/a/phone/at/all/ever",
    );
    let med_new = finding(
        "GHSA-4xh5-x5gv-qwph",
        "pip",
        "medium",
        None,
        "<img src=x onerror=alert(1)><script>alert(2)</script> tar links escape",
    );
    let crit = finding(
        "GHSA-cccc-dddd-eeee",
        "urllib3",
        "critical",
        Some("2.5.0"),
        "Critical one.",
    );
    let gone = finding("PYSEC-2022-42969", "py", "medium", None, "ReDoS.");
    let runs = [
        (
            "2025-10-27T08:00:00Z",
            vec![med_old.clone(), gone.clone()],
            true,
            41_000.0,
        ),
        (
            "2025-11-01T08:00:00Z",
            vec![med_old.clone(), gone.clone(), low.clone()],
            false,
            12_000.0,
        ),
        (
            "2025-11-05T08:00:00Z",
            vec![med_old.clone(), low.clone(), med_new.clone()],
            true,
            38_000.0,
        ),
        (
            "2025-11-10T08:00:00Z",
            vec![med_old, low, med_new, crit],
            true,
            35_500.0,
        ),
    ];
    for (now, findings, ok, ms) in runs {
        let run_report = json!({
            "success": ok, "elapsed_ms": ms,
            "stages": [
                {"id": "decide", "status": "succeeded", "run_ms": 3.0, "output": {"release": ok, "trigger": "security_auto"}},
                {"id": "upload", "status": if ok {"succeeded"} else {"failed"}, "run_ms": ms - 100.0,
                 "output": {"repository": "https://upload.pypi.org/legacy/", "files": [{"filename": "p-1.tar.gz", "status": "uploaded"}]}}
            ]
        });
        write_status_with(
            &report(findings),
            &StatusOptions {
                out,
                previous: Some(out),
                now: parse_now(now).unwrap(),
            },
            &StatusSettings {
                title: "mypylogger security status".into(),
                run: Some(RunRecord::from_sources(
                    Some(&run_report),
                    &Default::default(),
                )),
                ..Default::default()
            },
        )
        .unwrap();
    }
}

/// Collects what the test checks, into `<pre id="probe-result">`.
const PROBE: &str = r#"<pre id="probe-result"></pre><script id="probe">
(function () {
  function rgb(s) { var m = s.match(/[\d.]+/g).map(Number); return {r: m[0], g: m[1], b: m[2], a: m.length > 3 ? m[3] : 1}; }
  function lum(c) { return [c.r, c.g, c.b].map(function (v) { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); })
    .reduce(function (acc, v, i) { return acc + v * [0.2126, 0.7152, 0.0722][i]; }, 0); }
  function bg(el) { for (; el; el = el.parentElement) { var c = rgb(getComputedStyle(el).backgroundColor); if (c.a > 0) return c; } return {r: 255, g: 255, b: 255, a: 1}; }
  function ratio(a, b) { var x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); }
  var failures = [], checked = 0;
  function check(el, style, what) {
    var size = parseFloat(style.fontSize), bold = parseInt(style.fontWeight, 10) >= 700;
    var need = (size >= 24 || (size >= 18.66 && bold)) ? 3 : 4.5;
    var r = ratio(rgb(style.color), bg(el)); checked++;
    if (r < need) failures.push(what + ': ' + r.toFixed(2) + ' < ' + need + ' ' + (el.id || el.className || el.tagName));
  }
  document.querySelectorAll('body *').forEach(function (el) {
    if (el.closest('svg') || el.closest('#probe-result') || el.tagName === 'SCRIPT') return;
    var own = Array.prototype.some.call(el.childNodes, function (n) { return n.nodeType === 3 && n.textContent.trim(); });
    if (own) check(el, getComputedStyle(el), 'text');
    var before = getComputedStyle(el, '::before');
    if (before.content && before.content !== 'none' && before.content !== 'normal') check(el, before, '::before');
  });
  function texts(sel) { return Array.prototype.map.call(document.querySelectorAll(sel), function (e) { return e.textContent.trim(); }); }
  function attrs(sel, a) { return Array.prototype.map.call(document.querySelectorAll(sel), function (e) { return e.getAttribute(a); }); }
  var tables = Array.prototype.map.call(document.querySelectorAll('table'), function (t) {
    return {id: t.id, caption: t.caption ? t.caption.textContent : null,
      col_headers: t.querySelectorAll('thead th[scope=col]').length,
      cells_per_row: Array.prototype.map.call(t.querySelectorAll('tbody tr'), function (r) { return r.children.length; })};
  });
  var g = document.getElementById('grade');
  document.getElementById('probe-result').textContent = JSON.stringify({
    grade: g.textContent, grade_class: g.className,
    grade_heading: g.closest('section').querySelector('h2').textContent,
    rows: attrs('#findings tbody tr', 'data-finding-id'),
    severities: texts('#findings tbody .sev'),
    links: attrs('#findings tbody a', 'href'),
    resolved: attrs('#resolved tbody tr', 'data-finding-id'),
    descriptions: texts('#findings tbody td.desc'),
    counts: {critical: texts('#count-critical')[0], high: texts('#count-high')[0], medium: texts('#count-medium')[0], low: texts('#count-low')[0]},
    scan: document.getElementById('scan-date').getAttribute('datetime'),
    headings: Array.prototype.map.call(document.querySelectorAll('h1, h2, h3, h4, h5, h6'), function (h) { return h.tagName; }),
    lang: document.documentElement.lang,
    tables: tables,
    charts: Array.prototype.map.call(document.querySelectorAll('svg'), function (s) { return {id: s.id, role: s.getAttribute('role'), title: s.querySelector('title').textContent, rects: s.querySelectorAll('rect').length}; }),
    run_bars: attrs('#chart-runs rect.run', 'class'),
    contrast_failures: failures, contrast_checked: checked,
    width: window.innerWidth, scroll_width: document.documentElement.scrollWidth,
    resources: performance.getEntriesByType('resource').length,
    scripts: document.querySelectorAll('script').length, images: document.querySelectorAll('img').length
  });
})();
</script>"#;

fn artifacts() -> PathBuf {
    let d = workspace().join("target/status-artifacts");
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn chromium_renders_the_page_people_read() {
    if chromium() == "skip" {
        eprintln!(
            "NOT RUN: AIRLOCK_CHROMIUM=skip (install Chromium: sudo apt-get install chromium)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("site");
    build_site(&out);
    let page = std::fs::read_to_string(out.join("index.html")).unwrap();
    let probe_page = out.join("probe.html");
    std::fs::write(
        &probe_page,
        page.replace("</body>", &format!("{PROBE}\n</body>")),
    )
    .unwrap();
    let url = format!("file://{}", probe_page.display());
    // 500 px is the narrowest window headless Chromium lays out; below the page's 40rem
    // (640 px) breakpoint, so this is the phone layout.
    let dom = run_chromium(&["--window-size=500,1000", "--dump-dom", &url]);
    let start = dom.find("<pre id=\"probe-result\">").expect("probe output")
        + "<pre id=\"probe-result\">".len();
    let end = start + dom[start..].find("</pre>").unwrap();
    let text = dom[start..end]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&");
    let r: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));

    assert_eq!(r["grade"], "F", "{r}");
    assert_eq!(r["grade_class"], "grade grade-F");
    assert_eq!(r["grade_heading"], "Grade");
    assert_eq!(
        r["counts"],
        json!({"critical": "1", "high": "0", "medium": "2", "low": "1"})
    );
    // Severity, then age: the older medium (Oct 27) before the newer one (Nov 5).
    assert_eq!(
        r["rows"],
        json!([
            "GHSA-cccc-dddd-eeee",
            "PYSEC-2025-49",
            "GHSA-4xh5-x5gv-qwph",
            "PYSEC-2025-10"
        ])
    );
    assert_eq!(
        r["severities"],
        json!(["critical", "medium", "medium", "low"])
    );
    assert_eq!(
        r["links"],
        json!([
            "https://github.com/advisories/GHSA-cccc-dddd-eeee",
            "https://osv.dev/vulnerability/PYSEC-2025-49",
            "https://github.com/advisories/GHSA-4xh5-x5gv-qwph",
            "https://osv.dev/vulnerability/PYSEC-2025-10"
        ])
    );
    assert_eq!(r["resolved"], json!(["PYSEC-2022-42969"]));
    assert_eq!(r["scan"], "2025-11-10T08:00:00Z");
    // The injected markup is text, not elements: only the probe's own script exists.
    assert_eq!(
        (r["scripts"].as_u64(), r["images"].as_u64()),
        (Some(1), Some(0))
    );
    assert!(
        r["descriptions"][2]
            .as_str()
            .unwrap()
            .starts_with("<img src=x onerror=alert(1)><script>")
    );
    // Accessibility: language, one h1 then h2s, captions and column headers, contrast.
    assert_eq!(r["lang"], "en");
    let headings: Vec<&str> = r["headings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap())
        .collect();
    assert_eq!(headings[0], "H1");
    assert!(
        headings[1..].iter().all(|h| *h == "H2") && headings.len() >= 5,
        "{headings:?}"
    );
    for t in r["tables"].as_array().unwrap() {
        assert!(t["caption"].as_str().is_some_and(|c| !c.is_empty()), "{t}");
        let cols = t["col_headers"].as_u64().unwrap();
        assert!(cols >= 6, "{t}");
        assert!(
            t["cells_per_row"]
                .as_array()
                .unwrap()
                .iter()
                .all(|c| c.as_u64() == Some(cols)),
            "{t}"
        );
    }
    assert_eq!(r["tables"].as_array().unwrap().len(), 2);
    assert_eq!(r["contrast_failures"], json!([]), "{r}");
    assert!(r["contrast_checked"].as_u64().unwrap() > 50, "{r}");
    // Phone: nothing wider than the window (the long description wraps).
    let width = r["width"].as_u64().unwrap();
    assert!(width < 640, "not the phone layout: {width}");
    assert!(r["scroll_width"].as_u64().unwrap() <= width, "{r}");
    // Self-contained: nothing fetched.
    assert_eq!(r["resources"], 0);
    // The charts: one bar group per day from Oct 27 to Nov 10, four runs (one failed).
    let charts = r["charts"].as_array().unwrap();
    assert_eq!(charts.len(), 2);
    assert!(charts.iter().all(|c| c["role"] == "img"));
    assert_eq!(
        r["run_bars"],
        json!([
            "run run-success",
            "run run-failure",
            "run run-success",
            "run run-success"
        ])
    );

    // Screenshots for people (CI keeps them as artifacts).
    let page_url = format!("file://{}", out.join("index.html").display());
    for (name, size) in [
        ("status-phone.png", "500,2200"),
        ("status-desktop.png", "1280,1600"),
    ] {
        let png = artifacts().join(name);
        let _ = std::fs::remove_file(&png);
        run_chromium(&[
            &format!("--window-size={size}"),
            &format!("--screenshot={}", png.display()),
            &page_url,
        ]);
        let bytes = std::fs::read(&png).unwrap();
        assert!(
            bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 10_000,
            "{name}"
        );
    }
}
