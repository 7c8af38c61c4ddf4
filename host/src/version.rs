//! `airlock version`: prints and bumps a project's PEP 440 version, keeping each file's
//! formatting and comments.
//!
//! The version is read exactly as the build stage reads it (`airlock_pypkg`): the static
//! `[project].version` of pyproject.toml, or, when it is dynamic, the `__version__ = "…"`
//! line of the file `[tool.hatch.version] path` names. A bump rewrites that one place
//! (pyproject.toml through toml_edit, so nothing else in the file moves) and the
//! `__version__ = "…"` assignments of any other files the manifest lists in
//! `[pipeline] version_files`.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow, bail};
use pep440_rs::Version;

/// How `--bump` changes the version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bump {
    /// X.Y.Z → X.Y.(Z+1)
    Patch,
    /// X.Y.Z → X.(Y+1).0
    Minor,
    /// X.Y.Z → (X+1).0.0
    Major,
    /// An explicit PEP 440 version.
    To(String),
}

impl Bump {
    /// Parses `patch`, `minor`, `major` or a version.
    pub fn parse(s: &str) -> Bump {
        match s {
            "patch" => Bump::Patch,
            "minor" => Bump::Minor,
            "major" => Bump::Major,
            other => Bump::To(other.to_string()),
        }
    }
}

/// The next version after `current` (PEP 440). Pre-, post- and dev-release parts are
/// dropped by patch/minor/major. Errors: `current` or an explicit target that is not a
/// valid PEP 440 version, or a target that is not higher than `current`.
pub fn next(current: &str, bump: &Bump) -> Result<String> {
    let cur: Version = current
        .parse()
        .map_err(|e| anyhow!("the current version \"{current}\" is not PEP 440: {e}"))?;
    let r = cur.release();
    let part = |i: usize| r.get(i).copied().unwrap_or(0);
    let new = match bump {
        Bump::Patch => format!("{}.{}.{}", part(0), part(1), part(2) + 1),
        Bump::Minor => format!("{}.{}.0", part(0), part(1) + 1),
        Bump::Major => format!("{}.0.0", part(0) + 1),
        Bump::To(v) => v.clone(),
    };
    let parsed: Version = new
        .parse()
        .map_err(|e| anyhow!("\"{new}\" is not a PEP 440 version: {e}"))?;
    if parsed <= cur {
        bail!(
            "{parsed} is not higher than the current version {cur}: a release version only goes up"
        );
    }
    Ok(parsed.to_string())
}

/// Where the version lives: pyproject.toml (static) or the hatch version file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// The version (normalised, PEP 440).
    pub version: String,
    /// The file holding it.
    pub file: PathBuf,
    /// True when it is pyproject.toml's `[project].version`.
    pub static_version: bool,
}

/// Finds the project's version. Errors: as `airlock_pypkg::project_version_source`
/// (unreadable or invalid pyproject.toml, no version, a version source other than hatch's
/// default pattern, a version that is not PEP 440).
pub fn locate(project: &Path) -> Result<Located> {
    let (version, source) = airlock_pypkg::project_version_source(project)
        .map_err(|e| anyhow!("{}: {e}", project.display()))?;
    let static_version = source.starts_with("pyproject.toml");
    let file = if static_version {
        project.join("pyproject.toml")
    } else {
        project.join(&source)
    };
    Ok(Located {
        version,
        file,
        static_version,
    })
}

/// Replaces the value of every `__version__ = "…"` (or `VERSION = …`, either quote)
/// assignment in `text` by `new`; returns the new text and how many were replaced.
pub fn replace_assignment(text: &str, new: &str) -> (String, usize) {
    let mut count = 0;
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let is_assign = ["__version__", "VERSION"].iter().any(|k| {
            trimmed
                .strip_prefix(k)
                .map(|rest| rest.trim_start().starts_with('='))
                .unwrap_or(false)
        });
        if is_assign && let Some(q) = line.find(['"', '\'']) {
            let quote = line.as_bytes()[q] as char;
            if let Some(end) = line[q + 1..].find(quote) {
                out.push_str(&line[..q + 1]);
                out.push_str(new);
                out.push_str(&line[q + 1 + end..]);
                count += 1;
                continue;
            }
        }
        out.push_str(line);
    }
    (out, count)
}

/// Bumps the version of `project` and of `extra` files (project-relative paths); returns
/// (old, new, files written). Errors: see [`locate`] and [`next`]; an extra file with no
/// `__version__ = "…"` line; an unwritable file. Nothing is written unless every file can
/// be changed.
pub fn bump(
    project: &Path,
    how: &Bump,
    extra: &[String],
) -> Result<(String, String, Vec<PathBuf>)> {
    let loc = locate(project)?;
    let new = next(&loc.version, how)?;
    let mut writes: Vec<(PathBuf, String)> = Vec::new();
    let text = std::fs::read_to_string(&loc.file)
        .with_context(|| format!("cannot read {}", loc.file.display()))?;
    if loc.static_version {
        let mut doc: toml_edit::DocumentMut = text
            .parse()
            .with_context(|| format!("{} is not valid TOML", loc.file.display()))?;
        let decor = doc["project"]["version"]
            .as_value()
            .map(|v| v.decor().clone());
        let mut value = toml_edit::Value::from(new.as_str());
        if let Some(d) = decor {
            *value.decor_mut() = d;
        }
        doc["project"]["version"] = toml_edit::Item::Value(value);
        writes.push((loc.file.clone(), doc.to_string()));
    } else {
        let (out, n) = replace_assignment(&text, &new);
        if n == 0 {
            bail!(
                "{} has no `__version__ = \"…\"` line to rewrite",
                loc.file.display()
            );
        }
        writes.push((loc.file.clone(), out));
    }
    for rel in extra {
        let file = project.join(rel);
        if writes.iter().any(|(f, _)| f == &file) {
            continue;
        }
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("cannot read {} (listed in version_files)", file.display()))?;
        let (out, n) = replace_assignment(&text, &new);
        if n == 0 {
            bail!(
                "{} (listed in version_files) has no `__version__ = \"…\"` line",
                file.display()
            );
        }
        writes.push((file, out));
    }
    let mut written = Vec::new();
    for (file, text) in writes {
        std::fs::write(&file, text).with_context(|| format!("cannot write {}", file.display()))?;
        written.push(file);
    }
    Ok((loc.version, new, written))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bumps_follow_pep440_and_only_go_up() {
        assert_eq!(next("0.2.8", &Bump::Patch).unwrap(), "0.2.9");
        assert_eq!(next("0.2.8", &Bump::Minor).unwrap(), "0.3.0");
        assert_eq!(next("0.2.8", &Bump::Major).unwrap(), "1.0.0");
        assert_eq!(next("1.0rc1", &Bump::Patch).unwrap(), "1.0.1");
        assert_eq!(
            next("0.2.8", &Bump::To("0.3.0a1".into())).unwrap(),
            "0.3.0a1"
        );
        assert!(
            next("0.2.8", &Bump::To("0.2.7".into()))
                .unwrap_err()
                .to_string()
                .contains("not higher")
        );
        assert!(next("0.2.8", &Bump::To("0.2.8".into())).is_err());
        assert!(
            next("0.2.8", &Bump::To("banana".into()))
                .unwrap_err()
                .to_string()
                .contains("PEP 440")
        );
    }

    #[test]
    fn assignments_are_rewritten_in_place() {
        let (out, n) = replace_assignment(
            "\"\"\"Doc.\"\"\"\n__version__ = '0.1.0'  # keep\nx = 1\n",
            "0.2.0",
        );
        assert_eq!(n, 1);
        assert_eq!(
            out,
            "\"\"\"Doc.\"\"\"\n__version__ = '0.2.0'  # keep\nx = 1\n"
        );
    }
}
