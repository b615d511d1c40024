"""An exported model: the ONNX graph plus its initializers as numpy arrays, and how to save it.

The model is built with our own copy of ONNX's schema (:mod:`.onnx_proto`): writing it never
imports onnx.  Initializers are attached only when the model is written, straight from the
arrays (:mod:`.stream`; nothing goes through Python lists).  A model whose initializers would
not fit protobuf's 2 GiB message limit is saved with external data: every initializer of 1 KiB
or more is streamed from its array into ``<model>.data`` next to the model and referenced by
offset and length, as ``onnx.save_model(..., save_as_external_data=True)`` lays it out.  Both
files are replaced atomically.  With ``check=True`` onnx's full checker (node schemas, types,
shape inference) runs on the model before it is put in place; every exporter's output passes
it in the tests.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np

from ..errors import PrototxtToolsError, UnsupportedError
from ..caffemodel.filecopy import write_array
from ..fileio import atomic_output
from . import onnx_proto
from .onnx_proto import ModelProto, TensorProto, from_array
from .stream import write_model

# Protobuf refuses messages of 2 GiB and more; keep 64 MiB for the graph itself.
EMBED_LIMIT = 2**31 - 2**26
EXTERNAL_MIN_BYTES = 1024


@dataclass
class ExportedModel:
    """``model`` has every node, input, output and value_info but no initializers; those are
    ``initializers`` (name, array).  ``outputs`` maps each graph output to its Caffe blob,
    ``input_shapes`` gives each graph input's static shape, ``caffe_weights`` the Caffe blobs
    the export used (layer name -> arrays, as a caffemodel holds them).  ``model`` is
    prototxt-tools' own ModelProto class (same wire format; :meth:`to_proto` gives onnx's)."""

    model: ModelProto
    initializers: list
    outputs: dict = field(default_factory=dict)  # tensor name -> BlobVersion
    input_shapes: dict = field(default_factory=dict)  # tensor name -> tuple
    caffe_weights: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        g = self.model.graph
        return (f"<ExportedModel: {len(g.node)} nodes, inputs {', '.join(i.name for i in g.input)}, "
                f"outputs {', '.join(o.name for o in g.output)}, {self.weight_bytes:,} bytes of weights>")

    @property
    def weight_bytes(self) -> int:
        return sum(array.nbytes for _, array in self.initializers)

    def to_proto(self):
        """onnx's own ``onnx.ModelProto``, weights included (imports onnx; UnsupportedError
        when it cannot fit 2 GiB)."""
        return onnx_proto.to_onnx_model(self._with_weights())

    def _require_embeddable(self) -> None:
        if self.weight_bytes > EMBED_LIMIT:
            raise UnsupportedError(f"the weights hold {self.weight_bytes:,} bytes, more than one "
                                   "ONNX file (a protobuf message, < 2 GiB) can; save the "
                                   "model with external data")

    def _with_weights(self) -> ModelProto:
        self._require_embeddable()
        proto = ModelProto()
        proto.CopyFrom(self.model)
        proto.graph.initializer.extend(from_array(array, name)
                                       for name, array in self.initializers)
        return proto

    def serialize(self, check: bool = True) -> bytes:
        """The model as bytes (what onnxruntime.InferenceSession accepts), by default after
        onnx's full checker passed on it (imports onnx)."""
        data = self._with_weights().SerializeToString()
        if check:
            onnx_proto.check_model(data)
        return data

    def save(self, path: str | os.PathLike, external_data: bool | None = None,
             embed_limit: int | None = None, progress=None, check: bool = False) -> list:
        """Write the model (atomically); external data when asked, or automatically when the
        weights exceed ``embed_limit`` bytes (default: what one protobuf message can hold,
        2 GiB less 64 MiB for the graph).  ``progress(done, total)`` follows the weights'
        bytes (:class:`prototxt_tools.progress.TerminalProgress`).  ``check`` runs onnx's full
        checker first (imports onnx); nothing is written when it fails.  Returns the paths
        written."""
        path = os.fspath(path)
        if external_data is None:
            limit = EMBED_LIMIT if embed_limit is None else embed_limit
            external_data = self.weight_bytes > limit
        if not external_data:
            self._require_embeddable()
        if check:
            try:
                self._check_graph()
            except PrototxtToolsError as exc:  # named after the file it was to become
                exc.path = exc.path or path
                raise
        if not external_data:
            with atomic_output(path) as out:
                write_model(out, self.model, self.initializers, progress)
            return [path]
        return self._save_external(path, progress)

    def _check_graph(self) -> None:
        """The full checker on the model with its large initializers as external references
        to an empty stub file: every node, type and shape is checked (initializer dims too, by
        shape inference) without a second copy of the weights in memory."""
        with tempfile.TemporaryDirectory(prefix="prototxt-tools-check-") as directory:
            open(os.path.join(directory, "stub.data"), "wb").close()
            proto = ModelProto()
            proto.CopyFrom(self.model)
            proto.graph.initializer.extend(_referenced_tensors(self.initializers, "stub.data"))
            model_path = os.path.join(directory, "model.onnx")
            with open(model_path, "wb") as f:
                f.write(proto.SerializeToString())
            onnx_proto.check_model(model_path)

    def _save_external(self, path: str, progress=None) -> list:
        data_name = os.path.basename(path) + ".data"
        data_path = os.path.join(os.path.dirname(os.path.abspath(path)), data_name)
        proto = ModelProto()
        proto.CopyFrom(self.model)
        with atomic_output(data_path) as out:
            proto.graph.initializer.extend(_write_tensors(self.initializers, out, data_name,
                                                          progress))
        model_bytes = proto.SerializeToString()
        with atomic_output(path) as out:
            out.write(model_bytes)
        return [path, data_path]


def _write_tensors(initializers: list, out: BinaryIO, location: str, progress=None) -> list:
    """TensorProtos for ``initializers``: large ones streamed to ``out`` and referenced."""
    large = [array for _, array in initializers if array.nbytes >= EXTERNAL_MIN_BYTES]
    total, done = sum(array.nbytes for array in large), 0
    for array in large:
        write_array(out, np.ascontiguousarray(array, array.dtype.newbyteorder("<")))
        done += array.nbytes
        if progress is not None:
            progress(done, total)
    return _referenced_tensors(initializers, location)


def _referenced_tensors(initializers: list, location: str) -> list:
    """TensorProtos for ``initializers``: small ones inline, large ones referencing their
    bytes in ``location``, one after the other in the order given."""
    tensors, offset = [], 0
    for name, array in initializers:
        if array.nbytes < EXTERNAL_MIN_BYTES:
            tensors.append(from_array(array, name))
            continue
        tensor = TensorProto(name=name,
                             data_type=onnx_proto.np_dtype_to_tensor_dtype(array.dtype),
                             dims=list(array.shape), data_location=TensorProto.EXTERNAL)
        for key, value in (("location", location), ("offset", str(offset)),
                           ("length", str(array.nbytes))):
            entry = tensor.external_data.add()
            entry.key, entry.value = key, value
        tensors.append(tensor)
        offset += array.nbytes
    return tensors
