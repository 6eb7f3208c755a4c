"""Tests of chapter 06's attention explorer, driven without a browser."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from helpers.widgets.dino import AttentionExplorer, attention_image


@pytest.fixture
def explorer():
    rng = np.random.default_rng(0)
    images = rng.random((3, 28, 28)).astype(np.float32)
    maps = {m: rng.dirichlet(np.ones(16), size=(3, 2)) for m in ("DINO", "random")}
    yield AttentionExplorer(images, maps)
    plt.close("all")


def test_starts_on_the_first_digit_and_head_mean(explorer) -> None:
    s = explorer.state
    assert explorer.updates == 1 and s["model"] == "DINO" and s["head"] == "mean"
    assert s["attention"].shape == (28, 28) and 0 <= s["ink_share"] <= 1


def test_controls_change_state_and_image(explorer) -> None:
    before, att = explorer.image.value, explorer.state["attention"]
    explorer.model.value = "random"
    assert explorer.updates == 2 and explorer.image.value != before
    assert not np.allclose(explorer.state["attention"], att)
    explorer.head.value = 1
    explorer.index.value = 2
    assert explorer.updates == 4 and explorer.state["head"] == 1


def test_attention_image_keeps_the_total_per_patch() -> None:
    w = np.arange(16, dtype=float)
    img = attention_image(w, 28)
    assert img.shape == (28, 28) and np.isclose(img.sum(), w.sum() * 49)
    with pytest.raises(ValueError, match="weights"):
        attention_image(np.ones(15), 28)


def test_bad_maps_are_rejected() -> None:
    with pytest.raises(ValueError, match="maps"):
        AttentionExplorer(np.zeros((2, 28, 28)), {})
    with pytest.raises(ValueError, match="one map per image"):
        AttentionExplorer(np.zeros((2, 28, 28)), {"a": np.ones((3, 1, 16))})
