//! Local stand-ins for Sigstore's Fulcio (certificate authority) and Rekor (transparency
//! log), for tests of PEP 740 attestations. Both follow the public APIs field by field, so
//! that sigstore-python 4.x signs against them and verifies what they issue; they live on
//! 127.0.0.1 for the life of the test process, with fresh keys per [`Sigstore::start`].
//!
//! **Fulcio v2** (sigstore/fulcio `fulcio.proto`, `docs/oid-info.md`):
//! `POST /api/v2/signingCert` with
//! `{"credentials":{"oidcIdentityToken":JWT}, "publicKeyRequest":{"publicKey":{"algorithm":
//! "ECDSA","content":PEM SPKI},"proofOfPossession":b64(DER ECDSA-P256-SHA256 over sub)}}`
//! or `{"certificateSigningRequest": b64(PEM PKCS#10 CSR)}` (what sigstore-python sends,
//! with the token as `Authorization: Bearer JWT`; the CSR's own signature is the proof of
//! possession). The token (unsigned in tests, see [`crate::github`]) must have `iss`
//! `https://token.actions.githubusercontent.com`, `aud` `sigstore`, `exp` in the future and
//! the claims Fulcio's GitHub principal requires. Refusals are Fulcio's (grpc-gateway):
//! `400 {"code":3,"message":"There was an error processing the identity token"}` (bad
//! token), `…"The public key supplied in the request could not be parsed"`, `…"The
//! certificate signing request could not be parsed"`, `…"The signature supplied in the
//! request could not be verified"`, `…"The public key supplied in the request is
//! insecure"` (not ECDSA P-256). The answer is
//! `200 {"signedCertificateEmbeddedSct":{"chain":{"certificates":[leaf PEM, root PEM]}}}`.
//! `GET /api/v2/trustBundle` answers `{"chains":[{"certificates":[root PEM]}]}`.
//!
//! The leaf: X.509 v3, ECDSA P-256 with SHA-256 (`ecdsa-with-SHA256`), a random 20-byte
//! serial, valid 10 minutes from issuance (UTCTime, whole seconds), an EMPTY subject,
//! issued by a self-signed root (`O=sigstore stand-in, CN=sigstore stand-in`; CA, critical
//! BasicConstraints, KeyUsage keyCertSign|cRLSign, valid 10 years). Its extensions, in
//! Fulcio's order: KeyUsage digitalSignature (critical), ExtendedKeyUsage codeSigning,
//! SubjectKeyIdentifier, AuthorityKeyIdentifier (key identifiers: the first 20 bytes of
//! SHA-256 of the key's bits, RFC 7093 §2 method 1), SubjectAltName URI
//! `https://github.com/{job_workflow_ref}` (critical: the subject is empty), Sigstore's
//! 1.3.6.1.4.1.57264.1.1 (issuer) to .6 (deprecated, raw bytes: event_name, sha,
//! workflow, repository, ref), .8 issuer, .9 build signer URI, .10 build signer digest,
//! .11 runner environment, .12 source repository URI, .13 its digest, .14 its ref, .15 its
//! id, .16 owner URI, .17 owner id, .18 build config URI, .19 its digest, .20 build
//! trigger, .21 run invocation URI, .22 visibility, .23 deployment environment (when the
//! token has one), .24 token subject (each a DER UTF8String), and last EXACTLY ONE
//! embedded SCT (1.3.6.1.4.1.11129.2.4.2, RFC 6962 §3.3: `OCTET STRING(OCTET
//! STRING(SignedCertificateTimestampList))`), a v1 SCT from a stand-in CT log key (ECDSA
//! P-256; log id = SHA-256 of its SPKI DER) over the precertificate entry (issuer key hash
//! = SHA-256 of the root's SPKI DER, the TBSCertificate without the SCT extension). The
//! SCT's timestamp is in milliseconds but always a whole second (sigstore-python
//! recomputes it as `int(datetime.timestamp() * 1000)`, which a float may round down).
//!
//! **Rekor v1** (sigstore/rekor `openapi.yaml`, `pkg/types/dsse/v0.0.1`):
//! `POST /api/v1/log/entries` with a proposed
//! `{"apiVersion":"0.0.1","kind":"dsse","spec":{"proposedContent":{"envelope":"<DSSE
//! envelope JSON>","verifiers":[b64(PEM cert)]}}}`: the envelope must parse, carry at least
//! one signature, every signature must verify (ECDSA P-256 SHA-256 over the DSSE PAE) with
//! the one verifier's key. Refusals: `400 {"code":400,"message":"…"}`; the same entry
//! again: `409 {"code":409,"message":"An equivalent entry already exists in the
//! transparency log with UUID …"}`. The entry stored is the canonicalized (RFC 8785 JCS)
//! body `{"apiVersion":"0.0.1","kind":"dsse","spec":{"envelopeHash":{"algorithm":
//! "sha256","value":hex},"payloadHash":{"algorithm":"sha256","value":hex},"signatures":
//! [{"signature":b64 sig,"verifier":b64 PEM as received}]}}` and the answer is
//! `201 {UUID: ENTRY}` (`Location: /api/v1/log/entries/UUID`), see [`LogEntry`] for the
//! shapes. `GET /api/v1/log` (`{"rootHash","treeSize","signedTreeHead","treeID",
//! "inactiveShards":[]}`), `GET /api/v1/log/entries?logIndex=N`, `GET
//! /api/v1/log/entries/UUID` (both `{UUID: ENTRY}` with a proof against the current tree),
//! `GET /api/v1/log/publicKey` (PEM). The log is a real RFC 6962 / RFC 9162 Merkle tree
//! over all entries so far; checkpoints are signed notes as Rekor writes them.

use std::net::TcpStream;
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use der::asn1::{BitString, Ia5String, ObjectIdentifier, OctetString, UtcTime, Utf8StringRef};
use der::pem::LineEnding;
use der::{Decode, DecodePem, Encode};
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{DerSignature, Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePublicKey, EncodePublicKey};
use rand_core::{OsRng, RngCore};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::certificate::{Certificate, TbsCertificate, Version};
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages,
    SubjectAltName, SubjectKeyIdentifier,
};
use x509_cert::name::Name;
use x509_cert::request::CertReq;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};

use crate::github::now_s;
use crate::http::{read_request, respond, serve};

/// The only OIDC issuer the Fulcio stand-in accepts: GitHub Actions'.
pub const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// The signer name in the Rekor stand-in's checkpoints (the `— NAME SIG` line; one word,
/// as Rekor's hostname: sigstore-python's parser splits the line on spaces). Its origin
/// line is `rekor.stand-in - TREE_ID`.
pub const REKOR_NAME: &str = "rekor.stand-in";

/// Validity of a Fulcio stand-in leaf certificate, in seconds (10 minutes, as Fulcio).
pub const LEAF_VALIDITY_S: u64 = 600;

const OID_ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
const OID_SCT_LIST: &str = "1.3.6.1.4.1.11129.2.4.2";
const OID_CODE_SIGNING: &str = "1.3.6.1.5.5.7.3.3";
/// The claims Fulcio's GitHub Actions principal requires (`pkg/identity/github`).
const REQUIRED_GITHUB_CLAIMS: &[&str] = &[
    "sub",
    "job_workflow_ref",
    "sha",
    "event_name",
    "repository",
    "workflow",
    "ref",
    "job_workflow_sha",
    "runner_environment",
    "repository_id",
    "repository_owner",
    "repository_owner_id",
    "repository_visibility",
    "workflow_ref",
    "workflow_sha",
    "run_id",
    "run_attempt",
];

/// One entry of the Rekor stand-in's log. Its API form (`ENTRY` in `{UUID: ENTRY}`):
/// `{"body": b64(canonical body), "integratedTime": unix s, "logID": hex(SHA-256 of the
/// Rekor SPKI DER), "logIndex": N, "verification": {"inclusionProof": {"checkpoint":
/// signed note, "hashes": [hex…], "logIndex": N, "rootHash": hex, "treeSize": size},
/// "signedEntryTimestamp": b64(DER ECDSA over the JCS of {"body","integratedTime","logID",
/// "logIndex"})}}`.
#[derive(Clone, Debug)]
pub struct LogEntry {
    /// `logIndex`: its position, from 0.
    pub index: u64,
    /// Its entry UUID as Rekor answers it: the tree id (16 hex digits) then the leaf hash
    /// (64 hex digits).
    pub uuid: String,
    /// The canonicalized body (JCS JSON bytes), as logged and hashed.
    pub body: Vec<u8>,
    /// `integratedTime`, Unix seconds.
    pub integrated_time: u64,
    /// The RFC 6962 leaf hash, SHA-256(0x00 ‖ body).
    pub leaf_hash: [u8; 32],
}

/// Fulcio and Rekor stand-ins on 127.0.0.1 (free ports, for the life of the test process),
/// with fresh keys: a root CA, a CT log and a Rekor key, all ECDSA P-256.
pub struct Sigstore {
    /// The Fulcio stand-in's port.
    pub fulcio: u16,
    /// The Rekor stand-in's port.
    pub rekor: u16,
    shared: Arc<Shared>,
}

struct Keys {
    ca_key: SigningKey,
    ca_name: Name,
    ca_cert_der: Vec<u8>,
    ca_spki_der: Vec<u8>,
    ca_key_id: Vec<u8>,
    ct_key: SigningKey,
    ct_spki_der: Vec<u8>,
    rekor_key: SigningKey,
    rekor_spki_der: Vec<u8>,
    tree_id: u64,
    /// When the keys were made (Unix s); the trust material is valid from an hour before.
    created_s: u64,
}

struct Shared {
    keys: Keys,
    /// `SERVICE METHOD TARGET STATUS`.
    log: Mutex<Vec<String>>,
    entries: Mutex<Vec<LogEntry>>,
    certificates: Mutex<Vec<String>>,
}

impl Sigstore {
    /// Makes fresh keys (root CA certificate, CT log key, Rekor key) and starts both.
    pub fn start() -> Sigstore {
        let shared = Arc::new(Shared {
            keys: Keys::new(),
            log: Mutex::default(),
            entries: Mutex::default(),
            certificates: Mutex::default(),
        });
        let sh = shared.clone();
        let fulcio = serve(move |s| fulcio_answer(s, &sh));
        let sh = shared.clone();
        let rekor = serve(move |s| rekor_answer(s, &sh));
        Sigstore {
            fulcio,
            rekor,
            shared,
        }
    }

    /// `http://127.0.0.1:PORT` of Fulcio (the `caUrls` URL; API under `/api/v2`).
    pub fn fulcio_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.fulcio)
    }

    /// `http://127.0.0.1:PORT` of Rekor (the `rekorTlogUrls` URL; API under `/api/v1`).
    pub fn rekor_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.rekor)
    }

    /// The root CA certificate, DER.
    pub fn root_cert_der(&self) -> Vec<u8> {
        self.shared.keys.ca_cert_der.clone()
    }

    /// The root CA certificate, PEM.
    pub fn root_cert_pem(&self) -> String {
        pem("CERTIFICATE", &self.shared.keys.ca_cert_der)
    }

    /// Rekor's public key, PEM (`PUBLIC KEY`, SPKI), as `GET /api/v1/log/publicKey`.
    pub fn rekor_public_key_pem(&self) -> String {
        pem("PUBLIC KEY", &self.shared.keys.rekor_spki_der)
    }

    /// Rekor's log id: SHA-256 of its SPKI DER, hex (the entries' `logID`).
    pub fn rekor_log_id(&self) -> String {
        hex::encode(Sha256::digest(&self.shared.keys.rekor_spki_der))
    }

    /// The CT log's id: SHA-256 of its SPKI DER, hex (the SCTs' `log_id`).
    pub fn ct_log_id(&self) -> String {
        hex::encode(Sha256::digest(&self.shared.keys.ct_spki_der))
    }

    /// The Sigstore trusted root (`application/vnd.dev.sigstore.trustedroot+json;version=0.1`,
    /// sigstore/protobuf-specs `TrustedRoot`): `tlogs` (this Rekor), `certificateAuthorities`
    /// (this root CA, `uri` the Fulcio URL), `ctlogs` (the CT log key, `baseUrl`
    /// `FULCIO/ct`), `timestampAuthorities` `[]`. Keys are `PKIX_ECDSA_P256_SHA_256`, all
    /// valid from an hour before [`Sigstore::start`] with no end.
    pub fn trusted_root_json(&self) -> Value {
        let k = &self.shared.keys;
        let start = rfc3339(k.created_s - 3600);
        let tlog = |base_url: String, spki: &[u8]| {
            json!({
                "baseUrl": base_url,
                "hashAlgorithm": "SHA2_256",
                "publicKey": {
                    "rawBytes": B64.encode(spki),
                    "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                    "validFor": {"start": start},
                },
                "logId": {"keyId": B64.encode(Sha256::digest(spki))},
            })
        };
        json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [tlog(self.rekor_url(), &k.rekor_spki_der)],
            "certificateAuthorities": [{
                "subject": {"organization": "sigstore stand-in", "commonName": "sigstore stand-in"},
                "uri": self.fulcio_url(),
                "certChain": {"certificates": [{"rawBytes": B64.encode(&k.ca_cert_der)}]},
                "validFor": {"start": start},
            }],
            "ctlogs": [tlog(format!("{}/ct", self.fulcio_url()), &k.ct_spki_der)],
            "timestampAuthorities": [],
        })
    }

    /// Writes [`Sigstore::trusted_root_json`] to `path` (creating its folder).
    pub fn write_trusted_root(&self, path: &Path) -> std::io::Result<()> {
        write_json(path, &self.trusted_root_json())
    }

    /// sigstore-python 4.x's client trust config
    /// (`application/vnd.dev.sigstore.clienttrustconfig.v0.1+json`): `trustedRoot`
    /// ([`Sigstore::trusted_root_json`]) and a `signingConfig`
    /// (`application/vnd.dev.sigstore.signingconfig.v0.2+json`) with `caUrls` this Fulcio
    /// (`majorApiVersion` 1, as sigstore-python expects for Fulcio's v2 API), `rekorTlogUrls`
    /// this Rekor (`majorApiVersion` 1), no `oidcUrls` and no `tsaUrls`, selectors `ANY`.
    /// Load it with `ClientTrustConfig.from_json`, sign with
    /// `SigningContext.from_trust_config`.
    pub fn client_trust_config_json(&self) -> Value {
        let start = rfc3339(self.shared.keys.created_s - 3600);
        let service = |url: String| {
            json!({
                "url": url,
                "majorApiVersion": 1,
                "validFor": {"start": start},
                "operator": "sigstore stand-in",
            })
        };
        json!({
            "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
            "trustedRoot": self.trusted_root_json(),
            "signingConfig": {
                "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
                "caUrls": [service(self.fulcio_url())],
                "oidcUrls": [],
                "rekorTlogUrls": [service(self.rekor_url())],
                "tsaUrls": [],
                "rekorTlogConfig": {"selector": "ANY"},
                "tsaConfig": {"selector": "ANY"},
            },
        })
    }

    /// Writes [`Sigstore::client_trust_config_json`] to `path` (creating its folder).
    pub fn write_client_trust_config(&self, path: &Path) -> std::io::Result<()> {
        write_json(path, &self.client_trust_config_json())
    }

    /// Requests seen by both, in order, as `SERVICE METHOD TARGET STATUS` with SERVICE
    /// `fulcio` or `rekor`, e.g. `fulcio POST /api/v2/signingCert 200`.
    pub fn requests(&self) -> Vec<String> {
        self.shared.log.lock().unwrap().clone()
    }

    /// The Rekor log's entries so far, in order.
    pub fn entries(&self) -> Vec<LogEntry> {
        self.shared.entries.lock().unwrap().clone()
    }

    /// The leaf certificates Fulcio issued so far, PEM, in order.
    pub fn certificates(&self) -> Vec<String> {
        self.shared.certificates.lock().unwrap().clone()
    }
}

fn write_json(path: &Path, v: &Value) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, serde_json::to_string_pretty(v).unwrap() + "\n")
}

impl Keys {
    fn new() -> Keys {
        let now = now_s();
        let ca_key = SigningKey::random(&mut OsRng);
        let ct_key = SigningKey::random(&mut OsRng);
        let rekor_key = SigningKey::random(&mut OsRng);
        let ca_spki_der = spki_der(&ca_key);
        let ca_key_id = key_identifier(&ca_spki_der);
        let ca_name = Name::from_str("CN=sigstore stand-in,O=sigstore stand-in").unwrap();
        let exts = vec![
            ext(
                "2.5.29.19",
                true,
                BasicConstraints {
                    ca: true,
                    path_len_constraint: Some(1),
                }
                .to_der()
                .unwrap(),
            ),
            ext(
                "2.5.29.15",
                true,
                KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign)
                    .to_der()
                    .unwrap(),
            ),
            ext(
                "2.5.29.14",
                false,
                SubjectKeyIdentifier(OctetString::new(ca_key_id.clone()).unwrap())
                    .to_der()
                    .unwrap(),
            ),
        ];
        let tbs = tbs(
            &ca_name,
            ca_name.clone(),
            (now - 3600, now + 10 * 365 * 86400),
            &ca_spki_der,
            exts,
        );
        let ca_cert_der = sign_certificate(tbs, &ca_key);
        Keys {
            ct_spki_der: spki_der(&ct_key),
            rekor_spki_der: spki_der(&rekor_key),
            ca_key,
            ca_name,
            ca_cert_der,
            ca_spki_der,
            ca_key_id,
            ct_key,
            rekor_key,
            tree_id: OsRng.next_u64() >> 1,
            created_s: now,
        }
    }

    /// Issues the leaf for `spki_der` and the token's `claims`: DER.
    fn issue(&self, spki_der: &[u8], claims: &Value) -> Vec<u8> {
        let now = now_s();
        let c = |k: &str| claims[k].as_str().unwrap_or("").to_string();
        let gh = |p: &str| format!("https://github.com/{p}");
        let utf8 = |s: &str| Utf8StringRef::new(s).unwrap().to_der().unwrap();
        let key_id = key_identifier(spki_der);
        let san = SubjectAltName(vec![GeneralName::UniformResourceIdentifier(
            Ia5String::new(&gh(&c("job_workflow_ref"))).unwrap(),
        )]);
        let mut exts = vec![
            ext(
                "2.5.29.15",
                true,
                KeyUsage(KeyUsages::DigitalSignature.into())
                    .to_der()
                    .unwrap(),
            ),
            ext(
                "2.5.29.37",
                false,
                ExtendedKeyUsage(vec![ObjectIdentifier::new_unwrap(OID_CODE_SIGNING)])
                    .to_der()
                    .unwrap(),
            ),
            ext(
                "2.5.29.14",
                false,
                SubjectKeyIdentifier(OctetString::new(key_id).unwrap())
                    .to_der()
                    .unwrap(),
            ),
            ext(
                "2.5.29.35",
                false,
                AuthorityKeyIdentifier {
                    key_identifier: Some(OctetString::new(self.ca_key_id.clone()).unwrap()),
                    authority_cert_issuer: None,
                    authority_cert_serial_number: None,
                }
                .to_der()
                .unwrap(),
            ),
            ext("2.5.29.17", true, san.to_der().unwrap()),
        ];
        let sig = |n: u32| format!("1.3.6.1.4.1.57264.1.{n}");
        // Deprecated, raw bytes (Fulcio's `Extensions.Render`).
        for (n, v) in [
            (1, GITHUB_ISSUER.to_string()),
            (2, c("event_name")),
            (3, c("sha")),
            (4, c("workflow")),
            (5, c("repository")),
            (6, c("ref")),
        ] {
            exts.push(ext(&sig(n), false, v.into_bytes()));
        }
        let run = format!(
            "{}/actions/runs/{}/attempts/{}",
            c("repository"),
            c("run_id"),
            c("run_attempt")
        );
        let mut v2 = vec![
            (8, GITHUB_ISSUER.to_string()),
            (9, gh(&c("job_workflow_ref"))),
            (10, c("job_workflow_sha")),
            (11, c("runner_environment")),
            (12, gh(&c("repository"))),
            (13, c("sha")),
            (14, c("ref")),
            (15, c("repository_id")),
            (16, gh(&c("repository_owner"))),
            (17, c("repository_owner_id")),
            (18, gh(&c("workflow_ref"))),
            (19, c("workflow_sha")),
            (20, c("event_name")),
            (21, gh(&run)),
            (22, c("repository_visibility")),
        ];
        if !c("environment").is_empty() {
            v2.push((23, c("environment")));
        }
        v2.push((24, c("sub")));
        for (n, v) in v2 {
            exts.push(ext(&sig(n), false, utf8(&v)));
        }
        let validity = (now, now + LEAF_VALIDITY_S);
        // The precertificate's TBS is the certificate's without the SCT extension.
        let mut tbs = tbs(&self.ca_name, Name::default(), validity, spki_der, exts);
        let precert_tbs = tbs.to_der().unwrap();
        let list = self.sct_list(&precert_tbs, now * 1000);
        let inner = OctetString::new(list).unwrap().to_der().unwrap();
        tbs.extensions
            .as_mut()
            .unwrap()
            .push(ext(OID_SCT_LIST, false, inner));
        sign_certificate(tbs, &self.ca_key)
    }

    /// A TLS-encoded `SignedCertificateTimestampList` of one v1 SCT (RFC 6962 §3.2, §3.3)
    /// for the precertificate whose TBS is `precert_tbs`.
    fn sct_list(&self, precert_tbs: &[u8], timestamp_ms: u64) -> Vec<u8> {
        let mut signed = vec![0u8, 0u8]; // v1, certificate_timestamp
        signed.extend(timestamp_ms.to_be_bytes());
        signed.extend(1u16.to_be_bytes()); // precert_entry
        signed.extend(Sha256::digest(&self.ca_spki_der));
        signed.extend(&(precert_tbs.len() as u32).to_be_bytes()[1..]);
        signed.extend(precert_tbs);
        signed.extend(0u16.to_be_bytes()); // no extensions
        let sig: DerSignature = self.ct_key.sign(&signed);
        let sig = sig.as_bytes();
        let mut sct = vec![0u8];
        sct.extend(Sha256::digest(&self.ct_spki_der));
        sct.extend(timestamp_ms.to_be_bytes());
        sct.extend(0u16.to_be_bytes());
        sct.extend([4u8, 3u8]); // sha256, ecdsa
        sct.extend((sig.len() as u16).to_be_bytes());
        sct.extend(sig);
        let mut list = ((sct.len() + 2) as u16).to_be_bytes().to_vec();
        list.extend((sct.len() as u16).to_be_bytes());
        list.extend(sct);
        list
    }
}

fn spki_der(key: &SigningKey) -> Vec<u8> {
    key.verifying_key()
        .to_public_key_der()
        .unwrap()
        .as_bytes()
        .to_vec()
}

/// A key identifier: the first 160 bits of SHA-256 of the SPKI's key bits (RFC 7093 §2 (1)).
fn key_identifier(spki_der: &[u8]) -> Vec<u8> {
    let spki = SubjectPublicKeyInfoOwned::from_der(spki_der).unwrap();
    Sha256::digest(spki.subject_public_key.raw_bytes())[..20].to_vec()
}

fn ext(oid: &str, critical: bool, value: Vec<u8>) -> Extension {
    Extension {
        extn_id: ObjectIdentifier::new_unwrap(oid),
        critical,
        extn_value: OctetString::new(value).unwrap(),
    }
}

fn ecdsa_sha256() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: ObjectIdentifier::new_unwrap(OID_ECDSA_SHA256),
        parameters: None,
    }
}

fn utc(s: u64) -> Time {
    Time::UtcTime(UtcTime::from_unix_duration(Duration::from_secs(s)).unwrap())
}

fn tbs(
    issuer: &Name,
    subject: Name,
    (not_before, not_after): (u64, u64),
    spki_der: &[u8],
    extensions: Vec<Extension>,
) -> TbsCertificate {
    let mut serial = [0u8; 20];
    OsRng.fill_bytes(&mut serial);
    serial[0] = (serial[0] & 0x7f) | 0x01;
    TbsCertificate {
        version: Version::V3,
        serial_number: SerialNumber::new(&serial).unwrap(),
        signature: ecdsa_sha256(),
        issuer: issuer.clone(),
        validity: Validity {
            not_before: utc(not_before),
            not_after: utc(not_after),
        },
        subject,
        subject_public_key_info: SubjectPublicKeyInfoOwned::from_der(spki_der).unwrap(),
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: Some(extensions),
    }
}

fn sign_certificate(tbs: TbsCertificate, key: &SigningKey) -> Vec<u8> {
    let sig: DerSignature = key.sign(&tbs.to_der().unwrap());
    Certificate {
        tbs_certificate: tbs,
        signature_algorithm: ecdsa_sha256(),
        signature: BitString::from_bytes(sig.as_bytes()).unwrap(),
    }
    .to_der()
    .unwrap()
}

/// PEM with 64-column lines and LF endings.
fn pem(label: &str, der: &[u8]) -> String {
    der::pem::encode_string(label, LineEnding::LF, der).unwrap()
}

/// `YYYY-MM-DDTHH:MM:SSZ`.
fn rfc3339(s: u64) -> String {
    time::OffsetDateTime::from_unix_timestamp(s as i64)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// A refusal: HTTP status and JSON body.
type Refusal = (u16, Value);

fn fulcio_refusal(message: &str) -> Refusal {
    (400, json!({"code": 3, "message": message, "details": []}))
}

const INVALID_TOKEN: &str = "There was an error processing the identity token";
const INVALID_PUBLIC_KEY: &str = "The public key supplied in the request could not be parsed";
const INVALID_CSR: &str = "The certificate signing request could not be parsed";
const INVALID_SIGNATURE: &str = "The signature supplied in the request could not be verified";
const INSECURE_PUBLIC_KEY: &str = "The public key supplied in the request is insecure";

/// Answers one connection as Fulcio does.
fn fulcio_answer(mut s: TcpStream, sh: &Shared) {
    let Ok(req) = read_request(&mut s, true) else {
        return;
    };
    let path = req.target.split('?').next().unwrap_or("").to_string();
    let (status, body) = match (req.method.as_str(), path.as_str()) {
        ("POST", "/api/v2/signingCert") => match signing_cert(&req, sh) {
            Ok(v) => (200, v),
            Err(r) => r,
        },
        ("GET", "/api/v2/trustBundle") => (
            200,
            json!({"chains": [{"certificates": [pem("CERTIFICATE", &sh.keys.ca_cert_der)]}]}),
        ),
        _ => (
            404,
            json!({"code": 5, "message": "Not Found", "details": []}),
        ),
    };
    sh.log
        .lock()
        .unwrap()
        .push(format!("fulcio {} {} {status}", req.method, req.target));
    respond(
        &mut s,
        status,
        &[("content-type", "application/json")],
        body.to_string().as_bytes(),
    );
}

/// `POST /api/v2/signingCert`.
fn signing_cert(req: &crate::http::HttpReq, sh: &Shared) -> Result<Value, Refusal> {
    let body: Value = serde_json::from_slice(&req.body)
        .map_err(|e| fulcio_refusal(&format!("invalid request body: {e}")))?;
    let token = body["credentials"]["oidcIdentityToken"]
        .as_str()
        .map(str::to_string)
        .or_else(|| {
            let auth = req.header("authorization")?;
            let (scheme, tok) = auth.split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| tok.trim().to_string())
        })
        .unwrap_or_default();
    let claims = check_token(&token).ok_or_else(|| fulcio_refusal(INVALID_TOKEN))?;
    let spki = if let Some(csr) = body["certificateSigningRequest"].as_str() {
        let pem_bytes = B64.decode(csr).map_err(|_| fulcio_refusal(INVALID_CSR))?;
        let csr = CertReq::from_pem(&pem_bytes).map_err(|_| fulcio_refusal(INVALID_CSR))?;
        let spki = csr.info.public_key.to_der().unwrap();
        let key = VerifyingKey::from_public_key_der(&spki)
            .map_err(|_| fulcio_refusal(INSECURE_PUBLIC_KEY))?;
        if csr.algorithm.oid != ObjectIdentifier::new_unwrap(OID_ECDSA_SHA256) {
            return Err(fulcio_refusal(INVALID_SIGNATURE));
        }
        let sig = Signature::from_der(csr.signature.raw_bytes())
            .map_err(|_| fulcio_refusal(INVALID_SIGNATURE))?;
        key.verify(&csr.info.to_der().unwrap(), &sig)
            .map_err(|_| fulcio_refusal(INVALID_SIGNATURE))?;
        spki
    } else if let Some(content) = body["publicKeyRequest"]["publicKey"]["content"].as_str() {
        let alg = body["publicKeyRequest"]["publicKey"]["algorithm"]
            .as_str()
            .unwrap_or("");
        if !matches!(alg, "ECDSA" | "") {
            return Err(fulcio_refusal(INSECURE_PUBLIC_KEY));
        }
        let spki = spki::Document::from_pem(content)
            .map_err(|_| fulcio_refusal(INVALID_PUBLIC_KEY))?
            .1
            .as_bytes()
            .to_vec();
        let key = VerifyingKey::from_public_key_der(&spki)
            .map_err(|_| fulcio_refusal(INSECURE_PUBLIC_KEY))?;
        let pop = body["publicKeyRequest"]["proofOfPossession"]
            .as_str()
            .and_then(|p| B64.decode(p).ok())
            .and_then(|p| Signature::from_der(&p).ok())
            .ok_or_else(|| fulcio_refusal(INVALID_SIGNATURE))?;
        let sub = claims["sub"].as_str().unwrap_or("");
        key.verify(sub.as_bytes(), &pop)
            .map_err(|_| fulcio_refusal(INVALID_SIGNATURE))?;
        spki
    } else {
        return Err(fulcio_refusal(
            "one of certificateSigningRequest or publicKeyRequest must be set",
        ));
    };
    let leaf = pem("CERTIFICATE", &sh.keys.issue(&spki, &claims));
    sh.certificates.lock().unwrap().push(leaf.clone());
    Ok(json!({
        "signedCertificateEmbeddedSct": {
            "chain": {"certificates": [leaf, pem("CERTIFICATE", &sh.keys.ca_cert_der)]}
        }
    }))
}

/// The claims of an acceptable GitHub Actions ID token for audience `sigstore`, or `None`.
/// The signature is not checked (the GitHub stand-in signs nothing).
fn check_token(token: &str) -> Option<Value> {
    let mut parts = token.split('.');
    let (_, payload, _) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let claims: Value = serde_json::from_slice(&B64URL.decode(payload).ok()?).ok()?;
    let aud_ok = match &claims["aud"] {
        Value::String(a) => a == "sigstore",
        Value::Array(a) => a.iter().any(|a| a == "sigstore"),
        _ => false,
    };
    let exp_ok = claims["exp"].as_i64().is_some_and(|e| e > now_s() as i64);
    let all = REQUIRED_GITHUB_CLAIMS
        .iter()
        .all(|k| claims[*k].as_str().is_some_and(|v| !v.is_empty()));
    (claims["iss"] == GITHUB_ISSUER && aud_ok && exp_ok && all).then_some(claims)
}

fn rekor_refusal(status: u16, message: &str) -> Refusal {
    (status, json!({"code": status, "message": message}))
}

/// Answers one connection as Rekor does.
fn rekor_answer(mut s: TcpStream, sh: &Shared) {
    let Ok(req) = read_request(&mut s, true) else {
        return;
    };
    let (path, query) = req.target.split_once('?').unwrap_or((&req.target, ""));
    let mut headers = vec![("content-type", "application/json".to_string())];
    let (status, body) = match (req.method.as_str(), path) {
        ("POST", "/api/v1/log/entries") => match rekor_create(&req.body, sh) {
            Ok((uuid, v)) => {
                headers.push(("location", format!("/api/v1/log/entries/{uuid}")));
                (201, v.to_string())
            }
            Err((st, v)) => (st, v.to_string()),
        },
        ("GET", "/api/v1/log") => (200, rekor_log_info(sh).to_string()),
        ("GET", "/api/v1/log/publicKey") => {
            headers[0].1 = "application/x-pem-file".into();
            (200, pem("PUBLIC KEY", &sh.keys.rekor_spki_der))
        }
        ("GET", "/api/v1/log/entries") => {
            let index = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("logIndex="))
                .and_then(|i| i.parse::<u64>().ok());
            let entries = sh.entries.lock().unwrap();
            match index.filter(|i| (*i as usize) < entries.len()) {
                Some(i) => (200, entry_json(sh, &entries, i as usize).to_string()),
                None => {
                    let (st, v) = rekor_refusal(404, "entry not found");
                    (st, v.to_string())
                }
            }
        }
        ("GET", p) if p.starts_with("/api/v1/log/entries/") => {
            let id = p.trim_start_matches("/api/v1/log/entries/").to_lowercase();
            let entries = sh.entries.lock().unwrap();
            match entries
                .iter()
                .position(|e| e.uuid == id || e.uuid[16..] == id)
            {
                Some(i) => (200, entry_json(sh, &entries, i).to_string()),
                None => {
                    let (st, v) = rekor_refusal(404, "entry not found");
                    (st, v.to_string())
                }
            }
        }
        _ => {
            let (st, v) = rekor_refusal(404, "path not found");
            (st, v.to_string())
        }
    };
    sh.log
        .lock()
        .unwrap()
        .push(format!("rekor {} {} {status}", req.method, req.target));
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    respond(&mut s, status, &headers, body.as_bytes());
}

/// `POST /api/v1/log/entries`: the UUID and `{UUID: ENTRY}`.
fn rekor_create(body: &[u8], sh: &Shared) -> Result<(String, Value), Refusal> {
    let bad = |m: &str| rekor_refusal(400, m);
    let proposed: Value =
        serde_json::from_slice(body).map_err(|e| bad(&format!("invalid JSON: {e}")))?;
    if proposed["kind"] != "dsse" || proposed["apiVersion"] != "0.0.1" {
        return Err(bad(&format!(
            "unsupported kind/apiVersion: {}/{} (this stand-in logs dsse 0.0.1)",
            proposed["kind"], proposed["apiVersion"]
        )));
    }
    let content = &proposed["spec"]["proposedContent"];
    let envelope_text = content["envelope"]
        .as_str()
        .ok_or_else(|| bad("proposed content envelope is missing"))?;
    let verifiers = content["verifiers"]
        .as_array()
        .ok_or_else(|| bad("proposed content verifiers are missing"))?;
    let [verifier] = verifiers.as_slice() else {
        return Err(bad("exactly one verifier is required"));
    };
    let verifier = verifier
        .as_str()
        .ok_or_else(|| bad("verifier must be a string"))?;
    let key = verifier_key(verifier).ok_or_else(|| bad("invalid verifier"))?;
    let envelope: Value = serde_json::from_str(envelope_text)
        .map_err(|e| bad(&format!("payload must be a valid DSSE envelope: {e}")))?;
    let payload_type = envelope["payloadType"]
        .as_str()
        .ok_or_else(|| bad("DSSE envelope has no payloadType"))?;
    let payload = envelope["payload"]
        .as_str()
        .and_then(|p| B64.decode(p).ok())
        .ok_or_else(|| bad("DSSE envelope payload is not base64"))?;
    let sigs = envelope["signatures"]
        .as_array()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad("DSSE envelope must contain 1 or more signatures"))?;
    let pae = dsse_pae(payload_type, &payload);
    let mut signatures = Vec::new();
    for s in sigs {
        let text = s["sig"].as_str().unwrap_or("");
        let ok = B64
            .decode(text)
            .ok()
            .and_then(|d| Signature::from_der(&d).ok())
            .is_some_and(|sig| key.verify(&pae, &sig).is_ok());
        if !ok {
            return Err(bad("could not verify envelope: signature does not verify"));
        }
        signatures.push(json!({"signature": text, "verifier": verifier}));
    }
    signatures.sort_by(|a, b| a["signature"].as_str().cmp(&b["signature"].as_str()));
    let canonical = jcs(&json!({
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {
            "envelopeHash": {"algorithm": "sha256", "value": hex::encode(Sha256::digest(envelope_text.as_bytes()))},
            "payloadHash": {"algorithm": "sha256", "value": hex::encode(Sha256::digest(&payload))},
            "signatures": signatures,
        }
    }));
    let body = canonical.into_bytes();
    let leaf_hash = leaf_hash(&body);
    let mut entries = sh.entries.lock().unwrap();
    if let Some(e) = entries.iter().find(|e| e.leaf_hash == leaf_hash) {
        return Err(rekor_refusal(
            409,
            &format!(
                "An equivalent entry already exists in the transparency log with UUID {}",
                e.uuid
            ),
        ));
    }
    let index = entries.len();
    let uuid = format!("{:016x}{}", sh.keys.tree_id, hex::encode(leaf_hash));
    entries.push(LogEntry {
        index: index as u64,
        uuid: uuid.clone(),
        body,
        integrated_time: now_s(),
        leaf_hash,
    });
    Ok((uuid, entry_json(sh, &entries, index)))
}

/// The public key of a verifier: b64 of a PEM certificate (or PEM public key).
fn verifier_key(b64_pem: &str) -> Option<VerifyingKey> {
    let pem_bytes = B64.decode(b64_pem).ok()?;
    if let Ok(cert) = Certificate::from_pem(&pem_bytes) {
        let spki = cert.tbs_certificate.subject_public_key_info.to_der().ok()?;
        return VerifyingKey::from_public_key_der(&spki).ok();
    }
    VerifyingKey::from_public_key_pem(std::str::from_utf8(&pem_bytes).ok()?).ok()
}

/// DSSE's pre-authentication encoding: `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`.
fn dsse_pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut pae = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    pae.extend(payload);
    pae
}

/// `{UUID: ENTRY}` for entry `i`, its proof against the tree of all `entries`.
fn entry_json(sh: &Shared, entries: &[LogEntry], i: usize) -> Value {
    let e = &entries[i];
    let leaves: Vec<[u8; 32]> = entries.iter().map(|e| e.leaf_hash).collect();
    let root = merkle_root(&leaves);
    let log_id = hex::encode(Sha256::digest(&sh.keys.rekor_spki_der));
    let body = B64.encode(&e.body);
    let set_payload = jcs(&json!({
        "body": body,
        "integratedTime": e.integrated_time,
        "logID": log_id,
        "logIndex": e.index,
    }));
    let set: DerSignature = sh.keys.rekor_key.sign(set_payload.as_bytes());
    let hashes: Vec<String> = inclusion_path(i, &leaves).iter().map(hex::encode).collect();
    let mut out = serde_json::Map::new();
    out.insert(
        e.uuid.clone(),
        json!({
            "body": body,
            "integratedTime": e.integrated_time,
            "logID": log_id,
            "logIndex": e.index,
            "verification": {
                "inclusionProof": {
                    "checkpoint": checkpoint(sh, leaves.len(), &root),
                    "hashes": hashes,
                    "logIndex": e.index,
                    "rootHash": hex::encode(root),
                    "treeSize": leaves.len(),
                },
                "signedEntryTimestamp": B64.encode(set.as_bytes()),
            },
        }),
    );
    Value::Object(out)
}

/// `GET /api/v1/log`.
fn rekor_log_info(sh: &Shared) -> Value {
    let entries = sh.entries.lock().unwrap();
    let leaves: Vec<[u8; 32]> = entries.iter().map(|e| e.leaf_hash).collect();
    let root = merkle_root(&leaves);
    json!({
        "rootHash": hex::encode(root),
        "treeSize": leaves.len(),
        "signedTreeHead": checkpoint(sh, leaves.len(), &root),
        "treeID": sh.keys.tree_id.to_string(),
        "inactiveShards": [],
    })
}

/// A signed note (C2SP signed-note, as Rekor writes checkpoints):
/// `ORIGIN\nSIZE\nB64(ROOT)\n\n— NAME B64(KEYHINT ‖ DER SIG)\n`, the key hint the first 4
/// bytes of the log id, the signature over the text up to and including the first `\n` of
/// the blank line.
fn checkpoint(sh: &Shared, size: usize, root: &[u8; 32]) -> String {
    let note = format!(
        "{REKOR_NAME} - {}\n{size}\n{}\n",
        sh.keys.tree_id,
        B64.encode(root)
    );
    let sig: DerSignature = sh.keys.rekor_key.sign(note.as_bytes());
    let mut blob = Sha256::digest(&sh.keys.rekor_spki_der)[..4].to_vec();
    blob.extend(sig.as_bytes());
    format!("{note}\n\u{2014} {REKOR_NAME} {}\n", B64.encode(blob))
}

/// RFC 6962 leaf hash: SHA-256(0x00 ‖ leaf).
fn leaf_hash(leaf: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(leaf);
    h.finalize().into()
}

/// RFC 6962 interior node: SHA-256(0x01 ‖ left ‖ right).
fn node_hash(l: &[u8; 32], r: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(l);
    h.update(r);
    h.finalize().into()
}

/// The largest power of two smaller than `n` (`n` > 1).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// MTH(D[n]) over leaf hashes (RFC 9162 §2.1.1); SHA-256 of nothing for an empty tree.
fn merkle_root(leaves: &[[u8; 32]]) -> [u8; 32] {
    match leaves.len() {
        0 => Sha256::digest([]).into(),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&merkle_root(&leaves[..k]), &merkle_root(&leaves[k..]))
        }
    }
}

/// PATH(m, D[n]) (RFC 9162 §2.1.3.1), from the leaf's sibling up.
fn inclusion_path(m: usize, leaves: &[[u8; 32]]) -> Vec<[u8; 32]> {
    let n = leaves.len();
    if n <= 1 {
        return Vec::new();
    }
    let k = split(n);
    if m < k {
        let mut p = inclusion_path(m, &leaves[..k]);
        p.push(merkle_root(&leaves[k..]));
        p
    } else {
        let mut p = inclusion_path(m - k, &leaves[k..]);
        p.push(merkle_root(&leaves[..k]));
        p
    }
}

/// RFC 8785 (JCS) serialization of `v`: object keys sorted (by UTF-16 code units), no
/// whitespace; strings as serde_json escapes them (the same as JCS), integers only.
fn jcs(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
            let items: Vec<String> = keys
                .iter()
                .map(|k| format!("{}:{}", Value::String((*k).clone()), jcs(&m[*k])))
                .collect();
            format!("{{{}}}", items.join(","))
        }
        Value::Array(a) => format!("[{}]", a.iter().map(jcs).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<[u8; 32]> {
        (0..n).map(|i| leaf_hash(&[i as u8])).collect()
    }

    /// Recomputes the root from a path as sigstore-python's `verify_merkle_inclusion` does
    /// (inner part by the index bits, then the right border).
    fn root_from_path(m: usize, n: usize, leaf: [u8; 32], path: &[[u8; 32]]) -> [u8; 32] {
        let inner = (usize::BITS - (m ^ (n - 1)).leading_zeros()) as usize;
        let border = (m >> inner).count_ones() as usize;
        assert_eq!(path.len(), inner + border, "m={m} n={n}");
        let mut r = leaf;
        for (i, h) in path[..inner].iter().enumerate() {
            r = if (m >> i) & 1 == 0 {
                node_hash(&r, h)
            } else {
                node_hash(h, &r)
            };
        }
        for h in &path[inner..] {
            r = node_hash(h, &r);
        }
        r
    }

    #[test]
    fn inclusion_paths_verify_for_every_leaf_and_size() {
        for n in 1..=17 {
            let l = leaves(n);
            let root = merkle_root(&l);
            for m in 0..n {
                let path = inclusion_path(m, &l);
                assert_eq!(root_from_path(m, n, l[m], &path), root, "m={m} n={n}");
            }
        }
    }

    #[test]
    fn jcs_sorts_keys_and_drops_whitespace() {
        let v = json!({"logIndex": 3, "body": "a\"b", "logID": "x", "integratedTime": 7});
        assert_eq!(
            jcs(&v),
            r#"{"body":"a\"b","integratedTime":7,"logID":"x","logIndex":3}"#
        );
    }

    #[test]
    fn checkpoint_is_a_signed_note_over_its_body() {
        let shared = Shared {
            keys: Keys::new(),
            log: Mutex::default(),
            entries: Mutex::default(),
            certificates: Mutex::default(),
        };
        let note = checkpoint(&shared, 2, &[7u8; 32]);
        let (body, sig_line) = note.split_once("\n\n").unwrap();
        let sig_line = sig_line.strip_suffix('\n').unwrap();
        let (name, blob) = sig_line
            .strip_prefix("\u{2014} ")
            .unwrap()
            .split_once(' ')
            .unwrap();
        assert_eq!(name, REKOR_NAME);
        let blob = B64.decode(blob).unwrap();
        let log_id = Sha256::digest(&shared.keys.rekor_spki_der);
        assert_eq!(blob[..4], log_id[..4]);
        let sig = Signature::from_der(&blob[4..]).unwrap();
        let body = format!("{body}\n");
        shared
            .keys
            .rekor_key
            .verifying_key()
            .verify(body.as_bytes(), &sig)
            .unwrap();
        assert!(body.starts_with("rekor.stand-in - "));
    }
}
