"""Regression tests for the bugs the reliability work (issue 7) found outside the binary reader;
each names the symptom it pins down."""

from __future__ import annotations

import pytest

from prototxt_tools.shapes.network import parse_input_override


@pytest.mark.parametrize("text", ["data=1,3,,8", "data=1,3,x,8", "data=1,3,8,8,", "data=,1",
                                  "data=1x3xx8"])
def test_input_override_with_a_missing_dimension_is_refused(text):
    """``--input data=1,3,,8`` used to become a 3-D (1, 3, 8) input without a word."""
    with pytest.raises(ValueError, match="missing"):
        parse_input_override(text)


def test_input_override_separators_and_spaces_still_work():
    assert parse_input_override(" data = 1, 3 ,8x8") == ("data", (1, 3, 8, 8))
