//! PyPI Trusted Publishing from GitHub Actions or GitLab CI: OIDC audience → ID token →
//! upload token (the authenticate stage's `mode = "trusted"`).
//!
//! Protocol, field by field:
//! 1. `GET {index}/_/oidc/audience` → `200 {"audience": "pypi"}`; `403` when the index has
//!    trusted publishing disabled, `404` when it does not support it (warehouse
//!    `oidc/views.py`; PyPI docs "Trusted publishers › Internals").
//! 2. `GET {ACTIONS_ID_TOKEN_REQUEST_URL}&audience={audience}` with
//!    `Authorization: bearer {ACTIONS_ID_TOKEN_REQUEST_TOKEN}` → `200 {"count": n, "value":
//!    "<JWT>"}` (GitHub docs "About security hardening with OpenID Connect"; actions/toolkit
//!    `core.getIDToken`). Both variables exist only in a job with `permissions: id-token:
//!    write`, and never for a pull request from a fork. The bearer token is the host's
//!    business: it injects it (the stage never sees it).
//!
//!    On GitLab CI the job gets its ID token as a variable instead, from the `id_tokens:`
//!    keyword (`id_tokens: { PYPI_ID_TOKEN: { aud: pypi } }`; GitLab docs "OpenID Connect
//!    (OIDC) Authentication Using ID Tokens"). PyPI's docs name it `<AUD>_ID_TOKEN` (the
//!    audience upper-cased, other characters as `_`), which is what `id` (twine) and uv read:
//!    see [`gitlab_token_var`] and [`gitlab_id_token`].
//! 3. `POST {index}/_/oidc/mint-token` with `{"token": "<JWT>"}` → `200 {"success": true,
//!    "token": "pypi-…", "expires": <unix seconds>}`, or `422 {"message": "Token request
//!    failed", "errors": [{"code": "invalid-publisher", "description": "…"}]}` (warehouse
//!    `oidc/views.py` `mint_token`; pypa/gh-action-pypi-publish `oidc-exchange.py`).
//!
//! Every failure is a [`StageError`] whose message says what happened and whose hint says
//! what to fix; none contains a token (the JWT's claims are shown, never the JWT).

use std::time::Duration;

use airlock_stage::http::{Request, Response, Transport};
use airlock_stage::{Category, StageError};
use base64::Engine;
use serde::Deserialize;

use crate::index::USER_AGENT;
use crate::retry::{RetryPolicy, back_off, send_retrying, sleep};

/// Where an index revokes a minted token: `POST {index}/_/oidc/burn-token` with
/// `{"token": "<the minted token>"}`, answered `202 {"message": "Accepted"}` whatever the
/// token (warehouse `oidc/views.py` `burn_token`; uv publish revokes with it).
pub const BURN_TOKEN_PATH: &str = "/_/oidc/burn-token";

/// How long a minted PyPI upload token lives (PyPI docs: "valid for 15 minutes").
pub const TOKEN_LIFETIME_S: u64 = 15 * 60;

/// The GitHub Actions context, from the job's environment variables (all optional).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActionsEnv {
    /// `ACTIONS_ID_TOKEN_REQUEST_URL`: the ID token endpoint (with `?api-version=…`); set only
    /// with `permissions: id-token: write`.
    pub request_url: Option<String>,
    /// `GITHUB_ACTIONS` is `"true"`.
    pub on_actions: bool,
    /// `GITHUB_EVENT_NAME`, e.g. `push`, `pull_request`.
    pub event_name: Option<String>,
    /// `GITHUB_REPOSITORY` (`owner/name`) and `GITHUB_HEAD_REF` (set for pull requests).
    pub repository: Option<String>,
    /// `GITHUB_HEAD_REF`.
    pub head_ref: Option<String>,
    /// `GITLAB_CI` is `"true"` (a GitLab CI job).
    pub on_gitlab: bool,
}

impl ActionsEnv {
    /// Reads the variables through `get` (e.g. `|k| std::env::var(k).ok()`); blank values
    /// count as unset.
    pub fn from(get: impl Fn(&str) -> Option<String>) -> Self {
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        ActionsEnv {
            request_url: get("ACTIONS_ID_TOKEN_REQUEST_URL"),
            on_actions: get("GITHUB_ACTIONS").as_deref() == Some("true"),
            event_name: get("GITHUB_EVENT_NAME"),
            repository: get("GITHUB_REPOSITORY"),
            head_ref: get("GITHUB_HEAD_REF"),
            on_gitlab: get("GITLAB_CI").as_deref() == Some("true"),
        }
    }

    /// `mode = "auto"`: true when trusted publishing can be tried (on GitHub Actions with
    /// the ID token endpoint, i.e. `id-token: write`).
    pub fn trusted_available(&self) -> bool {
        self.on_actions && self.request_url.is_some()
    }
}

/// The environment variable names the trusted mode reads (grant them in
/// `[stage.grants] env`). The request *token* is not among them: the host injects it.
pub const ENV_VARS: &[&str] = &[
    "ACTIONS_ID_TOKEN_REQUEST_URL",
    "GITHUB_ACTIONS",
    "GITHUB_EVENT_NAME",
    "GITHUB_REPOSITORY",
    "GITHUB_HEAD_REF",
];

/// The variables the trusted mode reads on GitLab CI: `GITLAB_CI` and the ID token's
/// variable (by default [`gitlab_token_var`] of the audience, e.g. `PYPI_ID_TOKEN`).
pub const GITLAB_ENV_VARS: &[&str] = &["GITLAB_CI", "PYPI_ID_TOKEN"];

/// The variable PyPI's docs give a GitLab job's ID token for `audience`: the audience
/// upper-cased with every character other than `A-Z0-9` as `_`, then `_ID_TOKEN`
/// (`pypi` → `PYPI_ID_TOKEN`, `testpypi` → `TESTPYPI_ID_TOKEN`), as `id` and uv's
/// `ambient-id` read it.
pub fn gitlab_token_var(audience: &str) -> String {
    let mut v: String = audience
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    v.push_str("_ID_TOKEN");
    v
}

/// Where the ID token comes from.
pub enum IdTokenSource<'a> {
    /// GitHub Actions' token endpoint ([`id_token`]).
    GitHub(&'a ActionsEnv),
    /// A GitLab CI job's `id_tokens:` variable, read through `get`: `var`, or by default
    /// [`gitlab_token_var`] of the audience ([`gitlab_id_token`]).
    GitLab {
        /// Reads an environment variable (blank counts as unset).
        get: &'a dyn Fn(&str) -> Option<String>,
        /// The variable's name, when not the default.
        var: Option<&'a str>,
    },
}

/// Step 2 on GitLab CI: the job's ID token for `audience` from variable `var` (default
/// [`gitlab_token_var`]). Errors ([`Category::Authentication`]): the variable unset (the
/// job has no `id_tokens:` entry, or the stage is not granted it), not a JWT, or a token
/// for another audience; each says what to add to the job.
pub fn gitlab_id_token(
    get: &dyn Fn(&str) -> Option<String>,
    var: Option<&str>,
    audience: &str,
) -> Result<String, StageError> {
    let var = var
        .map(str::to_string)
        .unwrap_or_else(|| gitlab_token_var(audience));
    let job = format!("id_tokens:\n    {var}:\n      aud: {audience}");
    let Some(token) = get(&var).filter(|v| !v.trim().is_empty()) else {
        return Err(StageError::new(
            Category::Authentication,
            format!("no GitLab ID token: ${var} is not set in this job"),
        )
        .with_hint(format!(
            "add to the publishing job (only that job):\n  {job}\nand grant {var} and GITLAB_CI in the stage's grants.env"
        )));
    };
    let token = token.trim().to_string();
    let Some(claims) = Claims::of_jwt(&token).filter(|_| token.split('.').count() == 3) else {
        return Err(StageError::new(
            Category::Authentication,
            format!("${var} does not hold a JWT"),
        )
        .with_hint(format!(
            "set it with GitLab's `id_tokens:` keyword, not by hand:\n  {job}"
        )));
    };
    if !claims.aud.iter().any(|a| a == audience) {
        return Err(StageError::new(
            Category::Authentication,
            format!(
                "the GitLab ID token in ${var} is for audience {}, but the index asks for {audience}",
                if claims.aud.is_empty() { "MISSING".to_string() } else { claims.aud.join(", ") }
            ),
        )
        .with_hint(format!("set the job's token audience to the index's:\n  {job}")));
    }
    Ok(token)
}

/// The claims of a GitHub ID token that a trusted publisher is matched on (rendered as
/// pypa/gh-action-pypi-publish does, `MISSING` when absent).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Claims {
    /// e.g. `repo:owner/name:environment:pypi`.
    pub sub: Option<String>,
    /// `owner/name`.
    pub repository: Option<String>,
    /// The owner.
    pub repository_owner: Option<String>,
    /// The owner's numeric id.
    pub repository_owner_id: Option<String>,
    /// The workflow that started the run: `owner/name/.github/workflows/f.yml@ref`.
    pub workflow_ref: Option<String>,
    /// The workflow this job is defined in (differs for a reusable workflow).
    pub job_workflow_ref: Option<String>,
    /// `refs/tags/v1.0`, …
    pub r#ref: Option<String>,
    /// The deployment environment, if any.
    pub environment: Option<String>,
    /// `iss`: who issued it (`https://token.actions.githubusercontent.com`,
    /// `https://gitlab.com`).
    #[serde(default)]
    pub iss: Option<String>,
    /// `aud`, a string or a list in a JWT; here always a list.
    #[serde(default)]
    pub aud: Vec<String>,
    /// GitLab: `group/project`.
    #[serde(default)]
    pub project_path: Option<String>,
    /// GitLab: `host/group/project//path/to/.gitlab-ci.yml@refs/tags/v1`, which PyPI matches
    /// a GitLab publisher's pipeline file against.
    #[serde(default)]
    pub ci_config_ref_uri: Option<String>,
    /// GitLab: `refs/heads/main`, `refs/tags/v1`.
    #[serde(default)]
    pub ref_path: Option<String>,
}

impl Claims {
    /// Decodes the payload (second part) of JWT `token` (RFC 7519, base64url without
    /// padding). The signature is not checked: the index checks it; these are for messages.
    pub fn of_jwt(token: &str) -> Option<Claims> {
        let payload = token.split('.').nth(1)?;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .ok()?;
        let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        // repository_owner_id is a string in GitHub's tokens; accept numbers too.
        let s = |k: &str| {
            v.get(k).and_then(|x| match x {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Null => None,
                other => Some(other.to_string()),
            })
        };
        Some(Claims {
            sub: s("sub"),
            repository: s("repository"),
            repository_owner: s("repository_owner"),
            repository_owner_id: s("repository_owner_id"),
            workflow_ref: s("workflow_ref"),
            job_workflow_ref: s("job_workflow_ref"),
            r#ref: s("ref"),
            environment: s("environment"),
            iss: s("iss"),
            aud: match v.get("aud") {
                Some(serde_json::Value::Array(a)) => a
                    .iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect(),
                Some(serde_json::Value::String(a)) => vec![a.clone()],
                _ => Vec::new(),
            },
            project_path: s("project_path"),
            ci_config_ref_uri: s("ci_config_ref_uri"),
            ref_path: s("ref_path"),
        })
    }

    /// True for a GitLab CI token (it has `project_path`).
    pub fn gitlab(&self) -> bool {
        self.project_path.is_some()
    }

    /// The claims a publisher is matched on, `name: value; …` (`MISSING` when absent):
    /// GitHub's, or GitLab's (`sub`, `project_path`, `ci_config_ref_uri`, `ref_path`,
    /// `environment`) for a GitLab token.
    pub fn render(&self) -> String {
        let m = |v: &Option<String>| v.clone().unwrap_or_else(|| "MISSING".into());
        if self.gitlab() {
            return format!(
                "sub: {}; project_path: {}; ci_config_ref_uri: {}; ref_path: {}; environment: {}",
                m(&self.sub),
                m(&self.project_path),
                m(&self.ci_config_ref_uri),
                m(&self.ref_path),
                m(&self.environment)
            );
        }
        format!(
            "sub: {}; repository: {}; repository_owner: {}; repository_owner_id: {}; workflow_ref: {}; job_workflow_ref: {}; ref: {}; environment: {}",
            m(&self.sub),
            m(&self.repository),
            m(&self.repository_owner),
            m(&self.repository_owner_id),
            m(&self.workflow_ref),
            m(&self.job_workflow_ref),
            m(&self.r#ref),
            m(&self.environment)
        )
    }

    /// True when the token comes from a reusable workflow (`job_workflow_ref` differs from
    /// `workflow_ref`), which PyPI does not officially support.
    pub fn reusable_workflow(&self) -> bool {
        self.job_workflow_ref.is_some() && self.job_workflow_ref != self.workflow_ref
    }
}

/// A minted upload token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Minted {
    /// The API token (`pypi-…`). Store it with `store-secret`; never log it.
    pub token: String,
    /// When it expires, unix seconds (the answer's `expires`, else now + 15 min).
    pub expires: Option<u64>,
    /// The audience the index asked for.
    pub audience: String,
    /// The ID token's claims (for the output and messages).
    pub claims: Claims,
    /// Warnings for a person (e.g. a reusable workflow).
    pub warnings: Vec<String>,
}

/// The origin of `index` (`scheme://host[:port]`), the base of the `/_/oidc/` endpoints:
/// `https://upload.pypi.org/legacy/` → `https://upload.pypi.org`. PyPI serves them on
/// `pypi.org`, TestPyPI on `test.pypi.org`: `upload.pypi.org` maps to `pypi.org`, and
/// `test.pypi.org/legacy/` stays.
pub fn oidc_base(index: &str) -> Result<String, StageError> {
    let (scheme, authority, _) = airlock_stage::http::split_url(index).ok_or_else(|| {
        StageError::config(format!("the index URL \"{index}\" is not an http(s) URL")).with_hint(
            "set `index` to the index's URL, e.g. https://pypi.org or https://test.pypi.org",
        )
    })?;
    let host = if authority.eq_ignore_ascii_case("upload.pypi.org") {
        "pypi.org"
    } else {
        authority
    };
    Ok(format!("{}://{host}", scheme.to_ascii_lowercase()))
}

fn get_json(resp: &Response) -> Option<serde_json::Value> {
    serde_json::from_slice(&resp.body).ok()
}

/// Step 1: the audience the index wants in the ID token.
pub fn audience(t: &mut dyn Transport, base: &str) -> Result<String, StageError> {
    let url = format!("{base}/_/oidc/audience");
    let resp = send_retrying(
        t,
        &Request::get(&url).header("user-agent", USER_AGENT),
        &RetryPolicy::default(),
        &url,
        &mut sleep,
    )
    .map_err(|e| {
        if e.category == Category::Network {
            e.with_hint("the index may be down or in maintenance (PyPI: status.python.org); try again in a few minutes")
        } else {
            e
        }
    })?;
    match resp.status {
        200 => {}
        403 => {
            return Err(StageError::new(
                Category::Authentication,
                format!("{url} answered 403: the index at {base} has trusted publishing disabled"),
            )
            .with_hint("use mode = \"token\" with an API token, or ask the index's administrators (PyPI: status.python.org) when it is back"));
        }
        404 => {
            return Err(StageError::new(
                Category::Authentication,
                format!("{url} answered 404: the index at {base} does not support trusted publishing"),
            )
            .with_hint("check `index` (PyPI: https://pypi.org, TestPyPI: https://test.pypi.org), or use mode = \"token\" for an index without trusted publishing"));
        }
        s => {
            return Err(StageError::new(
                Category::Network,
                format!(
                    "{url} answered {s}: {}",
                    crate::answer::server_message(&resp.body)
                ),
            )
            .retryable(crate::retry::is_retryable_status(s))
            .with_hint("the index may be down or in maintenance; try again in a few minutes"));
        }
    }
    get_json(&resp)
        .and_then(|v| v.get("audience").and_then(|a| a.as_str()).map(String::from))
        .filter(|a| !a.is_empty())
        .ok_or_else(|| {
            StageError::new(
                Category::Authentication,
                format!(
                    "{url} did not answer JSON with an \"audience\" (got: {})",
                    crate::answer::server_message(&resp.body)
                ),
            )
            .with_hint("`index` may point to a web page or proxy rather than the index itself")
        })
}

/// The error for a missing ID token endpoint, saying why it is missing.
pub fn missing_permission(env: &ActionsEnv) -> StageError {
    if !env.on_actions {
        return StageError::new(
            Category::Authentication,
            "trusted publishing needs GitHub Actions: GITHUB_ACTIONS is not \"true\" here",
        )
        .with_hint("run this stage in a GitHub Actions job, or use mode = \"token\" (or \"auto\") with an API token elsewhere; also check GITHUB_ACTIONS is in the stage's grants.env");
    }
    if matches!(
        env.event_name.as_deref(),
        Some("pull_request") | Some("pull_request_review") | Some("pull_request_review_comment")
    ) {
        return StageError::new(
            Category::Authentication,
            format!(
                "no GitHub OIDC token in this {} run: GitHub gives none to workflows run for a pull request from a fork, even with `id-token: write`",
                env.event_name.as_deref().unwrap_or("pull_request")
            ),
        )
        .with_hint("publish from an event forks cannot trigger: a tag push, a release, or workflow_dispatch");
    }
    StageError::new(
        Category::Authentication,
        "no GitHub OIDC token endpoint: ACTIONS_ID_TOKEN_REQUEST_URL is not set, so the job lacks the `id-token: write` permission",
    )
    .with_hint("add `permissions: { id-token: write }` to the publishing job (job level), and grant ACTIONS_ID_TOKEN_REQUEST_URL in the stage's grants.env")
}

/// Step 2: the GitHub ID token for `audience`. The request carries no credential: the host
/// injects `Authorization: bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN` into requests to the
/// endpoint's origin.
pub fn id_token(
    t: &mut dyn Transport,
    env: &ActionsEnv,
    audience: &str,
) -> Result<String, StageError> {
    let Some(base) = env.request_url.as_deref() else {
        return Err(missing_permission(env));
    };
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!(
        "{base}{sep}audience={}",
        airlock_stage::http::encode_component(audience)
    );
    let shown = airlock_stage::http::strip_query(base);
    let resp = send_retrying(
        t,
        &Request::get(&url)
            .header("accept", "application/json")
            .header("user-agent", USER_AGENT),
        &RetryPolicy::default(),
        &format!("the GitHub OIDC token endpoint {shown}"),
        &mut sleep,
    )
    .map_err(|e| {
        if e.category == Category::Network {
            e.with_hint("GitHub may be having trouble (githubstatus.com); re-run the job")
        } else {
            e
        }
    })?;
    match resp.status {
        200 => {}
        401 | 403 => {
            return Err(StageError::new(
                Category::Authentication,
                format!(
                    "the GitHub OIDC token endpoint {shown} refused the request: {} {}",
                    resp.status,
                    crate::answer::server_message(&resp.body)
                ),
            )
            .with_hint("the host must inject ACTIONS_ID_TOKEN_REQUEST_TOKEN as a bearer token into the endpoint's origin (see docs/publishing.md); check the job has `id-token: write`"));
        }
        s => {
            return Err(StageError::new(
                Category::Network,
                format!(
                    "the GitHub OIDC token endpoint {shown} answered {s}: {}",
                    crate::answer::server_message(&resp.body)
                ),
            )
            .retryable(crate::retry::is_retryable_status(s))
            .with_hint("GitHub may be having trouble (githubstatus.com); re-run the job"));
        }
    }
    get_json(&resp)
        .and_then(|v| v.get("value").and_then(|a| a.as_str()).map(String::from))
        .filter(|v| v.split('.').count() == 3)
        .ok_or_else(|| {
            StageError::new(
                Category::Authentication,
                format!("the GitHub OIDC token endpoint {shown} did not answer JSON with a JWT in \"value\""),
            )
            .with_hint("check that ACTIONS_ID_TOKEN_REQUEST_URL is GitHub's (it is set by the runner, not by hand)")
        })
}

/// Step 3: exchanges ID token `jwt` for an upload token at `{base}/_/oidc/mint-token`.
/// `now` (unix seconds) dates the expiry when the answer has no `expires`.
pub fn mint(
    t: &mut dyn Transport,
    base: &str,
    jwt: &str,
    claims: &Claims,
    now: u64,
) -> Result<(String, u64), StageError> {
    let url = format!("{base}/_/oidc/mint-token");
    let body = serde_json::to_vec(&serde_json::json!({ "token": jwt })).unwrap();
    let resp = t.send(
        &Request::post(&url, "application/json", body).header("user-agent", USER_AGENT),
        &mut |_, _| {},
    )?;
    let Some(v) = get_json(&resp) else {
        let retryable = crate::retry::is_retryable_status(resp.status);
        return Err(StageError::new(
            if retryable { Category::Network } else { Category::Authentication },
            format!(
                "{url} answered {} with something that is not JSON: {}",
                resp.status,
                crate::answer::server_message(&resp.body)
            ),
        )
        .retryable(retryable)
        .with_hint("the index is probably down or in maintenance (PyPI: status.python.org); wait a few minutes and re-run"));
    };
    if !(200..300).contains(&resp.status) {
        let reasons: Vec<String> = v
            .get("errors")
            .and_then(|e| e.as_array())
            .map(|a| {
                a.iter()
                    .map(|e| {
                        format!(
                            "{}: {}",
                            e.get("code").and_then(|c| c.as_str()).unwrap_or("?"),
                            e.get("description").and_then(|c| c.as_str()).unwrap_or("")
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let message = v.get("message").and_then(|m| m.as_str()).unwrap_or("");
        let codes: Vec<&str> = v
            .get("errors")
            .and_then(|e| e.as_array())
            .map(|a| a.iter().filter_map(|e| e.get("code")?.as_str()).collect())
            .unwrap_or_default();
        let mut hint = if codes.contains(&"invalid-publisher") && claims.gitlab() {
            "no trusted publisher on the index matches this pipeline: on the project's Publishing settings, add (or fix) a GitLab publisher whose namespace, project, top-level pipeline file path (from ci_config_ref_uri) and environment match the claims shown".to_string()
        } else if codes.contains(&"invalid-publisher") {
            "no trusted publisher on the index matches this workflow: on the project's Publishing settings, add (or fix) a GitHub publisher whose owner, repository, workflow file name and environment match the claims shown".to_string()
        } else if codes.iter().any(|c| c.contains("reuse")) {
            "the ID token was already used: each job run may mint once per token; re-run the job"
                .to_string()
        } else if resp.status == 403 || codes.iter().any(|c| c.contains("not-enabled")) {
            "trusted publishing is disabled on the index; use mode = \"token\"".to_string()
        } else {
            "check the trusted publisher's configuration on the index against the claims shown (docs.pypi.org/trusted-publishers/troubleshooting/)".to_string()
        };
        if claims.reusable_workflow() {
            hint.push_str(&format!(
                "; note: this token comes from a reusable workflow ({} called from {}), which PyPI's trusted publishing does not support: publish from the calling workflow's own job",
                claims.job_workflow_ref.as_deref().unwrap_or("?"),
                claims.workflow_ref.as_deref().unwrap_or("?")
            ));
        }
        return Err(StageError::new(
            Category::Authentication,
            format!(
                "{url} refused the token exchange ({}{}): {}. Token claims: {}",
                resp.status,
                if message.is_empty() {
                    String::new()
                } else {
                    format!(" {message}")
                },
                if reasons.is_empty() {
                    "no reason given".to_string()
                } else {
                    reasons.join("; ")
                },
                claims.render()
            ),
        )
        .retryable(crate::retry::is_retryable_status(resp.status))
        .with_hint(hint));
    }
    let token = v
        .get("token")
        .and_then(|t| t.as_str())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            StageError::new(
                Category::Authentication,
                format!("{url} answered {} without a \"token\"", resp.status),
            )
            .with_hint("the index gave an invalid answer; wait a few minutes and re-run")
        })?;
    let expires = v
        .get("expires")
        .and_then(|e| e.as_u64())
        .unwrap_or(now + TOKEN_LIFETIME_S);
    Ok((token.to_string(), expires))
}

/// All three steps from GitHub Actions: audience, ID token, mint. `now` is unix seconds.
pub fn trusted_publish_token(
    t: &mut dyn Transport,
    index: &str,
    env: &ActionsEnv,
    now: u64,
) -> Result<Minted, StageError> {
    trusted_publish_token_from(t, index, &IdTokenSource::GitHub(env), now)
}

/// All three steps, with the ID token from `source`. `now` is unix seconds. The GETs are
/// retried as the SDK's [`RetryPolicy`] says. The mint-token POST is not repeated with the
/// same ID token (the index may have spent it: PyPI refuses a JWT it has seen, by `jti`):
/// when it fails in a retryable way, a fresh ID token is fetched and exchanged instead.
pub fn trusted_publish_token_from(
    t: &mut dyn Transport,
    index: &str,
    source: &IdTokenSource,
    now: u64,
) -> Result<Minted, StageError> {
    trusted_publish_token_with(t, index, source, now, &RetryPolicy::default(), &mut sleep)
}

/// [`trusted_publish_token_from`] with the retry `policy` and `sleep` given.
pub fn trusted_publish_token_with(
    t: &mut dyn Transport,
    index: &str,
    source: &IdTokenSource,
    now: u64,
    policy: &RetryPolicy,
    sleep: &mut dyn FnMut(Duration),
) -> Result<Minted, StageError> {
    if let IdTokenSource::GitHub(env) = source
        && env.request_url.is_none()
    {
        return Err(missing_permission(env));
    }
    let base = oidc_base(index)?;
    let audience = audience(t, &base)?;
    let mut retry = 0;
    let (claims, (token, expires)) = loop {
        let jwt = match source {
            IdTokenSource::GitHub(env) => id_token(t, env, &audience)?,
            IdTokenSource::GitLab { get, var } => gitlab_id_token(*get, *var, &audience)?,
        };
        let claims = Claims::of_jwt(&jwt).unwrap_or_default();
        match mint(t, &base, &jwt, &claims, now) {
            Ok(minted) => break (claims, minted),
            // GitLab's ID token is a job variable: there is no fresh one to fetch.
            Err(e)
                if e.retryable
                    && e.category == Category::Network
                    && matches!(source, IdTokenSource::GitHub(_)) =>
            {
                back_off(policy, retry, e, None, sleep)?;
                retry += 1;
            }
            Err(e) => return Err(e),
        }
    };
    let mut warnings = Vec::new();
    if claims.reusable_workflow() {
        warnings.push(format!(
            "the ID token comes from a reusable workflow ({} called from {}); PyPI does not officially support trusted publishing from reusable workflows (docs.pypi.org/trusted-publishers/troubleshooting/#reusable-workflows-on-github)",
            claims.job_workflow_ref.as_deref().unwrap_or("?"),
            claims.workflow_ref.as_deref().unwrap_or("?")
        ));
    }
    Ok(Minted {
        token,
        expires: Some(expires),
        audience,
        claims,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: serde_json::Value) -> String {
        let e = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        format!(
            "{}.{}.sig",
            e(br#"{"alg":"RS256"}"#),
            e(claims.to_string().as_bytes())
        )
    }

    /// Answers by URL path from a script; records requests.
    struct Script(Vec<(String, Response)>, Vec<Request>);
    impl Transport for Script {
        fn send(
            &mut self,
            req: &Request,
            _: &mut dyn FnMut(u64, u64),
        ) -> Result<Response, StageError> {
            self.1.push(req.clone());
            let r = self
                .0
                .iter()
                .find(|(p, _)| req.url.contains(p.as_str()))
                .map(|(_, r)| r.clone())
                .unwrap_or(Response {
                    status: 404,
                    ..Default::default()
                });
            Ok(r)
        }
    }
    fn json(status: u16, v: serde_json::Value) -> Response {
        Response {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: v.to_string().into_bytes(),
        }
    }
    fn env() -> ActionsEnv {
        ActionsEnv::from(|k| match k {
            "ACTIONS_ID_TOKEN_REQUEST_URL" => Some("http://gh/token?api-version=2.0".into()),
            "GITHUB_ACTIONS" => Some("true".into()),
            _ => None,
        })
    }

    #[test]
    fn the_three_steps() {
        let claims = serde_json::json!({"sub": "repo:o/r:ref:refs/tags/v1", "repository": "o/r", "workflow_ref": "o/r/.github/workflows/release.yml@refs/tags/v1", "job_workflow_ref": "o/r/.github/workflows/release.yml@refs/tags/v1"});
        let mut t = Script(
            vec![
                (
                    "/_/oidc/audience".into(),
                    json(200, serde_json::json!({"audience": "pypi"})),
                ),
                (
                    "/token".into(),
                    json(200, serde_json::json!({"count": 1, "value": jwt(claims)})),
                ),
                (
                    "/_/oidc/mint-token".into(),
                    json(
                        200,
                        serde_json::json!({"success": true, "token": "pypi-minted", "expires": 1900}),
                    ),
                ),
            ],
            vec![],
        );
        let m =
            trusted_publish_token(&mut t, "https://upload.pypi.org/legacy/", &env(), 1000).unwrap();
        assert_eq!(m.token, "pypi-minted");
        assert_eq!(m.expires, Some(1900));
        assert!(m.warnings.is_empty());
        assert_eq!(t.1[0].url, "https://pypi.org/_/oidc/audience");
        assert_eq!(t.1[1].url, "http://gh/token?api-version=2.0&audience=pypi");
        assert!(
            t.1[1]
                .headers
                .iter()
                .all(|(n, _)| !n.eq_ignore_ascii_case("authorization"))
        );
        assert_eq!(t.1[2].url, "https://pypi.org/_/oidc/mint-token");
        let sent: serde_json::Value = serde_json::from_slice(&t.1[2].body).unwrap();
        assert_eq!(sent["token"].as_str().unwrap().split('.').count(), 3);
    }

    #[test]
    fn gitlab_id_tokens_come_from_the_job_variable_of_the_audience() {
        assert_eq!(gitlab_token_var("pypi"), "PYPI_ID_TOKEN");
        assert_eq!(gitlab_token_var("test-pypi.x"), "TEST_PYPI_X_ID_TOKEN");
        let claims = serde_json::json!({"iss": "https://gitlab.com", "aud": "pypi", "sub": "project_path:octo/mypylogger:ref_type:tag:ref:v0.2.8", "project_path": "octo/mypylogger", "ci_config_ref_uri": "gitlab.com/octo/mypylogger//.gitlab-ci.yml@refs/tags/v0.2.8", "ref_path": "refs/tags/v0.2.8"});
        let token = jwt(claims);
        let tok = token.clone();
        let get = move |k: &str| (k == "PYPI_ID_TOKEN").then(|| tok.clone());
        let mut t = Script(
            vec![
                (
                    "/_/oidc/audience".into(),
                    json(200, serde_json::json!({"audience": "pypi"})),
                ),
                (
                    "/_/oidc/mint-token".into(),
                    json(
                        200,
                        serde_json::json!({"success": true, "token": "pypi-minted"}),
                    ),
                ),
            ],
            vec![],
        );
        let source = IdTokenSource::GitLab {
            get: &get,
            var: None,
        };
        let m = trusted_publish_token_from(&mut t, "https://pypi.org", &source, 1000).unwrap();
        assert_eq!(m.token, "pypi-minted");
        assert_eq!(m.expires, Some(1000 + TOKEN_LIFETIME_S));
        assert!(m.claims.gitlab());
        assert!(m.claims.render().contains(
            "ci_config_ref_uri: gitlab.com/octo/mypylogger//.gitlab-ci.yml@refs/tags/v0.2.8"
        ));
        let sent: serde_json::Value = serde_json::from_slice(&t.1[1].body).unwrap();
        assert_eq!(sent["token"], token.as_str());
        assert_eq!(t.1.len(), 2, "no token endpoint on GitLab");

        // Unset, not a JWT, another audience: each says what to add to the job.
        let none = |_: &str| None;
        let e = gitlab_id_token(&none, None, "pypi").unwrap_err();
        assert!(e.message.contains("$PYPI_ID_TOKEN is not set"), "{e}");
        assert!(e.hint.as_deref().unwrap().contains("aud: pypi"), "{e:?}");
        let junk = |_: &str| Some("not-a-jwt".to_string());
        let e = gitlab_id_token(&junk, Some("MY_TOKEN"), "pypi").unwrap_err();
        assert!(e.message.contains("$MY_TOKEN does not hold a JWT"), "{e}");
        let test = jwt(serde_json::json!({"aud": ["testpypi"], "project_path": "o/p"}));
        let other = move |_: &str| Some(test.clone());
        let e = gitlab_id_token(&other, None, "pypi").unwrap_err();
        assert!(
            e.message
                .contains("audience testpypi, but the index asks for pypi"),
            "{e}"
        );
    }

    #[test]
    fn a_failed_exchange_is_retried_with_a_fresh_id_token() {
        let claims = serde_json::json!({"sub": "repo:o/r:ref:refs/tags/v1"});
        let mut t = Script(
            vec![
                (
                    "/_/oidc/audience".into(),
                    json(200, serde_json::json!({"audience": "pypi"})),
                ),
                (
                    "/token".into(),
                    json(200, serde_json::json!({"value": jwt(claims)})),
                ),
                (
                    "/_/oidc/mint-token".into(),
                    Response {
                        status: 503,
                        body: b"<html>maintenance</html>".to_vec(),
                        ..Default::default()
                    },
                ),
            ],
            vec![],
        );
        let policy = RetryPolicy {
            retries: 2,
            ..Default::default()
        };
        let mut slept = Vec::new();
        let e = trusted_publish_token_with(
            &mut t,
            "https://pypi.org",
            &IdTokenSource::GitHub(&env()),
            0,
            &policy,
            &mut |d| slept.push(d),
        )
        .unwrap_err();
        assert!(e.retryable && e.category == Category::Network, "{e}");
        assert!(e.message.contains("gave up after 3 attempts"), "{e}");
        assert_eq!(slept.len(), 2);
        let urls: Vec<&str> = t.1.iter().map(|r| r.url.as_str()).collect();
        let tokens = urls
            .iter()
            .filter(|u| u.starts_with("http://gh/token"))
            .count();
        let mints = urls.iter().filter(|u| u.ends_with("/mint-token")).count();
        assert_eq!((tokens, mints), (3, 3), "{urls:?}");
        // Each exchange sent the ID token fetched just before it.
        for pair in t.1[1..].chunks(2) {
            assert!(pair[0].url.starts_with("http://gh/token"), "{urls:?}");
            assert!(pair[1].url.ends_with("/mint-token"), "{urls:?}");
        }
    }

    #[test]
    fn failures_say_what_to_fix() {
        let no_perm = ActionsEnv {
            on_actions: true,
            ..Default::default()
        };
        let e = trusted_publish_token(&mut Script(vec![], vec![]), "https://pypi.org", &no_perm, 0)
            .unwrap_err();
        assert!(
            e.message.contains("id-token: write")
                || e.hint.as_deref().unwrap().contains("id-token: write")
        );
        let fork = ActionsEnv {
            on_actions: true,
            event_name: Some("pull_request".into()),
            ..Default::default()
        };
        let e = missing_permission(&fork);
        assert!(e.message.contains("fork"), "{e}");
        let off = ActionsEnv::default();
        assert!(missing_permission(&off).message.contains("GitHub Actions"));

        for (status, what) in [(403, "disabled"), (404, "does not support")] {
            let mut t = Script(
                vec![(
                    "/_/oidc/audience".into(),
                    json(status, serde_json::json!({"message": "x"})),
                )],
                vec![],
            );
            let e = audience(&mut t, "https://pypi.org").unwrap_err();
            assert!(e.message.contains(what), "{e}");
            assert_eq!(e.category, Category::Authentication);
        }
        let claims = serde_json::json!({"sub": "repo:o/r:ref:refs/heads/main", "workflow_ref": "o/r/.github/workflows/a.yml@refs/heads/main", "job_workflow_ref": "x/y/.github/workflows/shared.yml@v1", "ref": "refs/heads/main"});
        let c = Claims::of_jwt(&jwt(claims.clone())).unwrap();
        assert!(c.reusable_workflow());
        let mut t = Script(
            vec![(
                "/mint-token".into(),
                json(
                    422,
                    serde_json::json!({"message": "Token request failed", "errors": [{"code": "invalid-publisher", "description": "valid token, but no corresponding publisher"}]}),
                ),
            )],
            vec![],
        );
        let e = mint(&mut t, "https://pypi.org", &jwt(claims), &c, 0).unwrap_err();
        assert!(
            e.message.contains("invalid-publisher")
                && e.message.contains("sub: repo:o/r:ref:refs/heads/main")
                && e.message.contains("environment: MISSING"),
            "{e}"
        );
        assert!(e.hint.as_deref().unwrap().contains("reusable workflow"));
        let mut t = Script(
            vec![(
                "/mint-token".into(),
                Response {
                    status: 502,
                    body: b"<html>Bad gateway</html>".to_vec(),
                    ..Default::default()
                },
            )],
            vec![],
        );
        let e = mint(&mut t, "https://pypi.org", "a.b.c", &Claims::default(), 0).unwrap_err();
        assert!(e.message.contains("not JSON") && e.retryable, "{e}");
    }
}
