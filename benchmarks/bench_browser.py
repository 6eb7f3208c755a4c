"""Browser latency per widget control: JupyterLab (as `make lab` starts it) in Debian's headless Chromium.

Copies notebooks/ to a temporary folder (autosave must not touch the repo), starts JupyterLab
there with the project's server config, runs each chapter with "Restart Kernel and Run All",
moves every control of every widget and times control change -> new image in the page.
Usage: python benchmarks/bench_browser.py [CHAPTER ...]   (default: 00 02 03 04). Needs
/usr/bin/chromium and pip's playwright (never `playwright install`). Reports, never asserts.
"""
from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WIDGET_CHAPTERS = ("00", "02", "03", "04")  # chapter 00 and one chapter per widget
IMAGE = ".widget-image"


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def lab(notebooks: Path = ROOT / "notebooks") -> Iterator[tuple[str, str, Path]]:
    """Start JupyterLab on a copy of notebooks/ as `make lab` does; yield (base URL, token, copy dir)."""
    work = Path(tempfile.mkdtemp(prefix="book-browser-"))
    copy = work / "notebooks"
    shutil.copytree(notebooks, copy, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    shutil.copy(ROOT / "jupytext.toml", work / "jupytext.toml")
    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_CONFIG_PATH": str(ROOT / "book" / "jupyter"), "OPENBLAS_NUM_THREADS": "1"}
    cmd = [str(Path(sys.executable).parent / "jupyter"), "lab", str(copy), "--ip=127.0.0.1", "--no-browser",
           f"--port={port}", f"--IdentityProvider.token={token}"] + (["--allow-root"] if os.geteuid() == 0 else [])
    log = open(work / "lab.log", "w")
    server = subprocess.Popen(cmd, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            time.sleep(0.5)
        else:
            raise RuntimeError(f"JupyterLab did not start; see {work / 'lab.log'}")
        yield f"http://127.0.0.1:{port}", token, copy
    finally:
        server.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(20)
        log.close()
        shutil.rmtree(work, ignore_errors=True)


def chapter_file(copy: Path, number: str) -> Path:
    """The notebook of chapter `number` ('00', '02', ...) in the copy."""
    (path,) = copy.glob(f"{number}_*.ipynb")
    return path


def open_chapter(page, base: str, token: str, name: str) -> None:
    """Open a chapter in JupyterLab and wait until its kernel is idle."""
    page.goto(f"{base}/lab/tree/{name}?reset&token={token}")
    page.wait_for_selector('.jp-Notebook-ExecutionIndicator[data-status="idle"]', state="attached", timeout=180_000)


def run_all(page, timeout_s: float = 600) -> None:
    """Restart the kernel, run every cell, wait until the last cell has run."""
    page.locator('.jp-NotebookPanel-toolbar [data-command="notebook:restart-run-all"]').click()
    page.locator(".jp-Dialog .jp-mod-accept").click()
    page.wait_for_function("""() => [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]
        .some(p => p.textContent.includes('*'))""", timeout=60_000, polling=100)  # queued: old counts are gone
    page.wait_for_function("""() => {
        const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')].map(p => p.textContent);
        return prompts.length > 0 && prompts.every(t => /\[\d+\]/.test(t) && !t.includes('*'));
    }""", timeout=timeout_s * 1000, polling=500)


def image_src(page, index: int) -> str:
    """The current src (a blob/data URL, new for each PNG) of the index-th widget image."""
    return page.locator(IMAGE).nth(index).get_attribute("src") or ""


def timed_change(page, index: int, act) -> float:
    """Run act() and return the seconds until the index-th widget image shows a new picture."""
    before = image_src(page, index)
    start = time.perf_counter()
    act()
    page.wait_for_function("([sel, i, old]) => { const im = document.querySelectorAll(sel)[i];"
                           " return im && im.getAttribute('src') !== old; }", arg=[IMAGE, index, before], timeout=30_000)
    return time.perf_counter() - start


def exercise_controls(page, repeats: int = 5) -> dict[str, list[float]]:
    """Move every control of every widget in the open chapter; latencies in seconds per control."""
    latencies: dict[str, list[float]] = {}
    boxes = page.locator(f".widget-vbox:has({IMAGE})")
    for w in range(boxes.count()):
        box = boxes.nth(w)
        for s in range(box.locator(".widget-slider").count()):
            slider = box.locator(".widget-slider").nth(s)
            label = slider.locator(".widget-label").inner_text().strip() or f"slider{s}"
            handle = slider.locator(".noUi-handle")
            for r in range(repeats):
                key = "ArrowLeft" if r % 2 else "ArrowRight"
                latencies.setdefault(f"widget{w}:{label}", []).append(
                    timed_change(page, w, lambda: (handle.focus(), handle.press(key))))
        for b in range(box.locator("button").count()):
            button = box.locator("button").nth(b)
            label = button.inner_text().strip() or f"button{b}"
            for _ in range(repeats):
                latencies.setdefault(f"widget{w}:{label}", []).append(timed_change(page, w, button.click))
        for d in range(box.locator("select").count()):
            select = box.locator("select").nth(d)
            values = select.locator("option").evaluate_all("os => os.map(o => o.value)")
            for r in range(min(repeats, len(values) - 1)):
                latencies.setdefault(f"widget{w}:dropdown{d}", []).append(
                    timed_change(page, w, lambda v=values[r + 1]: select.select_option(v)))
    return latencies


@contextlib.contextmanager
def browser() -> Iterator:
    """Debian's Chromium, headless, through Playwright; yields a page 1024 px wide."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium.new_page(viewport={"width": 1024, "height": 900}, device_scale_factor=2)
        finally:
            chromium.close()


def main(chapters: list[str]) -> None:
    """Print median and worst latency per control for each chapter."""
    with lab() as (base, token, copy), browser() as page:
        for number in chapters:
            path = chapter_file(copy, number)
            open_chapter(page, base, token, path.name)
            run_all(page)
            page.wait_for_selector(IMAGE, timeout=60_000)
            for control, times in exercise_controls(page).items():
                ms = sorted(1000 * t for t in times)
                print(f"{path.stem} {control}: median {statistics.median(ms):.0f} ms, worst {ms[-1]:.0f} ms, n={len(ms)}",
                      flush=True)


if __name__ == "__main__":
    main(sys.argv[1:] or list(WIDGET_CHAPTERS))
