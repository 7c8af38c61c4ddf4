//! Validating a distribution file (built here or elsewhere) before it is uploaded, as
//! `twine check --strict` and PyPI's upload endpoint (warehouse `forklift/legacy.py`,
//! `utils/zipfiles.py`, `forklift/metadata.py`) would.
//!
//! [`validate`] takes the file name and bytes and returns a [`Report`]: the name, version
//! and metadata version read from the file, and every [`Finding`] (file, rule, message, fix).
//! A finding of severity [`Severity::Error`] means PyPI would refuse the upload or
//! `twine check --strict` would fail; [`Severity::Warning`] is kept for things PyPI accepts
//! but a careful release engineer fixes.
//!
//! Rules (the `rule` field of a finding):
//! - `filename`: `.whl` ([PEP 427] `{name}-{version}(-{build})?-{py}-{abi}-{plat}.whl`) or
//!   `.tar.gz` ([PEP 625] `{name}-{version}.tar.gz`; `.zip` and other sdist formats are
//!   refused); no separators or control characters; the name part is the normalised name
//!   (lowercase, runs of `-_.` as `_`) and equals the metadata `Name` after PEP 503
//!   normalisation (warehouse: "Start filename for .. with .."); the version part equals
//!   the metadata `Version` (PEP 440 comparison) and is written normalised.
//! - `size`: at most [`MAX_FILE_SIZE`] (PyPI's default per-file limit) and, for zips,
//!   decompressed/compressed at most [`COMPRESSION_RATIO_THRESHOLD`] above
//!   [`COMPRESSION_RATIO_MIN_SIZE`].
//! - `zip`: warehouse's record framing check: only local file headers, central directory
//!   headers and the end record, in that order; no data descriptors (flag bit 3); no
//!   duplicate names (local or central); local and central sizes agree; no comments in the
//!   central directory; no trailing data; no control characters in names; compression
//!   method stored (0) or deflate (8) only; CRC-32 of every member checked.
//! - `wheel`: `{name}-{version}.dist-info/` (from the file name) holds `WHEEL`
//!   (`Wheel-Version: 1.x`, `Root-Is-Purelib`, `Tag`s equal to the file name's), `METADATA`
//!   and `RECORD`; RECORD lists every member but itself with a `sha256=` hash (urlsafe
//!   base64, no padding) and size that match, and nothing else ([PEP 376], [PEP 427]);
//!   members are relative, without `..`.
//! - `platform`: every platform tag of a wheel's file name is one PyPI takes
//!   ([`pypi_accepts_platform`]): `any`, Windows, manylinux/musllinux, macOS, iOS and
//!   Android tags; a bare `linux_x86_64` (what a build without auditwheel or zig tags) is
//!   refused.
//! - `sdist`: the tar.gz holds one top-level directory `{name}-{version}` with `PKG-INFO`
//!   (warehouse) and `pyproject.toml` ([sdist spec]); members are regular files or
//!   directories (no links or devices), relative, without `..`.
//! - `metadata`: [core metadata] parsed as `packaging.metadata` 26 does: `Metadata-Version`
//!   one of 1.0, 1.1, 1.2, 2.1–2.6; `Name` a valid name; `Version` valid [PEP 440]
//!   and without a local part (PyPI refuses local versions); fields newer than the declared
//!   metadata version refused; `Summary` one line of at most 512 characters; `Dynamic` never
//!   `Name` or `Version` ([PEP 643]); `Requires-Python` a valid specifier set.
//! - `classifiers`: every `Classifier` in the trove list (`trove-classifiers`; PyPI refuses
//!   unknown ones and `Private ::` ones).
//! - `license`: `License-Expression` a valid SPDX expression ([PEP 639]); every
//!   `License-File` present in the archive; `License ::` classifiers next to an expression
//!   are a warning (PEP 639 deprecates them; PyPI accepted uvicorn 0.35.0 with both).
//! - `readme`: `twine check --strict`: a description is present, `Description-Content-Type`
//!   is given and is `text/plain`, `text/x-rst` or `text/markdown` (variant `GFM` or
//!   `CommonMark`), charset UTF-8 only. (twine also renders reStructuredText with docutils;
//!   that rendering is not reproduced here.)
//!
//! [PEP 376]: https://peps.python.org/pep-0376/
//! [PEP 427]: https://peps.python.org/pep-0427/
//! [PEP 440]: https://peps.python.org/pep-0440/
//! [PEP 625]: https://peps.python.org/pep-0625/
//! [PEP 639]: https://peps.python.org/pep-0639/
//! [PEP 643]: https://peps.python.org/pep-0643/
//! [sdist spec]: https://packaging.python.org/en/latest/specifications/source-distribution-format/
//! [core metadata]: https://packaging.python.org/en/latest/specifications/core-metadata/

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;
use std::str::FromStr;

use crate::Kind;
use crate::error::{Error, Result};
use crate::metadata::CoreMetadata;
use crate::project::{is_valid_name, normalize_name};

/// PyPI's default maximum size of one uploaded file: 100 MiB (projects can ask for more).
pub const MAX_FILE_SIZE: u64 = 100 * 1024 * 1024;
/// warehouse `COMPRESSION_RATIO_THRESHOLD`: refused above this decompressed/compressed ratio.
pub const COMPRESSION_RATIO_THRESHOLD: u64 = 50;
/// warehouse `COMPRESSION_RATIO_MIN_SIZE`: the ratio is only checked above 64 MiB
/// decompressed.
pub const COMPRESSION_RATIO_MIN_SIZE: u64 = 64 * 1024 * 1024;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// PyPI would refuse the upload, or `twine check --strict` would fail.
    Error,
    /// Accepted by PyPI, but worth fixing.
    Warning,
}

/// One failed check.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Finding {
    /// The distribution file name, or `file!member` for a member of it.
    pub file: String,
    /// The rule (see the module docs): `filename`, `size`, `zip`, `wheel`, `sdist`,
    /// `metadata`, `classifiers`, `license`, `readme`.
    pub rule: String,
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub fix: String,
}

/// What [`validate`] found out about one distribution file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Report {
    /// The file name.
    pub filename: String,
    /// Sdist or wheel (from the extension; `None` when it is neither).
    pub kind: Option<Kind>,
    /// The metadata `Name`, when the metadata could be read.
    pub name: Option<String>,
    /// The metadata `Version`, when the metadata could be read.
    pub version: Option<String>,
    /// `Metadata-Version`, when the metadata could be read.
    pub metadata_version: Option<String>,
    /// Every failed check; empty when the file passes.
    pub findings: Vec<Finding>,
}

impl Report {
    /// True when no finding is an error.
    pub fn passed(&self) -> bool {
        !self.findings.iter().any(|f| f.severity == Severity::Error)
    }

    /// The errors only.
    pub fn errors(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
    }

    fn push(&mut self, file: &str, rule: &str, sev: Severity, message: String, fix: &str) {
        self.findings.push(Finding {
            file: file.to_string(),
            rule: rule.to_string(),
            severity: sev,
            message,
            fix: fix.to_string(),
        });
    }
    fn error(&mut self, file: &str, rule: &str, message: String, fix: &str) {
        self.push(file, rule, Severity::Error, message, fix);
    }
}

/// Reads and validates the distribution at `path` (see [`validate`]).
///
/// Errors: the file cannot be read ([`Error::Io`]).
pub fn validate_path(path: &Path) -> Result<Report> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let filename = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(validate(&filename, &bytes))
}

/// Validates the distribution `filename` with content `bytes`; never fails, every problem
/// is a finding in the report.
pub fn validate(filename: &str, bytes: &[u8]) -> Report {
    let mut r = Report {
        filename: filename.to_string(),
        kind: None,
        name: None,
        version: None,
        metadata_version: None,
        findings: Vec::new(),
    };
    if filename.chars().any(|c| (c as u32) < 32 || c as u32 == 127)
        || filename.contains(['/', '\\'])
    {
        r.error(
            filename,
            "filename",
            "the file name has a path separator or a control character".into(),
            "rename the file to `{name}-{version}.tar.gz` or a PEP 427 wheel name",
        );
        return r;
    }
    if bytes.len() as u64 > MAX_FILE_SIZE {
        r.error(
            filename,
            "size",
            format!(
                "{} bytes is over PyPI's default limit of {MAX_FILE_SIZE} bytes (100 MiB)",
                bytes.len()
            ),
            "make the distribution smaller (leave data and tests out) or ask PyPI for a higher file size limit",
        );
    }
    if let Some(stem) = filename.strip_suffix(".whl") {
        r.kind = Some(Kind::Wheel);
        validate_wheel(&mut r, stem, bytes);
    } else if let Some(stem) = filename.strip_suffix(".tar.gz") {
        r.kind = Some(Kind::Sdist);
        validate_sdist(&mut r, stem, bytes);
    } else {
        let fix = if filename.ends_with(".zip")
            || filename.ends_with(".tar.bz2")
            || filename.ends_with(".tgz")
        {
            "build the sdist as `{name}-{version}.tar.gz` (PEP 625: the only sdist format PyPI takes)"
        } else {
            "upload only `.whl` wheels and `.tar.gz` sdists"
        };
        r.error(
            filename,
            "filename",
            "not a distribution file name: it must end in `.whl` or `.tar.gz` (PEP 527, PEP 625)"
                .into(),
            fix,
        );
    }
    r
}

/// `re.sub(r"[-_.]+", "_", name).lower()`: the name part of a distribution file name.
pub fn filename_name(name: &str) -> String {
    normalize_name(name).replace('-', "_")
}

fn check_filename_parts(r: &mut Report, name_part: &str, version_part: &str) {
    let f = r.filename.clone();
    if name_part.is_empty() || version_part.is_empty() {
        r.error(
            &f,
            "filename",
            "cannot read the name and the version from the file name".into(),
            "name the file `{name}-{version}…` with the normalised name and version",
        );
        return;
    }
    let normalized = filename_name(name_part);
    if name_part != normalized {
        r.push(
            &f,
            "filename",
            Severity::Warning,
            format!(
                "the name part `{name_part}` is not normalised (expected `{normalized}`; PEP 427, PEP 625)"
            ),
            "rebuild with a current build backend, which writes the normalised name",
        );
    }
    match crate::project::normalize_version(version_part) {
        Err(e) => r.error(
            &f,
            "filename",
            format!("the version part `{version_part}` is not a PEP 440 version: {e}"),
            "name the file with the project's PEP 440 version",
        ),
        Ok(v) if v != version_part => r.push(
            &f,
            "filename",
            Severity::Warning,
            format!("the version part `{version_part}` is not normalised (expected `{v}`)"),
            "rebuild with a current build backend, which writes the normalised version",
        ),
        Ok(_) => {}
    }
}

/// Checks the file name against the metadata read from inside the file.
fn check_filename_against_metadata(r: &mut Report, name_part: &str, version_part: &str) {
    let f = r.filename.clone();
    if let Some(name) = r.name.clone() {
        let want = filename_name(&name);
        if filename_name(name_part) != want {
            r.error(
                &f,
                "filename",
                format!(
                    "the file name starts with `{name_part}` but the metadata Name is `{name}`: PyPI requires the file name to start with `{want}`"
                ),
                "rename the file, or fix `Name` (project.name) and rebuild",
            );
        }
    }
    if let Some(version) = r.version.clone() {
        let same = match (
            pep440_rs::Version::from_str(version_part),
            pep440_rs::Version::from_str(&version),
        ) {
            (Ok(a), Ok(b)) => a == b,
            _ => version_part == version,
        };
        if !same {
            r.error(
                &f,
                "filename",
                format!(
                    "the file name's version `{version_part}` is not the metadata Version `{version}`"
                ),
                "rebuild: the file name and METADATA/PKG-INFO must carry the same version",
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Zip framing (warehouse utils/zipfiles.py).

/// One zip member as the central directory describes it.
#[derive(Debug, Clone)]
struct ZipMember {
    name: String,
    method: u16,
    crc: u32,
    compressed_size: u64,
    size: u64,
    data_offset: usize,
}

fn u16_at(b: &[u8], i: usize) -> Option<u16> {
    b.get(i..i + 2).map(|s| u16::from_le_bytes([s[0], s[1]]))
}
fn u32_at(b: &[u8], i: usize) -> Option<u32> {
    b.get(i..i + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// Scans the archive record by record as warehouse does; returns the members or the
/// reason it is refused.
fn scan_zip(b: &[u8]) -> std::result::Result<Vec<ZipMember>, String> {
    let malformed = || "malformed zip file (truncated record)".to_string();
    let bad_name = |n: &[u8]| n.iter().any(|c| *c < 0x20 || *c == 0x7f);
    let mut pos = 0usize;
    let mut locals: BTreeMap<String, (u16, u16, u32, u64, u64, usize)> = BTreeMap::new();
    let mut local_order = Vec::new();
    let mut central: Vec<(String, u64, u64)> = Vec::new();
    let mut cd_start: Option<usize> = None;
    loop {
        let sig = u32_at(b, pos).ok_or_else(malformed)?;
        match sig {
            0x0403_4b50 => {
                if cd_start.is_some() {
                    return Err("a local file header after the central directory".into());
                }
                let flags = u16_at(b, pos + 6).ok_or_else(malformed)?;
                let method = u16_at(b, pos + 8).ok_or_else(malformed)?;
                let crc = u32_at(b, pos + 14).ok_or_else(malformed)?;
                let csize = u32_at(b, pos + 18).ok_or_else(malformed)?;
                let size = u32_at(b, pos + 22).ok_or_else(malformed)?;
                let nlen = u16_at(b, pos + 26).ok_or_else(malformed)? as usize;
                let xlen = u16_at(b, pos + 28).ok_or_else(malformed)? as usize;
                let name_b = b.get(pos + 30..pos + 30 + nlen).ok_or_else(malformed)?;
                if bad_name(name_b) {
                    return Err("a member name has a control character".into());
                }
                if flags & 0x08 != 0 {
                    return Err(format!(
                        "member `{}` uses a data descriptor (sizes and CRC after the data)",
                        String::from_utf8_lossy(name_b)
                    ));
                }
                if csize == u32::MAX || size == u32::MAX {
                    return Err("ZIP64 members are not supported by this validator".into());
                }
                let name = String::from_utf8(name_b.to_vec())
                    .map_err(|_| "a member name is not UTF-8".to_string())?;
                let data = pos + 30 + nlen + xlen;
                if locals.contains_key(&name) {
                    return Err(format!("duplicate member `{name}` in the local headers"));
                }
                locals.insert(
                    name.clone(),
                    (flags, method, crc, u64::from(csize), u64::from(size), data),
                );
                local_order.push(name);
                pos = data + csize as usize;
                if pos > b.len() {
                    return Err(malformed());
                }
            }
            0x0201_4b50 => {
                cd_start.get_or_insert(pos);
                let csize = u32_at(b, pos + 20).ok_or_else(malformed)?;
                let size = u32_at(b, pos + 24).ok_or_else(malformed)?;
                let nlen = u16_at(b, pos + 28).ok_or_else(malformed)? as usize;
                let xlen = u16_at(b, pos + 30).ok_or_else(malformed)? as usize;
                let clen = u16_at(b, pos + 32).ok_or_else(malformed)? as usize;
                if clen != 0 {
                    return Err("a comment in the central directory".into());
                }
                let name_b = b.get(pos + 46..pos + 46 + nlen).ok_or_else(malformed)?;
                if bad_name(name_b) {
                    return Err("a member name has a control character".into());
                }
                let name = String::from_utf8_lossy(name_b).into_owned();
                if central.iter().any(|(n, _, _)| *n == name) {
                    return Err(format!(
                        "duplicate member `{name}` in the central directory"
                    ));
                }
                if !locals.contains_key(&name) {
                    return Err(format!(
                        "member `{name}` is in the central directory but has no local header"
                    ));
                }
                central.push((name, u64::from(csize), u64::from(size)));
                pos += 46 + nlen + xlen;
            }
            0x0605_4b50 => {
                let records = u16_at(b, pos + 10).ok_or_else(malformed)? as usize;
                let cd_size = u32_at(b, pos + 12).ok_or_else(malformed)? as usize;
                let cd_offset = u32_at(b, pos + 16).ok_or_else(malformed)? as usize;
                let comment = u16_at(b, pos + 20).ok_or_else(malformed)? as usize;
                let start = cd_start.unwrap_or(pos);
                if records != central.len() || cd_offset != start || cd_size != pos - start {
                    return Err("the end record does not match the central directory".into());
                }
                pos += 22 + comment;
                if pos != b.len() {
                    return Err("trailing data after the end of the archive".into());
                }
                break;
            }
            0x0606_4b50 | 0x0706_4b50 => {
                return Err("ZIP64 archives are not supported by this validator".into());
            }
            _ => return Err("unknown record signature (not a plain zip archive)".into()),
        }
    }
    if central.len() != locals.len() {
        return Err("local headers and the central directory list different members".into());
    }
    let mut out = Vec::new();
    for (name, csize, size) in central {
        let (_, method, crc, lc, ls, data) = locals[&name];
        if lc != csize || ls != size {
            return Err(format!(
                "member `{name}`: local and central headers disagree on its size"
            ));
        }
        out.push(ZipMember {
            name,
            method,
            crc,
            compressed_size: csize,
            size,
            data_offset: data,
        });
    }
    Ok(out)
}

fn inflate(b: &[u8], m: &ZipMember) -> std::result::Result<Vec<u8>, String> {
    let raw = b
        .get(m.data_offset..m.data_offset + m.compressed_size as usize)
        .ok_or("member data runs past the end")?;
    let data = match m.method {
        0 => raw.to_vec(),
        8 => {
            let mut out = Vec::with_capacity(m.size as usize);
            flate2::read::DeflateDecoder::new(raw)
                .take(m.size + 1)
                .read_to_end(&mut out)
                .map_err(|e| format!("cannot inflate: {e}"))?;
            out
        }
        other => return Err(format!("compression method {other}")),
    };
    if data.len() as u64 != m.size {
        return Err(format!(
            "holds {} bytes, the header says {}",
            data.len(),
            m.size
        ));
    }
    let mut crc = flate2::Crc::new();
    crc.update(&data);
    if crc.sum() != m.crc {
        return Err("CRC-32 mismatch".into());
    }
    Ok(data)
}

/// File name endings of compiled code: extension modules and shared libraries.
const COMPILED_SUFFIXES: &[&str] = &[".so", ".pyd", ".dylib", ".dll", ".a", ".o"];

/// Checks that the wheel `bytes` holds pure Python, whatever its name says: a well-formed zip
/// ([`validate`]'s framing rules), a `*.dist-info/WHEEL` with `Root-Is-Purelib: true`, no
/// compiled extension or shared library (a member ending in `.so`, `.pyd`, `.dylib`, `.dll`,
/// `.a` or `.o`, or holding `.so.` as in `libx.so.1`) and no member outside the wheel's
/// root (an absolute path or `..`).
///
/// Errors: a sentence naming the member or field that makes it impure or malformed.
pub fn check_pure_wheel(bytes: &[u8]) -> std::result::Result<(), String> {
    let members = scan_zip(bytes)?;
    let mut purelib = None;
    for m in &members {
        let lower = m.name.to_ascii_lowercase();
        if unsafe_member_path(&m.name) {
            return Err(format!("member `{}` is outside the wheel's root", m.name));
        }
        if COMPILED_SUFFIXES.iter().any(|s| lower.ends_with(s)) || lower.contains(".so.") {
            return Err(format!("member `{}` is compiled code", m.name));
        }
        let mut parts = m.name.split('/');
        if let (Some(top), Some("WHEEL"), None) = (parts.next(), parts.next(), parts.next())
            && top.ends_with(".dist-info")
        {
            let text = inflate(bytes, m).map_err(|e| format!("`{}`: {e}", m.name))?;
            purelib = String::from_utf8_lossy(&text).lines().find_map(|l| {
                l.split_once(':')
                    .filter(|(k, _)| k.trim() == "Root-Is-Purelib")
                    .map(|(_, v)| v.trim().to_string())
            });
        }
    }
    match purelib.as_deref() {
        Some("true") => Ok(()),
        Some(other) => Err(format!(
            "its WHEEL says `Root-Is-Purelib: {other}`, not `true`"
        )),
        None => Err("it has no `*.dist-info/WHEEL` with `Root-Is-Purelib`".into()),
    }
}

/// The core metadata text (`{name}-{version}.dist-info/METADATA`, the one `.dist-info`
/// folder at the root) of the wheel `bytes`, read with the same zip framing rules as
/// [`validate`].
///
/// Errors: a malformed zip, no METADATA, or more than one `.dist-info/METADATA`.
pub fn wheel_metadata(bytes: &[u8]) -> std::result::Result<String, String> {
    let members = scan_zip(bytes)?;
    let mut found = members.iter().filter(|m| {
        let mut parts = m.name.split('/');
        matches!(
            (parts.next(), parts.next(), parts.next()),
            (Some(top), Some("METADATA"), None) if top.ends_with(".dist-info")
        )
    });
    let (Some(m), None) = (found.next(), found.next()) else {
        return Err("the wheel has no single `*.dist-info/METADATA`".into());
    };
    let data = inflate(bytes, m).map_err(|e| format!("`{}`: {e}", m.name))?;
    String::from_utf8(data).map_err(|_| format!("`{}` is not UTF-8", m.name))
}

fn unsafe_member_path(name: &str) -> bool {
    name.starts_with('/') || name.contains('\\') || name.split('/').any(|c| c == "..")
}

fn validate_wheel(r: &mut Report, stem: &str, b: &[u8]) {
    let f = r.filename.clone();
    let parts: Vec<&str> = stem.split('-').collect();
    if !(parts.len() == 5 || parts.len() == 6) {
        r.error(
            &f,
            "filename",
            "a wheel file name has 5 or 6 `-`-separated parts: {name}-{version}(-{build})?-{python}-{abi}-{platform}.whl".into(),
            "rename the wheel as its build backend named it (PEP 427)",
        );
        return;
    }
    let (name_part, version_part) = (parts[0], parts[1]);
    check_filename_parts(r, name_part, version_part);
    if parts.len() == 6 && !parts[2].starts_with(|c: char| c.is_ascii_digit()) {
        r.error(
            &f,
            "filename",
            format!("the build tag `{}` must start with a digit", parts[2]),
            "drop the build tag or start it with a digit (PEP 427)",
        );
    }
    let tags: BTreeSet<String> = {
        let n = parts.len();
        let mut t = BTreeSet::new();
        for p in parts[n - 3].split('.') {
            for a in parts[n - 2].split('.') {
                for pl in parts[n - 1].split('.') {
                    t.insert(format!("{p}-{a}-{pl}"));
                }
            }
        }
        t
    };
    for platform in parts[parts.len() - 1].split('.') {
        if !pypi_accepts_platform(platform) {
            r.error(
                &f,
                "platform",
                format!("PyPI refuses the platform tag `{platform}`"),
                "tag a Linux wheel manylinux (auditwheel repair, or maturin --zig --compatibility manylinux2014) or musllinux; pure-Python wheels are `any`",
            );
        }
    }
    let members = match scan_zip(b) {
        Ok(m) => m,
        Err(e) => {
            r.error(
                &f,
                "zip",
                format!("PyPI refuses this archive: {e}"),
                "rebuild the wheel with a standard build backend (no streaming zip writers, no appended data)",
            );
            return;
        }
    };
    check_zip_members(r, &members, b.len() as u64);
    let expected = format!("{name_part}-{version_part}.dist-info");
    let dist_infos: BTreeSet<&str> = members
        .iter()
        .filter_map(|m| m.name.split('/').next())
        .filter(|t| t.ends_with(".dist-info"))
        .collect();
    let dist_info = if dist_infos.contains(expected.as_str()) {
        expected.clone()
    } else if dist_infos.len() == 1 {
        let found = dist_infos
            .iter()
            .next()
            .copied()
            .unwrap_or_default()
            .to_string();
        r.error(
            &f,
            "wheel",
            format!("the metadata directory is `{found}/`, the file name requires `{expected}/` (PyPI looks for WHEEL there)"),
            "rename the wheel after its .dist-info directory, or rebuild it",
        );
        found
    } else {
        expected.clone()
    };
    if dist_infos.len() > 1 {
        r.error(
            &f,
            "wheel",
            format!("more than one .dist-info directory: {dist_infos:?}"),
            "rebuild the wheel: it must hold exactly one .dist-info directory",
        );
    }
    let mut contents: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for m in &members {
        if m.name.ends_with('/') {
            continue;
        }
        if unsafe_member_path(&m.name) {
            r.error(
                &f,
                "wheel",
                format!(
                    "member `{}` is not a relative path inside the wheel",
                    m.name
                ),
                "rebuild the wheel; members must be relative and must not contain `..`",
            );
            continue;
        }
        match inflate(b, m) {
            Ok(d) => {
                contents.insert(m.name.clone(), d);
            }
            Err(e) => r.error(
                &format!("{f}!{}", m.name),
                "zip",
                format!("member cannot be read: {e}"),
                "rebuild the wheel",
            ),
        }
    }
    let member = |n: &str| format!("{dist_info}/{n}");
    for required in ["WHEEL", "METADATA", "RECORD"] {
        if !contents.contains_key(&member(required)) {
            r.error(
                &f,
                "wheel",
                format!("`{}` is missing", member(required)),
                "rebuild the wheel: the .dist-info directory must be named after the file name's name and version and hold WHEEL, METADATA and RECORD",
            );
        }
    }
    if let Some(w) = contents.get(&member("WHEEL")) {
        check_wheel_file(r, &format!("{f}!{}", member("WHEEL")), w, &tags);
    }
    if let Some(m) = contents.get(&member("METADATA")) {
        let text = String::from_utf8_lossy(m).into_owned();
        check_metadata(r, &format!("{f}!{}", member("METADATA")), &text, |lic| {
            contents.contains_key(&format!("{dist_info}/licenses/{lic}"))
        });
    }
    if let Some(rec) = contents.get(&member("RECORD")) {
        check_record(r, &format!("{f}!{}", member("RECORD")), rec, &contents);
    }
    check_filename_against_metadata(r, name_part, version_part);
}

fn check_zip_members(r: &mut Report, members: &[ZipMember], compressed: u64) {
    let f = r.filename.clone();
    for m in members {
        if m.method != 0 && m.method != 8 {
            r.error(
                &format!("{f}!{}", m.name),
                "zip",
                format!(
                    "compression method {} is not accepted by PyPI (only stored and deflate)",
                    m.method
                ),
                "rebuild with deflate compression",
            );
        }
    }
    let total: u64 = members.iter().map(|m| m.size).sum();
    if total > COMPRESSION_RATIO_MIN_SIZE && total / compressed.max(1) > COMPRESSION_RATIO_THRESHOLD
    {
        r.error(
            &f,
            "size",
            format!(
                "decompresses to {total} bytes, over {COMPRESSION_RATIO_THRESHOLD} times its size: PyPI refuses it as a decompression bomb"
            ),
            "leave large repetitive data out of the distribution",
        );
    }
}

fn check_wheel_file(r: &mut Report, file: &str, bytes: &[u8], tags: &BTreeSet<String>) {
    let text = String::from_utf8_lossy(bytes);
    let mut version = None;
    let mut purelib = None;
    let mut found_tags = BTreeSet::new();
    for line in text.lines() {
        if let Some((k, v)) = line.split_once(':') {
            match k.trim() {
                "Wheel-Version" => version = Some(v.trim().to_string()),
                "Root-Is-Purelib" => purelib = Some(v.trim().to_string()),
                "Tag" => {
                    found_tags.insert(v.trim().to_string());
                }
                _ => {}
            }
        }
    }
    match version.as_deref() {
        Some(v) if v.split('.').next() == Some("1") => {}
        Some(v) => r.error(
            file,
            "wheel",
            format!("Wheel-Version {v} is not 1.x: installers refuse it"),
            "rebuild with a build backend that writes Wheel-Version: 1.0",
        ),
        None => r.error(
            file,
            "wheel",
            "no Wheel-Version".into(),
            "rebuild the wheel",
        ),
    }
    if !matches!(purelib.as_deref(), Some("true" | "false")) {
        r.error(
            file,
            "wheel",
            "Root-Is-Purelib must be `true` or `false`".into(),
            "rebuild the wheel",
        );
    }
    if found_tags != *tags {
        r.push(
            file,
            "wheel",
            Severity::Warning,
            format!(
                "Tag lines {:?} differ from the file name's tags {:?}",
                found_tags, tags
            ),
            "rename the wheel after its WHEEL tags, or rebuild it",
        );
    }
}

/// Whether PyPI takes a wheel whose file name carries platform tag `tag`: the rule of
/// warehouse's `forklift/legacy.py` (`_valid_platform_tag`, as of 2026): a fixed list
/// (`any`, `win32`, `win_amd64`, `win_arm64`, `win_ia64`, manylinux1/2010/2014 tags,
/// `linux_armv6l`, `linux_armv7l`); `manylinux_X_Y_ARCH` (PEP 600) and `musllinux_X_Y_ARCH`
/// (PEP 656) for the architectures those PEPs name; `macosx_10_N_ARCH` and
/// `macosx_M_0_ARCH` for M 11 to 15 and 26; `ios_X_Y_ARCH_{iphoneos,iphonesimulator}`
/// (PEP 730) and `android_N_ARCH` (PEP 738).
pub fn pypi_accepts_platform(tag: &str) -> bool {
    const FIXED: &[&str] = &[
        "any",
        "win32",
        "win_arm64",
        "win_amd64",
        "win_ia64",
        "manylinux1_x86_64",
        "manylinux1_i686",
        "manylinux2010_x86_64",
        "manylinux2010_i686",
        "manylinux2014_x86_64",
        "manylinux2014_i686",
        "manylinux2014_aarch64",
        "manylinux2014_armv7l",
        "manylinux2014_ppc64",
        "manylinux2014_ppc64le",
        "manylinux2014_s390x",
        "linux_armv6l",
        "linux_armv7l",
    ];
    const LINUX_ARCHES: &[&str] = &[
        "x86_64", "i686", "aarch64", "armv7l", "ppc64le", "s390x", "riscv64",
    ];
    const MACOS_ARCHES: &[&str] = &[
        "ppc",
        "ppc64",
        "i386",
        "x86_64",
        "arm64",
        "intel",
        "fat",
        "fat3",
        "fat64",
        "universal",
        "universal2",
    ];
    const MACOS_MAJORS: &[&str] = &["11", "12", "13", "14", "15", "26"];
    /// `N_rest` → (N, rest) for a run of ASCII digits N.
    fn number(s: &str) -> Option<(&str, &str)> {
        let end = s.find(|c: char| !c.is_ascii_digit())?;
        if end == 0 {
            return None;
        }
        Some((&s[..end], s[end..].strip_prefix('_')?))
    }
    fn two_numbers(s: &str) -> Option<(&str, &str, &str)> {
        let (a, rest) = number(s)?;
        let (b, rest) = number(rest)?;
        Some((a, b, rest))
    }
    if FIXED.contains(&tag) {
        return true;
    }
    if let Some(rest) = tag.strip_prefix("manylinux_") {
        return two_numbers(rest)
            .is_some_and(|(_, _, arch)| LINUX_ARCHES.contains(&arch) || arch == "ppc64");
    }
    if let Some(rest) = tag.strip_prefix("musllinux_") {
        return two_numbers(rest).is_some_and(|(_, _, arch)| LINUX_ARCHES.contains(&arch));
    }
    if let Some(rest) = tag.strip_prefix("macosx_") {
        return two_numbers(rest).is_some_and(|(major, minor, arch)| {
            MACOS_ARCHES.contains(&arch)
                && (major == "10" || (MACOS_MAJORS.contains(&major) && minor == "0"))
        });
    }
    if let Some(rest) = tag.strip_prefix("ios_") {
        return two_numbers(rest)
            .and_then(|(_, _, rest)| rest.rsplit_once('_'))
            .is_some_and(|(arch, sdk)| {
                ["arm64", "x86_64"].contains(&arch)
                    && ["iphoneos", "iphonesimulator"].contains(&sdk)
            });
    }
    if let Some(rest) = tag.strip_prefix("android_") {
        return number(rest).is_some_and(|(_, arch)| {
            ["armeabi_v7a", "arm64_v8a", "x86", "x86_64"].contains(&arch)
        });
    }
    false
}

/// Parses RECORD as Python's `csv.reader` would (quoted fields with `""` escapes).
fn parse_csv_line(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    fields.push(cur);
    fields
}

fn check_record(r: &mut Report, file: &str, record: &[u8], contents: &BTreeMap<String, Vec<u8>>) {
    let text = String::from_utf8_lossy(record);
    let record_name = file.rsplit_once('!').map(|(_, m)| m).unwrap_or("");
    let mut listed = BTreeSet::new();
    for (i, line) in text.lines().enumerate() {
        if line.is_empty() {
            continue;
        }
        let fields = parse_csv_line(line);
        if fields.len() != 3 {
            r.error(
                file,
                "wheel",
                format!(
                    "line {} has {} fields, not 3 (path,hash,size)",
                    i + 1,
                    fields.len()
                ),
                "rebuild the wheel (PEP 376 RECORD)",
            );
            continue;
        }
        let path = fields[0].clone();
        if !listed.insert(path.clone()) {
            r.error(
                file,
                "wheel",
                format!("`{path}` is listed twice"),
                "rebuild the wheel",
            );
        }
        if path == record_name
            || path.ends_with(".dist-info/RECORD.jws")
            || path.ends_with(".dist-info/RECORD.p7s")
        {
            continue;
        }
        let Some(data) = contents.get(&path) else {
            r.error(
                file,
                "wheel",
                format!("`{path}` is listed but not in the wheel"),
                "rebuild the wheel so RECORD lists exactly its members",
            );
            continue;
        };
        match fields[1].split_once('=') {
            Some(("sha256", h)) if h == crate::record_hash(data) => {}
            Some(("sha256", _)) => r.error(
                file,
                "wheel",
                format!("the sha256 of `{path}` does not match its content"),
                "rebuild the wheel; do not edit members after building",
            ),
            Some((algo, _)) if algo == "sha384" || algo == "sha512" => {}
            _ => r.error(
                file,
                "wheel",
                format!("`{path}` has no sha256 hash (`{}`)", fields[1]),
                "rebuild the wheel (RECORD hashes are sha256=urlsafe-base64)",
            ),
        }
        if fields[2] != data.len().to_string() {
            r.error(
                file,
                "wheel",
                format!(
                    "`{path}` is {} bytes, RECORD says `{}`",
                    data.len(),
                    fields[2]
                ),
                "rebuild the wheel; do not edit members after building",
            );
        }
    }
    for name in contents.keys() {
        if !listed.contains(name)
            && !name.ends_with(".dist-info/RECORD.jws")
            && !name.ends_with(".dist-info/RECORD.p7s")
        {
            r.error(
                file,
                "wheel",
                format!("member `{name}` is not listed in RECORD"),
                "rebuild the wheel so RECORD lists every member",
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Sdist.

fn validate_sdist(r: &mut Report, stem: &str, b: &[u8]) {
    let f = r.filename.clone();
    // PEP 625: the version has no `-`, so the last `-` separates the name.
    let (name_part, version_part) = stem.rsplit_once('-').unwrap_or((stem, ""));
    check_filename_parts(r, name_part, version_part);
    if !b.starts_with(&[0x1f, 0x8b]) {
        r.error(
            &f,
            "sdist",
            "not a gzip-compressed tar archive (no gzip header)".into(),
            "build the sdist as a .tar.gz",
        );
        return;
    }
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(b));
    let entries = match archive.entries() {
        Ok(e) => e,
        Err(e) => {
            r.error(
                &f,
                "sdist",
                format!("not a gzip-compressed tar archive: {e}"),
                "build the sdist as a .tar.gz",
            );
            return;
        }
    };
    // Member names, and the contents of `*/PKG-INFO` (the only ones read): the rest is
    // streamed past, not kept.
    let mut files: BTreeSet<String> = BTreeSet::new();
    let mut pkg_infos: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut tops = BTreeSet::new();
    for entry in entries {
        let mut entry = match entry {
            Ok(e) => e,
            Err(e) => {
                r.error(
                    &f,
                    "sdist",
                    format!("the tar stream is broken: {e}"),
                    "rebuild the sdist",
                );
                return;
            }
        };
        let path = match entry.path() {
            Ok(p) => p.to_string_lossy().replace('\\', "/"),
            Err(e) => {
                r.error(
                    &f,
                    "sdist",
                    format!("a member path cannot be read: {e}"),
                    "rebuild the sdist",
                );
                continue;
            }
        };
        let path = path.trim_start_matches("./").to_string();
        let ty = entry.header().entry_type();
        if !(ty.is_file() || ty.is_dir()) {
            r.error(
                &format!("{f}!{path}"),
                "sdist",
                format!("member is a {ty:?}, not a regular file or directory"),
                "leave links and special files out of the sdist",
            );
            continue;
        }
        if unsafe_member_path(&path) {
            r.error(
                &format!("{f}!{path}"),
                "sdist",
                "member is not a relative path inside the sdist".into(),
                "rebuild the sdist; members must be relative and must not contain `..`",
            );
            continue;
        }
        if let Some(top) = path.split('/').next().filter(|t| !t.is_empty()) {
            tops.insert(top.to_string());
        }
        if ty.is_file() {
            let is_pkg_info = path
                .split_once('/')
                .is_some_and(|(_, rest)| rest == "PKG-INFO");
            let mut data = Vec::new();
            let read = if is_pkg_info {
                entry.read_to_end(&mut data).map(|_| ())
            } else {
                std::io::copy(&mut entry, &mut std::io::sink()).map(|_| ())
            };
            if let Err(e) = read {
                r.error(
                    &format!("{f}!{path}"),
                    "sdist",
                    format!("cannot read: {e}"),
                    "rebuild the sdist",
                );
                continue;
            }
            if is_pkg_info {
                pkg_infos.insert(path.clone(), data);
            }
            if !files.insert(path.clone()) {
                r.error(
                    &format!("{f}!{path}"),
                    "sdist",
                    "member appears twice".into(),
                    "rebuild the sdist without duplicate members",
                );
            }
        }
    }
    let expected_top = stem.to_string();
    if tops.len() != 1 {
        r.error(
            &f,
            "sdist",
            format!(
                "the sdist must hold exactly one top-level directory, it holds {}: {:?}",
                tops.len(),
                tops
            ),
            "build the sdist with a standard backend: everything under `{name}-{version}/`",
        );
        return;
    }
    let top = tops.into_iter().next().unwrap_or_default();
    if top != expected_top {
        r.push(
            &f,
            "sdist",
            Severity::Warning,
            format!("the top-level directory is `{top}`, the file name says `{expected_top}`"),
            "rebuild the sdist (PEP 625: the directory is named like the file)",
        );
    }
    let pkg_info = format!("{top}/PKG-INFO");
    match pkg_infos.get(&pkg_info) {
        None => r.error(
            &f,
            "sdist",
            format!("`{pkg_info}` is missing: PyPI refuses an sdist without it"),
            "build the sdist with a PEP 517 backend, which writes PKG-INFO",
        ),
        Some(p) => {
            let text = String::from_utf8_lossy(p).into_owned();
            check_metadata(r, &format!("{f}!{pkg_info}"), &text, |lic| {
                files.contains(&format!("{top}/{lic}"))
            });
        }
    }
    if !files.contains(&format!("{top}/pyproject.toml")) {
        r.push(
            &f,
            "sdist",
            Severity::Warning,
            format!("`{top}/pyproject.toml` is missing (the sdist format requires it)"),
            "add a pyproject.toml with a [build-system] table",
        );
    }
    check_filename_against_metadata(r, name_part, version_part);
}

// ---------------------------------------------------------------------------------------
// Core metadata.

/// The metadata versions `packaging` 26 accepts (2.5: PEP 794 `Import-Name`).
const METADATA_VERSIONS: &[&str] = &[
    "1.0", "1.1", "1.2", "2.1", "2.2", "2.3", "2.4", "2.5", "2.6",
];

/// The metadata version that introduced `field` (packaging.metadata `_VALID_METADATA`).
fn field_since(field: &str) -> Option<&'static str> {
    Some(match field.to_ascii_lowercase().as_str() {
        "classifier" | "download-url" | "obsoletes" | "provides" | "requires" => "1.1",
        "maintainer" | "maintainer-email" | "obsoletes-dist" | "project-url" | "provides-dist"
        | "requires-dist" | "requires-external" | "requires-python" => "1.2",
        "description-content-type" | "provides-extra" => "2.1",
        "dynamic" => "2.2",
        "license-expression" | "license-file" => "2.4",
        "import-name" | "import-namespace" => "2.5",
        _ => return None,
    })
}

fn check_metadata(r: &mut Report, file: &str, text: &str, has_license_file: impl Fn(&str) -> bool) {
    let m = CoreMetadata::read(text);
    let fix_meta = "fix `[project]` in pyproject.toml and rebuild";
    let mv = m.get("Metadata-Version").map(str::to_string);
    r.metadata_version = mv.clone();
    match mv.as_deref() {
        None => r.error(
            file,
            "metadata",
            "no Metadata-Version".into(),
            "rebuild with a PEP 517 backend",
        ),
        Some(v) if !METADATA_VERSIONS.contains(&v) => r.error(
            file,
            "metadata",
            format!(
                "Metadata-Version {v} is not one of {}",
                METADATA_VERSIONS.join(", ")
            ),
            "rebuild with a build backend that writes a released core metadata version",
        ),
        Some(v) => {
            for (k, _) in &m.fields {
                if let Some(since) = field_since(k)
                    && v < since
                {
                    r.push(
                        file,
                        "metadata",
                        Severity::Warning,
                        format!(
                            "field `{k}` belongs to Metadata-Version {since}, the file declares {v} (older backends wrote it early; twine and PyPI accept it)"
                        ),
                        "rebuild with a current build backend",
                    );
                }
            }
        }
    }
    match m.get("Name") {
        None => r.error(file, "metadata", "no Name".into(), fix_meta),
        Some(n) => {
            if !is_valid_name(n) {
                r.error(file, "metadata", format!("Name `{n}` is not a valid project name"), "use ASCII letters, digits and `-_.`, starting and ending with a letter or digit");
            }
            r.name = Some(n.to_string());
        }
    }
    match m.get("Version") {
        None => r.error(file, "metadata", "no Version".into(), fix_meta),
        Some(v) => {
            r.version = Some(v.to_string());
            match pep440_rs::Version::from_str(v) {
                Err(e) => r.error(
                    file,
                    "metadata",
                    format!("Version `{v}` is not PEP 440: {e}"),
                    "use a PEP 440 version such as 1.2.3",
                ),
                Ok(parsed) => {
                    if !parsed.local().is_empty() {
                        r.error(
                            file,
                            "metadata",
                            format!(
                                "Version `{v}` has a local part (`+…`): PyPI refuses local versions"
                            ),
                            "drop the `+local` part of the version for uploads",
                        );
                    }
                }
            }
        }
    }
    for d in m.get_all("Dynamic") {
        if d.eq_ignore_ascii_case("name")
            || d.eq_ignore_ascii_case("version")
            || d.eq_ignore_ascii_case("metadata-version")
        {
            r.error(
                file,
                "metadata",
                format!("`Dynamic: {d}` is not allowed (PEP 643)"),
                "rebuild with a current build backend",
            );
        }
    }
    if let Some(s) = m.get("Summary") {
        if s.contains('\n') {
            r.error(
                file,
                "metadata",
                "Summary has more than one line".into(),
                "make `project.description` one line",
            );
        }
        if s.chars().count() > 512 {
            r.error(
                file,
                "metadata",
                format!(
                    "Summary is {} characters, PyPI allows 512",
                    s.chars().count()
                ),
                "shorten `project.description`",
            );
        }
    }
    if let Some(rp) = m.get("Requires-Python")
        && pep440_rs::VersionSpecifiers::from_str(rp).is_err()
    {
        r.error(
            file,
            "metadata",
            format!("Requires-Python `{rp}` is not a valid specifier set"),
            "fix `project.requires-python`, e.g. \">=3.9\"",
        );
    }
    // Classifiers.
    let known: BTreeSet<&str> = crate::project::known_classifiers().collect();
    let classifiers: Vec<&str> = m.get_all("Classifier").collect();
    for c in &classifiers {
        if !known.contains(c) {
            let why = if c.starts_with("Private ::") {
                "`Private ::` classifiers are refused by PyPI (that is their purpose)"
            } else {
                "not in the trove classifier list (PyPI refuses unknown classifiers)"
            };
            r.error(
                file,
                "classifiers",
                format!("`{c}`: {why}"),
                "use a classifier from https://pypi.org/classifiers/ or remove it",
            );
        }
    }
    // License (PEP 639).
    if let Some(expr) = m.get("License-Expression") {
        if let Err(e) = spdx::Expression::parse(expr) {
            r.error(file, "license", format!("License-Expression `{expr}` is not a valid SPDX expression: {e}"), "use SPDX identifiers, e.g. \"MIT\" or \"Apache-2.0 OR MIT\" (https://spdx.org/licenses/)");
        }
        if classifiers.iter().any(|c| c.starts_with("License ::")) {
            r.push(file, "license", Severity::Warning, "License-Expression together with `License ::` classifiers: PEP 639 deprecates the classifiers, and tools may refuse the combination".into(), "remove the `License ::` classifiers; the expression replaces them");
        }
    }
    for lic in m.get_all("License-File") {
        if !has_license_file(lic) {
            r.error(
                file,
                "license",
                format!("License-File `{lic}` is not in the archive (PEP 639)"),
                "rebuild: the license file must be shipped where PEP 639 puts it",
            );
        }
    }
    // Readme (twine check --strict).
    let desc = m.description().unwrap_or("").trim();
    if desc.is_empty() {
        r.error(
            file,
            "readme",
            "no long description (twine check --strict: `long_description` missing)".into(),
            "set `project.readme` to your README file",
        );
    }
    match m.get("Description-Content-Type") {
        None if !desc.is_empty() => r.error(
            file,
            "readme",
            "no Description-Content-Type (twine check --strict: defaulting to text/x-rst is a warning, which fails)".into(),
            "name the readme with a .md/.rst/.txt extension or set `project.readme.content-type`",
        ),
        None => {}
        Some(dct) => check_content_type(r, file, dct),
    }
}

fn check_content_type(r: &mut Report, file: &str, dct: &str) {
    let mut parts = dct.split(';').map(str::trim);
    let mime = parts.next().unwrap_or("").to_ascii_lowercase();
    let fix = "use text/markdown, text/x-rst or text/plain (optionally `; charset=UTF-8`, `; variant=GFM|CommonMark` for markdown)";
    if !["text/plain", "text/x-rst", "text/markdown"].contains(&mime.as_str()) {
        r.error(
            file,
            "readme",
            format!("Description-Content-Type `{mime}` is not one PyPI renders"),
            fix,
        );
    }
    for p in parts {
        let Some((k, v)) = p.split_once('=') else {
            continue;
        };
        let v = v.trim().trim_matches('"');
        match k.trim().to_ascii_lowercase().as_str() {
            "charset" if !v.eq_ignore_ascii_case("utf-8") => r.error(
                file,
                "readme",
                format!("charset `{v}`: PyPI only accepts UTF-8"),
                fix,
            ),
            "variant" if mime == "text/markdown" && v != "GFM" && v != "CommonMark" => r.error(
                file,
                "readme",
                format!("markdown variant `{v}` is not GFM or CommonMark"),
                fix,
            ),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_tags_follow_pypis_rule() {
        for ok in [
            "any",
            "win_amd64",
            "manylinux2014_aarch64",
            "manylinux_2_17_x86_64",
            "manylinux_2_34_ppc64",
            "musllinux_1_2_riscv64",
            "macosx_10_9_x86_64",
            "macosx_11_0_arm64",
            "macosx_26_0_universal2",
            "ios_13_0_x86_64_iphonesimulator",
            "android_21_arm64_v8a",
            "linux_armv7l",
        ] {
            assert!(pypi_accepts_platform(ok), "{ok}");
        }
        for refused in [
            "linux_x86_64",
            "linux_aarch64",
            "manylinux_2_17_sparc",
            "musllinux_1_2_ppc64",
            "manylinux_x_17_x86_64",
            "manylinux__17_x86_64",
            "macosx_11_1_arm64",
            "macosx_9_0_x86_64",
            "ios_13_0_arm64_watchos",
            "android_x_arm64_v8a",
            "",
        ] {
            assert!(!pypi_accepts_platform(refused), "{refused}");
        }
    }

    #[test]
    fn csv_fields_unquote_like_python() {
        assert_eq!(parse_csv_line("a,b,c"), vec!["a", "b", "c"]);
        assert_eq!(
            parse_csv_line("\"x,y\",\"q\"\"z\",3"),
            vec!["x,y", "q\"z", "3"]
        );
    }
}
