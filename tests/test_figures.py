"""``mnist_lib.show_figure``: a figure shown with its alt text in the output, once.

Each case runs in a fresh Python process, so no IPython shell or Matplotlib backend is left
behind in the test process.
"""

import html.parser
import json
import os
import subprocess
import sys
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"

IN_A_KERNEL = r"""
import json
import sys
import nbformat
from nbclient import NotebookClient

code = (
    "import matplotlib.pyplot as plt\n"
    "import mnist_lib\n"
    "fig, ax = plt.subplots()\n"
    "ax.plot([1, 2])\n"
    f"mnist_lib.show_figure(fig, alt={sys.argv[1]!r})\n"
    "print(len(plt.get_fignums()), 'open')"
)
notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
NotebookClient(notebook, timeout=60, kernel_name="python3").execute()
print(json.dumps(notebook.cells[0].outputs))
"""

IN_A_SCRIPT = r"""
import json
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import mnist_lib

shown = []
plt.show = lambda *args, **kwargs: shown.append("plt.show")
fig, ax = plt.subplots()
mnist_lib.show_figure(fig, alt="A blank chart.")
try:
    mnist_lib.show_figure(fig, alt=" ")
except ValueError as error:
    shown.append(str(error))
print(json.dumps(shown))
"""


def run(code: str, *args: str, MPLBACKEND: str = "Agg", as_html: bool = False):
    env = {**os.environ, "MPLBACKEND": MPLBACKEND}
    env.pop("MNIST_FIGURES_AS_HTML", None)
    if as_html:
        env["MNIST_FIGURES_AS_HTML"] = "1"
    result = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=NOTEBOOKS,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_in_a_notebook_the_figure_carries_its_alt_text_and_is_shown_once():
    outputs = run(
        IN_A_KERNEL, "  A rising\n line.  ", MPLBACKEND="module://matplotlib_inline.backend_inline"
    )
    images = [o for o in outputs if o["output_type"] == "display_data"]
    [image] = images  # once: not again at the end of the cell
    assert "image/png" in image["data"]
    assert image["data"]["text/plain"] == "A rising line."  # mystmd's book-theme: the alt text
    assert image["metadata"]["image/png"]["alt"] == "A rising line."  # nbconvert's alt text
    assert "text/html" not in image["data"]  # the site builds would show it instead of the PNG
    printed = [o["text"] for o in outputs if o["output_type"] == "stream" and o["name"] == "stdout"]
    assert printed == ["0 open\n"]  # the figure is closed


def test_outside_a_notebook_it_is_plt_show_and_empty_alt_text_is_refused():
    shown = run(IN_A_SCRIPT)
    assert shown[0] == "plt.show"
    assert "show_figure needs alt text" in shown[1]


def test_for_jupyterlab_the_figure_is_also_an_html_image_with_its_alt_text():
    """JupyterLab shows no alt text on an image output; tools/learn.py asks for an <img>."""
    alt = """A "rising" <line> & 'more'."""
    inline = "module://matplotlib_inline.backend_inline"
    outputs = run(IN_A_KERNEL, alt, MPLBACKEND=inline, as_html=True)
    [image] = [o for o in outputs if o["output_type"] == "display_data"]
    parsed = html.parser.HTMLParser()
    tags = []
    parsed.handle_starttag = lambda tag, attrs: tags.append((tag, dict(attrs)))
    parsed.feed(image["data"]["text/html"])
    [(tag, attributes)] = tags
    assert tag == "img"
    assert attributes["alt"] == alt
    assert attributes["src"] == "data:image/png;base64," + image["data"]["image/png"]
    assert image["data"]["text/plain"] == alt
