//! Manifest snapshots next to the grammar, as spin's `crates/manifest/tests/ui.rs` keeps
//! them (no wasmtime, no binary: `cargo test -p airlock-manifest`):
//! - every `tests/ui/errors/*.toml` is a broken manifest whose error (file, line, field and
//!   what is allowed) must equal the `.expected` beside it; tests/manifest_errors.rs checks
//!   that `airlock run` prints the same and exits 2;
//! - every manifest the repository ships (`examples/*/release.toml`) parses and resolves,
//!   and its validated form (`Debug`) must equal `tests/ui/ok/<example>.expected`.
//!
//! Paths in messages are written `<dir>/` (the errors folder, relative) and `<workspace>`
//! (the checkout, absolute). `UPDATE_SNAPSHOTS=1` rewrites the snapshots after a deliberate change;
//! review the diff.

use std::path::{Path, PathBuf};

use airlock_manifest::manifest;
use common::{builtins, workspace};

mod common;

/// `load` then `resolve`, as `airlock run` does.
fn load(path: &Path, builtins: &[&str]) -> Result<manifest::Manifest, String> {
    let mut m = manifest::load(path, None, builtins).map_err(|e| e.to_string())?;
    m.resolve().map_err(|e| e.to_string())?;
    Ok(m)
}

/// Compares `got` with the snapshot `file` (or rewrites it); a mismatch is pushed to
/// `mismatches`.
fn check(file: &Path, got: &str, mismatches: &mut Vec<String>) {
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(file, got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(file).unwrap_or_default();
    if got != want {
        mismatches.push(format!(
            "{}:\n  want: {want}\n  got:  {got}",
            file.display()
        ));
    }
}

#[test]
fn manifest_errors_match_their_snapshots() {
    let names = builtins();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let dir = Path::new("tests/ui/errors");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 20,
        "expected at least 20 cases, found {}",
        cases.len()
    );
    let mut mismatches = Vec::new();
    for case in &cases {
        let err = match load(case, &names) {
            Ok(_) => panic!("{} parsed, but it is a broken manifest", case.display()),
            Err(e) => e,
        };
        let got = format!("error: {err}\n")
            .replace("tests/ui/errors/", "<dir>/")
            .replace(&workspace().display().to_string(), "<workspace>");
        check(&case.with_extension("expected"), &got, &mut mismatches);
    }
    assert!(
        mismatches.is_empty(),
        "snapshot mismatches (UPDATE_SNAPSHOTS=1 to accept):\n{}",
        mismatches.join("\n")
    );
}

#[test]
fn the_shipped_manifests_parse_as_their_snapshots() {
    let names = builtins();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let ws = workspace();
    let mut examples: Vec<PathBuf> = std::fs::read_dir(ws.join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path().join("release.toml"))
        .filter(|p| p.is_file())
        .collect();
    examples.sort();
    assert!(examples.len() >= 4, "{examples:?}");
    std::fs::create_dir_all("tests/ui/ok").unwrap();
    let mut mismatches = Vec::new();
    for path in &examples {
        let m = load(path, &names).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let got = format!("{m:#?}\n").replace(&ws.display().to_string(), "<workspace>");
        let example = path
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy();
        check(
            &Path::new("tests/ui/ok").join(format!("{example}.expected")),
            &got,
            &mut mismatches,
        );
    }
    assert!(
        mismatches.is_empty(),
        "snapshot mismatches (UPDATE_SNAPSHOTS=1 to accept):\n{}",
        mismatches.join("\n")
    );
}
