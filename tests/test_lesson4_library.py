"""Lesson 4's library (``notebooks/lesson4_library.py``, generated from the lesson) behaves as
the lesson says it does."""

from __future__ import annotations

import numpy as np

import lesson4_library as lesson


def test_lesson_4_layers_train_like_train_batches():
    """Lesson 3's network as a list of layers learns exactly what train_batches learns."""
    rng = np.random.default_rng(3)
    images = rng.random((600, 784), dtype=np.float32)
    digits = rng.integers(0, 10, size=600)
    one_hot = np.eye(10, dtype=np.float32)[digits]
    weights_1, weights_2 = (
        w.astype(np.float32) for w in lesson.initialize_weights(np.random.default_rng(4), 100)
    )
    explicit_1, explicit_2 = weights_1.copy(), weights_2.copy()
    lesson.train_batches(
        images,
        one_hot,
        explicit_1,
        explicit_2,
        np.float32(0.5),
        128,
        np.random.default_rng(1),
        output_delta=lesson.cross_entropy_delta,
    )
    rng = np.random.default_rng(1)
    layers = [
        lesson.Linear(weights_1.copy(), bias=False, input_grad=False),
        lesson.ReLU(),
        lesson.Dropout(rng),
        lesson.Linear(weights_2.copy(), bias=False),
    ]
    velocities = [np.zeros_like(p) for p in lesson.parameters(layers)]
    order = rng.permutation(len(images))
    rates = np.full(5, 0.5, np.float32)
    lesson.train_steps(layers, velocities, images, digits, order, 128, rates, 0.0)
    assert not np.allclose(layers[0].W, weights_1)  # training moved the weights
    assert np.allclose(layers[0].W, explicit_1, atol=1e-6)
    assert np.allclose(layers[3].W, explicit_2, atol=1e-6)
