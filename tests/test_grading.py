"""Tests of grading a class with nbgrader (tools/course.py, tools/grade.py, tools/sandbox.py).

- The course: every lesson becomes a source assignment whose solution and check cells carry
  nbgrader's metadata, and nbgrader's ``generate_assignment`` writes the same student
  version as ``tools/student_edition.py``.
- A class of sample submissions of lesson 2 (the shortest), graded once by nbgrader's
  autograder: a perfect one, an untouched one, a partly solved one, a syntax error, an
  endless loop, a kernel that dies, megabytes of output, deleted and edited check cells,
  a file that is not a notebook, and (with bubblewrap) one that probes its sandbox. Each
  gets a row in the gradebook with what happened; nothing outside the course changes.

Expected scores are derived from the lesson's own cells at run time, not written here.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import socket
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
LESSON = sorted((ROOT / "notebooks").glob("02-*.md"))[0].stem
STUDENTS = ("perfect", "untouched", "partly", "syntax", "endless", "dies", "noisy", "tamper")
PROBES = {  # what the probing submission tries, and whether the sandbox must allow it
    "read the lessons": (False, "open({lesson_md!r}).read()"),
    "read the source notebook": (False, "open({source_nb!r}).read()"),
    "read the gradebook": (False, "open({gradebook!r}, 'rb').read()"),
    "write outside its folder": (False, "open({outside!r}, 'w').write('x')"),
    "write into the project": (False, "open({project!r}, 'w').write('x')"),
    "open a socket": (False, "socket.create_connection(('127.0.0.1', {port}), timeout=2)"),
    "write its own folder": (True, "open('mine.txt', 'w').write('x')"),
}


def _release_and_source(course_dir: Path):
    release = nbformat.read(course_dir / "release" / LESSON / f"{LESSON}.ipynb", as_version=4)
    source = nbformat.read(course_dir / "source" / LESSON / f"{LESSON}.ipynb", as_version=4)
    return release, source


def _answers(source) -> list[tuple[int, int]]:
    """(index of the solution code cell before it, index) of each check cell."""
    answers, last = [], None
    for index, cell in enumerate(source.cells):
        info = cell.metadata.get("nbgrader", {})
        if info.get("solution") and cell.cell_type == "code":
            last = index
        elif info.get("grade") and cell.cell_type == "code":
            answers.append((last, index))
    return answers


def _solved(release, source, indices) -> nbformat.NotebookNode:
    """The student version with the solutions of the cells `indices` filled in."""
    nb = nbformat.from_dict(json.loads(nbformat.writes(release)))
    for index in indices:
        nb.cells[index].source = source.cells[index].source
    return nb


def _code_cell(text: str):
    return nbformat.v4.new_code_cell(text)


def _samples(release, source) -> dict[str, nbformat.NotebookNode]:
    """The sample submissions, by student name."""
    answers, checks = zip(*_answers(source), strict=True)
    assert len(answers) >= 3 and None not in answers, "lesson 2 needs 3 checked exercises"
    every = [
        i for i, c in enumerate(source.cells) if c.metadata.get("nbgrader", {}).get("solution")
    ]
    samples = {name: _solved(release, source, every) for name in STUDENTS}
    samples["untouched"] = _solved(release, source, [])
    samples["partly"] = _solved(release, source, answers[:1])
    samples["syntax"].cells[answers[1]].source = "def broken(:\n    pass\n"
    samples["endless"].cells[answers[2]].source = "while True:\n    pass\n"
    samples["dies"].cells[answers[-1]].source = "import os\nos._exit(1)\n"
    samples["noisy"].cells.insert(
        answers[0] + 1, _code_cell("for i in range(60_000):\n    print('x' * 100)\n")
    )
    tamper = samples["tamper"]
    tamper.cells[answers[1]].source = release.cells[answers[1]].source  # unsolved ...
    tamper.cells[checks[1]].source = "print('Right! trust me')"  # ... but says Right!
    del tamper.cells[checks[0]]  # the first check cell, deleted
    return samples


def _probe(paths: dict) -> nbformat.NotebookNode:
    lines = ["import socket", "def attempt(what, action):", "    try:", "        action()"]
    lines += ["        print('PROBE', what, 'allowed')", "    except Exception as error:"]
    lines += ["        print('PROBE', what, 'blocked', type(error).__name__)"]
    for what, (_, code) in PROBES.items():
        lines.append(f"attempt({what!r}, lambda: {code.format(**paths)})")
    return _code_cell("\n".join(lines))


def _snapshot(*folders: Path) -> dict:
    return {
        str(path): (path.stat().st_size, path.stat().st_mtime_ns)
        for folder in folders
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def listener():
    """A server on the grading machine that a submission must not reach."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.setblocking(False)
        yield server


@pytest.fixture(scope="module")
def graded(grading_tools, grading_course, tmp_path_factory, listener):
    """Grade the sample class once; return the results, the rows and what was watched."""
    grade, sandbox = grading_tools["grade"], grading_tools["sandbox"]
    release, source = _release_and_source(grading_course)
    submissions = tmp_path_factory.mktemp("submissions")
    samples = _samples(release, source)
    outside = grading_course / "written-by-a-submission.txt"
    if sandbox.bubblewrap():
        paths = dict(
            lesson_md=str(ROOT / "notebooks" / f"{LESSON}.md"),
            source_nb=str(grading_course / "source" / LESSON / f"{LESSON}.ipynb"),
            gradebook=str(grading_course / "gradebook.db"),
            outside=str(outside),
            project=str(ROOT / "written-by-a-submission.txt"),
            port=listener.getsockname()[1],
        )
        samples["prober"] = _solved(release, source, [])
        samples["prober"].cells = [*_samples(release, source)["perfect"].cells, _probe(paths)]
    for student, nb in samples.items():
        (submissions / student / LESSON).mkdir(parents=True)
        nbformat.write(nb, submissions / student / LESSON / f"{LESSON}.ipynb")
    (submissions / "garbage" / LESSON).mkdir(parents=True)
    (submissions / "garbage" / LESSON / f"{LESSON}.ipynb").write_text("print('hello')\n")
    watched = [ROOT / "notebooks", ROOT / "tools", submissions]
    before = _snapshot(*watched)
    results, book, hints = grade.grade_class(submissions, grading_course, 120, hidden=[], say=print)
    with book.open(newline="") as file:
        rows = {row["student"]: row for row in csv.DictReader(file)}
    with hints.open(newline="") as file:
        hint_rows = list(csv.DictReader(file))
    return dict(
        results=results,
        rows=rows,
        hints=hint_rows,
        before=before,
        watched=watched,
        outside=outside,
        checks=grading_tools["course"].checks_of(source),
    )


def _scores(graded, student) -> list[float]:
    row = graded["rows"][student]
    return [float(row[f"{LESSON}/{grade_id}"]) for grade_id, _ in graded["checks"]]


def _status(graded, student) -> str:
    return graded["rows"][student][f"{LESSON} status"]


def test_release_is_the_student_edition(grading_tools, grading_course):
    """nbgrader's generate_assignment writes the cells that `nox -s student` writes."""
    import jupytext

    student_edition = grading_tools["course"].student_edition
    for md in student_edition.lessons():
        expected = student_edition.student_notebook(jupytext.read(md), md.name)
        release = grading_course / "release" / md.stem / f"{md.stem}.ipynb"
        released = nbformat.read(release, as_version=4)
        assert [(c.cell_type, c.source) for c in released.cells] == [
            (c.cell_type, c.source) for c in expected.cells
        ], md.name
        assert not any(c.get("outputs") for c in released.cells)
        for name in student_edition.SUPPORT_FILES:
            _assert_same_files(release.parent / name, ROOT / "notebooks" / name)


def _assert_same_files(copy: Path, original: Path) -> None:
    """The file, or every Python file of the folder, has the original's bytes."""
    pairs = [(copy, original)]
    if original.is_dir():
        pairs = [(copy / p.relative_to(original), p) for p in sorted(original.rglob("*.py"))]
    for copied, source in pairs:
        assert copied.read_bytes() == source.read_bytes(), copied


def test_every_check_is_worth_points(grading_tools, grading_course):
    """Check cells are graded, locked tests; solution cells are answers; ids are unique."""
    course = grading_tools["course"]
    for folder in sorted((grading_course / "source").iterdir()):
        nb = nbformat.read(folder / f"{folder.name}.ipynb", as_version=4)
        calls = [c for c in nb.cells if course.check_name(c)]
        checks = course.checks_of(nb)
        assert calls and len(checks) == len(calls), folder.name
        assert all(points > 0 for _, points in checks)
        ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if "nbgrader" in c.metadata]
        assert len(ids) == len(set(ids))
        for cell in nb.cells:
            if "solution" in cell.metadata.get("tags", []) and cell.cell_type == "code":
                assert cell.metadata["nbgrader"]["solution"] is True


def test_a_solution_cell_without_markers_stops_the_build(grading_tools, tmp_path):
    course = grading_tools["course"]
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("def f():\n    return 1", metadata={"tags": ["solution"]})
    ]
    with pytest.raises(course.student_edition.SolutionMarkerError, match="no"):
        course.source_notebook(nb, "broken.md")


def test_every_submission_gets_a_row(graded):
    expected = {*STUDENTS, "garbage"} | ({"prober"} if "prober" in graded["results"] else set())
    assert set(graded["rows"]) == expected
    for student, row in graded["rows"].items():
        assert row[f"{LESSON} status"], student
        other = [k for k in row if k.endswith(" status") and not k.startswith(LESSON)]
        assert all(row[k] == "not submitted" for k in other)


def test_perfect_and_untouched(graded):
    maximum = [float(points) for _, points in graded["checks"]]
    assert _status(graded, "perfect") == "graded"
    assert _scores(graded, "perfect") == maximum
    assert float(graded["rows"]["perfect"]["total"]) == sum(maximum)
    assert _scores(graded, "untouched") == [0.0] * len(maximum)


def test_partly_solved_syntax_error_and_endless_loop(graded):
    """Only the exercise that is broken loses its points; an endless loop is interrupted."""
    n = len(graded["checks"])
    assert _scores(graded, "partly") == [1.0] + [0.0] * (n - 1)
    assert _scores(graded, "syntax") == [1.0, 0.0] + [1.0] * (n - 2)
    assert _scores(graded, "endless") == [1.0, 1.0, 0.0] + [1.0] * (n - 3)
    assert "ran out of time" in _status(graded, "endless")


def test_hints_are_what_the_checks_said(graded):
    hints = {
        (h["student"], h["check"]): h["hint"] for h in graded["hints"] if h["lesson"] == LESSON
    }
    for grade_id, _ in graded["checks"]:
        assert hints[("perfect", grade_id)].startswith("Right!")
        assert hints[("untouched", grade_id)].startswith("Not yet:")
    assert hints[("syntax", graded["checks"][1][0])].startswith(("Not yet:", "NameError"))


def test_a_dead_kernel_or_a_non_notebook_is_reported(graded):
    assert _status(graded, "dies") == "kernel died"
    assert _scores(graded, "dies") == [0.0] * len(graded["checks"])
    assert _status(graded, "garbage").startswith("not a notebook")


def test_megabytes_of_output_are_limited(graded, grading_course):
    assert _status(graded, "noisy") == "graded"
    assert _scores(graded, "noisy") == [float(p) for _, p in graded["checks"]]
    notebook = grading_course / "autograded" / "noisy" / LESSON / f"{LESSON}.ipynb"
    assert notebook.stat().st_size < 1_000_000


def test_deleted_and_edited_check_cells_are_restored(graded):
    """The deleted check is put back and passes; the edited one is restored and fails."""
    n = len(graded["checks"])
    assert _scores(graded, "tamper") == [1.0, 0.0] + [1.0] * (n - 2)
    assert "restored" in _status(graded, "tamper")


def test_nothing_outside_the_course_changes(graded):
    assert _snapshot(*graded["watched"]) == graded["before"]
    assert not graded["outside"].exists()
    assert not (ROOT / "written-by-a-submission.txt").exists()


def test_the_sandbox_holds(graded, grading_course, listener):
    """A submission cannot read the solutions, write outside its folder or use the network."""
    if "prober" not in graded["results"]:
        if os.environ.get("REQUIRE_SANDBOX_TEST") == "1":
            pytest.fail("REQUIRE_SANDBOX_TEST=1 but bubblewrap (bwrap) is not installed")
        pytest.skip(
            "bubblewrap is not installed (apt-get install bubblewrap): grading is unsandboxed"
        )
    notebook = grading_course / "autograded" / "prober" / LESSON / f"{LESSON}.ipynb"
    printed = "".join(
        o.get("text", "")
        for c in nbformat.read(notebook, as_version=4).cells
        for o in c.get("outputs", [])
    )
    for what, (allowed, _) in PROBES.items():
        assert f"PROBE {what} {'allowed' if allowed else 'blocked'}" in printed, what
    with pytest.raises(BlockingIOError):
        listener.accept()
    assert _scores(graded, "prober") == [float(p) for _, p in graded["checks"]]


def test_unsandboxed_grading_works_and_says_so_once(
    grading_tools, grading_course, tmp_path, monkeypatch
):
    grade = grading_tools["grade"]
    course_copy = tmp_path / "course"
    shutil.copytree(grading_course, course_copy, ignore=shutil.ignore_patterns("autograded"))
    monkeypatch.setattr(grading_tools["sandbox"], "bubblewrap", lambda: None)
    release, source = _release_and_source(grading_course)
    for student in ("solver", "garbage"):
        (tmp_path / "class" / student / LESSON).mkdir(parents=True)
    (tmp_path / "class" / "garbage" / LESSON / f"{LESSON}.ipynb").write_text("not json")
    nbformat.write(
        _samples(release, source)["perfect"],
        tmp_path / "class" / "solver" / LESSON / f"{LESSON}.ipynb",
    )
    said = []
    results, _, _ = grade.grade_class(tmp_path / "class", course_copy, 120, [], said.append)
    assert said.count(grade.UNSANDBOXED) == 1
    assert results["solver"][LESSON].status == "graded"
    with (course_copy / "gradebook.csv").open(newline="") as file:
        rows = {row["student"]: row for row in csv.DictReader(file)}
    maximum = sum(points for _, points in grading_tools["course"].checks_of(source))
    assert float(rows["solver"]["total"]) == maximum


def test_bad_folders_give_clear_errors(grading_tools, grading_course, tmp_path):
    grade = grading_tools["grade"]
    with pytest.raises(FileNotFoundError, match="nox -s course"):
        grade.lessons_of(tmp_path)
    with pytest.raises(FileNotFoundError, match="no submissions folder"):
        grade.collect(tmp_path / "nowhere", grading_course)
    with pytest.raises(FileNotFoundError, match="no student folders"):
        grade.collect(tmp_path, grading_course)
