//! Security findings and the domain logic of three airlock stages, as a plain Rust library
//! that compiles natively (unit tests) and for wasm32-wasip2 (the stage components).
//!
//! - [`detect`]: read pip-audit, bandit, gitleaks and OSV-Scanner JSON and SARIF 2.1.0
//!   reports from a current scan folder and a baseline (a previous folder or the last run's
//!   state) and report findings and changes ([`reports`] has the formats and the severity
//!   policy);
//! - [`decide`]: the release decision matrix, the project version from pyproject.toml and
//!   its PEP 440 and tag checks;
//! - [`status`]: the security status folder (index.json in the original schema, history,
//!   HTML page, shields.io badges).
//!
//! Files are read and written with `std::fs` on the paths given; in a component those are
//! guest paths under the stage's preopened directories.

pub mod decide;
pub mod detect;
pub mod error;
pub mod model;
pub mod reports;
pub mod status;

pub use decide::{DecideOptions, Decision, Project, Trigger, decide, read_project};
pub use decide::{Gates, IndexAnswer, Thresholds};
pub use detect::{
    Baseline, DetectOptions, DetectOutput, compare, detect, detect_with, read_scan, read_scan_with,
};
pub use error::{Error, Result};
pub use model::{Changes, DetectReport, Finding, Severity, SeverityChange, Summary, Tool};
pub use reports::{Override, ReportGlobs, SeverityPolicy, load_overrides};
pub use status::{StatusOptions, StatusOutput, grade, parse_now, write_status};
