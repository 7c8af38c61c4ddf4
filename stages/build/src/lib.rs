//! The build stage: builds the sdist and the wheel of the pure-Python project at the stage's
//! root (the guest path `/`, i.e. the manifest's `[pipeline].project`) with
//! [`airlock_pypkg`] (hatchling, flit_core or uv_build semantics, from `[build-system]`),
//! reproducibly,
//! into `out`, and validates them as `twine check --strict` and PyPI would. See
//! docs/build.md.
//!
//! Config (all optional):
//! - `sdist` (bool, default true), `wheel` (bool, default true): what to build.
//! - `out` (string, default `"dist"`): output directory, project-relative (needs a write
//!   grant).
//! - `source_date_epoch` (integer seconds): timestamp of every archive member; else the
//!   `SOURCE_DATE_EPOCH` environment variable when granted and set; else hatchling's default
//!   1580601600 (2020-02-02). uv_build projects ignore it, as uv_build does (their members
//!   are dated 1980-01-01 in the wheel and 0 in the sdist).
//! - `generator` (string, default `airlock-pypkg <version>`): the WHEEL `Generator:` value.
//! - `sdist_compression_level` (1..=9, default 6): the sdist's gzip level. hatchling and
//!   flit use 9, which takes zlib-rs 2-3x longer for sizes within about 1% of level 6's
//!   (mypylogger 0.2.8: 862 KB at 9, 853 KB at 6); set 9 to compress as they do (uv_build
//!   projects always get 6, uv_build's level).
//! - `validate` (bool, default true): check every built file as `twine check --strict` and
//!   PyPI's upload endpoint would ([`airlock_pypkg::validate`]) before writing it.
//! - `mode` (`"auto"`, default, `"native"` (or `"build"`), `"pep517"` or `"prebuilt"`): which
//!   builder builds the project ([`airlock_pypkg::choose_builder`]). `native` is this
//!   component; `auto` is this component when it reproduces the project's backend
//!   faithfully, else the project's own backend in the sandbox. The host binds the stage to
//!   the sandboxed build (the pep517 component) before the run when the choice is `pep517`,
//!   so this component only ever runs the native and prebuilt modes. `deps` (the sandboxed
//!   build's folder of backend wheels) and `version` (its `SETUPTOOLS_SCM_PRETEND_VERSION`)
//!   are accepted and used only there.
//!   In prebuilt mode nothing is built; every
//!   `*.whl` and `*.tar.gz` in `out` (put there by an earlier CI step with the project's own
//!   backend) is validated and reported, so a project this builder cannot build (setup.py,
//!   build hooks, compiled extensions) is still checked and published. `out` needs a write
//!   grant all the same: the host accepts a stage's artifacts only from inside its write
//!   grants. All files must be of one release (same normalised name and version).
//!
//! Output:
//! ```json
//! { "mode": "build", "builder": "native", "why": "mode auto: the native builder reproduces hatchling.build",
//!   "name": "mypylogger", "version": "0.2.8", "backend": "hatchling",
//!   "source_date_epoch": 1580601600,
//!   "artifacts": [ { "kind": "sdist", "path": "dist/mypylogger-0.2.8.tar.gz",
//!                    "filename": "mypylogger-0.2.8.tar.gz", "sha256": "<hex>", "size": 853374 },
//!                  { "kind": "wheel", ... } ] }
//! ```
//! `path` is project-relative (`out` joined with `filename`); `sha256` is lowercase hex;
//! `size` in bytes. Sdist first, then wheel (the order twine uploads them). Each artifact
//! also has `findings`: the validator's warnings (`file`, `rule`, `severity`, `message`,
//! `fix`); the output has `mode` (`build` or `prebuilt`; prebuilt has no
//! `source_date_epoch`, and `name`/`version` come from the files' metadata).
//!
//! Errors: an unsupported project (setup.py, another backend, hooks) is a `build` error
//! naming what, with a hint about the prebuilt mode; a missing pyproject.toml or an ungranted
//! path is a `capability` error naming the path; invalid metadata is a `validation` error;
//! a file that fails validation is a `validation` error listing every failed check as
//! `file: [rule] message`, with the fixes as the hint (a built file failing is not written).

use std::path::{Path, PathBuf};

use airlock_pypkg::validate::{Finding, Report, Severity};
use airlock_pypkg::{Backend, BuildMode, BuildOptions, Error, Kind};
use airlock_stage::{Artifact, Category, Output, Request, StageError};
use serde::{Deserialize, Serialize};

/// The stage's output (the module docs give its JSON).
#[derive(Debug, Serialize)]
struct Built {
    /// `"build"` or `"prebuilt"`.
    mode: &'static str,
    /// `"native"` or `"prebuilt"`: the builder that ran (the sandboxed build's output says
    /// `"pep517"`).
    builder: BuildMode,
    /// Why that builder: the mode, and in `auto` what the choice rested on.
    why: String,
    /// `[project].name` as written (prebuilt: the metadata `Name`).
    name: String,
    /// The normalised version.
    version: String,
    /// The backend whose semantics were reproduced (build mode only).
    #[serde(skip_serializing_if = "Option::is_none")]
    backend: Option<Backend>,
    /// The archives' timestamp, in seconds (build mode only).
    #[serde(skip_serializing_if = "Option::is_none")]
    source_date_epoch: Option<i64>,
    /// Sdist first, then wheel.
    artifacts: Vec<Distribution>,
}

/// One distribution file of the output.
#[derive(Debug, Serialize)]
struct Distribution {
    kind: Kind,
    /// Project-relative path, digest and size: what the host checks and keeps.
    #[serde(flatten)]
    file: Artifact,
    filename: String,
    /// The validator's warnings (errors stop the stage).
    findings: Vec<Finding>,
}

impl Output for Built {
    fn artifacts(&self) -> Vec<Artifact> {
        self.artifacts.iter().map(|d| d.file.clone()).collect()
    }
}

/// The stage config (`[stage.config]` in the manifest).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Config {
    sdist: bool,
    wheel: bool,
    out: String,
    source_date_epoch: Option<i64>,
    generator: Option<String>,
    mode: Mode,
    validate: bool,
    sdist_compression_level: u32,
    /// The sandboxed build's backend wheels (used only when the host binds the stage to it).
    #[allow(dead_code)]
    deps: Option<String>,
    /// The sandboxed build's `SETUPTOOLS_SCM_PRETEND_VERSION` (used only there).
    #[allow(dead_code)]
    version: Option<String>,
    /// Set by the host when the choice is the sandboxed build but it could not bind the
    /// stage to it: why (e.g. the pep517 component is not installed).
    sandbox_unavailable: Option<String>,
}

/// `mode` as written: [`BuildMode`], with `"build"` the old name of `"native"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Mode {
    Auto,
    #[serde(alias = "build")]
    Native,
    Pep517,
    Prebuilt,
}

impl From<Mode> for BuildMode {
    fn from(m: Mode) -> BuildMode {
        match m {
            Mode::Auto => BuildMode::Auto,
            Mode::Native => BuildMode::Native,
            Mode::Pep517 => BuildMode::Pep517,
            Mode::Prebuilt => BuildMode::Prebuilt,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            sdist: true,
            wheel: true,
            out: "dist".into(),
            source_date_epoch: None,
            generator: None,
            mode: Mode::Auto,
            validate: true,
            sdist_compression_level: airlock_pypkg::DEFAULT_SDIST_GZIP_LEVEL,
            deps: None,
            version: None,
            sandbox_unavailable: None,
        }
    }
}

fn stage_error(root: &Path, e: Error) -> StageError {
    match e {
        Error::Io { path, source } => {
            let rel = path.strip_prefix(root).unwrap_or(&path);
            StageError::io(&rel.to_string_lossy(), &source)
        }
        Error::Unsupported(what) => StageError::new(
            Category::Build,
            format!("cannot build this project faithfully: unsupported {what}"),
        )
        .with_hint(
            "build the distributions with the project's own backend in a separate CI step \
             (e.g. `python -m build`) into the `out` directory, then run this stage with \
             `mode = \"prebuilt\"` to validate and publish them unbuilt",
        ),
        e @ (Error::Toml { .. } | Error::Invalid(_)) => StageError::validation(e.to_string())
            .with_hint(
                "fix pyproject.toml (the PEP 621 [project] table, or the backend's [tool.hatch] / [tool.flit] / [tool.uv.build-backend] settings)",
            ),
    }
}

/// Runs the build at project root `root` (`/` in the component); `why` says why the native
/// builder.
fn build(root: &Path, config: &Config, why: String) -> Result<Built, StageError> {
    let epoch = match config.source_date_epoch {
        Some(e) => e,
        None => airlock_pypkg::source_date_epoch_from_env()
            .map_err(|e| StageError::config(e.to_string()))?
            .unwrap_or(airlock_pypkg::DEFAULT_SOURCE_DATE_EPOCH),
    };
    if !(1..=9).contains(&config.sdist_compression_level) {
        return Err(StageError::config(format!(
            "`sdist_compression_level` is {}, it must be 1 (fastest) to 9 (smallest)",
            config.sdist_compression_level
        )));
    }
    let mut options = BuildOptions {
        source_date_epoch: epoch,
        sdist_gzip_level: config.sdist_compression_level,
        ..BuildOptions::default()
    };
    if let Some(g) = &config.generator {
        options.generator = g.clone();
    }
    let project = airlock_pypkg::Buildable::load(root).map_err(|e| stage_error(root, e))?;
    airlock_stage::host::info(&format!(
        "building {} {} with {} semantics (SOURCE_DATE_EPOCH={epoch})",
        project.raw_name(),
        project.version(),
        project.backend().entry_point()
    ));
    let out_rel = PathBuf::from(config.out.trim_start_matches('/'));
    let out_dir = root.join(&out_rel);
    std::fs::create_dir_all(&out_dir).map_err(|e| StageError::io(&config.out, &e))?;
    let mut artifacts = Vec::new();
    let mut kinds = Vec::new();
    if config.sdist {
        kinds.push(Kind::Sdist);
    }
    if config.wheel {
        kinds.push(Kind::Wheel);
    }
    if kinds.is_empty() {
        return Err(
            StageError::config("both `sdist` and `wheel` are false: nothing to build")
                .with_hint("set `sdist = true` and/or `wheel = true` in the stage config"),
        );
    }
    let total = kinds.len() as u64;
    for (i, kind) in kinds.into_iter().enumerate() {
        let (filename, bytes) = match kind {
            Kind::Sdist => project.sdist_bytes(&options),
            Kind::Wheel => project.wheel_bytes(&options),
        }
        .map_err(|e| stage_error(root, e))?;
        let path = out_dir.join(&filename);
        let rel = out_rel.join(&filename).to_string_lossy().replace('\\', "/");
        let findings = if config.validate {
            check(&rel, &bytes)?.findings
        } else {
            Vec::new()
        };
        std::fs::write(&path, &bytes).map_err(|e| StageError::io(&rel, &e))?;
        let sha256 = airlock_pypkg::sha256_hex(&bytes);
        airlock_stage::host::progress(i as u64 + 1, Some(total), &format!("wrote {rel}"));
        artifacts.push(Distribution {
            kind,
            file: Artifact {
                path: rel,
                sha256,
                size: bytes.len() as u64,
            },
            filename,
            findings,
        });
    }
    Ok(Built {
        mode: "build",
        builder: BuildMode::Native,
        why,
        name: project.raw_name().to_string(),
        version: project.version().to_string(),
        backend: Some(project.backend()),
        source_date_epoch: Some(epoch),
        artifacts,
    })
}

/// Validates `bytes` as distribution `rel` (project-relative path); errors name every failed
/// check. Returns the report (its findings are warnings only, when it passes).
fn check(rel: &str, bytes: &[u8]) -> Result<Report, StageError> {
    let filename = rel.rsplit('/').next().unwrap_or(rel);
    let report = airlock_pypkg::validate::validate(filename, bytes);
    for w in report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Warning)
    {
        airlock_stage::host::warn(&format!(
            "{}: [{}] {} (fix: {})",
            w.file, w.rule, w.message, w.fix
        ));
    }
    if !report.passed() {
        let lines: Vec<String> = report
            .errors()
            .map(|f| format!("{}: [{}] {}", f.file, f.rule, f.message))
            .collect();
        let fixes: Vec<String> = report.errors().map(|f| f.fix.clone()).collect();
        let mut fixes_unique = Vec::new();
        for f in fixes {
            if !fixes_unique.contains(&f) {
                fixes_unique.push(f);
            }
        }
        return Err(StageError::validation(format!(
            "{rel} would be refused by PyPI or `twine check --strict` ({} problem{}):\n{}",
            lines.len(),
            if lines.len() == 1 { "" } else { "s" },
            lines.join("\n")
        ))
        .with_hint(fixes_unique.join("; ")));
    }
    Ok(report)
}

/// Prebuilt mode: validates every `*.whl` and `*.tar.gz` in `out` (built by another CI step)
/// and reports them as if built here.
fn prebuilt(root: &Path, config: &Config) -> Result<Built, StageError> {
    let out_rel = PathBuf::from(config.out.trim_start_matches('/'));
    let dir = root.join(&out_rel);
    let entries = std::fs::read_dir(&dir).map_err(|e| StageError::io(&config.out, &e))?;
    let mut names = Vec::new();
    for e in entries {
        let e = e.map_err(|e| StageError::io(&config.out, &e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if (name.ends_with(".whl") || name.ends_with(".tar.gz"))
            && e.file_type().is_ok_and(|t| t.is_file())
        {
            names.push(name);
        }
    }
    // Sdists first, then wheels (the order twine uploads them), each sorted by name.
    names.sort_by_key(|n| (n.ends_with(".whl"), n.clone()));
    if names.is_empty() {
        return Err(StageError::validation(format!(
            "prebuilt mode: no .whl or .tar.gz file in `{}`",
            config.out
        ))
        .with_hint(
            "build the distributions in an earlier CI step (e.g. `python -m build`) into this \
             directory, or set `mode = \"build\"`",
        ));
    }
    let mut artifacts = Vec::new();
    let mut release: Option<(String, String)> = None;
    let mut raw_name = String::new();
    let total = names.len() as u64;
    for (i, filename) in names.into_iter().enumerate() {
        let rel = out_rel.join(&filename).to_string_lossy().replace('\\', "/");
        let bytes = std::fs::read(dir.join(&filename)).map_err(|e| StageError::io(&rel, &e))?;
        let report = check(&rel, &bytes)?;
        let name = report.name.clone().unwrap_or_default();
        let version = report.version.clone().unwrap_or_default();
        let key = (
            airlock_pypkg::validate::filename_name(&name),
            airlock_pypkg::project::normalize_version(&version).unwrap_or(version.clone()),
        );
        match &release {
            None => {
                raw_name = name.clone();
                release = Some(key);
            }
            Some(k) if *k != key => {
                return Err(StageError::validation(format!(
                    "prebuilt mode: `{}` holds distributions of different releases: {} {} and {name} {version} ({rel})",
                    config.out, k.0, k.1
                ))
                .with_hint("keep only the files of the one release to publish in the directory"));
            }
            Some(_) => {}
        }
        airlock_stage::host::progress(i as u64 + 1, Some(total), &format!("validated {rel}"));
        let kind = report.kind.ok_or_else(|| {
            StageError::internal(format!(
                "{rel} passed validation but is neither sdist nor wheel"
            ))
        })?;
        artifacts.push(Distribution {
            kind,
            file: Artifact {
                path: rel,
                sha256: airlock_pypkg::sha256_hex(&bytes),
                size: bytes.len() as u64,
            },
            filename,
            findings: report.findings,
        });
    }
    let version = release.map(|(_, v)| v).unwrap_or_default();
    Ok(Built {
        mode: "prebuilt",
        builder: BuildMode::Prebuilt,
        why: "mode prebuilt".into(),
        name: raw_name,
        version,
        backend: None,
        source_date_epoch: None,
        artifacts,
    })
}

fn run(req: &Request) -> Result<Built, StageError> {
    let config: Config = req.config()?;
    run_at(Path::new("/"), &config)
}

/// Chooses the builder `config.mode` means for the project at `root` and runs it.
fn run_at(root: &Path, config: &Config) -> Result<Built, StageError> {
    let choice = airlock_pypkg::choose_builder(root, config.mode.into()).map_err(|e| {
        StageError::new(Category::Build, e).with_hint(
            "build the distributions in a separate CI step into the `out` directory and set `mode = \"prebuilt\"`",
        )
    })?;
    match choice.builder {
        BuildMode::Prebuilt => prebuilt(root, config),
        BuildMode::Pep517 => Err(StageError::new(
            Category::Build,
            format!(
                "{}, but {}",
                choice.why,
                config.sandbox_unavailable.as_deref().unwrap_or(
                    "the host did not bind this stage to the sandboxed build (the pep517 component)"
                )
            ),
        )
        .with_hint(
            "install the pep517 component (docs/build.md), or build the distributions with the project's own backend in a separate CI step into the `out` directory and set `mode = \"prebuilt\"`",
        )),
        BuildMode::Native | BuildMode::Auto => build(root, config, choice.why),
    }
}

airlock_stage::export_stage!(run);

#[cfg(test)]
mod tests {
    use super::*;

    /// The output as the host and downstream stages see it.
    fn json(out: Built) -> serde_json::Value {
        serde_json::to_value(out).unwrap()
    }

    fn demo(dir: &Path) {
        std::fs::create_dir_all(dir.join("src/demo_pkg")).unwrap();
        std::fs::write(
            dir.join("pyproject.toml"),
            "[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n\n\
             [project]\nname = \"demo-pkg\"\nversion = \"1.0\"\nreadme = \"README.md\"\n",
        )
        .unwrap();
        std::fs::write(dir.join("README.md"), "# demo\n").unwrap();
        std::fs::write(dir.join("src/demo_pkg/__init__.py"), "x = 1\n").unwrap();
    }

    #[test]
    fn builds_both_and_reports_them() {
        let tmp = tempfile::tempdir().unwrap();
        demo(tmp.path());
        let config = Config {
            source_date_epoch: Some(1_700_000_000),
            ..Config::default()
        };
        let out = json(run_at(tmp.path(), &config).unwrap());
        assert_eq!(out["name"], "demo-pkg");
        assert_eq!(out["version"], "1.0");
        let arts = out["artifacts"].as_array().unwrap();
        assert_eq!(arts[0]["kind"], "sdist");
        assert_eq!(arts[0]["path"], "dist/demo_pkg-1.0.tar.gz");
        assert_eq!(arts[1]["filename"], "demo_pkg-1.0-py2.py3-none-any.whl");
        let bytes =
            std::fs::read(tmp.path().join("dist/demo_pkg-1.0-py2.py3-none-any.whl")).unwrap();
        assert_eq!(arts[1]["size"], bytes.len());
        assert_eq!(arts[1]["sha256"], airlock_pypkg::sha256_hex(&bytes));
    }

    #[test]
    fn builds_a_uv_build_project() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        std::fs::create_dir_all(dir.join("src/demo_pkg")).unwrap();
        std::fs::write(
            dir.join("pyproject.toml"),
            "[build-system]\nrequires = [\"uv_build>=0.9,<0.10\"]\nbuild-backend = \"uv_build\"\n\n\
             [project]\nname = \"Demo.Pkg\"\nversion = \"1.0\"\nreadme = \"README.md\"\n",
        )
        .unwrap();
        std::fs::write(dir.join("README.md"), "# demo\n").unwrap();
        std::fs::write(dir.join("src/demo_pkg/__init__.py"), "x = 1\n").unwrap();
        let out = json(run_at(dir, &Config::default()).unwrap());
        assert_eq!(out["backend"], "uv_build");
        assert_eq!(out["name"], "Demo.Pkg");
        let arts = out["artifacts"].as_array().unwrap();
        assert_eq!(arts[0]["filename"], "demo_pkg-1.0.tar.gz");
        assert_eq!(arts[1]["filename"], "demo_pkg-1.0-py3-none-any.whl");

        // A missing module is a validation error naming the path uv_build looks for.
        std::fs::remove_dir_all(dir.join("src")).unwrap();
        let err = run_at(dir, &Config::default()).unwrap_err();
        assert_eq!(err.category, Category::Validation);
        assert!(
            err.message.contains("src/demo_pkg/__init__.py"),
            "{}",
            err.message
        );
    }

    #[test]
    fn modes_choose_the_builder_and_say_why() {
        let tmp = tempfile::tempdir().unwrap();
        demo(tmp.path());
        let out = json(run_at(tmp.path(), &Config::default()).unwrap());
        assert_eq!(out["builder"], "native");
        assert!(
            out["why"]
                .as_str()
                .unwrap()
                .contains("mode auto: the native builder reproduces"),
            "{out}"
        );
        // A setuptools project: native refuses it; auto and pep517 belong to the sandboxed
        // build, which the host binds before the run (this component cannot run it).
        let st = tempfile::tempdir().unwrap();
        std::fs::write(
            st.path().join("pyproject.toml"),
            "[build-system]\nrequires = [\"setuptools\"]\nbuild-backend = \"setuptools.build_meta\"\n[project]\nname = \"x\"\nversion = \"1\"\n",
        )
        .unwrap();
        let native = Config {
            mode: Mode::Native,
            ..Config::default()
        };
        let e = run_at(st.path(), &native).unwrap_err();
        assert!(
            e.message
                .contains("unsupported build backend `setuptools.build_meta`"),
            "{}",
            e.message
        );
        let e = run_at(st.path(), &Config::default()).unwrap_err();
        assert!(
            e.message
                .contains("the project's own backend (setuptools.build_meta) runs in the sandbox"),
            "{}",
            e.message
        );
        // A backend that compiles native code keeps the prebuilt mode, and says so.
        std::fs::write(
            st.path().join("pyproject.toml"),
            "[build-system]\nbuild-backend = \"maturin\"\n",
        )
        .unwrap();
        let e = run_at(st.path(), &Config::default()).unwrap_err();
        assert!(
            e.message.contains("compiles native code") && e.message.contains("prebuilt"),
            "{}",
            e.message
        );
    }

    #[test]
    fn prebuilt_mode_validates_and_reports_without_building() {
        let tmp = tempfile::tempdir().unwrap();
        demo(tmp.path());
        run_at(tmp.path(), &Config::default()).unwrap();
        // The project is gone: only dist/ is there, as after a separate build job.
        std::fs::remove_dir_all(tmp.path().join("src")).unwrap();
        let config = Config {
            mode: Mode::Prebuilt,
            ..Config::default()
        };
        let out = json(prebuilt(tmp.path(), &config).unwrap());
        assert_eq!(out["mode"], "prebuilt");
        assert_eq!(out["name"], "demo-pkg");
        assert_eq!(out["version"], "1.0");
        let arts = out["artifacts"].as_array().unwrap();
        assert_eq!(arts.len(), 2);
        assert_eq!(arts[0]["kind"], "sdist");
        assert_eq!(arts[1]["kind"], "wheel");
        assert_eq!(arts[1]["findings"], serde_json::json!([]));

        // A file from elsewhere that PyPI would refuse: named, with the rule and a fix.
        std::fs::write(
            tmp.path().join("dist/demo_pkg-1.0-py3-none-any.whl"),
            b"PK junk",
        )
        .unwrap();
        let err = prebuilt(tmp.path(), &config).unwrap_err();
        assert_eq!(err.category, Category::Validation);
        assert!(
            err.message
                .contains("dist/demo_pkg-1.0-py3-none-any.whl would be refused")
                && err.message.contains("[zip]"),
            "{}",
            err.message
        );
        assert!(err.hint.is_some());

        // Two releases in one directory is a mistake, not a release.
        std::fs::remove_file(tmp.path().join("dist/demo_pkg-1.0-py3-none-any.whl")).unwrap();
        let mut other = tmp.path().join("other");
        demo(&other);
        std::fs::write(
            other.join("pyproject.toml"),
            std::fs::read_to_string(other.join("pyproject.toml"))
                .unwrap()
                .replace("1.0", "2.0"),
        )
        .unwrap();
        run_at(&other, &Config::default()).unwrap();
        other.push("dist/demo_pkg-2.0.tar.gz");
        std::fs::copy(&other, tmp.path().join("dist/demo_pkg-2.0.tar.gz")).unwrap();
        let err = prebuilt(tmp.path(), &config).unwrap_err();
        assert!(
            err.message.contains("different releases"),
            "{}",
            err.message
        );

        let empty = tempfile::tempdir().unwrap();
        std::fs::create_dir(empty.path().join("dist")).unwrap();
        let err = prebuilt(empty.path(), &config).unwrap_err();
        assert!(
            err.message.contains("no .whl or .tar.gz"),
            "{}",
            err.message
        );
    }

    #[test]
    fn config_errors_and_unsupported_projects_are_typed() {
        let req = Request::new("build", serde_json::json!({ "wheel": "yes" }));
        let err = run(&req).unwrap_err();
        assert_eq!(err.category, Category::Configuration);
        assert!(err.message.contains("config.wheel"), "{}", err.message);

        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(
            tmp.path().join("setup.py"),
            "from setuptools import setup\nsetup()\n",
        )
        .unwrap();
        let err = run_at(tmp.path(), &Config::default()).unwrap_err();
        assert_eq!(err.category, Category::Build);
        assert!(err.message.contains("setup.py"), "{}", err.message);
        assert!(err.hint.is_some());

        let empty = tempfile::tempdir().unwrap();
        let err = run_at(empty.path(), &Config::default()).unwrap_err();
        assert_eq!(err.category, Category::Capability);
        assert!(err.message.contains("pyproject.toml"), "{}", err.message);
    }
}
