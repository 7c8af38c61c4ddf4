//! The command line: `airlock run`, `airlock audit`, `airlock verify`, `airlock lock-build`,
//! `airlock new-stage` and `airlock version`.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::report::{Format, Reporter};
use crate::runtime::{Runtime, default_cache_dir};
use crate::{audit, manifest, pipeline, scaffold};

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
        /// Monorepo: how many project pipelines run at once [default: the number of CPUs].
        #[arg(long, value_name = "N")]
        jobs: Option<usize>,
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
    /// Verify the PEP 740 attestations of distribution files (each with its
    /// `<file>.*.attestation` beside it), or of a release on an index (NAME==VERSION with
    /// --index), against the GitHub workflow expected to have published them.
    Verify {
        /// Distribution files, or NAME==VERSION with --index.
        #[arg(required = true, value_name = "FILE|NAME==VERSION")]
        targets: Vec<String>,
        /// Where the publishing workflow runs: github (GitHub Actions) or gitlab (GitLab.com
        /// CI/CD).
        #[arg(long, value_enum, default_value = "github")]
        forge: ForgeArg,
        /// The publishing repository: OWNER/REPO (GitLab: GROUP/[SUBGROUP/]PROJECT).
        #[arg(long, value_name = "OWNER/REPO")]
        repository: String,
        /// The publishing workflow's file name, e.g. release.yml (GitLab: the CI
        /// configuration's path, e.g. .gitlab-ci.yml).
        #[arg(long, value_name = "FILE")]
        workflow: String,
        /// The Git ref the workflow ran on, e.g. refs/tags/v1.0 (checked when given).
        #[arg(long = "ref", value_name = "REF")]
        git_ref: Option<String>,
        /// The GitHub environment of the trusted publisher (checked against the index's
        /// provenance; needs --index).
        #[arg(long, value_name = "NAME")]
        environment: Option<String>,
        /// A Sigstore trusted root (JSON) to verify against, offline [default: Sigstore's
        /// public-good root, bundled].
        #[arg(long, value_name = "FILE")]
        trusted_root: Option<PathBuf>,
        /// The attestation of the single FILE, when it is not beside it.
        #[arg(long, value_name = "FILE")]
        attestation: Option<PathBuf>,
        /// A simple index (PEP 503/691) for NAME==VERSION targets, e.g. https://pypi.org/simple/.
        #[arg(long, value_name = "URL")]
        index: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value = "human")]
        format: Format,
    },
    /// Write a new stage crate (the function, a unit and a component test, a manifest with
    /// empty grants, a README) into DIR/NAME.
    NewStage {
        /// The stage's name (crate name and stage id): lowercase letters, digits and '-'.
        name: String,
        /// The folder to create the crate in, as DIR/NAME.
        #[arg(long, value_name = "DIR", default_value = ".")]
        dir: PathBuf,
        /// The airlock-stage SDK crate to depend on [default: crates/stage of the airlock
        /// checkout this binary was built from].
        #[arg(long, value_name = "PATH")]
        sdk: Option<PathBuf>,
    },
    /// Lock the project's build requirements (`[build-system] requires`) for the sandboxed
    /// build: pure-Python wheels with their sha256, written as a PEP 751 lock
    /// (pylock.build.toml) for the fetch stage. Review and commit it.
    LockBuild {
        /// The project folder.
        #[arg(long, value_name = "DIR", default_value = ".")]
        project: PathBuf,
        /// The simple index (PEP 503/691) to resolve against.
        #[arg(long, value_name = "URL", default_value = crate::lockbuild::PYPI)]
        index: String,
        /// Where to write the lock [default: PROJECT/pylock.build.toml].
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// A requirement to lock instead of build-system.requires (repeatable), e.g.
        /// --requirement "setuptools>=77".
        #[arg(long = "requirement", value_name = "PEP 508")]
        requirements: Vec<String>,
    },
    /// Print the project's version, or bump it (pyproject.toml keeps its formatting and
    /// comments; files listed in the manifest's [pipeline] version_files follow).
    Version {
        /// The project folder [default: the manifest's project, else "."].
        #[arg(long, value_name = "DIR")]
        project: Option<PathBuf>,
        /// A manifest whose [pipeline] project and version_files apply.
        #[arg(long, value_name = "FILE")]
        manifest: Option<PathBuf>,
        /// patch, minor, major, or an explicit PEP 440 version (must be higher).
        #[arg(long, value_name = "patch|minor|major|X.Y.Z")]
        bump: Option<String>,
    },
}

/// `airlock verify --forge`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ForgeArg {
    /// GitHub Actions.
    Github,
    /// GitLab.com CI/CD.
    Gitlab,
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
    for (id, choice) in crate::buildmode::bind(&mut m) {
        tracing::info!("stage \"{id}\": {}", choice.why);
    }
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
            jobs,
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
            for id in &only {
                if m.stage(id).is_none() {
                    eprintln!(
                        "error: --only {id}: no stage \"{id}\" in {}",
                        m.file.display()
                    );
                    return EXIT_USAGE;
                }
            }
            let only: pipeline::Selection = (!only.is_empty()).then(|| only.into_iter().collect());
            // A monorepo manifest without --project: one pipeline per project.
            let mut runs: Vec<(manifest::Manifest, PathBuf, Option<String>)> = Vec::new();
            if project.is_none() && !m.projects.is_empty() {
                let dirs = match manifest::expand_projects(&manifest, &m.projects) {
                    Ok(d) => d,
                    Err(e) => {
                        eprintln!("error: {e}");
                        return EXIT_USAGE;
                    }
                };
                for dir in dirs {
                    let name = dir
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    let pm = match load(&manifest, Some(&dir), &set) {
                        Ok(pm) => pm,
                        Err(e) => {
                            eprintln!("error: {e}");
                            return EXIT_USAGE;
                        }
                    };
                    let st = state
                        .as_ref()
                        .map(|s| s.join(&name))
                        .unwrap_or_else(|| pm.project.join(".airlock").join("state"));
                    runs.push((pm, st, Some(name)));
                }
            } else {
                let st = state
                    .clone()
                    .unwrap_or_else(|| m.project.join(".airlock").join("state"));
                runs.push((m, st, None));
            }
            // No stage may write the state folder or touch the compile cache.
            for (pm, st, _) in &runs {
                if let Err(e) = pm.check_host_folders(st, cache.as_deref()) {
                    eprintln!("error: {e}");
                    return EXIT_USAGE;
                }
            }
            raise_open_file_limit();
            let monorepo = runs.len() > 1 || runs.first().is_some_and(|r| r.2.is_some());
            let jobs = jobs
                .unwrap_or_else(|| {
                    std::thread::available_parallelism()
                        .map(|n| n.get())
                        .unwrap_or(2)
                })
                .max(1);
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
                // Every component loads (or the run is refused as a manifest error) before
                // any stage runs.
                let mut components = pipeline::Components::new();
                let loading = std::time::Instant::now();
                for (pm, _, _) in &runs {
                    let compiling = |cref: &str, size: usize| {
                        tracing::info!(
                            "[{:>6.2}s] compiling {cref} ({:.1} MB of WebAssembly; once, then cached)",
                            loading.elapsed().as_secs_f64(),
                            size as f64 / 1e6
                        )
                    };
                    if let Err(e) =
                        pipeline::load_components(pm, &runtime, &only, &mut components, &compiling)
                    {
                        eprintln!("error: {}: {e:#}", pm.file.display());
                        return EXIT_USAGE;
                    }
                }
                if let Some(problem) = runtime.cache_problem() {
                    tracing::warn!("{problem}");
                }
                // Every state folder can be made and written before anything runs.
                for (_, st, _) in &runs {
                    if let Err(e) =
                        crate::state::StateDir::open(st).and_then(|sd| sd.check_writable())
                    {
                        eprintln!("error: {e:#}; pass --state DIR with a folder you can write");
                        return EXIT_USAGE;
                    }
                }
                let components = Arc::new(components);
                let start = std::time::Instant::now();
                let limit = Arc::new(tokio::sync::Semaphore::new(jobs));
                let mut tasks = tokio::task::JoinSet::new();
                for (i, (pm, st, scope)) in runs.into_iter().enumerate() {
                    let (runtime, limit, only, components) =
                        (runtime.clone(), limit.clone(), only.clone(), components.clone());
                    let (manifest_arg, project, set) = (manifest.clone(), project.clone(), set.clone());
                    let inner_format = if monorepo { Format::Human } else { format };
                    tasks.spawn(async move {
                        let _permit = limit.acquire_owned().await;
                        let scoped = scope.is_some();
                        let reporter = Reporter::scoped(inner_format, scope);
                        let result = pipeline::run(&pm, runtime, &components, &st, &only, reporter.clone()).await;
                        let value = match result {
                            Ok(mut report) => {
                                if let Some(f) = report.failure.as_mut()
                                    && let Some(stage) = f.stage.clone()
                                {
                                    let project = (project.is_some() || scoped).then_some(pm.project.as_path());
                                    f.rerun = crate::report::rerun_command(&pm, &manifest_arg, project, &set, &st, &stage);
                                }
                                reporter.done(&report);
                                serde_json::to_value(&report).unwrap_or_default()
                            }
                            Err(e) => {
                                eprintln!("error: {}: {e:#}", pm.project.display());
                                serde_json::json!({
                                    "pipeline": pm.name, "project": pm.project, "state": st,
                                    "success": false, "exit_code": EXIT_STAGE_FAILED,
                                    "error": format!("{e:#}"), "stages": []
                                })
                            }
                        };
                        (i, value)
                    });
                }
                let mut reports: Vec<(usize, serde_json::Value)> = Vec::new();
                while let Some(r) = tasks.join_next().await {
                    match r {
                        Ok(v) => reports.push(v),
                        Err(e) => {
                            eprintln!("error: a pipeline task panicked: {e}");
                            return EXIT_STAGE_FAILED;
                        }
                    }
                }
                reports.sort_by_key(|(i, _)| *i);
                let failed = reports.iter().filter(|(_, r)| r["success"] != true).count();
                let code = if failed == 0 { EXIT_OK } else { EXIT_STAGE_FAILED };
                if monorepo {
                    eprintln!(
                        "{} {} projects: {} succeeded, {failed} failed in {:.2} s ({jobs} at a time)",
                        if failed == 0 { "✔" } else { "✘" },
                        reports.len(),
                        reports.len() - failed,
                        start.elapsed().as_secs_f64()
                    );
                    if format == Format::Json {
                        println!(
                            "{}",
                            serde_json::to_string_pretty(&serde_json::json!({
                                "success": failed == 0, "exit_code": code,
                                "elapsed_ms": start.elapsed().as_secs_f64() * 1000.0,
                                "jobs": jobs,
                                "projects": reports.into_iter().map(|(_, r)| r).collect::<Vec<_>>()
                            }))
                            .unwrap_or_default()
                        );
                    }
                } else if format == Format::Json && reports.first().is_some_and(|(_, r)| r.get("error").is_some()) {
                    println!("{}", reports[0].1);
                }
                code
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
                    eprintln!("error: {}: {e:#}", m.file.display());
                    EXIT_USAGE
                }
            }
        }
        Command::Verify {
            targets,
            forge,
            repository,
            workflow,
            git_ref,
            environment,
            trusted_root,
            attestation,
            index,
            format,
        } => verify_command(
            crate::verify::Options {
                targets,
                policy: airlock_attest::Policy {
                    forge: match forge {
                        ForgeArg::Github => airlock_attest::Forge::GitHub,
                        ForgeArg::Gitlab => airlock_attest::Forge::GitLab,
                    },
                    repository,
                    workflow,
                    git_ref,
                },
                environment,
                trusted_root,
                attestation,
                index,
            },
            format,
        ),
        Command::LockBuild {
            project,
            index,
            out,
            requirements,
        } => lock_build(crate::lockbuild::Options {
            project,
            index,
            out,
            requirements,
        }),
        Command::NewStage { name, dir, sdk } => new_stage(scaffold::Options { name, dir, sdk }),
        Command::Version {
            project,
            manifest,
            bump,
        } => version_command(project, manifest, bump),
    }
}

/// `airlock lock-build`: exit 0 with the lock written, 1 when the requirements cannot be
/// resolved or the index read.
fn lock_build(opts: crate::lockbuild::Options) -> i32 {
    match crate::lockbuild::run(&opts) {
        Ok((path, lock)) => {
            for p in &lock.packages {
                let w = &p.wheels[0];
                println!(
                    "{} {}  {}  sha256:{}",
                    p.name,
                    p.version,
                    w.name,
                    w.sha256()
                );
            }
            println!(
                "wrote {} ({} pure-Python wheels): review and commit it",
                path.display(),
                lock.packages.len()
            );
            EXIT_OK
        }
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_STAGE_FAILED
        }
    }
}

/// `airlock verify`: exit 0 when every attestation verified, 1 when one was refused or a
/// source could not be read, 2 on a usage error.
fn verify_command(opts: crate::verify::Options, format: Format) -> i32 {
    match crate::verify::run(&opts) {
        Ok(outcomes) => {
            let ok = outcomes.iter().all(|o| o.refused.is_none());
            match format {
                Format::Human => print!("{}", crate::verify::render_human(&outcomes)),
                Format::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "verified": ok, "attestations": outcomes
                    }))
                    .unwrap_or_default()
                ),
            }
            if ok { EXIT_OK } else { EXIT_STAGE_FAILED }
        }
        Err(crate::verify::Error::Usage(e)) => {
            // URLs and answers from the index reach the terminal: control characters escaped.
            eprintln!("error: verify: {}", crate::encode::terminal(&e));
            EXIT_USAGE
        }
        Err(crate::verify::Error::Failed(e)) => {
            // URLs and answers from the index reach the terminal: control characters escaped.
            eprintln!("error: verify: {}", crate::encode::terminal(&e));
            EXIT_STAGE_FAILED
        }
    }
}

/// `airlock new-stage`: writes the crate and prints what to do next.
fn new_stage(opts: scaffold::Options) -> i32 {
    match scaffold::create(&opts) {
        Ok(c) => {
            let root = c.root.display();
            println!(
                "Created stage \"{}\" in {root} (airlock-stage at {}):",
                opts.name,
                c.sdk.display()
            );
            for f in &c.files {
                println!("  {}", f.display());
            }
            let bin = std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| "airlock".into());
            println!("Next:");
            println!("  cd {root}");
            println!(
                "  {}        # writes {}",
                scaffold::BUILD_COMMAND,
                c.wasm.display()
            );
            println!("  {bin} run stage.toml");
            println!("  {bin} audit stage.toml");
            println!("  AIRLOCK_BIN={bin} cargo test");
            EXIT_OK
        }
        Err(e) => {
            eprintln!("error: new-stage: {e}");
            if e.is_usage() {
                EXIT_USAGE
            } else {
                EXIT_STAGE_FAILED
            }
        }
    }
}

/// `airlock version`: prints the version, or bumps it and says which files changed.
fn version_command(
    project: Option<PathBuf>,
    manifest: Option<PathBuf>,
    bump: Option<String>,
) -> i32 {
    let (root, extra) = match &manifest {
        Some(file) => match manifest::load(file, project.as_deref()) {
            Ok(m) => (m.project, m.version_files),
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_USAGE;
            }
        },
        None => (project.unwrap_or_else(|| PathBuf::from(".")), Vec::new()),
    };
    match bump {
        None => match crate::version::locate(&root) {
            Ok(l) => {
                println!("{}", l.version);
                EXIT_OK
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                EXIT_USAGE
            }
        },
        Some(spec) => {
            match crate::version::bump(&root, &crate::version::Bump::parse(&spec), &extra) {
                Ok((old, new, files)) => {
                    eprintln!("{old} -> {new}");
                    for f in files {
                        eprintln!("  wrote {}", f.display());
                    }
                    println!("{new}");
                    EXIT_OK
                }
                Err(e) => {
                    eprintln!("error: {e:#}");
                    EXIT_USAGE
                }
            }
        }
    }
}

/// Raises this process's soft limit on open files to its hard limit, so that stages running
/// at once (each bounded by `runtime::bounds::RESOURCES`) cannot exhaust a low default
/// (1024 on many Linux systems) for each other.
fn raise_open_file_limit() {
    #[cfg(unix)]
    // SAFETY: getrlimit/setrlimit with a valid pointer to an rlimit on this stack frame.
    unsafe {
        let mut l = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) == 0 && l.rlim_cur < l.rlim_max {
            l.rlim_cur = l.rlim_max.min(1 << 20);
            libc::setrlimit(libc::RLIMIT_NOFILE, &l);
        }
    }
}
