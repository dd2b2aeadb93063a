"""Fixtures shared by the test files (each block says which tests use it)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parent.parent / "tools"


# --- test_grading.py: an nbgrader course built from the lessons -----------------------------
@pytest.fixture(scope="session")
def grading_tools():
    """The grading scripts (tools/course.py, grade.py, sandbox.py), imported; needs nbgrader."""
    pytest.importorskip("nbgrader", reason="nbgrader is installed by `nox -s tests`")
    sys.path.insert(0, str(TOOLS))
    return {name: importlib.import_module(name) for name in ("course", "grade", "sandbox")}


@pytest.fixture(scope="session")
def grading_course(grading_tools, tmp_path_factory):
    """A course folder with every lesson as a source assignment, released by nbgrader.

    Cells may run 6 s each while grading, so an endless loop ends quickly.
    """
    folder = tmp_path_factory.mktemp("course") / "course"
    grading_tools["course"].build(folder, timeout=6)
    return folder
