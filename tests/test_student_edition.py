"""The student edition (``tools/student_edition.py``, ``nox -s student``).

Built into a temporary folder, it holds every lesson and module, no line of any solution,
clean notebooks, and it runs from top to bottom with every check answering "Not yet". (That
the checks pass on the full lessons is proven by nbval with ``CHECKS_STRICT=1``.)
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import time
import zipfile
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


# Lessons whose download runs its import cells only (see the test).
IMPORTS_ONLY = {"04"}
MODULES_USED = """
import checks, draw, mnist_lib  # in the download: nothing else is on the path
for module in (mnist_lib, checks, draw):
    print(module.__file__)
"""


def _only_imports(cell) -> bool:
    """A code cell whose statements are all imports."""
    if cell.cell_type != "code":
        return False
    try:
        body = ast.parse(cell.source).body
    except SyntaxError:
        return False
    return bool(body) and all(isinstance(node, (ast.Import, ast.ImportFrom)) for node in body)


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
    readme = (student_folder.parent / "README.md").read_text(encoding="utf-8")
    assert f"in order, starting with `{lessons[0].stem}.ipynb`" in readme


def _public_and_solutions(cells) -> tuple[set[str], list[str], list[str]]:
    """A lesson's lines split three ways: the public ones (outside every solution), the lines
    of the code solutions, and the lines of the model answers to questions (Markdown)."""
    public, code, answers = set(), [], []
    for cell in cells:
        if SOLUTION_TAG not in student_edition._tags(cell):
            public |= _lines(cell.source)
        elif cell.cell_type == "code":
            outside, inside = _regions(cell.source)
            public |= _lines("\n".join(outside))
            code += inside
        else:
            answers += cell.source.splitlines()
    return public, code, answers


def test_no_solution_text_survives(lesson, student_folder):
    full = jupytext.read(lesson)
    student = nbformat.read(student_folder / f"{lesson.stem}.ipynb", as_version=4)
    # Lines that also appear outside the solutions (the lesson's own code, the task text)
    # are not secrets: a solution may repeat a line the lesson already shows.
    public, code, answers = _public_and_solutions(full.cells)
    solutions = code + answers
    secret = {
        line.strip() for line in solutions if not _is_trivial(line) and line.strip() not in public
    }
    assert secret, f"{lesson.name} should have exercise solutions"
    student_lines = set().union(*(_lines(cell.source) for cell in student.cells))
    assert sorted(secret & student_lines) == []
    everything = "\n".join(cell.source for cell in student.cells)
    assert student_edition.BEGIN not in everything and student_edition.END not in everything


def _without_requests(nb) -> list:
    return [c for c in nb.cells if student_edition.REQUEST_TAG not in student_edition._tags(c)]


def test_student_notebook_is_clean(lesson, student_folder):
    full = jupytext.read(lesson)
    student = nbformat.read(student_folder / f"{lesson.stem}.ipynb", as_version=4)
    nbformat.validate(student)
    cells = _without_requests(student)
    assert len(cells) == len(full.cells)
    for before, after in zip(full.cells, cells, strict=True):
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
            # Links to another lesson point to its notebook: the learner's copy has no .md.
            assert after.source == re.sub(r"(\]\(\d\d-[\w-]+)\.md\b", r"\1.ipynb", before.source)
            assert not re.search(r"\]\(\d\d-[\w-]+\.md", after.source)


def test_every_exercise_offers_a_hint_and_its_answer_on_request(lesson, student_folder):
    """Under each exercise with a solution, one cell asks for help; it shows nothing unasked."""
    student = nbformat.read(student_folder / f"{lesson.stem}.ipynb", as_version=4)
    number = int(lesson.name[:2])
    requests = [
        (index, cell)
        for index, cell in enumerate(student.cells)
        if student_edition.REQUEST_TAG in student_edition._tags(cell)
    ]
    solved = [c for c in jupytext.read(lesson).cells if SOLUTION_TAG in student_edition._tags(c)]
    assert requests and len(requests) <= len(solved)
    keys = []
    for index, cell in requests:
        assert cell.cell_type == "code"
        lines = cell.source.splitlines()
        assert lines and all(line.startswith("#") for line in lines), cell.source  # asks nothing
        keys += re.findall(r'checks\.solution\("(\d+\.\d+)"\)', cell.source)
        # It sits under its exercise: after the exercise's check cell, if it has one.
        above = student.cells[index - 1]
        if 'checks.hint("' in cell.source:
            assert any(CHECK_CALL.search(c.source) for c in student.cells[index - 3 : index])
        assert above.cell_type in ("code", "markdown")
    assert keys == [f"{number}.{n}" for n in range(1, len(keys) + 1)]


def _run_python(code: str, cwd: Path, **env) -> str:
    """Run `code` in a fresh Python in `cwd`; return what it printed."""
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": "", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_answers_come_on_request_from_the_lesson_source(student_folder):
    """checks.hint gives the check's hint; checks.solution the solution written in the lesson."""
    md = student_edition.lessons()[1]  # lesson 2: exercises with checks and model answers
    _, exercises = student_edition.edition_notebook(jupytext.read(md), md.name)
    for key, exercise in exercises.items():
        printed = _run_python(
            f"import checks; checks.hint({key!r}); print('---'); checks.solution({key!r})",
            student_folder,
        )
        hint, solution = printed.split("---\n")
        assert exercise["title"] in hint
        for name in exercise["checks"]:
            wanted = " ".join(getattr(__import__("checks"), name).hint_text.split())
            assert wanted in " ".join(hint.split())
        # The solution's code and the model answer, as written in the lesson source.
        for line in (exercise["solution"] + "\n" + exercise["model_answer"]).splitlines():
            assert line.strip() in solution, (key, line)
        assert "BEGIN SOLUTION" not in solution and "<details>" not in solution
    printed = _run_python("import checks; checks.solution('9.9')", student_folder)
    assert "There is no exercise" in printed and '"2.1"' in printed


def test_an_edition_without_solutions_holds_none(tmp_path):
    """A teacher's handout without solutions: no answer file, and solution() says so."""
    student_edition.build(tmp_path, solutions=False)
    folder = tmp_path / "notebooks"
    assert not (folder / "checks" / student_edition.ANSWERS_FILE).exists()
    assert (folder / "checks" / student_edition.EXERCISES_FILE).is_file()
    printed = _run_python("import checks; checks.solution('2.1'); checks.hint('2.1')", folder)
    assert "without solutions" in printed and "Hint:" in printed
    public, inside = set(), []
    for md in student_edition.lessons():
        lesson_public, code, _answers = _public_and_solutions(jupytext.read(md).cells)
        public |= lesson_public
        inside += code
    secret = [line.strip() for line in inside if not _is_trivial(line)]
    secret = [line for line in secret if line not in public]
    assert len(secret) > 10
    # The notebooks and the data files beside the checks (the modules are public code).
    texts = [c.source for p in tmp_path.rglob("*.ipynb") for c in nbformat.read(p, 4).cells]
    texts += [p.read_text(encoding="utf-8") for p in tmp_path.rglob("*.md")]
    texts += [json.dumps(json.loads(p.read_text()), indent=1) for p in tmp_path.rglob("*.json")]
    shown = set().union(*(_lines(text.replace("\\n", "\n")) for text in texts))
    assert [line for line in secret if line in shown] == []


def test_a_downloaded_lesson_runs_where_it_lands(
    lesson, tmp_path, current_env_kernel_manager, outputs_text
):
    """The site's download of a lesson, unpacked into an empty folder, runs top to bottom.

    The kernel finds the modules beside the notebook only (nothing of the project on its
    path), the data come from MNIST_MIRRORS into the download's own cache, and every check
    says "Not yet" to the blank exercises; no solution is printed. Lesson 4, which the suite
    runs in full four times already (nbval, the Jupyter Book 2 build under another BLAS
    setting, the site, JupyterLab),
    runs its import cells only here: they prove that all it imports is in the download.
    """
    from nbclient import NotebookClient

    archive = student_edition.build_zip(lesson, tmp_path / "download.zip")
    landed = tmp_path / "elsewhere"
    landed.mkdir()
    with zipfile.ZipFile(archive) as unpacked:
        unpacked.extractall(landed)
    folder = landed / "notebooks"
    assert sorted(p.name for p in folder.glob("*.ipynb")) == [f"{lesson.stem}.ipynb"]
    readme = (landed / "README.md").read_text(encoding="utf-8")
    assert f"Open the lesson `notebooks/{lesson.stem}.ipynb`" in readme  # that lesson only
    # papermill's reader: it gives every cell the `tags` list that its injection looks for.
    nb = load_notebook_node(str(folder / f"{lesson.stem}.ipynb"))
    parameters = STUDENT_RUN_PARAMETERS.get(lesson.name[:2])
    if parameters:  # papermill's own injection, without running anything
        nb = parameterize_notebook(nb, parameters)
    imports_only = lesson.name[:2] in IMPORTS_ONLY
    if imports_only:
        nb.cells = [cell for cell in nb.cells if _only_imports(cell)]
        nb.cells.append(nbformat.v4.new_code_cell(MODULES_USED))
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTHONPATH", "MNIST_CACHE", "CHECKS_STRICT")
    }
    client = NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        kernel_manager_class=current_env_kernel_manager,
        resources={"metadata": {"path": str(folder)}},
    )
    started = time.perf_counter()
    client.execute(env=env)  # raises CellExecutionError if any cell fails
    print(f"{lesson.stem}: the download ran in {time.perf_counter() - started:.1f} s")
    if imports_only:
        used = outputs_text(nb.cells[-1]).split()
        assert used and all(Path(path).is_relative_to(folder) for path in used), used
        return
    assert sorted(p.name for p in (landed / "_data").glob("*.gz"))  # its own cache

    check_cells = [
        cell for cell in nb.cells if cell.cell_type == "code" and CHECK_CALL.search(cell.source)
    ]
    assert len(check_cells) >= 3
    for cell in check_cells:
        printed = outputs_text(cell)
        assert "Not yet: " in printed and "Right!" not in printed, (cell.source, printed)
    shown = "\n".join(outputs_text(cell) for cell in nb.cells if cell.cell_type == "code")
    assert "one of several good ones" not in shown  # what checks.solution shows
