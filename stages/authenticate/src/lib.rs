//! The authenticate stage: gets an upload credential and hands it to the host with
//! `store-secret`, so that later stages (upload) get it injected into their requests
//! without ever seeing it. See docs/publishing.md.
//!
//! Config (all optional):
//! - `mode`:
//!   - `"token"` (default): an API token from a granted environment variable (`env`).
//!   - `"trusted"`: PyPI Trusted Publishing from GitHub Actions: `GET {index}/_/oidc/audience`,
//!     the GitHub ID token from `ACTIONS_ID_TOKEN_REQUEST_URL&audience=…` (the host injects
//!     `ACTIONS_ID_TOKEN_REQUEST_TOKEN` as bearer: this stage never reads it), then
//!     `POST {index}/_/oidc/mint-token`; the minted token (15 minutes) is stored.
//!   - `"auto"`: `"trusted"` when on GitHub Actions with `id-token: write`
//!     (`GITHUB_ACTIONS=true` and `ACTIONS_ID_TOKEN_REQUEST_URL` set), else `"token"`.
//!   - `"aws"` is planned and refused with a configuration error.
//! - `index` (default `"https://pypi.org"`): the index whose `/_/oidc/` endpoints are used
//!   (`https://upload.pypi.org/legacy/` is read as `https://pypi.org`); grant its origin
//!   and the token endpoint's (`https://*.actions.githubusercontent.com`) in `grants.http`,
//!   and the variables `ACTIONS_ID_TOKEN_REQUEST_URL`, `GITHUB_ACTIONS`, `GITHUB_EVENT_NAME`,
//!   `GITHUB_REPOSITORY`, `GITHUB_HEAD_REF` in `grants.env`.
//! - `env`: the environment variable holding the token (token mode), default
//!   `"PYPI_TOKEN"`; it must be granted in `[stage.grants] env`.
//! - `secret`: the secret name to store it under, default `"pypi-token"`; it must be listed
//!   in `grants.secrets.produce`.
//! - `optional`: default false. When true (token mode) and the variable is unset or empty,
//!   nothing is stored and the output says `"stored": false` (for publishing to a `file:`
//!   index, which needs no credential, as the bundled demo does).
//!
//! Output: `{ "mode": "token"|"trusted", "secret": "<secret>", "source": "env:<env>" |
//! "github-oidc", "stored": bool }`, plus for trusted: `"index"`, `"audience"`,
//! `"expires_at"` (unix seconds; the upload stage stops starting files near it) and
//! `"claims"` (`sub`, `repository`, `workflow_ref`, `job_workflow_ref`, `ref`,
//! `environment`: what the publisher was matched on). The token is never in the output or a
//! log line; on GitHub Actions the host masks stored secrets (`::add-mask::`).

// Natively `export_stage!` expands to nothing, so `run` is used only by the tests.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use airlock_publish::index::{SdkTransport, Transport};
use airlock_publish::oidc::{self, ActionsEnv};
use airlock_stage::{Request, StageError, host};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default = "default_mode")]
    mode: String,
    #[serde(default = "default_index")]
    index: String,
    #[serde(default = "default_env")]
    env: String,
    #[serde(default = "default_secret")]
    secret: String,
    #[serde(default)]
    optional: bool,
}

fn default_mode() -> String {
    "token".into()
}
fn default_index() -> String {
    "https://pypi.org".into()
}
fn default_env() -> String {
    "PYPI_TOKEN".into()
}
fn default_secret() -> String {
    "pypi-token".into()
}

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn run(req: &Request) -> Result<serde_json::Value, StageError> {
    run_with(req, &mut SdkTransport, &|k| std::env::var(k).ok())
}

/// The stage with its transport and environment passed in (tests).
fn run_with(
    req: &Request,
    transport: &mut dyn Transport,
    getenv: &dyn Fn(&str) -> Option<String>,
) -> Result<serde_json::Value, StageError> {
    let config: Config = req.config()?;
    if config.secret.trim().is_empty() {
        return Err(StageError::config(format!(
            "stage '{}': config.secret must not be empty",
            req.stage_id
        )));
    }
    let actions = ActionsEnv::from(getenv);
    let trusted = match config.mode.as_str() {
        "token" => false,
        "trusted" => true,
        "auto" => {
            let t = actions.trusted_available();
            host::info(&if t {
                "mode auto: on GitHub Actions with id-token: write, using trusted publishing"
                    .to_string()
            } else {
                format!(
                    "mode auto: not on GitHub Actions with id-token: write, using the API token in {}",
                    config.env
                )
            });
            t
        }
        "aws" => {
            return Err(StageError::config(format!(
                "stage '{}': mode \"aws\" is not available yet",
                req.stage_id
            ))
            .with_hint("use mode = \"trusted\" (GitHub OIDC) or \"token\" (an API token in a granted env var)"));
        }
        other => {
            return Err(StageError::config(format!(
                "stage '{}': config.mode: unknown mode \"{other}\"",
                req.stage_id
            ))
            .with_hint("allowed: \"token\", \"trusted\", \"auto\" (\"aws\" is planned)"));
        }
    };
    if trusted {
        return trusted_mode(&config, &actions, transport);
    }
    let value = match getenv(&config.env) {
        Some(v) => Ok(v),
        None => Err(std::env::VarError::NotPresent),
    };
    if config.optional && value.as_deref().map_or(true, |v| v.trim().is_empty()) {
        host::warn(&format!(
            "{} is not set or empty: no credential stored (optional = true)",
            config.env
        ));
        return Ok(serde_json::json!({
            "mode": "token",
            "secret": config.secret,
            "source": format!("env:{}", config.env),
            "stored": false,
        }));
    }
    let (token, warnings) = airlock_publish::auth::check_token(&config.env, value)?;
    for w in &warnings {
        host::warn(w);
    }
    host::store_secret(&config.secret, &token)?;
    host::info(&format!(
        "stored the token from {} as secret '{}'",
        config.env, config.secret
    ));
    Ok(serde_json::json!({
        "mode": "token",
        "secret": config.secret,
        "source": format!("env:{}", config.env),
        "stored": true,
    }))
}

fn trusted_mode(
    config: &Config,
    actions: &ActionsEnv,
    transport: &mut dyn Transport,
) -> Result<serde_json::Value, StageError> {
    let minted = oidc::trusted_publish_token(transport, &config.index, actions, now_s())?;
    for w in &minted.warnings {
        host::warn(w);
    }
    host::store_secret(&config.secret, &minted.token)?;
    let c = &minted.claims;
    host::info(&format!(
        "minted a trusted-publishing upload token for {} ({}) as secret '{}', valid until {} (unix seconds)",
        c.repository.as_deref().unwrap_or("?"),
        c.workflow_ref.as_deref().unwrap_or("?"),
        config.secret,
        minted.expires.unwrap_or(0)
    ));
    Ok(serde_json::json!({
        "mode": "trusted",
        "secret": config.secret,
        "source": "github-oidc",
        "stored": true,
        "index": oidc::oidc_base(&config.index)?,
        "audience": minted.audience,
        "expires_at": minted.expires,
        "claims": {
            "sub": c.sub, "repository": c.repository, "workflow_ref": c.workflow_ref,
            "job_workflow_ref": c.job_workflow_ref, "ref": c.r#ref, "environment": c.environment,
        },
    }))
}

airlock_stage::export_stage!(run);

#[cfg(test)]
mod tests {
    use super::*;
    use airlock_stage::Category;
    use airlock_stage::host::{Record, take_records};

    #[test]
    fn stores_the_token_and_never_outputs_it() {
        // SAFETY: this test alone uses this variable name.
        unsafe { std::env::set_var("AIRLOCK_TEST_TOKEN_A", "pypi-secret-value") };
        let req = Request::new(
            "auth",
            serde_json::json!({ "env": "AIRLOCK_TEST_TOKEN_A", "secret": "tok" }),
        );
        let out = run(&req).unwrap();
        assert_eq!(
            out,
            serde_json::json!({ "mode": "token", "secret": "tok", "source": "env:AIRLOCK_TEST_TOKEN_A", "stored": true })
        );
        let records = take_records();
        assert!(records.contains(&Record::Secret("tok".into(), "pypi-secret-value".into())));
        for r in records {
            if let Record::Log(_, m) = r {
                assert!(!m.contains("pypi-secret-value"));
            }
        }
    }

    #[test]
    fn missing_variable_and_unknown_modes() {
        let req = Request::new(
            "auth",
            serde_json::json!({ "env": "AIRLOCK_TEST_TOKEN_UNSET" }),
        );
        let e = run(&req).unwrap_err();
        assert_eq!(e.category, Category::Authentication);
        assert!(
            e.hint
                .unwrap()
                .contains("[stage.grants] env = [\"AIRLOCK_TEST_TOKEN_UNSET\"]")
        );
        let out = run(&Request::new(
            "auth",
            serde_json::json!({ "env": "AIRLOCK_TEST_TOKEN_UNSET", "optional": true }),
        ))
        .unwrap();
        assert_eq!(out["stored"], false);
        assert!(
            !take_records()
                .iter()
                .any(|r| matches!(r, Record::Secret(..)))
        );
        let e = run(&Request::new("auth", serde_json::json!({ "mode": "aws" }))).unwrap_err();
        assert_eq!(e.category, Category::Configuration);
        assert!(e.hint.is_some());
        let e = run(&Request::new(
            "auth",
            serde_json::json!({ "mode": "magic" }),
        ))
        .unwrap_err();
        assert_eq!(e.category, Category::Configuration);
    }

    /// Answers the three trusted-publishing endpoints; records the URLs asked.
    struct Standin(Vec<String>);
    impl Transport for Standin {
        fn send(
            &mut self,
            req: &airlock_stage::http::Request,
            _: &mut dyn FnMut(u64, u64),
        ) -> Result<airlock_stage::http::Response, StageError> {
            use base64::Engine;
            self.0.push(req.url.clone());
            let claims = serde_json::json!({ "sub": "repo:o/r:environment:pypi", "repository": "o/r",
                "workflow_ref": "o/r/.github/workflows/release.yml@refs/tags/v1",
                "job_workflow_ref": "o/r/.github/workflows/release.yml@refs/tags/v1",
                "ref": "refs/tags/v1", "environment": "pypi" });
            let jwt = format!(
                "e30.{}.sig",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string())
            );
            let body = if req.url.ends_with("/_/oidc/audience") {
                serde_json::json!({ "audience": "testpypi" })
            } else if req.url.contains("/token?") {
                serde_json::json!({ "count": 1, "value": jwt })
            } else {
                serde_json::json!({ "success": true, "token": "pypi-minted-secret", "expires": 4_000_000_000u64 })
            };
            Ok(airlock_stage::http::Response {
                status: 200,
                headers: vec![],
                body: body.to_string().into_bytes(),
            })
        }
    }

    #[test]
    fn trusted_and_auto_modes() {
        let actions = |k: &str| match k {
            "GITHUB_ACTIONS" => Some("true".to_string()),
            "ACTIONS_ID_TOKEN_REQUEST_URL" => {
                Some("https://x.actions.githubusercontent.com/token?api-version=2.0".to_string())
            }
            "PYPI_TOKEN" => Some("pypi-from-env".to_string()),
            _ => None,
        };
        for mode in ["trusted", "auto"] {
            let mut t = Standin(vec![]);
            let req = Request::new(
                "auth",
                serde_json::json!({ "mode": mode, "index": "https://test.pypi.org/legacy/" }),
            );
            let out = run_with(&req, &mut t, &actions).unwrap();
            assert_eq!(out["mode"], "trusted");
            assert_eq!(out["audience"], "testpypi");
            assert_eq!(out["expires_at"], 4_000_000_000u64);
            assert_eq!(out["claims"]["environment"], "pypi");
            assert_eq!(t.0[0], "https://test.pypi.org/_/oidc/audience");
            assert!(!out.to_string().contains("pypi-minted-secret"));
            let records = take_records();
            assert!(records.contains(&Record::Secret(
                "pypi-token".into(),
                "pypi-minted-secret".into()
            )));
        }
        // auto off GitHub Actions: the API token.
        let local = |k: &str| (k == "PYPI_TOKEN").then(|| "pypi-from-env".to_string());
        let mut t = Standin(vec![]);
        let out = run_with(
            &Request::new("auth", serde_json::json!({ "mode": "auto" })),
            &mut t,
            &local,
        )
        .unwrap();
        assert_eq!(out["mode"], "token");
        assert!(t.0.is_empty());
        // trusted without id-token: write says so.
        let no_perm = |k: &str| (k == "GITHUB_ACTIONS").then(|| "true".to_string());
        let e = run_with(
            &Request::new("auth", serde_json::json!({ "mode": "trusted" })),
            &mut t,
            &no_perm,
        )
        .unwrap_err();
        assert_eq!(e.category, Category::Authentication);
        assert!(
            format!("{} {}", e.message, e.hint.unwrap_or_default()).contains("id-token: write")
        );
        take_records();
    }
}
