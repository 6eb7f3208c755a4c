"""Tests for helpers.byol: structure, loss gradients, EMA, stop-gradient, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.autograd import Tensor, numerical_gradient
from helpers.byol import BYOL, Branch, byol_step, symmetric_loss, train_byol
from helpers.data import mnist_split
from helpers.optim import AdamW
from helpers.simclr import encode

SMALL = dict(
    encoder_sizes=(784, 32, 16), head_sizes=(16, 16, 8), predictor_sizes=(8, 16, 8)
)


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    return mnist_split()[0][:64]


def small(seed: int = 0, predictor: bool = True) -> BYOL:
    return BYOL(np.random.default_rng(seed), predictor=predictor, **SMALL)


def test_default_model_shapes_and_target_starts_as_copy() -> None:
    model = BYOL(np.random.default_rng(0))
    x = np.random.default_rng(1).random((5, 28, 28)).astype(np.float32)
    assert encode(model.encoder, x).shape == (5, 256)
    assert encode(model, x).shape == (5, 64)
    np.testing.assert_array_equal(encode(model.target, x), encode(model, x))
    assert model.target.encoder is not model.encoder
    online = {id(p) for p in model.online_parameters()}
    assert not online & {id(p) for p in model.target.parameters()}
    assert len(model.parameters()) == len(online) + len(model.target.parameters())


def test_no_predictor_variant() -> None:
    model = small(predictor=False)
    assert model.predictor is None
    assert len(model.online_parameters()) == len(model.online().parameters())


def test_heads_without_batchnorm_keep_the_encoders() -> None:
    plain, normed = (
        BYOL(np.random.default_rng(0), head_batchnorm=False, **SMALL),
        small(),
    )
    assert (
        plain.projector.norms == []
        and plain.predictor.norms == []
        and plain.target.projector.norms == []
    )
    assert len(plain.encoder.norms) == len(normed.encoder.norms) > 0
    x = np.random.default_rng(1).random((6, 784)).astype(np.float32)
    # same rng draws first
    np.testing.assert_array_equal(encode(plain.encoder, x), encode(normed.encoder, x))
    with pytest.raises(TypeError, match="head_batchnorm"):
        BYOL(np.random.default_rng(0), head_batchnorm="no", **SMALL)


def test_symmetric_loss_pairs_each_view_with_the_other_one() -> None:
    rng = np.random.default_rng(0)
    z = rng.standard_normal((6, 4))
    p = np.concatenate([z[3:], z[:3]])  # p_i points exactly at the other view's target
    assert symmetric_loss(Tensor(p), Tensor(z)).item() == pytest.approx(0, abs=1e-12)
    assert symmetric_loss(Tensor(z), Tensor(z)).item() > 0.1


@pytest.mark.parametrize("stop_gradient", [True, False])
def test_symmetric_loss_gradients_match_finite_differences(stop_gradient: bool) -> None:
    rng = np.random.default_rng(1)
    p0, z0 = rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
    p, z = Tensor(p0.copy(), requires_grad=True), Tensor(z0.copy(), requires_grad=True)
    loss = symmetric_loss(p, z, stop_gradient)
    loss.backward()
    value = symmetric_loss(Tensor(p0), Tensor(z0)).item()
    # the value does not depend on stop_gradient
    assert loss.item() == pytest.approx(value, abs=1e-12)
    np.testing.assert_allclose(
        p.grad,
        numerical_gradient(lambda a: symmetric_loss(Tensor(a), Tensor(z0)).item(), p0),
        atol=1e-6,
    )
    dz = numerical_gradient(lambda a: symmetric_loss(Tensor(p0), Tensor(a)).item(), z0)
    if stop_gradient:
        assert z.grad is None or not np.any(z.grad)
    else:
        np.testing.assert_allclose(z.grad, dz, atol=1e-6)


def test_step_moves_target_by_ema_and_only_online_is_trained(digits) -> None:
    model = small()
    before = model.target.state_dict()
    online_before = model.online().state_dict()
    optimizer = AdamW(model.online_parameters(), lr=1e-3)
    byol_step(model, optimizer, digits[:16], digits[16:32], momentum=0.9)
    online_after = model.online().state_dict()
    for name, t in model.target.state_dict().items():
        if name.endswith("running_mean") or name.endswith("running_var"):
            # the target's own forward pass also moved its BatchNorm statistics
            continue
        np.testing.assert_allclose(
            t, 0.9 * before[name] + 0.1 * online_after[name], rtol=1e-5, atol=1e-6
        )
    assert any(
        not np.array_equal(online_before[n], online_after[n]) for n in online_after
    )


def test_momentum_one_freezes_the_target_weights(digits) -> None:
    model = small()
    w = model.target.encoder.layers[0].weight.data.copy()
    byol_step(
        model,
        AdamW(model.online_parameters()),
        digits[:16],
        digits[16:32],
        momentum=1.0,
    )
    np.testing.assert_array_equal(model.target.encoder.layers[0].weight.data, w)


def test_stop_gradient_off_with_ema_changes_nothing_online(digits) -> None:
    a, b = small(), small()
    la = train_byol(a, digits, epochs=2, batch_size=16, seed=3)
    lb = train_byol(b, digits, epochs=2, batch_size=16, seed=3, stop_gradient=False)
    np.testing.assert_array_equal(la, lb)
    for (n, x), (_, y) in zip(a.online().named_arrays(), b.online().named_arrays()):
        np.testing.assert_array_equal(x, y, err_msg=n)


def test_simsiam_leaves_target_equal_to_online_and_is_deterministic(digits) -> None:
    a, b = small(), small()
    la = train_byol(a, digits, epochs=2, batch_size=16, ema=False, seed=1)
    lb = train_byol(b, digits, epochs=2, batch_size=16, ema=False, seed=1)
    np.testing.assert_array_equal(la, lb)
    assert len(la) == 8 and np.all(np.isfinite(la)) and np.all((la >= 0) & (la <= 4))
    for (_, t), (_, o) in zip(a.target.named_arrays(), a.online().named_arrays()):
        np.testing.assert_array_equal(t, o)


def test_track_is_called_after_every_step(digits) -> None:
    seen = []
    train_byol(
        small(),
        digits,
        epochs=1,
        batch_size=16,
        track=lambda k, m: seen.append((k, isinstance(m, BYOL))),
    )
    assert seen == [(k, True) for k in range(4)]


def test_removing_predictor_and_ema_and_stop_gradient_collapses(digits) -> None:
    model = small(predictor=False)
    train_byol(
        model, digits, epochs=20, batch_size=32, lr=1e-2, ema=False, stop_gradient=False
    )
    z = encode(model, digits)
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    assert z.std(axis=0).mean() < 0.05


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(epochs=0, batch_size=16), "epochs"),
        (dict(epochs=1, batch_size=1), "batch_size"),
        (dict(epochs=1, base_momentum=1.5), "base_momentum"),
        (dict(epochs=1, lr=float("nan")), "lr"),
        (dict(epochs=1, warmup_frac=-0.1), "warmup_frac"),
        (dict(epochs=1, seed=-1), "seed"),
    ],
)
def test_train_byol_rejects_bad_arguments(digits, kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        train_byol(small(), digits, **{"batch_size": 16, **kwargs})


@pytest.mark.parametrize(
    "kwargs", [dict(ema=1), dict(stop_gradient="no"), dict(track=3)]
)
def test_train_byol_rejects_wrong_types(digits, kwargs) -> None:
    with pytest.raises(TypeError):
        train_byol(small(), digits, epochs=1, batch_size=16, **kwargs)


def test_train_byol_rejects_bad_images() -> None:
    with pytest.raises(ValueError, match="images"):
        train_byol(small(), np.zeros((10, 784)), epochs=1, batch_size=4)
    with pytest.raises(ValueError, match="images"):
        train_byol(small(), np.full((10, 28, 28), np.nan), epochs=1, batch_size=4)


def test_constructor_and_loss_reject_bad_shapes() -> None:
    with pytest.raises(ValueError, match="head_sizes"):
        BYOL(np.random.default_rng(0), encoder_sizes=(784, 32), head_sizes=(16, 8))
    with pytest.raises(ValueError, match="predictor_sizes"):
        BYOL(
            np.random.default_rng(0),
            encoder_sizes=(784, 16),
            head_sizes=(16, 8),
            predictor_sizes=(4, 8),
        )
    with pytest.raises(TypeError, match="predictor"):
        BYOL(np.random.default_rng(0), predictor="yes", **SMALL)
    with pytest.raises(ValueError, match="rng"):
        BYOL(0, **SMALL)
    with pytest.raises(ValueError, match="p and z"):
        symmetric_loss(Tensor(np.ones((3, 2))), Tensor(np.ones((3, 2))))
    with pytest.raises(TypeError, match="Modules"):
        Branch(3, 4)
    with pytest.raises(TypeError, match="Tensors"):
        symmetric_loss(np.ones((4, 2)), np.ones((4, 2)))


def test_byol_step_rejects_mismatched_views_and_bad_momentum(digits) -> None:
    model = small()
    optimizer = AdamW(model.online_parameters())
    with pytest.raises(ValueError, match="view1 and view2"):
        byol_step(model, optimizer, digits[:16], digits[:8], momentum=0.9)
    with pytest.raises(ValueError, match="momentum"):
        byol_step(model, optimizer, digits[:16], digits[16:32], momentum=1.5)
    with pytest.raises(TypeError, match="BYOL"):
        byol_step(model.online(), optimizer, digits[:16], digits[16:32], momentum=0.9)
