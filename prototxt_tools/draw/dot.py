"""DOT text of a :class:`~.graph.Drawing` (Graphviz's language; no graphviz package needed).

Node labels are compact: the layer name, then its type with the parameters that decide the
shapes (``Convolution 7×7/2, 64``, ``MAX pool 3×3/2``, ``Eltwise SUM``), then the in-place layers
folded into it (``+ BatchNorm + Scale + ReLU``).  Concat and Eltwise -- where branches meet --
get their own shapes and colours.  Errors are red, with the message in the label (wrapped) and
in full in the tooltip (SVG shows it on hover).
"""

from __future__ import annotations

import textwrap

from .graph import Drawing, Edge, Node

FONT = "Helvetica"
STYLE = {  # type -> (shape, fill colour)
    "Convolution": ("box", "#dbe9f6"), "Deconvolution": ("box", "#dbe9f6"),
    "ConvolutionDepthwise": ("box", "#dbe9f6"), "DepthwiseConvolution": ("box", "#dbe9f6"),
    "InnerProduct": ("box", "#c6dbef"),
    "Pooling": ("box", "#e5f5e0"), "SPP": ("box", "#e5f5e0"),
    "Concat": ("invtrapezium", "#fdd49e"), "Eltwise": ("ellipse", "#fdae6b"),
    "Input": ("box", "#f0f0f0"),
}
DEFAULT_STYLE = ("box", "#ffffff")
ERROR_COLOUR, ERROR_FILL = "#d62728", "#fde0dd"
WRAP = 40  # characters per line of an error message inside a node


def to_dot(drawing: Drawing, rankdir: str = "TB") -> str:
    lines = [f"digraph {_quote(drawing.name)} {{",
             f"  graph [rankdir={rankdir}, nodesep=0.25, ranksep=0.3, fontname={_quote(FONT)}];",
             f"  node [fontname={_quote(FONT)}, fontsize=10, margin=\"0.12,0.04\", "
             "height=0.3, style=\"rounded,filled\", penwidth=0.8];",
             f"  edge [fontname={_quote(FONT)}, fontsize=8, fontcolor=\"#555555\", "
             "arrowsize=0.6, color=\"#777777\"];"]
    lines += ["  " + _node(n) for n in drawing.nodes]
    lines += ["  " + _edge(e) for e in drawing.edges]
    lines.append("}")
    return "\n".join(lines) + "\n"


def shape_text(shape: tuple | None) -> str:
    """``1×256×56×56``; ``?`` when unknown, ``scalar`` for a 0-d blob."""
    if shape is None:
        return "?"
    return "×".join(str(d) for d in shape) or "scalar"


def _node(node: Node) -> str:
    if node.kind == "junction":
        attrs = {"label": "", "shape": "point", "width": "0.05", "tooltip": node.name}
        return f"{node.id} [{_attrs(attrs)}];"
    if node.kind == "output":
        attrs = {"label": node.name, "shape": "plaintext", "style": "", "fontcolor": "#333333"}
    elif node.kind == "missing":
        attrs = {"label": f"{node.name}\n(not produced)", "shape": "ellipse", "style": "dashed",
                 "color": ERROR_COLOUR, "fontcolor": ERROR_COLOUR}
    else:
        shape, fill = STYLE.get(node.head.type, DEFAULT_STYLE)
        lines = [node.head.name, describe(node.head)]
        if node.folded:
            lines += _wrap_words(["+ " + describe(layer, brief=True) for layer in node.folded])
        attrs = {"label": "\n".join(lines), "shape": shape, "fillcolor": fill}
        if shape != "box":  # trapezium/ellipse grow around their text: keep them small
            attrs["margin"] = "0.02,0"
        if node.unknown:
            attrs.update(style="rounded,filled,dashed", tooltip=node.unknown)
    if node.errors:
        wrapped = [w for message in node.errors for w in textwrap.wrap(message, WRAP)]
        attrs.update(color=ERROR_COLOUR, fontcolor=ERROR_COLOUR, penwidth="2",
                     tooltip="\n".join(node.errors))
        if node.kind != "missing":
            attrs.update(fillcolor=ERROR_FILL, label=attrs["label"] + "\n" + "\n".join(wrapped))
    return f"{node.id} [{_attrs(attrs)}];"


def _edge(edge: Edge) -> str:
    if edge.error:
        attrs = {"color": ERROR_COLOUR, "style": "dashed", "penwidth": "1.5"}
    else:
        label = f"{edge.blob}: {shape_text(edge.shape)}" if edge.show_name else shape_text(edge.shape)
        # a space keeps the text off the line; edges out of a split point repeat no label
        attrs = {} if edge.plain else {"label": f" {label} "}
        if edge.shape is None:
            attrs["style"] = "dotted"
        if edge.to_split:
            attrs["arrowhead"] = "none"
    return f"{edge.tail} -> {edge.head} [{_attrs(attrs)}];"


def _wrap_words(words: list, width: int = 34) -> list:
    """``+ A + B + C`` on as few lines as fit ``width`` characters."""
    out: list = []
    for word in words:
        if out and len(out[-1]) + 1 + len(word) <= width:
            out[-1] += " " + word
        else:
            out.append(word)
    return out


def describe(layer, brief: bool = False) -> str:
    """The type and the parameters that matter for shapes, in a few characters."""
    p = layer.param
    t = layer.type
    if t in ("Convolution", "Deconvolution", "DepthwiseConvolution", "ConvolutionDepthwise"):
        c = p.convolution_param
        text = f"{t} {_window(c)}, {c.num_output}"
        if c.group > 1:
            text += f", group {c.group}"
        if c.dilation and max(c.dilation) > 1:
            text += f", dilation {max(c.dilation)}"
        return text
    if t == "Pooling":
        q = p.pooling_param
        kind = q.DESCRIPTOR.fields_by_name["pool"].enum_type.values_by_number[q.pool].name
        return f"{kind} pool global" if q.global_pooling else f"{kind} pool {_window(q)}"
    if t == "InnerProduct":
        return f"InnerProduct {p.inner_product_param.num_output}"
    if t == "Eltwise":
        e = p.eltwise_param
        op = e.DESCRIPTOR.fields_by_name["operation"].enum_type.values_by_number[e.operation].name
        return f"Eltwise {op}" + (" (coeff)" if e.coeff else "")
    if t == "Concat" and (p.concat_param.axis != 1 or p.concat_param.HasField("concat_dim")):
        axis = p.concat_param.concat_dim if p.concat_param.HasField("concat_dim") else p.concat_param.axis
        return f"Concat axis {axis}"
    if t == "Dropout" and not brief:
        return f"Dropout {p.dropout_param.dropout_ratio:g}"
    return t


def _window(param) -> str:
    """``7×7/2``: kernel and (when not 1) stride, from the square or the _h/_w fields."""
    kh, kw = _pair(param, "kernel_size", "kernel_h", "kernel_w", 0)
    sh, sw = _pair(param, "stride", "stride_h", "stride_w", 1)
    text = f"{kh}×{kw}"
    if (sh, sw) != (1, 1):
        text += f"/{sh}" if sh == sw else f"/{sh}×{sw}"
    return text


def _pair(param, name: str, h_name: str, w_name: str, default: int) -> tuple:
    if param.HasField(h_name) or param.HasField(w_name):
        return getattr(param, h_name), getattr(param, w_name)
    value = getattr(param, name)
    if isinstance(value, int):  # Pooling: optional uint32
        return (value, value) if param.HasField(name) else (default, default)
    values = list(value)  # Convolution: repeated, one per spatial axis
    if not values:
        return default, default
    return (values[0], values[-1])


def _attrs(attrs: dict) -> str:
    return ", ".join(f"{k}={_quote(str(v))}" for k, v in attrs.items())


def _quote(text: str) -> str:
    """A DOT double-quoted string; newlines become centred line breaks."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
