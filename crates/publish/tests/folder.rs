//! The file: repository, installed from with pip.

mod common;

use airlock_publish::{Distribution, FileStatus, folder};
use airlock_stage::Category;
use airlock_test_support::{MYPYLOGGER_SDIST as SDIST, MYPYLOGGER_WHEEL as WHEEL, fixtures};
use common::*;

#[test]
fn publishes_a_static_index_pip_installs_from() {
    let fx = fixtures();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("index");
    let mut reports = Vec::new();
    for file in [WHEEL, SDIST] {
        let dist = Distribution::read(&fx.join(file)).unwrap();
        let r = folder::publish(&root, &fx.join(file), &dist).unwrap();
        assert_eq!(r.status, FileStatus::Uploaded);
        reports.push((dist.metadata.name().to_string(), r));
    }
    folder::verify(&root, &reports).unwrap();

    let html = std::fs::read_to_string(root.join("simple/mypylogger/index.html")).unwrap();
    assert!(html.contains("data-requires-python=\"&gt;=3.8\""), "{html}");
    assert!(html.contains(&format!(
        "href=\"../../packages/{WHEEL}#sha256={}\"",
        reports[0].1.sha256
    )));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("simple/mypylogger/index.json")).unwrap())
            .unwrap();
    assert_eq!(json["meta"]["api-version"], "1.1");
    assert_eq!(json["files"].as_array().unwrap().len(), 2);
    assert_eq!(json["versions"], serde_json::json!(["0.2.8"]));
    let root_json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("simple/index.json")).unwrap()).unwrap();
    assert_eq!(
        root_json["projects"],
        serde_json::json!([{ "name": "mypylogger" }])
    );
    assert!(
        std::fs::read_to_string(root.join("simple/index.html"))
            .unwrap()
            .contains("href=\"mypylogger/\"")
    );

    // Again: skipped. Different bytes under the same name: refused, original kept.
    let dist = Distribution::read(&fx.join(SDIST)).unwrap();
    assert_eq!(
        folder::publish(&root, &fx.join(SDIST), &dist)
            .unwrap()
            .status,
        FileStatus::Skipped
    );
    let other = tempfile::tempdir().unwrap();
    let altered = altered_sdist(&fx, other.path());
    let adist = Distribution::read(&altered).unwrap();
    let err = folder::publish(&root, &altered, &adist).unwrap_err();
    assert_eq!(err.category, Category::Upload);
    assert!(err.message.contains("different content"), "{err}");
    assert_eq!(
        airlock_publish::dist::digest_file(&root.join("packages").join(SDIST))
            .unwrap()
            .sha256,
        dist.digests.sha256
    );

    pip_install(&format!("file://{}", root.join("simple").display()));
}
