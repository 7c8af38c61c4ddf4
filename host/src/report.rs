//! Reporting: human progress on stderr as the run goes, a final summary, and with
//! `--format json` the run report (a [`RunReport`]) on stdout. On GitHub Actions
//! (`GITHUB_ACTIONS=true`) a failed stage also becomes an `::error` annotation.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;

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
}

/// A failed run, as the original system's FailureReport described it. Every text is
/// redacted. JSON: `{ pipeline, run_id, event, repository, run_url, stage, category,
/// message, hint, exit_code, timestamp, log_excerpt }`.
#[derive(Debug, Clone, Serialize)]
pub struct FailureReport {
    /// `[pipeline].name`.
    pub pipeline: String,
    /// `GITHUB_RUN_ID` when set.
    pub run_id: Option<String>,
    /// `GITHUB_EVENT_NAME` when set (push, workflow_dispatch, …).
    pub event: Option<String>,
    /// `GITHUB_REPOSITORY` (owner/name) when set.
    pub repository: Option<String>,
    /// The Actions run's URL, from `GITHUB_SERVER_URL`, `GITHUB_REPOSITORY`, `GITHUB_RUN_ID`.
    pub run_url: Option<String>,
    /// The first stage that failed (manifest order).
    pub stage: Option<String>,
    /// Its error category.
    pub category: Option<String>,
    /// Its message.
    pub message: Option<String>,
    /// Its hint.
    pub hint: Option<String>,
    /// The process exit code (1).
    pub exit_code: i32,
    /// When the report was made, RFC 3339 UTC.
    pub timestamp: String,
    /// The last log lines of the failed stage (at most [`LOG_EXCERPT_LINES`]).
    pub log_excerpt: Vec<String>,
}

/// How many log lines of a failed stage the failure report keeps.
pub const LOG_EXCERPT_LINES: usize = 20;

impl FailureReport {
    /// The report for `failed` (none: a run that failed outside any stage).
    pub fn new(
        manifest: &crate::manifest::Manifest,
        failed: Option<&StageRecord>,
        reporter: &Reporter,
    ) -> Self {
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
        }
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
            "[{:>6.2}s] {scope}{text}",
            self.start.elapsed().as_secs_f64()
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
            self.workflow_command(&format!("::add-mask::{}", escape_annotation(value)));
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
                        "::error title=airlock stage {} failed ({cat})::{}",
                        rec.id,
                        escape_annotation(&format!("{msg}{hint}"))
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

/// Escapes a GitHub Actions workflow-command message (`%`, CR, LF).
pub fn escape_annotation(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// The first stage output that has field `key`.
fn find_field<'a>(report: &'a RunReport, key: &str) -> Option<&'a serde_json::Value> {
    report
        .stages
        .iter()
        .filter_map(|s| s.output.as_ref())
        .find_map(|o| o.get(key))
}

/// The key outputs for `GITHUB_OUTPUT`: `release`, `trigger`, `version`, `grade` (those the
/// run's stage outputs carry), as `key=value` lines.
pub fn github_outputs(report: &RunReport) -> String {
    let mut s = String::new();
    for key in ["release", "trigger", "version", "grade"] {
        if let Some(v) = find_field(report, key) {
            let text = match v {
                serde_json::Value::String(t) => t.clone(),
                other => other.to_string(),
            };
            s.push_str(&format!("{key}={}\n", text.replace(['\n', '\r'], " ")));
        }
    }
    s.push_str(&format!("success={}\n", report.success));
    s
}

/// The Markdown job summary: stages, the decision, artifacts with digests, upload results,
/// the grade, and the failure.
pub fn github_summary(report: &RunReport) -> String {
    let mut s = format!(
        "## airlock: {} {}\n\n",
        report.pipeline,
        if report.success { "✅" } else { "❌" }
    );
    s.push_str("| stage | status | time |\n|---|---|---|\n");
    for r in &report.stages {
        let status = match r.status {
            Status::Succeeded => "succeeded".to_string(),
            Status::Failed => format!(
                "**failed** ({})",
                r.failure
                    .as_ref()
                    .map(|f| f.category.as_str())
                    .unwrap_or("")
            ),
            Status::Skipped => format!("skipped: {}", r.reason.as_deref().unwrap_or("")),
            Status::NotRun => format!("not run: {}", r.reason.as_deref().unwrap_or("")),
        };
        s.push_str(&format!(
            "| {} | {} | {} |\n",
            r.id,
            status,
            r.run_ms.map(ms).unwrap_or_default()
        ));
    }
    if let (Some(release), Some(trigger)) =
        (find_field(report, "release"), find_field(report, "trigger"))
    {
        s.push_str(&format!(
            "\n**Decision:** release = {release}, trigger = {}",
            trigger.as_str().unwrap_or("")
        ));
        if let Some(v) = find_field(report, "version").and_then(|v| v.as_str()) {
            s.push_str(&format!(", version {v}"));
        }
        if let Some(j) = find_field(report, "justification").and_then(|v| v.as_str()) {
            s.push_str(&format!("\n\n{j}"));
        }
        s.push('\n');
    }
    if let Some(arts) = find_field(report, "artifacts").and_then(|a| a.as_array()) {
        s.push_str("\n**Artifacts**\n\n| file | sha256 |\n|---|---|\n");
        for a in arts {
            s.push_str(&format!(
                "| {} | `{}` |\n",
                a["path"].as_str().unwrap_or(""),
                a["sha256"].as_str().unwrap_or("")
            ));
        }
    }
    for r in &report.stages {
        if let Some(files) = r
            .output
            .as_ref()
            .filter(|o| o.get("repository").is_some())
            .and_then(|o| o.get("files"))
            .and_then(|f| f.as_array())
        {
            s.push_str(&format!(
                "\n**Upload** to {}\n\n",
                r.output.as_ref().unwrap()["repository"]
                    .as_str()
                    .unwrap_or("")
            ));
            for f in files {
                s.push_str(&format!(
                    "- {}: {}\n",
                    f["filename"].as_str().unwrap_or(""),
                    f["status"].as_str().unwrap_or("")
                ));
            }
        }
    }
    if let Some(g) = find_field(report, "grade").and_then(|g| g.as_str()) {
        s.push_str(&format!("\n**Security grade:** {g}\n"));
    }
    if let Some(f) = &report.failure {
        s.push_str(&format!(
            "\n**Failure** in `{}` ({}): {}\n",
            f.stage.as_deref().unwrap_or("?"),
            f.category.as_deref().unwrap_or("?"),
            f.message.as_deref().unwrap_or("")
        ));
        if let Some(h) = &f.hint {
            s.push_str(&format!("\nHint: {h}\n"));
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
