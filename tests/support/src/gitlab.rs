//! GitLab CI's ID tokens and a PyPI that trusts a GitLab publisher, on 127.0.0.1.
//!
//! - [`GitlabJob::id_token`]: the JWT GitLab gives a job for an `id_tokens:` entry, with
//!   the claims GitLab documents ("OpenID Connect (OIDC) Authentication Using ID Tokens",
//!   "Token payload"): `iss`, `sub` (`project_path:{group}/{project}:ref_type:{type}:ref:{ref}`),
//!   `aud`, `exp`, `nbf`, `iat`, `jti`, `namespace_id`, `namespace_path`, `project_id`,
//!   `project_path`, `user_id`, `user_login`, `user_email`, `user_access_level`,
//!   `pipeline_id`, `pipeline_source`, `job_id`, `ref`, `ref_type`, `ref_path`,
//!   `ref_protected`, `environment`, `environment_protected`, `deployment_tier`,
//!   `environment_action`, `runner_id`, `runner_environment`, `sha`, `ci_config_ref_uri`,
//!   `ci_config_sha`, `project_visibility`. GitLab signs it with RS256; the stand-in's
//!   signature part is a fixed string (the receiving stand-in checks the claims, as the
//!   tests need).
//! - [`PypiGitlab`]: PyPI's `/_/oidc/audience` and `/_/oidc/mint-token` for one GitLab
//!   trusted publisher, checking the claims as warehouse's `oidc/models/gitlab.py` does:
//!   `iss` is `https://gitlab.com`, `aud` is `pypi`, not expired; `sub` starts with
//!   `project_path:{namespace}/{project}` and `project_path` matches (both
//!   case-insensitively); `ci_config_ref_uri` is
//!   `gitlab.com/{namespace}/{project}//{workflow_filepath}@{ref_path}`; `environment` only
//!   when the publisher names one. Otherwise `422 {"message": "Token request failed",
//!   "errors": [{"code": "invalid-publisher", …}]}`, as warehouse answers.

use std::sync::{Arc, Mutex};

use crate::github::now_s;
use crate::http::{b64url, read_request, respond, serve};

/// A GitLab CI job and what its ID tokens say. [`Default`]: project `octo/mypylogger` on
/// gitlab.com, pipeline file `.gitlab-ci.yml`, the tag `v0.2.8`, environment `pypi`.
#[derive(Clone, Debug)]
pub struct GitlabJob {
    /// `group/project` (`project_path`).
    pub project_path: String,
    /// The top-level pipeline file, e.g. `.gitlab-ci.yml`.
    pub ci_config_path: String,
    /// `ref` (a branch or tag name) and `ref_type` (`branch` or `tag`).
    pub git_ref: String,
    /// `branch` or `tag`.
    pub ref_type: String,
    /// `environment`, if the job has one.
    pub environment: Option<String>,
    /// `exp - now`, seconds.
    pub expires_in_s: i64,
}

impl Default for GitlabJob {
    fn default() -> Self {
        GitlabJob {
            project_path: "octo/mypylogger".into(),
            ci_config_path: ".gitlab-ci.yml".into(),
            git_ref: "v0.2.8".into(),
            ref_type: "tag".into(),
            environment: Some("pypi".into()),
            expires_in_s: 300,
        }
    }
}

impl GitlabJob {
    /// `refs/tags/v0.2.8` or `refs/heads/main`.
    pub fn ref_path(&self) -> String {
        let kind = if self.ref_type == "tag" {
            "tags"
        } else {
            "heads"
        };
        format!("refs/{kind}/{}", self.git_ref)
    }

    /// The claims of a token for audience `aud`.
    pub fn claims(&self, aud: &str) -> serde_json::Value {
        let now = now_s() as i64;
        let exp = now + self.expires_in_s;
        let iat = now.min(exp - 300);
        let namespace = self
            .project_path
            .rsplit_once('/')
            .map(|(n, _)| n)
            .unwrap_or("");
        let sha = "3b1f2c4d5e6f708192a3b4c5d6e7f8091a2b3c4d";
        let mut c = serde_json::json!({
            "iss": "https://gitlab.com",
            "sub": format!("project_path:{}:ref_type:{}:ref:{}", self.project_path, self.ref_type, self.git_ref),
            "aud": aud,
            "exp": exp,
            "nbf": iat,
            "iat": iat,
            "jti": format!("stand-in-{now}-{aud}"),
            "namespace_id": "4242",
            "namespace_path": namespace,
            "project_id": "424242",
            "project_path": self.project_path,
            "user_id": "42",
            "user_login": "octo",
            "user_email": "octo@example.com",
            "user_access_level": "maintainer",
            "pipeline_id": "1001",
            "pipeline_source": "push",
            "job_id": "2002",
            "ref": self.git_ref,
            "ref_type": self.ref_type,
            "ref_path": self.ref_path(),
            "ref_protected": "true",
            "runner_id": 7,
            "runner_environment": "gitlab-hosted",
            "sha": sha,
            "ci_config_ref_uri": format!("gitlab.com/{}//{}@{}", self.project_path, self.ci_config_path, self.ref_path()),
            "ci_config_sha": sha,
            "project_visibility": "public",
        });
        if let Some(env) = &self.environment {
            c["environment"] = env.clone().into();
            c["environment_protected"] = "true".into();
            c["deployment_tier"] = "production".into();
            c["environment_action"] = "start".into();
        }
        c
    }

    /// The ID token GitLab gives this job for audience `aud` (an `id_tokens:` variable).
    pub fn id_token(&self, aud: &str) -> String {
        format!(
            "{}.{}.{}",
            b64url(br#"{"alg":"RS256","typ":"JWT","kid":"gitlab-stand-in"}"#),
            b64url(self.claims(aud).to_string().as_bytes()),
            b64url(b"signature-of-the-stand-in")
        )
    }

    /// The variables of this job as GitLab sets them (a subset: `GITLAB_CI`, `CI`,
    /// `CI_PROJECT_PATH`, `CI_COMMIT_TAG`/`CI_COMMIT_BRANCH`), plus `PYPI_ID_TOKEN` for
    /// `id_tokens: { PYPI_ID_TOKEN: { aud: pypi } }`.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let mut v = vec![
            ("GITLAB_CI", "true".to_string()),
            ("CI", "true".to_string()),
            ("CI_PROJECT_PATH", self.project_path.clone()),
            ("PYPI_ID_TOKEN", self.id_token("pypi")),
        ];
        v.push(if self.ref_type == "tag" {
            ("CI_COMMIT_TAG", self.git_ref.clone())
        } else {
            ("CI_COMMIT_BRANCH", self.git_ref.clone())
        });
        v
    }
}

/// A GitLab trusted publisher as PyPI keeps it.
#[derive(Clone, Debug)]
pub struct GitlabPublisher {
    /// The namespace (group), e.g. `octo`.
    pub namespace: String,
    /// The project, e.g. `mypylogger`.
    pub project: String,
    /// The top-level pipeline file path, e.g. `.gitlab-ci.yml`.
    pub workflow_filepath: String,
    /// The environment, or none (any).
    pub environment: Option<String>,
}

impl Default for GitlabPublisher {
    fn default() -> Self {
        GitlabPublisher {
            namespace: "octo".into(),
            project: "mypylogger".into(),
            workflow_filepath: ".gitlab-ci.yml".into(),
            environment: Some("pypi".into()),
        }
    }
}

/// PyPI's OIDC endpoints for one GitLab publisher.
pub struct PypiGitlab {
    /// Its port; the index is `http://127.0.0.1:PORT`.
    pub port: u16,
    /// Requests seen, `METHOD PATH`.
    pub log: Arc<Mutex<Vec<String>>>,
}

/// Decodes a JWT's payload (base64url, RFC 7519).
fn payload(jwt: &str) -> Option<serde_json::Value> {
    use base64::Engine;
    let part = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Why warehouse's GitLab publisher would refuse `claims`, or `None` when it matches.
pub fn refusal(p: &GitlabPublisher, claims: &serde_json::Value) -> Option<String> {
    let s = |k: &str| claims.get(k).and_then(|v| v.as_str()).unwrap_or("");
    let path = format!("{}/{}", p.namespace, p.project);
    if s("iss") != "https://gitlab.com" {
        return Some(format!("unknown issuer {}", s("iss")));
    }
    if s("aud") != "pypi" {
        return Some("audience mismatch".into());
    }
    if claims.get("exp").and_then(|e| e.as_i64()).unwrap_or(0) <= now_s() as i64 {
        return Some("token expired".into());
    }
    let sub_ok = s("sub")
        .to_ascii_lowercase()
        .starts_with(&format!("project_path:{}:", path.to_ascii_lowercase()));
    if !sub_ok || !s("project_path").eq_ignore_ascii_case(&path) {
        return Some("Check failed for required claim 'sub'".into());
    }
    let uri = format!(
        "gitlab.com/{path}//{}@{}",
        p.workflow_filepath,
        s("ref_path")
    );
    if !s("ci_config_ref_uri").eq_ignore_ascii_case(&uri) {
        return Some("Check failed for required claim 'ci_config_ref_uri'".into());
    }
    if let Some(env) = &p.environment
        && s("environment") != env
    {
        return Some("Check failed for optional claim 'environment'".into());
    }
    None
}

impl PypiGitlab {
    /// Starts the endpoints; `mint-token` answers `{"success", "token": minted, "expires"}`
    /// for a token that `publisher` matches.
    pub fn start(publisher: GitlabPublisher, minted: &str) -> PypiGitlab {
        let log: Arc<Mutex<Vec<String>>> = Arc::default();
        let (lg, minted) = (log.clone(), minted.to_string());
        let port = serve(move |mut s| {
            let Ok(req) = read_request(&mut s, true) else {
                return;
            };
            lg.lock()
                .unwrap()
                .push(format!("{} {}", req.method, req.target));
            let json = [("content-type", "application/json")];
            match (req.method.as_str(), req.target.as_str()) {
                ("GET", "/_/oidc/audience") => {
                    respond(&mut s, 200, &json, br#"{"audience":"pypi"}"#)
                }
                ("POST", "/_/oidc/mint-token") => {
                    let jwt = serde_json::from_slice::<serde_json::Value>(&req.body)
                        .ok()
                        .and_then(|v| v.get("token")?.as_str().map(str::to_string))
                        .unwrap_or_default();
                    let why = match payload(&jwt) {
                        Some(c) => refusal(&publisher, &c),
                        None => Some("malformed token".into()),
                    };
                    match why {
                        None => {
                            let body = serde_json::json!({
                                "success": true, "token": minted, "expires": now_s() + 900
                            });
                            respond(&mut s, 200, &json, body.to_string().as_bytes())
                        }
                        Some(why) => {
                            let body = serde_json::json!({
                                "message": "Token request failed",
                                "errors": [{ "code": "invalid-publisher", "description": format!("valid token, but no corresponding publisher ({why})") }]
                            });
                            respond(&mut s, 422, &json, body.to_string().as_bytes())
                        }
                    }
                }
                _ => respond(&mut s, 404, &[], b"Not Found"),
            }
        });
        PypiGitlab { port, log }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}
