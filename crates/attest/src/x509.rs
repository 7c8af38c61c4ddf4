//! What airlock reads from X.509 certificates: Fulcio's identity extensions, signatures by
//! the CA chain of a Sigstore trusted root, and the embedded SCT (RFC 6962 §3.3).
//!
//! Extensions are Fulcio's `docs/oid-info.md` (1.3.6.1.4.1.57264.1.8 to .22, each a DER
//! UTF8String in the extension value); the deprecated .1 (issuer, raw bytes) is read when .8
//! is absent.

use der::asn1::{ObjectIdentifier, OctetStringRef, Utf8StringRef};
use der::{Decode, Encode};
use p256::ecdsa::signature::hazmat::PrehashVerifier;
use sha2::{Digest, Sha256, Sha384};
use spki::DecodePublicKey;
use x509_cert::Certificate;

/// ecdsa-with-SHA256 (RFC 5758).
pub const ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
/// ecdsa-with-SHA384 (RFC 5758).
pub const ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
/// The embedded SCT list extension (RFC 6962 §3.3).
pub const SCT_LIST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.11129.2.4.2");

/// Fulcio's OID arc: `1.3.6.1.4.1.57264.1.N`.
fn fulcio_oid(n: u32) -> ObjectIdentifier {
    ObjectIdentifier::new(&format!("1.3.6.1.4.1.57264.1.{n}")).expect("a valid OID")
}

/// The hash an ECDSA signature was computed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
}

/// Verifies DER ECDSA signature `sig` over `msg` (hashed with `hash`) by the key in
/// `spki_der` (SubjectPublicKeyInfo DER; P-256 or P-384). Errors say which part failed.
pub fn verify_ecdsa(spki_der: &[u8], hash: Hash, msg: &[u8], sig: &[u8]) -> Result<(), String> {
    let digest = match hash {
        Hash::Sha256 => Sha256::digest(msg).to_vec(),
        Hash::Sha384 => Sha384::digest(msg).to_vec(),
    };
    if let Ok(key) = p256::ecdsa::VerifyingKey::from_public_key_der(spki_der) {
        let sig = p256::ecdsa::Signature::from_der(sig)
            .map_err(|_| "the signature is not a DER ECDSA P-256 signature".to_string())?;
        return key
            .verify_prehash(&digest, &sig)
            .map_err(|_| "the signature does not verify with the key".to_string());
    }
    if let Ok(key) = p384::ecdsa::VerifyingKey::from_public_key_der(spki_der) {
        let sig = p384::ecdsa::Signature::from_der(sig)
            .map_err(|_| "the signature is not a DER ECDSA P-384 signature".to_string())?;
        return key
            .verify_prehash(&digest, &sig)
            .map_err(|_| "the signature does not verify with the key".to_string());
    }
    Err("the key is not an ECDSA P-256 or P-384 public key".into())
}

/// Parses a DER certificate.
pub fn parse(der: &[u8]) -> Result<Certificate, String> {
    Certificate::from_der(der).map_err(|e| format!("not a DER X.509 certificate: {e}"))
}

/// The certificate's SubjectPublicKeyInfo, DER.
pub fn spki_der(cert: &Certificate) -> Vec<u8> {
    cert.tbs_certificate
        .subject_public_key_info
        .to_der()
        .expect("a decoded SPKI encodes")
}

/// `(notBefore, notAfter)` in unix seconds.
pub fn validity(cert: &Certificate) -> (u64, u64) {
    let v = &cert.tbs_certificate.validity;
    (
        v.not_before.to_unix_duration().as_secs(),
        v.not_after.to_unix_duration().as_secs(),
    )
}

/// Checks that `issuer` signed `cert` (its TBS bytes, with the certificate's signature
/// algorithm, ecdsa-with-SHA256 or -SHA384) and that `cert` names `issuer` as its issuer.
pub fn verify_issued_by(cert: &Certificate, issuer: &Certificate) -> Result<(), String> {
    if cert.tbs_certificate.issuer != issuer.tbs_certificate.subject {
        return Err(format!(
            "its issuer ({}) is not the CA certificate's subject ({})",
            cert.tbs_certificate.issuer, issuer.tbs_certificate.subject
        ));
    }
    let hash = match cert.signature_algorithm.oid {
        ECDSA_SHA256 => Hash::Sha256,
        ECDSA_SHA384 => Hash::Sha384,
        other => return Err(format!("unsupported signature algorithm {other}")),
    };
    let tbs = cert
        .tbs_certificate
        .to_der()
        .map_err(|e| format!("cannot re-encode the certificate: {e}"))?;
    let sig = cert
        .signature
        .as_bytes()
        .ok_or("the certificate's signature has unused bits")?;
    verify_ecdsa(&spki_der(issuer), hash, &tbs, sig)
}

/// One Signed Certificate Timestamp (RFC 6962 §3.2), v1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sct {
    /// The CT log's id: sha256 of its SPKI DER.
    pub log_id: [u8; 32],
    /// Milliseconds since the epoch.
    pub timestamp_ms: u64,
    /// The SCT's extensions (opaque).
    pub extensions: Vec<u8>,
    /// The DER ECDSA signature (hash and signature algorithm bytes checked: SHA-256, ECDSA).
    pub signature: Vec<u8>,
}

/// The SCTs embedded in `cert` (none when the extension is absent). Errors: a malformed list.
pub fn embedded_scts(cert: &Certificate) -> Result<Vec<Sct>, String> {
    let Some(ext) = extensions(cert).iter().find(|e| e.extn_id == SCT_LIST) else {
        return Ok(Vec::new());
    };
    let list = OctetStringRef::from_der(ext.extn_value.as_bytes())
        .map_err(|e| format!("the SCT extension is not an OCTET STRING: {e}"))?;
    let mut r = Reader(list.as_bytes());
    let total = r.u(2)? as usize;
    let mut body = Reader(r.take(total)?);
    let mut out = Vec::new();
    while !body.0.is_empty() {
        let len = body.u(2)? as usize;
        let mut s = Reader(body.take(len)?);
        if s.u(1)? != 0 {
            return Err("an SCT is not version 1".into());
        }
        let log_id: [u8; 32] = s.take(32)?.try_into().expect("32 bytes");
        let timestamp_ms = s.u(8)?;
        let elen = s.u(2)? as usize;
        let extensions = s.take(elen)?.to_vec();
        let (h, a) = (s.u(1)?, s.u(1)?);
        if (h, a) != (4, 3) {
            return Err(format!(
                "an SCT is signed with hash {h} / algorithm {a}, not SHA-256 / ECDSA"
            ));
        }
        let slen = s.u(2)? as usize;
        let signature = s.take(slen)?.to_vec();
        out.push(Sct {
            log_id,
            timestamp_ms,
            extensions,
            signature,
        });
    }
    Ok(out)
}

/// The bytes an embedded SCT signs (RFC 6962 §3.2 `digitally-signed` struct, precert
/// entry): version 0, signature type 0, timestamp, entry type 1 (u16), sha256 of the
/// issuer's SPKI, the TBS certificate without the SCT extension (u24 length), extensions.
pub fn sct_signed_data(
    cert: &Certificate,
    issuer_spki: &[u8],
    sct: &Sct,
) -> Result<Vec<u8>, String> {
    let mut tbs = cert.tbs_certificate.clone();
    if let Some(exts) = tbs.extensions.as_mut() {
        exts.retain(|e| e.extn_id != SCT_LIST);
    }
    let tbs = tbs
        .to_der()
        .map_err(|e| format!("cannot encode the TBS: {e}"))?;
    let mut out = vec![0u8, 0u8];
    out.extend_from_slice(&sct.timestamp_ms.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&Sha256::digest(issuer_spki));
    let n = tbs.len() as u32;
    out.extend_from_slice(&n.to_be_bytes()[1..]);
    out.extend_from_slice(&tbs);
    out.extend_from_slice(&(sct.extensions.len() as u16).to_be_bytes());
    out.extend_from_slice(&sct.extensions);
    Ok(out)
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err("a truncated SCT list".into());
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u(&mut self, n: usize) -> Result<u64, String> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, b| acc << 8 | *b as u64))
    }
}

fn extensions(cert: &Certificate) -> &[x509_cert::ext::Extension] {
    cert.tbs_certificate.extensions.as_deref().unwrap_or(&[])
}

/// The identity Fulcio wrote into a signing certificate (its OIDC token's claims).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    /// .8 (or the deprecated .1): the OIDC issuer, e.g. `https://token.actions.githubusercontent.com`.
    pub issuer: Option<String>,
    /// The SubjectAltName URIs and e-mails (GitHub: `https://github.com/{job_workflow_ref}`).
    pub san: Vec<String>,
    /// .9: build signer URI.
    pub build_signer_uri: Option<String>,
    /// .12: source repository URI (`https://github.com/OWNER/REPO`).
    pub source_repository_uri: Option<String>,
    /// .13: source repository digest (the commit).
    pub source_repository_digest: Option<String>,
    /// .14: source repository ref (e.g. `refs/tags/v1.0`).
    pub source_repository_ref: Option<String>,
    /// .18: build config URI (`https://github.com/OWNER/REPO/.github/workflows/WF@REF`).
    pub build_config_uri: Option<String>,
    /// .20: build trigger (the event, e.g. `push`).
    pub build_trigger: Option<String>,
    /// .21: run invocation URI.
    pub run_invocation_uri: Option<String>,
}

impl Identity {
    /// Reads the identity of DER certificate `cert`. Errors: not a certificate, or an
    /// identity extension that is not a UTF8String.
    pub fn of_certificate(cert: &Certificate) -> Result<Identity, String> {
        let get = |n: u32| -> Result<Option<String>, String> {
            let oid = fulcio_oid(n);
            match extensions(cert).iter().find(|e| e.extn_id == oid) {
                None => Ok(None),
                Some(e) => Utf8StringRef::from_der(e.extn_value.as_bytes())
                    .map(|s| Some(s.as_str().to_string()))
                    .map_err(|_| format!("certificate extension {oid} is not a DER UTF8String")),
            }
        };
        let legacy_issuer = extensions(cert)
            .iter()
            .find(|e| e.extn_id == fulcio_oid(1))
            .and_then(|e| String::from_utf8(e.extn_value.as_bytes().to_vec()).ok());
        let mut san = Vec::new();
        if let Ok(Some((_, s))) = cert
            .tbs_certificate
            .get::<x509_cert::ext::pkix::SubjectAltName>()
        {
            for name in s.0 {
                match name {
                    x509_cert::ext::pkix::name::GeneralName::UniformResourceIdentifier(u) => {
                        san.push(u.to_string())
                    }
                    x509_cert::ext::pkix::name::GeneralName::Rfc822Name(m) => {
                        san.push(m.to_string())
                    }
                    _ => {}
                }
            }
        }
        Ok(Identity {
            issuer: get(8)?.or(legacy_issuer),
            san,
            build_signer_uri: get(9)?,
            source_repository_uri: get(12)?,
            source_repository_digest: get(13)?,
            source_repository_ref: get(14)?,
            build_config_uri: get(18)?,
            build_trigger: get(20)?,
            run_invocation_uri: get(21)?,
        })
    }

    /// The identity of the certificate in DER bytes `der`.
    pub fn of_der(der: &[u8]) -> Result<Identity, String> {
        Self::of_certificate(&parse(der)?)
    }

    /// The forge whose OIDC issuer Fulcio certified (by extension .8).
    pub fn forge(&self) -> Option<crate::Forge> {
        crate::Forge::of_issuer(self.issuer.as_deref()?)
    }

    /// The repository path (`OWNER/REPO`, or `GROUP/SUBGROUP/PROJECT` on GitLab) from the
    /// source repository URI on the issuer's forge.
    pub fn repository(&self) -> Option<&str> {
        let host = self.forge()?.web();
        self.source_repository_uri.as_deref()?.strip_prefix(host)
    }

    /// The workflow from the build config URI: GitHub's workflow file name (`release.yml`
    /// of `https://github.com/OWNER/REPO/.github/workflows/release.yml@REF`), or GitLab's CI
    /// configuration path (`.gitlab-ci.yml` of `https://gitlab.com/G/P//.gitlab-ci.yml@REF`).
    pub fn workflow(&self) -> Option<&str> {
        let uri = self.build_config_uri.as_deref()?;
        let rest = match self.forge()? {
            crate::Forge::GitHub => uri.split_once("/.github/workflows/")?.1,
            crate::Forge::GitLab => uri.strip_prefix("https://")?.split_once("//")?.1,
        };
        Some(rest.split_once('@').map_or(rest, |(w, _)| w))
    }

    /// One line for people: `octo/repo, workflow release.yml, ref refs/tags/v1 (issuer …)`.
    pub fn describe(&self) -> String {
        let mut s = match (self.repository(), self.workflow()) {
            (Some(r), Some(w)) => format!("repository {r}, workflow {w}"),
            _ => format!("SAN {}", self.san.join(", ")),
        };
        if let Some(r) = &self.source_repository_ref {
            s.push_str(&format!(", ref {r}"));
        }
        s.push_str(&format!(
            " (issuer {})",
            self.issuer.as_deref().unwrap_or("MISSING")
        ));
        s
    }
}
