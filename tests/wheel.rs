//! `pip install airlock-release` installs a working `airlock` (issue 15): the maturin wheel
//! (pyproject.toml, `bindings = "bin"`) in target/wheels, end to end, on loopback only:
//! - it is a platform wheel (`py3-none-manylinux_…_ARCH`, never `py3-none-any`) holding the
//!   binary as a script, and `pip install`ed into a fresh venv it runs the bundled demo
//!   pipeline with nothing from the workspace (its own cwd and compile cache);
//! - `uvx --from <wheel> airlock` and `pipx run --spec <wheel> airlock` run it too, offline,
//!   each in its own throwaway environment;
//! - airlock releases itself: `examples/self/release.toml` validates the wheel (build stage,
//!   prebuilt mode) and uploads it to a pypiserver with a token the host injects, and
//!   `pip install --index-url … airlock-release` from there gives the same binary, and
//!   `uvx --from airlock-release` and `pipx run --spec airlock-release` run it by name.
//!
//! The wheel is built before the tests (scripts/test does), reusing the dev build instead of
//! compiling wasmtime a second time: `maturin build --profile dev --out target/wheels`.
//! These tests never build it, so they test the wheel as it was last built.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use airlock_test_support::{PypiServer, workspace};
use common::{airlock, copy_tree, on_server, report, stage};

/// The command that builds the wheel these tests install.
const BUILD_WHEEL: &str = "maturin build --profile dev --out target/wheels";
const VERSION: &str = env!("CARGO_PKG_VERSION");
const TOKEN: &str = "pypi-AgEIcHlwaS5vcmcWheelSelfReleaseToken7";

/// This version's wheel for this machine's architecture in target/wheels; panics with the
/// command that builds it when there is none.
fn wheel() -> PathBuf {
    let dir = workspace().join("target/wheels");
    let prefix = format!("airlock_release-{VERSION}-");
    let arch = std::env::consts::ARCH;
    std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with(&prefix) && name.ends_with(&format!("_{arch}.whl"))
        })
        .unwrap_or_else(|| {
            panic!(
                "no {prefix}*_{arch}.whl in {}: build it from the workspace root with\n    \
                 python3 -m pip install -r tests/requirements.txt && {BUILD_WHEEL}",
                dir.display()
            )
        })
}

/// Runs `cmd`; panics with both streams unless it succeeds.
fn ok(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A fresh venv (`python3 -m venv`) in `dir` with `airlock-release` pip-installed from
/// `source` (extra pip arguments: a wheel file, or an index and a requirement), offline
/// but for `source`. Returns the installed `airlock`.
fn venv_with(dir: &Path, source: &[&str]) -> PathBuf {
    ok(Command::new("python3")
        .args(["-m", "venv", "--without-pip"])
        .arg(dir));
    let python = dir.join("bin/python");
    // The outer pip installs into the venv (`--python`): no ensurepip per venv.
    // `--isolated`: no pip config or PIP_* variable adds an index or a links folder.
    ok(Command::new("python3")
        .args(["-m", "pip", "--isolated", "--python"])
        .arg(&python)
        .args([
            "install",
            "--disable-pip-version-check",
            "--no-cache-dir",
            "--no-deps",
        ])
        .args(source));
    let bin = dir.join("bin/airlock");
    let help = ok(Command::new(&bin).arg("--help"));
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("Usage: airlock") && help.contains("run"),
        "{help}"
    );
    bin
}

fn sha256(path: &Path) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

/// The bytes of member `name` of the wheel at `wheel`; panics when it has none.
fn member(wheel: &Path, name: &str) -> Vec<u8> {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(wheel).unwrap()).unwrap();
    let mut file = zip
        .by_name(name)
        .unwrap_or_else(|e| panic!("{}: no {name}: {e}", wheel.display()));
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut file, &mut bytes).unwrap();
    bytes
}

/// The wheel's `airlock` binary (`bindings = "bin"` puts it in the scripts).
fn script() -> String {
    format!("airlock_release-{VERSION}.data/scripts/airlock")
}

/// The wheel is tagged for this platform and carries the binary as a script; installed
/// into a fresh venv, `airlock` runs the demo pipeline (scan → decide → build → publish →
/// status) from a temp dir with an empty compile cache: the binary is self-contained.
#[test]
fn wheel_is_a_platform_wheel_whose_airlock_runs_the_demo() {
    let wheel = wheel();
    let name = wheel.file_name().unwrap().to_string_lossy().into_owned();
    let stem = name.strip_suffix(".whl").unwrap();
    let [_, _, python, abi, platforms] = stem.split('-').collect::<Vec<_>>()[..] else {
        panic!("{name}: not name-version-python-abi-platform.whl");
    };
    assert_eq!((python, abi), ("py3", "none"), "{name}");
    let arch = std::env::consts::ARCH;
    for p in platforms.split('.') {
        // PyPI refuses a bare `linux_ARCH` tag: only manylinux (or musllinux) ones.
        assert!(
            p.strip_prefix("manylinux")
                .is_some_and(|rest| rest.ends_with(&format!("_{arch}"))),
            "{name}: platform tag {p} is not a manylinux {arch} tag (PyPI refuses linux_*)"
        );
    }
    assert!(member(&wheel, &script()).starts_with(b"\x7fELF"), "{name}");
    let text = member(
        &wheel,
        &format!("airlock_release-{VERSION}.dist-info/WHEEL"),
    );
    let text = String::from_utf8_lossy(&text);
    assert!(text.contains("Root-Is-Purelib: false"), "{text}");

    let tmp = tempfile::tempdir().unwrap();
    let bin = venv_with(
        &tmp.path().join("venv"),
        &["--no-index", wheel.to_str().unwrap()],
    );
    let version = ok(Command::new(&bin).arg("--version"));
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("airlock {VERSION}")
    );

    let project = tmp.path().join("demo");
    copy_tree(&workspace().join("examples/demo"), &project);
    let out = Command::new(&bin)
        .args(["run", "release.toml", "--format", "json"])
        .current_dir(&project)
        .env("AIRLOCK_CACHE_DIR", tmp.path().join("cache"))
        .env("PYPI_TOKEN", "")
        .env_remove("GITHUB_ACTIONS")
        .output()
        .unwrap();
    let r = report(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    common::assert_succeeded(&r, &common::RELEASE_STAGES);
    assert_eq!(stage(&r, "decide")["output"]["release"], true);
    assert!(project.join(".airlock/index/simple/airlock-demo").is_dir());
}

/// airlock publishes its own wheel: examples/self/release.toml (prebuilt build stage →
/// authenticate with PYPI_TOKEN → upload) sends it to a pypiserver that needs the token,
/// and pip installs `airlock-release` from that index into a fresh venv: the same binary.
#[test]
fn airlock_releases_itself_and_pip_installs_it_from_the_index() {
    let wheel = wheel();
    let name = wheel.file_name().unwrap().to_string_lossy().into_owned();
    let tmp = tempfile::tempdir().unwrap();
    // The project: a stand-in for the repository root with the wheel in dist/.
    let project = tmp.path().join("airlock");
    std::fs::create_dir_all(project.join("dist")).unwrap();
    std::fs::copy(&wheel, project.join("dist").join(&name)).unwrap();
    let server = PypiServer::start(Some(("__token__", TOKEN)));

    let manifest = workspace().join("examples/self/release.toml");
    let repository = format!("upload.repository={}", server.url());
    let out = airlock(
        &[
            "run",
            manifest.to_str().unwrap(),
            "--project",
            project.to_str().unwrap(),
            "--set",
            &repository,
            "--format",
            "json",
        ],
        &[("PYPI_TOKEN", TOKEN)],
    );
    let r = report(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let build = &stage(&r, "build")["output"];
    assert_eq!(build["mode"], "prebuilt", "{build}");
    assert_eq!(build["name"], "airlock-release", "{build}");
    assert_eq!(build["version"], VERSION, "{build}");
    assert_eq!(build["artifacts"][0]["filename"], name.as_str(), "{build}");
    assert_eq!(build["artifacts"][0]["sha256"], sha256(&wheel), "{build}");
    let upload = &stage(&r, "upload")["output"];
    assert_eq!(upload["files"][0]["status"], "uploaded", "{upload}");
    assert_eq!(upload["verified"], true, "{upload}");
    assert_eq!(on_server(&server), [server.packages.join(&name)]);

    let requirement = format!("airlock-release=={VERSION}");
    let bin = venv_with(
        &tmp.path().join("venv"),
        &["--index-url", &server.simple(), &requirement],
    );
    assert!(
        std::fs::read(&bin).unwrap() == member(&wheel, &script()),
        "pip installed another binary than the wheel's"
    );

    // `uvx --from airlock-release airlock` and `pipx run --spec airlock-release airlock`
    // by name, from that index (loopback only).
    let python = python3();
    let t = tmp.path();
    let by_name = [
        Command::new("uvx")
            .args(["--no-config", "--no-python-downloads", "--python", &python])
            .args([
                "--index-url",
                &server.simple(),
                "--from",
                &requirement,
                "airlock",
            ])
            .env("UV_CACHE_DIR", t.join("uv-cache"))
            .env("UV_TOOL_DIR", t.join("uv-tools"))
            .arg("--version")
            .output(),
        Command::new(&python)
            .args(["-m", "pipx", "run", "--python", &python])
            .arg(format!("--pip-args=--index-url {}", server.simple()))
            .args(["--spec", &requirement, "airlock", "--version"])
            .env("PIPX_HOME", t.join("pipx-home"))
            .env("PIPX_BIN_DIR", t.join("pipx-bin"))
            .env("PIPX_MAN_DIR", t.join("pipx-man"))
            .env("PIPX_DISABLE_SHARED_LIBS_AUTO_UPGRADE", "1")
            .env_remove("PIP_FIND_LINKS")
            .output(),
    ];
    for (runner, out) in ["uvx", "pipx run"].iter().zip(by_name) {
        let out = out.unwrap_or_else(|e| panic!("cannot run {runner}: {e}"));
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            format!("airlock {VERSION}"),
            "{runner} --from/--spec {requirement}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `python3`'s own path (`sys.executable`), which uv and pipx are told to use.
fn python3() -> String {
    let out = ok(Command::new("python3").args(["-c", "import sys; print(sys.executable)"]));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// `uvx --from airlock-release airlock` and `pipx run --spec airlock-release airlock` (the
/// README's ways to run airlock without installing it) work on this wheel, each offline,
/// with its own cache and tool folders under a temp dir: `--version`, then `audit` of the
/// demo manifest, which loads and type-checks every built-in component.
#[test]
fn uvx_and_pipx_run_the_wheel() {
    let wheel = wheel();
    let wheel = wheel.to_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let demo = workspace().join("examples/demo/release.toml");
    let python = python3();

    // `uvx`: --offline and --no-config keep uv off the network and away from user settings.
    // `pipx run`: its shared pip is the interpreter's bundled one (no upgrade from PyPI),
    // and pip is told to use no index.
    let runner = |name: &str| {
        let mut cmd;
        if name == "uvx" {
            cmd = Command::new("uvx");
            cmd.args(["--offline", "--no-config", "--no-python-downloads"])
                .args(["--python", &python, "--from", wheel, "airlock"])
                .env("UV_CACHE_DIR", t.join("uv-cache"))
                .env("UV_TOOL_DIR", t.join("uv-tools"));
        } else {
            cmd = Command::new(&python);
            cmd.args([
                "-m",
                "pipx",
                "run",
                "--python",
                &python,
                "--pip-args=--no-index",
            ])
            .args(["--spec", wheel, "airlock"])
            .env("PIPX_HOME", t.join("pipx-home"))
            .env("PIPX_BIN_DIR", t.join("pipx-bin"))
            .env("PIPX_MAN_DIR", t.join("pipx-man"))
            .env("PIPX_DISABLE_SHARED_LIBS_AUTO_UPGRADE", "1");
        }
        cmd.env("AIRLOCK_CACHE_DIR", t.join(format!("{name}-airlock-cache")))
            .env_remove("VIRTUAL_ENV")
            .env_remove("PIP_INDEX_URL")
            .env_remove("PIP_FIND_LINKS");
        cmd
    };
    for name in ["uvx", "pipx"] {
        let version = ok(runner(name).arg("--version"));
        assert_eq!(
            String::from_utf8_lossy(&version.stdout).trim(),
            format!("airlock {VERSION}"),
            "{name}"
        );
        let audit = ok(runner(name).args(["audit", demo.to_str().unwrap()]));
        let audit = String::from_utf8_lossy(&audit.stdout);
        for stage in ["detect", "decide", "build", "upload", "status"] {
            assert!(
                audit.contains(&format!("builtin:{stage}")),
                "{name}: audit names no builtin:{stage}:\n{audit}"
            );
        }
    }
}

/// The sandboxed build ships as a companion wheel (`scripts/package-pep517`): installed with
/// airlock-release, its `share/airlock/pep517.wasm` lands beside `bin/airlock`, where the
/// binary finds it, so `mode = "auto"` builds a setuptools project in the sandbox with no
/// path or variable set.
#[test]
fn the_companion_wheel_puts_the_sandboxed_build_beside_airlock() {
    let (component, sha) = airlock_test_support::pep517_component();
    let tmp = tempfile::tempdir().unwrap();
    let wheels = tmp.path().join("wheels");
    let packaged = ok(Command::new(workspace().join("scripts/package-pep517"))
        .arg(&component)
        .arg(&wheels));
    let said = String::from_utf8_lossy(&packaged.stdout);
    assert!(said.trim().ends_with(&sha), "{said}");
    let companion = wheels.join(format!("airlock_pep517-{VERSION}-py3-none-any.whl"));
    let venv = tmp.path().join("venv");
    let bin = venv_with(
        &venv,
        &[
            "--no-index",
            wheel().to_str().unwrap(),
            companion.to_str().unwrap(),
        ],
    );
    assert_eq!(sha256(&venv.join("share/airlock/pep517.wasm")), sha);

    let project = tmp.path().join("legacy");
    std::fs::create_dir_all(project.join("legacy")).unwrap();
    std::fs::write(
        project.join("setup.py"),
        "from setuptools import setup\nsetup(name='legacy', version='1.0', packages=['legacy'])\n",
    )
    .unwrap();
    std::fs::write(project.join("legacy/__init__.py"), "").unwrap();
    let deps = project.join(".airlock/build-deps");
    std::fs::create_dir_all(&deps).unwrap();
    for e in std::fs::read_dir(airlock_test_support::build_deps(&["setuptools==80.9.0"])).unwrap() {
        let w = e.unwrap().path();
        std::fs::copy(&w, deps.join(w.file_name().unwrap())).unwrap();
    }
    std::fs::write(
        project.join("release.toml"),
        "[pipeline]\nname = \"legacy\"\nproject = \".\"\n[[stage]]\nid = \"build\"\ncomponent = \"builtin:build\"\n\
         [stage.grants]\nfiles = [{ path = \".\", access = \"read\" }, { path = \"dist\", access = \"write\" }]\n",
    )
    .unwrap();
    let out = Command::new(&bin)
        .args(["run", "release.toml", "--format", "json"])
        .current_dir(&project)
        .env("AIRLOCK_CACHE_DIR", common::cache_dir())
        .env_remove("AIRLOCK_PEP517_COMPONENT")
        .env_remove("GITHUB_ACTIONS")
        .output()
        .unwrap();
    let r = report(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let built = &stage(&r, "build")["output"];
    assert_eq!(built["builder"], "pep517", "{built}");
    assert!(
        project.join("dist/legacy-1.0-py3-none-any.whl").is_file(),
        "{built}"
    );
}
