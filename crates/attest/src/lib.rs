//! PEP 740 attestations for Python distributions, made and checked without Python.
//!
//! An attestation binds one distribution file (its name and sha256) to the identity of the
//! CI job that published it:
//! - [`statement`]: the in-toto Statement v1 naming the file (predicate
//!   `https://docs.pypi.org/attestations/publish/v1`, or SLSA Provenance v1);
//! - [`dsse`]: the DSSE pre-authentication encoding the signature covers;
//! - [`rekor`]: what Rekor (v1 API, `dsse` 0.0.1) is sent and answers, and the checks of its
//!   promises (inclusion proof, checkpoint, signed entry timestamp); the signing flow over
//!   HTTP (an ephemeral key, a Fulcio certificate, a Rekor entry) is
//!   `airlock_publish::sigstore`, next to the OIDC client it shares;
//! - [`model`]: the PEP 740 attestation object and its transparency-log entry, as JSON;
//! - [`verify`]: offline verification of all of it against a Sigstore trusted root
//!   ([`trust`]) and an expected publisher identity ([`Identity`], from the certificate's
//!   Fulcio extensions, [`x509`]), as pypi-attestations and sigstore-python verify.
//!
//! Sources: PEP 740; in-toto attestation spec (Statement v1); DSSE v1 protocol; Fulcio
//! `fulcio.proto` (v2) and `docs/oid-info.md`; Rekor `openapi.yaml` and the `dsse` v0.0.1
//! type; RFC 6962 / RFC 9162 (Merkle trees, SCTs); C2SP signed-note and tlog-checkpoint;
//! sigstore protobuf-specs (`TransparencyLogEntry`, `TrustedRoot`).

pub mod dsse;
pub mod model;
pub mod rekor;
pub mod statement;
pub mod trust;
pub mod verify;
pub mod x509;

pub use model::Attestation;
pub use verify::{Policy, Verified, VerifyError, verify};
pub use x509::Identity;

/// The suffix of a publish attestation file written beside its distribution
/// (`<file>.publish.attestation`), the name uv publish and the upload stage look for.
pub const PUBLISH_SUFFIX: &str = ".publish.attestation";

/// The OIDC issuer of GitHub Actions ID tokens (Fulcio extension 1.3.6.1.4.1.57264.1.8).
pub const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";
