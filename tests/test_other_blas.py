"""Lesson 4 under another BLAS configuration: every assert, and so every claim, must hold.

Lesson 4's float32 figures depend on the OpenBLAS kernel and the number of threads. nbval
runs the lesson with this machine's own configuration; this test runs it again, top to
bottom, with one thread and, on x86-64, another OpenBLAS kernel than the first run's:
Sandybridge, or Haswell where the environment already asks for Sandybridge. (Not Haswell when
nothing is asked: OpenBLAS picks Haswell itself on AVX2 machines without AVX-512.) A failing
assert or check stops it, as under nbval. It runs beside the other tests (``nox -s tests``
runs two test processes), not after them.
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LESSON_4 = ROOT / "notebooks" / "04-take-the-next-steps.ipynb"

OTHER_BLAS = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
if platform.machine() in ("x86_64", "AMD64"):
    _FIRST = os.environ.get("OPENBLAS_CORETYPE", "").lower()
    OTHER_BLAS["OPENBLAS_CORETYPE"] = "Haswell" if _FIRST == "sandybridge" else "Sandybridge"


def test_lesson_4_holds_under_another_blas_configuration(current_env_kernel_manager):
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(LESSON_4, as_version=4)
    env = {**os.environ, **OTHER_BLAS, "CHECKS_STRICT": "1"}
    client = NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        kernel_manager_class=current_env_kernel_manager,
        resources={"metadata": {"path": str(LESSON_4.parent)}},
    )
    started = time.perf_counter()
    client.execute(env=env)  # raises CellExecutionError at the first failing cell
    print(f"lesson 4 under {OTHER_BLAS}: {time.perf_counter() - started:.1f} s")
