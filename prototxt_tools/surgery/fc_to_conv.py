"""Net surgery: every InnerProduct becomes the equivalent Convolution.

An InnerProduct on an ``N×C×H×W`` blob computes the same numbers as a convolution with an
``H×W`` kernel and no padding, whose output is ``N×num_output×1×1``; the InnerProducts after it
then see ``1×1`` blobs and become ``1×1`` convolutions.  On a larger input the converted net
slides the classifier over the image and yields a score *map* (Caffe's ``net_surgery`` example,
``bvlc_caffenet_full_conv``).

The prototxt is changed by minimal text edits (:class:`~prototxt_tools.text.Editor`): the type,
the ``inner_product_param`` name, a ``kernel_size`` line, and ``transpose``/``axis`` lines
dropped; every other byte (comments, ``param`` blocks, fillers) stays.  The weights follow in
:mod:`.fc_weights`: Caffe flattens ``C, H, W`` row-major, so ``(N, C·H·W)`` reshapes to
``(N, C, H, W)`` without moving a value.  ``transpose: true`` layers are handled by transposing
their weights (stored ``(C·H·W, N)``) first.

Every conversion is checked on the result: the converted net is re-loaded and its shapes
inferred; each converted layer must see ``N×C×kh×kw`` and give ``N×num_output×1×1``, and every
other blob must keep its shape (or gain trailing ``1×1`` axes, read by layers without negative
axes) -- otherwise the conversion is refused with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from ..errors import ParseError, PrototxtToolsError, ShapeError, UnsupportedError
from ..ir import Layer, NetState
from ..load import LoadedNet, load_net

FC_TYPE = "InnerProduct"
TYPE_TEXT = {"V2": "Convolution", "V1": "CONVOLUTION"}  # how the new type is spelled per format
CARRIED_FIELDS = {"num_output", "bias_term", "weight_filler", "bias_filler"}
DROPPED_FIELDS = {"transpose", "axis"}  # axis: 1 stays (same meaning in convolution_param)


@dataclass(frozen=True)
class FcConversion:
    """One InnerProduct layer and the Convolution it becomes."""

    name: str
    origin: tuple  # field path of the layer in the user's file
    input_shape: tuple  # its bottom's shape in the original net: (N, C, H, W) or (N, K)
    kernel: tuple  # (kh, kw)
    num_output: int
    bias_term: bool
    transpose: bool

    @property
    def channels(self) -> int:
        return self.input_shape[1]

    @property
    def conv_weight_shape(self) -> tuple:
        return (self.num_output, self.channels) + tuple(self.kernel)

    @property
    def fc_weight_shape(self) -> tuple:
        """The InnerProduct weight blob as Caffe holds it (transposed when ``transpose``)."""
        k = self.channels * self.kernel[0] * self.kernel[1]
        return (k, self.num_output) if self.transpose else (self.num_output, k)

    def describe(self) -> str:
        kh, kw = self.kernel
        source = _dims(self.input_shape[1:])
        if len(self.input_shape) == 2:
            source += "x1x1 (flat before)"
        return (f"{self.name}: InnerProduct -> Convolution, kernel {kh}x{kw} on its "
                f"{source} input; weights {_dims(self.fc_weight_shape)} -> "
                f"{_dims(self.conv_weight_shape)}" + (" (transposed)" if self.transpose else ""))


@dataclass
class FcToConvResult:
    """The converted prototxt ``text``, what was converted, and the converted net as loaded;
    ``warnings`` are the input file's (unknown fields, encoding), for the user to see."""

    text: str
    conversions: list
    loaded: LoadedNet
    notes: list = field(default_factory=list)
    warnings: list = field(default_factory=list)


def _dims(shape) -> str:
    return "x".join(str(d) for d in shape)


def _error(cls, loaded: LoadedNet, path: tuple, message: str) -> PrototxtToolsError:
    span = loaded.source_map.position(path)
    line, col = (span.line, span.col) if span is not None else (None, None)
    return cls(message, loaded.path, line, col)


# --- planning ----------------------------------------------------------------------------------

def plan_fc_to_conv(loaded: LoadedNet, inputs: Mapping[str, tuple] | None = None) -> list:
    """The :class:`FcConversion` of every InnerProduct of ``loaded``'s net, in layer order.

    ``inputs`` overrides net input shapes (as ``--input``).  Raises UnsupportedError for a V0
    file, ``axis`` other than 1, an input that is neither ``N×C×H×W`` nor ``N×K``, or fields
    without a Convolution counterpart; ShapeError when an input shape is unknown.
    """
    from ..shapes.network import infer_shapes

    if loaded.format == "V0":
        raise UnsupportedError("V0 (layers { layer { ... } }) nets are not converted: run "
                               "`prototxt-tools upgrade` first", loaded.path)
    network = loaded.network
    network.raise_for_errors()
    fc_layers = [layer for layer in network.layers if layer.type == FC_TYPE]
    _check_all_in_state(loaded, fc_layers)
    shapes = infer_shapes(network, inputs)
    if shapes.errors:
        first = shapes.errors[0]
        raise _error(ShapeError, loaded, first.field_path,
                     f"{first.layer_name}: {first.message} (fix the net before converting it)")
    return [_plan_layer(loaded, layer, shapes) for layer in fc_layers]


def _check_all_in_state(loaded: LoadedNet, fc_layers: list) -> None:
    """An InnerProduct filtered out by the net state has no shapes: refuse instead of skipping."""
    kept = {tuple(layer.origin) for layer in fc_layers}
    for index, layer in enumerate(loaded.net.layer):
        origin = tuple(loaded.layer_origin[index])
        if layer.type == FC_TYPE and origin not in kept:
            raise _error(UnsupportedError, loaded, origin,
                         f"InnerProduct '{layer.name}' is not in this net state (include/exclude "
                         "rules), so its input shape is unknown; convert with the --phase/--stage "
                         "that includes it")


def _plan_layer(loaded: LoadedNet, layer: Layer, shapes) -> FcConversion:
    param = layer.param.inner_product_param
    where = tuple(layer.origin)
    shape = shapes.blobs.get(layer.bottoms[0]) if layer.bottoms else None
    if shape is None:
        raise _error(ShapeError, loaded, where,
                     f"cannot convert '{layer.name}': the shape of its input "
                     f"'{layer.param.bottom[0]}' is unknown ({_unknown_reason(shapes)}); give the "
                     "net input shape with --input NAME=N,C,H,W")
    axis = param.axis + len(shape) if param.axis < 0 else param.axis
    if axis != 1:
        raise _error(UnsupportedError, loaded, where + ("inner_product_param", "axis"),
                     f"cannot convert '{layer.name}': axis {param.axis} flattens from axis "
                     f"{axis} of its {_dims(shape)} input; a Convolution always keeps axis 0 "
                     "as the batch and convolves everything after axis 1")
    if len(shape) not in (2, 4):
        raise _error(UnsupportedError, loaded, where,
                     f"cannot convert '{layer.name}': its input is {len(shape)}-D "
                     f"({_dims(shape)}); only N×C×H×W inputs (and N×K after a converted layer) "
                     "have a 2-D convolution equivalent")
    if param.num_output <= 0:
        raise _error(UnsupportedError, loaded, where + ("inner_product_param",),
                     f"cannot convert '{layer.name}': it has no num_output")
    _check_param_fields(loaded, layer)
    kernel = (shape[2], shape[3]) if len(shape) == 4 else (1, 1)
    return FcConversion(layer.name, where, tuple(shape), kernel, param.num_output,
                        param.bias_term, param.transpose)


def _unknown_reason(shapes) -> str:
    for result in shapes.layers.values():
        if result.unknown is not None and result.unknown.code != "unknown-input":
            return f"layer '{result.name}': {result.unknown.reason}"
    return "no net input declares its shape"


def _check_param_fields(loaded: LoadedNet, layer: Layer) -> None:
    """Every field written in inner_product_param must have a convolution_param counterpart."""
    node = loaded.parsed.node(tuple(layer.origin) + ("inner_product_param",))
    for sub in node.fields if node is not None else []:
        name = sub.name.text
        if name not in CARRIED_FIELDS | DROPPED_FIELDS:
            raise _error(UnsupportedError, loaded,
                         tuple(layer.origin) + ("inner_product_param", name),
                         f"cannot convert '{layer.name}': inner_product_param field '{name}' has "
                         "no Convolution counterpart")


# --- editing -----------------------------------------------------------------------------------

def fc_to_conv_edits(loaded: LoadedNet, conversions: list, editor) -> None:
    """Add the text edits of ``conversions`` to ``editor`` (an Editor of ``loaded.parsed.document``),
    so a caller can combine them with other fixes before ``editor.apply()``."""
    for conversion in conversions:
        _edit_layer(loaded, conversion, editor)


def _edit_layer(loaded: LoadedNet, conversion: FcConversion, editor) -> None:
    origin = conversion.origin
    type_field = loaded.parsed.node(origin + ("type",))
    written = type_field.value.text
    quote = written[0] if written[:1] in ("'", '"') else ""
    editor.replace_value(type_field, f"{quote}{TYPE_TEXT[loaded.format]}{quote}")
    block = loaded.parsed.node(origin + ("inner_product_param",))
    editor.rename(block, "convolution_param")
    num_output = None
    for sub in block.fields:
        name = sub.name.text
        if name == "num_output":
            num_output = sub
        elif name == "transpose" or (name == "axis" and sub.value.text != "1"):
            editor.delete(sub)
    kh, kw = conversion.kernel
    kernel = f"kernel_size: {kh}" if kh == kw else f"kernel_h: {kh}\nkernel_w: {kw}"
    editor.insert_after(num_output, kernel)


# --- converting and proving ----------------------------------------------------------------------

def convert_fc_to_conv(loaded: LoadedNet, inputs: Mapping[str, tuple] | None = None,
                       state: NetState | None = None) -> FcToConvResult:
    """Convert every InnerProduct of ``loaded`` (loaded with net state ``state``).

    Returns the new text (minimal edits of ``loaded.text``) with the conversions made; raises a
    PrototxtToolsError subclass, positioned in the user's file, when a layer cannot be converted
    or the converted net would not compute the same thing.
    """
    from ..text import Editor

    conversions = plan_fc_to_conv(loaded, inputs)
    editor = Editor(loaded.parsed.document)
    fc_to_conv_edits(loaded, conversions, editor)
    text = editor.apply()
    try:
        converted = load_net(loaded.path, state, text=text)
    except ParseError as exc:  # our own edit broke the text: a bug, but say where
        raise UnsupportedError(f"the converted text does not parse: {exc.message}",
                               loaded.path, exc.line, exc.col) from None
    verify_conversion(loaded, converted, conversions, inputs)
    notes = [] if conversions else ["no InnerProduct layer: nothing to convert"]
    return FcToConvResult(text, conversions, converted, notes)


def verify_conversion(original: LoadedNet, converted: LoadedNet, conversions: list,
                      inputs: Mapping[str, tuple] | None = None) -> None:
    """Check by shape inference that ``converted`` computes what ``original`` does."""
    from ..shapes.network import infer_shapes

    converted.network.raise_for_errors()
    before = infer_shapes(original.network, inputs)
    after = infer_shapes(converted.network, inputs)
    by_name = {c.name: c for c in conversions}
    for layer in converted.network.layers:
        where = tuple(layer.origin)
        result = after.layers[layer]
        if result.error is not None:
            raise _error(ShapeError, original, where,
                         f"after conversion, layer '{layer.name}' fails: {result.error.message}")
        if layer.name in by_name and layer.type == "Convolution":
            _check_converted_layer(original, layer, by_name[layer.name], after)
        old_layer = original.network.layers[layer.index]
        grown = _check_tops(original, layer, old_layer, before, after)
        if grown:
            _check_no_negative_axis(original, layer)


def _check_converted_layer(original: LoadedNet, layer: Layer, conversion: FcConversion,
                           after) -> None:
    n, c = conversion.input_shape[:2]
    expected_in = (n, c) + tuple(conversion.kernel)
    got_in = after.blobs.get(layer.bottoms[0])
    if got_in != expected_in:
        producer = layer.bottoms[0].producer
        source = f"layer '{producer.name}' ({producer.type})" if producer else "a net input"
        raise _error(UnsupportedError, original, conversion.origin,
                     f"cannot convert '{layer.name}': its input '{layer.bottoms[0].name}' from "
                     f"{source} would be {_dims(got_in or ('?',))}, not {_dims(expected_in)}; a "
                     "flat N×K input only becomes N×K×1×1 when it comes from a converted "
                     "InnerProduct")


def _check_tops(original: LoadedNet, layer: Layer, old_layer: Layer, before, after) -> bool:
    """Each top keeps its shape or gains trailing 1×1 axes; True when one gained some."""
    grown = False
    for new_top, old_top in zip(layer.tops, old_layer.tops):
        old, new = before.blobs.get(old_top), after.blobs.get(new_top)
        if old == new:
            continue
        if old is not None and new is not None and new[:len(old)] == old \
                and all(d == 1 for d in new[len(old):]):
            grown = True
            continue
        raise _error(UnsupportedError, original, tuple(layer.origin),
                     f"cannot convert: after conversion, blob '{new_top.name}' of layer "
                     f"'{layer.name}' would be {_dims(new or ('?',))} instead of "
                     f"{_dims(old or ('?',))}")
    grown |= any(before.blobs.get(o) != after.blobs.get(n)
                 for n, o in zip(layer.bottoms, old_layer.bottoms))
    return grown


def _check_no_negative_axis(original: LoadedNet, layer: Layer) -> None:
    """A layer counting axes from the end reads an N×K×1×1 blob differently than N×K."""
    for descriptor, value in layer.param.ListFields():
        if descriptor.message_type is None or _is_repeated(descriptor):
            continue
        for name in AXIS_FIELDS:
            if name in value.DESCRIPTOR.fields_by_name and value.HasField(name) \
                    and getattr(value, name) < 0:
                raise _error(UnsupportedError, original,
                             tuple(layer.origin) + (descriptor.name, name),
                             f"cannot convert: layer '{layer.name}' has {name}: "
                             f"{getattr(value, name)}, counted from the last axis, and reads a "
                             "blob that gains trailing 1×1 axes in the converted net; write the "
                             "axis as a positive number")


AXIS_FIELDS = ("axis", "end_axis", "concat_dim", "slice_dim")


def _is_repeated(descriptor) -> bool:
    is_repeated = getattr(descriptor, "is_repeated", None)
    return is_repeated if is_repeated is not None else descriptor.label == descriptor.LABEL_REPEATED
