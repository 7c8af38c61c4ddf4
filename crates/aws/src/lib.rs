//! AWS for airlock stages: a publishing token kept in AWS Secrets Manager, fetched with a
//! GitHub Actions OIDC ID token (the authenticate stage's `mode = "aws"`, issue 9).
//!
//! The flow, each step over a [`Transport`] (the stage SDK's wasi:http in a component, a
//! native client in tests):
//! 1. the caller gets a GitHub ID token with audience [`STS_AUDIENCE`] (see
//!    `airlock_publish::oidc::id_token`);
//! 2. [`sts::assume_role_with_web_identity`] exchanges it for temporary [`Credentials`]
//!    (unsigned query-API call);
//! 3. [`secrets::get_secret_value`] reads the secret, signed with [`sigv4::sign`];
//! 4. [`secrets::extract`] takes the token out of it (a plain string, or one key of a
//!    JSON object).
//!
//! [`fetch_token`] does steps 2–4. Every failure is a [`StageError`] whose hint says what to
//! fix; no error and no `Debug` output contains a credential, the ID token or the secret.

use airlock_stage::http::split_url;
use airlock_stage::{Category, StageError};

use airlock_stage::http::Transport;
use airlock_stage::retry::{RetryPolicy, retrying, sleep};

pub mod secrets;
pub mod sigv4;
pub mod sts;

/// The audience AWS STS expects in a GitHub ID token (GitHub docs "Configuring OpenID
/// Connect in Amazon Web Services"; the `aud` condition of the IAM trust policy).
pub const STS_AUDIENCE: &str = "sts.amazonaws.com";

/// The `User-Agent` of AWS requests.
pub const USER_AGENT: &str = concat!("airlock-aws/", env!("CARGO_PKG_VERSION"));

/// Temporary AWS credentials (STS `Credentials`). `Debug` shows only the access key id's
/// first four characters and the expiration.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// `AccessKeyId` (`ASIA…` for temporary credentials).
    pub access_key_id: String,
    /// `SecretAccessKey`.
    pub secret_access_key: String,
    /// `SessionToken`, sent as `X-Amz-Security-Token`.
    pub session_token: Option<String>,
    /// `Expiration`, ISO 8601 as STS answers it (e.g. `2026-11-22T06:40:00Z`).
    pub expiration: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown: String = self.access_key_id.chars().take(4).collect();
        f.debug_struct("Credentials")
            .field("access_key_id", &format_args!("{shown}…(redacted)"))
            .field("secret_access_key", &"(redacted)")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "(redacted)"),
            )
            .field("expiration", &self.expiration)
            .finish()
    }
}

/// The STS and Secrets Manager endpoints (origins, `scheme://host[:port]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// e.g. `https://sts.eu-west-1.amazonaws.com`.
    pub sts: String,
    /// e.g. `https://secretsmanager.eu-west-1.amazonaws.com`.
    pub secretsmanager: String,
}

impl Endpoints {
    /// The regional endpoints of `region` (AWS General Reference "Service endpoints":
    /// `{service}.{region}.amazonaws.com`, `.amazonaws.com.cn` in China). Errors when
    /// `region` does not look like a region name (`us-east-1`, `eu-central-2`,
    /// `us-gov-west-1`, `cn-north-1`, …).
    pub fn for_region(region: &str) -> Result<Endpoints, StageError> {
        check_region(region)?;
        let suffix = if region.starts_with("cn-") {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        Ok(Endpoints {
            sts: format!("https://sts.{region}.{suffix}"),
            secretsmanager: format!("https://secretsmanager.{region}.{suffix}"),
        })
    }

    /// The same service at one origin (an emulator such as moto).
    pub fn single(origin: &str) -> Endpoints {
        let o = origin.trim_end_matches('/').to_string();
        Endpoints {
            sts: o.clone(),
            secretsmanager: o,
        }
    }
}

/// Checks that `region` has the shape of an AWS region name: lowercase parts separated by
/// `-`, the last one a number (`us-east-1`, `ap-southeast-4`, `us-gov-west-1`).
pub fn check_region(region: &str) -> Result<(), StageError> {
    let parts: Vec<&str> = region.split('-').collect();
    let ok = parts.len() >= 3
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].parse::<u16>().is_ok()
        && parts[0].len() == 2;
    if ok {
        Ok(())
    } else {
        Err(StageError::config(format!(
            "\"{region}\" is not an AWS region name"
        ))
        .with_hint("set `region` to the region the secret and the role live in, e.g. us-east-1 or eu-west-1 (the secret's ARN shows it: arn:aws:secretsmanager:REGION:…)"))
    }
}

/// What `mode = "aws"` is configured with.
#[derive(Clone, PartialEq, Eq)]
pub struct AwsConfig {
    /// The region of the role's STS endpoint and of the secret.
    pub region: String,
    /// The IAM role to assume, `arn:aws:iam::ACCOUNT:role/NAME`.
    pub role_arn: String,
    /// `RoleSessionName` (2–64 characters of `[\w+=,.@-]`), shown in CloudTrail.
    pub session_name: String,
    /// The secret's name or ARN.
    pub secret_id: String,
    /// For a JSON secret, the key whose value is the token.
    pub secret_key: Option<String>,
    /// `DurationSeconds` of the temporary credentials (900 to the role's maximum).
    pub duration_s: u32,
}

impl std::fmt::Debug for AwsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsConfig")
            .field("region", &self.region)
            .field("role_arn", &self.role_arn)
            .field("session_name", &self.session_name)
            .field("secret_id", &self.secret_id)
            .field("secret_key", &self.secret_key)
            .field("duration_s", &self.duration_s)
            .finish()
    }
}

/// The shortest session STS allows (and the default here: the token is fetched once).
pub const MIN_DURATION_S: u32 = 900;

impl AwsConfig {
    /// Checks the fields STS would reject, with the fix.
    pub fn check(&self) -> Result<(), StageError> {
        check_region(&self.region)?;
        let arn: Vec<&str> = self.role_arn.split(':').collect();
        if arn.len() != 6 || arn[0] != "arn" || arn[2] != "iam" || !arn[5].starts_with("role/") {
            return Err(StageError::config(format!(
                "role_arn \"{}\" is not an IAM role ARN",
                self.role_arn
            ))
            .with_hint("set `role_arn` to the role's ARN, arn:aws:iam::ACCOUNT_ID:role/ROLE_NAME (IAM console › Roles › the role › ARN)"));
        }
        let n = self.session_name.chars().count();
        if !(2..=64).contains(&n)
            || !self
                .session_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
        {
            return Err(StageError::config(format!(
                "session_name \"{}\" is not a valid RoleSessionName",
                self.session_name
            ))
            .with_hint(
                "use 2 to 64 characters among letters, digits and _+=,.@- (e.g. airlock-publish)",
            ));
        }
        if !(MIN_DURATION_S..=43_200).contains(&self.duration_s) {
            return Err(StageError::config(format!(
                "duration_s = {} is outside 900..=43200",
                self.duration_s
            ))
            .with_hint(
                "STS sessions last 900 s (15 min) to the role's maximum; keep it short: 900",
            ));
        }
        if self.secret_id.trim().is_empty() {
            return Err(StageError::config("secret_id is empty")
                .with_hint("set `secret_id` to the secret's name or ARN in Secrets Manager"));
        }
        Ok(())
    }
}

/// The token fetched from Secrets Manager. `Debug` redacts it.
#[derive(Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The publishing token. Store it with `store-secret`; never log it.
    pub token: String,
    /// When the temporary credentials used expire (not the token).
    pub credentials_expiration: Option<String>,
    /// The secret's ARN, from the answer.
    pub secret_arn: Option<String>,
    /// The secret version read.
    pub version_id: Option<String>,
}

impl std::fmt::Debug for Fetched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetched")
            .field("token", &"(redacted)")
            .field("credentials_expiration", &self.credentials_expiration)
            .field("secret_arn", &self.secret_arn)
            .field("version_id", &self.version_id)
            .finish()
    }
}

/// Steps 2–4: assume `config.role_arn` with GitHub ID token `jwt`, read the secret, take the
/// token out. `now` is unix seconds (it dates the signature).
pub fn fetch_token(
    t: &mut dyn Transport,
    endpoints: &Endpoints,
    config: &AwsConfig,
    jwt: &str,
    now: u64,
) -> Result<Fetched, StageError> {
    config.check()?;
    // Both calls are safe to repeat (a second session, a second read); AWS SDKs retry them
    // on throttling, 5xx and transport failures, as the SDK's policy does here.
    let policy = RetryPolicy::default();
    let creds = retrying(&policy, &mut sleep, || {
        sts::assume_role_with_web_identity(
            t,
            &endpoints.sts,
            &config.region,
            &sts::AssumeRole {
                role_arn: &config.role_arn,
                session_name: &config.session_name,
                duration_s: config.duration_s,
            },
            jwt,
        )
    })?;
    let secret = retrying(&policy, &mut sleep, || {
        secrets::get_secret_value(
            t,
            &endpoints.secretsmanager,
            &config.region,
            &creds,
            &config.secret_id,
            now,
        )
    })?;
    let token = secrets::extract(&secret, &config.secret_id, config.secret_key.as_deref())?;
    Ok(Fetched {
        token,
        credentials_expiration: creds.expiration.clone(),
        secret_arn: secret.arn.clone(),
        version_id: secret.version_id.clone(),
    })
}

/// The error for a request that did not get an answer, with a region hint when the host
/// is a regional AWS endpoint (a misspelt or nonexistent region does not resolve).
pub(crate) fn unreachable(what: &str, origin: &str, region: &str, err: StageError) -> StageError {
    let host = split_url(origin).map(|(_, a, _)| a).unwrap_or(origin);
    let mut hint = format!(
        "check the network, and that the region \"{region}\" exists and is enabled for the account"
    );
    if host.ends_with(".amazonaws.com") || host.ends_with(".amazonaws.com.cn") {
        hint.push_str(&format!(
            " ({host} is {what}'s endpoint in that region; the stage's grants.http must allow it)"
        ));
    }
    StageError::new(
        if err.category == Category::Capability {
            Category::Capability
        } else {
            Category::Network
        },
        format!("{what} at {origin} could not be reached: {}", err.message),
    )
    .retryable(err.retryable)
    .with_hint(hint)
}

/// The text of an AWS error message cut to a line (answers are short; this bounds them).
pub(crate) fn short(s: &str) -> String {
    let s = s.trim();
    let mut out: String = s.chars().take(300).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts() {
        let c = Credentials {
            access_key_id: "ASIAEXAMPLEKEYID".into(),
            secret_access_key: "SECRETSECRET".into(),
            session_token: Some("SESSIONTOKEN".into()),
            expiration: Some("2026-01-01T00:00:00Z".into()),
        };
        let d = format!("{c:?}");
        assert!(!d.contains("SECRETSECRET") && !d.contains("SESSIONTOKEN"));
        assert!(!d.contains("EXAMPLEKEYID") && d.contains("ASIA"));
        let f = Fetched {
            token: "pypi-TOKEN".into(),
            credentials_expiration: None,
            secret_arn: None,
            version_id: None,
        };
        assert!(!format!("{f:?}").contains("pypi-TOKEN"));
    }

    #[test]
    fn regions_and_config() {
        assert_eq!(
            Endpoints::for_region("eu-west-1").unwrap().sts,
            "https://sts.eu-west-1.amazonaws.com"
        );
        assert!(
            Endpoints::for_region("cn-north-1")
                .unwrap()
                .secretsmanager
                .ends_with(".amazonaws.com.cn")
        );
        check_region("us-gov-west-1").unwrap();
        for bad in [
            "",
            "us-east",
            "eu_west_1",
            "US-EAST-1",
            "useast1",
            "https://x",
        ] {
            let e = check_region(bad).unwrap_err();
            assert!(e.hint.unwrap().contains("region"), "{bad}");
        }
        let ok = AwsConfig {
            region: "us-east-1".into(),
            role_arn: "arn:aws:iam::123456789012:role/publish".into(),
            session_name: "airlock".into(),
            secret_id: "pypi".into(),
            secret_key: None,
            duration_s: 900,
        };
        ok.check().unwrap();
        let mut bad = ok.clone();
        bad.role_arn = "publish".into();
        assert!(
            bad.check()
                .unwrap_err()
                .hint
                .unwrap()
                .contains("arn:aws:iam::")
        );
        let mut bad = ok.clone();
        bad.duration_s = 60;
        assert!(bad.check().is_err());
        let mut bad = ok.clone();
        bad.session_name = "has space".into();
        assert!(bad.check().is_err());
    }
}
