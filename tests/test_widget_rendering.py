"""Issue 15: every widget image is sharp at its size; its title states the state."""

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
    """At the slider's 45 % the mask hides 8 of 16 patches: title says 50 %."""
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
    """Change the widget's first slider-like control (so draw() shows news)."""
    control = getattr(widget, "slider", None) or getattr(widget, "index")
    if hasattr(control, "options"):  # τ's SelectionSlider
        control.value = control.options[-1][1]
    else:
        control.value = control.max if control.value != control.max else control.min


def full_redraw(widget) -> np.ndarray:
    """Pixels of the figure drawn whole, every blitted (dynamic/layered) artist in."""
    from helpers.widgets._base import render_png

    for artist in (*widget.dynamic, *widget.layered):
        artist.set_animated(False)
    return pixels(render_png(widget.figure))


@pytest.mark.parametrize(
    "make", [make_demo, make_mlm, make_mae, make_contrastive, make_dino]
)
def test_in_place_update_matches_a_full_redraw(make) -> None:
    """Issue 27: updates draw only the changing artists on a kept background; the
    picture must be the one a full redraw of the same state gives (up to anti-aliasing
    where artists overlap)."""
    widget = make()
    assert widget.dynamic, (
        "the widget keeps a background and redraws only its changing artists"
    )
    before = pixels(bytes(widget.image.value))
    move_first_control(widget)
    blitted = pixels(bytes(widget.image.value))
    full = full_redraw(widget)
    assert blitted.shape == full.shape
    assert (np.abs(blitted - full).max(axis=2) > 8).mean() < 0.005
    assert (np.abs(before - blitted).max(axis=2) > 8).mean() > 0.001, (
        "the control changed the picture"
    )
    plt.close("all")


def test_new_anchor_redraws_the_tick_labels_too() -> None:
    """The anchor changes the x-axis digits, which are not blitted artists."""
    widget = make_contrastive()
    widget.anchor.value = 3
    blitted = pixels(bytes(widget.image.value))
    assert (np.abs(blitted - full_redraw(widget)).max(axis=2) > 8).mean() < 0.005
    plt.close("all")


def test_png_encode_is_lossless_and_drops_alpha() -> None:
    """Issue 27: the fast PNG encoder (no row filter) decodes to the given pixels."""
    from helpers.widgets._base import png_encode

    rng = np.random.default_rng(0)
    rgba = rng.integers(0, 256, size=(7, 13, 4), dtype=np.uint8)
    assert np.array_equal(pixels(png_encode(rgba)), rgba[:, :, :3])
    assert np.array_equal(pixels(png_encode(rgba[:, :, :3].copy())), rgba[:, :, :3])
    assert png_size(png_encode(rgba)) == (13, 7)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((4, 4, 3)),
        np.zeros((4, 4), np.uint8),
        np.zeros((0, 4, 3), np.uint8),
        np.zeros((4, 4, 2), np.uint8),
        b"png",
    ],
)
def test_png_encode_rejects_what_is_not_an_8_bit_image(bad) -> None:
    from helpers.widgets._base import png_encode

    with pytest.raises(ValueError, match="rgb must be"):
        png_encode(bad)


def test_png_chunk_rejects_a_bad_kind() -> None:
    from helpers.widgets._base import png_chunk

    # the standard's empty end chunk
    assert png_chunk(b"IEND", b"") == b"\x00\x00\x00\x00IEND\xaeB`\x82"
    with pytest.raises(ValueError, match="kind must be 4 bytes"):
        png_chunk(b"IEN", b"")


def test_tick_labels_of_a_new_anchor_stay_while_tau_moves() -> None:
    """The x axis is a layer: redrawn on a new anchor, kept (not lost) as τ moves."""
    widget = make_contrastive()
    widget.anchor.value = 3
    widget.slider.value = 2.0
    assert (
        np.abs(pixels(bytes(widget.image.value)) - full_redraw(widget)).max(axis=2) > 8
    ).mean() < 0.005
    plt.close("all")


def test_mlm_words_not_chosen_show_their_grey_twin() -> None:
    """Per update only chosen words' coloured copies are drawn; others stay grey."""
    widget = make_mlm()
    kinds = widget.state["kind"]
    assert [w.get_visible() for w in widget.words] == [bool(k) for k in kinds]
    assert 0 < kinds.astype(bool).sum() < len(kinds)
    assert (
        np.abs(pixels(bytes(widget.image.value)) - full_redraw(widget)).max(axis=2) > 8
    ).mean() < 0.005
    plt.close("all")
