"""Browser latency per widget control: JupyterLab (as `make lab` starts it) in Debian's
headless Chromium.

Copies notebooks/ to a temporary folder (autosave must not touch the repo), starts
JupyterLab there with the project's server config, runs each chapter with "Restart
Kernel and Run All", moves every control of every widget and times control change -> new
image in the page. Run All is clicked only once the chapter's kernel is started, idle
and connected (the server's sessions API and the page agree); a "Select Kernel" dialog
raises at once instead of losing the run. Latency is timed inside the page
(LATENCY_PROBE): from the input event (key, mouse button or change) to the frame that
paints the new image, decoded; the driver's own round trips are not counted. Each widget
is scrolled into view and left to settle before its first timed change. Usage: python
benchmarks/bench_browser.py [--repeats N] [CHAPTER ...]   (default: every chapter with a
widget, 10 moves per control). Prints median / 90th percentile / worst per control and
per widget, PASS or FAIL against MEDIAN_MS / WORST_MS, and Play's frame rate against its
stated rate. Needs /usr/bin/chromium and pip's playwright (never `playwright install`).
Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WIDGET_CHAPTERS = ("00", "02", "03", "04", "05", "06")  # every chapter with a widget
IMAGE = ".widget-image"
# buttons whose repeated press shows the same picture (05's Reset: same seed)
IDEMPOTENT = ("Reset",)
MEDIAN_MS, WORST_MS = 100.0, 200.0  # issue 27's targets: input to new image, per widget
PLAY_SHARE = 0.95  # Play passes at this share of its stated frame rate or more
# In the JavaScript strings a backslash at a line's end is Python's line continuation:
# the next line is part of the same JavaScript line.
LATENCY_PROBE = """
(() => {
  // Issue 27: time input -> new image inside the page, so that the driver's \
round trips do not count.
  const probe = window.__latency = {start: 0, end: 0, armed: false};
  const mark = () => { \
if (probe.armed && !probe.start) probe.start = performance.now(); };
  for (const type of ["keydown", "mousedown", "input", "change"]) \
document.addEventListener(type, mark, true);
  // arm: forget the last timing and watch the index-th image until its src changes, \
decodes and is painted
  // (the image is looked up again at each change: a view that re-renders its <img> \
is still followed)
  const image = (selector, index) => document.querySelectorAll(selector)[index];
  const watch = callback => {
    const observer = new MutationObserver(callback);
    observer.observe(document.body, \
{subtree: true, attributes: true, attributeFilter: ["src"]});
    return observer;
  };
  window.__armLatency = (selector, index) => {
    const old = image(selector, index).getAttribute("src");
    Object.assign(probe, {start: 0, end: 0, armed: true});
    const observer = watch(() => {
      const now = image(selector, index);
      if (!now || now.getAttribute("src") === old) return;
      observer.disconnect();
      const done = () => requestAnimationFrame(() => { \
probe.end = performance.now(); probe.armed = false; });
      now.decode().then(done, done);
    });
  };
  // count the index-th image's new pictures for ms milliseconds
  window.__countFrames = (selector, index, ms) => new Promise(resolve => {
    let frames = 0, seen = image(selector, index).getAttribute("src");
    const observer = watch(() => {
      const src = (image(selector, index) || {getAttribute: () => seen})\
.getAttribute("src");
      if (src !== seen) { frames += 1; seen = src; }
    });
    setTimeout(() => { observer.disconnect(); resolve(frames); }, ms);
  });
})();
"""


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def lab(notebooks: Path = ROOT / "notebooks") -> Iterator[tuple[str, str, Path]]:
    """Run JupyterLab on a notebooks/ copy like `make lab`; yield (URL, token, copy)."""
    work = Path(tempfile.mkdtemp(prefix="book-browser-"))
    copy = work / "notebooks"
    shutil.copytree(
        notebooks,
        copy,
        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"),
    )
    shutil.copy(ROOT / "jupytext.toml", work / "jupytext.toml")
    port, token = free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "JUPYTER_CONFIG_PATH": str(ROOT / "book" / "jupyter"),
        "OPENBLAS_NUM_THREADS": "1",
    }
    cmd = [
        str(Path(sys.executable).parent / "jupyter"),
        "lab",
        str(copy),
        "--ip=127.0.0.1",
        "--no-browser",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
    ] + (["--allow-root"] if os.geteuid() == 0 else [])
    log = open(work / "lab.log", "w")
    server = subprocess.Popen(
        cmd, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", port), timeout=1),
            ):
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


def widget_count(notebook: Path) -> int:
    """How many image widgets (PngWidgets) a chapter's committed outputs show."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    state = (
        nb["metadata"]
        .get("widgets", {})
        .get("application/vnd.jupyter.widget-state+json", {})
        .get("state", {})
    )

    def has_image(model_id: str) -> bool:
        model = state.get(model_id, {})
        children = model.get("state", {}).get("children", [])
        return model.get("model_name") == "ImageModel" or any(
            has_image(c.removeprefix("IPY_MODEL_")) for c in children
        )

    views = [
        o["data"]["application/vnd.jupyter.widget-view+json"]["model_id"]
        for c in nb["cells"]
        for o in c.get("outputs", [])
        if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
    ]
    return sum(has_image(v) for v in views)


def chapter_file(copy: Path, number: str) -> Path:
    """The notebook of chapter `number` ('00', '02', ...) in the copy."""
    (path,) = copy.glob(f"{number}_*.ipynb")
    return path


class KernelNotReady(RuntimeError):
    """The kernel did not start, or JupyterLab asked to select one: Run All is lost."""


def check_no_kernel_dialog(page) -> None:
    """Raise on JupyterLab's "Select Kernel" dialog (a Run All there runs nothing)."""
    dialog = page.locator(".jp-Dialog", has_text="Select Kernel")
    if dialog.count():
        raise KernelNotReady(
            f"JupyterLab asks to 'Select Kernel': {dialog.first.inner_text()[:200]!r}"
        )


def kernel_state(base: str, token: str, name: str) -> dict | None:
    """Server's view of name's kernel (execution_state, connections), or None."""
    with urllib.request.urlopen(
        f"{base}/api/sessions?token={token}", timeout=10
    ) as response:
        sessions = json.load(response)
    kernels = [
        s["kernel"]
        for s in sessions
        if s.get("path", "").endswith(name) and s.get("kernel")
    ]
    return kernels[0] if kernels else None


def wait_for_kernel(
    page, base: str, token: str, name: str, timeout_s: float = 180
) -> None:
    """Wait until name's kernel is idle, page connected (both agree), else raise."""
    deadline, kernel = time.monotonic() + timeout_s, None
    while time.monotonic() < deadline:
        check_no_kernel_dialog(page)
        kernel = kernel_state(base, token, name)
        page_idle = page.locator(
            '.jp-Notebook-ExecutionIndicator[data-status="idle"]'
        ).count()
        if (
            kernel
            and kernel.get("execution_state") == "idle"
            and kernel.get("connections", 0) >= 1
            and page_idle
        ):
            return
        time.sleep(0.25)
    raise KernelNotReady(
        f"the kernel of {name} was not idle and connected within {timeout_s:.0f} s: "
        f"{kernel}"
    )


def open_chapter(page, base: str, token: str, name: str) -> None:
    """Open a chapter in JupyterLab; wait until its kernel is up, idle and connected."""
    page.goto(f"{base}/lab/tree/{name}?reset&token={token}")
    page.wait_for_selector(
        ".jp-Notebook-ExecutionIndicator", state="attached", timeout=180_000
    )
    wait_for_kernel(page, base, token, name)


def run_all(page, timeout_s: float = 300) -> None:
    """Restart the kernel, run all, wait for the last cell; raise if no kernel."""
    check_no_kernel_dialog(page)
    page.locator(
        '.jp-NotebookPanel-toolbar [data-command="notebook:restart-run-all"]'
    ).click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for(timeout=30_000)
    check_no_kernel_dialog(page)
    title = dialog.locator(".jp-Dialog-header").inner_text()
    if "Restart" not in title:
        raise KernelNotReady(f"expected JupyterLab's restart dialog, got {title!r}")
    dialog.locator(".jp-mod-accept").click()
    page.wait_for_function(
        """() => [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]
        .some(p => p.textContent.includes('*'))""",
        timeout=60_000,
        polling=100,
    )  # queued: old counts are gone
    try:
        page.wait_for_function(
            """() => {
            const prompts = [...document.querySelectorAll(\
'.jp-CodeCell .jp-InputArea-prompt')].map(p => p.textContent);
            return prompts.length > 0 && \
prompts.every(t => /\[\d+\]/.test(t) && !t.includes('*'));
        }""",
            timeout=timeout_s * 1000,
            polling=500,
        )
    # say which cells did not run and what the page shows, not only "timeout"
    except Exception as error:
        raise RuntimeError(
            f"Run All did not finish within {timeout_s:.0f} s: {run_state(page)}"
        ) from error


def run_state(page) -> str:
    """Prompts without a finished count, the first error output, a screenshot's path."""
    prompts = page.evaluate("""\
() => [...document.querySelectorAll('.jp-CodeCell')].map((c, i) => [i,
        (c.querySelector('.jp-InputArea-prompt') || {}).textContent || '',
        ((c.querySelector('.jp-InputArea-editor') || {}).textContent || '')\
.slice(0, 80)])""")
    pending = [p for p in prompts if not re.fullmatch(r"\[\d+\]:?", p[1].strip())]
    errors = page.locator(
        ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
    ).all_inner_texts()
    shot = Path(tempfile.gettempdir()) / "run_all_timeout.png"
    with contextlib.suppress(Exception):
        page.screenshot(path=str(shot), full_page=False)
    return (
        f"{len(pending)} of {len(prompts)} cells not run, first: {pending[:3]}; "
        f"stderr: {[e[:300] for e in errors[:2]]}; "
        f"screenshot {shot}"
    )


def timed_change(page, index: int, act) -> float:
    """Run act() and return the seconds from its input event to the painted new picture
    of the index-th image.

    Timed in the page by LATENCY_PROBE (installed by browser()); raises if the picture
    does not change.
    """
    page.evaluate("([sel, i]) => window.__armLatency(sel, i)", [IMAGE, index])
    act()
    page.wait_for_function("() => window.__latency.end > 0", timeout=30_000)
    start, end = page.evaluate("() => [window.__latency.start, window.__latency.end]")
    if not start:
        raise RuntimeError(
            "the page saw no input event (key, mouse button or change) before the new "
            "image"
        )
    return (end - start) / 1000


def play_rate(page, index: int, box, seconds: float = 4.0) -> float:
    """Press Play, count new images for `seconds`, pause; return frames per second."""
    buttons = box.locator(".widget-play button")
    timed_change(page, index, buttons.nth(0).click)  # the first frame arrives
    frames = page.evaluate(
        "([sel, i, ms]) => window.__countFrames(sel, i, ms)",
        [IMAGE, index, 1000 * seconds],
    )
    buttons.nth(1).click()  # pause
    # the last queued frame lands before the next control is timed
    page.wait_for_timeout(500)
    return frames / seconds


def settle(page, box) -> None:
    """Scroll a widget into view; let JupyterLab draw the cells near it, as a reader."""
    box.scroll_into_view_if_needed()
    page.wait_for_timeout(800)


def exercise_controls(page, repeats: int = 5) -> dict[str, list[float]]:
    """Move every control of every widget in the open chapter; latencies in seconds per
    control.

    Sliders (arrow keys), buttons, toggle buttons (the ones not selected), check boxes
    and drop-downs each must change the image; a Play widget is pressed and its frame
    rate reported as 'fps'.
    """
    latencies: dict[str, list[float]] = {}
    boxes = page.locator(f".widget-vbox:has({IMAGE})")
    for w in range(boxes.count()):
        box = boxes.nth(w)
        settle(page, box)
        for s in range(box.locator(".widget-slider").count()):
            slider = box.locator(".widget-slider").nth(s)
            label = slider.locator(".widget-label").inner_text().strip() or f"slider{s}"
            handle = slider.locator(".noUi-handle")
            for r in range(repeats):
                key = "ArrowLeft" if r % 2 else "ArrowRight"
                latencies.setdefault(f"widget{w}:{label}", []).append(
                    timed_change(page, w, lambda: (handle.focus(), handle.press(key)))
                )
        plain = box.locator(
            "button:not(.widget-play button):not(.widget-toggle-buttons button)"
        )
        for b in range(plain.count()):
            button = plain.nth(b)
            label = button.inner_text().strip() or f"button{b}"
            for _ in range(repeats):
                # a second press alone would show the same picture: change it first
                if label in IDEMPOTENT:
                    timed_change(page, w, plain.nth((b + 1) % plain.count()).click)
                latencies.setdefault(f"widget{w}:{label}", []).append(
                    timed_change(page, w, button.click)
                )
        toggles = box.locator(".widget-toggle-buttons button:not(.mod-active)")
        first = box.locator(
            ".widget-toggle-buttons button.mod-active"
        ).all_inner_texts()
        for r in range(repeats if toggles.count() else 0):
            option = box.locator(".widget-toggle-buttons button:not(.mod-active)").nth(
                r % toggles.count()
            )
            latencies.setdefault(f"widget{w}:toggle", []).append(
                timed_change(page, w, option.click)
            )
        if (
            first
            and box.locator(
                ".widget-toggle-buttons button.mod-active"
            ).all_inner_texts()
            != first
        ):
            timed_change(
                page,
                w,
                box.locator(
                    ".widget-toggle-buttons button", has_text=first[0]
                ).first.click,
            )
        for c in range(box.locator(".widget-checkbox input:not([disabled])").count()):
            checkbox = box.locator(".widget-checkbox input:not([disabled])").nth(c)
            for _ in range(repeats):
                latencies.setdefault(f"widget{w}:checkbox{c}", []).append(
                    timed_change(page, w, checkbox.click)
                )
        for d in range(box.locator("select").count()):
            select = box.locator("select").nth(d)
            values = select.locator("option").evaluate_all("os => os.map(o => o.value)")
            # cycle: each choice differs from the last
            for r in range(repeats if len(values) > 1 else 0):
                latencies.setdefault(f"widget{w}:dropdown{d}", []).append(
                    timed_change(
                        page,
                        w,
                        lambda v=values[(r + 1) % len(values)]: select.select_option(v),
                    )
                )
        if box.locator(".widget-play").count():
            latencies[f"widget{w}:fps"] = [play_rate(page, w, box)]
    return latencies


@contextlib.contextmanager
def browser() -> Iterator:
    """Debian's Chromium, headless, through Playwright; yields a page 1024 px wide."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = chromium.new_page(
                viewport={"width": 1024, "height": 900}, device_scale_factor=2
            )
            page.add_init_script(LATENCY_PROBE)
            yield page
        finally:
            chromium.close()


def spread(ms: list[float]) -> str:
    """Median, 90th percentile and worst of a list of milliseconds, and n."""
    p90 = (
        statistics.quantiles(ms, n=10, method="inclusive")[-1] if len(ms) > 1 else ms[0]
    )
    return (
        f"median {statistics.median(ms):4.0f} ms, p90 {p90:4.0f} ms, "
        f"worst {max(ms):4.0f} ms, n={len(ms)}"
    )


def verdict(ms: list[float]) -> bool:
    """Whether a widget meets issue 27's targets: median<=MEDIAN_MS, worst<=WORST_MS."""
    return statistics.median(ms) <= MEDIAN_MS and max(ms) <= WORST_MS


def stated_frame_rate() -> float:
    """Frames per second chapter 05's Play states (1000 / its interval in ms)."""
    from helpers.widgets.embedding import EmbeddingSpaceExplorer

    return 1000 / EmbeddingSpaceExplorer().play.interval


def measure(chapters: list[str], repeats: int) -> dict[str, dict[str, list[float]]]:
    """Run chapters in JupyterLab, move all controls; {stem: {control: ms or [fps]}}."""
    results = {}
    with lab() as (base, token, copy), browser() as page:
        for number in chapters:
            path = chapter_file(copy, number)
            open_chapter(page, base, token, path.name)
            run_all(page)
            page.wait_for_selector(IMAGE, timeout=60_000)
            results[path.stem] = {}
            for control, times in exercise_controls(page, repeats).items():
                results[path.stem][control] = (
                    times if control.endswith(":fps") else [1000 * t for t in times]
                )
                shown = (
                    f"{times[0]:.1f} frames/s"
                    if control.endswith(":fps")
                    else spread(results[path.stem][control])
                )
                print(f"{path.stem} {control}: {shown}", flush=True)
    return results


def main(chapters: list[str], repeats: int = 10) -> bool:
    """Print latency spreads, PASS/FAIL per widget and for Play; True if all pass."""
    results = measure(chapters, repeats)
    print(
        f"\nPer widget (targets: median <= {MEDIAN_MS:.0f} ms, worst <= {WORST_MS:.0f} "
        "ms; timed in the page):"
    )
    passed = True
    for stem, controls in results.items():
        widgets_ = sorted({control.split(":")[0] for control in controls})
        for widget in widgets_:
            ms = [
                t
                for c, ts in controls.items()
                if c.startswith(widget + ":") and not c.endswith(":fps")
                for t in ts
            ]
            ok = verdict(ms)
            passed &= ok
            print(f"  {stem} {widget}: {spread(ms)}  {'PASS' if ok else 'FAIL'}")
            if f"{widget}:fps" in controls:
                fps, stated = controls[f"{widget}:fps"][0], stated_frame_rate()
                ok = fps >= PLAY_SHARE * stated
                passed &= ok
                print(
                    f"  {stem} {widget} Play: {fps:.1f} of {stated:.1f} frames/s "
                    f"stated  {'PASS' if ok else 'FAIL'}"
                )
    print("ALL PASS" if passed else "SOME FAIL", flush=True)
    return passed


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "chapters",
        nargs="*",
        default=list(WIDGET_CHAPTERS),
        help="chapter numbers, e.g. 00 05",
    )
    parser.add_argument(
        "--repeats", type=int, default=10, help="moves of each control (default 10)"
    )
    options = parser.parse_args()
    sys.exit(0 if main(options.chapters, options.repeats) else 1)
