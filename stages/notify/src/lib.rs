//! The notify stage: after a failed run (`when = "failed"`), opens a GitHub issue with the
//! failure report, or comments on the open one it opened before for the same pipeline.
//! A thin adapter from the airlock:stage world to [`airlock_notify::run`], over wasi:http.
//!
//! Config (all optional): `repository` ("owner/name", default the failure report's),
//! `api` (default "https://api.github.com"), `label` (default "release-failure"), `title`
//! (a template; see `airlock_notify::report::title`).
//!
//! Grants it needs: `http = ["https://api.github.com"]` and the inject rule
//! `{ secret = "github-token", into = "https://api.github.com", as = "bearer" }`.
//!
//! Output: `{ "action": "opened" | "commented", "issue": <number>, "url": "<html_url>" }`.

use airlock_stage::{Request, StageError};

fn run(req: &Request) -> Result<airlock_notify::Outcome, StageError> {
    airlock_notify::run(req, &mut airlock_stage::http::SdkTransport)
}

airlock_stage::export_stage!(run);

#[cfg(test)]
mod tests {
    use super::*;
    use airlock_stage::Category;

    #[test]
    fn refuses_to_run_without_a_failure_report() {
        let e = run(&Request::new("notify", serde_json::json!({}))).unwrap_err();
        assert_eq!(e.category, Category::Configuration);
        assert!(e.hint.unwrap().contains("when = \"failed\""));
    }

    #[test]
    fn config_is_checked_before_any_request() {
        let failure = serde_json::json!({
            "pipeline": "p", "stage": "upload", "category": "network", "message": "m",
            "exit_code": 1, "timestamp": "2026-11-22T05:00:00Z", "repository": null
        });
        let e = run(
            &Request::new("notify", serde_json::json!({ "labels": "x" }))
                .with_input("failure", failure.clone()),
        )
        .unwrap_err();
        assert_eq!(e.category, Category::Configuration);
        assert!(e.message.contains("labels"), "{}", e.message);
        let e = run(&Request::new("notify", serde_json::json!({})).with_input("failure", failure))
            .unwrap_err();
        assert_eq!(e.category, Category::Configuration);
        assert!(e.message.contains("no repository"), "{}", e.message);
    }
}
