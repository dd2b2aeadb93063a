"""Entry points for learners, teachers and maintainers.

    nox -s tests    unit tests, every notebook re-executed by nbval, pair checks,
                    and (with Debian's chromium installed) the site built and
                    checked page by page in a headless browser, and every lesson
                    run in JupyterLab in that browser
    nox -s lab      JupyterLab on the lessons
    nox -s docs     build the site into build/site, running every lesson
    nox -s serve    serve build/site on http://127.0.0.1:8000
    nox -s sync     bring each .md/.ipynb pair in sync and strip outputs
    nox -s student  the student edition (no solutions) into build/student
    nox -s lint     ruff on the module, tests, wiring and notebooks
    nox -s bench    the speed and memory figures of lesson 4

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
TEST_TOOLS = ["pytest>=8", "nbval>=0.11", "ipykernel>=6.29", "papermill>=2.6"]
# The browser test drives Debian's chromium; Playwright's own browsers are never installed.
BROWSER_TEST_TOOLS = ["playwright>=1.44"]
SITE = "build/site"
BROWSER_SKIPPED = (
    "Browser test skipped: install Debian's chromium (apt-get install chromium) to run it"
)


def _chromium() -> str | None:
    return (
        os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )


def _build_site(session: nox.Session, *options: str) -> None:
    """Run sphinx-build: every lesson is executed, warnings are errors (SITE_STRICT=0 relaxes)."""
    strict = [] if os.environ.get("SITE_STRICT") == "0" else ["-W", "--keep-going"]
    start = time.perf_counter()
    # -E: read every page afresh, so every lesson runs again (its outputs may depend on
    # mnist_lib.py or checks.py, which Sphinx does not watch).
    session.run(
        "sphinx-build", "-b", "html", "-E", "-d", "build/.doctrees", *strict, *options, "docs", SITE
    )
    session.log(f"Site built in {time.perf_counter() - start:.0f} s: {SITE}/index.html")


@nox.session
def tests(session: nox.Session) -> None:
    """Run the unit tests and every notebook under nbval; with chromium, build and browse the site."""
    session.install("-r", "requirements.txt", *TEST_TOOLS)
    env = {}
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
    session.run("pytest", "-rs", *session.posargs, env=env)
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
    # The .md is the source of truth: rewrite each .ipynb from it, without outputs.
    session.run("jupytext", "--to", "ipynb", *LESSONS)


@nox.session
def student(session: nox.Session) -> None:
    """Write the student edition of the lessons (solutions replaced) into build/student."""
    session.install("jupytext>=1.16")
    session.run("python", "tools/student_edition.py", "--out", "build/student", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """Check style and common mistakes with ruff."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", "--exclude", "*.ipynb", ".")


@nox.session
def bench(session: nox.Session) -> None:
    """Print the speed and memory figures of lesson 4 for this machine."""
    session.install("-r", "requirements.txt", "threadpoolctl")
    session.run("python", "benchmarks/benchmark.py", *session.posargs)
