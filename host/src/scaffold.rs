//! `airlock new-stage NAME [--dir DIR] [--sdk PATH]`: writes a buildable stage crate.
//!
//! The crate, in `DIR/NAME`:
//! - `Cargo.toml`: a `cdylib` depending on `airlock-stage` by path (the SDK of the airlock
//!   checkout this binary was built from, or `--sdk PATH`), `serde` and `serde_json`, with
//!   its own `[workspace]` table so it builds wherever it is (inside another workspace too);
//! - `Cargo.lock`: the airlock checkout's lockfile when there is one, so the stage first
//!   builds with the dependency versions the SDK is tested with (cargo prunes the rest);
//! - `rust-toolchain.toml`: stable with the `wasm32-wasip2` target, so rustup installs it;
//! - `src/lib.rs`: the stage, one function (typed config, a log line, an output) and its
//!   native unit tests (which assert the log through `airlock_stage::host::take_records`);
//! - `tests/component.rs`: an integration test that builds the component, writes a manifest
//!   and runs it with the real host (`AIRLOCK_BIN`; it fails, never skips, when unset);
//! - `stage.toml`: a one-stage pipeline with empty grants, runnable as it is;
//! - `README.md` (the build command: `cargo build --release --target wasm32-wasip2`) and
//!   `.gitignore`.
//!
//! Nothing is overwritten: an existing `DIR/NAME` is refused, and a crate left half written
//! by an I/O error is removed.

use std::fmt;
use std::path::{Path, PathBuf};

/// The SDK of the checkout this binary was built from (not canonicalised; see [`default_sdk`]).
pub const BUILT_FROM_SDK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../crates/stage");

/// The one command that builds a stage component (documented in the generated README).
pub const BUILD_COMMAND: &str = "cargo build --release --target wasm32-wasip2";

/// Rust keywords and the names of the standard crates: a stage may not be called these
/// (the library would be named after it).
const RESERVED: &[&str] = &[
    "as",
    "async",
    "await",
    "box",
    "break",
    "const",
    "continue",
    "crate",
    "do",
    "dyn",
    "else",
    "enum",
    "extern",
    "false",
    "final",
    "fn",
    "for",
    "gen",
    "if",
    "impl",
    "in",
    "let",
    "loop",
    "macro",
    "match",
    "mod",
    "move",
    "mut",
    "override",
    "priv",
    "pub",
    "ref",
    "return",
    "self",
    "static",
    "struct",
    "super",
    "trait",
    "true",
    "try",
    "type",
    "typeof",
    "unsafe",
    "unsized",
    "use",
    "virtual",
    "where",
    "while",
    "yield",
    "abstract",
    "become",
    "std",
    "core",
    "alloc",
    "test",
    "proc-macro",
];

/// Why `new-stage` refused or failed.
#[derive(Debug)]
pub enum ScaffoldError {
    /// NAME is not a valid stage name; `reason` says what is allowed.
    InvalidName {
        /// The name given.
        name: String,
        /// What is wrong and what is allowed.
        reason: String,
    },
    /// `DIR/NAME` already exists; nothing was written.
    Exists(PathBuf),
    /// The SDK folder is missing or is not the `airlock-stage` crate.
    Sdk {
        /// The folder that was tried.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Creating a folder or writing a file failed (the partial crate was removed).
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

impl ScaffoldError {
    /// True for errors in what the user asked (exit code 2), false for I/O failures.
    pub fn is_usage(&self) -> bool {
        !matches!(self, ScaffoldError::Io { .. })
    }
}

impl fmt::Display for ScaffoldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScaffoldError::InvalidName { name, reason } => {
                write!(f, "\"{name}\" is not a valid stage name: {reason}")
            }
            ScaffoldError::Exists(p) => write!(
                f,
                "{} already exists: new-stage never overwrites; pick another NAME or --dir",
                p.display()
            ),
            ScaffoldError::Sdk { path, reason } => write!(
                f,
                "the airlock-stage SDK at {}: {reason}; pass --sdk PATH (an airlock checkout's crates/stage)",
                path.display()
            ),
            ScaffoldError::Io { path, source } => write!(f, "{}: {source}", path.display()),
        }
    }
}

impl std::error::Error for ScaffoldError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ScaffoldError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// What `new-stage` was asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    /// The stage name: the crate's name and the stage id in `stage.toml`.
    pub name: String,
    /// The folder the crate goes into (as `DIR/NAME`).
    pub dir: PathBuf,
    /// The `airlock-stage` crate to depend on; `None` for [`default_sdk`].
    pub sdk: Option<PathBuf>,
}

/// What `new-stage` wrote.
#[derive(Debug, Clone)]
pub struct Created {
    /// The crate's folder, `DIR/NAME`.
    pub root: PathBuf,
    /// The files written, relative to `root`, in the order written.
    pub files: Vec<PathBuf>,
    /// The canonical SDK path the crate depends on.
    pub sdk: PathBuf,
    /// The component `cargo build --release --target wasm32-wasip2` produces, relative to
    /// `root` (with cargo's default target folder).
    pub wasm: PathBuf,
}

/// Checks a stage name: lowercase ASCII letters, digits and '-', starting with a letter,
/// not ending with '-', at most 64 characters, and neither a Rust keyword, a standard crate
/// name nor `airlock-stage`. Returns what is wrong otherwise.
pub fn validate_name(name: &str) -> Result<(), String> {
    const ALLOWED: &str =
        "use lowercase letters, digits and '-', starting with a letter (e.g. changelog-check)";
    if name.is_empty() {
        return Err(format!("it is empty; {ALLOWED}"));
    }
    if name.len() > 64 {
        return Err(format!("it is longer than 64 characters; {ALLOWED}"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(format!("{c:?} is not allowed; {ALLOWED}"));
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(format!("it must start with a letter; {ALLOWED}"));
    }
    if name.ends_with('-') || name.contains("--") {
        return Err(format!(
            "'-' must separate words (no trailing or doubled '-'); {ALLOWED}"
        ));
    }
    if RESERVED.contains(&name) || name.replace('-', "_") == "airlock_stage" {
        return Err(format!(
            "it is reserved (a Rust keyword, a standard crate or the SDK's name); {ALLOWED}"
        ));
    }
    Ok(())
}

/// The SDK of the checkout this binary was built from, canonicalised, or the error that
/// says to pass `--sdk` when that checkout is gone.
pub fn default_sdk() -> Result<PathBuf, ScaffoldError> {
    check_sdk(Path::new(BUILT_FROM_SDK))
}

/// Canonicalises `path` and checks it is the `airlock-stage` crate.
pub fn check_sdk(path: &Path) -> Result<PathBuf, ScaffoldError> {
    let err = |reason: String| ScaffoldError::Sdk {
        path: path.to_path_buf(),
        reason,
    };
    let canon = path
        .canonicalize()
        .map_err(|e| err(format!("cannot be read ({e})")))?;
    let manifest = canon.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .map_err(|e| err(format!("has no readable Cargo.toml ({e})")))?;
    let value: toml::Table =
        toml::from_str(&text).map_err(|e| err(format!("Cargo.toml is not TOML ({e})")))?;
    let name = value
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str());
    if name != Some("airlock-stage") {
        return Err(err(format!(
            "Cargo.toml names package {}, not \"airlock-stage\"",
            name.map(|n| format!("\"{n}\""))
                .unwrap_or_else(|| "nothing".into())
        )));
    }
    Ok(canon)
}

/// The lockfile of the SDK's workspace (the nearest `Cargo.lock` above the SDK), if any.
fn sdk_lockfile(sdk: &Path) -> Option<PathBuf> {
    sdk.ancestors()
        .take(4)
        .map(|d| d.join("Cargo.lock"))
        .find(|p| p.is_file())
}

/// A TOML basic string holding `s` (JSON string escapes are valid TOML escapes).
fn toml_str(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
}

/// The generated files for stage `name` depending on the SDK at `sdk`: (relative path,
/// contents). Pure: [`create`] writes them.
pub fn render(name: &str, sdk: &Path) -> Vec<(&'static str, String)> {
    let lib = name.replace('-', "_");
    let fill = |t: &str| {
        t.replace("{{name}}", name)
            .replace("{{lib}}", &lib)
            .replace("{{sdk}}", &toml_str(&sdk.to_string_lossy()))
            .replace("{{build}}", BUILD_COMMAND)
    };
    vec![
        ("Cargo.toml", fill(CARGO_TOML)),
        ("rust-toolchain.toml", fill(TOOLCHAIN)),
        (".gitignore", fill(GITIGNORE)),
        ("src/lib.rs", fill(LIB_RS)),
        ("tests/component.rs", fill(COMPONENT_RS)),
        ("stage.toml", fill(STAGE_TOML)),
        ("README.md", fill(README)),
    ]
}

/// Writes the stage crate `opts.dir/opts.name`. Refuses an invalid name, an existing
/// folder and a missing SDK before writing anything; removes the crate again if a write
/// fails.
pub fn create(opts: &Options) -> Result<Created, ScaffoldError> {
    validate_name(&opts.name).map_err(|reason| ScaffoldError::InvalidName {
        name: opts.name.clone(),
        reason,
    })?;
    let sdk = match &opts.sdk {
        Some(p) => check_sdk(p)?,
        None => default_sdk()?,
    };
    let root = opts.dir.join(&opts.name);
    if root.symlink_metadata().is_ok() {
        return Err(ScaffoldError::Exists(root));
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ScaffoldError::Io { path, source }
    };
    std::fs::create_dir_all(&opts.dir).map_err(io(&opts.dir))?;
    // create_dir (not _all): fails if another process made the folder meanwhile.
    match std::fs::create_dir(&root) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(ScaffoldError::Exists(root));
        }
        Err(e) => return Err(io(&root)(e)),
    }
    let written = write_all(&root, &opts.name, &sdk);
    match written {
        Ok(files) => Ok(Created {
            wasm: PathBuf::from(format!(
                "target/wasm32-wasip2/release/{}.wasm",
                opts.name.replace('-', "_")
            )),
            root,
            files,
            sdk,
        }),
        Err(e) => {
            let _ = std::fs::remove_dir_all(&root);
            Err(e)
        }
    }
}

fn write_all(root: &Path, name: &str, sdk: &Path) -> Result<Vec<PathBuf>, ScaffoldError> {
    let io = |path: PathBuf| move |source| ScaffoldError::Io { path, source };
    let mut files = Vec::new();
    for (rel, text) in render(name, sdk) {
        let path = root.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent.to_path_buf()))?;
        }
        std::fs::write(&path, text).map_err(io(path.clone()))?;
        files.push(PathBuf::from(rel));
    }
    if let Some(lock) = sdk_lockfile(sdk) {
        let path = root.join("Cargo.lock");
        std::fs::copy(&lock, &path).map_err(io(path))?;
        files.push(PathBuf::from("Cargo.lock"));
    }
    Ok(files)
}

const CARGO_TOML: &str = r#"[package]
name = "{{name}}"
description = "The {{name}} airlock stage (a WebAssembly component for wasm32-wasip2)."
version = "0.1.0"
edition = "2024"
publish = false

[lib]
crate-type = ["cdylib"]

[dependencies]
airlock-stage = { path = {{sdk}} }
serde = { version = "1", features = ["derive"] }
serde_json = "1"

# This crate is its own workspace, so it builds wherever it lives.
[workspace]

[profile.release]
strip = "debuginfo"
"#;

const TOOLCHAIN: &str = r#"[toolchain]
channel = "stable"
targets = ["wasm32-wasip2"]
"#;

const GITIGNORE: &str = "/target\n.airlock/\n";

const LIB_RS: &str = r#"//! The `{{name}}` stage: one function, run by the airlock host as a WebAssembly component.
//!
//! Config (the stage's `config` table in the manifest):
//! - `who` (string, default `"world"`): who to greet.
//!
//! Inputs: none (the outputs of the stages in `needs` are in `req.inputs`; read one with
//! `req.input::<T>("id")`).
//!
//! Output: `{ "message": "Hello, <who>!" }`.
//!
//! Errors: a config value of the wrong type, or an unknown key, is a `configuration` error
//! that names the field.

use airlock_stage::{Output, Request, StageError, host};
use serde::{Deserialize, Serialize};

/// The stage's config, decoded from the manifest.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default = "default_who")]
    who: String,
}

fn default_who() -> String {
    "world".to_string()
}

/// The stage's output, serialised as its JSON `output` (what later stages and the report
/// see).
#[derive(Debug, PartialEq, Serialize)]
pub struct Greeting {
    /// `Hello, <who>!`.
    pub message: String,
}

/// A stage that hands on files lists them here (`fn artifacts(&self) -> Vec<Artifact>`);
/// this one hands on none.
impl Output for Greeting {}

/// The stage: reads its config, logs a line through the host, returns its output.
pub fn run(req: &Request) -> Result<Greeting, StageError> {
    let config: Config = req.config()?;
    let message = format!("Hello, {}!", config.who);
    host::info(&message);
    Ok(Greeting { message })
}

airlock_stage::export_stage!(run);

/// Native unit tests: `cargo test --lib`. The host calls are recorded, not sent.
#[cfg(test)]
mod tests {
    use super::*;
    use airlock_stage::Category;
    use airlock_stage::host::{Level, Record, take_records};
    use serde_json::json;

    /// The stage id the requests carry.
    const ID: &str = "{{name}}";

    #[test]
    fn greets_and_logs_through_the_host() {
        let out = run(&Request::new(ID, json!({ "who": "tests" }))).unwrap();
        assert_eq!(
            out,
            Greeting {
                message: "Hello, tests!".into()
            }
        );
        assert_eq!(
            take_records(),
            vec![Record::Log(Level::Info, "Hello, tests!".to_string())]
        );
    }

    #[test]
    fn a_config_of_the_wrong_type_names_the_field() {
        let err = run(&Request::new(ID, json!({ "who": 42 }))).unwrap_err();
        assert_eq!(err.category, Category::Configuration);
        assert!(err.message.contains("config.who"), "{}", err.message);
    }
}
"#;

const COMPONENT_RS: &str = r##"//! The stage as a real WebAssembly component under the real airlock host: builds it with
//! `{{build}}`, writes a one-stage manifest and runs `airlock run` on it.
//!
//! The airlock binary comes from the AIRLOCK_BIN environment variable:
//! `AIRLOCK_BIN=/path/to/airlock cargo test`. The test fails (it never skips) without it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The stage's name (its id in the test manifest).
const STAGE: &str = "{{name}}";
/// The crate's library name (the component is LIB.wasm).
const LIB: &str = "{{lib}}";

/// The airlock binary named by AIRLOCK_BIN.
fn airlock_bin() -> PathBuf {
    match std::env::var_os("AIRLOCK_BIN") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => panic!(
            "AIRLOCK_BIN is not set: this test runs the stage under the real airlock host. \
             Run it as `AIRLOCK_BIN=/path/to/airlock cargo test` (in an airlock checkout, \
             `cargo build -p airlock` makes target/debug/airlock)"
        ),
    }
}

/// Builds the component and returns the .wasm file cargo reports.
fn build_component() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let out = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["build", "--release", "--target", "wasm32-wasip2"])
        .args([
            "--message-format",
            "json-render-diagnostics",
            "--manifest-path",
        ])
        .arg(&manifest)
        .stderr(Stdio::inherit())
        .output()
        .expect("cannot run cargo");
    assert!(
        out.status.success(),
        "`{{build}}` failed (see above)"
    );
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if msg["reason"] == "compiler-artifact" && msg["target"]["name"] == LIB {
            let files = msg["filenames"].as_array().into_iter().flatten();
            if let Some(wasm) = files
                .filter_map(|f| f.as_str())
                .find(|f| f.ends_with(".wasm"))
            {
                return PathBuf::from(wasm);
            }
        }
    }
    panic!("cargo built no {LIB}.wasm");
}

/// Runs `airlock run` on a one-stage manifest with `config` (a TOML inline table).
fn run_stage(bin: &Path, wasm: &Path, case: &str, config: &str) -> (Output, serde_json::Value) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{STAGE}-{case}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let quoted = serde_json::to_string(&wasm.to_string_lossy()).unwrap();
    let manifest = dir.join("release.toml");
    std::fs::write(
        &manifest,
        format!(
            "[pipeline]\nname = \"{STAGE}-test\"\n\n[[stage]]\nid = \"{STAGE}\"\n\
             component = {{ path = {quoted} }}\nconfig = {config}\n"
        ),
    )
    .unwrap();
    let out = Command::new(bin)
        .arg("run")
        .arg(&manifest)
        .args(["--format", "json"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run AIRLOCK_BIN={}: {e}", bin.display()));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "airlock printed no JSON report ({e}); stderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let stage = report["stages"][0].clone();
    (out, stage)
}

#[test]
fn runs_as_a_component_under_the_real_host() {
    let bin = airlock_bin(); // first: without it there is nothing to test
    let wasm = build_component();

    let (out, stage) = run_stage(&bin, &wasm, "ok", r#"{ who = "component" }"#);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(stage["output"]["message"], "Hello, component!", "{stage}");
    let logged = format!("{STAGE}: Hello, component!");
    assert!(stderr.contains(&logged), "{stderr}");

    let (out, stage) = run_stage(&bin, &wasm, "bad-config", "{ who = 42 }");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stage["failure"]["category"], "configuration", "{stage}");
    assert!(
        stage["failure"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("config.who"),
        "{stage}"
    );
}
"##;

const STAGE_TOML: &str = r#"# The {{name}} stage alone, as a pipeline: `airlock run stage.toml` (after building it).
# To use it in a release, copy the [[stage]] table into your manifest and make the component
# path relative to that manifest's folder (or absolute).

[pipeline]
name = "{{name}}"
project = "."                 # the folder the stage's file grants and config paths are relative to

[[stage]]
id = "{{name}}"
component = { path = "target/wasm32-wasip2/release/{{lib}}.wasm" }   # add sha256 = "…" once reviewed
needs = []                    # upstream stages whose outputs this stage reads, e.g. ["decide"]
config = { who = "world" }

[stage.grants]                # deny by default: grant only what the stage uses
files = []                    # e.g. [{ path = ".", access = "read" }]
http = []                     # e.g. ["https://api.github.com"]
env = []                      # e.g. ["GITHUB_REF_NAME"]
secrets = { produce = [], inject = [] }
"#;

const README: &str = r#"# {{name}}

An airlock stage: one Rust function (`src/lib.rs`) that the airlock
host runs as a WebAssembly component in a capability sandbox.

## Build

```sh
{{build}}
```

This writes `target/wasm32-wasip2/release/{{lib}}.wasm` (`rust-toolchain.toml` makes rustup
install the `wasm32-wasip2` target on first use).

## Run

```sh
airlock run stage.toml        # the stage alone; its output is in the JSON report with --format json
airlock audit stage.toml      # what the component imports against what stage.toml grants
```

`stage.toml` grants nothing: the stage can read no file, reach no host and see no variable.
Add to `[stage.grants]` only what the function uses (a folder it reads, an HTTP origin it
calls, a variable it reads) and check the result with `airlock audit`. Once reviewed, pin
the component: `component = { path = "…", sha256 = "<sha256sum of the .wasm>" }`.

## Test

```sh
cargo test --lib                               # native unit tests; host calls are recorded
AIRLOCK_BIN=/path/to/airlock cargo test        # also builds the component and runs it with airlock
```

The integration test (`tests/component.rs`) fails, with this instruction, when
`AIRLOCK_BIN` is not set.
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_lowercase_words_joined_by_dashes() {
        for ok in ["changelog-check", "a", "s3-upload", "notify2"] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for (bad, why) in [
            ("", "empty"),
            ("Changelog", "'C'"),
            ("change_log", "'_'"),
            ("1stage", "start with a letter"),
            ("stage-", "'-' must separate"),
            ("a--b", "'-' must separate"),
            ("fn", "reserved"),
            ("airlock-stage", "reserved"),
            ("../x", "'.'"),
        ] {
            let e = validate_name(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn rendered_files_name_the_stage_and_quote_the_sdk_path() {
        let files = render("my-stage", Path::new("/opt/air \"lock\"/crates/stage"));
        let cargo = &files.iter().find(|(p, _)| *p == "Cargo.toml").unwrap().1;
        let parsed: toml::Table = toml::from_str(cargo).unwrap();
        assert_eq!(parsed["package"]["name"].as_str(), Some("my-stage"));
        assert_eq!(
            parsed["dependencies"]["airlock-stage"]["path"].as_str(),
            Some("/opt/air \"lock\"/crates/stage")
        );
        assert!(parsed.contains_key("workspace"));
        let stage = &files.iter().find(|(p, _)| *p == "stage.toml").unwrap().1;
        assert!(stage.contains("release/my_stage.wasm"), "{stage}");
        for (path, text) in &files {
            for placeholder in ["{{name}}", "{{lib}}", "{{sdk}}", "{{build}}"] {
                assert!(!text.contains(placeholder), "{path}: {placeholder} left");
            }
        }
    }
}
