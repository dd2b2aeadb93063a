"""Unit tests of notebooks/draw.py: a drawing becomes an image the way MNIST's were made."""

import draw
import numpy as np
import pytest


def ink_box(image):
    """(height, width, centre row, centre column) of the bounding box of an image's ink."""
    rows, cols = np.nonzero(image)
    return (
        rows.max() - rows.min() + 1,
        cols.max() - cols.min() + 1,
        (rows.min() + rows.max()) / 2,
        (cols.min() + cols.max()) / 2,
    )


def an_l_shape(top=30, left=200, size=280):
    """A tall, thin L far from the centre: its centre of mass is not its box's centre."""
    drawing = np.zeros((size, size), dtype=np.uint8)
    drawing[top : top + 150, left : left + 12] = 255  # the upright, 150 px tall
    drawing[top + 138 : top + 150, left : left + 70] = 255  # the foot, 70 px wide
    return drawing


def test_the_bounding_box_is_scaled_into_20_by_20_keeping_proportions():
    image = draw.to_mnist(an_l_shape())
    assert image.shape == (28, 28) and image.dtype == np.uint8
    height, width, _, _ = ink_box(image)
    assert height == 20, "the longer side fills the 20-pixel box"
    assert width == pytest.approx(70 * 20 / 150, abs=1), "the proportions are kept"
    height, width, _, _ = ink_box(draw.to_mnist(an_l_shape().T))  # lying on its side
    assert (height, width) == (pytest.approx(70 * 20 / 150, abs=1), 20)


def test_the_centre_of_mass_is_moved_to_the_centre():
    image = draw.to_mnist(an_l_shape())
    row, col = draw.centre_of_mass(image)
    assert abs(row - 13.5) <= 0.5 and abs(col - 13.5) <= 0.5, (row, col)
    # Centring the bounding box instead would put the centre of mass elsewhere.
    _, _, box_row, box_col = ink_box(image)
    assert abs(box_row - 13.5) + abs(box_col - 13.5) > 1.5, (box_row, box_col)


def test_where_the_digit_was_drawn_does_not_matter():
    near_corner = draw.to_mnist(an_l_shape(top=10, left=10))
    elsewhere = draw.to_mnist(an_l_shape(top=100, left=150))
    np.testing.assert_array_equal(near_corner, elsewhere)


def test_shrinking_averages_the_ink_into_grey_levels():
    drawing = an_l_shape()
    image = draw.to_mnist(drawing)
    shrunk_ink = (drawing / 255).sum() * (20 / 150) ** 2
    assert image.sum() / 255 == pytest.approx(shrunk_ink, rel=0.06), "the ink is conserved"
    diagonal = draw.to_mnist(draw.stroke_image([[(40, 40), (240, 240)]]))
    grey = (diagonal > 0) & (diagonal < 255)
    assert grey.sum() >= 20, "a slanted stroke has grey edges, as in MNIST"


def test_an_empty_drawing_gives_an_empty_image():
    assert not draw.to_mnist(np.zeros((140, 140), dtype=np.uint8)).any()


def test_strokes_drawn_by_code():
    dot = draw.stroke_image([[(140, 140)]], pen=20)
    assert dot[140, 140] == 1 and dot[140, 155] == 0
    assert draw.stroke_image([[(20, 140), (260, 140)]])[140, 20:260].min() == 1
    for digit, drawing in draw.example_drawings().items():
        assert drawing.shape == (280, 280) and 0 < drawing.mean() < 0.3, digit


def test_the_pad_sends_the_drawing_through_to_mnist_to_the_model():
    seen = []

    def classify(image):
        seen.append(image)
        return np.eye(10)[7]

    pad = draw.DigitPad(classify, resolution=140)
    pixels = np.rint(draw.stroke_image([[(70, 20), (70, 120)]], size=140) * 255)
    # The front end sends the pixels as a binary buffer, which arrives as a memoryview.
    pad.set_state({"drawing": memoryview(pixels.astype(np.uint8).tobytes())})
    assert len(seen) == 1
    np.testing.assert_array_equal(seen[0], draw.to_mnist(pixels.astype(np.uint8)))
    assert pad.probabilities == list(np.eye(10)[7])
    assert pad.preview == seen[0].tobytes()
    pad.drawing = bytes(140 * 140)  # Clear
    assert pad.probabilities == [] and not pad.digit.any()
