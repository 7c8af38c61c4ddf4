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
/// The OIDC issuer of GitLab.com CI ID tokens.
pub const GITLAB_ISSUER: &str = "https://gitlab.com";

/// The CI service of a trusted publisher, as Fulcio certifies its jobs (`docs/oid-info.md`)
/// and PyPI names its publishers (PEP 740 provenance `publisher.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forge {
    /// GitHub Actions: build config URI
    /// `https://github.com/OWNER/REPO/.github/workflows/WORKFLOW@REF`.
    GitHub,
    /// GitLab.com CI/CD: build config URI `https://gitlab.com/GROUP/PROJECT//PATH@REF`.
    GitLab,
}

impl Forge {
    /// The OIDC issuer Fulcio writes into extension .8.
    pub fn issuer(self) -> &'static str {
        match self {
            Forge::GitHub => GITHUB_ISSUER,
            Forge::GitLab => GITLAB_ISSUER,
        }
    }

    /// The web origin repositories live under, with a trailing `/`.
    pub fn web(self) -> &'static str {
        match self {
            Forge::GitHub => "https://github.com/",
            Forge::GitLab => "https://gitlab.com/",
        }
    }

    /// PEP 740's `publisher.kind`: `GitHub` or `GitLab`.
    pub fn kind(self) -> &'static str {
        match self {
            Forge::GitHub => "GitHub",
            Forge::GitLab => "GitLab",
        }
    }

    /// The forge of an OIDC issuer.
    pub fn of_issuer(issuer: &str) -> Option<Forge> {
        [Forge::GitHub, Forge::GitLab]
            .into_iter()
            .find(|f| f.issuer() == issuer)
    }

    /// The forge of a PEP 740 `publisher.kind`.
    pub fn of_kind(kind: &str) -> Option<Forge> {
        [Forge::GitHub, Forge::GitLab]
            .into_iter()
            .find(|f| f.kind() == kind)
    }

    /// The build config URI Fulcio certifies for `workflow` of `repository` at `suffix`
    /// (the commit or the ref), as pypi-attestations' publisher policies rebuild it.
    pub fn build_config_uri(self, repository: &str, workflow: &str, suffix: &str) -> String {
        match self {
            Forge::GitHub => {
                format!("https://github.com/{repository}/.github/workflows/{workflow}@{suffix}")
            }
            Forge::GitLab => format!("https://gitlab.com/{repository}//{workflow}@{suffix}"),
        }
    }

    /// The name of the publisher object's workflow field: `workflow` (GitHub) or
    /// `workflow_filepath` (GitLab).
    pub fn workflow_field(self) -> &'static str {
        match self {
            Forge::GitHub => "workflow",
            Forge::GitLab => "workflow_filepath",
        }
    }
}
