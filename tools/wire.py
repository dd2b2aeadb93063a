"""The messages between the grader and its sandboxed worker: data only, never code.

Used on both sides of the sandbox (``tools/sandbox.py`` and ``tools/sandbox_harness.py``).
A message is a JSON header followed by NumPy arrays in the ``.npy`` format; each part is
one frame (a 4-byte length, then the bytes). Values are encoded as a small tree of
plain types; an array is stored by ``np.save`` and read back by ``np.load`` with
``allow_pickle=False``, so reading a message never runs code or builds an arbitrary
object. Anything else (a class instance, a function, an object array) is refused.
"""

from __future__ import annotations

import io
import json
import math
import struct

import numpy as np

#: The largest frame either side accepts (a bigger one means a broken or hostile peer).
MAX_FRAME = 64 * 2**20
#: The most arrays one message may carry, and the most bytes all its frames may hold.
MAX_ARRAYS = 256
MAX_MESSAGE = 256 * 2**20
#: How deeply containers may nest.
MAX_DEPTH = 20


class WireError(Exception):
    """A message that is not well formed, too large, or holds a type that is not data."""


def _encode(value, arrays: list, depth: int = 0):
    if depth > MAX_DEPTH:
        raise WireError("values nested too deeply")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return {"int": str(value)}
    if isinstance(value, float):
        return value if math.isfinite(value) else {"float": repr(value)}
    if isinstance(value, np.ndarray) or isinstance(value, np.generic):
        array = np.asarray(value)
        if array.dtype.hasobject:
            raise WireError("an array of Python objects is not data")
        if len(arrays) >= MAX_ARRAYS:
            raise WireError("too many arrays")
        arrays.append(array)
        return {"array": len(arrays) - 1, "scalar": isinstance(value, np.generic)}
    if isinstance(value, np.dtype):
        return {"dtype": value.str}
    if isinstance(value, type) and issubclass(value, np.generic):
        return {"dtype_type": np.dtype(value).str}
    if isinstance(value, (list, tuple)):
        kind = "list" if isinstance(value, list) else "tuple"
        return {kind: [_encode(v, arrays, depth + 1) for v in value]}
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise WireError("only dictionaries with string keys are data")
        return {"dict": {k: _encode(v, arrays, depth + 1) for k, v in value.items()}}
    raise WireError(f"a {type(value).__name__} is not data")


def _decode(tree, arrays: list, depth: int = 0):
    if depth > MAX_DEPTH:
        raise WireError("values nested too deeply")
    if tree is None or isinstance(tree, (bool, str, float)):
        return tree
    if isinstance(tree, int):
        return tree
    if not isinstance(tree, dict) or len(tree) not in (1, 2):
        raise WireError("malformed value")
    if "int" in tree:
        text = tree["int"]
        if not isinstance(text, str) or len(text) > 5000:
            raise WireError("malformed integer")
        return int(text)
    if "float" in tree:
        if tree["float"] not in ("nan", "inf", "-inf"):
            raise WireError("malformed float")
        return float(tree["float"])
    if "array" in tree:
        index = tree["array"]
        if not isinstance(index, int) or not 0 <= index < len(arrays):
            raise WireError("malformed array reference")
        array = arrays[index]
        return array[()] if tree.get("scalar") and array.ndim == 0 else array
    if "dtype" in tree:
        return np.dtype(_dtype_text(tree["dtype"]))
    if "dtype_type" in tree:
        return np.dtype(_dtype_text(tree["dtype_type"])).type
    for kind in ("list", "tuple"):
        if kind in tree:
            if not isinstance(tree[kind], list):
                raise WireError("malformed sequence")
            items = [_decode(v, arrays, depth + 1) for v in tree[kind]]
            return items if kind == "list" else tuple(items)
    if "dict" in tree and isinstance(tree["dict"], dict):
        return {str(k): _decode(v, arrays, depth + 1) for k, v in tree["dict"].items()}
    raise WireError("malformed value")


def _dtype_text(text) -> str:
    if not isinstance(text, str) or len(text) > 16 or "O" in text:
        raise WireError("malformed dtype")
    return text


def pack(header: dict, values: dict | None = None) -> bytes:
    """One message: `header` (JSON-able) with `values` (data) encoded under "values"."""
    arrays: list = []
    body = dict(header)
    if values is not None:
        body["values"] = {k: _encode(v, arrays) for k, v in values.items()}
    body["arrays"] = len(arrays)
    frames = [json.dumps(body).encode()]
    for array in arrays:
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        frames.append(buffer.getvalue())
    return b"".join(struct.pack(">I", len(f)) + f for f in frames)


def _load_array(frame: bytes) -> np.ndarray:
    """A plain array from .npy bytes whose header agrees with the bytes that follow it."""
    buffer = io.BytesIO(frame)
    try:
        version = np.lib.format.read_magic(buffer)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(buffer)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(buffer)
    except (ValueError, OSError, EOFError) as error:
        raise WireError(f"an array that is not a plain .npy ({error})") from None
    if dtype.hasobject or len(frame) - buffer.tell() != math.prod(shape) * dtype.itemsize:
        raise WireError("an array whose header does not match its data")
    buffer.seek(0)
    try:
        return np.load(buffer, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise WireError(f"an array that is not a plain .npy ({error})") from None


def unpack_frames(read_frame) -> dict:
    """Read one message with `read_frame()` (which returns the bytes of the next frame)."""
    total = 0

    def frame() -> bytes:
        nonlocal total
        data = read_frame()
        total += len(data)
        if total > MAX_MESSAGE:
            raise WireError(f"a message of more than {MAX_MESSAGE} bytes")
        return data

    try:
        body = json.loads(frame())
    except (ValueError, UnicodeDecodeError) as error:
        raise WireError(f"the header is not JSON ({error})") from None
    if not isinstance(body, dict):
        raise WireError("the header is not an object")
    count = body.pop("arrays", 0)
    if not isinstance(count, int) or not 0 <= count <= MAX_ARRAYS:
        raise WireError("malformed array count")
    arrays = []
    for _ in range(count):
        array = _load_array(frame())
        if not isinstance(array, np.ndarray) or array.dtype.hasobject:
            raise WireError("an array that is not plain data")
        arrays.append(array)
    values = body.pop("values", None)
    if values is not None:
        if not isinstance(values, dict):
            raise WireError("malformed values")
        body["values"] = {k: _decode(v, arrays) for k, v in values.items()}
    return body


def frame_length(prefix: bytes) -> int:
    """The length announced by a frame's 4-byte prefix, checked against MAX_FRAME."""
    (length,) = struct.unpack(">I", prefix)
    if length > MAX_FRAME:
        raise WireError(f"a frame of {length} bytes (at most {MAX_FRAME})")
    return length
