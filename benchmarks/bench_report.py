"""The one report of the benchmark (the records that benchmark.py measured), and its helpers."""

from __future__ import annotations

import statistics

SQUARE = 1024  # the side of the square product that stands for the machine's limit
MARGIN_IMAGES = 10  # a claim about test accuracy must hold by at least this many test images


def epoch_times(history):
    """Training seconds of each epoch, from fit's cumulative history."""
    seconds = [0.0, *history["seconds"]]
    return [b - a for a, b in zip(seconds[:-1], seconds[1:], strict=True)]


def first_epoch_at(accuracies, target):
    """The first epoch (1, 2, ...) whose test accuracy reaches target, or None."""
    return next((i + 1 for i, a in enumerate(accuracies) if a >= target), None)


def margin_images(accuracy, target, tolerance, test_images):
    """How many test images the accuracy could lose or gain before it leaves "about target"
    (target +- tolerance, the range the lesson asserts)."""
    return round((tolerance - abs(accuracy - target)) * test_images)


def spread(values, unit="s", digits=2):
    """'median (min-max)' of a list of numbers."""
    values = [v for v in values if v is not None]
    if not values:
        return "none"
    if len(values) == 1:
        return f"{values[0]:.{digits}f} {unit}"
    low, high = min(values), max(values)
    return f"{statistics.median(values):.{digits}f} {unit} ({low:.{digits}f}-{high:.{digits}f})"


def row(label, value):
    print(f"  {label:<64}{value}")


def report_machine(records):
    print("Lesson 4 benchmark")
    for key, value in records["machine"].items():
        print(f"  {key + ':':<11} {value}")


def report_loops(bench, records):
    loops, seeds = records["loops"], records["seeds"]["runs"]
    epoch_seconds = [t for run in seeds for t in run["epoch_seconds"]]
    rates = [len(bench.images) / t for t in epoch_seconds]
    print("\nSamples per second")
    row(
        "per-sample loop (lesson 3, 784-100-10, float64)",
        spread(loops["per_sample_rates"], "/s", 0),
    )
    batch = bench.lesson.batch_size
    row(
        f"mini-batch loop (step 2, 784-100-10, float32, batch {batch})",
        spread(loops["mini_batch_rates"], "/s", 0),
    )
    row(
        f"best model (784-{bench.sizes[1]}-10, batch {bench.batch_size}, momentum)",
        spread(rates, "/s", 0),
    )
    speed_up = statistics.median(loops["mini_batch_rates"]) / statistics.median(
        loops["per_sample_rates"]
    )
    row("speed-up of the mini-batch loop over the per-sample loop", f"{speed_up:.0f}x")
    row("best model: seconds per epoch (every epoch of every seed)", spread(epoch_seconds))


def report_seeds(bench, records) -> list[int]:
    """Print the recipe's results on every seed; return each seed's margin (seed_margins)."""
    runs = records["seeds"]["runs"]
    epochs, target = bench.epochs, bench.target
    reached = [run for run in runs if run["target_epoch"] is not None]
    print(f"\nThe recipe on {len(runs)} seeds (0-{len(runs) - 1}): test accuracy, {epochs} epochs")
    row(f"seeds that reach {target:.0%} within {epochs} epochs", f"{len(reached)} of {len(runs)}")
    for epoch in range(1, epochs + 1):
        count = sum(run["target_epoch"] == epoch for run in runs)
        row(f"  first at epoch {epoch}", f"{count}")
    finals = [run["accuracies"][-1] for run in runs]
    row("test accuracy after the last epoch", spread(finals, "", 4))
    row(
        f"time to {target:.0%} (training only, seeds that reach it)",
        spread([run["seconds_to_target"] for run in reached]),
    )
    row("per seed", " ".join(f"{run['accuracies'][-1]:.4f}" for run in runs))
    low, high = target - bench.tolerance, target + bench.tolerance
    margins = seed_margins(bench, runs)
    print(
        f"  The lesson asserts 'about {target:.0%}': a test accuracy between {low:.1%} and {high:.1%}"
    )
    row("margin to the nearer end of that range, in test images", spread(margins, "", 0))
    row(
        f"seeds with a margin of at least {MARGIN_IMAGES} test images",
        f"{sum(m >= MARGIN_IMAGES for m in margins)} of {len(runs)}",
    )
    return margins


def seed_margins(bench, runs):
    """Each seed's margin in test images (see margin_images)."""
    n_test = len(bench.test_set[1])
    return [
        margin_images(run["accuracies"][-1], bench.target, bench.tolerance, n_test) for run in runs
    ]


def report_gemm(bench, records):
    gemm, seeds = records["gemm"], records["seeds"]["runs"]
    flops = bench.training_flops_per_epoch
    achieved = [flops / t / 1e9 for run in seeds for t in run["epoch_seconds"]]
    loop = statistics.median(achieved)
    print(f"\nMatrix products (GEMM), float32; the lesson's threads: {bench.threads}")
    row("the whole training loop (every epoch of every seed)", spread(achieved, "GFLOP/s", 1))
    row("operations counted per epoch", f"{flops / 1e9:.1f} GFLOP")
    for count in gemm["counts"]:
        batch, square = gemm["peaks"]["batch", count], gemm["peaks"]["square", count]
        row(
            f"{count} thread(s): peak on one batch's shapes ({bench.batch_size} images)",
            spread(batch, "GFLOP/s", 1),
        )
        row(
            f"{count} thread(s): peak on a {SQUARE} x {SQUARE} x {SQUARE} product",
            spread(square, "GFLOP/s", 1),
        )
        fractions = (
            f"{loop / statistics.median(batch):.0%} / {loop / statistics.median(square):.0%}"
        )
        row(f"{count} thread(s): loop's fraction of those two peaks (medians)", fractions)


def report_load(records):
    load = records["load"]
    print("\nUnder load: seconds per epoch, quiet and with one busy process (interleaved)")
    for count in load["counts"]:
        quiet, busy = (
            load["epoch_seconds"][f"{count} quiet"],
            load["epoch_seconds"][f"{count} load"],
        )
        row(f"{count} BLAS thread(s), quiet", spread(quiet))
        row(f"{count} BLAS thread(s), one busy process", spread(busy))
        row(
            f"{count} BLAS thread(s), under load / quiet (medians)",
            f"{statistics.median(busy) / statistics.median(quiet):.2f}x",
        )


def report_torch(bench, records):
    torch = records.get("torch")
    if not torch:
        return
    print(
        f"\nSide by side with PyTorch {torch['version']} ({torch['threads']} thread(s)), same network and recipe"
    )
    row("NumPy: seconds per epoch", spread(torch["numpy_epoch"]))
    row("PyTorch: seconds per epoch", spread(torch["torch_epoch"]))
    row("NumPy / PyTorch per epoch, per round", spread(torch["epoch_ratios"], "", 2))
    row(f"NumPy: time to {bench.target:.0%}", spread(torch["numpy_to_target"]))
    row(f"PyTorch: time to {bench.target:.0%}", spread(torch["torch_to_target"]))
    row(
        f"NumPy / PyTorch time to {bench.target:.0%}, per round",
        spread(torch["target_ratios"], "", 2),
    )
    row("PyTorch test accuracy after the last epoch", spread(torch["torch_final"], "", 4))


def report_step(bench, records):
    step = records["step"]
    counts = list(step)
    print(f"\nOne training step, part by part: microseconds per batch of {bench.batch_size}")
    print(f"  {'BLAS threads':<52}" + "".join(f"{count:>12}" for count in counts))
    for name in step[counts[0]]:
        print(f"  {name:<52}" + "".join(f"{step[count][name]:12.0f}" for count in counts))


def report(bench, records):
    """Print every record; return 1 if a seed's test accuracy comes within MARGIN_IMAGES test
    images of leaving the range the lesson asserts, else 0."""
    report_machine(records)
    report_loops(bench, records)
    margins = report_seeds(bench, records)
    report_gemm(bench, records)
    report_load(records)
    report_torch(bench, records)
    report_step(bench, records)
    memory = records["memory"]
    print("\nMemory")
    row("peak NumPy allocations during one training run", f"{memory['traced_peak_mib']:.1f} MiB")
    row("peak resident memory of the whole process", f"{memory['max_rss_mib']:.0f} MiB")
    runs = records["seeds"]["runs"]
    thin = [run["seed"] for run, m in zip(runs, margins, strict=True) if m < MARGIN_IMAGES]
    if thin:
        print(
            f"\nWARNING: seeds {thin} end within {MARGIN_IMAGES} test images of leaving "
            f"'about {bench.target:.0%}' (the lesson's assert)"
        )
        return 1
    return 0
