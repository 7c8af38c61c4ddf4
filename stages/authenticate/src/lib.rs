//! The authenticate stage: gets an upload credential and hands it to the host with
//! `store-secret`, so that later stages (upload) get it injected into their requests
//! without ever seeing it. See docs/publishing.md.
//!
//! Config (all optional):
//! - `mode`:
//!   - `"token"` (default): an API token from a granted environment variable (`env`).
//!   - `"trusted"`: PyPI Trusted Publishing: `GET {index}/_/oidc/audience`, an ID token for
//!     that audience, then `POST {index}/_/oidc/mint-token`; the minted token (15 minutes)
//!     is stored. The ID token comes, on GitHub Actions, from
//!     `ACTIONS_ID_TOKEN_REQUEST_URL&audience=…` (the host injects
//!     `ACTIONS_ID_TOKEN_REQUEST_TOKEN` as bearer: this stage never reads it); on GitLab CI
//!     (`GITLAB_CI=true`), from the job's `id_tokens:` variable: `id_token_env`, by default
//!     `<AUDIENCE>_ID_TOKEN` (`PYPI_ID_TOKEN`, as PyPI's docs name it). Grant `GITLAB_CI` and
//!     that variable in `grants.env`.
//!   - `"auto"`: `"trusted"` when on GitHub Actions with `id-token: write`
//!     (`GITHUB_ACTIONS=true` and `ACTIONS_ID_TOKEN_REQUEST_URL` set) or on GitLab CI with
//!     the ID token variable set (`id_token_env`, else `PYPI_ID_TOKEN`, `TESTPYPI_ID_TOKEN`
//!     for test.pypi.org), else `"token"`.
//!   - `"aws"`: a token kept in AWS Secrets Manager (see docs/aws.md): the GitHub ID token
//!     with audience `sts.amazonaws.com` (as in `"trusted"`), STS
//!     `AssumeRoleWithWebIdentity` of `role_arn`, then `GetSecretValue` of `secret_id`
//!     (SigV4-signed), whose value (or its `secret_key` of a JSON object) is stored. Config:
//!     `region`, `role_arn`, `secret_id` (required), `secret_key`, `session_name` (default
//!     `"airlock-publish"`), `duration_s` (default 900, the minimum), `endpoint` (one origin
//!     for both services instead of the region's, for an emulator). Grant
//!     `https://sts.{region}.amazonaws.com`, `https://secretsmanager.{region}.amazonaws.com`
//!     and the token endpoint's origin in `grants.http`. The temporary AWS credentials stay
//!     in this stage's memory: never stored, output or logged.
//! - `index` (default `"https://pypi.org"`): the index whose `/_/oidc/` endpoints are used
//!   (`https://upload.pypi.org/legacy/` is read as `https://pypi.org`); grant its origin
//!   and the token endpoint's (`https://*.actions.githubusercontent.com`) in `grants.http`,
//!   and the variables `ACTIONS_ID_TOKEN_REQUEST_URL`, `GITHUB_ACTIONS`, `GITHUB_EVENT_NAME`,
//!   `GITHUB_REPOSITORY`, `GITHUB_HEAD_REF` in `grants.env`.
//! - `env`: the environment variable holding the token (token mode), default
//!   `"PYPI_TOKEN"`; it must be granted in `[stage.grants] env`.
//! - `secret`: the secret name to store it under, default `"pypi-token"`; it must be listed
//!   in `grants.secrets.produce`.
//! - `revoke` (trusted mode, default true): the host revokes the minted token when the run
//!   ends (`POST {index}/_/oidc/burn-token` with `{"token"}`, PyPI's endpoint, as uv does);
//!   an index that does not offer it answers 404 and the token expires by itself.
//! - `optional`: default false. When true (token mode) and the variable is unset or empty,
//!   nothing is stored and the output says `"stored": false` (for publishing to a `file:`
//!   index, which needs no credential, as the bundled demo does).
//!
//! Output: `{ "mode": "token"|"trusted", "secret": "<secret>", "source": "env:<env>" |
//! "github-oidc" | "gitlab-oidc", "stored": bool }`, plus for trusted: `"index"`, `"audience"`,
//! `"expires_at"` (unix seconds; the token is stored with `store-secret-until`, so the host
//! runs this stage again to renew it before a request would carry it stale) and
//! `"claims"` (what the publisher was matched on: from GitHub `sub`, `repository`,
//! `workflow_ref`, `job_workflow_ref`, `ref`, `environment`; from GitLab `sub`,
//! `project_path`, `ci_config_ref_uri`, `ref_path`, `environment`). The token is never in the output or a
//! log line; on GitHub Actions the host masks stored secrets (`::add-mask::`).

use airlock_publish::oidc::{self, ActionsEnv, Claims};
use airlock_stage::http::{SdkTransport, Transport};
use airlock_stage::{Output, Request, StageError, host};
use serde::{Deserialize, Serialize};

/// The stage config: the keys every mode reads, and the mode with its own settings.
struct Config {
    common: Common,
    mode: Mode,
}

/// The keys every mode accepts (a manifest may switch `mode` and keep the rest).
#[derive(Debug, Deserialize)]
struct Common {
    #[serde(default)]
    mode: ModeName,
    #[serde(default = "default_index")]
    index: String,
    #[serde(default = "default_env")]
    env: String,
    #[serde(default = "default_secret")]
    secret: String,
    #[serde(default)]
    optional: bool,
    #[serde(default)]
    id_token_env: Option<String>,
    #[serde(default = "yes")]
    revoke: bool,
    /// Every other key: the mode's own settings ([`Mode`]), else an error.
    #[serde(flatten)]
    rest: serde_json::Map<String, serde_json::Value>,
}

/// `mode`, as written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum ModeName {
    #[default]
    Token,
    Trusted,
    Auto,
    Aws,
}

/// How the credential is obtained, with the settings only that mode has.
enum Mode {
    /// An API token from the environment variable `env`.
    Token,
    /// PyPI Trusted Publishing.
    Trusted,
    /// Trusted Publishing when the job has an OIDC identity, else `Token`.
    Auto,
    /// A token in AWS Secrets Manager, through STS with the GitHub ID token.
    Aws(Aws),
}

/// `mode = "aws"`'s own keys.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Aws {
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    role_arn: Option<String>,
    #[serde(default = "default_session_name")]
    session_name: String,
    #[serde(default)]
    secret_id: Option<String>,
    #[serde(default)]
    secret_key: Option<String>,
    #[serde(default = "default_duration_s")]
    duration_s: u32,
    #[serde(default)]
    endpoint: Option<String>,
}

impl Config {
    /// Decodes the stage's config. Errors ([`airlock_stage::Category::Configuration`]):
    /// a key of the wrong type, an unknown `mode`, a key no mode has, or one of another mode
    /// (e.g. `region` without `mode = "aws"`), each naming the key.
    fn of(req: &Request) -> Result<Config, StageError> {
        let mut common: Common = req.config()?;
        let rest = std::mem::take(&mut common.rest);
        let mode = match common.mode {
            ModeName::Token => Mode::Token,
            ModeName::Trusted => Mode::Trusted,
            ModeName::Auto => Mode::Auto,
            ModeName::Aws => Mode::Aws(
                Request::new(&req.stage_id, serde_json::Value::Object(rest.clone())).config()?,
            ),
        };
        if common.mode != ModeName::Aws
            && let Some(key) = rest.keys().next()
        {
            let aws: Result<Aws, _> = serde_json::from_value(serde_json::json!({ key: rest[key] }));
            let what = if aws.is_ok() {
                format!(
                    "applies to mode \"aws\" only, the mode is \"{}\"",
                    common.mode.as_str()
                )
            } else {
                "is not a key of this stage".to_string()
            };
            return Err(StageError::config(format!(
                "stage '{}': config.{key} {what}",
                req.stage_id
            ))
            .with_hint(
                "keys: mode, index, env, secret, optional, id_token_env, revoke; with mode = \"aws\" also region, role_arn, secret_id, secret_key, session_name, duration_s, endpoint",
            ));
        }
        Ok(Config { common, mode })
    }
}

impl ModeName {
    fn as_str(self) -> &'static str {
        match self {
            ModeName::Token => "token",
            ModeName::Trusted => "trusted",
            ModeName::Auto => "auto",
            ModeName::Aws => "aws",
        }
    }
}

/// The stage's output (the module docs give its JSON). The credential is never in it.
#[derive(Debug, Serialize)]
struct Stored {
    /// The secret's name.
    secret: String,
    /// Where the credential came from: `env:<VAR>`, `github-oidc`, `gitlab-oidc`,
    /// `aws-secretsmanager:<secret_id>`.
    source: String,
    /// False when `optional = true` and the variable was unset.
    stored: bool,
    #[serde(flatten)]
    how: How,
}

impl Output for Stored {}

/// The mode used, with what it learnt.
#[derive(Debug, Serialize)]
#[serde(tag = "mode", rename_all = "lowercase")]
enum How {
    Token,
    Trusted {
        /// The index's origin.
        index: String,
        audience: String,
        /// When the minted token expires, unix seconds.
        expires_at: Option<u64>,
        claims: Publisher,
    },
    Aws {
        region: String,
        role_arn: String,
        secret_arn: Option<String>,
        version_id: Option<String>,
        claims: Publisher,
    },
}

/// The ID token's claims a trusted publisher is matched on, per issuer.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Publisher {
    GitHub {
        sub: Option<String>,
        repository: Option<String>,
        workflow_ref: Option<String>,
        job_workflow_ref: Option<String>,
        #[serde(rename = "ref")]
        git_ref: Option<String>,
        environment: Option<String>,
    },
    GitLab {
        sub: Option<String>,
        project_path: Option<String>,
        ci_config_ref_uri: Option<String>,
        ref_path: Option<String>,
        environment: Option<String>,
    },
}

impl Publisher {
    fn github(c: &Claims) -> Publisher {
        Publisher::GitHub {
            sub: c.sub.clone(),
            repository: c.repository.clone(),
            workflow_ref: c.workflow_ref.clone(),
            job_workflow_ref: c.job_workflow_ref.clone(),
            git_ref: c.r#ref.clone(),
            environment: c.environment.clone(),
        }
    }
    fn gitlab(c: &Claims) -> Publisher {
        Publisher::GitLab {
            sub: c.sub.clone(),
            project_path: c.project_path.clone(),
            ci_config_ref_uri: c.ci_config_ref_uri.clone(),
            ref_path: c.ref_path.clone(),
            environment: c.environment.clone(),
        }
    }
}

fn default_session_name() -> String {
    "airlock-publish".into()
}
fn default_duration_s() -> u32 {
    airlock_aws::MIN_DURATION_S
}
fn default_index() -> String {
    "https://pypi.org".into()
}
fn yes() -> bool {
    true
}
fn default_env() -> String {
    "PYPI_TOKEN".into()
}
fn default_secret() -> String {
    "pypi-token".into()
}

fn run(req: &Request) -> Result<Stored, StageError> {
    run_with(req, &mut SdkTransport, &|k| std::env::var(k).ok())
}

/// The stage with its transport and environment passed in (tests).
fn run_with(
    req: &Request,
    transport: &mut dyn Transport,
    getenv: &dyn Fn(&str) -> Option<String>,
) -> Result<Stored, StageError> {
    let Config {
        common: config,
        mode,
    } = Config::of(req)?;
    if config.secret.trim().is_empty() {
        return Err(StageError::config(format!(
            "stage '{}': config.secret must not be empty",
            req.stage_id
        )));
    }
    let actions = ActionsEnv::from(getenv);
    let trusted = match mode {
        Mode::Token => false,
        Mode::Trusted => true,
        Mode::Auto => {
            let gitlab_var = config.id_token_env.clone().unwrap_or_else(|| {
                let test =
                    oidc::oidc_base(&config.index).is_ok_and(|b| b.ends_with("://test.pypi.org"));
                oidc::gitlab_token_var(if test { "testpypi" } else { "pypi" })
            });
            let gitlab =
                actions.on_gitlab && getenv(&gitlab_var).is_some_and(|v| !v.trim().is_empty());
            let t = actions.trusted_available() || gitlab;
            host::info(&if actions.trusted_available() {
                "mode auto: on GitHub Actions with id-token: write, using trusted publishing"
                    .to_string()
            } else if gitlab {
                format!(
                    "mode auto: on GitLab CI with the ID token in {gitlab_var}, using trusted publishing"
                )
            } else {
                format!(
                    "mode auto: not on GitHub Actions with id-token: write nor on GitLab CI with {gitlab_var}, using the API token in {}",
                    config.env
                )
            });
            t
        }
        Mode::Aws(aws) => return aws_mode(&req.stage_id, &config, &aws, &actions, transport),
    };
    if trusted {
        return trusted_mode(&config, &actions, transport, getenv);
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
        return Ok(Stored {
            source: format!("env:{}", config.env),
            secret: config.secret,
            stored: false,
            how: How::Token,
        });
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
    Ok(Stored {
        source: format!("env:{}", config.env),
        secret: config.secret,
        stored: true,
        how: How::Token,
    })
}

fn trusted_mode(
    config: &Common,
    actions: &ActionsEnv,
    transport: &mut dyn Transport,
    getenv: &dyn Fn(&str) -> Option<String>,
) -> Result<Stored, StageError> {
    // On GitLab CI (and not on GitHub Actions) the ID token is a job variable.
    let gitlab = actions.on_gitlab && !actions.on_actions;
    let source = if gitlab {
        oidc::IdTokenSource::GitLab {
            get: getenv,
            var: config.id_token_env.as_deref(),
        }
    } else {
        oidc::IdTokenSource::GitHub(actions)
    };
    let minted = oidc::trusted_publish_token_from(
        transport,
        &config.index,
        &source,
        airlock_stage::unix_now_s(),
    )?;
    for w in &minted.warnings {
        host::warn(w);
    }
    // The host renews the token (runs this stage again) before it would send it stale.
    match minted.expires {
        Some(expires) => host::store_secret_until(&config.secret, &minted.token, expires)?,
        None => host::store_secret(&config.secret, &minted.token)?,
    }
    // And revokes it when the run ends, where the index offers that (PyPI's burn-token).
    let base = oidc::oidc_base(&config.index)?;
    if config.revoke
        && let Err(e) =
            host::revoke_secret_at(&config.secret, &format!("{base}{}", oidc::BURN_TOKEN_PATH))
    {
        host::warn(&format!(
            "the token will not be revoked when the run ends: {}",
            e.message
        ));
    }
    let c = &minted.claims;
    host::info(&format!(
        "minted a trusted-publishing upload token for {} ({}) as secret '{}', valid until {} (unix seconds)",
        c.repository
            .as_deref()
            .or(c.project_path.as_deref())
            .unwrap_or("?"),
        c.workflow_ref
            .as_deref()
            .or(c.ci_config_ref_uri.as_deref())
            .unwrap_or("?"),
        config.secret,
        minted.expires.unwrap_or(0)
    ));
    let claims = if gitlab {
        Publisher::gitlab(c)
    } else {
        Publisher::github(c)
    };
    Ok(Stored {
        secret: config.secret.clone(),
        source: if gitlab { "gitlab-oidc" } else { "github-oidc" }.into(),
        stored: true,
        how: How::Trusted {
            index: base,
            audience: minted.audience,
            expires_at: minted.expires,
            claims,
        },
    })
}

/// `mode = "aws"`: GitHub ID token → STS → Secrets Manager → `store-secret`.
fn aws_mode(
    stage_id: &str,
    config: &Common,
    settings: &Aws,
    actions: &ActionsEnv,
    transport: &mut dyn Transport,
) -> Result<Stored, StageError> {
    let need = |v: &Option<String>, name: &str, example: &str| {
        v.clone().filter(|v| !v.trim().is_empty()).ok_or_else(|| {
            StageError::config(format!(
                "stage '{stage_id}': mode \"aws\" needs config.{name}"
            ))
            .with_hint(format!("set {name} = \"{example}\" (see docs/aws.md)"))
        })
    };
    let aws = airlock_aws::AwsConfig {
        region: need(&settings.region, "region", "us-east-1")?,
        role_arn: need(
            &settings.role_arn,
            "role_arn",
            "arn:aws:iam::ACCOUNT_ID:role/ROLE_NAME",
        )?,
        session_name: settings.session_name.clone(),
        secret_id: need(
            &settings.secret_id,
            "secret_id",
            "NAME or ARN of the secret",
        )?,
        secret_key: settings.secret_key.clone().filter(|k| !k.is_empty()),
        duration_s: settings.duration_s,
    };
    aws.check()?;
    let endpoints = match settings.endpoint.as_deref() {
        Some(e) => airlock_aws::Endpoints::single(e),
        None => airlock_aws::Endpoints::for_region(&aws.region)?,
    };
    if actions.request_url.is_none() {
        return Err(oidc::missing_permission(actions));
    }
    let jwt = oidc::id_token(transport, actions, airlock_aws::STS_AUDIENCE)?;
    let claims = oidc::Claims::of_jwt(&jwt).unwrap_or_default();
    let fetched = airlock_aws::fetch_token(
        transport,
        &endpoints,
        &aws,
        &jwt,
        airlock_stage::unix_now_s(),
    )?;
    host::store_secret(&config.secret, &fetched.token)?;
    host::info(&format!(
        "fetched the token in {} through role {} ({}) as secret '{}'",
        fetched.secret_arn.as_deref().unwrap_or(&aws.secret_id),
        aws.role_arn,
        aws.region,
        config.secret
    ));
    Ok(Stored {
        secret: config.secret.clone(),
        source: format!("aws-secretsmanager:{}", aws.secret_id),
        stored: true,
        how: How::Aws {
            claims: Publisher::github(&claims),
            region: aws.region,
            role_arn: aws.role_arn,
            secret_arn: fetched.secret_arn,
            version_id: fetched.version_id,
        },
    })
}

airlock_stage::export_stage!(run);

#[cfg(test)]
mod tests {
    use super::*;

    /// The output as the host sees it.
    fn json(out: Result<Stored, StageError>) -> serde_json::Value {
        serde_json::to_value(out.unwrap()).unwrap()
    }
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
        let out = serde_json::to_value(run(&req).unwrap()).unwrap();
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
        let out = json(run(&Request::new(
            "auth",
            serde_json::json!({ "env": "AIRLOCK_TEST_TOKEN_UNSET", "optional": true }),
        )));
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
            let out = json(run_with(&req, &mut t, &actions));
            assert_eq!(out["mode"], "trusted");
            assert_eq!(out["audience"], "testpypi");
            assert_eq!(out["expires_at"], 4_000_000_000u64);
            assert_eq!(out["claims"]["environment"], "pypi");
            assert_eq!(t.0[0], "https://test.pypi.org/_/oidc/audience");
            assert!(!out.to_string().contains("pypi-minted-secret"));
            let records = take_records();
            assert!(records.contains(&Record::SecretUntil(
                "pypi-token".into(),
                "pypi-minted-secret".into(),
                4_000_000_000
            )));
        }
        // auto off GitHub Actions: the API token.
        let local = |k: &str| (k == "PYPI_TOKEN").then(|| "pypi-from-env".to_string());
        let mut t = Standin(vec![]);
        let out = json(run_with(
            &Request::new("auth", serde_json::json!({ "mode": "auto" })),
            &mut t,
            &local,
        ));
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
    /// Answers the GitHub token endpoint, STS and Secrets Manager (`sts_status` 200, or 403
    /// AccessDenied); records the requests.
    struct AwsStandin(u16, Vec<airlock_stage::http::Request>);
    impl Transport for AwsStandin {
        fn send(
            &mut self,
            req: &airlock_stage::http::Request,
            _: &mut dyn FnMut(u64, u64),
        ) -> Result<airlock_stage::http::Response, StageError> {
            use base64::Engine;
            self.1.push(req.clone());
            let claims =
                serde_json::json!({ "sub": "repo:o/r:environment:pypi", "repository": "o/r" });
            let jwt = format!(
                "e30.{}.sig",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string())
            );
            let (status, body) = if req.url.contains("/token?") {
                (
                    200,
                    serde_json::json!({ "count": 1, "value": jwt }).to_string(),
                )
            } else if req.url.starts_with("https://sts.eu-west-1.amazonaws.com/") {
                if self.0 == 200 {
                    (200, "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>ASIAKEYID</AccessKeyId><SecretAccessKey>SECRETKEY</SecretAccessKey><SessionToken>SESSIONTOKEN</SessionToken><Expiration>2030-01-01T00:00:00Z</Expiration></Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>".to_string())
                } else {
                    (403, "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>Not authorized to perform sts:AssumeRoleWithWebIdentity</Message></Error></ErrorResponse>".to_string())
                }
            } else if req
                .url
                .starts_with("https://secretsmanager.eu-west-1.amazonaws.com/")
            {
                (200, serde_json::json!({ "ARN": "arn:aws:secretsmanager:eu-west-1:1:secret:pypi-AbCd", "SecretString": "{\"token\": \"pypi-from-aws\"}" }).to_string())
            } else {
                (404, String::new())
            };
            Ok(airlock_stage::http::Response {
                status,
                headers: vec![],
                body: body.into_bytes(),
            })
        }
    }

    #[test]
    fn aws_mode() {
        let actions = |k: &str| match k {
            "GITHUB_ACTIONS" => Some("true".to_string()),
            "ACTIONS_ID_TOKEN_REQUEST_URL" => {
                Some("https://x.actions.githubusercontent.com/token?api-version=2.0".to_string())
            }
            _ => None,
        };
        let config = serde_json::json!({ "mode": "aws", "region": "eu-west-1",
            "role_arn": "arn:aws:iam::123456789012:role/publish", "secret_id": "pypi",
            "secret_key": "token" });
        let mut t = AwsStandin(200, vec![]);
        let out = json(run_with(
            &Request::new("auth", config.clone()),
            &mut t,
            &actions,
        ));
        assert_eq!(out["mode"], "aws");
        assert_eq!(out["claims"]["sub"], "repo:o/r:environment:pypi");
        assert!(t.1[0].url.ends_with("&audience=sts.amazonaws.com"));
        let sm = &t.1[2];
        assert!(sm.headers.iter().any(|(n, v)| n == "authorization"
            && v.starts_with("AWS4-HMAC-SHA256 Credential=ASIAKEYID/")));
        let records = take_records();
        assert!(records.contains(&Record::Secret("pypi-token".into(), "pypi-from-aws".into())));
        // Neither the token nor the AWS credentials in the output or a log line.
        let logs: Vec<String> = records
            .iter()
            .filter_map(|r| match r {
                Record::Log(_, m) => Some(m.clone()),
                _ => None,
            })
            .collect();
        let shown = format!("{out} {logs:?}");
        for secret in ["SECRETKEY", "SESSIONTOKEN", "pypi-from-aws", "ASIAKEYID"] {
            assert!(!shown.contains(secret), "{secret} shown: {shown}");
        }
        // The trust policy refuses: the message shows the sub claim.
        let mut t = AwsStandin(403, vec![]);
        let e = run_with(&Request::new("auth", config), &mut t, &actions).unwrap_err();
        assert!(e.message.contains("sub: repo:o/r:environment:pypi"), "{e}");
        assert!(e.hint.unwrap().contains("trust policy"));
        // Missing config says which key.
        let e = run_with(
            &Request::new(
                "auth",
                serde_json::json!({ "mode": "aws", "region": "eu-west-1" }),
            ),
            &mut AwsStandin(200, vec![]),
            &actions,
        )
        .unwrap_err();
        assert!(e.message.contains("role_arn"), "{e}");
        take_records();
    }
}
