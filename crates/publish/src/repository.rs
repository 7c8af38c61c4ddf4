//! The upload stage's `repository` setting.

use std::path::{Component, Path, PathBuf};

use airlock_stage::StageError;

/// Where distributions go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repository {
    /// An index speaking the legacy upload API.
    Http {
        /// The URL files are POSTed to, e.g. `https://upload.pypi.org/legacy/` or a
        /// pypiserver's root `http://127.0.0.1:8080/`.
        upload_url: String,
        /// The simple index base (ends with `/`; project pages are `{simple_url}{name}/`).
        simple_url: String,
    },
    /// A folder inside the project (a path relative to the project root) that becomes a
    /// static PEP 503 / PEP 691 index; see [`crate::folder`].
    Folder {
        /// Project-relative folder, e.g. `.airlock/index`.
        path: PathBuf,
    },
}

impl Repository {
    /// Parses a repository URL.
    ///
    /// - `https://…` any host; `http://…` only for loopback hosts (`localhost`, `127.x.x.x`,
    ///   `[::1]`). A URL without a path gets `/`. `simple` overrides the simple index URL;
    ///   by default it is `https://pypi.org/simple/` for `upload.pypi.org`,
    ///   `https://test.pypi.org/simple/` for `test.pypi.org`, else the URL with a trailing
    ///   `legacy/` removed plus `simple/` (pypiserver: `/simple/`).
    /// - `file:` URLs name a folder inside the project, whose root is `/` in the sandbox:
    ///   `file:///.airlock/index`, `file://.airlock/index` and `file:.airlock/index` all mean
    ///   `<project>/.airlock/index`.
    ///
    /// Errors ([`airlock_stage::Category::Configuration`]): another scheme, plain http to a
    /// non-loopback host, credentials in the URL, a `file:` path with `..` or none at all.
    pub fn parse(url: &str, simple: Option<&str>) -> Result<Self, StageError> {
        let url = url.trim();
        if let Some(rest) = url.strip_prefix("file:") {
            let rest = rest.strip_prefix("//").unwrap_or(rest);
            let rel = rest.trim_start_matches('/');
            let path = Path::new(rel);
            if rel.is_empty()
                || path
                    .components()
                    .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
            {
                return Err(StageError::config(format!(
                    "repository '{url}': a file: repository must name a folder inside the project, without '..'"
                ))
                .with_hint("e.g. repository = \"file:///.airlock/index\" (project-relative)"));
            }
            return Ok(Repository::Folder {
                path: path.to_path_buf(),
            });
        }
        let (scheme, rest) = url.split_once("://").ok_or_else(|| bad_scheme(url))?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "https" && scheme != "http" {
            return Err(bad_scheme(url));
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.contains('@') {
            return Err(StageError::config(format!(
                "repository URL '{}' carries credentials",
                redact_userinfo(url)
            ))
            .with_hint("remove them: the host injects the credential from a secret (grants.secrets.inject)"));
        }
        let host = host_of(authority);
        if scheme == "http" && !is_loopback(&host) {
            return Err(StageError::config(format!(
                "repository '{url}': plain http is allowed only to loopback hosts"
            ))
            .with_hint("use https:// for a remote index"));
        }
        let upload_url = format!("{scheme}://{authority}{path}");
        let simple_url = match simple {
            Some(s) => {
                let s = s.trim();
                if s.ends_with('/') {
                    s.to_string()
                } else {
                    format!("{s}/")
                }
            }
            None => default_simple(&scheme, authority, path),
        };
        Ok(Repository::Http {
            upload_url,
            simple_url,
        })
    }
}

impl Repository {
    /// True for PyPI's and TestPyPI's upload endpoints (host `upload.pypi.org` or
    /// `test.pypi.org`), whose server-side rules ([`crate::preflight::Rules::PYPI`]) the
    /// pre-flight applies by default.
    pub fn is_pypi(&self) -> bool {
        match self {
            Repository::Http { upload_url, .. } => airlock_stage::http::split_url(upload_url)
                .is_some_and(|(_, authority, _)| {
                    matches!(
                        host_of(authority).as_str(),
                        "upload.pypi.org" | "test.pypi.org"
                    )
                }),
            Repository::Folder { .. } => false,
        }
    }
}

fn bad_scheme(url: &str) -> StageError {
    StageError::config(format!(
        "repository '{url}' is not an https://, http:// (loopback) or file: URL"
    ))
    .with_hint(
        "e.g. https://upload.pypi.org/legacy/, http://127.0.0.1:8080/ or file:///.airlock/index",
    )
}

fn redact_userinfo(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(a)) if a > s => format!("{}***{}", &url[..s + 3], &url[a..]),
        _ => url.to_string(),
    }
}

/// The host of an authority (`host[:port]`, `[v6]:port`), lowercase.
pub fn host_of(authority: &str) -> String {
    let h = if authority.starts_with('[') {
        authority
            .split(']')
            .next()
            .map(|s| format!("{s}]"))
            .unwrap_or_default()
    } else {
        authority.split(':').next().unwrap_or("").to_string()
    };
    h.to_ascii_lowercase()
}

/// True for `localhost`, `127.0.0.0/8` and `[::1]`.
pub fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host == "[::1]"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn default_simple(scheme: &str, authority: &str, path: &str) -> String {
    match host_of(authority).as_str() {
        "upload.pypi.org" => return "https://pypi.org/simple/".into(),
        "test.pypi.org" => return "https://test.pypi.org/simple/".into(),
        _ => {}
    }
    let mut base = path.trim_end_matches('/').to_string();
    if base.ends_with("/legacy") {
        base.truncate(base.len() - "/legacy".len());
    }
    format!("{scheme}://{authority}{base}/simple/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pypi_and_testpypi_are_known_by_their_upload_host() {
        let is = |u: &str| Repository::parse(u, None).unwrap().is_pypi();
        assert!(is("https://upload.pypi.org/legacy/"));
        assert!(is("https://Test.PyPI.org:443/legacy/"));
        assert!(!is("https://upload.pypi.org.example.com/legacy/"));
        assert!(!is("http://127.0.0.1:8080/"));
        assert!(!is("file:.airlock/index"));
    }

    fn http(url: &str) -> (String, String) {
        match Repository::parse(url, None).unwrap() {
            Repository::Http {
                upload_url,
                simple_url,
            } => (upload_url, simple_url),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn http_defaults() {
        assert_eq!(
            http("https://upload.pypi.org/legacy/"),
            (
                "https://upload.pypi.org/legacy/".into(),
                "https://pypi.org/simple/".into()
            )
        );
        assert_eq!(
            http("http://127.0.0.1:8080"),
            (
                "http://127.0.0.1:8080/".into(),
                "http://127.0.0.1:8080/simple/".into()
            )
        );
        assert_eq!(
            http("https://test.pypi.org/legacy/").1,
            "https://test.pypi.org/simple/"
        );
        assert_eq!(
            http("https://nexus.example/repository/py/legacy").1,
            "https://nexus.example/repository/py/simple/"
        );
        match Repository::parse("https://x/", Some("https://y/+simple")).unwrap() {
            Repository::Http { simple_url, .. } => assert_eq!(simple_url, "https://y/+simple/"),
            _ => unreachable!(),
        }
    }

    #[test]
    fn file_forms_are_project_relative() {
        for u in [
            "file:///.airlock/index",
            "file://.airlock/index",
            "file:.airlock/index",
        ] {
            assert_eq!(
                Repository::parse(u, None).unwrap(),
                Repository::Folder {
                    path: PathBuf::from(".airlock/index")
                },
                "{u}"
            );
        }
        assert!(Repository::parse("file:///../x", None).is_err());
        assert!(Repository::parse("file:///", None).is_err());
    }

    #[test]
    fn refusals() {
        assert!(Repository::parse("http://pypi.example/", None).is_err());
        let e = Repository::parse("https://u:secret@x/", None).unwrap_err();
        assert!(!e.message.contains("secret"));
        assert!(Repository::parse("ftp://x/", None).is_err());
        assert!(Repository::parse("http://localhost:1/", None).is_ok());
        assert!(Repository::parse("http://[::1]:1/", None).is_ok());
    }
}
