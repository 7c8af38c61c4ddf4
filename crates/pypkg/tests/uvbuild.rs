//! uv_build semantics against uv_build 0.9.5 itself (its PEP 517 hooks, run on the same
//! tree) on handwritten projects that use what real projects use less often: the src
//! layout with subpackages, an executable file, `__pycache__`, scripts, gui-scripts and
//! entry points, extras with markers, `license-files` globs matching a directory,
//! `source-include`/`source-exclude`/`wheel-exclude`, `data`, a readme table; the flat
//! layout with a list of module names and a dotted namespace module; a stubs package. The
//! wheel's members (with directory entries), modes, times, contents and RECORD, and the
//! uncompressed sdist tar stream must be equal. Also: what uv_build refuses is refused
//! (dynamic metadata, a missing module), naming what.

use std::io::Read;
use std::path::Path;
use std::process::Command;

use airlock_pypkg::{BuildOptions, Buildable, Error};

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn src_layout(root: &Path) {
    write(
        root,
        "pyproject.toml",
        r#"[project]
name = "UV.Demo_Pkg"
version = "1.0.0-RC1"
description = "A uv_build demo"
readme = { file = "docs/README.rst", content-type = "text/x-rst" }
license = "MIT OR Apache-2.0"
license-files = ["LICEN[CS]E*", "licenses/**"]
requires-python = ">=3.9,<4"
authors = [{ name = "J. Doe", email = "j@example.org" }, { name = "Solo" }, { email = "e@example.org" }]
maintainers = [{ name = "M" }]
keywords = ["zeta", "alpha"]
classifiers = ["Programming Language :: Python :: 3", "Development Status :: 4 - Beta"]
dependencies = [
    "Requests >= 2.0, <3",
    "tomli>=2 ; python_version < '3.11'",
    "foo[Bar_X,baz]==1.0.*; sys_platform != 'win32' and sys_platform != 'cygwin'",
    "pywin32 ; sys_platform == 'win32' or sys_platform == 'cygwin'",
    "legacy ; python_version <= '3.9' and os.name == 'nt'",
]

[project.optional-dependencies]
Dev_Tools = ["pytest (>=8)", "cov; python_version >= '3.10'"]
docs = ["sphinx>=7.0.0"]

[project.urls]
Zeta = "https://example.org/z"
Alpha = "https://example.org/a"

[project.scripts]
zz-cli = "uv_demo_pkg.cli:main"
aa-cli = "uv_demo_pkg.cli:main"

[project.gui-scripts]
gui = "uv_demo_pkg.cli:gui"

[project.entry-points."demo.plugins"]
b = "uv_demo_pkg.plugins:b"
a = "uv_demo_pkg.plugins:a"

[build-system]
requires = ["uv_build>=0.9,<0.10"]
build-backend = "uv_build"

[tool.uv.build-backend]
source-include = ["tests/**", "CHANGES.md"]
source-exclude = ["*.log", "/tests/private"]
wheel-exclude = ["*.bak"]
data = { scripts = "bin", data = "share" }
"#,
    );
    write(root, "docs/README.rst", "UV demo\n=======\n\nText.\n");
    write(root, "docs/other.txt", "not in the sdist\n");
    write(root, "LICENSE", "MIT\n");
    write(root, "LICENSE-APACHE", "Apache\n");
    write(root, "licenses/vendored/x.txt", "BSD\n");
    write(root, "CHANGES.md", "1.0\n");
    write(root, "other.txt", "not in the sdist\n");
    write(root, "bin/tool", "#!/bin/sh\n");
    write(root, "share/demo/a.json", "{}\n");
    write(root, "src/uv_demo_pkg/__init__.py", "__version__ = '1'\n");
    write(
        root,
        "src/uv_demo_pkg/cli.py",
        "def main(): pass\ndef gui(): pass\n",
    );
    write(root, "src/uv_demo_pkg/plugins.py", "a = b = None\n");
    write(
        root,
        "src/uv_demo_pkg/old.bak",
        "excluded from the wheel only\n",
    );
    write(root, "src/uv_demo_pkg/debug.log", "excluded everywhere\n");
    write(root, "src/uv_demo_pkg/data/table.csv", "a,b\n");
    write(root, "src/uv_demo_pkg/empty/.keep", "");
    write(root, "src/uv_demo_pkg/sub/__init__.py", "");
    write(root, "src/uv_demo_pkg/sub/run.sh", "#!/bin/sh\n");
    write(
        root,
        "src/uv_demo_pkg/__pycache__/x.cpython-311.pyc",
        "junk",
    );
    write(root, "src/uv_demo_pkg/sub/mod.pyc", "junk");
    write(root, "src/other_pkg/__init__.py", "not packaged\n");
    write(root, "tests/test_a.py", "\n");
    write(root, "tests/private/secret.txt", "excluded\n");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for f in ["src/uv_demo_pkg/sub/run.sh", "bin/tool"] {
            std::fs::set_permissions(root.join(f), std::fs::Permissions::from_mode(0o775)).unwrap();
        }
    }
}

fn flat_layout(root: &Path) {
    write(
        root,
        "pyproject.toml",
        r#"[project]
name = "flat-multi"
version = "2.0"
license = { text = "Proprietary\nSecond line" }
readme = "README.md"
dependencies = [
    "zzz",
    "aaa[x] @ https://example.org/aaa-1.0.tar.gz ; os_name == 'posix'",
    "b1 ; python_version >= '3.8' and python_version < '4'",
    "b2 ; platform_system == 'Windows' and platform_machine != 'x86_64' and implementation_name == 'cpython'",
    "b3 ; python_full_version >= '3.9.1' and python_full_version < '3.13'",
    "b4 ; python_version > '3' and 'linux' == sys_platform",
    "b5 ; sys_platform == 'darwin' or sys_platform == 'linux'",
    "b6 ; (python_version < '3.12') and (platform_python_implementation != 'PyPy')",
    "B7.Name[Extra.One] (>=1.0-rc1, !=1.5.post1)",
]

[project.optional-dependencies]
all = []

[build-system]
requires = ["uv_build>=0.9,<0.10"]
build-backend = "uv_build"

[tool.uv.build-backend]
module-root = ""
module-name = ["flat_multi", "ns.part"]
default-excludes = false
"#,
    );
    write(root, "README.md", "# Flat\n");
    write(
        root,
        "LICENSE.txt",
        "not a license-files match: no license-files\n",
    );
    write(root, "flat_multi/__init__.py", "\n");
    write(
        root,
        "flat_multi/__pycache__/k.pyc",
        "kept: default-excludes = false\n",
    );
    write(root, "ns/part/__init__.py", "\n");
    write(root, "ns/part/deep/x.py", "\n");
    write(root, "ns/other/__init__.py", "not packaged\n");
    write(root, "tests/t.py", "not in the sdist\n");
}

fn stubs(root: &Path) {
    write(
        root,
        "pyproject.toml",
        r#"[project]
name = "demo-stubs"
version = "0.1"
readme = { text = "Stubs for demo.\r\nSecond line.", content-type = "text/plain" }

[build-system]
requires = ["uv_build>=0.9,<0.10"]
build-backend = "uv_build"
"#,
    );
    write(root, "src/demo-stubs/__init__.pyi", "x: int\n");
    write(root, "src/demo-stubs/sub.pyi", "y: int\n");
}

/// (name, unix mode, (year, month, day), contents) of a zip member.
type ZipMember = (String, u32, (u16, u16, u16), Vec<u8>);

/// Every zip member, in archive order.
fn zip_members(bytes: &[u8]) -> Vec<ZipMember> {
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    (0..z.len())
        .map(|i| {
            let mut f = z.by_index(i).unwrap();
            let mut d = Vec::new();
            f.read_to_end(&mut d).unwrap();
            let t = f.last_modified().unwrap_or_default();
            (
                f.name().unwrap().to_string(),
                f.unix_mode().unwrap_or(0),
                (t.year(), u16::from(t.month()), u16::from(t.day())),
                d,
            )
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

/// Builds `root` with uv_build 0.9.5's hooks into `out`; returns (wheel, sdist) names.
fn reference(root: &Path, out: &Path) -> (String, String) {
    std::fs::create_dir_all(out).unwrap();
    let script = "import os, sys\nos.environ['SOURCE_DATE_EPOCH']='1700000000'\nos.chdir(sys.argv[1])\nimport uv_build as b\nprint(b.build_wheel(sys.argv[2]))\nprint(b.build_sdist(sys.argv[2]))\n";
    let o = Command::new("python3")
        .args(["-c", script])
        .arg(root)
        .arg(out)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "uv_build 0.9.5 is needed (python3 -m pip install uv_build==0.9.5): {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    (
        lines.next().unwrap().trim().to_string(),
        lines.next().unwrap().trim().to_string(),
    )
}

fn compare(make: fn(&Path)) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("proj");
    make(&root);
    let out = tmp.path().join("ref");
    let (ref_wheel, ref_sdist) = reference(&root, &out);
    let generator = {
        let w = zip_members(&std::fs::read(out.join(&ref_wheel)).unwrap());
        let wheel = w
            .iter()
            .find(|m| m.0.ends_with(".dist-info/WHEEL"))
            .unwrap();
        String::from_utf8_lossy(&wheel.3)
            .lines()
            .find_map(|l| l.strip_prefix("Generator: ").map(str::to_string))
            .unwrap()
    };
    let p = Buildable::load(&root).unwrap();
    assert_eq!(p.backend(), airlock_pypkg::Backend::UvBuild);
    let opts = BuildOptions {
        source_date_epoch: 1_700_000_000,
        generator,
        ..BuildOptions::default()
    };
    let (wn, wb) = p.wheel_bytes(&opts).unwrap();
    let (sn, sb) = p.sdist_bytes(&opts).unwrap();
    assert_eq!(wn, ref_wheel);
    assert_eq!(sn, ref_sdist);
    let ours = zip_members(&wb);
    let theirs = zip_members(&std::fs::read(out.join(&ref_wheel)).unwrap());
    let names = |m: &[ZipMember]| m.iter().map(|x| x.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(&ours), names(&theirs));
    for (a, b) in ours.iter().zip(&theirs) {
        assert_eq!(a.1, b.1, "mode of {}", a.0);
        assert_eq!(a.2, b.2, "date of {}", a.0);
        assert_eq!(
            String::from_utf8_lossy(&a.3),
            String::from_utf8_lossy(&b.3),
            "content of {}",
            a.0
        );
    }
    let (ta, tb) = (
        gunzip(&sb),
        gunzip(&std::fs::read(out.join(&ref_sdist)).unwrap()),
    );
    let list = |t: &[u8]| {
        tar::Archive::new(t)
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let raw = String::from_utf8_lossy(&e.path_bytes()).into_owned();
                (raw, e.header().mode().unwrap())
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(list(&ta), list(&tb));
    assert!(ta == tb, "the uncompressed sdist tar stream is uv_build's");
    let wv = airlock_pypkg::validate::validate(&wn, &wb);
    assert!(wv.passed(), "{:#?}", wv.findings);
    let sv = airlock_pypkg::validate::validate(&sn, &sb);
    assert!(sv.passed(), "{:#?}", sv.findings);
}

#[test]
fn src_layout_project_matches_uv_build() {
    compare(src_layout);
}

#[test]
fn flat_layout_with_module_list_and_namespace_matches_uv_build() {
    compare(flat_layout);
}

#[test]
fn stubs_package_matches_uv_build() {
    compare(stubs);
}

#[test]
fn what_uv_build_refuses_is_refused_and_named() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(
        root,
        "pyproject.toml",
        "[build-system]\nrequires = [\"uv_build\"]\nbuild-backend = \"uv_build\"\n[project]\nname = \"my-pkg\"\nversion = \"1\"\ndynamic = [\"description\"]\n",
    );
    write(root, "src/my_pkg/__init__.py", "");
    match Buildable::load(root) {
        Err(Error::Unsupported(m)) => assert!(m.contains("dynamic"), "{m}"),
        other => panic!("{other:?}"),
    }
    write(
        root,
        "pyproject.toml",
        "[build-system]\nrequires = [\"uv_build\"]\nbuild-backend = \"uv_build\"\n[project]\nname = \"my-pkg\"\nversion = \"1\"\n[tool.uv.build-backend]\nmodule-root = \"\"\n",
    );
    match Buildable::load(root) {
        Err(Error::Invalid(m)) => assert!(m.contains("my_pkg/__init__.py"), "{m}"),
        other => panic!("{other:?}"),
    }
    write(
        root,
        "pyproject.toml",
        "[build-system]\nrequires = [\"uv_build\"]\nbuild-backend = \"uv_build\"\n[project]\nname = \"my-pkg\"\nversion = \"1\"\ndependencies = [\"x; python_version < '3.8' or os_name == 'nt'\"]\n",
    );
    match Buildable::load(root) {
        Err(Error::Unsupported(m)) => assert!(m.contains("marker"), "{m}"),
        other => panic!("{other:?}"),
    }
}
