"""Shared fixtures. Tests that read ../shared/corpus skip cleanly when it is absent."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples"
CORPUS = REPO.parent / "shared" / "corpus"


def corpus_available() -> bool:
    return (CORPUS / "MANIFEST.tsv").is_file()


def corpus_manifest() -> list[dict]:
    """Rows of MANIFEST.tsv (empty list when the corpus is absent)."""
    if not corpus_available():
        return []
    with open(CORPUS / "MANIFEST.tsv", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def corpus_files(kind_prefix: str) -> list[Path]:
    """Corpus files whose MANIFEST kind starts with kind_prefix ('prototxt', 'caffemodel', ...)."""
    return [CORPUS / r["local_path"] for r in corpus_manifest() if r["kind"].startswith(kind_prefix)]


@pytest.fixture
def corpus() -> Path:
    if not corpus_available():
        pytest.skip("../shared/corpus is absent")
    return CORPUS


def pytest_collection_modifyitems(config, items):
    """Long sweeps (marked ``slow``) run only when asked for: ``pytest -m slow``."""
    if "slow" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="long sweep: run with -m slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
