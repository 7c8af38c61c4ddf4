//! Shared support for airlock's tests: the real mypylogger 0.2.8 sdist and wheel from PyPI
//! (downloaded once into `target/fixtures`), a real pypiserver on 127.0.0.1, pip
//! installing what was published, a real moto server ([`moto`]), a stand-in for GitHub
//! Actions' ID-token endpoint ([`github`]), stand-ins for Sigstore's Fulcio and Rekor with
//! their trust material ([`sigstore`]) and the small HTTP toolkit stand-ins are built with
//! ([`http`]).
//!
//! Everything here needs Python with pip; pypiserver, hatchling and twine need `python3 -m
//! pip install -r tests/requirements.txt`. Functions panic with that instruction when a tool
//! is missing: a test that depends on a real server or tool must not pass without one, and
//! none of them skips.
//!
//! Fixtures are made race-free: test threads of one process share one download and one
//! unpack, and test processes of different crates (which run in any order, possibly at
//! once) download and unpack into temp dirs beside the final paths and rename into place.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

pub mod github;
pub mod gitlab;
pub mod http;
pub mod moto;
pub mod pypi;
pub mod sigstore;
pub mod standins;

pub use http::{http_get, http_post};

pub use github::{ACTIONS_REQUEST_TOKEN, GithubOidc, IdTokenSpec};
pub use moto::Moto;
pub use sigstore::Sigstore;
pub use standins::ReleaseStandins;

/// The published wheel's file name.
pub const MYPYLOGGER_WHEEL: &str = "mypylogger-0.2.8-py3-none-any.whl";
/// The published sdist's file name.
pub const MYPYLOGGER_SDIST: &str = "mypylogger-0.2.8.tar.gz";

/// The unpacked sdist's folder name under `target/fixtures` (see [`mypylogger_project`]).
pub const MYPYLOGGER_PROJECT: &str = "mypylogger-0.2.8";
/// The hatchling version the build conformance tests compare with (mypylogger 0.2.8 was
/// built with it; pinned in tests/requirements.txt).
pub const HATCHLING_VERSION: &str = "1.27.0";
/// What to run when a Python tool the tests need is missing.
pub const INSTALL_REQUIREMENTS: &str =
    "run the tests with scripts/test (it installs tests/requirements.txt into target/venv)";

/// Serialises fixture downloads and unpacking among the test threads of one process.
static FIXTURES_LOCK: Mutex<()> = Mutex::new(());

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// `target/fixtures` holding the real mypylogger 0.2.8 sdist and wheel, downloaded with
/// `pip download` when absent (the only network use of the tests, and only to PyPI).
/// Each file is downloaded into a temp dir beside it and renamed into place, so no test
/// (of this or another process) ever reads a partly written file. Panics with pip's output
/// when a file cannot be had.
pub fn fixtures() -> PathBuf {
    let _serial = FIXTURES_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = workspace().join("target/fixtures");
    std::fs::create_dir_all(&dir).unwrap();
    for (file, how) in [
        (MYPYLOGGER_WHEEL, "--only-binary=:all:"),
        (MYPYLOGGER_SDIST, "--no-binary=:all:"),
    ] {
        if !dir.join(file).is_file() {
            let tmp = tempfile::Builder::new()
                .prefix(".download-")
                .tempdir_in(&dir)
                .unwrap();
            let out = pip_download(&["--no-deps", how, "mypylogger==0.2.8"], tmp.path());
            assert!(
                tmp.path().join(file).is_file(),
                "cannot download {file} into {}: {}",
                dir.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            // Atomic; another process renaming the same bytes in first is harmless.
            std::fs::rename(tmp.path().join(file), dir.join(file)).unwrap();
        }
    }
    dir
}

/// The unpacked real mypylogger 0.2.8 sdist at `target/fixtures/mypylogger-0.2.8` (its
/// pyproject.toml, sources and security/reports), unpacked there once. The sdist is
/// unpacked into a temp dir beside it and renamed into place; when another test process
/// wins that race, its (identical) folder is used. Panics when the folder is there but
/// incomplete (left by an interrupted unpack of an older version of these tests).
pub fn mypylogger_project() -> PathBuf {
    let fixtures = fixtures();
    let _serial = FIXTURES_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    unpack_into_place(&fixtures.join(MYPYLOGGER_SDIST), &fixtures)
}

/// `parent/mypylogger-0.2.8` unpacked from `sdist` unless there: unpacked into a temp dir in
/// `parent`, then renamed into place; losing that race to another process is fine.
fn unpack_into_place(sdist: &Path, parent: &Path) -> PathBuf {
    let project = parent.join(MYPYLOGGER_PROJECT);
    if !project.exists() {
        let tmp = tempfile::Builder::new()
            .prefix(".unpack-")
            .tempdir_in(parent)
            .unwrap();
        let unpacked = untar(sdist, tmp.path());
        if let Err(e) = std::fs::rename(&unpacked, &project) {
            // Renaming onto a non-empty directory fails: another process won the race.
            assert!(
                project.join("pyproject.toml").is_file(),
                "cannot move {} to {}: {e}",
                unpacked.display(),
                project.display()
            );
        }
    }
    assert!(
        project.join("pyproject.toml").is_file()
            && project.join("security/reports/latest").is_dir(),
        "{} is incomplete (an interrupted unpack?): remove it and run the tests again",
        project.display()
    );
    project
}

/// Unpacks the real mypylogger 0.2.8 sdist into `into` and returns the project folder
/// (`into/mypylogger-0.2.8`).
pub fn unpack_mypylogger(into: &Path) -> PathBuf {
    untar(&fixtures().join(MYPYLOGGER_SDIST), into)
}

/// `tar xzf SDIST -C INTO`; returns `into/mypylogger-0.2.8`.
fn untar(sdist: &Path, into: &Path) -> PathBuf {
    let status = Command::new("tar")
        .arg("xzf")
        .arg(sdist)
        .arg("-C")
        .arg(into)
        .status()
        .unwrap();
    assert!(status.success(), "tar xzf {} failed", sdist.display());
    into.join(MYPYLOGGER_PROJECT)
}

/// True when `python3 -c "import MODULE"` succeeds.
pub fn python_has(module: &str) -> bool {
    Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Panics with the install instruction unless `python3 -c "import MODULE"` succeeds
/// (`what` names the tool in the message, e.g. "twine").
pub fn require_python_module(module: &str, what: &str) {
    assert!(
        python_has(module),
        "{what} is not installed for python3 (cannot import {module}): {INSTALL_REQUIREMENTS}"
    );
}

/// A Python that imports hatchling [`HATCHLING_VERSION`]: `$AIRLOCK_HATCHLING_PYTHON` when
/// set, else `python3`. Panics with the install instruction (and the version found) when it
/// has no hatchling or another version.
pub fn hatchling_python() -> PathBuf {
    let python: PathBuf = std::env::var_os("AIRLOCK_HATCHLING_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| "python3".into());
    let found = Command::new(&python)
        .args([
            "-c",
            "import hatchling.__about__ as a; print(a.__version__)",
        ])
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    assert!(
        found.as_deref() == Some(HATCHLING_VERSION),
        "{} must import hatchling {HATCHLING_VERSION} (found: {}): {INSTALL_REQUIREMENTS}, \
         or set AIRLOCK_HATCHLING_PYTHON to a Python that has it",
        python.display(),
        found.as_deref().unwrap_or("none")
    );
    python
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A real pypiserver on 127.0.0.1 serving a fresh temp folder; killed on drop.
pub struct PypiServer {
    child: Child,
    /// Its port.
    pub port: u16,
    /// The packages folder it serves.
    pub packages: PathBuf,
    _dir: tempfile::TempDir,
}

impl PypiServer {
    /// Starts `pypi-server run`. With `auth = Some((user, password))` uploads need those
    /// credentials (htpasswd, via passlib): none → 401, wrong → 403. Waits (at most 30 s)
    /// until `/simple/` answers.
    pub fn start(auth: Option<(&str, &str)>) -> PypiServer {
        assert!(
            python_has("pypiserver") && python_has("passlib") && python_has("waitress"),
            "pypiserver is not installed: {INSTALL_REQUIREMENTS}"
        );
        let dir = tempfile::tempdir().unwrap();
        let packages = dir.path().join("packages");
        std::fs::create_dir_all(&packages).unwrap();
        let port = free_port();
        let mut cmd = Command::new("python3");
        cmd.args([
            "-m",
            "pypiserver",
            "run",
            "-i",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            // `auto` picks waitress (asserted above), which reads the whole upload before
            // the app answers 401/403; the stdlib's wsgiref answers mid-body and resets
            // the connection, which can hide the answer from the client.
            "--server",
            "auto",
        ]);
        match auth {
            None => {
                cmd.args(["-a", ".", "-P", "."]);
            }
            Some((user, password)) => {
                let file = dir.path().join("htpasswd");
                let ok = Command::new("python3")
                    .args([
                        "-c",
                        "import sys; from passlib.apache import HtpasswdFile as H; h=H(sys.argv[1], new=True); h.set_password(sys.argv[2], sys.argv[3]); h.save()",
                    ])
                    .arg(&file)
                    .args([user, password])
                    .status()
                    .unwrap()
                    .success();
                assert!(ok, "could not write the htpasswd file (passlib missing?)");
                cmd.args(["-a", "update", "-P"]).arg(&file);
            }
        }
        cmd.arg("--disable-fallback")
            .arg(&packages)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = cmd.spawn().expect("cannot start pypi-server");
        let server = PypiServer {
            child,
            port,
            packages,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !http_get(port, "/simple/").is_ok_and(|(s, _)| s == 200) {
            assert!(
                Instant::now() < deadline,
                "pypiserver did not answer on port {port} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    /// The upload URL (`http://127.0.0.1:PORT/`).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// The simple index URL (`http://127.0.0.1:PORT/simple/`).
    pub fn simple(&self) -> String {
        format!("http://127.0.0.1:{}/simple/", self.port)
    }
}

impl Drop for PypiServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `python3 -m pip download --disable-pip-version-check ARGS -d INTO` (from PyPI: the only
/// network the tests use, for fixtures); returns pip's output, which callers check.
pub fn pip_download(args: &[&str], into: &Path) -> std::process::Output {
    Command::new("python3")
        .args(["-m", "pip", "download", "--disable-pip-version-check"])
        .args(args)
        .arg("-d")
        .arg(into)
        .output()
        .expect("python3 is needed for the tests")
}

/// `pip install --no-deps --no-index --target TARGET WHEELS...`: local wheel files only.
/// Panics with pip's output, prefixed with `what`, when pip fails.
pub fn pip_install_wheels(what: &str, wheels: &[&Path], target: &Path) {
    let o = Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-deps",
            "--no-index",
            "--target",
        ])
        .arg(target)
        .args(wheels)
        .output()
        .expect("python3 is needed for the tests");
    assert!(
        o.status.success(),
        "{what}: pip install: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// `pip install --no-deps --index-url INDEX --target T REQUIREMENT`, then
/// `python3 -c "import MODULE"` with T on the path. Panics with pip's output on failure;
/// returns T.
pub fn pip_install(index_url: &str, requirement: &str, module: &str) -> tempfile::TempDir {
    let target = tempfile::tempdir().unwrap();
    let out = Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-cache-dir",
            "--no-deps",
            "--index-url",
            index_url,
            "--target",
        ])
        .arg(target.path())
        .arg(requirement)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pip install {requirement} from {index_url} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let import = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .env("PYTHONPATH", target.path())
        .output()
        .unwrap();
    assert!(
        import.status.success(),
        "import {module} failed: {}",
        String::from_utf8_lossy(&import.stderr)
    );
    target
}

/// A file of release `name==version` from PyPI, cached in `target/fixtures/pypi/`:
/// the sdist (`sdist = true`, `pip download --no-binary NAME`: only this project from source,
/// so its build backend may come as a wheel, e.g. uv_build, which has no pure-Python sdist)
/// or the wheel
/// (`--only-binary :all:`), downloaded once (into a temp dir beside it, then renamed into
/// place, like [`fixtures`]). Panics with pip's output when it cannot be had.
pub fn pypi_file(name: &str, version: &str, sdist: bool) -> PathBuf {
    let _serial = FIXTURES_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = workspace().join("target/fixtures/pypi");
    std::fs::create_dir_all(&dir).unwrap();
    let prefix = name.to_lowercase().replace(['-', '.'], "_");
    let find = |d: &Path| -> Option<PathBuf> {
        std::fs::read_dir(d)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                let f = p
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .to_lowercase()
                    .replace(['-', '.'], "_");
                f.starts_with(&format!("{prefix}_{}", version.replace(['-', '.'], "_")))
                    && (if sdist {
                        f.ends_with("_tar_gz")
                    } else {
                        f.ends_with("_whl")
                    })
            })
    };
    if let Some(p) = find(&dir) {
        return p;
    }
    let tmp = tempfile::Builder::new()
        .prefix(".download-")
        .tempdir_in(&dir)
        .unwrap();
    let binary = if sdist {
        format!("--no-binary={name}")
    } else {
        "--only-binary=:all:".to_string()
    };
    let out = pip_download(
        &["--no-deps", &binary, &format!("{name}=={version}")],
        tmp.path(),
    );
    let got = find(tmp.path()).unwrap_or_else(|| {
        panic!(
            "cannot download the {} of {name}=={version}: {}",
            if sdist { "sdist" } else { "wheel" },
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let dest = dir.join(got.file_name().unwrap());
    std::fs::rename(&got, &dest).unwrap();
    dest
}

/// The sdist of `name==version` from PyPI (see [`pypi_file`]).
pub fn pypi_sdist(name: &str, version: &str) -> PathBuf {
    pypi_file(name, version, true)
}

/// The published wheel of `name==version` from PyPI (see [`pypi_file`]).
pub fn pypi_wheel(name: &str, version: &str) -> PathBuf {
    pypi_file(name, version, false)
}

/// Unpacks the sdist at `sdist` into `into` with `tar xzf` and returns its single top-level
/// folder.
pub fn unpack_sdist(sdist: &Path, into: &Path) -> PathBuf {
    let status = Command::new("tar")
        .arg("xzf")
        .arg(sdist)
        .arg("-C")
        .arg(into)
        .status()
        .unwrap();
    assert!(status.success(), "tar xzf {} failed", sdist.display());
    let mut tops: Vec<PathBuf> = std::fs::read_dir(into)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(
        tops.len(),
        1,
        "{} has one top-level folder",
        sdist.display()
    );
    tops.remove(0)
}

/// A stage component that implements the airlock `stage` world exactly (so the host's
/// bindgen-typed instantiation accepts it), imports nothing, and at instantiation claims
/// memory: `memories` linear memories of `pages_each` 64-KiB pages each (their minimum
/// size, so every page is allocated, and counted by the host's limiter, before `run` can
/// be called) and, when `table_elements > 0`, one funcref table of `table_elements`
/// elements (its minimum size). Its start function writes one byte into every page of
/// every memory, so the pages are really used, not only reserved.
///
/// `run` returns `ok` with `{ output: "{}", artifacts: [] }`; the host gets there only when
/// its limits allowed the instantiation. Memory 0 is the one `run` lifts through (exported
/// as `memory`, with a bump-allocating `cabi_realloc`), so `memories` and `pages_each` must
/// both be at least 1 (it panics otherwise). The binary is not validated here: past the
/// core validator's bounds (100 memories, 65536 pages a memory, 10,000,000 table elements)
/// it is made all the same and the host refuses it when compiling it.
///
/// Built from component-model WAT text with [`wat::parse_str`].
pub fn hostile_memory_component(memories: u32, pages_each: u32, table_elements: u32) -> Vec<u8> {
    assert!(
        memories >= 1 && pages_each >= 1,
        "memory 0 holds the return area: memories ({memories}) and pages_each ({pages_each}) must be at least 1"
    );
    let mut module = String::new();
    // Memory 0: lifted through by `run`; the others only take space.
    module.push_str(&format!(
        "    (memory $m0 (export \"memory\") {pages_each})\n"
    ));
    for k in 1..memories {
        module.push_str(&format!("    (memory $m{k} {pages_each})\n"));
    }
    if table_elements > 0 {
        module.push_str(&format!("    (table $t {table_elements} funcref)\n"));
    }
    // The response's output, "{}", at 8; the return area at 16; the heap from 1024.
    module.push_str(
        r#"    (data (memory $m0) (i32.const 8) "{}")
    (global $heap (mut i32) (i32.const 1024))
    (func $cabi_realloc (export "cabi_realloc")
      (param $old i32) (param $old_size i32) (param $align i32) (param $size i32) (result i32)
      (local $p i32) (local $end i32) (local $have i32)
      (local.set $p
        (i32.and
          (i32.add (global.get $heap) (i32.sub (local.get $align) (i32.const 1)))
          (i32.sub (i32.const 0) (local.get $align))))
      (local.set $end (i32.add (local.get $p) (local.get $size)))
      (if (i32.lt_u (local.get $end) (local.get $p)) (then unreachable))
      (local.set $have (i32.shl (memory.size $m0) (i32.const 16)))
      (if (i32.gt_u (local.get $end) (local.get $have))
        (then
          (if (i32.eq
                (memory.grow $m0
                  (i32.add
                    (i32.shr_u (i32.sub (local.get $end) (local.get $have)) (i32.const 16))
                    (i32.const 1)))
                (i32.const -1))
            (then unreachable))))
      (if (local.get $old_size)
        (then
          (memory.copy $m0 $m0 (local.get $p) (local.get $old)
            (select (local.get $old_size) (local.get $size)
              (i32.lt_u (local.get $old_size) (local.get $size))))))
      (global.set $heap (local.get $end))
      (local.get $p))
    (func (export "run")
      (param i32 i32 i32 i32 i32 i32) (result i32)
      ;; result<response, stage-error>: discriminant (0 = ok) at 0, payload at 4.
      (i32.store8 $m0 (i32.const 16) (i32.const 0))
      ;; response.output = "{}"
      (i32.store $m0 (i32.const 20) (i32.const 8))
      (i32.store $m0 (i32.const 24) (i32.const 2))
      ;; response.artifacts = [] (pointer aligned to artifact's 8)
      (i32.store $m0 (i32.const 28) (i32.const 8))
      (i32.store $m0 (i32.const 32) (i32.const 0))
      (i32.const 16))
    (func $touch
      (local $page i32)
"#,
    );
    for k in 0..memories {
        module.push_str(&format!(
            "      (local.set $page (i32.const 0))\n      (loop $l{k}\n        (i32.store8 $m{k} (i32.shl (local.get $page) (i32.const 16)) (i32.const 1))\n        (local.set $page (i32.add (local.get $page) (i32.const 1)))\n        (br_if $l{k} (i32.lt_u (local.get $page) (memory.size $m{k}))))\n"
        ));
    }
    module.push_str("    )\n    (start $touch)\n");
    let text = format!(
        r#"(component
  (core module $M
{module}  )
  (core instance $i (instantiate $M))

  (type $error-category' (enum "authentication" "network" "validation" "build" "upload"
    "configuration" "capability" "internal"))
  (export $error-category "error-category" (type $error-category'))
  (type $stage-error' (record
    (field "category" $error-category)
    (field "message" string)
    (field "retryable" bool)
    (field "hint" (option string))))
  (export $stage-error "stage-error" (type $stage-error'))
  (type $upstream' (record (field "id" string) (field "output" string)))
  (export $upstream "upstream" (type $upstream'))
  (type $request' (record
    (field "stage-id" string)
    (field "config" string)
    (field "inputs" (list $upstream))))
  (export $request "request" (type $request'))
  (type $artifact' (record (field "path" string) (field "sha256" string) (field "size" u64)))
  (export $artifact "artifact" (type $artifact'))
  (type $response' (record (field "output" string) (field "artifacts" (list $artifact))))
  (export $response "response" (type $response'))

  (type $run-type (func (param "request" $request) (result (result $response (error $stage-error)))))
  (func $run (type $run-type)
    (canon lift (core func $i "run")
      (memory $i "memory")
      (realloc (func $i "cabi_realloc"))))
  (export "run" (func $run))
)
"#
    );
    wat::parse_str(&text).unwrap_or_else(|e| panic!("hostile memory component: {e}\n{text}"))
}

/// The pep517 stage component (`stages/pep517/app.py` with CPython for WASI), built once by
/// `scripts/build-pep517` into `target/pep517/pep517-<key>.wasm`, where `<key>` digests the
/// app, the pinned toolchain and the WIT world: a changed input builds anew, an unchanged
/// one is reused across test runs. Returns the path and the component's sha256. Panics with
/// the script's output when it fails (it needs pip to install componentize-py from PyPI).
pub fn pep517_component() -> (PathBuf, String) {
    static LOCK: Mutex<()> = Mutex::new(());
    let _serial = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let root = workspace();
    let mut key = Sha256::new();
    for f in [
        "stages/pep517/app.py",
        "stages/pep517/requirements.txt",
        "crates/stage/wit/stage.wit",
        "scripts/build-pep517",
    ] {
        key.update(std::fs::read(root.join(f)).unwrap());
    }
    let key = hex::encode(&key.finalize()[..8]);
    let out = root.join(format!("target/pep517/pep517-{key}.wasm"));
    if !out.is_file() {
        let tmp = root.join(format!(
            "target/pep517/.building-{key}-{}.wasm",
            std::process::id()
        ));
        let run = Command::new(root.join("scripts/build-pep517"))
            .arg(&tmp)
            .output()
            .expect("cannot run scripts/build-pep517");
        assert!(
            run.status.success(),
            "scripts/build-pep517 failed: {}{}",
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        );
        std::fs::rename(&tmp, &out).unwrap();
    }
    let sha = hex::encode(Sha256::digest(std::fs::read(&out).unwrap()));
    (out, sha)
}

/// The pure-Python wheels of `requirements` and their dependencies (`pip download
/// --only-binary=:all:`), downloaded once into `target/fixtures/build-deps/<key>` (renamed
/// into place, like [`fixtures`]): the build dependencies the pep517 stage is given.
pub fn build_deps(requirements: &[&str]) -> PathBuf {
    let _serial = FIXTURES_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let key = hex::encode(&Sha256::digest(requirements.join("\n").as_bytes())[..8]);
    let parent = workspace().join("target/fixtures/build-deps");
    let dir = parent.join(&key);
    if dir.is_dir() {
        return dir;
    }
    std::fs::create_dir_all(&parent).unwrap();
    let tmp = tempfile::Builder::new()
        .prefix(".download-")
        .tempdir_in(&parent)
        .unwrap();
    let args: Vec<&str> = std::iter::once("--only-binary=:all:")
        .chain(requirements.iter().copied())
        .collect();
    let out = pip_download(&args, tmp.path());
    assert!(
        out.status.success(),
        "cannot download {requirements:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::rename(tmp.keep(), &dir).unwrap();
    dir
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Processes racing to unpack (threads here, bypassing the in-process lock) all get the
    /// one complete folder, and no temp dir is left behind.
    #[test]
    fn racing_unpacks_agree_on_one_complete_folder() {
        let sdist = fixtures().join(MYPYLOGGER_SDIST);
        let parent = tempfile::tempdir().unwrap();
        let got: Vec<PathBuf> = std::thread::scope(|s| {
            let racers: Vec<_> = (0..4)
                .map(|_| s.spawn(|| unpack_into_place(&sdist, parent.path())))
                .collect();
            racers.into_iter().map(|r| r.join().unwrap()).collect()
        });
        let expected = parent.path().join(MYPYLOGGER_PROJECT);
        assert!(got.iter().all(|p| *p == expected), "{got:?}");
        let left: Vec<_> = std::fs::read_dir(parent.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, [MYPYLOGGER_PROJECT], "temp dirs removed");
        // Unpacked once more when present: the existing folder is used as it is.
        assert_eq!(unpack_into_place(&sdist, parent.path()), expected);
    }

    /// The shared fixture is complete, and the downloads are the real files.
    #[test]
    fn fixtures_and_project_are_there() {
        let dir = fixtures();
        assert!(dir.join(MYPYLOGGER_WHEEL).is_file() && dir.join(MYPYLOGGER_SDIST).is_file());
        let project = mypylogger_project();
        assert_eq!(project, dir.join(MYPYLOGGER_PROJECT));
        assert!(
            std::fs::read_to_string(project.join("pyproject.toml"))
                .unwrap()
                .contains("name = \"mypylogger\"")
        );
    }
}
