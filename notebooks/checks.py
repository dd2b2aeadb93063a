"""Checks for the exercises at the end of each lesson.

Each exercise asks you to write a function. Pass the function itself (not its
result) to the check of the same name, for example::

    import checks
    checks.count_digits(count_digits)

The check calls your function on inputs of its own, including some awkward
ones, and prints either ``Right! ...`` or ``Not yet: ...`` with a hint. It
never prints the answer. It returns a verdict that is true or false (and
shows nothing more in a notebook).

Teachers and CI: with the environment variable ``CHECKS_STRICT=1`` a failing
check raises ``AssertionError`` (with the same message) instead of only
printing it, so a test run of the full lessons fails when a solution stops
passing its check.
"""

from __future__ import annotations

import ast
import functools
import inspect
import math
import os
import textwrap

import numpy as np

__all__ = [
    "read_label_header",
    "count_digits",
    "read_idx_header",
    "one_hot_checked",
    "one_hot_without_loop",
    "bytes_needed",
    "standardize",
    "accuracy",
    "my_relu2deriv",
    "inactive_units",
    "hidden_layer_delta",
    "digit_accuracies",
    "early_stopping",
    "conv_input_gradient",
]

#: A reminder printed when the function still holds the placeholder.
PLACEHOLDER_HINT = (
    "your function returned None. Replace the line `...  # YOUR CODE HERE` with your code, "
    "and end it with a `return` statement."
)
#: The same reminder where there is no placeholder (the full edition, or it was replaced).
NO_RETURN_HINT = (
    "your function returned None. Does every way through it end with a `return` statement?"
)


def _none_hint(function) -> str:
    """The hint for a function that returned None, fitting the edition it was written in."""
    try:
        source = inspect.getsource(function)
    except (OSError, TypeError):  # no source to look at: say what holds in both editions
        source = ""
    return PLACEHOLDER_HINT if "# YOUR CODE HERE" in source else NO_RETURN_HINT


class NotYet(Exception):
    """Raised inside a check when the learner's function is not right yet."""


def strict() -> bool:
    """True when failing checks should raise (CHECKS_STRICT=1)."""
    return os.environ.get("CHECKS_STRICT", "") == "1"


class Verdict:
    """What a check returns: true if the exercise is right.

    The check has already printed its message, so in a notebook the verdict
    itself shows nothing (no stray ``True`` under the message).
    """

    def __init__(self, passed: bool, text: str):
        self.passed = passed
        self.text = text

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return f"Verdict({self.passed}, {self.text!r})"

    def _ipython_display_(self) -> None:
        pass


def _report(passed: bool, message: str) -> Verdict:
    text = f"Right! {message}" if passed else f"Not yet: {message}"
    print(text)
    if not passed and strict():
        raise AssertionError(text)
    return Verdict(passed, text)


def _check(success_message: str):
    """Turn a function that raises NotYet into a check that prints and returns True/False."""

    def decorate(test):
        @functools.wraps(test)
        def run(function) -> Verdict:
            if not callable(function):
                return _report(
                    False,
                    "pass the function itself to the check, without calling it: "
                    f"checks.{test.__name__}({test.__name__}), not "
                    f"checks.{test.__name__}({test.__name__}(...)).",
                )
            try:
                test(function)
            except NotYet as problem:
                return _report(False, str(problem))
            except Exception as problem:  # a result the check could not even inspect
                return _report(
                    False,
                    f"the check could not use what your function returned "
                    f"({type(problem).__name__}: {problem}). Compare your result's type and "
                    "shape with what the exercise asks for.",
                )
            return _report(True, success_message)

        return run

    return decorate


def _call(function, *args, **kwargs):
    """Call the learner's function on copies of the inputs; turn failures into hints."""
    args = [arg.copy() if isinstance(arg, np.ndarray) else arg for arg in args]
    try:
        result = function(*args, **kwargs)
    except NotImplementedError:
        raise NotYet(
            "your function still raises NotImplementedError. Replace that line with your code."
        ) from None
    except MemoryError:
        raise NotYet(
            "your function ran out of memory. Can you get the answer without building "
            "the big array?"
        ) from None
    except Exception as error:
        raise NotYet(
            f"your function raised {type(error).__name__}: {error}. Try it on a small "
            "example of your own and compare with what you expect by hand."
        ) from None
    if result is None:
        raise NotYet(_none_hint(function))
    return result


def _raises(function, exception, *args, **kwargs) -> bool:
    """True if the call raises `exception`; other errors become hints."""
    try:
        function(*args, **kwargs)
    except exception:
        return True
    except NotImplementedError:
        raise NotYet(
            "your function still raises NotImplementedError. Replace that line with your code."
        ) from None
    except Exception as error:
        raise NotYet(
            f"your function raised {type(error).__name__} ({error}), but the exercise asks "
            f"for {exception.__name__}."
        ) from None
    return False


def _as_array(result, what: str) -> np.ndarray:
    try:
        return np.asarray(result)
    except Exception:
        raise NotYet(f"{what} should be something NumPy can turn into an array.") from None


def _syntax_tree(function):
    """The parsed source of a function, or None when the source is not available."""
    try:
        source = textwrap.dedent(inspect.getsource(function))
        return ast.parse(source)
    except (OSError, TypeError, SyntaxError):
        return None


def _uses_a_loop(function) -> bool:
    tree = _syntax_tree(function)
    if tree is None:
        return False
    loops = (ast.For, ast.AsyncFor, ast.While, ast.comprehension)
    return any(isinstance(node, loops) for node in ast.walk(tree))


def _names_used(function) -> set[str]:
    tree = _syntax_tree(function)
    if tree is None:
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
    return names


def _idx_header(type_code: int, sizes, payload: bytes = b"") -> bytes:
    """The bytes of an IDX header (big-endian), optionally followed by some data."""
    magic = bytes([0, 0, type_code, len(sizes)])
    return magic + np.asarray(sizes, dtype=">u4").tobytes() + payload


# -- Lesson 1 -----------------------------------------------------------------------------


@_check("Your function reads the magic number and the count of any label file header.")
def read_label_header(function):
    """Exercise: `read_label_header(data)` returns (magic number, number of labels)."""
    rng = np.random.default_rng(1)
    counts = [60000, 10000, 1, 0x01020304]
    for count in counts:
        labels = rng.integers(0, 10, size=min(count, 20), dtype=np.uint8).tobytes()
        data = _idx_header(0x08, [count], labels)
        for given in (data[:8], data):
            result = _call(function, given)
            try:
                magic, number = (int(value) for value in result)
            except Exception:
                if len(given) > 8:
                    raise NotYet(
                        "when labels follow the header, your function does not return two "
                        "numbers. Read only the first 8 bytes of `data`."
                    ) from None
                raise NotYet(
                    "return two whole numbers, the magic number and the number of labels, "
                    "for example as a tuple `(magic, count)`."
                ) from None
            little_endian = (
                int.from_bytes(given[:4], "little"),
                int.from_bytes(given[4:8], "little"),
            )
            if magic == little_endian[0] or (number != count and number == little_endian[1]):
                raise NotYet(
                    "the numbers come out with their bytes in reverse order. In which "
                    "byte order does IDX store them, and which dtype string says so?"
                )
            if magic != 0x801:
                raise NotYet(
                    "the magic number is not right. It is the first 4 bytes of the header, "
                    "read as one unsigned big-endian integer."
                )
            if number != count:
                raise NotYet("the count is not right. It is the second 4-byte number.")


@_check("Your function counts every digit, also the ones that do not occur.")
def count_digits(function):
    """Exercise: `count_digits(labels)` returns how often each digit 0-9 occurs."""
    rng = np.random.default_rng(2)
    cases = [
        rng.integers(0, 10, size=500).astype(np.uint8),  # like y_train
        rng.integers(0, 9, size=50).astype(np.uint8),  # no 9 at all
        rng.integers(1, 10, size=50).astype(np.uint8),  # no 0 at all
        np.array([7], dtype=np.uint8),
    ]
    for labels in cases:
        result = _as_array(_call(function, labels), "The result")
        if result.shape != (10,):
            raise NotYet(
                "return one count per digit, always 10 numbers, even when some digit "
                "does not occur in the labels (what does `minlength` do?)."
            )
        if not np.array_equal(result, np.bincount(labels, minlength=10)):
            if result.sum() != len(labels):
                raise NotYet("the counts should add up to the number of labels.")
            raise NotYet("position d of the result should hold how often the digit d occurs.")


@_check("Your function reads IDX headers of any number of dimensions and refuses non-IDX data.")
def read_idx_header(function):
    """Exercise: `read_idx_header(data)` returns (number of dimensions, list of sizes)."""
    cases = [
        [60000],
        [10000, 28, 28],
        [3, 5],
        [2, 3, 4, 5],
        [4, 0x01020304, 1],
    ]
    for sizes in cases:
        data = _idx_header(0x08, sizes, bytes(range(40)))
        result = _call(function, data)
        try:
            ndim, found = result
            ndim = int(ndim)
            found = [int(size) for size in found]
        except Exception:
            raise NotYet(
                "return a pair: the number of dimensions (an int) and the sizes (a list "
                "or tuple of ints)."
            ) from None
        if ndim != len(sizes):
            raise NotYet(
                "the number of dimensions is wrong. It is stored in one byte of the magic "
                "number; which one?"
            )
        if len(found) != len(sizes):
            raise NotYet(
                "return exactly one size per dimension, not a fixed number of them, and "
                "none of the data that follows the header."
            )
        if found != list(sizes):
            raise NotYet(
                "some sizes are wrong. Each is a 4-byte big-endian unsigned integer, right "
                "after the magic number."
            )
    # Still-compressed bytes (a .gz file starts with 0x1f 0x8b) and an HTML error page.
    not_idx = [
        bytes([0x1F, 0x8B, 0x08, 0x01]) + np.array([5], dtype=">u4").tobytes() + bytes(20),
        b"<html><body>404 Not Found</body></html>",
    ]
    for data in not_idx:
        if not _raises(function, ValueError, data):
            raise NotYet(
                "given bytes that are not IDX data (a still-compressed file, an HTML error "
                "page) your function should raise ValueError. What must the first two bytes "
                "of every IDX file be?"
            )


# -- Lesson 2 -----------------------------------------------------------------------------


def _one_hot(labels, dimension=10):
    labels = np.asarray(labels)
    return (labels[:, None] == np.arange(dimension)).astype(np.float64)


def _check_one_hot_result(function, labels, dimension=None):
    kwargs = {} if dimension is None else {"dimension": dimension}
    result = _as_array(_call(function, labels, **kwargs), "The encoded labels")
    expected = _one_hot(labels, dimension or 10)
    if result.shape != expected.shape:
        raise NotYet(
            "the result should have one row per label and one column per class "
            "(`dimension` columns)."
        )
    if result.dtype != np.float64:
        raise NotYet(
            "the result should hold floating-point numbers (float64), like one_hot_encoding."
        )
    if not np.array_equal(result, expected):
        raise NotYet(
            "each row should hold a single 1.0, in the column of its label, and 0.0 elsewhere."
        )


@_check("Valid labels are encoded, and labels out of range raise ValueError.")
def one_hot_checked(function):
    """Exercise: `one_hot_checked(labels, dimension=10)` refuses labels out of range."""
    rng = np.random.default_rng(3)
    _check_one_hot_result(function, rng.integers(0, 10, size=30).astype(np.uint8))
    _check_one_hot_result(function, [0, 9, 9, 0])
    _check_one_hot_result(function, np.array([2, 0, 1]), dimension=3)
    for bad, dimension in (([3, 10], 10), ([-1, 2], 10), ([0, 3], 3), ([12], 10)):
        if not _raises(function, ValueError, np.array(bad), dimension=dimension):
            raise NotYet(
                "some labels outside 0 ... dimension - 1 got through without a ValueError. "
                "Think of both ends of the range."
            )


@_check("Your encoder matches one_hot_encoding, without a single Python loop.")
def one_hot_without_loop(function):
    """Exercise: `one_hot_without_loop(labels, dimension=10)` with np.eye and indexing."""
    rng = np.random.default_rng(4)
    _check_one_hot_result(function, rng.integers(0, 10, size=200).astype(np.uint8))
    _check_one_hot_result(function, [5, 0, 4])
    _check_one_hot_result(function, np.array([1, 0, 3, 2]), dimension=4)
    if _uses_a_loop(function):
        raise NotYet(
            "the results are right, but your function uses a Python loop (a `for`, `while` "
            "or comprehension). Let NumPy pick the rows for you."
        )
    if "one_hot_encoding" in _names_used(function) | {function.__name__}:
        raise NotYet(
            "the results are right, but your function calls one_hot_encoding. Build the "
            "vectors from the rows of an identity matrix instead."
        )


@_check("Your function computes the size of an array from its shape and data type alone.")
def bytes_needed(function):
    """Exercise: `bytes_needed(shape, dtype)` without creating the array."""
    cases = [
        ((60000, 784), np.uint8),
        ((60000, 784), np.float64),
        ((1000, 10), np.float32),
        ((7,), np.int16),
        ((3, 0), np.float64),
        ((2, 3, 4), "float64"),
    ]
    for shape, dtype in cases:
        result = _call(function, shape, dtype)
        if not isinstance(result, (int, np.integer)) or isinstance(result, bool):
            raise NotYet("return the number of bytes as a whole number (an int).")
        if int(result) != math.prod(shape) * np.dtype(dtype).itemsize:
            raise NotYet(
                "that is not the right number of bytes for every shape and data type. "
                "How many values does the array hold, and how many bytes does one take "
                "(np.dtype(...).itemsize)?"
            )
    huge = (10**7, 10**7)
    result = _call(function, huge, np.float64)
    if int(result) != 8 * 10**14:
        raise NotYet("the answer for a very large shape is wrong. Does your count overflow?")


@_check("Both samples are scaled with the statistics of the training sample alone.")
def standardize(function):
    """Exercise: `standardize(training, test)` with the training sample's mean and std."""
    rng = np.random.default_rng(5)
    training = rng.random((50, 6)) * 0.8
    test = rng.random((20, 6)) * 0.5 + 0.3
    result = _call(function, training, test)
    try:
        scaled_training, scaled_test = (np.asarray(part, dtype=float) for part in result)
    except Exception:
        raise NotYet(
            "return two arrays: the scaled training sample and the scaled test sample."
        ) from None
    if scaled_training.shape != training.shape or scaled_test.shape != test.shape:
        raise NotYet("each scaled array should have the shape of the array it came from.")
    mean, std = training.mean(), training.std()
    if not np.allclose(scaled_training, (training - mean) / std):
        if np.allclose(scaled_training.std(axis=0), 1):
            raise NotYet(
                "use one mean and one standard deviation for all pixels, not one per pixel."
            )
        raise NotYet(
            "the scaled training sample should have mean 0 and standard deviation 1: "
            "subtract its mean, then divide by its standard deviation."
        )
    if not np.allclose(scaled_test, (test - mean) / std):
        if np.isclose(scaled_test.mean(), 0) and np.isclose(scaled_test.std(), 1):
            raise NotYet(
                "the test sample was scaled with its own statistics. Scale it with the "
                "mean and standard deviation of the training sample."
            )
        raise NotYet("scale the test sample exactly as you scaled the training sample.")


# -- Lesson 3 -----------------------------------------------------------------------------


@_check("Your function turns scores and one-hot labels into the share of correct answers.")
def accuracy(function):
    """Exercise: `accuracy(scores, one_hot_labels)` returns a fraction between 0 and 1."""
    rng = np.random.default_rng(6)
    labels = rng.integers(0, 10, size=40)
    one_hot = _one_hot(labels)
    scores = rng.normal(size=(40, 10))
    scores[:25][np.arange(25), labels[:25]] += 10  # the first 25 are certainly right
    cases = [(scores, one_hot)]
    cases.append((scores[:1], one_hot[:1]))  # a single image
    wrong = one_hot.copy()[:5]
    cases.append((1 - wrong + rng.random((5, 10)) * 0.1, wrong))  # every answer wrong
    cases.append((one_hot[:7] * 3 + rng.random((7, 10)), one_hot[:7]))  # every answer right
    for case_scores, case_labels in cases:
        result = _call(function, case_scores, case_labels)
        try:
            value = float(result)
        except Exception:
            raise NotYet("return a single number, the share of correct predictions.") from None
        expected = np.mean(case_scores.argmax(axis=1) == case_labels.argmax(axis=1))
        if value > 1:
            raise NotYet(
                "your result is larger than 1. Did you count the correct predictions "
                "without dividing by the number of images?"
            )
        if not np.isclose(value, expected):
            raise NotYet(
                "compare, row by row, the position of the largest score with the position "
                "of the 1 in the label (which axis does np.argmax need?)."
            )


def _relu(x):
    return np.maximum(x, 0)


def _gradient_check_network(seed: int = 7):
    """A tiny network with some inactive hidden units, for the gradient checks."""
    rng = np.random.default_rng(seed)
    layer_0 = rng.random(6)
    weights_1 = rng.normal(size=(6, 8))
    weights_2 = rng.normal(size=(8, 3)) * 0.5
    label = np.array([0.0, 1.0, 0.0])
    return layer_0, weights_1, weights_2, label


def _numerical_gradient(loss, weights_1, eps=1e-6):
    numerical = np.zeros_like(weights_1)
    for index in np.ndindex(weights_1.shape):
        nudged = weights_1.copy()
        nudged[index] += eps
        up = loss(nudged)
        nudged[index] -= 2 * eps
        numerical[index] = (up - loss(nudged)) / (2 * eps)
    return numerical


def _relative_error(backprop, numerical):
    return np.max(np.abs(backprop - numerical)) / np.max(np.abs(numerical))


@_check("my_relu2deriv passes the gradient check, inactive units included.")
def my_relu2deriv(function):
    """Exercise: `my_relu2deriv(output)`, ReLU's slope computed from ReLU's output."""
    outputs = _relu(np.array([-1.5, -0.2, 0.0, 0.3, 2.0]))
    slope = _as_array(_call(function, outputs), "The slope")
    if slope.shape != outputs.shape:
        raise NotYet("return one slope per unit: an array with the shape of `output`.")
    if slope[outputs > 0].astype(float).tolist() != [1.0, 1.0]:
        raise NotYet("the slope of an active unit (output > 0) should be 1.")

    layer_0, weights_1, weights_2, label = _gradient_check_network()
    pre_activation = layer_0 @ weights_1

    def loss(weights):
        return 0.5 * np.sum((label - _relu(layer_0 @ weights) @ weights_2) ** 2)

    layer_1 = _relu(pre_activation)
    layer_2_delta = label - layer_1 @ weights_2
    derivative = _as_array(_call(function, layer_1), "The slope").astype(float)
    backprop = -np.outer(layer_0, (weights_2 @ layer_2_delta) * derivative)
    numerical = _numerical_gradient(loss, weights_1)
    error = _relative_error(backprop, numerical)
    if not error < 1e-6:
        wrong = ~np.isclose(backprop, numerical, rtol=1e-5, atol=1e-8).all(axis=0)
        if np.array_equal(wrong, pre_activation <= 0):
            raise NotYet(
                f"the gradient check fails (relative error {error:.1e}), and only on the "
                "inactive units, whose output is 0. What is ReLU's slope for them?"
            )
        raise NotYet(f"the gradient check fails (relative error {error:.1e}).")


@_check("Your function counts the inactive hidden units of every image.")
def inactive_units(function):
    """Exercise: `inactive_units(images, weights_1)` returns one count per image."""
    rng = np.random.default_rng(8)
    images = rng.random((6, 5))
    images[2] = 0.0  # a blank image: every weighted sum is exactly 0
    weights_1 = rng.normal(size=(5, 9))
    weights_1[:, 4] = np.abs(weights_1[:, 4])  # a unit that is active on every non-blank image
    expected = np.sum(images @ weights_1 <= 0, axis=1)
    result = _as_array(_call(function, images, weights_1), "The counts")
    if result.shape != (len(images),):
        raise NotYet("return one count per image: an array of shape (number of images,).")
    if not np.array_equal(result, expected):
        blank = np.arange(len(images)) == 2
        if np.array_equal(result[~blank], expected[~blank]):
            raise NotYet(
                "nearly right, but not for a blank image, whose weighted sums are exactly 0. "
                "Is a unit with output 0 active?"
            )
        if np.array_equal(result, weights_1.shape[1] - expected):
            raise NotYet("you counted the active units; the exercise asks for the inactive ones.")
        raise NotYet(
            "count, for each image, the hidden units whose weighted sum (before ReLU) is 0 "
            "or less. Sum along the right axis."
        )


@_check("Your hidden-layer delta gives the true gradient of a network with dropout.")
def hidden_layer_delta(function):
    """Exercise: `hidden_layer_delta(layer_2_delta, weights_2, layer_1, dropout_mask)`."""
    layer_0, weights_1, weights_2, label = _gradient_check_network(seed=9)
    dropout_mask = np.array([1, 0, 1, 1, 0, 1, 1, 0])
    pre_activation = layer_0 @ weights_1

    def loss(weights):
        hidden = _relu(layer_0 @ weights) * dropout_mask * 2
        return 0.5 * np.sum((label - hidden @ weights_2) ** 2)

    layer_1 = _relu(pre_activation) * dropout_mask * 2
    layer_2_delta = label - layer_1 @ weights_2
    result = _call(function, layer_2_delta, weights_2, layer_1, dropout_mask)
    delta = _as_array(result, "The delta").astype(float)
    if delta.shape != layer_1.shape:
        raise NotYet("return one delta per hidden unit: an array with the shape of layer_1.")
    backprop = -np.outer(layer_0, delta)
    numerical = _numerical_gradient(loss, weights_1)
    error = _relative_error(backprop, numerical)
    if not error < 1e-6:
        active = np.abs(numerical).sum(axis=0) > 0
        ratio = backprop[:, active] / numerical[:, active]
        if np.allclose(ratio, 0.5):
            raise NotYet(
                f"the gradient check fails (relative error {error:.1e}): your gradient points "
                "the right way but is too small by the same factor everywhere. What does the "
                "forward pass do to the units that survive dropout?"
            )
        raise NotYet(
            f"the gradient check fails (relative error {error:.1e}). Units that dropout "
            "switched off, and inactive units, took no part in the forward pass."
        )


# -- Lesson 4 -----------------------------------------------------------------------------


def _digit_accuracies(predicted, labels):
    """Per digit 0-9: the share of its images classified correctly (NaN if it has none)."""
    images = np.bincount(labels, minlength=10)
    right = np.bincount(labels[predicted == labels], minlength=10)
    with np.errstate(divide="ignore", invalid="ignore"):
        return right / images


@_check("Your function gives each digit's share of right answers, and NaN for a digit with none.")
def digit_accuracies(function):
    """Exercise: `digit_accuracies(predicted, labels)` returns one accuracy per digit 0-9."""
    rng = np.random.default_rng(10)
    labels = rng.integers(0, 10, size=400).astype(np.uint8)
    predicted = labels.copy()
    mistaken = rng.random(len(labels)) < 0.3
    predicted[mistaken] = rng.integers(0, 10, size=mistaken.sum())
    predicted[labels == 3] = 5  # every 3 is taken for a 5: many more 5s predicted than there are
    predicted[labels == 7] = 7  # every 7 is right
    present = labels != 9
    cases = [
        (predicted, labels),
        (predicted[present], labels[present]),  # no 9 among the labels, some among the predictions
        (np.array([4, 4, 0]), np.array([4, 2, 0])),  # three images: most digits have none
    ]
    for case_predicted, case_labels in cases:
        with np.errstate(all="ignore"):
            result = _as_array(_call(function, case_predicted, case_labels), "The result")
        if result.shape != (10,):
            raise NotYet(
                "return one accuracy per digit, always 10 numbers, even when some digit does "
                "not occur in the labels (what does `minlength` do?)."
            )
        result = result.astype(float)
        expected = _digit_accuracies(case_predicted, case_labels)
        occurs = ~np.isnan(expected)
        if not np.allclose(result[occurs], expected[occurs]):
            if np.any(result[occurs] > 1):
                raise NotYet(
                    "some results are larger than 1. Divide the number of right answers for "
                    "each digit by the number of images of that digit."
                )
            with np.errstate(all="ignore"):
                by_prediction = expected * np.bincount(case_labels, minlength=10)
                by_prediction /= np.bincount(case_predicted, minlength=10)
            if np.allclose(result[occurs], by_prediction[occurs], equal_nan=True):
                raise NotYet(
                    "you divided by how often each digit was predicted. The accuracy of a digit "
                    "divides by how many images of that digit there are."
                )
            raise NotYet(
                "for each digit d, divide the number of images of d that were classified as d "
                "by the number of images of d."
            )
        if not np.all(np.isnan(result[~occurs])):
            raise NotYet(
                "a digit that does not occur in the labels has no images to be right or wrong "
                "about, so it has no accuracy: give it np.nan (not a number), not 0 or 1."
            )


@_check("Your function stops training and picks the epoch to keep exactly as fit does.")
def early_stopping(function):
    """Exercise: `early_stopping(validation_losses, patience)` -> (epochs trained, epoch kept)."""
    cases = [
        # Still improving at the end: never stops early, keeps the last epoch.
        ([1.0, 0.8, 0.5, 0.4], 2, (4, 4)),
        # Worse after epoch 3; some later losses beat the one before them, never the best.
        ([0.9, 0.7, 0.6, 0.65, 0.62, 0.61, 0.64, 0.63], 3, (6, 3)),
        # A loss equal to the best so far is no improvement.
        ([0.5, 0.5, 0.5, 0.5], 2, (3, 1)),
        ([0.8, 0.6, 0.7, 0.5], 1, (3, 2)),
        ([0.3], 5, (1, 1)),
        (np.array([0.2, 0.3, 0.4, 0.5, 0.6, 0.7], dtype=np.float32), 4, (5, 1)),
    ]
    for losses, patience, (trained, kept) in cases:
        result = _call(function, losses, patience)
        try:
            found_trained, found_kept = (int(value) for value in result)
        except Exception:
            raise NotYet(
                "return two whole numbers: how many epochs were trained, and which epoch's "
                "weights are kept, for example as a tuple `(trained, kept)`."
            ) from None
        if (found_trained, found_kept) == (trained, kept):
            continue
        if (found_trained, found_kept) == (trained - 1, kept - 1):
            raise NotYet("count the epochs from 1, as fit does: the first epoch is epoch 1.")
        if found_kept != kept:
            raise NotYet(
                "the epoch kept should be the one with the lowest validation loss among the "
                "epochs trained. A loss that only equals the best so far is no improvement."
            )
        if found_trained == trained + 1:
            raise NotYet(
                "your training stops one epoch too late. Stop as soon as `patience` epochs in "
                "a row have brought no improvement."
            )
        if found_trained > trained:
            raise NotYet(
                "your training runs too long. Compare each loss with the best loss so far, "
                "not with the loss of the epoch before."
            )
        raise NotYet(
            "your training stops too early. Stop only after `patience` epochs in a row without "
            "a new best loss, and never before the losses run out otherwise."
        )


def _conv_forward(images, weights):
    """Conv2D's forward pass without bias: (n, rows, columns) -> (filters, n, rows', columns')."""
    k = math.isqrt(weights.shape[1])
    windows = np.lib.stride_tricks.sliding_window_view(images, (k, k), axis=(1, 2))
    return np.einsum("nrcij,fij->fnrc", windows, weights.reshape(-1, k, k))


def _conv_numerical_gradient(images, weights, grad):
    """Central differences of sum(conv(images) * grad) with respect to every pixel."""
    return _numerical_gradient(lambda nudged: np.sum(_conv_forward(nudged, weights) * grad), images)


@_check("Your input gradient of the convolution passes the gradient check, overlaps included.")
def conv_input_gradient(function):
    """Exercise: `conv_input_gradient(weights, grad)`, the gradient for Conv2D's images."""
    rng = np.random.default_rng(11)
    # (filters, filter side, image shape): non-square images, a single patch, 1 x 1 filters.
    cases = [(3, 3, (2, 6, 7)), (2, 4, (3, 9, 6)), (2, 5, (1, 5, 5)), (4, 1, (1, 3, 4))]
    for filters, k, shape in cases:
        images = rng.normal(size=shape)
        weights = rng.normal(size=(filters, k * k))
        grad = rng.normal(size=(filters, shape[0], shape[1] - k + 1, shape[2] - k + 1))
        result = _as_array(_call(function, weights, grad), "The gradient").astype(float)
        if result.shape != images.shape:
            raise NotYet(
                "return one gradient per pixel of the images: an array of shape (n, rows, "
                "columns), with rows = rows of the feature maps + k - 1 (the same for columns)."
            )
        numerical = _conv_numerical_gradient(images, weights, grad)
        error = _relative_error(result, numerical)
        if error < 1e-6:
            continue
        squares = weights.reshape(filters, k, k)
        for moved in (squares[:, ::-1, ::-1], squares.swapaxes(1, 2)):
            moved_numerical = _conv_numerical_gradient(images, moved.reshape(filters, -1), grad)
            if _relative_error(result, moved_numerical) < 1e-6:
                raise NotYet(
                    f"the gradient check fails (relative error {error:.1e}): your gradient "
                    "is right for filters that are rotated or transposed. Filter pixel (i, j) "
                    "multiplies the pixel in row i, column j of its patch."
                )
        corners = (slice(None), [0, 0, -1, -1], [0, -1, 0, -1])
        if np.allclose(result[corners], numerical[corners]):
            raise NotYet(
                f"the gradient check fails (relative error {error:.1e}), but not in the "
                "corners, which lie in a single patch each. A pixel inside the image lies in "
                "several patches: does your function add up what each of them sends back?"
            )
        raise NotYet(
            f"the gradient check fails (relative error {error:.1e}). Every filter, and every "
            "patch that contains a pixel, sends a share of the gradient back to that pixel."
        )
