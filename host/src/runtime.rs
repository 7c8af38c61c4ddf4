//! The wasmtime runtime: loading, compiling (with an on-disk cache), and running one stage
//! component inside the sandbox its grants describe.
//!
//! Per stage, the WASI context is built from the grants only: preopens for `files`
//! (`FsPerms::ReadOnly`/`ReadWrite`, the project root at guest path `/`), only the granted
//! environment variables, no sockets (TCP, UDP and name lookup off), and a wasi:http send
//! hook ([`HttpPolicy`]) that refuses any origin not granted and injects credentials.
//! Memory is capped with `StoreLimits`; wall-clock time with epoch interruption plus a
//! timeout around the call (epochs do not fire inside host calls).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};
use sha2::{Digest, Sha256};
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

use crate::capabilities::{Credential, Lifetime, Origin, Secrets, guest_path};
use crate::manifest::{Access, ComponentRef, Stage};

mod bindings {
    wasmtime::component::bindgen!({
        world: "stage",
        path: "../wit",
        exports: { default: async },
    });
}

use bindings::Stage as StageWorld;
use bindings::airlock::stage::host::Level;
use bindings::airlock::stage::types as wit;

/// Epoch ticks per second (the epoch thread's period is 1/TICKS_PER_SECOND s).
const TICKS_PER_SECOND: u64 = 20;
/// Bytes of guest stdout/stderr kept (the rest is dropped).
const STDIO_CAPACITY: usize = 256 * 1024;

/// Something a running stage reported through the host interface.
#[derive(Debug, Clone)]
pub enum StageEvent {
    /// A log line (already redacted).
    Log {
        level: &'static str,
        message: String,
    },
    /// Progress: `done` of `total` units.
    Progress {
        done: u64,
        total: Option<u64>,
        message: String,
    },
    /// A request the sandbox refused (URL).
    Denied { url: String },
    /// A stage stored a secret (the reporter masks it on GitHub Actions; never printed).
    SecretStored { value: String },
}

/// Receives events as stages run: (stage id, event).
pub type EventSink = Arc<dyn Fn(&str, StageEvent) + Send + Sync>;

/// Renews secret `name` (its argument) that is due for renewal ([`Lifetime::renew_due`]) by
/// running the stage that produced it again; the pipeline provides it
/// ([`crate::pipeline`]). `Err` is a message for the report (already redacted).
pub type Renewer = Arc<
    dyn Fn(
            String,
        )
            -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send>>
        + Send
        + Sync,
>;

/// What the host lends a stage run besides its grants: the run's secret store, where its
/// events go, and how an expiring secret is renewed (none while renewing one).
#[derive(Clone)]
pub struct Services {
    /// The run's secrets (injected into requests, redacted from output).
    pub secrets: Secrets,
    /// Logs, progress, refusals and stored secrets, as they happen.
    pub events: EventSink,
    /// Renews an expiring injected secret before a request carries it.
    pub renew: Option<Renewer>,
}

/// Unix seconds now.
pub fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A loaded component with how it was obtained.
#[derive(Clone)]
pub struct Loaded {
    /// The compiled component.
    pub component: Component,
    /// sha256 of the component's bytes (lowercase hex).
    pub digest: String,
    /// Whether the compiled artifact came from the on-disk cache.
    pub cache: CacheUse,
    /// Time to compile or deserialize.
    pub load_time: Duration,
}

/// How the compile cache was used for a component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheUse {
    /// Deserialized from the cache.
    Hit,
    /// Compiled and written to the cache.
    Miss,
    /// No cache directory.
    Off,
}

/// The engine, linker and compile cache shared by every stage of a run.
pub struct Runtime {
    engine: Engine,
    linker: Linker<StageState>,
    cache_dir: Option<PathBuf>,
    _ticker: Arc<EpochTicker>,
}

struct EpochTicker {
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The default compile cache folder: `$AIRLOCK_CACHE_DIR`, else `$XDG_CACHE_HOME/airlock`,
/// else `$HOME/.cache/airlock`; none when none is set.
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("AIRLOCK_CACHE_DIR") {
        return Some(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return Some(PathBuf::from(d).join("airlock"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("airlock"))
}

impl Runtime {
    /// Creates the engine (epoch interruption on) and the linker (WASI p2, wasi:http p2 and
    /// `airlock:stage/host`). `cache_dir` holds compiled components.
    pub fn new(cache_dir: Option<PathBuf>) -> Result<Runtime> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        let engine = Engine::new(&config)?;
        let mut linker: Linker<StageState> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        StageWorld::add_to_linker::<StageState, HasSelf<StageState>>(&mut linker, |s| s)?;

        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (e, s) = (engine.clone(), stop.clone());
        std::thread::Builder::new()
            .name("airlock-epoch".into())
            .spawn(move || {
                while !s.load(std::sync::atomic::Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(1000 / TICKS_PER_SECOND));
                    e.increment_epoch();
                }
            })?;
        Ok(Runtime {
            engine,
            linker,
            cache_dir,
            _ticker: Arc::new(EpochTicker { stop }),
        })
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The bytes of a component reference: embedded for `builtin:`, read from disk (and
    /// checked against its pinned sha256) for a path.
    pub fn component_bytes(cref: &ComponentRef) -> Result<Vec<u8>> {
        match cref {
            ComponentRef::Builtin(name) => crate::builtin::get(name)
                .map(<[u8]>::to_vec)
                .ok_or_else(|| anyhow!("no built-in component \"{name}\"")),
            ComponentRef::Path { path, sha256 } => {
                let bytes = std::fs::read(path)
                    .with_context(|| format!("cannot read component {}", path.display()))?;
                if let Some(want) = sha256 {
                    let got = hex::encode(Sha256::digest(&bytes));
                    if &got != want {
                        bail!(
                            "component {} has sha256 {got}, but the manifest pins {want}: rebuild it or update the pin",
                            path.display()
                        );
                    }
                }
                Ok(bytes)
            }
        }
    }

    /// Loads a component: from the compile cache when present (keyed by the component's
    /// sha256 and the engine's compatibility hash), else compiles it and writes the cache.
    pub fn load(&self, cref: &ComponentRef) -> Result<Loaded> {
        let bytes = Self::component_bytes(cref)?;
        let digest = hex::encode(Sha256::digest(&bytes));
        let start = Instant::now();
        let Some(dir) = &self.cache_dir else {
            let component = Component::new(&self.engine, &bytes).map_err(|e| {
                anyhow::Error::from(e).context(format!("{cref} is not a valid component"))
            })?;
            return Ok(Loaded {
                component,
                digest,
                cache: CacheUse::Off,
                load_time: start.elapsed(),
            });
        };
        let file = dir.join(format!("{digest}-{}.cwasm", self.engine_key()));
        if file.exists() {
            // SAFETY: the file was written by `Component::serialize` of this same engine
            // configuration (the name carries the engine's compatibility hash) into the
            // user's own cache folder.
            if let Ok(component) = unsafe { Component::deserialize_file(&self.engine, &file) } {
                return Ok(Loaded {
                    component,
                    digest,
                    cache: CacheUse::Hit,
                    load_time: start.elapsed(),
                });
            }
        }
        let component = Component::new(&self.engine, &bytes).map_err(|e| {
            anyhow::Error::from(e).context(format!("{cref} is not a valid component"))
        })?;
        if std::fs::create_dir_all(dir).is_ok()
            && let Ok(ser) = component.serialize()
        {
            let tmp = file.with_extension(format!("tmp{}", std::process::id()));
            if std::fs::write(&tmp, ser).is_ok() {
                let _ = std::fs::rename(&tmp, &file);
            }
        }
        Ok(Loaded {
            component,
            digest,
            cache: CacheUse::Miss,
            load_time: start.elapsed(),
        })
    }

    fn engine_key(&self) -> String {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.engine.precompile_compatibility_hash().hash(&mut h);
        env!("CARGO_PKG_VERSION").hash(&mut h);
        format!("{:016x}", h.finish())
    }

    /// Runs `stage` once: builds its sandbox from its grants, instantiates the component and
    /// calls `run` with `config` and `inputs` ((stage id, JSON output) pairs), with the run's
    /// [`Services`]. Errors
    /// (`Err`) are host-side failures: a grant that cannot be set up, a trap, a timeout, the
    /// memory limit; a stage's own failure is `Ok(Err(StageFailure))`.
    pub async fn run(
        &self,
        loaded: &Loaded,
        stage: &Stage,
        project: &Path,
        inputs: Vec<(String, String)>,
        services: Services,
    ) -> Result<RunResult> {
        let Services {
            secrets,
            events,
            renew,
        } = services;
        let secrets = &secrets;
        let limits = stage.grants.limits;
        let stdout = MemoryOutputPipe::new(STDIO_CAPACITY);
        let stderr = MemoryOutputPipe::new(STDIO_CAPACITY);
        let mut b = WasiCtxBuilder::new();
        b.stdout(stdout.clone()).stderr(stderr.clone());
        b.allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        b.socket_addr_check(|_, _| Box::pin(async { false }));
        b.initial_cwd("/");
        // File reads and stats block this worker thread instead of hopping to the
        // blocking pool per call (~0.1 ms each): a stage reading a 6 MB project makes
        // thousands of them. Stages are short and the runtime has a worker per core.
        b.allow_blocking_current_thread(true);
        for g in &stage.grants.files {
            let host = project.join(&g.path);
            if g.access == Access::Write {
                std::fs::create_dir_all(&host).with_context(|| {
                    format!(
                        "stage \"{}\": cannot create granted folder {}",
                        stage.id,
                        host.display()
                    )
                })?;
            } else if !host.exists() {
                events(
                    &stage.id,
                    StageEvent::Log {
                        level: "warn",
                        message: format!("granted folder {} does not exist; not mounted", g.path),
                    },
                );
                continue;
            }
            if !host.is_dir() {
                bail!(
                    "stage \"{}\": granted path {} is not a folder: grants name folders",
                    stage.id,
                    g.path
                );
            }
            let perms = if g.access == Access::Write {
                FsPerms::ReadWrite
            } else {
                FsPerms::ReadOnly
            };
            b.preopened_dir(&host, guest_path(&g.path), perms)
                .map_err(|e| {
                    anyhow::Error::from(e).context(format!(
                        "stage \"{}\": cannot open granted folder {}",
                        stage.id,
                        host.display()
                    ))
                })?;
        }
        for name in &stage.grants.env {
            if let Ok(v) = std::env::var(name) {
                b.env(name, v);
            }
        }
        let denied = Arc::new(Mutex::new(Vec::new()));
        let hooks = HttpPolicy {
            stage: stage.id.clone(),
            allowed: stage
                .grants
                .http
                .iter()
                .filter_map(|o| Origin::parse_grant(o).ok())
                .collect(),
            inject: stage
                .grants
                .inject
                .iter()
                .filter_map(|r| {
                    Some((
                        Origin::parse_grant(&r.into).ok()?,
                        r.secret.clone(),
                        r.credential.clone(),
                    ))
                })
                .collect(),
            secrets: secrets.clone(),
            renew,
            denied: denied.clone(),
            events: events.clone(),
        };
        let state = StageState {
            wasi: b.build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            hooks,
            limits: StoreLimitsBuilder::new()
                .memory_size((limits.memory_mib as usize) << 20)
                .trap_on_grow_failure(true)
                .build(),
            stage_id: stage.id.clone(),
            produce: stage.grants.produce.clone(),
            secrets: secrets.clone(),
            events: events.clone(),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        store.set_epoch_deadline(limits.timeout_s * TICKS_PER_SECOND);
        store.epoch_deadline_trap();

        let request = wit::Request {
            stage_id: stage.id.clone(),
            config: serde_json::to_string(&stage.config)?,
            inputs: inputs
                .into_iter()
                .map(|(id, output)| wit::Upstream { id, output })
                .collect(),
        };
        let start = Instant::now();
        let call = async {
            let instance =
                StageWorld::instantiate_async(&mut store, &loaded.component, &self.linker).await?;
            let instantiate = start.elapsed();
            let result = instance.call_run(&mut store, &request).await?;
            anyhow::Ok((instantiate, result))
        };
        let outcome = tokio::time::timeout(Duration::from_secs(limits.timeout_s), call).await;
        let elapsed = start.elapsed();
        let redact = |b: bytes::Bytes| secrets.redact(&String::from_utf8_lossy(&b));
        let stdio = [redact(stdout.contents()), redact(stderr.contents())];
        for text in &stdio {
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                events(
                    &stage.id,
                    StageEvent::Log {
                        level: "info",
                        message: line.to_string(),
                    },
                );
            }
        }
        let denied = denied.lock().unwrap().clone();
        let (instantiate, result) = match outcome {
            Err(_) => {
                return Ok(RunResult::failed(
                    elapsed,
                    denied,
                    StageFailure::limit(
                        format!(
                            "stage \"{}\" exceeded its wall-clock limit of {} s",
                            stage.id, limits.timeout_s
                        ),
                        "raise grants.limits.timeout_s for this stage, or find what it waits on",
                    ),
                ));
            }
            Ok(Err(trap)) => {
                let text = format!("{trap:?}");
                let interrupted = matches!(
                    trap.downcast_ref::<wasmtime::Trap>(),
                    Some(wasmtime::Trap::Interrupt)
                );
                let f = if interrupted {
                    StageFailure::limit(
                        format!(
                            "stage \"{}\" exceeded its wall-clock limit of {} s",
                            stage.id, limits.timeout_s
                        ),
                        "raise grants.limits.timeout_s for this stage",
                    )
                } else if text.contains("forcing trap when growing memory")
                    || text.contains("memory limit")
                {
                    StageFailure::limit(
                        format!(
                            "stage \"{}\" exceeded its memory limit of {} MiB: {}",
                            stage.id,
                            limits.memory_mib,
                            secrets.redact(&trap.root_cause().to_string())
                        ),
                        "raise grants.limits.memory_mib for this stage",
                    )
                } else {
                    StageFailure {
                        category: "internal".into(),
                        message: format!(
                            "stage \"{}\" trapped: {}",
                            stage.id,
                            secrets.redact(&trap.root_cause().to_string())
                        ),
                        retryable: false,
                        hint: Some(
                            "this is a bug in the stage component; report it with the log above"
                                .into(),
                        ),
                    }
                };
                return Ok(RunResult::failed(elapsed, denied, f));
            }
            Ok(Ok(v)) => v,
        };
        let outcome = match result {
            Ok(resp) => {
                let max = (limits.output_kib as usize) << 10;
                if resp.output.len() > max {
                    Err(StageFailure::limit(
                        format!(
                            "stage \"{}\" output is {} bytes, over its limit of {} KiB",
                            stage.id,
                            resp.output.len(),
                            limits.output_kib
                        ),
                        "raise grants.limits.output_kib for this stage",
                    ))
                } else {
                    match serde_json::from_str::<serde_json::Value>(&resp.output) {
                        Ok(v) => Ok(secrets.redact_json(&v)),
                        Err(e) => Err(StageFailure {
                            category: "internal".into(),
                            message: format!(
                                "stage \"{}\" returned output that is not JSON: {e}",
                                stage.id
                            ),
                            retryable: false,
                            hint: None,
                        }),
                    }
                }
            }
            Err(e) => {
                let mut f = StageFailure {
                    category: category_name(e.category).into(),
                    message: secrets.redact(&e.message),
                    retryable: e.retryable,
                    hint: e.hint.map(|h| secrets.redact(&h)),
                };
                if !denied.is_empty() {
                    // The host's own record decides: the stage failed after the sandbox
                    // refused a request, whatever the guest made of the refusal.
                    let mut urls = denied.clone();
                    urls.sort();
                    urls.dedup();
                    f.category = "capability".into();
                    f.retryable = false;
                    f.message = format!(
                        "{} (the sandbox refused wasi:http/outgoing-handler requests to: {})",
                        f.message,
                        urls.join(", ")
                    );
                    f.hint = Some(format!(
                        "grant the origin in this stage's grants.http (e.g. \"{}\"), if the stage should reach it",
                        Origin::of_url(&urls[0])
                            .map(|o| o.to_string())
                            .unwrap_or_default()
                    ));
                }
                Err(f)
            }
        };
        Ok(RunResult {
            outcome,
            elapsed,
            instantiate: Some(instantiate),
            denied,
        })
    }
}

fn category_name(c: wit::ErrorCategory) -> &'static str {
    use wit::ErrorCategory as C;
    match c {
        C::Authentication => "authentication",
        C::Network => "network",
        C::Validation => "validation",
        C::Build => "build",
        C::Upload => "upload",
        C::Configuration => "configuration",
        C::Capability => "capability",
        C::Internal => "internal",
    }
}

/// A stage's failure as the report shows it (the WIT `stage-error`, or a host-side limit).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StageFailure {
    /// One of the WIT error categories.
    pub category: String,
    /// What went wrong (redacted).
    pub message: String,
    /// Whether a rerun may succeed.
    pub retryable: bool,
    /// What to do about it.
    pub hint: Option<String>,
}

impl StageFailure {
    fn limit(message: String, hint: &str) -> Self {
        StageFailure {
            category: "capability".into(),
            message,
            retryable: false,
            hint: Some(hint.into()),
        }
    }
}

/// The result of one stage run.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// The stage's JSON output (redacted), or its failure.
    pub outcome: Result<serde_json::Value, StageFailure>,
    /// Wall time from instantiation start to the end of `run`.
    pub elapsed: Duration,
    /// Time to instantiate the component (none when it never got there).
    pub instantiate: Option<Duration>,
    /// URLs the sandbox refused.
    pub denied: Vec<String>,
}

impl RunResult {
    fn failed(elapsed: Duration, denied: Vec<String>, f: StageFailure) -> Self {
        RunResult {
            outcome: Err(f),
            elapsed,
            instantiate: None,
            denied,
        }
    }
}

/// The per-stage store data.
struct StageState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    hooks: HttpPolicy,
    limits: StoreLimits,
    stage_id: String,
    produce: Vec<String>,
    secrets: Secrets,
    events: EventSink,
}

impl WasiView for StageState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for StageState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

impl wit::Host for StageState {}

impl bindings::airlock::stage::host::Host for StageState {
    fn log(&mut self, level: Level, message: String) {
        let level = match level {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        };
        (self.events)(
            &self.stage_id,
            StageEvent::Log {
                level,
                message: self.secrets.redact(&message),
            },
        );
    }

    fn progress(&mut self, done: u64, total: Option<u64>, message: String) {
        (self.events)(
            &self.stage_id,
            StageEvent::Progress {
                done,
                total,
                message: self.secrets.redact(&message),
            },
        );
    }

    fn store_secret(&mut self, name: String, value: String) -> Result<(), String> {
        if !self.produce.contains(&name) {
            return Err(format!(
                "stage \"{}\" may not store secret \"{name}\": it is not in grants.secrets.produce",
                self.stage_id
            ));
        }
        if value.is_empty() {
            return Err(format!("secret \"{name}\" is empty"));
        }
        self.secrets.insert(&name, &value);
        (self.events)(&self.stage_id, StageEvent::SecretStored { value });
        Ok(())
    }

    fn store_secret_until(
        &mut self,
        name: String,
        value: String,
        expires_at: u64,
    ) -> Result<(), String> {
        self.store_secret(name.clone(), value.clone())?;
        let lifetime = Lifetime {
            expires_at,
            stored_at: now_s(),
            producer: self.stage_id.clone(),
        };
        self.secrets.insert_until(&name, &value, lifetime);
        Ok(())
    }
}

/// The wasi:http send hook: refuses origins not granted, adds injected credentials.
struct HttpPolicy {
    stage: String,
    allowed: Vec<Origin>,
    inject: Vec<(Origin, String, Credential)>,
    secrets: Secrets,
    renew: Option<Renewer>,
    denied: Arc<Mutex<Vec<String>>>,
    events: EventSink,
}

impl WasiHttpHooks for HttpPolicy {
    fn send_request(
        &mut self,
        mut request: http::Request<wasmtime_wasi_http::WasiBody>,
        options: Option<wasmtime_wasi_http::RequestOptions>,
        fut: Box<dyn std::future::Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> Box<
        dyn std::future::Future<
                Output = Result<
                    (
                        http::Response<wasmtime_wasi_http::WasiBody>,
                        Box<
                            dyn std::future::Future<Output = Result<(), wasmtime_wasi_http::Error>>
                                + Send,
                        >,
                    ),
                    wasmtime_wasi_http::Error,
                >,
            > + Send,
    > {
        drop(fut);
        let url = request.uri().to_string();
        let origin = Origin::of_url(&url).ok();
        let granted = origin
            .as_ref()
            .is_some_and(|o| self.allowed.iter().any(|g| g.covers(o)));
        if !granted {
            let shown = url.split('?').next().unwrap_or(&url).to_string();
            self.denied.lock().unwrap().push(shown.clone());
            (self.events)(&self.stage, StageEvent::Denied { url: shown });
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        let origin = origin.unwrap();
        let injects: Vec<(String, Credential)> = self
            .inject
            .iter()
            .filter(|(target, _, _)| target.covers(&origin))
            .map(|(_, secret, credential)| (secret.clone(), credential.clone()))
            .collect();
        let (secrets, renew) = (self.secrets.clone(), self.renew.clone());
        Box::new(async move {
            use http_body_util::BodyExt;
            for (secret, credential) in injects {
                // An expiring credential is renewed before it goes out, never sent stale.
                if let Some(renew) = &renew
                    && secrets
                        .lifetime(&secret)
                        .is_some_and(|l| l.renew_due(now_s()))
                {
                    renew(secret.clone()).await.map_err(|e| {
                        wasmtime_wasi_http::Error::InternalError(Some(format!(
                            "credential \"{secret}\" expires and could not be renewed: {e}"
                        )))
                    })?;
                }
                let Some(value) = secrets.get(&secret) else {
                    continue;
                };
                let (name, value) = credential.header(&value);
                if let (Ok(n), Ok(mut v)) = (
                    http::HeaderName::from_bytes(name.as_bytes()),
                    http::HeaderValue::from_str(&value),
                ) {
                    v.set_sensitive(true);
                    request.headers_mut().insert(n, v);
                }
            }
            let (res, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((
                res.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn std::future::Future<Output = _> + Send>,
            ))
        })
    }
}
