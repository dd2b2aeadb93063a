"""Checks of the notebook files themselves (nbval executes them separately).

- every MyST ``.md`` has its ``.ipynb`` twin and the two hold the same cells;
- committed ``.ipynb`` files carry no outputs or execution counts;
- every cell that draws a figure shows it with ``show_figure`` and alt text written as a string;
- every lesson has exactly one cell tagged ``parameters``.
"""

import re
from pathlib import Path

import jupytext
import pytest
import student_edition
from figure_alt import figure_alt  # docs/_ext, on the path by tests/conftest.py

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
# Metadata that Jupyter front ends add on their own and that need not be in the .md.
VOLATILE_METADATA = {"execution", "collapsed", "scrolled", "jp-MarkdownHeadingCollapsed"}
DRAWS_A_FIGURE = re.compile(r"\bplt\.|\.imshow\(|\.plot\(|\.bar\(|\.matshow\(")


def _cells(nb):
    return [
        (
            cell.cell_type,
            cell.source.strip(),
            {k: v for k, v in cell.metadata.items() if k not in VOLATILE_METADATA},
        )
        for cell in nb.cells
    ]


def test_every_ipynb_has_a_markdown_source():
    lonely = [p.name for p in NOTEBOOKS.glob("*.ipynb") if not p.with_suffix(".md").exists()]
    assert lonely == []


def test_pair_is_in_sync(lesson):
    ipynb = lesson.with_suffix(".ipynb")
    assert ipynb.exists(), f"{ipynb.name} is missing: run `nox -s sync`"
    from_md, from_ipynb = _cells(jupytext.read(lesson)), _cells(jupytext.read(ipynb))
    assert len(from_md) == len(from_ipynb), "different number of cells: run `nox -s sync`"
    for index, (a, b) in enumerate(zip(from_md, from_ipynb, strict=True)):
        assert a == b, (
            f"cell {index} differs between {lesson.name} and {ipynb.name}: run `nox -s sync`"
        )


def test_committed_notebook_has_no_outputs(lesson):
    nb = jupytext.read(lesson.with_suffix(".ipynb"))
    dirty = [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count)
    ]
    assert dirty == [], f"cells {dirty} carry outputs: run `nox -s sync` to strip them"


def test_every_figure_has_alt_text(lesson):
    """Each figure is shown by ``show_figure(fig, alt="...")``, the one form every site reads.

    MyST-NB reads the alt text from the code (docs/_ext/figure_alt.py), mystmd and nbconvert
    from the output that show_figure writes; a bare ``plt.show()`` would give them nothing.
    """
    cells = [c for c in jupytext.read(lesson).cells if c.cell_type == "code"]
    missing = [
        cell.source.splitlines()[0]
        for cell in cells
        if DRAWS_A_FIGURE.search(cell.source) and not figure_alt(cell.source)
    ]
    assert missing == [], f"cells that draw a figure without show_figure's alt text: {missing}"
    bare = [cell.source.splitlines()[0] for cell in cells if "plt.show(" in cell.source]
    assert bare == [], f"cells that call plt.show() (use show_figure(fig, alt=...)): {bare}"
    # Forms used before, which one toolchain or the other does not read: they must not return.
    old_form = [
        i
        for i, cell in enumerate(cells)
        if "mystnb" in cell.metadata or cell.source.startswith("#| alt")
    ]
    assert old_form == [], f"code cells {old_form} carry alt text in an old form"


def test_launch_url_takes_the_path_or_the_file_name():
    """The default opens the lesson in tools/learn.py's JupyterLab, whose root is the
    workspace: the lesson's file name, not its path in the repository."""
    import lessons  # docs/_ext/lessons.py

    path = "notebooks/01-load-the-mnist-dataset.ipynb"
    assert lessons.launch_url("http://localhost:8888/lab/tree/{name}", path) == (
        "http://localhost:8888/lab/tree/01-load-the-mnist-dataset.ipynb"
    )
    assert lessons.launch_url("https://hub/lab/tree/{path}", path) == f"https://hub/lab/tree/{path}"
    assert lessons.launch_url("https://hub/lab/tree/", path) == f"https://hub/lab/tree/{path}"


def test_figure_alt_is_read_from_the_code():
    cell = 'fig = 1\nmnist_lib.show_figure(\n    fig,\n    alt=("Two "\n    "lines."),\n)'
    assert figure_alt(cell) == "Two lines."
    assert figure_alt("%matplotlib inline\nshow_figure(fig, alt='A line.')") == "A line."
    assert figure_alt("plt.show()") == ""
    for wrong in ("show_figure(fig, alt=text)", "show_figure(fig)", 'show_figure(fig, alt=" ")'):
        with pytest.raises(ValueError, match="without alt text"):
            figure_alt(wrong)
    with pytest.raises(ValueError, match="2 times"):
        figure_alt('show_figure(a, alt="A.")\nshow_figure(b, alt="B.")')


def test_one_parameters_cell(lesson):
    tagged = [c for c in jupytext.read(lesson).cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1


def _words(text: str) -> int:
    return len(text.split())  # what `wc -w` counts


def test_lesson_4_fits_in_one_sitting():
    """Lesson 4's main path (before its exercises) and the whole file stay within budget."""
    (md,) = (path for path in student_edition.lessons() if path.name.startswith("04"))
    text = md.read_text()
    main_path = text.split("\n## Exercises\n")[0]
    assert "## Going further" in text and "## Going further" not in main_path
    assert _words(main_path) <= 6_500, f"main path: {_words(main_path)} words"
    assert _words(text) <= 9_000, f"whole lesson: {_words(text)} words"


def test_lesson_4_library_module_is_fresh():
    """notebooks/lesson4_library.py is exactly what `nox -s library` writes from lesson 4."""
    import importlib.util

    path = NOTEBOOKS.parent / "tools" / "export_library.py"
    spec = importlib.util.spec_from_file_location("export_library", path)
    export_library = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(export_library)
    module = export_library.MODULE
    assert module.exists(), "run `nox -s library`"
    assert module.read_text() == export_library.library_source(), "stale: run `nox -s library`"


def test_study_and_run_times_agree_across_pages():
    """README's lesson table gives each lesson's study time; TEACHING.md and the site agree."""
    root = NOTEBOOKS.parent
    readme = (root / "README.md").read_text()
    rows = re.findall(
        r"^\| ([1-4]) \| .*\| (about \d+ min), plus (\d+ min) of exercises \|", readme, re.M
    )
    assert [number for number, _, _ in rows] == ["1", "2", "3", "4"], "README's lesson table"
    teaching = (root / "TEACHING.md").read_text()
    site = (root / "docs" / "index.md").read_text()
    for number, study, exercises in rows:
        assert re.search(
            rf"^\| {number} \|.*\| {study} \+ {exercises} of exercises \|", teaching, re.M
        )
        assert f"| {number} | {study}, plus {exercises} of exercises |" in site


def test_source_is_in_jupytext_canonical_form(lesson):
    """Saving an untouched lesson from JupyterLab rewrites nothing: the .md is what Jupytext
    writes for it (the browser test checks the same thing in JupyterLab itself)."""
    from jupytext.config import load_jupytext_config

    config = load_jupytext_config(str(lesson.parent))  # notebooks/jupytext.toml
    text = lesson.read_text(encoding="utf-8")
    rewritten = jupytext.writes(jupytext.read(lesson, config=config), fmt="md:myst", config=config)
    assert rewritten == text, (
        f"{lesson.name} is not in Jupytext's form: open and save it, or run `nox -s sync`"
    )


def test_sync_keeps_the_ids_of_the_cells_it_did_not_change(tmp_path):
    """`nox -s sync` rewrites each .ipynb from its .md but keeps unchanged cells' ids."""
    import nbformat
    from keep_cell_ids import write

    lesson = tmp_path / "lesson.md"
    lesson.write_text(
        "# Title\n\n```{code-cell} ipython3\na = 1\n```\n\nText.\n\n"
        "```{code-cell} ipython3\nb = 2\n```\n",
        encoding="utf-8",
    )
    ipynb = lesson.with_suffix(".ipynb")
    write([lesson])
    before = [cell.id for cell in nbformat.read(ipynb, as_version=4).cells]
    text = lesson.read_text(encoding="utf-8").replace("a = 1", "a = 10")
    lesson.write_text("```{code-cell} ipython3\nz = 0\n```\n\n" + text, encoding="utf-8")
    write([lesson])
    after = nbformat.read(ipynb, as_version=4)
    assert [cell.source for cell in after.cells][:3] == ["z = 0", "# Title", "a = 10"]
    ids = [cell.id for cell in after.cells]
    assert ids[1] == before[0] and ids[3:] == before[2:]  # unchanged: the same ids
    assert ids[0] not in before and ids[2] not in before  # new or edited: new ids
    assert not any(cell.get("outputs") for cell in after.cells)
