"""`make html`: the static book has every chapter page, every saved figure, no broken
links, no network use; formulas rendered (MathML), a table of contents and previous/next
on every chapter page, alt text on figures."""

from __future__ import annotations

import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "book"))
# noqa: E402
from build_html import (
    WIDGET_VIEW,
    build,
    chapters,
    first_sentence,
    plain_text,
    title_of,
)


HIDDEN = ("pre", "code", "script", "style", "math", "textarea")
# the spans nbconvert treats as formulas
MATH = re.compile(r"\$\$.+?\$\$|(?<![\\$])\$[^$\n]+\$", re.S)
CDN = re.compile(
    r"https?://[^\s\"')]*(cdn|unpkg|jsdelivr|googleapis|cloudflare|mathjax)", re.I
)


class Links(HTMLParser):
    """Collect ids, hrefs, srcs and inline script text of one page."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.hrefs: list[str] = []
        self.srcs: list[str] = []
        self.images: list[str] = []
        self.alts: list[str | None] = []
        self.rels: dict[str, str] = {}
        self.stylesheets: list[str] = []
        self.maths = 0
        # visible prose: outside code, scripts, styles and formulas
        self.text: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for key in ("id", "name"):
            if a.get(key):
                self.ids.add(a[key])
        if tag == "a" and a.get("href"):
            self.hrefs.append(a["href"])
        if tag in ("script", "link", "img", "iframe") and (
            a.get("src") or a.get("href")
        ):
            self.srcs.append(a.get("src") or a.get("href"))
        if tag == "img":
            self.images.append(a.get("src", ""))
            self.alts.append(a.get("alt"))
        if tag == "a" and a.get("rel") and a.get("href"):
            self.rels[a["rel"]] = a["href"]
        if tag == "link" and a.get("rel") == "stylesheet":
            self.stylesheets.append(a.get("href", ""))
        self.maths += tag == "math"
        self._hidden += tag in HIDDEN

    def handle_endtag(self, tag: str) -> None:
        self._hidden -= tag in HIDDEN

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.text.append(data)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("html")
    build(out)
    return out


def parse(page: Path) -> Links:
    links = Links()
    links.feed(page.read_text(encoding="utf-8"))
    return links


def test_every_chapter_has_a_page_listed_in_the_index(site: Path) -> None:
    index = parse(site / "index.html")
    names = [p.stem for p in chapters(ROOT / "notebooks")]
    assert len(names) >= 6
    for name in names:
        assert (site / f"{name}.html").is_file()
        assert f"{name}.html" in index.hrefs


@pytest.mark.parametrize("notebook", chapters(ROOT / "notebooks"), ids=lambda p: p.stem)
def test_every_saved_figure_is_embedded(site: Path, notebook: Path) -> None:
    nb = nbformat.read(notebook, as_version=4)
    figures = sum(
        "image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", [])
    )
    images = parse(site / f"{notebook.stem}.html").images
    assert sum(src.startswith("data:image/png;base64,") for src in images) == figures


@pytest.mark.parametrize("notebook", chapters(ROOT / "notebooks"), ids=lambda p: p.stem)
def test_no_widget_views_and_no_network(site: Path, notebook: Path) -> None:
    text = (site / f"{notebook.stem}.html").read_text(encoding="utf-8")
    assert WIDGET_VIEW not in text
    assert not [
        s
        for s in parse(site / f"{notebook.stem}.html").srcs
        if re.match(r"(https?:)?//", s)
    ]
    assert not re.search(r"""import\(\s*["']https?://""", text)


def test_no_broken_links(site: Path) -> None:
    pages = {p.name: parse(p) for p in site.glob("*.html")}
    broken = []
    for name, links in pages.items():
        for href in links.hrefs:
            if re.match(r"[a-z]+:", href):  # http(s), mailto: not checkable offline
                continue
            target, _, anchor = href.partition("#")
            page = pages.get(target or name)
            if page is None or (anchor and anchor not in page.ids):
                broken.append(f"{name} -> {href}")
    assert not broken, broken


def markdown_math(notebook: Path) -> int:
    """How many formulas the chapter's Markdown holds (outside code spans, fences)."""
    nb = nbformat.read(notebook, as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    return len(MATH.findall(re.sub(r"```.*?```|`[^`]*`", "", text, flags=re.S)))


@pytest.mark.parametrize("notebook", chapters(ROOT / "notebooks"), ids=lambda p: p.stem)
def test_formulas_are_rendered_not_left_as_tex(site: Path, notebook: Path) -> None:
    page = parse(site / f"{notebook.stem}.html")
    visible = "".join(page.text)
    assert not MATH.search(visible), MATH.search(visible)
    assert not re.search(r"\\(frac|sum|tau|ell|log|exp|sigma|varepsilon)\b", visible)
    assert page.maths == markdown_math(notebook)


def test_some_chapter_has_formulas(site: Path) -> None:
    assert (
        sum(parse(site / f"{p.stem}.html").maths for p in chapters(ROOT / "notebooks"))
        >= 10
    )


def test_every_chapter_page_has_contents_and_previous_next_links(site: Path) -> None:
    pages = chapters(ROOT / "notebooks")
    for i, notebook in enumerate(pages):
        links = parse(site / f"{notebook.stem}.html")
        assert links.rels.get("prev") == (f"{pages[i - 1].stem}.html" if i else None), (
            notebook.stem
        )
        assert links.rels.get("next") == (
            f"{pages[i + 1].stem}.html" if i + 1 < len(pages) else None
        ), notebook.stem
        assert "index.html" in links.hrefs
        assert all(f"{p.stem}.html" in links.hrefs for p in pages), (
            "the table of contents lists every chapter"
        )
        sections = [h for h in links.hrefs if h.startswith("#") and h[1:] in links.ids]
        assert sections, "the table of contents lists this chapter's sections"


def test_the_index_and_pages_are_styled_by_the_book_stylesheet(site: Path) -> None:
    css = site / "book.css"
    assert (
        css.is_file()
        and ".book-toc" in css.read_text()
        and ".book-index" in css.read_text()
    )
    for page in site.glob("*.html"):
        assert "book.css" in parse(page).stylesheets, page.name
    index = (site / "index.html").read_text(encoding="utf-8")
    for notebook in chapters(ROOT / "notebooks"):
        assert title_of(nbformat.read(notebook, as_version=4), "") in index


@pytest.mark.parametrize("notebook", chapters(ROOT / "notebooks"), ids=lambda p: p.stem)
def test_every_image_has_alt_text_from_the_prose_before_it(
    site: Path, notebook: Path
) -> None:
    links = parse(site / f"{notebook.stem}.html")
    assert all(
        alt and alt.strip() and "No description" not in alt for alt in links.alts
    ), links.alts
    for k, alt in enumerate(links.alts, 1):
        assert alt.startswith(f"Figure {k} of chapter {notebook.stem.split('_')[0]}: ")


def test_no_cdn_anywhere(site: Path) -> None:
    for page in [*site.glob("*.html"), site / "book.css"]:
        assert not CDN.search(page.read_text(encoding="utf-8")), (
            page.name,
            CDN.search(page.read_text()),
        )


def test_plain_text_and_first_sentence() -> None:
    assert (
        plain_text("**Budget.** `random_masking` (a _b_ $\\tau$) [link](x.html)")
        == "Budget. random_masking (a b tau) link"
    )
    assert first_sentence("One: two. Three.") == "One: two."
    assert (
        first_sentence("word " * 100).endswith("…")
        and len(first_sentence("word " * 100)) <= 220
    )
