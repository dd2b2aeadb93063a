"""Speed, robustness and memory figures of lesson 4, measured on the machine it runs on.

    python benchmarks/benchmark.py [--threads N] [--repeats R] [--seeds S] [--torch] [--own-kernel]

The benchmark runs the lesson's own code: it imports ``notebooks/lesson4_library.py``, which
``nox -s library`` writes from the lesson's cells tagged ``parameters`` and ``library``, so it
times the code the lesson teaches, with the lesson's recipe and the lesson's number of BLAS threads
(``blas_threads``; ``--threads N`` overrides it). Each measurement returns a record; one
report prints them all. See ``benchmarks/README.md`` for what each figure means.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
KERNEL_SETTINGS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")  # they override OpenBLAS's choice
LOAD_SAMPLE = 12_000  # images per timed run under load (all cores collapse: keep it short)
sys.path[:0] = [str(NOTEBOOKS), str(Path(__file__).resolve().parent)]

from bench_report import SQUARE, epoch_times, first_epoch_at, report  # noqa: E402

import lesson4_library  # noqa: E402
from mnist_lib import MIN_INTERVAL, load_mnist, one_hot_encoding, use_blas_threads  # noqa: E402


def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, help="BLAS threads (default: the lesson's, auto)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per figure (3)")
    parser.add_argument("--seeds", type=int, default=10, help="seeds of the recipe check (10)")
    parser.add_argument("--torch", action="store_true", help="also train the network in PyTorch")
    parser.add_argument("--rounds", type=int, default=6, help="NumPy/PyTorch rounds (6)")
    parser.add_argument(
        "--own-kernel",
        action="store_true",
        help="let OpenBLAS pick its kernel: run without " + " and ".join(KERNEL_SETTINGS),
    )
    return parser.parse_args(argv)


class Bench:
    """The lesson's code and recipe, the data, and the thread count of the measurements."""

    def __init__(self, threads=None):
        self.lesson = lesson = lesson4_library
        self.threads = threads or lesson.blas_threads
        self.cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
        x_train, self.y_train, x_test, self.y_test = load_mnist(progress=False)
        self.x_train = x_train
        self.images = lesson.scale_images(x_train)
        self.test_set = (lesson.scale_images(x_test), self.y_test)
        self.sizes = [lesson.pixels_per_image, lesson.best_hidden_size, lesson.num_labels]
        self.batch_size = lesson.best_batch_size
        self.epochs, self.target = lesson.best_epochs, lesson.target_accuracy
        self.tolerance = lesson.accuracy_tolerance  # the lesson asserts target +- tolerance
        self.seed = lesson.seed
        self.training_flops_per_epoch = training_flops(self.sizes, len(self.images))

    def build(self, seed):
        """The best model's starting layers and the generator that then shuffles the batches."""
        rng = np.random.default_rng(seed)
        layers = self.lesson.build_mlp(self.sizes, rng, init="he", bias=True, dropout=False)
        return layers, rng

    def train(self, seed, images=None, labels=None, test_set=None, epochs=None, model=None):
        """Train the best model's recipe; return fit's history (training seconds per epoch).

        model: (layers, rng) from build(seed), to train layers that were prepared first.
        """
        layers, rng = model or self.build(seed)
        return self.lesson.fit(
            layers,
            self.images if images is None else images,
            self.y_train if labels is None else labels,
            epochs=epochs or self.epochs,
            batch_size=self.batch_size,
            learning_rate=self.lesson.best_learning_rate,
            final_learning_rate=0.0,
            momentum=self.lesson.momentum,
            rng=rng,
            validation=test_set,  # fit calls it validation; here it is the test set
        )


def timed(function, repeats):
    """Run function() `repeats` times; return the list of wall times in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return times


def settle_threads(threads):
    """Set the BLAS threads; with "auto", wait until its first measurement can be taken.

    "auto" starts on one thread and first measures the machine's load MIN_INTERVAL seconds
    later; in the lesson that happens long before training, so the benchmark waits too.
    """
    use_blas_threads(threads)
    if threads == "auto":
        time.sleep(MIN_INTERVAL)


def measure_loops(bench, repeats):
    """Samples per second of lesson 3's per-sample loop and step 2's mini-batch loop."""
    lesson, rng_seed = bench.lesson, bench.seed
    sample = lesson.timing_sample
    slice_images = bench.x_train[:sample] / 255
    slice_labels = one_hot_encoding(bench.y_train[:sample])
    labels = one_hot_encoding(bench.y_train).astype(np.float32)

    def start_weights(rng, dtype):
        return [w.astype(dtype) for w in lesson.initialize_weights(rng, lesson.hidden_size)]

    def per_sample_epoch():
        rng = np.random.default_rng(rng_seed)
        weights = start_weights(rng, np.float64)
        lesson.train_per_sample(slice_images, slice_labels, *weights, lesson.learning_rate, rng)

    def mini_batch_epoch():
        rng = np.random.default_rng(rng_seed)
        weights = start_weights(rng, np.float32)
        rate = np.float32(lesson.batch_learning_rate)
        lesson.train_batches(bench.images, labels, *weights, rate, lesson.batch_size, rng)

    return {
        "per_sample_rates": [sample / t for t in timed(per_sample_epoch, repeats)],
        "mini_batch_rates": [len(labels) / t for t in timed(mini_batch_epoch, repeats)],
    }


def measure_seeds(bench, seeds):
    """The recipe on `seeds` seeds: test accuracy and training seconds after each epoch."""
    runs = []
    for seed in range(seeds):
        history = bench.train(seed, test_set=bench.test_set)
        accuracies = history["validation_accuracy"]  # of the test set, see Bench.train
        epoch = first_epoch_at(accuracies, bench.target)
        runs.append(
            {
                "seed": seed,
                "accuracies": accuracies,
                "epoch_seconds": epoch_times(history),
                "target_epoch": epoch,
                "seconds_to_target": None if epoch is None else history["seconds"][epoch - 1],
            }
        )
    return {"runs": runs}


def gemm_speed(shapes, dtype=np.float32, seconds=0.3):
    """GFLOP/s of the products a @ b for (a, b) shape pairs, best of 5 rounds of ~seconds/5."""
    rng = np.random.default_rng(0)
    pairs = [(rng.random(a, dtype=dtype), rng.random(b, dtype=dtype)) for a, b in shapes]
    flops = sum(2 * a.shape[0] * a.shape[1] * b.shape[1] for a, b in pairs)

    def products():
        for a, b in pairs:
            a @ b

    once = min(timed(products, 3))
    repeats = max(1, int(seconds / 5 / once))
    best = min(timed(lambda: [products() for _ in range(repeats)], 5)) / repeats
    return flops / best / 1e9


def batch_shapes(sizes, batch):
    """The (a, b) shapes of the products of one training batch of an MLP, with its layouts."""
    shapes = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        shapes.append(((batch, n_in), (n_in, n_out)))  # forward
        shapes.append(((n_in, batch), (batch, n_out)))  # weight gradient (x.T @ grad)
        if i > 0:
            shapes.append(((batch, n_out), (n_out, n_in)))  # input gradient (grad @ W.T)
    return shapes


def training_flops(sizes, samples):
    """Operations of the matrix products of training on `samples` images (as in batch_shapes)."""
    return sum(2 * a[0] * a[1] * b[1] for a, b in batch_shapes(sizes, samples))


def thread_counts(bench):
    """The thread settings worth comparing: the bench's ("auto" or a number), 1, every core."""
    return list(dict.fromkeys([bench.threads, 1, bench.cores]))


def measure_gemm(bench, repeats):
    """GEMM peaks, one batch's products and the square product, with 1 thread and every core."""
    shapes = {"batch": batch_shapes(bench.sizes, bench.batch_size)}
    shapes["square"] = [((SQUARE, SQUARE), (SQUARE, SQUARE))]
    counts = sorted({1, bench.cores})
    record = {(kind, count): [] for kind in shapes for count in counts}
    for _ in range(repeats):
        for kind, count in record:
            use_blas_threads(count)
            record[kind, count].append(gemm_speed(shapes[kind]))
    settle_threads(bench.threads)
    return {"counts": counts, "peaks": record}


class BusyProcess:
    """A competing process that keeps one core busy: `while True: pass`, started and stopped here."""

    def __enter__(self):
        self.process = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        time.sleep(0.2)  # let it get going
        return self

    def __exit__(self, *exc):
        self.process.kill()  # this very process (its own PID), no shell in between
        self.process.wait(timeout=10)
        assert self.process.poll() is not None, f"busy process {self.process.pid} still runs"
        try:
            os.kill(self.process.pid, 0)
        except ProcessLookupError:
            return False  # gone, as it should be
        raise RuntimeError(f"busy process {self.process.pid} is still running")


def measure_load(bench, repeats):
    """Seconds per epoch of the recipe, quiet and with a busy process, interleaved.

    Timed on LOAD_SAMPLE images (scaled to a full epoch) with each of thread_counts(), to
    show what the lesson's setting protects against.
    """
    images, labels = bench.images[:LOAD_SAMPLE], bench.y_train[:LOAD_SAMPLE]
    per_epoch = len(bench.images) / LOAD_SAMPLE
    counts = thread_counts(bench)
    record = {f"{c} {load}": [] for c in counts for load in ("quiet", "load")}
    for _ in range(repeats):
        for count in counts:
            for load in ("quiet", "load"):
                with BusyProcess() if load == "load" else contextlib.nullcontext():
                    settle_threads(count)  # "auto" measures the machine as it is now
                    history = bench.train(bench.seed, images, labels, epochs=1)
                record[f"{count} {load}"].append(history["seconds"][-1] * per_epoch)
    settle_threads(bench.threads)
    return {"counts": counts, "epoch_seconds": record}


def measure_step(bench):
    """Microseconds per batch of each part of a training step, on 1 thread and on every core.

    While the lesson's own fit trains one epoch, each layer's forward and backward and
    softmax_cross_entropy run inside a timer; the rest is what train_steps does around them
    (taking the batch out of the images, the learning rate, the momentum updates).
    """
    lesson, record = bench.lesson, {}
    batches = -(-len(bench.images) // bench.batch_size)
    for count in dict.fromkeys([1, bench.cores]):
        use_blas_threads(count)
        parts = record[count] = {}

        def timer(name, function, parts=parts):
            def timed_call(*args, **kwargs):
                start = time.perf_counter()
                result = function(*args, **kwargs)
                parts[name] = parts.get(name, 0.0) + time.perf_counter() - start
                return result

            return timed_call

        layers, rng = bench.build(bench.seed)
        for i, layer in enumerate(layers, start=1):
            for method in ("forward", "backward"):
                name = f"layer {i} ({type(layer).__name__}) {method}"
                setattr(layer, method, timer(name, getattr(layer, method)))
        softmax_cross_entropy = lesson.softmax_cross_entropy
        lesson.softmax_cross_entropy = timer("softmax_cross_entropy", softmax_cross_entropy)
        try:
            seconds = bench.train(bench.seed, epochs=1, model=(layers, rng))["seconds"][-1]
        finally:
            lesson.softmax_cross_entropy = softmax_cross_entropy
        parts["the rest of train_steps"] = seconds - sum(parts.values())
        parts["the whole step"] = seconds
        for name in parts:
            parts[name] *= 1e6 / batches
    settle_threads(bench.threads)
    return record


def measure_memory(bench):
    """Peak of NumPy's allocations during one training run, and the process's peak RSS."""
    tracemalloc.start()
    baseline = tracemalloc.get_traced_memory()[0]
    bench.train(bench.seed)
    traced_peak = tracemalloc.get_traced_memory()[1] - baseline
    tracemalloc.stop()
    max_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    max_rss_mib = max_rss / 1024 if sys.platform != "darwin" else max_rss / 2**20
    return {"traced_peak_mib": traced_peak / 2**20, "max_rss_mib": max_rss_mib}


def main(argv=None):
    args = parse_arguments(argv)
    if args.own_kernel and kernel_settings():
        # OpenBLAS reads them when NumPy loads it: start again without them.
        sys.stdout.flush()
        arguments = sys.argv[1:] if argv is None else list(argv)
        os.execve(sys.executable, [sys.executable, __file__, *arguments], environ_for_own_kernel())
    bench = Bench(args.threads)
    settle_threads(bench.threads)
    records = {"machine": describe_machine(bench, args)}
    records["loops"] = measure_loops(bench, args.repeats)
    records["seeds"] = measure_seeds(bench, args.seeds)
    records["gemm"] = measure_gemm(bench, args.repeats)
    records["load"] = measure_load(bench, args.repeats)
    if args.torch:
        from bench_torch import measure_torch

        records["torch"] = measure_torch(bench, args.rounds)
    records["step"] = measure_step(bench)
    records["memory"] = measure_memory(bench)
    return report(bench, records)


def describe_machine(bench, args):
    from threadpoolctl import threadpool_info

    names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    pools = [
        f"{p['internal_api']} {p['version']}, kernel {p.get('architecture', 'unknown')}"
        for p in threadpool_info()
    ]
    return {
        "processor": processor_name(),
        "cores": f"{os.cpu_count()} logical, {len(os.sched_getaffinity(0))} usable",
        "software": f"Python {platform.python_version()}, NumPy {np.__version__}",
        "BLAS": "; ".join(pools) or "unknown",
        "kernel": own_kernel(),
        "threads": f"BLAS threads for the lesson's code: {bench.threads}"
        + "".join(f", {name}={os.environ[name]}" for name in names if name in os.environ),
        "load": "load average {:.2f} {:.2f} {:.2f} at the start".format(*os.getloadavg()),
        "repeats": f"{args.repeats}; seeds {args.seeds}; figures are median (min-max)",
    }


def kernel_settings():
    """The environment variables set here that override OpenBLAS's choice, as NAME=value."""
    return [f"{name}={os.environ[name]}" for name in KERNEL_SETTINGS if name in os.environ]


def environ_for_own_kernel():
    return {k: v for k, v in os.environ.items() if k not in KERNEL_SETTINGS}


def own_kernel():
    """Which OpenBLAS kernel this processor gets when no environment variable picks one."""
    if not kernel_settings():
        return "OpenBLAS's own choice for this processor (no OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE)"
    code = "import numpy, threadpoolctl; print(threadpoolctl.threadpool_info()[0]['architecture'])"
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=environ_for_own_kernel(),
        capture_output=True,
        text=True,
        check=False,
    )
    own = result.stdout.strip() or "unknown"
    return (
        f"set by {' and '.join(kernel_settings())}; without them, "
        f"OpenBLAS picks {own} here (--own-kernel runs that)"
    )


def processor_name():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()}, {platform.machine()}"
    except OSError:
        pass
    return platform.processor() or platform.machine()


if __name__ == "__main__":
    sys.exit(main())
