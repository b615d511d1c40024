"""Fully connected layers: InnerProduct, Embed, and the recurrent LSTM/RNN (unrolled-net params).

MAC convention: one multiply-accumulate per weight use (M * K * N for a matrix product); bias
adds and lookups are not counted.
"""

from __future__ import annotations

from .common import canonical_axis, count, require, shape_string
from .registry import LayerShapes, shape_rule

IP = "inner_product_param"


@shape_rule("InnerProduct")
def inner_product(layer, bottoms):
    """Flattens axes >= axis into K; top shape[:axis] + (num_output,); weights (N, K) or (K, N).

    MACs: M * K * num_output with M = count(0, axis).
    """
    param = layer.inner_product_param
    bottom = bottoms[0]
    axis = canonical_axis(bottom, param.axis, (IP, "axis"))
    k = count(bottom, axis)
    m = count(bottom, 0, axis)
    n = param.num_output
    weights = (k, n) if param.transpose else (n, k)
    params = [weights] + ([(n,)] if param.bias_term else [])
    notes = [] if n else ["num_output is 0: Caffe builds empty blobs"]
    return LayerShapes([tuple(bottom[:axis]) + (n,)], params, m * k * n, notes)


@shape_rule("Embed")
def embed(layer, bottoms):
    """Lookup of integer indices: top = bottom shape + (num_output,); weights (input_dim, N).

    MACs: 0 (a table lookup, no multiplies).
    """
    param = layer.embed_param
    require(param.num_output > 0, "EmbedLayer num_output must be positive.",
            ("embed_param", "num_output"), "invalid-param")
    require(param.input_dim > 0, "EmbedLayer input_dim must be positive.",
            ("embed_param", "input_dim"), "invalid-param")
    params = [(param.input_dim, param.num_output)]
    if param.bias_term:
        params.append((param.num_output,))
    return LayerShapes([tuple(bottoms[0]) + (param.num_output,)], params, 0)


def _recurrent_dims(layer, bottoms) -> tuple:
    """RecurrentLayer::LayerSetUp/Reshape checks; returns (T, N, input dim, static dim|None)."""
    param = layer.recurrent_param
    require(not param.expose_hidden, "expose_hidden recurrent layers are not supported by "
            "prototxt-tools shape inference", ("recurrent_param", "expose_hidden"), "unsupported")
    require(len(bottoms) in (2, 3), "recurrent layers take x, cont and an optional x_static",
            ("bottom",), "bad-blob-count")
    x, cont = bottoms[0], bottoms[1]
    require(len(x) >= 2, f"bottom[0] must have at least 2 axes -- (#timesteps, #streams, ...); "
            f"got {shape_string(x)}", ("bottom", 0), "wrong-axes")
    t, n = x[0], x[1]
    require(tuple(cont) == (t, n), f"bottom[1] must have exactly 2 axes -- (#timesteps, "
            f"#streams) = ({t}, {n}); got {shape_string(cont)}", ("bottom", 1), "shape-mismatch")
    require(param.num_output > 0, "num_output must be positive",
            ("recurrent_param", "num_output"), "invalid-param")
    static = None
    if len(bottoms) == 3:
        require(len(bottoms[2]) >= 1 and bottoms[2][0] == n,
                f"x_static must have N = {n} as its first axis", ("bottom", 2), "shape-mismatch")
        static = count(bottoms[2], 1)
    return t, n, count(x, 2), static


@shape_rule("LSTM", bottoms=(2, 3),
            restrictions="expose_hidden not supported; params in the unrolled net's order")
def lstm(layer, bottoms):
    """LSTM over (T, N, ...): top (T, N, H); params W_xc (4H, I), b_c (4H,), [W_xc_static], W_hc.

    MACs: T*N*4H*(I + H) + N*4H*S for a static input of S features.
    """
    t, n, i, s = _recurrent_dims(layer, bottoms)
    h = layer.recurrent_param.num_output
    params = [(4 * h, i), (4 * h,)] + ([(4 * h, s)] if s is not None else []) + [(4 * h, h)]
    macs = t * n * 4 * h * (i + h) + (n * 4 * h * s if s is not None else 0)
    return LayerShapes([(t, n, h)], params, macs)


@shape_rule("RNN", bottoms=(2, 3),
            restrictions="expose_hidden not supported; params in the unrolled net's order")
def rnn(layer, bottoms):
    """Elman RNN over (T, N, ...): top (T, N, H); params W_xh, b_h, [W_xh_static], W_hh, W_ho, b_o.

    MACs: T*N*H*(I + 2H) + N*H*S for a static input of S features.
    """
    t, n, i, s = _recurrent_dims(layer, bottoms)
    h = layer.recurrent_param.num_output
    params = ([(h, i), (h,)] + ([(h, s)] if s is not None else [])
              + [(h, h), (h, h), (h,)])
    macs = t * n * h * (i + 2 * h) + (n * h * s if s is not None else 0)
    return LayerShapes([(t, n, h)], params, macs)
