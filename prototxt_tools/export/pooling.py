"""Pooling with Caffe's exact windows and average divisor; SPP's pyramid of such poolings.

pooling_layer.cpp rounds the output size up (ceil; some forks allow floor), drops a last
window that would start in the padding, clips windows to the input for MAX, and for AVE divides
by the window clipped to the *padded* input ``[-pad, H + pad)`` — padding counts, the overhang
that ceil rounding adds past ``H + pad`` does not.  ONNX's ``ceil_mode`` is never used: the
output size comes from our shape inference, and explicit end pads make ONNX's floor formula
produce it.  Averages then need care only when a window overhangs ``H + pad``:

* no overhang: ``AveragePool(pads=[p, p], count_include_pad=1)`` divides by the window clipped
  to ``[-p, H + p)`` — Caffe's divisor;
* overhang: zero-``Pad`` by ``p`` first (those zeros are real elements now), then
  ``AveragePool(pads=[0, overhang], count_include_pad=0)``, which divides by the window clipped
  to ``[0, H + 2p)`` — again Caffe's divisor, with the overhang not counted.

MAX with a second top (SegNet's encoder) also writes the mask: per output element the argmax
``h * W + w`` within its (n, c) input plane, as float.  MaxPool's ``Indices`` count over the
whole NCHW tensor: ``Mod(H * W)`` makes them Caffe's plane index.  ONNX leaves ties open;
onnxruntime scans the clipped window in Caffe's order and keeps the first maximum (``>``), as
Caffe does (tests/test_export_segnet.py checks it).
"""

from __future__ import annotations

import numpy as np

from ..shapes.pooling import MAX, STOCHASTIC, empty_last_window, spp_level
from ..shapes.pooling import pool_2d as _caffe_pooled_size
from .nn import end_pad
from .registry import exporter

P = "pooling_param"


def _pair(param, name: str, prefix: str) -> tuple:
    """``kernel_size``/``pad``/``stride`` for both axes, or the ``_h``/``_w`` pair."""
    if param.HasField(f"{prefix}_h"):
        return getattr(param, f"{prefix}_h"), getattr(param, f"{prefix}_w")
    value = getattr(param, name)
    return value, value


def pooling_limits(param):
    pool = param.pooling_param
    if pool.pool == STOCHASTIC:
        yield ((P, "pool"), "STOCHASTIC pooling (Caffe has no CPU forward for it)")


def _geometry(param, bottom: tuple) -> tuple:
    if param.global_pooling:
        return tuple(bottom[2:]), (0, 0), (1, 1)
    return (_pair(param, "kernel_size", "kernel"), _pair(param, "pad", "pad"),
            _pair(param, "stride", "stride"))


@exporter("Pooling", limits=pooling_limits,
          restrictions="MAX and AVE (STOCHASTIC has no CPU forward in Caffe); MAX's mask top "
                       "(SegNet) as float plane indices h * W + w; ceil/floor rounding "
                       "(round_mode, fork ceil_mode) as the shape rule says")
def pooling(ctx, layer):
    """MaxPool/AveragePool (Global* if global), Caffe's windows and divisor; mask = Indices % HW."""
    param = layer.param.pooling_param
    bottom, top = ctx.bottom_shape(layer), ctx.top_shape(layer)
    kernel, pad, stride = _geometry(param, bottom)
    _refuse_empty_windows(ctx, bottom, top, kernel, pad, stride)
    if len(layer.tops) > 1:
        _max_pool_with_mask(ctx, layer, bottom, tuple(top[2:]), kernel, pad, stride)
        return
    pool_2d(ctx, ctx.bottom(layer), bottom, tuple(top[2:]), kernel, pad, stride,
            param.pool == MAX, out=ctx.top(layer))


def _refuse_empty_windows(ctx, bottom: tuple, top: tuple, kernel, pad, stride) -> None:
    """A last window past the input (:func:`empty_last_window`): ONNX has no pooling that
    computes Caffe's -FLT_MAX / division by a window size <= 0 there."""
    empty = empty_last_window(bottom, top, stride, pad)
    if empty is not None:
        axis, start = empty
        ctx.unsupported(("pooling_param",), f"the last pooling window along the "
                        f"{('height', 'width')[axis]} starts at {start}, past the input "
                        f"({bottom[2 + axis]}): kernel {kernel[axis]} < stride {stride[axis]} "
                        "with Caffe's ceil rounding leaves it empty, where Caffe outputs "
                        "-FLT_MAX (MAX) or divides by a window size <= 0 (AVE)")


def _max_pool_attrs(bottom: tuple, top_spatial: tuple, kernel, pad, stride) -> dict:
    ends = [end_pad(n, o, k, s, p)
            for n, o, k, s, p in zip(bottom[2:], top_spatial, kernel, stride, pad)]
    return {"kernel_shape": list(kernel), "strides": list(stride), "pads": list(pad) + ends}


def _max_pool_with_mask(ctx, layer, bottom: tuple, top_spatial: tuple, kernel, pad,
                        stride) -> None:
    """Top 0 the maxima, top 1 Caffe's mask (float argmax index within the (n, c) plane)."""
    indices = ctx.temp("indices")
    ctx.ops("MaxPool", [ctx.bottom(layer)], [ctx.top(layer), indices],
            **_max_pool_attrs(bottom, top_spatial, kernel, pad, stride))
    plane = ctx.const(bottom[2] * bottom[3], "plane_size", np.int64)
    ctx.op("Cast", ctx.op("Mod", indices, plane), out=ctx.top(layer, 1), to=1)  # 1 = FLOAT


def pool_2d(ctx, x: str, bottom: tuple, top_spatial: tuple, kernel, pad, stride,
            is_max: bool, out: str | None = None) -> str:
    """Caffe's MAX or AVE pooling of ``x`` (shape ``bottom``) to ``top_spatial``."""
    if tuple(top_spatial) == (1, 1) and tuple(kernel) == tuple(bottom[2:]) and \
            tuple(pad) == (0, 0):
        return ctx.op("GlobalMaxPool" if is_max else "GlobalAveragePool", x, out=out)
    sizes = list(zip(bottom[2:], top_spatial, kernel, stride, pad))
    common = {"kernel_shape": list(kernel), "strides": list(stride)}
    if is_max:
        return ctx.op("MaxPool", x, out=out,
                      **_max_pool_attrs(bottom, top_spatial, kernel, pad, stride))
    overhang = [max(0, (o - 1) * s + k - (n + 2 * p)) for n, o, k, s, p in sizes]
    if not any(overhang):
        return ctx.op("AveragePool", x, out=out, pads=list(pad) * 2, count_include_pad=1,
                      **common)
    if any(pad):
        pads = [0, 0, pad[0], pad[1]] * 2
        x = ctx.op("Pad", x, ctx.ints(pads, "pads"), ctx.const(0.0, "zero"), mode="constant")
    return ctx.op("AveragePool", x, out=out, pads=[0, 0] + overhang, count_include_pad=0,
                  **common)


def pool_sizes(bottom: tuple, kernel, pad, stride) -> tuple:
    """Caffe's (pooled_h, pooled_w) with ceil rounding and the last-window clip."""
    return _caffe_pooled_size(bottom, tuple(kernel), tuple(pad), tuple(stride), True, (), [])


def _spp_limits(param):
    if param.spp_param.pool == STOCHASTIC:
        yield (("spp_param", "pool"), "STOCHASTIC pooling (Caffe has no CPU forward for it)")


@exporter("SPP", limits=_spp_limits, restrictions="MAX and AVE levels")
def spp(ctx, layer):
    """Pyramid levels pooled (kernel ceil(size / 2^l), stride = kernel), flattened, concatenated
    on axis 1; one level alone stays 4-D, as spp_layer.cpp returns it."""
    param = layer.param.spp_param
    bottom = ctx.bottom_shape(layer)
    num, channels = bottom[0], bottom[1]
    levels = []
    for level in range(param.pyramid_height):
        kernel, pad = spp_level(bottom[2], bottom[3], level)
        pooled = pool_sizes(bottom, kernel, pad, kernel)
        single = param.pyramid_height == 1
        result = pool_2d(ctx, ctx.bottom(layer), bottom, pooled, kernel, pad, kernel,
                         param.pool == MAX, out=ctx.top(layer) if single else None)
        if single:
            return
        levels.append(ctx.reshape(result, (num, channels) + pooled,
                                  (num, channels * pooled[0] * pooled[1])))
    ctx.op("Concat", *levels, out=ctx.top(layer), axis=1)
