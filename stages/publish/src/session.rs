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

use crate::dist::Distribution;
use crate::folder::{self, FolderSession};
use crate::index::{FileReport, Index};
use crate::simple::ProjectPage;

/// One release's upload to one repository.
pub trait UploadSession {
    /// The project page of `name` as the repository has it now (files with sha256, PEP 792
    /// status), for the pre-flight. Errors: the repository cannot be read.
    fn project_page(&mut self, name: &str) -> Result<ProjectPage, StageError>;

    /// Adds `dist`, read from `path`; `progress(sent, total)` reports body bytes. Errors:
    /// the backend's (see [`Index::upload`], [`FolderSession::add`]).
    fn add(
        &mut self,
        dist: &Distribution,
        path: &Path,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<FileReport, StageError>;

    /// True when an added file is public at once, so an abandoned session leaves the files
    /// added so far on the index (the legacy API); false when nothing is public before
    /// [`UploadSession::publish`].
    fn public_on_add(&self) -> bool;

    /// Makes the added files public (where they are not yet) and, with `verify`, checks
    /// that the repository lists each of `files` (`(project name, report)`) with its
    /// sha256. Errors: the backend's, or [`crate::index::Index::verify`]'s.
    fn publish(
        self: Box<Self>,
        files: &[(String, FileReport)],
        verify: bool,
    ) -> Result<(), StageError>;

    /// Gives up: takes back whatever is not public yet.
    fn abandon(self: Box<Self>);
}

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
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<FileReport, StageError> {
        self.index.upload(dist, path, progress)
    }

    fn public_on_add(&self) -> bool {
        true
    }

    fn publish(
        mut self: Box<Self>,
        files: &[(String, FileReport)],
        verify: bool,
    ) -> Result<(), StageError> {
        if verify {
            self.index.verify(files)?;
        }
        Ok(())
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
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<FileReport, StageError> {
        let r = FolderSession::add(self, dist, path)?;
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
    ) -> Result<(), StageError> {
        let root = self.root().to_path_buf();
        FolderSession::publish(*self)?;
        if verify {
            folder::verify(&root, files)?;
        }
        Ok(())
    }

    fn abandon(self: Box<Self>) {
        FolderSession::abandon(*self)
    }
}
