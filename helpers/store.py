"""The pre-training store: a trained run is saved once, on disk, and loaded every time
after.

An entry is a folder named by the run's key: `arrays.npz` (plain arrays, read without
pickle) and `record.json` (the run's settings, CPU seconds, versions, date and the
SHA-256 of `arrays.npz`; per-step losses are in the arrays). The key hashes everything
that decides the result: the method and every setting, the seed, the bytes of the
training data and the code that trains (the syntax tree of the method's module and of
every helpers module it imports: layout, comments and docstrings do not count), so an
entry made by other code or data is never found, let alone loaded; editing one method's
code retrains that method's runs only. Writes go to a temporary folder renamed into
place (atomic); an entry that fails its checksum is reported and trained again, never
used.
"""

from __future__ import annotations

import ast
import datetime as _dt
import hashlib
import json
import os
import platform
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "STORE_ENV",
    "Entry",
    "array_digest",
    "blas_kernel",
    "code_digest",
    "entry_key",
    "load_or_make",
    "source_digest",
    "store_dir",
    "store_size",
]

STORE_ENV = "SSL_STORE"  # environment variable naming the store's folder
FORMAT = 1  # bump when the entry layout changes: every older entry then misses
_HELPERS = Path(__file__).resolve().parent


@dataclass
class Entry:
    """One stored run: named arrays (model state, losses, ...) and a JSON record."""

    arrays: dict[str, np.ndarray]
    record: dict[str, Any]

    def __post_init__(self) -> None:
        """Check the entry: arrays maps names to numeric arrays, record is a dict."""
        if not isinstance(self.arrays, dict) or not all(
            isinstance(k, str) and isinstance(v, np.ndarray) and v.dtype != object
            for k, v in self.arrays.items()
        ):
            raise ValueError("arrays must be a dict of names to numeric numpy arrays")
        if not isinstance(self.record, dict):
            raise ValueError(
                "record must be a dict of JSON values, got "
                f"{type(self.record).__name__}"
            )


def store_dir() -> Path:
    """The store's folder: $SSL_STORE if set, else ssl-from-scratch/ in user cache."""
    chosen = os.environ.get(STORE_ENV, "").strip()
    if chosen:
        return Path(chosen).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME", "").strip() or Path.home() / ".cache"
    return Path(cache) / "ssl-from-scratch"


def store_size() -> tuple[int, int]:
    """(number of entries, bytes on disk) of the store."""
    root = store_dir()
    entries = (
        [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
        if root.is_dir()
        else []
    )
    return len(entries), sum(
        f.stat().st_size for p in entries for f in p.iterdir() if f.is_file()
    )


def array_digest(*arrays: Any) -> str:
    """SHA-256 of arrays' dtypes, shapes and bytes (None hashes as its own marker)."""
    h = hashlib.sha256()
    for a in arrays:
        if a is None:
            h.update(b"None;")
            continue
        a = np.ascontiguousarray(a)
        if a.dtype == object:
            raise ValueError(
                f"arrays must hold numbers, got dtype object of shape {a.shape}"
            )
        h.update(f"{a.dtype.str}{a.shape};".encode())
        h.update(a.tobytes())
    return h.hexdigest()


@lru_cache(maxsize=None)
def _source(path: Path) -> bytes:
    """A source file's bytes, read once per process: a process that trains hashes the
    code it loaded, not a file edited on disk after it started (`python -m helpers.runs`
    reads them all at start)."""
    return path.read_bytes()


def _code(path: Path) -> bytes:
    """What a source file computes (`_stripped_tree` of its bytes)."""
    return _stripped_tree(_source(path))


@lru_cache(maxsize=None)
def _stripped_tree(source: bytes) -> bytes:
    """The syntax tree of source without docstrings, so layout, comments and docstrings
    (a reformat, a reworded explanation) leave a key unchanged and any change to the
    code changes it; parsed once per distinct source."""
    tree = ast.parse(source.decode("utf-8"))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(
                node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
            )
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree).encode()


def _helpers_imports(module: str) -> set[str]:
    """The helpers modules that module's source imports directly (__init__ too)."""
    found = {"helpers"}
    for name, members in _imported(_source(_module_path(module))):
        found.add(name)
        found.update(f"{name}.{m}" for m in members if _is_module(f"{name}.{m}"))
    return found


@lru_cache(maxsize=None)
def _imported(source: bytes) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(module, names imported from it) of each helpers import in source, parsed once
    per distinct source; a plain `import helpers.x` has no names."""
    found = []
    for node in ast.walk(ast.parse(source.decode("utf-8"))):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.startswith("helpers")
        ):
            found.append((node.module, tuple(a.name for a in node.names)))
        elif isinstance(node, ast.Import):
            found.extend(
                (a.name, ()) for a in node.names if a.name.startswith("helpers")
            )
    return tuple(found)


def _is_module(name: str) -> bool:
    """Whether a dotted helpers name is a module or package of its own."""
    try:
        _module_path(name)
    except ValueError:
        return False
    return True


def _module_path(module: str) -> Path:
    """The source file of a helpers module ('helpers', 'helpers.byol', ...)."""
    parts = module.split(".")
    if parts[0] != "helpers":
        raise ValueError(
            "module must be a helpers module such as 'helpers.pretrain', got "
            f"{module!r}"
        )
    base = _HELPERS.joinpath(*parts[1:])
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    raise ValueError(f"no helpers module named {module!r}")


def code_digest(modules: Iterable[str]) -> str:
    """SHA-256 of the code (`_code`) of these modules and the helpers they import,
    except this module: storing a result never changes it, so an edit of the store
    retrains nothing."""
    if isinstance(modules, str) or not isinstance(modules, Iterable):
        raise ValueError(
            f"modules must be a list of helpers module names, got {modules!r}"
        )
    todo, seen = list(modules), set()
    if not todo or not all(isinstance(m, str) for m in todo):
        raise ValueError(f"modules must name at least one helpers module, got {todo!r}")
    for name in todo:
        try:
            _module_path(name)
        except ValueError as err:
            raise ValueError(f"modules: {err}") from None
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(_helpers_imports(name) - seen - {__name__})
    h = hashlib.sha256()
    for name in sorted(seen):
        h.update(f"{name}\n".encode() + _code(_module_path(name)))
    return h.hexdigest()


def source_digest(module: str) -> str:
    """SHA-256 of one helpers module's own code (`_code`; not of what it imports)."""
    if not isinstance(module, str):
        raise ValueError(
            "module must be a helpers module name such as 'helpers.pretrain', got "
            f"{module!r}"
        )
    return hashlib.sha256(_code(_module_path(module))).hexdigest()


def _canonical(spec: Mapping[str, Any]) -> str:
    """The spec as canonical JSON (sorted keys, no spaces), else raise naming why."""
    try:
        return json.dumps(spec, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as err:
        raise ValueError(
            "spec must hold only JSON values (str, int, float, bool, None, lists, "
            f"dicts): {err}"
        ) from None


def entry_key(spec: Mapping[str, Any]) -> str:
    """The entry's name: 32 hex digits of the SHA-256 of the canonical spec."""
    if not isinstance(spec, Mapping):
        raise ValueError(
            f"spec must be a mapping of settings, got {type(spec).__name__}"
        )
    return hashlib.sha256(_canonical({"format": FORMAT, **spec}).encode()).hexdigest()[
        :32
    ]


def _file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _load(folder: Path, key: str) -> Entry:
    """Read and verify one entry; raise ValueError saying what is wrong with it."""
    try:
        record = json.loads((folder / "record.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ValueError(f"record.json unreadable ({err})") from None
    if not isinstance(record, dict) or record.get("key") != key:
        raise ValueError("record.json belongs to another entry")
    if _file_digest(folder / "arrays.npz") != record.get("arrays_sha256"):
        raise ValueError(
            "arrays.npz does not match its checksum (truncated or changed)"
        )
    with np.load(folder / "arrays.npz", allow_pickle=False) as data:
        return Entry({name: data[name] for name in data.files}, record)


def blas_kernel() -> str:
    """The BLAS library, version and CPU kernel numpy computes with (threadpoolctl's
    report, e.g. 'openblas 0.3.31 SkylakeX'): results computed with float matrix
    products depend on it."""
    from threadpoolctl import threadpool_info

    return "; ".join(
        f"{info.get('internal_api')} {info.get('version')} {info.get('architecture')}"
        for info in threadpool_info()
        if info.get("user_api") == "blas"
    )


def _versions() -> dict[str, Any]:
    """Python, numpy and BLAS versions of this process, for the record."""
    from threadpoolctl import threadpool_info

    blas = [
        {
            k: info.get(k)
            for k in ("internal_api", "version", "architecture", "num_threads")
        }
        for info in threadpool_info()
        if info.get("user_api") == "blas"
    ]
    return {
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "blas": blas,
        "machine": platform.machine(),
        "coretype": os.environ.get("OPENBLAS_CORETYPE"),
    }


def _save(root: Path, key: str, entry: Entry) -> None:
    """Write the entry atomically: into a temporary folder, then renamed to its key."""
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=root))
    try:
        np.savez(tmp / "arrays.npz", **entry.arrays)
        entry.record.update(key=key, arrays_sha256=_file_digest(tmp / "arrays.npz"))
        (tmp / "record.json").write_text(
            json.dumps(entry.record, indent=1, sort_keys=True), encoding="utf-8"
        )
        final = root / key
        # a corrupt entry being replaced, or a twin written meanwhile by another process
        if final.exists():
            shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def load_or_make(
    spec: Mapping[str, Any],
    make: Callable[[], Entry],
    *,
    name: str,
    announce: bool = True,
) -> tuple[Entry, bool]:
    """The stored entry for spec, or make(), store, return it; flag: was it loaded.

    announce=False makes a missing entry silently (a quick evaluation, not training).
    """
    if not callable(make):
        raise ValueError(
            f"make must be callable as make() -> Entry, got {type(make).__name__}"
        )
    if not isinstance(name, str) or not name:
        raise ValueError(
            f"name must be a non-empty string naming the run, got {name!r}"
        )
    if not isinstance(announce, bool):
        raise ValueError(f"announce must be True or False, got {announce!r}")
    key, root = entry_key(spec), store_dir()
    folder = root / key
    if folder.is_dir():
        try:
            return _load(folder, key), True
        except (ValueError, OSError) as err:
            print(f"{name}: stored entry {key} is corrupt ({err}); training it again")
    elif announce:
        print(
            f"{name}: not in the pre-training store yet, training it now (`make "
            "pretrain` trains every run)"
        )
    entry = make()
    if not isinstance(entry, Entry):
        raise ValueError(
            f"make must return a helpers.store.Entry, got {type(entry).__name__}"
        )
    entry.record.update(
        spec=json.loads(_canonical(spec)),
        versions=_versions(),
        date=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    )
    _save(root, key, entry)
    return _load(folder, key), False
