"""Issue 15: every widget image is sharp and its title states the actual state."""

from __future__ import annotations

import struct

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.text import Text

from helpers import mlm
from helpers.data import mnist_split
from helpers.mae import MAE
from helpers.plots import fig_to_png
from helpers.widgets._base import CSS_PX_PER_INCH, MIN_FONT_PT, WIDGET_DPI
from helpers.widgets.contrastive import TAU_GRID, temperature_explorer
from helpers.widgets.demo import noise_demo
from helpers.widgets.mae import masking_explorer as mae_explorer
from helpers.widgets.mlm import masking_explorer as mlm_explorer

WORDS = (
    "we the people of the united states in order to form a more perfect union".split()
)


def make_demo():
    return noise_demo(index=3, seed=0)


def make_mlm():
    vocab = mlm.build_vocab([WORDS], 50)
    model = mlm.MLMTransformer(
        len(vocab), 16, 1, 2, 16, np.random.default_rng(0), mlp_ratio=2.0
    )
    return mlm_explorer(model, vocab, WORDS, seed=0)


def make_mae():
    x_train, _, x_test, y_test = mnist_split()
    mean = MAE(np.random.default_rng(0)).patchify(x_train[:200]).mean(axis=0)
    return mae_explorer(
        MAE(np.random.default_rng(0)), x_test[:5], y_test[:5], mean, n_choices=5
    )


def make_contrastive():
    rng = np.random.default_rng(0)
    base = rng.standard_normal((6, 8))
    return temperature_explorer(
        base + 0.3 * rng.standard_normal((6, 8)),
        base + 0.3 * rng.standard_normal((6, 8)),
        labels=np.arange(6) % 3,
    )


def make_dino():
    from helpers.widgets.dino import AttentionExplorer

    rng = np.random.default_rng(0)
    return AttentionExplorer(
        mnist_split()[2][:3],
        {m: rng.dirichlet(np.ones(16), size=(3, 2)) for m in ("a", "b")},
    )


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height in pixels from a PNG's IHDR chunk."""
    return struct.unpack(">II", png[16:24])


@pytest.mark.parametrize(
    "make", [make_demo, make_mlm, make_mae, make_contrastive, make_dino]
)
def test_image_is_rendered_for_its_displayed_size_at_2x(make) -> None:
    widget = make()
    css_width = int(widget.image.layout.width.removesuffix("px"))
    width, _ = png_size(bytes(widget.image.value))
    assert width == pytest.approx(css_width * WIDGET_DPI / CSS_PX_PER_INCH, abs=2)
    assert widget.image.layout.max_width == "100%"
    assert css_width <= 800, (
        "wider images are scaled down in JupyterLab at 1024 px and labels shrink below "
        "9 pt"
    )
    plt.close("all")


@pytest.mark.parametrize(
    "make", [make_demo, make_mlm, make_mae, make_contrastive, make_dino]
)
def test_every_label_is_at_least_9_pt(make) -> None:
    widget = make()
    fig = widget.draw(widget.state)
    sizes = [
        t.get_fontsize()
        for t in fig.findobj(Text)
        if t.get_text().strip() and t.get_visible()
    ]
    assert sizes and min(sizes) >= MIN_FONT_PT
    plt.close("all")


def test_mlm_title_says_1_draw_then_2_draws() -> None:
    widget = make_mlm()
    title = widget.draw(widget.state).axes[0].get_title(loc="left")
    assert "1 draw:" in title and "1 draws" not in title
    widget.button.click()
    assert "2 draws:" in widget.draw(widget.state).axes[0].get_title(loc="left")
    plt.close("all")


def test_mae_title_states_the_actually_hidden_share() -> None:
    """At the slider's 45 % the mask hides 8 of 16 patches: the title says 50 %."""
    from helpers.widgets.mae import masked_title

    widget = make_mae()
    widget.slider.value = 0.45
    hidden = int(widget.state["mask"].sum())
    n = widget.state["mask"].size
    title = masked_title(widget.state)
    assert f"{hidden} of {n} patches" in title and f"{hidden / n:.0%} hidden" in title
    assert "45%" not in title or hidden / n == 0.45
    plt.close("all")


def test_tau_slider_grid_holds_the_chapter_values() -> None:
    widget = make_contrastive()
    assert widget.slider.value == 0.5 and widget.state["temperature"] == 0.5
    for tau in (0.05, 0.2, 0.5, 2.0):
        assert tau in TAU_GRID
    widget.slider.value = 2.0
    assert widget.state["temperature"] == 2.0
    assert widget.slider.label == "2"
    plt.close("all")


def test_fig_to_png_dpi_and_bad_input() -> None:
    fig = plt.figure(figsize=(2, 1))
    assert png_size(fig_to_png(fig, dpi=100)) == (200, 100)
    with pytest.raises(TypeError, match="fig"):
        fig_to_png("not a figure")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="dpi"):
        fig_to_png(plt.figure(), dpi=0)
    plt.close("all")


def pixels(png: bytes) -> np.ndarray:
    """Decoded RGB(A) pixels of PNG bytes."""
    from io import BytesIO

    from PIL import Image

    return np.asarray(Image.open(BytesIO(png)).convert("RGB"), dtype=np.int16)


def move_first_control(widget) -> None:
    """Change the widget's first slider-like control (so draw() has something new)."""
    control = getattr(widget, "slider", None) or getattr(widget, "index")
    if hasattr(control, "options"):  # τ's SelectionSlider
        control.value = control.options[-1][1]
    else:
        control.value = control.max if control.value != control.max else control.min


@pytest.mark.parametrize(
    "make", [make_demo, make_mlm, make_mae, make_contrastive, make_dino]
)
def test_in_place_update_matches_a_full_redraw(make) -> None:
    """Issue 27: updates draw only the changing artists on a kept background; the
    picture must be the one a full redraw of the same state gives (up to anti-aliasing
    where artists overlap)."""
    from helpers.widgets._base import render_png

    widget = make()
    assert widget.dynamic, (
        "the widget keeps a background and redraws only its changing artists"
    )
    before = pixels(bytes(widget.image.value))
    move_first_control(widget)
    blitted = pixels(bytes(widget.image.value))
    for artist in widget.dynamic:
        artist.set_animated(False)
    full = pixels(render_png(widget.figure))
    assert blitted.shape == full.shape
    assert (np.abs(blitted - full).max(axis=2) > 8).mean() < 0.005
    assert (np.abs(before - blitted).max(axis=2) > 8).mean() > 0.001, (
        "the control changed the picture"
    )
    plt.close("all")


def test_new_anchor_redraws_the_tick_labels_too() -> None:
    """The anchor changes the candidates' digits on the x axis (not blitted artists)."""
    from helpers.widgets._base import render_png

    widget = make_contrastive()
    widget.anchor.value = 3
    blitted = pixels(bytes(widget.image.value))
    for artist in widget.dynamic:
        artist.set_animated(False)
    assert (
        np.abs(blitted - pixels(render_png(widget.figure))).max(axis=2) > 8
    ).mean() < 0.005
    plt.close("all")
