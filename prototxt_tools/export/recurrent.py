"""Caffe's recurrent layers, LSTM and RNN, as the nets they unroll to (lstm_layer.cpp,
rnn_layer.cpp, lstm_unit_layer.cpp), with a Loop over the time steps.

Bottoms: x (T, N, ...), cont (T, N) — 0 starts a new sequence: the previous hidden state (and
for LSTM the forget gate) is multiplied by cont_t — and optionally x_static (N, ...), added to
every step's input.  The initial states are zero (expose_hidden is refused by the shape rule).
ONNX's own LSTM/RNN ops have no per-step reset, hence the composition.
"""

from __future__ import annotations

import numpy as np

from .registry import exporter


def _inputs(ctx, layer, weight: np.ndarray, bias: np.ndarray, static_weight) -> tuple:
    """x_transform (T, N, G): W x_t + b for all steps; the static term (N, G) or None; cont."""
    x_shape = ctx.bottom_shape(layer, 0)
    steps, streams = x_shape[0], x_shape[1]
    x = ctx.reshape(ctx.bottom(layer, 0), x_shape, (steps, streams, weight.shape[1]))
    transformed = ctx.op("Add", ctx.op("MatMul", x, ctx.const(weight.T, "W_x")),
                         ctx.const(bias, "b"))
    static = None
    if static_weight is not None:
        s_shape = ctx.bottom_shape(layer, 2)
        flat = ctx.reshape(ctx.bottom(layer, 2), s_shape, (streams, static_weight.shape[1]))
        static = ctx.op("MatMul", flat, ctx.const(static_weight.T, "W_static"))
    cont = ctx.op("Unsqueeze", ctx.bottom(layer, 1), ctx.ints([2], "axes"))  # (T, N, 1)
    return transformed, static, cont, steps, streams


def _step_input(ctx, transformed: str, cont: str, i: str) -> tuple:
    return ctx.op("Gather", transformed, i, axis=0), ctx.op("Gather", cont, i, axis=0)


def _refuse_dynamic_batch(ctx, layer) -> None:
    ctx.guard_batch_axis(0, ("bottom", 0), f"{layer.type} (axis 0 is time)")


@exporter("LSTM", restrictions="not with --dynamic-batch (axis 0 is time)")
def lstm(ctx, layer):
    """i, f, o, g = gates of W_hc (cont_t h_{t-1}) + W_xc x_t + b_c [+ W_xc_static x_static];
    c_t = cont_t sigmoid(f) c_{t-1} + sigmoid(i) tanh(g); h_t = sigmoid(o) tanh(c_t)."""
    _refuse_dynamic_batch(ctx, layer)
    weights = ctx.weights(layer)
    static_weight = weights[2] if len(weights) == 4 else None
    w_hc = ctx.const(weights[-1].T, "W_hc")
    transformed, static, cont, steps, streams = _inputs(ctx, layer, weights[0], weights[1],
                                                        static_weight)
    hidden = weights[-1].shape[1]
    zeros = ctx.const(np.zeros((streams, hidden), np.float32), "zero_state")
    split = ctx.ints([hidden] * 4, "gates")

    def body(i, state):
        h_prev, c_prev = state
        x_t, cont_t = _step_input(ctx, transformed, cont, i)
        gate_input = ctx.op("Add", ctx.op("MatMul", ctx.op("Mul", h_prev, cont_t), w_hc), x_t)
        if static is not None:
            gate_input = ctx.op("Add", gate_input, static)
        gates = [ctx.temp(g) for g in "ifog"]
        ctx.ops("Split", [gate_input, split], gates, axis=1)
        in_gate, forget, out_gate = (ctx.op("Sigmoid", g) for g in gates[:3])
        forget = ctx.op("Mul", cont_t, forget)  # cont_t == 0 gives 0, as the unit's branch
        cell = ctx.op("Add", ctx.op("Mul", forget, c_prev),
                      ctx.op("Mul", in_gate, ctx.op("Tanh", gates[3])))
        h = ctx.op("Mul", out_gate, ctx.op("Tanh", cell))
        return [h, cell], [ctx.op("Identity", h)]

    ctx.loop(ctx.ints(np.array(steps), "steps"),
             [(zeros, (streams, hidden)), (zeros, (streams, hidden))],
             [(streams, hidden)], body,
             [ctx.temp("h_T"), ctx.temp("c_T"), ctx.top(layer)])


@exporter("RNN", restrictions="not with --dynamic-batch (axis 0 is time)")
def rnn(ctx, layer):
    """h_t = tanh(W_hh (cont_t h_{t-1}) + W_xh x_t + b_h [+ W_xh_static x_static]);
    o_t = tanh(W_ho h_t + b_o)."""
    _refuse_dynamic_batch(ctx, layer)
    weights = ctx.weights(layer)
    static_weight = weights[2] if len(weights) == 6 else None
    w_hh, w_ho, b_o = weights[-3:]
    transformed, static, cont, steps, streams = _inputs(ctx, layer, weights[0], weights[1],
                                                        static_weight)
    hidden = w_hh.shape[0]
    w_hh, w_ho, b_o = ctx.const(w_hh.T, "W_hh"), ctx.const(w_ho.T, "W_ho"), ctx.const(b_o, "b_o")

    def body(i, state):
        (h_prev,) = state
        x_t, cont_t = _step_input(ctx, transformed, cont, i)
        total = ctx.op("Add", ctx.op("MatMul", ctx.op("Mul", h_prev, cont_t), w_hh), x_t)
        if static is not None:
            total = ctx.op("Add", total, static)
        h = ctx.op("Tanh", total)
        return [h], [ctx.op("Tanh", ctx.op("Add", ctx.op("MatMul", h, w_ho), b_o))]

    zeros = ctx.const(np.zeros((streams, hidden), np.float32), "zero_state")
    ctx.loop(ctx.ints(np.array(steps), "steps"), [(zeros, (streams, hidden))],
             [(streams, hidden)], body, [ctx.temp("h_T"), ctx.top(layer)])
