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
    assert!(upload_files(&r).iter().all(|(_, s)| s == "uploaded"));
    assert_eq!(on_server(&server).len(), 2);
    assert_eq!(
        *pypi.log.lock().unwrap(),
        vec!["GET /_/oidc/audience", "POST /_/oidc/mint-token"]
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
