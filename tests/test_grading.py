"""Tests of grading a class (tools/course.py, grade.py, autograde.py, sandbox.py).

- The course: every lesson becomes a source assignment whose solution and check cells carry
  nbgrader's metadata, and nbgrader's ``generate_assignment`` writes the same student
  version as ``tools/student_edition.py``.
- A class made for the purpose, handing in the grading tests' own lesson (two checks, no
  data), graded by ``tools/grade.py`` (which runs ``nbgrader autograde``) in two runs: as
  root, then as an ordinary user adding to the same course. Honest work in every shape
  (pasted and duplicated cells, the student edition, a fresh notebook), the four cheats,
  the limits (time, memory, processes, disk), a dying kernel, links in a handed-in folder,
  and probes of the sandbox: files of the teacher's, a Unix socket and a TCP port on the
  host, privileges.
- The collection layouts that are refused.

Expected scores come from the sample lesson's own solutions, not from numbers written here.
"""

from __future__ import annotations

import ast
import copy
import csv
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOBODY = 65534
REQUIRED = os.environ.get("REQUIRE_SANDBOX_TEST") == "1"

ROOT_STUDENTS = (
    "perfect",
    "blank",
    "partly",
    "pasted",
    "duplicated",
    "edition",
    "fresh",
    "cheat-assign",
    "cheat-report",
    "cheat-redefine",
    "cheat-strict",
    "endless",
    "dies",
    "memory",
    "processes",
    "disk",
    "linked-notebook",
    "links-inside",
    "checkpoints",
    "garbage",
    "renamed",
    "probe-root",
)
USER_STUDENTS = ("user-perfect", "probe-user")


def _needs_sandbox(sandbox) -> None:
    if not sandbox.bubblewrap():
        message = "bubblewrap (bwrap) is not installed: apt-get install bubblewrap"
        if REQUIRED:
            pytest.fail(f"REQUIRE_SANDBOX_TEST=1 but {message}")
        pytest.skip(message)


# --- the class --------------------------------------------------------------------------------
def _copy(nb):
    return nbformat.reads(nbformat.writes(nb), as_version=4)


def _solutions(source) -> dict[str, str]:
    """The source of each solution code cell of the source notebook, by grade id."""
    return {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in source.cells
        if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"
    }


def _solved(release, source, which=None):
    """The release with the solutions of the answer cells `which` (default: all) filled in."""
    nb = _copy(release)
    solutions = _solutions(source)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in solutions and (which is None or grade_id in which):
            cell.source = solutions[grade_id]
    return nb


def _index(nb, grade_id) -> int:
    return next(
        i
        for i, c in enumerate(nb.cells)
        if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id
    )


def _code(text: str):
    return nbformat.v4.new_code_cell(text)


PROBE = """\
import os, socket
def attempt(what, action):
    try:
        action()
        print("PROBE", what, "allowed")
    except Exception as error:
        print("PROBE", what, "blocked", type(error).__name__)
def connect_unix(address):
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(2)
        s.connect(address)
for what, path in {paths!r}.items():
    attempt("read " + what, lambda path=path: open(path, "rb").read(1))
attempt("write outside its folder", lambda: open({outside!r}, "w").write("x"))
attempt("write its own folder", lambda: open("mine.txt", "w").write("x"))
attempt("connect to a Unix socket", lambda: connect_unix({unix!r}))
attempt("connect to an abstract Unix socket", lambda: connect_unix({abstract!r}))
attempt("connect over TCP", lambda: socket.create_connection(("127.0.0.1", {port}), timeout=2))
attempt("become root", lambda: os.setuid(0))
print("HOME", sorted(os.listdir({home!r})) if os.path.isdir({home!r}) else [])
status = open("/proc/self/status").read()
print("UID", os.getuid(), "CAPEFF", status.split("CapEff:")[1].split()[0])
"""


#: What the probe reports: each attempt of PROBE by name, and its two other lines.
PROBE_READS = (
    "the gradebook",
    "the source notebook",
    "another student's work",
    "the project",
    "the host's /tmp",
)
PROBED = {
    *(f"read {what}" for what in PROBE_READS),
    *re.findall(r'attempt\("([^"]+)",', PROBE),
    "UID",
    "HOME",
}


def _probe(course_dir: Path, listeners: dict) -> nbformat.NotebookNode:
    paths = dict(
        zip(
            PROBE_READS,
            [
                str(course_dir / "gradebook.db"),
                str(next((course_dir / "source").glob("*/*.ipynb"))),
                str(next((course_dir / "submitted").glob("*/*/*.ipynb"))),
                str(ROOT / "notebooks" / "mnist_lib.py"),
                listeners["tmp_file"],
            ],
            strict=True,
        )
    )
    text = PROBE.format(
        paths=paths,
        outside=str(course_dir / "written-by-a-submission.txt"),
        unix=listeners["unix"],
        abstract="\0" + listeners["abstract"],
        port=listeners["port"],
        home=str(Path.home()),
    )
    return _code(text)


def _pasted(cell):
    """A copy of `cell` as JupyterLab pastes it: the same metadata (nbgrader's grade id too),
    a new cell id."""
    pasted = copy.deepcopy(cell)
    pasted.id = uuid.uuid4().hex[:8]
    return pasted


def _class(release, source, sample) -> dict:
    """The first run's submissions: {student: notebook, or a function that writes the folder}."""
    every = _solved(release, source)
    first, second = (
        c.metadata["nbgrader"]["grade_id"]
        for c in every.cells
        if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"
    )
    answers = list(_solutions(source))
    samples = {"perfect": every, "blank": _copy(release)}
    samples["partly"] = _solved(release, source, {answers[0]})
    pasted = _copy(every)
    pasted.cells.insert(_index(pasted, first) + 1, _pasted(pasted.cells[_index(pasted, first)]))
    samples["pasted"] = pasted
    duplicated = _copy(every)
    duplicated.cells.insert(
        _index(duplicated, answers[1]), _pasted(duplicated.cells[_index(duplicated, answers[1])])
    )
    samples["duplicated"] = duplicated
    samples["edition"] = _edition(sample, source)
    fresh = nbformat.v4.new_notebook()
    fresh.cells = [_code("import numpy as np")] + [
        _code(text) for text in _solutions(source).values()
    ]
    samples["fresh"] = fresh
    # The four cheats, each on a blank notebook.
    cheats = {
        "cheat-assign": (None, "checks.{name} = lambda *a, **k: print('Right!')"),
        "cheat-report": (
            None,
            "import checks.core\nchecks.core._report = lambda passed, message: print('Right!')",
        ),
        "cheat-redefine": (
            "import",
            "class checks:\n    def __getattr__(self, name):\n        return lambda *a: print('Right!')\nchecks = checks()",
        ),
        "cheat-strict": (None, "import os\nos.environ['CHECKS_STRICT'] = '0'"),
    }
    for student, (where, text) in cheats.items():
        nb = _copy(release)
        if where == "import":
            cell = next(c for c in nb.cells if c.source.strip() == "import checks")
            cell.source = text
        else:
            for name in ("scale_symmetric", "bytes_needed"):
                nb.cells.insert(2, _code(text.format(name=name)))
        samples[student] = nb
    endless = _copy(every)
    endless.cells[_index(endless, answers[0])].source = "while True:\n    pass"
    samples["endless"] = endless
    dies = _copy(every)
    dies.cells.insert(_index(dies, answers[1]), _code("import os\nos._exit(3)"))
    samples["dies"] = dies
    limits = {
        "memory": "big = bytearray(3 * 2**30)",
        "processes": (
            "import os, time\nfor _ in range(100):\n    if os.fork() == 0:\n"
            "        time.sleep(5)\n        os._exit(0)"
        ),
        "disk": "with open('big.bin', 'wb') as f:\n    for _ in range(200):\n        f.write(b'x' * 2**20)",
    }
    for student, text in limits.items():
        nb = _copy(every)
        nb.cells.insert(2, _code(text))
        samples[student] = nb
    return samples


def _edition(sample, source) -> nbformat.NotebookNode:
    """The student edition of the sample lesson, solved, with its ordinary extra cells."""
    import jupytext
    import student_edition

    name, text = sample
    nb = student_edition.student_notebook(jupytext.reads(text, fmt="md:myst"), f"{name}.md")
    solutions = list(_solutions(source).values())
    answers = [c for c in nb.cells if c.cell_type == "code" and "YOUR CODE HERE" in c.source]
    for cell, solution in zip(answers, solutions, strict=True):
        cell.source = solution
    nb.cells.append(_code('# checks.hint("1.1")'))
    nb.cells.append(_code('checks.hint("1.2")'))
    return nb


def _write(folder: Path, lesson: str, nb) -> Path:
    (folder / lesson).mkdir(parents=True, exist_ok=True)
    path = folder / lesson / f"{lesson}.ipynb"
    nbformat.write(nb, path)
    return path


def _rows(course_dir: Path) -> dict:
    with (course_dir / "gradebook.csv").open(newline="") as file:
        return {row["student"]: row for row in csv.DictReader(file)}


def _snapshot(*folders: Path) -> dict:
    return {
        str(path): (path.stat().st_size, path.stat().st_mtime_ns)
        for folder in folders
        for path in sorted(folder.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


@pytest.fixture(scope="module")
def listeners():
    """A Unix socket in a host folder, an abstract one, a TCP port: none may be reached."""
    folder = Path(tempfile.mkdtemp(prefix="grading-host-", dir="/var/tmp"))
    folder.chmod(0o755)
    unix = socket.socket(socket.AF_UNIX)
    unix.bind(str(folder / "listen.sock"))
    os.chmod(folder / "listen.sock", 0o777)
    abstract = socket.socket(socket.AF_UNIX)
    name = f"grading-test-{uuid.uuid4().hex}"
    abstract.bind("\0" + name)
    tcp = socket.create_server(("127.0.0.1", 0))
    tmp_file = Path(tempfile.mkdtemp(prefix="grading-host-")) / "teacher.txt"
    tmp_file.write_text("the teacher's")
    tmp_file.parent.chmod(0o755)
    tmp_file.chmod(0o644)
    for server in (unix, abstract, tcp):
        server.listen()
        server.setblocking(False)
    yield {
        "unix": str(folder / "listen.sock"),
        "abstract": name,
        "port": tcp.getsockname()[1],
        "tmp_file": str(tmp_file),
        "servers": (unix, abstract, tcp),
    }
    for server in (unix, abstract, tcp):
        server.close()
    shutil.rmtree(folder)
    shutil.rmtree(tmp_file.parent)


def _as_ordinary_user(command: list[str], env: dict) -> subprocess.CompletedProcess:
    """Run `command` as the unprivileged user nobody, with this Python reachable.

    When this Python lives in a folder nobody cannot enter (such as root's home), a
    bubblewrap mount namespace shows it, and only it, there; nothing else changes.
    """
    import sandbox

    # --die-with-parent: on a timeout, the grader it runs goes with it.
    shim = ["bwrap", "--die-with-parent", "--bind", "/", "/", "--dev-bind", "/dev", "/dev"]
    home = Path.home()
    hidden = [p for p in sandbox._python_folders() if p.is_relative_to(home)]
    if hidden:
        shim += ["--perms", "0755", "--tmpfs", str(home)]
        for folder in hidden:
            for parent in reversed(folder.parents[:-1]):
                if parent.is_relative_to(home) and parent != home:
                    shim += ["--perms", "0755", "--dir", str(parent)]
            shim += ["--ro-bind", str(folder), str(folder)]
    drop = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    drop += ["--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
    return subprocess.run(
        [*shim, *drop, *command], env=env, capture_output=True, text=True, timeout=240
    )


@pytest.fixture(scope="module")
def graded(grading_tools, grading_course, grading_sample, listeners):
    """Grade the class: first as root, then, adding to the same course, as an ordinary user."""
    grade, sandbox = grading_tools["grade"], grading_tools["sandbox"]
    _needs_sandbox(sandbox)
    if os.geteuid() != 0:
        pytest.skip("the grading tests run as root, to grade both as root and as nobody")
    lesson = grading_sample[0]
    top = Path(tempfile.mkdtemp(prefix="grading-class-"))
    top.chmod(0o755)
    course_dir = top / "course"
    shutil.copytree(grading_course, course_dir)
    release = nbformat.read(course_dir / "release" / lesson / f"{lesson}.ipynb", as_version=4)
    source = nbformat.read(course_dir / "source" / lesson / f"{lesson}.ipynb", as_version=4)
    first = top / "first"
    for student, nb in _class(release, source, grading_sample).items():
        _write(first / student, lesson, nb)
    # A symlink instead of the notebook, aimed at the course's source (the solutions).
    source_nb = course_dir / "source" / lesson / f"{lesson}.ipynb"
    (first / "linked-notebook" / lesson).mkdir(parents=True)
    (first / "linked-notebook" / lesson / f"{lesson}.ipynb").symlink_to(source_nb)
    # An honest notebook, with links to the gradebook and the source beside it.
    links = _write(first / "links-inside", lesson, _solved(release, source)).parent
    (links / "gradebook.db").symlink_to(course_dir / "gradebook.db")
    (links / "data").symlink_to(course_dir / "source")
    nb = nbformat.read(links / f"{lesson}.ipynb", as_version=4)
    nb.cells.append(_code("print('LINK', len(open('gradebook.db', 'rb').read()))"))
    nbformat.write(nb, links / f"{lesson}.ipynb")
    # An honest notebook as JupyterLab saves it: a folder of checkpoints beside it.
    saved = _write(first / "checkpoints", lesson, _solved(release, source)).parent
    (saved / ".ipynb_checkpoints").mkdir()
    nbformat.write(release, saved / ".ipynb_checkpoints" / f"{lesson}-checkpoint.ipynb")
    _write(first / "garbage", lesson, _copy(release)).write_text("print('hello')\n")
    renamed = _write(first / "renamed", lesson, _solved(release, source))
    renamed.rename(renamed.with_name("my-work.ipynb"))
    # The probe needs another student's work in the course: it is written after a first copy.
    grade.collect(first, course_dir, list(grade.lessons_of(course_dir)))
    probe = _solved(release, source)
    probe.cells.append(_probe(course_dir, listeners))
    _write(first / "probe-root", lesson, probe)
    watched = [ROOT / "notebooks", ROOT / "tools"]
    before = _snapshot(*watched)
    said = []
    results, _, _ = grade.grade_class(first, course_dir, say=said.append)
    rows_first = _rows(course_dir)
    # The second run, as nobody, adds two students to the same course.
    second = top / "second"
    _write(second / "user-perfect", lesson, _solved(release, source))
    probe_user = _solved(release, source)
    probe_user.cells.append(_probe(course_dir, listeners))
    _write(second / "probe-user", lesson, probe_user)
    subprocess.run(["chown", "-R", f"{NOBODY}:{NOBODY}", str(top)], check=True)
    env = {
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.defpath]),
        "HOME": str(top),
        "LANG": "C.UTF-8",
    }
    command = [
        sys.executable,
        str(ROOT / "tools" / "grade.py"),
        str(second),
        "--course",
        str(course_dir),
    ]
    as_user = _as_ordinary_user(command, env)
    yield dict(
        lesson=lesson,
        course=course_dir,
        results=results,
        said=said,
        first=rows_first,
        rows=_rows(course_dir),
        as_user=as_user,
        checks=grading_tools["autograde"].course_checks(source),
        before=before,
        watched=watched,
        servers=listeners["servers"],
        python=sandbox._python_folders(),
    )
    shutil.rmtree(top)


def _scores(graded, student, rows="rows") -> list[float]:
    row = graded[rows][student]
    return [float(row[f"{graded['lesson']}/{c.grade_id}"]) for c in graded["checks"]]


def _status(graded, student, rows="rows") -> str:
    return graded[rows][student][f"{graded['lesson']} status"]


def _log(graded, student) -> str:
    return Path(graded["rows"][student][f"{graded['lesson']} log"]).read_text()


def _full(graded) -> list[float]:
    return [c.points for c in graded["checks"]]


# --- the course ---------------------------------------------------------------------------------
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
        # Hints on request, never the solutions: the release lists its exercises only.
        assert (release.parent / "checks" / student_edition.EXERCISES_FILE).is_file()
        assert not (release.parent / "checks" / student_edition.ANSWERS_FILE).exists()


def _assert_same_files(copy_: Path, original: Path) -> None:
    pairs = [(copy_, original)]
    if original.is_dir():
        pairs = [(copy_ / p.relative_to(original), p) for p in sorted(original.rglob("*.py"))]
    for copied, source in pairs:
        assert copied.read_bytes() == source.read_bytes(), copied


def test_every_check_is_worth_points(grading_tools, grading_course):
    """Check cells are graded, locked tests; solution cells are answers; ids are unique."""
    course, autograde = grading_tools["course"], grading_tools["autograde"]
    for folder in sorted((grading_course / "source").iterdir()):
        nb = nbformat.read(folder / f"{folder.name}.ipynb", as_version=4)
        calls = [c for c in nb.cells if course.check_name(c)]
        checks = autograde.course_checks(nb)
        assert calls and len(checks) == len(calls), folder.name
        assert all(check.points > 0 for check in checks)
        ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if "nbgrader" in c.metadata]
        assert len(ids) == len(set(ids))


def test_a_solution_cell_without_markers_stops_the_build(grading_tools):
    course = grading_tools["course"]
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("def f():\n    return 1", metadata={"tags": ["solution"]})
    ]
    with pytest.raises(course.student_edition.SolutionMarkerError, match="no"):
        course.source_notebook(nb, "broken.md")


def test_what_cannot_be_graded_is_named_before_any_code_runs(grading_tools):
    """Missing, not UTF-8, not JSON, and not a valid notebook each get a status of their own."""
    autograde = grading_tools["autograde"]
    good = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    invalid = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    invalid.cells[0]["execution_count"] = "one"  # JSON, a notebook's shape, but not valid
    old_with_ids = json.loads(nbformat.writes(good))
    old_with_ids["nbformat_minor"] = 4  # cell ids came with 4.5: a key 4.4 does not know
    handed_in = {
        "good.ipynb": nbformat.writes(good).encode(),
        "old.ipynb": json.dumps(old_with_ids).encode(),
        "latin.ipynb": nbformat.writes(good).replace("x = 1", "x = 'é'").encode("latin-1"),
        "script.ipynb": b"print('hello')\n",
        "invalid.ipynb": json.dumps(invalid).encode(),
    }
    assert autograde.read_code_cells(handed_in, "good.ipynb") == ["x = 1"]
    assert autograde.read_code_cells(handed_in, "old.ipynb") == ["x = 1"]
    for name, error in [
        ("latin.ipynb", "UnicodeDecodeError"),
        ("script.ipynb", "NotJSONError"),
        ("invalid.ipynb", "ValidationError"),
    ]:
        outcome = autograde.read_code_cells(handed_in, name)
        assert isinstance(outcome, autograde.Outcome), name
        assert re.fullmatch(rf"not a notebook \(\w*{error}\)", outcome.describe()), name
        assert outcome.log[0].startswith(f"{name} cannot be read: "), name  # for the teacher
    missing = autograde.read_code_cells(handed_in, "lesson.ipynb")
    assert missing.status == autograde.MISSING
    assert missing.describe().startswith("missing lesson.ipynb (found good.ipynb, invalid")


def test_a_worker_that_never_says_ready_is_stopped(grading_tools, tmp_path, monkeypatch):
    """No time left for the start-up handshake: the error comes, and no worker stays behind."""
    sandbox = grading_tools["sandbox"]
    _needs_sandbox(sandbox)
    sandbox.prepare(tmp_path, {}, {})
    started, popen = [], subprocess.Popen
    monkeypatch.setattr(
        sandbox.subprocess, "Popen", lambda *a, **k: started.append(popen(*a, **k)) or started[-1]
    )
    with pytest.raises(sandbox.SandboxError):
        sandbox.Worker(tmp_path, None, sandbox.Limits(total=0.0))
    [worker] = started
    assert worker.poll() is not None, "the worker is still running"


def test_a_graded_cell_without_a_verdict_earns_nothing(grading_tools):
    """nbgrader gives a graded cell its points unless it shows an error: ours fail closed."""
    autograde = grading_tools["autograde"]

    def graded_cell(source, grade_id):
        info = {"grade": True, "solution": False, "grade_id": grade_id, "points": 1}
        return nbformat.v4.new_code_cell(source, metadata={"nbgrader": info})

    release = nbformat.v4.new_notebook(
        cells=[graded_cell("checks.known(f)", "known"), graded_cell("checks.other(f, 2)", "other")]
    )
    outcome = autograde.Outcome(verdicts=[autograde.Verdict("known", 1, 1.0, "Right! Yes.")])
    graded = autograde.graded_notebook(release, outcome)
    outputs = {
        c.metadata["nbgrader"]["grade_id"]: [o.output_type for o in c.outputs]
        for c in graded.cells
        if c.cell_type == "code"
    }
    assert outputs == {"known": ["stream"], "other": ["error"]}


def test_nbgrader_is_configured_to_grade_in_the_sandbox(grading_course):
    """nbgrader's own autograde (and the formgrader) run the sandboxed grading, no kernel."""
    config = (grading_course / "nbgrader_config.py").read_text()
    assert '"autograde.SandboxedGrading"' in config
    assert "Execute" not in config.split("autograde_preprocessors")[1].split("]")[0]
    assert "transport" not in config


# --- the class ----------------------------------------------------------------------------------
def test_every_student_gets_a_status_and_a_log(graded, grading_tools):
    autograde = grading_tools["autograde"]
    assert set(graded["rows"]) == {*ROOT_STUDENTS, *USER_STUDENTS}
    for student, row in graded["rows"].items():
        record = graded["course"] / "grading" / graded["lesson"] / f"{student}.json"
        status = json.loads(record.read_text())["status"]
        assert status in autograde.STATUSES, (student, status)
        assert row[f"{graded['lesson']} status"].startswith(status)
        assert Path(row[f"{graded['lesson']} log"]).is_file(), student
    assert any("nbgrader's log" in line for line in graded["said"])
    # The teacher sees every student of the first run, the ungradable ones (a linked or
    # missing notebook) as well as those nbgrader graded.
    named = {line.split(" ", 1)[0] for line in graded["said"]}
    assert set(ROOT_STUDENTS) <= named, set(ROOT_STUDENTS) - named


def test_honest_work_gets_the_marks_its_functions_earn(graded):
    """Pasted check cells, a duplicated answer cell, the student edition, a fresh notebook,
    and a notebook with JupyterLab's checkpoint folder beside it."""
    for student in ("perfect", "pasted", "duplicated", "edition", "fresh", "checkpoints"):
        assert _status(graded, student) == "graded", student
        assert _scores(graded, student) == _full(graded), student
    assert _scores(graded, "blank") == [0.0] * len(graded["checks"])
    assert _scores(graded, "partly") == [1.0] + [0.0] * (len(graded["checks"]) - 1)
    assert float(graded["rows"]["perfect"]["total"]) == sum(_full(graded))


def test_the_four_cheats_earn_nothing_and_are_flagged(graded):
    """The verdicts are computed outside the student's kernel; each attempt is named."""
    for student in ("cheat-assign", "cheat-report", "cheat-redefine", "cheat-strict"):
        assert _scores(graded, student) == [0.0] * len(graded["checks"]), student
        assert _status(graded, student).startswith("tampering"), student
    assert "CHECKS_STRICT" in _status(graded, "cheat-strict")
    assert "checks.core" in _status(graded, "cheat-report")


def test_a_cell_over_time_or_a_dying_kernel_loses_only_its_exercise(graded):
    assert _status(graded, "endless").startswith("cell ran out of time at cell")
    assert _scores(graded, "endless") == [0.0] + _full(graded)[1:]
    assert _status(graded, "dies").startswith("kernel died at cell")
    assert _scores(graded, "dies") == _full(graded)


@pytest.mark.parametrize(
    "student, status",
    [("memory", "memory limit"), ("processes", "process limit"), ("disk", "disk limit")],
)
def test_limits_are_recorded(graded, student, status):
    """3 GiB of memory, 100 processes, 200 MiB written: each stops at its limit."""
    assert _status(graded, student).startswith(status), _status(graded, student)
    assert _scores(graded, student) == _full(graded)


def test_a_symlinked_notebook_is_not_followed(graded):
    """A link to the course's source (with the solutions) in place of the notebook."""
    status = _status(graded, "linked-notebook")
    assert status.startswith("missing") and "graded without" in status and "symlink" in status
    assert _scores(graded, "linked-notebook") == [0.0] * len(graded["checks"])
    copied = graded["course"] / "submitted" / "linked-notebook" / graded["lesson"]
    assert not any(p.is_symlink() for p in copied.rglob("*")) and not list(copied.iterdir())


def test_links_inside_a_folder_are_left_out(graded):
    status = _status(graded, "links-inside")
    assert "graded without gradebook.db (a symlink)" in status
    assert "graded without data (a symlink)" in status
    assert _scores(graded, "links-inside") == _full(graded)
    printed = _log(graded, "links-inside").splitlines()
    assert not any(line.startswith("LINK") for line in printed)
    assert "[FileNotFoundError: [Errno 2] No such file or directory: 'gradebook.db']" in printed
    copied = graded["course"] / "submitted" / "links-inside" / graded["lesson"]
    assert sorted(p.name for p in copied.iterdir()) == [f"{graded['lesson']}.ipynb"]


def test_not_a_notebook_and_a_renamed_one(graded):
    assert re.fullmatch(r"not a notebook \(\w+Error\)", _status(graded, "garbage"))
    assert f"{graded['lesson']}.ipynb cannot be read: " in _log(graded, "garbage")
    assert _status(graded, "renamed") == f"missing {graded['lesson']}.ipynb (found my-work.ipynb)"


def _probed(graded, student) -> dict:
    printed = _log(graded, student)
    found = {}
    for line in printed.splitlines():
        if line.startswith("PROBE "):
            words = line.split()
            verdict = next(w for w in words if w in ("allowed", "blocked"))
            found[" ".join(words[1 : words.index(verdict)])] = verdict
        elif line.startswith(("UID ", "HOME ")):
            found[line.split()[0]] = line
    return found


@pytest.mark.parametrize("student", ["probe-root", "probe-user"])
def test_the_sandbox_holds(graded, student):
    """Nothing of the teacher's, no network (Unix sockets too), no privileges."""
    probed = _probed(graded, student)
    for what, verdict in probed.items():
        if what in ("UID", "HOME"):
            continue
        expected = "allowed" if what == "write its own folder" else "blocked"
        assert verdict == expected, (student, what, verdict)
    assert set(probed) == PROBED, _log(graded, student)[-3000:]  # every probe reported
    assert probed["UID"] == f"UID {NOBODY} CAPEFF 0000000000000000"
    # The home folder shows at most the way to the Python installation.
    home, python = Path.home(), graded["python"]
    way = {p.relative_to(home).parts[0] for p in python if p.is_relative_to(home)}
    assert set(ast.literal_eval(probed["HOME"].removeprefix("HOME "))) <= way
    for server in graded["servers"]:
        with pytest.raises(BlockingIOError):
            server.accept()
    assert _scores(graded, student) == _full(graded)
    assert not (graded["course"] / "written-by-a-submission.txt").exists()


def test_grading_as_an_ordinary_user_adds_to_the_gradebook(graded):
    """The second run (as nobody) grades alike and keeps the first run's students and work."""
    assert graded["as_user"].returncode == 0, graded["as_user"].stderr[-2000:]
    assert _status(graded, "user-perfect") == "graded"
    assert _scores(graded, "user-perfect") == _full(graded)
    for student in ROOT_STUDENTS:
        assert graded["rows"][student] == graded["first"][student], student
        assert (graded["course"] / "submitted" / student).is_dir()


def test_nothing_outside_the_course_changes(graded):
    assert _snapshot(*graded["watched"]) == graded["before"]


# --- collecting ---------------------------------------------------------------------------------
def test_collection_layouts_that_are_refused(
    grading_tools, grading_course, grading_sample, tmp_path
):
    grade = grading_tools["grade"]
    lessons = list(grade.lessons_of(grading_course))
    lesson = grading_sample[0]
    with pytest.raises(FileNotFoundError, match="nox -s course"):
        grade.lessons_of(tmp_path)
    with pytest.raises(FileNotFoundError, match="no submissions folder"):
        grade.plan(tmp_path / "nowhere", lessons)
    cases = {
        "empty": (lambda f: None, "is empty"),
        "nested": (
            lambda f: (f / "submitted" / "ada" / lesson).mkdir(parents=True),
            "pass that folder",
        ),
        "underscore": (lambda f: (f / "_ada" / lesson).mkdir(parents=True), "would be skipped"),
        "dot": (lambda f: (f / ".ada" / lesson).mkdir(parents=True), "would be skipped"),
        "stray file": (lambda f: (f / "grades.zip").write_text("x"), "not a student folder"),
        "no lesson level": (
            lambda f: (
                (f / "ada" / "notebook.ipynb").parent.mkdir()
                or (f / "ada" / "notebook.ipynb").write_text("{}")
            ),
            "not a lesson",
        ),
    }
    for name, (make, message) in cases.items():
        folder = tmp_path / name.replace(" ", "-")
        folder.mkdir()
        make(folder)
        with pytest.raises(grade.LayoutError, match=message) as refused:
            grade.plan(folder, lessons)
        assert "<student>/<lesson>/<lesson>.ipynb" in str(refused.value), name


# --- what crosses the boundary ------------------------------------------------------------------
def _frames(message: bytes):
    """read_frame() over the frames of one packed message."""
    import struct

    position = 0

    def read_frame() -> bytes:
        nonlocal position
        (length,) = struct.unpack(">I", message[position : position + 4])
        position += 4 + length
        return message[position - length : position]

    return read_frame


def test_the_wire_carries_data_only(grading_tools):
    """Arrays, numbers, dtypes and containers cross; pickles and lying headers do not."""
    import io
    import struct

    import numpy as np
    import wire

    values = {"result": (np.arange(3.0), np.float64, np.dtype("uint8"), [2**70, "x", None])}
    back = wire.unpack_frames(_frames(wire.pack({"op": "called"}, values)))["values"]["result"]
    assert np.array_equal(back[0], np.arange(3.0)) and back[1:3] == (np.float64, np.uint8)
    assert back[3] == [2**70, "x", None]
    with pytest.raises(wire.WireError):
        wire.pack({}, {"result": object()})
    pickled = io.BytesIO()
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    lying = io.BytesIO()
    np.save(lying, np.zeros(2))
    lying = lying.getvalue().replace(b"(2,)", b"(9,)")
    for frame in (pickled.getvalue(), lying):
        header = json.dumps({"op": "called", "arrays": 1}).encode()
        message = b"".join(struct.pack(">I", len(f)) + f for f in (header, frame))
        with pytest.raises(wire.WireError):
            wire.unpack_frames(_frames(message))
