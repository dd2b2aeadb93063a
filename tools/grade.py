"""Grade a class: collect the submissions, autograde them in the sandbox, write a gradebook.

    python tools/grade.py [SUBMISSIONS] [--course build/course] [--timeout 120]

SUBMISSIONS is a folder in this one layout (default: the course's own ``submitted/``)::

    SUBMISSIONS/<student>/<lesson>/<lesson>.ipynb     and any other files handed in

``<student>`` starts with a letter or digit (nbgrader skips names starting with ``.`` or
``_``); ``<lesson>`` is a lesson of the course (``02-preprocess-the-data``, ...). Any other
layout (a nested ``submitted/``, an empty folder, a stray file, a skipped name) is refused
with a message that says what was expected.

1. **Collect**: each ``<student>/<lesson>/`` is read as data (regular files only, no link
   followed; links, devices and pipes are left out and named in the status) and copied into
   the course's ``submitted/<student>/<lesson>/``, replacing only that student's earlier copy
   of that lesson. Other students and lessons stay as they are.
2. **Autograde**: ``nbgrader autograde <lesson>`` for the students of this run. The course's
   nbgrader_config.py (``tools/course.py``) makes nbgrader grade with
   ``tools/autograde.py``: the student's code in the sandbox, the checks in nbgrader's own
   process; nbgrader records the points in ``gradebook.db``.
3. **Gradebook**: ``gradebook.csv`` (one row per student ever graded in the course: per
   lesson the status, the log file, the points of each check; then the total) and
   ``hints.csv`` (what each check said). Logs are in ``grading/<lesson>/``: one per student
   and one per nbgrader run.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import autograde  # noqa: E402  (sibling scripts, not a package)
import course  # noqa: E402
import sandbox  # noqa: E402

sys.path.insert(0, str(course.student_edition.NOTEBOOKS))
import mnist_lib  # noqa: E402

NOT_SUBMITTED = "not submitted"
FAILED = "autograde failed"
HINT_LENGTH = 300
TOTAL = "total"
STUDENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@+-]{0,99}")
COURSE_FOLDERS = ("submitted", "autograded", "feedback", "release", "source", "grading")
LAYOUT = "<student>/<lesson>/<lesson>.ipynb"


class LayoutError(ValueError):
    """A submissions folder that is not in the one documented layout."""


def lessons_of(course_dir: Path) -> dict[str, list[autograde.Check]]:
    """Each lesson of the course with its checks, from nbgrader's release."""
    found = {}
    for folder in sorted((course_dir / "release").glob("*/")):
        notebook = folder / f"{folder.name}.ipynb"
        if notebook.is_file():
            found[folder.name] = autograde.course_checks(nbformat.read(notebook, as_version=4))
    if not found:
        raise FileNotFoundError(f"no course in {course_dir}: run `nox -s course` first")
    return found


def _layout_error(submissions: Path, problem: str, lessons) -> LayoutError:
    example = f"{submissions}/ada/{lessons[0]}/{lessons[0]}.ipynb"
    return LayoutError(
        f"{problem}. Expected {submissions}/{LAYOUT} for every student, e.g. {example} "
        f"(lessons: {', '.join(lessons)})."
    )


def plan(submissions: Path, lessons: list[str]) -> dict[str, list[str]]:
    """Check the layout of a submissions folder; return {student: [lesson, ...]}."""
    if not submissions.is_dir() or submissions.is_symlink():
        raise FileNotFoundError(f"no submissions folder {submissions}")
    entries = sorted(submissions.iterdir())
    if not entries:
        raise _layout_error(submissions, f"{submissions} is empty", lessons)
    students: dict[str, list[str]] = {}
    for entry in entries:
        name = entry.name
        if name in COURSE_FOLDERS or name in lessons:
            raise _layout_error(
                submissions,
                f"{entry} is a folder of the course layout, not a student "
                f"(to grade {entry}, pass that folder instead)",
                lessons,
            )
        if entry.is_symlink() or not entry.is_dir():
            raise _layout_error(submissions, f"{entry} is not a student folder", lessons)
        if not STUDENT_NAME.fullmatch(name):
            raise _layout_error(
                submissions,
                f"the student name {name!r} would be skipped or is not a valid id (names start "
                "with a letter or digit and hold letters, digits and _ . @ + -)",
                lessons,
            )
        handed_in = sorted(p.name for p in entry.iterdir())
        strays = [n for n in handed_in if n not in lessons]
        if strays:
            raise _layout_error(
                submissions, f"{entry} holds {', '.join(strays)}, which is not a lesson", lessons
            )
        if not handed_in:
            raise _layout_error(submissions, f"{entry} holds no lesson folder", lessons)
        students[name] = handed_in
    return students


def _replace(folder: Path, files: dict[str, bytes]) -> None:
    """Make `folder` hold exactly `files` (relative name -> bytes), without following links."""
    if folder.is_symlink() or folder.is_file():
        folder.unlink()
    elif folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    sandbox.write_files(folder, files)


def collect(submissions: Path, course_dir: Path, lessons: list[str]) -> dict:
    """Copy the submissions, as data, into the course; return {(student, lesson): notes}."""
    submissions = Path(os.path.abspath(submissions))
    students = plan(submissions, lessons)
    target = course_dir / "submitted"
    in_place = submissions == Path(os.path.abspath(target))
    collected = {}
    for student, handed_in in students.items():
        for lesson in handed_in:
            files, left_out = autograde.read_folder(submissions / student / lesson)
            if not in_place:
                _replace(target / student / lesson, files)
            collected[(student, lesson)] = (files, left_out)
    return collected


def warm_cache(course_dir: Path) -> Path:
    """A verified copy of the MNIST files in the course's `_data`, for the sandbox to read."""
    cache = course_dir / "_data"
    mirrors = [str(mnist_lib.CACHE_DIR), *mnist_lib.configured_mirrors(), *mnist_lib.PUBLIC_MIRRORS]
    for filename in mnist_lib.DATA_SOURCES.values():
        mnist_lib.fetch(filename, cache_dir=cache, mirrors=mirrors, progress=False)
    return cache


def _uses_mnist(course_dir: Path, lesson: str) -> bool:
    """True when the lesson loads MNIST (its cells then read the course's verified cache)."""
    notebook = course_dir / "release" / lesson / f"{lesson}.ipynb"
    return "mnist_lib" in notebook.read_text(encoding="utf-8")


def _run(command: list[str], env: dict, cwd: Path, limit: float, log: Path) -> int | None:
    """Run a command in its own process group, output into `log`; kill it after `limit` s."""
    with log.open("w", encoding="utf-8") as output:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            return process.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return None


def autograde_lesson(course_dir: Path, lesson: str, students: list[str], run: str) -> Path:
    """`nbgrader autograde` for these students of one lesson; return nbgrader's log."""
    submitted = course_dir / "submitted"
    others = sorted(
        p.name for p in submitted.iterdir() if p.name not in students and (p / lesson).exists()
    )
    command, env = course.nbgrader_command(
        "autograde",
        lesson,
        "--force",
        "--student=*",
        f"--CourseDirectory.student_id_exclude={','.join(others)}",
    )
    env["GRADING_RUN"] = run
    env.pop("CHECKS_STRICT", None)  # the grader's checks print their verdicts, never raise
    log = autograde.status_folder(course_dir, lesson) / f"nbgrader-{run}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    code = _run(command, env, course_dir, 60 + len(students) * course.TOTAL_TIMEOUT, log)
    if code is None:
        with log.open("a", encoding="utf-8") as file:
            file.write("\n[tools/grade.py: nbgrader stopped after its time limit]\n")
    return log


def _status(course_dir: Path, lesson: str, student: str) -> dict | None:
    path = autograde.status_folder(course_dir, lesson) / f"{student}.json"
    if path.is_symlink() or not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def scores_of(course_dir: Path, student: str, lesson: str, checks) -> dict[str, float]:
    """The points nbgrader recorded for each check (a teacher's manual score wins)."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}") as gradebook:
        scores = {}
        for check in checks:
            try:
                grade = gradebook.find_grade(check.grade_id, lesson, lesson, student)
                scores[check.grade_id] = float(grade.score or 0)
            except MissingEntry:
                scores[check.grade_id] = 0.0
        return scores


def write_gradebook(course_dir: Path, lessons: dict) -> tuple[Path, Path]:
    """gradebook.csv and hints.csv for every student graded in the course, any run."""
    students = sorted(
        {
            p.stem
            for lesson in lessons
            for p in autograde.status_folder(course_dir, lesson).glob("*.json")
        }
    )
    columns = ["student"]
    for lesson, checks in lessons.items():
        columns += [
            f"{lesson} status",
            f"{lesson} log",
            *(f"{lesson}/{c.grade_id}" for c in checks),
        ]
    columns.append(TOTAL)
    rows, hints = [], []
    for student in students:
        row = {"student": student}
        total = 0.0
        for lesson, checks in lessons.items():
            status = _status(course_dir, lesson, student)
            row[f"{lesson} status"] = status["describe"] if status else NOT_SUBMITTED
            row[f"{lesson} log"] = status["log"] if status else ""
            graded = status is not None and status["status"] not in (
                autograde.MISSING,
                autograde.NOT_A_NOTEBOOK,
                FAILED,
            )
            scores = scores_of(course_dir, student, lesson, checks) if graded else {}
            said = {v["grade_id"]: v["text"] for v in (status or {}).get("verdicts", [])}
            for check in checks:
                score = scores.get(check.grade_id, 0.0)
                total += score
                row[f"{lesson}/{check.grade_id}"] = f"{score:g}"
                if status:
                    hint = said.get(check.grade_id, "")[:HINT_LENGTH]
                    hints.append(
                        [student, lesson, check.grade_id, f"{score:g}", f"{check.points:g}", hint]
                    )
        row[TOTAL] = f"{total:g}"
        rows.append(row)
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


def _record(course_dir, lesson, student, outcome, run) -> dict:
    autograde.write_status(course_dir, lesson, student, outcome, run)
    return _status(course_dir, lesson, student)


def grade_class(submissions: Path, course_dir: Path, say=print) -> tuple[dict, Path, Path]:
    """Collect and grade a class; return {student: {lesson: status record}} and the files."""
    course_dir = Path(course_dir).resolve()
    lessons = lessons_of(course_dir)
    if not sandbox.bubblewrap():
        raise RuntimeError(sandbox.MISSING)
    collected = collect(submissions, course_dir, list(lessons))
    graded_lessons = {lesson for _, lesson in collected}
    if any(_uses_mnist(course_dir, lesson) for lesson in graded_lessons):
        warm_cache(course_dir)
    run = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + f"-{os.getpid()}"
    results: dict[str, dict[str, dict]] = {}
    for lesson in lessons:
        gradable = []
        for (student, handed), (files, left_out) in sorted(collected.items()):
            if handed != lesson:
                continue
            unreadable = autograde.read_code_cells(files, f"{lesson}.ipynb")
            if not isinstance(unreadable, autograde.Outcome):
                gradable.append(student)
                continue
            unreadable.notes += autograde.left_out_notes(left_out)
            status = _record(course_dir, lesson, student, unreadable, run)
            results.setdefault(student, {})[lesson] = status
            say(f"{student} {lesson}: {status['describe']}")
        if not gradable:
            continue
        start = time.perf_counter()
        log = autograde_lesson(course_dir, lesson, gradable, run)
        seconds = time.perf_counter() - start
        for student in gradable:
            status = _status(course_dir, lesson, student)
            if not status or status.get("run") != run:
                outcome = autograde.Outcome(status=FAILED, detail=f"(see {log})")
                status = _record(course_dir, lesson, student, outcome, run)
            else:
                left_out = collected[(student, lesson)][1]
                notes = [
                    note
                    for note in autograde.left_out_notes(left_out)
                    if note not in status["notes"]
                ]
                if notes:
                    status["notes"] += notes
                    status["describe"] = "; ".join([status["describe"], *notes])
                    path = autograde.status_folder(course_dir, lesson) / f"{student}.json"
                    path.write_text(json.dumps(status, indent=1), encoding="utf-8")
            status["nbgrader_log"] = str(log)
            results.setdefault(student, {})[lesson] = status
            say(f"{student} {lesson}: {status['describe']} ({status.get('seconds', 0):.1f} s)")
        say(f"{lesson}: {len(gradable)} submission(s) in {seconds:.1f} s; nbgrader's log: {log}")
    book, hint_file = write_gradebook(course_dir, lessons)
    return results, book, hint_file


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("submissions", nargs="?", type=Path, help="default: COURSE/submitted")
    parser.add_argument("--course", type=Path, default=course.DEFAULT_OUT, help="course folder")
    parser.add_argument("--timeout", type=int, help="seconds per cell (default: the course's)")
    args = parser.parse_args(argv)
    if args.timeout:
        course.write_config(args.course.resolve(), args.timeout)
    submissions = args.submissions or args.course / "submitted"
    try:
        _, book, hint_file = grade_class(submissions, args.course)
    except (FileNotFoundError, LayoutError, RuntimeError, mnist_lib.MNISTError) as error:
        print(f"grade: {error}", file=sys.stderr)
        return 1
    print(f"wrote {book} and {hint_file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
