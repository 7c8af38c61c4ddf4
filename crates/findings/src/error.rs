//! The library's error type. Stage adapters map it to `stage-error` categories:
//! [`Error::Io`] → the SDK's I/O classification (capability or internal),
//! [`Error::Invalid`] → validation (with its hint).

use std::path::PathBuf;

/// What went wrong in detect, decide or status.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing `path` failed.
    #[error("I/O error on '{}': {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The input is wrong: a malformed report, a missing report, a bad version, a tag
    /// mismatch. `hint` says what a person should do.
    #[error("{message}")]
    Invalid {
        /// What is wrong, naming the file or value.
        message: String,
        /// The remediation.
        hint: Option<String>,
    },
}

impl Error {
    /// An [`Error::Io`] on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// An [`Error::Invalid`] with a hint.
    pub fn invalid(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Error::Invalid {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }
}

impl From<Error> for airlock_stage::StageError {
    /// [`Error::Io`] → the SDK's I/O classification (a path outside every preopen is a
    /// capability error); [`Error::Invalid`] → validation, with its hint.
    fn from(e: Error) -> Self {
        match e {
            Error::Io { path, source } => {
                airlock_stage::StageError::io(&path.display().to_string(), &source)
            }
            Error::Invalid { message, hint } => {
                let err = airlock_stage::StageError::validation(message);
                match hint {
                    Some(h) => err.with_hint(h),
                    None => err,
                }
            }
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
