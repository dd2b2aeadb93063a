"""The checks of lesson 3: build and train the network."""

from __future__ import annotations

import numpy as np

from .core import (
    NotYet,
    _as_array,
    _call,
    _check,
    _numerical_gradient,
    _pair_of_arrays,
    _relative_error,
)

__all__ = [
    "accuracy",
    "backward_pass",
    "inactive_units",
    "hidden_layer_delta",
]


@_check(
    "Your function turns scores and one-hot labels into the share of correct answers.",
    hint=(
        "`argmax(axis=1)` gives the position of the highest value in each row. Compare the "
        "positions of the scores with those of the labels: the mean of that comparison is the "
        "share of matches."
    ),
)
def accuracy(function):
    """Exercise: `accuracy(scores, one_hot_labels)` returns a fraction between 0 and 1."""
    rng = np.random.default_rng(6)
    labels = rng.integers(0, 10, size=40)
    one_hot = np.eye(10)[labels]
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


@_check(
    "Both gradients have the right shape and sign, and pass the gradient check.",
    hint=(
        "Redo the forward pass first: `layer_1 = relu(layer_0 @ weights_1)`, `layer_2 = layer_1 "
        "@ weights_2`. The error at the output is `layer_2 - label`; each gradient is the outer "
        "product (`np.outer`) of a layer's input with the error at its output, and the hidden "
        "layer's error passes back through `weights_2` and `relu2deriv`."
    ),
)
def backward_pass(function):
    """Exercise: `backward_pass(layer_0, weights_1, weights_2, label)` returns both gradients."""
    layer_0, weights_1, weights_2, label = _gradient_check_network(seed=10)
    result = _call(function, layer_0, weights_1, weights_2, label)
    gradient_1, gradient_2 = _pair_of_arrays(
        result, "return a pair of arrays, (gradient_1, gradient_2), one per weight matrix."
    )
    if gradient_1.shape == weights_2.shape and gradient_2.shape == weights_1.shape:
        raise NotYet("return the two gradients in the order (gradient_1, gradient_2).")
    for name, gradient, weights in (
        ("gradient_1", gradient_1, weights_1),
        ("gradient_2", gradient_2, weights_2),
    ):
        if gradient.shape != weights.shape:
            raise NotYet(
                f"{name} should have the shape of the weights it belongs to. Which array "
                "stands first in the outer product, the layer's input or its delta?"
            )

    def loss_1(weights):
        return 0.5 * np.sum((label - _relu(layer_0 @ weights) @ weights_2) ** 2)

    def loss_2(weights):
        return 0.5 * np.sum((label - _relu(layer_0 @ weights_1) @ weights) ** 2)

    inactive = layer_0 @ weights_1 <= 0
    for name, gradient, numerical in (
        ("gradient_2", gradient_2, _numerical_gradient(loss_2, weights_2)),
        ("gradient_1", gradient_1, _numerical_gradient(loss_1, weights_1)),
    ):
        error = _relative_error(gradient, numerical)
        if error < 1e-6:
            continue
        if _relative_error(-gradient, numerical) < 1e-6:
            raise NotYet(
                f"{name} points downhill, the way the weights should move. That is the "
                "direction of the update; the gradient points uphill."
            )
        if _relative_error(gradient / 2, numerical) < 1e-6:
            raise NotYet(f"{name} is twice too large. The loss here is half the squared error.")
        wrong = ~np.isclose(gradient, numerical, rtol=1e-5, atol=1e-8).all(axis=0)
        if name == "gradient_1" and wrong.any() and not (wrong & ~inactive).any():
            raise NotYet(
                f"{name} fails the gradient check (relative error {error:.1e}) only on the "
                "inactive hidden units. What is ReLU's slope for them?"
            )
        raise NotYet(f"{name} fails the gradient check (relative error {error:.1e}).")


@_check(
    "Your function counts the inactive hidden units of every image.",
    hint=(
        "Compute the hidden layer of all images at once, `relu(images @ weights_1)`, then count "
        "the zeros in each row: comparing with 0 gives True or False, and summing along "
        "`axis=1` counts the Trues."
    ),
)
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


@_check(
    "Your hidden-layer delta gives the true gradient of a network with dropout.",
    hint=(
        "Start from `train`'s delta, `(weights_2 @ layer_2_delta) * relu2deriv(layer_1) * "
        "dropout_mask`. The forward pass multiplied each surviving unit by 2: by the chain "
        "rule, where does that 2 appear going backwards?"
    ),
)
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
