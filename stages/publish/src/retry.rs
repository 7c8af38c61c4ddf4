//! Retry decisions for uploads: which failures to retry and how long to wait.
//!
//! Exponential backoff with "equal jitter" (half the step fixed, half random) so that
//! concurrent publishers do not retry in lockstep; a server's `Retry-After` (RFC 9110
//! §10.2.3: delay-seconds or an HTTP-date) replaces the computed wait, up to
//! [`RetryPolicy::max_retry_after`].

use std::time::{Duration, SystemTime};

use serde::Deserialize;

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
    /// A `Retry-After` longer than this (seconds) is not waited for: the upload fails with a
    /// retryable error instead.
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
