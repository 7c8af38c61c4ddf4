//! Secrets Manager `GetSecretValue`, and the token inside the secret.
//!
//! Source: AWS Secrets Manager API Reference, "GetSecretValue" and "Common Errors"; AWS JSON
//! 1.1 protocol, SigV4-signed with service `secretsmanager`:
//! `POST https://secretsmanager.{region}.amazonaws.com/` with
//! `Content-Type: application/x-amz-json-1.1`, `X-Amz-Target: secretsmanager.GetSecretValue`
//! and body `{"SecretId": "…"}` → `200 {"ARN", "Name", "VersionId", "SecretString" |
//! "SecretBinary", "VersionStages", "CreatedDate"}`. Errors answer `4xx/5xx
//! {"__type": "[namespace#]Code", "message"|"Message": "…"}` (also in the
//! `x-amzn-ErrorType` header): `ResourceNotFoundException`, `AccessDeniedException`,
//! `DecryptionFailure`, `InvalidRequestException` (e.g. scheduled for deletion),
//! `InvalidSignatureException` (a skewed clock: "Signature expired: … is now earlier than
//! …"), `UnrecognizedClientException`, `ExpiredTokenException`, `InternalServiceError`.

use airlock_stage::http::{Request, Response};
use airlock_stage::{Category, StageError};

use crate::sigv4::{amz_date, sign};
use crate::sts::AwsError;
use crate::{Credentials, Transport, USER_AGENT, short, unreachable};

/// A `GetSecretValue` answer. `Debug` redacts the secret.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret {
    /// `ARN`.
    pub arn: Option<String>,
    /// `Name`.
    pub name: Option<String>,
    /// `VersionId`.
    pub version_id: Option<String>,
    /// `SecretString`.
    pub secret_string: Option<String>,
    /// True when the answer has `SecretBinary` instead.
    pub binary: bool,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secret")
            .field("arn", &self.arn)
            .field("name", &self.name)
            .field("version_id", &self.version_id)
            .field(
                "secret_string",
                &self.secret_string.as_ref().map(|_| "(redacted)"),
            )
            .field("binary", &self.binary)
            .finish()
    }
}

/// Parses an AWS JSON protocol error: the body's `__type` (after `#`) and
/// `message`/`Message`, else the `x-amzn-ErrorType` header (before `:`), else an XML
/// `<ErrorResponse>` (which some front ends and emulators answer for any protocol).
pub fn parse_json_error(resp: &Response) -> Option<AwsError> {
    parse_json_error_only(resp).or_else(|| crate::sts::parse_xml_error(&resp.body))
}

fn parse_json_error_only(resp: &Response) -> Option<AwsError> {
    let v: Option<serde_json::Value> = serde_json::from_slice(&resp.body).ok();
    let from_body = v
        .as_ref()
        .and_then(|v| v.get("__type").or_else(|| v.get("code")))
        .and_then(|t| t.as_str())
        .map(String::from);
    let from_header = resp
        .header("x-amzn-errortype")
        .map(|h| h.split(':').next().unwrap_or("").to_string());
    let raw = from_body.or(from_header).filter(|c| !c.is_empty())?;
    let code = raw.rsplit('#').next().unwrap_or(&raw).to_string();
    let message = v
        .as_ref()
        .and_then(|v| v.get("message").or_else(|| v.get("Message")))
        .and_then(|m| m.as_str())
        .unwrap_or("")
        .to_string();
    Some(AwsError { code, message })
}

/// Reads secret `secret_id` at Secrets Manager origin `endpoint` with `creds`, signed at
/// `now` (unix seconds) for `region`. Errors say what to fix (see the module docs).
pub fn get_secret_value(
    t: &mut dyn Transport,
    endpoint: &str,
    region: &str,
    creds: &Credentials,
    secret_id: &str,
    now: u64,
) -> Result<Secret, StageError> {
    let url = format!("{}/", endpoint.trim_end_matches('/'));
    let body = serde_json::to_vec(&serde_json::json!({ "SecretId": secret_id })).unwrap();
    let mut req = Request::post(&url, "application/x-amz-json-1.1", body)
        .header("x-amz-target", "secretsmanager.GetSecretValue")
        .header("accept", "application/json")
        .header("user-agent", USER_AGENT);
    sign(&mut req, creds, region, "secretsmanager", now, false)?;
    let resp = t
        .send(&req, &mut |_, _| {})
        .map_err(|e| unreachable("Secrets Manager", endpoint, region, e))?;
    if resp.status == 200 {
        let v: serde_json::Value = serde_json::from_slice(&resp.body).map_err(|_| {
            StageError::new(
                Category::Authentication,
                format!(
                    "Secrets Manager at {endpoint} answered 200 with something that is not JSON"
                ),
            )
            .with_hint("check `region`; the endpoint may be a proxy")
        })?;
        let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(String::from);
        return Ok(Secret {
            arn: s("ARN"),
            name: s("Name"),
            version_id: s("VersionId"),
            secret_string: s("SecretString"),
            binary: v.get("SecretBinary").is_some_and(|b| !b.is_null()),
        });
    }
    Err(secrets_error(endpoint, region, secret_id, now, &resp))
}

/// The [`StageError`] for a Secrets Manager error answer; `now` is the local clock, compared
/// with the answer's `Date` for a signature refused as expired.
pub fn secrets_error(
    endpoint: &str,
    region: &str,
    secret_id: &str,
    now: u64,
    resp: &Response,
) -> StageError {
    let status = resp.status;
    let Some(e) = parse_json_error(resp) else {
        let retryable = status >= 500 || status == 429;
        return StageError::new(
            if retryable { Category::Network } else { Category::Authentication },
            format!(
                "Secrets Manager at {endpoint} answered {status} with no AWS error: {}",
                short(&resp.text())
            ),
        )
        .retryable(retryable)
        .with_hint(format!(
            "check `region` (\"{region}\"); if it is right, Secrets Manager may be having trouble: re-run"
        ));
    };
    let what = format!(
        "Secrets Manager refused GetSecretValue for \"{secret_id}\" ({status} {}: {})",
        e.code,
        short(&e.message)
    );
    let lower = e.message.to_ascii_lowercase();
    let skew = lower.contains("signature expired")
        || lower.contains("signature not yet current")
        || lower.contains("clock skew");
    if skew
        || matches!(
            e.code.as_str(),
            "InvalidSignatureException" | "SignatureDoesNotMatch"
        )
    {
        let server = resp
            .header("date")
            .map(|d| format!(", the server's Date: {d}"))
            .unwrap_or_default();
        let hint = if skew {
            format!(
                "this machine's clock is wrong (it says {}{server}): sync it (NTP); AWS accepts requests signed within 5 minutes of its time",
                amz_date(now)
            )
        } else {
            "the request's signature did not match: check this machine's clock and `region` (the signature is scoped to it)".to_string()
        };
        return StageError::new(Category::Authentication, what).with_hint(hint);
    }
    let (category, retryable, hint) = match e.code.as_str() {
        "ResourceNotFoundException" => (
            Category::Configuration,
            false,
            format!("no secret \"{secret_id}\" in region {region}: check `secret_id` (its name or full ARN) and `region` (a secret lives in one region; its ARN shows which)"),
        ),
        "AccessDeniedException" | "AccessDenied" => (
            Category::Authentication,
            false,
            if lower.contains("kms") {
                format!("the role may read the secret but not decrypt it: allow kms:Decrypt on the secret's KMS key for the role (and check the key policy), for \"{secret_id}\"")
            } else {
                format!("allow secretsmanager:GetSecretValue on the secret \"{secret_id}\" (its ARN, or ARN-* for a name) in the assumed role's policy, and check the secret's resource policy does not deny it")
            },
        ),
        "DecryptionFailure" => (
            Category::Authentication,
            false,
            "Secrets Manager could not decrypt the secret with its KMS key: allow kms:Decrypt on that key for the role, and check the key is enabled".to_string(),
        ),
        "InvalidRequestException" => (
            Category::Configuration,
            false,
            format!("the secret \"{secret_id}\" cannot be read now (e.g. it is scheduled for deletion): restore it, or point `secret_id` to another"),
        ),
        "UnrecognizedClientException" | "InvalidClientTokenId" => (
            Category::Authentication,
            false,
            format!("AWS did not recognise the temporary credentials: check the region \"{region}\" is enabled for the account, and re-run"),
        ),
        "ExpiredTokenException" => (
            Category::Authentication,
            false,
            "the temporary credentials expired before the secret was read: re-run the job (and check this machine's clock)".to_string(),
        ),
        "ThrottlingException" | "InternalServiceError" | "InternalFailure" | "ServiceUnavailable" => (
            Category::Network,
            true,
            "Secrets Manager is busy or failing; re-run the job in a minute".to_string(),
        ),
        _ => (
            Category::Authentication,
            status >= 500,
            format!("check `secret_id` (\"{secret_id}\"), `region` and the role's permissions"),
        ),
    };
    StageError::new(category, what)
        .retryable(retryable)
        .with_hint(hint)
}

/// The token in `secret`: its `SecretString` as is (trimmed) when `key` is `None`, or the
/// string at `key` of the JSON object it holds. Errors name the JSON keys there are, never
/// a value.
pub fn extract(secret: &Secret, secret_id: &str, key: Option<&str>) -> Result<String, StageError> {
    let Some(s) = secret.secret_string.as_deref() else {
        return Err(StageError::config(format!(
            "the secret \"{secret_id}\" has no SecretString{}",
            if secret.binary { " (it is stored as SecretBinary)" } else { "" }
        ))
        .with_hint("store the token as the secret's plaintext value (SecretString), plain or as a JSON object with `secret_key` naming its key"));
    };
    let object = serde_json::from_str::<serde_json::Value>(s.trim())
        .ok()
        .and_then(|v| v.as_object().cloned());
    let keys = |o: &serde_json::Map<String, serde_json::Value>| {
        o.keys()
            .map(|k| format!("\"{k}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let token = match (object, key) {
        (Some(o), Some(k)) => match o.get(k) {
            Some(serde_json::Value::String(v)) => v.trim().to_string(),
            Some(_) => {
                return Err(StageError::config(format!(
                    "the key \"{k}\" of the secret \"{secret_id}\" is not a string"
                ))
                .with_hint("store the token as a JSON string under that key"));
            }
            None => {
                return Err(StageError::config(format!(
                    "the secret \"{secret_id}\" is a JSON object without the key \"{k}\" (its keys: {})",
                    keys(&o)
                ))
                .with_hint("set `secret_key` to the key that holds the token"));
            }
        },
        (Some(o), None) => {
            return Err(StageError::config(format!(
                "the secret \"{secret_id}\" is a JSON object (keys: {}), and no `secret_key` says which holds the token",
                keys(&o)
            ))
            .with_hint("set `secret_key` to the key that holds the token"));
        }
        (None, Some(k)) => {
            return Err(StageError::config(format!(
                "`secret_key` is \"{k}\" but the secret \"{secret_id}\" is not a JSON object"
            ))
            .with_hint("remove `secret_key` to use the whole secret as the token, or store it as {\"KEY\": \"TOKEN\"}"));
        }
        (None, None) => s.trim().to_string(),
    };
    if token.is_empty() {
        return Err(StageError::config(format!(
            "the token in the secret \"{secret_id}\" is empty"
        ))
        .with_hint("put the publishing token in the secret"));
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> Secret {
        Secret {
            secret_string: Some(s.into()),
            ..Default::default()
        }
    }

    #[test]
    fn extracts() {
        assert_eq!(
            extract(&secret(" pypi-abc\n"), "s", None).unwrap(),
            "pypi-abc"
        );
        assert_eq!(
            extract(
                &secret(r#"{"token": "pypi-x", "user": "u"}"#),
                "s",
                Some("token")
            )
            .unwrap(),
            "pypi-x"
        );
        let e = extract(&secret(r#"{"token": "pypi-x"}"#), "s", Some("pw")).unwrap_err();
        assert!(
            e.message.contains("\"token\"") && !e.message.contains("pypi-x"),
            "{e}"
        );
        let e = extract(&secret(r#"{"token": "pypi-x"}"#), "s", None).unwrap_err();
        assert!(e.hint.unwrap().contains("secret_key") && !e.message.contains("pypi-x"));
        assert!(extract(&secret("pypi-x"), "s", Some("k")).is_err());
        assert!(
            extract(
                &Secret {
                    binary: true,
                    ..Default::default()
                },
                "s",
                None
            )
            .is_err()
        );
        assert!(!format!("{:?}", secret("pypi-x")).contains("pypi-x"));
    }

    #[test]
    fn errors_say_what_to_fix() {
        let r = |status, body: &str, date: Option<&str>| Response {
            status,
            headers: date
                .map(|d| vec![("date".to_string(), d.to_string())])
                .unwrap_or_default(),
            body: body.as_bytes().to_vec(),
        };
        let e = secrets_error(
            "e",
            "us-east-1",
            "pypi",
            0,
            &r(
                400,
                r#"{"__type":"com.amazonaws#ResourceNotFoundException","Message":"Secrets Manager can't find the specified secret."}"#,
                None,
            ),
        );
        assert!(e.hint.unwrap().contains("secret_id"));
        let e = secrets_error(
            "e",
            "us-east-1",
            "pypi",
            0,
            &r(
                400,
                r#"{"__type":"AccessDeniedException","Message":"User: arn:aws:sts::1:assumed-role/r/s is not authorized to perform: secretsmanager:GetSecretValue"}"#,
                None,
            ),
        );
        assert!(e.hint.unwrap().contains("secretsmanager:GetSecretValue"));
        let e = secrets_error(
            "e",
            "us-east-1",
            "pypi",
            1_440_938_160,
            &r(
                400,
                r#"{"__type":"InvalidSignatureException","message":"Signature expired: 20150830T123600Z is now earlier than 20150830T124100Z (20150830T124600Z - 5 min.)"}"#,
                Some("Sun, 30 Aug 2015 12:46:00 GMT"),
            ),
        );
        let hint = e.hint.unwrap();
        assert!(
            hint.contains("clock")
                && hint.contains("20150830T123600Z")
                && hint.contains("12:46:00"),
            "{hint}"
        );
        let e = secrets_error(
            "e",
            "us-east-1",
            "pypi",
            0,
            &r(502, "<html>bad gateway</html>", None),
        );
        assert!(e.retryable);
    }
}
