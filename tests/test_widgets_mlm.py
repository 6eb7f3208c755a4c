"""Tests of chapter 02's masking explorer, no browser: move slider, resample."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from helpers import mlm
from helpers.widgets.mlm import masking_explorer, masking_state

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
WORDS = "the state of the union is strong and we must keep it that way".split()


@pytest.fixture(scope="module")
def parts():
    vocab = mlm.build_vocab([WORDS, "we the people".split()], 50)
    model = mlm.MLMTransformer(
        len(vocab), 16, 1, 2, 16, np.random.default_rng(0), mlp_ratio=2.0
    )
    return model, vocab


@pytest.fixture
def explorer(parts):
    yield masking_explorer(*parts, WORDS, seed=0)
    plt.close("all")


def test_explorer_starts_with_one_draw_at_bert_rate(explorer) -> None:
    assert explorer.updates == 1 and explorer.draws == 1
    assert explorer.state["mask_prob"] == 0.15
    assert bytes(explorer.image.value).startswith(PNG_MAGIC)


def test_slider_changes_rate_redraws_and_resets_running_counts(explorer) -> None:
    explorer.button.click()
    assert explorer.draws == 2
    before = explorer.image.value
    explorer.slider.value = 0.9
    assert explorer.updates == 3 and explorer.draws == 1
    assert explorer.state["mask_prob"] == 0.9
    assert explorer.image.value != before


def test_resample_accumulates_rates_that_approach_the_rule(explorer) -> None:
    explorer.slider.value = 0.5
    for _ in range(80):
        explorer.button.click()
    rates = explorer.state["rates"]
    assert explorer.draws == 81
    assert abs(rates["chosen"] - 0.5) < 0.05
    assert abs(rates["mask"] - 0.8) < 0.06
    assert abs(rates["random"] + rates["kept"] - 0.2) < 0.06


def test_state_marks_kinds_and_predicts_only_at_chosen_tokens(parts) -> None:
    model, vocab = parts
    ids = vocab.encode(WORDS)
    state = masking_state(model, vocab, ids, 0.6, np.random.default_rng(3))
    kind, inputs = state["kind"], state["inputs"]
    assert np.all(inputs[kind == 1] == vocab.mask_id)
    assert np.all(inputs[kind == 3] == ids[kind == 3])
    assert np.all(inputs[kind == 0] == ids[kind == 0])
    assert np.all((state["guess"] >= 0) == (kind > 0))
    assert np.all((state["prob"] > 0) == (kind > 0))


def test_same_seed_gives_the_same_draws(parts) -> None:
    a, b = (
        masking_explorer(*parts, WORDS, seed=4),
        masking_explorer(*parts, WORDS, seed=4),
    )
    a.slider.value = b.slider.value = 0.4
    assert np.array_equal(a.state["inputs"], b.state["inputs"])
    assert a.image.value == b.image.value
    plt.close("all")


def test_static_figure_has_one_panel_per_rate(explorer) -> None:
    fig = explorer.static_figure((0.15, 0.5))
    assert len(fig.get_axes()) == 2
    with pytest.raises(ValueError, match="mask_prob"):
        explorer.static_figure((1.5,))


def test_rejects_a_sentence_longer_than_the_model_allows(parts) -> None:
    with pytest.raises(ValueError, match="words"):
        masking_explorer(*parts, WORDS + WORDS, seed=0)
