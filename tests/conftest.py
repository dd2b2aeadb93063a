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
@pytest.fixture(scope="session")
def grading_tools():
    """The grading scripts (tools/course.py, grade.py, sandbox.py), imported; needs nbgrader."""
    pytest.importorskip("nbgrader", reason="nbgrader is installed by `nox -s tests`")
    return {name: importlib.import_module(name) for name in ("course", "grade", "sandbox")}


@pytest.fixture(scope="session")
def grading_course(grading_tools, tmp_path_factory):
    """A course folder with every lesson as a source assignment, released by nbgrader.

    Cells may run 6 s each while grading, so an endless loop ends quickly.
    """
    folder = tmp_path_factory.mktemp("course") / "course"
    grading_tools["course"].build(folder, timeout=6)
    return folder
