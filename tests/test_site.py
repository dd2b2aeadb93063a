"""Browser test of the documentation site in ``build/site``.

Every page of the built site is opened in headless Chromium (Debian's
``chromium`` package, driven by Playwright; no browser is ever downloaded),
served from a web server on 127.0.0.1 that this test starts. A page fails when:

- it does not load (HTTP status other than 200);
- the browser logs a console error or an uncaught exception;
- any request fails, answers 400 or more, or goes to another host (the site
  must work offline: no CDN);
- an image does not load, or has no alt text;
- an internal link leads to a missing page or to a missing anchor;
- a cell output is an error or a traceback;
- its math was not typeset by MathJax;
- (lesson pages) a cell tagged ``remove-cell`` is visible, or the download or
  launch button is missing, or the download is not a zip holding the lesson's clean
  notebook and the files it needs.

A full-page screenshot of each page is saved under ``build/screenshots/``.

The test skips, and says why, when Debian's chromium, the Playwright Python
package or the built site is missing. ``nox -s tests`` builds the site first
when chromium is installed; with ``REQUIRE_BROWSER_TEST=1`` (set by
``.ci/run``) a missing piece is a failure instead of a skip.
"""

from __future__ import annotations

import io
import json
import re
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import student_edition

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "build" / "site"
SCREENSHOTS = ROOT / "build" / "screenshots"
NOTEBOOKS = ROOT / "notebooks"
LESSONS = student_edition.lessons()

SITE_MISSING = (
    "Browser test skipped: the site is not built (run `nox -s docs`, or `nox -s tests`, "
    "which builds it when chromium is installed)"
)

# myst-nb gives error outputs these classes; the text check catches the rest.
ERROR_OUTPUT_SELECTOR = (
    ".cell_output .traceback, .cell_output .error, .output.traceback, .output.error"
)


def _site_pages() -> list[str]:
    """Every HTML page of the site, as a path relative to the site root."""
    if not (SITE / "index.html").is_file():
        return []
    return sorted(
        str(p.relative_to(SITE))
        for p in SITE.rglob("*.html")
        if not any(part.startswith(("_", ".")) for part in p.relative_to(SITE).parts)
    )


PAGES = _site_pages()


# --------------------------------------------------------------------------
# Fixtures: a local web server and a browser
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def built_site(browser_skip):
    """The built site's folder; a skip (or, where required, a failure) if there is none."""
    if not PAGES:
        browser_skip(SITE_MISSING)
    return SITE


@pytest.fixture(scope="module")
def browser(chromium, built_site):
    """The shared chromium (tests/conftest.py), once the site is built."""
    return chromium


@pytest.fixture(scope="module")
def server(browser, folder_server):
    with folder_server(SITE) as base:
        yield base


class _Fetcher:
    """GETs local URLs once each and remembers status and anchors."""

    def __init__(self):
        self.cache: dict[str, tuple[int, bytes]] = {}
        # Straight to the local server, whatever proxy the environment names.
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def get(self, url: str) -> tuple[int, bytes]:
        if url not in self.cache:
            try:
                with self.opener.open(url, timeout=10) as response:
                    self.cache[url] = (response.status, response.read())
            except urllib.error.HTTPError as exc:
                self.cache[url] = (exc.code, b"")
        return self.cache[url]

    def anchors(self, url: str) -> set[str]:
        _, body = self.get(url)
        text = body.decode("utf-8", "replace")
        return set(re.findall(r'\b(?:id|name)="([^"]+)"', text))


@pytest.fixture(scope="module")
def fetcher():
    return _Fetcher()


# --------------------------------------------------------------------------
# The page checks
# --------------------------------------------------------------------------

# Runs in the page once it has loaded: waits for MathJax and for every image,
# then reports what the checks need.
INSPECT_JS = """
async () => {
  const withTimeout = (promise, ms) =>
    Promise.race([promise, new Promise(resolve => setTimeout(resolve, ms))]);
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await withTimeout(MathJax.startup.promise, 20000);
  }
  const images = Array.from(document.images);
  images.forEach(img => { img.loading = "eager"; });
  await withTimeout(Promise.all(images.map(img => img.complete ? null :
    new Promise(resolve => {
      img.addEventListener("load", resolve);
      img.addEventListener("error", resolve);
    }))), 20000);
  const maths = Array.from(document.querySelectorAll("span.math, div.math"));
  return {
    images: images.map(img => ({
      src: img.currentSrc || img.src,
      alt: (img.getAttribute("alt") || "").trim(),
      loaded: img.complete && img.naturalWidth > 0,
    })),
    links: Array.from(document.querySelectorAll("a[href]")).map(a => a.href),
    errorOutputs: Array.from(document.querySelectorAll("ERROR_OUTPUT_SELECTOR"))
      .map(e => e.innerText.slice(0, 200)),
    outputs: Array.from(document.querySelectorAll(".cell_output")).map(e => e.innerText),
    codeCells: Array.from(document.querySelectorAll(".cell_input")).map(e => e.innerText),
    mathTotal: maths.length,
    mathUntypeset: maths.filter(m => !m.querySelector("mjx-container")).length,
    mathErrors: document.querySelectorAll("mjx-merror").length,
    download: Array.from(document.querySelectorAll("a.lesson-download")).map(a => a.href),
    launch: Array.from(document.querySelectorAll("a.lesson-launch")).map(a => a.href),
  };
}
""".replace("ERROR_OUTPUT_SELECTOR", ERROR_OUTPUT_SELECTOR)


def _screenshot_path(page_path: str) -> Path:
    return SCREENSHOTS / Path(page_path).with_suffix(".png")


def _removed_cell_markers(stem: str) -> list[str]:
    """One distinctive line of each cell that the site must hide (tag remove-cell)."""
    source = NOTEBOOKS / f"{stem}.md"
    if not source.is_file():
        return []
    import jupytext

    cells = jupytext.read(source).cells
    hidden = [c for c in cells if "remove-cell" in c.metadata.get("tags", [])]
    visible_text = "\n".join(c.source for c in cells if c not in hidden)
    markers = []
    for cell in hidden:
        lines = [ln.strip() for ln in cell.source.splitlines()]
        distinctive = [ln for ln in lines if len(ln) >= 12 and ln not in visible_text]
        if distinctive:
            markers.append(max(distinctive, key=len))
    return markers


def _check_links(links, base, fetcher, problems):
    for href in sorted(set(links)):
        if not href.startswith(base):
            continue  # external links are plain links; they are not loaded
        target, _, fragment = href.partition("#")
        status, _ = fetcher.get(target)
        if status != 200:
            problems.append(f"broken internal link: {href} (HTTP {status})")
            continue
        if fragment and urlsplit(target).path.endswith((".html", "/")):
            if unquote(fragment) not in fetcher.anchors(target):
                problems.append(f"internal link to a missing anchor: {href}")


def _check_lesson(page_path, report, fetcher, problems):
    stem = Path(page_path).stem
    if len(report["download"]) != 1 or not report["download"][0].endswith(f"/{stem}.zip"):
        problems.append(f"no download button for {stem}.zip: {report['download']}")
    else:
        # The download is the learner's edition of the lesson, with what it needs
        # (tests/test_student_edition.py runs one where it lands).
        status, body = fetcher.get(report["download"][0])
        try:
            with zipfile.ZipFile(io.BytesIO(body)) as archive:
                names = archive.namelist()
                notebook = json.loads(archive.read(f"notebooks/{stem}.ipynb"))
        except (zipfile.BadZipFile, KeyError, ValueError):
            names, notebook = [], {}
        if status != 200 or not notebook.get("cells"):
            problems.append(
                f"the download {report['download'][0]} holds no notebook {stem}.ipynb "
                f"(HTTP {status}; {names[:5]})"
            )
        elif any(c.get("outputs") for c in notebook["cells"] if c.get("cell_type") == "code"):
            problems.append("the downloaded notebook carries outputs")
        for needed in ("requirements.txt", "notebooks/mnist_lib.py", "notebooks/checks/core.py"):
            if names and needed not in names:
                problems.append(f"the download lacks {needed}")
    if len(report["launch"]) != 1 or not report["launch"][0].endswith(f"/{stem}.ipynb"):
        problems.append(f"no launch button for {stem}.ipynb: {report['launch']}")
    elif report["launch"][0].startswith("http://localhost:8888/") and report["launch"][0] != (
        f"http://localhost:8888/lab/tree/{stem}.ipynb"  # the workspace holds it at its top
    ):
        problems.append(f"the launch button misses the learner's workspace: {report['launch']}")
    code = "\n".join(report["codeCells"])
    for marker in _removed_cell_markers(stem):
        if marker in code:
            problems.append(f"a cell tagged remove-cell is visible: {marker!r}")


@pytest.mark.parametrize("page_path", PAGES or ["(site not built)"])
def test_page(page_path, browser, server, fetcher):
    problems: list[str] = []
    context = browser.new_context(viewport={"width": 1280, "height": 900})

    def route(route_):
        url = route_.request.url
        if url.startswith(server) or url.startswith(("data:", "blob:", "about:")):
            route_.continue_()
        else:
            problems.append(f"request to another host: {url}")
            route_.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("console", lambda m: m.type == "error" and problems.append(f"console error: {m.text}"))
    page.on("pageerror", lambda exc: problems.append(f"uncaught exception: {exc}"))
    page.on(
        "requestfailed",
        lambda r: (
            r.url.startswith(server) and problems.append(f"request failed: {r.url} ({r.failure})")
        ),
    )
    page.on(
        "response",
        lambda r: r.status >= 400 and problems.append(f"HTTP {r.status} for {r.url}"),
    )
    try:
        url = server + page_path
        response = page.goto(url, wait_until="load", timeout=60_000)
        if response is None or response.status != 200:
            problems.append(f"page did not load: HTTP {response.status if response else 'none'}")
        page.wait_for_load_state("networkidle", timeout=30_000)
        report = page.evaluate(INSPECT_JS)
        shot = _screenshot_path(page_path)
        shot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shot), full_page=True)
    finally:
        context.close()

    for image in report["images"]:
        if not image["loaded"]:
            problems.append(f"broken image: {image['src']}")
        if not image["alt"]:
            problems.append(f"image without alt text: {image['src']}")
    for text in report["errorOutputs"]:
        problems.append(f"error output in a cell: {text!r}")
    for text in report["outputs"]:
        if "Traceback" in text:
            problems.append(f"traceback in a cell output: {text[:200]!r}")
    if report["mathUntypeset"] or report["mathErrors"]:
        problems.append(
            f"math not typeset: {report['mathUntypeset']} of {report['mathTotal']} "
            f"formulas untouched, {report['mathErrors']} MathJax errors"
        )
    _check_links(report["links"], server, fetcher, problems)
    if page_path.startswith("lessons/"):
        _check_lesson(page_path, report, fetcher, problems)

    if problems:
        listing = "\n".join(f"- {p}" for p in problems)
        pytest.fail(
            f"{page_path} (screenshot: {_screenshot_path(page_path)}):\n{listing}", pytrace=False
        )


def test_search_finds_the_lessons(browser, server):
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(server + "search.html?q=gradient", wait_until="load")
        page.wait_for_selector("#search-results ul.search li", timeout=30_000)
        hits = page.eval_on_selector_all(
            "#search-results ul.search li a", "els => els.map(e => e.href)"
        )
    finally:
        context.close()
    assert any("/lessons/" in h for h in hits), hits


def test_every_lesson_has_a_page(built_site):
    missing = [
        md.stem
        for md in LESSONS
        if not (built_site / "lessons" / f"{md.stem}.html").is_file()
        or not (built_site / "lessons" / f"{md.stem}.zip").is_file()
    ]
    assert not missing, f"lessons missing from the site (rebuild it: nox -s docs): {missing}"
