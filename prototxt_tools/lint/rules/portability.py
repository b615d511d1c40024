"""W41x: portability -- nets Caffe runs but other runtimes (or a deploy setting) get wrong."""

from __future__ import annotations

import math
from typing import Iterator

from ...fix.params import batchnorm_global_stats_fix
from ..diagnostic import Finding
from ..layer_types import DATA_TYPES, is_deploy_net, is_loss, is_training_only
from ..registry import Rule, rule
from ._common import describe, type_path


@rule
class PythonLayer(Rule):
    """Checks for `Python` layers.

    ## What it does
    Reports a layer of type `Python`, naming the module and class it loads.

    ## Why is this bad?
    The layer's code is not in the prototxt: it needs Caffe built `WITH_PYTHON_LAYER` and the
    module importable at run time. OpenCV, TensorRT and ONNX converters cannot run it, and its
    output shape cannot be inferred from the file.

    ## Example
    ```
    layer { name: "rpn" type: "Python" python_param { module: "rpn.proposal_layer" layer: "ProposalLayer" } }
    ```

    ## Fix
    Replace it with built-in layers where possible; otherwise ship the module with the model and
    document it.
    """

    code = "W411"
    name = "python-layer"
    summary = "Python layer needs its module at run time and is not portable"

    def check(self, ctx) -> Iterator[Finding]:
        for layer in ctx.network.layers:
            if layer.type == "Python":
                p = layer.param.python_param
                what = f" ({p.module}.{p.layer})" if p.module or p.layer else ""
                yield Finding(f"Python layer '{layer.name}'{what} runs code outside the net: it "
                              "needs pycaffe and the module at run time, and other runtimes "
                              "cannot run it", at=type_path(layer), layer=layer.name)


@rule
class TrainingLayerInDeploy(Rule):
    """Checks that a net fed through Input layers has no training-only layers.

    ## What it does
    In a net with `Input` layers (or legacy `input:` fields) -- a deploy net -- reports loss
    layers (`*Loss`), `Accuracy` and database readers (`Data`, `ImageData`, `HDF5Data`, ...) that
    are present in the linted net state. `Dropout` is fine: it is the identity at test time.

    ## Why is this bad?
    A loss or accuracy layer needs a label blob a deploy caller does not have; a data layer
    needs a database. Runtimes either fail or compute garbage outputs next to the real ones.

    ## Example
    ```
    layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 dim: 224 dim: 224 } } }
    ...
    layer { name: "loss" type: "SoftmaxWithLoss" bottom: "fc8" bottom: "label" top: "loss" }
    ```

    ## Fix
    Delete the layer from the deploy net (use `Softmax` for probabilities), or restrict it with
    `include { phase: TRAIN }`.
    """

    code = "W412"
    name = "training-layer-in-deploy"
    summary = "Loss, Accuracy or data layer in a deploy net"

    def check(self, ctx) -> Iterator[Finding]:
        network = ctx.network
        if not any(layer.type == "Input" for layer in network.layers):
            return
        for layer in network.layers:
            if is_training_only(layer.type):
                kind = "a loss" if is_loss(layer.type) else \
                    "a data" if layer.type in DATA_TYPES else "an evaluation"
                yield Finding(f"{describe(layer)} is {kind} layer in a deploy net (fed by Input "
                              "layers); it needs labels or a database a deploy caller does not "
                              "have", at=type_path(layer), layer=layer.name)


@rule
class BatchNormBatchStatistics(Rule):
    """Checks that BatchNorm uses its stored statistics in a deploy net.

    ## What it does
    In a deploy net (Input layers, no data layers), reports a `BatchNorm` layer with
    `use_global_stats: false`.

    ## Why is this bad?
    Caffe then normalizes each batch with its own mean and variance instead of the learned
    statistics: results depend on the batch (with one image, every channel becomes zero).
    Left unset, Caffe uses the stored statistics in the TEST phase -- the right thing.

    ## Example
    ```
    layer { name: "bn1" type: "BatchNorm" batch_norm_param { use_global_stats: false } }
    ```

    ## Fix
    Delete the `use_global_stats` line (or set it to `true`). `prototxt-fix --unsafe-fixes`
    deletes it -- unsafe, since the layer's outputs change (to the right ones); Caffe's TEST
    phase then uses the learned statistics.
    """

    code = "W413"
    name = "batchnorm-batch-statistics"
    summary = "BatchNorm computes batch statistics (use_global_stats: false) in a deploy net"

    def check(self, ctx) -> Iterator[Finding]:
        if not is_deploy_net(ctx.network):
            return
        for layer in ctx.network.layers:
            param = layer.param.batch_norm_param
            if layer.type == "BatchNorm" and param.HasField("use_global_stats") \
                    and not param.use_global_stats:
                yield Finding(f"BatchNorm '{layer.name}' has use_global_stats: false, so a deploy "
                              "net normalizes with batch statistics instead of the learned ones",
                              at=tuple(layer.origin) + ("batch_norm_param", "use_global_stats"),
                              layer=layer.name, fix=batchnorm_global_stats_fix(ctx, layer))


@rule
class PoolingCeilRounding(Rule):
    """Checks for pooling layers whose output size depends on the rounding mode.

    ## What it does
    Reports a `Pooling` layer for which Caffe's ceil rounding (the default `round_mode: CEIL`)
    gives a larger output than floor rounding for the inferred input size. Needs shapes; not
    selected by default (`--extend-select W414`).

    ## Why is this bad?
    Most other frameworks round down by default (ONNX `ceil_mode=0`, PyTorch, TensorFlow, many
    inference engines): a converter that forgets the flag shifts every later feature map by one,
    or fails to concatenate branches. The last window also hangs over the edge, where average
    pooling's divisor differs between runtimes.

    ## Example
    ```
    layer { name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1"
            pooling_param { pool: MAX kernel_size: 3 stride: 2 } }  # 112x112 -> 56 (floor: 55)
    ```

    ## Fix
    Nothing is wrong for Caffe; make sure the converter keeps ceil mode, or pad the input so both
    roundings agree.
    """

    code = "W414"
    name = "pooling-ceil-rounding"
    summary = "Pooling output differs between ceil (Caffe) and floor rounding"
    requires = ("network", "shapes")
    default = False

    def check(self, ctx) -> Iterator[Finding]:
        shapes = ctx.shapes
        for layer in ctx.network.layers:
            if layer.type != "Pooling" or not layer.bottoms:
                continue
            param = layer.param.pooling_param
            if param.global_pooling or not _rounds_up(param):
                continue
            shape = shapes.shape_of(layer.bottoms[0])
            if shape is None or len(shape) != 4:
                continue
            sizes = [_pooled(shape[2 + a], *_geometry(param, a)) for a in (0, 1)]
            if any(ceil != floor for ceil, floor in sizes):
                ceil_hw = "x".join(str(c) for c, _ in sizes)
                floor_hw = "x".join(str(f) for _, f in sizes)
                yield Finding(f"pooling '{layer.name}' on a {shape[2]}x{shape[3]} input gives "
                              f"{ceil_hw} with Caffe's ceil rounding but {floor_hw} with floor "
                              "rounding; runtimes that round down disagree",
                              at=tuple(layer.origin) + ("pooling_param",), layer=layer.name)


def _rounds_up(param) -> bool:
    """BVLC ``round_mode`` (CEIL default); a fork's ``ceil_mode`` wins when written."""
    if param.HasField("ceil_mode"):
        return param.ceil_mode
    return param.round_mode == param.CEIL


def _geometry(param, axis: int) -> tuple[int, int, int]:
    """(kernel, pad, stride) of one spatial axis (0 = h, 1 = w), as PoolingLayer::LayerSetUp:
    ``kernel_h``/``kernel_w`` (etc.) when written, else the square ``kernel_size``."""
    suffix = "_" + "hw"[axis]

    def pick(square: str, base: str, default: int) -> int:
        if param.HasField(base + suffix):
            return getattr(param, base + suffix)
        return getattr(param, square) if param.HasField(square) else default
    return pick("kernel_size", "kernel", 0), pick("pad", "pad", 0), pick("stride", "stride", 1)


def _pooled(size: int, kernel: int, pad: int, stride: int) -> tuple[int, int]:
    """(Caffe's ceil output, floor output) of one axis: PoolingLayer::Reshape's formula, with the
    last window dropped when it would start in the padding."""
    if kernel <= 0 or stride <= 0:
        return 0, 0
    span = size + 2 * pad - kernel
    ceil = math.ceil(span / stride) + 1
    if pad and (ceil - 1) * stride >= size + pad:
        ceil -= 1
    return ceil, span // stride + 1
