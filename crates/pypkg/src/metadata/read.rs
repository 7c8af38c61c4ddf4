//! Reading core metadata (`METADATA` in wheels, `PKG-INFO` in sdists): the one parser that
//! every part of airlock uses, the build stage's validation and the upload stage's form alike.
//!
//! The format is the RFC 822 header block of the [core metadata specification], read the
//! way `packaging.metadata.parse_email` (used by twine and by PyPI's upload endpoint) reads
//! it: with the `email` module's `compat32` policy. A header's continuation lines stay in
//! its value with their newline and leading whitespace; the first blank line, or the first
//! line that is neither a header nor a continuation, starts the body, which is the long
//! description.
//!
//! [core metadata specification]: https://packaging.python.org/specifications/core-metadata/

/// Fields that may appear more than once (`packaging.metadata._LIST_FIELDS`), lowercase.
pub const MULTI_USE: &[&str] = &[
    "platform",
    "supported-platform",
    "classifier",
    "requires",
    "provides",
    "obsoletes",
    "requires-dist",
    "provides-dist",
    "obsoletes-dist",
    "requires-external",
    "project-url",
    "provides-extra",
    "dynamic",
    "license-file",
    "import-name",
    "import-namespace",
];

/// Single-use fields of the core metadata specification (lowercase header names).
pub const SINGLE_USE: &[&str] = &[
    "metadata-version",
    "name",
    "version",
    "summary",
    "description",
    "keywords",
    "home-page",
    "download-url",
    "author",
    "author-email",
    "maintainer",
    "maintainer-email",
    "license",
    "license-expression",
    "requires-python",
    "description-content-type",
];

/// Why core metadata is refused by [`CoreMetadata::parse`]: the checks twine's
/// `packaging.metadata.parse_email` + `Metadata.from_raw` make before an upload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    /// The bytes are not UTF-8 (core metadata is UTF-8 since metadata 2.1).
    #[error("core metadata is not UTF-8: {0}")]
    NotUtf8(String),
    /// The first line is a continuation line (`email`'s FirstHeaderLineIsContinuationDefect).
    #[error("core metadata starts with a continuation line")]
    LeadingContinuation,
    /// A single-use field (header name as written) appears more than once.
    #[error("core metadata field '{0}' may appear only once but is repeated")]
    Repeated(String),
    /// A `Description` header together with a message body.
    #[error("core metadata has both a Description field and a message body")]
    DescriptionAndBody,
    /// A required field (`metadata-version`, `name` or `version`) is missing or empty.
    #[error("core metadata lacks the required field '{0}'")]
    Missing(&'static str),
}

/// Core metadata as read: every header in file order, values as `compat32` returns them,
/// and the message body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CoreMetadata {
    /// `(header name as written, raw value)` in file order. A value has the whitespace after
    /// the colon removed and its continuation lines kept, each as `\n` plus the line with its
    /// leading whitespace (`"one\n        two"`); a trailing `\r\n`/`\n` is removed. A
    /// `Description` header is here too; see [`CoreMetadata::description`].
    pub fields: Vec<(String, String)>,
    /// The message body (the long description of metadata 2.1+), `None` when empty.
    pub body: Option<String>,
}

impl CoreMetadata {
    /// Reads `text` as `email.parser` does with `compat32`, refusing nothing: a leading
    /// continuation line is skipped and a line that is not a header starts the body. Use this
    /// to report problems yourself (as [`crate::validate`] does); [`CoreMetadata::parse`]
    /// refuses what twine refuses.
    pub fn read(text: &str) -> CoreMetadata {
        let mut md = CoreMetadata::default();
        let mut lines = text.split_inclusive('\n');
        let mut body = String::new();
        let finish = |v: &mut String| {
            let trimmed = v.trim_end_matches(['\r', '\n']).len();
            v.truncate(trimmed);
        };
        while let Some(line) = lines.next() {
            if line == "\n" || line == "\r\n" {
                body = lines.collect();
                break;
            }
            if line.starts_with([' ', '\t']) {
                // A continuation; before any header, `email` drops it (a defect).
                if let Some((_, v)) = md.fields.last_mut() {
                    v.push_str(line);
                }
                continue;
            }
            match line.split_once(':') {
                Some((name, value)) if !name.is_empty() && !name.contains(' ') => {
                    if let Some((_, v)) = md.fields.last_mut() {
                        finish(v);
                    }
                    md.fields.push((
                        name.to_string(),
                        value.trim_start_matches([' ', '\t']).to_string(),
                    ));
                }
                _ => {
                    // Not a header: the email parser starts the body here.
                    body = std::iter::once(line).chain(lines.by_ref()).collect();
                    break;
                }
            }
        }
        if let Some((_, v)) = md.fields.last_mut() {
            finish(v);
        }
        md.body = Some(body).filter(|b| !b.is_empty());
        md
    }

    /// Parses metadata bytes and refuses what twine refuses before an upload.
    ///
    /// Errors ([`MetadataError`]): not UTF-8, a leading continuation line, a single-use
    /// field ([`SINGLE_USE`], `Description` included) repeated, a `Description` header
    /// together with a body, `Metadata-Version`, `Name` or `Version` missing or empty.
    /// Fields the specification does not define are not refused (twine refuses them; PyPI
    /// ignores them); [`CoreMetadata::unknown`] lists them.
    pub fn parse(bytes: &[u8]) -> Result<CoreMetadata, MetadataError> {
        let text = std::str::from_utf8(bytes).map_err(|e| MetadataError::NotUtf8(e.to_string()))?;
        if text.starts_with([' ', '\t']) {
            return Err(MetadataError::LeadingContinuation);
        }
        let md = CoreMetadata::read(text);
        for (i, (name, _)) in md.fields.iter().enumerate() {
            let lower = name.to_ascii_lowercase();
            if SINGLE_USE.contains(&lower.as_str())
                && md.fields[..i]
                    .iter()
                    .any(|(n, _)| n.eq_ignore_ascii_case(name))
            {
                return Err(MetadataError::Repeated(name.clone()));
            }
        }
        if md.body.is_some() && md.get("description").is_some() {
            return Err(MetadataError::DescriptionAndBody);
        }
        for required in ["metadata-version", "name", "version"] {
            if md.get(required).is_none_or(|v| v.trim().is_empty()) {
                return Err(MetadataError::Missing(required));
            }
        }
        Ok(md)
    }

    /// The first value of field `name` (case-insensitive, e.g. `"Requires-Python"`), raw:
    /// continuation lines kept as [`CoreMetadata::fields`] describes.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// All raw values of field `name` (case-insensitive), in file order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.fields
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name` unfolded for a reader: each line with its leading and
    /// trailing whitespace removed, lines joined with `\n` (`"one\ntwo"` for the raw
    /// `"one\n        two"`).
    pub fn unfolded(&self, name: &str) -> Option<String> {
        self.get(name)
            .map(|v| v.lines().map(str::trim).collect::<Vec<_>>().join("\n"))
    }

    /// The long description: the `Description` header (old metadata), else the body.
    pub fn description(&self) -> Option<&str> {
        self.get("description").or(self.body.as_deref())
    }

    /// Header names (as written, each once) that the specification does not define.
    pub fn unknown(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for (name, _) in &self.fields {
            let lower = name.to_ascii_lowercase();
            if !MULTI_USE.contains(&lower.as_str())
                && !SINGLE_USE.contains(&lower.as_str())
                && !out.contains(&name.as_str())
            {
                out.push(name);
            }
        }
        out
    }

    /// `Metadata-Version`, e.g. `"2.4"` (empty when missing).
    pub fn metadata_version(&self) -> &str {
        self.get("metadata-version").unwrap_or_default()
    }

    /// `Name` as written, not normalised (empty when missing).
    pub fn name(&self) -> &str {
        self.get("name").unwrap_or_default()
    }

    /// `Version` as written (empty when missing).
    pub fn version(&self) -> &str {
        self.get("version").unwrap_or_default()
    }

    /// `Requires-Python`, if any.
    pub fn requires_python(&self) -> Option<&str> {
        self.get("requires-python")
    }

    /// True when `Metadata-Version` is at least `major.minor` (a malformed version is 0.0).
    pub fn version_at_least(&self, major: u32, minor: u32) -> bool {
        let mut it = self.metadata_version().trim().split('.');
        let ma: u32 = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        let mi: u32 = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        (ma, mi) >= (major, minor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_headers_continuations_and_body() {
        let md = CoreMetadata::parse(
            b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nClassifier: A\nClassifier: B\nLicense: line one\n        line two\n\n# Title\n\ntext\n",
        )
        .unwrap();
        assert_eq!(md.name(), "demo");
        assert_eq!(md.get_all("classifier").collect::<Vec<_>>(), ["A", "B"]);
        assert_eq!(md.get("license"), Some("line one\n        line two"));
        assert_eq!(
            md.unfolded("license").as_deref(),
            Some("line one\nline two")
        );
        assert_eq!(md.description(), Some("# Title\n\ntext\n"));
        assert!(md.unknown().is_empty());
    }

    #[test]
    fn raw_and_unfolded_values() {
        let m = CoreMetadata::read(
            "Metadata-Version: 2.4\nName: a\nLicense: one\n        two\n\nbody\n",
        );
        assert_eq!(m.get("license"), Some("one\n        two"));
        assert_eq!(m.unfolded("license").as_deref(), Some("one\ntwo"));
        assert_eq!(m.description(), Some("body\n"));
        // CRLF line ends: the raw value keeps the inner CR as compat32 does; unfolded drops it.
        let m = CoreMetadata::read("Name: a\r\nLicense: x\r\n  y\r\n\r\nbody\r\n");
        assert_eq!(m.get("name"), Some("a"));
        assert_eq!(m.unfolded("license").as_deref(), Some("x\ny"));
        assert_eq!(m.body.as_deref(), Some("body\r\n"));
    }

    #[test]
    fn description_header_of_old_metadata() {
        let md = CoreMetadata::parse(
            b"Metadata-Version: 1.1\nName: old\nVersion: 0.1\nDescription: hello\n        |world\nPlatform: UNKNOWN\n",
        )
        .unwrap();
        assert_eq!(md.description(), Some("hello\n        |world"));
        assert_eq!(md.get("platform"), Some("UNKNOWN"));
        assert_eq!(md.body, None);
    }

    #[test]
    fn a_line_that_is_not_a_header_starts_the_body() {
        let m = CoreMetadata::read("Name: a\nnot a header\nVersion: 1\n");
        assert_eq!(m.get("version"), None);
        assert_eq!(m.body.as_deref(), Some("not a header\nVersion: 1\n"));
        // A leading continuation line is dropped when reading and refused when parsing.
        assert_eq!(CoreMetadata::read("  x\nName: a\n").name(), "a");
        assert_eq!(
            CoreMetadata::parse(b"  x\nName: a\n"),
            Err(MetadataError::LeadingContinuation)
        );
    }

    #[test]
    fn rejects_what_twine_rejects() {
        let e = CoreMetadata::parse(b"Metadata-Version: 2.1\nName: a\nName: b\nVersion: 1\n")
            .unwrap_err();
        assert!(e.to_string().contains("'Name'"), "{e}");
        let e = CoreMetadata::parse(b"Metadata-Version: 2.1\nName: a\n").unwrap_err();
        assert!(e.to_string().contains("version"), "{e}");
        let e = CoreMetadata::parse(
            b"Metadata-Version: 2.1\nName: a\nVersion: 1\nDescription: x\n\nbody\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("both"), "{e}");
        let e = CoreMetadata::parse(
            b"Metadata-Version: 1.1\nName: a\nVersion: 1\nDescription: x\nDescription: y\n",
        )
        .unwrap_err();
        assert_eq!(e, MetadataError::Repeated("Description".into()));
        assert!(matches!(
            CoreMetadata::parse(b"\xff\xfe"),
            Err(MetadataError::NotUtf8(_))
        ));
    }

    #[test]
    fn unknown_fields_are_listed_and_versions_compare() {
        let md = CoreMetadata::parse(
            b"Metadata-Version: 2.10\nName: a\nVersion: 1\nX-Custom: 1\nx-custom: 2\n",
        )
        .unwrap();
        assert_eq!(md.unknown(), ["X-Custom", "x-custom"]);
        assert!(md.version_at_least(2, 4));
        assert!(!md.version_at_least(3, 0));
    }
}
