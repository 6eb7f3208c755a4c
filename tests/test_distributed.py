"""Data-parallel SimCLR (helpers.distributed): synced BatchNorm, gathered NT-Xent,
gradient averaging, launch.

Needs the optional extra (`pip install -e '.[torch]'`); skipped without it. In-process
checks use a process group of one rank (gloo); `launch` runs two real processes.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip(
    "torch", reason="PyTorch is the optional extra: pip install -e '.[torch]'"
)
import torch.distributed as dist  # noqa: E402

from helpers.data import mnist_split  # noqa: E402

# noqa: E402
from helpers.distributed import (
    SyncedBatchNorm1d,
    _free_port,
    average_gradients,
    gathered_nt_xent,
    launch,
)
from helpers.simclr import SimCLR  # noqa: E402

# noqa: E402
from helpers.torch_bridge import (
    max_differences,
    numpy_grads,
    to_torch,
    torch_nt_xent,
    view_stream,
)

torch.set_num_threads(1)


def world_of_one() -> None:
    """Start a process group of one rank in this process, once."""
    if not dist.is_initialized():
        dist.init_process_group(
            "gloo", init_method=f"tcp://127.0.0.1:{_free_port()}", rank=0, world_size=1
        )


def test_without_a_process_group_the_error_says_what_to_do() -> None:
    if dist.is_initialized():
        pytest.skip("a process group is already running in this test process")
    with pytest.raises(RuntimeError, match="init_process_group"):
        gathered_nt_xent(torch.zeros(2, 3), torch.zeros(2, 3))


def test_synced_batchnorm_of_one_rank_is_batchnorm() -> None:
    world_of_one()
    x = torch.tensor(
        np.random.default_rng(0).normal(2.0, 3.0, size=(16, 5)), dtype=torch.float32
    )
    synced, plain = SyncedBatchNorm1d(5), torch.nn.BatchNorm1d(5)
    xs, xp = x.clone().requires_grad_(), x.clone().requires_grad_()
    out_s, out_p = synced(xs), plain(xp)
    torch.testing.assert_close(out_s, out_p, atol=1e-6, rtol=1e-5)
    (out_s**3).sum().backward()
    (out_p**3).sum().backward()
    torch.testing.assert_close(xs.grad, xp.grad, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(synced.running_var, plain.running_var)
    synced.eval(), plain.eval()
    torch.testing.assert_close(synced(x), plain(x))


def test_gathered_nt_xent_of_one_rank_is_nt_xent() -> None:
    world_of_one()
    z1, z2 = np.random.default_rng(1).normal(size=(2, 6, 4))
    z1, a, z2 = (
        torch.tensor(z1, requires_grad=True),
        torch.tensor(z1, requires_grad=True),
        torch.tensor(z2),
    )
    loss, reference = gathered_nt_xent(z1, z2, 0.3), torch_nt_xent(a, z2, 0.3)
    loss.backward()
    reference.backward()
    assert loss.item() == pytest.approx(reference.item(), rel=1e-12)
    torch.testing.assert_close(z1.grad, a.grad)


def test_average_gradients_of_one_rank_changes_nothing() -> None:
    world_of_one()
    layer = torch.nn.Linear(3, 2)
    layer(torch.ones(4, 3)).pow(2).sum().backward()
    before = [p.grad.clone() for p in layer.parameters()]
    average_gradients(layer)
    assert all(torch.equal(b, p.grad) for b, p in zip(before, layer.parameters()))


@pytest.fixture(scope="module")
def two_ranks() -> dict:
    return launch(world_size=2, steps=3, batch_size=32)


def single_process_reference() -> tuple[float, dict]:
    """Loss and gradients of the whole batch of 32 in this process (plain BatchNorm)."""
    twin = to_torch(SimCLR(np.random.default_rng(0)))
    v1, v2 = next(view_stream(mnist_split()[0], 32, seed=0))
    z = twin(torch.from_numpy(np.concatenate([v1, v2])))
    loss = torch_nt_xent(z[:32], z[32:], 0.2)
    loss.backward()
    return loss.item(), numpy_grads(twin)


def grads_of(result: dict, config: str) -> dict:
    return {
        k.split(".", 2)[2]: v
        for k, v in result.items()
        if k.startswith(f"grad.{config}.")
    }


def test_two_ranks_reproduce_the_single_process_loss_and_gradient(
    two_ranks: dict,
) -> None:
    loss, grads = single_process_reference()
    assert float(two_ranks["loss.synced_gathered"]) == pytest.approx(loss, rel=1e-6)
    assert max_differences(grads, grads_of(two_ranks, "synced_gathered"))[1] <= 1e-5


def test_without_the_gather_or_the_sync_the_results_differ(two_ranks: dict) -> None:
    loss, grads = single_process_reference()
    # 30 negatives instead of 62
    assert float(two_ranks["loss.synced_local"]) < loss - 0.3
    assert max_differences(grads, grads_of(two_ranks, "synced_local"))[1] > 1e-3
    assert max_differences(grads, grads_of(two_ranks, "per_rank_gathered"))[1] > 1e-3
    # same loss ...
    assert float(two_ranks["loss.synced_gathered_constants"]) == pytest.approx(
        loss, rel=1e-6
    )
    # ... wrong gradient
    assert (
        max_differences(grads, grads_of(two_ranks, "synced_gathered_constants"))[1]
        > 1e-3
    )


def test_synced_statistics_are_the_global_batchs(two_ranks: dict) -> None:
    twin = to_torch(SimCLR(np.random.default_rng(0)))
    v1, v2 = next(view_stream(mnist_split()[0], 32, seed=0))
    with torch.no_grad():
        h = twin.encoder.layers[0](torch.from_numpy(np.concatenate([v1, v2])))
    np.testing.assert_allclose(
        two_ranks["bn_synced_mean"], h.mean(dim=0).numpy(), atol=1e-5
    )
    np.testing.assert_allclose(
        two_ranks["bn_synced_var"],
        h.var(dim=0, unbiased=False).numpy(),
        rtol=1e-4,
        atol=1e-6,
    )
    assert two_ranks["bn_rank_mean"].shape == (2, 512)
    assert np.abs(two_ranks["bn_rank_mean"] - h.mean(dim=0).numpy()).max() > 1e-3


def test_training_in_two_processes_follows_one(two_ranks: dict) -> None:
    one = launch(world_size=1, steps=3, batch_size=32)
    gap = np.abs(two_ranks["train_losses"] - one["train_losses"])
    assert gap[0] <= 1e-5  # the same first step, to rounding ...
    # ... then AdamW amplifies sign flips of rounding residues (2.6e-4 seen at step 3)
    assert gap.max() <= 2e-3
    assert float(two_ranks["wall_seconds"]) > float(two_ranks["train_seconds"]) > 0


def test_launch_refuses_an_uneven_split() -> None:
    with pytest.raises(ValueError, match="batch_size must be a multiple"):
        launch(world_size=2, steps=1, batch_size=33)


def test_launch_refuses_a_batch_larger_than_the_data(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        "helpers.distributed.mnist_split", lambda: (np.zeros((40, 28, 28), np.float32),)
    )
    with pytest.raises(ValueError, match="batch_size"):
        launch(world_size=1, steps=1, batch_size=64)


def test_a_failing_rank_is_reported_with_its_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho 'worker exploded' >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setattr("sys.executable", str(fake))
    with pytest.raises(RuntimeError, match=r"rank 0 of 1 failed:\s+worker exploded"):
        launch(world_size=1, steps=1, batch_size=2)
