"""Build the static book (`make html`): one HTML page per chapter and an index, readable
offline.

nbconvert's lab template renders each chapter; this script adds what a book needs around
it:
- formulas rendered at build time to MathML (latex2mathml, a pip package): browsers draw
  MathML themselves, so no math script is loaded and nothing comes from the network;
- on every chapter page a table of contents (the chapters, and this chapter's sections)
  and previous/next links; a styled index (book/book.css, copied beside the pages);
- alt text on every figure: "Figure k of <chapter>:" and the first sentence of the
  Markdown cell before it (the prose that introduces the figure).
Widgets need a kernel, so their live views are dropped and each widget cell's saved
static figure and text remain. The external script tags nbconvert's template adds
(require.js, MathJax, a mermaid loader) are removed; figures are embedded as data URIs.
Usage: python book/build_html.py [OUT_DIR]   (default _build/html)
"""

from __future__ import annotations

import html
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import nbformat
from jinja2 import pass_context
from latex2mathml.converter import convert as latex_to_mathml
from nbconvert import HTMLExporter
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

ROOT = Path(__file__).resolve().parent.parent
BOOK_CSS = Path(__file__).resolve().with_name("book.css")
BOOK_TITLE = "Self-Supervised Learning from Scratch"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
EXTERNAL_SCRIPT = re.compile(
    r'<script[^>]*\bsrc="(https?:)?//[^"]*"[^>]*>\s*</script>\s*', re.I
)
MATHJAX_BLOCK = re.compile(
    r"<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->", re.S
)
MERMAID_LOADER = re.compile(
    r'<script type="module">(?:(?!</script>).)*?cdnjs\.cloudflare\.com.*?</script>\s*',
    re.S,
)
# nbconvert's placeholder alt
PNG_IMG = re.compile(r'<img alt="[^"]*"(?=[^>]*\bsrc="data:image/png;base64,)')
SECTION = re.compile(r'<h2 id="([^"]+)"[^>]*>(.*?)<a class="anchor-link"', re.S)


def chapters(notebooks: Path) -> list[Path]:
    """The chapter notebooks in reading order (00..99, then appendices A1..)."""
    return sorted(notebooks.glob("[0-9][0-9]_*.ipynb")) + sorted(
        notebooks.glob("A[0-9]_*.ipynb")
    )


def without_widgets(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop live widget views (their text/plain fallback stays) and widget state."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            output.get("data", {}).pop(WIDGET_VIEW, None)
    return nb


def title_of(nb: nbformat.NotebookNode, fallback: str) -> str:
    """The chapter's first Markdown heading, or fallback."""
    for cell in nb.cells:
        match = (
            re.search(r"^#+\s+(.+)$", cell.source, re.M)
            if cell.cell_type == "markdown"
            else None
        )
        if match:
            return match.group(1).strip()
    return fallback


def tex_to_mathml(tex: str, display: bool) -> str:
    """One TeX formula as MathML (block or inline); ValueError names a bad formula."""
    try:
        return latex_to_mathml(tex.strip(), display="block" if display else "inline")
    except Exception as err:  # latex2mathml raises its own exception types
        raise ValueError(f"cannot render the formula {tex!r} to MathML: {err}") from err


class MathMLRenderer(IPythonRenderer):
    """nbconvert's Markdown renderer with formulas as MathML, not TeX for MathJax."""

    def block_math(self, body: str) -> str:
        """$$...$$ as display MathML."""
        return tex_to_mathml(body, display=True)

    def inline_math(self, body: str) -> str:
        """$...$ as inline MathML."""
        return tex_to_mathml(body, display=False)

    def latex_environment(self, name: str, body: str) -> str:
        """A bare \\begin{name}...\\end{name} as display MathML."""
        return tex_to_mathml(f"\\begin{{{name}}}{body}\\end{{{name}}}", display=True)


class BookExporter(HTMLExporter):
    """The lab-template HTML exporter, rendering Markdown math with MathMLRenderer."""

    # jinja hands the template context (the cell, its attachments) to the filter
    @pass_context
    def markdown2html(self, context: dict[str, Any], source: str) -> str:
        """Markdown to HTML as HTMLExporter does, with formulas as MathML."""
        cell = context.get("cell", {})
        renderer = MathMLRenderer(
            escape=False,
            attachments=cell.get("attachments", {}),
            embed_images=self.embed_images,
            path=context.get("resources", {}).get("metadata", {}).get("path", ""),
            anchor_link_text=self.anchor_link_text,
            exclude_anchor_links=self.exclude_anchor_links,
            **self.lexer_options,
        )
        return MarkdownWithMath(renderer=renderer).render(source)


def plain_text(markdown: str) -> str:
    """Markdown as plain words: no heading marks, emphasis, ticks, link targets or $."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", markdown)
    text = re.sub(
        r"^\s*#+\s*|[*`$]|(?<!\w)_+|_+(?!\w)|\\(?=[a-zA-Z])", "", text, flags=re.M
    )
    return re.sub(r"\s+", " ", text).strip()


def first_sentence(markdown: str, limit: int = 220) -> str:
    """The first sentence of a Markdown text as plain text, at most limit characters."""
    text = plain_text(markdown)
    match = re.match(r"(.+?[.!?])(\s|$)", text)
    sentence = match.group(1) if match else text
    return (
        sentence
        if len(sentence) <= limit
        else sentence[: limit - 1].rsplit(" ", 1)[0] + "…"
    )


def figure_alts(nb: nbformat.NotebookNode, chapter: str) -> list[str]:
    """One alt text per saved PNG, in page order: figure number and prose before it."""
    alts, context = [], ""
    for cell in nb.cells:
        if cell.cell_type == "markdown" and plain_text(cell.source):
            context = first_sentence(cell.source)
        for output in cell.get("outputs", []):
            if "image/png" in output.get("data", {}):
                alts.append(
                    f"Figure {len(alts) + 1} of {chapter}: "
                    f"{context or 'a figure drawn by the code above'}"
                )
    return alts


def with_alts(body: str, alts: list[str]) -> str:
    """Give the saved PNGs of a page, in order, their alt texts."""
    found = len(PNG_IMG.findall(body))
    if found != len(alts):
        raise ValueError(
            f"the page shows {found} PNG figures but the notebook saved {len(alts)}"
        )
    texts = iter(alts)
    return PNG_IMG.sub(lambda _: f'<img alt="{html.escape(next(texts))}"', body)


def chapter_toc(
    entries: list[tuple[str, str]], current: int, sections: list[tuple[str, str]]
) -> str:
    """The sidebar: every chapter (the current one marked, its sections under it)."""
    items = []
    for i, (href, title) in enumerate(entries):
        if i != current:
            items.append(f'<li><a href="{href}">{html.escape(title)}</a></li>')
            continue
        subs = "".join(
            f'<li><a href="#{anchor}">{text}</a></li>' for anchor, text in sections
        )
        items.append(
            f'<li class="current"><a href="{href}" '
            f'aria-current="page">{html.escape(title)}</a>'
            f'<ol class="sections">{subs}</ol></li>'
        )
    return (
        f'<nav class="book-toc" aria-label="Table of contents"><p class="book-name">'
        f'<a href="index.html">{BOOK_TITLE}</a></p><ol>{"".join(items)}</ol></nav>'
    )


def pager(entries: list[tuple[str, str]], current: int) -> str:
    """Previous / contents / next links for chapter number current."""
    links = []
    if current > 0:
        href, title = entries[current - 1]
        links.append(
            f'<a class="prev" rel="prev" href="{href}">← {html.escape(title)}</a>'
        )
    links.append('<a class="contents" href="index.html">Contents</a>')
    if current + 1 < len(entries):
        href, title = entries[current + 1]
        links.append(
            f'<a class="next" rel="next" href="{href}">{html.escape(title)} →</a>'
        )
    return (
        '<nav class="book-pager" aria-label="Previous and next chapter">'
        f"{''.join(links)}</nav>"
    )


def framed(body: str, entries: list[tuple[str, str]], current: int) -> str:
    """A chapter page with the book's stylesheet, its contents and pagers around it."""
    sections = [
        (anchor, re.sub(r"<[^>]+>", "", text).strip())
        for anchor, text in SECTION.findall(body)
    ]
    body = body.replace(
        "</head>", '<link rel="stylesheet" href="book.css">\n</head>', 1
    )
    body = re.sub(
        r"<title>.*?</title>",
        f"<title>{html.escape(entries[current][1])} · {BOOK_TITLE}</title>",
        body,
        count=1,
        flags=re.S,
    )
    body = re.sub(
        r"(<body[^>]*>)",
        lambda m: (
            m.group(1)
            + chapter_toc(entries, current, sections)
            + pager(entries, current)
        ),
        body,
        count=1,
    )
    return body.replace("</body>", pager(entries, current) + "\n</body>", 1)


def index_page(entries: list[tuple[str, str]], blurbs: list[str]) -> str:
    """The front page: what the book is, how to run it, each chapter in a sentence."""
    cards = "\n".join(
        f'<li><a href="{href}">{html.escape(title)}</a><p>{html.escape(blurb)}</p></li>'
        for (href, title), blurb in zip(entries, blurbs)
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{BOOK_TITLE}</title><link rel="stylesheet" href="book.css"></head>\n'
        f'<body class="book-index"><header><h1>{BOOK_TITLE}</h1>\n<p>Every method '
        "built in numpy and "
        "trained on real data on a laptop. These pages show the chapters with their "
        "saved outputs; to run "
        "the code and move the widgets, open them in JupyterLab (<code>make "
        "lab</code>).</p></header>\n"
        f'<main><ol class="chapters">\n{cards}\n</ol></main></body></html>\n'
    )


def blurb_of(nb: nbformat.NotebookNode) -> str:
    """The first sentence of the chapter's first prose paragraph (after its title)."""
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for paragraph in re.split(r"\n\s*\n", cell.source):
            if paragraph.strip() and not paragraph.lstrip().startswith(
                ("#", "|", ">", "-", "*", "<")
            ):
                return first_sentence(paragraph)
    return ""


def build(out_dir: Path, notebooks: Path = ROOT / "notebooks") -> list[Path]:
    """Write a page per chapter, index.html and book.css to out_dir; return pages."""
    out_dir.mkdir(parents=True, exist_ok=True)
    exporter = BookExporter(template_name="lab")
    books = [
        (path, without_widgets(nbformat.read(path, as_version=4)))
        for path in chapters(notebooks)
    ]
    entries = [(f"{path.stem}.html", title_of(nb, path.stem)) for path, nb in books]
    pages = []
    for i, (path, nb) in enumerate(books):
        body, _ = exporter.from_notebook_node(nb)
        body = EXTERNAL_SCRIPT.sub(
            "", MERMAID_LOADER.sub("", MATHJAX_BLOCK.sub("", body))
        )
        body = framed(
            with_alts(body, figure_alts(nb, f"chapter {path.stem.split('_')[0]}")),
            entries,
            i,
        )
        page = out_dir / entries[i][0]
        page.write_text(body, encoding="utf-8")
        pages.append(page)
    shutil.copy(BOOK_CSS, out_dir / "book.css")
    index = out_dir / "index.html"
    index.write_text(
        index_page(entries, [blurb_of(nb) for _, nb in books]), encoding="utf-8"
    )
    return [index, *pages]


if __name__ == "__main__":
    for written in build(
        Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "_build" / "html"
    ):
        print(written)
