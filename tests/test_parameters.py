"""Lessons run with other parameters, as a teacher would run them with papermill."""

from __future__ import annotations

import re

import nbformat
import student_edition

EPOCH_LINE = re.compile(r"^Epoch:\s+\d+", re.MULTILINE)
# A quick version of lesson 3, as a teacher would run it before class.
QUICK_LESSON_3 = dict(epochs=2, training_sample=200, test_sample=200)


def test_quick_run_of_lesson_3_with_papermill(tmp_path, current_env_kernel_manager, outputs_text):
    import papermill

    (lesson,) = (
        md.with_suffix(".ipynb") for md in student_edition.lessons() if md.name[:2] == "03"
    )
    output = tmp_path / "03-quick.ipynb"
    papermill.execute_notebook(
        str(lesson),
        str(output),
        parameters=QUICK_LESSON_3,
        cwd=str(lesson.parent),
        kernel_name="python3",
        kernel_manager_class=current_env_kernel_manager,
        progress_bar=False,
    )
    nb = nbformat.read(output, as_version=4)
    injected = [cell for cell in nb.cells if "injected-parameters" in student_edition._tags(cell)]
    assert len(injected) == 1

    training_runs = [cell for cell in nb.cells if re.search(r"\) = train\(", cell.source)]
    assert len(training_runs) == 2
    for cell in training_runs:
        assert len(EPOCH_LINE.findall(outputs_text(cell))) == QUICK_LESSON_3["epochs"]

    printed = "\n".join(outputs_text(cell) for cell in nb.cells if cell.cell_type == "code")
    n_train, n_test = QUICK_LESSON_3["training_sample"], QUICK_LESSON_3["test_sample"]
    assert f"training_images: ({n_train}, 784) float64" in printed
    assert f"training_labels: ({n_train}, 10) float64" in printed
    assert re.search(rf"test_images: +\({n_test}, 784\) float64", printed)
    assert re.search(rf"test_labels: +\({n_test}, 10\) float64", printed)
    assert "not the lesson's parameters" in printed
    assert "Not yet" not in printed  # the full edition's checks still pass
