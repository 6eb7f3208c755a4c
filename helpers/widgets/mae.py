"""Chapter 03's Masking Strategy Explorer: hide patches of a digit, then fill them three
ways.

Buttons pick the strategy the MAE paper compares (random, block-wise, grid-wise masking;
`helpers.masking.masking_order`), a slider sets the masking ratio one patch per step (0
to all but one patch), a button draws a new mask, a drop-down picks the test digit and a
Reconstruct toggle shows or hides the fills:
nearest visible patch, the mean patch, and a trained MAE, each scored by its MSE on the
hidden patches. `masked_rgb` and `draw_fill` are also used by the chapter's own figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from helpers._checks import (
    check_array,
    check_fraction,
    check_instance,
    check_int,
    check_text,
)
from helpers.autograd import no_grad
from helpers.mae import MAE, masked_patch_mse, mean_patch_fill, nearest_visible_fill
from helpers.masking import MASK_STRATEGIES
from helpers.nn import unpatchify
from helpers.plots import show_image
from helpers.widgets._base import PngWidget

# a blue-grey that no MNIST pixel (a shade of pure grey) can take
MASK_GREY = (0.55, 0.58, 0.62)
FILLS = ("nearest", "mean", "mae")
FILL_TITLES = {"nearest": "nearest visible patch", "mean": "mean patch", "mae": "MAE"}


def masked_rgb(image: np.ndarray, mask: np.ndarray, patch: int) -> np.ndarray:
    """The grey image as RGB, every removed patch (mask 1, row-major per patch) grey."""
    img = check_array(image, "image", ndim=2)
    patch = check_int(patch, "patch", minimum=1, maximum=img.shape[0])
    grid = img.shape[0] // patch
    mask = check_array(mask, "mask", ndim=(1, 2))
    if img.shape != (grid * patch, grid * patch) or mask.size != grid * grid:
        raise ValueError(
            f"image must be square with a side divisible by patch={patch} and mask "
            "must hold "
            f"one entry per patch, got image {img.shape} and mask {mask.shape}"
        )
    m = (
        np.asarray(mask).reshape(grid, grid).repeat(patch, axis=0).repeat(patch, axis=1)
        == 1
    )
    rgb = np.repeat(img[..., None], 3, axis=2)
    rgb[m] = MASK_GREY
    return rgb


def mask_state(
    model: MAE,
    image: np.ndarray,
    mean_patch: np.ndarray,
    ratio: float,
    seed: int,
    strategy: str = "random",
) -> dict[str, Any]:
    """Mask an image at ratio by strategy (seed); its fills and their hidden MSE."""
    check_instance(model, MAE, "model")
    check_array(image, "image", ndim=2)
    ratio = check_fraction(ratio, "ratio")
    check_int(seed, "seed")
    patches = model.patchify(image[None])
    with no_grad():
        pred, mask = model(patches, ratio, np.random.default_rng(seed), strategy)
    n_visible = int((mask == 0).sum())
    predictions = {
        "nearest": nearest_visible_fill(patches, mask, model.grid),
        "mean": mean_patch_fill(patches, mask, mean_patch),
        "mae": pred.data,
    }
    size = model.image_size
    fills, mse = {}, {}
    for name, p in predictions.items():
        # visible patches are shown as they are
        shown = np.where(mask[..., None] == 1, p, patches)
        fills[name] = np.clip(unpatchify(shown, model.patch, size, size)[0], 0.0, 1.0)
        mse[name] = masked_patch_mse(p, patches, mask) if mask.any() else None
    return {
        "ratio": ratio,
        "seed": seed,
        "strategy": strategy,
        "mask": mask[0],
        "n_visible": n_visible,
        "image": image,
        "masked": masked_rgb(image, mask[0], model.patch),
        "fills": fills,
        "mse": mse,
    }


def fill_title(state: dict[str, Any], name: str) -> str:
    """Panel title: the fill's name and its MSE on the hidden patches."""
    check_instance(state, dict, "state")
    if not isinstance(name, str) or name not in FILL_TITLES:
        raise ValueError(f"name must be one of {sorted(FILL_TITLES)}, got {name!r}")
    mse = state["mse"][name]
    return f"{FILL_TITLES[name]}\n" + (
        "nothing hidden" if mse is None else f"MSE {mse:.3f}"
    )


def masked_title(state: dict[str, Any]) -> str:
    """Masked panel's title: share, count of patches hidden (not the slider's ratio)."""
    check_instance(state, dict, "state")
    n = state["mask"].size
    hidden = n - state["n_visible"]
    return (
        f"{hidden / n:.0%} hidden, {state['strategy']}\n"
        f"{hidden} of {n} patch{'' if n == 1 else 'es'}"
    )


def draw_fill(ax: Axes, state: dict[str, Any], name: str) -> None:
    """Draw a panel: 'original', 'masked' or a fill (its MSE in the title)."""
    check_instance(ax, Axes, "ax")
    check_instance(state, dict, "state")
    if not isinstance(name, str) or name not in ("original", "masked", *FILL_TITLES):
        raise ValueError(
            f"name must be 'original', 'masked' or one of {sorted(FILL_TITLES)}, got "
            f"{name!r}"
        )
    if name == "original":
        show_image(ax, state["image"], "original")
    elif name == "masked":
        show_image(ax, state["masked"], masked_title(state))
    else:
        show_image(ax, state["fills"][name], fill_title(state, name))


def side_by_side(
    panels: Sequence[np.ndarray], gap: int = 3
) -> tuple[np.ndarray, list[float]]:
    """Join equal-size grey/RGB images left to right on white; canvas and centres."""
    if (
        isinstance(panels, str)
        or not isinstance(panels, (Sequence, np.ndarray))
        or len(panels) == 0
    ):
        raise TypeError(
            f"panels must be a non-empty list of images, got {type(panels).__name__}"
        )
    panels = [check_array(p, f"panels[{i}]", ndim=(2, 3)) for i, p in enumerate(panels)]
    check_int(gap, "gap")
    rgb = [p if p.ndim == 3 else np.repeat(p[..., None], 3, axis=2) for p in panels]
    h, w, _ = rgb[0].shape
    canvas = np.ones((h, len(rgb) * (w + gap) - gap, 3))
    for i, p in enumerate(rgb):
        canvas[:, i * (w + gap) : i * (w + gap) + w] = p
    return canvas, [i * (w + gap) + (w - 1) / 2 for i in range(len(rgb))]


class MaskingExplorer(PngWidget):
    """Masking Strategy Explorer: strategy, ratio, resample, digit, Reconstruct."""

    def __init__(
        self,
        model: MAE,
        images: np.ndarray,
        labels: np.ndarray,
        mean_patch: np.ndarray,
        n_choices: int = 8,
        seed: int = 0,
    ) -> None:
        """Offer the first n_choices images (e.g. held-out digits) with their labels."""
        self.model = check_instance(model, MAE, "model")
        self.images = check_array(images, "images", ndim=3)
        self.mean_patch = check_array(mean_patch, "mean_patch", ndim=(1, 2))
        check_int(n_choices, "n_choices", minimum=1, maximum=len(self.images))
        labels = check_array(labels, "labels", ndim=1, kinds="iu")
        if len(labels) < n_choices:
            raise ValueError(
                f"labels must give one label per offered image ({n_choices}), got "
                f"{len(labels)}"
            )
        self.seed = check_int(seed, "seed")
        options = [
            (f"test digit {i} (a {int(labels[i])})", i) for i in range(n_choices)
        ]
        # one step = one more hidden patch: no step leaves the view unchanged
        n = model.n_patches
        self.slider = widgets.FloatSlider(
            value=0.75,
            min=0.0,
            max=(n - 1) / n,
            step=1 / n,
            description="masked",
            readout_format=".1%",
            continuous_update=True,
        )
        self.strategy = widgets.ToggleButtons(
            options=MASK_STRATEGIES, value="random", description="strategy"
        )
        self.choice = widgets.Dropdown(options=options, value=0, description="image")
        self.reconstruct = widgets.ToggleButton(value=True, description="Reconstruct")
        self.resample = widgets.Button(description="Resample mask")
        self.resample.on_click(self._on_resample)
        controls = [self.strategy, self.slider, self.choice, self.reconstruct]
        self.figure: Figure | None = None
        self._titles: list[Any] = []
        super().__init__(controls, "Masking Strategy Explorer (needs a live kernel).")
        self.view.children = (
            self.strategy,
            widgets.HBox([self.slider, self.choice]),
            widgets.HBox([self.resample, self.reconstruct]),
            self.image,
        )

    def compute(self) -> dict[str, Any]:
        """State for the current ratio, digit, mask seed and Reconstruct toggle."""
        image = self.images[self.choice.value]
        state = mask_state(
            self.model,
            image,
            self.mean_patch,
            self.slider.value,
            self.seed,
            self.strategy.value,
        )
        state["show_fills"] = bool(self.reconstruct.value)
        return state

    def draw(self, state: dict[str, Any]) -> Figure:
        """Original, masked input and (if Reconstruct) the three fills, one canvas."""
        blank = np.ones_like(state["image"])
        panels = [state["image"], state["masked"]]
        panels += [
            state["fills"][name] if state["show_fills"] else blank for name in FILLS
        ]
        titles = ["original", masked_title(state)]
        titles += [
            fill_title(state, name)
            if state["show_fills"]
            else f"{FILL_TITLES[name]}\n(press Reconstruct)"
            for name in FILLS
        ]
        canvas, centres = side_by_side(panels)
        # built once; later updates only swap the pixels and the titles
        if self.figure is None:
            self.figure = Figure(figsize=(8.0, 2.05))
            self.figure.subplots_adjust(left=0.01, right=0.99, bottom=0.02, top=0.78)
            ax = self.figure.add_subplot()
            show_image(ax, canvas)
            self._titles = [
                ax.text(x, -1.5, "", ha="center", va="bottom", fontsize=9)
                for x in centres
            ]
            self.dynamic = (ax.images[0], *self._titles)  # the blank axes stay as drawn
        self.figure.axes[0].images[0].set_data(canvas)
        for text, title in zip(self._titles, titles):
            text.set_text(title)
        return self.figure

    def _on_resample(self, _button: Any) -> None:
        """Button handler: a new random mask at the same ratio."""
        self.seed += 1
        self.update()

    def static_figure(
        self,
        ratios: Sequence[float] = (0.25, 0.5, 0.75, 0.9),
        index: int = 0,
        strategy: str = "random",
    ) -> Figure:
        """Rows of ratios x (original, masked, 3 fills), a digit (no kernel needed)."""
        check_int(index, "index", maximum=len(self.images) - 1)
        states = [
            mask_state(
                self.model, self.images[index], self.mean_patch, r, self.seed, strategy
            )
            for r in ratios
        ]
        panels = ("original", "masked") + FILLS
        # constrained layout leaves room for every two-line title above its row
        fig, axes = plt.subplots(
            len(ratios),
            len(panels),
            figsize=(7.4, 0.4 + 1.9 * len(ratios)),
            squeeze=False,
            layout="constrained",
        )
        for row, state in zip(axes, states):
            for ax, name in zip(row, panels):
                draw_fill(ax, state, name)
        fig.suptitle(
            f"Original, {strategy} masking, and the three fills (MSE on the hidden "
            "patches)",
            fontsize=10,
        )
        return fig


def masking_explorer(
    model: MAE,
    images: np.ndarray,
    labels: np.ndarray,
    mean_patch: np.ndarray,
    n_choices: int = 8,
    seed: int = 0,
) -> MaskingExplorer:
    """Build chapter 03's Masking Strategy Explorer: trained MAE, held-out images."""
    return MaskingExplorer(model, images, labels, mean_patch, n_choices, seed)
