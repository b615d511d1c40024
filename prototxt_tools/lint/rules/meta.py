"""W9xx: the linter's own comments -- suppressions that do nothing or cannot be understood.

These rules run after every other rule of the file (``runs_last``), when the runner has recorded
which suppression directives were used (``ctx.suppressions``) and which codes were selected
(``ctx.selected``).
"""

from __future__ import annotations

from typing import Iterator

from ...fix.suppressions import unused_suppression_fix
from ...source import Span
from ..diagnostic import Finding
from ..registry import Rule, rule


def _where(directive) -> dict:
    """The comment's span (comments sit on one line)."""
    c = directive.comment
    return {"span": Span(c.start, c.end, c.line, c.col, c.line, c.col + len(c.raw.rstrip()))}


@rule
class UnusedSuppression(Rule):
    """Checks that every suppression comment suppresses something.

    ## What it does
    Reports a `# noqa`, `# prototxt-lint: disable=...` or `disable-file` directive, or one code
    in it, that matched no finding (like ruff's RUF100). Codes of rules that are not selected
    are not judged.

    ## Why is this bad?
    A stale suppression hides the next real problem on that line or block, and tells readers
    something that is no longer true.

    ## Example
    ```
    layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }  # noqa: E101
    ```

    ## Fix
    Delete the directive, or the codes in it that no longer apply. `prototxt-fix` (safe) does
    that: a directive that suppresses nothing goes (with its line when it is alone on it; other
    comment text before it stays), otherwise only its unused codes go.
    """

    code = "W901"
    name = "unused-suppression"
    summary = "Suppression comment suppresses nothing"
    requires = ()
    runs_last = True

    def check(self, ctx) -> Iterator[Finding]:
        unused = ctx.suppressions.unused(ctx.selected)
        codes_of: dict[int, list] = {}
        for directive, code in unused:
            codes_of.setdefault(id(directive), []).append(code)
        for directive, code in unused:
            what = f"code {code} in `{directive.written}`" if code else f"`{directive.written}`"
            fix = unused_suppression_fix(ctx, directive, codes_of[id(directive)])
            yield Finding(f"unused suppression: {what} matches no finding", **_where(directive),
                          fix=fix)


@rule
class InvalidSuppression(Rule):
    """Checks that suppression comments are well-formed.

    ## What it does
    Reports a suppression directive naming a code no rule has, a `disable-file` written after
    the first field, or a block `disable` in a file that did not parse.

    ## Why is this bad?
    The directive does not do what its author meant: a typo in a code suppresses nothing and a
    late `disable-file` is easy to miss when reading the file.

    ## Example
    ```
    layer { name: "relu1" type: "Relu" }  # noqa: E16
    ```

    ## Fix
    Correct the code (`prototxt-lint --list-rules`), move `disable-file` to the top of the file.
    """

    code = "W902"
    name = "invalid-suppression"
    summary = "Suppression comment is malformed or names an unknown code"
    requires = ()
    runs_last = True

    def check(self, ctx) -> Iterator[Finding]:
        for directive in ctx.suppressions.invalid():
            yield Finding(f"invalid suppression `{directive.written}`: {directive.problem}",
                          **_where(directive))
