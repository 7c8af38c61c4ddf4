//! Reporting: human progress on stderr as the run goes, a final summary, and with
//! `--format json` the run report (a [`RunReport`]) on stdout. On GitHub Actions
//! (`GITHUB_ACTIONS=true`) a failed stage also becomes an `::error` annotation.
//!
//! Stage text is hostile: every line goes out through [`Reporter::line`], which encodes it
//! for a terminal ([`encode::terminal`]: no control character, so no escape sequence and no
//! new line) and starts it with the host's own timestamp, so no stage text can begin a line
//! where a GitHub runner looks for workflow commands. Workflow commands, the job summary and
//! step outputs use their own encoders ([`crate::encode`]).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;

use crate::encode;
use crate::runtime::{CacheUse, EventSink, StageEvent, StageFailure};

/// Output format of `run` and `audit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Lines for people, on stderr.
    Human,
    /// One JSON document on stdout (progress still goes to stderr).
    Json,
}

/// How a stage ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// `run` returned an output.
    Succeeded,
    /// `run` failed, or the host stopped it (limit, trap).
    Failed,
    /// Its `when` was false, or a stage it needs was skipped.
    Skipped,
    /// A stage it needs failed.
    NotRun,
}

/// One stage in the run report.
#[derive(Debug, Clone, Serialize)]
pub struct StageRecord {
    /// Stage id.
    pub id: String,
    /// How it ended.
    pub status: Status,
    /// Why it was skipped or not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `builtin:NAME` or the component path.
    pub component: String,
    /// sha256 of the component bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Whether the compiled component came from the cache.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheUse>,
    /// Milliseconds to compile or load the component.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_ms: Option<f64>,
    /// Milliseconds to instantiate it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instantiate_ms: Option<f64>,
    /// Milliseconds from instantiation to the end of `run`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_ms: Option<f64>,
    /// Its JSON output (redacted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<serde_json::Value>,
    /// Its failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<StageFailure>,
    /// URLs the sandbox refused.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub denied: Vec<String>,
    /// The artifacts the host accepted from this stage (checked, copied to the state).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<crate::state::Artifact>,
}

/// The whole run, as `--format json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// `[pipeline].name`.
    pub pipeline: String,
    /// The project root.
    pub project: PathBuf,
    /// The state folder with the stage outputs.
    pub state: PathBuf,
    /// True when no stage failed.
    pub success: bool,
    /// The process exit code (0 success, 1 a stage failed).
    pub exit_code: i32,
    /// Wall time of the run in milliseconds.
    pub elapsed_ms: f64,
    /// When a stage failed: the failure report (also the input of `when = "failed"` stages).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<FailureReport>,
    /// Every stage run (or settled) by this invocation, in manifest order.
    pub stages: Vec<StageRecord>,
    /// The step outputs the manifest maps (`[pipeline] outputs`, or the built-ins'
    /// defaults), each read from its one named stage and validated
    /// ([`encode::output_value`]); `success` is added when they are written.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub outputs: BTreeMap<String, String>,
}

/// A failed run (the SDK's type: the host writes it, a `when = "failed"` stage reads it).
pub use airlock_stage::FailureReport;

/// `airlock run MANIFEST [--project DIR] [--set K=V]… --state DIR --only P…,STAGE`: the
/// failed `stage` again, after the stages that produce the secrets it injects (a
/// credential is never kept in the state folder), with its upstream outputs read from the
/// state folder and verified. Each word is quoted for a POSIX shell; `None` when one cannot
/// be (a NUL byte).
pub fn rerun_command(
    manifest: &crate::manifest::Manifest,
    manifest_arg: &std::path::Path,
    project: Option<&std::path::Path>,
    set: &[String],
    state: &std::path::Path,
    stage: &str,
) -> Option<String> {
    let st = manifest.stage(stage)?;
    let mut only: Vec<&str> = manifest
        .stages
        .iter()
        .filter(|p| {
            p.id != stage
                && st
                    .grants
                    .inject
                    .iter()
                    .any(|r| p.grants.produce.contains(&r.secret))
        })
        .map(|p| p.id.as_str())
        .collect();
    only.push(stage);
    let only = only.join(",");
    let mut words: Vec<String> = vec![
        "airlock".into(),
        "run".into(),
        manifest_arg.display().to_string(),
    ];
    if let Some(p) = project {
        words.push("--project".into());
        words.push(p.display().to_string());
    }
    for s in set {
        words.push("--set".into());
        words.push(s.clone());
    }
    words.extend([
        "--state".into(),
        state.display().to_string(),
        "--only".into(),
        only,
    ]);
    shlex::try_join(words.iter().map(String::as_str)).ok()
}

/// How many log lines of a failed stage the failure report keeps.
pub const LOG_EXCERPT_LINES: usize = 20;

/// The failure report for `failed` (none: a run that failed outside any stage), with
/// GitHub's run context when set. Texts are as the stage record holds them (redacted).
pub fn failure_report(
    manifest: &crate::manifest::Manifest,
    failed: Option<&StageRecord>,
    reporter: &Reporter,
) -> FailureReport {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let run_url = match (
        env("GITHUB_SERVER_URL"),
        env("GITHUB_REPOSITORY"),
        env("GITHUB_RUN_ID"),
    ) {
        (Some(s), Some(r), Some(id)) => Some(format!("{s}/{r}/actions/runs/{id}")),
        _ => None,
    };
    let f = failed.and_then(|r| r.failure.as_ref());
    FailureReport {
        pipeline: manifest.name.clone(),
        run_id: env("GITHUB_RUN_ID"),
        event: env("GITHUB_EVENT_NAME"),
        repository: env("GITHUB_REPOSITORY"),
        run_url,
        stage: failed.map(|r| r.id.clone()),
        category: f.map(|f| f.category.clone()),
        message: f.map(|f| f.message.clone()),
        hint: f.and_then(|f| f.hint.clone()),
        exit_code: 1,
        timestamp: time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        log_excerpt: failed
            .map(|r| reporter.log_excerpt(&r.id))
            .unwrap_or_default(),
        rerun: None,
    }
}

impl StageRecord {
    /// A record for `st` with its component's digest and load figures (status not run).
    pub fn new(st: &crate::manifest::Stage, l: &crate::runtime::Loaded) -> Self {
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
            artifacts: vec![],
        }
    }

    /// A record read back from the state folder (a stage an earlier job ran).
    pub fn from_state(
        st: &crate::manifest::Stage,
        status: Status,
        output: Option<serde_json::Value>,
    ) -> Self {
        StageRecord {
            id: st.id.clone(),
            status,
            reason: Some("from the state folder".into()),
            component: st.component.to_string(),
            digest: None,
            cache: None,
            load_ms: None,
            instantiate_ms: None,
            run_ms: None,
            output,
            failure: None,
            denied: vec![],
            artifacts: vec![],
        }
    }
}

/// Prints progress and the final report.
pub struct Reporter {
    format: Format,
    start: Instant,
    github: bool,
    scope: Option<String>,
    last_progress: Mutex<BTreeMap<String, Instant>>,
    logs: Mutex<BTreeMap<String, std::collections::VecDeque<String>>>,
}

fn ms(d: f64) -> String {
    if d >= 1000.0 {
        format!("{:.2} s", d / 1000.0)
    } else {
        format!("{d:.0} ms")
    }
}

impl Reporter {
    /// A reporter for `format`; GitHub annotations when `GITHUB_ACTIONS=true`.
    pub fn new(format: Format) -> Arc<Reporter> {
        Self::scoped(format, None)
    }

    /// A reporter whose lines start with `[scope]` (one project of a monorepo run).
    pub fn scoped(format: Format, scope: Option<String>) -> Arc<Reporter> {
        Arc::new(Reporter {
            format,
            start: Instant::now(),
            github: std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true"),
            scope,
            last_progress: Mutex::new(BTreeMap::new()),
            logs: Mutex::new(BTreeMap::new()),
        })
    }

    fn line(&self, text: &str) {
        let scope = self
            .scope
            .as_deref()
            .map(|s| format!("[{s}] "))
            .unwrap_or_default();
        let mut err = std::io::stderr().lock();
        let _ = writeln!(
            err,
            "[{:>6.2}s] {scope}{}",
            self.start.elapsed().as_secs_f64(),
            encode::terminal(text)
        );
    }

    /// The event sink handed to the runtime (logs, progress, refused requests).
    pub fn sink(self: &Arc<Self>) -> EventSink {
        let me = self.clone();
        Arc::new(move |stage: &str, ev: StageEvent| match ev {
            StageEvent::Log { level, message } => {
                {
                    let mut logs = me.logs.lock().unwrap();
                    let q = logs.entry(stage.to_string()).or_default();
                    q.push_back(format!("{level}: {message}"));
                    while q.len() > LOG_EXCERPT_LINES {
                        q.pop_front();
                    }
                }
                if level != "trace" && level != "debug"
                    || std::env::var_os("AIRLOCK_DEBUG").is_some()
                {
                    me.line(&format!(
                        "  {stage}: {}{message}",
                        if level == "info" {
                            String::new()
                        } else {
                            format!("{level}: ")
                        }
                    ));
                }
            }
            StageEvent::Progress {
                done,
                total,
                message,
            } => {
                let now = Instant::now();
                let mut last = me.last_progress.lock().unwrap();
                let finished = total.is_some_and(|t| done >= t);
                let due = last
                    .get(stage)
                    .is_none_or(|t| now.duration_since(*t).as_millis() >= 500);
                if finished || due {
                    last.insert(stage.to_string(), now);
                    let amount = match total {
                        Some(t) if t > 0 => {
                            format!("{done}/{t} ({:.0}%)", done as f64 * 100.0 / t as f64)
                        }
                        _ => format!("{done}"),
                    };
                    me.line(&format!("  {stage}: {message} {amount}"));
                }
            }
            StageEvent::SecretStored { value } => me.mask(&value),
            StageEvent::Denied { url } => {
                me.line(&format!(
                    "  {stage}: sandbox refused a request to {url}: wasi:http/outgoing-handler reaches only the origins in grants.http"
                ));
            }
        })
    }

    /// Writes a GitHub Actions workflow command: on stdout, or on stderr with `--format
    /// json` so stdout stays one JSON document (the runner reads commands on both).
    fn workflow_command(&self, line: &str) {
        if self.format == Format::Json {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    }

    /// On GitHub Actions, asks the runner to mask `value` in every later log line
    /// (`::add-mask::`), for secrets the host stores or loads.
    pub fn mask(&self, value: &str) {
        if self.github && !value.is_empty() {
            self.workflow_command(&format!("::add-mask::{}", encode::command_data(value)));
        }
    }

    /// The last log lines (redacted) of `stage`.
    pub fn log_excerpt(&self, stage: &str) -> Vec<String> {
        self.logs
            .lock()
            .unwrap()
            .get(stage)
            .map(|q| q.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// A note about the run itself (not a stage).
    pub fn note(&self, text: &str) {
        self.line(&format!("note: {text}"));
    }

    /// A stage started.
    pub fn started(&self, id: &str, component: &str) {
        self.line(&format!("▶ {id} ({component})"));
    }

    /// A stage ended (any status).
    pub fn finished(&self, rec: &StageRecord) {
        match rec.status {
            Status::Succeeded => {
                let timing = format!(
                    "load {} [{}], run {}",
                    rec.load_ms.map(ms).unwrap_or_default(),
                    match rec.cache {
                        Some(CacheUse::Embedded) => "precompiled",
                        Some(CacheUse::Hit) => "cached",
                        Some(CacheUse::Miss) => "compiled",
                        _ => "no cache",
                    },
                    rec.run_ms.map(ms).unwrap_or_default()
                );
                self.line(&format!("✔ {} succeeded ({timing})", rec.id));
            }
            Status::Skipped => self.line(&format!(
                "⏭ {} skipped: {}",
                rec.id,
                rec.reason.as_deref().unwrap_or("")
            )),
            Status::NotRun => self.line(&format!(
                "⏹ {} not run: {}",
                rec.id,
                rec.reason.as_deref().unwrap_or("")
            )),
            Status::Failed => {
                let f = rec.failure.as_ref();
                let cat = f.map(|f| f.category.as_str()).unwrap_or("internal");
                let msg = f.map(|f| f.message.as_str()).unwrap_or("");
                self.line(&format!("✘ {} failed: {cat} error: {msg}", rec.id));
                {
                    let mut logs = self.logs.lock().unwrap();
                    let q = logs.entry(rec.id.clone()).or_default();
                    q.push_back(format!("error: {cat} error: {msg}"));
                    while q.len() > LOG_EXCERPT_LINES {
                        q.pop_front();
                    }
                }
                if let Some(h) = f.and_then(|f| f.hint.as_deref()) {
                    self.line(&format!("    hint: {h}"));
                }
                if self.github {
                    let hint = f
                        .and_then(|f| f.hint.as_deref())
                        .map(|h| format!(" Hint: {h}"))
                        .unwrap_or_default();
                    self.workflow_command(&format!(
                        "::error title={}::{}",
                        encode::command_property(&format!(
                            "airlock stage {} failed ({cat})",
                            rec.id
                        )),
                        encode::command_data(&format!("{msg}{hint}"))
                    ));
                }
            }
        }
    }

    /// Prints the end of the run: a summary line, and the JSON report in JSON mode.
    pub fn done(&self, report: &RunReport) {
        let count = |s: Status| report.stages.iter().filter(|r| r.status == s).count();
        self.line(&format!(
            "{} {}: {} succeeded, {} failed, {} skipped, {} not run in {}; outputs in {}",
            if report.success { "✔" } else { "✘" },
            report.pipeline,
            count(Status::Succeeded),
            count(Status::Failed),
            count(Status::Skipped),
            count(Status::NotRun),
            ms(report.elapsed_ms),
            report.state.display()
        ));
        if let Some(cmd) = report.failure.as_ref().and_then(|f| f.rerun.as_deref()) {
            self.line(&format!("  to run the failed stage again: {cmd}"));
        }
        if self.format == Format::Json {
            println!(
                "{}",
                serde_json::to_string_pretty(report).unwrap_or_default()
            );
        }
        if self.github
            && let Err(e) = github_files(report)
        {
            self.line(&format!(
                "warning: cannot write the GitHub job summary or outputs: {e}"
            ));
        }
    }
}

/// The step outputs of a run: each `[pipeline] outputs` entry (or default) read from its
/// one named stage's output, validated with [`encode::output_value`]. A value that is
/// missing is left out; one that fails validation is left out with a note (returned as the
/// second element) that names the output and the rule, never the value.
pub fn published_outputs(
    manifest: &crate::manifest::Manifest,
    stages: &[StageRecord],
) -> (BTreeMap<String, String>, Vec<String>) {
    let mut out = BTreeMap::new();
    let mut notes = Vec::new();
    for m in manifest.published_outputs() {
        let Some(mut v) = stages
            .iter()
            .find(|s| s.id == m.stage && s.status == Status::Succeeded)
            .and_then(|s| s.output.as_ref())
        else {
            continue;
        };
        let mut found = true;
        for part in m.field.split('.') {
            match v.get(part) {
                Some(x) => v = x,
                None => found = false,
            }
        }
        if !found {
            continue;
        }
        match encode::output_value(v) {
            Ok(text) => {
                out.insert(m.name.clone(), text);
            }
            Err(why) => notes.push(format!(
                "step output {} (from {}.{}) not written: the value {why}",
                m.name, m.stage, m.field
            )),
        }
    }
    (out, notes)
}

/// The `GITHUB_OUTPUT` text: the run's published outputs and `success`, in GitHub's
/// multi-line form with a random delimiter no stage can guess ([`encode::github_output`]).
pub fn github_outputs(report: &RunReport) -> String {
    let mut entries: Vec<(String, String)> = report
        .outputs
        .iter()
        .filter(|(k, _)| k.as_str() != "success")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    entries.push(("success".into(), report.success.to_string()));
    encode::github_output(&entries)
}

/// The Markdown job summary: stages, the published outputs, the artifacts the host
/// accepted (with digests), upload results, and the failure. Every stage-supplied string
/// is escaped ([`encode::markdown`]).
pub fn github_summary(report: &RunReport) -> String {
    let md = |s: &str| encode::markdown(s);
    let mut s = format!(
        "## airlock: {} {}\n\n",
        md(&report.pipeline),
        if report.success { "✅" } else { "❌" }
    );
    s.push_str("| stage | status | time |\n|---|---|---|\n");
    for r in &report.stages {
        let status = match r.status {
            Status::Succeeded => "succeeded".to_string(),
            Status::Failed => format!(
                "**failed** ({})",
                md(r.failure
                    .as_ref()
                    .map(|f| f.category.as_str())
                    .unwrap_or(""))
            ),
            Status::Skipped => format!("skipped: {}", md(r.reason.as_deref().unwrap_or(""))),
            Status::NotRun => format!("not run: {}", md(r.reason.as_deref().unwrap_or(""))),
        };
        s.push_str(&format!(
            "| {} | {} | {} |\n",
            md(&r.id),
            status,
            r.run_ms.map(ms).unwrap_or_default()
        ));
    }
    if !report.outputs.is_empty() {
        s.push_str("\n**Outputs**\n\n| output | value |\n|---|---|\n");
        for (k, v) in &report.outputs {
            s.push_str(&format!("| {} | {} |\n", md(k), md(v)));
        }
    }
    // The decision's justification, from a built-in decide stage only.
    if let Some(j) = report
        .stages
        .iter()
        .find(|r| r.component == "builtin:decide")
        .and_then(|r| r.output.as_ref())
        .and_then(|o| o.get("justification"))
        .and_then(|v| v.as_str())
    {
        s.push_str(&format!("\n**Decision:** {}\n", md(j)));
    }
    let arts: Vec<&crate::state::Artifact> = report
        .stages
        .iter()
        .flat_map(|r| r.artifacts.iter())
        .collect();
    if !arts.is_empty() {
        s.push_str("\n**Artifacts**\n\n| file | sha256 |\n|---|---|\n");
        for a in arts {
            s.push_str(&format!("| {} | {} |\n", md(&a.path), md(&a.sha256)));
        }
    }
    for r in report
        .stages
        .iter()
        .filter(|r| r.component == "builtin:upload")
    {
        let Some(o) = r.output.as_ref() else { continue };
        let Some(files) = o.get("files").and_then(|f| f.as_array()) else {
            continue;
        };
        s.push_str(&format!(
            "\n**Upload** to {}\n\n",
            md(o.get("repository").and_then(|v| v.as_str()).unwrap_or(""))
        ));
        for f in files.iter().take(256) {
            s.push_str(&format!(
                "- {}: {} (sha256 {})\n",
                md(f.get("filename").and_then(|v| v.as_str()).unwrap_or("")),
                md(f.get("status").and_then(|v| v.as_str()).unwrap_or("")),
                md(f.get("sha256").and_then(|v| v.as_str()).unwrap_or("?"))
            ));
        }
    }
    if let Some(f) = &report.failure {
        s.push_str(&format!(
            "\n**Failure** in {} ({}): {}\n",
            md(f.stage.as_deref().unwrap_or("?")),
            md(f.category.as_deref().unwrap_or("?")),
            md(f.message.as_deref().unwrap_or(""))
        ));
        if let Some(h) = &f.hint {
            s.push_str(&format!("\nHint: {}\n", md(h)));
        }
        if let Some(cmd) = &f.rerun {
            s.push_str(&format!(
                "\nTo run the failed stage again:\n\n```\n{}\n```\n",
                cmd.replace('`', "'")
            ));
        }
    }
    s
}

fn github_files(report: &RunReport) -> std::io::Result<()> {
    use std::fs::OpenOptions;
    if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY") {
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?
            .write_all(github_summary(report).as_bytes())?;
    }
    if let Some(path) = std::env::var_os("GITHUB_OUTPUT") {
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?
            .write_all(github_outputs(report).as_bytes())?;
    }
    Ok(())
}
