"""A regular (non-editable) install ships every helpers module, as a JupyterHub image
gets it.

The wheel is built offline from a copy of the project (the working tree is not touched),
installed with `--no-deps --no-index` into a fresh venv that sees the test environment's
packages only as a plain path (so the editable `helpers` of .venv stays invisible), and
every module is imported there. About 10 s.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECT_FILES = ("pyproject.toml", "README.md")


def helpers_modules() -> list[str]:
    """Dotted names of every module and package under helpers/ in the source tree."""
    names = []
    for path in sorted((ROOT / "helpers").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def run(*command: str | Path, cwd: Path) -> str:
    """Run a command, fail the test with its output if it fails; return its stdout."""
    done = subprocess.run(
        [str(c) for c in command], cwd=cwd, capture_output=True, text=True
    )
    assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def can_build_offline() -> bool:
    """Whether this setuptools meets pyproject's build requirement and builds wheels."""
    try:
        import setuptools
    except ImportError:
        return False
    builds_wheels = (
        importlib.util.find_spec("setuptools.command.bdist_wheel") is not None
        or importlib.util.find_spec("wheel") is not None
    )
    return int(setuptools.__version__.split(".")[0]) >= 68 and builds_wheels


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel, built from a copy of pyproject.toml, README.md, helpers/."""
    source = tmp_path_factory.mktemp("source")
    for name in PROJECT_FILES:
        shutil.copyfile(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "helpers",
        source / "helpers",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    out = tmp_path_factory.mktemp("wheel")
    # Offline with this environment's setuptools when it can build wheels (>= 70.1, or
    # with the `wheel` package); otherwise pip fetches the build backend pyproject.toml
    # asks for.
    offline = ["--no-index", "--no-build-isolation"] if can_build_offline() else []
    run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        *offline,
        "-w",
        out,
        source,
        cwd=source,
    )
    (built,) = out.glob("*.whl")
    return built


def test_wheel_contains_every_helpers_module(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [
        m
        for m in helpers_modules()
        if f"{m.replace('.', '/')}.py" not in names
        and f"{m.replace('.', '/')}/__init__.py" not in names
    ]
    assert not missing, (
        f"the wheel leaves out {missing}: list them in pyproject's packages"
    )


def test_every_module_imports_from_a_regular_install(
    wheel: Path, tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        python,
        "install",
        "--no-deps",
        "--no-index",
        "--disable-pip-version-check",
        wheel,
        cwd=tmp_path,
    )
    site = Path(
        run(
            python,
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
            cwd=tmp_path,
        ).strip()
    )
    # The dependencies come from this environment as a plain path entry: its .pth files
    # (among them the editable install of helpers) are not processed there.
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    modules = helpers_modules()
    script = (
        "import importlib, helpers\n"
        f"assert helpers.__file__.startswith({str(site)!r}), helpers.__file__\n"
        f"for name in {modules!r}:\n    importlib.import_module(name)\n"
        "print('imported', len({0!r}))".format(modules)
    )
    assert run(python, "-c", script, cwd=tmp_path).strip() == f"imported {len(modules)}"
