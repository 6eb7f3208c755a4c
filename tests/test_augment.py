"""Tests of helpers.augment: shapes, ranges, determinism, known answers, bad inputs."""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import augment
from helpers.augment import (
    brightness_contrast,
    gaussian_noise,
    multi_crop,
    random_affine,
    random_erasing,
    random_resized_crop,
    random_translate,
    simclr_views,
    warp_affine,
)

AUGMENTATIONS: dict[str, Callable[..., np.ndarray]] = {
    "random_resized_crop": random_resized_crop,
    "random_affine": random_affine,
    "random_translate": random_translate,
    "gaussian_noise": gaussian_noise,
    "brightness_contrast": brightness_contrast,
    "random_erasing": lambda x, rng: random_erasing(x, rng, size=min(x.shape[1:]) // 2),
    "simclr_view_1": lambda x, rng: simclr_views(x, rng)[0],
    "simclr_view_2": lambda x, rng: simclr_views(x, rng)[1],
}


def images(n: int = 6, h: int = 28, w: int = 28, seed: int = 0) -> np.ndarray:
    """A batch of random float32 images in [0, 1]."""
    return np.random.default_rng(seed).random((n, h, w), dtype=np.float32)


def identity_warp(x: np.ndarray, offset: tuple[float, float]) -> np.ndarray:
    """warp_affine with the identity matrix and the same offset for every image."""
    n = len(x)
    return warp_affine(
        x, np.broadcast_to(np.eye(2), (n, 2, 2)), np.tile(offset, (n, 1))
    )


@pytest.mark.parametrize("shape", [(6, 28, 28), (4, 8, 8), (3, 6, 10)])
@pytest.mark.parametrize("name", AUGMENTATIONS)
def test_shape_dtype_range(name: str, shape: tuple[int, int, int]) -> None:
    out = AUGMENTATIONS[name](images(*shape), np.random.default_rng(1))
    assert out.shape == shape and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("name", AUGMENTATIONS)
def test_same_seed_same_output_other_seed_differs(name: str) -> None:
    x = images()
    fn = AUGMENTATIONS[name]
    first = fn(x, np.random.default_rng(7))
    np.testing.assert_array_equal(first, fn(x, np.random.default_rng(7)))
    assert not np.array_equal(first, fn(x, np.random.default_rng(8)))


def test_input_not_modified() -> None:
    x = images()
    before = x.copy()
    simclr_views(x, np.random.default_rng(0))
    multi_crop(x, np.random.default_rng(0))
    np.testing.assert_array_equal(x, before)


def test_accepts_float64_and_integer_input() -> None:
    x = images(3, 8, 8)
    rng_out = random_affine(x.astype(np.float64), np.random.default_rng(0))
    np.testing.assert_array_equal(rng_out, random_affine(x, np.random.default_rng(0)))
    assert (
        random_affine((x > 0.5).astype(np.uint8), np.random.default_rng(0)).dtype
        == np.float32
    )


@pytest.mark.parametrize("shape", [(5, 28, 28), (5, 8, 8), (5, 6, 10)])
def test_identity_cases(shape: tuple[int, int, int]) -> None:
    x = images(*shape)
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(random_translate(x, rng, max_shift=0), x)
    np.testing.assert_array_equal(
        random_affine(x, rng, scale=(1, 1), rotation=0, translation=0), x
    )
    np.testing.assert_array_equal(gaussian_noise(x, rng, sigma=0), x)
    np.testing.assert_array_equal(
        brightness_contrast(x, rng, brightness=(1, 1), contrast=(1, 1)), x
    )
    np.testing.assert_array_equal(random_erasing(x, rng, p=0, size=2), x)
    np.testing.assert_array_equal(identity_warp(x, (0, 0)), x)


@pytest.mark.parametrize("side", [28, 8])
def test_full_square_crop_is_identity(side: int) -> None:
    x = images(5, side, side)
    out = random_resized_crop(x, np.random.default_rng(0), scale=(1, 1), ratio=(1, 1))
    np.testing.assert_allclose(out, x, atol=1e-6)


def test_whole_pixel_translation_shifts_content_by_exactly_one_pixel() -> None:
    x = images(4, 8, 9)
    # read from the row above: content moves down one row
    down = identity_warp(x, (-1, 0))
    np.testing.assert_array_equal(down[:, 1:], x[:, :-1])
    np.testing.assert_array_equal(down[:, 0], 0)
    # read from the column to the right: content moves left
    left = identity_warp(x, (0, 1))
    np.testing.assert_array_equal(left[:, :, :-1], x[:, :, 1:])
    np.testing.assert_array_equal(left[:, :, -1], 0)


def test_half_pixel_translation_averages_neighbours() -> None:
    x = images(3, 8, 8)
    out = identity_warp(x, (0, 0.5))
    np.testing.assert_allclose(
        out[:, :, :-1], (x[:, :, :-1] + x[:, :, 1:]) / 2, atol=1e-6
    )
    np.testing.assert_allclose(out[:, :, -1], x[:, :, -1] / 2, atol=1e-6)


def test_quarter_turn_matches_rot90() -> None:
    x = images(3, 7, 7)
    quarter = np.array([[0.0, -1.0], [1.0, 0.0]])
    rotated = warp_affine(x, np.broadcast_to(quarter, (3, 2, 2)), np.zeros((3, 2)))
    np.testing.assert_allclose(rotated, np.rot90(x, -1, axes=(1, 2)), atol=1e-6)


def test_two_fold_zoom_out_of_a_crop_box() -> None:
    x = images(2, 8, 8)
    half = warp_affine(
        x, np.broadcast_to(np.eye(2) * 2, (2, 2, 2)), np.zeros((2, 2)), out_size=4
    )
    # output pixel (i, j) reads input (2i + 0.5, 2j + 0.5): the mean of a 2×2 block
    blocks = x.reshape(2, 4, 2, 4, 2).mean(axis=(2, 4))
    np.testing.assert_allclose(half, blocks, atol=1e-6)


def test_crop_out_size() -> None:
    x = images(4, 28, 28)
    rng = np.random.default_rng(0)
    assert random_resized_crop(x, rng, out_size=12).shape == (4, 12, 12)
    assert random_resized_crop(x, rng, out_size=(10, 14)).shape == (4, 10, 14)


def test_brightness_and_contrast_known_answers() -> None:
    x = images(4, 8, 8)
    rng = np.random.default_rng(0)
    np.testing.assert_allclose(
        brightness_contrast(x, rng, (2, 2), (1, 1)), np.clip(2 * x, 0, 1), atol=1e-6
    )
    mean = x.mean(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(
        brightness_contrast(x, rng, (1, 1), (0.5, 0.5)), (x + mean) / 2, atol=1e-6
    )


def test_noise_has_the_asked_spread() -> None:
    x = np.full((64, 28, 28), 0.5, np.float32)
    noisy = gaussian_noise(x, np.random.default_rng(0), sigma=0.1)
    assert abs(noisy.mean() - 0.5) < 1e-3 and abs(noisy.std() - 0.1) < 1e-3


@pytest.mark.parametrize(
    "shape, size", [((20, 28, 28), 8), ((20, 8, 8), 3), ((20, 6, 10), 6)]
)
def test_erasing_with_p_one_zeroes_exactly_one_block(
    shape: tuple[int, int, int], size: int
) -> None:
    out = random_erasing(
        np.ones(shape, np.float32), np.random.default_rng(0), p=1, size=size
    )
    for zeros in out == 0:
        rows, cols = np.nonzero(zeros)
        assert len(rows) == size * size
        assert (
            rows.max() - rows.min() == size - 1 and cols.max() - cols.min() == size - 1
        )


def test_erasing_rate_and_positions() -> None:
    out = random_erasing(
        np.ones((4000, 8, 8), np.float32), np.random.default_rng(0), p=0.5, size=3
    )
    erased = (out == 0).any(axis=(1, 2))
    assert abs(erased.mean() - 0.5) < 0.03
    assert (out == 0).any(axis=0).all()  # every pixel is covered by some block


@pytest.mark.parametrize("side, block", [(28, 8), (8, 2)])
def test_simclr_erase_block_scales_with_the_image(side: int, block: int) -> None:
    plain = dict(
        scale=(1, 1), rotation=0, translation=0, brightness=(1, 1), sigma=0, erase_p=1
    )
    a, b = simclr_views(
        np.ones((5, side, side), np.float32), np.random.default_rng(0), **plain
    )
    assert ((a == 0).sum(axis=(1, 2)) == block * block).all()
    assert ((b == 0).sum(axis=(1, 2)) == block * block).all()


def test_simclr_views_are_independent() -> None:
    a, b = simclr_views(images(), np.random.default_rng(0))
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("side, local", [(28, 12), (8, 4)])
def test_multi_crop_counts_and_default_sizes(side: int, local: int) -> None:
    crops = multi_crop(images(5, side, side), np.random.default_rng(0))
    assert [c.shape for c in crops] == [(5, side, side)] * 2 + [(5, local, local)] * 4
    assert all(c.dtype == np.float32 and c.min() >= 0 and c.max() <= 1 for c in crops)


def test_multi_crop_custom_counts_and_sizes() -> None:
    crops = multi_crop(
        images(3),
        np.random.default_rng(0),
        n_global=1,
        n_local=8,
        global_size=24,
        local_size=(10, 8),
    )
    assert [c.shape for c in crops] == [(3, 24, 24)] + [(3, 10, 8)] * 8
    assert len(multi_crop(images(3), np.random.default_rng(0), n_local=0)) == 2


def test_crop_heights_match_the_scale_ranges() -> None:
    rows = np.broadcast_to((np.arange(28) / 27)[None, :, None], (4000, 28, 28)).astype(
        np.float32
    )
    crops = multi_crop(rows, np.random.default_rng(0), local_size=28)
    # a crop of box height b pixels spans b/28 of the row code; E[b²/28²] ≈ mean area
    # fraction · E[1/aspect]
    fractions = [
        float(((c.max(axis=(1, 2)) - c.min(axis=(1, 2))) ** 2).mean()) for c in crops
    ]
    np.testing.assert_allclose(fractions[:2], 0.7 * 1.014, atol=0.03)
    np.testing.assert_allclose(fractions[2:], 0.225 * 1.014, atol=0.015)


def test_crops_cover_the_asked_area_fraction() -> None:
    x = np.zeros((2000, 28, 28), np.float32)
    # left half bright: a crop's mean brightness tells where it came from
    x[:, :, :14] = 1
    crops = random_resized_crop(
        x, np.random.default_rng(0), scale=(0.25, 0.25), ratio=(1, 1)
    )
    left = crops.mean(axis=(1, 2))
    assert left.min() < 0.05 and left.max() > 0.95 and abs(left.mean() - 0.5) < 0.03


X = images(2, 8, 8)
RNG = np.random.default_rng(0)
BAD: list[tuple[Callable[[], Any], str]] = [
    (lambda: random_affine(X[0], RNG), "x must have 3"),
    (lambda: random_affine(X.reshape(2, 1, 8, 8), RNG), "x must have 3"),
    (lambda: random_affine(np.full((2, 8, 8), np.nan), RNG), "NaN"),
    (lambda: random_affine(np.full((2, 8, 8), np.inf), RNG), "NaN or inf"),
    (lambda: random_affine(X * 255, RNG), r"x must hold values in \[0, 1\]"),
    (lambda: random_affine(X - 0.5, RNG), r"x must hold values in \[0, 1\]"),
    (lambda: random_affine(np.zeros((0, 8, 8)), RNG), "non-empty"),
    (lambda: random_affine(X.astype(complex), RNG), "real array"),
    (lambda: random_affine(X, 0), "rng must be a np.random.Generator"),
    (
        lambda: random_affine(X, np.random.RandomState(0)),
        "rng must be a np.random.Generator",
    ),
    (lambda: random_affine(X, RNG, scale=(1.1, 0.7)), "scale must be a pair"),
    (lambda: random_affine(X, RNG, scale=(0, 1)), "scale must be a pair"),
    (lambda: random_affine(X, RNG, scale=0.9), "scale must be a pair"),
    (lambda: random_affine(X, RNG, scale=(1, np.inf)), "scale must be a pair"),
    (lambda: random_affine(X, RNG, rotation=-0.1), "rotation must be"),
    (lambda: random_affine(X, RNG, rotation=4), "rotation must be"),
    (lambda: random_affine(X, RNG, rotation="a"), "rotation must be"),
    (lambda: random_affine(X, RNG, translation=1.5), "translation must lie"),
    (lambda: random_translate(X, RNG, max_shift=-0.1), "max_shift must lie"),
    (lambda: random_translate(X, RNG, max_shift=np.nan), "max_shift must lie"),
    (
        lambda: random_resized_crop(X, RNG, scale=(0.5, 1.2)),
        r"scale must be a pair .* <= 1",
    ),
    (lambda: random_resized_crop(X, RNG, ratio=(0, 1)), "ratio must be a pair"),
    (lambda: random_resized_crop(X, RNG, ratio=(1, 2, 3)), "ratio must be a pair"),
    (lambda: random_resized_crop(X, RNG, out_size=0), "out_size must be >= 1"),
    (
        lambda: random_resized_crop(X, RNG, out_size=(4, 4, 4)),
        "out_size must be an int or a pair",
    ),
    (lambda: random_resized_crop(X, RNG, out_size=4.5), "out_size must be an integer"),
    (lambda: gaussian_noise(X, RNG, sigma=-0.1), "sigma must lie"),
    (lambda: gaussian_noise(X, RNG, sigma=2), "sigma must lie"),
    (lambda: gaussian_noise(X, None), "rng must be"),
    (
        lambda: brightness_contrast(X, RNG, brightness=(-1, 1)),
        "brightness must be a pair",
    ),
    (lambda: brightness_contrast(X, RNG, contrast=(2, 1)), "contrast must be a pair"),
    (lambda: random_erasing(X, RNG, p=1.5), "p must lie"),
    (lambda: random_erasing(X, RNG, p=-0.1), "p must lie"),
    (lambda: random_erasing(X, RNG, size=9), "size must be >= 1 and <= 8"),
    (lambda: random_erasing(X, RNG, size=0), "size must be >= 1"),
    (lambda: random_erasing(X, RNG, size=2.0), "size must be an integer"),
    (lambda: simclr_views(X, RNG, erase_p=2), "erase_p must lie"),
    (lambda: simclr_views(X, RNG, erase_size=9), "erase_size must be"),
    (lambda: simclr_views(X, RNG, sigma=-1), "sigma must lie"),
    (lambda: simclr_views(X, RNG, brightness=(0, 1)), "brightness must be a pair"),
    (lambda: simclr_views(X, "seed"), "rng must be"),
    (lambda: multi_crop(X, RNG, n_global=0), "n_global must be >= 1"),
    (lambda: multi_crop(X, RNG, n_local=-1), "n_local must be >= 0"),
    (lambda: multi_crop(X, RNG, n_local=2.0), "n_local must be an integer"),
    (lambda: multi_crop(X, RNG, global_scale=(0.4, 2)), "global_scale must be a pair"),
    (lambda: multi_crop(X, RNG, local_scale=(0, 0.4)), "local_scale must be a pair"),
    (lambda: multi_crop(X, RNG, global_size=0), "global_size must be >= 1"),
    (
        lambda: multi_crop(X, RNG, local_size=(3,)),
        "local_size must be an int or a pair",
    ),
    (lambda: multi_crop(X, 1), "rng must be"),
    (lambda: warp_affine(X, np.eye(2), np.zeros((2, 2))), "matrix must have 3"),
    (
        lambda: warp_affine(X, np.zeros((3, 2, 2)), np.zeros((2, 2))),
        r"matrix must have shape \(2, 2, 2\)",
    ),
    (lambda: warp_affine(X, np.zeros((2, 2, 2)), np.zeros((2, 3))), r"offset \(2, 2\)"),
    (
        lambda: warp_affine(X, np.full((2, 2, 2), np.nan), np.zeros((2, 2))),
        "matrix contains NaN",
    ),
]


@pytest.mark.parametrize("call, message", BAD, ids=[m for _, m in BAD])
def test_bad_inputs_raise(call: Callable[[], Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    h=st.integers(1, 12),
    w=st.integers(1, 12),
    zoom=st.tuples(st.floats(0.05, 3), st.floats(0.05, 3)).map(sorted),
    area=st.tuples(st.floats(0.01, 1), st.floats(0.01, 1)).map(sorted),
    ratio=st.tuples(st.floats(0.2, 5), st.floats(0.2, 5)).map(sorted),
    rotation=st.floats(0, np.pi),
    fraction=st.floats(0, 1),
    factors=st.tuples(st.floats(0.01, 10), st.floats(0.01, 10)).map(sorted),
    out=st.tuples(st.integers(1, 12), st.integers(1, 12)),
)
def test_outputs_stay_float32_in_unit_interval(
    seed: int,
    h: int,
    w: int,
    zoom: list[float],
    area: list[float],
    ratio: list[float],
    rotation: float,
    fraction: float,
    factors: list[float],
    out: tuple[int, int],
) -> None:
    rng = np.random.default_rng(seed)
    x = rng.random((3, h, w), dtype=np.float32)
    x[0] = 1.0  # a saturated image is the easiest to push past 1 by rounding
    outputs = [
        random_affine(x, rng, scale=zoom, rotation=rotation, translation=fraction),
        random_resized_crop(x, rng, scale=area, ratio=ratio, out_size=out),
        gaussian_noise(x, rng, sigma=fraction),
        brightness_contrast(x, rng, brightness=factors, contrast=factors),
        random_erasing(x, rng, p=fraction, size=min(h, w)),
        *simclr_views(x, rng, scale=zoom, rotation=rotation, erase_size=1),
        *multi_crop(x, rng, n_local=1, global_scale=area, local_scale=area),
    ]
    for o in outputs:
        assert o.dtype == np.float32 and np.all(o >= 0) and np.all(o <= 1)
    assert outputs[1].shape == (3, *out)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    shift=st.tuples(st.integers(-5, 5), st.integers(-5, 5)),
)
def test_any_whole_pixel_shift_is_exact(seed: int, shift: tuple[int, int]) -> None:
    x = np.random.default_rng(seed).random((2, 6, 7), dtype=np.float32)
    dy, dx = shift
    padded = np.pad(x, ((0, 0), (6, 6), (7, 7)))
    expected = padded[:, 6 - dy : 12 - dy, 7 - dx : 14 - dx]
    np.testing.assert_array_equal(identity_warp(x, (-dy, -dx)), expected)


def reference_warp(
    x: np.ndarray, matrix: np.ndarray, offset: np.ndarray, out_hw: tuple[int, int]
) -> np.ndarray:
    """warp_affine's definition per output pixel in float64: bilinear, 0 outside."""
    n, h, w = x.shape
    out = np.zeros((n, *out_hw))
    for k, i, j in np.ndindex(n, *out_hw):
        p = np.array([i - (out_hw[0] - 1) / 2, j - (out_hw[1] - 1) / 2])
        y, z = matrix[k] @ p + ((h - 1) / 2, (w - 1) / 2) + offset[k]
        y0, z0 = int(np.floor(y)), int(np.floor(z))
        for r, c in np.ndindex(2, 2):
            if 0 <= y0 + r < h and 0 <= z0 + c < w:
                out[k, i, j] += (
                    (1 - abs(y - y0 - r)) * (1 - abs(z - z0 - c)) * x[k, y0 + r, z0 + c]
                )
    return np.clip(out, 0, 1)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    h=st.integers(1, 9),
    w=st.integers(1, 9),
    out=st.tuples(st.integers(1, 9), st.integers(1, 9)),
)
def test_warp_matches_a_per_pixel_reference(
    seed: int, h: int, w: int, out: tuple[int, int]
) -> None:
    rng = np.random.default_rng(seed)
    x = rng.random((3, h, w), dtype=np.float32)
    matrix = rng.normal(0, 1.5, (3, 2, 2))
    offset = rng.normal(0, max(h, w) / 2, (3, 2))
    expected = reference_warp(x, matrix, offset, out)
    # float32 coordinates: a sample point moves by ~1e-6 pixel, the value by ~1e-6 per
    # unit slope
    np.testing.assert_allclose(warp_affine(x, matrix, offset, out), expected, atol=2e-5)


def test_warp_matches_scipy_affine_transform() -> None:
    ndimage = pytest.importorskip("scipy.ndimage")
    rng = np.random.default_rng(3)
    x = rng.random((4, 28, 28), dtype=np.float32)
    theta, zoom = rng.uniform(-0.25, 0.25, 4), 1 / rng.uniform(0.7, 1.1, 4)
    matrix = np.stack(
        [
            [zoom * np.cos(theta), -zoom * np.sin(theta)],
            [zoom * np.sin(theta), zoom * np.cos(theta)],
        ]
    )
    matrix = matrix.transpose(2, 0, 1)
    offset = rng.uniform(-4, 4, (4, 2))
    centre = np.array([13.5, 13.5])
    expected = [
        ndimage.affine_transform(
            x[k].astype(np.float64),
            matrix[k],
            centre + offset[k] - matrix[k] @ centre,
            order=1,
            mode="grid-constant",
        )
        for k in range(4)
    ]
    np.testing.assert_allclose(
        warp_affine(x, matrix, offset), np.clip(expected, 0, 1), atol=2e-5
    )


def captured_warps(
    monkeypatch: pytest.MonkeyPatch,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Make helpers.augment._warp record the (matrix, offset) of every call."""
    calls: list[tuple[np.ndarray, np.ndarray]] = []
    real = augment._warp

    def spy(
        x: np.ndarray, matrix: np.ndarray, offset: np.ndarray, out_hw: tuple[int, int]
    ) -> np.ndarray:
        calls.append((matrix, offset))
        return real(x, matrix, offset, out_hw)

    monkeypatch.setattr(augment, "_warp", spy)
    return calls


@pytest.mark.parametrize("draw", ["random_affine", "simclr_views"])
def test_affine_parameters_fill_their_ranges(
    monkeypatch: pytest.MonkeyPatch, draw: str
) -> None:
    calls = captured_warps(monkeypatch)
    x = images(4000, 10, 20)
    recipe = dict(scale=(0.7, 1.1), rotation=0.25, translation=0.15)
    random_affine(
        x, np.random.default_rng(0), **recipe
    ) if draw == "random_affine" else simclr_views(
        x, np.random.default_rng(0), **recipe
    )
    ((matrix, offset),) = calls
    zoom = 1 / np.sqrt(np.linalg.det(matrix))  # the matrix is rotation(theta) / zoom
    theta = np.arctan2(matrix[:, 1, 0], matrix[:, 0, 0])
    shift = -offset / (10, 20)
    for values, lo, hi in [
        (zoom, 0.7, 1.1),
        (theta, -0.25, 0.25),
        (shift[:, 0], -0.15, 0.15),
        (shift[:, 1], -0.15, 0.15),
    ]:
        assert (
            lo - 1e-9 <= values.min() < lo + 0.01 * (hi - lo)
            and hi - 0.01 * (hi - lo) < values.max() <= hi + 1e-9
        )
        np.testing.assert_allclose(
            np.median(values), (lo + hi) / 2, atol=0.03 * (hi - lo)
        )


def test_simclr_brightness_fills_its_range() -> None:
    still = dict(
        scale=(1, 1),
        rotation=0,
        translation=0,
        sigma=0,
        erase_p=0,
        brightness=(0.6, 1.4),
    )
    a, b = simclr_views(
        np.full((4000, 4, 4), 0.5, np.float32), np.random.default_rng(0), **still
    )
    factor = 2 * np.concatenate([a, b])[:, 0, 0]
    assert 0.6 - 1e-6 <= factor.min() < 0.61 and 1.39 < factor.max() <= 1.4 + 1e-6
    # one factor per image
    assert abs(np.median(factor) - 1) < 0.02 and (a.std(axis=(1, 2)) < 1e-6).all()


def test_noise_is_gaussian() -> None:
    noise = (
        gaussian_noise(
            np.full((201, 25, 25), 0.5, np.float32), np.random.default_rng(0), sigma=0.1
        )
        - 0.5
    )
    flat = noise.ravel() / 0.1  # an odd count: one Box-Muller pair is cut
    z = np.sort(flat)
    normal_cdf = 0.5 * (1 + np.vectorize(math.erf)(z / np.sqrt(2)))
    ks = np.abs(normal_cdf - np.arange(1, len(z) + 1) / len(z)).max()
    assert ks < 1.63 / np.sqrt(len(z))  # Kolmogorov-Smirnov at the 1 % level
    assert (
        abs(z.mean()) < 0.01
        and abs(z.std() - 1) < 0.01
        and abs((z**4).mean() - 3) < 0.05
    )
    # Box-Muller pairs lie half the batch apart: they share a radius, yet are
    # independent
    half = len(flat) // 2
    for a, b in [
        (flat[:-1], flat[1:]),
        (flat[:half], flat[-half:]),
        (flat[:half] ** 2, flat[-half:] ** 2),
    ]:
        assert abs(np.corrcoef(a, b)[0, 1]) < 0.01


def test_views_and_crops_are_deterministic_and_independent() -> None:
    x = images(50, 12, 12)
    a, b = simclr_views(x, np.random.default_rng(5))
    assert np.abs(a - b).mean() > 0.05  # drawn as one batch, the two views still differ
    crops = multi_crop(x, np.random.default_rng(5), n_global=3, n_local=2, local_size=6)
    again = multi_crop(x, np.random.default_rng(5), n_global=3, n_local=2, local_size=6)
    assert all(np.array_equal(c, d) for c, d in zip(crops, again))
    assert not np.array_equal(crops[0], crops[1]) and not np.array_equal(
        crops[3], crops[4]
    )
