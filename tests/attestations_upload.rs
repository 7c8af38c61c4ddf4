//! PEP 740 attestations on the upload side, end to end (the real binary, the real upload
//! component): each distribution `dist/X` is sent with the `X.<type>.attestation` files
//! beside it (uv's convention) as the legacy upload API's `attestations` field.
//!
//! The attestations are made by hand here: a statement naming the file with its sha256 in a
//! syntactically valid attestation object (the signature and certificate are placeholders;
//! the upload side does not verify signatures, `airlock verify` does).
//!
//! - the PyPI stand-in (warehouse's checks of the field): what does not match is refused;
//!   the whole round trip with real signatures (the field arrives, the provenance is served
//!   back, its publisher checked against the signer) is tests/attest.rs's mypylogger test;
//! - a `file:` repository: `data-provenance` / `provenance` on the pages, the provenance
//!   file holds the attestations, and pip installs from it;
//! - pypiserver (which ignores the field): the upload succeeds and the log says the index
//!   published no attestations;
//! - an attestation of other bytes is refused by the pre-flight before any POST.

mod common;

use airlock_test_support::pypi::PypiStandIn;
use airlock_test_support::{MYPYLOGGER_SDIST as SDIST, MYPYLOGGER_WHEEL as WHEEL, PypiServer};
use base64::Engine;
use common::{dist_project, run, upload_stage};
use serde_json::{Value, json};

const TOKEN: &str = "pypi-AgEIcHlwaS5vcmcAttestationsTestToken0740";
const PUBLISH: &str = "https://docs.pypi.org/attestations/publish/v1";

/// A syntactically valid PEP 740 attestation whose statement's subject is `name` with
/// `sha256`.
fn attestation(name: &str, sha256: &str) -> Value {
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let statement = json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{ "name": name, "digest": { "sha256": sha256 } }],
        "predicateType": PUBLISH,
        "predicate": null,
    });
    json!({
        "version": 1,
        "verification_material": {
            "certificate": b64(b"a placeholder, not a DER certificate"),
            "transparency_entries": [{
                "logIndex": "12345", "logId": { "keyId": b64(b"rekor") },
                "kindVersion": { "kind": "dsse", "version": "0.0.1" },
                "integratedTime": "1", "canonicalizedBody": b64(b"{}"),
            }],
        },
        "envelope": {
            "statement": b64(statement.to_string().as_bytes()),
            "signature": b64(b"a placeholder, not a signature"),
        },
    })
}

fn sha256_of(path: &std::path::Path) -> String {
    hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
        std::fs::read(path).unwrap(),
    ))
}

/// Writes `dist/X.publish.attestation` for the wheel and the sdist of `project`; the
/// wheel's attests `wheel_sha256` when given (another file's bytes). Returns them by file.
fn attest(project: &std::path::Path, wheel_sha256: Option<&str>) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for f in [WHEEL, SDIST] {
        let dist = project.join("dist").join(f);
        let sha = match wheel_sha256 {
            Some(s) if f == WHEEL => s.to_string(),
            _ => sha256_of(&dist),
        };
        let a = attestation(f, &sha);
        std::fs::write(
            project
                .join("dist")
                .join(format!("{f}.publish.attestation")),
            serde_json::to_vec_pretty(&a).unwrap(),
        )
        .unwrap();
        out.push((f.to_string(), a));
    }
    out
}

/// The token authenticate stage (optional) and the upload stage with `extra` config.
fn manifest(repository: &str, extra: &str) -> String {
    let mut m = r#"
[pipeline]
name = "attestations-test"

[[stage]]
id = "authenticate"
component = "builtin:authenticate"
config = { mode = "token", env = "PYPI_TOKEN", optional = true }
[stage.grants]
env = ["PYPI_TOKEN"]
secrets = { produce = ["pypi-token"] }
"#
    .to_string();
    m.push_str(&upload_stage(
        repository,
        &format!(", retry = {{ retries = 1, base_s = 0.05, cap_s = 0.1 }}{extra}"),
        "",
    ));
    m
}

fn file_of<'a>(out: &'a Value, filename: &str) -> &'a Value {
    out["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["filename"] == filename)
        .unwrap_or_else(|| panic!("{filename} not in {out}"))
}

#[test]
fn an_attestation_of_other_bytes_is_refused_before_any_post() {
    let index = PypiStandIn::start(TOKEN, 100 << 20);
    let dir = dist_project();
    let sdist_sha = sha256_of(&dir.path().join("dist").join(SDIST));
    attest(dir.path(), Some(&sdist_sha));
    let env = [("PYPI_TOKEN", TOKEN)];
    for dry in ["", ", dry_run = true"] {
        let r = run(dir.path(), &manifest(&index.url(), dry), &env);
        assert_eq!(r.code, Some(1), "{dry}: {}", r.stderr);
        let said = r.said("upload");
        assert!(said.contains(&format!("[attestations] {WHEEL}")), "{said}");
        assert!(
            said.contains(&format!("{WHEEL}.publish.attestation")),
            "{said}"
        );
        assert!(said.contains(&sdist_sha), "{said}");
        assert!(said.contains("nothing was uploaded"), "{said}");
        assert_eq!(r.failure("upload")["category"], "validation");
        assert!(index.posts().is_empty(), "{:?}", index.posts());
    }
    // `attestations = "off"`: none are read or sent.
    let r = run(
        dir.path(),
        &manifest(&index.url(), r#", attestations = "off""#),
        &env,
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(index.posts().len(), 2);
    assert!(index.attestations().is_empty());
    assert_eq!(file_of(r.output("upload"), WHEEL)["attestations"], 0);

    // `require` refuses a file with no publish attestation.
    let dir = dist_project();
    let r = run(
        dir.path(),
        &manifest(&index.url(), r#", attestations = "require""#),
        &env,
    );
    // Both files are on the index already (skipped), so nothing needs one.
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let other = PypiStandIn::start(TOKEN, 100 << 20);
    let r = run(
        dir.path(),
        &manifest(&other.url(), r#", attestations = "require""#),
        &env,
    );
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(
        r.said("upload").contains("no publish attestation"),
        "{}",
        r.said("upload")
    );
    assert!(other.posts().is_empty());
}

#[test]
fn a_file_repository_serves_the_provenance_and_pip_installs_from_it() {
    let dir = dist_project();
    let made = attest(dir.path(), None);
    let m = r#"
[pipeline]
name = "attestations-file"

[[stage]]
id = "upload"
component = "builtin:upload"
config = { repository = "file:.airlock/index" }
[stage.grants]
files = [{ path = "dist", access = "read" }, { path = ".airlock/index", access = "write" }]
"#;
    let r = run(dir.path(), m, &[]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let root = dir.path().join(".airlock/index");
    let out = r.output("upload");
    for (f, a) in &made {
        let file = file_of(out, f);
        assert_eq!(file["attestations"], 1);
        assert_eq!(
            file["provenance"]["url"],
            format!("../../packages/{f}.provenance")
        );
        assert_eq!(file["provenance"]["publisher"], Value::Null);
        let p: Value = serde_json::from_slice(
            &std::fs::read(root.join("packages").join(format!("{f}.provenance"))).unwrap(),
        )
        .unwrap();
        assert_eq!(p["version"], 1);
        assert_eq!(p["attestation_bundles"][0]["attestations"], json!([a]));
    }
    let html = std::fs::read_to_string(root.join("simple/mypylogger/index.html")).unwrap();
    for f in [WHEEL, SDIST] {
        assert!(
            html.contains(&format!(
                "data-provenance=\"../../packages/{f}.provenance\""
            )),
            "{html}"
        );
    }
    let page: Value =
        serde_json::from_slice(&std::fs::read(root.join("simple/mypylogger/index.json")).unwrap())
            .unwrap();
    for f in page["files"].as_array().unwrap() {
        assert_eq!(
            f["provenance"],
            format!(
                "../../packages/{}.provenance",
                f["filename"].as_str().unwrap()
            )
        );
    }
    assert_eq!(page["files"].as_array().unwrap().len(), 2);
    // The attestation files were not copied as distributions.
    assert!(
        !root
            .join("packages")
            .join(format!("{WHEEL}.publish.attestation"))
            .exists()
    );
    airlock_test_support::pip_install(
        &format!("file://{}/simple/", root.display()),
        "mypylogger==0.2.8",
        "mypylogger",
    );
}

#[test]
fn pypiserver_takes_the_upload_and_the_log_says_it_published_no_attestations() {
    let server = PypiServer::start(Some(("__token__", TOKEN)));
    let dir = dist_project();
    attest(dir.path(), None);
    let r = run(
        dir.path(),
        &manifest(&server.url(), ""),
        &[("PYPI_TOKEN", TOKEN)],
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let out = r.output("upload");
    for f in [WHEEL, SDIST] {
        let file = file_of(out, f);
        assert_eq!(file["status"], "uploaded");
        assert_eq!(file["attestations"], 1);
        assert!(file.get("provenance").is_none(), "{file}");
    }
    assert!(
        r.stderr.contains(&format!("the index {}", server.simple()))
            && r.stderr.contains("published without attestations"),
        "{}",
        r.stderr
    );
    airlock_test_support::pip_install(&server.simple(), "mypylogger==0.2.8", "mypylogger");
}
