//! A `file:` repository: a folder that serves as a static simple index.
//!
//! Layout under the repository folder `ROOT`:
//! - `packages/<filename>`: the distribution files;
//! - `simple/index.html` and `simple/index.json`: the project list (PEP 503 / PEP 691);
//! - `simple/<normalized-name>/index.html` and `index.json`: each project's files, linked as
//!   `../../packages/<filename>#sha256=<hex>` with `data-requires-python` (HTML-escaped).
//!
//! `pip install --index-url file:///ABS/ROOT/simple NAME` installs from it (pip reads
//! `index.html` of a `file:` directory URL). A file already there with the same sha256 is
//! skipped; with a different one it is an error, and the file is never overwritten.

use std::fs;
use std::path::{Path, PathBuf};

use airlock_stage::{Category, StageError};

use crate::dist::{DistKind, Distribution, digest_file};
use crate::index::{FileReport, FileStatus};
use crate::simple::{PageFile, parse_html, project_html, project_json, root_html, root_json};

fn io(path: &Path, e: &std::io::Error) -> StageError {
    StageError::io(&path.display().to_string(), e)
}

/// Copies `src` (whose contents `dist` describes) into the repository at `root` and
/// regenerates the simple pages of its project and the project list.
///
/// Errors: [`Category::Upload`] when a file of that name with another sha256 is there; I/O
/// errors via [`StageError::io`] (in the sandbox: a path not granted).
pub fn publish(root: &Path, src: &Path, dist: &Distribution) -> Result<FileReport, StageError> {
    let packages = root.join("packages");
    fs::create_dir_all(&packages).map_err(|e| io(&packages, &e))?;
    let dest = packages.join(&dist.filename);
    let status = if dest.exists() {
        let existing = digest_file(&dest)?;
        if existing.sha256 != dist.digests.sha256 {
            return Err(StageError::new(
                Category::Upload,
                format!(
                    "{} is already in {} with different content (sha256 {}, local {})",
                    dist.filename,
                    root.display(),
                    existing.sha256,
                    dist.digests.sha256
                ),
            )
            .with_hint("a published file is never replaced: bump the version and build again"));
        }
        FileStatus::Skipped
    } else {
        let part = packages.join(format!(".{}.part", dist.filename));
        fs::copy(src, &part).map_err(|e| io(&part, &e))?;
        if digest_file(&part)?.sha256 != dist.digests.sha256 {
            let _ = fs::remove_file(&part);
            return Err(StageError::validation(format!(
                "{} changed while it was being published",
                src.display()
            )));
        }
        fs::rename(&part, &dest).map_err(|e| io(&dest, &e))?;
        FileStatus::Uploaded
    };
    regenerate_project(root, &dist.normalized_name())?;
    regenerate_root(root)?;
    Ok(FileReport::of(dist, status))
}

/// `dry_run`: what [`publish`] would do, without writing: [`FileStatus::WouldUpload`] when
/// the file is not in `root/packages`, [`FileStatus::Skipped`] when it is with the same
/// sha256. Errors: as [`publish`] for a different sha256.
pub fn check(root: &Path, dist: &Distribution) -> Result<FileReport, StageError> {
    let dest = root.join("packages").join(&dist.filename);
    if !dest.exists() {
        return Ok(FileReport::of(dist, FileStatus::WouldUpload));
    }
    let existing = digest_file(&dest)?;
    if existing.sha256 != dist.digests.sha256 {
        return Err(StageError::new(
            Category::Upload,
            format!(
                "{} is already in {} with different content (sha256 {}, local {})",
                dist.filename,
                root.display(),
                existing.sha256,
                dist.digests.sha256
            ),
        )
        .with_hint("a published file is never replaced: bump the version and build again"));
    }
    Ok(FileReport::of(dist, FileStatus::Skipped))
}

/// The PEP 503 normalized project name a distribution file name starts with
/// (`{name}-{version}…`): a wheel's first `-` field, an sdist's part before the last `-`.
pub fn project_of_filename(filename: &str) -> Option<String> {
    let name = match DistKind::from_filename(filename)? {
        DistKind::Wheel => filename.split('-').next()?,
        DistKind::Sdist => filename.strip_suffix(".tar.gz")?.rsplit_once('-')?.0,
    };
    Some(crate::normalize_name(name))
}

/// Rewrites `simple/<name>/index.{html,json}` from the files of project `name` (normalized)
/// in `packages/`, sorted by file name. Returns the listed files.
pub fn regenerate_project(root: &Path, name: &str) -> Result<Vec<PageFile>, StageError> {
    let packages = root.join("packages");
    let mut files = Vec::new();
    let mut entries: Vec<PathBuf> = fs::read_dir(&packages)
        .map_err(|e| io(&packages, &e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for path in entries {
        let Some(filename) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if filename.starts_with('.') || project_of_filename(filename).as_deref() != Some(name) {
            continue;
        }
        let dist = Distribution::read(&path)?;
        files.push(PageFile {
            url: format!("../../packages/{filename}"),
            filename: filename.to_string(),
            sha256: dist.digests.sha256.clone(),
            requires_python: dist.metadata.requires_python().map(str::to_string),
            size: dist.digests.size,
            version: dist.metadata.version().to_string(),
        });
    }
    let dir = root.join("simple").join(name);
    fs::create_dir_all(&dir).map_err(|e| io(&dir, &e))?;
    write_atomic(
        &dir.join("index.html"),
        project_html(name, &files).as_bytes(),
    )?;
    write_atomic(
        &dir.join("index.json"),
        project_json(name, &files).as_bytes(),
    )?;
    Ok(files)
}

/// Rewrites `simple/index.{html,json}` listing every project folder under `simple/`.
pub fn regenerate_root(root: &Path) -> Result<Vec<String>, StageError> {
    let simple = root.join("simple");
    fs::create_dir_all(&simple).map_err(|e| io(&simple, &e))?;
    let mut names: Vec<String> = fs::read_dir(&simple)
        .map_err(|e| io(&simple, &e))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("index.html").is_file())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect();
    names.sort();
    write_atomic(&simple.join("index.html"), root_html(&names).as_bytes())?;
    write_atomic(&simple.join("index.json"), root_json(&names).as_bytes())?;
    Ok(names)
}

/// Checks that the repository's simple page lists each `(project name, file)` with its
/// sha256 (the same check as [`crate::index::Index::verify`], on the written HTML).
pub fn verify(root: &Path, files: &[(String, FileReport)]) -> Result<(), StageError> {
    let mut problems = Vec::new();
    for (name, f) in files {
        let page = root
            .join("simple")
            .join(crate::normalize_name(name))
            .join("index.html");
        let html = fs::read_to_string(&page).map_err(|e| io(&page, &e))?;
        let listed = parse_html(&html);
        match listed.iter().find(|l| l.filename == f.filename) {
            Some(l) if l.sha256.as_deref() == Some(f.sha256.as_str()) => {}
            Some(_) => problems.push(format!("{} is listed with another sha256", f.filename)),
            None => problems.push(format!("{} is not listed", f.filename)),
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(StageError::new(
            Category::Upload,
            format!(
                "verification of {} failed: {}",
                root.display(),
                problems.join("; ")
            ),
        ))
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StageError> {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, bytes).map_err(|e| io(&tmp, &e))?;
    fs::rename(&tmp, path).map_err(|e| io(path, &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_names_from_filenames() {
        assert_eq!(
            project_of_filename("My_Pkg-1.0-py3-none-any.whl").as_deref(),
            Some("my-pkg")
        );
        assert_eq!(
            project_of_filename("my.pkg-1.0.tar.gz").as_deref(),
            Some("my-pkg")
        );
        assert_eq!(project_of_filename("x.zip"), None);
    }
}
