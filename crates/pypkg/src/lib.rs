//! Python packaging in pure Rust, for the airlock build stage (and anything else that needs
//! a project's name or version without running Python).
//!
//! - [`Buildable::load`]: reads `[build-system] build-backend` ([`detect_backend`]) and loads
//!   the project with that backend's semantics: hatchling 1.27 ([`Project::load`]),
//!   flit_core 3.12 ([`flit::FlitProject::load`]) or uv_build 0.9
//!   ([`uvbuild::UvProject::load`]); other backends are [`Error::Unsupported`], naming them.
//! - [`project_name`], [`project_version`]: `[project].name` and the PEP 440 normalised
//!   version (static, or hatchling's `[tool.hatch.version] path` parsed as text).
//! - [`core_metadata`]: core metadata 2.4 text exactly as hatchling writes it (flit's is
//!   written by [`flit`], uv_build's by [`uvbuild`]).
//! - [`build_wheel`], [`build_sdist`], [`Buildable::wheel_bytes`], [`Buildable::sdist_bytes`]:
//!   `{name}-{version}-{tag}.whl` ([PEP 427]/[PEP 491]) and `{name}-{version}.tar.gz`
//!   ([PEP 517] sdist, [PEP 625] name), with the backend's file selection, member order,
//!   permissions and timestamps, reproducible under `SOURCE_DATE_EPOCH` (default
//!   1580601600 = 2020-02-02, hatchling's; uv_build ignores it and stamps 1980-01-01 in
//!   wheels and 0 in sdists, and so does [`uvbuild`]).
//! - [`filename`]: distribution file names split into project, version and kind.
//! - [`validate`]: checks a wheel or sdist (built here or elsewhere) as `twine check
//!   --strict` and PyPI's upload endpoint would.
//!
//! Fidelity: wheel and sdist members, their contents, order, modes, times and the RECORD are
//! those the backend produces; the compressed bytes differ because deflate here is zlib-rs,
//! not CPython's zlib (the zip headers, CRCs and uncompressed tar stream are the same).
//! The WHEEL `Generator` is `airlock-pypkg <version>` unless [`BuildOptions::generator`]
//! says otherwise (set it to `hatchling 1.27.0` to compare against a hatchling wheel).
//!
//! Unsupported (an [`Error::Unsupported`] naming it): setup.py projects, backends other
//! than `hatchling.build`, `flit_core.buildapi` and `uv_build`, build/metadata hooks
//! (compiled extensions), dynamic metadata other than the version (and flit's description;
//! uv_build supports none), computed versions, `force-include`, `shared-data`, flit's
//! `external-data`, uv_build requirement markers outside [`uvbuild`]'s reproduced subset.
//!
//! No subprocess, no network: everything is `std::fs` under the given project root, so it
//! runs the same natively and in a wasm32-wasip2 component.
//!
//! [PEP 427]: https://peps.python.org/pep-0427/
//! [PEP 491]: https://peps.python.org/pep-0491/
//! [PEP 517]: https://peps.python.org/pep-0517/
//! [PEP 621]: https://peps.python.org/pep-0621/
//! [PEP 625]: https://peps.python.org/pep-0625/

use std::path::{Path, PathBuf};

use base64::Engine as _;
use sha2::{Digest, Sha256};

pub mod archive;
mod error;
pub mod filename;
pub mod flit;
mod marker;
pub mod metadata;
pub mod project;
pub mod pylock;
mod pyproject;
pub mod select;
pub mod simple;
pub mod uvbuild;
pub mod validate;

pub use error::{Error, Result};
pub use metadata::core_metadata;
pub use project::{Project, normalize_name, project_name, project_version, project_version_source};

/// hatchling's timestamp when `SOURCE_DATE_EPOCH` is unset: 2020-02-02T00:00:00Z.
pub const DEFAULT_SOURCE_DATE_EPOCH: i64 = 1_580_601_600;

/// This crate's `Generator` line value: `airlock-pypkg <crate version>`.
pub const GENERATOR: &str = concat!("airlock-pypkg ", env!("CARGO_PKG_VERSION"));

/// The sdist's default gzip level ([`BuildOptions::sdist_gzip_level`]): 6, zlib's default.
pub const DEFAULT_SDIST_GZIP_LEVEL: u32 = 6;

/// How to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildOptions {
    /// Seconds since the epoch stamped on every member (zip DOS time in UTC, tar mtime,
    /// gzip header). Default [`DEFAULT_SOURCE_DATE_EPOCH`]. Zip cannot store times before
    /// 1980; those are clamped to 1980-01-01. Not used for uv_build projects: uv_build's
    /// times are fixed (1980-01-01 in the wheel, 0 in the sdist).
    pub source_date_epoch: i64,
    /// The WHEEL file's `Generator:` value. Default [`GENERATOR`].
    pub generator: String,
    /// gzip level of the sdist, 1..=9. Default [`DEFAULT_SDIST_GZIP_LEVEL`] (6); hatchling
    /// and flit use 9, which zlib-rs compresses 2-3x slower, to within about 1% of the same
    /// size (on mypylogger 0.2.8, level 9 is 1% *larger* than 6). The compressed bytes differ
    /// from the backends' at any level (zlib-rs is not CPython's zlib); the sdist's members
    /// and its tar stream are the same. uv_build projects always get level 6, uv_build's own.
    pub sdist_gzip_level: u32,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            source_date_epoch: DEFAULT_SOURCE_DATE_EPOCH,
            generator: GENERATOR.to_string(),
            sdist_gzip_level: DEFAULT_SDIST_GZIP_LEVEL,
        }
    }
}

/// The kind of a built distribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// `.tar.gz` source distribution.
    Sdist,
    /// `.whl` binary (here: pure) distribution.
    Wheel,
}

/// A distribution file the builder wrote ([`build_wheel`], [`build_sdist`]). (A stage hands
/// a file on to the host as the SDK's `airlock_stage::Artifact`: path, sha256, size.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// Sdist or wheel.
    pub kind: Kind,
    /// Where it was written: `out_dir.join(filename)`.
    pub path: PathBuf,
    /// The file name, e.g. `mypylogger-0.2.8-py3-none-any.whl`.
    pub filename: String,
    /// Lowercase hex SHA-256 of the file.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

/// `urlsafe_b64encode(sha256(data)).rstrip('=')`, the RECORD hash encoding ([PEP 376],
/// [PEP 427]).
///
/// [PEP 376]: https://peps.python.org/pep-0376/
/// [PEP 427]: https://peps.python.org/pep-0427/
pub fn record_hash(data: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(data))
}

/// hatchling's `normalize_file_permissions`: 644, or 755 when the owner may execute; the
/// file type bits are kept.
pub fn normalize_file_permissions(st_mode: u32) -> u32 {
    let mut m = (st_mode | 0o644) & !0o133;
    if st_mode & 0o100 != 0 {
        m |= 0o111;
    }
    m
}

/// `st_mode` of a regular file's metadata (type bits included). Without Unix permissions
/// (WASI) every file is `0o100644`: a sandboxed build cannot see executable bits.
fn mode_of(meta: &std::fs::Metadata) -> u32 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        meta.mode()
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        0o100644
    }
}

/// A file's contents and `st_mode` (see [`mode_of`]), from one open: one `stat` of the
/// handle gives both the mode and the size, and reading stops at that size instead of
/// probing for the end of the file (in the component every filesystem call is a host call,
/// ~0.1 ms each; `std::fs::read` plus a separate `stat` made three more per file). A file
/// that grows while it is read is read as it was when opened.
pub(crate) fn read_file(path: &Path) -> Result<(Vec<u8>, u32)> {
    use std::io::Read;
    let io = |e| Error::io(path, e);
    let mut file = std::fs::File::open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    let mut data = vec![0; usize::try_from(meta.len()).unwrap_or(0)];
    let mut filled = 0;
    while filled < data.len() {
        match file.read(&mut data[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io(e)),
        }
    }
    data.truncate(filled);
    Ok((data, mode_of(&meta)))
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io(path, e))
}

/// The wheel tag hatchling picks for a pure project (`get_default_tag`): `py2`, `py3` or
/// `py2.py3` by which major versions `requires-python` admits (tried at `X.Y.100`, then
/// every `X.Y.Z` for narrow ranges), then `-none-any`.
///
/// Errors: `requires-python` that is not a PEP 440 specifier set, or admits no version.
pub fn wheel_tag(project: &Project) -> Result<String> {
    use std::str::FromStr;
    let specs = if project.requires_python.is_empty() {
        None
    } else {
        Some(
            pep440_rs::VersionSpecifiers::from_str(&project.requires_python).map_err(|e| {
                Error::invalid(format!(
                    "field `project.requires-python` is not a valid specifier set: {e}"
                ))
            })?,
        )
    };
    let admits = |v: String| {
        specs
            .as_ref()
            .is_none_or(|s| pep440_rs::Version::from_str(&v).is_ok_and(|v| s.contains(&v)))
    };
    let mut majors = Vec::new();
    for major in [2, 3] {
        if (0..100).any(|minor| admits(format!("{major}.{minor}.100"))) {
            majors.push(format!("py{major}"));
        }
    }
    if majors.is_empty() {
        for major in [2, 3] {
            if (0..100)
                .any(|minor| (0..100).any(|patch| admits(format!("{major}.{minor}.{patch}"))))
            {
                majors.push(format!("py{major}"));
            }
        }
    }
    if majors.is_empty() {
        return Err(Error::invalid(format!(
            "`project.requires-python` ({}) admits no Python 2 or 3 version",
            project.requires_python
        )));
    }
    Ok(format!("{}-none-any", majors.join(".")))
}

/// The WHEEL file ([PEP 427]): `Wheel-Version: 1.0`, `Generator`, `Root-Is-Purelib: true`
/// and one `Tag:` per expanded tag, sorted.
///
/// [PEP 427]: https://peps.python.org/pep-0427/#file-contents
pub fn wheel_file(tag: &str, generator: &str) -> String {
    let mut parts = tag.splitn(3, '-');
    let (py, abi, plat) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    let mut tags = Vec::new();
    for p in py.split('.') {
        for a in abi.split('.') {
            for pl in plat.split('.') {
                tags.push(format!("{p}-{a}-{pl}"));
            }
        }
    }
    tags.sort();
    let mut s = format!("Wheel-Version: 1.0\nGenerator: {generator}\nRoot-Is-Purelib: true\n");
    for t in tags {
        s.push_str(&format!("Tag: {t}\n"));
    }
    s
}

/// `entry_points.txt` as hatchling writes it (empty string when there are none).
pub fn entry_points_file(project: &Project) -> String {
    let mut s = String::new();
    let mut section = |name: &str, entries: &[(String, String)]| {
        if !entries.is_empty() {
            s.push_str(&format!("\n[{name}]\n"));
            for (k, v) in entries {
                s.push_str(&format!("{k} = {v}\n"));
            }
        }
    };
    section("console_scripts", &project.scripts);
    section("gui_scripts", &project.gui_scripts);
    for (group, entries) in &project.entry_points {
        section(group, entries);
    }
    s.trim_start().to_string()
}

/// One RECORD row as Python's `csv.writer` writes it (fields quoted only when needed).
pub(crate) fn record_row(fields: [&str; 3]) -> String {
    let q = |f: &str| {
        if f.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", f.replace('"', "\"\""))
        } else {
            f.to_string()
        }
    };
    format!("{},{},{}\n", q(fields[0]), q(fields[1]), q(fields[2]))
}

/// Lowercase hex SHA-256 of `bytes` (the digest artifacts are reported and uploaded with).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn write_artifact(kind: Kind, out_dir: &Path, filename: String, bytes: &[u8]) -> Result<Written> {
    std::fs::create_dir_all(out_dir).map_err(|e| Error::io(out_dir, e))?;
    let path = out_dir.join(&filename);
    std::fs::write(&path, bytes).map_err(|e| Error::io(&path, e))?;
    Ok(Written {
        kind,
        path,
        filename,
        sha256: sha256_hex(bytes),
        size: bytes.len() as u64,
    })
}

/// The wheel of `project` as bytes, with its file name.
///
/// Members, in hatchling's order: the selected project files (mode from disk, normalised to
/// 644/755, with the regular-file type bits), then `{id}.dist-info/METADATA`, `WHEEL`,
/// `entry_points.txt` (if any), `licenses/<license files>`, `RECORD` (generated files have
/// mode 0o644). Every member has the DOS time of `options.source_date_epoch` (UTC).
pub fn wheel_bytes(project: &Project, options: &BuildOptions) -> Result<(String, Vec<u8>)> {
    let id = project.project_id();
    let tag = wheel_tag(project)?;
    let dist_info = format!("{id}.dist-info");
    let mut wheel =
        archive::WheelWriter::new(archive::DateTime::from_epoch(options.source_date_epoch).dos());
    for f in select::wheel_files(project)? {
        let (data, mode) = read_file(&f.path)?;
        let mode = normalize_file_permissions(mode) & 0xFFFF;
        wheel.add(&f.distribution_path, &data, mode);
    }
    wheel.add(
        &format!("{dist_info}/METADATA"),
        core_metadata(project).as_bytes(),
        0o644,
    );
    wheel.add(
        &format!("{dist_info}/WHEEL"),
        wheel_file(&tag, &options.generator).as_bytes(),
        0o644,
    );
    let eps = entry_points_file(project);
    if !eps.is_empty() {
        wheel.add(
            &format!("{dist_info}/entry_points.txt"),
            eps.as_bytes(),
            0o644,
        );
    }
    for lic in &project.license_files {
        let data = read(&project.root.join(lic))?;
        wheel.add(&format!("{dist_info}/licenses/{lic}"), &data, 0o644);
    }
    Ok((format!("{id}-{tag}.whl"), wheel.finish(&dist_info, 0o644)))
}

/// The sdist of `project` as bytes (gzip-compressed tar), with its file name.
///
/// Members under `{name}-{version}/` in hatchling's order (see [`select::sdist_files`]),
/// then the generated `PKG-INFO`; modes normalised to 644/755, uid/gid 0, empty user and
/// group names, mtime and gzip header time `options.source_date_epoch`.
pub fn sdist_bytes(project: &Project, options: &BuildOptions) -> Result<(String, Vec<u8>)> {
    let id = project.project_id();
    let mtime = options.source_date_epoch.max(0) as u64;
    let mut tar = archive::TarWriter::new();
    for f in select::sdist_files(project)? {
        let (data, mode) = read_file(&f.path)?;
        let mode = normalize_file_permissions(mode) & 0o7777;
        tar.add(&format!("{id}/{}", f.distribution_path), &data, mode, mtime);
    }
    tar.add(
        &format!("{id}/PKG-INFO"),
        core_metadata(project).as_bytes(),
        0o644,
        mtime,
    );
    let gz = archive::gzip_level(
        &tar.finish(),
        mtime.min(u64::from(u32::MAX)) as u32,
        options.sdist_gzip_level,
    );
    Ok((format!("{id}.tar.gz"), gz))
}

/// Builds the wheel of the project at `root` into `out_dir` (created if missing), with the
/// semantics of the project's backend ([`Buildable::load`]).
///
/// Errors: the project cannot be read or is unsupported (see [`Buildable::load`]); files
/// cannot be read; `out_dir` cannot be written.
pub fn build_wheel(root: &Path, out_dir: &Path, options: &BuildOptions) -> Result<Written> {
    let (name, bytes) = Buildable::load(root)?.wheel_bytes(options)?;
    write_artifact(Kind::Wheel, out_dir, name, &bytes)
}

/// Builds the sdist of the project at `root` into `out_dir` (created if missing).
///
/// Errors: as [`build_wheel`].
pub fn build_sdist(root: &Path, out_dir: &Path, options: &BuildOptions) -> Result<Written> {
    let (name, bytes) = Buildable::load(root)?.sdist_bytes(options)?;
    write_artifact(Kind::Sdist, out_dir, name, &bytes)
}

/// `SOURCE_DATE_EPOCH` from the environment as an integer, if set and valid.
///
/// Errors: set but not an integer (a reproducibility setting must not be silently ignored).
pub fn source_date_epoch_from_env() -> Result<Option<i64>> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) if v.trim().is_empty() => Ok(None),
        Ok(v) => v.trim().parse().map(Some).map_err(|_| {
            Error::invalid(format!(
                "SOURCE_DATE_EPOCH={v:?} is not an integer number of seconds"
            ))
        }),
        Err(_) => Ok(None),
    }
}

/// `build-system.build-backend` of uv's build backend.
pub const UV_BUILD_BACKEND: &str = "uv_build";

/// The PEP 517 build backends this crate reproduces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// `hatchling.build` (hatchling 1.27).
    Hatchling,
    /// `flit_core.buildapi` (flit_core 3.12).
    FlitCore,
    /// `uv_build` (uv_build 0.9, astral-sh/uv's `uv-build-backend`).
    UvBuild,
}

impl Backend {
    /// The `build-system.build-backend` value.
    pub fn entry_point(self) -> &'static str {
        match self {
            Backend::Hatchling => project::HATCHLING_BACKEND,
            Backend::FlitCore => "flit_core.buildapi",
            Backend::UvBuild => UV_BUILD_BACKEND,
        }
    }
}

/// The backend `root/pyproject.toml` names in `[build-system] build-backend`.
///
/// Errors: no pyproject.toml (a setup.py project is [`Error::Unsupported`]); a backend this
/// crate does not reproduce, or none (PEP 517 then means setuptools): [`Error::Unsupported`]
/// naming it and what is supported.
pub fn detect_backend(root: &Path) -> Result<Backend> {
    let doc = project::read_pyproject(root)?;
    let backend = doc
        .get("build-system")
        .and_then(|b| b.get("build-backend"))
        .and_then(toml::Value::as_str);
    match backend {
        Some(project::HATCHLING_BACKEND) => Ok(Backend::Hatchling),
        Some("flit_core.buildapi") => Ok(Backend::FlitCore),
        Some(UV_BUILD_BACKEND) => Ok(Backend::UvBuild),
        Some(other) => Err(Error::unsupported(format!(
            "build backend `{other}` (this builder reproduces `hatchling.build`, `flit_core.buildapi` and `uv_build`); \
             build with `{other}` in a separate CI step and use the prebuilt mode"
        ))),
        None if root.join("setup.py").is_file() => Err(Error::unsupported(
            "setuptools project with setup.py and no `build-system.build-backend`",
        )),
        None => Err(Error::unsupported(
            "no `build-system.build-backend` in pyproject.toml (PEP 517 then means setuptools); \
             set `build-backend = \"hatchling.build\"`, `\"flit_core.buildapi\"` or `\"uv_build\"`",
        )),
    }
}

/// A project loaded for building with the semantics of its own backend.
#[derive(Debug, Clone)]
pub enum Buildable {
    /// A hatchling project.
    Hatchling(Box<Project>),
    /// A flit_core project.
    Flit(Box<flit::FlitProject>),
    /// A uv_build project.
    UvBuild(Box<uvbuild::UvProject>),
}

impl Buildable {
    /// Detects the backend ([`detect_backend`]) and loads the project at `root` with it.
    ///
    /// Errors: as [`detect_backend`], [`Project::load`], [`flit::FlitProject::load`],
    /// [`uvbuild::UvProject::load`].
    pub fn load(root: &Path) -> Result<Buildable> {
        Ok(match detect_backend(root)? {
            Backend::Hatchling => Buildable::Hatchling(Box::new(Project::load(root)?)),
            Backend::FlitCore => Buildable::Flit(Box::new(flit::FlitProject::load(root)?)),
            Backend::UvBuild => Buildable::UvBuild(Box::new(uvbuild::UvProject::load(root)?)),
        })
    }

    /// Which backend's semantics apply.
    pub fn backend(&self) -> Backend {
        match self {
            Buildable::Hatchling(_) => Backend::Hatchling,
            Buildable::Flit(_) => Backend::FlitCore,
            Buildable::UvBuild(_) => Backend::UvBuild,
        }
    }

    /// `[project].name` as written.
    pub fn raw_name(&self) -> &str {
        match self {
            Buildable::Hatchling(p) => &p.raw_name,
            Buildable::Flit(p) => &p.raw_name,
            Buildable::UvBuild(p) => &p.raw_name,
        }
    }

    /// The normalised version.
    pub fn version(&self) -> &str {
        match self {
            Buildable::Hatchling(p) => &p.version,
            Buildable::Flit(p) => &p.version,
            Buildable::UvBuild(p) => &p.version,
        }
    }

    /// The wheel as (file name, bytes).
    pub fn wheel_bytes(&self, options: &BuildOptions) -> Result<(String, Vec<u8>)> {
        match self {
            Buildable::Hatchling(p) => wheel_bytes(p, options),
            Buildable::Flit(p) => p.wheel_bytes(options),
            Buildable::UvBuild(p) => p.wheel_bytes(options),
        }
    }

    /// The sdist as (file name, bytes).
    pub fn sdist_bytes(&self, options: &BuildOptions) -> Result<(String, Vec<u8>)> {
        match self {
            Buildable::Hatchling(p) => sdist_bytes(p, options),
            Buildable::Flit(p) => p.sdist_bytes(options),
            Buildable::UvBuild(p) => p.sdist_bytes(options),
        }
    }
}

/// Which builder builds a project: the build stage's `mode` (docs/build.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BuildMode {
    /// The native builder when it reproduces the project faithfully ([`Buildable::load`]
    /// accepts it), else the project's own backend in the sandbox.
    Auto,
    /// This crate's builder ([`Buildable`]), in the build stage component.
    Native,
    /// The project's own PEP 517 backend, in CPython for WASI (the pep517 stage).
    Pep517,
    /// Nothing is built: the files another CI step put in the output folder are checked.
    Prebuilt,
}

/// What `mode` chose for the project at `root`: the builder and why, in a sentence for the
/// log and the stage output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuilderChoice {
    /// [`BuildMode::Native`], [`BuildMode::Pep517`] or [`BuildMode::Prebuilt`] (never
    /// `Auto`).
    pub builder: BuildMode,
    /// Why, e.g. `mode auto: the native builder does not reproduce build backend
    /// \`setuptools.build_meta\` …`.
    pub why: String,
}

/// `build-system.build-backend` values of backends that compile native code: out of reach
/// of the sandboxed build (CPython for WASI has no compiler), so they keep the prebuilt mode.
pub const COMPILING_BACKENDS: &[&str] = &[
    "maturin",
    "scikit_build_core.build",
    "mesonpy",
    "pymsbuild",
    "sipbuild.api",
    "enscons",
];

/// Chooses the builder `mode` means for the project at `root` (read with `std::fs`, as the
/// build stage reads it).
///
/// - `native`, `pep517`, `prebuilt`: that one.
/// - `auto`: native when [`Buildable::load`] accepts the project; the sandbox when it is
///   [`Error::Unsupported`] (setuptools, pdm-backend, poetry-core, hatch-vcs, a computed
///   flit `__version__`, ...); native for any other error, so that the build stage reports
///   it (a malformed pyproject.toml is the same error either way).
///
/// Errors (a sentence saying what to do): `auto` or `pep517` on a project whose backend is
/// one of [`COMPILING_BACKENDS`].
pub fn choose_builder(root: &Path, mode: BuildMode) -> std::result::Result<BuilderChoice, String> {
    let backend = project::read_pyproject(root).ok().and_then(|doc| {
        doc.get("build-system")
            .and_then(|b| b.get("build-backend"))
            .and_then(toml::Value::as_str)
            .map(str::to_string)
    });
    if matches!(mode, BuildMode::Auto | BuildMode::Pep517)
        && let Some(b) = backend
            .as_deref()
            .filter(|b| COMPILING_BACKENDS.contains(b))
    {
        return Err(format!(
            "build backend `{b}` compiles native code, which neither the native builder nor the sandboxed one (CPython for WASI, no compiler) can do: \
             build the distributions with `{b}` in a separate CI step into the output folder and set `mode = \"prebuilt\"`"
        ));
    }
    let choice = |builder, why: String| Ok(BuilderChoice { builder, why });
    match mode {
        BuildMode::Native => choice(BuildMode::Native, "mode native".into()),
        BuildMode::Prebuilt => choice(BuildMode::Prebuilt, "mode prebuilt".into()),
        BuildMode::Pep517 => choice(
            BuildMode::Pep517,
            format!(
                "mode pep517: the project's own backend ({}) in the sandbox",
                backend
                    .as_deref()
                    .unwrap_or("setuptools.build_meta:__legacy__")
            ),
        ),
        BuildMode::Auto => match Buildable::load(root) {
            Ok(b) => choice(
                BuildMode::Native,
                format!(
                    "mode auto: the native builder reproduces {}",
                    b.backend().entry_point()
                ),
            ),
            Err(Error::Unsupported(what)) => {
                let what = what.split("; ").next().unwrap_or(&what).to_string();
                choice(
                    BuildMode::Pep517,
                    format!(
                        "mode auto: the native builder does not reproduce {what}, so the project's own backend ({}) runs in the sandbox",
                        backend
                            .as_deref()
                            .unwrap_or("setuptools.build_meta:__legacy__")
                    ),
                )
            }
            Err(e) => choice(
                BuildMode::Native,
                format!("mode auto: the native builder reports the project's error ({e})"),
            ),
        },
    }
}
