"""Chapter 04's widget: a temperature slider over one anchor's softmax across its
NT-Xent candidates.

The anchor is one view in a batch of 2N embeddings (rows of z1 stacked over z2); its
candidates are the other 2N - 1 views; its positive is the other view of the same image.
The view sorts the candidates by cosine similarity and draws the softmax probability
NT-Xent gives each of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from helpers._checks import (
    check_array,
    check_bool,
    check_instance,
    check_int,
    check_positive,
)
from helpers.plots import BOOK_COLORS
from helpers.widgets._base import PngWidget

NEGATIVE_COLOR, POSITIVE_COLOR = BOOK_COLORS[0], BOOK_COLORS[3]


def check_pair_batch(z1: Any, z2: Any) -> tuple[np.ndarray, np.ndarray]:
    """Return z1, z2 as float64 (N, d), checked: they match, N >= 2, no zero row."""
    a, b = check_array(z1, "z1", ndim=2), check_array(z2, "z2", ndim=2)
    if a.shape != b.shape or a.shape[0] < 2:
        raise ValueError(
            f"z1 and z2 must have the same shape (N, d) with N >= 2, got {a.shape} and "
            f"{b.shape}"
        )
    if not (np.linalg.norm(a, axis=1).all() and np.linalg.norm(b, axis=1).all()):
        raise ValueError(
            "z1 and z2 must not contain all-zero rows (their direction is undefined)"
        )
    return a.astype(np.float64), b.astype(np.float64)


def cosine_matrix(z1: np.ndarray, z2: np.ndarray) -> np.ndarray:
    """Return the (2N, 2N) cosine similarities of the rows of z1 stacked over z2."""
    z1, z2 = check_pair_batch(z1, z2)
    z = np.concatenate([z1, z2])
    z = z / np.linalg.norm(z, axis=1, keepdims=True)
    return z @ z.T


def anchor_state(cos: np.ndarray, anchor: int, temperature: float) -> dict[str, Any]:
    """An anchor's candidates by similarity, their softmax at temperature, its loss."""
    cos = check_array(cos, "cos", ndim=2)
    n2 = cos.shape[0]
    if cos.shape != (n2, n2) or n2 < 2 or n2 % 2:
        raise ValueError(
            f"cos must be a square (2N, 2N) similarity matrix, got shape {cos.shape}"
        )
    anchor = check_int(anchor, "anchor", maximum=n2 - 1)
    temperature = check_positive(temperature, "temperature")
    positive = (anchor + n2 // 2) % n2
    candidates = np.delete(np.arange(n2), anchor)
    order = candidates[np.argsort(-cos[anchor, candidates], kind="stable")]
    logits = cos[anchor, order] / temperature
    log_p = logits - np.logaddexp.reduce(logits)
    rank = int(np.flatnonzero(order == positive)[0])
    return {
        "temperature": float(temperature),
        "anchor": int(anchor),
        "candidates": order,
        "similarity": cos[anchor, order],
        "probability": np.exp(log_p),
        "positive_rank": rank,
        "p_positive": float(np.exp(log_p[rank])),
        "loss": float(-log_p[rank]),
    }


def bar_segments(probability: np.ndarray) -> np.ndarray:
    """Vertical segments from 0 to each probability at x = 0, 1, 2, ... (the bars)."""
    probability = check_array(probability, "probability", ndim=1, allow_empty=True)
    x = np.arange(len(probability), dtype=float)
    return np.stack(
        [np.stack([x, np.zeros_like(x)], -1), np.stack([x, probability], -1)], 1
    )


def setup_axes(ax: Axes, n_candidates: int, with_labels: bool) -> LineCollection:
    """Fix the view's axes, limits, labels; return empty bars for draw_anchor_state."""
    check_instance(ax, Axes, "ax")
    check_int(n_candidates, "n_candidates", minimum=1)
    check_bool(with_labels, "with_labels")
    bars = LineCollection(bar_segments(np.zeros(n_candidates)), linewidths=7)
    ax.add_collection(bars)
    ax.set_ylim(0, 1.02)
    ax.set_xlim(-0.7, n_candidates - 0.3)
    ax.set_xlabel(
        "candidates, most similar first" + (" (digit shown)" if with_labels else "")
    )
    ax.set_ylabel("softmax probability")
    return bars


def draw_anchor_state(
    ax: Axes,
    bars: LineCollection,
    state: dict[str, Any],
    labels: np.ndarray | None = None,
) -> None:
    """Bars of the anchor's softmax over candidates, the positive in its own colour."""
    check_instance(ax, Axes, "ax")
    check_instance(bars, LineCollection, "bars")
    check_instance(state, dict, "state")
    if labels is not None:
        labels = check_array(labels, "labels", ndim=1)
    probs = state["probability"]
    colors = [NEGATIVE_COLOR] * len(probs)
    colors[state["positive_rank"]] = POSITIVE_COLOR
    bars.set_segments(bar_segments(probs))
    bars.set_colors(colors)
    if labels is not None and len(probs) <= 40:
        n = len(labels)
        ax.set_xticks(
            np.arange(len(probs)),
            [str(labels[c % n]) for c in state["candidates"]],
            fontsize=9,
        )
    ax.set_title(
        f"τ = {state['temperature']:.3g}: p(positive) = {state['p_positive']:.3f}, "
        f"anchor loss = {state['loss']:.3f}",
        fontsize=10,
    )


# holds every τ the chapter uses
TAU_GRID = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


class TemperatureExplorer(PngWidget):
    """Sliders for τ and anchor; the view shows the anchor's softmax and NT-Xent."""

    def __init__(self, z1: Any, z2: Any, labels: Sequence[int] | None = None) -> None:
        """Batch with positive pairs (z1[i], z2[i]); labels name each image's class."""
        a, b = check_pair_batch(z1, z2)
        self.cos = cosine_matrix(a, b)
        self.labels = None if labels is None else np.asarray(labels)
        if self.labels is not None and self.labels.shape != (a.shape[0],):
            raise ValueError(
                f"labels must give one label per pair ({a.shape[0]}), got shape "
                f"{self.labels.shape}"
            )
        # one figure, redrawn in place: faster than a new one
        self.figure = Figure(figsize=(6.4, 2.8))
        self.figure.subplots_adjust(left=0.1, right=0.98, bottom=0.2, top=0.88)
        self.ax = self.figure.add_subplot()
        self.bars = setup_axes(self.ax, 2 * a.shape[0] - 1, self.labels is not None)
        self.slider = widgets.SelectionSlider(
            options=[(f"{t:g}", t) for t in TAU_GRID], value=0.5, description="τ"
        )
        self.anchor = widgets.IntSlider(
            value=0, min=0, max=2 * a.shape[0] - 1, description="anchor"
        )
        self.state_anchor = -1
        # axes, ticks and labels stay as drawn while τ moves
        self.dynamic = (self.bars, self.ax.title)
        # the candidates' digits: drawn again only when the anchor changes
        self.layered = (self.ax.xaxis,)
        super().__init__(
            [self.slider, self.anchor],
            "Temperature explorer: drag τ (needs a live kernel).",
        )

    def compute(self) -> dict[str, Any]:
        """Return the state for the sliders' τ and anchor."""
        return anchor_state(self.cos, self.anchor.value, self.slider.value)

    def draw(self, state: dict[str, Any]) -> Figure:
        """Return the widget's figure showing the current state."""
        # new candidates' digits on the x axis: redraw the axis
        if state["anchor"] != self.state_anchor:
            self.state_anchor = state["anchor"]
            self.redraw_background()
        draw_anchor_state(self.ax, self.bars, state, self.labels)
        return self.figure

    def static_figure(
        self, temperatures: Sequence[float] = (0.05, 0.2, 0.5, 2.0), anchor: int = 0
    ) -> Figure:
        """Return the anchor's softmax at several τ, a panel each (no kernel needed)."""
        anchor = check_int(anchor, "anchor", maximum=self.cos.shape[0] - 1)
        temps = [check_positive(t, "temperature") for t in temperatures]
        fig, axes = plt.subplots(
            len(temps), 1, figsize=(6.4, 2.0 * len(temps)), squeeze=False
        )
        for ax, t in zip(axes[:, 0], temps):
            bars = setup_axes(ax, self.cos.shape[0] - 1, self.labels is not None)
            draw_anchor_state(ax, bars, anchor_state(self.cos, anchor, t), self.labels)
        fig.suptitle(
            f"One anchor's softmax over its {self.cos.shape[0] - 1} candidates as τ "
            "changes"
        )
        fig.tight_layout()
        return fig


def temperature_explorer(
    z1: Any, z2: Any, labels: Sequence[int] | None = None
) -> TemperatureExplorer:
    """Build chapter 04's temperature explorer for the pairs (z1[i], z2[i])."""
    return TemperatureExplorer(z1, z2, labels)
