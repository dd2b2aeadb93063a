"""A figure's alt text as the lessons write it: the ``alt`` of its ``show_figure`` call.

Each figure cell ends with ``mnist_lib.show_figure(fig, alt=...)`` (or ``show_figure``
imported from ``mnist_lib``), for example::

    fig, ax = plt.subplots(figsize=(4, 4))
    ax.imshow(mnist_image, cmap="gray")
    mnist_lib.show_figure(
        fig,
        alt=(
            "A handwritten digit 8 in white on a black 28 by 28 pixel grid, with a "
            "gray-scale colour bar from 0 to 255 beside it."
        ),
    )

That one form reaches every reader. When the cell runs, ``show_figure`` puts the alt text
into the figure's output, where Jupyter Book 2 (mystmd) and nbconvert find it. The Sphinx
site reads it here, from the code, because MyST-NB takes an image's alt text from the
cell's metadata only (``docs/_ext/lessons.py`` puts it there). So the alt text must be
a string literal, which this module checks; the whitespace is folded as ``show_figure``
folds it.

No Sphinx import here: the tests use it too.
"""

from __future__ import annotations

import ast

from IPython.core.inputtransformer2 import TransformerManager

NAME = "show_figure"


def _calls(source: str) -> list[ast.Call]:
    """The ``show_figure(...)`` calls of a code cell (IPython syntax allowed)."""
    tree = ast.parse(TransformerManager().transform_cell(source))
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and (
            (isinstance(node.func, ast.Name) and node.func.id == NAME)
            or (isinstance(node.func, ast.Attribute) and node.func.attr == NAME)
        )
    ]


def figure_alt(source: str) -> str:
    """The alt text that a code cell gives its figure, or '' if it calls no ``show_figure``.

    Raises ValueError, saying how to fix it, if the cell calls ``show_figure`` more than
    once or without an ``alt=`` string literal.
    """
    calls = _calls(source)
    if not calls:
        return ""
    first_line = source.strip().splitlines()[0][:60]
    if len(calls) > 1:
        raise ValueError(
            f"the cell starting {first_line!r} calls {NAME} {len(calls)} times: "
            "give each figure a cell of its own"
        )
    alt = next((k.value for k in calls[0].keywords if k.arg == "alt"), None)
    if not (isinstance(alt, ast.Constant) and isinstance(alt.value, str) and alt.value.strip()):
        raise ValueError(
            f"the cell starting {first_line!r} calls {NAME} without alt text written as a "
            f'string: write {NAME}(fig, alt="...") (the Sphinx site reads it from the code)'
        )
    return " ".join(alt.value.split())
