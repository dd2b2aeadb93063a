"""pytest wiring for the unit tests and for nbval's runs of the notebooks.

- Plots: the kernels that nbval starts inherit this process's environment,
  so a GUI backend set in ``MPLBACKEND`` is replaced by Jupyter's inline
  backend: headless, and figures land in the outputs as they do in JupyterLab.
- Imports: ``notebooks/`` is on ``sys.path`` so the tests can import the
  shared module the way the notebooks do.
- Exercises: ``CHECKS_STRICT=1`` (unless already set) makes a failing exercise
  check raise, so nbval fails when a lesson's solution no longer passes its check.
- Data: nothing is hard-coded here.  The notebooks fetch MNIST through
  ``mnist_lib`` into ``_data/``; set ``MNIST_MIRRORS`` to a local copy to work
  offline (``.ci/run`` points it at ``../shared/mnist``).
"""

import os
import sys
from pathlib import Path

os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
# Exercise checks (notebooks/checks/) raise instead of printing "Not yet" when strict, so
# nbval's run of the full lessons proves that every check passes on its solution.
os.environ.setdefault("CHECKS_STRICT", "1")

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "notebooks"))


def pytest_report_header(config):
    mirrors = os.environ.get("MNIST_MIRRORS") or "(none: public mirrors only)"
    return [f"MNIST_MIRRORS: {mirrors}", f"MNIST cache: {ROOT / '_data'}"]
