//! The failure report the host passes to an on-failure stage, and its rendering as GitHub
//! Markdown (issue title, issue body, comment body).
//!
//! Rendering rules (GitHub Flavored Markdown, <https://github.github.com/gfm/>):
//! - Free text from the failed stage (message, hint, log lines) goes verbatim into fenced
//!   `text` blocks whose fence is longer than any backtick run inside, so nothing in it is
//!   rendered: no `@mention` pings anyone, no `#123` links an issue, no HTML is interpreted.
//! - Short fields (pipeline, stage, category, event, repository) go into code spans.
//! - A body is at most [`MAX_BODY_CHARS`] characters (GitHub refuses longer bodies with
//!   422): the oldest log lines are left out first, with a line saying how many.
//! - The issue body starts with a hidden marker naming the pipeline ([`marker`]), so the
//!   stage finds the issue it opened for this pipeline again and leaves other issues with the
//!   same label alone.

use std::fmt::Write as _;

use airlock_stage::StageError;

/// GitHub's limit on an issue or comment body, in characters.
pub const MAX_BODY_CHARS: usize = 65_536;
/// GitHub's limit on an issue title, in characters.
pub const MAX_TITLE_CHARS: usize = 256;
/// The longest message or hint rendered, in characters (the rest is cut with "…").
pub const MAX_TEXT_CHARS: usize = 8_000;
/// The longest log line rendered, in characters (the rest is cut with "…").
pub const MAX_LINE_CHARS: usize = 1_000;

/// The default issue title template (see [`title`]).
pub const DEFAULT_TITLE: &str = "Release failed: {pipeline} at stage {stage} ({category})";

/// The run's failure report, as the host passes it in the input with id `failure` (the
/// SDK's type). All text is already redacted by the host.
pub use airlock_stage::FailureReport;

/// What the body and title say for a field the report does not have (a run that failed
/// outside any stage has no stage, category or message).
const UNKNOWN: &str = "(none)";

/// `field`, or [`UNKNOWN`].
fn known(field: &Option<String>) -> &str {
    field.as_deref().unwrap_or(UNKNOWN)
}

/// The hidden first line of an issue opened for `pipeline`: an HTML comment (not shown by
/// GitHub) with the pipeline name percent-encoded, e.g.
/// `<!-- airlock-notify pipeline="my%20release" -->`.
pub fn marker(pipeline: &str) -> String {
    // `~` is encoded too (unlike RFC 3986's unreserved set): markers of issues opened
    // before must keep matching.
    const MARKER: &percent_encoding::AsciiSet = &airlock_stage::http::COMPONENT.add(b'~');
    let enc = percent_encoding::utf8_percent_encode(pipeline, MARKER);
    format!("<!-- airlock-notify pipeline=\"{enc}\" -->")
}

/// The issue title: `template` (default [`DEFAULT_TITLE`]) with its placeholders replaced,
/// line breaks turned into spaces, cut to [`MAX_TITLE_CHARS`].
///
/// Placeholders: `{pipeline}`, `{stage}`, `{category}`, `{run_id}`, `{event}`,
/// `{repository}`, `{exit_code}`, `{timestamp}` (an absent run id, event or repository is
/// empty, an absent stage or category `(none)`); `{{` and `}}` are literal braces. Errors ([`airlock_stage::Category::Configuration`]): an unknown
/// placeholder, an unclosed `{`, or a title that comes out empty.
pub fn title(template: Option<&str>, report: &FailureReport) -> Result<String, StageError> {
    let template = template.unwrap_or(DEFAULT_TITLE);
    let mut out = String::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '{' => {
                let mut name = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(c) => name.push(c),
                        None => {
                            return Err(StageError::config(format!(
                                "config.title: unclosed '{{' in \"{template}\""
                            ))
                            .with_hint("write a literal brace as {{ or }}"));
                        }
                    }
                }
                let value = match name.as_str() {
                    "pipeline" => report.pipeline.clone(),
                    "stage" => known(&report.stage).to_string(),
                    "category" => known(&report.category).to_string(),
                    "run_id" => report.run_id.clone().unwrap_or_default(),
                    "event" => report.event.clone().unwrap_or_default(),
                    "repository" => report.repository.clone().unwrap_or_default(),
                    "exit_code" => report.exit_code.to_string(),
                    "timestamp" => report.timestamp.clone(),
                    other => {
                        return Err(StageError::config(format!(
                            "config.title: unknown placeholder {{{other}}}"
                        ))
                        .with_hint(
                            "allowed: {pipeline}, {stage}, {category}, {run_id}, {event}, \
                             {repository}, {exit_code}, {timestamp}",
                        ));
                    }
                };
                out.push_str(&value);
            }
            c => out.push(c),
        }
    }
    let out = out.split_whitespace().collect::<Vec<_>>().join(" ");
    if out.is_empty() {
        return Err(StageError::config(format!(
            "config.title: \"{template}\" gives an empty title"
        ))
        .with_hint("GitHub requires a title; include some text or {pipeline}"));
    }
    Ok(clip(&out, MAX_TITLE_CHARS))
}

/// The body of a new issue: the [`marker`], a heading, the facts, the error, the hint, the
/// log excerpt and a footer saying later failures come as comments. At most
/// [`MAX_BODY_CHARS`] characters.
pub fn issue_body(report: &FailureReport) -> String {
    let head = format!(
        "{}\n## Release pipeline {} failed at stage {}\n\n",
        marker(&report.pipeline),
        code(&report.pipeline),
        code(known(&report.stage))
    );
    let foot = "\n---\n<sub>Opened by airlock's notify stage. Later failures of this pipeline \
                are added here as comments while this issue is open; close it once releases \
                work again.</sub>\n";
    render(report, &head, foot)
}

/// The body of a comment on the issue already open for this pipeline: like [`issue_body`]
/// with a "failed again" heading, no marker and no footer. At most [`MAX_BODY_CHARS`]
/// characters.
pub fn comment_body(report: &FailureReport) -> String {
    let head = format!(
        "## Failed again at stage {}{}\n\n",
        code(known(&report.stage)),
        match &report.run_id {
            Some(id) => format!(" (run {})", code(id)),
            None => String::new(),
        }
    );
    render(report, &head, "")
}

/// `head`, the facts, error, hint and as many of the newest log lines as fit, then `foot`.
fn render(report: &FailureReport, head: &str, foot: &str) -> String {
    let mut top = String::from(head);
    let _ = writeln!(top, "- **Stage:** {}", code(known(&report.stage)));
    let _ = writeln!(top, "- **Category:** {}", code(known(&report.category)));
    let _ = writeln!(top, "- **Exit code:** {}", report.exit_code);
    let run = match (&report.run_id, &report.run_url) {
        (id, Some(url)) if is_plain_url(url) => Some(format!(
            "[{}]({url})",
            id.as_deref()
                .map_or("workflow run".to_string(), |i| format!("run {i}"))
                .replace(['[', ']', '\\'], "")
        )),
        (Some(id), _) => Some(code(id)),
        (None, Some(url)) => Some(code(url)),
        (None, None) => None,
    };
    if let Some(run) = run {
        let event = report
            .event
            .as_deref()
            .map(|e| format!(" (event {})", code(e)))
            .unwrap_or_default();
        let _ = writeln!(top, "- **Run:** {run}{event}");
    } else if let Some(e) = &report.event {
        let _ = writeln!(top, "- **Event:** {}", code(e));
    }
    if let Some(repo) = &report.repository {
        let _ = writeln!(top, "- **Repository:** {}", code(repo));
    }
    let _ = writeln!(top, "- **Time:** {}", code(&report.timestamp));
    let _ = write!(
        top,
        "\n### Error\n\n{}",
        fenced(&clip(
            report
                .message
                .as_deref()
                .unwrap_or("the run failed outside any stage: see the run's log"),
            MAX_TEXT_CHARS
        ))
    );
    if let Some(hint) = &report.hint {
        let _ = write!(
            top,
            "\n### What to do\n\n{}",
            fenced(&clip(hint, MAX_TEXT_CHARS))
        );
    }
    let lines: Vec<String> = report
        .log_excerpt
        .iter()
        .map(|l| clip(l, MAX_LINE_CHARS))
        .collect();
    if lines.is_empty() {
        return format!("{top}\n### Log excerpt\n\n_No log lines were captured._\n{foot}");
    }
    // Keep the newest lines that fit: drop from the front until the body is short enough.
    let mut skip = 0;
    loop {
        let kept = &lines[skip..];
        let heading = if skip == 0 {
            format!("\n### Log excerpt (last {} lines)\n\n", kept.len())
        } else {
            format!(
                "\n### Log excerpt (last {} lines; {skip} earlier lines left out to fit GitHub's limit)\n\n",
                kept.len()
            )
        };
        let body = format!("{top}{heading}{}{foot}", fenced(&kept.join("\n")));
        if body.chars().count() <= MAX_BODY_CHARS || skip + 1 >= lines.len() {
            return body;
        }
        // Skip roughly as many lines as the excess needs, at least one.
        let excess = body.chars().count() - MAX_BODY_CHARS;
        let mut freed = 0;
        while freed < excess && skip + 1 < lines.len() {
            freed += lines[skip].chars().count() + 1;
            skip += 1;
        }
    }
}

/// `s` as a GFM code span: delimited by one backtick more than its longest backtick run,
/// padded with spaces when it starts or ends with a backtick, line breaks as spaces.
pub fn code(s: &str) -> String {
    let s = s.replace(['\r', '\n'], " ");
    let ticks = "`".repeat(longest_run(&s, '`') + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') || s.is_empty() {
        " "
    } else {
        ""
    };
    format!("{ticks}{pad}{s}{pad}{ticks}")
}

/// `s` in a fenced `text` block whose fence (at least three backticks) is longer than any
/// backtick run in `s`, ending with a newline.
pub fn fenced(s: &str) -> String {
    let fence = "`".repeat((longest_run(s, '`') + 1).max(3));
    format!(
        "{fence}text\n{}\n{fence}\n",
        s.trim_end_matches(['\r', '\n'])
    )
}

fn longest_run(s: &str, c: char) -> usize {
    let (mut best, mut cur) = (0, 0);
    for x in s.chars() {
        if x == c {
            cur += 1;
            best = best.max(cur);
        } else {
            cur = 0;
        }
    }
    best
}

/// An absolute http(s) URL that can sit in a Markdown link target unescaped.
fn is_plain_url(url: &str) -> bool {
    (url.starts_with("https://") || url.starts_with("http://"))
        && !url
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '(' | ')' | '<' | '>'))
}

/// `s` cut to `max` characters, the last one "…" when cut.
pub fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use airlock_stage::Category;

    #[test]
    fn a_run_that_failed_outside_any_stage_is_reported_too() {
        // What the host writes then: stage, category and message are null.
        let r: FailureReport = serde_json::from_value(serde_json::json!({
            "pipeline": "p", "run_id": null, "event": null, "repository": null,
            "run_url": null, "stage": null, "category": null, "message": null, "hint": null,
            "exit_code": 1, "timestamp": "2026-12-01T00:00:00Z", "log_excerpt": []
        }))
        .unwrap();
        let body = issue_body(&r);
        assert!(body.contains("- **Stage:** `(none)`"), "{body}");
        assert!(body.contains("failed outside any stage"), "{body}");
        assert_eq!(
            title(None, &r).unwrap(),
            "Release failed: p at stage (none) ((none))"
        );
    }

    pub(crate) fn sample() -> FailureReport {
        serde_json::from_value(serde_json::json!({
            "pipeline": "mypylogger-release",
            "run_id": "12345",
            "event": "push",
            "stage": "upload",
            "category": "network",
            "message": "upload to https://upload.pypi.org/legacy/ failed: connection reset",
            "hint": "retry the run; check https://status.python.org",
            "exit_code": 1,
            "timestamp": "2026-11-22T05:00:00Z",
            "log_excerpt": ["uploading mypylogger-0.2.8.tar.gz", "attempt 5 of 5 failed"],
            "repository": "owner/name",
            "run_url": "https://github.com/owner/name/actions/runs/12345",
            "added_later_by_the_host": true
        }))
        .unwrap()
    }

    #[test]
    fn body_has_every_fact_and_the_marker_first() {
        let b = issue_body(&sample());
        assert!(b.starts_with("<!-- airlock-notify pipeline=\"mypylogger-release\" -->\n"));
        for needle in [
            "## Release pipeline `mypylogger-release` failed at stage `upload`",
            "- **Stage:** `upload`",
            "- **Category:** `network`",
            "- **Exit code:** 1",
            "- **Run:** [run 12345](https://github.com/owner/name/actions/runs/12345) (event `push`)",
            "- **Repository:** `owner/name`",
            "- **Time:** `2026-11-22T05:00:00Z`",
            "```text\nupload to https://upload.pypi.org/legacy/ failed: connection reset\n```",
            "### What to do\n\n```text\nretry the run; check https://status.python.org\n```",
            "### Log excerpt (last 2 lines)\n\n```text\nuploading mypylogger-0.2.8.tar.gz\nattempt 5 of 5 failed\n```",
        ] {
            assert!(b.contains(needle), "missing {needle:?} in\n{b}");
        }
        let c = comment_body(&sample());
        assert!(c.starts_with("## Failed again at stage `upload` (run `12345`)"));
        assert!(!c.contains("airlock-notify pipeline"));
        assert!(c.contains("attempt 5 of 5 failed"));
    }

    #[test]
    fn optional_fields_absent() {
        let mut r = sample();
        r.run_id = None;
        r.run_url = None;
        r.hint = None;
        r.repository = None;
        r.log_excerpt.clear();
        let b = issue_body(&r);
        assert!(b.contains("- **Event:** `push`"));
        assert!(!b.contains("**Run:**") && !b.contains("What to do") && !b.contains("Repository"));
        assert!(b.contains("_No log lines were captured._"));
        // A URL that would break the link syntax is shown as code, not as a link.
        r.run_url = Some("https://x/(y) [z]".into());
        assert!(issue_body(&r).contains("- **Run:** `https://x/(y) [z]`"));
    }

    #[test]
    fn stage_text_cannot_escape_its_block() {
        let mut r = sample();
        r.message = Some("boom ```` @octocat #1 <script>".into());
        r.log_excerpt = vec!["```".into(), "</details> @team".into()];
        r.stage = Some("a`b".into());
        let b = issue_body(&r);
        assert!(
            b.contains("`````text\nboom ```` @octocat #1 <script>\n`````"),
            "{b}"
        );
        assert!(b.contains("````text\n```\n</details> @team\n````"), "{b}");
        assert!(b.contains("- **Stage:** ``a`b``"));
        assert_eq!(code("`x"), "`` `x ``");
        // Walk the fences as CommonMark does (a closing fence is a line of at least as many
        // backticks as the opening one, and nothing else): every mention and tag is inside.
        let mut open: Option<usize> = None;
        for line in b.lines() {
            let run = line.chars().take_while(|&c| c == '`').count();
            match open {
                None if run >= 3 => open = Some(run),
                Some(n) if run >= n && line.trim_end().len() == run => open = None,
                None => assert!(
                    !line.contains('@')
                        && !line.contains("</details>")
                        && !line.contains("<script>"),
                    "outside a fence: {line}"
                ),
                Some(_) => {}
            }
        }
        assert_eq!(open, None, "a fence is left open");
    }

    #[test]
    fn long_logs_keep_the_newest_lines_within_githubs_limit() {
        let mut r = sample();
        r.log_excerpt = (0..5000)
            .map(|i| format!("line {i:05} {}", "x".repeat(40)))
            .collect();
        let b = issue_body(&r);
        let n = b.chars().count();
        assert!(n <= MAX_BODY_CHARS, "{n}");
        assert!(n > MAX_BODY_CHARS - 200, "too much left out: {n}");
        assert!(b.contains("line 04999"), "the newest line is kept");
        assert!(!b.contains("line 00000"), "the oldest line is left out");
        assert!(b.contains("earlier lines left out to fit GitHub's limit"));
        assert!(b.ends_with("</sub>\n"), "the footer is kept");
        // A huge single message is cut, not the whole body.
        r.message = Some("m".repeat(100_000));
        let b = issue_body(&r);
        assert!(b.chars().count() <= MAX_BODY_CHARS);
        assert!(b.contains(&format!("{}…", "m".repeat(MAX_TEXT_CHARS - 1))));
    }

    #[test]
    fn title_templates() {
        let r = sample();
        assert_eq!(
            title(None, &r).unwrap(),
            "Release failed: mypylogger-release at stage upload (network)"
        );
        assert_eq!(
            title(
                Some("{{{repository}}} run {run_id}\n#{exit_code} {event}"),
                &r
            )
            .unwrap(),
            "{owner/name} run 12345 #1 push"
        );
        let e = title(Some("{nope}"), &r).unwrap_err();
        assert_eq!(e.category, Category::Configuration);
        assert!(e.message.contains("{nope}") && e.hint.unwrap().contains("{pipeline}"));
        assert!(title(Some("x {stage"), &r).is_err());
        let mut r2 = r.clone();
        r2.run_id = None;
        assert!(title(Some(" {run_id} "), &r2).is_err(), "empty title");
        assert_eq!(
            title(Some(&"t".repeat(300)), &r).unwrap().chars().count(),
            MAX_TITLE_CHARS
        );
    }

    #[test]
    fn markers_are_per_pipeline_and_cannot_close_the_comment() {
        assert_eq!(
            marker("a b-->c"),
            "<!-- airlock-notify pipeline=\"a%20b--%3Ec\" -->"
        );
        assert_ne!(marker("a"), marker("ab"));
    }
}
