//! The pipeline manifest, bound to this host's built-in components.
//!
//! The grammar and its validation live in the wasmtime-free crate `airlock-manifest`
//! ([`airlock_manifest::manifest`], re-exported here whole); [`load`] and [`parse`] here
//! are the same functions with `builtin:NAME` checked against [`crate::builtin::names`].

pub use airlock_manifest::manifest::*;

use std::path::Path;

/// Reads and validates `file`, as [`airlock_manifest::manifest::load`] with this binary's
/// built-in components. `project_override` (from `--project`) replaces `[pipeline].project`.
pub fn load(file: &Path, project_override: Option<&Path>) -> Result<Manifest, ManifestError> {
    airlock_manifest::manifest::load(file, project_override, &crate::builtin::names())
}

/// Parses and validates manifest `source` (read from `file`), as
/// [`airlock_manifest::manifest::parse`] with this binary's built-in components.
pub fn parse(
    file: &Path,
    source: &str,
    project_override: Option<&Path>,
) -> Result<Manifest, ManifestError> {
    airlock_manifest::manifest::parse(file, source, project_override, &crate::builtin::names())
}
