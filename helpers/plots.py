"""One plotting style for the whole book, and the figure helpers all chapters share."""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from cycler import cycler
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

from helpers._checks import (
    check_array,
    check_instance,
    check_int,
    check_nonnegative,
    check_positive,
    check_text,
)

# Okabe-Ito colours: distinguishable with the common forms of colour blindness.
BOOK_COLORS = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#F0E442",
    "#000000",
)
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
    """Set matplotlib's rcParams to the book's style (once, after importing pyplot)."""
    matplotlib.rcParams.update(BOOK_STYLE)


def show_image(
    ax: Axes, image: np.ndarray, title: str | None = None, cmap: str = "gray"
) -> Axes:
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
    """Draw images (values 0..1) in ncols columns, each size inches wide; return fig."""
    if isinstance(images, str) or not isinstance(images, (Sequence, np.ndarray)):
        raise TypeError(
            f"images must be a list or array of images, got {type(images).__name__}"
        )
    images = [
        check_array(im, f"images[{i}]", ndim=(2, 3)) for i, im in enumerate(images)
    ]
    check_int(ncols, "ncols", minimum=1)
    check_positive(size, "size")
    if not images:
        raise ValueError("images must hold at least one image")
    check_text(cmap, "cmap")
    check_text(suptitle, "suptitle", optional=True)
    if titles is not None and (
        isinstance(titles, str)
        or not isinstance(titles, Sequence)
        or not all(isinstance(t, str) for t in titles)
    ):
        raise TypeError(
            f"titles must be a list of strings or None, got {type(titles).__name__}"
        )
    if titles is not None and len(titles) != len(images):
        raise ValueError(
            f"titles must give one title per image: {len(titles)} titles, "
            f"{len(images)} images"
        )
    ncols = min(ncols, len(images))
    nrows = -(-len(images) // ncols)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(size * ncols, size * nrows + 0.3 * bool(suptitle)),
        squeeze=False,
    )
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
    ax: Axes,
    x: np.ndarray,
    y: np.ndarray,
    xlabel: str,
    ylabel: str,
    title: str | None = None,
    label: str | None = None,
) -> Axes:
    """Plot y against x on ax, axes labelled (legend entry if label); return ax."""
    check_instance(ax, Axes, "ax")
    x = check_array(x, "x", ndim=1)
    y = check_array(y, "y", ndim=1)
    if x.shape != y.shape:
        raise ValueError(
            f"x and y must have the same length, got {x.shape[0]} and {y.shape[0]}"
        )
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


def _visible_texts(fig: Figure) -> list[Text]:
    """Every text fig draws: titles, labels, legends, annotations, tick labels shown."""
    ticks, shown = set(), []
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            low, high = sorted(axis.get_view_interval())
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                labels = (tick.label1, tick.label2)
                ticks.update(map(id, labels))
                inside = (
                    low - 1e-9 * (high - low)
                    <= tick.get_loc()
                    <= high + 1e-9 * (high - low)
                )
                if ax.get_visible() and ax.axison and axis.get_visible() and inside:
                    shown += [
                        t for t in labels if t.get_visible() and t.get_text().strip()
                    ]
    return shown + [
        t
        for t in fig.findobj(Text)
        if id(t) not in ticks
        and t.get_visible()
        and t.get_text().strip()
        and (t.axes is None or t.axes.get_visible())
    ]


def collisions(fig: Figure, pad_px: float = 1.0) -> list[str]:
    """Overlaps a reader would see: two texts, a text over another axes' image, a legend
    over plotted data.

    Draws fig once (Agg) and compares window extents, shrunk by pad_px so that touching
    is allowed; a text drawn exactly over the same text (a recoloured copy) reads as one
    and is not an overlap. Returns one line per overlap (empty when the figure is
    clean).
    """
    check_instance(fig, Figure, "fig")
    check_nonnegative(pad_px, "pad_px")
    renderer = (
        fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    ).get_renderer()
    fig.draw(renderer)
    boxes = [
        (t, t.get_window_extent(renderer).expanded(1, 1).padded(-pad_px))
        for t in _visible_texts(fig)
    ]
    found = [
        f"text {a.get_text()!r} overlaps text {b.get_text()!r}"
        for i, (a, box_a) in enumerate(boxes)
        for b, box_b in boxes[i + 1 :]
        if box_a.width > 0
        and box_b.width > 0
        and box_a.overlaps(box_b)
        # a recoloured twin
        and not (
            a.get_text() == b.get_text() and np.allclose(box_a.bounds, box_b.bounds)
        )
    ]
    for ax in fig.axes:
        for image in ax.images:
            box = image.get_window_extent(renderer).padded(-pad_px)
            found += [
                f"text {t.get_text()!r} overlaps the image of another panel"
                for t, b in boxes
                if t.axes is not ax and b.overlaps(box)
            ]
        legend = ax.get_legend()
        if legend is not None and legend.get_visible():
            box = legend.get_window_extent(renderer)
            for line in ax.get_lines():
                xy = ax.transData.transform(np.asarray(line.get_xydata(), float))
                if line.get_visible() and box.count_contains(xy):
                    found.append(f"the legend covers data of {line.get_label()!r}")
    return found


def fig_to_png(fig: Figure, dpi: float = BOOK_DPI) -> bytes:
    """Render fig as PNG bytes at dpi with the Agg renderer, close it, return them."""
    check_instance(fig, Figure, "fig")
    dpi = check_positive(dpi, "dpi")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()
