"""Edits that turn one legacy layer block into the layer Caffe's upgrade makes of it.

- V1 (``layers { type: CONVOLUTION blobs_lr: 1 ... }``): minimal edits -- ``layers`` -> ``layer``,
  the enum type -> its string, ``blobs_lr``/``weight_decay``/``blob_share_mode``/``param`` names
  -> ``param { ... }`` blocks, and every other field brought to its upgraded value field by field
  (the data-transformation fields move from ``data_param`` to ``transform_param``).  Everything
  else, comments included, stays byte for byte.
- V0 (``layers { layer { type: "conv" ... } bottom: ... }``): nothing of the old block survives
  as written (every parameter moves), so the block is rewritten from the upgraded layer; the
  comments written inside it are kept on the lines before the new block.

:class:`LayerEdits` collects deletions so that neighbouring fields are deleted as one range.
"""

from __future__ import annotations

from google.protobuf.message import Message

from ..schema import caffe_pb2
from ..text import Block, Editor, Field, ListValue
from .snippets import (block_text, children, comments_inside, delete_fields, field_text,
                       insert_before, insert_into, replace_whole, scalar_text, starts_line)

V1_PARAM_SOURCES = ("param", "blob_share_mode", "blobs_lr", "weight_decay")
"""V1 fields UpgradeV1LayerParameter turns into ``param { name share_mode lr_mult decay_mult }``."""
_LAYER_FIELDS = caffe_pb2.LayerParameter.DESCRIPTOR.fields_by_name
_V1_FIELDS = caffe_pb2.V1LayerParameter.DESCRIPTOR.fields_by_name
SHARED_FIELDS = tuple(n for n in _V1_FIELDS if n in _LAYER_FIELDS and
                      n not in ("type",) + V1_PARAM_SOURCES)
"""Fields a V1 layer and a current layer both have, with the same meaning (name, bottom, the
``*_param`` messages, ...): synced value by value."""


class LayerEdits:
    """Edits of one fix on one Editor; deletions are gathered and made at the end."""

    def __init__(self, editor: Editor):
        self.editor = editor
        self.doomed: list[Field] = []

    def delete(self, fields: list[Field]) -> None:
        self.doomed.extend(fields)

    def finish(self) -> None:
        if self.doomed:
            delete_fields(self.editor, self.doomed)
            self.doomed = []

    # -- one layer ---------------------------------------------------------------------------
    def upgrade_v1_layer(self, node: Field, v1: Message, target: Message) -> None:
        """Edit V1 ``layers`` block ``node`` (message ``v1``) into current layer ``target``."""
        editor = self.editor
        editor.rename(node, "layer")
        block = node.value
        if target.HasField("type"):
            for f in children(block, "type"):
                editor.replace_value(f, scalar_text(target, "type"))
        sources = [f for f in block.fields if f.name.text in V1_PARAM_SOURCES]
        if sources and len(target.param):
            insert_before(editor, sources[0], field_text(editor, target, "param"))
        self.delete(sources)
        for name in SHARED_FIELDS:
            self.sync(block, v1, target, name)
        for f in block.fields:  # V1-only fields the upgrade does not carry over
            name = f.name.text
            if name in _V1_FIELDS and name not in _LAYER_FIELDS and name not in V1_PARAM_SOURCES:
                self.delete([f])

    def rewrite_layer(self, node: Field, target: Message) -> None:
        """Replace a whole (V0) block by ``layer { <target> }``, keeping its comments."""
        replace_whole(self.editor, node, block_text(self.editor, "layer", target),
                      comments_inside(self.editor, node))

    def remove_layer(self, node: Field) -> None:
        """Delete a block the upgrade drops (a V0 padding layer); comments inside it stay."""
        comments = comments_inside(self.editor, node)
        if not comments:
            self.delete([node])
            return
        editor, nl = self.editor, self.editor.newline
        if starts_line(editor, node):
            editor.replace_field(node, (nl + editor.line_indent(node.start)).join(comments))
        else:
            editor.replace_field(node, nl + nl.join(comments) + nl)

    # -- one field, by value ------------------------------------------------------------------
    def sync(self, block: Block, written: Message, target: Message, name: str) -> None:
        """Make field ``name`` written in ``block`` (message ``written``) read as in ``target``,
        touching only what differs; a sub-message written as one block is synced field by
        field."""
        fd = target.DESCRIPTOR.fields_by_name[name]
        nodes = children(block, name)
        if fd.is_repeated:
            wanted = list(getattr(target, name))
            if list(getattr(written, name)) == wanted:
                return
            self._replace(block, nodes, field_text(self.editor, target, name) if wanted else "")
            return
        has_written, has_target = written.HasField(name), target.HasField(name)
        if has_written == has_target and (not has_target or
                                          getattr(written, name) == getattr(target, name)):
            return
        if not has_target:
            self.delete(nodes)
        elif fd.message_type is not None and has_written and len(nodes) == 1 \
                and isinstance(nodes[0].value, Block):
            sub_written, sub_target = getattr(written, name), getattr(target, name)
            names = {f.name for f, _ in sub_written.ListFields()}
            names |= {f.name for f, _ in sub_target.ListFields()}
            for sub in sorted(names, key=lambda n: sub_target.DESCRIPTOR.fields_by_name[n].number):
                self.sync(nodes[0].value, sub_written, sub_target, sub)
        elif fd.message_type is None and len(nodes) == 1 and not isinstance(nodes[0].value,
                                                                            ListValue):
            self.editor.replace_value(nodes[0], scalar_text(target, name))
        else:
            self._replace(block, nodes, field_text(self.editor, target, name))

    def _replace(self, block: Block, nodes: list[Field], snippet: str) -> None:
        """Put ``snippet`` where ``nodes`` are (or at the end of ``block``) and drop ``nodes``."""
        if snippet:
            if nodes:
                insert_before(self.editor, nodes[0], snippet)
            else:
                insert_into(self.editor, block, snippet)
        self.delete(nodes)
