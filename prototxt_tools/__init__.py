"""prototxt-tools: read, check, fix and convert Caffe models exactly as Caffe does.

The public Python API is exactly the names in ``__all__``; every other module and name
(``prototxt_tools.lint.runner``, ``prototxt_tools.shapes.conv``, ...) is internal and may change
between releases.  Importing the package is cheap: each name is imported on first use.  onnx
is imported only to check an export (``ExportedModel.save(check=True)``, ``serialize()``,
``to_proto()``); exporting and writing need only protobuf and numpy.

Functions (see each one's docstring)::

    load(path, *, text=None, phase="TEST", stages=(), level=0) -> LoadedNet
    infer_shapes(net, inputs=None) -> NetworkShapes
    lint(path, *, select=None, ignore=None, extend_select=None, config=True, weights=None,
         inputs=None, ...) -> list[Diagnostic]
    fix(path, *, write=False, unsafe_fixes=False, select=None, ignore=None, ...) -> FixOutcome
    to_onnx(net, weights=None, *, random_seed=None, opset=None, dynamic_batch=False,
            inputs=None) -> ExportedModel
    read_caffemodel(source, *, writable=False) -> CaffeModel
    write_caffemodel(path, net, layers) -> None
    upgrade(path, *, text=None) -> str
    upgrade_caffemodel(source) -> CaffeModel
    draw(net, fmt="dot", *, inputs=None, rankdir="TB") -> str | bytes
    load_plugin(spec) -> None

Errors: every bad input raises a :class:`PrototxtToolsError` (``ParseError``,
``CaffemodelError``, ``UpgradeError``, ``GraphError``, ``ShapeError``, ``UnsupportedError``,
``PluginError``) whose ``str()`` is one line ``path:line:col: error: message``.

Example::

    import prototxt_tools as pt

    net = pt.load("deploy.prototxt")
    shapes = pt.infer_shapes(net, {"data": (1, 3, 224, 224)})
    print(shapes.by_name()["prob"], shapes.total_params, shapes.total_macs)
    for d in pt.lint("deploy.prototxt"):
        print(d.location(), d.code, d.message)
    pt.to_onnx(net, "weights.caffemodel").save("net.onnx")

Note: ``prototxt_tools.load``, ``.lint``, ``.fix``, ``.upgrade`` and ``.draw`` are the functions
above even though internal subpackages of the same names exist; import internals with
``from prototxt_tools.lint.runner import ...`` (never ``import prototxt_tools.lint as ...``).
"""

from __future__ import annotations

import importlib as _importlib
import sys as _sys
import types as _types
from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

from .errors import (CaffemodelError, GraphError, ParseError, PrototxtToolsError, ShapeError,
                     UnsupportedError, UpgradeError)

__version__ = "0.1.0"

# public name -> module defining it (imported on first access)
_LAZY: dict[str, str] = {
    "load": "._api", "infer_shapes": "._api", "lint": "._api", "fix": "._api",
    "to_onnx": "._api", "upgrade": "._api", "upgrade_caffemodel": "._api", "draw": "._api",
    "read_caffemodel": ".caffemodel", "write_caffemodel": ".caffemodel",
    "load_plugin": ".plugins", "PluginError": ".plugins",
    # the types the functions return
    "LoadedNet": ".load", "Network": ".ir", "Layer": ".ir", "BlobVersion": ".ir",
    "NetworkShapes": ".shapes.network", "Diagnostic": ".lint.diagnostic",
    "FixOutcome": ".fix.engine", "CaffeModel": ".caffemodel", "LayerWeights": ".caffemodel",
    "ExportedModel": ".export.model",
}
_ERRORS = ["PrototxtToolsError", "ParseError", "CaffemodelError", "UpgradeError", "GraphError",
           "ShapeError", "UnsupportedError"]
__all__ = ["__version__", *_LAZY, *_ERRORS]

if _TYPE_CHECKING:  # pragma: no cover - what static type checkers see
    from ._api import (draw, fix, infer_shapes, lint, load, to_onnx, upgrade,
                       upgrade_caffemodel)
    from .caffemodel import CaffeModel, LayerWeights, read_caffemodel, write_caffemodel
    from .export.model import ExportedModel
    from .fix.engine import FixOutcome
    from .ir import BlobVersion, Layer, Network
    from .lint.diagnostic import Diagnostic
    from .load import LoadedNet
    from .plugins import PluginError, load_plugin
    from .shapes.network import NetworkShapes


def __getattr__(name: str) -> _Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_importlib.import_module(module, __name__), name)
    globals()[name] = value  # cache: later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


class _Package(_types.ModuleType):
    """Keeps the API functions ``load``/``lint``/``fix``/``upgrade``/``draw`` from being
    replaced by the subpackages of the same names: importing a submodule sets it as an
    attribute of its parent package, which would shadow the function."""

    def __setattr__(self, name: str, value: _Any) -> None:
        if _LAZY.get(name) == "._api" and isinstance(value, _types.ModuleType):
            return
        super().__setattr__(name, value)


_sys.modules[__name__].__class__ = _Package
