"""Browser test of the lessons in JupyterLab, the learner's room.

JupyterLab is started the way the README's first command starts it (``python tools/learn.py``,
with the options a test needs), on a free port of 127.0.0.1, in a copy of the project made a
git repository of its own, so that nothing this test does can change the checkout. Its
per-user folders (settings, workspaces, config, data) are empty temporary folders: whatever
makes the lessons work must come with the environment that ``pip install -r requirements.txt``
set up.

``learn.py`` makes the learner's workspace, and JupyterLab shows it: one notebook per lesson.
Debian's chromium, driven by Playwright (no browser is ever downloaded), opens each lesson the
way a learner does: a double click in the file browser. A lesson fails when

- it does not open as a runnable notebook, or it is marked unsaved once its kernel is idle,
  or saving it untouched changes its file;
- a test-only cell (tagged ``remove-cell``) shows its code;
- Run All leaves an error output, a solution shown unasked, or a widget that does not render,
  or a figure cell (one that calls ``show_figure``) shows other than one image;
- the browser logs a console error or an uncaught exception;
- a link to another lesson does not open that lesson as a notebook in the workspace;
- (lesson 4) the digit pad does not read a drawn 1 as a 1, and then a drawn 0 as a 0.

Then a learner's session in lesson 2: a wrong attempt and its hint, the solution on request, a
right attempt, autosave, a kernel restart and its message; afterwards the project's source is
unchanged (``git status`` of the copy is clean).

Screenshots of each lesson after Run All (in parts, for a long one), of the digit pad after the
test has drawn on it, and of each step of the session go to ``build/screenshots/lab/``.
Like the site test, it skips without chromium or Playwright and fails instead when
``REQUIRE_BROWSER_TEST=1``.
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import jupytext
import numpy as np
import pytest
import student_edition
from figure_alt import figure_alt  # docs/_ext, on the path by tests/conftest.py

ROOT = Path(__file__).resolve().parent.parent

NOTEBOOKS = ROOT / "notebooks"
LESSONS = student_edition.lessons()
SCREENSHOTS = ROOT / "build" / "screenshots" / "lab"
RUN_ALL_TIMEOUT = 300  # seconds; lesson 4 takes about 25 s on an idle 2-core machine
SCREENSHOT_PART = 15_000  # pixels: taller screenshots are split into parts
OPEN_TIMEOUT = 60_000  # milliseconds, for JupyterLab's start-up and a kernel's
QUEUE_TIMEOUT = 15  # seconds from Run All to the first cell queued (or run)
# What the learner's file browser must show at its root: one notebook per lesson.
WORKSPACE_FILES = sorted(f"{md.stem}.ipynb" for md in LESSONS)
LAB_MISSING = (
    "Browser test skipped: JupyterLab is not installed here (pip install -r requirements.txt)"
)


def readme_first_command() -> list[str]:
    """The words of the README's first command after ``tools/learn.py`` (its options)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    command = re.search(r"```bash\n(.*?)\n```", text, re.DOTALL).group(1)
    assert "python tools/learn.py" in command, f"the README's first command is {command!r}"
    return shlex.split(command.split("tools/learn.py", 1)[1].split("&&")[0])


# MyST syntax that JupyterLab's Markdown cells show as plain text (the site renders it).
# jupyterlab-myst would render some of it, but with JupyterLab 4.6 its Markdown cells throw
# an uncaught exception in the cell toolbar, so the lessons keep to what renders in both rooms:
# CommonMark, tables, and $...$ / $$...$$ math.
MYST_ONLY = {
    "directive": re.compile(r"^ {0,3}(`{3,}|~{3,}|:{3,})\s*\{[\w:-]+\}", re.MULTILINE),
    "role": re.compile(r"\{[\w:-]+\}`"),
    "target": re.compile(r"^\([\w.:-]+\)=\s*$", re.MULTILINE),
    "substitution": re.compile(r"\{\{[^}]*\}\}"),
}


def test_lesson_uses_markdown_that_jupyterlab_renders(lesson):
    """Admonitions, dropdowns, glue and other MyST extensions must not show up as raw text."""
    found = [
        f"cell {index}: {kind} {match.group(0).strip()!r}"
        for index, cell in enumerate(jupytext.read(lesson).cells)
        if cell.cell_type == "markdown"
        for kind, pattern in MYST_ONLY.items()
        for match in pattern.finditer(cell.source)
    ]
    assert not found, (
        "MyST syntax that JupyterLab shows as plain text (write plain Markdown instead, e.g. "
        "a blockquote starting with **Note:** for an admonition):\n" + "\n".join(found)
    )


def test_ci_only_cells_are_folded_in_every_edition(lesson):
    """A cell the site removes (remove-cell) shows folded in any Jupyter: the handed-out
    editions carry the fold (source_hidden); the project's JupyterLab adds it on opening
    (the browser test counts the folded inputs)."""
    from mnist_lab_contents import fold_ci_only_cells

    full = jupytext.read(lesson)
    edition, _ = student_edition.edition_notebook(full, lesson.name)
    for cells in (edition.cells, fold_ci_only_cells(jupytext.read(lesson)).cells):
        tagged = [c for c in cells if "remove-cell" in c.metadata.get("tags", [])]
        assert all(c.metadata.get("jupyter", {}).get("source_hidden") for c in tagged)


def test_download_progress_bar_in_a_terminal():
    """Outside Jupyter the bar is tqdm's text bar, as wide as the terminal, ending at 100 %."""
    import io

    import mnist_lib

    out = io.StringIO()
    bar = mnist_lib._ProgressBar("t10k-labels-idx1-ubyte.gz", file=out)
    bar.total = 4_542  # pooch sets the size once the server has sent it
    for _ in range(5):
        bar.update(1024)  # pooch counts whole chunks, so it overshoots...
    bar.reset()
    bar.update(4_542)  # ...and then sets the exact size
    bar.close()
    last_line = out.getvalue().rstrip("\n").split("\r")[-1]
    assert "notebook" not in type(bar.bar).__module__, "a terminal gets the text bar"
    assert bar.bar.dynamic_ncols, "the bar follows the terminal's width (pooch's is 79 columns)"
    assert last_line.startswith("t10k-labels-idx1-ubyte.gz: 100%"), last_line
    assert "4.54k/4.54k" in last_line, last_line


def _student_edition_function(images): ...  # YOUR CODE HERE


def _full_edition_function_without_return(images):
    images.sum()


def test_check_messages_fit_the_edition():
    """Only a function that still holds the placeholder is told to replace it."""
    import checks

    with pytest.raises(checks.NotYet, match="Replace the line"):
        checks.core._call(_student_edition_function, np.zeros(3))
    with pytest.raises(checks.NotYet) as raised:
        checks.core._call(_full_edition_function_without_return, np.zeros(3))
    assert "YOUR CODE HERE" not in str(raised.value) and "`return`" in str(raised.value)


# --------------------------------------------------------------------------
# JupyterLab, in a copy of the project
# --------------------------------------------------------------------------


def _copy_project(destination: Path) -> Path:
    """The project's source as a fresh clone has it, committed in a git repository of its own."""
    ignore = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints", "*.pyc", "*.egg-info")
    for name in ("notebooks", "tools", "labconfig"):
        shutil.copytree(ROOT / name, destination / name, ignore=ignore)
    for name in ("README.md", "TEACHING.md", "requirements.txt", ".gitignore"):
        shutil.copy2(ROOT / name, destination / name)
    (destination / "_data").mkdir()
    shutil.copy2(ROOT / "_data" / "README.md", destination / "_data" / "README.md")
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@127.0.0.1"]
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "the source"]):
        subprocess.run([*git, *command], cwd=destination, check=True, capture_output=True)
    return destination


def tracked_files(project: Path) -> dict[str, bytes]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=project, check=True, capture_output=True
    ).stdout.decode()
    return {name: (project / name).read_bytes() for name in listed.split("\0") if name}


def git_status(project: Path) -> str:
    return subprocess.run(
        ["git", "status", "--porcelain"], cwd=project, check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture(scope="module")
def mnist_mirror(folder_server):
    """A web server on 127.0.0.1 with the MNIST files: the lessons download from it.

    The files are the project's verified cache (filled first, from $MNIST_MIRRORS if set),
    so each lesson downloads MNIST with its progress bar, and never from another host.
    """
    import mnist_lib

    for filename in mnist_lib.DATA_SOURCES.values():
        mnist_lib.fetch(filename, progress=False)
    with folder_server(mnist_lib.CACHE_DIR) as base:
        yield base


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Lab:
    """A running JupyterLab server and how to talk to it."""

    def __init__(self, project: Path, port: int, token: str, process, log: Path):
        self.project, self.token, self.process, self.log = project, token, process, log
        self.workspace = project / "workspace"
        self.source = tracked_files(project)  # the source before the learner came
        self.base = f"http://127.0.0.1:{port}/"
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def url(self, path: str) -> str:
        separator = "&" if "?" in path else "?"
        return f"{self.base}{path}{separator}token={self.token}"

    def api(self, path: str, method: str = "GET"):
        request = urllib.request.Request(self.url(f"api/{path}"), method=method)
        with self.opener.open(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def wait_until_up(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                self.api("status")
                return
            except (OSError, urllib.error.URLError):
                time.sleep(0.5)
        pytest.fail(f"JupyterLab did not start:\n{self.log.read_text()[-3000:]}")

    def shut_down_kernels(self) -> None:
        for session in self.api("sessions"):
            self.api(f"sessions/{session['id']}", method="DELETE")


@pytest.fixture(scope="module")
def lab(chromium, browser_skip, mnist_mirror, tmp_path_factory):
    """JupyterLab started as the README starts it (tools/learn.py), in a copy of the project."""
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        browser_skip(LAB_MISSING)
    home = tmp_path_factory.mktemp("jupyter-home")
    project = _copy_project(tmp_path_factory.mktemp("learner") / "mnist")
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ, MNIST_MIRRORS=mnist_mirror)
    # As on a learner's machine (where tools/learn.py sets MNIST_FIGURES_AS_HTML itself).
    for name in ("MNIST_CACHE", "PYTHONPATH", "CHECKS_STRICT", "MNIST_FIGURES_AS_HTML"):
        env.pop(name, None)
    for name in ("CONFIG", "DATA", "RUNTIME"):
        env[f"JUPYTER_{name}_DIR"] = str(home / name.lower())
    command = [
        *(sys.executable, "tools/learn.py", *readme_first_command()),
        *("--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}"),
        *("--ServerApp.port_retries=0", f"--IdentityProvider.token={token}"),
        f"--LabApp.user_settings_dir={home / 'settings'}",
        f"--LabApp.workspaces_dir={home / 'workspaces'}",
    ]
    log = home / "jupyterlab.log"
    with open(log, "w") as log_file:
        process = subprocess.Popen(
            command, cwd=project, env=env, stdout=log_file, stderr=subprocess.STDOUT
        )
    server = Lab(project, port, token, process, log)
    try:
        server.wait_until_up()
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --------------------------------------------------------------------------
# What a learner does in the page
# --------------------------------------------------------------------------

MAIN = "#jp-main-dock-panel"
CURRENT_TAB = f"{MAIN} .lm-TabBar-tab.jp-mod-current"
CURRENT_NOTEBOOK = f"{MAIN} .jp-NotebookPanel:not(.lm-mod-hidden)"

# Runs in the page after Run All: what the checks need from the open notebook.
INSPECT_NOTEBOOK_JS = """
(panel) => {
  const text = el => (el ? el.textContent : "").trim();
  const outputs = Array.from(panel.querySelectorAll(".jp-OutputArea-output"));
  return {
    // A folded input (CI-only cells) keeps no prompt of its own.
    prompts: Array.from(panel.querySelectorAll(".jp-CodeCell"))
      .filter(cell => !cell.querySelector(".jp-InputPlaceholder"))
      .map(cell => text(cell.querySelector(".jp-InputPrompt"))),
    // The first line of the first cell that is still queued or running.
    waitingFor: Array.from(panel.querySelectorAll(".jp-CodeCell"))
      .filter(cell => text(cell.querySelector(".jp-InputPrompt")).includes("*"))
      .map(cell => text(cell.querySelector(".jp-InputArea-editor .cm-line")))[0] || null,
    errors: outputs
      .filter(o => o.matches("[data-mime-type='application/vnd.jupyter.stderr']"))
      .map(o => text(o).slice(0, 300)),
    widgets: outputs
      .filter(o => o.matches("[data-mime-type='application/vnd.jupyter.widget-view+json']"))
      .map(o => ({text: text(o).slice(0, 200), children: o.children.length})),
    // tqdm's bars: how wide, against the output area, and how tall (one line or wrapped).
    progressBars: Array.from(panel.querySelectorAll(".jp-OutputArea-output .widget-hbox"))
      .filter(box => box.querySelector(".widget-progress, .widget-hprogress"))
      .map(box => ({
        width: box.getBoundingClientRect().width,
        outputWidth: box.closest(".jp-OutputArea-output").getBoundingClientRect().width,
        height: box.getBoundingClientRect().height,
        text: text(box).slice(0, 120),
      })),
    hiddenInputs: panel.querySelectorAll(".jp-Cell .jp-InputPlaceholder").length,
    // For each code cell whose code calls show_figure: the alt text of each image it shows.
    figures: Array.from(panel.querySelectorAll(".jp-CodeCell"))
      .filter(cell => text(cell.querySelector(".jp-InputArea-editor")).includes("show_figure("))
      .map(cell => Array.from(cell.querySelectorAll(".jp-OutputArea-output img"))
        .map(img => img.complete && !img.naturalWidth ? "(a broken image)" : img.getAttribute("alt"))),
    // JupyterLab rewrites a relative link into a /files/ URL (and opens it on a click).
    lessonLinks: Array.from(panel.querySelectorAll(".jp-RenderedMarkdown a[href]"))
      .map(a => a.getAttribute("href"))
      .filter(href => !href.startsWith("#") && (href.includes("/files/") || !/^\\w+:/.test(href)))
      .map(href => decodeURIComponent(new URL(href, location.href).pathname))
      .map(path => path.split("/").pop())
      .filter(name => /^[0-9][0-9]-[^/]*\\.(md|ipynb)$/.test(name)),
  };
}
"""


def open_in_file_browser(page, *names: str) -> None:
    """Double-click each name in turn in JupyterLab's file browser."""
    for name in names:
        item = page.locator(".jp-DirListing-item").filter(
            has=page.locator(".jp-DirListing-itemText", has_text=re.compile(f"^{re.escape(name)}$"))
        )
        item.first.dblclick(timeout=OPEN_TIMEOUT)


def wait_for_notebook(page, path: str, idle: bool = True) -> None:
    """Wait until the current tab is the notebook `path` (and, with `idle`, its kernel idle)."""
    page.wait_for_function(
        "([selector, path]) => (document.querySelector(selector) || {}).title"
        "  ?.includes('Path: ' + path)",
        arg=[CURRENT_TAB, path],
        timeout=OPEN_TIMEOUT,
    )
    page.wait_for_selector(f"{CURRENT_NOTEBOOK} .jp-Notebook", timeout=OPEN_TIMEOUT)
    if idle:
        wait_until_idle(page, OPEN_TIMEOUT)


def wait_until_idle(page, timeout_ms: int) -> None:
    page.wait_for_selector(
        f"{CURRENT_NOTEBOOK} .jp-Notebook-ExecutionIndicator[data-status='idle']",
        timeout=timeout_ms,
    )


def run_menu(page, menu: str, item: str) -> None:
    """Choose `item` in the menu `menu` of JupyterLab's menu bar, once JupyterLab enables it.

    A notebook's commands are disabled until JupyterLab has made the notebook its current
    widget; a click on a disabled item does nothing at all, so the menu is reopened until the
    item is enabled (as a learner would try again)."""
    label = re.compile(f"^{re.escape(item)}$")
    deadline = time.monotonic() + OPEN_TIMEOUT / 1000
    while True:
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{menu}$")).click()
        entry = page.locator(".lm-Menu-item").filter(
            has=page.locator(".lm-Menu-itemLabel", has_text=label)
        )
        if "lm-mod-disabled" not in (entry.get_attribute("class") or ""):
            entry.click()
            return
        page.keyboard.press("Escape")
        if time.monotonic() > deadline:
            pytest.fail(f"{menu} > {item} stayed disabled for {OPEN_TIMEOUT // 1000} s")
        print(f"{menu} > {item} is still disabled; trying again")
        page.wait_for_timeout(500)


def ran(prompt: str) -> bool:
    """Whether a code cell's prompt shows that it ran (an execution count, not `*`)."""
    return re.fullmatch(r"\[\d+\]:", prompt) is not None


def queued(before: list[str], now: list[str]) -> bool:
    """Whether some cell was queued or run since the prompts were `before`.

    A prompt cleared to `[ ]:` does not count: JupyterLab clears the cells it skips."""
    return any("*" in p or (ran(p) and p != b) for b, p in zip(before, now, strict=False))


def run_all(page) -> tuple[dict, float]:
    """Run > Run All Cells; wait until no cell is queued or running. Returns the report.

    If the command queued no cell (no prompt shows `*` or a count it did not show before) in
    QUEUE_TIMEOUT seconds, it is chosen again, as a learner would; after three tries the test
    fails here, rather than in a later step for a reason that hides this one."""
    notebook = page.locator(CURRENT_NOTEBOOK)
    before = notebook.evaluate(INSPECT_NOTEBOOK_JS)["prompts"]
    for attempt in range(1, 4):
        run_menu(page, "Run", "Run All Cells")
        started = time.perf_counter()
        while time.perf_counter() - started < QUEUE_TIMEOUT:
            if queued(before, notebook.evaluate(INSPECT_NOTEBOOK_JS)["prompts"]):
                break
            page.wait_for_timeout(100)
        else:
            # JupyterLab skips every cell if the notebook has no kernel at that moment.
            print(f"Run All Cells queued no cell in {QUEUE_TIMEOUT} s (try {attempt} of 3)")
            continue
        break
    else:
        pytest.fail(f"Run > Run All Cells queued no cell, three times in {QUEUE_TIMEOUT} s")
    page.wait_for_timeout(500)
    while True:
        report = notebook.evaluate(INSPECT_NOTEBOOK_JS)
        busy = any("*" in prompt for prompt in report["prompts"])
        if not busy or time.perf_counter() - started > RUN_ALL_TIMEOUT:
            break
        page.wait_for_timeout(250)
    seconds = time.perf_counter() - started
    if not busy:
        wait_until_idle(page, OPEN_TIMEOUT)
    return report, seconds


# --------------------------------------------------------------------------
# The checks
# --------------------------------------------------------------------------


def check_saved_unchanged(page, lab: Lab, name: str, problems: list[str]) -> None:
    """Save the untouched notebook (Ctrl+S): its file in the workspace must keep its bytes."""
    copy = lab.workspace / name
    before, modified = copy.read_bytes(), copy.stat().st_mtime_ns
    page.locator(f"{CURRENT_NOTEBOOK} .jp-Notebook").click(position={"x": 5, "y": 5})
    page.keyboard.press("Control+s")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and copy.stat().st_mtime_ns == modified:
        time.sleep(0.2)
    if copy.stat().st_mtime_ns == modified:
        problems.append(f"Ctrl+S did not save {name}")
    elif settled(copy) != before:
        problems.append(f"saving the untouched notebook changed {name}")


def settled(path: Path, timeout: float = 20) -> bytes:
    """The file's bytes once the server has finished writing it (a notebook that parses, and
    the same bytes 0.5 s later: Jupyter's "atomic" save writes into the file itself)."""
    deadline = time.monotonic() + timeout
    data = b""
    while time.monotonic() < deadline:
        data = path.read_bytes()
        time.sleep(0.5)
        try:
            json.loads(data)
        except ValueError:
            continue
        if path.read_bytes() == data:
            break
    return data


def check_opened_clean(page, what: str, problems: list[str]) -> None:
    """No dialog (such as "Select Kernel"), and no unsaved marker once the kernel is idle.

    JupyterLab may show the marker for a moment while it loads the document; one that is
    still there 3 s after the kernel became idle is the learner's "unsaved".
    """
    try:
        page.wait_for_function(
            "(selector) => !document.querySelector(selector)?.classList.contains('jp-mod-dirty')",
            arg=CURRENT_TAB,
            timeout=3000,
        )
    except Exception:  # Playwright's TimeoutError: the marker stayed
        problems.append(f"{what} is marked unsaved right after opening")
    if page.locator(".jp-Dialog").count():
        problems.append(f"{what} opens with a dialog: {page.locator('.jp-Dialog').inner_text()!r}")


def check_hidden_cells(lesson: Path, report: dict, problems: list[str]) -> None:
    """Every CI-only cell shows as a folded input, not as code."""
    ci_only = [
        cell
        for cell in jupytext.read(lesson).cells
        if "remove-cell" in cell.metadata.get("tags", [])
    ]
    if report["hiddenInputs"] < len(ci_only):
        problems.append(
            f"{len(ci_only)} CI-only cells, but only {report['hiddenInputs']} folded inputs"
        )


def check_outputs(report: dict, problems: list[str]) -> None:
    unrun = unrun_cells(report)
    if unrun:
        problems.append(
            f"{len(unrun)} code cells did not run (prompts {sorted(set(unrun))}); "
            f"the first still waiting starts {report['waitingFor']!r}"
        )
    for text in report["errors"]:
        problems.append(f"error output: {text!r}")
    for widget in report["widgets"]:
        broken = re.search(
            r"Loading widget|Error displaying widget|model not found", widget["text"]
        )
        if broken or not widget["children"]:
            problems.append(f"a widget did not render: {widget['text']!r}")


def check_figures(lesson: Path, report: dict, problems: list[str]) -> None:
    """Each figure of the lesson is shown once (show_figure closes what it shows), with the
    alt text its cell gives it (JupyterLab shows show_figure's HTML <img> in the workspace)."""
    cells = jupytext.read(lesson).cells
    expected = [[figure_alt(c.source)] for c in cells if c.cell_type == "code"]
    expected = [alts for alts in expected if alts[0]]
    if report["figures"] != expected:
        problems.append(
            f"the alt text of the images each figure cell shows: {report['figures']}, "
            f"not {expected}"
        )


def check_progress_bars(report: dict, problems: list[str]) -> None:
    """The lesson downloaded MNIST (its cache was empty): one full-width bar a line."""
    if not report["progressBars"]:
        problems.append("no download progress bar was shown (the cache was empty)")
    for bar in report["progressBars"]:
        if bar["width"] < 0.9 * bar["outputWidth"] or bar["height"] > 40:
            problems.append(
                f"a progress bar is {bar['width']:.0f} x {bar['height']:.0f} px in an output "
                f"{bar['outputWidth']:.0f} px wide: not one full-width line ({bar['text']!r})"
            )


def draw_stroke(page, box: dict, points: list[tuple[float, float]]) -> None:
    """Drag the mouse through `points`, given as fractions of the box's width and height."""
    xy = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in points]
    page.mouse.move(*xy[0])
    page.mouse.down()
    for x, y in xy[1:]:
        page.mouse.move(x, y, steps=4)
    page.mouse.up()


def pad_box(page, pad) -> dict:
    """Where the pad's drawing area is on the screen, once the notebook has stopped moving.

    A click in the cell's output makes the cell the active one, and JupyterLab may then
    scroll the notebook; so click first (on the caption), scroll the pad into view, measure.
    """
    pad.locator(".digit-pad-caption").click()
    canvas = pad.locator("canvas.digit-pad-canvas")
    canvas.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    return canvas.bounding_box()


def wait_for_prediction(page, pad, other_than: str) -> str:
    page.wait_for_function(
        "([pad, old]) => pad.dataset.prediction !== old",
        arg=[pad.element_handle(), other_than],
        timeout=15_000,
    )
    return pad.get_attribute("data-prediction")


def check_digit_pad(page, lesson: Path, problems: list[str]) -> None:
    """Draw a 1, clear, draw a 0: the best model's prediction must follow."""
    pad = page.locator(f"{CURRENT_NOTEBOOK} .digit-pad")
    if pad.count() != 1:
        problems.append(f"the digit pad did not render ({pad.count()} pads on the page)")
        return
    try:
        draw_stroke(page, pad_box(page, pad), [(0.55, 0.12), (0.5, 0.5), (0.45, 0.88)])
        one = wait_for_prediction(page, pad, other_than="")
        pad.locator(".digit-pad-clear").click()
        wait_for_prediction(page, pad, other_than=one)
        turn = [2 * math.pi * k / 40 for k in range(41)]
        circle = [(0.5 + 0.22 * math.sin(t), 0.5 - 0.33 * math.cos(t)) for t in turn]
        draw_stroke(page, pad_box(page, pad), circle)
        zero = wait_for_prediction(page, pad, other_than="")
    except Exception as exc:  # Playwright's TimeoutError: the prediction never came
        problems.append(f"the digit pad's prediction did not follow the drawing: {exc}")
        return
    finally:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        pad.screenshot(path=str(SCREENSHOTS / f"{lesson.stem}-digit-pad.png"))
    if (one, zero) != ("1", "0"):
        problems.append(f"drew a 1, then a 0: the pad read {one!r}, then {zero!r}")


def lesson_links_in(lesson: Path) -> set[str]:
    """The other lessons that a lesson links to, as the workspace's notebooks (file names)."""
    stems = {md.stem for md in LESSONS}
    found = re.findall(r"\]\((\d\d-[\w-]+)\.(?:md|ipynb)", lesson.read_text(encoding="utf-8"))
    return {f"{stem}.ipynb" for stem in found if stem in stems} - {f"{lesson.stem}.ipynb"}


def check_lesson_links(page, lesson: Path, report: dict, problems: list[str]) -> None:
    """Each link to another lesson opens that lesson, from the workspace, as a notebook."""
    missing = lesson_links_in(lesson) - set(report["lessonLinks"])
    if missing:
        problems.append(f"links to {sorted(missing)} are not links in JupyterLab")
    for name in sorted(set(report["lessonLinks"])):
        if not name.endswith(".ipynb"):
            problems.append(f"a link points to {name}, not to a notebook of the workspace")
            continue
        selector = f"{CURRENT_NOTEBOOK} .jp-RenderedMarkdown a[href*='/{name}']"
        link = page.locator(selector).first
        link.scroll_into_view_if_needed()
        link.click()
        try:  # opened as a notebook (its own test checks it opens clean, kernel and all)
            wait_for_notebook(page, name, idle=False)
        except Exception as exc:  # Playwright's TimeoutError, with what it waited for
            problems.append(f"the link to {name} did not open it as a notebook: {exc}")
            continue
        # Back to the lesson's tab. (Closing the new tab at once would cancel the debugger's
        # first request to the kernel that is starting, which JupyterLab logs as an error.)
        notebook = f"{lesson.stem}.ipynb"
        page.locator(f"{MAIN} .lm-TabBar-tab[title*='Path: {notebook}']").click()
        wait_for_notebook(page, notebook)


def take_screenshot(page, lesson: Path) -> list[Path]:
    """The whole notebook: a window as tall as the notebook, in parts of at most 15,000 px."""
    scroller = page.locator(f"{CURRENT_NOTEBOOK} .jp-WindowedPanel-outer")
    height = scroller.evaluate("element => element.scrollHeight")
    part = min(height, SCREENSHOT_PART)
    page.set_viewport_size({"width": 1280, "height": part + 150})
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shots = []
    for index, top in enumerate(range(0, height, part)):
        scroller.evaluate("(element, top) => { element.scrollTop = top; }", top)
        page.wait_for_timeout(500)
        suffix = f"-{index + 1}" if height > part else ""
        shots.append(SCREENSHOTS / f"{lesson.stem}{suffix}.png")
        page.screenshot(path=str(shots[-1]), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    return shots


def open_lab(chromium, lab: Lab, problems: list[str]):
    """A new browser page on a fresh JupyterLab workspace, logging errors into `problems`."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.on("console", lambda m: m.type == "error" and problems.append(f"console error: {m.text}"))
    page.on(
        "pageerror", lambda exc: problems.append(f"uncaught exception: {exc} {exc.stack[:600]}")
    )
    page.goto(lab.url("lab?reset"), wait_until="load", timeout=OPEN_TIMEOUT)
    page.wait_for_selector(".jp-DirListing-item", timeout=OPEN_TIMEOUT)
    return context, page


def fail_on(problems: list[str], what: str) -> None:
    if problems:
        listing = "\n".join(f"- {p}" for p in problems)
        pytest.fail(f"{what}:\n{listing}", pytrace=False)


# --------------------------------------------------------------------------
# The tests
# --------------------------------------------------------------------------


def test_readme_command_opens_the_workspace(lab):
    """The README's command shows the learner's workspace: the lessons, nothing else, and
    JupyterLab opens lesson 1 (learn.py becomes JupyterLab: the same process, a new command).
    Each lesson's own test opens its lesson there."""
    names = sorted(item["name"] for item in lab.api("contents")["content"])
    assert names == WORKSPACE_FILES, f"the file browser shows {names}, not the workspace"
    running = Path(f"/proc/{lab.process.pid}/cmdline").read_bytes().decode().split("\0")[:-1]
    assert running[1:3] == ["-m", "jupyterlab"], running
    assert f"--ServerApp.root_dir={lab.workspace}" in running
    assert running[-1] == str(lab.workspace / WORKSPACE_FILES[0]), running  # lesson 1


def test_lesson_in_jupyterlab(lesson, lab, chromium):
    problems: list[str] = []
    shutil.rmtree(lab.project / "_data")  # every lesson downloads MNIST, as on a first run
    (lab.project / "_data").mkdir()
    shutil.copy2(ROOT / "_data" / "README.md", lab.project / "_data" / "README.md")
    context, page = open_lab(chromium, lab, problems)
    notebook = f"{lesson.stem}.ipynb"
    start = time.perf_counter()
    try:
        open_in_file_browser(page, notebook)
        wait_for_notebook(page, notebook)
        check_opened_clean(page, "the lesson", problems)
        check_saved_unchanged(page, lab, notebook, problems)
        report, seconds = run_all(page)
        print(f"{lesson.stem}: Run All took {seconds:.1f} s")
        page.wait_for_timeout(500)  # let widgets draw
        report = page.locator(CURRENT_NOTEBOOK).evaluate(INSPECT_NOTEBOOK_JS)
        check_hidden_cells(lesson, report, problems)
        check_outputs(report, problems)
        check_figures(lesson, report, problems)
        check_progress_bars(report, problems)
        if "one of several good ones" in page.locator(CURRENT_NOTEBOOK).inner_text():
            problems.append("Run All showed a solution that nobody asked for")
        if "DigitPad(" in lesson.read_text(encoding="utf-8"):
            check_digit_pad(page, lesson, problems)
        shots = take_screenshot(page, lesson)
        check_lesson_links(page, lesson, report, problems)
    finally:
        context.close()
        lab.shut_down_kernels()
    print(f"{lesson.stem}: {time.perf_counter() - start:.1f} s in all, screenshots {shots}")
    fail_on(problems, f"{lesson.name} in JupyterLab")


# -- A learner's session ------------------------------------------------------


def code_cell(page, contains: str):
    """The code cell of the open notebook whose code holds `contains` (found now, by position,
    so that it stays the same cell when the learner retypes it)."""
    cells = page.locator(f"{CURRENT_NOTEBOOK} .jp-CodeCell")
    index = cells.evaluate_all(
        "(cells, text) => cells.findIndex("
        "  cell => (cell.querySelector('.jp-InputArea-editor') || {}).textContent?.includes(text))",
        contains,
    )
    assert index >= 0, f"no code cell holds {contains!r}"
    cells.nth(index).scroll_into_view_if_needed()
    return cells.nth(index)


def type_into(page, cell, lines: list[str]) -> None:
    """Replace a cell's code by `lines`, typed as a learner types (the editor indents)."""
    cell.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    for number, line in enumerate(lines):
        if number:
            page.keyboard.press("Enter")
        page.keyboard.type(line)


def unrun_cells(report: dict) -> list[str]:
    """The prompts of the code cells that have not run, or not yet."""
    return [prompt for prompt in report["prompts"] if not ran(prompt)]


def what_lab_shows(page, lab: Lab) -> str:
    """For a failure's message: any dialog, the kernel's status, the end of the server's log."""
    said = []
    for name, look in [
        ("dialogs", lambda: page.locator(".jp-Dialog").all_inner_texts()),
        (
            "execution indicator",
            lambda: page.locator(
                f"{CURRENT_NOTEBOOK} .jp-Notebook-ExecutionIndicator"
            ).first.get_attribute("data-status", timeout=2000),
        ),
        ("sessions", lambda: lab.api("sessions")),
        ("the end of JupyterLab's log", lambda: lab.log.read_text(errors="replace")[-2000:]),
    ]:
        try:
            said.append(f"{name}: {look()}")
        except Exception as error:  # what could not be seen must not hide the failure
            said.append(f"{name}: ({type(error).__name__})")
    return "\n".join(said)


def run_cell(page, cell) -> str:
    """Run the cell in place (Ctrl+Enter); return the text of its output once it has run.

    It has run when its prompt, watched from before the key press, has changed and shows an
    execution count (the same count as before, after a restart, still changed it twice: to
    `*` and back). A cell that never ran fails the test here.
    """
    prompt = cell.locator(".jp-InputPrompt")
    prompt.evaluate(
        "p => { p.changes = 0; new MutationObserver(() => p.changes++)"
        ".observe(p, {childList: true, characterData: true, subtree: true}); }"
    )
    cell.locator(".cm-content").click()
    page.keyboard.press("Control+Enter")
    started = time.monotonic()
    while True:
        changes, now = prompt.evaluate("p => [p.changes, p.textContent.trim()]")
        if changes and ran(now):
            break
        if time.monotonic() - started > OPEN_TIMEOUT / 1000:
            pytest.fail(f"the cell did not run in {OPEN_TIMEOUT // 1000} s (its prompt: {now})")
        page.wait_for_timeout(50)
    wait_until_idle(page, OPEN_TIMEOUT)
    page.wait_for_timeout(300)
    return cell.locator(".jp-OutputArea").inner_text()


def shoot(page, cell, step: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    cell.scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / f"session-{step}.png"))


def attempt(page, cell, lines: list[str], then, step: str) -> str:
    """Type `lines` into `cell`, run it, then run `then`: what `then` printed, on one line."""
    type_into(page, cell, lines)
    if cell != then:
        run_cell(page, cell)
    said = " ".join(run_cell(page, then).split())
    shoot(page, then, step)
    return said


WRONG_ATTEMPT = ["def scale_symmetric(images):", "return images / 255"]
RIGHT_ATTEMPT = ["def scale_symmetric(images):", "return np.asarray(images) / 127.5 - 1"]


def test_a_learners_session_touches_only_their_copy(lab, chromium):
    """Lesson 2, exercise 1, as a learner works it; the source stays as it was."""
    lesson = next(md for md in LESSONS if md.name.startswith("02-"))
    notebook = f"{lesson.stem}.ipynb"
    mine = lab.workspace / notebook
    given = mine.read_bytes()
    problems: list[str] = []
    context, page = open_lab(chromium, lab, problems)
    try:
        open_in_file_browser(page, notebook)
        wait_for_notebook(page, notebook)
        report, _ = run_all(page)
        if not any(map(ran, report["prompts"])) and not report["errors"]:
            # Seen once in CI, on a loaded machine, and never since: Run All ran no cell in
            # the kernel that then answered the checks. Say what was there, and try once more
            # (as the learner would). A cell that fails is not retried: it is a problem.
            print(f"Run All ran no cell\n{what_lab_shows(page, lab)}")
            shoot(page, code_cell(page, "import checks"), "0-run-all-ran-no-cell")
            report, _ = run_all(page)
        if unrun_cells(report) or report["errors"]:
            problems.append(
                f"Run All left code cells unrun: {unrun_cells(report)}; errors: {report['errors']}"
            )
        answer = code_cell(page, "def scale_symmetric")
        check = code_cell(page, "checks.scale_symmetric(scale_symmetric)")
        ask = code_cell(page, 'checks.solution("2.1")')
        said = run_cell(page, check)
        if "Not yet" not in said or "YOUR CODE HERE" not in said:
            problems.append(f"the blank exercise's check said {said!r}")

        said = attempt(page, answer, WRONG_ATTEMPT, check, "1-wrong-attempt")
        if not said.startswith("Not yet:"):
            problems.append(f"a wrong attempt's check said {said!r}")

        if "127.5" in page.locator(CURRENT_NOTEBOOK).inner_text():
            problems.append("the solution shows before the learner asked for it")
        hint = attempt(page, ask, ['checks.hint("2.1")'], ask, "2-hint")
        if "Hint:" not in hint or "127.5" in hint:
            problems.append(f"the hint is {hint!r}")
        shown = attempt(page, ask, ['checks.solution("2.1")'], ask, "3-solution")
        if "images / 127.5 - 1" not in shown:
            problems.append(f"asked for the solution, the cell showed {shown!r}")

        said = attempt(page, answer, RIGHT_ATTEMPT, check, "4-right-attempt")
        if not said.startswith("Right!"):
            problems.append(f"a right attempt's check said {said!r}")

        # Autosave (JupyterLab saves every 120 s) and an explicit save reach the learner's copy.
        page.keyboard.press("Control+s")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and mine.read_bytes() == given:
            time.sleep(0.2)
        if "np.asarray(images) / 127.5 - 1" not in settled(mine).decode("utf-8"):
            problems.append("saving did not write the learner's attempt into their copy")

        # A restart: the kernel forgets `np`; the check says so, and how to get it back.
        indicator = page.locator(f"{CURRENT_NOTEBOOK} .jp-Notebook-ExecutionIndicator").first
        indicator.evaluate(
            "i => { i.seen = []; new MutationObserver(() => i.seen.push(i.dataset.status))"
            ".observe(i, {attributes: true, attributeFilter: ['data-status']}); }"
        )
        run_menu(page, "Kernel", "Restart Kernel…")
        page.locator(".jp-Dialog button", has_text=re.compile("^Restart$")).click()
        # Restarted: the indicator has left "idle" and come back to it.
        indicator.evaluate(
            "(i, ms) => new Promise((done, fail) => { const back = () => i.seen.some(s => s !=="
            " 'idle') && i.dataset.status === 'idle'; if (back()) return done(); new"
            " MutationObserver(() => back() && done()).observe(i, {attributes: true});"
            " setTimeout(() => fail(new Error('no restart seen: ' + i.seen)), ms); })",
            OPEN_TIMEOUT,
        )
        run_cell(page, answer)  # defines the function (its print line fails: no x_train)
        prompt = answer.locator(".jp-InputPrompt").inner_text().strip()
        if prompt != "[1]:":
            problems.append(f"after the restart, the first cell run shows {prompt}, not [1]:")
        run_cell(page, code_cell(page, "import checks"))
        said = " ".join(run_cell(page, check).split())
        shoot(page, check, "5-after-restart")
        if not said.startswith("Hold on:") or "Run All Above Selected Cell" not in said:
            problems.append(f"after a restart, the check said {said!r}")
    finally:
        context.close()
        lab.shut_down_kernels()
    if git_status(lab.project):
        problems.append(f"the learner's session changed the source: {git_status(lab.project)}")
    changed = [n for n, data in tracked_files(lab.project).items() if lab.source.get(n) != data]
    if changed or set(tracked_files(lab.project)) != set(lab.source):
        problems.append(f"tracked files changed: {changed}")
    fail_on(problems, "a learner's session in JupyterLab")
