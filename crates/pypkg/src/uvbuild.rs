//! Building `uv_build` projects as uv_build 0.9 builds them (astral-sh/uv,
//! `crates/uv-build-backend/src/{lib,wheel,source_dist,metadata,settings}.rs` at 0.9.5; the
//! same output as 0.8.x), without running uv.
//!
//! - `[tool.uv.build-backend]` ([`Settings`]): `module-root` (default `src`; `""` or `.` is
//!   the flat layout), `module-name` (default: the normalised name with `-` as `_`; a
//!   dotted name is a namespace package, a list builds several modules; a `-stubs` name
//!   needs `__init__.pyi`), `namespace`, `source-include`, `source-exclude`,
//!   `wheel-exclude`, `default-excludes` (`__pycache__`, `*.pyc`, `*.pyo`) and `data`
//!   (`<name>-<version>.data/<purelib|platlib|headers|scripts|data>/`). Every module must
//!   have its `__init__.py` (the error names the path looked for); parents of a dotted
//!   module must not have one.
//! - Globs are uv's portable PEP 639 globs (`uv-globfilter`): `*`/`?`/`[…]` stay within a
//!   path component, `**` crosses them; excludes are unanchored (`**/` prefixed) unless they
//!   start with `/`. A directory is walked (and, in the sdist, written as an entry) when a
//!   glob could match below it, as uv's `GlobDirFilter::match_directory` decides.
//! - Metadata ([`UvProject::metadata`]): core metadata 2.3, or 2.4 with a PEP 639 license
//!   expression or `license-files`, in `Metadata23::core_metadata_format`'s field order
//!   (Name normalised, Requires-Dist after Classifier, Maintainer after Requires-Dist,
//!   continuation lines indented by the key's width plus two), requirements printed as
//!   uv prints them (see `uvbuild/marker.rs`). Dynamic metadata is unsupported by
//!   uv_build, so here too.
//! - Wheel: directories are zip entries (`name/`, mode 040755, stored); per module its
//!   parent directories, then the module walked in file-name order (directories before
//!   their contents), then `.dist-info/licenses/…` (the license-files globs walked over the
//!   project), `.data/…`, the `.dist-info/` entry, `WHEEL` (no trailing newline), optional
//!   `entry_points.txt`, `METADATA`, `RECORD`. Files are 0o644, or 0o755 when executable;
//!   every member is dated 1980-01-01 00:00:00: uv_build ignores `SOURCE_DATE_EPOCH`.
//! - Sdist: a GNU tar (written by the same `tar` crate uv uses, so the uncompressed stream
//!   is uv_build's): `{name}-{version}/PKG-INFO` first, then the project walked in file-name
//!   order from the top directory entry `{name}-{version}/` on, keeping `pyproject.toml`,
//!   the modules, the readme, license files, data directories and `source-include` matches
//!   (minus the excludes); mtime 0, uid/gid 0, modes 644/755; gzip level 6, mtime 0.
//!
//! Differences from later uv_build releases (0.11+: `pyproject.toml` rewritten to TOML 1.0
//! with the original kept as `pyproject.toml.orig`, empty directories skipped, redundant
//! module names pruned, a trailing newline in `WHEEL`) are not reproduced: this is 0.9's
//! output.

mod marker;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::project::{is_valid_name, normalize_name, normalize_version, read_pyproject};
use crate::pyproject::{Contact, Entries, LicenseTable, ProjectTable, StrOrTable, tool_table};
use crate::{BuildOptions, archive};

/// uv_build's default excludes (`DEFAULT_EXCLUDES`).
pub const DEFAULT_EXCLUDES: &[&str] = &["__pycache__", "*.pyc", "*.pyo"];

/// `[tool.uv.build-backend]`, with uv_build's defaults. Unknown keys are ignored, as
/// uv_build ignores them; in `data`, they are an error, as in uv_build.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct Settings {
    /// `module-root`, as written (default `"src"`).
    pub module_root: String,
    /// `module-name`: `None`, or the names (one for a string, several for a list).
    #[serde(deserialize_with = "crate::pyproject::one_or_many")]
    pub module_name: Option<Vec<String>>,
    /// `source-include` globs.
    pub source_include: Vec<String>,
    /// `default-excludes` (default true).
    pub default_excludes: bool,
    /// `source-exclude` globs (also excluded from the wheel).
    pub source_exclude: Vec<String>,
    /// `wheel-exclude` globs.
    pub wheel_exclude: Vec<String>,
    /// `namespace` (default false): no `__init__.py` checks.
    pub namespace: bool,
    /// `data`: (`purelib`|`platlib`|`headers`|`scripts`|`data`, directory), in that order.
    #[serde(deserialize_with = "wheel_data")]
    pub data: Vec<(&'static str, String)>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            module_root: "src".into(),
            module_name: None,
            source_include: Vec::new(),
            default_excludes: true,
            source_exclude: Vec::new(),
            wheel_exclude: Vec::new(),
            namespace: false,
            data: Vec::new(),
        }
    }
}

/// A `uv_build` project, resolved.
#[derive(Debug, Clone)]
pub struct UvProject {
    /// The project root.
    pub root: PathBuf,
    /// `[project].name` as written.
    pub raw_name: String,
    /// The normalised name (PEP 503), what `Name:` holds.
    pub name: String,
    /// The PEP 440 normalised version.
    pub version: String,
    /// `[tool.uv.build-backend]`.
    pub settings: Settings,
    /// The core metadata text (`METADATA`, `PKG-INFO`).
    pub metadata: String,
    /// `entry_points.txt`, when any of `scripts`, `gui-scripts`, `entry-points` is given.
    pub entry_points: Option<String>,
    /// `project.license-files` globs (copied into `.dist-info/licenses/`).
    pub license_globs: Vec<String>,
    /// The `project.license = { file = … }` path, if any (sdist only).
    pub license_file: Option<String>,
    /// The readme file, if the readme is a file.
    pub readme_file: Option<String>,
    /// The module root, normalised and project-relative (`""` for the flat layout).
    pub module_root: String,
    /// The modules' paths below the module root (`a/b` for `a.b`).
    pub modules: Vec<String>,
}

/// One member of a distribution, in writing order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Member {
    /// A directory entry (archive path as uv passes it to the writer).
    Dir(String),
    /// A file copied from the project.
    File(String, PathBuf),
    /// A generated file.
    Bytes(String, Vec<u8>),
}

fn err_field(field: &str, what: &str) -> Error {
    Error::invalid(format!("field `{field}` {what}"))
}

/// `[tool.uv.build-backend.data]` (uv's `WheelDataIncludes`, which refuses unknown keys).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WheelData {
    purelib: Option<String>,
    platlib: Option<String>,
    headers: Option<String>,
    scripts: Option<String>,
    data: Option<String>,
}

/// [`Settings::data`] from `[tool.uv.build-backend.data]`, in uv_build's order.
fn wheel_data<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Vec<(&'static str, String)>, D::Error> {
    let w = WheelData::deserialize(d)?;
    Ok([
        ("purelib", w.purelib),
        ("platlib", w.platlib),
        ("headers", w.headers),
        ("scripts", w.scripts),
        ("data", w.data),
    ]
    .into_iter()
    .filter_map(|(k, v)| Some((k, v?)))
    .collect())
}

/// uv's `PackageName` validation and normalisation (an error for names that are not PEP
/// 508 names).
fn package_name(raw: &str, field: &str) -> Result<String> {
    if !is_valid_name(raw) {
        return Err(err_field(
            field,
            &format!(
                "is not a valid name: {raw:?} (ASCII letters, digits, `-_.`, starting and ending alphanumeric)"
            ),
        ));
    }
    Ok(normalize_name(raw))
}

/// `uv_fs::normalize_path` of a relative `/`-separated path: `.` dropped, `..` resolved;
/// `None` when it leaves the project or is absolute.
fn normalize_rel(p: &str) -> Option<String> {
    if p.starts_with('/') || p.starts_with('\\') {
        return None;
    }
    let mut out: Vec<&str> = Vec::new();
    for c in p.split(['/', '\\']) {
        match c {
            "" | "." => {}
            ".." => {
                out.pop()?;
            }
            c => out.push(c),
        }
    }
    Some(out.join("/"))
}

/// uv's `Identifier`: a letter or `_`, then letters, digits or `_`.
fn identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
}

/// A PEP 639 / uv portable glob (`PortableGlobParser::check`), compiled as uv compiles it.
#[derive(Debug, Clone)]
struct PortableGlob {
    matcher: globset::GlobMatcher,
    components: Vec<globset::GlobMatcher>,
    /// Which components are `**`.
    double: Vec<bool>,
}

fn parse_glob(glob: &str, uv_escapes: bool, field: &str) -> Result<PortableGlob> {
    let bad =
        |why: String| Error::invalid(format!("unsupported glob expression in `{field}`: {why}"));
    let chars: Vec<char> = glob.chars().collect();
    let mut i = 0;
    let mut start_or_slash = true;
    while i < chars.len() {
        let c = chars[i];
        if c == '*' {
            let mut run = 1;
            while i + run < chars.len() && chars[i + run] == '*' {
                run += 1;
            }
            if run >= 3 || (run == 2 && i + 2 < chars.len() && chars[i + 2] != '/') {
                return Err(bad(format!(
                    "too many stars at position {i} in glob `{glob}`"
                )));
            }
            i += run;
            start_or_slash = false;
            continue;
        } else if c.is_alphanumeric() || matches!(c, '_' | '-' | '?') {
            start_or_slash = false;
        } else if c == '.' {
            if start_or_slash && chars.get(i + 1) == Some(&'.') {
                return Err(bad(format!(
                    "the parent directory operator (`..`) at position {i} is not allowed in glob `{glob}`"
                )));
            }
            start_or_slash = false;
        } else if c == '/' {
            start_or_slash = true;
        } else if c == '[' {
            i += 1;
            while i < chars.len() && chars[i] != ']' {
                if !(chars[i].is_alphanumeric() || matches!(chars[i], '_' | '-' | '.')) {
                    return Err(bad(format!(
                        "invalid character `{}` in range at position {i} in glob `{glob}`",
                        chars[i]
                    )));
                }
                i += 1;
            }
            start_or_slash = false;
        } else if c == '\\' && uv_escapes {
            match chars.get(i + 1) {
                Some('/' | '\\') => {
                    return Err(bad(format!(
                        "path separators can't be escaped (position {}) in glob `{glob}`",
                        i + 1
                    )));
                }
                Some(_) => i += 1,
                None => return Err(bad(format!("trailing backslash in glob `{glob}`"))),
            }
        } else {
            return Err(bad(format!(
                "invalid character `{c}` at position {i} in glob `{glob}`"
            )));
        }
        i += 1;
    }
    let build = |g: &str| {
        globset::GlobBuilder::new(g)
            .literal_separator(true)
            .backslash_escape(uv_escapes)
            .build()
            .map(|g| g.compile_matcher())
            .map_err(|e| bad(e.to_string()))
    };
    let mut components = Vec::new();
    let mut double = Vec::new();
    for c in glob.split('/') {
        double.push(c == "**");
        components.push(build(c)?);
    }
    Ok(PortableGlob {
        matcher: build(glob)?,
        components,
        double,
    })
}

impl PortableGlob {
    /// Whether some path `path/…` (one or more further components) could match.
    fn can_extend(&self, path: &[&str]) -> bool {
        fn rec(g: &PortableGlob, gi: usize, path: &[&str]) -> bool {
            if gi == g.components.len() {
                return false;
            }
            if g.double[gi] {
                if gi + 1 == g.components.len() {
                    return true;
                }
                return rec(g, gi + 1, path) || (!path.is_empty() && rec(g, gi, &path[1..]));
            }
            match path.first() {
                None => true,
                Some(c) => g.components[gi].is_match(c) && rec(g, gi + 1, &path[1..]),
            }
        }
        rec(self, 0, path)
    }
}

/// uv's `GlobDirFilter`: which paths (project-relative, `/`-separated) a set of globs
/// includes, and which directories may hold included paths.
struct DirFilter {
    globs: Vec<PortableGlob>,
    literal: Vec<String>,
}

impl DirFilter {
    fn full_match(&self, rel: &str) -> bool {
        self.globs.iter().any(|g| g.matcher.is_match(rel)) || self.literal.iter().any(|l| l == rel)
    }

    /// `match_directory`: the root, a match, or a prefix of a possible match.
    fn match_directory(&self, rel: &str) -> bool {
        if rel.is_empty() || self.full_match(rel) {
            return true;
        }
        let parts: Vec<&str> = rel.split('/').collect();
        self.globs.iter().any(|g| g.can_extend(&parts))
            || self
                .literal
                .iter()
                .any(|l| l.starts_with(rel) && l[rel.len()..].starts_with('/'))
    }

    /// `match_path`: `match_directory` or a full match.
    fn match_path(&self, rel: &str) -> bool {
        self.match_directory(rel) || self.full_match(rel)
    }
}

/// `build_exclude_matcher`: unanchored unless starting with `/`.
struct Excludes(Vec<globset::GlobMatcher>);

impl Excludes {
    fn new(patterns: &[String]) -> Result<Excludes> {
        let mut out = Vec::new();
        for p in patterns {
            let g = match p.strip_prefix('/') {
                Some(anchored) => anchored.to_string(),
                None => format!("**/{p}"),
            };
            out.push(parse_glob(&g, true, "tool.uv.build-backend.*-exclude")?.matcher);
        }
        Ok(Excludes(out))
    }
    fn is_match(&self, path: &str) -> bool {
        self.0.iter().any(|g| g.is_match(path))
    }
}

/// One entry of a walk: path relative to the walk root (`""` for the root), whether a
/// directory (not following symlinks), absolute path.
struct Walked {
    rel: String,
    is_dir: bool,
    path: PathBuf,
}

/// walkdir's `WalkDir::new(root).sort_by_file_name()` with `filter_entry(keep)`: depth
/// first, the root first, each directory's entries sorted by file name (bytes); an entry
/// `keep` refuses is skipped with everything below it.
fn walk(
    root: &Path,
    keep: &mut dyn FnMut(&str, &Path) -> bool,
    out: &mut Vec<Walked>,
) -> Result<()> {
    fn rec(
        dir: &Path,
        rel: &str,
        keep: &mut dyn FnMut(&str, &Path) -> bool,
        out: &mut Vec<Walked>,
    ) -> Result<()> {
        let mut entries: Vec<(String, PathBuf)> = Vec::new();
        for e in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
            let e = e.map_err(|e| Error::io(dir, e))?;
            entries.push((e.file_name().to_string_lossy().into_owned(), e.path()));
        }
        entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        for (name, path) in entries {
            let r = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            if !keep(&r, &path) {
                continue;
            }
            let is_dir = std::fs::symlink_metadata(&path)
                .map_err(|e| Error::io(&path, e))?
                .is_dir();
            out.push(Walked {
                rel: r.clone(),
                is_dir,
                path: path.clone(),
            });
            if is_dir {
                rec(&path, &r, keep, out)?;
            }
        }
        Ok(())
    }
    if !keep("", root) {
        return Ok(());
    }
    let meta = std::fs::metadata(root).map_err(|e| Error::io(root, e))?;
    out.push(Walked {
        rel: String::new(),
        is_dir: meta.is_dir(),
        path: root.to_path_buf(),
    });
    if meta.is_dir() {
        rec(root, "", keep, out)?;
    }
    Ok(())
}

/// uv's `error_on_venv`: a virtual environment must not be packaged.
fn error_on_venv(name: &str, path: &Path, root: &Path) -> Result<()> {
    if name != "pyvenv.cfg" && name != "lib64" {
        return Ok(());
    }
    let Some(parent) = path.parent() else {
        return Ok(());
    };
    if parent.join("bin").join("python").is_symlink()
        || parent.join("Scripts").join("python.exe").is_file()
    {
        let rel = parent.strip_prefix(root).unwrap_or(parent);
        return Err(Error::invalid(format!(
            "virtual environments must not be added to source distributions or wheels, remove the directory or exclude it from the build: {}",
            rel.display()
        )));
    }
    Ok(())
}

fn file_name(rel: &str) -> &str {
    rel.rsplit('/').next().unwrap_or(rel)
}

fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_string(),
        (_, true) => a.to_string(),
        _ => format!("{a}/{b}"),
    }
}

/// `authors` / `maintainers` (`key`) as uv's untagged `Contact` reads them: (name, email),
/// a table with `name` and/or `email` and nothing else.
fn contacts(
    list: Option<&Vec<Contact>>,
    key: &str,
) -> Result<Vec<(Option<String>, Option<String>)>> {
    let mut out = Vec::new();
    for (i, c) in list.into_iter().flatten().enumerate() {
        if c.other_keys || (c.name.is_none() && c.email.is_none()) {
            return Err(err_field(
                &format!("project.{key}"),
                &format!(
                    "entry #{} must be a table with 'name' and/or 'email' keys",
                    i + 1
                ),
            ));
        }
        out.push((c.name.clone(), c.email.clone()));
    }
    Ok(out)
}

/// `Metadata23::core_metadata_format`'s `write_str`: continuation lines are indented by
/// the key's width plus two (Rust's `str::lines`: `\n` or `\r\n`).
fn write_field(out: &mut String, key: &str, value: &str) {
    let mut lines = value.lines();
    match lines.next() {
        Some(first) => out.push_str(&format!("{key}: {first}\n")),
        None => out.push_str(&format!("{key}: \n")),
    }
    for l in lines {
        out.push_str(&format!("{}{l}\n", " ".repeat(key.len() + 2)));
    }
}

/// The `requires-python` / version specifier set as uv prints it (`, `-joined).
fn specifiers(s: &str, field: &str) -> Result<String> {
    use std::str::FromStr;
    let mut out = Vec::new();
    for part in s.split(',') {
        let p: String = part.split_whitespace().collect();
        let spec = pep440_rs::VersionSpecifier::from_str(&p)
            .map_err(|e| err_field(field, &format!("is not a valid version specifier set: {e}")))?;
        out.push(spec.to_string());
    }
    Ok(out.join(", "))
}

/// uv_build's module discovery (`find_roots`): the modules' paths below the module root
/// (`src_root`), each checked for its `__init__.py` (`.pyi` for stubs) unless `namespace`.
fn find_modules(
    root: &Path,
    name: &str,
    settings: &Settings,
    src_root: &Path,
) -> Result<Vec<String>> {
    let dist_info_name = name.replace('-', "_");
    let rel_display = |p: &Path| p.strip_prefix(root).unwrap_or(p).display().to_string();
    let missing = |p: PathBuf| {
        Error::invalid(format!(
            "expected a Python module at: {} (uv_build looks for `<module-root>/<module-name>/__init__.py`; set `module-root` or `module-name` in [tool.uv.build-backend])",
            rel_display(&p)
        ))
    };
    let mut modules = Vec::new();
    if settings.namespace {
        match &settings.module_name {
            Some(names) => modules.extend(
                names
                    .iter()
                    .map(|n| n.split('.').collect::<Vec<_>>().join("/")),
            ),
            None => modules.push(dist_info_name.clone()),
        }
    } else if let Some(names) = &settings.module_name {
        for module_name in names {
            let (root_name, segments) = match module_name.split_once('.') {
                Some((r, rest)) => (r, rest.split('.').collect::<Vec<_>>()),
                None => (module_name.as_str(), Vec::new()),
            };
            let invalid = || {
                Error::invalid(format!(
                    "invalid module name: {module_name} (`tool.uv.build-backend.module-name` must be Python identifiers, dotted for a namespace package)"
                ))
            };
            let stubs = match root_name.strip_suffix("-stubs") {
                Some(stem) => {
                    if !identifier(stem) {
                        return Err(invalid());
                    }
                    true
                }
                None => {
                    if !identifier(root_name) {
                        return Err(invalid());
                    }
                    false
                }
            };
            if segments.iter().any(|s| !identifier(s)) {
                return Err(invalid());
            }
            let rel = module_name.split('.').collect::<Vec<_>>().join("/");
            let init = src_root
                .join(&rel)
                .join(if stubs { "__init__.pyi" } else { "__init__.py" });
            if !init.is_file() {
                return Err(missing(init));
            }
            let parts: Vec<&str> = rel.split('/').collect();
            for n in (1..parts.len()).rev() {
                let dir = src_root.join(parts[..n].join("/"));
                if dir.join("__init__.py").exists() || dir.join("__init__.pyi").exists() {
                    return Err(Error::invalid(format!(
                        "for namespace packages, `__init__.py[i]` is not allowed in parent directory: {}",
                        rel_display(&dir)
                    )));
                }
            }
            if src_root.join("__init__.py").exists() || src_root.join("__init__.pyi").exists() {
                return Err(Error::invalid(format!(
                    "for namespace packages, `__init__.py[i]` is not allowed in parent directory: {}",
                    rel_display(src_root)
                )));
            }
            modules.push(rel);
        }
    } else if let Some(stem) = name.strip_suffix("-stubs") {
        let rel = format!("{}-stubs", stem.replace('-', "_"));
        let init = src_root.join(&rel).join("__init__.pyi");
        if !init.is_file() {
            return Err(missing(init));
        }
        modules.push(rel);
    } else {
        let init = src_root.join(&dist_info_name).join("__init__.py");
        if !init.is_file() {
            return Err(missing(init));
        }
        modules.push(dist_info_name.clone());
    }

    Ok(modules)
}

/// uv_build's readme: (text, content type, file). A file's type comes from its extension
/// (`.md`, `.rst`, `.txt`, else an error); a table needs a supported `content-type`, a UTF-8
/// `charset` and `file` or `text`. The text is read as is (no newline translation).
fn readme(
    root: &Path,
    p: &ProjectTable,
) -> Result<(Option<String>, Option<String>, Option<String>)> {
    let read = |rel: &str| -> Result<String> {
        let path = root.join(rel);
        std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))
    };
    Ok(match &p.readme {
        None => (None, None, None),
        Some(StrOrTable::Str(path)) => {
            let ext = Path::new(path).extension().and_then(|e| e.to_str());
            let ct = match ext {
                Some("txt") => "text/plain",
                Some("rst") => "text/x-rst",
                Some("md") => "text/markdown",
                Some(other) => {
                    return Err(Error::invalid(format!(
                        "unknown readme extension `{other}`, can't determine content type; use `.md`, `.rst`, `.txt` or set the content type in a `project.readme` table"
                    )));
                }
                None => {
                    return Err(Error::invalid(format!(
                        "can't infer the readme's content type because `{path}` does not have an extension"
                    )));
                }
            };
            (Some(read(path)?), Some(ct.to_string()), Some(path.clone()))
        }
        Some(StrOrTable::Table(t)) => {
            let ct = t
                .content_type
                .clone()
                .ok_or_else(|| Error::invalid("`project.readme` table needs `content-type`"))?;
            if !["text/plain", "text/x-rst", "text/markdown"].contains(&ct.as_str()) {
                return Err(Error::invalid(format!(
                    "unsupported readme content type: {ct}"
                )));
            }
            if t.charset.as_deref().is_some_and(|c| c != "UTF-8") {
                return Err(Error::invalid(
                    "charsets other than UTF-8 are not supported: convert the readme to UTF-8 and remove `project.readme.charset`",
                ));
            }
            match (&t.file, &t.text) {
                (Some(f), _) => (Some(read(f)?), Some(ct), Some(f.clone())),
                (None, Some(text)) => (Some(text.clone()), Some(ct), None),
                (None, None) => {
                    return Err(Error::invalid(
                        "`project.readme` table needs `file` or `text`",
                    ));
                }
            }
        }
    })
}

/// uv_build's license metadata.
#[derive(Default)]
struct UvLicense {
    /// `2.4` with an SPDX expression or `license-files`, else `2.3`.
    metadata_version: &'static str,
    /// `License:` (a legacy table's text or file contents).
    text: Option<String>,
    /// `License-Expression:`, a valid SPDX expression.
    expression: Option<String>,
    /// `License-File:`s: the `license-files` globs' matches, sorted.
    files: Vec<String>,
    /// The `license = { file }` path (sdist only).
    file: Option<String>,
    /// The `license-files` globs.
    globs: Vec<String>,
}

/// uv_build's `license` and `license-files`: a table's `text` wins over its `file`; with
/// `license-files`, `license` must be an SPDX expression.
fn license(root: &Path, p: &ProjectTable) -> Result<UvLicense> {
    let globs = match &p.license_files {
        Some(g) => Some(g.list("project.license-files")?),
        None => None,
    };
    let mut l = UvLicense {
        metadata_version: if globs.is_some() || matches!(p.license, Some(StrOrTable::Str(_))) {
            "2.4"
        } else {
            "2.3"
        },
        ..UvLicense::default()
    };
    match (globs, &p.license) {
        (Some(globs), lic) => {
            match lic {
                None => {}
                Some(StrOrTable::Str(e)) => l.expression = Some(e.clone()),
                Some(_) => {
                    return Err(Error::invalid(
                        "when `project.license-files` is defined, `project.license` must be an SPDX expression string",
                    ));
                }
            }
            let filter = DirFilter {
                globs: globs
                    .iter()
                    .map(|g| parse_glob(g, false, "project.license-files"))
                    .collect::<Result<_>>()?,
                literal: Vec::new(),
            };
            let mut walked = Vec::new();
            walk(root, &mut |rel, _| filter.match_directory(rel), &mut walked)?;
            for w in walked {
                if w.rel.is_empty() || !filter.match_path(&w.rel) {
                    continue;
                }
                if !std::fs::symlink_metadata(&w.path).is_ok_and(|m| m.is_file()) {
                    continue;
                }
                error_on_venv(file_name(&w.rel), &w.path, root)?;
                l.files.push(w.rel);
            }
            l.files.sort();
            l.globs = globs.to_vec();
        }
        (None, None) => {}
        (None, Some(StrOrTable::Str(e))) => l.expression = Some(e.clone()),
        (None, Some(StrOrTable::Table(LicenseTable { text: Some(t), .. }))) => {
            l.text = Some(t.clone())
        }
        (None, Some(StrOrTable::Table(LicenseTable { file: Some(f), .. }))) => {
            let path = root.join(f);
            l.text = Some(std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?);
            l.file = Some(f.clone());
        }
        (None, Some(StrOrTable::Table(_))) => {
            return Err(Error::invalid(
                "`project.license` table needs `text` or `file`",
            ));
        }
    }
    if let Some(e) = &l.expression
        && let Err(err) = spdx::Expression::parse(e)
    {
        return Err(Error::invalid(format!(
            "`project.license` is not a valid SPDX expression: {e} ({err})"
        )));
    }
    Ok(l)
}

/// uv_build's `to_entry_points`: `entry_points.txt`, when any of `scripts`,
/// `gui-scripts`, `entry-points` is given (groups checked, `console_scripts` and
/// `gui_scripts` refused under `entry-points`).
fn entry_points(p: &ProjectTable) -> Result<Option<String>> {
    let sorted = |e: &Entries<String>| e.0.iter().cloned().collect::<BTreeMap<_, _>>();
    let scripts = p.scripts.as_ref().map(sorted);
    let gui = p.gui_scripts.as_ref().map(sorted);
    let groups = p.entry_points.as_ref().map(|g| {
        g.0.iter()
            .map(|(k, v)| (k.clone(), sorted(v)))
            .collect::<BTreeMap<_, _>>()
    });
    if scripts.is_none() && gui.is_none() && groups.is_none() {
        return Ok(None);
    }
    let mut s = String::new();
    let group = |s: &mut String, g: &str, entries: &BTreeMap<String, String>| -> Result<()> {
        let valid = g
            .chars()
            .next()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
            && g.chars()
                .all(|c| c.is_alphanumeric() || c == '.' || c == '_');
        if !valid {
            return Err(Error::invalid(format!(
                "entry point groups must consist of letters and numbers separated by dots, invalid group: {g}"
            )));
        }
        s.push_str(&format!("[{g}]\n"));
        for (k, v) in entries {
            s.push_str(&format!("{k} = {v}\n"));
        }
        s.push('\n');
        Ok(())
    };
    if let Some(e) = &scripts {
        group(&mut s, "console_scripts", e)?;
    }
    if let Some(e) = &gui {
        group(&mut s, "gui_scripts", e)?;
    }
    for (g, e) in groups.iter().flatten() {
        if g == "console_scripts" {
            return Err(Error::invalid(
                "use `project.scripts` instead of `project.entry-points.console_scripts`",
            ));
        }
        if g == "gui_scripts" {
            return Err(Error::invalid(
                "use `project.gui-scripts` instead of `project.entry-points.gui_scripts`",
            ));
        }
        group(&mut s, g, e)?;
    }
    Ok(Some(s))
}

/// uv_build's `Requires-Dist` (dependencies, then each extra's, as uv prints them) and the
/// extras, normalised (uv's `ExtraName`) and sorted.
fn requirements(p: &ProjectTable) -> Result<(Vec<String>, Vec<String>)> {
    let mut requires_dist = Vec::new();
    for r in p.dependencies.iter().flatten() {
        requires_dist.push(marker::uv_requirement(r, None)?);
    }
    let mut extras: BTreeMap<String, &Vec<String>> = BTreeMap::new();
    for (extra, reqs) in p.optional_dependencies.iter().flat_map(|o| &o.0) {
        extras.insert(package_name(extra, "project.optional-dependencies")?, reqs);
    }
    for (extra, reqs) in &extras {
        for r in reqs.iter() {
            requires_dist.push(marker::uv_requirement(r, Some(extra))?);
        }
    }
    Ok((requires_dist, extras.into_keys().collect()))
}

/// `Metadata23`'s `Author`/`Maintainer` (names) or `…-email` (`name <email>` or `email`)
/// value, `None` when empty.
fn join_people(list: &[(Option<String>, Option<String>)], emails: bool) -> Option<String> {
    let parts: Vec<String> = list
        .iter()
        .filter_map(|(n, e)| match (n, e, emails) {
            (Some(n), _, false) => Some(n.clone()),
            (None, Some(e), true) => Some(e.clone()),
            (Some(n), Some(e), true) => Some(format!("{n} <{e}>")),
            _ => None,
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// uv_build's core metadata (`Metadata23::core_metadata_format`): 2.3, or 2.4 with a
/// license expression or `license-files`; uv's field order, continuation-line indentation
/// and requirement printing. `readme` is (text, content type). Errors: a requirement or
/// `requires-python` uv_build would refuse (or whose marker is outside the reproduced
/// subset), an extra that is not a valid name, a bad author or maintainer entry.
fn core_metadata(
    p: &ProjectTable,
    (name, version): (&str, &str),
    (description, content_type): (Option<&String>, Option<&String>),
    license: &UvLicense,
) -> Result<String> {
    let urls: BTreeMap<String, String> = p.urls.iter().flat_map(|u| u.0.clone()).collect();
    let (requires_dist, extras) = requirements(p)?;
    let requires_python = match &p.requires_python {
        Some(s) => Some(specifiers(s, "project.requires-python")?),
        None => None,
    };
    let authors = contacts(p.authors.as_ref(), "authors")?;
    let maintainers = contacts(p.maintainers.as_ref(), "maintainers")?;
    let keywords = p.keywords.clone();
    let classifiers = p.classifiers.clone().unwrap_or_default();
    let metadata_version = license.metadata_version;
    let (license_text, license_expression, license_files) =
        (&license.text, &license.expression, &license.files);
    let summary = p.description.clone();

    let mut m = String::new();
    write_field(&mut m, "Metadata-Version", metadata_version);
    write_field(&mut m, "Name", name);
    write_field(&mut m, "Version", version);
    let opt = |m: &mut String, key: &str, v: &Option<String>| {
        if let Some(v) = v {
            write_field(m, key, v);
        }
    };
    opt(&mut m, "Summary", &summary);
    opt(&mut m, "Keywords", &keywords.map(|k| k.join(",")));
    opt(&mut m, "Author", &join_people(&authors, false));
    opt(&mut m, "Author-email", &join_people(&authors, true));
    opt(&mut m, "License", license_text);
    opt(&mut m, "License-Expression", license_expression);
    for f in license_files {
        write_field(&mut m, "License-File", f);
    }
    for c in &classifiers {
        write_field(&mut m, "Classifier", c);
    }
    for r in &requires_dist {
        write_field(&mut m, "Requires-Dist", r);
    }
    opt(&mut m, "Maintainer", &join_people(&maintainers, false));
    opt(&mut m, "Maintainer-email", &join_people(&maintainers, true));
    opt(&mut m, "Requires-Python", &requires_python);
    for (k, v) in &urls {
        write_field(&mut m, "Project-URL", &format!("{k}, {v}"));
    }
    for e in &extras {
        write_field(&mut m, "Provides-Extra", e);
    }
    opt(&mut m, "Description-Content-Type", &content_type.cloned());
    if let Some(d) = description {
        m.push('\n');
        m.push_str(d);
    }

    Ok(m)
}

impl UvProject {
    /// Reads and resolves the uv_build project at `root`.
    ///
    /// Errors: invalid fields (naming the field) and uv_build's own checks (a missing
    /// module names the `__init__.py` looked for; a module root outside the project; an
    /// invalid module name; a parent `__init__.py` of a dotted module; a multi-line
    /// `description`; a readme extension other than `.md`/`.rst`/`.txt`; a non-UTF-8
    /// readme charset; `license-files` with a license table; an invalid SPDX expression;
    /// `console_scripts`/`gui_scripts` under `entry-points`; bad entry point groups; bad
    /// globs); [`Error::Unsupported`] for dynamic metadata (uv_build rejects it: "Dynamic
    /// metadata is not supported") and for requirement markers outside the reproduced
    /// subset (`uvbuild/marker.rs`).
    pub fn load(root: &Path) -> Result<UvProject> {
        let doc = read_pyproject(root)?;
        let p = ProjectTable::from_doc(&doc)?;
        let settings: Settings = tool_table(&doc, &["tool", "uv", "build-backend"])?;
        if !p.dynamic().is_empty() {
            return Err(Error::unsupported(format!(
                "dynamic metadata (`project.dynamic = {:?}`): uv_build does not support it (\"Dynamic metadata is not supported\"); give the fields statically",
                p.dynamic()
            )));
        }
        let raw_name = p
            .name
            .clone()
            .ok_or_else(|| Error::invalid("missing required field `project.name`"))?;
        let name = package_name(&raw_name, "project.name")?;
        let raw_version = p.version.as_deref().ok_or_else(|| {
            Error::invalid(
                "missing required field `project.version` (uv_build needs a static version)",
            )
        })?;
        let version = normalize_version(raw_version)
            .map_err(|e| err_field("project.version", &format!("is not a PEP 440 version: {e}")))?;
        let module_root = normalize_rel(&settings.module_root).ok_or_else(|| {
            Error::invalid(format!(
                "module root must be inside the project: {}",
                settings.module_root
            ))
        })?;
        let modules = find_modules(root, &name, &settings, &root.join(&module_root))?;

        // Metadata (`PyProjectToml::to_metadata`).
        let summary = p.description.clone();
        if summary.as_deref().is_some_and(|d| d.contains('\n')) {
            return Err(Error::invalid(
                "`project.description` must be a single line",
            ));
        }
        let (description, content_type, readme_file) = readme(root, &p)?;
        let license = license(root, &p)?;
        let metadata = core_metadata(
            &p,
            (&name, &version),
            (description.as_ref(), content_type.as_ref()),
            &license,
        )?;
        let entry_points = entry_points(&p)?;
        for (name, dir) in &settings.data {
            if normalize_rel(dir).is_none() || dir.starts_with("..") {
                return Err(Error::invalid(format!(
                    "the path for the data directory {name} must be inside the project: {dir}"
                )));
            }
        }

        Ok(UvProject {
            root: root.to_path_buf(),
            raw_name,
            name,
            version,
            settings,
            metadata,
            entry_points,
            license_globs: license.globs,
            license_file: license.file,
            readme_file,
            module_root,
            modules,
        })
    }

    /// `{name with - as _}-{version}`: the dist-info stem, sdist top directory and file
    /// name stem.
    pub fn dist_name(&self) -> String {
        format!("{}-{}", self.name.replace('-', "_"), self.version)
    }

    fn wheel_excludes(&self) -> Result<Excludes> {
        let s = &self.settings;
        let mut ex: Vec<String> = Vec::new();
        if s.default_excludes {
            ex.extend(DEFAULT_EXCLUDES.iter().map(|e| e.to_string()));
        }
        for e in s.wheel_exclude.iter().chain(&s.source_exclude) {
            if !ex.contains(e) {
                ex.push(e.clone());
            }
        }
        Excludes::new(&ex)
    }

    /// `wheel_subdir_from_globs`: the `target` directory entry, then every path under
    /// `src` the globs include (directories that may hold matches included).
    fn subdir_from_globs(
        &self,
        src: &Path,
        target: &str,
        globs: &[String],
        field: &str,
        out: &mut Vec<Member>,
    ) -> Result<()> {
        let filter = DirFilter {
            globs: globs
                .iter()
                .map(|g| parse_glob(g, false, field))
                .collect::<Result<_>>()?,
            literal: Vec::new(),
        };
        out.push(Member::Dir(target.to_string()));
        let mut walked = Vec::new();
        walk(src, &mut |rel, _| filter.match_directory(rel), &mut walked)?;
        for w in walked {
            if w.rel.is_empty() || !filter.match_path(&w.rel) {
                continue;
            }
            error_on_venv(file_name(&w.rel), &w.path, &self.root)?;
            let name = format!("{target}{}", w.rel);
            out.push(if w.is_dir {
                Member::Dir(name)
            } else {
                Member::File(name, w.path)
            });
        }
        Ok(())
    }

    /// The wheel's members in uv_build's order (see the module docs), without `RECORD`.
    ///
    /// Errors: files cannot be read; bad globs; a virtual environment in the module.
    pub fn wheel_members(&self, generator: &str) -> Result<Vec<Member>> {
        let excludes = self.wheel_excludes()?;
        let src_root = self.root.join(&self.module_root);
        let root_str = self.root.to_string_lossy().replace('\\', "/");
        let mut out = Vec::new();
        let mut prefix_dirs = BTreeSet::new();
        for module in &self.modules {
            let parts: Vec<&str> = module.split('/').collect();
            for n in (1..parts.len()).rev() {
                let anc = parts[..n].join("/");
                if prefix_dirs.insert(anc.clone()) {
                    out.push(Member::Dir(anc));
                }
            }
            let module_dir = src_root.join(module);
            let base = join(&self.module_root, module);
            let mut walked = Vec::new();
            walk(
                &module_dir,
                &mut |rel, _| {
                    let abs = join(&join(&root_str, &base), rel);
                    !excludes.is_match(&abs)
                },
                &mut walked,
            )?;
            for w in walked {
                let match_path = join(&base, &w.rel);
                if excludes.is_match(&match_path) {
                    continue;
                }
                error_on_venv(file_name(&match_path), &w.path, &self.root)?;
                let entry = join(module, &w.rel);
                out.push(if w.is_dir {
                    Member::Dir(entry)
                } else {
                    Member::File(entry, w.path)
                });
            }
        }
        let dist = self.dist_name();
        let dist_info = format!("{dist}.dist-info");
        if !self.license_globs.is_empty() {
            self.subdir_from_globs(
                &self.root,
                &format!("{dist_info}/licenses/"),
                &self.license_globs,
                "project.license-files",
                &mut out,
            )?;
        }
        for (name, dir) in &self.settings.data {
            self.subdir_from_globs(
                &self.root.join(dir),
                &format!("{dist}.data/{name}/"),
                &["**".to_string()],
                &format!("tool.uv.build-backend.data.{name}"),
                &mut out,
            )?;
        }
        out.push(Member::Dir(dist_info.clone()));
        out.push(Member::Bytes(
            format!("{dist_info}/WHEEL"),
            format!(
                "Wheel-Version: 1.0\nGenerator: {generator}\nRoot-Is-Purelib: true\nTag: py3-none-any"
            )
            .into_bytes(),
        ));
        if let Some(e) = &self.entry_points {
            out.push(Member::Bytes(
                format!("{dist_info}/entry_points.txt"),
                e.clone().into_bytes(),
            ));
        }
        out.push(Member::Bytes(
            format!("{dist_info}/METADATA"),
            self.metadata.clone().into_bytes(),
        ));
        Ok(out)
    }

    /// The wheel's file name (`{dist}-py3-none-any.whl`, the only tag uv_build writes) and
    /// bytes: directory entries stored with mode 040755, files deflated with mode 0o100644
    /// or 0o100755 (executable), every member dated 1980-01-01 (uv_build ignores
    /// `options.source_date_epoch`), then `RECORD` (every file, `RECORD,,` last).
    ///
    /// Errors: as [`UvProject::wheel_members`]; duplicate member names.
    pub fn wheel_bytes(&self, options: &BuildOptions) -> Result<(String, Vec<u8>)> {
        let mut zip = archive::WheelWriter::new((0u16, (1u16 << 5) | 1));
        let mut seen = BTreeSet::new();
        for m in self.wheel_members(&options.generator)? {
            let (name, data, mode) = match m {
                Member::Dir(d) => {
                    let d = if d.ends_with('/') { d } else { format!("{d}/") };
                    if !seen.insert(d.clone()) {
                        return Err(Error::invalid(format!("duplicate wheel member `{d}`")));
                    }
                    zip.add_directory(&d, 0o40755);
                    continue;
                }
                Member::File(name, path) => {
                    let (data, mode) = crate::read_file(&path)?;
                    let exec = mode & 0o111 != 0;
                    (name, data, if exec { 0o100755 } else { 0o100644 })
                }
                Member::Bytes(name, data) => (name, data, 0o100644),
            };
            if !seen.insert(name.clone()) {
                return Err(Error::invalid(format!("duplicate wheel member `{name}`")));
            }
            zip.add(&name, &data, mode);
        }
        let dist_info = format!("{}.dist-info", self.dist_name());
        Ok((
            format!("{}-py3-none-any.whl", self.dist_name()),
            zip.finish(&dist_info, 0o100644),
        ))
    }

    /// The sdist's members in uv_build's order: `PKG-INFO`, then the walk of the project
    /// (the top directory entry first, with a trailing `/`).
    ///
    /// Errors: bad globs; `pyproject.toml` excluded; a virtual environment in the tree.
    pub fn sdist_members(&self) -> Result<Vec<Member>> {
        let s = &self.settings;
        let top = self.dist_name();
        let mut globs = Vec::new();
        for g in &s.source_include {
            globs.push(parse_glob(g, true, "tool.uv.build-backend.source-include")?);
        }
        let mut literal = vec!["pyproject.toml".to_string()];
        for m in &self.modules {
            let import_path = normalize_rel(&join(&self.module_root, m)).unwrap_or_default();
            globs.push(parse_glob(
                &format!("{}/**", globset::escape(&import_path)),
                true,
                "tool.uv.build-backend.source-include",
            )?);
        }
        if let Some(r) = &self.readme_file
            && let Some(r) = normalize_rel(r)
        {
            literal.push(r);
        }
        for g in self.license_globs.iter().chain(&self.license_file) {
            globs.push(parse_glob(g, false, "project.license-files")?);
        }
        for (name, dir) in &s.data {
            let dir = normalize_rel(dir).unwrap_or_default();
            globs.push(parse_glob(
                &format!("{}/**", globset::escape(&dir)),
                true,
                &format!("tool.uv.build-backend.data.{name}"),
            )?);
        }
        let include = DirFilter { globs, literal };
        let mut ex: Vec<String> = Vec::new();
        if s.default_excludes {
            ex.extend(DEFAULT_EXCLUDES.iter().map(|e| e.to_string()));
        }
        for e in &s.source_exclude {
            if !ex.contains(e) {
                ex.push(e.clone());
            }
        }
        let excludes = Excludes::new(&ex)?;
        if excludes.is_match("pyproject.toml") {
            return Err(Error::invalid(
                "`pyproject.toml` must not be excluded from source distribution build",
            ));
        }
        let mut out = vec![Member::Bytes(
            format!("{top}/PKG-INFO"),
            self.metadata.clone().into_bytes(),
        )];
        let mut walked = Vec::new();
        walk(
            &self.root,
            &mut |rel, _| include.match_directory(rel) && !excludes.is_match(rel),
            &mut walked,
        )?;
        for w in walked {
            if !include.match_path(&w.rel) || excludes.is_match(&w.rel) {
                continue;
            }
            error_on_venv(file_name(&w.rel), &w.path, &self.root)?;
            let name = format!("{top}/{}", w.rel);
            out.push(if w.is_dir {
                Member::Dir(name)
            } else {
                Member::File(name, w.path)
            });
        }
        Ok(out)
    }

    /// The sdist's file name (`{dist}.tar.gz`) and bytes: a GNU tar written with the `tar`
    /// crate as uv_build writes it (`Header::new_gnu`, mode 0o644 or 0o755 for executables
    /// and directories, mtime 0, no padding record), gzip level 6 with mtime 0. Independent
    /// of `options` (uv_build ignores `SOURCE_DATE_EPOCH`; its gzip level is fixed).
    ///
    /// Errors: as [`UvProject::sdist_members`]; files cannot be read.
    pub fn sdist_bytes(&self, options: &BuildOptions) -> Result<(String, Vec<u8>)> {
        let _ = options;
        let tar = self.sdist_tar()?;
        let gz = archive::gzip_level(&tar, 0, 6);
        Ok((format!("{}.tar.gz", self.dist_name()), gz))
    }

    /// The uncompressed tar stream of the sdist.
    pub fn sdist_tar(&self) -> Result<Vec<u8>> {
        let mut b = tar::Builder::new(Vec::new());
        let io = |e: std::io::Error| Error::io(Path::new(&self.dist_name()), e);
        for m in self.sdist_members()? {
            let mut h = tar::Header::new_gnu();
            match m {
                Member::Dir(name) => {
                    h.set_mode(0o755);
                    h.set_entry_type(tar::EntryType::Directory);
                    h.set_size(0);
                    b.append_data(&mut h, &name, std::io::empty()).map_err(io)?;
                }
                Member::File(name, path) => {
                    let (data, mode) = crate::read_file(&path)?;
                    let exec = mode & 0o111 != 0;
                    h.set_mode(if exec { 0o755 } else { 0o644 });
                    h.set_size(data.len() as u64);
                    b.append_data(&mut h, &name, data.as_slice()).map_err(io)?;
                }
                Member::Bytes(name, data) => {
                    h.set_size(data.len() as u64);
                    h.set_mode(0o644);
                    b.append_data(&mut h, &name, data.as_slice()).map_err(io)?;
                }
            }
        }
        b.into_inner().map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_filter_matches_prefixes_like_uvs_dfa() {
        let f = DirFilter {
            globs: vec![
                parse_glob("src/foo/**", true, "x").unwrap(),
                parse_glob("LICEN[CS]E*", false, "x").unwrap(),
                parse_glob("docs/**/*.md", true, "x").unwrap(),
            ],
            literal: vec!["pyproject.toml".into()],
        };
        assert!(f.match_directory(""));
        assert!(f.match_directory("src"));
        assert!(f.match_directory("src/foo"));
        assert!(f.match_path("src/foo/a/b.py"));
        assert!(!f.match_directory("src/foobar"));
        assert!(!f.match_directory("tests"));
        assert!(f.match_path("LICENSE.txt"));
        assert!(!f.match_directory("LICENSE.txt/x"));
        assert!(f.match_directory("docs"));
        assert!(f.match_directory("docs/a/b"));
        assert!(f.match_path("docs/a.md"));
        assert!(f.match_path("pyproject.toml"));
        assert!(!f.match_path("pyproject.toml.orig"));
    }

    #[test]
    fn portable_globs_are_checked() {
        assert!(parse_glob("a/***", true, "x").is_err());
        assert!(parse_glob("../a", true, "x").is_err());
        assert!(parse_glob("a\\b", false, "x").is_err());
        assert!(parse_glob("a\\*b", true, "x").is_ok());
        assert!(parse_glob("**/x", true, "x").is_ok());
    }

    #[test]
    fn excludes_are_unanchored_unless_rooted() {
        let e = Excludes::new(&["__pycache__".into(), "/tests".into(), "*.pyc".into()]).unwrap();
        assert!(e.is_match("src/a/__pycache__"));
        assert!(e.is_match("__pycache__"));
        assert!(e.is_match("tests"));
        assert!(!e.is_match("src/tests"));
        assert!(e.is_match("a/b.pyc"));
    }
}
