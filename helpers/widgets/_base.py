"""The pattern every widget of the book follows: plain-Python state, a PNG view, no
`interact`.

A subclass builds its controls and one figure, then calls `PngWidget.__init__(self,
controls, caption)`, and defines `compute()` (state from the controls' values, plain
numpy) and `draw(state)` (updates the artists of that figure in place: set_data,
set_text, ...; returns it). Each change of a control runs `update()`: compute, draw,
render to PNG, count. Tests drive the controls directly (`w.slider.value = ...`) and
read `w.state`, `w.image.value` and `w.updates`. Rendering reuses the figure's Agg
canvas and a fast PNG encoder (png_encode). A widget that lists the artists draw()
changes in `self.dynamic` gets blitting: the rest (axes, ticks, labels: most of the
drawing time) is drawn once and kept as a background. Artists that change only now and
then (e.g. tick labels) go in `self.layered`: they are drawn onto that background again
only after `redraw_background()`, not with every update and without redrawing the rest.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from typing import Any

import ipywidgets as widgets
import numpy as np
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from helpers._checks import check_instance, check_positive

# the browser shows the image at the figure's size: a 9-pt label reads as 9 pt
CSS_PX_PER_INCH = 96
# two pixels per CSS pixel: sharp on HiDPI screens as well
WIDGET_DPI = 2 * CSS_PX_PER_INCH
MIN_FONT_PT = 9  # smallest label in a widget figure, readable at 1024 px
# zlib level: 3x faster than matplotlib's default, files about 10 % larger
PNG_LEVEL = 1
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def agg_canvas(fig: Figure, dpi: float = WIDGET_DPI) -> FigureCanvasAgg:
    """fig's Agg canvas (attached once, then reused) with fig set to dpi."""
    check_instance(fig, Figure, "fig")
    dpi = check_positive(dpi, "dpi")
    canvas = (
        fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    )
    if fig.dpi != dpi:
        fig.set_dpi(dpi)
    return canvas


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, 4-letter kind, data and CRC."""
    if not isinstance(kind, bytes) or len(kind) != 4 or not isinstance(data, bytes):
        raise ValueError(
            f"kind must be 4 bytes and data bytes, got {kind!r:.20} and "
            f"{type(data).__name__}"
        )
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data))
    )


def png_encode(rgb: np.ndarray) -> bytes:
    """Lossless PNG of an (h, w, 3) or (h, w, 4) uint8 image (alpha dropped), fast: no
    row filter, zlib PNG_LEVEL.

    Matplotlib's and Pillow's encoders try a filter per row, which costs about as much
    as the compression; widget images are flat colour and text, so unfiltered rows
    compress nearly as well.
    """
    if (
        not isinstance(rgb, np.ndarray)
        or rgb.dtype != np.uint8
        or rgb.ndim != 3
        or rgb.shape[2] not in (3, 4)
        or not rgb.shape[0]
        or not rgb.shape[1]
    ):
        raise ValueError(
            "rgb must be a non-empty (h, w, 3 or 4) uint8 array, got "
            f"{getattr(rgb, 'shape', rgb)!r:.40}"
        )
    height, width = rgb.shape[:2]
    # each row: filter byte 0 ("none"), then RGB
    rows = np.zeros((height, 1 + 3 * width), np.uint8)
    rows[:, 1:] = rgb[:, :, :3].reshape(height, 3 * width)
    # 8-bit RGB, no interlace
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        PNG_SIGNATURE
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(rows.data, PNG_LEVEL))
        + png_chunk(b"IEND", b"")
    )


def canvas_png(canvas: FigureCanvasAgg) -> bytes:
    """The pixels last drawn on canvas as RGB PNG bytes (png_encode)."""
    check_instance(canvas, FigureCanvasAgg, "canvas")
    return png_encode(np.asarray(canvas.buffer_rgba()))


def render_png(fig: Figure, dpi: float = WIDGET_DPI) -> bytes:
    """Draw all of fig at dpi, return PNG bytes; fig stays open for the next update."""
    canvas = agg_canvas(fig, dpi)
    canvas.draw()
    return canvas_png(canvas)


class PngWidget:
    """Controls above an ipywidgets.Image redrawn from plain-Python state on change."""

    def __init__(self, controls: list[widgets.Widget], caption: str) -> None:
        """Wire the controls to update() and draw the first state."""
        self.caption = caption
        self.updates = 0
        self.state: dict[str, Any] = {}
        self.dynamic: Sequence[Artist] = getattr(self, "dynamic", ())
        self.layered: Sequence[Artist] = getattr(self, "layered", ())
        # (figure, pixels without the dynamic and layered artists)
        self._base: Any = None
        # the base with the layered artists drawn on it; None: draw them again
        self._background: Any = None
        self.image = widgets.Image(
            format="png", layout=widgets.Layout(max_width="100%", height="auto")
        )
        self.view = widgets.VBox([*controls, self.image])
        for control in controls:
            control.observe(self._on_change, names="value")
        self.update()

    def compute(self) -> dict[str, Any]:
        """Return the state for the controls' current values (defined per widget)."""
        raise NotImplementedError

    def draw(self, state: dict[str, Any]) -> Figure:
        """Update the figure to show state and return it (each widget defines it)."""
        raise NotImplementedError

    def update(self) -> None:
        """Recompute state, redraw the figure in place, re-render the image; count."""
        self.state = self.compute()
        fig = self.draw(self.state)
        width = f"{round(fig.get_figwidth() * CSS_PX_PER_INCH)}px"
        self.image.value = self._render(fig)
        if self.image.layout.width != width:
            self.image.layout.width = width
        self.updates += 1

    def redraw_background(self) -> None:
        """Redraw the layers onto the background next update (if draw() changed one)."""
        self._background = None

    def _render(self, fig: Figure) -> bytes:
        """PNG of fig: the kept background with dynamic artists on it, or all of fig."""
        if not self.dynamic:
            return render_png(fig)
        canvas = agg_canvas(fig)
        if self._base is None or self._base[0] is not fig:
            for artist in (*self.dynamic, *self.layered):
                # left out of canvas.draw(): the base holds the rest
                artist.set_animated(True)
            canvas.draw()
            self._base, self._background = (fig, canvas.copy_from_bbox(fig.bbox)), None
        if self._background is None:
            canvas.restore_region(self._base[1])
            for artist in self.layered:
                fig.draw_artist(artist)
            self._background = canvas.copy_from_bbox(fig.bbox)
        else:
            canvas.restore_region(self._background)
        for artist in self.dynamic:
            fig.draw_artist(artist)
        return canvas_png(canvas)

    def _on_change(self, change: dict[str, Any]) -> None:
        """Observer: any new control value triggers an update."""
        self.update()

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        """Display the live view; the plain-text fallback is a fixed caption (nbval)."""
        bundle = self.view._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = self.caption
        return bundle
