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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
    /// Every stage, in manifest order.
    pub stages: Vec<StageRecord>,
}

/// Prints progress and the final report.
pub struct Reporter {
    format: Format,
    start: Instant,
    github: bool,
    last_progress: Mutex<BTreeMap<String, Instant>>,
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
        Arc::new(Reporter {
            format,
            start: Instant::now(),
            github: std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true"),
            last_progress: Mutex::new(BTreeMap::new()),
        })
    }

    fn line(&self, text: &str) {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "[{:>6.2}s] {text}", self.start.elapsed().as_secs_f64());
    }

    /// The event sink handed to the runtime (logs, progress, refused requests).
    pub fn sink(self: &Arc<Self>) -> EventSink {
        let me = self.clone();
        Arc::new(move |stage: &str, ev: StageEvent| match ev {
            StageEvent::Log { level, message } => {
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
            StageEvent::Denied { url } => {
                me.line(&format!(
                    "  {stage}: sandbox refused a request to {url}: wasi:http/outgoing-handler reaches only the origins in grants.http"
                ));
            }
        })
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
                if let Some(h) = f.and_then(|f| f.hint.as_deref()) {
                    self.line(&format!("    hint: {h}"));
                }
                if self.github {
                    let hint = f
                        .and_then(|f| f.hint.as_deref())
                        .map(|h| format!(" Hint: {h}"))
                        .unwrap_or_default();
                    println!(
                        "::error title=airlock stage {} failed ({cat})::{}",
                        rec.id,
                        escape_annotation(&format!("{msg}{hint}"))
                    );
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
    }
}

/// Escapes a GitHub Actions workflow-command message (`%`, CR, LF).
pub fn escape_annotation(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}
