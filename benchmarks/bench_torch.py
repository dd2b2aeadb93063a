"""The lesson's best model trained in PyTorch (CPU), side by side with the lesson's NumPy code.

Only ``nox -s bench -- --torch`` installs PyTorch; the tutorial never needs it. Both sides
train the same network from the very same starting weights, on the same shuffled batches
(index batching: ``images[batch]``), with the same learning-rate schedule and momentum, and
the same number of threads (with the lesson's "auto", PyTorch gets every core, its default,
and NumPy every core while the machine is otherwise idle). PyTorch's SGD keeps its momentum as ``m * v + gradient`` and
multiplies by the learning rate afterwards; the lesson's ``m * v - rate * gradient`` differs
only while the rate changes, by a negligible amount here.
"""

from __future__ import annotations

import math
import statistics
import time

import numpy as np
from bench_report import epoch_times, first_epoch_at


def torch_model(bench, seed):
    """The best model as a torch Sequential, with the lesson's starting weights for `seed`."""
    import torch

    layers, rng = bench.build(seed)
    linears = [layer for layer in layers if hasattr(layer, "W")]
    modules = []
    for i, layer in enumerate(linears):
        linear = torch.nn.Linear(*layer.W.shape)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(layer.W.T)))
            linear.bias.copy_(torch.from_numpy(layer.b))
        modules.append(linear)
        if i < len(linears) - 1:
            modules.append(torch.nn.ReLU())
    return torch.nn.Sequential(*modules), rng


def torch_fit(bench, seed, data):
    """Train the recipe in PyTorch; return training seconds and test accuracy per epoch."""
    import torch
    import torch.nn.functional as F

    images, labels, test_images, test_labels = data
    model, rng = torch_model(bench, seed)
    lesson, batch_size = bench.lesson, bench.batch_size
    batches = math.ceil(len(images) / batch_size)
    rates = np.linspace(lesson.best_learning_rate, 0.0, bench.epochs * batches, endpoint=False)
    optimizer = torch.optim.SGD(model.parameters(), lr=rates[0], momentum=lesson.momentum)
    seconds, history = 0.0, {"seconds": [], "accuracy": []}
    for epoch in range(bench.epochs):
        order = torch.from_numpy(rng.permutation(len(images)))
        start = time.perf_counter()
        for step in range(batches):
            batch = order[step * batch_size : (step + 1) * batch_size]
            optimizer.param_groups[0]["lr"] = rates[epoch * batches + step]
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(model(images[batch]), labels[batch]).backward()
            optimizer.step()
        seconds += time.perf_counter() - start
        with torch.no_grad():
            accuracy = (model(test_images).argmax(dim=1) == test_labels).double().mean().item()
        history["seconds"].append(seconds)
        history["accuracy"].append(accuracy)
    return history


def measure_torch(bench, rounds):
    """Interleaved rounds of NumPy and PyTorch on seeds 0, 1, ...; per-round time ratios."""
    import torch

    torch.set_num_threads(bench.cores if bench.threads == "auto" else bench.threads)
    test_images, test_labels = bench.test_set
    data = [
        torch.from_numpy(bench.images),
        torch.from_numpy(bench.y_train.astype(np.int64)),
        torch.from_numpy(test_images),
        torch.from_numpy(test_labels.astype(np.int64)),
    ]
    record = {"version": torch.__version__, "threads": torch.get_num_threads()}
    for key in ("numpy_epoch", "torch_epoch", "epoch_ratios", "numpy_to_target"):
        record[key] = []
    record.update(torch_to_target=[], target_ratios=[], torch_final=[])
    for seed in range(rounds):
        sides = {}
        for side in ("numpy", "torch") if seed % 2 == 0 else ("torch", "numpy"):  # A/B, B/A
            if side == "numpy":
                history = bench.train(seed, test_set=bench.test_set)
                accuracies = history["validation_accuracy"]  # of the test set
            else:
                history = torch_fit(bench, seed, data)
                accuracies = history["accuracy"]
            epoch = first_epoch_at(accuracies, bench.target)
            to_target = None if epoch is None else history["seconds"][epoch - 1]
            sides[side] = (epoch_times(history), to_target, accuracies[-1])
        (numpy_epochs, numpy_target, _), (torch_epochs, torch_target, final) = (
            sides["numpy"],
            sides["torch"],
        )
        record["numpy_epoch"] += numpy_epochs
        record["torch_epoch"] += torch_epochs
        record["epoch_ratios"].append(
            statistics.median(numpy_epochs) / statistics.median(torch_epochs)
        )
        record["numpy_to_target"].append(numpy_target)
        record["torch_to_target"].append(torch_target)
        record["torch_final"].append(final)
        if numpy_target and torch_target:
            record["target_ratios"].append(numpy_target / torch_target)
    return record
