"""Plugins: shape inference, ONNX export and lint knowledge for layer types of your own Caffe.

A plugin is a Python module that registers its layer types when it is imported, with the same
registries the built-in layers use::

    # mish_plugin.py
    from prototxt_tools.plugins import LayerShapes, exporter, shape_rule

    FORK = "our-lab/caffe (mish_layer.cpp)"

    @shape_rule("Mish", fork=FORK)
    def mish_shapes(layer, bottoms):
        \"\"\"x * tanh(softplus(x)); top = bottom.\"\"\"
        return LayerShapes([bottoms[0]])

    @exporter("Mish", fork=FORK)
    def mish_onnx(ctx, layer):
        \"\"\"Softplus, Tanh, Mul.\"\"\"
        x = ctx.bottom(layer)
        ctx.op("Mul", x, ctx.op("Tanh", ctx.op("Softplus", x)), out=ctx.top(layer))

- :func:`shape_rule` is :func:`prototxt_tools.shapes.shape_rule`: ``rule(layer, bottoms) ->
  LayerShapes`` with the V2 ``LayerParameter`` and the bottom shapes (tuples of ints); raise
  :class:`LayerShapeError` where your Caffe would fail a CHECK, :class:`ShapeUnknown` where the
  prototxt does not tell.
- :func:`exporter` registers ``exporter(ctx, layer)`` with ONNX export (see
  :mod:`prototxt_tools.export.registry`).  Registration waits until the exporter is used, so a
  plugin never makes ``prototxt-lint`` import onnx (nor fail where onnx is not installed).
- Every type either decorator names becomes a known fork layer type for the linter (W101 names
  ``fork``, instead of E106 "unknown layer type"); :func:`layer_type` declares a type that has
  neither.  ``fork`` defaults to ``"plugin <module>"``.

Plugins are loaded from the ``prototxt_tools.plugins`` entry-point group (every command loads
them; ``PROTOTXT_TOOLS_DISABLE_PLUGIN_AUTOLOAD=1`` turns that off), from ``--plugin MODULE`` (a
module name or a ``.py`` file) on ``prototxt-tools`` and ``prototxt-lint``, or from Python with
:func:`load_plugin` / :func:`load_plugins`.  A plugin cannot add fields to Caffe's schema: its
layers may use the ``*_param`` messages the schema already has, or none.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import sysconfig
import traceback
from pathlib import Path
from typing import Callable, Iterable, Sequence

from .errors import PrototxtToolsError
from .shapes.registry import LayerShapeError, LayerShapes, ShapeUnknown
from .shapes.registry import shape_rule as _builtin_shape_rule

ENTRY_POINT_GROUP = "prototxt_tools.plugins"
AUTOLOAD_OFF = "PROTOTXT_TOOLS_DISABLE_PLUGIN_AUTOLOAD"

# exporters waiting for the export package: (types, keyword arguments, function)
_pending_exporters: list[tuple[tuple, dict, Callable]] = []
_loaded: list[str] = []  # plugin specs loaded in this process, in order (for worker processes)
_entry_points_loaded = False


class PluginError(PrototxtToolsError):
    """A plugin that cannot be imported, or that fails while registering its layers."""


# --- what a plugin module calls --------------------------------------------------------------

def shape_rule(*types: str, bottoms: tuple = (1, 1), tops: tuple = (1, 1),
               equal_bottom_top: bool = False, fork: str | None = None,
               restrictions: str | None = None) -> Callable:
    """Register a shape rule (see :func:`prototxt_tools.shapes.shape_rule`) for fork types."""
    def register(function: Callable) -> Callable:
        defined_by = fork or _default_fork(function)
        _builtin_shape_rule(*types, bottoms=bottoms, tops=tops, equal_bottom_top=equal_bottom_top,
                            fork=defined_by, restrictions=restrictions)(function)
        _declare(types, defined_by)
        return function
    return register


def exporter(*types: str, limits: Callable | None = None, restrictions: str = "",
             fork: str | None = None) -> Callable:
    """Register an ONNX exporter (see :func:`prototxt_tools.export.exporter`) for fork types.

    ``limits(layer_param)`` may yield ``(field path, message)`` for options the exporter
    cannot honour, so the whole net is refused up front with every problem listed.
    """
    if not types:
        raise ValueError("exporter needs at least one layer type")

    def register(function: Callable) -> Callable:
        defined_by = fork or _default_fork(function)
        _declare(types, defined_by)
        _pending_exporters.append((tuple(types), {"limits": limits, "restrictions": restrictions,
                                                  "fork": defined_by}, function))
        if _export_imported():
            register_pending_exporters()
        return function
    return register


def layer_type(*types: str, fork: str) -> None:
    """Tell the linter these types exist in ``fork`` (W101 instead of E106 "unknown")."""
    _declare(types, fork)


def register_pending_exporters() -> None:
    """Hand the plugins' exporters to the ONNX exporter (imports it).  Idempotent."""
    from .export.registry import exporter as builtin_exporter
    while _pending_exporters:
        types, kwargs, function = _pending_exporters.pop(0)
        builtin_exporter(*types, **kwargs)(function)


def pending_exporters() -> list[str]:
    """Layer types whose plugin exporters wait for the export package."""
    return [t for types, _, _ in _pending_exporters for t in types]


def _export_imported() -> bool:
    module = sys.modules.get("prototxt_tools.export")
    return module is not None and hasattr(module, "export_onnx")  # fully imported


def _default_fork(function: Callable) -> str:
    return f"plugin {function.__module__}"


def _declare(types: Iterable[str], fork: str) -> None:
    from .lint.layer_types import BVLC_TYPES, FORK_TYPES
    for name in types:
        if name not in BVLC_TYPES:
            FORK_TYPES.setdefault(name, (fork,))


# --- loading ---------------------------------------------------------------------------------

def load_plugin(spec: str) -> None:
    """Import a plugin: a module name (``my_layers.caffe_plugin``) or a ``.py`` file path.

    Raises :class:`PluginError` naming the plugin (and the line in it that failed).
    """
    if spec in _loaded:
        return
    try:
        if spec.endswith(".py") or os.sep in spec or "/" in spec:
            _import_file(spec)
        else:
            importlib.import_module(spec)
    except PluginError:
        raise
    except Exception as exc:  # a plugin is user code: any failure is the plugin's
        raise _plugin_error(repr(spec), exc) from exc
    _loaded.append(spec)


def load_entry_point_plugins() -> list[str]:
    """Load every plugin registered in the ``prototxt_tools.plugins`` entry-point group
    (once per process; skipped when ``PROTOTXT_TOOLS_DISABLE_PLUGIN_AUTOLOAD`` is set).
    Returns the entry points' values (``module`` or ``module:attr``)."""
    global _entry_points_loaded
    if _entry_points_loaded or os.environ.get(AUTOLOAD_OFF):
        return []
    _entry_points_loaded = True
    from importlib.metadata import entry_points
    loaded = []
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            target = ep.load()
            if callable(target):  # "module:function" -> the function registers
                target()
        except Exception as exc:
            dist = getattr(getattr(ep, "dist", None), "name", None)
            where = f"entry point {ep.name!r} ({ep.value}{', from ' + dist if dist else ''})"
            raise _plugin_error(where, exc) from exc
        loaded.append(ep.value)
    return loaded


def load_plugins(specs: Sequence[str] = (), entry_points: bool = True) -> None:
    """The entry-point plugins (unless ``entry_points`` is false), then each spec in order."""
    if entry_points:
        load_entry_point_plugins()
    for spec in specs:
        load_plugin(spec)


def loaded_plugins() -> tuple[str, ...]:
    """Specs loaded with :func:`load_plugin` in this process, for worker processes to repeat."""
    return tuple(_loaded)


def _import_file(spec: str) -> None:
    path = Path(spec)
    if not path.is_file():
        raise PluginError("plugin file not found", spec)
    name = path.stem
    existing = sys.modules.get(name)
    if existing is not None:
        if Path(getattr(existing, "__file__", "") or "").resolve() == path.resolve():
            return
        raise PluginError(f"a module named {name!r} is already imported; rename the plugin "
                          "file", spec)
    module_spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    try:
        module_spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise


def _plugin_frame(filename: str) -> bool:
    """Is this traceback frame the plugin's code (not ours, importlib's or the stdlib's)?"""
    if filename.startswith("<"):
        return False
    parents = Path(filename).resolve().parents
    paths = sysconfig.get_paths()
    installed = {Path(paths[k]).resolve() for k in ("purelib", "platlib")}
    if Path(__file__).resolve().parent in parents:
        return False
    return not (Path(paths["stdlib"]).resolve() in parents and not installed & set(parents))


def _plugin_error(where: str, exc: BaseException) -> PluginError:
    """Point at the plugin's own line that failed, not at our registry or importlib."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return PluginError(f"plugin {where}: {exc.msg}", exc.filename, exc.lineno, exc.offset)
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if _plugin_frame(f.filename)]
    detail = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, ModuleNotFoundError) and not frames:
        detail += " (is it installed, or on PYTHONPATH?)"
    if frames:
        return PluginError(f"plugin {where} failed: {detail}", frames[-1].filename,
                           frames[-1].lineno)
    return PluginError(f"plugin {where} cannot be loaded: {detail}", "prototxt-tools")


__all__ = ["ENTRY_POINT_GROUP", "LayerShapeError", "LayerShapes", "PluginError", "ShapeUnknown",
           "exporter", "layer_type", "load_entry_point_plugins", "load_plugin", "load_plugins",
           "loaded_plugins", "pending_exporters", "register_pending_exporters", "shape_rule"]
