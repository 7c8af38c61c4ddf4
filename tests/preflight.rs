//! A release is published whole or not at all: the upload stage's pre-flight, end to end
//! (the real binary, the real components) against a stand-in for the rules only PyPI's
//! upload endpoint enforces (`airlock_test_support::pypi`, after warehouse's forklift:
//! archived projects, one sdist per release, the 14-day window, existing files), with PEP
//! 691 JSON pages carrying PEP 700 `upload-time` and PEP 792 `project-status`.
//!
//! Each refusal is shown twice: with the pre-flight nothing reaches the upload endpoint
//! (and a dry run says the same); without it (`check_existing = false`, `index_rules =
//! "none"`) the same index refuses a file mid-way, which is what the pre-flight prevents.
//! The fault plan with pypiserver (an index refusing the second of three files, then the
//! command that finishes the release) is in tests/publish.rs.

mod common;

use airlock_test_support::pypi::{HeldFile, PypiStandIn};
use airlock_test_support::{MYPYLOGGER_SDIST as SDIST, MYPYLOGGER_WHEEL as WHEEL, PypiServer};
use common::{assert_no_secret, dist_project, on_server, run, upload_files, upload_stage};

const TOKEN: &str = "pypi-AgEIcHlwaS5vcmcPreflightTestToken0042";
/// The second wheel of the release: the same wheel with a build tag (PEP 427).
const WHEEL_BUILD: &str = "mypylogger-0.2.8-1-py3-none-any.whl";

/// A project whose dist/ holds three files of mypylogger 0.2.8: two wheels and the sdist.
/// Upload order (wheels by name, then the sdist): WHEEL_BUILD, WHEEL, SDIST.
fn three_files() -> tempfile::TempDir {
    let dir = dist_project();
    std::fs::copy(
        dir.path().join("dist").join(WHEEL),
        dir.path().join("dist").join(WHEEL_BUILD),
    )
    .unwrap();
    dir
}

/// The token authenticate stage (optional: without PYPI_TOKEN nothing is stored) and the
/// upload stage with `extra` config.
fn manifest(repository: &str, extra: &str) -> String {
    let mut m = r#"
[pipeline]
name = "preflight-test"

[[stage]]
id = "authenticate"
component = "builtin:authenticate"
config = { mode = "token", env = "PYPI_TOKEN", optional = true }
[stage.grants]
env = ["PYPI_TOKEN"]
secrets = { produce = ["pypi-token"] }
"#
    .to_string();
    m.push_str(&upload_stage(
        repository,
        &format!(", retry = {{ retries = 1, base_s = 0.05, cap_s = 0.1 }}{extra}"),
        "",
    ));
    m
}

fn held(filename: &str, sha256: &str, filetype: &str) -> HeldFile {
    HeldFile {
        filename: filename.into(),
        sha256: sha256.into(),
        size: 1000,
        uploaded: 0,
        version: "0.2.8".into(),
        filetype: filetype.into(),
    }
}

const WITH: &str = r#", index_rules = "pypi", credential = "required""#;
const WITHOUT: &str = r#", check_existing = false, index_rules = "none", validate = false"#;

#[test]
fn the_preflight_refuses_what_the_index_would_refuse_halfway() {
    let other = "ab".repeat(32);
    type Setup = Box<dyn Fn(&PypiStandIn)>;
    // (case, what the index has, the rule, the files the index takes without the pre-flight)
    let cases: Vec<(&str, Setup, &str, Vec<&str>)> = vec![
        (
            "a conflicting file on the index (the second of three)",
            Box::new(move |p: &PypiStandIn| {
                p.hold("mypylogger", held(WHEEL, &other, "bdist_wheel"), 60)
            }),
            "exists-different",
            vec![WHEEL_BUILD],
        ),
        (
            "a second sdist",
            Box::new(|p: &PypiStandIn| {
                p.hold(
                    "mypylogger",
                    held("mypylogger-0.2.8.zip", &"cd".repeat(32), "sdist"),
                    60,
                )
            }),
            "one-sdist",
            vec![WHEEL_BUILD, WHEEL],
        ),
        (
            "an archived project",
            Box::new(|p: &PypiStandIn| p.set_status("mypylogger", "archived")),
            "project-status",
            vec![],
        ),
        (
            "an expired window",
            Box::new(|p: &PypiStandIn| {
                p.hold(
                    "mypylogger",
                    held(
                        "mypylogger-0.2.8-py2-none-any.whl",
                        &"ef".repeat(32),
                        "bdist_wheel",
                    ),
                    20 * 86_400,
                )
            }),
            "release-window",
            vec![],
        ),
    ];
    for (case, setup, rule, taken_without) in cases {
        let index = PypiStandIn::start(TOKEN, 100 << 20);
        setup(&index);
        let before = index.held();
        let dir = three_files();
        let env = [("PYPI_TOKEN", TOKEN)];

        // With the pre-flight, and as a dry run: refused, with nothing sent.
        for dry in ["", ", dry_run = true"] {
            let r = run(
                dir.path(),
                &manifest(&index.url(), &format!("{WITH}{dry}")),
                &env,
            );
            assert_eq!(r.code, Some(1), "{case}{dry}: {}", r.stderr);
            let f = r.failure("upload");
            assert_eq!(f["category"], "upload", "{case}{dry}: {f}");
            let said = r.said("upload");
            assert!(said.contains(&format!("[{rule}]")), "{case}{dry}: {said}");
            assert!(said.contains("nothing was uploaded"), "{case}{dry}: {said}");
            assert!(said.contains("would conflict"), "{case}{dry}: {said}");
            assert_eq!(said.starts_with("dry run:"), !dry.is_empty(), "{said}");
            assert!(index.posts().is_empty(), "{case}{dry}: {:?}", index.posts());
            assert_eq!(index.held(), before, "{case}{dry}");
            assert_no_secret(&r, dir.path(), &[TOKEN]);
        }

        // Without it, the index refuses a file mid-way: what the pre-flight prevented.
        let r = run(dir.path(), &manifest(&index.url(), WITHOUT), &env);
        assert_eq!(r.code, Some(1), "{case}: {}", r.stderr);
        let refused: Vec<(String, u16)> = index
            .posts()
            .into_iter()
            .filter(|(_, s)| *s >= 400)
            .collect();
        assert!(!refused.is_empty(), "{case}: {:?}", index.posts());
        let mut expected: Vec<String> = before.clone();
        expected.extend(taken_without.iter().map(|f| f.to_string()));
        expected.sort();
        assert_eq!(index.held(), expected, "{case}");
        let said = r.said("upload");
        if taken_without.is_empty() {
            assert!(
                said.contains("nothing of this release was published"),
                "{case}: {said}"
            );
        } else {
            assert!(
                said.contains(&format!("on the index: {}", taken_without.join(", "))),
                "{case}: {said}"
            );
        }
        let rerun = r.report["failure"]["rerun"].as_str().unwrap_or_default();
        let words = shlex::split(rerun).unwrap_or_default();
        assert!(
            words.ends_with(&["--only".to_string(), "authenticate,upload".to_string()]),
            "{case}: {rerun}"
        );
    }
}

#[test]
fn a_conflicting_file_on_pypiserver_stops_the_release_before_its_first_file() {
    // pypiserver already holds the second of the three files, with other bytes.
    let server = PypiServer::start(Some(("__token__", TOKEN)));
    let dir = three_files();
    std::fs::copy(
        dir.path().join("dist").join(SDIST),
        server.packages.join(WHEEL),
    )
    .unwrap();
    let before = on_server(&server);
    let env = [("PYPI_TOKEN", TOKEN)];
    for dry in ["", ", dry_run = true"] {
        let r = run(dir.path(), &manifest(&server.url(), dry), &env);
        assert_eq!(r.code, Some(1), "{}", r.stderr);
        let said = r.said("upload");
        assert!(
            said.contains(&format!("[exists-different] {WHEEL}")),
            "{said}"
        );
        assert!(
            said.contains(&format!("{WHEEL_BUILD}: would upload")),
            "{said}"
        );
        assert_eq!(on_server(&server), before, "nothing was uploaded");
    }
    // Without the pre-flight, pypiserver takes the first file and refuses the second.
    let r = run(dir.path(), &manifest(&server.url(), WITHOUT), &env);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert_eq!(on_server(&server).len(), before.len() + 1);
    assert!(
        r.said("upload")
            .contains(&format!("on the index: {WHEEL_BUILD}")),
        "{}",
        r.said("upload")
    );
}

#[test]
fn a_dry_run_plans_and_a_release_goes_wheels_first_with_its_hashes() {
    let index = PypiStandIn::start(TOKEN, 100 << 20);
    let dir = three_files();
    let env = [("PYPI_TOKEN", TOKEN)];
    let r = run(
        dir.path(),
        &manifest(&index.url(), &format!("{WITH}, dry_run = true")),
        &env,
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(upload_files(&r).iter().all(|(_, s)| s == "would-upload"));
    assert!(index.posts().is_empty());

    let r = run(dir.path(), &manifest(&index.url(), WITH), &env);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let order: Vec<String> = index.posts().into_iter().map(|(f, _)| f).collect();
    assert_eq!(
        order,
        vec![WHEEL_BUILD, WHEEL, SDIST],
        "wheels first, the sdist last"
    );
    assert!(index.posts().iter().all(|(_, s)| *s == 200));
    // Each file's sha256, as a step output (one line of JSON) and in the output.
    let hashes: serde_json::Value =
        serde_json::from_str(r.report["outputs"]["hashes"].as_str().unwrap()).unwrap();
    for f in [WHEEL_BUILD, WHEEL, SDIST] {
        let bytes = std::fs::read(dir.path().join("dist").join(f)).unwrap();
        let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
        assert_eq!(hashes[f], sha, "{f}");
        assert_eq!(r.output("upload")["sha256"][f], sha, "{f}");
    }
    // Again: all identical, nothing sent.
    let r = run(dir.path(), &manifest(&index.url(), WITH), &env);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(
        upload_files(&r)
            .iter()
            .all(|(_, s)| s == "skipped-identical")
    );
    assert_eq!(index.posts().len(), 3);
}

#[test]
fn a_missing_credential_is_refused_before_anything_is_sent() {
    let index = PypiStandIn::start(TOKEN, 100 << 20);
    let dir = three_files();
    for dry in ["", ", dry_run = true"] {
        // No PYPI_TOKEN: authenticate (optional) stores nothing, so nothing is injected.
        let r = run(
            dir.path(),
            &manifest(&index.url(), &format!("{WITH}{dry}")),
            &[],
        );
        assert_eq!(r.code, Some(1), "{}", r.stderr);
        assert_eq!(r.failure("upload")["category"], "authentication");
        let said = r.said("upload");
        assert!(said.contains("[credential]"), "{said}");
        assert!(said.contains("authenticate stage"), "{said}");
        assert!(index.posts().is_empty());
    }
    // Without the requirement, the index's 403 says it, on the first file.
    let r = run(
        dir.path(),
        &manifest(&index.url(), r#", credential = "optional""#),
        &[],
    );
    assert_eq!(r.code, Some(1));
    assert_eq!(r.failure("upload")["category"], "authentication");
    assert_eq!(index.posts(), vec![(WHEEL_BUILD.to_string(), 403)]);
}
