"""Helpers shared by rule families: field paths of a layer's parts in the file as written."""

from __future__ import annotations

from ...source import FieldPath


def top_path(layer, j: int) -> FieldPath:
    """Where top ``j`` of an IR layer is written.  The Input layer Caffe makes from legacy
    ``input:`` fields has origin ``("input", 0)``; its top j is the j-th ``input`` field."""
    if layer.origin and layer.origin[0] == "input":
        return ("input", j)
    return tuple(layer.origin) + ("top", j)


def bottom_path(layer, j: int) -> FieldPath:
    return tuple(layer.origin) + ("bottom", j)


def type_path(layer) -> FieldPath:
    """The layer's ``type`` field (V0 files write it inside the inner ``layer`` block)."""
    return tuple(layer.origin) + ("type",)


def describe(layer) -> str:
    return f"layer '{layer.name}' ({layer.type})"
