//! Conformance on real projects from PyPI, spread across hatchling, flit_core and uv_build: each
//! published sdist is downloaded (cached under target/fixtures/pypi), unpacked, rebuilt by
//! this crate, and compared with
//! 1. the published wheel: the wheel member list (in order), METADATA field by field (all
//!    fields but `Metadata-Version`, which follows the backend version that built it; the
//!    version compared after PEP 440 normalisation), the RECORD hash and size of every file
//!    outside `.dist-info`;
//! 2. the published sdist: the member set;
//! 3. the pinned backend itself (hatchling 1.27.0, flit_core 3.12.0, uv_build 0.9.5, run on
//!    the same unpacked sdist with the same SOURCE_DATE_EPOCH): the wheel's members,
//!    METADATA byte for byte and RECORD, and the sdist's members (for uv_build, the whole
//!    ordered tar member list with its directory entries, against both the published sdist
//!    and the pinned backend's);
//!
//! then `twine check --strict` runs on every output and pip installs every wheel, and the
//! validator passes every output and every published file (no false positives).
//! The test prints the table the closing note quotes.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use airlock_pypkg::{BuildOptions, Buildable};
use airlock_test_support::{pypi_sdist, pypi_wheel, require_python_module, unpack_sdist};

/// (project, version, backend that built the published wheel).
const PROJECTS: &[(&str, &str, &str)] = &[
    ("mypylogger", "0.2.8", "hatchling 1.27.0"),
    ("typing-inspection", "0.4.1", "hatchling 1.27.0"),
    ("uvicorn", "0.35.0", "hatchling 1.27.0"),
    ("annotated-types", "0.7.0", "hatchling 1.24.2"),
    ("click", "8.5.1", "flit 3.12.0"),
    ("packaging", "26.3", "flit 3.12.0"),
    ("typing_extensions", "4.16.0", "flit 3.12.0"),
    ("flit", "3.12.0", "flit 3.12.0"),
    ("flask", "3.1.2", "flit 3.12.0"),
    // uv_build: src layout, a console script, a `python_version` marker.
    ("styro", "0.1.32", "uv 0.9.11"),
    // uv_build: src layout, a list of four module names, extras.
    ("meatie", "0.1.28", "uv 0.8.24"),
    // uv_build: flat layout (`module-root = ""`), extras, `requires-python` with two bounds.
    ("that-depends", "3.9.0", "uv 0.9.7"),
    // uv_build: src layout, extras (some naming the project itself), a `python_version` marker.
    ("foamlib", "1.5.0", "uv 0.9.17"),
];

const EPOCH: i64 = 1_700_000_000;

fn zip_members(path: &Path) -> Vec<(String, Vec<u8>)> {
    let mut z = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    (0..z.len())
        .map(|i| {
            let mut f = z.by_index(i).unwrap();
            let mut d = Vec::new();
            f.read_to_end(&mut d).unwrap();
            (f.name().unwrap().to_string(), d)
        })
        .collect()
}

fn sdist_members(path: &Path) -> BTreeSet<String> {
    let f = std::fs::File::open(path).unwrap();
    tar::Archive::new(flate2::read::GzDecoder::new(f))
        .entries()
        .unwrap()
        .filter_map(|e| {
            let e = e.unwrap();
            e.header()
                .entry_type()
                .is_file()
                .then(|| e.path().unwrap().to_string_lossy().into_owned())
        })
        .collect()
}

/// Every member's raw path (directories included), in archive order.
fn sdist_member_list(path: &Path) -> Vec<String> {
    let f = std::fs::File::open(path).unwrap();
    tar::Archive::new(flate2::read::GzDecoder::new(f))
        .entries()
        .unwrap()
        .map(|e| String::from_utf8_lossy(&e.unwrap().path_bytes()).into_owned())
        .collect()
}

/// METADATA as field → values (values in order), the body under `<body>`.
fn metadata_fields(text: &str) -> BTreeMap<String, Vec<String>> {
    let m = airlock_pypkg::metadata::CoreMetadata::read(text);
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in m.fields {
        let v = if k == "Version" {
            airlock_pypkg::project::normalize_version(&v).unwrap()
        } else {
            v
        };
        out.entry(k).or_default().push(v);
    }
    if let Some(b) = m.body {
        out.insert("<body>".into(), vec![b.trim_end().to_string()]);
    }
    out.remove("Metadata-Version");
    out
}

fn dist_info_file<'a>(members: &'a [(String, Vec<u8>)], file: &str) -> &'a [u8] {
    &members
        .iter()
        .find(|(n, _)| n.ends_with(&format!(".dist-info/{file}")))
        .unwrap_or_else(|| panic!("no {file}"))
        .1
}

fn record_outside_dist_info(members: &[(String, Vec<u8>)]) -> BTreeSet<String> {
    String::from_utf8_lossy(dist_info_file(members, "RECORD"))
        .lines()
        .filter(|l| !l.split(',').next().unwrap_or("").contains(".dist-info/"))
        .map(str::to_string)
        .collect()
}

fn diff<T: Ord + Clone + std::fmt::Debug>(a: &BTreeSet<T>, b: &BTreeSet<T>) -> String {
    format!(
        "only ours: {:?}; only theirs: {:?}",
        a.difference(b).collect::<Vec<_>>(),
        b.difference(a).collect::<Vec<_>>()
    )
}

/// Builds wheels and sdists of every `(backend, project dir, out dir)` with the real
/// backends in one Python process (PEP 517 hooks called directly, no isolation).
fn reference_builds(jobs: &[(String, PathBuf, PathBuf)]) {
    let script = r#"
import json, os, sys, importlib
os.environ["SOURCE_DATE_EPOCH"] = sys.argv[1]
for backend, src, out in json.loads(sys.argv[2]):
    os.chdir(src)
    b = importlib.import_module(backend)
    b.build_wheel(out)
    b.build_sdist(out)
"#;
    let jobs_json = serde_json::to_string(
        &jobs
            .iter()
            .map(|(b, s, o)| (b.clone(), s.display().to_string(), o.display().to_string()))
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let o = Command::new(airlock_test_support::hatchling_python())
        .args(["-c", script, &EPOCH.to_string(), &jobs_json])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "reference builds failed (needs hatchling==1.27.0, flit_core==3.12.0, uv_build==0.9.5: {}):\n{}",
        airlock_test_support::INSTALL_REQUIREMENTS,
        String::from_utf8_lossy(&o.stderr)
    );
}

fn only(dir: &Path, ext: &str) -> PathBuf {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(ext))
        .collect();
    assert_eq!(v.len(), 1, "one {ext} in {}", dir.display());
    v.remove(0)
}

#[test]
fn rebuilds_of_real_projects_match_the_published_and_the_backends_files() {
    require_python_module("twine", "twine");
    require_python_module("flit_core.buildapi", "flit_core 3.12.0");
    require_python_module("uv_build", "uv_build 0.9.5");
    let tmp = tempfile::tempdir().unwrap();
    let mut outputs = Vec::new();
    let mut jobs = Vec::new();
    let mut cases = Vec::new();
    for (name, version, generator) in PROJECTS {
        let sdist = pypi_sdist(name, version);
        let wheel = pypi_wheel(name, version);
        let unpack = tmp.path().join(format!("src-{name}"));
        std::fs::create_dir_all(&unpack).unwrap();
        let root = unpack_sdist(&sdist, &unpack);
        let project = Buildable::load(&root).unwrap_or_else(|e| panic!("{name} {version}: {e}"));
        let out = tmp.path().join(format!("ours-{name}"));
        let refs = tmp.path().join(format!("ref-{name}"));
        std::fs::create_dir_all(&out).unwrap();
        std::fs::create_dir_all(&refs).unwrap();
        jobs.push((
            project.backend().entry_point().to_string(),
            root.clone(),
            refs.clone(),
        ));
        cases.push((
            name, version, generator, root, out, refs, sdist, wheel, project,
        ));
    }
    reference_builds(&jobs);

    let mut table = vec![
        "| project | backend (published) | wheel members | METADATA fields | RECORD (non-dist-info) | sdist members | vs pinned backend (wheel, METADATA bytes, sdist) |".to_string(),
        "|---|---|---|---|---|---|---|".to_string(),
    ];
    let mut failures = Vec::new();
    for (name, version, generator, root, out, refs, sdist, wheel, project) in &cases {
        let reference_wheel = only(refs, ".whl");
        let reference_generator =
            String::from_utf8_lossy(dist_info_file(&zip_members(&reference_wheel), "WHEEL"))
                .lines()
                .find_map(|l| l.strip_prefix("Generator: ").map(str::to_string))
                .unwrap();
        let opts = BuildOptions {
            source_date_epoch: EPOCH,
            generator: reference_generator,
            ..BuildOptions::default()
        };
        let (wname, wbytes) = project.wheel_bytes(&opts).unwrap();
        let (sname, sbytes) = project.sdist_bytes(&opts).unwrap();
        std::fs::write(out.join(&wname), &wbytes).unwrap();
        std::fs::write(out.join(&sname), &sbytes).unwrap();
        let ours_w = zip_members(&out.join(&wname));
        let theirs_w = zip_members(wheel);
        let names = |m: &[(String, Vec<u8>)]| m.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        let mut row_fail = Vec::new();
        assert_eq!(
            wname,
            wheel.file_name().unwrap().to_string_lossy(),
            "{name}: wheel file name"
        );

        // 1. The published wheel.
        let members_ok = names(&ours_w) == names(&theirs_w);
        if !members_ok {
            row_fail.push(format!(
                "wheel members: ours {:?} theirs {:?}",
                names(&ours_w),
                names(&theirs_w)
            ));
        }
        let (mo, mt) = (
            metadata_fields(&String::from_utf8_lossy(dist_info_file(
                &ours_w, "METADATA",
            ))),
            metadata_fields(&String::from_utf8_lossy(dist_info_file(
                &theirs_w, "METADATA",
            ))),
        );
        let meta_ok = mo == mt;
        if !meta_ok {
            let keys: BTreeSet<&String> = mo.keys().chain(mt.keys()).collect();
            for k in keys {
                if mo.get(k) != mt.get(k) {
                    row_fail.push(format!(
                        "METADATA {k}: ours {:?} theirs {:?}",
                        mo.get(k),
                        mt.get(k)
                    ));
                }
            }
        }
        let (ro, rt) = (
            record_outside_dist_info(&ours_w),
            record_outside_dist_info(&theirs_w),
        );
        let record_ok = ro == rt;
        if !record_ok {
            row_fail.push(format!("RECORD: {}", diff(&ro, &rt)));
        }
        // 2. The published sdist.
        let (so, st) = (sdist_members(&out.join(&sname)), sdist_members(sdist));
        // `flit build` (the flit command, not flit_core's PEP 517 hook) adds every file
        // under version control to the sdist: a superset of what the backend selects.
        let full_fat = generator.starts_with("flit") && so.is_subset(&st) && so != st;
        let mut sdist_ok = so == st || full_fat;
        if !sdist_ok {
            row_fail.push(format!("sdist members: {}", diff(&so, &st)));
        }
        // uv_build writes directory entries: the whole ordered list must be the same.
        let uv = generator.starts_with("uv ");
        let ordered = sdist_member_list(&out.join(&sname));
        if uv && ordered != sdist_member_list(sdist) {
            sdist_ok = false;
            row_fail.push(format!(
                "sdist member list: ours {ordered:?} theirs {:?}",
                sdist_member_list(sdist)
            ));
        }
        // 3. The pinned backend on the same source.
        let ref_w = zip_members(&reference_wheel);
        let ref_s = sdist_members(&only(refs, ".tar.gz"));
        let backend_ok = names(&ours_w) == names(&ref_w)
            && dist_info_file(&ours_w, "METADATA") == dist_info_file(&ref_w, "METADATA")
            && dist_info_file(&ours_w, "RECORD") == dist_info_file(&ref_w, "RECORD")
            && so == ref_s
            && (!uv || ordered == sdist_member_list(&only(refs, ".tar.gz")));
        if !backend_ok {
            row_fail.push(format!(
                "pinned backend: members {:?} vs {:?}\nMETADATA ours:\n{}\nMETADATA backend:\n{}\nsdist {}",
                names(&ours_w),
                names(&ref_w),
                String::from_utf8_lossy(dist_info_file(&ours_w, "METADATA")).lines().take(40).collect::<Vec<_>>().join("\n"),
                String::from_utf8_lossy(dist_info_file(&ref_w, "METADATA")).lines().take(40).collect::<Vec<_>>().join("\n"),
                diff(&so, &ref_s)
            ));
        }
        let mark = |b: bool| if b { "same" } else { "DIFFERENT" };
        table.push(format!(
            "| {name} {version} | {generator} | {} ({}) | {} ({}) | {} ({} files) | {} ({}) | {} |",
            mark(members_ok),
            ours_w.len(),
            mark(meta_ok),
            mo.len(),
            mark(record_ok),
            ro.len(),
            if full_fat {
                "subset: published by `flit build` with VCS files"
            } else {
                mark(sdist_ok)
            },
            so.len(),
            mark(backend_ok),
        ));
        let _ = root;
        if !row_fail.is_empty() {
            failures.push(format!("{name} {version}:\n  {}", row_fail.join("\n  ")));
        }
        outputs.push(out.join(&wname));
        outputs.push(out.join(&sname));
    }
    eprintln!("{}", table.join("\n"));

    // Every output passes twine check --strict and this crate's validator.
    let o = Command::new("python3")
        .args(["-m", "twine", "check", "--strict"])
        .args(&outputs)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "twine check --strict:\n{text}");
    assert_eq!(text.matches("PASSED").count(), outputs.len(), "{text}");
    for f in &outputs {
        let r = airlock_pypkg::validate::validate_path(f).unwrap();
        assert!(r.passed(), "{}: {:#?}", f.display(), r.findings);
    }
    // The published files were accepted by PyPI and pass twine: no false positives.
    for (_, _, _, _, _, _, sdist, wheel, _) in &cases {
        for f in [sdist, wheel] {
            let r = airlock_pypkg::validate::validate_path(f).unwrap();
            assert!(r.passed(), "published {}: {:#?}", f.display(), r.findings);
        }
    }
    // pip installs every wheel.
    let target = tmp.path().join("installed");
    let wheels: Vec<&Path> = outputs
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "whl"))
        .map(PathBuf::as_path)
        .collect();
    airlock_test_support::pip_install_wheels("conformance", &wheels, &target);

    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
