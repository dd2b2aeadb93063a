"""Fixtures shared by the test files in this folder (each block says which tests use it).

Browser tests (``test_site.py``, ``test_lab.py``) drive Debian's ``chromium`` with Playwright;
no browser is ever downloaded. The ``chromium`` fixture launches it once per test file, and closes it after.
A missing piece (chromium, or the Playwright package) skips those tests and says why; with
``REQUIRE_BROWSER_TEST=1`` (set by ``.ci/run``, and by ``nox -s tests`` when chromium is
installed) it fails them instead.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import shutil
import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parent.parent / "tools"
sys.path.insert(0, str(TOOLS))  # the maintainers' tools, importable by the tests
# The site's extensions too (figure_alt, lessons), which read the lessons as the site does.
sys.path.insert(0, str(TOOLS.parent / "docs" / "_ext"))

import student_edition  # noqa: E402  (needs TOOLS on the path)


# --- every test file: `lesson`, one parameter per lesson source -----------------------------
def pytest_generate_tests(metafunc):
    """A test that takes `lesson` runs once per lesson (its MyST source), named by its stem."""
    if "lesson" in metafunc.fixturenames:
        lessons = student_edition.lessons()
        metafunc.parametrize("lesson", lessons, ids=[path.stem for path in lessons])


# --- notebook runs (test_student_edition.py, test_parameters.py) -----------------------------
@pytest.fixture(scope="session")
def current_env_kernel_manager():
    """A kernel manager class that starts kernels with this Python, like --nbval-current-env."""
    from ipykernel.kernelspec import RESOURCES, get_kernel_dict
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class CurrentEnvKernelSpecs(KernelSpecManager):
        def get_kernel_spec(self, kernel_name):
            return self.kernel_spec_class(resource_dir=RESOURCES, **get_kernel_dict())

    class CurrentEnvKernelManager(AsyncKernelManager):
        @default("kernel_spec_manager")
        def _kernel_spec_manager_default(self):
            return CurrentEnvKernelSpecs(data_dir=self.data_dir)

    return CurrentEnvKernelManager


@pytest.fixture(scope="session")
def outputs_text():
    """outputs_text(cell): the text a notebook cell printed, returned or raised."""

    def text(cell) -> str:
        parts = []
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                parts.append(output.get("text", ""))
            elif "data" in output:
                parts.append(output["data"].get("text/plain", ""))
            elif output.get("output_type") == "error":
                parts.append("\n".join(output.get("traceback", [])))
        return "".join(parts)

    return text


BROWSER_MISSING = (
    "Browser test skipped: install Debian's chromium (apt-get install chromium) to run it"
)
PLAYWRIGHT_MISSING = (
    "Browser test skipped: the Playwright Python package is missing "
    "(pip install playwright; do NOT run `playwright install`, the test uses Debian's chromium)"
)
BROWSER_REQUIRED = os.environ.get("REQUIRE_BROWSER_TEST", "") not in ("", "0")

# Headless, offline, and quiet: no sandbox (containers), no GPU, no calls home.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    """Debian's chromium ($CHROMIUM overrides), or None."""
    return (
        os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )


def skip_browser_test(reason: str):
    """Skip a browser test, or fail it when REQUIRE_BROWSER_TEST=1."""
    if BROWSER_REQUIRED:
        pytest.fail(
            reason.replace("Browser test skipped", "Browser test required (REQUIRE_BROWSER_TEST=1)")
        )
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser_skip():
    """The function that skips a browser test (or fails it when the test is required)."""
    return skip_browser_test


@pytest.fixture(scope="module")
def chromium():
    """Debian's chromium, launched headless through Playwright, for one test file."""
    executable = chromium_path()
    if not executable:
        skip_browser_test(BROWSER_MISSING)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_browser_test(PLAYWRIGHT_MISSING)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # the base class's signature
        pass


@contextlib.contextmanager
def serve_folder(folder):
    """Serve `folder` over HTTP on a free port of 127.0.0.1; yields the base URL."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="session")
def folder_server():
    """The context manager that serves a folder on 127.0.0.1 (see serve_folder)."""
    return serve_folder


# --- test_grading.py: an nbgrader course built from the lessons -----------------------------
#: A lesson made for the grading tests: two checked exercises, no data to load, so a class of
#: submissions is graded in about a second each.
GRADING_SAMPLE = """\
---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
    format_version: 0.13
kernelspec:
  name: python3
  display_name: Python 3 (ipykernel)
  language: python
---

# A lesson made for the grading tests

```{code-cell} ipython3
import numpy as np
```

```{code-cell} ipython3
import checks
```

```{code-cell} ipython3
:tags: [solution]

def scale_symmetric(images):
    \"\"\"Map uint8 pixels linearly from [0, 255] to float64 values in [-1, 1].\"\"\"
    ### BEGIN SOLUTION
    return images / 127.5 - 1
    ### END SOLUTION
```

```{code-cell} ipython3
checks.scale_symmetric(scale_symmetric)
```

```{code-cell} ipython3
:tags: [solution]

def bytes_needed(shape, dtype):
    \"\"\"The number of bytes an array of this shape and data type takes.\"\"\"
    ### BEGIN SOLUTION
    return int(np.prod(shape, dtype=object)) * np.dtype(dtype).itemsize
    ### END SOLUTION
```

```{code-cell} ipython3
checks.bytes_needed(bytes_needed)
```
"""
GRADING_SAMPLE_NAME = "00-grading-sample"


@pytest.fixture(scope="session")
def grading_tools():
    """The grading scripts (tools/course.py, grade.py, sandbox.py, autograde.py); needs nbgrader."""
    pytest.importorskip("nbgrader", reason="nbgrader is installed by `nox -s tests`")
    names = ("course", "grade", "sandbox", "autograde")
    return {name: importlib.import_module(name) for name in names}


@pytest.fixture(scope="session")
def grading_course(grading_tools, tmp_path_factory):
    """A course folder with every lesson, and the grading tests' own lesson, released by nbgrader.

    Cells may run 3 s each while grading, so an endless loop ends quickly. One nbgrader run
    writes every lesson.
    """
    lessons = tmp_path_factory.mktemp("sample-lesson")
    sample = lessons / f"{GRADING_SAMPLE_NAME}.md"
    sample.write_text(GRADING_SAMPLE, encoding="utf-8")
    folder = tmp_path_factory.mktemp("course") / "course"
    every = [*student_edition.lessons(), sample]
    grading_tools["course"].build(folder, timeout=3, lessons=every)
    return folder


@pytest.fixture(scope="session")
def grading_sample():
    """The name and MyST text of the grading tests' own lesson."""
    return GRADING_SAMPLE_NAME, GRADING_SAMPLE
