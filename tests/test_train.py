"""Tests of helpers.train: shuffled minibatches and the fit loop."""
from __future__ import annotations

import numpy as np
import pytest

from helpers.autograd import Tensor
from helpers.train import endless_batches, fit, minibatches


def test_minibatches_cover_each_index_once() -> None:
    batches = list(minibatches(10, 3, np.random.default_rng(0), drop_last=False))
    assert [len(b) for b in batches] == [3, 3, 3, 1]
    np.testing.assert_array_equal(np.sort(np.concatenate(batches)), np.arange(10))


def test_minibatches_drop_last_and_shuffle_deterministically() -> None:
    a = list(minibatches(10, 3, np.random.default_rng(1)))
    b = list(minibatches(10, 3, np.random.default_rng(1)))
    assert [len(x) for x in a] == [3, 3, 3]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(np.concatenate(a), np.arange(9))


@pytest.mark.parametrize("args,match", [
    ((0, 2), "n must be"),
    ((5, 0), "batch_size"),
    ((5, 6), "batch_size must be <= n"),
])
def test_minibatches_bad_inputs(args: tuple[int, int], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        list(minibatches(*args, np.random.default_rng(0)))
    with pytest.raises(ValueError, match="rng"):
        list(minibatches(5, 2, 0))  # type: ignore[arg-type]


def test_fit_calls_each_step_and_returns_losses() -> None:
    seen: list[int] = []

    def step(k: int) -> float:
        seen.append(k)
        return 1.0 / (k + 1)

    losses = fit(step, 4, desc="demo", log_every=2)
    assert seen == [0, 1, 2, 3]
    assert losses.dtype == np.float64
    np.testing.assert_allclose(losses, [1, 0.5, 1 / 3, 0.25])


def test_fit_accepts_tensor_losses() -> None:
    np.testing.assert_array_equal(fit(lambda k: Tensor(np.array(2.0)), 2), [2.0, 2.0])


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_fit_raises_on_non_finite_loss_naming_the_step(bad: float) -> None:
    with pytest.raises(ValueError, match="at step 2"):
        fit(lambda k: bad if k == 2 else 1.0, 5)


@pytest.mark.parametrize("kwargs,match", [
    ({"step_fn": 3, "n_steps": 2}, "callable"),
    ({"step_fn": float, "n_steps": 0}, "n_steps"),
    ({"step_fn": float, "n_steps": 2, "log_every": 0}, "log_every"),
])
def test_fit_bad_inputs(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        fit(**kwargs)


def test_endless_batches_cover_each_epoch_once() -> None:
    batches = endless_batches(10, 3, np.random.default_rng(0))
    first_epoch = np.concatenate([next(batches) for _ in range(3)])
    assert len(np.unique(first_epoch)) == 9
    assert len(next(batches)) == 3  # the generator carries on into the next epoch


def test_progress_redraws_a_few_times_per_second() -> None:
    from helpers import train
    assert train.PROGRESS_MININTERVAL <= 0.5


def test_progress_summary_plural() -> None:
    from helpers.train import _progress_summary
    assert _progress_summary(1, "demo") == "demo: 1 step"
    assert _progress_summary(3600, "training") == "training: 3600 steps"


def test_notebook_bar_saves_a_fixed_finished_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """In a kernel the saved text/plain is the summary, not tqdm's frozen '0%| | 0/n' (issue 15)."""
    import IPython.display
    from tqdm.notebook import tqdm_notebook

    from helpers import train
    shown: list[dict] = []
    monkeypatch.setattr(train, "tqdm", tqdm_notebook)
    monkeypatch.setattr(IPython.display, "display", lambda obj, raw=False: shown.append(obj))
    fit(lambda k: 1.0, 3, desc="demo")
    assert len(shown) == 1
    assert shown[0]["text/plain"] == "demo: 3 steps"
    assert "application/vnd.jupyter.widget-view+json" in shown[0]
