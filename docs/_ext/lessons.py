"""Sphinx extension that turns the lessons in ``notebooks/`` into site pages.

What it does, in build order:

1. ``config-inited``: mirrors every ``notebooks/[0-9][0-9]-*.md`` into
   ``docs/lessons/`` (a gitignored staging folder inside the Sphinx source
   folder), so a new lesson shows up on the site without touching the docs.
   On the way, a figure's alt text, the ``alt`` of the ``show_figure`` call
   that ends its cell (see ``figure_alt.py``), is copied into the cell's
   ``mystnb.image.alt`` metadata, the one place MyST-NB reads it from.
   A file is only rewritten when its content changed, so incremental builds
   stay incremental. Staged lessons whose source is gone are removed.
   ``notebooks/`` is put on the kernel's ``PYTHONPATH`` so ``import mnist_lib``
   works although the kernel runs in the staging folder.
2. ``html-page-context``: gives each lesson page two links for the
   ``lesson-buttons.html`` template: the notebook to download and the
   launch URL.
3. ``build-finished``: writes each lesson's download next to its page, where the
   download button points: a zip with the learner's edition of the lesson and all it
   needs to run where it lands (``tools/student_edition.py``'s ``build_zip``, the code
   path of every learner edition: exercises blank, hints and solutions on request, the
   helper modules, ``requirements.txt``, a README).

The launch URL comes from the ``lessons_launch_url`` setting (see conf.py):
a template in which ``{path}`` is replaced by the notebook's path relative to
the repository root, for example ``notebooks/01-load-the-mnist-dataset.ipynb``, and
``{name}`` by its file name (the learner's workspace holds the lessons at its top).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from figure_alt import figure_alt
from sphinx.application import Sphinx
from sphinx.util import logging

LOGGER = logging.getLogger(__name__)
STAGING = "lessons"  # folder inside the Sphinx source folder, and in the site
PATTERN = "[0-9][0-9]-*.md"


def _lessons(app: Sphinx) -> list[Path]:
    return sorted(Path(app.config.lessons_source_dir).glob(PATTERN))


def for_myst_nb(text: str) -> str:
    """The lesson's MyST source as MyST-NB reads it: each figure's alt text in its metadata."""
    import jupytext

    notebook = jupytext.reads(text, fmt="md:myst")
    changed = False
    for cell in notebook.cells:
        alt = figure_alt(cell.source) if cell.cell_type == "code" else ""
        if alt:
            cell.metadata.setdefault("mystnb", {}).setdefault("image", {})["alt"] = alt
            changed = True
    return jupytext.writes(notebook, fmt="md:myst") if changed else text


def stage_lessons(app: Sphinx, config) -> None:
    source_dir = Path(config.lessons_source_dir)
    staging = Path(app.srcdir) / STAGING
    staging.mkdir(exist_ok=True)
    wanted = {}
    for md in sorted(source_dir.glob(PATTERN)):
        wanted[md.name] = for_myst_nb(md.read_text(encoding="utf-8")).encode("utf-8")
    for stale in staging.glob("*.md"):
        if stale.name not in wanted:
            stale.unlink()
    for name, content in wanted.items():
        target = staging / name
        if not target.exists() or target.read_bytes() != content:
            target.write_bytes(content)
    LOGGER.info("lessons: staged %d lesson(s) from %s", len(wanted), source_dir)

    # The kernels that myst-nb starts inherit this process's environment.
    paths = [str(source_dir.resolve())]
    if os.environ.get("PYTHONPATH"):
        paths.append(os.environ["PYTHONPATH"])
    os.environ["PYTHONPATH"] = os.pathsep.join(paths)
    # Figures must reach the page: a non-interactive backend set for the tests
    # (MPLBACKEND=Agg) would make show_figure draw nothing, so use the inline one.
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"


def launch_url(template: str, path: str) -> str:
    if "{path}" in template or "{name}" in template:
        return template.replace("{path}", path).replace("{name}", path.rsplit("/", 1)[-1])
    return template.rstrip("/") + "/" + path


def add_lesson_links(app: Sphinx, pagename: str, templatename, context, doctree) -> None:
    if not pagename.startswith(STAGING + "/"):
        return
    name = pagename.split("/", 1)[1]
    repo_path = f"{app.config.lessons_repo_folder}/{name}.ipynb"
    context["lesson_download_url"] = context["pathto"](f"{STAGING}/{name}.zip", 1)
    context["lesson_download_name"] = f"{name}.zip"
    context["lesson_launch_url"] = launch_url(app.config.lessons_launch_url, repo_path)
    context["lesson_launch_label"] = app.config.lessons_launch_label


def write_notebooks(app: Sphinx, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    sys.path.insert(0, str(Path(app.config.lessons_source_dir).resolve().parent / "tools"))
    import student_edition

    out = Path(app.outdir) / STAGING
    out.mkdir(parents=True, exist_ok=True)
    for md in _lessons(app):
        student_edition.build_zip(md, out / md.with_suffix(".zip").name)


def setup(app: Sphinx) -> dict:
    app.add_config_value("lessons_source_dir", "", "env", types=[str])
    app.add_config_value("lessons_repo_folder", "notebooks", "html", types=[str])
    app.add_config_value(
        "lessons_launch_url", "http://localhost:8888/lab/tree/{name}", "html", types=[str]
    )
    app.add_config_value("lessons_launch_label", "Launch", "html", types=[str])
    app.connect("config-inited", stage_lessons)
    app.connect("html-page-context", add_lesson_links)
    app.connect("build-finished", write_notebooks)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
