"""Loading a net: text -> NetParameter + source map -> upgrade -> network IR.

The one place the pipeline's early stages are chained, so every command (lint, shapes, fix, onnx)
reads a file the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import PrototxtToolsError
from .ir import NetState, Network, build_network
from .schema import caffe_pb2
from .source import SourceMap


@dataclass
class LoadedNet:
    """A prototxt as written (``parsed``) and as Caffe sees it (``net`` upgraded, ``network`` IR)."""

    path: str
    text: str
    parsed: Any  # prototxt_tools.text.ParsedText: document (CST), message, source_map, warnings
    format: str  # "V0" | "V1" | "V2" as written
    net: caffe_pb2.NetParameter  # upgraded to the current format
    layer_origin: list  # field path in the file of each layer of ``net``
    upgrade_changes: list = field(default_factory=list)
    network: Network | None = None

    @property
    def source_map(self) -> SourceMap:
        return self.parsed.source_map

    @property
    def warnings(self) -> list:
        return self.parsed.warnings

    def __repr__(self) -> str:
        fmt = self.format if self.format == "V2" else f"{self.format}, upgraded"
        layers = len(self.network.layers) if self.network is not None else len(self.net.layer)
        return f"<LoadedNet {self.path!r} ({fmt}): {layers} layers>"


def load_net(path: str, state: NetState | None = None, text: str | bytes | None = None) -> LoadedNet:
    """Read (or parse ``text``), upgrade and build a net.

    Raises PrototxtToolsError subclasses on bad input: ParseError (syntax, types), UpgradeError
    (a legacy net Caffe's upgrader refuses), each positioned in the user's file.  Graph problems
    are not raised: they are ``network.issues`` for the caller to report or raise.
    """
    from .text import parse_prototxt, read_prototxt
    from .upgrade import upgrade_net

    parsed = read_prototxt(path) if text is None else parse_prototxt(text, path)
    try:
        upgraded = upgrade_net(parsed.message)
    except PrototxtToolsError as exc:
        raise positioned(exc, parsed.source_map) from None
    network = build_network(upgraded.net, state, parsed.source_map, upgraded.layer_origin)
    return LoadedNet(parsed.path, parsed.text, parsed, upgraded.source_format, upgraded.net,
                     list(upgraded.layer_origin), list(upgraded.changes), network)


def current_format_text(loaded: LoadedNet) -> str:
    """The net as Caffe sees it (upgraded), in Caffe's canonical layout; the file's leading
    comment block (licence, description) is kept, other comments are not."""
    from .text import format_message
    return leading_comments(loaded.text) + format_message(loaded.net) + "\n"


def leading_comments(text: str) -> str:
    """The comment lines at the top of a file, with their newlines, and a blank line after."""
    lines = []
    for line in text.splitlines(keepends=True):
        if line.lstrip().startswith("#") or (lines and not line.strip()):
            lines.append(line)
        else:
            break
    while lines and not lines[-1].strip():
        lines.pop()
    return "".join(lines) + ("\n" if lines else "")


def positioned(exc: PrototxtToolsError, source_map: SourceMap) -> PrototxtToolsError:
    """Fill in path/line/col of an error that only knows its field path."""
    exc.path = exc.path or source_map.path
    if exc.line is None and exc.field_path is not None:
        span = source_map.position(exc.field_path)
        if span is not None:
            exc.line, exc.col = span.line, span.col
    return exc
