//! Building `flit_core.buildapi` projects as flit_core 3.12 builds them (`flit_core/config.py`,
//! `common.py`, `wheel.py`, `sdist.py`), without running Python.
//!
//! - Module discovery: `[tool.flit.module] name`, else the project name with `-` as `_`;
//!   exactly one of `name/`, `name.py`, `src/name/`, `src/name.py` must exist (dotted names
//!   are namespace packages: `a.b` is `a/b/`).
//! - Dynamic `version` and `description`: read by parsing the module's source as flit does
//!   first (`ast`): the module docstring of `__init__.py` (first line after stripping leading
//!   whitespace is the summary) and the first top-level `__version__ = "…"` (or
//!   `__version__: str = "…"`) string assignment, looked up in `version.py`, `_version.py`,
//!   `__version__.py` and `__init__.py` with the later files winning. Where flit would fall
//!   back to importing the module (a computed version), this builder stops with
//!   [`Error::Unsupported`]: it never executes project code.
//! - `[tool.flit.sdist] include/exclude` globs; `[tool.flit.external-data]` is unsupported.
//! - Wheel: module files (per directory: files sorted, then subdirectories sorted; no
//!   `__pycache__`, no `*.pyc`), then `entry_points.txt`, `licenses/…`, `WHEEL`, `METADATA`,
//!   `RECORD`; tag `py3-none-any`, or `py2.py3-none-any` when `requires-python` does not
//!   exclude Python 2 (flit's `supports_py2` regex).
//! - Sdist: sorted relative paths of the module files, `pyproject.toml`, readme and license
//!   files (plus includes, minus excludes), then `PKG-INFO` (tar mtime 0, as flit writes it).
//! - Metadata 2.4 with flit's field order and flit's (non-normalising) value formatting.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Value;

use crate::error::{Error, Result};
use crate::project::{
    Person, checked_name, normalize_name, normalize_version, persons, read_pyproject, read_text,
};
use crate::pyproject::{
    Entries, EntryPointGroups, LicenseTable, ProjectTable, ReadmeTable, StrOrTable, tool_table,
};
use crate::{BuildOptions, archive, normalize_file_permissions};

/// A flit_core project, resolved.
#[derive(Debug, Clone)]
pub struct FlitProject {
    /// The project root.
    pub root: PathBuf,
    /// `[project].name` as written.
    pub raw_name: String,
    /// The PEP 440 normalised version.
    pub version: String,
    /// The import name (`a.b` for a namespace package).
    pub module: String,
    /// The module's file or directory.
    pub module_path: PathBuf,
    /// `""` or `"src"`: where the module lives.
    pub prefix: String,
    /// Whether the module is a package directory.
    pub is_package: bool,
    /// The core metadata text (`METADATA`, `PKG-INFO`).
    pub metadata: String,
    /// `requires-python` as written (empty when absent).
    pub requires_python: String,
    /// Entry point groups sorted, entries sorted.
    pub entry_points: Vec<(String, Vec<(String, String)>)>,
    /// License files, project-relative, sorted.
    pub license_files: Vec<String>,
    /// Files the sdist must hold besides the module: `pyproject.toml`, readme, licenses.
    pub extra_files: Vec<String>,
    /// `[tool.flit.sdist] include` globs.
    pub sdist_include: Vec<String>,
    /// `[tool.flit.sdist] exclude` globs (with flit's defaults when the table exists).
    pub sdist_exclude: Vec<String>,
}

/// A decoded Python string literal at the start of `s` (after optional `r`/`u`/`b`
/// prefixes); returns the value and the rest. Only what module docstrings and version
/// strings use: single/double/triple quotes, the common backslash escapes.
fn python_string(s: &str) -> Option<(String, &str)> {
    let mut rest = s;
    let mut raw = false;
    while let Some(c) = rest.chars().next() {
        match c {
            'r' | 'R' => raw = true,
            'u' | 'U' => {}
            _ => break,
        }
        rest = &rest[1..];
    }
    let quote = if rest.starts_with("\"\"\"") {
        "\"\"\""
    } else if rest.starts_with("'''") {
        "'''"
    } else if rest.starts_with('"') {
        "\""
    } else if rest.starts_with('\'') {
        "'"
    } else {
        return None;
    };
    let body = &rest[quote.len()..];
    let mut out = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        if body[i..].starts_with(quote) {
            return Some((out, &body[i + quote.len()..]));
        }
        if c == '\n' && quote.len() == 1 {
            return None;
        }
        if c == '\\' {
            let (_, e) = chars.next()?;
            if raw {
                out.push('\\');
                out.push(e);
                continue;
            }
            match e {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                '\\' => out.push('\\'),
                '\'' => out.push('\''),
                '"' => out.push('"'),
                '\n' => {}
                other => {
                    out.push('\\');
                    out.push(other);
                }
            }
        } else {
            out.push(c);
        }
    }
    None
}

/// `inspect.cleandoc`: strip the common indentation of lines after the first, leading and
/// trailing blank lines.
fn cleandoc(doc: &str) -> String {
    let doc = doc.replace('\t', "        ");
    let lines: Vec<&str> = doc.split('\n').collect();
    let margin = lines[1..]
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    let mut out: Vec<String> = vec![lines[0].trim_start().to_string()];
    for l in &lines[1..] {
        out.push(l.get(margin..).unwrap_or("").to_string());
    }
    while out.first().is_some_and(|l| l.is_empty()) {
        out.remove(0);
    }
    while out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    out.join("\n")
}

/// The module docstring (`ast.get_docstring`) of Python source `text`: the first statement,
/// when it is a string literal, after comments, blank lines and an encoding line.
pub fn module_docstring(text: &str) -> Option<String> {
    let mut rest = text.trim_start_matches('\u{feff}');
    loop {
        let t = rest.trim_start_matches([' ', '\t', '\r', '\n', '\x0c']);
        if t.starts_with('#') {
            rest = t.split_once('\n').map(|(_, r)| r).unwrap_or("");
        } else {
            rest = t;
            break;
        }
    }
    let (doc, _) = python_string(rest)?;
    Some(cleandoc(&doc))
}

/// The first top-level `__version__ = "…"` / `__version__: str = "…"` string assignment in
/// Python source `text` (flit's `is_version_str_assignment`, at column 0).
pub fn version_assignment(text: &str) -> Option<String> {
    for line in text.split('\n') {
        let Some(rest) = line.strip_prefix("__version__") else {
            continue;
        };
        let rest = rest.trim_start();
        let rest = if let Some(annotated) = rest.strip_prefix(':') {
            match annotated.split_once('=') {
                Some((_, v)) => v,
                None => continue,
            }
        } else if let Some(v) = rest.strip_prefix('=') {
            if v.starts_with('=') {
                continue;
            }
            v
        } else {
            continue;
        };
        let value = rest.trim_start();
        if let Some((v, after)) = python_string(value) {
            let after = after.trim_start();
            if after.is_empty() || after.starts_with('#') || after.starts_with(';') {
                return Some(v);
            }
        }
    }
    None
}

/// `flit_core.config.pep621_people` for one group: (names joined, emails formatted).
fn people(list: &[Person]) -> (Option<String>, Option<String>) {
    let names: Vec<&str> = list
        .iter()
        .filter(|p| p.email.is_empty())
        .map(|p| p.name.as_str())
        .collect();
    let emails: Vec<String> = list
        .iter()
        .filter(|p| !p.email.is_empty())
        .map(crate::metadata::format_address)
        .collect();
    (
        (!names.is_empty()).then(|| names.join(", ")),
        (!emails.is_empty()).then(|| emails.join(", ")),
    )
}

/// flit's `_license_files_from_globs` (Python `Path.glob`: `*` does not match a leading dot).
fn glob_files(
    root: &Path,
    patterns: &[String],
    field: &str,
    must_match: bool,
) -> Result<Vec<String>> {
    // The patterns up to the first invalid one are matched in one walk, as deep as the
    // deepest of them reaches; errors come in pattern order as if each were walked in turn.
    let mut globs = Vec::new();
    let mut invalid = None;
    for pattern in patterns {
        if pattern.starts_with('/') || pattern.contains("..") {
            invalid = Some(Error::invalid(format!(
                "invalid glob pattern in `{field}`: {pattern:?} (relative, without `..`)"
            )));
            break;
        }
        match globset::GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()
        {
            Ok(g) => globs.push((pattern, g.compile_matcher())),
            Err(e) => {
                invalid = Some(Error::invalid(format!("bad glob in `{field}`: {e}")));
                break;
            }
        }
    }
    let mut found = Vec::new();
    let mut matched = vec![false; globs.len()];
    if !globs.is_empty() {
        let max_depth = globs
            .iter()
            .map(|(p, _)| crate::select::glob_depth(p))
            .max()
            .unwrap_or(0);
        crate::select::walk_files_to_depth(root, max_depth, |rel, _| {
            if rel.split('/').any(|c| c.starts_with('.')) {
                return;
            }
            let mut hit = false;
            for (i, (_, glob)) in globs.iter().enumerate() {
                if glob.is_match(rel) {
                    matched[i] = true;
                    hit = true;
                }
            }
            if hit {
                found.push(rel.to_string());
            }
        })?;
    }
    if must_match && let Some(i) = matched.iter().position(|m| !m) {
        return Err(Error::invalid(format!(
            "no files found for `{field}` pattern {:?}",
            globs[i].0
        )));
    }
    if let Some(e) = invalid {
        return Err(e);
    }
    found.sort();
    found.dedup();
    Ok(found)
}

/// `[tool.flit]` as flit_core 3.12 reads it next to `[project]`. Unknown keys are ignored
/// (flit only warns about them).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct FlitTool {
    /// `[tool.flit.module]`.
    module: Option<FlitModule>,
    /// `[tool.flit.sdist]`.
    sdist: Option<FlitSdist>,
    /// The pre-PEP 621 `[tool.flit.metadata]` (unsupported).
    metadata: Option<Value>,
    /// `[tool.flit.external-data]` (unsupported).
    external_data: Option<Value>,
}

/// `[tool.flit.module]`.
#[derive(Debug, Default, Deserialize)]
struct FlitModule {
    /// `name`: the import name.
    name: Option<String>,
}

/// `[tool.flit.sdist]`: flit_core refuses keys other than `include` and `exclude`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FlitSdist {
    include: Option<Vec<String>>,
    exclude: Option<Vec<String>>,
}

/// flit's readme: (text, content type, file); the content type comes from the extension
/// (none for another one) or the table.
type FlitReadme = (Option<String>, Option<String>, Option<String>);

fn readme(root: &Path, readme: Option<&StrOrTable<ReadmeTable>>) -> Result<FlitReadme> {
    let ext_type = |path: &str| {
        let l = path.to_ascii_lowercase();
        [
            (".rst", "text/x-rst"),
            (".md", "text/markdown"),
            (".txt", "text/plain"),
        ]
        .iter()
        .find(|(e, _)| l.ends_with(e))
        .map(|(_, t)| t.to_string())
    };
    match readme {
        None => Ok((None, None, None)),
        Some(StrOrTable::Str(rel)) => {
            let text = read_text(&root.join(rel))?;
            Ok((Some(text), ext_type(rel), Some(rel.clone())))
        }
        Some(StrOrTable::Table(t)) => {
            let ct = t.content_type.clone().ok_or_else(|| {
                Error::invalid("content-type field required in [project.readme] table")
            })?;
            match (&t.file, &t.text) {
                (Some(f), _) => Ok((Some(read_text(&root.join(f))?), Some(ct), Some(f.clone()))),
                (None, Some(text)) => Ok((Some(text.clone()), Some(ct), None)),
                (None, None) => Err(Error::invalid(
                    "file or text field required in [project.readme] table",
                )),
            }
        }
    }
}

/// flit's module lookup: (path, is a package, `""` or `"src"`); exactly one of `name/`,
/// `name.py`, `src/name/`, `src/name.py` must exist.
fn find_module(root: &Path, module: &str) -> Result<(PathBuf, bool, String)> {
    let as_path = module.replace('.', "/");
    let candidates = [
        (root.join(&as_path), true, ""),
        (root.join(format!("{as_path}.py")), false, ""),
        (root.join("src").join(&as_path), true, "src"),
        (root.join("src").join(format!("{as_path}.py")), false, "src"),
    ];
    let existing: Vec<&(PathBuf, bool, &str)> = candidates
        .iter()
        .filter(|(p, pkg, _)| if *pkg { p.is_dir() } else { p.is_file() })
        .collect();
    match existing.as_slice() {
        [one] => Ok((one.0.clone(), one.1, one.2.to_string())),
        [] => Err(Error::invalid(format!(
            "no file/folder found for module {module} (looked for {as_path}/, {as_path}.py, src/{as_path}/, src/{as_path}.py; set [tool.flit.module] name)"
        ))),
        many => Err(Error::invalid(format!(
            "multiple files or folders could be module {module}: {}",
            many.iter()
                .map(|c| c.0.strip_prefix(root).unwrap_or(&c.0).display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// flit's dynamic `version` and `description`: (version, docstring summary) read from the
/// module's source, never by importing it. Other dynamic fields are unsupported; a field
/// both dynamic and given is an error.
fn dynamic_values(
    root: &Path,
    p: &ProjectTable,
    module_path: &Path,
    is_package: bool,
) -> Result<(Option<String>, Option<String>)> {
    for d in p.dynamic() {
        let given = match d.as_str() {
            "version" => p.version.is_some(),
            "description" => p.description.is_some(),
            _ => {
                return Err(Error::unsupported(format!(
                    "dynamic field `{d}` (flit only resolves `version` and `description` dynamically)"
                )));
            }
        };
        if given {
            return Err(Error::invalid(format!(
                "field `project.{d}` is listed in `project.dynamic` and also given"
            )));
        }
    }
    let want = |f: &str| p.dynamic().iter().any(|d| d == f);
    if !want("version") && !want("description") {
        return Ok((None, None));
    }
    let init = if is_package {
        module_path.join("__init__.py")
    } else {
        module_path.to_path_buf()
    };
    let mut files = Vec::new();
    if is_package {
        for f in ["version.py", "_version.py", "__version__.py"] {
            if module_path.join(f).is_file() {
                files.insert(0, module_path.join(f));
            }
        }
    }
    files.push(init.clone());
    let mut dyn_version = None;
    for f in &files {
        if let Some(v) = version_assignment(&read_text(f)?) {
            dyn_version = Some(v);
        }
    }
    let doc_summary = module_docstring(&read_text(&init)?)
        .filter(|d| !d.trim().is_empty())
        .map(|d| d.trim_start().lines().next().unwrap_or("").to_string());
    let rel = init
        .strip_prefix(root)
        .unwrap_or(&init)
        .display()
        .to_string();
    if want("version") && dyn_version.is_none() {
        return Err(Error::unsupported(format!(
            "`version` is dynamic but {rel} has no literal `__version__ = \"…\"` (flit would import the module to compute it; this builder never runs project code)"
        )));
    }
    if want("description") && doc_summary.is_none() {
        return Err(Error::invalid(format!(
            "`description` is dynamic but {rel} has no module docstring (flit cannot package a module without one)"
        )));
    }
    Ok((dyn_version, doc_summary))
}

/// flit's license: (expression, license files sorted); a `license = { file }` must exist,
/// `license-files` globs must each match and cannot go with a license table; the default
/// globs are `COPYING*`, `LICEN[CS]E*`.
fn license(root: &Path, p: &ProjectTable) -> Result<(Option<String>, Vec<String>)> {
    let mut expression = None;
    let mut files: Vec<String> = Vec::new();
    match &p.license {
        None | Some(StrOrTable::Table(LicenseTable { file: None, .. })) => {}
        Some(StrOrTable::Str(e)) => expression = Some(e.clone()),
        Some(StrOrTable::Table(LicenseTable { file: Some(f), .. })) => {
            if !root.join(f).is_file() {
                return Err(Error::invalid(format!("license file {f} does not exist")));
            }
            files.push(f.trim_start_matches("./").to_string());
        }
    }
    const FIELD: &str = "project.license-files";
    match &p.license_files {
        Some(globs) => {
            if matches!(p.license, Some(StrOrTable::Table(_))) {
                return Err(Error::invalid(
                    "license-files cannot be used with a license table, use `project.license` with a license expression instead",
                ));
            }
            files = glob_files(root, globs.list(FIELD)?, FIELD, true)?;
        }
        None => files.extend(glob_files(
            root,
            &["COPYING*".to_string(), "LICEN[CS]E*".to_string()],
            FIELD,
            false,
        )?),
    }
    files.sort();
    files.dedup();
    Ok((expression, files))
}

/// flit's entry points: `entry-points` groups plus `console_scripts`/`gui_scripts` from
/// `scripts`/`gui-scripts`, sorted, entries sorted.
fn entry_points(p: &ProjectTable) -> Result<EntryPointGroups> {
    let mut out: EntryPointGroups = Vec::new();
    for (g, Entries(entries)) in p.entry_points.iter().flat_map(|e| &e.0) {
        if g == "console_scripts" || g == "gui_scripts" {
            return Err(Error::invalid(
                "Scripts should be specified in [project.scripts] or [project.gui-scripts], not under [project.entry-points]",
            ));
        }
        out.push((g.clone(), entries.clone()));
    }
    for (map, group) in [
        (&p.scripts, "console_scripts"),
        (&p.gui_scripts, "gui_scripts"),
    ] {
        if let Some(Entries(e)) = map {
            out.push((group.to_string(), e.clone()));
        }
    }
    for (_, e) in out.iter_mut() {
        e.sort();
    }
    out.sort();
    Ok(out)
}

/// flit's `_normalise_requires_dist`: extras inside `[...]` normalised and joined by `, `.
fn normalise_requires_dist(req: &str) -> String {
    if let (Some(open), Some(close)) = (req.find('['), req.find(']'))
        && open < close
    {
        let extras: Vec<String> = req[open + 1..close]
            .split(',')
            .map(|e| normalize_name(e.trim()))
            .collect();
        return format!(
            "{}[{}]{}",
            &req[..open],
            extras.join(", "),
            &req[close + 1..]
        );
    }
    req.to_string()
}

/// flit's `Metadata.supports_py2`: no `requires-python` part starting with 3+.
fn supports_py2(requires_python: &str) -> bool {
    for part in requires_python.split(',') {
        let p = part.trim_start();
        let p = ["===", "==", ">=", "~=", ">"]
            .iter()
            .find_map(|op| p.strip_prefix(op))
            .unwrap_or(p)
            .trim_start();
        if p.starts_with(|c: char| ('3'..='9').contains(&c)) {
            return false;
        }
    }
    true
}

/// flit's core metadata 2.4 (`METADATA`, `PKG-INFO`) in flit's field order and (non-
/// normalising) formatting; `readme` is (text, content type), `license` (expression,
/// files). Errors: a `License ::` classifier next to a license expression, two extras that
/// normalise alike, an author or maintainer with neither name nor email.
fn core_metadata(
    p: &ProjectTable,
    (raw_name, version): (&str, &str),
    summary: Option<String>,
    (readme_text, content_type): (Option<&String>, Option<&String>),
    (license_expression, license_files): (Option<&String>, &[String]),
) -> Result<String> {
    let classifiers = p.classifiers.clone().unwrap_or_default();
    if license_expression.is_some()
        && let Some(c) = classifiers.iter().find(|c| c.starts_with("License :: "))
    {
        return Err(Error::invalid(format!(
            "License classifiers are deprecated in favor of the license expression. Remove the '{c}' classifier"
        )));
    }
    let keywords = p.keywords.as_ref().map(|k| k.join(","));
    let mut urls = p.urls.clone().map(|u| u.0).unwrap_or_default();
    urls.sort();
    let mut extras: Vec<(String, Vec<String>)> = Vec::new();
    for (e, reqs) in p.optional_dependencies.iter().flat_map(|o| &o.0) {
        let norm = normalize_name(e);
        if extras.iter().any(|(x, _)| *x == norm) {
            return Err(Error::invalid(format!(
                "optional-dependencies group names clash: {norm}"
            )));
        }
        extras.push((norm, reqs.clone()));
    }
    extras.sort();
    let mut requires_dist = p.dependencies.clone().unwrap_or_default();
    for (extra, reqs) in &extras {
        for r in reqs {
            requires_dist.push(match r.split_once(';') {
                Some((name, marker)) => format!("{name} ; extra == \"{extra}\" and ({marker})"),
                None => format!("{r} ; extra == \"{extra}\""),
            });
        }
    }
    // METADATA, in flit's order.
    let mut m = String::new();
    m.push_str("Metadata-Version: 2.4\n");
    m.push_str(&format!("Name: {raw_name}\n"));
    m.push_str(&format!("Version: {version}\n"));
    let (author, author_email) = people(&persons(p.authors.as_ref(), "authors")?);
    let (maint, maint_email) = people(&persons(p.maintainers.as_ref(), "maintainers")?);
    for (field, value) in [
        ("Summary", summary),
        ("Keywords", keywords),
        ("Author", author),
        ("Author-email", author_email),
        ("Maintainer", maint),
        ("Maintainer-email", maint_email),
        ("Requires-Python", p.requires_python.clone()),
        ("Description-Content-Type", content_type.cloned()),
    ] {
        if let Some(v) = value {
            let joined = v.lines().collect::<Vec<_>>().join("\n        ");
            m.push_str(&format!("{field}: {joined}\n"));
        }
    }
    if let Some(e) = license_expression {
        m.push_str(&format!("License-Expression: {e}\n"));
    }
    for c in &classifiers {
        m.push_str(&format!("Classifier: {c}\n"));
    }
    for f in license_files {
        m.push_str(&format!("License-File: {f}\n"));
    }
    for r in &requires_dist {
        m.push_str(&format!("Requires-Dist: {}\n", normalise_requires_dist(r)));
    }
    for (label, url) in &urls {
        m.push_str(&format!("Project-URL: {label}, {url}\n"));
    }
    for (extra, _) in &extras {
        m.push_str(&format!("Provides-Extra: {extra}\n"));
    }
    if let Some(text) = readme_text {
        m.push('\n');
        m.push_str(text);
        m.push('\n');
    }

    Ok(m)
}

impl FlitProject {
    /// Reads and resolves the flit_core project at `root`.
    ///
    /// Errors: invalid fields (naming the field, as flit's `ConfigError` would);
    /// [`Error::Unsupported`] for `[tool.flit.external-data]`, the pre-PEP 621
    /// `[tool.flit.metadata]` table, and dynamic values flit would have to import the
    /// module for.
    pub fn load(root: &Path) -> Result<FlitProject> {
        let doc = read_pyproject(root)?;
        let tool: FlitTool = tool_table(&doc, &["tool", "flit"])?;
        if tool.metadata.is_some() && !doc.contains_key("project") {
            return Err(Error::unsupported(
                "the old `[tool.flit.metadata]` table (use PEP 621 `[project]`, e.g. with `flit ini` or by hand)",
            ));
        }
        if tool.external_data.is_some() {
            return Err(Error::unsupported(
                "`[tool.flit.external-data]` (wheel data files) is not implemented by this builder",
            ));
        }
        let p = ProjectTable::from_doc(&doc)?;
        let raw_name = checked_name(p.name.as_deref())?;
        let module = match tool.module.and_then(|m| m.name) {
            Some(m) => m,
            None => raw_name.replace('-', "_"),
        };
        let (module_path, is_package, prefix) = find_module(root, &module)?;
        let (dyn_version, doc_summary) = dynamic_values(root, &p, &module_path, is_package)?;
        let raw_version = p.version.clone().or(dyn_version).ok_or_else(|| {
            Error::invalid("version must be specified under [project] or listed as a dynamic field")
        })?;
        let version = normalize_version(&raw_version).map_err(|e| {
            Error::invalid(format!("invalid version `{raw_version}`: {e} (PEP 440)"))
        })?;
        let summary = match &p.description {
            Some(d) => Some(d.clone()),
            None if p.dynamic().iter().any(|d| d == "description") => doc_summary,
            None => {
                return Err(Error::invalid(
                    "description must be specified under [project] or listed as a dynamic field",
                ));
            }
        };
        let (readme_text, content_type, readme_file) = readme(root, p.readme.as_ref())?;
        let (license_expression, license_files) = license(root, &p)?;
        let metadata = core_metadata(
            &p,
            (&raw_name, &version),
            summary,
            (readme_text.as_ref(), content_type.as_ref()),
            (license_expression.as_ref(), &license_files),
        )?;
        let entry_points = entry_points(&p)?;
        let mut extra_files = vec!["pyproject.toml".to_string()];
        extra_files.extend(readme_file.map(|f| f.trim_start_matches("./").to_string()));
        extra_files.extend(license_files.iter().cloned());
        let (sdist_include, sdist_exclude) = match tool.sdist {
            None => (Vec::new(), Vec::new()),
            Some(sd) => {
                let mut exclude = vec!["**/__pycache__".to_string(), "**.pyc".to_string()];
                exclude.extend(sd.exclude.unwrap_or_default());
                (sd.include.unwrap_or_default(), exclude)
            }
        };
        Ok(FlitProject {
            root: root.to_path_buf(),
            raw_name,
            version,
            module,
            module_path,
            prefix,
            is_package,
            metadata,
            requires_python: p.requires_python.clone().unwrap_or_default(),
            entry_points,
            license_files,
            extra_files,
            sdist_include,
            sdist_exclude,
        })
    }

    /// `{normalised_name}-{version}` (flit's `normalize_dist_name`).
    pub fn dist_name(&self) -> String {
        format!(
            "{}-{}",
            crate::validate::filename_name(&self.raw_name),
            self.version
        )
    }

    /// `py3-none-any` or `py2.py3-none-any`.
    pub fn wheel_tag(&self) -> &'static str {
        if supports_py2(&self.requires_python) {
            "py2.py3-none-any"
        } else {
            "py3-none-any"
        }
    }

    /// The module's files as (absolute path, path relative to the project root), in flit's
    /// `Module.iter_files` order.
    pub fn module_files(&self) -> Result<Vec<(PathBuf, String)>> {
        let base = if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        };
        let rel_module = self
            .module_path
            .strip_prefix(&self.root)
            .unwrap_or(&self.module_path)
            .to_string_lossy()
            .replace('\\', "/");
        let _ = base;
        if !self.is_package {
            return Ok(vec![(self.module_path.clone(), rel_module)]);
        }
        let mut out = Vec::new();
        walk(&self.module_path, &rel_module, &mut out)?;
        Ok(out)
    }

    /// The wheel's file name and bytes.
    pub fn wheel_bytes(&self, options: &BuildOptions) -> Result<(String, Vec<u8>)> {
        let dist = self.dist_name();
        let dist_info = format!("{dist}.dist-info");
        let mut zip = archive::WheelWriter::new(
            archive::DateTime::from_epoch(options.source_date_epoch).dos(),
        );
        let strip = if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        };
        for (abs, rel) in self.module_files()? {
            let (data, mode) = crate::read_file(&abs)?;
            let mode = normalize_file_permissions(mode) & 0xFFFF;
            zip.add(rel.strip_prefix(&strip).unwrap_or(&rel), &data, mode);
        }
        if !self.entry_points.is_empty() {
            let mut s = String::new();
            for (g, entries) in &self.entry_points {
                s.push_str(&format!("[{g}]\n"));
                for (k, v) in entries {
                    s.push_str(&format!("{k}={v}\n"));
                }
                s.push('\n');
            }
            zip.add(
                &format!("{dist_info}/entry_points.txt"),
                s.as_bytes(),
                0o100644,
            );
        }
        for lic in &self.license_files {
            let abs = self.root.join(lic);
            let (data, mode) = crate::read_file(&abs)?;
            let mode = normalize_file_permissions(mode) & 0xFFFF;
            zip.add(&format!("{dist_info}/licenses/{lic}"), &data, mode);
        }
        let mut wheel = format!(
            "Wheel-Version: 1.0\nGenerator: {}\nRoot-Is-Purelib: true\n",
            options.generator
        );
        if supports_py2(&self.requires_python) {
            wheel.push_str("Tag: py2-none-any\n");
        }
        wheel.push_str("Tag: py3-none-any\n");
        zip.add(&format!("{dist_info}/WHEEL"), wheel.as_bytes(), 0o100644);
        zip.add(
            &format!("{dist_info}/METADATA"),
            self.metadata.as_bytes(),
            0o100644,
        );
        Ok((
            format!("{dist}-{}.whl", self.wheel_tag()),
            zip.finish(&dist_info, 0o100644),
        ))
    }

    /// The sdist's relative file paths, in flit's (sorted) order.
    pub fn sdist_files(&self) -> Result<Vec<String>> {
        let mut files: std::collections::BTreeSet<String> = self
            .module_files()?
            .into_iter()
            .map(|(_, rel)| rel)
            .collect();
        files.extend(self.extra_files.iter().cloned());
        let tree = list_tree(&self.root)?;
        let includes = FilePatterns::new(&self.sdist_include, &tree)?;
        let excludes = FilePatterns::new(&self.sdist_exclude, &tree)?;
        files.retain(|f| !excludes.match_file(f));
        for f in &includes.files {
            if !excludes.match_file(f) {
                files.insert(f.clone());
            }
        }
        for d in &includes.dirs {
            let prefix = format!("{d}/");
            for (rel, is_dir) in &tree {
                if !is_dir && rel.starts_with(&prefix) && !excludes.match_file(rel) {
                    // flit prunes excluded directories while walking.
                    let mut pruned = false;
                    let mut idx = prefix.len();
                    while let Some(pos) = rel[idx..].find('/') {
                        if excludes.match_dir(&rel[..idx + pos]) {
                            pruned = true;
                            break;
                        }
                        idx += pos + 1;
                    }
                    if !pruned {
                        files.insert(rel.clone());
                    }
                }
            }
        }
        files.remove("PKG-INFO");
        for crucial in &self.extra_files {
            if !files.contains(crucial) {
                return Err(Error::invalid(format!(
                    "crucial file `{crucial}` is excluded from the sdist by [tool.flit.sdist] exclude"
                )));
            }
        }
        Ok(files.into_iter().collect())
    }

    /// The sdist's file name and bytes: gzip mtime and member mtimes from
    /// `options.source_date_epoch`, `PKG-INFO` with mtime 0 (as flit writes it).
    pub fn sdist_bytes(&self, options: &BuildOptions) -> Result<(String, Vec<u8>)> {
        let dist = self.dist_name();
        let mtime = options.source_date_epoch.max(0) as u64;
        let mut tar = archive::TarWriter::new();
        for rel in self.sdist_files()? {
            let abs = self.root.join(&rel);
            let (data, mode) = crate::read_file(&abs)?;
            let mode = normalize_file_permissions(mode) & 0o7777;
            tar.add(&format!("{dist}/{rel}"), &data, mode, mtime);
        }
        tar.add(
            &format!("{dist}/PKG-INFO"),
            self.metadata.as_bytes(),
            0o644,
            0,
        );
        let gz = archive::gzip_level(
            &tar.finish(),
            mtime.min(u64::from(u32::MAX)) as u32,
            options.sdist_gzip_level,
        );
        Ok((format!("{dist}.tar.gz"), gz))
    }
}

/// Every file and directory under `root` (project-relative, `/`-separated), skipping only
/// `.git`: (path, is directory).
fn list_tree(root: &Path) -> Result<Vec<(String, bool)>> {
    fn rec(dir: &Path, rel: &str, out: &mut Vec<(String, bool)>) -> Result<()> {
        for e in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
            let e = e.map_err(|e| Error::io(dir, e))?;
            let name = e.file_name().to_string_lossy().into_owned();
            let r = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            // The listing's own type; only a symlink needs a `stat` (one host call per
            // entry in the component) to be followed.
            let is_dir = match e.file_type() {
                Ok(t) if !t.is_symlink() => t.is_dir(),
                _ => match std::fs::metadata(e.path()) {
                    Ok(meta) => meta.is_dir(),
                    Err(_) => continue,
                },
            };
            if is_dir {
                if name == ".git" {
                    continue;
                }
                out.push((r.clone(), true));
                rec(&e.path(), &r, out)?;
            } else {
                out.push((r, false));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    rec(root, "", &mut out)?;
    Ok(out)
}

/// One component of a [`pyglob_match`] pattern, compiled once per pattern (not once per
/// path compared: that compiled a regex per pattern component and tree entry).
enum PyGlobPart<'a> {
    /// `**`: any number of components.
    Recursive,
    /// `*`, `?`, `[…]` within a component; `None` when the component is not a valid glob
    /// (it then matches nothing).
    Glob(&'a str, Option<globset::GlobMatcher>),
}

impl<'a> PyGlobPart<'a> {
    fn compile(components: &[&'a str]) -> Vec<PyGlobPart<'a>> {
        components
            .iter()
            .map(|&c| {
                if c == "**" {
                    PyGlobPart::Recursive
                } else {
                    let m = globset::GlobBuilder::new(c)
                        .literal_separator(true)
                        .build()
                        .ok()
                        .map(|g| g.compile_matcher());
                    PyGlobPart::Glob(c, m)
                }
            })
            .collect()
    }
}

/// Python's `glob(pattern, recursive=True)` match of one relative path: `**` as a whole
/// component matches any number of components; `*`, `?`, `[…]` match within a component;
/// wildcards do not match names starting with `.` unless the pattern component does.
fn pyglob_match(pattern: &[PyGlobPart<'_>], path: &[&str]) -> bool {
    match (pattern.first(), path.first()) {
        (None, None) => true,
        (None, Some(_)) => false,
        (Some(PyGlobPart::Recursive), _) => {
            pyglob_match(&pattern[1..], path)
                || (!path.is_empty()
                    && !path[0].starts_with('.')
                    && pyglob_match(pattern, &path[1..]))
        }
        (Some(_), None) => false,
        (Some(PyGlobPart::Glob(p, m)), Some(c)) => {
            if c.starts_with('.') && !p.starts_with('.') {
                return false;
            }
            let ok = m.as_ref().is_some_and(|m| m.is_match(c));
            ok && pyglob_match(&pattern[1..], &path[1..])
        }
    }
}

/// flit's `FilePatterns`: the files and directories the patterns match, relative.
struct FilePatterns {
    files: std::collections::BTreeSet<String>,
    dirs: std::collections::BTreeSet<String>,
}

impl FilePatterns {
    fn new(patterns: &[String], tree: &[(String, bool)]) -> Result<FilePatterns> {
        let mut files = std::collections::BTreeSet::new();
        let mut dirs = std::collections::BTreeSet::new();
        for p in patterns {
            if p.starts_with('/') || p.split('/').any(|c| c == "..") {
                return Err(Error::invalid(format!(
                    "[tool.flit.sdist] pattern {p:?} must be relative and stay inside the project"
                )));
            }
            let norm = p.trim_end_matches('/');
            let comps: Vec<&str> = norm
                .split('/')
                .filter(|c| !c.is_empty() && *c != ".")
                .collect();
            let comps = PyGlobPart::compile(&comps);
            for (rel, is_dir) in tree {
                let parts: Vec<&str> = rel.split('/').collect();
                if pyglob_match(&comps, &parts) {
                    if *is_dir {
                        dirs.insert(rel.clone());
                    } else {
                        files.insert(rel.clone());
                    }
                }
            }
        }
        Ok(FilePatterns { files, dirs })
    }

    fn match_file(&self, rel: &str) -> bool {
        self.files.contains(rel) || self.dirs.iter().any(|d| rel.starts_with(&format!("{d}/")))
    }

    fn match_dir(&self, rel: &str) -> bool {
        self.dirs.contains(rel) || self.dirs.iter().any(|d| rel.starts_with(&format!("{d}/")))
    }
}

/// flit's `os.walk` order: files sorted, then each sorted subdirectory; no `__pycache__`
/// directories and no `*.pyc` files.
fn walk(dir: &Path, rel: &str, out: &mut Vec<(PathBuf, String)>) -> Result<()> {
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    for e in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let e = e.map_err(|e| Error::io(dir, e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        let is_dir = match e.file_type() {
            Ok(t) if !t.is_symlink() => t.is_dir(),
            _ => std::fs::metadata(e.path())
                .map_err(|err| Error::io(&e.path(), err))?
                .is_dir(),
        };
        if is_dir {
            if name != "__pycache__" {
                dirs.push(name);
            }
        } else if !name.ends_with(".pyc") {
            files.push(name);
        }
    }
    files.sort();
    dirs.sort();
    for f in files {
        out.push((dir.join(&f), format!("{rel}/{f}")));
    }
    for d in dirs {
        walk(&dir.join(&d), &format!("{rel}/{d}"), out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docstrings_and_versions_are_read_without_running_python() {
        let src = "#!/usr/bin/env python\n# -*- coding: utf-8 -*-\n\"\"\"\n    A tool.\n\n    More.\n    \"\"\"\nimport x\n__version__ = '1.0.0-RC1'  # comment\n";
        assert_eq!(module_docstring(src).as_deref(), Some("A tool.\n\nMore."));
        assert_eq!(version_assignment(src).as_deref(), Some("1.0.0-RC1"));
        assert_eq!(
            version_assignment("__version__: str = \"2\"\n").as_deref(),
            Some("2")
        );
        assert_eq!(version_assignment("__version__ = get()\n"), None);
        assert_eq!(version_assignment("    __version__ = '1'\n"), None);
        assert_eq!(module_docstring("import x\n'''no'''\n"), None);
        assert_eq!(module_docstring("r'''a\\nb'''").as_deref(), Some("a\\nb"));
    }

    #[test]
    fn py2_support_follows_flits_regex() {
        assert!(supports_py2(""));
        assert!(supports_py2(">=2.7"));
        assert!(!supports_py2(">=3.8"));
        assert!(!supports_py2(">=2.7, >=3.6"));
        assert!(supports_py2("!=3.0.*"));
    }

    #[test]
    fn requires_dist_extras_are_normalised_like_flit() {
        assert_eq!(
            normalise_requires_dist("a[Foo_Bar,x]>=1"),
            "a[foo-bar, x]>=1"
        );
        assert_eq!(normalise_requires_dist("a>=1"), "a>=1");
    }
}
