"""Bookkeeping shared by the upgrade stages: change records, field-path traces, error raising.

Every stage rewrites messages, but diagnostics must point at the user's *original* lines.  Each
layer of the net being built therefore carries a :class:`LayerTrace` that maps a field path
relative to the new layer (``("convolution_param", "kernel_size", 0)``) to the absolute field path
in the original net (``("layers", 3, "layer", "kernelsize")``).  Traces chain: the V1 -> V2 stage
wraps the trace the V0 -> V1 stage produced, so a V0 file's diagnostics still land on V0 lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import UpgradeError
from ..source import FieldPath


def format_field_path(path: FieldPath) -> str:
    """``("layers", 3, "layer", "type")`` -> ``"layers[3].layer.type"`` for messages."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + part
    return text or "<net>"


@dataclass(frozen=True)
class UpgradeChange:
    """One thing the upgrade did (or dropped), anchored at the original field that caused it.

    ``lossy`` marks information Caffe's upgrader discards (a LOG(ERROR) "Unknown parameter ..."
    or a field it silently ignores); ``stage`` names the Caffe function that made the change.
    """

    message: str
    path: FieldPath
    stage: str
    lossy: bool = False

    def __str__(self) -> str:
        return f"{format_field_path(self.path)}: {self.message}"


@dataclass
class LayerTrace:
    """Where the fields of one layer of the net under construction came from."""

    origin: FieldPath
    fields: dict = field(default_factory=dict)   # relative path -> absolute original path
    parent: LayerTrace | None = None

    def resolve(self, rel: FieldPath) -> FieldPath:
        """Absolute original path of a field given relative to this layer (longest mapped prefix
        wins; unmapped fields are assumed unchanged since the previous stage)."""
        rel = tuple(rel)
        for n in range(len(rel), 0, -1):
            hit = self.fields.get(rel[:n])
            if hit is not None:
                return tuple(hit) + rel[n:]
        if self.parent is not None:
            return self.parent.resolve(rel)
        return tuple(self.origin) + rel


def upgrade_error(message: str, path: FieldPath) -> UpgradeError:
    """An UpgradeError whose text starts with the field path; ``field_path`` keeps it as a tuple
    so the caller can map it to a line with its SourceMap."""
    return UpgradeError(f"{format_field_path(path)}: {message}", field_path=tuple(path))


@dataclass
class UpgradeLog:
    """Collects changes for one upgrade run and decides what a Caffe LOG(ERROR) means.

    ``strict`` turns Caffe's "continuing anyway" problems (LOG(ERROR), the upgrader returns false
    but the net still loads with the offending field dropped) into an UpgradeError; with
    ``strict=False`` they are recorded as lossy changes, exactly as Caffe goes on.
    """

    strict: bool = True
    changes: list = field(default_factory=list)
    fully_compatible: bool = True

    def note(self, stage: str, message: str, path: FieldPath, lossy: bool = False) -> None:
        self.changes.append(UpgradeChange(message, tuple(path), stage, lossy))

    def problem(self, stage: str, message: str, path: FieldPath) -> None:
        """A Caffe LOG(ERROR) + ``is_fully_compatible = false``."""
        self.fully_compatible = False
        if self.strict:
            raise upgrade_error(message, path)
        self.note(stage, message, path, lossy=True)

    @staticmethod
    def fatal(message: str, path: FieldPath) -> UpgradeError:
        """A Caffe CHECK / LOG(FATAL): always an error (``raise log.fatal(...)``)."""
        return upgrade_error(message, path)


def identity_traces(net) -> list[LayerTrace]:
    """Traces for a net taken as the original: its V1 ``layers`` if it has any, else ``layer``."""
    if len(net.layers) > 0:
        return [LayerTrace(("layers", i)) for i in range(len(net.layers))]
    return [LayerTrace(("layer", i)) for i in range(len(net.layer))]
