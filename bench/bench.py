#!/usr/bin/env python3
"""airlock's benchmark suite: one command, a quick mode for CI.

    python3 bench/bench.py                        # full suite, prints a Markdown report
    python3 bench/bench.py --markdown docs/benchmarks.md   # ... and writes it into that file
    python3 bench/bench.py --quick --airlock target/debug/airlock   # CI: ~1-2 min, prints, asserts nothing
    python3 bench/bench.py --only startup,e2e --airlock-wheel target/wheels/airlock_release-*.whl

Sections (see bench/README.md):
  startup  `airlock run` on examples/demo: cold (a fresh empty AIRLOCK_CACHE_DIR, a new
           process) vs warm, alternated; wall time, peak RSS, the ratio cold/warm and the
           host's own per-stage timings (--format json: cache embedded/hit/miss/off, load_ms,
           instantiate_ms, run_ms).
  e2e      mypylogger 0.2.8 end to end, each run against a fresh pypiserver on 127.0.0.1 so
           every upload is real: airlock's pipeline (detect, decide, build, authenticate,
           upload with verification, status) with a cold and with a warm component cache vs
           the Python chain (the original project's own detect/decide script,
           `python -m build --no-isolation`, `twine check --strict`, `twine upload`) vs the uv
           chain (`uv build`, `uv publish`). All are run alternately (round-robin, rotating
           the order), medians and ratios (cold airlock / Python chain, warm airlock / Python).
  second   with --airlock-wheel WHEEL (installed into a fresh venv in the temp dir) or
           --compare-airlock BIN: that binary's cold and warm runs, alternated with the
           first binary's in startup and e2e, and the ratios installed/target. Skipped with
           a note otherwise.
  scale    synthetic inputs generated in a temp dir, at full size and 1/10 of it:
           detect+decide+status on a pip-audit scan of N findings vs N previous ones,
           building a project of N files, uploading N wheels; time, peak RSS, growth factor.

Peak RSS is GNU time's %M (for a process tree, the largest process in it); see run().
Nothing here asserts a figure: it measures and prints. A tool that fails is reported as such.
Needs: python3 with build, twine, hatchling, pypiserver (tests/requirements.txt), uv on PATH
(optional: the uv chain is skipped with a note when missing), and an airlock binary.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EPOCH = "1700000000"
GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- processes and servers


class Result:
    def __init__(self, wall: float, rss_kib: int, code: int, out: str, err: str):
        self.wall, self.rss_kib, self.code, self.out, self.err = wall, rss_kib, code, out, err


def run(cmd, cwd=None, env=None, check=True) -> Result:
    """Runs cmd; wall time and peak RSS (KiB) of that process (tree).

    The RSS comes from GNU time's %M when /usr/bin/time exists: the ru_maxrss that wait4
    reports for a child of this (large) Python process includes this process's own RSS at
    fork time (Linux carries the old mm's high-water mark across exec), which would hide a
    small child's figure. Without GNU time, wait4's figure is used (an upper bound)."""
    cmd = [str(c) for c in cmd]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        if GNU_TIME:
            cmd = [GNU_TIME, "-f", "%M", "-o", rss.name, *cmd]
        t = time.perf_counter()
        p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t
        p.returncode = os.waitstatus_to_exitcode(status)
        peak = ru.ru_maxrss
        if GNU_TIME:
            try:
                peak = int(Path(rss.name).read_text().split()[-1])
            except (OSError, ValueError, IndexError):
                pass
        out.seek(0), err.seek(0)
        r = Result(wall, peak, p.returncode, out.read().decode(errors="replace"),
                   err.read().decode(errors="replace"))
    if check and r.code != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} exited {r.code}:\n{r.err[-3000:]}\n{r.out[-2000:]}")
    return r


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A fresh pypiserver (no auth) on 127.0.0.1 serving its own empty folder."""

    def __init__(self, parent: Path):
        self.dir = Path(tempfile.mkdtemp(prefix="pkgs-", dir=parent))
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pypiserver", "run", "-i", "127.0.0.1", "-p", str(self.port),
             "-a", ".", "-P", ".", "--disable-fallback", str(self.dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/simple/", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.time() > deadline or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError("pypiserver did not start (pip install 'pypiserver[passlib]')")
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{self.port}/"

    def files(self) -> list[str]:
        return sorted(p.name for p in self.dir.iterdir())

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.stop()


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def ms(s: float) -> str:
    return f"{s * 1000:.0f} ms" if s < 10 else f"{s:.1f} s"


def mib(kib: float) -> str:
    return f"{kib / 1024:.0f} MiB"


def rel(p: Path) -> str:
    """p relative to the repository when inside it (for the report)."""
    try:
        return str(Path(p).resolve().relative_to(ROOT))
    except ValueError:
        return str(p)


def kinds(stages_lists) -> str:
    """The stages' `cache` kinds over runs ("embedded", "hit", "miss", "off"), e.g. "embedded"."""
    return "/".join(sorted({str(s.get("cache")) for st in stages_lists for s in st})) or "?"


def report_stages(r: Result) -> list[dict]:
    try:
        return json.loads(r.out)["stages"]
    except (ValueError, KeyError):
        return []


# ---------------------------------------------------------------- the suite


class Bin:
    """An airlock binary under test, with its own warm component cache."""

    def __init__(self, key: str, path: Path, label: str):
        self.key, self.path, self.label = key, path, label
        self.cache: Path | None = None  # its warm AIRLOCK_CACHE_DIR, once filled
        self.cold_compiles: bool | None = None  # a cold run compiles (cache "miss"), i.e. no precompiled built-ins


class Bench:
    def __init__(self, args):
        self.args = args
        self.quick = args.quick
        self.airlock = Path(args.airlock).resolve()
        self.tmp = Path(tempfile.mkdtemp(prefix="airlock-bench-"))
        self.bins = [Bin("target", self.airlock, f"`{rel(self.airlock)}`")]
        self.second_note = ""  # how the second binary was obtained
        self.md: list[str] = []
        self.findings: list[str] = []  # one-line verdicts against the goals
        self.medians: dict[tuple[str, str], float] = {}  # (figure, binary key) -> median wall, for `second`
        self.base_env = dict(os.environ, SOURCE_DATE_EPOCH=EPOCH, PYPI_TOKEN="bench-index-token",
                             NO_COLOR="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
        self.base_env.pop("GITHUB_ACTIONS", None)  # no annotations / job summary from the host
        self.uv = shutil.which("uv")

    @property
    def warm_cache(self) -> Path | None:
        return self.bins[0].cache

    def env(self, cache: Path | None = None) -> dict:
        e = dict(self.base_env)
        e["AIRLOCK_CACHE_DIR"] = str(cache or self.warm_cache or (self.tmp / "cache"))
        return e

    def new_cache(self) -> Path:
        """A fresh, empty AIRLOCK_CACHE_DIR."""
        return Path(tempfile.mkdtemp(prefix="cache-", dir=self.tmp))

    def add_second(self) -> None:
        """The second binary: the wheel installed into a fresh venv, or a given binary."""
        if self.args.airlock_wheel:
            wheel = Path(self.args.airlock_wheel).resolve()
            venv = self.tmp / "wheel-venv"
            log(f"  installing {wheel.name} into a fresh venv ...")
            # A venv without pip of its own (ensurepip takes long on a busy machine); this
            # Python's pip installs into it (`pip --python`, pip >= 22.3).
            run([sys.executable, "-m", "venv", "--without-pip", venv])
            run([sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "--quiet",
                 "--no-index", "--no-deps", wheel], env=dict(self.base_env, PIP_REQUIRE_VIRTUALENV="1"))
            exe = venv / "bin" / "airlock"
            if not exe.is_file():
                raise RuntimeError(f"installing {wheel} put no `airlock` into {venv / 'bin'}")
            self.bins.append(Bin("installed", exe, "installed wheel"))
            same = [f"`{rel(c)}`" for c in (ROOT / "target" / "release" / "airlock", ROOT / "target" / "debug" / "airlock")
                    if c.is_file() and c.stat().st_size == exe.stat().st_size and c.read_bytes() == exe.read_bytes()]
            self.second_note = (f"`airlock` from `{rel(wheel)}` ({mib(wheel.stat().st_size / 1024)}), installed "
                                f"with `pip --python VENV/bin/python install --no-index --no-deps` into a fresh venv "
                                f"in the temp dir" + (f" (the same bytes as {same[0]})" if same else ""))
        elif self.args.compare_airlock:
            exe = Path(self.args.compare_airlock).resolve()
            self.bins.append(Bin("installed", exe, f"`{rel(exe)}`"))
            self.second_note = f"`{rel(exe)}` (--compare-airlock)"

    def prepare(self, b: Bin) -> None:
        """Fills b's warm cache with one untimed cold demo run (when startup does not)."""
        b.cache = self.tmp / f"cache-{b.key}"
        log(f"  warming the component cache of {b.label} ...")
        demo = self.fresh(ROOT / "examples" / "demo", "demo")
        r = run([b.path, "run", demo / "release.toml", "--format", "json"], cwd=demo, env=self.env(b.cache))
        b.cold_compiles = any(s.get("cache") == "miss" for s in report_stages(r))

    def fresh(self, src: Path, name: str) -> Path:
        dst = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.tmp)) / name
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".airlock", "dist", "public"))
        return dst

    def out(self, line: str = "") -> None:
        self.md.append(line)
        print(line, flush=True)

    # ------------------------------------------------------------ machine

    def machine(self) -> None:
        cpu = "unknown CPU"
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        except OSError:
            pass
        mem = ""
        try:
            kb = int(Path("/proc/meminfo").read_text().split()[1])
            mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
        except (OSError, ValueError, IndexError):
            pass
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")

        def ver(cmd):
            try:
                return run(cmd, check=False).out.strip().splitlines()[0]
            except (OSError, IndexError):
                return "missing"

        profile = "release" if "release" in self.airlock.parts else "debug (dependencies at opt-level 1)" \
            if "debug" in self.airlock.parts else "?"
        self.out(f"- Machine: {cpu}, {os.cpu_count()} CPUs{mem}, {platform.system()} {platform.release()}; "
                 f"load average {load:.1f} when the run started (shared machine: absolute figures are noisy, "
                 f"the ratios come from runs alternated within one invocation).")
        self.out(f"- airlock: `{rel(self.airlock)}` ({profile} build, {mib(self.airlock.stat().st_size / 1024)}); "
                 f"Python {platform.python_version()}; {ver(['uv', '--version']) if self.uv else 'uv missing'}; "
                 f"{ver([sys.executable, '-m', 'twine', '--version']).split('(')[0].strip()}; "
                 f"build {ver([sys.executable, '-c', 'import build; print(build.__version__)'])}; "
                 f"hatchling {ver([sys.executable, '-c', 'import hatchling.__about__ as a; print(a.__version__)'])}.")
        if len(self.bins) > 1:
            b = self.bins[1]
            self.out(f"- Second binary: {self.second_note}; {mib(b.path.stat().st_size / 1024)}.")
        self.out(f"- Mode: {'quick' if self.quick else 'full'}; medians of {self.args.runs} alternated runs "
                 f"unless a table says otherwise; {time.strftime('%Y-%m-%d')}.")
        self.out()

    # ------------------------------------------------------------ start-up

    def startup(self) -> None:
        demo = ROOT / "examples" / "demo"
        self.out("## Start-up: the demo pipeline (6 stages), cold vs warm component cache")
        self.out()
        res: dict[tuple[str, str], list] = {(b.key, k): [] for b in self.bins for k in ("cold", "warm")}

        def one(b: Bin, kind: str, cache: Path):
            proj = self.fresh(demo, "demo")
            r = run([b.path, "run", proj / "release.toml", "--format", "json"], cwd=proj, env=self.env(cache),
                    check=False)
            if r.code != 0:
                raise RuntimeError(f"{b.label}: airlock run on the demo failed ({r.code}):\n{r.err[-3000:]}")
            st = report_stages(r)
            log(f"  startup {b.key} {kind}: {r.wall * 1000:.0f} ms, {r.rss_kib / 1024:.0f} MiB, {kinds([st])}")
            return r, st

        # Each binary's first run is cold; its cache becomes that binary's warm cache. When it
        # compiled the components (cache "miss": no precompiled built-ins), it counts and only
        # a few more cold runs follow (each is seconds); when it loaded them precompiled, it is
        # an untimed warm-up (the binary's pages, the demo's files).
        for b in self.bins:
            b.cache = self.new_cache()
            r, st = one(b, "cold (first)", b.cache)
            b.cold_compiles = any(s.get("cache") == "miss" for s in st)
            if b.cold_compiles:
                res[(b.key, "cold")].append((r, st))
        rounds = self.args.runs * 2
        compiles = any(b.cold_compiles for b in self.bins)
        cold_rounds = (0 if self.quick else max(2, self.args.runs // 2) - 1) if compiles else rounds
        slots = [(b, k) for b in self.bins for k in ("cold", "warm")]
        for i in range(rounds):  # round-robin, the order rotating each round
            for b, kind in slots[i % len(slots):] + slots[:i % len(slots)]:
                if kind == "cold" and i >= cold_rounds:
                    continue
                res[(b.key, kind)].append(one(b, kind, self.new_cache() if kind == "cold" else b.cache))
        self.out(f"{'Each binary' if len(self.bins) > 1 else 'The binary'}: one untimed cold run first (its cache "
                 "is the warm cache), then cold runs (a new process with a fresh empty `AIRLOCK_CACHE_DIR` each) "
                 "alternated with warm ones" + (" and with the other binary's" if len(self.bins) > 1 else "") +
                 (", the order rotating each round." if not compiles else
                  "; the components were compiled in the cold runs (no precompiled built-ins), so the first cold "
                  "run counts and there are fewer cold runs."))
        self.out()
        self.out("| binary | cache | runs | wall (median) | wall (min) | peak RSS (max) | load (sum of stages) | "
                 "instantiate (sum) | run (sum) | stages' cache |")
        self.out("|---|---|---|---|---|---|---|---|---|---|")
        for b in self.bins:
            for kind, label in (("cold", "cold (fresh AIRLOCK_CACHE_DIR)"), ("warm", "warm")):
                rs = res[(b.key, kind)]
                if not rs:
                    continue
                load = med([sum(s.get("load_ms", 0) for s in st) for _, st in rs])
                inst = med([sum(s.get("instantiate_ms", 0) for s in st) for _, st in rs])
                runms = med([sum(s.get("run_ms", 0) for s in st) for _, st in rs])
                wall = med([r.wall for r, _ in rs])
                self.medians[("demo " + kind, b.key)] = wall
                self.out(f"| {b.label} | {label} | {len(rs)} | {ms(wall)} | {ms(min(r.wall for r, _ in rs))} | "
                         f"{mib(max(r.rss_kib for r, _ in rs))} | {load:.1f} ms | {inst:.2f} ms | {runms:.1f} ms | "
                         f"{kinds(st for _, st in rs)} |")
        self.out()
        ratios = []
        for b in self.bins:
            c, w = self.medians.get(("demo cold", b.key)), self.medians.get(("demo warm", b.key))
            if c and w:
                ratios.append(f"{b.label} {c / w:.2f}x ({ms(c)} / {ms(w)})")
        self.out("**Cold / warm** (ratio of medians; goal: at most 3x): " + "; ".join(ratios) + ".")
        self.out()
        self.out(f"Per stage, {self.bins[0].label} (host's own timing, `--format json`; medians, ms; `cache`: "
                 "embedded = precompiled in the binary, hit = compile cache, miss = compiled now):")
        self.out()
        self.out("| stage | cold: cache | cold: load | cold: instantiate | warm: cache | warm: load | "
                 "warm: instantiate | warm: run |")
        self.out("|---|---|---|---|---|---|---|---|")
        cold, warm = res[("target", "cold")], res[("target", "warm")]
        for sid in [s["id"] for s in cold[0][1]]:
            def pick(rs, field):
                return med([s.get(field, 0) for _, st in rs for s in st if s["id"] == sid])

            def cache(rs):
                return kinds([[s for s in st if s["id"] == sid] for _, st in rs])

            def num(x):
                return f"{x:.2f}" if x < 10 else f"{x:.0f}"
            self.out(f"| {sid} | {cache(cold)} | {num(pick(cold, 'load_ms'))} | {num(pick(cold, 'instantiate_ms'))} | "
                     f"{cache(warm)} | {num(pick(warm, 'load_ms'))} | {num(pick(warm, 'instantiate_ms'))} | "
                     f"{num(pick(warm, 'run_ms'))} |")
        self.out()
        wc = med([r.wall for r, _ in cold])
        ww = med([r.wall for r, _ in warm])
        rss = max(r.rss_kib for r, _ in cold + warm) / 1024
        self.findings.append(f"warm start {ms(ww)} (goal < 100 ms: {'met' if ww < 0.1 else 'missed'})")
        self.findings.append(f"cold start {ms(wc)} (goal < 2 s: {'met' if wc < 2 else 'missed'}), "
                             f"{wc / ww:.2f}x the warm start (goal at most 3x: {'met' if wc / ww <= 3 else 'missed'}); "
                             f"stages' cache in the cold runs: {kinds(st for _, st in cold)}")
        self.findings.append(f"peak RSS of a demo run {rss:.0f} MiB (goal < 100 MiB: {'met' if rss < 100 else 'missed'})")

    # ------------------------------------------------------------ end to end

    def mypylogger(self) -> Path:
        sdist = ROOT / "target" / "fixtures" / "mypylogger-0.2.8.tar.gz"
        if not sdist.is_file():
            sdist.parent.mkdir(parents=True, exist_ok=True)
            run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:", "-d",
                 sdist.parent, "mypylogger==0.2.8"])
        with tarfile.open(sdist) as t:
            t.extractall(self.tmp / "pristine", filter="data")
        src = self.tmp / "pristine" / "mypylogger-0.2.8"
        # A source checkout, not an unpacked sdist: hatchling (python -m build, uv build) would
        # otherwise put the old PKG-INFO into the new sdist next to its own, which uv publish
        # refuses ("Multiple PKG-INFO files"). The same tree goes to all three chains.
        (src / "PKG-INFO").unlink()
        return src

    def e2e(self) -> None:
        src = self.mypylogger()
        manifest = ROOT / "examples" / "mypylogger" / "release.toml"
        py = sys.executable

        def airlock_cmd(b: Bin):
            return lambda proj, url: [[b.path, "run", manifest, "--project", proj, "--format", "json",
                                       "--set", "decide.manual=true", "--set", "decide.tag=v0.2.8",
                                       "--set", f"upload.repository={url}"]]
        chains: dict = {}
        names: dict[str, str] = {}
        airlocks: dict[str, tuple[Bin, str]] = {}  # chain -> (binary, "cold" | "warm")
        notes = []
        two = len(self.bins) > 1
        for b in self.bins:
            who = f"airlock ({b.label})" if two else "airlock pipeline"
            what = "" if two else " (detect, decide, build, authenticate, upload + verify, status)"
            if b.cold_compiles and self.quick:
                notes.append(f"{b.label}: no cold runs in quick mode (its cold runs compile the components)")
            else:
                chains[f"{b.key}:cold"] = airlock_cmd(b)
                airlocks[f"{b.key}:cold"] = (b, "cold")
                names[f"{b.key}:cold"] = f"{who}{what}, cold: a new process, a fresh empty `AIRLOCK_CACHE_DIR`"
            chains[f"{b.key}:warm"] = airlock_cmd(b)
            airlocks[f"{b.key}:warm"] = (b, "warm")
            names[f"{b.key}:warm"] = f"{who}{what}, warm component cache"
        chains["python"] = lambda proj, url: [
            [py, "-m", "scripts.security_release_integration", "--force-release",
             "--output-file", "release_analysis.json", "--summary-file", "release_summary.md"],
            [py, "-m", "build", "--no-isolation", "--outdir", "dist", "."],
            [py, "-m", "twine", "check", "--strict", "dist/*"],
            [py, "-m", "twine", "upload", "--non-interactive", "--disable-progress-bar",
             "--repository-url", url, "-u", "bench", "-p", "bench", "dist/*"]]
        names["python"] = ("Python chain (original detect/decide script, `python -m build --no-isolation`, "
                           "`twine check --strict`, `twine upload`)")
        steps_names = {"python": ["detect/decide (original)", "python -m build", "twine check", "twine upload"],
                       "uv": ["uv build", "uv publish"]}
        if self.uv:
            chains["uv"] = lambda proj, url: [["uv", "build", "--quiet", "--out-dir", "dist", "."],
                                              ["uv", "publish", "--publish-url", url, "-u", "bench", "-p", "bench",
                                               *sorted(str(p) for p in (proj / "dist").glob("*"))]]
            names["uv"] = "uv chain (`uv build`, `uv publish`)"
        else:
            notes.append("uv missing: no uv chain")
        # The order: each binary's cold and warm runs, the Python chain, the uv chain, the
        # second binary's; rotated by one each round.
        order = [k for k in chains if k.startswith("target:")] + [k for k in ("python", "uv") if k in chains] + \
                [k for k in chains if k.startswith("installed:")]
        results: dict[str, list] = {k: [] for k in order}
        stages: dict[str, list] = {k: [] for k in airlocks}
        rounds = self.args.runs
        for i in range(rounds + 1):  # round 0 is the warm-up (uv's cache, the page cache), not counted
            for name in order[i % len(order):] + order[:i % len(order)]:
                proj = self.fresh(src, "mypylogger")
                with Server(self.tmp) as srv:
                    env = self.env()
                    if name == "uv":
                        # uv publish takes the files as arguments, which exist only after uv build
                        ub = run(chains["uv"](proj, srv.url)[0], cwd=proj, env=env)
                        up = run(chains["uv"](proj, srv.url)[1], cwd=proj, env=env)
                        wall, rss, walls = ub.wall + up.wall, max(ub.rss_kib, up.rss_kib), [ub.wall, up.wall]
                    elif name == "python":
                        walls, rss = [], 0
                        for step in chains["python"](proj, srv.url):
                            if step[-1] == "dist/*":  # twine takes the shell's glob: expand it here
                                step = [*step[:-1], *sorted(str(p) for p in (proj / "dist").glob("*"))]
                            r = run(step, cwd=proj, env=env)
                            walls.append(r.wall)
                            rss = max(rss, r.rss_kib)
                        wall = sum(walls)
                    else:
                        b, kind = airlocks[name]
                        env = self.env(self.new_cache() if kind == "cold" else b.cache)
                        r = run(chains[name](proj, srv.url)[0], cwd=proj, env=env)
                        wall, rss, walls = r.wall, r.rss_kib, [r.wall]
                        if i > 0:
                            stages[name].append(report_stages(r))
                    uploaded = srv.files()
                if len(uploaded) != 2:
                    raise RuntimeError(f"{name}: the server holds {uploaded}, not the sdist and the wheel")
                if i > 0:
                    results[name].append((wall, rss, walls))
                log(f"  e2e round {i}{' (warm-up)' if i == 0 else ''} {name}: {wall * 1000:.0f} ms")
        self.out("## End to end: mypylogger 0.2.8, a fresh loopback pypiserver per run")
        self.out()
        self.out(f"{rounds} rounds after one warm-up round; the chains alternate (round-robin, the order rotates "
                 "each round). Cold: each airlock run is a new process with a fresh empty `AIRLOCK_CACHE_DIR`; "
                 "warm: the cache filled by an earlier run." + (" " + "; ".join(notes) + "." if notes else ""))
        self.out()
        self.out("| chain | stages' cache | wall (median) | min | max | peak RSS | this / Python chain | "
                 "Python chain / this |")
        self.out("|---|---|---|---|---|---|---|---|")
        meds = {k: med([w for w, _, _ in rs]) for k, rs in results.items()}
        pyt = meds["python"]
        for name, rs in results.items():
            m = meds[name]
            cache = kinds(stages[name]) if name in stages else "—"
            self.out(f"| {names[name]} | {cache} | {ms(m)} | {ms(min(w for w, _, _ in rs))} | "
                     f"{ms(max(w for w, _, _ in rs))} | {mib(max(r for _, r, _ in rs))} | {m / pyt:.3f}x | "
                     f"{pyt / m:.1f}x |")
            if name in airlocks:
                b, kind = airlocks[name]
                self.medians[("mypylogger e2e " + kind, b.key)] = m
        self.out()
        warm, cold = meds["target:warm"], meds.get("target:cold")
        lines = []
        if cold:
            lines.append(f"cold airlock / Python chain **{cold / pyt:.3f}x** (goal: at most 0.2x)")
        lines.append(f"warm airlock / Python chain **{warm / pyt:.3f}x** ({pyt / warm:.1f}x faster; goal 10x)")
        if "uv" in meds:
            lines.append(f"warm airlock / uv chain {warm / meds['uv']:.3f}x ({meds['uv'] / warm:.1f}x faster; goal 5x)")
        if cold:
            lines.append(f"cold / warm airlock {cold / warm:.2f}x")
        self.out("Ratios of medians: " + "; ".join(lines) + ".")
        self.out()
        parts = []
        for name, labels in steps_names.items():
            if name in results:
                for j, label in enumerate(labels):
                    parts.append(f"{label} {ms(med([w[j] for _, _, w in results[name]]))}")
        self.out("Steps (medians): " + "; ".join(parts) + ".")
        self.out()
        for key, label in (("target:warm", "warm"), ("target:cold", "cold")):
            if stages.get(key):
                per: dict[str, list] = {}
                for st in stages[key]:
                    for s in st:
                        per.setdefault(s["id"], []).append(s)
                self.out(f"airlock stages, {label} (host's timing, medians, ms: load / run): " + ", ".join(
                    f"{k} {med([s.get('load_ms', 0) for s in v]):.1f} / {med([s.get('run_ms', 0) for s in v]):.1f}"
                    for k, v in per.items()) + ".")
                self.out()
        self.findings.append(f"end to end, warm cache: {pyt / warm:.1f}x faster than the Python chain (goal 10x)" +
                             (f", {meds['uv'] / warm:.1f}x faster than the uv chain (goal 5x)" if "uv" in meds
                              else ", uv missing"))
        if cold:
            self.findings.append(f"end to end, cold (new process, empty cache dir): airlock / Python chain "
                                 f"{cold / pyt:.3f}x (goal at most 0.2x: {'met' if cold / pyt <= 0.2 else 'missed'}); "
                                 f"cold / warm {cold / warm:.2f}x")

    # ------------------------------------------------------------ second binary

    def second(self) -> None:
        self.out("## A second binary: " + ("the installed wheel's airlock vs the target binary" if self.args.airlock_wheel
                                            else "another airlock vs the target binary" if self.args.compare_airlock
                                            else "`--airlock-wheel` / `--compare-airlock`"))
        self.out()
        if len(self.bins) < 2:
            hint = ""
            wheels = sorted((ROOT / "target" / "wheels").glob("airlock_release-*.whl"))
            if wheels:
                hint = f" (a wheel exists: `--airlock-wheel {rel(wheels[-1])}`)"
            self.out("Skipped: no `--airlock-wheel PATH.whl` (installed into a fresh venv in the temp dir) or "
                     f"`--compare-airlock BIN` given{hint}.")
            self.out()
            return
        t, o = self.bins
        self.out(f"{self.second_note}. Its runs alternated with {t.label}'s in the sections above (same rounds, "
                 "its own warm cache); ratios of medians.")
        self.out()
        self.out(f"| figure | {t.label} | {o.label} | installed / target |")
        self.out("|---|---|---|---|")
        rows = []
        for fig in ("demo cold", "demo warm", "mypylogger e2e cold", "mypylogger e2e warm"):
            a, b = self.medians.get((fig, "target")), self.medians.get((fig, "installed"))
            if a and b:
                self.out(f"| {fig} | {ms(a)} | {ms(b)} | {b / a:.2f}x |")
                rows.append(f"{fig} {b / a:.2f}x")
        ts, os_ = t.path.stat().st_size, o.path.stat().st_size
        self.out(f"| binary size | {mib(ts / 1024)} | {mib(os_ / 1024)} | {os_ / ts:.2f}x |")
        self.out()
        if rows:
            self.findings.append("installed wheel / target binary: " + ", ".join(rows))

    # ------------------------------------------------------------ scale

    def gen_scan(self, proj: Path, n: int) -> None:
        """pip-audit JSON: previous has n findings, current n with 10% replaced (10% new, 10% resolved).

        Five advisories per package; an advisory stays in its package between the scans, as in
        a real project (the 10% new ones are in packages of their own)."""
        rnd = random.Random(n)
        sec = proj / "security"

        def doc(items):
            by_pkg: dict[str, list] = {}
            for pkg, v in items:
                by_pkg.setdefault(pkg, []).append(
                    {"id": v, "fix_versions": [f"{rnd.randint(1, 9)}.{rnd.randint(0, 20)}.0"],
                     "aliases": [f"CVE-2025-{int(v.split('-')[-1], 16 if v.startswith('GHSA') else 10) % 90000 + 10000}"],
                     "description": f"Synthetic advisory {v}: " + "lorem ipsum dolor sit amet " * 6})
            deps = [{"name": p, "version": "1.0.0", "vulns": vs} for p, vs in by_pkg.items()]
            return {"dependencies": deps, "fixes": []}

        prev = [(f"pkg{i // 5:05d}", f"PYSEC-2025-{i:06d}") for i in range(n)]
        new = [(f"new{i // 5:05d}", f"GHSA-bnch-{i:04x}-{(i * 7919) % 65536:04x}") for i in range(n // 10)]
        cur = prev[n // 10:] + new
        for name, items in (("previous", prev), ("current", cur)):
            (sec / name).mkdir(parents=True, exist_ok=True)
            (sec / name / "pip-audit.json").write_text(json.dumps(doc(items)))

    def gen_project(self, proj: Path, n: int) -> None:
        """A pure-Python hatchling project of n .py files (subpackages of 100 modules)."""
        rnd = random.Random(n)
        (proj / "pyproject.toml").write_text(
            '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n\n'
            '[project]\nname = "benchgen"\nversion = "1.0.0"\ndescription = "generated"\n'
            'readme = "README.md"\nlicense = "MIT"\nrequires-python = ">=3.8"\n\n'
            '[tool.hatch.build.targets.wheel]\npackages = ["src/benchgen"]\n')
        (proj / "README.md").write_text("# benchgen\n\nA generated project.\n")
        (proj / "LICENSE").write_text((ROOT / "examples" / "demo" / "LICENSE").read_text())
        pkg = proj / "src" / "benchgen"
        files = 0
        sub = 0
        while files < n:
            d = pkg / f"sub{sub:03d}"
            d.mkdir(parents=True, exist_ok=True)
            (d / "__init__.py").write_text(f'"""Subpackage {sub}."""\n')
            files += 1
            for m in range(min(99, n - files)):
                body = [f'"""Module {sub}.{m}."""\n', "\n"]
                for f in range(rnd.randint(5, 25)):
                    body.append(f"def f{f}_{rnd.getrandbits(32):08x}(x: int) -> int:\n"
                                f"    return x * {rnd.randint(1, 10 ** 6)} + {rnd.randint(0, 99)}\n\n")
                (d / f"m{m:02d}.py").write_text("".join(body))
                files += 1
            sub += 1
        (pkg / "__init__.py").write_text('"""benchgen."""\n')

    def gen_wheels(self, dist: Path, n: int) -> None:
        """n wheels of one release (distinct platform tags), ~100 KiB each."""
        dist.mkdir(parents=True, exist_ok=True)
        pys = ["cp39", "cp310", "cp311", "cp312", "cp313", "cp314"]
        plats = ["manylinux_2_17_x86_64", "manylinux_2_17_aarch64", "musllinux_1_2_x86_64", "musllinux_1_2_aarch64",
                 "win_amd64", "win32", "win_arm64", "macosx_11_0_arm64", "macosx_10_9_x86_64",
                 "manylinux_2_17_ppc64le"]
        tags = [(p, q) for p in pys for q in plats][:n]
        if len(tags) < n:
            raise ValueError("too many wheels asked for")
        rnd = random.Random(n)
        for py, plat in tags:
            name = f"benchup-1.0.0-{py}-{py}-{plat}.whl"
            di = "benchup-1.0.0.dist-info"
            meta = ("Metadata-Version: 2.4\nName: benchup\nVersion: 1.0.0\nSummary: generated\n"
                    "License-Expression: MIT\nRequires-Python: >=3.9\n")
            wheel = f"Wheel-Version: 1.0\nGenerator: airlock-bench\nRoot-Is-Purelib: false\nTag: {py}-{py}-{plat}\n"
            payload = rnd.randbytes(100 * 1024)
            with zipfile.ZipFile(dist / name, "w", zipfile.ZIP_DEFLATED) as z:
                z.writestr("benchup/_native.bin", payload)
                z.writestr("benchup/__init__.py", "")
                z.writestr(f"{di}/METADATA", meta)
                z.writestr(f"{di}/WHEEL", wheel)
                z.writestr(f"{di}/RECORD", f"benchup/_native.bin,,\nbenchup/__init__.py,,\n{di}/METADATA,,\n"
                                           f"{di}/WHEEL,,\n{di}/RECORD,,\n")

    MANIFESTS = {
        "findings": """[pipeline]
name = "bench-findings"
project = "."
[[stage]]
id = "detect"
component = "builtin:detect"
config = { previous = "security/previous", current = "security/current" }
[stage.grants]
files = [{ path = "security", access = "read" }]
limits = { output_kib = 262144, memory_mib = 2048 }
[[stage]]
id = "decide"
component = "builtin:decide"
needs = ["detect"]
config = { tag = "v1.0.0" }
[stage.grants]
files = [{ path = ".", access = "read" }]
limits = { output_kib = 262144, memory_mib = 2048 }
[[stage]]
id = "status"
component = "builtin:status"
needs = ["detect"]
after = ["decide"]
config = { out = "public/status" }
[stage.grants]
files = [{ path = "public/status", access = "write" }]
limits = { output_kib = 262144, memory_mib = 2048 }
""",
        "build": """[pipeline]
name = "bench-build"
project = "."
[[stage]]
id = "build"
component = "builtin:build"
config = { out = "dist" }
[stage.grants]
files = [{ path = ".", access = "read" }, { path = "dist", access = "write" }]
env = ["SOURCE_DATE_EPOCH"]
limits = { memory_mib = 2048 }
""",
        "upload": """[pipeline]
name = "bench-upload"
project = "."
[[stage]]
id = "upload"
component = "builtin:upload"
# The synthetic wheels carry no RECORD hashes: this measures uploading, not validation
# (twine, which it is compared with, does not validate either).
config = { repository = "http://127.0.0.1:1/", dist = "dist", validate = false }
[stage.grants]
files = [{ path = "dist", access = "read" }]
http = ["{config.repository}"]
limits = { memory_mib = 2048 }
""",
    }

    def scale(self) -> None:
        sizes = {"findings": (10_000, 1_000), "build": (5_000, 500), "upload": (50, 5)}
        units = {"findings": "findings (vs as many previous)", "build": "files", "upload": "wheels of 100 KiB"}
        runs = 1 if self.quick else max(1, self.args.runs // 2)
        rows = {}
        for kind, (big, small) in sizes.items():
            wanted = [small] if self.quick else [small, big]
            for n in wanted:
                proj = self.tmp / f"scale-{kind}-{n}"
                proj.mkdir()
                (proj / "release.toml").write_text(self.MANIFESTS[kind])
                if kind == "findings":
                    self.gen_scan(proj, n)
                    shutil.copy(ROOT / "examples" / "demo" / "pyproject.toml", proj / "pyproject.toml")
                    # the version the tag names
                    t = (proj / "pyproject.toml").read_text().replace('version = "0.1.0"', 'version = "1.0.0"')
                    (proj / "pyproject.toml").write_text(t)
                elif kind == "build":
                    self.gen_project(proj, n)
                else:
                    self.gen_wheels(proj / "dist", n)
                samples, others = [], []
                for i in range(runs):
                    extra = None
                    if kind == "upload":
                        with Server(self.tmp) as srv:
                            r = run([self.airlock, "run", proj / "release.toml", "--format", "json", "--set",
                                     f"upload.repository={srv.url}"], cwd=proj, env=self.env(), check=False)
                            got = len(srv.files())
                        if r.code == 0 and got != n:
                            raise RuntimeError(f"upload of {n}: the server holds {got} files")
                        with Server(self.tmp) as srv:
                            files = sorted(str(p) for p in (proj / "dist").glob("*.whl"))
                            extra = run([sys.executable, "-m", "twine", "upload", "--non-interactive",
                                         "--disable-progress-bar", "--repository-url", srv.url, "-u", "b", "-p", "b",
                                         *files], cwd=proj, env=self.env(), check=False)
                    else:
                        shutil.rmtree(proj / "dist", ignore_errors=True) if kind == "build" else None
                        shutil.rmtree(proj / "public", ignore_errors=True)
                        r = run([self.airlock, "run", proj / "release.toml", "--format", "json"], cwd=proj,
                                env=self.env(), check=False)
                        if kind == "build" and not self.quick:
                            extra = run([sys.executable, "-m", "build", "--no-isolation", "--outdir",
                                         self.tmp / f"pb-{n}-{i}", proj], cwd=proj, env=self.env(), check=False)
                    if r.code != 0:
                        raise RuntimeError(f"scale {kind} {n}: airlock exited {r.code}:\n{r.err[-3000:]}")
                    samples.append((r, report_stages(r)))
                    if extra is not None:
                        others.append(extra)
                    log(f"  scale {kind} {n}: {r.wall * 1000:.0f} ms, {r.rss_kib / 1024:.0f} MiB")
                    if r.wall > 20:  # one sample of a slow workload is enough to see it
                        break
                rows[(kind, n)] = (samples, others)
        self.out("## Scale")
        self.out()
        self.out(f"Synthetic inputs generated in a temp dir; {runs} run(s) per size (median; one when a run takes "
                 "over 20 s), warm component cache. "
                 "Growth = figure at full size / figure at 1/10 size: 10x is linear; less means fixed costs "
                 "(start-up, compile-cache load, the index's round trips) still dominate at 1/10.")
        self.out()
        self.out("| workload | size | wall | peak RSS | stage run time (host's timing) | comparison |")
        self.out("|---|---|---|---|---|---|")
        for (kind, n), (samples, others) in rows.items():
            wall = med([r.wall for r, _ in samples])
            rss = max(r.rss_kib for r, _ in samples)
            st = {}
            for _, stages in samples:
                for s in stages:
                    st.setdefault(s["id"], []).append(s.get("run_ms", 0))
            stages = ", ".join(f"{k} {ms(med(v) / 1000)}" for k, v in st.items())
            cmp = ""
            if others:
                ok = [o for o in others if o.code == 0]
                label = "twine upload" if kind == "upload" else "python -m build --no-isolation"
                cmp = (f"{label}: {ms(med([o.wall for o in ok]))}, {mib(max(o.rss_kib for o in ok))}" if ok
                       else f"{label} failed: {others[0].err.strip().splitlines()[-1:]}")
            self.out(f"| {kind} | {n} {units[kind]} ({len(samples)} run{'s' if len(samples) > 1 else ''}) | {ms(wall)} | {mib(rss)} | {stages} | {cmp} |")
            if kind == "findings" and n == sizes["findings"][0]:
                s = med(st.get("status", [float("nan")])) / 1000
                self.findings.append(f"status for {n} findings {ms(s)} (goal < 1 s: {'met' if s < 1 else 'missed'})")
        self.out()
        if not self.quick:
            self.out("| workload | time growth (1/10 → full) | stage run-time growth | peak RSS growth | linear? |")
            self.out("|---|---|---|---|---|")
            for kind, (big, small) in sizes.items():
                (sb, _), (ss, _) = rows[(kind, big)], rows[(kind, small)]
                g = med([r.wall for r, _ in sb]) / med([r.wall for r, _ in ss])
                stage_sum = lambda smp: med([sum(s.get("run_ms", 0) for s in st) for _, st in smp])
                gs = stage_sum(sb) / stage_sum(ss)
                gr = max(r.rss_kib for r, _ in sb) / max(r.rss_kib for r, _ in ss)
                verdict = ("linear or better" if gs <= 12 else "slightly superlinear" if gs <= 20
                           else "superlinear")
                self.out(f"| {kind} | {g:.1f}x | {gs:.1f}x | {gr:.1f}x | {verdict} (judged on the stage run time) |")
            self.out()

    # ------------------------------------------------------------ driver

    def main(self) -> int:
        t0 = time.perf_counter()
        sections = self.args.only.split(",") if self.args.only else ["startup", "e2e", "scale"]
        self.out(BEGIN)
        self.out()
        try:
            self.add_second()
            self.machine()
            for s in ["startup", "e2e", "second", "scale"]:
                if s == "second" and not {"startup", "e2e"} & set(sections):
                    continue
                if s != "second" and s not in sections:
                    continue
                if s in ("e2e", "scale"):
                    for b in self.bins if s == "e2e" else self.bins[:1]:
                        if b.cache is None:
                            self.prepare(b)
                log(f"== {s}")
                getattr(self, s)()
            self.out("## Against the goals")
            self.out()
            for f in self.findings:
                self.out(f"- {f}")
            self.out()
            self.out(f"(suite wall time {time.perf_counter() - t0:.0f} s)")
            self.out()
            self.out(END)
        finally:
            if not self.args.keep:
                shutil.rmtree(self.tmp, ignore_errors=True)
        if self.args.markdown:
            path = Path(self.args.markdown)
            text = "\n".join(self.md) + "\n"
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
    return str(ROOT / "target" / "release" / "airlock")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--quick", action="store_true",
                    help="CI mode: fewer runs, 1/10 sizes only, one cold start (about 1-2 minutes)")
    ap.add_argument("--airlock", default=default_airlock(),
                    help="the airlock binary (default: target/release/airlock, else target/debug/airlock)")
    ap.add_argument("--runs", type=int, default=None, help="timed rounds per comparison (default 7, quick 3)")
    ap.add_argument("--only", help="comma-separated sections: startup,e2e,scale")
    ap.add_argument("--markdown", help="also write the report into this file (between the bench markers if present)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    second = ap.add_mutually_exclusive_group()
    second.add_argument("--airlock-wheel", metavar="WHEEL",
                        help="also measure the airlock of this wheel (airlock-release, installed into a fresh venv "
                             "in the temp dir) next to --airlock, alternated, in startup and e2e")
    second.add_argument("--compare-airlock", metavar="BIN",
                        help="also measure this airlock binary next to --airlock (as --airlock-wheel does)")
    args = ap.parse_args()
    if args.runs is None:
        args.runs = 3 if args.quick else 7
    if not Path(args.airlock).is_file():
        print(f"no airlock binary at {args.airlock}: cargo build --release -p airlock", file=sys.stderr)
        return 2
    for opt, path in (("--airlock-wheel", args.airlock_wheel), ("--compare-airlock", args.compare_airlock)):
        if path and not Path(path).is_file():
            print(f"{opt}: no file at {path}", file=sys.stderr)
            return 2
    for mod in ("build", "twine", "pypiserver", "hatchling"):
        if subprocess.run([sys.executable, "-c", f"import {mod}"], capture_output=True).returncode:
            print(f"python3 needs {mod}: python3 -m pip install -r tests/requirements.txt build", file=sys.stderr)
            return 2
    return Bench(args).main()


if __name__ == "__main__":
    sys.exit(main())
