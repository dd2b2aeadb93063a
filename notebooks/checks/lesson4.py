"""The checks of lesson 4: take the next steps."""

from __future__ import annotations

import math

import numpy as np

from .core import (
    NotYet,
    _as_array,
    _call,
    _check,
    _none_hint,
    _numerical_gradient,
    _relative_error,
)

__all__ = [
    "cross_entropy_gradient",
    "digit_accuracies",
    "early_stopping",
    "conv_input_gradient",
]


def _mean_cross_entropy(scores, labels):
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -np.mean(log_p[np.arange(len(labels)), labels])


@_check(
    "Your gradient matches finite differences of the mean cross-entropy, large scores too.",
    hint=(
        "After softmax, the gradient of the cross-entropy of one image is its probabilities "
        "minus its one-hot label; for the mean over the batch, divide by the batch size. "
        "Subtract each row's maximum before `np.exp`, so that large scores do not overflow, and "
        "leave `scores` unchanged."
    ),
)
def cross_entropy_gradient(function):
    """Exercise: `cross_entropy_gradient(scores, labels)`, the gradient of the mean loss."""
    rng = np.random.default_rng(12)
    for batch in (1, 4, 7):
        scores = rng.normal(scale=2.0, size=(batch, 10))
        labels = rng.integers(0, 10, size=batch)
        given = scores.copy()
        try:
            result = function(given, labels)
        except Exception as error:
            raise NotYet(
                f"your function raised {type(error).__name__}: {error}. The labels are whole "
                "numbers (one digit per image), not one-hot rows."
            ) from None
        if result is None:
            raise NotYet(_none_hint(function))
        if not np.array_equal(given, scores):
            raise NotYet("your function changed the scores it was given; work on a new array.")
        result = _as_array(result, "The gradient").astype(float)
        if result.shape != scores.shape:
            raise NotYet("return one number per score: an array of the same shape as `scores`.")
        numerical = _numerical_gradient(lambda s, y=labels: _mean_cross_entropy(s, y), scores)
        if np.allclose(result, numerical, atol=1e-7):
            continue
        if np.allclose(-result, numerical, atol=1e-7):
            raise NotYet("your gradient points downhill. The gradient points uphill: P - Y.")
        if np.allclose(result / batch, numerical, atol=1e-7) and batch > 1:
            raise NotYet("the loss is the *mean* over the batch: divide by the batch size.")
        if not np.allclose(result.sum(axis=1), 0, atol=1e-9):
            raise NotYet(
                "each row of the gradient should add up to 0, since the probabilities add up "
                "to 1 and the label's one-hot row does too. Did you subtract the label?"
            )
        raise NotYet("compare your gradient with step 3's formula, one image at a time.")
    large = np.array([[800.0, 10.0, -300.0] + [0.0] * 7])
    with np.errstate(all="ignore"):
        result = _as_array(_call(function, large, np.array([0])), "The gradient").astype(float)
    if not np.all(np.isfinite(result)):
        raise NotYet("scores in the hundreds overflow `np.exp`: subtract each row's maximum first.")


def _digit_accuracies(predicted, labels):
    """Per digit 0-9: the share of its images classified correctly (NaN if it has none)."""
    images = np.bincount(labels, minlength=10)
    right = np.bincount(labels[predicted == labels], minlength=10)
    with np.errstate(divide="ignore", invalid="ignore"):
        return right / images


@_check(
    "Your function gives each digit's share of right answers, and NaN for a digit with none.",
    hint=(
        "For each digit d, pick the images labelled d (`labels == d`) and take the mean of "
        "`predicted == d` over them. When no image is labelled d, return `np.nan` for it "
        "instead of dividing by zero."
    ),
)
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


@_check(
    "Your function stops training and picks the epoch to keep exactly as fit does.",
    hint=(
        "Walk through the losses with the best loss so far and the epoch it came from (epochs "
        "count from 1). Stop as soon as `patience` epochs have passed since the best one, and "
        "return the epoch you stopped at and the best epoch; if it never stops, all epochs were "
        "trained."
    ),
)
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


@_check(
    "Your input gradient of the convolution passes the gradient check, overlaps included.",
    hint=(
        "Start from zeros in the images' shape. `weights.T @ grad.reshape(filters, -1)` gives "
        "one row per filter pixel (i, j): reshape that row to (n, rows, columns) and add it "
        "into the images' slice that starts at row i and column j."
    ),
)
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
