"""The benchmark's own machinery (benchmarks/benchmark.py): what it counts, and what it starts.

The figures themselves are measured by ``nox -s bench``, never asserted here.
"""

import importlib.util
import os
import sys
import time
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture(scope="module")
def benchmark():
    spec = importlib.util.spec_from_file_location("benchmark", BENCHMARKS / "benchmark.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_training_flops_count_each_product_of_a_batch(benchmark):
    # 784-256-10: forward and weight gradient of both layers, input gradient of the second.
    per_image = 2 * (784 * 256) * 2 + 2 * (256 * 10) * 3
    assert benchmark.training_flops([784, 256, 10], 60_000) == per_image * 60_000
    shapes = benchmark.batch_shapes([784, 256, 10], 96)
    assert ((96, 784), (784, 256)) in shapes  # x @ W
    assert ((784, 96), (96, 256)) in shapes  # x.T @ grad
    assert ((96, 10), (10, 256)) in shapes  # grad @ W.T, second layer only
    assert len(shapes) == 5


def running(pid):
    """Whether process pid exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_busy_process_runs_then_that_very_process_is_gone(benchmark):
    with benchmark.BusyProcess() as busy:
        pid = busy.process.pid
        assert busy.process.args[0] == sys.executable  # no shell in between
        assert running(pid)
        # It really keeps a core busy: it gathers CPU time while we wait. On a machine whose
        # cores other jobs share, it may get a fraction of one, so wait up to 10 s for 0.1 s
        # of CPU time; a process that sleeps gathers next to none in that time.
        cpu_before = _cpu_seconds(pid)
        deadline = time.monotonic() + 10
        while _cpu_seconds(pid) - cpu_before <= 0.1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _cpu_seconds(pid) - cpu_before > 0.1, "the busy process does not use the CPU"
    assert not running(pid)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def _cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_report_names_the_kernel_openblas_would_pick(benchmark, monkeypatch):
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Sandybridge")
    text = benchmark.own_kernel()
    assert text.startswith("set by OPENBLAS_CORETYPE=Sandybridge")
    assert "picks unknown" not in text  # the child process, run without it, named a kernel
    monkeypatch.delenv("OPENBLAS_CORETYPE")
    monkeypatch.delenv("OPENBLAS_L2_SIZE", raising=False)
    assert benchmark.own_kernel().startswith("OpenBLAS's own choice")


def test_margin_counts_test_images_to_the_nearer_end_of_the_lesson_range(benchmark):
    """About 98 % is 97.5-98.5 %: 98.00 % has 50 test images to spare, 98.42 % only 8."""
    import bench_report  # next to benchmark.py, which put its folder on sys.path

    assert bench_report.margin_images(0.9800, 0.98, 0.005, 10_000) == 50
    assert bench_report.margin_images(0.9842, 0.98, 0.005, 10_000) == 8
    assert bench_report.margin_images(0.9755, 0.98, 0.005, 10_000) == 5
    assert bench_report.margin_images(0.9740, 0.98, 0.005, 10_000) == -10  # outside the range
