"""Chapter 06's widget: the last block's [CLS] attention on a digit, per model/head."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.image import AxesImage

from helpers._checks import check_array, check_instance, check_int, check_positive
from helpers.widgets._base import PngWidget


def attention_image(weights: Any, side: int) -> np.ndarray:
    """Upsample a head's attention over a g x g patch grid to side x side (nearest)."""
    w = check_array(weights, "weights", ndim=1)
    g = int(round(np.sqrt(w.size)))
    if g * g != w.size or check_int(side, "side", minimum=1) % g:
        raise ValueError(
            f"weights must cover a square grid whose side divides {side}, got {w.size} "
            "weights"
        )
    return np.kron(w.reshape(g, g), np.ones((side // g, side // g)))


def attention_title(state: dict[str, Any]) -> str:
    """Panel title: model, head, and the share of the attention on ink pixels."""
    if not isinstance(state, dict):
        raise ValueError(
            "state must be a dict from AttentionExplorer.compute, got "
            f"{type(state).__name__}"
        )
    return f"{state['model']}, head {state['head']}\n{state['ink_share']:.2f} on ink"


def attention_panel(
    ax: Axes, state: dict[str, Any], vmax: float
) -> tuple[AxesImage, AxesImage]:
    """Digit in grey, its attention in colour over it (0..vmax), titled; return both."""
    check_instance(ax, Axes, "ax")
    check_instance(state, dict, "state")
    vmax = check_positive(vmax, "vmax")
    digit = ax.imshow(state["image"], cmap="gray", vmin=0.0, vmax=1.0)
    overlay = ax.imshow(
        state["attention"], cmap="inferno", alpha=0.6, vmin=0.0, vmax=vmax
    )
    ax.set_title(attention_title(state), fontsize=9)
    ax.set_axis_off()
    return digit, overlay


def attention_colorbar(
    fig: Figure, overlay: AxesImage, ax: Axes | Sequence[Axes]
) -> None:
    """One colour bar beside ax (or a row of axes): a patch's [CLS] attention weight."""
    check_instance(fig, Figure, "fig")
    check_instance(overlay, AxesImage, "overlay")
    if not isinstance(ax, Axes) and not (
        isinstance(ax, Sequence) and ax and all(isinstance(a, Axes) for a in ax)
    ):
        raise ValueError(
            f"ax must be an Axes or a non-empty list of Axes, got {type(ax).__name__}"
        )
    bar = fig.colorbar(overlay, ax=ax, fraction=0.05, pad=0.03)
    bar.set_label("attention weight of a patch", fontsize=9)
    bar.ax.tick_params(labelsize=9)


class AttentionExplorer(PngWidget):
    """Pick a test digit, a model and a head (or mean); see its [CLS] attention."""

    def __init__(self, images: Any, maps: dict[str, Any]) -> None:
        self.images = check_array(images, "images", ndim=3)
        if not isinstance(maps, dict) or not maps:
            raise ValueError(
                "maps must be a non-empty dict {model name: attention (N, heads, "
                "patches)}"
            )
        self.maps = {k: check_array(v, f"maps[{k!r}]", ndim=3) for k, v in maps.items()}
        if any(len(v) != len(self.images) for v in self.maps.values()):
            raise ValueError(
                "every attention array must hold one map per image "
                f"({len(self.images)})"
            )
        heads = next(iter(self.maps.values())).shape[1]
        # one colour scale for every digit, model and head, so that colours compare
        # across choices
        self.vmax = max(float(max(m.max() for m in self.maps.values())), 1e-12)
        self.index = widgets.IntSlider(
            value=0, min=0, max=len(self.images) - 1, description="test digit"
        )
        self.model = widgets.Dropdown(options=list(self.maps), description="model")
        self.head = widgets.Dropdown(
            options=["mean"] + list(range(heads)), value="mean", description="head"
        )
        # built once; updates swap the pixels and the title
        self.figure = Figure(figsize=(3.8, 3.3))
        ax = self.figure.add_subplot()
        # room for the bar's labels
        self.figure.subplots_adjust(left=0.02, right=0.8, bottom=0.03, top=0.85)
        self.digit, self.overlay = attention_panel(ax, self.compute(), self.vmax)
        attention_colorbar(self.figure, self.overlay, ax)
        self.dynamic = (self.digit, self.overlay, ax.title)
        super().__init__(
            [self.index, self.model, self.head],
            "Attention explorer ([CLS] attention, last block)",
        )

    def compute(self) -> dict[str, Any]:
        """The digit, its attention for the chosen model/head, the share on ink."""
        a = self.maps[self.model.value][self.index.value]
        w = a.mean(axis=0) if self.head.value == "mean" else a[self.head.value]
        image = self.images[self.index.value]
        att = attention_image(w, image.shape[0])
        return {
            "image": image,
            "attention": att,
            "model": self.model.value,
            "head": self.head.value,
            "ink_share": float(att[image > 0.5].sum() / att.sum()),
        }

    def draw(self, state: dict[str, Any]) -> Figure:
        """Swap in the digit, its attention and the title."""
        self.digit.set_data(state["image"])
        self.overlay.set_data(state["attention"])
        self.dynamic[2].set_text(attention_title(state))
        return self.figure

    def static_figure(
        self, heads: Sequence[int | str] = (0, 1), index: int = 0
    ) -> Figure:
        """Digit `index` per model and head, one colour bar (no kernel needed)."""
        check_int(index, "index", maximum=len(self.images) - 1)
        choices = [(m, h) for m in self.maps for h in heads]
        if any(h not in self.head.options for _, h in choices):
            raise ValueError(
                f"heads must be among {list(self.head.options)}, got {list(heads)}"
            )
        saved = (self.index.value, self.model.value, self.head.value)
        fig, axes = plt.subplots(
            1,
            len(choices),
            figsize=(1.6 * len(choices) + 1.0, 2.3),
            squeeze=False,
            layout="constrained",
        )
        for ax, (model, head) in zip(axes[0], choices):
            self.index.value, self.model.value, self.head.value = index, model, head
            _, overlay = attention_panel(ax, self.compute(), self.vmax)
        self.index.value, self.model.value, self.head.value = saved
        attention_colorbar(fig, overlay, list(axes[0]))
        return fig
