//! The host's own file access: capability handles that never follow a symbolic link.
//!
//! Everything a stage can write is hostile to the host: a stage with a write grant can leave
//! a relative symlink that leads out of its folder (the sandbox refuses to follow it, but a
//! host that re-joins paths would). So the host opens the project root, the state folder and
//! the compile cache once, as [`cap_std::fs::Dir`] handles (the Bytecode Alliance library
//! wasmtime-wasi itself builds on), and reaches everything inside them one path component at
//! a time with `O_NOFOLLOW` (`open_dir_nofollow`, [`FollowSymlinks::No`]). A link anywhere on
//! the way is an error that names the path; nothing is read, written or deleted through it.
//!
//! Paths given to these functions are relative, with `/` separators; `.` and empty
//! components are skipped, `..` and absolute paths are refused.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context as _, Result, anyhow, bail};
use cap_fs_ext::{DirExt, FollowSymlinks, OpenOptionsFollowExt};
use cap_std::fs::{Dir, File, OpenOptions};
use sha2::{Digest, Sha256};

/// Opens `path` (a folder the user named: the project, `--state`, `--cache-dir`) as the
/// root handle every later access goes through. The last component must not be a symlink.
/// Errors name the folder.
pub fn open_root(path: &Path) -> Result<Dir> {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| anyhow!("{} is not a folder name", path.display()))?;
    let dir = Dir::open_ambient_dir(parent, cap_std::ambient_authority())
        .with_context(|| format!("cannot open {}", parent.display()))?;
    dir.open_dir_nofollow(name).map_err(|e| {
        anyhow!(
            "cannot open {} without following a link: {}",
            path.display(),
            link_hint(&e)
        )
    })
}

/// Creates `path` and its parents if missing (by path: the user named it), then opens it as
/// [`open_root`] does.
pub fn create_root(path: &Path) -> Result<Dir> {
    std::fs::create_dir_all(path).with_context(|| format!("cannot create {}", path.display()))?;
    open_root(path)
}

fn link_hint(e: &io::Error) -> String {
    // ELOOP / ENOTDIR from O_NOFOLLOW|O_DIRECTORY on a symlink.
    match e.raw_os_error() {
        Some(40) | Some(20) => format!("{e} (a symbolic link or not a folder)"),
        _ => e.to_string(),
    }
}

/// The components of relative path `rel`. Errors: `..`, an absolute path, a NUL byte.
pub fn components(rel: &str) -> Result<Vec<&str>> {
    if rel.starts_with('/') || rel.contains('\0') || rel.contains('\\') {
        bail!("\"{rel}\" is not a relative path with '/' separators");
    }
    let mut out = Vec::new();
    for c in rel.split('/') {
        match c {
            "" | "." => {}
            ".." => bail!("\"{rel}\" leads out with '..'"),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// Opens folder `rel` beneath `root`, refusing a symlink at any component. `.` is `root`
/// itself. Errors name `rel` and say whether a link was met.
pub fn open_dir(root: &Dir, rel: &str) -> Result<Dir> {
    let mut dir = root.try_clone()?;
    for c in components(rel)? {
        dir = step(&dir, c, rel)?;
    }
    Ok(dir)
}

/// Opens folder `c` (one component) in `dir`, refusing a link; errors name `rel`.
fn step(dir: &Dir, c: &str, rel: &str) -> Result<Dir> {
    dir.open_dir_nofollow(c).map_err(|e| {
        anyhow!(
            "\"{rel}\": cannot open \"{c}\" without following a link: {}",
            link_hint(&e)
        )
    })
}

/// Opens folder `rel` beneath `root` as [`open_dir`] does, creating missing components.
pub fn create_dir(root: &Dir, rel: &str) -> Result<Dir> {
    let mut dir = root.try_clone()?;
    for c in components(rel)? {
        match dir.create_dir(c) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(anyhow!("\"{rel}\": cannot create \"{c}\": {e}")),
        }
        dir = step(&dir, c, rel)?;
    }
    Ok(dir)
}

/// Splits `rel` into its parent folder's path and its file name. Errors: no file name.
fn split(rel: &str) -> Result<(String, String)> {
    let parts = components(rel)?;
    let (name, parent) = parts
        .split_last()
        .ok_or_else(|| anyhow!("\"{rel}\" names no file"))?;
    Ok((parent.join("/"), name.to_string()))
}

/// Opens regular file `rel` beneath `root` for reading, following no link. Errors: missing,
/// a link, not a regular file.
pub fn open_file(root: &Dir, rel: &str) -> Result<File> {
    let (parent, name) = split(rel)?;
    let dir = open_dir(root, &parent)?;
    let mut o = OpenOptions::new();
    o.read(true).follow(FollowSymlinks::No);
    let f = dir
        .open_with(&name, &o)
        .map_err(|e| anyhow!("\"{rel}\": {}", link_hint(&e)))?;
    if !f.metadata()?.is_file() {
        bail!("\"{rel}\" is not a regular file");
    }
    Ok(f)
}

/// Creates (or replaces) regular file `rel` beneath `root`, creating its folders: an entry
/// already there (a file, or a link someone planted) is removed first, never written
/// through.
pub fn create_file(root: &Dir, rel: &str) -> Result<File> {
    let (parent, name) = split(rel)?;
    let dir = create_dir(root, &parent)?;
    if let Ok(m) = dir.symlink_metadata(&name) {
        if m.is_dir() {
            bail!("\"{rel}\" is a folder");
        }
        dir.remove_file(&name)
            .with_context(|| format!("cannot replace \"{rel}\""))?;
    }
    let mut o = OpenOptions::new();
    o.write(true).create_new(true).follow(FollowSymlinks::No);
    dir.open_with(&name, &o)
        .with_context(|| format!("cannot create \"{rel}\""))
}

/// Writes `bytes` as file `rel` beneath `root` (see [`create_file`]).
pub fn write_file(root: &Dir, rel: &str, bytes: &[u8]) -> Result<()> {
    let mut f = create_file(root, rel)?;
    f.write_all(bytes)
        .with_context(|| format!("cannot write \"{rel}\""))
}

/// Reads regular file `rel` beneath `root` whole, refusing one over `max` bytes before
/// reading it (see [`open_file`]).
pub fn read_file(root: &Dir, rel: &str, max: u64) -> Result<Vec<u8>> {
    let f = open_file(root, rel)?;
    let size = f.metadata()?.len();
    if size > max {
        bail!("\"{rel}\" is {size} bytes, over the {max} bytes this file may have");
    }
    let mut out = Vec::with_capacity(size as usize);
    f.take(max + 1).read_to_end(&mut out)?;
    if out.len() as u64 > max {
        bail!("\"{rel}\" grew over {max} bytes while it was read");
    }
    Ok(out)
}

/// Why a streamed digest stopped.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// The file is larger than allowed (checked from its metadata before reading, and
    /// again while reading).
    #[error("is {size} bytes, over the limit of {max} bytes")]
    TooLarge {
        /// Its size in bytes (at least).
        size: u64,
        /// The limit in bytes.
        max: u64,
    },
    /// The deadline passed while the host read it.
    #[error("was still being read when the stage's time limit ran out")]
    Deadline,
    /// Reading or writing failed.
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// Streams `src` (at most `max` bytes, before `deadline`) into `sink` (when given) and
/// returns its sha256 (lowercase hex) and size. Memory use is one 64 KiB buffer whatever
/// the file's size; a sparse or growing file is refused by size, not read whole.
pub fn hash_stream(
    mut src: File,
    max: u64,
    deadline: Option<Instant>,
    mut sink: Option<&mut File>,
) -> Result<(String, u64), StreamError> {
    let size = src.metadata()?.len();
    if size > max {
        return Err(StreamError::TooLarge { size, max });
    }
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(StreamError::Deadline);
        }
        let n = src.read(&mut buf)?;
        if n == 0 {
            break;
        }
        total += n as u64;
        if total > max {
            return Err(StreamError::TooLarge { size: total, max });
        }
        h.update(&buf[..n]);
        if let Some(s) = sink.as_deref_mut() {
            s.write_all(&buf[..n])?;
        }
    }
    Ok((hex::encode(h.finalize()), total))
}

/// Every regular file beneath `root` (relative paths with `/`, sorted), walking folders
/// without following links. Errors: a symlink or other special entry anywhere (named), more
/// than `max_entries` entries.
pub fn walk_files(root: &Dir, max_entries: usize) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut todo: Vec<(Dir, String)> = vec![(root.try_clone()?, String::new())];
    let mut seen = 0usize;
    while let Some((dir, prefix)) = todo.pop() {
        for e in dir.entries()? {
            let e = e?;
            seen += 1;
            if seen > max_entries {
                bail!("more than {max_entries} entries");
            }
            let name = e.file_name().to_string_lossy().into_owned();
            let rel = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}/{name}")
            };
            let t = e.file_type()?;
            if t.is_dir() {
                let sub = dir
                    .open_dir_nofollow(&name)
                    .map_err(|err| anyhow!("\"{rel}\": {}", link_hint(&err)))?;
                todo.push((sub, rel));
            } else if t.is_file() {
                out.push(rel);
            } else {
                bail!("\"{rel}\" is a symbolic link or special file");
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Removes file `rel` beneath `root` (a link is removed as a link, never followed).
pub fn remove_file(root: &Dir, rel: &str) -> Result<()> {
    let (parent, name) = split(rel)?;
    let dir = open_dir(root, &parent)?;
    dir.remove_file(&name)
        .with_context(|| format!("cannot remove \"{rel}\""))
}

/// A host path that names the open folder `dir` itself, for APIs that take a path (e.g.
/// `WasiCtxBuilder::preopened_dir`): on Linux `/proc/self/fd/N`, which reopens exactly
/// this folder whatever happens to the path it was reached by. Elsewhere `fallback`, the
/// path it was opened by (checked link-free just before).
pub fn fd_path(dir: &Dir, fallback: &Path) -> PathBuf {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::{AsFd, AsRawFd};
        let p = PathBuf::from(format!("/proc/self/fd/{}", dir.as_fd().as_raw_fd()));
        if p.exists() {
            return p;
        }
    }
    let _ = dir;
    fallback.to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_never_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let root_path = tmp.path().join("p");
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(root_path.join("w")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("f"), "outside").unwrap();
        std::os::unix::fs::symlink("../../outside", root_path.join("w/out")).unwrap();
        std::os::unix::fs::symlink("../../outside/f", root_path.join("w/f")).unwrap();
        let root = open_root(&root_path).unwrap();
        assert!(open_dir(&root, "w/out").is_err());
        assert!(create_dir(&root, "w/out/x").is_err());
        assert!(open_file(&root, "w/f").is_err());
        assert!(open_file(&root, "w/out/f").is_err());
        assert!(walk_files(&root, 100).is_err());
        // Replacing a planted link replaces the link, not its target.
        write_file(&root, "w/f", b"mine").unwrap();
        assert_eq!(
            std::fs::read_to_string(outside.join("f")).unwrap(),
            "outside"
        );
        assert!(open_dir(&root, "../outside").is_err());
        // The root itself may not be a link.
        std::os::unix::fs::symlink(&outside, tmp.path().join("link")).unwrap();
        assert!(open_root(&tmp.path().join("link")).is_err());
    }

    #[test]
    fn streams_are_bounded_by_size_before_reading() {
        let tmp = tempfile::tempdir().unwrap();
        let f = std::fs::File::create(tmp.path().join("sparse")).unwrap();
        f.set_len(8 << 30).unwrap();
        let root = open_root(tmp.path()).unwrap();
        let e = hash_stream(open_file(&root, "sparse").unwrap(), 1 << 20, None, None).unwrap_err();
        assert!(matches!(e, StreamError::TooLarge { .. }), "{e}");
        std::fs::write(tmp.path().join("small"), b"abc").unwrap();
        let (h, n) = hash_stream(open_file(&root, "small").unwrap(), 1 << 20, None, None).unwrap();
        assert_eq!(n, 3);
        assert_eq!(
            h,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
