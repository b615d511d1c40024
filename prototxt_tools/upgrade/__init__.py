"""Legacy-format upgrade, exactly as BVLC Caffe's src/caffe/util/upgrade_proto.cpp does it.

Main entry point: :func:`upgrade_net` (Caffe's UpgradeNetAsNeeded on a copy) returning an
:class:`UpgradeResult` with the upgraded net, the detected source format, a list of
:class:`UpgradeChange` anchored at original field paths, and ``layer_origin`` per output layer.
The single Caffe stages are exported too, under Caffe's names in snake case, for tests and tools.
"""

from .current import (needs_batchnorm_upgrade, needs_input_upgrade, upgrade_batchnorm,
                      upgrade_input)
from .pipeline import (UpgradeResult, detect_format, net_needs_upgrade, upgrade_caffemodel_net,
                       upgrade_net)
from .solver import SolverUpgradeResult, solver_needs_type_upgrade, upgrade_solver
from .tracking import UpgradeChange, format_field_path
from .v0 import V0_LAYER_TYPES, needs_v0_to_v1, upgrade_v0_net, upgrade_v0_padding_layers
from .v1 import (V1_LAYER_TYPES, needs_data_upgrade, needs_v1_to_v2, upgrade_data_transformation,
                 upgrade_v1_net)

__all__ = [
    "UpgradeResult", "UpgradeChange", "SolverUpgradeResult", "detect_format", "net_needs_upgrade",
    "upgrade_net", "upgrade_caffemodel_net", "upgrade_solver", "solver_needs_type_upgrade",
    "format_field_path", "needs_v0_to_v1", "upgrade_v0_padding_layers", "upgrade_v0_net",
    "needs_data_upgrade", "upgrade_data_transformation", "needs_v1_to_v2", "upgrade_v1_net",
    "needs_input_upgrade", "upgrade_input", "needs_batchnorm_upgrade", "upgrade_batchnorm",
    "V0_LAYER_TYPES", "V1_LAYER_TYPES",
]
