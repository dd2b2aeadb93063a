"""The student edition (``tools/student_edition.py``, ``nox -s student``).

Built into a temporary folder, it holds every lesson and module, no line of any solution,
clean notebooks, and it runs from top to bottom with every check answering "Not yet". (That
the checks pass on the full lessons is proven by nbval with ``CHECKS_STRICT=1``.)
"""

from __future__ import annotations

import ast
import os
import re
import time
from pathlib import Path

import jupytext
import nbformat
import pytest
import student_edition
from course import CHECK_CALL
from papermill.iorw import load_notebook_node
from papermill.parameterize import parameterize_notebook

SOLUTION_TAG = student_edition.SOLUTION_TAG
# Parameters for the run: the exercises do not depend on them, and the full lessons run at
# their defaults under nbval anyway.
STUDENT_RUN_PARAMETERS = {"03": dict(epochs=2, training_sample=200, test_sample=200)}


def _is_trivial(line: str) -> bool:
    """Lines that say nothing about a solution: blank, comments, lone brackets, short words."""
    stripped = line.strip()
    return len(stripped) < 6 or stripped.startswith("#") or not re.search(r"[A-Za-z0-9]", stripped)


def _regions(source: str) -> tuple[list[str], list[str]]:
    """The lines outside and inside the solution regions of a cell (written independently of
    the tool, so that a bug in the tool cannot hide a leak)."""
    outside, inside, within = [], [], False
    for line in source.splitlines():
        marker = line.strip()
        if marker in (student_edition.BEGIN, student_edition.END):
            within = marker == student_edition.BEGIN
        else:
            (inside if within else outside).append(line)
    return outside, inside


def _lines(text: str) -> set[str]:
    return {line.strip() for line in text.splitlines()}


@pytest.fixture(scope="module")
def student_folder(tmp_path_factory) -> Path:
    """The lessons of the student edition built into <tmp>, sharing the project's data cache."""
    base = tmp_path_factory.mktemp("student")
    # mnist_lib keeps its cache one folder up from itself: share the project's cache.
    (student_edition.ROOT / "_data").mkdir(exist_ok=True)
    (base / "_data").symlink_to(student_edition.ROOT / "_data", target_is_directory=True)
    written = student_edition.build(base)
    assert [path.stem for path in written] == [md.stem for md in student_edition.lessons()]
    return base / "notebooks"


def test_student_edition_has_every_lesson_and_module(student_folder):
    lessons = student_edition.lessons()
    for md in lessons:
        assert (student_folder / f"{md.stem}.ipynb").is_file()
    assert (student_folder / "mnist_lib.py").is_file()
    for name in ("__init__.py", "core.py", *(f"lesson{n}.py" for n in range(1, len(lessons) + 1))):
        assert (student_folder / "checks" / name).is_file()
    for name in ("requirements.txt", "README.md", "_data/README.md"):
        assert (student_folder.parent / name).is_file()


def test_no_solution_text_survives(lesson, student_folder):
    full = jupytext.read(lesson)
    student = nbformat.read(student_folder / f"{lesson.stem}.ipynb", as_version=4)
    # Lines that also appear outside the solutions (the lesson's own code, the task text)
    # are not secrets: a solution may repeat a line the lesson already shows.
    public, solutions = set(), []
    for cell in full.cells:
        if SOLUTION_TAG not in student_edition._tags(cell):
            public |= _lines(cell.source)
        elif cell.cell_type == "code":
            outside, inside = _regions(cell.source)
            public |= _lines("\n".join(outside))
            solutions += inside
        else:  # a model answer to a question
            solutions += cell.source.splitlines()
    secret = {
        line.strip() for line in solutions if not _is_trivial(line) and line.strip() not in public
    }
    assert secret, f"{lesson.name} should have exercise solutions"
    student_lines = set().union(*(_lines(cell.source) for cell in student.cells))
    assert sorted(secret & student_lines) == []
    everything = "\n".join(cell.source for cell in student.cells)
    assert student_edition.BEGIN not in everything and student_edition.END not in everything


def test_student_notebook_is_clean(lesson, student_folder):
    full = jupytext.read(lesson)
    student = nbformat.read(student_folder / f"{lesson.stem}.ipynb", as_version=4)
    nbformat.validate(student)
    assert len(student.cells) == len(full.cells)
    for before, after in zip(full.cells, student.cells, strict=True):
        assert after.cell_type == before.cell_type
        if after.cell_type == "code":
            assert after.outputs == [] and after.execution_count is None
        assert "hide-input" not in student_edition._tags(
            after
        ) or SOLUTION_TAG not in student_edition._tags(before)
        if SOLUTION_TAG in student_edition._tags(before) and before.cell_type == "code":
            assert student_edition.PLACEHOLDER in after.source
            ast.parse(after.source)  # the placeholder leaves valid Python
        elif SOLUTION_TAG not in student_edition._tags(before):
            assert after.source == before.source


def test_student_edition_runs_and_every_check_says_not_yet(
    lesson, student_folder, current_env_kernel_manager, outputs_text
):
    from nbclient import NotebookClient

    # papermill's reader: it gives every cell the `tags` list that its injection looks for.
    nb = load_notebook_node(str(student_folder / f"{lesson.stem}.ipynb"))
    parameters = STUDENT_RUN_PARAMETERS.get(lesson.name[:2])
    if parameters:  # papermill's own injection, without running anything
        nb = parameterize_notebook(nb, parameters)
    env = dict(os.environ, CHECKS_STRICT="0")
    client = NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        kernel_manager_class=current_env_kernel_manager,
        resources={"metadata": {"path": str(student_folder)}},
    )
    started = time.perf_counter()
    client.execute(env=env)  # raises CellExecutionError if any cell fails
    print(f"{lesson.stem}: student edition ran in {time.perf_counter() - started:.1f} s")

    check_cells = [
        cell for cell in nb.cells if cell.cell_type == "code" and CHECK_CALL.search(cell.source)
    ]
    assert len(check_cells) >= 3
    for cell in check_cells:
        printed = outputs_text(cell)
        assert "Not yet: " in printed and "Right!" not in printed, (cell.source, printed)
