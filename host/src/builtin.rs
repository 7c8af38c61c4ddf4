//! The built-in stage components, embedded in the binary by build.rs (`builtin:NAME`):
//! each one's wasm bytes, their sha256, and the component precompiled for this engine
//! configuration ([`crate::engine::config`]) and the build target's baseline CPU.

/// One embedded built-in component.
pub struct Builtin {
    /// The name after `builtin:` (detect, decide, build, authenticate, upload, status,
    /// notify).
    pub name: &'static str,
    /// The component's wasm bytes (what `airlock audit` digests and what is compiled when
    /// the precompiled form cannot be used).
    pub wasm: &'static [u8],
    /// sha256 of `wasm`, lowercase hex.
    pub sha256: &'static str,
    /// `Engine::precompile_component` output for `wasm`, made by build.rs; empty when the
    /// build could not precompile (then the component is compiled at first use and cached).
    pub precompiled: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/builtins.rs"));

/// The built-in component `name`, if there is one.
pub fn get(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name == name)
}

/// The names of the built-in components, in pipeline order.
pub fn names() -> Vec<&'static str> {
    BUILTINS.iter().map(|b| b.name).collect()
}
