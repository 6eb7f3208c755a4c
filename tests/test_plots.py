"""Tests for helpers.plots: the book style, image grids, curves and PNG rendering."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

from helpers import plots

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_use_book_style_sets_dpi_grid_and_colour_cycle() -> None:
    with matplotlib.rc_context():
        plots.use_book_style()
        assert matplotlib.rcParams["figure.dpi"] == plots.BOOK_DPI <= 100
        assert matplotlib.rcParams["axes.grid"] is True
        assert (
            tuple(matplotlib.rcParams["axes.prop_cycle"].by_key()["color"])
            == plots.BOOK_COLORS
        )


def test_show_images_lays_out_a_grid_with_titles() -> None:
    images = np.random.default_rng(0).random((5, 8, 8))
    fig = plots.show_images(images, titles=list("abcde"), ncols=3, suptitle="five")
    axes = fig.get_axes()
    assert len(axes) == 6
    assert [ax.get_title() for ax in axes[:5]] == list("abcde")
    assert not axes[5].axison
    assert fig._suptitle.get_text() == "five"


def test_show_images_uses_fewer_columns_than_images_at_most() -> None:
    fig = plots.show_images([np.zeros((4, 4)), np.ones((4, 4))], ncols=8)
    assert len(fig.get_axes()) == 2


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"images": []}, "at least one image"),
        ({"images": [np.zeros((3, 3))], "titles": ["a", "b"]}, "one title per image"),
        ({"images": [np.zeros((3, 3))], "ncols": 0}, "ncols"),
        ({"images": [np.zeros(3)]}, "dimensions"),
        ({"images": [np.zeros((3, 3))], "size": -1}, "size"),
    ],
)
def test_show_images_rejects_bad_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        plots.show_images(**kwargs)


def test_plot_curve_labels_axes_and_legend() -> None:
    fig, ax = plt.subplots()
    plots.plot_curve(
        ax,
        np.arange(3),
        np.array([3.0, 2.0, 1.0]),
        "epoch",
        "loss",
        title="t",
        label="train",
    )
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("epoch", "loss", "t")
    assert ax.get_legend().get_texts()[0].get_text() == "train"
    assert np.array_equal(ax.get_lines()[0].get_ydata(), [3.0, 2.0, 1.0])


def test_plot_curve_rejects_mismatched_lengths() -> None:
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="same length"):
        plots.plot_curve(ax, np.arange(3), np.arange(4), "x", "y")


def test_fig_to_png_returns_png_bytes_and_closes_the_figure() -> None:
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [0, 1])
    png = plots.fig_to_png(fig)
    assert png.startswith(PNG_MAGIC)
    assert not plt.fignum_exists(fig.number)


def test_fig_to_png_is_deterministic() -> None:
    def render() -> bytes:
        fig, ax = plt.subplots(figsize=(2, 2))
        ax.plot([0, 1], [1, 0])
        return plots.fig_to_png(fig)

    assert render() == render()


def test_collisions_finds_overlapping_texts_titles_on_images_legends_on_data() -> None:
    fig, ax = plt.subplots()
    ax.text(0.5, 0.5, "first label")
    ax.text(0.5, 0.5, "second label")
    assert any("overlaps text" in c for c in plots.collisions(fig))
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(2, 2))
    top.imshow(np.zeros((8, 8)))
    bottom.set_title("a title\\ntall enough\\nto reach\\nthe image above", fontsize=12)
    assert any("image of another panel" in c for c in plots.collisions(fig))
    fig, ax = plt.subplots()
    x = np.linspace(0, 1, 50)
    plots.plot_curve(ax, x, np.full(50, 0.5), "x", "y", label="flat")
    ax.set_ylim(0.49, 0.51)
    ax.get_legend().set_loc("center")
    assert any("legend covers" in c for c in plots.collisions(fig))


def test_collisions_lets_a_recoloured_copy_cover_its_twin_but_not_a_shifted_one() -> (
    None
):
    """Issue 27: 02's coloured copy exactly over a grey word reads as one word."""
    fig, ax = plt.subplots()
    ax.text(0.5, 0.5, "word", bbox={"fc": "0.9"})
    ax.text(0.5, 0.5, "word", bbox={"fc": "red"})
    assert plots.collisions(fig) == []
    ax.text(0.51, 0.5, "word")
    assert len([c for c in plots.collisions(fig) if "overlaps text 'word'" in c]) == 2
    plt.close("all")


def test_collisions_is_empty_for_a_clean_figure_and_checks_input() -> None:
    fig, ax = plt.subplots()
    plots.plot_curve(ax, np.arange(5.0), np.arange(5.0), "x", "y", title="clean")
    assert plots.collisions(fig) == []
    with pytest.raises(TypeError, match="fig"):
        plots.collisions("not a figure")  # type: ignore[arg-type]
