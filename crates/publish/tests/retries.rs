//! Retry, backoff and lost-answer decisions, with a scripted transport (no sleeping).

use std::time::Duration;

use airlock_publish::index::Index;
use airlock_publish::{Distribution, FileStatus};
use airlock_stage::http::Transport;
use airlock_stage::http::{Request, Response};
use airlock_stage::{Category, StageError};
use airlock_test_support::{MYPYLOGGER_WHEEL as WHEEL, fixtures};

/// Answers POSTs from `posts` in order and GETs (simple pages) with `page`.
struct Scripted {
    posts: Vec<Result<Response, StageError>>,
    page: Response,
    log: Vec<String>,
}

fn resp(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
    Response {
        status,
        headers: headers
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
        body: body.as_bytes().to_vec(),
    }
}

impl Transport for Scripted {
    fn send(&mut self, req: &Request, _: &mut dyn FnMut(u64, u64)) -> Result<Response, StageError> {
        self.log.push(format!("{} {}", req.method, req.url));
        if req.method == "POST" {
            assert!(req.headers.iter().any(
                |(n, v)| n == "content-type" && v.starts_with("multipart/form-data; boundary=")
            ));
            self.posts.remove(0)
        } else {
            Ok(self.page.clone())
        }
    }
}

fn wheel() -> (std::path::PathBuf, Distribution) {
    let p = fixtures().join(WHEEL);
    let d = Distribution::read(&p).unwrap();
    (p, d)
}

fn run(
    posts: Vec<Result<Response, StageError>>,
    page: Response,
) -> (Result<FileStatus, StageError>, Vec<Duration>, Vec<String>) {
    let (path, dist) = wheel();
    let mut t = Scripted {
        posts,
        page,
        log: Vec::new(),
    };
    let mut sleeps = Vec::new();
    let result = {
        let mut index = Index::new("http://127.0.0.1:1/", "http://127.0.0.1:1/simple/", &mut t)
            .with_sleep(|d| sleeps.push(d));
        index.upload(&dist, &path, &mut |_, _| {}).map(|r| r.status)
    };
    (result, sleeps, t.log)
}

fn reset() -> Result<Response, StageError> {
    Err(StageError::new(Category::Network, "connection reset by peer").retryable(true))
}

#[test]
fn transient_errors_back_off_then_succeed() {
    let (r, sleeps, log) = run(
        vec![
            Ok(resp(503, &[], "busy")),
            Ok(resp(502, &[], "")),
            Ok(resp(200, &[], "OK")),
        ],
        resp(404, &[], ""),
    );
    assert_eq!(r.unwrap(), FileStatus::Uploaded);
    assert_eq!(sleeps.len(), 2);
    assert!(
        sleeps[0] >= Duration::from_millis(500) && sleeps[0] <= Duration::from_secs(1),
        "{sleeps:?}"
    );
    assert!(
        sleeps[1] >= Duration::from_secs(1) && sleeps[1] <= Duration::from_secs(2),
        "{sleeps:?}"
    );
    // Before each retry the index is asked whether the file landed.
    assert_eq!(
        log,
        [
            "POST http://127.0.0.1:1/",
            "GET http://127.0.0.1:1/simple/mypylogger/",
            "POST http://127.0.0.1:1/",
            "GET http://127.0.0.1:1/simple/mypylogger/",
            "POST http://127.0.0.1:1/"
        ]
    );
}

#[test]
fn retry_after_is_honoured_and_bounded() {
    let (r, sleeps, _) = run(
        vec![
            Ok(resp(429, &[("retry-after", "2")], "")),
            Ok(resp(200, &[], "")),
        ],
        resp(404, &[], ""),
    );
    assert_eq!(r.unwrap(), FileStatus::Uploaded);
    assert_eq!(sleeps, [Duration::from_secs(2)]);

    let (r, sleeps, _) = run(
        vec![Ok(resp(503, &[("Retry-After", "3600")], ""))],
        resp(404, &[], ""),
    );
    let e = r.unwrap_err();
    assert_eq!(e.category, Category::Network);
    assert!(
        e.retryable && e.message.contains("longer than allowed"),
        "{e}"
    );
    assert!(sleeps.is_empty());
}

#[test]
fn a_lost_answer_is_not_uploaded_twice() {
    let (_, dist) = wheel();
    let page = format!(
        "<a href=\"../../packages/{WHEEL}#sha256={}\">{WHEEL}</a>",
        dist.digests.sha256
    );
    let (r, sleeps, log) = run(
        vec![reset()],
        resp(200, &[("content-type", "text/html")], &page),
    );
    assert_eq!(r.unwrap(), FileStatus::Uploaded);
    assert_eq!(sleeps.len(), 1);
    assert_eq!(
        log.iter().filter(|l| l.starts_with("POST")).count(),
        1,
        "{log:?}"
    );
}

#[test]
fn exhausted_retries_fail_as_network_errors() {
    let (r, sleeps, log) = run(
        vec![
            reset(),
            Ok(resp(503, &[], "")),
            Ok(resp(504, &[], "")),
            Ok(resp(500, &[], "boom")),
        ],
        resp(404, &[], ""),
    );
    let e = r.unwrap_err();
    assert_eq!(e.category, Category::Network);
    assert!(e.retryable);
    assert!(e.message.contains("gave up after 4 attempts"), "{e}");
    assert_eq!(sleeps.len(), 3);
    assert_eq!(log.iter().filter(|l| l.starts_with("POST")).count(), 4);
}

#[test]
fn client_errors_are_never_retried() {
    for (status, category) in [
        (400, Category::Validation),
        (401, Category::Authentication),
        (403, Category::Authentication),
        (405, Category::Upload),
    ] {
        let (r, sleeps, log) = run(vec![Ok(resp(status, &[], "no"))], resp(404, &[], ""));
        assert_eq!(r.unwrap_err().category, category, "{status}");
        assert!(sleeps.is_empty());
        assert_eq!(log.len(), 1);
    }
}

/// Each attempt streams the whole body again from the file (head, file bytes, tail), and
/// the file itself is never held in the request.
#[test]
fn every_attempt_rebuilds_the_streamed_body() {
    struct Reader {
        bodies: Vec<Vec<u8>>,
        answers: Vec<Response>,
    }
    impl Transport for Reader {
        fn send(
            &mut self,
            req: &Request,
            _: &mut dyn FnMut(u64, u64),
        ) -> Result<Response, StageError> {
            if req.method == "POST" {
                assert!(
                    req.body.len() < 16 * 1024,
                    "only the form head is in memory"
                );
                let mut body = Vec::new();
                std::io::Read::read_to_end(&mut req.body_reader().unwrap(), &mut body).unwrap();
                assert_eq!(body.len() as u64, req.body_len());
                self.bodies.push(body);
                Ok(self.answers.remove(0))
            } else {
                Ok(resp(404, &[], ""))
            }
        }
    }
    let (path, dist) = wheel();
    let mut t = Reader {
        bodies: vec![],
        answers: vec![resp(503, &[], ""), resp(200, &[], "")],
    };
    {
        let mut index = Index::new("http://127.0.0.1:1/", "http://127.0.0.1:1/simple/", &mut t)
            .with_sleep(|_| {});
        assert_eq!(
            index.upload(&dist, &path, &mut |_, _| {}).unwrap().status,
            FileStatus::Uploaded
        );
    }
    assert_eq!(t.bodies.len(), 2);
    let content = std::fs::read(&path).unwrap();
    for b in &t.bodies {
        assert!(
            b.windows(content.len()).any(|w| w == content),
            "the file is in the body"
        );
        assert!(b.ends_with(b"--\r\n"));
    }
}
