"""Chapter 02's widget: BERT-mask a sentence at a chosen rate, see the predictions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.text import Text

from helpers._checks import (
    check_array,
    check_fraction,
    check_instance,
    check_int,
    check_text,
)
from helpers.masking import bert_mask
from helpers.mlm import Vocab, log_probs
from helpers.nn import Module
from helpers.plots import BOOK_COLORS
from helpers.widgets._base import PngWidget

KINDS = ("not chosen", "[MASK]", "random", "kept")
KIND_COLORS = ("#EEEEEE", BOOK_COLORS[1], BOOK_COLORS[3], BOOK_COLORS[2])
PER_ROW = 8


def masking_state(
    model: Module,
    vocab: Vocab,
    ids: np.ndarray,
    mask_prob: float,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """Mask ids once with bert_mask; return what happened to each token and the model's
    guess where chosen.

    kind is 0 (not chosen), 1 ([MASK]), 2 (random word) or 3 (kept), judged by what the
    model sees: a random draw that happens to be [MASK] or the original word counts as
    such.
    """
    check_instance(model, Module, "model")
    check_instance(vocab, Vocab, "vocab")
    ids = check_array(ids, "ids", ndim=1, kinds="iu")
    inputs, labels = bert_mask(
        ids,
        rng,
        mask_prob,
        mask_id=vocab.mask_id,
        vocab_size=len(vocab),
        special_ids=vocab.special_ids,
    )
    chosen = labels >= 0
    kind = np.where(
        ~chosen, 0, np.where(inputs == vocab.mask_id, 1, np.where(inputs != ids, 2, 3))
    )
    guess = np.full(len(ids), -1)
    prob = np.zeros(len(ids))
    if chosen.any():
        p = np.exp(
            log_probs(model, inputs[None], np.zeros((1, len(ids)), bool), chosen[None])
        )
        guess[chosen] = p.argmax(axis=1)
        prob[chosen] = p.max(axis=1)
    return {
        "mask_prob": mask_prob,
        "ids": ids,
        "inputs": inputs,
        "kind": kind,
        "guess": guess,
        "prob": prob,
    }


def token_artists(ax: Axes, n_tokens: int) -> tuple[list[Text], list[Text]]:
    """Lay out n_tokens empty boxes (PER_ROW a row) and notes below; return both."""
    check_instance(ax, Axes, "ax")
    n_tokens = check_int(n_tokens, "n_tokens", minimum=1)
    words, notes = [], []
    for i in range(n_tokens):
        x, y = i % PER_ROW + 0.5, -(i // PER_ROW) * 1.0
        words.append(
            ax.text(
                x,
                y,
                "",
                ha="center",
                va="center",
                fontsize=9,
                bbox={"boxstyle": "round,pad=0.25", "fc": KIND_COLORS[0], "ec": "none"},
            )
        )
        notes.append(
            ax.text(
                x, y - 0.425, "", ha="center", va="center", fontsize=9, linespacing=1.1
            )
        )
    ax.set_xlim(0, PER_ROW)
    # n_tokens // -PER_ROW is minus the number of rows
    ax.set_ylim(0.25 + n_tokens // -PER_ROW, 0.4)
    ax.set_axis_off()
    return words, notes


def show_masking(
    words: list[Text], notes: list[Text], vocab: Vocab, state: dict[str, Any]
) -> None:
    """Fill boxes: colour by outcome, model's input, top guess (✓ right, ✗ wrong)."""
    for name, texts in (("words", words), ("notes", notes)):
        if not isinstance(texts, (list, tuple)) or not all(
            isinstance(t, Text) for t in texts
        ):
            raise ValueError(
                f"{name} must be the list of Text artists token_artists returned, got "
                f"{type(texts).__name__}"
            )
    check_instance(vocab, Vocab, "vocab")
    check_instance(state, dict, "state")
    if not len(words) == len(notes) == len(state["ids"]):
        raise ValueError(
            f"words and notes must hold one artist per token ({len(state['ids'])}), "
            f"got {len(words)} and {len(notes)}"
        )
    for i, (word, seen, kind, guess, prob) in enumerate(
        zip(
            vocab.decode(state["ids"]),
            vocab.decode(state["inputs"]),
            state["kind"],
            state["guess"],
            state["prob"],
        )
    ):
        words[i].set_text(word)
        words[i].get_bbox_patch().set_facecolor(KIND_COLORS[kind])
        mark = "✓" if guess == state["ids"][i] else "✗"
        notes[i].set_text(
            f"saw {seen}\n{mark} {vocab.words[guess]} {prob:.2f}" if kind else ""
        )


def draw_masking(ax: Axes, vocab: Vocab, state: dict[str, Any], title: str) -> None:
    """Draw a masked sentence on ax: coloured box per token, input, top guess."""
    check_instance(state, dict, "state")
    check_text(title, "title")
    words, notes = token_artists(ax, len(state["ids"]))
    show_masking(words, notes, vocab, state)
    ax.set_title(title, fontsize=9, loc="left")


def _legend(fig: Figure, loc: str = "lower center") -> None:
    """A legend of the four token colours."""
    handles = [plt.Rectangle((0, 0), 1, 1, fc=c) for c in KIND_COLORS]
    fig.legend(handles, KINDS, loc=loc, ncol=4, fontsize=9)


class MaskingExplorer(PngWidget):
    """Slider: BERT's mask rate on a sentence; each move/'resample' draws a mask."""

    def __init__(
        self, model: Module, vocab: Vocab, words: Sequence[str], seed: int = 0
    ) -> None:
        """Mask sentence `words` (at most model.max_len words) with draws from seed."""
        check_instance(model, Module, "model")
        check_instance(vocab, Vocab, "vocab")
        if (
            isinstance(words, str)
            or not isinstance(words, Sequence)
            or not all(isinstance(w, str) for w in words)
        ):
            raise TypeError(
                "words must be a list of words (e.g. tokenize(text)), got "
                f"{words!r:.40}"
            )
        self.model, self.vocab = model, vocab
        self.ids = vocab.encode(words)
        if not 1 <= len(self.ids) <= getattr(model, "max_len", len(self.ids)):
            raise ValueError(
                f"words must hold 1 to {getattr(model, 'max_len', '?')} words, got "
                f"{len(self.ids)}"
            )
        self.rng = np.random.default_rng(check_int(seed, "seed"))
        self.totals = np.zeros(5, np.int64)  # tokens, chosen, [MASK], random, kept
        self.draws, self.totals_for = 0, None
        self.slider = widgets.FloatSlider(
            value=0.15, min=0.05, max=0.9, step=0.05, description="mask prob"
        )
        self.button = widgets.Button(description="resample")
        # built once, updated in place
        self.figure = Figure(figsize=(7.6, 0.5 + 1.0 * -(-len(self.ids) // PER_ROW)))
        self.ax = self.figure.add_subplot()
        self.figure.subplots_adjust(left=0.01, right=0.99, bottom=0.02, top=0.72)
        _legend(self.figure, loc="upper right")
        # every word on grey: kept in the background
        plain, unused_notes = token_artists(self.ax, len(self.ids))
        for text, word in zip(plain, vocab.decode(self.ids)):
            text.set_text(word)
        for note in unused_notes:
            note.remove()
        # coloured copies, shown on chosen words
        self.words, self.notes = token_artists(self.ax, len(self.ids))
        self.title = self.ax.set_title(" ", fontsize=9, loc="left")
        # an update draws only the chosen words' copies
        self.dynamic = (*self.words, *self.notes, self.title)
        super().__init__(
            [self.slider],
            "Masking explorer: move the slider or press resample (needs a live "
            "kernel).",
        )
        self.view.children = (widgets.HBox([self.slider, self.button]), self.image)
        self.button.on_click(lambda _: self.update())

    def compute(self) -> dict[str, Any]:
        """Draw a mask at the slider's rate, add to the counts (reset on a new rate)."""
        p = float(self.slider.value)
        if p != self.totals_for:
            self.totals[:], self.draws, self.totals_for = 0, 0, p
        state = masking_state(self.model, self.vocab, self.ids, p, self.rng)
        kind = state["kind"]
        self.totals += [
            len(kind),
            (kind > 0).sum(),
            (kind == 1).sum(),
            (kind == 2).sum(),
            (kind == 3).sum(),
        ]
        self.draws += 1
        chosen = max(self.totals[1], 1)
        state["draws"] = self.draws
        state["rates"] = {
            "chosen": self.totals[1] / self.totals[0],
            "mask": self.totals[2] / chosen,
            "random": self.totals[3] / chosen,
            "kept": self.totals[4] / chosen,
        }
        return state

    def draw(self, state: dict[str, Any]) -> Figure:
        """Show the masked sentence with the running rates in the title."""
        r = state["rates"]
        show_masking(self.words, self.notes, self.vocab, state)
        for word, kind in zip(self.words, state["kind"]):
            # a word not chosen shows its grey twin from the background
            word.set_visible(bool(kind))
        self.title.set_text(
            f"p = {state['mask_prob']:.2f}, {state['draws']} "
            f"draw{'' if state['draws'] == 1 else 's'}: "
            f"chosen {r['chosen']:.3f} of tokens; of those [MASK] {r['mask']:.2f}, "
            f"random {r['random']:.2f}, kept {r['kept']:.2f}"
        )
        return self.figure

    def static_figure(
        self, mask_probs: Sequence[float] = (0.15, 0.4, 0.8), seed: int = 1
    ) -> Figure:
        """A fresh draw per rate, stacked, with a colour legend (no kernel needed)."""
        rng = np.random.default_rng(check_int(seed, "seed"))
        rows = -(-len(self.ids) // PER_ROW)
        fig, axes = plt.subplots(
            len(mask_probs),
            1,
            figsize=(7.6, (0.4 + rows) * len(mask_probs) + 0.4),
            squeeze=False,
        )
        for ax, p in zip(axes[:, 0], mask_probs):
            state = masking_state(
                self.model,
                self.vocab,
                self.ids,
                check_fraction(p, "mask_prob", high_open=False),
                rng,
            )
            draw_masking(ax, self.vocab, state, f"mask probability {p:.2f}")
        _legend(fig)
        fig.suptitle(
            "What BERT's masking does to one sentence, and the model's top guess (✓ "
            "right, ✗ wrong)",
            fontsize=10,
        )
        fig.tight_layout(rect=(0, 0.06, 1, 1))
        return fig


def masking_explorer(
    model: Module, vocab: Vocab, words: Sequence[str], seed: int = 0
) -> MaskingExplorer:
    """Build chapter 02's masking explorer over the sentence `words`."""
    return MaskingExplorer(model, vocab, words, seed)
