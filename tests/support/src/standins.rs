//! Every service a release with attestations talks to, on 127.0.0.1: GitHub Actions'
//! ID-token endpoint ([`GithubOidc`]), Fulcio and Rekor ([`Sigstore`]), and a PyPI that
//! takes the `attestations` upload field and serves their provenance ([`PypiStandIn`]).
//! `sigstore-standins` starts them for people ([`ReleaseStandins::instructions`]), and
//! tests/attest.rs runs examples/mypylogger/release.toml against them with exactly the
//! settings it prints ([`ReleaseStandins::env`], [`ReleaseStandins::sets`]).

use std::path::Path;

use crate::github::{GithubOidc, IdTokenSpec};
use crate::pypi::PypiStandIn;
use crate::sigstore::Sigstore;

/// The API token the PyPI stand-in accepts (`__token__`), set as `PYPI_TOKEN`.
pub const PYPI_TOKEN: &str = "pypi-AgEIcHlwaS5vcmcStandInToken0740";

/// The four stand-ins, each on its own free port, for the life of the process.
pub struct ReleaseStandins {
    /// GitHub's ID-token endpoint (the default job: `octo/mypylogger`, `release.yml`).
    pub github: GithubOidc,
    /// Fulcio and Rekor.
    pub sigstore: Sigstore,
    /// The index (upload API, simple API, integrity API); publisher `octo/mypylogger`,
    /// `release.yml`, environment `pypi`.
    pub pypi: PypiStandIn,
}

impl ReleaseStandins {
    /// Starts them all.
    pub fn start() -> ReleaseStandins {
        let pypi = PypiStandIn::start(PYPI_TOKEN, 100 << 20);
        pypi.set_publisher("octo/mypylogger", "release.yml", "pypi");
        ReleaseStandins {
            github: GithubOidc::start(IdTokenSpec::default()),
            sigstore: Sigstore::start(),
            pypi,
        }
    }

    /// The job's environment: GitHub Actions with `id-token: write`, and the index's token.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = self
            .github
            .actions_env()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        env.push(("PYPI_TOKEN".into(), PYPI_TOKEN.into()));
        env
    }

    /// The `--set` values for examples/mypylogger/release.toml: the attest stage's Sigstore
    /// and token endpoint, the upload stage's repository, and the token mode (the stand-in
    /// index has no trusted publishing).
    pub fn sets(&self) -> Vec<String> {
        vec![
            format!("attest.fulcio={}", self.sigstore.fulcio_url()),
            format!("attest.rekor={}", self.sigstore.rekor_url()),
            format!("attest.actions_origin={}", self.github.origin()),
            "authenticate.mode=token".into(),
            format!("upload.repository={}", self.pypi.url()),
        ]
    }

    /// The simple index's URL (`http://127.0.0.1:P/simple/`).
    pub fn simple(&self) -> String {
        self.pypi.url().replace("/legacy/", "/simple/")
    }

    /// What `sigstore-standins` prints: the `export` line, the `--set` arguments, where the
    /// trusted root is, and the `airlock verify` command for the release afterwards.
    pub fn instructions(&self, trusted_root: &Path) -> String {
        let env = self
            .env()
            .into_iter()
            .map(|(k, v)| {
                if v.contains(['?', '&']) {
                    format!("{k}='{v}'")
                } else {
                    format!("{k}={v}")
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
        let sets = self
            .sets()
            .iter()
            .map(|s| format!("--set {s}"))
            .collect::<Vec<_>>()
            .join(" ");
        format!(
            "export {env}\n{sets}\ntrusted root: {root}\nverify: airlock verify mypylogger==0.2.8 --index {simple} --trusted-root {root} --repository octo/mypylogger --workflow release.yml --environment pypi\n",
            root = trusted_root.display(),
            simple = self.simple(),
        )
    }
}
