"""Issue 7, property-based: generated nets (valid and mutated) through the whole pipeline.

Nets are built as protobuf messages from a strategy over layer types and parameters and printed
with ``google.protobuf.text_format`` (an independent printer).  Properties:

- our parser reads protobuf's text back to the same message; our printer's output parses back
  (with our parser and with protobuf's) to the same message;
- loading, shape inference and lint raise nothing but PrototxtToolsError subclasses (shape
  inference: ShapeUnknown/LayerShapeError are facts in its result, never exceptions); every
  shape error and every lint diagnostic points inside the file;
- mutated texts (tokens deleted, duplicated, swapped, replaced by extreme numbers, text cut
  short) parse to the same kind of outcome: a ParseError with a line/column inside the text, or a
  message that round-trips; lint turns every one of them into diagnostics;
- absurd sizes (dims up to 2^63-1, kernels and outputs up to 2^32-1) give positioned shape
  errors, never OverflowError or a big allocation.

Default settings stay bounded (about 100-150 examples each, deadline None, < 30 s together);
``-m slow`` runs the same properties with 2000 examples.
"""

from __future__ import annotations

import re

import pytest
from google.protobuf import text_format
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prototxt_tools.errors import ParseError, PrototxtToolsError
from prototxt_tools.lint import default_codes
from prototxt_tools.lint.runner import lint_source
from prototxt_tools.load import load_net
from prototxt_tools.schema import caffe_pb2
from prototxt_tools.shapes import ShapeUnknown
from prototxt_tools.shapes.network import infer_shapes
from prototxt_tools.text import format_message, parse_prototxt


CODES = default_codes()
FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- the net strategy ---------------------------------------------------------------------------

small = st.integers(1, 4)
ELEMENTWISE = ["ReLU", "Sigmoid", "TanH", "AbsVal", "BNLL", "ELU", "Dropout", "Power", "Swish",
               "Clip", "Exp", "Log", "Threshold"]


@st.composite
def layer_params(draw, kind: str, lp: caffe_pb2.LayerParameter) -> None:
    """Fill the parameters of one layer of ``kind`` (small values: most nets are valid)."""
    if kind in ("Convolution", "Deconvolution"):
        p = lp.convolution_param
        p.num_output = draw(st.sampled_from([1, 2, 4, 6, 8]))
        p.kernel_size.append(draw(st.integers(1, 3)))
        if draw(st.booleans()):
            p.stride.append(draw(st.integers(1, 2)))
        if draw(st.booleans()):
            p.pad.append(draw(st.integers(0, 1)))
        if draw(st.integers(0, 4)) == 0:
            p.dilation.append(2)
        if draw(st.integers(0, 3)) == 0:
            p.group = draw(st.sampled_from([2, 3]))
        if draw(st.integers(0, 3)) == 0:
            p.bias_term = False
    elif kind == "Pooling":
        p = lp.pooling_param
        p.pool = draw(st.sampled_from([caffe_pb2.PoolingParameter.MAX,
                                       caffe_pb2.PoolingParameter.AVE]))
        if draw(st.integers(0, 4)) == 0:
            p.global_pooling = True
        else:
            p.kernel_size = draw(st.integers(1, 3))
            p.stride = draw(st.integers(1, 2))
            if draw(st.booleans()):
                p.pad = draw(st.integers(0, 1))
    elif kind == "InnerProduct":
        lp.inner_product_param.num_output = draw(st.integers(1, 10))
    elif kind == "LRN":
        lp.lrn_param.local_size = draw(st.sampled_from([1, 3, 5]))
    elif kind == "Concat" or kind == "Softmax":
        if draw(st.booleans()):
            getattr(lp, "concat_param" if kind == "Concat" else "softmax_param").axis = \
                draw(st.integers(-1, 1))
    elif kind == "Eltwise":
        lp.eltwise_param.operation = draw(st.sampled_from([0, 1, 2]))
    elif kind == "Reshape":
        lp.reshape_param.shape.dim.extend(draw(st.sampled_from([[0, -1], [0, 0, -1], [-1]])))
    elif kind == "Scale":
        lp.scale_param.bias_term = draw(st.booleans())
    elif kind == "Permute":
        lp.permute_param.order.extend(draw(st.permutations([0, 1, 2, 3])))
    elif kind == "Slice":
        lp.slice_param.axis = 1


@st.composite
def nets(draw, max_layers: int = 8) -> caffe_pb2.NetParameter:
    """A net: an input (Input layer or legacy fields), then a chain of layers, some reading an
    earlier blob as a second bottom."""
    net = caffe_pb2.NetParameter(name=draw(st.sampled_from(["g", "gen net", ""])))
    shape = [draw(small), draw(st.integers(1, 6)), draw(st.integers(1, 12)),
             draw(st.integers(1, 12))]
    if draw(st.booleans()):
        net.layer.add(name="input", type="Input", top=["data"]).input_param.shape.add(dim=shape)
    else:
        net.input.append("data")
        net.input_shape.add(dim=shape)
    blobs = ["data"]
    kinds = ELEMENTWISE + ["Convolution", "Deconvolution", "Pooling", "InnerProduct", "LRN",
                           "Concat", "Eltwise", "Softmax", "Flatten", "Reshape", "BatchNorm",
                           "Scale", "PReLU", "Split", "Slice", "Permute", "Crop", "Mystery"]
    for i in range(draw(st.integers(1, max_layers))):
        kind = draw(st.sampled_from(kinds))
        lp = net.layer.add(name=f"l{i}", type=kind)
        lp.bottom.append(blobs[-1])
        if kind in ("Concat", "Eltwise", "Crop"):
            lp.bottom.append(draw(st.sampled_from(blobs)))
        in_place = kind in ELEMENTWISE + ["BatchNorm", "Scale"] and draw(st.booleans())
        tops = 2 if kind in ("Split", "Slice") else 1
        for t in range(tops):
            lp.top.append(blobs[-1] if in_place else f"b{i}_{t}")
        draw(layer_params(kind, lp))
        if draw(st.integers(0, 9)) == 0:  # a TRAIN-only layer, filtered out in TEST
            lp.include.add(phase=caffe_pb2.TRAIN)
        if not in_place:
            blobs.extend(lp.top)
    return net


# -- the pipeline under test ------------------------------------------------------------------------

def protobuf_text(net: caffe_pb2.NetParameter) -> str:
    return text_format.MessageToString(net)


def check_pipeline(text: str, path: str = "gen.prototxt") -> None:
    """Load, infer shapes, lint: only our errors, positions inside the file."""
    lines = text.count("\n") + 1
    try:
        loaded = load_net(path, text=text)
    except PrototxtToolsError as error:
        assert error.line is None or 1 <= error.line <= lines, str(error)
        loaded = None
    if loaded is not None:
        try:
            result = infer_shapes(loaded.network)
        except (PrototxtToolsError, ShapeUnknown):
            result = None
        for error in result.errors if result is not None else ():
            assert isinstance(error, PrototxtToolsError)
            span = loaded.source_map.position(error.field_path)
            assert span is not None and 1 <= span.line <= lines, error
    for d in lint_source(path, CODES, text=text):
        assert 1 <= d.line <= lines and d.col >= 1, d


def check_round_trip(text: str) -> caffe_pb2.NetParameter | None:
    """Our parse of ``text``, printed by us, parses back (ours and protobuf's) to the same."""
    try:
        parsed = parse_prototxt(text, "gen.prototxt")
    except ParseError as error:
        assert error.line is not None and error.col is not None
        assert 1 <= error.line <= text.count("\n") + 1
        assert "\n" not in str(error)
        return None
    printed = format_message(parsed.message)
    assert parse_prototxt(printed).message == parsed.message
    assert text_format.Parse(printed, caffe_pb2.NetParameter()) == parsed.message
    return parsed.message


def valid_net_property(net: caffe_pb2.NetParameter) -> None:
    text = protobuf_text(net)
    parsed = parse_prototxt(text, "gen.prototxt")
    assert parsed.message == net and not parsed.warnings
    assert check_round_trip(text) == net
    check_pipeline(text)


@FAST
@given(nets())
def test_generated_nets_round_trip_and_never_crash(net):
    valid_net_property(net)


@pytest.mark.slow
@SLOW
@given(nets(max_layers=16))
def test_generated_nets_round_trip_and_never_crash_long(net):
    valid_net_property(net)


# -- mutated texts -------------------------------------------------------------------------------------

TOKEN = re.compile(r'\s+|"(?:[^"\\\n]|\\.)*"|[{}:\[\],;<>]|[^\s{}:\[\],;<>"]+')
EXTREME = ["0", "-1", "2147483647", "2147483648", "4294967295", "4294967296",
           "9223372036854775807", "9223372036854775808", "-9223372036854775809", "1e308",
           "1e999", "nan", "-inf", "0x7fffffffffffffff", "99999999999999999999999999"]
JUNK = ["{", "}", ":", "layer", "layer {", "bottom: \"data\"", "top: \"x\"", '"', "#", "\\",
        "[", "]", "<", ">", ";", "\x00", "\xe9", "type: \"Eltwise\"", "name: \"l0\""]


@st.composite
def mutations(draw, net_strategy=None):
    text = protobuf_text(draw(net_strategy or nets(max_layers=6)))
    tokens = TOKEN.findall(text)
    assert "".join(tokens) == text
    for _ in range(draw(st.integers(1, 3))):
        if not tokens:
            break
        i = draw(st.integers(0, len(tokens) - 1))
        action = draw(st.sampled_from(["delete", "duplicate", "swap", "extreme", "junk",
                                       "truncate"]))
        if action == "delete":
            del tokens[i]
        elif action == "duplicate":
            tokens.insert(i, tokens[i])
        elif action == "swap" and i + 1 < len(tokens):
            tokens[i], tokens[i + 1] = tokens[i + 1], tokens[i]
        elif action == "extreme":
            numbers = [k for k, t in enumerate(tokens) if re.fullmatch(r"-?\d+(\.\d*)?", t)]
            if numbers:
                tokens[draw(st.sampled_from(numbers))] = draw(st.sampled_from(EXTREME))
        elif action == "junk":
            tokens.insert(i, draw(st.sampled_from(JUNK)))
        elif action == "truncate":
            cut = "".join(tokens)
            return cut[:draw(st.integers(0, len(cut)))]
    return "".join(tokens)


def mutated_property(text: str) -> None:
    check_round_trip(text)
    check_pipeline(text)


@FAST
@given(mutations())
def test_mutated_nets_give_our_errors_or_round_trip(text):
    mutated_property(text)


@pytest.mark.slow
@SLOW
@given(mutations())
def test_mutated_nets_give_our_errors_or_round_trip_long(text):
    mutated_property(text)


# -- absurd sizes -------------------------------------------------------------------------------------

huge = st.one_of(st.integers(0, 16), st.sampled_from([2**31 - 1, 2**31, 2**32 - 1, 2**40,
                                                       2**62, 2**63 - 1]))
huge32 = st.one_of(st.integers(1, 16), st.sampled_from([2**16, 2**31 - 1, 2**31, 2**32 - 1]))


@st.composite
def absurd_nets(draw) -> caffe_pb2.NetParameter:
    net = caffe_pb2.NetParameter(name="absurd")
    dims = draw(st.lists(huge, min_size=1, max_size=6))
    net.layer.add(name="input", type="Input", top=["data"]).input_param.shape.add(dim=dims)
    kind = draw(st.sampled_from(["Convolution", "InnerProduct", "Pooling", "Deconvolution",
                                 "Reshape", "Tile", "Flatten", "Concat"]))
    lp = net.layer.add(name="big", type=kind, bottom=["data"], top=["out"])
    if kind in ("Convolution", "Deconvolution"):
        lp.convolution_param.num_output = draw(huge32)
        lp.convolution_param.kernel_size.append(draw(huge32))
        lp.convolution_param.pad.append(draw(st.sampled_from([0, 1, 2**31 - 1, 2**32 - 1])))
    elif kind == "InnerProduct":
        lp.inner_product_param.num_output = draw(huge32)
    elif kind == "Pooling":
        lp.pooling_param.kernel_size = draw(huge32)
        lp.pooling_param.stride = draw(huge32)
    elif kind == "Reshape":
        lp.reshape_param.shape.dim.extend(draw(st.lists(st.sampled_from([0, -1, 2**40, 2**62]),
                                                        min_size=1, max_size=4)))
    elif kind == "Tile":
        lp.tile_param.tiles = draw(st.sampled_from([2, 2**31 - 1]))
    elif kind == "Concat":
        lp.bottom.append("data")
    return net


def absurd_property(net: caffe_pb2.NetParameter) -> None:
    text = protobuf_text(net)
    check_pipeline(text)
    loaded = load_net("absurd.prototxt", text=text)
    result = infer_shapes(loaded.network)
    total = result.total_macs + result.total_params  # big Python ints, never an overflow
    assert total >= 0
    for blob, shape in result.blobs.items():
        # a blob whose shape is known fits Caffe's int32 count (larger ones are E211 errors
        # of the layer that would make them, and their shapes stay unknown)
        if shape is not None:
            count = 1
            for d in shape:
                count *= d
            assert count <= 2**31 - 1, (blob, shape)


@settings(max_examples=150, deadline=None)
@given(absurd_nets())
def test_absurd_sizes_are_errors_not_overflows(net):
    absurd_property(net)


# -- fixed hostile inputs -------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "layer { " * 20_000,                         # nesting without end
    "a < " * 10_000 + "> " * 10_000,             # balanced, 100 times deeper than MAX_DEPTH
    "layer { name: " + '"x' * 20_000,            # one unterminated string after another
    "input_dim: " + "9" * 100_000 + "\n",        # a 100,000-digit number
    "layer { bottom: [" + '"a", ' * 10_000 + '"a"] }',
], ids=["open-blocks", "deep", "strings", "long-number", "long-list"])
def test_hostile_text_is_refused_quickly(text):
    import time

    start = time.perf_counter()
    check_pipeline(text, "hostile.prototxt")
    assert time.perf_counter() - start < 20
