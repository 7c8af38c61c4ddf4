//! The `changelog-check` stage: fails the release when CHANGELOG.md has no entry for the
//! version being released.
//!
//! Config:
//! - `changelog` (string, default `"CHANGELOG.md"`): the changelog, relative to the project;
//! - `version` (string, optional): the version to look for; when absent, the `version` of
//!   the upstream stage `decide` (or of the first upstream output that has one).
//!
//! Grants it needs: read access to the folder holding the changelog, e.g.
//! `files = [{ path = ".", access = "read" }]`. Nothing else.
//!
//! An entry is a Markdown heading (`#` to `######`) that names the version as a word:
//! `## [0.1.0] - 2025-01-31`, `## 0.1.0`, `# v0.1.0 (2025-01-31)` all name 0.1.0, while
//! `0.1.0rc1`, `10.1.0` and `0.1.0.1` do not. Its text runs to the next heading of the same
//! or a higher level and must not be empty.
//!
//! Output: `{ "version", "changelog", "line" (1-based, of the heading), "heading", "entry"
//! (the entry's Markdown, trimmed) }`.
//!
//! Errors: no entry, or an empty one, is a `validation` error whose hint says what to add
//! (and points at an `Unreleased` section to rename when there is one); no version to look
//! for is a `configuration` error; a changelog that is missing or not granted is a
//! `capability` error naming the path.

use airlock_stage::{Output, Request, StageError, host};
use serde::{Deserialize, Serialize};

/// The stage's config.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default = "default_changelog")]
    changelog: String,
    #[serde(default)]
    version: Option<String>,
}

fn default_changelog() -> String {
    "CHANGELOG.md".to_string()
}

/// The part of an upstream output this stage reads (decide's and build's outputs have it).
#[derive(Deserialize)]
struct Upstream {
    version: String,
}

/// A changelog heading: its 1-based line, level (number of `#`) and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heading {
    /// 1-based line number.
    pub line: usize,
    /// 1 for `#`, 2 for `##`, …
    pub level: usize,
    /// The heading line as written, without the line break.
    pub text: String,
}

/// A version's entry in a changelog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its heading.
    pub heading: Heading,
    /// The text under the heading up to the next heading of the same or a higher level,
    /// trimmed.
    pub body: String,
}

/// The ATX headings of a Markdown document (outside fenced code blocks).
pub fn headings(text: &str) -> Vec<Heading> {
    let mut out = Vec::new();
    let mut fenced = false;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fenced = !fenced;
            continue;
        }
        if fenced || line.len() - trimmed.len() > 3 {
            continue;
        }
        let level = trimmed.chars().take_while(|c| *c == '#').count();
        let rest = &trimmed[level..];
        if (1..=6).contains(&level) && (rest.is_empty() || rest.starts_with([' ', '\t'])) {
            out.push(Heading {
                line: i + 1,
                level,
                text: line.trim_end().to_string(),
            });
        }
    }
    out
}

/// True when `text` names `version` as a word: not inside a longer version or word
/// (`0.1.0` is not in `10.1.0`, `0.1.0.1`, `0.1.0rc1` or `0.1.0-beta`); a `v` prefix is
/// allowed.
pub fn names_version(text: &str, version: &str) -> bool {
    let version = version.trim().trim_start_matches(['v', 'V']);
    if version.is_empty() {
        return false;
    }
    let bytes = text.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    text.match_indices(version).any(|(at, _)| {
        let end = at + version.len();
        let before_ok = match at.checked_sub(1).map(|i| bytes[i]) {
            None => true,
            Some(b'v' | b'V') => at < 2 || !word(bytes[at - 2]),
            Some(b) => !word(b) && b != b'.' && b != b'-',
        };
        let after_ok = match bytes.get(end) {
            None => true,
            Some(&b) if word(b) => false,
            Some(b'.' | b'-' | b'+') => !bytes.get(end + 1).is_some_and(|&n| word(n)),
            Some(_) => true,
        };
        before_ok && after_ok
    })
}

/// The entry for `version` in `text`: the first heading that names it, with its text.
pub fn find_entry(text: &str, version: &str) -> Option<Entry> {
    let hs = headings(text);
    let (k, h) = hs
        .iter()
        .enumerate()
        .find(|(_, h)| names_version(&h.text, version))?;
    let end = hs[k + 1..]
        .iter()
        .find(|n| n.level <= h.level)
        .map(|n| n.line - 1)
        .unwrap_or(usize::MAX);
    let body: Vec<&str> = text
        .lines()
        .skip(h.line)
        .take(end.saturating_sub(h.line))
        .collect();
    Some(Entry {
        heading: h.clone(),
        body: body.join("\n").trim().to_string(),
    })
}

/// The validation error for a changelog without a (non-empty) entry for `version`.
fn missing(path: &str, text: &str, version: &str, empty: Option<&Entry>) -> StageError {
    if let Some(e) = empty {
        return StageError::validation(format!(
            "{path}:{}: the entry for {version} (\"{}\") is empty",
            e.heading.line, e.heading.text
        ))
        .with_hint(format!(
            "describe what changed in {version} under that heading in {path}"
        ));
    }
    let unreleased = headings(text)
        .into_iter()
        .find(|h| h.text.to_ascii_lowercase().contains("unreleased"));
    let hint = match unreleased {
        Some(u) => format!(
            "rename the Unreleased section ({path}:{}: \"{}\") to \"## [{version}] - YYYY-MM-DD\" before releasing",
            u.line, u.text
        ),
        None => format!(
            "add a section \"## [{version}] - YYYY-MM-DD\" to {path} that says what changed in {version}"
        ),
    };
    StageError::validation(format!("{path} has no entry for version {version}")).with_hint(hint)
}

/// The stage's output: the entry found (the module docs give its JSON).
#[derive(Debug, Serialize)]
pub struct Found {
    /// The version checked.
    pub version: String,
    /// The changelog file, as configured.
    pub changelog: String,
    /// The heading's line, 1-based.
    pub line: usize,
    /// The heading, as written.
    pub heading: String,
    /// The entry's text below the heading.
    pub entry: String,
}

/// It hands on no files: no `artifacts` method.
impl Output for Found {}

/// The stage: finds the entry for the version being released, or fails with a hint.
pub fn run(req: &Request) -> Result<Found, StageError> {
    let config: Config = req.config()?;
    let version = match config.version.filter(|v| !v.trim().is_empty()) {
        Some(v) => v,
        None => match req.input::<Upstream>("decide")? {
            Some(u) => u.version,
            None => req
                .find_input::<Upstream>()
                .map(|(_, u)| u.version)
                .ok_or_else(|| {
                    StageError::config(format!(
                        "stage '{}': no version to check: config.version is not set and no upstream output has a `version`",
                        req.stage_id
                    ))
                    .with_hint("add needs = [\"decide\"] to the stage, or set config.version")
                })?,
        },
    };
    let text = std::fs::read_to_string(&config.changelog)
        .map_err(|e| StageError::io(&config.changelog, &e))?;
    let entry = match find_entry(&text, &version) {
        Some(e) if !e.body.is_empty() => e,
        found => return Err(missing(&config.changelog, &text, &version, found.as_ref())),
    };
    host::info(&format!(
        "{}:{}: {} ({} lines)",
        config.changelog,
        entry.heading.line,
        entry.heading.text,
        entry.body.lines().count()
    ));
    Ok(Found {
        version,
        changelog: config.changelog,
        line: entry.heading.line,
        heading: entry.heading.text,
        entry: entry.body,
    })
}

airlock_stage::export_stage!(run);

#[cfg(test)]
mod tests {
    use super::*;
    use airlock_stage::Category;
    use serde_json::json;
    use airlock_stage::host::{Level, Record, take_records};

    const CHANGELOG: &str = "# Changelog\n\n## [Unreleased]\n\n## [0.2.0] - 2025-03-01\n\n### Added\n- b\n\n## [0.1.0] - 2025-01-31\n- a\n\n```\n## 9.9.9 in a code block\n```\n";

    #[test]
    fn version_words_match_and_longer_versions_do_not() {
        for yes in [
            "## [0.1.0] - 2025",
            "## 0.1.0",
            "# v0.1.0 (x)",
            "## Version 0.1.0",
        ] {
            assert!(names_version(yes, "0.1.0"), "{yes}");
        }
        for no in [
            "## 10.1.0",
            "## 0.1.0.1",
            "## 0.1.0rc1",
            "## 0.1.0-beta",
            "## 1.0.1.0",
            "## xv0.1.0",
        ] {
            assert!(!names_version(no, "0.1.0"), "{no}");
        }
    }

    #[test]
    fn the_entry_runs_to_the_next_heading_of_its_level() {
        let e = find_entry(CHANGELOG, "0.2.0").unwrap();
        assert_eq!(e.heading.line, 5);
        assert_eq!(e.body, "### Added\n- b");
        let e = find_entry(CHANGELOG, "0.1.0").unwrap();
        assert_eq!(e.body, "- a\n\n```\n## 9.9.9 in a code block\n```");
        assert!(
            find_entry(CHANGELOG, "9.9.9").is_none(),
            "matched in a code block"
        );
    }

    #[test]
    fn reads_the_version_from_decide_and_logs_the_entry() {
        let dir = std::env::temp_dir().join(format!("changelog-check-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("CHANGELOG.md");
        std::fs::write(&path, CHANGELOG).unwrap();
        let path = path.to_str().unwrap();
        let req = Request::new("changelog", json!({ "changelog": path }))
            .with_input("decide", json!({ "release": true, "version": "0.2.0" }));
        let out = run(&req).unwrap();
        assert_eq!(out.version, "0.2.0");
        assert_eq!(out.line, 5);
        assert_eq!(
            take_records(),
            vec![Record::Log(
                Level::Info,
                format!("{path}:5: ## [0.2.0] - 2025-03-01 (2 lines)")
            )]
        );

        let err = run(&Request::new(
            "changelog",
            json!({ "changelog": path, "version": "0.3.0" }),
        ))
        .unwrap_err();
        assert_eq!(err.category, Category::Validation);
        assert!(err.message.contains("no entry for version 0.3.0"), "{err}");
        assert!(err.hint.unwrap().contains(":3: \"## [Unreleased]\""));

        std::fs::write(dir.join("CHANGELOG.md"), "## 0.3.0\n\n## 0.2.0\n- b\n").unwrap();
        let err = run(&Request::new(
            "changelog",
            json!({ "changelog": path, "version": "0.3.0" }),
        ))
        .unwrap_err();
        assert!(err.message.contains(":1: the entry for 0.3.0"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn without_a_version_it_is_a_configuration_error() {
        let err = run(&Request::new("changelog", json!({}))).unwrap_err();
        assert_eq!(err.category, Category::Configuration);
        assert!(err.hint.unwrap().contains("needs = [\"decide\"]"));
    }
}
