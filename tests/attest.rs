//! PEP 740 attestations end to end: the real attest component, run by the real host, signs
//! with its own ephemeral key against loopback stand-ins of GitHub's ID-token endpoint,
//! Fulcio and Rekor (tests/support: a CA issuing Fulcio's GitHub identity certificates with
//! an embedded SCT, a Rekor with a real Merkle tree, signed checkpoints and SETs). What it
//! produces is verified by PyPA's own libraries (pypi-attestations and sigstore-python, from
//! target/venv, given the stand-ins' trusted root; tests/pypa_verify.py) and by
//! `airlock verify`; both must refuse a tampered envelope, a statement whose digest is
//! another file's, a certificate for another repository or workflow, and an inclusion proof
//! that does not match its checkpoint.

mod common;

use std::path::{Path, PathBuf};

use airlock_test_support::github::{ACTIONS_REQUEST_TOKEN, GithubOidc, IdTokenSpec};
use airlock_test_support::{ReleaseStandins, Sigstore};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::*;

const WHEEL: &str = airlock_test_support::MYPYLOGGER_WHEEL;
const SDIST: &str = airlock_test_support::MYPYLOGGER_SDIST;

/// The attest stage (after a build stage when `build`), granted the stand-ins.
fn manifest(gh: &GithubOidc, sg: &Sigstore, build: bool) -> String {
    let mut m = String::from(
        r#"
[pipeline]
name = "attest-test"

[secrets]
actions-request-token = { env = "ACTIONS_ID_TOKEN_REQUEST_TOKEN" }
"#,
    );
    if build {
        m.push_str(
            r#"
[[stage]]
id = "build"
component = "builtin:build"
config = { out = "dist" }
[stage.grants]
files = [{ path = ".", access = "read" }, { path = "dist", access = "write" }]
"#,
        );
    }
    m.push_str(&format!(
        r#"
[[stage]]
id = "attest"
component = "builtin:attest"
{needs}
config = {{ mode = "required", fulcio = "{fulcio}", rekor = "{rekor}", actions_origin = "{actions}" }}
[stage.grants]
files = [{{ path = "dist", access = "write" }}]
env = ["GITHUB_ACTIONS", "ACTIONS_ID_TOKEN_REQUEST_URL", "GITHUB_EVENT_NAME", "GITHUB_REPOSITORY", "GITHUB_HEAD_REF"]
http = ["{{config.fulcio}}", "{{config.rekor}}", "{{config.actions_origin}}"]
secrets = {{ inject = [{{ secret = "actions-request-token", into = "{{config.actions_origin}}", as = "bearer" }}] }}
"#,
        needs = if build { "needs = [\"build\"]" } else { "" },
        fulcio = sg.fulcio_url(),
        rekor = sg.rekor_url(),
        actions = gh.origin(),
    ));
    m
}

fn python() -> PathBuf {
    let venv = std::env::var_os("VIRTUAL_ENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| airlock_test_support::workspace().join("target/venv"));
    let py = venv.join("bin/python");
    assert!(
        py.is_file(),
        "{} is missing: run scripts/test (it installs sigstore and pypi-attestations)",
        py.display()
    );
    py
}

/// PyPA's verdict on each (dist, attestation) pair: Ok(predicate type) or Err(message).
fn pypa_verify(
    root: &Path,
    repository: &str,
    workflow: &str,
    pairs: &[(&Path, &Path)],
) -> Vec<Result<String, String>> {
    let script = airlock_test_support::workspace().join("tests/pypa_verify.py");
    let mut cmd = std::process::Command::new(python());
    cmd.arg(script).arg(root).arg(repository).arg(workflow);
    for (d, a) in pairs {
        cmd.arg(d).arg(a);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "pypa_verify.py failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), pairs.len(), "{stdout}");
    lines
        .into_iter()
        .map(|l| {
            if l["ok"] == true {
                Ok(l["predicate_type"].as_str().unwrap().to_string())
            } else {
                Err(l["error"].as_str().unwrap().to_string())
            }
        })
        .collect()
}

/// `airlock verify` on one file with one attestation: (exit code, stdout + stderr).
fn airlock_verify(
    root: &Path,
    repository: &str,
    workflow: &str,
    dist: &Path,
    att: &Path,
) -> (i32, String) {
    let out = airlock(
        &[
            "verify",
            dist.to_str().unwrap(),
            "--attestation",
            att.to_str().unwrap(),
            "--trusted-root",
            root.to_str().unwrap(),
            "--repository",
            repository,
            "--workflow",
            workflow,
        ],
        &[],
    );
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Runs the attest stage (after the build when `build`) in `project` as the job `spec`
/// describes; the run's report.
fn attest(project: &Path, sg: &Sigstore, spec: IdTokenSpec, build: bool) -> (Run, GithubOidc) {
    let gh = GithubOidc::start(spec);
    let env = gh.actions_env();
    let r = run(project, &manifest(&gh, sg, build), &envs(&env));
    assert_eq!(r.code, Some(0), "{}\n{}", r.stderr, r.stdout);
    (r, gh)
}

#[test]
fn attestations_signed_in_the_sandbox_verify_with_pypas_libraries_and_airlock_verify() {
    let sg = Sigstore::start();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("trusted_root.json");
    sg.write_trusted_root(&root).unwrap();
    let project = airlock_test_support::unpack_mypylogger(tmp.path());
    let (r, gh) = attest(&project, &sg, IdTokenSpec::default(), true);

    // Four attestations: publish and SLSA provenance for each of the two files built.
    let out = r.output("attest");
    assert_eq!(out["attested"], true, "{out}");
    assert_eq!(out["identity"]["repository"], "octo/mypylogger");
    assert_eq!(out["identity"]["workflow"], "release.yml");
    assert_eq!(out["identity"]["ref"], "refs/tags/v0.2.8");
    let atts = out["attestations"].as_array().unwrap();
    assert_eq!(atts.len(), 4, "{out}");
    let dist = project.join("dist");
    let mut pairs = Vec::new();
    for file in [WHEEL, SDIST] {
        for kind in ["publish", "slsa"] {
            let a = dist.join(format!("{file}.{kind}.attestation"));
            assert!(a.is_file(), "{} missing", a.display());
            pairs.push((dist.join(file), a));
        }
    }
    // One certificate for the run, one log entry per attestation.
    assert_eq!(sg.certificates().len(), 1);
    assert_eq!(sg.entries().len(), 4);
    // The signing key never leaves the component, and no token reaches a log or a file.
    let jwt = gh.issued()[0].clone();
    assert_no_secret(&r, &project, &[ACTIONS_REQUEST_TOKEN, &jwt]);
    for (path, bytes) in all_files(&project.join(".airlock"))
        .into_iter()
        .chain(all_files(&dist))
    {
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("PRIVATE KEY"), "a key in {}", path.display());
    }
    assert!(!r.stdout.contains("PRIVATE KEY") && !r.stderr.contains("PRIVATE KEY"));

    // PyPA's libraries accept every one of them.
    let refs: Vec<(&Path, &Path)> = pairs
        .iter()
        .map(|(d, a)| (d.as_path(), a.as_path()))
        .collect();
    let verdicts = pypa_verify(&root, "octo/mypylogger", "release.yml", &refs);
    let types: Vec<String> = verdicts.into_iter().map(|v| v.unwrap()).collect();
    assert_eq!(
        types,
        [
            "https://docs.pypi.org/attestations/publish/v1",
            "https://slsa.dev/provenance/v1",
            "https://docs.pypi.org/attestations/publish/v1",
            "https://slsa.dev/provenance/v1"
        ]
    );
    // The SLSA predicate describes airlock's build.
    let slsa: serde_json::Value = {
        let a: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&pairs[1].1).unwrap()).unwrap();
        let st = STANDARD
            .decode(a["envelope"]["statement"].as_str().unwrap())
            .unwrap();
        serde_json::from_slice::<serde_json::Value>(&st).unwrap()["predicate"].clone()
    };
    assert_eq!(
        slsa["buildDefinition"]["internalParameters"]["backend"],
        "hatchling"
    );
    assert_eq!(
        slsa["buildDefinition"]["externalParameters"]["version"],
        "0.2.8"
    );

    // airlock verify accepts them too, files with their attestations beside them.
    let out = airlock(
        &[
            "verify",
            dist.join(WHEEL).to_str().unwrap(),
            dist.join(SDIST).to_str().unwrap(),
            "--trusted-root",
            root.to_str().unwrap(),
            "--repository",
            "octo/mypylogger",
            "--workflow",
            "release.yml",
            "--ref",
            "refs/tags/v0.2.8",
        ],
        &[],
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(said.matches("OK ").count(), 4, "{said}");
    // Without the stand-ins' root (Sigstore's public-good root), nothing verifies.
    let out = airlock(
        &[
            "verify",
            dist.join(WHEEL).to_str().unwrap(),
            "--repository",
            "octo/mypylogger",
            "--workflow",
            "release.yml",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("REFUSED"));
}

#[test]
fn tampered_misdirected_and_foreign_attestations_are_refused_by_both_verifiers() {
    let sg = Sigstore::start();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("trusted_root.json");
    sg.write_trusted_root(&root).unwrap();

    // The real files, attested by the expected workflow.
    let good = dist_project();
    attest(good.path(), &sg, IdTokenSpec::default(), false);
    let dist = good.path().join("dist");
    let (wheel, sdist) = (dist.join(WHEEL), dist.join(SDIST));
    let wheel_att = dist.join(format!("{WHEEL}.publish.attestation"));
    let sdist_att = dist.join(format!("{SDIST}.publish.attestation"));

    // A genuinely signed statement that names the sdist but carries the wheel's digest: the
    // attest stage run on an sdist-named copy of the wheel's bytes.
    let other = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(other.path().join("dist")).unwrap();
    std::fs::copy(&wheel, other.path().join("dist").join(SDIST)).unwrap();
    attest(other.path(), &sg, IdTokenSpec::default(), false);
    let wrong_digest = other
        .path()
        .join("dist")
        .join(format!("{SDIST}.publish.attestation"));

    // Attestations from another repository, and from another workflow of this one.
    let fork = dist_project();
    attest(
        fork.path(),
        &sg,
        IdTokenSpec {
            repository: "evil/mypylogger".into(),
            ..IdTokenSpec::default()
        },
        false,
    );
    let fork_att = fork
        .path()
        .join("dist")
        .join(format!("{WHEEL}.publish.attestation"));
    let ci = dist_project();
    attest(
        ci.path(),
        &sg,
        IdTokenSpec {
            workflow: ".github/workflows/ci.yml".into(),
            ..IdTokenSpec::default()
        },
        false,
    );
    let ci_att = ci
        .path()
        .join("dist")
        .join(format!("{WHEEL}.publish.attestation"));

    let edit = |src: &Path, name: &str, f: &dyn Fn(&mut serde_json::Value)| -> PathBuf {
        let mut v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(src).unwrap()).unwrap();
        f(&mut v);
        let p = tmp.path().join(name);
        std::fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
        p
    };
    // A tampered envelope: one bit of the signature flipped.
    let tampered = edit(&wheel_att, "tampered.attestation", &|v| {
        let mut sig = STANDARD
            .decode(v["envelope"]["signature"].as_str().unwrap())
            .unwrap();
        let n = sig.len() - 3;
        sig[n] ^= 1;
        v["envelope"]["signature"] = STANDARD.encode(sig).into();
    });
    // The wheel's entry (logged first) with the checkpoint of a later, larger tree: the
    // proof's root is not the checkpoint's.
    let later: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&ci_att).unwrap()).unwrap();
    let later_checkpoint =
        later["verification_material"]["transparency_entries"][0]["inclusionProof"]["checkpoint"]
            .clone();
    let proof = edit(&wheel_att, "proof.attestation", &|v| {
        v["verification_material"]["transparency_entries"][0]["inclusionProof"]["checkpoint"] =
            later_checkpoint.clone();
    });

    // (what, dist, attestation, what airlock must name)
    let cases: [(&str, &Path, &Path, &str); 6] = [
        ("tampered envelope", &wheel, &tampered, "signature:"),
        ("another file's digest", &sdist, &wrong_digest, "statement:"),
        (
            "another file's attestation",
            &sdist,
            &wheel_att,
            "statement:",
        ),
        (
            "another repository",
            &wheel,
            &fork_att,
            "identity: signed by repository evil/mypylogger",
        ),
        (
            "another workflow",
            &wheel,
            &ci_att,
            "identity: signed by workflow ci.yml",
        ),
        (
            "proof against another checkpoint",
            &wheel,
            &proof,
            "inclusion proof:",
        ),
    ];
    // The controls pass with both verifiers: what is refused is what was changed.
    let control = pypa_verify(
        &root,
        "octo/mypylogger",
        "release.yml",
        &[(&wheel, &wheel_att), (&sdist, &sdist_att)],
    );
    assert!(control.iter().all(|c| c.is_ok()), "{control:?}");
    let pairs: Vec<(&Path, &Path)> = cases.iter().map(|(_, d, a, _)| (*d, *a)).collect();
    let verdicts = pypa_verify(&root, "octo/mypylogger", "release.yml", &pairs);
    for ((what, dist, att, names), verdict) in cases.iter().zip(verdicts) {
        assert!(
            verdict.is_err(),
            "PyPA's verifier accepted {what}: {verdict:?}"
        );
        let (code, said) = airlock_verify(&root, "octo/mypylogger", "release.yml", dist, att);
        assert_eq!(code, 1, "airlock verify on {what}: {said}");
        assert!(
            said.contains("REFUSED") && said.contains(names),
            "{what}: {said}"
        );
    }
    // The foreign attestations verify for the identity that made them.
    let (code, said) = airlock_verify(&root, "evil/mypylogger", "release.yml", &wheel, &fork_att);
    assert_eq!(code, 0, "{said}");
    let (code, said) = airlock_verify(&root, "octo/mypylogger", "ci.yml", &wheel, &ci_att);
    assert_eq!(code, 0, "{said}");
}

#[test]
fn a_job_without_id_token_permission_is_told_what_to_add() {
    let sg = Sigstore::start();
    let gh = GithubOidc::start(IdTokenSpec::default());
    let project = dist_project();
    // On Actions, but without ACTIONS_ID_TOKEN_REQUEST_URL (no `id-token: write`).
    let env = [("GITHUB_ACTIONS", "true"), ("GITHUB_EVENT_NAME", "push")];
    let r = run(project.path(), &manifest(&gh, &sg, false), &env);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    let said = r.said("attest");
    assert!(said.contains("id-token: write"), "{said}");
    assert!(sg.requests().is_empty(), "{:?}", sg.requests());
    // mode = "auto" skips instead, and says why.
    let m = manifest(&gh, &sg, false).replace("mode = \"required\"", "mode = \"auto\"");
    let r = run(project.path(), &m, &env);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(r.output("attest")["attested"], false);
    assert!(r.stderr.contains("not attesting"), "{}", r.stderr);
    // An unreachable transparency log is named as such.
    let dead = airlock_test_support::free_port();
    let m = manifest(&gh, &sg, false)
        .replace(&sg.rekor_url(), &format!("http://127.0.0.1:{dead}"))
        .replace(
            "mode = \"required\"",
            "mode = \"required\", retry = { retries = 1, base_s = 0.1 }",
        );
    let genv = gh.actions_env();
    let r = run(project.path(), &m, &envs(&genv));
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    let said = r.said("attest");
    assert!(
        said.contains("transparency log") && said.contains("could not be reached"),
        "{said}"
    );
}

/// The settings `sigstore-standins` prints, parsed as a shell would take them: the
/// `export` line's variables and the `--set` arguments.
fn printed_settings(s: &ReleaseStandins, root: &Path) -> (Vec<(String, String)>, Vec<String>) {
    let text = s.instructions(root);
    let mut lines = text.lines();
    let env = lines
        .next()
        .unwrap()
        .strip_prefix("export ")
        .unwrap()
        .split(' ')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k.to_string(), v.trim_matches('\'').to_string())
        })
        .collect();
    let sets = lines
        .next()
        .unwrap()
        .split("--set ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    (env, sets)
}

fn release(project: &Path, env: &[(String, String)], sets: &[String]) -> std::process::Output {
    let manifest = airlock_test_support::workspace().join("examples/mypylogger/release.toml");
    let mut args = vec![
        "run".to_string(),
        manifest.to_str().unwrap().into(),
        "--project".into(),
        project.to_str().unwrap().into(),
        "--set".into(),
        "decide.manual=true".into(),
        "--set".into(),
        "decide.tag=v0.2.8".into(),
        "--format".into(),
        "json".into(),
    ];
    for s in sets {
        args.push("--set".into());
        args.push(s.clone());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    airlock(&args, &env)
}

/// mypylogger's own pipeline (examples/mypylogger/release.toml) with the settings
/// `sigstore-standins` prints: built, attested in the sandbox, uploaded with its
/// attestations to an index that keeps them, installed by pip, and verified from the index
/// by `airlock verify` (publisher and environment included).
#[test]
fn mypylogger_is_built_attested_uploaded_and_verified_from_the_index() {
    let s = ReleaseStandins::start();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("trusted_root.json");
    s.sigstore.write_trusted_root(&root).unwrap();
    let project = airlock_test_support::unpack_mypylogger(tmp.path());
    let (env, sets) = printed_settings(&s, &root);
    assert_eq!(sets.len(), 5, "{sets:?}");
    let out = release(&project, &env, &sets);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let r = report(&out);
    assert_eq!(
        stage(&r, "attest")["output"]["attestations"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    let upload = &stage(&r, "upload")["output"];
    for f in upload["files"].as_array().unwrap() {
        assert_eq!(f["status"], "uploaded", "{f}");
        assert_eq!(f["attestations"], 2, "{f}");
        assert_eq!(
            f["provenance"]["publisher"]["repository"], "octo/mypylogger",
            "{f}"
        );
    }
    // The index received each file's publish and SLSA attestations.
    let got = s.pypi.attestations();
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got.iter().all(|(_, a)| a.len() == 2), "{got:?}");
    // pip installs what was uploaded.
    airlock_test_support::pip_install(&s.simple(), "mypylogger==0.2.8", "mypylogger");
    // No token in the run's output (on GitHub Actions the host asks the runner to mask each
    // secret with `::add-mask::`, the one place a value is meant to appear).
    let unmasked = |t: &str| {
        t.lines()
            .filter(|l| !l.starts_with("::add-mask::"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let (stdout, stderr) = (unmasked(&stdout), unmasked(&stderr));
    let jwt = s.github.issued()[0].clone();
    for secret in [
        airlock_test_support::standins::PYPI_TOKEN,
        ACTIONS_REQUEST_TOKEN,
        jwt.as_str(),
    ] {
        for (name, text) in [("stdout", &stdout), ("stderr", &stderr)] {
            if let Some(i) = text.find(secret) {
                let a = text[..i]
                    .char_indices()
                    .rev()
                    .nth(300)
                    .map_or(0, |(j, _)| j);
                panic!(
                    "a secret leaked into {name}: …{}",
                    &text[a..(i + 200).min(text.len())]
                );
            }
        }
    }

    // airlock verify, from the index: files, provenance, publisher, environment.
    let s_simple = s.simple();
    let verify = |extra: &[&str]| {
        let mut args = vec![
            "verify",
            "mypylogger==0.2.8",
            "--index",
            &s_simple,
            "--trusted-root",
            root.to_str().unwrap(),
            "--repository",
            "octo/mypylogger",
            "--workflow",
            "release.yml",
        ];
        args.extend_from_slice(extra);
        let out = airlock(&args, &[]);
        (
            out.status.code(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (code, said) = verify(&["--environment", "pypi", "--ref", "refs/tags/v0.2.8"]);
    assert_eq!(code, Some(0), "{said}");
    assert_eq!(said.matches("OK ").count(), 4, "{said}");
    let (code, said) = verify(&["--environment", "staging"]);
    assert_eq!(code, Some(1), "{said}");
    assert!(
        said.contains("environment pypi, expected staging"),
        "{said}"
    );
    let (code, said) = verify(&["--ref", "refs/tags/v9"]);
    assert_eq!(code, Some(1), "{said}");
    assert!(
        said.contains("signed on ref refs/tags/v0.2.8, expected refs/tags/v9"),
        "{said}"
    );

    // An index whose trusted publisher is not the workflow that signed: the upload stage
    // refuses what it reads back.
    let other = ReleaseStandins::start();
    other
        .pypi
        .set_publisher("octo/other", "release.yml", "pypi");
    std::fs::create_dir_all(tmp.path().join("again")).unwrap();
    let project = airlock_test_support::unpack_mypylogger(&tmp.path().join("again"));
    let (env, sets) = printed_settings(&other, &root);
    let out = release(&project, &env, &sets);
    assert_eq!(out.status.code(), Some(1));
    let r = report(&out);
    let msg = stage(&r, "upload")["failure"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        msg.contains("publisher octo/other") && msg.contains("repository octo/mypylogger"),
        "{msg}"
    );
}

/// `airlock verify` on real attestations from Sigstore's public-good instance, with the
/// trusted root bundled in the binary: a GitLab.com pipeline's (pypi-attestations' test
/// asset, in crates/attest/tests/fixtures), accepted for its project and CI file only.
#[test]
fn airlock_verify_accepts_a_real_gitlab_attestation_for_its_pipeline_only() {
    let fixtures = airlock_test_support::workspace().join("crates/attest/tests/fixtures");
    let file = fixtures.join("gitlab_oidc_project-0.0.3.tar.gz");
    let verify = |repository: &str, workflow: &str, forge: &str| {
        let out = airlock(
            &[
                "verify",
                file.to_str().unwrap(),
                "--forge",
                forge,
                "--repository",
                repository,
                "--workflow",
                workflow,
            ],
            &[],
        );
        (
            out.status.code(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (code, said) = verify("facutuesca/gitlab-oidc-project", ".gitlab-ci.yml", "gitlab");
    assert_eq!(code, Some(0), "{said}");
    assert!(said.starts_with("OK "), "{said}");
    assert!(
        said.contains("repository facutuesca/gitlab-oidc-project, workflow .gitlab-ci.yml"),
        "{said}"
    );
    let (code, said) = verify("facutuesca/other", ".gitlab-ci.yml", "gitlab");
    assert_eq!(code, Some(1), "{said}");
    assert!(
        said.contains("identity: signed by repository facutuesca/gitlab-oidc-project"),
        "{said}"
    );
    let (code, said) = verify("facutuesca/gitlab-oidc-project", ".gitlab-ci.yml", "github");
    assert_eq!(code, Some(1), "{said}");
    assert!(said.contains("not GitHub"), "{said}");
}
