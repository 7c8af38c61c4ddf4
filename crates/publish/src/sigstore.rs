//! Sigstore keyless signing of PEP 740 statements, over a [`Transport`] (wasi:http in the
//! attest stage, a native client in tests):
//!
//! 1. an ephemeral ECDSA P-256 key ([`EphemeralKey`]), made from random bytes the caller
//!    supplies and never written anywhere;
//! 2. a signing certificate from Fulcio: `POST {fulcio}/api/v2/signingCert` with the OIDC
//!    ID token (audience `sigstore`), the public key, and a proof of possession (the key's
//!    signature over the token's `sub` claim) (Fulcio `fulcio.proto`, `CreateSigningCertificate`);
//! 3. per file, the DSSE signature over the statement and an entry in Rekor:
//!    `POST {rekor}/api/v1/log/entries` with a `dsse` 0.0.1 proposed entry, answered `201`
//!    with the entry, its inclusion proof, checkpoint and signed entry timestamp
//!    (Rekor `openapi.yaml` `createLogEntry`).
//!
//! Transient failures (transport errors, 408, 429, 5xx) are retried with
//! [`RetryPolicy`]'s backoff; every error says what to fix.

use std::time::Duration;

use crate::index::USER_AGENT;
use crate::retry::{RetryPolicy, send_retrying};
use airlock_stage::http::{Request, Transport};
use airlock_stage::{Category, StageError};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use p256::ecdsa::signature::Signer;
use p256::pkcs8::{EncodePublicKey, LineEnding};

use airlock_attest::dsse::{Envelope, pae};
use airlock_attest::model::{Attestation, TransparencyEntry};
use airlock_attest::rekor::{ENTRIES_PATH, entry_from_response, pem_to_der, proposed_entry};
use airlock_attest::statement::{PAYLOAD_TYPE, Statement};

/// Fulcio's certificate endpoint path.
pub const SIGNING_CERT_PATH: &str = "/api/v2/signingCert";
/// The OIDC audience Fulcio accepts.
pub const AUDIENCE: &str = "sigstore";

/// An ephemeral ECDSA P-256 signing key. It lives in memory only; dropping it forgets it
/// (the signing certificate is valid for minutes and the key is never output).
pub struct EphemeralKey(p256::ecdsa::SigningKey);

impl EphemeralKey {
    /// A key from 32-byte draws of `fill` (e.g. wasi:random), retried until the bytes are a
    /// valid P-256 scalar.
    pub fn generate(mut fill: impl FnMut(&mut [u8])) -> Self {
        loop {
            let mut bytes = [0u8; 32];
            fill(&mut bytes);
            if let Ok(k) = p256::ecdsa::SigningKey::from_slice(&bytes) {
                return EphemeralKey(k);
            }
        }
    }

    /// The public key as SPKI PEM.
    pub fn public_pem(&self) -> String {
        self.0
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .expect("a P-256 key encodes")
    }

    /// The DER ECDSA (SHA-256, RFC 6979 nonce) signature over `msg`.
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        let sig: p256::ecdsa::Signature = self.0.sign(msg);
        sig.to_der().as_bytes().to_vec()
    }
}

/// Where to sign: the Fulcio and Rekor base URLs (`https://fulcio.sigstore.dev`,
/// `https://rekor.sigstore.dev` for the public-good instance).
#[derive(Debug, Clone)]
pub struct Services {
    /// Fulcio's base URL.
    pub fulcio: String,
    /// Rekor's base URL.
    pub rekor: String,
    /// Retries of transient failures.
    pub retry: RetryPolicy,
}

/// The `sub` claim of JWT `token` (Fulcio's proof-of-possession challenge). Errors: not a JWT.
pub fn token_subject(token: &str) -> Result<String, StageError> {
    let claims = token
        .split('.')
        .nth(1)
        .and_then(|p| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p.trim_end_matches('='))
                .ok()
        })
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
    claims
        .as_ref()
        .and_then(|c| c.get("sub"))
        .and_then(|s| s.as_str())
        .map(String::from)
        .ok_or_else(|| {
            StageError::new(
                Category::Authentication,
                "the OIDC ID token is not a JWT with a `sub` claim",
            )
        })
}

/// Step 2: the signing certificate chain (DER, leaf first) for `key`, from Fulcio at
/// `fulcio`, for ID token `token`. Errors: [`Category::Authentication`] when Fulcio refuses
/// the token (hint: audience `sigstore`, `id-token: write`), [`Category::Network`] when it
/// cannot be reached or fails, [`Category::Validation`] for an answer without a chain.
pub fn signing_certificate(
    t: &mut dyn Transport,
    fulcio: &str,
    token: &str,
    key: &EphemeralKey,
    retry: &RetryPolicy,
    sleep: &mut dyn FnMut(Duration),
) -> Result<Vec<Vec<u8>>, StageError> {
    let sub = token_subject(token)?;
    let body = serde_json::json!({
        "credentials": { "oidcIdentityToken": token },
        "publicKeyRequest": {
            "publicKey": { "algorithm": "ECDSA", "content": key.public_pem() },
            "proofOfPossession": STANDARD.encode(key.sign(sub.as_bytes())),
        }
    });
    let url = format!("{}{SIGNING_CERT_PATH}", fulcio.trim_end_matches('/'));
    let req = Request::post(&url, "application/json", body.to_string().into_bytes())
        .header("accept", "application/json")
        .header("user-agent", USER_AGENT);
    let resp = send_retrying(t, &req, retry, &format!("Fulcio ({fulcio})"), sleep)?;
    let msg = crate::answer::server_message(&resp.body);
    match resp.status {
        200 | 201 => {}
        400 | 401 | 403 => {
            return Err(StageError::new(
                Category::Authentication,
                format!("Fulcio ({fulcio}) refused the signing certificate request: {} {msg}", resp.status),
            )
            .with_hint("Fulcio takes a GitHub Actions ID token for audience `sigstore`: the job needs `permissions: id-token: write`, and the token must be fresh (it lives 5 minutes)"));
        }
        s => {
            return Err(StageError::new(
                Category::Network,
                format!("Fulcio ({fulcio}) answered {s}: {msg}"),
            )
            .with_hint("check the `fulcio` URL, and https://status.sigstore.dev"));
        }
    }
    let v: serde_json::Value = serde_json::from_slice(&resp.body).unwrap_or_default();
    let certs = v
        .pointer("/signedCertificateEmbeddedSct/chain/certificates")
        .or_else(|| v.pointer("/signedCertificateDetachedSct/chain/certificates"))
        .and_then(|c| c.as_array())
        .map(|c| {
            c.iter()
                .filter_map(|p| p.as_str())
                .map(pem_to_der)
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()
        .map_err(|e| StageError::validation(format!("Fulcio's certificate chain: {e}")))?
        .unwrap_or_default();
    if certs.is_empty() {
        return Err(StageError::validation(format!(
            "Fulcio ({fulcio}) answered without a certificate chain (signedCertificateEmbeddedSct.chain.certificates)"
        )));
    }
    Ok(certs)
}

/// Step 3 for one envelope: logs `envelope` (signed by `cert_der`'s key) in Rekor at
/// `rekor`; the entry as it goes into the attestation. Errors: [`Category::Network`] when
/// the log cannot be reached or fails (retryable), [`Category::Validation`] when it refuses
/// the entry or answers something that is not an entry.
pub fn log_entry(
    t: &mut dyn Transport,
    rekor: &str,
    envelope: &Envelope,
    cert_der: &[u8],
    retry: &RetryPolicy,
    sleep: &mut dyn FnMut(Duration),
) -> Result<TransparencyEntry, StageError> {
    let envelope_json = serde_json::to_string(envelope).expect("serializes");
    let body = proposed_entry(&envelope_json, cert_der);
    let url = format!("{}{ENTRIES_PATH}", rekor.trim_end_matches('/'));
    let req = Request::post(&url, "application/json", body.to_string().into_bytes())
        .header("accept", "application/json")
        .header("user-agent", USER_AGENT);
    let resp = send_retrying(t, &req, retry, &format!("the transparency log Rekor ({rekor})"), sleep)
        .map_err(|e| e.with_hint("the attestation needs the transparency log: check the `rekor` URL and https://status.sigstore.dev, then run the stage again"))?;
    if resp.status != 201 && resp.status != 200 {
        return Err(StageError::validation(format!(
            "the transparency log Rekor ({rekor}) refused the entry: {} {}",
            resp.status,
            crate::answer::server_message(&resp.body)
        )));
    }
    entry_from_response(&resp.body).map_err(|e| {
        StageError::validation(format!(
            "the transparency log Rekor ({rekor}) answered something that is not a log entry: {e}"
        ))
    })
}

/// Signs `statement` with `key` (whose certificate is `cert_der`) and logs it: the PEP 740
/// attestation.
pub fn attest_statement(
    t: &mut dyn Transport,
    services: &Services,
    key: &EphemeralKey,
    cert_der: &[u8],
    statement: &Statement,
    sleep: &mut dyn FnMut(Duration),
) -> Result<Attestation, StageError> {
    let payload = statement.to_bytes();
    let sig = key.sign(&pae(PAYLOAD_TYPE, &payload));
    let envelope = Envelope::new(PAYLOAD_TYPE, &payload, &sig);
    let entry = log_entry(
        t,
        &services.rekor,
        &envelope,
        cert_der,
        &services.retry,
        sleep,
    )?;
    Ok(Attestation::new(&payload, &sig, cert_der, entry))
}
