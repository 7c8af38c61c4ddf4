//! The airlock manifest and the capabilities it grants, as a library free of wasmtime so
//! that it compiles in seconds and can be fuzzed (`fuzz/`, cargo fuzz).
//!
//! - [`manifest`]: the TOML pipeline manifest, parsed and validated with file, line and
//!   field in every error;
//! - [`capabilities`]: grant checks (paths, origins), credentials and secret redaction.
//!
//! The `airlock` host re-exports both modules as `airlock::manifest` and
//! `airlock::capabilities`, with `load`/`parse` bound to its own built-in components.

pub mod capabilities;
pub mod manifest;
