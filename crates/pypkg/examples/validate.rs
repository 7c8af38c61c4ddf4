//! Validates distribution files as `twine check --strict` and PyPI's upload would, natively:
//! `cargo run -p airlock-pypkg --example validate -- dist/*`
//! Prints every finding; exits 1 when any file has an error.
fn main() {
    let mut failed = false;
    for arg in std::env::args().skip(1) {
        let r = airlock_pypkg::validate::validate_path(std::path::Path::new(&arg))
            .unwrap_or_else(|e| panic!("{e}"));
        println!("{}: {}", arg, if r.passed() { "PASSED" } else { "FAILED" });
        for f in &r.findings {
            println!(
                "  {:?} {} [{}] {} (fix: {})",
                f.severity, f.file, f.rule, f.message, f.fix
            );
        }
        failed |= !r.passed();
    }
    std::process::exit(i32::from(failed));
}
