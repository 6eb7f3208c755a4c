"""Tests of chapter 03's masking explorer, no browser: set controls, read state."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from helpers.data import mnist_split
from helpers.mae import MAE
from helpers.masking import MASK_STRATEGIES
from helpers.widgets.mae import (
    MASK_GREY,
    mask_state,
    masked_rgb,
    masking_explorer,
    side_by_side,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def data():
    x_train, _, x_test, y_test = mnist_split()
    mean = MAE(np.random.default_rng(0)).patchify(x_train[:500]).mean(axis=0)
    return x_test[:10], y_test[:10], mean


@pytest.fixture
def explorer(data):
    images, labels, mean = data
    yield masking_explorer(
        MAE(np.random.default_rng(0)), images, labels, mean, n_choices=5
    )
    plt.close("all")


def test_starts_at_75_percent_with_all_fills(explorer) -> None:
    s = explorer.state
    assert explorer.updates == 1 and s["ratio"] == 0.75
    assert s["n_visible"] == 4 and s["mask"].sum() == 12
    assert set(s["mse"]) == {"nearest", "mean", "mae"} and all(
        v > 0 for v in s["mse"].values()
    )
    assert s["show_fills"] and bytes(explorer.image.value).startswith(PNG_MAGIC)


def test_slider_changes_mask_state_and_image(explorer) -> None:
    before = explorer.image.value
    explorer.slider.value = 0.5
    assert explorer.updates == 2 and explorer.state["n_visible"] == 8
    assert explorer.image.value != before


def test_masks_are_nested_as_the_ratio_grows(explorer) -> None:
    masks = []
    for r in (0.25, 0.5, 0.75, 0.9):
        explorer.slider.value = r
        masks.append(explorer.state["mask"])
    assert all((a <= b).all() for a, b in zip(masks, masks[1:]))


def test_at_least_one_patch_stays_visible_and_zero_hides_nothing(explorer) -> None:
    explorer.slider.value = 0.9
    assert explorer.state["n_visible"] == 1
    explorer.slider.value = 0.0
    assert explorer.state["n_visible"] == 16 and all(
        v is None for v in explorer.state["mse"].values()
    )
    assert explorer.slider.max == 15 / 16


def test_resample_button_draws_a_new_mask(explorer) -> None:
    masks = [explorer.state["mask"]]
    for _ in range(3):
        explorer.resample.click()
        masks.append(explorer.state["mask"])
    assert explorer.updates == 4 and explorer.seed == 3
    assert any(not np.array_equal(masks[0], m) for m in masks[1:])


def test_reconstruct_toggle_hides_and_shows_fills(explorer) -> None:
    before = explorer.image.value
    explorer.reconstruct.value = False
    assert not explorer.state["show_fills"] and explorer.image.value != before
    explorer.reconstruct.value = True
    assert explorer.state["show_fills"] and explorer.updates == 3


def test_choosing_another_image(explorer, data) -> None:
    explorer.choice.value = 3
    assert np.array_equal(explorer.state["image"], data[0][3])
    assert len(explorer.choice.options) == 5 and "a " in explorer.choice.options[0][0]


def test_fills_keep_visible_pixels_and_score_hidden_ones(data) -> None:
    images, _, mean = data
    model = MAE(np.random.default_rng(0))
    s = mask_state(model, images[0], mean, 0.5, seed=4)
    visible = ~(s["mask"].reshape(4, 4).repeat(7, 0).repeat(7, 1) == 1)
    for name, fill in s["fills"].items():
        assert np.allclose(fill[visible], images[0][visible]), name
    # true for most digits, and for this one
    assert s["mse"]["nearest"] > s["mse"]["mean"]


def test_masked_rgb_paints_hidden_patches_grey() -> None:
    img = np.zeros((4, 4))
    rgb = masked_rgb(img, np.array([1, 0, 0, 0]), 2)
    assert np.allclose(rgb[0, 0], MASK_GREY) and np.allclose(rgb[3, 3], 0)


def test_side_by_side_layout() -> None:
    canvas, centres = side_by_side([np.zeros((2, 2)), np.ones((2, 2, 3))], gap=1)
    assert canvas.shape == (2, 5, 3) and centres == [0.5, 3.5]


@pytest.mark.parametrize("strategy", MASK_STRATEGIES)
def test_every_slider_step_hides_one_more_patch_and_changes_the_image(
    explorer, strategy: str
) -> None:
    """Issue 27: 3 of the old 18 steps changed nothing; now each step is one patch."""
    explorer.strategy.value = strategy
    hidden, images = [], []
    for k in range(16):
        explorer.slider.value = explorer.slider.min + k * explorer.slider.step
        hidden.append(int(explorer.state["mask"].sum()))
        images.append(bytes(explorer.image.value))
    assert hidden == list(range(16))
    assert len(set(images)) == 16
    assert explorer.slider.value == explorer.slider.max


def test_strategy_control_changes_the_mask_and_the_title(explorer) -> None:
    masks = {}
    for strategy in ("block", "grid", "random"):
        before = explorer.image.value
        explorer.strategy.value = strategy
        assert explorer.state["strategy"] == strategy and explorer.image.value != before
        assert f"hidden, {strategy}" in explorer._titles[1].get_text()
        masks[strategy] = explorer.state["mask"].reshape(4, 4)
    assert all(m.sum() == 12 for m in masks.values())
    visible = np.argwhere(masks["grid"] == 0)
    assert (
        len({(r % 2, c % 2) for r, c in visible}) == 1
        and len({(r // 2, c // 2) for r, c in visible}) == 4
    )


def test_static_figure_names_the_strategy(explorer) -> None:
    fig = explorer.static_figure((0.5,), index=0, strategy="block")
    assert (
        "block masking" in fig.get_suptitle()
        and "hidden, block" in fig.axes[1].get_title()
    )


def test_static_figure_has_rows_of_original_masked_and_three_fills(explorer) -> None:
    fig = explorer.static_figure((0.25, 0.9), index=1)
    axes = fig.get_axes()
    assert len(axes) == 10
    titles = [ax.get_title() for ax in axes[:5]]
    assert titles[0] == "original" and "25% hidden" in titles[1]
    assert "nearest" in titles[2] and "mean patch" in titles[3] and "MAE" in titles[4]
    assert all("MSE" in t for t in titles[2:])
    np.testing.assert_array_equal(axes[0].images[0].get_array(), explorer.images[1])


def test_text_fallback_is_stable(explorer) -> None:
    bundle = explorer._repr_mimebundle_()
    assert bundle["text/plain"] == explorer.caption


@pytest.mark.parametrize("kwargs", [{"n_choices": 11}, {"n_choices": 0}, {"seed": -1}])
def test_bad_arguments_raise(data, kwargs: dict) -> None:
    images, labels, mean = data
    with pytest.raises(ValueError):
        masking_explorer(MAE(np.random.default_rng(0)), images, labels, mean, **kwargs)


def test_static_figure_rejects_bad_ratio_and_index(explorer) -> None:
    with pytest.raises(ValueError, match="ratio"):
        explorer.static_figure((0.5, 1.0))
    with pytest.raises(ValueError, match="index"):
        explorer.static_figure((0.5,), index=10)
