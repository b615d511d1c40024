"""Caffe's blob arithmetic in Python ints: axis indexing, counts, C division, Blob::Reshape checks.

Each helper mirrors a piece of ``blob.hpp``/``blob.cpp`` so rules read like Caffe's own
``Reshape()`` without re-deriving its corner cases (negative axes, legacy 4-D accessors that
answer 1 for missing axes, integer division truncating toward zero).
"""

from __future__ import annotations

from typing import Sequence

from .registry import FieldPath, LayerShapeError, ShapeUnknown

INT_MAX = 2**31 - 1
MAX_BLOB_AXES = 32  # kMaxBlobAxes in blob.hpp


def fail(message: str, field: FieldPath = (), code: str = "invalid-layer") -> None:
    """Raise the LayerShapeError Caffe's failing CHECK corresponds to."""
    raise LayerShapeError(message, field=field, code=code)


def require(condition: bool, message: str, field: FieldPath = (),
            code: str = "invalid-layer") -> None:
    if not condition:
        fail(message, field, code)


def c_div(numerator: int, denominator: int) -> int:
    """C++ integer division: truncates toward zero (Python's // floors)."""
    quotient = abs(numerator) // abs(denominator)
    return quotient if (numerator >= 0) == (denominator > 0) else -quotient


def shape_string(shape: Sequence[int]) -> str:
    """Blob::shape_string(): '1 3 224 224 (150528)'."""
    total = 1
    for dim in shape:
        total *= dim
    return " ".join(str(d) for d in shape) + f" ({total})"


def check_blob_shape(shape: Sequence[int], what: str, field: FieldPath = ()) -> None:
    """Blob::Reshape's CHECKs: at most 32 axes, no negative dim, count <= INT_MAX."""
    if len(shape) > MAX_BLOB_AXES:
        fail(f"{what} has {len(shape)} axes; Caffe blobs have at most {MAX_BLOB_AXES}",
             field, "too-many-axes")
    count = 1
    for dim in shape:
        if dim < 0:
            fail(f"{what} would have a negative dimension: {tuple(shape)}", field,
                 "negative-dimension")
        # blob.cpp: CHECK_LE(shape[i], INT_MAX / count_) << "blob size exceeds INT_MAX"
        if count != 0 and dim > INT_MAX // count:
            fail(f"{what} of shape {tuple(shape)} exceeds INT_MAX elements (Caffe: "
                 f"shape[i] <= INT_MAX / count_ ({dim} vs. {INT_MAX // count}) blob size "
                 f"exceeds INT_MAX)", field, "blob-too-large")
        count *= dim


def canonical_axis(shape: Sequence[int], axis: int, field: FieldPath = ()) -> int:
    """Blob::CanonicalAxisIndex: -N <= axis < N, negative counts from the end."""
    n = len(shape)
    if not -n <= axis < n:
        fail(f"axis {axis} out of range for {n}-D blob with shape {shape_string(shape)}",
             field, "axis-out-of-range")
    return axis + n if axis < 0 else axis


def count(shape: Sequence[int], start: int = 0, end: int | None = None) -> int:
    """Blob::count(start, end): product of dims in [start, end)."""
    end = len(shape) if end is None else end
    require(0 <= start <= end <= len(shape),
            f"count({start}, {end}) out of range for {len(shape)}-D blob", (),
            "axis-out-of-range")
    total = 1
    for dim in shape[start:end]:
        total *= dim
    return total


def legacy_dim(shape: Sequence[int], index: int, field: FieldPath = ()) -> int:
    """Blob::LegacyShape (num/channels/height/width): 1 for a missing axis, fails above 4-D."""
    require(len(shape) <= 4, f"legacy 4-D accessor used on a {len(shape)}-D blob "
            f"{shape_string(shape)} (Caffe: Cannot use legacy accessors on Blobs with > 4 axes)",
            field, "too-many-axes")
    if index >= len(shape) or index < -len(shape):
        return 1
    return shape[index]


def legacy4(shape: Sequence[int], field: FieldPath = ()) -> tuple:
    """(num, channels, height, width) as Caffe's legacy accessors read them."""
    return tuple(legacy_dim(shape, i, field) for i in range(4))


def c_int(value: int, field: FieldPath) -> int:
    """A uint32 field read into a C int: values above INT_MAX would turn negative in Caffe."""
    require(value <= INT_MAX, f"value {value} does not fit Caffe's int", field,
            "value-out-of-range")
    return value


def _repeated(descriptor) -> bool:
    """FieldDescriptor.is_repeated (protobuf >= 6; ``label`` is deprecated there)."""
    return bool(descriptor.is_repeated)


def has(message, name: str) -> bool:
    """proto2 presence: HasField for singular fields, non-empty for repeated ones."""
    descriptor = message.DESCRIPTOR.fields_by_name.get(name)
    if descriptor is None:
        return False
    if _repeated(descriptor):
        return len(getattr(message, name)) > 0
    return message.HasField(name)


def values(message, name: str) -> list:
    """A field as a list whether the schema declares it repeated or optional (forks differ)."""
    descriptor = message.DESCRIPTOR.fields_by_name.get(name)
    if descriptor is None:
        return []
    if _repeated(descriptor):
        return list(getattr(message, name))
    return [getattr(message, name)] if message.HasField(name) else []


def fork_param(layer, name: str, layer_type: str):
    """The layer's fork parameter message, or ShapeUnknown when our schema lacks the field."""
    if name not in layer.DESCRIPTOR.fields_by_name:
        raise ShapeUnknown(f"{layer_type}: the schema has no field {name!r} yet",
                           code="schema-missing-field")
    return getattr(layer, name)


def in_place(layer, top_index: int) -> bool:
    """Caffe treats a top as in-place only when it names the bottom at the same index."""
    return top_index < len(layer.bottom) and layer.top[top_index] == layer.bottom[top_index]


def forbid_in_place(layer, layer_type: str, top_index: int = 0) -> None:
    require(not in_place(layer, top_index),
            f"{layer_type} layer does not allow in-place computation", ("top", top_index),
            "in-place-not-allowed")


def require_same_shape(bottoms: Sequence[tuple], message: str, first: int = 1) -> None:
    """All bottoms from index ``first`` on must have bottom[0]'s shape."""
    for i in range(first, len(bottoms)):
        require(tuple(bottoms[i]) == tuple(bottoms[0]),
                f"{message}: bottom[0] is {shape_string(bottoms[0])}, bottom[{i}] is "
                f"{shape_string(bottoms[i])}", ("bottom", i), "shape-mismatch")


def top_count(layer, minimum: int = 1) -> int:
    """How many tops Caffe creates: the listed ones, at least ``minimum`` (AutoTopBlobs)."""
    return max(len(layer.top), minimum)
