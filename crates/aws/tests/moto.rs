//! The whole AWS flow against a real AWS emulator: moto (`moto[server]` from PyPI),
//! started on 127.0.0.1 on a free port and killed on drop ([`Moto`], shared with the host's
//! end-to-end test tests/aws.rs). moto provides STS
//! `AssumeRoleWithWebIdentity` (it accepts any web identity token) and Secrets Manager;
//! the secrets are created with SigV4-signed `CreateSecret` requests. Requests go through a
//! native (ureq) [`Transport`] standing in for the SDK's wasi:http. Network: 127.0.0.1 only.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use airlock_aws::{AwsConfig, Credentials, Endpoints, fetch_token, secrets, sts};
use airlock_stage::http::Transport;
use airlock_stage::http::{Request, Response};
use airlock_stage::{Category, StageError};
use airlock_test_support::{Moto, free_port};
use base64::Engine;

/// A blocking native transport (ureq), bounded by a 30 s timeout.
struct Native(ureq::Agent);

impl Native {
    fn new() -> Self {
        Native(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(30)))
                .build()
                .into(),
        )
    }
}

impl Transport for Native {
    fn send(
        &mut self,
        req: &Request,
        _progress: &mut dyn FnMut(u64, u64),
    ) -> Result<Response, StageError> {
        assert!(
            req.url.starts_with("http://127.0.0.1:"),
            "network outside 127.0.0.1: {}",
            req.url
        );
        let mut b = ureq::http::Request::builder()
            .method(req.method.as_str())
            .uri(&req.url);
        for (n, v) in &req.headers {
            b = b.header(n, v);
        }
        let r = b
            .body(req.body.clone())
            .map_err(|e| StageError::internal(e.to_string()))?;
        let mut resp = self.0.run(r).map_err(|e| {
            StageError::new(Category::Network, format!("connection failed: {e}")).retryable(true)
        })?;
        let headers = resp
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = resp
            .body_mut()
            .read_to_vec()
            .map_err(|e| StageError::new(Category::Network, e.to_string()))?;
        Ok(Response {
            status: resp.status().as_u16(),
            headers,
            body,
        })
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// An unsigned JWT with GitHub's claims (moto does not check the signature).
fn github_jwt(sub: &str) -> String {
    let e = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    let claims = serde_json::json!({
        "iss": "https://token.actions.githubusercontent.com",
        "aud": "sts.amazonaws.com",
        "sub": sub,
        "repository": "octo/pkg",
        "environment": "pypi",
        "exp": now() + 300,
    });
    format!(
        "{}.{}.c2ln",
        e(br#"{"alg":"RS256","typ":"JWT"}"#),
        e(claims.to_string().as_bytes())
    )
}

/// Creates secret `name` holding `value` with a SigV4-signed `CreateSecret`.
fn create_secret(t: &mut Native, moto: &Moto, name: &str, value: &str) {
    let admin = Credentials {
        access_key_id: "testing".into(),
        secret_access_key: "testing".into(),
        session_token: None,
        expiration: None,
    };
    let body =
        serde_json::to_vec(&serde_json::json!({"Name": name, "SecretString": value})).unwrap();
    let mut req = Request::post(
        &format!("{}/", moto.url()),
        "application/x-amz-json-1.1",
        body,
    )
    .header("x-amz-target", "secretsmanager.CreateSecret");
    airlock_aws::sigv4::sign(
        &mut req,
        &admin,
        "us-east-1",
        "secretsmanager",
        now(),
        false,
    )
    .unwrap();
    let resp = t.send(&req, &mut |_, _| {}).unwrap();
    assert_eq!(resp.status, 200, "CreateSecret: {}", resp.text());
}

/// STS AssumeRoleWithWebIdentity of the test role (us-east-1, 15 minutes) with `jwt`.
fn assume_role(t: &mut Native, ep: &Endpoints, jwt: &str) -> Credentials {
    sts::assume_role_with_web_identity(
        t,
        &ep.sts,
        "us-east-1",
        &sts::AssumeRole {
            role_arn: "arn:aws:iam::123456789012:role/airlock-publish",
            session_name: "airlock-test",
            duration_s: 900,
        },
        jwt,
    )
    .unwrap()
}

fn config(secret_id: &str, secret_key: Option<&str>) -> AwsConfig {
    AwsConfig {
        region: "us-east-1".into(),
        role_arn: "arn:aws:iam::123456789012:role/airlock-publish".into(),
        session_name: "airlock-test".into(),
        secret_id: secret_id.into(),
        secret_key: secret_key.map(String::from),
        duration_s: 900,
    }
}

#[test]
fn token_from_secrets_manager_through_sts() {
    let moto = Moto::start();
    let mut t = Native::new();
    create_secret(&mut t, &moto, "pypi/plain", "pypi-plain-token\n");
    create_secret(
        &mut t,
        &moto,
        "pypi/json",
        r#"{"username": "__token__", "token": "pypi-json-token"}"#,
    );
    let ep = Endpoints::single(&moto.url());
    let jwt = github_jwt("repo:octo/pkg:environment:pypi");

    // A plain secret, and a key of a JSON secret.
    let f = fetch_token(&mut t, &ep, &config("pypi/plain", None), &jwt, now()).unwrap();
    assert_eq!(f.token, "pypi-plain-token");
    assert!(f.secret_arn.as_deref().unwrap().contains("pypi/plain"));
    assert!(f.credentials_expiration.is_some());
    assert!(!format!("{f:?}").contains("pypi-plain-token"));
    let f = fetch_token(
        &mut t,
        &ep,
        &config("pypi/json", Some("token")),
        &jwt,
        now(),
    )
    .unwrap();
    assert_eq!(f.token, "pypi-json-token");

    // The temporary credentials moto issued, to check no error shows them.
    let creds = assume_role(&mut t, &ep, &jwt);
    assert!(!format!("{creds:?}").contains(&creds.secret_access_key));
    let shown = |e: &StageError| format!("{e:?} {e}");
    let leaks = |s: &str| {
        s.contains(&creds.secret_access_key)
            || s.contains(creds.session_token.as_deref().unwrap())
            || s.contains(&creds.access_key_id)
            || s.contains(&jwt)
    };

    // A missing secret.
    let e = secrets::get_secret_value(
        &mut t,
        &ep.secretsmanager,
        "us-east-1",
        &creds,
        "pypi/nope",
        now(),
    )
    .unwrap_err();
    assert!(e.message.contains("ResourceNotFoundException"), "{e}");
    assert!(e.hint.as_deref().unwrap().contains("secret_id"), "{e:?}");
    assert!(!leaks(&shown(&e)));
    let e = fetch_token(&mut t, &ep, &config("pypi/nope", None), &jwt, now()).unwrap_err();
    assert_eq!(e.category, Category::Configuration);
    assert!(!leaks(&shown(&e)));

    // A wrong key in a JSON secret, and a JSON secret without a key: the keys are named,
    // the values are not.
    let e = fetch_token(
        &mut t,
        &ep,
        &config("pypi/json", Some("password")),
        &jwt,
        now(),
    )
    .unwrap_err();
    assert!(
        e.message.contains("\"token\"") && e.message.contains("\"password\""),
        "{e}"
    );
    assert!(!shown(&e).contains("pypi-json-token") && !leaks(&shown(&e)));
    let e = fetch_token(&mut t, &ep, &config("pypi/json", None), &jwt, now()).unwrap_err();
    assert!(e.hint.as_deref().unwrap().contains("secret_key"));
    assert!(!shown(&e).contains("pypi-json-token"));

    // A garbage web identity token: moto accepts any token, so this only checks that the
    // call goes through and nothing of the token is shown; real STS answers
    // InvalidIdentityToken (tested with its answer in sts::tests).
    let garbage = fetch_token(&mut t, &ep, &config("pypi/plain", None), "not-a-jwt", now());
    match garbage {
        Ok(f) => assert_eq!(f.token, "pypi-plain-token"),
        Err(e) => assert!(!shown(&e).contains("not-a-jwt"), "{e}"),
    }
}

/// An STS endpoint where nothing listens (what a wrong region's host gives after DNS): the
/// error names the endpoint and says to check the region.
#[test]
fn unreachable_endpoint_says_check_the_region() {
    let mut t = Native::new();
    let port = free_port();
    let ep = Endpoints::single(&format!("http://127.0.0.1:{port}"));
    let e = fetch_token(
        &mut t,
        &ep,
        &config("pypi/plain", None),
        &github_jwt("repo:o/r:ref:refs/heads/main"),
        now(),
    )
    .unwrap_err();
    assert_eq!(e.category, Category::Network);
    assert!(e.message.contains("STS"), "{e}");
    assert!(
        e.hint.as_deref().unwrap().contains("region \"us-east-1\""),
        "{e:?}"
    );
}

/// A signed query-API call (IAM) with the test's admin credentials; returns the answer.
fn query(t: &mut Native, moto: &Moto, service: &str, params: &[(&str, &str)]) -> Response {
    let admin = Credentials {
        access_key_id: "testing".into(),
        secret_access_key: "testing".into(),
        session_token: None,
        expiration: None,
    };
    let body: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}={}", sts::form_encode(v)))
        .collect();
    let mut req = Request::post(
        &format!("{}/", moto.url()),
        "application/x-www-form-urlencoded; charset=utf-8",
        body.join("&").into_bytes(),
    );
    airlock_aws::sigv4::sign(&mut req, &admin, "us-east-1", service, now(), false).unwrap();
    t.send(&req, &mut |_, _| {}).unwrap()
}

/// moto with IAM enforcement: it recomputes each SigV4 signature (botocore's signer) and
/// evaluates the assumed role's policies. A role without permissions gets
/// AccessDeniedException for the secret; a wrong secret key gets a signature error.
/// Enforcement starts after the role and the secret are created, and after one more request
/// (AssumeRoleWithWebIdentity): moto's check needs an `Authorization` header, which the
/// (unsigned, as in AWS) AssumeRoleWithWebIdentity does not have.
#[test]
fn with_iam_enforced() {
    let moto = Moto::start();
    let mut t = Native::new();
    let trust = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Federated": "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"}, "Action": "sts:AssumeRoleWithWebIdentity"}]
    })
    .to_string();
    let r = query(
        &mut t,
        &moto,
        "iam",
        &[
            ("Action", "CreateRole"),
            ("Version", "2010-05-08"),
            ("RoleName", "airlock-publish"),
            ("AssumeRolePolicyDocument", &trust),
        ],
    );
    assert_eq!(r.status, 200, "CreateRole: {}", r.text());
    create_secret(&mut t, &moto, "pypi/plain", "pypi-plain-token");
    moto.enforce_iam_after(1);
    let ep = Endpoints::single(&moto.url());
    let jwt = github_jwt("repo:octo/pkg:environment:pypi");
    let creds = assume_role(&mut t, &ep, &jwt);
    // Signed correctly (moto checked the signature), but the role may not read the secret.
    let e = secrets::get_secret_value(
        &mut t,
        &ep.secretsmanager,
        "us-east-1",
        &creds,
        "pypi/plain",
        now(),
    )
    .unwrap_err();
    assert_eq!(e.category, Category::Authentication, "{e:?}");
    assert!(e.message.contains("AccessDenied"), "{e}");
    assert!(
        e.hint
            .as_deref()
            .unwrap()
            .contains("secretsmanager:GetSecretValue"),
        "{e:?}"
    );
    let shown = format!("{e:?} {e}");
    assert!(
        !shown.contains(&creds.secret_access_key)
            && !shown.contains(creds.session_token.as_deref().unwrap())
    );
    // A wrong secret key: the signature does not match.
    let mut wrong = creds.clone();
    wrong.secret_access_key = "not-the-key".into();
    let e = secrets::get_secret_value(
        &mut t,
        &ep.secretsmanager,
        "us-east-1",
        &wrong,
        "pypi/plain",
        now(),
    )
    .unwrap_err();
    assert!(e.message.contains("Signature"), "{e}");
    assert!(e.hint.as_deref().unwrap().contains("clock"), "{e:?}");
}
