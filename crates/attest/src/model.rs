//! The PEP 740 attestation object and its transparency-log entry, as JSON.
//!
//! Shapes follow PEP 740 ("Attestation objects") and pypi-attestations' `Attestation`; the
//! entry is sigstore protobuf-specs' `dev.sigstore.rekor.v1.TransparencyLogEntry` in its
//! canonical JSON form (camelCase names, 64-bit integers as strings, bytes as base64).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

/// A PEP 740 attestation: `{"version": 1, "verification_material": …, "envelope": …}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attestation {
    /// Always 1.
    pub version: u32,
    /// The signing certificate and the transparency-log entry.
    pub verification_material: VerificationMaterial,
    /// The signed statement.
    pub envelope: AttestationEnvelope,
}

/// The certificate that signed, and where the signature was logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerificationMaterial {
    /// base64 of the DER leaf certificate (Fulcio's).
    pub certificate: String,
    /// The Rekor entries (PyPI and pypi-attestations use the first; exactly one here).
    pub transparency_entries: Vec<TransparencyEntry>,
}

/// The statement and its signature (a DSSE envelope of payload type
/// `application/vnd.in-toto+json`, flattened as PEP 740 does).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttestationEnvelope {
    /// base64 of the statement's bytes (an in-toto Statement v1 in JSON).
    pub statement: String,
    /// base64 of the DER ECDSA signature over the DSSE PAE of the statement.
    pub signature: String,
}

/// `TransparencyLogEntry` (sigstore protobuf-specs, `rekor/v1`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TransparencyEntry {
    /// The entry's index in the log (decimal string).
    pub log_index: String,
    /// The log's id: sha256 of its public key's SPKI DER.
    pub log_id: LogId,
    /// The entry's type: `{"kind": "dsse", "version": "0.0.1"}`.
    pub kind_version: KindVersion,
    /// When the log integrated the entry, unix seconds (decimal string).
    pub integrated_time: String,
    /// The signed entry timestamp (SET).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inclusion_promise: Option<InclusionPromise>,
    /// The Merkle inclusion proof with its signed checkpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inclusion_proof: Option<InclusionProof>,
    /// base64 of the entry's canonicalized body (JCS JSON), the Merkle leaf's data.
    pub canonicalized_body: String,
}

/// `LogId`: `{"keyId": base64}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LogId {
    /// base64 of sha256(SPKI DER of the log's key).
    pub key_id: String,
}

/// `KindVersion`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KindVersion {
    /// e.g. `dsse`.
    pub kind: String,
    /// e.g. `0.0.1`.
    pub version: String,
}

/// `InclusionPromise`: `{"signedEntryTimestamp": base64 DER ECDSA}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InclusionPromise {
    /// base64 of the log's signature over the JCS of
    /// `{"body","integratedTime","logID","logIndex"}`.
    pub signed_entry_timestamp: String,
}

/// `InclusionProof`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InclusionProof {
    /// The entry's index (decimal string).
    pub log_index: String,
    /// base64 of the tree's root hash (32 bytes).
    pub root_hash: String,
    /// The tree size the proof is for (decimal string).
    pub tree_size: String,
    /// base64 of each sibling hash, leaf to root (RFC 9162 §2.1.3).
    #[serde(default)]
    pub hashes: Vec<String>,
    /// The signed checkpoint of that tree.
    pub checkpoint: Checkpoint,
}

/// `Checkpoint`: `{"envelope": "<signed note text>"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// The C2SP signed note: `origin\nsize\nbase64(root)\n\n— name base64(sig)\n`.
    pub envelope: String,
}

impl Attestation {
    /// The attestation of `statement` signed with DER `signature` by DER `certificate`,
    /// logged as `entry`.
    pub fn new(
        statement: &[u8],
        signature: &[u8],
        certificate: &[u8],
        entry: TransparencyEntry,
    ) -> Self {
        Attestation {
            version: 1,
            verification_material: VerificationMaterial {
                certificate: STANDARD.encode(certificate),
                transparency_entries: vec![entry],
            },
            envelope: AttestationEnvelope {
                statement: STANDARD.encode(statement),
                signature: STANDARD.encode(signature),
            },
        }
    }

    /// Parses an attestation (JSON). Errors name the field that is wrong.
    pub fn from_json(text: &[u8]) -> Result<Self, String> {
        if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(text) {
            return Err(format!("not JSON: {e}"));
        }
        let de = &mut serde_json::Deserializer::from_slice(text);
        serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            format!(
                "not a PEP 740 attestation object (at {path}): {}",
                e.inner()
            )
        })
    }

    /// Compact JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an attestation serializes")
    }

    /// The statement's bytes (decoded). Errors: not base64.
    pub fn statement_bytes(&self) -> Result<Vec<u8>, String> {
        STANDARD
            .decode(&self.envelope.statement)
            .map_err(|e| format!("envelope.statement is not base64: {e}"))
    }
}
