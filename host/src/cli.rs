//! The command line: `airlock run` and `airlock audit`.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::report::{Format, Reporter};
use crate::runtime::{Runtime, default_cache_dir};
use crate::{audit, manifest, pipeline};

/// airlock: a Python release pipeline whose stages run as WebAssembly components in a
/// capability sandbox.
#[derive(Debug, Parser)]
#[command(name = "airlock", version, about, long_about = None)]
pub struct Cli {
    /// Folder for compiled components [default: $AIRLOCK_CACHE_DIR, else ~/.cache/airlock].
    #[arg(long, global = true, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a pipeline manifest: stages in dependency order, each in its sandbox.
    Run {
        /// The pipeline manifest (TOML).
        manifest: PathBuf,
        /// Project folder; overrides [pipeline].project.
        #[arg(long, value_name = "DIR")]
        project: Option<PathBuf>,
        /// Override one config value of one stage, e.g. --set upload.repository=https://test.pypi.org/legacy/
        #[arg(long = "set", value_name = "STAGE.KEY=VALUE")]
        set: Vec<String>,
        /// State folder for stage outputs and artifacts [default: PROJECT/.airlock/state].
        /// With --only, upstream outputs are read (and verified) from it.
        #[arg(long, value_name = "DIR")]
        state: Option<PathBuf>,
        /// Run only these stages (comma-separated); their upstream stages' outputs and
        /// artifacts come from --state DIR, verified against their recorded sha256.
        #[arg(long, value_name = "STAGE[,STAGE…]", value_delimiter = ',')]
        only: Vec<String>,
        /// Output format.
        #[arg(long, value_enum, default_value = "human")]
        format: Format,
    },
    /// Show, per stage, the component digest, its imports and its grants.
    Audit {
        /// The pipeline manifest (TOML).
        manifest: PathBuf,
        /// Project folder; overrides [pipeline].project.
        #[arg(long, value_name = "DIR")]
        project: Option<PathBuf>,
        /// Override one config value of one stage (templates in grants follow it).
        #[arg(long = "set", value_name = "STAGE.KEY=VALUE")]
        set: Vec<String>,
        /// Output format.
        #[arg(long, value_enum, default_value = "human")]
        format: Format,
    },
}

/// Exit code: success.
pub const EXIT_OK: i32 = 0;
/// Exit code: a stage failed.
pub const EXIT_STAGE_FAILED: i32 = 1;
/// Exit code: manifest or usage error.
pub const EXIT_USAGE: i32 = 2;

fn load(
    manifest: &std::path::Path,
    project: Option<&PathBuf>,
    set: &[String],
) -> Result<manifest::Manifest, String> {
    let mut m =
        manifest::load(manifest, project.map(|p| p.as_path())).map_err(|e| e.to_string())?;
    for s in set {
        m.apply_set(s)?;
    }
    m.resolve().map_err(|e| e.to_string())?;
    Ok(m)
}

/// Runs the command line and returns the process exit code.
pub fn main(cli: Cli) -> i32 {
    let cache = cli.cache_dir.or_else(default_cache_dir);
    match cli.command {
        Command::Run {
            manifest,
            project,
            set,
            state,
            only,
            format,
        } => {
            let m = match load(&manifest, project.as_ref(), &set) {
                Ok(m) => m,
                Err(e) => {
                    eprintln!("error: {e}");
                    return EXIT_USAGE;
                }
            };
            let state = state.unwrap_or_else(|| m.project.join(".airlock").join("state"));
            for id in &only {
                if m.stage(id).is_none() {
                    eprintln!(
                        "error: --only {id}: no stage \"{id}\" in {}",
                        m.file.display()
                    );
                    return EXIT_USAGE;
                }
            }
            let only = (!only.is_empty()).then(|| only.into_iter().collect());
            let reporter = Reporter::new(format);
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .expect("tokio runtime");
            rt.block_on(async {
                let runtime = match Runtime::new(cache) {
                    Ok(r) => Arc::new(r),
                    Err(e) => {
                        eprintln!("error: cannot start the WebAssembly runtime: {e:#}");
                        return EXIT_STAGE_FAILED;
                    }
                };
                match pipeline::run(&m, runtime, &state, &only, reporter.clone()).await {
                    Ok(report) => {
                        reporter.done(&report);
                        report.exit_code
                    }
                    Err(e) => {
                        eprintln!("error: {e:#}");
                        if format == Format::Json {
                            println!(
                                "{}",
                                serde_json::json!({
                                    "pipeline": m.name, "project": m.project, "state": state,
                                    "success": false, "exit_code": EXIT_STAGE_FAILED,
                                    "error": format!("{e:#}"), "stages": []
                                })
                            );
                        }
                        EXIT_STAGE_FAILED
                    }
                }
            })
        }
        Command::Audit {
            manifest,
            project,
            set,
            format,
        } => {
            let m = match load(&manifest, project.as_ref(), &set) {
                Ok(m) => m,
                Err(e) => {
                    eprintln!("error: {e}");
                    return EXIT_USAGE;
                }
            };
            let result = Runtime::new(cache).and_then(|rt| audit::audit(&m, &rt));
            match result {
                Ok(a) => {
                    match format {
                        Format::Human => print!("{}", audit::render_human(&m, &a)),
                        Format::Json => println!(
                            "{}",
                            serde_json::to_string_pretty(&serde_json::json!({
                                "pipeline": m.name, "project": m.project, "secrets": m.secrets, "stages": a
                            }))
                            .unwrap_or_default()
                        ),
                    }
                    EXIT_OK
                }
                Err(e) => {
                    eprintln!("error: {e:#}");
                    EXIT_STAGE_FAILED
                }
            }
        }
    }
}
