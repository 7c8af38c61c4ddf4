//! The one retry policy of every stage that talks to a server: which failures to retry
//! and how long to wait.
//!
//! - What is retried: transport failures the SDK marks retryable (nothing reached the server,
//!   or the exchange broke), and the answers 408, 429, 500, 502, 503 and 504
//!   ([`is_retryable_status`]), as uv's and pip's clients do.
//! - Only requests that are safe to repeat go through [`send_retrying`]: GETs, and POSTs
//!   whose repetition has no effect beyond the first (STS's AssumeRoleWithWebIdentity,
//!   Secrets Manager's GetSecretValue, Fulcio and Rekor). An upload repeats only after
//!   looking whether the last attempt stored the file (`airlock_publish::index`), and a
//!   request that creates something (a GitHub issue) is sent once.
//! - How long: exponential backoff with "equal jitter" (half the step fixed, half random),
//!   so concurrent publishers do not retry in lockstep; a server's `Retry-After` (RFC 9110
//!   §10.2.3: delay-seconds or an HTTP-date) replaces the computed wait, up to
//!   [`RetryPolicy::max_retry_after_s`].
//! - Every retry is said as a warning (`host::warn`), with the attempt and the wait.

use std::time::{Duration, SystemTime};

use serde::Deserialize;

use crate::http::{Request, Response, Transport, server_message};
use crate::{Category, StageError, host};

/// How often and how long to retry. Defaults: base 1 s, factor 2, cap 60 s, 3 retries
/// (so at most 4 attempts), `Retry-After` honoured up to 300 s.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0 = never retry).
    pub retries: u32,
    /// The first wait, in seconds (fractions allowed).
    pub base_s: f64,
    /// Each further wait is this many times the previous one.
    pub factor: f64,
    /// No computed wait exceeds this, in seconds.
    pub cap_s: f64,
    /// A `Retry-After` longer than this (seconds) is not waited for: the request fails with
    /// a retryable error instead.
    pub max_retry_after_s: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            retries: 3,
            base_s: 1.0,
            factor: 2.0,
            cap_s: 60.0,
            max_retry_after_s: 300.0,
        }
    }
}

impl RetryPolicy {
    /// The step before retry number `retry` (0-based), without jitter:
    /// `min(cap, base * factor^retry)`.
    pub fn step(&self, retry: u32) -> Duration {
        let s = self.base_s.max(0.0) * self.factor.max(1.0).powi(retry.min(64) as i32);
        Duration::from_secs_f64(s.min(self.cap_s.max(0.0)))
    }

    /// The wait before retry number `retry` (0-based), given `jitter` in `[0, 1)`:
    /// `step/2 + jitter*step/2`. With a `retry_after`, that value instead (not jittered:
    /// the server asked for it). `None` when `retry_after` exceeds
    /// [`RetryPolicy::max_retry_after_s`].
    pub fn delay(
        &self,
        retry: u32,
        retry_after: Option<Duration>,
        jitter: f64,
    ) -> Option<Duration> {
        if let Some(ra) = retry_after {
            return (ra.as_secs_f64() <= self.max_retry_after_s).then_some(ra);
        }
        let step = self.step(retry).as_secs_f64();
        let j = jitter.clamp(0.0, 1.0);
        Some(Duration::from_secs_f64(step / 2.0 + j * step / 2.0))
    }

    /// [`RetryPolicy::delay`] with a random jitter.
    pub fn delay_random(&self, retry: u32, retry_after: Option<Duration>) -> Option<Duration> {
        self.delay(retry, retry_after, fastrand::f64())
    }
}

/// True for the HTTP statuses worth retrying: 408, 429, 500, 502, 503, 504.
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

/// After failed attempt `retry` (0-based) that failed with `err` (the server asked for
/// `retry_after`, if it did): waits as `policy` says with `sleep`, saying so with
/// `host::warn`, or gives up. Errors: `err` with "(gave up after N attempts)" once
/// `policy.retries` are spent, or with "(the server asked to wait …, longer than allowed)"
/// when `retry_after` exceeds [`RetryPolicy::max_retry_after_s`]; the error keeps its own
/// hint, or gets one that says to run the stage again later.
pub fn back_off(
    policy: &RetryPolicy,
    retry: u32,
    err: StageError,
    retry_after: Option<Duration>,
    sleep: &mut dyn FnMut(Duration),
) -> Result<(), StageError> {
    let later = |e: StageError, hint: &str| {
        if e.hint.is_some() {
            e
        } else {
            e.with_hint(hint)
        }
    };
    if retry >= policy.retries {
        let attempts = retry + 1;
        let message = format!("{} (gave up after {attempts} attempts)", err.message);
        return Err(later(
            StageError { message, ..err },
            "the server or the network is failing; run the stage again later",
        ));
    }
    let Some(wait) = policy.delay_random(retry, retry_after) else {
        let message = format!(
            "{} (the server asked to wait {} s, longer than allowed)",
            err.message,
            retry_after.unwrap_or_default().as_secs()
        );
        return Err(later(
            StageError { message, ..err },
            "run the stage again later",
        ));
    };
    host::warn(&format!(
        "{} (attempt {}); retrying in {:.1} s",
        err.message,
        retry + 1,
        wait.as_secs_f64()
    ));
    sleep(wait);
    Ok(())
}

/// Sends `req`, which must be safe to repeat, through `t`, retrying retryable transport
/// failures and 408/429/5xx answers as `policy` says (see [`back_off`]; `sleep` waits).
/// `what` names the server in messages (e.g. `"the simple index https://…/simple/x/"`).
/// Returns the first answer that is not retryable, whatever its status. Errors: a
/// non-retryable transport failure at once; after the last attempt, the last failure
/// ([`Category::Network`], retryable: "{what} answered 503: … (gave up after 4 attempts)",
/// or "{what} could not be reached: request to … failed: connection refused …").
pub fn send_retrying(
    t: &mut dyn Transport,
    req: &Request,
    policy: &RetryPolicy,
    what: &str,
    sleep: &mut dyn FnMut(Duration),
) -> Result<Response, StageError> {
    let mut retry = 0;
    loop {
        let (err, retry_after) = match t.send(req, &mut |_, _| {}) {
            Ok(r) if !is_retryable_status(r.status) => return Ok(r),
            Ok(r) => (
                StageError::new(
                    Category::Network,
                    format!("{what} answered {}: {}", r.status, server_message(&r.body)),
                )
                .retryable(true),
                r.header("retry-after")
                    .and_then(|v| parse_retry_after(v, SystemTime::now())),
            ),
            Err(e) if e.retryable && e.category == Category::Network => (
                StageError {
                    message: format!("{what} could not be reached: {}", e.message),
                    ..e
                },
                None,
            ),
            Err(e) => return Err(e),
        };
        back_off(policy, retry, err, retry_after, sleep)?;
        retry += 1;
    }
}

/// Runs `attempt`, a whole exchange that is safe to repeat and whose failures the caller
/// classifies itself (AWS answers throttling with a 400 and an error code), until it
/// succeeds or fails in a way not worth repeating: a retryable [`Category::Network`] error
/// is retried as `policy` says (see [`back_off`]), anything else is returned at once.
/// Errors: the last error, marked "(gave up after N attempts)" when retries ran out.
pub fn retrying<T>(
    policy: &RetryPolicy,
    sleep: &mut dyn FnMut(Duration),
    mut attempt: impl FnMut() -> Result<T, StageError>,
) -> Result<T, StageError> {
    let mut retry = 0;
    loop {
        match attempt() {
            Err(e) if e.retryable && e.category == Category::Network => {
                back_off(policy, retry, e, None, sleep)?;
                retry += 1;
            }
            done => return done,
        }
    }
}

/// [`std::thread::sleep`], as the `sleep` of [`send_retrying`] and [`back_off`] in a
/// component (wasi:clocks' monotonic clock).
pub fn sleep(d: Duration) {
    std::thread::sleep(d)
}

/// Parses a `Retry-After` value: delay-seconds (`"120"`) or an HTTP-date, relative to `now`
/// (a date in the past is zero). `None` when malformed.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_capped_and_jittered() {
        let p = RetryPolicy::default();
        assert_eq!(p.step(0), Duration::from_secs(1));
        assert_eq!(p.step(1), Duration::from_secs(2));
        assert_eq!(p.step(3), Duration::from_secs(8));
        assert_eq!(p.step(10), Duration::from_secs(60));
        assert_eq!(p.delay(2, None, 0.0), Some(Duration::from_secs(2)));
        assert_eq!(p.delay(2, None, 1.0), Some(Duration::from_secs(4)));
        for _ in 0..100 {
            let d = p.delay_random(1, None).unwrap();
            assert!(
                d >= Duration::from_secs(1) && d <= Duration::from_secs(2),
                "{d:?}"
            );
        }
    }

    #[test]
    fn retry_after_wins_but_is_bounded() {
        let p = RetryPolicy::default();
        assert_eq!(
            p.delay(0, Some(Duration::from_secs(7)), 0.5),
            Some(Duration::from_secs(7))
        );
        assert_eq!(p.delay(0, Some(Duration::from_secs(301)), 0.5), None);
    }

    #[test]
    fn parses_retry_after_forms() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(parse_retry_after(" 5 ", now), Some(Duration::from_secs(5)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    /// Answers from a script, in order; records the URLs asked.
    struct Script(Vec<Result<Response, StageError>>, Vec<String>);
    impl Transport for Script {
        fn send(
            &mut self,
            req: &Request,
            _: &mut dyn FnMut(u64, u64),
        ) -> Result<Response, StageError> {
            self.1.push(req.url.clone());
            self.0.remove(0)
        }
    }
    fn status(code: u16, headers: &[(&str, &str)]) -> Result<Response, StageError> {
        Ok(Response {
            status: code,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: b"<h1>busy</h1>".to_vec(),
        })
    }
    fn refused() -> Result<Response, StageError> {
        Err(StageError::new(Category::Network, "connection refused").retryable(true))
    }

    #[test]
    fn send_retrying_waits_as_told_and_returns_the_first_final_answer() {
        let mut t = Script(
            vec![
                status(503, &[("Retry-After", "7")]),
                refused(),
                status(429, &[]),
                status(404, &[]),
            ],
            vec![],
        );
        let mut slept = Vec::new();
        let r = send_retrying(
            &mut t,
            &Request::get("http://x/simple/p/"),
            &RetryPolicy::default(),
            "the index",
            &mut |d| slept.push(d),
        )
        .unwrap();
        assert_eq!(r.status, 404);
        assert_eq!(t.1.len(), 4);
        assert_eq!(slept[0], Duration::from_secs(7));
        assert!(slept[1] >= Duration::from_secs(1) && slept[1] <= Duration::from_secs(2));
        assert!(slept[2] >= Duration::from_secs(2) && slept[2] <= Duration::from_secs(4));
        let said = crate::host::take_records();
        let warned = format!("{said:?}");
        assert!(
            warned.contains("the index answered 503: busy (attempt 1); retrying in 7.0 s"),
            "{warned}"
        );
        assert!(
            warned.contains("the index could not be reached: connection refused (attempt 2)"),
            "{warned}"
        );
    }

    #[test]
    fn send_retrying_gives_up_and_never_repeats_what_is_not_transient() {
        let mut t = Script(vec![status(502, &[]), refused(), status(500, &[])], vec![]);
        let policy = RetryPolicy {
            retries: 2,
            ..Default::default()
        };
        let e = send_retrying(
            &mut t,
            &Request::get("http://x/"),
            &policy,
            "the API",
            &mut |_| {},
        )
        .unwrap_err();
        assert_eq!(e.category, Category::Network);
        assert!(e.retryable);
        assert_eq!(
            e.message,
            "the API answered 500: busy (gave up after 3 attempts)"
        );
        assert!(e.hint.unwrap().contains("run the stage again later"));

        // A refusal by the sandbox is not the network's fault: no second attempt.
        let denied = StageError::new(Category::Capability, "not granted");
        let mut t = Script(vec![Err(denied), status(200, &[])], vec![]);
        let e = send_retrying(
            &mut t,
            &Request::get("http://x/"),
            &policy,
            "the API",
            &mut |_| {},
        )
        .unwrap_err();
        assert_eq!((e.category, t.1.len()), (Category::Capability, 1));

        // A Retry-After beyond the policy's bound is not waited for.
        let mut t = Script(vec![status(503, &[("retry-after", "3600")])], vec![]);
        let mut slept = Vec::new();
        let e = send_retrying(
            &mut t,
            &Request::get("http://x/"),
            &policy,
            "the API",
            &mut |d| slept.push(d),
        )
        .unwrap_err();
        assert!(
            e.message
                .contains("asked to wait 3600 s, longer than allowed"),
            "{e}"
        );
        assert!(e.retryable && slept.is_empty());
    }

    #[test]
    fn retrying_repeats_only_transient_network_errors() {
        let mut calls = 0;
        let r = retrying(&RetryPolicy::default(), &mut |_| {}, || {
            calls += 1;
            if calls < 3 {
                Err(StageError::new(Category::Network, "Throttling").retryable(true))
            } else {
                Ok(calls)
            }
        });
        assert_eq!(r.unwrap(), 3);
        let mut calls = 0;
        let e = retrying(&RetryPolicy::default(), &mut |_| {}, || -> Result<(), _> {
            calls += 1;
            Err(StageError::new(Category::Authentication, "AccessDenied"))
        })
        .unwrap_err();
        assert_eq!((e.category, calls), (Category::Authentication, 1));
        let mut calls = 0;
        let e = retrying(&RetryPolicy::default(), &mut |_| {}, || -> Result<(), _> {
            calls += 1;
            Err(StageError::new(Category::Network, "down").retryable(true))
        })
        .unwrap_err();
        assert_eq!(calls, 4);
        assert_eq!(e.message, "down (gave up after 4 attempts)");
    }

    #[test]
    fn retryable_statuses() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(is_retryable_status(s));
        }
        for s in [200, 400, 401, 403, 404, 405, 409, 501] {
            assert!(!is_retryable_status(s));
        }
    }
}
