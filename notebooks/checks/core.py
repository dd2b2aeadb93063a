"""The core of the checks: verdicts, hints, and safe calls of the learner's function."""

from __future__ import annotations

import ast
import functools
import inspect
import json
import os
import textwrap
from pathlib import Path

import numpy as np

#: A reminder printed when the function still holds the placeholder.
PLACEHOLDER_HINT = (
    "your function returned None. Replace the line `...  # YOUR CODE HERE` with your code, "
    "and end it with a `return` statement."
)


#: The same reminder where there is no placeholder (the full edition, or it was replaced).
NO_RETURN_HINT = (
    "your function returned None. Does every way through it end with a `return` statement?"
)


def _none_hint(function) -> str:
    """The hint for a function that returned None, fitting the edition it was written in."""
    try:
        source = inspect.getsource(function)
    except (OSError, TypeError):  # no source to look at: say what holds in both editions
        source = ""
    return PLACEHOLDER_HINT if "# YOUR CODE HERE" in source else NO_RETURN_HINT


#: Printed messages wrap at word boundaries at this width (a notebook's output area).
WIDTH = 88

#: When a function needs a name that an earlier cell defines, but the kernel has forgotten it.
FORGOTTEN_HINT = (
    "your function uses `{name}`, which a cell above defines, but Python does not know it "
    "right now: the kernel has forgotten the cells above (after a restart, for example). "
    "That is not a mistake in your code. Click this cell, choose Run > Run All Above Selected "
    "Cell, then run this check again."
)


class NotYet(Exception):
    """Raised inside a check when the learner's function is not right yet."""


class Forgotten(NotYet):
    """Raised when the kernel has forgotten what the cells above define: not a wrong answer."""


def strict() -> bool:
    """True when failing checks should raise (CHECKS_STRICT=1)."""
    return os.environ.get("CHECKS_STRICT", "") == "1"


class Verdict:
    """What a check returns: true if the exercise is right.

    The check has already printed its message, so in a notebook the verdict
    itself shows nothing (no stray ``True`` under the message).
    """

    def __init__(self, passed: bool, text: str):
        self.passed = passed
        self.text = text

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return f"Verdict({self.passed}, {self.text!r})"

    def _ipython_display_(self) -> None:
        pass


def say(text: str) -> None:
    """Print `text`, each paragraph wrapped at word boundaries to fit the output area."""
    for paragraph in text.split("\n\n"):
        print(textwrap.fill(paragraph, WIDTH, break_long_words=False, break_on_hyphens=False))


def _report(passed: bool, message: str, prefix: str | None = None) -> Verdict:
    text = f"{prefix or ('Right!' if passed else 'Not yet:')} {message}"
    say(text)
    if not passed and strict():
        raise AssertionError(text)
    return Verdict(passed, text)


class Check:
    """An exercise's check: call it with the learner's function; ``.hint()`` gives a hint.

    Calling it tries the function and prints ``Right! ...`` or ``Not yet: ...`` with what to
    look at; it returns the verdict.
    """

    def __init__(self, test, success_message: str, hint: str):
        functools.update_wrapper(self, test)
        self._test = test
        self.success_message = success_message
        self.hint_text = hint

    def __call__(self, function) -> Verdict:
        name = self.__name__
        if not callable(function):
            return _report(
                False,
                "pass the function itself to the check, without calling it: "
                f"checks.{name}({name}), not checks.{name}({name}(...)).",
            )
        try:
            self._test(function)
        except Forgotten as problem:
            return _report(False, str(problem), prefix="Hold on:")
        except NotYet as problem:
            return _report(False, str(problem))
        except Exception as problem:  # a result the check could not even inspect
            return _report(
                False,
                f"the check could not use what your function returned "
                f"({type(problem).__name__}: {problem}). Compare your result's type and "
                "shape with what the exercise asks for.",
            )
        return _report(True, self.success_message)

    def hint(self) -> None:
        """Print a hint for the exercise (it never gives the answer away)."""
        say(f"Hint: {self.hint_text}")

    def __repr__(self) -> str:
        return f"<check {self.__name__}>"


def _check(success_message: str, hint: str):
    """Turn a function that raises NotYet into a check that prints and returns its verdict."""

    def decorate(test) -> Check:
        return Check(test, success_message, hint)

    return decorate


def _names_defined_at_top(tree: ast.Module) -> set[str]:
    """The names that a cell's top-level statements bind: not the names bound inside the
    functions and classes it defines at the top (those inside an `if` or a `with` count)."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
            continue
        for child in ast.walk(node):
            if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store):
                names.add(child.id)
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(child.name)
    return names


def _code_cells(path: Path) -> list[str]:
    """The code of a notebook's code cells (an .ipynb file), or nothing if it is unreadable."""
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    cells = []
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "code":
            source = cell.get("source", "")
            cells.append("".join(source) if isinstance(source, list) else str(source))
    return cells


def _notebooks_here() -> list[Path]:
    """The notebook this kernel runs, or, where that is unknown, every notebook here.

    Jupyter Server names a kernel's notebook in ``JPY_SESSION_NAME`` and starts the kernel
    in the notebook's folder; nbclient and a terminal name none."""
    here = Path(os.getcwd())
    mine = here / Path(os.environ.get("JPY_SESSION_NAME", "")).name
    if mine.suffix == ".ipynb" and mine.is_file():
        return [mine]
    return sorted(here.glob("*.ipynb"))


def lesson_names() -> set[str]:
    """Every name that a code cell of this kernel's notebook (see above) defines."""
    names: set[str] = set()
    for path in _notebooks_here():
        for source in _code_cells(path):
            # IPython's own lines (%magic, !shell) are not Python: `pass` keeps the indentation.
            code = "\n".join(
                line[: len(line) - len(line.lstrip())] + "pass"
                if line.lstrip().startswith(("%", "!"))
                else line
                for line in source.splitlines()
            )
            try:
                names |= _names_defined_at_top(ast.parse(code))
            except SyntaxError:
                continue
    return names


def _failure(error: Exception) -> NotYet:
    """What to tell the learner when their function raised `error`."""
    if isinstance(error, NameError) and getattr(error, "name", None) in lesson_names():
        return Forgotten(FORGOTTEN_HINT.format(name=error.name))
    return NotYet(
        f"your function raised {type(error).__name__}: {error}. Try it on a small "
        "example of your own and compare with what you expect by hand."
    )


def _call(function, *args, **kwargs):
    """Call the learner's function on copies of the inputs; turn failures into hints."""
    args = [arg.copy() if isinstance(arg, np.ndarray) else arg for arg in args]
    try:
        result = function(*args, **kwargs)
    except NotImplementedError:
        raise NotYet(
            "your function still raises NotImplementedError. Replace that line with your code."
        ) from None
    except MemoryError:
        raise NotYet(
            "your function ran out of memory. Can you get the answer without building "
            "the big array?"
        ) from None
    except Exception as error:
        raise _failure(error) from None
    if result is None:
        raise NotYet(_none_hint(function))
    return result


def _raises(function, exception, *args, **kwargs) -> bool:
    """True if the call raises `exception`; other errors become hints."""
    try:
        function(*args, **kwargs)
    except exception:
        return True
    except NotImplementedError:
        raise NotYet(
            "your function still raises NotImplementedError. Replace that line with your code."
        ) from None
    except Exception as error:
        failure = _failure(error)
        if isinstance(failure, Forgotten):
            raise failure from None
        raise NotYet(
            f"your function raised {type(error).__name__} ({error}), but the exercise asks "
            f"for {exception.__name__}."
        ) from None
    return False


def _as_array(result, what: str) -> np.ndarray:
    try:
        return np.asarray(result)
    except Exception:
        raise NotYet(f"{what} should be something NumPy can turn into an array.") from None


def _pair_of_arrays(result, hint: str) -> tuple[np.ndarray, np.ndarray]:
    """The two float arrays a function returned, or a NotYet with the hint."""
    try:
        first, second = (np.asarray(part, dtype=float) for part in result)
    except Exception:
        raise NotYet(hint) from None
    return first, second


def _syntax_tree(function):
    """The parsed source of a function, or None when the source is not available."""
    try:
        source = textwrap.dedent(inspect.getsource(function))
        return ast.parse(source)
    except (OSError, TypeError, SyntaxError):
        return None


def _uses_a_loop(function) -> bool:
    tree = _syntax_tree(function)
    if tree is None:
        return False
    loops = (ast.For, ast.AsyncFor, ast.While, ast.comprehension)
    return any(isinstance(node, loops) for node in ast.walk(tree))


def _names_used(function) -> set[str]:
    tree = _syntax_tree(function)
    if tree is None:
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
    return names


def _numerical_gradient(loss, weights_1, eps=1e-6):
    numerical = np.zeros_like(weights_1)
    for index in np.ndindex(weights_1.shape):
        nudged = weights_1.copy()
        nudged[index] += eps
        up = loss(nudged)
        nudged[index] -= 2 * eps
        numerical[index] = (up - loss(nudged)) / (2 * eps)
    return numerical


def _relative_error(backprop, numerical):
    return np.max(np.abs(backprop - numerical)) / np.max(np.abs(numerical))
