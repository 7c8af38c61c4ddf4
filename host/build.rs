//! Builds the seven built-in stage components for wasm32-wasip2 and embeds them.
//!
//! The stages are built by a nested `cargo build --release --target wasm32-wasip2` with its
//! own `--target-dir` (`<target>/wasm-stages`): sharing the outer build's target dir would
//! block on its lock. The resulting `.wasm` files are copied to `OUT_DIR` and included by
//! `src/builtin.rs` with `include_bytes!`.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The built-in stages: (name, cargo package).
const STAGES: &[(&str, &str)] = &[
    ("detect", "stage-detect"),
    ("decide", "stage-decide"),
    ("build", "stage-build"),
    ("authenticate", "stage-authenticate"),
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

    for dir in ["stages", "wit", "tests/hostile"] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    println!(
        "cargo:rerun-if-changed={}",
        root.join("Cargo.lock").display()
    );
    println!("cargo:rerun-if-env-changed=AIRLOCK_STAGES_DIR");

    // A packager may hand in prebuilt components instead (e.g. from a cached CI step).
    let built = if let Some(dir) = env::var_os("AIRLOCK_STAGES_DIR") {
        PathBuf::from(dir)
    } else {
        build_stages(&root, &stage_target);
        stage_target.join("wasm32-wasip2").join("release")
    };

    let mut generated = String::from(
        "/// The embedded built-in components: (name, wasm bytes).\npub(crate) static BUILTINS: &[(&str, &[u8])] = &[\n",
    );
    for (name, package) in STAGES {
        let file = format!("{}.wasm", package.replace('-', "_"));
        let src = built.join(&file);
        let dst = out_dir.join(&file);
        std::fs::copy(&src, &dst).unwrap_or_else(|e| {
            panic!("stage component {} missing after build: {e}", src.display())
        });
        generated.push_str(&format!(
            "    (\"{name}\", include_bytes!(concat!(env!(\"OUT_DIR\"), \"/{file}\"))),\n"
        ));
    }
    generated.push_str("];\n");
    let hostile = built.join(format!("{}.wasm", HOSTILE.replace('-', "_")));
    if hostile.is_file() {
        println!(
            "cargo:rustc-env=AIRLOCK_TEST_HOSTILE_WASM={}",
            hostile.display()
        );
    }
    std::fs::write(out_dir.join("builtins.rs"), generated).unwrap();
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
