//! airlock: runs a Python release pipeline whose stages are WebAssembly components
//! (WASI 0.2, the `airlock:stage` WIT world in `crates/stage/wit/`) in a capability sandbox.
//!
//! The host is split by concern:
//! - [`manifest`]: the TOML pipeline manifest, parsed and validated (the grammar is the
//!   wasmtime-free crate `airlock-manifest`, bound here to the built-in components);
//! - [`capabilities`]: grant checks (paths, origins), credentials and secret redaction
//!   (re-exported from `airlock-manifest`);
//! - [`engine`]: the wasmtime engine configuration (shared with the build script);
//! - [`runtime`]: wasmtime engine, compile cache and the per-stage sandbox;
//! - [`pipeline`]: the DAG, `when`, on-failure stages, concurrency, `--only`;
//! - [`state`]: the verified state folder one job hands to the next;
//! - [`hostfs`]: the host's own file access, through handles that never follow a link;
//! - [`secrets`]: the run's secret store and its redactor;
//! - [`encode`]: stage text encoded for the terminal, GitHub workflow commands, the step
//!   summary and step outputs;
//! - [`report`]: progress, summaries and the JSON run report;
//! - [`audit`]: imports versus grants;
//! - [`buildmode`]: the build stage's `mode`: the native builder or the sandboxed PEP 517
//!   build (the pep517 component), bound before anything runs;
//! - [`lockbuild`]: `airlock lock-build`, the PEP 751 lock of the build requirements;
//! - [`scaffold`]: `airlock new-stage`, a new stage crate;
//! - [`version`]: `airlock version`, printing and bumping the project version;
//! - [`diagnostics`]: the host's own diagnostics (`tracing`, filtered by `AIRLOCK_LOG`);
//! - [`cli`]: the command line.

pub mod audit;
pub mod buildmode;
pub mod builtin;
pub mod encode;
pub mod engine;
pub mod hostfs;
pub mod lockbuild;
pub use airlock_manifest::capabilities;
pub mod cli;
pub mod diagnostics;
pub mod manifest;
pub mod pipeline;
pub mod report;
pub mod runtime;
pub mod scaffold;
pub mod secrets;
pub mod state;
pub mod verify;
pub mod version;
