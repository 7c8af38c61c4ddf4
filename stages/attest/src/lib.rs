//! The attest stage: a PEP 740 publish attestation for every distribution in `dist`, signed
//! with Sigstore keyless signing inside this component, and written beside each file as
//! `<file>.publish.attestation` (the name uv publish and the upload stage send). Where the
//! files were built by airlock's build stage (an input with `mode = "build"`), each also
//! gets an SLSA Provenance v1 attestation, `<file>.slsa.attestation`. A thin adapter over
//! [`airlock_attest`].
//!
//! The signing key is an ECDSA P-256 key made from wasi:random inside the component; it is
//! never written, logged or output, and is gone when the stage returns.
//!
//! Config (all optional):
//! - `mode` (default `"auto"`): `"auto"` attests when the job has an OIDC identity (GitHub
//!   Actions with `id-token: write`, or `id_token_env` set) and otherwise skips with a
//!   warning and `"attested": false` in the output (as pypa/gh-action-pypi-publish attests
//!   only under trusted publishing); `"required"` fails without one.
//! - `dist` (default `"dist"`): the folder of `.whl` / `.tar.gz` files (needs a write grant:
//!   the attestations go beside them).
//! - `fulcio` (default `https://fulcio.sigstore.dev`), `rekor` (default
//!   `https://rekor.sigstore.dev`): the Sigstore instance; both need `grants.http`.
//! - `actions_origin` (default `https://*.actions.githubusercontent.com`): GitHub's ID token
//!   endpoint origin, for the manifest's grants and inject rule (`{config.actions_origin}`).
//! - `id_token_env`: read the ID token (audience `sigstore`) from this variable instead of
//!   GitHub's endpoint (e.g. GitLab's `id_tokens: { SIGSTORE_ID_TOKEN: { aud: sigstore } }`).
//! - `provenance` (bool, default true): also the SLSA provenance attestation where airlock built.
//! - `retry`: the backoff for transient Fulcio / Rekor failures (as the upload stage's).
//!
//! Grants: `files` write on `dist`; `env` `GITHUB_ACTIONS`, `ACTIONS_ID_TOKEN_REQUEST_URL`
//! (and `GITHUB_EVENT_NAME`, `GITHUB_REPOSITORY` for clearer errors); `http` Fulcio, Rekor and
//! the token endpoint; the inject rule of `ACTIONS_ID_TOKEN_REQUEST_TOKEN` as bearer into the
//! token endpoint.
//!
//! Output: `{ "attested": true, "identity": { "issuer", "repository", "workflow", "ref", "san" },
//! "rekor": url, "attestations": [ { "file", "sha256", "path", "predicate_type",
//! "log_index" } ], "artifacts": [ { "path", "sha256", "size" } ] }`.

use airlock_attest::statement::{BuildDescription, Statement};
use airlock_attest::{Attestation, Identity, PUBLISH_SUFFIX};
use airlock_publish::oidc::{self, ActionsEnv};
use airlock_publish::retry::RetryPolicy;
use airlock_publish::sigstore::{EphemeralKey, Services, attest_statement, signing_certificate};
use airlock_stage::http::{SdkTransport, Transport};
use airlock_stage::{Artifact, Category, Output, Request, StageError};
use serde::{Deserialize, Serialize};

/// The stage's output (the module docs give its JSON).
#[derive(Debug, Serialize)]
struct Attested {
    /// False when `mode = "auto"` found no OIDC identity to sign with.
    attested: bool,
    /// Why nothing was attested.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    /// Who signed: the signing certificate's identity.
    #[serde(skip_serializing_if = "Option::is_none")]
    identity: Option<Signer>,
    /// The Rekor instance the entries are in.
    #[serde(skip_serializing_if = "Option::is_none")]
    rekor: Option<String>,
    attestations: Vec<Written>,
    /// The `.attestation` files.
    artifacts: Vec<Artifact>,
}

impl Output for Attested {
    fn artifacts(&self) -> Vec<Artifact> {
        self.artifacts.clone()
    }
}

/// The signing certificate's identity (Fulcio's OIDC extensions).
#[derive(Debug, Serialize)]
struct Signer {
    issuer: Option<String>,
    repository: Option<String>,
    workflow: Option<String>,
    #[serde(rename = "ref")]
    git_ref: Option<String>,
    san: Vec<String>,
}

/// One attestation file written.
#[derive(Debug, Serialize)]
struct Written {
    /// The distribution's file name.
    file: String,
    /// The distribution's sha256 (the statement's subject digest).
    sha256: String,
    /// The attestation file, project-relative.
    path: String,
    predicate_type: String,
    /// The Rekor log index of its entry.
    log_index: u64,
}

/// The stage config.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default = "default_mode")]
    mode: Mode,
    #[serde(default = "default_dist")]
    dist: String,
    #[serde(default = "default_fulcio")]
    fulcio: String,
    #[serde(default = "default_rekor")]
    rekor: String,
    /// Used by the manifest's grants only.
    #[serde(default)]
    #[allow(dead_code)]
    actions_origin: Option<String>,
    #[serde(default)]
    id_token_env: Option<String>,
    #[serde(default = "yes")]
    provenance: bool,
    #[serde(default)]
    retry: RetryPolicy,
}

#[derive(Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Mode {
    Auto,
    Required,
}

fn default_mode() -> Mode {
    Mode::Auto
}

fn default_dist() -> String {
    "dist".into()
}
fn default_fulcio() -> String {
    "https://fulcio.sigstore.dev".into()
}
fn default_rekor() -> String {
    "https://rekor.sigstore.dev".into()
}
fn yes() -> bool {
    true
}

/// The suffix of an SLSA provenance attestation file.
const SLSA_SUFFIX: &str = ".slsa.attestation";

fn random(buf: &mut [u8]) {
    #[cfg(target_arch = "wasm32")]
    {
        let bytes = wasip2::random::random::get_random_bytes(buf.len() as u64);
        buf.copy_from_slice(&bytes);
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        // Tests only: distinct bytes per call from the std hasher's random keys.
        use std::hash::{BuildHasher, Hasher};
        for chunk in buf.chunks_mut(8) {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u8(0);
            let v = h.finish().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

fn run(req: &Request) -> Result<Attested, StageError> {
    run_with(
        req,
        &mut SdkTransport,
        &|k| std::env::var(k).ok(),
        &mut |d| std::thread::sleep(d),
    )
}

/// The distributions in `dir` (file name, project-relative path), sorted.
fn distributions(dir: &str) -> Result<Vec<(String, String)>, StageError> {
    let entries = std::fs::read_dir(dir).map_err(|e| StageError::io(dir, &e))?;
    let mut out = Vec::new();
    for e in entries {
        let e = e.map_err(|e| StageError::io(dir, &e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if (name.ends_with(".whl") || name.ends_with(".tar.gz"))
            && e.file_type().map(|t| t.is_file()).unwrap_or(false)
        {
            let rel = format!("{}/{name}", dir.trim_end_matches('/'));
            out.push((name, rel));
        }
    }
    out.sort();
    if out.is_empty() {
        return Err(StageError::validation(format!(
            "no .whl or .tar.gz distribution in '{dir}' to attest"
        ))
        .with_hint(
            "run the build stage first (needs = [\"build\"]), or point `dist` at the files",
        ));
    }
    Ok(out)
}

fn run_with(
    req: &Request,
    t: &mut dyn Transport,
    env: &dyn Fn(&str) -> Option<String>,
    sleep: &mut dyn FnMut(std::time::Duration),
) -> Result<Attested, StageError> {
    let config: Config = req.config()?;
    let files = distributions(&config.dist)?;
    // The build stage's output, when airlock built these files.
    let build = req
        .find_input::<serde_json::Value>()
        .filter(|(_, v)| v.get("mode").and_then(|m| m.as_str()) == Some("build"))
        .map(|(_, v)| v);

    // 1. The ID token for audience `sigstore`.
    let actions = ActionsEnv::from(|k| env(k));
    let has_identity = match &config.id_token_env {
        Some(var) => env(var).is_some_and(|v| !v.trim().is_empty()),
        None => actions.request_url.is_some(),
    };
    if config.mode == Mode::Auto && !has_identity {
        let reason = match &config.id_token_env {
            Some(var) => format!("${var} is not set"),
            None => oidc::missing_permission(&actions).message,
        };
        airlock_stage::host::warn(&format!(
            "not attesting: no OIDC identity to sign with ({reason}); set mode = \"required\" to fail instead"
        ));
        return Ok(Attested {
            attested: false,
            reason: Some(reason),
            identity: None,
            rekor: None,
            attestations: Vec::new(),
            artifacts: Vec::new(),
        });
    }
    let token = match &config.id_token_env {
        Some(var) => env(var).filter(|v| !v.trim().is_empty()).ok_or_else(|| {
            StageError::new(
                Category::Authentication,
                format!("no Sigstore ID token: ${var} is not set"),
            )
            .with_hint(format!("set {var} to an OIDC ID token for audience `sigstore` (GitLab: `id_tokens: {{ {var}: {{ aud: sigstore }} }}`), and grant it in grants.env"))
        })?,
        None => oidc::id_token(t, &actions, airlock_publish::sigstore::AUDIENCE)?,
    };

    // 2. The key and its certificate.
    let key = EphemeralKey::generate(random);
    let services = Services {
        fulcio: config.fulcio.clone(),
        rekor: config.rekor.clone(),
        retry: config.retry.clone(),
    };
    let chain = signing_certificate(t, &services.fulcio, &token, &key, &services.retry, sleep)?;
    let cert = &chain[0];
    let identity = Identity::of_der(cert)
        .map_err(|e| StageError::validation(format!("Fulcio's signing certificate: {e}")))?;
    airlock_stage::host::info(&format!(
        "signing certificate from {} for {}",
        services.fulcio,
        identity.describe()
    ));

    // 3. One statement per file (two where airlock built it), each signed and logged.
    let mut attestations = Vec::new();
    let mut artifacts = Vec::new();
    let total = files.len() as u64;
    for (i, (name, rel)) in files.iter().enumerate() {
        let bytes = std::fs::read(rel).map_err(|e| StageError::io(rel, &e))?;
        let sha256 = airlock_pypkg::sha256_hex(&bytes);
        let mut statements = vec![(PUBLISH_SUFFIX, Statement::publish(name, &sha256))];
        if config.provenance
            && let Some(b) = &build
            && let Some(pred) = provenance(b, name, &sha256, &identity)
        {
            statements.push((
                SLSA_SUFFIX,
                Statement::new(
                    name,
                    &sha256,
                    airlock_attest::statement::SLSA_PROVENANCE_V1,
                    pred,
                ),
            ));
        }
        for (suffix, statement) in statements {
            let att: Attestation = attest_statement(t, &services, &key, cert, &statement, sleep)?;
            let json = att.to_json();
            let path = format!("{rel}{suffix}");
            std::fs::write(&path, json.as_bytes()).map_err(|e| StageError::io(&path, &e))?;
            let entry = &att.verification_material.transparency_entries[0];
            artifacts.push(Artifact {
                path: path.clone(),
                sha256: airlock_pypkg::sha256_hex(json.as_bytes()),
                size: json.len() as u64,
            });
            attestations.push(Written {
                file: name.clone(),
                sha256: sha256.clone(),
                path,
                predicate_type: statement.predicate_type.to_string(),
                log_index: entry.log_index.parse::<u64>().unwrap_or(0),
            });
        }
        airlock_stage::host::progress(i as u64 + 1, Some(total), &format!("attested {name}"));
    }
    Ok(Attested {
        attested: true,
        reason: None,
        identity: Some(Signer {
            repository: identity.repository().map(String::from),
            workflow: identity.workflow().map(String::from),
            issuer: identity.issuer,
            git_ref: identity.source_repository_ref,
            san: identity.san,
        }),
        rekor: Some(services.rekor),
        attestations,
        artifacts,
    })
}

/// The SLSA Provenance v1 predicate for `name` when the build stage's output `build` lists
/// it with this sha256: the backend, SOURCE_DATE_EPOCH and the release as parameters, the
/// sdist of the same build as the resolved source, the signing workflow as builder.
fn provenance(
    build: &serde_json::Value,
    name: &str,
    sha256: &str,
    identity: &Identity,
) -> Option<serde_json::Value> {
    let arts = build.get("artifacts")?.as_array()?;
    arts.iter().find(|a| {
        a.get("filename").and_then(|f| f.as_str()) == Some(name)
            && a.get("sha256").and_then(|s| s.as_str()) == Some(sha256)
    })?;
    let sdist = arts
        .iter()
        .find(|a| a.get("kind").and_then(|k| k.as_str()) == Some("sdist"));
    let source_uri = match (
        &identity.source_repository_uri,
        &identity.source_repository_ref,
    ) {
        (Some(u), Some(r)) => Some(format!("git+{u}@{r}")),
        _ => None,
    };
    let desc = BuildDescription {
        source_sha256: sdist
            .and_then(|s| s.get("sha256"))
            .and_then(|s| s.as_str())
            .map(String::from),
        source_uri,
        backend: build
            .get("backend")
            .and_then(|b| b.as_str())
            .map(String::from),
        parameters: serde_json::json!({
            "name": build.get("name"),
            "version": build.get("version"),
            "source_date_epoch": build.get("source_date_epoch"),
            "builder": "airlock build stage",
        }),
        builder_id: identity
            .build_config_uri
            .clone()
            .or_else(|| identity.san.first().cloned())
            .unwrap_or_default(),
        invocation_id: identity.run_invocation_uri.clone(),
    };
    Some(desc.predicate())
}

airlock_stage::export_stage!(run);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_material_is_random() {
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        random(&mut a);
        random(&mut b);
        assert_ne!(a, b);
    }

    #[test]
    fn config_is_checked() {
        let e = run_with(
            &Request::new("attest", serde_json::json!({ "fulcoi": "x" })),
            &mut SdkTransport,
            &|_| None,
            &mut |_| {},
        )
        .unwrap_err();
        assert_eq!(e.category, Category::Configuration);
        assert!(e.message.contains("fulcoi"), "{}", e.message);
    }
}
