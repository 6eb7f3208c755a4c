"""The book's SimCLR in PyTorch (helpers.torch_bridge) agrees with the numpy model to
float32 rounding.

Needs the optional extra (`pip install -e '.[torch]'`); skipped without it.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip(
    "torch", reason="PyTorch is the optional extra: pip install -e '.[torch]'"
)

from helpers.autograd import Tensor  # noqa: E402
from helpers.data import mnist_split  # noqa: E402
from helpers.losses import nt_xent  # noqa: E402
from helpers.nn import MLP  # noqa: E402
from helpers.optim import AdamW, cosine_schedule  # noqa: E402
from helpers.simclr import SimCLR, train_simclr  # noqa: E402

# noqa: E402
from helpers.torch_bridge import (
    TorchMLP,
    TorchSimCLR,
    book_optimizer,
    load_numpy_state,
    max_differences,
    numpy_grads,
    numpy_state,
    to_torch,
    torch_nt_xent,
    torch_simclr_step,
    view_stream,
)

torch.set_num_threads(1)
SMALL_ENC, SMALL_HEAD = (784, 32, 16), (16, 16, 8)


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    return mnist_split()[0][:128]


def small_model(seed: int = 0) -> SimCLR:
    return SimCLR(np.random.default_rng(seed), SMALL_ENC, SMALL_HEAD)


def test_twin_has_the_numpy_names_and_values() -> None:
    model = small_model()
    twin = to_torch(model)
    assert isinstance(twin, TorchSimCLR)
    assert [n for n, _ in twin.named_parameters()] == [
        n for n, _ in model.named_parameters()
    ]
    state = numpy_state(twin)
    assert state.keys() == model.state_dict().keys()
    assert all(np.array_equal(state[n], a) for n, a in model.state_dict().items())


def test_forward_matches_in_train_and_eval_mode(digits: np.ndarray) -> None:
    model, x = small_model(), digits.reshape(len(digits), -1)
    twin = to_torch(model)
    np.testing.assert_allclose(
        twin(torch.from_numpy(x)).detach().numpy(), model(x).data, atol=2e-6
    )
    # running statistics were updated once by each forward above
    model.eval(), twin.eval()
    np.testing.assert_allclose(
        twin(torch.from_numpy(x)).detach().numpy(), model(x).data, atol=2e-6
    )


def test_a_plain_mlp_is_mirrored() -> None:
    mlp = MLP([6, 5, 3], np.random.default_rng(1))
    twin = to_torch(mlp)
    assert isinstance(twin, TorchMLP) and twin.norms is None
    x = np.random.default_rng(2).normal(size=(4, 6)).astype(np.float32)
    np.testing.assert_allclose(
        twin(torch.from_numpy(x)).detach().numpy(), mlp(x).data, atol=1e-6
    )


def test_gelu_mlp_is_refused() -> None:
    with pytest.raises(ValueError, match="ReLU"):
        to_torch(MLP([4, 3, 2], np.random.default_rng(0), activation="gelu"))


def test_state_round_trips_back_to_numpy(digits: np.ndarray) -> None:
    twin = to_torch(small_model(0))
    # moves the running statistics
    twin(torch.from_numpy(digits.reshape(len(digits), -1)))
    other = small_model(1)
    other.load_state_dict(numpy_state(twin))
    assert all(
        np.array_equal(a, numpy_state(twin)[n]) for n, a in other.state_dict().items()
    )


def test_load_numpy_state_refuses_wrong_keys_and_shapes() -> None:
    twin, state = to_torch(small_model()), small_model().state_dict()
    with pytest.raises(ValueError, match="missing"):
        load_numpy_state(
            twin, {k: v for k, v in state.items() if k != "head.layers.0.bias"}
        )
    state["encoder.layers.0.weight"] = state["encoder.layers.0.weight"].T
    with pytest.raises(ValueError, match="must have shape"):
        load_numpy_state(twin, state)


def test_one_step_loss_and_every_gradient_agree_at_the_books_sizes() -> None:
    """Chapter 04's model and batch: loss within 1e-6 relative, gradients 1e-5."""
    model = SimCLR(np.random.default_rng(0))
    twin = to_torch(model)
    v1, v2 = next(view_stream(mnist_split()[0], 256, seed=0))
    z = model(np.concatenate([v1, v2]))
    loss = nt_xent(z[:256], z[256:], 0.2)
    loss.backward()
    zt = twin(torch.from_numpy(np.concatenate([v1, v2])))
    loss_t = torch_nt_xent(zt[:256], zt[256:], 0.2)
    loss_t.backward()
    assert abs(loss.item() - loss_t.item()) <= 1e-6 * loss.item()
    _, rel = max_differences(
        {n: p.grad for n, p in model.named_parameters()}, numpy_grads(twin)
    )
    assert rel <= 1e-5


@pytest.mark.parametrize("temperature", [0.05, 0.2, 1.0])
def test_torch_nt_xent_equals_the_books_loss_and_gradient(temperature: float) -> None:
    rng = np.random.default_rng(3)
    z1, z2 = rng.normal(size=(2, 10, 5))
    book_z1 = Tensor(z1, requires_grad=True)
    nt_xent(book_z1, z2, temperature).backward()
    t1 = torch.tensor(z1, requires_grad=True)
    loss = torch_nt_xent(t1, torch.tensor(z2), temperature)
    loss.backward()
    assert loss.item() == pytest.approx(nt_xent(z1, z2, temperature).item(), rel=1e-12)
    np.testing.assert_allclose(t1.grad.numpy(), book_z1.grad, rtol=1e-9, atol=1e-12)


def test_torch_nt_xent_refuses_mismatched_views() -> None:
    with pytest.raises(ValueError, match="same shape"):
        torch_nt_xent(torch.zeros(4, 3), torch.zeros(5, 3))


def test_book_optimizer_follows_the_books_schedule() -> None:
    twin = to_torch(MLP([3, 2], np.random.default_rng(0)))
    optimizer, schedule = book_optimizer(twin, n_steps=40, lr=1e-2, warmup_frac=0.1)
    rates = []
    for _ in range(40):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    np.testing.assert_allclose(
        rates,
        [cosine_schedule(k, 40, 1e-2, 4) for k in range(40)],
        rtol=1e-12,
        atol=1e-15,
    )


def test_torch_adamw_step_equals_the_books() -> None:
    mlp = MLP([6, 4, 3], np.random.default_rng(0))
    twin = to_torch(mlp)
    x = np.random.default_rng(1).normal(size=(8, 6)).astype(np.float32)
    book_opt = AdamW(mlp.parameters(), lr=1e-2, weight_decay=0.1)
    torch_opt = torch.optim.AdamW(twin.parameters(), lr=1e-2, weight_decay=0.1)
    for _ in range(3):
        book_opt.zero_grad()
        (mlp(x) ** 2).sum().backward()
        book_opt.step()
        torch_opt.zero_grad()
        (twin(torch.from_numpy(x)) ** 2).sum().backward()
        torch_opt.step()
    assert max_differences(mlp.state_dict(), numpy_state(twin))[0] <= 1e-6


def test_view_stream_and_steps_replay_train_simclr(digits: np.ndarray) -> None:
    """Five steps of train_simclr and of the PyTorch loop: same losses to rounding."""
    model = small_model()
    twin = to_torch(model)
    losses = train_simclr(
        model,
        digits,
        epochs=5 / (len(digits) // 32),
        batch_size=32,
        temperature=0.2,
        seed=4,
    )
    optimizer, schedule = book_optimizer(twin, 5)
    stream = view_stream(digits, 32, seed=4)
    torch_losses = []
    for _ in range(5):
        torch_losses.append(
            torch_simclr_step(
                twin, optimizer, next(stream), lambda a, b: torch_nt_xent(a, b, 0.2)
            )
        )
        schedule.step()
    gap = np.abs(np.array(torch_losses) - losses)
    # other views would differ by far more (checked below)
    assert gap[0] <= 1e-5 and gap.max() <= 1e-3
    twin_other = to_torch(small_model())
    z = twin_other(
        torch.from_numpy(np.concatenate(next(view_stream(digits, 32, seed=5))))
    )
    # other views: another first loss
    assert abs(torch_nt_xent(z[:32], z[32:], 0.2).item() - losses[0]) > 1e-2


def test_torch_simclr_step_refuses_a_single_view() -> None:
    twin = to_torch(small_model())
    optimizer, _ = book_optimizer(twin, 1)
    with pytest.raises(ValueError, match="views must be a pair"):
        torch_simclr_step(
            twin, optimizer, (np.zeros((2, 784), np.float32),), torch_nt_xent
        )


def test_torch_simclr_step_runs_before_step_between_backward_and_step() -> None:
    twin = to_torch(small_model())
    optimizer, _ = book_optimizer(twin, 1)
    digits = np.random.default_rng(0).random((64, 28, 28)).astype(np.float32)
    views = next(view_stream(digits, 32, seed=0))
    before = {k: v.detach().clone() for k, v in twin.named_parameters()}
    seen = []

    def inspect(model: torch.nn.Module) -> None:
        """Record: every gradient computed, no weight moved yet."""
        grads = all(p.grad is not None for p in model.parameters())
        now = dict(model.named_parameters())
        seen.append(grads and all(torch.equal(before[k], now[k]) for k in before))

    def loss(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch_nt_xent(a, b, 0.2)

    torch_simclr_step(twin, optimizer, views, loss, before_step=inspect)
    assert seen == [True]
    assert not all(torch.equal(before[k], v) for k, v in twin.named_parameters())
    with pytest.raises(TypeError, match="before_step"):
        torch_simclr_step(twin, optimizer, views, loss, before_step=3)


def test_max_differences() -> None:
    a = {"w": np.array([1.0, -4.0]), "b": np.array([0.5])}
    b = {"w": np.array([1.5, -4.0]), "b": np.array([0.5])}
    assert max_differences(a, b) == (0.5, 0.5 / 4.0)
    assert max_differences(a, a) == (0.0, 0.0)
    with pytest.raises(ValueError, match="same non-empty"):
        max_differences(a, {"w": b["w"]})
    with pytest.raises(ValueError, match="must have shape"):
        max_differences(a, {"w": np.zeros(3), "b": b["b"]})
