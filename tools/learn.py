"""The learner's way in: make (or update) your own copy of the lessons, open it in JupyterLab.

    python tools/learn.py [JUPYTER LAB OPTIONS ...]

The README's first command ends with this. It

1. makes the workspace ``workspace/`` in the project folder (git ignores it) the first time:
   one notebook per lesson, the exercises blank; hints and solutions come only when you ask
   for them (the cell under each exercise). The modules the lessons import sit in the hidden
   folder ``workspace/.helpers/``;
2. on later runs (after a ``git pull``, say) brings in what changed in the lessons without
   touching your work: a lesson you have not touched is replaced by its new version, and a
   lesson you have touched stays as it is, with the new version beside it as
   ``NN-name (updated).ipynb``;
3. starts JupyterLab on the workspace with lesson 1 open. The lessons' kernels find the
   modules in ``.helpers/`` and share the project's data cache ``_data/``.

Options after the script's name go to ``jupyter lab`` (``--no-browser``, ``--port 8890``, ...).
``--workspace DIR`` uses another folder; ``--no-lab`` only makes or updates the workspace.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import student_edition  # noqa: E402  (a sibling script, not a package)

FIRST_LESSON = "01-load-the-mnist-dataset.ipynb"


def lab_environment(workspace: Path) -> dict[str, str]:
    """The environment of JupyterLab and its kernels: the helpers on the path, the cache."""
    env = dict(os.environ)
    helpers = str(workspace / student_edition.HELPERS)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [helpers, env.get("PYTHONPATH")]))
    env.setdefault("MNIST_CACHE", str(student_edition.ROOT / "_data"))
    # Figures also as HTML <img> with their alt text, which JupyterLab shows (mnist_lib.py).
    env.setdefault("MNIST_FIGURES_AS_HTML", "1")
    return env


def lab_command(workspace: Path, options: list[str]) -> list[str]:
    """``jupyter lab`` on the workspace, with lesson 1 open."""
    return [
        sys.executable,  # the Python of this environment, whose JupyterLab the README installs
        "-m",
        "jupyterlab",
        f"--ServerApp.root_dir={workspace}",
        *options,
        str(workspace / FIRST_LESSON),
    ]


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    workspace = student_edition.WORKSPACE
    if "--workspace" in args:
        at = args.index("--workspace")
        workspace = Path(args[at + 1]).resolve()
        del args[at : at + 2]
    lab = "--no-lab" not in args
    args = [arg for arg in args if arg != "--no-lab"]
    try:
        changes = student_edition.update_workspace(workspace)
    except student_edition.SolutionMarkerError as error:
        print(f"learn: the lessons could not be prepared: {error}", file=sys.stderr)
        return 1
    print(f"Your workspace: {workspace}")
    for change in changes or ["every lesson is up to date"]:
        print(f"  {change}")
    if not lab:
        return 0
    if importlib.util.find_spec("jupyterlab") is None:
        print(
            "learn: JupyterLab is not installed in this environment. Activate the project's "
            "environment (. .venv/bin/activate) or install it: pip install -r requirements.txt",
            file=sys.stderr,
        )
        return 1
    command = lab_command(workspace, args)
    print("Starting JupyterLab on it, with lesson 1 open (Ctrl+C stops it)")
    sys.stdout.flush()
    os.chdir(workspace)
    os.execvpe(command[0], command, lab_environment(workspace))
    return 1  # not reached


if __name__ == "__main__":
    sys.exit(main())
