//! The verifier on attestations that real PyPI publishers made with Sigstore's public-good
//! instance (Fulcio's P-384 CA chain, its CT log's SCT, Rekor's checkpoints): the test assets
//! of trailofbits/pypi-attestations (Apache-2.0), in tests/fixtures/, with the trusted
//! roots sigstore-python 4.5.1 bundles (public good, and staging for the wheel's). Nothing
//! is fetched.

use airlock_attest::trust::TrustedRoot;
use airlock_attest::{Attestation, Policy, verify};

const SDIST: &str = "pypi_attestations-0.0.19.tar.gz";
const SDIST_SHA256: &str = "9bb1add04b1b4e182be6b0b80931593f7a291eb49d69b4fd728a5d4cbcdc4bd3";
const WHEEL: &str = "rfc8785-0.1.2-py3-none-any.whl";
const WHEEL_SHA256: &str = "c4e92e9ecc828bef2aa7dba1de8ac983511f7532a0df11c770d39099a25cf201";

fn fixture(name: &str) -> Attestation {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    Attestation::from_json(&std::fs::read(path).unwrap()).unwrap()
}

fn policy(repository: &str, workflow: &str) -> Policy {
    Policy {
        forge: airlock_attest::Forge::GitHub,
        repository: repository.into(),
        workflow: workflow.into(),
        git_ref: None,
    }
}

#[test]
fn real_publish_and_slsa_attestations_verify() {
    let root = TrustedRoot::public_good();
    let p = policy("trailofbits/pypi-attestations", "release.yml");
    let v = verify(
        &fixture(&format!("{SDIST}.publish.attestation")),
        SDIST,
        SDIST_SHA256,
        &root,
        Some(&p),
    )
    .unwrap();
    assert_eq!(
        v.predicate_type,
        "https://docs.pypi.org/attestations/publish/v1"
    );
    assert_eq!(
        v.identity.repository(),
        Some("trailofbits/pypi-attestations")
    );
    assert_eq!(v.identity.workflow(), Some("release.yml"));
    let v = verify(
        &fixture(&format!("{SDIST}.slsa.attestation")),
        SDIST,
        SDIST_SHA256,
        &root,
        Some(&p),
    )
    .unwrap();
    assert_eq!(v.predicate_type, "https://slsa.dev/provenance/v1");
    // Signed with Sigstore's staging instance: not trusted by the public-good root.
    let w = fixture(&format!("{WHEEL}.publish.attestation"));
    let e = verify(&w, WHEEL, WHEEL_SHA256, &root, None).unwrap_err();
    assert_eq!(e.check, "certificate", "{e}");
    let staging = std::fs::read_to_string(format!(
        "{}/tests/fixtures/sigstage-trusted-root.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let root = TrustedRoot::from_json(&staging).unwrap();
    let v = verify(&w, WHEEL, WHEEL_SHA256, &root, None).unwrap();
    assert!(!v.identity.san.is_empty(), "{:?}", v.identity);
    // It was signed by a person, not a workflow: a GitHub publisher policy refuses it.
    let e = verify(
        &w,
        WHEEL,
        WHEEL_SHA256,
        &root,
        Some(&policy("trailofbits/rfc8785.py", "release.yml")),
    )
    .unwrap_err();
    assert_eq!(e.check, "identity", "{e}");
}

#[test]
fn real_attestations_are_refused_for_what_does_not_match() {
    let root = TrustedRoot::public_good();
    let p = policy("trailofbits/pypi-attestations", "release.yml");
    let att = fixture(&format!("{SDIST}.publish.attestation"));
    // Another file's digest: the statement is about other bytes.
    let e = verify(&att, SDIST, WHEEL_SHA256, &root, Some(&p)).unwrap_err();
    assert_eq!(e.check, "statement", "{e}");
    assert!(e.message.contains("attests other bytes"), "{e}");
    // Another file's name.
    let e = verify(&att, WHEEL, SDIST_SHA256, &root, Some(&p)).unwrap_err();
    assert_eq!(e.check, "statement", "{e}");
    // Another repository or workflow.
    let e = verify(
        &att,
        SDIST,
        SDIST_SHA256,
        &root,
        Some(&policy("octo/other", "release.yml")),
    )
    .unwrap_err();
    assert_eq!(e.check, "identity", "{e}");
    assert!(e.message.contains("octo/other"), "{e}");
    let e = verify(
        &att,
        SDIST,
        SDIST_SHA256,
        &root,
        Some(&policy("trailofbits/pypi-attestations", "ci.yml")),
    )
    .unwrap_err();
    assert_eq!(e.check, "identity", "{e}");
    // A tampered statement: the signature no longer covers it.
    let mut t = att.clone();
    let mut st = t.statement_bytes().unwrap();
    st[40] ^= 1;
    use base64::Engine;
    t.envelope.statement = base64::engine::general_purpose::STANDARD.encode(&st);
    let e = verify(&t, SDIST, SDIST_SHA256, &root, Some(&p)).unwrap_err();
    assert_eq!(e.check, "signature", "{e}");
    // An inclusion proof whose path does not lead to the checkpoint's root.
    let mut t = att.clone();
    let proof = t.verification_material.transparency_entries[0]
        .inclusion_proof
        .as_mut()
        .unwrap();
    let mut h = base64::engine::general_purpose::STANDARD
        .decode(&proof.hashes[0])
        .unwrap();
    h[0] ^= 1;
    proof.hashes[0] = base64::engine::general_purpose::STANDARD.encode(h);
    let e = verify(&t, SDIST, SDIST_SHA256, &root, Some(&p)).unwrap_err();
    assert_eq!(e.check, "inclusion proof", "{e}");
    // A trusted root that does not know the CA.
    let empty = TrustedRoot {
        authorities: vec![],
        ..TrustedRoot::public_good()
    };
    let e = verify(&att, SDIST, SDIST_SHA256, &empty, Some(&p)).unwrap_err();
    assert_eq!(e.check, "certificate", "{e}");
}

#[test]
fn a_real_gitlab_attestation_verifies_for_its_pipeline_only() {
    let name = "gitlab_oidc_project-0.0.3.tar.gz";
    let sha = "c1ca9b0d85df1606451098233018534497bf584362e10e4a8c21dfaea92c02a8";
    let att = fixture(&format!("{name}.publish.attestation"));
    let root = TrustedRoot::public_good();
    let gitlab = |repo: &str, path: &str| Policy {
        forge: airlock_attest::Forge::GitLab,
        repository: repo.into(),
        workflow: path.into(),
        git_ref: None,
    };
    let v = verify(
        &att,
        name,
        sha,
        &root,
        Some(&gitlab("facutuesca/gitlab-oidc-project", ".gitlab-ci.yml")),
    )
    .unwrap();
    assert_eq!(
        v.identity.repository(),
        Some("facutuesca/gitlab-oidc-project")
    );
    assert_eq!(v.identity.workflow(), Some(".gitlab-ci.yml"));
    let e = verify(
        &att,
        name,
        sha,
        &root,
        Some(&gitlab("facutuesca/other", ".gitlab-ci.yml")),
    )
    .unwrap_err();
    assert_eq!(e.check, "identity", "{e}");
    let e = verify(
        &att,
        name,
        sha,
        &root,
        Some(&gitlab("facutuesca/gitlab-oidc-project", "ci/release.yml")),
    )
    .unwrap_err();
    assert!(e.message.contains("expected ci/release.yml"), "{e}");
    // The same names as a GitHub publisher: the issuer is GitLab's.
    let e = verify(
        &att,
        name,
        sha,
        &root,
        Some(&policy("facutuesca/gitlab-oidc-project", ".gitlab-ci.yml")),
    )
    .unwrap_err();
    assert!(e.message.contains("not GitHub"), "{e}");
}
