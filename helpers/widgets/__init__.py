"""Interactive widgets, one module per chapter, each a `PngWidget` (see `._base`)."""

from helpers.widgets._base import PngWidget

__all__ = ["PngWidget"]
