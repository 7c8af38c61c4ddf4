//! The GitHub REST API calls of the notify stage: the request plan and what the answers mean.
//!
//! Source: the GitHub REST API docs, "Issues" and "Issue comments"
//! (<https://docs.github.com/en/rest/issues/issues>,
//! <https://docs.github.com/en/rest/issues/comments>), API version `2022-11-28`:
//!
//! 1. `GET {api}/repos/{owner}/{repo}/issues?state=open&labels={label}&per_page=100` lists
//!    the open issues carrying the label, newest first. Pull requests are issues to this
//!    endpoint (they carry a `pull_request` key) and are skipped. The issue this stage opened
//!    for the pipeline is the one whose body holds [`crate::report::marker`].
//! 2. Found: `POST {api}/repos/{owner}/{repo}/issues/{number}/comments` with `{"body"}`;
//!    201 answers the comment (`id`, `html_url`).
//! 3. Not found: `POST {api}/repos/{owner}/{repo}/issues` with `{"title", "body",
//!    "labels": [label]}`; 201 answers the issue (`number`, `html_url`, `labels`). GitHub
//!    creates a label that does not exist yet, and silently drops labels when the token may
//!    not set them (then the next failure opens another issue; [`Notifier::notify`] warns).
//!
//! Every request carries `Accept: application/vnd.github+json`, `X-GitHub-Api-Version:
//! 2022-11-28` and a `User-Agent` (GitHub refuses requests without one). The token is not
//! here: the host adds `Authorization: Bearer …` to requests for the granted API origin.
//!
//! Only the 100 most recent open issues with the label are searched (one page).

use airlock_stage::http::{Request, Response, Timeouts, Transport, encode_component, strip_query};
use airlock_stage::retry::{RetryPolicy, send_retrying, sleep};
use airlock_stage::{Category, StageError};
use serde::{Deserialize, Serialize};

use crate::report::{FailureReport, comment_body, issue_body, marker};

/// The `Accept` header GitHub recommends.
pub const ACCEPT: &str = "application/vnd.github+json";
/// The REST API version requested (`X-GitHub-Api-Version`).
pub const API_VERSION: &str = "2022-11-28";
/// The `User-Agent` sent.
pub const USER_AGENT: &str = concat!("airlock-notify/", env!("CARGO_PKG_VERSION"));
/// The largest answer read, in bytes (a page of 100 issues with bodies of up to 64 K
/// characters each fits).
pub const MAX_RESPONSE_BYTES: u64 = 32 * 1024 * 1024;
/// The hint given on 401 and 403 (not rate limits).
pub const TOKEN_HINT: &str = "the token injected for the GitHub API (GITHUB_TOKEN) needs \
    `issues: write`: add `permissions: issues: write` to the job, and check the stage's \
    inject rule { secret = \"github-token\", into = \"https://api.github.com\", as = \"bearer\" }";

/// A repository, `owner/name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    /// The user or organisation.
    pub owner: String,
    /// The repository name.
    pub name: String,
}

impl Repository {
    /// Parses `owner/name`: two non-empty parts of ASCII letters, digits, `-`, `_` and `.`
    /// (what GitHub allows), neither `.` nor `..`. Errors: [`Category::Configuration`].
    pub fn parse(s: &str) -> Result<Self, StageError> {
        let ok = |p: &str| {
            !p.is_empty()
                && p != "."
                && p != ".."
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        };
        match s.split_once('/') {
            Some((o, n)) if ok(o) && ok(n) => Ok(Repository {
                owner: o.to_string(),
                name: n.to_string(),
            }),
            _ => Err(StageError::config(format!(
                "config.repository: \"{s}\" is not a GitHub repository \"owner/name\""
            ))
            .with_hint("set repository = \"owner/name\" in the notify stage's config")),
        }
    }
}

impl std::fmt::Display for Repository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// An issue as the list endpoint answers it (only the fields used).
#[derive(Debug, Clone, Deserialize)]
pub struct ListedIssue {
    /// The issue number in the repository.
    pub number: u64,
    /// Its web page.
    pub html_url: String,
    /// Its body (Markdown), null when empty.
    #[serde(default)]
    pub body: Option<String>,
    /// Present when the "issue" is a pull request.
    #[serde(default)]
    pub pull_request: Option<serde_json::Value>,
}

/// A label object in an issue.
#[derive(Debug, Clone, Deserialize)]
struct Label {
    name: String,
}

/// The answer to creating an issue (only the fields used).
#[derive(Debug, Clone, Deserialize)]
struct CreatedIssue {
    number: u64,
    html_url: String,
    #[serde(default)]
    labels: Vec<Label>,
}

/// The answer to creating a comment (only the fields used).
#[derive(Debug, Clone, Deserialize)]
struct CreatedComment {
    html_url: String,
}

/// What the stage did: its output, `{ "action": "opened"|"commented", "issue": number,
/// "url": html_url }`. `url` is the new issue's page, or the new comment's
/// (`…/issues/N#issuecomment-ID`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// Opened a new issue, or commented on the open one.
    pub action: Action,
    /// The issue number.
    pub issue: u64,
    /// The web page of the issue (opened) or of the comment (commented).
    pub url: String,
    /// Things a person should know that did not stop the stage (not in the output).
    #[serde(skip)]
    pub warnings: Vec<String>,
}

/// The notify stage's output.
impl airlock_stage::Output for Outcome {}

/// See [`Outcome::action`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// A new issue.
    Opened,
    /// A comment on the issue already open for this pipeline.
    Commented,
}

/// The issues API of one repository, reached through a [`Transport`].
pub struct Notifier<'t> {
    /// The API base URL without a trailing `/`, e.g. `https://api.github.com`.
    pub api: String,
    /// The repository issues go to.
    pub repository: Repository,
    /// The label that marks this stage's issues.
    pub label: String,
    /// Timeouts of every request (default: connect 10 s, response 30 s, between bytes 30 s).
    pub timeouts: Timeouts,
    transport: &'t mut dyn Transport,
}

impl<'t> Notifier<'t> {
    /// A notifier for `repository` at `api` (`http://` or `https://`, no query), using
    /// `label`. Errors ([`Category::Configuration`]): a malformed `api`, an empty label or
    /// one with a comma (the list query could not select it).
    pub fn new(
        api: &str,
        repository: Repository,
        label: &str,
        transport: &'t mut dyn Transport,
    ) -> Result<Self, StageError> {
        let base = api.trim_end_matches('/');
        let ok = airlock_stage::http::split_url(base)
            .is_some_and(|(_, _, rest)| !rest.contains(['?', '#']));
        if !ok {
            return Err(StageError::config(format!(
                "config.api: \"{api}\" is not an http(s) base URL"
            ))
            .with_hint("leave api unset for https://api.github.com, or give e.g. \"https://github.example.com/api/v3\""));
        }
        if label.trim().is_empty() || label.contains(',') {
            return Err(StageError::config(format!(
                "config.label: \"{label}\" cannot be used: it must be non-empty and have no comma"
            ))
            .with_hint("the default is \"release-failure\""));
        }
        Ok(Notifier {
            api: base.to_string(),
            repository,
            label: label.to_string(),
            timeouts: Timeouts {
                connect: std::time::Duration::from_secs(10),
                response: std::time::Duration::from_secs(30),
                between_bytes: std::time::Duration::from_secs(30),
                ..Timeouts::default()
            },
            transport,
        })
    }

    fn issues_url(&self) -> String {
        format!(
            "{}/repos/{}/{}/issues",
            self.api, self.repository.owner, self.repository.name
        )
    }

    fn request(&self, method: &str, url: String, body: Option<serde_json::Value>) -> Request {
        let mut req = match body {
            Some(b) => Request::post(&url, "application/json", b.to_string().into_bytes()),
            None => Request::get(&url),
        };
        req.method = method.to_string();
        req.max_response_bytes = MAX_RESPONSE_BYTES;
        req.header("accept", ACCEPT)
            .header("x-github-api-version", API_VERSION)
            .header("user-agent", USER_AGENT)
            .with_timeouts(self.timeouts)
    }

    /// Step 1: the list of open issues carrying the label (one page of 100).
    pub fn list_request(&self) -> Request {
        let url = format!(
            "{}?state=open&labels={}&per_page=100",
            self.issues_url(),
            encode_component(&self.label)
        );
        self.request("GET", url, None)
    }

    /// Step 2: a comment with `body` on issue `number`.
    pub fn comment_request(&self, number: u64, body: &str) -> Request {
        let url = format!("{}/{number}/comments", self.issues_url());
        self.request("POST", url, Some(serde_json::json!({ "body": body })))
    }

    /// Step 3: a new issue with `title`, `body` and the label.
    pub fn open_request(&self, title: &str, body: &str) -> Request {
        self.request(
            "POST",
            self.issues_url(),
            Some(serde_json::json!({ "title": title, "body": body, "labels": [self.label] })),
        )
    }

    /// Sends `req` (`what` says what it does, for errors) and checks the answer. A GET is
    /// retried as the SDK's [`RetryPolicy`] says; a POST, which creates an issue or a
    /// comment, is sent once (a repeat after a lost answer would post twice).
    fn exchange(&mut self, what: &str, req: &Request) -> Result<Response, StageError> {
        let resp = if req.method == "GET" {
            let server = format!("the GitHub API ({})", strip_query(&req.url));
            send_retrying(
                &mut *self.transport,
                req,
                &RetryPolicy::default(),
                &server,
                &mut sleep,
            )?
        } else {
            self.transport.send(req, &mut |_, _| {})?
        };
        check(what, &self.repository, &resp)?;
        Ok(resp)
    }

    /// The open issue this stage opened for `pipeline` (not a pull request, with the label,
    /// its body holding the pipeline's marker), if any.
    pub fn find_open(&mut self, pipeline: &str) -> Result<Option<ListedIssue>, StageError> {
        let req = self.list_request();
        let resp = self.exchange("listing open issues", &req)?;
        let issues: Vec<ListedIssue> = parse("the open issues list", &resp)?;
        let marker = marker(pipeline);
        Ok(issues.into_iter().find(|i| {
            i.pull_request.is_none() && i.body.as_deref().is_some_and(|b| b.contains(&marker))
        }))
    }

    /// Opens an issue for `report` titled `title`, or comments on the open one this stage
    /// opened for the same pipeline. Errors: see [`check`]; an answer that is not the
    /// documented JSON is [`Category::Network`] (retryable: a proxy or an outage page).
    pub fn notify(&mut self, report: &FailureReport, title: &str) -> Result<Outcome, StageError> {
        if let Some(open) = self.find_open(&report.pipeline)? {
            let req = self.comment_request(open.number, &comment_body(report));
            let resp = self.exchange(&format!("commenting on issue #{}", open.number), &req)?;
            let c: CreatedComment = parse("the created comment", &resp)?;
            return Ok(Outcome {
                action: Action::Commented,
                issue: open.number,
                url: c.html_url,
                warnings: Vec::new(),
            });
        }
        let req = self.open_request(title, &issue_body(report));
        let resp = self.exchange("opening an issue", &req)?;
        let i: CreatedIssue = parse("the created issue", &resp)?;
        let mut warnings = Vec::new();
        if !i
            .labels
            .iter()
            .any(|l| l.name.eq_ignore_ascii_case(&self.label))
        {
            warnings.push(format!(
                "GitHub did not set the label \"{}\" on issue #{} (the token may not set labels): \
                 the next failure will open another issue instead of commenting on this one",
                self.label, i.number
            ));
        }
        Ok(Outcome {
            action: Action::Opened,
            issue: i.number,
            url: i.html_url,
            warnings,
        })
    }
}

fn parse<T: serde::de::DeserializeOwned>(what: &str, resp: &Response) -> Result<T, StageError> {
    serde_json::from_slice(&resp.body).map_err(|e| {
        StageError::new(
            Category::Network,
            format!(
                "the GitHub API answered {} with something other than {what}: {e}",
                resp.status
            ),
        )
        .retryable(true)
    })
}

/// GitHub's error answer: `{"message", "documentation_url", "errors": [...]}`, as one line
/// of at most 500 characters (the body's text when it is not that JSON).
pub fn github_message(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct ErrorBody {
        message: Option<String>,
        #[serde(default)]
        errors: Vec<serde_json::Value>,
    }
    let text = match serde_json::from_slice::<ErrorBody>(body) {
        Ok(e) => {
            let mut s = e.message.unwrap_or_default();
            let details: Vec<String> = e
                .errors
                .iter()
                .map(|d| match d {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Object(o) => {
                        let get = |k: &str| o.get(k).and_then(|v| v.as_str()).unwrap_or("");
                        let m = get("message");
                        if !m.is_empty() {
                            m.to_string()
                        } else {
                            format!("{} {} {}", get("resource"), get("field"), get("code"))
                                .trim()
                                .to_string()
                        }
                    }
                    other => other.to_string(),
                })
                .collect();
            if !details.is_empty() {
                s = format!("{s} ({})", details.join("; "));
            }
            s
        }
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    };
    crate::report::clip(&text.split_whitespace().collect::<Vec<_>>().join(" "), 500)
}

fn rate_limit_hint(resp: &Response) -> String {
    if let Some(v) = resp.header("retry-after") {
        format!("GitHub rate-limited the token; retry after {v} seconds")
    } else if let Some(v) = resp.header("x-ratelimit-reset") {
        format!("GitHub rate-limited the token; it resets at {v} (epoch seconds)")
    } else {
        "GitHub rate-limited the token; retry later".to_string()
    }
}

/// What a non-2xx answer to `what` (e.g. "opening an issue") in `repository` means:
///
/// - 401, or 403 that is not a rate limit: [`Category::Authentication`], hint
///   [`TOKEN_HINT`];
/// - 403 with `x-ratelimit-remaining: 0` or a "rate limit" message, and 429:
///   [`Category::Network`], retryable (GitHub's primary and secondary rate limits);
/// - 404: [`Category::Configuration`] (wrong repository, or the token cannot see it);
/// - 410: [`Category::Configuration`] (issues are disabled in the repository);
/// - 422: [`Category::Validation`] with GitHub's error details;
/// - 5xx: [`Category::Network`], retryable;
/// - anything else: [`Category::Internal`].
///
/// 2xx is `Ok`.
pub fn check(what: &str, repository: &Repository, resp: &Response) -> Result<(), StageError> {
    let status = resp.status;
    if (200..300).contains(&status) {
        return Ok(());
    }
    let said = github_message(&resp.body);
    let message = format!("GitHub answered {status} {what} in {repository}: {said}");
    let rate_limited = status == 429
        || (status == 403
            && (resp.header("x-ratelimit-remaining") == Some("0")
                || said.to_ascii_lowercase().contains("rate limit")));
    Err(match status {
        _ if rate_limited => StageError::new(Category::Network, message)
            .retryable(true)
            .with_hint(rate_limit_hint(resp)),
        401 | 403 => StageError::new(Category::Authentication, message).with_hint(TOKEN_HINT),
        404 => StageError::config(message).with_hint(format!(
            "check the notify stage's repository (\"{repository}\") and api: the repository must \
             exist and the token must be able to see it"
        )),
        410 => StageError::config(message).with_hint(format!(
            "enable issues in {repository}'s settings, or point repository at one that has them"
        )),
        422 => StageError::validation(message),
        500..=599 => StageError::new(Category::Network, message).retryable(true),
        _ => StageError::internal(message),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
        Response {
            status,
            headers: headers
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    fn repo() -> Repository {
        Repository::parse("owner/name").unwrap()
    }

    #[test]
    fn answers_map_to_categories() {
        let c = |r: Response| check("opening an issue", &repo(), &r).unwrap_err();
        assert!(check("x", &repo(), &resp(201, &[], "{}")).is_ok());
        let e = c(resp(
            401,
            &[],
            r#"{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest","status":"401"}"#,
        ));
        assert_eq!(e.category, Category::Authentication);
        assert!(!e.retryable);
        assert!(e.message.contains("401") && e.message.contains("Bad credentials"));
        assert!(e.hint.unwrap().contains("issues: write"));
        let e = c(resp(
            403,
            &[("x-ratelimit-remaining", "1")],
            r#"{"message":"Resource not accessible by integration"}"#,
        ));
        assert_eq!(e.category, Category::Authentication);
        let e = c(resp(
            403,
            &[
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "1790000000"),
            ],
            r#"{"message":"API rate limit exceeded"}"#,
        ));
        assert_eq!((e.category, e.retryable), (Category::Network, true));
        assert!(e.hint.unwrap().contains("1790000000"));
        let e = c(resp(429, &[("retry-after", "60")], ""));
        assert_eq!((e.category, e.retryable), (Category::Network, true));
        assert!(e.hint.unwrap().contains("60 seconds"));
        let e = c(resp(404, &[], r#"{"message":"Not Found"}"#));
        assert_eq!(e.category, Category::Configuration);
        assert!(e.hint.unwrap().contains("\"owner/name\""));
        assert_eq!(
            c(resp(
                410,
                &[],
                r#"{"message":"Issues are disabled for this repo"}"#
            ))
            .category,
            Category::Configuration
        );
        let e = c(resp(
            422,
            &[],
            r#"{"message":"Validation Failed","errors":[{"resource":"Issue","code":"missing_field","field":"title"},{"resource":"Issue","code":"custom","field":"body","message":"body is too long (maximum is 65536 characters)"}]}"#,
        ));
        assert_eq!(e.category, Category::Validation);
        assert!(e.message.contains("Validation Failed (Issue title missing_field; body is too long (maximum is 65536 characters))"), "{}", e.message);
        let e = c(resp(502, &[], "<html>\n<b>Bad gateway</b></html>"));
        assert_eq!((e.category, e.retryable), (Category::Network, true));
        assert_eq!(c(resp(400, &[], "{}")).category, Category::Internal);
    }

    #[test]
    fn repositories_and_config_are_checked() {
        assert_eq!(repo().to_string(), "owner/name");
        for bad in [
            "owner", "/name", "owner/", "a/b/c", "own er/x", "../x", "o/..", "o/n?x",
        ] {
            assert_eq!(
                Repository::parse(bad).unwrap_err().category,
                Category::Configuration,
                "{bad}"
            );
        }
        struct Never;
        impl Transport for Never {
            fn send(
                &mut self,
                _: &Request,
                _: &mut dyn FnMut(u64, u64),
            ) -> Result<Response, StageError> {
                panic!("no request expected")
            }
        }
        let mut t = Never;
        for (api, label) in [
            ("ftp://x", "l"),
            ("https://x/?a", "l"),
            ("https://x", ""),
            ("https://x", "a,b"),
        ] {
            assert!(
                Notifier::new(api, repo(), label, &mut t).is_err(),
                "{api} {label}"
            );
        }
    }

    #[test]
    fn the_request_plan() {
        struct Never;
        impl Transport for Never {
            fn send(
                &mut self,
                _: &Request,
                _: &mut dyn FnMut(u64, u64),
            ) -> Result<Response, StageError> {
                unreachable!()
            }
        }
        let mut t = Never;
        let n = Notifier::new(
            "https://api.github.com/",
            repo(),
            "release failure/ü",
            &mut t,
        )
        .unwrap();
        let l = n.list_request();
        assert_eq!(l.method, "GET");
        assert_eq!(
            l.url,
            "https://api.github.com/repos/owner/name/issues?state=open&labels=release%20failure%2F%C3%BC&per_page=100"
        );
        for h in [
            ("accept", ACCEPT),
            ("x-github-api-version", "2022-11-28"),
            ("user-agent", USER_AGENT),
        ] {
            assert!(
                l.headers.contains(&(h.0.to_string(), h.1.to_string())),
                "{h:?}"
            );
        }
        let c = n.comment_request(7, "hi");
        assert_eq!(
            (c.method.as_str(), c.url.as_str()),
            (
                "POST",
                "https://api.github.com/repos/owner/name/issues/7/comments"
            )
        );
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&c.body).unwrap(),
            serde_json::json!({ "body": "hi" })
        );
        let o = n.open_request("t", "b");
        assert_eq!(o.url, "https://api.github.com/repos/owner/name/issues");
        assert!(
            o.headers
                .contains(&("content-type".into(), "application/json".into()))
        );
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&o.body).unwrap(),
            serde_json::json!({ "title": "t", "body": "b", "labels": ["release failure/ü"] })
        );
    }
}
