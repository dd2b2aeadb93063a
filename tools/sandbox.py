"""The sandbox a submission runs in, and the grader's end of the conversation with it.

A submission is untrusted code. It runs in a worker (``tools/sandbox_harness.py``)
inside Debian's bubblewrap (``bwrap``), and only data comes back (``tools/wire.py``):

- **nothing of the teacher's is visible**: the sandbox's file system is built from an
  allowlist (``/usr``, ``/etc``, the Python installation, read-only), plus read-only
  copies of the lesson's support files and the MNIST cache and the throwaway copy of the
  submission. No home folder, course, gradebook, other submission, project checkout,
  ``/run``, ``/var`` or host ``/tmp``;
- **no network**: a network namespace of its own (no interfaces up, and abstract Unix
  sockets are per namespace), and no host folder that could hold a Unix socket;
- **unprivileged**: as root, bubblewrap builds the sandbox and ``setpriv`` then runs the
  worker as ``nobody`` with no capabilities and ``no_new_privs``; as an ordinary user,
  bubblewrap's user namespace gives the worker no capabilities either;
- **limits**: address space (``MEMORY``), processes (``PROCESSES``, counted in the
  sandbox), a writable ``/tmp`` that is a size-limited tmpfs (``DISK``), a largest
  file of the same size, and wall time per cell, per call and per submission.
"""

from __future__ import annotations

import os
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import wire  # noqa: E402  (a sibling module, not a package)

TOOLS = Path(__file__).resolve().parent
HARNESS = TOOLS / "sandbox_harness.py"
#: The user the worker runs as when grading as root.
NOBODY = 65534
MISSING = (
    "Grading needs bubblewrap, which confines each submission: install it with "
    "`apt-get install bubblewrap` (Debian, Ubuntu) and grade again."
)
STUB = '''"""The exercise checks run in the grader, outside this sandbox: here they do nothing."""


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)

    def check(*args, **kwargs):
        return None

    return check
'''


@dataclass(frozen=True)
class Limits:
    """What one submission may use."""

    memory: int = 2 * 2**30  # bytes of address space
    processes: int = 64
    disk: int = 100 * 2**20  # bytes written in the sandbox
    cell: float = 120.0  # seconds per cell
    call: float = 30.0  # seconds per call of a student's function by a check
    total: float = 900.0  # seconds per submission


class SandboxError(Exception):
    """The worker broke the conversation: it died, ran out of time, or sent garbage."""

    def __init__(self, kind: str, detail: str = ""):
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind


def bubblewrap() -> str | None:
    """The path of bwrap, or None when bubblewrap is not installed."""
    return shutil.which("bwrap")


def _python_folders() -> list[Path]:
    """The folders the worker's Python needs: its environment and its base installation."""
    executable = Path(sys.executable)
    folders = {Path(sys.prefix), Path(sys.base_prefix), executable.parent}
    folders.add(executable.resolve().parent.parent)
    resolved = sorted({f.resolve() for f in folders}, key=lambda p: len(p.parts))
    kept: list[Path] = []
    for folder in resolved:
        if not any(folder.is_relative_to(parent) for parent in kept):
            kept.append(folder)
    return kept


def _system() -> list[str]:
    """The read-only system folders of the allowlist (symlinks such as /bin -> usr/bin kept)."""
    argv = ["--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc"]
    for name in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        path = Path(name)
        if path.is_symlink():
            argv += ["--symlink", os.readlink(path), name]
        elif path.is_dir():
            argv += ["--ro-bind", name, name]
    return argv


def bwrap_argv(bwrap: str, folder: Path, data: Path | None, limits: Limits) -> list[str]:
    """The command line that starts the worker on the throwaway `folder` (see `prepare`)."""
    as_root = os.geteuid() == 0
    if as_root:  # bubblewrap is privileged: no user namespace, setpriv drops to nobody
        argv = [bwrap, "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts"]
        argv += ["--unshare-cgroup-try"]
    else:
        argv = [bwrap, "--unshare-all", "--cap-drop", "ALL"]
    argv += ["--die-with-parent", "--new-session", "--clearenv", *_system()]
    argv += ["--proc", "/proc", "--dev", "/dev"]
    argv += ["--perms", "1777", "--size", str(limits.disk), "--tmpfs", "/tmp"]
    binds = {python: python for python in _python_folders()}
    binds[folder] = Path("/grading")  # the harness, the stub checks, the lesson's files
    if data is not None:
        binds[data] = Path("/grading/_data")
    made: set[Path] = set()
    for source, target in binds.items():
        # Folders on the way to a mount point, readable by the worker (bwrap would copy
        # the host's modes, and /root is not readable by nobody).
        for parent in reversed(target.parents[:-1]):
            if parent not in made and not parent.is_relative_to("/usr"):
                argv += ["--perms", "0755", "--dir", str(parent)]
                made.add(parent)
        argv += ["--ro-bind", str(source), str(target)]
    env = {
        "HOME": "/tmp",
        "TMPDIR": "/tmp",
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": "/tmp/matplotlib",
        "IPYTHONDIR": "/tmp/ipython",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "GRADING_MAX_PROCESSES": str(limits.processes),
    }
    for name, value in env.items():
        argv += ["--setenv", name, value]
    argv += ["--chdir", "/tmp"]
    if as_root:
        argv += ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
        argv += ["--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
    return [*argv, sys.executable, "/grading/sandbox_harness.py"]


def write_files(folder: Path, files: dict[str, bytes]) -> None:
    """Write `files` (relative name, subfolders included -> bytes) into `folder`."""
    for name, content in files.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)


def prepare(folder: Path, handed_in: dict[str, bytes], support: dict[str, bytes]) -> None:
    """Lay out the throwaway `folder`: the submission's files, the stub checks, support files.

    Everything is written here by the grader from bytes it holds, so nothing in the
    folder is a link the submission made.
    """
    for part in ("handed-in", "stub/checks", "lesson", "_data"):
        (folder / part).mkdir(parents=True)
    for module in (HARNESS, TOOLS / "wire.py"):
        shutil.copyfile(module, folder / module.name)
    write_files(folder / "handed-in", handed_in)
    (folder / "stub" / "checks" / "__init__.py").write_text(STUB, encoding="utf-8")
    write_files(folder / "lesson", support)
    for path in [folder, *folder.rglob("*")]:  # readable by the unprivileged worker
        path.chmod(0o755 if path.is_dir() else 0o644)


def _limit_resources(limits: Limits):
    def apply():
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory, limits.memory))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.disk, limits.disk))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


class Worker:
    """A running sandboxed worker, and the grader's side of its conversation."""

    def __init__(self, folder: Path, data: Path | None, limits: Limits):
        bwrap = bubblewrap()
        if not bwrap:
            raise RuntimeError(MISSING)
        self.limits = limits
        self.deadline = time.monotonic() + limits.total
        self.errors = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            bwrap_argv(bwrap, folder, data, limits),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.errors,
            start_new_session=True,
            preexec_fn=_limit_resources(limits),
        )
        try:
            self._expect(self.request({"op": "ready"}, send=False, timeout=60), "ready")
        except BaseException:  # nobody gets this worker to close: stop it here
            self.close()
            raise

    def _read(self, count: int, until: float) -> bytes:
        data = bytearray()
        out = self.process.stdout.fileno()
        while len(data) < count:
            left = min(until, self.deadline) - time.monotonic()
            if left <= 0:
                raise SandboxError("total time" if until >= self.deadline else "time")
            ready, _, _ = select.select([out], [], [], left)
            if not ready:
                continue
            chunk = os.read(out, min(count - len(data), 1 << 20))
            if not chunk:
                raise SandboxError("died", self._exit_detail())
            data += chunk
        return bytes(data)

    def _exit_detail(self) -> str:
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return "stopped answering"
        if code < 0:
            return f"killed by {signal.Signals(-code).name}"
        self.errors.seek(0)
        said = self.errors.read(2000).decode(errors="replace").strip()
        return f"exit code {code}" + (f": {said}" if said else "")

    def request(self, header: dict, values=None, send=True, timeout: float = 60) -> dict:
        """Send a request and read the answer (as data), within `timeout` seconds."""
        until = time.monotonic() + timeout
        if send:
            try:
                self.process.stdin.write(wire.pack(header, values))
                self.process.stdin.flush()
            except (BrokenPipeError, OSError):
                raise SandboxError("died", self._exit_detail()) from None

        def read_frame() -> bytes:
            return self._read(wire.frame_length(self._read(4, until)), until)

        try:
            return wire.unpack_frames(read_frame)
        except wire.WireError as error:
            raise SandboxError("garbled", str(error)) from None

    @staticmethod
    def _expect(answer: dict, op: str) -> dict:
        if answer.get("op") != op:
            raise SandboxError("garbled", f"expected {op!r}, got {answer.get('op')!r}")
        return answer

    def run_cell(self, index: int, source: str) -> dict:
        request = {"op": "run", "index": index, "source": source, "timeout": self.limits.cell}
        return self._expect(self.request(request, timeout=self.limits.cell + 10), "ran")

    def describe(self, name: str) -> dict:
        return self._expect(self.request({"op": "describe", "name": name}, timeout=30), "described")

    def call(self, name: str, args, kwargs) -> dict:
        request = {"op": "call", "name": name, "timeout": self.limits.call}
        values = {"args": list(args), "kwargs": dict(kwargs)}
        return self._expect(self.request(request, values, timeout=self.limits.call + 10), "called")

    def close(self) -> None:
        """Stop the worker and everything it started (its whole process group)."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout, self.errors):
            try:
                stream.close()
            except OSError:
                pass
