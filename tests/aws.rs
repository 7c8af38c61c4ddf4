//! Authenticate `mode = "aws"` end to end: the real `airlock` binary and stage components,
//! a real AWS emulator (moto: STS, Secrets Manager, IAM) and a real pypiserver, all on
//! 127.0.0.1, then pip. The GitHub token endpoint is the same local stand-in as in the
//! trusted-publishing tests (`airlock_test_support::github`); the manifest is the one
//! docs/aws.md shows, with `endpoint` pointed at moto.
//!
//! - success: a plain-string secret, and a JSON secret with `secret_key`; authenticate
//!   stores the token, the upload stage gets it injected, the files land on pypiserver
//!   (which wants exactly that token) and pip installs them;
//! - failures, each checked by what the user reads (category, message, hint): a missing
//!   secret, a wrong `secret_key`, a wrong region (well-formed: the secret is not there; and
//!   malformed: refused before any request), a role without `secretsmanager:GetSecretValue`,
//!   a garbage ID token, a job without `id-token: write`;
//! - what moto does not check (asserted as what it does): an expired ID token, one for
//!   another repository than the trust policy names, and garbage shaped like a JWT are
//!   accepted;
//! - after every run: neither the token, nor the other values of the JSON secret, nor the
//!   temporary AWS credentials moto issued (AccessKeyId, SecretAccessKey, SessionToken, read
//!   back from moto's state), nor the GitHub request token or ID token, appear in stdout,
//!   stderr, or any file written (the state folder, the project, the job summary and
//!   outputs files).
//!
//! moto checks, when the test turns IAM enforcement on before each run (after the one
//! unsigned `AssumeRoleWithWebIdentity`, which moto cannot check): the SigV4 signature of
//! `GetSecretValue` as the sandboxed stage sent it through the host's wasi:http (moto
//! recomputes it with botocore's signer), and that the assumed role's policy allows the
//! action. It does not check the web identity token at all (signature, issuer, audience,
//! expiry), does not evaluate the role's trust policy for `AssumeRoleWithWebIdentity`, and
//! does not match a policy's `Resource` for Secrets Manager (it checks against `*`), so the
//! role's policy here allows the action on `*` where docs/aws.md scopes it to one secret.
//! Real STS's answers to those (AccessDenied, InvalidIdentityToken, ExpiredTokenException)
//! are unit-tested in crates/aws (sts::tests).

mod common;

use std::path::Path;

use airlock_test_support::{
    ACTIONS_REQUEST_TOKEN, GithubOidc, IdTokenSpec, MYPYLOGGER_SDIST as SDIST,
    MYPYLOGGER_WHEEL as WHEEL, Moto, PypiServer, pip_install,
};
use common::{
    Run, assert_no_secret, dist_project, envs, on_server, run, upload_files, upload_stage,
};

/// The token in the plain-string secret.
const PLAIN_TOKEN: &str = "pypi-AgEIcHlwaS5vcmcFromSecretsManagerPlain19";
/// The token in the JSON secret, under `token`.
const JSON_TOKEN: &str = "pypi-AgEIcHlwaS5vcmcFromSecretsManagerJson73";
/// Another value of the JSON secret, under `password`: never shown either.
const DECOY: &str = "decoy-password-of-the-json-secret-5e4d";
/// A garbage ID token the GitHub stand-in hands out in one case.
const GARBAGE_ID_TOKEN: &str = "garbage-id-token-7c1f0a";

const REGION: &str = "us-east-1";
const PLAIN_ID: &str = "pypi/octo-mypylogger";
const JSON_ID: &str = "pypi/octo-mypylogger-json";

/// moto with the role of docs/aws.md, a role without permissions, and both secrets.
struct Aws {
    moto: Moto,
    role_arn: String,
    no_access_role_arn: String,
    plain_arn: String,
    json_arn: String,
}

fn aws() -> Aws {
    let moto = Moto::start();
    // The trust policy of docs/aws.md (not evaluated by moto; see the module docs).
    let trust = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Federated": "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com" },
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": { "StringEquals": {
                "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                "token.actions.githubusercontent.com:sub": "repo:octo/mypylogger:environment:pypi"
            } }
        }]
    });
    // docs/aws.md scopes Resource to the secret's ARN; moto checks Secrets Manager actions
    // against Resource "*" only, so a scoped statement would never match here.
    let read = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{ "Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*" }]
    });
    let role_arn = moto.create_role("pypi-publish", &trust, Some(&read));
    let no_access_role_arn = moto.create_role("pypi-no-access", &trust, None);
    let plain_arn = moto.create_secret(REGION, PLAIN_ID, PLAIN_TOKEN);
    let json =
        serde_json::json!({ "username": "__token__", "token": JSON_TOKEN, "password": DECOY });
    let json_arn = moto.create_secret(REGION, JSON_ID, &json.to_string());
    assert!(plain_arn.starts_with("arn:aws:secretsmanager:us-east-1:123456789012:secret:pypi/"));
    Aws {
        moto,
        role_arn,
        no_access_role_arn,
        plain_arn,
        json_arn,
    }
}

/// The authenticate stage's `mode = "aws"` config (inline table body, without `mode` and
/// `endpoint`).
fn auth_config(region: &str, role_arn: &str, secret_id: &str, secret_key: Option<&str>) -> String {
    let key = secret_key
        .map(|k| format!(", secret_key = \"{k}\""))
        .unwrap_or_default();
    format!("region = \"{region}\", role_arn = \"{role_arn}\", secret_id = \"{secret_id}\"{key}")
}

/// docs/aws.md's manifest with `endpoint` = moto and the GitHub stand-in's origin granted
/// (and the request token injected into it); with `upload`, an upload stage whose inject
/// rule sends the stored secret to pypiserver.
fn manifest(moto: &Moto, github: &GithubOidc, config: &str, upload: Option<&PypiServer>) -> String {
    let mut m = format!(
        r#"
[pipeline]
name = "aws-test"

[secrets]
actions-request-token = {{ env = "ACTIONS_ID_TOKEN_REQUEST_TOKEN" }}

[[stage]]
id = "authenticate"
component = "builtin:authenticate"
config = {{ mode = "aws", endpoint = "{endpoint}", {config} }}
[stage.grants]
http = ["{{config.endpoint}}", "{github}"]
env = ["ACTIONS_ID_TOKEN_REQUEST_URL", "GITHUB_ACTIONS", "GITHUB_EVENT_NAME", "GITHUB_REPOSITORY", "GITHUB_HEAD_REF"]
secrets = {{ produce = ["pypi-token"], inject = [{{ secret = "actions-request-token", into = "{github}", as = "bearer" }}] }}
limits = {{ timeout_s = 60 }}
"#,
        endpoint = moto.url(),
        github = github.origin(),
    );
    if let Some(server) = upload {
        m.push_str(&upload_stage(
            &server.url(),
            "",
            "limits = { timeout_s = 120 }",
        ));
    }
    m
}

/// Runs `manifest` in `project` as a GitHub Actions job (`env`), with the job summary and
/// outputs files inside the project (so the leak search covers them), IAM enforcement
/// turned on after the unsigned AssumeRoleWithWebIdentity.
fn run_job(aws: &Aws, project: &Path, manifest: &str, env: &[(&'static str, String)]) -> Run {
    let runner = project.join(".runner");
    std::fs::create_dir_all(&runner).unwrap();
    let mut env = env.to_vec();
    env.push((
        "GITHUB_STEP_SUMMARY",
        runner.join("summary.md").display().to_string(),
    ));
    env.push(("GITHUB_OUTPUT", runner.join("output").display().to_string()));
    aws.moto.enforce_iam_after(1);
    run(project, manifest, &envs(&env))
}

/// Everything that must never be shown: the tokens and the JSON secret's other value, the
/// GitHub request token and every ID token the stand-in issued, and every temporary
/// credential moto has issued so far (read from moto's state).
fn never_shown(aws: &Aws, github: &GithubOidc) -> Vec<String> {
    let mut v: Vec<String> = [PLAIN_TOKEN, JSON_TOKEN, DECOY, ACTIONS_REQUEST_TOKEN]
        .map(String::from)
        .to_vec();
    for c in aws.moto.assumed_roles() {
        v.extend([c.access_key_id, c.secret_access_key, c.session_token]);
    }
    v.extend(github.issued());
    v
}

fn assert_nothing_shown(aws: &Aws, github: &GithubOidc, r: &Run, project: &Path) {
    let secrets = never_shown(aws, github);
    let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
    assert_no_secret(r, project, &refs);
}

#[test]
fn token_from_secrets_manager_is_uploaded_and_pip_installs() {
    let aws = aws();
    let github = GithubOidc::start(IdTokenSpec::default());
    let cases = [
        (PLAIN_ID, None, PLAIN_TOKEN, &aws.plain_arn),
        (JSON_ID, Some("token"), JSON_TOKEN, &aws.json_arn),
    ];
    for (n, (secret_id, key, token, arn)) in cases.into_iter().enumerate() {
        // The index wants exactly this token: the upload succeeds only with the one fetched.
        let server = PypiServer::start(Some(("__token__", token)));
        let dir = dist_project();
        let config = auth_config(REGION, &aws.role_arn, secret_id, key);
        let m = manifest(&aws.moto, &github, &config, Some(&server));
        let r = run_job(&aws, dir.path(), &m, &github.actions_env());
        assert_eq!(r.code, Some(0), "{secret_id}: {}", r.stderr);

        let auth = r.output("authenticate");
        assert_eq!(auth["mode"], "aws", "{auth}");
        assert_eq!(auth["stored"], true);
        assert_eq!(auth["secret"], "pypi-token");
        assert_eq!(auth["source"], format!("aws-secretsmanager:{secret_id}"));
        assert_eq!(auth["secret_arn"], arn.as_str());
        assert_eq!(auth["role_arn"], aws.role_arn.as_str());
        assert_eq!(auth["region"], REGION);
        assert_eq!(
            auth["claims"]["sub"],
            "repo:octo/mypylogger:environment:pypi"
        );
        assert_eq!(auth["claims"]["environment"], "pypi");

        let mut uploaded = upload_files(&r);
        uploaded.sort();
        assert_eq!(
            uploaded,
            [
                (WHEEL.to_string(), "uploaded".to_string()),
                (SDIST.to_string(), "uploaded".to_string())
            ]
        );
        assert_eq!(r.output("upload")["verified"], true);
        let names: Vec<String> = on_server(&server)
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, [WHEEL, SDIST]);
        pip_install(&server.simple(), "mypylogger==0.2.8", "mypylogger");

        // The ID token was asked for STS's audience, with the request token as bearer.
        let log = github.log.lock().unwrap().clone();
        assert_eq!(
            log.iter()
                .filter(|l| *l == "GET /token?api-version=2.0&audience=sts.amazonaws.com true")
                .count(),
            n + 1,
            "{log:?}"
        );
        // One role session per run, under the documented session name.
        let sessions = aws.moto.assumed_roles();
        assert_eq!(sessions.len(), n + 1, "{sessions:?}");
        assert!(
            sessions
                .iter()
                .all(|s| s.session_name == "airlock-publish" && s.role_arn == aws.role_arn),
            "{sessions:?}"
        );
        assert_nothing_shown(&aws, &github, &r, dir.path());
    }
}

#[test]
fn failures_say_what_to_fix() {
    let aws = aws();
    let dir = dist_project();
    let no_id_token =
        |e: &mut Vec<(&'static str, String)>| e.retain(|(k, _)| !k.starts_with("ACTIONS_"));
    let unchanged = |_: &mut Vec<(&'static str, String)>| {};
    type Case<'a> = (
        &'static str,
        IdTokenSpec,
        String,
        &'a dyn Fn(&mut Vec<(&'static str, String)>),
        &'static str,
        Vec<String>,
    );
    let cases: Vec<Case> = vec![
        (
            "missing secret",
            IdTokenSpec::default(),
            auth_config(REGION, &aws.role_arn, "pypi/absent", None),
            &unchanged,
            "configuration",
            vec![
                "ResourceNotFoundException".into(),
                "\"pypi/absent\"".into(),
                "no secret \"pypi/absent\" in region us-east-1".into(),
                "check `secret_id`".into(),
            ],
        ),
        (
            "wrong key in a JSON secret",
            IdTokenSpec::default(),
            auth_config(REGION, &aws.role_arn, JSON_ID, Some("pypi_token")),
            &unchanged,
            "configuration",
            vec![
                format!("the secret \"{JSON_ID}\" is a JSON object without the key \"pypi_token\""),
                // The keys are named, never their values (checked by the leak search).
                "\"password\"".into(),
                "\"token\"".into(),
                "\"username\"".into(),
                "set `secret_key` to the key that holds the token".into(),
            ],
        ),
        (
            "wrong region (the secret lives in us-east-1)",
            IdTokenSpec::default(),
            auth_config("eu-west-1", &aws.role_arn, JSON_ID, Some("token")),
            &unchanged,
            "configuration",
            vec![
                "ResourceNotFoundException".into(),
                format!("no secret \"{JSON_ID}\" in region eu-west-1"),
                "`region`".into(),
            ],
        ),
        (
            "not a region name",
            IdTokenSpec::default(),
            auth_config("eu-west", &aws.role_arn, JSON_ID, Some("token")),
            &unchanged,
            "configuration",
            vec![
                "\"eu-west\" is not an AWS region name".into(),
                "set `region` to the region the secret and the role live in".into(),
            ],
        ),
        (
            "role without secretsmanager:GetSecretValue",
            IdTokenSpec::default(),
            auth_config(REGION, &aws.no_access_role_arn, PLAIN_ID, None),
            &unchanged,
            "authentication",
            vec![
                "AccessDenied".into(),
                format!("GetSecretValue for \"{PLAIN_ID}\""),
                format!("allow secretsmanager:GetSecretValue on the secret \"{PLAIN_ID}\""),
            ],
        ),
        (
            // Refused by the stage before STS: a JWT has three dot-separated parts.
            "garbage ID token",
            IdTokenSpec {
                raw_value: Some(GARBAGE_ID_TOKEN.into()),
                ..IdTokenSpec::default()
            },
            auth_config(REGION, &aws.role_arn, PLAIN_ID, None),
            &unchanged,
            "authentication",
            vec![
                "did not answer JSON with a JWT in \"value\"".into(),
                "ACTIONS_ID_TOKEN_REQUEST_URL".into(),
            ],
        ),
        (
            "job without id-token: write",
            IdTokenSpec::default(),
            auth_config(REGION, &aws.role_arn, PLAIN_ID, None),
            &no_id_token,
            "authentication",
            vec![
                "ACTIONS_ID_TOKEN_REQUEST_URL is not set".into(),
                "permissions: { id-token: write }".into(),
            ],
        ),
    ];
    for (name, spec, config, change, category, expected) in cases {
        let github = GithubOidc::start(spec);
        let sessions_before = aws.moto.assumed_roles().len();
        let mut env = github.actions_env();
        change(&mut env);
        let r = run_job(
            &aws,
            dir.path(),
            &manifest(&aws.moto, &github, &config, None),
            &env,
        );
        assert_eq!(r.code, Some(1), "{name}: {}", r.stderr);
        let f = r.failure("authenticate");
        assert_eq!(f["category"], category, "{name}: {f}");
        let said = r.said("authenticate");
        for e in &expected {
            assert!(said.contains(e.as_str()), "{name}: {e:?} not in: {said}");
        }
        // Shown on stderr as well, for a person reading the log.
        assert!(
            r.stderr.contains(f["message"].as_str().unwrap()),
            "{name}: {}",
            r.stderr
        );
        let sts_calls = aws.moto.assumed_roles().len() - sessions_before;
        let expected_calls = match name {
            "garbage ID token" | "job without id-token: write" | "not a region name" => 0,
            _ => 1,
        };
        assert_eq!(sts_calls, expected_calls, "{name}: STS calls");
        assert_nothing_shown(&aws, &github, &r, dir.path());
    }
    assert!(
        !aws.moto.assumed_roles().is_empty(),
        "the leak search saw real temporary credentials"
    );
}

/// moto accepts any web identity token: one that expired ten minutes ago, one for another
/// repository than the trust policy's `sub` condition allows, and garbage shaped like a JWT
/// (three dot-separated parts: the stage refuses anything else before STS). Real STS
/// refuses all three (ExpiredTokenException; AccessDenied "Not authorized to perform
/// sts:AssumeRoleWithWebIdentity", which the stage shows with the token's claims;
/// InvalidIdentityToken: see crates/aws sts::tests and stages/authenticate's unit tests).
/// Asserted as moto behaves, so that a moto that starts checking makes this test say so.
#[test]
fn what_moto_does_not_check_is_accepted() {
    let aws = aws();
    let dir = dist_project();
    let cases = [
        (
            "expired ID token",
            IdTokenSpec {
                expires_in_s: -600,
                ..IdTokenSpec::default()
            },
        ),
        (
            "ID token of another repository",
            IdTokenSpec {
                repository: "mallory/fork".into(),
                environment: None,
                git_ref: "refs/heads/main".into(),
                ..IdTokenSpec::default()
            },
        ),
        (
            "garbage shaped like a JWT",
            IdTokenSpec {
                raw_value: Some(format!("{GARBAGE_ID_TOKEN}.not-base64!.sig")),
                ..IdTokenSpec::default()
            },
        ),
    ];
    for (name, spec) in cases {
        let github = GithubOidc::start(spec);
        let config = auth_config(REGION, &aws.role_arn, PLAIN_ID, None);
        let r = run_job(
            &aws,
            dir.path(),
            &manifest(&aws.moto, &github, &config, None),
            &github.actions_env(),
        );
        assert_eq!(r.code, Some(0), "{name}: moto now checks it? {}", r.stderr);
        let auth = r.output("authenticate");
        assert_eq!(auth["stored"], true, "{name}");
        // The claims shown are the token's; garbage has none.
        let sub = github
            .spec()
            .raw_value
            .is_none()
            .then(|| github.spec().sub());
        assert_eq!(auth["claims"]["sub"].as_str(), sub.as_deref(), "{name}");
        assert_nothing_shown(&aws, &github, &r, dir.path());
    }
}
