"""The pep517 stage: a project's own PEP 517 build backend, run in CPython compiled to WASI.

Built into a component by scripts/build-pep517 (componentize-py, pinned) for the
`airlock:stage/stage` WIT world (crates/stage/wit/stage.wit). The host gives it the project
read-only, a writable scratch folder and the output folder; no network, no environment, no
secrets, no subprocesses and no threads. See docs/build.md.

Config (all optional; paths are project-relative):
- `deps` (default ".airlock/build-deps"): a folder of pure-Python wheels (`*-none-any.whl`):
  the backend and its requirements, each put on `sys.path` as a zip. Anything else in it is
  refused.
- `scratch` (default ".airlock/pep517"): writable; the project is copied there (backends
  write into the source tree) and temporary files go there. It is emptied first.
- `out` (default "dist"): where the sdist and the wheel are written (a write grant).
- `sdist`, `wheel` (default true): what to build.
- `source_date_epoch` (integer seconds, default 1580601600): set as SOURCE_DATE_EPOCH.
- `backend`: the `build-system.build-backend` to call, default the project's own
  (`setuptools.build_meta:__legacy__` when it names none, as PEP 517 says).
- `exclude` (list of project-relative folders): more folders left out of the copy (the copy
  always leaves out `.airlock`, `.git`, `pylock.build.toml` (the lock of the build
  requirements, airlock's input, not the project's source), `deps`, `scratch` and `out`).
- `version` (string): set as `SETUPTOOLS_SCM_PRETEND_VERSION`, the version setuptools_scm
  and hatch-vcs report (they read it from git, and there is no git in the sandbox; from an
  sdist they read PKG-INFO without it).
- `git_files` (list of project-relative paths): the files of the git checkout, as `git
  archive HEAD` lists them (the host runs git; the sandbox has none). setuptools_scm's git
  file finder is given this list instead of running git, so the sdist holds what it would
  natively.
- `why` (string): why this build runs in the sandbox (the host's build-mode choice), logged
  and echoed in the output.

Output: `{ "mode": "build", "builder": "pep517", "why": "...", "backend": "<entry point>",
"python": "3.14.x", "name": "<project>", "version": "<version>", "artifacts": [ { "kind":
"sdist"|"wheel", "path", "filename", "sha256", "size" } ] }`, sdist first (`name` and
`version` from the first file's name); the artifacts are also the WIT response's.

Errors: every Python exception (the backend's, the project's build code's) is caught and
returned as a `build` stage error with the end of its traceback; a missing grant shows up as
the `OSError` the sandbox raised.
"""

# componentize-py keeps only the modules imported while it builds the component: import the
# whole standard library now (minus what cannot work or must not run), so that whatever a
# backend imports at run time is there.
import importlib as _importlib
import pkgutil as _pkgutil
import sys as _sys

_SKIP = {
    "antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo", "__hello__",
    "__phello__", "test", "ensurepip", "lib2to3", "pydoc_data", "venv",
}
for _name in sorted(_sys.stdlib_module_names):
    if _name in _SKIP:
        continue
    try:
        _module = _importlib.import_module(_name)
    except BaseException:
        continue
    if hasattr(_module, "__path__"):
        for _info in _pkgutil.walk_packages(_module.__path__, _name + ".", onerror=lambda _n: None):
            if ".test" in _info.name or "__main__" in _info.name:
                continue
            try:
                _importlib.import_module(_info.name)
            except BaseException:
                pass

import hashlib
import json
import os
import platform
import shutil
import stat
import tempfile
import traceback
import tomllib

import wit_world
from componentize_py_types import Err
from wit_world.imports import host, types

DEFAULT_EPOCH = 1580601600
ALWAYS_EXCLUDED = (".airlock", ".git", "pylock.build.toml")


def _log(message):
    host.log(host.Level.INFO, message)


def _fail(category, message, hint=None):
    return Err(types.StageError(category=category, message=message, retryable=False, hint=hint))


def _rel(path):
    """A project-relative config path as the guest path (the project root is `/`)."""
    path = str(path).strip().strip("/")
    if not path or path.startswith("..") or "/../" in f"/{path}/":
        raise _fail(types.ErrorCategory.CONFIGURATION, f"config path {path!r} is not a folder inside the project")
    return "/" + path


# WASI filesystems carry no permission bits (CPython reports 0, and `chmod` does nothing).
# The stage keeps them itself and lays them over what `os.stat` and `os.lstat` return, so a
# backend packages an executable script as executable: for the project's files, by the path
# of their copy, the modes the host reports (`file-mode`); for files the backend made, the
# mode it last set with `os.chmod`, else the host's mode of the file it wrote, else the
# default a native build would see (644, 755 for a folder).
_MODES = {}


def _key(path):
    return os.path.normpath(os.path.abspath(os.fsdecode(path)))


def _mode_of(path):
    key = _key(path)
    mode = _MODES.get(key)
    return mode if mode is not None else host.file_mode(key)


def _copy_project(root, dest, excluded):
    """Copies the project at `root` into `dest`, leaving out the `excluded` guest paths and
    links, and records each copied file's and folder's host mode in `_MODES`."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if os.path.join(dirpath, d) not in excluded)
        target = os.path.normpath(os.path.join(dest, os.path.relpath(dirpath, root)))
        os.makedirs(target, exist_ok=True)
        mode = host.file_mode(dirpath)
        if mode is not None:
            _MODES[target] = mode
        for f in sorted(filenames):
            src = os.path.join(dirpath, f)
            if os.path.islink(src):
                continue
            shutil.copyfile(src, os.path.join(target, f))
            mode = host.file_mode(src)
            if mode is not None:
                _MODES[os.path.join(target, f)] = mode


# The fields of `os.stat_result` beyond its 10 tuple items (float and nanosecond times, ...).
_STAT_EXTRA = (
    "st_atime", "st_mtime", "st_ctime", "st_atime_ns", "st_mtime_ns", "st_ctime_ns",
    "st_blksize", "st_blocks", "st_rdev",
)


def _with_host_mode(stat_fn):
    def patched(path, *args, **kwargs):
        result = stat_fn(path, *args, **kwargs)
        if isinstance(path, int) or kwargs.get("dir_fd") is not None:
            return result
        mode = _mode_of(path)
        if mode is None:
            if stat.S_IMODE(result.st_mode):
                return result
            # What a native build sees for a file it made: 0o666 or 0o777 less umask 022.
            mode = 0o755 if stat.S_ISDIR(result.st_mode) else 0o644
        fields = list(result)
        fields[0] = stat.S_IFMT(result.st_mode) | mode
        extra = {
            name: getattr(result, name)
            for name in _STAT_EXTRA
            if getattr(result, name, None) is not None
        }
        return os.stat_result(fields, extra)

    return patched


def _chmod(path, mode, *args, **kwargs):
    if isinstance(path, int):
        path = _FDS.get(path)
    # A mode of 0 comes from a WASI stat that was not laid over (`os.DirEntry.stat`, which
    # `shutil.copytree` uses): it means "unknown", and is not recorded.
    if path is not None and kwargs.get("dir_fd") is None and mode & 0o7777:
        _MODES[_key(path)] = mode & 0o7777


# The path each open file descriptor was opened with, for `os.fstat` (a wheel writer stats
# the file it has open).
_FDS = {}


def _tracked_open(open_fn):
    def patched(file, *args, **kwargs):
        f = open_fn(file, *args, **kwargs)
        if not isinstance(file, int):
            try:
                _FDS[f.fileno()] = _key(file)
            except (OSError, ValueError, AttributeError):
                pass
        return f

    return patched


def _os_open(path, *args, **kwargs):
    fd = _os_open_fn(path, *args, **kwargs)
    if kwargs.get("dir_fd") is None:
        _FDS[fd] = _key(path)
    return fd


def _fstat(fd):
    result = _fstat_fn(fd)
    path = _FDS.get(fd)
    if path is None:
        return result
    return _with_host_mode(lambda _p: result)(path)


def _by_path(copy_fn):
    """`shutil.copystat` and `copymode` take the mode from a `os.DirEntry`'s own stat when given
    one (`shutil.copytree` does), which is not laid over: give them its path instead."""

    def patched(src, dst, *args, **kwargs):
        return copy_fn(src.path if isinstance(src, os.DirEntry) else src, dst, *args, **kwargs)

    return patched


shutil.copystat = _by_path(shutil.copystat)
shutil.copymode = _by_path(shutil.copymode)
_os_open_fn, _fstat_fn = os.open, os.fstat
os.stat = _with_host_mode(os.stat)
os.lstat = _with_host_mode(os.lstat)
os.chmod = _chmod
os.open = _os_open
os.fstat = _fstat
import builtins as _builtins
import io as _io

_builtins.open = _io.open = _tracked_open(_io.open)


def _backend(source, name):
    """Imports the backend `name` (`module:object`), honouring `build-system.backend-path`."""
    build_system = {}
    pyproject = os.path.join(source, "pyproject.toml")
    if os.path.exists(pyproject):  # a setup.py-only project has none (PEP 517: setuptools)
        with open(pyproject, "rb") as f:
            build_system = tomllib.load(f).get("build-system", {})
    for p in build_system.get("backend-path", []):
        _sys.path.insert(0, os.path.join(source, p))
    name = name or build_system.get("build-backend") or "setuptools.build_meta:__legacy__"
    module, _, obj = name.partition(":")
    backend = _importlib.import_module(module)
    for part in filter(None, obj.split(".")):
        backend = getattr(backend, part)
    return name, backend


def _serve_git_files(source, files):
    """Makes setuptools_scm's git file finder answer from `files` (project-relative paths,
    what `git archive HEAD` holds), as if `source` were the checkout's top level: it would run
    `git rev-parse` and `git archive`, and there are no subprocesses here."""
    try:
        from setuptools_scm._file_finders import git as scm_git
    except Exception:
        return  # the backend does not use setuptools_scm
    top = os.path.realpath(source)
    paths = {os.path.normcase(os.path.join(top, f)) for f in files}
    dirs = {top}
    for p in paths:
        d = os.path.dirname(p)
        while d.startswith(top + os.sep) and d not in dirs:
            dirs.add(d)
            d = os.path.dirname(d)
    scm_git._git_toplevel = lambda path: top
    scm_git._git_ls_files_and_dirs = lambda toplevel: (set(paths), set(dirs))


def _build(config):
    deps = _rel(config.get("deps", ".airlock/build-deps"))
    scratch = _rel(config.get("scratch", ".airlock/pep517"))
    out = _rel(config.get("out", "dist"))
    epoch = int(config.get("source_date_epoch", DEFAULT_EPOCH))
    excluded = {"/" + p for p in ALWAYS_EXCLUDED} | {deps, scratch, out}
    excluded |= {_rel(p) for p in config.get("exclude", [])}

    wheels = sorted(os.listdir(deps))
    for w in wheels:
        if not w.endswith("-none-any.whl"):
            raise _fail(
                types.ErrorCategory.VALIDATION,
                f"{deps.lstrip('/')}/{w} is not a pure-Python wheel (`*-none-any.whl`)",
                "the sandboxed build runs pure-Python backends only; remove it from the build dependencies",
            )
        _sys.path.insert(0, os.path.join(deps, w))

    for entry in os.listdir(scratch):
        p = os.path.join(scratch, entry)
        shutil.rmtree(p) if os.path.isdir(p) and not os.path.islink(p) else os.remove(p)
    source = os.path.join(scratch, "src")
    tmp = os.path.join(scratch, "tmp")
    os.makedirs(tmp)
    _copy_project("/", source, excluded)

    os.environ.clear()
    os.environ.update({"SOURCE_DATE_EPOCH": str(epoch), "TMPDIR": tmp, "HOME": tmp})
    if config.get("version"):
        os.environ["SETUPTOOLS_SCM_PRETEND_VERSION"] = str(config["version"])
    tempfile.tempdir = tmp
    _sys.argv = ["pep517"]
    os.chdir(source)
    if config.get("git_files") is not None:
        _serve_git_files(source, config["git_files"])
    name, backend = _backend(source, config.get("backend"))
    why = str(config.get("why") or "mode pep517")
    _log(f"{why}; building with {name} (SOURCE_DATE_EPOCH={epoch}, CPython {platform.python_version()} for WASI)")

    built = []
    if config.get("sdist", True):
        built.append(("sdist", backend.build_sdist(out)))
    if config.get("wheel", True):
        built.append(("wheel", backend.build_wheel(out)))
    artifacts = []
    for kind, filename in built:
        with open(os.path.join(out, filename), "rb") as f:
            data = f.read()
        path = f"{out.lstrip('/')}/{filename}"
        artifacts.append({
            "kind": kind, "path": path, "filename": filename,
            "sha256": hashlib.sha256(data).hexdigest(), "size": len(data),
        })
        _log(f"wrote {path}")
    first = artifacts[0]["filename"] if artifacts else ""
    if first.endswith(".tar.gz"):
        project, _, version = first[: -len(".tar.gz")].rpartition("-")
    else:
        project, version = (first.split("-") + ["", ""])[:2]
    return {
        "mode": "build", "builder": "pep517", "why": why, "backend": name,
        "python": platform.python_version(), "name": project, "version": version,
        "artifacts": artifacts,
    }


class WitWorld(wit_world.WitWorld):
    def run(self, request):
        try:
            config = json.loads(request.config or "{}") or {}
            output = _build(config)
        except Err:
            raise
        except BaseException as e:
            tb = traceback.format_exc()
            raise _fail(
                types.ErrorCategory.BUILD,
                f"the build backend failed: {type(e).__name__}: {e}\n{tb[-3000:]}",
                "the project's build code ran in the sandbox without network, environment or "
                "files outside the project; see the traceback",
            )
        return types.Response(
            output=json.dumps(output),
            artifacts=[
                types.Artifact(path=a["path"], sha256=a["sha256"], size=a["size"])
                for a in output["artifacts"]
            ],
        )
