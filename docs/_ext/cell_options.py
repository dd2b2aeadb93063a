"""Cell options written as ``#| key: value`` lines at the top of a code cell.

This is how the lessons give a figure its alt text, in the one form that both toolchains
parse: mystmd (Jupyter Book 2) lifts leading ``#| `` lines of a code cell into the cell's
data, and the Sphinx site reads them through ``lessons.py``, which uses this module. The
lines hold YAML, for example::

    #| alt: >-
    #|   A handwritten digit 8 in white on a black 28 by 28 pixel grid, with a gray-scale
    #|   colour bar from 0 to 255 beside it.
    mnist_image = x_train[59999].reshape(28, 28)

The header is read the way mystmd reads it: option lines and blank lines from the top,
up to the first other line, which starts the code.

No Sphinx import here: the tests use it too.
"""

from __future__ import annotations

import re

import yaml

OPTION_LINE = re.compile(r"^#\s?\| ")  # mystmd's CELL_OPTION_PREFIX


def split_cell_options(source: str) -> tuple[dict, str]:
    """The options of a code cell's ``#|`` header, and the code after the header.

    A cell without option lines comes back unchanged, with no options.
    """
    lines = source.split("\n")
    option_lines = []
    end = 0
    while end < len(lines) and (OPTION_LINE.match(lines[end]) or not lines[end].strip()):
        if OPTION_LINE.match(lines[end]):
            option_lines.append(OPTION_LINE.sub("", lines[end], count=1))
        end += 1
    if not option_lines:
        return {}, source
    options = yaml.safe_load("\n".join(option_lines))
    if not isinstance(options, dict):
        raise ValueError(f"the #| lines of a cell must hold YAML keys, not {options!r}")
    return options, "\n".join(lines[end:])


def alt_text(source: str) -> str:
    """The ``alt`` option of a code cell (its figure's alt text), or ''."""
    alt = split_cell_options(source)[0].get("alt", "")
    return alt.strip() if isinstance(alt, str) else ""
