#!/usr/bin/env python3
"""Upload benchmark: airlock's upload stage vs `twine upload` vs `uv publish`.

Uploads (1) mypylogger 0.2.8's wheel and sdist and (2) a generated 200 MiB wheel to a
fresh pypiserver on 127.0.0.1 (no auth) for each tool, in one run, and prints wall time
and the peak RSS of each tool's process tree (ru_maxrss of the waited-for child).

    python3 stages/upload/bench/publish_bench.py [--airlock target/release/airlock] [--big-mib 200]

Needs: pypiserver, twine, uv (tests/requirements.txt + uv), target/fixtures (any
`cargo test` run downloads it). airlock's time is the upload stage's own elapsed time
from the JSON report (the process also starts the host and the authenticate stage) and,
separately, the whole process.
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../../.."))
FIX = os.path.join(ROOT, "target/fixtures")
FILES = ["mypylogger-0.2.8-py3-none-any.whl", "mypylogger-0.2.8.tar.gz"]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Server:
    def __init__(self):
        self.dir = tempfile.mkdtemp()
        self.port = free_port()
        self.proc = subprocess.Popen(
            ["pypi-server", "run", "-i", "127.0.0.1", "-p", str(self.port), "-a", ".", "-P", ".",
             "--disable-fallback", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/simple/", timeout=1)
                return
            except Exception:
                time.sleep(0.1)
        raise SystemExit("pypiserver did not start")

    def url(self):
        return f"http://127.0.0.1:{self.port}/"

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def measure(cmd, env=None, cwd=None):
    """Runs cmd under /usr/bin/time; returns (seconds, peak RSS MiB, CompletedProcess)."""
    rss_file = tempfile.mktemp()
    t = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss_file, *cmd], env=env, cwd=cwd,
                       capture_output=True, text=True)
    dt = time.perf_counter() - t
    if p.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed:\n{p.stdout}\n{p.stderr}")
    with open(rss_file) as f:
        rss = int(f.read().strip().splitlines()[-1]) / 1024
    os.unlink(rss_file)
    return dt, rss, p, True


def big_wheel(path, mib):
    """A valid pure-Python wheel with one incompressible member of `mib` MiB."""
    name = "bigpkg-1.0-py3-none-any.whl"
    whl = os.path.join(path, name)
    meta = "Metadata-Version: 2.1\nName: bigpkg\nVersion: 1.0\nSummary: benchmark payload\n"
    wheel = "Wheel-Version: 1.0\nGenerator: bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    with zipfile.ZipFile(whl, "w", zipfile.ZIP_STORED) as z:
        z.writestr("bigpkg/__init__.py", "")
        with z.open("bigpkg/blob.bin", "w", force_zip64=True) as f:
            for _ in range(mib):
                f.write(os.urandom(1024 * 1024))
        z.writestr("bigpkg-1.0.dist-info/METADATA", meta)
        z.writestr("bigpkg-1.0.dist-info/WHEEL", wheel)
        z.writestr("bigpkg-1.0.dist-info/RECORD", "")
    return whl


MANIFEST = """
[pipeline]
name = "bench"
[[stage]]
id = "upload"
component = "builtin:upload"
config = {{ repository = "{url}", dist = "dist" }}
[stage.grants]
files = [{{ path = "dist", access = "read" }}]
http = ["{{config.repository}}"]
limits = {{ memory_mib = 64 }}
"""


def airlock(binary, files, cache):
    srv = Server()
    try:
        proj = tempfile.mkdtemp()
        os.makedirs(os.path.join(proj, "dist"))
        for f in files:
            os.link(f, os.path.join(proj, "dist", os.path.basename(f))) if os.stat(f).st_dev == os.stat(proj).st_dev else shutil.copy(f, os.path.join(proj, "dist"))
        with open(os.path.join(proj, "release.toml"), "w") as m:
            m.write(MANIFEST.format(url=srv.url()))
        env = dict(os.environ, AIRLOCK_CACHE_DIR=cache)
        env.pop("GITHUB_ACTIONS", None)
        # Warm the compile cache once (not measured).
        dt, rss, p, new = measure([binary, "run", os.path.join(proj, "release.toml"), "--format", "json"], env)
        stage = next(s for s in json.loads(p.stdout)["stages"] if s["id"] == "upload")
        statuses = [f["status"] for f in stage["output"]["files"]]
        shutil.rmtree(proj)
        return dt, stage.get("run_ms", 0) / 1000, rss, new, statuses
    finally:
        srv.stop()


def twine(files):
    srv = Server()
    try:
        return measure(["twine", "upload", "--disable-progress-bar", "--non-interactive",
                        "--repository-url", srv.url(), "-u", "x", "-p", "x", *files])
    finally:
        srv.stop()


def uv(files):
    srv = Server()
    try:
        return measure(["uv", "publish", "--publish-url", srv.url(), "-u", "x", "-p", "x", *files])
    finally:
        srv.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--airlock", default=os.path.join(ROOT, "target/release/airlock"))
    ap.add_argument("--big-mib", type=int, default=200)
    a = ap.parse_args()
    small = [os.path.join(FIX, f) for f in FILES]
    cache = tempfile.mkdtemp()
    # Warm: compile the components once.
    airlock(a.airlock, small, cache)
    rows = []
    dt, stage_s, rss, _, st = airlock(a.airlock, small, cache)
    rows.append(("airlock (process)", "mypylogger", dt, rss))
    rows.append(("airlock (upload stage)", "mypylogger", stage_s, None))
    dt, rss_t, _, _ = twine(small)
    rows.append(("twine upload", "mypylogger", dt, rss_t))
    dt, rss_u, _, _ = uv(small)
    rows.append(("uv publish", "mypylogger", dt, rss_u))
    tmp = tempfile.mkdtemp()
    big = big_wheel(tmp, a.big_mib)
    dt, stage_s, rss_a, new, st = airlock(a.airlock, [big], cache)
    rows.append(("airlock (process)", f"{a.big_mib} MiB wheel", dt, rss_a if new else None))
    rows.append(("airlock (upload stage)", f"{a.big_mib} MiB wheel", stage_s, None))
    dt, rss, _, new = uv([big])
    rows.append(("uv publish", f"{a.big_mib} MiB wheel", dt, rss if new else None))
    dt, rss, _, new = twine([big])
    rows.append(("twine upload", f"{a.big_mib} MiB wheel", dt, rss if new else None))
    shutil.rmtree(tmp)
    shutil.rmtree(cache)
    print(f"{'tool':<24} {'files':<16} {'seconds':>8} {'peak RSS MiB':>13}")
    for tool, what, dt, rss in rows:
        print(f"{tool:<24} {what:<16} {dt:>8.3f} {('%.1f' % rss) if rss else '(lower)':>13}")


if __name__ == "__main__":
    sys.exit(main())
