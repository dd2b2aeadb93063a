"""Grade a class: nbgrader's autograder on every submission, then a gradebook.

    python tools/grade.py [SUBMISSIONS] [--course build/course] [--timeout 60]

SUBMISSIONS is a folder in nbgrader's layout, ``<student>/<lesson>/<lesson>.ipynb``
(default: the course's own ``submitted/``); another folder is first copied into the
course's ``submitted/``. The course comes from ``tools/course.py``.

Each submission is graded on its own by ``nbgrader autograde <lesson> --student <id>``,
in a process with a time limit, so that no submission can stop the others. Every cell
has ``--timeout`` seconds. The kernel runs inside bubblewrap when it is installed (see
``tools/sandbox.py``); otherwise grading says once that it is unsandboxed.

Writes, in the course folder:

- ``gradebook.csv``: one row per student; per lesson the state of the submission
  (``graded``, ``missing``, ``not a notebook``, ``kernel died``, ...) and one column of
  points per exercise check, then the total;
- ``hints.csv``: one row per student and check, with the points and what the check
  printed (``Right! ...``, ``Not yet: <hint>``, or the error that stopped it).
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import course  # noqa: E402  (sibling scripts, not a package)
import sandbox  # noqa: E402

sys.path.insert(0, str(course.student_edition.NOTEBOOKS))
import mnist_lib  # noqa: E402

UNSANDBOXED = (
    "Grading without a sandbox: bubblewrap (bwrap) is not installed, so each submission "
    "runs with your permissions (apt-get install bubblewrap to confine it)."
)
GRADED = "graded"
NOT_SUBMITTED = "not submitted"
HINT_LENGTH = 300
TOTAL = "total"
TIMEOUT_ERRORS = ("CellTimeoutError", "KeyboardInterrupt")


@dataclass
class Result:
    """What happened to one submission of one lesson."""

    status: str
    notes: list[str] = field(default_factory=list)
    log: str = ""
    seconds: float = 0.0

    def describe(self) -> str:
        return "; ".join([self.status, *self.notes])


def lessons_of(course_dir: Path) -> dict[str, list[tuple[str, int]]]:
    """Each lesson of the course with its checks: {lesson: [(grade id, points), ...]}."""
    found = {}
    for folder in sorted((course_dir / "source").glob("*/")):
        notebook = folder / f"{folder.name}.ipynb"
        if notebook.is_file():
            found[folder.name] = course.checks_of(nbformat.read(notebook, as_version=4))
    if not found:
        raise FileNotFoundError(f"no course in {course_dir}: run `nox -s course` first")
    return found


def inspect(folder: Path, lesson: str) -> str | None:
    """Why the submission in `folder` cannot be graded, or None if it can."""
    notebook = folder / f"{lesson}.ipynb"
    if not notebook.is_file():
        others = sorted(p.name for p in folder.glob("*.ipynb"))
        return f"missing {notebook.name}" + (f" (found {', '.join(others)})" if others else "")
    try:
        nbformat.validate(nbformat.read(notebook, as_version=4))
    except Exception as error:  # not JSON, not a notebook, an invalid one
        return f"not a notebook ({type(error).__name__}: {str(error)[:120]})"
    return None


def warm_cache(course_dir: Path) -> Path:
    """A verified copy of the MNIST files in the course's `_data`, for the kernels to read."""
    cache = course_dir / "_data"
    mirrors = [str(mnist_lib.CACHE_DIR), *mnist_lib.configured_mirrors(), *mnist_lib.PUBLIC_MIRRORS]
    for filename in mnist_lib.DATA_SOURCES.values():
        mnist_lib.fetch(filename, cache_dir=cache, mirrors=mirrors, progress=False)
    return cache


def _kernel(course_dir: Path, workdir: Path, scratch: Path, hidden: list[Path]) -> None:
    """Write the kernelspec that grades the submission in `workdir` (sandboxed if possible)."""
    cache = course_dir / "_data"
    student_cache = workdir.parent / "_data"  # where mnist_lib looks: beside the lesson folder
    student_cache.mkdir(parents=True, exist_ok=True)
    env = {"CHECKS_STRICT": "1", "LANG": "C.UTF-8", "PATH": os.defpath}
    if os.environ.get("MNIST_MIRRORS"):
        env["MNIST_MIRRORS"] = os.environ["MNIST_MIRRORS"]
    bwrap = sandbox.bubblewrap()
    if bwrap:
        env.update(HOME="/tmp", MPLCONFIGDIR="/tmp/matplotlib")
        workdir.mkdir(parents=True, exist_ok=True)
        wrapper = sandbox.bwrap_argv(
            bwrap,
            hidden=hidden,
            writable=[workdir, scratch / "runtime"],
            read_only={cache: student_cache},
            env=env,
            workdir=workdir,
        )
    else:
        for source in cache.glob("*.gz"):
            if not (student_cache / source.name).exists():
                shutil.copy2(source, student_cache / source.name)
        env.update(IPYTHONDIR=str(scratch / "ipython"), MPLCONFIGDIR=str(scratch / "mpl"))
        env["PATH"] = os.environ.get("PATH", os.defpath)
        wrapper = []
    sandbox.write_kernelspec(scratch / "jupyter", wrapper, env)


def _run(command: list[str], env: dict, cwd: Path, limit: float) -> tuple[int | None, str]:
    """Run a command in a process group of its own; kill the whole group after `limit` s."""
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            code = process.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            code = None
        log.seek(0)
        return code, log.read()


def _status(code: int | None, log: str, notebook: Path, limit: float) -> Result:
    """Read what happened from nbgrader's exit code, its log and the graded notebook."""
    if code is None:
        return Result(f"stopped after {limit:.0f} s", log=log)
    if code != 0 or not notebook.is_file():
        if "DeadKernelError" in log or "Kernel died" in log:
            return Result("kernel died", log=log)
        if "UnresponsiveKernelError" in log or "became unresponsive" in log:
            return Result("kernel unresponsive", log=log)
        last = [line for line in log.splitlines() if "ERROR" in line or "Error" in line]
        return Result("autograde failed", notes=last[-1:], log=log)
    result = Result(GRADED, log=log)
    restored = log.count("Missing grade cell") + log.count("has changed!")
    if restored:
        result.notes.append(f"{restored} check cell(s) deleted or edited, restored")
    graded = nbformat.read(notebook, as_version=4)
    errors = [o for c in graded.cells for o in c.get("outputs", []) if o.output_type == "error"]
    if any(o.ename in TIMEOUT_ERRORS for o in errors):
        result.notes.append("a cell ran out of time and was interrupted")
    return result


def grade_submission(
    course_dir: Path, student: str, lesson: str, hidden: list[Path], limit: float
) -> Result:
    """Autograde one submission with nbgrader; never raises on a bad submission."""
    start = time.perf_counter()
    problem = inspect(course_dir / "submitted" / student / lesson, lesson)
    if problem:
        return Result(problem)
    workdir = course_dir / "autograded" / student / lesson
    # Short path: Unix socket names (in the runtime folder) must stay under 108 bytes.
    with tempfile.TemporaryDirectory(prefix="grade-") as scratch_name:
        scratch = Path(scratch_name)
        (scratch / "runtime").mkdir()
        # The kernel's connection file and sockets go into a folder the sandbox shares.
        connection = scratch / "runtime" / "kernel.json"
        (scratch / "nbgrader_config.py").write_text(
            f"c.KernelManager.connection_file = {str(connection)!r}\n", encoding="utf-8"
        )
        _kernel(course_dir, workdir, scratch, hidden)
        command, env = course.nbgrader_command("autograde", lesson, "--student", student, "--force")
        env.update(JUPYTER_PATH=str(scratch / "jupyter"), JUPYTER_CONFIG_PATH=str(scratch))
        code, log = _run(command, env, course_dir, limit)
    result = _status(code, log, workdir / f"{lesson}.ipynb", limit)
    result.seconds = time.perf_counter() - start
    return result


def _hint(cell) -> str:
    """What a check cell printed: its verdict line, or the error that stopped it."""
    texts = [o.get("text", "") for o in cell.get("outputs", []) if o.output_type == "stream"]
    for line in "".join(texts).splitlines():
        if line.startswith(("Right!", "Not yet:")):
            return line[:HINT_LENGTH]
    for output in cell.get("outputs", []):
        if output.output_type == "error":
            return f"{output.ename}: {output.evalue}"[:HINT_LENGTH]
    return ""


def hints_of(notebook: Path) -> dict[str, str]:
    """The hint of every check cell of a graded notebook, by grade id."""
    if not notebook.is_file():
        return {}
    graded = nbformat.read(notebook, as_version=4)
    return {
        cell.metadata["nbgrader"]["grade_id"]: _hint(cell)
        for cell in graded.cells
        if cell.metadata.get("nbgrader", {}).get("grade_id") and course.check_name(cell)
    }


def scores_of(course_dir: Path, student: str, lesson: str, checks) -> dict[str, float]:
    """The points nbgrader recorded for each check (a teacher's manual score wins)."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}") as gradebook:
        scores = {}
        for grade_id, _ in checks:
            try:
                grade = gradebook.find_grade(grade_id, lesson, lesson, student)
                scores[grade_id] = float(grade.score or 0)
            except MissingEntry:
                scores[grade_id] = 0.0
        return scores


def gradebook_rows(course_dir: Path, results: dict, lessons: dict) -> tuple[list, list]:
    """The rows of gradebook.csv and of hints.csv, from the results and nbgrader's database."""
    rows, hints = [], []
    for student in sorted(results):
        row = {"student": student}
        for lesson, checks in lessons.items():
            result = results[student].get(lesson, Result(NOT_SUBMITTED))
            row[f"{lesson} status"] = result.describe()
            graded = result.status == GRADED
            scores = scores_of(course_dir, student, lesson, checks) if graded else {}
            found = hints_of(course_dir / "autograded" / student / lesson / f"{lesson}.ipynb")
            for grade_id, points in checks:
                score = scores.get(grade_id, 0.0)
                row[f"{lesson}/{grade_id}"] = f"{score:g}"
                hint = found.get(grade_id, "") if graded else ""
                hints.append([student, lesson, grade_id, f"{score:g}", points, hint])
        row[TOTAL] = f"{sum(float(v) for k, v in row.items() if '/' in k):g}"
        rows.append(row)
    return rows, hints


def write_gradebook(course_dir: Path, results: dict, lessons: dict) -> tuple[Path, Path]:
    """Write gradebook.csv and hints.csv into the course folder."""
    rows, hints = gradebook_rows(course_dir, results, lessons)
    columns = ["student"]
    for lesson, checks in lessons.items():
        columns += [f"{lesson} status", *(f"{lesson}/{grade_id}" for grade_id, _ in checks)]
    columns.append(TOTAL)
    book, hint_file = course_dir / "gradebook.csv", course_dir / "hints.csv"
    with book.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(columns)
        writer.writerows([[row[column] for column in columns] for row in rows])
    with hint_file.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["student", "lesson", "check", "points", "of", "hint"])
        writer.writerows(hints)
    return book, hint_file


def collect(submissions: Path, course_dir: Path) -> list[str]:
    """Put the submissions into the course's submitted/ folder; return the students."""
    target = course_dir / "submitted"
    submissions = submissions.resolve()
    if not submissions.is_dir():
        raise FileNotFoundError(f"no submissions folder {submissions}")
    students = sorted(p.name for p in submissions.iterdir() if p.is_dir() and p.name[0] not in "._")
    if not students:
        raise FileNotFoundError(f"no student folders (<student>/<lesson>/) in {submissions}")
    if submissions != target.resolve():
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(submissions, target, symlinks=True)
    return students


def grade_class(
    submissions: Path, course_dir: Path, limit: float, hidden: list[Path], say=print
) -> tuple[dict, Path, Path]:
    """Grade every submission of every student; write and return the gradebook."""
    course_dir = course_dir.resolve()
    lessons = lessons_of(course_dir)
    students = collect(submissions, course_dir)
    if not sandbox.bubblewrap():
        say(UNSANDBOXED)
    warm_cache(course_dir)
    hidden = [course.ROOT, course_dir, Path.home(), submissions, *hidden]
    results: dict[str, dict[str, Result]] = {}
    for student in students:
        results[student] = {}
        for lesson in lessons:
            if not (course_dir / "submitted" / student / lesson).is_dir():
                continue
            result = grade_submission(course_dir, student, lesson, hidden, limit)
            results[student][lesson] = result
            say(f"{student} {lesson}: {result.describe()} ({result.seconds:.1f} s)")
    book, hint_file = write_gradebook(course_dir, results, lessons)
    return results, book, hint_file


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("submissions", nargs="?", type=Path, help="default: COURSE/submitted")
    parser.add_argument("--course", type=Path, default=course.DEFAULT_OUT, help="course folder")
    parser.add_argument("--timeout", type=int, help="seconds per cell (default: the course's)")
    parser.add_argument(
        "--limit", type=float, default=900, help="seconds per submission (default: 900)"
    )
    args = parser.parse_args(argv)
    if args.timeout:
        course.write_config(args.course.resolve(), args.timeout)
    submissions = args.submissions or args.course / "submitted"
    try:
        _, book, hint_file = grade_class(submissions, args.course, args.limit, hidden=[])
    except (FileNotFoundError, mnist_lib.MNISTError) as error:
        print(f"grade: {error}", file=sys.stderr)
        return 1
    print(f"wrote {book} and {hint_file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
