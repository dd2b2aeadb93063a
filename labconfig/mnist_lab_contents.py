"""The contents manager JupyterLab uses for the tutorial: Jupytext's, with one fix.

A notebook that a learner opens and closes without editing must not be marked unsaved, and
saving it must not change any file. JupyterLab writes the running kernel's ``language_info``
(Python's version among it) into the notebook's metadata as soon as the kernel starts, which
marks the notebook unsaved, and saving then writes that version into the committed ``.ipynb``:
a change on every learner's machine. So this contents manager

- on opening, fills in the ``language_info`` that this environment's Python kernel will report,
  so the kernel's start changes nothing;
- on saving, leaves ``language_info`` out again: the files stay as they were committed.

Markdown files open as notebooks too (that is what makes a double click on a lesson's ``.md``
open the lesson), so ``README.md`` and ``TEACHING.md`` do as well. A plain Markdown document
has no kernel, and JupyterLab would ask which kernel to start and mark the document unsaved;
so it gets this environment's Python kernel, which Jupytext never writes into a plain
Markdown file (it keeps no metadata there).

The lessons' ``kernelspec`` already matches what JupyterLab writes (committed that way).

Cells tagged ``remove-cell`` hold checks that only CI needs; the docs site leaves them out,
and JupyterLab shows them folded: this contents manager folds them on opening
(``jupyter.source_hidden``) and leaves that mark out again on saving. The tag is the lessons'
one mark for such a cell, in a form that both MyST-NB and mystmd (Jupyter Book 2) read; a
``jupyter`` entry in a cell's options would make mystmd warn about every such cell.
"""

from __future__ import annotations

import copy
import sys

from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
from jupytext.async_contentsmanager import build_async_jupytext_contents_manager_class

JupytextContentsManager = build_async_jupytext_contents_manager_class(AsyncLargeFileManager)


def python_language_info() -> dict:
    """The ``language_info`` that ipykernel reports when it runs on this Python."""
    return {
        "name": "python",
        "version": sys.version.split()[0],
        "mimetype": "text/x-python",
        "codemirror_mode": {"name": "ipython", "version": sys.version_info[0]},
        "pygments_lexer": f"ipython{sys.version_info[0]}",
        "nbconvert_exporter": "python",
        "file_extension": ".py",
    }


def python_kernelspec() -> dict:
    """The kernelspec of ipykernel's kernel, as JupyterLab writes it into a notebook."""
    major = sys.version_info[0]
    return {
        "name": f"python{major}",
        "display_name": f"Python {major} (ipykernel)",
        "language": "python",
    }


def _is_plain_markdown(metadata: dict) -> bool:
    """Jupytext's mark of a Markdown document that is not a text notebook."""
    jupytext = metadata.get("jupytext", {})
    return jupytext.get("notebook_metadata_filter") == "-all" and "kernelspec" not in metadata


CI_ONLY_TAG = "remove-cell"


def _ci_only(cell: dict) -> bool:
    return CI_ONLY_TAG in (cell.get("metadata", {}).get("tags") or [])


def fold_ci_only_cells(notebook: dict) -> dict:
    """Mark every cell tagged ``remove-cell`` as folded (``jupyter.source_hidden``), in place."""
    for cell in notebook.get("cells", []):
        if _ci_only(cell):
            cell.setdefault("metadata", {}).setdefault("jupyter", {})["source_hidden"] = True
    return notebook


def _without_folds(cells: list) -> list:
    """The cells, those tagged ``remove-cell`` without their fold (copies; the rest as is)."""
    result = []
    for cell in cells:
        if _ci_only(cell) and "source_hidden" in cell.get("metadata", {}).get("jupyter", {}):
            cell = dict(cell, metadata=dict(cell["metadata"]))
            jupyter = dict(cell["metadata"]["jupyter"])
            jupyter.pop("source_hidden")
            if jupyter:
                cell["metadata"]["jupyter"] = jupyter
            else:
                del cell["metadata"]["jupyter"]
        result.append(cell)
    return result


class LessonContentsManager(JupytextContentsManager):
    """Jupytext's contents manager; ``language_info`` and the CI-only cells' folds stay out of files."""

    async def get(self, path, content=True, type=None, format=None, **kwargs):  # noqa: A002
        model = await super().get(path, content=content, type=type, format=format, **kwargs)
        if content and model.get("type") == "notebook" and model.get("content"):
            metadata = model["content"].setdefault("metadata", {})
            if path.endswith(".md") and _is_plain_markdown(metadata):
                metadata["kernelspec"] = python_kernelspec()
            language = metadata.get("kernelspec", {}).get("language")
            if language == "python" and "language_info" not in metadata:
                metadata["language_info"] = python_language_info()
            fold_ci_only_cells(model["content"])
        return model

    async def save(self, model, path=""):
        if model.get("type") == "notebook" and model.get("content"):
            model = copy.copy(model)
            model["content"] = copy.copy(model["content"])
            metadata = dict(model["content"].get("metadata", {}))
            metadata.pop("language_info", None)
            model["content"]["metadata"] = metadata
            model["content"]["cells"] = _without_folds(model["content"].get("cells", []))
        return await super().save(model, path)
