"""ONNX messages and the few ``onnx.helper`` functions the exporter needs, without onnx.

The classes come from our own copy of ONNX's schema (``proto/prototxt_tools_onnx.proto``,
package ``prototxt_tools.onnx``): their bytes on the wire are onnx's, so a model built here is
read by onnx and onnxruntime as if onnx had built it.  Importing the onnx package costs ~0.6 s
(most of it ml_dtypes), more than copying a VGG-16 caffemodel; the export needs onnx only to
check (:func:`check_model`) or to hand out onnx's own ModelProto (:func:`to_onnx_model`).

The helpers build what ``onnx.helper`` builds, field for field (attributes sorted by name, an
empty shape kept as an empty TensorShapeProto), so exports stay byte-identical.
"""

from __future__ import annotations

import os
from typing import Any, Iterable, Sequence

import numpy as np

from ..errors import PrototxtToolsError, UnsupportedError
from .._proto.prototxt_tools_onnx_pb2 import (  # noqa: F401  (re-exported)
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    TensorShapeProto, ValueInfoProto)

_NUMPY_TYPES = {
    np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.float64): TensorProto.DOUBLE,
    np.dtype(np.float16): TensorProto.FLOAT16, np.dtype(np.int64): TensorProto.INT64,
    np.dtype(np.int32): TensorProto.INT32, np.dtype(np.int16): TensorProto.INT16,
    np.dtype(np.int8): TensorProto.INT8, np.dtype(np.uint8): TensorProto.UINT8,
    np.dtype(np.uint16): TensorProto.UINT16, np.dtype(np.uint32): TensorProto.UINT32,
    np.dtype(np.uint64): TensorProto.UINT64, np.dtype(np.bool_): TensorProto.BOOL,
}
# onnx.helper.VERSION_TABLE: the first IR version that knows each default-domain opset.
_MIN_IR_VERSION = {13: 7, 14: 7, 15: 8, 16: 8, 17: 8, 18: 8, 19: 9, 20: 9, 21: 10}


def np_dtype_to_tensor_dtype(dtype) -> int:
    """TensorProto.DataType of a numpy dtype (byte order aside)."""
    dtype = np.dtype(dtype).newbyteorder("=")
    try:
        return _NUMPY_TYPES[dtype]
    except KeyError:
        raise TypeError(f"no ONNX tensor type for numpy dtype {dtype}") from None


def from_array(array: np.ndarray, name: str | None = None) -> TensorProto:
    """A TensorProto holding ``array``'s values as little-endian ``raw_data``."""
    array = np.asarray(array)
    tensor = TensorProto(dims=array.shape, data_type=np_dtype_to_tensor_dtype(array.dtype))
    if name is not None:
        tensor.name = name
    tensor.raw_data = np.ascontiguousarray(array, array.dtype.newbyteorder("<")).tobytes()
    return tensor


def make_attribute(key: str, value: Any) -> AttributeProto:
    value = _ours(value)
    attr = AttributeProto(name=key)
    if isinstance(value, (bool, int, np.integer)):
        attr.i, attr.type = int(value), AttributeProto.INT
    elif isinstance(value, (float, np.floating)):
        attr.f, attr.type = float(value), AttributeProto.FLOAT
    elif isinstance(value, (str, bytes)):
        attr.s, attr.type = value.encode() if isinstance(value, str) else value, \
            AttributeProto.STRING
    elif isinstance(value, GraphProto):
        attr.g.CopyFrom(value)
        attr.type = AttributeProto.GRAPH
    elif isinstance(value, TensorProto):
        attr.t.CopyFrom(value)
        attr.type = AttributeProto.TENSOR
    elif isinstance(value, Iterable):
        values = list(value)
        if not values:
            raise ValueError(f"attribute '{key}': an empty list has no ONNX type")
        if all(isinstance(v, (bool, int, np.integer)) for v in values):
            attr.ints.extend(int(v) for v in values)
            attr.type = AttributeProto.INTS
        elif all(isinstance(v, (bool, int, float, np.integer, np.floating)) for v in values):
            attr.floats.extend(float(v) for v in values)
            attr.type = AttributeProto.FLOATS
        elif all(isinstance(v, (str, bytes)) for v in values):
            attr.strings.extend(v.encode() if isinstance(v, str) else v for v in values)
            attr.type = AttributeProto.STRINGS
        else:
            raise TypeError(f"attribute '{key}': cannot store {values!r}")
    else:
        raise TypeError(f"attribute '{key}': cannot store {value!r}")
    return attr


def _ours(value: Any) -> Any:
    """onnx's own TensorProto/GraphProto (a plugin may build one with onnx.helper) as ours."""
    name = getattr(getattr(value, "DESCRIPTOR", None), "full_name", None)
    ours = {"onnx.TensorProto": TensorProto, "onnx.GraphProto": GraphProto}.get(name)
    return ours.FromString(value.SerializeToString()) if ours is not None else value


def get_attribute_value(attr: AttributeProto) -> Any:
    kind = attr.type
    return {AttributeProto.INT: lambda: attr.i, AttributeProto.FLOAT: lambda: attr.f,
            AttributeProto.STRING: lambda: attr.s, AttributeProto.GRAPH: lambda: attr.g,
            AttributeProto.TENSOR: lambda: attr.t, AttributeProto.INTS: lambda: list(attr.ints),
            AttributeProto.FLOATS: lambda: list(attr.floats),
            AttributeProto.STRINGS: lambda: list(attr.strings)}[kind]()


def make_node(op_type: str, inputs: Sequence[str], outputs: Sequence[str],
              name: str | None = None, **attrs) -> NodeProto:
    node = NodeProto(op_type=op_type, input=inputs, output=outputs)
    if name:
        node.name = name
    node.attribute.extend(make_attribute(key, value) for key, value in sorted(attrs.items())
                          if value is not None)
    return node


def make_tensor_value_info(name: str, elem_type: int,
                           shape: Sequence[int | str] | None) -> ValueInfoProto:
    """A typed value; ints are fixed dims, strings symbolic ones; ``[]`` is a scalar."""
    info = ValueInfoProto(name=name)
    tensor_type = info.type.tensor_type
    tensor_type.elem_type = elem_type
    if shape is not None:
        tensor_type.shape.SetInParent()
        for d in shape:
            dim = tensor_type.shape.dim.add()
            if isinstance(d, str):
                dim.dim_param = d
            else:
                dim.dim_value = int(d)
    return info


def make_graph(nodes: Sequence[NodeProto], name: str, inputs: Sequence[ValueInfoProto],
               outputs: Sequence[ValueInfoProto], value_info: Sequence[ValueInfoProto] = ()
               ) -> GraphProto:
    return GraphProto(node=nodes, name=name, input=inputs, output=outputs,
                      value_info=value_info)


def make_model(graph: GraphProto, opset: int, **fields) -> ModelProto:
    """A model of the default domain at ``opset`` with the lowest IR version that has it."""
    return ModelProto(graph=graph, ir_version=min_ir_version(opset),
                      opset_import=[OperatorSetIdProto(domain="", version=opset)], **fields)


def min_ir_version(opset: int) -> int:
    return _MIN_IR_VERSION[opset]


# --- onnx itself, only when asked for -----------------------------------------------------

def to_onnx_model(model: ModelProto):
    """onnx's own ``onnx.ModelProto`` of ``model`` (imports onnx)."""
    import onnx
    return onnx.ModelProto.FromString(model.SerializeToString())


def check_model(model: ModelProto | bytes | str | os.PathLike) -> None:
    """onnx's full checker (node schemas, types and shape inference) on a model, its bytes or
    a file (a file's external data is found beside it).  Imports onnx.  A model the checker
    refuses is a bug of the exporter: it raises ExportCheckError with the checker's words."""
    try:
        import onnx.checker
        import onnx.shape_inference
    except ImportError:
        raise UnsupportedError("checking the model needs the onnx package: pip install "
                               "'prototxt-tools[onnx]'") from None
    if isinstance(model, ModelProto):
        model = model.SerializeToString()
    try:
        onnx.checker.check_model(model, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ExportCheckError(f"onnx's checker refused the exported model (a bug of "
                               f"prototxt-tools, please report it): {first}") from exc


class ExportCheckError(PrototxtToolsError):
    """onnx's checker refused an exported model."""
