//! The release notes: Markdown for a GitHub release body (the justification, resolved, new
//! and changed findings, the current status).

use super::*;

pub(super) fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// One Markdown list item for a finding: linked id, where, severity, fix.
fn note_line(f: &Finding, extra: &str) -> String {
    let id = match &f.reference_url {
        Some(u) => format!("[{}]({u})", md_escape(&f.id)),
        None => format!("`{}`", f.id.replace('`', "'")),
    };
    let mut where_ = String::new();
    if let Some(p) = &f.package {
        where_ = format!(" in {}", md_escape(p));
        if let Some(v) = &f.version {
            where_.push_str(&format!(" {}", md_escape(v)));
        }
    } else if let Some(file) = &f.file {
        where_ = format!(" in `{}`", file.replace('`', "'"));
        if let Some(l) = f.line {
            where_.push_str(&format!(" line {l}"));
        }
    }
    let mut line = format!("- {id}{where_} ({}, {})", f.severity, f.tool.as_str());
    line.push_str(extra);
    if !f.fix_versions.is_empty() {
        line.push_str(&format!("; fixed in {}", f.fix_versions.join(", ")));
    }
    let desc = short_description(&f.description, 160);
    if !desc.is_empty() {
        line.push_str(&format!(": {}", md_escape(&desc)));
    }
    line
}

/// The description on one line, cut at `max` characters with an ellipsis.
pub(crate) fn short_description(d: &str, max: usize) -> String {
    let one: String = d.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() <= max {
        one
    } else {
        let cut: String = one.chars().take(max).collect();
        format!("{}…", cut.trim_end())
    }
}

fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

pub(super) fn release_notes(
    report: &DetectReport,
    project: &Project,
    version: Option<&str>,
    justification: &str,
) -> String {
    let mut md = format!(
        "# {} {}\n\n{justification}\n",
        project.name.as_deref().unwrap_or("Release"),
        version.unwrap_or("")
    )
    .replace(" \n", "\n");
    let c = &report.changes;
    if !c.resolved.is_empty() {
        md.push_str("\n## Resolved security findings\n\n");
        for f in &c.resolved {
            md.push_str(&note_line(f, ""));
            md.push('\n');
        }
    }
    if report.baseline && !c.new.is_empty() {
        md.push_str("\n## New security findings\n\n");
        for f in &c.new {
            md.push_str(&note_line(f, ""));
            md.push('\n');
        }
    }
    if !c.severity_changed.is_empty() {
        md.push_str("\n## Severity changes\n\n");
        for s in &c.severity_changed {
            md.push_str(&note_line(&s.finding, &format!(", was {}", s.from)));
            md.push('\n');
        }
    }
    let s = &report.summary;
    md.push_str("\n## Current security status\n\n");
    if s.total == 0 {
        md.push_str("No open findings.\n");
    } else {
        let parts: Vec<String> = Severity::ALL
            .iter()
            .filter(|sev| s.count(**sev) > 0)
            .map(|sev| format!("{} {sev}", s.count(*sev)))
            .collect();
        md.push_str(&format!(
            "{} open finding{}: {}.\n",
            s.total,
            plural(s.total as usize),
            parts.join(", ")
        ));
    }
    md
}
