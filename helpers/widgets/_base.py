"""The pattern every widget of the book follows: plain-Python state, a PNG view, no `interact`.

A subclass builds its controls, then calls `PngWidget.__init__(self, controls, caption)`, and
defines `compute()` (state from the controls' values, plain numpy) and `draw(state)` (a matplotlib
figure). Each change of a control runs `update()`: compute, render to PNG, count. Tests drive the
controls directly (`w.slider.value = ...`) and read `w.state`, `w.image.value` and `w.updates`.
"""
from __future__ import annotations

from typing import Any

import ipywidgets as widgets
from matplotlib.figure import Figure

from helpers.plots import fig_to_png

CSS_PX_PER_INCH = 96  # the browser shows the image at the figure's size: a 9-pt label reads as 9 pt
WIDGET_DPI = 2 * CSS_PX_PER_INCH  # two pixels per CSS pixel: sharp on HiDPI screens as well
MIN_FONT_PT = 9  # smallest label in a widget figure, readable at 1024 px


class PngWidget:
    """Controls above an ipywidgets.Image redrawn from plain-Python state on every change."""

    def __init__(self, controls: list[widgets.Widget], caption: str) -> None:
        """Wire the controls to update() and draw the first state."""
        self.caption = caption
        self.updates = 0
        self.state: dict[str, Any] = {}
        self.image = widgets.Image(format="png", layout=widgets.Layout(max_width="100%", height="auto"))
        self.view = widgets.VBox([*controls, self.image])
        for control in controls:
            control.observe(self._on_change, names="value")
        self.update()

    def compute(self) -> dict[str, Any]:
        """Return the state for the controls' current values (defined by each widget)."""
        raise NotImplementedError

    def draw(self, state: dict[str, Any]) -> Figure:
        """Return a figure showing state (defined by each widget)."""
        raise NotImplementedError

    def update(self) -> None:
        """Recompute the state, re-render the image and count the update."""
        self.state = self.compute()
        fig = self.draw(self.state)
        width = f"{round(fig.get_figwidth() * CSS_PX_PER_INCH)}px"
        self.image.value = fig_to_png(fig, dpi=WIDGET_DPI)
        if self.image.layout.width != width:
            self.image.layout.width = width
        self.updates += 1

    def _on_change(self, change: dict[str, Any]) -> None:
        """Observer: any new control value triggers an update."""
        self.update()

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        """Display the live view; the plain-text fallback is a fixed caption (stable under nbval)."""
        bundle = self.view._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = self.caption
        return bundle
