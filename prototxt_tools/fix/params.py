"""Fixes of single layer parameters: BatchNorm's overridden learning rates (W406) and its batch
statistics in a deploy net (W413)."""

from __future__ import annotations

from ..text import Editor
from .model import Fix, make_fix
from .snippets import children, delete_fields, insert_into

ZEROED = ("lr_mult", "decay_mult")


def batchnorm_params_fix(ctx, k: int) -> Fix | None:
    """W406: write ``lr_mult: 0`` and ``decay_mult: 0`` in the three ``param`` blocks of
    ``layer[k]``, as Caffe's UpgradeNetBatchNorm sets them (safe: Caffe runs it that way)."""
    layer = ctx.message.layer[k]
    editor = Editor(ctx.document)
    for i, spec in enumerate(layer.param):
        node = ctx.parsed.node(("layer", k, "param", i))
        if node is None or not hasattr(node.value, "fields"):
            return None  # a `param [...]` list: not edited in place
        for name in ZEROED:
            if spec.HasField(name) and getattr(spec, name) == 0:
                continue
            written = children(node.value, name)
            if written:
                for f in written:
                    editor.replace_value(f, "0")
            else:
                insert_into(editor, node.value, f"{name}: 0")
    return make_fix(ctx.document, f"BatchNorm '{layer.name}': lr_mult and decay_mult of its 3 "
                    "params set to 0, as Caffe does", editor.edits)


def batchnorm_global_stats_fix(ctx, layer) -> Fix | None:
    """W413: delete ``use_global_stats: false`` so a deploy (TEST) net uses the stored
    statistics.  Unsafe: the layer's outputs change."""
    path = tuple(layer.origin) + ("batch_norm_param", "use_global_stats")
    node = ctx.parsed.node(path)
    if node is None:
        return None
    editor = Editor(ctx.document)
    delete_fields(editor, [node])
    return make_fix(ctx.document, f"BatchNorm '{layer.name}': delete `use_global_stats: false` "
                    "(the TEST phase then uses the learned statistics)", editor.edits,
                    unsafe_reason="changes the net's outputs: the layer normalizes with its "
                    "learned mean and variance instead of each batch's")
