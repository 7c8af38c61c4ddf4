//! Publishing Python distributions to a package index.
//!
//! The domain logic of airlock's `upload` stage, as a plain library that compiles natively
//! (unit- and integration-tested against a real pypiserver and pip) and for wasm32-wasip2
//! (the stage component):
//!
//! - [`dist`]: a distribution file's core metadata (wheel `*.dist-info/METADATA`, sdist
//!   `PKG-INFO`) and its sha256 / blake2b-256 digests.
//! - [`metadata`]: the core metadata parser, from the foundation
//!   ([`airlock_pypkg::metadata`]).
//! - [`form`]: the legacy upload API request (`multipart/form-data`, the fields twine 6 sends;
//!   warehouse's `forklift`).
//! - [`answer`]: what an index's answer to an upload means (ok, already exists, auth, retry).
//! - [`retry`]: exponential backoff with jitter that honours `Retry-After`.
//! - [`simple`]: reading PEP 503 HTML / PEP 691 JSON simple pages and writing them.
//! - [`index`]: uploading through an abstract [`airlock_stage::http::Transport`] (the stage implements it
//!   over wasi:http, tests over a native client) with skip-identical and verification.
//! - [`attestation`]: PEP 740 attestations: the files beside a distribution, their checks,
//!   the upload form's `attestations` field and an index's provenance.
//! - [`preflight`]: the whole release planned and checked before its first byte.
//! - [`session`]: the uploader as a PEP 694-shaped session (begin, add, publish or abandon)
//!   over the legacy API or a folder.
//! - [`folder`]: a `file://` repository: a folder with a PEP 503 + PEP 691 simple index.
//! - [`repository`]: the `repository` config URL, parsed.
//! - [`auth`]: checking an API token taken from the environment.
//! - [`oidc`]: PyPI Trusted Publishing from GitHub Actions (audience, ID token, mint-token).
//!
//! Errors are [`airlock_stage::StageError`]s with the categories of the stage contract.

pub mod answer;
pub mod attestation;
pub mod auth;
pub mod dist;
pub mod folder;
pub mod form;
pub mod index;
pub mod oidc;
pub mod preflight;
pub mod repository;
/// The SDK's retry policy, which uploads use (re-exported: `airlock_publish::retry`).
pub use airlock_stage::retry;
pub mod session;
pub mod sigstore;

pub use dist::{DistKind, Distribution};
pub use index::{FileReport, FileStatus};
pub use repository::Repository;

/// Core metadata reading (`packaging.metadata.parse_email`), from the foundation.
pub use airlock_pypkg::metadata;
/// PEP 503 name normalisation (the foundation's, [`airlock_pypkg::normalize_name`]).
pub use airlock_pypkg::normalize_name;
/// The simple repository API (PEP 503 / 691 / 700 / 740 / 792), from the foundation.
pub use airlock_pypkg::simple;
