"""The network IR: a current-format (V2) net as layers and versioned blobs.

Built from an upgraded ``NetParameter`` after Caffe's ``Net::FilterNet`` phase/stage/level rules.
In-place layers (``top`` equal to the ``bottom`` at the same index) create a new *version* of the
blob, so ``conv1`` before and after ``relu1`` are distinct :class:`BlobVersion` objects and every
version has exactly one producer.  Graph errors are facts of the IR (:attr:`Network.issues`), each
with the field path of the user's original text, so the linter can report them with positions;
:meth:`Network.raise_for_errors` turns them into one :class:`GraphError` for commands that need a
sound graph.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

from .errors import GraphError
from .schema import caffe_pb2
from .source import FieldPath, SourceMap

PHASES = {"TRAIN": caffe_pb2.TRAIN, "TEST": caffe_pb2.TEST}


@dataclass(frozen=True)
class NetState:
    """Caffe's NetState: the phase, level and stages a net is instantiated with."""

    phase: int = caffe_pb2.TEST
    level: int = 0
    stages: frozenset = frozenset()

    @classmethod
    def of(cls, phase: str | int = "TEST", level: int = 0, stages: Iterable[str] = ()) -> "NetState":
        if isinstance(phase, str):
            try:
                phase = PHASES[phase.upper()]
            except KeyError:
                raise ValueError(f"phase must be TRAIN or TEST, not {phase!r}") from None
        return cls(phase, level, frozenset(stages))


def rule_met(rule: caffe_pb2.NetStateRule, state: NetState) -> bool:
    """Caffe's Net::StateMeetsRule: every condition the rule states must hold."""
    if rule.HasField("phase") and rule.phase != state.phase:
        return False
    if rule.HasField("min_level") and state.level < rule.min_level:
        return False
    if rule.HasField("max_level") and state.level > rule.max_level:
        return False
    if any(stage not in state.stages for stage in rule.stage):
        return False
    return not any(stage in state.stages for stage in rule.not_stage)


def layer_included(layer, state: NetState) -> bool:
    """Caffe's Net::FilterNet for one layer: include rules are a whitelist, exclude a blacklist."""
    if layer.include:
        return any(rule_met(r, state) for r in layer.include)
    return not any(rule_met(r, state) for r in layer.exclude)


@dataclass(eq=False)
class BlobVersion:
    """One value of a named blob: produced by one layer (or a net input), read by consumers."""

    name: str
    version: int
    producer: "Layer | None"
    consumers: list = field(default_factory=list)

    @property
    def key(self) -> str:
        """Unique, deterministic name: ``conv1`` for the first version, ``conv1@2`` for the third."""
        return self.name if self.version == 0 else f"{self.name}@{self.version}"

    def __repr__(self) -> str:
        return f"<BlobVersion {self.key}>"


@dataclass(eq=False)
class Layer:
    """A layer of the filtered net, pointing back at the user's original text through ``origin``."""

    index: int
    name: str
    type: str
    param: caffe_pb2.LayerParameter
    origin: FieldPath
    bottoms: list = field(default_factory=list)
    tops: list = field(default_factory=list)

    def in_place(self, top_index: int) -> bool:
        p = self.param
        return top_index < len(p.bottom) and p.top[top_index] == p.bottom[top_index]

    def __repr__(self) -> str:
        return f"<Layer {self.index} {self.name!r} ({self.type})>"


@dataclass(frozen=True)
class GraphIssue:
    """A graph error or warning found while building the IR."""

    code: str  # machine id: undefined-bottom, duplicate-top, duplicate-layer-name, cycle, include-and-exclude
    message: str
    field_path: FieldPath
    layer: str
    severity: str = "error"


@dataclass
class Network:
    name: str
    layers: list
    inputs: list  # BlobVersions produced by Input layers (what a user feeds)
    blobs: list  # every BlobVersion in production order
    issues: list
    source_map: SourceMap | None = None
    excluded: list = field(default_factory=list)  # origins of layers filtered out by the net state

    @property
    def outputs(self) -> list:
        """Caffe's net outputs: the last version of every blob that no layer reads afterwards."""
        latest: dict[str, BlobVersion] = {}
        for b in self.blobs:
            latest[b.name] = b
        return [b for b in latest.values() if not b.consumers]

    def __repr__(self) -> str:
        def names(blobs) -> str:
            shown = ", ".join(b.name for b in blobs[:4])
            return shown + (f", ... ({len(blobs)})" if len(blobs) > 4 else "") or "none"
        errors = len(self.errors())
        problems = f", {errors} graph error{'s' * (errors != 1)}" if errors else ""
        return (f"<Network {self.name!r}: {len(self.layers)} layers, inputs {names(self.inputs)}, "
                f"outputs {names(self.outputs)}{problems}>")

    def layer(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    def errors(self) -> list:
        return [i for i in self.issues if i.severity == "error"]

    def raise_for_errors(self) -> None:
        """Raise the first graph error as a positioned GraphError (the rest are in .issues)."""
        errs = self.errors()
        if not errs:
            return
        issue = errs[0]
        path, line, col = None, None, None
        if self.source_map is not None:
            path = self.source_map.path
            span = self.source_map.position(issue.field_path)
            if span is not None:
                line, col = span.line, span.col
        extra = f" (and {len(errs) - 1} more)" if len(errs) > 1 else ""
        raise GraphError(issue.message + extra, path, line, col)


def build_network(net: caffe_pb2.NetParameter, state: NetState | None = None,
                  source_map: SourceMap | None = None,
                  layer_origin: Sequence[FieldPath] | None = None) -> Network:
    """Build the IR of a current-format net.

    ``layer_origin[i]`` is the field path in the user's file that layer ``i`` of ``net`` came from
    (see prototxt_tools.upgrade); it defaults to ``("layer", i)``.
    """
    state = state or NetState()
    if net.layers or net.input:
        raise ValueError("build_network needs an upgraded (V2) net; run prototxt_tools.upgrade first")
    origins = list(layer_origin) if layer_origin is not None else [("layer", i) for i in range(len(net.layer))]
    issues: list[GraphIssue] = []
    layers: list[Layer] = []
    excluded: list = []
    for i, lp in enumerate(net.layer):
        if lp.include and lp.exclude:
            # Caffe: CHECK(layer_param.include_size() == 0 || layer_param.exclude_size() == 0)
            issues.append(GraphIssue("include-and-exclude",
                                     f"layer '{lp.name}' has both include and exclude rules; Caffe "
                                     "accepts only one kind", origins[i] + ("include", 0), lp.name))
        if not layer_included(lp, state):
            excluded.append(origins[i])
            continue
        layers.append(Layer(len(layers), lp.name, lp.type, lp, origins[i]))

    _check_duplicate_names(layers, issues)
    blobs = _connect(layers, issues)
    inputs = [t for layer in layers if layer.type == "Input" for t in layer.tops]
    return Network(net.name, layers, inputs, blobs, issues, source_map, excluded)


def _check_duplicate_names(layers: list, issues: list) -> None:
    seen: dict[str, Layer] = {}
    for layer in layers:
        first = seen.setdefault(layer.name, layer)
        if first is not layer:
            # Caffe itself keeps going, but weights are matched by layer name: the second layer
            # silently gets the first one's weights (or none).
            issues.append(GraphIssue("duplicate-layer-name",
                                     f"layer name '{layer.name}' is already used by layer "
                                     f"{first.index} ({first.type}); weights are matched by name",
                                     layer.origin + ("name",), layer.name))


def _connect(layers: list, issues: list) -> list:
    """Resolve bottoms to the latest version of each blob, in file order, as Caffe does."""
    latest: dict[str, BlobVersion] = {}
    all_blobs: list[BlobVersion] = []
    producers_later: dict[str, list] = {}
    for layer in layers:
        for j, top in enumerate(layer.param.top):
            # an in-place layer (top == bottom) only rewrites a blob someone else made: it can
            # neither define a missing bottom nor close a cycle
            if not layer.in_place(j):
                producers_later.setdefault(top, []).append((layer, j))

    for layer in layers:
        for j, name in enumerate(layer.param.bottom):
            blob = latest.get(name)
            if blob is None:
                issues.append(_undefined_bottom(layer, j, name, producers_later, layers))
                continue
            layer.bottoms.append(blob)
            blob.consumers.append(layer)
        for j, name in enumerate(layer.param.top):
            prev = latest.get(name)
            if prev is not None and not layer.in_place(j):
                prod = prev.producer.name if prev.producer else "?"
                issues.append(GraphIssue("duplicate-top",
                                         f"top '{name}' of layer '{layer.name}' is already produced by "
                                         f"layer '{prod}' (only in-place reuse, top == bottom at the same "
                                         "index, is allowed)", layer.origin + ("top", j), layer.name))
            version = prev.version + 1 if prev is not None else 0
            blob = BlobVersion(name, version, layer)
            latest[name] = blob
            layer.tops.append(blob)
            all_blobs.append(blob)
    return all_blobs


def _undefined_bottom(layer: Layer, j: int, name: str, producers: dict, layers: list) -> GraphIssue:
    path = layer.origin + ("bottom", j)
    later = [(p, k) for p, k in producers.get(name, ()) if p.index >= layer.index]
    if later and any(_depends_on(p, layer, layers) for p, _ in later):
        chain = later[0][0]
        return GraphIssue("cycle", f"bottom '{name}' of layer '{layer.name}' is produced by layer "
                          f"'{chain.name}', which itself depends on '{layer.name}': the graph has a cycle",
                          path, layer.name)
    if later:
        return GraphIssue("undefined-bottom", f"bottom '{name}' of layer '{layer.name}' is produced only "
                          f"later, by layer '{later[0][0].name}'; Caffe needs producers before consumers",
                          path, layer.name)
    return GraphIssue("undefined-bottom", f"bottom '{name}' of layer '{layer.name}' is not produced by "
                      "any layer or net input", path, layer.name)


def _depends_on(later: Layer, earlier: Layer, layers: list) -> bool:
    """Does ``later`` read (transitively, by blob name) anything ``earlier`` writes?"""
    frontier = set(earlier.param.top)
    for layer in layers[earlier.index + 1:later.index + 1]:
        if frontier.intersection(layer.param.bottom):
            if layer is later:
                return True
            frontier.update(layer.param.top)
    return False
