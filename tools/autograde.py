"""Grade one submission: its code runs in the sandbox, the checks run here.

This is the grader's trusted side. For one submitted notebook it

1. reads the handed-in folder as data: regular files only, opened without following
   links (symlinks, devices and pipes are left out, and the status says so);
2. scans the code cells for attempts to tamper with the checks (a static scan of the
   text: nothing of the submission runs here);
3. runs the code cells top to bottom in a sandboxed worker (``tools/sandbox.py``), where
   ``import checks`` finds a stub that decides nothing;
4. for every check of the lesson, ``checks.<name>(<function>)``, calls the course's real
   check in this process with a stand-in for the student's function: each call goes to
   the worker and comes back as data. The grade depends on what the function returned
   (and did to its inputs), never on what the submission printed or patched.

The checks are found by name in the course's source notebook, so a pasted check cell, a
duplicated answer cell, the student edition or a fresh notebook are graded alike.

``SandboxedGrading`` is the nbgrader preprocessor that does all this inside
``nbgrader autograde`` (configured by ``tools/course.py``), so nbgrader's own commands and
the formgrader grade exactly as ``tools/grade.py`` does.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import errno
import io
import json
import linecache
import os
import re
import stat
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sandbox  # noqa: E402  (a sibling module, not a package)

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
CHECK_CELL = re.compile(r"^\s*checks\.(\w+)\(\s*(\w+)\s*\)", re.MULTILINE)
#: The most a handed-in folder may hold (files beyond it are left out, and the status says so).
MAX_FILES, MAX_BYTES = 200, 50 * 2**20
#: How deep folders in a handed-in folder are read.
MAX_DEPTH = 10
#: How often a worker that died or hung is started again (skipping the cell that stopped it).
RESTARTS = 3

# The fixed list of statuses, from the most to the least serious.
MISSING = "missing"
NOT_A_NOTEBOOK = "not a notebook"
TAMPERING = "tampering"
TOTAL_TIME = "total time limit"
KERNEL_DIED = "kernel died"  # "kernel died at cell N"
MEMORY = "memory limit"
PROCESSES = "process limit"
DISK = "disk limit"
CELL_TIME = "cell ran out of time"
GRADED = "graded"
STATUSES = (
    MISSING,
    NOT_A_NOTEBOOK,
    TAMPERING,
    TOTAL_TIME,
    KERNEL_DIED,
    MEMORY,
    PROCESSES,
    DISK,
    CELL_TIME,
    GRADED,
)


@dataclass
class Check:
    """One check of the lesson, from the course's source notebook."""

    grade_id: str
    points: float
    name: str  # checks.<name>
    function: str  # the student's function it is given


@dataclass
class Verdict:
    grade_id: str
    points: float
    score: float
    text: str


@dataclass
class Outcome:
    """What grading one submission found; `status` is one of STATUSES."""

    status: str = GRADED
    detail: str = ""
    notes: list[str] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: The source of each top-level function the notebook defines (not kept in the status).
    written: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        head = f"{self.status} {self.detail}".strip()
        return "; ".join([head, *self.notes])

    def flag(self, status: str, detail: str = "") -> None:
        """Record an event; the most serious one becomes the status."""
        if STATUSES.index(status) < STATUSES.index(self.status):
            self.status, self.detail = status, detail
        elif status != self.status or detail != self.detail:
            note = f"{status} {detail}".strip()
            if note not in self.notes:
                self.notes.append(note)


# --- reading a handed-in folder as data --------------------------------------------------
def read_folder(path: Path) -> tuple[dict[str, bytes], list[str]]:
    """The regular files under `path` (relative name -> bytes), and what was left out.

    Every directory and file is opened relative to its parent with O_NOFOLLOW, so a link
    anywhere (the folder itself included) is never followed; links, devices, pipes and
    sockets are left out and named.
    """
    files: dict[str, bytes] = {}
    left_out: list[str] = []
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK
    try:
        top = os.open(path, flags | os.O_DIRECTORY)
    except OSError as error:
        kind = "a symlink" if path.is_symlink() else error.strerror
        return {}, [f"{path.name}/ ({kind})"]
    total = 0

    def walk(folder_fd: int, prefix: str) -> None:
        nonlocal total
        for name in sorted(os.listdir(folder_fd)):
            relative = f"{prefix}{name}"
            info = os.stat(name, dir_fd=folder_fd, follow_symlinks=False)
            if stat.S_ISDIR(info.st_mode):
                if relative.count("/") >= MAX_DEPTH:
                    left_out.append(f"{relative}/ (more than {MAX_DEPTH} folders deep)")
                    continue
                try:
                    child = os.open(name, flags | os.O_DIRECTORY, dir_fd=folder_fd)
                except OSError:
                    left_out.append(f"{relative}/ (unreadable)")
                    continue
                try:
                    walk(child, relative + "/")
                finally:
                    os.close(child)
                continue
            if not stat.S_ISREG(info.st_mode):
                kind = "a symlink" if stat.S_ISLNK(info.st_mode) else "not a regular file"
                left_out.append(f"{relative} ({kind})")
                continue
            if len(files) >= MAX_FILES or total + info.st_size > MAX_BYTES:
                left_out.append(f"{relative} (over {MAX_FILES} files or {MAX_BYTES} bytes)")
                continue
            fd = os.open(name, flags, dir_fd=folder_fd)
            try:
                if not stat.S_ISREG(os.fstat(fd).st_mode):  # replaced since the stat
                    left_out.append(f"{relative} (not a regular file)")
                    continue
                with os.fdopen(os.dup(fd), "rb") as file:
                    content = file.read(MAX_BYTES - total + 1)
            finally:
                os.close(fd)
            total += len(content)
            files[relative] = content

    try:
        walk(top, "")
    finally:
        os.close(top)
    return files, left_out


# --- the static scan for tampering -------------------------------------------------------
def _root_name(node) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _parse(source: str):
    """The syntax tree of a cell; IPython's magics and shell lines count as `pass`."""
    lines = [
        "pass" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()
    ]
    try:
        return ast.parse("\n".join(lines))
    except (SyntaxError, ValueError):
        return None


def tampering(sources: list[str]) -> list[str]:
    """What in the code cells reaches for the checks, the environment or the interpreter."""
    found: list[str] = []
    for number, source in enumerate(sources, 1):
        tree = _parse(source)
        if tree is None:
            continue
        for node in ast.walk(tree):
            what = None
            if isinstance(node, ast.Name) and node.id == "checks":
                if isinstance(node.ctx, (ast.Store, ast.Del)):
                    what = "assigns the name `checks`"
            elif isinstance(node, (ast.Attribute, ast.Subscript)):
                if isinstance(node.ctx, (ast.Store, ast.Del)) and _root_name(node) == "checks":
                    what = "changes something inside `checks`"
                elif isinstance(node, ast.Attribute) and node.attr == "core":
                    if _root_name(node) == "checks":
                        what = "reaches into `checks.core`"
                elif isinstance(node, ast.Attribute) and node.attr in ("modules", "environ"):
                    if _root_name(node) in ("sys", "os"):
                        what = f"uses `{_root_name(node)}.{node.attr}`"
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                if node.name == "checks":
                    what = "defines its own `checks`"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname == "checks" and alias.name != "checks":
                        what = f"imports {alias.name} as `checks`"
                    elif alias.name.startswith("checks.") or alias.name == "builtins":
                        what = f"imports {alias.name}"
            elif isinstance(node, ast.ImportFrom):
                module = node.module or ""
                if module.startswith("checks.") or module == "builtins":
                    what = f"imports from {module}"
                elif any(
                    alias.asname == "checks" or alias.name == "checks" for alias in node.names
                ):
                    what = "imports something as `checks`"
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                if node.func.id in ("setattr", "delattr") and node.args:
                    if _root_name(node.args[0]) == "checks":
                        what = f"calls {node.func.id} on `checks`"
                elif node.func.id in ("putenv",) or node.func.id == "__import__":
                    what = f"calls {node.func.id}"
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                if "CHECKS_STRICT" in node.value:
                    what = "names CHECKS_STRICT"
            if isinstance(node, ast.Name) and node.id in ("__builtins__", "builtins"):
                what = f"uses `{node.id}`"
            if what:
                line = getattr(node, "lineno", 0)
                found.append(f"code cell {number} line {line} {what}")
    return list(dict.fromkeys(found))


def function_sources(sources: list[str]) -> dict[str, str]:
    """The text of every top-level function of the code cells (the last definition wins)."""
    found: dict[str, str] = {}
    for source in sources:
        tree = _parse(source)
        if tree is None:
            continue
        lines = source.splitlines()
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                found[node.name] = "\n".join(lines[first - 1 : node.end_lineno]) + "\n"
    return found


# --- the checks, run here against a stand-in for the student's function ------------------
def course_checks(notebook) -> list[Check]:
    """The checks of a source (or release) notebook, from its graded check cells."""
    found = []
    for cell in notebook.cells:
        info = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or not info.get("grade"):
            continue
        call = CHECK_CELL.search(cell.source)
        if call:
            found.append(Check(info["grade_id"], float(info["points"]), *call.groups()))
    return found


def _real_checks():
    """The course's checks package, imported in this (the grader's) process."""
    if str(NOTEBOOKS) not in sys.path:
        sys.path.insert(0, str(NOTEBOOKS))
    import checks

    return checks


def _exception(error: dict) -> Exception:
    """A local exception like the one the student's function raised (built-in types only)."""
    kind = getattr(builtins, str(error.get("base") or error.get("type")), None)
    message = str(error.get("message", ""))[:2000]
    if error.get("type") != error.get("base") and error.get("base"):
        message = f"{str(error.get('type'))[:100]}: {message}"
    if isinstance(kind, type) and issubclass(kind, Exception):
        try:
            return kind(message)
        except TypeError:
            pass
    return RuntimeError(f"{str(error.get('type'))[:100]}: {message}")


class Session:
    """A submission's worker, started again (without the cell that stopped it) if need be."""

    def __init__(self, folder: Path, data: Path | None, limits, cells: list[str], outcome):
        self.folder, self.data, self.limits = folder, data, limits
        self.cells, self.outcome = cells, outcome
        self.skipped: set[int] = set()
        self.worker = None
        self.restarts = 0
        self.deadline = time.monotonic() + limits.total

    def _event(self, index: int | None, answer: dict) -> None:
        error = answer.get("error") or {}
        where = f"at cell {index + 1}" if index is not None else "in a check"
        code = error.get("errno")
        if answer.get("timed_out"):
            self.outcome.flag(CELL_TIME, where)
        elif error.get("type") == "MemoryError":
            self.outcome.flag(MEMORY, where)
        elif code == errno.EAGAIN or error.get("type") == "BlockingIOError":
            self.outcome.flag(PROCESSES, where)
        elif code in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
            self.outcome.flag(DISK, where)

    def _died(self, index: int | None, problem: sandbox.SandboxError) -> None:
        where = f"at cell {index + 1}" if index is not None else "in a check"
        if problem.kind == "total time":
            self.outcome.flag(TOTAL_TIME, where)
        elif problem.kind == "time":
            self.outcome.flag(CELL_TIME, where)
        else:
            self.outcome.flag(KERNEL_DIED, where)
        self.outcome.log.append(f"worker stopped {where}: {problem}")
        if index is not None:
            self.skipped.add(index)
        self.close()

    def start(self) -> bool:
        """A worker that has run every cell (but the skipped ones); False when out of tries."""
        if self.worker is not None:
            return True
        while self.restarts <= RESTARTS and time.monotonic() < self.deadline:
            self.restarts += 1
            left = sandbox.Limits(**{**asdict(self.limits), "total": self._left()})
            try:
                self.worker = sandbox.Worker(self.folder, self.data, left)
            except sandbox.SandboxError as problem:
                self._died(None, problem)
                return False
            for index, source in enumerate(self.cells):
                if index in self.skipped:
                    continue
                try:
                    answer = self.worker.run_cell(index, source)
                except sandbox.SandboxError as problem:
                    self._died(index, problem)
                    break
                if self.restarts == 1:
                    self._log_cell(index, answer)
                self._event(index, answer)
            else:
                return True
        return False

    def _left(self) -> float:
        return max(self.deadline - time.monotonic(), 1.0)

    def _log_cell(self, index: int, answer: dict) -> None:
        self.outcome.log.append(f"--- code cell {index + 1}")
        output = str(answer.get("output", ""))
        if output:
            self.outcome.log.append(output.rstrip())
        if answer.get("error"):
            error = answer["error"]
            self.outcome.log.append(f"[{error.get('type')}: {error.get('message')}]")

    def describe(self, name: str) -> dict | None:
        if not self.start():
            return None
        try:
            return self.worker.describe(name)
        except sandbox.SandboxError as problem:
            self._died(None, problem)
            return None

    def call(self, name: str, args, kwargs):
        if not self.start():
            raise RuntimeError("the notebook could not be run again to call your function")
        try:
            answer = self.worker.call(name, args, kwargs)
        except sandbox.SandboxError as problem:
            self._died(None, problem)
            if problem.kind in ("time", "total time"):
                raise TimeoutError(
                    f"your function ran longer than {self.limits.call:g} s"
                ) from None
            raise RuntimeError(
                f"the Python process running your function stopped ({problem})"
            ) from None
        self._event(None, answer)
        if answer.get("error"):
            raise _exception(answer["error"])
        values = answer.get("values", {})
        for given, after in zip(args, values.get("args", ()), strict=False):
            _write_back(given, after)
        for key, given in kwargs.items():
            _write_back(given, values.get("kwargs", {}).get(key))
        return values.get("result")

    def close(self) -> None:
        if self.worker is not None:
            self.worker.close()
            self.worker = None


def _write_back(given, after) -> None:
    """Make a change the student's function made to an argument visible here too."""
    try:
        if hasattr(given, "shape") and hasattr(after, "shape") and given.shape == after.shape:
            given[...] = after
        elif isinstance(given, list) and isinstance(after, list):
            given[:] = after
    except (TypeError, ValueError):
        pass


def stand_in(session: Session, name: str, source: str | None):
    """A function named `name` that forwards its calls to the worker.

    Its source text (what the checks inspect for loops and names) is the student's, put
    into linecache under a name of its own, so `inspect.getsource` finds it.
    """

    def forward(*args, **kwargs):
        return session.call(name, args, kwargs)

    filename = f"<submitted {name} {uuid.uuid4().hex}>"
    forward.__code__ = forward.__code__.replace(co_filename=filename, co_firstlineno=1)
    forward.__name__ = forward.__qualname__ = name
    if source:
        lines = source.splitlines(keepends=True)
        linecache.cache[filename] = (len(source), None, lines, filename)
    return forward


def _run_check(check: Check, function) -> tuple[bool, str]:
    """Run the course's real check on `function`; its verdict and what it printed."""
    checks = _real_checks()
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            verdict = getattr(checks, check.name)(function)
        passed = bool(verdict) and getattr(verdict, "passed", True) is True
    except Exception as error:  # CHECKS_STRICT=1 in the grader's environment, or a bug
        passed = False
        printed.write(f"{type(error).__name__}: {error}\n")
    lines = [line for line in printed.getvalue().splitlines() if line.strip()]
    said = next((line for line in lines if line.startswith(("Right!", "Not yet:"))), None)
    return passed, (said or (lines[-1] if lines else ""))[:500]


def left_out_notes(left_out) -> list[str]:
    """The status notes for the files that were left out of a handed-in folder."""
    return [f"graded without {item}" for item in left_out]


def read_code_cells(handed_in: dict[str, bytes], notebook_name: str) -> list[str] | Outcome:
    """The code cells of the handed-in notebook, read as data; or, when it is missing or is
    not a valid notebook, an Outcome that says so."""
    raw = handed_in.get(notebook_name)
    if raw is None:
        others = sorted(name for name in handed_in if name.endswith(".ipynb"))
        found = f" (found {', '.join(others)})" if others else ""
        return Outcome(status=MISSING, detail=notebook_name + found)
    try:
        notebook = nbformat.reads(raw.decode("utf-8"), as_version=4)
        # Keys the schema does not know (cell ids in a 4.4 notebook, say) harm nothing here.
        nbformat.validate(notebook, relax_add_props=True)
        cells = [c.source for c in notebook.cells if c.cell_type == "code"]
        if not all(isinstance(source, str) for source in cells):
            raise ValueError("a code cell without text")
    except Exception as error:  # not UTF-8, not JSON, not a notebook, an invalid one
        outcome = Outcome(status=NOT_A_NOTEBOOK, detail=f"({type(error).__name__})")
        outcome.log.append(f"{notebook_name} cannot be read: {str(error)[:300]}")
        return outcome
    return cells


def grade(
    handed_in: dict[str, bytes],
    notebook_name: str,
    checks: list[Check],
    support: dict[str, bytes],
    data: Path | None,
    limits: sandbox.Limits,
    left_out: list[str] = (),
) -> Outcome:
    """Grade one handed-in folder (read as data) against the lesson's checks."""
    start = time.monotonic()
    cells = read_code_cells(handed_in, notebook_name)
    outcome = cells if isinstance(cells, Outcome) else Outcome()
    outcome.notes += left_out_notes(left_out)
    verdicts = {check.grade_id: Verdict(check.grade_id, check.points, 0.0, "") for check in checks}
    outcome.verdicts = list(verdicts.values())
    if isinstance(cells, Outcome):
        return outcome
    for finding in tampering(cells):
        outcome.flag(TAMPERING, "")
        outcome.log.append(f"tampering: {finding}")
        outcome.notes.append(finding)
    written = outcome.written = function_sources(cells)
    with tempfile.TemporaryDirectory(prefix="grading-") as scratch:
        folder = Path(scratch)
        sandbox.prepare(folder, handed_in, support)
        session = Session(folder, data, limits, cells, outcome)
        try:
            session.start()  # every cell runs, checks or none
            for check in checks:
                found = session.describe(check.function)
                if found is None:
                    text = "Not yet: the notebook stopped before this check could run."
                elif not found.get("defined"):
                    text = f"Not yet: NameError: `{check.function}` is not defined when the notebook runs top to bottom."
                elif not found.get("callable"):
                    text = f"Not yet: `{check.function}` is not a function."
                else:
                    source = written.get(check.function) or found.get("source")
                    function = stand_in(session, check.function, source)
                    passed, text = _run_check(check, function)
                    if passed:
                        verdicts[check.grade_id].score = check.points
                verdicts[check.grade_id].text = text
                outcome.log.append(f"check {check.grade_id}: {text}")
        finally:
            session.close()
    outcome.seconds = time.monotonic() - start
    return outcome


# --- inside nbgrader ---------------------------------------------------------------------
def _support_files(release_folder: Path) -> dict[str, bytes]:
    """The lesson's modules from the course's release folder (what students were given)."""
    files, _ = read_folder(release_folder)
    return {name: content for name, content in files.items() if re.fullmatch(r"\w+\.py", name)}


def graded_notebook(release, outcome: Outcome):
    """The release notebook with the student's functions and the checks' verdicts.

    nbgrader's SaveAutoGrades then scores each check cell: points when it has no error
    output, none when it has one. A graded cell with no verdict of ours gets an error too,
    so that a check the grader did not recognise can never give points away.
    """
    graded = nbformat.reads(nbformat.writes(release), as_version=4)
    verdicts = {v.grade_id: v for v in outcome.verdicts}
    for cell in graded.cells:
        info = cell.metadata.get("nbgrader", {})
        grade_id = info.get("grade_id", "")
        if cell.cell_type == "code" and info.get("solution"):
            name = grade_id.removeprefix("answer-")
            if name in outcome.written:
                cell.source = outcome.written[name].rstrip("\n")
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        if grade_id in verdicts and cell.cell_type == "code":
            verdict = verdicts[grade_id]
            text = verdict.text or "Not yet: no verdict"
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text + "\n")]
            if verdict.score < verdict.points:
                cell.outputs.append(
                    nbformat.v4.new_output("error", ename="NotYet", evalue=text, traceback=[text])
                )
        elif cell.cell_type == "code" and info.get("grade") and not info.get("solution"):
            text = "Not yet: the grader found no check it knows in this cell."
            cell.outputs = [
                nbformat.v4.new_output("error", ename="NoVerdict", evalue=text, traceback=[text])
            ]
    summary = f"**Graded in the sandbox:** {outcome.describe()}"
    graded.cells.insert(0, nbformat.v4.new_markdown_cell(summary))
    return graded


def status_folder(course_root: Path, lesson: str) -> Path:
    return course_root / "grading" / lesson


def write_status(
    course_root: Path, lesson: str, student: str, outcome: Outcome, run: str = ""
) -> Path:
    """Write the student's status (JSON) and log into the course's grading/<lesson>/ folder.

    `run` names the grading run (tools/grade.py passes it to nbgrader as GRADING_RUN)."""
    folder = status_folder(course_root, lesson)
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / f"{student}.log"
    lines = [f"{student} {lesson}: {outcome.describe()} ({outcome.seconds:.1f} s)", *outcome.log]
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    record = asdict(outcome)
    record.pop("log")
    record.pop("written")
    record.update(run=run, log=str(log), student=student)
    record["describe"] = outcome.describe()
    (folder / f"{student}.json").write_text(json.dumps(record, indent=1), encoding="utf-8")
    return log


try:
    from nbconvert.preprocessors import Preprocessor
    from traitlets import Bool, Float, Integer
except ImportError:  # grading tools not installed: tools/grade.py says what to install
    Preprocessor = object
else:

    class SandboxedGrading(Preprocessor):
        """nbgrader's autograde step, with the submission's code in the sandbox.

        Replaces nbgrader's sanitizing steps and its Execute step: the submission is read
        again from the submitted folder as data, graded by `grade`, and replaced by the
        release notebook holding the student's functions and the checks' verdicts.
        """

        enabled = Bool(True).tag(config=True)  # nbconvert's preprocessors are off by default
        _default = sandbox.Limits()
        cell_timeout = Float(_default.cell, help="seconds per cell").tag(config=True)
        call_timeout = Float(_default.call, help="seconds per call").tag(config=True)
        total_timeout = Float(_default.total, help="seconds per submission").tag(config=True)
        memory = Integer(_default.memory, help="bytes of address space").tag(config=True)
        processes = Integer(_default.processes, help="processes").tag(config=True)
        disk = Integer(_default.disk, help="bytes written").tag(config=True)

        def preprocess(self, nb, resources):
            from nbgrader.coursedir import CourseDirectory

            info = resources["nbgrader"]
            student, lesson, name = info["student"], info["assignment"], info["notebook"]
            course = CourseDirectory(config=self.config)
            root = Path(course.root).resolve()
            release = Path(course.format_path(course.release_directory, ".", lesson))
            submitted = Path(course.format_path(course.submitted_directory, student, lesson))
            release_nb = nbformat.read(release / f"{name}.ipynb", as_version=4)
            limits = sandbox.Limits(
                memory=self.memory,
                processes=self.processes,
                disk=self.disk,
                cell=self.cell_timeout,
                call=self.call_timeout,
                total=self.total_timeout,
            )
            handed_in, left_out = read_folder(submitted)
            data = root / "_data"
            outcome = grade(
                handed_in,
                f"{name}.ipynb",
                course_checks(release_nb),
                _support_files(release),
                data if data.is_dir() and not data.is_symlink() else None,
                limits,
                left_out,
            )
            write_status(root, lesson, student, outcome, os.environ.get("GRADING_RUN", ""))
            self.log.info("%s %s: %s", student, lesson, outcome.describe())
            return graded_notebook(release_nb, outcome), resources
