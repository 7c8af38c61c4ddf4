//! Failure notification for airlock: the domain logic of the `notify` stage, as a plain
//! library that compiles natively (tested against a local stand-in of GitHub's issues API)
//! and for wasm32-wasip2 (the `stage-notify` component is a thin adapter over [`run`]).
//!
//! The stage runs only after a failure (`when = "failed"`): the host passes the run's
//! failure report ([`FailureReport`]) as the input with id `failure`. The stage opens a
//! GitHub issue for it, or comments on the open issue it opened before for the same
//! pipeline, through the GitHub REST API ([`github`]). It never sees the token: the host
//! injects it (`{ secret = "github-token", into = "https://api.github.com", as = "bearer" }`).
//!
//! Config (all optional; unknown keys are refused):
//! - `repository`: `"owner/name"`; default the failure report's `repository`
//!   (`GITHUB_REPOSITORY` on Actions). Neither → a configuration error.
//! - `api`: the REST API base URL, default `"https://api.github.com"` (GitHub Enterprise:
//!   `https://HOST/api/v3`). Its origin must be granted in `grants.http`.
//! - `label`: the label that marks the stage's issues, default `"release-failure"`.
//! - `title`: the issue title template, default [`report::DEFAULT_TITLE`]; placeholders in
//!   [`report::title`].
//!
//! Output: `{ "action": "opened" | "commented", "issue": <number>, "url": "<html_url>" }`
//! (the issue's page when opened, the comment's page when commented).
//!
//! Errors: 401/403 → authentication (hint: the token needs `issues: write`), 404/410 →
//! configuration, 422 → validation, rate limits, 5xx and transport failures → retryable
//! network; see [`github::check`].
//!
//! - [`report`]: the failure report and its Markdown rendering.
//! - [`github`]: the request plan and answer classification, over the SDK's [`Transport`].

pub mod github;
pub mod report;

use airlock_stage::http::Transport;
use airlock_stage::{Request, StageError, host};
use serde::Deserialize;

pub use github::{Action, Notifier, Outcome, Repository};
pub use report::FailureReport;

/// The id of the input that carries the failure report.
pub const FAILURE_INPUT: &str = "failure";
/// The default `api`.
pub const DEFAULT_API: &str = "https://api.github.com";
/// The default `label`.
pub const DEFAULT_LABEL: &str = "release-failure";

/// The stage's `config` table (see the crate docs).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `owner/name`; default the failure report's `repository`.
    #[serde(default)]
    pub repository: Option<String>,
    /// The API base URL.
    #[serde(default = "default_api")]
    pub api: String,
    /// The label of the stage's issues.
    #[serde(default = "default_label")]
    pub label: String,
    /// The title template.
    #[serde(default)]
    pub title: Option<String>,
}

fn default_api() -> String {
    DEFAULT_API.into()
}
fn default_label() -> String {
    DEFAULT_LABEL.into()
}

/// The whole stage: decodes the config and the `failure` input, opens or comments on the
/// issue through `transport`, logs what it did, and returns the output JSON.
///
/// Errors: no `failure` input ([`airlock_stage::Category::Configuration`]: the stage is
/// not `when = "failed"`), a malformed one ([`airlock_stage::Category::Internal`]), bad
/// config, and the API errors of [`github::check`].
pub fn run(req: &Request, transport: &mut dyn Transport) -> Result<Outcome, StageError> {
    let config: Config = req.config()?;
    let report: FailureReport = req.input(FAILURE_INPUT)?.ok_or_else(|| {
        StageError::config(format!(
            "stage '{}' has no failure report (input \"{FAILURE_INPUT}\"): it runs only after a failure",
            req.stage_id
        ))
        .with_hint("set when = \"failed\" on the notify stage in the manifest")
    })?;
    let repository = match config
        .repository
        .as_deref()
        .or(report.repository.as_deref())
    {
        Some(r) => Repository::parse(r)?,
        None => {
            return Err(StageError::config(format!(
                "stage '{}': no repository to open the issue in",
                req.stage_id
            ))
            .with_hint(
                "set repository = \"owner/name\" in the stage's config (on GitHub Actions the \
                 failure report carries GITHUB_REPOSITORY)",
            ));
        }
    };
    let title = report::title(config.title.as_deref(), &report)?;
    let mut notifier = Notifier::new(&config.api, repository, &config.label, transport)?;
    let outcome = notifier.notify(&report, &title)?;
    for w in &outcome.warnings {
        host::warn(w);
    }
    host::info(&format!(
        "{} issue #{} in {}: {}",
        match outcome.action {
            Action::Opened => "opened",
            Action::Commented => "commented on",
        },
        outcome.issue,
        notifier.repository,
        outcome.url
    ));
    Ok(outcome)
}
