//! `sigstore-standins [--trusted-root PATH]`: starts, on 127.0.0.1, the GitHub Actions
//! ID-token endpoint, Fulcio, Rekor and a PyPI that keeps attestations
//! ([`airlock_test_support::ReleaseStandins`]), writes the Sigstore trusted root to PATH
//! (default `target/sigstore-standins/trusted_root.json`) and sigstore-python's client
//! trust config beside it (`client_trust_config.json`), prints what to set to run
//! examples/mypylogger/release.toml against them and how to verify the release after, then
//! serves until Ctrl-C (see docs/attestations.md):
//!
//! ```text
//! export GITHUB_ACTIONS=true … ACTIONS_ID_TOKEN_REQUEST_URL='http://127.0.0.1:P1/token?api-version=2.0' … PYPI_TOKEN=…
//! --set attest.fulcio=http://127.0.0.1:P2 --set attest.rekor=http://127.0.0.1:P3 --set attest.actions_origin=http://127.0.0.1:P1 --set authenticate.mode=token --set upload.repository=http://127.0.0.1:P4/legacy/
//! trusted root: PATH
//! verify: airlock verify mypylogger==0.2.8 --index http://127.0.0.1:P4/simple/ --trusted-root PATH …
//! ```

use std::path::PathBuf;

use airlock_test_support::ReleaseStandins;

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
    let standins = ReleaseStandins::start();
    if let Err(e) = standins.sigstore.write_trusted_root(&trusted_root) {
        eprintln!("cannot write {}: {e}", trusted_root.display());
        std::process::exit(1);
    }
    let config = trusted_root.with_file_name("client_trust_config.json");
    if let Err(e) = standins.sigstore.write_client_trust_config(&config) {
        eprintln!("cannot write {}: {e}", config.display());
        std::process::exit(1);
    }
    print!("{}", standins.instructions(&trusted_root));
    use std::io::Write;
    let _ = std::io::stdout().flush();
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
