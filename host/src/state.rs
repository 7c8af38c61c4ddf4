//! The run state folder: what one job hands to the next.
//!
//! Layout of `DIR` (default `<project>/.airlock/state`):
//! - `state.json`: `{ "version": 1, "pipeline": NAME, "stages": { ID: Record } }` where a
//!   record is `{ "status", "output": "outputs/ID.json", "sha256", "artifacts": [{ "path",
//!   "sha256", "size" }], "failure" }`;
//! - `outputs/ID.json`: each succeeded stage's output;
//! - `artifacts/PATH`: a copy of each artifact a stage reported (an output's
//!   `artifacts: [{ path, sha256 }]`, e.g. the wheel and sdist in `dist/`).
//!
//! A later `airlock run --only …` reads upstream outputs and artifacts from `DIR` and
//! verifies every digest before a stage uses them; a modified, missing or unexpected file
//! refuses the run with an error that names it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::report::Status;

/// The state manifest's format version.
pub const VERSION: u32 = 1;

/// One artifact: a project-relative file and its digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    /// Project-relative path with `/` separators (e.g. `dist/x-1.0-py3-none-any.whl`).
    pub path: String,
    /// sha256, lowercase hex.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

/// One stage's record in `state.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// How the stage ended.
    pub status: Status,
    /// The output file, relative to the state folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// sha256 of the output file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The artifacts the stage reported.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<Artifact>,
    /// The failure, when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<serde_json::Value>,
}

/// `state.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StateFile {
    /// Format version ([`VERSION`]).
    pub version: u32,
    /// The pipeline's name.
    pub pipeline: String,
    /// Records by stage id.
    pub stages: BTreeMap<String, Record>,
}

/// sha256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn sha256_file(path: &Path) -> Result<(String, u64)> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok((sha256_hex(&bytes), bytes.len() as u64))
}

/// Reads `DIR/state.json`; an absent file is an empty state.
pub fn load(dir: &Path) -> Result<StateFile> {
    let path = dir.join("state.json");
    if !path.exists() {
        return Ok(StateFile {
            version: VERSION,
            ..Default::default()
        });
    }
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let state: StateFile = serde_json::from_str(&text)
        .with_context(|| format!("{} is not an airlock state manifest", path.display()))?;
    if state.version != VERSION {
        bail!(
            "{} has format version {}, this airlock reads {VERSION}",
            path.display(),
            state.version
        );
    }
    Ok(state)
}

/// Refuses files in `DIR/outputs` and `DIR/artifacts` that `state` does not record (an
/// added file is as suspect as a modified one).
pub fn check_no_strays(dir: &Path, state: &StateFile) -> Result<()> {
    let mut known: BTreeSet<PathBuf> = BTreeSet::new();
    for r in state.stages.values() {
        if let Some(o) = &r.output {
            known.insert(dir.join(o));
        }
        for a in &r.artifacts {
            known.insert(dir.join("artifacts").join(&a.path));
        }
    }
    for sub in ["outputs", "artifacts"] {
        for f in walk(&dir.join(sub)) {
            if !known.contains(&f) {
                bail!(
                    "state folder {}: unexpected file {} is not recorded in state.json: refusing to run on a state that was changed after it was written",
                    dir.display(),
                    f.display()
                );
            }
        }
    }
    Ok(())
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Reads and verifies stage `id`'s output from `DIR`: the file must exist and match its
/// recorded sha256. Errors name the file.
pub fn verified_output(dir: &Path, id: &str, r: &Record) -> Result<Option<serde_json::Value>> {
    let (Some(rel), Some(want)) = (&r.output, &r.sha256) else {
        return Ok(None);
    };
    let path = dir.join(rel);
    let bytes = std::fs::read(&path).with_context(|| {
        format!(
            "the output of stage \"{id}\" ({}) is missing from the state folder",
            path.display()
        )
    })?;
    let got = sha256_hex(&bytes);
    if &got != want {
        bail!(
            "the output of stage \"{id}\" ({}) has sha256 {got}, but state.json records {want}: it was modified after the stage wrote it",
            path.display()
        );
    }
    Ok(Some(serde_json::from_slice(&bytes).with_context(|| {
        format!("{} is not JSON", path.display())
    })?))
}

/// Verifies the copies of `r`'s artifacts in `DIR/artifacts` and puts each one in place in
/// the project (replacing a project file with other content). Errors name the file.
pub fn restore_artifacts(dir: &Path, project: &Path, id: &str, r: &Record) -> Result<()> {
    for a in &r.artifacts {
        let copy = dir.join("artifacts").join(&a.path);
        let (got, _) = sha256_file(&copy).with_context(|| {
            format!(
                "artifact {} of stage \"{id}\" is missing from the state folder",
                a.path
            )
        })?;
        if got != a.sha256 {
            bail!(
                "artifact {} of stage \"{id}\" has sha256 {got}, but state.json records {}: it was modified after the stage built it; refusing to use it",
                copy.display(),
                a.sha256
            );
        }
        let dest = project.join(&a.path);
        let same = sha256_file(&dest)
            .map(|(d, _)| d == a.sha256)
            .unwrap_or(false);
        if !same {
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::copy(&copy, &dest)
                .with_context(|| format!("cannot restore {}", dest.display()))?;
        }
    }
    Ok(())
}

/// Verifies that each of `r`'s artifacts in the project still has its recorded digest (so a
/// stage never reads an artifact changed since it was built). Errors name the file.
pub fn verify_in_project(project: &Path, id: &str, r: &Record) -> Result<()> {
    for a in &r.artifacts {
        let path = project.join(&a.path);
        let (got, _) = sha256_file(&path)
            .with_context(|| format!("artifact {} of stage \"{id}\" is missing", path.display()))?;
        if got != a.sha256 {
            bail!(
                "artifact {} of stage \"{id}\" has sha256 {got}, but the stage reported {}: it changed after it was built; refusing to use it",
                path.display(),
                a.sha256
            );
        }
    }
    Ok(())
}

/// The artifacts an output reports (`artifacts: [{ path, sha256 }]`), checked against the
/// files in the project and copied into `DIR/artifacts`. Errors: a reported file missing, a
/// path outside the project, or a digest that does not match the file.
pub fn collect_artifacts(
    dir: &Path,
    project: &Path,
    output: &serde_json::Value,
) -> Result<Vec<Artifact>> {
    let mut out = Vec::new();
    let Some(list) = output.get("artifacts").and_then(|a| a.as_array()) else {
        return Ok(out);
    };
    for item in list {
        let (Some(path), Some(reported)) = (
            item.get("path").and_then(|p| p.as_str()),
            item.get("sha256").and_then(|s| s.as_str()),
        ) else {
            continue;
        };
        let rel = crate::capabilities::normalize_grant_path(project, path.trim_start_matches('/'))
            .map_err(|m| anyhow::anyhow!("artifact path {path}: {m}"))?;
        let file = project.join(&rel);
        let (sha256, size) = sha256_file(&file)?;
        if sha256 != reported {
            bail!("artifact {rel}: the stage reported sha256 {reported}, the file has {sha256}");
        }
        let copy = dir.join("artifacts").join(&rel);
        std::fs::create_dir_all(copy.parent().unwrap())?;
        std::fs::copy(&file, &copy)
            .with_context(|| format!("cannot copy {rel} into the state folder"))?;
        out.push(Artifact {
            path: rel,
            sha256,
            size,
        });
    }
    Ok(out)
}

/// Writes `output` as `DIR/outputs/ID.json` and returns (relative path, sha256).
pub fn write_output(dir: &Path, id: &str, output: &serde_json::Value) -> Result<(String, String)> {
    let rel = format!("outputs/{id}.json");
    let path = dir.join(&rel);
    std::fs::create_dir_all(path.parent().unwrap())?;
    let text = serde_json::to_string_pretty(output)?;
    std::fs::write(&path, &text).with_context(|| format!("cannot write {}", path.display()))?;
    Ok((rel, sha256_hex(text.as_bytes())))
}

/// Writes `state.json` (and removes output and artifact files no record refers to).
pub fn save(dir: &Path, state: &StateFile) -> Result<()> {
    for sub in ["outputs", "artifacts"] {
        let keep: BTreeSet<PathBuf> = state
            .stages
            .values()
            .flat_map(|r| {
                r.output
                    .iter()
                    .map(|o| dir.join(o))
                    .chain(
                        r.artifacts
                            .iter()
                            .map(|a| dir.join("artifacts").join(&a.path)),
                    )
                    .collect::<Vec<_>>()
            })
            .collect();
        for f in walk(&dir.join(sub)) {
            if !keep.contains(&f) {
                let _ = std::fs::remove_file(&f);
            }
        }
    }
    let path = dir.join("state.json");
    std::fs::write(&path, serde_json::to_string_pretty(state)?)
        .with_context(|| format!("cannot write {}", path.display()))
}
