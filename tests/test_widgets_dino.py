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


def test_title_shows_the_ink_share_and_follows_the_controls(explorer) -> None:
    title = explorer.figure.axes[0].get_title()
    assert (
        f"{explorer.state['ink_share']:.2f} on ink" in title
        and "DINO, head mean" in title
    )
    explorer.model.value = "random"
    explorer.head.value = 1
    assert explorer.figure.axes[0].get_title().startswith("random, head 1")
    assert (
        f"{explorer.state['ink_share']:.2f} on ink"
        in explorer.figure.axes[0].get_title()
    )


def test_colour_bar_spans_every_map_on_one_scale(explorer) -> None:
    assert len(explorer.figure.axes) == 2, "the digit and its colour bar"
    low, high = explorer.overlay.get_clim()
    assert low == 0.0 and high == pytest.approx(
        max(m.max() for m in explorer.maps.values())
    )
    assert explorer.figure.axes[1].get_ylabel() == "attention weight of a patch"


def test_static_figure_has_a_titled_panel_per_model_and_head_and_keeps_the_controls(
    explorer,
) -> None:
    explorer.index.value = 2
    fig = explorer.static_figure(heads=(0, 1), index=1)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert len(titles) == 4 and all("on ink" in t for t in titles)
    assert explorer.index.value == 2 and explorer.head.value == "mean"
    with pytest.raises(ValueError, match="heads"):
        explorer.static_figure(heads=(5,))
