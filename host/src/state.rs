//! The run state folder: what one job hands to the next.
//!
//! Layout of `DIR` (default `<project>/.airlock/state`):
//! - `state.json`: `{ "version": 1, "pipeline": NAME, "stages": { ID: Record } }` where a
//!   record is `{ "status", "output": "outputs/ID.json", "sha256", "artifacts": [{ "path",
//!   "sha256", "size" }], "failure" }`;
//! - `outputs/ID.json`: each succeeded stage's output;
//! - `artifacts/PATH`: a copy of each artifact a stage declared in its WIT response
//!   (`response.artifacts`, e.g. the wheel and sdist in `dist/`), accepted only inside the
//!   stage's write grants.
//!
//! The folder is opened once as a handle and reached without following links
//! ([`crate::hostfs`]); the manifest may not grant a stage write access to it.
//!
//! A later `airlock run --only …` reads upstream outputs and artifacts from `DIR` and
//! verifies every digest before a stage uses them; a modified, missing or unexpected file
//! refuses the run with an error that names it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context as _, Result, anyhow, bail};
use cap_std::fs::Dir;
use serde::{Deserialize, Serialize};

use crate::hostfs;
use crate::manifest::{Access, Stage};
use crate::report::Status;

/// The state manifest's format version.
pub const VERSION: u32 = 1;

/// One artifact: a project-relative file, its sha256 and size (the stage contract's
/// `artifact`, from the SDK). In `state.json` and the report only once
/// [`collect_artifacts`] has checked it against the file.
pub use airlock_stage::Artifact;

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

/// sha256 of `bytes`, lowercase hex (the foundation's, [`airlock_pypkg::sha256_hex`]).
pub use airlock_pypkg::sha256_hex;

/// An artifact as a stage declared it in its WIT `response.artifacts`: hostile until
/// [`collect_artifacts`] has checked it (the path as the stage wrote it, secrets redacted;
/// the sha256 and size it claims).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared(pub Artifact);

/// The most entries a state folder may hold (outputs and artifact copies).
const MAX_STATE_ENTRIES: usize = 10_000;
/// The largest `state.json` or output file read back, in bytes.
const MAX_STATE_FILE: u64 = 256 << 20;

/// The state folder, opened once as a handle ([`crate::hostfs`]): nothing in it is read,
/// written, walked or removed through a symbolic link.
pub struct StateDir {
    /// The folder handle.
    pub dir: Dir,
    /// Its path, for messages.
    pub path: PathBuf,
}

impl StateDir {
    /// Creates (if missing) and opens `path`. Errors: it cannot be created, or it is a link.
    pub fn open(path: &Path) -> Result<StateDir> {
        let dir = hostfs::create_root(path)
            .with_context(|| format!("the state folder {}", path.display()))?;
        Ok(StateDir {
            dir,
            path: path.to_path_buf(),
        })
    }

    /// Checks that files can be written in the folder (a probe file, made and removed).
    /// Errors: a read-only folder, or one this user may not write.
    pub fn check_writable(&self) -> Result<()> {
        let probe = format!(".write-check-{}", std::process::id());
        hostfs::create_file(&self.dir, &probe)
            .with_context(|| format!("the state folder {} is not writable", self.path.display()))?;
        let _ = self.dir.remove_file(&probe);
        Ok(())
    }

    fn show(&self, rel: &str) -> String {
        self.path.join(rel).display().to_string()
    }
}

/// Reads `DIR/state.json`; an absent file is an empty state.
pub fn load(dir: &StateDir) -> Result<StateFile> {
    let bytes = match hostfs::read_file(&dir.dir, "state.json", MAX_STATE_FILE) {
        Ok(b) => b,
        Err(_) if dir.dir.symlink_metadata("state.json").is_err() => {
            return Ok(StateFile {
                version: VERSION,
                ..Default::default()
            });
        }
        Err(e) => return Err(e.context(format!("cannot read {}", dir.show("state.json")))),
    };
    let state: StateFile = serde_json::from_slice(&bytes).with_context(|| {
        format!(
            "{} is not an airlock state manifest",
            dir.show("state.json")
        )
    })?;
    if state.version != VERSION {
        bail!(
            "{} has format version {}, this airlock reads {VERSION}",
            dir.show("state.json"),
            state.version
        );
    }
    Ok(state)
}

/// The files under `sub` (`outputs` or `artifacts`), relative to the state folder; none
/// when it does not exist. Errors: a link or special file in it.
fn files_under(dir: &StateDir, sub: &str) -> Result<Vec<String>> {
    if dir.dir.symlink_metadata(sub).is_err() {
        return Ok(vec![]);
    }
    let d = hostfs::open_dir(&dir.dir, sub)
        .with_context(|| format!("state folder {}", dir.path.display()))?;
    Ok(hostfs::walk_files(&d, MAX_STATE_ENTRIES)
        .with_context(|| format!("state folder {}: {sub}", dir.path.display()))?
        .into_iter()
        .map(|f| format!("{sub}/{f}"))
        .collect())
}

fn recorded(state: &StateFile) -> BTreeSet<String> {
    let mut known = BTreeSet::new();
    for r in state.stages.values() {
        if let Some(o) = &r.output {
            known.insert(o.clone());
        }
        for a in &r.artifacts {
            known.insert(format!("artifacts/{}", a.path));
        }
    }
    known
}

/// Refuses files in `DIR/outputs` and `DIR/artifacts` that `state` does not record (an
/// added file is as suspect as a modified one), and any link there.
pub fn check_no_strays(dir: &StateDir, state: &StateFile) -> Result<()> {
    let known = recorded(state);
    for sub in ["outputs", "artifacts"] {
        for f in files_under(dir, sub)? {
            if !known.contains(&f) {
                bail!(
                    "state folder {}: unexpected file {f} is not recorded in state.json: refusing to run on a state that was changed after it was written",
                    dir.path.display(),
                );
            }
        }
    }
    Ok(())
}

/// Reads and verifies stage `id`'s output from `DIR`: the file must exist and match its
/// recorded sha256. Errors name the file.
pub fn verified_output(dir: &StateDir, id: &str, r: &Record) -> Result<Option<serde_json::Value>> {
    let (Some(rel), Some(want)) = (&r.output, &r.sha256) else {
        return Ok(None);
    };
    let bytes = hostfs::read_file(&dir.dir, rel, MAX_STATE_FILE).with_context(|| {
        format!(
            "the output of stage \"{id}\" ({}) is missing from the state folder",
            dir.show(rel)
        )
    })?;
    if &sha256_hex(&bytes) != want {
        bail!(
            "the output of stage \"{id}\" ({}) does not have the sha256 state.json records ({want}): it was modified after the stage wrote it",
            dir.show(rel)
        );
    }
    Ok(Some(serde_json::from_slice(&bytes).with_context(|| {
        format!("{} is not JSON", dir.show(rel))
    })?))
}

/// Verifies the copies of `r`'s artifacts in `DIR/artifacts` and puts each one in place in
/// the project (replacing a project file, or a link, with the verified copy). Errors name
/// the file.
pub fn restore_artifacts(dir: &StateDir, project: &Dir, id: &str, r: &Record) -> Result<()> {
    for a in &r.artifacts {
        let rel = format!("artifacts/{}", a.path);
        let src = hostfs::open_file(&dir.dir, &rel).with_context(|| {
            format!(
                "artifact {} of stage \"{id}\" is missing from the state folder",
                a.path
            )
        })?;
        let (got, _) = hostfs::hash_stream(src, a.size, None, None)
            .map_err(|e| anyhow!("artifact {} of stage \"{id}\" {e}", dir.show(&rel)))?;
        if got != a.sha256 {
            bail!(
                "artifact {} of stage \"{id}\" does not have the sha256 state.json records ({}): it was modified after the stage built it; refusing to use it",
                dir.show(&rel),
                a.sha256
            );
        }
        let same = hostfs::open_file(project, &a.path)
            .ok()
            .and_then(|f| hostfs::hash_stream(f, a.size, None, None).ok())
            .is_some_and(|(d, _)| d == a.sha256);
        if !same {
            let src = hostfs::open_file(&dir.dir, &rel)?;
            let mut dst = hostfs::create_file(project, &a.path)
                .with_context(|| format!("cannot restore {}", a.path))?;
            let (got, _) = hostfs::hash_stream(src, a.size, None, Some(&mut dst))
                .map_err(|e| anyhow!("cannot restore {}: {e}", a.path))?;
            if got != a.sha256 {
                let _ = hostfs::remove_file(project, &a.path);
                bail!("artifact {} changed while it was restored", a.path);
            }
        }
    }
    Ok(())
}

/// Verifies that each of `r`'s artifacts in the project still has its recorded digest (so a
/// stage never reads an artifact changed since it was built). Errors name the file.
pub fn verify_in_project(project: &Dir, id: &str, r: &Record) -> Result<()> {
    for a in &r.artifacts {
        let f = hostfs::open_file(project, &a.path)
            .with_context(|| format!("artifact {} of stage \"{id}\" is missing", a.path))?;
        let ok = hostfs::hash_stream(f, a.size, None, None).is_ok_and(|(d, _)| d == a.sha256);
        if !ok {
            bail!(
                "artifact {} of stage \"{id}\" no longer has the sha256 {} it was built with: it changed after it was built; refusing to use it",
                a.path,
                a.sha256
            );
        }
    }
    Ok(())
}

/// Checks the artifacts stage `stage` declared and copies each into `DIR/artifacts`. An
/// artifact is accepted only when its path is a plain relative path inside one of the
/// stage's *write* grants, the file is a regular file reached without a link, it is no
/// larger than `limits.artifact_mib`, and its bytes (streamed once, hashed while copied,
/// before `deadline`) match the declared sha256 and size. Errors name the path and the
/// rule; they never reveal the file's actual digest.
pub fn collect_artifacts(
    dir: &StateDir,
    project: &Dir,
    stage: &Stage,
    declared: &[Declared],
    deadline: Instant,
) -> Result<Vec<Artifact>> {
    let max = stage.grants.limits.artifact_mib << 20;
    let mut out: Vec<Artifact> = Vec::new();
    for Declared(d) in declared {
        let shown = crate::runtime::cut(&d.path, 256);
        let parts = hostfs::components(&d.path).map_err(|e| anyhow!("artifact {e}"))?;
        if parts.is_empty() || d.path.len() > 1024 {
            bail!("artifact \"{shown}\" is not a file path");
        }
        let rel = parts.join("/");
        let granted = stage.grants.files.iter().any(|g| {
            g.access == Access::Write
                && (g.path == "." || rel == g.path || rel.starts_with(&format!("{}/", g.path)))
        });
        if !granted {
            bail!(
                "artifact \"{shown}\" is not inside a folder this stage may write: a stage hands on only files in its write grants"
            );
        }
        if d.sha256.len() != 64 || !d.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!("artifact \"{shown}\": the declared sha256 is not 64 hex digits");
        }
        if out.iter().any(|a| a.path == rel) {
            bail!("artifact \"{shown}\" is declared twice");
        }
        let src = hostfs::open_file(project, &rel)
            .map_err(|e| anyhow!("artifact \"{shown}\" cannot be read: {e:#}"))?;
        let copy = format!("artifacts/{rel}");
        let mut dst = hostfs::create_file(&dir.dir, &copy)?;
        let hashed = hostfs::hash_stream(src, max.min(d.size), Some(deadline), Some(&mut dst));
        let ok = match hashed {
            Ok((sha256, size)) => sha256 == d.sha256.to_ascii_lowercase() && size == d.size,
            Err(hostfs::StreamError::TooLarge { .. }) if d.size > max => {
                let _ = hostfs::remove_file(&dir.dir, &copy);
                bail!(
                    "artifact \"{shown}\" is declared as {} bytes, over grants.limits.artifact_mib ({} MiB)",
                    d.size,
                    stage.grants.limits.artifact_mib
                );
            }
            Err(hostfs::StreamError::TooLarge { .. }) => false,
            Err(e) => {
                let _ = hostfs::remove_file(&dir.dir, &copy);
                bail!("artifact \"{shown}\" {e}");
            }
        };
        if !ok {
            let _ = hostfs::remove_file(&dir.dir, &copy);
            bail!(
                "artifact \"{shown}\" does not match what the stage declared (sha256 {}, {} bytes)",
                d.sha256,
                d.size
            );
        }
        out.push(Artifact {
            path: rel,
            sha256: d.sha256.to_ascii_lowercase(),
            size: d.size,
        });
    }
    Ok(out)
}

/// Writes `output` as `DIR/outputs/ID.json` and returns (relative path, sha256).
pub fn write_output(
    dir: &StateDir,
    id: &str,
    output: &serde_json::Value,
) -> Result<(String, String)> {
    let rel = format!("outputs/{id}.json");
    let text = serde_json::to_string_pretty(output)?;
    hostfs::write_file(&dir.dir, &rel, text.as_bytes())
        .with_context(|| format!("cannot write {}", dir.show(&rel)))?;
    Ok((rel, sha256_hex(text.as_bytes())))
}

/// Writes `state.json` (and removes output and artifact files no record refers to; a link
/// there is an error, never followed).
pub fn save(dir: &StateDir, state: &StateFile) -> Result<()> {
    let keep = recorded(state);
    for sub in ["outputs", "artifacts"] {
        for f in files_under(dir, sub)? {
            if !keep.contains(&f) {
                let _ = hostfs::remove_file(&dir.dir, &f);
            }
        }
    }
    hostfs::write_file(
        &dir.dir,
        "state.json",
        serde_json::to_string_pretty(state)?.as_bytes(),
    )
    .with_context(|| format!("cannot write {}", dir.show("state.json")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_folder_is_never_cleaned_through_a_link() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(outside.join("x")).unwrap();
        std::fs::write(outside.join("x/keep.json"), "{}").unwrap();
        let st = tmp.path().join("state");
        std::fs::create_dir_all(&st).unwrap();
        std::os::unix::fs::symlink(&outside, st.join("outputs")).unwrap();
        let dir = StateDir::open(&st).unwrap();
        assert!(save(&dir, &StateFile::default()).is_err());
        assert!(check_no_strays(&dir, &StateFile::default()).is_err());
        assert!(outside.join("x/keep.json").exists());
        // The state folder itself may not be a link.
        std::os::unix::fs::symlink(&outside, tmp.path().join("linked")).unwrap();
        assert!(StateDir::open(&tmp.path().join("linked")).is_err());
    }
}
