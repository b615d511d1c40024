"""Sliding windows (convolution, pooling) described for a user: the kernel against its input.

Shared by E201 (Caffe refuses: the kernel is larger than the padded input) and W201 (Caffe's
truncating division still gives an output).  Both say which blob the layer reads, its C×H×W
shape and padding, and -- when the layer evidently stands for a fully connected layer (no
padding, no dilation, an output of at most 1×1) -- the kernel that covers the whole input.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...shapes.common import c_div, has
from ...shapes.conv import conv_geometry
from ...shapes.pooling import pooled_size

CONV_TYPES = ("Convolution", "DepthwiseConvolution", "Im2col")
"""Types whose geometry is BaseConvolutionLayer's (``conv_geometry``); Deconvolution grows."""


@dataclass
class Window:
    """One layer's window over its input, per spatial axis."""

    kind: str  # "conv" or "pool"
    channel_axis: int
    kernel: list
    stride: list
    pad: list
    dilation: list
    split_fields: bool  # the user wrote kernel_h/kernel_w rather than kernel_size
    kernel_fields: list  # field path (inside the layer) that sets each axis's kernel size

    def extent(self, i: int) -> int:
        return self.dilation[i] * (self.kernel[i] - 1) + 1

    def padded(self, size: list, i: int) -> int:
        return size[i] + 2 * self.pad[i]

    def outputs(self, size: list) -> list:
        """Caffe's output size per axis (C division for convolution, float ceil for pooling)."""
        if self.kind == "pool":
            return [pooled_size(size[i], self.kernel[i], self.pad[i], self.stride[i], True)
                    for i in range(len(size))]
        return [c_div(self.padded(size, i) - self.extent(i), self.stride[i]) + 1
                for i in range(len(size))]


def conv_window(param, bottom: tuple) -> Window:
    g = conv_geometry(param, bottom)
    split = any(len(f) > 1 and f[1] in ("kernel_h", "kernel_w") for f in g.kernel_fields)
    return Window("conv", g.channel_axis, g.kernel, g.stride, g.pad, g.dilation, split,
                  list(g.kernel_fields))


def pool_window(param) -> Window:
    """PoolingLayer::LayerSetUp's kernel/pad/stride (non-global pooling, 4-D input)."""
    def pair(name: str, default: int) -> list:
        if has(param, name + "_h") or has(param, name + "_w"):
            return [getattr(param, name + "_h"), getattr(param, name + "_w")]
        value = getattr(param, name) if has(param, name) else default
        return [value, value]
    split = not has(param, "kernel_size")
    fields = [("pooling_param", "kernel_h"), ("pooling_param", "kernel_w")] if split else \
        [("pooling_param", "kernel_size")] * 2
    return Window("pool", 1, pair("kernel_size", 0), pair("stride", 1), pair("pad", 0), [1, 1],
                  split, fields)


def window_of(layer, bottom: tuple) -> Window | None:
    """The window of a Convolution-like or (non-global) Pooling layer, else None."""
    if layer.type in CONV_TYPES:
        return conv_window(layer.param, bottom)
    param = layer.param.pooling_param
    if layer.type == "Pooling" and not param.global_pooling and len(bottom) == 4:
        return pool_window(param)
    return None


def dims(values) -> str:
    return "×".join(str(v) for v in values)


def uniform(values) -> str:
    """'1' for the same value on every axis, else '1×0'."""
    return str(values[0]) if len(set(values)) == 1 else dims(values)


def describe_overhang(layer, blob_name: str, bottom: tuple, w: Window) -> str:
    """'kernel 7×7 is larger than its input pool5 (256×6×6, pad 0)'."""
    kernel = f"kernel {dims(w.kernel)}"
    if any(d != 1 for d in w.dilation):
        extents = [w.extent(i) for i in range(len(w.kernel))]
        kernel += f" with dilation {uniform(w.dilation)} (spanning {dims(extents)})"
    pad = uniform(w.pad)
    what = "pooling " if w.kind == "pool" else ""
    return (f"{what}{kernel} is larger than its input {blob_name} "
            f"({dims(bottom[w.channel_axis:])}, pad {pad})")


def covering_kernel(bottom: tuple, w: Window) -> str | None:
    """The fields that make the kernel cover the whole input, when the layer evidently stands
    for a fully connected layer: no padding, no dilation, and an output of at most 1 per axis
    (or none at all).  None otherwise."""
    size = list(bottom[w.channel_axis + 1:])
    if any(w.pad) or any(d != 1 for d in w.dilation) or any(o > 1 for o in w.outputs(size)):
        return None
    if w.kind == "pool":
        return f"global_pooling: true (or {_kernel_fields(size, w)})"
    return _kernel_fields(size, w)


def _kernel_fields(size: list, w: Window) -> str:
    if len(size) == 2 and (w.split_fields or size[0] != size[1]):
        return f"kernel_h: {size[0]} kernel_w: {size[1]}"
    if len(set(size)) == 1:
        return f"kernel_size: {size[0]}"
    return " ".join(f"kernel_size: {s}" for s in size)


def overhanging_axes(bottom: tuple, w: Window) -> list:
    """(axis, rows the kernel reaches past the padded input) for every axis it overhangs."""
    size = list(bottom[w.channel_axis + 1:])
    return [(i, w.extent(i) - w.padded(size, i)) for i in range(len(size))
            if w.extent(i) > w.padded(size, i)]


def output_arithmetic(bottom: tuple, w: Window, axis: int) -> str:
    """Caffe's output-size formula for one axis, with the numbers filled in."""
    size = bottom[w.channel_axis + 1 + axis]
    out = w.outputs(list(bottom[w.channel_axis + 1:]))[axis]
    span = f"{size} + 2*{w.pad[axis]} - {w.extent(axis)}" if w.pad[axis] else \
        f"{size} - {w.extent(axis)}"
    if w.kind == "pool":
        return f"ceil(({span}) / {w.stride[axis]}) + 1 = {out}"
    return f"({span}) / {w.stride[axis]} + 1 = {out}"
