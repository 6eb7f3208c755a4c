"""Chapter 06's attention explorer: the last block's [CLS] attention over a test digit, per model and head."""
from __future__ import annotations

from typing import Any

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from helpers._checks import check_array, check_int
from helpers.widgets._base import PngWidget


def attention_image(weights: Any, side: int) -> np.ndarray:
    """Upsample one head's attention over a g x g patch grid (g*g,) to a side x side image (nearest)."""
    w = check_array(weights, "weights", ndim=1)
    g = int(round(np.sqrt(w.size)))
    if g * g != w.size or check_int(side, "side", minimum=1) % g:
        raise ValueError(f"weights must cover a square grid whose side divides {side}, got {w.size} weights")
    return np.kron(w.reshape(g, g), np.ones((side // g, side // g)))


class AttentionExplorer(PngWidget):
    """Pick a test digit, a model and a head (or their mean); see the digit and its [CLS] attention."""

    def __init__(self, images: Any, maps: dict[str, Any]) -> None:
        self.images = check_array(images, "images", ndim=3)
        if not isinstance(maps, dict) or not maps:
            raise ValueError("maps must be a non-empty dict {model name: attention (N, heads, patches)}")
        self.maps = {k: check_array(v, f"maps[{k!r}]", ndim=3) for k, v in maps.items()}
        if any(len(v) != len(self.images) for v in self.maps.values()):
            raise ValueError(f"every attention array must hold one map per image ({len(self.images)})")
        heads = next(iter(self.maps.values())).shape[1]
        self.index = widgets.IntSlider(value=0, min=0, max=len(self.images) - 1, description="test digit")
        self.model = widgets.Dropdown(options=list(self.maps), description="model")
        self.head = widgets.Dropdown(options=["mean"] + list(range(heads)), value="mean", description="head")
        super().__init__([self.index, self.model, self.head], "Attention explorer ([CLS] attention, last block)")

    def compute(self) -> dict[str, Any]:
        """The digit, its attention image for the chosen model/head, and the attention share on ink."""
        a = self.maps[self.model.value][self.index.value]
        w = a.mean(axis=0) if self.head.value == "mean" else a[self.head.value]
        image = self.images[self.index.value]
        att = attention_image(w, image.shape[0])
        return {"image": image, "attention": att, "model": self.model.value, "head": self.head.value,
                "ink_share": float(att[image > 0.5].sum() / att.sum())}

    def draw(self, state: dict[str, Any]) -> Figure:
        """Digit in grey with the attention in colour on top."""
        fig, ax = plt.subplots(figsize=(3, 3))
        ax.imshow(state["image"], cmap="gray")
        ax.imshow(state["attention"], cmap="inferno", alpha=0.6)
        ax.set_title(f"{state['model']}, head {state['head']}", fontsize=9)
        ax.set_axis_off()
        plt.close(fig)
        return fig
