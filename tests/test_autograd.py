"""Gradient checks of every autograd op against central finite differences."""

from __future__ import annotations

from typing import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.autograd import (
    Tensor,
    concatenate,
    no_grad,
    numerical_gradient,
    stack,
    unbroadcast,
)


def check(fn: Callable[..., Tensor], *arrays: np.ndarray, tol: float = 1e-6) -> None:
    """Assert autograd's gradient of sum(fn(...) * w) matches finite differences."""
    rng = np.random.default_rng(0)
    ts = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    out = fn(*ts)
    w = rng.normal(size=out.shape)
    (out * w).sum().backward()
    for k, a in enumerate(arrays):

        def f(x: np.ndarray, k: int = k) -> float:
            args = [
                Tensor(x) if j == k else Tensor(arrays[j]) for j in range(len(arrays))
            ]
            return float((fn(*args).data * w).sum())

        expected = numerical_gradient(f, a.copy())
        np.testing.assert_allclose(ts[k].grad, expected, rtol=tol, atol=tol)


R = np.random.default_rng(1)
A = R.normal(size=(3, 4))
B = R.normal(size=(3, 4))
P = np.abs(R.normal(size=(3, 4))) + 0.5


@pytest.mark.parametrize(
    "name,fn,args",
    [
        ("add", lambda a, b: a + b, (A, B)),
        ("add_broadcast", lambda a, b: a + b, (A, R.normal(size=(1, 4)))),
        ("add_scalar_shape", lambda a, b: a + b, (A, R.normal(size=(4,)))),
        ("radd", lambda a: 2.0 + a, (A,)),
        ("sub", lambda a, b: a - b, (A, B)),
        ("rsub", lambda a: 1.0 - a, (A,)),
        ("mul", lambda a, b: a * b, (A, R.normal(size=(3, 1)))),
        ("rmul_array", lambda a: np.arange(4.0) * a, (A,)),
        ("div", lambda a, b: a / b, (A, P)),
        ("rdiv", lambda a: 1.0 / a, (P,)),
        ("neg", lambda a: -a, (A,)),
        ("pow", lambda a: a**3, (A,)),
        ("pow_frac", lambda a: a**0.5, (P,)),
        ("matmul", lambda a, b: a @ b, (A, R.normal(size=(4, 5)))),
        (
            "matmul_batched",
            lambda a, b: a @ b,
            (R.normal(size=(2, 3, 4)), R.normal(size=(2, 4, 2))),
        ),
        (
            "matmul_batch_weight",
            lambda a, b: a @ b,
            (R.normal(size=(2, 3, 4)), R.normal(size=(4, 2))),
        ),
        (
            "matmul_broadcast",
            lambda a, b: a @ b,
            (R.normal(size=(3, 4)), R.normal(size=(2, 4, 2))),
        ),
        ("sum_all", lambda a: a.sum(), (A,)),
        ("sum_axis", lambda a: a.sum(axis=0), (A,)),
        ("sum_keepdims", lambda a: a.sum(axis=1, keepdims=True), (A,)),
        ("sum_tuple", lambda a: a.sum(axis=(0, 2)), (R.normal(size=(2, 3, 4)),)),
        ("mean", lambda a: a.mean(axis=1), (A,)),
        ("mean_all", lambda a: a.mean(), (A,)),
        ("max_axis", lambda a: a.max(axis=1), (A,)),
        ("max_all", lambda a: a.max(), (A,)),
        ("max_keepdims", lambda a: a.max(axis=0, keepdims=True), (A,)),
        ("exp", lambda a: a.exp(), (A,)),
        ("log", lambda a: a.log(), (P,)),
        ("sqrt", lambda a: a.sqrt(), (P,)),
        ("tanh", lambda a: a.tanh(), (A,)),
        ("relu", lambda a: a.relu(), (A,)),
        ("gelu", lambda a: a.gelu(), (A,)),
        ("reshape", lambda a: a.reshape(4, 3) @ np.ones((3, 2)), (A,)),
        ("reshape_tuple", lambda a: a.reshape((2, 6)), (A,)),
        ("transpose", lambda a: a.transpose(2, 0, 1), (R.normal(size=(2, 3, 4)),)),
        ("T", lambda a: a.T @ np.ones((3, 2)), (A,)),
        ("swapaxes", lambda a: a.swapaxes(0, 2), (R.normal(size=(2, 3, 4)),)),
        ("getitem_slice", lambda a: a[1:, ::2], (A,)),
        ("getitem_int", lambda a: a[2], (A,)),
        ("getitem_fancy_repeat", lambda a: a[np.array([0, 2, 0, 0])], (A,)),
        ("getitem_pairs", lambda a: a[np.array([0, 1, 1]), np.array([3, 3, 3])], (A,)),
        ("gather", lambda a: a.gather(np.array([[0], [3], [3]]), axis=1), (A,)),
        (
            "gather_axis0_repeat",
            lambda a: a.gather(np.array([[2, 0, 0, 1], [2, 2, 1, 1]]), axis=0),
            (A,),
        ),
        (
            "gather_broadcast_indices",
            lambda a: a.gather(np.array([[[2], [0], [1]], [[1], [1], [0]]]), axis=1),
            (R.normal(size=(2, 3, 4)),),
        ),
        ("logsumexp", lambda a: a.logsumexp(axis=1), (A,)),
        ("logsumexp_keep", lambda a: a.logsumexp(axis=0, keepdims=True), (A,)),
        ("softmax", lambda a: a.softmax(axis=1), (A,)),
        ("softmax_axis0", lambda a: a.softmax(axis=0), (A,)),
        ("log_softmax", lambda a: a.log_softmax(axis=-1), (A,)),
        ("normalize", lambda a: a.normalize(axis=1), (A,)),
        ("normalize_axis0", lambda a: a.normalize(axis=0), (A,)),
        (
            "concatenate",
            lambda a, b: concatenate([a, b], axis=1),
            (A, R.normal(size=(3, 2))),
        ),
        ("stack", lambda a, b: stack([a, b], axis=1), (A, B)),
        ("reuse", lambda a: a * a + a.exp() * a, (A,)),
        (
            "chain",
            lambda a, b: ((a @ b).tanh() * 2).softmax(axis=0).log(),
            (A, R.normal(size=(4, 2))),
        ),
    ],
)
def test_gradient_matches_finite_differences(
    name: str, fn: Callable[..., Tensor], args: tuple
) -> None:
    check(fn, *args)


def test_float64_kept_and_float32_kept() -> None:
    assert Tensor(np.ones(3)).dtype == np.float64
    assert Tensor(np.ones(3, dtype=np.float32)).dtype == np.float32
    t = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    (t * 2.0 + 1.0).sum().backward()
    assert t.grad.dtype == np.float32


def test_integers_become_float() -> None:
    assert Tensor([1, 2, 3]).dtype == np.float64


def test_leaf_gradients_accumulate_until_zeroed() -> None:
    t = Tensor(np.ones(2), requires_grad=True)
    (t * 3).sum().backward()
    (t * 3).sum().backward()
    np.testing.assert_allclose(t.grad, [6.0, 6.0])
    t.zero_grad()
    assert t.grad is None


def test_no_grad_records_nothing() -> None:
    t = Tensor(np.ones(2), requires_grad=True)
    with no_grad():
        y = t * 2
    assert not y.requires_grad and y._parents == ()
    assert (t * 2).requires_grad


def test_detach_stops_gradient() -> None:
    t = Tensor(np.array([2.0]), requires_grad=True)
    (t * t.detach()).sum().backward()
    np.testing.assert_allclose(t.grad, [2.0])


def test_backward_needs_scalar() -> None:
    with pytest.raises(ValueError, match="scalar"):
        Tensor(np.ones(3), requires_grad=True).exp().backward()


def test_constant_exponent_only() -> None:
    with pytest.raises(ValueError, match="constant exponent"):
        Tensor(np.ones(2)) ** Tensor(np.ones(2))


def test_matmul_rejects_vectors() -> None:
    with pytest.raises(ValueError, match="2 dimensions"):
        Tensor(np.ones(3)) @ Tensor(np.ones((3, 2)))


def test_gather_rejects_float_indices() -> None:
    with pytest.raises(ValueError, match="integers"):
        Tensor(np.ones((2, 2))).gather(np.array([[0.5]]))


def test_stable_functions_do_not_overflow() -> None:
    x = Tensor(np.array([[1000.0, 0.0, -1000.0]]), requires_grad=True)
    assert np.isfinite(x.logsumexp(axis=1).data).all()
    assert np.isfinite(x.log_softmax(axis=1).data).all()
    x.softmax(axis=1).sum().backward()
    assert np.isfinite(x.grad).all()


def test_deep_graph_has_no_recursion_limit() -> None:
    t = Tensor(np.ones(1), requires_grad=True)
    y = t
    for _ in range(5000):
        y = y * 1.0
    y.sum().backward()
    np.testing.assert_allclose(t.grad, [1.0])


def test_numerical_gradient_of_a_known_function() -> None:
    x = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(
        numerical_gradient(lambda v: float((v**2).sum()), x), 2 * x, atol=1e-8
    )
    np.testing.assert_array_equal(x, [1.0, -2.0, 0.5])


def test_numerical_gradient_needs_float64() -> None:
    with pytest.raises(ValueError, match="float64"):
        numerical_gradient(lambda v: float(v.sum()), np.ones(2, dtype=np.float32))


def test_float_and_item() -> None:
    assert float(Tensor(np.array(2.5))) == 2.5 and Tensor(np.array([1.5])).item() == 1.5


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 3), min_size=1, max_size=3), st.data())
def test_unbroadcast_inverts_broadcasting(
    shape: list[int], data: st.DataObject
) -> None:
    small = tuple(data.draw(st.sampled_from([1, n])) for n in shape)
    lead = data.draw(st.lists(st.integers(1, 3), max_size=2))
    g = np.ones(tuple(lead) + tuple(shape))
    out = unbroadcast(g, small)
    assert out.shape == small
    assert out.sum() == g.sum()
