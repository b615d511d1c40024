"""Pictures of nets: the layer graph with blob shapes on the edges, errors in red.

    from prototxt_tools.draw import draw
    dot_text = draw(loaded)                  # DOT text (Graphviz's language), no dependency
    svg = draw(loaded, "svg")                # bytes, rendered by Graphviz's `dot` when installed

In-place layers fold into the node of the layer they modify (:mod:`.graph`); labels and colours
are in :mod:`.dot`; :mod:`.render` runs Graphviz.
"""

from __future__ import annotations

from typing import Mapping

from .dot import shape_text, to_dot
from .graph import Drawing, Edge, Node, build_drawing
from .render import FORMATS, INSTALL_HINT, dot_program, format_of, render


def drawing_of(loaded, inputs: Mapping[str, tuple] | None = None) -> tuple[Drawing, object]:
    """The :class:`Drawing` of a LoadedNet (shapes inferred with ``inputs``) and its shapes."""
    from ..shapes.network import infer_shapes
    shapes = infer_shapes(loaded.network, inputs)
    return build_drawing(loaded.network, shapes), shapes


def draw(loaded, fmt: str = "dot", inputs: Mapping[str, tuple] | None = None,
         rankdir: str = "TB") -> str | bytes:
    """A LoadedNet as DOT text (``fmt="dot"``) or as SVG/PNG bytes (needs Graphviz's ``dot``)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    drawing, _ = drawing_of(loaded, inputs)
    text = to_dot(drawing, rankdir)
    return text if fmt == "dot" else render(text, fmt, loaded.path)


__all__ = ["Drawing", "Edge", "FORMATS", "INSTALL_HINT", "Node", "build_drawing", "dot_program",
           "draw", "drawing_of", "format_of", "render", "shape_text", "to_dot"]
