"""Input checks shared by every public helper: each raises ValueError saying why."""

from __future__ import annotations

from typing import Any

import numpy as np


def check_rng(rng: Any, name: str = "rng") -> np.random.Generator:
    """Return rng if it is a numpy Generator, else raise."""
    if not isinstance(rng, np.random.Generator):
        raise ValueError(
            f"{name} must be a np.random.Generator (use np.random.default_rng(seed)), "
            f"got {type(rng).__name__}"
        )
    return rng


def check_fraction(
    value: float, name: str, *, low_open: bool = False, high_open: bool = True
) -> float:
    """Return value as float if it lies in [0, 1] (ends open as asked), else raise."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    lo_ok = v > 0 if low_open else v >= 0
    hi_ok = v < 1 if high_open else v <= 1
    if not (np.isfinite(v) and lo_ok and hi_ok):
        interval = ("(" if low_open else "[") + "0, 1" + (")" if high_open else "]")
        raise ValueError(f"{name} must lie in {interval}, got {value!r}")
    return v


def _check_number(value: float, name: str, *, strict: bool) -> float:
    """Return value as float if it is finite and > 0 (strict) or >= 0, else raise."""
    bound = "> 0" if strict else ">= 0"
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number {bound}, got {value!r}") from None
    if not (np.isfinite(v) and (v > 0 if strict else v >= 0)):
        raise ValueError(f"{name} must be a finite number {bound}, got {value!r}")
    return v


def check_positive(value: float, name: str) -> float:
    """Return value as float if it is finite and > 0, else raise."""
    return _check_number(value, name, strict=True)


def check_nonnegative(value: float, name: str) -> float:
    """Return value as float if it is finite and >= 0, else raise."""
    return _check_number(value, name, strict=False)


def check_int(
    value: Any, name: str, *, minimum: int = 0, maximum: int | None = None
) -> int:
    """Return value if it is an integer within [minimum, maximum], else raise."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        upper = "" if maximum is None else f" and <= {maximum}"
        raise ValueError(f"{name} must be >= {minimum}{upper}, got {value}")
    return int(value)


def check_bool(value: Any, name: str) -> bool:
    """Return value if it is a bool (or numpy bool), else raise: "no" is not True."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


KIND_NAMES = {"b": "bool", "i": "int", "u": "unsigned int", "f": "float"}


def check_array(
    x: Any,
    name: str,
    *,
    ndim: int | tuple[int, ...] | None = None,
    finite: bool = True,
    kinds: str = "biuf",
    allow_empty: bool = False,
) -> np.ndarray:
    """Return x as an ndarray after checking its dimensions, dtype kind, size and
    finiteness.

    None raises TypeError; object, complex and string arrays raise ValueError, and so
    does an empty array (a zero-length axis: no rows or zero width) unless allow_empty.
    """
    if x is None:
        raise TypeError(f"{name} must be an array, got None")
    data = getattr(x, "data", x) if not isinstance(x, np.ndarray) else x
    try:
        arr = np.asarray(data)
    except ValueError as err:  # ragged nested lists
        raise ValueError(f"{name} must be a rectangular array: {err}") from None
    if arr.dtype.kind not in kinds:
        allowed = ", ".join(KIND_NAMES[k] for k in kinds)
        raise ValueError(
            f"{name} must be a real array ({allowed} values), got dtype {arr.dtype}"
        )
    if ndim is not None:
        allowed_ndim = (ndim,) if isinstance(ndim, int) else ndim
        if arr.ndim not in allowed_ndim:
            raise ValueError(
                f"{name} must have {' or '.join(map(str, allowed_ndim))} dimensions, "
                f"got shape {arr.shape}"
            )
    if not allow_empty and arr.size == 0:
        raise ValueError(
            f"{name} must be non-empty (at least one row and one column), got shape "
            f"{arr.shape}"
        )
    if finite and arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf; all values must be finite")
    return arr


def check_instance(value: Any, cls: type | tuple[type, ...], name: str) -> Any:
    """Return value if it is an instance of cls, else raise TypeError naming it."""
    if not isinstance(value, cls):
        wanted = " or ".join(
            c.__name__ for c in (cls if isinstance(cls, tuple) else (cls,))
        )
        raise TypeError(f"{name} must be a {wanted}, got {type(value).__name__}")
    return value


def check_sizes(value: Any, name: str) -> list[int]:
    """Return value as a list of >= 2 layer widths (integers >= 1), else raise."""
    if isinstance(value, (str, bytes)) or not isinstance(
        value, (list, tuple, np.ndarray)
    ):
        raise TypeError(
            f"{name} must be a list of at least 2 layer widths, got "
            f"{type(value).__name__}"
        )
    widths = (
        list(np.asarray(value).reshape(-1))
        if isinstance(value, np.ndarray)
        else list(value)
    )
    if len(widths) < 2 or any(
        isinstance(w, bool) or not isinstance(w, (int, np.integer)) or w < 1
        for w in widths
    ):
        raise ValueError(
            f"{name} must be a list of at least 2 integer layer widths >= 1, got "
            f"{value!r}"
        )
    return [int(w) for w in widths]


def check_text(value: Any, name: str, *, optional: bool = False) -> str | None:
    """Return value if it is a string (or None when optional), else raise naming it."""
    if not (isinstance(value, str) or (optional and value is None)):
        allowed = "a string or None" if optional else "a string"
        raise TypeError(f"{name} must be {allowed}, got {type(value).__name__}")
    return value
