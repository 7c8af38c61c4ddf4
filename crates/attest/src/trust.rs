//! A Sigstore trusted root (`application/vnd.dev.sigstore.trustedroot+json;version=0.1`,
//! sigstore protobuf-specs `TrustedRoot`): the CA chains that issue signing certificates,
//! the transparency logs' keys and the CT logs' keys, each with its validity period.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use x509_cert::Certificate;

/// Sigstore's public-good trusted root (from sigstore-python 4.5.1's bundled TUF
/// snapshot of `tuf-repo-cdn.sigstore.dev`), used when no `--trusted-root` is given.
pub const PUBLIC_GOOD: &str = include_str!("../trust/sigstore-public-good.json");

/// A log (Rekor or CT): its key and its id.
#[derive(Debug, Clone)]
pub struct Log {
    /// `baseUrl`.
    pub base_url: String,
    /// SubjectPublicKeyInfo DER of its key.
    pub spki: Vec<u8>,
    /// `logId.keyId`: sha256 of the SPKI DER.
    pub id: Vec<u8>,
    /// `validFor` (unix seconds; `end` None when open).
    pub valid: (u64, Option<u64>),
}

/// A certificate authority: its chain, issuing certificate first, root last.
#[derive(Debug, Clone)]
pub struct Authority {
    /// `uri`.
    pub uri: String,
    /// The chain (DER decoded).
    pub chain: Vec<Certificate>,
    /// `validFor`.
    pub valid: (u64, Option<u64>),
}

/// What a trusted root says to trust.
#[derive(Debug, Clone)]
pub struct TrustedRoot {
    /// Rekor logs.
    pub tlogs: Vec<Log>,
    /// Fulcio CAs.
    pub authorities: Vec<Authority>,
    /// Certificate Transparency logs.
    pub ctlogs: Vec<Log>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Raw {
    media_type: String,
    #[serde(default)]
    tlogs: Vec<RawLog>,
    #[serde(default)]
    certificate_authorities: Vec<RawCa>,
    #[serde(default)]
    ctlogs: Vec<RawLog>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLog {
    #[serde(default)]
    base_url: String,
    public_key: RawKey,
    log_id: RawLogId,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawKey {
    #[serde(default)]
    raw_bytes: String,
    #[serde(default)]
    valid_for: Option<RawValid>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLogId {
    key_id: String,
}

#[derive(Deserialize)]
struct RawValid {
    start: Option<String>,
    end: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCa {
    #[serde(default)]
    uri: String,
    cert_chain: RawChain,
    #[serde(default)]
    valid_for: Option<RawValid>,
}

#[derive(Deserialize)]
struct RawChain {
    certificates: Vec<RawCert>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCert {
    raw_bytes: String,
}

fn rfc3339(s: &str) -> Result<u64, String> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp().max(0) as u64)
        .map_err(|e| format!("{s:?} is not an RFC 3339 time: {e}"))
}

fn valid(v: &Option<RawValid>) -> Result<(u64, Option<u64>), String> {
    let Some(v) = v else { return Ok((0, None)) };
    Ok((
        v.start.as_deref().map(rfc3339).transpose()?.unwrap_or(0),
        v.end.as_deref().map(rfc3339).transpose()?,
    ))
}

impl TrustedRoot {
    /// Parses a trusted root JSON document. Keys this crate cannot use (Ed25519 logs) are
    /// kept with their bytes and simply never verify. Errors name what is malformed.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let raw: Raw =
            serde_json::from_str(text).map_err(|e| format!("not a trusted root: {e}"))?;
        if !raw
            .media_type
            .starts_with("application/vnd.dev.sigstore.trustedroot")
        {
            return Err(format!(
                "mediaType is {:?}, not a Sigstore trusted root",
                raw.media_type
            ));
        }
        let b64 = |s: &str, what: &str| {
            STANDARD
                .decode(s)
                .map_err(|_| format!("{what} is not base64"))
        };
        let logs = |v: Vec<RawLog>| -> Result<Vec<Log>, String> {
            v.into_iter()
                .map(|l| {
                    Ok(Log {
                        spki: b64(&l.public_key.raw_bytes, "a log's publicKey.rawBytes")?,
                        id: b64(&l.log_id.key_id, "a log's logId.keyId")?,
                        valid: valid(&l.public_key.valid_for)?,
                        base_url: l.base_url,
                    })
                })
                .collect()
        };
        let authorities = raw
            .certificate_authorities
            .into_iter()
            .map(|ca| {
                let chain = ca
                    .cert_chain
                    .certificates
                    .iter()
                    .map(|c| crate::x509::parse(&b64(&c.raw_bytes, "a CA certificate")?))
                    .collect::<Result<Vec<_>, String>>()?;
                Ok(Authority {
                    uri: ca.uri,
                    chain,
                    valid: valid(&ca.valid_for)?,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(TrustedRoot {
            tlogs: logs(raw.tlogs)?,
            authorities,
            ctlogs: logs(raw.ctlogs)?,
        })
    }

    /// Sigstore's public-good instance ([`PUBLIC_GOOD`]).
    pub fn public_good() -> Self {
        Self::from_json(PUBLIC_GOOD).expect("the bundled trusted root parses")
    }

    /// The transparency log whose id is `id`.
    pub fn tlog(&self, id: &[u8]) -> Option<&Log> {
        self.tlogs.iter().find(|l| l.id == id)
    }

    /// The CT log whose id is `id`.
    pub fn ctlog(&self, id: &[u8]) -> Option<&Log> {
        self.ctlogs.iter().find(|l| l.id == id)
    }
}

impl Log {
    /// Whether `t` (unix seconds) is inside the key's validity period.
    pub fn valid_at(&self, t: u64) -> bool {
        t >= self.valid.0 && self.valid.1.is_none_or(|e| t <= e)
    }

    /// Whether `id` is sha256 of `spki` (a trusted root whose log id does not match its key
    /// is refused when verifying).
    pub fn id_matches_key(&self) -> bool {
        Sha256::digest(&self.spki).as_slice() == self.id.as_slice()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn public_good_parses() {
        let r = super::TrustedRoot::public_good();
        assert!(
            r.tlogs
                .iter()
                .any(|l| l.base_url == "https://rekor.sigstore.dev" && l.id_matches_key())
        );
        assert!(r.authorities.iter().any(|a| a.chain.len() == 2));
        assert!(!r.ctlogs.is_empty());
    }
}
