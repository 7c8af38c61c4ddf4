//! A distribution file: its kind, core metadata and digests.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use airlock_stage::StageError;
use blake2::Blake2b;
use blake2::digest::consts::U32;
use sha2::{Digest, Sha256};

use airlock_pypkg::metadata::CoreMetadata;

/// The two distribution formats an index accepts (twine's `DIST_EXTENSIONS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DistKind {
    /// A `.whl` (binary distribution format, PEP 427).
    Wheel,
    /// A `.tar.gz` source distribution (PEP 625 / the sdist format spec).
    Sdist,
}

impl DistKind {
    /// The kind of `filename` by its extension; `None` for anything else.
    pub fn from_filename(filename: &str) -> Option<Self> {
        if filename.ends_with(".whl") {
            Some(DistKind::Wheel)
        } else if filename.ends_with(".tar.gz") {
            Some(DistKind::Sdist)
        } else {
            None
        }
    }
    /// The upload form's `filetype`: `bdist_wheel` or `sdist`.
    pub fn filetype(self) -> &'static str {
        match self {
            DistKind::Wheel => "bdist_wheel",
            DistKind::Sdist => "sdist",
        }
    }
}

/// sha256 and blake2b-256 of a file, lowercase hex, and its size in bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digests {
    /// SHA-256, 64 hex digits (the upload form's `sha256_digest`, the simple API's `#sha256=`).
    pub sha256: String,
    /// BLAKE2b with a 32-byte digest, 64 hex digits (`blake2_256_digest`, what PyPI keys
    /// files by).
    pub blake2_256: String,
    /// Size in bytes.
    pub size: u64,
}

/// Hashes `path` in one streaming pass (64 KiB buffer). Errors: I/O, via [`StageError::io`].
pub fn digest_file(path: &Path) -> Result<Digests, StageError> {
    let shown = path.display().to_string();
    let mut f = File::open(path).map_err(|e| StageError::io(&shown, &e))?;
    let mut sha = Sha256::new();
    let mut blake = Blake2b::<U32>::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(|e| StageError::io(&shown, &e))?;
        if n == 0 {
            break;
        }
        sha.update(&buf[..n]);
        blake.update(&buf[..n]);
        size += n as u64;
    }
    Ok(Digests {
        sha256: hex::encode(sha.finalize()),
        blake2_256: hex::encode(blake.finalize()),
        size,
    })
}

/// sha256 of bytes, lowercase hex (the foundation's, [`airlock_pypkg::sha256_hex`]).
pub use airlock_pypkg::sha256_hex;

/// A distribution file ready to publish.
#[derive(Debug, Clone)]
pub struct Distribution {
    /// The file name (no directory), e.g. `mypylogger-0.2.8-py3-none-any.whl`.
    pub filename: String,
    /// Wheel or sdist.
    pub kind: DistKind,
    /// The upload form's `pyversion`: the wheel filename's python tag (`py3`), `source` for
    /// an sdist (twine's `Wheel.py_version` / `SDist.py_version`).
    pub pyversion: String,
    /// The core metadata inside the file.
    pub metadata: CoreMetadata,
    /// Its digests and size.
    pub digests: Digests,
}

impl Distribution {
    /// Reads `path`: its kind from the extension, the core metadata inside it, its digests.
    /// Errors: [`airlock_stage::Category::Validation`] for an unknown extension, a missing or
    /// malformed metadata file or a corrupt archive; I/O errors via [`StageError::io`].
    pub fn read(path: &Path) -> Result<Self, StageError> {
        let filename = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| {
                StageError::validation(format!("'{}' has no file name", path.display()))
            })?
            .to_string();
        let kind = DistKind::from_filename(&filename).ok_or_else(|| {
            StageError::validation(format!(
                "'{filename}' is not a distribution: expected a .whl or .tar.gz"
            ))
        })?;
        let raw = read_metadata_bytes(path, kind)?;
        let metadata = CoreMetadata::parse(&raw)
            .map_err(|e| StageError::validation(format!("{filename}: {e}")))?;
        let pyversion = match kind {
            DistKind::Sdist => "source".to_string(),
            DistKind::Wheel => wheel_python_tag(&filename).unwrap_or("any").to_string(),
        };
        let digests = digest_file(path)?;
        Ok(Distribution {
            filename,
            kind,
            pyversion,
            metadata,
            digests,
        })
    }

    /// The PEP 503 normalized project name, from the metadata.
    pub fn normalized_name(&self) -> String {
        crate::normalize_name(self.metadata.name())
    }
}

/// The python tag of a wheel filename `{name}-{ver}(-{build})?-{py}-{abi}-{plat}.whl`, as
/// twine's `wheel_file_re` extracts it; `None` when the name does not have 5 or 6 parts.
pub fn wheel_python_tag(filename: &str) -> Option<&str> {
    let stem = filename.strip_suffix(".whl")?;
    let parts: Vec<&str> = stem.split('-').collect();
    match parts.len() {
        5 | 6 => Some(parts[parts.len() - 3]),
        _ => None,
    }
}

/// The raw core metadata of a distribution: a wheel's `<name>-<version>.dist-info/METADATA`
/// (the one top-level `.dist-info` directory), an sdist's `<name>-<version>/PKG-INFO`.
pub fn read_metadata_bytes(path: &Path, kind: DistKind) -> Result<Vec<u8>, StageError> {
    let shown = path.display().to_string();
    let file = File::open(path).map_err(|e| StageError::io(&shown, &e))?;
    let corrupt = |e: &dyn std::fmt::Display| {
        StageError::validation(format!(
            "'{shown}' is not a valid {}: {e}",
            match kind {
                DistKind::Wheel => "wheel (zip archive)",
                DistKind::Sdist => "sdist (.tar.gz archive)",
            }
        ))
    };
    match kind {
        DistKind::Wheel => {
            let mut zip = zip::ZipArchive::new(BufReader::new(file)).map_err(|e| corrupt(&e))?;
            let name = zip
                .file_names()
                .filter_map(|n| n.ok().map(|c| c.into_owned()))
                .filter(|n| {
                    let mut p = n.split('/');
                    matches!((p.next(), p.next(), p.next()), (Some(d), Some("METADATA"), None) if d.ends_with(".dist-info"))
                })
                .min_by_key(|n| n.len())
                .ok_or_else(|| {
                    StageError::validation(format!("'{shown}' has no *.dist-info/METADATA"))
                })?;
            let mut out = Vec::new();
            zip.by_name(&name)
                .map_err(|e| corrupt(&e))?
                .read_to_end(&mut out)
                .map_err(|e| corrupt(&e))?;
            Ok(out)
        }
        DistKind::Sdist => {
            let gz = flate2::read::GzDecoder::new(BufReader::new(file));
            let mut archive = tar::Archive::new(gz);
            for entry in archive.entries().map_err(|e| corrupt(&e))? {
                let mut entry = entry.map_err(|e| corrupt(&e))?;
                let p = entry.path().map_err(|e| corrupt(&e))?.into_owned();
                let comps: Vec<_> = p.components().collect();
                if comps.len() == 2 && comps[1].as_os_str() == "PKG-INFO" {
                    let mut out = Vec::new();
                    entry.read_to_end(&mut out).map_err(|e| corrupt(&e))?;
                    return Ok(out);
                }
            }
            Err(StageError::validation(format!(
                "'{shown}' has no PKG-INFO at its top level"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wheel_tags_and_kinds() {
        assert_eq!(wheel_python_tag("a-1.0-py3-none-any.whl"), Some("py3"));
        assert_eq!(
            wheel_python_tag("a-1.0-1build-cp312-cp312-linux_x86_64.whl"),
            Some("cp312")
        );
        assert_eq!(wheel_python_tag("bad.whl"), None);
        assert_eq!(DistKind::from_filename("a-1.tar.gz"), Some(DistKind::Sdist));
        assert_eq!(DistKind::from_filename("a-1.zip"), None);
        assert_eq!(DistKind::Wheel.filetype(), "bdist_wheel");
    }

    #[test]
    fn digests_of_known_input() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x");
        std::fs::write(&p, b"abc").unwrap();
        let d = digest_file(&p).unwrap();
        assert_eq!(
            d.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        // hashlib.blake2b(b"abc", digest_size=32).hexdigest()
        assert_eq!(
            d.blake2_256,
            "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319"
        );
        assert_eq!(d.size, 3);
    }
}
