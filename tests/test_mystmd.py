"""The lessons in Jupyter Book 2 (mystmd), the toolchain that numpy/numpy-tutorials builds with.

``jupyter-book build --site --execute --strict`` runs on ``notebooks/myst.yml`` (the four
lessons) in a copy of the project, offline, as numpy-tutorials' CI builds (it executes every
lesson in a kernel of its own). It fails when

- mystmd reports any warning or error (from the lessons' MyST, from executing them, or from
  myst.yml), or the build stops for any other reason than the one an offline build must stop
  for: the site's theme (book-theme) is downloaded from mystmd.org, so offline the build ends
  after writing every page's content (the JSON tree the theme renders) into
  ``_build/site/content/``;
- a lesson's page is missing there;
- a cell tagged ``remove-cell`` is not removed on its page;
- a figure's output on the page does not carry its alt text where book-theme takes an output
  image's alt text from (the output's ``text/plain``; ``show_figure`` puts it there), or any
  image output carries none.

The build also runs the lessons under another BLAS configuration than nbval's run of them: one
thread and, on x86-64, another OpenBLAS kernel (Sandybridge, or Haswell where the environment
already asks for Sandybridge; OpenBLAS picks Haswell itself on AVX2 machines without AVX-512),
with the checks strict. Every assert and check must hold there too (issue 18): a failing one
stops the build with an error, which fails the first test. So lesson 4, whose float32 figures
depend on the kernel and the thread count, runs once here rather than in a test of its own.

The build needs Node.js (18 or newer) and the ``jupyter-book`` package (``nox -s tests``
installs it). Without them the test skips and says why; with ``REQUIRE_MYSTMD_TEST=1`` (set by
``.ci/run``, and by ``nox -s tests`` when node is installed) it fails instead.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import jupytext
import pytest
import student_edition
from figure_alt import figure_alt  # docs/_ext, on the path by tests/conftest.py

ROOT = Path(__file__).resolve().parent.parent

LESSONS = student_edition.lessons()
REQUIRED = os.environ.get("REQUIRE_MYSTMD_TEST", "") not in ("", "0")
# mystmd marks each warning and error with one of these.
WARNING_OR_ERROR = re.compile("\u26a0|\u26d4")
# Another BLAS configuration than nbval's run of the lessons (see above).
OTHER_BLAS = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
if platform.machine() in ("x86_64", "AMD64"):
    _FIRST = os.environ.get("OPENBLAS_CORETYPE", "").lower()
    OTHER_BLAS["OPENBLAS_CORETYPE"] = "Haswell" if _FIRST == "sandybridge" else "Sandybridge"
# What an offline build stops at: the query for the theme.
THEME_QUERY = (
    "Querying template metadata from https://api.mystmd.org/templates/site/myst/book-theme"
)


def skip_or_fail(reason: str):
    if REQUIRED:
        pytest.fail(f"mystmd test required (REQUIRE_MYSTMD_TEST=1): {reason}")
    pytest.skip(f"mystmd test skipped: {reason}")


def walk(node):
    """Every node of a mystmd tree, depth first."""
    yield node
    for child in node.get("children", []):
        yield from walk(child)


def code_cells(page: dict) -> list[dict]:
    """The notebook code cells (mystmd `block` nodes) of a page's tree, in order."""
    return [
        n
        for n in walk(page["mdast"])
        if n.get("type") == "block" and n.get("kind") == "notebook-code"
    ]


def cell_code(block: dict) -> str:
    return next((n.get("value", "") for n in block["children"] if n.get("type") == "code"), "")


def build_processes(session: int, folder: Path) -> dict[int, str]:
    """The live processes of the build (Linux: from /proc), and their commands: those of its
    session, and any other that works in its folder (a kernel runs in a session of its own)."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        proc = stat.parent
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
            cwd = Path(os.readlink(proc / "cwd"))
        except OSError:
            continue  # gone meanwhile, or not ours to read
        # After the command's name: state, parent, process group, session.
        if fields[0] != "Z" and (int(fields[3]) == session or cwd.is_relative_to(folder)):
            found[int(proc.name)] = command[:120]
    return found


def stop_build(session: int, folder: Path) -> list[str]:
    """Stop whatever of the build runs on (SIGTERM, then SIGKILL); what that was, by command.

    Linux only (it reads /proc); elsewhere it finds and stops nothing.
    """
    if not sys.platform.startswith("linux"):
        return []
    left = build_processes(session, folder)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in build_processes(session, folder):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + 10
        while build_processes(session, folder) and time.monotonic() < deadline:
            time.sleep(0.1)
    return sorted(left.values())


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    """Run the build in a copy of notebooks/ (myst.yml, the lessons and what they import); its
    log, its pages by lesson, and what it left running."""
    if not shutil.which("node"):
        skip_or_fail("Node.js is not installed (apt-get install nodejs)")
    jupyter_book = shutil.which("jupyter-book")
    if not jupyter_book:
        skip_or_fail("the jupyter-book package is not installed (`nox -s tests` installs it)")
    root = tmp_path_factory.mktemp("mystmd")
    # notebooks/ holds myst.yml, the lessons and what they import (mystmd runs each kernel in
    # its lesson's folder); not the .ipynb twins, nor a _build/ left by an earlier build.
    shutil.copytree(
        ROOT / "notebooks",
        root / "notebooks",
        ignore=shutil.ignore_patterns("*.ipynb", "_build", "__pycache__", ".ipynb_checkpoints"),
    )
    # mystmd would send the lessons to a Jupyter server named by the first two, which cannot
    # see the copy; the third is for JupyterLab (an HTML figure would hide the PNG's alt text).
    left_out = ("JUPYTER_BASE_URL", "JUPYTER_TOKEN", "MNIST_FIGURES_AS_HTML")
    outer = {k: v for k, v in os.environ.items() if k not in left_out}
    env = {
        **outer,
        # Offline on every machine: each request goes to a closed local port and fails at once.
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "localhost,127.0.0.1",  # but mystmd's own Jupyter server is reached
        "MNIST_CACHE": str(ROOT / "_data"),  # the data from the project's cache or mirrors
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        **OTHER_BLAS,
        "CHECKS_STRICT": "1",  # a failing check raises, as under nbval
    }
    start = time.perf_counter()
    # In a session of its own, so that whatever the build leaves running can be found and
    # stopped: mystmd 1.11 leaves the Jupyter server it started for --execute running after a
    # --site build (jupyter-book/mystmd#2170).
    build = subprocess.Popen(
        [jupyter_book, "build", "--site", "--execute", "--strict"],
        cwd=root / "notebooks",
        env=env,
        stdin=subprocess.DEVNULL,  # never wait for an answer (to "install Node.js?", say)
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    timed_out = False
    try:
        stdout, stderr = build.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        timed_out = True
        build.kill()
        stdout, stderr = build.communicate()
    finally:
        left_running = stop_build(build.pid, root)
    seconds = time.perf_counter() - start
    log = stdout + stderr
    if timed_out:
        pytest.fail(f"the build took over 600 s and was stopped; its log:\n{log}")
    print(
        f"jupyter-book build --site --execute --strict under {OTHER_BLAS}: "
        f"exit {build.returncode}, {seconds:.1f} s"
    )
    print(f"left running by the build, and stopped: {left_running or 'nothing'}")
    print(log)
    pages = {}
    for path in (root / "notebooks" / "_build" / "site" / "content").glob("*.json"):
        page = json.loads(path.read_text(encoding="utf-8"))
        pages[Path(page.get("location", "")).name] = page
    return {
        "returncode": build.returncode,
        "log": log,
        "pages": pages,
        "left_running": left_running,
        "running": build_processes(build.pid, root),
    }


def test_build_reports_no_warning_or_error(build):
    log = build["log"]
    reported = [line.strip() for line in log.splitlines() if WARNING_OR_ERROR.search(line)]
    assert reported == [], "mystmd reports:\n" + "\n".join(reported)
    assert f"Built {len(LESSONS)} pages" in log, log
    if build["returncode"] != 0:
        # The only acceptable stop: offline, the theme cannot be fetched (after every page).
        tail = log[log.find(THEME_QUERY) :]
        assert THEME_QUERY in log and "failed" in tail, log


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_build_leaves_nothing_running(build):
    """What the build leaves running is only the Jupyter server that mystmd 1.11 leaves
    (mystmd#2170), and once the fixture has stopped that, nothing runs on: not mystmd, not a
    server, not a kernel."""
    unexpected = [c for c in build["left_running"] if " -m jupyter_server " not in f" {c} "]
    assert unexpected == [], f"the build left these running: {unexpected}"
    assert build["running"] == {}, f"still running after the stop: {build['running']}"


def test_every_lesson_has_its_page(build):
    assert sorted(build["pages"]) == [lesson.name for lesson in LESSONS]


def test_ci_only_cells_are_removed(build, lesson):
    page = build["pages"].get(lesson.name)
    assert page is not None, f"no page for {lesson.name}"
    blocks = code_cells(page)
    cells = [c for c in jupytext.read(lesson).cells if c.cell_type == "code"]
    assert len(blocks) == len(cells), "mystmd found another number of code cells"
    for block, cell in zip(blocks, cells, strict=True):
        if "remove-cell" in cell.metadata.get("tags", []):
            assert block.get("visibility") == "remove", f"shown on the page: {cell.source[:60]!r}"
        else:
            assert block.get("visibility") != "remove", f"removed: {cell.source[:60]!r}"


def image_outputs(block: dict) -> list[dict]:
    """The outputs of a code cell's block that hold an image (mystmd's minified form)."""
    return [
        n["jupyter_data"]
        for n in walk(block)
        if n.get("type") == "output"
        and any(mime.startswith("image/") for mime in n.get("jupyter_data", {}).get("data", {}))
    ]


def test_figure_alt_text_reaches_the_page(build, lesson):
    """book-theme writes an output image's alt from its text/plain: each figure's alt is there."""
    cells = [c for c in jupytext.read(lesson).cells if c.cell_type == "code"]
    figures = 0
    for block, cell in zip(code_cells(build["pages"][lesson.name]), cells, strict=True):
        alt = figure_alt(cell.source)
        images = image_outputs(block)
        if alt:
            figures += 1
            assert len(images) == 1, f"{len(images)} images for the figure {alt[:50]!r}..."
        for image in images:
            text = (image["data"].get("text/plain") or {}).get("content", "")
            assert alt, f"an image from a cell without show_figure (its alt: {text[:60]!r})"
            assert text == alt, f"an image whose alt text would be {text[:60]!r}, not {alt[:60]!r}"
    assert figures > 0, f"{lesson.name} shows no figure with show_figure"
