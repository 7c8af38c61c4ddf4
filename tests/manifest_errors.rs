//! The manifest error snapshots through the binary: every broken manifest of the manifest
//! crate's snapshots (host/manifest/tests/ui/errors/*.toml, checked there by
//! `cargo test -p airlock-manifest`) makes `airlock run` exit 2 and print exactly the
//! error in the `.expected` file beside it (the folder written `<dir>`).

mod common;

use std::process::Command;

#[test]
fn manifest_errors_match_their_snapshots() {
    let root = airlock_test_support::workspace();
    let dir = root.join("host/manifest/tests/ui/errors");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
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
        let rel = case.strip_prefix(&root).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_airlock"))
            .current_dir(&root)
            .arg("run")
            .arg(rel)
            .env("AIRLOCK_CACHE_DIR", common::cache_dir())
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{}: {}",
            rel.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let got = String::from_utf8_lossy(&out.stderr)
            .replace("host/manifest/tests/ui/errors/", "<dir>/")
            .replace(&root.display().to_string(), "<workspace>");
        let expected_file = case.with_extension("expected");
        let want = std::fs::read_to_string(&expected_file).unwrap_or_default();
        if got != want {
            mismatches.push(format!("{}:\n  want: {want}  got:  {got}", rel.display()));
        }
    }
    assert!(
        mismatches.is_empty(),
        "the binary says something else than the manifest crate's snapshots:\n{}",
        mismatches.join("\n")
    );
}
