"""One plotting style for the whole book, and the few figure helpers every chapter shares."""
from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from cycler import cycler
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from helpers._checks import check_array, check_instance, check_int, check_positive, check_text

# Okabe-Ito colours: distinguishable with the common forms of colour blindness.
BOOK_COLORS = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
BOOK_DPI = 90
BOOK_STYLE = {
    "figure.dpi": BOOK_DPI,
    "savefig.dpi": BOOK_DPI,
    "figure.figsize": (6.0, 3.5),
    "figure.facecolor": "white",
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": cycler(color=BOOK_COLORS),
    "image.cmap": "gray",
    "legend.frameon": False,
}


def use_book_style() -> None:
    """Set matplotlib's rcParams to the book's style (call once, after importing pyplot)."""
    matplotlib.rcParams.update(BOOK_STYLE)


def show_image(ax: Axes, image: np.ndarray, title: str | None = None, cmap: str = "gray") -> Axes:
    """Draw one image on ax, values 0..1, without ticks or grid; return ax."""
    check_instance(ax, Axes, "ax")
    check_text(title, "title", optional=True)
    check_text(cmap, "cmap")
    ax.imshow(check_array(image, "image", ndim=(2, 3)), cmap=cmap, vmin=0.0, vmax=1.0)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    if title is not None:
        ax.set_title(title, fontsize=9)
    return ax


def show_images(
    images: Sequence[np.ndarray] | np.ndarray,
    titles: Sequence[str] | None = None,
    ncols: int = 8,
    cmap: str = "gray",
    suptitle: str | None = None,
    size: float = 1.3,
) -> Figure:
    """Draw images (values 0..1) in a grid of ncols columns, each size inches wide; return the figure."""
    if isinstance(images, str) or not isinstance(images, (Sequence, np.ndarray)):
        raise TypeError(f"images must be a list or array of images, got {type(images).__name__}")
    images = [check_array(im, f"images[{i}]", ndim=(2, 3)) for i, im in enumerate(images)]
    check_int(ncols, "ncols", minimum=1)
    check_positive(size, "size")
    if not images:
        raise ValueError("images must hold at least one image")
    check_text(cmap, "cmap")
    check_text(suptitle, "suptitle", optional=True)
    if titles is not None and (isinstance(titles, str) or not isinstance(titles, Sequence)
                               or not all(isinstance(t, str) for t in titles)):
        raise TypeError(f"titles must be a list of strings or None, got {type(titles).__name__}")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"titles must give one title per image: {len(titles)} titles, {len(images)} images")
    ncols = min(ncols, len(images))
    nrows = -(-len(images) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.3 * bool(suptitle)), squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i < len(images):
            show_image(ax, images[i], None if titles is None else titles[i], cmap)
        else:
            ax.set_axis_off()
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def plot_curve(
    ax: Axes, x: np.ndarray, y: np.ndarray, xlabel: str, ylabel: str, title: str | None = None, label: str | None = None
) -> Axes:
    """Plot y against x on ax with labelled axes (and a legend entry if label is given); return ax."""
    check_instance(ax, Axes, "ax")
    x = check_array(x, "x", ndim=1)
    y = check_array(y, "y", ndim=1)
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same length, got {x.shape[0]} and {y.shape[0]}")
    check_text(xlabel, "xlabel")
    check_text(ylabel, "ylabel")
    check_text(title, "title", optional=True)
    check_text(label, "label", optional=True)
    ax.plot(x, y, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    if label is not None:
        ax.legend()
    return ax


def fig_to_png(fig: Figure, dpi: float = BOOK_DPI) -> bytes:
    """Render fig as PNG bytes at dpi with the Agg renderer, close it, and return the bytes."""
    check_instance(fig, Figure, "fig")
    dpi = check_positive(dpi, "dpi")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()
