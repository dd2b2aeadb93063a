"""Run the lessons on ARM64 (aarch64) under QEMU user emulation: what `nox -s arm64` does.

    python tools/arm64.py [--lessons 1 2 3] [--compare 3] [--refresh] [--project DIR]
                          [--blas-kernel NAME]

1. A Debian 12 ("bookworm") arm64 root, made once by ``debootstrap --foreign`` and finished
   by its second stage, which runs arm64 programs through ``qemu-aarch64-static`` (the
   kernel's binfmt_misc hands them to QEMU). Kept in ``build/arm64/root``.
2. A virtual environment in that root (Debian's ``python3 -m venv``) with the lessons'
   requirements as aarch64 wheels from PyPI (NumPy's own wheel, with its OpenBLAS). The
   wheels are downloaded on this machine by pip (``--platform ..._aarch64``) into
   ``build/arm64/wheels`` and installed inside the root with ``--no-index``.
3. The project (the working tree, uncommitted changes included) and the four MNIST files
   are copied into the root, and each lesson runs there under pytest + nbval, one pytest
   per lesson, offline: the data comes from the copy (``MNIST_MIRRORS=/mnist``). Lessons
   1-3 by default; lesson 4 (``--lessons 4``) trains on all 60,000 images, which takes
   far longer than an emulated run can afford.
4. A summary: pass or fail and the wall time of each step and lesson.

``--compare N``: also execute lesson N on both architectures with nbclient (errors allowed,
so a failing assert does not hide the cells after it) and list every printed line that
differs between this machine and ARM64. The executed notebooks are kept in
``build/arm64/outputs``.

``--project DIR``: run the lessons of another checkout or export (say ``git archive BRANCH``
unpacked into a folder) instead of this working tree's.

``--blas-kernel NAME``: set ``OPENBLAS_CORETYPE`` in the root. QEMU's emulated processor
offers the newest ARM64 features, so OpenBLAS picks a kernel for them by itself; ``armv8`` or
``neoversen1`` try the kernels of older or common ARM64 machines.

The root and the environment are reused by later runs; ``--refresh`` downloads the wheels
and rebuilds the environment (delete ``build/arm64`` to rebuild everything).

Needs: root (debootstrap, chroot and mount need it), Debian's ``debootstrap`` and
``qemu-user-static``, binfmt_misc (mounted and with qemu-aarch64 enabled, or mountable by
this script), and a folder with the four MNIST ``.gz`` files (``MNIST_MIRRORS`` or the
project's ``_data/`` cache). Downloads: Debian packages once, PyPI wheels once.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The project whose lessons run: this checkout, or the folder given by --project.
SOURCE = ROOT
BUILD = ROOT / "build" / "arm64"
CHROOT = BUILD / "root"
WHEELS = BUILD / "wheels"
OUTPUTS = BUILD / "outputs"
COMPLETE = CHROOT / ".arm64-root-complete"
VENV_STAMP = CHROOT / "opt" / ".venv-stamp"
HERE = platform.machine()
SUITE = "bookworm"
DEBIAN_MIRROR = os.environ.get("ARM64_DEBIAN_MIRROR", "http://deb.debian.org/debian")
QEMU = "/usr/bin/qemu-aarch64-static"
BINFMT = Path("/proc/sys/fs/binfmt_misc")
# Paths inside the root.
VENV = "/opt/venv"
PROJECTS = "/projects"  # one folder per source (this checkout, or --project), by its name
MNIST = "/mnist"
MNIST_FILES = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
]
# What the lessons' tests need: requirements.txt without JupyterLab and its settings (a
# learner's editor, not needed to execute a notebook), plus the test runners.
NOT_FOR_TESTS = ("jupyterlab", "./labconfig")
TEST_TOOLS = ["pytest>=8", "nbval>=0.11", "nbclient>=0.10"]
# OpenBLAS settings for the root (--blas-kernel); none by default: OpenBLAS picks its kernel.
BLAS_SETTINGS: dict[str, str] = {}
# Left out of the copy of the project: caches, environments, build products, git.
NOT_COPIED = (".git", ".nox", ".venv", "build", "_data", "__pycache__", ".pytest_cache")
NOT_COPIED += (".ruff_cache", ".ipynb_checkpoints")


class Arm64Error(Exception):
    """A missing prerequisite or a failed step, with what to do about it."""


def log(message: str) -> None:
    print(f"arm64: {message}", flush=True)


def requirements() -> list[str]:
    """The lessons' requirements for the tests, from requirements.txt."""
    lines = (SOURCE / "requirements.txt").read_text().splitlines()
    wanted = [line.split("#", 1)[0].strip() for line in lines]
    wanted = [req for req in wanted if req and not req.startswith(NOT_FOR_TESTS)]
    return wanted + TEST_TOOLS


# --- prerequisites -------------------------------------------------------------------------
def check_prerequisites() -> None:
    problems = []
    if os.geteuid() != 0:
        problems.append(
            "needs root: debootstrap, chroot and mounting /proc in the arm64 root need it "
            "(run as root, e.g. `sudo nox -s arm64`; CI runs as root)"
        )
    if not shutil.which("debootstrap"):
        problems.append("debootstrap is missing: apt-get install debootstrap")
    native = platform.machine() == "aarch64"
    if not native and not Path(QEMU).is_file():
        problems.append(f"{QEMU} is missing: apt-get install qemu-user-static binfmt-support")
    if problems:
        raise Arm64Error("cannot run the lessons on ARM64:\n  - " + "\n  - ".join(problems))
    if not native:
        ensure_binfmt()


def ensure_binfmt() -> None:
    """Make sure the kernel hands aarch64 programs to QEMU (mount and enable if needed)."""
    if not (BINFMT / "status").exists():
        log(f"mounting binfmt_misc on {BINFMT}")
        subprocess.run(
            ["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT)], capture_output=True
        )
    entry = BINFMT / "qemu-aarch64"
    if not (BINFMT / "status").exists():
        raise Arm64Error(
            f"binfmt_misc is not available ({BINFMT} cannot be mounted here, as in an "
            "unprivileged container), so the kernel cannot run arm64 programs through QEMU. "
            "Run on a host or privileged container where `mount -t binfmt_misc binfmt_misc "
            f"{BINFMT}` works, or register qemu-aarch64 on the host (apt-get install "
            "qemu-user-static binfmt-support there)."
        )
    if not entry.exists() or not entry.read_text().startswith("enabled"):
        log("enabling qemu-aarch64 in binfmt_misc (update-binfmts --enable qemu-aarch64)")
        subprocess.run(["update-binfmts", "--enable", "qemu-aarch64"], capture_output=True)
    if not entry.exists() or not entry.read_text().startswith("enabled"):
        raise Arm64Error(
            f"binfmt_misc has no enabled qemu-aarch64 entry ({entry}): install "
            "binfmt-support and qemu-user-static (apt-get install qemu-user-static "
            "binfmt-support), then run `update-binfmts --enable qemu-aarch64`."
        )


# --- the root --------------------------------------------------------------------------------
def mounts_under(path: Path) -> list[str]:
    prefix = str(path.resolve())
    points = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    return [point for point in points if point == prefix or point.startswith(prefix + "/")]


def unmount_all(path: Path) -> None:
    """Unmount whatever an interrupted run left mounted inside the root (innermost first)."""
    for point in sorted(mounts_under(path), key=len, reverse=True):
        subprocess.run(["umount", point], check=True)


def remove_tree(path: Path) -> None:
    unmount_all(path)
    if mounts_under(path):
        raise Arm64Error(f"{path} still has mounts inside it; unmount them, then run again")
    shutil.rmtree(path)


def run(command: list[str], what: str, **options) -> None:
    result = subprocess.run(command, **options)
    if result.returncode != 0:
        raise Arm64Error(f"{what} failed (exit status {result.returncode}): {' '.join(command)}")


def build_root() -> float | None:
    """Make the Debian arm64 root once; return the seconds it took (None: reused)."""
    if COMPLETE.exists():
        log(f"reusing the arm64 root in {CHROOT.relative_to(ROOT)}")
        return None
    start = time.perf_counter()
    partial = BUILD / "root.partial"
    if partial.exists():
        remove_tree(partial)
    if CHROOT.exists():
        remove_tree(CHROOT)
    partial.parent.mkdir(parents=True, exist_ok=True)
    log(f"debootstrap, first stage: Debian {SUITE} arm64 (minbase + python3) from {DEBIAN_MIRROR}")
    run(
        [
            "debootstrap",
            "--arch=arm64",
            "--foreign",
            "--variant=minbase",
            "--include=python3,python3-venv",
            SUITE,
            str(partial),
            DEBIAN_MIRROR,
        ],
        "debootstrap's first stage",
    )
    if Path(QEMU).is_file():
        # binfmt entries without the F flag look for the interpreter inside the root.
        shutil.copy2(QEMU, partial / QEMU.lstrip("/"))
    log("debootstrap, second stage: runs the root's own dpkg under QEMU (several minutes)")
    run(["chroot", str(partial), "/debootstrap/debootstrap", "--second-stage"], "second stage")
    (partial / COMPLETE.name).write_text(f"Debian {SUITE} arm64, built {time.ctime()}\n")
    partial.rename(CHROOT)
    seconds = time.perf_counter() - start
    log(f"arm64 root built in {seconds:.0f} s")
    return seconds


@contextlib.contextmanager
def proc_mounted():
    """/proc inside the root while arm64 programs run there (Python and OpenBLAS read it)."""
    target = CHROOT / "proc"
    if mounts_under(target):  # another run in this root mounted it: leave it to that run
        yield
        return
    run(["mount", "-t", "proc", "proc", str(target)], "mounting /proc in the root")
    try:
        yield
    finally:
        unmount_all(target)


def in_root(argv: list[str], cwd: str = "/", env: dict[str, str] | None = None, **options):
    """Run a program in the root from `cwd`, in a clean environment (no host BLAS settings)."""
    environ = {
        "PATH": f"{VENV}/bin:/usr/local/bin:/usr/bin:/bin",
        "HOME": "/root",
        "LANG": "C.UTF-8",
        "PIP_NO_INDEX": "1",
        **BLAS_SETTINGS,
        **(env or {}),
    }
    variables = [f"{key}={value}" for key, value in environ.items()]
    shell = ["/bin/sh", "-c", 'cd "$0" && exec "$@"', cwd]
    return subprocess.run(
        ["chroot", str(CHROOT), "/usr/bin/env", "-i", *variables, *shell, *argv], **options
    )


# --- the environment -------------------------------------------------------------------------
def root_python_version() -> str:
    names = [path.name for path in (CHROOT / "usr" / "bin").glob("python3.*")]
    versions = [name[len("python") :] for name in names if re.fullmatch(r"python3\.\d+", name)]
    if len(versions) != 1:
        raise Arm64Error(f"expected one python3.N in the root's /usr/bin, found {names}")
    return versions[0]


def download_wheels(wanted: list[str], python: str) -> None:
    """pip on this machine fetches aarch64 wheels for the root's Python (no build from source)."""
    if WHEELS.exists():
        shutil.rmtree(WHEELS)
    # Debian 12 has glibc 2.36: every manylinux tag up to 2.36 fits.
    tags = [f"manylinux_2_{minor}_aarch64" for minor in range(36, 16, -1)]
    tags += ["manylinux2014_aarch64", "linux_aarch64"]
    cp = "cp" + python.replace(".", "")
    command = [sys.executable, "-m", "pip", "download", "--dest", str(WHEELS)]
    command += ["--only-binary=:all:", "--python-version", python, "--implementation", "cp"]
    command += ["--abi", cp, "--abi", "abi3", "--abi", "none"]
    for tag in tags:
        command += ["--platform", tag]
    log(f"downloading aarch64 wheels for Python {python} into {WHEELS.relative_to(ROOT)}")
    run([*command, *wanted], "downloading the aarch64 wheels")


def build_venv(refresh: bool) -> float | None:
    """The root's venv with the lessons' requirements; return its seconds (None: reused)."""
    wanted = requirements()
    stamp = json.dumps(wanted)
    if not refresh and VENV_STAMP.exists() and VENV_STAMP.read_text() == stamp:
        log(f"reusing the environment {VENV} in the root")
        return None
    start = time.perf_counter()
    download_wheels(wanted, root_python_version())
    venv = CHROOT / VENV.lstrip("/")
    if venv.exists():
        shutil.rmtree(venv)
    wheels_inside = CHROOT / "wheels"
    if wheels_inside.exists():
        shutil.rmtree(wheels_inside)
    shutil.copytree(WHEELS, wheels_inside)
    log(f"creating {VENV} in the root and installing the wheels there (under QEMU)")
    with proc_mounted():
        result = in_root(["python3", "-m", "venv", VENV])
        if result.returncode == 0:
            pip = [f"{VENV}/bin/python", "-m", "pip", "install", "--no-index"]
            result = in_root([*pip, "--find-links", "/wheels", *wanted])
    shutil.rmtree(wheels_inside)
    if result.returncode != 0:
        raise Arm64Error("installing the requirements in the arm64 root failed (see above)")
    VENV_STAMP.write_text(stamp)
    seconds = time.perf_counter() - start
    log(f"environment ready in {seconds:.0f} s")
    return seconds


# --- the project and the data ----------------------------------------------------------------
def project_inside() -> str:
    """Where the lessons' project is copied in the root."""
    return f"{PROJECTS}/{SOURCE.name}"


def copy_project() -> None:
    target = CHROOT / project_inside().lstrip("/")
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(SOURCE, target, ignore=shutil.ignore_patterns(*NOT_COPIED), symlinks=True)
    (target / "_data").mkdir()
    mnist = CHROOT / MNIST.lstrip("/")
    mnist.mkdir(exist_ok=True)
    mirrors = os.environ.get("MNIST_MIRRORS", "").replace(",", " ").split()
    folders = [Path(m) for m in mirrors if "://" not in m] + [SOURCE / "_data", ROOT / "_data"]
    for name in MNIST_FILES:
        found = [folder / name for folder in folders if (folder / name).is_file()]
        if not found:
            raise Arm64Error(
                f"no local copy of {name}: the lessons run offline in the arm64 root. Set "
                "MNIST_MIRRORS to a folder holding the four MNIST .gz files, or run lesson 1 "
                "once on this machine so that _data/ holds them."
            )
        # The loader in the root verifies each file's SHA-256 before using it.
        shutil.copy2(found[0], mnist / name)


def lesson_notebooks(numbers: list[int]) -> list[str]:
    paths = []
    for number in numbers:
        found = sorted((SOURCE / "notebooks").glob(f"{number:02d}-*.ipynb"))
        if len(found) != 1:
            raise Arm64Error(f"no single notebook for lesson {number} in notebooks/: {found}")
        paths.append(str(found[0].relative_to(SOURCE)))
    return paths


PLATFORM_FACTS = """
import platform, sys, numpy, threadpoolctl
print("machine:", platform.machine(), "| Python", sys.version.split()[0], "| NumPy", numpy.__version__)
for lib in threadpoolctl.threadpool_info():
    print("BLAS:", lib.get("internal_api"), lib.get("version"), "| kernel:",
          lib.get("architecture"), "| threads:", lib.get("num_threads"))
"""


def platform_facts(inside: bool) -> str:
    if inside:
        result = in_root(["python", "-c", PLATFORM_FACTS], capture_output=True, text=True)
    else:
        result = subprocess.run(
            [sys.executable, "-c", PLATFORM_FACTS], capture_output=True, text=True
        )
    return (result.stdout + result.stderr).strip()


# --- the runs ----------------------------------------------------------------------------------
def run_lessons(notebooks: list[str]) -> list[tuple[str, bool, float]]:
    results = []
    for notebook in notebooks:
        log(f"{notebook} under nbval (emulated)")
        start = time.perf_counter()
        result = in_root(
            ["python", "-m", "pytest", "-p", "no:cacheprovider", notebook],
            cwd=project_inside(),
            env={"MNIST_MIRRORS": MNIST},
        )
        seconds = time.perf_counter() - start
        results.append((notebook, result.returncode == 0, seconds))
        verdict = "passed" if result.returncode == 0 else "FAILED"
        log(f"{notebook} {verdict} in {seconds:.0f} s")
    return results


EXECUTE = """
import sys, nbclient, nbformat
source, target = sys.argv[1], sys.argv[2]
notebook = nbformat.read(source, as_version=4)
client = nbclient.NotebookClient(notebook, timeout=3600, allow_errors=True,
                                 kernel_name="python3", resources={"metadata": {"path": "notebooks"}})
client.execute()
nbformat.write(notebook, target)
"""

NOTEBOOK_ENV = {
    # As the tests run them: inline (headless) plots and strict exercise checks.
    "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    "CHECKS_STRICT": "1",
}


def execute_both(notebook: str) -> tuple[Path, Path, float, float]:
    """Execute one lesson here and in the root; return both outputs and both times."""
    outputs = OUTPUTS / SOURCE.name
    outputs.mkdir(parents=True, exist_ok=True)
    stem = Path(notebook).stem
    here = outputs / f"{stem}.{HERE}.ipynb"
    there = outputs / f"{stem}.aarch64.ipynb"
    env = {**os.environ, **NOTEBOOK_ENV}
    log(f"executing {notebook} on this machine ({HERE})")
    start = time.perf_counter()
    run([sys.executable, "-c", EXECUTE, notebook, str(here)], "executing here", cwd=SOURCE, env=env)
    seconds_here = time.perf_counter() - start
    log(f"executing {notebook} in the arm64 root")
    start = time.perf_counter()
    result = in_root(
        ["python", "-c", EXECUTE, notebook, f"/tmp/{SOURCE.name}-{stem}.ipynb"],
        cwd=project_inside(),
        env={"MNIST_MIRRORS": MNIST, **NOTEBOOK_ENV},
    )
    seconds_there = time.perf_counter() - start
    if result.returncode != 0:
        raise Arm64Error(f"executing {notebook} in the arm64 root failed (see above)")
    shutil.copy2(CHROOT / "tmp" / f"{SOURCE.name}-{stem}.ipynb", there)
    return here, there, seconds_here, seconds_there


def text(value: str | list[str]) -> str:
    """A notebook's multiline string: stored as one string or as a list of lines."""
    return value if isinstance(value, str) else "".join(value)


def printed_lines(cell: dict) -> list[str]:
    """What a cell printed, returned or raised, as text lines."""
    parts = []
    for output in cell.get("outputs", []):
        kind = output.get("output_type")
        if kind == "stream":
            parts.append(text(output.get("text", "")))
        elif kind == "error":
            parts.append(f"{output.get('ename')}: {output.get('evalue')}\n")
        elif "text/plain" in output.get("data", {}):
            parts.append(text(output["data"]["text/plain"]) + "\n")
    return "".join(parts).splitlines()


def compare(here: Path, there: Path, names=(HERE, "aarch64")) -> list[str]:
    """Every printed line that differs between two runs of one notebook, as a report."""
    cells_here = json.loads(here.read_text())["cells"]
    cells_there = json.loads(there.read_text())["cells"]
    report, lines_total, lines_same, images_same, images_total = [], 0, 0, 0, 0
    code_number = 0
    for cell_here, cell_there in zip(cells_here, cells_there, strict=True):
        if cell_here["cell_type"] != "code":
            continue
        code_number += 1
        lines_here, lines_there = printed_lines(cell_here), printed_lines(cell_there)
        lines_total += max(len(lines_here), len(lines_there))
        pairs = list(zip(lines_here, lines_there, strict=False))  # lengths may differ
        lines_same += sum(a == b for a, b in pairs)
        differing = [(a, b) for a, b in pairs if a != b]
        if len(lines_here) != len(lines_there):
            differing.append((f"({len(lines_here)} lines)", f"({len(lines_there)} lines)"))
        if differing:
            source = text(cell_here["source"]).splitlines()
            first = source[0] if source else ""
            report.append(f"code cell {code_number} ({first[:60]!r}):")
            for a, b in differing:
                report.append(f"  {names[0]:>7}: {a}")
                report.append(f"  {names[1]:>7}: {b}")
        for out_here, out_there in zip(cell_here["outputs"], cell_there["outputs"], strict=False):
            png_here = out_here.get("data", {}).get("image/png")
            if png_here is not None:
                images_total += 1
                png_there = out_there.get("data", {}).get("image/png")
                images_same += png_there is not None and text(png_here) == text(png_there)
    summary = (
        f"{lines_same} of {lines_total} printed lines identical; "
        f"{images_same} of {images_total} PNG figures byte-identical"
    )
    return [summary, *report]


# --- main -------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    # Lesson 4 trains on mini-batches of all 60,000 images: far too slow under emulation (see
    # the README's platform notes), so it runs only when asked for.
    parser.add_argument("--lessons", type=int, nargs="*", default=[1, 2, 3])
    parser.add_argument("--compare", type=int, nargs="*", default=[], metavar="LESSON")
    parser.add_argument("--refresh", action="store_true", help="new wheels, new environment")
    parser.add_argument(
        "--project",
        type=Path,
        default=ROOT,
        help="run the lessons of another checkout or export (default: this one)",
    )
    parser.add_argument(
        "--blas-kernel",
        metavar="NAME",
        help="OPENBLAS_CORETYPE in the root (e.g. armv8, neoversen1): another ARM64 kernel",
    )
    args = parser.parse_args(argv)
    global SOURCE
    SOURCE = args.project.resolve()
    if args.blas_kernel:
        BLAS_SETTINGS["OPENBLAS_CORETYPE"] = args.blas_kernel
    times = []
    try:
        check_prerequisites()
        notebooks = lesson_notebooks(args.lessons)
        to_compare = lesson_notebooks(args.compare)
        seconds = build_root()
        times.append(("build the root", seconds))
        seconds = build_venv(args.refresh)
        times.append(("download and install the wheels", seconds))
        copy_project()
        with proc_mounted():
            facts = platform_facts(inside=True)
            log("inside the root: " + facts.replace("\n", "\n       "))
            results = run_lessons(notebooks)
            comparisons = [(nb, *execute_both(nb)) for nb in to_compare]
    except Arm64Error as error:
        print(f"arm64: ERROR: {error}", file=sys.stderr)
        return 2
    qemu = ""
    if Path(QEMU).is_file():
        qemu = subprocess.run([QEMU, "--version"], capture_output=True, text=True).stdout
    print("\n=== ARM64 under QEMU user emulation ===")
    print(qemu.splitlines()[0] if qemu else "native aarch64 (no emulation)")
    print(f"Debian {SUITE} arm64 root: {CHROOT.relative_to(ROOT)}; lessons from {SOURCE}")
    print(facts)
    for step, seconds in times:
        print(f"{step}: {'reused' if seconds is None else f'{seconds:.0f} s'}")
    for notebook, passed, seconds in results:
        print(f"{'PASS' if passed else 'FAIL'}  {notebook}  ({seconds:.0f} s)")
    for notebook, here, there, seconds_here, seconds_there in comparisons:
        print(f"\n--- {notebook}: printed outputs, {platform.machine()} vs aarch64 ---")
        print(f"executed here in {seconds_here:.0f} s, under QEMU in {seconds_there:.0f} s")
        print("here:", platform_facts(inside=False).replace("\n", "\n      "))
        report = compare(here, there)
        print("\n".join(report))
        outputs = OUTPUTS / SOURCE.name
        (outputs / f"{Path(notebook).stem}.diff.txt").write_text("\n".join(report) + "\n")
        print(f"(kept in {outputs.relative_to(ROOT)})")
    failed = [notebook for notebook, passed, _ in results if not passed]
    if failed:
        print(f"\nRESULT: {len(failed)} of {len(results)} lessons FAILED on ARM64: {failed}")
        return 1
    if results:
        print(f"\nRESULT: passed on ARM64: {', '.join(nb for nb, _, _ in results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
