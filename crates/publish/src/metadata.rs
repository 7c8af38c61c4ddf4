//! Core metadata (`METADATA` / `PKG-INFO`) parsing.
//!
//! Reads the RFC 822 header format of the core metadata specification
//! (<https://packaging.python.org/specifications/core-metadata/>) the way
//! `packaging.metadata.parse_email` (used by twine) reads it with the email module's
//! `compat32` policy: a header's continuation lines are kept with their newline and leading
//! whitespace; the body after the first blank line is the description.

use airlock_stage::StageError;

/// Fields that may appear more than once (`packaging.metadata._LIST_FIELDS`), by lowercase
/// header name.
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

/// Single-use fields known to the core metadata specification (lowercase header names).
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

/// Parsed core metadata: the header fields in file order, plus the description.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CoreMetadata {
    /// `(lowercase header name, value)` pairs in file order; the description, whether from a
    /// `Description` header or the body, is not here but in [`CoreMetadata::description`].
    pub fields: Vec<(String, String)>,
    /// The long description (the message body, or the `Description` header of old metadata).
    pub description: Option<String>,
    /// Header names the specification does not define (twine refuses them; we pass them by).
    pub unknown: Vec<String>,
}

impl CoreMetadata {
    /// Parses metadata bytes (UTF-8). Errors ([`airlock_stage::Category::Validation`]): not
    /// UTF-8, a single-use field repeated, a `Description` header together with a body,
    /// missing `Metadata-Version`, `Name` or `Version`.
    pub fn parse(bytes: &[u8]) -> Result<Self, StageError> {
        let text = std::str::from_utf8(bytes)
            .map_err(|e| StageError::validation(format!("core metadata is not UTF-8: {e}")))?;
        let mut md = CoreMetadata::default();
        let mut header_desc: Option<String> = None;
        let mut lines = text.split_inclusive('\n').peekable();
        let mut body = String::new();
        let mut current: Option<(String, String)> = None;
        let mut flush =
            |cur: Option<(String, String)>, md: &mut CoreMetadata| -> Result<(), StageError> {
                if let Some((name, value)) = cur {
                    let value = value.trim_end_matches(['\r', '\n']).to_string();
                    let lower = name.to_ascii_lowercase();
                    if lower == "description" {
                        if header_desc.is_some() {
                            return Err(StageError::validation(
                                "core metadata has more than one Description field",
                            ));
                        }
                        header_desc = Some(value);
                        return Ok(());
                    }
                    if !MULTI_USE.contains(&lower.as_str()) {
                        if !SINGLE_USE.contains(&lower.as_str()) {
                            if !md.unknown.contains(&name) {
                                md.unknown.push(name.clone());
                            }
                        } else if md.get(&lower).is_some() {
                            return Err(StageError::validation(format!(
                                "core metadata field '{name}' may appear only once but is repeated"
                            )));
                        }
                    }
                    md.fields.push((lower, value));
                }
                Ok(())
            };
        while let Some(line) = lines.next() {
            if line == "\n" || line == "\r\n" {
                // End of headers; the rest is the body.
                body = lines.collect();
                break;
            }
            if line.starts_with([' ', '\t']) {
                match &mut current {
                    Some((_, v)) => v.push_str(line),
                    None => {
                        return Err(StageError::validation(
                            "core metadata starts with a continuation line",
                        ));
                    }
                }
                continue;
            }
            match line.split_once(':') {
                Some((name, value)) if !name.is_empty() && !name.contains(' ') => {
                    flush(current.take(), &mut md)?;
                    current = Some((
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
        flush(current.take(), &mut md)?;
        if !body.is_empty() {
            if header_desc.is_some() {
                return Err(StageError::validation(
                    "core metadata has both a Description field and a message body",
                ));
            }
            md.description = Some(body);
        } else {
            md.description = header_desc;
        }
        for required in ["metadata-version", "name", "version"] {
            if md.get(required).is_none_or(|v| v.trim().is_empty()) {
                return Err(StageError::validation(format!(
                    "core metadata lacks the required field '{required}'"
                )));
            }
        }
        Ok(md)
    }

    /// The first value of field `name` (case-insensitive header name, e.g. `"Requires-Python"`).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// All values of field `name` (case-insensitive), in file order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.fields
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `Metadata-Version`, e.g. `"2.4"`.
    pub fn metadata_version(&self) -> &str {
        self.get("metadata-version").unwrap_or_default()
    }
    /// `Name` as written (not normalized).
    pub fn name(&self) -> &str {
        self.get("name").unwrap_or_default()
    }
    /// `Version`.
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
        assert_eq!(md.description.as_deref(), Some("# Title\n\ntext\n"));
        assert!(md.unknown.is_empty());
    }

    #[test]
    fn description_header_of_old_metadata() {
        let md = CoreMetadata::parse(
            b"Metadata-Version: 1.1\nName: old\nVersion: 0.1\nDescription: hello\n        |world\nPlatform: UNKNOWN\n",
        )
        .unwrap();
        assert_eq!(md.description.as_deref(), Some("hello\n        |world"));
        assert_eq!(md.get("platform"), Some("UNKNOWN"));
    }

    #[test]
    fn rejects_what_twine_rejects() {
        let e = CoreMetadata::parse(b"Metadata-Version: 2.1\nName: a\nName: b\nVersion: 1\n")
            .unwrap_err();
        assert!(e.message.contains("'Name'"), "{}", e.message);
        let e = CoreMetadata::parse(b"Metadata-Version: 2.1\nName: a\n").unwrap_err();
        assert!(e.message.contains("version"), "{}", e.message);
        let e = CoreMetadata::parse(
            b"Metadata-Version: 2.1\nName: a\nVersion: 1\nDescription: x\n\nbody\n",
        )
        .unwrap_err();
        assert!(e.message.contains("both"), "{}", e.message);
        assert!(CoreMetadata::parse(b"\xff\xfe").is_err());
    }

    #[test]
    fn unknown_fields_are_listed_and_versions_compare() {
        let md = CoreMetadata::parse(b"Metadata-Version: 2.10\nName: a\nVersion: 1\nX-Custom: 1\n")
            .unwrap();
        assert_eq!(md.unknown, ["X-Custom"]);
        assert!(md.version_at_least(2, 4));
        assert!(!md.version_at_least(3, 0));
    }
}
