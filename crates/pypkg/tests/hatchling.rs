//! Conformance against hatchling itself on small handwritten projects (src layout with
//! dynamic version, flat layout, single module): the wheel members (names, order, modes,
//! contents, RECORD), the zip central directory (modulo compressed sizes) and the
//! uncompressed sdist tar stream must equal hatchling 1.27's.
//!
//! Needs a Python with hatchling 1.27.0 (`airlock_test_support::hatchling_python`:
//! `$AIRLOCK_HATCHLING_PYTHON`, else `python3`); fails with the install instruction without
//! one.

use std::io::Read;
use std::path::Path;
use std::process::Command;

use airlock_pypkg::{BuildOptions, Project};
use airlock_test_support::{HATCHLING_VERSION, hatchling_python};

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

#[cfg(unix)]
fn make_executable(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o775)).unwrap();
}
#[cfg(not(unix))]
fn make_executable(_: &Path) {}

fn src_project(root: &Path) {
    write(
        root,
        "pyproject.toml",
        r#"[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "Src_Layout.Pkg"
dynamic = ["version"]
description = """Two
lines"""
readme = "README.rst"
license = "MIT OR Apache-2.0"
requires-python = ">= 3.9, <4"
authors = [{ name = "J. Doe", email = "j@example.org" }, { name = "Solo" }, { email = "only@example.org" }]
maintainers = [{ name = "Mia", email = "mia@example.org" }]
keywords = ["zeta", "alpha", "alpha"]
classifiers = [
  "Programming Language :: Python :: 3.10",
  "Programming Language :: Python :: 3.9",
  "Private :: Do Not Upload",
  "Development Status :: 4 - Beta",
]
dependencies = ["Requests >= 2.0, <3", "tomli>=2 ; python_version < '3.11'", "attrs"]

[project.optional-dependencies]
Dev_Tools = ["pytest (>=8)", "coverage[toml]; sys_platform == 'linux'"]
docs = ["sphinx @ https://example.org/sphinx-7.0-py3-none-any.whl"]

[project.urls]
Source = "https://example.org/src"
Docs = "https://example.org/docs"

[project.scripts]
zz-cli = "src_layout_pkg.cli:main"
aa-cli = "src_layout_pkg.cli:main"

[project.gui-scripts]
gui = "src_layout_pkg.cli:gui"

[project.entry-points."pkg.plugins"]
b = "src_layout_pkg.plugins:b"
a = "src_layout_pkg.plugins:a"

[tool.hatch.version]
path = "src/src_layout_pkg/__about__.py"

[tool.hatch.metadata]
allow-direct-references = true

[tool.hatch.build.targets.wheel]
packages = ["src/src_layout_pkg"]
"#,
    );
    write(
        root,
        "README.rst",
        "Src layout\r\n==========\r\n\r\nText.\r\n",
    );
    write(root, "LICENSE.txt", "MIT License\n");
    write(root, "NOTICE", "Notice\n");
    write(root, ".gitignore", "*.log\nbuild/\n/scratch\n!keep.log\n");
    write(
        root,
        "src/src_layout_pkg/__init__.py",
        "from .__about__ import __version__\n",
    );
    write(
        root,
        "src/src_layout_pkg/__about__.py",
        "__version__ = \"1.2.0-RC1\"\n",
    );
    write(
        root,
        "src/src_layout_pkg/cli.py",
        "def main(): pass\ndef gui(): pass\n",
    );
    write(root, "src/src_layout_pkg/py.typed", "");
    write(root, "src/src_layout_pkg/data/table.csv", "a,b\n1,2\n");
    write(root, "src/src_layout_pkg/sub/__init__.py", "");
    write(
        root,
        "src/src_layout_pkg/sub/run.sh",
        "#!/bin/sh\necho hi\n",
    );
    make_executable(&root.join("src/src_layout_pkg/sub/run.sh"));
    write(
        root,
        "src/src_layout_pkg/__pycache__/x.cpython-311.pyc",
        "junk",
    );
    write(root, "src/src_layout_pkg/debug.log", "ignored\n");
    write(root, "src/src_layout_pkg/keep.log", "kept\n");
    write(root, "build/lib/old.py", "ignored\n");
    write(root, "scratch/notes.txt", "ignored\n");
    write(root, "tests/test_x.py", "def test(): pass\n");
    write(root, "dist/old.whl", "ignored\n");
}

fn flat_project(root: &Path) {
    write(
        root,
        "pyproject.toml",
        r#"[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "flatpkg"
version = "0.1"
readme = { file = "README.md", content-type = "text/markdown" }
license = { text = "BSD\nsecond line" }

[tool.hatch.build.targets.sdist]
exclude = ["/docs/private"]
"#,
    );
    write(root, "README.md", "# flat\n");
    write(root, "COPYING", "copying\n");
    write(root, "flatpkg/__init__.py", "");
    write(root, "flatpkg/mod.py", "X = 1\n");
    write(root, "docs/index.md", "docs\n");
    write(root, "docs/private/secret.md", "no\n");
    write(root, "notes.txt", "root file\n");
}

fn module_project(root: &Path) {
    write(
        root,
        "pyproject.toml",
        "[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n\n\
         [project]\nname = \"single-mod\"\nversion = \"2.0.post1\"\nrequires-python = \"<3\"\n",
    );
    write(root, "single_mod.py", "print('hi')\n");
}

/// (name, mode, content) of every zip member, in order.
fn zip_members(bytes: &[u8]) -> Vec<(String, u32, Vec<u8>)> {
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    (0..z.len())
        .map(|i| {
            let mut f = z.by_index(i).unwrap();
            let mut data = Vec::new();
            f.read_to_end(&mut data).unwrap();
            (
                f.name().unwrap().to_string(),
                f.unix_mode().unwrap_or(0),
                data,
            )
        })
        .collect()
}

fn central_directory(z: &[u8]) -> Vec<Vec<u8>> {
    let eocd = z.len() - 22;
    let size = u32::from_le_bytes(z[eocd + 12..eocd + 16].try_into().unwrap()) as usize;
    let off = u32::from_le_bytes(z[eocd + 16..eocd + 20].try_into().unwrap()) as usize;
    let mut rows = Vec::new();
    let mut p = off;
    while p < off + size {
        let n = u16::from_le_bytes(z[p + 28..p + 30].try_into().unwrap()) as usize;
        let mut row = z[p..p + 46 + n].to_vec();
        row[20..24].fill(0);
        row[42..46].fill(0);
        rows.push(row);
        p += 46 + n;
    }
    rows
}

fn gunzip(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(b)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn compare(make: fn(&Path), expected_wheel: &str) {
    let python = hatchling_python();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("proj");
    make(&root);
    let epoch = 1_700_000_123i64;
    let out = tmp.path().join("hatch-out");
    let status = Command::new(&python)
        .current_dir(&root)
        .env("SOURCE_DATE_EPOCH", epoch.to_string())
        .args([
            "-c",
            "import sys\nfrom hatchling.builders.sdist import SdistBuilder\n\
             from hatchling.builders.wheel import WheelBuilder\n\
             list(SdistBuilder('.').build(directory=sys.argv[1]))\n\
             list(WheelBuilder('.').build(directory=sys.argv[1]))\n",
        ])
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success(), "hatchling failed");

    let project = Project::load(&root).unwrap();
    let options = BuildOptions {
        source_date_epoch: epoch,
        generator: format!("hatchling {HATCHLING_VERSION}"),
        // hatchling's level (the default is 6): the gzip header's XFL byte says 9.
        sdist_gzip_level: 9,
    };
    let (wheel_name, ours) = airlock_pypkg::wheel_bytes(&project, &options).unwrap();
    assert_eq!(wheel_name, expected_wheel);
    let theirs = std::fs::read(out.join(&wheel_name)).unwrap_or_else(|e| {
        let listing: Vec<_> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        panic!("hatchling did not write {wheel_name} ({e}); it wrote {listing:?}")
    });
    let (a, b) = (zip_members(&ours), zip_members(&theirs));
    let names = |m: &[(String, u32, Vec<u8>)]| m.iter().map(|x| x.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(&a), names(&b), "wheel member list");
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(
            (x.1, String::from_utf8_lossy(&x.2)),
            (y.1, String::from_utf8_lossy(&y.2)),
            "member {}",
            x.0
        );
    }
    assert_eq!(
        central_directory(&ours),
        central_directory(&theirs),
        "zip headers"
    );

    let (sdist_name, ours) = airlock_pypkg::sdist_bytes(&project, &options).unwrap();
    let theirs = std::fs::read(out.join(&sdist_name)).unwrap();
    let (ta, tb) = (gunzip(&ours), gunzip(&theirs));
    let list = |t: &[u8]| {
        tar::Archive::new(t)
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(list(&ta), list(&tb), "sdist member list");
    assert!(
        ta == tb,
        "uncompressed sdist tar stream differs from hatchling's"
    );
    assert_eq!(&ours[..10], &theirs[..10], "gzip header");
}

#[test]
fn src_layout_with_dynamic_version_matches_hatchling() {
    compare(src_project, "src_layout_pkg-1.2.0rc1-py3-none-any.whl");
}

#[test]
fn flat_layout_matches_hatchling() {
    compare(flat_project, "flatpkg-0.1-py2.py3-none-any.whl");
}

#[test]
fn single_module_matches_hatchling() {
    compare(module_project, "single_mod-2.0.post1-py2-none-any.whl");
}

#[test]
fn builds_are_reproducible_and_follow_source_date_epoch() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    src_project(a.path());
    src_project(b.path());
    // Different mtimes on the second copy must not matter.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    write(
        b.path(),
        "src/src_layout_pkg/cli.py",
        "def main(): pass\ndef gui(): pass\n",
    );
    let opts = BuildOptions::default();
    let pa = Project::load(a.path()).unwrap();
    let pb = Project::load(b.path()).unwrap();
    assert_eq!(
        airlock_pypkg::wheel_bytes(&pa, &opts).unwrap(),
        airlock_pypkg::wheel_bytes(&pb, &opts).unwrap()
    );
    assert_eq!(
        airlock_pypkg::sdist_bytes(&pa, &opts).unwrap(),
        airlock_pypkg::sdist_bytes(&pb, &opts).unwrap()
    );

    let (_, w1) = airlock_pypkg::wheel_bytes(&pa, &opts).unwrap();
    let later = BuildOptions {
        source_date_epoch: 1_700_000_000, // 2023-11-14 22:13:20 UTC
        ..BuildOptions::default()
    };
    let (_, w2) = airlock_pypkg::wheel_bytes(&pa, &later).unwrap();
    assert_ne!(w1, w2);
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(w2)).unwrap();
    for i in 0..z.len() {
        let f = z.by_index(i).unwrap();
        let t = f.last_modified().unwrap();
        assert_eq!(
            (
                t.year(),
                t.month(),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            ),
            (2023, 11, 14, 22, 13, 20)
        );
    }
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(w1)).unwrap();
    let t = z.by_index(0).unwrap().last_modified().unwrap();
    assert_eq!(
        (t.year(), t.month(), t.day()),
        (2020, 2, 2),
        "hatchling's default timestamp"
    );

    let (_, s2) = airlock_pypkg::sdist_bytes(&pa, &later).unwrap();
    assert_eq!(
        &s2[4..8],
        &1_700_000_000u32.to_le_bytes(),
        "gzip header mtime"
    );
    let tar_bytes = gunzip(&s2);
    for e in tar::Archive::new(&tar_bytes[..]).entries().unwrap() {
        let h = e.unwrap().header().clone();
        assert_eq!(h.mtime().unwrap(), 1_700_000_000);
        assert_eq!((h.uid().unwrap(), h.gid().unwrap()), (0, 0));
        assert_eq!(h.username().unwrap(), Some(""));
    }
}

#[test]
fn unsupported_projects_name_what_is_unsupported() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(root, "setup.py", "from setuptools import setup\nsetup()\n");
    let err = Project::load(root).unwrap_err().to_string();
    assert!(err.contains("setup.py"), "{err}");

    write(
        root,
        "pyproject.toml",
        "[build-system]\nbuild-backend = \"setuptools.build_meta\"\n[project]\nname = \"x\"\nversion = \"1\"\n",
    );
    let err = Project::load(root).unwrap_err().to_string();
    assert!(err.contains("setuptools.build_meta"), "{err}");

    write(
        root,
        "pyproject.toml",
        "[build-system]\nbuild-backend = \"hatchling.build\"\n[project]\nname = \"x\"\nversion = \"1\"\n\
         [tool.hatch.build.targets.wheel.hooks.mypyc]\ndependencies = [\"hatch-mypyc\"]\n",
    );
    let err = Project::load(root).unwrap_err().to_string();
    assert!(err.contains("hooks") && err.contains("mypyc"), "{err}");

    write(
        root,
        "pyproject.toml",
        "[build-system]\nbuild-backend = \"hatchling.build\"\n[project]\nname = \"x\"\ndynamic = [\"version\"]\n\
         [tool.hatch.version]\nsource = \"vcs\"\n",
    );
    let err = airlock_pypkg::project_version(root)
        .unwrap_err()
        .to_string();
    assert!(err.contains("vcs"), "{err}");
}
