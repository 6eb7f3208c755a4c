"""Issue 27: the figures drawn by helpers (widgets' live views and static companions, image grids) have
no text over text, no title over a neighbouring image, no legend over data (helpers.plots.collisions)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from helpers import mlm
from helpers.data import mnist_split
from helpers.mae import MAE
from helpers.plots import collisions, show_images, use_book_style
from helpers.widgets.contrastive import temperature_explorer
from helpers.widgets.demo import noise_demo
from helpers.widgets.dino import AttentionExplorer
from helpers.widgets.embedding import EmbeddingSpaceExplorer, key_states_figure
from helpers.widgets.mae import masking_explorer as mae_explorer
from helpers.widgets.mlm import masking_explorer as mlm_explorer

WORDS = "the state of the union is strong and we must keep it that way".split()


@pytest.fixture(autouse=True)
def _book_style():
    with plt.rc_context():
        use_book_style()  # the chapters draw in the book's style
        yield
    plt.close("all")


def demo():
    return noise_demo(index=3)


def text():
    vocab = mlm.build_vocab([WORDS], 50)
    model = mlm.MLMTransformer(len(vocab), 16, 1, 2, 16, np.random.default_rng(0), mlp_ratio=2.0)
    return mlm_explorer(model, vocab, WORDS, seed=0)


def image():
    x_train, _, x_test, y_test = mnist_split()
    mean = MAE(np.random.default_rng(0)).patchify(x_train[:200]).mean(axis=0)
    return mae_explorer(MAE(np.random.default_rng(0)), x_test[:5], y_test[:5], mean, n_choices=5)


def contrastive():
    rng = np.random.default_rng(0)
    base = rng.standard_normal((12, 8))
    return temperature_explorer(base + 0.3 * rng.standard_normal((12, 8)), base + 0.3 * rng.standard_normal((12, 8)),
                                labels=np.arange(12) % 6)


def attention():
    rng = np.random.default_rng(0)
    maps = {m: rng.dirichlet(np.ones(16), size=(3, 2)) for m in ("DINO", "supervised", "random")}
    return AttentionExplorer(mnist_split()[2][:3], maps)


@pytest.mark.parametrize("make", [demo, text, image, contrastive, attention, EmbeddingSpaceExplorer])
def test_live_widget_figure_is_clean(make) -> None:
    widget = make()
    assert collisions(widget.draw(widget.state)) == []


@pytest.mark.parametrize("make, kwargs", [
    (demo, {}), (text, {}), (image, {}), (image, {"strategy": "block"}), (contrastive, {}), (attention, {}),
])
def test_static_companion_is_clean(make, kwargs) -> None:
    assert collisions(make().static_figure(**kwargs)) == []


def test_key_states_figure_is_clean() -> None:
    fig, _ = key_states_figure([{"objective": "SimCLR"}, {"ema": False}, {"predictor": False}], steps=3)
    assert collisions(fig) == []


def test_image_grid_with_titles_is_clean() -> None:
    x = mnist_split()[0][:10]
    assert collisions(show_images(x, titles=[f"label {i}" for i in range(10)], ncols=10, suptitle="Ten digits")) == []
