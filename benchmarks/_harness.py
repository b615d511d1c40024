"""Shared measuring code of the whole-process benchmarks (export_speed, big_model, graph_latency).

Every measured command runs in a fresh process spawned by a bare ``python -S`` launcher, which
reports the wall time from spawn to exit and the child's peak RSS (``ru_maxrss`` from
``os.wait4``).  The launcher is what keeps that number honest: Linux carries a forking parent's
high-water mark across ``exec``, so a child forked off this (large) benchmark process would
report our peak, not its own.  The launcher itself is ~8 MB, the floor of the RSS column.
"""

from __future__ import annotations

import atexit
import functools
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # the scripts import prototxt_tools from this checkout
    sys.path.insert(0, str(REPO))

_LAUNCHER = ("import os, sys, time\n"
             "start = time.perf_counter()\n"
             "pid = os.posix_spawnp(sys.argv[1], sys.argv[1:], os.environ)\n"
             "_, status, usage = os.wait4(pid, 0)\n"
             "print('@@', os.waitstatus_to_exitcode(status), usage.ru_maxrss, "
             "time.perf_counter() - start)\n")


class CommandFailed(RuntimeError):
    """A measured command exited with a non-zero status (its output is in the message)."""


@dataclass
class Run:
    """One process: wall seconds from spawn to exit, peak RSS in bytes, its output."""

    seconds: float
    rss: int
    stdout: str
    stderr: str


@functools.lru_cache(maxsize=None)
def neutral_cwd() -> str:
    """An empty folder for children to run in (deleted at exit)."""
    folder = tempfile.mkdtemp(prefix="bench-cwd-")
    atexit.register(shutil.rmtree, folder, True)
    return folder


def child_env(repo: Path | str | None = REPO, pycache: str | None = None) -> dict:
    """The environment of measured children: ``repo`` on PYTHONPATH (None: nothing added).

    With ``pycache`` modules are byte-compiled into that folder and the cache is used, as for
    an installed package (this machine sets PYTHONDONTWRITEBYTECODE, which would otherwise
    make every run compile our sources again: ~0.3 s of each process)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    if repo is not None:
        env["PYTHONPATH"] = str(repo)
    if pycache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = pycache
    return env


def run_measured(argv: list[str], env: dict | None = None, cwd: str | None = None,
                 timeout: float | None = None) -> Run:
    """Run ``argv`` (a program on PATH or a path) through the launcher; raise CommandFailed.

    ``cwd`` defaults to an empty folder, never this checkout: ``python -m`` puts the current
    directory first on sys.path, ahead of the PYTHONPATH that names the checkout measured."""
    environment = env if env is not None else child_env()
    cwd = cwd if cwd is not None else neutral_cwd()
    done = subprocess.run([sys.executable, "-S", "-c", _LAUNCHER, *argv], capture_output=True,
                          text=True, env=environment, cwd=cwd, timeout=timeout)
    report = [line for line in done.stdout.splitlines() if line.startswith("@@ ")]
    if not report:
        raise CommandFailed(f"{argv[:3]}: launcher failed: {done.stderr.strip()[-2000:]}")
    _, code, maxrss, wall = report[-1].split()
    stdout = "\n".join(line for line in done.stdout.splitlines() if not line.startswith("@@ "))
    if int(code):
        raise CommandFailed(f"{' '.join(argv[:4])} ... exited with {code}:\n"
                            f"{(stdout + done.stderr).strip()[-2000:]}")
    rss = int(maxrss) * (1 if sys.platform == "darwin" else 1024)
    return Run(float(wall), rss, stdout, done.stderr)


@dataclass
class Measurement:
    """``repeat`` runs of one command: median time, maximum peak RSS."""

    label: str
    runs: list = field(default_factory=list)
    note: str = ""

    @property
    def ok(self) -> bool:
        return bool(self.runs) and not self.note

    @property
    def seconds(self) -> float:
        return statistics.median(r.seconds for r in self.runs)

    @property
    def rss(self) -> int:
        return max(r.rss for r in self.runs)


@dataclass
class Command:
    """A command to measure: label, argv, environment, files to delete after each run."""

    label: str
    argv: list
    env: dict | None = None
    cleanup: tuple = ()
    timeout: float | None = None
    check: object = None  # callable(Run) -> error text or None, before cleanup
    cwd: str | None = None


def measure_rounds(commands: list[Command], repeat: int, log=None) -> list[Measurement]:
    """``repeat`` rounds, each running every command once in turn, so that a slow spell of
    the machine (other work on the cores, disk writeback) hits all of them alike.  A command
    that fails is not run again; its Measurement keeps the error as ``note``."""
    results = [Measurement(c.label) for c in commands]
    for round_ in range(repeat):
        for command, result in zip(commands, results):
            if result.note:
                continue
            try:
                run = run_measured(command.argv, env=command.env, cwd=command.cwd,
                                   timeout=command.timeout)
                error = command.check(run) if command.check else None
                if error:
                    result.note = error
                else:
                    result.runs.append(run)
            except (CommandFailed, subprocess.TimeoutExpired) as failed:
                result.note = str(failed).strip().splitlines()[-1][:300]
            finally:
                for path in command.cleanup:
                    remove(path)
            if log:
                last = f"{result.runs[-1].seconds:.2f} s, {mb(result.runs[-1].rss)} MB" \
                    if result.runs and not result.note else result.note
                log(f"  round {round_ + 1}/{repeat}  {command.label}: {last}")
    return results


def remove(path: str | os.PathLike) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def python_cli(*args: str) -> list[str]:
    """``python -m prototxt_tools ARGS`` with this interpreter."""
    return [sys.executable, "-m", "prototxt_tools", *args]


def durable(env: dict) -> dict:
    """``env`` with every write of ours fsynced (as when it replaces an existing file)."""
    return {**env, "PROTOTXT_TOOLS_FSYNC": "always"}


def settle() -> None:
    """Flush the inputs just written to disk, so their writeback does not slow the first
    measured commands down (the kernel throttles writers while much data is dirty)."""
    if hasattr(os, "sync"):
        os.sync()


def free_bytes(path: str | os.PathLike) -> int:
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize


def require_free_space(path: str | os.PathLike, needed: int) -> None:
    """Stop before writing multi-GB files onto a disk that cannot hold them."""
    free = free_bytes(path)
    if free < needed:
        raise SystemExit(f"{path}: {free / 1e9:.1f} GB free, this benchmark needs "
                         f"{needed / 1e9:.1f} GB; use --tmp DIR on a larger disk")


def machine() -> str:
    """CPU, cores, RAM, OS, Python and the libraries that matter to the numbers."""
    cpu = platform.processor() or platform.machine()
    ram = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f", {int(line.split()[1]) / 2**20:.0f} GB RAM"
                break
    except OSError:
        pass
    versions = []
    for module in ("numpy", "google.protobuf", "onnx", "onnxruntime"):
        try:
            imported = __import__(module, fromlist=["__version__"])
            versions.append(f"{module.split('.')[-1]} {imported.__version__}")
        except ImportError:
            pass
    return (f"{time.strftime('%Y-%m-%d')}, {cpu}, {os.cpu_count()} CPUs{ram}, "
            f"{platform.system()} {platform.release()}; Python {platform.python_version()}, "
            + ", ".join(versions))


def markdown(headers: list[str], rows: list[list], align: str | None = None) -> str:
    """A GitHub table; ``align`` is one letter per column, l or r (default: first left)."""
    align = align or "l" + "r" * (len(headers) - 1)
    lines = ["| " + " | ".join(headers) + " |",
             "|" + "|".join("---" if a == "l" else "---:" for a in align) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def mb(nbytes: float) -> str:
    return f"{nbytes / 1e6:,.0f}"
