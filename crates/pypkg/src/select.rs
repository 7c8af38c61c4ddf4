//! Which project files go into a wheel or an sdist, chosen as hatchling 1.27 chooses them
//! (`hatchling/builders/plugin/interface.py` `recurse_included_files`, `builders/config.py`).
//!
//! Walks are deterministic: per directory, files sorted by name (bytewise) come first, then
//! the sorted subdirectories, recursively (Python's `os.walk` with `dirs.sort()`).
//! Directories hatchling never enters are skipped: `__pycache__`, `.venv`, `.git`, `.hg`,
//! `.hatch`, `.tox`, `.nox`, `.ruff_cache`, `.pytest_cache`, `.mypy_cache`, `.pixi`, and
//! airlock's own run folder `.airlock` (state, file index, status page: never part of a
//! distribution, so a second run builds the same bytes); files named `.DS_Store` are skipped.

use std::path::{Path, PathBuf};

use globset::{Candidate, GlobBuilder, GlobSet, GlobSetBuilder};

use crate::error::{Error, Result};
use crate::project::{Project, Selection};

/// Directory names hatchling never walks into (`EXCLUDED_DIRECTORIES`).
pub const EXCLUDED_DIRECTORIES: &[&str] = &[
    "__pycache__",
    ".venv",
    ".git",
    ".hg",
    ".hatch",
    ".tox",
    ".nox",
    ".ruff_cache",
    ".pytest_cache",
    ".mypy_cache",
    ".pixi",
    ".airlock",
];

/// One selected file: where it is and where it goes in the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncludedFile {
    /// The file on disk.
    pub path: PathBuf,
    /// Its project-relative path, `/`-separated.
    pub relative_path: String,
    /// Its path inside the archive (after `sources` rewriting), `/`-separated; for an sdist,
    /// relative to the `{name}-{version}/` top directory.
    pub distribution_path: String,
}

/// Walks `root` (files first, sorted; then subdirectories, sorted) calling `f(relative_path,
/// absolute_path)` for every regular file, skipping [`EXCLUDED_DIRECTORIES`] and `.DS_Store`.
pub fn walk_files(root: &Path, f: impl FnMut(&str, &Path)) -> Result<()> {
    walk_files_to_depth(root, usize::MAX, f)
}

/// [`walk_files`] down to files `max_depth` directories below `root` (0: the files of `root`
/// itself), not entering deeper directories.
pub fn walk_files_to_depth(
    root: &Path,
    max_depth: usize,
    mut f: impl FnMut(&str, &Path),
) -> Result<()> {
    walk_dir_to(root, "", max_depth, &mut |rel, abs, _| f(rel, abs))
}

/// The deepest directory level a glob `pattern` (`/`-separated, `*` not crossing `/`) can
/// match a file at: the number of `/` in it, or unbounded with `**`. Globbing walks only as
/// deep as this: each walk is one WASI call per directory entry in the component.
pub(crate) fn glob_depth(pattern: &str) -> usize {
    if pattern.contains("**") {
        usize::MAX
    } else {
        pattern.matches('/').count()
    }
}

/// Like [`walk_files`] but also passes whether the file's directory holds an `__init__.py`.
fn walk_dir(dir: &Path, rel: &str, f: &mut dyn FnMut(&str, &Path, bool)) -> Result<()> {
    walk_dir_to(dir, rel, usize::MAX, f)
}

fn walk_dir_to(
    dir: &Path,
    rel: &str,
    max_depth: usize,
    f: &mut dyn FnMut(&str, &Path, bool),
) -> Result<()> {
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        // The entry's own type comes with the directory listing; only a symlink needs a
        // `stat` to be followed, as hatchling's `os.walk(followlinks=True)` follows it.
        let (is_dir, is_file) = match entry.file_type() {
            Ok(t) if !t.is_symlink() => (t.is_dir(), t.is_file()),
            _ => match std::fs::metadata(entry.path()) {
                Ok(meta) => (meta.is_dir(), meta.is_file()),
                Err(_) => continue,
            },
        };
        if is_dir {
            if !EXCLUDED_DIRECTORIES.contains(&name.as_str()) {
                dirs.push(name);
            }
        } else if is_file && name != ".DS_Store" {
            files.push(name);
        }
    }
    files.sort();
    dirs.sort();
    let is_package = files.iter().any(|f| f == "__init__.py");
    for name in files {
        let r = join(rel, &name);
        f(&r, &dir.join(&name), is_package);
    }
    if max_depth == 0 {
        return Ok(());
    }
    for name in dirs {
        walk_dir_to(&dir.join(&name), &join(rel, &name), max_depth - 1, f)?;
    }
    Ok(())
}

fn join(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_string()
    } else {
        format!("{a}/{b}")
    }
}

#[derive(Debug)]
struct Rule {
    negate: bool,
    dir_only: bool,
}

/// A gitignore-style pattern list (the subset of `pathspec.GitIgnoreSpec` that hatchling's
/// `include`/`exclude` and `.gitignore` use): `#` comments, `!` negation (last match wins),
/// a trailing `/` for directories only, patterns with an inner `/` anchored at the root,
/// others matching at any depth; `*`, `?`, `[..]` do not cross `/`, `**` does. A pattern
/// matching a directory matches every file under it.
///
/// The patterns are compiled into one [`GlobSet`] (literal, extension and prefix patterns
/// need no regex, the rest share one): compiling a regex per pattern of a long `.gitignore`
/// dominated the file selection, most of all in the wasm component.
#[derive(Debug, Default)]
pub struct IgnoreSpec {
    rules: Vec<Rule>,
    set: GlobSet,
}

impl IgnoreSpec {
    /// Compiles `lines`; a line that is not a valid glob is an [`Error::Invalid`] naming it.
    pub fn new<S: AsRef<str>>(lines: &[S]) -> Result<IgnoreSpec> {
        let mut rules = Vec::new();
        let mut set = GlobSetBuilder::new();
        for line in lines {
            let mut p = line.as_ref().trim_end_matches(['\n', '\r']);
            // Trailing spaces are ignored unless escaped.
            while p.ends_with(' ') && !p.ends_with("\\ ") {
                p = &p[..p.len() - 1];
            }
            if p.is_empty() || p.starts_with('#') {
                continue;
            }
            let (negate, p) = match p.strip_prefix('!') {
                Some(rest) => (true, rest),
                None => (false, p),
            };
            let p = p
                .strip_prefix('\\')
                .filter(|r| r.starts_with(['#', '!']))
                .unwrap_or(p);
            let (dir_only, p) = match p.strip_suffix('/') {
                Some(rest) => (true, rest),
                None => (false, p),
            };
            if p.is_empty() {
                continue;
            }
            let anchored = p.contains('/');
            let p = p.trim_start_matches('/');
            let pattern = if anchored || p.starts_with("**") {
                p.to_string()
            } else {
                format!("**/{p}")
            };
            let glob = GlobBuilder::new(&pattern)
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .map_err(|e| Error::invalid(format!("bad pattern {:?}: {e}", line.as_ref())))?;
            set.add(glob);
            rules.push(Rule { negate, dir_only });
        }
        let set = set
            .build()
            .map_err(|e| Error::invalid(format!("bad pattern list: {e}")))?;
        Ok(IgnoreSpec { rules, set })
    }

    /// True when no pattern was given.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether the file at `rel` (project-relative, `/`-separated) is matched.
    ///
    /// The last pattern that matches the file itself (unless it is directory-only) or one of
    /// its parent directories decides: matched, or not when it is a `!` pattern.
    pub fn matches(&self, rel: &str) -> bool {
        if self.rules.is_empty() {
            return false;
        }
        let mut hits = Vec::new();
        let mut last: Option<usize> = None;
        self.set
            .matches_candidate_into(&Candidate::new(rel), &mut hits);
        last = last.max(
            hits.iter()
                .rev()
                .copied()
                .find(|&i| !self.rules[i].dir_only),
        );
        let mut idx = 0;
        while let Some(pos) = rel[idx..].find('/') {
            let dir = &rel[..idx + pos];
            self.set
                .matches_candidate_into(&Candidate::new(dir), &mut hits);
            last = last.max(hits.last().copied());
            idx += pos + 1;
        }
        last.is_some_and(|i| !self.rules[i].negate)
    }
}

/// The exclusion spec hatchling applies to a target: `*.py[cdo]`, `/dist`, the root
/// `.gitignore` (unless `ignore-vcs`), then the target's `exclude`.
///
/// Unlike hatchling, `.gitignore` files of parent directories are not consulted (in the
/// sandbox the project root is `/`, and a build should not depend on what is around it).
fn exclude_spec(root: &Path, sel: &Selection) -> Result<IgnoreSpec> {
    let mut lines: Vec<String> = vec!["*.py[cdo]".into(), "/dist".into()];
    if !sel.ignore_vcs {
        let gi = root.join(".gitignore");
        if gi.is_file() {
            let text = std::fs::read_to_string(&gi).map_err(|e| Error::io(&gi, e))?;
            lines.extend(text.lines().map(str::to_string));
        }
    }
    lines.extend(sel.exclude.iter().cloned());
    IgnoreSpec::new(&lines)
}

fn distribution_path(sel: &Selection, rel: &str) -> String {
    for (source, replacement) in &sel.sources {
        if source.is_empty() {
            return format!("{replacement}{rel}");
        }
        if let Some(rest) = rel.strip_prefix(source.as_str()) {
            return format!("{replacement}{rest}");
        }
    }
    rel.to_string()
}

/// hatchling's wheel default file selection when no `packages`, `only-include` or `include`
/// is configured: `<name>/__init__.py`, `src/<name>/__init__.py`, `<name>.py`, or one
/// `*/<name>/__init__.py` (namespace), trying the raw then the normalised name as a file name
/// component.
fn default_wheel_selection(project: &Project, sel: &Selection) -> Result<Selection> {
    let mut sel = sel.clone();
    if !sel.include.is_empty() || !sel.packages.is_empty() || !sel.only_include.is_empty() {
        return Ok(sel);
    }
    let root = &project.root;
    let candidates = [
        file_name_component(&project.raw_name),
        file_name_component(&project.name),
    ];
    for name in &candidates {
        if root.join(name).join("__init__.py").is_file() {
            sel.packages = vec![name.clone()];
        } else if root.join("src").join(name).join("__init__.py").is_file() {
            sel.packages = vec![format!("src/{name}")];
            sel.sources.push(("src/".into(), String::new()));
            sel.sources.sort();
        } else if root.join(format!("{name}.py")).is_file() {
            sel.only_include = vec![format!("{name}.py")];
            return Ok(sel);
        } else {
            let mut found = Vec::new();
            for entry in std::fs::read_dir(root).map_err(|e| Error::io(root, e))? {
                let entry = entry.map_err(|e| Error::io(root, e))?;
                if entry.path().join(name).join("__init__.py").is_file() {
                    found.push(entry.file_name().to_string_lossy().into_owned());
                }
            }
            if found.len() == 1 {
                sel.packages = vec![found.remove(0)];
            } else {
                continue;
            }
        }
        sel.only_include = sel.packages.clone();
        return Ok(sel);
    }
    let mut names = candidates.to_vec();
    names.sort();
    names.dedup();
    Err(Error::invalid(format!(
        "unable to determine which files to ship inside the wheel: no directory matches the project name ({}); \
         set e.g. [tool.hatch.build.targets.wheel] packages = [\"src/{}\"]",
        names.join(" or "),
        names[0]
    )))
}

/// PEP 427 file name escaping as hatchling does it: runs of characters other than word
/// characters and `.` become `_`.
pub fn file_name_component(name: &str) -> String {
    let mut out = String::new();
    let mut in_run = false;
    for c in name.chars() {
        if c.is_alphanumeric() || c == '_' || c == '.' {
            out.push(c);
            in_run = false;
        } else if !in_run {
            out.push('_');
            in_run = true;
        }
    }
    out
}

fn select(
    project: &Project,
    sel: &Selection,
    reserved: &[String],
    skip: &dyn Fn(&str) -> bool,
) -> Result<Vec<IncludedFile>> {
    let root = &project.root;
    let exclude = exclude_spec(root, sel)?;
    let mut out = Vec::new();
    if !sel.only_include.is_empty() {
        // only-include (and packages): walked in (depth, path) order, included unless excluded.
        let mut roots = sel.only_include.clone();
        roots.sort_by(|a, b| (a.matches('/').count(), a).cmp(&(b.matches('/').count(), b)));
        for top in roots {
            let abs = root.join(&top);
            if abs.is_file() {
                let dist = distribution_path(sel, &top);
                if !reserved.contains(&dist) {
                    out.push(IncludedFile {
                        path: abs,
                        relative_path: top.clone(),
                        distribution_path: dist,
                    });
                }
            } else if abs.is_dir() {
                walk_dir(&abs, "", &mut |rel, path, is_package| {
                    let rel = join(&top, rel);
                    let dist = distribution_path(sel, &rel);
                    if reserved.contains(&dist) || skip(&rel) {
                        return;
                    }
                    if (sel.only_packages && !is_package) || exclude.matches(&rel) {
                        return;
                    }
                    out.push(IncludedFile {
                        path: path.to_path_buf(),
                        relative_path: rel,
                        distribution_path: dist,
                    });
                })?;
            } else {
                return Err(Error::invalid(format!(
                    "`{top}` (from `packages`/`only-include`) does not exist in the project"
                )));
            }
        }
    } else {
        let mut include_lines = sel.include.clone();
        include_lines.extend(sel.packages.iter().map(|p| format!("/{p}/")));
        let include = IgnoreSpec::new(&include_lines)?;
        walk_dir(root, "", &mut |rel, path, is_package| {
            let dist = distribution_path(sel, rel);
            if reserved.contains(&dist) || skip(rel) {
                return;
            }
            if (sel.only_packages && !is_package) || exclude.matches(rel) {
                return;
            }
            if !include.is_empty() && !include.matches(rel) {
                return;
            }
            out.push(IncludedFile {
                path: path.to_path_buf(),
                relative_path: rel.to_string(),
                distribution_path: dist,
            });
        })?;
    }
    Ok(out)
}

/// The project files of the wheel, in hatchling's order, with their in-wheel paths.
///
/// Errors: unreadable directories; no files found by the default discovery; a configured
/// `packages`/`only-include` path that does not exist.
pub fn wheel_files(project: &Project) -> Result<Vec<IncludedFile>> {
    let sel = default_wheel_selection(project, &project.wheel)?;
    select(project, &sel, &[], &|_| false)
}

/// The files of the sdist (paths relative to the sdist's top directory), in hatchling's
/// order: the walked project files, then the always-included ones (`pyproject.toml`,
/// `hatch.toml`, `hatch_build.py`, `.gitignore`, the readme and license files) sorted by
/// (depth, path). `PKG-INFO` is not included (the caller writes it last). A `PKG-INFO` at the
/// root (when rebuilding from an unpacked sdist) is left out: hatchling 1.27 would ship it
/// next to the new one, a duplicate member.
pub fn sdist_files(project: &Project) -> Result<Vec<IncludedFile>> {
    let root = &project.root;
    let mut forced: Vec<String> = Vec::new();
    for f in [
        "pyproject.toml",
        "hatch.toml",
        "hatch_build.py",
        ".gitignore",
        ".hgignore",
    ] {
        if root.join(f).is_file() {
            forced.push(f.to_string());
        }
    }
    if let Some(p) = project.readme.as_ref().and_then(|r| r.path.clone()) {
        forced.push(p.trim_start_matches("./").to_string());
    }
    forced.extend(project.license_files.iter().cloned());
    forced.sort_by(|a, b| (a.matches('/').count(), a).cmp(&(b.matches('/').count(), b)));
    forced.dedup();
    let reserved: Vec<String> = forced
        .iter()
        .map(|f| distribution_path(&project.sdist, f))
        .collect();
    let mut files = select(project, &project.sdist, &reserved, &|rel| rel == "PKG-INFO")?;
    for f in forced {
        files.push(IncludedFile {
            path: root.join(&f),
            distribution_path: distribution_path(&project.sdist, &f),
            relative_path: f,
        });
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gitignore_patterns_match_like_git() {
        let spec = IgnoreSpec::new(&[
            "*.py[cod]",
            "build/",
            "/dist",
            "docs/_build",
            "!keep.pyc",
            "# comment",
            "*.egg-info/",
        ])
        .unwrap();
        assert!(spec.matches("a/b/x.pyc"));
        assert!(!spec.matches("a/keep.pyc"));
        assert!(spec.matches("build/lib/x.py"));
        assert!(spec.matches("src/build/x.py"));
        assert!(
            !spec.matches("build"),
            "dir-only pattern does not match a file"
        );
        assert!(spec.matches("dist/x.whl"));
        assert!(!spec.matches("src/dist/x.py"), "anchored");
        assert!(spec.matches("docs/_build/html/index.html"));
        assert!(!spec.matches("x/docs/_build/a"));
        assert!(spec.matches("src/pkg.egg-info/PKG-INFO"));
        assert!(!spec.matches("src/pkg/core.py"));
    }

    #[test]
    fn file_name_components_escape_like_hatchling() {
        assert_eq!(file_name_component("my-pkg"), "my_pkg");
        assert_eq!(file_name_component("a--b.c"), "a_b.c");
    }
}
