//! A local stand-in for GitHub Actions' OIDC ID-token endpoint, following GitHub's
//! documented protocol ("About security hardening with OpenID Connect", "Methods for
//! requesting the JWT"): the runner sets `ACTIONS_ID_TOKEN_REQUEST_URL` (with
//! `api-version=2.0`) and `ACTIONS_ID_TOKEN_REQUEST_TOKEN`; a job asks
//! `GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=AUD` with
//! `Authorization: bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN` and gets
//! `{"count": N, "value": "<JWT>"}`, a JWT whose claims include `iss`, `aud`, `sub`,
//! `repository`, `workflow_ref`, `job_workflow_ref`, `ref`, `environment`, `iat`, `exp`,
//! and the claims Fulcio turns into certificate extensions (`sha`, `workflow`,
//! `workflow_sha`, `job_workflow_sha`, `event_name`, `run_id`, `run_attempt`,
//! `repository_id`, `repository_visibility`, `runner_environment`; fixed values, see
//! [`IdTokenSpec::claims`]).
//! A wrong or missing bearer gets `401 {"message": "Bad credentials"}`.
//!
//! The JWT is signed by no one (its signature part is a fixed string): the stand-ins that
//! receive it (a PyPI mint endpoint, moto's STS) check what they check, see their tests.

use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::http::{b64url, read_request, respond, serve};

/// The `ACTIONS_ID_TOKEN_REQUEST_TOKEN` the stand-in accepts as bearer.
pub const ACTIONS_REQUEST_TOKEN: &str = "ghs-actions-request-token-9f8e7d6c5b4a";

/// The commit the stand-in's jobs run on: the `sha` and `workflow_sha` claims (and
/// `job_workflow_sha` unless a reusable workflow runs), 40 hex digits.
pub const COMMIT_SHA: &str = "a7c1e9b2d4f60381952e7b6c0d8f4a3e1b2c9d70";

/// `job_workflow_sha` when [`IdTokenSpec::reusable_workflow_ref`] is set: the commit of the
/// other repository's reusable workflow.
pub const REUSABLE_WORKFLOW_SHA: &str = "5e0b3c8d1f2a4967b8c0d1e2f3a4b5c6d7e8f901";

/// What the stand-in's ID tokens say, and how they are formed. [`Default`]: the job
/// `octo/mypylogger`, workflow `.github/workflows/release.yml` at `refs/tags/v0.2.8`,
/// environment `pypi`, valid for 5 minutes.
#[derive(Clone, Debug)]
pub struct IdTokenSpec {
    /// `repository` (`OWNER/REPO`); also in `sub` and `workflow_ref`.
    pub repository: String,
    /// The workflow file, e.g. `.github/workflows/release.yml`.
    pub workflow: String,
    /// `ref`, e.g. `refs/tags/v0.2.8`.
    pub git_ref: String,
    /// `environment`; with one, `sub` is `repo:OWNER/REPO:environment:ENV`, else
    /// `repo:OWNER/REPO:ref:REF`.
    pub environment: Option<String>,
    /// `job_workflow_ref` when the job runs a reusable workflow of another repository;
    /// `None`: the same as `workflow_ref`.
    pub reusable_workflow_ref: Option<String>,
    /// `exp - now` in seconds; negative for a token that has already expired.
    pub expires_in_s: i64,
    /// Answered as `value` instead of a JWT (a garbage token), when set.
    pub raw_value: Option<String>,
}

impl Default for IdTokenSpec {
    fn default() -> Self {
        IdTokenSpec {
            repository: "octo/mypylogger".into(),
            workflow: ".github/workflows/release.yml".into(),
            git_ref: "refs/tags/v0.2.8".into(),
            environment: Some("pypi".into()),
            reusable_workflow_ref: None,
            expires_in_s: 300,
            raw_value: None,
        }
    }
}

impl IdTokenSpec {
    /// The `sub` claim GitHub forms for this job.
    pub fn sub(&self) -> String {
        match &self.environment {
            Some(env) => format!("repo:{}:environment:{env}", self.repository),
            None => format!("repo:{}:ref:{}", self.repository, self.git_ref),
        }
    }

    /// The `workflow_ref` claim: `OWNER/REPO/WORKFLOW@REF`.
    pub fn workflow_ref(&self) -> String {
        format!("{}/{}@{}", self.repository, self.workflow, self.git_ref)
    }

    /// The claims of a token issued now for audience `aud`. Besides those the spec sets,
    /// fixed values as GitHub documents them: `sha` and `workflow_sha` [`COMMIT_SHA`],
    /// `job_workflow_sha` ([`REUSABLE_WORKFLOW_SHA`] for a reusable workflow), `workflow`
    /// `Release`, `event_name` `push`, `run_id` `9876543210`, `run_number` `42`,
    /// `run_attempt` `1`, `repository_id` `712345678`, `repository_visibility` `public`,
    /// `runner_environment` `github-hosted`, `actor` `octocat`, `actor_id` `583231`,
    /// `ref_type` (`tag` for `refs/tags/…`, else `branch`).
    pub fn claims(&self, aud: &str) -> serde_json::Value {
        let now = now_s() as i64;
        let exp = now + self.expires_in_s;
        let iat = now.min(exp - 300);
        let owner = self.repository.split('/').next().unwrap_or("");
        serde_json::json!({
            "iss": "https://token.actions.githubusercontent.com",
            "aud": aud,
            "sub": self.sub(),
            "repository": self.repository,
            "repository_owner": owner,
            "repository_owner_id": "4242",
            "workflow_ref": self.workflow_ref(),
            "job_workflow_ref": self.reusable_workflow_ref.clone().unwrap_or_else(|| self.workflow_ref()),
            "job_workflow_sha": if self.reusable_workflow_ref.is_some() { REUSABLE_WORKFLOW_SHA } else { COMMIT_SHA },
            "ref": self.git_ref,
            "ref_type": if self.git_ref.starts_with("refs/tags/") { "tag" } else { "branch" },
            "sha": COMMIT_SHA,
            "workflow": "Release",
            "workflow_sha": COMMIT_SHA,
            "event_name": "push",
            "run_id": "9876543210",
            "run_number": "42",
            "run_attempt": "1",
            "repository_id": "712345678",
            "repository_visibility": "public",
            "runner_environment": "github-hosted",
            "actor": "octocat",
            "actor_id": "583231",
            "environment": self.environment,
            "iat": iat,
            "nbf": iat,
            "exp": exp,
        })
    }
}

/// GitHub's ID-token endpoint on 127.0.0.1 (a free port, for the life of the test process).
pub struct GithubOidc {
    /// Its port.
    pub port: u16,
    /// The tokens issued, in order (to check they never leak, or that a receiver knows them).
    pub issued: Arc<Mutex<Vec<String>>>,
    /// Requests seen, as `METHOD TARGET BEARER_SENT` (`true`/`false`).
    pub log: Arc<Mutex<Vec<String>>>,
    spec: IdTokenSpec,
}

impl GithubOidc {
    /// Starts the endpoint; it issues tokens as `spec` says.
    pub fn start(spec: IdTokenSpec) -> GithubOidc {
        let issued: Arc<Mutex<Vec<String>>> = Arc::default();
        let log: Arc<Mutex<Vec<String>>> = Arc::default();
        let (iss, lg, sp) = (issued.clone(), log.clone(), spec.clone());
        let port = serve(move |s| answer(s, &sp, &iss, &lg));
        GithubOidc {
            port,
            issued,
            log,
            spec,
        }
    }

    /// `http://127.0.0.1:PORT`: the origin to grant and to inject the bearer into.
    pub fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `ACTIONS_ID_TOKEN_REQUEST_URL`: `http://127.0.0.1:PORT/token?api-version=2.0`.
    pub fn request_url(&self) -> String {
        format!("{}/token?api-version=2.0", self.origin())
    }

    /// What its tokens say.
    pub fn spec(&self) -> &IdTokenSpec {
        &self.spec
    }

    /// The tokens issued so far.
    pub fn issued(&self) -> Vec<String> {
        self.issued.lock().unwrap().clone()
    }

    /// The environment of a GitHub Actions job with `id-token: write` run for a push:
    /// `GITHUB_ACTIONS`, `GITHUB_EVENT_NAME`, `GITHUB_REPOSITORY`,
    /// `ACTIONS_ID_TOKEN_REQUEST_URL` (this endpoint) and `ACTIONS_ID_TOKEN_REQUEST_TOKEN`
    /// ([`ACTIONS_REQUEST_TOKEN`]).
    pub fn actions_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("GITHUB_ACTIONS", "true".into()),
            ("GITHUB_EVENT_NAME", "push".into()),
            ("GITHUB_REPOSITORY", self.spec.repository.clone()),
            ("ACTIONS_ID_TOKEN_REQUEST_URL", self.request_url()),
            (
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
                ACTIONS_REQUEST_TOKEN.into(),
            ),
        ]
    }
}

/// Answers one connection as GitHub's endpoint does.
fn answer(
    mut s: TcpStream,
    spec: &IdTokenSpec,
    issued: &Mutex<Vec<String>>,
    log: &Mutex<Vec<String>>,
) {
    let Ok(req) = read_request(&mut s, true) else {
        return;
    };
    let auth = req.header("authorization").unwrap_or("").to_string();
    log.lock().unwrap().push(format!(
        "{} {} {}",
        req.method,
        req.target,
        !auth.is_empty()
    ));
    let json = [("content-type", "application/json")];
    let bearer_ok = auth.split_once(' ').is_some_and(|(scheme, tok)| {
        scheme.eq_ignore_ascii_case("bearer") && tok == ACTIONS_REQUEST_TOKEN
    });
    if !bearer_ok {
        return respond(&mut s, 401, &json, br#"{"message":"Bad credentials"}"#);
    }
    let Some(aud) = req
        .target
        .split_once('?')
        .and_then(|(_, q)| q.split('&').find_map(|kv| kv.strip_prefix("audience=")))
        .filter(|_| req.method == "GET" && req.target.contains("api-version=2.0"))
    else {
        return respond(&mut s, 400, &[], b"bad request");
    };
    let token = spec.raw_value.clone().unwrap_or_else(|| {
        format!(
            "{}.{}.{}",
            b64url(br#"{"alg":"RS256","typ":"JWT","kid":"stand-in"}"#),
            b64url(spec.claims(aud).to_string().as_bytes()),
            b64url(b"signature-of-the-stand-in")
        )
    });
    issued.lock().unwrap().push(token.clone());
    let body = serde_json::json!({ "count": 1, "value": token }).to_string();
    respond(&mut s, 200, &json, body.as_bytes());
}

/// Unix seconds now.
pub fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
