//! The `airlock` binary.

use clap::Parser;

fn main() {
    let cli = airlock::cli::Cli::parse();
    std::process::exit(airlock::cli::main(cli));
}
