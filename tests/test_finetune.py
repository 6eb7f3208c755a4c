"""Tests for helpers.finetune and mae.PooledEncoder: loss, determinism, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.data import mnist_split
from helpers.finetune import finetune, finetune_early_stopped, predict
from helpers.mae import MAE, PooledEncoder, mae_features
from helpers.nn import Linear, patchify
from helpers.simclr import make_mlp_encoder


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    x, y, _, _ = mnist_split()
    return x[:60], y[:60]


def _mlp_pair(seed: int = 0):
    rng = np.random.default_rng(seed)
    return make_mlp_encoder(rng, (784, 32, 16)), Linear(16, 10, rng)


def test_finetune_fits_the_training_labels(digits) -> None:
    x, y = digits
    enc, head = _mlp_pair()
    flat = x.reshape(len(x), -1)
    before = float((predict(enc, head, flat) == y).mean())
    losses = finetune(enc, head, flat, y, steps=60, lr=3e-3, batch_size=30, seed=0)
    assert losses[-5:].mean() < losses[:5].mean()
    assert float((predict(enc, head, flat) == y).mean()) > max(before, 0.8)


def test_finetune_is_deterministic_and_uses_augment(digits) -> None:
    x, y = digits
    flat = x.reshape(len(x), -1)
    runs = []
    for _ in range(2):
        enc, head = _mlp_pair()
        runs.append(finetune(enc, head, flat, y, steps=5, seed=3, batch_size=20))
    np.testing.assert_array_equal(runs[0], runs[1])
    calls = []
    enc, head = _mlp_pair()
    finetune(
        enc,
        head,
        flat,
        y,
        steps=3,
        batch_size=20,
        augment=lambda b, rng: calls.append(len(b)) or b,
    )
    assert calls == [20, 20, 20]


def test_pooled_encoder_matches_mae_features_and_trains(digits) -> None:
    x, y = digits
    mae = MAE(np.random.default_rng(0))
    enc = PooledEncoder(mae.encoder)
    np.testing.assert_allclose(
        enc(patchify(x[:4], 7)).data, mae_features(mae, x[:4]), atol=1e-5
    )
    before = mae.encoder.embed.weight.data.copy()
    finetune(
        enc,
        Linear(64, 10, np.random.default_rng(0)),
        patchify(x, 7),
        y,
        steps=2,
        batch_size=20,
    )
    assert not np.array_equal(before, mae.encoder.embed.weight.data)


def test_bad_inputs_raise(digits) -> None:
    x, y = digits
    flat = x.reshape(len(x), -1)
    enc, head = _mlp_pair()
    with pytest.raises(TypeError, match="encoder"):
        finetune("encoder", head, flat, y, steps=1)
    with pytest.raises(ValueError, match="labels"):
        finetune(enc, head, flat, y[:-1], steps=1)
    with pytest.raises(ValueError, match="labels"):
        finetune(enc, head, flat, y.astype(float), steps=1)
    with pytest.raises(ValueError, match="steps"):
        finetune(enc, head, flat, y, steps=0)
    with pytest.raises(ValueError, match="inputs"):
        finetune(enc, head, np.full_like(flat, np.nan), y, steps=1)
    with pytest.raises(ValueError, match="warmup_frac"):
        finetune(enc, head, flat, y, steps=1, batch_size=20, warmup_frac=1.0)
    with pytest.raises(TypeError, match="augment"):
        finetune(enc, head, flat, y, steps=1, batch_size=20, augment=3)
    with pytest.raises(TypeError, match="encoder"):
        PooledEncoder(enc)
    with pytest.raises(ValueError, match="inputs"):
        predict(enc, head, np.zeros(3))


def test_finetune_early_stopped_keeps_the_best_validation_state(digits) -> None:
    x, y = digits
    flat = x.reshape(len(x), -1)
    enc, head = _mlp_pair()
    losses, scores, best = finetune_early_stopped(
        enc,
        head,
        flat[:30],
        y[:30],
        flat[30:],
        y[30:],
        steps=40,
        every=10,
        lr=3e-3,
        batch_size=30,
        seed=0,
    )
    assert len(losses) == 40 and len(scores) == 4
    assert best == 10 * (int(np.argmax(scores)) + 1)  # the first of the best scores
    assert float((predict(enc, head, flat[30:]) == y[30:]).mean()) == pytest.approx(
        scores.max()
    )


def test_finetune_early_stopped_rejects_bad_input(digits) -> None:
    x, y = digits
    flat = x.reshape(len(x), -1)
    enc, head = _mlp_pair()
    with pytest.raises(ValueError, match="every"):
        finetune_early_stopped(enc, head, flat, y, flat, y, steps=5, every=10)
    with pytest.raises(ValueError, match="labels"):
        finetune_early_stopped(enc, head, flat, y, flat, y[:3], steps=5, every=5)
