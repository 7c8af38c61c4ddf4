//! The validator against real distributions (the published mypylogger 0.2.8 wheel and
//! sdist, and this crate's builds of it) and against crafted broken ones, each of which must
//! be refused with the right rule; where twine checks the same thing, `twine check --strict`
//! must refuse it too.

use std::path::Path;

use airlock_pypkg::archive::{TarWriter, ZipWriter, gzip};
use airlock_pypkg::validate::{Report, Severity, validate, validate_path};
use airlock_pypkg::{BuildOptions, record_hash};
use airlock_test_support::{
    MYPYLOGGER_SDIST, MYPYLOGGER_WHEEL, fixtures, mypylogger_project, require_python_module,
};

const DOS: (u16, u16) = (0, (40 << 9) | (2 << 5) | 2);

const GOOD_METADATA: &str = "Metadata-Version: 2.4\nName: good-pkg\nVersion: 1.0\nSummary: x\n\
License-Expression: MIT\nClassifier: Programming Language :: Python :: 3\n\
Description-Content-Type: text/markdown\n\n# Good\n";

/// A wheel `good_pkg-1.0-py3-none-any.whl` with the given METADATA, optionally tampered.
fn wheel(metadata: &str, tamper: impl Fn(&mut Vec<(String, Vec<u8>)>)) -> Vec<u8> {
    wheel_with(metadata, &[], tamper)
}

/// Like [`wheel`], with `extra` members listed in RECORD.
fn wheel_with(
    metadata: &str,
    extra: &[(&str, &[u8])],
    tamper: impl Fn(&mut Vec<(String, Vec<u8>)>),
) -> Vec<u8> {
    let mut members: Vec<(String, Vec<u8>)> = vec![
        ("good_pkg/__init__.py".into(), b"x = 1\n".to_vec()),
        (
            "good_pkg-1.0.dist-info/METADATA".into(),
            metadata.as_bytes().to_vec(),
        ),
        (
            "good_pkg-1.0.dist-info/WHEEL".into(),
            b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
                .to_vec(),
        ),
    ];
    members.extend(extra.iter().map(|(n, d)| (n.to_string(), d.to_vec())));
    let mut record = String::new();
    for (n, d) in &members {
        record.push_str(&format!("{n},sha256={},{}\n", record_hash(d), d.len()));
    }
    record.push_str("good_pkg-1.0.dist-info/RECORD,,\n");
    members.push(("good_pkg-1.0.dist-info/RECORD".into(), record.into_bytes()));
    tamper(&mut members);
    let mut z = ZipWriter::new();
    for (n, d) in &members {
        z.add(n, d, 0o644, DOS);
    }
    z.finish()
}

fn rules(r: &Report) -> Vec<String> {
    r.errors().map(|f| f.rule.clone()).collect()
}

fn assert_refused(r: &Report, rule: &str, needle: &str) {
    assert!(
        r.errors()
            .any(|f| f.rule == rule && f.message.contains(needle) && !f.fix.is_empty()),
        "expected a `{rule}` error containing {needle:?}, got {:#?}",
        r.findings
    );
}

#[test]
fn published_and_built_mypylogger_pass() {
    let dir = fixtures();
    for f in [MYPYLOGGER_WHEEL, MYPYLOGGER_SDIST] {
        let r = validate_path(&dir.join(f)).unwrap();
        assert!(r.passed(), "{f}: {:#?}", r.findings);
        assert_eq!(r.name.as_deref(), Some("mypylogger"));
        assert_eq!(r.version.as_deref(), Some("0.2.8"));
        assert_eq!(r.metadata_version.as_deref(), Some("2.4"));
    }
    let out = tempfile::tempdir().unwrap();
    let root = mypylogger_project();
    let opts = BuildOptions::default();
    for a in [
        airlock_pypkg::build_wheel(&root, out.path(), &opts).unwrap(),
        airlock_pypkg::build_sdist(&root, out.path(), &opts).unwrap(),
    ] {
        let r = validate_path(&a.path).unwrap();
        assert!(r.findings.is_empty(), "{}: {:#?}", a.filename, r.findings);
    }
}

#[test]
fn a_well_formed_crafted_wheel_passes() {
    let r = validate(
        "good_pkg-1.0-py3-none-any.whl",
        &wheel(GOOD_METADATA, |_| {}),
    );
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
}

#[test]
fn zip_framing_defects_are_refused_as_pypi_does() {
    // Data descriptor: flag bit 3 in the first local header.
    let mut b = wheel(GOOD_METADATA, |_| {});
    b[6] |= 0x08;
    assert_refused(
        &validate("good_pkg-1.0-py3-none-any.whl", &b),
        "zip",
        "data descriptor",
    );
    // Duplicate member.
    let b = wheel(GOOD_METADATA, |m| {
        let first = m[0].clone();
        m.insert(1, first);
    });
    assert_refused(
        &validate("good_pkg-1.0-py3-none-any.whl", &b),
        "zip",
        "duplicate member",
    );
    // Trailing data.
    let mut b = wheel(GOOD_METADATA, |_| {});
    b.extend_from_slice(b"junk");
    assert_refused(
        &validate("good_pkg-1.0-py3-none-any.whl", &b),
        "zip",
        "trailing data",
    );
    // Compression method 12 (bzip2) in both headers: refused before reading it.
    let mut b = wheel(GOOD_METADATA, |_| {});
    b[8] = 12;
    let cd = b.windows(4).position(|w| w == [0x50, 0x4b, 1, 2]).unwrap();
    b[cd + 10] = 12;
    assert_refused(
        &validate("good_pkg-1.0-py3-none-any.whl", &b),
        "zip",
        "compression method 12",
    );
}

#[test]
fn wheel_structure_and_record_are_checked() {
    // A member changed after RECORD was written.
    let b = wheel(GOOD_METADATA, |m| m[0].1 = b"x = 2\n".to_vec());
    assert_refused(
        &validate("good_pkg-1.0-py3-none-any.whl", &b),
        "wheel",
        "sha256 of `good_pkg/__init__.py`",
    );
    // A member RECORD does not list.
    let b = wheel(GOOD_METADATA, |m| {
        m.insert(0, ("good_pkg/extra.py".into(), b"".to_vec()))
    });
    assert_refused(
        &validate("good_pkg-1.0-py3-none-any.whl", &b),
        "wheel",
        "not listed in RECORD",
    );
    // No WHEEL file.
    let b = wheel(GOOD_METADATA, |m| m.retain(|(n, _)| !n.ends_with("/WHEEL")));
    assert_refused(
        &validate("good_pkg-1.0-py3-none-any.whl", &b),
        "wheel",
        "WHEEL` is missing",
    );
    // A platform tag PyPI refuses (a Linux wheel not tagged manylinux); its manylinux
    // form is taken (the Tag line is only a warning).
    let linux = wheel(GOOD_METADATA, |m| {
        let wheel = m.iter_mut().find(|(n, _)| n.ends_with("/WHEEL")).unwrap();
        wheel.1 = String::from_utf8(wheel.1.clone())
            .unwrap()
            .replace("py3-none-any", "py3-none-linux_x86_64")
            .into_bytes();
    });
    let r = validate("good_pkg-1.0-py3-none-linux_x86_64.whl", &linux);
    assert_refused(&r, "platform", "`linux_x86_64`");
    let r = validate("good_pkg-1.0-py3-none-manylinux_2_17_x86_64.whl", &linux);
    assert!(
        !rules(&r).contains(&"platform".to_string()),
        "{:#?}",
        r.findings
    );
    // File name: bad shape, name and version disagreeing with METADATA.
    let good = wheel(GOOD_METADATA, |_| {});
    assert_refused(&validate("good_pkg-1.0.whl", &good), "filename", "5 or 6");
    let r = validate("other-1.0-py3-none-any.whl", &good);
    assert_refused(&r, "filename", "Name is `good-pkg`");
    let r = validate(
        "good_pkg-1.0-py3-none-any.whl",
        &wheel(
            &GOOD_METADATA.replace("Version: 1.0", "Version: 1.1"),
            |_| {},
        ),
    );
    assert_refused(&r, "filename", "not the metadata Version `1.1`");
    assert_refused(&validate("good_pkg-1.0.zip", &good), "filename", "PEP 625");
}

#[test]
fn metadata_rules_are_checked() {
    let check = |from: &str, to: &str, rule: &str, needle: &str| {
        let meta = GOOD_METADATA.replace(from, to);
        assert_ne!(meta, GOOD_METADATA, "{from}");
        let r = validate("good_pkg-1.0-py3-none-any.whl", &wheel(&meta, |_| {}));
        assert_refused(&r, rule, needle);
    };
    check("Version: 1.0", "Version: 1.0+local", "metadata", "local");
    check("Version: 1.0", "Version: one", "metadata", "not PEP 440");
    check(
        "Metadata-Version: 2.4",
        "Metadata-Version: 3.0",
        "metadata",
        "is not one of",
    );
    check(
        "Programming Language :: Python :: 3",
        "Programming Language :: Cobol :: 3",
        "classifiers",
        "trove",
    );
    check(
        "Programming Language :: Python :: 3",
        "Private :: Do Not Upload",
        "classifiers",
        "Private",
    );
    check(
        "License-Expression: MIT",
        "License-Expression: MIT OR Bogus-1",
        "license",
        "SPDX",
    );
    check(
        "License-Expression: MIT",
        "License-Expression: MIT\nLicense-File: LICENSE",
        "license",
        "not in the archive",
    );
    check("text/markdown", "text/html", "readme", "text/html");
    check(
        "text/markdown",
        "text/markdown; charset=latin-1",
        "readme",
        "UTF-8",
    );
    check(
        "Description-Content-Type: text/markdown\n",
        "",
        "readme",
        "Description-Content-Type",
    );
    check("\n\n# Good\n", "\n", "readme", "long description");
    let r = validate(
        "good_pkg-1.0-py3-none-any.whl",
        &wheel(GOOD_METADATA, |_| {}),
    );
    assert!(rules(&r).is_empty());
    // Older backends wrote License-File into 2.1 files, and PyPI took them: a warning.
    let meta = GOOD_METADATA
        .replace("Metadata-Version: 2.4", "Metadata-Version: 2.1")
        .replace("License-Expression: MIT\n", "License-File: LICENSE\n");
    let r = validate(
        "good_pkg-1.0-py3-none-any.whl",
        &wheel_with(
            &meta,
            &[("good_pkg-1.0.dist-info/licenses/LICENSE", b"MIT")],
            |_| {},
        ),
    );
    assert!(r.passed(), "{:#?}", r.findings);
    assert!(
        r.findings
            .iter()
            .any(|f| f.message.contains("belongs to Metadata-Version 2.4"))
    );
    // Deprecated, yet accepted by PyPI: a warning, not an error.
    let meta = GOOD_METADATA.replace(
        "Programming Language :: Python :: 3",
        "License :: OSI Approved :: MIT License",
    );
    let r = validate("good_pkg-1.0-py3-none-any.whl", &wheel(&meta, |_| {}));
    assert!(r.passed(), "{:#?}", r.findings);
    assert!(
        r.findings
            .iter()
            .any(|f| f.rule == "license" && f.severity == Severity::Warning)
    );
}

fn sdist(members: &[(&str, &str)]) -> Vec<u8> {
    let mut t = TarWriter::new();
    for (n, d) in members {
        t.add(n, d.as_bytes(), 0o644, 0);
    }
    gzip(&t.finish(), 0)
}

#[test]
fn sdist_layout_is_checked() {
    let ok = sdist(&[
        ("good_pkg-1.0/pyproject.toml", "[project]\n"),
        ("good_pkg-1.0/PKG-INFO", GOOD_METADATA),
    ]);
    let r = validate("good_pkg-1.0.tar.gz", &ok);
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
    let two_tops = sdist(&[("good_pkg-1.0/PKG-INFO", GOOD_METADATA), ("other/x.py", "")]);
    assert_refused(
        &validate("good_pkg-1.0.tar.gz", &two_tops),
        "sdist",
        "exactly one top-level directory",
    );
    let no_pkg_info = sdist(&[("good_pkg-1.0/pyproject.toml", "")]);
    assert_refused(
        &validate("good_pkg-1.0.tar.gz", &no_pkg_info),
        "sdist",
        "PKG-INFO` is missing",
    );
    assert_refused(
        &validate("good_pkg-1.0.tar.gz", b"not gzip"),
        "sdist",
        "not a gzip",
    );
    let r = validate("Good.Pkg-1.0.tar.gz", &ok);
    assert!(
        r.findings
            .iter()
            .any(|f| f.severity == Severity::Warning && f.message.contains("not normalised")),
        "{:#?}",
        r.findings
    );
}

/// twine checks the readme too: the files this validator refuses for the readme rule are
/// refused by `twine check --strict`, and the good one passes both.
#[test]
fn twine_agrees_on_readme_findings() {
    require_python_module("twine", "twine");
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, meta: &str| {
        let p = dir.path().join(name);
        std::fs::create_dir_all(&p).unwrap();
        let f = p.join("good_pkg-1.0-py3-none-any.whl");
        std::fs::write(&f, wheel(meta, |_| {})).unwrap();
        f
    };
    let good = write("good", GOOD_METADATA);
    let bad_type = write(
        "bad-type",
        &GOOD_METADATA.replace("text/markdown", "text/html"),
    );
    let no_type = write(
        "no-type",
        &GOOD_METADATA.replace("Description-Content-Type: text/markdown\n", ""),
    );
    let twine = |f: &Path| {
        std::process::Command::new("python3")
            .args(["-m", "twine", "check", "--strict"])
            .arg(f)
            .output()
            .unwrap()
            .status
            .success()
    };
    for (f, ok) in [(&good, true), (&bad_type, false), (&no_type, false)] {
        let ours = validate_path(f).unwrap().passed();
        assert_eq!(ours, ok, "validator on {}", f.display());
        assert_eq!(twine(f), ok, "twine on {}", f.display());
    }
}
