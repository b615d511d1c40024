"""E1xx / W1xx: the layer graph -- bottoms, tops, layer names and layer types.

The structural errors are facts the network IR already records (``Network.issues``, each with the
field path of the offending bottom/top/name); these rules give them codes.  The rest look at the
IR's blob versions: a version nobody reads is a net output for Caffe, so "unused" is only reported
where it cannot be an intended output.
"""

from __future__ import annotations

from typing import Iterator

from ..diagnostic import Finding
from ..layer_types import BVLC_TYPES, FORK_TYPES, PASS_THROUGH_TYPES
from ..registry import Rule, rule
from ._common import describe, top_path, type_path


class _IssueRule(Rule):
    """A rule reporting the IR's GraphIssues of one kind."""

    issue_code = ""

    def check(self, ctx) -> Iterator[Finding]:
        for issue in ctx.network.issues:
            if issue.code == self.issue_code:
                yield Finding(issue.message, at=issue.field_path, layer=issue.layer)


@rule
class UndefinedBottom(_IssueRule):
    """Checks that every bottom names a blob an earlier layer (or a net input) produced.

    ## What it does
    Reports a `bottom` that no layer before it produces as a `top` in the net state being linted
    (phase, stages, level).

    ## Why is this bad?
    Caffe stops with `Unknown bottom blob 'x' (layer 'y', bottom index 0)`. Layers run in file
    order, so a producer written *after* its consumer does not count either.

    ## Example
    ```
    layer { name: "relu1" type: "ReLU" bottom: "cnov1" top: "conv1" }
    ```

    ## Fix
    Correct the blob name, move the producing layer above, or check the `include`/`exclude`
    rules of the producer (it may exist only in another phase).
    """

    code = "E101"
    name = "undefined-bottom"
    summary = "Layer bottom refers to a blob no earlier layer produces"
    issue_code = "undefined-bottom"


@rule
class DuplicateTop(_IssueRule):
    """Checks that each blob is produced once, except by in-place layers.

    ## What it does
    Reports a `top` whose name an earlier layer already produced, unless the layer works in
    place (its top equals its bottom at the same index, as ReLU, Dropout or BatchNorm do).

    ## Why is this bad?
    Caffe's `Net::AppendTop` stops with `Top blob 'x' produced by multiple sources`.

    ## Example
    ```
    layer { name: "conv2" type: "Convolution" bottom: "pool1" top: "conv1" }
    ```

    ## Fix
    Give the top its own name and update the layers reading it.
    """

    code = "E102"
    name = "duplicate-top"
    summary = "Blob is produced by more than one layer"
    issue_code = "duplicate-top"


@rule
class DuplicateLayerName(_IssueRule):
    """Checks that layer names are unique.

    ## What it does
    Reports a layer whose `name` an earlier layer of the same net state already uses.

    ## Why is this bad?
    Caffe matches weights to layers by name: with two layers called `fc7`, both get the first
    one's weights (or loading fails on a shape mismatch), and tools that address layers by name
    (net surgery, converters) pick the wrong one.

    ## Example
    ```
    layer { name: "conv1" type: "Convolution" ... }
    layer { name: "conv1" type: "ReLU" ... }
    ```

    ## Fix
    Rename one of the layers (and its weights, if a `.caffemodel` already uses that name).
    """

    code = "E103"
    name = "duplicate-layer-name"
    summary = "Two layers share a name"
    issue_code = "duplicate-layer-name"


@rule
class GraphCycle(_IssueRule):
    """Checks that the layers do not feed each other in a loop.

    ## What it does
    Reports a bottom produced by a later layer that itself depends on this layer.

    ## Why is this bad?
    Caffe runs layers in file order and has no recurrence outside RNN/LSTM layers: the bottom is
    undefined when the layer runs, and the net cannot be built.

    ## Example
    ```
    layer { name: "a" type: "ReLU" bottom: "y" top: "x" }
    layer { name: "b" type: "ReLU" bottom: "x" top: "y" }
    ```

    ## Fix
    Break the loop; use an RNN/LSTM layer for recurrence.
    """

    code = "E104"
    name = "graph-cycle"
    summary = "Layers depend on each other in a cycle"
    issue_code = "cycle"


@rule
class IncludeAndExclude(_IssueRule):
    """Checks that a layer does not have both include and exclude rules.

    ## What it does
    Reports a layer with both `include { ... }` and `exclude { ... }` blocks.

    ## Why is this bad?
    Caffe's `Net::FilterNet` refuses it: `Specify either include rules or exclude rules; not
    both`.

    ## Example
    ```
    layer { name: "drop" type: "Dropout" include { phase: TRAIN } exclude { stage: "deploy" } }
    ```

    ## Fix
    Express the condition with one kind of rule (several `include` blocks are OR-ed).
    """

    code = "E105"
    name = "include-and-exclude"
    summary = "Layer has both include and exclude rules"
    issue_code = "include-and-exclude"


@rule
class UnknownLayerType(Rule):
    """Checks that every layer type is one BVLC Caffe or a well-known fork registers.

    ## What it does
    Reports a layer whose `type` is neither a BVLC Caffe layer nor a layer of a well-known fork
    (SSD, Faster R-CNN, PSPNet, SegNet, MobileNet-YOLO, ...; those are W101).

    ## Why is this bad?
    Caffe's layer factory stops with `Unknown layer type: X`; converters refuse the net too.
    Layer types are case-sensitive (`Relu` is not `ReLU`).

    ## Example
    ```
    layer { name: "relu1" type: "Relu" bottom: "conv1" top: "conv1" }
    ```

    ## Fix
    Use the registered spelling, or build the Caffe that provides the layer. For a layer of
    your own Caffe build, load a plugin that registers the type (its shape rule, its ONNX
    export): `prototxt-lint --plugin MODULE`, or an installed package's entry point in the
    `prototxt_tools.plugins` group; the layer is then a fork layer (W101).
    """

    code = "E106"
    name = "unknown-layer-type"
    summary = "Layer type is unknown to Caffe and to the known forks"

    def check(self, ctx) -> Iterator[Finding]:
        known = {t.lower(): t for t in BVLC_TYPES | set(FORK_TYPES)}
        for layer in ctx.network.layers:
            if layer.type in BVLC_TYPES or layer.type in FORK_TYPES:
                continue
            hint = known.get(layer.type.lower())
            extra = (f"; did you mean '{hint}'?" if hint else
                     "; if your Caffe build defines it, register it with a plugin "
                     "(--plugin MODULE; see prototxt-lint --explain E106)")
            yield Finding(f"{describe(layer)}: Caffe has no layer type '{layer.type}'{extra}",
                          at=type_path(layer), layer=layer.name)


@rule
class ForkLayerType(Rule):
    """Checks for layer types that only a Caffe fork provides.

    ## What it does
    Reports a layer whose `type` is not a BVLC Caffe layer but one of a known fork (SSD's
    `PriorBox`, Faster R-CNN's `ROIPooling`, PSPNet's `Interp`, ...), naming the fork.

    ## Why is this bad?
    BVLC Caffe, and tools that follow it, refuse the net (`Unknown layer type`). The net only
    runs on that fork's build or on runtimes that reimplement the layer.

    ## Example
    ```
    layer { name: "mbox_priorbox" type: "PriorBox" ... }
    ```

    ## Fix
    Nothing to fix if you target that fork; otherwise replace the layer with BVLC layers or
    export it with a converter that supports it.
    """

    code = "W101"
    name = "fork-layer-type"
    summary = "Layer type exists only in a Caffe fork"

    def check(self, ctx) -> Iterator[Finding]:
        for layer in ctx.network.layers:
            forks = FORK_TYPES.get(layer.type)
            if forks and layer.type not in BVLC_TYPES:
                yield Finding(f"{describe(layer)}: '{layer.type}' is not a BVLC Caffe layer; it "
                              f"comes from {' / '.join(forks)}", at=type_path(layer),
                              layer=layer.name)


@rule
class UnusedInput(Rule):
    """Checks that every net input is read by some layer.

    ## What it does
    Reports a blob of an `Input` layer (or a legacy `input:` field) that no layer reads.

    ## Why is this bad?
    Callers must still feed it, and Caffe returns it unchanged as a net output. It is usually a
    leftover (a `label` input in a deploy net) or a typo in the first layer's bottom.

    ## Example
    ```
    layer { name: "data" type: "Input" top: "data" top: "label" ... }
    ```

    ## Fix
    Remove the input (and its shape), or read it where it was meant to be used.
    """

    code = "W102"
    name = "unused-input"
    summary = "Net input is never read"

    def check(self, ctx) -> Iterator[Finding]:
        for layer in ctx.network.layers:
            if layer.type != "Input":
                continue
            for j, blob in enumerate(layer.tops):
                if not blob.consumers and not _overwritten(ctx.network, blob):
                    yield Finding(f"input '{blob.name}' of {describe(layer)} is never read",
                                  at=top_path(layer, j), layer=layer.name)


@rule
class BypassedOutput(Rule):
    """Checks for element-wise layers whose output is dropped while their input flows on.

    ## What it does
    Reports an element-wise layer (ReLU, Dropout, BatchNorm, Scale, PReLU, ...) that writes a
    *new* blob nobody reads, while a later layer reads the layer's input instead.

    ## Why is this bad?
    The layer has no effect: the net silently skips the activation or normalization. This is the
    classic typo in an in-place layer (`top: "conv_5"` instead of `top: "conv5"`). Caffe builds
    the net without complaint and returns the dead blob as an extra net output.

    ## Example
    ```
    layer { name: "relu5" type: "ReLU" bottom: "conv5" top: "relu5" }
    layer { name: "pool5" type: "Pooling" bottom: "conv5" top: "pool5" ... }
    ```

    ## Fix
    Write the layer in place (`top` equal to `bottom`) or make the later layer read its output.
    """

    code = "W103"
    name = "bypassed-output"
    summary = "Element-wise layer output is never read while its input is used later"

    def check(self, ctx) -> Iterator[Finding]:
        for layer in ctx.network.layers:
            if layer.type not in PASS_THROUGH_TYPES:
                continue
            for j, top in enumerate(layer.tops):
                if top.consumers or layer.in_place(j) or j >= len(layer.bottoms):
                    continue
                source = layer.bottoms[j]
                later = [c for c in source.consumers if c.index > layer.index]
                if later:
                    yield Finding(f"top '{top.name}' of {describe(layer)} is never read, but "
                                  f"layer '{later[0].name}' reads its input '{source.name}': the "
                                  f"{layer.type} has no effect (write it in place?)",
                                  at=top_path(layer, j), layer=layer.name)


def _overwritten(network, blob) -> bool:
    """Is a later version of the same blob name produced (so this one is not a net output)?"""
    return any(b.name == blob.name and b.version > blob.version for b in network.blobs)
