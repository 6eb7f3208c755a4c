"""Tests of chapter 00's noise demo, no browser: set the slider, read the state."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from helpers.widgets.demo import add_noise, noise_demo, noise_state

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def demo():
    yield noise_demo(index=3, seed=0)
    plt.close("all")


def test_demo_starts_with_the_clean_digit(demo) -> None:
    assert demo.updates == 1
    assert demo.state["sigma"] == 0.0 and demo.state["mse"] == 0.0
    assert np.array_equal(demo.state["noisy"], demo.clean)
    assert bytes(demo.image.value).startswith(PNG_MAGIC)


def test_moving_the_slider_updates_state_image_and_counter(demo) -> None:
    before_png, before_hist = demo.image.value, demo.state["hist"]
    demo.slider.value = 0.5
    assert demo.updates == 2
    assert demo.state["sigma"] == 0.5 and demo.state["mse"] > 0.0
    assert not np.array_equal(demo.state["hist"], before_hist)
    assert demo.image.value != before_png and bytes(demo.image.value).startswith(
        PNG_MAGIC
    )


def test_setting_the_same_value_does_not_redraw(demo) -> None:
    demo.slider.value = 0.0
    assert demo.updates == 1


def test_update_is_deterministic() -> None:
    a, b = noise_demo(seed=7), noise_demo(seed=7)
    a.slider.value = b.slider.value = 0.3
    assert np.array_equal(a.state["noisy"], b.state["noisy"])
    assert a.image.value == b.image.value
    plt.close("all")


def test_histogram_counts_every_pixel_and_mse_grows_with_sigma(demo) -> None:
    mses = [noise_state(demo.clean, demo.noise, s)["mse"] for s in (0.0, 0.2, 0.5, 1.0)]
    assert mses == sorted(mses) and mses[0] == 0.0
    assert demo.state["hist"].sum() == 28 * 28


def test_add_noise_stays_in_the_unit_interval() -> None:
    rng = np.random.default_rng(0)
    noisy = add_noise(rng.random((6, 6)), rng.standard_normal((6, 6)), 2.0)
    assert noisy.min() >= 0.0 and noisy.max() <= 1.0


def test_static_figure_shows_one_column_per_sigma(demo) -> None:
    fig = demo.static_figure((0.0, 0.4, 1.0))
    assert len(fig.get_axes()) == 6
    assert "σ = 0.40" in fig.get_axes()[1].get_title()


def test_static_figure_rejects_sigma_outside_unit_interval(demo) -> None:
    with pytest.raises(ValueError, match="sigma"):
        demo.static_figure((0.1, 1.5))


def test_displaying_the_demo_gives_a_stable_text_fallback(demo) -> None:
    bundle = demo._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert (
        bundle["text/plain"] == demo.caption and "\\x89PNG" not in bundle["text/plain"]
    )


@pytest.mark.parametrize(
    "kwargs", [{"index": 5000}, {"index": -1}, {"seed": -1}, {"index": 1.5}]
)
def test_bad_arguments_raise(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        noise_demo(**kwargs)
