"""Draw a digit with the mouse and watch a model read it (lesson 4).

Two parts:

1. ``to_mnist`` turns a drawing into an image like the ones in MNIST, the way the dataset
   was made: the digit's bounding box is scaled, keeping its proportions, to fit a 20 x 20
   box (averaging the pixels it covers, which leaves grey levels at the edges), and the
   result is placed in a 28 x 28 image so that its centre of mass is at the centre.
2. ``DigitPad`` is a JupyterLab widget (made with anywidget): a black square to draw on, the
   28 x 28 image the model gets, and the ten probabilities, updated while you draw.

``stroke_image`` draws strokes given as points, for drawings made by code (the site, tests).
"""

from __future__ import annotations

import anywidget
import numpy as np
import traitlets

__all__ = ["DigitPad", "centre_of_mass", "example_drawings", "stroke_image", "to_mnist"]

#: The digit's longer side in MNIST, and the side of the whole image.
BOX, SIDE = 20, 28


# --------------------------------------------------------------------------
# From a drawing to an MNIST-like image
# --------------------------------------------------------------------------


def _as_ink(drawing) -> np.ndarray:
    """A float image with ink from 0 (background) to 1 (full ink)."""
    drawing = np.asarray(drawing)
    if drawing.ndim != 2:
        raise ValueError(f"a drawing is a 2-D array of pixels, not shape {drawing.shape}")
    ink = drawing.astype(np.float64)
    return ink / 255 if drawing.dtype == np.uint8 else ink


def _area_weights(n_in: int, n_out: int) -> np.ndarray:
    """The (n_out, n_in) matrix that shrinks a row of n_in pixels to n_out by area.

    Output pixel i covers input positions [i * n_in / n_out, (i + 1) * n_in / n_out); each
    input pixel counts with the share of it that falls inside, so the result is the mean
    ink over the area, as a camera or a scanner would record it.
    """
    edges = np.arange(n_out + 1) * (n_in / n_out)
    starts, ends = edges[:-1, None], edges[1:, None]
    pixels = np.arange(n_in)[None, :]
    overlap = np.clip(np.minimum(ends, pixels + 1) - np.maximum(starts, pixels), 0, None)
    return overlap / (n_in / n_out)


def centre_of_mass(image) -> tuple[float, float]:
    """The ink-weighted mean (row, column) of an image."""
    image = np.asarray(image, dtype=np.float64)
    rows, cols = np.indices(image.shape)
    return float((rows * image).sum() / image.sum()), float((cols * image).sum() / image.sum())


def to_mnist(drawing, box: int = BOX, side: int = SIDE) -> np.ndarray:
    """An MNIST-like image (side x side, uint8, 0 = background) of a drawing.

    1. Crop the drawing to the bounding box of its ink.
    2. Scale it, keeping its proportions, so that its longer side is ``box`` pixels.
    3. Put it in a ``side`` x ``side`` image, moved so that its centre of mass lands on the
       centre (as near as whole pixels allow, and never past the edge).

    An empty drawing gives an empty image.
    """
    ink = _as_ink(drawing)
    rows, cols = np.nonzero(ink > 0)
    if rows.size == 0:
        return np.zeros((side, side), dtype=np.uint8)
    crop = ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    height, width = crop.shape
    scale = box / max(height, width)
    new_height, new_width = max(1, round(height * scale)), max(1, round(width * scale))
    small = _area_weights(height, new_height) @ crop @ _area_weights(width, new_width).T
    centre_row, centre_col = centre_of_mass(small)
    middle = (side - 1) / 2
    top = int(np.clip(round(middle - centre_row), 0, side - new_height))
    left = int(np.clip(round(middle - centre_col), 0, side - new_width))
    image = np.zeros((side, side))
    image[top : top + new_height, left : left + new_width] = small
    return np.rint(np.clip(image, 0, 1) * 255).astype(np.uint8)


# --------------------------------------------------------------------------
# Drawings made by code
# --------------------------------------------------------------------------


def stroke_image(strokes, size: int = 280, pen: float = 22.0) -> np.ndarray:
    """Draw strokes with a round pen, white on black, as the pad does.

    ``strokes`` is a list of strokes, each an array of (x, y) points in pixels of a
    ``size`` x ``size`` square (x to the right, y down). Returns floats from 0 to 1.
    """
    ys, xs = np.mgrid[0:size, 0:size] + 0.5  # pixel centres
    distance = np.full((size, size), np.inf)
    for stroke in strokes:
        points = np.asarray(stroke, dtype=np.float64).reshape(-1, 2)
        if len(points) == 1:
            points = np.vstack([points, points])  # a dot
        for (x0, y0), (x1, y1) in zip(points[:-1], points[1:], strict=True):
            dx, dy = x1 - x0, y1 - y0
            length2 = dx * dx + dy * dy
            t = 0.0 if length2 == 0 else np.clip(((xs - x0) * dx + (ys - y0) * dy) / length2, 0, 1)
            distance = np.minimum(distance, np.hypot(xs - (x0 + t * dx), ys - (y0 + t * dy)))
    return np.clip(pen / 2 + 0.5 - distance, 0, 1)  # one pixel of soft edge


def example_drawings(size: int = 280) -> dict[int, np.ndarray]:
    """A few digits drawn by code, the way a hand might draw them on the pad."""
    turn = np.linspace(0, 2 * np.pi, 60)
    strokes = {
        1: [[(150, 45), (128, 235)]],
        0: [np.column_stack([140 + 62 * np.sin(turn), 140 - 92 * np.cos(turn)])],
        7: [[(70, 55), (205, 55), (120, 240)]],
        4: [[(150, 40), (75, 165), (215, 165)], [(175, 95), (170, 245)]],
    }
    return {digit: stroke_image(lines, size) for digit, lines in strokes.items()}


# --------------------------------------------------------------------------
# The widget
# --------------------------------------------------------------------------

# The widget's front end. The pad is 280 x 280 pixels, ten times an MNIST image; while you
# draw, it sends a copy shrunk to `resolution` pixels (grey levels, 0 = black) to Python at
# most every 80 ms, and shows the 28 x 28 image and the probabilities that come back.
_ESM = """
const SIZE = 280;  // the pad's side in pixels: ten times an MNIST image

function element(tag, className, parent) {
  const node = document.createElement(tag);
  node.className = className;
  if (parent) parent.appendChild(node);
  return node;
}

// The pad, the preview of the 28 x 28 image, and ten bars for the probabilities.
function layout(el) {
  const root = element("div", "digit-pad", el);
  root.dataset.prediction = "";
  const left = element("div", "digit-pad-left", root);
  const pad = element("canvas", "digit-pad-canvas", left);
  pad.width = pad.height = SIZE;
  pad.setAttribute("aria-label", "Drawing area: draw one digit with the mouse");
  const clear = element("button", "digit-pad-clear jupyter-button", left);
  clear.textContent = "Clear";
  const middle = element("div", "digit-pad-middle", root);
  element("div", "digit-pad-caption", middle).textContent = "What the model sees (28 x 28)";
  const preview = element("canvas", "digit-pad-preview", middle);
  preview.width = preview.height = 28;
  const bars = element("div", "digit-pad-bars", root);
  const rows = Array.from({ length: 10 }, (_, digit) => {
    const row = element("div", "digit-pad-row", bars);
    element("span", "digit-pad-digit", row).textContent = digit;
    const bar = element("span", "digit-pad-bar", element("span", "digit-pad-track", row));
    const value = element("span", "digit-pad-value", row);
    return { row, bar, value };
  });
  return { root, pad, clear, preview, rows };
}

// Drawing with the mouse (or a pen, or a finger); the pixels go to Python at most every 80 ms.
function drawing(model, pad, clear) {
  const ctx = pad.getContext("2d");
  const blank = () => { ctx.fillStyle = "black"; ctx.fillRect(0, 0, SIZE, SIZE); };
  blank();
  const resolution = model.get("resolution");
  const sample = document.createElement("canvas");
  sample.width = sample.height = resolution;
  const sampleCtx = sample.getContext("2d", { willReadFrequently: true });
  let timer = null;
  const send = () => {
    timer = null;
    sampleCtx.drawImage(pad, 0, 0, resolution, resolution);
    const rgba = sampleCtx.getImageData(0, 0, resolution, resolution).data;
    const grey = new Uint8Array(resolution * resolution);
    for (let i = 0; i < grey.length; i++) grey[i] = rgba[4 * i];
    model.set("drawing", new DataView(grey.buffer));
    model.save_changes();
  };
  const schedule = () => { if (timer === null) timer = setTimeout(send, 80); };
  let last = null;
  const at = (event) => {
    const box = pad.getBoundingClientRect();
    return [(event.clientX - box.left) * SIZE / box.width,
            (event.clientY - box.top) * SIZE / box.height];
  };
  const line = (from, to) => {
    ctx.strokeStyle = "white";
    ctx.lineWidth = model.get("pen");
    ctx.lineCap = ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(...from);
    ctx.lineTo(...to);
    ctx.stroke();
  };
  pad.addEventListener("pointerdown", (event) => {
    pad.setPointerCapture(event.pointerId);
    last = at(event);
    line(last, last);
    schedule();
  });
  pad.addEventListener("pointermove", (event) => {
    if (last === null) return;
    const next = at(event);
    line(last, next);
    last = next;
    schedule();
  });
  const stop = () => { if (last !== null) { last = null; schedule(); } };
  pad.addEventListener("pointerup", stop);
  pad.addEventListener("pointercancel", stop);
  clear.addEventListener("click", () => { blank(); send(); });
  return () => clearTimeout(timer);
}

// What came back from Python: the probabilities as bars, and the image the model got.
function show(model, { root, preview, rows }) {
  const probabilities = model.get("probabilities");
  const best = probabilities.length ? probabilities.indexOf(Math.max(...probabilities)) : -1;
  root.dataset.prediction = best < 0 ? "" : String(best);
  rows.forEach(({ row, bar, value }, digit) => {
    const p = probabilities.length ? probabilities[digit] : 0;
    bar.style.width = `${(100 * p).toFixed(1)}%`;
    value.textContent = probabilities.length ? `${(100 * p).toFixed(1)} %` : "";
    row.classList.toggle("digit-pad-best", digit === best);
  });
  const view = model.get("preview");
  const image = preview.getContext("2d").createImageData(28, 28);
  for (let i = 0; i < 28 * 28; i++) {
    const ink = view.byteLength === 28 * 28 ? view.getUint8(i) : 0;
    image.data.set([ink, ink, ink, 255], 4 * i);
  }
  preview.getContext("2d").putImageData(image, 0, 0);
}

function render({ model, el }) {
  const parts = layout(el);
  const stop = drawing(model, parts.pad, parts.clear);
  const update = () => show(model, parts);
  model.on("change:probabilities", update);
  model.on("change:preview", update);
  update();
  return stop;
}

export default { render };
"""

_CSS = """
.digit-pad { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
.digit-pad-left { display: flex; flex-direction: column; gap: 8px; }
.digit-pad-canvas { width: 280px; height: 280px; touch-action: none; cursor: crosshair;
  border: 1px solid var(--jp-border-color1, #999); }
.digit-pad-clear { width: 80px; }
.digit-pad-caption { font-size: 12px; margin-bottom: 4px; }
.digit-pad-preview { width: 112px; height: 112px; image-rendering: pixelated;
  border: 1px solid var(--jp-border-color1, #999); }
.digit-pad-bars { display: grid; gap: 4px; min-width: 260px; font-family: monospace; }
.digit-pad-row { display: grid; grid-template-columns: 1.5em 160px 5em; gap: 8px;
  align-items: center; }
.digit-pad-track { display: block; height: 14px; background: var(--jp-layout-color2, #eee); }
.digit-pad-bar { display: block; height: 100%; width: 0; background: #0072b2; }
.digit-pad-best { font-weight: bold; }
.digit-pad-best .digit-pad-bar { background: #e69f00; }
"""


class DigitPad(anywidget.AnyWidget):
    """A pad to draw a digit on, with ``classify``'s ten probabilities updated as you draw.

    ``classify`` takes one 28 x 28 uint8 image (as ``to_mnist`` makes them) and returns ten
    probabilities. The last image the model got is in the widget's ``digit`` attribute.
    """

    _esm = _ESM
    _css = _CSS
    # The pad, shrunk to resolution x resolution; it arrives as a memoryview.
    drawing = traitlets.Bytes(b"").tag(sync=True, from_json=lambda data, _: bytes(data))
    preview = traitlets.Bytes(b"").tag(sync=True)  # the 28 x 28 image the model got
    probabilities = traitlets.List(traitlets.Float()).tag(sync=True)
    resolution = traitlets.Int(140).tag(sync=True)
    pen = traitlets.Int(22).tag(sync=True)  # the pen's width on the 280-pixel pad

    def __init__(self, classify, **kwargs):
        super().__init__(**kwargs)
        self.classify = classify
        self.digit = np.zeros((SIDE, SIDE), dtype=np.uint8)

    @traitlets.observe("drawing")
    def _read(self, change):
        pixels = np.frombuffer(bytes(change["new"]), dtype=np.uint8)
        if pixels.size != self.resolution**2 or not pixels.any():
            self.digit = np.zeros((SIDE, SIDE), dtype=np.uint8)
            self.probabilities, self.preview = [], b""
            return
        self.digit = to_mnist(pixels.reshape(self.resolution, self.resolution))
        self.probabilities = [float(p) for p in self.classify(self.digit)]
        self.preview = self.digit.tobytes()
