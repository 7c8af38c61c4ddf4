//! A real AWS emulator for the `mode = "aws"` tests: moto's server (`moto[server]` from
//! PyPI, in tests/requirements.txt) on 127.0.0.1, set up with boto3 (which moto depends on).
//!
//! What moto checks, as of moto 5: STS `AssumeRoleWithWebIdentity` accepts any web identity
//! token (no signature, issuer, audience or expiry check; the role need not exist; the
//! trust policy is not evaluated) and returns fresh random credentials. With IAM enforcement
//! on ([`Moto::enforce_iam_after`]) other requests must be SigV4-signed with known
//! credentials (moto recomputes the signature with botocore's signer) and be allowed by the
//! caller's policies, whose `Action` is evaluated but, for Secrets Manager, not the
//! `Resource` (moto passes `*`). Secrets live per region (the region of the signature's
//! credential scope).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::http::http_get;
use crate::http::http_post;
use crate::{free_port, require_python_module};

/// Defines `client(service, region="us-east-1")` (boto3 with the admin credentials
/// `testing`/`testing`, bounded timeouts, no retry) and `ARGS` for a script run by
/// [`Moto::boto3`].
const PRELUDE: &str = r#"
import sys, json, boto3
from botocore.config import Config
ENDPOINT, ARGS = sys.argv[1], sys.argv[2:]
def client(service, region="us-east-1"):
    return boto3.client(service, endpoint_url=ENDPOINT, region_name=region,
        aws_access_key_id="testing", aws_secret_access_key="testing",
        config=Config(connect_timeout=5, read_timeout=20, retries={"max_attempts": 1}))
"#;

/// A moto server on 127.0.0.1 (a free port); killed on drop.
pub struct Moto {
    child: Child,
    /// Its port.
    pub port: u16,
}

/// Temporary credentials moto issued (read back with [`Moto::assumed_roles`]).
#[derive(Clone, Debug)]
pub struct AssumedRole {
    /// `AccessKeyId` (`ASIA…`).
    pub access_key_id: String,
    /// `SecretAccessKey`.
    pub secret_access_key: String,
    /// `SessionToken`.
    pub session_token: String,
    /// `RoleSessionName` the caller gave.
    pub session_name: String,
    /// The role assumed.
    pub role_arn: String,
}

impl Moto {
    /// Starts `python3 -m moto.server` with IAM enforcement off; waits (at most 30 s)
    /// until it answers. Panics with the install instruction when moto or boto3 is missing.
    pub fn start() -> Moto {
        require_python_module("moto.server", "moto[server]");
        require_python_module("boto3", "boto3 (a dependency of moto[server])");
        let port = free_port();
        let child = Command::new("python3")
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env_remove("INITIAL_NO_AUTH_ACTION_COUNT")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start moto server");
        let moto = Moto { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !http_get(port, "/moto-api/").is_ok_and(|(s, _)| s != 0) {
            assert!(
                Instant::now() < deadline,
                "moto did not answer on port {port} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    /// `http://127.0.0.1:PORT`: the one origin of every service.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Runs Python `script` after a prelude that defines `client(service, region)` for
    /// this server (admin credentials, bounded timeouts, no retry) and `ARGS` = `args`; returns its stdout, trimmed. Panics with its
    /// stderr when it fails. Bounded by boto3's timeouts.
    pub fn boto3(&self, script: &str, args: &[&str]) -> String {
        let out = Command::new("python3")
            .arg("-c")
            .arg(format!("{PRELUDE}\n{script}"))
            .arg(self.url())
            .args(args)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("NO_PROXY", "127.0.0.1")
            .env("no_proxy", "127.0.0.1")
            .stdin(Stdio::null())
            .output()
            .expect("python3 is needed for the tests");
        assert!(
            out.status.success(),
            "boto3 against moto failed:\n{script}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Creates secret `name` holding the string `value` in `region`; returns its ARN.
    pub fn create_secret(&self, region: &str, name: &str, value: &str) -> String {
        self.boto3(
            "print(client('secretsmanager', ARGS[0]).create_secret(Name=ARGS[1], SecretString=ARGS[2])['ARN'])",
            &[region, name, value],
        )
    }

    /// Creates IAM role `name` with trust policy `trust` and, when given, the inline
    /// permissions policy `permissions`; returns its ARN.
    pub fn create_role(
        &self,
        name: &str,
        trust: &serde_json::Value,
        permissions: Option<&serde_json::Value>,
    ) -> String {
        let permissions = permissions.map(|p| p.to_string()).unwrap_or_default();
        self.boto3(
            "iam = client('iam')\n\
             arn = iam.create_role(RoleName=ARGS[0], AssumeRolePolicyDocument=ARGS[1])['Role']['Arn']\n\
             if ARGS[2]:\n    iam.put_role_policy(RoleName=ARGS[0], PolicyName='permissions', PolicyDocument=ARGS[2])\n\
             print(arn)",
            &[name, &trust.to_string(), &permissions],
        )
    }

    /// Turns IAM enforcement on after the next `free` requests to a service (moto's
    /// `INITIAL_NO_AUTH_ACTION_COUNT`, reset through `/moto-api/reset-auth`). Moto can only
    /// check a signed request, and STS `AssumeRoleWithWebIdentity` is unsigned (as in AWS):
    /// `enforce_iam_after(1)` before a run lets it through and checks the signature and
    /// the permissions of the `GetSecretValue` that follows.
    pub fn enforce_iam_after(&self, free: u32) {
        self.reset_auth(&free.to_string());
    }

    /// Turns IAM enforcement off.
    pub fn stop_enforcing_iam(&self) {
        self.reset_auth("inf");
    }

    fn reset_auth(&self, count: &str) {
        // text/plain: moto reads the raw body (a form content type would hide it).
        let (status, body) = http_post(
            self.port,
            "/moto-api/reset-auth",
            "text/plain",
            count.as_bytes(),
        )
        .expect("moto's /moto-api/reset-auth did not answer");
        assert_eq!(status, 200, "moto reset-auth {count}: {body}");
    }

    /// Every role session moto has issued credentials for (`AssumeRole*`), from its
    /// state dump `/moto-api/data.json`.
    pub fn assumed_roles(&self) -> Vec<AssumedRole> {
        let (status, body) = http_get(self.port, "/moto-api/data.json").expect("moto's data.json");
        assert_eq!(status, 200, "moto data.json: {body}");
        let v: serde_json::Value = serde_json::from_str(&body).expect("moto data.json is JSON");
        let s = |r: &serde_json::Value, k: &str| r[k].as_str().unwrap_or_default().to_string();
        v["sts"]["AssumedRole"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|r| AssumedRole {
                        access_key_id: s(r, "access_key_id"),
                        secret_access_key: s(r, "secret_access_key"),
                        session_token: s(r, "session_token"),
                        session_name: s(r, "session_name"),
                        role_arn: s(r, "role_arn"),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
