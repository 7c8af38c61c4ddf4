//! STS `AssumeRoleWithWebIdentity`: a GitHub ID token → temporary AWS credentials.
//!
//! Source: AWS STS API Reference, "AssumeRoleWithWebIdentity" and "Common Parameters"; query
//! protocol. The call is not signed (the web identity token is the credential):
//! `POST https://sts.{region}.amazonaws.com/` with
//! `Content-Type: application/x-www-form-urlencoded; charset=utf-8` and body
//! `Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=…&RoleSessionName=…&WebIdentityToken=…&DurationSeconds=…`.
//!
//! `200` answers
//! `<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials>
//! <AccessKeyId/><SecretAccessKey/><SessionToken/><Expiration/></Credentials>…`; errors
//! answer `4xx/5xx` `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/>`,
//! with codes `AccessDenied` ("Not authorized to perform sts:AssumeRoleWithWebIdentity":
//! the role's trust policy does not match the token), `InvalidIdentityToken` (no OIDC
//! provider, wrong audience, bad signature), `ExpiredTokenException`,
//! `IDPCommunicationError`, `IDPRejectedClaim`, `RegionDisabledException`,
//! `ValidationError`.

use airlock_publish::oidc::Claims;
use airlock_stage::http::Request;
use airlock_stage::{Category, StageError};

use crate::{Credentials, Transport, USER_AGENT, short, unreachable};

/// The role to assume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AssumeRole<'a> {
    /// `RoleArn`.
    pub role_arn: &'a str,
    /// `RoleSessionName`.
    pub session_name: &'a str,
    /// `DurationSeconds`.
    pub duration_s: u32,
}

/// An AWS error answer: `Code` and `Message` (XML `ErrorResponse` or JSON `__type`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsError {
    /// e.g. `AccessDenied`, `ResourceNotFoundException`.
    pub code: String,
    /// AWS's message.
    pub message: String,
}

/// Parses a query-protocol `<ErrorResponse><Error><Code/><Message/>`.
pub fn parse_xml_error(body: &[u8]) -> Option<AwsError> {
    let text = std::str::from_utf8(body).ok()?;
    let doc = roxmltree::Document::parse(text).ok()?;
    let err = doc.descendants().find(|n| n.has_tag_name("Error"))?;
    let child = |name: &str| {
        err.children()
            .find(|n| n.has_tag_name(name))
            .and_then(|n| n.text())
            .unwrap_or("")
            .trim()
            .to_string()
    };
    let code = child("Code");
    (!code.is_empty()).then(|| AwsError {
        code,
        message: child("Message"),
    })
}

/// Parses the `Credentials` of a `200` answer.
pub fn parse_credentials(body: &[u8]) -> Option<Credentials> {
    let text = std::str::from_utf8(body).ok()?;
    let doc = roxmltree::Document::parse(text).ok()?;
    let c = doc.descendants().find(|n| n.has_tag_name("Credentials"))?;
    let child = |name: &str| {
        c.children()
            .find(|n| n.has_tag_name(name))
            .and_then(|n| n.text())
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
    };
    Some(Credentials {
        access_key_id: child("AccessKeyId")?,
        secret_access_key: child("SecretAccessKey")?,
        session_token: child("SessionToken"),
        expiration: child("Expiration"),
    })
}

/// `application/x-www-form-urlencoded` value as the AWS query protocol expects it (RFC 3986
/// unreserved kept, the rest percent-encoded): the SDK's [`encode_component`].
pub use airlock_stage::http::encode_component as form_encode;

/// Exchanges GitHub ID token `jwt` for temporary credentials of `role` at STS origin `sts`
/// (`region` is for messages). Errors say what to fix; for a trust-policy refusal the
/// message shows the token's `sub` (and other claims), never the token.
pub fn assume_role_with_web_identity(
    t: &mut dyn Transport,
    sts: &str,
    region: &str,
    role: &AssumeRole<'_>,
    jwt: &str,
) -> Result<Credentials, StageError> {
    let url = format!("{}/", sts.trim_end_matches('/'));
    let body = format!(
        "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn={}&RoleSessionName={}&WebIdentityToken={}&DurationSeconds={}",
        form_encode(role.role_arn),
        form_encode(role.session_name),
        form_encode(jwt),
        role.duration_s
    );
    let req = Request::post(
        &url,
        "application/x-www-form-urlencoded; charset=utf-8",
        body.into_bytes(),
    )
    .header("accept", "text/xml")
    .header("user-agent", USER_AGENT);
    let resp = t
        .send(&req, &mut |_, _| {})
        .map_err(|e| unreachable("STS", sts, region, e))?;
    if resp.status == 200 {
        return parse_credentials(&resp.body).ok_or_else(|| {
            StageError::new(
                Category::Authentication,
                format!(
                    "STS at {sts} answered 200 without Credentials (AccessKeyId, SecretAccessKey)"
                ),
            )
            .with_hint("the STS endpoint may be a proxy or a wrong URL; check `region`")
        });
    }
    let claims = Claims::of_jwt(jwt).unwrap_or_default();
    Err(sts_error(
        sts,
        region,
        role,
        &claims,
        resp.status,
        &resp.body,
    ))
}

/// The [`StageError`] for an STS error answer.
pub fn sts_error(
    sts: &str,
    region: &str,
    role: &AssumeRole<'_>,
    claims: &Claims,
    status: u16,
    body: &[u8],
) -> StageError {
    let Some(e) = parse_xml_error(body) else {
        let retryable = status >= 500 || status == 429;
        return StageError::new(
            if retryable {
                Category::Network
            } else {
                Category::Authentication
            },
            format!(
                "STS at {sts} answered {status} with no AWS error: {}",
                short(&String::from_utf8_lossy(body))
            ),
        )
        .retryable(retryable)
        .with_hint(format!(
            "check `region` (\"{region}\"); if it is right, STS may be having trouble: re-run"
        ));
    };
    let sub = claims.sub.as_deref().unwrap_or("MISSING");
    let what = format!(
        "STS refused AssumeRoleWithWebIdentity for {} ({status} {}: {})",
        role.role_arn,
        e.code,
        short(&e.message)
    );
    let (category, retryable, hint) = match e.code.as_str() {
        "AccessDenied" => (
            Category::Authentication,
            false,
            format!(
                "the role's trust policy must allow this repository/branch/environment: its condition on token.actions.githubusercontent.com:sub must match \"{sub}\" (StringLike, e.g. repo:OWNER/REPO:environment:NAME), and token.actions.githubusercontent.com:aud must be \"sts.amazonaws.com\"; see docs/aws.md"
            ),
        ),
        "InvalidIdentityToken" => (
            Category::Authentication,
            false,
            "the role's account must have an IAM OIDC identity provider for https://token.actions.githubusercontent.com with audience sts.amazonaws.com, and the role must trust it (Federated: arn:aws:iam::ACCOUNT:oidc-provider/token.actions.githubusercontent.com); see docs/aws.md".to_string(),
        ),
        "ExpiredTokenException" => (
            Category::Authentication,
            false,
            "the GitHub ID token expired before it reached STS (they are short-lived): re-run the job".to_string(),
        ),
        "IDPRejectedClaim" => (
            Category::Authentication,
            false,
            format!("the identity provider rejected the token's claims (sub: {sub}); check the OIDC provider's audience list includes sts.amazonaws.com"),
        ),
        "IDPCommunicationError" => (
            Category::Network,
            true,
            "STS could not reach GitHub's OIDC provider to check the token; re-run the job".to_string(),
        ),
        "RegionDisabledException" => (
            Category::Configuration,
            false,
            format!("STS is not activated in region \"{region}\" for this account: set `region` to an enabled region, or activate it (IAM › Account settings › STS)"),
        ),
        "ValidationError" | "MalformedPolicyDocument" => (
            Category::Configuration,
            false,
            "check `role_arn`, `session_name` and `duration_s` (at most the role's MaxSessionDuration; 900 is always allowed)".to_string(),
        ),
        "Throttling" | "ThrottlingException" | "ServiceUnavailable" | "InternalFailure" => (
            Category::Network,
            true,
            "STS is busy or failing; re-run the job in a minute".to_string(),
        ),
        _ => (
            Category::Authentication,
            status >= 500,
            format!("check `role_arn` and the role's trust policy against the token's sub \"{sub}\""),
        ),
    };
    let message = if matches!(
        e.code.as_str(),
        "AccessDenied" | "IDPRejectedClaim" | "InvalidIdentityToken"
    ) {
        format!("{what}. Token claims: {}", claims.render())
    } else {
        what
    };
    StageError::new(category, message)
        .retryable(retryable)
        .with_hint(hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = r#"<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>repo:o/r:environment:pypi</SubjectFromWebIdentityToken>
    <Credentials>
      <SessionToken>AQoDYXdzEE0a8ANXXXXXXXXNO1ewxE5TijQyp+IEXAMPLE</SessionToken>
      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>
      <Expiration>2014-10-24T23:00:23Z</Expiration>
      <AccessKeyId>ASgeIAIOSFODNN7EXAMPLE</AccessKeyId>
    </Credentials>
  </AssumeRoleWithWebIdentityResult>
</AssumeRoleWithWebIdentityResponse>"#;

    #[test]
    fn parses_credentials_and_errors() {
        let c = parse_credentials(OK.as_bytes()).unwrap();
        assert_eq!(c.access_key_id, "ASgeIAIOSFODNN7EXAMPLE");
        assert_eq!(c.expiration.as_deref(), Some("2014-10-24T23:00:23Z"));
        assert!(c.session_token.is_some());
        let err = br#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>Not authorized to perform sts:AssumeRoleWithWebIdentity</Message></Error><RequestId>x</RequestId></ErrorResponse>"#;
        let role = AssumeRole {
            role_arn: "arn:aws:iam::1:role/r",
            session_name: "s",
            duration_s: 900,
        };
        let claims = Claims {
            sub: Some("repo:o/r:ref:refs/heads/main".into()),
            ..Default::default()
        };
        let e = sts_error("https://sts", "us-east-1", &role, &claims, 403, err);
        assert_eq!(e.category, Category::Authentication);
        assert!(
            e.message.contains("Not authorized")
                && e.message.contains("sub: repo:o/r:ref:refs/heads/main")
        );
        let hint = e.hint.unwrap();
        assert!(
            hint.contains("trust policy") && hint.contains("repo:o/r:ref:refs/heads/main"),
            "{hint}"
        );
        let e = sts_error(
            "https://sts",
            "us-east-1",
            &role,
            &claims,
            503,
            b"<html>oops</html>",
        );
        assert!(e.retryable);
        assert_eq!(form_encode("a b/c=d"), "a%20b%2Fc%3Dd");
    }
}
