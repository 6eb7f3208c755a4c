"""Build the static book (`make html`): one HTML page per chapter and an index, readable offline.

Widgets need a kernel, so their live views are dropped and each widget cell's saved static figure
and text remain. No page loads anything from the network: the external script tags nbconvert's
template adds (require.js, MathJax, a mermaid loader) are removed,
so formulas show as their TeX source; figures are embedded as data URIs.
Usage: python book/build_html.py [OUT_DIR]   (default _build/html)
"""
from __future__ import annotations

import html
import re
import sys
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter

ROOT = Path(__file__).resolve().parent.parent
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
EXTERNAL_SCRIPT = re.compile(r'<script[^>]*\bsrc="(https?:)?//[^"]*"[^>]*>\s*</script>\s*', re.I)
MATHJAX_BLOCK = re.compile(r"<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->", re.S)
MERMAID_LOADER = re.compile(r'<script type="module">(?:(?!</script>).)*?cdnjs\.cloudflare\.com.*?</script>\s*', re.S)


def chapters(notebooks: Path) -> list[Path]:
    """The chapter notebooks in reading order (00..99, then appendices A1..)."""
    return sorted(notebooks.glob("[0-9][0-9]_*.ipynb")) + sorted(notebooks.glob("A[0-9]_*.ipynb"))


def without_widgets(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop live widget views (their text/plain fallback stays) and the saved widget state."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            output.get("data", {}).pop(WIDGET_VIEW, None)
    return nb


def title_of(nb: nbformat.NotebookNode, fallback: str) -> str:
    """The chapter's first Markdown heading, or fallback."""
    for cell in nb.cells:
        match = re.search(r"^#+\s+(.+)$", cell.source, re.M) if cell.cell_type == "markdown" else None
        if match:
            return match.group(1).strip()
    return fallback


def build(out_dir: Path, notebooks: Path = ROOT / "notebooks") -> list[Path]:
    """Write one page per chapter and index.html into out_dir; return the pages written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    exporter = HTMLExporter(template_name="lab")
    pages, entries = [], []
    for path in chapters(notebooks):
        nb = without_widgets(nbformat.read(path, as_version=4))
        body, _ = exporter.from_notebook_node(nb)
        body = EXTERNAL_SCRIPT.sub("", MERMAID_LOADER.sub("", MATHJAX_BLOCK.sub("", body)))
        page = out_dir / f"{path.stem}.html"
        page.write_text(body, encoding="utf-8")
        pages.append(page)
        entries.append(f'<li><a href="{page.name}">{html.escape(title_of(nb, path.stem))}</a></li>')
    index = out_dir / "index.html"
    index.write_text("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Self-Supervised Learning from Scratch"
                     "</title></head><body><h1>Self-Supervised Learning from Scratch</h1>\n<p>The chapters with their "
                     "saved outputs. To run the code and move the widgets, open them in JupyterLab (<code>make lab"
                     "</code>).</p>\n<ol>\n" + "\n".join(entries) + "\n</ol></body></html>\n", encoding="utf-8")
    return [index, *pages]


if __name__ == "__main__":
    for written in build(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "_build" / "html"):
        print(written)
