"""Speed and memory figures of lesson 4, measured on the machine it runs on.

    python benchmarks/benchmark.py [--threads N] [--repeats R]

The benchmark runs the lesson's own code. It reads
``notebooks/04-take-the-next-steps.md`` with jupytext and executes the cells tagged
``parameters`` and ``library`` (the cells that only define functions and classes, like
d2l's ``#@save``), so what it measures is exactly the code the lesson teaches, with the
lesson's hyperparameters. It prints:

- the machine: processor, cores, NumPy, BLAS and thread settings;
- samples per second of lesson 3's per-sample loop (``float64``, as in lesson 3) and of
  the mini-batch loops (step 2's network and the best model, both ``float32``);
- the time to 98 % test accuracy of the best model's recipe (training time only; the
  test set is evaluated after each epoch, outside the timed region);
- the GEMM peak: GFLOP/s of NumPy's matrix products alone, with the shapes and layouts
  of one training batch; the GFLOP/s that the whole training loop reaches; and the
  fraction of the peak;
- peak memory: the process's maximum resident set size, and the peak of the memory
  that NumPy allocated during one training run (tracemalloc).

``--threads N`` limits BLAS and OpenMP to N threads (it sets OMP_NUM_THREADS and
OPENBLAS_NUM_THREADS before NumPy is imported). Set MNIST_MIRRORS to a local copy of
MNIST to run offline.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
LESSON = NOTEBOOKS / "04-take-the-next-steps.md"
RUN_TAGS = {"parameters", "library"}


def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, help="limit BLAS/OpenMP to this many threads")
    parser.add_argument(
        "--repeats", type=int, default=3, help="timed runs of each measurement (default 3)"
    )
    return parser.parse_args(argv)


def lesson_code(path=LESSON):
    """Execute the lesson's `parameters` and `library` cells; return their namespace."""
    import jupytext

    namespace = {"__name__": "lesson4"}
    cells = [
        cell
        for cell in jupytext.read(path).cells
        if cell.cell_type == "code" and RUN_TAGS & set(cell.metadata.get("tags", []))
    ]
    if not cells:
        raise SystemExit(f"no cell tagged {sorted(RUN_TAGS)} in {path}")
    for number, cell in enumerate(cells):
        exec(compile(cell.source, f"<{path.name}: cell {number}>", "exec"), namespace)
    return namespace


def processor_name():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas_description(np):
    try:
        config = np.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # older NumPy, or a build without the information
        return "unknown"


def thread_description():
    names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    settings = ", ".join(f"{name}={os.environ[name]}" for name in names if name in os.environ)
    try:
        from threadpoolctl import threadpool_info

        pools = ", ".join(
            f"{pool['internal_api']} {pool['num_threads']} threads" for pool in threadpool_info()
        )
    except ImportError:
        pools = "threadpoolctl not installed"
    return f"{settings or 'no thread variables set'}; {pools}"


def timed(function, repeats):
    """Run function() `repeats` times; return the list of wall times in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return times


def spread(values, unit="s", digits=2):
    """'median (min-max)' of a list of numbers."""
    if len(values) == 1:
        return f"{values[0]:.{digits}f} {unit}"
    low, high = min(values), max(values)
    return f"{statistics.median(values):.{digits}f} {unit} ({low:.{digits}f}-{high:.{digits}f})"


def main(argv=None):
    args = parse_arguments(argv)
    if args.threads:
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[name] = str(args.threads)

    import numpy as np  # after the thread settings, which BLAS reads when it loads

    sys.path.insert(0, str(NOTEBOOKS))
    from mnist_lib import load_mnist, one_hot_encoding

    lesson = lesson_code()
    seed, batch_size = lesson["seed"], lesson["batch_size"]
    scale_images, fit, evaluate = lesson["scale_images"], lesson["fit"], lesson["evaluate"]
    build_mlp = lesson["build_mlp"]

    print("Lesson 4 benchmark")
    print(f"  machine:    {processor_name()}, {platform.machine()}")
    print(f"  cores:      {os.cpu_count()} logical, {len(os.sched_getaffinity(0))} usable")
    print(f"  software:   Python {platform.python_version()}, NumPy {np.__version__}")
    print(f"  BLAS:       {blas_description(np)}")
    print(f"  threads:    {thread_description()}")
    print(f"  repeats:    {args.repeats} (figures are median (min-max) where repeated)")
    print()

    x_train, y_train, x_test, y_test = load_mnist()
    training_images = scale_images(x_train)
    test_images = scale_images(x_test)
    n_train = len(training_images)

    # 1. Lesson 3's per-sample loop, float64, on the lesson's timing slice.
    sample = lesson["timing_sample"]
    slice_images = x_train[:sample] / 255
    slice_labels = one_hot_encoding(y_train[:sample])

    def per_sample_epoch():
        rng = np.random.default_rng(seed)
        weights_1, weights_2 = lesson["initialize_weights"](rng, lesson["hidden_size"])
        lesson["train_per_sample"](
            slice_images, slice_labels, weights_1, weights_2, lesson["learning_rate"], rng
        )

    per_sample_rates = [sample / t for t in timed(per_sample_epoch, args.repeats)]

    # 2. Step 2's mini-batch loop: the same network, float32, one epoch of 60,000 images.
    training_labels = one_hot_encoding(y_train).astype(np.float32)

    def mini_batch_epoch():
        rng = np.random.default_rng(seed)
        weights_1, weights_2 = (
            w.astype(np.float32) for w in lesson["initialize_weights"](rng, lesson["hidden_size"])
        )
        lesson["train_batches"](
            training_images,
            training_labels,
            weights_1,
            weights_2,
            np.float32(lesson["batch_learning_rate"]),
            batch_size,
            rng,
        )

    mini_batch_rates = [n_train / t for t in timed(mini_batch_epoch, args.repeats)]

    # 3. The best model's recipe on all 60,000 images, test accuracy after each epoch.
    sizes = [lesson["pixels_per_image"], lesson["best_hidden_size"], lesson["num_labels"]]
    epochs, target = lesson["best_epochs"], lesson["target_accuracy"]

    def train_best(validation=None):
        rng = np.random.default_rng(seed)
        layers = build_mlp(sizes, rng, init="he", bias=True, dropout=False)
        history = fit(
            layers,
            training_images,
            y_train,
            epochs=epochs,
            batch_size=batch_size,
            learning_rate=lesson["best_learning_rate"],
            final_learning_rate=0.0,
            momentum=lesson["momentum"],
            rng=rng,
            validation=validation,
        )
        return layers, history

    runs = [train_best(validation=(test_images, y_test)) for _ in range(args.repeats)]
    totals = [history["seconds"][-1] for _, history in runs]
    to_target, reached = [], []
    for _, history in runs:
        hits = [i for i, a in enumerate(history["validation_accuracy"]) if a >= target]
        reached.append(history["validation_accuracy"][-1])
        if hits:
            to_target.append(history["seconds"][hits[0]])
    final_accuracy = evaluate(runs[0][0], test_images, y_test)[1]
    best_rates = [epochs * n_train / t for t in totals]

    # 4. GEMM peak on the shapes of one batch, and the fraction the training reaches.
    peaks = [lesson["matmul_speed"](sizes, batch_size) for _ in range(args.repeats)]
    flops = lesson["mlp_training_flops"](sizes, epochs * n_train)
    achieved = [flops / t / 1e9 for t in totals]
    fraction = statistics.median(achieved) / statistics.median(peaks)

    # 5. Memory: NumPy's allocations during one training run, and the process's peak.
    tracemalloc.start()
    tracemalloc.reset_peak()
    baseline = tracemalloc.get_traced_memory()[0]
    train_best()
    traced_peak = tracemalloc.get_traced_memory()[1] - baseline
    tracemalloc.stop()
    max_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    max_rss_mib = max_rss / 1024 if sys.platform != "darwin" else max_rss / 2**20

    def row(label, value):
        print(f"  {label:<62}{value}")

    print("Samples per second")
    row("per-sample loop (lesson 3, 784-100-10, float64)", spread(per_sample_rates, "/s", 0))
    row(
        f"mini-batch loop (step 2, 784-100-10, float32, batch {batch_size})",
        spread(mini_batch_rates, "/s", 0),
    )
    row(
        f"best model (784-{sizes[1]}-10, float32, batch {batch_size}, momentum)",
        spread(best_rates, "/s", 0),
    )
    speed_up = statistics.median(mini_batch_rates) / statistics.median(per_sample_rates)
    row("speed-up of the mini-batch loop over the per-sample loop", f"{speed_up:.0f}x")
    print()
    print(f"Time to {target:.0%} test accuracy (best model, training time only)")
    if len(to_target) == len(runs):
        row("until the first epoch at or above the target", spread(to_target))
    else:
        row("runs that reached the target", f"{len(to_target)} of {len(runs)}")
    row(f"whole schedule ({epochs} epochs of {n_train:,} images)", spread(totals))
    row("per epoch", spread([t / epochs for t in totals]))
    row("test accuracy at the end", f"{final_accuracy:.4f}")
    print()
    print("Matrix products (GEMM)")
    row("peak: the products of one batch alone (float32)", spread(peaks, "GFLOP/s", 1))
    row("the whole training loop", spread(achieved, "GFLOP/s", 1))
    row("fraction of the peak reached by training (medians)", f"{fraction:.0%}")
    row("operations counted per epoch", f"{flops / epochs / 1e9:.1f} GFLOP")
    print()
    print("Memory")
    row("peak NumPy allocations during one training run", f"{traced_peak / 2**20:.1f} MiB")
    row("peak resident memory of the whole process", f"{max_rss_mib:.0f} MiB")
    if min(reached) < target:
        print(f"\nWARNING: a run ended below {target:.0%} test accuracy: {min(reached):.4f}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
