"""The checks of lesson 1: load the MNIST dataset."""

from __future__ import annotations

import numpy as np

from .core import (
    NotYet,
    _as_array,
    _call,
    _check,
    _raises,
)

__all__ = [
    "read_label_header",
    "count_digits",
    "read_idx_header",
]


def _idx_header(type_code: int, sizes, payload: bytes = b"") -> bytes:
    """The bytes of an IDX header (big-endian), optionally followed by some data."""
    magic = bytes([0, 0, type_code, len(sizes)])
    return magic + np.asarray(sizes, dtype=">u4").tobytes() + payload


@_check(
    "Your function reads the magic number and the count of any label file header.",
    hint=(
        "The header is two 4-byte unsigned integers stored big-endian (most significant byte "
        "first). Which NumPy dtype string reads that, and which bytes of `data` hold them? Turn "
        "both into Python ints at the end."
    ),
)
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
                values = tuple(result)
                magic, number = (int(value) for value in values)
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
            if not all(isinstance(value, int) and not isinstance(value, bool) for value in values):
                raise NotYet(
                    "the numbers are right, but the exercise asks for Python ints. What type "
                    "does np.frombuffer give each value, and which built-in converts it?"
                )


@_check(
    "Your function counts every digit, also the ones that do not occur.",
    hint=(
        "`np.bincount` counts how often each whole number occurs. Look at its `minlength` "
        "argument: it makes a digit that never occurs still get its count of 0."
    ),
)
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


@_check(
    "Your function reads IDX headers of any number of dimensions and refuses non-IDX data.",
    hint=(
        "Byte 3 of the magic number holds the number of dimensions, and the sizes follow from "
        "byte 4 on, one big-endian 4-byte integer each. Look at `data[0]` and `data[1]` first, "
        "and raise ValueError unless both are 0."
    ),
)
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
