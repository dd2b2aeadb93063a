"""Browser test of the lessons in JupyterLab, the learner's room.

JupyterLab is started the way the README's first command starts it (its ``jupyter lab``
arguments are read from the README), on a free port of 127.0.0.1, in a copy of the project, so
that nothing this test does can change the checkout. Its per-user folders (settings,
workspaces, config, data) are empty temporary folders: whatever makes the lessons work must
come with the environment that ``pip install -r requirements.txt`` set up.

Then Debian's chromium, driven by Playwright (no browser is ever downloaded), opens each
lesson the way a learner does: a double click on its ``.md`` in the file browser. A lesson
fails when

- it does not open as a runnable notebook, or it is marked unsaved once its kernel is idle,
  or saving it untouched changes its ``.md`` or ``.ipynb``;
- a CI-only cell (tagged ``remove-cell``) shows its code;
- Run All leaves an error output, or a widget that does not render;
- the browser logs a console error or an uncaught exception;
- a link to another lesson does not open that lesson as a notebook;
- (lesson 4) the digit pad does not read a drawn 1 as a 1, and then a drawn 0 as a 0.

A full-page screenshot of each lesson after Run All (in parts, for a long one), and one of
the digit pad after the test has drawn on it, go to ``build/screenshots/lab/``.
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

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
LESSONS = student_edition.lessons()
SCREENSHOTS = ROOT / "build" / "screenshots" / "lab"
RUN_ALL_TIMEOUT = 300  # seconds; lesson 4 takes about 25 s on an idle 2-core machine
SCREENSHOT_PART = 15_000  # pixels: taller screenshots are split into parts
OPEN_TIMEOUT = 60_000  # milliseconds, for JupyterLab's start-up and a kernel's
# What the learner's file browser must show at its root.
PROJECT_FILES = ["README.md", "TEACHING.md", "notebooks", "_data"]
LAB_MISSING = (
    "Browser test skipped: JupyterLab is not installed here (pip install -r requirements.txt)"
)


def readme_lab_arguments() -> list[str]:
    """The arguments of ``jupyter lab`` in the README's first command."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    command = re.search(r"```bash\n(.*?)\n```", text, re.DOTALL).group(1)
    words = shlex.split(command.split("jupyter lab", 1)[1].split("&&")[0])
    return words


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


def test_ci_only_cells_are_folded_in_jupyterlab(lesson):
    """A cell the site removes (remove-cell) shows folded in JupyterLab (source_hidden)."""
    from mnist_lab_contents import fold_ci_only_cells  # JupyterLab's contents manager folds them

    unfolded = [
        index
        for index, cell in enumerate(fold_ci_only_cells(jupytext.read(lesson)).cells)
        if "remove-cell" in cell.metadata.get("tags", [])
        and not cell.metadata.get("jupyter", {}).get("source_hidden")
    ]
    assert not unfolded, f"cells {unfolded} are tagged remove-cell without jupyter.source_hidden"


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
    """The learner's files, copied, with an empty download cache."""
    ignore = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints", "*.pyc")
    shutil.copytree(NOTEBOOKS, destination / "notebooks", ignore=ignore)
    for name in ("README.md", "TEACHING.md"):
        shutil.copy2(ROOT / name, destination / name)
    (destination / "_data").mkdir()
    return destination


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
    """JupyterLab started as the README starts it, in a copy of the project."""
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        browser_skip(LAB_MISSING)
    home = tmp_path_factory.mktemp("jupyter-home")
    project = _copy_project(tmp_path_factory.mktemp("learner") / "mnist")
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ, MNIST_MIRRORS=mnist_mirror)
    for name in ("CONFIG", "DATA", "RUNTIME"):
        env[f"JUPYTER_{name}_DIR"] = str(home / name.lower())
    command = [
        *(sys.executable, "-m", "jupyterlab", *readme_lab_arguments()),
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


def wait_for_notebook(page, path: str) -> None:
    """Wait until the current tab is the notebook `path`, with its kernel idle."""
    page.wait_for_function(
        "([selector, path]) => (document.querySelector(selector) || {}).title"
        "  ?.includes('Path: ' + path)",
        arg=[CURRENT_TAB, path],
        timeout=OPEN_TIMEOUT,
    )
    page.wait_for_selector(f"{CURRENT_NOTEBOOK} .jp-Notebook", timeout=OPEN_TIMEOUT)
    wait_until_idle(page, OPEN_TIMEOUT)


def wait_until_idle(page, timeout_ms: int) -> None:
    page.wait_for_selector(
        f"{CURRENT_NOTEBOOK} .jp-Notebook-ExecutionIndicator[data-status='idle']",
        timeout=timeout_ms,
    )


def run_menu(page, menu: str, item: str) -> None:
    """Choose `item` in the menu `menu` of JupyterLab's menu bar."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{menu}$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(item)}$")).click()


def run_all(page) -> tuple[dict, float]:
    """Run > Run All Cells; wait until no cell is queued or running. Returns the report."""
    run_menu(page, "Run", "Run All Cells")
    started = time.perf_counter()
    page.wait_for_timeout(500)
    notebook = page.locator(CURRENT_NOTEBOOK)
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


def check_saved_unchanged(page, lab: Lab, names: list[str], problems: list[str]) -> None:
    """Save the untouched document (Ctrl+S): its files (`names`) must stay as committed."""
    copies = [lab.project / name for name in names]
    before = [copy.stat().st_mtime_ns for copy in copies]
    page.locator(f"{CURRENT_NOTEBOOK} .jp-Notebook").click(position={"x": 5, "y": 5})
    page.keyboard.press("Control+s")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(
        copy.stat().st_mtime_ns == old for copy, old in zip(copies, before, strict=True)
    ):
        time.sleep(0.2)
    for name, copy in zip(names, copies, strict=True):
        if copy.read_bytes() != (ROOT / name).read_bytes():
            problems.append(f"saving the untouched document changed {name}")
    if any(copy.stat().st_mtime_ns == old for copy, old in zip(copies, before, strict=True)):
        problems.append(f"Ctrl+S did not save all of {names}")


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
    unrun = [p for p in report["prompts"] if not re.fullmatch(r"\[\d+\]:", p)]
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


def lesson_links_in(document: Path) -> set[str]:
    """The other lessons that a document's Markdown links to (file names)."""
    names = {md.name for md in LESSONS} | {md.stem + ".ipynb" for md in LESSONS}
    found = re.findall(r"\]\((?:notebooks/)?([^)#\s]+)", document.read_text(encoding="utf-8"))
    return {name for name in found if name in names} - {document.name}


def check_lesson_links(page, lesson: Path, report: dict, problems: list[str]) -> None:
    """Each link to another lesson opens that lesson as a notebook."""
    missing = lesson_links_in(lesson) - set(report["lessonLinks"])
    if missing:
        problems.append(f"links to {sorted(missing)} are not links in JupyterLab")
    for name in sorted(set(report["lessonLinks"])):
        selector = f"{CURRENT_NOTEBOOK} .jp-RenderedMarkdown a[href*='/{name}']"
        link = page.locator(selector).first
        link.scroll_into_view_if_needed()
        link.click()
        try:
            wait_for_notebook(page, f"notebooks/{name}")
        except Exception as exc:  # Playwright's TimeoutError, with what it waited for
            problems.append(f"the link to {name} did not open it as a notebook: {exc}")
            continue
        check_opened_clean(page, f"{name}, opened by a link,", problems)
        # Back to the lesson's tab. (Closing the new tab at once would cancel the debugger's
        # first request to the kernel that is starting, which JupyterLab logs as an error.)
        page.locator(f"{MAIN} .lm-TabBar-tab[title*='Path: notebooks/{lesson.name}']").click()
        wait_for_notebook(page, f"notebooks/{lesson.name}")


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


def test_readme_command_serves_the_project_root(lab, chromium):
    """The README's command roots JupyterLab at the project folder, with lesson 1 open."""
    names = {item["name"] for item in lab.api("contents")["content"]}
    missing = [name for name in PROJECT_FILES if name not in names]
    assert not missing, f"the file browser's root lacks {missing}: it is not the project root"
    opened = [arg for arg in readme_lab_arguments() if not arg.startswith("-")]
    assert opened and opened[0].startswith("notebooks/01-"), f"README opens {opened}, not lesson 1"
    problems: list[str] = []
    context, page = open_lab(chromium, lab, problems)
    try:
        page.goto(lab.url(f"lab/tree/{opened[0]}"), wait_until="load", timeout=OPEN_TIMEOUT)
        wait_for_notebook(page, opened[0])
        check_opened_clean(page, opened[0], problems)
    finally:
        context.close()
        lab.shut_down_kernels()
    fail_on(problems, "the README's command")


def test_readme_opens_and_its_links_open_the_lessons(lab, chromium):
    """README.md, double-clicked, reads without fuss; its link to lesson 1 opens a notebook."""
    problems: list[str] = []
    context, page = open_lab(chromium, lab, problems)
    try:
        open_in_file_browser(page, "README.md")
        wait_for_notebook(page, "README.md")
        check_opened_clean(page, "README.md", problems)
        check_saved_unchanged(page, lab, ["README.md"], problems)
        first = LESSONS[0].relative_to(ROOT).as_posix()
        assert LESSONS[0].name in lesson_links_in(ROOT / "README.md")
        page.locator(f"{CURRENT_NOTEBOOK} .jp-RenderedMarkdown a[href*='/{first}']").first.click()
        wait_for_notebook(page, first)
        check_opened_clean(page, f"{first}, opened from the README,", problems)
    finally:
        context.close()
        lab.shut_down_kernels()
    fail_on(problems, "README.md in JupyterLab")


def test_lesson_in_jupyterlab(lesson, lab, chromium):
    problems: list[str] = []
    shutil.rmtree(lab.project / "_data")  # every lesson downloads MNIST, as on a first run
    (lab.project / "_data").mkdir()
    context, page = open_lab(chromium, lab, problems)
    start = time.perf_counter()
    try:
        open_in_file_browser(page, "notebooks", lesson.name)
        wait_for_notebook(page, f"notebooks/{lesson.name}")
        check_opened_clean(page, "the lesson", problems)
        pair = [f"notebooks/{lesson.name}", f"notebooks/{lesson.stem}.ipynb"]
        check_saved_unchanged(page, lab, pair, problems)
        report, seconds = run_all(page)
        print(f"{lesson.stem}: Run All took {seconds:.1f} s")
        page.wait_for_timeout(500)  # let widgets draw
        report = page.locator(CURRENT_NOTEBOOK).evaluate(INSPECT_NOTEBOOK_JS)
        check_hidden_cells(lesson, report, problems)
        check_outputs(report, problems)
        check_progress_bars(report, problems)
        if "DigitPad(" in lesson.read_text(encoding="utf-8"):
            check_digit_pad(page, lesson, problems)
        shots = take_screenshot(page, lesson)
        check_lesson_links(page, lesson, report, problems)
    finally:
        context.close()
        lab.shut_down_kernels()
    print(f"{lesson.stem}: {time.perf_counter() - start:.1f} s in all, screenshots {shots}")
    fail_on(problems, f"{lesson.name} in JupyterLab")
