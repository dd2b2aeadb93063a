"""The worker inside the sandbox: runs a submission's cells, then calls its functions.

Started by ``tools/sandbox.py`` inside bubblewrap, as an unprivileged user with no
capabilities. It trusts nothing it runs, and nothing it says is trusted: the grader
reads its answers as data (``tools/wire.py``) and computes every verdict itself.

Requests come on stdin and answers go to stdout; before the submission runs, both are
moved to private descriptors, stdin becomes /dev/null and stdout/stderr a file in the
sandbox's scratch space, so what the cells print cannot garble the conversation.

Requests: ``run`` (one cell's source, executed like a notebook cell by IPython),
``describe`` (is a name defined, is it callable, its source text), ``call`` (call a
function with data arguments; the answer holds its result and the arguments after the
call, so the grader sees what it changed), ``quit``.
"""

from __future__ import annotations

import builtins
import inspect
import io
import os
import resource
import shutil
import signal
import sys
import textwrap

import wire

OUTPUT_CAP = 20_000  # characters of a cell's printed output sent back


class _Capped(io.TextIOBase):
    """A text stream that keeps the first OUTPUT_CAP characters and counts the rest."""

    def __init__(self):
        self.parts: list[str] = []
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, text) -> int:
        text = str(text)
        if self.size < OUTPUT_CAP:
            self.parts.append(text[: OUTPUT_CAP - self.size])
        self.size += len(text)
        return len(text)

    def text(self) -> str:
        kept = "".join(self.parts)
        if self.size > OUTPUT_CAP:
            kept += f"\n[... {self.size - OUTPUT_CAP} more characters not kept]\n"
        return kept


class _Alarm(KeyboardInterrupt):
    """Raised in the submission when a cell or call runs past its time."""


def _on_alarm(signum, frame):
    raise _Alarm("the time limit was reached")


def _error(error: BaseException) -> dict:
    base = next(
        (k for k in type(error).__mro__ if getattr(builtins, k.__name__, None) is k), Exception
    )
    return {
        "type": type(error).__name__,
        "base": base.__name__,
        "message": str(error)[:2000],
        "errno": getattr(error, "errno", None),
    }


class Worker:
    def __init__(self, channel_in, channel_out):
        self.channel_in, self.channel_out = channel_in, channel_out
        try:
            from IPython.core.interactiveshell import InteractiveShell
            from traitlets.config import Config

            config = Config()
            config.HistoryManager.enabled = False
            self.shell = InteractiveShell.instance(config=config)
            self.namespace = self.shell.user_ns
        except ImportError:  # plain Python: cells run with exec
            self.shell = None
            self.namespace = {"__name__": "__main__"}

    def read_frame(self) -> bytes:
        prefix = self.channel_in.read(4)
        if len(prefix) < 4:
            raise EOFError
        data = self.channel_in.read(wire.frame_length(prefix))
        return data

    def send(self, header: dict, values: dict | None = None) -> None:
        try:
            message = wire.pack(header, values)
        except wire.WireError as error:
            header = {**header, "error": {"type": "TypeError", "base": "TypeError", "errno": None}}
            header["error"]["message"] = f"the grader can only read data back ({error})"
            message = wire.pack(header)
        self.channel_out.write(message)
        self.channel_out.flush()

    def _timed(self, seconds: float, action):
        signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.1))
        try:
            return action()
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)

    def run(self, request: dict) -> None:
        captured = _Capped()
        saved = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = captured
        error, timed_out = None, False
        try:
            if self.shell is not None:
                result = self._timed(
                    request["timeout"],
                    lambda: self.shell.run_cell(request["source"], store_history=False),
                )
                failure = result.error_before_exec or result.error_in_exec
                if failure is not None:
                    error = _error(failure)
                    timed_out = isinstance(failure, _Alarm)
            else:
                code = compile(request["source"], f"<cell {request['index']}>", "exec")
                self._timed(request["timeout"], lambda: exec(code, self.namespace))
        except _Alarm as alarm:
            error, timed_out = _error(alarm), True
        except BaseException as failure:  # the cell's own error, including SystemExit
            error = _error(failure)
        finally:
            sys.stdout, sys.stderr = saved
        self.send({"op": "ran", "error": error, "timed_out": timed_out, "output": captured.text()})

    def describe(self, request: dict) -> None:
        name = request["name"]
        found = name in self.namespace
        value = self.namespace.get(name)
        source = None
        if callable(value):
            try:
                source = textwrap.dedent(inspect.getsource(value))
            except (OSError, TypeError):
                source = None
        self.send(
            {"op": "described", "defined": found, "callable": callable(value), "source": source}
        )

    def call(self, request: dict) -> None:
        values = request.get("values", {})
        args, kwargs = list(values.get("args", ())), dict(values.get("kwargs", {}))
        function = self.namespace.get(request["name"])
        captured, saved = _Capped(), (sys.stdout, sys.stderr)
        sys.stdout = sys.stderr = captured
        try:
            result = self._timed(request["timeout"], lambda: function(*args, **kwargs))
        except _Alarm:
            sys.stdout, sys.stderr = saved
            error = {"type": "TimeoutError", "base": "TimeoutError", "errno": None}
            error["message"] = f"your function ran longer than {request['timeout']:g} s"
            self.send({"op": "called", "error": error, "timed_out": True})
            return
        except BaseException as failure:
            sys.stdout, sys.stderr = saved
            self.send({"op": "called", "error": _error(failure)})
            return
        sys.stdout, sys.stderr = saved
        values = {"result": result, "args": args, "kwargs": kwargs}
        self.send({"op": "called", "error": None}, values)

    def serve(self) -> None:
        while True:
            try:
                request = wire.unpack_frames(self.read_frame)
            except EOFError:
                return
            op = request.get("op")
            if op == "run":
                self.run(request)
            elif op == "describe":
                self.describe(request)
            elif op == "call":
                self.call(request)
            else:
                return


def main() -> None:
    # The conversation moves to private descriptors before any submitted code runs.
    channel_in = os.fdopen(os.dup(0), "rb", buffering=0)
    channel_out = os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    printed = os.open("/tmp/printed.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(printed, 1)
    os.dup2(printed, 2)
    sys.stdout = sys.stderr = open(1, "w", closefd=False)  # noqa: SIM115
    processes = int(os.environ.pop("GRADING_MAX_PROCESSES", "64"))
    resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
    work = "/tmp/work"
    os.makedirs(work, exist_ok=True)
    handed_in = "/grading/handed-in"
    # The grader wrote this folder (regular files only); the copy is the submission's own.
    shutil.copytree(handed_in, work, dirs_exist_ok=True, copy_function=shutil.copyfile)
    os.chdir(work)
    # The stub `checks` first, then the course's support files, then the student's folder.
    sys.path[:0] = ["/grading/stub", "/grading/lesson"]
    sys.path.append(work)
    worker = Worker(channel_in, channel_out)
    worker.send({"op": "ready"})
    worker.serve()


if __name__ == "__main__":
    main()
