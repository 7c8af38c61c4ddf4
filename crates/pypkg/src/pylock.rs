//! A project's build requirements, locked: [PEP 751] `pylock.toml` files of pure-Python
//! wheels, each with its sha256, for the sandboxed PEP 517 build (the pep517 stage; see
//! docs/build.md).
//!
//! - [`build_requirements`]: `[build-system] requires` of a project ([PEP 518]; when it has
//!   no pyproject.toml or no `requires`, `setuptools>=40.8.0`, as pip does).
//! - [`resolve`] (feature `resolve`): picks, for each requirement and its dependencies, the newest version whose
//!   pure-Python wheel ([`crate::filename::is_pure_wheel`]) an index lists, for the
//!   sandbox's interpreter ([`SANDBOX_PYTHON`]); the index is read through [`Source`], so
//!   this crate makes no network call itself.
//! - [`Lock::parse`] / [`Lock::to_toml`]: the lock file, validated: every package has exactly
//!   one wheel, pure, with a URL and a sha256.
//!
//! Resolution is greedy, without backtracking: the first version chosen for a project is
//! kept, and a later requirement it does not satisfy is an error that names both (pin the
//! project in `build-system.requires` to settle it). Build requirements are short chains
//! (setuptools has no dependencies, hatchling four), where this is enough.
//!
//! [PEP 751]: https://peps.python.org/pep-0751/
//! [PEP 518]: https://peps.python.org/pep-0518/

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::filename::{DistFilename, FileKind, is_pure_wheel};
use crate::project::normalize_name;

#[cfg(feature = "resolve")]
mod resolve;
#[cfg(feature = "resolve")]
pub use resolve::{SANDBOX_PYTHON, Source, resolve};

/// The `environments` entry written into a lock: the sandbox's interpreter, as a marker.
pub const SANDBOX_ENVIRONMENT: &str = "sys_platform == 'wasi' and python_version == '3.14'";

/// What PEP 518 says a project without `build-system.requires` needs (pip's default).
pub const DEFAULT_REQUIREMENT: &str = "setuptools>=40.8.0";

/// The build requirements of the project at `root`: `[build-system] requires` of its
/// pyproject.toml, as written; [`DEFAULT_REQUIREMENT`] when there is no pyproject.toml or
/// it has no `requires`.
///
/// Errors: a pyproject.toml that is not TOML, or a `requires` that is not a list of strings
/// (a sentence naming the file and the field).
pub fn build_requirements(root: &Path) -> Result<Vec<String>, String> {
    let path = root.join("pyproject.toml");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(vec![DEFAULT_REQUIREMENT.into()]);
        }
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let doc: toml::Table = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    match doc.get("build-system").and_then(|b| b.get("requires")) {
        None => Ok(vec![DEFAULT_REQUIREMENT.into()]),
        Some(toml::Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str().map(str::to_string).ok_or_else(|| {
                    format!(
                        "{}: build-system.requires holds {v}, not a string",
                        path.display()
                    )
                })
            })
            .collect(),
        Some(other) => Err(format!(
            "{}: build-system.requires is {}, not a list of strings",
            path.display(),
            other.type_str()
        )),
    }
}

/// A [PEP 751] lock file (the subset airlock writes and reads: packages with one wheel
/// each).
///
/// [PEP 751]: https://peps.python.org/pep-0751/
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Lock {
    /// `lock-version`: `"1.0"` when written; any `1.x` is read.
    pub lock_version: String,
    /// `environments`: the markers the lock is for ([`SANDBOX_ENVIRONMENT`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environments: Vec<String>,
    /// `created-by`: the tool that wrote it (`airlock`).
    pub created_by: String,
    /// `packages`, sorted by name when written.
    #[serde(default)]
    pub packages: Vec<Package>,
}

/// One `[[packages]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Package {
    /// The project's name, PEP 503 normalised.
    pub name: String,
    /// Its PEP 440 version.
    pub version: String,
    /// The simple index it was found on (`index`), e.g. `https://pypi.org/simple/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<String>,
    /// `wheels`: exactly one, pure, when [`Lock::parse`] accepts the lock.
    #[serde(default)]
    pub wheels: Vec<Wheel>,
}

/// One `[[packages.wheels]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Wheel {
    /// The wheel's file name (`name`).
    pub name: String,
    /// Where to download it (`url`): absolute `https://`, or `http://` to a loopback host.
    pub url: String,
    /// Its size in bytes, when the index gave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// `hashes`: algorithm to lowercase hex digest; `sha256` is required.
    pub hashes: BTreeMap<String, String>,
}

impl Wheel {
    /// The wheel's sha256 (lowercase hex), as [`Lock::parse`] checked it.
    pub fn sha256(&self) -> &str {
        self.hashes.get("sha256").map(String::as_str).unwrap_or("")
    }
}

impl Lock {
    /// Parses and checks the lock `text` (`file` names it in errors).
    ///
    /// Errors (a sentence naming the file and the package): not TOML or not PEP 751's shape;
    /// a `lock-version` other than `1.x`; a package with no wheel or more than one; a wheel
    /// name that is not a plain file name (a `/`, a `\` or a leading `.`); a wheel
    /// that is not pure Python (`*-py3-none-any.whl`), whose name is not of the package and
    /// version, whose URL is not `https://` (or `http://` to 127.0.0.1, ::1 or localhost), or
    /// with no 64-hex-digit `sha256`; a project locked twice.
    pub fn parse(file: &str, text: &str) -> Result<Lock, String> {
        let lock: Lock = toml::from_str(text).map_err(|e| format!("{file}: {e}"))?;
        if !lock.lock_version.starts_with("1.") && lock.lock_version != "1" {
            return Err(format!(
                "{file}: lock-version {:?} is not a PEP 751 version 1 lock",
                lock.lock_version
            ));
        }
        let mut seen = BTreeSet::new();
        for p in &lock.packages {
            let at = format!("{file}: package {} {}", p.name, p.version);
            if !seen.insert(normalize_name(&p.name)) {
                return Err(format!("{at}: the project is locked twice"));
            }
            let [w] = p.wheels.as_slice() else {
                return Err(format!(
                    "{at}: has {} wheels; the sandboxed build takes exactly one pure-Python wheel per package (re-run `airlock lock-build`)",
                    p.wheels.len()
                ));
            };
            if w.name.contains(['/', '\\']) || w.name.starts_with('.') {
                return Err(format!(
                    "{at}: the wheel name {:?} is not a file name",
                    w.name
                ));
            }
            if !is_pure_wheel(&w.name) {
                return Err(format!(
                    "{at}: {} is not a pure-Python wheel (`*-py3-none-any.whl`); the sandboxed build runs pure-Python backends only",
                    w.name
                ));
            }
            let of_package = DistFilename::parse(&w.name).is_some_and(|f| {
                f.kind == FileKind::Wheel
                    && f.project() == normalize_name(&p.name)
                    && f.is_version(&p.version)
            });
            if !of_package {
                return Err(format!(
                    "{at}: the wheel {} is of another project or version",
                    w.name
                ));
            }
            if !allowed_url(&w.url) {
                return Err(format!(
                    "{at}: the URL {:?} is not https:// (plain http:// only to a loopback host)",
                    w.url
                ));
            }
            let sha = w.sha256();
            if sha.len() != 64
                || !sha
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            {
                return Err(format!(
                    "{at}: {} has no sha256 (64 lowercase hex digits)",
                    w.name
                ));
            }
        }
        Ok(lock)
    }

    /// The lock as PEP 751 TOML text, packages sorted by name.
    pub fn to_toml(&self) -> String {
        let mut lock = self.clone();
        lock.packages.sort_by(|a, b| a.name.cmp(&b.name));
        let body = toml::to_string_pretty(&lock).expect("a lock serialises");
        format!(
            "# PEP 751 lock of the build requirements, for the sandboxed build (docs/build.md).\n\
             # Written by `airlock lock-build`; review and commit it.\n{body}"
        )
    }
}

/// True for an `https://` URL, or an `http://` one to a loopback host (a local index).
fn allowed_url(url: &str) -> bool {
    if url.starts_with("https://") {
        return true;
    }
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = if let Some(h) = host.strip_prefix('[') {
        h.split(']').next().unwrap_or("")
    } else {
        host.split(':').next().unwrap_or("")
    };
    matches!(host, "127.0.0.1" | "::1" | "localhost")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pure_wheels_are_py3_none_any() {
        use crate::filename::is_pure_wheel;
        assert!(is_pure_wheel("setuptools-80.9.0-py3-none-any.whl"));
        assert!(is_pure_wheel("six-1.17.0-py2.py3-none-any.whl"));
        assert!(is_pure_wheel("x-1.0-1-py312-none-any.whl"));
        assert!(!is_pure_wheel("x-1.0-py2-none-any.whl"));
        assert!(!is_pure_wheel("x-1.0-cp314-none-any.whl"));
        assert!(!is_pure_wheel("x-1.0-py3-abi3-any.whl"));
        assert!(!is_pure_wheel("x-1.0-py3-none-manylinux_2_17_x86_64.whl"));
        assert!(!is_pure_wheel("x-1.0.tar.gz"));
    }

    fn lock_with(wheel: &str, url: &str, sha: &str) -> String {
        format!(
            "lock-version = \"1.0\"\ncreated-by = \"airlock\"\n[[packages]]\nname = \"x\"\nversion = \"1.0\"\n\
             [[packages.wheels]]\nname = \"{wheel}\"\nurl = \"{url}\"\nhashes = {{ sha256 = \"{sha}\" }}\n"
        )
    }

    #[test]
    fn a_lock_is_checked_as_it_is_read() {
        let sha = "a".repeat(64);
        let ok = Lock::parse(
            "l",
            &lock_with("x-1.0-py3-none-any.whl", "https://i/x.whl", &sha),
        )
        .unwrap();
        assert_eq!(ok.packages[0].wheels[0].sha256(), sha);
        assert_eq!(Lock::parse("l", &ok.to_toml()).unwrap(), ok);
        for (wheel, url, sha, says) in [
            (
                "x-1.0-cp314-cp314-linux_x86_64.whl",
                "https://i/x.whl",
                sha.as_str(),
                "not a pure-Python wheel",
            ),
            (
                "y-1.0-py3-none-any.whl",
                "https://i/x.whl",
                &sha,
                "another project",
            ),
            (
                "x-2.0-py3-none-any.whl",
                "https://i/x.whl",
                &sha,
                "another project or version",
            ),
            (
                "x-1.0-py3-none-any.whl",
                "http://example.com/x.whl",
                &sha,
                "not https://",
            ),
            (
                "x-1.0-py3-none-any.whl",
                "file:///etc/passwd",
                &sha,
                "not https://",
            ),
            (
                "x-1.0-py3-none-any.whl",
                "https://i/x.whl",
                "abc",
                "no sha256",
            ),
            (
                "x-1.0-py3-none-any.whl",
                "https://i/x.whl",
                &"A".repeat(64),
                "no sha256",
            ),
        ] {
            let err = Lock::parse("l", &lock_with(wheel, url, sha)).unwrap_err();
            assert!(err.contains(says), "{wheel} {url}: {err}");
        }
        assert!(allowed_url("http://127.0.0.1:8080/x.whl"));
        assert!(allowed_url("http://[::1]:8080/x.whl"));
        assert!(!allowed_url("http://127.0.0.1.example.com/x.whl"));
    }

    #[test]
    fn build_requirements_default_to_setuptools() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            build_requirements(dir.path()).unwrap(),
            [DEFAULT_REQUIREMENT]
        );
        std::fs::write(
            dir.path().join("pyproject.toml"),
            "[build-system]\nrequires = [\"flit_core >=3.2,<4\"]\n",
        )
        .unwrap();
        assert_eq!(
            build_requirements(dir.path()).unwrap(),
            ["flit_core >=3.2,<4"]
        );
        std::fs::write(
            dir.path().join("pyproject.toml"),
            "[build-system]\nrequires = \"x\"\n",
        )
        .unwrap();
        assert!(
            build_requirements(dir.path())
                .unwrap_err()
                .contains("not a list")
        );
    }
}
