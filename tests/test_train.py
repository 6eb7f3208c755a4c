"""Tests of helpers.train: shuffled minibatches and the fit loop."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.autograd import Tensor
from helpers.nn import Module
from helpers.train import endless_batches, fit, minibatches, steps_for, train_epochs


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


@pytest.mark.parametrize(
    "args,match",
    [
        ((0, 2), "n must be"),
        ((5, 0), "batch_size"),
        ((5, 6), "batch_size must be <= n"),
    ],
)
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


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"step_fn": 3, "n_steps": 2}, "callable"),
        ({"step_fn": float, "n_steps": 0}, "n_steps"),
        ({"step_fn": float, "n_steps": 2, "log_every": 0}, "log_every"),
    ],
)
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


def test_notebook_bar_saves_a_fixed_finished_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In a kernel the saved text/plain is the summary, not tqdm's '0%| | 0/n'."""
    import IPython.display
    from tqdm.notebook import tqdm_notebook

    from helpers import train

    shown: list[dict] = []
    monkeypatch.setattr(train, "tqdm", tqdm_notebook)
    monkeypatch.setattr(
        IPython.display, "display", lambda obj, raw=False: shown.append(obj)
    )
    fit(lambda k: 1.0, 3, desc="demo")
    assert len(shown) == 1
    assert shown[0]["text/plain"] == "demo: 3 steps"
    assert "application/vnd.jupyter.widget-view+json" in shown[0]


def test_steps_for_counts_full_batches_per_epoch() -> None:
    assert steps_for(30, 4000, 256) == 30 * 15  # 4000 // 256 = 15 full batches an epoch
    assert steps_for(0.01, 100, 10) == 1  # at least one step
    with pytest.raises(ValueError, match="batch_size"):
        steps_for(1, 10, 11)
    with pytest.raises(ValueError, match="epochs"):
        steps_for(0, 10, 2)


class _Line(Module):
    """y = x @ w on flattened images, for the loop tests."""

    def __init__(self) -> None:
        self.w = Tensor(np.zeros((4, 1), dtype=np.float32), requires_grad=True)

    def forward(self, x: np.ndarray) -> Tensor:
        return Tensor(x.reshape(len(x), -1)) @ self.w


def _regression_update(optimizer, batch, rng, k, n_steps) -> float:
    """Fit y = sum of pixels: a loss that a working loop must drive down."""
    loss = (
        (
            _regression_update.model(batch)
            - Tensor(batch.reshape(len(batch), -1).sum(1, keepdims=True))
        )
        ** 2
    ).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def test_train_epochs_runs_the_schedule_and_is_deterministic() -> None:
    images = np.random.default_rng(0).random((40, 2, 2)).astype(np.float32)
    runs = []
    for _ in range(2):
        _regression_update.model = model = _Line()
        seen = []

        def update(optimizer, batch, rng, k, n_steps):
            seen.append((k, n_steps, optimizer.lr, len(batch)))
            return _regression_update(optimizer, batch, rng, k, n_steps)

        losses = train_epochs(
            model,
            images,
            update,
            epochs=5,
            batch_size=8,
            lr=0.05,
            weight_decay=0.0,
            warmup_frac=0.2,
            seed=3,
            desc="test",
        )
        runs.append(losses)
    assert (
        len(losses) == 25
        and [s[0] for s in seen] == list(range(25))
        and {s[1] for s in seen} == {25}
    )
    assert seen[0][2] < seen[4][2] and seen[-1][2] < seen[5][2]  # warm-up, then decay
    assert losses[-1] < 0.2 * losses[0]
    np.testing.assert_array_equal(runs[0], runs[1])


def test_train_epochs_trains_only_the_given_parameters() -> None:
    _regression_update.model = model = _Line()
    frozen = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    model.frozen = frozen
    train_epochs(
        model,
        np.ones((16, 2, 2), dtype=np.float32),
        _regression_update,
        epochs=1,
        batch_size=8,
        lr=0.1,
        weight_decay=0.5,
        warmup_frac=0.0,
        seed=0,
        desc="test",
        parameters=[model.w],
    )
    # weight decay never touched it
    np.testing.assert_array_equal(frozen.data, np.ones(3))
    assert np.abs(model.w.data).sum() > 0


def test_train_epochs_rejects_a_non_callable_update() -> None:
    with pytest.raises(TypeError, match="update"):
        train_epochs(
            _Line(),
            np.ones((16, 2, 2)),
            "step",
            epochs=1,
            batch_size=8,
            lr=0.1,
            weight_decay=0.0,
            warmup_frac=0.0,
            seed=0,
            desc="test",
        )
