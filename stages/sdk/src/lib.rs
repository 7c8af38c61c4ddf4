//! The airlock stage SDK.
//!
//! A stage is one function, `fn(&Request) -> Result<serde_json::Value, StageError>`, exported
//! with [`export_stage!`]. This crate implements the `airlock:stage/stage` WIT world
//! (`wit/stage.wit`) around it: it decodes the host's request, encodes the output, maps
//! [`StageError`] to the WIT `stage-error`, and wraps the host imports ([`host`]) and
//! wasi:http ([`http`]).
//!
//! The same function compiles natively, where [`host`] records calls in memory (see
//! [`host::take_records`]) so stage logic is unit-tested with plain `cargo test`.
//!
//! ```ignore
//! fn run(req: &airlock_stage::Request) -> Result<serde_json::Value, airlock_stage::StageError> {
//!     #[derive(serde::Deserialize)]
//!     struct Config { greeting: String }
//!     let config: Config = req.config()?;
//!     airlock_stage::host::info(&config.greeting);
//!     Ok(serde_json::json!({ "said": config.greeting }))
//! }
//! airlock_stage::export_stage!(run);
//! ```

use std::collections::BTreeMap;
use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub mod host;
pub mod http;

#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "stage",
        path: "../../wit",
        pub_export_macro: true,
        export_macro_name: "export_bindings",
        default_bindings_module: "airlock_stage::bindings",
    });
}

/// Error categories of the WIT `error-category` enum (from the original system's error model).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// Credentials missing, rejected or expired.
    Authentication,
    /// Connection refused or reset, timeout, DNS.
    Network,
    /// Wrong input: bad version, malformed report, tag mismatch.
    Validation,
    /// Building a distribution failed.
    Build,
    /// The index refused or failed an upload.
    Upload,
    /// The stage's manifest config is wrong.
    Configuration,
    /// The sandbox refused a path, host or secret.
    Capability,
    /// A bug in the stage.
    Internal,
}

impl Category {
    /// The lowercase name used in the WIT enum, reports and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Authentication => "authentication",
            Category::Network => "network",
            Category::Validation => "validation",
            Category::Build => "build",
            Category::Upload => "upload",
            Category::Configuration => "configuration",
            Category::Capability => "capability",
            Category::Internal => "internal",
        }
    }
}

/// A stage failure: the WIT `stage-error` record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageError {
    /// What kind of failure this is.
    pub category: Category,
    /// What went wrong; never contains a secret.
    pub message: String,
    /// True when running the stage again, unchanged, may succeed.
    pub retryable: bool,
    /// What a person should do to fix it.
    pub hint: Option<String>,
}

impl StageError {
    /// A non-retryable error of `category` with no hint.
    pub fn new(category: Category, message: impl Into<String>) -> Self {
        StageError {
            category,
            message: message.into(),
            retryable: false,
            hint: None,
        }
    }
    /// Shorthand for [`Category::Configuration`].
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(Category::Configuration, message)
    }
    /// Shorthand for [`Category::Validation`].
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(Category::Validation, message)
    }
    /// Shorthand for [`Category::Internal`].
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(Category::Internal, message)
    }
    /// Adds the remediation a person should do.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    /// Marks the error retryable (or not).
    pub fn retryable(mut self, retryable: bool) -> Self {
        self.retryable = retryable;
        self
    }
    /// An I/O error on `path`, classified: a missing file or refused access inside the
    /// sandbox is a [`Category::Capability`] error when the path is outside every preopen,
    /// which WASI reports as "not found" or "permission denied". Grants are folders, so the
    /// hint names the folder to grant; when that folder is granted and the file is simply
    /// not there, it says so instead.
    pub fn io(path: &str, err: &std::io::Error) -> Self {
        use std::io::ErrorKind;
        let folder = std::path::Path::new(path)
            .parent()
            .map(|p| p.to_string_lossy().into_owned())
            .filter(|p| !p.is_empty() && p != "/")
            .unwrap_or_else(|| ".".into());
        let folder = folder.trim_start_matches("./");
        match err.kind() {
            ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem => Self::new(
                Category::Capability,
                format!("access to '{path}' was refused by the sandbox: {err}"),
            )
            .with_hint(format!(
                "grant its folder in the stage's [stage.grants] files: {{ path = \"{folder}\", access = \"write\" }}"
            )),
            ErrorKind::NotFound if std::fs::metadata(folder).is_ok_and(|m| m.is_dir()) => {
                Self::new(
                    Category::Capability,
                    format!("'{path}' does not exist (its folder '{folder}' is granted): {err}"),
                )
                .with_hint(
                    "check that the project folder (--project or [pipeline] project) is the right one and holds this file",
                )
            }
            ErrorKind::NotFound => Self::new(
                Category::Capability,
                format!("'{path}' is not there or not granted to this stage: {err}"),
            )
            .with_hint(format!(
                "check the path exists in the project and grant its folder in the stage's [stage.grants] files: {{ path = \"{folder}\", access = \"read\" }}"
            )),
            _ => Self::internal(format!("I/O error on '{path}': {err}")),
        }
    }
}

impl fmt::Display for StageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} error: {}", self.category.as_str(), self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

impl std::error::Error for StageError {}

/// What the host passes to a stage: the WIT `request`, decoded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Request {
    /// This stage's id in the manifest.
    pub stage_id: String,
    /// The stage's `config` table from the manifest, after `--set` overrides.
    pub config: serde_json::Value,
    /// Outputs of the stages this one `needs`, by stage id.
    pub inputs: BTreeMap<String, serde_json::Value>,
}

impl Request {
    /// A request for tests: `config` and no inputs.
    pub fn new(stage_id: &str, config: serde_json::Value) -> Self {
        Request {
            stage_id: stage_id.to_string(),
            config,
            inputs: BTreeMap::new(),
        }
    }

    /// Adds an upstream output (builder style, for tests).
    pub fn with_input(mut self, id: &str, output: serde_json::Value) -> Self {
        self.inputs.insert(id.to_string(), output);
        self
    }

    /// Decodes the config into `T`. A missing config is an empty object. Errors are
    /// [`Category::Configuration`] and name the field path and what was expected, e.g.
    /// "config.sdist: invalid type: string \"yes\", expected a boolean".
    pub fn config<T: DeserializeOwned>(&self) -> Result<T, StageError> {
        let value = match &self.config {
            serde_json::Value::Null => serde_json::Value::Object(Default::default()),
            v => v.clone(),
        };
        serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            let at = if path == "." {
                "config".to_string()
            } else {
                format!("config.{path}")
            };
            StageError::config(format!("stage '{}': {at}: {}", self.stage_id, e.inner()))
                .with_hint("fix the stage's `config` table in the manifest (or the --set value)")
        })
    }

    /// The output of upstream stage `id`, decoded into `T`; `None` when the stage is not an
    /// input (not in `needs`, or skipped). A decoding error is [`Category::Internal`]: the
    /// upstream stage broke its documented schema.
    pub fn input<T: DeserializeOwned>(&self, id: &str) -> Result<Option<T>, StageError> {
        match self.inputs.get(id) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(v) => serde_path_to_error::deserialize(v.clone()).map(Some).map_err(|e| {
                StageError::internal(format!(
                    "output of upstream stage '{id}' does not match the expected schema at {}: {}",
                    e.path(),
                    e.inner()
                ))
            }),
        }
    }

    /// The first input whose output decodes as `T` (for stages that accept any upstream of a
    /// kind, e.g. "the build stage, whatever its id"), with its id.
    pub fn find_input<T: DeserializeOwned>(&self) -> Option<(String, T)> {
        self.inputs.iter().find_map(|(id, v)| {
            serde_json::from_value(v.clone())
                .ok()
                .map(|t| (id.clone(), t))
        })
    }
}

/// The signature of a stage function.
pub type StageFn = fn(&Request) -> Result<serde_json::Value, StageError>;

#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod export_support {
    use super::*;
    use crate::bindings::airlock::stage::types as wit;

    fn category(c: Category) -> wit::ErrorCategory {
        match c {
            Category::Authentication => wit::ErrorCategory::Authentication,
            Category::Network => wit::ErrorCategory::Network,
            Category::Validation => wit::ErrorCategory::Validation,
            Category::Build => wit::ErrorCategory::Build,
            Category::Upload => wit::ErrorCategory::Upload,
            Category::Configuration => wit::ErrorCategory::Configuration,
            Category::Capability => wit::ErrorCategory::Capability,
            Category::Internal => wit::ErrorCategory::Internal,
        }
    }

    /// Decodes the WIT request, calls the stage, encodes its answer.
    pub fn call(f: StageFn, req: wit::Request) -> Result<wit::Response, wit::StageError> {
        let to_wit = |e: StageError| wit::StageError {
            category: category(e.category),
            message: e.message,
            retryable: e.retryable,
            hint: e.hint,
        };
        let parse = |what: &str, s: &str| {
            serde_json::from_str::<serde_json::Value>(s).map_err(|e| {
                to_wit(StageError::internal(format!(
                    "host sent invalid JSON in {what}: {e}"
                )))
            })
        };
        let mut request = Request {
            stage_id: req.stage_id,
            config: parse("config", &req.config)?,
            inputs: BTreeMap::new(),
        };
        for up in req.inputs {
            let v = parse(&format!("input '{}'", up.id), &up.output)?;
            request.inputs.insert(up.id, v);
        }
        let out = f(&request).map_err(to_wit)?;
        let output = serde_json::to_string(&out)
            .map_err(|e| to_wit(StageError::internal(format!("output is not JSON: {e}"))))?;
        Ok(wit::Response {
            output,
            artifacts: artifacts_of(&out),
        })
    }

    /// The WIT artifacts of an output: its `artifacts: [{ path, sha256, size }]` entries
    /// (the convention every built-in follows), in order; entries lacking a string `path` or
    /// `sha256` are not artifacts.
    fn artifacts_of(out: &serde_json::Value) -> Vec<wit::Artifact> {
        out.get("artifacts")
            .and_then(|a| a.as_array())
            .map(|list| {
                list.iter()
                    .filter_map(|a| {
                        Some(wit::Artifact {
                            path: a.get("path")?.as_str()?.to_string(),
                            sha256: a.get("sha256")?.as_str()?.to_string(),
                            size: a.get("size").and_then(|s| s.as_u64()).unwrap_or(0),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Exports a stage function as the component's `run`.
///
/// `$f` must be a `fn(&Request) -> Result<serde_json::Value, StageError>`. On targets other
/// than wasm32 the macro expands to nothing, so the crate still builds and tests natively.
#[macro_export]
macro_rules! export_stage {
    ($f:path) => {
        #[cfg(target_arch = "wasm32")]
        #[doc(hidden)]
        const __AIRLOCK_STAGE_FN: $crate::StageFn = $f;
        #[cfg(target_arch = "wasm32")]
        mod __airlock_stage_export {
            struct Component;
            impl $crate::bindings::Guest for Component {
                fn run(
                    request: $crate::bindings::airlock::stage::types::Request,
                ) -> ::core::result::Result<
                    $crate::bindings::airlock::stage::types::Response,
                    $crate::bindings::airlock::stage::types::StageError,
                > {
                    $crate::export_support::call(super::__AIRLOCK_STAGE_FN, request)
                }
            }
            $crate::bindings::export_bindings!(Component with_types_in $crate::bindings);
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Cfg {
        #[allow(dead_code)]
        sdist: bool,
    }

    #[test]
    fn config_errors_name_the_field_and_expected_type() {
        let req = Request::new("build", serde_json::json!({ "sdist": "yes" }));
        let err = req.config::<Cfg>().unwrap_err();
        assert_eq!(err.category, Category::Configuration);
        assert!(err.message.contains("config.sdist"), "{}", err.message);
        assert!(
            err.message.contains("expected a boolean"),
            "{}",
            err.message
        );
    }

    #[test]
    fn inputs_decode_or_report_the_upstream_stage() {
        let req = Request::new("x", serde_json::Value::Null)
            .with_input("decide", serde_json::json!({ "release": "maybe" }));
        #[derive(Debug, Deserialize)]
        struct Decision {
            #[allow(dead_code)]
            release: bool,
        }
        let err = req.input::<Decision>("decide").unwrap_err();
        assert!(err.message.contains("'decide'"));
        assert!(req.input::<Decision>("absent").unwrap().is_none());
    }
}
