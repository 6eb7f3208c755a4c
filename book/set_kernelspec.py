"""Write the kernelspec JupyterLab writes (the installed python3 kernel's) into chapters
and their .py twins.

Usage: python book/set_kernelspec.py NB.ipynb ... ; prints each file it changed. Opening
a chapter in JupyterLab then marks nothing modified, so autosave rewrites neither the
.ipynb nor its twin.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from jupyter_client.kernelspec import KernelSpecManager


def lab_kernelspec() -> dict[str, str]:
    """The kernelspec metadata JupyterLab stores for this environment's python3."""
    spec = KernelSpecManager().get_kernel_spec("python3")
    return {
        "display_name": spec.display_name,
        "language": spec.language,
        "name": "python3",
    }


def fix_notebook(path: Path, kernelspec: dict[str, str]) -> bool:
    """Set path's kernelspec (JSON as Jupyter writes it); True if it changed."""
    text = path.read_text(encoding="utf-8")
    nb = json.loads(text)
    if nb.get("metadata", {}).get("kernelspec") == kernelspec:
        return False
    nb.setdefault("metadata", {})["kernelspec"] = kernelspec
    path.write_text(
        json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    return True


def fix_twin(path: Path, kernelspec: dict[str, str]) -> bool:
    """Set the display_name in a percent-format twin's YAML header; True if changed."""
    if not path.exists():
        return False
    text = path.read_text(encoding="utf-8")
    new = re.sub(
        r"(?m)^(#\s+kernelspec:\n#\s+display_name:).*$",
        rf"\1 {kernelspec['display_name']}",
        text,
        count=1,
    )
    if new == text:
        return False
    path.write_text(new, encoding="utf-8")
    return True


def main(paths: list[str]) -> None:
    """Fix every given notebook and its twin, printing what changed."""
    kernelspec = lab_kernelspec()
    for name in paths:
        nb_path = Path(name)
        for changed, path in (
            (fix_notebook(nb_path, kernelspec), nb_path),
            (
                fix_twin(nb_path.with_suffix(".py"), kernelspec),
                nb_path.with_suffix(".py"),
            ),
        ):
            if changed:
                print(f"kernelspec -> {kernelspec['display_name']!r}: {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
