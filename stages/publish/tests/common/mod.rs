//! Shared test support: fixtures, a native transport, a pypiserver guard.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use airlock_publish::Transport;
use airlock_stage::http::{Request, Response};
use airlock_stage::{Category, StageError};

pub const WHEEL: &str = "mypylogger-0.2.8-py3-none-any.whl";
pub const SDIST: &str = "mypylogger-0.2.8.tar.gz";

/// `target/fixtures` with the real mypylogger 0.2.8 wheel and sdist, downloaded with pip if
/// absent; `None` (with a notice) when they cannot be had.
pub fn fixtures() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/fixtures");
    let _ = std::fs::create_dir_all(&dir);
    for (file, extra) in [(WHEEL, "--only-binary=:all:"), (SDIST, "--no-binary=:all:")] {
        if !dir.join(file).is_file() {
            let ok = Command::new("python3")
                .args(["-m", "pip", "download", "--no-deps", extra, "-d"])
                .arg(&dir)
                .arg("mypylogger==0.2.8")
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !ok || !dir.join(file).is_file() {
                eprintln!("NOTICE: skipping: cannot get {file} into {}", dir.display());
                return None;
            }
        }
    }
    Some(dir)
}

/// True when `python3 -c CODE` succeeds (a module is importable).
pub fn python_has(module: &str) -> bool {
    Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A blocking native transport (ureq), adding `auth` (an `Authorization` value) to every
/// request the way the host's inject rule does. Counts the requests it sends.
pub struct Native {
    agent: ureq::Agent,
    pub auth: Option<String>,
    pub sent: Vec<(String, String)>,
}

impl Native {
    pub fn new(auth: Option<String>) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        Native {
            agent,
            auth,
            sent: Vec::new(),
        }
    }
}

pub fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

impl Transport for Native {
    fn send(
        &mut self,
        req: &Request,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<Response, StageError> {
        self.sent.push((req.method.clone(), req.url.clone()));
        let mut b = ureq::http::Request::builder()
            .method(req.method.as_str())
            .uri(&req.url);
        for (n, v) in &req.headers {
            b = b.header(n, v);
        }
        if let Some(a) = &self.auth {
            b = b.header("authorization", a);
        }
        let total = req.body.len() as u64;
        progress(0, total);
        let r = b
            .body(req.body.clone())
            .map_err(|e| StageError::internal(e.to_string()))?;
        let mut resp = self.agent.run(r).map_err(|e| {
            StageError::new(
                Category::Network,
                format!("request to {} failed: {e}", req.url),
            )
            .retryable(true)
        })?;
        progress(total, total);
        let headers = resp
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = resp
            .body_mut()
            .with_config()
            .limit(u64::MAX)
            .read_to_vec()
            .map_err(|e| StageError::new(Category::Network, e.to_string()).retryable(true))?;
        Ok(Response {
            status: resp.status().as_u16(),
            headers,
            body,
        })
    }
}

/// A pypiserver on 127.0.0.1, killed on drop.
pub struct PypiServer {
    child: Child,
    pub port: u16,
    pub _dir: tempfile::TempDir,
}

impl PypiServer {
    /// Starts `pypi-server run` on a free port serving a new temp dir; with `htpasswd`
    /// (user, password) uploads need those credentials. `None` (with a notice) when
    /// pypiserver is not installed.
    pub fn start(htpasswd: Option<(&str, &str)>) -> Option<Self> {
        if !python_has("pypiserver") {
            eprintln!(
                "NOTICE: skipping: pypiserver is not installed (pip install 'pypiserver[passlib]')"
            );
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let packages = dir.path().join("packages");
        std::fs::create_dir_all(&packages).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut cmd = Command::new("python3");
        cmd.args([
            "-m",
            "pypiserver",
            "run",
            "-i",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ]);
        match htpasswd {
            None => {
                cmd.args(["-a", ".", "-P", "."]);
            }
            Some((user, password)) => {
                let file = dir.path().join("htpasswd");
                let status = Command::new("python3")
                    .args([
                        "-c",
                        "import sys; from passlib.apache import HtpasswdFile as H; h=H(sys.argv[1], new=True); h.set_password(sys.argv[2], sys.argv[3]); h.save()",
                    ])
                    .arg(&file)
                    .args([user, password])
                    .status()
                    .unwrap();
                assert!(
                    status.success(),
                    "could not write htpasswd (passlib missing?)"
                );
                cmd.args(["-a", "update", "-P"]).arg(&file);
            }
        }
        cmd.arg("--disable-fallback").arg(&packages);
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        let child = cmd.spawn().expect("spawn pypi-server");
        let server = PypiServer {
            child,
            port,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut t = Native::new(None);
        loop {
            let probe = Request::get(&format!("{}simple/", server.url()));
            if t.send(&probe, &mut |_, _| {})
                .is_ok_and(|r| r.status == 200)
            {
                return Some(server);
            }
            assert!(
                Instant::now() < deadline,
                "pypiserver did not answer within 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }
}

impl Drop for PypiServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `pip install --index-url INDEX --no-deps --target T mypylogger`, asserting success and
/// that the package landed in T.
pub fn pip_install(index_url: &str) {
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
        .arg("mypylogger==0.2.8")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pip install from {index_url} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        target.path().join("mypylogger/__init__.py").is_file(),
        "mypylogger not installed"
    );
    let import = Command::new("python3")
        .args(["-c", "import mypylogger, sys; print(mypylogger.__file__)"])
        .env("PYTHONPATH", target.path())
        .output()
        .unwrap();
    assert!(
        import.status.success(),
        "import failed: {}",
        String::from_utf8_lossy(&import.stderr)
    );
}

/// A copy of the sdist with the same name but other bytes (recompressed at another level).
pub fn altered_sdist(fixtures: &Path, into: &Path) -> PathBuf {
    use std::io::{Read, Write};
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(fixtures.join(SDIST)).unwrap())
        .read_to_end(&mut raw)
        .unwrap();
    let dest = into.join(SDIST);
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&dest).unwrap(),
        flate2::Compression::new(1),
    );
    enc.write_all(&raw).unwrap();
    enc.finish().unwrap();
    dest
}
