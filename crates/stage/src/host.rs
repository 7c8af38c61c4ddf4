//! The `airlock:stage/host` imports: logging, progress, `store-secret` and `credential-for`.
//!
//! In a component these call the host. Natively (unit tests) they are recorded in a
//! thread-local list that [`take_records`] drains, so a test can assert what a stage logged,
//! reported or stored.

use crate::{Category, StageError};

/// Log levels of the WIT `host.level` enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Fine detail, shown only with `AIRLOCK_DEBUG` set.
    Trace,
    /// Diagnostics, shown only with `AIRLOCK_DEBUG` set.
    Debug,
    /// Progress a person wants to see.
    Info,
    /// Something to look at that does not stop the stage.
    Warn,
    /// A failure (the stage's `StageError` says what went wrong).
    Error,
}

/// One recorded host call (native builds only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// `log(level, message)`.
    Log(Level, String),
    /// `progress(done, total, message)`.
    Progress(u64, Option<u64>, String),
    /// `store-secret(name, value)`.
    Secret(String, String),
    /// `store-secret-until(name, value, expires-at)`.
    SecretUntil(String, String, u64),
}

#[cfg(not(target_arch = "wasm32"))]
thread_local! {
    static RECORDS: std::cell::RefCell<Vec<Record>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Drains the host calls recorded on this thread (native builds; always empty in a component).
pub fn take_records() -> Vec<Record> {
    #[cfg(not(target_arch = "wasm32"))]
    {
        RECORDS.with(|r| std::mem::take(&mut *r.borrow_mut()))
    }
    #[cfg(target_arch = "wasm32")]
    {
        Vec::new()
    }
}

/// Writes a log line through the host, which redacts secrets and prefixes the stage id.
pub fn log(level: Level, message: &str) {
    #[cfg(target_arch = "wasm32")]
    {
        use crate::bindings::airlock::stage::host as h;
        let level = match level {
            Level::Trace => h::Level::Trace,
            Level::Debug => h::Level::Debug,
            Level::Info => h::Level::Info,
            Level::Warn => h::Level::Warn,
            Level::Error => h::Level::Error,
        };
        h::log(level, message);
    }
    #[cfg(not(target_arch = "wasm32"))]
    RECORDS.with(|r| r.borrow_mut().push(Record::Log(level, message.to_string())));
}

/// [`log`] at info level.
pub fn info(message: &str) {
    log(Level::Info, message)
}

/// [`log`] at warn level.
pub fn warn(message: &str) {
    log(Level::Warn, message)
}

/// [`log`] at debug level.
pub fn debug(message: &str) {
    log(Level::Debug, message)
}

/// Reports progress: `done` of `total` units (bytes, files), `total` none when unknown.
pub fn progress(done: u64, total: Option<u64>, message: &str) {
    #[cfg(target_arch = "wasm32")]
    crate::bindings::airlock::stage::host::progress(done, total, message);
    #[cfg(not(target_arch = "wasm32"))]
    RECORDS.with(|r| {
        r.borrow_mut()
            .push(Record::Progress(done, total, message.to_string()))
    });
}

/// Hands secret `value` to the host under `name`. The host refuses names not listed in the
/// stage's `grants.secrets.produce`, and values under 12 bytes or over 16 KiB; a refusal is
/// a [`Category::Capability`] error with the host's reason.
pub fn store_secret(name: &str, value: &str) -> Result<(), StageError> {
    #[cfg(target_arch = "wasm32")]
    {
        crate::bindings::airlock::stage::host::store_secret(name, value)
            .map_err(|reason| refusal(name, reason))
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = Category::Capability;
        RECORDS.with(|r| {
            r.borrow_mut()
                .push(Record::Secret(name.to_string(), value.to_string()))
        });
        Ok(())
    }
}

/// The name of the secret the host would inject into a request to `url` (this stage's
/// `grants.secrets.inject` rules, with a value held), or `None` when such a request would
/// go without a credential or `url`'s origin is not granted. Never the value (WIT
/// `credential-for`). Natively (unit tests) always `None`: no host holds secrets there.
pub fn credential_for(url: &str) -> Option<String> {
    #[cfg(target_arch = "wasm32")]
    {
        crate::bindings::airlock::stage::host::credential_for(url)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = url;
        None
    }
}

/// The POSIX permission bits (e.g. `0o755`) the host's file at guest path `path` (absolute,
/// inside one of this stage's file grants) has, which WASI filesystems do not carry; `None`
/// outside the grants, for a missing file or a link (WIT `file-mode`). Natively (unit tests)
/// the file's own mode on this machine's filesystem.
pub fn file_mode(path: &str) -> Option<u32> {
    #[cfg(target_arch = "wasm32")]
    {
        crate::bindings::airlock::stage::host::file_mode(path)
    }
    #[cfg(all(not(target_arch = "wasm32"), unix))]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::symlink_metadata(path)
            .ok()
            .filter(|m| !m.file_type().is_symlink())
            .map(|m| m.permissions().mode() & 0o7777)
    }
    #[cfg(all(not(target_arch = "wasm32"), not(unix)))]
    {
        let _ = path;
        None
    }
}

/// Asks the host to revoke secret `name` (stored by this stage) at `url` when the run ends:
/// the host POSTs `{"token": "<value>"}` there for each value the secret had (WIT
/// `revoke-secret-at`; PyPI's `/_/oidc/burn-token`). `url`'s origin must be in the stage's
/// `grants.http`. A refusal is a [`Category::Capability`] error with the host's reason.
/// Natively (unit tests) it is accepted and does nothing.
pub fn revoke_secret_at(name: &str, url: &str) -> Result<(), StageError> {
    #[cfg(target_arch = "wasm32")]
    {
        crate::bindings::airlock::stage::host::revoke_secret_at(name, url).map_err(|reason| {
            StageError::new(
                Category::Capability,
                format!("the host refused to revoke secret \"{name}\": {reason}"),
            )
        })
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = (name, url, Category::Capability);
        Ok(())
    }
}

/// The error for a refused store: the hint follows the host's reason.
#[cfg(target_arch = "wasm32")]
fn refusal(name: &str, reason: String) -> StageError {
    let hint = if reason.contains("grants.secrets.produce") {
        format!("add \"{name}\" to the stage's grants.secrets.produce in the manifest")
    } else {
        format!("check the value stored as \"{name}\": the host refused it for the reason above")
    };
    StageError::new(Category::Capability, reason).with_hint(hint)
}

/// Hands secret `value` to the host under `name`, as [`store_secret`], for a credential that
/// stops working at `expires_at` (unix seconds; e.g. a PyPI trusted-publishing token, 15
/// minutes). The host renews it by running this stage again before a request would carry it
/// in its last `min(60 s, half its lifetime)` (`store-secret-until` in crates/stage/wit/stage.wit).
/// Errors: as [`store_secret`].
pub fn store_secret_until(name: &str, value: &str, expires_at: u64) -> Result<(), StageError> {
    #[cfg(target_arch = "wasm32")]
    {
        crate::bindings::airlock::stage::host::store_secret_until(name, value, expires_at)
            .map_err(|reason| refusal(name, reason))
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        RECORDS.with(|r| {
            r.borrow_mut().push(Record::SecretUntil(
                name.to_string(),
                value.to_string(),
                expires_at,
            ))
        });
        Ok(())
    }
}
