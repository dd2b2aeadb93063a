"""Give the cells of freshly written .ipynb files back the ids they had before.

    python tools/keep_cell_ids.py LESSON.md ...

``nox -s sync`` writes each lesson's .ipynb from its .md (the source), without outputs, with
``jupytext --to ipynb``, which gives every cell a new random id: every sync would then change
every cell of every .ipynb. This tool runs that command itself, then puts back the previous
id of each cell whose type and source did not change (matched in order, as a diff would), so
that the .ipynb's diff shows just the cells that changed.
"""

from __future__ import annotations

import difflib
import subprocess
import sys
from pathlib import Path

import nbformat


def cell_keys(notebook):
    return [(cell.cell_type, cell.source) for cell in notebook.cells]


def copy_ids(old, new):
    """Set the id of each cell of `new` that matches a cell of `old` to that cell's id."""
    matcher = difflib.SequenceMatcher(a=cell_keys(old), b=cell_keys(new), autojunk=False)
    for block in matcher.get_matching_blocks():
        for i in range(block.size):
            new.cells[block.b + i].id = old.cells[block.a + i].id
    return new


def write(lessons):
    """Write each lesson's .ipynb from its .md with jupytext, keeping the unchanged cells' ids."""
    for lesson in map(Path, lessons):
        ipynb = lesson.with_suffix(".ipynb")
        old = nbformat.read(ipynb, as_version=4) if ipynb.exists() else None
        subprocess.run([sys.executable, "-m", "jupytext", "--to", "ipynb", str(lesson)], check=True)
        if old is not None:
            new = copy_ids(old, nbformat.read(ipynb, as_version=4))
            nbformat.write(new, ipynb)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__.split("\n\n")[1])
    write(sys.argv[1:])
