"""Build the student edition of the lessons: the exercises without their solutions.

    python tools/student_edition.py [--out build/student]

Reads every lesson ``notebooks/NN-*.md`` (the MyST source) and writes
``NN-*.ipynb`` into the output folder, with

- every solution region replaced by a placeholder line. A region is the lines
  from ``### BEGIN SOLUTION`` to ``### END SOLUTION`` (markers included) in a
  code cell tagged ``solution`` (nbgrader's convention); the placeholder
  ``...  # YOUR CODE HERE`` keeps the region's indentation, so a function whose
  body was the region still runs and returns None;
- every markdown cell tagged ``solution`` (a model answer to a free-text
  question) replaced by a line inviting the learner's own answer;
- the tags that fold a cell on the docs site (``hide-input``, ``hide-cell``)
  dropped, because students need to see the cells they complete;
- the check cells kept, and no outputs or execution counts anywhere.

The output folder has the project's shape: a short README for the students and
``requirements.txt`` at the top, the notebooks with ``mnist_lib.py`` and
the ``checks`` package in ``notebooks/``, and an empty ``_data/`` cache beside it (set
``MNIST_MIRRORS`` to share one copy of the data).

The build fails, naming the lesson and the cell, when a cell tagged
``solution`` has no markers, when markers are unbalanced, or when markers
appear in a cell that is not tagged ``solution``.
"""

from __future__ import annotations

import argparse
import copy
import shutil
import sys
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
DEFAULT_OUT = ROOT / "build" / "student"
SUPPORT_FILES = ("mnist_lib.py", "checks", "draw.py")  # from notebooks/
LAB_CONFIG = ROOT / "labconfig"  # requirements.txt installs it: JupyterLab's settings
REQUIREMENTS = ROOT / "requirements.txt"

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
SOLUTION_TAG = "solution"
FOLDING_TAGS = {"hide-input", "hide-cell"}
PLACEHOLDER = "...  # YOUR CODE HERE"
ANSWER_PLACEHOLDER = "**Your answer:** *(double-click this cell and write it here)*"

STUDENT_README = """\
# Deep learning on MNIST from scratch: student edition

To work on your own computer, install what the lessons need (Python 3.10 or newer), then
start JupyterLab in this folder:

    python3 -m venv .venv && . .venv/bin/activate && pip install -r requirements.txt
    jupyter lab

Open the lessons in `notebooks/` in order, starting with `01-load-the-mnist-dataset.ipynb`, and
run the cells from top to bottom (Run > Run All Cells works too).

At the end of each lesson you find exercises. Where a cell says
`...  # YOUR CODE HERE`, replace that line with your code, run the cell, then
run the check cell below it: it says `Right!` or `Not yet:` with a hint.
Some exercises ask a question instead: write your answer in the cell that
says "Your answer".

Keep `mnist_lib.py`, `draw.py` and the `checks` folder next to the notebooks. The first lesson
you run downloads MNIST (about 11 MB) into the folder `_data`, unless your
teacher has set `MNIST_MIRRORS` to a shared copy.
"""


class SolutionMarkerError(ValueError):
    """A solution cell without markers, unbalanced markers, or markers in the wrong cell."""


def lessons(notebooks: Path = NOTEBOOKS) -> list[Path]:
    """The lesson sources, in order: notebooks/NN-*.md."""
    return sorted(notebooks.glob("[0-9][0-9]-*.md"))


def _tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _is_marker(line: str) -> bool:
    return line.strip() in (BEGIN, END)


def split_solution(source: str, where: str) -> tuple[str, list[str]]:
    """Replace each marked region of a code cell by the placeholder.

    Returns the new source and the lines that were inside the regions.
    """
    kept: list[str] = []
    removed: list[str] = []
    inside = False
    regions = 0
    for number, line in enumerate(source.splitlines(), start=1):
        stripped = line.strip()
        if stripped == BEGIN:
            if inside:
                raise SolutionMarkerError(f"{where}, line {number}: {BEGIN!r} inside a region")
            inside = True
            regions += 1
            indent = line[: len(line) - len(line.lstrip())]
            kept.append(indent + PLACEHOLDER)
        elif stripped == END:
            if not inside:
                raise SolutionMarkerError(f"{where}, line {number}: {END!r} without {BEGIN!r}")
            inside = False
        elif inside:
            removed.append(line)
        else:
            kept.append(line)
    if inside:
        raise SolutionMarkerError(f"{where}: {BEGIN!r} is never closed by {END!r}")
    if regions == 0:
        raise SolutionMarkerError(
            f"{where}: the cell is tagged {SOLUTION_TAG!r} but has no {BEGIN!r} ... {END!r} region"
        )
    return "\n".join(kept), removed


def student_notebook(nb, name: str = "notebook"):
    """A copy of the full notebook `nb`, turned into its student edition."""
    student = copy.deepcopy(nb)
    student.metadata.pop("jupytext", None)
    for index, cell in enumerate(student.cells):
        where = f"{name}, cell {index}"
        tags = _tags(cell)
        is_solution = SOLUTION_TAG in tags
        if not is_solution and any(_is_marker(line) for line in cell.source.splitlines()):
            raise SolutionMarkerError(
                f"{where}: solution markers in a cell that is not tagged {SOLUTION_TAG!r}"
            )
        if is_solution and cell.cell_type == "code":
            cell.source = split_solution(cell.source, where)[0]
        elif is_solution:
            cell.source = ANSWER_PLACEHOLDER
        if tags:
            tags = [tag for tag in tags if tag not in FOLDING_TAGS]
            if tags:
                cell.metadata["tags"] = tags
            else:
                cell.metadata.pop("tags")
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.id = f"cell-{index}"  # stable ids: rebuilding gives the same files
    return student


def copy_support(folder: Path, notebooks: Path = NOTEBOOKS) -> None:
    """Copy what the notebooks import (SUPPORT_FILES) from `notebooks` into `folder`."""
    for name in SUPPORT_FILES:
        source = notebooks / name
        if source.is_dir():
            ignore = shutil.ignore_patterns("__pycache__")
            shutil.copytree(source, folder / name, ignore=ignore, dirs_exist_ok=True)
        else:
            shutil.copy2(source, folder / name)


def build(out: Path = DEFAULT_OUT, notebooks: Path = NOTEBOOKS) -> list[Path]:
    """Write the student edition into `out`; return the notebooks written.

    The folder has the project's shape, so it can be handed out as it is:
    ``README.md`` and ``requirements.txt`` at the top, the lessons with
    ``mnist_lib.py`` and the ``checks`` package in ``notebooks/``, and the empty data
    cache ``_data/`` that ``mnist_lib`` fills.
    """
    out = Path(out)
    sources = lessons(notebooks)
    if not sources:
        raise FileNotFoundError(f"no lessons (NN-*.md) in {notebooks}")
    # Convert everything first, so that a marker error leaves no half-built folder behind.
    converted = [(md, student_notebook(jupytext.read(md), md.name)) for md in sources]
    lesson_dir = out / "notebooks"
    lesson_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for md, student in converted:
        target = lesson_dir / f"{md.stem}.ipynb"
        nbformat.validate(student)
        nbformat.write(student, target)
        written.append(target)
    copy_support(lesson_dir, notebooks)
    if REQUIREMENTS.is_file():
        shutil.copy2(REQUIREMENTS, out / REQUIREMENTS.name)
    if LAB_CONFIG.is_dir():
        shutil.copytree(LAB_CONFIG, out / LAB_CONFIG.name, dirs_exist_ok=True)
    (out / "README.md").write_text(STUDENT_README, encoding="utf-8")
    cache = out / "_data"
    cache.mkdir(exist_ok=True)
    if not (cache / "README.md").exists():
        shutil.copy2(ROOT / "_data" / "README.md", cache / "README.md")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help="output folder (default: build/student)",
    )
    args = parser.parse_args(argv)
    try:
        written = build(args.out)
    except SolutionMarkerError as error:
        print(f"student_edition: {error}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    print(f"copied {', '.join(SUPPORT_FILES)} and requirements.txt, wrote README.md in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
