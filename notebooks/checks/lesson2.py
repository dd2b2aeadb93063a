"""The checks of lesson 2: preprocess the data."""

from __future__ import annotations

import math

import numpy as np

from mnist_lib import one_hot_encoding

from .core import (
    NotYet,
    _as_array,
    _call,
    _check,
    _names_used,
    _pair_of_arrays,
    _raises,
    _uses_a_loop,
)

__all__ = [
    "scale_symmetric",
    "one_hot_checked",
    "one_hot_without_loop",
    "bytes_needed",
    "standardize",
]


def _check_one_hot_result(function, labels, dimension=None):
    kwargs = {} if dimension is None else {"dimension": dimension}
    result = _as_array(_call(function, labels, **kwargs), "The encoded labels")
    expected = one_hot_encoding(labels, dimension or 10)
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


@_check(
    "Your function maps 0 to -1, 255 to 1, and every pixel in between on a straight line.",
    hint=(
        "Divide before you subtract, so that NumPy computes with floats and nothing wraps "
        "around. 0 must land on -1.0 and 255 on 1.0: by which number do you divide to stretch "
        "255 to 2.0?"
    ),
)
def scale_symmetric(function):
    """Exercise: `scale_symmetric(images)` maps uint8 pixels from [0, 255] to [-1, 1]."""
    rng = np.random.default_rng(11)
    cases = [
        np.arange(256, dtype=np.uint8),
        rng.integers(0, 256, size=(4, 784)).astype(np.uint8),
    ]
    for images in cases:
        result = _as_array(_call(function, images), "The scaled images")
        if result.shape != images.shape:
            raise NotYet("the result should have the shape of the images you were given.")
        if result.dtype != np.float64:
            raise NotYet(
                "the result should hold float64 numbers. Which operations keep uint8, and "
                "which give floating-point results?"
            )
        expected = images / 255 * 2 - 1
        if np.allclose(result, expected):
            continue
        if np.allclose(result, images / 255):
            raise NotYet("0 should become -1.0, not 0.0: shift the values as well as scaling them.")
        bright = images > 127
        if np.allclose(result[~bright], expected[~bright]):
            raise NotYet(
                "the dark pixels are right, but some bright ones are not. Did a uint8 "
                "intermediate result wrap around before the division?"
            )
        raise NotYet("0 should become -1.0, 255 should become 1.0, and 127.5 lies halfway.")


@_check(
    "Valid labels are encoded, and labels out of range raise ValueError.",
    hint=(
        "Look at the labels before encoding them: `np.any` of a condition that is true for a "
        "label below 0 or at least `dimension` tells you whether to raise. Then let "
        "`one_hot_encoding` do the rest."
    ),
)
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


@_check(
    "Your encoder matches one_hot_encoding, without a single Python loop.",
    hint=(
        "`np.eye(dimension)` has one row per class. Indexing an array with an array of whole "
        "numbers picks those rows, one per label, in order."
    ),
)
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


@_check(
    "Your function computes the size of an array from its shape and data type alone.",
    hint=(
        "The bytes of an array are its number of elements times the bytes of one element. "
        "`np.prod` multiplies the sizes in a shape, and `np.dtype(dtype).itemsize` gives one "
        "element's bytes. Never create the array itself."
    ),
)
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


@_check(
    "Both samples are scaled with the statistics of the training sample alone.",
    hint=(
        "Compute one mean and one standard deviation from `training` alone (`.mean()` and "
        "`.std()` without an axis give one number each), then scale both samples with those "
        "same two numbers, and return both."
    ),
)
def standardize(function):
    """Exercise: `standardize(training, test)` with the training sample's mean and std."""
    rng = np.random.default_rng(5)
    training = rng.random((50, 6)) * 0.8
    test = rng.random((20, 6)) * 0.5 + 0.3
    result = _call(function, training, test)
    scaled_training, scaled_test = _pair_of_arrays(
        result, "return two arrays: the scaled training sample and the scaled test sample."
    )
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
