"""Chapter 00's widget: Gaussian noise on a real MNIST digit and its pixel histogram."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.patches import StepPatch
from matplotlib.ticker import NullLocator

from helpers._checks import (
    check_array,
    check_fraction,
    check_instance,
    check_int,
    check_nonnegative,
)
from helpers.data import load_mnist
from helpers.plots import show_image
from helpers.widgets._base import PngWidget

HIST_BINS = np.linspace(0.0, 1.0, 21)


def add_noise(image: np.ndarray, noise: np.ndarray, sigma: float) -> np.ndarray:
    """Return image + sigma * noise, clipped to [0, 1]."""
    image, noise = (
        check_array(image, "image", ndim=2),
        check_array(noise, "noise", ndim=2),
    )
    if image.shape != noise.shape:
        raise ValueError(
            f"noise must have the shape of image {image.shape}, got {noise.shape}"
        )
    sigma = check_nonnegative(sigma, "sigma")
    return np.clip(image + sigma * noise, 0.0, 1.0)


def noise_state(image: np.ndarray, noise: np.ndarray, sigma: float) -> dict[str, Any]:
    """Return the noisy image, its 20-bin pixel histogram and its MSE for one sigma."""
    noisy = add_noise(image, noise, sigma)
    return {
        "sigma": sigma,
        "noisy": noisy,
        "hist": np.histogram(noisy, bins=HIST_BINS)[0],
        "mse": float(np.mean((noisy - image) ** 2)),
    }


def noise_title(state: dict[str, Any]) -> str:
    """Title of the digit panel: σ and the MSE to the clean digit."""
    check_instance(state, dict, "state")
    return f"σ = {state['sigma']:.2f}, MSE = {state['mse']:.3f}"


def draw_noise_state(
    ax_image: Axes, ax_hist: Axes, state: dict[str, Any]
) -> tuple[AxesImage, StepPatch]:
    """Draw a state: digit on ax_image, histogram on ax_hist; return both artists."""
    check_instance(ax_image, Axes, "ax_image")
    check_instance(ax_hist, Axes, "ax_hist")
    check_instance(state, dict, "state")
    show_image(ax_image, state["noisy"], noise_title(state))
    hist = ax_hist.stairs(state["hist"], HIST_BINS, fill=True)
    ax_hist.set_yscale("log")
    ax_hist.set_ylim(0.8, 784)
    ax_hist.yaxis.set_minor_locator(NullLocator())
    ax_hist.set_yticks([1, 10, 100], ["1", "10", "100"])
    ax_hist.set_xlabel("pixel value")
    ax_hist.set_ylabel("pixels (log scale)")
    return ax_image.images[-1], hist


class NoiseDemo(PngWidget):
    """A slider sets the noise σ on an MNIST digit; the view shows digit, histogram."""

    def __init__(self, index: int = 0, seed: int = 0) -> None:
        """Pick MNIST digit number index and draw one fixed noise pattern from seed."""
        check_int(index, "index", maximum=4999)
        check_int(seed, "seed")
        self.clean = load_mnist()[0][index]
        self.noise = (
            np.random.default_rng(seed)
            .standard_normal(self.clean.shape)
            .astype(np.float32)
        )
        self.slider = widgets.FloatSlider(
            value=0.0, min=0.0, max=1.0, step=0.05, description="noise σ"
        )
        # built once; updates change its artists in place
        self.figure = Figure(figsize=(5.6, 2.4))
        self.ax_image, ax_hist = self.figure.subplots(1, 2, width_ratios=(1, 1.6))
        self.figure.subplots_adjust(
            left=0.02, right=0.97, bottom=0.2, top=0.88, wspace=0.35
        )
        self.noisy, self.hist = draw_noise_state(self.ax_image, ax_hist, self.compute())
        # axes and labels stay as drawn
        self.dynamic = (self.noisy, self.hist, self.ax_image.title)
        super().__init__(
            [self.slider], "Noise demo: drag the slider (needs a live kernel)."
        )

    def compute(self) -> dict[str, Any]:
        """Return the state for the slider's σ."""
        return noise_state(self.clean, self.noise, self.slider.value)

    def draw(self, state: dict[str, Any]) -> Figure:
        """Show state: new pixels, histogram heights and title on the same figure."""
        self.noisy.set_data(state["noisy"])
        self.hist.set_data(values=state["hist"])
        self.ax_image.title.set_text(noise_title(state))
        return self.figure

    def static_figure(self, sigmas: Sequence[float] = (0.0, 0.1, 0.3, 0.6)) -> Figure:
        """Figure: digit and histogram at several σ side by side (no kernel needed)."""
        for sigma in sigmas:
            check_fraction(sigma, "sigma", high_open=False)
        fig, axes = plt.subplots(
            2, len(sigmas), figsize=(2.3 * len(sigmas), 4.4), squeeze=False
        )
        for col, sigma in enumerate(sigmas):
            draw_noise_state(
                axes[0, col],
                axes[1, col],
                noise_state(self.clean, self.noise, float(sigma)),
            )
        fig.suptitle(
            "One digit, growing noise: the middle bins fill, clipping piles pixels at "
            "0 and 1"
        )
        fig.tight_layout()
        return fig


def noise_demo(index: int = 0, seed: int = 0) -> NoiseDemo:
    """Build chapter 00's noise demo for MNIST digit number index."""
    return NoiseDemo(index, seed)
