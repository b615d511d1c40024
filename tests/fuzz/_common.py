"""Shared helpers of the atheris harnesses (not a test module: pytest collects test_*.py only)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "corpus"


def setup_path() -> None:
    """Make ``prototxt_tools`` importable when the harness runs from a checkout."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))


def seed_directory(argv: list[str], seeds: list[Path], max_bytes: int) -> list[str]:
    """Fill the first positional directory of ``argv`` (libFuzzer's corpus dir) with seed files
    smaller than ``max_bytes`` when it is empty; returns argv unchanged otherwise."""
    dirs = [a for a in argv[1:] if not a.startswith("-")]
    if not dirs:
        return argv
    corpus_dir = Path(dirs[0])
    corpus_dir.mkdir(parents=True, exist_ok=True)
    if not any(corpus_dir.iterdir()):
        for i, seed in enumerate(seeds):
            if seed.is_file() and seed.stat().st_size <= max_bytes:
                shutil.copyfile(seed, corpus_dir / f"seed{i:04d}_{seed.name}")
    return argv


def corpus_glob(*patterns: str) -> list[Path]:
    if not CORPUS.is_dir():
        return []
    out: list[Path] = []
    for pattern in patterns:
        out.extend(sorted(CORPUS.glob(pattern)))
    return out


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))
