//! The pipeline: stages in dependency order (a DAG by `needs`), independent stages
//! concurrently, `when` conditions, and the run state folder.
//!
//! State folder layout (default `<project>/.airlock/state`):
//! - `outputs/<stage>.json`: each succeeded stage's output;
//! - `state.json`: `{ "pipeline", "stages": { id: { "status", "output", "sha256" } } }`,
//!   with the sha256 of each output file, so a later job can verify what it reads.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, Result};
use sha2::{Digest, Sha256};
use tokio::task::JoinSet;

use crate::capabilities::Secrets;
use crate::manifest::{Manifest, Stage};
use crate::report::{Reporter, RunReport, StageRecord, Status};
use crate::runtime::{Loaded, RunResult, Runtime};

/// Runs every stage of `manifest` and returns the report (printing progress through
/// `reporter`). Errors are host-level: a component that cannot be loaded, a state folder
/// that cannot be written.
pub async fn run(
    manifest: &Manifest,
    runtime: Arc<Runtime>,
    state_dir: &Path,
    reporter: Arc<Reporter>,
) -> Result<RunReport> {
    let start = Instant::now();
    let outputs_dir = state_dir.join("outputs");
    std::fs::create_dir_all(&outputs_dir)
        .with_context(|| format!("cannot create the state folder {}", outputs_dir.display()))?;

    // Load (compile or fetch from cache) each distinct component once.
    let mut loaded: BTreeMap<String, Loaded> = BTreeMap::new();
    for st in &manifest.stages {
        let key = st.component.to_string();
        if let std::collections::btree_map::Entry::Vacant(e) = loaded.entry(key) {
            let l = runtime
                .load(&st.component)
                .with_context(|| format!("stage \"{}\"", st.id))?;
            e.insert(l);
        }
    }

    let secrets = Secrets::default();
    for src in &manifest.secrets {
        match std::env::var(&src.env) {
            Ok(v) if !v.is_empty() => secrets.insert(&src.name, &v),
            _ => reporter.note(&format!(
                "secret \"{}\": ${} is not set; rules that inject it add nothing",
                src.name, src.env
            )),
        }
    }
    let mut records: BTreeMap<String, StageRecord> = BTreeMap::new();
    let mut running: JoinSet<(String, RunResult)> = JoinSet::new();
    let mut started: BTreeMap<String, bool> = BTreeMap::new();

    loop {
        // Start or settle every stage whose needs are all settled.
        let mut progressed = true;
        while progressed {
            progressed = false;
            for st in &manifest.stages {
                if started.contains_key(&st.id) || !st.needs.iter().all(|n| records.contains_key(n))
                {
                    continue;
                }
                started.insert(st.id.clone(), true);
                progressed = true;
                let l = &loaded[&st.component.to_string()];
                if let Some(rec) = settle_without_running(st, &records, l) {
                    reporter.finished(&rec);
                    records.insert(st.id.clone(), rec);
                    continue;
                }
                reporter.started(&st.id, &st.component.to_string());
                let inputs: Vec<(String, String)> = st
                    .needs
                    .iter()
                    .filter_map(|n| {
                        let out = records.get(n)?.output.as_ref()?;
                        Some((n.clone(), serde_json::to_string(out).ok()?))
                    })
                    .collect();
                let (rt, st2, project, secrets, sink, l) = (
                    runtime.clone(),
                    st.clone(),
                    manifest.project.clone(),
                    secrets.clone(),
                    reporter.sink(),
                    l.clone(),
                );
                running.spawn(async move {
                    let res = match rt.run(&l, &st2, &project, inputs, &secrets, sink).await {
                        Ok(r) => r,
                        Err(e) => RunResult {
                            outcome: Err(crate::runtime::StageFailure {
                                category: "capability".into(),
                                message: secrets.redact(&format!("{e:#}")),
                                retryable: false,
                                hint: Some("check the stage's grants in the manifest".into()),
                            }),
                            elapsed: Default::default(),
                            instantiate: None,
                            denied: vec![],
                        },
                    };
                    (st2.id.clone(), res)
                });
            }
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        let (id, res) = joined.context("a stage task panicked")?;
        let st = manifest.stage(&id).unwrap();
        let l = &loaded[&st.component.to_string()];
        let mut rec = base_record(st, l);
        rec.instantiate_ms = res.instantiate.map(|d| d.as_secs_f64() * 1000.0);
        rec.run_ms = Some(res.elapsed.as_secs_f64() * 1000.0);
        rec.denied = res.denied;
        match res.outcome {
            Ok(out) => {
                rec.status = Status::Succeeded;
                rec.output = Some(out);
            }
            Err(f) => {
                rec.status = Status::Failed;
                rec.failure = Some(f);
            }
        }
        reporter.finished(&rec);
        records.insert(id, rec);
    }

    // Stages never started (cannot happen in a validated DAG, but never report silently).
    for st in &manifest.stages {
        if !records.contains_key(&st.id) {
            let mut rec = base_record(st, &loaded[&st.component.to_string()]);
            rec.status = Status::NotRun;
            rec.reason = Some("its needs never settled".into());
            records.insert(st.id.clone(), rec);
        }
    }

    write_state(manifest, state_dir, &records)?;
    let stages: Vec<StageRecord> = manifest
        .stages
        .iter()
        .map(|s| records.remove(&s.id).unwrap())
        .collect();
    let success = !stages
        .iter()
        .any(|r| matches!(r.status, Status::Failed | Status::NotRun));
    Ok(RunReport {
        pipeline: manifest.name.clone(),
        project: manifest.project.clone(),
        state: state_dir.to_path_buf(),
        success,
        exit_code: if success { 0 } else { 1 },
        elapsed_ms: start.elapsed().as_secs_f64() * 1000.0,
        stages,
    })
}

fn base_record(st: &Stage, l: &Loaded) -> StageRecord {
    StageRecord {
        id: st.id.clone(),
        status: Status::NotRun,
        reason: None,
        component: st.component.to_string(),
        digest: Some(l.digest.clone()),
        cache: Some(l.cache),
        load_ms: Some(l.load_time.as_secs_f64() * 1000.0),
        instantiate_ms: None,
        run_ms: None,
        output: None,
        failure: None,
        denied: vec![],
    }
}

/// Decides a stage's fate without running it: not run when a need failed, skipped when a
/// need was skipped or `when` is false. None = run it.
fn settle_without_running(
    st: &Stage,
    records: &BTreeMap<String, StageRecord>,
    l: &Loaded,
) -> Option<StageRecord> {
    let mut rec = base_record(st, l);
    rec.load_ms = None;
    rec.cache = None;
    for n in &st.needs {
        match records[n].status {
            Status::Failed | Status::NotRun => {
                rec.status = Status::NotRun;
                rec.reason = Some(format!("needs \"{n}\", which did not succeed"));
                return Some(rec);
            }
            Status::Skipped => {
                rec.status = Status::Skipped;
                rec.reason = Some(format!("needs \"{n}\", which was skipped"));
                return Some(rec);
            }
            Status::Succeeded => {}
        }
    }
    let w = st.when.as_ref()?;
    let out = records[&w.stage].output.as_ref();
    let mut v = out;
    for part in w.field.split('.') {
        v = v.and_then(|x| x.get(part));
    }
    let value = v.and_then(|x| x.as_bool());
    let run = match value {
        Some(b) => b != w.negate,
        None => {
            rec.status = Status::Failed;
            rec.failure = Some(crate::runtime::StageFailure {
                category: "configuration".into(),
                message: format!(
                    "when = \"{w}\": the output of \"{}\" has no boolean field \"{}\"",
                    w.stage, w.field
                ),
                retryable: false,
                hint: Some("name a boolean field of the upstream stage's documented output".into()),
            });
            return Some(rec);
        }
    };
    if run {
        None
    } else {
        rec.status = Status::Skipped;
        rec.reason = Some(format!("when = \"{w}\" is false"));
        Some(rec)
    }
}

fn write_state(
    manifest: &Manifest,
    state_dir: &Path,
    records: &BTreeMap<String, StageRecord>,
) -> Result<()> {
    let mut stages = serde_json::Map::new();
    for st in &manifest.stages {
        let rec = &records[&st.id];
        let mut entry = serde_json::json!({ "status": rec.status });
        let file: PathBuf = state_dir.join("outputs").join(format!("{}.json", st.id));
        if let Some(out) = &rec.output {
            let text = serde_json::to_string_pretty(out)?;
            std::fs::write(&file, &text)
                .with_context(|| format!("cannot write {}", file.display()))?;
            entry["output"] = format!("outputs/{}.json", st.id).into();
            entry["sha256"] = hex::encode(Sha256::digest(text.as_bytes())).into();
        } else {
            let _ = std::fs::remove_file(&file);
        }
        if let Some(f) = &rec.failure {
            entry["failure"] = serde_json::to_value(f)?;
        }
        stages.insert(st.id.clone(), entry);
    }
    let state = serde_json::json!({ "pipeline": manifest.name, "stages": stages });
    let path = state_dir.join("state.json");
    std::fs::write(&path, serde_json::to_string_pretty(&state)?)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
