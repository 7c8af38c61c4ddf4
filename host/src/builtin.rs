//! The built-in stage components, embedded in the binary by build.rs (`builtin:NAME`).

include!(concat!(env!("OUT_DIR"), "/builtins.rs"));

/// The wasm bytes of built-in component `name` (detect, decide, build, authenticate,
/// upload, status), if there is one.
pub fn get(name: &str) -> Option<&'static [u8]> {
    BUILTINS.iter().find(|(n, _)| *n == name).map(|(_, b)| *b)
}

/// The names of the built-in components, in pipeline order.
pub fn names() -> Vec<&'static str> {
    BUILTINS.iter().map(|(n, _)| *n).collect()
}
