//! PyPI Trusted Publishing from GitHub Actions: OIDC audience → GitHub ID token → upload
//! token (the authenticate stage's `mode = "trusted"`).
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
//! 3. `POST {index}/_/oidc/mint-token` with `{"token": "<JWT>"}` → `200 {"success": true,
//!    "token": "pypi-…", "expires": <unix seconds>}`, or `422 {"message": "Token request
//!    failed", "errors": [{"code": "invalid-publisher", "description": "…"}]}` (warehouse
//!    `oidc/views.py` `mint_token`; pypa/gh-action-pypi-publish `oidc-exchange.py`).
//!
//! Every failure is a [`StageError`] whose message says what happened and whose hint says
//! what to fix; none contains a token (the JWT's claims are shown, never the JWT).

use airlock_stage::http::{Request, Response};
use airlock_stage::{Category, StageError};
use base64::Engine;
use serde::Deserialize;

use crate::index::{Transport, USER_AGENT};

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
        })
    }

    /// One line per claim, `name: value` (`MISSING` when absent).
    pub fn render(&self) -> String {
        let m = |v: &Option<String>| v.clone().unwrap_or_else(|| "MISSING".into());
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
    let resp = t.send(
        &Request::get(&url).header("user-agent", USER_AGENT),
        &mut |_, _| {},
    )?;
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
    let url = format!("{base}{sep}audience={}", percent_encode(audience));
    let shown = airlock_stage::http::strip_query(base);
    let resp = t.send(
        &Request::get(&url)
            .header("accept", "application/json")
            .header("user-agent", USER_AGENT),
        &mut |_, _| {},
    )?;
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
        let mut hint = if codes.contains(&"invalid-publisher") {
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

/// All three steps: audience, ID token, mint. `now` is unix seconds.
pub fn trusted_publish_token(
    t: &mut dyn Transport,
    index: &str,
    env: &ActionsEnv,
    now: u64,
) -> Result<Minted, StageError> {
    if env.request_url.is_none() {
        return Err(missing_permission(env));
    }
    let base = oidc_base(index)?;
    let audience = audience(t, &base)?;
    let jwt = id_token(t, env, &audience)?;
    let claims = Claims::of_jwt(&jwt).unwrap_or_default();
    let mut warnings = Vec::new();
    if claims.reusable_workflow() {
        warnings.push(format!(
            "the ID token comes from a reusable workflow ({} called from {}); PyPI does not officially support trusted publishing from reusable workflows (docs.pypi.org/trusted-publishers/troubleshooting/#reusable-workflows-on-github)",
            claims.job_workflow_ref.as_deref().unwrap_or("?"),
            claims.workflow_ref.as_deref().unwrap_or("?")
        ));
    }
    let (token, expires) = mint(t, &base, &jwt, &claims, now)?;
    Ok(Minted {
        token,
        expires: Some(expires),
        audience,
        claims,
        warnings,
    })
}

/// Percent-encodes a query value (RFC 3986 unreserved characters kept).
fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
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
