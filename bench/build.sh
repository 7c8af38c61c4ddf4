#!/usr/bin/env bash
# Build-speed benchmark: the airlock build stage (the real `airlock` binary running the
# one-stage build manifest, component instantiation included) against
# `python -m build --no-isolation` and `uv build`, on the real projects of the conformance
# suite (sdists from PyPI, cached under target/fixtures/pypi).
#
#   bench/build.sh            # all projects, 5 timed runs each (median reported)
#   RUNS=3 bench/build.sh click packaging
#   LEVEL=9 bench/build.sh    # the stage with sdist_compression_level = 9 (default: the
#                             # stage's own, 6; hatchling and flit compress at 9)
#
# Needs: python3 with `build`, hatchling==1.27.0, flit_core==3.12.0 (tests/requirements.txt),
# `uv` on PATH, and an airlock binary (AIRLOCK=path, default target/release/airlock, else
# target/debug/airlock; build it with `cargo build --release -p airlock` for real numbers).
# Prints a Markdown table with the medians and the ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
AIRLOCK="${AIRLOCK:-}"
if [[ -z "$AIRLOCK" ]]; then
  if [[ -x target/release/airlock ]]; then AIRLOCK=target/release/airlock; else AIRLOCK=target/debug/airlock; fi
fi
[[ -x "$AIRLOCK" ]] || { echo "no airlock binary at $AIRLOCK: cargo build --release -p airlock" >&2; exit 2; }
command -v uv >/dev/null || { echo "uv is not on PATH (pip install uv)" >&2; exit 2; }
python3 -c "import build, hatchling, flit_core" || { echo "python3 needs build, hatchling, flit_core: python3 -m pip install -r tests/requirements.txt" >&2; exit 2; }
export AIRLOCK RUNS="${RUNS:-5}" LEVEL="${LEVEL:-}"
exec python3 - "$@" <<'PY'
import os, re, shutil, statistics, subprocess, sys, tarfile, tempfile, time
from pathlib import Path

PROJECTS = [
    ("mypylogger", "0.2.8"), ("typing-inspection", "0.4.1"), ("uvicorn", "0.35.0"),
    ("annotated-types", "0.7.0"), ("click", "8.5.1"), ("packaging", "26.3"),
    ("typing_extensions", "4.16.0"), ("flit", "3.12.0"), ("flask", "3.1.2"),
    # uv_build projects (`uv build` builds them with its own Rust backend, no Python).
    ("styro", "0.1.32"), ("meatie", "0.1.28"), ("that-depends", "3.9.0"), ("foamlib", "1.5.0"),
]
want = set(sys.argv[1:])
airlock = os.path.abspath(os.environ["AIRLOCK"])
runs = int(os.environ["RUNS"])
cache = Path("target/fixtures/pypi"); cache.mkdir(parents=True, exist_ok=True)
tmp = Path(tempfile.mkdtemp(prefix="airlock-bench-"))
manifest = tmp / "release.toml"
manifest.write_text("""[pipeline]
name = "bench"
project = "."
[[stage]]
id = "build"
component = "builtin:build"
config = { out = "dist" }
[stage.grants]
files = [{ path = ".", access = "read" }, { path = "dist", access = "write" }]
""")
env = dict(os.environ, SOURCE_DATE_EPOCH="1700000000", AIRLOCK_CACHE_DIR=str(tmp / "cache"))

def sdist(name, version):
    norm = re.sub(r"[-_.]+", "_", name.lower())
    for p in cache.glob("*.tar.gz"):
        n, _, v = p.name[: -len(".tar.gz")].rpartition("-")
        if re.sub(r"[-_.]+", "_", n.lower()) == norm and v == version:
            return p
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
                    "-d", str(cache), f"{name}=={version}"], check=True)
    return sdist(name, version)

def timed(cmd, cwd, out):
    shutil.rmtree(out, ignore_errors=True)
    t = time.perf_counter()
    r = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    dt = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, cmd))} failed:\n{r.stderr.decode()}")
    return dt

def median(cmd, cwd, out):
    timed(cmd, cwd, out)  # warm-up (component compile cache, uv cache, page cache)
    return statistics.median(timed(cmd, cwd, out) for _ in range(runs))

rows = []
for name, version in PROJECTS:
    if want and name not in want:
        continue
    src = sdist(name, version)
    with tarfile.open(src) as t:
        top = t.getnames()[0].split("/")[0]
        t.extractall(tmp / name, filter="data")
    proj = tmp / name / top
    level = ["--set", f"build.sdist_compression_level={os.environ['LEVEL']}"] if os.environ["LEVEL"] else []
    a = median([airlock, "run", str(manifest), "--project", str(proj), *level], proj, proj / "dist")
    p = median([sys.executable, "-m", "build", "--no-isolation", "--skip-dependency-check", "--outdir", str(tmp / "pb"), str(proj)], proj, tmp / "pb")
    u = median(["uv", "build", "--quiet", "--out-dir", str(tmp / "uvb"), str(proj)], proj, tmp / "uvb")
    rows.append((f"{name} {version}", a, p, u))
    print(f"{name}: airlock {a:.3f}s, python -m build {p:.3f}s, uv build {u:.3f}s", file=sys.stderr)

print(f"\nairlock binary: {airlock}, sdist_compression_level={os.environ['LEVEL'] or 'default (6)'} (median of {runs} runs after one warm-up; sdist + wheel each)\n")
print("| project | airlock build stage | python -m build --no-isolation | uv build | python -m build / airlock | uv build / airlock |")
print("|---|---|---|---|---|---|")
for n, a, p, u in rows:
    print(f"| {n} | {a*1000:.0f} ms | {p*1000:.0f} ms | {u*1000:.0f} ms | {p/a:.1f}x | {u/a:.1f}x |")
shutil.rmtree(tmp, ignore_errors=True)
PY
