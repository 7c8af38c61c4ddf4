//! Offline verification of a PEP 740 attestation, step by step as sigstore-python's
//! `Verifier.verify_dsse` and pypi-attestations' `Attestation.verify` do it:
//!
//! 1. the signing certificate chains to a CA of the trusted root, and carries a valid
//!    embedded SCT from one of its CT logs;
//! 2. the DSSE signature over the statement verifies with the certificate's key;
//! 3. the transparency-log entry is for this envelope (payload hash, signature, verifier),
//!    its signed entry timestamp verifies with a log of the trusted root, its inclusion proof
//!    leads to the root hash of a checkpoint that log signed, and the log integrated it
//!    while the certificate was valid;
//! 4. the statement is an in-toto Statement v1 about exactly this file (name and sha256)
//!    with a PEP 740 predicate type;
//! 5. the certificate's identity is the expected publisher ([`Policy`]).
//!
//! Every refusal is a [`VerifyError`] naming the step and what did not match.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use crate::model::Attestation;
use crate::rekor::{
    SignedCheckpoint, leaf_hash, pem_to_der, root_from_inclusion_proof, set_payload,
};
use crate::statement::{PAYLOAD_TYPE, Statement};
use crate::trust::TrustedRoot;
use crate::x509::{self, Hash, Identity, verify_ecdsa};

/// The publisher an attestation must come from, as PyPI's trusted publishers name it: a
/// GitHub Actions workflow (repository and workflow file name) or a GitLab CI/CD pipeline
/// (project path and CI configuration file path); optionally the ref the job ran on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// GitHub or GitLab.
    pub forge: crate::Forge,
    /// `OWNER/REPO` (GitHub, compared case-insensitively as GitHub does) or
    /// `GROUP/[SUBGROUP/]PROJECT` (GitLab, compared exactly, as pypi-attestations does).
    pub repository: String,
    /// The workflow file name (GitHub, e.g. `release.yml`) or the CI configuration file's
    /// path (GitLab, e.g. `.gitlab-ci.yml`).
    pub workflow: String,
    /// The Git ref the job ran for, e.g. `refs/tags/v1.0` (certificate extension .14).
    pub git_ref: Option<String>,
}

/// What a verified attestation says.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    /// The statement's predicate type.
    pub predicate_type: String,
    /// The statement's predicate.
    pub predicate: serde_json::Value,
    /// Who signed (the certificate's Fulcio extensions).
    pub identity: Identity,
    /// The entry's index in the transparency log.
    pub log_index: u64,
    /// When the log integrated it (unix seconds).
    pub integrated_time: u64,
}

/// Why an attestation was refused: the check that failed and what did not match.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{check}: {message}")]
pub struct VerifyError {
    /// `attestation`, `certificate`, `sct`, `signature`, `transparency log`,
    /// `inclusion proof`, `statement` or `identity`.
    pub check: &'static str,
    /// What did not match.
    pub message: String,
}

fn fail<T>(check: &'static str, message: impl Into<String>) -> Result<T, VerifyError> {
    Err(VerifyError {
        check,
        message: message.into(),
    })
}

fn b64(check: &'static str, what: &str, s: &str) -> Result<Vec<u8>, VerifyError> {
    STANDARD
        .decode(s)
        .or_else(|_| fail(check, format!("{what} is not base64")))
}

fn int(check: &'static str, what: &str, s: &str) -> Result<u64, VerifyError> {
    s.parse()
        .or_else(|_| fail(check, format!("{what} {s:?} is not an integer")))
}

/// Verifies attestation `att` for the distribution file named `filename` whose bytes have
/// sha256 `sha256` (lowercase hex), against trusted root `root` and publisher `policy`
/// (None: any identity, which is then only reported). See the module docs for the steps.
pub fn verify(
    att: &Attestation,
    filename: &str,
    sha256: &str,
    root: &TrustedRoot,
    policy: Option<&Policy>,
) -> Result<Verified, VerifyError> {
    if att.version != 1 {
        return fail("attestation", format!("version is {}, not 1", att.version));
    }
    let [entry] = att.verification_material.transparency_entries.as_slice() else {
        return fail(
            "attestation",
            format!(
                "{} transparency entries, expected exactly one",
                att.verification_material.transparency_entries.len()
            ),
        );
    };
    let cert_der = b64(
        "certificate",
        "the certificate",
        &att.verification_material.certificate,
    )?;
    let cert = x509::parse(&cert_der).or_else(|e| fail("certificate", e))?;
    let statement = b64("attestation", "envelope.statement", &att.envelope.statement)?;
    let signature = b64("attestation", "envelope.signature", &att.envelope.signature)?;
    let integrated_time = int("transparency log", "integratedTime", &entry.integrated_time)?;
    let log_index = int("transparency log", "logIndex", &entry.log_index)?;

    // 1. The certificate: its chain, its validity when logged, its SCT.
    let (not_before, not_after) = x509::validity(&cert);
    let authority = root
        .authorities
        .iter()
        .filter(|a| !a.chain.is_empty())
        .find(|a| x509::verify_issued_by(&cert, &a.chain[0]).is_ok());
    let Some(authority) = authority else {
        return fail(
            "certificate",
            format!(
                "issued by {}, which is not a certificate authority of the trusted root (or its signature does not verify)",
                cert.tbs_certificate.issuer
            ),
        );
    };
    for pair in authority.chain.windows(2) {
        x509::verify_issued_by(&pair[0], &pair[1])
            .or_else(|e| fail("certificate", format!("the trusted root's CA chain: {e}")))?;
    }
    if integrated_time < not_before || integrated_time > not_after {
        return fail(
            "certificate",
            format!(
                "the log integrated the entry at {integrated_time}, outside the certificate's validity ({not_before} to {not_after})"
            ),
        );
    }
    let issuer_spki = x509::spki_der(&authority.chain[0]);
    let scts = x509::embedded_scts(&cert).or_else(|e| fail("sct", e))?;
    if scts.is_empty() {
        return fail("sct", "the certificate carries no embedded SCT");
    }
    let mut sct_ok = false;
    let mut why = String::from("no SCT is from a CT log of the trusted root");
    for sct in &scts {
        let Some(log) = root.ctlog(&sct.log_id) else {
            continue;
        };
        let data = x509::sct_signed_data(&cert, &issuer_spki, sct).or_else(|e| fail("sct", e))?;
        match verify_ecdsa(&log.spki, Hash::Sha256, &data, &sct.signature) {
            Ok(()) => sct_ok = true,
            Err(e) => why = format!("the SCT of CT log {}: {e}", log.base_url),
        }
    }
    if !sct_ok {
        return fail("sct", why);
    }

    // 2. The DSSE signature.
    let pae = crate::dsse::pae(PAYLOAD_TYPE, &statement);
    verify_ecdsa(&x509::spki_der(&cert), Hash::Sha256, &pae, &signature).or_else(|e| {
        fail(
            "signature",
            format!("the envelope's signature over the statement: {e} (the envelope was altered, or signed by another key)"),
        )
    })?;

    // 3. The transparency log entry.
    let log_id = b64("transparency log", "logId.keyId", &entry.log_id.key_id)?;
    let Some(tlog) = root.tlog(&log_id) else {
        return fail(
            "transparency log",
            format!(
                "the entry is in log {}, which the trusted root does not list",
                hex::encode(&log_id)
            ),
        );
    };
    if !tlog.valid_at(integrated_time) {
        return fail(
            "transparency log",
            "the log's key was not valid when it integrated the entry",
        );
    }
    if (
        entry.kind_version.kind.as_str(),
        entry.kind_version.version.as_str(),
    ) != ("dsse", "0.0.1")
    {
        return fail(
            "transparency log",
            format!(
                "the entry is a {} {} entry, expected dsse 0.0.1",
                entry.kind_version.kind, entry.kind_version.version
            ),
        );
    }
    let body = b64(
        "transparency log",
        "canonicalizedBody",
        &entry.canonicalized_body,
    )?;
    let body_json: serde_json::Value = serde_json::from_slice(&body)
        .or_else(|_| fail("transparency log", "the entry's body is not JSON"))?;
    if body_json["kind"] != "dsse" {
        return fail("transparency log", "the entry's body is not a dsse entry");
    }
    let payload_hash = body_json
        .pointer("/spec/payloadHash/value")
        .and_then(|v| v.as_str());
    if payload_hash != Some(hex::encode(Sha256::digest(&statement)).as_str()) {
        return fail(
            "transparency log",
            "the logged payload hash is not the statement's sha256: the entry is for another statement",
        );
    }
    let sigs = body_json
        .pointer("/spec/signatures")
        .and_then(|v| v.as_array())
        .cloned()
        .unwrap_or_default();
    let [logged] = sigs.as_slice() else {
        return fail(
            "transparency log",
            format!("the entry logs {} signatures, expected one", sigs.len()),
        );
    };
    let logged_sig = logged["signature"]
        .as_str()
        .and_then(|s| STANDARD.decode(s).ok());
    if logged_sig.as_deref() != Some(signature.as_slice()) {
        return fail(
            "transparency log",
            "the logged signature is not the envelope's",
        );
    }
    let logged_cert = logged["verifier"]
        .as_str()
        .and_then(|s| STANDARD.decode(s).ok())
        .and_then(|pem| pem_to_der(&String::from_utf8_lossy(&pem)).ok());
    if logged_cert.as_deref() != Some(cert_der.as_slice()) {
        return fail(
            "transparency log",
            "the logged verifier is not the attestation's certificate",
        );
    }
    let Some(promise) = &entry.inclusion_promise else {
        return fail(
            "transparency log",
            "no signed entry timestamp (inclusionPromise)",
        );
    };
    let set = b64(
        "transparency log",
        "signedEntryTimestamp",
        &promise.signed_entry_timestamp,
    )?;
    let payload = set_payload(
        &entry.canonicalized_body,
        integrated_time as i64,
        &hex::encode(&log_id),
        log_index as i64,
    );
    verify_ecdsa(&tlog.spki, Hash::Sha256, &payload, &set).or_else(|e| {
        fail(
            "transparency log",
            format!("the signed entry timestamp: {e}"),
        )
    })?;
    let Some(proof) = &entry.inclusion_proof else {
        return fail("inclusion proof", "the entry has no inclusion proof");
    };
    let proof_index = int("inclusion proof", "logIndex", &proof.log_index)?;
    let size = int("inclusion proof", "treeSize", &proof.tree_size)?;
    let root_hash = b64("inclusion proof", "rootHash", &proof.root_hash)?;
    let hashes = proof
        .hashes
        .iter()
        .map(|h| {
            b64("inclusion proof", "a hash", h).and_then(|b| {
                <[u8; 32]>::try_from(b.as_slice())
                    .or_else(|_| fail("inclusion proof", "a hash is not 32 bytes"))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let computed = root_from_inclusion_proof(proof_index, size, leaf_hash(&body), &hashes)
        .or_else(|e| fail("inclusion proof", e))?;
    if computed[..] != root_hash[..] {
        return fail(
            "inclusion proof",
            format!(
                "the proof leads to root {}, not the proof's root hash {}",
                hex::encode(computed),
                hex::encode(&root_hash)
            ),
        );
    }
    let checkpoint = SignedCheckpoint::parse(&proof.checkpoint.envelope)
        .or_else(|e| fail("inclusion proof", format!("the checkpoint: {e}")))?;
    if checkpoint.size != size || checkpoint.root != root_hash {
        return fail(
            "inclusion proof",
            format!(
                "the proof is for a tree of {size} with root {}, but the checkpoint is for {} with root {}",
                hex::encode(&root_hash),
                checkpoint.size,
                hex::encode(&checkpoint.root)
            ),
        );
    }
    checkpoint
        .verify(&tlog.spki, &tlog.id)
        .or_else(|e| fail("inclusion proof", e))?;

    // 4. The statement.
    let st = Statement::about(&statement, filename, sha256).or_else(|e| fail("statement", e))?;

    // 5. The identity.
    let identity = Identity::of_certificate(&cert).or_else(|e| fail("certificate", e))?;
    if let Some(p) = policy {
        check_identity(&identity, p)?;
    }
    Ok(Verified {
        predicate_type: st.predicate_type,
        predicate: st.predicate,
        identity,
        log_index,
        integrated_time,
    })
}

/// Checks `identity` against `policy` as pypi-attestations' GitHub and GitLab publisher
/// policies do: the issuer is the forge's, the source repository URI is the repository's,
/// and the build config URI is the workflow's at the certificate's own commit or ref
/// ([`crate::Forge::build_config_uri`]); and the ref, when the policy names one.
pub fn check_identity(identity: &Identity, policy: &Policy) -> Result<(), VerifyError> {
    let forge = policy.forge;
    if identity.issuer.as_deref() != Some(forge.issuer()) {
        return fail(
            "identity",
            format!(
                "the certificate was issued for an identity from {}, not {} ({})",
                identity.issuer.as_deref().unwrap_or("MISSING"),
                forge.kind(),
                forge.issuer()
            ),
        );
    }
    let repo = identity.repository().unwrap_or("MISSING");
    let same_repo = match forge {
        crate::Forge::GitHub => repo.eq_ignore_ascii_case(&policy.repository),
        crate::Forge::GitLab => repo == policy.repository,
    };
    if !same_repo {
        return fail(
            "identity",
            format!(
                "signed by repository {repo}, expected {} (signer: {})",
                policy.repository,
                identity.describe()
            ),
        );
    }
    let uri = identity.build_config_uri.as_deref().unwrap_or("MISSING");
    let suffixes: Vec<&str> = [
        &identity.source_repository_digest,
        &identity.source_repository_ref,
    ]
    .into_iter()
    .flatten()
    .map(String::as_str)
    .collect();
    let matches = suffixes.iter().any(|s| {
        let want = forge.build_config_uri(&policy.repository, &policy.workflow, s);
        match forge {
            // GitHub paths are case-insensitive, workflow file names are not.
            crate::Forge::GitHub => {
                uri.eq_ignore_ascii_case(&want)
                    && uri.ends_with(&format!("/{}@{s}", policy.workflow))
            }
            crate::Forge::GitLab => uri == want,
        }
    });
    if !matches {
        return fail(
            "identity",
            format!(
                "signed by workflow {} ({uri}), expected {} of {}",
                identity.workflow().unwrap_or("MISSING"),
                policy.workflow,
                policy.repository
            ),
        );
    }
    if let Some(r) = &policy.git_ref
        && identity.source_repository_ref.as_deref() != Some(r.as_str())
    {
        return fail(
            "identity",
            format!(
                "signed on ref {}, expected {r}",
                identity
                    .source_repository_ref
                    .as_deref()
                    .unwrap_or("MISSING")
            ),
        );
    }
    Ok(())
}
