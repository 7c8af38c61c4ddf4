//! THROWAWAY (not committed): cost breakdown of building one hatchling project.
use std::io::Write;
use std::time::Instant;

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

fn main() {
    let root = std::path::PathBuf::from(std::env::args().nth(1).expect("PROJECT_DIR"));
    let reps: usize = std::env::args()
        .nth(2)
        .map(|s| s.parse().unwrap())
        .unwrap_or(3);
    for _ in 0..reps {
        let opts = airlock_pypkg::BuildOptions::default();
        let t = Instant::now();
        let b = airlock_pypkg::Buildable::load(&root).expect("load");
        let load = ms(t);
        let airlock_pypkg::Buildable::Hatchling(p) = &b else {
            panic!("hatchling only")
        };
        let t = Instant::now();
        let sf = airlock_pypkg::select::sdist_files(p).unwrap();
        let wf = airlock_pypkg::select::wheel_files(p).unwrap();
        let select = ms(t);
        let t = Instant::now();
        let sdata: Vec<Vec<u8>> = sf.iter().map(|f| std::fs::read(&f.path).unwrap()).collect();
        let wdata: Vec<Vec<u8>> = wf.iter().map(|f| std::fs::read(&f.path).unwrap()).collect();
        let read = ms(t);
        let t = Instant::now();
        for f in sf.iter().chain(wf.iter()) {
            let _ = std::fs::metadata(&f.path).unwrap();
        }
        let stat = ms(t);
        let t = Instant::now();
        let mut tar = airlock_pypkg::archive::TarWriter::new();
        for (f, d) in sf.iter().zip(&sdata) {
            tar.add(&format!("x/{}", f.distribution_path), d, 0o644, 0);
        }
        let tarb = tar.finish();
        let tar_ms = ms(t);
        let mut gz = vec![];
        let mut gzt = vec![];
        for lvl in [9, 6, 1] {
            let t = Instant::now();
            let g = airlock_pypkg::archive::gzip_level(&tarb, 0, lvl);
            gzt.push(ms(t));
            gz.push(g.len());
        }
        let t = Instant::now();
        let mut hashes = 0;
        for d in &wdata {
            hashes += airlock_pypkg::record_hash(d).len();
        }
        let rec = ms(t);
        let t = Instant::now();
        let mut zip = airlock_pypkg::archive::ZipWriter::new();
        for (f, d) in wf.iter().zip(&wdata) {
            zip.add(&f.distribution_path, d, 0o644, (0, 33));
        }
        let zipb = zip.finish();
        let zip_ms = ms(t);
        let t = Instant::now();
        let (sn, sb) = b.sdist_bytes(&opts).unwrap();
        let sdist = ms(t);
        let t = Instant::now();
        let (wn, wb) = b.wheel_bytes(&opts).unwrap();
        let wheel = ms(t);
        let t = Instant::now();
        let rs = airlock_pypkg::validate::validate(&sn, &sb);
        let vs = ms(t);
        let t = Instant::now();
        let rw = airlock_pypkg::validate::validate(&wn, &wb);
        let vw = ms(t);
        let t = Instant::now();
        let _ = airlock_pypkg::sha256_hex(&sb);
        let _ = airlock_pypkg::sha256_hex(&wb);
        let sha = ms(t);
        let t = Instant::now();
        let mut dec = flate2::write::GzDecoder::new(Vec::new());
        dec.write_all(&sb).unwrap();
        let _ = dec.finish().unwrap();
        let gunzip = ms(t);
        assert!(rs.passed() && rw.passed());
        println!(
            "files sdist {} ({} B) wheel {} ({} B) | load {load:.1} select {select:.1} read {read:.1} stat {stat:.1} tar {tar_ms:.1} gzip9 {:.1} gzip6 {:.1} gzip1 {:.1} (sizes {:?}) record-sha {rec:.1} zip {zip_ms:.1} ({} B) | sdist_bytes {sdist:.1} wheel_bytes {wheel:.1} validate sdist {vs:.1} wheel {vw:.1} (gunzip {gunzip:.1}) sha256 out {sha:.1} {hashes}",
            sf.len(),
            tarb.len(),
            wf.len(),
            wdata.iter().map(|d| d.len()).sum::<usize>(),
            gzt[0],
            gzt[1],
            gzt[2],
            gz,
            zipb.len()
        );
    }
}
