"""A deploy net from a train_val net: what BVLC's ``deploy.prototxt`` files are by hand.

Starting from the TEST-phase net (Caffe's ``Net::FilterNet`` via the IR, with the given stages):

- layers of other phases are removed, and the ``include``/``exclude`` rules of kept layers;
- each data layer (Data, ImageData, ..., a Python layer without bottoms) becomes an ``Input``
  layer of the same name for the tops still read (labels go): batch from ``batch_size``,
  height/width from ``crop_size`` (or the resize), channels from ``is_color``, a per-channel
  ``mean_value`` list, ``force_color``/``force_gray`` -- or ``--input NAME=N,C,H,W``; when a
  dimension cannot be known from the prototxt (an LMDB's channels) it is an error that asks for
  ``--input``.  A comment above it records the preprocessing the data layer did;
- loss, Accuracy and Silence layers are removed, and the layers that only fed them (GoogLeNet's
  auxiliary classifiers, whose losses weigh less than the main one).  A loss is a ``*Loss`` layer
  or any layer with a nonzero ``loss_weight`` (Caffe counts its top in the objective), unless
  other layers read its top;
- each main loss (the highest weight) gives way to what its deploy net conventionally ends with:
  the activation the loss applies internally on its first bottom (``SoftmaxWithLoss`` and
  ``InfogainLoss``: ``Softmax``; ``SigmoidCrossEntropyLoss``: ``Sigmoid``), named ``prob`` as in
  BVLC's deploy files (``BLOB_prob`` when there are several), or, for losses that apply none
  (``EuclideanLoss``, ``HingeLoss``, ``MultinomialLogisticLoss``, which takes probabilities,
  ``ContrastiveLoss``/``TripletLoss``, whose first bottom is the embedding a deploy net keeps),
  its first bottom as the net output.  A loss type not known here keeps every bottom that is not
  a data-layer top as an output.  Each loss gets a note saying which it was.

The output is made by text edits of the user's file, so kept layers keep their comments and
layout; removed layers go with the lines they occupy.  V0/V1 files are first rewritten in the
current format (their comments, other than the file's leading block, are then lost).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from ..errors import PrototxtToolsError, ShapeError
from ..ir import Layer, NetState
from ..load import LoadedNet, current_format_text, load_net
from ..schema import caffe_pb2

# Read in BVLC Caffe's loss layers: the activation a loss applies to its first bottom internally
# (InfogainLoss has applied a softmax since 2017; before, it took probabilities, see _end_of) ...
ACTIVATIONS = {"SoftmaxWithLoss": "Softmax", "SigmoidCrossEntropyLoss": "Sigmoid",
               "InfogainLoss": "Softmax"}
# ... or what the first bottom of a loss that applies none is: it stays the net output as it is.
PLAIN_OUTPUTS = {
    "EuclideanLoss": "the prediction",
    "HingeLoss": "the class scores",
    "MultinomialLogisticLoss": "probabilities already: the loss takes them as they are",
    "ContrastiveLoss": "the first branch's features, the branch BVLC's mnist_siamese.prototxt "
                       "keeps",
    "TripletLoss": "the anchor branch's features",  # a fork layer (OpenCV's cnn_3dobj, ...)
}
DATA_LAYER_TYPES = {"Data", "ImageData", "HDF5Data", "MemoryData", "WindowData", "DummyData",
                    "AnnotatedData", "VideoData", "Python"}
NON_LOSS_REMOVED = {"Accuracy", "Silence"}
PREPROCESSING_NOTED = (  # what a data layer did to its data: noted above the Input layer
    ("image_data_param", ("new_height", "new_width", "is_color")),
    ("transform_param", ("scale", "crop_size", "mean_file", "mean_value", "force_color",
                         "force_gray")))


@dataclass
class DeployResult:
    """The deploy ``text``, the Input shapes it declares, what changed (``removed``: (layer,
    why) pairs, ``added``: names of the activation layers added in place of losses), notes
    (one per loss layer: what replaced it), and the deploy net as loaded."""

    text: str
    inputs: dict
    removed: list
    added: list
    notes: list = field(default_factory=list)
    loaded: LoadedNet | None = None


def is_data_layer(layer: Layer) -> bool:
    t = layer.type
    return not layer.param.bottom and (t in DATA_LAYER_TYPES or t.endswith("Data"))


def loss_weight(layer: Layer) -> float:
    """The layer's weight in the objective: its first nonzero ``loss_weight`` (one per top);
    without any, 1 for *Loss layers (Caffe's LossLayer default), else 0."""
    if layer.param.loss_weight:
        return next((w for w in layer.param.loss_weight if w), 0.0)
    return 1.0 if layer.type.endswith("Loss") else 0.0


def is_loss(layer: Layer) -> bool:
    """A *Loss layer (even weighted 0: it still reads labels) or any layer with a loss weight."""
    return layer.type.endswith("Loss") or loss_weight(layer) != 0


@dataclass
class _End:
    """What a main loss leaves: an ``activation`` layer on ``blobs[0]``, or ``blobs`` as net
    outputs; ``what`` says why, for the note."""

    blobs: list
    activation: str | None
    what: str


def _end_of(loss: Layer, is_data_top) -> _End:
    first = loss.bottoms[:1]
    if loss.type == "InfogainLoss" and first and first[0].producer is not None \
            and first[0].producer.type == "Softmax":
        return _End(first, None, "probabilities already: a Softmax layer's output, what "
                                 "InfogainLoss took before 2017 (it now applies its own softmax)")
    if loss.type in ACTIVATIONS and first:
        kind = ACTIVATIONS[loss.type]
        return _End(first, kind, f"the {kind.lower()} the loss applies internally")
    if loss.type in PLAIN_OUTPUTS:
        return _End(first, None, PLAIN_OUTPUTS[loss.type])
    return _End([b for b in loss.bottoms if not is_data_top(b)], None, "")


def make_deploy(loaded: LoadedNet, inputs: Mapping[str, tuple] | None = None,
                state: NetState | None = None) -> DeployResult:
    """The deploy net of ``loaded`` (loaded with net state ``state``, default TEST).

    ``inputs`` gives data-layer top shapes (``--input``).  Raises ShapeError when an Input
    shape cannot be known, PrototxtToolsError for graph errors or unknown ``inputs`` names."""
    state = state or NetState()
    notes = []
    if loaded.format != "V2":
        loaded = _current_format(loaded, state)
        notes.append(f"{loaded.path}: written in the current format first (comments after the "
                     "leading block are not kept)")
    network = loaded.network
    network.raise_for_errors()
    plan = _Plan(network, loaded.path)
    shapes = _input_shapes(loaded, plan, dict(inputs or {}))
    text = _edit(loaded, plan, shapes)
    deployed = load_net(loaded.path, NetState(), text=text)
    _check(loaded, deployed)
    return DeployResult(text, {t: s for layer in shapes for t, s in shapes[layer].items()},
                        plan.removed_list(), [name for name, _, _ in plan.activations.values()],
                        notes + [note for _, note in plan.notes], deployed)


def _current_format(loaded: LoadedNet, state: NetState) -> LoadedNet:
    return load_net(loaded.path, state, text=current_format_text(loaded))


class _Plan:
    """Which layers go (and why), which data tops stay, what replaces each main loss."""

    def __init__(self, network, path: str):
        self.network = network
        self.path = path
        self.why: dict[Layer, str] = {}
        for layer in network.layers:
            if layer.type in NON_LOSS_REMOVED:
                self.why[layer] = layer.type
            elif is_loss(layer):
                self.why[layer] = "loss"
        # a layer whose loss_weight only adds a term (other layers read its top) stays
        used = [layer for layer, why in self.why.items() if why == "loss"
                and not layer.type.endswith("Loss")
                and any(c not in self.why for t in layer.tops for c in t.consumers)]
        for layer in used:
            del self.why[layer]
        self.losses = [layer for layer, why in self.why.items() if why == "loss"]
        self.top_weight = max(map(loss_weight, self.losses), default=0)
        data_tops = {t for layer in network.layers if is_data_layer(layer) for t in layer.tops}
        self.ends = {layer: _end_of(layer, data_tops.__contains__) for layer in self.losses
                     if loss_weight(layer) == self.top_weight}
        self.outputs = {b for end in self.ends.values() for b in end.blobs}
        self._prune(self.outputs)
        self.activations = self._activation_layers()
        self.notes = sorted([(layer.index, self._kept_note(layer)) for layer in used]
                            + [(layer.index, self._note(layer)) for layer in self.losses])

    def _prune(self, outputs: set) -> None:
        """Remove layers every top of which is read only by removed layers (consumers come
        after producers, so one backward pass suffices)."""
        for layer in reversed(self.network.layers):
            if layer in self.why or is_data_layer(layer) or not layer.tops:
                continue
            if any(t in outputs for t in layer.tops):
                continue
            if all(t.consumers and all(c in self.why for c in t.consumers) for t in layer.tops):
                self.why[layer] = "feeds only removed layers"

    def _activation_layers(self) -> dict:
        """Main loss -> (name, type, bottom) of the activation layer that replaces it; one per
        activated blob.  Names: ``prob`` (BVLC's deploy files), ``BLOB_prob`` for several."""
        chosen: dict = {}
        for layer, end in self.ends.items():
            key = (end.activation, end.blobs[0].name if end.blobs else None)
            if end.activation and key not in chosen.values():
                chosen[layer] = key
        kept = [layer for layer in self.network.layers if layer not in self.why]
        taken = {layer.name for layer in kept} | {t.name for layer in kept for t in layer.tops}
        named = {}
        for layer, (kind, blob) in chosen.items():
            name = "prob" if len(chosen) == 1 and "prob" not in taken else f"{blob}_prob"
            while name in taken:
                name += "_"
            taken.add(name)
            named[layer] = (name, kind, blob)
        return named

    def _note(self, loss: Layer) -> str:
        weight = loss_weight(loss)
        said = f"{self.path}: {loss.type} '{loss.name}'"
        if not loss.type.endswith("Loss"):
            said += f" (loss_weight {weight:g}: a loss in Caffe)"
        end = self.ends.get(loss)
        if end is None:
            return (f"{said} removed with the layers only it fed: an auxiliary loss (weight "
                    f"{weight:g}, the main loss {self.top_weight:g})")
        if loss in self.activations:
            name, kind, blob = self.activations[loss]
            return f"{said} replaced by {kind} '{name}' on '{blob}', {end.what}"
        if end.activation:  # a second loss on a blob already activated
            blob = end.blobs[0].name
            name = next(n for n, kind, b in self.activations.values()
                        if (kind, b) == (end.activation, blob))
            return f"{said} removed: {end.activation} '{name}' already follows '{blob}'"
        names = ", ".join(f"'{b.name}'" for b in end.blobs) or "none"
        dropped = [f"'{b.name}'" for b in loss.bottoms
                   if b not in end.blobs and b.producer in self.why]
        if end.what:
            said += f" removed; its bottom {names} ({end.what}) stays the net output"
        else:
            said += (f" removed; {loss.type} is no loss type this tool knows, so its bottoms "
                     f"that are not data-layer tops stay net outputs ({names}) and no activation "
                     "is added: check which are predictions and what the loss applied to them")
        if dropped:
            one = len(dropped) == 1
            said += (f"; {', '.join(dropped)} {'goes' if one else 'go'} with what only fed "
                     f"{'it' if one else 'them'}")
        return said

    def _kept_note(self, layer: Layer) -> str:
        return (f"{self.path}: {layer.type} '{layer.name}' has loss_weight "
                f"{loss_weight(layer):g} (a loss term in Caffe) but other layers read its top: "
                "kept as it is")

    def live_tops(self, layer: Layer) -> list:
        return [t for t in layer.tops
                if t in self.outputs or any(c not in self.why for c in t.consumers)]

    def removed_list(self) -> list:
        out = [(layer.name, why) for layer, why in self.why.items()
               if layer not in self.activations]
        out += [(layer.name, "data layer, replaced by an Input layer" if self.live_tops(layer)
                 else "data layer whose tops nothing reads")
                for layer in self.network.layers if is_data_layer(layer)]
        return sorted(out, key=lambda nw: self.network.layer(nw[0]).index)


# --- Input shapes ------------------------------------------------------------------------------

def _input_shapes(loaded: LoadedNet, plan: _Plan, overrides: dict) -> dict:
    """Data layer -> {live top name: shape}."""
    result = {}
    for layer in plan.network.layers:
        if is_data_layer(layer):
            live = plan.live_tops(layer)
            result[layer] = {t.name: _top_shape(loaded, layer, layer.tops.index(t), overrides)
                             for t in live}
    known = {name for tops in result.values() for name in tops}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise PrototxtToolsError(f"--input names {', '.join(unknown)}, which is not a data-layer "
                                 f"top the deploy net reads ({', '.join(sorted(known)) or 'none'})",
                                 loaded.path)
    return result


def _top_shape(loaded: LoadedNet, layer: Layer, index: int, overrides: dict) -> tuple:
    from ..shapes import LayerShapeError, ShapeUnknown, infer_layer

    name = layer.param.top[index]
    if name in overrides:
        return tuple(overrides[name])
    reason = ""
    try:
        shape = infer_layer(layer.param, []).tops[index]
    except ShapeUnknown as unknown:
        shape = unknown.partial[index] if index < len(unknown.partial) else None
        reason = unknown.reason
    except LayerShapeError as error:
        raise _at(ShapeError, loaded, tuple(layer.origin) + error.field,
                  f"{layer.name}: {error.message}") from None
    shape = _with_channels(layer, shape)
    if shape is None or None in shape:
        raise _at(ShapeError, loaded, tuple(layer.origin), _ask_for_input(layer, name, shape, reason))
    return tuple(shape)


def _with_channels(layer: Layer, shape):
    """Fill unknown channels from what transform_param says about them."""
    if shape is None or len(shape) != 4 or shape[1] is not None:
        return shape
    transform = layer.param.transform_param
    channels = None
    if len(transform.mean_value) > 1:
        channels = len(transform.mean_value)  # one mean per channel
    elif transform.force_color:
        channels = 3
    elif transform.force_gray:
        channels = 1
    return (shape[0], channels) + tuple(shape[2:])


def _ask_for_input(layer: Layer, name: str, shape, reason: str) -> str:
    if shape is None:
        return (f"the shape of '{name}' (top of {layer.type} layer '{layer.name}') cannot be known "
                f"from the prototxt ({reason}); give it with --input {name}=N,C,H,W")
    axes = "NCHW" if len(shape) == 4 else [f"D{i}" for i in range(len(shape))]
    missing = [axis for axis, d in zip(axes, shape) if d is None]
    hint = ",".join(str(d) if d is not None else axis for axis, d in zip(axes, shape))
    if missing == ["C"]:
        why = ("its channels come from the data source (no per-channel mean_value, force_color "
               "or force_gray in transform_param says how many)")
    else:
        why = f"{', '.join(missing)} cannot be known from the prototxt ({reason})"
    return (f"the shape of '{name}' (top of {layer.type} layer '{layer.name}') is {hint}: {why}; "
            f"give it with --input {name}={hint}")


def _at(cls, loaded: LoadedNet, path: tuple, message: str) -> PrototxtToolsError:
    span = loaded.source_map.position(path)
    return cls(message, loaded.path, span.line if span else None, span.col if span else None)


# --- text --------------------------------------------------------------------------------------

def _edit(loaded: LoadedNet, plan: _Plan, shapes: dict) -> str:
    from ..text import Editor

    editor = Editor(loaded.parsed.document)
    for origin in plan.network.excluded:
        editor.delete(loaded.parsed.node(origin))
    for layer in plan.network.layers:
        node = loaded.parsed.node(layer.origin) if layer.origin[0] == "layer" else None
        if node is None:
            continue  # an Input made from legacy `input:` fields: nothing to edit
        if layer in plan.activations:
            _replace(editor, node, _activation_text(layer, *plan.activations[layer],
                                                    editor.indent_unit))
        elif layer in plan.why:
            editor.delete(node)
        elif is_data_layer(layer):
            if shapes[layer]:
                _replace(editor, node, _input_text(layer, shapes[layer], editor.indent_unit))
            else:
                editor.delete(node)
        else:
            for sub in node.fields:
                if sub.name.text in ("include", "exclude"):
                    editor.delete(sub)
    return editor.apply()


def _replace(editor, node, text: str) -> None:
    """Replace a whole layer field by ``text``, lines after the first at the field's indent."""
    indent = editor.own_indent(node) or ""
    editor.replace_field(node, editor.indented(text, indent)[len(indent):])


def _activation_text(loss: Layer, name: str, kind: str, blob: str, unit: str) -> str:
    """The activation layer; a Softmax with the loss's softmax_param (what Caffe's
    SoftmaxWithLoss and InfogainLoss give their internal Softmax)."""
    from ..text import format_field

    net = caffe_pb2.NetParameter()
    layer = net.layer.add(name=name, type=kind, bottom=[blob], top=[name])
    if kind == "Softmax" and loss.param.HasField("softmax_param"):
        layer.softmax_param.CopyFrom(loss.param.softmax_param)
    return format_field(net, "layer", unit)


def _input_text(layer: Layer, tops: dict, unit: str) -> str:
    from ..text.format import quote

    def q(s: str) -> str:
        return quote(s.encode("utf-8"), keep_utf8=True)

    shapes = " ".join("shape: { " + " ".join(f"dim: {d}" for d in s) + " }" for s in tops.values())
    lines = ["layer {", f"{unit}name: {q(layer.name)}", f'{unit}type: "Input"']
    lines += [f"{unit}top: {q(t)}" for t in tops]
    lines += [f"{unit}input_param {{ {shapes} }}", "}"]
    comment = _preprocessing_comment(layer)
    return "\n".join(([comment] if comment else []) + lines)


def _preprocessing_comment(layer: Layer) -> str:
    """What the data layer did to its data, for whoever feeds the Input now."""
    from ..text import format_field

    noted = [format_field(getattr(layer.param, block), name)
             for block, names in PREPROCESSING_NOTED for name in names
             if _is_set(getattr(layer.param, block), name)]
    if not noted:
        return ""
    said = ", ".join(n.replace("\n", ", ") for n in noted)
    return (f"# Input replaces {layer.type} layer '{layer.name}' ({said}): preprocess inputs the "
            "same way")


def _is_set(message, name: str) -> bool:
    value = getattr(message, name)
    return bool(len(value)) if hasattr(value, "extend") else message.HasField(name)


def _check(loaded: LoadedNet, deployed: LoadedNet) -> None:
    """The result must build and infer shapes cleanly (never write a broken deploy net);
    a failure is reported at the layer of the user's file."""
    from ..shapes.network import infer_shapes

    deployed.network.raise_for_errors()
    errors = infer_shapes(deployed.network).errors
    if errors:
        first = errors[0]
        try:
            origin = tuple(loaded.network.layer(first.layer_name).origin)
        except KeyError:
            origin = ()
        raise _at(ShapeError, loaded, origin,
                  f"the deploy net fails shape inference: {first.layer_name}: {first.message}")
