"""Configuration files: ``[tool.prototxt-lint]`` in pyproject.toml or ``[prototxt-lint]`` in setup.cfg.

Discovery follows ruff: for each linted file, the closest directory (the file's own, then its
parents) holding a ``pyproject.toml`` with a ``[tool.prototxt-lint]`` table -- files without the
table are skipped -- or a ``setup.cfg`` with a ``[prototxt-lint]`` section (flake8's precedent).
No cascading: the first one found is the configuration.  Keys:

``select``, ``extend-select``, ``ignore`` (lists of selectors), ``per-file-ignores`` (glob ->
selectors; globs are relative to the config file's directory, or match a bare file name), and
``exclude`` (globs of files and directories skipped when walking directories).

tomllib is Python 3.11+; on 3.10 a pyproject.toml table is skipped with a note (no new
dependency), and setup.cfg still works.
"""

from __future__ import annotations

import configparser
import fnmatch
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import PrototxtToolsError

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - exercised on 3.10 only
    tomllib = None

SECTION = "prototxt-lint"
KEYS = ("select", "extend-select", "ignore", "per-file-ignores", "exclude")


class ConfigError(PrototxtToolsError):
    """A configuration file the linter cannot use (bad TOML/INI, unknown key, wrong type)."""


@dataclass
class LintConfig:
    path: Path | None = None  # the file it came from (None: defaults)
    select: list | None = None
    extend_select: list = field(default_factory=list)
    ignore: list = field(default_factory=list)
    per_file_ignores: dict = field(default_factory=dict)
    exclude: list = field(default_factory=list)

    @property
    def root(self) -> Path:
        return self.path.parent if self.path is not None else Path.cwd()

    def ignores_for(self, file: str) -> list:
        """Selectors ``per-file-ignores`` adds for one file."""
        out: list = []
        for pattern, selectors in self.per_file_ignores.items():
            if _glob_matches(pattern, file, self.root):
                out.extend(selectors)
        return out

    def excludes(self, file: str) -> bool:
        return any(_glob_matches(p, file, self.root) for p in self.exclude)


def _glob_matches(pattern: str, file: str, root: Path) -> bool:
    """``pattern`` against the path relative to ``root``, any of its parent directories, or the
    bare name (so ``legacy/*`` and ``*_v1.prototxt`` both work)."""
    path = Path(os.path.abspath(file))
    try:
        rel = path.relative_to(root.resolve()).as_posix()
    except ValueError:
        rel = path.as_posix()
    candidates = [rel, path.name] + [p.as_posix() for p in Path(rel).parents if str(p) != "."]
    return any(fnmatch.fnmatchcase(c, pattern) or fnmatch.fnmatchcase(c, pattern.rstrip("/"))
               for c in candidates)


class ConfigFinder:
    """Finds (and caches, per directory) the configuration of each linted file."""

    def __init__(self, notes: list | None = None):
        self.notes = notes if notes is not None else []
        self._by_dir: dict[Path, LintConfig] = {}

    def for_file(self, file: str) -> LintConfig:
        return self.for_dir(Path(os.path.abspath(file)).parent)

    def for_dir(self, directory: Path) -> LintConfig:
        directory = directory.resolve()
        if directory not in self._by_dir:
            config = self._read_dir(directory)
            if config is None:
                parent = directory.parent
                config = LintConfig() if parent == directory else self.for_dir(parent)
            self._by_dir[directory] = config
        return self._by_dir[directory]

    def _read_dir(self, directory: Path) -> LintConfig | None:
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file():
            config = read_pyproject(pyproject, self.notes)
            if config is not None:
                return config
        setup_cfg = directory / "setup.cfg"
        if setup_cfg.is_file():
            return read_setup_cfg(setup_cfg)
        return None


def load_config(path: str) -> LintConfig:
    """An explicitly named config file (``--config``): pyproject.toml-style or setup.cfg-style."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError("config file not found", str(p))
    if p.suffix == ".toml":
        notes: list = []
        config = read_pyproject(p, notes, table_required=False)
        if config is None:
            raise ConfigError(notes[0] if notes else "no [tool.prototxt-lint] table", str(p))
        return config
    config = read_setup_cfg(p)
    if config is None:
        raise ConfigError(f"no [{SECTION}] section", str(p))
    return config


def read_pyproject(path: Path, notes: list, table_required: bool = True) -> LintConfig | None:
    text = path.read_text(encoding="utf-8")
    if tomllib is None:
        if f"[tool.{SECTION}]" in text:
            notes.append(f"{path}: [tool.{SECTION}] ignored: reading pyproject.toml needs "
                         "Python 3.11 (tomllib); use setup.cfg [prototxt-lint] on 3.10")
        return None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"invalid TOML: {e}", str(path)) from None
    table = data.get("tool", {}).get(SECTION)
    if table is None:
        if not table_required:
            notes.append(f"no [tool.{SECTION}] table")
        return None
    return _from_mapping(table, path)


def read_setup_cfg(path: Path) -> LintConfig | None:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error as e:
        raise ConfigError(f"invalid INI file: {e}", str(path)) from None
    if not parser.has_section(SECTION):
        return None
    section = dict(parser.items(SECTION))
    table: dict = {k: _split(v) for k, v in section.items() if k != "per-file-ignores"}
    if "per-file-ignores" in section:
        # flake8 style: one `glob: codes` per line
        pfi: dict = {}
        for line in section["per-file-ignores"].splitlines():
            if line.strip():
                glob, _, codes = line.rpartition(":")
                if not glob.strip():
                    raise ConfigError(f"per-file-ignores line {line.strip()!r} is not "
                                      "`glob: codes`", str(path))
                pfi[glob.strip()] = _split(codes)
        table["per-file-ignores"] = pfi
    return _from_mapping(table, path)


def _split(value: str) -> list:
    return [v for v in re.split(r"[\s,]+", value.strip()) if v]


def _from_mapping(table: dict, path: Path) -> LintConfig:
    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(unknown)} in [{SECTION}] (known: "
                          f"{', '.join(KEYS)})", str(path))
    for key in ("select", "extend-select", "ignore", "exclude"):
        if key in table and not _is_str_list(table[key]):
            raise ConfigError(f"'{key}' must be a list of strings", str(path))
    pfi = table.get("per-file-ignores", {})
    if not isinstance(pfi, dict) or not all(_is_str_list(v) for v in pfi.values()):
        raise ConfigError("'per-file-ignores' must map globs to lists of codes", str(path))
    return LintConfig(path, list(table["select"]) if "select" in table else None,
                      list(table.get("extend-select", [])), list(table.get("ignore", [])),
                      {k: list(v) for k, v in pfi.items()}, list(table.get("exclude", [])))


def _is_str_list(value) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


__all__ = ["LintConfig", "ConfigFinder", "ConfigError", "load_config", "read_pyproject",
           "read_setup_cfg", "SECTION"]
