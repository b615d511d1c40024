"""Fixes of convolution / pooling windows: the kernel that covers a fully connected layer's whole
input (E201) and a window size written twice in two spellings (E210)."""

from __future__ import annotations

from ..text import Editor, ListValue
from .model import Fix, make_fix
from .snippets import delete_fields, set_scalar, starts_line

FAMILIES = (("kernel_size", "kernel_h", "kernel_w"), ("pad", "pad_h", "pad_w"),
            ("stride", "stride_h", "stride_w"))
"""The square spelling and the 2-D ``_h``/``_w`` spelling of each window parameter."""


def dims(values) -> str:
    return "×".join(str(v) for v in values)


def covering_kernel_fix(ctx, layer, blob: str, bottom: tuple, channel_axis: int,
                        kernel: list, kernel_fields: list) -> Fix | None:
    """E201: set the kernel of convolution ``layer`` to the spatial size of its input
    ``bottom`` (blob ``blob``), so that it covers the whole input as the fully connected layer
    it stands for.  ``kernel_fields[i]`` is the field (inside the layer) setting axis i.

    Safe, unless ``--weights`` holds this layer's weights with the old kernel shape: they no
    longer fit (Caffe refuses to copy them), so the fix is unsafe and says so."""
    size = list(bottom[channel_axis + 1:])
    paths = [tuple(layer.origin) + tuple(f) for f in kernel_fields]
    editor = Editor(ctx.document)
    if len(set(paths)) == len(paths):  # one field per axis (kernel_h/kernel_w, or repeated)
        for path, value in zip(paths, size):
            if not _set_value(ctx, editor, path, value):
                return None
    elif len(set(size)) == 1:  # one kernel_size for every axis, square input
        if not _set_value(ctx, editor, paths[0], size[0]):
            return None
    else:  # one kernel_size, non-square input: one value per axis
        node = ctx.parsed.node(paths[0])
        if node is None:
            return None
        names = ["kernel_h", "kernel_w"] if len(size) == 2 else ["kernel_size"] * len(size)
        parts = [f"{n}: {v}" for n, v in zip(names, size)]
        glue = "\n" if starts_line(editor, node) else " "
        editor.replace_field(node, parts[0])
        editor.insert_after(node, glue.join(parts[1:]))
    description = (f"{layer.name}: kernel {dims(kernel)} -> {dims(size)}, the whole of its "
                   f"input {blob} ({dims(bottom[channel_axis:])})")
    return make_fix(ctx.document, description, editor.edits,
                    unsafe_reason=_weights_conflict(ctx, layer, kernel, size))


def _set_value(ctx, editor: Editor, path: tuple, value: int) -> bool:
    """Set the kernel value at ``path`` (``(..., "kernel_size", 0)`` or ``(..., "kernel_h")``)."""
    node = ctx.parsed.node(path)
    if node is None:
        return False
    index = path[-1] if isinstance(path[-1], int) else 0
    if isinstance(node.value, ListValue):
        # a [a, b] list: its items are the field's values only if nothing else sets it
        first = ctx.parsed.node(path[:-1] + (0,)) if isinstance(path[-1], int) else node
        if first is not node or index >= len(node.value.items):
            return False
    set_scalar(editor, node, index, str(value))
    return True


def _weights_conflict(ctx, layer, kernel: list, size: list) -> str | None:
    """Why the fix is unsafe: the --weights caffemodel holds this layer's weights with the old
    kernel shape (None when there are no such weights)."""
    if not ctx.options.weights or tuple(kernel) == tuple(size):
        return None
    stored = ctx.weights
    if stored is None:
        return None
    for source in stored.named(layer.name):
        if source.blobs and tuple(source.blobs[0].shape[-len(kernel):]) == tuple(kernel):
            return (f"{stored.path} holds {layer.name}'s weights with the {dims(kernel)} kernel "
                    f"({dims(source.blobs[0].shape)}); with a {dims(size)} kernel Caffe refuses "
                    "to copy them (E304) -- they need retraining or slicing")
    return None


def redundant_spellings_fix(ctx, layer) -> Fix | None:
    """E210: delete ``kernel_h``/``kernel_w`` (``pad_h``/``pad_w``, ``stride_h``/``stride_w``)
    written next to ``kernel_size`` (``pad``, ``stride``) with the same values.  Caffe refuses
    both spellings together; they agree, so dropping the 2-D one changes nothing else."""
    param_name = "pooling_param" if layer.type == "Pooling" else "convolution_param"
    param = getattr(layer.param, param_name)
    doomed = []
    for square, h, w in FAMILIES:
        given = _values(param, square)
        written = [n for n in (h, w) if param.HasField(n)]
        if not given or not written:
            continue
        per_axis = given * 2 if len(given) == 1 else given
        if len(per_axis) == 2 and all(getattr(param, n) == per_axis[i]
                                      for i, n in enumerate((h, w)) if n in written):
            doomed.extend((square, n) for n in written)
    nodes = [ctx.parsed.node(tuple(layer.origin) + (param_name, n)) for _, n in doomed]
    if not doomed or any(node is None for node in nodes):
        return None
    editor = Editor(ctx.document)
    delete_fields(editor, nodes)
    names = ", ".join(n for _, n in doomed)
    squares = ", ".join(dict.fromkeys(s for s, _ in doomed))
    return make_fix(ctx.document, f"{layer.name}: delete {names} (the same as {squares})",
                    editor.edits)


def _values(param, name: str) -> list:
    fd = param.DESCRIPTOR.fields_by_name[name]
    if fd.is_repeated:
        return list(getattr(param, name))
    return [getattr(param, name)] if param.HasField(name) else []
