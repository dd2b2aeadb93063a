"""Write lesson 4's reusable code into an importable module, in the spirit of d2l's ``#@save``.

    python tools/export_library.py [--check]

Lesson 4 sets its defaults in a cell tagged ``parameters`` and defines its functions and
classes in cells tagged ``library``. This tool joins those cells, in order, into ``notebooks/lesson4_library.py``, so that the benchmark and the tests
import the lesson's own code instead of a copy. The module is committed; ``--check`` exits
with status 1 (and says how to fix it) when it no longer matches the lesson, and the tests
run that check.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jupytext

ROOT = Path(__file__).resolve().parent.parent
LESSON = ROOT / "notebooks" / "04-take-the-next-steps.md"
MODULE = ROOT / "notebooks" / "lesson4_library.py"
TAGS = ("parameters", "library")
HEADER = f'''"""Lesson 4's defaults and reusable code: its cells tagged `parameters` and `library`.

Generated from notebooks/{LESSON.name} by `nox -s library`; do not edit by hand.
Edit the lesson, then run `nox -s library` again.
"""

'''


def library_source(lesson: Path = LESSON) -> str:
    """The text of the module: the header, then every cell with one of TAGS, two lines apart."""
    cells = [
        cell.source.strip()
        for cell in jupytext.read(lesson).cells
        if cell.cell_type == "code" and set(TAGS) & set(cell.metadata.get("tags", []))
    ]
    if not cells:
        raise SystemExit(f"{lesson.name} has no cell tagged {TAGS}")
    return HEADER + "\n\n\n".join(cells) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only check that the module is fresh")
    args = parser.parse_args(argv)
    source = library_source()
    if args.check:
        if MODULE.exists() and MODULE.read_text() == source:
            return 0
        print(f"{MODULE.name} is stale: run `nox -s library`", file=sys.stderr)
        return 1
    MODULE.write_text(source)
    print(f"wrote {MODULE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
