"""Browser-test support: the app on a real HTTP server, Debian's Chromium, and a page watch.

Used by tests/test_browser.py (its fixtures wrap these) and scripts/screenshots.py. The
browser never reaches the network: every request to a host other than the local server is
aborted and recorded.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Error,
    Locator,
    Page,
    Request,
    Route,
    sync_playwright,
)
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from werkzeug.serving import make_server

from app import create_app

PROJECT = Path(__file__).resolve().parent.parent
SAMPLE_RATINGS = PROJECT / "data" / "ratings.csv"
SAMPLE_ITEMS = PROJECT / "data" / "items.csv"

CHROMIUM = Path("/usr/bin/chromium")
# Debian's Chromium, kept quiet: no sandbox (containers), no GPU, no calls home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
LOCAL_HOST = "127.0.0.1"
DESKTOP = {"width": 1280, "height": 900}
# A small phone (iPhone SE, mini): the narrowest window the layout is held to.
PHONE = {"width": 375, "height": 667}
# Short enough that a missing element fails the test quickly, long enough for a slow CI box.
ACTION_TIMEOUT_MS = 10_000

# Runs before the page's own scripts (injected by the browser, so the page's CSP doesn't apply)
# and turns every CSP violation into a console error the watch records.
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error("CSP violation: " + event.violatedDirective + " blocked "
                + (event.blockedURI || "an inline resource"));
});
"""


# --- The app on a live server ------------------------------------------------------------------


def sample_app(instance: Path, **services: Any) -> Flask:
    """The app on the shipped sample data, its model trained before the first page is asked for."""
    app = create_app(
        {
            "RATINGS_PATH": str(SAMPLE_RATINGS),
            "ITEMS_PATH": str(SAMPLE_ITEMS),
            "SECRET_KEY": "test",
            "OMDB_API_KEY": "",  # no key: no OMDb requests, placeholder posters
        },
        instance_path=str(instance),
        **services,
    )
    app.extensions["movies"].warm_up()
    return app


def reuse_models(trained: Path, instance: Path) -> None:
    """Copy the models trained in one instance folder into another, so an app on the same
    data and settings loads them instead of training again (a model's file records what it
    was trained on, so a copy that doesn't fit is retrained, never used)."""
    instance.mkdir(parents=True, exist_ok=True)
    for model in trained.glob("model-*.npz"):
        shutil.copy2(model, instance / model.name)


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """Serve `app` over real HTTP on a free local port; yields the base URL."""
    server = make_server(LOCAL_HOST, 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://{LOCAL_HOST}:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# --- The browser -------------------------------------------------------------------------------


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium driven by Playwright (never a downloaded browser)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


# Chromium logs this for any response with an error status, the page's own included.
ERROR_STATUS_MESSAGE = "Failed to load resource: the server responded with a status of"


@dataclass
class PageWatch:
    """What went wrong while a page was open: console errors, uncaught exceptions, and
    requests to other hosts (which are aborted).

    A 400 or 404 page is not a problem in itself (tests check the status they expect), so the
    console line Chromium logs for the document's own status is left out of `problems`.
    """

    console_errors: list[tuple[str, str]] = field(default_factory=list)  # (text, resource URL)
    page_errors: list[str] = field(default_factory=list)
    blocked_requests: list[str] = field(default_factory=list)
    documents: set[str] = field(default_factory=set)

    @property
    def problems(self) -> list[str]:
        return [
            *(text for text, url in self.console_errors if not self._is_document_status(text, url)),
            *self.page_errors,
            *(f"request to another host: {url}" for url in self.blocked_requests),
        ]

    def guard(self, context: BrowserContext) -> None:
        """Keep `context` off the network and report CSP violations to the console."""
        context.route("**/*", self._keep_local)
        context.add_init_script(REPORT_CSP_VIOLATIONS)

    def listen(self, page: Page) -> None:
        page.on("console", self._on_console)
        page.on("pageerror", self._on_page_error)
        page.on("request", self._on_request)

    def _is_document_status(self, text: str, url: str) -> bool:
        return text.startswith(ERROR_STATUS_MESSAGE) and url in self.documents

    def _on_request(self, request: Request) -> None:
        if request.is_navigation_request():
            self.documents.add(request.url)

    def _keep_local(self, route: Route) -> None:
        url = route.request.url
        if urlsplit(url).hostname == LOCAL_HOST:
            route.continue_()
        else:
            self.blocked_requests.append(url)
            route.abort("blockedbyclient")

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append((message.text, message.location.get("url", "")))

    def _on_page_error(self, error: Error) -> None:
        self.page_errors.append(str(error))


def open_page(
    browser: Browser, base_url: str, watch: PageWatch, viewport: dict[str, int] = DESKTOP
) -> Page:
    """A page in a fresh context (own cookies and session), guarded and watched."""
    context = browser.new_context(base_url=base_url, viewport=viewport)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    watch.guard(context)
    page = context.new_page()
    watch.listen(page)
    return page


# --- Page facts --------------------------------------------------------------------------------

# Posters load lazily: bring each into view for a couple of frames so the browser fetches it.
SCROLL_THROUGH_POSTERS = """
async (selector) => {
  const nextFrame = () =>
    new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
  for (const img of document.querySelectorAll(selector)) {
    img.scrollIntoView({ block: "center" });
    await nextFrame();
  }
  window.scrollTo(0, 0);
  // Rows that scroll sideways (the home page's shelves) start at their beginning again.
  for (const row of document.querySelectorAll(".shelf-row")) row.scrollLeft = 0;
}
"""
ALL_POSTERS_SHOWN = """
(selector) => [...document.querySelectorAll(selector)]
  .every((img) => img.complete && img.naturalWidth > 0)
"""
BROKEN_POSTERS = """
(selector) => [...document.querySelectorAll(selector)]
  .filter((img) => !img.complete || img.naturalWidth === 0)
  .map((img) => img.currentSrc || img.src)
"""
# How long a poster may take to appear, fallback included, before it counts as broken.
POSTER_WAIT_MS = 5_000


def broken_posters(page: Page, selector: str = ".poster img") -> list[str]:
    """Sources of the posters that show nothing, once every one has had its chance to load
    (or to fail and be replaced by the placeholder); [] when all show an image."""
    page.evaluate(SCROLL_THROUGH_POSTERS, selector)
    try:
        page.wait_for_function(ALL_POSTERS_SHOWN, arg=selector, timeout=POSTER_WAIT_MS)
    except PlaywrightTimeoutError:
        pass  # reported below, with the sources that never showed
    return page.evaluate(BROKEN_POSTERS, selector)


def horizontal_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than its window (0 when it fits); the window's
    width without a vertical scroll bar, which content can't use either."""
    return page.evaluate(
        "() => Math.max(0, document.documentElement.scrollWidth"
        " - document.documentElement.clientWidth)"
    )


# The computed text colour of each element: what a person sees of a star's state.
COLORS = "(elements) => elements.map((element) => getComputedStyle(element).color)"


def colors_of(page: Page, elements: list[Locator]) -> list[str]:
    """Each element's computed text colour, in the order given."""
    handles = [element.element_handle() for element in elements]
    return page.evaluate(COLORS, handles)


def left_to_right(elements: list[Locator]) -> list[Locator]:
    """`elements` in the order a person reads them across the screen: by their left edges."""
    return sorted(elements, key=lambda element: box_of(element)["x"])


def box_of(element: Locator) -> dict[str, float]:
    """An element's box on screen, in CSS pixels; fails when it isn't rendered."""
    box = element.bounding_box()
    assert box is not None, f"{element} is not on screen"
    return box


# Links, buttons and fields that are shown but reach past the left or right edge of the page.
CONTROLS_CUT_OFF = """
() => {
  const width = document.documentElement.clientWidth;
  return [...document.querySelectorAll("a, button, input, select, textarea")]
    .filter((control) => control.getClientRects().length > 0)
    .filter((control) => {
      const box = control.getBoundingClientRect();
      return box.left < 0 || box.right > width + 0.5;
    })
    .map((control) => control.outerHTML.slice(0, 120));
}
"""


def controls_cut_off(page: Page) -> list[str]:
    """The controls a person can't fully see without scrolling sideways ([] when none)."""
    return page.evaluate(CONTROLS_CUT_OFF)
