"""Checks for the exercises at the end of each lesson.

Each exercise asks you to write a function. Pass the function itself (not its
result) to the check of the same name, for example::

    import checks
    checks.count_digits(count_digits)

The check calls your function on inputs of its own, including some awkward
ones, and prints either ``Right! ...`` or ``Not yet: ...`` with a hint. It
never prints the answer. It returns a verdict that is true or false (and
shows nothing more in a notebook).

Teachers and CI: with the environment variable ``CHECKS_STRICT=1`` a failing
check raises ``AssertionError`` (with the same message) instead of only
printing it, so a test run of the full lessons fails when a solution stops
passing its check.

Stuck? In your own copy of a lesson, the cell under each exercise asks for a hint or for
our solution (``checks.hint("2.1")``, ``checks.solution("2.1")``: lesson 2, exercise 1).

The checks live in one module per lesson (``lesson1`` ... ``lesson4``) over a small core
(``core``). A lesson can be handed out with its own module only: this package exposes the
checks of whichever lesson modules are present.
"""

from __future__ import annotations

import importlib

from .answers import hint as hint
from .answers import solution as solution
from .core import PLACEHOLDER_HINT as PLACEHOLDER_HINT
from .core import NotYet as NotYet
from .core import Verdict as Verdict
from .core import strict as strict

__all__: list[str] = []
for _lesson in ("lesson1", "lesson2", "lesson3", "lesson4"):
    try:
        _module = importlib.import_module(f"{__name__}.{_lesson}")
    except ModuleNotFoundError as _missing:
        if _missing.name != f"{__name__}.{_lesson}":
            raise
        continue
    for _name in _module.__all__:
        globals()[_name] = getattr(_module, _name)
        __all__.append(_name)
