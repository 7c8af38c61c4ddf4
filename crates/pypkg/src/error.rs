//! The error type of every fallible function in this crate.

use std::path::{Path, PathBuf};

/// What went wrong reading a project or building a distribution.
///
/// Every variant's message names the file or the `pyproject.toml` field involved, so a
/// stage can show it to a person as is.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing `path` failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error (its kind tells a missing file from a refused one).
        #[source]
        source: std::io::Error,
    },
    /// `pyproject.toml` is not valid TOML.
    #[error("{}: invalid TOML: {message}", path.display())]
    Toml {
        /// The file.
        path: PathBuf,
        /// The parser's message (with line and column).
        message: String,
    },
    /// A field is missing or has the wrong shape or value, e.g. "`project.version`: ...".
    #[error("{0}")]
    Invalid(String),
    /// The project needs something this builder does not do (setup.py, another build
    /// backend, build hooks, compiled extensions, dynamic metadata other than the version).
    /// The message names what; the project can still be published with prebuilt files.
    #[error("unsupported project: {0}")]
    Unsupported(String),
}

impl Error {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Error::Invalid(message.into())
    }
    pub(crate) fn unsupported(message: impl Into<String>) -> Self {
        Error::Unsupported(message.into())
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
