//! flit_core semantics against flit_core 3.12.0 itself on a handwritten project that uses
//! what real projects use less often: src layout, dynamic version and description from the
//! module, scripts, gui-scripts, entry points, extras with markers, a license table file,
//! an executable file, `[tool.flit.sdist]` include/exclude (with hidden files); the wheel's
//! members, modes, METADATA, RECORD and the uncompressed sdist tar stream must be equal.
//! Also: what is not supported is named (pdm-backend, a computed `__version__`).

use std::io::Read;
use std::path::Path;
use std::process::Command;

use airlock_pypkg::{BuildOptions, Buildable, Error};

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn project(root: &Path) {
    write(
        root,
        "pyproject.toml",
        r#"[build-system]
requires = ["flit_core >=3.12,<4"]
build-backend = "flit_core.buildapi"

[project]
name = "Flit.Demo"
dynamic = ["version", "description"]
readme = "README.rst"
license = { file = "COPYING.txt" }
requires-python = ">=3.9"
authors = [{ name = "J. Doe", email = "j@example.org" }, { name = "Solo" }]
maintainers = [{ email = "m@example.org" }]
keywords = ["zeta", "alpha"]
classifiers = ["Programming Language :: Python :: 3", "Development Status :: 4 - Beta"]
dependencies = ["Requests >= 2.0, <3", "tomli>=2 ; python_version < '3.11'"]

[project.optional-dependencies]
Dev_Tools = ["pytest (>=8)", "coverage[TOML,Extra_X]; sys_platform == 'linux'"]
docs = ["sphinx"]

[project.urls]
Source = "https://example.org/src"
Docs = "https://example.org/docs"

[project.scripts]
zz-cli = "flit_demo.cli:main"
aa-cli = "flit_demo.cli:main"

[project.gui-scripts]
gui = "flit_demo.cli:gui"

[project.entry-points."demo.plugins"]
b = "flit_demo.plugins:b"
a = "flit_demo.plugins:a"

[tool.flit.module]
name = "flit_demo"

[tool.flit.sdist]
include = ["docs/", "tests/*.py", "CHANGES.rst"]
exclude = ["docs/private", "**/*.log"]
"#,
    );
    write(
        root,
        "README.rst",
        "Flit demo\r\n=========\r\n\r\nText.\r\n",
    );
    write(root, "COPYING.txt", "MIT\n");
    write(
        root,
        "LICENSE",
        "found by the default globs too, next to the license table file\n",
    );
    write(root, "CHANGES.rst", "1.0\n");
    write(
        root,
        "src/flit_demo/__init__.py",
        "# comment\n\"\"\"\n    The flit demo.\n\n    Longer text.\n\"\"\"\n__version__ = \"1.0.0-RC1\"\n",
    );
    write(
        root,
        "src/flit_demo/_version.py",
        "__version__ = '1.0.0-RC2'\n",
    );
    write(
        root,
        "src/flit_demo/cli.py",
        "def main(): pass\ndef gui(): pass\n",
    );
    write(root, "src/flit_demo/data/table.csv", "a,b\n");
    write(root, "src/flit_demo/sub/__init__.py", "");
    write(root, "src/flit_demo/sub/run.sh", "#!/bin/sh\n");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let p = root.join("src/flit_demo/sub/run.sh");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o775)).unwrap();
    }
    write(root, "src/flit_demo/__pycache__/x.cpython-311.pyc", "junk");
    write(root, "docs/index.rst", "docs\n");
    write(root, "docs/.hidden", "kept: under an included directory\n");
    write(root, "docs/build.log", "excluded\n");
    write(root, "docs/private/secret.txt", "excluded\n");
    write(root, "tests/test_a.py", "\n");
    write(root, "tests/.test_hidden.py", "not matched by a wildcard\n");
    write(root, "tests/data.txt", "not matched\n");
    write(root, "other.txt", "not in the sdist\n");
}

fn zip_members(bytes: &[u8]) -> Vec<(String, u32, Vec<u8>)> {
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    (0..z.len())
        .map(|i| {
            let mut f = z.by_index(i).unwrap();
            let mut d = Vec::new();
            f.read_to_end(&mut d).unwrap();
            (f.name().unwrap().to_string(), f.unix_mode().unwrap_or(0), d)
        })
        .collect()
}

fn gunzip(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(b)
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[test]
fn handwritten_project_matches_flit_core() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("proj");
    project(&root);
    let out = tmp.path().join("ref");
    std::fs::create_dir_all(&out).unwrap();
    let script = "import os, sys\nos.environ['SOURCE_DATE_EPOCH']='1700000000'\nos.chdir(sys.argv[1])\nimport flit_core.buildapi as b\nprint(b.build_wheel(sys.argv[2]))\nprint(b.build_sdist(sys.argv[2]))\n";
    let o = Command::new("python3")
        .args(["-c", script])
        .arg(&root)
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "flit_core 3.12.0 is needed ({}): {}",
        airlock_test_support::INSTALL_REQUIREMENTS,
        String::from_utf8_lossy(&o.stderr)
    );
    let names = String::from_utf8_lossy(&o.stdout).to_string();
    let mut lines = names.lines();
    let (ref_wheel, ref_sdist) = (lines.next().unwrap(), lines.next().unwrap());

    let p = Buildable::load(&root).unwrap();
    assert_eq!(p.backend(), airlock_pypkg::Backend::FlitCore);
    let opts = BuildOptions {
        source_date_epoch: 1_700_000_000,
        generator: "flit 3.12.0".into(),
        ..BuildOptions::default()
    };
    let (wn, wb) = p.wheel_bytes(&opts).unwrap();
    let (sn, sb) = p.sdist_bytes(&opts).unwrap();
    assert_eq!(wn, ref_wheel);
    assert_eq!(sn, ref_sdist);
    let ours = zip_members(&wb);
    let theirs = zip_members(&std::fs::read(out.join(ref_wheel)).unwrap());
    for (a, b) in ours.iter().zip(&theirs) {
        assert_eq!(a.0, b.0);
        assert_eq!(a.1, b.1, "mode of {}", a.0);
        assert_eq!(
            String::from_utf8_lossy(&a.2),
            String::from_utf8_lossy(&b.2),
            "content of {}",
            a.0
        );
    }
    assert_eq!(ours.len(), theirs.len());
    let (ta, tb) = (
        gunzip(&sb),
        gunzip(&std::fs::read(out.join(ref_sdist)).unwrap()),
    );
    let list = |t: &[u8]| {
        tar::Archive::new(t)
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(list(&ta), list(&tb));
    assert!(ta == tb, "the uncompressed sdist tar stream is flit_core's");
    assert!(airlock_pypkg::validate::validate(&wn, &wb).passed());
    assert!(airlock_pypkg::validate::validate(&sn, &sb).passed());
}

#[test]
fn unsupported_backends_and_computed_versions_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        "pyproject.toml",
        "[build-system]\nrequires = [\"pdm-backend\"]\nbuild-backend = \"pdm.backend\"\n[project]\nname = \"x\"\nversion = \"1\"\n",
    );
    match Buildable::load(tmp.path()) {
        Err(Error::Unsupported(m)) => {
            assert!(m.contains("`pdm.backend`") && m.contains("prebuilt"), "{m}")
        }
        other => panic!("{other:?}"),
    }
    write(
        tmp.path(),
        "pyproject.toml",
        "[build-system]\nbuild-backend = \"flit_core.buildapi\"\n[project]\nname = \"x\"\ndynamic = [\"version\"]\ndescription = \"d\"\n",
    );
    write(tmp.path(), "x.py", "__version__ = compute()\n");
    match Buildable::load(tmp.path()) {
        Err(Error::Unsupported(m)) => assert!(
            m.contains("x.py") && m.contains("never runs project code"),
            "{m}"
        ),
        other => panic!("{other:?}"),
    }
}
