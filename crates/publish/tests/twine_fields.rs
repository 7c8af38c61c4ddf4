//! The upload form compared with what twine sends for the same files.

use std::process::Command;

use airlock_publish::Distribution;
use airlock_publish::form::{Multipart, upload_fields};
use airlock_test_support::{
    MYPYLOGGER_SDIST as SDIST, MYPYLOGGER_WHEEL as WHEEL, fixtures, require_python_module,
};

/// twine's fields for `path`: `PackageFile.from_filename(..).metadata_dictionary()` through
/// `Repository._convert_metadata_to_list_of_tuples`, plus `:action` and `protocol_version`.
fn twine_fields(path: &std::path::Path) -> Vec<(String, String)> {
    let code = r#"
import json, sys
from twine.package import PackageFile
from twine.repository import Repository
p = PackageFile.from_filename(sys.argv[1], None)
fields = Repository._convert_metadata_to_list_of_tuples(p.metadata_dictionary())
fields += [(":action", "file_upload"), ("protocol_version", "1")]
print(json.dumps(fields))
"#;
    let out = Command::new("python3")
        .args(["-c", code])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn fields_match_twine_for_the_real_wheel_and_sdist() {
    let fx = fixtures();
    require_python_module("twine.package", "twine");
    for file in [WHEEL, SDIST] {
        let path = fx.join(file);
        let dist = Distribution::read(&path).unwrap();
        let mut ours = upload_fields(&dist);
        let mut theirs = twine_fields(&path);
        // Same multiset of (field, value); twine's order follows a frozenset, so sort.
        ours.sort();
        theirs.sort();
        assert_eq!(ours, theirs, "{file}");
    }
}

#[test]
fn the_body_carries_every_field_and_the_file() {
    let fx = fixtures();
    let path = fx.join(WHEEL);
    let dist = Distribution::read(&path).unwrap();
    let fields = upload_fields(&dist);
    let get = |k: &str| {
        fields
            .iter()
            .filter(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(get("name"), ["mypylogger"]);
    assert_eq!(get("version"), ["0.2.8"]);
    assert_eq!(get("pyversion"), ["py3"]);
    assert_eq!(get("filetype"), ["bdist_wheel"]);
    assert_eq!(get("metadata_version"), ["2.4"]);
    assert_eq!(get("license_file"), ["LICENSE"]);
    assert_eq!(get("requires_python"), [">=3.8"]);
    assert_eq!(get("classifiers").len(), 17);
    assert_eq!(
        get("project_urls")[0],
        "Homepage, https://github.com/stabbotco1/mypylogger"
    );
    assert!(get("keywords")[0].starts_with("application-logging, development-tools, json"));
    assert!(get("description")[0].starts_with("# mypylogger v0.2.8"));
    assert_eq!(get("sha256_digest"), [dist.digests.sha256.as_str()]);
    assert_eq!(get("blake2_256_digest").len(), 1);

    // The sha256 and blake2b-256 match Python's hashlib on the same file.
    let out = Command::new("python3")
        .args(["-c", "import hashlib,sys; b=open(sys.argv[1],'rb').read(); print(hashlib.sha256(b).hexdigest(), hashlib.blake2b(b, digest_size=32).hexdigest())"])
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        text.split_whitespace().collect::<Vec<_>>(),
        [
            dist.digests.sha256.as_str(),
            dist.digests.blake2_256.as_str()
        ]
    );

    let content = std::fs::read(&path).unwrap();
    let form = Multipart::new(
        &fields,
        &dist.filename,
        &Multipart::boundary_for(&dist.digests.sha256),
    );
    let body = form.body(&content);
    assert_eq!(body.len() as u64, form.len(content.len() as u64));
    let text = String::from_utf8_lossy(&body);
    assert_eq!(
        text.matches(&format!("--{}\r\n", form.boundary)).count(),
        fields.len() + 1
    );
    assert!(text.contains("name=\"content\"; filename=\"mypylogger-0.2.8-py3-none-any.whl\""));
    assert!(body.windows(content.len()).any(|w| w == content.as_slice()));
}

#[test]
fn sdist_metadata_and_pyversion() {
    let fx = fixtures();
    let dist = Distribution::read(&fx.join(SDIST)).unwrap();
    assert_eq!(dist.pyversion, "source");
    assert_eq!(dist.metadata.name(), "mypylogger");
    assert_eq!(dist.metadata.requires_python(), Some(">=3.8"));
    assert_eq!(dist.normalized_name(), "mypylogger");
}
