"""The shelves, search and compare pages in Debian's Chromium, as a person sees them: shelves
are rows that scroll sideways while the page does not, search finds "matrix" and "Amelie" from
any page (with suggestions as you type, and without JavaScript too), and compare marks the
movies both engines recommend. Skips where /usr/bin/chromium is missing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from browser_support import (
    CHROMIUM,
    DESKTOP,
    PHONE,
    PageWatch,
    box_of,
    broken_posters,
    chromium,
    horizontal_overflow,
    open_page,
    sample_app,
    serving,
)
from playwright.sync_api import Browser, Locator, Page, expect

SAMPLE_USER = "1"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Debian's Chromium at {CHROMIUM} (apt-get install "
                    "chromium); it is not installed")
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def live_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    instance: Path = tmp_path_factory.mktemp("browser-discover") / "instance"
    with serving(sample_app(instance)) as url:
        yield url


@pytest.fixture
def page_watch() -> PageWatch:
    return PageWatch()


@pytest.fixture
def page(browser: Browser, live_url: str, page_watch: PageWatch) -> Iterator[Page]:
    opened = open_page(browser, live_url, page_watch)
    yield opened
    opened.context.close()


def opened_at(browser: Browser, live_url: str, viewport: dict[str, int]) -> Page:
    return open_page(browser, live_url, PageWatch(), viewport=viewport)


def card_titles(scope: Locator) -> list[str]:
    return scope.locator("article.card .card-title a").all_inner_texts()


# --- Shelves -----------------------------------------------------------------------------------

# Read at one moment, so a scroll still gliding (or snapping) can't split the figures.
SCROLL_STATE = """(row) => ({rowWidth: row.clientWidth, contentWidth: row.scrollWidth,
  rowScroll: row.scrollLeft, pageScroll: window.scrollX,
  firstCardX: row.querySelector("article.card").getBoundingClientRect().x})"""


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_shelves_are_rows_that_scroll_sideways_while_the_page_does_not(
    browser: Browser, live_url: str, viewport: dict[str, int]
):
    page = opened_at(browser, live_url, viewport)
    try:
        page.goto(f"/home?user_id={SAMPLE_USER}")
        rows = page.locator(".shelf-row")
        expect(rows).to_have_count(5)
        assert horizontal_overflow(page) == 0
        for row in rows.all():
            cards = [box_of(card) for card in row.locator("article.card").all()]
            assert len(cards) >= 6
            # One row: side by side at the same height, left to right, more than fit.
            assert {round(card["y"]) for card in cards} == {round(cards[0]["y"])}
            assert [card["x"] for card in cards] == sorted(card["x"] for card in cards)
            assert cards[-1]["x"] + cards[-1]["width"] > viewport["width"]
            state = row.evaluate(SCROLL_STATE)
            assert state["contentWidth"] > state["rowWidth"]

        first_row = rows.first
        before = first_row.evaluate(SCROLL_STATE)
        first_row.hover()
        page.mouse.wheel(400, 0)  # a sideways swipe, or shift + wheel
        page.wait_for_function("(row) => row.scrollLeft > 0", arg=first_row.element_handle())
        after = first_row.evaluate(SCROLL_STATE)
        # The cards moved left with the row, and the page stayed where it was.
        moved = after["rowScroll"] - before["rowScroll"]
        assert moved > 0
        assert after["firstCardX"] == pytest.approx(before["firstCardX"] - moved, abs=1)
        assert after["pageScroll"] == 0 and horizontal_overflow(page) == 0
    finally:
        page.context.close()


def test_each_shelf_names_its_source_and_links_to_more(page: Page, page_watch: PageWatch):
    page.goto(f"/home?user_id={SAMPLE_USER}")
    headings = page.locator(".shelf h2").all_inner_texts()
    assert headings[0] == "Top picks for you"
    assert headings[1].startswith("Because you watched ")
    assert headings[2] == "Trending now"
    assert headings[3].startswith("Popular in ")
    assert headings[4] == "Most popular"
    for shelf in page.locator("section.shelf").all():
        expect(shelf.locator(".backend")).to_contain_text("Served by Embedded recommender")
    expect(page.locator("section.shelf").nth(2).locator(".backend")).to_contain_text(
        "Embedded recommender · trending-now")

    page.locator("section.shelf").nth(4).get_by_role("link", name="See more").click()
    expect(page.locator("#shelf-heading")).to_contain_text("Most popular")
    expect(page.locator("section.recommendations article.card")).to_have_count(48)
    assert page_watch.problems == []


def test_a_visitor_without_ratings_starts_with_trending_then_popular(page: Page):
    page.goto("/home?user_id=nobody-in-the-sample")
    expect(page.locator(".shelf h2")).to_have_text(["Trending now", "Most popular"])
    expect(page.locator(".message.notice")).to_contain_text("has not liked any movie")


# --- Search -----------------------------------------------------------------------------------


def search_from_the_header(page: Page, text: str) -> None:
    field = page.get_by_role("search").get_by_label("Search movies by title")
    field.fill(text)
    field.press("Enter")
    page.wait_for_load_state()


@pytest.mark.parametrize(
    ("typed", "found"),
    [("matrix", "The Matrix"), ("Amelie", "Amélie"), ("Matrix, The", "The Matrix"),
     ("matirx", "The Matrix")],
)
def test_search_from_any_page_finds_the_title_ranked_for_that_user(
    page: Page, page_watch: PageWatch, typed: str, found: str
):
    page.goto(f"/recommendations?user_id={SAMPLE_USER}")
    search_from_the_header(page, typed)

    location = urlsplit(page.url)
    assert location.path == "/search"
    assert parse_qs(location.query) == {"q": [typed], "user_id": [SAMPLE_USER]}
    assert card_titles(page.locator("section.search"))[0] == found
    expect(page.locator(".badge.ranked")).to_have_text("Ranked for you")
    assert page_watch.problems == []


def test_search_without_a_user_is_not_ranked(page: Page):
    page.goto("/")
    search_from_the_header(page, "star wars")
    assert card_titles(page.locator("section.search"))[0].startswith("Star Wars")
    expect(page.locator(".badge.ranked")).to_have_count(0)


def test_suggestions_appear_as_you_type_and_lead_to_the_movie(page: Page, page_watch: PageWatch):
    page.goto(f"/search?user_id={SAMPLE_USER}")
    page.get_by_label("Title").press_sequentially("amel", delay=30)

    suggestion = page.locator(".suggestions a", has_text="Amélie (2001)")
    expect(suggestion).to_be_visible()
    field_box, suggestion_box = box_of(page.get_by_label("Title")), box_of(suggestion)
    assert suggestion_box["y"] >= field_box["y"] + field_box["height"] - 1  # under the field
    suggestion.click()

    expect(page).to_have_url(re.compile(r"/movies\?item_id=351&user_id=1$"))
    expect(page.locator(".movie-main .card-title")).to_contain_text("Amélie")
    assert page_watch.problems == []


def test_search_works_without_javascript(browser: Browser, live_url: str):
    context = browser.new_context(base_url=live_url, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto("/")
        search_from_the_header(page, "amelie")
        assert card_titles(page.locator("section.search")) == ["Amélie"]
    finally:
        context.close()


# --- Compare -----------------------------------------------------------------------------------


def test_compare_marks_the_movies_both_lists_hold_with_their_rank_there(
    page: Page, page_watch: PageWatch
):
    page.goto(f"/compare?user_id={SAMPLE_USER}")
    page.get_by_label("Right").select_option("sims")
    page.get_by_role("button", name="Compare").click()
    expect(page).to_have_url(re.compile(r"right=sims"))

    columns = {side: page.locator(f'.compare-column[data-side="{side}"] li.compare-item')
               for side in ("left", "right")}
    ids = {side: [item.get_attribute("data-item-id") for item in items.all()]
           for side, items in columns.items()}
    shared = set(ids["left"]) & set(ids["right"])
    assert shared, "the two recipes share nothing for this user: pick another user"
    expect(page.locator(".overlap-count")).to_have_text(str(len(shared)))
    for side, other in (("left", "right"), ("right", "left")):
        for item in columns[side].all():
            item_id = item.get_attribute("data-item-id")
            if item_id in shared:
                rank = ids[other].index(item_id) + 1
                expect(item.locator(".shared-badge")).to_have_text(f"In both · #{rank} there")
            else:
                expect(item.locator(".only")).to_have_text("Only here")
    # Shared items look different from the others: a coloured edge a person can see.
    edges = {
        item.evaluate("(element) => getComputedStyle(element).borderLeftColor")
        for item in page.locator("li.compare-item.shared").all()
    }
    plain = page.locator("li.compare-item:not(.shared)").first.evaluate(
        "(element) => getComputedStyle(element).borderLeftColor")
    assert len(edges) == 1 and plain not in edges
    expect(page.locator(".metrics-sources")).to_contain_text("flask --app app evaluate")
    assert page_watch.problems == []


# --- Layout: phone and desktop -----------------------------------------------------------------

NEW_PAGES = {
    "home": f"/home?user_id={SAMPLE_USER}",
    "home-visitor": "/home",
    "shelf": f"/shelf?name=because-you-watched&user_id={SAMPLE_USER}",
    "search": f"/search?q=star&user_id={SAMPLE_USER}",
    "search-empty": "/search",
    "compare": f"/compare?user_id={SAMPLE_USER}",
    "compare-longest-user-id": f"/compare?user_id={'x' * 256}",
}

# Shown controls that reach past the page's edges, leaving out those inside a shelf's row
# (it scrolls sideways by design) and hidden ones.
CONTROLS_OFF_THE_PAGE = """
() => {
  const width = document.documentElement.clientWidth;
  return [...document.querySelectorAll("a, button, input, select")]
    .filter((control) => !control.closest(".shelf-row"))
    .filter((control) => control.getClientRects().length > 0)
    .filter((control) => {
      const box = control.getBoundingClientRect();
      return box.left < 0 || box.right > width + 0.5;
    })
    .map((control) => control.outerHTML.slice(0, 120));
}
"""
# The controls these pages add, each at least 24 by 24 CSS pixels (WCAG 2.2 target size).
SMALL_TARGETS = """
() => [...document.querySelectorAll(
    ".see-more, .page-links a, .compare-title a, .site-search input, .site-search button, "
    + ".search-form input, .search-form button, .compare-form select, .compare-form button")]
  .filter((control) => control.getClientRects().length > 0)
  .map((control) => [control.outerHTML.slice(0, 80), control.getBoundingClientRect()])
  .filter(([, box]) => box.width < 24 || box.height < 24)
  .map(([html]) => html)
"""


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
@pytest.mark.parametrize("name", NEW_PAGES)
def test_the_new_pages_fit_the_window_with_targets_big_enough(
    browser: Browser, live_url: str, name: str, viewport: dict[str, int]
):
    watch = PageWatch()
    page = open_page(browser, live_url, watch, viewport=viewport)
    try:
        response = page.goto(NEW_PAGES[name])
        assert response is not None and response.status == 200
        assert broken_posters(page) == []

        assert horizontal_overflow(page) == 0
        assert page.evaluate(CONTROLS_OFF_THE_PAGE) == []
        assert page.evaluate(SMALL_TARGETS) == []
        assert watch.problems == []
    finally:
        page.context.close()
