"""``--optimize``: fold per-channel affine steps into the preceding Conv/ConvTranspose/Gemm and
drop Identity nodes, on the exported graph.

BatchNorm exports as Sub(mean) + Div(std), Scale as Mul (+ Add), Bias as Add, each with a
constant per output channel.  When such a node is the *only* consumer of a Conv /
ConvTranspose / Gemm output (and that output is no net output and no Loop body reads it), its
constant is folded into the weights and bias — Mul/Div scale the filters and the bias, Add/Sub
shift the bias — and the chain's last output becomes the Conv's.  Identity nodes (Split tops,
test-time Dropout, single-top Slice) are removed by renaming.  Folding changes the rounding of
the float sums: results stay within ~1e-6 relative of the unoptimized graph, not bit-equal.
The pass is deterministic: nodes are visited in order and new names are derived from old ones.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from . import onnx_proto as helper
from .onnx_proto import GraphProto, NodeProto

from .model import ExportedModel

AFFINE = ("Mul", "Div", "Add", "Sub")
LINEAR = ("Conv", "ConvTranspose", "Gemm")


class Graph:
    """The mutable parts of a graph: nodes in order, initializer arrays, pinned names."""

    def __init__(self, exported: ExportedModel):
        graph = exported.model.graph
        self.nodes = [_copy(node) for node in graph.node]
        self.arrays = dict(exported.initializers)
        self.order = [name for name, _ in exported.initializers]
        self.outputs = {o.name for o in graph.output}
        self.inputs = {i.name for i in graph.input}
        # names a Loop body reads from the main graph: never renamed or folded away
        self.pinned = {name for node in self.nodes for name in _subgraph_reads(node)}

    def remove(self, node: NodeProto) -> None:
        self.nodes = [n for n in self.nodes if n is not node]  # by identity, not by value

    def alive(self, node: NodeProto) -> bool:
        return any(n is node for n in self.nodes)

    def consumers(self, name: str) -> list:
        return [n for n in self.nodes if name in n.input]

    def uses(self, name: str) -> int:
        return sum(list(n.input).count(name) for n in self.nodes) + (name in self.pinned)

    def fresh(self, base: str) -> str:
        name, k = f"{base}/folded", 0
        taken = set(self.arrays) | {o for n in self.nodes for o in n.output} | self.inputs
        while name in taken:
            k += 1
            name = f"{base}/folded_{k}"
        return name

    def own_array(self, node: NodeProto, index: int) -> np.ndarray:
        """The initializer at ``node.input[index]``, copied to a new name when shared."""
        name = node.input[index]
        array = self.arrays[name].copy()
        if self.uses(name) > 1:
            name = self.fresh(name)
            node.input[index] = name
            self.order.append(name)
        self.arrays[name] = array
        return array


def optimize(exported: ExportedModel) -> ExportedModel:
    """A new ExportedModel with affine chains folded and Identity nodes removed."""
    graph = Graph(exported)
    for node in list(graph.nodes):
        if node.op_type in LINEAR and graph.alive(node) and node.input[1] in graph.arrays:
            while _fold_next(graph, node):
                pass
    _drop_identities(graph)
    return _rebuild(exported, graph)


def _copy(node: NodeProto) -> NodeProto:
    copy = NodeProto()
    copy.CopyFrom(node)
    return copy


def _subgraph_reads(node: NodeProto) -> set:
    names = set()
    for attribute in node.attribute:
        for body in ([attribute.g] if attribute.HasField("g") else []) + list(attribute.graphs):
            for inner in body.node:
                names.update(inner.input)
                names |= _subgraph_reads(inner)
    return names


def _channels(graph: Graph, node: NodeProto) -> int:
    weight = graph.arrays[node.input[1]]
    if node.op_type == "Conv":
        return weight.shape[0]
    if node.op_type == "ConvTranspose":
        return weight.shape[1] * _attr(node, "group", 1)
    return weight.shape[0] if _attr(node, "transB", 0) else weight.shape[1]


def _attr(node: NodeProto, name: str, default):
    for attribute in node.attribute:
        if attribute.name == name:
            return helper.get_attribute_value(attribute)
    return default


def _per_channel(constant: np.ndarray, channels: int, rank: int) -> np.ndarray | None:
    """The constant as one value per output channel (axis 1 of a rank-``rank`` output), or
    None when broadcasting it would touch other axes or change the output's shape."""
    if constant.ndim > rank:
        return None
    dims = (1,) * (rank - constant.ndim) + constant.shape
    if any(d != 1 for i, d in enumerate(dims) if i != 1) or dims[1] not in (1, channels):
        return None
    return np.broadcast_to(constant.reshape(-1), (channels,)).astype(np.float32)


def _fold_next(graph: Graph, node: NodeProto) -> bool:
    """Fold the single consumer of ``node``'s output into it; True when something folded."""
    out = node.output[0]
    if out in graph.outputs or out in graph.pinned or node.op_type == "Gemm" and (
            _attr(node, "alpha", 1.0) != 1.0 or _attr(node, "beta", 1.0) != 1.0):
        return False
    users = graph.consumers(out)
    if len(users) != 1 or users[0].op_type not in AFFINE or list(users[0].input).count(out) != 1:
        return False
    step = users[0]
    position = list(step.input).index(out)
    other = step.input[1 - position]
    if other not in graph.arrays or (position == 1 and step.op_type in ("Sub", "Div")):
        return False
    rank = 2 if node.op_type == "Gemm" else graph.arrays[node.input[1]].ndim
    values = _per_channel(graph.arrays[other], _channels(graph, node), rank)
    if values is None or (step.op_type == "Div" and not np.all(values)):
        return False
    _apply(graph, node, step.op_type, values)
    node.output[0] = step.output[0]
    graph.remove(step)
    return True


def _apply(graph: Graph, node: NodeProto, op: str, values: np.ndarray) -> None:
    if op in ("Mul", "Div"):
        view = _channel_view(node, graph.own_array(node, 1))
        per_channel = values.reshape(_channel_shape(node, view))
        if op == "Mul":
            view *= per_channel
        else:
            view /= per_channel
    bias = _bias(graph, node)
    if op == "Mul":
        bias *= values
    elif op == "Div":
        bias /= values
    elif op == "Add":
        bias += values
    else:
        bias -= values


def _channel_view(node: NodeProto, weight: np.ndarray) -> np.ndarray:
    """A view of the weights with the output channel on an axis of its own."""
    if node.op_type == "ConvTranspose":  # (C_in, M/g, k...) -> (g, C_in/g, M/g, k...)
        group = _attr(node, "group", 1)
        return weight.reshape((group, weight.shape[0] // group) + weight.shape[1:])
    return weight


def _channel_shape(node: NodeProto, view: np.ndarray) -> tuple:
    if node.op_type == "ConvTranspose":
        return (view.shape[0], 1, view.shape[2]) + (1,) * (view.ndim - 3)
    if node.op_type == "Gemm" and not _attr(node, "transB", 0):
        return (1, view.shape[1])
    return (view.shape[0],) + (1,) * (view.ndim - 1)


def _bias(graph: Graph, node: NodeProto) -> np.ndarray:
    if len(node.input) > 2 and node.input[2]:
        return graph.own_array(node, 2)
    name = graph.fresh(f"{node.name}/bias")
    graph.arrays[name] = np.zeros(_channels(graph, node), np.float32)
    graph.order.append(name)
    if len(node.input) == 2:
        node.input.append(name)
    else:
        node.input[2] = name
    return graph.arrays[name]


def _drop_identities(graph: Graph) -> None:
    """Remove Identity nodes by renaming, keeping every net input and output name."""
    for node in [n for n in graph.nodes if n.op_type == "Identity"]:
        source, target = node.input[0], node.output[0]
        if target not in graph.outputs and target not in graph.pinned:
            for user in graph.consumers(target):
                user.input[:] = [source if name == target else name for name in user.input]
            graph.remove(node)
            continue
        producer = next((n for n in graph.nodes if source in n.output), None)
        if producer is not None and source not in graph.outputs | graph.pinned and \
                graph.uses(source) == 1:
            producer.output[:] = [target if name == source else name for name in producer.output]
            graph.remove(node)


def _rebuild(exported: ExportedModel, graph: Graph) -> ExportedModel:
    used = {name for node in graph.nodes for name in node.input} | graph.pinned
    produced = {name for node in graph.nodes for name in node.output} | graph.inputs
    old = exported.model.graph
    new_graph = GraphProto()
    new_graph.CopyFrom(old)
    del new_graph.node[:]
    new_graph.node.extend(graph.nodes)
    del new_graph.value_info[:]
    new_graph.value_info.extend(v for v in old.value_info if v.name in produced)
    model = type(exported.model)()
    model.CopyFrom(exported.model)
    model.graph.CopyFrom(new_graph)
    initializers = [(name, graph.arrays[name]) for name in graph.order if name in used]
    return replace(exported, model=model, initializers=initializers)
