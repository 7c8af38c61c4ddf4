//! The build stage's `mode`, host side: before anything runs, each `builtin:build` stage is
//! bound to the builder its mode chooses ([`airlock_pypkg::choose_builder`]): the native
//! builder (the build component, unchanged), or the project's own PEP 517 backend in
//! CPython for WASI (the pep517 component, [`pep517_component`]), with the stage's config
//! and grants carried over. See docs/build.md.
//!
//! The pep517 component is not embedded (about 30 MB): it ships beside the binary, as the
//! companion package's `share/airlock/pep517.wasm`, or is named by `AIRLOCK_PEP517_COMPONENT`.
//! A release build pins its sha256 (`AIRLOCK_PEP517_SHA256` at build time); a build without
//! a pin (a development build) takes the file it finds and says so.

use std::path::{Path, PathBuf};

use airlock_pypkg::{BuildMode, BuilderChoice};

use crate::manifest::{Access, ComponentRef, FileGrant, Manifest};

/// The environment variable naming the pep517 component file.
pub const COMPONENT_ENV: &str = "AIRLOCK_PEP517_COMPONENT";

/// The sha256 of the pep517 component this build of airlock ships with, when it was built
/// for a release (`AIRLOCK_PEP517_SHA256` at build time); `None` in a development build.
pub const PINNED_SHA256: Option<&str> = option_env!("AIRLOCK_PEP517_SHA256");

/// The scratch folder the sandboxed build copies the project into (a write grant it gets
/// in addition to the build stage's own).
pub const SCRATCH: &str = ".airlock/pep517";

/// Where the pep517 component is: `$AIRLOCK_PEP517_COMPONENT`, else `share/airlock/pep517.wasm`
/// beside the binary's folder (where the companion package installs it), else `pep517.wasm`
/// beside the binary. Its digest is not read here: the stage is bound with
/// [`PINNED_SHA256`] as its `sha256`, which the runtime checks when it loads (and digests)
/// the component anyway, so a file other than the one this release pins is refused there.
///
/// Errors (a sentence saying what to install or set): no file.
pub fn pep517_component() -> Result<PathBuf, String> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(p) = std::env::var_os(COMPONENT_ENV).filter(|p| !p.is_empty()) {
        candidates.push(PathBuf::from(p));
    } else if let Ok(exe) = std::env::current_exe()
        && let Some(bin) = exe.parent()
    {
        if let Some(prefix) = bin.parent() {
            candidates.push(prefix.join("share/airlock/pep517.wasm"));
        }
        candidates.push(bin.join("pep517.wasm"));
    }
    let path = candidates.into_iter().find(|p| p.is_file()).ok_or_else(|| {
        format!(
            "the pep517 component (the sandboxed PEP 517 build) is not installed: install the companion package \
             beside airlock (`pip install airlock-pep517=={}`), or build it with `scripts/build-pep517` and set {COMPONENT_ENV} to its path",
            env!("CARGO_PKG_VERSION")
        )
    })?;
    if PINNED_SHA256.is_none() {
        tracing::warn!(
            "using the pep517 component at {}: this development build pins no digest",
            path.display()
        );
    }
    Ok(path)
}

/// The build stage config keys the pep517 component takes (the rest are the native
/// builder's: `generator`, `validate`, `sdist_compression_level`).
const CARRIED: &[&str] = &[
    "sdist",
    "wheel",
    "out",
    "source_date_epoch",
    "deps",
    "version",
];

/// The build stage config key through which the host tells the build component why it
/// could not bind the stage to the sandboxed build (the component then fails with it, when
/// and if the stage runs).
pub const UNAVAILABLE_KEY: &str = "sandbox_unavailable";

/// Binds every `builtin:build` stage of `manifest` to the builder its `mode` (default
/// `auto`) chooses for the manifest's project; returns, per stage bound, the choice (for the
/// log).
///
/// A stage bound to the sandboxed build runs the pep517 component with the config keys both
/// take ([`CARRIED`]) plus `why` and, in a git checkout, `git_files` ([`git_files`]), and
/// its grants plus a write grant on [`SCRATCH`]. Every
/// other stage is left to the build component, which makes the same choice when it runs and
/// reports it, or its error: a `mode` it does not know, a backend that compiles native code,
/// or (passed in [`UNAVAILABLE_KEY`]) a pep517 component that is not installed. So nothing
/// fails here: a build stage that `when` skips never needs the sandbox.
pub fn bind(manifest: &mut Manifest) -> Vec<(String, BuilderChoice)> {
    let project = manifest.project.clone();
    let mut chosen = Vec::new();
    for st in &mut manifest.stages {
        if st.component != ComponentRef::Builtin("build".into()) {
            continue;
        }
        let mode = match st.config.get("mode") {
            None => BuildMode::Auto,
            Some(v) => match serde_json::from_value::<BuildMode>(v.clone()) {
                Ok(m) => m,
                Err(_) => continue,
            },
        };
        let Ok(choice) = airlock_pypkg::choose_builder(&project, mode) else {
            continue;
        };
        if choice.builder != BuildMode::Pep517 {
            chosen.push((st.id.clone(), choice));
            continue;
        }
        let path = match pep517_component() {
            Ok(found) => found,
            Err(e) => {
                if let Some(config) = st.config.as_object_mut() {
                    config.insert(UNAVAILABLE_KEY.into(), e.into());
                } else {
                    st.config = serde_json::json!({ UNAVAILABLE_KEY: e });
                }
                continue;
            }
        };
        st.component = ComponentRef::Path {
            path,
            sha256: PINNED_SHA256.map(str::to_string),
        };
        let mut config = serde_json::Map::new();
        if let Some(old) = st.config.as_object() {
            for (k, v) in old.iter().filter(|(k, _)| CARRIED.contains(&k.as_str())) {
                config.insert(k.clone(), v.clone());
            }
        }
        config.insert("why".into(), choice.why.clone().into());
        if let Some(files) = git_files(&project) {
            config.insert("git_files".into(), files.into());
        }
        st.config = serde_json::Value::Object(config);
        if !st.grants.files.iter().any(|g| grants_write(g, SCRATCH)) {
            st.grants.files.push(FileGrant {
                path: SCRATCH.into(),
                access: Access::Write,
            });
        }
        chosen.push((st.id.clone(), choice));
    }
    chosen
}

/// The project's files as setuptools_scm's git file finder lists them (`git archive` of
/// HEAD, so `export-ignore` is honoured), relative to the project folder, when the project
/// is in a git checkout and git answers; `None` otherwise (with a warning when git failed).
/// The sandbox has no git: the pep517 component hands this list to setuptools_scm instead.
/// git runs with `core.fsmonitor` off, so no program the repository configures is started.
fn git_files(project: &Path) -> Option<Vec<String>> {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(["-c", "core.fsmonitor=false"])
            .args(args)
            .current_dir(project)
            .stdin(std::process::Stdio::null())
            .output()
    };
    let inside = git(&["rev-parse", "--show-prefix"]).ok()?;
    if !inside.status.success() {
        return None;
    }
    let prefix = String::from_utf8_lossy(&inside.stdout).trim().to_string();
    let tree = if prefix.is_empty() {
        "HEAD".to_string()
    } else {
        format!("HEAD:{prefix}")
    };
    let archive = match git(&["archive", "--format=tar", &tree]) {
        Ok(o) if o.status.success() => o.stdout,
        Ok(o) => {
            tracing::warn!(
                "git archive {tree} in {} failed ({}): the sandboxed build gets no git file list",
                project.display(),
                String::from_utf8_lossy(&o.stderr).trim()
            );
            return None;
        }
        Err(e) => {
            tracing::warn!("cannot run git ({e}): the sandboxed build gets no git file list");
            return None;
        }
    };
    let mut files = Vec::new();
    for entry in tar::Archive::new(&archive[..]).entries().ok()? {
        let entry = entry.ok()?;
        if entry.header().entry_type().is_dir() {
            continue;
        }
        files.push(String::from_utf8_lossy(&entry.path_bytes()).into_owned());
    }
    Some(files)
}

/// True when `grant` gives write access to `rel` (project-relative).
fn grants_write(grant: &FileGrant, rel: &str) -> bool {
    grant.access == Access::Write && {
        let g = grant.path.trim_start_matches("./").trim_end_matches('/');
        g == "." || Path::new(rel).starts_with(g)
    }
}
