"""Tests of helpers.optim: updates against PyTorch and formulas, schedules, EMA."""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import pytest

from helpers.autograd import Tensor
from helpers.nn import MLP
from helpers.optim import SGD, Adam, AdamW, cosine_schedule, ema_momentum, ema_update

W0 = np.array([1.0, -2.0, 3.0])
GRADS = [
    np.array([0.5, -1.0, 2.0]),
    np.array([-0.3, 0.8, 0.1]),
    np.array([1.5, 0.2, -0.7]),
]
# Computed once with torch 2.13 (float64), same W0, GRADS and hyper-parameters as below.
TORCH_SGD = [0.717474, -1.792748, 2.3498170000000003]
TORCH_ADAM = [0.7909442502242412, -1.8545161923143367, 2.77303080074967]
TORCH_ADAMW = [0.6848875227721779, -1.6354849319752947, 2.3961795018125893]


def run(
    make: Callable[[list[Tensor]], object], grads: list[np.ndarray] = GRADS
) -> np.ndarray:
    """Apply the optimiser for one step per given gradient, starting from W0."""
    w = Tensor(W0.copy(), requires_grad=True)
    opt = make([w])
    for g in grads:
        w.grad = g.copy()
        opt.step()
    return w.data


def textbook_adam(
    lr: float, b1: float, b2: float, eps: float, wd: float, decoupled: bool
) -> np.ndarray:
    """Adam / AdamW written straight from the papers' formulas."""
    w, m, v = W0.copy(), np.zeros(3), np.zeros(3)
    for t, g in enumerate(GRADS, start=1):
        if decoupled:
            w = w - lr * wd * w
        else:
            g = g + wd * w
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        w = w - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    return w


def test_sgd_matches_pytorch() -> None:
    np.testing.assert_allclose(
        run(lambda p: SGD(p, lr=0.1, momentum=0.9, weight_decay=0.1)),
        TORCH_SGD,
        rtol=1e-12,
    )


def test_plain_sgd_is_w_minus_lr_g() -> None:
    np.testing.assert_allclose(
        run(lambda p: SGD(p, lr=0.5)), W0 - 0.5 * sum(GRADS), rtol=1e-12
    )


def test_adam_matches_pytorch_and_textbook() -> None:
    ours = run(lambda p: Adam(p, lr=0.1, weight_decay=0.1))
    np.testing.assert_allclose(ours, TORCH_ADAM, rtol=1e-12)
    np.testing.assert_allclose(
        ours, textbook_adam(0.1, 0.9, 0.999, 1e-8, 0.1, decoupled=False), rtol=1e-12
    )


def test_adamw_matches_pytorch_and_textbook() -> None:
    ours = run(lambda p: AdamW(p, lr=0.1, betas=(0.8, 0.99), weight_decay=0.5))
    np.testing.assert_allclose(ours, TORCH_ADAMW, rtol=1e-12)
    np.testing.assert_allclose(
        ours, textbook_adam(0.1, 0.8, 0.99, 1e-8, 0.5, decoupled=True), rtol=1e-12
    )


@pytest.mark.parametrize("cls", [SGD, Adam, AdamW])
def test_params_without_grad_are_skipped(cls: type) -> None:
    used, unused = (
        Tensor(W0.copy(), requires_grad=True),
        Tensor(W0.copy(), requires_grad=True),
    )
    opt = cls([used, unused], lr=0.1, weight_decay=0.1)
    used.grad = GRADS[0].copy()
    opt.step()
    np.testing.assert_array_equal(unused.data, W0)
    assert not np.array_equal(used.data, W0)
    opt.zero_grad()
    assert used.grad is None


def test_float32_stays_float32() -> None:
    w = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    opt = AdamW([w], lr=0.1)
    w.grad = np.ones(3, dtype=np.float32)
    opt.step()
    assert w.data.dtype == np.float32 and opt.state[0]["v"].dtype == np.float32


def test_lr_is_settable_and_checked() -> None:
    opt = SGD([Tensor(W0.copy(), requires_grad=True)], lr=0.1)
    opt.lr = 0.0
    assert opt.lr == 0.0
    with pytest.raises(ValueError, match="lr"):
        opt.lr = -1.0


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: SGD([], lr=0.1), "non-empty"),
        (lambda: SGD([np.ones(2)], lr=0.1), "Tensors"),
        (lambda: SGD([Tensor(W0)], lr=float("nan")), "lr"),
        (lambda: SGD([Tensor(W0)], lr=0.1, momentum=1.0), "momentum"),
        (lambda: Adam([Tensor(W0)], betas=(0.9,)), "betas"),
        (lambda: Adam([Tensor(W0)], betas=(0.9, 1.0)), r"betas\[1\]"),
        (lambda: AdamW([Tensor(W0)], weight_decay=-0.1), "weight_decay"),
        (lambda: cosine_schedule(11, 10, 0.1), "step"),
        (lambda: cosine_schedule(0, 10, 0.1, warmup_steps=10), "warmup_steps"),
        (lambda: cosine_schedule(0, 0, 0.1), "total_steps"),
        (lambda: cosine_schedule(0, 10, -0.1), "base_lr"),
        (lambda: ema_momentum(0, 10, base=1.5), "base"),
        (lambda: ema_momentum(-1, 10), "step"),
        (
            lambda: ema_update(
                MLP([2, 2], np.random.default_rng(0)),
                MLP([2, 2], np.random.default_rng(0)),
                2.0,
            ),
            "momentum",
        ),
        (
            lambda: ema_update(
                MLP([2, 2], np.random.default_rng(0)),
                MLP([2, 3], np.random.default_rng(0)),
                0.5,
            ),
            "same architecture",
        ),
    ],
)
def test_bad_inputs_raise(make: Callable[[], object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make()


def test_cosine_schedule_endpoints_and_monotonicity() -> None:
    lrs = [
        cosine_schedule(k, 100, 0.5, warmup_steps=10, final_lr=0.01) for k in range(101)
    ]
    assert lrs[0] == 0.0 and lrs[5] == pytest.approx(0.25)
    assert lrs[10] == pytest.approx(0.5) and lrs[100] == pytest.approx(0.01)
    assert lrs[55] == pytest.approx(0.01 + 0.49 / 2)
    assert np.all(np.diff(lrs[:11]) > 0) and np.all(np.diff(lrs[10:]) < 0)
    assert cosine_schedule(0, 10, 0.3) == 0.3


def test_ema_momentum_endpoints_and_monotonicity() -> None:
    taus = [ema_momentum(k, 50, base=0.99) for k in range(51)]
    assert taus[0] == pytest.approx(0.99) and taus[50] == pytest.approx(1.0)
    assert taus[25] == pytest.approx(1 - 0.01 * (math.cos(math.pi / 2) + 1) / 2)
    assert np.all(np.diff(taus) > 0)


def make_pair() -> tuple[MLP, MLP]:
    """Two BatchNorm MLPs with different weights and running stats."""
    target, online = (
        MLP([3, 4, 2], np.random.default_rng(0), batchnorm=True),
        MLP([3, 4, 2], np.random.default_rng(1), batchnorm=True),
    )
    online(np.random.default_rng(2).normal(size=(6, 3)))
    return target, online


def test_ema_zero_copies_and_one_keeps() -> None:
    target, online = make_pair()
    before = target.state_dict()
    ema_update(target, online, 1.0)
    assert all(np.array_equal(before[k], v) for k, v in target.state_dict().items())
    ema_update(target, online, 0.0)
    assert all(
        np.array_equal(online.state_dict()[k], v)
        for k, v in target.state_dict().items()
    )


def test_ema_averages_parameters_and_buffers() -> None:
    target, online = make_pair()
    t0, o0 = target.state_dict(), online.state_dict()
    ema_update(target, online, 0.75)
    for k, v in target.state_dict().items():
        np.testing.assert_allclose(v, 0.75 * t0[k] + 0.25 * o0[k], rtol=1e-6)
