"""Registry of ONNX exporters: one small function per Caffe layer type, found by the type name.

An exporter has the signature ``exporter(ctx, layer) -> None``: it reads the layer's bottoms,
shapes and weights from the :class:`~.context.ExportContext` and adds the ONNX nodes that
compute exactly what Caffe's ``Forward_cpu`` computes, writing the layer's tops.  A *limits*
function (optional) names the options the exporter cannot honour, from the prototxt alone, so
the whole net can be refused up front with every problem listed (as TVM's Caffe frontend does)::

    @exporter("Pooling", limits=pooling_limits, restrictions="STOCHASTIC not exported")
    def pooling(ctx, layer): ...

:data:`SUPPORTED` (type -> restrictions note) and :func:`supported_markdown` feed the README.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Optional

Limit = tuple  # (field path relative to the layer, message)
ExportFunction = Callable[..., None]
LimitsFunction = Callable[..., Iterable[Limit]]


@dataclass(frozen=True)
class Exporter:
    """A registered exporter and the facts the coverage table shows."""

    types: tuple
    function: ExportFunction
    limits: Optional[LimitsFunction] = None
    restrictions: str = ""
    fork: Optional[str] = None  # None = BVLC Caffe; else the fork that defines the layer

    @property
    def summary(self) -> str:
        doc = (self.function.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else ""


EXPORTERS: dict[str, Exporter] = {}
REFUSED: dict[str, str] = {}  # Caffe layer type -> why no exact ONNX expression exists


def exporter(*types: str, limits: LimitsFunction | None = None, restrictions: str = "",
             fork: str | None = None) -> Callable[[ExportFunction], ExportFunction]:
    """Register ``function`` for each Caffe type name; registering a name twice is a bug."""
    if not types:
        raise ValueError("exporter needs at least one layer type")

    def register(function: ExportFunction) -> ExportFunction:
        entry = Exporter(tuple(types), function, limits, restrictions, fork)
        for name in types:
            REFUSED.pop(name, None)  # a plugin's exporter replaces a built-in refusal
            if name in EXPORTERS:
                raise ValueError(f"ONNX exporter for layer type {name!r} registered twice "
                                 f"({EXPORTERS[name].function.__qualname__} and "
                                 f"{function.__qualname__})")
            EXPORTERS[name] = entry
        return function

    return register


def refuse(*types: str, reason: str) -> None:
    """Declare layer types the exporter refuses, with the reason shown to the user."""
    for name in types:
        if name in EXPORTERS or name in REFUSED:
            raise ValueError(f"layer type {name!r} is both exported and refused, or refused twice")
        REFUSED[name] = reason


def layer_limits(layer) -> Iterator[Limit]:
    """Every reason ``layer`` (an IR Layer) cannot be exported, judged from the prototxt."""
    if layer.type == "Python":
        param = layer.param.python_param
        yield (("type",), f"Python layer '{layer.name}' runs user code (module "
                          f"'{param.module}', class '{param.layer}'); it has no ONNX equivalent")
        return
    if layer.type in REFUSED:
        yield (("type",), f"layer '{layer.name}' ({layer.type}): {REFUSED[layer.type]}")
        return
    entry = EXPORTERS.get(layer.type)
    if entry is None:
        yield (("type",), f"layer '{layer.name}' of type '{layer.type}' has no ONNX exporter")
        return
    if entry.limits is not None:
        for field, message in entry.limits(layer.param):
            yield (tuple(field), f"layer '{layer.name}' ({layer.type}): {message}")


def supported() -> dict:
    """Caffe layer type -> restrictions note, for every exportable type."""
    return {name: e.restrictions for name, e in sorted(EXPORTERS.items())}


def supported_markdown() -> str:
    """The README's ONNX coverage table: one row per exporter (types sharing one share a row)."""
    rows = ["| Caffe layer type | defined by | ONNX export | restrictions |", "|---|---|---|---|"]
    seen = set()
    for name in sorted(EXPORTERS, key=str.lower):
        entry = EXPORTERS[name]
        if id(entry) in seen:
            continue
        seen.add(id(entry))
        cells = [", ".join(f"`{t}`" for t in entry.types), entry.fork or "BVLC Caffe",
                 entry.summary, entry.restrictions]
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(rows) + "\n"
