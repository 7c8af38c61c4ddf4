//! The authenticate stage: takes an API token from a granted environment variable and hands
//! it to the host with `store-secret`, so that later stages (upload) get it injected into
//! their requests without ever seeing it.
//!
//! Config (all optional):
//! - `mode`: `"token"` (default). `"trusted"`, `"auto"` and `"aws"` are planned (trusted
//!   publishing is its own issue) and are refused with a configuration error for now.
//! - `env`: the environment variable holding the token, default `"PYPI_TOKEN"`; it must be
//!   granted in `[stage.grants] env`.
//! - `secret`: the secret name to store it under, default `"pypi-token"`; it must be listed
//!   in `grants.secrets.produce`.
//! - `optional`: default false. When true and the variable is unset, nothing is stored and
//!   (or empty) the output says `"stored": false` (for publishing to a `file:` index, which needs no
//!   credential, as the bundled demo does).
//!
//! Output: `{ "mode": "token", "secret": "<secret>", "source": "env:<env>", "stored": bool }`.
//! The token is never in the output or a log line.

// Natively `export_stage!` expands to nothing, so `run` is used only by the tests.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use airlock_stage::{Request, StageError, host};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default = "default_mode")]
    mode: String,
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
fn default_env() -> String {
    "PYPI_TOKEN".into()
}
fn default_secret() -> String {
    "pypi-token".into()
}

fn run(req: &Request) -> Result<serde_json::Value, StageError> {
    let config: Config = req.config()?;
    match config.mode.as_str() {
        "token" => {}
        "trusted" | "auto" | "aws" => {
            return Err(StageError::config(format!(
                "stage '{}': mode \"{}\" is not available yet",
                req.stage_id, config.mode
            ))
            .with_hint(format!(
                "use mode = \"token\" with an API token in a granted env var (env = \"{}\")",
                config.env
            )));
        }
        other => {
            return Err(StageError::config(format!(
                "stage '{}': config.mode: unknown mode \"{other}\"",
                req.stage_id
            ))
            .with_hint("allowed: \"token\" (\"trusted\", \"auto\" and \"aws\" are planned)"));
        }
    }
    if config.secret.trim().is_empty() {
        return Err(StageError::config(format!(
            "stage '{}': config.secret must not be empty",
            req.stage_id
        )));
    }
    let value = std::env::var(&config.env);
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
        let e = run(&Request::new(
            "auth",
            serde_json::json!({ "mode": "trusted" }),
        ))
        .unwrap_err();
        assert_eq!(e.category, Category::Configuration);
        assert!(e.hint.is_some());
        let e = run(&Request::new(
            "auth",
            serde_json::json!({ "mode": "magic" }),
        ))
        .unwrap_err();
        assert_eq!(e.category, Category::Configuration);
    }
}
