"""Turn the lessons into an nbgrader course: one source assignment per lesson.

    python tools/course.py [--out build/course]

Writes an nbgrader course folder::

    build/course/
      nbgrader_config.py       course settings (placeholders, timeouts, ...)
      source/NN-name/          the teacher's version: NN-name.ipynb with solutions,
                               mnist_lib.py and checks/
      release/NN-name/         the student version, written by nbgrader's own
                               ``generate_assignment``

The lessons' own markers decide the nbgrader metadata, read at run time:

- a code cell tagged ``solution`` (answer lines between ``### BEGIN SOLUTION`` and
  ``### END SOLUTION``) becomes an autograded answer;
- a code cell that calls ``checks.<name>(...)`` becomes an autograder test worth
  ``POINTS`` point, read-only, named ``check-<name>``;
- a markdown cell tagged ``solution`` (a model answer) becomes a manually graded
  answer worth 0 points: the teacher can read the answers in nbgrader's formgrader,
  and the autograded score counts the checks only.

``generate_assignment`` is configured with the student edition's placeholders, so
``release/`` holds the same cells, with the same sources, as ``nox -s student``
writes (``tools/student_edition.py``, whose marker parsing this module reuses).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sandbox  # noqa: E402  (a sibling module: the grading limits)
import student_edition  # noqa: E402  (a sibling script, not a package)

ROOT = student_edition.ROOT
DEFAULT_OUT = ROOT / "build" / "course"
#: Points for each exercise that has a check.
POINTS = 1
#: The limits of one submission while grading (sandbox.Limits holds their defaults).
LIMITS = sandbox.Limits()
#: Seconds a single cell may run while grading (the longest cell of lesson 4 takes ~10 s on
#: an idle machine), and a whole submission.
CELL_TIMEOUT, TOTAL_TIMEOUT = int(LIMITS.cell), int(LIMITS.total)
CHECK_CALL = student_edition.CHECK_CALL
FUNCTION = re.compile(r"^\s*def\s+(\w+)", re.MULTILINE)
SCHEMA_VERSION = 3

CONFIG = """\
# nbgrader settings of the course, written by tools/course.py.
import sys

c = get_config()  # noqa: F821
c.CourseDirectory.course_id = "mnist-from-scratch"
# The student edition's placeholders (tools/student_edition.py).
c.ClearSolutions.code_stub = {{"python": {code_stub!r}}}
c.ClearSolutions.text_stub = {text_stub!r}
# Grading (nbgrader autograde, the formgrader's Autograde button, tools/grade.py): the
# submission's code runs in a sandboxed worker and the checks run in nbgrader's own process
# (tools/autograde.py). This replaces nbgrader's sanitizing steps and its Execute step; no
# Jupyter kernel is started. SaveAutoGrades then records the checks' verdicts.
sys.path.insert(0, {tools!r})
c.Autograde.sanitize_preprocessors = ["autograde.SandboxedGrading"]
c.Autograde.autograde_preprocessors = [
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
# Limits per submission: a cell, a call of a student's function by a check, the whole
# submission (seconds); address space, processes, bytes written.
c.SandboxedGrading.cell_timeout = {timeout}
c.SandboxedGrading.call_timeout = {limits.call}
c.SandboxedGrading.total_timeout = {total}
c.SandboxedGrading.memory = {limits.memory}
c.SandboxedGrading.processes = {limits.processes}
c.SandboxedGrading.disk = {limits.disk}
"""


#: The name of the check a code cell calls (``checks.<name>(...)``), or None.
check_name = student_edition.check_name


def _grade_id(base: str, taken: set[str]) -> str:
    name, number = base, 2
    while name in taken:
        name, number = f"{base}-{number}", number + 1
    taken.add(name)
    return name


def _nbgrader_metadata(cell, index: int, taken: set[str]) -> dict | None:
    """The nbgrader metadata of one lesson cell, or None for an ordinary cell."""
    is_solution = student_edition.SOLUTION_TAG in student_edition._tags(cell)
    check = check_name(cell)
    if is_solution and check:
        raise student_edition.SolutionMarkerError(
            f"cell {index}: a solution cell cannot also be a check cell"
        )
    if check:
        kind = dict(grade=True, solution=False, locked=True, points=POINTS)
        base = f"check-{check}"
    elif is_solution and cell.cell_type == "code":
        kind = dict(grade=False, solution=True, locked=False)
        function = FUNCTION.search(cell.source)
        base = f"answer-{function.group(1) if function else index}"
    elif is_solution:
        kind = dict(grade=True, solution=True, locked=False, points=0, task=False)
        base = f"explain-{index}"
    else:
        return None
    return dict(kind, grade_id=_grade_id(base, taken), schema_version=SCHEMA_VERSION)


def source_notebook(nb, name: str = "notebook"):
    """The nbgrader source version of a lesson, and its exercises: the learner's edition, with
    its solutions.

    It is made by the one code path of every edition (``student_edition.edition_notebook``,
    which also checks the markers), so nbgrader's release holds the cells the student edition
    holds; this adds nbgrader's metadata to its cells.
    """
    source, exercises = student_edition.edition_notebook(nb, name, solutions=True)
    taken: set[str] = set()
    for index, cell in enumerate(source.cells):
        metadata = _nbgrader_metadata(cell, index, taken)
        if metadata:
            cell.metadata["nbgrader"] = metadata
    return source, exercises


def write_config(out: Path, timeout: int = CELL_TIMEOUT, total: int = TOTAL_TIMEOUT) -> Path:
    """Write the course's nbgrader_config.py."""
    config = out / "nbgrader_config.py"
    config.write_text(
        CONFIG.format(
            code_stub=student_edition.PLACEHOLDER,
            text_stub=student_edition.ANSWER_PLACEHOLDER,
            timeout=int(timeout),
            total=int(total),
            limits=LIMITS,
            tools=str(Path(__file__).resolve().parent),
        ),
        encoding="utf-8",
    )
    return config


def nbgrader_command(*args: str) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of an nbgrader command run by this Python."""
    env = dict(os.environ)
    # nbgrader calls `alembic` by name: the scripts of this Python's environment come first.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return [sys.executable, "-m", "nbgrader", *args], env


def nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    """Run an nbgrader command in the course folder (its config is read from there)."""
    command, env = nbgrader_command(*args)
    return subprocess.run(command, cwd=course, text=True, capture_output=True, env=env)


def build(
    out: Path = DEFAULT_OUT, timeout: int = CELL_TIMEOUT, lessons: list[Path] | None = None
) -> list[str]:
    """Write the course into `out` and generate the student versions; return the lessons.

    `lessons` (MyST files) defaults to the project's lessons; their support files always
    come from notebooks/.
    """
    out = Path(out).resolve()
    sources = student_edition.lessons() if lessons is None else [Path(p) for p in lessons]
    if not sources:
        raise FileNotFoundError(f"no lessons (NN-*.md) in {student_edition.NOTEBOOKS}")
    converted = [(md, *source_notebook(jupytext.read(md), md.name)) for md in sources]
    # The list of exercises (for checks.hint), without solutions: nbgrader's release keeps them.
    exercises = student_edition.all_exercises(converted)
    out.mkdir(parents=True, exist_ok=True)
    write_config(out, timeout)
    for stale in ("source", "release"):  # lessons renamed or removed since the last build
        shutil.rmtree(out / stale, ignore_errors=True)
    for md, nb, _ in converted:
        lesson = md.stem
        folder = out / "source" / lesson
        folder.mkdir(parents=True)
        nbformat.validate(nb)
        nbformat.write(nb, folder / f"{lesson}.ipynb")
        student_edition.copy_support(folder)
        student_edition.write_answers(folder / "checks", exercises, solutions=False)
    done = nbgrader(out, "generate_assignment", "*", "--force")
    if done.returncode != 0:
        raise RuntimeError(f"nbgrader generate_assignment failed:\n{done.stderr}")
    return [md.stem for md, _, _ in converted]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="course folder")
    parser.add_argument(
        "--timeout", type=int, default=CELL_TIMEOUT, help="seconds per cell when grading"
    )
    args = parser.parse_args(argv)
    try:
        lessons = build(args.out, args.timeout)
    except (student_edition.SolutionMarkerError, RuntimeError) as error:
        print(f"course: {error}", file=sys.stderr)
        return 1
    for lesson in lessons:
        print(f"source/{lesson} and release/{lesson} written in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
