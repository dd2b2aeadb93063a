"""The learner's workspace (``tools/learn.py``, the README's first command).

It is made once from the lesson source, holds one notebook per lesson and nothing else in
sight, never overwrites a lesson the learner has touched (a changed lesson arrives beside
it), and its kernels import the helpers from the hidden ``.helpers/`` folder. A check whose
function needs a name that the kernel has forgotten (after a restart) says so.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import learn
import nbformat
import pytest
import student_edition

LESSONS = student_edition.lessons()


@pytest.fixture
def workspace(tmp_path) -> Path:
    folder = tmp_path / "workspace"
    said = student_edition.update_workspace(folder)
    assert said == [f"new: {md.stem}.ipynb" for md in LESSONS]
    return folder


def _visible(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


def _kernel_python(workspace: Path, code: str, **env) -> subprocess.CompletedProcess:
    """Run `code` as a lesson's kernel runs it: in the workspace, with learn.py's environment."""
    environment = learn.lab_environment(workspace)
    environment.pop("CHECKS_STRICT", None)
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=workspace,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_one_notebook_per_lesson_and_nothing_else_in_sight(workspace):
    assert _visible(workspace) == [f"{md.stem}.ipynb" for md in LESSONS]
    helpers = workspace / student_edition.HELPERS
    for name in student_edition.SUPPORT_FILES:
        assert (helpers / name).exists(), name
    assert (helpers / "checks" / student_edition.ANSWERS_FILE).is_file()
    for md in LESSONS:
        nb = nbformat.read(workspace / f"{md.stem}.ipynb", as_version=4)
        nbformat.validate(nb)
        assert not any(c.get("outputs") for c in nb.cells)
        assert student_edition.BEGIN not in "\n".join(c.source for c in nb.cells)


def test_a_second_run_changes_nothing(workspace):
    before = {p: p.read_bytes() for p in workspace.glob("*.ipynb")}
    assert student_edition.update_workspace(workspace) == []
    assert {p: p.read_bytes() for p in workspace.glob("*.ipynb")} == before


def _source_with_changed_lesson(tmp_path: Path, index: int) -> tuple[Path, Path]:
    """A copy of notebooks/ in which lesson `index` changed upstream (a new sentence)."""
    source = tmp_path / "upstream"
    shutil.copytree(student_edition.NOTEBOOKS, source, ignore=shutil.ignore_patterns("__pycache__"))
    md = sorted(source.glob("[0-9][0-9]-*.md"))[index]
    text = md.read_text(encoding="utf-8")
    md.write_text(text.replace("\n## ", "\nA sentence added upstream.\n\n## ", 1), "utf-8")
    return source, md


def test_a_touched_lesson_is_never_overwritten(workspace, tmp_path):
    """The learner's edits stay; the changed lesson arrives beside it, under a telling name."""
    mine = workspace / f"{LESSONS[0].stem}.ipynb"
    nb = nbformat.read(mine, as_version=4)
    nb.cells[-1].source += "\n\nMy own note."
    nbformat.write(nb, mine)
    touched = mine.read_bytes()
    untouched = workspace / f"{LESSONS[1].stem}.ipynb"

    source, _ = _source_with_changed_lesson(tmp_path, 0)
    said = student_edition.update_workspace(workspace, notebooks=source)
    assert mine.read_bytes() == touched
    beside = workspace / f"{LESSONS[0].stem} (updated).ipynb"
    assert said == [f"kept yours: {mine.name}; the new version is in {beside.name}"]
    assert "A sentence added upstream." in beside.read_text(encoding="utf-8")
    assert "A sentence added upstream." not in untouched.read_text(encoding="utf-8")

    # Again, with nothing new upstream: nothing moves, nothing more arrives.
    assert student_edition.update_workspace(workspace, notebooks=source) == []
    assert mine.read_bytes() == touched
    assert len(list(workspace.glob("*updated*"))) == 1


def test_an_untouched_lesson_follows_the_source(workspace, tmp_path):
    source, _ = _source_with_changed_lesson(tmp_path, 1)
    target = workspace / f"{LESSONS[1].stem}.ipynb"
    assert student_edition.update_workspace(workspace, notebooks=source) == [
        f"updated: {target.name}"
    ]
    assert "A sentence added upstream." in target.read_text(encoding="utf-8")
    assert not list(workspace.glob("*updated*"))


def test_a_deleted_lesson_comes_back(workspace):
    target = workspace / f"{LESSONS[2].stem}.ipynb"
    target.unlink()
    assert student_edition.update_workspace(workspace) == [f"new: {target.name}"]
    assert target.is_file()


def test_the_workspace_state_survives_a_broken_state_file(workspace):
    mine = workspace / f"{LESSONS[0].stem}.ipynb"
    mine.write_text(mine.read_text(encoding="utf-8").replace("MNIST", "MNIST!", 1), "utf-8")
    (workspace / student_edition.HELPERS / student_edition.STATE_FILE).write_text("{not json")
    touched = mine.read_bytes()
    student_edition.update_workspace(workspace)
    assert mine.read_bytes() == touched  # unknown history: the learner's file wins


def test_the_helpers_import_from_the_workspace(workspace):
    """A kernel started by learn.py imports the helpers; the cache is the project's."""
    done = _kernel_python(
        workspace,
        "import checks, draw, mnist_lib; print(checks.__file__); print(mnist_lib.CACHE_DIR)",
    )
    assert done.returncode == 0, done.stderr
    checks_file, cache = done.stdout.split()
    assert Path(checks_file).is_relative_to(workspace / student_edition.HELPERS)
    assert Path(cache) == student_edition.ROOT / "_data"


FORGOTTEN = """
import checks

def scale_symmetric(images):
    return images / 127.5 - {name}

checks.scale_symmetric(scale_symmetric)
"""


def test_a_restarted_kernel_gets_a_useful_message(workspace):
    """A name that a cell above defines, forgotten by the kernel: not the learner's fault."""
    done = _kernel_python(workspace, FORGOTTEN.format(name="x_train[0, 0] * 0 - 1"))
    printed = " ".join(done.stdout.split())
    assert printed.startswith("Hold on: "), printed
    assert "`x_train`" in printed and "Run > Run All Above Selected Cell" in printed
    assert "Not yet" not in printed
    # A name no cell defines is the learner's own slip: the usual hint.
    done = _kernel_python(workspace, FORGOTTEN.format(name="x_trian[0, 0] * 0 - 1"))
    printed = " ".join(done.stdout.split())
    assert printed.startswith("Not yet: your function raised NameError"), printed


def test_the_restart_message_looks_only_at_the_kernels_own_notebook(workspace):
    """In JupyterLab the kernel knows its notebook: a name only another lesson defines is
    the learner's slip there (lesson 3's `relu` in lesson 2), not a forgotten cell."""
    lesson_2 = {"JPY_SESSION_NAME": f"{LESSONS[1].stem}.ipynb"}
    done = _kernel_python(workspace, FORGOTTEN.format(name="relu(1)"), **lesson_2)
    assert "Not yet: your function raised NameError" in done.stdout, done.stdout
    done = _kernel_python(workspace, FORGOTTEN.format(name="x_train[0, 0] * 0 - 1"), **lesson_2)
    assert " ".join(done.stdout.split()).startswith("Hold on: "), done.stdout


def test_the_restart_message_fails_strict_runs(workspace):
    done = _kernel_python(
        workspace, FORGOTTEN.format(name="x_train[0, 0] * 0 - 1"), CHECKS_STRICT="1"
    )
    assert done.returncode != 0 and "AssertionError: Hold on:" in done.stderr


def test_learn_py_makes_the_workspace_and_the_command_of_jupyterlab(tmp_path):
    """What learn.py runs is checked on the running JupyterLab by tests/test_lab.py."""
    folder = tmp_path / "ws"
    done = subprocess.run(
        [sys.executable, str(Path(learn.__file__)), "--workspace", str(folder), "--no-lab"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert f"Your workspace: {folder}" in done.stdout
    assert _visible(folder) == [f"{md.stem}.ipynb" for md in LESSONS]
    command = learn.lab_command(folder, ["--no-browser"])
    assert command[:3] == [sys.executable, "-m", "jupyterlab"]
    assert command[-1] == str(folder / learn.FIRST_LESSON)
    assert (folder / learn.FIRST_LESSON).is_file()
    assert f"--ServerApp.root_dir={folder}" in command
    state = json.loads((folder / ".helpers" / "state.json").read_text())
    assert set(state["written"]) == {f"{md.stem}.ipynb" for md in LESSONS}
    env = learn.lab_environment(folder)
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(folder / ".helpers")
