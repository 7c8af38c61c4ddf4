//! Against a real pypiserver on 127.0.0.1, installed back with pip.

mod common;

use std::time::Duration;

use airlock_publish::index::Index;
use airlock_publish::{Distribution, FileStatus};
use airlock_stage::Category;
use airlock_test_support::{
    MYPYLOGGER_SDIST as SDIST, MYPYLOGGER_WHEEL as WHEEL, PypiServer, fixtures,
};
use common::*;

#[test]
fn uploads_installs_skips_identical_and_refuses_different_content() {
    let fx = fixtures();
    let server = PypiServer::start(None);
    let url = server.url();
    let simple = format!("{url}simple/");
    let mut transport = Native::new(None);
    let mut sleeps = Vec::new();
    let mut index = Index::new(&url, &simple, &mut transport).with_sleep(|d| sleeps.push(d));

    let mut reports = Vec::new();
    for file in [WHEEL, SDIST] {
        let path = fx.join(file);
        let dist = Distribution::read(&path).unwrap();
        let mut last = (0, 0);
        let report = index
            .upload(&dist, &path, &mut |a, b| last = (a, b))
            .unwrap();
        assert_eq!(report.status, FileStatus::Uploaded, "{file}");
        assert_eq!(last.0, last.1);
        assert!(last.1 > dist.digests.size);
        reports.push((dist.metadata.name().to_string(), report));
    }
    index.verify(&reports).unwrap();

    // The index lists both files with the digests we computed.
    let listed = index.project_files("MyPyLogger").unwrap();
    assert_eq!(listed.len(), 2);
    for (_, r) in &reports {
        assert!(listed.iter().any(|l| l.filename == r.filename && l.sha256.as_deref() == Some(r.sha256.as_str())));
    }

    // The same file again: pypiserver answers 409, the digest matches: skipped.
    let wheel = fx.join(WHEEL);
    let dist = Distribution::read(&wheel).unwrap();
    assert_eq!(
        index.upload(&dist, &wheel, &mut |_, _| {}).unwrap().status,
        FileStatus::Skipped
    );

    // Same name, other bytes: an upload error that says so.
    let tmp = tempfile::tempdir().unwrap();
    let altered = altered_sdist(&fx, tmp.path());
    let dist = Distribution::read(&altered).unwrap();
    let err = index.upload(&dist, &altered, &mut |_, _| {}).unwrap_err();
    assert_eq!(err.category, Category::Upload, "{err}");
    assert!(err.message.contains("different content"), "{err}");
    assert!(!err.retryable);
    drop(index);
    assert!(sleeps.is_empty(), "nothing was retried: {sleeps:?}");
    assert_eq!(
        transport.sent.iter().filter(|(m, _)| m == "POST").count(),
        4
    );

    pip_install(&simple);
}

#[test]
fn credentials_are_classified_and_never_retried() {
    let fx = fixtures();
    let server = PypiServer::start(Some(("__token__", "pypi-right")));
    let url = server.url();
    let simple = format!("{url}simple/");
    let wheel = fx.join(WHEEL);
    let dist = Distribution::read(&wheel).unwrap();

    for (auth, status) in [
        (None, "401"),
        (Some(basic("__token__", "pypi-wrong")), "403"),
    ] {
        let mut transport = Native::new(auth);
        let mut sleeps: Vec<Duration> = Vec::new();
        let mut index = Index::new(&url, &simple, &mut transport).with_sleep(|d| sleeps.push(d));
        let err = index.upload(&dist, &wheel, &mut |_, _| {}).unwrap_err();
        drop(index);
        assert_eq!(err.category, Category::Authentication, "{err}");
        assert!(err.message.contains(status), "{err}");
        assert!(err.hint.is_some());
        assert!(!err.retryable);
        assert!(sleeps.is_empty());
        assert_eq!(
            transport.sent.len(),
            1,
            "one request, no retry: {:?}",
            transport.sent
        );
    }

    let mut transport = Native::new(Some(basic("__token__", "pypi-right")));
    let mut index = Index::new(&url, &simple, &mut transport);
    let report = index.upload(&dist, &wheel, &mut |_, _| {}).unwrap();
    assert_eq!(report.status, FileStatus::Uploaded);
    index.verify(&[("mypylogger".into(), report)]).unwrap();
    pip_install(&simple);
}
