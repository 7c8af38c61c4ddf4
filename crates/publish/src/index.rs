//! Uploading to an index over HTTP: the legacy upload API with retries, skip-identical and
//! verification through the simple API.

use std::path::Path;
use std::time::{Duration, SystemTime};

use airlock_stage::http::{Part, Request, Response, Timeouts, Transport};
use airlock_stage::{Category, StageError};
use serde::{Deserialize, Serialize};

use crate::answer::{Answer, classify};
use crate::attestation::{self, ServedProvenance};
use crate::dist::Distribution;
use crate::form::{Multipart, upload_fields};
use crate::retry::RetryPolicy;
use crate::simple::{ACCEPT, ListedFile, ProjectPage, parse_project_page, project_url};

/// The `User-Agent` sent. It does not say "twine" on purpose: pypiserver answers a duplicate
/// with 400 instead of 409 for twine.
pub const USER_AGENT: &str = concat!("airlock/", env!("CARGO_PKG_VERSION"));

/// What happened to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileStatus {
    /// Sent (or written) now.
    Uploaded,
    /// The repository already had this file with the same sha256 (`"skipped-identical"`).
    #[serde(rename = "skipped-identical", alias = "skipped")]
    Skipped,
    /// `dry_run`: everything was checked and the file would be uploaded (`"would-upload"`).
    #[serde(rename = "would-upload")]
    WouldUpload,
}

/// The report of one file, as the upload stage outputs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileReport {
    /// File name.
    pub filename: String,
    /// sha256, lowercase hex.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// Uploaded or skipped.
    pub status: FileStatus,
    /// How many PEP 740 attestations were sent with it (the upload form's `attestations`
    /// field; 0 when none, or when it was skipped; for a dry run, how many would be).
    #[serde(default)]
    pub attestations: usize,
    /// What the repository serves of those attestations after the upload (checked equal to
    /// what was sent), when it lists a provenance for the file; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<ServedProvenance>,
}

impl FileReport {
    /// The report of `dist` with `status`.
    pub fn of(dist: &Distribution, status: FileStatus) -> Self {
        FileReport {
            filename: dist.filename.clone(),
            sha256: dist.digests.sha256.clone(),
            size: dist.digests.size,
            status,
            attestations: 0,
            provenance: None,
        }
    }
}

/// An index reached through a [`Transport`].
pub struct Index<'t> {
    /// Where uploads are POSTed.
    pub upload_url: String,
    /// The simple index base, ending with `/`.
    pub simple_url: String,
    /// Retry policy for uploads.
    pub policy: RetryPolicy,
    /// Timeouts of every request.
    pub timeouts: Timeouts,
    transport: &'t mut dyn Transport,
    sleep: Box<dyn FnMut(Duration) + 't>,
    /// Simple pages read by [`Index::page_cached`], by normalized project name.
    cache: std::collections::HashMap<String, ProjectPage>,
    /// The attestations sent with each file stored through [`Index::upload_attested`], by
    /// file name, for [`Index::verify_attested`].
    sent: Vec<(String, Vec<serde_json::Value>)>,
}

impl<'t> Index<'t> {
    /// An index at `upload_url` / `simple_url` (see [`crate::Repository::Http`]) with the
    /// default [`RetryPolicy`], sleeping with `std::thread::sleep` between retries.
    pub fn new(upload_url: &str, simple_url: &str, transport: &'t mut dyn Transport) -> Self {
        Index {
            upload_url: upload_url.to_string(),
            simple_url: simple_url.to_string(),
            policy: RetryPolicy::default(),
            timeouts: Timeouts::default(),
            transport,
            sleep: Box::new(std::thread::sleep),
            cache: Default::default(),
            sent: Vec::new(),
        }
    }

    /// Replaces the sleep between retries (tests record instead of sleeping).
    pub fn with_sleep(mut self, sleep: impl FnMut(Duration) + 't) -> Self {
        self.sleep = Box::new(sleep);
        self
    }

    /// Replaces the timeouts of every request.
    pub fn with_timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Replaces the retry policy.
    pub fn with_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The project page of `name` (any spelling; it is normalized) on the simple index:
    /// its files and PEP 792 status. A 404 is an empty page. Transport errors and
    /// 408/429/5xx are retried per [`Index::policy`] (a GET is safe to repeat). Errors:
    /// transport errors once retries are spent (retryable [`Category::Network`], "gave up
    /// after N attempts"); 401/403 as [`Category::Authentication`]; other non-200 answers as
    /// [`Category::Upload`].
    pub fn project_page(&mut self, name: &str) -> Result<ProjectPage, StageError> {
        let policy = self.policy.clone();
        self.project_page_with(name, &policy)
    }

    /// [`Index::project_page`] with the GET retried per `policy` instead.
    fn project_page_with(
        &mut self,
        name: &str,
        policy: &RetryPolicy,
    ) -> Result<ProjectPage, StageError> {
        let url = project_url(&self.simple_url, name);
        let resp = self.get(&url, ACCEPT, policy)?;
        match resp.status {
            200 => parse_project_page(
                resp.header("content-type").unwrap_or("text/html"),
                &resp.body,
            )
            .map_err(|e| StageError::new(Category::Upload, format!("{url}: {e}"))),
            404 => Ok(ProjectPage::default()),
            401 | 403 => Err(StageError::new(
                Category::Authentication,
                format!("the simple index {url} refused access: {}", resp.status),
            )
            .with_hint("grant the simple index's origin a credential too, or set verify = false")),
            s => Err(StageError::new(
                Category::Upload,
                format!(
                    "the simple index {url} answered {s}: {}",
                    crate::answer::server_message(&resp.body)
                ),
            )
            .with_hint("check the `simple` URL in the upload stage's config")),
        }
    }

    /// GETs `url` with `accept`, retrying transport errors and 408/429/5xx per `policy`
    /// (a GET is safe to repeat). Returns any other answer. Errors: transport errors once
    /// retries are spent (retryable [`Category::Network`]).
    fn get(
        &mut self,
        url: &str,
        accept: &str,
        policy: &RetryPolicy,
    ) -> Result<Response, StageError> {
        let req = Request::get(url)
            .header("accept", accept)
            .header("user-agent", USER_AGENT)
            .with_timeouts(self.timeouts);
        crate::retry::send_retrying(
            &mut *self.transport,
            &req,
            policy,
            &format!("the index ({url})"),
            &mut *self.sleep,
        )
    }

    /// The files the simple index lists for project `name` ([`Index::project_page`]'s).
    pub fn project_files(&mut self, name: &str) -> Result<Vec<ListedFile>, StageError> {
        self.project_page(name).map(|p| p.files)
    }

    /// [`Index::project_page`] read once per `Index` and project (the pre-flight of several
    /// files of one project costs one request). Files uploaded through this `Index` since
    /// are not in the cached page; that is fine for planning the others.
    pub fn page_cached(&mut self, name: &str) -> Result<&ProjectPage, StageError> {
        let key = crate::normalize_name(name);
        if !self.cache.contains_key(&key) {
            let page = self.project_page(&key)?;
            self.cache.insert(key.clone(), page);
        }
        Ok(&self.cache[&key])
    }

    /// The cached page's entry for `dist`'s file name (see [`Index::page_cached`]).
    pub fn lookup_cached(&mut self, dist: &Distribution) -> Result<Option<ListedFile>, StageError> {
        Ok(self
            .page_cached(&dist.normalized_name())?
            .files
            .iter()
            .find(|f| f.filename == dist.filename)
            .cloned())
    }

    /// The simple index's entry for `dist`'s file name, if listed (read now).
    pub fn lookup(&mut self, dist: &Distribution) -> Result<Option<ListedFile>, StageError> {
        Ok(self
            .project_files(dist.metadata.name())?
            .into_iter()
            .find(|f| f.filename == dist.filename))
    }

    /// Uploads `dist` (read from `path`) through the legacy upload API.
    ///
    /// Transport errors and 408/429/5xx are retried per [`Index::policy`] (honouring
    /// `Retry-After`); before each retry the simple index is checked, so an upload whose
    /// answer was lost is reported uploaded and not sent twice. A duplicate answer (409, or
    /// 400 "already exists") is resolved through the simple index: same sha256 →
    /// [`FileStatus::Skipped`], different → a [`Category::Upload`] error. `progress(sent,
    /// total)` reports body bytes. The file is streamed from `path` on every attempt (see
    /// [`Index::upload_request`]); memory use does not grow with its size.
    pub fn upload(
        &mut self,
        dist: &Distribution,
        path: &Path,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<FileReport, StageError> {
        self.upload_attested(dist, path, &[], progress)
    }

    /// [`Index::upload`] with the PEP 740 `attestations` of the file (attestation objects,
    /// checked by [`crate::preflight::attestations`]) sent as the form field
    /// `attestations` (a compact JSON array; left out when there are none), as uv-publish
    /// and warehouse's forklift expect. A stored file's report counts them
    /// ([`FileReport::attestations`]) and [`Index::verify_attested`] checks them afterwards;
    /// a file skipped as identical sent none. Errors: as [`Index::upload`]; an index that
    /// refuses the attestations answers 400 ("Invalid attestations supplied during upload:
    /// …"), a [`Category::Upload`] error carrying its words.
    pub fn upload_attested(
        &mut self,
        dist: &Distribution,
        path: &Path,
        attestations: &[serde_json::Value],
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<FileReport, StageError> {
        let req = self.upload_request_attested(dist, path, attestations)?;
        let stored = |index: &mut Self| {
            if !attestations.is_empty() {
                index.sent.retain(|(f, _)| *f != dist.filename);
                index
                    .sent
                    .push((dist.filename.clone(), attestations.to_vec()));
            }
            FileReport {
                attestations: attestations.len(),
                ..FileReport::of(dist, FileStatus::Uploaded)
            }
        };
        let mut retry = 0u32;
        loop {
            let (err, retry_after) = match self.transport.send(&req, progress) {
                Ok(resp) => {
                    match classify(&self.upload_url, &dist.filename, &resp, SystemTime::now()) {
                        Answer::Stored => return Ok(stored(self)),
                        Answer::AlreadyExists { message } => {
                            return self.resolve_existing(dist, &message);
                        }
                        Answer::Fail(e) => return Err(e),
                        Answer::Retry {
                            status,
                            retry_after,
                            message,
                        } => (
                            StageError::new(
                                Category::Network,
                                format!(
                                    "{} answered {status} to the upload of {}: {message}",
                                    self.upload_url, dist.filename
                                ),
                            )
                            .retryable(true),
                            retry_after,
                        ),
                    }
                }
                Err(e) if e.retryable && e.category == Category::Network => (e, None),
                Err(e) => return Err(e),
            };
            self.back_off(retry, err, retry_after)?;
            retry += 1;
            // The previous attempt may have stored the file with its answer lost. One look,
            // not retried itself: the upload's own retries already wait for the index.
            let once = RetryPolicy {
                retries: 0,
                ..self.policy.clone()
            };
            let listed = self
                .project_page_with(dist.metadata.name(), &once)
                .map(|p| p.files.into_iter().find(|f| f.filename == dist.filename));
            if let Ok(Some(listed)) = listed {
                self.compare(dist, &listed, "")?;
                return Ok(stored(self));
            }
        }
    }

    /// After failed attempt `retry` (0-based) with `err`: waits as [`Index::policy`] says
    /// (honouring the answer's `retry_after`), saying so, or gives up with `err` marked
    /// "gave up after N attempts" (retries spent) or "asked to wait … longer than allowed".
    fn back_off(
        &mut self,
        retry: u32,
        err: StageError,
        retry_after: Option<Duration>,
    ) -> Result<(), StageError> {
        let spent = retry >= self.policy.retries;
        crate::retry::back_off(&self.policy, retry, err, retry_after, &mut *self.sleep).map_err(
            |e| {
                e.with_hint(if spent {
                    "the index or the network is failing; run the stage again later, or raise `retry.retries`"
                } else {
                    "run the stage again later, or raise `retry.max_retry_after_s`"
                })
            },
        )
    }

    /// The upload POST for `dist` read from `path`: the form's text fields in memory, the
    /// file streamed from disk at send time ([`Part::File`]), so memory stays bounded
    /// whatever the file's size and each retry re-reads the file. Errors: the file's size
    /// differs from when it was digested ([`Category::Validation`]); I/O errors.
    ///
    /// The multipart boundary carries a 64-bit random nonce (see
    /// [`Multipart::boundary_for`]), so the chance that it occurs in the file is about
    /// `size / 2^64`; the file is not scanned for it (that would read it once more).
    pub fn upload_request(&self, dist: &Distribution, path: &Path) -> Result<Request, StageError> {
        self.upload_request_attested(dist, path, &[])
    }

    /// [`Index::upload_request`] with the form field `attestations` (the JSON array of
    /// `attestations`, compact, before the file part) when there are any
    /// ([`attestation::form_field`]). Errors: as [`Index::upload_request`].
    pub fn upload_request_attested(
        &self,
        dist: &Distribution,
        path: &Path,
        attestations: &[serde_json::Value],
    ) -> Result<Request, StageError> {
        let shown = path.display().to_string();
        let len = std::fs::metadata(path)
            .map_err(|e| StageError::io(&shown, &e))?
            .len();
        if len != dist.digests.size {
            return Err(StageError::validation(format!(
                "{shown} changed while it was being published ({len} bytes, {} when digested)",
                dist.digests.size
            ))
            .with_hint("nothing should modify dist/ between build and upload; rebuild"));
        }
        let mut fields = upload_fields(dist);
        if let Some(json) = attestation::form_field(attestations) {
            fields.push(("attestations".into(), json));
        }
        let form = Multipart::new(
            &fields,
            &dist.filename,
            &Multipart::boundary_for(&dist.digests.sha256),
        );
        Ok(
            Request::post(&self.upload_url, &form.content_type(), form.head.clone())
                .header("user-agent", USER_AGENT)
                .part(Part::File {
                    path: path.to_path_buf(),
                    len,
                })
                .part(Part::Bytes(form.tail.clone()))
                .with_timeouts(self.timeouts),
        )
    }

    /// After a duplicate answer: same sha256 on the index → skipped; different → error.
    fn resolve_existing(
        &mut self,
        dist: &Distribution,
        message: &str,
    ) -> Result<FileReport, StageError> {
        match self.lookup(dist) {
            Ok(Some(listed)) => self.compare(dist, &listed, message).map(|_| FileReport::of(dist, FileStatus::Skipped)),
            Ok(None) => Err(StageError::new(
                Category::Upload,
                format!(
                    "{} says {} already exists ({message}) but its simple index {} does not list it",
                    self.upload_url, dist.filename, self.simple_url
                ),
            )
            .with_hint("a file name can never be reused, even after deletion (PyPI); bump the version, or set `simple` to the index's simple URL")),
            Err(e) => Err(StageError {
                message: format!("{} already exists on the index and checking its digest failed: {}", dist.filename, e.message),
                ..e
            }),
        }
    }

    /// Compares `dist` with the index's `listed` entry of the same file name: `Ok` for the
    /// same sha256; a [`Category::Upload`] error for another one (`message`: the server's
    /// words, if any) or when the index gives no digest.
    pub fn compare(
        &self,
        dist: &Distribution,
        listed: &ListedFile,
        message: &str,
    ) -> Result<(), StageError> {
        match &listed.sha256 {
            Some(h) if *h == dist.digests.sha256 => Ok(()),
            Some(h) => Err(StageError::new(
                Category::Upload,
                format!(
                    "{} is already on the index with different content (index sha256 {h}, local {}){}",
                    dist.filename,
                    dist.digests.sha256,
                    if message.is_empty() { String::new() } else { format!(": {message}") }
                ),
            )
            .with_hint("a published file is never replaced: bump the version and build again")),
            None => Err(StageError::new(
                Category::Upload,
                format!("{} is already on the index, which gives no sha256 to compare with", dist.filename),
            )
            .with_hint("check the file by hand; the index's simple pages should carry #sha256= digests")),
        }
    }

    /// Checks that the simple index lists every file of `files` (with each project's `name`)
    /// with its sha256. Errors: [`Category::Upload`] naming the missing or different files.
    pub fn verify(&mut self, files: &[(String, FileReport)]) -> Result<(), StageError> {
        self.verify_pages(files).map(|_| ())
    }

    /// [`Index::verify`], then PEP 740: for each file of `files` that
    /// [`Index::upload_attested`] stored with attestations, the provenance URL its simple
    /// page lists (JSON `provenance`, HTML `data-provenance`; resolved against the page) is
    /// read through the same [`Transport`] (Accept [`attestation::PROVENANCE_ACCEPT`],
    /// retried like a page) and its `attestation_bundles[*].attestations` must hold exactly
    /// what was sent ([`attestation::same_attestations`]), and its publisher must be the
    /// identity that signed them ([`attestation::check_publisher`]). When the page lists no
    /// provenance for such files, a warning names the index and the files: it published
    /// them without attestations (pypiserver ignores the field).
    ///
    /// Returns, per file sent with attestations, `(file name, Some(what is served))`, or
    /// `None` when the index lists no provenance. Errors: [`Index::verify`]'s; a provenance
    /// that cannot be read or parsed, or that differs from what was sent
    /// ([`Category::Upload`], naming the file).
    pub fn verify_attested(
        &mut self,
        files: &[(String, FileReport)],
    ) -> Result<Vec<(String, Option<ServedProvenance>)>, StageError> {
        let pages = self.verify_pages(files)?;
        let mut out = Vec::new();
        let mut unlisted = Vec::new();
        let mut problems = Vec::new();
        let sent = std::mem::take(&mut self.sent);
        for (name, f) in files {
            let Some((_, attestations)) = sent.iter().find(|(n, _)| *n == f.filename) else {
                continue;
            };
            let page_url = project_url(&self.simple_url, name);
            let listed = pages
                .iter()
                .find(|(n, _)| n == name)
                .and_then(|(_, l)| l.iter().find(|l| l.filename == f.filename));
            let Some(href) = listed.and_then(|l| l.provenance.clone()) else {
                unlisted.push(f.filename.clone());
                out.push((f.filename.clone(), None));
                continue;
            };
            let url = attestation::resolve_url(&page_url, &href);
            let served = self.served_provenance(&url);
            match attestation::check_served(&f.filename, &url, attestations, served) {
                Ok(p) => out.push((f.filename.clone(), Some(p))),
                Err(why) => problems.push(why),
            }
        }
        self.sent = sent;
        if !unlisted.is_empty() {
            airlock_stage::host::warn(&format!(
                "the index {} lists no provenance for {}: its files were published without attestations (the index ignores the upload's `attestations` field, as pypiserver does)",
                self.simple_url,
                unlisted.join(", ")
            ));
        }
        if problems.is_empty() {
            Ok(out)
        } else {
            Err(StageError::new(
                Category::Upload,
                format!(
                    "the attestations served by {} are not the ones uploaded: {}",
                    self.simple_url,
                    problems.join("; ")
                ),
            )
            .with_hint("the index changed or dropped the attestations; check the files' provenance on the index by hand"))
        }
    }

    /// Reads the provenance object at `url`. Errors: a sentence (not 200, not a provenance
    /// object), or the transport's error message.
    fn served_provenance(&mut self, url: &str) -> Result<attestation::Provenance, String> {
        let policy = self.policy.clone();
        let resp = self
            .get(url, attestation::PROVENANCE_ACCEPT, &policy)
            .map_err(|e| e.message)?;
        if resp.status != 200 {
            return Err(format!(
                "its provenance {url} answered {}: {}",
                resp.status,
                crate::answer::server_message(&resp.body)
            ));
        }
        attestation::parse_provenance(&resp.body).map_err(|why| {
            format!("its provenance {url} is not a PEP 740 provenance object: {why}")
        })
    }

    /// [`Index::verify`]'s check; returns the files listed per project name.
    fn verify_pages(
        &mut self,
        files: &[(String, FileReport)],
    ) -> Result<Vec<(String, Vec<ListedFile>)>, StageError> {
        let mut pages = Vec::new();
        let files: Vec<&(String, FileReport)> = files
            .iter()
            .filter(|(_, f)| f.status != FileStatus::WouldUpload)
            .collect();
        let mut names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        names.sort();
        names.dedup();
        let mut problems = Vec::new();
        for name in names {
            let listed = self.project_files(name)?;
            pages.push((name.to_string(), listed));
            let listed = &pages.last().expect("pushed").1;
            for (_, f) in files.iter().filter(|(n, _)| n == name) {
                match listed.iter().find(|l| l.filename == f.filename) {
                    None => problems.push(format!("{} is not listed", f.filename)),
                    Some(l) if l.sha256.as_deref() != Some(f.sha256.as_str()) => {
                        problems.push(format!(
                            "{} is listed with sha256 {} instead of {}",
                            f.filename,
                            l.sha256.as_deref().unwrap_or("(none)"),
                            f.sha256
                        ))
                    }
                    Some(_) => {}
                }
            }
        }
        if problems.is_empty() {
            Ok(pages)
        } else {
            Err(StageError::new(
                Category::Upload,
                format!("verification on {} failed: {}", self.simple_url, problems.join("; ")),
            )
            .retryable(true)
            .with_hint("the index may still be processing the upload (retry later), or `simple` points to another index"))
        }
    }
}
