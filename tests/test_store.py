"""Tests for helpers.store: warm equals cold; stale or corrupt entries never used."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import helpers.store as store_module
from helpers.data import mnist_split
from helpers.pretrain import pretrain, stored_pretrain
from helpers.store import (
    Entry,
    array_digest,
    blas_kernel,
    code_digest,
    entry_key,
    load_or_make,
    source_digest,
    store_dir,
    store_size,
)

ENC, HEAD = (784, 16, 8), (8, 8, 4)
SMALL = {
    "seed": 3,
    "epochs": 2,
    "batch_size": 16,
    "encoder_sizes": ENC,
    "head_sizes": HEAD,
    "desc": "t",
}


@pytest.fixture()
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SSL_STORE", str(tmp_path / "store"))
    return tmp_path / "store"


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    x, y, _, _ = mnist_split()
    return x[:48], y[:48]


def _entries(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if not p.name.startswith("."))


def test_store_dir_follows_the_environment(
    store: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert store_dir() == store
    monkeypatch.delenv("SSL_STORE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert store_dir() == tmp_path / "cache" / "ssl-from-scratch"


@pytest.mark.parametrize("method", ["simclr", "byol", "dino", "supervised"])
def test_warm_equals_cold_bit_for_bit(
    store: Path,
    digits: tuple[np.ndarray, np.ndarray],
    method: str,
    capsys: pytest.CaptureFixture,
) -> None:
    x, y = digits
    cold = stored_pretrain(method, x, labels=y, checkpoints=(1,), **SMALL)
    assert "not in the pre-training store" in capsys.readouterr().out
    warm = stored_pretrain(method, x, labels=y, checkpoints=(1,), **SMALL)
    assert capsys.readouterr().out == ""  # loaded silently
    live = pretrain(method, x, labels=y, checkpoints=(1,), **SMALL)
    for run in (cold, warm):
        state, ref = run.model.state_dict(), live.model.state_dict()
        assert state.keys() == ref.keys() and all(
            np.array_equal(state[k], ref[k]) for k in ref
        )
        assert np.array_equal(run.losses, live.losses) and run.seconds > 0
        assert np.array_equal(run.features(x), live.features(x))
        assert sorted(run.checkpoints) == [3] and all(
            np.array_equal(run.checkpoints[3][k], live.checkpoints[3][k])
            for k in live.checkpoints[3]
        )
    assert warm.seconds == cold.seconds and len(_entries(store)) == 1


def test_a_changed_setting_or_data_trains_a_new_entry(
    store: Path, digits: tuple[np.ndarray, np.ndarray]
) -> None:
    x, _ = digits
    stored_pretrain("simclr", x, **SMALL)
    stored_pretrain("simclr", x, temperature=0.2, **SMALL)
    stored_pretrain("simclr", x, **{**SMALL, "seed": 4})
    changed = x.copy()
    changed[0, 0, 0] += 0.5
    stored_pretrain("simclr", changed, **SMALL)
    assert len(_entries(store)) == 4


@pytest.mark.parametrize("damage", ["truncate", "flip", "record", "missing"])
def test_a_corrupt_entry_is_reported_and_retrained(
    store: Path,
    digits: tuple[np.ndarray, np.ndarray],
    damage: str,
    capsys: pytest.CaptureFixture,
) -> None:
    x, _ = digits
    first = stored_pretrain("simclr", x, **SMALL)
    (folder,) = _entries(store)
    arrays = folder / "arrays.npz"
    if damage == "truncate":
        arrays.write_bytes(arrays.read_bytes()[:1000])
    elif damage == "flip":
        data = bytearray(arrays.read_bytes())
        data[len(data) // 2] ^= 0xFF
        arrays.write_bytes(bytes(data))
    elif damage == "record":
        (folder / "record.json").write_text("{not json")
    else:
        arrays.unlink()
    capsys.readouterr()
    again = stored_pretrain("simclr", x, **SMALL)
    assert "is corrupt" in capsys.readouterr().out
    assert np.array_equal(again.losses, first.losses)
    # the new entry is whole
    assert stored_pretrain("simclr", x, **SMALL).seconds == again.seconds
    assert capsys.readouterr().out == ""


def test_record_holds_settings_losses_versions(
    store: Path, digits: tuple[np.ndarray, np.ndarray]
) -> None:
    x, _ = digits
    run = stored_pretrain("simclr", x, **SMALL)
    (folder,) = _entries(store)
    record = json.loads((folder / "record.json").read_text())
    assert record["spec"]["method"] == "simclr" and record["spec"]["epochs"] == 2
    assert (
        record["seconds"] == run.seconds
        and record["versions"]["numpy"] == np.__version__
    )
    assert record["date"] and record["key"] == folder.name
    with np.load(folder / "arrays.npz", allow_pickle=False) as data:
        assert np.array_equal(data["losses"], run.losses)
    assert store_size() == (1, sum(f.stat().st_size for f in folder.iterdir()))
    assert not list(store.glob(".*"))  # no temporary folder left behind


def test_keys_and_digests() -> None:
    assert (
        entry_key({"a": 1, "b": 2})
        == entry_key({"b": 2, "a": 1})
        != entry_key({"a": 1, "b": 3})
    )
    assert array_digest(np.zeros(3, np.float32)) != array_digest(
        np.zeros(3, np.float64)
    )
    assert array_digest(np.zeros((2, 3))) != array_digest(np.zeros((3, 2)))
    assert array_digest(None) != array_digest(np.zeros(0))
    assert code_digest(["helpers.pretrain"]) != code_digest(["helpers.augment"])
    assert source_digest("helpers.pretrain") != code_digest(["helpers.pretrain"])


def test_a_method_key_covers_its_own_training_code(
    store: Path, digits: tuple[np.ndarray, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    import helpers.pretrain as pretrain_module

    x, _ = digits
    stored_pretrain("simclr", x, **SMALL)
    real = store_module._module_path

    # pretend a module's code changed: a copy with one more statement
    def edited(module: str) -> Path:
        path = real(module)
        if module != edited.target:
            return path
        copy = store.parent / f"{module}.py"
        copy.write_bytes(path.read_bytes() + b"\nEDITED = True\n")
        return copy

    for target, retrains in (
        ("helpers.dino", False),
        ("helpers.augment", True),
        ("helpers.pretrain", True),
    ):
        edited.target = target
        monkeypatch.setattr(store_module, "_module_path", edited)
        before = len(_entries(store))
        stored_pretrain("simclr", x, **SMALL)
        assert len(_entries(store)) == before + retrains, target
    monkeypatch.setattr(store_module, "_module_path", real)
    assert pretrain_module.METHODS["simsiam"].module == "helpers.byol"


@pytest.fixture()
def fake_helpers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty helpers package in tmp_path that the store reads instead of ours."""
    pkg = tmp_path / "helpers"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    monkeypatch.setattr(store_module, "_HELPERS", pkg)
    store_module._source.cache_clear()
    yield pkg
    store_module._source.cache_clear()  # the real files again for later tests


def test_code_digest_follows_imports(fake_helpers: Path) -> None:
    pkg = fake_helpers
    (pkg / "a.py").write_text("from helpers.b import f\n")
    (pkg / "b.py").write_text("def f(): return 1\n")
    (pkg / "c.py").write_text("def g(): return 2\n")
    before = code_digest(["helpers.a"])
    (pkg / "b.py").write_text("def f(): return 2\n")
    # the source a process loaded is what it hashes
    assert code_digest(["helpers.a"]) == before
    store_module._source.cache_clear()  # a new process reads the files again
    (pkg / "c.py").write_text("def g(): return 3\n")
    after = code_digest(["helpers.a"])
    assert after != before  # b is imported by a
    store_module._source.cache_clear()
    (pkg / "c.py").write_text("def g(): return 4\n")
    assert code_digest(["helpers.a"]) == after  # c is not


def test_an_edit_of_the_store_itself_changes_no_key(fake_helpers: Path) -> None:
    pkg = fake_helpers
    (pkg / "store.py").write_text("def load(): return 1\n")
    (pkg / "text.py").write_text("from helpers.store import load\n")
    before = code_digest(["helpers.text"])
    (pkg / "store.py").write_text("def load(): return 2\n")
    store_module._source.cache_clear()
    # helpers.mlm imports the store: an edit of the store retrained its text runs
    assert code_digest(["helpers.text"]) == before


def test_code_digest_ignores_layout_comments_and_docstrings(fake_helpers: Path) -> None:
    pkg = fake_helpers
    versions = {
        "original": 'def f(a, b):\n    """Add."""\n    return a + b  # sum\n',
        "reformatted": (
            '"""Module doc."""\n\n\ndef f(\n    a,\n    b,\n):\n'
            '    """Add two numbers."""\n\n    return (a\n            + b)\n'
        ),
        "no docstring": "def f(a, b):\n    return a + b\n",
        "other code": 'def f(a, b):\n    """Add."""\n    return a - b\n',
        "other string": 'def f(a, b):\n    return "x" + "yz"\n',
        "split string": 'def f(a, b):\n    return ("x"\n            "y" + "z")\n',
    }
    digests = {}
    for label, text in versions.items():
        (pkg / "m.py").write_text(text)
        store_module._source.cache_clear()
        digests[label] = (code_digest(["helpers.m"]), source_digest("helpers.m"))
    store_module._source.cache_clear()
    assert digests["original"] == digests["reformatted"] == digests["no docstring"]
    assert digests["other code"] != digests["original"]
    # a string literal is code: "xyz" vs "xy" + "z"
    assert digests["other string"] != digests["split string"]


def test_bad_arguments(store: Path) -> None:
    with pytest.raises(ValueError, match="spec"):
        entry_key({"x": object()})
    with pytest.raises(ValueError, match="make"):
        load_or_make({"a": 1}, "not callable", name="t")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="make must return"):
        # type: ignore[arg-type, return-value]
        load_or_make({"a": 1}, lambda: 3, name="t")
    with pytest.raises(ValueError, match="announce"):
        load_or_make({"a": 1}, lambda: Entry({}, {}), name="t", announce="no")
    with pytest.raises(ValueError, match="modules"):
        code_digest("helpers.pretrain")
    with pytest.raises(ValueError, match="modules"):
        code_digest(["numpy"])
    entry, loaded = load_or_make(
        {"a": 1}, lambda: Entry({"v": np.arange(3)}, {}), name="t"
    )
    assert not loaded and np.array_equal(entry.arrays["v"], np.arange(3))
    assert load_or_make({"a": 1}, lambda: Entry({}, {}), name="t")[1]


def test_an_unannounced_entry_is_made_silently(
    store: Path, capsys: pytest.CaptureFixture
) -> None:
    entry, loaded = load_or_make(
        {"b": 1}, lambda: Entry({}, {"x": 2}), name="quiet", announce=False
    )
    assert not loaded and entry.record["x"] == 2 and capsys.readouterr().out == ""
    load_or_make({"b": 2}, lambda: Entry({}, {}), name="loud")
    assert "loud: not in the pre-training store" in capsys.readouterr().out


def test_blas_kernel_names_numpys_blas_and_its_cpu_kernel() -> None:
    from threadpoolctl import threadpool_info

    kernel = blas_kernel()
    blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    assert blas and all(
        str(i["architecture"]) in kernel and i["internal_api"] in kernel for i in blas
    )
