//! The pipeline manifest: TOML, parsed and validated before anything runs.
//!
//! Shape (see README "Manifest reference"):
//! ```toml
//! [pipeline]
//! name = "demo-release"
//! project = "."            # relative to the manifest's folder
//!
//! [[stage]]
//! id = "build"
//! component = "builtin:build"          # or { path = "x.wasm", sha256 = "<hex>" }
//! needs = ["decide"]
//! when = "decide.release"              # STAGE.FIELD of an upstream output; "!" negates
//! config = { sdist = true }
//! [stage.grants]
//! files = [{ path = ".", access = "read" }, { path = "dist", access = "write" }]
//! http = ["https://upload.pypi.org", "{config.repository}"]
//! env = ["SOURCE_DATE_EPOCH"]
//! secrets = { produce = [], inject = [{ secret = "pypi-token", into = "{config.repository}", as = "basic:__token__" }] }
//! limits = { memory_mib = 256, timeout_s = 300, output_kib = 1024 }
//! ```
//! Every error names the file, the line and the field, and says what is allowed.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::capabilities::{self, Credential, Origin};

/// A manifest error: where (file, 1-based line when known, field) and what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestError {
    /// The manifest file.
    pub file: PathBuf,
    /// 1-based line of the offending item, when known.
    pub line: Option<usize>,
    /// The field, e.g. `stage "build": grants.files[0].path`.
    pub field: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if self.field.is_empty() {
            write!(f, ": {}", self.message)
        } else {
            write!(f, ": {}: {}", self.field, self.message)
        }
    }
}

impl std::error::Error for ManifestError {}

/// Where a stage's component comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComponentRef {
    /// One of the components embedded in the binary (`builtin:NAME`).
    Builtin(String),
    /// A `.wasm` component file (absolute, resolved against the manifest's folder), with
    /// the sha256 (lowercase hex) it must have when given.
    Path {
        path: PathBuf,
        sha256: Option<String>,
    },
}

impl fmt::Display for ComponentRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ComponentRef::Builtin(n) => write!(f, "builtin:{n}"),
            ComponentRef::Path { path, .. } => write!(f, "{}", path.display()),
        }
    }
}

/// Read-only or read-write access to a granted folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// Read files, list folders.
    Read,
    /// Also create, write and delete. The folder is created if missing.
    Write,
}

/// The manifest's spelling: `read` or `write`.
impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Access::Read => "read",
            Access::Write => "write",
        })
    }
}

/// A granted folder: a wasi:filesystem preopen.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FileGrant {
    /// Project-relative path, normalised ("." for the project itself).
    pub path: String,
    /// Read or write.
    pub access: Access,
}

/// A rule that adds a credential to requests to one origin.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InjectRule {
    /// The secret's name (stored by an upstream stage with `store-secret`).
    pub secret: String,
    /// The origin the credential is added for (may be a `{config.KEY}` template until
    /// [`Manifest::resolve`]).
    pub into: String,
    /// How the credential is written.
    #[serde(rename = "as")]
    pub credential: Credential,
}

/// Per-stage resource limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Maximum linear memory of the component, in MiB (default 512).
    #[serde(default = "default_memory")]
    pub memory_mib: u64,
    /// Wall-clock limit of one run, in seconds (default 300).
    #[serde(default = "default_timeout")]
    pub timeout_s: u64,
    /// Maximum size of the stage's JSON output, in KiB (default 1024).
    #[serde(default = "default_output")]
    pub output_kib: u64,
    /// Maximum size of one artifact the stage hands on (WIT `response.artifacts`), in MiB
    /// (default 1024). The host checks the file's size before it reads a byte of it.
    #[serde(default = "default_artifact")]
    pub artifact_mib: u64,
    /// Maximum volume of the stage's log (host `log` calls plus its stdout and stderr), in
    /// KiB (default 1024); later lines are dropped, with one note that says so.
    #[serde(default = "default_log")]
    pub log_kib: u64,
}

fn default_memory() -> u64 {
    512
}
fn default_timeout() -> u64 {
    300
}
fn default_output() -> u64 {
    1024
}
fn default_artifact() -> u64 {
    1024
}
fn default_log() -> u64 {
    1024
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_mib: default_memory(),
            timeout_s: default_timeout(),
            output_kib: default_output(),
            artifact_mib: default_artifact(),
            log_kib: default_log(),
        }
    }
}

/// Everything a stage may touch. Deny by default: empty grants give nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Grants {
    /// Preopened folders.
    pub files: Vec<FileGrant>,
    /// Allowed HTTP origins (templates resolved by [`Manifest::resolve`]).
    pub http: Vec<String>,
    /// Origins granted over plain http although not loopback (`insecure = true`).
    pub insecure: Vec<String>,
    /// Environment variable names passed in.
    pub env: Vec<String>,
    /// Secret names the stage may store.
    pub produce: Vec<String>,
    /// Credential injection rules.
    pub inject: Vec<InjectRule>,
    /// Resource limits.
    pub limits: Limits,
}

/// When a stage runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct When {
    /// Upstream stage id.
    pub stage: String,
    /// Dotted path into its output, e.g. `release`.
    pub field: String,
    /// Run when the field is false instead.
    pub negate: bool,
}

impl fmt::Display for When {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{}.{}",
            if self.negate { "!" } else { "" },
            self.stage,
            self.field
        )
    }
}

/// One validated `[[stage]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    /// Unique id (`[a-z0-9_-]+`).
    pub id: String,
    /// 1-based line of the `[[stage]]` table.
    pub line: usize,
    /// The component to run.
    pub component: ComponentRef,
    /// Upstream stage ids; their outputs are this stage's inputs.
    pub needs: Vec<String>,
    /// Stages this one starts after (once they settled, whatever their status), without
    /// taking their outputs and without being skipped with them: ordering only, e.g. a
    /// status page written after the build has read the project. With `--only`, a stage
    /// not selected is taken as settled.
    pub after: Vec<String>,
    /// Run condition; none = always.
    pub when: Option<When>,
    /// `when = "failed"`: runs only after another stage failed, after every other stage
    /// settled, with the run's failure report as its input `failure`.
    pub on_failure: bool,
    /// The `config` table as JSON.
    pub config: serde_json::Value,
    /// The grants.
    pub grants: Grants,
}

/// A validated manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// The file it was read from.
    pub file: PathBuf,
    /// `[pipeline].name`.
    pub name: String,
    /// The project root (absolute, canonical).
    pub project: PathBuf,
    /// Monorepo: `[pipeline].projects` patterns (folders or globs); `airlock run` runs one
    /// pipeline per matching project. Empty for a single project.
    pub projects: Vec<String>,
    /// Other project-relative files whose `__version__ = "…"` `airlock version --bump`
    /// rewrites (`[pipeline] version_files`).
    pub version_files: Vec<String>,
    /// Secrets the host loads from its own environment (`[secrets]`), by name.
    pub secrets: Vec<SecretSource>,
    /// The stages in manifest order.
    pub stages: Vec<Stage>,
    /// `[pipeline] outputs = { NAME = "STAGE.FIELD" }`: the values the host publishes as
    /// step outputs (GitHub's `GITHUB_OUTPUT`), each read from one named stage's output.
    /// None: the defaults for the built-ins ([`Manifest::published_outputs`]).
    pub outputs: Option<Vec<OutputMap>>,
}

/// One published value: step output `name` is field `field` (dotted path) of stage
/// `stage`'s output.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OutputMap {
    /// The output's name (`[A-Za-z_][A-Za-z0-9_-]{0,63}`).
    pub name: String,
    /// The stage whose output it is read from.
    pub stage: String,
    /// The field, a dotted path into that output (e.g. `release`, `summary.total`).
    pub field: String,
}

impl Manifest {
    /// The step outputs this run publishes: `[pipeline] outputs` when given, else the
    /// defaults: `release`, `trigger`, `version` from the first stage whose component is
    /// `builtin:decide`, `hashes` from the first `builtin:upload` stage, `grade` from the
    /// first `builtin:status` stage. Never from "whichever
    /// output has the key": another stage cannot forge them.
    pub fn published_outputs(&self) -> Vec<OutputMap> {
        if let Some(o) = &self.outputs {
            return o.clone();
        }
        let first = |name: &str| {
            self.stages
                .iter()
                .find(|s| s.component == ComponentRef::Builtin(name.into()))
                .map(|s| s.id.clone())
        };
        let mut out = Vec::new();
        if let Some(d) = first("decide") {
            for f in ["release", "trigger", "version"] {
                out.push(OutputMap {
                    name: f.into(),
                    stage: d.clone(),
                    field: f.into(),
                });
            }
        }
        if let Some(u) = first("upload") {
            out.push(OutputMap {
                name: "hashes".into(),
                stage: u,
                field: "hashes".into(),
            });
        }
        if let Some(s) = first("status") {
            out.push(OutputMap {
                name: "grade".into(),
                stage: s,
                field: "grade".into(),
            });
        }
        out
    }

    /// Refuses grants that would let a stage reach the host's own folders: a write grant
    /// that covers or lies inside the state folder `state`, and any grant that covers or
    /// lies inside the compile cache `cache` (compiled components are native code). Both
    /// paths may be relative to the current folder and need not exist yet. The error names
    /// the stage, the grant and the folder.
    pub fn check_host_folders(
        &self,
        state: &Path,
        cache: Option<&Path>,
    ) -> Result<(), ManifestError> {
        let rel = |p: &Path| -> Option<String> {
            let abs = resolve_existing(p);
            abs.strip_prefix(&self.project).ok().map(|r| {
                let s = r.to_string_lossy().replace('\\', "/");
                if s.is_empty() { ".".to_string() } else { s }
            })
        };
        let mut reserved: Vec<(String, &str, bool)> = Vec::new();
        if let Some(r) = rel(state) {
            reserved.push((r, "the state folder", false));
        }
        if let Some(r) = cache.and_then(rel) {
            reserved.push((r, "the compile cache", true));
        }
        for st in &self.stages {
            for (i, g) in st.grants.files.iter().enumerate() {
                for (folder, what, any_access) in &reserved {
                    if (g.access == Access::Write || *any_access) && paths_overlap(&g.path, folder)
                    {
                        return Err(ManifestError {
                            file: self.file.clone(),
                            line: Some(st.line),
                            field: format!("stage \"{}\": grants.files[{i}].path", st.id),
                            message: format!(
                                "\"{}\" ({}) overlaps {what} ({folder}): a stage may not {} the host's own folders; grant a folder beside it, or move {what} (--state DIR, --cache-dir DIR)",
                                g.path,
                                if g.access == Access::Write {
                                    "write"
                                } else {
                                    "read"
                                },
                                if *any_access {
                                    "read or write"
                                } else {
                                    "write"
                                }
                            ),
                        });
                    }
                }
            }
        }
        Ok(())
    }
}

/// `p` made absolute with its deepest existing ancestor canonicalised (symlinks resolved)
/// and the rest appended as written.
fn resolve_existing(p: &Path) -> PathBuf {
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(p)
    };
    let mut base = abs.clone();
    let mut rest: Vec<std::ffi::OsString> = Vec::new();
    loop {
        if let Ok(c) = base.canonicalize() {
            let mut out = c;
            for r in rest.iter().rev() {
                out.push(r);
            }
            return out;
        }
        match (base.file_name().map(|f| f.to_os_string()), base.parent()) {
            (Some(f), Some(parent)) => {
                rest.push(f);
                base = parent.to_path_buf();
            }
            _ => return abs,
        }
    }
}

/// Whether two normalised project-relative paths ("." for the root) are the same folder or
/// one lies inside the other.
pub fn paths_overlap(a: &str, b: &str) -> bool {
    let inside = |x: &str, y: &str| y == "." || x == y || x.starts_with(&format!("{y}/"));
    inside(a, b) || inside(b, a)
}

/// A secret the host reads from its environment at start (`[secrets] NAME = { env = "VAR" }`),
/// e.g. GitHub's `ACTIONS_ID_TOKEN_REQUEST_TOKEN`. No stage ever sees it: it is only
/// injected by `inject` rules, and redacted everywhere like a stored secret.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SecretSource {
    /// The secret's name, as inject rules refer to it.
    pub name: String,
    /// The environment variable holding it.
    pub env: String,
}

// ---- raw TOML shapes -------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    pipeline: RawPipeline,
    #[serde(default)]
    secrets: BTreeMap<String, Spanned<RawSecretSource>>,
    #[serde(default, rename = "stage")]
    stages: Vec<Spanned<RawStage>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSecretSource {
    env: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPipeline {
    name: String,
    #[serde(default = "dot")]
    project: String,
    #[serde(default)]
    projects: Vec<String>,
    #[serde(default)]
    version_files: Vec<String>,
    #[serde(default)]
    outputs: Option<Spanned<BTreeMap<String, String>>>,
}

fn dot() -> String {
    ".".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStage {
    id: Spanned<String>,
    component: Spanned<RawComponent>,
    #[serde(default)]
    needs: Vec<Spanned<String>>,
    #[serde(default)]
    after: Vec<Spanned<String>>,
    when: Option<Spanned<String>>,
    #[serde(default)]
    config: toml::Table,
    #[serde(default)]
    grants: RawGrants,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawComponent {
    Name(String),
    Path {
        path: String,
        sha256: Option<String>,
    },
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawGrants {
    #[serde(default)]
    files: Vec<Spanned<RawFile>>,
    #[serde(default)]
    http: Vec<Spanned<RawHttp>>,
    #[serde(default)]
    env: Vec<Spanned<String>>,
    #[serde(default)]
    secrets: RawSecrets,
    #[serde(default)]
    limits: Option<Spanned<Limits>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    path: String,
    access: Access,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawHttp {
    Origin(String),
    Detailed {
        origin: String,
        #[serde(default)]
        insecure: bool,
    },
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSecrets {
    #[serde(default)]
    produce: Vec<Spanned<String>>,
    #[serde(default)]
    inject: Vec<Spanned<RawInject>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInject {
    secret: String,
    into: String,
    #[serde(rename = "as")]
    credential: String,
}

// ---- parsing ---------------------------------------------------------------------------

struct Ctx<'a> {
    file: &'a Path,
    source: &'a str,
}

impl Ctx<'_> {
    fn line(&self, offset: usize) -> usize {
        self.source[..offset.min(self.source.len())]
            .matches('\n')
            .count()
            + 1
    }
    fn err(
        &self,
        offset: usize,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> ManifestError {
        ManifestError {
            file: self.file.to_path_buf(),
            line: Some(self.line(offset)),
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Reads and validates `file`. `project_override` (from `--project`) replaces
/// `[pipeline].project`. Errors: unreadable file, TOML syntax, unknown or mistyped fields,
/// duplicate ids, unknown or cyclic `needs`, a `when` on a stage not needed, a file grant
/// that escapes the project, an invalid origin, plain http to a non-loopback host without
/// `insecure = true`, an inject rule for an origin not granted or a secret nobody upstream
/// produces, a `builtin:NAME` component whose NAME is not in `builtins` (the names of the
/// components built into the host, e.g. `["detect", "decide", …]`).
pub fn load(
    file: &Path,
    project_override: Option<&Path>,
    builtins: &[&str],
) -> Result<Manifest, ManifestError> {
    let source = std::fs::read_to_string(file).map_err(|e| ManifestError {
        file: file.to_path_buf(),
        line: None,
        field: String::new(),
        message: format!("cannot read the manifest: {e}"),
    })?;
    parse(file, &source, project_override, builtins)
}

/// Parses and validates manifest `source` (read from `file`). See [`load`].
pub fn parse(
    file: &Path,
    source: &str,
    project_override: Option<&Path>,
    builtins: &[&str],
) -> Result<Manifest, ManifestError> {
    let ctx = Ctx { file, source };
    let raw: RawManifest = toml::from_str(source).map_err(|e| {
        let offset = e.span().map(|s| s.start).unwrap_or(0);
        let mut message = e.message().trim().to_string();
        if message.contains("unknown field") {
            message.push_str(" (see the manifest reference in README.md)");
        }
        ctx.err(offset, "", message)
    })?;

    let base = file.parent().map(Path::to_path_buf).unwrap_or_default();
    let base = if base.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        base
    };
    let project = match project_override {
        Some(p) => p.to_path_buf(),
        None => base.join(&raw.pipeline.project),
    };
    let project = project.canonicalize().map_err(|e| ManifestError {
        file: file.to_path_buf(),
        line: Some(ctx.line(source.find("project").unwrap_or(0))),
        field: "pipeline.project".into(),
        message: format!("project folder {} cannot be opened: {e}", project.display()),
    })?;

    let mut stages: Vec<Stage> = Vec::new();
    let mut ids = BTreeSet::new();
    for spanned in &raw.stages {
        let start = spanned.span().start;
        let rs = spanned.get_ref();
        let id = rs.id.get_ref().clone();
        let at = |field: &str| format!("stage \"{id}\": {field}");
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        {
            return Err(ctx.err(
                rs.id.span().start,
                "id",
                format!(
                    "\"{id}\" is not a valid stage id: use lowercase letters, digits, '-' and '_'"
                ),
            ));
        }
        if !ids.insert(id.clone()) {
            return Err(ctx.err(
                rs.id.span().start,
                "id",
                format!("duplicate stage id \"{id}\": ids must be unique"),
            ));
        }
        let component = match rs.component.get_ref() {
            RawComponent::Name(n) => match n.strip_prefix("builtin:") {
                Some(name) if builtins.contains(&name) => ComponentRef::Builtin(name.to_string()),
                _ => {
                    return Err(ctx.err(
                        rs.component.span().start,
                        at("component"),
                        format!(
                            "\"{n}\" is not a component: use one of {} or {{ path = \"stage.wasm\", sha256 = \"…\" }}",
                            {
                                let mut names: Vec<&str> = builtins.to_vec();
                                names.sort_unstable();
                                names.iter().map(|n| format!("\"builtin:{n}\"")).collect::<Vec<_>>().join(", ")
                            }
                        ),
                    ))
                }
            },
            RawComponent::Path { path, sha256 } => {
                if let Some(d) = sha256
                    && (d.len() != 64 || !d.chars().all(|c| c.is_ascii_hexdigit())) {
                        return Err(ctx.err(rs.component.span().start, at("component.sha256"), "must be 64 hex digits (the sha256 of the .wasm file)"));
                    }
                ComponentRef::Path { path: base.join(path), sha256: sha256.as_ref().map(|s| s.to_ascii_lowercase()) }
            }
        };
        let config = toml_to_json(toml::Value::Table(rs.config.clone()));
        let grants = parse_grants(&ctx, &project, &id, &rs.grants)?;
        stages.push(Stage {
            id: id.clone(),
            line: ctx.line(start),
            component,
            needs: rs.needs.iter().map(|n| n.get_ref().clone()).collect(),
            after: rs.after.iter().map(|n| n.get_ref().clone()).collect(),
            when: None,
            on_failure: false,
            config,
            grants,
        });
    }
    if stages.is_empty() {
        return Err(ManifestError {
            file: file.to_path_buf(),
            line: None,
            field: "stage".into(),
            message: "the manifest has no [[stage]]: add at least one".into(),
        });
    }

    // needs, when, acyclicity
    for (i, spanned) in raw.stages.iter().enumerate() {
        let rs = spanned.get_ref();
        let id = &stages[i].id;
        for (key, n) in rs
            .needs
            .iter()
            .map(|n| ("needs", n))
            .chain(rs.after.iter().map(|n| ("after", n)))
        {
            if !ids.contains(n.get_ref()) {
                return Err(ctx.err(
                    n.span().start,
                    format!("stage \"{id}\": {key}"),
                    format!(
                        "unknown stage \"{}\": needs lists ids of other stages ({})",
                        n.get_ref(),
                        ids.iter().cloned().collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
            if n.get_ref() == id {
                return Err(ctx.err(
                    n.span().start,
                    format!("stage \"{id}\": {key}"),
                    "a stage cannot be ordered after itself",
                ));
            }
        }
        if let Some(w) = rs.when.as_ref().filter(|w| w.get_ref().trim() == "failed") {
            if !stages[i].needs.is_empty() || !stages[i].after.is_empty() {
                return Err(ctx.err(w.span().start, format!("stage \"{id}\": when"), "a stage with when = \"failed\" runs after every other stage, with the failure report as its input: remove its needs"));
            }
            stages[i].on_failure = true;
        } else if let Some(w) = &rs.when {
            let text = w.get_ref().trim();
            let (negate, rest) = match text.strip_prefix('!') {
                Some(r) => (true, r.trim()),
                None => (false, text),
            };
            let Some((stage, field)) = rest.split_once('.') else {
                return Err(ctx.err(w.span().start, format!("stage \"{id}\": when"), format!("\"{text}\" is not a condition: write STAGE.FIELD (e.g. \"decide.release\"), optionally prefixed with '!'")));
            };
            if !stages[i].needs.iter().any(|n| n == stage) {
                return Err(ctx.err(w.span().start, format!("stage \"{id}\": when"), format!("the condition reads stage \"{stage}\", which is not in this stage's needs: add it to needs")));
            }
            stages[i].when = Some(When {
                stage: stage.to_string(),
                field: field.to_string(),
                negate,
            });
        }
    }
    for (i, spanned) in raw.stages.iter().enumerate() {
        for n in spanned
            .get_ref()
            .needs
            .iter()
            .chain(&spanned.get_ref().after)
        {
            if stages.iter().any(|s| s.on_failure && &s.id == n.get_ref()) {
                return Err(ctx.err(n.span().start, format!("stage \"{}\": needs", stages[i].id), format!("\"{}\" runs only after a failure (when = \"failed\"): no stage can need it", n.get_ref())));
            }
        }
    }
    if let Some(cycle) = find_cycle(&stages) {
        let s = stages.iter().find(|s| s.id == cycle[0]).unwrap();
        return Err(ManifestError {
            file: file.to_path_buf(),
            line: Some(s.line),
            field: format!("stage \"{}\": needs", s.id),
            message: format!("the needs form a cycle: {}", cycle.join(" -> ")),
        });
    }

    // Secrets injected must be produced upstream.
    for (i, spanned) in raw.stages.iter().enumerate() {
        let st = &stages[i];
        let upstream = ancestors(&stages, &st.id);
        for (k, rule) in st.grants.inject.iter().enumerate() {
            let producers: Vec<&str> = stages
                .iter()
                .filter(|s| upstream.contains(&s.id) && s.grants.produce.contains(&rule.secret))
                .map(|s| s.id.as_str())
                .collect();
            if producers.is_empty() && !raw.secrets.contains_key(&rule.secret) {
                let off = spanned
                    .get_ref()
                    .grants
                    .secrets
                    .inject
                    .get(k)
                    .map(|s| s.span().start)
                    .unwrap_or(spanned.span().start);
                return Err(ctx.err(off, format!("stage \"{}\": grants.secrets.inject[{k}].secret", st.id), format!("no upstream stage produces secret \"{}\" and [secrets] does not declare it: list it in the producing stage's grants.secrets.produce and add that stage to needs, or declare [secrets] {} = {{ env = \"VAR\" }}", rule.secret, rule.secret)));
            }
        }
    }

    let mut secrets = Vec::new();
    for (name, src) in &raw.secrets {
        let env = &src.get_ref().env;
        if env.is_empty() || !env.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(ctx.err(
                src.span().start,
                format!("secrets.{name}.env"),
                format!(
                    "\"{env}\" is not an environment variable name: use letters, digits and '_'"
                ),
            ));
        }
        if stages.iter().any(|s| s.grants.produce.contains(name)) {
            return Err(ctx.err(
                src.span().start,
                format!("secrets.{name}"),
                "a secret is either declared in [secrets] or produced by a stage, not both",
            ));
        }
        secrets.push(SecretSource {
            name: name.clone(),
            env: env.clone(),
        });
    }

    check_concurrent_access(file, &stages)?;

    let outputs = match &raw.pipeline.outputs {
        None => None,
        Some(o) => {
            let off = o.span().start;
            let mut out = Vec::new();
            for (name, path) in o.get_ref() {
                let field = format!("pipeline.outputs.{name}");
                let mut chars = name.chars();
                let name_ok = name.len() <= 64
                    && chars
                        .next()
                        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                if !name_ok {
                    return Err(ctx.err(off, field, format!("\"{name}\" is not a step output name: use letters, digits, '_' and '-', starting with a letter or '_' (at most 64)")));
                }
                let Some((stage, f)) = path
                    .split_once('.')
                    .filter(|(s, f)| !s.is_empty() && !f.is_empty())
                else {
                    return Err(ctx.err(
                        off,
                        field,
                        format!("\"{path}\" is not STAGE.FIELD (e.g. \"decide.release\")"),
                    ));
                };
                if !ids.contains(stage) {
                    return Err(ctx.err(off, field, format!("unknown stage \"{stage}\": outputs read fields of this manifest's stages ({})", ids.iter().cloned().collect::<Vec<_>>().join(", "))));
                }
                out.push(OutputMap {
                    name: name.clone(),
                    stage: stage.to_string(),
                    field: f.to_string(),
                });
            }
            Some(out)
        }
    };

    Ok(Manifest {
        file: file.to_path_buf(),
        name: raw.pipeline.name,
        project,
        projects: raw.pipeline.projects,
        version_files: raw.pipeline.version_files,
        secrets,
        stages,
        outputs,
    })
}

/// The project folders a monorepo manifest names: `[pipeline].projects` entries, each a
/// folder or a glob (`packages/*`), relative to the manifest's folder; only folders with a
/// `pyproject.toml` count. Sorted, without duplicates. Errors: a pattern that is not a valid
/// glob, or one that matches nothing.
pub fn expand_projects(file: &Path, patterns: &[String]) -> Result<Vec<PathBuf>, ManifestError> {
    let base = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let err = |message: String| ManifestError {
        file: file.to_path_buf(),
        line: None,
        field: "pipeline.projects".into(),
        message,
    };
    let mut out = BTreeSet::new();
    for pat in patterns {
        let glob = globset::Glob::new(pat)
            .map_err(|e| err(format!("\"{pat}\" is not a glob: {e}")))?
            .compile_matcher();
        // Walk as deep as the pattern has components.
        let depth = Path::new(pat).components().count();
        let mut found = false;
        let mut frontier = vec![(base.to_path_buf(), 0usize)];
        while let Some((dir, d)) = frontier.pop() {
            if d == depth {
                continue;
            }
            let Ok(rd) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in rd.flatten() {
                let p = e.path();
                if !p.is_dir() {
                    continue;
                }
                let rel = p.strip_prefix(base).unwrap_or(&p);
                if glob.is_match(rel) && p.join("pyproject.toml").is_file() {
                    found = true;
                    out.insert(p.canonicalize().unwrap_or(p.clone()));
                }
                frontier.push((p, d + 1));
            }
        }
        if !found {
            return Err(err(format!(
                "\"{pat}\" matches no folder with a pyproject.toml"
            )));
        }
    }
    Ok(out.into_iter().collect())
}

fn parse_grants(
    ctx: &Ctx,
    project: &Path,
    id: &str,
    raw: &RawGrants,
) -> Result<Grants, ManifestError> {
    let at = |field: String| format!("stage \"{id}\": grants.{field}");
    let mut g = Grants {
        limits: raw
            .limits
            .as_ref()
            .map(|l| *l.get_ref())
            .unwrap_or_default(),
        ..Default::default()
    };
    for (i, f) in raw.files.iter().enumerate() {
        let path = capabilities::normalize_grant_path(project, &f.get_ref().path)
            .map_err(|m| ctx.err(f.span().start, at(format!("files[{i}].path")), m))?;
        g.files.push(FileGrant {
            path,
            access: f.get_ref().access,
        });
    }
    for (i, h) in raw.http.iter().enumerate() {
        let (origin, insecure) = match h.get_ref() {
            RawHttp::Origin(o) => (o.clone(), false),
            RawHttp::Detailed { origin, insecure } => (origin.clone(), *insecure),
        };
        if !is_template(&origin) {
            let o = Origin::parse_grant(&origin)
                .map_err(|m| ctx.err(h.span().start, at(format!("http[{i}]")), m))?;
            if !o.secure_enough(insecure) {
                return Err(ctx.err(h.span().start, at(format!("http[{i}]")), format!("plain http to \"{}\" is allowed only for loopback hosts: use https, or write {{ origin = \"{origin}\", insecure = true }}", o.host)));
            }
        }
        if insecure {
            g.insecure.push(origin.clone());
        }
        g.http.push(origin);
    }
    for (i, e) in raw.env.iter().enumerate() {
        let name = e.get_ref();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(ctx.err(
                e.span().start,
                at(format!("env[{i}]")),
                format!(
                    "\"{name}\" is not an environment variable name: use letters, digits and '_'"
                ),
            ));
        }
        g.env.push(name.clone());
    }
    for p in &raw.secrets.produce {
        g.produce.push(p.get_ref().clone());
    }
    for (i, r) in raw.secrets.inject.iter().enumerate() {
        let rule = r.get_ref();
        let credential = Credential::parse(&rule.credential)
            .map_err(|m| ctx.err(r.span().start, at(format!("secrets.inject[{i}].as")), m))?;
        if !is_template(&rule.into) {
            Origin::parse_grant(&rule.into)
                .map_err(|m| ctx.err(r.span().start, at(format!("secrets.inject[{i}].into")), m))?;
        }
        if !g.http.iter().any(|h| h == &rule.into) {
            return Err(ctx.err(r.span().start, at(format!("secrets.inject[{i}].into")), format!("\"{}\" is not in this stage's grants.http: a credential can only be injected into a granted origin", rule.into)));
        }
        g.inject.push(InjectRule {
            secret: rule.secret.clone(),
            into: rule.into.clone(),
            credential,
        });
    }
    let l = &g.limits;
    if l.memory_mib == 0
        || l.timeout_s == 0
        || l.output_kib == 0
        || l.artifact_mib == 0
        || l.log_kib == 0
    {
        return Err(ctx.err(
            raw.limits.as_ref().map(|l| l.span().start).unwrap_or(0),
            at("limits".into()),
            "limits must be positive (memory_mib, timeout_s, output_kib, artifact_mib, log_kib)",
        ));
    }
    // Bounds that keep the host's own work bounded (u64 arithmetic never overflows).
    if l.memory_mib > 64 * 1024
        || l.timeout_s > 24 * 3600
        || l.output_kib > 256 * 1024
        || l.artifact_mib > 64 * 1024
        || l.log_kib > 256 * 1024
    {
        return Err(ctx.err(
            raw.limits.as_ref().map(|l| l.span().start).unwrap_or(0),
            at("limits".into()),
            "a limit is too large: memory_mib ≤ 65536, timeout_s ≤ 86400, output_kib ≤ 262144, artifact_mib ≤ 65536, log_kib ≤ 262144",
        ));
    }
    Ok(g)
}

/// Two stages whose file grants overlap, one of them writing, must not run at the same
/// time: one must need the other (directly or not). Stages with `when = "failed"` run after
/// every other stage, so they are ordered after all of them (but not among themselves).
fn check_concurrent_access(file: &Path, stages: &[Stage]) -> Result<(), ManifestError> {
    // Ordering through needs and after, transitively.
    let by_id: BTreeMap<&str, &Stage> = stages.iter().map(|s| (s.id.as_str(), s)).collect();
    let before = |id: &str| -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut todo = vec![id.to_string()];
        while let Some(x) = todo.pop() {
            for n in by_id[x.as_str()]
                .needs
                .iter()
                .chain(&by_id[x.as_str()].after)
            {
                if out.insert(n.clone()) {
                    todo.push(n.clone());
                }
            }
        }
        out
    };
    let anc: BTreeMap<&str, BTreeSet<String>> = stages
        .iter()
        .map(|s| (s.id.as_str(), before(&s.id)))
        .collect();
    for (i, a) in stages.iter().enumerate() {
        for b in &stages[..i] {
            let ordered = anc[a.id.as_str()].contains(&b.id)
                || anc[b.id.as_str()].contains(&a.id)
                || a.on_failure != b.on_failure;
            if ordered {
                continue;
            }
            for (k, ga) in a.grants.files.iter().enumerate() {
                for gb in &b.grants.files {
                    let writes = ga.access == Access::Write || gb.access == Access::Write;
                    if writes && paths_overlap(&ga.path, &gb.path) {
                        let verb = |g: &FileGrant| {
                            if g.access == Access::Write {
                                "writes"
                            } else {
                                "reads"
                            }
                        };
                        return Err(ManifestError {
                            file: file.to_path_buf(),
                            line: Some(a.line),
                            field: format!("stage \"{}\": grants.files[{k}].path", a.id),
                            message: format!(
                                "stage \"{}\" {} \"{}\" while stage \"{}\" {} \"{}\", and nothing orders them, so they could run at the same time: add \"{}\" to the needs (or after) of \"{}\", or the reverse, or grant folders that do not overlap",
                                a.id,
                                verb(ga),
                                ga.path,
                                b.id,
                                verb(gb),
                                gb.path,
                                b.id,
                                a.id
                            ),
                        });
                    }
                }
            }
        }
    }
    Ok(())
}

fn is_template(s: &str) -> bool {
    s.contains("{config.") || s.contains("{env.")
}

/// Converts a TOML value to JSON (datetimes become RFC 3339 strings).
pub fn toml_to_json(v: toml::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        toml::Value::String(s) => J::String(s),
        toml::Value::Integer(i) => J::from(i),
        toml::Value::Float(f) => serde_json::Number::from_f64(f)
            .map(J::Number)
            .unwrap_or(J::Null),
        toml::Value::Boolean(b) => J::Bool(b),
        toml::Value::Datetime(d) => J::String(d.to_string()),
        toml::Value::Array(a) => J::Array(a.into_iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => {
            J::Object(t.into_iter().map(|(k, v)| (k, toml_to_json(v))).collect())
        }
    }
}

/// The stages `id` depends on, transitively.
pub fn ancestors(stages: &[Stage], id: &str) -> BTreeSet<String> {
    let by_id: BTreeMap<&str, &Stage> = stages.iter().map(|s| (s.id.as_str(), s)).collect();
    let mut out = BTreeSet::new();
    let mut todo: Vec<&str> = by_id
        .get(id)
        .map(|s| s.needs.iter().map(String::as_str).collect())
        .unwrap_or_default();
    while let Some(n) = todo.pop() {
        if out.insert(n.to_string())
            && let Some(s) = by_id.get(n)
        {
            todo.extend(s.needs.iter().map(String::as_str));
        }
    }
    out
}

fn find_cycle(stages: &[Stage]) -> Option<Vec<String>> {
    fn visit<'a>(
        id: &'a str,
        by_id: &BTreeMap<&'a str, &'a Stage>,
        state: &mut BTreeMap<&'a str, u8>,
        path: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        match state.get(id) {
            Some(2) => return None,
            Some(1) => {
                let start = path.iter().position(|p| *p == id).unwrap_or(0);
                let mut cycle: Vec<String> = path[start..].iter().map(|s| s.to_string()).collect();
                cycle.push(id.to_string());
                return Some(cycle);
            }
            _ => {}
        }
        state.insert(id, 1);
        path.push(id);
        for n in by_id[id].needs.iter().chain(&by_id[id].after) {
            if let Some(c) = visit(n, by_id, state, path) {
                return Some(c);
            }
        }
        path.pop();
        state.insert(id, 2);
        None
    }
    let by_id: BTreeMap<&str, &Stage> = stages.iter().map(|s| (s.id.as_str(), s)).collect();
    let mut state = BTreeMap::new();
    for s in stages {
        if let Some(c) = visit(&s.id, &by_id, &mut state, &mut Vec::new()) {
            return Some(c);
        }
    }
    None
}

impl Manifest {
    /// Applies `--set STAGE.KEY=VALUE` overrides. VALUE is read as a TOML value when it
    /// parses as one (`true`, `3`, `"x"`, `[1, 2]`), else as a string. KEY may be dotted
    /// (`a.b`) to reach into a nested table. Errors name the unknown stage or malformed
    /// override.
    pub fn apply_set(&mut self, set: &str) -> Result<(), String> {
        let (lhs, value) = set
            .split_once('=')
            .ok_or_else(|| format!("--set {set}: expected STAGE.KEY=VALUE"))?;
        let (stage_id, key) = lhs.split_once('.').ok_or_else(|| {
            format!("--set {set}: expected STAGE.KEY=VALUE (e.g. upload.repository=https://…)")
        })?;
        let stage = self
            .stages
            .iter_mut()
            .find(|s| s.id == stage_id)
            .ok_or_else(|| format!("--set {set}: no stage \"{stage_id}\" in the manifest"))?;
        let parsed = toml::from_str::<toml::Table>(&format!("v = {value}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .map(toml_to_json)
            .unwrap_or_else(|| serde_json::Value::String(value.to_string()));
        if !stage.config.is_object() {
            stage.config = serde_json::json!({});
        }
        let mut cur = &mut stage.config;
        let parts: Vec<&str> = key.split('.').collect();
        for (i, part) in parts.iter().enumerate() {
            let obj = cur
                .as_object_mut()
                .ok_or_else(|| format!("--set {set}: {} is not a table", parts[..i].join(".")))?;
            if i + 1 == parts.len() {
                obj.insert(part.to_string(), parsed);
                break;
            }
            cur = obj
                .entry(part.to_string())
                .or_insert_with(|| serde_json::json!({}));
        }
        Ok(())
    }

    /// Resolves templates in http grants and inject rules: `{config.KEY}` is replaced by the
    /// stage's (final) config value, `{env.NAME}` by the host's environment variable (e.g.
    /// `{env.ACTIONS_ID_TOKEN_REQUEST_URL}`); the result is reduced to its origin. A `file:`
    /// URL, or an unset variable, grants no origin. Errors: a missing or non-string
    /// key, an invalid resulting origin, or plain http to a non-loopback host.
    pub fn resolve(&mut self) -> Result<(), ManifestError> {
        for st in &mut self.stages {
            let cfg = st.config.clone();
            let expand = |s: &str| -> Result<Option<String>, String> {
                if !is_template(s) {
                    return Ok(Some(s.to_string()));
                }
                let mut out = String::new();
                let mut rest = s;
                while let Some(start) = rest.find('{') {
                    out.push_str(&rest[..start]);
                    let end = rest[start..]
                        .find('}')
                        .ok_or_else(|| format!("unclosed template in \"{s}\""))?
                        + start;
                    let key = &rest[start + 1..end];
                    if let Some(var) = key.strip_prefix("env.") {
                        // An unset variable grants nothing (deny by default).
                        match std::env::var(var) {
                            Ok(v) if !v.is_empty() => out.push_str(&v),
                            _ => return Ok(None),
                        }
                    } else if let Some(key) = key.strip_prefix("config.") {
                        let mut v = &cfg;
                        for part in key.split('.') {
                            v = v.get(part).ok_or_else(|| {
                                format!("\"{s}\" names config.{key}, which this stage's config does not set")
                            })?;
                        }
                        let v = v.as_str().ok_or_else(|| {
                            format!("config.{key} must be a string (a URL) to be used in \"{s}\"")
                        })?;
                        out.push_str(v);
                    } else {
                        return Err(format!(
                            "\"{s}\": templates are {{config.KEY}} or {{env.NAME}}"
                        ));
                    }
                    rest = &rest[end + 1..];
                }
                out.push_str(rest);
                if out.starts_with("file:") {
                    return Ok(None);
                }
                Origin::of_url(&out).map(|o| Some(o.to_string()))
            };
            let err = |field: String, message: String| ManifestError {
                file: self.file.clone(),
                line: Some(st.line),
                field: format!("stage \"{}\": {field}", st.id),
                message,
            };
            let mut http = Vec::new();
            let mut insecure = Vec::new();
            for (i, h) in st.grants.http.iter().enumerate() {
                let is_insecure = st.grants.insecure.contains(h);
                if let Some(o) = expand(h).map_err(|m| err(format!("grants.http[{i}]"), m))? {
                    let origin =
                        Origin::parse_grant(&o).map_err(|m| err(format!("grants.http[{i}]"), m))?;
                    if !origin.secure_enough(is_insecure) {
                        return Err(err(
                            format!("grants.http[{i}]"),
                            format!(
                                "plain http to \"{}\" is allowed only for loopback hosts: use https, or grant {{ origin = \"{o}\", insecure = true }}",
                                origin.host
                            ),
                        ));
                    }
                    if is_insecure {
                        insecure.push(o.clone());
                    }
                    http.push(o);
                }
            }
            let mut inject = Vec::new();
            for (i, r) in st.grants.inject.iter().enumerate() {
                if let Some(o) = expand(&r.into)
                    .map_err(|m| err(format!("grants.secrets.inject[{i}].into"), m))?
                {
                    inject.push(InjectRule {
                        into: o,
                        ..r.clone()
                    });
                }
            }
            st.grants.http = http;
            st.grants.insecure = insecure;
            st.grants.inject = inject;
        }
        Ok(())
    }

    /// The stage with `id`.
    pub fn stage(&self, id: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Manifest, ManifestError> {
        parse(
            Path::new("release.toml"),
            text,
            Some(Path::new(".")),
            BUILTINS,
        )
    }

    /// The host's built-in names, as the host passes them.
    const BUILTINS: &[&str] = &[
        "detect",
        "decide",
        "build",
        "authenticate",
        "upload",
        "status",
        "notify",
    ];

    const OIDC: &str = r#"
[pipeline]
name = "t"
[secrets]
actions-request = { env = "AIRLOCK_TEST_REQUEST_TOKEN" }
[[stage]]
id = "authenticate"
component = "builtin:authenticate"
[stage.grants]
http = ["{env.AIRLOCK_TEST_REQUEST_URL}"]
secrets = { inject = [{ secret = "actions-request", into = "{env.AIRLOCK_TEST_REQUEST_URL}", as = "bearer" }] }
"#;

    #[test]
    fn host_secrets_and_env_templates_resolve_or_grant_nothing() {
        let mut m = parse_str(OIDC).unwrap();
        assert_eq!(
            m.secrets,
            vec![SecretSource {
                name: "actions-request".into(),
                env: "AIRLOCK_TEST_REQUEST_TOKEN".into()
            }]
        );
        // Unset variable: the grant and the rule resolve to nothing (deny by default).
        let mut unset = m.clone();
        unset.resolve().unwrap();
        assert!(unset.stages[0].grants.http.is_empty() && unset.stages[0].grants.inject.is_empty());
        // SAFETY: only this test uses this variable.
        unsafe {
            std::env::set_var(
                "AIRLOCK_TEST_REQUEST_URL",
                "http://127.0.0.1:4567/token?api-version=2",
            )
        };
        m.resolve().unwrap();
        assert_eq!(
            m.stages[0].grants.http,
            vec!["http://127.0.0.1:4567".to_string()]
        );
        assert_eq!(m.stages[0].grants.inject[0].into, "http://127.0.0.1:4567");
    }

    #[test]
    fn an_injected_secret_must_be_declared_or_produced() {
        let text = OIDC.replace(
            "[secrets]\nactions-request = { env = \"AIRLOCK_TEST_REQUEST_TOKEN\" }\n",
            "",
        );
        let e = parse_str(&text).unwrap_err();
        assert!(e.message.contains("[secrets] does not declare it"), "{e}");
        assert_eq!(e.line, Some(9), "{e}");
    }

    #[test]
    fn set_overrides_reach_templates() {
        let fresh = || {
            parse_str(
                r#"
[pipeline]
name = "t"
[[stage]]
id = "upload"
component = "builtin:upload"
config = { repository = "https://upload.pypi.org/legacy/" }
[stage.grants]
http = ["{config.repository}"]
"#,
            )
            .unwrap()
        };
        let mut m = fresh();
        m.apply_set("upload.repository=http://127.0.0.1:8080/")
            .unwrap();
        m.resolve().unwrap();
        assert_eq!(
            m.stages[0].grants.http,
            vec!["http://127.0.0.1:8080".to_string()]
        );
        assert!(
            m.apply_set("nosuch.key=1")
                .unwrap_err()
                .contains("no stage \"nosuch\"")
        );
        let mut m = fresh();
        m.apply_set("upload.repository=http://example.com/")
            .unwrap();
        let e = m.resolve().unwrap_err();
        assert!(e.message.contains("only for loopback"), "{e}");
    }
}
