//! Rekor v1 (sigstore/rekor `openapi.yaml`, type `dsse` v0.0.1): the entry airlock proposes,
//! the answer turned into a [`TransparencyEntry`], and the checks of what a log promises:
//! the Merkle inclusion proof (RFC 9162 §2.1.3.2, RFC 6962 hashing), the signed checkpoint
//! (C2SP signed-note / tlog-checkpoint) and the signed entry timestamp (SET).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use crate::model::{
    Checkpoint, InclusionPromise, InclusionProof, KindVersion, LogId, TransparencyEntry,
};
use crate::x509::{Hash, verify_ecdsa};

/// Where entries are proposed: `POST {rekor}/api/v1/log/entries`.
pub const ENTRIES_PATH: &str = "/api/v1/log/entries";

/// PEM of DER certificate `der` (64-column base64 lines, trailing newline), as Sigstore
/// clients send it as a DSSE verifier.
pub fn cert_pem(der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// The DER of PEM certificate text (the first `CERTIFICATE` block).
pub fn pem_to_der(pem: &str) -> Result<Vec<u8>, String> {
    let start = pem
        .find("-----BEGIN CERTIFICATE-----")
        .ok_or("no PEM certificate")?;
    let rest = &pem[start + 27..];
    let end = rest
        .find("-----END CERTIFICATE-----")
        .ok_or("an unterminated PEM certificate")?;
    let b64: String = rest[..end].split_whitespace().collect();
    STANDARD.decode(b64).map_err(|e| format!("PEM base64: {e}"))
}

/// The proposed `dsse` v0.0.1 entry for `envelope_json` (the DSSE envelope as JSON text)
/// verified by certificate `cert_der`.
pub fn proposed_entry(envelope_json: &str, cert_der: &[u8]) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {
            "proposedContent": {
                "envelope": envelope_json,
                "verifiers": [STANDARD.encode(cert_pem(cert_der))],
            }
        }
    })
}

/// Rekor's answer to a proposed entry (`201 {"<uuid>": LogEntry}`) as a
/// [`TransparencyEntry`]: hex ids and hashes become base64, integers strings. Errors say
/// which field is missing or malformed.
pub fn entry_from_response(body: &[u8]) -> Result<TransparencyEntry, String> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let obj = v.as_object().ok_or("not a JSON object")?;
    let (_, e) = obj
        .iter()
        .next()
        .filter(|_| obj.len() == 1)
        .ok_or("not one entry keyed by its UUID")?;
    let s = |p: &str| -> Result<String, String> {
        e.pointer(p)
            .and_then(|x| x.as_str())
            .map(String::from)
            .ok_or(format!("no string at {p}"))
    };
    let n = |p: &str| -> Result<u64, String> {
        e.pointer(p)
            .and_then(|x| x.as_u64())
            .ok_or(format!("no integer at {p}"))
    };
    let hex_b64 = |h: &str, what: &str| -> Result<String, String> {
        hex::decode(h)
            .map(|b| STANDARD.encode(b))
            .map_err(|_| format!("{what} is not hex"))
    };
    let body_b64 = s("/body")?;
    let body = STANDARD
        .decode(&body_b64)
        .map_err(|_| "body is not base64".to_string())?;
    let kind: serde_json::Value =
        serde_json::from_slice(&body).map_err(|_| "body is not JSON".to_string())?;
    let hashes = e
        .pointer("/verification/inclusionProof/hashes")
        .and_then(|h| h.as_array())
        .ok_or("no inclusionProof.hashes")?
        .iter()
        .map(|h| hex_b64(h.as_str().unwrap_or("?"), "a proof hash"))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(TransparencyEntry {
        log_index: n("/logIndex")?.to_string(),
        log_id: LogId {
            key_id: hex_b64(&s("/logID")?, "logID")?,
        },
        kind_version: KindVersion {
            kind: kind["kind"].as_str().unwrap_or("").into(),
            version: kind["apiVersion"].as_str().unwrap_or("").into(),
        },
        integrated_time: n("/integratedTime")?.to_string(),
        inclusion_promise: Some(InclusionPromise {
            signed_entry_timestamp: s("/verification/signedEntryTimestamp")?,
        }),
        inclusion_proof: Some(InclusionProof {
            log_index: n("/verification/inclusionProof/logIndex")?.to_string(),
            root_hash: hex_b64(&s("/verification/inclusionProof/rootHash")?, "rootHash")?,
            tree_size: n("/verification/inclusionProof/treeSize")?.to_string(),
            hashes,
            checkpoint: Checkpoint {
                envelope: s("/verification/inclusionProof/checkpoint")?,
            },
        }),
        canonicalized_body: body_b64,
    })
}

/// RFC 6962 leaf hash: sha256(0x00 ‖ data).
pub fn leaf_hash(data: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// RFC 6962 interior node hash: sha256(0x01 ‖ left ‖ right).
pub fn node_hash(left: &[u8], right: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root that inclusion proof `path` (sibling hashes, leaf to root) gives for leaf
/// `index` of a tree of `size` leaves whose leaf hash is `leaf` (RFC 9162 §2.1.3.2).
/// Errors: an index outside the tree, or a path of the wrong length.
pub fn root_from_inclusion_proof(
    index: u64,
    size: u64,
    leaf: [u8; 32],
    path: &[[u8; 32]],
) -> Result<[u8; 32], String> {
    if index >= size {
        return Err(format!("leaf index {index} is outside a tree of {size}"));
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = leaf;
    for p in path {
        if sn == 0 {
            return Err("the inclusion proof is longer than the tree is deep".into());
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err("the inclusion proof is shorter than the tree is deep".into());
    }
    Ok(r)
}

/// A parsed checkpoint: its signed text and the note's signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    /// The first line: the log's origin string.
    pub origin: String,
    /// The tree size.
    pub size: u64,
    /// The root hash.
    pub root: Vec<u8>,
    /// The signed text: every line up to the blank line, each with its `\n`.
    pub text: String,
    /// `(name, key hint (4 bytes), signature)` of each signature line.
    pub signatures: Vec<(String, [u8; 4], Vec<u8>)>,
}

impl SignedCheckpoint {
    /// Parses a signed note: `origin\nsize\nbase64(root)\n[other lines\n]\n— name base64(hint‖sig)\n…`.
    pub fn parse(note: &str) -> Result<Self, String> {
        let (text, sigs) = note
            .split_once("\n\n")
            .ok_or("the checkpoint has no blank line before its signatures")?;
        let text = format!("{text}\n");
        let mut lines = text.lines();
        let origin = lines.next().unwrap_or("").to_string();
        let size = lines
            .next()
            .and_then(|l| l.parse().ok())
            .ok_or("the checkpoint's second line is not a tree size")?;
        let root = lines
            .next()
            .and_then(|l| STANDARD.decode(l).ok())
            .ok_or("the checkpoint's third line is not a base64 root hash")?;
        let mut signatures = Vec::new();
        for line in sigs.lines().filter(|l| !l.is_empty()) {
            let rest = line
                .strip_prefix("\u{2014} ")
                .ok_or("a checkpoint signature line does not start with an em dash")?;
            let (name, b64) = rest
                .rsplit_once(' ')
                .ok_or("a checkpoint signature line has no signature")?;
            let raw = STANDARD
                .decode(b64)
                .map_err(|_| "a checkpoint signature is not base64")?;
            if raw.len() < 5 {
                return Err("a checkpoint signature is too short".into());
            }
            let hint: [u8; 4] = raw[..4].try_into().expect("4 bytes");
            signatures.push((name.to_string(), hint, raw[4..].to_vec()));
        }
        Ok(SignedCheckpoint {
            origin,
            size,
            root,
            text,
            signatures,
        })
    }

    /// Checks that the log whose key is `spki_der` (id `log_id` = sha256 of it) signed this
    /// checkpoint: a signature whose key hint is the id's first 4 bytes verifies over the
    /// text (ECDSA, SHA-256).
    pub fn verify(&self, spki_der: &[u8], log_id: &[u8]) -> Result<(), String> {
        let mut tried = false;
        for (_, hint, sig) in &self.signatures {
            if log_id.len() >= 4 && hint[..] == log_id[..4] {
                tried = true;
                if verify_ecdsa(spki_der, Hash::Sha256, self.text.as_bytes(), sig).is_ok() {
                    return Ok(());
                }
            }
        }
        Err(if tried {
            "the checkpoint's signature does not verify with the log's key".into()
        } else {
            "the checkpoint carries no signature by the log's key".into()
        })
    }
}

/// The bytes a SET signs: the JCS (sorted keys, compact) of
/// `{"body": <canonicalizedBody base64>, "integratedTime": N, "logID": "<hex>", "logIndex": N}`.
pub fn set_payload(
    body_b64: &str,
    integrated_time: i64,
    log_id_hex: &str,
    log_index: i64,
) -> Vec<u8> {
    // serde_json's map is ordered by key (no preserve_order feature): this is JCS for
    // these strings and integers.
    serde_json::to_vec(&serde_json::json!({
        "body": body_b64,
        "integratedTime": integrated_time,
        "logID": log_id_hex,
        "logIndex": log_index,
    }))
    .expect("serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reference tree: the RFC 6962 root of `leaves` (MTH, §2.1), computed recursively.
    fn mth(leaves: &[[u8; 32]]) -> [u8; 32] {
        if leaves.len() == 1 {
            return leaves[0];
        }
        let k = leaves.len().next_power_of_two() / 2;
        let k = if k == leaves.len() { k / 2 } else { k };
        node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
    }

    /// PATH(m, D[n]) of RFC 6962 §2.1.1.
    fn path(m: usize, leaves: &[[u8; 32]]) -> Vec<[u8; 32]> {
        if leaves.len() == 1 {
            return vec![];
        }
        let k = leaves.len().next_power_of_two() / 2;
        let k = if k == leaves.len() { k / 2 } else { k };
        if m < k {
            let mut p = path(m, &leaves[..k]);
            p.push(mth(&leaves[k..]));
            p
        } else {
            let mut p = path(m - k, &leaves[k..]);
            p.push(mth(&leaves[..k]));
            p
        }
    }

    #[test]
    fn inclusion_proofs_of_every_leaf_of_trees_up_to_17() {
        for n in 1..=17usize {
            let leaves: Vec<[u8; 32]> = (0..n).map(|i| leaf_hash(&[i as u8])).collect();
            let root = mth(&leaves);
            for m in 0..n {
                let p = path(m, &leaves);
                assert_eq!(
                    root_from_inclusion_proof(m as u64, n as u64, leaves[m], &p).unwrap(),
                    root,
                    "leaf {m} of {n}"
                );
                // Another leaf's hash, or a proof for another index, gives another root.
                let other = leaf_hash(b"other");
                assert_ne!(
                    root_from_inclusion_proof(m as u64, n as u64, other, &p).unwrap(),
                    root
                );
                if n > 1 {
                    let wrong = (m + 1) % n;
                    let r = root_from_inclusion_proof(wrong as u64, n as u64, leaves[m], &p);
                    assert!(
                        r.map(|r| r != root).unwrap_or(true),
                        "leaf {m} as {wrong} of {n}"
                    );
                }
            }
        }
        assert!(root_from_inclusion_proof(3, 3, [0; 32], &[]).is_err());
    }

    #[test]
    fn checkpoint_parses() {
        let sig = STANDARD.encode([1u8, 2, 3, 4, 9, 9, 9]);
        let root = STANDARD.encode([7u8; 32]);
        let note = format!("rekor.example - 42\n5\n{root}\n\n\u{2014} rekor.example {sig}\n");
        let c = SignedCheckpoint::parse(&note).unwrap();
        assert_eq!(c.origin, "rekor.example - 42");
        assert_eq!(c.size, 5);
        assert_eq!(c.root, vec![7u8; 32]);
        assert_eq!(c.text, format!("rekor.example - 42\n5\n{root}\n"));
        assert_eq!(
            c.signatures,
            vec![("rekor.example".into(), [1, 2, 3, 4], vec![9, 9, 9])]
        );
    }

    #[test]
    fn pem_round_trip() {
        let der = vec![0x30u8; 100];
        assert_eq!(pem_to_der(&cert_pem(&der)).unwrap(), der);
        assert!(cert_pem(&der).lines().all(|l| l.len() <= 64));
    }
}
