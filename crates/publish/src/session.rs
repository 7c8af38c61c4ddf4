//! The uploader as a session: begin → add each file → publish or abandon, the shape of
//! PEP 694 (Upload 2.0, draft), so that a backend that publishes atomically can be added
//! without touching the upload stage.
//!
//! Backends today:
//! - [`LegacySession`]: PyPI's legacy upload API ([`Index`]). Each file is public as soon
//!   as it is added (one POST per file, no way to take it back), which is why the upload
//!   stage runs the [`crate::preflight`] first.
//! - [`FolderSession`]: a `file:` repository; files are staged and published together.

use std::path::Path;

use airlock_stage::StageError;
use serde_json::Value;

use crate::attestation::ServedProvenance;
use crate::dist::Distribution;
use crate::folder::{self, FolderSession};
use crate::index::{FileReport, Index};
use crate::simple::ProjectPage;

/// One release's upload to one repository.
pub trait UploadSession {
    /// The project page of `name` as the repository has it now (files with sha256, PEP 792
    /// status), for the pre-flight. Errors: the repository cannot be read.
    fn project_page(&mut self, name: &str) -> Result<ProjectPage, StageError>;

    /// Adds `dist`, read from `path`, with its PEP 740 `attestations` (attestation
    /// objects, checked by [`crate::preflight::attestations`]; empty for none);
    /// `progress(sent, total)` reports body bytes. Errors: the backend's (see
    /// [`Index::upload_attested`], [`FolderSession::add_attested`]).
    fn add(
        &mut self,
        dist: &Distribution,
        path: &Path,
        attestations: &[Value],
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<FileReport, StageError>;

    /// True when an added file is public at once, so an abandoned session leaves the files
    /// added so far on the index (the legacy API); false when nothing is public before
    /// [`UploadSession::publish`].
    fn public_on_add(&self) -> bool;

    /// Makes the added files public (where they are not yet) and, with `verify`, checks
    /// that the repository lists each of `files` (`(project name, report)`) with its
    /// sha256 and, for the files added with attestations, serves them back as their PEP
    /// 740 provenance ([`Index::verify_attested`], [`folder::verify_provenance`]).
    ///
    /// Returns [`Provenances`] (empty without `verify`). Errors: the backend's, or the
    /// verification's.
    fn publish(
        self: Box<Self>,
        files: &[(String, FileReport)],
        verify: bool,
    ) -> Result<Provenances, StageError>;

    /// Gives up: takes back whatever is not public yet.
    fn abandon(self: Box<Self>);
}

/// What publishing found of the attestations sent: for each file added with attestations,
/// `(file name, Some(what the repository serves))`, or `None` when the repository lists no
/// provenance for it (an index that ignores attestations; a warning was logged).
pub type Provenances = Vec<(String, Option<ServedProvenance>)>;

/// The legacy upload API as a session: `add` is the upload, `publish` the verification.
pub struct LegacySession<'t> {
    /// The index files are uploaded to.
    pub index: Index<'t>,
}

impl UploadSession for LegacySession<'_> {
    fn project_page(&mut self, name: &str) -> Result<ProjectPage, StageError> {
        self.index.page_cached(name).cloned()
    }

    fn add(
        &mut self,
        dist: &Distribution,
        path: &Path,
        attestations: &[Value],
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<FileReport, StageError> {
        self.index
            .upload_attested(dist, path, attestations, progress)
    }

    fn public_on_add(&self) -> bool {
        true
    }

    fn publish(
        mut self: Box<Self>,
        files: &[(String, FileReport)],
        verify: bool,
    ) -> Result<Provenances, StageError> {
        if verify {
            return self.index.verify_attested(files);
        }
        Ok(Vec::new())
    }

    fn abandon(self: Box<Self>) {}
}

impl UploadSession for FolderSession {
    fn project_page(&mut self, name: &str) -> Result<ProjectPage, StageError> {
        folder::project_page(self.root(), name)
    }

    fn add(
        &mut self,
        dist: &Distribution,
        path: &Path,
        attestations: &[Value],
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<FileReport, StageError> {
        let r = FolderSession::add_attested(self, dist, path, attestations)?;
        progress(dist.digests.size, dist.digests.size);
        Ok(r)
    }

    fn public_on_add(&self) -> bool {
        false
    }

    fn publish(
        self: Box<Self>,
        files: &[(String, FileReport)],
        verify: bool,
    ) -> Result<Provenances, StageError> {
        let root = self.root().to_path_buf();
        let attested: Vec<(String, String, Vec<Value>)> = self
            .attested()
            .iter()
            .filter_map(|(filename, atts)| {
                files
                    .iter()
                    .find(|(_, r)| r.filename == *filename)
                    .map(|(name, _)| (name.clone(), filename.clone(), atts.clone()))
            })
            .collect();
        FolderSession::publish(*self)?;
        if verify {
            folder::verify(&root, files)?;
            return folder::verify_provenance(&root, &attested);
        }
        Ok(Vec::new())
    }

    fn abandon(self: Box<Self>) {
        FolderSession::abandon(*self)
    }
}
