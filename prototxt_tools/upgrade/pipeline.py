"""Caffe's UpgradeNetAsNeeded as one function: V0 -> V1, data transformation, V1 -> V2, input
fields, BatchNorm params — each stage only when its NetNeeds*Upgrade test says so, in Caffe's
order.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..schema import caffe_pb2
from ._proto import copy_message
from .current import (needs_batchnorm_upgrade, needs_input_upgrade, upgrade_batchnorm,
                      upgrade_input)
from .tracking import UpgradeLog, identity_traces
from .v0 import needs_v0_to_v1, upgrade_v0_net_traced
from .v1 import needs_data_upgrade, needs_v1_to_v2, upgrade_data_transformation, \
    upgrade_v1_net_traced


@dataclass
class UpgradeResult:
    """An upgraded net and how it was obtained.

    ``net``: a new current-format NetParameter (the input is untouched).
    ``source_format``: 'V0', 'V1' or 'V2' as :func:`detect_format` saw the input.
    ``changes``: list of UpgradeChange, each anchored at a field path of the *original* net.
    ``layer_origin[i]``: field path of the original message layer i of ``net`` came from —
    ``("layers", k)`` (V0/V1), ``("layer", k)`` (V2) or ``("input", 0)`` for the Input layer
    made from legacy input fields.
    ``fully_compatible``: Caffe's return value (False after a "continuing anyway" problem,
    which only happens with ``strict=False``).
    """

    net: caffe_pb2.NetParameter
    source_format: str
    changes: list
    layer_origin: list
    fully_compatible: bool = True

    @property
    def changed(self) -> bool:
        return bool(self.changes)


def detect_format(net: caffe_pb2.NetParameter) -> str:
    """'V0' (``layers { layer { ... } }``), 'V1' (``layers { type: ENUM }``) or 'V2'."""
    if needs_v0_to_v1(net):
        return "V0"
    if needs_v1_to_v2(net):
        return "V1"
    return "V2"


def net_needs_upgrade(net: caffe_pb2.NetParameter) -> bool:
    """NetNeedsUpgrade (BVLC master): would UpgradeNetAsNeeded change anything?"""
    return (needs_v0_to_v1(net) or needs_v1_to_v2(net) or needs_data_upgrade(net)
            or needs_input_upgrade(net) or needs_batchnorm_upgrade(net))


def upgrade_net(net: caffe_pb2.NetParameter, strict: bool = True) -> UpgradeResult:
    """UpgradeNetAsNeeded on a copy of net.

    Raises UpgradeError (message starting with the original field path, also stored as
    ``err.field_path``) wherever Caffe CHECK-fails or LOG(FATAL)s; with ``strict`` (default) also
    where Caffe LOG(ERROR)s and continues with a field dropped.  ``strict=False`` reproduces
    Caffe's continue-anyway behaviour and records those as lossy changes.
    """
    log = UpgradeLog(strict=strict)
    source_format = detect_format(net)
    work = copy_message(net)
    traces = identity_traces(work)
    if needs_v0_to_v1(work):
        work, traces = upgrade_v0_net_traced(work, log)
    if needs_data_upgrade(work):
        upgrade_data_transformation(work, traces, log)
    if needs_v1_to_v2(work):
        work, traces = upgrade_v1_net_traced(work, traces, log)
    if needs_input_upgrade(work):
        upgrade_input(work, traces, log)
    if needs_batchnorm_upgrade(work):
        upgrade_batchnorm(work, traces, log)
    return UpgradeResult(work, source_format, log.changes, [t.origin for t in traces],
                         log.fully_compatible)


def upgrade_caffemodel_net(net: caffe_pb2.NetParameter) -> UpgradeResult:
    """The same UpgradeNetAsNeeded Caffe runs on a binary .caffemodel (ReadNetParamsFromBinary-
    FileOrDie).  Blobs travel with their layers unchanged.  Non-strict: for weights Caffe only
    needs names and blobs, and it continues past its LOG(ERROR) problems there too."""
    return upgrade_net(net, strict=False)

