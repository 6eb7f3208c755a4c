"""Common input checks over EVERY public callable of `helpers` (in the style of
scikit-learn's `check_param_validation`), plus one regression test per silent failure
found by probing (issue 16).

The rule for helpers (new modules are covered automatically: callables are found by
introspection of every non-underscore module of `helpers` and `helpers.widgets`):
  every public function or class validates its arguments with `helpers._checks`
  (check_array, check_int, check_positive, check_fraction, check_bool, check_rng,
  check_instance) BEFORE it changes anything, so that garbage given to its required
  arguments -- None, a string, an object / complex / empty / NaN array -- raises
  ValueError or TypeError whose message names one of the callable's own arguments (never
  a numpy internal, never an argument of a function it calls). A call that raises leaves
  its array and model arguments unchanged.
This file sets every required argument bad at once, which needs no valid values but
cannot see a missing check behind one that fires first: `test_one_bad_argument.py`
(issue 25) probes each argument alone from a valid call, and removes validation calls to
show the probes see it. EXEMPT lists callables whose arguments cannot be probed
generically, EXEMPT_PROBES single probes that are valid input for a callable; each with
its reason. Keep both short. The whole file runs in a few seconds: the probes fail at
validation, before any real work.
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
import inspect
import pkgutil
import re
import warnings
from typing import Any, Callable

import matplotlib
import numpy as np
import pytest

import helpers
import helpers.widgets

matplotlib.use("Agg")

BAD_VALUES: dict[str, Any] = {
    "None": None,
    "string": "x",
    "object array": np.array([[1.0, None], [2.0, 3.0]], dtype=object),
    "complex array": np.ones((4, 4), dtype=complex),
    "empty rows": np.zeros((0, 4)),
    "zero width": np.zeros((4, 0)),
    "NaN array": np.full((4, 4), np.nan),
    "inf array": np.full((4, 4), np.inf),
    "string array": np.array([["a", "b"], ["c", "d"]]),
}

EXEMPT: dict[str, str] = {
    "helpers.autograd.no_grad": "a context manager without arguments",
    "helpers.timing.best_time": (
        "takes a callable; what it raises is the callable's business"
    ),
    "helpers.timing.interleaved_medians": "takes callables; what they raise is theirs",
    "helpers.autograd.numerical_gradient": (
        "takes a callable f; checks x only (tested in test_autograd)"
    ),
    "helpers.data.tokenize": (
        "any string is valid text (a string probe is a valid call)"
    ),
    "helpers.data.split_sentences": (
        "any string is valid text (a string probe is a valid call)"
    ),
}

CONTENTS = ("empty rows", "zero width", "NaN array", "inf array")
EXEMPT_PROBES: dict[str, tuple[tuple[str, ...], str]] = {
    "helpers.autograd.Tensor": (
        CONTENTS,
        "a Tensor is a container: empty or non-finite values are legal mid-graph",
    ),
    "helpers.autograd.as_tensor": (
        CONTENTS,
        "as Tensor: a container, values unchecked",
    ),
}


# modules that need an optional extra: checked only where it is installed (CI installs
# every extra)
OPTIONAL_EXTRAS: dict[str, str] = {
    "helpers.torch_bridge": "torch",
    "helpers.distributed": "torch",
}


def public_callables() -> list[tuple[str, Callable[..., Any]]]:
    """Every public function and class in public modules of helpers and widgets."""
    found = []
    for package in (helpers, helpers.widgets):
        for info in pkgutil.iter_modules(package.__path__):
            extra = OPTIONAL_EXTRAS.get(f"{package.__name__}.{info.name}")
            if info.name.startswith("_") or (
                extra and importlib.util.find_spec(extra) is None
            ):
                continue
            module = importlib.import_module(f"{package.__name__}.{info.name}")
            for name, obj in vars(module).items():
                if (
                    not name.startswith("_")
                    and (inspect.isfunction(obj) or inspect.isclass(obj))
                    and obj.__module__ == module.__name__
                ):
                    found.append((f"{module.__name__}.{name}", obj))
    return sorted(found)


def required_parameters(fn: Callable[..., Any]) -> list[str]:
    """Names of the arguments a caller must give."""
    kinds = (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        inspect.Parameter.KEYWORD_ONLY,
    )
    return [
        p.name
        for p in inspect.signature(fn).parameters.values()
        if p.default is inspect.Parameter.empty and p.kind in kinds
    ]


CALLABLES = [
    (q, f) for q, f in public_callables() if q not in EXEMPT and required_parameters(f)
]


def test_discovery_finds_every_module() -> None:
    modules = {q.rsplit(".", 1)[0] for q, _ in public_callables()}
    assert {
        "helpers.losses",
        "helpers.nn",
        "helpers.evaluation",
        "helpers.widgets.mae",
    } <= modules
    assert len(CALLABLES) > 60
    assert not set(EXEMPT) - {q for q, _ in public_callables()}, (
        "EXEMPT names a callable that no longer exists"
    )


def _snapshot(value: Any) -> Any:
    """A deep copy of an argument to compare after a failed call."""
    return copy.deepcopy(value)


def _same(a: Any, b: Any) -> bool:
    """Equal arrays (NaN equal to NaN) or equal objects."""
    if isinstance(a, np.ndarray):
        return (
            a.dtype == b.dtype
            and a.shape == b.shape
            and (
                a.dtype == object
                or np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
            )
        )
    return True


@pytest.mark.parametrize("probe", list(BAD_VALUES))
@pytest.mark.parametrize(
    "qualname,fn", CALLABLES, ids=[q.removeprefix("helpers.") for q, _ in CALLABLES]
)
def test_bad_required_arguments_raise_a_clear_error(
    qualname: str, fn: Callable[..., Any], probe: str
) -> None:
    """Each required argument bad: ValueError/TypeError naming it, inputs kept."""
    if probe in EXEMPT_PROBES.get(qualname, ((), ""))[0]:
        pytest.skip(EXEMPT_PROBES[qualname][1])
    names = required_parameters(fn)
    kwargs = {name: copy.deepcopy(BAD_VALUES[probe]) for name in names}
    before = {k: _snapshot(v) for k, v in kwargs.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises((ValueError, TypeError)) as info:
            fn(**kwargs)
    own = set(inspect.signature(fn).parameters)
    message = str(info.value)
    assert any(re.search(rf"(?<![\w.]){re.escape(n)}\b", message) for n in own), (
        f"{qualname}: the message must name one of its arguments {sorted(own)}, got "
        f"{message!r}"
    )
    assert all(_same(before[k], kwargs[k]) for k in kwargs), (
        f"{qualname} changed an input while raising"
    )


# ----- one regression test per finding of issue 16 (each failed before its fix)
# -----------------
from helpers.autograd import Tensor  # noqa: E402

# noqa: E402
from helpers.losses import (
    byol_loss,
    cross_entropy,
    dino_loss,
    mae_loss,
    nt_xent,
    update_center,
)
from helpers.mae import MAE  # noqa: E402

# noqa: E402
from helpers.mlm import NeighbourCounts, Vocab, build_vocab, coverage, masked_scores
from helpers.nn import Linear, layer_norm, linear  # noqa: E402
from helpers.optim import SGD, Adam  # noqa: E402
from helpers.widgets.contrastive import anchor_state  # noqa: E402
from helpers.widgets.mae import masked_rgb  # noqa: E402

RNG = np.random.default_rng(0)
Z = RNG.normal(size=(4, 3))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: nt_xent(np.zeros((0, 3)), np.zeros((0, 3))), "z1 must be non-empty"),
        (lambda: byol_loss(np.zeros((0, 3)), np.zeros((0, 3))), "p must be non-empty"),
        (
            lambda: dino_loss(np.zeros((2, 0, 3)), np.zeros((1, 0, 3)), np.zeros(3)),
            "student_out must be non-empty",
        ),
        (
            lambda: mae_loss(
                np.zeros((0, 2, 3)), np.zeros((0, 2, 3)), np.zeros((0, 2))
            ),
            "pred must be non-empty",
        ),
        (
            lambda: update_center(np.zeros(3), np.zeros((1, 0, 3))),
            "teacher_out must be non-empty",
        ),
        (lambda: Tensor(np.zeros((0, 3))).mean(), "no elements"),
        (
            lambda: cross_entropy(np.array([[1.0, None]], dtype=object), np.array([0])),
            "logits must be a real array",
        ),
        (
            lambda: nt_xent(np.array([[1.0, None]], dtype=object), Z[:1, :2]),
            "z1 must be a real array",
        ),
        (
            lambda: Tensor(np.array([1.0, None], dtype=object)),
            "data must be real numbers",
        ),
        (lambda: nt_xent(Z + 1j, Z), "z1 must be a real array"),
        (
            lambda: build_vocab(["the cat sat", "a dog"], 10),
            "sentences must be lists of words",
        ),
        (
            lambda: coverage(build_vocab([["a"]], 5), ["the cat"]),
            "sentences must be lists of words",
        ),
        (
            lambda: masked_scores(np.zeros((2, 5)), np.array([1, -1])),
            "targets must lie in",
        ),
        (lambda: build_vocab([["a", "b"]], 5).decode([4, -1]), "ids must lie in"),
        (
            lambda: SGD(Linear(2, 2, RNG), lr=0.1),
            "params must be a sequence of Tensors",
        ),
        (
            lambda: Adam(Linear(2, 2, RNG).parameters(), betas=0.9),
            "betas must be a pair",
        ),
        (lambda: Tensor(Z).sum().backward(), "requires_grad"),
        (
            lambda: (Tensor(Z, requires_grad=True) * 2).backward(np.ones(3)),
            "grad must have this tensor's shape",
        ),
        (
            lambda: mae_loss(
                np.ones((1, 2, 3)), np.zeros((1, 2, 3)), np.ones((1, 2)), norm_pix="no"
            ),
            "norm_pix must be True or False",
        ),
        (lambda: anchor_state(np.eye(4), 0, 0), "temperature must be"),
        (lambda: masked_rgb(np.zeros((28, 28)), np.zeros(16), 0), "patch must be"),
        (lambda: MAE(np.random.default_rng(0), width=30), "n_heads must divide width"),
    ],
)
def test_finding_raises_a_clear_error(call: Callable[[], Any], match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_linear_and_layer_norm_accept_arrays() -> None:
    w, b = RNG.normal(size=(3, 2)), RNG.normal(size=2)
    np.testing.assert_allclose(linear(Z, w, b).data, Z @ w + b)
    out = layer_norm(Z, None, None).data
    np.testing.assert_allclose(out.mean(axis=1), 0, atol=1e-12)


def test_power_zero_and_gelu_at_huge_values_have_finite_gradients() -> None:
    x = Tensor(np.array([0.0, 1.0, -2.0]), requires_grad=True)
    (x**0).sum().backward()
    np.testing.assert_array_equal(x.grad, 0)
    for dtype, big in ((np.float32, 1e30), (np.float64, 1e300)):
        y = Tensor(
            np.array([-big, -50.0, 0.5, 50.0, big], dtype=dtype), requires_grad=True
        )
        y.gelu().sum().backward()
        np.testing.assert_allclose(y.grad, [0, 0, y.grad[2], 1, 1])
        assert np.all(np.isfinite(y.grad))


def test_neighbour_counts_memory_is_bounded_at_a_large_vocabulary() -> None:
    import tracemalloc

    v = 8000
    sentences = [RNG.integers(3, v, size=12) for _ in range(200)]
    tracemalloc.start()
    counts = NeighbourCounts(sentences, v)
    inputs = np.stack(sentences[:4])
    where = np.zeros_like(inputs, dtype=bool)
    where[:, 3] = True
    p = counts.probs(inputs, where)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    np.testing.assert_allclose(p.sum(axis=1), 1)
    # dense V x V counts alone would take 512 MB
    assert peak < 64e6, f"peak {peak / 1e6:.0f} MB"
