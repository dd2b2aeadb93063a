"""The kernel that grades a submission: inside bubblewrap where it is installed.

A submission is untrusted code. nbgrader runs it in a Jupyter kernel, and this module
writes the kernelspec of that kernel (named ``python3``, so it replaces the usual one for
the nbgrader process that finds it first on ``JUPYTER_PATH``). With Debian's
``bubblewrap`` (``bwrap``) the kernel runs in a sandbox:

- no network: a network namespace of its own (only a loopback, down), so the kernel
  talks to nbgrader over Unix sockets (``KernelManager.transport = "ipc"``);
- the file system read-only, with the folders in ``hidden`` (the project with the
  lessons' solutions, the course with its sources, submissions and gradebook, the
  home folder) replaced by empty read-only folders, and ``/tmp`` an empty private
  folder that disappears with the kernel;
- writable: the submission's own working folder and the folder of the kernel's
  connection file and sockets; the MNIST cache is bound read-only where the lessons
  look for it;
- a fresh environment (only the variables in ``env``), its own process and IPC
  namespaces, and it dies with nbgrader.

Without bubblewrap the kernel is an ordinary one, with the same environment variables.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

KERNEL_NAME = "python3"


def bubblewrap() -> str | None:
    """The path of bwrap, or None when bubblewrap is not installed."""
    return shutil.which("bwrap")


def _outermost(paths) -> list[Path]:
    """The paths, resolved, without duplicates or paths inside another one of them."""
    resolved = sorted({Path(p).resolve() for p in paths}, key=lambda p: len(p.parts))
    kept: list[Path] = []
    for path in resolved:
        if not any(path.is_relative_to(parent) for parent in kept):
            kept.append(path)
    return kept


def _python_folders() -> list[Path]:
    """The folders the kernel's Python needs: its environment and its base installation."""
    executable = Path(sys.executable)
    return [Path(sys.prefix), Path(sys.base_prefix), executable.parent, executable.resolve().parent]


def bwrap_argv(
    bwrap: str,
    hidden: list[Path],
    writable: list[Path],
    read_only: dict[Path, Path],
    env: dict[str, str],
    workdir: Path,
) -> list[str]:
    """The bwrap command line that wraps a kernel (without the kernel's own command).

    `read_only` maps folders on the host to where the sandbox sees them.
    """
    argv = [bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--clearenv"]
    argv += ["--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    hidden = _outermost(hidden)  # a hidden folder inside /tmp is hidden there too
    for folder in hidden:
        argv += ["--tmpfs", str(folder)]
    # Give back what the kernel needs from inside a hidden folder (the Python installation).
    for folder in _outermost(_python_folders()):
        inside = any(folder.is_relative_to(h) for h in [*hidden, Path("/tmp")])
        if inside and folder.is_dir():
            argv += ["--ro-bind", str(folder), str(folder)]
    for source, target in read_only.items():
        argv += ["--ro-bind", str(source), str(target)]
    for folder in writable:
        argv += ["--bind", str(folder), str(folder)]
    for folder in hidden:  # empty and read-only; /tmp stays a private scratch folder
        argv += ["--remount-ro", str(folder)]
    for name, value in env.items():
        argv += ["--setenv", name, value]
    return [*argv, "--chdir", str(workdir)]


def write_kernelspec(jupyter_path: Path, wrapper: list[str], env: dict[str, str]) -> Path:
    """Write the grading kernel's spec under `jupyter_path`/kernels; return its folder."""
    folder = Path(jupyter_path) / "kernels" / KERNEL_NAME
    folder.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [*wrapper, sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (grading)",
        "language": "python",
        # An interrupt (a cell over its time limit) is a message: no signal has to cross
        # the sandbox's process namespace.
        "interrupt_mode": "message",
        "env": env,
    }
    (folder / "kernel.json").write_text(json.dumps(spec, indent=1), encoding="utf-8")
    return folder
