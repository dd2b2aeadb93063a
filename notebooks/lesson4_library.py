"""Lesson 4's defaults and reusable code: its cells tagged `parameters` and `library`.

Generated from notebooks/04-take-the-next-steps.md by `nox -s library`; do not edit by hand.
Edit the lesson, then run `nox -s library` again.
"""

seed = 884736743  # lesson 3's seed: every random number of the lesson comes from it
blas_threads = "auto"  # threads of NumPy's matrix products: "auto", or a number such as 1


import math
import time

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from mnist_lib import adapt_blas_threads


pixels_per_image = 784
num_labels = 10


def scale_images(images, dtype=np.float32):
    """Pixels from 0-255 integers to floats in [0, 1], without a float64 detour."""
    scaled = images.astype(dtype)
    scaled /= 255
    return scaled


# Lesson 3's network and its per-image training.
hidden_size = 100
learning_rate = 0.005
epochs = 20
timing_sample = 2_000  # images to time the per-image loop on


def relu(x):
    """Rectified linear unit: x where x > 0, and 0 elsewhere."""
    return np.maximum(x, 0)


def relu2deriv(output):
    """ReLU's slope from its output: 1 for an active unit (output > 0), 0 otherwise."""
    return output > 0


def initialize_weights(rng, hidden_size):
    """Lesson 3's starting weights: weights_1, then weights_2, uniform in [-0.1, 0.1)."""
    weights_1 = 0.2 * rng.random((pixels_per_image, hidden_size)) - 0.1
    weights_2 = 0.2 * rng.random((hidden_size, num_labels)) - 0.1
    return weights_1, weights_2


def train_per_sample(training_images, training_labels, weights_1, weights_2, learning_rate, rng):
    """One epoch of lesson 3's training: one weight update per image, in place."""
    for i in range(len(training_images)):
        layer_0 = training_images[i]
        layer_1 = relu(layer_0 @ weights_1)
        dropout_mask = rng.integers(low=0, high=2, size=layer_1.shape)
        layer_1 *= dropout_mask * 2
        layer_2 = layer_1 @ weights_2

        layer_2_delta = training_labels[i] - layer_2
        layer_1_delta = (weights_2 @ layer_2_delta) * relu2deriv(layer_1)
        layer_1_delta *= dropout_mask

        weights_1 += learning_rate * np.outer(layer_0, layer_1_delta)
        weights_2 += learning_rate * np.outer(layer_1, layer_2_delta)


batch_size = 128
batch_learning_rate = 0.5


def dropout_mask(shape, rng, dtype=np.float32):
    """Keep each unit with probability 1/2; the survivors get a 2, the others a 0."""
    mask = (rng.random(shape, dtype=np.float32) < 0.5).astype(dtype)
    mask *= 2
    return mask


def squared_error_delta(layer_2, labels):
    """The direction in which the squared error wants the scores to move."""
    return labels - layer_2


def train_batches(
    training_images,
    training_labels,
    weights_1,
    weights_2,
    learning_rate,
    batch_size,
    rng,
    output_delta=squared_error_delta,
):
    """One epoch of mini-batch gradient descent on lesson 3's network, in place."""
    order = rng.permutation(len(training_images))
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        layer_0 = training_images[batch]  # (batch, 784)
        labels = training_labels[batch]  # (batch, 10), one-hot

        layer_1 = relu(layer_0 @ weights_1)  # (batch, hidden)
        mask = dropout_mask(layer_1.shape, rng, layer_1.dtype)
        layer_1 *= mask
        layer_2 = layer_1 @ weights_2  # (batch, 10)

        layer_2_delta = output_delta(layer_2, labels)
        layer_1_delta = (layer_2_delta @ weights_2.T) * relu2deriv(layer_1)
        layer_1_delta *= mask

        step = learning_rate / len(batch)  # the average of the per-image updates
        weights_1 += step * (layer_0.T @ layer_1_delta)
        weights_2 += step * (layer_1.T @ layer_2_delta)


def accuracy_of_weights(weights_1, weights_2, images, labels):
    """The share of images whose highest score is the true digit (no dropout)."""
    scores = relu(images @ weights_1) @ weights_2
    return np.mean(scores.argmax(axis=1) == labels)


def softmax(scores):
    """Probabilities from scores, row by row (numerically stable)."""
    shifted = scores - scores.max(axis=-1, keepdims=True)
    exps = np.exp(shifted)
    return exps / exps.sum(axis=-1, keepdims=True)


def cross_entropy(probabilities, labels):
    """The mean cross-entropy of probabilities (one row per image) and one-hot labels."""
    return -np.sum(labels * np.log(probabilities)) / len(labels)


def cross_entropy_delta(layer_2, labels):
    """The direction in which softmax with cross-entropy wants the scores to move."""
    return labels - softmax(layer_2)


def numerical_gradient(loss, array, eps=1e-6, indices=None):
    """Central differences of loss() with respect to the entries of array (nudged in place)."""
    if indices is None:
        indices = list(np.ndindex(array.shape))
    gradient = np.zeros(len(indices))
    for n, index in enumerate(indices):
        saved = array[index]
        array[index] = saved + eps
        loss_up = loss()
        array[index] = saved - eps
        loss_down = loss()
        array[index] = saved
        gradient[n] = (loss_up - loss_down) / (2 * eps)
    return gradient


def cmp(name, backprop, numerical):
    """Print and return how far a backprop gradient is from the numerical one."""
    backprop, numerical = np.ravel(backprop), np.ravel(numerical)
    max_error = np.max(np.abs(backprop - numerical))
    relative_error = max_error / max(np.max(np.abs(numerical)), 1e-12)
    print(f"{name:32} max abs error {max_error:.1e}   relative error {relative_error:.1e}")
    return relative_error


class Linear:
    """A fully connected layer: x @ W (+ b)."""

    def __init__(self, weights, bias=True, input_grad=True):
        self.W = weights
        self.b = np.zeros(weights.shape[1], weights.dtype) if bias else None
        self.params = [self.W] if self.b is None else [self.W, self.b]
        self.input_grad = input_grad

    def forward(self, x, training=False):
        self.x = x
        out = x @ self.W
        if self.b is not None:
            out += self.b
        return out

    def backward(self, grad):
        self.grads = [self.x.T @ grad]  # the sum over the batch of the outer products
        if self.b is not None:
            self.grads.append(grad.sum(axis=0))
        if self.input_grad:
            return grad @ self.W.T


class ReLU:
    """ReLU, computed in place on its input."""

    params = []

    def forward(self, x, training=False):
        self.out = np.maximum(x, 0, out=x)
        return self.out

    def backward(self, grad):
        grad *= relu2deriv(self.out)
        return grad


class Dropout:
    """Lesson 3's dropout during training (keep 1/2, double the survivors); nothing at test time."""

    params = []

    def __init__(self, rng):
        self.rng = rng

    def forward(self, x, training=False):
        if not training:
            return x
        self.mask = dropout_mask(x.shape, self.rng, x.dtype)
        x *= self.mask
        return x

    def backward(self, grad):
        grad *= self.mask
        return grad


def forward(layers, x, training=False):
    for layer in layers:
        x = layer.forward(x, training)
    return x


def backward(layers, grad):
    for layer in reversed(layers):
        grad = layer.backward(grad)


def parameters(layers):
    return [param for layer in layers for param in layer.params]


def gradients(layers):
    return [grad for layer in layers if layer.params for grad in layer.grads]


def softmax_cross_entropy(scores, labels):
    """Mean cross-entropy of integer labels, and its gradient, computed in place in scores."""
    rows = np.arange(len(labels))
    scores -= scores.max(axis=1, keepdims=True)
    np.exp(scores, out=scores)
    scores /= scores.sum(axis=1, keepdims=True)  # now the probabilities
    loss = -np.mean(np.log(scores[rows, labels]))
    scores[rows, labels] -= 1  # P - Y
    scores /= len(labels)  # the mean over the batch
    return float(loss), scores


def train_steps(layers, velocities, images, labels, order, batch_size, learning_rates, momentum):
    """One step of gradient descent with momentum per batch of `order`; returns the mean loss."""
    params = parameters(layers)
    total_loss = 0.0
    for step, start in enumerate(range(0, len(order), batch_size)):
        if step % 8 == 0:
            adapt_blas_threads()  # every core only while the machine is otherwise idle
        batch = order[start : start + batch_size]
        scores = forward(layers, images[batch], training=True)
        loss, grad = softmax_cross_entropy(scores, labels[batch])
        total_loss += loss * len(batch)
        grad *= learning_rates[step]  # scales every parameter's gradient (see the text)
        backward(layers, grad)
        for param, step_size, velocity in zip(params, gradients(layers), velocities, strict=True):
            velocity *= momentum
            velocity -= step_size
            param += velocity
    adapt_blas_threads(done=True)  # back to one thread
    return total_loss / len(order)


def evaluate(layers, images, labels, chunk=500):
    """Mean cross-entropy and accuracy, computed chunk by chunk to bound the memory used."""
    total_loss, correct = 0.0, 0
    for start in range(0, len(images), chunk):
        scores = forward(layers, images[start : start + chunk])
        correct += np.count_nonzero(scores.argmax(axis=1) == labels[start : start + chunk])
        loss, _ = softmax_cross_entropy(scores, labels[start : start + chunk])
        total_loss += loss * len(scores)
    return total_loss / len(images), correct / len(images)


def predict(layers, images, chunk=500):
    """The predicted digit of every image."""
    return np.concatenate(
        [forward(layers, images[s : s + chunk]).argmax(axis=1) for s in range(0, len(images), chunk)]
    )


def build_mlp(
    layer_sizes, rng, *, init="uniform", bias=False, dropout=True, batch_norm=False,
    dtype=np.float32,
):
    """A multilayer perceptron as a list of layers, e.g. build_mlp([784, 100, 10], rng)."""
    layers = []
    n_layers = len(layer_sizes) - 1
    for i, (n_in, n_out) in enumerate(zip(layer_sizes[:-1], layer_sizes[1:], strict=True)):
        if init == "uniform":  # lesson 3: uniform in [-0.1, 0.1)
            weights = 0.2 * rng.random((n_in, n_out)) - 0.1
        else:  # "he": normal with variance 2 / n_in (He et al., 2015)
            weights = rng.standard_normal((n_in, n_out)) * np.sqrt(2 / n_in)
        layers.append(Linear(weights.astype(dtype), bias=bias, input_grad=i > 0))
        if i < n_layers - 1:  # every layer but the last is followed by ReLU
            if batch_norm:
                layers.append(BatchNorm(n_out, dtype))
            layers.append(ReLU())
            if dropout:
                layers.append(Dropout(rng))
    return layers


def fit(
    layers, images, labels, *, epochs, batch_size, learning_rate, rng, final_learning_rate=None,
    momentum=0.0, validation=None, patience=None, checks_per_epoch=1, verbose=False,
):
    """Train layers in place by mini-batch gradient descent on softmax cross-entropy.

    The learning rate goes linearly from learning_rate to final_learning_rate over all the
    batches (it stays constant if final_learning_rate is None). With validation=(images,
    labels), the validation loss and accuracy are measured checks_per_epoch times per epoch;
    with patience, training stops when the validation loss has not improved for that many
    epochs, and the parameters of the best epoch are put back. Returns the history.
    """
    if final_learning_rate is None:
        final_learning_rate = learning_rate
    params = parameters(layers)
    velocities = [np.zeros_like(p) for p in params]
    batches = math.ceil(len(images) / batch_size)
    learning_rates = np.linspace(
        learning_rate, final_learning_rate, epochs * batches, endpoint=False, dtype=images.dtype
    )
    history = {key: [] for key in ("epoch", "seconds", "training_loss")}
    history.update(validation_loss=[], validation_accuracy=[], best_epoch=None)
    best_loss, best_params, seconds = np.inf, None, 0.0
    for epoch in range(epochs):
        order = rng.permutation(len(images))
        for part in np.array_split(np.arange(batches), checks_per_epoch):
            start = time.perf_counter()
            part_order = order[part[0] * batch_size : (part[-1] + 1) * batch_size]
            part_rates = learning_rates[epoch * batches + part]
            training_loss = train_steps(
                layers, velocities, images, labels, part_order, batch_size, part_rates, momentum
            )
            seconds += time.perf_counter() - start
            history["epoch"].append(epoch + (part[-1] + 1) / batches)
            history["seconds"].append(seconds)
            history["training_loss"].append(training_loss)
            if validation is not None:
                validation_loss, validation_accuracy = evaluate(layers, *validation)
                history["validation_loss"].append(validation_loss)
                history["validation_accuracy"].append(validation_accuracy)
        if verbose:
            line = f"epoch {epoch + 1:2d}: {seconds:5.2f} s  training loss {training_loss:.4f}"
            if validation is not None:
                line += f"  validation loss {validation_loss:.4f}"
                line += f"  validation accuracy {validation_accuracy:.4f}"
            print(line)
        if validation is not None and patience is not None:
            if validation_loss < best_loss:
                best_loss, history["best_epoch"] = validation_loss, epoch + 1
                best_params = [p.copy() for p in params]
            elif epoch + 1 - history["best_epoch"] >= patience:
                print(f"early stop: no improvement since epoch {history['best_epoch']}")
                break
    if best_params is not None:
        for param, best in zip(params, best_params, strict=True):
            param[...] = best
    return history


class BatchNorm:
    """Batch normalisation of each unit, with a learned scale (gamma) and shift (beta)."""

    def __init__(self, size, dtype=np.float32, momentum=0.9, eps=1e-5):
        self.gamma = np.ones(size, dtype)
        self.beta = np.zeros(size, dtype)
        self.params = [self.gamma, self.beta]
        self.running_mean = np.zeros(size, dtype)
        self.running_var = np.ones(size, dtype)
        self.momentum, self.eps = momentum, eps

    def forward(self, x, training=False):
        if training:
            mean, var = x.mean(axis=0), x.var(axis=0)
            self.running_mean *= self.momentum
            self.running_mean += (1 - self.momentum) * mean
            self.running_var *= self.momentum
            self.running_var += (1 - self.momentum) * var
        else:
            mean, var = self.running_mean, self.running_var
        self.inv_std = 1 / np.sqrt(var + self.eps)
        self.x_hat = (x - mean) * self.inv_std
        return self.x_hat * self.gamma + self.beta

    def backward(self, grad):
        self.grads = [(grad * self.x_hat).sum(axis=0), grad.sum(axis=0)]
        g = grad * self.gamma
        return self.inv_std * (g - g.mean(axis=0) - self.x_hat * (g * self.x_hat).mean(axis=0))


# The best model's recipe: size and learning rate chosen with the sweep below.
best_hidden_size = 256
best_learning_rate = 0.2
best_batch_size = 96
momentum = 0.9
best_epochs = 3
target_accuracy = 0.98  # "about 98 %" of the test digits
accuracy_tolerance = 0.005  # "about": within half a percentage point


def check_gradients(layers, images, labels, rng, entries=8):
    """Compare backprop with central differences on a few entries of every parameter."""

    def loss():
        return softmax_cross_entropy(forward(layers, images, training=True), labels)[0]

    _, grad = softmax_cross_entropy(forward(layers, images, training=True), labels)
    backward(layers, grad)
    worst = 0.0
    for number, layer in enumerate(layers):
        if not layer.params:
            continue
        for k, (param, analytic) in enumerate(zip(layer.params, layer.grads, strict=True)):
            picks = rng.choice(param.size, size=min(entries, param.size), replace=False)
            indices = [np.unravel_index(flat, param.shape) for flat in picks]
            numerical = numerical_gradient(loss, param, indices=indices)
            label = f"layer {number} {type(layer).__name__}.params[{k}]"
            worst = max(worst, cmp(label, analytic[tuple(np.transpose(indices))], numerical))
    return worst


class Conv2D:
    """'Valid' convolution of one-channel images (n, rows, columns) with filters (filters, k * k)."""

    def __init__(self, weights):
        self.W = weights
        self.b = np.zeros(len(weights), weights.dtype)
        self.params = [self.W, self.b]
        self.k = math.isqrt(weights.shape[1])

    def forward(self, images, training=False):
        windows = sliding_window_view(images, (self.k, self.k), axis=(1, 2))  # a view
        n, rows, columns = windows.shape[:3]
        # (k, k, n, rows, columns) -> (k * k, n * rows * columns): the one copy.
        self.columns = windows.transpose(3, 4, 0, 1, 2).reshape(self.k * self.k, -1)
        out = self.W @ self.columns
        out += self.b[:, None]
        return out.reshape(len(self.W), n, rows, columns)

    def backward(self, grad):
        grad = grad.reshape(len(self.W), -1)
        self.grads = [grad @ self.columns.T, grad.sum(axis=1)]
        # No gradient for the images: this is the first layer.


class MaxPool2:
    """The maximum of every 2 x 2 block of the last two axes."""

    params = []

    def forward(self, x, training=False):
        *lead, rows, columns = x.shape
        self.blocks = x.reshape(*lead, rows // 2, 2, columns // 2, 2)
        b = self.blocks
        top = np.maximum(b[..., 0, :, 0], b[..., 0, :, 1])
        bottom = np.maximum(b[..., 1, :, 0], b[..., 1, :, 1])
        self.out = np.maximum(top, bottom)
        return self.out

    def backward(self, grad):
        dx = np.zeros(self.blocks.shape, grad.dtype)
        taken = np.zeros(self.out.shape, dtype=bool)
        for i in (0, 1):
            for j in (0, 1):
                winner = self.blocks[..., i, :, j] == self.out
                winner &= ~taken  # on a tie, the first position gets the gradient
                taken |= winner
                dx[..., i, :, j] = grad * winner
        return dx.reshape(*self.out.shape[:-2], 2 * self.out.shape[-2], 2 * self.out.shape[-1])


class Flatten:
    """(filters, n, rows, columns) -> (n, filters * rows * columns)."""

    params = []

    def forward(self, x, training=False):
        self.shape = x.shape
        return x.swapaxes(0, 1).reshape(x.shape[1], -1)

    def backward(self, grad):
        filters, n, rows, columns = self.shape
        return grad.reshape(n, filters, rows, columns).swapaxes(0, 1)


def build_cnn(filters, kernel_size, rng, image_side=28, dtype=np.float32):
    """Conv2D -> ReLU -> MaxPool2 -> Flatten -> Linear, with He initialisation."""
    side = (image_side - kernel_size + 1) // 2
    conv_weights = rng.standard_normal((filters, kernel_size**2)) * np.sqrt(2 / kernel_size**2)
    n_pooled = filters * side * side
    dense_weights = rng.standard_normal((n_pooled, num_labels)) * np.sqrt(2 / n_pooled)
    return [
        Conv2D(conv_weights.astype(dtype)),
        ReLU(),
        MaxPool2(),
        Flatten(),
        Linear(dense_weights.astype(dtype)),
    ]
