//! Times the library natively on one project: load, sdist, wheel, validation of both.
//! `cargo run --release -p airlock-pypkg --example build_timing -- PROJECT_DIR`
use std::time::Instant;

fn main() {
    let root = std::path::PathBuf::from(std::env::args().nth(1).expect("PROJECT_DIR"));
    let opts = airlock_pypkg::BuildOptions::default();
    let t = Instant::now();
    let p = airlock_pypkg::Buildable::load(&root).expect("load");
    let t_load = t.elapsed();
    let t = Instant::now();
    let (sn, sb) = p.sdist_bytes(&opts).expect("sdist");
    let t_sdist = t.elapsed();
    let t = Instant::now();
    let (wn, wb) = p.wheel_bytes(&opts).expect("wheel");
    let t_wheel = t.elapsed();
    let t = Instant::now();
    let rs = airlock_pypkg::validate::validate(&sn, &sb);
    let rw = airlock_pypkg::validate::validate(&wn, &wb);
    let t_val = t.elapsed();
    println!(
        "{}: load {:?}, sdist {:?} ({} bytes), wheel {:?} ({} bytes), validate {:?} (passed: {})",
        p.raw_name(),
        t_load,
        t_sdist,
        sb.len(),
        t_wheel,
        wb.len(),
        t_val,
        rs.passed() && rw.passed()
    );
}
