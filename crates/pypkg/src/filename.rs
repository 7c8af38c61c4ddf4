//! Distribution file names: what a name says about its project, version and kind, as an
//! index lists them (the binary distribution format's `{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl`,
//! PEP 427; the sdist's `{name}-{version}.tar.gz`, PEP 625, and the legacy sdist
//! extensions an index may still list: `.zip`, `.tar.bz2`, `.tgz`, `.tar.xz`, `.tar`).

use crate::project::normalize_name;

/// Wheel or sdist, from the extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// `.whl`.
    Wheel,
    /// `.tar.gz` (PEP 625) or a legacy sdist extension.
    Sdist,
}

/// The legacy sdist extensions an index may list (PEP 527 stopped new uploads of the
/// others; PEP 625 allows only `.tar.gz`), longest first.
const SDIST_EXTENSIONS: [&str; 5] = [".tar.gz", ".tar.bz2", ".tar.xz", ".tgz", ".zip"];

/// A distribution file name, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistFilename<'a> {
    /// The name part as written (e.g. `My_Pkg`); see [`DistFilename::project`].
    pub name: &'a str,
    /// The version part as written (e.g. `1.0.post1`).
    pub version: &'a str,
    /// Wheel or sdist.
    pub kind: FileKind,
}

impl<'a> DistFilename<'a> {
    /// Splits `filename`; `None` when it is neither a wheel name with 5 or 6 parts nor
    /// `{name}-{version}` plus an sdist extension. An sdist's version is after the last
    /// `-` (PEP 625: the name is normalised to `_`, so it holds none).
    pub fn parse(filename: &'a str) -> Option<Self> {
        if let Some(stem) = filename.strip_suffix(".whl") {
            let parts: Vec<&str> = stem.split('-').collect();
            if !(parts.len() == 5 || parts.len() == 6) || parts.iter().any(|p| p.is_empty()) {
                return None;
            }
            return Some(DistFilename {
                name: parts[0],
                version: parts[1],
                kind: FileKind::Wheel,
            });
        }
        let stem = SDIST_EXTENSIONS
            .iter()
            .find_map(|ext| filename.strip_suffix(ext))?;
        let (name, version) = stem.rsplit_once('-')?;
        (!name.is_empty() && !version.is_empty()).then_some(DistFilename {
            name,
            version,
            kind: FileKind::Sdist,
        })
    }

    /// The PEP 503 normalised project name (`my-pkg`).
    pub fn project(&self) -> String {
        normalize_name(self.name)
    }

    /// True when this file's version is `version` by PEP 440 (`1.0` is `1.0.0` and
    /// `1.0-post1` is `1.0.post1`); versions that do not parse compare as text.
    pub fn is_version(&self, version: &str) -> bool {
        same_version(self.version, version)
    }
}

/// A wheel file name's compatibility tags (PEP 425: `{python}-{abi}-{platform}`, each
/// possibly a `.`-separated set), or `None` when `filename` is not a wheel name.
pub fn wheel_tags(filename: &str) -> Option<(&str, &str, &str)> {
    let stem = filename.strip_suffix(".whl")?;
    let parts: Vec<&str> = stem.split('-').collect();
    if !(parts.len() == 5 || parts.len() == 6) || parts.iter().any(|p| p.is_empty()) {
        return None;
    }
    let n = parts.len();
    Some((parts[n - 3], parts[n - 2], parts[n - 1]))
}

/// True when `filename` names a pure-Python wheel for Python 3 (PEP 425 tags: abi `none`,
/// platform `any`, and a python tag set holding `py3` or `py3N`, e.g. `py3-none-any`,
/// `py2.py3-none-any`): one that runs unchanged in CPython for WASI. A `cp3N` python tag is
/// refused: it marks a build for one interpreter, usually with compiled code.
pub fn is_pure_wheel(filename: &str) -> bool {
    wheel_tags(filename).is_some_and(|(python, abi, platform)| {
        abi == "none"
            && platform == "any"
            && python.split('.').any(|t| {
                t == "py3" || (t.starts_with("py3") && t[3..].chars().all(|c| c.is_ascii_digit()))
            })
    })
}

/// PEP 440 equality of two version strings; text equality when either does not parse.
pub fn same_version(a: &str, b: &str) -> bool {
    use std::str::FromStr;
    match (
        pep440_rs::Version::from_str(a),
        pep440_rs::Version::from_str(b),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_wheels_and_sdists() {
        let w = DistFilename::parse("My_Pkg-1.0-1-py3-none-any.whl").unwrap();
        assert_eq!(
            (w.name, w.version, w.kind),
            ("My_Pkg", "1.0", FileKind::Wheel)
        );
        assert_eq!(w.project(), "my-pkg");
        let s = DistFilename::parse("my_pkg-1.0.post1.tar.gz").unwrap();
        assert_eq!(
            (s.project().as_str(), s.version, s.kind),
            ("my-pkg", "1.0.post1", FileKind::Sdist)
        );
        let z = DistFilename::parse("My.Pkg-1.0.zip").unwrap();
        assert_eq!((z.project().as_str(), z.kind), ("my-pkg", FileKind::Sdist));
        assert!(z.is_version("1.0.0"));
        assert!(!z.is_version("1.0.1"));
        for bad in [
            "x.zip",
            "a-1-py3-none.whl",
            "a.whl",
            "-1.tar.gz",
            "a-.tar.gz",
            "a-1.txt",
        ] {
            assert_eq!(DistFilename::parse(bad), None, "{bad}");
        }
        assert!(same_version("1.0-post1", "1.0.post1"));
        assert!(same_version("not a version", "not a version"));
    }
}
