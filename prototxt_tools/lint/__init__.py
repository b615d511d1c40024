"""The prototxt linter: rules registered by code, run on a loaded net, reported with positions.

Public API::

    lint_source(path, selected, options=None, text=None) -> list[Diagnostic]
    lint_file(path, selected, options=None) -> FileResult
    lint_files(jobs, processes=1) -> list[FileResult]
    all_rules() / get_rule(code) / default_codes()
    @rule (class decorator), Rule, Finding, Diagnostic, LintOptions, LintContext
    @provider("shapes") / @provider("weights"): plug in facts rules can ask for lazily

A rule family is a module in :mod:`prototxt_tools.lint.rules`; adding the module is enough.
"""

from .context import PROVIDERS, LintContext, LintOptions, provider
from .diagnostic import SEVERITIES, Diagnostic, Finding
from .registry import RULES, Rule, all_rules, get_rule, rule
from .runner import FileResult, lint_file, lint_files, lint_source


def default_codes() -> frozenset:
    """Codes selected when the user selects nothing."""
    return frozenset(r.code for r in all_rules() if r.default)


__all__ = ["Diagnostic", "Finding", "SEVERITIES", "Rule", "rule", "RULES", "all_rules",
           "get_rule", "default_codes", "LintContext", "LintOptions", "provider", "PROVIDERS",
           "FileResult", "lint_source", "lint_file", "lint_files"]
