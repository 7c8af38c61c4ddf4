//! `airlock verify`: checks the PEP 740 attestations of distribution files against the
//! publisher a user expects, for people who install packages.
//!
//! Two sources:
//! - **files** on disk, each with its attestations beside it (`<file>.*.attestation`, as
//!   the attest stage writes them, or `--attestation`);
//! - **a release on an index** (`NAME==VERSION` with `--index`): the project page (PEP 691
//!   JSON, PEP 503 HTML), each file of that version downloaded and hashed, its provenance
//!   read from the URL the page gives (PEP 740 `provenance` / `data-provenance`), else from
//!   PyPI's integrity API `/integrity/{project}/{version}/{file}/provenance`; the
//!   provenance's publisher must be the expected one too (there the environment is checked,
//!   which a certificate does not carry).
//!
//! Each attestation is verified offline by [`airlock_attest::verify`] against a Sigstore
//! trusted root (`--trusted-root FILE`, else Sigstore's public-good root bundled in the
//! binary). Every refusal says which check failed and what did not match. HTTP goes through
//! reqwest with a 30 s timeout per request.

use std::path::{Path, PathBuf};
use std::time::Duration;

use airlock_attest::trust::TrustedRoot;
use airlock_attest::{Attestation, Policy};

/// What to verify and against whom (the command line's options).
#[derive(Debug, Clone)]
pub struct Options {
    /// Files, or `NAME==VERSION` releases (with `index`).
    pub targets: Vec<String>,
    /// The expected publisher.
    pub policy: Policy,
    /// The expected GitHub environment (index mode only: the provenance's publisher).
    pub environment: Option<String>,
    /// A Sigstore trusted root file; `None`: the public-good instance.
    pub trusted_root: Option<PathBuf>,
    /// The attestation file of a single target file.
    pub attestation: Option<PathBuf>,
    /// A simple index (e.g. `https://pypi.org/simple/`) for `NAME==VERSION` targets.
    pub index: Option<String>,
}

/// One verified (or refused) attestation, for the report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Outcome {
    /// The distribution's file name.
    pub file: String,
    /// Where the attestation came from (a path or a URL).
    pub source: String,
    /// The predicate type, when verified.
    pub predicate_type: Option<String>,
    /// The signer, when the certificate could be read.
    pub signer: Option<String>,
    /// The transparency log index.
    pub log_index: Option<u64>,
    /// Why it was refused; `None` when verified.
    pub refused: Option<String>,
}

/// A usage error (exit 2) or a refusal (exit 1).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line or its inputs are wrong.
    #[error("{0}")]
    Usage(String),
    /// Verification could not proceed (an index unreachable, a file unreadable).
    #[error("{0}")]
    Failed(String),
}

fn trusted_root(path: Option<&Path>) -> Result<TrustedRoot, Error> {
    match path {
        None => Ok(TrustedRoot::public_good()),
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| Error::Usage(format!("--trusted-root {}: {e}", p.display())))?;
            TrustedRoot::from_json(&text)
                .map_err(|e| Error::Usage(format!("--trusted-root {}: {e}", p.display())))
        }
    }
}

/// Verifies every target; the outcomes in order. Errors: usage (exit 2) or a failure to
/// read a file or the index (exit 1); refusals are outcomes with `refused` set.
pub fn run(opts: &Options) -> Result<Vec<Outcome>, Error> {
    let root = trusted_root(opts.trusted_root.as_deref())?;
    if opts.targets.is_empty() {
        return Err(Error::Usage(
            "nothing to verify: give distribution files, or NAME==VERSION with --index".into(),
        ));
    }
    if opts.attestation.is_some() && opts.targets.len() != 1 {
        return Err(Error::Usage(
            "--attestation goes with exactly one file".into(),
        ));
    }
    let mut out = Vec::new();
    for target in &opts.targets {
        if let Some((name, version)) = target.split_once("==") {
            let Some(index) = &opts.index else {
                return Err(Error::Usage(format!(
                    "{target}: a release needs --index (e.g. --index https://pypi.org/simple/)"
                )));
            };
            out.extend(verify_release(
                index,
                name.trim(),
                version.trim(),
                opts,
                &root,
            )?);
        } else {
            if opts.environment.is_some() {
                return Err(Error::Usage(
                    "--environment is checked against an index's provenance (its publisher names the environment; a signing certificate does not): use NAME==VERSION with --index".into(),
                ));
            }
            out.extend(verify_file(Path::new(target), opts, &root)?);
        }
    }
    Ok(out)
}

fn outcome(
    file: &str,
    source: String,
    att: Result<Attestation, String>,
    sha256: &str,
    root: &TrustedRoot,
    policy: &Policy,
) -> Outcome {
    let mut o = Outcome {
        file: file.into(),
        source,
        predicate_type: None,
        signer: None,
        log_index: None,
        refused: None,
    };
    let att = match att {
        Ok(a) => a,
        Err(e) => {
            o.refused = Some(e);
            return o;
        }
    };
    if let Ok(der) = base64_decode(&att.verification_material.certificate)
        && let Ok(id) = airlock_attest::Identity::of_der(&der)
    {
        o.signer = Some(id.describe());
    }
    match airlock_attest::verify(&att, file, sha256, root, Some(policy)) {
        Ok(v) => {
            o.predicate_type = Some(v.predicate_type);
            o.log_index = Some(v.log_index);
        }
        Err(e) => o.refused = Some(e.to_string()),
    }
    o
}

fn base64_decode(s: &str) -> Result<Vec<u8>, base64::DecodeError> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s)
}

fn verify_file(file: &Path, opts: &Options, root: &TrustedRoot) -> Result<Vec<Outcome>, Error> {
    let bytes =
        std::fs::read(file).map_err(|e| Error::Failed(format!("{}: {e}", file.display())))?;
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Error::Usage(format!("{}: not a file name", file.display())))?;
    let sha256 = airlock_pypkg::sha256_hex(&bytes);
    let paths = match &opts.attestation {
        Some(p) => vec![p.clone()],
        None => airlock_publish::attestation::find_files(file),
    };
    if paths.is_empty() {
        return Ok(vec![Outcome {
            file: name.into(),
            source: file.display().to_string(),
            predicate_type: None,
            signer: None,
            log_index: None,
            refused: Some(format!(
                "no attestation: expected {name}{} beside it (or give --attestation)",
                airlock_attest::PUBLISH_SUFFIX
            )),
        }]);
    }
    Ok(paths
        .into_iter()
        .map(|p| {
            let att = std::fs::read(&p)
                .map_err(|e| format!("attestation: cannot read it: {e}"))
                .and_then(|b| Attestation::from_json(&b).map_err(|e| format!("attestation: {e}")));
            outcome(
                name,
                p.display().to_string(),
                att,
                &sha256,
                root,
                &opts.policy,
            )
        })
        .collect())
}

/// Largest distribution file `verify` downloads (PyPI's largest per-project limit).
const MAX_DOWNLOAD: u64 = 1 << 30;
/// Largest simple page or provenance document read.
const MAX_DOCUMENT: u64 = 16 << 20;

/// GETs `url` with `accept` and reads the whole body, refusing one over `cap` bytes; returns
/// the status, the `Content-Type` and the body, whatever the status. Errors: the request
/// failed (with its causes) or the body is too large.
pub(crate) async fn get(
    client: &reqwest::Client,
    url: &str,
    accept: &str,
    cap: u64,
) -> Result<(u16, String, Vec<u8>), Error> {
    let mut resp = client
        .get(url)
        .header("accept", accept)
        .send()
        .await
        .map_err(|e| Error::Failed(format!("GET {url}: {}", chain(&e))))?;
    let status = resp.status().as_u16();
    let ctype = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| Error::Failed(format!("GET {url}: {e}")))?
    {
        body.extend_from_slice(&chunk);
        if body.len() as u64 > cap {
            return Err(Error::Failed(format!("GET {url}: larger than {cap} bytes")));
        }
    }
    Ok((status, ctype, body))
}

/// An error with its sources, `a: b: c`.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(&format!(": {c}"));
        src = c.source();
    }
    s
}

fn join_url(base: &str, link: &str) -> Result<String, Error> {
    let base = reqwest::Url::parse(base).map_err(|e| Error::Usage(format!("{base}: {e}")))?;
    base.join(link)
        .map(|u| u.to_string())
        .map_err(|e| Error::Failed(format!("{link}: {e}")))
}

fn verify_release(
    index: &str,
    name: &str,
    version: &str,
    opts: &Options,
    root: &TrustedRoot,
) -> Result<Vec<Outcome>, Error> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Failed(e.to_string()))?;
    rt.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("airlock/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Failed(e.to_string()))?;
        let project = airlock_pypkg::normalize_name(name);
        let page_url = airlock_pypkg::simple::project_url(index, &project);
        let (status, ctype, body) = get(
            &client,
            &page_url,
            airlock_pypkg::simple::ACCEPT,
            MAX_DOCUMENT,
        )
        .await?;
        if status != 200 {
            return Err(Error::Failed(format!("{page_url} answered {status}")));
        }
        let page = airlock_pypkg::simple::parse_project_page(&ctype, &body)
            .map_err(|e| Error::Failed(format!("{page_url}: {e}")))?;
        let files: Vec<_> = page
            .files
            .iter()
            .filter(|f| {
                airlock_pypkg::filename::DistFilename::parse(&f.filename)
                    .is_some_and(|d| d.project() == project && d.is_version(version))
            })
            .collect();
        if files.is_empty() {
            return Err(Error::Failed(format!("{page_url} lists no file of {name} {version}")));
        }
        let mut out = Vec::new();
        for f in files {
            let file_url = join_url(&page_url, &f.url)?;
            let (status, _, bytes) = get(&client, &file_url, "*/*", MAX_DOWNLOAD).await?;
            if status != 200 {
                return Err(Error::Failed(format!("{file_url} answered {status}")));
            }
            let sha256 = airlock_pypkg::sha256_hex(&bytes);
            if let Some(listed) = &f.sha256
                && *listed != sha256
            {
                out.push(refusal(&f.filename, &file_url, format!("the file's sha256 is {sha256}, but the index lists {listed}")));
                continue;
            }
            let prov_url = match &f.provenance {
                Some(p) => join_url(&page_url, p)?,
                None => join_url(
                    &page_url,
                    &format!("/integrity/{project}/{version}/{}/provenance", f.filename),
                )?,
            };
            let (status, _, prov) = get(&client, &prov_url, "application/vnd.pypi.integrity.v1+json, application/json", MAX_DOCUMENT).await?;
            if status != 200 {
                out.push(refusal(&f.filename, &prov_url, format!(
                    "no provenance: {prov_url} answered {status} (the file was published without attestations, or the index does not serve them)"
                )));
                continue;
            }
            out.extend(check_provenance(&f.filename, &prov_url, &prov, &sha256, opts, root));
        }
        Ok(out)
    })
}

fn refusal(file: &str, source: &str, why: String) -> Outcome {
    Outcome {
        file: file.into(),
        source: source.into(),
        predicate_type: None,
        signer: None,
        log_index: None,
        refused: Some(why),
    }
}

/// Checks a PEP 740 provenance object (`{"version": 1, "attestation_bundles": [{"publisher":
/// {...}, "attestations": [...]}]}`) for file `file` with `sha256`.
fn check_provenance(
    file: &str,
    source: &str,
    body: &[u8],
    sha256: &str,
    opts: &Options,
    root: &TrustedRoot,
) -> Vec<Outcome> {
    let v: serde_json::Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            return vec![refusal(
                file,
                source,
                format!("the provenance is not JSON: {e}"),
            )];
        }
    };
    let bundles = v["attestation_bundles"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if bundles.is_empty() {
        return vec![refusal(
            file,
            source,
            "the provenance has no attestation bundle".into(),
        )];
    }
    let mut out = Vec::new();
    for b in bundles {
        let p = &b["publisher"];
        let forge = opts.policy.forge;
        let kind = p["kind"].as_str().unwrap_or("MISSING");
        let repo = p["repository"].as_str().unwrap_or("MISSING");
        let workflow = p[forge.workflow_field()].as_str().unwrap_or("MISSING");
        let env = p["environment"].as_str().filter(|e| !e.is_empty());
        let same_repo = match forge {
            airlock_attest::Forge::GitHub => repo.eq_ignore_ascii_case(&opts.policy.repository),
            airlock_attest::Forge::GitLab => repo == opts.policy.repository,
        };
        let mismatch = if kind != forge.kind() {
            Some(format!(
                "the index names a {kind} publisher, expected {}",
                forge.kind()
            ))
        } else if !same_repo {
            Some(format!(
                "the index names publisher repository {repo}, expected {}",
                opts.policy.repository
            ))
        } else if workflow != opts.policy.workflow {
            Some(format!(
                "the index names publisher workflow {workflow}, expected {}",
                opts.policy.workflow
            ))
        } else if let Some(want) = &opts.environment
            && env != Some(want.as_str())
        {
            Some(format!(
                "the index names publisher environment {}, expected {want}",
                env.unwrap_or("NONE")
            ))
        } else {
            None
        };
        if let Some(m) = mismatch {
            out.push(refusal(file, source, format!("publisher: {m}")));
            continue;
        }
        for a in b["attestations"].as_array().cloned().unwrap_or_default() {
            let att = serde_json::to_vec(&a)
                .map_err(|e| e.to_string())
                .and_then(|bytes| {
                    Attestation::from_json(&bytes).map_err(|e| format!("attestation: {e}"))
                });
            out.push(outcome(
                file,
                source.into(),
                att,
                sha256,
                root,
                &opts.policy,
            ));
        }
    }
    out
}

/// The human report: one line per attestation, `OK` or `REFUSED` with the reason.
pub fn render_human(outcomes: &[Outcome]) -> String {
    let mut s = String::new();
    for o in outcomes {
        let file = crate::encode::terminal(&o.file);
        match &o.refused {
            None => s.push_str(&format!(
                "OK       {file}: {} attestation, signed by {}, transparency log entry {}\n",
                o.predicate_type
                    .as_deref()
                    .map(short_predicate)
                    .unwrap_or("?"),
                crate::encode::terminal(o.signer.as_deref().unwrap_or("?")),
                o.log_index.unwrap_or(0)
            )),
            Some(why) => s.push_str(&format!(
                "REFUSED  {file}: {}\n         ({})\n",
                crate::encode::terminal(why),
                crate::encode::terminal(&o.source)
            )),
        }
    }
    s
}

fn short_predicate(p: &str) -> &str {
    match p {
        airlock_attest::statement::PUBLISH_V1 => "publish",
        airlock_attest::statement::SLSA_PROVENANCE_V1 => "SLSA provenance",
        other => other,
    }
}
