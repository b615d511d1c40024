"""W40x: legacy formats and fields -- one rule per step of Caffe's ``UpgradeNetAsNeeded``.

Caffe still reads these files, upgrading them in memory each time; other tools (OpenCV's
importer, converters, newer forks) often do not.  Each rule matches one upgrade function of
``src/caffe/util/upgrade_proto.cpp``, so ``prototxt-fix`` can apply that upgrade as a minimal edit.
"""

from __future__ import annotations

from typing import Iterator

from ...fix.legacy import provide_legacy_fix  # noqa: F401  (registers ctx.legacy_fix)
from ...fix.params import batchnorm_params_fix
from ..diagnostic import Finding
from ..registry import Rule, rule

DATA_STAGE = "UpgradeNetDataTransformation"


def upgrade_fix(ctx):
    """The file's format-upgrade fix (:mod:`prototxt_tools.fix.legacy`), shared by W401-W405
    and W407: Caffe's upgrade stages cannot be applied one at a time to the text."""
    return ctx.provide("legacy_fix")


@rule
class LegacyLayerFormat(Rule):
    """Checks for nets written in the V0 or V1 layer format.

    ## What it does
    Reports a net whose layers are `layers { ... }` blocks: V1 (`type: CONVOLUTION`, an enum) or
    V0 (`layers { layer { type: "conv" } }`).

    ## Why is this bad?
    Caffe has upgraded these in memory since 2015 (`upgrade_net_proto_text`) and logs that
    "future Caffe releases will not support" them. OpenCV, converters and forks may misread or
    refuse them; fields like `blobs_lr` are silently reinterpreted.

    ## Example
    ```
    layers { name: "conv1" type: CONVOLUTION bottom: "data" top: "conv1" }
    ```

    ## Fix
    `prototxt-fix` (safe) upgrades the file by edits, keeping every comment: a V1
    `layers { type: CONVOLUTION }` becomes `layer { type: "Convolution" }` (`blobs_lr`/
    `weight_decay` -> `param` blocks, data-transformation fields -> `transform_param`), a V0
    block is rewritten from its upgraded layer (its comments kept above it), padding layers
    fold into the next layer and legacy inputs become Caffe's `Input` layer. The result reads
    exactly as Caffe's `upgrade_net_proto_text` output. Unsafe only when it deletes something
    Caffe ignores: a setting Caffe's upgrade discards (W407), or an unknown field (E002) in a
    block rewritten whole. `prototxt-tools upgrade` rewrites the whole file instead.
    """

    code = "W401"
    name = "legacy-layer-format"
    summary = "Net uses the deprecated V0/V1 layer format"
    requires = ("document", "network")

    def check(self, ctx) -> Iterator[Finding]:
        if ctx.format == "V1":
            yield Finding("net uses the V1 layer format (`layers` with enum types), deprecated "
                          "since 2015; upgrade it to `layer` blocks", at=("layers", 0),
                          fix=upgrade_fix(ctx))
        elif ctx.format == "V0":
            yield Finding("net uses the V0 layer format (`layers { layer { ... } }`), deprecated "
                          "since 2014; upgrade it to `layer` blocks", at=("layers", 0),
                          fix=upgrade_fix(ctx))


@rule
class LegacyPaddingLayer(Rule):
    """Checks for V0 `padding` layers.

    ## What it does
    Reports a V0 layer of type `padding`.

    ## Why is this bad?
    Padding layers were removed in 2014; Caffe's `UpgradeV0PaddingLayers` folds each into the
    `pad` of the convolution or pooling layer reading it, and fails (`Padding layer input to
    non-convolutional / non-pooling layer`) when anything else reads it.

    ## Example
    ```
    layers { layer { name: "pad1" type: "padding" pad: 2 } bottom: "data" top: "pad1" }
    ```

    ## Fix
    Upgrade the net: the pad moves into the next layer. `prototxt-fix` (safe) does this as part
    of the format upgrade (W401's fix), deleting the padding block and keeping its comments.
    """

    code = "W402"
    name = "legacy-padding-layer"
    summary = "V0 padding layer (folded into the next convolution/pooling by Caffe)"
    requires = ("document", "network")

    def check(self, ctx) -> Iterator[Finding]:
        for k, conn in enumerate(ctx.message.layers):
            if conn.HasField("layer") and conn.layer.type == "padding":
                yield Finding(f"padding layer '{conn.layer.name}' is a V0 construct; Caffe folds "
                              "its pad into the layer that reads it",
                              at=("layers", k, "layer", "type"), layer=conn.layer.name,
                              fix=upgrade_fix(ctx))


@rule
class LegacyParamFields(Rule):
    """Checks for `blobs_lr` and `weight_decay`.

    ## What it does
    Reports a V0/V1 layer that sets learning-rate or weight-decay multipliers with `blobs_lr` /
    `weight_decay`.

    ## Why is this bad?
    Since V2 these are `param { lr_mult: ... decay_mult: ... }`, one block per parameter blob.
    The V1 upgrade converts them; tools reading the V1 fields directly get them wrong or drop
    them.

    ## Example
    ```
    layers { name: "fc8" type: INNER_PRODUCT blobs_lr: 1 blobs_lr: 2 weight_decay: 1 weight_decay: 0 }
    ```

    ## Fix
    Upgrade the net: each value becomes `param { lr_mult: 1 decay_mult: 1 }` etc.
    `prototxt-fix` (safe) does this as part of the format upgrade (W401's fix): a V0/V1 layer
    block has no `param { }` field, so the layer is upgraded with it.
    """

    code = "W403"
    name = "legacy-param-fields"
    summary = "Layer uses blobs_lr / weight_decay instead of param { lr_mult decay_mult }"
    requires = ("document", "network")

    def check(self, ctx) -> Iterator[Finding]:
        for k, conn in enumerate(ctx.message.layers):
            holder, prefix = (conn.layer, ("layers", k, "layer")) if conn.HasField("layer") \
                else (conn, ("layers", k))
            used = [f for f in ("blobs_lr", "weight_decay") if len(getattr(holder, f))]
            if used:
                name = holder.name
                yield Finding(f"layer '{name}' sets {' and '.join(used)}; the current format "
                              "is `param { lr_mult decay_mult }`", at=prefix + (used[0], 0),
                              layer=name, fix=upgrade_fix(ctx))


@rule
class LegacyDataTransform(Rule):
    """Checks for data-layer preprocessing fields outside `transform_param`.

    ## What it does
    Reports `scale`, `mean_file`, `crop_size` or `mirror` written inside `data_param`,
    `image_data_param` or `window_data_param` of a V1 data layer.

    ## Why is this bad?
    Caffe's `UpgradeNetDataTransformation` moves them into `transform_param`; tools that do not
    run that upgrade train or evaluate without the preprocessing.

    ## Example
    ```
    layers { type: DATA data_param { source: "train_lmdb" scale: 0.00390625 } }
    ```

    ## Fix
    Upgrade the net: the fields move to `transform_param { scale: 0.00390625 }`.
    `prototxt-fix` (safe) does this as part of the format upgrade (W401's fix), moving the
    fields and leaving the rest of the data layer as written.
    """

    code = "W404"
    name = "legacy-data-transform"
    summary = "Data preprocessing fields outside transform_param"
    requires = ("document", "network")

    def check(self, ctx) -> Iterator[Finding]:
        for change in ctx.loaded.upgrade_changes:
            if change.stage == DATA_STAGE:
                yield Finding(f"deprecated data transformation field: {change.message}",
                              at=change.path, fix=upgrade_fix(ctx))


@rule
class LegacyInputFields(Rule):
    """Checks for net-level `input` / `input_dim` / `input_shape` fields.

    ## What it does
    Reports a net declaring its inputs with the legacy `input:` fields.

    ## Why is this bad?
    Caffe's `UpgradeNetInput` turns them into an `Input` layer placed first; `input_dim` takes
    exactly four values per input, and a mismatch is only caught at load time. Some tools read
    only one of the two spellings.

    ## Example
    ```
    input: "data"
    input_dim: 1 input_dim: 3 input_dim: 224 input_dim: 224
    ```

    ## Fix
    Upgrade the net: `layer { name: "input" type: "Input" top: "data" input_param { shape { dim:
    1 dim: 3 dim: 224 dim: 224 } } }`. `prototxt-fix` (safe) writes exactly this layer -- Caffe's
    `UpgradeNetInput`: named "input", one top per input, before every other layer -- and deletes
    the input fields; comments stay. In a V0/V1 net it is part of the format upgrade (W401).
    Unsafe when an input has no shape or unused `input_dim` values exist (Caffe drops them).
    """

    code = "W405"
    name = "legacy-input-fields"
    summary = "Net inputs declared with legacy input / input_dim / input_shape fields"
    requires = ("document", "network")

    def check(self, ctx) -> Iterator[Finding]:
        message = ctx.message
        if len(message.input):
            kind = "input_shape" if len(message.input_shape) else \
                "input_dim" if len(message.input_dim) else "no shape"
            names = ", ".join(f"'{n}'" for n in message.input)
            yield Finding(f"net input(s) {names} use the legacy `input` fields ({kind}); the "
                          "current format is an Input layer", at=("input", 0),
                          fix=upgrade_fix(ctx))


@rule
class LegacyBatchNormParams(Rule):
    """Checks for BatchNorm layers whose three `param` blocks Caffe overrides.

    ## What it does
    Reports a `BatchNorm` layer with exactly three `param { ... }` blocks of which one lets the
    solver learn (a non-zero `lr_mult`, including the default 1 when `lr_mult` is not written).

    ## Why is this bad?
    Three `param` blocks were how the statistics were kept out of the solver before BatchNorm
    did it itself. Caffe's `UpgradeNetBatchNorm` now sets every `lr_mult` and `decay_mult` of
    such a layer to 0, so the learning rate the file states is silently ignored. (Three blocks
    that already say `lr_mult: 0` are harmless and not reported.)

    ## Example
    ```
    layer { type: "BatchNorm" param { lr_mult: 1 } param { lr_mult: 1 } param { lr_mult: 0 } }
    ```

    ## Fix
    `prototxt-fix` (safe) writes what Caffe does: `lr_mult: 0` and `decay_mult: 0` in each of
    the three `param` blocks (values changed in place, missing ones added), so the file says
    what runs and Caffe's upgrade has nothing left to change. Deleting the three blocks works
    too (BatchNorm then masks its statistics itself).
    """

    code = "W406"
    name = "legacy-batchnorm-params"
    summary = "BatchNorm layer declares a learning rate Caffe overrides with 0"
    requires = ("document", "network")

    def check(self, ctx) -> Iterator[Finding]:
        for k, layer in enumerate(ctx.message.layer):
            if layer.type != "BatchNorm" or len(layer.param) != 3:
                continue
            learning = [i for i, p in enumerate(layer.param) if p.lr_mult != 0]
            if learning:
                i = learning[0]
                yield Finding(f"BatchNorm '{layer.name}': param {i} has lr_mult "
                              f"{layer.param[i].lr_mult:g}, but Caffe sets lr_mult and decay_mult "
                              "of a BatchNorm with 3 params to 0", at=("layer", k, "param", i),
                              layer=layer.name, fix=batchnorm_params_fix(ctx, k))


@rule
class UpgradeDropsField(Rule):
    """Checks for fields Caffe's upgrade silently discards.

    ## What it does
    Reports a field of a legacy net that `UpgradeNetAsNeeded` does not carry over (a V0
    parameter that does not apply to the layer type, unused `input_dim` values, ...).

    ## Why is this bad?
    The file says something Caffe ignores: the net that runs is not the net that is written.

    ## Example
    ```
    input: "data"
    input_dim: 1 input_dim: 3 input_dim: 32 input_dim: 32 input_dim: 7
    ```

    ## Fix
    Delete the field, or move the setting to where the current format expects it.
    `prototxt-fix --unsafe-fixes` applies the format upgrade (W401's fix), which deletes what
    Caffe's upgrade discards; unsafe, because the file states something the fix removes.
    """

    code = "W407"
    name = "upgrade-drops-field"
    summary = "Caffe's format upgrade discards this field"
    requires = ("document", "network")

    def check(self, ctx) -> Iterator[Finding]:
        for change in ctx.loaded.upgrade_changes:
            if change.lossy:
                yield Finding(f"Caffe's upgrade discards this: {change.message}", at=change.path,
                              fix=upgrade_fix(ctx))
