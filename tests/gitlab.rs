//! Trusted publishing from GitLab CI, end to end (the real binary and components): a job's
//! `id_tokens:` variable (`airlock_test_support::gitlab`, GitLab's documented claims), a
//! PyPI that trusts one GitLab publisher and checks the claims as warehouse does, and a
//! real pypiserver that takes only the minted token; pip installs what was uploaded.

mod common;

use airlock_test_support::gitlab::{GitlabJob, GitlabPublisher, PypiGitlab};
use airlock_test_support::{PypiServer, pip_install};
use common::{assert_no_secret, dist_project, envs, on_server, run, upload_files, upload_stage};

const MINTED: &str = "pypi-AgEIcHlwaS5vcmcMintedForGitLabCi0077";

/// authenticate (trusted, GitLab) → upload. The ID token variable is also a `[secrets]`
/// entry, so the host masks it in every output.
fn manifest(index: &str, repository: &str) -> String {
    let mut m = format!(
        r#"
[pipeline]
name = "gitlab-trusted"

[secrets]
gitlab-id-token = {{ env = "PYPI_ID_TOKEN" }}

[[stage]]
id = "authenticate"
component = "builtin:authenticate"
config = {{ mode = "auto", index = "{index}" }}
[stage.grants]
http = ["{{config.index}}"]
env = ["GITLAB_CI", "PYPI_ID_TOKEN", "GITHUB_ACTIONS", "ACTIONS_ID_TOKEN_REQUEST_URL"]
secrets = {{ produce = ["pypi-token"] }}
"#
    );
    m.push_str(&upload_stage(repository, "", ""));
    m
}

#[test]
fn a_gitlab_job_id_token_mints_the_upload_token_and_pip_installs() {
    let pypi = PypiGitlab::start(GitlabPublisher::default(), MINTED);
    let server = PypiServer::start(Some(("__token__", MINTED)));
    let dir = dist_project();
    let job = GitlabJob::default();
    let env = job.env();
    let r = run(
        dir.path(),
        &manifest(&pypi.url(), &server.url()),
        &envs(&env),
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let auth = r.output("authenticate");
    assert_eq!(auth["mode"], "trusted", "{auth}");
    assert_eq!(auth["source"], "gitlab-oidc");
    assert_eq!(auth["claims"]["project_path"], "octo/mypylogger");
    assert_eq!(
        auth["claims"]["ci_config_ref_uri"],
        "gitlab.com/octo/mypylogger//.gitlab-ci.yml@refs/tags/v0.2.8"
    );
    assert!(r.stderr.contains("mode auto: on GitLab CI"), "{}", r.stderr);
    // This index offers no burn-token endpoint: the host says so, the run still succeeds.
    assert!(
        r.stderr
            .contains("answered 404 (the index does not offer revocation)"),
        "{}",
        r.stderr
    );
    assert!(upload_files(&r).iter().all(|(_, s)| s == "uploaded"));
    assert_eq!(on_server(&server).len(), 2);
    assert_eq!(
        *pypi.log.lock().unwrap(),
        vec![
            "GET /_/oidc/audience",
            "POST /_/oidc/mint-token",
            "POST /_/oidc/burn-token"
        ]
    );
    let id_token = job.id_token("pypi");
    assert_no_secret(&r, dir.path(), &[MINTED, &env[3].1]);
    // The claims differ only in iat/exp/jti from the run's token: its signature part and
    // header are the same, and neither the payload nor the whole token may appear.
    assert!(!r.stderr.contains(id_token.split('.').nth(1).unwrap()));
    pip_install(&server.simple(), "mypylogger==0.2.8", "mypylogger");
}

#[test]
fn gitlab_failures_say_what_to_fix() {
    let pypi = PypiGitlab::start(GitlabPublisher::default(), MINTED);
    let server = PypiServer::start(Some(("__token__", MINTED)));
    let dir = dist_project();
    let m = manifest(&pypi.url(), &server.url());
    let trusted = m.replace("mode = \"auto\"", "mode = \"trusted\"");

    // No id_tokens: entry in the job.
    let r = run(dir.path(), &trusted, &[("GITLAB_CI", "true")]);
    assert_eq!(r.code, Some(1));
    let said = r.said("authenticate");
    assert!(said.contains("$PYPI_ID_TOKEN is not set"), "{said}");
    assert!(
        said.contains("id_tokens:") && said.contains("aud: pypi"),
        "{said}"
    );
    // Without it, auto falls back to the API token (none here: its own error).
    let r = run(dir.path(), &m, &[("GITLAB_CI", "true")]);
    assert_eq!(r.code, Some(1));
    assert!(
        r.stderr.contains("using the API token in PYPI_TOKEN"),
        "{}",
        r.stderr
    );

    // A token for another audience.
    let job = GitlabJob::default();
    let wrong = job.id_token("testpypi");
    let r = run(
        dir.path(),
        &trusted,
        &[("GITLAB_CI", "true"), ("PYPI_ID_TOKEN", &wrong)],
    );
    assert_eq!(r.code, Some(1));
    let said = r.said("authenticate");
    assert!(
        said.contains("for audience testpypi, but the index asks for pypi"),
        "{said}"
    );
    assert_no_secret(&r, dir.path(), &[&wrong]);

    // Another pipeline file than the publisher's: PyPI's invalid-publisher, with the claims
    // PyPI matched on and a GitLab-specific hint.
    let other = GitlabJob {
        ci_config_path: "ci/release.yml".into(),
        ..GitlabJob::default()
    };
    let env = other.env();
    let r = run(dir.path(), &trusted, &envs(&env));
    assert_eq!(r.code, Some(1));
    assert_eq!(r.failure("authenticate")["category"], "authentication");
    let said = r.said("authenticate");
    assert!(said.contains("invalid-publisher"), "{said}");
    assert!(
        said.contains(
            "ci_config_ref_uri: gitlab.com/octo/mypylogger//ci/release.yml@refs/tags/v0.2.8"
        ),
        "{said}"
    );
    assert!(said.contains("GitLab publisher"), "{said}");
    assert!(on_server(&server).is_empty());
    assert_no_secret(&r, dir.path(), &[&env[3].1]);
}

// ---------------------------------------------------------------------------------------
// The GitLab CI template (ci/gitlab/airlock-release.yml) under gitlab-ci-local.

/// The pinned gitlab-ci-local (npm; 4.74 and later need Node 22) that scripts/test installs.
const GITLAB_CI_LOCAL: &str = "target/ci-node/node_modules/.bin/gitlab-ci-local";

/// gitlab-ci-local, with rsync on PATH (it copies each job's files with rsync); `None` when
/// scripts/test could not install them and said so (`AIRLOCK_GITLAB_CI_LOCAL=skip`).
fn gitlab_ci_local() -> Option<std::path::PathBuf> {
    let setting = std::env::var("AIRLOCK_GITLAB_CI_LOCAL").unwrap_or_default();
    if setting == "skip" {
        eprintln!("NOT RUN: gitlab-ci-local or rsync is missing (scripts/test said why)");
        return None;
    }
    let bin = if setting.is_empty() {
        airlock_test_support::workspace().join(GITLAB_CI_LOCAL)
    } else {
        setting.into()
    };
    assert!(
        bin.is_file(),
        "{} is missing: run scripts/test (it installs gitlab-ci-local@4.73.0 with npm), or set AIRLOCK_GITLAB_CI_LOCAL",
        bin.display()
    );
    let rsync = std::process::Command::new("rsync")
        .arg("--version")
        .output();
    assert!(
        rsync.is_ok_and(|o| o.status.success()),
        "rsync is not on PATH: gitlab-ci-local needs it (Debian: apt-get install rsync)"
    );
    Some(bin)
}

fn git(repo: &std::path::Path, args: &[&str]) {
    let out = std::process::Command::new("git")
        .args([
            "-c",
            "user.name=airlock-test",
            "-c",
            "user.email=test@airlock.invalid",
        ])
        .args(args)
        .current_dir(repo)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_gitlab_template_releases_in_separate_jobs_under_gitlab_ci_local() {
    let Some(glci) = gitlab_ci_local() else {
        return;
    };
    let publisher = GitlabPublisher {
        project: "airlock-demo".into(),
        ..GitlabPublisher::default()
    };
    let pypi = PypiGitlab::start(publisher, MINTED);
    let server = PypiServer::start(Some(("__token__", MINTED)));
    let job = GitlabJob {
        project_path: "octo/airlock-demo".into(),
        git_ref: "v0.1.0".into(),
        ..GitlabJob::default()
    };
    let id_token = job.id_token("pypi");

    // A GitLab project: the demo, its manifest publishing with trusted publishing to the
    // loopback index, and a .gitlab-ci.yml that includes the template.
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("project");
    let ws = airlock_test_support::workspace();
    common::copy_tree(&ws.join("examples/demo"), &repo);
    for generated in [".airlock", "dist"] {
        let _ = std::fs::remove_dir_all(repo.join(generated));
    }
    let demo = std::fs::read_to_string(ws.join("examples/demo/release.toml")).unwrap();
    let auth_at = demo.find("# Hand a token to the host").unwrap();
    let status_at = demo.find("# Publish the security status page").unwrap();
    let publish = format!(
        r#"[[stage]]
id = "authenticate"
component = "builtin:authenticate"
needs = ["decide"]
when = "decide.release"
config = {{ mode = "auto", index = "{index}" }}
[stage.grants]
http = ["{{config.index}}"]
env = ["GITLAB_CI", "PYPI_ID_TOKEN", "PYPI_TOKEN"]
secrets = {{ produce = ["pypi-token"] }}

[[stage]]
id = "upload"
component = "builtin:upload"
needs = ["decide", "build", "authenticate"]
when = "decide.release"
config = {{ repository = "{repository}" }}
[stage.grants]
files = [{{ path = "dist", access = "read" }}]
http = ["{{config.repository}}"]
secrets = {{ inject = [{{ secret = "pypi-token", into = "{{config.repository}}", as = "basic:__token__" }}] }}

"#,
        index = pypi.url(),
        repository = server.url()
    );
    let manifest = format!(
        "{}\n[secrets]\ngitlab-id-token = {{ env = \"PYPI_ID_TOKEN\" }}\n\n{}{publish}{}",
        &demo[..demo.find("# Compare the previous").unwrap()],
        &demo[demo.find("# Compare the previous").unwrap()..auth_at],
        &demo[status_at..]
    );
    std::fs::write(repo.join("release.toml"), manifest).unwrap();
    std::fs::create_dir_all(repo.join("ci")).unwrap();
    std::fs::copy(
        ws.join("ci/gitlab/airlock-release.yml"),
        repo.join("ci/airlock-release.yml"),
    )
    .unwrap();
    std::fs::write(
        repo.join(".gitlab-ci.yml"),
        "include:\n  - local: ci/airlock-release.yml\n",
    )
    .unwrap();
    std::fs::write(repo.join(".gitignore"), ".airlock/\ndist/\n").unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "release v0.1.0"]);

    // Every job in its own copy of the tracked files (--shell-isolation), handed only the
    // artifacts of the jobs it needs. gitlab-ci-local ignores `id_tokens:` and sets
    // GITLAB_CI=false; GitLab's runner would set the token (for the publish job only),
    // GITLAB_CI=true and, for a tag pipeline, CI_COMMIT_TAG.
    let bin = env!("CARGO_BIN_EXE_airlock");
    let mut child = std::process::Command::new(&glci)
        .args(["--cwd", "project", "--shell-isolation", "--no-color"])
        .args(["--variable", &format!("AIRLOCK={bin}")])
        .args(["--variable", "GITLAB_CI=true"])
        .args(["--variable", "CI_COMMIT_TAG=v0.1.0"])
        .args(["--variable", &format!("PYPI_ID_TOKEN={id_token}")])
        .args([
            "--variable",
            &format!("AIRLOCK_CACHE_DIR={}", common::cache_dir().display()),
        ])
        .current_dir(tmp.path())
        .env_remove("GITHUB_ACTIONS")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("cannot start gitlab-ci-local");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("gitlab-ci-local ran for more than 300 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{said}");
    for job in [
        "airlock-decide",
        "airlock-build",
        "airlock-publish",
        "airlock-status",
    ] {
        assert!(
            said.contains(&format!("{job} ")),
            "{job} did not run: {said}"
        );
    }
    let log = |job: &str| {
        std::fs::read_to_string(
            repo.join(".gitlab-ci-local/output")
                .join(format!("{job}.log")),
        )
        .unwrap_or_default()
    };
    // Each job ran only its stages; the publish job took the build job's verified files.
    assert!(
        log("airlock-build").contains("build succeeded"),
        "{}",
        log("airlock-build")
    );
    let publish_log = log("airlock-publish");
    assert!(!publish_log.contains("build succeeded"), "{publish_log}");
    assert!(
        publish_log.contains("authenticate succeeded"),
        "{publish_log}"
    );
    assert!(publish_log.contains("upload succeeded"), "{publish_log}");
    assert!(
        log("airlock-status").contains("status succeeded"),
        "{}",
        log("airlock-status")
    );
    let files: Vec<String> = on_server(&server)
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        files,
        vec![
            "airlock_demo-0.1.0-py3-none-any.whl",
            "airlock_demo-0.1.0.tar.gz"
        ]
    );
    assert!(
        pypi.log
            .lock()
            .unwrap()
            .contains(&"POST /_/oidc/mint-token".to_string()),
        "{:?}",
        pypi.log
    );
    // The ID token and the minted token are in no job log.
    for job in [
        "airlock-decide",
        "airlock-build",
        "airlock-publish",
        "airlock-status",
    ] {
        let l = log(job);
        assert!(!l.contains(MINTED), "{job} log shows the minted token");
        assert!(
            !l.contains(id_token.split('.').nth(1).unwrap()),
            "{job} log shows the ID token"
        );
    }
    pip_install(&server.simple(), "airlock-demo==0.1.0", "airlock_demo");
}
