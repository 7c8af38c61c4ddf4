//! Issue 19: the pep517 stage (`stages/pep517/app.py`, CPython 3.14 for WASI via
//! componentize-py, built by `scripts/build-pep517`) runs a project's **real** PEP 517
//! backend under the real host, with the project read-only, a scratch folder and the output
//! folder, and nothing else:
//! - twelve real sdists from PyPI, across setuptools (a `[project]` table, `setup.cfg`, a
//!   `setup.py` only), setuptools_scm, hatchling, hatch-vcs, flit_core (one with a computed
//!   `__version__`), pdm-backend and poetry-core, are rebuilt in the sandbox and compared with
//!   the same backend version run natively on an identical copy with the same wheels
//!   (`build_sdist` + `build_wheel`, the calls `python -m build --no-isolation` makes): the
//!   wheel byte for byte, the sdist's members, contents and modes. The wheel is also compared
//!   with the one the project published on PyPI (the files it installs and its requirements).
//!   `twine check` passes on every output (`--strict` gives the native build's verdict) and
//!   pip installs every wheel;
//! - a project whose `setup.py` tries to read a file outside the project, reach the network,
//!   read a token from the environment, write outside its folders, spawn a process or run
//!   forever is contained: each attempt fails with the sandbox's error, or is stopped by the
//!   time limit.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use airlock_test_support::{
    build_deps, pep517_component, pip_install_wheels, pypi_sdist, pypi_wheel, unpack_sdist,
};
use common::{Run, stage};
use sha2::Digest;

const EPOCH: u64 = 1_700_000_000;

/// The one-stage manifest running the pep517 component on `project` with `config` and
/// `limits`.
fn manifest(project: &Path, component: &Path, sha256: &str, config: &str, limits: &str) -> String {
    format!(
        r#"
[pipeline]
name = "pep517"
project = "{}"

[[stage]]
id = "pep517"
component = {{ path = "{}", sha256 = "{sha256}" }}
config = {{ source_date_epoch = {EPOCH}{config} }}
[stage.grants]
files = [{{ path = ".", access = "read" }}, {{ path = "dist", access = "write" }}, {{ path = ".airlock/pep517", access = "write" }}]
{limits}
"#,
        project.display(),
        component.display()
    )
}

/// Runs `manifest` from a folder of its own (the project holds nothing but itself).
fn run(manifest: &str, envs: &[(&str, &str)]) -> Run {
    let at = tempfile::tempdir().unwrap();
    common::run(at.path(), manifest, envs)
}

/// `project` copied to a fresh temp dir with `deps` as its `.airlock/build-deps`.
fn sandbox_copy(project: &Path, deps: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    common::copy_tree(project, dir.path());
    let into = dir.path().join(".airlock/build-deps");
    std::fs::create_dir_all(&into).unwrap();
    for e in std::fs::read_dir(deps).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, into.join(p.file_name().unwrap())).unwrap();
    }
    dir
}

/// Runs the pep517 stage on `project` (a copy) with the wheels of `deps`.
fn sandboxed(project: &Path, deps: &Path, config: &str, limits: &str) -> (tempfile::TempDir, Run) {
    let (component, sha) = pep517_component();
    let dir = sandbox_copy(project, deps);
    let run = run(&manifest(dir.path(), &component, &sha, config, limits), &[]);
    (dir, run)
}

/// The backend of `project` run natively by the tests' Python on an identical copy, with the
/// same wheels (`deps`, installed into a folder of their own put first on `PYTHONPATH`, so
/// the same backend version): `build_sdist`
/// then `build_wheel` into `out`, as the stage calls them and as `python -m build
/// --no-isolation` does (with `sys.argv` of one item, as a PEP 517 front end's hook runner
/// has: setuptools reads it).
fn native(project: &Path, backend: &str, deps: &Path, out: &Path) {
    let copy = tempfile::tempdir().unwrap();
    common::copy_tree(project, copy.path());
    let (module, obj) = backend.split_once(':').unwrap_or((backend, ""));
    let script = format!(
        "import importlib, os, sys\nsrc, out = sys.argv[1:3]\nsys.argv = ['native']\nos.chdir(src)\nb = importlib.import_module('{module}')\nfor p in '{obj}'.split('.'):\n    b = getattr(b, p) if p else b\nb.build_sdist(out)\nb.build_wheel(out)\n"
    );
    let wheels: Vec<PathBuf> = std::fs::read_dir(deps)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let site = tempfile::tempdir().unwrap();
    let wheels: Vec<&Path> = wheels.iter().map(PathBuf::as_path).collect();
    pip_install_wheels(backend, &wheels, site.path());
    let o = Command::new("python3")
        .args(["-c", &script])
        .arg(copy.path())
        .arg(out)
        .env("SOURCE_DATE_EPOCH", EPOCH.to_string())
        .env("PYTHONPATH", site.path())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "native {backend}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn only(dir: &Path, suffix: &str) -> PathBuf {
    let found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    assert_eq!(found.len(), 1, "{suffix} in {}: {found:?}", dir.display());
    found.into_iter().next().unwrap()
}

/// A wheel's members: (name, mode, timestamp, contents), in archive order.
fn wheel_members(path: &Path) -> Vec<(String, Option<u32>, String, Vec<u8>)> {
    let mut z = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    (0..z.len())
        .map(|i| {
            let mut f = z.by_index(i).unwrap();
            let mut data = Vec::new();
            f.read_to_end(&mut data).unwrap();
            let time = f
                .last_modified()
                .map(|t| format!("{t:?}"))
                .unwrap_or_default();
            (f.name().unwrap().to_string(), f.unix_mode(), time, data)
        })
        .collect()
}

/// How the wheel built in the sandbox differs from the one the project published on PyPI
/// (built by some version of its backend, at some time, from a git checkout): the files it
/// installs outside `.dist-info` (names and contents, in any order), and the core metadata's
/// name, version and requirements. Empty when they agree.
fn published_difference(ours: &Path, published: &Path) -> Vec<String> {
    let split = |p: &Path| {
        let mut files = std::collections::BTreeMap::new();
        let mut metadata = Vec::new();
        for (name, _, _, data) in wheel_members(p) {
            let Some((top, rest)) = name.split_once('/') else {
                files.insert(name, data);
                continue;
            };
            if !top.ends_with(".dist-info") {
                files.insert(name, data);
            } else if rest == "METADATA" {
                metadata = data;
            }
        }
        let text = String::from_utf8_lossy(&metadata).into_owned();
        let header = text.split("\n\n").next().unwrap_or("").to_string();
        let mut fields: Vec<String> = header
            .lines()
            .filter(|l| {
                [
                    "Name: ",
                    "Version: ",
                    "Requires-Dist: ",
                    "Requires-Python: ",
                ]
                .iter()
                .any(|f| l.starts_with(f))
            })
            .map(|l| l.replace(' ', ""))
            .collect();
        fields.sort();
        (files, fields)
    };
    let ((ours_files, ours_meta), (pub_files, pub_meta)) = (split(ours), split(published));
    let mut said = Vec::new();
    for (name, data) in &ours_files {
        match pub_files.get(name) {
            None => said.push(format!("{name} is not in the published wheel")),
            Some(d) if d != data => said.push(format!("{name} differs from the published one")),
            Some(_) => {}
        }
    }
    for name in pub_files.keys().filter(|n| !ours_files.contains_key(*n)) {
        said.push(format!("{name} is only in the published wheel"));
    }
    if ours_meta != pub_meta {
        said.push(format!(
            "core metadata: {ours_meta:?} vs published {pub_meta:?}"
        ));
    }
    said
}

/// The first difference between two wheels' members (name, mode, timestamp, contents).
fn wheel_difference(a: &Path, b: &Path) -> String {
    let (x, y) = (wheel_members(a), wheel_members(b));
    for (m, n) in x.iter().zip(&y) {
        if m != n {
            return format!(
                "{} (mode {:?} vs {:?}, time {} vs {}, {} vs {} bytes)",
                m.0,
                m.1,
                n.1,
                m.2,
                n.2,
                m.3.len(),
                n.3.len()
            );
        }
    }
    format!("{} vs {} members", x.len(), y.len())
}

/// The sdist's members: (path, mode, contents), in archive order.
fn sdist_members(path: &Path) -> Vec<(String, u32, Vec<u8>)> {
    let f = std::fs::File::open(path).unwrap();
    let mut a = tar::Archive::new(flate2::read::GzDecoder::new(f));
    a.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
            (name, e.header().mode().unwrap(), data)
        })
        .collect()
}

/// Rebuilds the sdist of `name==version` in the sandbox with `deps` and compares with the
/// native backend; checks `twine check --strict` and `pip install`.
fn conforms(name: &str, version: &str, deps: &[&str]) {
    let work = tempfile::tempdir().unwrap();
    let project = unpack_sdist(&pypi_sdist(name, version), work.path());
    let deps = build_deps(deps);
    let (dir, run) = sandboxed(&project, &deps, "", "");
    assert_eq!(
        run.code,
        Some(0),
        "{name}: {}\n{}",
        run.said("pep517"),
        run.stderr
    );
    let out = run.output("pep517");
    assert_eq!(out["builder"], "pep517", "{out}");
    let dist = dir.path().join("dist");
    let backend = out["backend"].as_str().unwrap().to_string();

    let reference = tempfile::tempdir().unwrap();
    native(&project, &backend, &deps, reference.path());
    let (ours, theirs) = (only(&dist, ".whl"), only(reference.path(), ".whl"));
    assert_eq!(ours.file_name(), theirs.file_name(), "{name}");
    assert!(
        std::fs::read(&ours).unwrap() == std::fs::read(&theirs).unwrap(),
        "{name}: the wheel built in the sandbox differs from {backend}'s native one: {}",
        wheel_difference(&ours, &theirs)
    );
    let (ours_s, theirs_s) = (only(&dist, ".tar.gz"), only(reference.path(), ".tar.gz"));
    assert_eq!(ours_s.file_name(), theirs_s.file_name(), "{name}");
    let (a, b) = (sdist_members(&ours_s), sdist_members(&theirs_s));
    let names = |m: &[(String, u32, Vec<u8>)]| m.iter().map(|x| x.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(&a), names(&b), "{name}: sdist members");
    for (x, y) in a.iter().zip(&b) {
        assert!(x.2 == y.2, "{name}: sdist member {} differs", x.0);
        assert_eq!(x.1, y.1, "{name}: sdist member {} mode", x.0);
    }
    // The artifacts the host accepted are the files, with their digests.
    let arts = out["artifacts"].as_array().unwrap();
    assert_eq!(arts.len(), 2, "{out}");
    for a in arts {
        let bytes = std::fs::read(dir.path().join(a["path"].as_str().unwrap())).unwrap();
        assert_eq!(a["size"], bytes.len(), "{a}");
    }

    // twine check: passes on what the sandbox built; with --strict, the same verdict as on
    // the native build (six 1.17.0's own metadata has no readme content type: a warning).
    let twine = |strict: bool, files: [&Path; 2]| {
        let mut c = Command::new("python3");
        c.args(["-m", "twine", "check"]);
        if strict {
            c.arg("--strict");
        }
        let o = c.args(files).output().unwrap();
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
        )
    };
    let (ok, said) = twine(false, [&ours, &ours_s]);
    assert!(ok, "{name}: twine check: {said}");
    let (strict, said) = twine(true, [&ours, &ours_s]);
    let (native_strict, _) = twine(true, [&theirs, &theirs_s]);
    assert_eq!(
        strict, native_strict,
        "{name}: twine check --strict: {said}"
    );
    let target = tempfile::tempdir().unwrap();
    pip_install_wheels(name, &[&ours], target.path());

    // The published wheel: the same files and requirements.
    let published = published_difference(&ours, &pypi_wheel(name, version));
    assert!(
        published.is_empty(),
        "{name}: the wheel built in the sandbox differs from the published one:\n{}",
        published.join("\n")
    );
    println!(
        "{name} {version}: {backend} in the sandbox, wheel byte-identical, sdist members equal ({} ms)",
        run.elapsed.as_millis()
    );
}

// Twelve real projects from PyPI, each with the backend versions pinned here (and what pip
// resolves for them). The tests of one binary run in parallel: one test per backend family.

#[test]
fn hatchling_projects_build_byte_identical_to_native_hatchling() {
    conforms("mypylogger", "0.2.8", &["hatchling==1.27.0"]);
}

#[test]
fn hatch_vcs_projects_build_in_the_sandbox() {
    // From an sdist, hatch-vcs (setuptools_scm) reads the version from PKG-INFO.
    conforms(
        "urllib3",
        "2.5.0",
        &[
            "hatchling==1.27.0",
            "hatch-vcs==0.5.0",
            "setuptools-scm==8.3.1",
        ],
    );
}

#[test]
fn flit_projects_build_in_the_sandbox() {
    // pyparsing's `__version__` is computed from a version_info tuple: the native builder
    // refuses it; flit_core itself imports the module, in the sandbox.
    conforms("pyparsing", "3.2.3", &["flit_core==3.12.0"]);
    conforms("idna", "3.10", &["flit_core==3.12.0"]);
}

#[test]
fn setuptools_projects_build_in_the_sandbox() {
    // decorator: a pyproject.toml [project] table; cachetools and certifi: setup.cfg with a
    // stub setup.py; six: a setup.py only.
    conforms("decorator", "5.2.1", &["setuptools==80.9.0"]);
    conforms(
        "cachetools",
        "6.1.0",
        &["setuptools==80.9.0", "wheel==0.45.1"],
    );
    conforms("certifi", "2025.8.3", &["setuptools==80.9.0"]);
    conforms("six", "1.17.0", &["setuptools==80.9.0"]);
}

#[test]
fn setuptools_scm_projects_build_in_the_sandbox() {
    conforms(
        "pluggy",
        "1.6.0",
        &["setuptools==80.9.0", "setuptools-scm==8.3.1"],
    );
    conforms(
        "iniconfig",
        "2.1.0",
        &[
            "hatchling==1.27.0",
            "hatch-vcs==0.5.0",
            "setuptools-scm==8.3.1",
        ],
    );
}

#[test]
fn pdm_and_poetry_projects_build_in_the_sandbox() {
    conforms("unearth", "0.17.5", &["pdm-backend==2.4.5"]);
    conforms("tomlkit", "0.13.3", &["poetry-core==2.1.3"]);
}

/// A setuptools project whose setup.py makes one escape `attempt` and reports how it went by
/// raising: `ESCAPED: …` when it got through, `CONTAINED: …` when the sandbox refused it.
fn hostile_project(dir: &Path, attempt: &str) {
    std::fs::write(
        dir.join("pyproject.toml"),
        "[build-system]\nrequires = [\"setuptools\"]\nbuild-backend = \"setuptools.build_meta\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("setup.py"),
        format!(
            r#"import os, socket, subprocess
from setuptools import setup

def attempt(what):
    if what == "read-outside":
        return open("/etc/passwd").read()[:20]
    if what == "network":
        return socket.create_connection(("127.0.0.1", 9), timeout=2)
    if what == "env-token":
        v = os.environ.get("AIRLOCK_TEST_PYPI_TOKEN")
        if v is None:
            raise KeyError("AIRLOCK_TEST_PYPI_TOKEN is not in the environment")
        return v
    if what == "write-outside":
        with open("/escaped.txt", "w") as f:
            f.write("x")
        return "/escaped.txt"
    if what == "spawn":
        return subprocess.run(["/bin/sh", "-c", "echo hi"], capture_output=True).stdout
    if what == "forever":
        while True:
            pass

try:
    got = attempt({attempt:?})
except BaseException as e:
    raise SystemExit("CONTAINED: %s: %s" % (type(e).__name__, e))
raise SystemExit("ESCAPED: %r" % (got,))
setup(name="hostile", version="1.0")
"#
        ),
    )
    .unwrap();
}

#[test]
fn malicious_build_code_is_contained() {
    let deps = build_deps(&["setuptools==80.9.0"]);
    for attempt in [
        "read-outside",
        "network",
        "env-token",
        "write-outside",
        "spawn",
    ] {
        let project = tempfile::tempdir().unwrap();
        hostile_project(project.path(), attempt);
        let (component, sha) = pep517_component();
        let dir = sandbox_copy(project.path(), &deps);
        let run = run(
            &manifest(dir.path(), &component, &sha, ", wheel = false", ""),
            &[("AIRLOCK_TEST_PYPI_TOKEN", "pypi-must-not-leak")],
        );
        let said = run.said("pep517");
        assert_ne!(run.code, Some(0), "{attempt}: the build succeeded");
        assert!(
            said.contains("CONTAINED") && !said.contains("ESCAPED"),
            "{attempt}: {said}"
        );
        assert!(!said.contains("pypi-must-not-leak"), "{attempt}: {said}");
        assert!(!dir.path().join("escaped.txt").exists());
        println!("{attempt}: {}", said.lines().next().unwrap_or(""));
    }
    // Run forever: stopped by the stage's time limit.
    let project = tempfile::tempdir().unwrap();
    hostile_project(project.path(), "forever");
    let (dir, run) = sandboxed(
        project.path(),
        &deps,
        ", wheel = false",
        "limits = { timeout_s = 5 }",
    );
    let _ = dir;
    assert_ne!(run.code, Some(0));
    let said = run.said("pep517");
    assert!(
        said.contains("time") || said.contains("limit"),
        "forever: {said}"
    );
    println!("forever: {}", said.lines().next().unwrap_or(""));
}

/// The fetch + build manifest of a locked project: the fetch stage (HTTP granted to
/// `origin` only) downloads the lock's wheels, then the build stage in `mode` builds.
fn locked_manifest(origin: &str, mode: &str) -> String {
    format!(
        r#"
[pipeline]
name = "locked"
project = "."

[[stage]]
id = "fetch"
component = "builtin:fetch"
[stage.grants]
files = [{{ path = ".", access = "read" }}, {{ path = ".airlock/build-deps", access = "write" }}]
http = ["{origin}"]

[[stage]]
id = "build"
component = "builtin:build"
needs = ["fetch"]
config = {{ mode = "{mode}", source_date_epoch = {EPOCH} }}
[stage.grants]
files = [{{ path = ".", access = "read" }}, {{ path = "dist", access = "write" }}]
"#
    )
}

/// A wheel named pure whose contents are not: a compiled extension module.
fn impure_wheel(into: &Path) -> PathBuf {
    let path = into.join("evil-1.0-py3-none-any.whl");
    let mut z = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let o = zip::write::SimpleFileOptions::default();
    for (name, data) in [
        ("evil/__init__.py", &b"from ._speedups import *\n"[..]),
        ("evil/_speedups.cpython-314-x86_64-linux-gnu.so", b"\x7fELF"),
        (
            "evil-1.0.dist-info/METADATA",
            b"Metadata-Version: 2.1\nName: evil\nVersion: 1.0\n",
        ),
        (
            "evil-1.0.dist-info/WHEEL",
            b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        ),
        ("evil-1.0.dist-info/RECORD", b""),
    ] {
        z.start_file(name, o).unwrap();
        std::io::Write::write_all(&mut z, data).unwrap();
    }
    z.finish().unwrap();
    path
}

#[test]
fn a_locked_project_is_fetched_hash_checked_then_built_in_the_sandbox_by_mode_auto() {
    use airlock_test_support::PypiServer;
    let (component, _) = pep517_component();
    let component = component.to_str().unwrap().to_string();
    let env = [("AIRLOCK_PEP517_COMPONENT", component.as_str())];
    // A loopback index holding the backend's wheels (setuptools has no dependencies).
    let server = PypiServer::start(None);
    for e in std::fs::read_dir(build_deps(&["setuptools==80.9.0"])).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, server.packages.join(p.file_name().unwrap())).unwrap();
    }
    let origin = format!("http://127.0.0.1:{}", server.port);
    let work = tempfile::tempdir().unwrap();
    let project = unpack_sdist(&pypi_sdist("decorator", "5.2.1"), work.path());

    // airlock lock-build: build-system.requires resolved on the index, pure wheels only.
    let o = common::airlock(
        &[
            "lock-build",
            "--project",
            project.to_str().unwrap(),
            "--index",
            &server.simple(),
        ],
        &[],
    );
    let said =
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "lock-build: {said}");
    let lock_text = std::fs::read_to_string(project.join("pylock.build.toml")).unwrap();
    let lock: toml::Table = toml::from_str(&lock_text).unwrap();
    assert_eq!(lock["lock-version"].as_str(), Some("1.0"), "{lock_text}");
    let packages = lock["packages"].as_array().unwrap();
    assert_eq!(packages.len(), 1, "{lock_text}");
    assert_eq!(packages[0]["name"].as_str(), Some("setuptools"));
    assert_eq!(packages[0]["version"].as_str(), Some("80.9.0"));
    let wheel = &packages[0]["wheels"].as_array().unwrap()[0];
    let served = std::fs::read(server.packages.join("setuptools-80.9.0-py3-none-any.whl")).unwrap();
    assert_eq!(
        wheel["hashes"]["sha256"].as_str().unwrap(),
        hex::encode(sha2::Sha256::digest(&served)),
        "{lock_text}"
    );
    assert!(
        wheel["url"].as_str().unwrap().starts_with(&origin),
        "{lock_text}"
    );
    println!("lock-build: {}", said.lines().next().unwrap_or(""));

    // Fetch (HTTP to the index only), then mode auto: setuptools is not reproduced natively,
    // so the project's own backend runs in the sandbox, with no network.
    let run1 = common::run(&project, &locked_manifest(&origin, "auto"), &env);
    assert_eq!(run1.code, Some(0), "{}\n{}", run1.stdout, run1.stderr);
    let fetched = run1.output("fetch");
    assert_eq!(fetched["wheels"][0]["fetched"], true, "{fetched}");
    let built = run1.output("build");
    assert_eq!(built["builder"], "pep517", "{built}");
    let why = built["why"].as_str().unwrap();
    assert!(
        why.contains("mode auto") && why.contains("setuptools.build_meta"),
        "{why}"
    );
    assert_eq!(built["name"], "decorator", "{built}");
    let wheel_path = project.join(built["artifacts"][1]["path"].as_str().unwrap());
    let target = tempfile::tempdir().unwrap();
    pip_install_wheels("decorator", &[&wheel_path], target.path());
    println!("auto: {why}");

    // Warm: the wheel already fetched is kept, not downloaded again.
    let run2 = common::run(&project, &locked_manifest(&origin, "auto"), &env);
    assert_eq!(run2.code, Some(0), "{}", run2.stderr);
    assert_eq!(run2.output("fetch")["wheels"][0]["fetched"], false);

    // mode native refuses the project and says why.
    let native = common::run(&project, &locked_manifest(&origin, "native"), &env);
    assert_eq!(native.code, Some(1));
    assert!(
        native.said("build").contains("setuptools.build_meta"),
        "{}",
        native.said("build")
    );

    // A download whose digest is not the locked one is refused; the build does not run.
    let deps = project.join(".airlock/build-deps");
    std::fs::remove_dir_all(&deps).unwrap();
    let sha = wheel["hashes"]["sha256"].as_str().unwrap();
    let tampered = lock_text.replace(sha, &"0".repeat(64));
    std::fs::write(project.join("pylock.build.toml"), &tampered).unwrap();
    let bad = common::run(&project, &locked_manifest(&origin, "auto"), &env);
    assert_eq!(bad.code, Some(1));
    assert!(
        bad.said("fetch").contains("refused"),
        "{}",
        bad.said("fetch")
    );
    assert_ne!(stage(&bad.report, "build")["status"], "ok");
    std::fs::write(project.join("pylock.build.toml"), &lock_text).unwrap();

    // The fetch stage reaches the index only through its grant.
    let elsewhere = common::run(
        &project,
        &locked_manifest("https://files.pythonhosted.org", "auto"),
        &env,
    );
    assert_eq!(elsewhere.code, Some(1));
    let said = elsewhere.said("fetch");
    assert!(said.contains(&origin), "{said}");
    println!("ungranted: {said}");

    // A chain with dependencies, markers and an extra (hatch-vcs → hatchling, setuptools-scm
    // → packaging, pathspec, pluggy, trove-classifiers, setuptools; tomli only before 3.11):
    // the lock holds exactly what pip resolved for this interpreter (3.11+, as the sandbox's
    // 3.14), each wheel once.
    let chain = build_deps(&[
        "hatchling==1.27.0",
        "hatch-vcs==0.5.0",
        "setuptools-scm[toml]==8.3.1",
    ]);
    let mut expected: Vec<String> = Vec::new();
    for e in std::fs::read_dir(&chain).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        expected.push(
            name.split('-')
                .next()
                .unwrap()
                .to_lowercase()
                .replace('_', "-"),
        );
        let _ = std::fs::copy(&p, server.packages.join(&name));
    }
    expected.sort();
    let chain_lock = work.path().join("chain.toml");
    let o = common::airlock(
        &[
            "lock-build",
            "--project",
            project.to_str().unwrap(),
            "--index",
            &server.simple(),
            "--requirement",
            "hatch-vcs",
            "--requirement",
            "setuptools-scm[toml]",
            "--out",
            chain_lock.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let chain_text = std::fs::read_to_string(&chain_lock).unwrap();
    let locked: toml::Table = toml::from_str(&chain_text).unwrap();
    let mut names: Vec<String> = locked["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    assert_eq!(names, expected, "{chain_text}");

    // A wheel named pure whose contents are compiled: lock-build and fetch refuse it.
    let evil = impure_wheel(&server.packages);
    let o = common::airlock(
        &[
            "lock-build",
            "--project",
            project.to_str().unwrap(),
            "--index",
            &server.simple(),
            "--requirement",
            "evil",
            "--out",
            work.path().join("evil.toml").to_str().unwrap(),
        ],
        &[],
    );
    let said = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(1), "{said}");
    assert!(
        said.contains("not pure Python") && said.contains(".so"),
        "{said}"
    );
    let evil_sha = hex::encode(sha2::Sha256::digest(std::fs::read(&evil).unwrap()));
    std::fs::write(
        project.join("pylock.build.toml"),
        format!(
            "lock-version = \"1.0\"\ncreated-by = \"airlock\"\n[[packages]]\nname = \"evil\"\nversion = \"1.0\"\n\
             [[packages.wheels]]\nname = \"evil-1.0-py3-none-any.whl\"\nurl = \"{origin}/packages/evil-1.0-py3-none-any.whl\"\nhashes = {{ sha256 = \"{evil_sha}\" }}\n"
        ),
    )
    .unwrap();
    let impure = common::run(&project, &locked_manifest(&origin, "auto"), &env);
    assert_eq!(impure.code, Some(1));
    let said = impure.said("fetch");
    assert!(
        said.contains("not pure Python") && said.contains("compiled code"),
        "{said}"
    );
    assert!(
        !project
            .join(".airlock/build-deps/evil-1.0-py3-none-any.whl")
            .exists()
    );
    println!("impure: {said}");
}

#[test]
fn a_setuptools_scm_checkout_gets_its_version_from_outside() {
    // A git-versioned project outside git (no .git, no PKG-INFO): setuptools_scm cannot tell
    // the version in the sandbox, so the build fails and says so; with config `version` (the
    // version decide checked), it is set as SETUPTOOLS_SCM_PRETEND_VERSION.
    let (component, _) = pep517_component();
    let component = component.to_str().unwrap().to_string();
    let env = [("AIRLOCK_PEP517_COMPONENT", component.as_str())];
    let project = tempfile::tempdir().unwrap();
    let p = project.path();
    std::fs::write(
        p.join("pyproject.toml"),
        "[build-system]\nrequires = [\"setuptools>=80\", \"setuptools-scm>=8\"]\nbuild-backend = \"setuptools.build_meta\"\n\n\
         [project]\nname = \"scm-demo\"\ndynamic = [\"version\"]\n\n[tool.setuptools_scm]\n",
    )
    .unwrap();
    std::fs::create_dir_all(p.join("scm_demo")).unwrap();
    std::fs::write(p.join("scm_demo/__init__.py"), "").unwrap();
    let deps = p.join(".airlock/build-deps");
    std::fs::create_dir_all(&deps).unwrap();
    for e in
        std::fs::read_dir(build_deps(&["setuptools==80.9.0", "setuptools-scm==8.3.1"])).unwrap()
    {
        let w = e.unwrap().path();
        std::fs::copy(&w, deps.join(w.file_name().unwrap())).unwrap();
    }
    let manifest = format!(
        r#"
[pipeline]
name = "scm"
project = "."

[[stage]]
id = "build"
component = "builtin:build"
config = {{ source_date_epoch = {EPOCH} }}
[stage.grants]
files = [{{ path = ".", access = "read" }}, {{ path = "dist", access = "write" }}]
"#
    );
    let without = common::run(p, &manifest, &env);
    assert_eq!(without.code, Some(1), "{}", without.stderr);
    let said = without.said("build");
    assert!(
        said.contains("setuptools-scm") || said.contains("setuptools_scm"),
        "{said}"
    );
    let with = common::run(
        p,
        &manifest.replace("config = {", "config = { version = \"1.2.3\","),
        &env,
    );
    assert_eq!(with.code, Some(0), "{}\n{}", with.stdout, with.stderr);
    let out = with.output("build");
    assert_eq!(out["builder"], "pep517", "{out}");
    assert_eq!(out["version"], "1.2.3", "{out}");
    assert!(
        p.join("dist/scm_demo-1.2.3-py3-none-any.whl").is_file(),
        "{out}"
    );
}

#[test]
fn a_setuptools_scm_git_checkout_builds_as_natively_with_the_hosts_git_file_list() {
    // setuptools_scm chooses a git checkout's files with `git archive` (honouring
    // export-ignore), and there is no git in the sandbox: the host lists them and the stage
    // hands the list to setuptools_scm. The sdist and the wheel must come out as the same
    // backend makes them natively in the checkout (version from the tag there, from config
    // `version` in the sandbox).
    let (component, _) = pep517_component();
    let component = component.to_str().unwrap().to_string();
    let env = [("AIRLOCK_PEP517_COMPONENT", component.as_str())];
    let work = tempfile::tempdir().unwrap();
    let p = work.path().join("scm-git");
    std::fs::create_dir_all(p.join("scm_git")).unwrap();
    std::fs::write(
        p.join("pyproject.toml"),
        "[build-system]\nrequires = [\"setuptools>=80\", \"setuptools-scm>=8\"]\nbuild-backend = \"setuptools.build_meta\"\n\n\
         [project]\nname = \"scm-git\"\ndynamic = [\"version\"]\n\n[tool.setuptools_scm]\n",
    )
    .unwrap();
    for (f, text) in [
        ("scm_git/__init__.py", ""),
        (
            "scm_git/data.txt",
            "tracked data, packaged only through the git file list\n",
        ),
        ("scm_git/ignored.txt", "tracked, but export-ignore\n"),
        (".gitattributes", "scm_git/ignored.txt export-ignore\n"),
    ] {
        std::fs::write(p.join(f), text).unwrap();
    }
    let git = |args: &[&str]| {
        let o = Command::new("git")
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@example.com",
                "-c",
                "commit.gpgsign=false",
                "-c",
                "tag.gpgsign=false",
            ])
            .args(args)
            .current_dir(&p)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "one"]);
    git(&["tag", "v1.0"]);
    // An untracked file: in neither build.
    std::fs::write(p.join("scm_git/untracked.txt"), "not in git\n").unwrap();
    let deps = build_deps(&["setuptools==80.9.0", "setuptools-scm==8.3.1"]);

    let reference = tempfile::tempdir().unwrap();
    native(&p, "setuptools.build_meta", &deps, reference.path());

    let into = p.join(".airlock/build-deps");
    std::fs::create_dir_all(&into).unwrap();
    for e in std::fs::read_dir(&deps).unwrap() {
        let w = e.unwrap().path();
        std::fs::copy(&w, into.join(w.file_name().unwrap())).unwrap();
    }
    let manifest = format!(
        "[pipeline]\nname = \"scm-git\"\nproject = \".\"\n[[stage]]\nid = \"build\"\ncomponent = \"builtin:build\"\n\
         config = {{ mode = \"pep517\", version = \"1.0\", source_date_epoch = {EPOCH} }}\n[stage.grants]\n\
         files = [{{ path = \".\", access = \"read\" }}, {{ path = \"dist\", access = \"write\" }}]\n"
    );
    let run = common::run(&p, &manifest, &env);
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    let dist = p.join("dist");
    let (ours, theirs) = (only(&dist, ".whl"), only(reference.path(), ".whl"));
    assert_eq!(ours.file_name(), theirs.file_name());
    let names: Vec<String> = wheel_members(&ours).into_iter().map(|m| m.0).collect();
    assert!(names.contains(&"scm_git/data.txt".to_string()), "{names:?}");
    assert!(
        !names
            .iter()
            .any(|n| n.contains("untracked") || n.contains("ignored")),
        "{names:?}"
    );
    assert!(
        std::fs::read(&ours).unwrap() == std::fs::read(&theirs).unwrap(),
        "the wheel differs from the native one: {}",
        wheel_difference(&ours, &theirs)
    );
    let (a, b) = (
        sdist_members(&only(&dist, ".tar.gz")),
        sdist_members(&only(reference.path(), ".tar.gz")),
    );
    let names = |m: &[(String, u32, Vec<u8>)]| m.iter().map(|x| x.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(&a), names(&b), "sdist members");
    for (x, y) in a.iter().zip(&b) {
        assert!(x.2 == y.2, "sdist member {} differs", x.0);
    }
}
