#!/usr/bin/env python3
"""The pep517 stage (a project's real PEP 517 backend in CPython for WASI) against native builds.

    target/venv/bin/python bench/pep517.py                        # all twelve projects, 5 runs each
    target/venv/bin/python bench/pep517.py --runs 3 --projects idna,six
    target/venv/bin/python bench/pep517.py --runs 2 --markdown /tmp/pep517-bench.md

For every project of the pep517 conformance suite (tests/pep517.rs: the sdist from PyPI, the
backend pinned as there), sdist + wheel built by four chains, round-robin with the order
rotating each round, after one untimed warm-up round:

  pep517 warm  `airlock run` of the one-stage pep517 manifest (the project read-only, `dist`
               and `.airlock/pep517` writable, the backend's wheels in `.airlock/build-deps`),
               with a reused AIRLOCK_CACHE_DIR: the compiled component is loaded from it;
  pep517 cold  the same with a fresh empty AIRLOCK_CACHE_DIR: the ~37 MB component is
               compiled in that run (not part of the warm-up round: it has nothing to warm);
  python -m build
               `python -m build --no-isolation` (dependency check on, as by default) with the
               same wheels installed (`pip install --no-deps --no-index --target`) into a folder
               put on PYTHONPATH: the same backend versions, natively;
  uv build     `uv build` (isolated build environment) with the versions of those same wheels
               as build constraints; UV_CACHE_DIR in the temp dir, filled from PyPI by the
               warm-up round; the timed runs are `--offline` (from that cache, no network).

All run with SOURCE_DATE_EPOCH=1700000000, each on a fresh copy of the unpacked sdist (the copy
is not timed). A run fails the benchmark unless it exits 0 and leaves exactly one sdist and one
wheel, named as the other chains name them (and, for airlock, the host's report says the stage
succeeded with two artifacts and the cache was hit (warm) or missed (cold)).

Prints a Markdown table (medians of wall time; ratios of medians) and the geometric mean of
pep517 warm / python -m build (the goal: within 1.5x). Measures, asserts no figure.
Network: PyPI only (pip download of missing sdists and wheels; uv's warm-up round).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EPOCH = 1700000000
BEGIN, END = "<!-- bench-pep517:begin -->", "<!-- bench-pep517:end -->"
TIMEOUT_S = 900

# The conformance suite of tests/pep517.rs: (name, version, backend requirements). The
# requirements are downloaded with their dependencies, like `build_deps` there.
HATCH_VCS = ["hatchling==1.27.0", "hatch-vcs==0.5.0", "setuptools-scm==8.3.1"]
PROJECTS = [
    ("mypylogger", "0.2.8", ["hatchling==1.27.0"]),
    ("urllib3", "2.5.0", HATCH_VCS),
    ("pyparsing", "3.2.3", ["flit_core==3.12.0"]),
    ("idna", "3.10", ["flit_core==3.12.0"]),
    ("decorator", "5.2.1", ["setuptools==80.9.0"]),
    ("cachetools", "6.1.0", ["setuptools==80.9.0", "wheel==0.45.1"]),
    ("certifi", "2025.8.3", ["setuptools==80.9.0"]),
    ("six", "1.17.0", ["setuptools==80.9.0"]),
    ("pluggy", "1.6.0", ["setuptools==80.9.0", "setuptools-scm==8.3.1"]),
    ("iniconfig", "2.1.0", HATCH_VCS),
    ("unearth", "0.17.5", ["pdm-backend==2.4.5"]),
    ("tomlkit", "0.13.3", ["poetry-core==2.1.3"]),
]
CHAINS = ["warm", "cold", "build", "uv"]
LABEL = {"warm": "pep517 warm", "cold": "pep517 cold", "build": "python -m build", "uv": "uv build"}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def die(msg: str) -> None:
    log(f"error: {msg}")
    raise SystemExit(1)


def rel(p: Path) -> str:
    try:
        return str(Path(p).resolve().relative_to(ROOT))
    except ValueError:
        return str(p)


def norm(s: str) -> str:
    return re.sub(r"[-_.]+", "_", s.lower())


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def pip(*args, cwd=None) -> None:
    cmd = [sys.executable, "-m", "pip", *map(str, args)]
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True,
                       env=dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1"))
    if r.returncode != 0:
        die(f"{' '.join(cmd)} failed:\n{r.stderr[-3000:]}")


# ---------------------------------------------------------------- inputs (cached like the tests)


def pypi_sdist(name: str, version: str) -> Path:
    """The sdist of name==version: target/fixtures/pypi (the tests' cache), else pip download."""
    cache = ROOT / "target" / "fixtures" / "pypi"
    cache.mkdir(parents=True, exist_ok=True)
    prefix = f"{norm(name)}_{norm(version)}"

    def find(d: Path):
        for p in sorted(d.iterdir()):
            f = norm(p.name)
            if f.startswith(prefix) and f.endswith("_tar_gz"):
                return p
        return None

    if (p := find(cache)) is not None:
        return p
    log(f"  downloading the sdist of {name}=={version} from PyPI ...")
    tmp = Path(tempfile.mkdtemp(prefix=".download-", dir=cache))
    try:
        pip("download", "--no-deps", f"--no-binary={name}", f"{name}=={version}", "-d", tmp)
        got = find(tmp) or die(f"pip download gave no sdist of {name}=={version}")
        dest = cache / got.name
        os.replace(got, dest)
        return dest
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def build_deps(requirements: list[str]) -> Path:
    """The wheels of requirements and their dependencies, in target/fixtures/build-deps/<key>
    (the key and the folder are those of the tests' `build_deps`)."""
    key = hashlib.sha256("\n".join(requirements).encode()).hexdigest()[:16]
    parent = ROOT / "target" / "fixtures" / "build-deps"
    d = parent / key
    if d.is_dir():
        return d
    log(f"  downloading {' '.join(requirements)} (wheels) from PyPI ...")
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".download-", dir=parent))
    try:
        pip("download", "--only-binary=:all:", *requirements, "-d", tmp)
        os.rename(tmp, d)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return d


def component_key() -> str:
    """The key of target/pep517/pep517-<key>.wasm, as the tests' `pep517_component` makes it."""
    h = hashlib.sha256()
    for f in ["stages/pep517/app.py", "stages/pep517/requirements.txt", "crates/stage/wit/stage.wit",
              "scripts/build-pep517"]:
        h.update((ROOT / f).read_bytes())
    return h.hexdigest()[:16]


def find_component() -> Path:
    """The component built from the current sources: the tests' copy, else ours, else built now."""
    key = component_key()
    for p in (ROOT / "target" / "pep517" / f"pep517-{key}.wasm",
              ROOT / "target" / "bench-pep517" / f"pep517-{key}.wasm"):
        if p.is_file():
            return p
    out = ROOT / "target" / "bench-pep517" / f"pep517-{key}.wasm"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".building-{key}-{os.getpid()}.wasm"
    log(f"  building the pep517 component (scripts/build-pep517 {rel(out)}) ...")
    env = dict(os.environ)
    if "VIRTUAL_ENV" not in env and (ROOT / "target" / "venv").is_dir():
        env["VIRTUAL_ENV"] = str(ROOT / "target" / "venv")
    r = subprocess.run([ROOT / "scripts" / "build-pep517", tmp], capture_output=True, text=True, env=env)
    if r.returncode != 0 or not tmp.is_file():
        die(f"scripts/build-pep517 failed:\n{r.stdout[-2000:]}{r.stderr[-3000:]}")
    os.replace(tmp, out)
    return out


# ---------------------------------------------------------------- the benchmark


class Project:
    def __init__(self, bench: "Bench", name: str, version: str, requirements: list[str]):
        self.name, self.version, self.requirements = name, version, requirements
        self.label = f"{name} {version}"
        self.deps = build_deps(requirements)
        self.wheels = sorted(self.deps.glob("*.whl"))
        if not self.wheels:
            die(f"{self.deps} holds no wheels")
        root = bench.tmp / "projects" / name
        (root / "src").mkdir(parents=True)
        sdist = pypi_sdist(name, version)
        r = subprocess.run(["tar", "xzf", sdist, "-C", root / "src"], capture_output=True, text=True)
        if r.returncode != 0:
            die(f"tar xzf {sdist}: {r.stderr}")
        tops = [p for p in (root / "src").iterdir() if p.is_dir()]
        if len(tops) != 1:
            die(f"{sdist} has {len(tops)} top-level folders")
        self.src = tops[0]
        # The backend natively: the same wheels in a folder of their own, first on PYTHONPATH.
        self.site = root / "site"
        pip("install", "--no-deps", "--no-index", "--target", self.site, *self.wheels)
        # uv: the same versions as build constraints (its isolated environment resolves the
        # project's build-system.requires under them).
        self.constraints = root / "build-constraints.txt"
        pins = []
        for w in self.wheels:
            dist, ver = w.name.split("-")[:2]
            pins.append(f"{dist}=={ver}")
        self.constraints.write_text("\n".join(pins) + "\n")
        self.times: dict[str, list[float]] = {c: [] for c in CHAINS}
        self.host: dict[str, list[dict]] = {"warm": [], "cold": []}  # the host's stage reports
        self.names: tuple[str, str] | None = None  # (sdist, wheel) file names, the first chain's
        self.backend = "?"


class Bench:
    def __init__(self, args):
        self.args = args
        self.airlock = Path(args.airlock).resolve()
        self.component = Path(args.component).resolve() if args.component else find_component()
        self.sha = sha256(self.component)
        self.uv = args.uv
        self.tmp = Path(tempfile.mkdtemp(prefix="airlock-bench-pep517-"))
        self.warm_cache = self.tmp / "airlock-cache-warm"
        self.uv_cache = self.tmp / "uv-cache"
        self.manifest = self.tmp / "pep517.toml"
        self.manifest.write_text(f"""[pipeline]
name = "bench-pep517"
project = "."

[[stage]]
id = "pep517"
component = {{ path = "{self.component}", sha256 = "{self.sha}" }}
config = {{ source_date_epoch = {EPOCH} }}
[stage.grants]
files = [{{ path = ".", access = "read" }}, {{ path = "dist", access = "write" }}, {{ path = ".airlock/pep517", access = "write" }}]
""")
        env = dict(os.environ, SOURCE_DATE_EPOCH=str(EPOCH), NO_COLOR="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
        for k in ("PYTHONPATH", "PYTHONHOME", "GITHUB_ACTIONS", "AIRLOCK_CACHE_DIR", "UV_CACHE_DIR", "UV_OFFLINE"):
            env.pop(k, None)
        self.env = env
        self.md: list[str] = []
        self.seq = 0
        self.first_compile_ms: float | None = None

    def out(self, line: str = "") -> None:
        self.md.append(line)
        print(line, flush=True)

    def fresh(self, p: Project, chain: str) -> Path:
        """A fresh copy of p's unpacked sdist (for airlock: with the wheels in .airlock/build-deps)."""
        self.seq += 1
        dst = self.tmp / "runs" / f"{self.seq:04d}-{chain}" / p.src.name
        shutil.copytree(p.src, dst, symlinks=True)
        if chain in ("warm", "cold"):
            into = dst / ".airlock" / "build-deps"
            into.mkdir(parents=True)
            for w in p.wheels:
                shutil.copy2(w, into / w.name)
        return dst

    def command(self, p: Project, chain: str, proj: Path, timed: bool):
        env = dict(self.env)
        cache = None
        if chain in ("warm", "cold"):
            cache = self.warm_cache if chain == "warm" else Path(tempfile.mkdtemp(prefix="airlock-cache-cold-",
                                                                                   dir=self.tmp))
            env["AIRLOCK_CACHE_DIR"] = str(cache)
            cmd = [self.airlock, "run", self.manifest, "--project", proj, "--format", "json"]
        elif chain == "build":
            env["PYTHONPATH"] = str(p.site)
            cmd = [sys.executable, "-m", "build", "--no-isolation", "--outdir", "dist", "."]
        else:
            env.update(UV_CACHE_DIR=str(self.uv_cache), UV_NO_CONFIG="1", UV_PYTHON_DOWNLOADS="never")
            if timed:
                env["UV_OFFLINE"] = "1"
            cmd = [self.uv, "build", "--python", sys.executable, "--build-constraint", p.constraints,
                   "--out-dir", "dist", "."]
        return [str(c) for c in cmd], env, cache

    def one(self, p: Project, chain: str, timed: bool) -> float:
        proj = self.fresh(p, chain)
        cmd, env, cache = self.command(p, chain, proj, timed)
        # airlock runs from a folder of its own, the others in the project (their default).
        cwd = self.tmp if chain in ("warm", "cold") else proj
        t = time.perf_counter()
        try:
            r = subprocess.run(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                               text=True, timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            die(f"{p.label}: {LABEL[chain]} took over {TIMEOUT_S} s: {' '.join(cmd)}")
        wall = time.perf_counter() - t
        what = f"{p.label}: {LABEL[chain]} ({' '.join(cmd)})"
        if r.returncode != 0:
            die(f"{what} exited {r.returncode}:\n{r.stderr[-4000:]}\n{r.stdout[-2000:]}")
        note = ""
        if chain in ("warm", "cold"):
            try:
                report = json.loads(r.stdout)
                stage = report["stages"][0]
            except (ValueError, KeyError, IndexError):
                die(f"{what}: no JSON report on stdout:\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}")
            if not report.get("success") or stage.get("status") != "succeeded":
                die(f"{what}: the stage did not succeed:\n{r.stderr[-4000:]}")
            if len(stage.get("artifacts") or []) != 2:
                die(f"{what}: {len(stage.get('artifacts') or [])} artifacts, not 2: {stage.get('artifacts')}")
            kind = stage.get("cache")
            expected = "miss" if chain == "cold" or (self.first_compile_ms is None) else "hit"
            if kind != expected:
                die(f"{what}: the component cache was {kind!r}, expected {expected!r}")
            if chain == "warm" and self.first_compile_ms is None:
                self.first_compile_ms = stage.get("load_ms")
            p.backend = (stage.get("output") or {}).get("backend", p.backend)
            if timed:
                p.host[chain].append(stage)
            note = f" (cache {kind}, load {stage.get('load_ms', 0):.0f} ms, run {stage.get('run_ms', 0):.0f} ms)"
        files = sorted(f.name for f in (proj / "dist").iterdir() if not f.name.startswith(".")) \
            if (proj / "dist").is_dir() else []
        sdists = [f for f in files if f.endswith(".tar.gz")]
        wheels = [f for f in files if f.endswith(".whl")]
        if len(sdists) != 1 or len(wheels) != 1 or len(files) != 2:
            die(f"{what}: dist/ holds {files}, not one sdist and one wheel\n{r.stderr[-3000:]}")
        names = (sdists[0], wheels[0])
        if p.names is None:
            p.names = names
        elif names != p.names:
            die(f"{what}: built {names}, another chain built {p.names}")
        shutil.rmtree(proj.parent, ignore_errors=True)
        if chain == "cold":
            shutil.rmtree(cache, ignore_errors=True)
        log(f"    {LABEL[chain]:<16} {wall:7.2f} s{'' if timed else ' (warm-up)'}{note}")
        return wall

    def measure(self, p: Project) -> None:
        log(f"== {p.label} ({' '.join(p.requirements)}; {len(p.wheels)} wheels)")
        log("  warm-up round (untimed)")
        for chain in ("warm", "build", "uv"):
            self.one(p, chain, timed=False)
        for rnd in range(self.args.runs):
            k = rnd % len(CHAINS)
            order = CHAINS[k:] + CHAINS[:k]
            if rnd >= self.args.cold_runs:
                order = [c for c in order if c != "cold"]
            log(f"  round {rnd + 1}/{self.args.runs}: {', '.join(LABEL[c] for c in order)}")
            for chain in order:
                p.times[chain].append(self.one(p, chain, timed=True))
        m = {c: statistics.median(p.times[c]) for c in CHAINS}
        log(f"  medians: " + ", ".join(f"{LABEL[c]} {m[c]:.2f} s" for c in CHAINS)
            + f"; warm / python -m build {m['warm'] / m['build']:.2f}x")

    def header(self) -> None:
        def ver(cmd):
            r = subprocess.run(cmd, capture_output=True, text=True, env=self.env)
            return (r.stdout.strip() or r.stderr.strip() or "?").splitlines()[0]

        cpu = "unknown CPU"
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        except OSError:
            pass
        profile = "release" if "release" in self.airlock.parts else \
            "dev profile, optimized dependencies" if "debug" in self.airlock.parts else "?"
        cold = self.args.cold_runs
        self.out("## The pep517 stage vs native builds (sdist + wheel)")
        self.out()
        self.out(f"- Machine: {cpu}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}; load average "
                 f"{os.getloadavg()[0]:.1f} at the start; {time.strftime('%Y-%m-%d')}.")
        self.out(f"- airlock: `{rel(self.airlock)}` ({profile}); component `{rel(self.component)}` "
                 f"({self.component.stat().st_size / 1e6:.1f} MB, sha256 {self.sha[:12]}…).")
        self.out(f"- Native: Python {platform.python_version()} (`{rel(Path(sys.executable))}`), "
                 f"build {ver([sys.executable, '-c', 'import build; print(build.__version__)'])}, "
                 f"{ver([self.uv, '--version'])}.")
        self.out(f"- Medians of {self.args.runs} timed rounds per project"
                 + (f" ({cold} for pep517 cold)" if cold < self.args.runs else "")
                 + ", round-robin with the order rotating each round, after one untimed warm-up round "
                   "(pep517 warm, python -m build, uv build); wall time of the whole command, a fresh copy "
                   "of the unpacked sdist each run.")
        self.out("- pep517 warm: `airlock run` with a reused `AIRLOCK_CACHE_DIR`; pep517 cold: a fresh empty one "
                 "(the component is compiled in the run); python -m build: `--no-isolation`, the same backend "
                 "wheels installed into a folder on `PYTHONPATH`; uv build: isolated, those wheels' versions as "
                 "`--build-constraint`, timed runs `--offline` from the cache the warm-up filled from PyPI.")
        self.out()

    def table(self, projects: list[Project]) -> None:
        def s(x: float) -> str:
            return f"{x:.2f} s"

        def host_ms(p: Project, chain: str, key: str) -> float:
            xs = [st.get(key) for st in p.host[chain] if isinstance(st.get(key), (int, float))]
            return statistics.median(xs) if xs else float("nan")

        self.out("| project | backend | pep517 warm | pep517 cold | python -m build | uv build "
                 "| warm / python -m build | cold / python -m build | warm / uv build "
                 "| in the sandbox (warm: load + run) |")
        self.out("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|")
        ratios = {"warm": [], "cold": [], "uv": []}
        for p in projects:
            m = {c: statistics.median(p.times[c]) for c in CHAINS}
            r = {"warm": m["warm"] / m["build"], "cold": m["cold"] / m["build"], "uv": m["warm"] / m["uv"]}
            for k, v in r.items():
                ratios[k].append(v)
            self.out(f"| {p.label} | `{p.backend}` | {s(m['warm'])} | {s(m['cold'])} | {s(m['build'])} "
                     f"| {s(m['uv'])} | {r['warm']:.2f}x | {r['cold']:.2f}x | {r['uv']:.2f}x "
                     f"| {host_ms(p, 'warm', 'load_ms') / 1000:.2f} + {host_ms(p, 'warm', 'run_ms') / 1000:.2f} s |")
        self.out()
        compile_ms = [st.get("load_ms") for p in projects for st in p.host["cold"]
                      if isinstance(st.get("load_ms"), (int, float))]
        warm_load = [st.get("load_ms") for p in projects for st in p.host["warm"]
                     if isinstance(st.get("load_ms"), (int, float))]
        if compile_ms:
            self.out(f"Cold compile (the host's `load_ms` in the cold runs): median {statistics.median(compile_ms) / 1000:.1f} s "
                     f"(min {min(compile_ms) / 1000:.1f}, max {max(compile_ms) / 1000:.1f}); warm load (deserializing "
                     f"the cached compiled component): median {statistics.median(warm_load):.0f} ms.")
        gm = {k: math.exp(statistics.fmean(math.log(x) for x in v)) for k, v in ratios.items()}
        self.out(f"Geometric means over {len(projects)} projects: cold / python -m build {gm['cold']:.2f}x, "
                 f"warm / uv build {gm['uv']:.2f}x.")
        self.out()
        self.out(f"**Geometric mean of pep517 warm / python -m build: {gm['warm']:.2f}x** "
                 f"(goal: at most 1.5x; {'met' if gm['warm'] <= 1.5 else 'not met'}).")

    def main(self) -> int:
        t0 = time.perf_counter()
        try:
            want = [n.strip() for n in self.args.projects.split(",")] if self.args.projects else []
            known = {norm(n) for n, _, _ in PROJECTS}
            unknown = [n for n in want if norm(n) not in known]
            if unknown:
                die(f"unknown project(s) {unknown}; known: {', '.join(n for n, _, _ in PROJECTS)}")
            log(f"temp dir {self.tmp}; component {rel(self.component)}; airlock {rel(self.airlock)}")
            projects = [Project(self, n, v, reqs) for n, v, reqs in PROJECTS if not want or norm(n) in map(norm, want)]
            for p in projects:
                self.measure(p)
            self.header()
            self.table(projects)
            self.out()
            self.out(f"(bench wall time {time.perf_counter() - t0:.0f} s)")
        finally:
            if self.args.keep:
                log(f"kept {self.tmp}")
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)
        if self.args.markdown:
            path = Path(self.args.markdown)
            text = "\n".join([BEGIN, "", *self.md, "", END]) + "\n"
            old = path.read_text() if path.exists() else ""
            if BEGIN in old and END in old:
                text = old[:old.index(BEGIN)] + text.rstrip("\n") + old[old.index(END) + len(END):]
            path.write_text(text)
            log(f"wrote {path}")
        return 0


def default_airlock() -> str:
    for p in (ROOT / "target" / "release" / "airlock", ROOT / "target" / "debug" / "airlock"):
        if p.is_file():
            return str(p)
    return str(ROOT / "target" / "debug" / "airlock")


def default_uv() -> str | None:
    here = Path(sys.executable).parent / "uv"
    return str(here) if here.is_file() else shutil.which("uv")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--runs", type=int, default=5, help="timed rounds per project (default 5)")
    ap.add_argument("--cold-runs", type=int, default=None,
                    help="how many of those rounds include pep517 cold (default: all; each compiles the "
                         "component, several seconds)")
    ap.add_argument("--projects", help="comma-separated project names (default: all twelve)")
    ap.add_argument("--airlock", default=default_airlock(),
                    help="the airlock binary (default: target/release/airlock, else target/debug/airlock)")
    ap.add_argument("--component", help="the pep517 component (default: target/pep517/pep517-<key>.wasm of the "
                                        "current sources, else built by scripts/build-pep517 into target/bench-pep517)")
    ap.add_argument("--uv", default=default_uv(), help="the uv binary (default: next to this Python, else on PATH)")
    ap.add_argument("--markdown", help="also write the report into this file (between the bench-pep517 markers if "
                                       "present, else the whole file)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = ap.parse_args()
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    args.cold_runs = args.runs if args.cold_runs is None else args.cold_runs
    if not 1 <= args.cold_runs <= args.runs:
        ap.error("--cold-runs must be between 1 and --runs")
    if not Path(args.airlock).is_file():
        die(f"no airlock binary at {args.airlock}: cargo build -p airlock")
    if args.component and not Path(args.component).is_file():
        die(f"--component: no file at {args.component}")
    if not args.uv or not Path(args.uv).is_file():
        die("no uv binary (pip install uv, or --uv PATH)")
    if subprocess.run([sys.executable, "-c", "import build"], capture_output=True).returncode:
        die(f"{sys.executable} needs `build` (pip install build); run this with target/venv/bin/python")
    return Bench(args).main()


if __name__ == "__main__":
    sys.exit(main())
