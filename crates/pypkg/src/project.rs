//! Reading a project: `pyproject.toml` ([PEP 621] `[project]`, [PEP 517] `[build-system]`,
//! hatchling's `[tool.hatch]`), resolved the way hatchling 1.27 resolves it.
//!
//! [PEP 621]: https://peps.python.org/pep-0621/
//! [PEP 517]: https://peps.python.org/pep-0517/

use std::path::{Path, PathBuf};

use toml::{Table, Value};

use crate::error::{Error, Result};

/// The build backend that hatchling-compatible building needs in `[build-system]`.
pub const HATCHLING_BACKEND: &str = "hatchling.build";

/// A `[project]` person (`authors`, `maintainers`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// `name`, empty when absent.
    pub name: String,
    /// `email`, empty when absent.
    pub email: String,
}

/// The resolved readme: its text (line endings normalised to `\n`, as Python's text mode
/// reads it) and content type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readme {
    /// The readme text, the body of the core metadata.
    pub text: String,
    /// `text/markdown`, `text/x-rst` or `text/plain` (from the extension, or the
    /// table's `content-type`).
    pub content_type: String,
    /// The project-relative file it came from, if any (forced into the sdist).
    pub path: Option<String>,
}

/// `[project].license` ([PEP 639] string = SPDX expression; table = legacy text).
///
/// [PEP 639]: https://peps.python.org/pep-0639/
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum License {
    /// No `license` field.
    None,
    /// `license = { text = ".." }` or `{ file = ".." }`: written as `License:`.
    Text(String),
    /// `license = "MIT OR Apache-2.0"`: written as `License-Expression:`.
    Expression(String),
}

/// Hatchling file-selection options of one build target (`[tool.hatch.build.targets.X]`,
/// falling back to `[tool.hatch.build]` per key, as hatchling does).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// `include` gitignore-style patterns.
    pub include: Vec<String>,
    /// `exclude` gitignore-style patterns.
    pub exclude: Vec<String>,
    /// `packages` (project-relative directories), sorted and normalised.
    pub packages: Vec<String>,
    /// `only-include` (project-relative paths), normalised.
    pub only_include: Vec<String>,
    /// `sources` as (prefix with trailing `/` or empty, replacement), sorted by prefix.
    pub sources: Vec<(String, String)>,
    /// `ignore-vcs`: when true, `.gitignore` does not exclude.
    pub ignore_vcs: bool,
    /// `only-packages` (wheel): only files in directories with an `__init__.py`.
    pub only_packages: bool,
}

/// A project's metadata and build configuration, resolved (version normalised, lists sorted
/// as hatchling sorts them, files read).
#[derive(Debug, Clone)]
pub struct Project {
    /// The project root (the directory of `pyproject.toml`).
    pub root: PathBuf,
    /// `[project].name` as written (`Name:` in the metadata).
    pub raw_name: String,
    /// The PEP 503 normalised name (lowercase, runs of `-_.` as `-`).
    pub name: String,
    /// The PEP 440 normalised version.
    pub version: String,
    /// `description` with line breaks joined by spaces (`Summary:`).
    pub description: String,
    /// The readme, if any.
    pub readme: Option<Readme>,
    /// `requires-python` as `packaging` prints a specifier set (sorted, no spaces).
    pub requires_python: String,
    /// The license.
    pub license: License,
    /// License files (project-relative, `/`-separated, sorted), from `license-files` globs
    /// or hatchling's defaults `LICEN[CS]E*`, `COPYING*`, `NOTICE*`, `AUTHORS*`.
    pub license_files: Vec<String>,
    /// `authors`.
    pub authors: Vec<Person>,
    /// `maintainers`.
    pub maintainers: Vec<Person>,
    /// `keywords`, deduplicated and sorted.
    pub keywords: Vec<String>,
    /// `classifiers`, deduplicated, in trove-classifiers order (private ones first).
    pub classifiers: Vec<String>,
    /// `urls` in file order: (label, url).
    pub urls: Vec<(String, String)>,
    /// `dependencies`, normalised as hatchling prints them, deduplicated and sorted.
    pub dependencies: Vec<String>,
    /// `optional-dependencies`: (normalised extra, normalised requirements), sorted.
    pub optional_dependencies: Vec<(String, Vec<String>)>,
    /// `scripts` sorted by name: (name, object reference).
    pub scripts: Vec<(String, String)>,
    /// `gui-scripts` sorted by name.
    pub gui_scripts: Vec<(String, String)>,
    /// `entry-points` groups sorted, each with its entries sorted.
    pub entry_points: Vec<(String, Vec<(String, String)>)>,
    /// `dynamic` fields left after resolution (sorted; `version` removed once resolved).
    pub dynamic: Vec<String>,
    /// Wheel target file selection.
    pub wheel: Selection,
    /// Sdist target file selection.
    pub sdist: Selection,
}

/// Reads `root/pyproject.toml` as a TOML table.
///
/// Errors: [`Error::Unsupported`] when there is no `pyproject.toml` but a `setup.py`
/// (setuptools-only project); [`Error::Io`], [`Error::Toml`] otherwise.
pub fn read_pyproject(root: &Path) -> Result<Table> {
    let path = root.join("pyproject.toml");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && root.join("setup.py").is_file() => {
            return Err(Error::unsupported(
                "setup.py-only project (setuptools, no pyproject.toml): build it with its own backend \
                 in a separate CI step and use the prebuilt mode",
            ));
        }
        Err(e) => return Err(Error::io(&path, e)),
    };
    text.parse::<Table>().map_err(|e| Error::Toml {
        path,
        message: e.to_string().trim().to_string(),
    })
}

pub(crate) fn project_table(doc: &Table) -> Result<&Table> {
    match doc.get("project") {
        Some(Value::Table(t)) => Ok(t),
        Some(_) => Err(Error::invalid("`project` must be a table")),
        None => Err(Error::invalid(
            "pyproject.toml has no [project] table (PEP 621 metadata is required)",
        )),
    }
}

/// The project name as written in `[project].name` (PEP 621), checked against the PEP 508
/// name rule (ASCII letters, digits, `-_.`, starting and ending alphanumeric).
///
/// Errors: the file cannot be read or parsed, or `name` is missing or invalid.
pub fn project_name(root: &Path) -> Result<String> {
    let doc = read_pyproject(root)?;
    raw_name(project_table(&doc)?)
}

pub(crate) fn raw_name(project: &Table) -> Result<String> {
    let name = match project.get("name") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::String(_)) | None => {
            return Err(Error::invalid("missing required field `project.name`"));
        }
        Some(_) => return Err(Error::invalid("field `project.name` must be a string")),
    };
    if !is_valid_name(&name) {
        return Err(Error::invalid(format!(
            "field `project.name` is not a valid PEP 508 name: {name:?}"
        )));
    }
    Ok(name)
}

/// The project version, PEP 440 normalised (e.g. `1.0.0-RC1` gives `1.0.0rc1`).
///
/// Taken from static `[project].version`, or, when `version` is in `project.dynamic`, from
/// `[tool.hatch.version] path`: the first line matching hatchling's default pattern
/// `(?i)^(__version__|VERSION) *= *(['"])v?(?P<version>.+?)\2` (the file is parsed as text,
/// never executed). `hatch.toml` at the root overrides `[tool.hatch]` as in hatchling.
///
/// Errors: file unreadable or not TOML; no version; `tool.hatch.version` uses a source other
/// than `regex` or a custom `pattern` ([`Error::Unsupported`]); the version is not PEP 440.
pub fn project_version(root: &Path) -> Result<String> {
    let doc = read_pyproject(root)?;
    let project = project_table(&doc)?;
    let hatch = hatch_table(root, &doc)?;
    let (version, _, _) = resolve_version(root, project, &hatch)?;
    Ok(version)
}

/// Like [`project_version`], also saying where the version was read: `pyproject.toml
/// [project].version`, or the project-relative file named by `[tool.hatch.version] path`.
/// Errors as [`project_version`].
pub fn project_version_source(root: &Path) -> Result<(String, String)> {
    let doc = read_pyproject(root)?;
    let project = project_table(&doc)?;
    let hatch = hatch_table(root, &doc)?;
    let (version, source, _) = resolve_version(root, project, &hatch)?;
    Ok((version, source))
}

/// `[tool.hatch]` merged with `hatch.toml` (whose top-level keys win).
fn hatch_table(root: &Path, doc: &Table) -> Result<Table> {
    let mut hatch = match doc.get("tool").and_then(|t| t.get("hatch")) {
        Some(Value::Table(t)) => t.clone(),
        Some(_) => return Err(Error::invalid("`tool.hatch` must be a table")),
        None => Table::new(),
    };
    let hatch_toml = root.join("hatch.toml");
    if hatch_toml.is_file() {
        let text = std::fs::read_to_string(&hatch_toml).map_err(|e| Error::io(&hatch_toml, e))?;
        let t: Table = text.parse().map_err(|e: toml::de::Error| Error::Toml {
            path: hatch_toml.clone(),
            message: e.to_string().trim().to_string(),
        })?;
        for (k, v) in t {
            hatch.insert(k, v);
        }
    }
    Ok(hatch)
}

pub(crate) fn dynamic_list(project: &Table) -> Result<Vec<String>> {
    match project.get("dynamic") {
        None => Ok(Vec::new()),
        Some(v) => {
            let mut d = string_list(v, "project.dynamic")?;
            d.sort();
            Ok(d)
        }
    }
}

/// Returns (normalised version, whether it was dynamic).
/// Returns (normalised version, where it was read: `pyproject.toml [project].version` or the
/// project-relative hatch version file, whether it was dynamic).
fn resolve_version(root: &Path, project: &Table, hatch: &Table) -> Result<(String, String, bool)> {
    let dynamic = dynamic_list(project)?;
    let (raw, source, is_dynamic) = match project.get("version") {
        Some(Value::String(v)) => {
            if dynamic.iter().any(|d| d == "version") {
                return Err(Error::invalid(
                    "metadata field `version` cannot be both statically defined and listed in field `project.dynamic`",
                ));
            }
            (
                v.clone(),
                "pyproject.toml [project].version".to_string(),
                false,
            )
        }
        Some(_) => return Err(Error::invalid("field `project.version` must be a string")),
        None => {
            if !dynamic.iter().any(|d| d == "version") {
                return Err(Error::invalid(
                    "missing required field `project.version` (or list it in `project.dynamic` and set [tool.hatch.version] path)",
                ));
            }
            let cfg = match hatch.get("version") {
                Some(Value::Table(t)) => t,
                _ => {
                    return Err(Error::invalid(
                        "`version` is dynamic but [tool.hatch.version] is missing: set `path` to the file holding `__version__ = \"...\"`",
                    ));
                }
            };
            let source = cfg.get("source").and_then(Value::as_str).unwrap_or("regex");
            if source != "regex" {
                return Err(Error::unsupported(format!(
                    "version source `{source}` in [tool.hatch.version] (only `regex` with `path` is read without running Python or git)"
                )));
            }
            if cfg.contains_key("pattern") {
                return Err(Error::unsupported(
                    "a custom `pattern` in [tool.hatch.version] (only the default `__version__ = \"...\"` pattern is read)",
                ));
            }
            let rel = match cfg.get("path") {
                Some(Value::String(p)) if !p.is_empty() => p.clone(),
                _ => {
                    return Err(Error::invalid(
                        "option `path` in [tool.hatch.version] must be a non-empty string",
                    ));
                }
            };
            let path = root.join(&rel);
            let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
            let v = find_version_assignment(&text).ok_or_else(|| {
                Error::invalid(format!(
                    "unable to parse the version from the file `{rel}`: no line like `__version__ = \"1.2.3\"`"
                ))
            })?;
            (v, rel, true)
        }
    };
    let normalized = normalize_version(&raw).map_err(|e| {
        Error::invalid(format!(
            "invalid version `{raw}` from {source}: {e} (see PEP 440)"
        ))
    })?;
    Ok((normalized, source, is_dynamic))
}

/// PEP 440 normalisation (`str(packaging.version.Version(v))`).
pub fn normalize_version(raw: &str) -> std::result::Result<String, String> {
    raw.trim()
        .parse::<pep440_rs::Version>()
        .map(|v| v.to_string())
        .map_err(|e| e.to_string())
}

/// hatchling's default version pattern, `(?i)^(__version__|VERSION) *= *(['"])v?(.+?)\2`
/// with `re.MULTILINE`: the first matching line wins.
fn find_version_assignment(text: &str) -> Option<String> {
    for line in text.split('\n') {
        let lower = line.to_ascii_lowercase();
        let rest = if lower.starts_with("__version__") {
            &line["__version__".len()..]
        } else if lower.starts_with("version") {
            &line["version".len()..]
        } else {
            continue;
        };
        let rest = rest.trim_start_matches(' ');
        let Some(rest) = rest.strip_prefix('=') else {
            continue;
        };
        let rest = rest.trim_start_matches(' ');
        let mut chars = rest.chars();
        let Some(q) = chars.next().filter(|c| *c == '"' || *c == '\'') else {
            continue;
        };
        let mut body = chars.as_str();
        // `v?` is greedy but may give the `v` back when the version would be empty.
        if let Some(b) = body
            .strip_prefix(['v', 'V'])
            .filter(|b| b.find(q).is_some_and(|i| i > 0))
        {
            body = b;
        }
        // `.+?` then the same quote: the shortest non-empty match.
        if let Some(end) = body.get(1..).and_then(|b| b.find(q)) {
            return Some(body[..end + 1].to_string());
        }
    }
    None
}

pub(crate) fn string_list(v: &Value, field: &str) -> Result<Vec<String>> {
    let arr = v
        .as_array()
        .ok_or_else(|| Error::invalid(format!("field `{field}` must be an array")))?;
    arr.iter()
        .enumerate()
        .map(|(i, e)| {
            e.as_str().map(str::to_string).ok_or_else(|| {
                Error::invalid(format!(
                    "entry #{} of field `{field}` must be a string",
                    i + 1
                ))
            })
        })
        .collect()
}

pub(crate) fn opt_str(t: &Table, key: &str, field: &str) -> Result<Option<String>> {
    match t.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Error::invalid(format!("field `{field}` must be a string"))),
    }
}

/// Whether `name` is a valid [PEP 508] project name: non-empty ASCII letters, digits and
/// `-_.`, starting and ending with a letter or digit.
///
/// [PEP 508]: https://peps.python.org/pep-0508/#names
pub(crate) fn is_valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(c))
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
}

/// PEP 503 name normalisation, `re.sub(r"[-_.]+", "-", name).lower()`: runs of `-`, `_`,
/// `.` become one `-`, letters are lowercased. `normalize_name("Foo.Bar__baz")` is
/// `"foo-bar-baz"`. The one normaliser of the workspace: the simple API's project URLs,
/// file names, findings' package names and the build all use it.
pub fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_sep {
                out.push('-');
            }
            in_sep = true;
        } else {
            out.extend(c.to_lowercase());
            in_sep = false;
        }
    }
    out
}

/// Reads text the way Python's text mode does (universal newlines).
pub(crate) fn read_text(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    Ok(text.replace("\r\n", "\n").replace('\r', "\n"))
}

fn content_type_for(path: &str) -> Result<&'static str> {
    let l = path.to_ascii_lowercase();
    if l.ends_with(".md") {
        Ok("text/markdown")
    } else if l.ends_with(".rst") {
        Ok("text/x-rst")
    } else if l.ends_with(".txt") {
        Ok("text/plain")
    } else {
        Err(Error::invalid(format!(
            "unable to determine the content-type based on the extension of readme file: {path} (use .md, .rst or .txt, or a table with `content-type`)"
        )))
    }
}

fn readme(root: &Path, project: &Table) -> Result<Option<Readme>> {
    match project.get("readme") {
        None => Ok(None),
        Some(Value::String(rel)) => {
            let content_type = content_type_for(rel)?;
            Ok(Some(Readme {
                text: read_text(&root.join(rel))?,
                content_type: content_type.to_string(),
                path: Some(rel.clone()),
            }))
        }
        Some(Value::Table(t)) => {
            let ct =
                opt_str(t, "content-type", "project.readme.content-type")?.ok_or_else(|| {
                    Error::invalid("field `content-type` is required in the `project.readme` table")
                })?;
            if !["text/markdown", "text/x-rst", "text/plain"].contains(&ct.as_str()) {
                return Err(Error::invalid(
                    "field `content-type` in the `project.readme` table must be one of text/markdown, text/x-rst, text/plain",
                ));
            }
            let file = opt_str(t, "file", "project.readme.file")?;
            let text = opt_str(t, "text", "project.readme.text")?;
            match (file, text) {
                (Some(_), Some(_)) => Err(Error::invalid(
                    "cannot specify both `file` and `text` in the `project.readme` table",
                )),
                (Some(rel), None) => Ok(Some(Readme {
                    text: read_text(&root.join(&rel))?,
                    content_type: ct,
                    path: Some(rel),
                })),
                (None, Some(text)) => Ok(Some(Readme {
                    text,
                    content_type: ct,
                    path: None,
                })),
                (None, None) => Err(Error::invalid(
                    "must specify either `file` or `text` in the `project.readme` table",
                )),
            }
        }
        Some(_) => Err(Error::invalid(
            "field `project.readme` must be a string or a table",
        )),
    }
}

fn license(root: &Path, project: &Table) -> Result<License> {
    match project.get("license") {
        None => Ok(License::None),
        Some(Value::String(expr)) => Ok(License::Expression(expr.clone())),
        Some(Value::Table(t)) => {
            if let Some(rel) = opt_str(t, "file", "project.license.file")? {
                Ok(License::Text(read_text(&root.join(rel))?))
            } else if let Some(text) = opt_str(t, "text", "project.license.text")? {
                Ok(License::Text(text))
            } else {
                Err(Error::invalid(
                    "must specify either `file` or `text` in the `project.license` table",
                ))
            }
        }
        Some(_) => Err(Error::invalid(
            "field `project.license` must be a string or a table",
        )),
    }
}

fn license_files(root: &Path, project: &Table) -> Result<Vec<String>> {
    let globs = match project.get("license-files") {
        None => ["LICEN[CS]E*", "COPYING*", "NOTICE*", "AUTHORS*"]
            .map(String::from)
            .to_vec(),
        Some(Value::Table(t)) => match t.get("globs").or_else(|| t.get("paths")) {
            Some(v) => string_list(v, "project.license-files")?,
            None => Vec::new(),
        },
        Some(v) => string_list(v, "project.license-files")?,
    };
    // (matcher, depth, recursive) per pattern; one walk for all of them, only as deep as the
    // deepest pattern reaches.
    let mut matchers = Vec::new();
    for pattern in &globs {
        let glob = globset::GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()
            .map_err(|e| Error::invalid(format!("bad glob in `project.license-files`: {e}")))?
            .compile_matcher();
        let depth = pattern.matches('/').count();
        matchers.push((glob, depth, pattern.contains("**")));
    }
    let max_depth = globs
        .iter()
        .map(|p| crate::select::glob_depth(p))
        .max()
        .unwrap_or(0);
    let mut found = Vec::new();
    if !matchers.is_empty() {
        // Python's glob: `*` does not match a leading dot; walk only as deep as the pattern.
        crate::select::walk_files_to_depth(root, max_depth, |rel, _| {
            let d = rel.matches('/').count();
            let hit = matchers
                .iter()
                .any(|(glob, depth, recursive)| (*recursive || d == *depth) && glob.is_match(rel));
            if hit && !rel.split('/').any(|c| c.starts_with('.')) {
                found.push(rel.to_string());
            }
        })?;
    }
    found.sort();
    found.dedup();
    Ok(found)
}

pub(crate) fn persons(project: &Table, key: &str) -> Result<Vec<Person>> {
    let Some(v) = project.get(key) else {
        return Ok(Vec::new());
    };
    let arr = v
        .as_array()
        .ok_or_else(|| Error::invalid(format!("field `project.{key}` must be an array")))?;
    arr.iter()
        .enumerate()
        .map(|(i, p)| {
            let t = p.as_table().ok_or_else(|| {
                Error::invalid(format!(
                    "entry #{} of field `project.{key}` must be an inline table",
                    i + 1
                ))
            })?;
            let field = format!("project.{key}[{}]", i + 1);
            let name = opt_str(t, "name", &field)?.unwrap_or_default();
            let email = opt_str(t, "email", &field)?.unwrap_or_default();
            if name.is_empty() && email.is_empty() {
                return Err(Error::invalid(format!(
                    "entry #{} of field `project.{key}` must specify either `name` or `email`",
                    i + 1
                )));
            }
            Ok(Person { name, email })
        })
        .collect()
}

pub(crate) fn str_map(v: &Value, field: &str) -> Result<Vec<(String, String)>> {
    let t = v
        .as_table()
        .ok_or_else(|| Error::invalid(format!("field `{field}` must be a table")))?;
    t.iter()
        .map(|(k, v)| {
            v.as_str()
                .map(|s| (k.clone(), s.to_string()))
                .ok_or_else(|| Error::invalid(format!("`{k}` of field `{field}` must be a string")))
        })
        .collect()
}

/// The trove classifiers (from the `trove-classifiers` package), in its sort order.
pub fn known_classifiers() -> impl Iterator<Item = &'static str> {
    include_str!("../data/classifiers.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
}

fn sort_classifiers(raw: Vec<String>) -> Result<Vec<String>> {
    let known: Vec<&str> = known_classifiers().collect();
    let mut unique = raw;
    unique.sort();
    unique.dedup();
    let mut keyed = Vec::new();
    for c in unique {
        let key = if c.starts_with("Private ::") {
            -1
        } else {
            match known.iter().position(|k| *k == c) {
                Some(i) => i as i64,
                None => {
                    return Err(Error::invalid(format!(
                        "unknown classifier in field `project.classifiers`: {c} (see https://pypi.org/classifiers/)"
                    )));
                }
            }
        };
        keyed.push((key, c));
    }
    // Python's sort is stable: private classifiers keep their (sorted-set) order.
    keyed.sort_by_key(|(k, _)| *k);
    Ok(keyed.into_iter().map(|(_, c)| c).collect())
}

fn hatch_get<'a>(hatch: &'a Table, path: &[&str]) -> Option<&'a Value> {
    let mut cur = hatch.get(path[0])?;
    for p in &path[1..] {
        cur = cur.get(p)?;
    }
    Some(cur)
}

fn normalize_rel(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split(['/', '\\']) {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    parts.join("/")
}

fn selection(hatch: &Table, target: &str) -> Result<Selection> {
    let build = hatch_get(hatch, &["build"]).and_then(Value::as_table);
    let tgt = hatch_get(hatch, &["build", "targets", target]).and_then(Value::as_table);
    let pick = |key: &str| -> Option<(&Value, String)> {
        if let Some(v) = tgt.and_then(|t| t.get(key)) {
            return Some((v, format!("tool.hatch.build.targets.{target}.{key}")));
        }
        build
            .and_then(|t| t.get(key))
            .map(|v| (v, format!("tool.hatch.build.{key}")))
    };
    let list = |key: &str| -> Result<Vec<String>> {
        match pick(key) {
            Some((v, f)) => string_list(v, &f),
            None => Ok(Vec::new()),
        }
    };
    let flag = |key: &str| -> Result<bool> {
        match pick(key) {
            Some((Value::Boolean(b), _)) => Ok(*b),
            Some((_, f)) => Err(Error::invalid(format!("field `{f}` must be a boolean"))),
            None => Ok(false),
        }
    };
    for unsupported in [
        "force-include",
        "shared-data",
        "shared-scripts",
        "extra-metadata",
        "artifacts",
    ] {
        if let Some((v, f)) = pick(unsupported) {
            let empty = v.as_table().is_some_and(|t| t.is_empty())
                || v.as_array().is_some_and(|a| a.is_empty());
            if !empty {
                return Err(Error::unsupported(format!(
                    "`{f}` is not implemented by this builder"
                )));
            }
        }
    }
    let mut packages: Vec<String> = list("packages")?.iter().map(|p| normalize_rel(p)).collect();
    packages.sort();
    let mut only_include: Vec<String> = list("only-include")?
        .iter()
        .map(|p| normalize_rel(p))
        .collect();
    if only_include.is_empty() {
        only_include = packages.clone();
    }
    let mut sources: Vec<(String, String)> = Vec::new();
    match pick("sources") {
        None => {}
        Some((Value::Array(_), f)) => {
            for s in string_list(pick("sources").unwrap().0, &f)? {
                sources.push((format!("{}/", normalize_rel(&s)), String::new()));
            }
        }
        Some((Value::Table(t), f)) => {
            for (src, dst) in t {
                let dst = dst.as_str().ok_or_else(|| {
                    Error::invalid(format!(
                        "path for source `{src}` in field `{f}` must be a string"
                    ))
                })?;
                let dst = normalize_rel(dst);
                let dst = if dst.is_empty() {
                    dst
                } else {
                    format!("{dst}/")
                };
                let src = if src.is_empty() {
                    String::new()
                } else {
                    format!("{}/", normalize_rel(src))
                };
                sources.push((src, dst));
            }
        }
        Some((_, f)) => {
            return Err(Error::invalid(format!(
                "field `{f}` must be a mapping or array of strings"
            )));
        }
    }
    for p in &packages {
        if let Some((parent, _)) = p.rsplit_once('/') {
            let pd = format!("{p}/");
            if !sources.iter().any(|(s, _)| *s == pd) {
                let key = format!("{parent}/");
                if !sources.iter().any(|(s, _)| *s == key) {
                    sources.push((key, String::new()));
                }
            }
        }
    }
    sources.sort();
    Ok(Selection {
        include: list("include")?,
        exclude: list("exclude")?,
        packages,
        only_include,
        sources,
        ignore_vcs: flag("ignore-vcs")?,
        only_packages: target == "wheel" && flag("only-packages")?,
    })
}

fn check_supported(root: &Path, doc: &Table, hatch: &Table) -> Result<()> {
    let backend = doc
        .get("build-system")
        .and_then(|b| b.get("build-backend"))
        .and_then(Value::as_str);
    match backend {
        Some(HATCHLING_BACKEND) => {}
        Some(other) => {
            return Err(Error::unsupported(format!(
                "build backend `{other}` (this builder reproduces `hatchling.build`; build with that backend in a separate CI step and use the prebuilt mode)"
            )));
        }
        None if root.join("setup.py").is_file() => {
            return Err(Error::unsupported(
                "setuptools project with setup.py and no `build-system.build-backend`",
            ));
        }
        None => {
            return Err(Error::unsupported(
                "no `build-system.build-backend` in pyproject.toml (PEP 517 then means setuptools); set `build-backend = \"hatchling.build\"`",
            ));
        }
    }
    let mut hooks = Vec::new();
    for (path, what) in [
        (&["build", "hooks"][..], "tool.hatch.build.hooks"),
        (&["metadata", "hooks"][..], "tool.hatch.metadata.hooks"),
        (
            &["build", "targets", "wheel", "hooks"][..],
            "tool.hatch.build.targets.wheel.hooks",
        ),
        (
            &["build", "targets", "sdist", "hooks"][..],
            "tool.hatch.build.targets.sdist.hooks",
        ),
    ] {
        if let Some(Value::Table(t)) = hatch_get(hatch, path) {
            for name in t.keys() {
                hooks.push(format!("{what}.{name}"));
            }
        }
    }
    if !hooks.is_empty() {
        return Err(Error::unsupported(format!(
            "build hooks ({}); hooks run Python code (e.g. compiled extensions) that this sandboxed builder does not run",
            hooks.join(", ")
        )));
    }
    Ok(())
}

impl Project {
    /// Reads and resolves the project at `root` for building with hatchling semantics.
    ///
    /// Errors: see [`Error`]; unsupported projects (another backend, setup.py, hooks,
    /// dynamic fields other than `version`, force-include/shared-data) get
    /// [`Error::Unsupported`] naming what.
    pub fn load(root: &Path) -> Result<Project> {
        let doc = read_pyproject(root)?;
        let hatch = hatch_table(root, &doc)?;
        check_supported(root, &doc, &hatch)?;
        let p = project_table(&doc)?;
        let raw_name = raw_name(p)?;
        let (version, _, _) = resolve_version(root, p, &hatch)?;
        let dynamic: Vec<String> = dynamic_list(p)?
            .into_iter()
            .filter(|d| d != "version")
            .collect();
        if !dynamic.is_empty() {
            return Err(Error::unsupported(format!(
                "dynamic metadata fields {:?} (only `version` is resolved without metadata hooks)",
                dynamic
            )));
        }
        let description = opt_str(p, "description", "project.description")?
            .unwrap_or_default()
            .lines()
            .collect::<Vec<_>>()
            .join(" ");
        let requires_python = match opt_str(p, "requires-python", "project.requires-python")? {
            Some(s) => crate::metadata::format_specifiers(&s, false),
            None => String::new(),
        };
        let mut keywords = match p.get("keywords") {
            Some(v) => string_list(v, "project.keywords")?,
            None => Vec::new(),
        };
        keywords.sort();
        keywords.dedup();
        let classifiers = match p.get("classifiers") {
            Some(v) => sort_classifiers(string_list(v, "project.classifiers")?)?,
            None => Vec::new(),
        };
        let urls = match p.get("urls") {
            Some(v) => str_map(v, "project.urls")?,
            None => Vec::new(),
        };
        let allow_direct = matches!(
            hatch_get(&hatch, &["metadata", "allow-direct-references"]),
            Some(Value::Boolean(true))
        );
        let format_reqs = |v: &Value, field: &str| -> Result<Vec<String>> {
            let mut out = Vec::new();
            for (i, r) in string_list(v, field)?.iter().enumerate() {
                let formatted = crate::metadata::format_requirement(r).map_err(|e| {
                    Error::invalid(format!(
                        "dependency #{} of field `{field}` is invalid: {e}",
                        i + 1
                    ))
                })?;
                if !allow_direct
                    && formatted
                        .split(';')
                        .next()
                        .is_some_and(|m| m.contains(" @ "))
                {
                    return Err(Error::invalid(format!(
                        "dependency #{} of field `{field}` cannot be a direct reference unless field \
                         `tool.hatch.metadata.allow-direct-references` is set to `true`",
                        i + 1
                    )));
                }
                out.push(formatted);
            }
            out.sort();
            out.dedup();
            Ok(out)
        };
        let dependencies = match p.get("dependencies") {
            Some(v) => format_reqs(v, "project.dependencies")?,
            None => Vec::new(),
        };
        let mut optional_dependencies = Vec::new();
        if let Some(v) = p.get("optional-dependencies") {
            let t = v.as_table().ok_or_else(|| {
                Error::invalid("field `project.optional-dependencies` must be a table")
            })?;
            for (extra, reqs) in t {
                let norm = normalize_name(extra);
                if optional_dependencies
                    .iter()
                    .any(|(e, _): &(String, _)| *e == norm)
                {
                    return Err(Error::invalid(format!(
                        "optional dependency groups of field `project.optional-dependencies` both evaluate to `{norm}`"
                    )));
                }
                let reqs = format_reqs(reqs, &format!("project.optional-dependencies.{extra}"))?;
                optional_dependencies.push((norm, reqs));
            }
            optional_dependencies.sort();
        }
        let sorted_map = |key: &str| -> Result<Vec<(String, String)>> {
            let mut m = match p.get(key) {
                Some(v) => str_map(v, &format!("project.{key}"))?,
                None => Vec::new(),
            };
            m.sort();
            Ok(m)
        };
        let scripts = sorted_map("scripts")?;
        let gui_scripts = sorted_map("gui-scripts")?;
        let mut entry_points = Vec::new();
        if let Some(v) = p.get("entry-points") {
            let t = v
                .as_table()
                .ok_or_else(|| Error::invalid("field `project.entry-points` must be a table"))?;
            for (group, entries) in t {
                if group == "console_scripts" || group == "gui_scripts" {
                    return Err(Error::invalid(format!(
                        "field `{group}` must be defined as `project.{}` instead of in the `project.entry-points` table",
                        if group == "console_scripts" {
                            "scripts"
                        } else {
                            "gui-scripts"
                        }
                    )));
                }
                let mut e = str_map(entries, &format!("project.entry-points.{group}"))?;
                e.sort();
                if !e.is_empty() {
                    entry_points.push((group.clone(), e));
                }
            }
            entry_points.sort();
        }
        Ok(Project {
            root: root.to_path_buf(),
            name: normalize_name(&raw_name),
            raw_name,
            version,
            description,
            readme: readme(root, p)?,
            requires_python,
            license: license(root, p)?,
            license_files: license_files(root, p)?,
            authors: persons(p, "authors")?,
            maintainers: persons(p, "maintainers")?,
            keywords,
            classifiers,
            urls,
            dependencies,
            optional_dependencies,
            scripts,
            gui_scripts,
            entry_points,
            dynamic,
            wheel: selection(&hatch, "wheel")?,
            sdist: selection(&hatch, "sdist")?,
        })
    }

    /// `{name}-{version}` with the name as a wheel/sdist file name component
    /// (PEP 427 escaping of the normalised name: `-` becomes `_`).
    pub fn project_id(&self) -> String {
        format!("{}-{}", self.name.replace('-', "_"), self.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_assignment_follows_hatchlings_default_pattern() {
        assert_eq!(
            find_version_assignment("__version__ = \"1.2.3\"\n").as_deref(),
            Some("1.2.3")
        );
        assert_eq!(
            find_version_assignment("x = 1\nVERSION='v2.0'\n").as_deref(),
            Some("2.0")
        );
        assert_eq!(
            find_version_assignment("  __version__ = '1'\n"),
            None,
            "must start the line"
        );
        assert_eq!(
            find_version_assignment("__version__ = get()\n__version__ = \"3\"").as_deref(),
            Some("3")
        );
        assert_eq!(
            find_version_assignment("__version__ = \"v\"").as_deref(),
            Some("v")
        );
    }

    #[test]
    fn names_normalise_per_pep_503() {
        assert_eq!(normalize_name("My__Package.Name"), "my-package-name");
    }
}
