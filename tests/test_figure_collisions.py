"""Issue 27: the figures drawn by helpers (widgets' live views and static companions,
image grids) have no text over text, no title over a neighbouring image, no legend over
data (helpers.plots.collisions)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest

from test_widget_rendering import (
    make_contrastive,
    make_demo,
    make_dino,
    make_mae,
    make_mlm,
)

from helpers.data import mnist_split
from helpers.plots import collisions, show_images, use_book_style
from helpers.widgets.embedding import EmbeddingSpaceExplorer, key_states_figure


@pytest.fixture(autouse=True)
def _book_style():
    with plt.rc_context():
        use_book_style()  # the chapters draw in the book's style
        yield
    plt.close("all")


@pytest.mark.parametrize(
    "make",
    [
        make_demo,
        make_mlm,
        make_mae,
        make_contrastive,
        make_dino,
        EmbeddingSpaceExplorer,
    ],
)
def test_live_widget_figure_is_clean(make) -> None:
    widget = make()
    assert collisions(widget.draw(widget.state)) == []


@pytest.mark.parametrize(
    "make, kwargs",
    [
        (make_demo, {}),
        (make_mlm, {}),
        (make_mae, {}),
        (make_mae, {"strategy": "block"}),
        (make_contrastive, {}),
        (make_dino, {}),
    ],
)
def test_static_companion_is_clean(make, kwargs) -> None:
    assert collisions(make().static_figure(**kwargs)) == []


def test_key_states_figure_is_clean() -> None:
    fig, _ = key_states_figure(
        [{"objective": "SimCLR"}, {"ema": False}, {"predictor": False}], steps=3
    )
    assert collisions(fig) == []


def test_image_grid_with_titles_is_clean() -> None:
    x = mnist_split()[0][:10]
    assert (
        collisions(
            show_images(
                x,
                titles=[f"label {i}" for i in range(10)],
                ncols=10,
                suptitle="Ten digits",
            )
        )
        == []
    )
