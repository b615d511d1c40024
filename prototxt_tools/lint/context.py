"""What a rule sees: :class:`LintContext`, one per linted file.

The context holds the file as written (CST, comments, message, source map), the net as Caffe sees
it (upgraded ``net`` and the ``network`` IR), and facts computed on demand by *providers*:
``ctx.shapes`` and ``ctx.weights``.  A provider is a function registered with
``@provider("shapes")`` that takes the context and returns the fact (or ``None`` when it cannot be
had, e.g. no ``--weights`` given).  It runs at most once per file, the first time a rule asks, so
files that no shape rule looks at never pay for shape inference, and the linter itself does not
depend on the shapes package.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import PrototxtToolsError
from ..ir import NetState
from ..schema import caffe_pb2
from ..source import FieldPath, Span
from .diagnostic import Diagnostic, Finding

PROVIDERS: dict[str, Callable[["LintContext"], Any]] = {}


def provider(name: str):
    """Register the function computing ``ctx.<name>`` (``shapes``, ``weights``); one per name."""
    def register(func: Callable[["LintContext"], Any]):
        if name in PROVIDERS:
            raise ValueError(f"a provider for {name!r} is already registered")
        PROVIDERS[name] = func
        return func
    return register


@dataclass(frozen=True)
class LintOptions:
    """Per-run settings every file shares: the net state Caffe is instantiated with, the
    weights file (``--weights``) for the weight rules, and net input shape overrides
    (``--input NAME=dims``: ``(name, shape)`` pairs) for the shape rules."""

    state: NetState = field(default_factory=NetState)
    weights: str | None = None
    inputs: tuple = ()


class LintContext:
    """One file being linted.  ``loaded`` is the :class:`~prototxt_tools.load.LoadedNet` when the
    file loaded, ``load_error`` the error that stopped loading otherwise (never both None)."""

    def __init__(self, path: str, text: str, loaded=None, load_error: PrototxtToolsError | None = None,
                 options: LintOptions | None = None):
        self.path = path
        self.text = text
        self.loaded = loaded
        self.load_error = load_error
        self.options = options or LintOptions()
        self._provided: dict[str, Any] = {}
        self.provider_errors: dict[str, PrototxtToolsError] = {}
        # set by the runner before the rules that run last (W9xx)
        self.suppressions = None
        self.selected: frozenset = frozenset()

    # -- the file as written -----------------------------------------------------------------
    @property
    def parsed(self):
        return self.loaded.parsed if self.loaded is not None else None

    @property
    def document(self):
        """The lossless CST (``prototxt_tools.text`` Document), None if the file did not load."""
        return getattr(self.parsed, "document", None)

    @property
    def message(self):
        """The NetParameter exactly as written (V0/V1 fields included), before any upgrade."""
        return getattr(self.parsed, "message", None)

    @property
    def source_map(self):
        return getattr(self.parsed, "source_map", None)

    @property
    def format(self) -> str | None:
        """'V0', 'V1' or 'V2' as written."""
        return self.loaded.format if self.loaded is not None else None

    @property
    def not_a_net(self) -> str | None:
        """What the file is when it is not a net at all (a solver, a label map), else None.

        Such a file parses with top-level fields unknown to NetParameter and none of a net's
        (layers or inputs); linting it as a net would only list its fields as unknown."""
        parsed = self.parsed
        if parsed is None:
            return None
        top_unknown = [w.field_path[0] for w in parsed.warnings
                       if w.kind == "unknown-field" and len(w.field_path) == 1]
        msg = parsed.message
        if not top_unknown or len(msg.layer) or len(msg.layers) or len(msg.input):
            return None
        solver_fields = caffe_pb2.SolverParameter.DESCRIPTOR.fields_by_name
        if any(name in solver_fields for name in top_unknown):
            return "a Caffe solver (SolverParameter)"
        return "another kind of message (no layers; top-level fields a net does not have)"

    # -- the net as Caffe sees it --------------------------------------------------------------
    @property
    def net(self):
        return self.loaded.net if self.loaded is not None else None

    @property
    def network(self):
        return self.loaded.network if self.loaded is not None else None

    # -- facts on demand ---------------------------------------------------------------------------
    @property
    def shapes(self):
        """Inferred blob shapes (whatever the ``shapes`` provider returns), or None."""
        return self.provide("shapes")

    @property
    def weights(self):
        """The weights of ``--weights`` (whatever the ``weights`` provider returns), or None."""
        return self.provide("weights")

    def provide(self, name: str):
        if name not in self._provided:
            func = PROVIDERS.get(name)
            value = None
            if func is not None and self.loaded is not None:
                try:
                    value = func(self)
                except PrototxtToolsError as exc:  # a fact that cannot be had is not a crash
                    self.provider_errors[name] = exc
            self._provided[name] = value
        return self._provided[name]

    def has(self, requirement: str) -> bool:
        """Is a rule requirement (see registry.REQUIREMENTS) met for this file?"""
        if requirement == "document":
            return self.document is not None
        if requirement == "network":
            return self.network is not None
        return self.provide(requirement) is not None

    # -- positions ---------------------------------------------------------------------------------
    def locate(self, at: FieldPath) -> tuple[Span | None, bool]:
        """Span of a field path of the written file and whether it is exact.

        An exact hit covers the whole field (``bottom: "conv1"``); otherwise the name of the
        nearest ancestor that is written in the file (a default value points at its block)."""
        smap = self.source_map
        if smap is None or at is None:
            return None, False
        path = tuple(at)
        hit = smap.get(path)
        if hit is not None:
            return hit.whole, True
        return smap.position(path), False

    def diagnostic(self, rule, finding: Finding) -> Diagnostic:
        """Position a rule's finding."""
        span = finding.span
        if span is None and finding.at is not None:
            span, _ = self.locate(finding.at)
        if span is not None:
            return Diagnostic(rule.code, rule.severity, finding.message, self.path, span.line,
                              span.col, span.end_line, span.end_col, finding.layer, rule.name,
                              finding.fix)
        line = finding.line or 1
        col = finding.col or 1
        return Diagnostic(rule.code, rule.severity, finding.message, self.path, line, col,
                          None, None, finding.layer, rule.name, finding.fix)
