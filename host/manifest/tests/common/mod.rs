//! Shared by the manifest crate's tests.

use std::path::{Path, PathBuf};

/// The workspace root (two levels above this crate).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The built-in component names: the workspace's `stages/*` packages named `stage-NAME`
/// (what host/build.rs embeds).
pub fn builtins() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(workspace().join("stages"))
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("Cargo.toml")).ok())
        .filter_map(|toml| {
            let line = toml.lines().find(|l| l.starts_with("name = "))?;
            let name = line.trim_start_matches("name = ").trim_matches('"');
            name.strip_prefix("stage-").map(str::to_string)
        })
        .collect();
    names.sort();
    assert!(names.len() >= 7, "built-in stages found: {names:?}");
    names
}
