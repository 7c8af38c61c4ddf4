//! `airlock version`: prints the version as the build stage reads it, and bumps it keeping
//! pyproject.toml's formatting and comments, in the hatch version file for dynamic versions,
//! and in the manifest's `version_files`; refuses an invalid or lower version.

mod common;

use std::path::Path;

use common::{airlock, copy_tree};

fn version(args: &[&str]) -> (Option<i32>, String, String) {
    let out = airlock(args, &[]);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn prints_and_bumps_a_static_version_keeping_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("demo");
    copy_tree(&airlock_test_support::workspace().join("examples/demo"), &p);
    let pyproject = p.join("pyproject.toml");
    let before = std::fs::read_to_string(&pyproject).unwrap().replace(
        "version = \"0.1.0\"",
        "version = \"0.1.0\"   # bumped by airlock",
    );
    std::fs::write(&pyproject, &before).unwrap();
    let dir = p.to_str().unwrap();

    assert_eq!(
        version(&["version", "--project", dir]),
        (Some(0), "0.1.0".into(), String::new())
    );
    let (code, out, _) = version(&["version", "--project", dir, "--bump", "patch"]);
    assert_eq!((code, out.as_str()), (Some(0), "0.1.1"));
    let after = std::fs::read_to_string(&pyproject).unwrap();
    assert_eq!(
        after,
        before.replace("version = \"0.1.0\"", "version = \"0.1.1\""),
        "only the version changed"
    );
    assert_eq!(
        version(&["version", "--project", dir, "--bump", "minor"]).1,
        "0.2.0"
    );
    assert_eq!(
        version(&["version", "--project", dir, "--bump", "1.0.0rc1"]).1,
        "1.0.0rc1"
    );

    // Lower or invalid versions are refused, and nothing is written.
    let (code, _, err) = version(&["version", "--project", dir, "--bump", "0.9.0"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("not higher"), "{err}");
    let (code, _, err) = version(&["version", "--project", dir, "--bump", "one.two"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("PEP 440"), "{err}");
    assert!(
        std::fs::read_to_string(&pyproject)
            .unwrap()
            .contains("version = \"1.0.0rc1\"   # bumped by airlock")
    );
}

#[test]
fn bumps_a_dynamic_version_and_the_manifest_version_files() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path();
    std::fs::create_dir_all(p.join("src/pkg")).unwrap();
    std::fs::write(
        p.join("pyproject.toml"),
        "[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n\n[project]\nname = \"pkg\"\ndynamic = [\"version\"]\n\n[tool.hatch.version]\npath = \"src/pkg/__init__.py\"\n",
    )
    .unwrap();
    std::fs::write(
        p.join("src/pkg/__init__.py"),
        "\"\"\"pkg.\"\"\"\n\n__version__ = \"2.3.4\"\n",
    )
    .unwrap();
    std::fs::write(
        p.join("src/pkg/_meta.py"),
        "VERSION = '2.3.4'  # kept in step\n",
    )
    .unwrap();
    std::fs::write(p.join("release.toml"), "[pipeline]\nname = \"pkg\"\nversion_files = [\"src/pkg/_meta.py\"]\n\n[[stage]]\nid = \"detect\"\ncomponent = \"builtin:detect\"\n").unwrap();
    let manifest = p.join("release.toml");
    let (code, out, err) = version(&[
        "version",
        "--manifest",
        manifest.to_str().unwrap(),
        "--bump",
        "major",
    ]);
    assert_eq!((code, out.as_str()), (Some(0), "3.0.0"), "{err}");
    assert_eq!(
        std::fs::read_to_string(p.join("src/pkg/__init__.py")).unwrap(),
        "\"\"\"pkg.\"\"\"\n\n__version__ = \"3.0.0\"\n"
    );
    assert_eq!(
        std::fs::read_to_string(p.join("src/pkg/_meta.py")).unwrap(),
        "VERSION = '3.0.0'  # kept in step\n"
    );
    assert_eq!(
        version(&["version", "--project", p.to_str().unwrap()]).1,
        "3.0.0"
    );
    assert!(Path::new(&p.join("pyproject.toml")).exists());
}
