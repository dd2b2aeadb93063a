"""Hints and answers on request: ``checks.hint("2.1")`` and ``checks.solution("2.1")``.

The learner's editions of the lessons (``tools/student_edition.py``) put a cell under each
exercise with these two calls, commented out: nothing shows until the learner asks. The
key is the lesson and the exercise number ("2.1": lesson 2, exercise 1).

The edition writes two files beside this module: ``exercises.json`` (each exercise's title
and checks) and, unless it was made without solutions, ``answers.json`` (the solutions and
model answers, taken from the lesson source). The hints are the checks' own.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

from .core import Check, say

HERE = Path(__file__).resolve().parent
EXERCISES = HERE / "exercises.json"
ANSWERS = HERE / "answers.json"

NO_INDEX = (
    "There is no list of exercises here: this is the authors' copy of the lessons, where "
    "each solution is written out in its exercise. Your own copy (the README's first "
    "command makes it) gives hints and solutions on request."
)
NO_ANSWERS = (
    "This edition of the lessons comes without solutions: your teacher will go through "
    'them with you. `checks.hint("{key}")` still gives a hint where the exercise has a check.'
)
OPEN_QUESTION = (
    "This exercise asks for your own words, so there is no check and no single right "
    "answer. Write what you think in the cell above, then compare it with ours: "
    '`checks.solution("{key}")`.'
)


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _exercise(key) -> tuple[str, dict] | None:
    """The exercise of `key` ("2.1"), or None after saying what went wrong."""
    key = str(key).strip()
    index = _read(EXERCISES)
    if index is None:
        say(NO_INDEX)
        return None
    if key not in index:
        known = ", ".join(f'"{k}"' for k in index)
        say(f'There is no exercise "{key}". The keys are "lesson.exercise": {known}.')
        return None
    return key, index[key]


def _show_markdown(text: str) -> None:
    """Show Markdown rendered in a notebook, as plain text elsewhere."""
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display

        if get_ipython() is not None:
            display(Markdown(text))
            return
    except ImportError:
        pass
    print(text)


def hint(key) -> None:
    """Print a hint for exercise `key` ("2.1": lesson 2, exercise 1)."""
    found = _exercise(key)
    if found is None:
        return
    key, exercise = found
    package = importlib.import_module(__package__)  # the checks of the lessons present
    checks = [getattr(package, name, None) for name in exercise["checks"]]
    checks = [check for check in checks if isinstance(check, Check)]
    if not checks:
        say(OPEN_QUESTION.format(key=key))
        return
    print(exercise["title"])
    for check in checks:
        check.hint()


def solution(key) -> None:
    """Show our solution, or model answer, of exercise `key` ("2.1")."""
    found = _exercise(key)
    if found is None:
        return
    key, exercise = found
    answers = _read(ANSWERS)
    if answers is None or key not in answers:
        say(NO_ANSWERS.format(key=key))
        return
    answer = answers[key]
    parts = [f"**{exercise['title']}**: our answer, one of several good ones."]
    if answer.get("solution"):
        parts.append(f"```python\n{answer['solution']}\n```")
    if answer.get("model_answer"):
        parts.append(answer["model_answer"])
    _show_markdown("\n\n".join(parts))
