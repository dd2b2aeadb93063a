"""Entry points for learners, teachers and maintainers.

    nox -s tests    unit tests, every notebook re-executed by nbval, pair checks
    nox -s lab      JupyterLab on the lessons
    nox -s sync     bring each .md/.ipynb pair in sync and strip outputs
    nox -s lint     ruff on the module, tests, wiring and notebooks
    nox -s bench    the speed and memory figures of lesson 4

Set MNIST_MIRRORS to a folder holding the four MNIST .gz files to work
offline; it is passed through to the notebooks.
"""

from pathlib import Path

import nox

nox.options.sessions = ["tests"]
nox.options.reuse_existing_virtualenvs = True

ROOT = Path(__file__).resolve().parent
LESSONS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "notebooks").glob("[0-9][0-9]-*.md"))
TEST_TOOLS = ["pytest>=8", "nbval>=0.11", "ipykernel>=6.29"]


@nox.session
def tests(session: nox.Session) -> None:
    """Run the unit tests and re-execute every notebook with nbval."""
    session.install("-r", "requirements.txt", *TEST_TOOLS)
    session.run("pytest", *session.posargs)


@nox.session
def lab(session: nox.Session) -> None:
    """Open the first lesson in JupyterLab."""
    session.install("-r", "requirements.txt")
    session.run("jupyter", "lab", "notebooks/01-load-the-mnist-dataset.ipynb", *session.posargs)


@nox.session
def sync(session: nox.Session) -> None:
    """Propagate edits between each .md and its .ipynb, then strip outputs."""
    session.install("jupytext>=1.16")
    session.run("jupytext", "--sync", *LESSONS)
    # The .md is the source of truth: rewrite each .ipynb from it, without outputs.
    session.run("jupytext", "--to", "ipynb", *LESSONS)


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
