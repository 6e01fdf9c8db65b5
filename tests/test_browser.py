"""The pages in a real browser: Debian's Chromium under Playwright, on the shipped sample data.

One browser and one live server per module; every test gets a fresh page with its own
cookies. A test that rates movies takes `rating_page` instead: a server and instance folder of
its own, so its ratings (stored in instance/ratings.sqlite) never reach another test. Pages
never reach the network (see browser_support). Where /usr/bin/chromium is missing, every test
here skips.

To add a flow: a test taking `page` or `rating_page` (relative URLs go to the live app) built
from the steps below; to hold a new page to the console and CSP checks, add its path to their
parameter list, and to the layout checks (phone and desktop), add it to EVERY_PAGE.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
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
    colors_of,
    controls_cut_off,
    horizontal_overflow,
    left_to_right,
    open_page,
    reuse_models,
    sample_app,
    serving,
)
from playwright.sync_api import Browser, Locator, Page, expect

from dataset import Movie
from omdb import MovieDetails

SAMPLE_USER = "1"  # a user with ratings in data/ratings.csv
# A genre user 1 has rated once in fifteen: filtering by it changes the list.
GENRE_THE_USER_RARELY_WATCHES = "Horror"
UNKNOWN_USER = "nobody-in-the-sample"
LONGEST_USER_ID = "x" * 256


# --- Fixtures: one browser and one server per module, a fresh page per test -------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium; every test that needs it skips where it isn't installed."""
    if not CHROMIUM.exists():
        pytest.skip(
            f"browser tests need Debian's Chromium at {CHROMIUM} "
            "(apt-get install chromium); it is not installed"
        )
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def sample_instance(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One instance folder per module, so the sample model is trained once and reused."""
    return tmp_path_factory.mktemp("browser") / "instance"


@pytest.fixture(scope="module")
def live_url(sample_instance: Path) -> Iterator[str]:
    """Base URL of the app on the shipped sample data, served for the whole module."""
    with serving(sample_app(sample_instance)) as url:
        yield url


@pytest.fixture
def page_watch() -> PageWatch:
    return PageWatch()


@pytest.fixture
def page(browser: Browser, live_url: str, page_watch: PageWatch) -> Iterator[Page]:
    """A fresh desktop-sized page on the live app (own cookies); relative URLs go to it."""
    opened = open_page(browser, live_url, page_watch)
    yield opened
    opened.context.close()


@pytest.fixture
def own_live_url(
    browser: Browser, live_url: str, sample_instance: Path, tmp_path: Path
) -> Iterator[str]:
    """A server of the test's own, on an empty instance folder but for the module's model
    (asking for `live_url` first makes sure it is trained), so it starts without training."""
    instance = tmp_path / "instance"
    reuse_models(sample_instance, instance)
    with serving(sample_app(instance)) as url:
        yield url


@pytest.fixture
def rating_page(browser: Browser, own_live_url: str, page_watch: PageWatch) -> Iterator[Page]:
    """A fresh page on the test's own server: for tests that rate movies."""
    opened = open_page(browser, own_live_url, page_watch)
    yield opened
    opened.context.close()


# --- Steps a person takes -----------------------------------------------------------------------


def user_form(page: Page) -> Locator:
    """The home page's form (the header has a quick search with its own "User ID" field)."""
    return page.locator("form.user-form")


def ask_for_recommendations(page: Page, user_id: str) -> None:
    """Home page -> type the user ID -> submit, as a person would."""
    page.goto("/")
    form = user_form(page)
    form.get_by_label("User ID").fill(user_id)
    form.get_by_role("button", name="Recommend").click()
    page.wait_for_load_state()


def recommended_cards(page: Page) -> Locator:
    """Cards in the recommendations, not in the "What this user watched" aside."""
    return page.locator("section.recommendations article.card")


def title_of(card: Locator) -> str:
    """A card's title as its rating buttons name it (without the year)."""
    return card.locator(".card-title a").inner_text()


def recommended_titles(page: Page) -> list[str]:
    return page.locator("section.recommendations .card-title a").all_inner_texts()


def genres_of(card: Locator) -> list[str]:
    return card.locator("ul.genres li").all_inner_texts()


def rate(page: Page, card: Locator, stars: int) -> str:
    """Click a card's star button, wait for the page to come back; returns the title rated."""
    title = title_of(card)
    card.get_by_role("button", name=f"Rate {title} {stars} out of 5", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text(f"You rated {title} ★{stars}.")
    return title


def query_of(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


# --- Issue 2: recommendations for a user ---------------------------------------------------------


def test_submitting_a_user_shows_ten_recommendations(page: Page):
    ask_for_recommendations(page, SAMPLE_USER)

    location = urlsplit(page.url)
    assert location.path == "/recommendations"
    assert parse_qs(location.query) == {"user_id": [SAMPLE_USER], "n": ["10"]}
    expect(recommended_cards(page)).to_have_count(10)
    expect(page.locator(".backend")).to_contain_text("Embedded recommender")
    expect(page.locator("aside.history article.card").first).to_be_visible()


@pytest.mark.parametrize(
    ("user_id", "message"),
    [
        ("", "Enter a user ID"),
        ("   ", "Enter a user ID"),
        ("a\tb", "control characters"),
    ],
)
def test_a_bad_user_id_shows_its_message_on_the_form(page: Page, user_id: str, message: str):
    ask_for_recommendations(page, user_id)

    expect(page.get_by_role("alert")).to_contain_text(message)
    assert urlsplit(page.url).path == "/result"
    field = user_form(page).get_by_label("User ID")
    expect(field).to_be_visible()
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(recommended_cards(page)).to_have_count(0)


def test_the_user_field_stops_at_256_characters(page: Page):
    # maxlength keeps a person from typing an ID Personalize would reject.
    ask_for_recommendations(page, "y" * 300)

    assert parse_qs(urlsplit(page.url).query)["user_id"] == ["y" * 256]
    expect(recommended_cards(page)).to_have_count(10)


def test_a_257_character_id_in_a_link_shows_the_form_with_its_message(page: Page):
    page.goto(f"/recommendations?user_id={'x' * 257}")

    expect(page.get_by_role("alert")).to_contain_text("at most 256 characters")
    expect(user_form(page).get_by_label("User ID")).to_be_visible()
    expect(recommended_cards(page)).to_have_count(0)


def test_an_unknown_user_sees_popular_movies_flagged(page: Page):
    ask_for_recommendations(page, UNKNOWN_USER)

    expect(page.locator(".badge")).to_contain_text("Popular movies")
    expect(recommended_cards(page)).to_have_count(10)
    expect(page.locator("aside.history")).to_contain_text("No ratings from this user")


def test_a_random_user_from_the_home_page_gets_ten_recommendations(page: Page):
    page.goto("/")
    page.get_by_role("link", name="a random user").click()

    expect(page).to_have_url(re.compile(r"/recommendations\?user_id=[^&]+"))
    user_id = query_of(page)["user_id"][0]
    expect(page.locator("#recs-heading")).to_contain_text(user_id)
    expect(recommended_cards(page)).to_have_count(10)
    expect(page.locator(".badge")).to_have_count(0)  # a user from the data: a personal list


# --- Issue 5: movies, rating, new users, the genre filter ----------------------------------------


def test_a_user_opens_a_movie_then_rates_one_and_the_list_changes(
    rating_page: Page, page_watch: PageWatch
):
    page = rating_page
    ask_for_recommendations(page, SAMPLE_USER)
    expect(recommended_cards(page)).to_have_count(10)

    first = recommended_cards(page).first
    opened_title, opened_id = title_of(first), first.get_attribute("data-item-id")
    first.locator(".card-title a").click()
    expect(page).to_have_url(re.compile(r"/movies\?"))
    assert query_of(page) == {"item_id": [opened_id], "user_id": [SAMPLE_USER]}
    expect(page.locator(".movie-main .card-title")).to_contain_text(opened_title)
    expect(page.get_by_role("heading", name="More like this")).to_be_visible()
    similar = page.locator("section.similar article.card")
    expect(similar.first).to_be_visible()
    assert opened_title not in similar.locator(".card-title a").all_inner_texts()

    page.get_by_role("link", name=f"Recommendations for {SAMPLE_USER}").click()
    expect(recommended_cards(page)).to_have_count(10)
    before = recommended_titles(page)
    rated = rate(page, recommended_cards(page).nth(2), 5)

    expect(recommended_cards(page)).to_have_count(10)
    after = recommended_titles(page)
    assert rated in before and rated not in after
    assert after != before
    expect(page.locator("aside.history")).to_contain_text(rated)
    assert page_watch.problems == []


def test_a_new_user_rates_three_popular_movies_and_gets_a_list_of_their_own(
    rating_page: Page, page_watch: PageWatch
):
    page = rating_page
    page.goto("/")
    page.get_by_role("button", name="I'm new here").click()

    expect(page).to_have_url(re.compile(r"user_id=guest-"))
    user_id = query_of(page)["user_id"][0]
    expect(page.locator(".onboarding")).to_contain_text("Rate 3 more movies")
    expect(page.locator(".badge")).to_have_text("Popular movies")
    expect(recommended_cards(page)).to_have_count(10)

    rated = []
    for still_needed in ("Rate 2 more movies", re.compile(r"Rate 1 more movie(?!s)"), None):
        rated.append(rate(page, recommended_cards(page).first, 5))
        if still_needed:
            expect(page.locator(".onboarding")).to_contain_text(still_needed)

    assert len(set(rated)) == 3
    expect(page.locator(".onboarding")).to_have_count(0)
    expect(page.locator(".badge")).to_have_count(0)
    expect(recommended_cards(page)).to_have_count(10)
    assert not set(rated) & set(recommended_titles(page))

    page.goto("/")
    expect(page.get_by_role("link", name=f"Continue as {user_id}")).to_be_visible()
    assert page_watch.problems == []


def test_the_genre_filter_keeps_ten_movies_of_that_genre(page: Page):
    genre = GENRE_THE_USER_RARELY_WATCHES
    page.goto(f"/recommendations?user_id={SAMPLE_USER}")
    expect(recommended_cards(page)).to_have_count(10)
    unfiltered = [genres_of(card) for card in recommended_cards(page).all()]
    assert sum(genre in genres for genres in unfiltered) < 10  # the filter has work to do

    filters = page.locator("form.filters")
    filters.get_by_label("Genre", exact=True).select_option(genre)
    filters.get_by_role("button", name="Show").click()

    expect(page).to_have_url(re.compile(f"genre={genre}"))
    assert query_of(page)["genre"] == [genre]
    expect(filters.get_by_label("Genre", exact=True)).to_have_value(genre)
    expect(recommended_cards(page)).to_have_count(10)
    for card in recommended_cards(page).all():
        assert genre in genres_of(card), title_of(card)


# --- Posters -------------------------------------------------------------------------------------


def assert_placeholders_show_titles(page: Page) -> None:
    placeholders = page.locator("section.recommendations .poster.is-placeholder")
    expect(placeholders).to_have_count(10)
    for card in recommended_cards(page).all():
        title = card.locator(".card-title").inner_text()
        overlay = card.locator(".poster-title")
        expect(overlay).to_be_visible()
        assert overlay.inner_text() in title


def test_every_poster_loads_and_placeholders_show_the_title(page: Page):
    page.goto(f"/recommendations?user_id={SAMPLE_USER}")

    assert broken_posters(page, "section.recommendations .poster img") == []
    # Without an OMDb key every poster is the placeholder, with the title drawn over it.
    assert_placeholders_show_titles(page)


class UnreachablePosters:
    """Stands in for the OMDb client: every movie gets a poster on a host nobody can reach."""

    def details(self, movies: Sequence[Movie]) -> dict[str, MovieDetails]:
        return {
            movie.item_id: MovieDetails(poster_url=f"https://posters.invalid/{movie.item_id}.jpg")
            for movie in movies
        }


@pytest.fixture(scope="module")
def unreachable_posters_url(browser: Browser, sample_instance: Path) -> Iterator[str]:
    # Asks for `browser` first so it skips without Chromium before serving anything; shares
    # the instance folder, so the model trained for `live_url` is loaded, not trained again.
    with serving(sample_app(sample_instance, omdb=UnreachablePosters())) as url:
        yield url


def test_a_poster_that_fails_to_load_becomes_the_placeholder(
    page: Page, page_watch: PageWatch, unreachable_posters_url: str
):
    page.goto(f"{unreachable_posters_url}/recommendations?user_id={SAMPLE_USER}")

    assert broken_posters(page, "section.recommendations .poster img") == []
    assert_placeholders_show_titles(page)
    # The posters were asked for, and the browser was kept off the network.
    assert any("posters.invalid" in url for url in page_watch.blocked_requests)


# --- Console, CSP, layout ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/", 200),
        (f"/recommendations?user_id={SAMPLE_USER}", 200),
        (f"/recommendations?user_id={UNKNOWN_USER}", 200),
        ("/recommendations?user_id=", 400),
        ("/no/such/page", 404),
    ],
)
def test_pages_have_no_console_errors_or_csp_violations(
    page: Page, page_watch: PageWatch, path: str, status: int
):
    response = page.goto(path)
    assert response is not None and response.status == status
    assert broken_posters(page) == []  # lazy images and app.js must not complain either

    assert page_watch.problems == []


def test_the_watch_reports_a_csp_violation(page: Page, page_watch: PageWatch):
    # Checks the check: an inline script, which the CSP forbids, must show up as a problem.
    page.goto("/")
    with page.expect_console_message(lambda message: "CSP violation" in message.text):
        page.evaluate(
            """() => {
              const script = document.createElement("script");
              script.textContent = "document.title = 'injected'";
              document.body.append(script);
            }"""
        )

    expect(page).not_to_have_title("injected")
    assert any("CSP violation: script-src" in problem for problem in page_watch.problems)


def open_new_user_page(page: Page) -> None:
    page.goto("/")
    page.get_by_role("button", name="I'm new here").click()
    expect(page.locator(".onboarding")).to_be_visible()


# Every page a person can reach, by name: a path, or the steps that lead there.
EVERY_PAGE = {
    "home": "/",
    "results": f"/recommendations?user_id={SAMPLE_USER}",
    "results-longest-user-id": f"/recommendations?user_id={LONGEST_USER_ID}",
    "new-user": open_new_user_page,
    "movie": f"/movies?item_id=1&user_id={SAMPLE_USER}",
    "form-error": "/recommendations?user_id=",
    "bad-request": "/movies?item_id=not-a-number",
    "not-found": "/no/such/page",
}


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
@pytest.mark.parametrize("name", EVERY_PAGE)
def test_no_page_scrolls_sideways_or_cuts_off_a_control(
    browser: Browser, live_url: str, name: str, viewport: dict[str, int]
):
    opened = open_page(browser, live_url, PageWatch(), viewport=viewport)
    try:
        target = EVERY_PAGE[name]
        if callable(target):
            target(opened)
        else:
            opened.goto(target)
        assert broken_posters(opened) == []  # posters in: the page at its full size

        assert horizontal_overflow(opened) == 0
        assert controls_cut_off(opened) == []
    finally:
        opened.context.close()


# --- Issue 8: the stars as a person sees them ----------------------------------------------------
# A person reads the five stars left to right as 1 to 5 and never sees their labels, so these
# tests find each star by where it is on screen and check what its click stores.

UNRATED_MOVIE = ("1", "The Matrix")  # not rated by SAMPLE_USER


def movie_card(page: Page) -> Locator:
    """The card of the movie a movie page is about (not the similar ones)."""
    return page.locator(".movie-main article.card")


def stars_on_screen(card: Locator) -> list[Locator]:
    """A card's five star buttons, left to right as they appear."""
    stars = left_to_right(card.locator("form.rate button").all())
    assert len(stars) == 5
    return stars


def lit_positions(card: Locator, resting: str) -> list[int]:
    """Positions (1 = leftmost) of the stars shown in another colour than `resting`; they
    must all share one colour, so "lit" is one state and not a gradient."""
    colors = colors_of(card.page, stars_on_screen(card))
    lit = [position for position, color in enumerate(colors, start=1) if color != resting]
    assert len({colors[position - 1] for position in lit}) <= 1, colors
    return lit


def resting_color(card: Locator) -> str:
    """The colour every star of an unrated card shows while nothing points at it."""
    colors = colors_of(card.page, stars_on_screen(card))
    assert len(set(colors)) == 1, f"an unrated card shows stars in {colors}"
    return colors[0]


def move_the_mouse_away(page: Page) -> None:
    page.mouse.move(0, 0)


@pytest.mark.parametrize("position", [1, 3, 5])
def test_the_star_at_position_k_from_the_left_previews_and_stores_k_stars(
    rating_page: Page, position: int
):
    page = rating_page
    item_id, title = UNRATED_MOVIE
    page.goto(f"/movies?item_id={item_id}&user_id={SAMPLE_USER}")
    card = movie_card(page)
    resting = resting_color(card)
    star = stars_on_screen(card)[position - 1]

    star.hover()
    assert lit_positions(card, resting) == list(range(1, position + 1))

    star.click()
    expect(page.get_by_role("status")).to_contain_text(f"You rated {title} ★{position}.")
    expect(card.locator(".user-rating")).to_have_text(f"★ {position}")
    move_the_mouse_away(page)
    assert lit_positions(card, resting) == list(range(1, position + 1))


def test_tab_walks_the_stars_left_to_right_and_enter_rates(rating_page: Page):
    page = rating_page
    item_id, title = UNRATED_MOVIE
    page.goto(f"/movies?item_id={item_id}&user_id={SAMPLE_USER}")
    card = movie_card(page)
    resting = resting_color(card)
    on_screen = [box_of(star)["x"] for star in stars_on_screen(card)]

    card.locator(".card-title a").focus()  # the card's last stop before its stars
    focused_at, previewed = [], []
    for _ in range(5):
        page.keyboard.press("Tab")
        focused = card.locator("form.rate button:focus")
        expect(focused).to_have_count(1)
        focused_at.append(box_of(focused)["x"])
        previewed.append(lit_positions(card, resting))
    assert focused_at == on_screen
    # A focused star lights itself and those before it, as pointing at it does.
    assert previewed == [list(range(1, position + 1)) for position in range(1, 6)]

    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text(f"You rated {title} ★4.")


@pytest.mark.parametrize(
    ("item_id", "filled"),
    [
        pytest.param("80", 4, id="rated-4.5"),  # Lawrence of Arabia: no half stars, so 4
        pytest.param("395", 3, id="rated-3.5"),  # Brief Encounter
    ],
)
def test_a_saved_rating_fills_that_many_stars_from_the_left(page: Page, item_id: str, filled: int):
    page.goto(f"/recommendations?user_id={SAMPLE_USER}")
    resting = resting_color(recommended_cards(page).first)  # recommendations are unrated
    page.goto(f"/movies?item_id={item_id}&user_id={SAMPLE_USER}")
    card = movie_card(page)

    assert lit_positions(card, resting) == list(range(1, filled + 1))
    # Pointing at another star previews that rating instead of the saved one.
    stars_on_screen(card)[1].hover()
    assert lit_positions(card, resting) == [1, 2]


# Each element's rendered width and height in CSS pixels.
SIZES = """(elements) => elements.map((element) => {
  const box = element.getBoundingClientRect();
  return [box.width, box.height];
})"""


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
@pytest.mark.parametrize(
    "path",
    [f"/recommendations?user_id={SAMPLE_USER}", f"/movies?item_id=1&user_id={SAMPLE_USER}"],
    ids=["results", "movie"],
)
def test_every_star_is_at_least_24_by_24_pixels(
    browser: Browser, live_url: str, path: str, viewport: dict[str, int]
):
    # WCAG 2.2 target size (minimum): 24 by 24 CSS pixels.
    opened = open_page(browser, live_url, PageWatch(), viewport=viewport)
    try:
        opened.goto(path)
        sizes = opened.locator("form.rate button").evaluate_all(SIZES)
        assert len(sizes) >= 5
        assert [(width, height) for width, height in sizes if width < 24 or height < 24] == []
    finally:
        opened.context.close()
