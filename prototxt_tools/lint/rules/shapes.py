"""E2xx / W2xx shapes, sizes: kernels against their inputs, output sizes, groups, parameters.

See :mod:`._shape_errors` for how shape errors become rule codes; the rules comparing several
bottoms, and the catch-all E299, are in :mod:`.shape_inputs`.
"""

from __future__ import annotations

from typing import Iterator

from ...fix.kernels import covering_kernel_fix, redundant_spellings_fix
from ...shapes.pooling import empty_last_window
from ..diagnostic import Finding
from ..registry import Rule, rule
from . import _windows as windows
from ._shape_errors import ShapeErrorRule, bottom_shapes, shape_text


@rule
class KernelLargerThanInput(ShapeErrorRule):
    """Checks that every convolution and pooling kernel fits its (padded) input.

    ## What it does
    Reports a `Convolution`, `Pooling` (or `Im2col`, depthwise) layer whose kernel -- dilated,
    `dilation * (kernel - 1) + 1` -- is larger than its padded input, so that Caffe computes
    an output size of 0 or less. It names the input blob and its C×H×W shape, and when the layer
    evidently stands for a fully connected layer (no padding, at most a 1×1 output) it gives the
    kernel that covers the whole input.

    ## Why is this bad?
    Caffe cannot set the net up: a negative size fails `Blob::Reshape` (`Check failed:
    shape[i] >= 0`), and a zero size leaves an empty top that aborts the setup further on
    (BVLC/caffe#3754, "Setup aborts when change kernel from 5 to 9"). The classic case: AlexNet's `pool5` is 256×6×6 for a 227×227 input, so a
    convolutional `fc6` needs `kernel_size: 6`; a 7×7 kernel (VGG's value, whose pool5 is 7×7)
    cannot be placed anywhere on it.

    ## Example
    ```
    layer { name: "fc6" type: "Convolution" bottom: "pool5" top: "fc6"
            convolution_param { num_output: 4096 kernel_size: 7 } }  # pool5 is 256x6x6
    ```

    ## Fix
    Use the suggested kernel (`kernel_size: 6` above), pad the input, or feed the net the input
    size the kernel was designed for. `prototxt-fix` sets a convolution's kernel to its input's
    spatial size when the layer evidently stands for a fully connected layer (no padding or
    dilation, an output of at most 1×1): `kernel_size: 6`, or `kernel_h`/`kernel_w` for a
    non-square input. Safe, except with `--weights` holding the layer's weights with the old
    kernel shape (they no longer fit: unsafe, and the output says so). Pooling is not fixed
    (`global_pooling: true` or a kernel: the choice is the author's).
    """

    code = "E201"
    name = "kernel-larger-than-input"
    summary = "Convolution or pooling kernel is larger than its padded input"

    def message(self, ctx, layer, error) -> str:
        bottom = bottom_shapes(ctx, layer)[0]
        window = windows.window_of(layer, bottom)
        if window is None:
            return super().message(ctx, layer, error)
        text = windows.describe_overhang(layer, layer.bottoms[0].name, bottom, window)
        cover = windows.covering_kernel(bottom, window)
        if cover:
            return f"{layer.name}: {text} — use {cover} to cover the whole input"
        failing = [i for i, o in enumerate(window.outputs(list(bottom[window.channel_axis + 1:])))
                   if o <= 0]
        arithmetic = windows.output_arithmetic(bottom, window, failing[0] if failing else 0)
        return f"{layer.name}: {text} — Caffe's output size {arithmetic}"

    def fix(self, ctx, layer, error):
        bottom = bottom_shapes(ctx, layer)[0]
        window = windows.window_of(layer, bottom)
        if window is None or window.kind != "conv" or not windows.covering_kernel(bottom, window):
            return None
        return covering_kernel_fix(ctx, layer, layer.bottoms[0].name, bottom,
                                   window.channel_axis, window.kernel, window.kernel_fields)


@rule
class KernelOverhangsInput(Rule):
    """Checks for convolution kernels larger than their input that Caffe still accepts.

    ## What it does
    Reports a `Convolution` (or `Im2col`) layer whose dilated kernel is larger than its padded
    input on some axis while Caffe's output size, computed with C's truncating division, is
    still positive: `(6 - 7) / 2 + 1` is `0 + 1 = 1` in C, so a 7×7 stride-2 kernel on a 6×6
    input builds a 1×1 output without any message.

    ## Why is this bad?
    The kernel's last rows and columns only ever multiply the zeros `im2col` reads outside the
    input: part of the trained weights is dead, and the layer is usually a mistake carried
    over from a net with a larger input (the same mistake E201 reports when the stride is 1).
    Other runtimes compute the size with floor division and refuse the layer or produce an
    empty output.

    ## Example
    ```
    layer { name: "fc6" type: "Convolution" bottom: "pool5" top: "fc6"
            convolution_param { num_output: 4096 kernel_size: 7 stride: 2 } }  # pool5 6x6
    ```

    ## Fix
    Use a kernel that fits (`kernel_size: 6` above) or pad the input.
    """

    code = "W201"
    name = "kernel-overhangs-input"
    summary = "Convolution kernel larger than its input, accepted by C's truncating division"
    requires = ("network", "shapes")

    def check(self, ctx) -> Iterator[Finding]:
        for layer in ctx.network.layers:
            outcome = ctx.shapes.outcome(layer)
            if layer.type not in windows.CONV_TYPES or outcome is None or outcome.shapes is None:
                continue
            bottom = ctx.shapes.shape_of(layer.bottoms[0])
            window = windows.conv_window(layer.param, bottom)
            overhang = windows.overhanging_axes(bottom, window)
            if not overhang:
                continue
            text = windows.describe_overhang(layer, layer.bottoms[0].name, bottom, window)
            out = windows.dims(window.outputs(list(bottom[window.channel_axis + 1:])))
            dead = _dead_parts(overhang, len(window.kernel))
            cover = windows.covering_kernel(bottom, window)
            advice = f" — use {cover} to cover the whole input" if cover else ""
            field = tuple(layer.origin) + tuple(window.kernel_fields[overhang[0][0]])
            yield Finding(f"{layer.name}: {text}; C's truncating division still gives a {out} "
                          f"output whose kernel's {dead} only ever multiply zeros{advice}",
                          at=field, layer=layer.name)


@rule
class PoolingWindowPastInput(Rule):
    """Checks for pooling windows that start past the end of their input.

    ## What it does
    Reports a `Pooling` layer whose last window, on some axis, starts at or after the input's
    last row or column. Caffe's ceil rounding adds that window; with padding Caffe drops it
    again (`--pooled_height_` in `PoolingLayer::Reshape`), without padding it does not, which
    happens when the kernel is smaller than the stride: a 1×1 kernel with stride 3 on 5 rows
    gives 3 rows, the last one starting at row 6.

    ## Why is this bad?
    That window holds no input: Caffe's MAX outputs `-FLT_MAX` (and a mask of -1) there, AVE
    divides zero by a window size of zero or less. Downstream layers see garbage, other runtimes
    (onnxruntime: "Pad should be smaller than kernel") refuse the layer, and `prototxt-tools
    onnx` refuses it too.

    ## Example
    ```
    layer { name: "pool" type: "Pooling" bottom: "conv" top: "pool"
            pooling_param { pool: MAX kernel_size: 1 stride: 3 } }  # conv is 5x5
    ```

    ## Fix
    Make the kernel at least as large as the stride, pad the input, or use `round_mode: FLOOR`
    where the fork has it.
    """

    code = "W202"
    name = "pooling-window-past-input"
    summary = "Pooling's last window starts past the input (kernel smaller than stride)"
    requires = ("network", "shapes")

    def check(self, ctx) -> Iterator[Finding]:
        for layer in ctx.network.layers:
            outcome = ctx.shapes.outcome(layer)
            if layer.type != "Pooling" or outcome is None or outcome.shapes is None:
                continue
            bottom = ctx.shapes.shape_of(layer.bottoms[0])
            window = windows.window_of(layer, bottom)
            top = ctx.shapes.shape_of(layer.tops[0])
            if window is None or top is None or len(top) != 4:
                continue
            empty = empty_last_window(bottom, top, window.stride, window.pad)
            if empty is None:
                continue
            axis, start = empty
            yield Finding(
                f"{layer.name}: the last of its {top[2 + axis]} windows along the "
                f"{('height', 'width')[axis]} starts at {start}, past the input's "
                f"{bottom[2 + axis]} (kernel {window.kernel[axis]} < stride "
                f"{window.stride[axis]}, no pad): Caffe outputs -FLT_MAX (MAX) or divides by "
                "a window size <= 0 (AVE) there",
                at=tuple(layer.origin) + ("pooling_param",), layer=layer.name)


def _dead_parts(overhang: list, spatial: int) -> str:
    """'last row and last column' / 'last 2 rows' / 'last slice on axis 2'."""
    parts = []
    for axis, n in overhang:
        word = ("row" if axis == 0 else "column") if spatial == 2 else f"slice on axis {axis}"
        if spatial != 2 and n != 1:
            word = f"slices on axis {axis}"
        elif n != 1:
            word += "s"
        parts.append(f"last {word}" if n == 1 else f"last {n} {word}")
    return " and ".join(parts)


@rule
class NonPositiveOutput(ShapeErrorRule):
    """Checks that no layer computes an empty or negative output size.

    ## What it does
    Reports a layer whose output size Caffe computes as zero or negative for another reason
    than a kernel too large for its input (E201): a `Deconvolution` whose padding eats the
    whole output (`stride * (H - 1) + kernel - 2 * pad <= 0`), an `Interp` shrunk to nothing,
    a negative dimension. Also reports a top with an empty (0-sized) axis computed from
    non-empty bottoms, which Caffe builds without complaint.

    ## Why is this bad?
    A negative size stops Caffe (`Blob::Reshape`: `Check failed: shape[i] >= 0`); an empty top
    leaves nothing for the layers after it to compute on, when it does not abort their setup.

    ## Example
    ```
    layer { name: "up" type: "Deconvolution" bottom: "score" top: "up"   # score is 21x1x1
            convolution_param { num_output: 21 kernel_size: 4 stride: 2 pad: 2 } }
    ```

    ## Fix
    Reduce the padding, enlarge the kernel or the input, or check the parameters that size the
    top (`slice_point`, `offset`, `zoom_factor`).
    """

    code = "E202"
    name = "nonpositive-output-size"
    summary = "Layer output size is zero or negative"

    def check(self, ctx) -> Iterator[Finding]:
        yield from super().check(ctx)
        for layer in ctx.network.layers:
            outcome = ctx.shapes.outcome(layer)
            bottoms = bottom_shapes(ctx, layer)
            if outcome is None or outcome.shapes is None or not bottoms \
                    or any(b is None or 0 in b for b in bottoms):
                continue
            for j, top in enumerate(outcome.shapes.tops[:len(layer.tops)]):
                if 0 in top:
                    yield Finding(f"{layer.name}: top '{layer.tops[j].name}' has an empty axis "
                                  f"({shape_text(top)}) although its inputs are not empty: the "
                                  "layers after it have nothing to compute on",
                                  at=tuple(layer.origin) + ("top", j), layer=layer.name)


@rule
class PoolingPadNotLessThanKernel(ShapeErrorRule):
    """Checks that pooling padding is smaller than the pooling kernel.

    ## What it does
    Reports a `Pooling` (or `SPP` pyramid level) whose `pad` is not smaller than its kernel.

    ## Why is this bad?
    Caffe stops in `PoolingLayer::LayerSetUp` with `Check failed: pad_h_ < kernel_h_`: a window
    could lie entirely in the padding, where max pooling has nothing to take the maximum of.

    ## Example
    ```
    layer { name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1"
            pooling_param { pool: MAX kernel_size: 2 stride: 2 pad: 2 } }
    ```

    ## Fix
    Use a pad below the kernel size (usually `(kernel_size - 1) / 2`).
    """

    code = "E203"
    name = "pooling-pad-not-less-than-kernel"
    summary = "Pooling pad is not smaller than the pooling kernel"

    def message(self, ctx, layer, error) -> str:
        bottom = bottom_shapes(ctx, layer)[0]
        window = windows.window_of(layer, bottom)
        if window is None:  # SPP: the pyramid level's own kernel and pad
            return super().message(ctx, layer, error)
        return (f"{layer.name}: pad {windows.uniform(window.pad)} is not smaller than the "
                f"pooling kernel {windows.dims(window.kernel)}; Caffe requires pad < kernel, so "
                "that no window lies entirely in the padding")


@rule
class GroupMismatch(ShapeErrorRule):
    """Checks that `group` divides both the input channels and `num_output`.

    ## What it does
    Reports a `Convolution`/`Deconvolution` whose `group` does not divide its input channels or
    its `num_output`.

    ## Why is this bad?
    Caffe stops with `Check failed: channels_ % group_ == 0` or `Number of output should be
    multiples of group.` For a depthwise convolution `group` must equal the input channels.

    ## Example
    ```
    layer { name: "conv_dw" type: "Convolution" bottom: "x" top: "y"   # x has 32 channels
            convolution_param { num_output: 32 group: 3 kernel_size: 3 } }
    ```

    ## Fix
    Set `group` to a common divisor (the channel count for a depthwise convolution).
    """

    code = "E209"
    name = "group-mismatch"
    summary = "Convolution group does not divide input channels or num_output"


@rule
class ConflictingParams(ShapeErrorRule):
    """Checks that a layer's parameters do not exclude each other and none required is missing.

    ## What it does
    Reports what Caffe's `LayerSetUp` refuses about the parameters themselves: `kernel_size`
    together with `kernel_h`/`kernel_w`, `pad` with `pad_h`, `stride` with `stride_h`, a missing
    kernel size, a zero stride or kernel, `global_pooling` with a kernel size, and the like in
    other layers (a required parameter absent, two that cannot be combined).

    ## Why is this bad?
    Caffe stops with messages such as `Either kernel_size or kernel_h/w should be specified;
    not both.` or `Filter size is kernel_size OR kernel_h and kernel_w; not both`.

    ## Example
    ```
    layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
            convolution_param { num_output: 64 kernel_size: 3 kernel_h: 3 kernel_w: 3 } }
    ```

    ## Fix
    Keep one spelling: `kernel_size` (square) or both `kernel_h` and `kernel_w`; the same for
    `pad` and `stride`. `prototxt-fix` (safe) deletes `kernel_h`/`kernel_w` (`pad_h`/`pad_w`,
    `stride_h`/`stride_w`) of a Convolution or Pooling layer when they repeat the value of the
    square spelling next to them; when they disagree, the intended window is unknown and
    nothing is changed.
    """

    code = "E210"
    name = "conflicting-params"
    summary = "Layer parameters conflict or are missing (kernel_size with kernel_h, no kernel)"

    def fix(self, ctx, layer, error):
        if layer.type not in windows.CONV_TYPES + ("Deconvolution", "Pooling"):
            return None
        return redundant_spellings_fix(ctx, layer)


@rule
class BlobTooLarge(ShapeErrorRule):
    """Checks that no blob has more than 2^31 - 1 elements.

    ## What it does
    Reports a layer whose top (or parameter blob) would hold more elements than a C `int` can
    count, typically after a large input size (`--input data=...`) or batch size.

    ## Why is this bad?
    Caffe stops in `Blob::Reshape` with `Check failed: shape[i] <= INT_MAX / count_ ... blob
    size exceeds INT_MAX`: blobs are indexed with `int`.

    ## Example
    ```
    input: "data" input_dim: 10000 input_dim: 1 input_dim: 150 input_dim: 130
    layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
            convolution_param { num_output: 20 kernel_size: 5 } }  # 10000x20x146x126
    ```

    ## Fix
    Use a smaller batch (`input_dim`/`dim` 0) or input size.
    """

    code = "E211"
    name = "blob-too-large"
    summary = "Blob would exceed INT_MAX elements"
