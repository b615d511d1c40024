"""Lint the whole shared corpus (and a synthetic repository) as a user would: whole process.

    python benchmarks/lint_corpus.py [--corpus ../shared/corpus] [--synthetic 2000] [--repeat 3]

Each measurement runs ``python -m prototxt_tools lint --exit-zero --format json`` in a fresh
subprocess (spawned through a bare ``python -S`` launcher so ``ru_maxrss`` is the child's own peak)
and reports the median wall time, files per second and peak RSS, for ``-j 1`` and ``-j 2``.  The
synthetic repository is generated in a temporary directory (copies of the corpus deploy nets
under distinct names), never committed.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

LAUNCHER = r"""
import os, sys, time
t = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # the report itself is not measured output
    os.execv(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
print(time.perf_counter() - t, usage.ru_maxrss, os.waitstatus_to_exitcode(status))
"""


def measure(args: list[str], cwd: Path) -> tuple[float, int]:
    out = subprocess.run([sys.executable, "-S", "-c", LAUNCHER, sys.executable, *args],
                         capture_output=True, text=True, cwd=cwd, env={**os.environ, "PYTHONPATH": str(REPO)})
    seconds, rss_kb, code = out.stdout.split()
    if int(code) not in (0, 1):
        raise SystemExit(f"lint failed ({code}): {out.stderr}")
    return float(seconds), int(rss_kb) // 1024


def count_files(path: Path) -> int:
    return sum(1 for _ in path.rglob("*.prototxt"))


def synthetic_repo(corpus: Path, n: int, into: Path) -> Path:
    sources = sorted(p for p in corpus.rglob("*.prototxt") if "deploy" in p.name or "train" in p.name)
    for i in range(n):
        src = sources[i % len(sources)]
        dest = into / f"model{i // 100:02d}" / f"{i:05d}_{src.name}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
    return into


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus")
    ap.add_argument("--synthetic", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3)
    opts = ap.parse_args()
    if not opts.corpus.is_dir():
        raise SystemExit(f"no corpus at {opts.corpus}")
    print(f"# {time.strftime('%Y-%m-%d')}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}")
    print("| input | files | jobs | median time (s) | files/s | peak RSS (MB) |")
    print("|---|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        targets = [("shared corpus", opts.corpus)]
        if opts.synthetic:
            targets.append(("synthetic repo", synthetic_repo(opts.corpus, opts.synthetic, Path(tmp))))
        for label, path in targets:
            n = count_files(path)
            for jobs in (1, 2):
                runs = [measure(["-m", "prototxt_tools", "lint", "--exit-zero", "--format", "json",
                                 "-j", str(jobs), str(path)], REPO) for _ in range(opts.repeat)]
                t = statistics.median(r[0] for r in runs)
                rss = max(r[1] for r in runs)
                print(f"| {label} | {n} | {jobs} | {t:.2f} | {n / t:.0f} | {rss} |", flush=True)


if __name__ == "__main__":
    main()
