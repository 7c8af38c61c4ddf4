//! Resolving build requirements into a [`Lock`] (feature `resolve`: the host's `airlock
//! lock-build`; the stage components do not carry a resolver).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::str::FromStr;

use pep440_rs::Version;
use pep508_rs::{
    ExtraName, MarkerEnvironment, MarkerEnvironmentBuilder, Requirement, VersionOrUrl,
};

use super::{Lock, Package, SANDBOX_ENVIRONMENT, Wheel};
use crate::filename::{DistFilename, is_pure_wheel};
use crate::project::normalize_name;
use crate::simple::ListedFile;

/// The interpreter the sandboxed build runs: CPython 3.14 compiled to WASI (componentize-py
/// 0.25.1), as [PEP 508] environment markers see it (`sys.platform` is `wasi`,
/// `platform.system()` `WASI`, `platform.machine()` `wasm32`).
///
/// [PEP 508]: https://peps.python.org/pep-0508/#environment-markers
pub const SANDBOX_PYTHON: MarkerEnvironmentBuilder<'static> = MarkerEnvironmentBuilder {
    implementation_name: "cpython",
    implementation_version: "3.14.0",
    os_name: "posix",
    platform_machine: "wasm32",
    platform_python_implementation: "CPython",
    platform_release: "",
    platform_system: "WASI",
    platform_version: "",
    python_full_version: "3.14.0",
    python_version: "3.14",
    sys_platform: "wasi",
};

/// The index a resolution reads, one project page or wheel's metadata at a time.
pub trait Source {
    /// The files the index lists for `project` (PEP 503 / 691), with absolute URLs.
    ///
    /// Errors: the index cannot be read (a sentence saying why).
    fn files(&mut self, project: &str) -> Result<Vec<ListedFile>, String>;
    /// The core metadata (the wheel's `.dist-info/METADATA` text) of `file`, one of what
    /// [`Source::files`] listed.
    ///
    /// Errors: it cannot be downloaded, does not match its sha256, or holds no METADATA.
    fn metadata(&mut self, file: &ListedFile) -> Result<String, String>;
}

/// One chosen project during [`resolve`].
struct Chosen {
    version: Version,
    file: ListedFile,
    /// Its `Requires-Dist` values.
    requires: Vec<String>,
    /// The extras requested of it so far.
    extras: BTreeSet<ExtraName>,
    /// Who asked for it first, for errors.
    by: String,
}

/// Resolves `requirements` (PEP 508 strings, e.g. `build-system.requires`) and their
/// dependencies against `source` for [`SANDBOX_PYTHON`], into a lock of pure-Python wheels
/// from `index` (recorded as each package's `index`).
///
/// For each project it takes the newest version (pre-releases only when the requirement
/// names one) that has a pure wheel ([`is_pure_wheel`]), satisfies every requirement met so
/// far and whose `Requires-Python` admits 3.14. Requirements whose marker is false in the
/// sandbox are skipped; extras pull in their own requirements.
///
/// Errors (a sentence naming the project and who required it): a requirement that does not
/// parse or is a URL; no pure wheel satisfying it (the project only has compiled wheels or
/// an sdist); a later requirement the version already chosen does not satisfy; the source's
/// errors.
pub fn resolve(
    requirements: &[String],
    source: &mut dyn Source,
    index: &str,
) -> Result<Lock, String> {
    let env = MarkerEnvironment::try_from(SANDBOX_PYTHON).expect("the sandbox's markers parse");
    let python = Version::from_str("3.14.0").expect("a version");
    let mut queue: VecDeque<(Requirement, String)> = VecDeque::new();
    for r in requirements {
        let req = Requirement::from_str(r).map_err(|e| {
            format!("build-system.requires: {r:?} is not a PEP 508 requirement: {e}")
        })?;
        queue.push_back((req, "build-system.requires".into()));
    }
    let mut chosen: BTreeMap<String, Chosen> = BTreeMap::new();
    while let Some((req, by)) = queue.pop_front() {
        let name = normalize_name(req.name.as_ref());
        let specifiers = match &req.version_or_url {
            None => None,
            Some(VersionOrUrl::VersionSpecifier(s)) => Some(s.clone()),
            Some(VersionOrUrl::Url(u)) => {
                return Err(format!(
                    "{req} (required by {by}) names a URL ({u}); the lock takes requirements from an index only"
                ));
            }
        };
        if let Some(c) = chosen.get_mut(&name) {
            if let Some(s) = &specifiers
                && !s.contains(&c.version)
            {
                return Err(format!(
                    "{name} {} was chosen (required by {}), but {by} requires {req}: pin {name} in build-system.requires to a version both accept",
                    c.version, c.by
                ));
            }
            let new: Vec<ExtraName> = req
                .extras
                .iter()
                .filter(|e| !c.extras.contains(*e))
                .cloned()
                .collect();
            if !new.is_empty() {
                c.extras.extend(new.iter().cloned());
                let from = format!("{name}[{}]", join(&new));
                for dep in &c.requires {
                    let d = parse_dependency(dep, &name)?;
                    if !d.marker.evaluate(&env, &[]) && d.marker.evaluate(&env, &new) {
                        queue.push_back((d, from.clone()));
                    }
                }
            }
            continue;
        }
        let allow_pre = specifiers
            .as_ref()
            .is_some_and(|s| s.iter().any(|v| v.any_prerelease()));
        let mut candidates: Vec<(Version, ListedFile)> = source
            .files(&name)?
            .into_iter()
            .filter(|f| is_pure_wheel(&f.filename) && f.sha256.is_some())
            .filter_map(|f| {
                let parsed = DistFilename::parse(&f.filename)?;
                let v = Version::from_str(parsed.version).ok()?;
                Some((v, f))
            })
            .filter(|(v, _)| allow_pre || !v.any_prerelease())
            .filter(|(v, _)| specifiers.as_ref().is_none_or(|s| s.contains(v)))
            .collect();
        candidates.sort_by(|a, b| b.0.cmp(&a.0));
        let mut picked = None;
        for (v, f) in candidates {
            let metadata = source.metadata(&f)?;
            let meta = crate::metadata::CoreMetadata::read(&metadata);
            let admits = meta.get("Requires-Python").is_none_or(|rp| {
                pep440_rs::VersionSpecifiers::from_str(rp.trim())
                    .map_or(true, |s| s.contains(&python))
            });
            if admits {
                let requires: Vec<String> = meta
                    .get_all("Requires-Dist")
                    .map(|s| s.trim().to_string())
                    .collect();
                picked = Some((v, f, requires));
                break;
            }
        }
        let Some((version, file, requires)) = picked else {
            return Err(format!(
                "no pure-Python wheel (`*-py3-none-any.whl`) of {name} on {index} satisfies {req} (required by {by}) for CPython 3.14: \
                 the sandboxed build runs pure-Python backends only; a project with compiled code keeps the prebuilt mode"
            ));
        };
        let extras: BTreeSet<ExtraName> = req.extras.iter().cloned().collect();
        let extra_list: Vec<ExtraName> = extras.iter().cloned().collect();
        let from = format!("{name} {version}");
        for dep in &requires {
            let d = parse_dependency(dep, &name)?;
            if d.marker.evaluate(&env, &extra_list) {
                queue.push_back((d, from.clone()));
            }
        }
        chosen.insert(
            name,
            Chosen {
                version,
                file,
                requires,
                extras,
                by,
            },
        );
    }
    let packages = chosen
        .into_iter()
        .map(|(name, c)| Package {
            name,
            version: c.version.to_string(),
            index: Some(index.to_string()),
            wheels: vec![Wheel {
                name: c.file.filename.clone(),
                url: c.file.url.clone(),
                size: None,
                hashes: BTreeMap::from([(
                    "sha256".to_string(),
                    c.file.sha256.clone().unwrap_or_default(),
                )]),
            }],
        })
        .collect();
    Ok(Lock {
        lock_version: "1.0".into(),
        environments: vec![SANDBOX_ENVIRONMENT.into()],
        created_by: "airlock".into(),
        packages,
    })
}

fn parse_dependency(dep: &str, of: &str) -> Result<Requirement, String> {
    Requirement::from_str(dep)
        .map_err(|e| format!("{of}: Requires-Dist {dep:?} does not parse: {e}"))
}

fn join(extras: &[ExtraName]) -> String {
    extras
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join(",")
}
