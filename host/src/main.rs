//! The `airlock` binary.

use clap::Parser;

fn main() {
    // Rust ignores SIGPIPE, so `airlock audit … | head` would panic on the closed pipe;
    // restore the default so the process ends quietly, as other command-line tools do.
    #[cfg(unix)]
    // SAFETY: called once at start-up, before any thread exists; SIG_DFL is a valid handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    airlock::diagnostics::init();
    let cli = airlock::cli::Cli::parse();
    std::process::exit(airlock::cli::main(cli));
}
