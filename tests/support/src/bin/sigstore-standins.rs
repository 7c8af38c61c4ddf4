//! `sigstore-standins [--trusted-root PATH]`: starts the GitHub Actions ID-token stand-in
//! ([`airlock_test_support::GithubOidc`], default [`airlock_test_support::IdTokenSpec`]),
//! the Fulcio and the Rekor stand-ins ([`airlock_test_support::Sigstore`]) on 127.0.0.1,
//! writes the Sigstore trusted root to PATH (default
//! `target/sigstore-standins/trusted_root.json`) and sigstore-python's client trust config
//! beside it (`client_trust_config.json`), prints what to set, then serves until Ctrl-C:
//!
//! ```text
//! export GITHUB_ACTIONS=true GITHUB_REPOSITORY=octo/mypylogger ACTIONS_ID_TOKEN_REQUEST_URL='http://127.0.0.1:P1/token?api-version=2.0' ACTIONS_ID_TOKEN_REQUEST_TOKEN=…
//! --set attest.fulcio=http://127.0.0.1:P2 --set attest.rekor=http://127.0.0.1:P3 --set attest.actions_origin=http://127.0.0.1:P1
//! trusted root: PATH
//! ```

use std::path::PathBuf;

use airlock_test_support::{ACTIONS_REQUEST_TOKEN, GithubOidc, IdTokenSpec, Sigstore};

fn main() {
    let mut trusted_root = PathBuf::from("target/sigstore-standins/trusted_root.json");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--trusted-root" => match args.next() {
                Some(p) => trusted_root = PathBuf::from(p),
                None => usage("--trusted-root needs a PATH"),
            },
            "-h" | "--help" => usage(""),
            other => usage(&format!("unknown argument {other:?}")),
        }
    }
    let github = GithubOidc::start(IdTokenSpec::default());
    let sigstore = Sigstore::start();
    if let Err(e) = sigstore.write_trusted_root(&trusted_root) {
        eprintln!("cannot write {}: {e}", trusted_root.display());
        std::process::exit(1);
    }
    let config = trusted_root.with_file_name("client_trust_config.json");
    if let Err(e) = sigstore.write_client_trust_config(&config) {
        eprintln!("cannot write {}: {e}", config.display());
        std::process::exit(1);
    }
    println!(
        "export GITHUB_ACTIONS=true GITHUB_REPOSITORY={} ACTIONS_ID_TOKEN_REQUEST_URL='{}' ACTIONS_ID_TOKEN_REQUEST_TOKEN={ACTIONS_REQUEST_TOKEN}",
        github.spec().repository,
        github.request_url()
    );
    println!(
        "--set attest.fulcio={} --set attest.rekor={} --set attest.actions_origin={}",
        sigstore.fulcio_url(),
        sigstore.rekor_url(),
        github.origin()
    );
    println!("trusted root: {}", trusted_root.display());
    loop {
        std::thread::park();
    }
}

fn usage(problem: &str) -> ! {
    if !problem.is_empty() {
        eprintln!("sigstore-standins: {problem}");
    }
    eprintln!("usage: sigstore-standins [--trusted-root PATH]");
    std::process::exit(if problem.is_empty() { 0 } else { 2 });
}
