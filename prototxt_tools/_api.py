"""The public functions re-exported by :mod:`prototxt_tools` (see its docstring for the list).

Each is a thin, typed front to one stage of the pipeline, taking plain values (paths, names,
tuples) so a notebook or a script never needs the internal modules.  Heavy stages (shapes,
lint, ONNX) are imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

if TYPE_CHECKING:  # pragma: no cover - imports for annotations only
    from .caffemodel import CaffeModel
    from .export.model import ExportedModel
    from .fix.engine import FixOutcome
    from .ir import Network
    from .lint.diagnostic import Diagnostic
    from .load import LoadedNet
    from .shapes.network import NetworkShapes

Inputs = Mapping[str, Sequence[int]]
Selectors = str | Iterable[str] | None


def load(path: str | os.PathLike[str], *, text: str | bytes | None = None,
         phase: str = "TEST", stages: Iterable[str] = (), level: int = 0) -> "LoadedNet":
    """Read a .prototxt (any format: V0, V1, current), upgrade it as Caffe does, build the graph.

    ``text`` parses that text under the name ``path`` instead of reading the file.  The net is
    filtered for ``phase`` / ``stages`` / ``level`` as Caffe's NetState rules say.

    >>> net = load("samples/tiny_convnet.prototxt")
    >>> [layer.name for layer in net.network.layers][:2]
    ['data', 'conv1']

    Raises ParseError (syntax, unknown fields) or UpgradeError, positioned in the file.  Graph
    errors are not raised: they are ``net.network.issues``.
    """
    from .ir import NetState
    from .load import load_net
    return load_net(os.fspath(path), NetState.of(phase, level, stages), text=text)


def _network(net: "LoadedNet | Network | str | os.PathLike[str]") -> "Network":
    from .load import LoadedNet
    if isinstance(net, LoadedNet):
        return net.network
    if isinstance(net, (str, os.PathLike)):
        return load(net).network
    return net


def infer_shapes(net: "LoadedNet | Network | str | os.PathLike[str]",
                 inputs: Inputs | None = None) -> "NetworkShapes":
    """Caffe's exact shape of every blob, each layer's parameter shapes and MACs.

    ``net`` is a path, a :class:`LoadedNet` or its ``network``; ``inputs`` overrides the shapes
    of named net inputs (``{"data": (1, 3, 384, 384)}``).  Layers Caffe would refuse are in
    ``result.errors`` (the walk goes on with unknown shapes after them), not raised.

    >>> shapes = infer_shapes("samples/tiny_convnet.prototxt", {"data": (2, 3, 32, 32)})
    >>> shapes.by_name()["data"]
    (2, 3, 32, 32)
    """
    from .plugins import load_entry_point_plugins
    from .shapes.network import infer_shapes as infer
    load_entry_point_plugins()
    return infer(_network(net), {k: tuple(v) for k, v in (inputs or {}).items()})


def _selected(path: str, select: Selectors, ignore: Selectors, extend_select: Selectors,
              config: bool) -> frozenset:
    """Rule codes for ``path``: the defaults, the discovered configuration (with its
    per-file-ignores), then these arguments -- the command line's order of precedence."""
    from .lint.config import ConfigFinder, LintConfig
    from .lint.registry import all_rules
    from .lint.selection import Selection, SelectionLevel, parse_selectors

    rules = all_rules()
    codes = [r.code for r in rules]
    found = ConfigFinder().for_file(path) if config else LintConfig()
    where = str(found.path) if found.path else "config"
    levels = [SelectionLevel(
        parse_selectors(found.select, codes, where) if found.select is not None else None,
        parse_selectors(found.extend_select, codes, where),
        parse_selectors(found.ignore, codes, where))]
    levels.append(SelectionLevel(
        parse_selectors(select, codes, "select") if select is not None else None,
        parse_selectors(extend_select, codes, "extend_select"),
        parse_selectors(ignore, codes, "ignore")))
    per_file = found.ignores_for(path)
    if per_file:
        levels.append(SelectionLevel(ignore=parse_selectors(per_file, codes, where)))
    return Selection(levels).resolve(codes, [r.code for r in rules if r.default])


def _options(weights, inputs: Inputs | None, phase: str, stages: Iterable[str], level: int):
    from .ir import NetState
    from .lint.context import LintOptions
    pairs = tuple((name, tuple(shape)) for name, shape in (inputs or {}).items())
    return LintOptions(NetState.of(phase, level, stages),
                       os.fspath(weights) if weights is not None else None, pairs)


def lint(path: str | os.PathLike[str], *, text: str | None = None, select: Selectors = None,
         ignore: Selectors = None, extend_select: Selectors = None, config: bool = True,
         weights: str | os.PathLike[str] | None = None, inputs: Inputs | None = None,
         phase: str = "TEST", stages: Iterable[str] = (), level: int = 0) -> "list[Diagnostic]":
    """Lint one net; the diagnostics, sorted by position.

    Rules are chosen as ``prototxt-lint`` chooses them: the defaults, then the nearest
    ``pyproject.toml`` / ``setup.cfg`` configuration (``config=False`` skips it), then
    ``select`` / ``extend_select`` / ``ignore`` (codes or prefixes: ``"E2"``, ``["W401"]``).
    ``weights`` (a caffemodel) enables the weight rules.  A file that does not parse gives an
    E001 diagnostic, not an exception.

    >>> [d.code for d in lint("samples/alexnet.prototxt")]
    ['E201']
    """
    from .lint.runner import lint_source
    from .plugins import load_entry_point_plugins
    load_entry_point_plugins()
    path = os.fspath(path)
    return lint_source(path, _selected(path, select, ignore, extend_select, config),
                       _options(weights, inputs, phase, stages, level), text=text)


def fix(path: str | os.PathLike[str], *, text: str | None = None, write: bool = False,
        unsafe_fixes: bool = False, select: Selectors = None, ignore: Selectors = None,
        extend_select: Selectors = None, config: bool = True,
        weights: str | os.PathLike[str] | None = None, inputs: Inputs | None = None,
        phase: str = "TEST", stages: Iterable[str] = (), level: int = 0) -> "FixOutcome":
    """Apply the linter's fixes by minimal edits; ``outcome.text`` is the fixed text.

    Nothing is written unless ``write=True`` (then the file is replaced atomically, keeping its
    encoding and line endings, and only when something changed).  ``outcome.applied`` lists the
    fixes, ``outcome.remaining`` the diagnostics left.  Rules are selected as for :func:`lint`.

    >>> outcome = fix("samples/lenet_v1.prototxt")          # V1 -> current format
    >>> outcome.changed, "type: CONVOLUTION" in outcome.text
    (True, False)
    """
    from .fix.engine import fix_text
    from .plugins import load_entry_point_plugins
    load_entry_point_plugins()
    path = os.fspath(path)
    selected = _selected(path, select, ignore, extend_select, config)
    options = _options(weights, inputs, phase, stages, level)
    if write:
        if text is not None:
            raise ValueError("fix(write=True) writes the file it reads: do not pass text")
        return _fix_in_place(path, selected, options, unsafe_fixes)
    if text is None:
        from .text import decode_prototxt
        with open(path, "rb") as f:
            text = decode_prototxt(f.read())[0]
    return fix_text(path, text, selected, options, unsafe_fixes)


def _fix_in_place(path: str, selected: frozenset, options, unsafe_fixes: bool) -> "FixOutcome":
    from .errors import PrototxtToolsError
    from .fix.files import WRITE, fix_path
    done = fix_path(path, selected, options, unsafe_fixes, WRITE)
    if done.error is not None:
        # fix_path reports errors as the CLI's one-line text; keep it as the message
        raise PrototxtToolsError(done.error.split(": error: ", 1)[-1], path)
    return done.outcome


def to_onnx(net: "LoadedNet | str | os.PathLike[str]", weights=None, *,
            random_seed: int | None = None, opset: int | None = None,
            dynamic_batch: bool = False, inputs: Inputs | None = None,
            optimize: bool = False) -> "ExportedModel":
    """Export to ONNX with Caffe's exact semantics.  Writing the model needs no onnx package;
    checking it (``save(check=True)``, ``serialize()``) does: ``pip install
    prototxt-tools[onnx]``.

    ``weights`` is a caffemodel path or a :class:`CaffeModel` (matched by layer name, as Caffe
    does); without one, ``random_seed`` makes seeded weights.  The whole net is refused up
    front (UnsupportedError listing every layer) when a layer cannot be exported exactly.
    ``optimize`` folds BatchNorm/Scale/Bias into the preceding convolution or inner product and
    drops identities (outputs equal within float rounding).

    >>> exported = to_onnx("samples/tiny_convnet.prototxt", "samples/tiny_convnet.caffemodel")
    >>> written = exported.save("tiny.onnx")                    # doctest: +SKIP
    """
    from .plugins import load_entry_point_plugins
    load_entry_point_plugins()  # before the import below hands their exporters to it
    from .export import DEFAULT_OPSET, export_onnx
    if weights is not None and isinstance(weights, os.PathLike):
        weights = os.fspath(weights)
    loaded = load(net) if isinstance(net, (str, os.PathLike)) else net
    return export_onnx(loaded, weights, random_seed=random_seed, opset=opset or DEFAULT_OPSET,
                       dynamic_batch=dynamic_batch, optimize=optimize,
                       input_shapes={k: tuple(v) for k, v in (inputs or {}).items()})


def upgrade(path: str | os.PathLike[str], *, text: str | None = None) -> str:
    """A V0/V1 .prototxt in the current format, as text (Caffe's ``upgrade_net_proto_text``).

    The file's leading comment block is kept; the rest is written in Caffe's canonical layout
    (``fix(path, select="W4")`` upgrades by minimal edits instead, keeping every comment).
    An already current net comes back reformatted.

    >>> "layer {" in upgrade("samples/lenet_v1.prototxt")
    True
    """
    from .load import current_format_text
    return current_format_text(load(path, text=text))


def upgrade_caffemodel(source) -> "CaffeModel":
    """A V0/V1 .caffemodel (path or bytes) upgraded as Caffe does when it loads one; its blobs
    are carried over untouched.  Save it with ``write_caffemodel(out, model.net, model.layers)``.
    """
    from .caffemodel import CaffeModel, LayerWeights, read_caffemodel
    from .upgrade import upgrade_caffemodel_net
    model = read_caffemodel(source)
    result = upgrade_caffemodel_net(model.net)
    layers = []
    for layer, origin in zip(result.net.layer, result.layer_origin):
        # each layer keeps its blobs; a layer the upgrade made (the Input) has none
        blobs = model.layers[origin[1]].blobs if origin and origin[0] in ("layer", "layers") else []
        layers.append(LayerWeights(layer.name, layer.type, list(blobs)))
    return CaffeModel(result.net, "V2", layers, model.path)


def draw(net: "LoadedNet | str | os.PathLike[str]", fmt: str = "dot", *,
         inputs: Inputs | None = None, rankdir: str = "TB") -> str | bytes:
    """The layer graph with blob shapes on the edges: DOT text, or SVG/PNG bytes (``fmt``
    "svg"/"png" need Graphviz's ``dot`` program).  In-place layers are folded into the node
    they modify; layers with graph or shape errors are red.

    >>> print(draw("samples/tiny_convnet.prototxt").splitlines()[0])
    digraph "tiny_convnet" {
    """
    from .draw import draw as draw_net
    from .plugins import load_entry_point_plugins
    load_entry_point_plugins()
    loaded = load(net) if isinstance(net, (str, os.PathLike)) else net
    return draw_net(loaded, fmt, {k: tuple(v) for k, v in (inputs or {}).items()}, rankdir)
