"""Image augmentations for self-supervised views, vectorised over a batch of (N, H, W) images in [0, 1].

Every geometric augmentation is one affine resampling (`warp_affine`): each output pixel p is read
from the input at `matrix @ (p - out_centre) + in_centre + offset` (pixel units, (row, col) order)
with bilinear weights; pixels that fall outside the image read 0. All randomness comes from the
`np.random.Generator` passed in, and every output is float32 in [0, 1].
"""
from __future__ import annotations

from typing import Any

import numpy as np

from helpers._checks import check_array, check_fraction, check_int, check_rng

Size = int | tuple[int, int]


def _check_images(x: Any) -> np.ndarray:
    """Return x as a float32 (N, H, W) array after checking it is a non-empty finite batch in [0, 1]."""
    arr = check_array(x, "x", ndim=3)
    if arr.dtype.kind not in "fiu" or arr.size == 0:
        raise ValueError(f"x must be a non-empty real array of shape (N, H, W), got {arr.dtype} of shape {arr.shape}")
    arr = arr.astype(np.float32, copy=False)
    if arr.min() < 0 or arr.max() > 1:
        raise ValueError(f"x must hold values in [0, 1], got range [{arr.min():g}, {arr.max():g}]")
    return arr


def _check_range(value: Any, name: str, high: float = np.inf) -> tuple[float, float]:
    """Return value as (low, high) floats if 0 < low <= high <= the given bound, else raise."""
    bound = "" if high == np.inf else f" <= {high:g}"
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (low, high) with 0 < low <= high{bound}, got {value!r}") from None
    if not (0 < lo <= hi <= high and np.isfinite(hi)):
        raise ValueError(f"{name} must be a pair (low, high) with 0 < low <= high{bound}, got {value!r}")
    return lo, hi


def _check_size(size: Any, name: str, default: tuple[int, int]) -> tuple[int, int]:
    """Return size as (height, width): None gives default, a single int a square."""
    if size is None:
        return default
    pair = (size, size) if np.ndim(size) == 0 else tuple(size)
    if len(pair) != 2:
        raise ValueError(f"{name} must be an int or a pair (height, width) of ints, got {size!r}")
    return check_int(pair[0], name, minimum=1), check_int(pair[1], name, minimum=1)


def _check_angle(value: Any, name: str) -> float:
    """Return value as a float if it is an angle in [0, pi] radians, else raise."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number of radians in [0, pi], got {value!r}") from None
    if not 0 <= v <= np.pi:
        raise ValueError(f"{name} must be a number of radians in [0, pi], got {value!r}")
    return v


def _affine_matrices(theta: np.ndarray, row_scale: np.ndarray, col_scale: np.ndarray) -> np.ndarray:
    """Stack per-image matrices rotation(theta) @ diag(row_scale, col_scale) into shape (N, 2, 2)."""
    cos, sin = np.cos(theta), np.sin(theta)
    return np.stack([np.stack([cos * row_scale, -sin * col_scale], -1),
                     np.stack([sin * row_scale, cos * col_scale], -1)], -2)


def _warp(x: np.ndarray, matrix: np.ndarray, offset: np.ndarray, out_hw: tuple[int, int]) -> np.ndarray:
    """Bilinear sampler behind every geometric augmentation (inputs already checked)."""
    n, h, w = x.shape
    m = matrix.astype(np.float32)
    off = (offset + ((h - 1) / 2, (w - 1) / 2)).astype(np.float32)
    rows, cols = np.indices(out_hw, dtype=np.float32).reshape(2, -1)  # output pixels, flattened
    rows -= (out_hw[0] - 1) / 2
    cols -= (out_hw[1] - 1) / 2
    # y, z: the input row and column each output pixel reads
    y = m[:, 0, 0, None] * rows + m[:, 0, 1, None] * cols + off[:, 0, None]
    z = m[:, 1, 0, None] * rows + m[:, 1, 1, None] * cols + off[:, 1, None]
    np.clip(y, -1, h, out=y)
    np.clip(z, -1, w, out=z)
    y0, z0 = np.floor(y), np.floor(z)
    wy, wz = y - y0, z - z0
    # one zero row/column above and left, two below and right: every corner index is valid
    padded = np.zeros((n, h + 3, w + 3), np.float32)
    padded[:, 1:h + 1, 1:w + 1] = x
    flat, stride = padded.ravel(), w + 3
    base = np.arange(n, dtype=np.intp)[:, None] * ((h + 3) * stride)
    idx = base + (y0.astype(np.intp) + 1) * stride + z0.astype(np.intp) + 1
    top, top_right = flat.take(idx), flat.take(idx + 1)
    bottom, bottom_right = flat.take(idx + stride), flat.take(idx + stride + 1)
    top += wz * (top_right - top)
    bottom += wz * (bottom_right - bottom)
    top += wy * (bottom - top)
    return np.clip(top, 0, 1, out=top).reshape(n, *out_hw)


def warp_affine(x: Any, matrix: Any, offset: Any, out_size: Size | None = None) -> np.ndarray:
    """Read each output pixel p at input matrix @ (p - out_centre) + in_centre + offset, bilinearly; outside reads 0."""
    x = _check_images(x)
    n = x.shape[0]
    matrix = check_array(matrix, "matrix", ndim=3)
    offset = check_array(offset, "offset", ndim=2)
    if matrix.shape != (n, 2, 2) or offset.shape != (n, 2):
        raise ValueError(f"matrix must have shape ({n}, 2, 2) and offset ({n}, 2), "
                         f"got {matrix.shape} and {offset.shape}")
    return _warp(x, matrix, offset, _check_size(out_size, "out_size", x.shape[1:]))


def random_resized_crop(x: Any, rng: np.random.Generator, scale: tuple[float, float] = (0.7, 1.0),
                        ratio: tuple[float, float] = (3 / 4, 4 / 3), out_size: Size | None = None) -> np.ndarray:
    """Crop a random box (area fraction in scale, width/height in ratio, clipped to the image) and resize it."""
    x, rng = _check_images(x), check_rng(rng)
    s_lo, s_hi = _check_range(scale, "scale", high=1.0)
    r_lo, r_hi = _check_range(ratio, "ratio")
    n, h, w = x.shape
    out_hw = _check_size(out_size, "out_size", (h, w))
    area = rng.uniform(s_lo, s_hi, n) * (h * w)
    aspect = np.exp(rng.uniform(np.log(r_lo), np.log(r_hi), n))
    box = np.minimum(np.stack([np.sqrt(area / aspect), np.sqrt(area * aspect)], -1), (h, w))
    offset = (rng.random((n, 2)) - 0.5) * ((h, w) - box)
    matrix = _affine_matrices(np.zeros(n), box[:, 0] / out_hw[0], box[:, 1] / out_hw[1])
    return _warp(x, matrix, offset, out_hw)


def random_affine(x: Any, rng: np.random.Generator, scale: tuple[float, float] = (0.7, 1.1),
                  rotation: float = 0.25, translation: float = 0.15) -> np.ndarray:
    """Zoom by a factor in scale, rotate by up to ±rotation radians, shift by up to ±translation of the size."""
    x, rng = _check_images(x), check_rng(rng)
    s_lo, s_hi = _check_range(scale, "scale")
    rotation = _check_angle(rotation, "rotation")
    translation = check_fraction(translation, "translation", high_open=False)
    n, h, w = x.shape
    zoom = 1 / rng.uniform(s_lo, s_hi, n)
    theta = rng.uniform(-rotation, rotation, n)
    shift = rng.uniform(-translation, translation, (n, 2)) * (h, w)
    return _warp(x, _affine_matrices(theta, zoom, zoom), -shift, (h, w))


def random_translate(x: Any, rng: np.random.Generator, max_shift: float = 0.15) -> np.ndarray:
    """Shift each image by up to ±max_shift of its height and width (sub-pixel, bilinear)."""
    max_shift = check_fraction(max_shift, "max_shift", high_open=False)
    return random_affine(x, rng, scale=(1.0, 1.0), rotation=0.0, translation=max_shift)


def gaussian_noise(x: Any, rng: np.random.Generator, sigma: float = 0.1) -> np.ndarray:
    """Add N(0, sigma²) noise to every pixel and clip to [0, 1]."""
    x, rng = _check_images(x), check_rng(rng)
    sigma = check_fraction(sigma, "sigma", high_open=False)
    noisy = x + np.float32(sigma) * rng.standard_normal(x.shape, dtype=np.float32)
    return np.clip(noisy, 0, 1, out=noisy)


def brightness_contrast(x: Any, rng: np.random.Generator, brightness: tuple[float, float] = (0.6, 1.4),
                        contrast: tuple[float, float] = (0.6, 1.4)) -> np.ndarray:
    """Scale each image's contrast about its mean, then its brightness, by random factors; clip to [0, 1]."""
    x, rng = _check_images(x), check_rng(rng)
    b_lo, b_hi = _check_range(brightness, "brightness")
    c_lo, c_hi = _check_range(contrast, "contrast")
    n = x.shape[0]
    b = rng.uniform(b_lo, b_hi, (n, 1, 1)).astype(np.float32)
    c = rng.uniform(c_lo, c_hi, (n, 1, 1)).astype(np.float32)
    out = b * (c * x + (1 - c) * x.mean(axis=(1, 2), keepdims=True))
    return np.clip(out, 0, 1, out=out)


def random_erasing(x: Any, rng: np.random.Generator, p: float = 0.5, size: int = 8) -> np.ndarray:
    """With probability p per image, set a size×size block at a random place inside it to 0."""
    x, rng = _check_images(x), check_rng(rng)
    p = check_fraction(p, "p", high_open=False)
    n, h, w = x.shape
    size = check_int(size, "size", minimum=1, maximum=min(h, w))
    erase = rng.random(n) < p
    rows = np.arange(h) - rng.integers(0, h - size + 1, n)[:, None]
    cols = np.arange(w) - rng.integers(0, w - size + 1, n)[:, None]
    block = erase[:, None, None] & ((rows >= 0) & (rows < size))[:, :, None] & ((cols >= 0) & (cols < size))[:, None, :]
    return np.where(block, np.float32(0), x)


def simclr_views(x: Any, rng: np.random.Generator, *, scale: tuple[float, float] = (0.7, 1.1),
                 rotation: float = 0.25, translation: float = 0.15, brightness: tuple[float, float] = (0.6, 1.4),
                 sigma: float = 0.1, erase_p: float = 0.5,
                 erase_size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Two independent views by the book's MNIST recipe: affine, brightness, noise, erased block (8 px at 28×28)."""
    x = _check_images(x)
    side = min(x.shape[1:])
    erase_p = check_fraction(erase_p, "erase_p", high_open=False)
    erase_size = max(1, round(8 * side / 28)) if erase_size is None else erase_size
    erase_size = check_int(erase_size, "erase_size", minimum=1, maximum=side)

    def view() -> np.ndarray:
        v = random_affine(x, rng, scale, rotation, translation)
        v = brightness_contrast(v, rng, brightness, contrast=(1.0, 1.0))
        return random_erasing(gaussian_noise(v, rng, sigma), rng, erase_p, erase_size)

    return view(), view()


def multi_crop(x: Any, rng: np.random.Generator, n_global: int = 2, n_local: int = 4,
               global_scale: tuple[float, float] = (0.4, 1.0), local_scale: tuple[float, float] = (0.05, 0.4),
               global_size: Size | None = None, local_size: Size | None = None) -> list[np.ndarray]:
    """DINO's multi-crop: n_global crops at global_size (default: input), then n_local at local_size (≈ 3/7 side)."""
    x = _check_images(x)
    n_global = check_int(n_global, "n_global", minimum=1)
    n_local = check_int(n_local, "n_local")
    global_scale = _check_range(global_scale, "global_scale", high=1.0)
    local_scale = _check_range(local_scale, "local_scale", high=1.0)
    h, w = x.shape[1:]
    global_size = _check_size(global_size, "global_size", (h, w))
    local_size = _check_size(local_size, "local_size", (-(-3 * h // 7), -(-3 * w // 7)))
    crops = [random_resized_crop(x, rng, global_scale, out_size=global_size) for _ in range(n_global)]
    return crops + [random_resized_crop(x, rng, local_scale, out_size=local_size) for _ in range(n_local)]
