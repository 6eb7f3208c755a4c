"""Tests of the shared input checks."""

from __future__ import annotations

import os

import numpy as np
import pytest

from helpers._checks import (
    check_array,
    check_bool,
    check_fraction,
    check_int,
    check_nonnegative,
    check_positive,
    check_rng,
    check_sizes,
    check_text,
)


def test_check_rng() -> None:
    rng = np.random.default_rng(0)
    assert check_rng(rng) is rng
    with pytest.raises(ValueError, match="default_rng"):
        check_rng(np.random.RandomState(0))


@pytest.mark.parametrize(
    "value,kw,ok",
    [
        (0.0, {}, True),
        (1.0, {}, False),
        (1.0, {"high_open": False}, True),
        (0.0, {"low_open": True}, False),
        (-0.1, {}, False),
        (float("nan"), {}, False),
        ("x", {}, False),
    ],
)
def test_check_fraction(value: object, kw: dict, ok: bool) -> None:
    if ok:
        assert check_fraction(value, "p", **kw) == value
    else:
        with pytest.raises(ValueError, match="p must"):
            check_fraction(value, "p", **kw)


@pytest.mark.parametrize(
    "fn,good,bad",
    [
        (check_positive, 0.5, [0.0, -1.0, float("inf"), "a"]),
        (check_nonnegative, 0.0, [-1e-9, float("nan"), None]),
    ],
)
def test_positive_and_nonnegative(fn, good: float, bad: list) -> None:
    assert fn(good, "v") == good
    for b in bad:
        with pytest.raises(ValueError, match="v must"):
            fn(b, "v")


def test_check_int() -> None:
    assert check_int(np.int64(3), "k", minimum=1, maximum=3) == 3
    for bad in [True, 2.0, 0, 4]:
        with pytest.raises(ValueError, match="k must"):
            check_int(bad, "k", minimum=1, maximum=3)


def test_check_array() -> None:
    assert check_array([[1.0]], "x", ndim=2).shape == (1, 1)
    with pytest.raises(ValueError, match="2 or 3 dimensions"):
        check_array(np.ones(3), "x", ndim=(2, 3))
    with pytest.raises(ValueError, match="NaN"):
        check_array(np.array([np.nan]), "x")
    assert check_array(np.array([np.inf]), "x", finite=False).shape == (1,)


def test_check_bool_takes_only_bools() -> None:
    assert check_bool(np.bool_(True), "flag") is True
    for bad in ["no", 1, None, np.array([True])]:
        with pytest.raises(TypeError, match="flag must be True or False"):
            check_bool(bad, "flag")


def test_check_sizes() -> None:
    assert check_sizes((784, np.int64(256)), "sizes") == [784, 256]
    with pytest.raises(TypeError, match="sizes must be a list"):
        check_sizes("784,256", "sizes")
    for bad in [[784], [784, 0], [784, 2.5], [784, True], [None, 3]]:
        with pytest.raises(
            ValueError, match="sizes must be a list of at least 2 integer"
        ):
            check_sizes(bad, "sizes")


def test_check_text() -> None:
    assert check_text("loss", "desc") == "loss"
    assert check_text(None, "title", optional=True) is None
    for bad, optional in [(None, False), (3, True), (np.array(["a"]), False)]:
        with pytest.raises(TypeError, match="must be a string"):
            check_text(bad, "desc", optional=optional)


def test_importing_helpers_first_limits_blas_to_one_thread() -> None:
    """In a fresh interpreter: `import helpers` before numpy still limits BLAS."""
    import subprocess
    import sys

    code = (
        "import helpers, numpy; from threadpoolctl import threadpool_info; "
        "print(sorted({p['num_threads'] for p in threadpool_info() if p['user_api'] == "
        "'blas'}))"
    )
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert out.stdout.strip() == "[1]"
