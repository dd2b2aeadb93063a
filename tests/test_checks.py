"""The exercise checks (``notebooks/checks/``) and the exercises that use them.

Every check passes a right function, says "Not yet" (in one line, without showing a solution)
to typical wrong ones and to the placeholder, and raises in strict mode (``CHECKS_STRICT=1``).
Every lesson's exercises are shaped alike, and the checks pass on the solutions as written.
The tests use ``lesson``, a parameter that ``tests/conftest.py`` gives every lesson's source.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import io
import linecache
import math
import re

import checks
import jupytext
import numpy as np
import pytest
import student_edition
from course import CHECK_CALL

import lesson4_library
import mnist_lib

SOLUTION_TAG = student_edition.SOLUTION_TAG


@pytest.fixture
def run_check(monkeypatch):
    """run_check(name, function, strict="0") -> (passed, what the check printed)."""

    def run(name: str, function, strict: str = "0") -> tuple[bool, str]:
        monkeypatch.setenv("CHECKS_STRICT", strict)
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            verdict = getattr(checks, name)(function)
        printed = buffer.getvalue()
        # A long message wraps at word boundaries, to fit a notebook's output area: every
        # line fits, and joining the lines with spaces gives the verdict's text back.
        lines = printed.splitlines()
        assert all(len(line) <= checks.core.WIDTH for line in lines), printed
        assert " ".join(lines) == verdict.text, printed
        return bool(verdict), verdict.text + "\n"

    return run


# -- Reference solutions and typical mistakes, for the unit tests of the checks -------


def _relu2deriv(output):
    return output > 0


def _label_header(data):
    magic, count = np.frombuffer(data[:8], dtype=">u4")
    return int(magic), int(count)


def _label_header_little_endian(data):
    magic, count = np.frombuffer(data[:8], dtype="<u4")
    return int(magic), int(count)


def _label_header_whole_buffer(data):
    return tuple(np.frombuffer(data, dtype=">u4"))


def _idx_header(data):
    if data[0] != 0 or data[1] != 0:
        raise ValueError("not IDX data")
    ndim = data[3]
    return ndim, [int(size) for size in np.frombuffer(data, dtype=">u4", count=ndim, offset=4)]


def _idx_header_unchecked(data):
    ndim = data[3]
    return ndim, [int(size) for size in np.frombuffer(data, dtype=">u4", count=ndim, offset=4)]


def _idx_header_three_dimensions(data):
    if data[0] != 0 or data[1] != 0:
        raise ValueError("not IDX data")
    return 3, [int(size) for size in np.frombuffer(data, dtype=">u4", count=3, offset=4)]


def _one_hot_checked(labels, dimension=10):
    labels = np.asarray(labels)
    if np.any((labels < 0) | (labels >= dimension)):
        raise ValueError("label out of range")
    return np.eye(dimension)[labels]


def _one_hot_checked_top_only(labels, dimension=10):
    labels = np.asarray(labels)
    if np.any(labels >= dimension):
        raise ValueError("label out of range")
    return np.eye(dimension)[labels]


def _one_hot_eye(labels, dimension=10):
    return np.eye(dimension)[labels]


def _one_hot_loop(labels, dimension=10):
    encoded = np.zeros((len(labels), dimension))
    for row, label in enumerate(labels):
        encoded[row, label] = 1.0
    return encoded


def _one_hot_reuse(labels, dimension=10):
    return mnist_lib.one_hot_encoding(labels, dimension)


def _one_hot_integers(labels, dimension=10):
    return np.eye(dimension, dtype=int)[labels]


def _standardize(training, test):
    mean, std = training.mean(), training.std()
    return (training - mean) / std, (test - mean) / std


def _standardize_each_own(training, test):
    return (training - training.mean()) / training.std(), (test - test.mean()) / test.std()


def _standardize_per_pixel(training, test):
    mean, std = training.mean(axis=0), training.std(axis=0)
    return (training - mean) / std, (test - mean) / std


def _backward_pass(layer_0, weights_1, weights_2, label, derivative=_relu2deriv, sign=-1.0):
    layer_1 = np.maximum(layer_0 @ weights_1, 0)
    layer_2_delta = label - layer_1 @ weights_2
    layer_1_delta = (weights_2 @ layer_2_delta) * derivative(layer_1)
    return sign * np.outer(layer_0, layer_1_delta), sign * np.outer(layer_1, layer_2_delta)


def _backward_pass_transposed(layer_0, weights_1, weights_2, label):
    gradient_1, gradient_2 = _backward_pass(layer_0, weights_1, weights_2, label)
    return gradient_1.T, gradient_2.T


def _backward_pass_swapped(layer_0, weights_1, weights_2, label):
    return _backward_pass(layer_0, weights_1, weights_2, label)[::-1]


def _backward_pass_full_squared_error(layer_0, weights_1, weights_2, label):
    gradient_1, gradient_2 = _backward_pass(layer_0, weights_1, weights_2, label)
    return 2 * gradient_1, 2 * gradient_2


def _hidden_delta(layer_2_delta, weights_2, layer_1, dropout_mask):
    return (weights_2 @ layer_2_delta) * _relu2deriv(layer_1) * dropout_mask * 2


def _hidden_delta_without_2(layer_2_delta, weights_2, layer_1, dropout_mask):
    return (weights_2 @ layer_2_delta) * _relu2deriv(layer_1) * dropout_mask


def _hidden_delta_without_slope(layer_2_delta, weights_2, layer_1, dropout_mask):
    return (weights_2 @ layer_2_delta) * dropout_mask * 2


def _digit_accuracies(predicted, labels):
    right = np.bincount(labels[predicted == labels], minlength=10)
    return right / np.bincount(labels, minlength=10)


def _digit_accuracies_by_prediction(predicted, labels):
    right = np.bincount(labels[predicted == labels], minlength=10)
    return right / np.bincount(predicted, minlength=10)


def _digit_accuracies_without_minlength(predicted, labels):
    return np.bincount(labels[predicted == labels]) / np.bincount(labels)


def _digit_accuracies_zero_if_absent(predicted, labels):
    right = np.bincount(labels[predicted == labels], minlength=10)
    images = np.bincount(labels, minlength=10)
    return np.divide(right, images, out=np.zeros(10), where=images > 0)


def _early_stopping(validation_losses, patience):
    best_loss, best_epoch = np.inf, 0
    for epoch, loss in enumerate(validation_losses, start=1):
        if loss < best_loss:
            best_loss, best_epoch = loss, epoch
        elif epoch - best_epoch >= patience:
            return epoch, best_epoch
    return len(validation_losses), best_epoch


def _early_stopping_against_previous(validation_losses, patience):
    """Counts the epochs since the loss last went down, instead of since the best loss."""
    best_loss, best_epoch, previous, waiting = np.inf, 0, np.inf, 0
    for epoch, loss in enumerate(validation_losses, start=1):
        waiting = 0 if loss < previous else waiting + 1
        previous = loss
        if loss < best_loss:
            best_loss, best_epoch = loss, epoch
        if waiting >= patience:
            return epoch, best_epoch
    return len(validation_losses), best_epoch


def _early_stopping_ties_improve(validation_losses, patience):
    best_loss, best_epoch = np.inf, 0
    for epoch, loss in enumerate(validation_losses, start=1):
        if loss <= best_loss:
            best_loss, best_epoch = loss, epoch
        elif epoch - best_epoch >= patience:
            return epoch, best_epoch
    return len(validation_losses), best_epoch


def _early_stopping_one_late(validation_losses, patience):
    best_loss, best_epoch = np.inf, 0
    for epoch, loss in enumerate(validation_losses, start=1):
        if loss < best_loss:
            best_loss, best_epoch = loss, epoch
        elif epoch - best_epoch > patience:
            return epoch, best_epoch
    return len(validation_losses), best_epoch


def _early_stopping_from_zero(validation_losses, patience):
    trained, kept = _early_stopping(validation_losses, patience)
    return trained - 1, kept - 1


def _cross_entropy_gradient(scores, labels, *, sign=1, mean=True, stable=True, in_place=False):
    shifted = scores - scores.max(axis=1, keepdims=True) if stable else scores
    if in_place:
        scores -= scores.max(axis=1, keepdims=True)
        shifted = scores
    probabilities = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    probabilities[np.arange(len(labels)), labels] -= 1
    return sign * probabilities / (len(labels) if mean else 1)


def _conv_input_gradient(weights, grad, *, accumulate=True, rotate=False, first_filter=False):
    filters, n, out_rows, out_columns = grad.shape
    k = math.isqrt(weights.shape[1])
    if rotate:
        weights = weights.reshape(filters, k, k)[:, ::-1, ::-1].reshape(filters, -1)
    if first_filter:
        weights, grad, filters = weights[:1], grad[:1], 1
    per_patch = (weights.T @ grad.reshape(filters, -1)).reshape(k, k, n, out_rows, out_columns)
    images_grad = np.zeros((n, out_rows + k - 1, out_columns + k - 1))
    for i in range(k):
        for j in range(k):
            window = images_grad[:, i : i + out_rows, j : j + out_columns]
            if accumulate:
                window += per_patch[i, j]
            else:
                window[...] = per_patch[i, j]
    return images_grad


def _placeholder(*args, **kwargs): ...  # YOUR CODE HERE


def _not_implemented(*args, **kwargs):
    raise NotImplementedError


CASES = {
    "read_label_header": (
        _label_header,
        [
            _label_header_little_endian,
            _label_header_whole_buffer,
            lambda data: data[:8],
            lambda data: tuple(np.frombuffer(data[:8], dtype=">u4")),  # NumPy uint32, not int
            lambda data: (float(_label_header(data)[0]), float(_label_header(data)[1])),
        ],
    ),
    "count_digits": (
        lambda labels: np.bincount(labels, minlength=10),
        [np.bincount, lambda labels: np.bincount(labels, minlength=11), len],
    ),
    "read_idx_header": (
        _idx_header,
        [_idx_header_unchecked, _idx_header_three_dimensions, lambda data: (data[3], [])],
    ),
    "scale_symmetric": (
        lambda images: images / 127.5 - 1,
        [
            lambda images: images * 2 / 255 - 1,  # images * 2 wraps around in uint8
            lambda images: images / 255,
            lambda images: (images / 127.5 - 1).astype(np.float32),
            lambda images: images // 128 * 2 - 1,
        ],
    ),
    "one_hot_checked": (
        _one_hot_checked,
        [_one_hot_checked_top_only, _one_hot_eye, lambda labels, dimension=10: None],
    ),
    "one_hot_without_loop": (
        _one_hot_eye,
        [_one_hot_loop, _one_hot_integers, _one_hot_reuse, mnist_lib.one_hot_encoding],
    ),
    "bytes_needed": (
        lambda shape, dtype: int(np.prod(shape)) * np.dtype(dtype).itemsize,
        [
            lambda shape, dtype: int(np.prod(shape)),
            lambda shape, dtype: np.zeros(shape, dtype).nbytes,
            lambda shape, dtype: float(np.prod(shape) * np.dtype(dtype).itemsize),
        ],
    ),
    "standardize": (
        _standardize,
        [_standardize_each_own, _standardize_per_pixel, lambda training, test: training],
    ),
    "accuracy": (
        lambda scores, labels: np.mean(scores.argmax(axis=1) == labels.argmax(axis=1)),
        [
            lambda scores, labels: np.sum(scores.argmax(axis=1) == labels.argmax(axis=1)),
            lambda scores, labels: np.mean(scores.argmax(axis=0) == labels.argmax(axis=0)),
            lambda scores, labels: np.mean(scores.argmax(axis=1) == labels[:, 0]),
        ],
    ),
    "backward_pass": (
        _backward_pass,
        [
            functools.partial(_backward_pass, sign=1.0),  # the updates, not the gradients
            functools.partial(_backward_pass, derivative=lambda output: output >= 0),
            _backward_pass_transposed,
            _backward_pass_swapped,
            _backward_pass_full_squared_error,
            lambda layer_0, weights_1, weights_2, label: np.zeros_like(weights_1),
        ],
    ),
    "inactive_units": (
        lambda images, weights_1: np.sum(images @ weights_1 <= 0, axis=1),
        [
            lambda images, weights_1: np.sum(images @ weights_1 < 0, axis=1),
            lambda images, weights_1: np.sum(images @ weights_1 > 0, axis=1),
            lambda images, weights_1: np.sum(images @ weights_1 <= 0),
        ],
    ),
    "hidden_layer_delta": (
        _hidden_delta,
        [_hidden_delta_without_2, _hidden_delta_without_slope, lambda *args: np.zeros(3)],
    ),
    "cross_entropy_gradient": (
        _cross_entropy_gradient,
        [
            functools.partial(_cross_entropy_gradient, sign=-1),
            functools.partial(_cross_entropy_gradient, mean=False),
            functools.partial(_cross_entropy_gradient, stable=False),
            functools.partial(_cross_entropy_gradient, in_place=True),
            lambda scores, labels: np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True),
        ],
    ),
    "digit_accuracies": (
        _digit_accuracies,
        [
            _digit_accuracies_by_prediction,
            _digit_accuracies_without_minlength,
            _digit_accuracies_zero_if_absent,
            lambda predicted, labels: np.bincount(labels[predicted == labels], minlength=10),
            lambda predicted, labels: np.full(10, np.mean(predicted == labels)),
        ],
    ),
    "early_stopping": (
        _early_stopping,
        [
            _early_stopping_against_previous,
            _early_stopping_ties_improve,
            _early_stopping_one_late,
            _early_stopping_from_zero,
            lambda validation_losses, patience: int(np.argmin(validation_losses)) + 1,
        ],
    ),
    "conv_input_gradient": (
        _conv_input_gradient,
        [
            functools.partial(_conv_input_gradient, accumulate=False),
            functools.partial(_conv_input_gradient, rotate=True),
            functools.partial(_conv_input_gradient, first_filter=True),
            lambda weights, grad: grad.sum(axis=0),
        ],
    ),
}


def test_every_check_has_unit_test_cases():
    assert sorted(CASES) == sorted(checks.__all__)


@pytest.mark.parametrize("name", sorted(CASES))
def test_check_passes_a_right_function(name, run_check):
    right, _ = CASES[name]
    passed, printed = run_check(name, right, strict="1")
    assert passed is True
    assert printed.startswith("Right! ")


@pytest.mark.parametrize("name", sorted(CASES))
def test_check_says_not_yet_to_wrong_functions_and_placeholders(name, run_check):
    _, wrong_ones = CASES[name]
    for wrong in [*wrong_ones, _placeholder, _not_implemented]:
        passed, printed = run_check(name, wrong)
        assert passed is False, (name, wrong)
        assert printed.startswith("Not yet: "), printed
        assert printed.count("\n") == 1, printed  # one line: a hint, not a dump of data
    assert checks.PLACEHOLDER_HINT in run_check(name, _placeholder)[1]
    assert "NotImplementedError" in run_check(name, _not_implemented)[1]


@pytest.mark.parametrize("name", sorted(CASES))
def test_check_raises_in_strict_mode(name, run_check):
    with pytest.raises(AssertionError, match="^Not yet: "):
        run_check(name, _placeholder, strict="1")


def test_check_refuses_a_result_instead_of_a_function(run_check):
    passed, printed = run_check("count_digits", np.zeros(10))
    assert passed is False
    assert "pass the function itself" in printed


def test_check_networks_have_active_and_inactive_units():
    """The gradient checks are only meaningful if the tiny networks have both kinds of unit."""
    for seed in (9, 10):
        layer_0, weights_1, _, _ = checks.lesson3._gradient_check_network(seed)
        pre_activation = layer_0 @ weights_1
        assert np.any(pre_activation < 0) and np.any(pre_activation > 0)


def test_conv_check_follows_the_layout_of_the_lessons_conv2d():
    """The check's convolution numbers the filter pixels as lesson 4's Conv2D does."""
    conv2d = lesson4_library.Conv2D
    rng = np.random.default_rng(0)
    for filters, k, shape in [(3, 3, (2, 7, 6)), (2, 5, (1, 9, 8))]:
        images = rng.normal(size=shape)
        weights = rng.normal(size=(filters, k * k))
        expected = conv2d(weights).forward(images)  # its biases start at 0
        assert np.allclose(checks.lesson4._conv_forward(images, weights), expected)


def test_early_stopping_reference_decides_like_the_lessons_fit(capsys, monkeypatch):
    """The rules the early_stopping check expects are those of lesson 4's fit."""
    rng = np.random.default_rng(0)
    for _ in range(200):
        epochs = int(rng.integers(1, 12))
        losses = list(rng.integers(0, 4, size=epochs) / 4)  # few values: many ties
        patience = int(rng.integers(1, 5))
        scripted = iter(losses)
        monkeypatch.setattr(lesson4_library, "evaluate", lambda *args, s=scripted: (next(s), 0.0))
        monkeypatch.setattr(
            lesson4_library, "train_steps", lambda *args: 0.0
        )  # the losses are scripted
        history = lesson4_library.fit(
            [],
            np.zeros((4, 1), np.float32),
            np.zeros(4, int),
            epochs=epochs,
            batch_size=2,
            learning_rate=0.1,
            rng=rng,
            validation=(None, None),
            patience=patience,
        )
        trained = len(history["epoch"])
        assert _early_stopping(losses, patience) == (trained, history["best_epoch"])
    capsys.readouterr()  # fit's "early stop" messages


# -- The exercises in the lessons ----------------------------------------------------------


def _check_calls(nb) -> list[str]:
    return [
        name
        for cell in nb.cells
        if cell.cell_type == "code" and SOLUTION_TAG not in student_edition._tags(cell)
        for name in CHECK_CALL.findall(cell.source)
    ]


def _solution_cells(nb):
    return [
        cell
        for cell in nb.cells
        if SOLUTION_TAG in student_edition._tags(cell) and cell.cell_type == "code"
    ]


def test_every_check_is_used_by_exactly_one_exercise():
    lessons = student_edition.lessons()
    used = [name for md in lessons for name in _check_calls(jupytext.read(md))]
    assert sorted(used) == sorted(checks.__all__)


def test_exercises_of_a_lesson(lesson):
    """3 to 5 exercises; each solution cell is folded on the site and followed by its check."""
    nb = jupytext.read(lesson)
    text = lesson.read_text(encoding="utf-8")
    solutions = _solution_cells(nb)
    assert solutions, f"{lesson.name} has no exercise solutions"
    exercises = re.findall(r"^### \d+\. ", text.split("\n## Exercises\n", 1)[-1], re.MULTILINE)
    assert 3 <= len(exercises) <= 5
    for index, cell in enumerate(nb.cells):
        if cell not in solutions:
            continue
        assert "hide-input" in student_edition._tags(cell), (
            f"solution cell {index} is not folded on the site"
        )
        defined = [
            node.name for node in ast.parse(cell.source).body if isinstance(node, ast.FunctionDef)
        ]
        following = nb.cells[index + 1]
        assert following.cell_type == "code" and CHECK_CALL.findall(following.source) == defined


def _solution_namespace():
    """What the lessons' solutions may use from the notebook around them."""
    return {
        "np": np,
        "math": math,
        "one_hot_encoding": mnist_lib.one_hot_encoding,
        "relu": lambda x: np.maximum(x, 0),
        "relu2deriv": _relu2deriv,
    }


def test_checks_pass_on_the_lessons_solutions(lesson, run_check):
    """Cheap twin of nbval's strict run: define each solution function and check it."""
    nb = jupytext.read(lesson)
    for index, cell in enumerate(_solution_cells(nb)):
        tree = ast.parse(cell.source)
        definitions = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
        module = ast.Module(body=definitions, type_ignores=[])
        filename = f"<{lesson.stem} solution {index}>"
        source = ast.unparse(module)
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        namespace = _solution_namespace()
        exec(compile(source, filename, "exec"), namespace)
        for definition in definitions:
            passed, printed = run_check(definition.name, namespace[definition.name], strict="1")
            assert passed, printed
