//! Reading a project: `pyproject.toml` ([PEP 621] `[project]`, [PEP 517] `[build-system]`,
//! hatchling's `[tool.hatch]`), resolved the way hatchling 1.27 resolves it.
//!
//! [PEP 621]: https://peps.python.org/pep-0621/
//! [PEP 517]: https://peps.python.org/pep-0517/

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::{Table, Value};

use crate::error::{Error, Result};
use crate::pyproject::{
    Contact, Entries, EntryPointGroups, LicenseFilesTable, LicenseTable, ListOrTable, ProjectTable,
    ReadmeTable, StrOrTable, parse_at, project_fields,
};

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

/// The one `[project]` field [`project_name`] reads (other fields' mistakes do not stop it).
#[derive(Deserialize)]
struct NameField {
    name: Option<String>,
}

/// The `[project]` fields [`project_version`] reads.
#[derive(Deserialize)]
struct VersionFields {
    version: Option<String>,
    dynamic: Option<Vec<String>>,
}

/// The project name as written in `[project].name` (PEP 621), checked against the PEP 508
/// name rule (ASCII letters, digits, `-_.`, starting and ending alphanumeric).
///
/// Errors: the file cannot be read or parsed, or `name` is missing or invalid.
pub fn project_name(root: &Path) -> Result<String> {
    let doc = read_pyproject(root)?;
    checked_name(project_fields::<NameField>(&doc)?.name.as_deref())
}

/// `[project].name` checked: present, non-empty and a valid PEP 508 name (hatchling's and
/// flit_core's errors).
pub(crate) fn checked_name(name: Option<&str>) -> Result<String> {
    let name = match name {
        Some(s) if !s.is_empty() => s.to_string(),
        _ => return Err(Error::invalid("missing required field `project.name`")),
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
    Ok(version_of(root)?.0)
}

/// Like [`project_version`], also saying where the version was read: `pyproject.toml
/// [project].version`, or the project-relative file named by `[tool.hatch.version] path`.
/// Errors as [`project_version`].
pub fn project_version_source(root: &Path) -> Result<(String, String)> {
    version_of(root)
}

/// (version, source) of [`project_version_source`]: only `[project]` `version`/`dynamic` and
/// `[tool.hatch.version]` are read.
fn version_of(root: &Path) -> Result<(String, String)> {
    let doc = read_pyproject(root)?;
    let p: VersionFields = project_fields(&doc)?;
    let cfg: Option<HatchVersion> = match hatch_table(root, &doc)?.get("version") {
        Some(v) => Some(parse_at(v, "tool.hatch.version")?),
        None => None,
    };
    let dynamic = p.dynamic.unwrap_or_default();
    resolve_version(root, p.version.as_deref(), &dynamic, cfg.as_ref())
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

/// Returns (normalised version, where it was read: `pyproject.toml [project].version` or the
/// project-relative hatch version file).
fn resolve_version(
    root: &Path,
    version: Option<&str>,
    dynamic: &[String],
    cfg: Option<&HatchVersion>,
) -> Result<(String, String)> {
    let is_dynamic = dynamic.iter().any(|d| d == "version");
    let (raw, source) = match version {
        Some(_) if is_dynamic => {
            return Err(Error::invalid(
                "metadata field `version` cannot be both statically defined and listed in field `project.dynamic`",
            ));
        }
        Some(v) => (
            v.to_string(),
            "pyproject.toml [project].version".to_string(),
        ),
        None if !is_dynamic => {
            return Err(Error::invalid(
                "missing required field `project.version` (or list it in `project.dynamic` and set [tool.hatch.version] path)",
            ));
        }
        None => {
            let cfg = cfg.ok_or_else(|| {
                Error::invalid(
                    "`version` is dynamic but [tool.hatch.version] is missing: set `path` to the file holding `__version__ = \"...\"`",
                )
            })?;
            let source = cfg.source.as_deref().unwrap_or("regex");
            if source != "regex" {
                return Err(Error::unsupported(format!(
                    "version source `{source}` in [tool.hatch.version] (only `regex` with `path` is read without running Python or git)"
                )));
            }
            if cfg.pattern.is_some() {
                return Err(Error::unsupported(
                    "a custom `pattern` in [tool.hatch.version] (only the default `__version__ = \"...\"` pattern is read)",
                ));
            }
            let rel = match cfg.path.as_deref() {
                Some(p) if !p.is_empty() => p.to_string(),
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
            (v, rel)
        }
    };
    let normalized = normalize_version(&raw).map_err(|e| {
        Error::invalid(format!(
            "invalid version `{raw}` from {source}: {e} (see PEP 440)"
        ))
    })?;
    Ok((normalized, source))
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

fn readme(root: &Path, readme: Option<&StrOrTable<ReadmeTable>>) -> Result<Option<Readme>> {
    match readme {
        None => Ok(None),
        Some(StrOrTable::Str(rel)) => {
            let content_type = content_type_for(rel)?;
            Ok(Some(Readme {
                text: read_text(&root.join(rel))?,
                content_type: content_type.to_string(),
                path: Some(rel.clone()),
            }))
        }
        Some(StrOrTable::Table(t)) => {
            let ct = t.content_type.clone().ok_or_else(|| {
                Error::invalid("field `content-type` is required in the `project.readme` table")
            })?;
            if !["text/markdown", "text/x-rst", "text/plain"].contains(&ct.as_str()) {
                return Err(Error::invalid(
                    "field `content-type` in the `project.readme` table must be one of text/markdown, text/x-rst, text/plain",
                ));
            }
            match (&t.file, &t.text) {
                (Some(_), Some(_)) => Err(Error::invalid(
                    "cannot specify both `file` and `text` in the `project.readme` table",
                )),
                (Some(rel), None) => Ok(Some(Readme {
                    text: read_text(&root.join(rel))?,
                    content_type: ct,
                    path: Some(rel.clone()),
                })),
                (None, Some(text)) => Ok(Some(Readme {
                    text: text.clone(),
                    content_type: ct,
                    path: None,
                })),
                (None, None) => Err(Error::invalid(
                    "must specify either `file` or `text` in the `project.readme` table",
                )),
            }
        }
    }
}

fn license(root: &Path, license: Option<&StrOrTable<LicenseTable>>) -> Result<License> {
    match license {
        None => Ok(License::None),
        Some(StrOrTable::Str(expr)) => Ok(License::Expression(expr.clone())),
        Some(StrOrTable::Table(t)) => match (&t.file, &t.text) {
            (Some(rel), _) => Ok(License::Text(read_text(&root.join(rel))?)),
            (None, Some(text)) => Ok(License::Text(text.clone())),
            (None, None) => Err(Error::invalid(
                "must specify either `file` or `text` in the `project.license` table",
            )),
        },
    }
}

fn license_files(
    root: &Path,
    field: Option<&ListOrTable<LicenseFilesTable>>,
) -> Result<Vec<String>> {
    let globs = match field {
        None => ["LICEN[CS]E*", "COPYING*", "NOTICE*", "AUTHORS*"]
            .map(String::from)
            .to_vec(),
        Some(ListOrTable::Table(t)) => t
            .globs
            .clone()
            .or_else(|| t.paths.clone())
            .unwrap_or_default(),
        Some(ListOrTable::List(l)) => l.clone(),
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

/// `authors` / `maintainers` (`key`) as hatchling reads them: each needs a `name` or an
/// `email` (flit_core reads them the same way).
pub(crate) fn persons(list: Option<&Vec<Contact>>, key: &str) -> Result<Vec<Person>> {
    list.into_iter()
        .flatten()
        .enumerate()
        .map(|(i, c)| {
            let name = c.name.clone().unwrap_or_default();
            let email = c.email.clone().unwrap_or_default();
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

/// `[tool.hatch]` (merged with `hatch.toml`): the parts hatchling's loader reads here.
/// Unknown keys are ignored, as hatchling ignores them (environments, publishing, ...).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct HatchTool {
    version: Option<HatchVersion>,
    metadata: Option<HatchMetadata>,
    build: Option<HatchTarget>,
}

/// `[tool.hatch.version]`.
#[derive(Debug, Default, Deserialize)]
struct HatchVersion {
    source: Option<String>,
    pattern: Option<Value>,
    path: Option<String>,
}

/// `[tool.hatch.metadata]`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct HatchMetadata {
    allow_direct_references: Option<bool>,
    hooks: Option<Value>,
}

/// `[tool.hatch.build]` or one of its `targets` (each option falls back to the former).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct HatchTarget {
    include: Option<Vec<String>>,
    exclude: Option<Vec<String>>,
    packages: Option<Vec<String>>,
    only_include: Option<Vec<String>>,
    sources: Option<ListOrTable<Entries<String>>>,
    ignore_vcs: Option<bool>,
    only_packages: Option<bool>,
    force_include: Option<Value>,
    shared_data: Option<Value>,
    shared_scripts: Option<Value>,
    extra_metadata: Option<Value>,
    artifacts: Option<Value>,
    hooks: Option<Value>,
    /// `[tool.hatch.build.targets]` (only read on `[tool.hatch.build]`).
    targets: Option<Box<HatchTargets>>,
}

/// `[tool.hatch.build.targets]`: the two targets built here (others are ignored).
#[derive(Debug, Default, Deserialize)]
struct HatchTargets {
    wheel: Option<HatchTarget>,
    sdist: Option<HatchTarget>,
}

impl HatchTool {
    fn target(&self, target: &str) -> Option<&HatchTarget> {
        let t = self.build.as_ref()?.targets.as_deref()?;
        if target == "wheel" {
            t.wheel.as_ref()
        } else {
            t.sdist.as_ref()
        }
    }
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

/// hatchling's lookup of a build option: the target's, else `[tool.hatch.build]`'s, with the
/// dotted name of where it was found.
fn pick<'a, T>(
    hatch: &'a HatchTool,
    target: &str,
    key: &str,
    get: impl Fn(&'a HatchTarget) -> Option<&'a T>,
) -> Option<(&'a T, String)> {
    if let Some(v) = hatch.target(target).and_then(&get) {
        return Some((v, format!("tool.hatch.build.targets.{target}.{key}")));
    }
    let v = hatch.build.as_ref().and_then(get)?;
    Some((v, format!("tool.hatch.build.{key}")))
}

fn selection(hatch: &HatchTool, target: &str) -> Result<Selection> {
    let list = |key: &str, get: fn(&HatchTarget) -> Option<&Vec<String>>| -> Vec<String> {
        pick(hatch, target, key, get)
            .map(|(v, _)| v.clone())
            .unwrap_or_default()
    };
    let flag = |key: &str, get: fn(&HatchTarget) -> Option<&bool>| -> bool {
        pick(hatch, target, key, get).is_some_and(|(b, _)| *b)
    };
    type Get = fn(&HatchTarget) -> Option<&Value>;
    let unsupported: [(&str, Get); 5] = [
        ("force-include", |t| t.force_include.as_ref()),
        ("shared-data", |t| t.shared_data.as_ref()),
        ("shared-scripts", |t| t.shared_scripts.as_ref()),
        ("extra-metadata", |t| t.extra_metadata.as_ref()),
        ("artifacts", |t| t.artifacts.as_ref()),
    ];
    for (key, get) in unsupported {
        if let Some((v, f)) = pick(hatch, target, key, get) {
            let empty = v.as_table().is_some_and(|t| t.is_empty())
                || v.as_array().is_some_and(|a| a.is_empty());
            if !empty {
                return Err(Error::unsupported(format!(
                    "`{f}` is not implemented by this builder"
                )));
            }
        }
    }
    let mut packages: Vec<String> = list("packages", |t| t.packages.as_ref())
        .iter()
        .map(|p| normalize_rel(p))
        .collect();
    packages.sort();
    let mut only_include: Vec<String> = list("only-include", |t| t.only_include.as_ref())
        .iter()
        .map(|p| normalize_rel(p))
        .collect();
    if only_include.is_empty() {
        only_include = packages.clone();
    }
    let mut sources: Vec<(String, String)> = Vec::new();
    match pick(hatch, target, "sources", |t| t.sources.as_ref()) {
        None => {}
        Some((ListOrTable::List(l), _)) => {
            for s in l {
                sources.push((format!("{}/", normalize_rel(s)), String::new()));
            }
        }
        Some((ListOrTable::Table(Entries(t)), _)) => {
            for (src, dst) in t {
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
        include: list("include", |t| t.include.as_ref()),
        exclude: list("exclude", |t| t.exclude.as_ref()),
        packages,
        only_include,
        sources,
        ignore_vcs: flag("ignore-vcs", |t| t.ignore_vcs.as_ref()),
        only_packages: target == "wheel" && flag("only-packages", |t| t.only_packages.as_ref()),
    })
}

/// hatchling's `build-system.build-backend` check: another backend or none is unsupported.
fn check_backend(root: &Path, doc: &Table) -> Result<()> {
    let backend = doc
        .get("build-system")
        .and_then(|b| b.get("build-backend"))
        .and_then(Value::as_str);
    match backend {
        Some(HATCHLING_BACKEND) => Ok(()),
        Some(other) => Err(Error::unsupported(format!(
            "build backend `{other}` (this builder reproduces `hatchling.build`; build with that backend in a separate CI step and use the prebuilt mode)"
        ))),
        None if root.join("setup.py").is_file() => Err(Error::unsupported(
            "setuptools project with setup.py and no `build-system.build-backend`",
        )),
        None => Err(Error::unsupported(
            "no `build-system.build-backend` in pyproject.toml (PEP 517 then means setuptools); set `build-backend = \"hatchling.build\"`",
        )),
    }
}

/// Build and metadata hooks run Python: unsupported, naming each.
fn check_hooks(hatch: &HatchTool) -> Result<()> {
    let mut hooks = Vec::new();
    let build = hatch.build.as_ref();
    for (value, what) in [
        (
            build.and_then(|b| b.hooks.as_ref()),
            "tool.hatch.build.hooks",
        ),
        (
            hatch.metadata.as_ref().and_then(|m| m.hooks.as_ref()),
            "tool.hatch.metadata.hooks",
        ),
        (
            hatch.target("wheel").and_then(|t| t.hooks.as_ref()),
            "tool.hatch.build.targets.wheel.hooks",
        ),
        (
            hatch.target("sdist").and_then(|t| t.hooks.as_ref()),
            "tool.hatch.build.targets.sdist.hooks",
        ),
    ] {
        if let Some(Value::Table(t)) = value {
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

/// Requirements as hatchling prints them, deduplicated and sorted; a direct reference
/// needs `tool.hatch.metadata.allow-direct-references`.
fn format_reqs(reqs: Option<&Vec<String>>, field: &str, allow_direct: bool) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for (i, r) in reqs.into_iter().flatten().enumerate() {
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
}

/// `optional-dependencies` as hatchling resolves them: extras normalised (two that
/// normalise alike are an error), requirements as [`format_reqs`], sorted by extra.
fn optional_dependencies(
    p: &ProjectTable,
    allow_direct: bool,
) -> Result<Vec<(String, Vec<String>)>> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for (extra, reqs) in p.optional_dependencies.iter().flat_map(|e| &e.0) {
        let norm = normalize_name(extra);
        if out.iter().any(|(e, _)| *e == norm) {
            return Err(Error::invalid(format!(
                "optional dependency groups of field `project.optional-dependencies` both evaluate to `{norm}`"
            )));
        }
        let field = format!("project.optional-dependencies.{extra}");
        out.push((norm, format_reqs(Some(reqs), &field, allow_direct)?));
    }
    out.sort();
    Ok(out)
}

/// `entry-points` groups sorted with their entries sorted, empty groups dropped;
/// `console_scripts`/`gui_scripts` there are an error (hatchling's wording).
fn entry_points(p: &ProjectTable) -> Result<EntryPointGroups> {
    let mut out = Vec::new();
    for (group, Entries(entries)) in p.entry_points.iter().flat_map(|e| &e.0) {
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
        let mut e = entries.clone();
        e.sort();
        if !e.is_empty() {
            out.push((group.clone(), e));
        }
    }
    out.sort();
    Ok(out)
}

/// A `[project]` table of strings, sorted by key.
fn sorted(map: Option<&Entries<String>>) -> Vec<(String, String)> {
    let mut m = map.map(|m| m.0.clone()).unwrap_or_default();
    m.sort();
    m
}

impl Project {
    /// Reads and resolves the project at `root` for building with hatchling semantics.
    ///
    /// Errors: see [`Error`]; a field or `[tool.hatch]` option of the wrong shape is an
    /// [`Error::Invalid`] naming its path; unsupported projects (another backend, setup.py,
    /// hooks, dynamic fields other than `version`, force-include/shared-data) get
    /// [`Error::Unsupported`] naming what.
    pub fn load(root: &Path) -> Result<Project> {
        let doc = read_pyproject(root)?;
        check_backend(root, &doc)?;
        let hatch: HatchTool = parse_at(&Value::Table(hatch_table(root, &doc)?), "tool.hatch")?;
        check_hooks(&hatch)?;
        let p = ProjectTable::from_doc(&doc)?;
        let raw_name = checked_name(p.name.as_deref())?;
        let (version, _) = resolve_version(
            root,
            p.version.as_deref(),
            p.dynamic(),
            hatch.version.as_ref(),
        )?;
        let mut dynamic: Vec<String> = p
            .dynamic()
            .iter()
            .filter(|d| *d != "version")
            .cloned()
            .collect();
        dynamic.sort();
        if !dynamic.is_empty() {
            return Err(Error::unsupported(format!(
                "dynamic metadata fields {:?} (only `version` is resolved without metadata hooks)",
                dynamic
            )));
        }
        let mut keywords = p.keywords.clone().unwrap_or_default();
        keywords.sort();
        keywords.dedup();
        let allow_direct = hatch
            .metadata
            .as_ref()
            .and_then(|m| m.allow_direct_references)
            .unwrap_or(false);
        Ok(Project {
            root: root.to_path_buf(),
            name: normalize_name(&raw_name),
            raw_name,
            version,
            description: p
                .description
                .as_deref()
                .unwrap_or_default()
                .lines()
                .collect::<Vec<_>>()
                .join(" "),
            readme: readme(root, p.readme.as_ref())?,
            requires_python: p
                .requires_python
                .as_deref()
                .map(|s| crate::metadata::format_specifiers(s, false))
                .unwrap_or_default(),
            license: license(root, p.license.as_ref())?,
            license_files: license_files(root, p.license_files.as_ref())?,
            authors: persons(p.authors.as_ref(), "authors")?,
            maintainers: persons(p.maintainers.as_ref(), "maintainers")?,
            keywords,
            classifiers: sort_classifiers(p.classifiers.clone().unwrap_or_default())?,
            urls: p.urls.clone().map(|u| u.0).unwrap_or_default(),
            dependencies: format_reqs(
                p.dependencies.as_ref(),
                "project.dependencies",
                allow_direct,
            )?,
            optional_dependencies: optional_dependencies(&p, allow_direct)?,
            scripts: sorted(p.scripts.as_ref()),
            gui_scripts: sorted(p.gui_scripts.as_ref()),
            entry_points: entry_points(&p)?,
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
    fn hatch_options_are_named_by_path() {
        let hatch = |toml: &str| {
            let t: Table = toml.parse().unwrap();
            parse_at::<HatchTool>(&Value::Table(t), "tool.hatch")
        };
        let err = hatch("[build.targets.wheel]\npackages = \"src/pkg\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("field `tool.hatch.build.targets.wheel.packages`: invalid type"),
            "{err}"
        );
        let h = hatch("[build]\ninclude = [\"a\"]\n[build.targets.sdist]\nexclude = [\"b\"]\n[envs.x]\ny = 1\n")
            .unwrap();
        let sdist = selection(&h, "sdist").unwrap();
        assert_eq!(
            (sdist.include, sdist.exclude),
            (vec!["a".into()], vec!["b".into()])
        );
    }

    #[test]
    fn names_normalise_per_pep_503() {
        assert_eq!(normalize_name("My__Package.Name"), "my-package-name");
    }
}
