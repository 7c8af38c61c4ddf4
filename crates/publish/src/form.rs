//! The legacy upload API request (`POST` `multipart/form-data`), as twine 6 builds it.
//!
//! Source: twine's `PackageFile.metadata_dictionary` and
//! `Repository._convert_metadata_to_list_of_tuples` ("what warehouse.forklift.parse_form_metadata()
//! does, in reverse"), checked against uv's `FormMetadata`. Fields: every core metadata field
//! under its form name (multi-use fields repeated, `keywords` joined with `", "`,
//! `project_urls` as `"label, url"`), `name` as twine's "safe name", then `pyversion`,
//! `filetype`, `sha256_digest`, `blake2_256_digest`, `:action=file_upload`,
//! `protocol_version=1`, and the file as the part `content`.

use crate::dist::Distribution;

/// Core metadata header (lowercase) → upload form field, in twine's order
/// (`twine.package._RAW_TO_PACKAGE_METADATA`), plus the metadata 2.5 fields uv sends.
pub const FIELD_MAP: &[(&str, &str)] = &[
    ("metadata-version", "metadata_version"),
    ("name", "name"),
    ("version", "version"),
    ("platform", "platform"),
    ("summary", "summary"),
    ("description", "description"),
    ("keywords", "keywords"),
    ("home-page", "home_page"),
    ("author", "author"),
    ("author-email", "author_email"),
    ("license", "license"),
    ("supported-platform", "supported_platform"),
    ("download-url", "download_url"),
    ("classifier", "classifiers"),
    ("requires", "requires"),
    ("provides", "provides"),
    ("obsoletes", "obsoletes"),
    ("maintainer", "maintainer"),
    ("maintainer-email", "maintainer_email"),
    ("requires-dist", "requires_dist"),
    ("provides-dist", "provides_dist"),
    ("obsoletes-dist", "obsoletes_dist"),
    ("requires-python", "requires_python"),
    ("requires-external", "requires_external"),
    ("project-url", "project_urls"),
    ("description-content-type", "description_content_type"),
    ("provides-extra", "provides_extra"),
    ("dynamic", "dynamic"),
    ("license-expression", "license_expression"),
    ("license-file", "license_file"),
    ("import-name", "import_names"),
    ("import-namespace", "import_namespaces"),
];

/// twine's `_safe_name`: runs of characters other than ASCII letters, digits and `.` become
/// one `-` (what warehouse expected from `pkg_resources.safe_name`).
pub fn safe_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut run = false;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || c == '.' {
            out.push(c);
            run = false;
        } else if !run {
            out.push('-');
            run = true;
        }
    }
    out
}

/// The text fields of the upload form for `dist`, as `(name, value)` pairs in the order
/// they are sent (the `content` file part comes after them; see [`Multipart`]).
///
/// `License-File` is left out below metadata 2.4, as twine does (setuptools wrote it into 2.1
/// metadata with another meaning).
pub fn upload_fields(dist: &Distribution) -> Vec<(String, String)> {
    let md = &dist.metadata;
    let mut out: Vec<(String, String)> = Vec::new();
    for &(header, field) in FIELD_MAP {
        match header {
            "name" => out.push((field.into(), safe_name(md.name()))),
            "description" => {
                if let Some(d) = md.description() {
                    out.push((field.into(), d.to_string()));
                }
            }
            "keywords" => {
                if let Some(k) = md.get("keywords") {
                    let joined = k.split(',').map(str::trim).collect::<Vec<_>>().join(", ");
                    out.push((field.into(), joined));
                }
            }
            "project-url" => {
                for pair in md.get_all("project-url") {
                    let (label, url) = pair.split_once(',').unwrap_or((pair, ""));
                    out.push((field.into(), format!("{}, {}", label.trim(), url.trim())));
                }
            }
            "license-file" if !md.version_at_least(2, 4) => {}
            _ => {
                for v in md.get_all(header) {
                    out.push((field.into(), v.to_string()));
                }
            }
        }
    }
    out.push(("pyversion".into(), dist.pyversion.clone()));
    out.push(("filetype".into(), dist.kind.filetype().into()));
    out.push(("sha256_digest".into(), dist.digests.sha256.clone()));
    out.push(("blake2_256_digest".into(), dist.digests.blake2_256.clone()));
    out.push((":action".into(), "file_upload".into()));
    out.push(("protocol_version".into(), "1".into()));
    out
}

/// A `multipart/form-data` body (RFC 7578) split around the file bytes, so the file can be
/// streamed: the body is `head ++ file bytes ++ tail`.
#[derive(Debug, Clone)]
pub struct Multipart {
    /// The boundary (without the leading `--`).
    pub boundary: String,
    /// Every text part plus the `content` part's headers.
    pub head: Vec<u8>,
    /// The CRLF after the file and the closing delimiter.
    pub tail: Vec<u8>,
}

impl Multipart {
    /// Encodes `fields` (UTF-8 values, sent as-is) and the headers of the file part
    /// `content` named `filename` (`Content-Type: application/octet-stream`). `boundary` must
    /// not occur in the file; [`Multipart::boundary_for`] derives one from the file's digest.
    pub fn new(fields: &[(String, String)], filename: &str, boundary: &str) -> Self {
        let mut head = Vec::new();
        for (name, value) in fields {
            head.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"\r\n\r\n",
                    escape_quoted(name)
                )
                .as_bytes(),
            );
            head.extend_from_slice(value.as_bytes());
            head.extend_from_slice(b"\r\n");
        }
        head.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"content\"; filename=\"{}\"\r\nContent-Type: application/octet-stream\r\n\r\n",
                escape_quoted(filename)
            )
            .as_bytes(),
        );
        let tail = format!("\r\n--{boundary}--\r\n").into_bytes();
        Multipart {
            boundary: boundary.to_string(),
            head,
            tail,
        }
    }

    /// A boundary unlikely to occur anywhere: 32 random hex digits after a fixed prefix
    /// (70 characters at most, as RFC 2046 allows).
    pub fn boundary_for(sha256: &str) -> String {
        let nonce = fastrand::u64(..);
        format!("airlock-{}-{nonce:016x}", &sha256[..16.min(sha256.len())])
    }

    /// The request's `Content-Type` header value.
    pub fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }

    /// The body's length in bytes for a file of `file_len` bytes.
    pub fn len(&self, file_len: u64) -> u64 {
        self.head.len() as u64 + file_len + self.tail.len() as u64
    }

    /// The whole body around `content`.
    pub fn body(&self, content: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.head.len() + content.len() + self.tail.len());
        out.extend_from_slice(&self.head);
        out.extend_from_slice(content);
        out.extend_from_slice(&self.tail);
        out
    }
}

/// Escapes a quoted-string parameter the way browsers do for form-data (HTML5): `"` → `%22`,
/// CR → `%0D`, LF → `%0A`.
fn escape_quoted(s: &str) -> String {
    s.replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_name_like_twine() {
        assert_eq!(safe_name("my_pkg"), "my-pkg");
        assert_eq!(safe_name("a__b.c"), "a-b.c");
        assert_eq!(safe_name("Zope.Interface"), "Zope.Interface");
    }

    #[test]
    fn multipart_layout() {
        let m = Multipart::new(
            &[
                ("name".into(), "demo".into()),
                (":action".into(), "file_upload".into()),
            ],
            "demo-1.tar.gz",
            "B",
        );
        let body = m.body(b"DATA");
        assert_eq!(
            String::from_utf8(body.clone()).unwrap(),
            "--B\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\ndemo\r\n\
             --B\r\nContent-Disposition: form-data; name=\":action\"\r\n\r\nfile_upload\r\n\
             --B\r\nContent-Disposition: form-data; name=\"content\"; filename=\"demo-1.tar.gz\"\r\n\
             Content-Type: application/octet-stream\r\n\r\nDATA\r\n--B--\r\n"
        );
        assert_eq!(m.len(4), body.len() as u64);
        assert_eq!(m.content_type(), "multipart/form-data; boundary=B");
        assert!(Multipart::boundary_for("ab").len() <= 70);
    }
}
