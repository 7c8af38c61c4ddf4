//! Core metadata ([core metadata 2.4], `METADATA` in wheels, `PKG-INFO` in sdists): read
//! ([`CoreMetadata`], the one parser, as `packaging.metadata.parse_email` reads it), and
//! written byte for byte as hatchling 1.27's `construct_metadata_file_2_4` writes it, with
//! the requirement/specifier normalisation hatchling applies (`packaging`'s printed forms).
//!
//! [core metadata 2.4]: https://packaging.python.org/en/latest/specifications/core-metadata/

mod read;

pub use read::{CoreMetadata, MULTI_USE, MetadataError, SINGLE_USE};

use crate::marker::{Tok, tokenize};
use crate::project::{License, Person, Project, normalize_name};

/// `project.dynamic` field → core metadata fields (hatchling's `PROJECT_CORE_METADATA_FIELDS`).
fn core_fields(project_field: &str) -> &'static [&'static str] {
    match project_field {
        "authors" => &["Author", "Author-email"],
        "classifiers" => &["Classifier"],
        "dependencies" => &["Requires-Dist"],
        "dynamic" => &["Dynamic"],
        "keywords" => &["Keywords"],
        "license" => &["License", "License-Expression"],
        "license-files" => &["License-Files"],
        "maintainers" => &["Maintainer", "Maintainer-email"],
        "name" => &["Name"],
        "optional-dependencies" => &["Requires-Dist", "Provides-Extra"],
        "readme" => &["Description", "Description-Content-Type"],
        "requires-python" => &["Requires-Python"],
        "description" => &["Summary"],
        "urls" => &["Project-URL"],
        "version" => &["Version"],
        _ => &[],
    }
}

/// `str(email.headerregistry.Address(display_name, addr_spec))`: the display name is quoted
/// when it contains one of `()<>@,:;."[]`.
pub(crate) fn format_address(p: &Person) -> String {
    if p.name.is_empty() {
        return p.email.clone();
    }
    let specials = "()<>@,:;.\"[]";
    let name = if p.name.chars().any(|c| specials.contains(c)) {
        format!("\"{}\"", p.name.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        p.name.clone()
    };
    format!("{name} <{}>", p.email)
}

fn people_lines(out: &mut String, people: &[Person], name_field: &str, email_field: &str) {
    let names: Vec<&str> = people
        .iter()
        .filter(|p| p.email.is_empty())
        .map(|p| p.name.as_str())
        .collect();
    let emails: Vec<String> = people
        .iter()
        .filter(|p| !p.email.is_empty())
        .map(format_address)
        .collect();
    if !names.is_empty() {
        out.push_str(&format!("{name_field}: {}\n", names.join(", ")));
    }
    if !emails.is_empty() {
        out.push_str(&format!("{email_field}: {}\n", emails.join(", ")));
    }
}

/// The core metadata 2.4 text of `project` (UTF-8, `\n` line ends), field order and
/// formatting as hatchling 1.27: Name, Version, Dynamic, Summary, Project-URL, Author(-email),
/// Maintainer(-email), License (continuation lines indented 8 spaces), License-Expression,
/// License-File, Keywords (comma-joined), Classifier, Requires-Python, Requires-Dist,
/// Provides-Extra (+ its Requires-Dist with `extra == '..'`), Description-Content-Type, then
/// a blank line and the readme as the body.
pub fn core_metadata(project: &Project) -> String {
    let mut m = String::from("Metadata-Version: 2.4\n");
    m.push_str(&format!("Name: {}\n", project.raw_name));
    m.push_str(&format!("Version: {}\n", project.version));
    let mut dynamic: Vec<&str> = Vec::new();
    for d in &project.dynamic {
        for f in core_fields(d) {
            if !dynamic.contains(f) {
                dynamic.push(f);
            }
        }
    }
    for f in dynamic {
        m.push_str(&format!("Dynamic: {f}\n"));
    }
    if !project.description.is_empty() {
        m.push_str(&format!("Summary: {}\n", project.description));
    }
    for (label, url) in &project.urls {
        m.push_str(&format!("Project-URL: {label}, {url}\n"));
    }
    people_lines(&mut m, &project.authors, "Author", "Author-email");
    people_lines(
        &mut m,
        &project.maintainers,
        "Maintainer",
        "Maintainer-email",
    );
    match &project.license {
        License::None => {}
        License::Text(text) if text.is_empty() => {}
        License::Text(text) => {
            m.push_str("License: ");
            for (i, line) in python_splitlines(text).iter().enumerate() {
                if i > 0 {
                    m.push_str("        ");
                }
                m.push_str(line);
                m.push('\n');
            }
        }
        License::Expression(e) => {
            m.push_str(&format!(
                "License-Expression: {}\n",
                normalize_license_expression(e)
            ));
        }
    }
    for f in &project.license_files {
        m.push_str(&format!("License-File: {f}\n"));
    }
    if !project.keywords.is_empty() {
        m.push_str(&format!("Keywords: {}\n", project.keywords.join(",")));
    }
    for c in &project.classifiers {
        m.push_str(&format!("Classifier: {c}\n"));
    }
    if !project.requires_python.is_empty() {
        m.push_str(&format!("Requires-Python: {}\n", project.requires_python));
    }
    for d in &project.dependencies {
        m.push_str(&format!("Requires-Dist: {d}\n"));
    }
    for (extra, deps) in &project.optional_dependencies {
        m.push_str(&format!("Provides-Extra: {extra}\n"));
        for d in deps {
            if let Some((name, marker)) = d.split_once(';') {
                m.push_str(&format!(
                    "Requires-Dist: {name}; ({}) and extra == '{extra}'\n",
                    marker.trim()
                ));
            } else if d.contains("@ ") {
                m.push_str(&format!("Requires-Dist: {d} ; extra == '{extra}'\n"));
            } else {
                m.push_str(&format!("Requires-Dist: {d}; extra == '{extra}'\n"));
            }
        }
    }
    if let Some(readme) = project.readme.as_ref().filter(|r| !r.text.is_empty()) {
        m.push_str(&format!(
            "Description-Content-Type: {}\n",
            readme.content_type
        ));
        m.push('\n');
        m.push_str(&readme.text);
    }
    m
}

/// Python's `str.splitlines()` for text already normalised to `\n`.
fn python_splitlines(text: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = text.split('\n').collect();
    if lines.last() == Some(&"") {
        lines.pop();
    }
    lines
}

/// SPDX operators upper-cased (`mit or apache-2.0` → `mit OR apache-2.0`). Identifiers are
/// kept as written: hatchling would also canonicalise their case against the SPDX list.
fn normalize_license_expression(e: &str) -> String {
    e.split_whitespace()
        .map(|t| match t.to_ascii_lowercase().as_str() {
            "and" => "AND".to_string(),
            "or" => "OR".to_string(),
            "with" => "WITH".to_string(),
            _ => t.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A version specifier set as `packaging.specifiers.SpecifierSet` prints it: each specifier
/// without spaces, sorted, comma-joined; `lower` lowercases it first (hatchling does for
/// dependencies, not for `requires-python`).
pub fn format_specifiers(spec: &str, lower: bool) -> String {
    let spec = spec.trim();
    let spec = spec
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or(spec);
    let mut parts: Vec<String> = spec
        .split(',')
        .map(|s| s.split_whitespace().collect::<String>())
        .map(|s| if lower { s.to_lowercase() } else { s })
        .filter(|s| !s.is_empty())
        .collect();
    parts.sort();
    parts.dedup();
    parts.join(",")
}

/// A PEP 508 requirement as hatchling writes it in `Requires-Dist`: `str(Requirement)` from
/// `packaging` after hatchling's `normalize_requirement` (name PEP 503-normalised, extras
/// normalised and sorted, specifiers lowercased and sorted, markers re-serialised) with
/// double quotes turned into single quotes.
///
/// Errors: a message when the string is not a requirement (no name, unbalanced brackets).
pub fn format_requirement(req: &str) -> Result<String, String> {
    let (main, marker) = match req.split_once(';') {
        Some((m, k)) => (m.trim(), Some(k.trim())),
        None => (req.trim(), None),
    };
    let name_end = main
        .find(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c)))
        .unwrap_or(main.len());
    let name = &main[..name_end];
    if name.is_empty() {
        return Err(format!("no project name in {req:?}"));
    }
    let mut rest = main[name_end..].trim_start();
    let mut out = normalize_name(name);
    if let Some(r) = rest.strip_prefix('[') {
        let end = r
            .find(']')
            .ok_or_else(|| format!("unclosed `[` in {req:?}"))?;
        let mut extras: Vec<String> = r[..end]
            .split(',')
            .map(|e| normalize_name(e.trim()))
            .filter(|e| !e.is_empty())
            .collect();
        extras.sort();
        extras.dedup();
        if !extras.is_empty() {
            out.push_str(&format!("[{}]", extras.join(",")));
        }
        rest = r[end + 1..].trim_start();
    }
    let mut url = None;
    if let Some(u) = rest.strip_prefix('@') {
        url = Some(u.trim().to_string());
    } else if !rest.is_empty() {
        out.push_str(&format_specifiers(rest, true));
    }
    if let Some(u) = &url {
        out.push_str(&format!(" @ {u}"));
        if marker.is_some() {
            out.push(' ');
        }
    }
    if let Some(m) = marker {
        out.push_str(&format!("; {}", format_marker(m)?));
    }
    Ok(out.replace('"', "'"))
}

fn canonical_marker_var(w: &str) -> &str {
    match w {
        "os.name" => "os_name",
        "sys.platform" => "sys_platform",
        "platform.version" => "platform_version",
        "platform.machine" => "platform_machine",
        "platform.python_implementation" | "python_implementation" => {
            "platform_python_implementation"
        }
        other => other,
    }
}

/// Serialises a marker as `packaging` does: values double-quoted, single spaces, parentheses
/// kept around groups of more than one comparison only.
fn format_marker(m: &str) -> Result<String, String> {
    let toks = tokenize(m).map_err(|e| format!("{e} in marker {m:?}"))?;
    let (s, _) = fmt_group(&toks, 0, true)?;
    Ok(s)
}

/// Formats tokens from `i` up to the matching `)` (or the end); returns the text and the
/// index after the group, and whether it held more than one comparison.
fn fmt_group(toks: &[Tok], mut i: usize, top: bool) -> Result<(String, usize), String> {
    let mut items: Vec<String> = Vec::new();
    let mut atom: Vec<String> = Vec::new();
    let mut comparisons = 0;
    let flush = |atom: &mut Vec<String>, items: &mut Vec<String>| {
        if !atom.is_empty() {
            items.push(atom.join(" "));
            atom.clear();
        }
    };
    while i < toks.len() {
        match &toks[i] {
            Tok::Open => {
                flush(&mut atom, &mut items);
                let (inner, next) = fmt_group(toks, i + 1, false)?;
                items.push(inner);
                comparisons += 2;
                i = next;
                continue;
            }
            Tok::Close => {
                if top {
                    return Err("unbalanced `)` in marker".into());
                }
                flush(&mut atom, &mut items);
                let body = items.join(" ");
                let multi = items.len() > 1;
                return Ok((if multi { format!("({body})") } else { body }, i + 1));
            }
            Tok::And => {
                flush(&mut atom, &mut items);
                items.push("and".into());
            }
            Tok::Or => {
                flush(&mut atom, &mut items);
                items.push("or".into());
            }
            Tok::Op(w) | Tok::Word(w) => {
                if atom.is_empty() {
                    comparisons += 1;
                }
                atom.push(canonical_marker_var(w).to_string());
            }
            Tok::Str(s) => {
                if atom.is_empty() {
                    comparisons += 1;
                }
                atom.push(format!("\"{s}\""));
            }
        }
        i += 1;
    }
    if !top {
        return Err("unclosed `(` in marker".into());
    }
    flush(&mut atom, &mut items);
    let _ = comparisons;
    Ok((items.join(" "), i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirements_print_like_packaging_after_hatchling_normalisation() {
        assert_eq!(
            format_requirement("Requests >= 2.0, <3").unwrap(),
            "requests<3,>=2.0"
        );
        assert_eq!(
            format_requirement("foo[Bar,baz_q] (>=1.0)").unwrap(),
            "foo[bar,baz-q]>=1.0"
        );
        assert_eq!(
            format_requirement("tomli>=2.0.0 ; python_full_version < '3.11'").unwrap(),
            "tomli>=2.0.0; python_full_version < '3.11'"
        );
        assert_eq!(
            format_requirement("pkg @ https://x/y.whl ; os_name=='nt'").unwrap(),
            "pkg @ https://x/y.whl ; os_name == 'nt'"
        );
        assert_eq!(
            format_requirement(
                "a; (python_version<'3.8') and (os_name == 'nt' or os_name=='posix')"
            )
            .unwrap(),
            "a; python_version < '3.8' and (os_name == 'nt' or os_name == 'posix')"
        );
        assert!(format_requirement(">=1").is_err());
    }

    #[test]
    fn specifier_sets_sort_like_packaging() {
        assert_eq!(format_specifiers(">= 3.8, < 4", false), "<4,>=3.8");
    }

    #[test]
    fn display_names_with_specials_are_quoted() {
        let p = Person {
            name: "J. Doe".into(),
            email: "j@x.org".into(),
        };
        assert_eq!(format_address(&p), "\"J. Doe\" <j@x.org>");
    }
}
