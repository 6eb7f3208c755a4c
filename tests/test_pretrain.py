"""Tests for helpers.pretrain: the registry handles every method the same way."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.barlow import BarlowTwins, train_barlow_twins
from helpers.data import mnist_split
from helpers.dino import ViTBackbone
from helpers.pretrain import METHODS, Pretrained, build, pretrain
from helpers.simclr import SimCLR, encode, train_simclr

ENC, HEAD = (784, 16, 8), (8, 8, 4)


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    x, y, _, _ = mnist_split()
    return x[:48], y[:48]


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_trains_and_gives_features(
    digits: tuple[np.ndarray, np.ndarray], method: str
) -> None:
    x, y = digits
    result = pretrain(
        method,
        x,
        seed=0,
        epochs=1,
        batch_size=16,
        encoder_sizes=ENC,
        head_sizes=HEAD,
        labels=y,
    )
    assert isinstance(result, Pretrained) and result.seconds >= 0
    assert len(result.losses) == 3 and np.isfinite(result.losses).all()
    features = result.features(x[:5])
    assert features.shape[0] == 5 and np.isfinite(features).all()
    assert features.shape[1] == (64 if method == "mae" else 8)


def test_same_result_as_the_methods_own_training_function(
    digits: tuple[np.ndarray, np.ndarray],
) -> None:
    x, _ = digits
    for method, cls, train in (
        ("simclr", SimCLR, train_simclr),
        ("barlow_twins", BarlowTwins, train_barlow_twins),
    ):
        direct = cls(np.random.default_rng(4), ENC, HEAD)
        train(direct, x, epochs=2, batch_size=16, seed=4, desc="t")
        via = pretrain(
            method,
            x,
            seed=4,
            epochs=2,
            batch_size=16,
            encoder_sizes=ENC,
            head_sizes=HEAD,
        )
        assert np.array_equal(encode(direct.encoder, x), via.features(x))


def test_build_is_untrained_and_seeded() -> None:
    a, b = (
        build("simclr", seed=1, encoder_sizes=ENC, head_sizes=HEAD),
        build("simclr", seed=1, encoder_sizes=ENC, head_sizes=HEAD),
    )
    assert all(np.array_equal(a.state_dict()[k], v) for k, v in b.state_dict().items())


def test_bad_input_raises(digits: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = digits
    with pytest.raises(ValueError, match="method"):
        pretrain("word2vec", x)
    with pytest.raises(TypeError, match="method"):
        pretrain(3, x)
    with pytest.raises(ValueError, match="labels"):
        pretrain("supervised", x, epochs=1)
    with pytest.raises(ValueError, match="labels"):
        pretrain("supervised", x, epochs=1, labels=y.astype(float))
    with pytest.raises(ValueError, match="epochs"):
        pretrain("simclr", x, epochs=0)
    with pytest.raises(ValueError, match="images"):
        pretrain("simclr", x.reshape(48, -1))
    with pytest.raises(ValueError, match="images"):
        pretrain("simclr", x[:1])
    with pytest.raises(ValueError, match="encoder_sizes"):
        build("simclr", encoder_sizes=(784,))
    with pytest.raises(ValueError, match="seed"):
        build("simclr", seed=-2)


@pytest.mark.parametrize("method", ["dino", "supervised"])
def test_vit_option_swaps_the_mlp_for_a_small_vit(
    digits: tuple[np.ndarray, np.ndarray], method: str
) -> None:
    x, y = digits
    vit = {"patch": 7, "width": 8, "depth": 1, "n_heads": 2}
    result = pretrain(
        method,
        x,
        epochs=1,
        batch_size=16,
        head_sizes=HEAD,
        labels=y,
        model_options={"vit": vit},
    )
    assert (
        isinstance(result.model.encoder, ViTBackbone)
        and result.model.encoder.width == 8
    )
    assert result.features(x[:5]).shape == (
        5,
        8,
    ) and result.model.encoder.cls_attention(x[:2]).shape == (2, 2, 16)
    with pytest.raises(ValueError, match="vit"):
        build(method, model_options={"vit": ["patch", 7]})
