//! The fetch stage: downloads the build requirements a PEP 751 lock (`pylock.build.toml`,
//! written by `airlock lock-build`) names into the folder the sandboxed build reads them
//! from, so that the build itself runs with no network. A thin adapter over
//! [`airlock_pypkg::pylock`] and the SDK's wasi:http client. See docs/build.md.
//!
//! Every wheel must be what the lock says, or nothing is handed on:
//! - the lock is checked first ([`airlock_pypkg::pylock::Lock::parse`]): one pure-Python
//!   wheel per package (`*-py3-none-any.whl`), a sha256 each, `https://` URLs;
//! - each download's sha256 must equal the locked one;
//! - each wheel's contents must be pure Python
//!   ([`airlock_pypkg::validate::check_pure_wheel`]: `Root-Is-Purelib: true`, no compiled
//!   extension or shared library), whatever its name says.
//!
//! Where it may download from is the stage's `http` grant (e.g.
//! `["https://files.pythonhosted.org"]`, where PyPI's files are): a locked URL elsewhere is
//! refused by the host, and the stage fails naming it.
//!
//! Config (all optional, project-relative paths):
//! - `lock` (default `"pylock.build.toml"`): the lock file.
//! - `out` (default `".airlock/build-deps"`, needs a write grant): where the wheels go. A
//!   wheel already there with the locked sha256 is kept (not downloaded again: keep the
//!   folder in a CI cache for a warm start); anything else in it is removed.
//!
//! Output: `{ "lock": "pylock.build.toml", "out": ".airlock/build-deps", "wheels": [ {
//! "path", "sha256", "size", "name", "version", "fetched": true|false } ] }`, one per locked
//! package, sorted by name; `fetched` is false for a wheel kept from an earlier run. The
//! wheels are the stage's artifacts, so the host checks them again before the build reads
//! them.
//!
//! Errors: no lock (a `configuration` error that says to run `airlock lock-build`); a lock
//! that fails its checks, a digest mismatch or an impure wheel (`validation`, naming the
//! package); an answer other than 200 or a refused URL (`network` / `capability`, naming
//! the URL).

use std::path::Path;

use airlock_pypkg::pylock::{Lock, Wheel};
use airlock_pypkg::sha256_hex;
use airlock_stage::retry::{RetryPolicy, send_retrying, sleep};
use airlock_stage::{Artifact, Category, Output, Request, StageError, host, http};
use serde::{Deserialize, Serialize};

/// The stage config (`[stage.config]`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Config {
    lock: String,
    out: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            lock: "pylock.build.toml".into(),
            out: ".airlock/build-deps".into(),
        }
    }
}

/// The stage output (the module docs give its JSON).
#[derive(Debug, Serialize)]
struct Fetched {
    lock: String,
    out: String,
    wheels: Vec<FetchedWheel>,
}

/// One wheel of the output.
#[derive(Debug, Serialize)]
struct FetchedWheel {
    #[serde(flatten)]
    file: Artifact,
    name: String,
    version: String,
    fetched: bool,
}

impl Output for Fetched {
    fn artifacts(&self) -> Vec<Artifact> {
        self.wheels.iter().map(|w| w.file.clone()).collect()
    }
}

/// Largest wheel downloaded (the SDK bounds the answer as well).
const MAX_WHEEL: usize = 256 << 20;

/// `rel`, a project-relative config path, as a path under `root`; `..` and absolute paths
/// are refused.
fn under(root: &Path, key: &str, rel: &str) -> Result<std::path::PathBuf, StageError> {
    let rel = rel.trim_start_matches("./");
    if rel.is_empty() || rel.starts_with('/') || rel.split('/').any(|c| c == "..") {
        return Err(StageError::config(format!(
            "`{key}` is {rel:?}: it must be a path inside the project"
        )));
    }
    Ok(root.join(rel))
}

/// Downloads `wheel` and checks it against the lock; returns its bytes.
fn download(package: &str, wheel: &Wheel) -> Result<Vec<u8>, StageError> {
    let req = http::Request::get(&wheel.url);
    let what = format!("the index ({})", http::strip_query(&wheel.url));
    let resp = send_retrying(
        &mut http::SdkTransport,
        &req,
        &RetryPolicy::default(),
        &what,
        &mut sleep,
    )?;
    if resp.status != 200 {
        return Err(StageError::new(
            Category::Network,
            format!("{what} answered {} for {}", resp.status, wheel.name),
        )
        .with_hint("check the URL in the lock, or re-run `airlock lock-build`"));
    }
    if resp.body.len() > MAX_WHEEL {
        return Err(StageError::validation(format!(
            "{} is {} bytes, over the {MAX_WHEEL}-byte limit for a build requirement",
            wheel.name,
            resp.body.len()
        )));
    }
    check(package, wheel, &resp.body)?;
    Ok(resp.body)
}

/// The locked digest and purity checks of `bytes`, the content of `wheel`.
fn check(package: &str, wheel: &Wheel, bytes: &[u8]) -> Result<(), StageError> {
    let sha = sha256_hex(bytes);
    if sha != wheel.sha256() {
        return Err(StageError::validation(format!(
            "{package}: {} has sha256 {sha}, but the lock says {}: refused",
            wheel.name,
            wheel.sha256()
        ))
        .with_hint(
            "the file on the index is not the one that was locked; if the change is expected, re-run `airlock lock-build` and review the lock's diff",
        ));
    }
    airlock_pypkg::validate::check_pure_wheel(bytes).map_err(|e| {
        StageError::validation(format!("{package}: {} is not pure Python: {e}", wheel.name))
            .with_hint("the sandboxed build runs pure-Python backends only; a project with compiled code keeps the prebuilt mode")
    })
}

fn fetch(root: &Path, config: &Config) -> Result<Fetched, StageError> {
    let lock_path = under(root, "lock", &config.lock)?;
    let out_rel = config
        .out
        .trim_start_matches("./")
        .trim_end_matches('/')
        .to_string();
    let out = under(root, "out", &out_rel)?;
    let text = match std::fs::read_to_string(&lock_path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(StageError::config(format!(
                "no lock of the build requirements at {}",
                config.lock
            ))
            .with_hint(
                "run `airlock lock-build` in the project (it resolves build-system.requires into pure-Python wheels with their sha256) and commit the lock",
            ));
        }
        Err(e) => return Err(StageError::io(&config.lock, &e)),
    };
    let lock = Lock::parse(&config.lock, &text).map_err(StageError::validation)?;
    std::fs::create_dir_all(&out).map_err(|e| StageError::io(&out_rel, &e))?;
    let wanted: Vec<&str> = lock
        .packages
        .iter()
        .map(|p| p.wheels[0].name.as_str())
        .collect();
    for entry in std::fs::read_dir(&out).map_err(|e| StageError::io(&out_rel, &e))? {
        let entry = entry.map_err(|e| StageError::io(&out_rel, &e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !wanted.contains(&name.as_str()) {
            let p = entry.path();
            let gone = if p.is_dir() {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            };
            gone.map_err(|e| StageError::io(&format!("{out_rel}/{name}"), &e))?;
        }
    }
    let mut wheels = Vec::new();
    let total = lock.packages.len();
    for (i, p) in lock.packages.iter().enumerate() {
        let w = &p.wheels[0];
        let path = out.join(&w.name);
        let rel = format!("{out_rel}/{}", w.name);
        let kept = std::fs::read(&path)
            .ok()
            .filter(|b| check(&p.name, w, b).is_ok());
        let (bytes, fetched) = match kept {
            Some(b) => (b, false),
            None => {
                host::info(&format!(
                    "[{}/{total}] downloading {} {}",
                    i + 1,
                    p.name,
                    p.version
                ));
                let b = download(&p.name, w)?;
                std::fs::write(&path, &b).map_err(|e| StageError::io(&rel, &e))?;
                (b, true)
            }
        };
        wheels.push(FetchedWheel {
            file: Artifact {
                path: rel,
                sha256: sha256_hex(&bytes),
                size: bytes.len() as u64,
            },
            name: p.name.clone(),
            version: p.version.clone(),
            fetched,
        });
    }
    let downloaded = wheels.iter().filter(|w| w.fetched).count();
    host::info(&format!(
        "{} build requirements in {out_rel}: {downloaded} downloaded, {} kept, every sha256 as locked",
        wheels.len(),
        wheels.len() - downloaded
    ));
    Ok(Fetched {
        lock: config.lock.clone(),
        out: out_rel,
        wheels,
    })
}

fn run(req: &Request) -> Result<Fetched, StageError> {
    let config: Config = req.config()?;
    fetch(Path::new("/"), &config)
}

airlock_stage::export_stage!(run);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_lock_it_says_to_run_lock_build() {
        let dir = tempfile::tempdir().unwrap();
        let e = fetch(dir.path(), &Config::default()).unwrap_err();
        assert_eq!(e.category, Category::Configuration);
        assert!(e.hint.unwrap().contains("airlock lock-build"));
    }

    #[test]
    fn paths_outside_the_project_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for (lock, out) in [("../x.toml", ".airlock/d"), ("pylock.build.toml", "/etc")] {
            let c = Config {
                lock: lock.into(),
                out: out.into(),
            };
            let e = fetch(dir.path(), &c).unwrap_err();
            assert_eq!(
                e.category,
                Category::Configuration,
                "{lock} {out}: {}",
                e.message
            );
        }
    }

    #[test]
    fn a_wheel_already_there_with_the_locked_digest_is_kept_and_others_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let wheel = airlock_test_wheel();
        let sha = sha256_hex(&wheel);
        std::fs::write(
            dir.path().join("pylock.build.toml"),
            format!(
                "lock-version = \"1.0\"\ncreated-by = \"airlock\"\n[[packages]]\nname = \"x\"\nversion = \"1.0\"\n\
                 [[packages.wheels]]\nname = \"x-1.0-py3-none-any.whl\"\nurl = \"https://files.example/x.whl\"\nhashes = {{ sha256 = \"{sha}\" }}\n"
            ),
        )
        .unwrap();
        let out = dir.path().join(".airlock/build-deps");
        std::fs::create_dir_all(&out).unwrap();
        std::fs::write(out.join("x-1.0-py3-none-any.whl"), &wheel).unwrap();
        std::fs::write(out.join("stale-0.1-py3-none-any.whl"), b"old").unwrap();
        let got = fetch(dir.path(), &Config::default()).unwrap();
        assert_eq!(got.wheels.len(), 1);
        assert!(!got.wheels[0].fetched);
        assert_eq!(got.wheels[0].file.sha256, sha);
        assert!(!out.join("stale-0.1-py3-none-any.whl").exists());
        // A wheel there with another digest is not kept: it is downloaded (natively, HTTP
        // fails: the error names the index).
        std::fs::write(out.join("x-1.0-py3-none-any.whl"), b"tampered").unwrap();
        let e = fetch(dir.path(), &Config::default()).unwrap_err();
        assert!(
            e.message.contains("only available inside a component"),
            "{}",
            e.message
        );
    }

    /// A minimal pure wheel, built with the crate's own zip writer.
    fn airlock_test_wheel() -> Vec<u8> {
        let mut z = airlock_pypkg::archive::ZipWriter::new();
        z.add("x/__init__.py", b"", 0o644, (0, 0x21));
        z.add(
            "x-1.0.dist-info/WHEEL",
            b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
            0o644,
            (0, 0x21),
        );
        z.finish()
    }
}
