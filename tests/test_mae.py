"""Tests of helpers.mae: shapes, gradients through the decoder's new plumbing, MAE's
masking semantics (the encoder never sees a hidden patch), training, features,
baselines, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.autograd import no_grad
from helpers.mae import (
    MAE,
    grid_distances,
    mae_features,
    mae_step,
    masked_patch_mse,
    masked_patch_mse_per_image,
    mean_patch_fill,
    nearest_visible_fill,
    train_mae,
)
from helpers.optim import AdamW


def tiny(seed: int = 0, **kw) -> MAE:
    """A small MAE on 8x8 images with 2x2 patches (16 patches of 4 pixels)."""
    args = dict(
        image_size=8,
        patch=2,
        width=8,
        depth=1,
        n_heads=2,
        decoder_width=8,
        decoder_heads=2,
    )
    args.update(kw)
    return MAE(np.random.default_rng(seed), **args)


def images(n: int = 6, size: int = 8, seed: int = 0) -> np.ndarray:
    """Random images in [0, 1]."""
    return np.random.default_rng(seed).random((n, size, size)).astype(np.float32)


def test_forward_shapes_and_mask_count() -> None:
    model = tiny()
    patches = model.patchify(images())
    pred, mask = model(patches, 0.75, np.random.default_rng(0))
    assert pred.shape == (6, 16, 4) and mask.shape == (6, 16)
    assert (mask.sum(axis=1) == 12).all()
    assert model.encode(patches[:, :4], np.tile(np.arange(4), (6, 1))).shape == (
        6,
        5,
        8,
    )


def test_default_model_is_the_chapter_configuration() -> None:
    model = MAE(np.random.default_rng(0))
    assert model.grid == 4 and model.n_patches == 16
    pred, _ = model(model.patchify(images(2, 28)), 0.75, np.random.default_rng(0))
    assert pred.shape == (2, 16, 49)


def test_hidden_patches_never_reach_the_encoder() -> None:
    model = tiny()
    patches = model.patchify(images())
    with no_grad():
        pred, mask = model(patches, 0.75, np.random.default_rng(3))
        changed = np.where(mask[..., None] == 1, 100.0, patches).astype(np.float32)
        pred2, mask2 = model(changed, 0.75, np.random.default_rng(3))
    assert np.array_equal(mask, mask2)
    assert np.allclose(pred.data, pred2.data)


def test_order_of_visible_tokens_does_not_matter() -> None:
    """The same visible set, shuffled differently, gives the same prediction."""
    model = tiny()
    patches = model.patchify(images(1))
    order_a = np.array([[3, 7, 11, 0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, 15]])
    order_b = np.array([[11, 3, 7, 15, 14, 13, 12, 10, 9, 8, 6, 5, 4, 2, 1, 0]])
    outputs = []
    with no_grad():
        for order in (order_a, order_b):
            keep = order[:, :3]
            visible = np.take_along_axis(patches, keep[..., None], axis=1)
            outputs.append(
                model.decode(
                    model.encode(visible, keep), np.argsort(order, axis=1)
                ).data
            )
    assert np.allclose(outputs[0], outputs[1], atol=1e-5)


def test_mask_token_sits_at_every_hidden_position_with_a_different_position() -> None:
    """Two hidden positions get different predictions: positions tell them apart."""
    model = tiny()
    patches = model.patchify(images(1))
    with no_grad():
        pred, mask = model(patches, 0.75, np.random.default_rng(0))
    hidden = np.flatnonzero(mask[0])
    assert not np.allclose(pred.data[0, hidden[0]], pred.data[0, hidden[1]])


def test_gradients_match_finite_differences() -> None:
    model = tiny(decoder_depth=1)
    for p in model.parameters():
        p.data = p.data.astype(np.float64)
    patches = model.patchify(images(3)).astype(np.float64)
    weights = np.random.default_rng(1).normal(size=(3, 16, 4))

    def objective() -> float:
        pred, _ = model(patches, 0.5, np.random.default_rng(5))
        return pred * weights

    model.zero_grad()
    objective().sum().backward()
    for p in (
        model.mask_token,
        model.decoder_embed.weight,
        model.encoder.embed.weight,
        model.decoder_pred.bias,
    ):
        flat = p.data.reshape(-1)
        for i in np.random.default_rng(2).choice(
            flat.size, size=min(5, flat.size), replace=False
        ):
            old = flat[i]
            flat[i] = old + 1e-6
            up = objective().data.sum()
            flat[i] = old - 1e-6
            down = objective().data.sum()
            flat[i] = old
            assert p.grad.reshape(-1)[i] == pytest.approx(
                (up - down) / 2e-6, rel=1e-4, abs=1e-7
            )


def test_mae_step_fits_a_fixed_batch() -> None:
    model = tiny()
    opt = AdamW(model.parameters(), lr=1e-2)
    batch = images(8)
    losses = [
        mae_step(model, opt, batch, 0.5, np.random.default_rng(0)) for _ in range(40)
    ]
    assert losses[-1] < 0.5 * losses[0]


def test_mae_step_with_norm_pix_runs_and_differs() -> None:
    batch = images(4)
    plain = mae_step(
        tiny(), AdamW(tiny().parameters()), batch, 0.75, np.random.default_rng(0)
    )
    model = tiny()
    normed = mae_step(
        model,
        AdamW(model.parameters()),
        batch,
        0.75,
        np.random.default_rng(0),
        norm_pix=True,
    )
    assert np.isfinite(normed) and normed != pytest.approx(plain)


def test_train_mae_is_deterministic_and_returns_every_loss() -> None:
    a, b = tiny(), tiny()
    la = train_mae(a, images(20), 0.75, 7, batch_size=8, seed=3)
    lb = train_mae(b, images(20), 0.75, 7, batch_size=8, seed=3)
    assert la.shape == (7,) and np.isfinite(la).all()
    assert np.array_equal(la, lb)
    assert all(
        np.array_equal(p.data, q.data) for p, q in zip(a.parameters(), b.parameters())
    )


def test_features_are_mean_patch_tokens_and_independent_of_batch_size() -> None:
    model = tiny()
    x = images(7)
    f = mae_features(model, x, batch_size=3)
    assert f.shape == (7, 8)
    assert np.allclose(f, mae_features(model, x, batch_size=100), atol=1e-6)
    with no_grad():
        tokens = model.encode(model.patchify(x)).data
    assert np.allclose(f, tokens[:, 1:].mean(axis=1), atol=1e-6)


def nearest_slow(patches: np.ndarray, mask: np.ndarray, grid: int) -> np.ndarray:
    """Loop reference: per hidden patch, the nearest visible one (first on ties)."""
    out = patches.copy()
    for n in range(len(patches)):
        visible = [j for j in range(grid * grid) if mask[n, j] == 0]
        for i in range(grid * grid):
            if mask[n, i] == 1:
                ri, ci = divmod(i, grid)
                dist = [(ri - j // grid) ** 2 + (ci - j % grid) ** 2 for j in visible]
                out[n, i] = patches[n, visible[int(np.argmin(dist))]]
    return out


@pytest.mark.parametrize("ratio", [0.25, 0.5, 0.75, 0.9])
def test_nearest_visible_fill_matches_a_loop(ratio: float) -> None:
    rng = np.random.default_rng(0)
    patches = rng.random((5, 16, 3))
    mask = np.zeros((5, 16))
    for row in mask:
        row[rng.permutation(16)[: int(16 * ratio)]] = 1
    assert np.array_equal(
        nearest_visible_fill(patches, mask, 4), nearest_slow(patches, mask, 4)
    )


def test_nearest_fill_ties_go_to_the_lower_index() -> None:
    patches = np.arange(16, dtype=float).reshape(1, 16, 1)
    mask = np.ones((1, 16))
    mask[0, [4, 6]] = 0  # patch 5 is equally near to 4 and 6
    assert nearest_visible_fill(patches, mask, 4)[0, 5, 0] == 4


def test_mean_patch_fill_keeps_visible_patches() -> None:
    patches = np.random.default_rng(0).random((2, 16, 4))
    mask = np.zeros((2, 16))
    mask[:, :5] = 1
    one = mean_patch_fill(patches, mask, np.full(4, 0.5))
    per_position = mean_patch_fill(
        patches, mask, np.tile(np.arange(16.0)[:, None], (1, 4))
    )
    assert np.array_equal(one[:, 5:], patches[:, 5:]) and (one[:, :5] == 0.5).all()
    assert (per_position[:, 3] == 3).all()


def test_masked_patch_mse_counts_hidden_patches_only() -> None:
    target = np.zeros((1, 4, 2))
    pred = np.array([[[1, 1], [2, 2], [100, 100], [0, 0]]], dtype=float)
    mask = np.array([[1, 1, 0, 1]])
    assert masked_patch_mse(pred, target, mask) == pytest.approx((1 + 4 + 0) / 3)


def test_grid_distances() -> None:
    d = grid_distances(3)
    assert d.shape == (9, 9) and np.array_equal(d, d.T) and (np.diag(d) == 0).all()
    assert d[0, 8] == 8 and d[0, 1] == 1


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: tiny(patch=3), "patch"),
        (lambda: MAE(0), "rng"),
        (lambda: tiny().patchify(np.zeros((2, 9, 9))), "images"),
        (
            lambda: mae_step(
                tiny(),
                AdamW(tiny().parameters()),
                images(2),
                1.0,
                np.random.default_rng(0),
            ),
            "mask_ratio",
        ),
        (
            lambda: mae_step(tiny(), AdamW(tiny().parameters()), images(2), 0.5, 0),
            "rng",
        ),
        (
            lambda: nearest_visible_fill(np.zeros((1, 16, 2)), np.ones((1, 16)), 4),
            "visible",
        ),
        (
            lambda: nearest_visible_fill(np.zeros((1, 9, 2)), np.zeros((1, 9)), 4),
            "patches",
        ),
        (
            lambda: mean_patch_fill(
                np.zeros((1, 16, 2)), np.zeros((1, 16)), np.zeros(3)
            ),
            "mean_patch",
        ),
        (
            lambda: mean_patch_fill(
                np.zeros((1, 16, 2)), np.full((1, 16), 0.5), np.zeros(2)
            ),
            "mask",
        ),
        (lambda: train_mae(tiny(), images(4), 0.5, 3, batch_size=8), "batch_size"),
        (lambda: mae_features(tiny(), images(2), batch_size=0), "batch_size"),
    ],
)
def test_bad_inputs_raise_with_a_clear_message(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_masked_patch_mse_per_image_averages_to_the_whole_score() -> None:
    rng = np.random.default_rng(0)
    pred, target = rng.random((5, 16, 4)), rng.random((5, 16, 4))
    mask = np.zeros((5, 16))
    mask[:, :12] = 1
    per_image = masked_patch_mse_per_image(pred, target, mask)
    assert per_image.shape == (5,)
    assert per_image.mean() == pytest.approx(masked_patch_mse(pred, target, mask))
    assert per_image[2] == pytest.approx(((pred[2, :12] - target[2, :12]) ** 2).mean())


def test_masked_patch_mse_per_image_rejects_bad_input() -> None:
    x = np.zeros((2, 4, 3))
    with pytest.raises(ValueError, match="remove at least one"):
        masked_patch_mse_per_image(x, x, np.array([[1, 0, 0, 0], [0, 0, 0, 0]]))
    with pytest.raises(ValueError, match="same shape"):
        masked_patch_mse_per_image(x[:, :, :2], x, np.ones((2, 4)))
