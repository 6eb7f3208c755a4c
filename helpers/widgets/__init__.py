"""Interactive widgets, one module per chapter; each is a `PngWidget` (see `helpers.widgets._base`)."""

from helpers.widgets._base import PngWidget

__all__ = ["PngWidget"]
