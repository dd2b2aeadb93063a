"""The small library shared by the lessons: fetch, verify and decode MNIST.

The lessons teach the network; this module keeps the plumbing out of their
way.  It does three things:

1. ``fetch`` puts a verified copy of one MNIST file into the cache: ``_data/``
   at the project root, or the folder ``MNIST_CACHE`` names.  It tries the mirrors named in the ``MNIST_MIRRORS``
   environment variable first (local folders or http(s) base URLs, separated
   by commas or whitespace), then the public mirrors.  A download goes to a
   temporary file, is checked, and only then moved into the cache.
2. ``read_idx`` decodes a gzip-compressed IDX file into a NumPy array after
   checking its header (magic number, dimensions, counts).
3. ``load_mnist`` does both for the four files and returns
   ``x_train, y_train, x_test, y_test`` as in the NumPy tutorial.

Lesson 4 and its benchmark also use ``use_blas_threads`` and ``adapt_blas_threads``,
which set the threads of the BLAS library behind NumPy's matrix products, and every
lesson shows its figures with ``show_figure``, which gives each one its alt text.

Trust rests on the SHA-256 of each file's *decompressed* payload, which is
the same whichever way a mirror compressed the file.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import shutil
import tempfile
import time
import warnings
import zlib
from pathlib import Path

import numpy as np

__all__ = [
    "CACHE_DIR",
    "DATA_SOURCES",
    "PUBLIC_MIRRORS",
    "CorruptFileError",
    "DownloadError",
    "MNISTError",
    "PAYLOAD_SHA256",
    "configured_mirrors",
    "fetch",
    "load_mnist",
    "one_hot_encoding",
    "parse_idx",
    "read_idx",
    "adapt_blas_threads",
    "show_figure",
    "use_blas_threads",
]

#: The facts of each file, one row per file: the name the NumPy tutorial gives its array,
#: the SHA-256 of the decompressed payload (the canonical MNIST files), and what the IDX
#: header must say (number of items, *item shape).
FILES = {
    "train-images-idx3-ubyte.gz": (
        "training_images",
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        (60_000, 28, 28),
    ),
    "t10k-images-idx3-ubyte.gz": (
        "test_images",
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        (10_000, 28, 28),
    ),
    "train-labels-idx1-ubyte.gz": (
        "training_labels",
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        (60_000,),
    ),
    "t10k-labels-idx1-ubyte.gz": (
        "test_labels",
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        (10_000,),
    ),
}
#: Views of FILES: the tutorial's names -> file, file -> payload hash, file -> header shape.
DATA_SOURCES = {key: filename for filename, (key, _, _) in FILES.items()}
PAYLOAD_SHA256 = {filename: digest for filename, (_, digest, _) in FILES.items()}
EXPECTED_SHAPES = {filename: shape for filename, (_, _, shape) in FILES.items()}

#: Public mirrors, tried after the configured ones.  The first is the one the
#: NumPy tutorial uses.
PUBLIC_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

#: The variable that names another download cache (the learner's workspace shares the
#: project's ``_data/`` through it).
CACHE_ENV = "MNIST_CACHE"

#: The download cache: ``_data/`` at the project root, whatever the current folder, unless
#: ``MNIST_CACHE`` names another folder.
CACHE_DIR = Path(os.environ.get(CACHE_ENV) or Path(__file__).resolve().parent.parent / "_data")

MIRRORS_ENV = "MNIST_MIRRORS"

# IDX data-type codes (the third byte of the magic number) -> NumPy dtypes.
_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


class MNISTError(Exception):
    """Base class of this module's errors."""


class CorruptFileError(MNISTError, ValueError):
    """A file is not the MNIST file it claims to be (bad gzip, header or hash)."""


class DownloadError(MNISTError, OSError):
    """No mirror could deliver a verified copy of a file."""


# --------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------


def _decompress(path: Path, label: str | None = None) -> bytes:
    """Return the decompressed bytes of a gzip file, with a clear error."""
    label = label or str(path)
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except gzip.BadGzipFile as exc:
        raise CorruptFileError(
            f"{label} is not a gzip file ({exc}). It may be an HTML error page "
            "or a file saved under the wrong name."
        ) from exc
    except (EOFError, zlib.error) as exc:
        raise CorruptFileError(
            f"{label} is truncated or damaged: its gzip stream ends early ({exc}). "
            "The download was probably interrupted."
        ) from exc


def parse_idx(data: bytes, label: str = "IDX data") -> np.ndarray:
    """Decode the bytes of an (uncompressed) IDX file into an array.

    The header is four bytes of magic number -- two zero bytes, a data-type
    code and the number of dimensions -- then one big-endian 32-bit size per
    dimension.  Everything after it is the data, row-major.
    """
    if len(data) < 4:
        raise CorruptFileError(f"{label} is too short ({len(data)} bytes) to hold an IDX header.")
    zero, dtype_code, ndim = int.from_bytes(data[:2], "big"), data[2], data[3]
    if zero != 0 or dtype_code not in _IDX_DTYPES or ndim == 0:
        raise CorruptFileError(
            f"{label} has a wrong magic number 0x{data[:4].hex()}: an IDX file "
            "starts with two zero bytes, a data-type code (0x08 for unsigned "
            "bytes) and the number of dimensions, e.g. 0x00000803 for images."
        )
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise CorruptFileError(f"{label} ends inside its IDX header ({len(data)} bytes).")
    shape = tuple(int(n) for n in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[dtype_code]
    expected_size = header_size + int(np.prod(shape)) * dtype.itemsize
    if len(data) != expected_size:
        raise CorruptFileError(
            f"{label}: the header announces shape {shape}, which needs "
            f"{expected_size} bytes, but the file has {len(data)}."
        )
    return np.frombuffer(data, dtype=dtype, offset=header_size).reshape(shape)


def _check_mnist_payload(filename: str, payload: bytes, label: str) -> np.ndarray:
    """Check a decompressed MNIST payload against its header and its hash."""
    expected_shape = EXPECTED_SHAPES.get(filename)
    if expected_shape is not None:
        magic = bytes([0, 0, 0x08, len(expected_shape)])
        if payload[:4] != magic:
            raise CorruptFileError(
                f"{label} has a wrong magic number 0x{payload[:4].hex()}; "
                f"{filename} must start with 0x{magic.hex()} "
                f"(unsigned bytes, {len(expected_shape)} dimension(s))."
            )
    array = parse_idx(payload, label)
    if expected_shape is not None and array.shape != expected_shape:
        raise CorruptFileError(
            f"{label}: the IDX header says shape {array.shape}, "
            f"but {filename} must have shape {expected_shape}."
        )
    expected_hash = PAYLOAD_SHA256.get(filename)
    if expected_hash is not None:
        digest = hashlib.sha256(payload).hexdigest()
        if digest != expected_hash:
            raise CorruptFileError(
                f"{label}: the SHA-256 of its decompressed contents is {digest}, "
                f"expected {expected_hash}. The file is not the canonical {filename}."
            )
    return array


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read a gzip-compressed IDX file and return its array (header checked).

    Images come back with shape ``(count, 28, 28)``, labels with ``(count,)``.
    A file named like one of the four MNIST files is also checked against
    that file's known shape and SHA-256.
    """
    path = Path(path)
    payload = _decompress(path)
    if path.name in PAYLOAD_SHA256:
        return _check_mnist_payload(path.name, payload, str(path))
    return parse_idx(payload, str(path))


# --------------------------------------------------------------------------
# Fetching
# --------------------------------------------------------------------------


def configured_mirrors() -> list[str]:
    """The mirrors named in ``$MNIST_MIRRORS`` (folders or http(s) URLs)."""
    value = os.environ.get(MIRRORS_ENV, "")
    return [item for item in re.split(r"[,\s]+", value) if item]


def _is_url(mirror: str) -> bool:
    return mirror.startswith(("http://", "https://"))


class _ProgressBar:
    """The download's progress bar: full width in Jupyter, a text bar in a terminal.

    pooch draws its own bar 79 characters wide, which JupyterLab turns into a 79-pixel
    widget; so pooch gets this object instead. It speaks pooch's progress-bar protocol
    (``total``, ``update``, ``reset``, ``close``) and draws with ``tqdm.auto``, which picks
    the notebook widget in Jupyter and the text bar elsewhere, sized to the space it has.
    The bar is made once pooch knows the file's size, so that the widget can fill up.
    """

    def __init__(self, label: str, **options):
        self.label, self.options, self.bar = label, options, None

    @property
    def total(self):
        return self.bar.total if self.bar is not None else None

    @total.setter
    def total(self, size) -> None:
        from tqdm.auto import tqdm  # imported here: only needed when something is downloaded

        if self.bar is None:
            self.bar = tqdm(
                total=size or None, desc=self.label, unit="B", unit_scale=True,
                dynamic_ncols=True, **self.options,
            )  # fmt: skip
        else:
            self.bar.reset(total=size or None)

    def update(self, amount: int) -> None:
        self.bar.update(amount)

    def reset(self) -> None:
        self.bar.reset(total=self.bar.total)

    def close(self) -> None:
        self.bar.close()


def _download(mirror: str, filename: str, destination: Path, progress: bool) -> None:
    """Copy ``filename`` from one mirror (a folder or a base URL) to ``destination``."""
    if _is_url(mirror):
        import pooch  # imported here: only needed when something is downloaded

        url = mirror.rstrip("/") + "/" + filename
        bar = _ProgressBar(filename) if progress else False
        downloader = pooch.HTTPDownloader(progressbar=bar, timeout=30)
        downloader(url, str(destination), None)
    else:
        source = Path(mirror).expanduser() / filename
        if not source.is_file():
            raise FileNotFoundError(f"no file {source}")
        shutil.copyfile(source, destination)


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) < 300 else text[:297] + "..."


def fetch(
    filename: str,
    *,
    cache_dir: str | os.PathLike | None = None,
    mirrors: list[str] | tuple[str, ...] | None = None,
    progress: bool = True,
) -> Path:
    """Return the path of a verified copy of ``filename`` in the cache.

    A cached copy is verified before it is trusted; a bad one is removed and
    fetched again.  Otherwise each mirror is tried in turn, the configured ones
    (``$MNIST_MIRRORS``) first, until one delivers a file whose header and
    SHA-256 are right.  Nothing unverified is ever left under ``filename``.
    """
    return _fetch_verified(filename, cache_dir, mirrors, progress)[0]


def _fetch_verified(filename, cache_dir, mirrors, progress) -> tuple[Path, np.ndarray]:
    """``fetch``, also returning the decoded array it verified."""
    if filename not in PAYLOAD_SHA256:
        raise ValueError(
            f"Unknown MNIST file {filename!r}; expected one of {sorted(PAYLOAD_SHA256)}."
        )
    cache = Path(cache_dir) if cache_dir is not None else CACHE_DIR
    target = cache / filename

    if target.exists():
        try:
            return target, _check_mnist_payload(filename, _decompress(target), str(target))
        except CorruptFileError as exc:
            warnings.warn(f"Removing a bad cached file and fetching it again. {exc}", stacklevel=2)
            target.unlink()

    if mirrors is None:
        mirrors = [*configured_mirrors(), *PUBLIC_MIRRORS]
    cache.mkdir(parents=True, exist_ok=True)
    failures = []
    for mirror in mirrors:
        fd, tmp_name = tempfile.mkstemp(dir=cache, prefix=f".{filename}.", suffix=".part")
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            _download(mirror, filename, tmp, progress)
            label = f"{filename} from {mirror}"
            array = _check_mnist_payload(filename, _decompress(tmp, label), label)
            os.chmod(tmp, 0o644)  # mkstemp makes it private; a cache is for sharing
            os.replace(tmp, target)
            return target, array
        except Exception as exc:  # any failure: note it and try the next mirror
            failures.append(f"  - {mirror}: {_describe(exc)}")
        finally:
            tmp.unlink(missing_ok=True)

    tried = "\n".join(failures) if failures else "  (no mirrors were given)"
    raise DownloadError(
        f"Could not get a verified copy of {filename} into the cache folder {cache}.\n"
        f"Mirrors tried, in order:\n{tried}\n"
        "If you are offline, point the tutorial at a local copy of MNIST: set the "
        f"environment variable {MIRRORS_ENV} to a folder holding the four .gz files "
        f"(e.g. {MIRRORS_ENV}=/path/to/mnist), or copy them into {cache} yourself."
    )


def load_mnist(
    *, cache_dir: str | os.PathLike | None = None, progress: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fetch (if needed), verify and decode the four files.

    Returns ``x_train, y_train, x_test, y_test``: uint8 images flattened to
    784 pixels, shapes ``(60000, 784)``, ``(60000,)``, ``(10000, 784)``,
    ``(10000,)``.
    """
    arrays = {}
    for key, filename in DATA_SOURCES.items():
        arrays[key] = _fetch_verified(filename, cache_dir, None, progress)[1]
    return (
        arrays["training_images"].reshape(-1, 28 * 28),
        arrays["training_labels"],
        arrays["test_images"].reshape(-1, 28 * 28),
        arrays["test_labels"],
    )


def one_hot_encoding(labels: np.ndarray, dimension: int = 10) -> np.ndarray:
    """Encode integer labels as rows of a ``(len(labels), dimension)`` float64 array."""
    return (np.asarray(labels)[:, None] == np.arange(dimension)).astype(np.float64)


# --------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------


#: Set to 1 (``tools/learn.py`` does, for the learner's JupyterLab) to show each figure as an
#: HTML ``<img>`` with its alt text too: JupyterLab puts no alt text on an image output.
FIGURES_AS_HTML = "MNIST_FIGURES_AS_HTML"


def show_figure(fig, *, alt: str) -> None:
    """Show a Matplotlib figure in the notebook together with its alt text.

    ``alt`` describes the figure for a reader who cannot see it. The figure is shown as
    ``plt.show()`` would show it, and the alt text travels with the output: as its
    ``text/plain`` (which Jupyter Book 2's pages use as the image's alt text, where a bare
    ``plt.show()`` gives them ``<Figure size ...>``, jupyter-book/mystmd#2201; a terminal
    shows it instead of the image) and as ``alt`` in the image's output metadata
    (which nbconvert's HTML uses). The figure is then closed, so it is shown once.

    JupyterLab reads neither, so where ``MNIST_FIGURES_AS_HTML=1`` the output also holds the
    same PNG as an HTML ``<img>`` with an ``alt`` attribute, which JupyterLab shows in place
    of the bare image. (Not for the site builds: they would show that copy instead of the PNG.)

    Outside a notebook (a script, a terminal, or no image format at hand) this is
    ``plt.show()``.
    """
    if not isinstance(alt, str) or not alt.strip():
        raise ValueError(
            "show_figure needs alt text: a sentence that says what the figure shows, "
            'for example show_figure(fig, alt="A handwritten 8 on a 28 by 28 grid.")'
        )
    import matplotlib.pyplot as plt

    try:
        from IPython import get_ipython
    except ImportError:  # plain Python without IPython
        shell = None
    else:
        shell = get_ipython()
    data, metadata = shell.display_formatter.format(fig) if shell is not None else ({}, {})
    images = [mime for mime in data if mime.startswith("image/")]
    if not images:
        plt.show()
        return
    from IPython.display import display

    alt = " ".join(alt.split())
    data["text/plain"] = alt
    for mime in images:
        metadata[mime] = {**metadata.get(mime, {}), "alt": alt}
    png = data.get("image/png")
    if os.environ.get(FIGURES_AS_HTML) == "1" and png is not None:
        import base64
        import html

        encoded = base64.b64encode(png).decode("ascii") if isinstance(png, bytes) else png
        size = metadata["image/png"]  # width and height, where the backend gives them
        size = "".join(f' {key}="{int(size[key])}"' for key in ("width", "height") if key in size)
        data["text/html"] = (
            f'<img src="data:image/png;base64,{encoded}"{size} '
            f'alt="{html.escape(alt, quote=True)}">'
        )
    display(data, raw=True, metadata=metadata)
    plt.close(fig)


# --------------------------------------------------------------------------
# Threads of the matrix products
# --------------------------------------------------------------------------


#: BLAS libraries (threadpoolctl controllers), the most threads allowed, and the state
#: of "auto": whether it is on, and the CPU counters at the last check.
_BLAS: dict = {"auto": False}
#: "auto" gives the products every core only while other processes used less than this
#: many cores since the last check.
IDLE_BELOW = 0.3
#: ... measured over at least this many seconds (the kernel counts CPU time in 10 ms ticks).
MIN_INTERVAL = 0.25


def _blas_libraries() -> list:
    if "libraries" not in _BLAS:
        from threadpoolctl import ThreadpoolController

        _BLAS["libraries"] = ThreadpoolController().select(user_api="blas").lib_controllers
        # The most: what BLAS started with (OPENBLAS_NUM_THREADS, or one per core).
        _BLAS["most"] = max((lib.num_threads for lib in _BLAS["libraries"]), default=1)
    return _BLAS["libraries"]


def _set_blas_threads(threads: int) -> int | None:
    for library in _blas_libraries():
        library.set_num_threads(threads)
    return max((library.num_threads for library in _blas_libraries()), default=None)


def use_blas_threads(threads: int | str | None) -> int | None:
    """Set how many threads NumPy's matrix products use; return the thread count now.

    The BLAS library behind NumPy (OpenBLAS in NumPy's wheels) splits each matrix
    product over one thread per core, and its threads wait for one another actively.
    For the small products of a mini-batch, a second thread helps on an idle machine,
    but when another program keeps a core busy, a thread that has to wait for a core
    stalls every product: training can become ten or more times slower.

    ``threads`` is a number, ``None`` (leave it as it is) or ``"auto"``: one thread now,
    and from then on ``adapt_blas_threads`` (which lesson 4's ``train_steps`` calls every
    few batches) gives the products every core only while the rest of the machine is idle.
    Acts on the BLAS library that NumPy has already loaded (environment variables such
    as ``OPENBLAS_NUM_THREADS`` only act before NumPy is imported, and cap "auto").
    Returns the largest thread count of the BLAS libraries found, or None if none.
    """
    if threads is None:
        return max((library.num_threads for library in _blas_libraries()), default=None)
    _BLAS["auto"] = threads == "auto"
    _BLAS["counters"], _BLAS["decision"] = _cpu_counters(), 1  # "auto" measures from now
    return _set_blas_threads(1 if threads == "auto" else threads)


def _cpu_counters() -> tuple[float, float, float] | None:
    """(wall seconds, CPU seconds of all processes, CPU seconds of this one), or None."""
    try:
        with open("/proc/stat") as stat:
            fields = stat.readline().split()[1:]
    except OSError:  # not Linux: "auto" keeps one thread
        return None
    busy = sum(int(value) for i, value in enumerate(fields[:8]) if i not in (3, 4))  # not idle
    return time.perf_counter(), busy / os.sysconf("SC_CLK_TCK"), time.process_time()


def adapt_blas_threads(done: bool = False) -> int | None:
    """With use_blas_threads("auto"): every core if other processes used less than
    IDLE_BELOW cores since the last check, else one thread; ``done=True``: back to one.

    Call it often (lesson 4's ``train_steps`` does every 8 batches): it measures at most
    every MIN_INTERVAL seconds, so a program that starts to compete for the cores gets
    one thread back within a fraction of a second. Between two measurements it keeps the
    last decision, also after ``done=True``, so training that goes on after a pause (the
    next epoch) starts with it at once. Does nothing (and returns the thread count)
    unless "auto" is on.
    """
    if not _BLAS["auto"]:
        return use_blas_threads(None)
    if done:
        return _set_blas_threads(1)
    previous = _BLAS.get("counters")
    if not previous:  # not Linux: one thread
        return use_blas_threads(None)
    if time.perf_counter() - previous[0] >= MIN_INTERVAL:  # long enough to tell
        now = _BLAS["counters"] = _cpu_counters()
        others = ((now[1] - previous[1]) - (now[2] - previous[2])) / (now[0] - previous[0])
        _BLAS["decision"] = _BLAS["most"] if others < IDLE_BELOW else 1
    if use_blas_threads(None) != _BLAS["decision"]:
        _set_blas_threads(_BLAS["decision"])
    return _BLAS["decision"]
