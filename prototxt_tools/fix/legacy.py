"""The format-upgrade fix: Caffe's ``UpgradeNetAsNeeded`` as edits of the file as written.

One fix per file (shared by W401-W405 and W407, as the stages cannot be applied apart: a V1
``layers`` block has no place for ``param { lr_mult }``, and Caffe refuses a net mixing ``layer``
and ``layers``):

- V0 / V1 nets: every layer block upgraded (:mod:`.legacy_layers`), padding layers folded away,
  net fields the V0 upgrade drops deleted, and the legacy inputs made an ``Input`` layer;
- current-format nets with ``input:`` fields: only the ``Input`` layer (``UpgradeNetInput``).

The Input layer is Caffe's: named ``input``, one top per input, placed before every other layer.
For a V0/V1 net the edited text is checked before the fix is offered: it must parse to exactly
the message :func:`~prototxt_tools.upgrade.upgrade_net` makes of the original.  If the minimal
edits miss that, the layer blocks are rewritten whole from the upgraded layers and checked
again; if that misses too, no fix is offered.  (The current-format input fix deletes the input
fields and adds one layer formatted from Caffe's: exact by construction, and tested on every
corpus net, so lint does not pay for a second parse of every net with legacy inputs.)

The fix is unsafe when it deletes something written in the file, even though Caffe ignores it:
settings Caffe's upgrade discards (W407), or unknown fields (E002) inside a layer block that is
rewritten whole.
"""

from __future__ import annotations

from ..errors import PrototxtToolsError
from ..lint.context import provider
from ..schema import caffe_pb2
from ..text import Editor, EditConflict, apply_edits, parse_prototxt
from ..upgrade import needs_input_upgrade
from .legacy_layers import LayerEdits
from .model import Fix, make_fix
from .snippets import block_text, children, insert_before

INPUT_FIELDS = ("input", "input_dim", "input_shape")
V0_NET_FIELDS = ("name", "layers", "input", "input_dim", "force_backward")
"""Net fields UpgradeV0Net keeps; its Clear() drops every other one."""
_NET_FIELDS = caffe_pb2.NetParameter.DESCRIPTOR.fields_by_name


@provider("legacy_fix")
def provide_legacy_fix(ctx) -> Fix | None:
    """The file's format-upgrade fix (computed once per lint run of a file), or None."""
    return legacy_fix(ctx.loaded)


def legacy_fix(loaded) -> Fix | None:
    """The format-upgrade fix of a loaded net, or None when it needs none."""
    original = loaded.parsed.message
    legacy = loaded.format in ("V0", "V1")
    if not legacy and not needs_input_upgrade(original):
        return None
    document = loaded.parsed.document
    if not legacy:
        # only the input fields go and one formatted layer comes: exact by construction, and
        # not worth re-parsing a large current-format net on every lint run
        editor = Editor(document)
        _build(editor, loaded, whole_blocks=False)
        return make_fix(document, _description(loaded), editor.edits,
                        _unsafe_reason(loaded, False))
    for whole_blocks in (False, True):
        editor = Editor(document)
        _build(editor, loaded, whole_blocks)
        if _reads_as(editor, loaded.path, loaded.net):
            rewritten = whole_blocks or loaded.format == "V0"
            return make_fix(document, _description(loaded), editor.edits,
                            _unsafe_reason(loaded, rewritten))
    return None


def _build(editor: Editor, loaded, whole_blocks: bool) -> None:
    document, message = loaded.parsed.document, loaded.parsed.message
    edits = LayerEdits(editor)
    origin_of = {tuple(o): i for i, o in enumerate(loaded.layer_origin)}
    legacy_blocks = children(document, "layers")
    if loaded.format in ("V0", "V1"):
        for k, node in enumerate(legacy_blocks):
            i = origin_of.get(("layers", k))
            if i is None:  # a V0 padding layer, folded into the layer reading it
                edits.remove_layer(node)
            elif loaded.format == "V0" or whole_blocks:
                edits.rewrite_layer(node, loaded.net.layer[i])
            else:
                edits.upgrade_v1_layer(node, message.layers[k], loaded.net.layer[i])
    if loaded.format == "V0":
        edits.delete([f for f in document.fields if f.name.text in _NET_FIELDS
                      and f.name.text not in V0_NET_FIELDS + INPUT_FIELDS])
    _inputs_to_layer(editor, edits, loaded, origin_of)
    edits.finish()


def _inputs_to_layer(editor: Editor, edits: LayerEdits, loaded, origin_of: dict) -> None:
    """Delete the legacy input fields; write Caffe's Input layer before the first layer."""
    document = loaded.parsed.document
    inputs = [f for f in document.fields if f.name.text in INPUT_FIELDS]
    if not inputs:
        return
    i = origin_of.get(("input", 0))
    if i is not None:  # no Input layer when no input has a shape (Caffe just drops them)
        layers = [f for f in document.fields if f.name.text in ("layer", "layers")]
        anchor = min(inputs + layers, key=lambda f: f.start)
        insert_before(editor, anchor, block_text(editor, "layer", loaded.net.layer[i]))
    edits.delete(inputs)


def _reads_as(editor: Editor, path: str, expected: caffe_pb2.NetParameter) -> bool:
    """Does the edited text parse to ``expected``?"""
    try:
        text = apply_edits(editor.text, editor.edits)
        return parse_prototxt(text, path).message == expected
    except (EditConflict, PrototxtToolsError):
        return False


def _description(loaded) -> str:
    net = loaded.net
    made_input = [layer for layer, o in zip(net.layer, loaded.layer_origin)
                  if tuple(o) == ("input", 0)]
    what = []
    if loaded.format in ("V0", "V1"):
        what.append(f"upgrade the {loaded.format} net to the current format "
                    f"({len(loaded.parsed.message.layers)} `layers` blocks -> "
                    f"{len(net.layer) - len(made_input)} `layer` blocks)")
    if made_input:
        tops = ", ".join(f"'{t}'" for t in made_input[0].top)
        what.append(f"legacy inputs {tops} -> Input layer '{made_input[0].name}'")
    elif len(loaded.parsed.message.input):
        what.append("delete the legacy inputs, which have no shape (Caffe drops them)")
    return "; ".join(what) + ", as Caffe's upgrade does"


def _unsafe_reason(loaded, rewritten: bool) -> str | None:
    """Why the fix is unsafe: Caffe's upgrade discards settings (W407), or layer blocks
    rewritten whole held fields the schema does not know (E002), which the rewrite drops."""
    lossy = [str(c) for c in loaded.upgrade_changes if c.lossy]
    if rewritten:
        lossy += [f"unknown field '{path[-1]}' in a rewritten layer block"
                  for path, _ in loaded.parsed.source_map.unknown_fields()
                  if path[:1] == ("layers",)]
    if not lossy:
        return None
    more = f" (and {len(lossy) - 1} more)" if len(lossy) > 1 else ""
    return f"the fix deletes settings Caffe ignores: {lossy[0]}{more}"
