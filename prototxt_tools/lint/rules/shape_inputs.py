"""E2xx shapes, inputs: bottoms that disagree (Eltwise, Concat, Crop), counts (Reshape, blob
counts), and E299 for every other shape error, so that none is silent.
"""

from __future__ import annotations

from ..registry import rule
from ._common import type_path
from ._shape_errors import ShapeErrorRule, bottom_shapes, shape_text


@rule
class EltwiseShapeMismatch(ShapeErrorRule):
    """Checks that the bottoms of an `Eltwise` layer have identical shapes.

    ## What it does
    Reports an `Eltwise` layer (SUM, PROD, MAX) whose bottoms differ in shape, naming both.

    ## Why is this bad?
    Caffe stops with `Check failed: bottom[i]->shape() == bottom[0]->shape()`; it does not
    broadcast. In residual nets this usually means the shortcut lacks a projection or a stride
    (the two branches reach the sum at different resolutions or channel counts).

    ## Example
    ```
    layer { name: "res2a" type: "Eltwise" bottom: "res2a_branch1" bottom: "res2a_branch2c"
            top: "res2a" }  # 1x256x56x56 and 1x256x55x55
    ```

    ## Fix
    Make the branches agree: fix the stride/padding of one branch, or add a 1×1 projection
    convolution to the shortcut.
    """

    code = "E204"
    name = "eltwise-shape-mismatch"
    summary = "Eltwise bottoms have different shapes"

    def message(self, ctx, layer, error) -> str:
        i = error.field[1] if len(error.field) > 1 else 1
        shapes = bottom_shapes(ctx, layer)
        return (f"{layer.name}: Eltwise bottoms must have the same shape, but "
                f"{layer.bottoms[0].name} is {shape_text(shapes[0])} and "
                f"{layer.bottoms[i].name} is {shape_text(shapes[i])}")


@rule
class ConcatShapeMismatch(ShapeErrorRule):
    """Checks that the bottoms of a `Concat` agree on every axis but the concatenation axis.

    ## What it does
    Reports a `Concat` layer whose bottoms have different numbers of axes, or different sizes on
    an axis other than `axis` (default 1, the channels; legacy `concat_dim`).

    ## Why is this bad?
    Caffe stops with `All inputs must have the same shape, except at concat_axis`. In inception
    blocks it means one branch has a different stride, padding or rounding than the others.

    ## Example
    ```
    layer { name: "inception/output" type: "Concat" bottom: "b1" bottom: "b2" top: "out" }
    # b1 is 1x64x28x28, b2 is 1x32x27x27
    ```

    ## Fix
    Make the branches produce the same spatial size (padding, stride, pooling rounding), or set
    `axis` to the axis that really differs.
    """

    code = "E205"
    name = "concat-shape-mismatch"
    summary = "Concat bottoms disagree on an axis other than the concatenation axis"

    def message(self, ctx, layer, error) -> str:
        i = error.field[1] if len(error.field) > 1 else 1
        shapes = bottom_shapes(ctx, layer)
        first, other = shapes[0], shapes[i]
        param = layer.param.concat_param
        axis = param.concat_dim if param.HasField("concat_dim") else param.axis
        axis = axis + len(first) if axis < 0 else axis
        if len(first) != len(other):
            why = f"they have {len(first)} and {len(other)} axes"
        else:
            axes = [str(j) for j in range(len(first)) if j != axis and first[j] != other[j]]
            which = f"axis {axes[0]} differs" if len(axes) == 1 else \
                f"axes {', '.join(axes[:-1])} and {axes[-1]} differ"
            why = f"{which} (concatenating on axis {axis})"
        return (f"{layer.name}: Concat bottoms {layer.bottoms[0].name} "
                f"({shape_text(first)}) and {layer.bottoms[i].name} ({shape_text(other)}) "
                f"disagree: {why}")


@rule
class CropOutOfBounds(ShapeErrorRule):
    """Checks that a crop fits inside the blob it crops.

    ## What it does
    Reports a `Crop` layer whose reference blob (bottom 1), shifted by `offset`, does not fit in
    bottom 0 (or has fewer axes than the cropped ones), and a data layer whose `crop_size` is
    larger than its resized image.

    ## Why is this bad?
    Caffe stops with `the crop for dimension i is out-of-bounds with size ... and offset ...`.
    In FCN nets it usually means the input size or the `offset` does not match the upsampling
    (Deconvolution) that produced bottom 0.

    ## Example
    ```
    layer { name: "score" type: "Crop" bottom: "upscore" bottom: "data" top: "score"
            crop_param { axis: 2 offset: 19 } }  # upscore 1x21x64x64, data 1x3x50x50
    ```

    ## Fix
    Compute the offset from the net's padding and strides, or feed an input size the net was
    built for.
    """

    code = "E206"
    name = "crop-out-of-bounds"
    summary = "Crop does not fit inside the blob it crops"


@rule
class ReshapeCountMismatch(ShapeErrorRule):
    """Checks that a `Reshape` keeps the number of elements.

    ## What it does
    Reports a `Reshape` layer whose new shape holds a different number of elements than its
    bottom, or whose `-1` dimension cannot be inferred (the count does not divide).

    ## Why is this bad?
    Caffe stops with `Check failed: top[0]->count() == bottom[0]->count()` (or `bottom count
    must be divisible by the product of the specified dimensions`). Often the batch axis was
    written as a number instead of `dim: 0`, or the input size changed.

    ## Example
    ```
    layer { name: "r" type: "Reshape" bottom: "fc" top: "r"
            reshape_param { shape { dim: 0 dim: 10 dim: 10 } } }  # fc is 1x1000
    ```

    ## Fix
    Use `dim: 0` to copy an axis and a single `dim: -1` to infer one, so the count matches.
    """

    code = "E207"
    name = "reshape-count-mismatch"
    summary = "Reshape changes the number of elements"


@rule
class WrongBlobCount(ShapeErrorRule):
    """Checks that each layer has as many bottoms and tops as its type takes.

    ## What it does
    Reports a layer with fewer or more bottoms or tops than Caffe's `Layer::CheckBlobCounts`
    allows for its type (an `Eltwise` with one bottom, an `Accuracy` without its label, a
    `Convolution` with more tops than bottoms).

    ## Why is this bad?
    Caffe stops with `Check failed: ExactNumBottomBlobs() == bottom.size() (2 vs. 1) Accuracy
    Layer takes 2 bottom blob(s) as input.`

    ## Example
    ```
    layer { name: "acc" type: "Accuracy" bottom: "fc8" top: "acc" }
    ```

    ## Fix
    Add the missing bottom (the label) or top, or remove the extra ones.
    """

    code = "E212"
    name = "wrong-blob-count"
    summary = "Layer has the wrong number of bottoms or tops for its type"

    def position(self, ctx, layer, error) -> tuple:
        """The last bottom (top) written, or the layer's type when there is none."""
        kind = error.field[0] if error.field else "bottom"
        if len(error.field) > 1:
            return super().position(ctx, layer, error)
        written = len(getattr(layer.param, kind)) if kind in ("bottom", "top") else 0
        if written:
            return tuple(layer.origin) + (kind, written - 1)
        return type_path(layer)


@rule
class ShapeRefused(ShapeErrorRule):
    """Checks for any other layer Caffe would refuse to set up for its input shapes.

    ## What it does
    Reports every shape error the other E2xx rules do not name: an axis out of range, a label
    blob of the wrong size for a loss, too few axes for a layer, a field only OpenCV reads.
    The message is Caffe's check, with the numbers of this net.

    ## Why is this bad?
    Caffe stops in the layer's `LayerSetUp` or `Reshape` with a failed `CHECK`, so the net
    cannot be instantiated at all.

    ## Example
    ```
    layer { name: "prob" type: "Softmax" bottom: "fc8" top: "prob" softmax_param { axis: 4 } }
    ```

    ## Fix
    Follow the message: usually an `axis` to correct, or a bottom of the wrong shape.
    """

    code = "E299"
    name = "shape-error"
    summary = "Caffe refuses this layer for its input shapes (any other shape check)"
