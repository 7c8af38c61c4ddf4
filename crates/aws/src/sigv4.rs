//! AWS Signature Version 4 for a stage SDK [`Request`], with AWS's own implementation
//! (the `aws-sigv4` crate of smithy-rs).
//!
//! Source: AWS IAM User Guide, "Create a signed AWS API request" (SigV4): the canonical
//! request (method, URI-encoded path, sorted query, lowercase sorted headers, signed header
//! list, hex SHA-256 of the payload), the string to sign (`AWS4-HMAC-SHA256`, the
//! `YYYYMMDDTHHMMSSZ` time, the scope `date/region/service/aws4_request`, the hash of the
//! canonical request), the signing key (HMAC-SHA256 chain `AWS4`+secret → date → region →
//! service → `aws4_request`), and the `Authorization` header
//! `AWS4-HMAC-SHA256 Credential=AKID/scope, SignedHeaders=…, Signature=…`. Temporary
//! credentials add `X-Amz-Security-Token` (signed).
//!
//! [`sign`] adds `x-amz-date`, `x-amz-security-token` (temporary credentials),
//! `x-amz-content-sha256` (when asked) and `authorization` to the request's headers. The
//! `Host` header is signed from the URL's authority (with its port when not the default),
//! which is what wasi:http sends.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use airlock_stage::StageError;
use airlock_stage::http::Request;
use aws_sigv4::http_request::{
    PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings, sign as aws_sign,
};
use aws_sigv4::sign::v4;

use crate::Credentials;

/// Signs `req` in place for `service` (`secretsmanager`, `sts`, …) in `region` at `now`
/// (unix seconds). `sign_body` adds `x-amz-content-sha256` (S3 needs it; JSON and query
/// APIs do not). The body must be in `req.body` (a streamed body cannot be signed here).
///
/// Errors (category internal) only for a request the signer cannot parse, e.g. an invalid
/// URL; the message never contains the credentials.
pub fn sign(
    req: &mut Request,
    creds: &Credentials,
    region: &str,
    service: &str,
    now: u64,
    sign_body: bool,
) -> Result<(), StageError> {
    sign_at(
        req,
        creds,
        region,
        service,
        UNIX_EPOCH + Duration::from_secs(now),
        sign_body,
    )
}

/// [`sign`] at a [`SystemTime`].
pub fn sign_at(
    req: &mut Request,
    creds: &Credentials,
    region: &str,
    service: &str,
    time: SystemTime,
    sign_body: bool,
) -> Result<(), StageError> {
    if !req.stream.is_empty() {
        return Err(StageError::internal(
            "a SigV4 request must carry its body in memory, not streamed",
        ));
    }
    let identity = aws_credential_types::Credentials::new(
        creds.access_key_id.clone(),
        creds.secret_access_key.clone(),
        creds.session_token.clone(),
        None,
        "airlock",
    )
    .into();
    let mut settings = SigningSettings::default();
    if sign_body {
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    }
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| StageError::internal(format!("SigV4 parameters: {e}")))?
        .into();
    let signable = SignableRequest::new(
        &req.method,
        req.url.as_str(),
        req.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        SignableBody::Bytes(&req.body),
    )
    .map_err(|e| {
        StageError::internal(format!(
            "cannot sign the request to {}: {e}",
            airlock_stage::http::strip_query(&req.url)
        ))
    })?;
    let (instructions, _signature) = aws_sign(signable, &params)
        .map_err(|e| StageError::internal(format!("SigV4 signing failed: {e}")))?
        .into_parts();
    let added: Vec<(String, String)> = instructions
        .headers()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    for (n, v) in added {
        req.headers.retain(|(m, _)| !m.eq_ignore_ascii_case(&n));
        req.headers.push((n, v));
    }
    Ok(())
}

/// The `YYYYMMDDTHHMMSSZ` form of unix time `now` (the `X-Amz-Date` format), for messages.
pub fn amz_date(now: u64) -> String {
    let days = (now / 86_400) as i64;
    let secs = now % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amz_dates() {
        assert_eq!(amz_date(1_440_938_160), "20150830T123600Z");
        assert_eq!(amz_date(0), "19700101T000000Z");
        assert_eq!(amz_date(951_782_400), "20000229T000000Z");
    }
}
