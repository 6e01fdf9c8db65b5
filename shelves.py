"""A user's home page of shelves, the rows of a streaming service's home page.

"Top picks for you", "Because you watched X" (X: the user's latest liked movie), "Trending now",
"Popular in <their favourite genre>" and "Most popular", as Personalize's VIDEO_ON_DEMAND use
cases name them. A user without ratings (new, unknown or anonymous) gets Trending and Most
popular first. Each shelf says who served it and, when that is the embedded engine standing in
for a shelf without its own Personalize ARN, says so. One shelf failing costs only that shelf.

Where each shelf's items come from is the wiring's decision (`ShelfSources`); this module only
uses what it is given, the same for every backend. No Flask here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from dataset import Interaction
from recommender.interface import Recommendation, Recommender, RecommenderUnavailable
from services import LIKED_RATING, Services

TOP_PICKS = "top-picks"
BECAUSE = "because-you-watched"
TRENDING = "trending"
GENRE = "popular-in-genre"
POPULAR = "popular"
SHELF_NAMES = (TOP_PICKS, BECAUSE, TRENDING, GENRE, POPULAR)
TITLES = {TOP_PICKS: "Top picks for you", BECAUSE: "Because you watched", TRENDING: "Trending now",
          GENRE: "Popular in your favourite genre", POPULAR: "Most popular"}
SHELF_LENGTH = 12  # items in a row on the home page
MORE_LENGTH = 48  # items on a shelf's "see more" page
ANONYMOUS = "anonymous"  # the user ID Personalize is asked with for a visitor without one

# (user ID, how many, items to leave out, genre or None) -> items; None: the source cannot tell.
Listing = Callable[[str, int, Sequence[str], str | None], list[Recommendation] | None]
# (user ID, the watched item, how many) -> related items; None: the source cannot tell.
Related = Callable[[str, str, int], list[Recommendation] | None]


@dataclass(frozen=True)
class Source:
    """Who fills a shelf: its items, its name for people, and why it is this one."""

    served_by: str
    listing: Listing | None = None
    related: Related | None = None
    note: str | None = None  # e.g. "PERSONALIZE_TRENDING_ARN is not set: …"


def listing_of(recommender: Callable[[], Recommender]) -> Listing:
    """A shelf listing through `recommend` (a campaign, a recommender, a per-user recipe)."""
    return lambda user_id, n, exclude, genre: recommender().recommend(
        user_id, n, exclude=exclude, genre=genre
    ).items


def popular_of(recommender: Callable[[], Recommender]) -> Listing:
    """A shelf listing through `popular` (the same for everyone), built on first use."""
    return lambda user_id, n, exclude, genre: recommender().popular(n, exclude=exclude, genre=genre)


class ShelfSources(Protocol):
    """What the wiring offers for each shelf besides the active recommender (Top picks)."""

    @property
    def related_source(self) -> Source: ...

    @property
    def trending_source(self) -> Source | None:
        """None while no trending source exists: the page then shows no Trending shelf."""
        ...

    @property
    def popular_source(self) -> Source: ...

    @property
    def genre_source(self) -> Source: ...


@dataclass(frozen=True)
class Shelf:
    name: str
    title: str
    items: list[Recommendation]
    served_by: str
    note: str | None = None
    problem: str | None = None  # why the shelf is empty, when its source failed
    item_id: str | None = None  # X of "Because you watched X"
    genre: str | None = None  # of "Popular in <genre>"
    cold_start: bool = False  # Top picks that are only the popular fallback


@dataclass(frozen=True)
class Home:
    user_id: str | None
    shelves: list[Shelf]
    history: list[Interaction]
    personal: bool  # the user has liked something, so the shelves are personal


def home(found: Services, sources: ShelfSources, user_id: str | None,
         n: int = SHELF_LENGTH) -> Home:
    """The shelves for a user (or a visitor without an ID), in the order they are shown."""
    history = found.history(user_id) if user_id else []
    personal = bool(_liked(history))
    names = (TOP_PICKS, BECAUSE, TRENDING, GENRE, POPULAR) if personal else (TRENDING, POPULAR)
    shelves = [shelf for name in names if (shelf := _shelf(found, sources, name, user_id,
                                                           history, n))]
    return Home(user_id, shelves, history, personal)


def one_shelf(found: Services, sources: ShelfSources, name: str, user_id: str | None,
              n: int = MORE_LENGTH) -> Shelf | None:
    """One shelf at more length ("see more"); None when it has nothing to show this user."""
    history = found.history(user_id) if user_id else []
    return _shelf(found, sources, name, user_id, history, n)


def _shelf(found: Services, sources: ShelfSources, name: str, user_id: str | None,
           history: list[Interaction], n: int) -> Shelf | None:
    build = {TOP_PICKS: _top_picks, BECAUSE: _because, TRENDING: _trending, GENRE: _genre,
             POPULAR: _popular}[name]
    try:
        return build(found, sources, user_id, history, n)
    except RecommenderUnavailable as problem:  # its source could not even be set up
        return Shelf(name, TITLES[name], [], "", problem=problem.reason)


def _top_picks(found: Services, sources: ShelfSources, user_id: str | None,
               history: list[Interaction], n: int) -> Shelf | None:
    if not user_id:
        return None
    try:
        listing = found.recommend(user_id, n)
    except RecommenderUnavailable as problem:
        return Shelf(TOP_PICKS, TITLES[TOP_PICKS], [], "", problem=problem.reason)
    return Shelf(TOP_PICKS, TITLES[TOP_PICKS], listing.items, listing.backend,
                 cold_start=listing.cold_start)


def _because(found: Services, sources: ShelfSources, user_id: str | None,
             history: list[Interaction], n: int) -> Shelf | None:
    watched = latest_liked(history)
    if watched is None or not user_id:
        return None
    source = sources.related_source
    title = f"Because you watched {found.catalog.get(watched).title}"
    rated = {event.item_id for event in history}

    def fetch() -> list[Recommendation]:
        # Asked for more, since the user may have rated some of them already.
        items = source.related(user_id, watched, min(n + len(rated), 500)) or []
        return [item for item in items if item.item_id not in rated][:n]

    return _filled(found, BECAUSE, title, source, fetch, item_id=watched)


def _trending(found: Services, sources: ShelfSources, user_id: str | None,
              history: list[Interaction], n: int) -> Shelf | None:
    source = sources.trending_source
    if source is None:
        return None
    rated = [event.item_id for event in history]
    return _filled(found, TRENDING, TITLES[TRENDING], source,
                   lambda: source.listing(user_id or ANONYMOUS, n, rated, None) or [])


def _genre(found: Services, sources: ShelfSources, user_id: str | None,
           history: list[Interaction], n: int) -> Shelf | None:
    genre = favourite_genre(found, history)
    if genre is None:
        return None
    source = sources.genre_source
    rated = [event.item_id for event in history]
    return _filled(found, GENRE, f"Popular in {genre}", source,
                   lambda: source.listing(user_id or ANONYMOUS, n, rated, genre) or [],
                   genre=genre)


def _popular(found: Services, sources: ShelfSources, user_id: str | None,
             history: list[Interaction], n: int) -> Shelf | None:
    source = sources.popular_source
    rated = [event.item_id for event in history]
    return _filled(found, POPULAR, TITLES[POPULAR], source,
                   lambda: source.listing(user_id or ANONYMOUS, n, rated, None) or [])


def _filled(found: Services, name: str, title: str, source: Source,
            fetch: Callable[[], list[Recommendation]], **about: str) -> Shelf:
    """The shelf with its items, or with the reason its source could not give them."""
    try:
        items = known_only(found, fetch())
    except RecommenderUnavailable as problem:
        return Shelf(name, title, [], source.served_by, source.note, problem.reason, **about)
    return Shelf(name, title, items, source.served_by, source.note, **about)


def known_only(found: Services, items: list[Recommendation]) -> list[Recommendation]:
    """Items the app knows (a remote source may name others, whose cards would be a 404)."""
    catalog, interactions = found.catalog, found.interactions
    rated = interactions.item_index if interactions is not None else {}
    if not len(catalog) and not rated:
        return items
    return [item for item in items if item.item_id in catalog or item.item_id in rated]


def _liked(history: list[Interaction]) -> list[Interaction]:
    return [event for event in history if event.rating is None or event.rating >= LIKED_RATING]


def latest_liked(history: list[Interaction]) -> str | None:
    """The item behind "Because you watched X": the newest one the user liked."""
    liked = _liked(history)
    return liked[-1].item_id if liked else None


def favourite_genre(found: Services, history: list[Interaction]) -> str | None:
    """The genre of most of the movies the user liked (ties: alphabetical)."""
    counts = Counter(
        genre for event in _liked(history) for genre in found.catalog.get(event.item_id).genres
    )
    if not counts:
        return None
    return min(counts, key=lambda genre: (-counts[genre], genre))
