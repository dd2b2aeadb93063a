"""Entry points for learners, teachers and maintainers.

    nox -s tests    unit tests, every notebook re-executed by nbval, pair checks,
                    and (with Debian's chromium installed) the site built and
                    checked page by page in a headless browser, and every lesson
                    run in JupyterLab in that browser; and (with Node.js installed) the
                    lessons built offline with Jupyter Book 2 (mystmd), numpy-tutorials' toolchain
    nox -s lab      JupyterLab on the authors' lessons (learners: python tools/learn.py)
    nox -s docs     build the site into build/site, running every lesson
    nox -s serve    serve build/site on http://127.0.0.1:8000
    nox -s sync     bring each .md/.ipynb pair in sync, strip outputs, rewrite the library
    nox -s student  the student edition into build/student (-- --without-solutions: none in it)
    nox -s library  lesson 4's parameters and library cells into notebooks/lesson4_library.py
    nox -s lint     ruff on the module, tests, wiring and notebooks
    nox -s bench    lesson 4's speed, load and memory figures (-- --torch: with PyTorch)
    nox -s course   the lessons as an nbgrader course (source and release) in build/course
    nox -s grade    autograde build/course/submitted (or the folder after --) in the
                    sandbox (needs bubblewrap): gradebook.csv, hints.csv, a log per student
    nox -s arm64    the lessons on ARM64 under QEMU in a Debian arm64 root (root needed;
                    slow, so not part of tests; -- --compare 3 diffs lesson 3's outputs)

Set MNIST_MIRRORS to a folder holding the four MNIST .gz files to work
offline; it is passed through to the notebooks.
"""

import os
import shutil
import sys
import time
from pathlib import Path

import nox

nox.options.sessions = ["tests"]
nox.options.reuse_existing_virtualenvs = True

ROOT = Path(__file__).resolve().parent
LESSONS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "notebooks").glob("[0-9][0-9]-*.md"))
TEST_TOOLS = ["pytest>=8", "pytest-xdist>=3.5", "nbval>=0.11", "ipykernel>=6.29", "papermill>=2.6"]
# Two test processes on two cores; a file stays in one process (a notebook's cells run in
# order, the JupyterLab tests share one server).
PARALLEL = ["-n", "2", "--dist", "loadfile"]
# Grading a class (tools/course.py, tools/grade.py): never in requirements.txt.
GRADING_TOOLS = ["nbgrader>=0.9.5", "ipykernel>=6.29"]
# The browser test drives Debian's chromium; Playwright's own browsers are never installed.
BROWSER_TEST_TOOLS = ["playwright>=1.44"]
SITE = "build/site"
BROWSER_SKIPPED = (
    "Browser test skipped: install Debian's chromium (apt-get install chromium) to run it"
)
# numpy-tutorials' toolchain, Jupyter Book 2 (mystmd, bundled; it runs on Node.js 18 or newer),
# pinned: tests/test_mystmd.py builds the lessons with it, offline (notebooks/myst.yml), executed.
MYSTMD_TOOLS = ["jupyter-book==2.1.7"]
MYSTMD_SKIPPED = "mystmd test skipped: install Node.js (apt-get install nodejs) to run it"


def _chromium() -> str | None:
    return (
        os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )


def _build_site(session: nox.Session, *options: str) -> None:
    """Run sphinx-build: every lesson is executed, warnings are errors (SITE_STRICT=0 relaxes)."""
    strict = [] if os.environ.get("SITE_STRICT") == "0" else ["-W", "--keep-going"]
    start = time.perf_counter()
    # -E: read every page afresh, so every lesson runs again (its outputs may depend on
    # mnist_lib.py or checks/, which Sphinx does not watch). -j auto: the lessons are read,
    # and so executed, side by side, one process per core (34 s instead of 46 s on 2 cores;
    # the pages were the same but for their build time and lesson 4's timings).
    command = ["sphinx-build", "-b", "html", "-E", "-j", "auto", "-d", "build/.doctrees"]
    session.run(*command, *strict, *options, "docs", SITE)
    session.log(f"Site built in {time.perf_counter() - start:.0f} s: {SITE}/index.html")


@nox.session
def tests(session: nox.Session) -> None:
    """Run the unit tests and every notebook under nbval; with chromium, build and browse the site."""
    session.install("-r", "requirements.txt", *TEST_TOOLS, *GRADING_TOOLS, *MYSTMD_TOOLS)
    env = {}
    if shutil.which("node"):
        env["REQUIRE_MYSTMD_TEST"] = "1"  # the Jupyter Book 2 build must run, not skip
    else:
        session.warn(MYSTMD_SKIPPED)
    if _chromium():
        session.install("-r", "docs/requirements.txt", *BROWSER_TEST_TOOLS)
        # The browser tests (the site, JupyterLab) must run, not skip.
        env["REQUIRE_BROWSER_TEST"] = "1"
        # Build the site unless the arguments select other tests only.
        selected = [arg for arg in session.posargs if not arg.startswith("-")]
        if not selected or any("test_site" in arg for arg in selected):
            _build_site(session)
    else:
        session.warn(BROWSER_SKIPPED)
    session.run("pytest", "-rs", *PARALLEL, *session.posargs, env=env)
    if not _chromium():
        session.warn(BROWSER_SKIPPED)


@nox.session
def lab(session: nox.Session) -> None:
    """Open the first lesson in JupyterLab."""
    session.install("-r", "requirements.txt")
    session.run("jupyter", "lab", "notebooks/01-load-the-mnist-dataset.ipynb", *session.posargs)


@nox.session
def docs(session: nox.Session) -> None:
    """Build the site into build/site, executing every lesson (sphinx-build options after --)."""
    session.install("-r", "requirements.txt", "-r", "docs/requirements.txt")
    _build_site(session, *session.posargs)


@nox.session(venv_backend="none")
def serve(session: nox.Session) -> None:
    """Serve build/site on 127.0.0.1 (port 8000, or the one given after --)."""
    if not (ROOT / SITE / "index.html").is_file():
        session.error(f"No site in {SITE}: run `nox -s docs` first.")
    port = session.posargs[0] if session.posargs else "8000"
    session.log(f"Serving {SITE} on http://127.0.0.1:{port}/ (Ctrl+C stops it)")
    session.run(
        sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "--directory", SITE, port
    )


@nox.session
def sync(session: nox.Session) -> None:
    """Propagate edits between each .md and its .ipynb, then strip outputs."""
    session.install("jupytext>=1.16")
    session.run("jupytext", "--sync", *LESSONS)
    # The .md is the source of truth: rewrite each .ipynb from it, without outputs, keeping
    # the ids of the cells that did not change (so the diff shows only what changed).
    session.run("python", "tools/keep_cell_ids.py", *LESSONS)
    # Leave each .md the newer file of its pair: Jupytext in JupyterLab refuses to open a
    # lesson whose .ipynb is newer than its .md when their texts differ in any detail.
    for lesson in LESSONS:
        (ROOT / lesson).touch()
    # Lesson 4's cells may have changed: rewrite the module the benchmark and tests import.
    session.run("python", "tools/export_library.py")


@nox.session
def student(session: nox.Session) -> None:
    """Write the student edition of the lessons (solutions replaced) into build/student."""
    session.install("jupytext>=1.16")
    session.run("python", "tools/student_edition.py", "--out", "build/student", *session.posargs)


@nox.session
def library(session: nox.Session) -> None:
    """Write lesson 4's cells tagged `parameters` and `library` into lesson4_library.py."""
    session.install("jupytext>=1.16")
    session.run("python", "tools/export_library.py", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """Check style and common mistakes with ruff."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", "--exclude", "*.ipynb", ".")


# Only the benchmark's side-by-side (`nox -s bench -- --torch`) installs PyTorch, never the
# tutorial. Pick a CPU build: on Linux, PyPI's default wheel pulls in CUDA (several GB); set
# PIP_INDEX_URL=https://download.pytorch.org/whl/cpu if your index has no CPU-only wheel.
TORCH = "torch==2.13.0"


@nox.session
def bench(session: nox.Session) -> None:
    """Print lesson 4's speed, load, recipe and memory figures (-- --torch: PyTorch beside it)."""
    session.install("-r", "requirements.txt")
    if "--torch" in session.posargs:
        session.install(TORCH)
    session.run("python", "benchmarks/benchmark.py", *session.posargs)


@nox.session
def course(session: nox.Session) -> None:
    """Write the lessons as an nbgrader course into build/course; nbgrader writes release/."""
    session.install("-r", "requirements.txt", *GRADING_TOOLS)
    session.run("python", "tools/course.py", "--out", "build/course", *session.posargs)


@nox.session
def grade(session: nox.Session) -> None:
    """Autograde a class in the sandbox (a folder after --: <student>/<lesson>/<lesson>.ipynb)."""
    session.install("-r", "requirements.txt", *GRADING_TOOLS)
    session.run("python", "tools/grade.py", "--course", "build/course", *session.posargs)


@nox.session
def arm64(session: nox.Session) -> None:
    """Run lessons 1-3 under nbval on ARM64 (QEMU user emulation, Debian arm64 root): slow."""
    if os.geteuid() != 0:
        session.error(
            "nox -s arm64 needs root (debootstrap, chroot, mount): run it as root, e.g. "
            "`sudo nox -s arm64`"
        )
    if "--compare" in session.posargs:
        # The comparison executes the lesson here too, with the same packages as the root.
        session.install("-r", "requirements.txt", "nbclient>=0.10")
    session.run("python", "tools/arm64.py", *session.posargs)
