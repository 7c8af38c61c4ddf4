//! End to end on the real mypylogger 0.2.8 sdist from PyPI:
//! - the whole pipeline with `--set decide.manual=true`, uploading to a real pypiserver on
//!   127.0.0.1 that requires the token (injected by the host), then pip installs it back;
//! - the token appears in no output, log or state file;
//! - the uploaded wheel compared with the wheel published on PyPI: the same file list, the
//!   same METADATA fields, the same RECORD hashes for the module files.

mod common;

use std::collections::BTreeMap;
use std::io::Read;

use airlock_test_support::{
    MYPYLOGGER_WHEEL, PypiServer, fixtures, pip_install, unpack_mypylogger,
};
use common::{airlock, all_files, report, stage};

const TOKEN: &str = "pypi-AgEIcHlwaS5vcmcAirlockTestToken0123456789";

fn manifest() -> String {
    airlock_test_support::workspace()
        .join("examples/mypylogger/release.toml")
        .to_str()
        .unwrap()
        .to_string()
}

#[test]
fn mypylogger_manual_release_uploads_installs_and_matches_the_published_wheel() {
    let tmp = tempfile::tempdir().unwrap();
    let project = unpack_mypylogger(tmp.path());
    let server = PypiServer::start(Some(("__token__", TOKEN)));
    let repo = format!("upload.repository={}", server.url());
    let release = || {
        airlock(
            &[
                "run",
                &manifest(),
                "--project",
                project.to_str().unwrap(),
                "--set",
                "decide.manual=true",
                "--set",
                "decide.tag=v0.2.8",
                "--set",
                &repo,
                "--format",
                "json",
            ],
            &[("PYPI_TOKEN", TOKEN)],
        )
    };
    let out = release();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let r = report(&out);
    assert_eq!(out.status.code(), Some(0), "stderr:\n{stderr}");
    let decide = &stage(&r, "decide")["output"];
    assert_eq!(decide["release"], true);
    assert_eq!(decide["trigger"], "manual");
    assert_eq!(decide["version"], "0.2.8");
    // The original system's verdict on its own reports: grade B, three medium advisories.
    assert_eq!(stage(&r, "status")["output"]["grade"], "B");
    let files = stage(&r, "upload")["output"]["files"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(files.len(), 2);
    assert!(files.iter().all(|f| f["status"] == "uploaded"), "{files:?}");
    assert_eq!(stage(&r, "upload")["output"]["verified"], true);
    assert!(
        server.packages.join(MYPYLOGGER_WHEEL).is_file(),
        "the wheel is not on the server"
    );

    // The token is nowhere: not in stdout, stderr, the state folder or any written file.
    assert!(
        !stdout.contains(TOKEN) && !stderr.contains(TOKEN),
        "the token leaked into the run output"
    );
    for (path, bytes) in all_files(&project.join(".airlock"))
        .into_iter()
        .chain(all_files(&project.join("public")))
    {
        assert!(
            !String::from_utf8_lossy(&bytes).contains(TOKEN),
            "the token leaked into {}",
            path.display()
        );
    }

    pip_install(&server.simple(), "mypylogger==0.2.8", "mypylogger");
    assert_matches_published_wheel(&server.packages.join(MYPYLOGGER_WHEEL));

    // A second run publishes nothing new: the status page the first run wrote is not in the
    // rebuilt sdist (status runs after build and writes under .airlock), so both files are
    // identical to what the index has and are skipped, not refused as conflicts.
    let again = release();
    let r2 = report(&again);
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let files = stage(&r2, "upload")["output"]["files"]
        .as_array()
        .unwrap()
        .clone();
    assert!(
        files.iter().all(|f| f["status"] == "skipped-identical"),
        "{files:?}"
    );
}

#[test]
fn mypylogger_without_a_token_is_refused_by_the_index_with_a_hint() {
    let tmp = tempfile::tempdir().unwrap();
    let project = unpack_mypylogger(tmp.path());
    let server = PypiServer::start(Some(("__token__", TOKEN)));
    let repo = format!("upload.repository={}", server.url());
    let out = airlock(
        &[
            "run",
            &manifest(),
            "--project",
            project.to_str().unwrap(),
            "--set",
            "decide.manual=true",
            "--set",
            &repo,
            "--format",
            "json",
        ],
        &[("PYPI_TOKEN", "pypi-wrong-token-value")],
    );
    let r = report(&out);
    assert_eq!(out.status.code(), Some(1));
    let failure = &stage(&r, "upload")["failure"];
    assert_eq!(failure["category"], "authentication", "{failure}");
    assert!(failure["hint"].is_string());
    assert!(!String::from_utf8_lossy(&out.stdout).contains("pypi-wrong-token-value"));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("pypi-wrong-token-value"));
}

/// (3): the wheel the pipeline built and uploaded, against the wheel published on PyPI.
fn assert_matches_published_wheel(uploaded: &std::path::Path) {
    let built = read_wheel(&std::fs::read(uploaded).unwrap());
    let published = read_wheel(&std::fs::read(fixtures().join(MYPYLOGGER_WHEEL)).unwrap());

    // The same file list.
    assert_eq!(
        built.keys().collect::<Vec<_>>(),
        published.keys().collect::<Vec<_>>()
    );
    // The same core metadata fields.
    let meta = "mypylogger-0.2.8.dist-info/METADATA";
    assert_eq!(headers(&built[meta]), headers(&published[meta]));
    assert_eq!(body(&built[meta]), body(&published[meta]));
    // The same RECORD hashes for the module files.
    let record = "mypylogger-0.2.8.dist-info/RECORD";
    let rows = |r: &[u8]| -> BTreeMap<String, String> {
        String::from_utf8_lossy(r)
            .lines()
            .filter(|l| l.starts_with("mypylogger/"))
            .map(|l| {
                let mut parts = l.split(',');
                (
                    parts.next().unwrap().to_string(),
                    parts.next().unwrap().to_string(),
                )
            })
            .collect()
    };
    let (b, p) = (rows(&built[record]), rows(&published[record]));
    assert_eq!(b.len(), 6, "{b:?}");
    assert_eq!(b, p);
}

fn read_wheel(bytes: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut out = BTreeMap::new();
    for i in 0..z.len() {
        let mut f = z.by_index(i).unwrap();
        let mut data = Vec::new();
        f.read_to_end(&mut data).unwrap();
        out.insert(f.name().unwrap().to_string(), data);
    }
    out
}

/// Core metadata header fields (name, value), in order; the body after the blank line is
/// the description.
fn headers(meta: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(meta);
    let head = text.split("\n\n").next().unwrap();
    head.lines()
        .filter_map(|l| {
            l.split_once(": ")
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect()
}

fn body(meta: &[u8]) -> String {
    let text = String::from_utf8_lossy(meta);
    text.split_once("\n\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}
