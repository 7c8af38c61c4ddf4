//! Capabilities: what a stage may touch, and the checks that enforce it.
//!
//! - [`normalize_grant_path`]: file grants stay inside the project (no `..`, no absolute
//!   path or symlink out of it).
//! - [`Origin`]: HTTP grants as `scheme://host[:port]` (default port from the scheme,
//!   `*.example.com` prefix wildcards, no path), matched against each outgoing request.
//! - [`Credential`]: how an injected secret is written into a request (the secret store
//!   and its redactor live in the host, `airlock::secrets`).

use std::fmt;
use std::path::{Component, Path};

use serde::Serialize;

/// Normalises a `files` grant path against the project root and refuses one that escapes
/// it. Returns the project-relative path with `/` separators ("." for the root).
/// Errors (as text for the manifest error): `..` leaving the project, an absolute path
/// outside it, or an existing path whose symlinks resolve outside it.
pub fn normalize_grant_path(project: &Path, raw: &str) -> Result<String, String> {
    if raw.is_empty() {
        return Err("empty path: use \".\" for the project folder".into());
    }
    let p = Path::new(raw);
    let rel = if p.is_absolute() {
        let canon = p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
        canon
            .strip_prefix(project)
            .map(Path::to_path_buf)
            .map_err(|_| {
                format!(
                    "\"{raw}\" is outside the project ({}): grants name folders inside it",
                    project.display()
                )
            })?
    } else {
        p.to_path_buf()
    };
    let mut parts: Vec<String> = Vec::new();
    for c in rel.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if parts.pop().is_none() {
                    return Err(format!(
                        "\"{raw}\" escapes the project with '..': grants name folders inside the project"
                    ));
                }
            }
            Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
            _ => return Err(format!("\"{raw}\" is not a project-relative path")),
        }
    }
    let norm = if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    };
    // A symlink inside the project must not lead out of it: check the deepest existing
    // ancestor.
    let mut probe = project.join(&norm);
    while !probe.exists() {
        if !probe.pop() {
            break;
        }
    }
    if let Ok(canon) = probe.canonicalize()
        && !canon.starts_with(project)
    {
        return Err(format!(
            "\"{raw}\" leads out of the project through a symlink (to {})",
            canon.display()
        ));
    }
    Ok(norm)
}

/// The guest path of a project-relative grant path: the project root is `/` in the sandbox.
pub fn guest_path(rel: &str) -> String {
    if rel == "." {
        "/".into()
    } else {
        format!("/{rel}")
    }
}

/// An HTTP origin grant or a request's origin: `scheme://host:port`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Origin {
    /// `http` or `https`.
    pub scheme: String,
    /// Lowercase host name or IP literal (IPv6 without brackets); a grant may start with
    /// `*.` to match any subdomain (not the bare domain).
    pub host: String,
    /// Explicit or default (80/443) port.
    pub port: u16,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let default = if self.scheme == "https" { 443 } else { 80 };
        if self.port == default {
            write!(f, "{}://{}", self.scheme, host)
        } else {
            write!(f, "{}://{}:{}", self.scheme, host, self.port)
        }
    }
}

impl Origin {
    /// Parses a grant `scheme://host[:port]`. Errors: another scheme, a path, query,
    /// fragment or user info, a wildcard anywhere but a leading `*.` label.
    pub fn parse_grant(s: &str) -> Result<Origin, String> {
        let allowed = "an origin is scheme://host[:port] only, e.g. \"https://upload.pypi.org\" or \"https://*.example.com\"";
        let (scheme, rest) = s
            .split_once("://")
            .ok_or_else(|| format!("\"{s}\" is not an origin: {allowed}"))?;
        if scheme != "http" && scheme != "https" {
            return Err(format!("\"{s}\": scheme must be http or https"));
        }
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains('/') || rest.contains('?') || rest.contains('#') || rest.contains('@') {
            return Err(format!("\"{s}\" has a path, query or user info: {allowed}"));
        }
        let wildcard = rest.starts_with("*.");
        let probe = if wildcard {
            format!("{scheme}://wildcard{}", &rest[1..])
        } else {
            format!("{scheme}://{rest}")
        };
        let url = url::Url::parse(&probe)
            .map_err(|e| format!("\"{s}\" is not an origin ({e}): {allowed}"))?;
        let mut o =
            Origin::from_url(&url).ok_or_else(|| format!("\"{s}\" has no host: {allowed}"))?;
        if rest.contains('*') && !wildcard || rest[if wildcard { 2 } else { 0 }..].contains('*') {
            return Err(format!(
                "\"{s}\": '*' is allowed only as a leading \"*.\" label"
            ));
        }
        if wildcard {
            o.host = format!("*{}", &o.host["wildcard".len()..]);
        }
        Ok(o)
    }

    /// The origin of an absolute http(s) URL (path, query and fragment dropped).
    pub fn of_url(s: &str) -> Result<Origin, String> {
        let url = url::Url::parse(s).map_err(|e| format!("\"{s}\" is not a URL: {e}"))?;
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(format!("\"{s}\": scheme must be http or https"));
        }
        Origin::from_url(&url).ok_or_else(|| format!("\"{s}\" has no host"))
    }

    fn from_url(url: &url::Url) -> Option<Origin> {
        let host = match url.host()? {
            url::Host::Domain(d) => d.to_ascii_lowercase(),
            url::Host::Ipv4(ip) => ip.to_string(),
            url::Host::Ipv6(ip) => ip.to_string(),
        };
        Some(Origin {
            scheme: url.scheme().to_string(),
            host,
            port: url.port_or_known_default()?,
        })
    }

    /// True for `localhost`, 127.0.0.0/8 and ::1.
    pub fn is_loopback(&self) -> bool {
        if self.host == "localhost" {
            return true;
        }
        self.host
            .parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
    }

    /// Plain http is allowed only for loopback hosts, or with `insecure = true`.
    pub fn secure_enough(&self, insecure: bool) -> bool {
        self.scheme == "https" || self.is_loopback() || insecure
    }

    /// Whether this grant covers `request` (same scheme and port; same host, or a subdomain
    /// for a `*.` grant).
    pub fn covers(&self, request: &Origin) -> bool {
        if self.scheme != request.scheme || self.port != request.port {
            return false;
        }
        match self.host.strip_prefix('*') {
            Some(suffix) => request.host.ends_with(suffix) && request.host.len() > suffix.len(),
            None => self.host == request.host,
        }
    }
}

/// How an injected secret is written into a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Credential {
    /// `Authorization: Basic base64(user:secret)` (`basic:USER`, e.g. `basic:__token__`
    /// for PyPI API tokens).
    Basic { user: String },
    /// `Authorization: Bearer secret` (`bearer`).
    Bearer,
    /// A header carrying the raw secret (`header:NAME`).
    Header { name: String },
}

/// The manifest's spelling (`basic:USER`, `bearer`, `header:NAME`), which
/// [`Credential::parse`] reads back.
impl fmt::Display for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::Basic { user } => write!(f, "basic:{user}"),
            Credential::Bearer => f.write_str("bearer"),
            Credential::Header { name } => write!(f, "header:{name}"),
        }
    }
}

impl Credential {
    /// Parses `basic:USER`, `bearer` or `header:NAME`.
    pub fn parse(s: &str) -> Result<Credential, String> {
        if let Some(user) = s.strip_prefix("basic:") {
            if user.is_empty() || user.contains(':') {
                return Err(format!("\"{s}\": basic:USER needs a user name without ':'"));
            }
            return Ok(Credential::Basic { user: user.into() });
        }
        if s == "bearer" {
            return Ok(Credential::Bearer);
        }
        if let Some(name) = s.strip_prefix("header:")
            && http::HeaderName::from_bytes(name.as_bytes()).is_ok()
        {
            return Ok(Credential::Header { name: name.into() });
        }
        Err(format!(
            "\"{s}\" is not a credential form: use \"basic:USER\", \"bearer\" or \"header:NAME\""
        ))
    }

    /// The (header name, header value) for `secret`.
    pub fn header(&self, secret: &str) -> (String, String) {
        use base64::Engine;
        match self {
            Credential::Basic { user } => (
                "authorization".into(),
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}"))
                ),
            ),
            Credential::Bearer => ("authorization".into(), format!("Bearer {secret}")),
            Credential::Header { name } => (name.to_ascii_lowercase(), secret.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_parse_with_default_ports_and_wildcards() {
        let o = Origin::parse_grant("https://upload.pypi.org").unwrap();
        assert_eq!((o.host.as_str(), o.port), ("upload.pypi.org", 443));
        let w = Origin::parse_grant("https://*.example.com").unwrap();
        assert!(w.covers(&Origin::of_url("https://a.example.com/x").unwrap()));
        assert!(!w.covers(&Origin::of_url("https://example.com/").unwrap()));
        assert!(!w.covers(&Origin::of_url("https://evil-example.com/").unwrap()));
        assert!(!o.covers(&Origin::of_url("http://upload.pypi.org/").unwrap()));
        assert!(!o.covers(&Origin::of_url("https://upload.pypi.org:8443/").unwrap()));
        assert!(Origin::parse_grant("https://pypi.org/simple").is_err());
        assert!(Origin::parse_grant("https://a.*.com").is_err());
        assert!(Origin::parse_grant("ftp://x").is_err());
        assert!(
            !Origin::parse_grant("http://example.com")
                .unwrap()
                .secure_enough(false)
        );
        assert!(
            Origin::parse_grant("http://127.0.0.1:8080")
                .unwrap()
                .secure_enough(false)
        );
        assert!(
            Origin::parse_grant("http://[::1]:8080")
                .unwrap()
                .is_loopback()
        );
    }

    #[test]
    fn grant_paths_cannot_escape_the_project() {
        let dir = std::env::temp_dir().join(format!("airlock-cap-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        let project = dir.canonicalize().unwrap();
        assert_eq!(
            normalize_grant_path(&project, "./sub/../dist").unwrap(),
            "dist"
        );
        assert_eq!(normalize_grant_path(&project, ".").unwrap(), ".");
        assert!(normalize_grant_path(&project, "../x").is_err());
        assert!(normalize_grant_path(&project, "/etc").is_err());
        #[cfg(unix)]
        {
            let _ = std::fs::remove_file(project.join("out"));
            std::os::unix::fs::symlink("/tmp", project.join("out")).unwrap();
            let e = normalize_grant_path(&project, "out/x").unwrap_err();
            assert!(e.contains("symlink"), "{e}");
        }
        std::fs::remove_dir_all(&dir).ok();
    }
}
