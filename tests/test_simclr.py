"""Tests for helpers.simclr: shapes, modes, determinism, a short run, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.autograd import Tensor
from helpers.data import mnist_split
from helpers.losses import nt_xent
from helpers.optim import AdamW
from helpers.simclr import (
    Classifier,
    SimCLR,
    encode,
    flatten_images,
    make_mlp_encoder,
    make_projection_head,
    simclr_step,
    train_simclr,
    train_supervised,
)

SMALL_ENCODER, SMALL_HEAD = (784, 32, 16), (16, 16, 8)


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    x, y, _, _ = mnist_split()
    return x[:64], y[:64]


def small_model(seed: int = 0) -> SimCLR:
    return SimCLR(np.random.default_rng(seed), SMALL_ENCODER, SMALL_HEAD)


def test_default_shapes_follow_the_book_recipe() -> None:
    model = SimCLR(np.random.default_rng(0))
    x = np.random.default_rng(1).random((5, 28, 28)).astype(np.float32)
    assert encode(model.encoder, x).shape == (5, 256)
    assert encode(model, x).shape == (5, 64)
    assert model.num_parameters() == (
        784 * 512
        + 512
        + 2 * 512
        + 512 * 256
        + 256
        + 2 * 256
        + 256 * 256
        + 256
        + 2 * 256
        + 256 * 64
        + 64
    )


def test_encoder_features_are_nonnegative_and_head_output_is_not() -> None:
    rng = np.random.default_rng(0)
    encoder, head = (
        make_mlp_encoder(rng, (10, 8, 6)),
        make_projection_head(rng, (6, 6, 4)),
    )
    h = encoder(rng.standard_normal((20, 10)).astype(np.float32))
    assert h.data.min() >= 0  # ReLU after the last encoder layer
    assert head(h).data.min() < 0  # the projection ends in a plain Linear


def test_encode_uses_eval_mode_batches_and_restores_mode(digits) -> None:
    x, _ = digits
    model = small_model()
    model.train()
    whole = encode(model, x, batch_size=64)
    pieces = encode(model, x, batch_size=7)
    # eval mode: rows independent
    np.testing.assert_allclose(whole, pieces, rtol=1e-5, atol=1e-6)
    assert model.training and model.encoder.norms[0].training
    model.eval()
    encode(model, x)
    assert not model.training


def test_encode_records_no_graph(digits) -> None:
    model = small_model()
    out = encode(model, digits[0][:4])
    assert isinstance(out, np.ndarray) and out.dtype == np.float32


def test_flatten_images_accepts_images_and_vectors() -> None:
    assert flatten_images(np.zeros((3, 4, 5))).shape == (3, 20)
    assert flatten_images(np.zeros((3, 7))).shape == (3, 7)
    assert flatten_images(np.zeros((2, 2, 2), dtype=np.float64)).dtype == np.float32


def test_simclr_step_lowers_the_loss_on_a_fixed_batch(digits) -> None:
    x, _ = digits
    model = small_model()
    optimizer = AdamW(model.parameters(), lr=1e-2)
    losses = [
        simclr_step(model, optimizer, x[:32], np.random.default_rng(0), 0.2)
        for _ in range(15)
    ]
    assert np.isfinite(losses).all()
    assert np.mean(losses[-3:]) < losses[0]


def test_simclr_step_gives_the_nt_xent_of_its_views(digits) -> None:
    x, _ = digits
    model = small_model()
    # lr 0: parameters stay put
    optimizer = AdamW(model.parameters(), lr=0.0, weight_decay=0.0)
    before = model.state_dict()
    loss = simclr_step(model, optimizer, x[:16], np.random.default_rng(3), 0.5)
    from helpers.augment import simclr_views

    v1, v2 = simclr_views(x[:16], np.random.default_rng(3))
    model.load_state_dict(before)  # undo the BatchNorm running-stat update
    z = model(flatten_images(np.concatenate([v1, v2])))
    assert loss == pytest.approx(nt_xent(z[:16], z[16:], 0.5).item(), rel=1e-5)


def test_train_simclr_is_deterministic_and_counts_steps(digits) -> None:
    x, _ = digits
    runs = []
    for _ in range(2):
        model = small_model()
        losses = train_simclr(
            model, x, epochs=2, batch_size=16, seed=1, temperature=0.3
        )
        runs.append((losses, encode(model.encoder, x[:8])))
    assert len(runs[0][0]) == 2 * (64 // 16)
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])


def test_train_supervised_fits_a_small_labelled_set(digits) -> None:
    x, y = digits
    rng = np.random.default_rng(0)
    net = Classifier(make_mlp_encoder(rng, SMALL_ENCODER), 16, 10, rng)
    losses = train_supervised(
        net, x[:32], y[:32], steps=60, batch_size=32, lr=1e-2, augment=False
    )
    assert losses[-1] < losses[0]
    assert np.mean(encode(net, x[:32]).argmax(axis=1) == y[:32]) > 0.8


def test_classifier_output_shape() -> None:
    rng = np.random.default_rng(0)
    net = Classifier(make_mlp_encoder(rng, (12, 8)), 8, 3, rng)
    out = net(Tensor(np.ones((4, 12), dtype=np.float32)))
    assert out.shape == (4, 3)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: SimCLR(np.random.default_rng(0), (784, 32), (16, 8)), "head_sizes"),
        (lambda: make_mlp_encoder(0), "rng"),
        (lambda: flatten_images(np.zeros(5)), "images"),
        (lambda: flatten_images(np.zeros((0, 4))), "images"),
        (lambda: encode(small_model(), np.zeros((2, 784)), batch_size=0), "batch_size"),
        (
            lambda: train_simclr(
                small_model(), np.zeros((8, 28, 28)), epochs=1, batch_size=16
            ),
            "batch_size",
        ),
        (
            lambda: train_simclr(
                small_model(), np.zeros((8, 28, 28)), epochs=0, batch_size=4
            ),
            "epochs",
        ),
        (
            lambda: train_simclr(
                small_model(),
                np.zeros((8, 28, 28)),
                epochs=1,
                batch_size=4,
                temperature=0,
            ),
            "temperature",
        ),
        (
            lambda: train_simclr(
                small_model(), np.zeros((8, 784)), epochs=1, batch_size=4
            ),
            "images",
        ),
        (
            lambda: train_supervised(
                Classifier(
                    make_mlp_encoder(np.random.default_rng(0), (784, 8)),
                    8,
                    10,
                    np.random.default_rng(0),
                ),
                np.zeros((4, 28, 28)),
                np.zeros(3, int),
                steps=1,
                batch_size=2,
            ),
            "labels",
        ),
        (
            lambda: train_supervised(
                Classifier(
                    make_mlp_encoder(np.random.default_rng(0), (784, 8)),
                    8,
                    10,
                    np.random.default_rng(0),
                ),
                np.zeros((4, 28, 28)),
                np.zeros(4),
                steps=1,
                batch_size=2,
            ),
            "labels",
        ),
        (
            lambda: Classifier(
                make_mlp_encoder(np.random.default_rng(0), (4, 8)),
                8,
                1,
                np.random.default_rng(0),
            ),
            "n_classes",
        ),
    ],
)
def test_bad_inputs_raise_value_errors_naming_the_argument(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


def test_train_simclr_views_turn_augmentations_off(digits) -> None:
    x, _ = digits
    runs = [
        train_simclr(
            SimCLR(np.random.default_rng(0), SMALL_ENCODER, SMALL_HEAD),
            x,
            epochs=1,
            batch_size=32,
            seed=0,
            views=v,
        )
        for v in (None, {}, {"sigma": 0.0, "erase_p": 0.0})
    ]
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])
    with pytest.raises(TypeError, match="views"):
        train_simclr(
            SimCLR(np.random.default_rng(0), SMALL_ENCODER, SMALL_HEAD),
            x,
            epochs=1,
            batch_size=32,
            views=[("sigma", 0.0)],
        )


def test_two_view_step_applies_any_loss_to_the_two_views(digits) -> None:
    from helpers.augment import simclr_views
    from helpers.simclr import two_view_step

    x, _ = digits
    model = small_model()
    optimizer = AdamW(model.parameters(), lr=0.0, weight_decay=0.0)
    before = model.state_dict()
    gap = lambda a, b: ((a - b) ** 2).mean()  # noqa: E731 - a loss no method uses
    loss = two_view_step(model, optimizer, x[:8], np.random.default_rng(5), gap)
    v1, v2 = simclr_views(x[:8], np.random.default_rng(5))
    model.load_state_dict(before)
    z = model(flatten_images(np.concatenate([v1, v2])))
    assert loss == pytest.approx(gap(z[:8], z[8:]).item(), rel=1e-5)
    with pytest.raises(TypeError, match="loss_fn"):
        two_view_step(model, optimizer, x[:8], np.random.default_rng(5), "nt_xent")
