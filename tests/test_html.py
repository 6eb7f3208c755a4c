"""`make html`: the static book has every chapter page, every saved figure, no broken links, no network use."""
from __future__ import annotations

import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "book"))
from build_html import WIDGET_VIEW, build, chapters  # noqa: E402


class Links(HTMLParser):
    """Collect ids, hrefs, srcs and inline script text of one page."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.hrefs: list[str] = []
        self.srcs: list[str] = []
        self.images: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for key in ("id", "name"):
            if a.get(key):
                self.ids.add(a[key])
        if tag == "a" and a.get("href"):
            self.hrefs.append(a["href"])
        if tag in ("script", "link", "img", "iframe") and (a.get("src") or a.get("href")):
            self.srcs.append(a.get("src") or a.get("href"))
        if tag == "img":
            self.images.append(a.get("src", ""))


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
    figures = sum("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))
    images = parse(site / f"{notebook.stem}.html").images
    assert sum(src.startswith("data:image/png;base64,") for src in images) == figures


@pytest.mark.parametrize("notebook", chapters(ROOT / "notebooks"), ids=lambda p: p.stem)
def test_no_widget_views_and_no_network(site: Path, notebook: Path) -> None:
    text = (site / f"{notebook.stem}.html").read_text(encoding="utf-8")
    assert WIDGET_VIEW not in text
    assert not [s for s in parse(site / f"{notebook.stem}.html").srcs if re.match(r"(https?:)?//", s)]
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
