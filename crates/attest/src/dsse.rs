//! DSSE v1 (https://github.com/secure-systems-lab/dsse/blob/master/protocol.md): what a
//! signature over a payload covers.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

/// The pre-authentication encoding `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`,
/// lengths in ASCII decimal: the bytes a DSSE signature is computed over.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// One signature of an envelope (`sig` base64; `keyid` optional and unused by Sigstore).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// base64 (standard, padded) of the DER ECDSA signature.
    pub sig: String,
    /// Optional key id; Sigstore leaves it empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyid: Option<String>,
}

/// A DSSE envelope in its JSON form, as Rekor's `dsse` type takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    /// base64 of the payload bytes.
    pub payload: String,
    /// e.g. `application/vnd.in-toto+json`.
    pub payload_type: String,
    /// The signatures (Sigstore: exactly one).
    pub signatures: Vec<Signature>,
}

impl Envelope {
    /// The envelope of `payload` of `payload_type` with one DER signature `sig`.
    pub fn new(payload_type: &str, payload: &[u8], sig: &[u8]) -> Self {
        Envelope {
            payload: STANDARD.encode(payload),
            payload_type: payload_type.into(),
            signatures: vec![Signature {
                sig: STANDARD.encode(sig),
                keyid: None,
            }],
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn pae_matches_the_spec_example() {
        // protocol.md: PAE("http://example.com/HelloWorld", "hello world")
        assert_eq!(
            super::pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }
}
