//! The pipeline: stages in dependency order (a DAG by `needs`), independent stages
//! concurrently, `when` conditions, on-failure stages, `--only` parts of a pipeline, and
//! the verified state folder ([`crate::state`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use tokio::task::JoinSet;

use crate::manifest::{Manifest, Stage};
use crate::report::{FailureReport, Reporter, RunReport, StageRecord, Status};
use crate::runtime::{
    Loaded, Renewer, RunResult, Runtime, Services, StageEvent, StageFailure, now_s,
};
use crate::secrets::Secrets;
use crate::state::{self, Record, StateDir, StateFile};

/// Each started stage's inputs, by stage id (a renewal runs the producer with the same).
type RanWith = Arc<std::sync::Mutex<BTreeMap<String, Vec<(String, String)>>>>;

/// The [`Renewer`] of a run: renews a secret stored with `store-secret-until` by running its
/// producer stage again, with the grants, config and inputs of its first run, one renewal
/// at a time (a request that waited finds the secret fresh and goes on). The producer's
/// logs appear under its id; its new output is not recorded (the first run's stays).
/// Errors: the producer is not part of this run, it fails, or it stores a value that is
/// still due for renewal.
fn renewer(
    manifest: &Manifest,
    runtime: &Arc<Runtime>,
    loaded: &BTreeMap<String, Loaded>,
    secrets: &Secrets,
    reporter: &Arc<Reporter>,
    ran_with: RanWith,
) -> Renewer {
    let producers: Arc<BTreeMap<String, (Stage, Loaded)>> = Arc::new(
        manifest
            .stages
            .iter()
            .filter_map(|st| {
                let l = loaded.get(&st.component.to_string())?;
                Some((st.id.clone(), (st.clone(), l.clone())))
            })
            .collect(),
    );
    let one_at_a_time = Arc::new(tokio::sync::Mutex::new(()));
    let (runtime, secrets, project, sink) = (
        runtime.clone(),
        secrets.clone(),
        manifest.project.clone(),
        reporter.sink(),
    );
    Arc::new(move |secret: String| {
        let (runtime, secrets, project, sink, producers, ran_with, one_at_a_time) = (
            runtime.clone(),
            secrets.clone(),
            project.clone(),
            sink.clone(),
            producers.clone(),
            ran_with.clone(),
            one_at_a_time.clone(),
        );
        Box::pin(async move {
            let _turn = one_at_a_time.lock().await;
            let Some(life) = secrets.lifetime(&secret) else {
                return Ok(());
            };
            if !life.renew_due(now_s()) {
                return Ok(()); // renewed while this request waited
            }
            let id = life.producer.clone();
            let Some((stage, loaded)) = producers.get(&id) else {
                return Err(format!(
                    "its producer, stage \"{id}\", is not part of this run"
                ));
            };
            let inputs = ran_with
                .lock()
                .unwrap()
                .get(&id)
                .cloned()
                .unwrap_or_default();
            sink(
                &id,
                StageEvent::Log {
                    level: "info",
                    message: format!(
                        "renewing secret \"{secret}\" (expires in {} s): running stage \"{id}\" again",
                        life.expires_at.saturating_sub(now_s())
                    ),
                },
            );
            let res = runtime
                .run(
                    loaded,
                    stage,
                    &project,
                    inputs,
                    Services {
                        secrets: secrets.clone(),
                        events: sink.clone(),
                        renew: None,
                    },
                )
                .await
                .map_err(|e| secrets.redact_string(&format!("stage \"{id}\": {e:#}")))?;
            if let Err(f) = res.outcome {
                return Err(format!("stage \"{id}\" failed: {}", f.message));
            }
            match secrets.lifetime(&secret) {
                Some(l) if !l.renew_due(now_s()) => Ok(()),
                _ => Err(format!(
                    "stage \"{id}\" ran again but did not store a fresh \"{secret}\""
                )),
            }
        })
    })
}

/// Which stages to run: all, or `--only` a set (their upstream outputs come from the state
/// folder, verified).
pub type Selection = Option<BTreeSet<String>>;

/// The loaded components of a run, by component reference (`ComponentRef`'s text).
pub type Components = BTreeMap<String, Loaded>;

/// Loads each distinct component of `manifest`'s selected stages once, into `into` (which
/// may hold those of an earlier project of the same manifest), before anything runs or any
/// folder is made. `compiling(reference, bytes)` is called before a component is compiled
/// (it is neither precompiled nor cached). Errors name the stage and what to build or fix
/// (see [`Runtime::load`]); the CLI reports them as manifest errors (exit 2).
pub fn load_components(
    manifest: &Manifest,
    runtime: &Runtime,
    only: &Selection,
    into: &mut Components,
    compiling: &dyn Fn(&str, usize),
) -> Result<()> {
    for st in manifest
        .stages
        .iter()
        .filter(|s| only.as_ref().is_none_or(|o| o.contains(&s.id)))
    {
        let key = st.component.to_string();
        if let std::collections::btree_map::Entry::Vacant(e) = into.entry(key) {
            let l = runtime
                .load(&st.component, &|size| compiling(e.key(), size))
                .with_context(|| format!("stage \"{}\"", st.id))?;
            e.insert(l);
        }
    }
    Ok(())
}

/// Runs `manifest` (or the `only` part of it) and returns the report, printing progress
/// through `reporter`. `loaded` holds every selected stage's component
/// ([`load_components`]). Errors are host-level and name what to fix: an `--only` stage unknown or whose upstream outputs are not in the state
/// folder, a state folder whose files do not match their recorded digests.
pub async fn run(
    manifest: &Manifest,
    runtime: Arc<Runtime>,
    loaded: &Components,
    state_dir: &Path,
    only: &Selection,
    reporter: Arc<Reporter>,
) -> Result<RunReport> {
    let start = Instant::now();
    let sd = StateDir::open(state_dir)?;
    let project_dir = crate::hostfs::open_root(&manifest.project)
        .with_context(|| format!("the project folder {}", manifest.project.display()))?;
    let selected: Vec<&Stage> = manifest
        .stages
        .iter()
        .filter(|s| only.as_ref().is_none_or(|o| o.contains(&s.id)))
        .collect();
    let selected_ids: BTreeSet<&str> = selected.iter().map(|s| s.id.as_str()).collect();

    // Upstream records this part does not run come from the state folder, verified.
    let mut previous = if only.is_some() {
        state::load(&sd)?
    } else {
        StateFile::default()
    };
    previous.pipeline = manifest.name.clone();
    previous.version = state::VERSION;
    let mut records: BTreeMap<String, StageRecord> = BTreeMap::new();
    let mut state_records: BTreeMap<String, Record> = BTreeMap::new();
    if only.is_some() {
        state::check_no_strays(&sd, &previous)?;
        let mut needed: BTreeSet<&str> = BTreeSet::new();
        for st in &selected {
            needed.extend(
                st.needs
                    .iter()
                    .map(String::as_str)
                    .filter(|n| !selected_ids.contains(n)),
            );
        }
        for id in needed {
            let Some(rec) = previous.stages.get(id) else {
                bail!(
                    "stage \"{id}\" is needed but its result is not in the state folder {}: run it first (airlock run MANIFEST --only {id} --state DIR) and pass DIR on",
                    state_dir.display()
                );
            };
            let output = state::verified_output(&sd, id, rec)?;
            state::restore_artifacts(&sd, &project_dir, id, rec)?;
            let st = manifest.stage(id).unwrap();
            records.insert(
                id.to_string(),
                StageRecord::from_state(st, rec.status.clone(), output),
            );
            state_records.insert(id.to_string(), rec.clone());
        }
    }

    let secrets = Secrets::with_forms(
        manifest
            .stages
            .iter()
            .flat_map(|s| s.grants.inject.iter().map(|r| r.credential.clone())),
    );
    for src in &manifest.secrets {
        match std::env::var(&src.env) {
            Ok(v) if !v.is_empty() => {
                reporter.mask(&v);
                secrets.insert(&src.name, &v).map_err(|e| {
                    anyhow::anyhow!("[secrets] {} (from ${}): {e}", src.name, src.env)
                })?;
            }
            _ => reporter.note(&format!(
                "secret \"{}\": ${} is not set; rules that inject it add nothing",
                src.name, src.env
            )),
        }
    }

    let ran_with: RanWith = Default::default();
    let renewer = renewer(
        manifest,
        &runtime,
        loaded,
        &secrets,
        &reporter,
        ran_with.clone(),
    );
    let mut running: JoinSet<(String, RunResult)> = JoinSet::new();
    let mut started: BTreeSet<String> = BTreeSet::new();
    let mut failure_phase = false;
    loop {
        // Start or settle every selected stage whose needs are all settled.
        let mut progressed = true;
        while progressed {
            progressed = false;
            for st in &selected {
                if started.contains(&st.id) || st.on_failure != failure_phase {
                    continue;
                }
                if !st.needs.iter().all(|n| records.contains_key(n)) {
                    continue;
                }
                // Ordering only: a selected `after` stage must have settled first.
                if !st
                    .after
                    .iter()
                    .all(|n| records.contains_key(n) || !selected_ids.contains(n.as_str()))
                {
                    continue;
                }
                started.insert(st.id.clone());
                progressed = true;
                let l = &loaded[&st.component.to_string()];
                let mut inputs: Vec<(String, String)> = Vec::new();
                let mut settled = settle_without_running(st, &records, l);
                if settled.is_none() {
                    // Artifacts of the inputs must be what their stage built.
                    for n in &st.needs {
                        if let Some(r) = state_records.get(n)
                            && let Err(e) = state::verify_in_project(&project_dir, n, r)
                        {
                            let mut rec = StageRecord::new(st, l);
                            rec.status = Status::Failed;
                            rec.failure = Some(StageFailure {
                                    category: "capability".into(),
                                    message: format!("{e:#}"),
                                    retryable: false,
                                    hint: Some("rebuild the artifact: it must not change between the stage that built it and the stages that use it".into()),
                                });
                            settled = Some(rec);
                            break;
                        }
                    }
                }
                if let Some(rec) = settled {
                    reporter.finished(&rec);
                    records.insert(st.id.clone(), rec);
                    continue;
                }
                if st.on_failure {
                    let report = failure_report(manifest, &records, &reporter);
                    inputs.push(("failure".into(), serde_json::to_string(&report)?));
                } else {
                    for n in &st.needs {
                        if let Some(out) = records.get(n).and_then(|r| r.output.as_ref()) {
                            inputs.push((n.clone(), serde_json::to_string(out)?));
                        }
                    }
                }
                reporter.started(&st.id, &st.component.to_string());
                tracing::debug!(stage = %st.id, component = %st.component, inputs = inputs.len(), "stage started");
                ran_with
                    .lock()
                    .unwrap()
                    .insert(st.id.clone(), inputs.clone());
                let (rt, st2, project, secrets, sink, l, renew) = (
                    runtime.clone(),
                    (*st).clone(),
                    manifest.project.clone(),
                    secrets.clone(),
                    reporter.sink(),
                    l.clone(),
                    renewer.clone(),
                );
                running.spawn(async move {
                    let res = match rt
                        .run(
                            &l,
                            &st2,
                            &project,
                            inputs,
                            Services {
                                secrets: secrets.clone(),
                                events: sink,
                                renew: Some(renew),
                            },
                        )
                        .await
                    {
                        Ok(r) => r,
                        Err(e) => RunResult::failed(
                            Default::default(),
                            vec![],
                            StageFailure {
                                category: "capability".into(),
                                message: crate::runtime::redact_cut(
                                    &secrets,
                                    &format!("{e:#}"),
                                    crate::runtime::bounds::FAILURE_MESSAGE,
                                ),
                                retryable: false,
                                hint: Some("check the stage's grants in the manifest".into()),
                            },
                        ),
                    };
                    (st2.id.clone(), res)
                });
            }
        }
        let Some(joined) = running.join_next().await else {
            // Everything ordinary has settled: on a failure, run the on-failure stages.
            let failed = records.values().any(|r| r.status == Status::Failed);
            if !failure_phase && failed && selected.iter().any(|s| s.on_failure) {
                failure_phase = true;
                continue;
            }
            break;
        };
        let (id, res) = joined.context("a stage task panicked")?;
        tracing::debug!(
            stage = %id,
            ms = res.elapsed.as_millis() as u64,
            outcome = if res.outcome.is_ok() { "returned" } else { "failed" },
            artifacts = res.artifacts.len(),
            "stage ended"
        );
        let st = manifest.stage(&id).unwrap();
        let mut rec = StageRecord::new(st, &loaded[&st.component.to_string()]);
        rec.instantiate_ms = res.instantiate.map(|d| d.as_secs_f64() * 1000.0);
        rec.run_ms = Some(res.elapsed.as_secs_f64() * 1000.0);
        rec.denied = res.denied;
        match res.outcome {
            Ok(out) => {
                match state::collect_artifacts(&sd, &project_dir, st, &res.artifacts, res.deadline)
                {
                    Ok(artifacts) => {
                        rec.status = Status::Succeeded;
                        rec.output = Some(out);
                        rec.artifacts = artifacts.clone();
                        state_records.insert(
                            id.clone(),
                            Record {
                                status: Status::Succeeded,
                                output: None,
                                sha256: None,
                                artifacts,
                                failure: None,
                            },
                        );
                    }
                    Err(e) => {
                        rec.status = Status::Failed;
                        rec.failure = Some(StageFailure {
                        category: "capability".into(),
                        message: crate::runtime::redact_cut(
                            &secrets,
                            &format!("stage \"{id}\": {e:#}"),
                            crate::runtime::bounds::FAILURE_MESSAGE,
                        ),
                        retryable: false,
                        hint: Some(
                            "a stage hands on only files it wrote inside its write grants, with their exact sha256 and size".into(),
                        ),
                    });
                    }
                }
            }
            Err(f) => {
                rec.status = Status::Failed;
                rec.failure = Some(f);
            }
        }
        reporter.finished(&rec);
        records.insert(id, rec);
    }

    // Selected stages never started: on-failure stages with no failure are skipped.
    for st in &selected {
        if !records.contains_key(&st.id) {
            let mut rec = StageRecord::new(st, &loaded[&st.component.to_string()]);
            rec.load_ms = None;
            rec.cache = None;
            if st.on_failure {
                rec.status = Status::Skipped;
                rec.reason = Some("when = \"failed\" and no stage failed".into());
            } else {
                rec.status = Status::NotRun;
                rec.reason = Some("its needs never settled".into());
            }
            reporter.finished(&rec);
            records.insert(st.id.clone(), rec);
        }
    }

    // Credentials a stage asked to have revoked (a trusted-publishing token), now that no
    // stage of this run can use them.
    revoke(&secrets, &reporter).await;

    // The state: this part's records merged into what the folder had.
    let mut out_state = previous;
    for st in &selected {
        let rec = &records[&st.id];
        let mut r = state_records.remove(&st.id).unwrap_or(Record {
            status: rec.status.clone(),
            output: None,
            sha256: None,
            artifacts: vec![],
            failure: None,
        });
        r.status = rec.status.clone();
        if let Some(out) = &rec.output {
            let (path, sha) = state::write_output(&sd, &st.id, out)?;
            r.output = Some(path);
            r.sha256 = Some(sha);
        }
        r.failure = rec.failure.as_ref().map(serde_json::to_value).transpose()?;
        out_state.stages.insert(st.id.clone(), r);
    }
    state::save(&sd, &out_state)?;

    let stages: Vec<StageRecord> = selected
        .iter()
        .map(|s| records.remove(&s.id).unwrap())
        .collect();
    let success = !stages.iter().any(|r| {
        matches!(r.status, Status::Failed | Status::NotRun) && !is_on_failure(manifest, &r.id)
    });
    let exit_code = if success { 0 } else { 1 };
    let mut report = RunReport {
        pipeline: manifest.name.clone(),
        project: manifest.project.clone(),
        state: state_dir.to_path_buf(),
        success,
        exit_code,
        elapsed_ms: start.elapsed().as_secs_f64() * 1000.0,
        failure: None,
        stages,
        outputs: Default::default(),
    };
    let (outputs, notes) = crate::report::published_outputs(manifest, &report.stages);
    for n in notes {
        reporter.note(&n);
    }
    report.outputs = outputs;
    if !success {
        let by_id: BTreeMap<String, StageRecord> = report
            .stages
            .iter()
            .map(|r| (r.id.clone(), r.clone()))
            .collect();
        report.failure = Some(failure_report(manifest, &by_id, &reporter));
    }
    Ok(report)
}

/// Revokes what stages registered with `revoke-secret-at`: for each value, one POST of
/// `{"token": VALUE}` (JSON) to the registered URL, 10 s at most, no redirect followed
/// (a redirect would carry the value elsewhere); at most [`REVOCATION_REQUESTS`] requests
/// and [`REVOCATION_TIME`] in all, whatever stages registered. Each outcome is a note
/// naming the secret, the URL (without query, redacted, cut) and the answer's status,
/// never the value; a failure
/// does not fail the run (the credential still expires by itself).
async fn revoke(secrets: &Secrets, reporter: &Reporter) {
    let revocations = secrets.take_revocations();
    if revocations.is_empty() {
        return;
    }
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("airlock/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            reporter.note(&format!("cannot revoke credentials: no HTTP client: {e}"));
            return;
        }
    };
    let deadline = Instant::now() + REVOCATION_TIME;
    let mut sent = 0;
    for (name, url, values) in revocations {
        // The URL is the stage's text: shown without its query or fragment, with every
        // secret value masked, cut (a stage could put the value it revokes in the URL).
        let shown =
            crate::runtime::redact_cut(secrets, url.split(['?', '#']).next().unwrap_or(""), 256);
        for value in values {
            if sent >= REVOCATION_REQUESTS || Instant::now() >= deadline {
                reporter.note(&format!(
                    "secret \"{name}\" was not revoked at {shown}: the run's revocations are bounded ({REVOCATION_REQUESTS} requests, {} s); it expires by itself",
                    REVOCATION_TIME.as_secs()
                ));
                continue;
            }
            sent += 1;
            let body = serde_json::json!({ "token": value }).to_string();
            tracing::debug!(secret = %name, url = %shown, "revoking a credential");
            let answer = tokio::time::timeout_at(
                deadline.into(),
                client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body)
                    .send(),
            )
            .await;
            let answer = match answer {
                Ok(a) => a,
                Err(_) => {
                    reporter.note(&format!(
                        "secret \"{name}\" was not revoked: {shown} did not answer in time; it expires by itself"
                    ));
                    continue;
                }
            };
            let said = match answer {
                Ok(r) if r.status().is_success() => {
                    format!(
                        "revoked secret \"{name}\" at {shown} ({})",
                        r.status().as_u16()
                    )
                }
                Ok(r) if r.status().as_u16() == 404 => format!(
                    "secret \"{name}\" was not revoked: {shown} answered 404 (the index does not offer revocation); it expires by itself"
                ),
                Ok(r) => format!(
                    "secret \"{name}\" was not revoked: {shown} answered {}; it expires by itself",
                    r.status().as_u16()
                ),
                Err(e) => format!(
                    "secret \"{name}\" was not revoked: {}; it expires by itself",
                    secrets.redact(&e.without_url().to_string())
                ),
            };
            reporter.note(&said);
        }
    }
}

/// The most revocation requests the host sends at the end of a run.
const REVOCATION_REQUESTS: usize = 16;
/// How long the host spends on revocations at the end of a run, in all.
const REVOCATION_TIME: Duration = Duration::from_secs(30);

fn is_on_failure(manifest: &Manifest, id: &str) -> bool {
    manifest.stage(id).is_some_and(|s| s.on_failure)
}

/// The failure report of a run so far: the first failed stage (in manifest order), with
/// GitHub's run context when set.
fn failure_report(
    manifest: &Manifest,
    records: &BTreeMap<String, StageRecord>,
    reporter: &Reporter,
) -> FailureReport {
    let failed = manifest
        .stages
        .iter()
        .filter_map(|s| records.get(&s.id))
        .find(|r| r.status == Status::Failed);
    crate::report::failure_report(manifest, failed, reporter)
}

/// Decides a stage's fate without running it: not run when a need failed, skipped when a
/// need was skipped or `when` is false. None = run it.
fn settle_without_running(
    st: &Stage,
    records: &BTreeMap<String, StageRecord>,
    l: &Loaded,
) -> Option<StageRecord> {
    let mut rec = StageRecord::new(st, l);
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
    let run = match v.and_then(|x| x.as_bool()) {
        Some(b) => b != w.negate,
        None => {
            rec.status = Status::Failed;
            rec.failure = Some(StageFailure {
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
