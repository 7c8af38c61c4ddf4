//! PEP 740 attestations on the upload side: finding the attestation files beside a
//! distribution, checking each against the file it attests, the legacy upload API's
//! `attestations` form field, and reading an index's provenance (the integrity API's
//! shape).
//!
//! Sources:
//! - PEP 740 (<https://peps.python.org/pep-0740/>): the attestation object
//!   `{"version": 1, "verification_material": {"certificate", "transparency_entries"},
//!   "envelope": {"statement", "signature"}}`, the upload form field `attestations` (a JSON
//!   array of attestation objects), the provenance object `{"version": 1,
//!   "attestation_bundles": [{"publisher", "attestations"}]}`, and the simple API's
//!   `data-provenance` (HTML) / `provenance` (JSON) file keys.
//! - pypi-attestations' `Attestation` model (what warehouse validates uploads with):
//!   `version` is `1`, `certificate`, `statement` and `signature` are base64, there is at
//!   least one transparency entry, the statement is an in-toto Statement v1 with exactly one
//!   subject whose `name` is the distribution's file name and `digest.sha256` its sha256.
//! - warehouse `warehouse/attestations/services.py`: at most 2 attestations per file (one
//!   per supported predicate type: [`PUBLISH_V1`], [`SLSA_PROVENANCE_V1`]), an empty set is
//!   refused (the field is then left out).
//! - uv-publish (`group_files`): attestation files are named `<dist>.<type>.attestation`,
//!   e.g. `foo-1.2.3.tar.gz.publish.attestation`, beside the distribution.
//!
//! Signatures and certificates are not verified here: that is `airlock verify`'s business
//! (and the index's); the upload side checks that each attestation is about the file it is
//! sent with, so an index never has to refuse a release halfway.

use std::path::{Path, PathBuf};

use airlock_stage::StageError;
use base64::Engine;
use serde_json::Value;

pub use airlock_attest::statement::{
    KNOWN_PREDICATE_TYPES, PUBLISH_V1, SLSA_PROVENANCE_V1, STATEMENT_TYPE,
};
/// At most this many attestations per file (warehouse: one per supported predicate type).
pub const MAX_PER_FILE: usize = 2;
/// The file suffix of an attestation file.
pub const SUFFIX: &str = ".attestation";
/// The `Accept` header of a provenance request (warehouse's integrity API offers
/// `application/vnd.pypi.integrity.v1+json` and `application/json`).
pub const PROVENANCE_ACCEPT: &str =
    "application/vnd.pypi.integrity.v1+json, application/json;q=0.9";

/// The distribution file name and the type of an attestation file name
/// `<dist>.<type>.attestation` (uv's convention: `<type>` has no `.`, neither part is
/// empty), e.g. `("a-1.tar.gz", "publish")`; `None` for any other name.
pub fn split_filename(name: &str) -> Option<(&str, &str)> {
    let stem = name.strip_suffix(SUFFIX)?;
    let (dist, kind) = stem.rsplit_once('.')?;
    (!dist.is_empty() && !kind.is_empty()).then_some((dist, kind))
}

/// True for an attestation file name ([`split_filename`] accepts it).
pub fn is_attestation_filename(name: &str) -> bool {
    split_filename(name).is_some()
}

/// The attestation files of the distribution at `dist_path`: every file beside it named
/// `<its file name>.<type>.attestation`, sorted by name. A folder that cannot be listed
/// has none. Errors: none beyond an unreadable folder, which is reported as no files (the
/// distribution itself was read from it).
pub fn find_files(dist_path: &Path) -> Vec<PathBuf> {
    let Some(filename) = dist_path.file_name().and_then(|n| n.to_str()) else {
        return Vec::new();
    };
    let dir = match dist_path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_str()
                .and_then(split_filename)
                .is_some_and(|(d, _)| d == filename)
        })
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    out
}

/// An attestation file larger than this is not read (a PEP 740 attestation is a few KiB).
pub const MAX_FILE_SIZE: u64 = 1024 * 1024;

/// The attestation files of the distribution at `dist_path` ([`find_files`]), read:
/// `(file name, contents)`. Errors: I/O errors via [`StageError::io`]; a file over
/// [`MAX_FILE_SIZE`] ([`airlock_stage::Category::Validation`]).
pub fn read_files(dist_path: &Path) -> Result<Vec<(String, Vec<u8>)>, StageError> {
    let mut out = Vec::new();
    for path in find_files(dist_path) {
        let shown = path.display().to_string();
        let len = std::fs::metadata(&path)
            .map_err(|e| StageError::io(&shown, &e))?
            .len();
        if len > MAX_FILE_SIZE {
            return Err(StageError::validation(format!(
                "{shown} is {len} bytes, more than an attestation can be ({MAX_FILE_SIZE})"
            )));
        }
        let bytes = std::fs::read(&path).map_err(|e| StageError::io(&shown, &e))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or(shown);
        out.push((name, bytes));
    }
    Ok(out)
}

/// An attestation checked against the distribution it is sent with.
#[derive(Debug, Clone, PartialEq)]
pub struct Attestation {
    /// Where it came from (the attestation file's name), for messages.
    pub source: String,
    /// The attestation object as read (sent as is).
    pub object: Value,
    /// The statement's `predicateType`.
    pub predicate_type: String,
}

/// Decodes standard base64 (with or without padding), else URL-safe base64.
pub fn decode_base64(s: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let s = s.trim();
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|e| e.decode(s).ok())
}

/// Checks the attestation `bytes` (read from `source`) against the distribution
/// `filename` with `sha256` (lowercase hex), as pypi-attestations' model and
/// `Attestation.verify` do short of the signature: a PEP 740 attestation object
/// ([`airlock_attest::Attestation`], parsed strictly) with `version` 1, base64 certificate
/// and signature, at least one transparency entry, and a statement about this file
/// ([`airlock_attest::statement::Statement::about`]).
///
/// Errors: a sentence saying what did not match (e.g. "the statement's sha256 for … is …,
/// but the file's is …").
pub fn check(
    source: &str,
    bytes: &[u8],
    filename: &str,
    sha256: &str,
) -> Result<Attestation, String> {
    let att = airlock_attest::Attestation::from_json(bytes)?;
    if att.version != 1 {
        return Err(format!("its version is {}, not 1", att.version));
    }
    if att.verification_material.transparency_entries.is_empty() {
        return Err("its verification_material.transparency_entries is empty".into());
    }
    for (what, field) in [
        (
            "verification_material.certificate",
            &att.verification_material.certificate,
        ),
        ("envelope.signature", &att.envelope.signature),
    ] {
        if decode_base64(field).is_none() {
            return Err(format!("its {what} is not base64"));
        }
    }
    let statement = att.statement_bytes()?;
    let st = airlock_attest::statement::Statement::about(&statement, filename, sha256)?;
    let object = serde_json::from_slice(bytes).map_err(|e| format!("it is not JSON ({e})"))?;
    Ok(Attestation {
        source: source.to_string(),
        predicate_type: st.predicate_type,
        object,
    })
}

/// Checks a file's set of attestations as warehouse does: at most [`MAX_PER_FILE`], and no
/// two of one predicate type. Errors: a sentence naming the problem.
pub fn check_set(attestations: &[Attestation]) -> Result<(), String> {
    if attestations.len() > MAX_PER_FILE {
        return Err(format!(
            "{} attestations ({}); an index takes at most {MAX_PER_FILE} per file",
            attestations.len(),
            sources(attestations)
        ));
    }
    for (i, a) in attestations.iter().enumerate() {
        if let Some(b) = attestations[..i]
            .iter()
            .find(|b| b.predicate_type == a.predicate_type)
        {
            return Err(format!(
                "{} and {} have the same predicate type {}; an index takes one per type",
                b.source, a.source, a.predicate_type
            ));
        }
    }
    Ok(())
}

fn sources(attestations: &[Attestation]) -> String {
    attestations
        .iter()
        .map(|a| a.source.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The legacy upload API's `attestations` form field: the JSON array of the attestation
/// objects, compact (as uv-publish sends it). `None` for no attestations: the field is
/// then left out (warehouse refuses an empty set).
pub fn form_field(attestations: &[Value]) -> Option<String> {
    (!attestations.is_empty()).then(|| Value::Array(attestations.to_vec()).to_string())
}

/// A provenance object (PEP 740 / warehouse's integrity API) of one bundle:
/// `{"version": 1, "attestation_bundles": [{"publisher": publisher, "attestations":
/// attestations}]}`; `publisher` is `null` when unknown.
pub fn provenance(attestations: &[Value], publisher: Option<Value>) -> Value {
    serde_json::json!({
        "version": 1,
        "attestation_bundles": [{
            "publisher": publisher.unwrap_or(Value::Null),
            "attestations": attestations,
        }],
    })
}

/// A provenance object as an index serves it, read.
#[derive(Debug, Clone, PartialEq)]
pub struct Provenance {
    /// Every bundle's publisher, in order (`null` where a bundle has none).
    pub publishers: Vec<Value>,
    /// Every bundle's attestations, flattened in order.
    pub attestations: Vec<Value>,
}

/// Parses a provenance object (`{"version": 1, "attestation_bundles": [{"publisher",
/// "attestations": [...]}]}`). Errors: not JSON, `version` not 1, no `attestation_bundles`
/// array, or a bundle without an `attestations` array.
pub fn parse_provenance(body: &[u8]) -> Result<Provenance, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON ({e})"))?;
    if v.get("version").and_then(Value::as_u64) != Some(1) {
        return Err("its version is not 1".into());
    }
    let bundles = v
        .get("attestation_bundles")
        .and_then(Value::as_array)
        .ok_or("it has no attestation_bundles array")?;
    let mut out = Provenance {
        publishers: Vec::new(),
        attestations: Vec::new(),
    };
    for b in bundles {
        let atts = b
            .get("attestations")
            .and_then(Value::as_array)
            .ok_or("a bundle has no attestations array")?;
        out.publishers
            .push(b.get("publisher").cloned().unwrap_or(Value::Null));
        out.attestations.extend(atts.iter().cloned());
    }
    Ok(out)
}

/// What a repository serves of the attestations sent with one file, checked after the
/// upload (the upload stage's output `files[*].provenance`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ServedProvenance {
    /// The provenance URL the simple page lists (resolved against the page; for a `file:`
    /// repository, as written on the page).
    pub url: String,
    /// The first bundle's publisher (warehouse: the Trusted Publisher's
    /// `attestation_identity`, e.g. `{"kind": "GitHub", "repository": "owner/repo",
    /// "workflow": "release.yml", "environment": "pypi"}`); `null` when unknown.
    pub publisher: Value,
    /// Every bundle's publisher, in order (warehouse serves one bundle).
    pub publishers: Vec<Value>,
}

/// An attestation object with its base64 fields decoded (to hex), so that two encodings of
/// the same bytes (padding, alphabet) compare equal; other fields compare as JSON values.
fn canonical(a: &Value) -> Value {
    let mut a = a.clone();
    for ptr in [
        "/verification_material/certificate",
        "/envelope/statement",
        "/envelope/signature",
    ] {
        if let Some(v) = a.pointer_mut(ptr)
            && let Some(bytes) = v.as_str().and_then(decode_base64)
        {
            *v = Value::String(hex::encode(bytes));
        }
    }
    a
}

/// True when `served` holds exactly the attestations of `sent`, in any order (each
/// compared with its base64 fields decoded: an index re-encodes what it stores).
pub fn same_attestations(sent: &[Value], served: &[Value]) -> bool {
    if sent.len() != served.len() {
        return false;
    }
    let mut left: Vec<Value> = served.iter().map(canonical).collect();
    for s in sent.iter().map(canonical) {
        match left.iter().position(|x| *x == s) {
            Some(i) => {
                left.swap_remove(i);
            }
            None => return false,
        }
    }
    true
}

/// Resolves a link `href` found on the page at `base` (an absolute URL) as RFC 3986 §5.2
/// says, with the `url` crate; `href` as it is when either does not parse.
pub fn resolve_url(base: &str, href: &str) -> String {
    url::Url::parse(base)
        .and_then(|b| b.join(href))
        .map(String::from)
        .unwrap_or_else(|_| href.to_string())
}

/// Checks what an index serves as the provenance of `filename` (read from `url`, parsed or
/// not) against the attestations `sent` with it: the same attestations
/// ([`same_attestations`]) and, for each bundle's publisher, the identity that signed them
/// ([`check_publisher`]). Ok: what the stage reports. Errors: a sentence naming the file.
pub fn check_served(
    filename: &str,
    url: &str,
    sent: &[Value],
    served: Result<Provenance, String>,
) -> Result<ServedProvenance, String> {
    let p = served.map_err(|why| format!("{filename}: {why}"))?;
    if !same_attestations(sent, &p.attestations) {
        return Err(format!(
            "{filename}: the provenance at {url} holds {} attestation(s) that are not the {} sent with it",
            p.attestations.len(),
            sent.len()
        ));
    }
    if let Some(e) = p
        .publishers
        .iter()
        .find_map(|pb| check_publisher(pb, sent).err())
    {
        return Err(format!("{filename}: {e}"));
    }
    Ok(ServedProvenance {
        url: url.to_string(),
        publisher: p.publishers.first().cloned().unwrap_or_default(),
        publishers: p.publishers,
    })
}

/// Checks that the index's `publisher` (a provenance bundle's, e.g. `{"kind": "GitHub",
/// "repository": "octo/repo", "workflow": "release.yml", "environment": "pypi"}`, or
/// GitLab's with `workflow_filepath`) is the identity that signed each of `attestations`
/// (the Fulcio certificate's issuer, source repository and build config URI,
/// [`airlock_attest::Identity`]), as PyPI itself checks a trusted publisher's attestations.
/// Publishers of other kinds (Google, ActiveState) are not compared. Errors: a sentence
/// naming both identities.
pub fn check_publisher(publisher: &Value, attestations: &[Value]) -> Result<(), String> {
    let kind = publisher.get("kind").and_then(Value::as_str).unwrap_or("");
    let Some(forge) = airlock_attest::Forge::of_kind(kind) else {
        return Ok(());
    };
    let field = |k: &str| publisher.get(k).and_then(Value::as_str).unwrap_or("");
    let policy = airlock_attest::Policy {
        forge,
        repository: field("repository").to_string(),
        workflow: field(forge.workflow_field()).to_string(),
        git_ref: None,
    };
    for a in attestations {
        let att = airlock_attest::Attestation::from_json(a.to_string().as_bytes())?;
        let der = decode_base64(&att.verification_material.certificate)
            .ok_or("its certificate is not base64")?;
        let id = airlock_attest::Identity::of_der(&der)?;
        if airlock_attest::verify::check_identity(&id, &policy).is_err() {
            return Err(format!(
                "the index names publisher {} ({}), but the attestation was signed by {}",
                policy.repository,
                policy.workflow,
                id.describe()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;

    /// A syntactically valid attestation of `name` with `sha256` and `predicate`
    /// (signature and certificate are placeholders).
    pub(crate) fn attestation(name: &str, sha256: &str, predicate: &str) -> Value {
        let statement = serde_json::json!({
            "_type": STATEMENT_TYPE,
            "subject": [{ "name": name, "digest": { "sha256": sha256 } }],
            "predicateType": predicate,
            "predicate": {},
        });
        serde_json::json!({
            "version": 1,
            "verification_material": {
                "certificate": STANDARD.encode(b"not a certificate"),
                "transparency_entries": [{
                    "logIndex": "1", "logId": { "keyId": STANDARD.encode(b"rekor") },
                    "kindVersion": { "kind": "dsse", "version": "0.0.1" },
                    "integratedTime": "1", "canonicalizedBody": STANDARD.encode(b"{}"),
                }],
            },
            "envelope": {
                "statement": STANDARD.encode(statement.to_string()),
                "signature": STANDARD.encode(b"not a signature"),
            },
        })
    }

    #[test]
    fn attestation_file_names_follow_uv() {
        assert_eq!(
            split_filename("a-1.tar.gz.publish.attestation"),
            Some(("a-1.tar.gz", "publish"))
        );
        assert_eq!(
            split_filename("a-1-py3-none-any.whl.slsa.attestation"),
            Some(("a-1-py3-none-any.whl", "slsa"))
        );
        assert_eq!(split_filename("a.attestation"), None);
        assert_eq!(split_filename(".publish.attestation"), None);
        assert_eq!(split_filename("a-1.tar.gz"), None);
        let dir = tempfile::tempdir().unwrap();
        for f in [
            "a-1.tar.gz",
            "a-1.tar.gz.publish.attestation",
            "a-1.tar.gz.build.attestation",
            "b-1.tar.gz.publish.attestation",
            "a-1.tar.gz.attestation",
        ] {
            std::fs::write(dir.path().join(f), b"{}").unwrap();
        }
        let found: Vec<String> = find_files(&dir.path().join("a-1.tar.gz"))
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            found,
            vec![
                "a-1.tar.gz.build.attestation",
                "a-1.tar.gz.publish.attestation"
            ]
        );
    }

    #[test]
    fn checks_name_digest_and_shape() {
        let sha = "ab".repeat(32);
        let good = attestation("a-1.tar.gz", &sha, PUBLISH_V1);
        let bytes = good.to_string().into_bytes();
        let a = check("x", &bytes, "a-1.tar.gz", &sha).unwrap();
        assert_eq!(a.predicate_type, PUBLISH_V1);
        assert_eq!(a.object, good);
        let e = check("x", &bytes, "a-2.tar.gz", &sha).unwrap_err();
        assert!(e.contains("for a-1.tar.gz, not a-2.tar.gz"), "{e}");
        let e = check("x", &bytes, "a-1.tar.gz", &"cd".repeat(32)).unwrap_err();
        assert!(e.contains("sha256"), "{e}");
        assert!(
            check("x", b"[1]", "a", &sha)
                .unwrap_err()
                .contains("object")
        );
        assert!(check("x", b"nope", "a", &sha).unwrap_err().contains("JSON"));
        let mut bad = good.clone();
        bad["envelope"]["statement"] = "%%%".into();
        assert!(
            check("x", bad.to_string().as_bytes(), "a-1.tar.gz", &sha)
                .unwrap_err()
                .contains("base64")
        );
        let mut bad = good.clone();
        bad["version"] = 2.into();
        assert!(check("x", bad.to_string().as_bytes(), "a-1.tar.gz", &sha).is_err());
        let other = attestation("a-1.tar.gz", &sha, "https://example.com/p");
        assert!(
            check("x", other.to_string().as_bytes(), "a-1.tar.gz", &sha)
                .unwrap_err()
                .contains("predicate type")
        );
    }

    #[test]
    fn provenance_round_trips_and_compares_decoded() {
        let sha = "ab".repeat(32);
        let a = attestation("a-1.tar.gz", &sha, PUBLISH_V1);
        let p = provenance(std::slice::from_ref(&a), None);
        let parsed = parse_provenance(p.to_string().as_bytes()).unwrap();
        assert_eq!(parsed.publishers, vec![Value::Null]);
        assert!(same_attestations(
            std::slice::from_ref(&a),
            &parsed.attestations
        ));
        // The same bytes without padding are the same attestation.
        let mut unpadded = a.clone();
        let s = unpadded["envelope"]["signature"].as_str().unwrap();
        unpadded["envelope"]["signature"] = s.trim_end_matches('=').into();
        assert!(same_attestations(std::slice::from_ref(&a), &[unpadded]));
        let b = attestation("a-1.tar.gz", &sha, SLSA_PROVENANCE_V1);
        assert!(!same_attestations(std::slice::from_ref(&a), &[b]));
        assert!(!same_attestations(std::slice::from_ref(&a), &[]));
        assert_eq!(form_field(&[]), None);
        assert!(form_field(&[a]).unwrap().starts_with("[{"));
    }

    #[test]
    fn resolves_links_like_a_browser() {
        let base = "https://pypi.org/simple/a/";
        assert_eq!(resolve_url(base, "https://x/y"), "https://x/y".to_string());
        assert_eq!(
            resolve_url(base, "/integrity/a/1/f/provenance"),
            "https://pypi.org/integrity/a/1/f/provenance"
        );
        assert_eq!(
            resolve_url(base, "../../packages/f.provenance"),
            "https://pypi.org/packages/f.provenance"
        );
        assert_eq!(
            resolve_url(base, "f.prov"),
            "https://pypi.org/simple/a/f.prov"
        );
        assert_eq!(resolve_url(base, "//h/p"), "https://h/p");
        assert_eq!(
            resolve_url("http://127.0.0.1:8/simple/a/", "../../../x"),
            "http://127.0.0.1:8/x"
        );
    }

    #[test]
    fn publishers_are_the_signers() {
        // A real attestation (pypi-attestations 0.0.19's sdist, Sigstore public good).
        let real: Value = serde_json::from_str(include_str!(
            "../../../crates/attest/tests/fixtures/pypi_attestations-0.0.19.tar.gz.publish.attestation"
        ))
        .unwrap();
        let github = |repo: &str, wf: &str| serde_json::json!({ "kind": "GitHub", "repository": repo, "workflow": wf, "environment": "" });
        let sent = std::slice::from_ref(&real);
        check_publisher(
            &github("trailofbits/pypi-attestations", "release.yml"),
            sent,
        )
        .unwrap();
        check_publisher(
            &github("TrailOfBits/PyPI-Attestations", "release.yml"),
            sent,
        )
        .unwrap();
        let e = check_publisher(&github("octo/other", "release.yml"), sent).unwrap_err();
        assert!(
            e.contains("publisher octo/other") && e.contains("trailofbits/pypi-attestations"),
            "{e}"
        );
        let e =
            check_publisher(&github("trailofbits/pypi-attestations", "ci.yml"), sent).unwrap_err();
        assert!(e.contains("(ci.yml)"), "{e}");
        // A GitLab publisher is compared too (and this signer is not one); other kinds are not.
        let e = check_publisher(
            &serde_json::json!({ "kind": "GitLab", "repository": "trailofbits/pypi-attestations", "workflow_filepath": ".gitlab-ci.yml" }),
            sent,
        )
        .unwrap_err();
        assert!(
            e.contains("signed by repository trailofbits/pypi-attestations"),
            "{e}"
        );
        check_publisher(&serde_json::json!({ "kind": "Google" }), sent).unwrap();
        // check_served puts both checks together.
        let provenance = Provenance {
            publishers: vec![github("octo/other", "release.yml")],
            attestations: vec![real.clone()],
        };
        let e = check_served("f.tar.gz", "u", sent, Ok(provenance)).unwrap_err();
        assert!(
            e.starts_with("f.tar.gz: the index names publisher octo/other"),
            "{e}"
        );
        let e = check_served(
            "f.tar.gz",
            "u",
            sent,
            Ok(Provenance {
                publishers: vec![],
                attestations: vec![],
            }),
        )
        .unwrap_err();
        assert!(
            e.contains("0 attestation(s) that are not the 1 sent"),
            "{e}"
        );
    }
}
