//! The wasmtime engine configuration, in one place for the two that must agree on it: the
//! runtime ([`crate::runtime::Runtime`]) and the build script (`host/build.rs` includes this
//! file to precompile the built-in components with `Engine::precompile_component`).
//! wasmtime refuses a precompiled component whose engine settings differ (an error, which
//! the runtime answers by compiling the component itself).

/// The engine configuration: wasmtime's defaults (Cranelift, the component model, wasm
/// SIMD) with epoch interruption on, which the runtime's stage timeouts need.
pub fn config() -> wasmtime::Config {
    let mut config = wasmtime::Config::new();
    config.epoch_interruption(true);
    config
}
