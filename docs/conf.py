"""Sphinx configuration of the tutorial's site.

Build it with ``nox -s docs`` (into ``build/site``) and look at it with
``nox -s serve``. Every lesson is executed during the build, so each output
and figure on the site is fresh.

Everything the pages load comes from installed packages: the theme
(sphinx-book-theme), MathJax (sphinx-mathjax-offline) and Sphinx's own search.
No page loads anything from another host.

Settings read from the environment:

``SITE_LAUNCH_URL``
    Where a lesson's "Launch" button goes: a URL template in which ``{path}``
    becomes the notebook's path in the repository
    (``notebooks/01-load-the-mnist-dataset.ipynb``); without ``{path}`` the
    path is appended; ``{name}`` becomes the notebook's file name. Examples::

        https://mybinder.org/v2/gh/OWNER/REPO/HEAD?urlpath=lab/tree/{path}
        https://hub.example.edu/hub/user-redirect/lab/tree/mnist/{path}
        http://localhost:8888/lab/tree/{path}

``SITE_REPOSITORY``
    ``OWNER/REPO`` on GitHub. When ``SITE_LAUNCH_URL`` is unset, the launch
    button opens the lesson on Binder (mybinder.org) for this repository. If
    both are unset, the repository is read from ``git remote get-url origin``
    when that is on GitHub; otherwise the button opens the lesson in a
    JupyterLab running on this computer (README's first command).

Every build runs every lesson (myst-nb's ``nb_execution_mode = "force"``); while writing,
``nox -s docs -- -D nb_execution_mode=cache`` reruns only the lessons whose code changed.
"""

import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS / "_ext"))

# -- Project ------------------------------------------------------------------

project = "Deep learning on MNIST from scratch with NumPy"
author = "the tutorial's authors"
copyright = "the tutorial's authors"
html_title = "Deep learning on MNIST from scratch"

extensions = ["myst_nb", "lessons"]
root_doc = "index"
# mystmd/: where the Jupyter Book 2 project lived before notebooks/myst.yml; a build left there
# by the old layout holds copies of the lessons, which must not become pages.
exclude_patterns = ["_build", "requirements.txt", "**/.ipynb_checkpoints", "mystmd"]
templates_path = ["_templates"]

# -- The lessons ----------------------------------------------------------------

lessons_source_dir = str(ROOT / "notebooks")
lessons_repo_folder = "notebooks"


def _github_repository() -> str:
    """OWNER/REPO from $SITE_REPOSITORY, else from a GitHub origin remote, else ''."""
    if os.environ.get("SITE_REPOSITORY"):
        return os.environ["SITE_REPOSITORY"].strip().strip("/")
    try:
        origin = subprocess.run(
            ["git", "remote", "get-url", "origin"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    except OSError:
        return ""
    match = re.search(r"github\.com[:/]([^/]+/[^/]+?)(?:\.git)?$", origin)
    return match.group(1) if match else ""


# The lessons' kernels inherit this process's environment. An HTML copy of each figure is for
# JupyterLab (mnist_lib.show_figure); MyST-NB would put it on the page instead of the PNG.
os.environ.pop("MNIST_FIGURES_AS_HTML", None)

if os.environ.get("SITE_LAUNCH_URL"):
    lessons_launch_url = os.environ["SITE_LAUNCH_URL"]
    lessons_launch_label = "Launch"
elif _github_repository():
    lessons_launch_url = (
        f"https://mybinder.org/v2/gh/{_github_repository()}/HEAD?urlpath=lab/tree/{{path}}"
    )
    lessons_launch_label = "Launch on Binder"
else:
    # The JupyterLab of the README's first command (tools/learn.py): the learner's workspace,
    # which holds each lesson at its top under the lesson's file name.
    lessons_launch_url = "http://localhost:8888/lab/tree/{name}"
    lessons_launch_label = "Open in your JupyterLab"

# -- MyST and notebook execution ------------------------------------------------

myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

nb_execution_mode = "force"
nb_execution_cache_path = str(ROOT / "build" / ".jupyter_cache")
nb_execution_timeout = 600  # per cell; lesson 4 takes up to about a minute in all
# A cell that fails is a warning with its traceback in the log (so CI shows it),
# and warnings fail the build (nox runs sphinx-build -W). With SITE_STRICT=0 the
# page is still written, and the browser test then fails on its error output.
nb_execution_raise_on_error = False
nb_execution_show_tb = True
nb_merge_streams = True
# myst-nb would load require.js and the ipywidgets bundle from a CDN on pages
# that hold widget state; the lessons use no widgets, so load nothing.
nb_ipywidgets_js = {}

# -- HTML -------------------------------------------------------------------------

html_theme = "sphinx_book_theme"
html_theme_options = {
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "show_toc_level": 2,
    "use_download_button": True,
    "use_fullscreen_button": False,
    "article_header_end": ["lesson-buttons.html", "article-header-buttons.html"],
    "launch_buttons": {},  # the theme's own ones need a GitHub repository; ours are above
    "navigation_with_keys": False,
    "navbar_persistent": [],  # one search box (in the sidebar) is enough
    "footer_content_items": ["last-updated.html", "extra-footer.html"],
    "extra_footer": (
        "<p>Every output and figure on this site comes from running the notebooks "
        "while the site was built.</p>"
    ),
}
# Without a default, the theme logs a console error on a visitor's first page.
html_context = {"default_mode": "auto"}
html_static_path = ["_static"]
html_css_files = ["site.css"]
html_last_updated_fmt = "%Y-%m-%d %H:%M"  # the footer says when the lessons last ran
html_show_sphinx = False

# MathJax (the lessons use $...$ math) is served from the site itself, from the
# files that the sphinx-mathjax-offline package ships, never from a CDN.
_mathjax = Path(metadata.distribution("sphinx-mathjax-offline").locate_file(""))
_mathjax = _mathjax / "sphinx-mathjax-offline" / "static"
if not (_mathjax / "mathjax" / "tex-chtml.js").is_file():
    raise RuntimeError(f"MathJax not found in {_mathjax}: pip install -r docs/requirements.txt")
html_static_path.append(str(_mathjax))  # copies its mathjax/ folder into _static/
mathjax_path = "mathjax/tex-chtml.js"
