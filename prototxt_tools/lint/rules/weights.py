"""E3xx / W3xx: weights -- the ``--weights`` caffemodel against the net that will load it.

The ``weights`` provider (:mod:`prototxt_tools.lint.providers`) reads the caffemodel once and
upgrades its net as Caffe does, so V0/V1 models match by the same names; the matching itself
follows ``Net::CopyTrainedLayersFrom`` (see :mod:`._weight_match`).  Findings are positioned at
the layer's ``name`` (weights are matched by name), or at the field that explains them.
"""

from __future__ import annotations

import difflib
from math import prod
from typing import Iterator

from .. import providers  # noqa: F401  (registers the weights provider these rules need)
from ..diagnostic import Finding
from ..registry import Rule, rule
from . import _weight_match as match
from ._shape_errors import shape_text


class _WeightsRule(Rule):
    requires = ("network", "shapes", "weights")


def _name_path(layer) -> tuple:
    return tuple(layer.origin) + ("name",)


def _matched(ctx) -> Iterator[tuple]:
    """(stored layer, net layer, Expected) for every caffemodel layer Caffe copies."""
    targets = match.targets(ctx.network)
    for stored in ctx.weights.layers:
        layer = targets.get(stored.name)
        if layer is not None:
            yield stored, layer, match.expected(ctx.shapes, layer)


def _unmatched(ctx) -> list:
    """Caffemodel layers with blobs that no net layer is named after (Caffe ignores them)."""
    targets = match.targets(ctx.network)
    return [s for s in ctx.weights.layers if s.name not in targets and s.blobs]


def _missing(ctx) -> Iterator[tuple]:
    """(net layer, Expected) for layers with parameters that no caffemodel layer names."""
    stored = {s.name for s in ctx.weights.layers}
    for name, layer in match.targets(ctx.network).items():
        wanted = match.expected(ctx.shapes, layer)
        if name not in stored and wanted.count and not match.deliberately_filled(layer.param):
            yield layer, wanted


def _fits(stored, wanted) -> bool:
    return wanted.shapes is not None and len(stored.blobs) == len(wanted.shapes) and \
        all(b.fits(t) for b, t in zip(stored.blobs, wanted.shapes))


@rule
class UnreadableWeights(Rule):
    """Checks that the `--weights` caffemodel can be read.

    ## What it does
    Reports a `--weights` file that is not a binary NetParameter (truncated, corrupt, or another
    kind of file, such as a prototxt or a solverstate).

    ## Why is this bad?
    Caffe stops with `Check failed: ReadProtoFromBinaryFile(param_file, param) Failed to parse
    NetParameter file`, and none of the weight rules can check anything.

    ## Example
    ```
    prototxt-lint --weights deploy.prototxt deploy.prototxt
    ```

    ## Fix
    Pass the `.caffemodel` (not the `.solverstate` or a text file); download it again if it is
    truncated.
    """

    code = "E300"
    name = "unreadable-weights"
    summary = "The --weights caffemodel cannot be read"

    def check(self, ctx) -> Iterator[Finding]:
        if ctx.options.weights and ctx.weights is None:
            error = ctx.provider_errors.get("weights")
            why = error.message if error is not None else "unknown error"
            at = f" at byte {error.offset}" if error is not None and error.offset is not None \
                else ""
            yield Finding(f"cannot read the weights {ctx.options.weights}{at}: {why}",
                          line=1, col=1)


@rule
class LayerWithoutWeights(_WeightsRule):
    """Checks that every layer with parameters finds its weights in the caffemodel.

    ## What it does
    Reports a layer that has parameter blobs (a convolution, an InnerProduct, a BatchNorm, ...)
    when the caffemodel has no layer of the same name. Layers whose filler is their intended
    value (a `bilinear` upsampling Deconvolution) are not reported.

    ## Why is this bad?
    Caffe copies weights by layer name and says nothing about a layer it finds no weights for:
    the layer keeps what its fillers made (random numbers, or zeros), and the net runs and
    produces garbage. This is what a renamed layer in a deploy prototxt does.

    ## Example
    ```
    layer { name: "fc8_new" type: "InnerProduct" ... }   # the caffemodel calls it fc8
    ```

    ## Fix
    Give the layer the name it has in the caffemodel, or -- when it is meant to be trained from
    scratch (fine-tuning) -- lint with the weights it will eventually have.
    """

    code = "E301"
    name = "layer-without-weights"
    summary = "Layer with parameters has no weights in the caffemodel (Caffe keeps random init)"

    def check(self, ctx) -> Iterator[Finding]:
        orphans = _unmatched(ctx)
        for layer, wanted in _missing(ctx):
            hint = ""
            same = [s.name for s in orphans if _fits(s, wanted)]
            close = difflib.get_close_matches(layer.name, [s.name for s in orphans], 1, 0.6)
            if same:
                hint = f"; the caffemodel's layer '{same[0]}' has weights of exactly its shapes"
            elif close:
                hint = f"; did you mean the caffemodel's layer '{close[0]}'?"
            yield Finding(f"{layer.name}: the caffemodel has no layer '{layer.name}', so Caffe "
                          f"silently skips it and {match.initial_values(layer.param)}{hint}",
                          at=_name_path(layer), layer=layer.name)


@rule
class UnusedWeights(_WeightsRule):
    """Checks that every layer of the caffemodel that holds weights is used by the net.

    ## What it does
    Reports a caffemodel layer with parameter blobs whose name no layer of the net has.
    Caffemodel layers without blobs (ReLU, pooling, the data and loss layers of the training
    net) are not reported: there is nothing to lose.

    ## Why is this bad?
    Caffe logs `Ignoring source layer fc8` at INFO level and goes on: those weights are not
    used. Usually the net renamed a layer (which then gets no weights: see E301), or the
    caffemodel belongs to another net.

    ## Example
    ```
    # caffemodel: fc8 (1000x4096); prototxt: fc8_flickr (20 outputs) -- deliberate fine-tuning
    ```

    Not selected by default (`--extend-select W302`): deploy nets drop trained layers on
    purpose -- GoogLeNet's auxiliary classifiers, MTCNN RNet's landmark head -- and a renamed
    layer is already reported by E301, which names the unused weights that would fit it.

    ## Fix
    Rename the net's layer to the caffemodel's name, or ignore the warning when the layer is
    dropped or replaced on purpose.
    """

    code = "W302"
    name = "unused-weights"
    summary = "Caffemodel layer with weights matches no layer of the net (Caffe ignores it)"
    default = False  # deploy nets drop trained heads on purpose (GoogLeNet's loss1/loss2)

    def check(self, ctx) -> Iterator[Finding]:
        missing = list(_missing(ctx))
        for stored in _unmatched(ctx):
            fits = [layer for layer, wanted in missing if _fits(stored, wanted)]
            at, hint = ("name",), ""
            if fits:
                at = _name_path(fits[0])
                hint = f" — its shapes fit layer '{fits[0].name}', which gets no weights"
            shapes = match.blobs_text(b.shape for b in stored.blobs)
            yield Finding(f"the caffemodel's layer '{stored.name}' ({stored.type}, blobs "
                          f"{shapes}) matches no layer of this net: Caffe ignores its weights"
                          f"{hint}", at=at, layer=stored.name)


@rule
class BlobCountMismatch(_WeightsRule):
    """Checks that each layer gets as many parameter blobs as the net creates for it.

    ## What it does
    Reports a layer whose caffemodel namesake holds a different number of blobs than Caffe
    creates for the layer -- typically a `bias_term` that differs between the training net and
    this one, or a layer name reused for another layer type.

    ## Why is this bad?
    Caffe stops with `Check failed: target_blobs.size() == source_layer.blobs_size() (2 vs. 1)
    Incompatible number of blobs for layer conv1`.

    ## Example
    ```
    layer { name: "conv1" type: "Convolution" convolution_param { num_output: 64
            kernel_size: 3 } }   # bias_term defaults to true; the caffemodel has no bias
    ```

    ## Fix
    Match the training net (`bias_term: false`), or rename the layer if it is a different one.
    """

    code = "E303"
    name = "blob-count-mismatch"
    summary = "Caffemodel layer has a different number of blobs than the net's layer"

    def check(self, ctx) -> Iterator[Finding]:
        for stored, layer, wanted in _matched(ctx):
            have = len(stored.blobs)
            if wanted.count is None or have == wanted.count:
                continue
            at, hint = _name_path(layer), ""
            bias = _bias_field(layer.param)
            if bias is not None and abs(have - wanted.count) == 1:
                hint = (f"; the trained layer {'has' if have > wanted.count else 'has no'} bias: "
                        f"set bias_term: {'true' if have > wanted.count else 'false'}")
                if ctx.source_map is not None and ctx.source_map.get(layer.origin + bias):
                    at = tuple(layer.origin) + bias
            yield Finding(f"{layer.name}: the caffemodel holds {have} blob(s) "
                          f"({match.blobs_text(b.shape for b in stored.blobs)}) for this "
                          f"{layer.type} layer, which has {wanted.count}; Caffe stops: "
                          f"\"Incompatible number of blobs for layer {layer.name}\"{hint}",
                          at=at, layer=layer.name)


BIAS_PARAM = {"Convolution": "convolution_param", "Deconvolution": "convolution_param",
              "DepthwiseConvolution": "convolution_param", "InnerProduct": "inner_product_param",
              "Embed": "embed_param", "Scale": "scale_param"}


def _bias_field(param) -> tuple | None:
    """The field deciding whether the layer has a bias blob."""
    block = BIAS_PARAM.get(param.type)
    return (block, "bias_term") if block else None


@rule
class BlobShapeMismatch(_WeightsRule):
    """Checks that each parameter blob in the caffemodel has the shape the net creates.

    ## What it does
    Reports a parameter blob whose stored shape does not match the layer's (by Caffe's
    `Blob::ShapeEquals`: a blob stored with the legacy num/channels/height/width fields matches
    when its trailing axes equal the layer's, so a legacy 1×1×4096×9216 fits 4096×9216). When
    the element counts agree it says what reshape separates them -- InnerProduct weights
    loaded into a convolution, the case of fully convolutional nets.

    ## Why is this bad?
    Caffe stops: `Cannot copy param 0 weights from layer 'fc6'; shape mismatch. Source param
    shape is 4096 9216 (37748736); target param shape is 4096 256 6 6 (37748736)`. It never
    reshapes weights, even with equal counts.

    ## Example
    ```
    layer { name: "fc6" type: "Convolution" bottom: "pool5" top: "fc6"
            convolution_param { num_output: 4096 kernel_size: 6 } }   # trained as InnerProduct
    ```

    ## Fix
    Convert the weights (net surgery: `prototxt-tools fix --fc-to-conv`, or reshape them in
    Python), fix `num_output`/`kernel_size`, or rename the layer to learn it from scratch.
    """

    code = "E304"
    name = "blob-shape-mismatch"
    summary = "Caffemodel blob shape differs from the net's (Caffe refuses to copy it)"

    def check(self, ctx) -> Iterator[Finding]:
        for stored, layer, wanted in _matched(ctx):
            if wanted.shapes is None or len(stored.blobs) != len(wanted.shapes):
                continue
            for j, (blob, target) in enumerate(zip(stored.blobs, wanted.shapes)):
                if blob.fits(target) or _input_size_case(layer, j, blob, target):
                    continue
                if blob.count == prod(target):
                    why = f"the counts agree ({blob.count}): {match.reshape_hint(blob, target)}"
                else:
                    why = "rename the layer to learn it from scratch, or fix its parameters"
                yield Finding(f"{layer.name}: parameter blob {j} is {shape_text(blob.shape)} in "
                              f"the caffemodel but {shape_text(target)} in this net; "
                              f"{match.caffe_copy_error(layer.name, j, blob, target)} — {why}",
                              at=_name_path(layer), layer=layer.name)


def _input_size_case(layer, j: int, blob, target: tuple) -> tuple | None:
    """(stored K, net K) when an InnerProduct's weights differ only in the input size K."""
    if layer.type != "InnerProduct" or j != 0 or len(target) != 2:
        return None
    src = match.effective(blob)
    transpose = layer.param.inner_product_param.transpose
    n_axis, k_axis = (1, 0) if transpose else (0, 1)
    if len(src) != 2 or src[n_axis] != target[n_axis] or src[k_axis] == target[k_axis]:
        return None
    return src[k_axis], target[k_axis]


@rule
class InnerProductInputSize(_WeightsRule):
    """Checks that an InnerProduct layer's input has the size its trained weights expect.

    ## What it does
    Reports an `InnerProduct` whose weights in the caffemodel have the right `num_output` but
    a different input size K than the blob the layer reads here (C×H×W flattened).

    ## Why is this bad?
    Caffe stops with `Cannot copy param 0 weights from layer 'fc6'; shape mismatch. Source
    param shape is 4096 9216 (37748736); target param shape is 4096 12544 (51380224)`. The
    cause is upstream: the net's input is not the size it was trained with (a 256×256 input
    makes AlexNet's pool5 256×7×7 = 12544 values where the trained fc6 reads 256×6×6 = 9216).

    ## Example
    ```
    input_shape { dim: 1 dim: 3 dim: 256 dim: 256 }   # trained at 227x227
    ```

    ## Fix
    Feed the input size the net was trained with (crop), or convert the fully connected layers
    to convolutions so any input size works.
    """

    code = "E305"
    name = "inner-product-input-size"
    summary = "InnerProduct input size differs from what its trained weights expect"

    def check(self, ctx) -> Iterator[Finding]:
        for stored, layer, wanted in _matched(ctx):
            if layer.type != "InnerProduct" or not wanted.shapes or \
                    len(stored.blobs) != len(wanted.shapes):
                continue
            blob, target = stored.blobs[0], wanted.shapes[0]
            sizes = _input_size_case(layer, 0, blob, target)
            if sizes is None:
                continue
            trained, here = sizes
            bottom = ctx.shapes.shape_of(layer.bottoms[0])
            axis = layer.param.inner_product_param.axis % len(bottom)
            per_item = bottom[axis:]
            guess = ""
            if len(per_item) == 3 and trained % per_item[0] == 0:
                side = round((trained // per_item[0]) ** 0.5)
                if side * side * per_item[0] == trained:
                    guess = (f" ({per_item[0]}×{side}×{side}: a {side}×{side} map where this "
                             f"net has {per_item[1]}×{per_item[2]})")
            yield Finding(f"{layer.name}: its input {layer.bottoms[0].name} is "
                          f"{shape_text(per_item)} = {here} values per item, but the trained "
                          f"weights expect {trained}{guess}; the net's input size probably "
                          f"differs from the one it was trained with; "
                          f"{match.caffe_copy_error(layer.name, 0, blob, target)}",
                          at=tuple(layer.origin) + ("bottom", 0), layer=layer.name)
