//! What an index's answer to a legacy upload means.
//!
//! Status meanings from warehouse (`forklift/legacy.py`) and pypiserver 2.x: 200 ok;
//! a duplicate is 409 (pypiserver) or 400 "File already exists" (PyPI, and pypiserver when
//! the User-Agent says twine); 401 no or bad credentials, 403 credentials without permission;
//! 405 the URL does not accept uploads (often the simple index); 408/429/5xx transient.

use std::time::{Duration, SystemTime};

use airlock_stage::http::Response;
use airlock_stage::{Category, StageError};

use crate::retry::{is_retryable_status, parse_retry_after};

/// The meaning of one answer to an upload POST.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// 2xx: the index stored the file.
    Stored,
    /// The index already has a file of this name; compare digests to know more.
    AlreadyExists {
        /// The server's message.
        message: String,
    },
    /// A transient failure: wait (the server's `Retry-After`, if any) and try again.
    Retry {
        /// The status, e.g. 503.
        status: u16,
        /// The parsed `Retry-After`.
        retry_after: Option<Duration>,
        /// The server's message.
        message: String,
    },
    /// A failure that retrying will not fix.
    Fail(StageError),
}

pub use airlock_stage::http::server_message;

/// Classifies `resp`, the answer to uploading `filename` to `url`.
pub fn classify(url: &str, filename: &str, resp: &Response, now: SystemTime) -> Answer {
    let status = resp.status;
    let message = server_message(&resp.body);
    let said = if message.is_empty() {
        String::new()
    } else {
        format!(": {message}")
    };
    let lower = message.to_ascii_lowercase();
    match status {
        200..=299 => Answer::Stored,
        409 => Answer::AlreadyExists { message },
        400 if lower.contains("already exists") || lower.contains("file-name-reuse") => {
            Answer::AlreadyExists { message }
        }
        s if is_retryable_status(s) => Answer::Retry {
            status: s,
            retry_after: resp
                .header("retry-after")
                .and_then(|v| parse_retry_after(v, now)),
            message,
        },
        401 => Answer::Fail(
            StageError::new(
                Category::Authentication,
                format!("{url} refused the upload of {filename}: 401 Unauthorized (no or invalid credentials){said}"),
            )
            .with_hint(
                "give the upload stage a credential for this origin: an authenticate stage that stores the token \
                 and a grants.secrets.inject rule whose `into` is this repository's origin (for PyPI: \
                 as = \"basic:__token__\"); check the token is current",
            ),
        ),
        403 => Answer::Fail(
            StageError::new(
                Category::Authentication,
                format!("{url} refused the upload of {filename}: 403 Forbidden (the credentials are not allowed to upload this project){said}"),
            )
            .with_hint(
                "check the token's scope covers this project (a project-scoped PyPI token cannot create a new project), \
                 or for a private index that the user may upload (pypiserver: the htpasswd user and `-a update`)",
            ),
        ),
        405 => Answer::Fail(
            StageError::new(
                Category::Upload,
                format!("{url} does not accept uploads: 405 Method Not Allowed{said}"),
            )
            .with_hint(
                "the repository URL looks like a simple index or a web page, not an upload endpoint; \
                 PyPI's is https://upload.pypi.org/legacy/, pypiserver's is its root URL",
            ),
        ),
        413 => Answer::Fail(
            StageError::new(Category::Upload, format!("{url} refused {filename} as too large: 413{said}"))
                .with_hint("the index limits file size (PyPI: ask for a limit increase on pypi/support)"),
        ),
        300..=399 => Answer::Fail(
            StageError::new(
                Category::Upload,
                format!(
                    "{url} redirected the upload ({status}) to {}",
                    resp.header("location").unwrap_or("an unnamed location")
                ),
            )
            .with_hint("use the final upload URL as the repository (uploads are not re-sent across redirects)"),
        ),
        400 | 422 => Answer::Fail(
            StageError::new(Category::Validation, format!("{url} rejected {filename}: {status}{said}"))
                .with_hint("the index found the distribution or its metadata invalid; fix it and build again"),
        ),
        _ => Answer::Fail(StageError::new(
            Category::Upload,
            format!("{url} answered {status} to the upload of {filename}{said}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, body: &str, headers: &[(&str, &str)]) -> Response {
        Response {
            status,
            headers: headers
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    fn class(status: u16, body: &str, headers: &[(&str, &str)]) -> Answer {
        classify(
            "http://x/",
            "a-1.tar.gz",
            &resp(status, body, headers),
            SystemTime::UNIX_EPOCH,
        )
    }

    #[test]
    fn duplicates_on_pypiserver_and_pypi() {
        assert!(matches!(
            class(409, "File already exists", &[]),
            Answer::AlreadyExists { .. }
        ));
        assert!(matches!(
            class(
                400,
                "<html><body><h1>400 File already exists ('a-1.tar.gz', with blake2_256 hash 'x').</h1></body></html>",
                &[]
            ),
            Answer::AlreadyExists { .. }
        ));
        assert!(
            matches!(class(400, "Invalid value for classifiers", &[]), Answer::Fail(e) if e.category == Category::Validation)
        );
    }

    #[test]
    fn auth_errors_are_not_retried_and_have_hints() {
        for s in [401, 403] {
            match class(s, "", &[]) {
                Answer::Fail(e) => {
                    assert_eq!(e.category, Category::Authentication);
                    assert!(!e.retryable);
                    assert!(e.hint.is_some());
                }
                other => panic!("{other:?}"),
            }
        }
        match class(405, "", &[]) {
            Answer::Fail(e) => assert!(e.hint.unwrap().contains("simple index")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn transient_answers_carry_retry_after() {
        assert_eq!(
            class(429, "slow down", &[("Retry-After", "3")]),
            Answer::Retry {
                status: 429,
                retry_after: Some(Duration::from_secs(3)),
                message: "slow down".into()
            }
        );
        assert!(matches!(
            class(503, "", &[]),
            Answer::Retry {
                retry_after: None,
                ..
            }
        ));
        assert_eq!(class(200, "", &[]), Answer::Stored);
    }

    #[test]
    fn messages_are_stripped_and_bounded() {
        assert_eq!(
            server_message(b"<h1>Bad</h1>\n  thing <b>x</b>"),
            "Bad thing x"
        );
        assert!(server_message("y".repeat(1000).as_bytes()).chars().count() <= 301);
    }
}
