"""Layers whose tops do not depend on the input: DummyData (constant fillers) and Parameter."""

from __future__ import annotations

import numpy as np

from .registry import exporter


def _fillers(param, tops: int) -> list:
    """dummy_data_layer.cpp: no filler means constant 0; one filler serves every top."""
    given = list(param.data_filler)
    if not given:
        return [None] * tops
    return given * tops if len(given) == 1 else given


def _dummy_data_limits(param):
    for i, filler in enumerate(param.dummy_data_param.data_filler):
        if filler.type != "constant":
            yield (("dummy_data_param", "data_filler", i, "type"),
                   f"filler '{filler.type}' draws new values on every forward pass; only a "
                   "constant filler makes a constant blob")


@exporter("DummyData", limits=_dummy_data_limits,
          restrictions="constant fillers only (the others are random); not with "
                       "--dynamic-batch")
def dummy_data(ctx, layer):
    """A constant blob per top, filled with the filler's value (0 without a filler)."""
    param = layer.param.dummy_data_param
    for i, filler in enumerate(_fillers(param, len(layer.tops))):
        value = 0.0 if filler is None else filler.value
        shape = ctx.top_shape(layer, i)
        if ctx.dynamic_batch:
            ctx.unsupported(("dummy_data_param",), "a constant blob has no batch axis; it "
                                                   "cannot be exported with --dynamic-batch")
        ctx.op("Identity", ctx.const(np.full(shape, value, np.float32), "value"),
               out=ctx.top(layer, i))


@exporter("Parameter", restrictions="not with --dynamic-batch")
def parameter(ctx, layer):
    """The learned blob itself, as a constant."""
    if ctx.dynamic_batch:
        ctx.unsupported(("parameter_param",), "a learned blob has no batch axis; it cannot be "
                                              "exported with --dynamic-batch")
    ctx.op("Identity", ctx.const(ctx.weights(layer)[0], "blob"), out=ctx.top(layer))
