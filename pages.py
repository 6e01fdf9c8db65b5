"""The HTML pages: the form, a user's recommendations, a movie, rating, new and random users."""

from __future__ import annotations

import hmac
import random
import secrets
import unicodedata
import uuid
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any
from urllib.parse import quote_plus, urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from markupsafe import Markup

import access
from dataset import Catalog, Interaction, Movie
from inputs import (
    MAX_ID_LENGTH,
    InvalidInput,
    parse_count,
    parse_genre,
    parse_item_id,
    parse_rating,
    parse_user_id,
)
from omdb import MovieDetails
from recommender.interface import Recommendation, RecommenderUnavailable
from services import RATINGS_TO_PERSONALIZE, Services, UnknownItem
from wiring import current_services

HISTORY_LENGTH = 5
SIMILAR_COUNT = 12
MAX_NEXT_LENGTH = 2000  # longer than any link the app makes

bp = Blueprint("movies", __name__)


@dataclass(frozen=True)
class Card:
    """One movie as a page shows it: catalogue facts, OMDb details, and why it is there."""

    movie: Movie
    details: MovieDetails | None = None
    reason: str | None = None
    rating: float | None = None  # the user's own rating


# ---------------------------------------------------------------------------------------------
# Domain errors, each mapped once (as in api.py)

# The views whose bad input is a mistake in the user form: they show the form again.
_FORM_VIEWS = {"movies.result", "movies.recommendations"}


@bp.errorhandler(InvalidInput)
def _invalid(problem: InvalidInput) -> Any:
    """The form again with the message; a link or rating form with bad values gets a 400 page."""
    if request.endpoint not in _FORM_VIEWS:
        return render_template("error.html", title="Bad Request", message=str(problem)), 400
    raw_user = request.values.get("user_id", request.values.get("text"))
    return render_index(str(problem), (raw_user or "")[:MAX_ID_LENGTH], request.values.get("n"))


@bp.errorhandler(UnknownItem)
def _unknown_item(problem: UnknownItem) -> Any:
    message = "No movie with this ID is in the catalogue or the ratings."
    return render_template("error.html", title="Page not found", message=message), 404


@bp.errorhandler(RecommenderUnavailable)
def _unavailable(problem: RecommenderUnavailable) -> Any:
    return render_template("unavailable.html", problem=problem), 503


@bp.app_context_processor
def _template_globals() -> dict[str, Any]:
    return {
        "max_id_length": MAX_ID_LENGTH,
        "demo_mode": access.is_open(),
        "signed_in_user": access.signed_in_user(),
    }


# ---------------------------------------------------------------------------------------------
# Links

# werkzeug's characters left unquoted in a query, so that a link reads as url_for writes it.
_QUERY_SAFE = "!$'()*,/:;?@"
# A value as urlencode writes it; kept, since a page quotes the same few IDs many times.
_query_value = lru_cache(maxsize=4096)(partial(quote_plus, safe=_QUERY_SAFE))


@dataclass(frozen=True)
class RatingForm:
    """What every card's rating form on a page shares: where it posts, and its hidden fields."""

    action: str
    fields: Markup


class PageLinks:
    """The URLs and form fields a page's cards share, built once per request, not per card.

    url_for costs a route lookup and a build each time; a results page at n=50 called it over
    200 times for the same few paths.
    """

    def __init__(self) -> None:
        self.movie_path = url_for("movies.movie")
        self.rate = url_for("movies.rate")
        self.placeholder_poster = url_for("static", filename="placeholder-poster.svg")
        self.here = request.full_path  # where a card's rating form comes back to
        self._rating_forms: dict[str, RatingForm] = {}

    def movie(self, item_id: str, user_id: str | None = None) -> str:
        """url_for("movies.movie", item_id=..., user_id=...), the same text."""
        url = f"{self.movie_path}?item_id={_query_value(item_id)}"
        return f"{url}&user_id={_query_value(user_id)}" if user_id else url

    def rating_form(self, user_id: str) -> RatingForm:
        """The rating form's shared part for cards rated as `user_id`."""
        if user_id not in self._rating_forms:
            card = current_app.jinja_env.get_template("_card.html").module
            fields = card.form_fields(csrf_token(), user_id, self.here)
            self._rating_forms[user_id] = RatingForm(self.rate, fields)
        return self._rating_forms[user_id]


def page_links() -> PageLinks:
    """This request's PageLinks."""
    if "page_links" not in g:
        g.page_links = PageLinks()
    return g.page_links


# ---------------------------------------------------------------------------------------------
# Session helpers


def csrf_token() -> str:
    """The session's token for forms that change something (rating)."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def _check_csrf() -> None:
    """Fails closed: a missing or empty token, on either side, never matches."""
    expected = session.get("csrf")
    if not expected:
        abort(
            400,
            "This form came without a session, so it has no form token (cookies may be "
            "blocked, or it was sent from another site). Reload the page and try again.",
        )
    sent = request.form.get("csrf_token", "")
    # As bytes: compare_digest refuses str with non-ASCII characters (a TypeError).
    if not sent or not hmac.compare_digest(sent.encode(errors="replace"), expected.encode()):
        abort(400, "The form has expired. Reload the page and try again.")


def session_id() -> str:
    """A browser session's ID, sent with PutEvents as Personalize's sessionId."""
    if "session_id" not in session:
        session["session_id"] = str(uuid.uuid4())
    return session["session_id"]


def _is_new_user(user_id: str) -> bool:
    return session.get("new_user") == user_id


# ---------------------------------------------------------------------------------------------
# The form


@bp.get("/")
def index() -> Any:
    return render_index()


def render_index(error: str | None = None, user_id: str = "", count: str | None = "") -> Any:
    return (
        render_template(
            "index.html",
            error=error,
            user_id=user_id,
            count=count or "",
            default_count=current_app.config["NUM_RESULTS"],
            known_users=_known_users(current_services()),
            new_user=session.get("new_user"),
        ),
        400 if error else 200,
    )


def _known_users(found: Services) -> dict[str, Any] | None:
    """How many users the ratings have, and a few to try."""
    try:
        interactions = found.interactions
    except RecommenderUnavailable:
        return None
    if interactions is None or not interactions.n_users:
        return None
    return {"count": interactions.n_users, "examples": interactions.user_ids[:5]}


@bp.post("/result")
def result() -> Any:
    """The workshop's form target; its field was called `text`, ours `user_id`."""
    user_id = access.user_for(request.form.get("user_id", request.form.get("text")))
    count = parse_count(request.form.get("n"), current_app.config["NUM_RESULTS"])
    return redirect(url_for(".recommendations", user_id=user_id, n=count), code=303)


@bp.get("/random")
def random_user() -> Any:
    """A user picked at random from the ratings, to explore."""
    if not access.is_open():
        return redirect(url_for(".recommendations"), code=303)  # only your own page
    try:
        interactions = current_services().interactions
    except RecommenderUnavailable:
        interactions = None
    if interactions is None or not interactions.n_users:
        flash("There is no ratings file to pick a user from.", "error")
        return redirect(url_for(".index"))
    user_id = random.choice(interactions.user_ids)
    return redirect(url_for(".recommendations", user_id=user_id), code=303)


@bp.post("/new")
def new_user() -> Any:
    """ "I'm new here": a fresh user ID kept in the session, then movies to rate."""
    if not access.is_open():
        return redirect(url_for(".recommendations"), code=303)  # the proxy says who you are
    access.charge_guest()
    session["new_user"] = f"guest-{secrets.token_hex(4)}"
    return redirect(url_for(".recommendations", user_id=session["new_user"]), code=303)


# ---------------------------------------------------------------------------------------------
# Recommendations


@bp.get("/recommendations")
@access.limited(access.READS)
def recommendations() -> Any:
    found = current_services()
    user_id = access.user_for(request.args.get("user_id"))
    count = parse_count(request.args.get("n"), current_app.config["NUM_RESULTS"])
    genre = parse_genre(request.args.get("genre"), found.catalog.genres)
    onboarding = _is_new_user(user_id)
    listing = found.recommend(user_id, count, genre=genre, onboarding=onboarding)
    return render_template(
        "results.html",
        user_id=user_id,
        count=count,
        genre=genre,
        genres=found.catalog.genres if found.can_filter_by_genre else [],
        cards=cards_for(found, listing.items, listing.history),
        cold_start=listing.cold_start,
        known_user=listing.known_user,
        backend=listing.backend,
        flags_cold_start=listing.flags_cold_start,
        onboarding=onboarding,
        ratings_needed=max(0, RATINGS_TO_PERSONALIZE - len(listing.history)),
        **_history_lists(found.catalog, listing.history),
    )


def cards_for(
    found: Services, items: list[Recommendation], history: list[Interaction] = ()
) -> list[Card]:
    """Cards with OMDb details (fetched concurrently) and, when known, why each is there."""
    movies = [found.catalog.get(item.item_id) for item in items]
    details = found.omdb.details(movies)
    ratings = {event.item_id: event.rating for event in history}
    return [
        Card(
            movie,
            details.get(movie.item_id),
            _reason(found.catalog, item, ratings),
            ratings.get(movie.item_id),
        )
        for movie, item in zip(movies, items, strict=True)
    ]


def _reason(
    catalog: Catalog, item: Recommendation, ratings: dict[str, float | None]
) -> str | None:
    """"Because you rated Heat ★5" when the backend named the rated movie behind it."""
    if item.because is None:
        return item.reason if item.reason not in (None, "popular") else None
    title = catalog.get(item.because).title
    stars = ratings.get(item.because)
    return f"Because you rated {title}" + (f" ★{stars:g}" if stars is not None else "")


def _history_lists(catalog: Catalog, history: list[Interaction]) -> dict[str, list[Card]]:
    """The user's favourites (best first, then newest), and their latest other ratings.

    No movie is in both: for a user whose latest ratings are also their best (user 1 of the
    sample) the two lists would otherwise repeat the same five movies.
    """
    newest_first = history[::-1]
    rated = [event for event in newest_first if event.rating is not None]
    top_rated = sorted(rated, key=lambda event: -event.rating)[:HISTORY_LENGTH]
    shown = {event.item_id for event in top_rated}
    recent = [event for event in newest_first if event.item_id not in shown][:HISTORY_LENGTH]
    return {
        name: [Card(movie=catalog.get(event.item_id), rating=event.rating) for event in events]
        for name, events in (("top_rated", top_rated), ("recent", recent))
    }


# ---------------------------------------------------------------------------------------------
# A movie


@bp.get("/movies")
@access.limited(access.READS)
def movie() -> Any:
    found = current_services()
    item_id = parse_item_id(request.args.get("item_id"))
    user_id = access.optional_user(request.args.get("user_id"))
    subject = found.movie(item_id)
    similar, similar_source = found.similar(item_id, SIMILAR_COUNT)
    history = found.history(user_id) if user_id else []
    # One batch, so a cold page costs one round of OMDb lookups, not two.
    card, *similar_cards = cards_for(found, [Recommendation(subject.item_id), *similar], history)
    return render_template(
        "movie.html",
        card=card,
        similar=similar_cards,
        similar_source=similar_source,
        user_id=user_id,
    )


# ---------------------------------------------------------------------------------------------
# Rating


@bp.post("/ratings")
@access.limited(access.WRITES)
def rate() -> Any:
    """A rating from a card's form; back to the page it came from, with the list updated."""
    _check_csrf()
    user_id = parse_user_id(request.form.get("user_id"))
    access.check_rater(user_id)  # 403 for another user's ID behind a sign-in proxy
    item_id = parse_item_id(request.form.get("item_id"))
    rating = parse_rating(request.form.get("rating"))
    back_to = _back_to(request.form.get("next"), user_id)
    found = current_services()
    access.charge_new_user(user_id, found.history)
    source = access.rating_source(session_id())
    outcome = found.rate(user_id, item_id, rating, session_id(), source=source)
    flash(f"You rated {found.catalog.get(item_id).title} ★{rating:g}.", "success")
    if outcome.notice:
        flash(outcome.notice, "notice")
    return redirect(back_to, code=303)


def _back_to(target: str | None, user_id: str) -> str:
    """Only a path on this site: an open redirect would let others borrow our domain."""
    if target and _is_local_path(target):
        return target
    return url_for(".recommendations", user_id=user_id)


def _is_local_path(target: str) -> bool:
    # No control characters: CR and LF cannot go into a header, and browsers drop tabs and
    # newlines inside a URL, so "/\t/evil.example" would arrive as "//evil.example".
    if len(target) > MAX_NEXT_LENGTH or any(unicodedata.category(c) == "Cc" for c in target):
        return False
    parts = urlsplit(target)
    local = target.startswith("/") and not target.startswith("//") and "\\" not in target
    return local and not parts.scheme and not parts.netloc
