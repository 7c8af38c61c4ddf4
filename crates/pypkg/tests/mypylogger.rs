//! Conformance on a real project: mypylogger 0.2.8 from PyPI (built by hatchling 1.27.0).
//! The wheel is rebuilt from the unpacked sdist with SOURCE_DATE_EPOCH unset (hatchling's
//! 2020-02-02 default) and compared with the published wheel; the sdist with the published
//! sdist.

use std::collections::BTreeMap;
use std::io::Read;

use airlock_pypkg::{BuildOptions, Project};
use airlock_test_support::{
    HATCHLING_VERSION, MYPYLOGGER_SDIST, MYPYLOGGER_WHEEL, fixtures, mypylogger_project,
    require_python_module,
};

/// (name, unix mode, DOS (time, date), crc, uncompressed bytes) of every member, in order.
type Member = (String, u32, Vec<u8>);

fn zip_members(bytes: &[u8]) -> Vec<Member> {
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut out = Vec::new();
    for i in 0..z.len() {
        let mut f = z.by_index(i).unwrap();
        let mut data = Vec::new();
        f.read_to_end(&mut data).unwrap();
        out.push((
            f.name().unwrap().to_string(),
            f.unix_mode().unwrap_or(0),
            data,
        ));
    }
    out
}

/// Core metadata as (field → values in order) plus the body.
fn parse_metadata(text: &str) -> (BTreeMap<String, Vec<String>>, String) {
    let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
    let mut fields: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut last: Option<String> = None;
    for line in head.lines() {
        if line.starts_with(' ') || line.starts_with('\t') {
            let k = last.clone().unwrap();
            let v = fields.get_mut(&k).unwrap().last_mut().unwrap();
            v.push('\n');
            v.push_str(line.trim_start());
        } else {
            let (k, v) = line.split_once(": ").unwrap();
            fields.entry(k.to_string()).or_default().push(v.to_string());
            last = Some(k.to_string());
        }
    }
    (fields, body.to_string())
}

fn hatchling_like() -> BuildOptions {
    BuildOptions {
        generator: format!("hatchling {HATCHLING_VERSION}"),
        ..BuildOptions::default()
    }
}

#[test]
fn wheel_matches_the_published_wheel() {
    let project = Project::load(&mypylogger_project()).unwrap();
    let (name, ours) = airlock_pypkg::wheel_bytes(&project, &hatchling_like()).unwrap();
    assert_eq!(name, MYPYLOGGER_WHEEL);
    let dir = fixtures();
    let published = std::fs::read(dir.join(&name)).unwrap();

    let a = zip_members(&ours);
    let b = zip_members(&published);
    let names = |m: &[Member]| m.iter().map(|x| x.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(&a), names(&b), "same members in the same order");
    assert_eq!(a.len(), 10);

    let meta = |m: &[Member]| {
        let x = m
            .iter()
            .find(|x| x.0.ends_with(".dist-info/METADATA"))
            .unwrap();
        parse_metadata(std::str::from_utf8(&x.2).unwrap())
    };
    assert_eq!(meta(&a), meta(&b), "METADATA fields and body");

    let record = |m: &[Member]| {
        let x = m
            .iter()
            .find(|x| x.0.ends_with(".dist-info/RECORD"))
            .unwrap();
        String::from_utf8(x.2.clone()).unwrap()
    };
    let (ra, rb) = (record(&a), record(&b));
    let module_rows = |r: &str| {
        r.lines()
            .filter(|l| !l.contains(".dist-info/"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        module_rows(&ra),
        module_rows(&rb),
        "RECORD hashes of module files"
    );
    assert_eq!(module_rows(&ra).len(), 6);
    // With the Generator set as hatchling's, every member is identical: contents, modes.
    assert_eq!(a, b, "every member's name, mode and content");
    assert_eq!(ra, rb, "whole RECORD");

    // Zip structure: everything but the deflate streams is byte-identical. Compare the
    // central directories (they hold names, times, CRCs, sizes of the uncompressed data,
    // modes; compressed sizes and offsets differ with the deflate encoder).
    let cd = |z: &[u8]| {
        let eocd = z.len() - 22;
        let size = u32::from_le_bytes(z[eocd + 12..eocd + 16].try_into().unwrap()) as usize;
        let off = u32::from_le_bytes(z[eocd + 16..eocd + 20].try_into().unwrap()) as usize;
        let mut rows = Vec::new();
        let mut p = off;
        while p < off + size {
            let n = u16::from_le_bytes(z[p + 28..p + 30].try_into().unwrap()) as usize;
            let mut row = z[p..p + 46 + n].to_vec();
            row[20..24].fill(0); // compressed size
            row[42..46].fill(0); // local header offset
            rows.push(row);
            p += 46 + n;
        }
        rows
    };
    assert_eq!(
        cd(&ours),
        cd(&published),
        "central directory modulo deflate sizes"
    );
    eprintln!(
        "mypylogger wheel: ours {} bytes, published {} bytes, byte-identical: {}",
        ours.len(),
        published.len(),
        ours == published
    );
}

#[test]
fn sdist_matches_the_published_sdist() {
    let project = Project::load(&mypylogger_project()).unwrap();
    // hatchling's gzip level (the default is 6): the header's XFL byte says 9.
    let options = BuildOptions {
        sdist_gzip_level: 9,
        ..BuildOptions::default()
    };
    let (name, ours) = airlock_pypkg::sdist_bytes(&project, &options).unwrap();
    assert_eq!(name, MYPYLOGGER_SDIST);
    let dir = fixtures();
    let published = std::fs::read(dir.join(&name)).unwrap();
    let gunzip = |b: &[u8]| {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(b)
            .read_to_end(&mut out)
            .unwrap();
        out
    };
    let (ta, tb) = (gunzip(&ours), gunzip(&published));
    let list = |t: &[u8]| {
        tar::Archive::new(t)
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(list(&ta), list(&tb), "same members in the same order");
    assert_eq!(&ours[..10], &published[..10], "gzip header");
    assert!(ta == tb, "the uncompressed tar stream is byte-identical");
    eprintln!(
        "mypylogger sdist: ours {} bytes, published {} bytes, tar identical: {}, gz identical: {}",
        ours.len(),
        published.len(),
        ta == tb,
        ours == published
    );
}

#[test]
fn version_and_name_helpers_read_the_real_project() {
    let root = mypylogger_project();
    assert_eq!(airlock_pypkg::project_version(&root).unwrap(), "0.2.8");
    assert_eq!(airlock_pypkg::project_name(&root).unwrap(), "mypylogger");
}

#[test]
fn twine_check_strict_passes_on_both_outputs() {
    require_python_module("twine", "twine");
    let root = mypylogger_project();
    let out = tempfile::tempdir().unwrap();
    let opts = BuildOptions::default();
    let w = airlock_pypkg::build_wheel(&root, out.path(), &opts).unwrap();
    let s = airlock_pypkg::build_sdist(&root, out.path(), &opts).unwrap();
    assert_eq!(w.size, std::fs::metadata(&w.path).unwrap().len());
    let o = std::process::Command::new("python3")
        .args(["-m", "twine", "check", "--strict"])
        .arg(&w.path)
        .arg(&s.path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "twine check --strict failed:\n{text}");
    assert_eq!(text.matches("PASSED").count(), 2, "{text}");
}
