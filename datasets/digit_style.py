"""A picture of a digit made the way MNIST's digits were made, so a model trained on MNIST can read it.

    mnist_style(picture)          -> 28x28 float32 in [0, 1]: the ink cropped, scaled to 20 pixels, centred
    ink_on_dark(picture)          -> the picture as bright ink on a dark ground (a scan inverted), in [0, 1]

MNIST's digits were cropped to their ink, scaled (anti-aliased) so the longer side is 20 pixels
with the aspect kept, and placed in a 28x28 field with their centre of mass at its centre
(LeCun et al.). A model trained on them has never seen a digit off-centre or of another size:
drawn in a corner, or small, it is misread unless it goes through the same steps. Scaling is
by area-averaging (each new pixel the mean of the old area it covers, so nothing is aliased),
and the move to the centre is by a fraction of a pixel too (the same area rule), so the centre
of mass lands on the centre exactly; one small matrix per axis does each, no loop over pixels.
A digit whose centring would push ink past the edge stops at the edge: ink is never cut off.
"""

from __future__ import annotations

import numpy as np

#: the side of the field, and of the box the ink is scaled into (MNIST's)
FIELD, BOX = 28, 20
#: a pixel is ink for the bounding box when above this share of the brightest one (soft edges
#: and a scan's speckles below it are left out of the box, not counted as the digit's extent)
INK_SHARE = 0.1


def as_ink(picture: np.ndarray) -> np.ndarray:
    """A 2-D picture as float32 ink in [0, 1]: integers and floats above 1 are read as 0..255 values."""
    values = np.asarray(picture)
    if values.ndim != 2:
        raise ValueError(f"expected a 2-D picture, got shape {values.shape}")
    floats = np.nan_to_num(values.astype(np.float32, copy=True), nan=0.0, posinf=255.0, neginf=0.0)
    if floats.size and (np.issubdtype(values.dtype, np.integer) or floats.max() > 1.0):
        floats /= 255.0
    return np.clip(floats, 0.0, 1.0, out=floats)


def ink_box(ink: np.ndarray) -> tuple[slice, slice] | None:
    """The rows and columns holding the ink (pixels above INK_SHARE of the brightest), or None for no ink."""
    peak = float(ink.max()) if ink.size else 0.0
    if peak <= 0.0:
        return None
    inked = ink > INK_SHARE * peak
    rows, cols = np.flatnonzero(inked.any(axis=1)), np.flatnonzero(inked.any(axis=0))
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def area_weights(size: int, scale: float, start: float, out: int) -> np.ndarray:
    """(out, size) weights that put `size` pixels, each stretched to `scale` pixels, at offset `start` of `out`.

    Weight (i, j) is how much of new pixel i old pixel j covers (they overlap on [start + j*scale,
    start + (j+1)*scale) and [i, i+1)): shrinking averages, growing repeats, a fractional `start`
    shares a pixel between two neighbours in proportion. A row's weights sum to 1 where it is covered.
    """
    old = start + scale * np.arange(size + 1, dtype=np.float64)
    new = np.arange(out + 1, dtype=np.float64)
    low = np.maximum(new[:-1, None], old[None, :-1])
    high = np.minimum(new[1:, None], old[None, 1:])
    return np.clip(high - low, 0.0, None)


def centre_of_mass(ink: np.ndarray) -> tuple[float, float]:
    """(row, column) of the ink's centre of mass, in pixel indices (pixel i's centre is i)."""
    total = float(ink.sum())
    rows = float(ink.sum(axis=1) @ np.arange(ink.shape[0])) / total
    cols = float(ink.sum(axis=0) @ np.arange(ink.shape[1])) / total
    return rows, cols


def mnist_style(picture: np.ndarray) -> np.ndarray:
    """`picture` (2-D, any size, bright ink on a dark ground, 0..1 or 0..255) as MNIST made its digits:
    28x28 float32 in [0, 1], the ink's box scaled to 20 pixels on its longer side, its centre of mass
    at the centre (13.5, 13.5). A picture without ink gives an empty field."""
    ink = as_ink(picture)
    box = ink_box(ink)
    if box is None:
        return np.zeros((FIELD, FIELD), np.float32)
    crop = ink[box].astype(np.float64)
    scale = BOX / max(crop.shape)
    sizes = [max(1, int(round(n * scale))) for n in crop.shape]
    # first the scaling (each axis to its size), then the move: the centre of mass is measured on the scaled ink
    down = area_weights(crop.shape[0], sizes[0] / crop.shape[0], 0.0, sizes[0])
    across = area_weights(crop.shape[1], sizes[1] / crop.shape[1], 0.0, sizes[1])
    scaled = down @ crop @ across.T
    centre = (FIELD - 1) / 2
    starts = [min(max(centre - c, 0.0), FIELD - n) for c, n in zip(centre_of_mass(scaled), sizes)]
    down = area_weights(sizes[0], 1.0, starts[0], FIELD)
    across = area_weights(sizes[1], 1.0, starts[1], FIELD)
    return np.clip(down @ scaled @ across.T, 0.0, 1.0).astype(np.float32)


def ink_on_dark(picture: np.ndarray, invert: bool | None = None) -> np.ndarray:
    """A picture as bright ink on a dark ground, in [0, 1], its ground at 0 and its strongest ink at 1.

    `invert` None decides by the ground: a picture whose border is mostly light (a scan, a drawing
    on paper) is dark ink on light and is inverted; True or False forces it. The ground (the
    border's median) is then taken away and the rest stretched to full ink, so grey paper does not
    read as ink all over. A picture with nothing above its ground is returned empty.
    """
    ink = as_ink(picture)
    if ink.size == 0:
        return ink
    border = np.concatenate([ink[0], ink[-1], ink[1:-1, 0], ink[1:-1, -1]])
    if invert is None:
        ground = float(np.median(border))
        invert = ground > 0.5 or (ground == 0.5 and float(np.median(ink)) > 0.5)
    if invert:
        ink = 1.0 - ink
        border = 1.0 - border
    ground, peak = float(np.median(border)), float(ink.max())
    if peak <= ground:
        return np.zeros_like(ink)
    return np.clip((ink - ground) / (peak - ground), 0.0, 1.0).astype(np.float32)
