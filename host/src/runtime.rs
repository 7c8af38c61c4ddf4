//! The wasmtime runtime: loading, compiling (with an on-disk cache), and running one stage
//! component inside the sandbox its grants describe.
//!
//! Per stage, the WASI context is built from the grants only: preopens for `files`
//! (`FsPerms::ReadOnly`/`ReadWrite`, the project root at guest path `/`), only the granted
//! environment variables, no sockets (TCP, UDP and name lookup off), and a wasi:http send
//! hook ([`HttpPolicy`]) that refuses any origin not granted and injects credentials.
//! Memory is capped by one `ResourceLimiter` that counts every memory and table of the
//! stage together; wall-clock time with epoch interruption plus a timeout around the call
//! (epochs do not fire inside host calls). Everything else a stage can make the host hold
//! or do is bounded too ([`bounds`]).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};
use sha2::{Digest, Sha256};
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

use crate::capabilities::{Credential, Origin, guest_path};
use crate::hostfs;
use crate::manifest::{Access, ComponentRef, Stage};
use crate::secrets::{Lifetime, Secrets};

mod bindings {
    wasmtime::component::bindgen!({
        world: "stage",
        path: "../crates/stage/wit",
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

/// Host-side bounds on what one stage can make the host hold or do. Each is per stage run;
/// the ones a user tunes are manifest limits (`memory_mib`, `timeout_s`, `output_kib`,
/// `artifact_mib`, `log_kib`).
pub mod bounds {
    /// Longest log or progress line kept, in bytes; the rest is cut, saying how much.
    pub const LOG_LINE: usize = 4096;
    /// Longest progress message, in bytes.
    pub const PROGRESS_MESSAGE: usize = 256;
    /// Progress events are passed on at most once per this many milliseconds (plus the
    /// final one, `done >= total`).
    pub const PROGRESS_INTERVAL_MS: u64 = 100;
    /// Longest failure message, in bytes.
    pub const FAILURE_MESSAGE: usize = 4096;
    /// Longest failure hint, in bytes.
    pub const FAILURE_HINT: usize = 2048;
    /// Entries in the stage's WASI resource table: open files and directories, streams,
    /// wasi:http fields, requests and responses, pollables (wasmtime's own default is a
    /// million). It also bounds the stage's open file descriptors.
    pub const RESOURCES: usize = 1024;
    /// Bytes of one wasi:http `fields` resource (headers), in wasmtime-wasi-http's
    /// in-memory measure.
    pub const HTTP_FIELDS_BYTES: usize = 16 * 1024;
    /// Outgoing HTTP requests in flight at once.
    pub const CONCURRENT_REQUESTS: usize = 16;
    /// Bytes of a URL a stage hands to `credential-for` (longer: no credential).
    pub const URL: usize = 8 * 1024;
    /// Longest guest path a stage may ask `file-mode` about, in bytes.
    pub const PATH: usize = 4096;
    /// Core instances, tables and memories one stage may create (a component built from
    /// Rust has a handful of each).
    pub const INSTANCES: usize = 32;
    /// See [`INSTANCES`].
    pub const TABLES: usize = 64;
    /// See [`INSTANCES`].
    pub const MEMORIES: usize = 8;
    /// Bytes a table element is counted as against `memory_mib` (a funcref or externref
    /// slot with its lazy-init bit, rounded up).
    pub const TABLE_ELEMENT_BYTES: usize = 16;
    /// Artifacts one stage may declare.
    pub const ARTIFACTS: usize = 256;
    /// Size of a compiled component read back from the cache, in bytes.
    pub const CACHED_COMPONENT: u64 = 1 << 30;
}

/// `s` cut to at most `max` bytes at a char boundary, saying how much was cut.
pub fn cut(s: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if s.len() <= max {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    std::borrow::Cow::Owned(format!("{}… ({} bytes cut)", &s[..end], s.len() - end))
}

/// `text` redacted, then cut to `max` bytes. Only a bounded prefix is redacted (longer
/// than any secret's longest encoded form), so the work does not grow with a huge line,
/// and the cut never splits a secret into a visible half.
pub fn redact_cut(secrets: &Secrets, text: &str, max: usize) -> String {
    let head = cut(text, max + 8 * crate::secrets::MAX_SECRET_BYTES);
    cut(&secrets.redact(&head), max).into_owned()
}

/// The memory and table accounting of one stage: all its linear memories and tables
/// together count against `memory_mib` (tables at [`bounds::TABLE_ELEMENT_BYTES`] an
/// element), and the numbers of instances, tables and memories are capped. Growing past
/// the limit traps with "memory limit of N MiB exceeded".
struct StageLimiter {
    max_bytes: usize,
    used: usize,
}

impl StageLimiter {
    fn grow(&mut self, bytes: usize) -> wasmtime::Result<bool> {
        let next = self.used.saturating_add(bytes);
        if next > self.max_bytes {
            return Err(wasmtime::format_err!(
                "memory limit of {} MiB exceeded (memories and tables of the stage together)",
                self.max_bytes >> 20
            ));
        }
        self.used = next;
        Ok(true)
    }
}

impl wasmtime::ResourceLimiter for StageLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.grow(desired.saturating_sub(current))
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.grow(
            desired
                .saturating_sub(current)
                .saturating_mul(bounds::TABLE_ELEMENT_BYTES),
        )
    }

    fn instances(&self) -> usize {
        bounds::INSTANCES
    }

    fn tables(&self) -> usize {
        bounds::TABLES
    }

    fn memories(&self) -> usize {
        bounds::MEMORIES
    }
}

/// The log budget of one stage run (`limits.log_kib`), shared by its `log` calls and its
/// stdout/stderr lines.
struct LogGate {
    left: usize,
    dropped: bool,
}

impl LogGate {
    /// Whether a line of `len` bytes may go out; the first refusal returns a note instead.
    fn admit(&mut self, len: usize) -> Result<(), Option<String>> {
        if self.dropped {
            return Err(None);
        }
        if len > self.left {
            self.dropped = true;
            return Err(Some(
                "log volume over grants.limits.log_kib: later lines of this stage are dropped"
                    .into(),
            ));
        }
        self.left -= len;
        Ok(())
    }
}

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
/// Milliseconds since `start`, for diagnostics.
fn ms(start: Instant) -> u64 {
    start.elapsed().as_millis() as u64
}

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
    /// A built-in component precompiled into the binary at build time.
    Embedded,
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
    cache: Option<Cache>,
    /// Why the compile cache cannot be used, once said (see [`Runtime::cache_problem`]).
    cache_problem: Mutex<Option<String>>,
    _ticker: Arc<EpochTicker>,
}

/// The compile cache: a folder handle (links never followed) and its key. Each entry is
/// `<component sha256>-<engine key>.cwasm` holding a 64-byte BLAKE2b MAC (keyed with the
/// cache's own random key, over the entry's name and bytes) followed by the serialized
/// compiled component. An entry whose MAC does not verify (written by anything but this
/// cache's owner, or for another component) is never deserialized: it is native code.
struct Cache {
    dir: cap_std::fs::Dir,
    path: PathBuf,
    key: [u8; 64],
}

/// The cache key's file name inside the cache folder (mode 0600, 64 random bytes).
const CACHE_KEY_FILE: &str = "cache-key";

impl Cache {
    /// Opens (creating) `path` and loads its key, or makes one. Errors: the folder cannot
    /// be created or opened (then every component is compiled, and the host says so).
    fn open(path: &Path) -> Result<Cache> {
        let dir = hostfs::create_root(path)?;
        if let Ok(bytes) = hostfs::read_file(&dir, CACHE_KEY_FILE, 64)
            && bytes.len() == 64
        {
            let mut key = [0u8; 64];
            key.copy_from_slice(&bytes);
            return Ok(Cache {
                dir,
                path: path.to_path_buf(),
                key,
            });
        }
        let mut key = [0u8; 64];
        getrandom::fill(&mut key).map_err(|e| anyhow!("no random key: {e}"))?;
        // A new key invalidates every entry (their MACs no longer verify).
        let tmp = format!("{CACHE_KEY_FILE}.tmp{}", std::process::id());
        let mut o = cap_std::fs::OpenOptions::new();
        o.write(true).create_new(true);
        #[cfg(unix)]
        {
            use cap_std::fs::OpenOptionsExt;
            o.mode(0o600);
        }
        {
            use cap_fs_ext::OpenOptionsFollowExt;
            o.follow(cap_fs_ext::FollowSymlinks::No);
        }
        let _ = dir.remove_file(&tmp);
        let mut f = dir.open_with(&tmp, &o)?;
        std::io::Write::write_all(&mut f, &key)?;
        drop(f);
        dir.rename(&tmp, &dir, CACHE_KEY_FILE)?;
        Ok(Cache {
            dir,
            path: path.to_path_buf(),
            key,
        })
    }

    fn mac(&self, name: &str, bytes: &[u8]) -> blake2::Blake2bMac512 {
        use blake2::digest::{KeyInit, Mac};
        let mut m = <blake2::Blake2bMac512 as KeyInit>::new_from_slice(&self.key)
            .expect("a 64-byte key fits BLAKE2b");
        m.update(&(name.len() as u64).to_le_bytes());
        m.update(name.as_bytes());
        m.update(bytes);
        m
    }

    /// The entry `name`'s compiled bytes, when present and authentic.
    fn get(&self, name: &str) -> Option<Vec<u8>> {
        use blake2::digest::Mac;
        let mut bytes = hostfs::read_file(&self.dir, name, bounds::CACHED_COMPONENT).ok()?;
        if bytes.len() < 64 {
            return None;
        }
        let body = bytes.split_off(64);
        self.mac(name, &body).verify_slice(&bytes).ok()?;
        Some(body)
    }

    /// Stores `bytes` as entry `name` (written aside, then renamed into place). Errors:
    /// the entry cannot be written (a read-only or full cache folder).
    fn put(&self, name: &str, bytes: &[u8]) -> Result<()> {
        use blake2::digest::Mac;
        let tag = self.mac(name, bytes).finalize().into_bytes();
        let tmp = format!("{name}.tmp{}", std::process::id());
        let written = hostfs::create_file(&self.dir, &tmp)
            .and_then(|mut f| {
                use std::io::Write;
                f.write_all(&tag)?;
                f.write_all(bytes)?;
                Ok(())
            })
            .and_then(|()| Ok(self.dir.rename(&tmp, &self.dir, name)?));
        if written.is_err() {
            let _ = self.dir.remove_file(&tmp);
        }
        written
    }
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

/// What to tell a person whose compile cache `dir` cannot be used.
fn cache_unusable(dir: &Path, e: &anyhow::Error) -> String {
    format!(
        "the compile cache {} cannot be used ({e:#}): components are compiled on every run; pass --cache-dir DIR (or set AIRLOCK_CACHE_DIR) to a folder you can write",
        dir.display()
    )
}

/// Why `bytes` (read for `cref`) is not a component, and what to build instead.
fn not_a_component(cref: &ComponentRef, bytes: &[u8]) -> String {
    if wasmparser::Parser::is_core_wasm(bytes) {
        format!(
            "{cref} is a core WebAssembly module, not a component: build the stage for wasm32-wasip2 (cargo build --release --target wasm32-wasip2 makes a component), or wrap a wasm32-wasip1 module with `wasm-tools component new`"
        )
    } else if bytes.starts_with(b"\0asm") {
        format!(
            "{cref} is WebAssembly of an unsupported version or layer: build the stage for wasm32-wasip2 with a current toolchain"
        )
    } else {
        format!(
            "{cref} is not WebAssembly ({} bytes without the \\0asm header): point `component` at the .wasm file the stage's build writes (target/wasm32-wasip2/release/NAME.wasm)",
            bytes.len()
        )
    }
}

impl Runtime {
    /// Creates the engine ([`crate::engine::config`]) and the linker (WASI p2, wasi:http
    /// p2 and `airlock:stage/host`). `cache_dir` holds compiled components; when it cannot
    /// be used, [`Runtime::cache_problem`] says why and components are compiled each run.
    pub fn new(cache_dir: Option<PathBuf>) -> Result<Runtime> {
        let engine = Engine::new(&crate::engine::config())?;
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
        let (cache, cache_problem) = match cache_dir.as_deref().map(|d| (d, Cache::open(d))) {
            None => (None, None),
            Some((_, Ok(c))) => (Some(c), None),
            Some((d, Err(e))) => (None, Some(cache_unusable(d, &e))),
        };
        Ok(Runtime {
            engine,
            linker,
            cache,
            cache_problem: Mutex::new(cache_problem),
            _ticker: Arc::new(EpochTicker { stop }),
        })
    }

    /// Why the compile cache cannot be used (it cannot be created, opened or written),
    /// with what to do; `Some` once, then `None`, so a caller says it once per process.
    pub fn cache_problem(&self) -> Option<String> {
        self.cache_problem.lock().unwrap().take()
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The bytes of a component reference: embedded for `builtin:`, read from disk (and
    /// checked against its pinned sha256) for a path. Errors say what to build or fix.
    pub fn component_bytes(cref: &ComponentRef) -> Result<Vec<u8>> {
        match cref {
            ComponentRef::Builtin(name) => crate::builtin::get(name)
                .map(|b| b.wasm.to_vec())
                .ok_or_else(|| anyhow!("no built-in component \"{name}\"")),
            ComponentRef::Path { path, sha256 } => {
                let bytes = std::fs::read(path).map_err(|e| {
                    anyhow!(
                        "cannot read component {}: {e}; build it first (a Rust stage: cargo build --release --target wasm32-wasip2) or fix `component` in the manifest",
                        path.display()
                    )
                })?;
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

    /// Loads a component: a built-in one from its precompiled form embedded in the binary
    /// (when this engine and CPU can run it), else from the compile cache when present
    /// (keyed by the component's sha256 and the engine's compatibility hash), else compiles
    /// it (calling `compiling` with its size in bytes first) and writes the cache. Each
    /// component is also checked against the host's imports. Errors say what to build or
    /// fix, never dumping bytes: a missing or unpinned file, something that is not
    /// WebAssembly, a core module instead of a component, an invalid component, an import
    /// the host does not provide.
    pub fn load(&self, cref: &ComponentRef, compiling: &dyn Fn(usize)) -> Result<Loaded> {
        let start = Instant::now();
        if let ComponentRef::Builtin(name) = cref
            && let Some(b) = crate::builtin::get(name)
            && !b.precompiled.is_empty()
            // SAFETY: the bytes were made by `Engine::precompile_component` in this
            // binary's own build script (host/build.rs) with the same engine config; they
            // are part of the executable, as trusted as its code. wasmtime refuses them
            // (an error, not UB) when this engine or CPU cannot run them.
            && let Some(component) =
                match unsafe { Component::deserialize(&self.engine, b.precompiled) } {
                    Ok(c) => Some(c),
                    Err(e) => {
                        tracing::debug!(component = %cref, "the embedded precompiled form does not fit this engine or CPU ({e}); compiling instead");
                        None
                    }
                }
        {
            tracing::debug!(component = %cref, ms = ms(start), "loaded: embedded, precompiled");
            return self.checked(
                cref,
                Loaded {
                    component,
                    digest: b.sha256.to_string(),
                    cache: CacheUse::Embedded,
                    load_time: start.elapsed(),
                },
            );
        }
        let bytes = Self::component_bytes(cref)?;
        let digest = hex::encode(Sha256::digest(&bytes));
        let name = format!("{digest}-{}.cwasm", self.engine_key());
        if let Some(cache) = &self.cache
            && let Some(compiled) = cache.get(&name)
            // SAFETY: the bytes carry a MAC under this cache's secret key over the entry's
            // name (the component's digest and the engine's compatibility hash): this host
            // wrote them with `Component::serialize` for this component and engine.
            && let Ok(component) = unsafe { Component::deserialize(&self.engine, &compiled) }
        {
            tracing::debug!(component = %cref, ms = ms(start), "loaded: compile cache hit");
            return self.checked(
                cref,
                Loaded {
                    component,
                    digest,
                    cache: CacheUse::Hit,
                    load_time: start.elapsed(),
                },
            );
        }
        if !wasmparser::Parser::is_component(&bytes) {
            bail!("{}", not_a_component(cref, &bytes));
        }
        compiling(bytes.len());
        let component = Component::new(&self.engine, &bytes).map_err(|e| {
            anyhow!(
                "{cref} is not a valid component: {}",
                cut(&e.root_cause().to_string(), 300)
            )
        })?;
        let cache_use = match &self.cache {
            None => CacheUse::Off,
            Some(cache) => {
                if let Ok(ser) = component.serialize()
                    && let Err(e) = cache.put(&name, &ser)
                {
                    tracing::debug!(component = %cref, "compile cache not written: {e}");
                    let mut problem = self.cache_problem.lock().unwrap();
                    if problem.is_none() {
                        *problem = Some(cache_unusable(&cache.path, &e));
                    }
                }
                CacheUse::Miss
            }
        };
        tracing::debug!(component = %cref, ms = ms(start), bytes = bytes.len(), cache = ?cache_use, "loaded: compiled");
        self.checked(
            cref,
            Loaded {
                component,
                digest,
                cache: cache_use,
                load_time: start.elapsed(),
            },
        )
    }

    /// `loaded`, once it is an airlock stage this host can run: its imports are all ones
    /// this host provides (wasi 0.2, wasi:http, `airlock:stage/host`), and it exports the
    /// `run` of the `airlock:stage` world with the right type.
    fn checked(&self, cref: &ComponentRef, loaded: Loaded) -> Result<Loaded> {
        let sdk = format!(
            "build it with the airlock-stage SDK and WIT of airlock {}",
            env!("CARGO_PKG_VERSION")
        );
        let pre = self
            .linker
            .instantiate_pre(&loaded.component)
            .map_err(|e| {
                anyhow!(
                    "{cref} imports what this airlock does not provide: {}; {sdk}",
                    cut(&format!("{e:#}"), 400)
                )
            })?;
        bindings::StagePre::new(pre).map_err(|e| {
            anyhow!(
                "{cref} is not an airlock stage (it must export `run` of the airlock:stage world): {}; {sdk}",
                cut(&format!("{e:#}"), 400)
            )
        })?;
        Ok(loaded)
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
        let start = Instant::now();
        let deadline = start + Duration::from_secs(limits.timeout_s);
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
        // Each granted folder is opened now, beneath the project root, one component at a
        // time without following a link: a link an earlier stage planted is refused here,
        // not followed (the manifest's check ran before that stage existed).
        let root = hostfs::open_root(project)
            .with_context(|| format!("stage \"{}\": the project folder", stage.id))?;
        // The granted folders by guest path, for `file-mode`.
        let mut granted: Vec<(String, cap_std::fs::Dir)> = Vec::new();
        for g in &stage.grants.files {
            let dir = if g.access == Access::Write {
                hostfs::create_dir(&root, &g.path)
            } else {
                match root.symlink_metadata(if g.path == "." { "." } else { &g.path }) {
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        events(
                            &stage.id,
                            StageEvent::Log {
                                level: "warn",
                                message: format!(
                                    "granted folder {} does not exist; not mounted",
                                    g.path
                                ),
                            },
                        );
                        continue;
                    }
                    _ => hostfs::open_dir(&root, &g.path),
                }
            }
            .map_err(|e| {
                e.context(format!(
                    "stage \"{}\": granted folder \"{}\" refused: the host opens grants beneath the project without following links",
                    stage.id, g.path
                ))
            })?;
            let perms = if g.access == Access::Write {
                FsPerms::ReadWrite
            } else {
                FsPerms::ReadOnly
            };
            granted.push((guest_path(&g.path), dir.try_clone()?));
            b.preopened_dir(
                hostfs::fd_path(&dir, &project.join(&g.path)),
                guest_path(&g.path),
                perms,
            )
            .map_err(|e| {
                anyhow::Error::from(e).context(format!(
                    "stage \"{}\": cannot open granted folder \"{}\"",
                    stage.id, g.path
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
            in_flight: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
        };
        let mut table = ResourceTable::new();
        table.set_max_capacity(bounds::RESOURCES);
        let mut http = WasiHttpCtx::new();
        http.set_field_size_limit(bounds::HTTP_FIELDS_BYTES);
        let log = Arc::new(Mutex::new(LogGate {
            left: (limits.log_kib as usize) << 10,
            dropped: false,
        }));
        let stored = Arc::new(Mutex::new(Vec::new()));
        let state = StageState {
            wasi: b.build(),
            http,
            table,
            hooks,
            limiter: StageLimiter {
                max_bytes: (limits.memory_mib as usize) << 20,
                used: 0,
            },
            stage_id: stage.id.clone(),
            produce: stage.grants.produce.clone(),
            secrets: secrets.clone(),
            events: events.clone(),
            log: log.clone(),
            last_progress: None,
            stored: stored.clone(),
            granted,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limiter);
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
        let call = async {
            let instance =
                StageWorld::instantiate_async(&mut store, &loaded.component, &self.linker).await?;
            let instantiate = start.elapsed();
            let result = instance.call_run(&mut store, &request).await?;
            anyhow::Ok((instantiate, result))
        };
        let outcome = tokio::time::timeout_at(deadline.into(), call).await;
        drop(store);
        let elapsed = start.elapsed();
        for pipe in [stdout.contents(), stderr.contents()] {
            let text = String::from_utf8_lossy(&pipe);
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                let message = redact_cut(secrets, line, bounds::LOG_LINE);
                match log.lock().unwrap().admit(message.len()) {
                    Ok(()) => events(
                        &stage.id,
                        StageEvent::Log {
                            level: "info",
                            message,
                        },
                    ),
                    Err(Some(note)) => events(
                        &stage.id,
                        StageEvent::Log {
                            level: "warn",
                            message: note,
                        },
                    ),
                    Err(None) => {}
                }
            }
        }
        let denied = denied.lock().unwrap().clone();
        let timed_out = || {
            StageFailure::limit(
                format!(
                    "stage \"{}\" exceeded its wall-clock limit of {} s",
                    stage.id, limits.timeout_s
                ),
                "raise grants.limits.timeout_s for this stage, or find what it waits on",
            )
        };
        let (instantiate, result) = match outcome {
            Err(_) => return Ok(RunResult::failed(elapsed, denied, timed_out())),
            Ok(Err(trap)) => {
                let text = format!("{trap:?}");
                let interrupted = matches!(
                    trap.downcast_ref::<wasmtime::Trap>(),
                    Some(wasmtime::Trap::Interrupt)
                );
                let f = if interrupted {
                    timed_out()
                } else if text.contains("forcing trap when growing memory")
                    || text.contains("memory limit")
                    || text.contains("resource limit exceeded")
                {
                    StageFailure::limit(
                        format!(
                            "stage \"{}\" exceeded its memory limit of {} MiB: {}",
                            stage.id,
                            limits.memory_mib,
                            redact_cut(
                                secrets,
                                &trap.root_cause().to_string(),
                                bounds::FAILURE_MESSAGE
                            )
                        ),
                        "raise grants.limits.memory_mib for this stage",
                    )
                } else {
                    StageFailure {
                        category: "internal".into(),
                        message: format!(
                            "stage \"{}\" trapped: {}",
                            stage.id,
                            redact_cut(
                                secrets,
                                &trap.root_cause().to_string(),
                                bounds::FAILURE_MESSAGE
                            )
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
        let stored = stored.lock().unwrap().clone();
        let mut declared = Vec::new();
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
                } else if resp.artifacts.len() > bounds::ARTIFACTS {
                    Err(StageFailure::limit(
                        format!(
                            "stage \"{}\" declared {} artifacts, over the limit of {}",
                            stage.id,
                            resp.artifacts.len(),
                            bounds::ARTIFACTS
                        ),
                        "hand on fewer files (e.g. one archive)",
                    ))
                } else if secrets.leaks(&stored, &resp.output)
                    || resp
                        .artifacts
                        .iter()
                        .any(|a| secrets.leaks(&stored, &a.path))
                {
                    Err(StageFailure::limit(
                        format!(
                            "stage \"{}\" put a secret it stored ({}) in its output: a stage hands a secret to the host with store-secret only, never to other stages",
                            stage.id,
                            stored
                                .iter()
                                .map(|n| format!("\"{n}\""))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        "remove the secret from the stage's output",
                    ))
                } else {
                    match serde_json::from_str::<serde_json::Value>(&resp.output) {
                        Ok(v) => {
                            declared = resp
                                .artifacts
                                .into_iter()
                                .map(|a| {
                                    crate::state::Declared(crate::state::Artifact {
                                        path: secrets.redact(&a.path).into_owned(),
                                        sha256: a.sha256,
                                        size: a.size,
                                    })
                                })
                                .collect();
                            Ok(secrets.redact_json(&v))
                        }
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
                    message: redact_cut(secrets, &e.message, bounds::FAILURE_MESSAGE),
                    retryable: e.retryable,
                    hint: e
                        .hint
                        .map(|h| redact_cut(secrets, &h, bounds::FAILURE_HINT)),
                };
                if !denied.is_empty() {
                    // The host's own record decides: the stage failed after the sandbox
                    // refused a request, whatever the guest made of the refusal.
                    let mut urls = denied.clone();
                    urls.sort();
                    urls.dedup();
                    let n = urls.len();
                    urls.truncate(5);
                    f.category = "capability".into();
                    f.retryable = false;
                    f.message = format!(
                        "{} (the sandbox refused wasi:http/outgoing-handler requests to: {}{})",
                        f.message,
                        urls.join(", "),
                        if n > 5 {
                            format!(" and {} more", n - 5)
                        } else {
                            String::new()
                        }
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
            artifacts: declared,
            deadline,
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
    /// URLs the sandbox refused (redacted, without query).
    pub denied: Vec<String>,
    /// The artifacts the stage declared in its WIT response (not yet checked: see
    /// [`crate::state::collect_artifacts`]).
    pub artifacts: Vec<crate::state::Declared>,
    /// When the stage's time limit runs out: host work on its behalf (hashing and copying
    /// its artifacts) stops then too.
    pub deadline: Instant,
}

impl RunResult {
    /// A run that failed before or while running, with `f`.
    pub fn failed(elapsed: Duration, denied: Vec<String>, f: StageFailure) -> Self {
        RunResult {
            outcome: Err(f),
            elapsed,
            instantiate: None,
            denied,
            artifacts: vec![],
            deadline: Instant::now(),
        }
    }
}

/// The per-stage store data.
struct StageState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    hooks: HttpPolicy,
    limiter: StageLimiter,
    stage_id: String,
    produce: Vec<String>,
    secrets: Secrets,
    events: EventSink,
    log: Arc<Mutex<LogGate>>,
    last_progress: Option<Instant>,
    /// Names of the secrets this run of the stage stored (its output may not carry them).
    stored: Arc<Mutex<Vec<String>>>,
    /// The stage's file grants: (guest path, the folder opened beneath the project).
    granted: Vec<(String, cap_std::fs::Dir)>,
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

/// `st_mode & 0o7777` of `meta`.
fn mode_bits(meta: &cap_std::fs::Metadata) -> u32 {
    use cap_std::fs::PermissionsExt as _;
    meta.permissions().mode() & 0o7777
}

impl bindings::airlock::stage::host::Host for StageState {
    fn log(&mut self, level: Level, message: String) {
        let level = match level {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        };
        let message = redact_cut(&self.secrets, &message, bounds::LOG_LINE);
        let admitted = self.log.lock().unwrap().admit(message.len());
        match admitted {
            Ok(()) => (self.events)(&self.stage_id, StageEvent::Log { level, message }),
            Err(Some(note)) => (self.events)(
                &self.stage_id,
                StageEvent::Log {
                    level: "warn",
                    message: note,
                },
            ),
            Err(None) => {}
        }
    }

    fn progress(&mut self, done: u64, total: Option<u64>, message: String) {
        let now = Instant::now();
        let finished = total.is_some_and(|t| done >= t);
        let due = self.last_progress.is_none_or(|t| {
            now.duration_since(t) >= Duration::from_millis(bounds::PROGRESS_INTERVAL_MS)
        });
        if !finished && !due {
            return;
        }
        self.last_progress = Some(now);
        (self.events)(
            &self.stage_id,
            StageEvent::Progress {
                done,
                total,
                message: redact_cut(&self.secrets, &message, bounds::PROGRESS_MESSAGE),
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
        self.secrets
            .insert(&name, &value)
            .map_err(|e| format!("stage \"{}\": {e}", self.stage_id))?;
        {
            let mut stored = self.stored.lock().unwrap();
            if !stored.contains(&name) {
                stored.push(name);
            }
        }
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
        self.secrets
            .insert_until(&name, &value, lifetime)
            .map_err(|e| format!("stage \"{}\": {e}", self.stage_id))
    }

    fn revoke_secret_at(&mut self, name: String, url: String) -> Result<(), String> {
        if !self.produce.contains(&name) {
            return Err(format!(
                "stage \"{}\" may not revoke secret \"{}\": it is not in grants.secrets.produce",
                self.stage_id,
                cut(&name, 64)
            ));
        }
        if url.len() > bounds::URL {
            return Err(format!("the revocation URL is over {} bytes", bounds::URL));
        }
        let origin = Origin::of_url(&url)
            .map_err(|e| format!("the revocation URL is not an http(s) URL: {e}"))?;
        if !self.hooks.allowed.iter().any(|g| g.covers(&origin)) {
            return Err(format!(
                "the revocation URL's origin {origin} is not in stage \"{}\"'s grants.http",
                self.stage_id
            ));
        }
        self.secrets.revoke_at(&name, &url);
        Ok(())
    }

    fn file_mode(&mut self, path: String) -> Option<u32> {
        // The path is the stage's text: bounded, then resolved against the grants only, one
        // component at a time without following a link.
        if path.len() > bounds::PATH || !path.starts_with('/') {
            return None;
        }
        let (prefix, dir) = self
            .granted
            .iter()
            .filter(|(g, _)| g == "/" || path == *g || path.starts_with(&format!("{g}/")))
            .max_by_key(|(g, _)| g.len())?;
        let rel = path[prefix.len()..].trim_start_matches('/');
        let parts = hostfs::components(rel).ok()?;
        let Some((name, parents)) = parts.split_last() else {
            return dir.dir_metadata().ok().map(|m| mode_bits(&m));
        };
        let at = hostfs::open_dir(dir, &parents.join("/")).ok()?;
        let meta = at.symlink_metadata(name).ok()?;
        (!meta.file_type().is_symlink()).then(|| mode_bits(&meta))
    }

    fn credential_for(&mut self, url: String) -> Option<String> {
        // The URL is the stage's text: bounded before it is parsed.
        if url.len() > bounds::URL {
            return None;
        }
        let origin = Origin::of_url(&url).ok()?;
        if !self.hooks.allowed.iter().any(|g| g.covers(&origin)) {
            return None;
        }
        self.hooks
            .inject
            .iter()
            .filter(|(target, _, _)| target.covers(&origin))
            .map(|(_, secret, _)| secret)
            .find(|secret| self.secrets.get(secret).is_some())
            .cloned()
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
    /// Requests sent and not yet answered ([`bounds::CONCURRENT_REQUESTS`] at most).
    in_flight: Arc<std::sync::atomic::AtomicUsize>,
}

/// Counts one request in flight until dropped.
struct InFlight(Arc<std::sync::atomic::AtomicUsize>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
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
            let shown = redact_cut(
                &self.secrets,
                url.split(['?', '#']).next().unwrap_or(&url),
                512,
            );
            {
                let mut denied = self.denied.lock().unwrap();
                if denied.len() < 64 {
                    denied.push(shown.clone());
                }
            }
            (self.events)(&self.stage, StageEvent::Denied { url: shown });
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        let origin = origin.unwrap();
        use std::sync::atomic::Ordering;
        if self.in_flight.fetch_add(1, Ordering::SeqCst) >= bounds::CONCURRENT_REQUESTS {
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            return Box::new(async {
                Err(wasmtime_wasi_http::Error::InternalError(Some(format!(
                    "more than {} requests in flight at once: the host bounds a stage's concurrent requests",
                    bounds::CONCURRENT_REQUESTS
                ))))
            });
        }
        let guard = InFlight(self.in_flight.clone());
        let injects: Vec<(String, Credential)> = self
            .inject
            .iter()
            .filter(|(target, _, _)| target.covers(&origin))
            .map(|(_, secret, credential)| (secret.clone(), credential.clone()))
            .collect();
        // The origin only: a path or query is the stage's text and may carry anything.
        tracing::debug!(
            stage = %self.stage,
            method = %cut(request.method().as_str(), 32),
            origin = %origin,
            inject = ?injects.iter().map(|(secret, _)| secret.as_str()).collect::<Vec<_>>(),
            "outgoing request"
        );
        let (secrets, renew) = (self.secrets.clone(), self.renew.clone());
        Box::new(async move {
            let _guard = guard;
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
