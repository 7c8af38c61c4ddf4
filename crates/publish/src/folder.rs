//! A `file:` repository: a folder that serves as a static simple index.
//!
//! Layout under the repository folder `ROOT`:
//! - `packages/<filename>`: the distribution files;
//! - `simple/index.html` and `simple/index.json`: the project list (PEP 503 / PEP 691);
//! - `simple/<normalized-name>/index.html` and `index.json`: each project's files, linked as
//!   `../../packages/<filename>#sha256=<hex>` with `data-requires-python` (HTML-escaped);
//! - `packages/<filename>.provenance`: the PEP 740 provenance of a file published with
//!   attestations (the shape of warehouse's integrity API, `{"version": 1,
//!   "attestation_bundles": [{"publisher", "attestations"}]}`), linked from its project page
//!   as PEP 740 says: `data-provenance="../../packages/<filename>.provenance"` on the HTML
//!   anchor and `"provenance"` on the JSON file object. pip ignores both.
//!
//! `pip install --index-url file:///ABS/ROOT/simple NAME` installs from it (pip reads
//! `index.html` of a `file:` directory URL). A file already there with the same sha256 is
//! skipped; with a different one it is an error, and the file is never overwritten.

use std::fs;
use std::path::{Path, PathBuf};

use airlock_stage::{Category, StageError};
use serde_json::Value;

use crate::attestation::{self, ServedProvenance};

use crate::dist::{DistKind, Distribution, digest_file};
use crate::index::{FileReport, FileStatus};
use crate::simple::{
    ListedFile, PageFile, ProjectPage, parse_html, project_html, project_json, root_html, root_json,
};
use airlock_pypkg::filename::DistFilename;

fn io(path: &Path, e: &std::io::Error) -> StageError {
    StageError::io(&path.display().to_string(), e)
}

/// Copies `src` (whose contents `dist` describes) into the repository at `root` and
/// regenerates the simple pages of its project and the project list: a [`FolderSession`]
/// of one file.
///
/// Errors: [`Category::Upload`] when a file of that name with another sha256 is there; I/O
/// errors via [`StageError::io`] (in the sandbox: a path not granted).
pub fn publish(root: &Path, src: &Path, dist: &Distribution) -> Result<FileReport, StageError> {
    let mut session = FolderSession::begin(root);
    let report = session.add(dist, src)?;
    session.publish()?;
    Ok(report)
}

/// A release published to a folder whole or not at all (the shape of a PEP 694 session):
/// [`FolderSession::add`] copies each file beside its final place as a hidden `.part`,
/// [`FolderSession::publish`] renames them all into `packages/` and then rewrites the
/// simple pages, [`FolderSession::abandon`] removes the `.part` files. Until `publish`,
/// nothing is listed; a reader of the index sees the release before or after, never half.
pub struct FolderSession {
    root: PathBuf,
    /// `(part, destination, normalized project name)` of each file added.
    staged: Vec<(PathBuf, PathBuf, String)>,
    /// `(file name, attestations)` of each file added with attestations.
    attested: Vec<(String, Vec<Value>)>,
    /// The publisher written into provenance files.
    publisher: Option<Value>,
}

impl FolderSession {
    /// A session on the repository at `root` (nothing is written yet).
    pub fn begin(root: &Path) -> Self {
        FolderSession {
            root: root.to_path_buf(),
            staged: Vec::new(),
            attested: Vec::new(),
            publisher: None,
        }
    }

    /// Sets the publisher object written into each provenance file's bundle (PEP 740's
    /// `publisher`, e.g. `{"kind": "GitHub", "repository": "owner/repo", "workflow":
    /// "release.yml", "environment": "pypi"}`, from the attestations' signing certificate);
    /// `None` (the default): `null`, unknown.
    pub fn with_publisher(mut self, publisher: Option<Value>) -> Self {
        self.publisher = publisher;
        self
    }

    /// The repository folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Stages `src` (described by `dist`): [`FileStatus::Skipped`] when `packages/` has the
    /// file with the same sha256, else copies it to a `.part` and checks its sha256
    /// ([`FileStatus::Uploaded`]: it will be published by [`FolderSession::publish`]).
    /// Errors: the file there with another sha256 ([`Category::Upload`]); `src` changed
    /// since it was digested ([`Category::Validation`]); I/O errors.
    pub fn add(&mut self, dist: &Distribution, src: &Path) -> Result<FileReport, StageError> {
        let packages = self.root.join("packages");
        fs::create_dir_all(&packages).map_err(|e| io(&packages, &e))?;
        let dest = packages.join(&dist.filename);
        if dest.exists() {
            let existing = digest_file(&dest)?;
            if existing.sha256 != dist.digests.sha256 {
                return Err(different(&self.root, dist, &existing.sha256));
            }
            return Ok(FileReport::of(dist, FileStatus::Skipped));
        }
        let part = packages.join(format!(".{}.part", dist.filename));
        fs::copy(src, &part).map_err(|e| io(&part, &e))?;
        if digest_file(&part)?.sha256 != dist.digests.sha256 {
            let _ = fs::remove_file(&part);
            return Err(StageError::validation(format!(
                "{} changed while it was being published",
                src.display()
            )));
        }
        self.staged.push((part, dest, dist.normalized_name()));
        Ok(FileReport::of(dist, FileStatus::Uploaded))
    }

    /// [`FolderSession::add`] with the file's PEP 740 `attestations` (checked by
    /// [`crate::preflight::attestations`]): when the file is staged and there are any,
    /// [`FolderSession::publish`] writes them as `packages/<filename>.provenance` (one
    /// bundle with the session's publisher) and lists it on the project page. A skipped file
    /// gets none (nothing was sent). Errors: as [`FolderSession::add`].
    pub fn add_attested(
        &mut self,
        dist: &Distribution,
        src: &Path,
        attestations: &[Value],
    ) -> Result<FileReport, StageError> {
        let mut report = self.add(dist, src)?;
        if report.status == FileStatus::Uploaded && !attestations.is_empty() {
            self.attested.retain(|(f, _)| *f != dist.filename);
            self.attested
                .push((dist.filename.clone(), attestations.to_vec()));
            report.attestations = attestations.len();
        }
        Ok(report)
    }

    /// The `(file name, attestations)` of each file added with attestations so far.
    pub fn attested(&self) -> &[(String, Vec<Value>)] {
        &self.attested
    }

    /// Moves every staged file into `packages/` and rewrites the pages of their projects
    /// and the project list. Errors: I/O errors (the files renamed so far stay).
    pub fn publish(mut self) -> Result<(), StageError> {
        let staged = std::mem::take(&mut self.staged);
        // Provenance first: a listed file never lacks the provenance it was published with.
        for (filename, attestations) in std::mem::take(&mut self.attested) {
            let path = provenance_path(&self.root, &filename);
            let body = attestation::provenance(&attestations, self.publisher.clone());
            let text = serde_json::to_string_pretty(&body).expect("serializable") + "\n";
            write_atomic(&path, text.as_bytes())?;
        }
        for (part, dest, _) in &staged {
            fs::rename(part, dest).map_err(|e| io(dest, &e))?;
        }
        let mut names: Vec<&str> = staged.iter().map(|(_, _, n)| n.as_str()).collect();
        names.sort();
        names.dedup();
        for name in names {
            regenerate_project(&self.root, name)?;
        }
        regenerate_root(&self.root)?;
        Ok(())
    }

    /// Removes every staged `.part`: the repository is as it was before the session.
    pub fn abandon(mut self) {
        for (part, _, _) in std::mem::take(&mut self.staged) {
            let _ = fs::remove_file(part);
        }
    }
}

impl Drop for FolderSession {
    /// A session dropped without [`FolderSession::publish`] is abandoned.
    fn drop(&mut self) {
        for (part, _, _) in std::mem::take(&mut self.staged) {
            let _ = fs::remove_file(part);
        }
    }
}

fn different(root: &Path, dist: &Distribution, sha256: &str) -> StageError {
    StageError::new(
        Category::Upload,
        format!(
            "{} is already in {} with different content (sha256 {sha256}, local {})",
            dist.filename,
            root.display(),
            dist.digests.sha256
        ),
    )
    .with_hint("a published file is never replaced: bump the version and build again")
}

/// The project page of `name` (any spelling) as the repository at `root` has it: every
/// file of the project in `packages/` with its sha256 (digested now), for the pre-flight.
/// A repository that does not exist yet has an empty page. Errors: I/O errors.
pub fn project_page(root: &Path, name: &str) -> Result<ProjectPage, StageError> {
    let name = crate::normalize_name(name);
    let packages = root.join("packages");
    let entries = match fs::read_dir(&packages) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ProjectPage::default()),
        Err(e) => return Err(io(&packages, &e)),
    };
    let mut files = Vec::new();
    for entry in entries.filter_map(|e| e.ok()) {
        let Some(filename) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if filename.starts_with('.') || project_of_filename(&filename).as_deref() != Some(&name) {
            continue;
        }
        files.push(ListedFile {
            url: format!("../../packages/{filename}"),
            sha256: Some(digest_file(&entry.path())?.sha256),
            filename,
            upload_time: None,
            provenance: None,
        });
    }
    files.sort_by(|a, b| a.filename.cmp(&b.filename));
    Ok(ProjectPage {
        files,
        status: None,
    })
}

/// The PEP 503 normalized project name a distribution file name starts with
/// (`{name}-{version}…`): a wheel's first `-` field, an sdist's part before the last `-`.
pub fn project_of_filename(filename: &str) -> Option<String> {
    DistKind::from_filename(filename)?;
    DistFilename::parse(filename).map(|f| f.project())
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
        let provenance = provenance_path(root, filename)
            .is_file()
            .then(|| provenance_url(filename));
        files.push(PageFile {
            provenance,
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

/// `packages/<filename>.provenance` under the repository at `root`: where the PEP 740
/// provenance of `filename` is kept.
pub fn provenance_path(root: &Path, filename: &str) -> PathBuf {
    root.join("packages").join(format!("{filename}.provenance"))
}

/// The provenance URL of `filename` as its project page links it:
/// `../../packages/<filename>.provenance` (relative to `simple/<name>/`).
pub fn provenance_url(filename: &str) -> String {
    format!("../../packages/{filename}.provenance")
}

/// Writes the provenance of `filename` (published before, or now) into the repository at
/// `root` as `packages/<filename>.provenance` (see [`attestation::provenance`]: one
/// bundle of `attestations` with `publisher`, `null` when unknown) and rewrites the page of
/// project `name` (normalized) to link it. For callers that attest a file already in the
/// repository; [`FolderSession::add_attested`] does this for new files. Errors: the file
/// is not in `packages/` ([`Category::Upload`]); I/O errors.
pub fn write_provenance(
    root: &Path,
    name: &str,
    filename: &str,
    attestations: &[Value],
    publisher: Option<Value>,
) -> Result<PathBuf, StageError> {
    if !root.join("packages").join(filename).is_file() {
        return Err(StageError::new(
            Category::Upload,
            format!("{filename} is not in {}", root.join("packages").display()),
        ));
    }
    let path = provenance_path(root, filename);
    let body = attestation::provenance(attestations, publisher);
    let text = serde_json::to_string_pretty(&body).expect("serializable") + "\n";
    write_atomic(&path, text.as_bytes())?;
    regenerate_project(root, &crate::normalize_name(name))?;
    Ok(path)
}

/// Checks, for each `(project name, file name, attestations sent)`, that the project page
/// of the repository at `root` links a provenance for the file (`data-provenance`) and
/// that the linked file holds exactly those attestations. Returns what is served, per file.
/// Errors: [`Category::Upload`] naming each file whose provenance is missing or differs;
/// I/O errors.
pub fn verify_provenance(
    root: &Path,
    files: &[(String, String, Vec<Value>)],
) -> Result<Vec<(String, Option<ServedProvenance>)>, StageError> {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for (name, filename, sent) in files {
        let page = root
            .join("simple")
            .join(crate::normalize_name(name))
            .join("index.html");
        let html = fs::read_to_string(&page).map_err(|e| io(&page, &e))?;
        let Some(href) = parse_html(&html)
            .into_iter()
            .find(|l| l.filename == *filename)
            .and_then(|l| l.provenance)
        else {
            problems.push(format!("{filename} is listed without its provenance"));
            continue;
        };
        let path = provenance_path(root, filename);
        let body = fs::read(&path).map_err(|e| io(&path, &e))?;
        match attestation::check_served(filename, &href, sent, attestation::parse_provenance(&body))
        {
            Ok(p) => out.push((filename.clone(), Some(p))),
            Err(why) => problems.push(why),
        }
    }
    if problems.is_empty() {
        Ok(out)
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

    #[test]
    fn a_file_published_with_attestations_gets_a_pep_740_provenance() {
        use crate::attestation::tests::attestation;
        use crate::session::UploadSession;
        let fixtures = airlock_test_support::fixtures();
        let (wheel, sdist) = (
            fixtures.join(airlock_test_support::MYPYLOGGER_WHEEL),
            fixtures.join(airlock_test_support::MYPYLOGGER_SDIST),
        );
        let (w, s) = (
            Distribution::read(&wheel).unwrap(),
            Distribution::read(&sdist).unwrap(),
        );
        let att = attestation(
            &w.filename,
            &w.digests.sha256,
            crate::attestation::PUBLISH_V1,
        );
        let root = tempfile::tempdir().unwrap();
        // Not a GitHub or GitLab publisher: those are compared with the signing certificate,
        // which this placeholder attestation lacks (attestation::tests::publishers_are_the_signers).
        let publisher = serde_json::json!({ "kind": "Google", "email": "ci@example.com" });
        let mut session: Box<dyn UploadSession> =
            Box::new(FolderSession::begin(root.path()).with_publisher(Some(publisher.clone())));
        let rw = session
            .add(&w, &wheel, std::slice::from_ref(&att), &mut |_, _| {})
            .unwrap();
        assert_eq!(rw.attestations, 1);
        let rs = session.add(&s, &sdist, &[], &mut |_, _| {}).unwrap();
        assert_eq!(rs.attestations, 0);
        let files = vec![
            ("mypylogger".to_string(), rw),
            ("mypylogger".to_string(), rs),
        ];
        let served = session.publish(&files, true).unwrap();
        assert_eq!(served.len(), 1, "{served:?}");
        let (name, p) = &served[0];
        assert_eq!(*name, w.filename);
        let p = p.as_ref().unwrap();
        assert_eq!(p.url, format!("../../packages/{}.provenance", w.filename));
        assert_eq!(p.publisher, publisher);

        // The provenance file holds the integrity API's shape.
        let body: serde_json::Value =
            serde_json::from_slice(&fs::read(provenance_path(root.path(), &w.filename)).unwrap())
                .unwrap();
        assert_eq!(body["version"], 1);
        assert_eq!(body["attestation_bundles"][0]["attestations"][0], att);
        assert_eq!(body["attestation_bundles"][0]["publisher"], publisher);
        assert!(!provenance_path(root.path(), &s.filename).exists());

        // HTML: data-provenance on the wheel's anchor only; JSON: `provenance`.
        let page = root.path().join("simple/mypylogger");
        let html = fs::read_to_string(page.join("index.html")).unwrap();
        assert!(
            html.contains(&format!(
                "data-provenance=\"../../packages/{}.provenance\"",
                w.filename
            )),
            "{html}"
        );
        let listed = parse_html(&html);
        assert_eq!(
            listed.len(),
            2,
            "the .provenance file is not a distribution"
        );
        let of = |f: &str| {
            listed
                .iter()
                .find(|l| l.filename == f)
                .unwrap()
                .provenance
                .clone()
        };
        assert_eq!(of(&w.filename), Some(provenance_url(&w.filename)));
        assert_eq!(of(&s.filename), None);
        let json: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(page.join("index.json")).unwrap()).unwrap();
        let jf = json["files"].as_array().unwrap();
        let wf = jf
            .iter()
            .find(|f| f["filename"] == w.filename.as_str())
            .unwrap();
        assert_eq!(wf["provenance"], provenance_url(&w.filename).as_str());
        let sf = jf
            .iter()
            .find(|f| f["filename"] == s.filename.as_str())
            .unwrap();
        assert!(sf.get("provenance").is_none());
        assert_eq!(
            project_page(root.path(), "mypylogger").unwrap().files.len(),
            2
        );

        // A provenance that no longer holds what was published fails verification.
        write_provenance(root.path(), "mypylogger", &w.filename, &[], None).unwrap();
        let e = verify_provenance(
            root.path(),
            &[("mypylogger".into(), w.filename.clone(), vec![att])],
        )
        .unwrap_err();
        assert!(e.message.contains(&w.filename), "{}", e.message);
        assert_eq!(e.category, Category::Upload);
    }
}
