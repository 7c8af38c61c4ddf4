//! Builds the eight built-in stage components for wasm32-wasip2 and embeds them.
//!
//! The stages are built by a nested `cargo build --release --target wasm32-wasip2` with its
//! own `--target-dir` (`<target>/wasm-stages`): sharing the outer build's target dir would
//! block on its lock. The resulting `.wasm` files are copied to `OUT_DIR` and included by
//! `src/builtin.rs` with `include_bytes!`, each with its sha256 and its form precompiled by
//! `Engine::precompile_component` (same engine configuration as the runtime, from
//! `src/engine.rs`), so a cold start deserializes instead of compiling. Set
//! `AIRLOCK_NO_PRECOMPILE` to skip that (the runtime then compiles at first use).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

/// The engine configuration the runtime uses (`crate::engine::config`).
#[path = "src/engine.rs"]
mod engine;

/// The built-in stages: (name, cargo package).
const STAGES: &[(&str, &str)] = &[
    ("detect", "stage-detect"),
    ("decide", "stage-decide"),
    ("fetch", "stage-fetch"),
    ("build", "stage-build"),
    ("authenticate", "stage-authenticate"),
    ("attest", "stage-attest"),
    ("upload", "stage-upload"),
    ("status", "stage-status"),
    ("notify", "stage-notify"),
];

/// The test-only hostile component's package.
const HOSTILE: &str = "hostile-stage";

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().unwrap().to_path_buf();
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());
    let target_root = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| if p.is_absolute() { p } else { root.join(p) })
        .unwrap_or_else(|| root.join("target"));
    let stage_target = target_root.join("wasm-stages");

    for dir in ["stages", "crates", "tests/hostile"] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    println!(
        "cargo:rerun-if-changed={}",
        root.join("Cargo.lock").display()
    );
    println!("cargo:rerun-if-env-changed=AIRLOCK_STAGES_DIR");
    println!("cargo:rerun-if-env-changed=AIRLOCK_NO_PRECOMPILE");
    println!(
        "cargo:rerun-if-changed={}",
        manifest_dir.join("src/engine.rs").display()
    );

    // A packager may hand in prebuilt components instead (e.g. from a cached CI step). The
    // sdist has no stage crates (maturin keeps only host/'s path dependencies as workspace
    // members): it ships the components in stages-prebuilt/ (docs/install.md).
    let shipped = root.join("stages-prebuilt");
    let built = if let Some(dir) = env::var_os("AIRLOCK_STAGES_DIR") {
        PathBuf::from(dir)
    } else if !root.join("stages/detect/Cargo.toml").is_file() {
        assert!(
            shipped.is_dir(),
            "{} has neither the stage crates (stages/) nor prebuilt components (stages-prebuilt/): make the sdist as docs/install.md says, or set AIRLOCK_STAGES_DIR",
            root.display()
        );
        println!("cargo:rerun-if-changed={}", shipped.display());
        shipped
    } else {
        build_stages(&root, &stage_target);
        stage_target.join("wasm32-wasip2").join("release")
    };

    // Each built-in component, with its sha256 and its precompiled form for this engine
    // configuration (src/engine.rs, shared with the runtime) and the target's baseline CPU.
    let engine = precompiling_engine();
    let mut generated = String::from(
        "/// The embedded built-in components.\npub(crate) static BUILTINS: &[Builtin] = &[\n",
    );
    for (name, package) in STAGES {
        let file = format!("{}.wasm", package.replace('-', "_"));
        let src = built.join(&file);
        let wasm = std::fs::read(&src).unwrap_or_else(|e| {
            panic!("stage component {} missing after build: {e}", src.display())
        });
        std::fs::write(out_dir.join(&file), &wasm).unwrap();
        let sha256 = hex::encode(Sha256::digest(&wasm));
        let cwasm = format!("{name}.cwasm");
        let precompiled = match &engine {
            Ok(engine) => engine.precompile_component(&wasm).unwrap_or_else(|e| {
                println!("cargo:warning=builtin:{name} is not precompiled ({e}); it is compiled at first use");
                Vec::new()
            }),
            Err(_) => Vec::new(),
        };
        std::fs::write(out_dir.join(&cwasm), &precompiled).unwrap();
        generated.push_str(&format!(
            "    Builtin {{ name: \"{name}\", wasm: include_bytes!(concat!(env!(\"OUT_DIR\"), \"/{file}\")), sha256: \"{sha256}\", precompiled: include_bytes!(concat!(env!(\"OUT_DIR\"), \"/{cwasm}\")) }},\n"
        ));
    }
    if let Err(e) = &engine {
        println!(
            "cargo:warning=the built-in components are not precompiled ({e}); they are compiled at first use"
        );
    }
    generated.push_str("];\n");
    // Tests load built-in components from their files too (to exercise the compile cache).
    println!(
        "cargo:rustc-env=AIRLOCK_TEST_STAGES_DIR={}",
        built.display()
    );
    let hostile = built.join(format!("{}.wasm", HOSTILE.replace('-', "_")));
    if hostile.is_file() {
        println!(
            "cargo:rustc-env=AIRLOCK_TEST_HOSTILE_WASM={}",
            hostile.display()
        );
    }
    std::fs::write(out_dir.join("builtins.rs"), generated).unwrap();
}

/// An engine that compiles for the build's target with that target's baseline CPU features
/// (x86-64-v2 on x86_64: SSE4.2 and POPCNT, which every x86_64 CPU of the last fifteen
/// years has), not the build machine's: the binary runs on other machines, and wasmtime
/// refuses precompiled code that needs a feature the running CPU lacks.
fn precompiling_engine() -> Result<wasmtime::Engine, String> {
    if env::var_os("AIRLOCK_NO_PRECOMPILE").is_some() {
        return Err("AIRLOCK_NO_PRECOMPILE is set".into());
    }
    let target = env::var("TARGET").unwrap();
    let mut config = engine::config();
    config.target(&target).map_err(|e| e.to_string())?;
    if target.starts_with("x86_64-") {
        for flag in [
            "has_sse3",
            "has_ssse3",
            "has_sse41",
            "has_sse42",
            "has_popcnt",
        ] {
            // SAFETY: the flags describe the CPU the code will run on; wasmtime checks
            // them against the running CPU before it runs any precompiled code.
            unsafe {
                config.cranelift_flag_enable(flag);
            }
        }
    }
    wasmtime::Engine::new(&config).map_err(|e| e.to_string())
}

fn build_stages(root: &Path, target_dir: &Path) {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--target-dir",
        ])
        .arg(target_dir);
    // wasm SIMD (wasmtime enables it by default): zlib-rs then uses its simd128 paths for
    // deflate's match search and hash sliding and for inflate, the bulk of the build stage's
    // time on a large sdist. Only the wasm target gets it (build scripts and proc-macros
    // are native), and it is merged with any rustflags a packager configures for the target.
    cmd.args([
        "--config",
        r#"target.wasm32-wasip2.rustflags = ["-C", "target-feature=+simd128"]"#,
    ]);
    for (_, package) in STAGES {
        cmd.args(["-p", package]);
    }
    // The hostile test component (tests/hostile) is built in the same invocation, never
    // embedded: tests find it through AIRLOCK_TEST_HOSTILE_WASM.
    cmd.args(["-p", HOSTILE]);
    // Do not leak the outer build's settings (clippy's wrapper, host rustflags, jobserver
    // pinned to the outer target) into the guest build.
    for var in [
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "CARGO_PROFILE_RELEASE_DEBUG",
        "CARGO_MAKEFLAGS",
        "MAKEFLAGS",
        "MFLAGS",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd
        .status()
        .expect("failed to run cargo for the stage components");
    if !status.success() {
        panic!(
            "building the stage components failed ({status}); is the wasm32-wasip2 target installed? run: rustup target add wasm32-wasip2"
        );
    }
}
