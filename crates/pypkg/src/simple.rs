//! The simple repository API: reading a project page (PEP 503 HTML or PEP 691 JSON) and
//! writing both forms (with PEP 700's `versions` and `size`, API version 1.1).

use serde::Serialize;

use crate::project::normalize_name;

/// The project page of `name` under the simple index `index` (e.g.
/// `https://pypi.org/simple/`): `<index>/<PEP 503 normalized name>/`.
pub fn project_url(index: &str, name: &str) -> String {
    format!("{}/{}/", index.trim_end_matches('/'), normalize_name(name))
}

/// The `Accept` header for a project page: PEP 691 JSON preferred, PEP 503 HTML accepted.
pub const ACCEPT: &str = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1";

/// The API version written into generated pages (PEP 629 / PEP 700).
pub const API_VERSION: &str = "1.1";

/// A project page as read from an index: its files and, where the index says it, the
/// project's PEP 792 status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectPage {
    /// The files listed, in page order.
    pub files: Vec<ListedFile>,
    /// The PEP 792 status: JSON `project-status` (`{"status", "reason"}`), HTML
    /// `<meta name="pypi:project-status">` / `pypi:project-status-reason`. `None` when the
    /// page does not say (PEP 792: then the project is `active`).
    pub status: Option<ProjectStatus>,
}

/// A project's status marker (PEP 792).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectStatus {
    /// `active`, `archived`, `quarantined` or `deprecated` (other values are kept as given).
    pub status: String,
    /// The index's free-text reason, if any.
    pub reason: Option<String>,
}

impl ProjectStatus {
    /// False for `archived` and `quarantined`: PEP 792 says an index does not accept new
    /// uploads to such a project. `active`, `deprecated` and unknown values take uploads.
    pub fn takes_uploads(&self) -> bool {
        !matches!(
            self.status.to_ascii_lowercase().as_str(),
            "archived" | "quarantined"
        )
    }
}

/// One file listed on a project page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedFile {
    /// The file name (the anchor text in HTML, `filename` in JSON).
    pub filename: String,
    /// The link as given (relative or absolute), without unescaping beyond HTML entities.
    pub url: String,
    /// The sha256 hex digest from the URL's `#sha256=` fragment (HTML) or `hashes.sha256`
    /// (JSON), lowercase; `None` when the index gives none.
    pub sha256: Option<String>,
    /// PEP 700 `upload-time` (JSON only), as unix seconds; `None` when not given or not an
    /// ISO 8601 / RFC 3339 timestamp.
    pub upload_time: Option<i64>,
    /// PEP 740's provenance URL of the file: JSON `provenance`, HTML `data-provenance`
    /// (entities unescaped), as given (possibly relative to the page); `None` when the
    /// index lists none (or `null`).
    pub provenance: Option<String>,
}

/// Parses a project page whose `Content-Type` is `content_type`: JSON when it names
/// `json` (PEP 691), else HTML (PEP 503). Errors: malformed JSON
/// (a sentence saying what is wrong).
pub fn parse_project_page(content_type: &str, body: &[u8]) -> Result<ProjectPage, String> {
    if content_type.to_ascii_lowercase().contains("json") {
        parse_json_page(body)
    } else {
        let html = String::from_utf8_lossy(body);
        Ok(ProjectPage {
            files: parse_html(&html),
            status: html_project_status(&html),
        })
    }
}

/// Parses a PEP 691 JSON project page's files (`{"files": [{"filename", "url", "hashes",
/// "upload-time"?}]}`); see [`parse_json_page`] for the status too.
pub fn parse_json(body: &[u8]) -> Result<Vec<ListedFile>, String> {
    parse_json_page(body).map(|p| p.files)
}

/// Parses a PEP 691 JSON project page: its files (with PEP 700 `upload-time`) and its
/// PEP 792 `project-status`. Errors: malformed JSON (a sentence saying what is wrong).
pub fn parse_json_page(body: &[u8]) -> Result<ProjectPage, String> {
    #[derive(serde::Deserialize)]
    struct Page {
        files: Vec<File>,
        #[serde(default, rename = "project-status")]
        project_status: Option<Status>,
    }
    #[derive(serde::Deserialize)]
    struct Status {
        status: String,
        #[serde(default)]
        reason: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct File {
        filename: String,
        url: String,
        #[serde(default)]
        hashes: std::collections::BTreeMap<String, String>,
        #[serde(default, rename = "upload-time")]
        upload_time: Option<String>,
        #[serde(default)]
        provenance: Option<String>,
    }
    let page: Page = serde_json::from_slice(body)
        .map_err(|e| format!("the index's PEP 691 project page is not valid: {e}"))?;
    Ok(ProjectPage {
        files: page
            .files
            .into_iter()
            .map(|f| ListedFile {
                sha256: f.hashes.get("sha256").map(|h| h.to_ascii_lowercase()),
                upload_time: f.upload_time.as_deref().and_then(unix_seconds),
                provenance: f.provenance.filter(|p| !p.is_empty()),
                filename: f.filename,
                url: f.url,
            })
            .collect(),
        status: page.project_status.map(|s| ProjectStatus {
            status: s.status,
            reason: s.reason,
        }),
    })
}

/// An RFC 3339 timestamp (PEP 700 `upload-time`, e.g. `2026-11-02T10:00:00.123456Z`) as
/// unix seconds.
pub fn unix_seconds(s: &str) -> Option<i64> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

/// PEP 792's HTML form: `<meta name="pypi:project-status" content="archived">` and
/// `<meta name="pypi:project-status-reason" content="…">`.
fn html_project_status(html: &str) -> Option<ProjectStatus> {
    let (mut status, mut reason) = (None, None);
    let lower = html.to_ascii_lowercase();
    let mut pos = 0;
    while let Some(i) = lower[pos..].find("<meta") {
        let start = pos + i;
        let Some(end) = lower[start..].find('>').map(|j| start + j) else {
            break;
        };
        let tag = &html[start..end];
        match attribute(tag, "name")
            .map(|n| n.to_ascii_lowercase())
            .as_deref()
        {
            Some("pypi:project-status") => status = attribute(tag, "content").map(|c| unescape(&c)),
            Some("pypi:project-status-reason") => {
                reason = attribute(tag, "content").map(|c| unescape(&c))
            }
            _ => {}
        }
        pos = end;
    }
    status.map(|status| ProjectStatus { status, reason })
}

/// Parses a PEP 503 HTML project page: every `<a href="…">filename</a>`; the digest comes
/// from a `#sha256=<hex>` URL fragment, the PEP 740 provenance URL from `data-provenance`.
pub fn parse_html(html: &str) -> Vec<ListedFile> {
    let mut out = Vec::new();
    let lower = html.to_ascii_lowercase();
    let mut pos = 0;
    while let Some(i) = lower[pos..].find("<a") {
        let start = pos + i;
        let after = lower.as_bytes().get(start + 2).copied();
        if !matches!(after, Some(b' ' | b'\t' | b'\n' | b'\r')) {
            pos = start + 2;
            continue;
        }
        let Some(tag_end) = lower[start..].find('>').map(|j| start + j) else {
            break;
        };
        let tag = &html[start..tag_end];
        let Some(close) = lower[tag_end..].find("</a").map(|j| tag_end + j) else {
            break;
        };
        let text = unescape(html[tag_end + 1..close].trim());
        if let Some(href) = attribute(tag, "href") {
            let href = unescape(&href);
            let sha256 = href
                .split_once('#')
                .and_then(|(_, frag)| frag.strip_prefix("sha256="))
                .map(|h| h.to_ascii_lowercase());
            let filename = if text.is_empty() {
                href.split('#')
                    .next()
                    .unwrap_or("")
                    .rsplit('/')
                    .next()
                    .unwrap_or("")
                    .to_string()
            } else {
                text
            };
            out.push(ListedFile {
                filename,
                url: href,
                sha256,
                upload_time: None,
                provenance: attribute(tag, "data-provenance")
                    .map(|p| unescape(&p))
                    .filter(|p| !p.is_empty()),
            });
        }
        pos = close;
    }
    out
}

/// The value of attribute `name` in a start tag (quoted with `"` or `'`, or unquoted).
fn attribute(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find(name) {
        let at = from + i;
        from = at + name.len();
        let before_ok = at > 0 && lower.as_bytes()[at - 1].is_ascii_whitespace();
        let rest = lower[from..].trim_start();
        if !before_ok || !rest.starts_with('=') {
            continue;
        }
        let offset = tag.len() - rest.len() + 1;
        let value = tag[offset..].trim_start();
        return Some(match value.chars().next() {
            Some(q @ ('"' | '\'')) => value[1..].split(q).next().unwrap_or("").to_string(),
            _ => value
                .split(|c: char| c.is_whitespace() || c == '>')
                .next()
                .unwrap_or("")
                .to_string(),
        });
    }
    None
}

/// Escapes text for HTML content and attribute values: `& < > " '`.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

/// Undoes the entities [`escape`] writes, plus `&#39;` and `&#NN;`/`&#xNN;` forms.
pub fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';').filter(|&e| e <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let ent = &rest[1..end];
        let ch = match ent {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ if ent.starts_with("#x") || ent.starts_with("#X") => {
                u32::from_str_radix(&ent[2..], 16)
                    .ok()
                    .and_then(char::from_u32)
            }
            _ if ent.starts_with('#') => ent[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match ch {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// A file to list on a generated project page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageFile {
    /// The file name.
    pub filename: String,
    /// Its link, relative to the project page (e.g. `../../packages/x.whl`).
    pub url: String,
    /// sha256, lowercase hex.
    pub sha256: String,
    /// `Requires-Python`, if any (written HTML-escaped as `data-requires-python`).
    pub requires_python: Option<String>,
    /// Size in bytes (PEP 700).
    pub size: u64,
    /// The release version (PEP 700 `versions`).
    pub version: String,
    /// PEP 740's provenance URL, relative to the project page (e.g.
    /// `../../packages/x.whl.provenance`): written as `data-provenance` (HTML-escaped) and
    /// JSON `provenance`; `None`: neither is written.
    pub provenance: Option<String>,
}

/// The PEP 503 HTML of a project page for `name` (normalized) listing `files` (with
/// `data-requires-python` and PEP 740 `data-provenance` where known, HTML-escaped).
pub fn project_html(name: &str, files: &[PageFile]) -> String {
    let mut s = format!(
        "<!DOCTYPE html>\n<html>\n  <head>\n    <meta name=\"pypi:repository-version\" content=\"{API_VERSION}\">\n    <title>Links for {0}</title>\n  </head>\n  <body>\n    <h1>Links for {0}</h1>\n",
        escape(name)
    );
    for f in files {
        let rp = f
            .requires_python
            .as_deref()
            .map(|r| format!(" data-requires-python=\"{}\"", escape(r)))
            .unwrap_or_default();
        let prov = f
            .provenance
            .as_deref()
            .map(|p| format!(" data-provenance=\"{}\"", escape(p)))
            .unwrap_or_default();
        s.push_str(&format!(
            "    <a href=\"{}#sha256={}\"{rp}{prov}>{}</a><br>\n",
            escape(&f.url),
            f.sha256,
            escape(&f.filename)
        ));
    }
    s.push_str("  </body>\n</html>\n");
    s
}

/// The PEP 691 JSON of a project page (API 1.1: with `versions` and file `size`; PEP 740
/// `provenance` on files that have one).
pub fn project_json(name: &str, files: &[PageFile]) -> String {
    #[derive(Serialize)]
    struct Meta {
        #[serde(rename = "api-version")]
        api_version: &'static str,
    }
    #[derive(Serialize)]
    struct File<'a> {
        filename: &'a str,
        url: &'a str,
        hashes: std::collections::BTreeMap<&'static str, &'a str>,
        #[serde(rename = "requires-python", skip_serializing_if = "Option::is_none")]
        requires_python: Option<&'a str>,
        size: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        provenance: Option<&'a str>,
    }
    #[derive(Serialize)]
    struct Page<'a> {
        meta: Meta,
        name: &'a str,
        files: Vec<File<'a>>,
        versions: Vec<&'a str>,
    }
    let mut versions: Vec<&str> = files.iter().map(|f| f.version.as_str()).collect();
    versions.sort();
    versions.dedup();
    let page = Page {
        meta: Meta {
            api_version: API_VERSION,
        },
        name,
        files: files
            .iter()
            .map(|f| File {
                filename: &f.filename,
                url: &f.url,
                hashes: [("sha256", f.sha256.as_str())].into_iter().collect(),
                requires_python: f.requires_python.as_deref(),
                size: f.size,
                provenance: f.provenance.as_deref(),
            })
            .collect(),
        versions,
    };
    serde_json::to_string_pretty(&page).expect("serializable") + "\n"
}

/// The PEP 503 root index listing `names` (normalized), each linking to `<name>/`.
pub fn root_html(names: &[String]) -> String {
    let mut s = format!(
        "<!DOCTYPE html>\n<html>\n  <head>\n    <meta name=\"pypi:repository-version\" content=\"{API_VERSION}\">\n    <title>Simple index</title>\n  </head>\n  <body>\n"
    );
    for n in names {
        s.push_str(&format!("    <a href=\"{0}/\">{0}</a><br>\n", escape(n)));
    }
    s.push_str("  </body>\n</html>\n");
    s
}

/// The PEP 691 JSON root index.
pub fn root_json(names: &[String]) -> String {
    let projects: Vec<_> = names
        .iter()
        .map(|n| serde_json::json!({ "name": n }))
        .collect();
    serde_json::to_string_pretty(&serde_json::json!({
        "meta": { "api-version": API_VERSION },
        "projects": projects,
    }))
    .expect("serializable")
        + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pypiserver_and_pypi_html() {
        let html = r#"<html><body><h1>Links for mypylogger</h1>
<a href="../../packages/mypylogger-0.2.8-py3-none-any.whl#sha256=ABCDEF">mypylogger-0.2.8-py3-none-any.whl</a><br>
<a data-requires-python="&gt;=3.8" href='https://files/x/mypylogger-0.2.8.tar.gz#sha256=0123'>mypylogger-0.2.8.tar.gz</a>
<abbr>no</abbr><a href="nohash.zip"></a></body></html>"#;
        let files = parse_html(html);
        assert_eq!(files.len(), 3);
        assert_eq!(files[0].filename, "mypylogger-0.2.8-py3-none-any.whl");
        assert_eq!(files[0].sha256.as_deref(), Some("abcdef"));
        assert_eq!(
            files[1].url,
            "https://files/x/mypylogger-0.2.8.tar.gz#sha256=0123"
        );
        assert_eq!(files[1].sha256.as_deref(), Some("0123"));
        assert_eq!(files[2].filename, "nohash.zip");
        assert_eq!(files[2].sha256, None);
    }

    #[test]
    fn parses_pep_691_json() {
        let body = br#"{"meta":{"api-version":"1.0"},"name":"a","files":[{"filename":"a-1.tar.gz","url":"https://x/a-1.tar.gz","hashes":{"sha256":"AA"}},{"filename":"a-1.zip","url":"u","hashes":{}}]}"#;
        let page = parse_project_page("application/vnd.pypi.simple.v1+json", body).unwrap();
        assert_eq!(page.files[0].sha256.as_deref(), Some("aa"));
        assert_eq!(page.files[1].sha256, None);
        assert_eq!(page.status, None);
        assert!(parse_project_page("application/json", b"<html>").is_err());
    }

    #[test]
    fn reads_pep_792_status_and_pep_700_upload_time() {
        let body = br#"{"meta":{"api-version":"1.4"},"name":"a","project-status":{"status":"archived","reason":"moved"},
            "files":[{"filename":"a-1.tar.gz","url":"u","hashes":{},"upload-time":"2026-11-02T10:00:00.123456Z"},
                     {"filename":"a-1.whl","url":"u","hashes":{},"upload-time":"yesterday"}]}"#;
        let page = parse_json_page(body).unwrap();
        let status = page.status.unwrap();
        assert_eq!(
            (status.status.as_str(), status.reason.as_deref()),
            ("archived", Some("moved"))
        );
        assert!(!status.takes_uploads());
        assert_eq!(page.files[0].upload_time, Some(1_793_613_600));
        assert_eq!(page.files[1].upload_time, None);

        let html = r#"<html><head><meta name="pypi:repository-version" content="1.4">
<META NAME="pypi:project-status" CONTENT="quarantined"><meta name="pypi:project-status-reason" content="malware &amp; more"></head>
<body><a href="a-1.tar.gz#sha256=00">a-1.tar.gz</a></body></html>"#;
        let page = parse_project_page("text/html", html.as_bytes()).unwrap();
        let status = page.status.unwrap();
        assert_eq!(status.status, "quarantined");
        assert_eq!(status.reason.as_deref(), Some("malware & more"));
        assert!(!status.takes_uploads());
        assert_eq!(page.files.len(), 1);
        for ok in ["active", "deprecated"] {
            let s = ProjectStatus {
                status: ok.into(),
                reason: None,
            };
            assert!(s.takes_uploads(), "{ok}");
        }
    }

    #[test]
    fn generated_pages_round_trip_and_escape() {
        let files = vec![PageFile {
            filename: "a-1.0.tar.gz".into(),
            url: "../../packages/a-1.0.tar.gz".into(),
            sha256: "ab".into(),
            requires_python: Some(">=3.8, <4".into()),
            size: 10,
            version: "1.0".into(),
            provenance: None,
        }];
        let html = project_html("a", &files);
        assert!(
            html.contains("data-requires-python=\"&gt;=3.8, &lt;4\""),
            "{html}"
        );
        let parsed = parse_html(&html);
        assert_eq!(parsed[0].filename, "a-1.0.tar.gz");
        assert_eq!(parsed[0].sha256.as_deref(), Some("ab"));
        let json = project_json("a", &files);
        let parsed = parse_json(json.as_bytes()).unwrap();
        assert_eq!(parsed[0].url, "../../packages/a-1.0.tar.gz");
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["versions"], serde_json::json!(["1.0"]));
        assert_eq!(v["files"][0]["requires-python"], ">=3.8, <4");
        assert!(root_html(&["a".into()]).contains("<a href=\"a/\">a</a>"));
        assert_eq!(unescape("a&amp;b&#39;&#x41;&bogus"), "a&b'A&bogus");
        assert_eq!(parsed[0].provenance, None);
        assert!(!html.contains("data-provenance"));
        assert!(!json.contains("provenance"));
    }

    #[test]
    fn pep_740_provenance_is_written_and_read() {
        let files = vec![PageFile {
            filename: "a-1.0.tar.gz".into(),
            url: "../../packages/a-1.0.tar.gz".into(),
            sha256: "ab".into(),
            requires_python: None,
            size: 10,
            version: "1.0".into(),
            provenance: Some("../../packages/a-1.0.tar.gz.provenance?x=1&y=\"2\"".into()),
        }];
        let html = project_html("a", &files);
        assert!(
            html.contains(
                "data-provenance=\"../../packages/a-1.0.tar.gz.provenance?x=1&amp;y=&quot;2&quot;\""
            ),
            "{html}"
        );
        assert_eq!(parse_html(&html)[0].provenance, files[0].provenance);
        let json = project_json("a", &files);
        assert_eq!(
            parse_json(json.as_bytes()).unwrap()[0].provenance,
            files[0].provenance
        );
        // PyPI's forms: an absolute URL, or null.
        let body = br#"{"meta":{"api-version":"1.4"},"name":"a","files":[
            {"filename":"a-1.tar.gz","url":"u","hashes":{},"provenance":"https://pypi.org/integrity/a/1/a-1.tar.gz/provenance"},
            {"filename":"a-1.whl","url":"u","hashes":{},"provenance":null}]}"#;
        let page = parse_json_page(body).unwrap();
        assert_eq!(
            page.files[0].provenance.as_deref(),
            Some("https://pypi.org/integrity/a/1/a-1.tar.gz/provenance")
        );
        assert_eq!(page.files[1].provenance, None);
        let html = r#"<a href="a-1.tar.gz#sha256=00" data-provenance="https://pypi.org/integrity/a/1/a-1.tar.gz/provenance">a-1.tar.gz</a>"#;
        assert_eq!(
            parse_html(html)[0].provenance.as_deref(),
            Some("https://pypi.org/integrity/a/1/a-1.tar.gz/provenance")
        );
    }
}
