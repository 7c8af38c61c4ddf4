//! `airlock lock-build`: resolves a project's build requirements (`[build-system] requires`,
//! PEP 518) into pure-Python wheels with their sha256 and writes them as a PEP 751 lock
//! (`pylock.build.toml`), which the fetch stage downloads from and the sandboxed build
//! (the pep517 stage) runs with, with no network. The resolution is
//! [`airlock_pypkg::pylock::resolve`]; this module is its index client: the simple API
//! (PEP 691 JSON, else PEP 503 HTML) over reqwest, 30 s per request, a wheel's core metadata
//! read from the wheel itself after its sha256 is checked against the index's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use airlock_pypkg::pylock::{self, Lock, Source};
use airlock_pypkg::simple::{self, ListedFile};

/// PyPI's simple index, the default `--index`.
pub const PYPI: &str = "https://pypi.org/simple/";

/// What `airlock lock-build` was asked.
#[derive(Debug, Clone)]
pub struct Options {
    /// The project folder (its pyproject.toml is read).
    pub project: PathBuf,
    /// The simple index, e.g. [`PYPI`].
    pub index: String,
    /// Where to write the lock [default: PROJECT/pylock.build.toml].
    pub out: Option<PathBuf>,
    /// Requirements to lock instead of the project's `build-system.requires`.
    pub requirements: Vec<String>,
}

/// Largest simple page read.
const MAX_PAGE: u64 = 32 << 20;
/// Largest wheel read while resolving.
const MAX_WHEEL: u64 = 256 << 20;

/// The index, over reqwest, driven by a current-thread runtime of its own (the resolver is
/// synchronous). Wheels read for their metadata are kept by URL.
struct Index {
    rt: tokio::runtime::Runtime,
    client: reqwest::Client,
    base: String,
    wheels: BTreeMap<String, Vec<u8>>,
}

impl Index {
    fn get(&self, url: &str, accept: &str, cap: u64) -> Result<(String, Vec<u8>), String> {
        let (status, ctype, body) = self
            .rt
            .block_on(crate::verify::get(&self.client, url, accept, cap))
            .map_err(|e| e.to_string())?;
        if status != 200 {
            return Err(format!("GET {url}: the index answered {status}"));
        }
        Ok((ctype, body))
    }
}

impl Source for Index {
    fn files(&mut self, project: &str) -> Result<Vec<ListedFile>, String> {
        let url = simple::project_url(&self.base, project);
        tracing::info!("reading {url}");
        let (ctype, body) = self.get(&url, simple::ACCEPT, MAX_PAGE)?;
        let page = simple::parse_project_page(&ctype, &body).map_err(|e| format!("{url}: {e}"))?;
        let base = reqwest::Url::parse(&url).map_err(|e| format!("{url}: {e}"))?;
        page.files
            .into_iter()
            .map(|mut f| {
                f.url = base
                    .join(&f.url)
                    .map_err(|e| format!("{url}: the link {:?}: {e}", f.url))?
                    .to_string();
                // The digest is the lock's, not the URL's: keep the URL without a fragment.
                if let Some(i) = f.url.find('#') {
                    f.url.truncate(i);
                }
                Ok(f)
            })
            .collect()
    }

    fn metadata(&mut self, file: &ListedFile) -> Result<String, String> {
        if !self.wheels.contains_key(&file.url) {
            tracing::info!("downloading {}", file.filename);
            let (_, bytes) = self.get(&file.url, "*/*", MAX_WHEEL)?;
            let sha = airlock_pypkg::sha256_hex(&bytes);
            if file.sha256.as_deref() != Some(sha.as_str()) {
                return Err(format!(
                    "{}: its sha256 is {sha}, but the index lists {}",
                    file.filename,
                    file.sha256.as_deref().unwrap_or("none")
                ));
            }
            airlock_pypkg::validate::check_pure_wheel(&bytes)
                .map_err(|e| format!("{} is not pure Python: {e}", file.filename))?;
            self.wheels.insert(file.url.clone(), bytes);
        }
        airlock_pypkg::validate::wheel_metadata(&self.wheels[&file.url])
            .map_err(|e| format!("{}: {e}", file.filename))
    }
}

/// Resolves and writes the lock; returns its path and the lock.
///
/// Errors (a sentence naming what to fix): the project's pyproject.toml cannot be read, the
/// resolution fails ([`pylock::resolve`]), the index cannot be reached, the lock cannot be
/// written.
pub fn run(opts: &Options) -> Result<(PathBuf, Lock), String> {
    let requirements = if opts.requirements.is_empty() {
        pylock::build_requirements(&opts.project)?
    } else {
        opts.requirements.clone()
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .user_agent(concat!("airlock/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| e.to_string())?;
    let mut index = Index {
        rt,
        client,
        base: opts.index.clone(),
        wheels: BTreeMap::new(),
    };
    let mut lock = pylock::resolve(&requirements, &mut index, &opts.index)?;
    for p in &mut lock.packages {
        if let Some(w) = p.wheels.first_mut() {
            w.size = index.wheels.get(&w.url).map(|b| b.len() as u64);
        }
    }
    let out = opts
        .out
        .clone()
        .unwrap_or_else(|| opts.project.join("pylock.build.toml"));
    let text = lock.to_toml();
    // What is written is what the fetch stage will accept.
    Lock::parse(&out.display().to_string(), &text)?;
    write_atomically(&out, text.as_bytes())?;
    Ok((out, lock))
}

/// Writes `bytes` beside `path` and renames it into place, so a reader never sees half a
/// lock.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
}
