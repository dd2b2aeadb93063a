"""Tests of the loader in notebooks/mnist_lib.py.

Every download here goes to an HTTP server that the tests start on
127.0.0.1; the public mirrors are replaced by a closed local port so that no
test can reach a real host.  The real MNIST files come from the local mirror
configured in ``$MNIST_MIRRORS`` (CI points it at ../shared/mnist) or from a
verified project cache.
"""

from __future__ import annotations

import gzip
import http.server
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import mnist_lib
from mnist_lib import CorruptFileError, DownloadError

LABELS = "t10k-labels-idx1-ubyte.gz"  # the smallest file: most cases use it
# $MNIST_MIRRORS as the test run was started (a fixture clears it for every test).
STARTING_MIRRORS = os.environ.get("MNIST_MIRRORS", "")


# --------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def mnist_folder() -> Path:
    """A folder holding the four genuine MNIST .gz files."""
    candidates = [Path(m) for m in mnist_lib.configured_mirrors() if not mnist_lib._is_url(m)]
    candidates.append(mnist_lib.CACHE_DIR)
    for folder in candidates:
        if all((folder / name).is_file() for name in mnist_lib.DATA_SOURCES.values()):
            return folder
    pytest.skip(
        "no local copy of MNIST: set MNIST_MIRRORS to a folder with the four .gz files "
        "(CI uses ../shared/mnist)"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(autouse=True)
def no_public_mirrors(monkeypatch):
    """Replace the public mirrors by a closed local port and clear $MNIST_MIRRORS."""
    dead = f"http://127.0.0.1:{_free_port()}/mnist/"
    monkeypatch.setattr(mnist_lib, "PUBLIC_MIRRORS", (dead,))
    monkeypatch.delenv(mnist_lib.MIRRORS_ENV, raising=False)
    return dead


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves files from a folder; /status/NNN/... answers with that HTTP status;
    /cut/... sends the right Content-Length but only half the bytes."""

    def log_message(self, *args):  # keep the test output quiet
        pass

    def do_GET(self):
        parts = self.path.strip("/").split("/")
        if parts[0] == "status":
            self.send_error(int(parts[1]))
            return
        if parts[0] == "cut":
            data = (Path(self.directory) / parts[-1]).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.close_connection = True
            return
        super().do_GET()


@pytest.fixture
def server(tmp_path):
    """An HTTP server on 127.0.0.1 serving ``tmp_path / "www"``; yields (base_url, folder)."""
    root = tmp_path / "www"
    root.mkdir()

    def handler(*args, **kwargs):
        return _Handler(*args, directory=str(root), **kwargs)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def cache(tmp_path) -> Path:
    return tmp_path / "cache"


def _publish(folder: Path, subdir: str, name: str, data: bytes) -> None:
    (folder / subdir).mkdir(parents=True, exist_ok=True)
    (folder / subdir / name).write_bytes(data)


def _payload(mnist_folder: Path, name: str) -> bytes:
    with gzip.open(mnist_folder / name) as f:
        return f.read()


def assert_nothing_trusted(cache: Path, name: str) -> None:
    """The cache holds no file under the real name and no temporary leftovers."""
    leftovers = sorted(p.name for p in cache.iterdir()) if cache.exists() else []
    assert leftovers == [], f"files left in the cache: {leftovers}"
    assert not (cache / name).exists()


# --------------------------------------------------------------------------
# The good paths
# --------------------------------------------------------------------------


def test_load_mnist_over_http_from_configured_mirror(server, mnist_folder, cache, monkeypatch):
    base, root = server
    for name in mnist_lib.DATA_SOURCES.values():
        _publish(root, "mnist", name, (mnist_folder / name).read_bytes())
    monkeypatch.setenv(mnist_lib.MIRRORS_ENV, f"{base}/mnist/")

    x_train, y_train, x_test, y_test = mnist_lib.load_mnist(cache_dir=cache, progress=False)

    assert x_train.shape == (60000, 784) and x_train.dtype == np.uint8
    assert y_train.shape == (60000,) and y_train.dtype == np.uint8
    assert x_test.shape == (10000, 784) and y_test.shape == (10000,)
    assert y_train[:3].tolist() == [5, 0, 4] and y_train[59999] == 8
    assert sorted(p.name for p in cache.iterdir()) == sorted(mnist_lib.DATA_SOURCES.values())


def test_cache_hit_needs_no_mirror(mnist_folder, cache):
    mnist_lib.fetch(LABELS, cache_dir=cache, mirrors=[str(mnist_folder)], progress=False)
    # No mirror at all now: the verified cached copy must be used.
    path = mnist_lib.fetch(LABELS, cache_dir=cache, mirrors=[], progress=False)
    assert path == cache / LABELS
    assert mnist_lib.read_idx(path).shape == (10000,)


def test_local_folder_mirror_from_environment(mnist_folder, cache, monkeypatch):
    monkeypatch.setenv(mnist_lib.MIRRORS_ENV, f"/no/such/folder, {mnist_folder}")
    path = mnist_lib.fetch(LABELS, cache_dir=cache, progress=False)
    assert path.read_bytes() == (mnist_folder / LABELS).read_bytes()


def test_recompressed_file_is_accepted(server, mnist_folder, cache):
    """Mirrors may compress differently: trust rests on the payload, not the .gz bytes."""
    base, root = server
    recompressed = gzip.compress(_payload(mnist_folder, LABELS), compresslevel=1, mtime=12345)
    assert recompressed != (mnist_folder / LABELS).read_bytes()
    _publish(root, "other", LABELS, recompressed)
    path = mnist_lib.fetch(LABELS, cache_dir=cache, mirrors=[f"{base}/other"], progress=False)
    assert mnist_lib.read_idx(path).shape == (10000,)


def test_cache_dir_is_project_data_folder_whatever_the_cwd(tmp_path):
    """Run from another folder, the module still caches in _data/ beside notebooks/ and tests/."""
    project = Path(__file__).resolve().parent.parent  # found from the tests, not from mnist_lib
    notebooks = project / "notebooks"
    code = "import sys, mnist_lib; print(mnist_lib.CACHE_DIR)"
    env = {**os.environ, "PYTHONPATH": str(notebooks)}
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(out.stdout.strip()) == project / "_data"


# --------------------------------------------------------------------------
# Mirrors that fail: go on to the next one
# --------------------------------------------------------------------------


@pytest.mark.parametrize("status", [404, 500, 503])
def test_http_error_goes_on_to_next_mirror(server, mnist_folder, cache, status):
    base, root = server
    _publish(root, "good", LABELS, (mnist_folder / LABELS).read_bytes())
    path = mnist_lib.fetch(
        LABELS, cache_dir=cache, mirrors=[f"{base}/status/{status}", f"{base}/good"], progress=False
    )
    assert mnist_lib.read_idx(path).shape == (10000,)


def test_bad_file_on_first_mirror_then_good_one(server, mnist_folder, cache):
    base, root = server
    good = (mnist_folder / LABELS).read_bytes()
    _publish(root, "bad", LABELS, good[: len(good) // 2])
    _publish(root, "good", LABELS, good)
    path = mnist_lib.fetch(
        LABELS, cache_dir=cache, mirrors=[f"{base}/bad", f"{base}/good"], progress=False
    )
    assert path.read_bytes() == good
    assert sorted(p.name for p in cache.iterdir()) == [LABELS]


# --------------------------------------------------------------------------
# Bad input: a clear error, and nothing left that a later run would trust
# --------------------------------------------------------------------------


def _bad_variants(mnist_folder: Path) -> dict[str, tuple[bytes, str]]:
    good_gz = (mnist_folder / LABELS).read_bytes()
    payload = _payload(mnist_folder, LABELS)
    flipped = bytearray(payload)
    flipped[100] = (flipped[100] + 1) % 10  # still a valid label, wrong data
    return {
        "truncated": (good_gz[: len(good_gz) // 2], "truncated"),
        "not gzip": (b"<html><body>Not here</body></html>", "not a gzip file"),
        "wrong magic": (gzip.compress(b"\x00\x00\x08\x03" + payload[4:]), "wrong magic number"),
        "wrong count": (
            gzip.compress(payload[:4] + (9999).to_bytes(4, "big") + payload[8:-1]),
            "must have shape",
        ),
        "wrong hash": (gzip.compress(bytes(flipped)), "SHA-256"),
    }


@pytest.mark.parametrize(
    "case", ["truncated", "not gzip", "wrong magic", "wrong count", "wrong hash"]
)
def test_bad_download_is_rejected_and_not_cached(server, mnist_folder, cache, case):
    base, root = server
    data, reason = _bad_variants(mnist_folder)[case]
    _publish(root, "bad", LABELS, data)

    with pytest.raises(DownloadError) as info:
        mnist_lib.fetch(LABELS, cache_dir=cache, mirrors=[f"{base}/bad"], progress=False)

    message = str(info.value)
    assert LABELS in message and reason in message and f"{base}/bad" in message
    assert_nothing_trusted(cache, LABELS)


def test_connection_cut_midway(server, mnist_folder, cache):
    base, root = server
    (root / LABELS).write_bytes((mnist_folder / LABELS).read_bytes())  # /cut/<name> serves it
    with pytest.raises(DownloadError):
        mnist_lib.fetch(LABELS, cache_dir=cache, mirrors=[f"{base}/cut"], progress=False)
    assert_nothing_trusted(cache, LABELS)


@pytest.mark.parametrize("case", ["truncated", "wrong magic", "wrong hash"])
def test_bad_cached_file_is_replaced(mnist_folder, cache, case):
    data, _ = _bad_variants(mnist_folder)[case]
    cache.mkdir()
    (cache / LABELS).write_bytes(data)
    with pytest.warns(UserWarning, match="bad cached file"):
        path = mnist_lib.fetch(LABELS, cache_dir=cache, mirrors=[str(mnist_folder)], progress=False)
    assert path.read_bytes() == (mnist_folder / LABELS).read_bytes()


def test_bad_cached_file_is_removed_even_when_refetch_fails(mnist_folder, cache):
    data, _ = _bad_variants(mnist_folder)["wrong hash"]
    cache.mkdir()
    (cache / LABELS).write_bytes(data)
    with pytest.warns(UserWarning), pytest.raises(DownloadError):
        mnist_lib.fetch(LABELS, cache_dir=cache, mirrors=[], progress=False)
    assert_nothing_trusted(cache, LABELS)


def test_every_mirror_failing_names_them_all(server, cache, no_public_mirrors, monkeypatch):
    base, _ = server
    missing_folder = cache.parent / "no-mnist-here"
    monkeypatch.setenv(mnist_lib.MIRRORS_ENV, f"{base}/status/500 {missing_folder}")
    with pytest.raises(DownloadError) as info:
        mnist_lib.fetch(LABELS, cache_dir=cache, progress=False)
    message = str(info.value)
    for mirror in (f"{base}/status/500", str(missing_folder), no_public_mirrors):
        assert mirror in message
    assert "500" in message


def test_offline_with_empty_cache_says_what_to_do(cache, no_public_mirrors):
    """No configured mirror, public mirrors unreachable: one clear message."""
    with pytest.raises(DownloadError) as info:
        mnist_lib.load_mnist(cache_dir=cache, progress=False)
    message = str(info.value)
    assert str(cache) in message  # names the cache folder
    assert no_public_mirrors in message  # names the mirrors tried
    assert "MNIST_MIRRORS" in message  # says how to point at a local copy
    assert_nothing_trusted(cache, LABELS)


# --------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------


def test_read_idx_decodes_genuine_files(mnist_folder):
    images = mnist_lib.read_idx(mnist_folder / "t10k-images-idx3-ubyte.gz")
    labels = mnist_lib.read_idx(mnist_folder / LABELS)
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels[:5].tolist() == [7, 2, 1, 0, 4]  # the well-known first test digits
    assert np.bincount(labels, minlength=10).tolist() == [
        980,
        1135,
        1032,
        1010,
        982,
        892,
        958,
        1028,
        974,
        1009,
    ]
    assert images.max() == 255 and images[:, 0, :].max() == 0  # ink, and a blank top row


def test_read_idx_rejects_a_bad_file_with_a_known_name(mnist_folder, tmp_path):
    data, _ = _bad_variants(mnist_folder)["wrong hash"]
    (tmp_path / LABELS).write_bytes(data)
    with pytest.raises(CorruptFileError, match="SHA-256"):
        mnist_lib.read_idx(tmp_path / LABELS)


def test_parse_idx_any_shape():
    data = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    raw = b"\x00\x00\x08\x03" + np.array([2, 3, 4], dtype=">u4").tobytes() + data.tobytes()
    np.testing.assert_array_equal(mnist_lib.parse_idx(raw), data)


@pytest.mark.parametrize(
    "raw, match",
    [
        (b"\x00", "too short"),
        (b"\x01\x00\x08\x01" + (1).to_bytes(4, "big") + b"\x00", "wrong magic number"),
        (b"\x00\x00\x42\x01" + (1).to_bytes(4, "big") + b"\x00", "wrong magic number"),
        (b"\x00\x00\x08\x03" + (1).to_bytes(4, "big"), "ends inside its IDX header"),
        (b"\x00\x00\x08\x01" + (5).to_bytes(4, "big") + b"\x00\x01", "needs 13 bytes"),
    ],
)
def test_parse_idx_rejects_bad_headers(raw, match):
    with pytest.raises(CorruptFileError, match=match):
        mnist_lib.parse_idx(raw)


def test_unknown_file_name():
    with pytest.raises(ValueError, match="Unknown MNIST file"):
        mnist_lib.fetch("train-images.gz", mirrors=[])


def test_payload_hashes_match_the_published_sums():
    """The module's hashes are those the local mirror publishes in its SHA256SUMS file.

    Not the cache: files there got in by passing these very hashes.
    """
    sums = [
        Path(m) / "SHA256SUMS"
        for m in STARTING_MIRRORS.replace(",", " ").split()
        if (Path(m) / "SHA256SUMS").is_file()
    ]
    if not sums:
        pytest.skip("no SHA256SUMS in MNIST_MIRRORS (CI points it at ../shared/mnist)")
    published = {}
    for line in sums[0].read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            digest, name = line.split()
            published[name + ".gz"] = digest
    assert published == mnist_lib.PAYLOAD_SHA256


def test_one_hot_encoding():
    encoded = mnist_lib.one_hot_encoding(np.array([5, 0, 4], dtype=np.uint8))
    assert encoded.shape == (3, 10) and encoded.dtype == np.float64
    np.testing.assert_array_equal(encoded.argmax(axis=1), [5, 0, 4])
    np.testing.assert_array_equal(encoded.sum(axis=1), [1, 1, 1])


def test_download_shows_a_progress_bar(server, mnist_folder, cache, capfd):
    base, root = server
    _publish(root, "mnist", LABELS, (mnist_folder / LABELS).read_bytes())
    mnist_lib.fetch(LABELS, cache_dir=cache, mirrors=[f"{base}/mnist"], progress=True)
    assert f"{LABELS}: 100%" in capfd.readouterr().err  # the project's bar, named, complete
