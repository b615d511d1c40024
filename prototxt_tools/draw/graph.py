"""The picture's graph: layer nodes (in-place chains folded in), blob edges with shapes, errors.

A layer written in place (``top`` == ``bottom``: ReLU, BatchNorm, Scale, Dropout...) becomes part
of the node of the layer that produced its input, listed on that node's last line, as long as
nothing else reads the value before it is overwritten (else the picture would show a consumer
reading the wrong value, and the layer keeps its own node).  Edges carry the shape of the blob
version they stand for (``1×256×56×56``; ``?`` when shape inference could not tell).  Graph
errors (an undefined bottom, a duplicate top...) and shape errors (a layer Caffe refuses) mark
their node in red with the message; a bottom no layer produces is drawn as a red blob node.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..ir import BlobVersion, Layer, Network

FOLDABLE_MAX_BLOBS = 1  # only one-bottom, one-top in-place layers fold into their producer


@dataclass
class Node:
    """One box of the picture: a head layer and the in-place layers folded into it."""

    id: str
    kind: str  # "layer", "input", "output" (a net output blob), "missing" (an undefined bottom),
    # "junction" (where a blob read by several layers splits, as Caffe's own Split layer does)
    layers: list = field(default_factory=list)
    name: str = ""  # output/missing nodes: the blob name
    errors: list = field(default_factory=list)  # messages, in layer order
    unknown: str | None = None  # why shapes stop here (a type without a shape rule, ...)

    @property
    def head(self) -> Layer | None:
        return self.layers[0] if self.layers else None

    @property
    def folded(self) -> list:
        return self.layers[1:]


@dataclass
class Edge:
    tail: str
    head: str
    shape: tuple | None  # None: unknown
    blob: str  # blob name
    key: str = ""  # the blob version's key (conv1, conv1@2): edges of one version may share a junction
    show_name: bool = False  # the producer has several tops: say which one
    error: bool = False
    plain: bool = False  # from a junction: the shape is on the edge into the junction
    to_split: bool = False  # into a junction


@dataclass
class Drawing:
    name: str
    nodes: list = field(default_factory=list)
    edges: list = field(default_factory=list)

    def node(self, node_id: str) -> Node:
        return next(n for n in self.nodes if n.id == node_id)

    @property
    def has_errors(self) -> bool:
        return any(n.errors for n in self.nodes) or any(e.error for e in self.edges)


def build_drawing(network: Network, shapes) -> Drawing:
    """The drawing of ``network`` with ``shapes`` (a NetworkShapes, or None: no shapes)."""
    drawing = Drawing(network.name or "net")
    node_of: dict[Layer, Node] = {}
    for layer in network.layers:
        producer = _fold_target(layer)
        if producer is not None and producer in node_of:
            node = node_of[producer]
            node.layers.append(layer)
        else:
            node = Node(f"L{layer.index}", "input" if layer.type == "Input" else "layer", [layer])
            drawing.nodes.append(node)
        node_of[layer] = node
    _add_edges(drawing, network, node_of, shapes)
    _add_junctions(drawing)
    _add_outputs(drawing, network, node_of, shapes)
    _mark_problems(drawing, network, node_of, shapes)
    return drawing


def _fold_target(layer: Layer) -> Layer | None:
    """The layer whose node ``layer`` folds into, or None when it gets its own node."""
    if len(layer.param.bottom) != 1 or len(layer.param.top) != 1 or not layer.in_place(0):
        return None
    if len(layer.bottoms) != 1:  # its bottom is undefined
        return None
    blob = layer.bottoms[0]
    producer = blob.producer
    # a producer with several tops would not show which of them the layer modifies
    if (producer is None or producer.type == "Input" or len(producer.tops) != 1
            or blob.consumers != [layer]):
        return None
    return producer


def _shape(shapes, blob: BlobVersion) -> tuple | None:
    return None if shapes is None else shapes.blobs.get(blob)


def _add_edges(drawing: Drawing, network: Network, node_of: dict, shapes) -> None:
    missing: dict[str, Node] = {}
    for layer in network.layers:
        head = node_of[layer]
        resolved = iter(layer.bottoms)
        pending = next(resolved, None)
        for name in layer.param.bottom:
            if pending is not None and pending.name == name:
                blob, pending = pending, next(resolved, None)
                tail = node_of[blob.producer]
                if tail is not head:
                    drawing.edges.append(Edge(tail.id, head.id, _shape(shapes, blob), blob.name,
                                              blob.key, show_name=_several_tops(tail)))
                continue
            # a bottom no earlier layer produces: a red blob node feeding the layer
            if name not in missing:
                missing[name] = Node(f"M{len(missing)}", "missing", name=name,
                                     errors=[f"blob '{name}' is not produced by an earlier layer"])
                drawing.nodes.append(missing[name])
            drawing.edges.append(Edge(missing[name].id, head.id, None, name, error=True))


def _add_junctions(drawing: Drawing) -> None:
    """A blob read by several layers: one labelled edge to a junction, plain edges onwards, so
    its shape is written once (GoogLeNet's branch points, ResNet's shortcuts)."""
    groups: dict[tuple, list] = {}
    for edge in drawing.edges:
        if not edge.error:
            groups.setdefault((edge.tail, edge.key), []).append(edge)
    for (tail, _), edges in groups.items():
        if len(edges) < 2:
            continue
        junction = Node(f"J{sum(n.kind == 'junction' for n in drawing.nodes)}", "junction",
                        name=edges[0].blob)
        drawing.nodes.append(junction)
        first = edges[0]
        drawing.edges.insert(drawing.edges.index(first), Edge(
            tail, junction.id, first.shape, first.blob, first.key, show_name=first.show_name,
            to_split=True))
        for edge in edges:
            edge.tail, edge.show_name, edge.plain = junction.id, False, True


def _several_tops(node: Node) -> bool:
    return node.head is not None and len(node.head.tops) > 1


def _add_outputs(drawing: Drawing, network: Network, node_of: dict, shapes) -> None:
    """Net outputs (what Caffe returns from a forward pass) as small blob nodes at the end."""
    for i, blob in enumerate(network.outputs):
        if blob.producer is None:
            continue
        node = Node(f"O{i}", "output", name=blob.name)
        drawing.nodes.append(node)
        drawing.edges.append(Edge(node_of[blob.producer].id, node.id, _shape(shapes, blob),
                                  blob.name))


def _mark_problems(drawing: Drawing, network: Network, node_of: dict, shapes) -> None:
    by_origin = {tuple(layer.origin): layer for layer in network.layers}
    for issue in network.issues:
        layer = _issue_layer(issue, by_origin)
        if layer is not None and issue.severity == "error":
            node_of[layer].errors.append(issue.message)
    if shapes is None:
        return
    for layer in network.layers:
        outcome = shapes.layers.get(layer)
        if outcome is None:
            continue
        node = node_of[layer]
        who = "" if layer is node.head else f"{layer.name}: "  # a folded layer names itself
        if outcome.error is not None:
            node.errors.append(who + outcome.error.message)
        elif outcome.unknown is not None and outcome.unknown.code != "unknown-input":
            node.unknown = node.unknown or who + outcome.unknown.reason


def _issue_layer(issue, by_origin: dict) -> Layer | None:
    """The layer an IR issue is about: the one whose origin prefixes the issue's field path."""
    path = tuple(issue.field_path)
    for n in range(len(path), 0, -1):
        layer = by_origin.get(path[:n])
        if layer is not None:
            return layer
    return None
