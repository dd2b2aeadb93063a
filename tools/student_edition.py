"""The learner's editions of the lessons: one code path for all of them.

    python tools/student_edition.py [--out build/student] [--without-solutions]

Every edition a learner gets is made here, from the lessons' MyST source
(``notebooks/NN-*.md``), by ``edition_notebook``:

- the learner's **workspace** (``update_workspace``; ``tools/learn.py``, the README's first
  command, makes it and opens JupyterLab on it);
- the **student edition** that a teacher hands out (``build``, ``nox -s student``);
- each lesson's **download** on the site, a zip (``build_zip``);
- the **nbgrader course** (``tools/course.py`` keeps the solutions, and nbgrader's
  ``generate_assignment`` clears them with the same placeholders).

In every one of them

- every solution region is replaced by a placeholder line. A region is the lines
  from ``### BEGIN SOLUTION`` to ``### END SOLUTION`` (markers included) in a
  code cell tagged ``solution`` (nbgrader's convention); the placeholder
  ``...  # YOUR CODE HERE`` keeps the region's indentation, so a function whose
  body was the region still runs and returns None;
- every markdown cell tagged ``solution`` (a model answer to a free-text
  question) is replaced by a line inviting the learner's own answer;
- under each exercise, a cell (tagged ``ask-for-help``) asks for a hint or our answer:
  ``checks.hint("2.1")`` and ``checks.solution("2.1")``, commented out, so nothing shows
  until the learner asks. The answers come from the lesson source, into
  ``checks/answers.json``, unless the edition is made ``--without-solutions``;
- the tags that fold a cell on the docs site (``hide-input``, ``hide-cell``) are
  dropped, because students need to see the cells they complete; links to another
  lesson's ``.md`` point to its ``.ipynb``;
- the check cells are kept, and there are no outputs or execution counts anywhere.

The student edition has the project's shape: a short README for the students and
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
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import zipfile
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
#: The tag of the cell under an exercise that gives a hint or our answer on request.
REQUEST_TAG = "ask-for-help"
#: A check cell: ``checks.<name>(...)`` (not the requests ``checks.hint``/``checks.solution``).
CHECK_CALL = re.compile(r"^\s*checks\.(?!hint\(|solution\()(\w+)\(", re.MULTILINE)
#: A Markdown link to another lesson's source: ``](02-preprocess-the-data.md#anchor)``.
LESSON_LINK = re.compile(r"\]\((\d\d-[\w-]+)\.md(#[^)\s]*)?\)")
#: Written beside the checks: each exercise's title and checks (every edition), and the
#: solutions and model answers (only in an edition that includes them).
EXERCISES_FILE = "exercises.json"
ANSWERS_FILE = "answers.json"
#: The learner's workspace: a git-ignored folder of the project (tools/learn.py makes it).
WORKSPACE = ROOT / "workspace"
HELPERS = ".helpers"  # the workspace's hidden folder: modules, answers, and its state
STATE_FILE = "state.json"

STUDENT_README = """\
# Deep learning on MNIST from scratch: student edition

To work on your own computer, install what the lessons need (Python 3.10 or newer), then
start JupyterLab in this folder:

    python3 -m venv .venv && . .venv/bin/activate && pip install -r requirements.txt
    jupyter lab

{open_lessons}, and
run the cells from top to bottom (Run > Run All Cells works too). With a screen reader, start
JupyterLab as `MNIST_FIGURES_AS_HTML=1 jupyter lab` instead: every figure then comes with its
description (its alt text), which JupyterLab does not show otherwise.

At the end of each lesson you find exercises. Where a cell says
`...  # YOUR CODE HERE`, replace that line with your code, run the cell, then
run the check cell below it: it says `Right!` or `Not yet:` with a hint.
Some exercises ask a question instead: write your answer in the cell that
says "Your answer". Stuck? The cell under each exercise gives a hint, or our
solution, when you ask for it.

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


def check_name(cell) -> str | None:
    """The name of the check a code cell calls (``checks.<name>(...)``), or None."""
    if cell.cell_type != "code":
        return None
    found = CHECK_CALL.search(cell.source)
    return found.group(1) if found else None


def _title(cell) -> str:
    """The exercise's title from its heading: "Exercise 1. Warm-up: scale into [-1, 1]"."""
    for level, line in _headings(cell):
        if level == 3:
            return re.sub(r"^###\s+", "Exercise ", line)
    return ""


def lesson_number(name: str) -> int:
    """The lesson's number, from its file name (``02-preprocess-the-data.md`` -> 2; else 0)."""
    found = re.match(r"(\d\d)-", Path(name).name)
    return int(found.group(1)) if found else 0


def _solution_code(source: str) -> str:
    """A solution cell's code as a learner should read it: the markers left out."""
    return "\n".join(line for line in source.splitlines() if not _is_marker(line)).strip()


def _model_answer(source: str) -> str:
    """A model answer's text without the folding HTML (<details>, <summary>) around it."""
    text = re.sub(r"</?details>|<summary>.*?</summary>", "", source, flags=re.DOTALL)
    return text.strip()


def _request_cell(key: str, number: int, has_check: bool, has_code: bool, has_answer: bool):
    """The cell under an exercise where the learner asks for a hint or our answer."""
    what = {(True, False): "solution", (False, True): "model answer"}.get(
        (has_code, has_answer), "solution and model answer"
    )
    lines = ["# Stuck, or done and curious? Remove the # before a line below, then run this cell."]
    if has_check:
        lines.append(f'# checks.hint("{key}")      # a hint for exercise {number}')
    lines.append(f'# checks.solution("{key}")  # our {what}: try on your own first!')
    return nbformat.v4.new_code_cell("\n".join(lines), metadata={"tags": [REQUEST_TAG]})


def _headings(cell) -> list[tuple[int, str]]:
    """The headings of a markdown cell: (level, line)."""
    if cell.cell_type != "markdown":
        return []
    found = (re.match(r"(#{1,6})\s+\S", line) for line in cell.source.splitlines())
    return [(len(m.group(1)), m.string.strip()) for m in found if m]


def _exercises(cells, lesson: int) -> list[tuple[str, int, list[int]]]:
    """The exercises of a lesson: (key, number, indices of their cells), in order.

    An exercise is a ``### N. Title`` heading under ``## Exercises`` and the cells up to the
    next heading; its key is "lesson.N" (``"2.1"``).
    """
    found, inside, current = [], False, None
    for index, cell in enumerate(cells):
        for level, line in _headings(cell):
            if level <= 2:
                inside = level == 2 and line.lower().startswith("## exercises")
                current = None
            elif level == 3:
                current = None
                numbered = re.match(r"###\s+(\d+)\.\s", line)
                if inside and numbered:
                    number = int(numbered.group(1))
                    current = (f"{lesson}.{number}", number, [])
                    found.append(current)
        if current is not None:
            current[2].append(index)
    return found


def edition_notebook(nb, name: str = "notebook", solutions: bool = False, fold: bool = True):
    """One lesson as the learner gets it; returns the notebook and its exercises.

    The one code path of every edition: the learner's workspace, the student edition,
    the site's download and nbgrader's course (which keeps the solutions, ``solutions=True``,
    for nbgrader's own ``generate_assignment`` to clear). In the notebook

    - each solution region is replaced by the placeholder and each model answer by an
      invitation to write one's own (unless ``solutions``);
    - under each exercise, a cell asks for a hint or our answer, on request only;
    - the site's folding tags are dropped, links to another lesson's ``.md`` point to its
      ``.ipynb``, and there are no outputs; cell ids are stable (``cell-N``);
    - with `fold`, the cells that only check the lesson's figures (tagged ``remove-cell``)
      are folded in any Jupyter (``jupyter.source_hidden``). The workspace needs no such
      mark: the project's JupyterLab folds them on opening (``labconfig/``), and leaves the
      mark out on saving.

    The exercises map each key ("2.1") to its title, its checks, and the solutions and model
    answers written in the lesson (for ``answers.json``).
    """
    source = copy.deepcopy(nb)
    source.metadata.pop("jupytext", None)
    lesson = lesson_number(name)
    exercises = {}
    requests = {}
    for key, number, indices in _exercises(source.cells, lesson):
        cells = [source.cells[i] for i in indices]
        checks = [found for cell in cells if (found := check_name(cell))]
        code = [
            _solution_code(c.source)
            for c in cells
            if SOLUTION_TAG in _tags(c) and c.cell_type == "code"
        ]
        answers = [
            _model_answer(c.source)
            for c in cells
            if SOLUTION_TAG in _tags(c) and c.cell_type == "markdown"
        ]
        exercises[key] = {
            "title": _title(cells[0]),
            "checks": checks,
            "solution": "\n\n".join(code),
            "model_answer": "\n\n".join(answers),
        }
        if code or answers:
            shown = [i for i in indices if "remove-cell" not in _tags(source.cells[i])]
            requests[shown[-1]] = _request_cell(
                key, number, bool(checks), bool(code), bool(answers)
            )
    cells = []
    for index, cell in enumerate(source.cells):
        where = f"{name}, cell {index}"
        tags = _tags(cell)
        is_solution = SOLUTION_TAG in tags
        if not is_solution and any(_is_marker(line) for line in cell.source.splitlines()):
            raise SolutionMarkerError(
                f"{where}: solution markers in a cell that is not tagged {SOLUTION_TAG!r}"
            )
        if is_solution and cell.cell_type == "code":
            replaced = split_solution(cell.source, where)[0]  # checks the markers
            if not solutions:
                cell.source = replaced
        elif is_solution and not solutions:
            cell.source = ANSWER_PLACEHOLDER
        if cell.cell_type == "markdown":
            cell.source = LESSON_LINK.sub(r"](\1.ipynb\2)", cell.source)
        if fold and "remove-cell" in tags:
            cell.metadata.setdefault("jupyter", {})["source_hidden"] = True
        if tags:
            tags = [tag for tag in tags if tag not in FOLDING_TAGS]
            if tags:
                cell.metadata["tags"] = tags
            else:
                cell.metadata.pop("tags")
        cells.append(cell)
        if index in requests:
            cells.append(requests[index])
    for index, cell in enumerate(cells):
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.id = f"cell-{index}"  # stable ids: rebuilding gives the same files
    source.cells = cells
    return source, exercises


def student_notebook(nb, name: str = "notebook"):
    """The learner's edition of the full notebook `nb`: no solution in sight."""
    return edition_notebook(nb, name)[0]


def copy_support(folder: Path, notebooks: Path = NOTEBOOKS) -> None:
    """Copy what the notebooks import (SUPPORT_FILES) from `notebooks` into `folder`."""
    for name in SUPPORT_FILES:
        source = notebooks / name
        if source.is_dir():
            ignore = shutil.ignore_patterns("__pycache__", EXERCISES_FILE, ANSWERS_FILE)
            shutil.copytree(source, folder / name, ignore=ignore, dirs_exist_ok=True)
        else:
            shutil.copy2(source, folder / name)


def write_answers(checks_folder: Path, exercises: dict, solutions: bool = True) -> None:
    """Write exercises.json (titles and checks) and, with `solutions`, answers.json."""
    index = {key: {"title": e["title"], "checks": e["checks"]} for key, e in exercises.items()}
    _write_json(checks_folder / EXERCISES_FILE, index)
    answers = checks_folder / ANSWERS_FILE
    if solutions:
        _write_json(
            answers,
            {
                key: {"solution": e["solution"], "model_answer": e["model_answer"]}
                for key, e in exercises.items()
            },
        )
    elif answers.exists():
        answers.unlink()


def _write_json(path: Path, data) -> None:
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def convert(sources: list[Path], fold: bool = True) -> list[tuple[Path, object, dict]]:
    """Every lesson's learner notebook and exercises; raises before anything is written."""
    return [(md, *edition_notebook(jupytext.read(md), md.name, fold=fold)) for md in sources]


def all_exercises(converted) -> dict:
    return {key: e for _, _, exercises in converted for key, e in exercises.items()}


def _notebook_bytes(nb) -> bytes:
    nbformat.validate(nb)
    return (nbformat.writes(nb) + "\n").encode("utf-8")


def _write_atomically(path: Path, data: bytes) -> None:
    """Write `path` through a temporary file beside it: never a half-written notebook."""
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".tmp-", delete=False) as handle:
        handle.write(data)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(handle.name, 0o666 & ~umask)  # as an ordinary new file, not private
    os.replace(handle.name, path)


def build(
    out: Path = DEFAULT_OUT, notebooks: Path = NOTEBOOKS, solutions: bool = True, only=None
) -> list[Path]:
    """Write the student edition into `out`; return the notebooks written.

    The folder has the project's shape, so it can be handed out as it is:
    ``README.md`` and ``requirements.txt`` at the top, the lessons with
    ``mnist_lib.py`` and the ``checks`` package in ``notebooks/``, and the empty data
    cache ``_data/`` that ``mnist_lib`` fills. With `solutions`, a learner can ask for each
    exercise's solution (``checks.solution("2.1")``); without, the edition holds none.
    `only` (lesson paths) limits it to some lessons, as in the site's downloads.
    """
    out = Path(out)
    sources = lessons(notebooks) if only is None else list(only)
    if not sources:
        raise FileNotFoundError(f"no lessons (NN-*.md) in {notebooks}")
    # Convert everything first, so that a marker error leaves no half-built folder behind.
    converted = convert(sources)
    lesson_dir = out / "notebooks"
    lesson_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for md, student, _ in converted:
        target = lesson_dir / f"{md.stem}.ipynb"
        target.write_bytes(_notebook_bytes(student))
        written.append(target)
    copy_support(lesson_dir, notebooks)
    write_answers(lesson_dir / "checks", all_exercises(converted), solutions)
    if REQUIREMENTS.is_file():
        shutil.copy2(REQUIREMENTS, out / REQUIREMENTS.name)
    if LAB_CONFIG.is_dir():
        ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
        shutil.copytree(LAB_CONFIG, out / LAB_CONFIG.name, ignore=ignore, dirs_exist_ok=True)
    names = [path.name for path in written]
    open_lessons = (
        f"Open the lesson `notebooks/{names[0]}`"
        if len(names) == 1
        else f"Open the lessons in `notebooks/` in order, starting with `{names[0]}`"
    )
    readme = STUDENT_README.format(open_lessons=open_lessons)
    (out / "README.md").write_text(readme, encoding="utf-8")
    cache = out / "_data"
    cache.mkdir(exist_ok=True)
    if not (cache / "README.md").exists():
        shutil.copy2(ROOT / "_data" / "README.md", cache / "README.md")
    return written


def build_zip(lesson: Path, target: Path) -> Path:
    """One lesson's download: its learner notebook with all it needs, as a zip file.

    Unpacked into an empty folder it has the student edition's shape (with that lesson
    only), so it runs where it lands once ``requirements.txt`` is installed.
    """
    with tempfile.TemporaryDirectory() as folder:
        build(Path(folder), solutions=True, only=[lesson])
        target.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(Path(folder).rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    # A fixed date: the same lesson gives the same zip.
                    info = zipfile.ZipInfo(str(path.relative_to(folder)), (2020, 1, 1, 0, 0, 0))
                    info.compress_type = zipfile.ZIP_DEFLATED
                    info.external_attr = 0o644 << 16
                    archive.writestr(info, path.read_bytes())
    return target


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _free_name(folder: Path, stem: str, taken: dict) -> Path:
    """Where an updated lesson goes beside the learner's: ``NN-name (updated).ipynb``."""
    number = 1
    while True:
        suffix = " (updated)" if number == 1 else f" (updated {number})"
        path = folder / f"{stem}{suffix}.ipynb"
        ours = taken.get(path.name)
        if not path.exists() or (ours and _digest(path.read_bytes()) == ours):
            return path
        number += 1


def update_workspace(workspace: Path = WORKSPACE, notebooks: Path = NOTEBOOKS) -> list[str]:
    """Make or update the learner's workspace; return what happened, one line per lesson.

    The workspace holds one learner notebook per lesson and, in the hidden folder
    ``.helpers/``, the modules they import with the exercises' answers (shown on request).
    A notebook is written when it is missing, or replaced when the learner has not touched
    it since it was written. A lesson the learner has touched is never overwritten: when it
    changed in the source since, the new version arrives beside it as
    ``NN-name (updated).ipynb``.
    """
    workspace = Path(workspace)
    converted = convert(lessons(notebooks), fold=False)
    helpers = workspace / HELPERS
    helpers.mkdir(parents=True, exist_ok=True)
    state_path = helpers / STATE_FILE
    try:
        state = json.loads(state_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        state = {}
    written = state.setdefault("written", {})  # file name -> digest of what we wrote
    upstream = state.setdefault("upstream", {})  # lesson -> digest of the newest edition
    said = []
    for md, nb, _ in converted:
        data = _notebook_bytes(nb)
        new = _digest(data)
        target = workspace / f"{md.stem}.ipynb"
        current = _digest(target.read_bytes()) if target.exists() else None
        if current is None or (current == written.get(target.name) and current != new):
            _write_atomically(target, data)
            written[target.name] = new
            said.append(f"{'new' if current is None else 'updated'}: {target.name}")
        elif current == new:
            written[target.name] = new
        elif upstream.get(md.stem) not in (None, new):
            beside = _free_name(workspace, md.stem, written)
            _write_atomically(beside, data)
            written[beside.name] = new
            said.append(f"kept yours: {target.name}; the new version is in {beside.name}")
        upstream[md.stem] = new
    shutil.rmtree(helpers / "checks", ignore_errors=True)  # no stale check module survives
    copy_support(helpers, notebooks)
    write_answers(helpers / "checks", all_exercises(converted), solutions=True)
    _write_atomically(state_path, (json.dumps(state, indent=1) + "\n").encode("utf-8"))
    return said


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help="output folder (default: build/student)",
    )
    parser.add_argument(
        "--without-solutions",
        action="store_true",
        help="leave the solutions out entirely (checks.solution() then says so)",
    )
    args = parser.parse_args(argv)
    try:
        written = build(args.out, solutions=not args.without_solutions)
    except SolutionMarkerError as error:
        print(f"student_edition: {error}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    answers = "without solutions" if args.without_solutions else "solutions on request"
    print(f"copied {', '.join(SUPPORT_FILES)} and requirements.txt, wrote README.md in {args.out}")
    print(f"({answers})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
