"""Helpers shared by the tests/test_reliability_*.py modules (not a test module itself)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def skip_slow_unless_selected(request):
    """``slow`` tests run only when selected with ``-m slow`` (setup.cfg: "opt in with -m
    slow"); without this they would run in every plain ``pytest`` run."""
    if request.node.get_closest_marker("slow") is None:
        return
    if "slow" not in (request.config.getoption("markexpr", "") or ""):
        pytest.skip("slow sweep: run with -m slow")
