"""Caffe's SolverNeedsTypeUpgrade / UpgradeSolverType: the ``solver_type`` enum -> ``type`` string.

(UpgradeSolverAsNeeded's file-system dependent snapshot_prefix rewrite is not reproduced.)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..schema import caffe_pb2
from ._proto import copy_message
from .tracking import UpgradeChange, upgrade_error

STAGE = "UpgradeSolverType"
SOLVER_TYPES = {"SGD": "SGD", "NESTEROV": "Nesterov", "ADAGRAD": "AdaGrad",
                "RMSPROP": "RMSProp", "ADADELTA": "AdaDelta", "ADAM": "Adam"}


@dataclass
class SolverUpgradeResult:
    solver: caffe_pb2.SolverParameter
    changes: list = field(default_factory=list)


def solver_needs_type_upgrade(solver: caffe_pb2.SolverParameter) -> bool:
    return solver.HasField("solver_type")


def upgrade_solver(solver: caffe_pb2.SolverParameter) -> SolverUpgradeResult:
    """UpgradeSolverAsNeeded (type part) on a copy.  Both ``solver_type`` and ``type`` set is
    Caffe's CHECK failure -> UpgradeError."""
    out = copy_message(solver)
    changes = []
    if solver_needs_type_upgrade(solver):
        if solver.HasField("type"):
            raise upgrade_error("old solver_type (enum) and new type (string) are both set; "
                                "Caffe refuses to upgrade the solver", ("solver_type",))
        enum_name = caffe_pb2.SolverParameter.SolverType.Name(solver.solver_type)
        out.type = SOLVER_TYPES[enum_name]
        out.ClearField("solver_type")
        changes.append(UpgradeChange(f"solver_type {enum_name} -> type '{out.type}'",
                                     ("solver_type",), STAGE))
    return SolverUpgradeResult(out, changes)
