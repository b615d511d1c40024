"""What an exporter works with: the layer's tensors, shapes and weights, and a graph builder.

Tensor names come from Caffe blob names.  Every :class:`~prototxt_tools.ir.BlobVersion` gets
one: net inputs and the *final* version of every other blob keep the plain name (the final
version is what Caffe's blob table holds after a forward pass, so net outputs read as in
Caffe); earlier versions of an in-place chain are ``name@version`` (``conv1@0`` before
``relu1``, as :attr:`BlobVersion.key` for later ones).
Helper tensors, nodes and initializers are ``<layer name>/<what>``; every name is unique and
depends only on the net, so exports are reproducible byte for byte.

Weights and constants stay numpy arrays (:attr:`ExportContext.initializers`) until the model is
saved, so a large model is never copied into one protobuf message.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator, NoReturn, Sequence

import numpy as np

from ..ir import BlobVersion, Layer, Network
from . import onnx_proto as helper
from .onnx_proto import NodeProto, TensorProto


class LayerUnsupported(Exception):
    """Raised by an exporter (via :meth:`ExportContext.unsupported`) for an option it cannot
    honour that only shows once shapes are known; the driver collects these for one error."""

    def __init__(self, layer: Layer, field: tuple, message: str):
        super().__init__(message)
        self.layer = layer
        self.field = tuple(field)
        self.message = message


class Names:
    """Deterministic unique names: the first request for ``base`` gets it, then ``base_1``..."""

    def __init__(self) -> None:
        self._used: set[str] = set()

    def __contains__(self, name: str) -> bool:
        return name in self._used

    def reserve(self, name: str) -> str:
        self._used.add(name)
        return name

    def fresh(self, base: str) -> str:
        name, k = base, 0
        while name in self._used:
            k += 1
            name = f"{base}_{k}"
        self._used.add(name)
        return name


def blob_tensor_names(network: Network, names: Names) -> dict:
    """BlobVersion -> tensor name.

    Net inputs keep their plain names (users feed them by name); so does the final version of
    every other blob; earlier versions, and a final version whose name an input holds, are
    ``name@version``.
    """
    result = {blob: names.reserve(blob.name) for blob in network.inputs}
    final: dict[str, BlobVersion] = {}
    for blob in network.blobs:
        final[blob.name] = blob
    for blob in final.values():
        if blob not in result and blob.name not in names:
            result[blob] = names.reserve(blob.name)
    for blob in network.blobs:
        if blob not in result:
            result[blob] = names.fresh(f"{blob.name}@{blob.version}")
    return result


class ExportContext:
    """Per-net export state handed to every exporter together with the layer."""

    def __init__(self, network: Network, shapes, weights: dict, opset: int,
                 dynamic_batch: bool = False):
        self.network = network
        self.shapes = shapes  # prototxt_tools.shapes.network.NetworkShapes
        self.opset = opset
        self.dynamic_batch = dynamic_batch
        self.nodes: list[NodeProto] = []
        self.initializers: list[tuple[str, np.ndarray]] = []
        self.names = Names()  # tensors and initializers
        self.node_names = Names()
        self.tensor_names = blob_tensor_names(network, self.names)
        self.caffe_weights = weights  # layer name -> Caffe blobs (float32 arrays)
        self._layer: Layer | None = None
        self._layer_nodes = 0

    # --- the current layer's tensors ------------------------------------------------------

    def begin_layer(self, layer: Layer) -> None:
        self._layer = layer
        self._layer_nodes = 0

    def bottom(self, layer: Layer, i: int = 0) -> str:
        return self.tensor_names[layer.bottoms[i]]

    def top(self, layer: Layer, i: int = 0) -> str:
        return self.tensor_names[layer.tops[i]]

    def bottom_shape(self, layer: Layer, i: int = 0) -> tuple:
        return tuple(self.shapes.blobs[layer.bottoms[i]])

    def top_shape(self, layer: Layer, i: int = 0) -> tuple:
        return tuple(self.shapes.blobs[layer.tops[i]])

    def weights(self, layer: Layer) -> list:
        """The layer's learned blobs in Caffe's order, float32, shaped as Caffe's layer has them."""
        return list(self.caffe_weights.get(layer.name, []))

    def unsupported(self, field: Sequence, message: str) -> NoReturn:
        """Refuse the current layer (field path relative to the layer) with a message."""
        raise LayerUnsupported(self._layer, tuple(field), message)

    def guard_batch_axis(self, axis: int, field: Sequence, what: str) -> None:
        """With --dynamic-batch an op along axis 0 would mix items of the batch: refuse it."""
        if self.dynamic_batch and axis == 0:
            self.unsupported(field, f"{what} works along axis 0, the batch axis; it cannot be "
                                    "exported with --dynamic-batch")

    # --- graph building ------------------------------------------------------------------

    def temp(self, hint: str) -> str:
        """A fresh tensor name for an intermediate value of the current layer."""
        return self.names.fresh(f"{self._layer.name}/{hint}")

    def op(self, op_type: str, *inputs: str, out: str | None = None, **attrs) -> str:
        """Add a one-output node; returns its output (``out``, or a fresh name)."""
        output = out if out is not None else self.temp(op_type.lower())
        self.ops(op_type, list(inputs), [output], **attrs)
        return output

    def ops(self, op_type: str, inputs: Sequence[str], outputs: Sequence[str], **attrs) -> list:
        """Add a node with several outputs (``""`` marks an omitted optional input)."""
        # Node names live apart from tensor names: a layer's first node is named after it.
        base = self._layer.name if not self._layer_nodes else f"{self._layer.name}/{op_type}"
        name = self.node_names.fresh(base)
        self._layer_nodes += 1
        self.nodes.append(helper.make_node(op_type, list(inputs), list(outputs), name=name,
                                           **attrs))
        return list(outputs)

    @contextmanager
    def subgraph(self) -> Iterator[list]:
        """Nodes added inside the block go to a list of their own (a Loop body); the body reads
        tensors and initializers of the main graph by name."""
        outer, self.nodes = self.nodes, []
        try:
            yield self.nodes
        finally:
            self.nodes = outer

    def loop(self, count: str, carried: Sequence[tuple], scanned: Sequence[tuple],
             build: Callable, outputs: Sequence[str]) -> list:
        """A Loop of ``count`` (int64 scalar tensor) iterations.

        ``carried`` are (initial tensor, shape) of loop-carried float values, ``scanned`` the
        shapes of the per-iteration float results, stacked on a new first axis.  ``build(i,
        state)`` adds the body's nodes (``i`` the int64 iteration number, ``state`` the carried
        values) and returns (next state, per-iteration results).  ``outputs`` names the Loop's
        outputs: final carried values, then the stacked results.

        Per-iteration results leave the body flattened to 1-D and are reshaped after the Loop:
        onnx.reference (1.23) concatenates higher-rank scan outputs instead of stacking them.
        The condition is passed explicitly (it treats an omitted one as false).
        """
        i, cond = self.temp("i"), self.temp("cond")
        state = [self.temp("state") for _ in carried]
        with self.subgraph() as nodes:
            next_state, results = build(i, state)
            flat = [self.op("Reshape", r, self.ints([-1], "flat")) for r in results]
            cond_out = self.op("Identity", cond)
        info = helper.make_tensor_value_info
        body = helper.make_graph(
            nodes, self.temp("body"),
            [info(i, TensorProto.INT64, []), info(cond, TensorProto.BOOL, [])]
            + [info(n, TensorProto.FLOAT, list(s)) for n, (_, s) in zip(state, carried)],
            [info(cond_out, TensorProto.BOOL, [])]
            + [info(n, TensorProto.FLOAT, list(s)) for n, (_, s) in zip(next_state, carried)]
            + [info(n, TensorProto.FLOAT, [int(np.prod(s))]) for n, s in zip(flat, scanned)])
        stacked = [self.temp("stacked") for _ in scanned]
        true = self.const(np.array(True), "true", np.bool_)
        self.ops("Loop", [count, true] + [initial for initial, _ in carried],
                 list(outputs[:len(carried)]) + stacked, body=body)
        for name, shape, out in zip(stacked, scanned, outputs[len(carried):]):
            self.op("Reshape", name, self.ints([-1] + list(shape), "stacked_shape"), out=out)
        return list(outputs)

    def const(self, value, hint: str, dtype=np.float32) -> str:
        """An initializer holding ``value`` (an array is kept as is when already ``dtype``)."""
        array = np.asarray(value)
        if array.dtype != dtype:
            array = array.astype(dtype)
        name = self.names.fresh(f"{self._layer.name}/{hint}")
        # (np.ascontiguousarray makes a 0-d array 1-d: keep the shape)
        self.initializers.append((name, np.ascontiguousarray(array).reshape(array.shape)))
        return name

    def ints(self, values: Sequence[int], hint: str) -> str:
        return self.const(np.asarray(values, dtype=np.int64), hint, np.int64)

    # --- helpers for common patterns -------------------------------------------------------

    def reshape(self, x: str, in_shape: Sequence[int], out_shape: Sequence[int],
                out: str | None = None) -> str:
        """Static Reshape; with --dynamic-batch the leading dim is copied (target 0), which is
        exact only when the reshape keeps each batch item's rows together: in[0] == out[0]."""
        in_shape, out_shape = tuple(in_shape), tuple(out_shape)
        if in_shape == out_shape:
            return x if out is None else self.op("Identity", x, out=out)
        target = list(out_shape)
        if self.dynamic_batch:
            if not (in_shape and out_shape and in_shape[0] == out_shape[0]):
                self.unsupported((), f"reshaping {in_shape} to {out_shape} changes the batch "
                                     "axis; it cannot be exported with --dynamic-batch")
            target[0] = 0
        return self.op("Reshape", x, self.ints(target, "shape"), out=out)

    def reduce(self, op_type: str, x: str, axes: Sequence[int], keepdims: bool,
               out: str | None = None) -> str:
        """Reduce* over ``axes``: an attribute before opset 18 (ReduceSum: 13), an input after."""
        axes = [int(a) for a in axes]
        if op_type == "ReduceSum" or self.opset >= 18:
            return self.op(op_type, x, self.ints(axes, "axes"), out=out, keepdims=int(keepdims))
        return self.op(op_type, x, out=out, axes=axes, keepdims=int(keepdims))

    def shape_tensor(self, x: str, static_shape: Sequence[int]) -> str:
        """An int64 shape for ops that take one (Resize sizes, Expand): the static shape, or with
        --dynamic-batch the batch size read from ``x`` at run time followed by the rest."""
        if not self.dynamic_batch:
            return self.ints(list(static_shape), "sizes")
        batch = self.op("Slice", self.op("Shape", x), self.ints([0], "starts"),
                        self.ints([1], "ends"))
        return self.op("Concat", batch, self.ints(list(static_shape[1:]), "sizes"), axis=0)

    def broadcastable(self, array: np.ndarray, rank: int, start_axis: int) -> np.ndarray:
        """Reshape a parameter covering axes [start_axis, start_axis + array.ndim) of a
        ``rank``-D tensor so numpy-style (right-aligned) broadcasting puts it there."""
        trailing = rank - start_axis - array.ndim
        return array.reshape(array.shape + (1,) * trailing) if array.ndim else array
