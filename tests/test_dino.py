"""Tests of helpers.dino: head gradients, positions, the ViT backbone, a short run."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.autograd import numerical_gradient
from helpers.dino import (
    DINO,
    DINOHead,
    ViTBackbone,
    grid_positions,
    teacher_stats,
    teacher_temperature,
    train_dino,
)


def test_head_gradient_matches_finite_differences() -> None:
    head = DINOHead(5, np.random.default_rng(0), hidden=6, bottleneck=4, out_dim=7)
    for p in head.parameters():
        p.data = p.data.astype(np.float64)
    x = np.random.default_rng(1).normal(size=(3, 5))
    w = head.last.weight
    out = head(x)
    (out * out).sum().backward()

    def f(v: np.ndarray) -> float:
        old = w.data.copy()
        w.data[...] = v
        val = float((head(x).data ** 2).sum())
        w.data[...] = old
        return val

    assert np.allclose(w.grad, numerical_gradient(f, w.data.copy()), atol=1e-5)


def test_head_logits_are_cosines() -> None:
    out = DINOHead(8, np.random.default_rng(0))(
        np.random.default_rng(1).normal(size=(4, 8))
    ).data
    assert out.shape == (4, 256) and np.abs(out).max() <= 1 + 1e-5


def test_grid_positions_resample_the_full_grid() -> None:
    assert grid_positions(4, 4).tolist() == list(range(16))
    assert grid_positions(2, 4).tolist() == [0, 3, 12, 15]
    with pytest.raises(ValueError, match="grid"):
        grid_positions(5, 4)


def test_vit_backbone_takes_global_and_local_crops() -> None:
    vit = ViTBackbone(np.random.default_rng(0), patch=7, width=8, depth=1, n_heads=2)
    assert vit(np.zeros((3, 784))).shape == (3, 8) and vit(
        np.zeros((3, 196))
    ).shape == (3, 8)
    att = vit.cls_attention(np.random.default_rng(0).random((3, 784)))
    assert att.shape == (3, 2, 16) and np.allclose(att.sum(-1), 1, atol=1e-5)
    with pytest.raises(ValueError, match="square images"):
        vit(np.zeros((3, 100)))


def test_teacher_stats_of_uniform_and_one_hot_teachers() -> None:
    s = np.zeros((3, 4, 5))
    uniform = teacher_stats(s, np.zeros((2, 4, 5)), np.zeros(5), 0.1, 0.04)
    assert np.isclose(uniform["entropy"], np.log(5)) and np.isclose(
        uniform["kl"], 0, atol=1e-6
    )
    peaked = teacher_stats(
        s, np.eye(5)[[0, 1, 2, 3]][None].repeat(2, 0) * 10, np.zeros(5), 0.1, 0.04
    )
    assert (
        peaked["entropy"] < 1e-3
        and peaked["dims_used"] == 4
        and np.isclose(peaked["kl"], np.log(5), atol=1e-3)
    )


def test_short_training_run_tracks_and_moves_the_center() -> None:
    images = np.random.default_rng(0).random((32, 28, 28)).astype(np.float32)
    model = DINO(
        np.random.default_rng(0),
        ViTBackbone(np.random.default_rng(0), patch=7, width=8, depth=1),
        out_dim=16,
        hidden=8,
        bottleneck=4,
    )
    seen = []
    losses = train_dino(
        model,
        images,
        epochs=2,
        batch_size=16,
        n_local=2,
        track=lambda k, m, o: seen.append(o),
    )
    assert len(losses) == 4 and np.isfinite(losses).all() and len(seen) == 4
    assert seen[0]["student"].shape == (4, 16, 16) and seen[0]["teacher"].shape == (
        2,
        16,
        16,
    )
    assert np.abs(model.center).sum() > 0 and model.encoder is model.teacher.backbone


def test_mlp_model_and_bad_arguments() -> None:
    images = np.random.default_rng(0).random((16, 28, 28)).astype(np.float32)
    model = DINO(np.random.default_rng(0), out_dim=8)
    losses = train_dino(
        model, images, epochs=1, batch_size=8, n_local=1, centering=False
    )
    assert len(losses) == 2 and not np.abs(model.center).any()
    with pytest.raises(TypeError, match="model"):
        train_dino(object(), images, epochs=1)
    with pytest.raises(ValueError, match="teacher_temp"):
        train_dino(model, images, epochs=1, batch_size=8, teacher_temp=0)
    with pytest.raises(TypeError, match="centering"):
        train_dino(model, images, epochs=1, batch_size=8, centering=1)
    with pytest.raises(TypeError, match="backbone"):
        DINO(np.random.default_rng(0), backbone="vit")


def test_teacher_temperature_warms_up_linearly_then_holds() -> None:
    temps = [teacher_temperature(k, 10, 0.04, 0.02, 0.5) for k in range(10)]
    assert np.allclose(temps, [0.02, 0.024, 0.028, 0.032, 0.036] + [0.04] * 5)
    assert teacher_temperature(0, 10, 0.04) == 0.04
    for bad in ({"start": 0.0}, {"final": -1.0}, {"warmup_frac": 1.5}, {"step": 10}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            teacher_temperature(
                **{"step": 0, "n_steps": 10, "final": 0.04, "start": 0.02, **bad}
            )


def test_warmup_changes_the_early_teacher_only_when_asked() -> None:
    images = np.random.default_rng(0).random((16, 28, 28)).astype(np.float32)
    runs = {}
    for start in (None, 0.04, 0.01):
        runs[start] = train_dino(
            DINO(np.random.default_rng(0), out_dim=8),
            images,
            epochs=2,
            batch_size=8,
            n_local=1,
            warmup_teacher_temp=start,
            warmup_teacher_frac=0.5,
        )
    assert np.array_equal(runs[None], runs[0.04]) and not np.allclose(
        runs[None], runs[0.01]
    )
    with pytest.raises(ValueError, match="warmup_teacher_temp"):
        train_dino(
            DINO(np.random.default_rng(0), out_dim=8),
            images,
            epochs=1,
            batch_size=8,
            warmup_teacher_temp=0,
        )
