//! `index.html`: the status page people read. One self-contained file: inline CSS and
//! inline SVG, no script, no external stylesheet, font or image.
//!
//! It shows the grade, the counts by severity, the open findings (sorted by severity, then
//! oldest first, with links to the advisories), the recently resolved findings, the last
//! scan time, and two charts drawn as inline SVG: open findings by severity per day (from
//! `history.json`) and the recent runs with their outcome and duration (from
//! `metrics.json`).
//!
//! Accessibility (WCAG 2.1 AA): `lang`, one `h1` then `h2`s, tables with a `caption` and
//! `th scope="col"`, every text colour pair at least 4.5:1 ([`PALETTE`]), charts as
//! `role="img"` with a text alternative. On narrow screens (phones) table rows become
//! labelled cards, so nothing scrolls sideways. All text from advisories is escaped
//! ([`html_escape`]); only `http(s)` URLs become links.

use time::Date;

use super::metrics::Metrics;
use super::{History, StatusIndex, parse_date};
use crate::model::Severity;

/// Options of [`render`].
#[derive(Debug, Clone)]
pub struct PageOptions<'a> {
    /// The `h1` and `<title>`.
    pub title: &'a str,
    /// The day of this run (the right end of the findings chart).
    pub today: Date,
}

/// The text colour pairs of the page, `(foreground, background, what)`, each with a WCAG
/// contrast ratio of at least 4.5:1 (checked by a unit test and in a browser).
pub const PALETTE: [(&str, &str, &str); 13] = [
    ("#1f2328", "#ffffff", "body text"),
    ("#1f2328", "#f6f8fa", "table header"),
    ("#0550ae", "#ffffff", "links"),
    ("#57606a", "#ffffff", "secondary text"),
    ("#ffffff", "#116329", "grade A"),
    ("#ffffff", "#1a7f37", "grade B"),
    ("#000000", "#d4a72c", "grade C"),
    ("#ffffff", "#bc4c00", "grade D"),
    ("#ffffff", "#a40e26", "grade F"),
    ("#82071e", "#ffebe9", "critical"),
    ("#8a3c00", "#fff1e5", "high"),
    ("#6b4f00", "#fff8c5", "medium"),
    ("#0550ae", "#ddf4ff", "low"),
];

/// Fill colours of the severities in charts (at least 3:1 against white, WCAG 1.4.11).
fn chart_color(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "#a40e26",
        Severity::High => "#bc4c00",
        Severity::Medium => "#9a6700",
        Severity::Low => "#0969da",
        Severity::Info => "#6e7781",
    }
}

/// Escapes text for HTML (and SVG) element content and quoted attribute values:
/// `& < > " '` (the foundation's [`airlock_pypkg::simple::escape`], which the simple index
/// pages use too).
pub fn html_escape(s: &str) -> String {
    airlock_pypkg::simple::escape(s)
}

/// Only `http(s)` URLs become links (no `javascript:` or `data:`).
fn safe_url(u: &str) -> Option<&str> {
    let l = u.trim_start().to_ascii_lowercase();
    (l.starts_with("https://") || l.starts_with("http://")).then_some(u)
}

/// A link to `url` if it is safe, else the text alone; both escaped.
fn link(url: Option<&str>, text: &str) -> String {
    match url.and_then(safe_url) {
        Some(u) => format!("<a href=\"{}\">{}</a>", html_escape(u), html_escape(text)),
        None => html_escape(text),
    }
}

fn plural(n: i64, one: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {one}s")
    }
}

/// Renders the page.
pub fn render(ix: &StatusIndex, history: &History, metrics: &Metrics, o: &PageOptions) -> String {
    let e = html_escape;
    let s = &ix.vulnerability_summary;
    let g = e(&ix.security_grade);
    let counts: String = Severity::ALL
        .iter()
        .map(|sev| {
            format!(
                "<li class=\"count sev-{sev}\"><span class=\"n\" id=\"count-{sev}\">{}</span> {sev}</li>",
                s.count(*sev)
            )
        })
        .collect();
    let mut rows = String::new();
    for f in &ix.findings {
        rows.push_str(&format!(
            "<tr data-finding-id=\"{id}\"><th scope=\"row\" data-label=\"Finding\">{link}</th><td data-label=\"Severity\"><span class=\"sev sev-{sev}\">{sev}</span></td><td data-label=\"Package\">{pkg}</td><td data-label=\"Version\">{ver}</td><td data-label=\"Fixed in\">{fix}</td><td data-label=\"Discovered\"><time datetime=\"{disc}\">{disc}</time> ({age})</td><td data-label=\"Description\" class=\"desc\">{desc}</td></tr>\n",
            id = e(&f.finding_id),
            link = link(f.reference_url.as_deref(), &f.finding_id),
            sev = f.severity,
            pkg = e(f.package.as_deref().unwrap_or("")),
            ver = e(f.version.as_deref().unwrap_or("")),
            fix = e(f.fix_version.as_deref().unwrap_or("no fix yet")),
            disc = e(&f.discovered_date),
            age = plural(f.days_since_discovery, "day"),
            desc = e(&f.description),
        ));
    }
    let findings = if ix.findings.is_empty() {
        "<p id=\"no-findings\">No open findings.</p>".to_string()
    } else {
        format!(
            "<table id=\"findings\">\n<caption>Open findings, most severe first, then oldest first</caption>\n<thead><tr><th scope=\"col\">Finding</th><th scope=\"col\">Severity</th><th scope=\"col\">Package</th><th scope=\"col\">Version</th><th scope=\"col\">Fixed in</th><th scope=\"col\">Discovered</th><th scope=\"col\">Description</th></tr></thead>\n<tbody>\n{rows}</tbody>\n</table>"
        )
    };
    let mut rrows = String::new();
    for r in &ix.resolved {
        rrows.push_str(&format!(
            "<tr data-finding-id=\"{id}\"><th scope=\"row\" data-label=\"Finding\">{link}</th><td data-label=\"Severity\"><span class=\"sev sev-{sev}\">{sev}</span></td><td data-label=\"Package\">{pkg}</td><td data-label=\"Discovered\"><time datetime=\"{disc}\">{disc}</time></td><td data-label=\"Resolved\"><time datetime=\"{res}\">{res}</time></td><td data-label=\"Open for\">{open}</td></tr>\n",
            id = e(&r.finding_id),
            link = link(r.reference_url.as_deref(), &r.finding_id),
            sev = r.severity,
            pkg = e(r.package.as_deref().unwrap_or("")),
            disc = e(&r.discovered_date),
            res = e(&r.resolved_date),
            open = plural(r.days_open, "day"),
        ));
    }
    let resolved = if ix.resolved.is_empty() {
        "<p id=\"no-resolved\">Nothing resolved recently.</p>".to_string()
    } else {
        format!(
            "<table id=\"resolved\">\n<caption>Resolved findings, most recent first</caption>\n<thead><tr><th scope=\"col\">Finding</th><th scope=\"col\">Severity</th><th scope=\"col\">Package</th><th scope=\"col\">Discovered</th><th scope=\"col\">Resolved</th><th scope=\"col\">Open for</th></tr></thead>\n<tbody>\n{rrows}</tbody>\n</table>"
        )
    };
    let remediation = match ix.remediation_status.as_str() {
        "overdue" => format!(
            "overdue: a finding with a fix available is older than {}",
            plural(ix.overdue_after_days, "day")
        ),
        "pending" => "pending: open findings await a fix".to_string(),
        other => e(other),
    };
    format!(
        r##"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}: grade {g}</title>
<style>
* {{ box-sizing: border-box; }}
body {{ font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto; max-width: 72rem; padding: 1rem; color: #1f2328; background: #ffffff; line-height: 1.45; }}
a {{ color: #0550ae; }}
.muted {{ color: #57606a; }}
.summary {{ display: flex; flex-wrap: wrap; gap: 1rem 2rem; align-items: center; }}
.grade {{ display: inline-block; font-size: 3rem; font-weight: 700; border-radius: .5rem; padding: .1rem 1.2rem; margin: 0; }}
.grade-A {{ color: #ffffff; background: #116329; }} .grade-B {{ color: #ffffff; background: #1a7f37; }}
.grade-C {{ color: #000000; background: #d4a72c; }} .grade-D {{ color: #ffffff; background: #bc4c00; }}
.grade-F {{ color: #ffffff; background: #a40e26; }}
ul.counts {{ list-style: none; padding: 0; margin: 0; display: flex; flex-wrap: wrap; gap: .5rem; }}
li.count {{ padding: .3rem .7rem; border-radius: .4rem; }}
li.count .n {{ font-weight: 700; font-size: 1.3rem; }}
.sev {{ padding: .05rem .4rem; border-radius: .3rem; font-weight: 600; }}
.sev-critical {{ color: #82071e; background: #ffebe9; }} .sev-high {{ color: #8a3c00; background: #fff1e5; }}
.sev-medium {{ color: #6b4f00; background: #fff8c5; }} .sev-low {{ color: #0550ae; background: #ddf4ff; }}
.sev-info {{ color: #57606a; background: #f6f8fa; }}
table {{ border-collapse: collapse; width: 100%; margin-top: .5rem; }}
caption {{ text-align: left; color: #57606a; padding: .3rem 0; }}
th, td {{ border: 1px solid #d0d7de; padding: .4rem; text-align: left; vertical-align: top; }}
thead th {{ background: #f6f8fa; }}
tbody th {{ font-weight: 600; white-space: nowrap; }}
td.desc {{ overflow-wrap: anywhere; }}
figure {{ margin: 1rem 0; }}
svg {{ width: 100%; height: auto; max-width: 44rem; display: block; }}
.legend {{ list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: .3rem 1rem; }}
.swatch {{ display: inline-block; width: .8rem; height: .8rem; margin-right: .3rem; vertical-align: middle; }}
@media (max-width: 40rem) {{
  table, thead, tbody, tr, th, td, caption {{ display: block; }}
  thead {{ position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }}
  tbody tr {{ border: 1px solid #d0d7de; border-radius: .4rem; margin-bottom: .7rem; }}
  tbody th, tbody td {{ border: none; padding: .2rem .5rem; white-space: normal; }}
  tbody th::before, tbody td::before {{ content: attr(data-label) ": "; font-weight: 600; color: #57606a; }}
}}
</style>
</head>
<body>
<header>
<h1>{title}</h1>
<p>Last scan: <time id="scan-date" datetime="{scan}">{scan}</time>. <span class="muted">Page updated <time datetime="{updated}">{updated}</time>.</span></p>
</header>
<main>
<section aria-labelledby="h-grade">
<h2 id="h-grade">Grade</h2>
<div class="summary">
<p id="grade" class="grade grade-{g}">{g}</p>
<div>
<p>Remediation: <strong id="remediation">{remediation}</strong>.</p>
<p>Days since the last vulnerability: <strong id="days-since">{since}</strong>.</p>
</div>
</div>
</section>
<section aria-labelledby="h-counts">
<h2 id="h-counts">Open findings: {total}</h2>
<ul class="counts">{counts}</ul>
</section>
<section aria-labelledby="h-findings">
<h2 id="h-findings">Open findings</h2>
{findings}
</section>
<section aria-labelledby="h-resolved">
<h2 id="h-resolved">Recently resolved</h2>
{resolved}
</section>
<section aria-labelledby="h-trend">
<h2 id="h-trend">Trend</h2>
{chart_findings}
{chart_runs}
</section>
</main>
<footer>
<p class="muted">Data: <a href="index.json">index.json</a> · <a href="history.json">history.json</a> · <a href="metrics.json">metrics.json</a>. Grade: any critical F; more than two high D; any high or more than five medium C; any medium or more than ten low B; else A.</p>
</footer>
</body>
</html>
"##,
        title = e(o.title),
        scan = e(&ix.scan_date),
        updated = e(&ix.last_updated),
        since = ix.days_since_last_vulnerability,
        total = s.total,
        chart_findings = findings_chart(history, o.today),
        chart_runs = runs_chart(metrics),
    )
}

/// Days shown in the findings chart.
const CHART_DAYS: i64 = 90;

/// Open findings by severity per day, as stacked bars, from the first day in the history
/// (at most [`CHART_DAYS`] days back) to `today`.
pub fn findings_chart(history: &History, today: Date) -> String {
    let first = history
        .findings
        .values()
        .filter_map(|e| parse_date(&e.first_seen))
        .min()
        .unwrap_or(today)
        .max(today - time::Duration::days(CHART_DAYS - 1))
        .min(today);
    let n = (today - first).whole_days() + 1;
    let days: Vec<Date> = (0..n).map(|i| first + time::Duration::days(i)).collect();
    let counts: Vec<[u64; 5]> = days
        .iter()
        .map(|d| {
            let mut c = [0u64; 5];
            for e in history.findings.values() {
                let Some(start) = parse_date(&e.first_seen) else {
                    continue;
                };
                let end = e.resolved.as_deref().and_then(parse_date);
                if start <= *d && end.is_none_or(|r| *d < r) {
                    let i = Severity::ALL
                        .iter()
                        .position(|s| *s == e.severity)
                        .unwrap_or(4);
                    c[i] += 1;
                }
            }
            c
        })
        .collect();
    let max = counts
        .iter()
        .map(|c| c.iter().sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let (w, h, left, top, bottom) = (600.0_f64, 160.0_f64, 30.0_f64, 10.0_f64, 20.0_f64);
    let plot_w = w - left - 5.0;
    let plot_h = h - top - bottom;
    let bw = plot_w / n as f64;
    let mut bars = String::new();
    for (d, c) in days.iter().zip(&counts) {
        let x = left + bw * (*d - first).whole_days() as f64;
        let mut y = top + plot_h;
        let parts: Vec<String> = Severity::ALL
            .iter()
            .zip(c)
            .filter(|(_, k)| **k > 0)
            .map(|(s, k)| format!("{k} {s}"))
            .collect();
        let label = if parts.is_empty() {
            "none".to_string()
        } else {
            parts.join(", ")
        };
        bars.push_str(&format!("<g><title>{d}: {label}</title>"));
        for (i, k) in c.iter().enumerate() {
            if *k == 0 {
                continue;
            }
            let bh = plot_h * *k as f64 / max as f64;
            y -= bh;
            bars.push_str(&format!(
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"{}\"/>",
                (bw - 1.0).max(1.0),
                chart_color(Severity::ALL[i])
            ));
        }
        bars.push_str("</g>");
    }
    let now = counts.last().copied().unwrap_or_default();
    let now_total: u64 = now.iter().sum();
    let legend: String = Severity::ALL
        .iter()
        .map(|s| {
            format!(
                "<li><span class=\"swatch\" style=\"background:{}\"></span>{s}</li>",
                chart_color(*s)
            )
        })
        .collect();
    format!(
        r##"<figure>
<svg id="chart-findings" role="img" aria-labelledby="chart-findings-title chart-findings-desc" viewBox="0 0 {w} {h}" xmlns="http://www.w3.org/2000/svg">
<title id="chart-findings-title">Open findings by severity per day</title>
<desc id="chart-findings-desc">From {first} to {today}: at most {max} open findings on one day; {now_total} open today.</desc>
<line x1="{left}" y1="{base}" x2="{right}" y2="{base}" stroke="#57606a"/>
<text x="{lx}" y="{ty}" font-size="11" fill="#57606a" text-anchor="end">{max}</text>
<text x="{lx}" y="{base}" font-size="11" fill="#57606a" text-anchor="end">0</text>
{bars}
<text x="{left}" y="{h}" font-size="11" fill="#57606a">{first}</text>
<text x="{right}" y="{h}" font-size="11" fill="#57606a" text-anchor="end">{today}</text>
</svg>
<figcaption>Open findings by severity, per day (from history.json).</figcaption>
<ul class="legend">{legend}</ul>
</figure>"##,
        base = top + plot_h,
        right = w - 5.0,
        lx = left - 4.0,
        ty = top + 8.0,
    )
}

/// Runs shown in the runs chart.
const CHART_RUNS: usize = 30;

/// The most recent runs as bars: height = duration, colour = outcome.
pub fn runs_chart(metrics: &Metrics) -> String {
    let runs = &metrics.runs[metrics.runs.len().saturating_sub(CHART_RUNS)..];
    let max = runs
        .iter()
        .filter_map(|r| r.duration_ms)
        .fold(0.0_f64, f64::max);
    let (w, h, left, top, bottom) = (600.0_f64, 140.0_f64, 50.0_f64, 10.0_f64, 20.0_f64);
    let plot_w = w - left - 5.0;
    let plot_h = h - top - bottom;
    let slot = plot_w / CHART_RUNS as f64;
    let mut bars = String::new();
    let (mut ok, mut failed) = (0, 0);
    for (i, r) in runs.iter().enumerate() {
        let color = match r.outcome.as_str() {
            "success" => {
                ok += 1;
                "#1a7f37"
            }
            "failure" => {
                failed += 1;
                "#cf222e"
            }
            _ => "#6e7781",
        };
        let (bh, dur) = match r.duration_ms {
            Some(d) if max > 0.0 => ((plot_h * d / max).max(2.0), format!("{:.1} s", d / 1000.0)),
            _ => (plot_h * 0.15, "duration unknown".to_string()),
        };
        let x = left + slot * i as f64;
        let title = format!(
            "{}: {}, {}, trigger {}, {} file(s) published, {}",
            r.date,
            r.outcome,
            r.decision.as_deref().unwrap_or("no decision"),
            r.trigger.as_deref().unwrap_or("unknown"),
            r.files_published,
            dur
        );
        bars.push_str(&format!(
            "<rect class=\"run run-{outcome}\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bw:.1}\" height=\"{bh:.1}\" fill=\"{color}\"><title>{t}</title></rect>",
            outcome = html_escape(&r.outcome),
            y = top + plot_h - bh,
            bw = (slot - 2.0).max(1.0),
            t = html_escape(&title),
        ));
    }
    let max_label = if max > 0.0 {
        format!("{:.1} s", max / 1000.0)
    } else {
        String::new()
    };
    format!(
        r##"<figure>
<svg id="chart-runs" role="img" aria-labelledby="chart-runs-title chart-runs-desc" viewBox="0 0 {w} {h}" xmlns="http://www.w3.org/2000/svg">
<title id="chart-runs-title">Recent runs: outcome and duration</title>
<desc id="chart-runs-desc">The last {n} runs: {ok} succeeded, {failed} failed, {unknown} without a known outcome.</desc>
<line x1="{left}" y1="{base}" x2="{right}" y2="{base}" stroke="#57606a"/>
<text x="{lx}" y="{ty}" font-size="11" fill="#57606a" text-anchor="end">{max_label}</text>
{bars}
<text x="{left}" y="{h}" font-size="11" fill="#57606a">{first}</text>
<text x="{last_x:.1}" y="{h}" font-size="11" fill="#57606a" text-anchor="end">{last}</text>
</svg>
<figcaption>Recent runs (from metrics.json): bar height is the run's duration; colour is the outcome.</figcaption>
<ul class="legend"><li><span class="swatch" style="background:#1a7f37"></span>success</li><li><span class="swatch" style="background:#cf222e"></span>failure</li><li><span class="swatch" style="background:#6e7781"></span>unknown</li></ul>
</figure>"##,
        n = runs.len(),
        unknown = runs.len() - ok - failed,
        base = top + plot_h,
        right = w - 5.0,
        lx = left - 4.0,
        ty = top + 8.0,
        last_x = (left + slot * runs.len() as f64).clamp(left + 120.0, w - 5.0),
        first = html_escape(
            runs.first()
                .map(|r| r.date.get(..10).unwrap_or(""))
                .unwrap_or("")
        ),
        last = html_escape(
            runs.last()
                .map(|r| r.date.get(..10).unwrap_or(""))
                .unwrap_or("")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn luminance(hex: &str) -> f64 {
        let c = |i: usize| {
            let v = u8::from_str_radix(&hex[i..i + 2], 16).unwrap() as f64 / 255.0;
            if v <= 0.03928 {
                v / 12.92
            } else {
                ((v + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * c(1) + 0.7152 * c(3) + 0.0722 * c(5)
    }

    /// WCAG 2.1 contrast ratio of two `#rrggbb` colours.
    fn contrast(a: &str, b: &str) -> f64 {
        let (x, y) = (luminance(a), luminance(b));
        (x.max(y) + 0.05) / (x.min(y) + 0.05)
    }

    #[test]
    fn every_text_colour_pair_meets_wcag_aa() {
        for (fg, bg, what) in PALETTE {
            let r = contrast(fg, bg);
            assert!(r >= 4.5, "{what}: {fg} on {bg} is {r:.2}:1");
        }
        for s in Severity::ALL {
            let r = contrast(chart_color(s), "#ffffff");
            assert!(r >= 3.0, "{s} chart colour is {r:.2}:1 against white");
        }
        // The check itself tells a bad pair: yellow on white.
        assert!(contrast("#d4a72c", "#ffffff") < 4.5);
    }

    #[test]
    fn escaping_and_links() {
        assert_eq!(
            html_escape(r#"<img src=x onerror="a('b')">&"#),
            "&lt;img src=x onerror=&quot;a(&#x27;b&#x27;)&quot;&gt;&amp;"
        );
        assert_eq!(link(Some("javascript:alert(1)"), "X"), "X");
        assert_eq!(link(Some(" JAVASCRIPT:alert(1)"), "X"), "X");
        assert_eq!(
            link(Some("https://osv.dev/vulnerability/A?b=1&c=\"2\""), "A<"),
            "<a href=\"https://osv.dev/vulnerability/A?b=1&amp;c=&quot;2&quot;\">A&lt;</a>"
        );
    }
}
